//! The overlap checks against a simple quadratic reference: on small random programs, the
//! `never` violations and the duplicate or shadowed flows the checker reports are exactly those
//! that comparing every pair of edges under every configuration finds.

#![allow(clippy::indexing_slicing)] // Small fixed tables indexed by generated, in-range numbers.

use std::collections::BTreeSet;

use portc::diag::Code;
use portc::{MemoryLoader, Options, Root};
use proptest::prelude::*;

const ROLES: [&str; 3] = ["a", "b", "c"];
/// Conditions over flags x, y and option cni; `None` is no condition.
const CONDS: [Option<&str>; 8] =
    [None, Some("x"), Some("!x"), Some("y"), Some("x && y"), Some("x || y"), Some("cni == p"), Some("cni == q")];

#[derive(Clone, Debug)]
struct Flow {
    from: usize,
    /// `None` is `self`.
    to: Option<usize>,
    proto: &'static str,
    ports: Option<(u16, u16)>,
    cond: usize,
}

fn flow() -> impl Strategy<Value = Flow> {
    (0..3usize, prop::option::weighted(0.8, 0..3usize), 0..3usize, 1..12u16, 0..4u16, 0..CONDS.len()).prop_map(
        |(from, to, proto, start, len, cond)| {
            let proto = ["tcp", "udp", "ipip"][proto];
            let ports = (proto != "ipip").then_some((start, start + len));
            Flow { from, to, proto, ports, cond }
        },
    )
}

fn line(f: &Flow) -> String {
    let to = f.to.map_or("self", |t| ROLES[t]);
    let ports = match f.ports {
        Some((s, e)) if s == e => format!(" {s}"),
        Some((s, e)) => format!(" {s}-{e}"),
        None => String::new(),
    };
    let cond = CONDS[f.cond].map_or(String::new(), |c| format!(" when {c}"));
    format!("{} -> {to} : {}{ports}{cond}", ROLES[f.from], f.proto)
}

/// Every configuration of x, y and cni.
fn holds(cond: usize, x: bool, y: bool, p: bool) -> bool {
    match CONDS[cond] {
        None => true,
        Some("x") => x,
        Some("!x") => !x,
        Some("y") => y,
        Some("x && y") => x && y,
        Some("x || y") => x || y,
        Some("cni == p") => p,
        _ => !p,
    }
}

fn configurations() -> impl Iterator<Item = (bool, bool, bool)> {
    (0..8).map(|i| (i & 1 == 1, i & 2 == 2, i & 4 == 4))
}

fn both(a: usize, b: usize) -> bool {
    configurations().any(|(x, y, p)| holds(a, x, y, p) && holds(b, x, y, p))
}

fn implies(a: usize, b: usize) -> bool {
    configurations().all(|(x, y, p)| !holds(a, x, y, p) || holds(b, x, y, p))
}

/// (flow, never) violations, and unordered pairs of flows of which one covers the other.
type Findings = (BTreeSet<(usize, usize)>, BTreeSet<(usize, usize)>);

fn target(f: &Flow) -> usize {
    f.to.unwrap_or(f.from)
}

fn overlap(a: Option<(u16, u16)>, b: Option<(u16, u16)>) -> bool {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => a0 <= b1 && b0 <= a1,
        (None, None) => true,
        _ => false,
    }
}

fn contains(outer: Option<(u16, u16)>, inner: Option<(u16, u16)>) -> bool {
    match (outer, inner) {
        (Some((o0, o1)), Some((i0, i1))) => o0 <= i0 && i1 <= o1,
        (None, None) => true,
        _ => false,
    }
}

/// The reference: (flow, never) pairs that violate, and unordered pairs of flows of which one covers the other.
fn reference(flows: &[Flow], nevers: &[Flow]) -> Findings {
    let mut violations = BTreeSet::new();
    for (i, f) in flows.iter().enumerate() {
        for (k, n) in nevers.iter().enumerate() {
            let same = f.from == n.from && target(f) == target(n) && f.proto == n.proto;
            if same && overlap(f.ports, n.ports) && both(f.cond, n.cond) {
                violations.insert((i, k));
            }
        }
    }
    let mut covered = BTreeSet::new();
    for (i, inner) in flows.iter().enumerate() {
        for (j, outer) in flows.iter().enumerate() {
            let same =
                i != j && inner.from == outer.from && target(inner) == target(outer) && inner.proto == outer.proto;
            // A local flow covers no traffic between nodes.
            let local_ok = !(outer.to.is_none() && inner.to.is_some());
            if same && local_ok && contains(outer.ports, inner.ports) && implies(inner.cond, outer.cond) {
                covered.insert((i.min(j), i.max(j)));
            }
        }
    }
    (violations, covered)
}

/// What the checker reports, as the same pairs (by line: flows first, then nevers).
fn checker(flows: &[Flow], nevers: &[Flow]) -> Findings {
    const HEADER: usize = 5;
    let mut text = String::from("flag x\nflag y\noption cni = p | q\nrole a\nrole b\nrole c\n");
    let header_lines = text.lines().count();
    assert_eq!(header_lines, HEADER + 1);
    for f in flows {
        text.push_str(&line(f));
        text.push('\n');
    }
    for n in nevers {
        text.push_str("never ");
        text.push_str(&line(n));
        text.push('\n');
    }
    let mut loader = MemoryLoader::default();
    loader.files.insert("p.ports".into(), text.into_bytes());
    let outcome = portc::compile(&Root::File("p.ports".into()), &loader, &Options::default()).expect("loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    assert!(
        outcome.diagnostics.iter().all(|d| !d.is_error() || d.code == Code::NeverViolated),
        "{}\n{rendered}",
        outcome.sources.text(portc::span::FileId(0))
    );
    let index = |span: portc::span::Span| outcome.sources.line_col(span.file, span.start).0 - header_lines - 1;
    let mut violations = BTreeSet::new();
    let mut covered = BTreeSet::new();
    for d in &outcome.diagnostics {
        let secondary = d.secondary.first().map(|l| index(l.span));
        match (d.code, secondary) {
            (Code::NeverViolated, Some(never)) => {
                violations.insert((index(d.primary.span), never - flows.len()));
            }
            (Code::DuplicateFlow | Code::ShadowedFlow, Some(other)) => {
                let inner = index(d.primary.span);
                covered.insert((inner.min(other), inner.max(other)));
            }
            _ => {}
        }
    }
    (violations, covered)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn overlap_checks_match_the_quadratic_reference(
        flows in prop::collection::vec(flow(), 1..10),
        nevers in prop::collection::vec(flow(), 0..3),
    ) {
        prop_assert_eq!(checker(&flows, &nevers), reference(&flows, &nevers));
    }
}
