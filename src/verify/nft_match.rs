//! nft matches as tests: what the left side of a match reads (a field, or a concatenation of
//! fields) and which packets the right side's values (single values, ranges, prefixes, anonymous
//! and named sets) select. Anything verify does not model becomes a test that cannot be decided,
//! never a guess.

use std::collections::BTreeMap;

use nftables::expr::{BinaryOperation, Expression, FibFlag, FibResult, MetaKey, NamedExpression, Payload, SetItem};
use nftables::stmt::Operator;

use super::rules::{self, Cond, Local, Test};
use super::space::{Cube, DPORT, DST, FAMILY, IIF, LOOPBACK, OIF, OTHER, SPORT, SRC, Tri, V4, V4_MAX, V6};

/// The elements of the named sets and maps of one table, by name (without `@`).
#[derive(Default)]
pub struct Sets {
    pub elements: BTreeMap<String, Named>,
}

/// A named set or map: its elements, and whether they change while the ruleset runs.
pub struct Named {
    pub elements: Vec<Expression<'static>>,
    /// Elements that could not be read, or a dynamic set: its contents are not known.
    pub unsure: Option<String>,
}

/// What the left side of a match reads.
#[derive(Clone, Debug)]
enum Field {
    Nfproto,
    L4proto,
    /// `ip protocol` / `ip6 nexthdr`: the protocol of one family.
    IpProto(u128),
    Addr {
        dim: usize,
        family: u128,
    },
    Port {
        dim: usize,
        protocol: Option<u8>,
    },
    IcmpType {
        v6: bool,
    },
    IfName(usize),
    IfIndex(usize),
    IfType(usize),
    Fib(usize),
    Pkttype,
    TcpFlags(u8),
    CtState,
    Mark {
        ct: bool,
        mask: u32,
    },
    CtOther,
    Unknown,
}

/// A match `left op right` as a test.
pub fn test(
    left: &Expression,
    op: Operator,
    right: &Expression<'static>,
    sets: &Sets,
    local: &Local,
    text: &str,
) -> Test {
    let fields = fields(left);
    let negate = op == Operator::NEQ;
    if let Some(cond) = relational(&fields, op, right) {
        return Test::new(cond, false, text);
    }
    if !matches!(op, Operator::EQ | Operator::NEQ | Operator::IN) {
        return Test::unknown(text);
    }
    let any_bit = op == Operator::IN;
    match values(right, sets) {
        Ok(values) => Test::new(cond(&fields, &values, local, any_bit), negate, text).within(domain(&fields)),
        Err(why) => Test::unknown(format!("{text} ({why})")),
    }
}

/// The packets whose headers the fields read (nft adds the matching `meta nfproto` and
/// `meta l4proto` to every such match).
fn domain(fields: &[Field]) -> Cube {
    let mut cube = Cube::all();
    for field in fields {
        let within = match field {
            Field::Addr { family, .. } | Field::IpProto(family) => Cube::all().with(FAMILY, *family, *family),
            Field::Port { protocol: Some(p), .. } => rules::protocol_domain(None, *p),
            Field::IcmpType { v6: false } => rules::protocol_domain(Some(V4), 1),
            Field::IcmpType { v6: true } => rules::protocol_domain(Some(V6), 58),
            Field::TcpFlags(_) => rules::protocol_domain(None, 6),
            _ => Cube::all(),
        };
        cube = cube.intersect(&within).unwrap_or(cube);
    }
    cube
}

/// The test that a verdict map's key equals one element's key.
pub fn key_test(key: &Expression, element: &Expression, local: &Local, text: &str) -> Test {
    let fields = fields(key);
    Test::new(cond(&fields, std::slice::from_ref(element), local, false), false, text)
}

/// The elements a right side stands for: itself, an anonymous set's or a named set's.
fn values(right: &Expression<'static>, sets: &Sets) -> Result<Vec<Expression<'static>>, String> {
    match right {
        Expression::Named(NamedExpression::Set(items)) => Ok(items.iter().filter_map(set_item).cloned().collect()),
        Expression::String(name) if name.starts_with('@') => {
            let key = name.trim_start_matches('@');
            let set = sets.elements.get(key).ok_or_else(|| format!("no set {name}"))?;
            match &set.unsure {
                Some(why) => Err(why.clone()),
                None => Ok(set.elements.clone()),
            }
        }
        other => Ok(vec![other.clone()]),
    }
}

/// The key of one element of a set (a map's element is `[key, value]`).
pub fn set_item<'a, 'b>(item: &'b SetItem<'a>) -> Option<&'b Expression<'a>> {
    match item {
        SetItem::Element(Expression::List(pair)) => pair.first(),
        SetItem::Element(e) | SetItem::Mapping(e, _) | SetItem::MappingStatement(e, _) => Some(e),
    }
}

/// The value inside an element written with its comment (`{"elem": {"val": ...}}`).
pub fn bare<'a, 'b>(value: &'b Expression<'a>) -> &'b Expression<'a> {
    match value {
        Expression::Named(NamedExpression::Elem(elem)) => &elem.val,
        other => other,
    }
}

/// The condition for "the fields equal one of the elements".
fn cond(fields: &[Field], elements: &[Expression], local: &Local, any_bit: bool) -> Cond {
    match fields {
        [Field::CtState] => {
            let masks: Option<Vec<u8>> = elements.iter().map(|e| state_mask(bare(e))).collect();
            masks.map_or_else(unknown_region, |m| Cond::CtState(m.iter().fold(0, |a, b| a | b)))
        }
        [Field::Mark { ct, mask }] => {
            let values: Option<Vec<(u32, u32)>> = elements.iter().map(|e| mark_interval(bare(e))).collect();
            values.map_or_else(unknown_region, |values| Cond::Mark { ct: *ct, mask: *mask, values })
        }
        [Field::CtOther] => Cond::CtOther,
        _ => {
            let mut tri = Tri::never();
            for element in elements {
                tri = tri.or(element_region(fields, bare(element), local, any_bit));
            }
            Cond::Region(tri)
        }
    }
}

fn unknown_region() -> Cond {
    Cond::Region(Tri::maybe(Cube::all()))
}

/// The region where the fields equal one element (a concatenation for several fields).
fn element_region(fields: &[Field], element: &Expression, local: &Local, any_bit: bool) -> Tri {
    let parts: Vec<&Expression> = match (fields.len(), element) {
        (1, e) => vec![e],
        (_, Expression::Named(NamedExpression::Concat(parts))) => parts.iter().map(bare).collect(),
        _ => return Tri::maybe(Cube::all()),
    };
    if parts.len() != fields.len() {
        return Tri::maybe(Cube::all());
    }
    let mut tri = Tri::always();
    for (field, value) in fields.iter().zip(parts) {
        tri = tri.and(&region(field, value, local, any_bit));
    }
    tri
}

/// The region where one field has one value.
fn region(field: &Field, value: &Expression, local: &Local, any_bit: bool) -> Tri {
    let unknown = || Tri::maybe(Cube::all());
    match field {
        Field::Nfproto => match string(value).as_deref() {
            Some("ipv4" | "ip" | "2") => rules::family(V4),
            Some("ipv6" | "ip6" | "10") => rules::family(V6),
            _ => unknown(),
        },
        Field::L4proto => intervals(value, protocol).map_or_else(unknown, |i| rules::protocols(&i)),
        Field::IpProto(family) => {
            intervals(value, protocol).map_or_else(unknown, |i| rules::protocols(&i).and(&rules::family(*family)))
        }
        Field::Addr { dim, family } => {
            addresses(value, *family).map_or_else(unknown, |i| rules::addresses(*dim, *family, &[i]))
        }
        Field::Port { dim, protocol } => {
            intervals(value, number).map_or_else(unknown, |i| rules::ports(*dim, *protocol, &i))
        }
        Field::IcmpType { v6 } => {
            let parse = |s: &str| rules::icmp_type(*v6, s).map(u128::from);
            intervals(value, parse)
                .map(|i| i.iter().map(|(lo, hi)| (lo * 256, hi * 256 + 255)).collect::<Vec<_>>())
                .map_or_else(unknown, |i| rules::icmp(*v6, &i))
        }
        Field::IfName(dim) => string(value).map_or_else(unknown, |n| rules::interfaces(*dim, &[n])),
        Field::IfIndex(dim) => match string(value).as_deref() {
            Some("lo" | "1") => Tri::yes(Cube::all().with(*dim, LOOPBACK, LOOPBACK)),
            Some(_) => Tri::maybe(Cube::all().with(*dim, OTHER, OTHER)),
            None => unknown(),
        },
        Field::IfType(dim) => string(value).map_or_else(unknown, |t| rules::interface_types(*dim, &[t])),
        Field::Fib(dim) => names(value).map_or_else(unknown, |t| rules::address_types(*dim, &t, local)),
        Field::Pkttype => names(value).map_or_else(unknown, |t| rules::packet_types(&t)),
        Field::TcpFlags(mask) => flags(value).map_or_else(unknown, |v| rules::tcp_flags(*mask, &[v], any_bit)),
        Field::CtState => state_mask(value).map_or_else(unknown, rules::states),
        Field::Mark { .. } | Field::CtOther | Field::Unknown => unknown(),
    }
}

/// `<`, `>`, `<=`, `>=` on ports, protocols and marks; `None` for other operators.
fn relational(fields: &[Field], op: Operator, right: &Expression) -> Option<Cond> {
    if !matches!(op, Operator::LT | Operator::GT | Operator::LEQ | Operator::GEQ) {
        return None;
    }
    let max = match fields {
        [Field::Port { .. }] => 65535,
        [Field::L4proto] => 255,
        [Field::Mark { .. }] => u128::from(u32::MAX),
        _ => return Some(unknown_region()),
    };
    let Some(n) = string(right).and_then(|s| number(&s)) else { return Some(unknown_region()) };
    // The crate names these variants after the opposite symbol: `LT` is `>` in JSON, `GT` is `<`.
    let bounds = match op {
        Operator::LT => n.checked_add(1).map(|lo| (lo, max)),
        Operator::GT => n.checked_sub(1).map(|hi| (0, hi)),
        Operator::LEQ => Some((0, n.min(max))),
        _ => Some((n, max)),
    };
    let Some((lo, hi)) = bounds.filter(|(lo, hi)| lo <= hi) else { return Some(Cond::Region(Tri::never())) };
    Some(match fields {
        [Field::Port { dim, protocol }] => Cond::Region(rules::ports(*dim, *protocol, &[(lo, hi)])),
        [Field::Mark { ct, mask }] => {
            let (lo, hi) = (u32::try_from(lo).unwrap_or(u32::MAX), u32::try_from(hi).unwrap_or(u32::MAX));
            Cond::Mark { ct: *ct, mask: *mask, values: vec![(lo, hi)] }
        }
        _ => Cond::Region(rules::protocols(&[(lo, hi)])),
    })
}

/// The fields a left side reads, one per part of a concatenation.
fn fields(left: &Expression) -> Vec<Field> {
    match left {
        Expression::Named(NamedExpression::Concat(parts)) => parts.iter().map(field).collect(),
        other => vec![field(other)],
    }
}

fn field(expr: &Expression) -> Field {
    match expr {
        Expression::Named(NamedExpression::Payload(Payload::PayloadField(p))) => {
            payload(&p.protocol, &p.field).unwrap_or(Field::Unknown)
        }
        Expression::Named(NamedExpression::Meta(meta)) => meta_field(meta.key),
        Expression::Named(NamedExpression::CT(ct)) => match ct.key.as_ref() {
            "state" => Field::CtState,
            "mark" => Field::Mark { ct: true, mask: u32::MAX },
            _ => Field::CtOther,
        },
        Expression::Named(NamedExpression::Fib(fib)) if fib.result == FibResult::Type => {
            let only = |flag| fib.flags.len() == 1 && fib.flags.contains(&flag);
            if only(FibFlag::Daddr) {
                Field::Fib(DST)
            } else if only(FibFlag::Saddr) {
                Field::Fib(SRC)
            } else {
                Field::Unknown
            }
        }
        Expression::BinaryOperation(op) => match op.as_ref() {
            BinaryOperation::AND(inner, mask) => masked(field(inner), mask),
            _ => Field::Unknown,
        },
        _ => Field::Unknown,
    }
}

/// `field & mask`, for marks and TCP flags.
fn masked(field: Field, mask: &Expression) -> Field {
    match field {
        Field::Mark { ct, .. } => match string(mask).and_then(|s| number(&s)).and_then(|m| u32::try_from(m).ok()) {
            Some(mask) => Field::Mark { ct, mask },
            None => Field::Unknown,
        },
        Field::TcpFlags(_) => flags(mask).map_or(Field::Unknown, Field::TcpFlags),
        _ => Field::Unknown,
    }
}

fn meta_field(key: MetaKey) -> Field {
    match key {
        MetaKey::Nfproto | MetaKey::Protocol => Field::Nfproto,
        MetaKey::L4proto => Field::L4proto,
        MetaKey::Iif => Field::IfIndex(IIF),
        MetaKey::Iifname => Field::IfName(IIF),
        MetaKey::Iiftype => Field::IfType(IIF),
        MetaKey::Oif => Field::IfIndex(OIF),
        MetaKey::Oifname => Field::IfName(OIF),
        MetaKey::Oiftype => Field::IfType(OIF),
        MetaKey::Mark => Field::Mark { ct: false, mask: u32::MAX },
        MetaKey::Pkttype => Field::Pkttype,
        _ => Field::Unknown,
    }
}

fn payload(protocol: &str, name: &str) -> Option<Field> {
    let port = |p: Option<u8>| match name {
        "sport" => Some(Field::Port { dim: SPORT, protocol: p }),
        "dport" => Some(Field::Port { dim: DPORT, protocol: p }),
        _ => None,
    };
    match (protocol, name) {
        ("ip", "saddr") => Some(Field::Addr { dim: SRC, family: V4 }),
        ("ip", "daddr") => Some(Field::Addr { dim: DST, family: V4 }),
        ("ip", "protocol") => Some(Field::IpProto(V4)),
        ("ip6", "saddr") => Some(Field::Addr { dim: SRC, family: V6 }),
        ("ip6", "daddr") => Some(Field::Addr { dim: DST, family: V6 }),
        ("ip6", "nexthdr") => Some(Field::IpProto(V6)),
        ("tcp", "flags") => Some(Field::TcpFlags(0xff)),
        ("icmp", "type") => Some(Field::IcmpType { v6: false }),
        ("icmpv6", "type") => Some(Field::IcmpType { v6: true }),
        ("th", _) => port(None),
        (p, _) => rules::protocol_number(p).filter(|n| rules::PORT_PROTOCOLS.contains(n)).and_then(|n| port(Some(n))),
    }
}

/// A value as text: strings as they are, numbers in decimal.
fn string(value: &Expression) -> Option<String> {
    match value {
        Expression::String(s) => Some(s.to_string()),
        Expression::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Names from a value or a list of them.
fn names(value: &Expression) -> Option<Vec<String>> {
    match value {
        Expression::List(items) => items.iter().map(string).collect(),
        Expression::Named(NamedExpression::Set(items)) => items.iter().filter_map(set_item).map(string).collect(),
        other => string(other).map(|s| vec![s]),
    }
}

/// A decimal or `0x` hexadecimal number.
pub fn number(text: &str) -> Option<u128> {
    match text.strip_prefix("0x") {
        Some(hex) => u128::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn protocol(text: &str) -> Option<u128> {
    rules::protocol_number(text).map(u128::from)
}

/// A single value or a range, each end read by `parse`.
fn intervals(value: &Expression, parse: impl Fn(&str) -> Option<u128>) -> Option<Vec<(u128, u128)>> {
    match value {
        Expression::Range(range) => {
            let [lo, hi] = &range.range;
            Some(vec![(parse(&string(lo)?)?, parse(&string(hi)?)?)])
        }
        Expression::List(items) => items.iter().map(|i| string(i).and_then(|s| parse(&s)).map(|n| (n, n))).collect(),
        other => {
            let n = parse(&string(other)?)?;
            Some(vec![(n, n)])
        }
    }
}

/// An address, prefix or address range of one family.
fn addresses(value: &Expression, family: u128) -> Option<(u128, u128)> {
    let one = |e: &Expression| -> Option<u128> {
        let ip: std::net::IpAddr = string(e)?.parse().ok()?;
        let (f, v) = super::space::address(ip);
        (f == family).then_some(v)
    };
    match value {
        Expression::Named(NamedExpression::Prefix(prefix)) => {
            let first = one(&prefix.addr)?;
            let bits: u32 = if family == V4 { 32 } else { 128 };
            let host = bits.checked_sub(prefix.len)?;
            let span = if host >= 128 { u128::MAX } else { (1u128 << host) - 1 };
            let top = if family == V4 { V4_MAX } else { u128::MAX };
            Some((first & !span, (first | span).min(top)))
        }
        Expression::Range(range) => {
            let [lo, hi] = &range.range;
            Some((one(lo)?, one(hi)?))
        }
        other => one(other).map(|v| (v, v)),
    }
}

/// TCP flags by name (`syn`), a list of names, or a number.
fn flags(value: &Expression) -> Option<u8> {
    let one = |s: &str| -> Option<u8> {
        let bit = match s {
            "fin" => 0x01,
            "syn" => 0x02,
            "rst" => 0x04,
            "psh" => 0x08,
            "ack" => 0x10,
            "urg" => 0x20,
            "ecn" => 0x40,
            "cwr" => 0x80,
            other => return number(other).and_then(|n| u8::try_from(n).ok()),
        };
        Some(bit)
    };
    match value {
        Expression::List(items) => {
            items.iter().map(|i| string(i).and_then(|s| one(&s))).try_fold(0u8, |a, b| Some(a | b?))
        }
        Expression::BinaryOperation(op) => match op.as_ref() {
            BinaryOperation::OR(items) => items.iter().map(flags).try_fold(0u8, |a, b| Some(a | b?)),
            _ => None,
        },
        other => one(&string(other)?),
    }
}

/// `ct state` values: a name or a list of names, as a mask of state bits.
fn state_mask(value: &Expression) -> Option<u8> {
    match value {
        Expression::List(items) => items.iter().map(state_mask).try_fold(0u8, |a, b| Some(a | b?)),
        other => rules::ct_state(&string(other)?),
    }
}

/// A mark value or range.
fn mark_interval(value: &Expression) -> Option<(u32, u32)> {
    let found = intervals(value, number)?;
    let [(lo, hi)] = found.as_slice() else { return None };
    Some((u32::try_from(*lo).ok()?, u32::try_from(*hi).ok()?))
}
