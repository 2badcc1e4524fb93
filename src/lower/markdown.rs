//! The `markdown` target: vendor-style tables regenerated from the policy: the From/To matrix,
//! inbound and outbound rules per role, and the notes. It documents what the site's explicit
//! settings still allow (every row of a vendor table when nothing is set), each row with its
//! footnotes and condition, so a reader can hold it next to the vendor page.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::Lower;
use crate::check::Checked;
use crate::graph::Edge;
use crate::hir::{Cond, NodeKind, Program};

pub struct Markdown;

/// One table row before it is written: everything but the peers and protocols, which merge.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    ports: Option<(u16, u16)>,
    description: String,
    notes: Vec<String>,
    condition: Option<String>,
    local: bool,
}

impl Lower for Markdown {
    fn lower(&self, policy: &Checked, _: &super::TargetOptions) -> super::Lowered {
        let graph = policy.graph();
        let program = &graph.program;
        let names = program.node_names();
        let edges: Vec<&Edge> = graph.edges.iter().filter(|e| e.open != Cond::Const(false)).collect();
        let mut out = String::new();
        header(program, &mut out);
        matrix(program, &names, &edges, &mut out);
        rules(program, &names, &edges, &mut out);
        notes(program, &edges, &mut out);
        Ok((super::Document::whole(out), Vec::new()))
    }
}

fn header(program: &Program, out: &mut String) {
    let root = program.modules.first();
    let title = root.and_then(|m| m.title.clone()).unwrap_or_else(|| root.map_or(String::new(), |m| m.name.clone()));
    let _ = writeln!(out, "# {}\n", cell(&title));
    for module in &program.modules {
        if let Some(source) = &module.source {
            let _ = writeln!(out, "- `{}`: {}", module.name, cell(source));
        }
    }
    let settings = explicit_settings(program);
    if settings.is_empty() {
        out.push_str("\nEvery row is shown; rows that depend on a setting name it in their notes or condition.\n");
    } else {
        let _ = writeln!(out, "\nShown for {}; rows these settings rule out are left out.", settings.join(", "));
    }
}

/// `external_lb = true`, for every flag and option a file or the command line set.
fn explicit_settings(program: &Program) -> Vec<String> {
    let (flag_names, option_names) = (program.flag_names(), program.option_names());
    let mut out: Vec<String> = Vec::new();
    for (i, value) in program.explicit.flags.iter().enumerate() {
        if let (Some(value), Some(name)) = (value, flag_names.get(i)) {
            out.push(format!("`{name} = {value}`"));
        }
    }
    for (i, value) in program.explicit.options.iter().enumerate() {
        let choice = value.and_then(|v| program.options.get(i).and_then(|o| o.choices.get(v as usize)));
        if let (Some(choice), Some(name)) = (choice, option_names.get(i)) {
            out.push(format!("`{name} = {choice}`"));
        }
    }
    out.sort();
    out
}

/// A matrix item with its sort key: ports, then protocol, then the text.
type MatrixItem = (Option<(u16, u16)>, &'static str, String);

/// The From/To matrix: one row per sending node, one column per receiving node.
fn matrix(program: &Program, names: &[String], edges: &[&Edge], out: &mut String) {
    // Items sort by port, then protocol, then text: `179 TCP` before `10250 TCP`.
    let mut cells: BTreeMap<(&str, &str), BTreeSet<MatrixItem>> = BTreeMap::new();
    for edge in edges {
        let (Some(from), Some(to)) = (names.get(edge.from.index()), names.get(edge.to.index())) else { continue };
        let mut item = format!("{} {}", ports_text(edge.ports), edge.protocol.name().to_uppercase());
        let labels = note_labels(program, edge);
        if !labels.is_empty() {
            let _ = write!(item, " ({})", labels.join(")("));
        }
        if let Some(condition) = row_key(program, edge).condition {
            let _ = write!(item, " [if {condition}]");
        }
        if edge.local {
            item.push_str(" local");
        }
        let key = (from.as_str(), to.as_str());
        cells.entry(key).or_default().insert((edge.ports, edge.protocol.name(), item.trim().to_string()));
    }
    let sources: BTreeSet<&str> = cells.keys().map(|(f, _)| *f).collect();
    let targets: BTreeSet<&str> = cells.keys().map(|(_, t)| *t).collect();
    if sources.is_empty() {
        return;
    }
    out.push_str("\n## From / To\n\n| From \\ To |");
    for target in &targets {
        let _ = write!(out, " {} |", cell(target));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(targets.len()));
    out.push('\n');
    for source in &sources {
        let _ = write!(out, "| {} |", cell(source));
        for target in &targets {
            let items: Vec<String> =
                cells.get(&(*source, *target)).into_iter().flatten().map(|(_, _, i)| cell(i)).collect();
            let _ = write!(out, " {} |", items.join("<br>"));
        }
        out.push('\n');
    }
}

/// Inbound and outbound rules for every role that has any.
fn rules(program: &Program, names: &[String], edges: &[&Edge], out: &mut String) {
    let mut roles: Vec<(&str, usize)> = program
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == NodeKind::Role)
        .filter_map(|(i, _)| names.get(i).map(|n| (n.as_str(), i)))
        .collect();
    roles.sort();
    let mut wrote_heading = false;
    for (name, index) in roles {
        let inbound: Vec<&Edge> = edges.iter().copied().filter(|e| e.to.index() == index).collect();
        let outbound: Vec<&Edge> = edges.iter().copied().filter(|e| e.from.index() == index && !e.local).collect();
        if inbound.is_empty() && outbound.is_empty() {
            continue;
        }
        if !wrote_heading {
            out.push_str("\n## Rules per role\n");
            wrote_heading = true;
        }
        let description = program.nodes.get(index).and_then(|n| n.description.clone());
        let _ = writeln!(out, "\n### {}", cell(name));
        if let Some(description) = description {
            let _ = writeln!(out, "\n{}", cell(&description));
        }
        table(program, names, "Inbound", "Source", &inbound, |e| e.from.index(), out);
        table(program, names, "Outbound", "Destination", &outbound, |e| e.to.index(), out);
    }
}

fn table(
    program: &Program,
    names: &[String],
    title: &str,
    peer_heading: &str,
    edges: &[&Edge],
    peer: impl Fn(&Edge) -> usize,
    out: &mut String,
) {
    if edges.is_empty() {
        return;
    }
    // First merge the peers of rows that agree on everything else, then the protocols.
    let mut by_protocol: BTreeMap<(RowKey, &'static str), BTreeSet<String>> = BTreeMap::new();
    for edge in edges {
        let name = names.get(peer(edge)).cloned().unwrap_or_default();
        let name = if edge.local { "self (local)".to_string() } else { name };
        by_protocol.entry((row_key(program, edge), edge.protocol.name())).or_default().insert(name);
    }
    let mut rows: BTreeMap<(RowKey, Vec<String>), BTreeSet<&'static str>> = BTreeMap::new();
    for ((key, protocol), peers) in by_protocol {
        rows.entry((key, peers.into_iter().collect())).or_default().insert(protocol);
    }
    let mut sorted: Vec<_> = rows.into_iter().collect();
    sorted.sort_by(|((a, pa), xa), ((b, pb), xb)| (a.ports, xa, pa, a).cmp(&(b.ports, xb, pb, b)));
    let _ = writeln!(out, "\n**{title}**\n\n| Protocol | Port | {peer_heading} | Description | Notes | Condition |");
    out.push_str("|---|---|---|---|---|---|\n");
    for ((key, peers), protocols) in sorted {
        let protocols: Vec<String> = protocols.iter().map(|p| p.to_uppercase()).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            protocols.join("/"),
            ports_text(key.ports),
            cell(&peers.join(", ")),
            cell(&key.description),
            key.notes.join(", "),
            cell(key.condition.as_deref().unwrap_or("")),
        );
    }
}

fn row_key(program: &Program, edge: &Edge) -> RowKey {
    let flow = program.flows.get(edge.flow.index());
    RowKey {
        ports: edge.ports,
        description: flow.and_then(|f| f.description.clone()).unwrap_or_default(),
        notes: note_labels(program, edge),
        condition: flow.and_then(|f| match f.when.simplify(&program.explicit) {
            Cond::Const(_) => None,
            open => Some(open.display(program)),
        }),
        local: edge.local,
    }
}

/// The labels of the notes a flow references, numerically ordered.
fn note_labels(program: &Program, edge: &Edge) -> Vec<String> {
    let mut labels: Vec<String> = program
        .flows
        .get(edge.flow.index())
        .map(|f| f.notes.iter().filter_map(|n| program.notes.get(n.index())).map(|n| n.label.clone()).collect())
        .unwrap_or_default();
    labels.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    labels
}

/// The notes the shown rows reference, with their text and condition.
fn notes(program: &Program, edges: &[&Edge], out: &mut String) {
    let used: BTreeSet<usize> = edges
        .iter()
        .filter_map(|e| program.flows.get(e.flow.index()))
        .flat_map(|f| f.notes.iter().map(|n| n.index()))
        .collect();
    let mut listed: Vec<(&str, &str, String)> = used
        .iter()
        .filter_map(|&i| program.notes.get(i))
        .map(|n| {
            let mut applies = match &n.when {
                Cond::Const(true) => String::new(),
                when => format!("when {}", when.display(program)),
            };
            if n.local {
                applies = if applies.is_empty() { "local traffic".into() } else { format!("{applies}; local traffic") };
            }
            (n.label.as_str(), n.text.as_str(), applies)
        })
        .collect();
    if listed.is_empty() {
        return;
    }
    listed.sort_by(|a, b| (a.0.len(), a.0, a.1).cmp(&(b.0.len(), b.0, b.1)));
    listed.dedup();
    out.push_str("\n## Notes\n\n| Note | Text | Applies |\n|---|---|---|\n");
    for (label, text, applies) in listed {
        let _ = writeln!(out, "| ({label}) | {} | {} |", cell(text), cell(&applies));
    }
}

fn ports_text(ports: Option<(u16, u16)>) -> String {
    match ports {
        Some((s, e)) if s == e => s.to_string(),
        Some((s, e)) => format!("{s}-{e}"),
        None => String::new(),
    }
}

/// Text safe inside a GFM table cell.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace('\n', " ")
}
