//! The `aws` target: AWS security groups as one CloudFormation template (JSON).
//!
//! One `AWS::EC2::SecurityGroup` per host role (a role that takes part in a flow and is not
//! bound to pods), in the VPC the `VpcId` parameter names. A peer that is itself a host role is
//! named by its security group; any other peer by its addresses (`CidrIp`, `CidrIpv6`). Rules
//! from addresses are inline in the group; rules that name another group (or the group itself)
//! are `AWS::EC2::SecurityGroupIngress` resources of their own, because two groups that name
//! each other inline are a circular dependency CloudFormation refuses. Egress is filtered only
//! with `--egress`: then every group gets inline egress rules, which replace the allow-all rule
//! EC2 adds to a group created without any. Every rule's `Description` says which flows need it.
//! The types below are CloudFormation's, written out with unknown fields denied.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;

use serde::{Deserialize, Serialize};

use super::{Allowed, Failed, Lower, Lowered, Sink, TargetOptions, Written, node_name, provenance};
use crate::ast::SelectorKind;
use crate::check::Checked;
use crate::diag::{Code, Diagnostic};
use crate::graph::Edge;
use crate::hir::{Cond, FlowId, NodeId, NodeKind, Program};
use crate::protocol::Protocol;

pub struct Aws;

/// EC2's default quota of inbound (and of outbound) rules per security group, counted for IPv4
/// and IPv6 apart; a rule that names a group counts for both.
pub const RULES_PER_GROUP: usize = 60;

/// CloudFormation's limits on one template: resources, outputs, and the body's bytes (a body
/// over 51,200 bytes must be uploaded to S3 first).
pub const MAX_RESOURCES: usize = 500;
pub const MAX_OUTPUTS: usize = 200;
pub const MAX_TEMPLATE_BYTES: usize = 1_000_000;

/// A rule or group description: at most 255 characters of EC2's set.
const MAX_DESCRIPTION: usize = 255;

/// The address a placeholder egress rule names: loopback never leaves an instance, so the rule
/// matches nothing, and its presence keeps EC2 from adding its allow-all egress rule.
const NOTHING: &str = "127.0.0.1/32";

/// A CloudFormation template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Template {
    #[serde(rename = "AWSTemplateFormatVersion")]
    pub format_version: String,
    pub description: String,
    pub metadata: TemplateMetadata,
    pub parameters: BTreeMap<String, Parameter>,
    pub resources: BTreeMap<String, Resource>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Output>,
}

/// What portc records about the template: where it comes from and what it leaves to others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateMetadata {
    pub portc: Provenance,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Provenance {
    /// The file or stdlib module the template was built from.
    pub source: String,
    /// How outbound traffic is treated.
    pub egress: String,
    /// The role of each security group, with its description and declaration.
    pub roles: BTreeMap<String, String>,
    /// Flows that never leave an instance, which no security group sees.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_local: Vec<String>,
    /// Flows with pods that have no addresses: the networkpolicy target filters them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<String>,
    /// Flows left out with `--allow-lossy`: that traffic stays blocked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Parameter {
    #[serde(rename = "Type")]
    pub kind: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Output {
    pub description: String,
    pub value: Value,
}

/// A resource: its `Type` and its `Properties`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "Type", content = "Properties", deny_unknown_fields)]
pub enum Resource {
    #[serde(rename = "AWS::EC2::SecurityGroup")]
    SecurityGroup(SecurityGroup),
    #[serde(rename = "AWS::EC2::SecurityGroupIngress")]
    Ingress(GroupRule),
    #[serde(rename = "AWS::EC2::SecurityGroupEgress")]
    Egress(GroupRule),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SecurityGroup {
    pub group_description: String,
    pub vpc_id: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_ingress: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_egress: Vec<Rule>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An inline rule of a group: one protocol and port range, from or to one CIDR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Rule {
    pub ip_protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    pub description: String,
}

/// A rule of its own (`AWS::EC2::SecurityGroupIngress` or `...Egress`) between two groups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GroupRule {
    pub group_id: Value,
    pub ip_protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_security_group_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_security_group_id: Option<Value>,
    pub description: String,
}

/// An intrinsic function: `{"Ref": "VpcId"}`, `{"Fn::GetAtt": ["SecurityGroupEtcd", "GroupId"]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Ref(String),
    #[serde(rename = "Fn::GetAtt")]
    GetAtt(Vec<String>),
}

const DESCRIPTION: super::Description = super::Description {
    name: "aws",
    about: "AWS security groups for the host roles, as a CloudFormation template (JSON)",
    per_host: false,
    settings: &[super::Setting::Egress, super::Setting::AllowLossy],
    extension: "json",
    documents: false,
    site: true,
};

impl Lower for Aws {
    fn description(&self) -> &'static super::Description {
        &DESCRIPTION
    }

    fn precondition(&self, program: &Program) -> Result<(), String> {
        let host = |id: &NodeId| program.nodes.get(id.index()).is_some_and(is_host_role);
        let named = program
            .flows
            .iter()
            .any(|f| f.from.iter().any(host) || matches!(&f.to, crate::hir::Target::Nodes(to) if to.iter().any(host)));
        if named {
            return Ok(());
        }
        Err("no flow names a host role (a role not bound to pods), so there is no security group to build: \
             declare the instances' roles and their flows, `role etcd` and `controlplane -> etcd : tcp 2379`"
            .into())
    }

    fn lower(&self, policy: &Checked, options: &TargetOptions) -> Lowered {
        super::lowered_by_writing(self, policy, options)
    }

    /// Writes the template with each group's resources made as it is written.
    fn write(&self, policy: &Checked, options: &TargetOptions, sink: &mut dyn Sink) -> Written {
        let mut plan = plan(policy, options).map_err(Failed::Errors)?;
        let mut warnings = std::mem::take(&mut plan.warnings);
        let template = streamed(&plan, options.egress);
        let mut out = Counted { inner: sink.document("")?, bytes: 0 };
        serde_json::to_writer_pretty(&mut out, &template).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        let tally = template.resources.tally.into_inner();
        warnings.extend(quota_lints(&plan, &tally));
        warnings.extend(template_lints(&plan, tally.resources, template.outputs.len(), out.bytes));
        Ok(warnings)
    }
}

/// A role that an instance can hold: any role not bound to pods.
fn is_host_role(node: &crate::hir::Node) -> bool {
    node.kind == NodeKind::Role && node.selector.as_ref().is_none_or(|s| s.kind != SelectorKind::Pods)
}

fn is_pod_role(program: &Program, node: NodeId) -> bool {
    program
        .nodes
        .get(node.index())
        .is_some_and(|n| n.kind == NodeKind::Role && n.selector.as_ref().is_some_and(|s| s.kind == SelectorKind::Pods))
}

/// How a rule names its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    /// A host role, by its security group.
    Group(NodeId),
    /// Anything else, by its addresses.
    Addresses(NodeId),
}

impl Peer {
    fn node(self) -> NodeId {
        match self {
            Peer::Group(id) | Peer::Addresses(id) => id,
        }
    }
}

/// What one group allows, per peer and direction.
#[derive(Default)]
struct Rules {
    ingress: BTreeMap<Peer, Allowed>,
    egress: BTreeMap<Peer, Allowed>,
}

/// A side of an edge that a group filters: the edge, the peer, and whether it is inbound.
type Side<'a> = (&'a Edge, Peer, bool);

/// Everything the template is made of. The rules of a group are made when it is written
/// (`Plan::rules`), so the template holds one group's rules at a time.
struct Plan<'a> {
    program: &'a Program,
    names: Vec<String>,
    /// Host role -> the sides of edges its group has rules for.
    groups: BTreeMap<NodeId, Vec<Side<'a>>>,
    /// Logical ids of the groups.
    ids: BTreeMap<NodeId, String>,
    /// Groups whose rules' logical ids could equal another group's (`a` from `b_from_c` and
    /// `a_from_b` from `c`): their rules' ids are checked for uniqueness as they are written.
    entangled: BTreeSet<NodeId>,
    local: BTreeSet<String>,
    workloads: BTreeSet<String>,
    left_out: BTreeSet<String>,
    warnings: Vec<Diagnostic>,
}

impl Plan<'_> {
    fn name(&self, id: NodeId) -> &str {
        node_name(&self.names, id)
    }

    fn addresses(&self, id: NodeId) -> &[ipnet::IpNet] {
        self.program.nodes.get(id.index()).map(|n| n.addresses.as_slice()).unwrap_or_default()
    }

    /// The groups in the order of their roles' names.
    fn by_name(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.groups.keys().copied().collect();
        ids.sort_by(|a, b| self.name(*a).cmp(self.name(*b)));
        ids
    }

    /// What a group allows, per peer and direction, its ranges merged.
    fn rules(&self, subject: NodeId) -> Rules {
        let mut rules = Rules::default();
        for (edge, peer, ingress) in self.groups.get(&subject).map(Vec::as_slice).unwrap_or_default() {
            let side = if *ingress { &mut rules.ingress } else { &mut rules.egress };
            side.entry(*peer).or_default().add(edge, provenance(self.program, edge));
        }
        for allowed in rules.ingress.values_mut().chain(rules.egress.values_mut()) {
            merge_adjacent(allowed);
        }
        rules
    }

    /// A side's peers in the order of their names.
    fn peers<'m>(&self, side: &'m BTreeMap<Peer, Allowed>) -> Vec<(Peer, &'m Allowed)> {
        let mut peers: Vec<(Peer, &Allowed)> = side.iter().map(|(p, a)| (*p, a)).collect();
        peers.sort_by(|a, b| self.name(a.0.node()).cmp(self.name(b.0.node())));
        peers
    }
}

/// Sorts the built edges into rules per host role and peer, and reports what security groups
/// cannot express (an error, or with `--allow-lossy` a warning and an entry in the metadata).
fn plan<'a>(policy: &'a Checked, options: &TargetOptions) -> Result<Plan<'a>, Vec<Diagnostic>> {
    let graph = policy.graph();
    let program = &graph.program;
    let built: Vec<&Edge> = graph.edges.iter().filter(|e| e.built()).collect();
    // Every host role a flow names gets a group, even when this build leaves its flows out:
    // instances hold it, and a group without rules denies them every inbound connection.
    let hosts: BTreeSet<NodeId> = graph
        .edges
        .iter()
        .flat_map(|e| [e.from, e.to])
        .filter(|n| program.nodes.get(n.index()).is_some_and(is_host_role))
        .collect();
    let mut plan = Plan {
        program,
        names: program.node_names(),
        groups: hosts.iter().map(|h| (*h, Vec::new())).collect(),
        ids: BTreeMap::new(),
        entangled: BTreeSet::new(),
        local: BTreeSet::new(),
        workloads: BTreeSet::new(),
        left_out: BTreeSet::new(),
        warnings: Vec::new(),
    };
    plan.ids = logical_ids(&plan);
    plan.entangled = entangled(&plan.ids);
    let mut errors = Vec::new();
    let concerns = |e: &Edge| hosts.contains(&e.to) || (options.egress && hosts.contains(&e.from));
    super::undecided(program, &built, concerns, &mut errors);
    let mut gaps = Gaps { allow: options.allow_lossy, seen: BTreeSet::new(), errors: Vec::new() };
    for &edge in built.iter().filter(|e| e.residual == Cond::Const(true)) {
        let mut sides = Vec::new();
        if hosts.contains(&edge.to) {
            sides.push((edge.to, edge.from, true));
        }
        if options.egress && hosts.contains(&edge.from) && !edge.local {
            sides.push((edge.from, edge.to, false));
        }
        for (subject, peer, ingress) in sides {
            // Made only for what the metadata or a diagnostic names; a rule's is made when its
            // group is written.
            let origin = || provenance(program, edge);
            if edge.local {
                plan.local.insert(edge_text(&plan, edge, &origin()));
                continue;
            }
            let peer = if hosts.contains(&peer) {
                Peer::Group(peer)
            } else if !plan.addresses(peer).is_empty() {
                Peer::Addresses(peer)
            } else if is_pod_role(program, peer) {
                // Pods are no instances: between instances their traffic is the CNI's (its
                // overlay, or the Pod CIDR), and the networkpolicy target filters it.
                plan.workloads.insert(edge_text(&plan, edge, &origin()));
                continue;
            } else {
                let why = unnamed(&plan, peer);
                let what = format!("traffic with `{}`", plan.name(peer));
                let hint = format!("; or bind `{0}` to addresses, `bind {0} = 10.0.0.0/24`", plan.name(peer));
                gaps.report(&mut plan, edge, (&what, &why, &hint), &origin());
                continue;
            };
            if let Some(why) = protocol_gap(edge) {
                gaps.report(&mut plan, edge, (edge.protocol.name(), why, ""), &origin());
                continue;
            }
            if let Some(sides) = plan.groups.get_mut(&subject) {
                sides.push((edge, peer, ingress));
            }
        }
    }
    errors.append(&mut gaps.errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(plan)
}

/// Merges overlapping and adjacent ranges of one protocol (2379 and 2380 into 2379-2380): EC2
/// counts rules against a quota, and a range reads as the vendor tables write it.
fn merge_adjacent(allowed: &mut Allowed) {
    let mut merged: BTreeMap<(Protocol, u16, u16), BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<((Protocol, u16, u16), BTreeSet<String>)> = None;
    for ((protocol, start, end), origins) in std::mem::take(&mut allowed.ported) {
        match current.as_mut() {
            Some(((p, _, e), o)) if *p == protocol && u32::from(start) <= u32::from(*e) + 1 => {
                *e = (*e).max(end);
                o.extend(origins);
            }
            _ => {
                if let Some((key, o)) = current.replace(((protocol, start, end), origins)) {
                    merged.insert(key, o);
                }
            }
        }
    }
    if let Some((key, o)) = current {
        merged.insert(key, o);
    }
    allowed.ported = merged;
}

/// Why security groups cannot express a protocol of an edge, or `None` when they can.
fn protocol_gap(edge: &Edge) -> Option<&'static str> {
    match (edge.protocol, edge.ports) {
        (Protocol::Sctp, Some((start, end))) if start > 1 || end < u16::MAX => Some(
            "a security group rule for SCTP (IP protocol 132) opens every port: EC2 takes ports for TCP and UDP only",
        ),
        _ => None,
    }
}

/// Why a peer has no name in a security group rule.
fn unnamed(plan: &Plan, peer: NodeId) -> String {
    let name = plan.name(peer);
    match plan.program.nodes.get(peer.index()) {
        Some(n) if n.kind == NodeKind::Role => {
            format!("`{name}` is bound to pods, which have no security group of their own here, and has no addresses")
        }
        _ => format!("`{name}` has no addresses, and only host roles have security groups"),
    }
}

/// `tcp 2379 from controlplane to etcd: etcd client requests [rancher.downstream.custom:40]`.
fn edge_text(plan: &Plan, edge: &Edge, origin: &str) -> String {
    let ports = match edge.ports {
        Some((start, end)) if start == end => format!("{} {start}", edge.protocol),
        Some((start, end)) => format!("{} {start}-{end}", edge.protocol),
        None => edge.protocol.to_string(),
    };
    format!("{ports} from {} to {}: {origin}", plan.name(edge.from), plan.name(edge.to))
}

/// Reports flows security groups cannot express, once per flow and reason.
struct Gaps {
    allow: bool,
    seen: BTreeSet<(FlowId, String)>,
    errors: Vec<Diagnostic>,
}

impl Gaps {
    /// `gap` is what cannot be expressed, why, and a hint that ends the help line.
    fn report(&mut self, plan: &mut Plan, edge: &Edge, gap: (&str, &str, &str), origin: &str) {
        let (what, why, hint) = gap;
        plan.left_out.insert(format!("{} ({why})", edge_text(plan, edge, origin)));
        if !self.seen.insert((edge.flow, what.to_string())) {
            return;
        }
        let Some(flow) = plan.program.flows.get(edge.flow.index()) else { return };
        let (from, to) = (plan.name(edge.from), plan.name(edge.to));
        if self.allow {
            plan.warnings.push(
                Diagnostic::new(
                    Code::LeftOut,
                    format!("left out of the security groups: {what} from `{from}` to `{to}`"),
                    flow.span,
                    "left out",
                )
                .with_note(why.to_string())
                .with_note("with --allow-lossy this traffic stays blocked; the template's metadata names the flow"),
            );
        } else {
            self.errors.push(
                Diagnostic::new(
                    Code::NotExpressible,
                    format!("AWS security groups cannot express {what}: this flow from `{from}` to `{to}`"),
                    flow.span,
                    "not expressible in AWS security groups",
                )
                .with_note(why.to_string())
                .with_help(format!(
                    "pass --allow-lossy to build without it (the traffic stays blocked, and the template says so){hint}"
                )),
            );
        }
    }
}

/// `SecurityGroupEtcd`: CloudFormation's logical ids are letters and digits, unique per template.
fn logical_ids(plan: &Plan) -> BTreeMap<NodeId, String> {
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for id in plan.by_name() {
        let base = format!("SecurityGroup{}", camel(plan.name(id)));
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}{n}");
            n += 1;
        }
        out.insert(id, name);
    }
    out
}

/// The groups whose rules' logical ids (`Ingress{group}From{peer}...`, `Egress{group}To{peer}...`)
/// could equal those of another group: one whose id, followed by `From` or `To`, starts another's.
fn entangled(ids: &BTreeMap<NodeId, String>) -> BTreeSet<NodeId> {
    let bare: BTreeMap<&str, NodeId> =
        ids.iter().map(|(node, id)| (id.trim_start_matches("SecurityGroup"), *node)).collect();
    let mut out = BTreeSet::new();
    for (id, node) in &bare {
        for joint in ["From", "To"] {
            let prefix = format!("{id}{joint}");
            for (_, other) in bare.range(prefix.as_str()..).take_while(|(o, _)| o.starts_with(&prefix)) {
                out.insert(*node);
                out.insert(*other);
            }
        }
    }
    out
}

/// `control_plane.v2` -> `ControlPlaneV2`.
fn camel(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Text EC2 accepts in a description: at most 255 characters of `a-zA-Z0-9`, spaces and
/// `._-:/()#,@[]+=&;{}!$*`; quotes are dropped (`node's` reads `nodes`), anything else becomes a
/// space.
pub fn description(text: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == ' ' || "._-:/()#,@[]+=&;{}!$*".contains(c);
    let mut out = String::new();
    for c in text.chars().filter(|c| !matches!(c, '\'' | '"' | '`' | '\u{2019}')) {
        let c = if allowed(c) { c } else { ' ' };
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    let mut out = out.trim().to_string();
    if out.len() > MAX_DESCRIPTION {
        out.truncate(MAX_DESCRIPTION - 3);
        out.push_str("...");
    }
    out
}

/// One rule's worth of a peer's allowance: protocol, ports, and the flows that need it.
struct Entry<'a> {
    protocol: Protocol,
    ports: Option<(u16, u16)>,
    origins: &'a BTreeSet<String>,
}

impl Entry<'_> {
    /// `IpProtocol`, `FromPort`, `ToPort`: ports for TCP and UDP, `-1` (every type and code) for
    /// ICMP, and none for the protocols EC2 names by number.
    fn fields(&self) -> (String, Option<i32>, Option<i32>) {
        match (self.protocol, self.ports) {
            (Protocol::Tcp | Protocol::Udp, Some((start, end))) => {
                (self.protocol.name().to_string(), Some(i32::from(start)), Some(i32::from(end)))
            }
            (Protocol::Icmp | Protocol::Icmpv6, _) => (self.protocol.name().to_string(), Some(-1), Some(-1)),
            (protocol, _) => (protocol.number().to_string(), None, None),
        }
    }

    /// The address family the protocol is limited to: ICMP is IPv4's, ICMPv6 IPv6's.
    fn family(&self) -> Option<bool> {
        match self.protocol {
            Protocol::Icmp => Some(true),
            Protocol::Icmpv6 => Some(false),
            _ => None,
        }
    }

    fn description(&self) -> String {
        description(&self.origins.iter().cloned().collect::<Vec<_>>().join("; "))
    }

    /// `Tcp2379To2380`, `Ipip`: the part of a logical id that tells rules of one peer apart.
    fn id(&self) -> String {
        let protocol = camel(self.protocol.name());
        match self.ports {
            Some((start, end)) if start == end => format!("{protocol}{start}"),
            Some((start, end)) => format!("{protocol}{start}To{end}"),
            None => protocol,
        }
    }
}

fn entries(allowed: &Allowed) -> Vec<Entry<'_>> {
    let ported = allowed.ported.iter().map(|((protocol, start, end), origins)| Entry {
        protocol: *protocol,
        ports: Some((*start, *end)),
        origins,
    });
    let portless =
        allowed.portless.iter().map(|(protocol, origins)| Entry { protocol: *protocol, ports: None, origins });
    ported.chain(portless).collect()
}

fn get_att(id: &str) -> Value {
    Value::GetAtt(vec![id.to_string(), "GroupId".to_string()])
}

/// The template as it is written: `Template`'s fields, with the resources made one group at a
/// time while they are serialised. `templates_read_back_into_their_types` (tests/aws.rs) reads
/// every written template back into `Template`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Streamed<'p, 'a> {
    #[serde(rename = "AWSTemplateFormatVersion")]
    format_version: &'static str,
    description: String,
    metadata: TemplateMetadata,
    parameters: BTreeMap<String, Parameter>,
    resources: Resources<'p, 'a>,
    outputs: BTreeMap<String, Output>,
}

/// The `Resources` of a template, made group by group as they are serialised: each group, then
/// its rules that name other groups.
struct Resources<'p, 'a> {
    plan: &'p Plan<'a>,
    egress: bool,
    tally: std::cell::RefCell<Tally>,
}

/// What the lints need to know of the resources written.
#[derive(Default)]
struct Tally {
    resources: usize,
    /// Group -> [inbound, outbound] -> [IPv4, IPv6] rules.
    rules: BTreeMap<NodeId, [[usize; 2]; 2]>,
    /// The logical ids of the entangled groups' rules.
    taken: BTreeSet<String>,
}

impl Serialize for Resources<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        let mut tally = self.tally.borrow_mut();
        for subject in self.plan.by_name() {
            for (id, resource) in group_resources(self.plan, subject, self.egress, &mut tally) {
                map.serialize_entry(&id, &resource)?;
            }
        }
        map.end()
    }
}

/// The template: the `VpcId` parameter, a group per host role with its inline CIDR rules, a
/// resource per rule between groups, and each group's id as an output.
fn streamed<'p, 'a>(plan: &'p Plan<'a>, egress: bool) -> Streamed<'p, 'a> {
    let mut outputs = BTreeMap::new();
    let mut roles = BTreeMap::new();
    for subject in plan.by_name() {
        let Some(id) = plan.ids.get(&subject) else { continue };
        let role = role_text(plan, subject);
        outputs.insert(
            format!("{id}Id"),
            Output { description: description(&format!("The security group of role {role}")), value: get_att(id) },
        );
        roles.insert(id.clone(), role);
    }
    let source = plan.program.modules.first().map_or("?", |m| m.path.as_str()).to_string();
    Streamed {
        format_version: "2010-09-09",
        description: description(&format!("Security groups generated by portc from {source}")),
        metadata: TemplateMetadata {
            portc: Provenance {
                source,
                egress: if egress {
                    "filtered: each group sends only its declared flows".to_string()
                } else {
                    "not filtered: EC2's default rule allows every egress (build with --egress to filter it)"
                        .to_string()
                },
                roles,
                node_local: plan.local.iter().cloned().collect(),
                workloads: plan.workloads.iter().cloned().collect(),
                left_out: plan.left_out.iter().cloned().collect(),
            },
        },
        parameters: BTreeMap::from([(
            "VpcId".to_string(),
            Parameter {
                kind: "AWS::EC2::VPC::Id".to_string(),
                description: "The VPC of the instances the security groups are for".to_string(),
            },
        )]),
        resources: Resources { plan, egress, tally: std::cell::RefCell::default() },
        outputs,
    }
}

/// A group's resources: the group with its inline rules, then its rules that name other groups,
/// by logical id; counted in `tally`.
fn group_resources(plan: &Plan, subject: NodeId, egress: bool, tally: &mut Tally) -> Vec<(String, Resource)> {
    let Some(id) = plan.ids.get(&subject) else { return Vec::new() };
    let rules = plan.rules(subject);
    let role = role_text(plan, subject);
    let mut ingress = Vec::new();
    let mut egress_rules = Vec::new();
    let mut resources = BTreeMap::new();
    for (peer, allowed) in plan.peers(&rules.ingress) {
        add_rules(plan, id, peer, allowed, true, &mut ingress, &mut resources);
    }
    for (peer, allowed) in plan.peers(&rules.egress) {
        add_rules(plan, id, peer, allowed, false, &mut egress_rules, &mut resources);
    }
    if egress && egress_rules.is_empty() {
        egress_rules.push(Rule {
            ip_protocol: "-1".to_string(),
            from_port: None,
            to_port: None,
            cidr_ip: Some(NOTHING.to_string()),
            cidr_ipv6: None,
            description:
                "portc: matches nothing; replaces the allow-all egress EC2 adds to a group without egress rules"
                    .to_string(),
        });
    }
    let [inbound, outbound] = tally.rules.entry(subject).or_default();
    for (count, inline) in [(&mut *inbound, &ingress), (&mut *outbound, &egress_rules)] {
        count[0] += inline.iter().filter(|r| r.cidr_ip.is_some()).count();
        count[1] += inline.iter().filter(|r| r.cidr_ipv6.is_some()).count();
    }
    for resource in resources.values() {
        // A rule that names a group counts for both families.
        let count = if matches!(resource, Resource::Egress(_)) { &mut *outbound } else { &mut *inbound };
        count[0] += 1;
        count[1] += 1;
    }
    let group = SecurityGroup {
        group_description: description(&format!("portc: {role}")),
        vpc_id: Value::Ref("VpcId".to_string()),
        security_group_ingress: ingress,
        security_group_egress: egress_rules,
        tags: vec![
            Tag { key: "Name".to_string(), value: format!("portc-{}", plan.name(subject)) },
            Tag { key: "portc:role".to_string(), value: plan.name(subject).to_string() },
        ],
    };
    let mut out = vec![(id.clone(), Resource::SecurityGroup(group))];
    for (key, resource) in resources {
        let key = if plan.entangled.contains(&subject) {
            let mut unique = key.clone();
            let mut n = 2;
            while !tally.taken.insert(unique.clone()) {
                unique = format!("{key}Rule{n}");
                n += 1;
            }
            unique
        } else {
            key
        };
        out.push((key, resource));
    }
    tally.resources += out.len();
    out
}

/// `etcd: etcd plane nodes [rancher.roles:40]`.
fn role_text(plan: &Plan, role: NodeId) -> String {
    let Some(node) = plan.program.nodes.get(role.index()) else { return plan.name(role).to_string() };
    let module = plan.program.modules.get(node.module.index()).map_or("?", |m| m.name.as_str());
    let description = node.description.as_deref().map(|d| format!("{d} ")).unwrap_or_default();
    format!("{}: {description}[{module}:{}]", plan.name(role), node.line)
}

/// The rules for one peer of a group: inline rules per address prefix, or a resource per rule
/// between two groups.
fn add_rules(
    plan: &Plan,
    group: &str,
    peer: Peer,
    allowed: &Allowed,
    ingress: bool,
    inline: &mut Vec<Rule>,
    resources: &mut BTreeMap<String, Resource>,
) {
    for entry in entries(allowed) {
        let (ip_protocol, from_port, to_port) = entry.fields();
        match peer {
            Peer::Group(other) => {
                let Some(other_id) = plan.ids.get(&other) else { continue };
                let rule = GroupRule {
                    group_id: get_att(group),
                    ip_protocol,
                    from_port,
                    to_port,
                    source_security_group_id: ingress.then(|| get_att(other_id)),
                    destination_security_group_id: (!ingress).then(|| get_att(other_id)),
                    description: entry.description(),
                };
                let subject = group.trim_start_matches("SecurityGroup");
                let peer_id = other_id.trim_start_matches("SecurityGroup");
                let (kind, resource) = if ingress {
                    (format!("Ingress{subject}From{peer_id}"), Resource::Ingress(rule))
                } else {
                    (format!("Egress{subject}To{peer_id}"), Resource::Egress(rule))
                };
                resources.insert(format!("{kind}{}", entry.id()), resource);
            }
            Peer::Addresses(node) => {
                for net in super::networkpolicy::aggregate(plan.addresses(node)) {
                    let v4 = !net.contains(':');
                    if entry.family().is_some_and(|f| f != v4) {
                        continue;
                    }
                    inline.push(Rule {
                        ip_protocol: ip_protocol.clone(),
                        from_port,
                        to_port,
                        cidr_ip: v4.then(|| net.clone()),
                        cidr_ipv6: (!v4).then(|| net.clone()),
                        description: entry.description(),
                    });
                }
            }
        }
    }
}

/// W0320 for each group and direction with more rules than EC2's default quota.
fn quota_lints(plan: &Plan, tally: &Tally) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for subject in plan.by_name() {
        let Some(count) = tally.rules.get(&subject) else { continue };
        let Some(node) = plan.program.nodes.get(subject.index()) else { continue };
        for (direction, [v4, v6]) in ["inbound", "outbound"].into_iter().zip(count) {
            if *v4 <= RULES_PER_GROUP && *v6 <= RULES_PER_GROUP {
                continue;
            }
            out.push(
                Diagnostic::new(
                    Code::SecurityGroupRuleQuota,
                    format!(
                        "the security group of `{}` has {v4} IPv4 and {v6} IPv6 {direction} rules, more than EC2's default quota of {RULES_PER_GROUP}",
                        plan.name(subject)
                    ),
                    node.span,
                    "this role's security group",
                )
                .with_note("EC2 counts the rules of each address family apart; a rule that names a security group counts for both")
                .with_note("CloudFormation fails to create the group until the quota `Inbound or outbound rules per security group` is raised")
                .with_help("ask for a higher quota, or merge peers' addresses and port ranges in the site file"),
            );
        }
    }
    out
}

/// W0321 when the template is over a CloudFormation limit.
fn template_lints(plan: &Plan, resources: usize, outputs: usize, bytes: usize) -> Vec<Diagnostic> {
    let mut over = Vec::new();
    if resources > MAX_RESOURCES {
        over.push(format!("{resources} resources (at most {MAX_RESOURCES})"));
    }
    if outputs > MAX_OUTPUTS {
        over.push(format!("{outputs} outputs (at most {MAX_OUTPUTS})"));
    }
    if bytes > MAX_TEMPLATE_BYTES {
        over.push(format!("{bytes} bytes (at most {MAX_TEMPLATE_BYTES})"));
    }
    let Some(first) = plan.by_name().first().and_then(|id| plan.program.nodes.get(id.index())) else {
        return Vec::new();
    };
    if over.is_empty() {
        return Vec::new();
    }
    vec![
        Diagnostic::new(
            Code::TemplateTooLarge,
            format!("the CloudFormation template is over its limits: {}", over.join(", ")),
            first.span,
            "one of its security groups",
        )
        .with_note("CloudFormation refuses a template over these limits")
        .with_help("build parts of the site apart (a site file per cluster), or merge peers and port ranges"),
    ]
}

/// A writer that counts the bytes written through it, for the template's size limit.
struct Counted<'w> {
    inner: &'w mut dyn std::io::Write,
    bytes: usize,
}

impl std::io::Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
