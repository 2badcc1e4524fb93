//! nft statements and expressions written back in nft's own syntax, close to what
//! `nft list ruleset` prints, so that a report names a rule the way its operator knows it.

use nftables::expr::{BinaryOperation, Expression, FibFlag, NamedExpression, Payload, SetItem, Verdict};
use nftables::stmt::{Operator, Statement};

/// A statement as nft prints it; `None` for statements verify leaves out of a rule's text.
pub fn statement(stmt: &Statement) -> Option<String> {
    let text = match stmt {
        Statement::Accept(_) => "accept".to_string(),
        Statement::Drop(_) => "drop".to_string(),
        Statement::Continue(_) => "continue".to_string(),
        Statement::Return(_) => "return".to_string(),
        Statement::Jump(t) => format!("jump {}", t.target),
        Statement::Goto(t) => format!("goto {}", t.target),
        Statement::Reject(_) => "reject".to_string(),
        Statement::Match(m) => {
            let op = match m.op {
                Operator::EQ | Operator::IN => "",
                Operator::NEQ => "!= ",
                // The crate names these after the opposite symbol.
                Operator::LT => "> ",
                Operator::GT => "< ",
                Operator::LEQ => "<= ",
                Operator::GEQ => ">= ",
                _ => "? ",
            };
            format!("{} {op}{}", expression(&m.left), expression(&m.right))
        }
        Statement::Counter(_) => "counter".to_string(),
        Statement::Log(_) => "log".to_string(),
        Statement::Limit(l) => format!("limit rate {}/{}", l.rate, l.per.as_deref().unwrap_or("second")),
        Statement::VerdictMap(v) => format!("{} vmap {}", expression(&v.key), expression(&v.data)),
        Statement::Mangle(m) => format!("{} set {}", expression(&m.key), expression(&m.value)),
        Statement::Notrack => "notrack".to_string(),
        Statement::DNAT(_) => "dnat".to_string(),
        Statement::SNAT(_) => "snat".to_string(),
        Statement::Masquerade(_) => "masquerade".to_string(),
        Statement::Redirect(_) => "redirect".to_string(),
        Statement::Queue(_) => "queue".to_string(),
        Statement::Set(s) => format!("update {} {{ {} }}", s.set, expression(&s.elem)),
        Statement::XT(x) => {
            format!("xt {}", x.as_ref().and_then(|v| v.get("name")).and_then(|n| n.as_str()).unwrap_or("?"))
        }
        _ => return None,
    };
    Some(text)
}

/// An expression as nft prints it.
pub fn expression(expr: &Expression) -> String {
    match expr {
        Expression::String(s) => s.to_string(),
        Expression::Number(n) => n.to_string(),
        Expression::Boolean(b) => if *b { "exists" } else { "missing" }.to_string(),
        Expression::List(items) => items.iter().map(expression).collect::<Vec<_>>().join(","),
        Expression::Range(r) => {
            let [lo, hi] = &r.range;
            format!("{}-{}", expression(lo), expression(hi))
        }
        Expression::BinaryOperation(op) => binary(op),
        Expression::Verdict(v) => verdict(v),
        Expression::Named(named) => named_expression(named),
    }
}

fn binary(op: &BinaryOperation) -> String {
    let join = |items: &[Expression], sym: &str| items.iter().map(expression).collect::<Vec<_>>().join(sym);
    match op {
        BinaryOperation::AND(a, b) => format!("{} & {}", expression(a), expression(b)),
        BinaryOperation::OR(items) => join(items, " | "),
        BinaryOperation::XOR(a, b) => format!("{} ^ {}", expression(a), expression(b)),
        BinaryOperation::LSHIFT(a, b) => format!("{} << {}", expression(a), expression(b)),
        BinaryOperation::RSHIFT(a, b) => format!("{} >> {}", expression(a), expression(b)),
    }
}

fn verdict(v: &Verdict) -> String {
    match v {
        Verdict::Accept => "accept".to_string(),
        Verdict::Drop => "drop".to_string(),
        Verdict::Continue => "continue".to_string(),
        Verdict::Return => "return".to_string(),
        Verdict::Jump(t) => format!("jump {}", t.target),
        Verdict::Goto(t) => format!("goto {}", t.target),
    }
}

fn named_expression(named: &NamedExpression) -> String {
    match named {
        NamedExpression::Concat(parts) => parts.iter().map(expression).collect::<Vec<_>>().join(" . "),
        NamedExpression::Set(items) => {
            let items: Vec<String> = items.iter().map(set_item).collect();
            format!("{{ {} }}", items.join(", "))
        }
        NamedExpression::Prefix(p) => format!("{}/{}", expression(&p.addr), p.len),
        NamedExpression::Payload(Payload::PayloadField(p)) => format!("{} {}", p.protocol, p.field),
        NamedExpression::Payload(Payload::PayloadRaw(p)) => format!("@{:?},{},{}", p.base, p.offset, p.len),
        NamedExpression::Meta(m) => {
            let key = format!("{:?}", m.key).to_ascii_lowercase();
            if matches!(key.as_str(), "iif" | "iifname" | "oif" | "oifname") { key } else { format!("meta {key}") }
        }
        NamedExpression::CT(ct) => format!("ct {}", ct.key),
        NamedExpression::Fib(fib) => {
            let mut flags: Vec<&str> = fib.flags.iter().map(fib_flag).collect();
            flags.sort_unstable();
            format!("fib {} {}", flags.join(" . "), format!("{:?}", fib.result).to_ascii_lowercase())
        }
        NamedExpression::Elem(e) => expression(&e.val),
        NamedExpression::Numgen(n) => format!("numgen {:?} mod {}", n.mode, n.ng_mod).to_ascii_lowercase(),
        NamedExpression::Map(m) => format!("{} map {}", expression(&m.key), expression(&m.data)),
        other => format!("{other:?}").split('(').next().unwrap_or("?").to_ascii_lowercase(),
    }
}

fn set_item(item: &SetItem) -> String {
    match item {
        SetItem::Element(Expression::List(pair)) if pair.len() == 2 => {
            let parts: Vec<String> = pair.iter().map(expression).collect();
            parts.join(" : ")
        }
        SetItem::Element(e) => expression(e),
        SetItem::Mapping(k, v) => format!("{} : {}", expression(k), expression(v)),
        SetItem::MappingStatement(k, s) => format!("{} : {}", expression(k), statement(s).unwrap_or_default()),
    }
}

fn fib_flag(flag: &FibFlag) -> &'static str {
    match flag {
        FibFlag::Saddr => "saddr",
        FibFlag::Daddr => "daddr",
        FibFlag::Mark => "mark",
        FibFlag::Iif => "iif",
        FibFlag::Oif => "oif",
    }
}
