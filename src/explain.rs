//! `portc explain`: why traffic from one role to another is or is not allowed, from a checked
//! graph: every flow that allows it with its condition, notes and origin, the `never`
//! invariants that forbid it, and for denied traffic the flows that almost match.

use serde::Serialize;

use crate::check::Checked;
use crate::graph::Edge;
use crate::hir::{Cond, NodeId, Program};
use crate::protocol::Protocol;

/// What to explain: traffic between two sets of nodes, optionally one protocol and port.
#[derive(Clone, Debug)]
pub struct Query {
    pub from: Vec<NodeId>,
    pub to: Vec<NodeId>,
    pub protocol: Option<Protocol>,
    pub port: Option<u16>,
}

/// How the build treats the traffic asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// A flow allows it in the build's configuration.
    Allowed,
    /// Flows allow it only as node-local traffic (`self`, `local`): from a host to itself.
    Local,
    /// A flow allows it only under flags or options the build leaves undecided.
    Conditional,
    /// No flow allows it in the build's configuration.
    Denied,
}

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    /// Flows that match the query, the allowing ones first.
    pub flows: Vec<Entry>,
    /// `never` invariants that match the query.
    pub never: Vec<Entry>,
    /// When nothing matches: the flows between the same nodes, or to the same port, closest first.
    pub nearest: Vec<Entry>,
}

/// One edge as a reader needs it.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub from: String,
    pub to: String,
    pub protocol: &'static str,
    pub ports: Option<Ports>,
    pub description: Option<String>,
    /// Node-local: the flow allows traffic from a host to itself only.
    pub local: bool,
    pub notes: Vec<String>,
    /// The flow's condition (its `when` and its notes'), or null.
    pub condition: Option<String>,
    /// What the build's configuration leaves of it: "true", "false", or the open part.
    pub in_this_build: String,
    /// The build's values of the flags and options the condition mentions, `external_lb = true`.
    pub settings: Vec<String>,
    pub origin: String,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Ports {
    pub start: u16,
    pub end: u16,
}

/// Explains a query against a checked program.
pub fn explain(checked: &Checked, query: &Query) -> Explanation {
    let graph = checked.graph();
    let program = &graph.program;
    let names = program.node_names();
    let between = |e: &Edge| query.from.contains(&e.from) && query.to.contains(&e.to);
    let matches = |e: &Edge| {
        query.protocol.is_none_or(|p| p == e.protocol)
            && query.port.is_none_or(|port| e.ports.is_some_and(|(s, end)| s <= port && port <= end))
    };
    let mut flows: Vec<&Edge> = graph.edges.iter().filter(|e| between(e) && matches(e)).collect();
    flows.sort_by_key(|e| (rank(e), e.from, e.to, e.protocol, e.ports));
    let allowing = flows.iter().filter(|e| rank(e) == 0);
    let verdict = match flows.first().map(|e| rank(e)) {
        // Node-local flows allow traffic from a host to itself, not across hosts.
        Some(0) if allowing.clone().all(|e| e.local) => Verdict::Local,
        Some(0) => Verdict::Allowed,
        Some(1) => Verdict::Conditional,
        _ => Verdict::Denied,
    };
    let never =
        graph.nevers.iter().filter(|e| between(e) && matches(e)).map(|e| entry(program, &names, e, true)).collect();
    let nearest = if flows.is_empty() { nearest(program, &names, &graph.edges, query) } else { Vec::new() };
    Explanation {
        verdict,
        flows: flows.into_iter().map(|e| entry(program, &names, e, false)).collect(),
        never,
        nearest,
    }
}

/// 0 allowed in this build, 1 allowed under undecided settings, 2 left out.
fn rank(edge: &Edge) -> u8 {
    match edge.residual {
        Cond::Const(true) => 0,
        Cond::Const(false) => 2,
        _ => 1,
    }
}

/// Flows between the same nodes on other ports, and flows to the same port from other nodes.
fn nearest(program: &Program, names: &[String], edges: &[Edge], query: &Query) -> Vec<Entry> {
    let distance = |e: &Edge| -> u32 {
        let same_pair = query.from.contains(&e.from) && query.to.contains(&e.to);
        let same_dest = query.to.contains(&e.to);
        let port_gap = match (query.port, e.ports) {
            (Some(p), Some((s, end))) => u32::from(s.saturating_sub(p).max(p.saturating_sub(end))),
            _ => 0,
        };
        let proto_gap = if query.protocol.is_none_or(|p| p == e.protocol) { 0 } else { 10_000 };
        match (same_pair, same_dest) {
            (true, _) => port_gap + proto_gap,
            (false, true) if port_gap == 0 && proto_gap == 0 => 100_000,
            _ => u32::MAX,
        }
    };
    let mut scored: Vec<(u32, &Edge)> = edges.iter().map(|e| (distance(e), e)).filter(|(d, _)| *d < u32::MAX).collect();
    scored.sort_by_key(|(d, e)| (*d, rank(e), e.from, e.to, e.protocol, e.ports));
    scored.into_iter().take(5).map(|(_, e)| entry(program, names, e, false)).collect()
}

/// The build's value of every decided flag and option the condition mentions.
fn settings(program: &Program, condition: &Cond) -> Vec<String> {
    let (flags, options) = crate::check::logic::variables(condition);
    let mut out = Vec::new();
    for flag in flags {
        if let (Some(def), Some(Some(value))) =
            (program.flags.get(flag.index()), program.config.flags.get(flag.index()))
        {
            out.push(format!("{} = {value}", def.name));
        }
    }
    for option in options {
        let def = program.options.get(option.index());
        let value = program.config.options.get(option.index()).copied().flatten();
        if let (Some(def), Some(value)) = (def, value) {
            out.push(format!("{} = {}", def.name, def.choices.get(value as usize).map_or("?", String::as_str)));
        }
    }
    out
}

fn entry(program: &Program, names: &[String], edge: &Edge, never: bool) -> Entry {
    let flows = if never { &program.nevers } else { &program.flows };
    let flow = flows.get(edge.flow.index());
    let module = flow.and_then(|f| program.modules.get(f.module.index()));
    let notes = flow
        .map(|f| {
            f.notes
                .iter()
                .filter_map(|n| program.notes.get(n.index()))
                .map(|n| match &n.when {
                    Cond::Const(true) => format!("[{}] {}", n.label, n.text),
                    when => format!("[{}] {} (when {})", n.label, n.text, when.display(program)),
                })
                .collect()
        })
        .unwrap_or_default();
    let name = |id: NodeId| names.get(id.index()).cloned().unwrap_or_default();
    Entry {
        from: name(edge.from),
        to: name(edge.to),
        protocol: edge.protocol.name(),
        ports: edge.ports.map(|(start, end)| Ports { start, end }),
        description: flow.and_then(|f| f.description.clone()),
        local: edge.local,
        settings: settings(program, &edge.condition),
        notes,
        condition: (edge.condition != Cond::Const(true)).then(|| edge.condition.display(program)),
        in_this_build: edge.residual.display(program),
        origin: format!("{}:{}", module.map_or("?", |m| m.name.as_str()), flow.map_or(0, |f| f.line)),
    }
}

impl Explanation {
    /// The explanation for people.
    pub fn human(&self, asked: &str) -> String {
        let verdict = match self.verdict {
            Verdict::Allowed => "allowed",
            Verdict::Local => "allowed only as node-local traffic, from a host to itself",
            Verdict::Conditional => "allowed only under settings this build leaves open",
            Verdict::Denied => "denied",
        };
        let mut out = format!("{asked}: {verdict}\n");
        for e in &self.flows {
            let mark = match e.in_this_build.as_str() {
                "true" => "allowed",
                "false" => "left out",
                _ => "open",
            };
            out.push_str(&format!("  {mark:<9} {}\n", e.line()));
        }
        if !self.never.is_empty() {
            out.push_str("forbidden by:\n");
            for e in &self.never {
                out.push_str(&format!("  never     {}\n", e.line()));
            }
        }
        if !self.nearest.is_empty() {
            out.push_str("no flow matches; the nearest:\n");
            for e in &self.nearest {
                out.push_str(&format!("  nearby    {}\n", e.line()));
            }
        }
        out
    }
}

impl Entry {
    fn line(&self) -> String {
        let ports = match self.ports {
            Some(p) if p.start == p.end => format!(" {}", p.start),
            Some(p) => format!(" {}-{}", p.start, p.end),
            None => String::new(),
        };
        let mut line = format!("{} -> {} : {}{ports}", self.from, self.to, self.protocol);
        if let Some(d) = &self.description {
            line.push_str(&format!(" \"{d}\""));
        }
        line.push_str(&format!("  ({})", self.origin));
        if self.local {
            line.push_str("\n            node-local: from a host to itself, never across hosts");
        }
        if let Some(c) = &self.condition {
            line.push_str(&format!("\n            when {c}"));
            if !matches!(self.in_this_build.as_str(), "true" | "false") {
                line.push_str(&format!("; open in this build: {}", self.in_this_build));
            }
            if !self.settings.is_empty() {
                line.push_str(&format!("; this build has {}", self.settings.join(", ")));
            }
        }
        for note in &self.notes {
            line.push_str(&format!("\n            note {note}"));
        }
        line
    }
}
