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
struct RowKey<'r> {
    ports: Option<(u16, u16)>,
    description: &'r str,
    notes: &'r [&'r str],
    condition: Option<&'r str>,
    local: bool,
}

/// What the rows of one flow's edges say of the flow, found once per flow, not per edge.
struct FlowRow<'p> {
    description: &'p str,
    /// Note labels, numerically ordered.
    notes: Vec<&'p str>,
    condition: Option<String>,
    /// What a matrix item adds after port and protocol: ` (3)(4) [if x]`.
    matrix_suffix: String,
}

const DESCRIPTION: super::Description = super::Description {
    name: "markdown",
    about: "Vendor-style tables: the From/To matrix, rules per role, notes, invariants",
    per_host: false,
    settings: &[],
    extension: "md",
    documents: false,
    site: false,
};

impl Lower for Markdown {
    fn description(&self) -> &'static super::Description {
        &DESCRIPTION
    }

    fn lower(&self, policy: &Checked, _: &super::TargetOptions) -> super::Lowered {
        let graph = policy.graph();
        let program = &graph.program;
        let names = program.node_names();
        let edges: Vec<&Edge> = graph.edges.iter().filter(|e| e.open != Cond::Const(false)).collect();
        let rows: Vec<FlowRow<'_>> = program.flows.iter().map(|f| flow_row(program, f)).collect();
        let mut out = String::new();
        header(program, &mut out);
        matrix(&rows, &names, &edges, &mut out);
        rules(program, &rows, &names, &edges, &mut out);
        notes(program, &edges, &mut out);
        never(program, &names, &graph.nevers, &mut out);
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
fn matrix(rows: &[FlowRow<'_>], names: &[String], edges: &[&Edge], out: &mut String) {
    // Items sort by port, then protocol, then text: `179 TCP` before `10250 TCP`.
    // Nodes by name; a node's rank in that order stands for its name, which is unique, so cells
    // sort as their names do while comparing numbers.
    let mut by_name: Vec<&str> = names.iter().map(String::as_str).collect();
    by_name.sort_unstable();
    let rank = |node: usize| names.get(node).and_then(|n| by_name.binary_search(&n.as_str()).ok());
    let ranks: Vec<Option<usize>> = (0..names.len()).map(rank).collect();
    let mut cells: BTreeMap<(usize, usize), BTreeSet<MatrixItem>> = BTreeMap::new();
    for edge in edges {
        let (Some(&Some(from)), Some(&Some(to))) = (ranks.get(edge.from.index()), ranks.get(edge.to.index())) else {
            continue;
        };
        let mut item = format!("{} {}", ports_text(edge.ports), edge.protocol.name().to_uppercase());
        if let Some(row) = rows.get(edge.flow.index()) {
            item.push_str(&row.matrix_suffix);
        }
        if edge.local {
            item.push_str(" local");
        }
        cells.entry((from, to)).or_default().insert((edge.ports, edge.protocol.name(), item.trim().to_string()));
    }
    let sources: BTreeSet<usize> = cells.keys().map(|(f, _)| *f).collect();
    let targets: BTreeSet<usize> = cells.keys().map(|(_, t)| *t).collect();
    if sources.is_empty() {
        return;
    }
    let name = |rank: &usize| by_name.get(*rank).copied().unwrap_or_default();
    out.push_str("\n## From / To\n\n| From \\ To |");
    for target in &targets {
        let _ = write!(out, " {} |", cell(name(target)));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(targets.len()));
    out.push('\n');
    // The cells are in (source, target) order: walk them alongside the rows and columns, instead
    // of looking each of the rows × columns cells up.
    let mut filled = cells.iter().peekable();
    for source in &sources {
        let _ = write!(out, "| {} |", cell(name(source)));
        for target in &targets {
            match filled.next_if(|((s, t), _)| s == source && t == target) {
                Some((_, items)) => {
                    let items: Vec<String> = items.iter().map(|(_, _, i)| cell(i)).collect();
                    let _ = write!(out, " {} |", items.join("<br>"));
                }
                None => out.push_str("  |"),
            }
        }
        out.push('\n');
    }
}

/// Inbound and outbound rules for every role that has any.
fn rules(program: &Program, rows: &[FlowRow<'_>], names: &[String], edges: &[&Edge], out: &mut String) {
    // Each node's edges in, and its edges out to other nodes, in edge order.
    let mut inbound: Vec<Vec<&Edge>> = vec![Vec::new(); program.nodes.len()];
    let mut outbound: Vec<Vec<&Edge>> = vec![Vec::new(); program.nodes.len()];
    for &edge in edges {
        if let Some(list) = inbound.get_mut(edge.to.index()) {
            list.push(edge);
        }
        if let Some(list) = outbound.get_mut(edge.from.index()).filter(|_| !edge.local) {
            list.push(edge);
        }
    }
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
        let (Some(inbound), Some(outbound)) = (inbound.get(index), outbound.get(index)) else { continue };
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
        table(rows, names, "Inbound", "Source", inbound, |e| e.from.index(), out);
        table(rows, names, "Outbound", "Destination", outbound, |e| e.to.index(), out);
    }
}

fn table(
    rows: &[FlowRow<'_>],
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
    let mut by_protocol: BTreeMap<(RowKey<'_>, &'static str), BTreeSet<&str>> = BTreeMap::new();
    for edge in edges {
        let Some(row) = rows.get(edge.flow.index()) else { continue };
        let name = names.get(peer(edge)).map_or("", String::as_str);
        let name = if edge.local { "self (local)" } else { name };
        by_protocol.entry((row_key(row, edge), edge.protocol.name())).or_default().insert(name);
    }
    let mut merged: BTreeMap<(RowKey<'_>, Vec<&str>), BTreeSet<&'static str>> = BTreeMap::new();
    for ((key, protocol), peers) in by_protocol {
        merged.entry((key, peers.into_iter().collect())).or_default().insert(protocol);
    }
    let mut sorted: Vec<_> = merged.into_iter().collect();
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
            cell(key.description),
            key.notes.join(", "),
            cell(key.condition.unwrap_or("")),
        );
    }
}

fn row_key<'r>(row: &'r FlowRow<'_>, edge: &Edge) -> RowKey<'r> {
    RowKey {
        ports: edge.ports,
        description: row.description,
        notes: &row.notes,
        condition: row.condition.as_deref(),
        local: edge.local,
    }
}

fn flow_row<'p>(program: &'p Program, flow: &'p crate::hir::Flow) -> FlowRow<'p> {
    // The labels of the notes the flow references, numerically ordered.
    let mut notes: Vec<&str> =
        flow.notes.iter().filter_map(|n| program.notes.get(n.index())).map(|n| n.label.as_str()).collect();
    notes.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    let condition = match flow.when.simplify(&program.explicit) {
        Cond::Const(_) => None,
        open => Some(open.display(program)),
    };
    let mut matrix_suffix = String::new();
    if !notes.is_empty() {
        let _ = write!(matrix_suffix, " ({})", notes.join(")("));
    }
    if let Some(condition) = &condition {
        let _ = write!(matrix_suffix, " [if {condition}]");
    }
    FlowRow { description: flow.description.as_deref().unwrap_or_default(), notes, condition, matrix_suffix }
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

/// The `never` invariants: what the tables above must never allow, one row per spec.
fn never(program: &Program, names: &[String], edges: &[Edge], out: &mut String) {
    // Per invariant spec: its ends and what it forbids, each sorted.
    type Row = (BTreeSet<String>, BTreeSet<String>, BTreeSet<(crate::protocol::Protocol, Option<(u16, u16)>)>);
    let mut rows: BTreeMap<usize, Row> = BTreeMap::new();
    for edge in edges {
        let row = rows.entry(edge.flow.index()).or_default();
        row.0.insert(super::node_name(names, edge.from).to_string());
        row.1.insert(super::node_name(names, edge.to).to_string());
        row.2.insert((edge.protocol, edge.ports));
    }
    if rows.is_empty() {
        return;
    }
    let mut lines: Vec<String> = Vec::new();
    for (flow, (from, to, traffic)) in rows {
        let Some(never) = program.nevers.get(flow) else { continue };
        let module = program.modules.get(never.module.index()).map_or("?", |m| m.name.as_str());
        let forbidden: Vec<String> = traffic
            .iter()
            .map(|(p, ports)| {
                let ports = ports_text(*ports);
                if ports.is_empty() { p.name().to_uppercase() } else { format!("{ports} {}", p.name().to_uppercase()) }
            })
            .collect();
        let join = |set: BTreeSet<String>| set.into_iter().collect::<Vec<_>>().join(", ");
        let condition = match &never.when {
            Cond::Const(true) => String::new(),
            when => format!(" (when {})", when.display(program)),
        };
        lines.push(format!(
            "| {} | {} | {} | {}{} | {module}:{} |",
            cell(&join(from)),
            cell(&join(to)),
            forbidden.join(", "),
            cell(never.description.as_deref().unwrap_or_default()),
            cell(&condition),
            never.line
        ));
    }
    lines.sort();
    lines.dedup();
    out.push_str("\n## Never\n\nTraffic that no configuration may allow; `portc check` proves it (E0202).\n\n");
    out.push_str("| From | To | Forbidden | Why | Origin |\n|---|---|---|---|---|\n");
    for line in lines {
        out.push_str(&line);
        out.push('\n');
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
    // Most cells need no escape: one scan instead of three copies.
    if !text.contains(['\\', '|', '\n']) {
        return text.to_string();
    }
    text.replace('\\', "\\\\").replace('|', "\\|").replace('\n', " ")
}
