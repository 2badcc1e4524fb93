//! Reads a ruleset as `nft -j list ruleset` prints it. Statements and expressions are read with
//! the `nftables` crate's types, one statement at a time, so that a statement the crate does not
//! know makes that statement unknown, not the whole file. Tables, chains, rules, sets and maps
//! are read with small structs of our own: the crate's set and map types list only seven key
//! types (no `verdict`, so kube-proxy's verdict maps would not read), and its chain type takes
//! one device where nft prints a list.

use std::collections::{BTreeMap, BTreeSet};

use nftables::expr::{Expression, NamedExpression, SetItem, Verdict as NftVerdict};
use nftables::stmt::{Mangle, Statement, VerdictMap};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde::Deserialize;
use serde_json::Value;

use super::ReadError;
use super::nft_match::{self, Named, Sets};
use super::nft_show;
use super::rules::{Base, Chain, Hook, Kind, Local, MarkOp, Policy, Rule, Ruleset, Stmt, Verdict};
use super::space::{V4, V6};

#[derive(Deserialize)]
struct TableObject {
    family: NfFamily,
    name: String,
    #[serde(default)]
    flags: Option<Names>,
}

#[derive(Deserialize)]
struct ChainObject {
    family: NfFamily,
    table: String,
    name: String,
    #[serde(rename = "type")]
    kind: Option<NfChainType>,
    hook: Option<NfHook>,
    prio: Option<i32>,
    policy: Option<NfChainPolicy>,
    dev: Option<Names>,
}

#[derive(Deserialize)]
struct RuleObject {
    family: NfFamily,
    table: String,
    chain: String,
    handle: Option<u64>,
    expr: Vec<Value>,
    /// Shown with the rule, as `nft list ruleset` shows it: often what says who wrote it and why.
    comment: Option<String>,
}

#[derive(Deserialize)]
struct SetObject {
    family: NfFamily,
    table: String,
    name: String,
    flags: Option<Names>,
    timeout: Option<Value>,
    elem: Option<Vec<Value>>,
}

/// nft prints one name as a string and several as a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    fn contains(&self, name: &str) -> bool {
        match self {
            Names::One(n) => n == name,
            Names::Many(names) => names.iter().any(|n| n == name),
        }
    }

    fn list(&self) -> Vec<String> {
        match self {
            Names::One(n) => vec![n.clone()],
            Names::Many(names) => names.clone(),
        }
    }
}

/// A table: its family and name.
type TableKey = (&'static str, String);

/// The objects of one document, sorted out.
#[derive(Default)]
struct Document {
    dormant: BTreeSet<TableKey>,
    chains: Vec<ChainObject>,
    rules: Vec<RuleObject>,
    sets: BTreeMap<TableKey, Sets>,
}

/// Adds the chains of `text` (`nft -j list ruleset`) to `ruleset`. `Err` when the text is not
/// such a document at all; objects it cannot read become `ruleset.unread`.
/// `replaced` names tables (`ip filter`, `ip6 nat`) that another source gives instead: on a host
/// whose iptables rules live in nf_tables, `iptables-save` shows what `nft -j` cannot.
pub fn read(text: &str, local: &Local, replaced: &[String], ruleset: &mut Ruleset) -> Result<(), ReadError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ReadError { line: (e.line() > 0).then_some(e.line()), message: format!("not JSON: {e}") })?;
    let objects = value
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| ReadError { line: None, message: "no `nftables` array at the top".to_string() })?;
    let mut document = sort_out(objects, ruleset);
    let kept = |family: NfFamily, table: &str| !replaced.contains(&format!("{} {table}", self::family(family)));
    document.chains.retain(|c| kept(c.family, &c.table));
    document.rules.retain(|r| kept(r.family, &r.table));
    let offset = ruleset.chains.len();
    let mut index = BTreeMap::new();
    for (i, chain) in document.chains.iter().enumerate() {
        index.insert((family(chain.family), chain.table.clone(), chain.name.clone()), offset + i);
        ruleset.chains.push(Chain {
            name: format!("{} {} {}", family(chain.family), chain.table, chain.name),
            base: base(chain),
            rules: Vec::new(),
        });
    }
    let empty = Sets::default();
    for rule in &document.rules {
        let table = (family(rule.family), rule.table.clone());
        let Some(slot) = index.get(&(table.0, table.1.clone(), rule.chain.clone())) else {
            // `nft -j list ruleset` lists every chain before its rules; a rule without one was
            // cut from another document or edited by hand.
            ruleset.unread.push((
                match rule.handle {
                    Some(handle) => format!("rule handle {handle} of chain {} {} {}", table.0, rule.table, rule.chain),
                    None => format!("a rule of chain {} {} {}", table.0, rule.table, rule.chain),
                },
                "its chain is not in the ruleset".to_string(),
            ));
            continue;
        };
        let sets = document.sets.get(&table).unwrap_or(&empty);
        let context = Context { table: &table, index: &index, sets, local };
        let converted = convert(rule, &context);
        if let Some(chain) = ruleset.chains.get_mut(*slot) {
            chain.rules.push(converted);
        }
    }
    Ok(())
}

/// Reads each object of interest; tables marked dormant leave their chains out.
fn sort_out(objects: &[Value], ruleset: &mut Ruleset) -> Document {
    let mut document = Document::default();
    for (position, object) in objects.iter().enumerate() {
        let Some((kind, body)) = object.as_object().and_then(|o| o.iter().next()) else { continue };
        let at =
            || format!("object {} ({kind} {})", position + 1, body.get("name").and_then(Value::as_str).unwrap_or(""));
        let fail = |e: serde_json::Error| (at(), e.to_string());
        match kind.as_str() {
            "table" => match TableObject::deserialize(body) {
                Ok(t) if t.flags.as_ref().is_some_and(|f| f.contains("dormant")) => {
                    document.dormant.insert((family(t.family), t.name));
                }
                Ok(_) => {}
                Err(e) => ruleset.unread.push(fail(e)),
            },
            "chain" => match ChainObject::deserialize(body) {
                Ok(c) => document.chains.push(c),
                Err(e) => ruleset.unread.push(fail(e)),
            },
            "rule" => match RuleObject::deserialize(body) {
                Ok(r) => document.rules.push(r),
                Err(e) => ruleset.unread.push(fail(e)),
            },
            "set" | "map" => match SetObject::deserialize(body) {
                Ok(s) => {
                    let key = (family(s.family), s.table.clone());
                    let (name, named) = named_set(s);
                    document.sets.entry(key).or_default().elements.insert(name, named);
                }
                Err(e) => ruleset.unread.push(fail(e)),
            },
            _ => {}
        }
    }
    let dormant = document.dormant.clone();
    document.chains.retain(|c| !dormant.contains(&(family(c.family), c.table.clone())));
    document.rules.retain(|r| !dormant.contains(&(family(r.family), r.table.clone())));
    document
}

/// A set's elements, each read on its own; a dynamic set's contents are not known.
fn named_set(set: SetObject) -> (String, Named) {
    let dynamic =
        set.timeout.is_some() || set.flags.as_ref().is_some_and(|f| f.contains("dynamic") || f.contains("timeout"));
    let mut unsure = dynamic.then(|| format!("@{} changes while the ruleset runs", set.name));
    let mut elements = Vec::new();
    for value in set.elem.unwrap_or_default() {
        match Expression::<'static>::deserialize(&value) {
            Ok(e) => elements.push(e),
            Err(e) => unsure = Some(format!("an element of @{} could not be read: {e}", set.name)),
        }
    }
    (set.name, Named { elements, unsure })
}

fn family(family: NfFamily) -> &'static str {
    match family {
        NfFamily::IP => "ip",
        NfFamily::IP6 => "ip6",
        NfFamily::INet => "inet",
        NfFamily::ARP => "arp",
        NfFamily::Bridge => "bridge",
        NfFamily::NetDev => "netdev",
    }
}

/// Where the kernel calls a chain; `None` for regular chains and for chains verify does not
/// follow (bridge and ARP families, forward and egress hooks).
fn base(chain: &ChainObject) -> Option<Base> {
    let families = match chain.family {
        NfFamily::IP => (V4, V4),
        NfFamily::IP6 => (V6, V6),
        NfFamily::INet | NfFamily::NetDev => (V4, V6),
        NfFamily::ARP | NfFamily::Bridge => return None,
    };
    let hook = match chain.hook? {
        NfHook::Ingress => Hook::Ingress,
        NfHook::Prerouting => Hook::Prerouting,
        NfHook::Input => Hook::Input,
        NfHook::Forward => Hook::Forward,
        NfHook::Output => Hook::Output,
        NfHook::Postrouting => Hook::Postrouting,
        NfHook::Egress => return None,
    };
    let kind = match chain.kind {
        Some(NfChainType::NAT) => Kind::Nat,
        Some(NfChainType::Route) => Kind::Route,
        _ => Kind::Filter,
    };
    let policy = match chain.policy {
        Some(NfChainPolicy::Drop) => Policy::Drop,
        _ => Policy::Accept,
    };
    let devices = chain.dev.as_ref().map(Names::list).unwrap_or_default();
    Some(Base { hook, priority: chain.prio.unwrap_or(0), policy: Some(policy), kind, families, devices })
}

/// What converting a rule needs: its table's chains and sets, and the host's addresses.
struct Context<'a> {
    table: &'a (&'static str, String),
    index: &'a BTreeMap<(&'static str, String, String), usize>,
    sets: &'a Sets,
    local: &'a Local,
}

impl Context<'_> {
    /// A chain of the rule's table, by name.
    fn chain(&self, name: &str) -> Option<usize> {
        self.index.get(&(self.table.0, self.table.1.clone(), name.to_string())).copied()
    }

    /// A jump or goto to a chain; a missing chain makes the verdict unknown.
    fn go(&self, name: &str, jump: bool) -> Stmt {
        match self.chain(name) {
            Some(i) if jump => Stmt::Verdict(Verdict::Jump(i)),
            Some(i) => Stmt::Verdict(Verdict::Goto(i)),
            None => Stmt::Stop(format!("{} {name}: no such chain", if jump { "jump" } else { "goto" })),
        }
    }
}

fn convert(rule: &RuleObject, context: &Context) -> Rule {
    let mut texts = Vec::new();
    let mut stmts = Vec::new();
    for value in &rule.expr {
        match Statement::<'static>::deserialize(value) {
            Ok(statement) => {
                let text = nft_show::statement(&statement);
                if let Some(stmt) = typed(&statement, text.as_deref().unwrap_or(""), context) {
                    stmts.push(stmt);
                }
                texts.extend(text);
            }
            Err(_) => {
                let (stmt, text) = untyped(value);
                stmts.extend(stmt);
                texts.push(text);
            }
        }
    }
    let at = format!("{} {} {}, handle {}", context.table.0, rule.table, rule.chain, rule.handle.unwrap_or(0));
    if let Some(comment) = &rule.comment {
        texts.push(format!("comment {comment:?}"));
    }
    Rule { at, text: texts.join(" "), stmts }
}

/// A statement the crate could not read: a NAT statement by its name, else unknown.
fn untyped(value: &Value) -> (Option<Stmt>, String) {
    let key = value.as_object().and_then(|o| o.keys().next()).map_or("?", String::as_str).to_string();
    let stmt = match key.as_str() {
        "masquerade" | "snat" | "dnat" | "redirect" => Some(Stmt::Nat(key.clone())),
        "counter" | "log" | "last" | "secmark" => None,
        _ => Some(Stmt::Stop(format!("`{key}` statement"))),
    };
    (stmt, key)
}

/// What a statement does to the verdict; `None` when nothing (counters, logs).
fn typed(statement: &Statement<'static>, text: &str, context: &Context) -> Option<Stmt> {
    let stmt = match statement {
        Statement::Accept(_) => Stmt::Verdict(Verdict::Accept),
        Statement::Drop(_) => Stmt::Verdict(Verdict::Drop),
        Statement::Reject(_) => Stmt::Verdict(Verdict::Reject),
        Statement::Continue(_) => Stmt::Verdict(Verdict::Continue),
        Statement::Return(_) => Stmt::Verdict(Verdict::Return),
        Statement::Jump(t) => context.go(&t.target, true),
        Statement::Goto(t) => context.go(&t.target, false),
        Statement::Match(m) => {
            Stmt::Test(Box::new(nft_match::test(&m.left, m.op, &m.right, context.sets, context.local, text)))
        }
        Statement::Counter(_)
        | Statement::Log(_)
        | Statement::Set(_)
        | Statement::CTHelper(_)
        | Statement::CTTimeout(_)
        | Statement::CTExpectation(_)
        | Statement::Flow(_)
        | Statement::Dup(_) => return None,
        Statement::Limit(_) | Statement::Quota(_) | Statement::Meter(_) | Statement::CTCount(_) => Stmt::unknown(text),
        Statement::Mangle(m) => return mangle(m, text),
        Statement::Notrack => Stmt::Notrack,
        Statement::SNAT(_) | Statement::DNAT(_) | Statement::Masquerade(_) | Statement::Redirect(_) => {
            Stmt::Nat(text.to_string())
        }
        Statement::VerdictMap(v) => vmap(v, text, context),
        Statement::XT(x) => return xt(x.as_ref(), text),
        _ => Stmt::Stop(text.to_string()),
    };
    Some(stmt)
}

/// An iptables extension that nft cannot show as its own statement (iptables-nft rules): nft
/// prints its name, never its options. A comment always matches; other matches cannot be
/// decided; targets are known by name only as far as their verdict goes.
fn xt(value: Option<&Value>, text: &str) -> Option<Stmt> {
    let field = |k: &str| value.and_then(|v| v.get(k)).and_then(Value::as_str).unwrap_or_default();
    let text =
        format!("{text} (an iptables extension whose options `nft -j` does not show: verify `iptables-save` output)");
    let stmt = match (field("type"), field("name")) {
        ("match", "comment") => return None,
        ("match", _) => Stmt::unknown(text),
        ("target", "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT" | "NETMAP") => Stmt::Nat(text),
        ("target", "REJECT") => Stmt::Verdict(Verdict::Reject),
        ("target", "MARK") => Stmt::Mark { ct: false, op: MarkOp::Unknown },
        ("target", "LOG" | "NFLOG" | "ULOG" | "TCPMSS" | "CHECKSUM" | "TRACE" | "AUDIT" | "CLASSIFY") => return None,
        _ => Stmt::Stop(text),
    };
    Some(stmt)
}

/// `meta mark set ...` and `ct mark set ...` change marks; other header changes stop verify.
fn mangle(m: &Mangle, text: &str) -> Option<Stmt> {
    let mark = |e: &Expression| match e {
        Expression::Named(NamedExpression::Meta(meta)) if format!("{:?}", meta.key) == "Mark" => Some(false),
        Expression::Named(NamedExpression::CT(ct)) if ct.key == "mark" => Some(true),
        _ => None,
    };
    let Some(ct) = mark(&m.key) else {
        return match &m.key {
            Expression::Named(NamedExpression::Meta(meta))
                if matches!(format!("{:?}", meta.key).as_str(), "Priority" | "Nftrace") =>
            {
                None
            }
            Expression::Named(NamedExpression::CT(_)) => None,
            _ => Some(Stmt::Stop(text.to_string())),
        };
    };
    let constant = |e: &Expression| match e {
        Expression::Number(n) => Some(*n),
        _ => None,
    };
    use nftables::expr::BinaryOperation as B;
    let op = match &m.value {
        Expression::Number(n) => MarkOp::Xmark { value: *n, mask: u32::MAX },
        Expression::BinaryOperation(b) => match b.as_ref() {
            B::OR(items) => match items.as_slice() {
                [a, n] if mark(a) == Some(ct) => {
                    constant(n).map_or(MarkOp::Unknown, |n| MarkOp::Xmark { value: n, mask: n })
                }
                _ => MarkOp::Unknown,
            },
            B::XOR(a, n) if mark(a) == Some(ct) => {
                constant(n).map_or(MarkOp::Unknown, |n| MarkOp::Xmark { value: n, mask: 0 })
            }
            B::AND(a, n) if mark(a) == Some(ct) => {
                constant(n).map_or(MarkOp::Unknown, |n| MarkOp::Xmark { value: 0, mask: !n })
            }
            _ => MarkOp::Unknown,
        },
        other if mark(other) == Some(!ct) => MarkOp::Copy,
        _ => MarkOp::Unknown,
    };
    Some(Stmt::Mark { ct, op })
}

/// A verdict map: one test and verdict per element; a map whose contents are not known stops verify.
fn vmap(v: &VerdictMap<'static>, text: &str, context: &Context) -> Stmt {
    let elements: Vec<(Expression<'static>, Option<Verdict>)> = match &v.data {
        Expression::Named(NamedExpression::Set(items)) => items.iter().filter_map(|i| pair(i, context)).collect(),
        Expression::String(name) if name.starts_with('@') => {
            match context.sets.elements.get(name.trim_start_matches('@')) {
                Some(named) if named.unsure.is_none() => {
                    named.elements.iter().filter_map(|e| pair(&SetItem::Element(e.clone()), context)).collect()
                }
                _ => return Stmt::Stop(format!("{text} (contents of {name} not known)")),
            }
        }
        _ => return Stmt::Stop(text.to_string()),
    };
    let mut entries = Vec::new();
    for (key, verdict) in elements {
        let Some(verdict) = verdict else { return Stmt::Stop(format!("{text} (a verdict verify does not follow)")) };
        let shown = format!("{} vmap {{ {} : .. }}", nft_show::expression(&v.key), nft_show::expression(&key));
        entries.push((nft_match::key_test(&v.key, &key, context.local, &shown), verdict));
    }
    Stmt::Vmap(entries)
}

/// One `key : verdict` element of a verdict map.
fn pair(item: &SetItem<'static>, context: &Context) -> Option<(Expression<'static>, Option<Verdict>)> {
    let (key, value) = match item {
        SetItem::Element(Expression::List(pair)) => match pair.as_slice() {
            [k, v] => (k.clone(), v.clone()),
            _ => return None,
        },
        SetItem::Mapping(k, v) => (k.clone(), v.clone()),
        _ => return None,
    };
    let verdict = match value {
        Expression::Verdict(NftVerdict::Accept) => Some(Verdict::Accept),
        Expression::Verdict(NftVerdict::Drop) => Some(Verdict::Drop),
        Expression::Verdict(NftVerdict::Continue) => Some(Verdict::Continue),
        Expression::Verdict(NftVerdict::Return) => Some(Verdict::Return),
        Expression::Verdict(NftVerdict::Jump(t)) => match context.go(&t.target, true) {
            Stmt::Verdict(v) => Some(v),
            _ => None,
        },
        Expression::Verdict(NftVerdict::Goto(t)) => match context.go(&t.target, false) {
            Stmt::Verdict(v) => Some(v),
            _ => None,
        },
        _ => None,
    };
    Some((nft_match::bare(&key).clone(), verdict))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_without_its_chain_is_not_read_rather_than_dropped() {
        let text = r#"{"nftables": [
            {"table": {"family": "inet", "name": "x", "handle": 1}},
            {"rule": {"family": "inet", "table": "x", "chain": "gone", "handle": 3, "expr": [{"accept": null}]}}
        ]}"#;
        let mut ruleset = Ruleset::default();
        read(text, &Local::default(), &[], &mut ruleset).expect("the document reads");
        assert_eq!(
            ruleset.unread,
            vec![("rule handle 3 of chain inet x gone".to_string(), "its chain is not in the ruleset".to_string())]
        );
    }

    #[test]
    fn text_that_is_not_json_is_refused_at_its_line() {
        let error =
            read("\n\ntable inet x {\n}\n", &Local::default(), &[], &mut Ruleset::default()).expect_err("not JSON");
        assert_eq!(error.line, Some(3), "{}", error.message);
    }
}
