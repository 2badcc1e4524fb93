//! Checks of the flow graph: `never` invariants, ports claimed twice, duplicate and shadowed
//! flows, conditions that never or always hold, roles nothing reaches, unused notes.
//! Targets accept only a `Checked` graph, so no output skips this stage.
//!
//! Checks consider every configuration that agrees with what the site decided explicitly
//! (`set`, `--set`); defaults are only what a build uses. Hygiene warnings (dead or duplicate
//! flows, unreachable roles, unused notes) are about the root module, the file the user is
//! checking; composition problems (`never`, ports claimed twice) are about the whole program.

mod cluster;
mod hygiene;
pub mod logic;
mod overlap;
mod pairs;

use crate::diag::Diagnostic;
use crate::graph::{Edge, FlowGraph};
use crate::hir::{ModuleId, Program};

/// A flow graph that went through every check.
#[derive(Clone, Debug)]
pub struct Checked {
    graph: FlowGraph,
}

impl Checked {
    pub fn graph(&self) -> &FlowGraph {
        &self.graph
    }
}

/// The root module, whose own declarations the hygiene checks look at.
pub const ROOT: ModuleId = ModuleId(0);

/// Runs every check. The graph itself passes through unchanged.
pub fn check(graph: FlowGraph) -> (Checked, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut solver = logic::Solver::new(&graph.program);
    // These find a configuration in which something happens; a `set` left out by an error might
    // rule that configuration out (ARCHITECTURE.md, "Partial results").
    if !graph.program.gaps.settings {
        overlap::never_violations(&graph, &mut solver, &mut diagnostics);
        overlap::claims(&graph, &mut solver, &mut diagnostics);
    }
    overlap::duplicates(&graph, &mut solver, &mut diagnostics);
    hygiene::conditions(&graph, &mut solver, &mut diagnostics);
    hygiene::reachability(&graph, &mut solver, &mut diagnostics);
    hygiene::declarations(&graph, &mut diagnostics);
    cluster::pod_network(&graph, &mut diagnostics);
    cluster::unbound_endpoints(&graph, &mut diagnostics);
    cluster::family_mismatches(&graph, &mut diagnostics);
    (Checked { graph }, diagnostics)
}

/// `udp 8472`, `tcp 30000-32767`, `ipip`.
fn ports_text(edge: &Edge) -> String {
    match edge.ports {
        Some((start, end)) if start == end => format!("{} {start}", edge.protocol),
        Some((start, end)) => format!("{} {start}-{end}", edge.protocol),
        None => edge.protocol.to_string(),
    }
}

/// `udp 8472 from internet to etcd`.
fn edge_text(program: &Program, names: &[String], edge: &Edge) -> String {
    let name = |id: crate::hir::NodeId| names.get(id.index()).map_or("?", String::as_str);
    let _ = program;
    format!("{} from {} to {}", ports_text(edge), name(edge.from), name(edge.to))
}

/// "when cni = canal, external_lb = false" for the open part of a configuration, followed by
/// what the file's settings fixed of the variables `original` mentions; "in every configuration"
/// when the conditions mention nothing.
fn when_text(program: &Program, witness: &logic::Assignment, original: &crate::hir::Cond) -> String {
    let (flags, options) = logic::variables(original);
    let mut fixed = logic::Assignment::default();
    for flag in flags {
        if let Some(Some(value)) = program.explicit.flags.get(flag.index()) {
            fixed.flags.insert(flag, *value);
        }
    }
    for option in options {
        if let Some(Some(value)) = program.explicit.options.get(option.index()) {
            fixed.options.insert(option, *value);
        }
    }
    match (witness.display(program), fixed.display(program)) {
        (open, set) if open.is_empty() && set.is_empty() => "in every configuration".to_string(),
        (open, set) if open.is_empty() => format!("with this file's settings ({set})"),
        (open, set) if set.is_empty() => format!("when {open}"),
        (open, set) => format!("when {open}, with this file's settings ({set})"),
    }
}

/// Whether two inclusive ranges (or two portless edges) overlap.
fn overlaps(a: Option<(u16, u16)>, b: Option<(u16, u16)>) -> bool {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => a0 <= b1 && b0 <= a1,
        (None, None) => true,
        _ => false,
    }
}
