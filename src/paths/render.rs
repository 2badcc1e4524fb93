//! Paths as text: for people, as JSON (`portc.paths/v1`), and as Graphviz DOT, the flow graph with
//! the paths highlighted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::{FORMAT, Hops, Path, Query};
use crate::check::Checked;
use crate::hir::{Cond, NodeKind, Program};

/// The answer to a query, as `--format json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub module: String,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub max_hops: usize,
    pub paths: Vec<PathReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PathReport {
    pub nodes: Vec<String>,
    /// Where the path exists: `true`, or a condition in the language's syntax.
    pub condition: String,
    /// A configuration where it exists (`cni = canal`); empty when it exists in every one.
    pub example: String,
    pub hops: Vec<HopReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HopReport {
    pub from: String,
    pub to: String,
    pub flows: Vec<HopFlow>,
}

/// A flow that can carry a hop.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HopFlow {
    pub protocol: &'static str,
    pub ports: Option<crate::diff::Ports>,
    pub description: Option<String>,
    /// The flow's condition in the configurations the site allows: `true`, or what remains.
    pub condition: String,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Origin {
    pub module: String,
    pub file: String,
    pub line: u32,
}

/// Describes the paths `find` returned for `query`.
pub fn report(checked: &Checked, query: &Query, paths: &[Path]) -> Report {
    let graph = checked.graph();
    let program = &graph.program;
    let names = program.node_names();
    let name = |n: &crate::hir::NodeId| names.get(n.index()).cloned().unwrap_or_default();
    let sorted = |ids: &[crate::hir::NodeId]| {
        let mut list: Vec<String> = ids.iter().map(name).collect();
        list.sort();
        list.dedup();
        list
    };
    Report {
        format: FORMAT,
        module: program.modules.first().map_or_else(String::new, |m| m.name.clone()),
        from: sorted(&query.from),
        to: sorted(&query.to),
        max_hops: query.max_hops,
        paths: paths.iter().map(|p| path_report(graph, &names, p)).collect(),
    }
}

fn path_report(graph: &crate::graph::FlowGraph, names: &[String], path: &Path) -> PathReport {
    let program = &graph.program;
    let name = |n: &crate::hir::NodeId| names.get(n.index()).cloned().unwrap_or_default();
    let hops = path
        .nodes
        .windows(2)
        .zip(&path.hops)
        .map(|(pair, edges)| {
            let (from, to) = match pair {
                [a, b] => (name(a), name(b)),
                _ => Default::default(),
            };
            let mut flows: Vec<HopFlow> = edges.iter().filter_map(|i| hop_flow(program, graph, *i)).collect();
            flows.sort();
            flows.dedup();
            HopReport { from, to, flows }
        })
        .collect();
    PathReport {
        nodes: path.nodes.iter().map(name).collect(),
        condition: path.condition.display(program),
        example: path.witness.display(program),
        hops,
    }
}

fn hop_flow(program: &Program, graph: &crate::graph::FlowGraph, index: usize) -> Option<HopFlow> {
    let edge = graph.edges.get(index)?;
    let flow = program.flows.get(edge.flow.index())?;
    let module = program.modules.get(flow.module.index());
    Some(HopFlow {
        protocol: edge.protocol.name(),
        ports: edge.ports.map(|(start, end)| crate::diff::Ports { start, end }),
        description: flow.description.clone(),
        condition: edge.open.display(program),
        origin: Origin {
            module: module.map_or_else(String::new, |m| m.name.clone()),
            file: module.map_or_else(String::new, |m| m.path.clone()),
            line: flow.line,
        },
    })
}

impl Report {
    pub fn json(&self) -> String {
        // Strings, numbers and vectors only: serde_json fails only on non-string map keys or a failing Serialize impl.
        let mut text = serde_json::to_string_pretty(self).expect("invariant: plain data serialises");
        text.push('\n');
        text
    }

    /// One block per path: its nodes, where it exists, and the flows of each hop.
    pub fn human(&self) -> String {
        let (from, to) = (self.from.join(" | "), self.to.join(" | "));
        let mut out = match self.paths.len() {
            0 => format!("no path from {from} to {to} in at most {} hops\n", self.max_hops),
            n => format!(
                "{n} path{} from {from} to {to} in at most {} hops, each role on the way taken over\n",
                if n == 1 { "" } else { "s" },
                self.max_hops
            ),
        };
        for (k, path) in self.paths.iter().enumerate() {
            let when = if path.example.is_empty() {
                "in every configuration".to_string()
            } else {
                format!("when {}, e.g. {}", path.condition, path.example)
            };
            let _ = write!(out, "\n{}. {}\n   exists {when}\n", k + 1, path.nodes.join(" -> "));
            for hop in &path.hops {
                let _ = writeln!(out, "   {} -> {}", hop.from, hop.to);
                for flow in &hop.flows {
                    let _ = writeln!(out, "      {}", flow_text(flow));
                }
            }
        }
        out
    }
}

fn flow_text(flow: &HopFlow) -> String {
    let mut text = match flow.ports {
        Some(p) if p.start == p.end => format!("{} {}", flow.protocol, p.start),
        Some(p) => format!("{} {}-{}", flow.protocol, p.start, p.end),
        None => flow.protocol.to_string(),
    };
    if let Some(d) = &flow.description {
        let _ = write!(text, " \"{d}\"");
    }
    let _ = write!(text, "  ({}:{})", flow.origin.module, flow.origin.line);
    if flow.condition != "true" {
        let _ = write!(text, " when {}", flow.condition);
    }
    text
}

/// The flow graph (hops between nodes) in DOT, with the starts, the ends and every hop of a path
/// highlighted and labelled with the ports it can use.
pub fn dot(checked: &Checked, query: &Query, paths: &[Path]) -> String {
    let graph = checked.graph();
    let program = &graph.program;
    let names = program.node_names();
    let mut solver = crate::check::logic::Solver::new(program);
    let hops = Hops::new(graph, &mut solver);
    let on_path: BTreeMap<(usize, usize), BTreeSet<usize>> = paths
        .iter()
        .flat_map(|p| p.nodes.windows(2).zip(&p.hops))
        .filter_map(|(pair, edges)| match pair {
            [a, b] => Some(((a.index(), b.index()), edges)),
            _ => None,
        })
        .fold(BTreeMap::new(), |mut map, (key, edges)| {
            map.entry(key).or_insert_with(BTreeSet::new).extend(edges.iter().copied());
            map
        });
    let visited: BTreeSet<usize> = paths.iter().flat_map(|p| p.nodes.iter().map(|n| n.index())).collect();
    let mut out = String::from("digraph paths {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n");
    out.push_str("  edge [color=gray70, fontcolor=gray40];\n");
    let mut nodes: Vec<(&str, usize)> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    nodes.sort();
    for (name, index) in nodes {
        let kind = program.nodes.get(index).map(|n| n.kind);
        let mut style =
            vec![if kind == Some(NodeKind::External) { "style=dashed" } else { "style=rounded" }.to_string()];
        if query.from.iter().any(|f| f.index() == index) {
            style = vec!["style=\"rounded,filled\"".into(), "fillcolor=\"#f4cccc\"".into(), "penwidth=2".into()];
        } else if query.to.iter().any(|t| t.index() == index) {
            style = vec!["style=\"rounded,filled\"".into(), "fillcolor=\"#fff2cc\"".into(), "penwidth=2".into()];
        } else if visited.contains(&index) {
            style = vec!["style=\"rounded,filled\"".into(), "fillcolor=\"#fce5cd\"".into()];
        }
        let _ = writeln!(out, "  {} [{}];", quote(name), style.join(", "));
    }
    let mut lines = Vec::new();
    for edge in hops.graph.edge_indices() {
        let Some((a, b)) = hops.graph.edge_endpoints(edge) else { continue };
        let (from, to) = (names.get(a.index()), names.get(b.index()));
        let (Some(from), Some(to)) = (from, to) else { continue };
        let attributes = match on_path.get(&(a.index(), b.index())) {
            Some(edges) => {
                let mut used: Vec<&crate::graph::Edge> = edges.iter().filter_map(|i| graph.edges.get(*i)).collect();
                used.sort_by_key(|e| (e.protocol, e.ports));
                let mut label: Vec<String> = used.into_iter().map(|e| port_label(program, e)).collect();
                label.dedup();
                format!(" [color=red, fontcolor=red, penwidth=2.5, label={}]", quote(&label.join("\\n")))
            }
            None => String::new(),
        };
        lines.push(format!("  {} -> {}{attributes};", quote(from), quote(to)));
    }
    lines.sort();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

fn port_label(program: &Program, edge: &crate::graph::Edge) -> String {
    let ports = match edge.ports {
        Some((s, e)) if s == e => format!("{} {s}", edge.protocol),
        Some((s, e)) => format!("{} {s}-{e}", edge.protocol),
        None => edge.protocol.to_string(),
    };
    if edge.open == Cond::Const(true) { ports } else { format!("{ports} (if {})", edge.open.display(program)) }
}

/// A DOT string literal; `\n` sequences made by the caller stay line breaks.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}
