//! A flow under the cursor: the concrete edges it expands to with their conditions, and what the
//! targets build from it, read from the real output: the nftables elements and rules of each
//! destination host, and the NetworkPolicy rules of each destination pod role.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyIngressRule};

use super::hover::{place, statement_text};
use crate::analysis::Analysis;
use crate::ast::{self, SelectorKind};
use crate::check::ROOT;
use crate::graph::Edge;
use crate::hir::{Cond, NodeId, NodeKind, Program};
use crate::lower::{self, Target, TargetOptions};

/// At most this many edges are listed, and this many hosts previewed.
const MAX_EDGES: usize = 24;
const MAX_HOSTS: usize = 4;

/// The hover text of a flow statement (or `never`); at `offset` inside one of its specs, of that
/// spec alone.
pub fn flow(analysis: &Analysis, flow: &ast::Flow, never: bool, offset: u32) -> String {
    let graph = analysis.checked.graph();
    let program = &graph.program;
    let (flows, all_edges) = if never { (&program.nevers, &graph.nevers) } else { (&program.flows, &graph.edges) };
    let spec = flow.specs.iter().find(|s| s.span.start <= offset && offset <= s.span.end).map(|s| s.span);
    let within = |span: crate::span::Span| match spec {
        Some(spec) => span == spec,
        None => flow.span.start <= span.start && span.end <= flow.span.end,
    };
    let ids: BTreeSet<usize> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.module == ROOT && f.span.file == flow.span.file && within(f.span))
        .map(|(i, _)| i)
        .collect();
    let edges: Vec<&Edge> = all_edges.iter().filter(|e| ids.contains(&e.flow.index())).collect();
    let kind = if never { "never" } else { "flow" };
    let mut out = format!("**{kind}** `{}`\n\n", statement_text(analysis, flow));
    for id in &ids {
        let Some(f) = flows.get(*id) else { continue };
        let first = edges.iter().find(|e| e.flow.index() == *id);
        out.push_str(&spec_line(analysis, program, f, first.copied()));
    }
    out.push_str(&edge_table(program, &edges));
    if never {
        return out;
    }
    if analysis.has_errors() {
        out.push_str("\nNot compiled: the program has errors.\n");
        return out;
    }
    out.push_str(&compiled(analysis, &edges));
    out
}

/// One spec: `tcp 2379-2380` "etcd", its condition and what this file's settings make of it.
fn spec_line(analysis: &Analysis, program: &Program, flow: &crate::hir::Flow, edge: Option<&Edge>) -> String {
    let written = super::lookup::slice(analysis, flow.span);
    let mut out = format!("- `{written}`");
    // The description the spec inherits from its block or service, when it does not say its own.
    if let Some(d) = flow.description.as_ref().filter(|d| !written.contains(&format!("\"{d}\""))) {
        out.push_str(&format!(" \"{d}\""));
    }
    out.push_str(&format!(" ({})", place(analysis, flow.span)));
    let Some(edge) = edge else {
        out.push_str(": expands to no edge\n");
        return out;
    };
    if edge.condition != Cond::Const(true) {
        out.push_str(&format!("; condition `{}`", edge.condition.display(program)));
    }
    for note in flow.notes.iter().filter_map(|n| program.notes.get(n.index())) {
        out.push_str(&format!("; note [{}]: {}", note.label, note.text));
    }
    out.push_str(&format!("; here: {}\n", verdict(program, &edge.residual)));
    out
}

fn verdict(program: &Program, residual: &Cond) -> String {
    match residual {
        Cond::Const(true) => "built".to_string(),
        Cond::Const(false) => "left out by the settings".to_string(),
        open => format!("undecided, `{}`", open.display(program)),
    }
}

fn edge_table(program: &Program, edges: &[&Edge]) -> String {
    if edges.is_empty() {
        return String::new();
    }
    let names = program.node_names();
    let name = |n: NodeId| names.get(n.index()).map_or("?", String::as_str);
    let mut out = format!("\nExpands to {} edge{}:\n\n", edges.len(), if edges.len() == 1 { "" } else { "s" });
    out.push_str("| from | to | protocol | ports | here |\n|---|---|---|---|---|\n");
    for edge in edges.iter().take(MAX_EDGES) {
        let ports = match edge.ports {
            Some((s, e)) if s == e => s.to_string(),
            Some((s, e)) => format!("{s}-{e}"),
            None => String::new(),
        };
        let to = if edge.local { format!("{} (local)", name(edge.to)) } else { name(edge.to).to_string() };
        let here = verdict(program, &edge.residual);
        out.push_str(&format!("| {} | {to} | {} | {ports} | {here} |\n", name(edge.from), edge.protocol));
    }
    if edges.len() > MAX_EDGES {
        out.push_str(&format!("\n… and {} more.\n", edges.len() - MAX_EDGES));
    }
    out
}

/// What the targets build from the edges: nftables for each destination host, NetworkPolicy
/// rules for each destination pod role.
fn compiled(analysis: &Analysis, edges: &[&Edge]) -> String {
    let program = analysis.program();
    let built: Vec<&Edge> = edges.iter().copied().filter(|e| e.built()).collect();
    let destinations: BTreeSet<NodeId> = built.iter().map(|e| e.to).collect();
    let mut out = String::new();
    let mut hosts = 0;
    for to in destinations {
        let Some(node) = program.nodes.get(to.index()) else { continue };
        let pods = node.selector.as_ref().is_some_and(|s| s.kind == SelectorKind::Pods);
        if node.kind != NodeKind::Role || hosts == MAX_HOSTS {
            continue;
        }
        hosts += 1;
        let mine: Vec<&Edge> = built.iter().copied().filter(|e| e.to == to).collect();
        out.push_str(&if pods {
            networkpolicy(analysis, &node.name, &mine)
        } else {
            nftables(analysis, to, &node.name, &mine)
        });
    }
    out
}

fn nftables(analysis: &Analysis, host: NodeId, name: &str, edges: &[&Edge]) -> String {
    let options = TargetOptions { roles: vec![host], ..TargetOptions::default() };
    let header = format!("\n**nftables** on a `{name}` host (`--target nftables --role {name}`):\n\n");
    let text = match lower::lowerer(Target::Nftables).lower(&analysis.checked, &options) {
        Ok((documents, _)) => documents.into_iter().map(|d| d.text).collect::<String>(),
        Err(errors) => return header + &not_built(&errors),
    };
    let names = analysis.program().node_names();
    let mut lines = BTreeSet::new();
    for edge in edges {
        let peer = lower::nft_ident(names.get(edge.from.index()).map_or("", String::as_str));
        lines.extend(nft_lines(&text, edge, &peer));
    }
    if lines.is_empty() {
        return header + "nothing of its own: traffic the host accepts anyway.\n";
    }
    let body: Vec<&str> = lines.iter().map(|(_, line)| line.as_str()).collect();
    header + &format!("```nft\n{}\n```\n", body.join("\n"))
}

/// The lines of a ruleset that an edge puts there, by line number: the element of its peer's
/// port set and the rule that reads the set, or the rule of a protocol without ports.
fn nft_lines(text: &str, edge: &Edge, peer: &str) -> Vec<(usize, String)> {
    let set = if edge.local { "in_local".to_string() } else { format!("in_{peer}") };
    let mut out = Vec::new();
    let mut current: Option<&str> = None;
    let mut named = false;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("set ").and_then(|r| r.strip_suffix(" {")) {
            current = Some(name);
            continue;
        }
        let wanted = match edge.ports {
            Some((start, end)) if current == Some(set.as_str()) => element_covers(trimmed, edge, start, end),
            Some(_) => trimmed.contains(&format!("@{set} ")) && !trimmed.starts_with("set "),
            None if edge.local => trimmed.contains(&format!("type local meta l4proto {} ", edge.protocol)),
            None => {
                trimmed.contains(&format!("@peer_{peer}_v")) && trimmed.contains(&format!("l4proto {} ", edge.protocol))
            }
        };
        if wanted && edge.ports.is_some() && current.is_some() && !named {
            // The first element: say which set it belongs to.
            out.push((number, format!("# in set {}", current.unwrap_or_default())));
            named = true;
        }
        if wanted {
            out.push((number, line.trim().to_string()));
        }
        if trimmed.starts_with("chain ") {
            current = None;
        }
    }
    out
}

/// Whether an element line `tcp . 2379-2380 comment "..."` covers the edge's ports.
fn element_covers(line: &str, edge: &Edge, start: u16, end: u16) -> bool {
    let Some((protocol, rest)) = line.split_once(" . ") else { return false };
    let range = rest.split([' ', ',']).next().unwrap_or_default();
    let (low, high) = range.split_once('-').unwrap_or((range, range));
    let (Ok(low), Ok(high)) = (low.parse::<u16>(), high.parse::<u16>()) else { return false };
    protocol == edge.protocol.name() && low <= start && end <= high
}

fn networkpolicy(analysis: &Analysis, name: &str, edges: &[&Edge]) -> String {
    let header = format!("\n**NetworkPolicy** of the `{name}` pods (`--target networkpolicy`):\n\n");
    let documents = match lower::lowerer(Target::NetworkPolicy).lower(&analysis.checked, &TargetOptions::default()) {
        Ok((documents, _)) => documents,
        Err(errors) => return header + &not_built(&errors),
    };
    let role = format!("{name}:");
    let policy = documents.iter().filter_map(|d| serde_saphyr::from_str::<NetworkPolicy>(&d.text).ok()).find(|p| {
        let annotations = p.metadata.annotations.as_ref();
        annotations.and_then(|a| a.get("portc/role")).is_some_and(|r| r.starts_with(&role))
    });
    let Some(policy) = policy else { return header + "no policy for this role.\n" };
    let rules: Vec<&NetworkPolicyIngressRule> = policy
        .spec
        .as_ref()
        .and_then(|s| s.ingress.as_ref())
        .map(|rules| rules.iter().filter(|r| edges.iter().any(|e| rule_covers(r, e))).collect())
        .unwrap_or_default();
    let name = policy.metadata.name.clone().unwrap_or_default();
    let yaml: String = rules.iter().filter_map(|r| serde_saphyr::to_string(&vec![*r]).ok()).collect();
    header + &format!("`{name}`, ingress:\n\n```yaml\n{}```\n", yaml)
}

/// Whether an ingress rule opens the edge's protocol and ports.
fn rule_covers(rule: &NetworkPolicyIngressRule, edge: &Edge) -> bool {
    let Some((start, end)) = edge.ports else { return false };
    let protocol = edge.protocol.name().to_uppercase();
    rule.ports.iter().flatten().any(|p| {
        let number = match &p.port {
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => *n,
            _ => return false,
        };
        let high = p.end_port.unwrap_or(number);
        p.protocol.as_deref().unwrap_or("TCP") == protocol && number <= i32::from(start) && i32::from(end) <= high
    })
}

fn not_built(errors: &[crate::diag::Diagnostic]) -> String {
    let lines: Vec<String> = errors.iter().take(3).map(|d| format!("- {} {}", d.code.as_str(), d.message)).collect();
    format!("not built:\n\n{}\n", lines.join("\n"))
}
