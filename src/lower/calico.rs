//! The `calico` target: Calico `GlobalNetworkPolicy` objects for node roles (roles bound to
//! `nodes {...}`), enforced on the nodes' host endpoints.
//!
//! Per node role: one policy selecting the role's host endpoints by the node labels, with ingress
//! and egress rules (once a host endpoint exists, Calico denies both directions by default), one
//! rule per peer and protocol. Flows into the NodePort range also get a pre-DNAT pair: allows
//! at order 10, then a deny of the rest of the range at order 20, because forwarded NodePort
//! traffic never meets the normal host endpoint policy. The types below are Calico's
//! `projectcalico.org/v3` resources, written out with unknown fields denied.

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

impl Lower for Calico {
    fn lower(&self, policy: &Checked, options: &TargetOptions) -> Lowered {
        // A host endpoint denies egress by default, so both directions are always built.
        let mut plan = kubernetes::plan(policy, &DIALECT, true, options.allow_lossy)?;
        let mut warnings = std::mem::take(&mut plan.warnings);
        warnings.extend(failsafe_lints(policy, &plan));
        let names = kubernetes::resource_names(&plan);
        let mut documents = Vec::new();
        for subject in plan.subjects() {
            let (Some(rules), Some(name)) = (plan.rules.get(&subject), names.get(&subject)) else { continue };
            let Some(selector) = plan.node(subject).and_then(|n| n.selector.as_ref()) else { continue };
            let role = plan.name(subject).to_string();
            let mut comments = kubernetes::comment_lines(
                "Node-local flows need no rule (they never cross a host endpoint):",
                &rules.local,
            );
            comments.push_str(&kubernetes::comment_lines(
                "Left out with --allow-lossy (this traffic stays blocked):",
                &rules.left_out,
            ));
            let main = main_policy(&plan, subject, selector, name);
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
            for nodeports in nodeport_policies(&plan, subject, selector, name, &nodeport_peers) {
                documents.push(document(
                    &plan,
                    &format!("Pre-DNAT GlobalNetworkPolicy for the NodePorts of role {role}"),
                    "",
                    &nodeports,
                ));
            }
        }
        Ok((documents, warnings))
    }
}

fn document(plan: &Plan, what: &str, comments: &str, policy: &GlobalNetworkPolicy) -> Document {
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

fn main_policy(plan: &Plan, subject: NodeId, selector: &Selector, name: &str) -> GlobalNetworkPolicy {
    let mut annotations = kubernetes::role_annotation(plan, subject);
    let mut ingress = Vec::new();
    let mut egress = Vec::new();
    if let Some(rules) = plan.rules.get(&subject) {
        for (peer, allowed) in plan.by_name(&rules.ingress) {
            annotations
                .insert(annotation_key("from", plan, peer), kubernetes::rule_annotation(plan, peer, true, allowed));
            ingress.extend(rules_for(plan, peer, allowed, true, Action::Allow));
        }
        for (peer, allowed) in plan.by_name(&rules.egress) {
            annotations
                .insert(annotation_key("to", plan, peer), kubernetes::rule_annotation(plan, peer, false, allowed));
            egress.extend(rules_for(plan, peer, allowed, false, Action::Allow));
        }
    }
    GlobalNetworkPolicy {
        api_version: "projectcalico.org/v3".to_string(),
        kind: "GlobalNetworkPolicy".to_string(),
        metadata: metadata(name.to_string(), annotations),
        spec: GlobalNetworkPolicySpec {
            order: ORDER_MAIN,
            selector: selector_expression(&selector.labels),
            types: vec![PolicyType::Ingress, PolicyType::Egress],
            pre_dnat: false,
            apply_on_forward: false,
            ingress,
            egress,
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

/// The pre-DNAT pair of a role that receives NodePort traffic: its allows, then a deny of the
/// rest of the range (pre-DNAT policy has no default deny of its own).
fn nodeport_policies(
    plan: &Plan,
    subject: NodeId,
    selector: &Selector,
    name: &str,
    peers: &BTreeMap<NodeId, Allowed>,
) -> [GlobalNetworkPolicy; 2] {
    let mut annotations = BTreeMap::new();
    let mut allows = Vec::new();
    for (peer, allowed) in plan.by_name(peers) {
        annotations.insert(annotation_key("from", plan, peer), kubernetes::rule_annotation(plan, peer, true, allowed));
        allows.extend(rules_for(plan, peer, allowed, true, Action::Allow));
    }
    let range = PortValue::Range(format!("{}:{}", NODE_PORTS.0, NODE_PORTS.1));
    let denies = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
        .into_iter()
        .map(|protocol| Rule {
            action: Action::Deny,
            protocol: Some(protocol_value(protocol)),
            source: None,
            destination: Some(EntityRule { ports: vec![range.clone()], ..EntityRule::default() }),
        })
        .collect();
    let spec = |order, ingress| GlobalNetworkPolicySpec {
        order,
        selector: selector_expression(&selector.labels),
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

/// One rule per protocol toward (or from) one peer.
fn rules_for(plan: &Plan, peer: NodeId, allowed: &Allowed, ingress: bool, action: Action) -> Vec<Rule> {
    let Some(entity) = peer_entity(plan, peer) else { return Vec::new() };
    let mut ports: BTreeMap<Protocol, Vec<PortValue>> = BTreeMap::new();
    for (protocol, start, end) in allowed.ported.keys() {
        let port = if start == end { PortValue::Number(*start) } else { PortValue::Range(format!("{start}:{end}")) };
        ports.entry(*protocol).or_default().push(port);
    }
    let mut rules = Vec::new();
    let mut push = |protocol: Protocol, ports: Vec<PortValue>| {
        let (source, destination) = if ingress {
            (Some(entity.clone()), (!ports.is_empty()).then(|| EntityRule { ports, ..EntityRule::default() }))
        } else {
            (None, Some(EntityRule { ports, ..entity.clone() }))
        };
        rules.push(Rule { action, protocol: Some(protocol_value(protocol)), source, destination });
    };
    for (protocol, ports) in ports {
        push(protocol, ports);
    }
    for protocol in allowed.portless.keys() {
        push(*protocol, Vec::new());
    }
    rules
}

/// The peer as a Calico entity: a selector over endpoint labels (and namespace, for pods), or nets.
fn peer_entity(plan: &Plan, peer: NodeId) -> Option<EntityRule> {
    match plan.peer(peer, &DIALECT)? {
        Peer::Selector(selector) => Some(EntityRule {
            selector: Some(selector_expression(&selector.labels)),
            namespace_selector: (selector.kind == SelectorKind::Pods).then(|| {
                format!(
                    "projectcalico.org/name == '{}'",
                    selector.namespace.as_deref().unwrap_or(super::networkpolicy::DEFAULT_NAMESPACE)
                )
            }),
            ..EntityRule::default()
        }),
        Peer::Addresses(addresses) => {
            Some(EntityRule { nets: super::networkpolicy::aggregate(addresses), ..EntityRule::default() })
        }
    }
}

/// `a == 'x' && has(b)`, or `all()` for a selector without labels. An empty value selects on the
/// label's presence, the way Kubernetes' role labels (`node-role.kubernetes.io/control-plane: ""`)
/// are meant. Label syntax is checked before, so values never hold a quote.
fn selector_expression(labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return "all()".to_string();
    }
    let term = |(k, v): &(String, String)| if v.is_empty() { format!("has({k})") } else { format!("{k} == '{v}'") };
    labels.iter().map(term).collect::<Vec<_>>().join(" && ")
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
fn failsafe_lints(policy: &Checked, plan: &Plan) -> Vec<Diagnostic> {
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
        if plan.rules.contains_key(&edge.to) && !everywhere(edge.from) {
            for (protocol, port) in on(edge, FAILSAFE_INBOUND) {
                hits.entry(edge.to).or_default().entry((true, protocol, port)).or_default().insert(edge.flow);
            }
        }
        if plan.rules.contains_key(&edge.from) && !everywhere(edge.to) {
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
