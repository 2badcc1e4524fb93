//! Checks of the root module's own declarations: conditions that never or always hold, roles
//! that nothing reaches or that no flow mentions, unused notes.

use std::collections::BTreeSet;

use petgraph::Direction;
use petgraph::graph::NodeIndex;

use super::ROOT;
use super::logic::Solver;
use crate::diag::{Code, Diagnostic};
use crate::graph::FlowGraph;
use crate::hir::{Cond, NodeKind};

/// Conditions that can never hold (the flow is dead) or always hold (the condition says nothing).
pub fn conditions(graph: &FlowGraph, solver: &mut Solver<'_>, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    // Building a stdlib module by name with `--set` picks one configuration of a vendor table;
    // its flows for the other configurations are not mistakes.
    let root_is_stdlib = program.modules.first().is_some_and(|m| m.path.starts_with("<stdlib>/"));
    for flow in program.flows.iter().filter(|f| f.module == ROOT) {
        let mut terms = vec![flow.when.clone()];
        terms.extend(flow.notes.iter().filter_map(|n| program.notes.get(n.index())).map(|n| n.when.clone()));
        let written = terms.iter().any(|t| *t != Cond::Const(true));
        let condition = Cond::and(terms);
        if !written {
            continue;
        }
        if !solver.satisfiable(&condition) {
            out.push(
                Diagnostic::new(Code::DeadFlow, "this flow's condition can never hold", flow.span, "never active")
                    .with_note(format!("its condition, with its notes': {}", condition.display(program)))
                    .with_help("the flow allows nothing; fix the condition or delete the flow"),
            );
        } else if !root_is_stdlib && !solver.satisfiable(&condition.simplify(&program.explicit)) {
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
        } else if solver.valid(&condition) {
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
    for (index, node) in program.nodes.iter().enumerate() {
        if node.module != ROOT {
            continue;
        }
        let n = NodeIndex::new(index);
        let incoming: Vec<usize> = graph.graph.edges_directed(n, Direction::Incoming).map(|e| *e.weight()).collect();
        let outgoing = graph.graph.edges_directed(n, Direction::Outgoing).next().is_some();
        if incoming.is_empty() && !outgoing {
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
        if node.kind != NodeKind::Role || incoming.is_empty() {
            continue;
        }
        let reached = incoming.iter().filter_map(|&e| graph.edges.get(e)).any(|e| solver.satisfiable(&e.open));
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

/// Notes of the root module that no flow references.
/// (Groups cannot be empty: the grammar requires members, and a cycle is an error.)
pub fn declarations(graph: &FlowGraph, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    let used: BTreeSet<usize> =
        program.flows.iter().chain(&program.nevers).flat_map(|f| f.notes.iter().map(|n| n.index())).collect();
    for (index, note) in program.notes.iter().enumerate() {
        if note.module == ROOT && !used.contains(&index) {
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
