//! The checks that compare edges: `never` violations, ports claimed twice, duplicate and
//! shadowed flows. Each sorts the edges of one (endpoint, protocol) group by port and sweeps,
//! so the cost follows the overlaps found, not the square of the flows.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::logic::Solver;
use super::pairs::{self, Record};
use super::{ROOT, edge_text, overlaps, when_text};
use crate::diag::{Code, Diagnostic};
use crate::graph::{Conditions, Edge, FlowGraph};
use crate::hir::{Cond, FlowId, NodeId, NodeKind, Program};
use crate::protocol::Protocol;

/// The ports of an edge as a sortable interval; portless protocols are the whole range.
pub(super) fn interval(edge: &Edge) -> (u16, u16) {
    edge.ports.unwrap_or((0, u16::MAX))
}

/// A flow overlaps a `never` invariant under a configuration the site allows: an error.
pub fn never_violations(graph: &FlowGraph, solver: &mut Solver<'_>, out: &mut Vec<Diagnostic>) {
    if graph.nevers.is_empty() {
        return;
    }
    let program = &graph.program;
    let names = program.node_names();
    let keys: FxHashSet<_> = graph.nevers.iter().map(|e| (e.from, e.to, e.protocol)).collect();
    let candidates = pairs::matching(&graph.edges, &keys);
    let mut reported: BTreeSet<(usize, usize)> = BTreeSet::new();
    for never in &graph.nevers {
        let (start, end) = interval(never);
        // Sorted by start: stop at the first edge that starts after the invariant ends.
        for candidate in pairs::group(&candidates, (never.from, never.to, never.protocol)) {
            if candidate.interval().0 > end {
                break;
            }
            let Some(edge) = graph.edges.get(candidate.index as usize) else { continue };
            if interval(edge).1 < start || !overlaps(edge.ports, never.ports) {
                continue;
            }
            let key = (edge.flow.index(), never.flow.index());
            if reported.contains(&key) {
                continue;
            }
            let both = Cond::and(vec![edge.open.clone(), never.open.clone()]);
            let Some(witness) = solver.witness(&both) else { continue };
            reported.insert(key);
            let original = Cond::and(vec![edge.condition.clone(), never.condition.clone()]);
            out.push(never_diagnostic(program, &names, edge, never, &when_text(program, &witness, &original)));
        }
    }
}

fn never_diagnostic(program: &Program, names: &[String], edge: &Edge, never: &Edge, when: &str) -> Diagnostic {
    let flow = program.flows.get(edge.flow.index());
    let invariant = program.nevers.get(never.flow.index());
    let flow_span = flow.map(|f| f.span).unwrap_or_else(|| invariant.map_or_else(default_span, |i| i.span));
    let mut d = Diagnostic::new(
        Code::NeverViolated,
        format!("flow allows traffic that a `never` invariant forbids: {}", edge_text(program, names, edge)),
        flow_span,
        "this flow allows it",
    );
    if let Some(invariant) = invariant {
        d = d.with_secondary(invariant.span, "forbidden here");
        if let Some(why) = &invariant.description {
            d = d.with_note(format!("the invariant says: {why}"));
        }
    }
    d.with_note(format!("this happens {when}"))
        .with_help("remove or narrow the flow, or add a condition that excludes this configuration")
}

fn default_span() -> crate::span::Span {
    crate::span::Span::new(crate::span::FileId(0), 0, 0)
}

/// The services two flows name for the same port, when they differ. Only a service is a claim:
/// a flow with a description only opens a port without saying who listens on it (a site that
/// lets more sources reach the NodePort range claims nothing new).
fn claims_differ(program: &Program, a: &Edge, b: &Edge) -> Option<(String, String)> {
    let (fa, fb) = (program.flows.get(a.flow.index())?, program.flows.get(b.flow.index())?);
    let (sa, sb) = (fa.service.clone()?, fb.service.clone()?);
    (sa != sb).then_some((sa, sb))
}

/// Roles bound to overlapping addresses are the same hosts; externals stay themselves.
/// Returns a representative node for every node.
fn hosts(program: &Program) -> Vec<NodeId> {
    let mut parent: Vec<usize> = (0..program.nodes.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while let Some(&p) = parent.get(i) {
            if p == i {
                break;
            }
            let grand = parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = parent.get_mut(i) {
                *slot = grand;
            }
            i = grand;
        }
        i
    }
    // Sweep the roles' prefixes by first address: overlapping prefixes are nested, so each
    // prefix overlaps the innermost open one that contains it.
    let mut prefixes: Vec<(ipnet::IpNet, usize)> = program
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == NodeKind::Role)
        .flat_map(|(i, n)| n.addresses.iter().map(move |a| (a.trunc(), i)))
        .collect();
    prefixes.sort_by_key(|(net, _)| (net.network(), net.prefix_len()));
    let mut open: Vec<(ipnet::IpNet, usize)> = Vec::new();
    for (net, node) in prefixes {
        while open.last().is_some_and(|(outer, _)| !outer.contains(&net)) {
            open.pop();
        }
        if let Some(&(_, outer)) = open.last() {
            let (a, b) = (find(&mut parent, node), find(&mut parent, outer));
            if let Some(slot) = parent.get_mut(a) {
                *slot = b;
            }
        }
        open.push((net, node));
    }
    (0..program.nodes.len()).map(|i| NodeId(crate::hir::next_id(find(&mut parent, i)))).collect()
}

/// Host, protocol, ports, module and label of a claim, and the index of an edge that makes it.
type ClaimKey<'p> = (NodeId, Protocol, Option<(u16, u16)>, usize, &'p str, usize);

/// One protocol and port on the same hosts claimed by two different services or descriptions
/// under one configuration: a warning (two overlays on UDP 8472, say).
pub fn claims(graph: &FlowGraph, solver: &mut Solver<'_>, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    let names = program.node_names();
    let host = hosts(program);
    let host_of = |n: NodeId| host.get(n.index()).copied().unwrap_or(n);
    // One edge per (host, protocol, ports, module, label), its condition the disjunction of
    // all such edges': sources do not matter here, and a busy port (UDP 53 to every node) then
    // costs one comparison per pair of labels instead of one per pair of flows.
    // Sorted, equal keys are runs in edge order: the first edge stands for its run.
    let mut keys: Vec<ClaimKey<'_>> = Vec::new();
    for (index, edge) in graph.edges.iter().enumerate().filter(|(_, e)| e.ports.is_some()) {
        let Some(flow) = program.flows.get(edge.flow.index()) else { continue };
        let Some(label) = flow.service.as_deref() else { continue };
        keys.push((host_of(edge.to), edge.protocol, edge.ports, flow.module.index(), label, index));
    }
    keys.sort_unstable();
    let mut edges: Vec<Edge> = Vec::new();
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    for run in keys.chunk_by(|a, b| (a.0, a.1, a.2, a.3, a.4) == (b.0, b.1, b.2, b.3, b.4)) {
        let mut conditions: Vec<Cond> = Vec::new();
        for edge in run.iter().filter_map(|k| graph.edges.get(k.5)) {
            if !conditions.contains(&edge.open) {
                conditions.push(edge.open.clone());
            }
        }
        let Some(edge) = run.first().and_then(|k| graph.edges.get(k.5)) else { continue };
        let open = Cond::or(conditions);
        let edge = if open == edge.open {
            edge.clone()
        } else {
            Edge { conditions: Arc::new(Conditions { open, ..Conditions::clone(&edge.conditions) }), ..edge.clone() }
        };
        // Runs come in (host, protocol) order: a new pair starts a new group.
        let pair = |e: &Edge| (host_of(e.to), e.protocol);
        if edges.last().map(pair) != Some(pair(&edge)) {
            groups.push(edges.len()..edges.len());
        }
        edges.push(edge);
        if let Some(group) = groups.last_mut() {
            group.end = edges.len();
        }
    }
    let mut reported: BTreeSet<(usize, usize)> = BTreeSet::new();
    for group in groups {
        let mut members: Vec<usize> = group.collect();
        members.sort_by_key(|&i| edges.get(i).map(|e| (interval(e).0, u16::MAX - interval(e).1)));
        let mut active: Vec<usize> = Vec::new();
        for &index in &members {
            let Some(edge) = edges.get(index) else { continue };
            active.retain(|&a| edges.get(a).is_some_and(|e| interval(e).1 >= interval(edge).0));
            for &other_index in &active {
                let Some(other) = edges.get(other_index) else { continue };
                let (first, second) = ordered(other, edge);
                let key = (first.flow.index(), second.flow.index());
                // A claim is on an exact port or range; a range around a port is not a claim on it.
                if first.flow == second.flow || first.ports != second.ports || reported.contains(&key) {
                    continue;
                }
                let Some((a, b)) = claims_differ(program, first, second) else { continue };
                let both = Cond::and(vec![first.open.clone(), second.open.clone()]);
                let Some(witness) = solver.witness(&both) else { continue };
                reported.insert(key);
                let original = Cond::and(vec![first.condition.clone(), second.condition.clone()]);
                let when = when_text(program, &witness, &original);
                out.push(claim_diagnostic(program, &names, first, second, &a, &b, &when));
            }
            active.push(index);
        }
    }
}

/// The two edges in flow order, so a pair is reported the same way whichever was seen first.
fn ordered<'e>(a: &'e Edge, b: &'e Edge) -> (&'e Edge, &'e Edge) {
    if a.flow <= b.flow { (a, b) } else { (b, a) }
}

fn claim_diagnostic(
    program: &Program,
    names: &[String],
    first: &Edge,
    second: &Edge,
    a: &str,
    b: &str,
    when: &str,
) -> Diagnostic {
    let span = |e: &Edge| program.flows.get(e.flow.index()).map_or_else(default_span, |f| f.span);
    let (lo, hi) = (interval(first).0.max(interval(second).0), interval(first).1.min(interval(second).1));
    let port = if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") };
    let host = names.get(second.to.index()).map_or("?", String::as_str);
    Diagnostic::new(
        Code::PortClaimedTwice,
        format!("{} {port} on `{host}` is claimed by `{b}` and by `{a}`", second.protocol),
        span(second),
        format!("claimed for `{b}`"),
    )
    .with_secondary(span(first), format!("claimed for `{a}`"))
    .with_note(format!("both are allowed {when}"))
    .with_help(
        "two services cannot listen on one port of one host; make their conditions exclusive, or correct the port",
    )
}

/// Duplicate flows, and flows whose edges another flow already allows under a weaker
/// condition: warnings, for flows of the root module.
pub fn duplicates(graph: &FlowGraph, solver: &mut Solver<'_>, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    let names = program.node_names();
    let in_root = |flow: FlowId| program.flows.get(flow.index()).is_some_and(|f| f.module == ROOT);
    let edge = |r: &Record| graph.edges.get(r.index as usize);
    let mut reported: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut active: Vec<Record> = Vec::new();
    pairs::for_each_group(&graph.edges, program.nodes.len(), |members| {
        active.clear();
        for record in members {
            active.retain(|a| a.interval().1 >= record.interval().0);
            for other in &active {
                if other.flow == record.flow {
                    continue;
                }
                // `other` starts no later; it covers `record` if it ends no earlier.
                if other.interval().1 >= record.interval().1
                    && in_root(record.flow)
                    && let (Some(inner), Some(outer)) = (edge(record), edge(other))
                {
                    covered(program, &names, solver, inner, outer, &mut reported, out);
                }
                // Equal ranges cover each other.
                if other.interval() == record.interval()
                    && in_root(other.flow)
                    && let (Some(inner), Some(outer)) = (edge(other), edge(record))
                {
                    covered(program, &names, solver, inner, outer, &mut reported, out);
                }
            }
            active.push(*record);
        }
    });
}

/// Reports `inner` if `outer` allows all of it whenever `inner` is active.
fn covered(
    program: &Program,
    names: &[String],
    solver: &mut Solver<'_>,
    inner: &Edge,
    outer: &Edge,
    reported: &mut BTreeSet<(usize, usize)>,
    out: &mut Vec<Diagnostic>,
) {
    let key = (inner.flow.index(), outer.flow.index());
    let mirrored = (outer.flow.index(), inner.flow.index());
    // A local edge allows a node to reach itself only; it covers no traffic between nodes.
    if outer.local && !inner.local {
        return;
    }
    if reported.contains(&key) || reported.contains(&mirrored) || !solver.implies(&inner.open, &outer.open) {
        return;
    }
    let equal =
        inner.local == outer.local && interval(inner) == interval(outer) && solver.implies(&outer.open, &inner.open);
    let (Some(inner_flow), Some(outer_flow)) =
        (program.flows.get(inner.flow.index()), program.flows.get(outer.flow.index()))
    else {
        return;
    };
    reported.insert(key);
    let what = edge_text(program, names, inner);
    let d = if equal {
        Diagnostic::new(Code::DuplicateFlow, format!("duplicate flow: {what}"), inner_flow.span, "allowed again here")
            .with_secondary(outer_flow.span, "already allowed here")
            .with_help("delete one of the two")
    } else {
        Diagnostic::new(
            Code::ShadowedFlow,
            format!("flow is already allowed by a broader one: {what}"),
            inner_flow.span,
            "covered",
        )
        .with_secondary(outer_flow.span, "this flow covers its ports under a condition at least as weak")
        .with_help("delete the narrower flow, or narrow the broader one")
    };
    out.push(d);
}
