//! The `cilium` target: Cilium `CiliumClusterwideNetworkPolicy` host policies for node roles
//! (roles bound to `nodes {...}`), enforced by Cilium's host firewall.
//!
//! Per node role: one policy whose `nodeSelector` has the role's node labels, with ingress
//! rules and, with `--egress`, egress rules; without it the policy has no egress section, so
//! Cilium leaves the nodes' egress alone (a direction goes into default deny only when a policy
//! that selects the endpoint has rules for it). One rule per peer and kind of match: `toPorts`
//! (ranges with `endPort`, at most 40 ports a rule) or `icmps` (every ICMP type of the family).
//! A peer bound to nodes is named by `fromNodes` (its node labels), a peer bound to pods by
//! `fromEndpoints` (its labels and namespace), `kubernetes.cluster`'s `pod_cidr` by the identity
//! every pod has (its namespace label), the whole address space by the entity `all`, and any
//! other peer by `fromCIDRSet`. Cilium gives the cluster's nodes and pods identities of their
//! own and never matches them by CIDR, so a CIDR peer that covers them gets W0322. The types
//! below are Cilium's `cilium.io/v2` resources, written out with unknown fields denied.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::kubernetes::{self, Dialect, Peer, Plan, annotation_key};
use super::{Allowed, Failed, Lower, Lowered, Sink, TargetOptions, Written};
use crate::ast::SelectorKind;
use crate::check::Checked;
use crate::diag::{Code, Diagnostic};
use crate::hir::{NodeId, Program, Selector};
use crate::protocol::Protocol;

pub struct Cilium;

/// The most ports (and ICMP fields) Cilium's CRD takes in one rule (`maxItems`).
pub const MAX_PER_RULE: usize = 40;

/// The port of cilium-health, which probes the health endpoint of every other node.
pub const HEALTH_PORT: u16 = 4240;

const DIALECT: Dialect = Dialect {
    name: "Cilium",
    subject: SelectorKind::Nodes,
    selects: |_| true,
    protocol_gap: |protocol| match protocol {
        Protocol::Ipip | Protocol::Gre | Protocol::Esp | Protocol::Ah => Some(
            "a Cilium rule matches TCP, UDP, SCTP, VRRP (toPorts) and ICMP (icmps) only, and a rule without them allows every protocol",
        ),
        _ => None,
    },
    // Traffic that stays on a node never passes the host firewall's devices: no rule is needed.
    local_gap: None,
    policy: "Cilium host policy",
    protocol_alternative: "; the calico and nftables targets express any IP protocol",
    names_otherwise: |program, node| super::host::Networks::find(program).pods == Some(node),
};

/// A `cilium.io/v2` `CiliumClusterwideNetworkPolicy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumClusterwideNetworkPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: super::calico::Metadata,
    pub spec: Spec,
}

/// A host policy: a rule with a node selector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    pub description: String,
    pub node_selector: LabelSelector,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<IngressRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressRule>,
}

/// A Kubernetes label selector, as Cilium's node and endpoint selectors take it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Who may send: exactly one of the `from*` lists is set; what: `toPorts` or `icmps`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_nodes: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_endpoints: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_entities: Vec<String>,
    #[serde(rename = "fromCIDRSet", default, skip_serializing_if = "Vec::is_empty")]
    pub from_cidr_set: Vec<CidrRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_ports: Vec<PortRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub icmps: Vec<IcmpRule>,
}

/// Where the node may send: exactly one of the `to*` peer lists is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EgressRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_nodes: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_endpoints: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_entities: Vec<String>,
    #[serde(rename = "toCIDRSet", default, skip_serializing_if = "Vec::is_empty")]
    pub to_cidr_set: Vec<CidrRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_ports: Vec<PortRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub icmps: Vec<IcmpRule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CidrRule {
    pub cidr: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRule {
    pub ports: Vec<PortProtocol>,
}

/// A port (a string in Cilium's API, which also takes names) or a range up to `endPort`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortProtocol {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<u16>,
    pub protocol: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcmpRule {
    pub fields: Vec<IcmpField>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcmpField {
    pub family: String,
    #[serde(rename = "type")]
    pub kind: u8,
}

const DESCRIPTION: super::Description = super::Description {
    name: "cilium",
    about: "Cilium host policies (CiliumClusterwideNetworkPolicy) for the roles bound to nodes",
    per_host: false,
    settings: &[super::Setting::Egress, super::Setting::AllowLossy],
    extension: "yaml",
    documents: true,
    site: true,
};

impl Lower for Cilium {
    fn description(&self) -> &'static super::Description {
        &DESCRIPTION
    }

    fn precondition(&self, program: &Program) -> Result<(), String> {
        if super::selects(program, SelectorKind::Nodes) {
            return Ok(());
        }
        Err("no role is bound to nodes, so there is no Cilium host policy to build: bind a node role, \
             `bind etcd = nodes { \"node-role.kubernetes.io/etcd\": \"true\" }`"
            .into())
    }

    fn lower(&self, policy: &Checked, options: &TargetOptions) -> Lowered {
        super::lowered_by_writing(self, policy, options)
    }

    /// Writes each node role's policy as soon as it is made.
    fn write(&self, policy: &Checked, options: &TargetOptions, sink: &mut dyn Sink) -> Written {
        let mut plan =
            kubernetes::plan(policy, &DIALECT, options.egress, options.allow_lossy).map_err(Failed::Errors)?;
        let ignored = ignored_labels(&plan);
        if !ignored.is_empty() {
            return Err(Failed::Errors(ignored));
        }
        let mut warnings = std::mem::take(&mut plan.warnings);
        let mut cidr_peers = CidrPeers::default();
        for policy in plan.policies() {
            let (subject, rules, name) = (policy.id, &policy.rules, &policy.name);
            cidr_peers.add(&plan, subject, rules);
            let mut comments = kubernetes::comment_lines(
                "Node-local flows need no rule (they never pass the host firewall's devices):",
                &rules.local,
            );
            comments.push_str(&kubernetes::comment_lines(
                "Left out with --allow-lossy (this traffic stays blocked):",
                &rules.left_out,
            ));
            let policy = host_policy(&plan, &policy, options.egress);
            let yaml = serde_saphyr::to_string(&policy)
                // Typed structs of strings, numbers and string-keyed maps: nothing the serializer can refuse.
                .expect("invariant: a CiliumClusterwideNetworkPolicy serialises to YAML");
            let out = sink.document(&format!("{name}.yaml"))?;
            out.write_all(b"---\n")?;
            out.write_all(
                kubernetes::header(
                    &plan,
                    &format!("CiliumClusterwideNetworkPolicy for the nodes of role {}", plan.name(subject)),
                    "Apply with: kubectl apply -f FILE (needs Cilium's host firewall, hostFirewall.enabled=true)",
                )
                .as_bytes(),
            )?;
            out.write_all(comments.as_bytes())?;
            out.write_all(yaml.as_bytes())?;
        }
        warnings.extend(cidr_peers.lints(&plan));
        Ok(warnings)
    }
}

fn host_policy(plan: &Plan, policy: &kubernetes::Policy, egress: bool) -> CiliumClusterwideNetworkPolicy {
    let (subject, rules, selector, name) = (policy.id, &policy.rules, policy.selector, policy.name.as_str());
    let mut annotations = kubernetes::role_annotation(plan, subject);
    let mut ingress = Vec::new();
    let mut egress_rules = Vec::new();
    for (peer, allowed) in plan.by_name(&rules.ingress) {
        annotations.insert(annotation_key("from", plan, peer), kubernetes::rule_annotation(plan, peer, true, allowed));
        let who = who(plan, peer);
        ingress.extend(matches(allowed).into_iter().map(|(to_ports, icmps)| IngressRule {
            from_nodes: who.nodes.clone(),
            from_endpoints: who.endpoints.clone(),
            from_entities: who.entities.clone(),
            from_cidr_set: who.cidrs.clone(),
            to_ports,
            icmps,
        }));
    }
    for (peer, allowed) in plan.by_name(&rules.egress) {
        annotations.insert(annotation_key("to", plan, peer), kubernetes::rule_annotation(plan, peer, false, allowed));
        let who = who(plan, peer);
        egress_rules.extend(matches(allowed).into_iter().map(|(to_ports, icmps)| EgressRule {
            to_nodes: who.nodes.clone(),
            to_endpoints: who.endpoints.clone(),
            to_entities: who.entities.clone(),
            to_cidr_set: who.cidrs.clone(),
            to_ports,
            icmps,
        }));
    }
    let prefix = kubernetes::ANNOTATION;
    if ingress.is_empty() {
        // A rule that names no peer matches nothing: Cilium's way to deny every ingress, since
        // a policy needs a rule section, and one with ingress rules puts ingress in default deny.
        annotations
            .insert(format!("{prefix}/ingress"), "no flow reaches these nodes: every ingress is denied".to_string());
        ingress.push(IngressRule::default());
    }
    if egress {
        // cilium-health probes the health endpoint of every other node, an endpoint with an
        // identity of its own (`health`), not the node: without this rule the probes fail.
        annotations.insert(
            format!("{prefix}/health"),
            format!("to the health entity: tcp {HEALTH_PORT} and ICMP echo, cilium-health's probes of the other nodes' health endpoints"),
        );
        egress_rules.push(EgressRule {
            to_entities: vec!["health".to_string()],
            to_ports: vec![PortRule {
                ports: vec![PortProtocol {
                    port: Some(HEALTH_PORT.to_string()),
                    end_port: None,
                    protocol: "TCP".to_string(),
                }],
            }],
            ..EgressRule::default()
        });
        egress_rules.push(EgressRule {
            to_entities: vec!["health".to_string()],
            icmps: vec![IcmpRule {
                fields: vec![
                    IcmpField { family: "IPv4".to_string(), kind: 8 },
                    IcmpField { family: "IPv6".to_string(), kind: 128 },
                ],
            }],
            ..EgressRule::default()
        });
    } else {
        annotations.insert(
            format!("{prefix}/egress"),
            "not filtered: the policy has no egress rules, so Cilium leaves egress alone (build with --egress to filter it)"
                .to_string(),
        );
    }
    CiliumClusterwideNetworkPolicy {
        api_version: "cilium.io/v2".to_string(),
        kind: "CiliumClusterwideNetworkPolicy".to_string(),
        metadata: super::calico::Metadata {
            name: name.to_string(),
            labels: BTreeMap::from([(kubernetes::MANAGED_BY.0.to_string(), kubernetes::MANAGED_BY.1.to_string())]),
            annotations,
        },
        spec: Spec {
            description: format!("portc: host policy of the nodes of role {}", plan.name(subject)),
            node_selector: LabelSelector { match_labels: labels(selector), match_expressions: Vec::new() },
            ingress,
            egress: egress_rules,
        },
    }
}

/// A peer as Cilium names it; exactly one of the lists is set.
#[derive(Default)]
struct Who {
    nodes: Vec<LabelSelector>,
    endpoints: Vec<LabelSelector>,
    entities: Vec<String>,
    cidrs: Vec<CidrRule>,
}

/// The key of the label every pod's identity has: its namespace.
const NAMESPACE_LABEL: &str = "k8s:io.kubernetes.pod.namespace";

fn who(plan: &Plan, peer: NodeId) -> Who {
    if super::host::Networks::find(plan.program).pods == Some(peer) {
        // Every pod: every endpoint whose identity has a namespace.
        let pods = LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![Requirement {
                key: NAMESPACE_LABEL.to_string(),
                operator: "Exists".to_string(),
                values: Vec::new(),
            }],
        };
        return Who { endpoints: vec![pods], ..Who::default() };
    }
    match plan.peer(peer, &DIALECT) {
        Some(Peer::Selector(selector)) => match selector.kind {
            // `nodes {}`: every node, this one and the others.
            SelectorKind::Nodes if selector.labels.is_empty() => {
                Who { entities: vec!["host".to_string(), "remote-node".to_string()], ..Who::default() }
            }
            SelectorKind::Nodes => Who {
                nodes: vec![LabelSelector { match_labels: labels(selector), ..LabelSelector::default() }],
                ..Who::default()
            },
            SelectorKind::Pods => {
                let mut match_labels = labels(selector);
                let namespace = selector.namespace.as_deref().unwrap_or(super::networkpolicy::DEFAULT_NAMESPACE);
                match_labels.insert(NAMESPACE_LABEL.to_string(), namespace.to_string());
                Who { endpoints: vec![LabelSelector { match_labels, ..LabelSelector::default() }], ..Who::default() }
            }
        },
        Some(Peer::Addresses(addresses)) if everywhere(addresses) => {
            Who { entities: vec!["all".to_string()], ..Who::default() }
        }
        Some(Peer::Addresses(addresses)) => Who {
            cidrs: super::networkpolicy::aggregate(addresses).into_iter().map(|cidr| CidrRule { cidr }).collect(),
            ..Who::default()
        },
        None => Who::default(),
    }
}

/// Whether addresses are every address of both families: anyone, in the cluster or outside it.
fn everywhere(addresses: &[ipnet::IpNet]) -> bool {
    let v4 = addresses.iter().any(|a| matches!(a, ipnet::IpNet::V4(_)) && a.prefix_len() == 0);
    let v6 = addresses.iter().any(|a| matches!(a, ipnet::IpNet::V6(_)) && a.prefix_len() == 0);
    v4 && v6
}

fn labels(selector: &Selector) -> BTreeMap<String, String> {
    selector.labels.iter().cloned().collect()
}

/// What one peer may reach, as the matches of its rules: `toPorts` of at most 40 ports each,
/// then `icmps` of at most 40 fields each (a rule that had both would need both to match).
fn matches(allowed: &Allowed) -> Vec<(Vec<PortRule>, Vec<IcmpRule>)> {
    let mut ports: Vec<PortProtocol> = allowed
        .ported
        .keys()
        .map(|(protocol, start, end)| PortProtocol {
            port: Some(start.to_string()),
            end_port: (end > start).then_some(*end),
            protocol: protocol.name().to_ascii_uppercase(),
        })
        .collect();
    if allowed.portless.contains_key(&Protocol::Vrrp) {
        ports.push(PortProtocol { port: None, end_port: None, protocol: "VRRP".to_string() });
    }
    let mut out: Vec<(Vec<PortRule>, Vec<IcmpRule>)> =
        ports.chunks(MAX_PER_RULE).map(|chunk| (vec![PortRule { ports: chunk.to_vec() }], Vec::new())).collect();
    for (protocol, family) in [(Protocol::Icmp, "IPv4"), (Protocol::Icmpv6, "IPv6")] {
        if !allowed.portless.contains_key(&protocol) {
            continue;
        }
        // The language's `icmp` is the whole protocol, and Cilium matches ICMP by type.
        let fields: Vec<IcmpField> = (0..=u8::MAX).map(|kind| IcmpField { family: family.to_string(), kind }).collect();
        out.extend(fields.chunks(MAX_PER_RULE).map(|chunk| (Vec::new(), vec![IcmpRule { fields: chunk.to_vec() }])));
    }
    out
}

/// Whether Cilium's default label filter leaves a node label out of the host endpoint's
/// identity, so that a `nodeSelector` on it selects no node (pkg/labelsfilter: patterns
/// anchored at the key's start; `kubernetes.io/hostname` is left out,
/// `node-role.kubernetes.io/etcd` is kept).
pub fn label_ignored(key: &str) -> bool {
    const IGNORED: &[&str] = &[
        "kubernetes.io",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "batch.kubernetes.io/job-completion-index",
        "k8s.io",
        "pod-template-generation",
        "pod-template-hash",
        "controller-revision-hash",
        "annotation",
        "etcd_node",
    ];
    (key.starts_with("io.kubernetes") && !key.starts_with("io.kubernetes.pod.namespace"))
        || key.contains("beta.kubernetes.io")
        || IGNORED.iter().any(|prefix| key.starts_with(prefix))
}

/// E0320 for a node role selected by a label Cilium leaves out of the host endpoint's identity.
fn ignored_labels(plan: &Plan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for subject in plan.subjects() {
        let Some(selector) = plan.node(subject).and_then(|n| n.selector.as_ref()) else { continue };
        let ignored: Vec<&str> = selector.labels.iter().map(|(k, _)| k.as_str()).filter(|k| label_ignored(k)).collect();
        if ignored.is_empty() {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::CiliumIgnoredLabel,
                format!(
                    "Cilium leaves `{}` out of a node's identity: the host policy of `{}` would select no node",
                    ignored.join("`, `"),
                    plan.name(subject)
                ),
                selector.span,
                "a label Cilium's host endpoints do not carry",
            )
            .with_note(
                "Cilium's default label filter drops node labels that start with kubernetes.io, k8s.io or \
                 io.kubernetes (and a few more) from the host endpoint, and a policy that selects no node \
                 fails open: the nodes stay unfiltered",
            )
            .with_help(
                "select the nodes by a label Cilium keeps (`node-role.kubernetes.io/...`, or one of your own: \
                 `kubectl label node NODE portc.example/role=etcd`), or keep the label in Cilium's filter (`labels`)",
            ),
        );
    }
    out
}

/// The CIDR peers of the policies written so far, for W0322: peer -> (subject, ingress).
#[derive(Default)]
struct CidrPeers(BTreeMap<NodeId, BTreeSet<(NodeId, bool)>>);

impl CidrPeers {
    fn add(&mut self, plan: &Plan, subject: NodeId, rules: &kubernetes::Rules) {
        for (ingress, side) in [(true, &rules.ingress), (false, &rules.egress)] {
            for peer in side.keys().filter(|p| matches!(plan.peer(**p, &DIALECT), Some(Peer::Addresses(_)))) {
                self.0.entry(*peer).or_default().insert((subject, ingress));
            }
        }
    }

    /// W0322 for each CIDR peer that covers the addresses of the cluster's own nodes or pods:
    /// Cilium gives those their own identities and matches only traffic from outside the cluster
    /// by CIDR.
    fn lints(self, plan: &Plan) -> Vec<Diagnostic> {
        let pods = super::host::Networks::find(plan.program).pods;
        // (name, addresses) of what Cilium knows by identity
        let mut known: Vec<(String, &[ipnet::IpNet])> = Vec::new();
        for (index, node) in plan.program.nodes.iter().enumerate() {
            let id = NodeId(crate::hir::next_id(index));
            let is_node = node.selector.as_ref().is_some_and(|s| s.kind == SelectorKind::Nodes);
            if (is_node || pods == Some(id)) && !node.addresses.is_empty() {
                known.push((plan.name(id).to_string(), &node.addresses));
            }
        }
        let peers = self.0;
        let mut out = Vec::new();
        for (peer, uses) in peers {
            if pods == Some(peer) {
                continue;
            }
            let Some(Peer::Addresses(addresses)) = plan.peer(peer, &DIALECT) else { continue };
            if everywhere(addresses) {
                continue;
            }
            let covered: Vec<&str> = known
                .iter()
                .filter(|(_, theirs)| addresses.iter().any(|a| theirs.iter().any(|t| a.contains(t) || t.contains(a))))
                .map(|(name, _)| name.as_str())
                .collect();
            let Some(node) = plan.node(peer) else { continue };
            if covered.is_empty() {
                continue;
            }
            let roles: BTreeSet<&str> = uses.iter().map(|(s, _)| plan.name(*s)).collect();
            out.push(
            Diagnostic::new(
                Code::CidrCoversCluster,
                format!(
                    "`{}` covers the addresses of `{}`, which Cilium never matches by CIDR: the host policies of `{}` admit only its traffic from outside the cluster",
                    plan.name(peer),
                    covered.join("`, `"),
                    roles.into_iter().collect::<Vec<_>>().join("`, `")
                ),
                node.span,
                "named by fromCIDRSet",
            )
            .with_note("Cilium gives the cluster's nodes and pods identities of their own (remote-node, host, the pods' labels) and applies CIDR rules only to traffic from outside the cluster")
            .with_help("name the cluster's nodes by their role (`bind worker = nodes {...}`) and its pods by `pod_cidr`, or set Cilium's policy-cidr-match-mode to `nodes`"),
        );
        }
        out
    }
}
