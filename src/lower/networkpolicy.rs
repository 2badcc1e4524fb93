//! The `networkpolicy` target: one `networking.k8s.io/v1` NetworkPolicy per workload role (a role
//! bound to `pods {...}`), in the role's namespace, selecting its pods.
//!
//! Each policy isolates its pods for ingress (and, with `--egress`, for egress) and allows exactly
//! the declared flows: one rule per peer, the peer named by pod and namespace selector when it is
//! bound to pods, else by an `ipBlock` per address prefix. The manifests are built from the
//! `k8s-openapi` types, so they have the API's own field names and order.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::kubernetes::{self, Dialect, Peer, Plan, annotation_key};
use super::{Allowed, Document, Lower, Lowered, TargetOptions};
use crate::ast::SelectorKind;
use crate::check::Checked;
use crate::diag::{Code, Diagnostic};
use crate::hir::{NodeId, Selector};
use crate::protocol::Protocol;

pub struct NetworkPolicies;

/// The namespace of pods bound without `in namespace`, as for any Kubernetes object.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The label the API server puts on every namespace, naming it.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

const DIALECT: Dialect = Dialect {
    name: "NetworkPolicy",
    subject: SelectorKind::Pods,
    selects: |kind| kind == SelectorKind::Pods,
    protocol_gap: |protocol| match protocol {
        Protocol::Tcp | Protocol::Udp | Protocol::Sctp => None,
        _ => {
            Some("a NetworkPolicy port matches TCP, UDP and SCTP only, and a rule without ports allows every protocol")
        }
    },
    local_gap: Some("a NetworkPolicy never filters traffic that stays inside a pod or on its node"),
    policy: "NetworkPolicy",
    protocol_alternative: "; the calico target expresses any IP protocol",
    names_otherwise: |_, _| false,
};

const DESCRIPTION: super::Description = super::Description {
    name: "networkpolicy",
    about: "Kubernetes NetworkPolicies for the roles bound to pods",
    per_host: false,
    settings: &[super::Setting::Egress, super::Setting::AllowLossy],
    extension: "yaml",
    documents: true,
    site: true,
};

impl Lower for NetworkPolicies {
    fn description(&self) -> &'static super::Description {
        &DESCRIPTION
    }

    fn precondition(&self, program: &crate::hir::Program) -> Result<(), String> {
        if super::selects(program, SelectorKind::Pods) {
            return Ok(());
        }
        Err("no role is bound to pods, so there is no NetworkPolicy to build: bind a workload role, \
             `bind api = pods { app: api } in namespace \"shop\"`"
            .into())
    }

    fn lower(&self, policy: &Checked, options: &TargetOptions) -> Lowered {
        let mut plan = kubernetes::plan(policy, &DIALECT, options.egress, options.allow_lossy)?;
        let mut warnings = std::mem::take(&mut plan.warnings);
        let mut documents = Vec::new();
        for policy in plan.policies() {
            let (subject, rules, selector, name) = (policy.id, &policy.rules, policy.selector, &policy.name);
            if options.egress && !rules.egress.values().any(Allowed::reaches_dns) {
                warnings.push(no_dns(&plan, subject, selector));
            }
            warnings.extend(node_peers(&plan, subject, rules));
            let manifest = manifest(&plan, &policy, options.egress);
            // Typed k8s-openapi structs of strings, numbers and string-keyed maps: nothing the serializer can refuse.
            let yaml = serde_saphyr::to_string(&manifest).expect("invariant: a NetworkPolicy serialises to YAML");
            let namespace = namespace(selector);
            let mut text = String::from("---\n");
            text.push_str(&kubernetes::header(
                &plan,
                &format!("NetworkPolicy for the pods of role {}", plan.name(subject)),
                "Apply with: kubectl apply -f FILE",
            ));
            text.push_str(&kubernetes::comment_lines(
                "Left out with --allow-lossy (this traffic stays blocked):",
                &rules.left_out,
            ));
            text.push_str(&yaml);
            documents.push(Document { name: format!("{namespace}.{name}.yaml"), text });
        }
        Ok((documents, warnings))
    }
}

fn namespace(selector: &Selector) -> &str {
    selector.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
}

fn manifest(plan: &Plan, policy: &kubernetes::Policy, egress: bool) -> NetworkPolicy {
    let (subject, rules, selector, name) = (policy.id, &policy.rules, policy.selector, policy.name.as_str());
    let mut annotations = kubernetes::role_annotation(plan, subject);
    let mut ingress = Vec::new();
    for (peer, allowed) in plan.by_name(&rules.ingress) {
        annotations.insert(annotation_key("from", plan, peer), kubernetes::rule_annotation(plan, peer, true, allowed));
        ingress.push(NetworkPolicyIngressRule { from: Some(peers(plan, peer)), ports: Some(ports(allowed)) });
    }
    let mut egress_rules = Vec::new();
    for (peer, allowed) in plan.by_name(&rules.egress) {
        annotations.insert(annotation_key("to", plan, peer), kubernetes::rule_annotation(plan, peer, false, allowed));
        egress_rules.push(NetworkPolicyEgressRule { to: Some(peers(plan, peer)), ports: Some(ports(allowed)) });
    }
    let mut types = vec!["Ingress".to_string()];
    if egress {
        types.push("Egress".to_string());
    }
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace(selector).to_string()),
            labels: Some(BTreeMap::from([(
                kubernetes::MANAGED_BY.0.to_string(),
                kubernetes::MANAGED_BY.1.to_string(),
            )])),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(labels(selector)),
            policy_types: Some(types),
            ingress: (!ingress.is_empty()).then_some(ingress),
            egress: (!egress_rules.is_empty()).then_some(egress_rules),
        }),
    }
}

/// `matchLabels`, or the empty selector (every pod) for `pods {}`.
fn labels(selector: &Selector) -> LabelSelector {
    let labels: BTreeMap<String, String> = selector.labels.iter().cloned().collect();
    LabelSelector { match_labels: (!labels.is_empty()).then_some(labels), ..LabelSelector::default() }
}

/// The peers of one rule: one pod selector, or one `ipBlock` per address prefix.
fn peers(plan: &Plan, peer: NodeId) -> Vec<NetworkPolicyPeer> {
    match plan.peer(peer, &DIALECT) {
        Some(Peer::Selector(selector)) => vec![NetworkPolicyPeer {
            pod_selector: Some(labels(selector)),
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    NAMESPACE_NAME_LABEL.to_string(),
                    namespace(selector).to_string(),
                )])),
                ..LabelSelector::default()
            }),
            ip_block: None,
        }],
        Some(Peer::Addresses(addresses)) => aggregate(addresses)
            .into_iter()
            .map(|cidr| NetworkPolicyPeer {
                ip_block: Some(IPBlock { cidr, except: None }),
                ..NetworkPolicyPeer::default()
            })
            .collect(),
        None => Vec::new(),
    }
}

/// Address prefixes with host bits cleared and overlaps merged, IPv4 first.
pub(super) fn aggregate(addresses: &[ipnet::IpNet]) -> Vec<String> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for address in addresses {
        match address.trunc() {
            ipnet::IpNet::V4(net) => v4.push(net),
            ipnet::IpNet::V6(net) => v6.push(net),
        }
    }
    let v4 = ipnet::Ipv4Net::aggregate(&v4).into_iter().map(|n| n.to_string());
    let v6 = ipnet::Ipv6Net::aggregate(&v6).into_iter().map(|n| n.to_string());
    v4.chain(v6).collect()
}

fn ports(allowed: &Allowed) -> Vec<NetworkPolicyPort> {
    allowed
        .ported
        .keys()
        .map(|(protocol, start, end)| NetworkPolicyPort {
            protocol: Some(protocol.name().to_ascii_uppercase()),
            port: Some(IntOrString::Int(i32::from(*start))),
            end_port: (end > start).then_some(i32::from(*end)),
        })
        .collect()
}

/// W0306 for each host role a pod policy names by its addresses: traffic from a node often
/// reaches pods from another address than the node's own (the CNI's tunnel address, after
/// kube-proxy's source NAT), and the Kubernetes API reference warns that `ipBlock` may not
/// match it.
fn node_peers(plan: &Plan, subject: NodeId, rules: &kubernetes::Rules) -> Vec<Diagnostic> {
    let hosts = rules.ingress.keys().chain(rules.egress.keys()).filter(|peer| {
        plan.node(**peer).is_some_and(|n| {
            n.kind == crate::hir::NodeKind::Role
                && n.selector.as_ref().is_none_or(|s| s.kind != SelectorKind::Pods)
                && !n.addresses.is_empty()
        })
    });
    // Where the policy admits the Pod CIDR on the same ports, the tunnel addresses are covered.
    let pods = super::host::Networks::find(plan.program).pods.and_then(|p| rules.ingress.get(&p));
    let covered = |allowed: Option<&Allowed>| {
        allowed.is_some_and(|a| {
            a.ported.keys().all(|(protocol, start, end)| {
                pods.is_some_and(|p| p.ported.keys().any(|(q, s, e)| q == protocol && s <= start && end <= e))
            })
        })
    };
    let peers: std::collections::BTreeSet<NodeId> =
        hosts.copied().filter(|peer| !covered(rules.ingress.get(peer)) || rules.egress.contains_key(peer)).collect();
    let subject_name = plan.name(subject);
    peers
        .into_iter()
        .filter_map(|peer| {
            let node = plan.node(peer)?;
            let name = plan.name(peer);
            Some(
                Diagnostic::new(
                    Code::NodeIpBlock,
                    format!("the NetworkPolicy of `{subject_name}` names the nodes of `{name}` by their addresses, which their traffic may not come from"),
                    node.span,
                    "hosts, named by `ipBlock`",
                )
                .with_note("a node's traffic to pods on other nodes often leaves through the CNI's tunnel (Calico's tunl0 or vxlan.calico, Flannel's flannel.1, Cilium's cilium_host) with that device's address, and kube-proxy source-NATs forwarded NodePort traffic to it; the Kubernetes API reference warns that ipBlock may not match such traffic")
                .with_help(format!(
                    "the tunnel addresses are in the Pod CIDR: allow it as well (`pod_cidr -> {subject_name} : ...`, with `use kubernetes.cluster` and `bind pod_cidr = ...`), or filter the nodes' traffic with Calico host policies (`--target calico`)"
                )),
            )
        })
        .collect()
}

fn no_dns(plan: &Plan, subject: NodeId, selector: &Selector) -> Diagnostic {
    let name = plan.name(subject);
    Diagnostic::new(
        Code::EgressWithoutDns,
        format!("with egress filtering, the pods of `{name}` cannot reach a DNS server"),
        selector.span,
        "these pods",
    )
    .with_note("no flow from this role goes to UDP or TCP port 53, so every name lookup will time out")
    .with_help(format!(
        "allow the cluster DNS (CoreDNS and NodeLocal DNSCache): `use kubernetes.dns` and `{name} -> cluster_dns : dns_query`"
    ))
}
