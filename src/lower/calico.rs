//! The `calico` target: Calico `GlobalNetworkPolicy` objects for node roles (roles bound to
//! `nodes {...}`), enforced on the nodes' host endpoints.
//!
//! Per node role: one policy selecting the role's host endpoints (those labelled
//! `portc/host-endpoint`, never a pod) by the node labels, with ingress rules and, with
//! `--egress`, egress rules; without it, one rule allows every egress, since a host endpoint
//! denies both directions by default. One rule per peer, protocol and address family: Calico
//! refuses a rule that mixes IPv4 and IPv6. Flows into the NodePort range also get a pre-DNAT
//! pair: allows at order 10 (with the cluster's own traffic: its nodes and its pods), then a deny
//! of the rest of the range at order 20, because forwarded NodePort traffic never meets the
//! normal host endpoint policy. The types below are Calico's `projectcalico.org/v3` resources,
//! written out with unknown fields denied.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::kubernetes::{self, Dialect, Peer, Plan, annotation_key};
use super::{Allowed, Document, Lower, Lowered, TargetOptions};
use crate::ast::SelectorKind;
use crate::check::Checked;
use crate::diag::{Code, Diagnostic};
use crate::graph::Edge;
use crate::hir::{Cond, NodeId, Selector};
use crate::protocol::Protocol;

pub struct Calico;

/// Kubernetes' default Service NodePort range (`--service-node-port-range`).
pub const NODE_PORTS: (u16, u16) = (30000, 32767);

/// The label that marks the host endpoints portc's policies may select. A GlobalNetworkPolicy's
/// selector also matches workload endpoints, so a selector without it could put pods under a
/// host policy; docs/targets/kubernetes.md says how to label the host endpoints.
pub const HOST_ENDPOINT_LABEL: &str = "portc/host-endpoint";

/// Order of the main policies; pre-DNAT allows come at 10 and pre-DNAT denies at 20.
const ORDER_MAIN: u32 = 100;
const ORDER_NODEPORT_ALLOW: u32 = 10;
const ORDER_NODEPORT_DENY: u32 = 20;

/// Felix's default `failsafeInboundHostPorts`: accepted from anywhere, before any policy.
pub const FAILSAFE_INBOUND: &[(Protocol, u16)] = &[
    (Protocol::Tcp, 22),
    (Protocol::Udp, 68),
    (Protocol::Tcp, 179),
    (Protocol::Tcp, 2379),
    (Protocol::Tcp, 2380),
    (Protocol::Tcp, 5473),
    (Protocol::Tcp, 6443),
    (Protocol::Tcp, 6666),
    (Protocol::Tcp, 6667),
];

/// Felix's default `failsafeOutboundHostPorts`: allowed to anywhere, before any policy.
pub const FAILSAFE_OUTBOUND: &[(Protocol, u16)] = &[
    (Protocol::Udp, 53),
    (Protocol::Udp, 67),
    (Protocol::Tcp, 179),
    (Protocol::Tcp, 2379),
    (Protocol::Tcp, 2380),
    (Protocol::Tcp, 5473),
    (Protocol::Tcp, 6443),
    (Protocol::Tcp, 6666),
    (Protocol::Tcp, 6667),
];

const DIALECT: Dialect = Dialect {
    name: "Calico",
    subject: SelectorKind::Nodes,
    selects: |_| true,
    protocol_gap: |_| None,
    // Traffic that stays on a node never crosses a host endpoint: no rule is needed or possible.
    local_gap: None,
    policy: "Calico policy",
    protocol_alternative: "",
    names_otherwise: |_, _| false,
};

/// A `projectcalico.org/v3` `GlobalNetworkPolicy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalNetworkPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: GlobalNetworkPolicySpec,
}

/// The part of `metadata` portc writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalNetworkPolicySpec {
    pub order: u32,
    /// The endpoints the policy applies to, in Calico's selector syntax.
    pub selector: String,
    pub types: Vec<PolicyType>,
    #[serde(rename = "preDNAT", default, skip_serializing_if = "is_false")]
    pub pre_dnat: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub apply_on_forward: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<Rule>,
}

fn is_false(value: &bool) -> bool {
    !value
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyType {
    Ingress,
    Egress,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub action: Action,
    /// 4 or 6: the family of the rule's nets, or of its ICMP protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<EntityRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<EntityRule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Allow,
    Deny,
}

/// `TCP`, `UDP`, `SCTP`, `ICMP`, `ICMPv6`, or an IP protocol number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProtocolValue {
    Number(u8),
    Name(String),
}

/// A port, or a range written `start:end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortValue {
    Number(u16),
    Range(String),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntityRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortValue>,
}

const DESCRIPTION: super::Description = super::Description {
    name: "calico",
    about: "Calico GlobalNetworkPolicies for the roles bound to nodes",
    per_host: false,
    settings: &[super::Setting::Egress, super::Setting::AllowLossy],
    extension: "yaml",
    documents: true,
    site: true,
};

impl Lower for Calico {
    fn description(&self) -> &'static super::Description {
        &DESCRIPTION
    }

    fn precondition(&self, program: &crate::hir::Program) -> Result<(), String> {
        if super::selects(program, SelectorKind::Nodes) {
            return Ok(());
        }
        Err("no role is bound to nodes, so there is no Calico host policy to build: bind a node role, \
             `bind etcd = nodes { \"node-role.kubernetes.io/etcd\": \"true\" }`"
            .into())
    }

    fn lower(&self, policy: &Checked, options: &TargetOptions) -> Lowered {
        let mut plan = kubernetes::plan(policy, &DIALECT, options.egress, options.allow_lossy)?;
        let mut warnings = std::mem::take(&mut plan.warnings);
        warnings.extend(failsafe_lints(policy, &plan, options.egress));
        let cluster = ClusterSources::find(&plan);
        let mut documents = Vec::new();
        let mut nodeport_roles = Vec::new();
        for policy in plan.policies() {
            let (subject, rules, selector, name) = (policy.id, &policy.rules, policy.selector, &policy.name);
            let role = plan.name(subject).to_string();
            let mut comments = kubernetes::comment_lines(
                "Node-local flows need no rule (they never cross a host endpoint):",
                &rules.local,
            );
            comments.push_str(&kubernetes::comment_lines(
                "Left out with --allow-lossy (this traffic stays blocked):",
                &rules.left_out,
            ));
            let main = main_policy(&plan, &policy, options.egress);
            documents.push(document(
                &plan,
                &format!("GlobalNetworkPolicy for the nodes of role {role}"),
                &comments,
                &main,
            ));
            let nodeport_peers: BTreeMap<NodeId, Allowed> =
                rules.ingress.iter().filter_map(|(peer, allowed)| Some((*peer, nodeport_part(allowed)?))).collect();
            if nodeport_peers.is_empty() {
                continue;
            }
            nodeport_roles.push(subject);
            for nodeports in nodeport_policies(&plan, subject, selector, name, &nodeport_peers, &cluster) {
                documents.push(document(
                    &plan,
                    &format!("Pre-DNAT GlobalNetworkPolicy for the NodePorts of role {role}"),
                    "",
                    &nodeports,
                ));
            }
        }
        warnings.extend(cluster.unbound_pods(&plan, &nodeport_roles));
        Ok((documents, warnings))
    }
}

fn document(plan: &Plan, what: &str, comments: &str, policy: &GlobalNetworkPolicy) -> Document {
    // Typed structs of strings, numbers and string-keyed maps: nothing the serializer can refuse.
    let yaml = serde_saphyr::to_string(policy).expect("invariant: a GlobalNetworkPolicy serialises to YAML");
    let mut text = String::from("---\n");
    text.push_str(&kubernetes::header(
        plan,
        what,
        "Apply with: kubectl apply -f FILE (Calico API server) or calicoctl apply -f FILE",
    ));
    text.push_str(comments);
    text.push_str(&yaml);
    Document { name: format!("{}.yaml", policy.metadata.name), text }
}

fn metadata(name: String, annotations: BTreeMap<String, String>) -> Metadata {
    Metadata {
        name,
        labels: BTreeMap::from([(kubernetes::MANAGED_BY.0.to_string(), kubernetes::MANAGED_BY.1.to_string())]),
        annotations,
    }
}

fn main_policy(plan: &Plan, policy: &kubernetes::Policy, egress: bool) -> GlobalNetworkPolicy {
    let (subject, rules, selector, name) = (policy.id, &policy.rules, policy.selector, policy.name.as_str());
    let mut annotations = kubernetes::role_annotation(plan, subject);
    let mut ingress = Vec::new();
    let mut egress_rules = Vec::new();
    for (peer, allowed) in plan.by_name(&rules.ingress) {
        annotations.insert(annotation_key("from", plan, peer), kubernetes::rule_annotation(plan, peer, true, allowed));
        ingress.extend(rules_for(plan, peer, allowed, true, Action::Allow));
    }
    for (peer, allowed) in plan.by_name(&rules.egress) {
        annotations.insert(annotation_key("to", plan, peer), kubernetes::rule_annotation(plan, peer, false, allowed));
        egress_rules.extend(rules_for(plan, peer, allowed, false, Action::Allow));
    }
    if !egress {
        // A host endpoint denies both directions once it exists: without --egress, say so and
        // allow every egress, as the host firewall targets leave it alone.
        annotations.insert(
            format!("{}/egress", kubernetes::ANNOTATION),
            "not filtered: every egress is allowed (build with --egress to filter it)".to_string(),
        );
        egress_rules.push(Rule {
            action: Action::Allow,
            ip_version: None,
            protocol: None,
            source: None,
            destination: None,
        });
    }
    GlobalNetworkPolicy {
        api_version: "projectcalico.org/v3".to_string(),
        kind: "GlobalNetworkPolicy".to_string(),
        metadata: metadata(name.to_string(), annotations),
        spec: GlobalNetworkPolicySpec {
            order: ORDER_MAIN,
            selector: host_selector(&selector.labels),
            types: vec![PolicyType::Ingress, PolicyType::Egress],
            pre_dnat: false,
            apply_on_forward: false,
            ingress,
            egress: egress_rules,
        },
    }
}

/// The part of what a peer may reach that lies in the NodePort range.
fn nodeport_part(allowed: &Allowed) -> Option<Allowed> {
    let mut part = Allowed::default();
    for ((protocol, start, end), comments) in &allowed.ported {
        let (low, high) = ((*start).max(NODE_PORTS.0), (*end).min(NODE_PORTS.1));
        if low <= high {
            part.ported.insert((*protocol, low, high), comments.clone());
        }
    }
    (!part.ported.is_empty()).then_some(part)
}

/// What the pre-DNAT policies let through before their deny, as Calico's guide to securing
/// NodePorts does: the cluster's own traffic, from its nodes and its pods.
struct ClusterSources {
    /// `kubernetes.cluster`'s `pod_cidr`, when the program uses it.
    pods: Option<NodeId>,
}

impl ClusterSources {
    fn find(plan: &Plan) -> ClusterSources {
        ClusterSources { pods: super::host::Networks::find(plan.program).pods }
    }

    /// Allows from every host endpoint portc selects (the nodes) and from the Pod CIDR.
    fn rules(&self, plan: &Plan) -> Vec<Rule> {
        let nodes = EntityRule { selector: Some(host_selector(&[])), ..EntityRule::default() };
        let mut rules = vec![Rule {
            action: Action::Allow,
            ip_version: None,
            protocol: None,
            source: Some(nodes),
            destination: None,
        }];
        let pods = self.pods.and_then(|p| plan.node(p)).map(|n| n.addresses.as_slice()).unwrap_or_default();
        for (version, nets) in by_family(pods) {
            let source = EntityRule { nets, ..EntityRule::default() };
            rules.push(Rule {
                action: Action::Allow,
                ip_version: Some(version),
                protocol: None,
                source: Some(source),
                destination: None,
            });
        }
        rules
    }

    /// W0305 when NodePort roles get a pre-DNAT deny and the program leaves `pod_cidr` unbound:
    /// the deny would then drop the pods' own NodePort traffic.
    fn unbound_pods(&self, plan: &Plan, roles: &[NodeId]) -> Vec<Diagnostic> {
        let Some(pods) = self.pods.and_then(|p| plan.node(p)).filter(|n| n.addresses.is_empty()) else {
            return Vec::new();
        };
        if roles.is_empty() {
            return Vec::new();
        }
        let list: Vec<&str> = roles.iter().map(|r| plan.name(*r)).collect();
        vec![
            Diagnostic::new(
                Code::ClusterNetworkUnbound,
                format!(
                    "the Pod CIDR is not bound: the pre-DNAT deny drops the pods' own NodePort traffic to `{}`",
                    list.join(", ")
                ),
                pods.span,
                "declared here, never bound",
            )
            .with_note("the pre-DNAT policies let the cluster's own traffic through before their deny: its nodes, and its pods by their addresses")
            .with_help("bind the cluster's Pod CIDR in the site file: `bind pod_cidr = 10.42.0.0/16`"),
        ]
    }
}

/// The pre-DNAT pair of a role that receives NodePort traffic: the cluster's own traffic and its
/// allows, then a deny of the rest of the range (pre-DNAT policy has no default deny of its own).
fn nodeport_policies(
    plan: &Plan,
    subject: NodeId,
    selector: &Selector,
    name: &str,
    peers: &BTreeMap<NodeId, Allowed>,
    cluster: &ClusterSources,
) -> [GlobalNetworkPolicy; 2] {
    let mut annotations = BTreeMap::from([(
        format!("{}/cluster", kubernetes::ANNOTATION),
        "the cluster's own traffic (its nodes' host endpoints and its Pod CIDR) reaches the NodePorts, as Calico's \
         guide to securing NodePorts does"
            .to_string(),
    )]);
    let mut allows = cluster.rules(plan);
    for (peer, allowed) in plan.by_name(peers) {
        annotations.insert(annotation_key("from", plan, peer), kubernetes::rule_annotation(plan, peer, true, allowed));
        allows.extend(rules_for(plan, peer, allowed, true, Action::Allow));
    }
    let range = PortValue::Range(format!("{}:{}", NODE_PORTS.0, NODE_PORTS.1));
    let denies = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
        .into_iter()
        .map(|protocol| Rule {
            action: Action::Deny,
            ip_version: None,
            protocol: Some(protocol_value(protocol)),
            source: None,
            destination: Some(EntityRule { ports: vec![range.clone()], ..EntityRule::default() }),
        })
        .collect();
    let spec = |order, ingress| GlobalNetworkPolicySpec {
        order,
        selector: host_selector(&selector.labels),
        types: vec![PolicyType::Ingress],
        pre_dnat: true,
        apply_on_forward: true,
        ingress,
        egress: Vec::new(),
    };
    let deny_note = BTreeMap::from([(
        format!("{}/role", kubernetes::ANNOTATION),
        format!(
            "{}: NodePorts {}-{} from anyone the allows at order {ORDER_NODEPORT_ALLOW} did not name",
            plan.name(subject),
            NODE_PORTS.0,
            NODE_PORTS.1
        ),
    )]);
    [
        GlobalNetworkPolicy {
            api_version: "projectcalico.org/v3".to_string(),
            kind: "GlobalNetworkPolicy".to_string(),
            metadata: metadata(format!("{name}.nodeports"), annotations),
            spec: spec(ORDER_NODEPORT_ALLOW, allows),
        },
        GlobalNetworkPolicy {
            api_version: "projectcalico.org/v3".to_string(),
            kind: "GlobalNetworkPolicy".to_string(),
            metadata: metadata(format!("{name}.nodeports-deny"), deny_note),
            spec: spec(ORDER_NODEPORT_DENY, denies),
        },
    ]
}

/// One rule per protocol and address family toward (or from) one peer. Calico refuses a rule
/// whose nets mix IPv4 and IPv6 (`validateRule`), so a peer with both gets a rule per family;
/// ICMP matches only IPv4 and ICMPv6 only IPv6.
fn rules_for(plan: &Plan, peer: NodeId, allowed: &Allowed, ingress: bool, action: Action) -> Vec<Rule> {
    let Some(entities) = peer_entities(plan, peer) else { return Vec::new() };
    let mut ports: BTreeMap<Protocol, Vec<PortValue>> = BTreeMap::new();
    for (protocol, start, end) in allowed.ported.keys() {
        let port = if start == end { PortValue::Number(*start) } else { PortValue::Range(format!("{start}:{end}")) };
        ports.entry(*protocol).or_default().push(port);
    }
    let portless = allowed.portless.keys().map(|p| (*p, Vec::new()));
    let mut rules = Vec::new();
    for (protocol, ports) in ports.into_iter().chain(portless) {
        let family = match protocol {
            Protocol::Icmp => Some(4),
            Protocol::Icmpv6 => Some(6),
            _ => None,
        };
        for (version, entity) in &entities {
            let ip_version = match (family, *version) {
                (Some(f), Some(v)) if f != v => continue,
                (Some(f), _) => Some(f),
                (None, v) => v,
            };
            let (source, destination) = if ingress {
                (
                    Some(entity.clone()),
                    (!ports.is_empty()).then(|| EntityRule { ports: ports.clone(), ..EntityRule::default() }),
                )
            } else {
                (None, Some(EntityRule { ports: ports.clone(), ..entity.clone() }))
            };
            rules.push(Rule { action, ip_version, protocol: Some(protocol_value(protocol)), source, destination });
        }
    }
    rules
}

/// The peer as Calico entities: a selector over endpoint labels (and namespace, for pods), family
/// agnostic, or its nets, one entity per address family with its IP version.
fn peer_entities(plan: &Plan, peer: NodeId) -> Option<Vec<(Option<u8>, EntityRule)>> {
    match plan.peer(peer, &DIALECT)? {
        Peer::Selector(selector) => {
            let entity = match selector.kind {
                SelectorKind::Nodes => {
                    EntityRule { selector: Some(host_selector(&selector.labels)), ..EntityRule::default() }
                }
                SelectorKind::Pods => EntityRule {
                    selector: Some(label_expression(&selector.labels).unwrap_or_else(|| "all()".to_string())),
                    namespace_selector: Some(format!(
                        "projectcalico.org/name == '{}'",
                        selector.namespace.as_deref().unwrap_or(super::networkpolicy::DEFAULT_NAMESPACE)
                    )),
                    ..EntityRule::default()
                },
            };
            Some(vec![(None, entity)])
        }
        Peer::Addresses(addresses) => Some(
            by_family(addresses)
                .into_iter()
                .map(|(version, nets)| (Some(version), EntityRule { nets, ..EntityRule::default() }))
                .collect(),
        ),
    }
}

/// Addresses as aggregated nets, per IP version, IPv4 first; families without addresses left out.
fn by_family(addresses: &[ipnet::IpNet]) -> Vec<(u8, Vec<String>)> {
    let nets = super::networkpolicy::aggregate(addresses);
    let (v4, v6): (Vec<String>, Vec<String>) = nets.into_iter().partition(|n| !n.contains(':'));
    [(4, v4), (6, v6)].into_iter().filter(|(_, nets)| !nets.is_empty()).collect()
}

/// A selector for the host endpoints of nodes with these labels: `has(portc/host-endpoint)`, then
/// the labels. Never `all()`, which would also select every pod.
fn host_selector(labels: &[(String, String)]) -> String {
    let marker = format!("has({HOST_ENDPOINT_LABEL})");
    match label_expression(labels) {
        Some(labels) => format!("{marker} && {labels}"),
        None => marker,
    }
}

/// `a == 'x' && has(b)`, or `None` without labels. An empty value selects on the label's
/// presence, the way Kubernetes' role labels (`node-role.kubernetes.io/control-plane: ""`) are
/// meant. Label syntax is checked before, so values never hold a quote.
fn label_expression(labels: &[(String, String)]) -> Option<String> {
    if labels.is_empty() {
        return None;
    }
    let term = |(k, v): &(String, String)| if v.is_empty() { format!("has({k})") } else { format!("{k} == '{v}'") };
    Some(labels.iter().map(term).collect::<Vec<_>>().join(" && "))
}

fn protocol_value(protocol: Protocol) -> ProtocolValue {
    match protocol {
        Protocol::Tcp | Protocol::Udp | Protocol::Sctp | Protocol::Icmp => {
            ProtocolValue::Name(protocol.name().to_ascii_uppercase())
        }
        Protocol::Icmpv6 => ProtocolValue::Name("ICMPv6".to_string()),
        _ => ProtocolValue::Number(protocol.number()),
    }
}

/// W0304 for each node role with a flow on a failsafe port: Felix accepts that port from (or to)
/// anywhere before any policy, so the flow's peer restriction has no effect.
fn failsafe_lints(policy: &Checked, plan: &Plan, egress: bool) -> Vec<Diagnostic> {
    let graph = policy.graph();
    // role -> (inbound, protocol, port) -> flows
    type Hits = BTreeMap<(bool, Protocol, u16), BTreeSet<crate::hir::FlowId>>;
    let mut hits: BTreeMap<NodeId, Hits> = BTreeMap::new();
    let everywhere = |peer: NodeId| {
        plan.node(peer).is_some_and(|n| n.addresses.iter().any(|a| a.prefix_len() == 0) && n.selector.is_none())
    };
    let on = |edge: &Edge, list: &[(Protocol, u16)]| -> Vec<(Protocol, u16)> {
        list.iter()
            .copied()
            .filter(|(p, port)| *p == edge.protocol && edge.ports.is_some_and(|(s, e)| s <= *port && *port <= e))
            .collect()
    };
    for edge in graph.edges.iter().filter(|e| e.residual == Cond::Const(true) && !e.local) {
        if plan.is_subject(edge.to) && !everywhere(edge.from) {
            for (protocol, port) in on(edge, FAILSAFE_INBOUND) {
                hits.entry(edge.to).or_default().entry((true, protocol, port)).or_default().insert(edge.flow);
            }
        }
        if egress && plan.is_subject(edge.from) && !everywhere(edge.to) {
            for (protocol, port) in on(edge, FAILSAFE_OUTBOUND) {
                hits.entry(edge.from).or_default().entry((false, protocol, port)).or_default().insert(edge.flow);
            }
        }
    }
    let mut out = Vec::new();
    for (role, ports) in hits {
        let Some(selector) = plan.node(role).and_then(|n| n.selector.as_ref()) else { continue };
        let name = plan.name(role);
        // `tcp 22, 2379 and udp 68`
        let list = |inbound: bool| -> Vec<String> {
            let mut by_protocol: BTreeMap<Protocol, Vec<String>> = BTreeMap::new();
            for (_, protocol, port) in ports.keys().filter(|(i, _, _)| *i == inbound) {
                by_protocol.entry(*protocol).or_default().push(port.to_string());
            }
            by_protocol.into_iter().map(|(p, ports)| format!("{p} {}", ports.join(", "))).collect()
        };
        let (inbound, outbound) = (list(true), list(false));
        let mut parts = Vec::new();
        if !inbound.is_empty() {
            parts.push(format!("{} to `{name}` from anywhere", inbound.join(" and ")));
        }
        if !outbound.is_empty() {
            parts.push(format!("{} from `{name}` to anywhere", outbound.join(" and ")));
        }
        let flows: BTreeSet<crate::hir::FlowId> = ports.values().flatten().copied().collect();
        let mut d = Diagnostic::new(
            Code::FailsafeMoot,
            format!("Calico's failsafe rules accept {}, whatever these policies say", parts.join(", and ")),
            selector.span,
            "these nodes",
        );
        const SHOWN: usize = 4;
        for flow in flows.iter().take(SHOWN) {
            if let Some(f) = plan.program.flows.get(flow.index()) {
                d = d.with_secondary(f.span, "its peer restriction has no effect");
            }
        }
        if flows.len() > SHOWN {
            d = d.with_note(format!("{} more flows are in the same case", flows.len() - SHOWN));
        }
        out.push(
            d.with_note(
                "Felix accepts its failsafe ports before any policy, so a rule on them cannot narrow who connects",
            )
            .with_help(
                "once these policies allow what the nodes need, narrow Felix's failsafeInboundHostPorts and \
                     failsafeOutboundHostPorts (FelixConfiguration `default`), e.g. to `[]`",
            ),
        );
    }
    out
}
