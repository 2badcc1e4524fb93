//! The flow graph: roles and externals as nodes, every flow expanded to concrete
//! (from, to, protocol, port range) edges, each with its condition in two views: what the
//! site explicitly decided (for the checks) and what the build uses (for the targets).

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use crate::diag::{Code, Diagnostic};
use crate::hir::{Cond, FlowId, NodeId, ParamId, PortRef, Program, Target};
use crate::protocol::Protocol;
use crate::span::Span;

/// The program and its edges, for every flow and every configuration.
#[derive(Clone, Debug)]
pub struct FlowGraph {
    pub program: Program,
    pub edges: Vec<Edge>,
    /// Edges of the `never` invariants; `flow` indexes `program.nevers`.
    pub nevers: Vec<Edge>,
    /// Node `i` is `NodeId(i)`; the weight of an edge indexes `edges`.
    pub graph: DiGraph<NodeId, usize>,
}

impl FlowGraph {
    /// The edges to or from any of `nodes`, in the order of `edges`. Found through the petgraph
    /// graph's adjacency, so the cost follows those nodes' edges, not the program's: a build for
    /// every host looks at each edge about twice, not once per host.
    pub fn edges_touching(&self, nodes: &std::collections::BTreeSet<NodeId>) -> Vec<&Edge> {
        use petgraph::Direction::{Incoming, Outgoing};
        let mut indexes: Vec<usize> = nodes
            .iter()
            .flat_map(|node| {
                let index = NodeIndex::new(node.index());
                self.graph.edges_directed(index, Incoming).chain(self.graph.edges_directed(index, Outgoing))
            })
            .map(|edge| *edge.weight())
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes.into_iter().filter_map(|index| self.edges.get(index)).collect()
    }
}

/// One concrete permission: traffic from `from` to `to` on one protocol and port range.
/// Its conditions are its flow's, shared by every edge of the flow; `edge.residual` reads them
/// through `Deref`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The flow (or `never`) this edge comes from.
    pub flow: FlowId,
    pub from: NodeId,
    pub to: NodeId,
    /// Traffic that stays on the node (`self`, or a `local` note or modifier).
    pub local: bool,
    pub protocol: Protocol,
    /// `None` for protocols without ports.
    pub ports: Option<(u16, u16)>,
    pub conditions: Arc<Conditions>,
}

/// A flow's condition in its three views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conditions {
    /// The flow's `when` and its notes' conditions.
    pub condition: Cond,
    /// What remains of `condition` once the explicit settings (`set`, `--set`) are applied:
    /// the configurations a check must consider.
    pub open: Cond,
    /// What remains of `condition` under the build's configuration (defaults included);
    /// `Const(false)` when the build leaves the flow out.
    pub residual: Cond,
}

/// A flow expands to an edge per (from, to, protocol, port range), and a million flows to
/// millions of edges: each edge holding its three conditions made them most of the compiler's
/// memory. Edges share their flow's instead, and `Deref` keeps reading them as `edge.open`.
impl std::ops::Deref for Edge {
    type Target = Conditions;

    fn deref(&self) -> &Conditions {
        &self.conditions
    }
}

impl Edge {
    /// Whether the build includes this edge.
    pub fn built(&self) -> bool {
        self.residual != Cond::Const(false)
    }
}

/// Expands every flow, reporting params that a flow needs but nothing sets.
pub fn build(mut program: Program) -> (FlowGraph, Vec<Diagnostic>) {
    let mut unset: BTreeMap<ParamId, Vec<Span>> = BTreeMap::new();
    let mut shared = FxHashMap::default();
    let edges = expand(&program, &program.flows, &mut unset, &mut shared);
    let nevers = expand(&program, &program.nevers, &mut unset, &mut shared);
    drop(shared);
    // A param may be set by a `set` that was left out, or declared with a default that was.
    let gaps = &program.gaps;
    let named = |param: &ParamId| program.params.get(param.index()).is_some_and(|p| gaps.mentions(&p.name));
    let diagnostics = unset
        .iter()
        .filter(|(param, _)| !gaps.settings && !named(param))
        .map(|(param, uses)| unset_param(&program, *param, uses))
        .collect();
    // A flow without its param's port has fewer edges than it says: what it mentions is not
    // unused for that.
    let lacking: std::collections::BTreeSet<Span> = unset.into_values().flatten().collect();
    let mentioned: Vec<String> = program
        .flows
        .iter()
        .chain(&program.nevers)
        .filter(|f| lacking.contains(&f.span))
        .flat_map(|f| {
            let to = match &f.to {
                Target::Nodes(to) => to.as_slice(),
                Target::Local => &[],
            };
            f.from.iter().chain(to).filter_map(|n| program.nodes.get(n.index())).map(|n| n.name.clone())
        })
        .collect();
    program.gaps.mentioned.extend(mentioned);
    let mut graph = DiGraph::with_capacity(program.nodes.len(), edges.len());
    for index in 0..program.nodes.len() {
        graph.add_node(NodeId(crate::hir::next_id(index)));
    }
    for (index, edge) in edges.iter().enumerate() {
        graph.add_edge(NodeIndex::new(edge.from.index()), NodeIndex::new(edge.to.index()), index);
    }
    (FlowGraph { program, edges, nevers, graph }, diagnostics)
}

/// Expands flows to edges. Flows with the same condition share one `Conditions` (`shared`): a
/// program of a million flows has a few hundred distinct conditions.
fn expand(
    program: &Program,
    flows: &[crate::hir::Flow],
    unset: &mut BTreeMap<ParamId, Vec<Span>>,
    shared: &mut FxHashMap<Cond, Arc<Conditions>>,
) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (index, flow) in flows.iter().enumerate() {
        let notes = flow.notes.iter().filter_map(|n| program.notes.get(n.index()));
        let local = flow.local || flow.to == Target::Local || notes.clone().any(|n| n.local);
        // `and` of one term gives it back.
        let condition = if flow.notes.is_empty() {
            flow.when.clone()
        } else {
            Cond::and(std::iter::once(flow.when.clone()).chain(notes.map(|n| n.when.clone())).collect())
        };
        let conditions = match shared.get(&condition) {
            Some(known) => Arc::clone(known),
            None => {
                let open = condition.simplify(&program.explicit);
                let residual = condition.simplify(&program.config);
                let conditions = Arc::new(Conditions { condition: condition.clone(), open, residual });
                shared.insert(condition, Arc::clone(&conditions));
                conditions
            }
        };
        // A param matters only to a flow the build includes.
        let mut ignored = BTreeMap::new();
        let unset = if conditions.residual == Cond::Const(false) { &mut ignored } else { &mut *unset };
        let ports = concrete_ports(program, &flow.ports, flow.span, unset);
        let flow_id = FlowId(crate::hir::next_id(index));
        let pairs = flow.from.iter().flat_map(|f| {
            let to: &[NodeId] = match &flow.to {
                Target::Local => std::slice::from_ref(f),
                Target::Nodes(to) => to,
            };
            to.iter().map(move |&t| (*f, t))
        });
        let portless = [None];
        for (from, to) in pairs {
            for &protocol in &flow.protocols {
                let ranges: &mut dyn Iterator<Item = Option<(u16, u16)>> = if protocol.has_ports() {
                    &mut ports.iter().copied().map(Some)
                } else {
                    &mut portless.iter().copied()
                };
                for range in ranges {
                    edges.push(Edge {
                        flow: flow_id,
                        from,
                        to,
                        local,
                        protocol,
                        ports: range,
                        conditions: Arc::clone(&conditions),
                    });
                }
            }
        }
    }
    edges
}

/// The flow's port ranges with params replaced by their values; unset params are recorded.
/// Unset params are recorded with the span of the flow's spec (`flow`), which is where the
/// port is needed even when the param is written in a service's declaration.
fn concrete_ports(
    program: &Program,
    ports: &[PortRef],
    flow: Span,
    unset: &mut BTreeMap<ParamId, Vec<Span>>,
) -> Vec<(u16, u16)> {
    let mut out = Vec::with_capacity(ports.len());
    for port in ports {
        match *port {
            PortRef::Range(start, end) => out.push((start, end)),
            PortRef::Param(param, _) => match program.config.params.get(param.index()).copied().flatten() {
                Some(value) => out.push((value, value)),
                None => {
                    let uses = unset.entry(param).or_default();
                    if !uses.contains(&flow) {
                        uses.push(flow);
                    }
                }
            },
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn unset_param(program: &Program, param: ParamId, uses: &[Span]) -> Diagnostic {
    let def = program.params.get(param.index());
    let name = def.map_or("?", |p| p.name.as_str());
    // `unset` maps a param to the spans of the flows that used it; an entry is made at a use.
    let (first, rest) = uses.split_first().expect("invariant: an unset param has a use");
    let mut d = Diagnostic::new(Code::ParamUnset, format!("param `{name}` has no value"), *first, "this flow needs it");
    for span in rest {
        d = d.with_secondary(*span, "this flow needs it too");
    }
    if let Some(def) = def {
        d = d.with_secondary(def.span, "declared without a default");
    }
    let count = if uses.len() == 1 { "1 flow uses".to_string() } else { format!("{} flows use", uses.len()) };
    d.with_note(format!("{count} `{name}` as a port")).with_help(format!(
        "set it in the site file, `set {name} = 1234`, or on the command line, `--param {name}=1234`"
    ))
}
