//! The `dot` target: the flow graph as Graphviz, roles and externals in separate clusters,
//! one edge per pair of nodes labelled with its ports, so a reader can see the policy.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Lower;
use crate::check::Checked;
use crate::hir::NodeKind;

pub struct Dot;

impl Lower for Dot {
    fn lower(&self, policy: &Checked, _: &super::TargetOptions) -> super::Lowered {
        let graph = policy.graph();
        let program = &graph.program;
        let names = program.node_names();
        // (from, to) -> sorted labels; local edges become self-loops drawn dashed.
        let mut labels: BTreeMap<(&str, &str, bool), Vec<String>> = BTreeMap::new();
        for edge in graph.edges.iter().filter(|e| e.built()) {
            let (Some(from), Some(to)) = (names.get(edge.from.index()), names.get(edge.to.index())) else { continue };
            let mut label = match edge.ports {
                Some((s, e)) if s == e => format!("{} {s}", edge.protocol),
                Some((s, e)) => format!("{} {s}-{e}", edge.protocol),
                None => edge.protocol.to_string(),
            };
            if !matches!(edge.residual, crate::hir::Cond::Const(true)) {
                label.push_str(" (if ");
                label.push_str(&edge.residual.display(program));
                label.push(')');
            }
            labels.entry((from, to, edge.local)).or_default().push(label);
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
        for ((from, to, local), mut list) in labels {
            list.sort();
            list.dedup();
            let style = if local { ", style=dashed" } else { "" };
            let _ = writeln!(out, "  {} -> {} [label={}{style}];", quote(from), quote(to), quote(&list.join("\\n")));
        }
        out.push_str("}\n");
        Ok((super::Document::whole(out), Vec::new()))
    }
}

/// A DOT string literal; `\n` sequences made by the caller stay line breaks.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}
