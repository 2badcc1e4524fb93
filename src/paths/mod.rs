//! `portc paths`: every way traffic that starts at one node can reach another when each role on the
//! way is taken over, that is, when an attacker who controls a role can use any flow from it.
//!
//! The search runs on the flow graph's petgraph graph: its edges are folded into one hop per pair of
//! nodes (node-local flows and flows whose condition cannot hold are left out, since they do not
//! cross hosts or never exist), the hops that cannot lie on a short enough path are cut away by two
//! breadth-first distance maps, and petgraph's `all_simple_paths` lists the rest. A path exists when
//! the conjunction of its hops' conditions can hold; format `portc.paths/v1` (docs/diff.md).

mod render;

pub use render::{HopFlow, HopReport, Origin, PathReport, Report, dot, report};

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeFiltered, EdgeRef, Reversed};
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::check::Checked;
use crate::check::logic::{Assignment, Solver};
use crate::diag::{Code, Diagnostic};
use crate::graph::FlowGraph;
use crate::hir::{Cond, NodeId, NodeKind};

pub const FORMAT: &str = "portc.paths/v1";

/// The longest path `paths` and `check --no-path` look for unless told otherwise.
pub const DEFAULT_MAX_HOPS: u16 = 3;

/// Where traffic starts and where it must not (or may) arrive.
#[derive(Clone, Debug)]
pub struct Query {
    pub from: Vec<NodeId>,
    pub to: Vec<NodeId>,
    /// The most hops a path may have, at least 1.
    pub max_hops: usize,
}

/// One path: its nodes, and per hop the flow graph's edges that can carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    pub nodes: Vec<NodeId>,
    /// Per hop, indices into the graph's edges that can be active while the whole path exists.
    pub hops: Vec<Vec<usize>>,
    /// The conjunction, over the hops, of the disjunction of each hop's edges' conditions.
    pub condition: Cond,
    /// A configuration in which the path exists.
    pub witness: Assignment,
}

/// The hops between nodes: one petgraph edge per ordered pair of distinct nodes with an edge that
/// crosses hosts and can be active, weighted by the flow graph's edges it stands for.
#[derive(Clone, Debug)]
pub struct Hops {
    pub graph: DiGraph<NodeId, Vec<usize>>,
}

impl Hops {
    /// Folds the flow graph's edges into hops; `solver` decides which edges can be active.
    pub fn new(flow_graph: &FlowGraph, solver: &mut Solver<'_>) -> Hops {
        let mut graph: DiGraph<NodeId, Vec<usize>> = DiGraph::with_capacity(flow_graph.graph.node_count(), 0);
        // The same nodes in the same order, so node indices agree between the two graphs.
        for &node in flow_graph.graph.node_weights() {
            graph.add_node(node);
        }
        let mut index: FxHashMap<(NodeIndex, NodeIndex), EdgeIndex> = FxHashMap::default();
        for raw in flow_graph.graph.edge_references() {
            let (source, target, weight) = (raw.source(), raw.target(), *raw.weight());
            let Some(edge) = flow_graph.edges.get(weight) else { continue };
            if edge.local || source == target || !solver.satisfiable(&edge.open) {
                continue;
            }
            let hop = *index.entry((source, target)).or_insert_with(|| graph.add_edge(source, target, Vec::new()));
            if let Some(list) = graph.edge_weight_mut(hop) {
                list.push(weight);
            }
        }
        Hops { graph }
    }
}

/// Every path of at most `query.max_hops` hops from a node of `from` to a node of `to` whose
/// intermediate nodes are roles outside `from` and `to`, and whose condition can hold; shortest
/// first, then by the nodes' names.
pub fn find(checked: &Checked, query: &Query) -> Vec<Path> {
    let flow_graph = checked.graph();
    let mut solver = Solver::new(&flow_graph.program);
    let hops = Hops::new(flow_graph, &mut solver);
    let names = flow_graph.program.node_names();
    let mut paths = search(flow_graph, &hops, query, &mut solver);
    let name = |n: &NodeId| names.get(n.index()).map_or("", String::as_str);
    paths.sort_by(|a, b| {
        (a.nodes.len(), a.nodes.iter().map(name).collect::<Vec<_>>())
            .cmp(&(b.nodes.len(), b.nodes.iter().map(name).collect()))
    });
    paths
}

/// The search on the hops, in petgraph's order.
fn search(flow_graph: &FlowGraph, hops: &Hops, query: &Query, solver: &mut Solver<'_>) -> Vec<Path> {
    let program = &flow_graph.program;
    let is_from = |n: NodeIndex| query.from.iter().any(|f| f.index() == n.index());
    let is_to = |n: NodeIndex| query.to.iter().any(|t| t.index() == n.index());
    let is_role = |n: NodeIndex| program.nodes.get(n.index()).is_some_and(|node| node.kind == NodeKind::Role);
    // A path starts at FROM, ends at its first node of TO, and passes only through roles.
    let passable = |n: NodeIndex| is_role(n) && !is_from(n) && !is_to(n);
    let allowed = |e: petgraph::graph::EdgeReference<'_, Vec<usize>>| {
        (is_from(e.source()) || passable(e.source())) && (is_to(e.target()) || passable(e.target()))
    };
    let candidate = EdgeFiltered::from_fn(&hops.graph, allowed);
    let max_hops = query.max_hops.max(1);
    let near = distances(&candidate, &query.from, &query.to, max_hops);
    let short = EdgeFiltered::from_fn(&hops.graph, |e: petgraph::graph::EdgeReference<'_, Vec<usize>>| {
        allowed(e) && near.fits(e.source(), e.target())
    });
    let mut out = Vec::new();
    for from in &query.from {
        for to in &query.to {
            let (start, end) = (NodeIndex::new(from.index()), NodeIndex::new(to.index()));
            if start == end {
                continue;
            }
            let found = petgraph::algo::all_simple_paths::<Vec<NodeIndex>, _, FxBuildHasher>(
                &short,
                start,
                end,
                0,
                Some(max_hops - 1),
            );
            out.extend(found.filter_map(|nodes| path(flow_graph, hops, &nodes, solver)));
        }
    }
    out
}

/// How far each node is from the nearest start and from the nearest end, in hops.
struct Near {
    from: Vec<usize>,
    to: Vec<usize>,
    max_hops: usize,
}

impl Near {
    /// Whether a hop from `source` to `target` can lie on a path of at most `max_hops` hops.
    fn fits(&self, source: NodeIndex, target: NodeIndex) -> bool {
        let before = self.from.get(source.index()).copied().unwrap_or(usize::MAX);
        let after = self.to.get(target.index()).copied().unwrap_or(usize::MAX);
        before.saturating_add(1).saturating_add(after) <= self.max_hops
    }
}

/// Breadth-first distances from the starts (forward) and to the ends (on the reversed graph),
/// through petgraph's Dijkstra with unit weights.
fn distances<G>(graph: G, from: &[NodeId], to: &[NodeId], max_hops: usize) -> Near
where
    G: petgraph::visit::IntoEdges<NodeId = NodeIndex>
        + petgraph::visit::IntoEdgesDirected
        + petgraph::visit::Visitable
        + petgraph::visit::NodeCount,
{
    let n = graph.node_count();
    let mut near = Near { from: vec![usize::MAX; n], to: vec![usize::MAX; n], max_hops };
    for start in from {
        let found = petgraph::algo::dijkstra(graph, NodeIndex::new(start.index()), None, |_| 1usize);
        merge(&mut near.from, found);
    }
    for end in to {
        let found = petgraph::algo::dijkstra(Reversed(graph), NodeIndex::new(end.index()), None, |_| 1usize);
        merge(&mut near.to, found);
    }
    near
}

fn merge<M: IntoIterator<Item = (NodeIndex, usize)>>(into: &mut [usize], found: M) {
    for (node, distance) in found {
        if let Some(slot) = into.get_mut(node.index()) {
            *slot = (*slot).min(distance);
        }
    }
}

/// The path through `nodes` if its condition can hold, with the edges each hop can use.
fn path(flow_graph: &FlowGraph, hops: &Hops, nodes: &[NodeIndex], solver: &mut Solver<'_>) -> Option<Path> {
    let edges: Vec<&Vec<usize>> = nodes
        .windows(2)
        .map(|w| match w {
            [a, b] => hops.graph.find_edge(*a, *b).and_then(|e| hops.graph.edge_weight(e)),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let open = |i: &usize| flow_graph.edges.get(*i).map_or(Cond::Const(false), |e| e.open.clone());
    let per_hop: Vec<Cond> = edges.iter().map(|list| Cond::or(list.iter().map(open).collect())).collect();
    let condition = Cond::and(per_hop.clone());
    let witness = solver.witness(&condition)?;
    let mut usable = Vec::with_capacity(edges.len());
    for (hop, list) in edges.iter().enumerate() {
        let others = per_hop.iter().enumerate().filter(|(k, _)| *k != hop).map(|(_, c)| c.clone());
        let rest = Cond::and(others.collect());
        let fits = |i: &&usize| solver.satisfiable(&Cond::and(vec![open(i), rest.clone()]));
        usable.push(list.iter().filter(fits).copied().collect());
    }
    let ids = nodes.iter().map(|n| NodeId(crate::hir::next_id(n.index()))).collect();
    Some(Path { nodes: ids, hops: usable, condition, witness })
}

/// `check --no-path FROM:TO` for each pair of names: an error for each pair that a path connects.
/// `Err` names a pair with an unknown name.
pub fn forbidden_paths(
    checked: &Checked,
    pairs: &[(String, String)],
    max_hops: usize,
) -> Result<Vec<Diagnostic>, String> {
    let program = &checked.graph().program;
    let mut found = Vec::new();
    for (from, to) in pairs {
        let query = Query { from: program.nodes_named(from)?, to: program.nodes_named(to)?, max_hops };
        found.extend(forbidden(checked, &query, (from, to)));
    }
    Ok(found)
}

/// An error when a path exists, at the flows of the shortest one.
pub fn forbidden(checked: &Checked, query: &Query, asked: (&str, &str)) -> Option<Diagnostic> {
    let paths = find(checked, query);
    let shortest = paths.first()?;
    let graph = checked.graph();
    let program = &graph.program;
    let names = program.node_names();
    let route: Vec<&str> = shortest.nodes.iter().map(|n| names.get(n.index()).map_or("?", String::as_str)).collect();
    let span_of = |hop: &Vec<usize>| {
        let edge = hop.first().and_then(|i| graph.edges.get(*i))?;
        program.flows.get(edge.flow.index()).map(|f| f.span)
    };
    let mut spans = shortest.hops.iter().map(span_of);
    let first = spans.next().flatten()?;
    let (from, to) = asked;
    let mut d = Diagnostic::new(
        Code::ReachableThroughRoles,
        format!("`{from}` can reach `{to}` through roles taken over on the way: {}", route.join(" -> ")),
        first,
        format!("first hop, {} -> {}", route.first().unwrap_or(&"?"), route.get(1).unwrap_or(&"?")),
    );
    for (k, span) in spans.enumerate() {
        if let (Some(span), Some(a), Some(b)) = (span, route.get(k + 1), route.get(k + 2)) {
            d = d.with_secondary(span, format!("then {a} -> {b}"));
        }
    }
    let when = shortest.witness.display(program);
    let when = if when.is_empty() { "in every configuration".to_string() } else { format!("when {when}") };
    let count =
        if paths.len() == 1 { "it is the only path".to_string() } else { format!("{} paths in all", paths.len()) };
    Some(
        d.with_note(format!("this path exists {when}; {count} of at most {} hops", query.max_hops))
            .with_note("an attacker who controls a role can use every flow from it")
            .with_help(format!("remove or narrow a flow on the path; `portc paths FILE {from} {to}` lists every path")),
    )
}
