//! What the two Kubernetes targets share: which roles a policy selects, what each of them allows
//! from and to its peers, how a peer is named (by selector or by addresses), the checks of
//! label syntax, resource names, and the diagnostics for what a target cannot express.

use std::collections::{BTreeMap, BTreeSet};

use super::{Allowed, node_name, provenance};
use crate::ast::SelectorKind;
use crate::check::Checked;
use crate::diag::{Code, Diagnostic};
use crate::graph::Edge;
use crate::hir::{Cond, FlowId, Node, NodeId, Program, Selector};

/// The label every generated object carries.
pub(super) const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "portc");

/// The prefix of portc's own annotation keys.
pub(super) const ANNOTATION: &str = "portc";

/// What a Kubernetes target needs to know to name its peers and to word its diagnostics.
pub(super) struct Dialect {
    /// `NetworkPolicy`, `Calico`: the first word of a diagnostic.
    pub name: &'static str,
    /// The kind of selector a role needs to get a policy of its own.
    pub subject: SelectorKind,
    /// Whether a peer's selector of this kind can name it.
    pub selects: fn(SelectorKind) -> bool,
    /// Why a protocol cannot be expressed, or `None` when it can.
    pub protocol_gap: fn(crate::protocol::Protocol) -> Option<&'static str>,
    /// Why node-local traffic cannot be expressed, or `None` when the target leaves it alone.
    pub local_gap: Option<&'static str>,
    /// What one policy is called: `NetworkPolicy`, `Calico policy`.
    pub policy: &'static str,
    /// A hint that follows "pass --allow-lossy" in the help when a protocol cannot be expressed.
    pub protocol_alternative: &'static str,
    /// Peers the target names without a selector or addresses: Cilium names the Pod CIDR by
    /// its pods' identities.
    pub names_otherwise: fn(&Program, NodeId) -> bool,
}

/// How a policy names a peer.
#[derive(Clone, Copy, Debug)]
pub(super) enum Peer<'a> {
    /// By its selector (pods, or nodes for Calico).
    Selector(&'a Selector),
    /// By its addresses.
    Addresses(&'a [ipnet::IpNet]),
}

/// What one selected role allows, per peer and direction.
#[derive(Default)]
pub(super) struct Rules {
    pub ingress: BTreeMap<NodeId, Allowed>,
    pub egress: BTreeMap<NodeId, Allowed>,
    /// Node-local flows the target leaves alone, for a comment.
    pub local: BTreeSet<String>,
    /// Flows left out under `--allow-lossy`, for a comment.
    pub left_out: BTreeSet<String>,
}

/// Everything a Kubernetes target lowers: the selected roles, and for each the edges that make its
/// rules. `plan` checks every edge once for what the target cannot express; the rules of one role
/// are made when its policy is written (`Plan::rules`), so a target holds one role's rules at a
/// time and its memory stays flat in the number of roles.
pub(super) struct Plan<'a> {
    pub program: &'a Program,
    pub names: Vec<String>,
    dialect: &'a Dialect,
    egress: bool,
    /// Selected role -> the built, decided edges it receives (or with `egress` sends), in the
    /// graph's order.
    edges: BTreeMap<NodeId, Vec<&'a Edge>>,
    pub warnings: Vec<Diagnostic>,
}

impl<'a> Plan<'a> {
    pub fn node(&self, id: NodeId) -> Option<&'a Node> {
        self.program.nodes.get(id.index())
    }

    pub fn name(&self, id: NodeId) -> &str {
        node_name(&self.names, id)
    }

    /// How a peer is named; only peers this succeeds for (or that the dialect names otherwise)
    /// get rules.
    pub fn peer(&self, id: NodeId, dialect: &Dialect) -> Option<Peer<'a>> {
        let node = self.node(id)?;
        match &node.selector {
            Some(selector) if (dialect.selects)(selector.kind) => Some(Peer::Selector(selector)),
            _ if !node.addresses.is_empty() => Some(Peer::Addresses(&node.addresses)),
            _ => None,
        }
    }

    /// A role's peers in the order of their names, so the output never depends on declaration order.
    pub fn by_name<'m>(&self, side: &'m BTreeMap<NodeId, Allowed>) -> Vec<(NodeId, &'m Allowed)> {
        let mut peers: Vec<(NodeId, &Allowed)> = side.iter().map(|(id, allowed)| (*id, allowed)).collect();
        peers.sort_by(|a, b| self.name(a.0).cmp(self.name(b.0)));
        peers
    }

    /// The selected roles in the order of their names.
    pub fn subjects(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.edges.keys().copied().collect();
        ids.sort_by(|a, b| self.name(*a).cmp(self.name(*b)));
        ids
    }

    /// Whether a role gets a policy of its own.
    pub fn is_subject(&self, id: NodeId) -> bool {
        self.edges.contains_key(&id)
    }

    /// What a selected role allows, per peer and direction, with the flows it leaves alone or
    /// out; empty for a role that is not selected.
    pub fn rules(&self, subject: NodeId) -> Rules {
        let mut rules = Rules::default();
        for edge in self.edges.get(&subject).map(Vec::as_slice).unwrap_or_default() {
            for (peer, ingress) in
                self.sides(edge).into_iter().filter(|(s, _, _)| *s == subject).map(|(_, p, i)| (p, i))
            {
                let provenance = provenance(self.program, edge);
                match self.fate(edge, peer, ingress) {
                    Fate::Rule => {
                        let side = if ingress { &mut rules.ingress } else { &mut rules.egress };
                        side.entry(peer).or_default().add(edge, provenance);
                    }
                    Fate::Local => {
                        rules.local.insert(edge_text(self, edge, &provenance));
                    }
                    Fate::Gap { why, .. } => {
                        rules.left_out.insert(format!("{} ({why})", edge_text(self, edge, &provenance)));
                    }
                }
            }
        }
        for allowed in rules.ingress.values_mut().chain(rules.egress.values_mut()) {
            allowed.merge_overlaps();
        }
        rules
    }

    /// The (subject, peer, ingress) sides of an edge that a policy of this plan filters.
    fn sides(&self, edge: &Edge) -> Vec<(NodeId, NodeId, bool)> {
        let mut sides = Vec::new();
        if self.is_subject(edge.to) {
            sides.push((edge.to, edge.from, true));
        }
        if self.egress && self.is_subject(edge.from) {
            sides.push((edge.from, edge.to, false));
        }
        sides
    }

    /// What becomes of one side of an edge in its subject's policy.
    fn fate(&self, edge: &Edge, peer: NodeId, ingress: bool) -> Fate {
        let dialect = self.dialect;
        if edge.local {
            return match dialect.local_gap {
                Some(why) => {
                    Fate::Gap { what: "node-local traffic".to_string(), why: why.to_string(), hint: String::new() }
                }
                None => Fate::Local,
            };
        }
        if let Some(why) = (dialect.protocol_gap)(edge.protocol) {
            return Fate::Gap {
                what: edge.protocol.name().to_string(),
                why: why.to_string(),
                hint: dialect.protocol_alternative.to_string(),
            };
        }
        if self.peer(peer, dialect).is_none() && !(dialect.names_otherwise)(self.program, peer) {
            return Fate::Gap {
                what: format!("traffic {} `{}`", if ingress { "from" } else { "to" }, self.name(peer)),
                why: unnamed_peer(self, peer, dialect),
                hint: format!("; or bind `{}` to addresses", self.name(peer)),
            };
        }
        Fate::Rule
    }
}

/// One selected role's policy as a target writes it: the role, its resource name, its selector
/// and its rules.
pub(super) struct Policy<'a> {
    pub id: NodeId,
    pub name: String,
    pub selector: &'a Selector,
    pub rules: Rules,
}

impl<'a> Plan<'a> {
    /// The selected roles' policies in the order of their names, each made when it is reached,
    /// so a target holds one role's rules at a time.
    pub fn policies(&self) -> impl Iterator<Item = Policy<'a>> + '_ {
        let names = resource_names(self);
        self.subjects().into_iter().filter_map(move |id| {
            let name = names.get(&id)?.clone();
            let selector = self.node(id)?.selector.as_ref()?;
            Some(Policy { id, name, selector, rules: self.rules(id) })
        })
    }
}

/// What becomes of one side of an edge in a policy.
enum Fate {
    /// A rule for the peer.
    Rule,
    /// Node-local traffic the target leaves alone, for a comment.
    Local,
    /// What the target cannot express: an error, or with `--allow-lossy` a warning and a comment.
    Gap { what: String, why: String, hint: String },
}

/// The roles a target makes policies for: roles bound to a selector of the dialect's kind.
pub(super) fn subjects(program: &Program, kind: SelectorKind) -> Vec<NodeId> {
    program
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == crate::hir::NodeKind::Role && n.selector.as_ref().is_some_and(|s| s.kind == kind))
        .map(|(i, _)| NodeId(crate::hir::next_id(i)))
        .collect()
}

/// Sorts the built edges by selected role; reports what the dialect cannot express (an error, or
/// with `allow_lossy` a warning and a comment) and selectors that are not valid Kubernetes labels.
pub(super) fn plan<'a>(
    policy: &'a Checked,
    dialect: &'a Dialect,
    egress: bool,
    allow_lossy: bool,
) -> Result<Plan<'a>, Vec<Diagnostic>> {
    let graph = policy.graph();
    let program = &graph.program;
    let names = program.node_names();
    let selected: BTreeSet<NodeId> = subjects(program, dialect.subject).into_iter().collect();
    let edges = selected.iter().map(|id| (*id, Vec::new())).collect();
    let mut plan = Plan { program, names, dialect, egress, edges, warnings: Vec::new() };
    let mut errors = Vec::new();
    let built: Vec<&Edge> = graph.edges.iter().filter(|e| e.built()).collect();
    let concerns = |e: &Edge| selected.contains(&e.to) || (egress && selected.contains(&e.from));
    super::undecided(program, &built, concerns, &mut errors);
    let mut lossy =
        Lossy { dialect, allow: allow_lossy, seen: BTreeSet::new(), errors: Vec::new(), warnings: Vec::new() };
    let mut peers_used = BTreeSet::new();
    for edge in built.iter().filter(|e| e.residual == Cond::Const(true)) {
        for (subject, peer, ingress) in plan.sides(edge) {
            match plan.fate(edge, peer, ingress) {
                Fate::Rule => {
                    peers_used.insert(peer);
                }
                Fate::Local => {}
                Fate::Gap { what, why, hint, .. } => lossy.report(&plan, edge, subject, &what, &why, &hint),
            }
            if let Some(list) = plan.edges.get_mut(&subject)
                && list.last().is_none_or(|last| !std::ptr::eq(*last, *edge))
            {
                list.push(edge);
            }
        }
    }
    peers_used.extend(selected.iter().copied());
    for id in &peers_used {
        if let Some(selector) = plan.node(*id).and_then(|n| n.selector.as_ref()) {
            check_selector(&plan, *id, selector, dialect, &mut errors);
        }
    }
    errors.append(&mut lossy.errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    plan.warnings = lossy.warnings;
    Ok(plan)
}

/// `icmp from monitoring to api: Monitoring ping [site:12]`.
fn edge_text(plan: &Plan, edge: &Edge, provenance: &str) -> String {
    let ports = match edge.ports {
        Some((start, end)) if start == end => format!("{} {start}", edge.protocol),
        Some((start, end)) => format!("{} {start}-{end}", edge.protocol),
        None => edge.protocol.to_string(),
    };
    format!("{ports} from {} to {}: {provenance}", plan.name(edge.from), plan.name(edge.to))
}

/// Why a peer has no name in the dialect.
fn unnamed_peer(plan: &Plan, peer: NodeId, dialect: &Dialect) -> String {
    let name = plan.name(peer);
    match plan.node(peer).and_then(|n| n.selector.as_ref()) {
        Some(selector) => format!(
            "{} cannot select {} by label, and `{name}` has no addresses",
            dialect.name,
            match selector.kind {
                SelectorKind::Pods => "pods",
                SelectorKind::Nodes => "nodes",
            }
        ),
        None => format!("`{name}` has no selector and no addresses, so a policy cannot name it"),
    }
}

/// Reports flows a dialect cannot express, once per flow, subject and reason.
struct Lossy<'d> {
    dialect: &'d Dialect,
    allow: bool,
    seen: BTreeSet<(FlowId, NodeId, String)>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Lossy<'_> {
    /// Reports a gap once per flow, subject and kind; `Plan::rules` names the flow in a comment.
    fn report(&mut self, plan: &Plan, edge: &Edge, subject: NodeId, what: &str, why: &str, hint: &str) {
        if !self.seen.insert((edge.flow, subject, what.to_string())) {
            return;
        }
        let Some(flow) = plan.program.flows.get(edge.flow.index()) else { return };
        let target = self.dialect.name;
        let (from, to) = (plan.name(edge.from), plan.name(edge.to));
        let diagnostic = if self.allow {
            Diagnostic::new(
                Code::LeftOut,
                format!(
                    "left out of the {} of `{}`: {what} from `{from}` to `{to}`",
                    self.dialect.policy,
                    plan.name(subject)
                ),
                flow.span,
                "left out",
            )
            .with_note(why.to_string())
            .with_note("with --allow-lossy this traffic stays blocked; a comment in the output names the flow")
        } else {
            Diagnostic::new(
                Code::NotExpressible,
                format!("{target} cannot express {what}: this flow from `{from}` to `{to}`"),
                flow.span,
                format!("not expressible in {target}"),
            )
            .with_note(why.to_string())
            .with_help(format!(
                "pass --allow-lossy to build without it (the traffic stays blocked, and the output says so){hint}"
            ))
        };
        if self.allow { self.warnings.push(diagnostic) } else { self.errors.push(diagnostic) }
    }
}

/// Labels and namespaces must be valid Kubernetes names, or the API server refuses the object.
fn check_selector(plan: &Plan, id: NodeId, selector: &Selector, dialect: &Dialect, errors: &mut Vec<Diagnostic>) {
    let mut problems = Vec::new();
    for (key, value) in &selector.labels {
        if let Err(why) = label_key(key) {
            problems.push(format!("the label key `{key}` {why}"));
        }
        if let Err(why) = label_value(value) {
            problems.push(format!("the label value `{value}` (of `{key}`) {why}"));
        }
    }
    if let Some(namespace) = &selector.namespace
        && let Err(why) = dns_label(namespace)
    {
        problems.push(format!("the namespace `{namespace}` {why}"));
    }
    if problems.is_empty() {
        return;
    }
    errors.push(
        Diagnostic::new(
            Code::NotExpressible,
            format!("{} cannot express the selector of `{}`: {}", dialect.name, plan.name(id), problems.join("; ")),
            selector.span,
            "not a valid Kubernetes selector",
        )
        .with_note(
            "a label key is an optional DNS subdomain prefix and `/`, then a name of at most 63 letters, digits, \
             `-`, `_` and `.` that starts and ends with a letter or digit; a value is empty or such a name; \
             a namespace is at most 63 lowercase letters, digits and `-`",
        )
        .with_help("use the labels the objects really carry, as `kubectl get pods --show-labels` prints them"),
    );
}

/// A label key: `[prefix/]name`.
fn label_key(key: &str) -> Result<(), &'static str> {
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            dns_subdomain(prefix).map_err(|_| "has a prefix that is not a DNS subdomain")?;
            name
        }
        None => key,
    };
    if name.is_empty() {
        return Err("has an empty name");
    }
    label_value(name)
}

/// A label value, or the name part of a key: at most 63 characters, alphanumeric at both ends,
/// `-`, `_` and `.` inside.
fn label_value(value: &str) -> Result<(), &'static str> {
    if value.len() > 63 {
        return Err("is longer than 63 characters");
    }
    let inner_ok = value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let ends_ok = value.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && value.chars().last().is_none_or(|c| c.is_ascii_alphanumeric());
    if inner_ok && ends_ok { Ok(()) } else { Err("is not a valid label: letters, digits, `-`, `_`, `.`") }
}

/// A DNS-1123 label: a namespace.
fn dns_label(name: &str) -> Result<(), &'static str> {
    let chars_ok = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ends_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if name.len() <= 63 && chars_ok && ends_ok {
        Ok(())
    } else {
        Err("is not a valid namespace name: at most 63 lowercase letters, digits and `-`")
    }
}

/// A DNS-1123 subdomain: dot-separated DNS labels, at most 253 characters.
fn dns_subdomain(name: &str) -> Result<(), &'static str> {
    if name.len() <= 253 && name.split('.').all(|l| dns_label(l).is_ok()) {
        Ok(())
    } else {
        Err("is not a DNS subdomain")
    }
}

/// Resource names for the selected roles, `portc-<role>`: valid DNS subdomains, unique, stable.
fn resource_names(plan: &Plan) -> BTreeMap<NodeId, String> {
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for id in plan.subjects() {
        let mut base: String = plan
            .name(id)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c.to_ascii_lowercase() } else { '-' })
            .collect();
        base = base.trim_matches(|c| c == '-' || c == '.').replace("..", ".").replace(".-", ".").replace("-.", ".");
        let base = format!("portc-{}", if base.is_empty() { "role" } else { &base });
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        out.insert(id, name);
    }
    out
}

/// The header comment of a generated file.
pub(super) fn header(plan: &Plan, what: &str, apply: &str) -> String {
    let root = plan.program.modules.first().map_or("?", |m| m.path.as_str());
    format!("# {what}, generated by portc from {root}.\n# {apply}\n")
}

/// `# ` before every line of a comment block.
pub(super) fn comment_lines(title: &str, lines: &BTreeSet<String>) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = format!("# {title}\n");
    for line in lines {
        out.push_str(&format!("#   {}\n", line.replace('\n', " ")));
    }
    out
}

/// One line per rule of a policy, for its annotations:
/// `from etcd: tcp 2379 etcd client requests [kubernetes:14]; udp 8472 VXLAN [kubernetes:20]`.
pub(super) fn rule_annotation(plan: &Plan, peer: NodeId, ingress: bool, allowed: &Allowed) -> String {
    let mut parts = Vec::new();
    for ((protocol, start, end), origins) in &allowed.ported {
        let ports = if start == end { start.to_string() } else { format!("{start}-{end}") };
        parts.push(format!("{protocol} {ports} {}", origins.iter().cloned().collect::<Vec<_>>().join(", ")));
    }
    for (protocol, origins) in &allowed.portless {
        parts.push(format!("{protocol} {}", origins.iter().cloned().collect::<Vec<_>>().join(", ")));
    }
    let direction = if ingress { "from" } else { "to" };
    format!("{direction} {}: {}", plan.name(peer), parts.join("; "))
}

/// `portc/from.etcd`, or `portc/from.3` where the peer's name is not a valid annotation name.
pub(super) fn annotation_key(direction: &str, plan: &Plan, peer: NodeId) -> String {
    let name = format!("{direction}.{}", plan.name(peer));
    let valid = name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    let name = if valid { name } else { format!("{direction}.{}", peer.0) };
    format!("{ANNOTATION}/{name}")
}

/// The `portc/role` annotation: the role, its description and where it is declared.
pub(super) fn role_annotation(plan: &Plan, subject: NodeId) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    if let Some(node) = plan.node(subject) {
        let module = plan.program.modules.get(node.module.index()).map_or("?", |m| m.name.as_str());
        let description = node.description.as_deref().map(|d| format!("{d} ")).unwrap_or_default();
        annotations.insert(
            format!("{ANNOTATION}/role"),
            format!("{}: {description}[{module}:{}]", plan.name(subject), node.line),
        );
    }
    annotations
}
