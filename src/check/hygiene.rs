//! Checks of the root module's own declarations: conditions that never or always hold, roles
//! that nothing reaches or that no flow mentions, unused notes.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use super::ROOT;
use super::logic::Solver;
use crate::diag::{Code, Diagnostic};
use crate::graph::FlowGraph;
use crate::hir::{Cond, NodeKind};

/// What `conditions` finds of a condition.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// It never holds.
    Dead,
    /// It never holds with the file's settings.
    DeadHere,
    /// It always holds.
    Always,
    Fine,
}

/// Conditions that can never hold (the flow is dead) or always hold (the condition says nothing).
pub fn conditions(graph: &FlowGraph, solver: &mut Solver<'_>, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    // Building a stdlib module by name with `--set` picks one configuration of a vendor table;
    // its flows for the other configurations are not mistakes.
    let root_is_stdlib = program.modules.first().is_some_and(|m| m.path.starts_with("<stdlib>/"));
    let mut verdicts: FxHashMap<Cond, Verdict> = FxHashMap::default();
    for flow in program.flows.iter().filter(|f| f.module == ROOT) {
        let notes = flow.notes.iter().filter_map(|n| program.notes.get(n.index()));
        let written = flow.when != Cond::Const(true) || notes.clone().any(|n| n.when != Cond::Const(true));
        if !written {
            continue;
        }
        // `and` of one term gives it back.
        let condition = if flow.notes.is_empty() {
            flow.when.clone()
        } else {
            Cond::and(std::iter::once(flow.when.clone()).chain(notes.map(|n| n.when.clone())).collect())
        };
        // Many flows share a condition: decide each condition once.
        let verdict = match verdicts.get(&condition) {
            Some(&verdict) => verdict,
            None => {
                let verdict = if !solver.satisfiable(&condition) {
                    Verdict::Dead
                } else if !root_is_stdlib && !solver.satisfiable(&condition.simplify(&program.explicit)) {
                    Verdict::DeadHere
                } else if solver.valid(&condition) {
                    Verdict::Always
                } else {
                    Verdict::Fine
                };
                verdicts.insert(condition.clone(), verdict);
                verdict
            }
        };
        if verdict == Verdict::Dead {
            out.push(
                Diagnostic::new(Code::DeadFlow, "this flow's condition can never hold", flow.span, "never active")
                    .with_note(format!("its condition, with its notes': {}", condition.display(program)))
                    .with_help("the flow allows nothing; fix the condition or delete the flow"),
            );
        } else if verdict == Verdict::DeadHere {
            out.push(
                Diagnostic::new(
                    Code::DeadFlow,
                    "this flow's condition never holds with this file's settings",
                    flow.span,
                    "never active",
                )
                .with_note(format!("its condition, with its notes': {}", condition.display(program)))
                .with_help("a `set` or `--set` rules it out; delete the flow or change the setting"),
            );
        } else if verdict == Verdict::Always {
            out.push(
                Diagnostic::new(Code::AlwaysTrue, "this flow's condition always holds", flow.span, "always active")
                    .with_note(format!("its condition, with its notes': {}", condition.display(program)))
                    .with_help("the condition can be dropped"),
            );
        }
    }
}

/// Roles of the root module that no flow reaches under a configuration the site allows, and
/// roles and externals that no flow mentions at all.
pub fn reachability(graph: &FlowGraph, solver: &mut Solver<'_>, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    // A module of declarations only (a vocabulary for other modules) has nothing to reach.
    if graph.edges.is_empty() && graph.nevers.is_empty() {
        return;
    }
    let in_nevers: BTreeSet<usize> = graph.nevers.iter().flat_map(|e| [e.from.index(), e.to.index()]).collect();
    let seen = touched(graph, solver);
    for (index, node) in program.nodes.iter().enumerate() {
        // A flow left out by an error may mention it.
        if node.module != ROOT || program.gaps.mentions(&node.name) {
            continue;
        }
        let Some(&Seen { incoming, outgoing, reached }) = seen.get(index) else { continue };
        if !incoming && !outgoing {
            if !in_nevers.contains(&index) {
                let kind = if node.kind == NodeKind::External { "external" } else { "role" };
                out.push(
                    Diagnostic::new(
                        Code::IsolatedRole,
                        format!("no flow mentions {kind} `{}`", node.name),
                        node.span,
                        "declared here",
                    )
                    .with_help(format!("add the flows of `{}`, or delete the declaration", node.name)),
                );
            }
            continue;
        }
        if node.kind != NodeKind::Role || !incoming {
            continue;
        }
        if !reached {
            out.push(
                Diagnostic::new(
                    Code::UnreachableRole,
                    format!("no flow reaches role `{}`", node.name),
                    node.span,
                    "declared here",
                )
                .with_note("every flow to it has a condition that cannot hold with this file's settings")
                .with_help("a host firewall for this role would accept nothing but local traffic"),
            );
        }
    }
}

/// What the flow graph says of one node.
#[derive(Clone, Copy, Default)]
struct Seen {
    incoming: bool,
    outgoing: bool,
    /// An incoming edge can be active under the site's settings; asked of the root's roles only.
    reached: bool,
}

/// Each node's `Seen`, in one pass over the graph's edges in order. (Following each node's list of
/// edges instead jumps around memory, which on millions of edges costs more than the rest.)
fn touched(graph: &FlowGraph, solver: &mut Solver<'_>) -> Vec<Seen> {
    let program = &graph.program;
    let mut seen = vec![Seen::default(); program.nodes.len()];
    for raw in graph.graph.raw_edges() {
        if let Some(from) = seen.get_mut(raw.source().index()) {
            from.outgoing = true;
        }
        let to = raw.target().index();
        let asked = program.nodes.get(to).is_some_and(|n| n.module == ROOT && n.kind == NodeKind::Role);
        let Some(target) = seen.get_mut(to) else { continue };
        target.incoming = true;
        if asked && !target.reached {
            target.reached = graph.edges.get(raw.weight).is_some_and(|e| solver.satisfiable(&e.open));
        }
    }
    seen
}

/// Notes of the root module that no flow references.
/// (Groups cannot be empty: the grammar requires members, and a cycle is an error.)
pub fn declarations(graph: &FlowGraph, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    let used: BTreeSet<usize> =
        program.flows.iter().chain(&program.nevers).flat_map(|f| f.notes.iter().map(|n| n.index())).collect();
    for (index, note) in program.notes.iter().enumerate() {
        if note.module == ROOT && !used.contains(&index) && !program.gaps.mentions(&note.label) {
            out.push(
                Diagnostic::new(
                    Code::UnusedNote,
                    format!("note {} is never referenced", note.label),
                    note.span,
                    "defined here",
                )
                .with_help(format!("reference it from the flows it qualifies, `[{}]`, or delete it", note.label)),
            );
        }
    }
}
