//! The `dot` target: the flow graph as Graphviz, roles and externals in separate clusters,
//! one edge per pair of nodes labelled with its ports (sorted by number), so a reader can see
//! the policy, and the `never` invariants as red dotted edges. A node's self-loops are drawn on
//! two sides, node-local ones below and flows between the role's hosts above, so their labels do
//! not overlap.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::Lower;
use crate::check::Checked;
use crate::hir::NodeKind;

pub struct Dot;

const DESCRIPTION: super::Description = super::Description {
    name: "dot",
    about: "The flow graph as Graphviz DOT",
    per_host: false,
    settings: &[],
    extension: "dot",
    documents: false,
    site: false,
};

impl Lower for Dot {
    fn description(&self) -> &'static super::Description {
        &DESCRIPTION
    }

    fn lower(&self, policy: &Checked, _: &super::TargetOptions) -> super::Lowered {
        let graph = policy.graph();
        let program = &graph.program;
        let names = program.node_names();
        // (from, to, local) -> labels sorted by protocol and port number; local edges become
        // self-loops drawn dashed.
        let mut labels: BTreeMap<(&str, &str, bool), BTreeSet<Label>> = BTreeMap::new();
        for edge in graph.edges.iter().filter(|e| e.built()) {
            let (Some(from), Some(to)) = (names.get(edge.from.index()), names.get(edge.to.index())) else { continue };
            let condition = match &edge.residual {
                crate::hir::Cond::Const(true) => String::new(),
                other => format!(" (if {})", other.display(program)),
            };
            labels.entry((from, to, edge.local)).or_default().insert((edge.protocol, edge.ports, condition));
        }
        let mut forbidden: BTreeMap<(&str, &str), BTreeSet<Label>> = BTreeMap::new();
        for edge in &graph.nevers {
            let (Some(from), Some(to)) = (names.get(edge.from.index()), names.get(edge.to.index())) else { continue };
            forbidden.entry((from, to)).or_default().insert((edge.protocol, edge.ports, String::new()));
        }
        let mut out = String::from("digraph policy {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n");
        let mut nodes: Vec<(&str, NodeKind)> =
            program.nodes.iter().zip(&names).map(|(n, name)| (name.as_str(), n.kind)).collect();
        nodes.sort();
        for (cluster, kind, style) in
            [("roles", NodeKind::Role, "style=rounded"), ("externals", NodeKind::External, "style=dashed")]
        {
            let _ = writeln!(out, "  subgraph cluster_{cluster} {{\n    label=\"{cluster}\";\n    node [{style}];");
            for (name, _) in nodes.iter().filter(|(_, k)| *k == kind) {
                let _ = writeln!(out, "    {};", quote(name));
            }
            out.push_str("  }\n");
        }
        for ((from, to, local), list) in labels {
            let style = if local { ", style=dashed" } else { "" };
            // Two loops on one node: node-local below, between the role's hosts above.
            let ports = match (from == to, local) {
                (true, true) => ", tailport=s, headport=s",
                (true, false) => ", tailport=n, headport=n",
                _ => "",
            };
            let _ =
                writeln!(out, "  {} -> {} [label={}{style}{ports}];", quote(from), quote(to), quote(&text(&list, "")));
        }
        for ((from, to), list) in forbidden {
            let _ = writeln!(
                out,
                "  {} -> {} [label={}, color=red, fontcolor=red, style=dotted, constraint=false];",
                quote(from),
                quote(to),
                quote(&text(&list, "never "))
            );
        }
        out.push_str("}\n");
        Ok((super::Document::whole(out), Vec::new()))
    }
}

/// One edge label: protocol, port range and the condition left in this build.
type Label = (crate::protocol::Protocol, Option<(u16, u16)>, String);

/// The labels of an edge, one per line, `tcp 179` before `tcp 10250`.
fn text(labels: &BTreeSet<Label>, prefix: &str) -> String {
    let lines: Vec<String> = labels
        .iter()
        .map(|(protocol, ports, condition)| match ports {
            Some((s, e)) if s == e => format!("{prefix}{protocol} {s}{condition}"),
            Some((s, e)) => format!("{prefix}{protocol} {s}-{e}{condition}"),
            None => format!("{prefix}{protocol}{condition}"),
        })
        .collect();
    lines.join("\\n")
}

/// A DOT string literal; `\n` sequences made by the caller stay line breaks.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}
