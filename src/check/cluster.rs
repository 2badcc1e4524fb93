//! Checks of a Kubernetes site as a whole: a cluster of several nodes whose flows carry no pod
//! network between the nodes would drop every pod's traffic to another node.
//!
//! A program is a Kubernetes site when it uses `kubernetes.cluster` (stdlib) and binds a role
//! that the pods reach and that is not itself bound to pods: those roles are its nodes.

use std::collections::BTreeSet;

use crate::diag::{Code, Diagnostic};
use crate::graph::{Edge, FlowGraph};
use crate::hir::{Cond, NodeId, NodeKind, Program};
use crate::protocol::Protocol;

/// The TCP port of BGP, which routed pod networks (Calico without encapsulation) use.
const BGP: u16 = 179;

/// W0208 when a site of several Kubernetes nodes has no flow between them that can carry pods'
/// traffic: an overlay (UDP: VXLAN, Geneve, WireGuard), IP-in-IP, GRE, ESP, or BGP for routes.
pub fn pod_network(graph: &FlowGraph, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    // It concludes from the absence of flows, and an error left one out.
    if program.gaps.flows {
        return;
    }
    let Some(pods) = cluster_node(program, "pod_cidr") else { return };
    let possible = |e: &&Edge| e.open != Cond::Const(false);
    // Hosts, not workloads: a role bound to pods is a pod, however the pods reach it.
    let host = |n: &NodeId| {
        program.nodes.get(n.index()).is_some_and(|n| {
            n.kind == NodeKind::Role && n.selector.as_ref().is_none_or(|s| s.kind != crate::ast::SelectorKind::Pods)
        })
    };
    let nodes: BTreeSet<NodeId> = graph
        .edges
        .iter()
        .filter(possible)
        .filter(|e| e.from == pods && !e.local && host(&e.to))
        .map(|e| e.to)
        .collect();
    let bound =
        |n: &NodeId| program.nodes.get(n.index()).is_some_and(|n| !n.addresses.is_empty() || n.selector.is_some());
    if !nodes.iter().any(bound) || !several_hosts(program, &nodes) {
        return;
    }
    let carries_pods = |e: &&Edge| {
        nodes.contains(&e.from)
            && nodes.contains(&e.to)
            && !e.local
            && match e.protocol {
                Protocol::Udp | Protocol::Ipip | Protocol::Gre | Protocol::Esp => true,
                Protocol::Tcp => e.ports.is_some_and(|(s, end)| s <= BGP && BGP <= end),
                _ => false,
            }
    };
    if graph.edges.iter().filter(possible).any(|e| carries_pods(&e)) {
        return;
    }
    let names = program.node_names();
    let list: Vec<&str> = nodes.iter().filter_map(|n| names.get(n.index())).map(String::as_str).collect();
    let Some(first) = nodes.iter().find_map(|n| program.nodes.get(n.index())) else { return };
    out.push(
        Diagnostic::new(
            Code::NoPodNetwork,
            format!("no flow carries the pod network between the nodes ({})", list.join(", ")),
            first.span,
            "a node of this cluster",
        )
        .with_note("pods on different nodes reach each other through the CNI's overlay (VXLAN, IP-in-IP, WireGuard) or BGP routes; a host firewall without those flows drops their traffic")
        .with_help("use the CNI's module, e.g. `use kubernetes.cni.calico` or `use kubernetes.cni.flannel`, or declare its ports: `nodes -> nodes : udp 8472 \"VXLAN\"`"),
    );
}

/// A node of `kubernetes.cluster` by name.
fn cluster_node(program: &Program, name: &str) -> Option<NodeId> {
    let index = program.nodes.iter().position(|n| {
        n.name == name
            && n.kind == NodeKind::External
            && program.modules.get(n.module.index()).is_some_and(|m| m.name == crate::stdlib::CLUSTER_MODULE)
    })?;
    Some(NodeId(crate::hir::next_id(index)))
}

/// Whether the roles stand for more than one host: an unbound role, a prefix, or two addresses.
fn several_hosts(program: &Program, nodes: &BTreeSet<NodeId>) -> bool {
    let mut hosts = BTreeSet::new();
    for node in nodes.iter().filter_map(|n| program.nodes.get(n.index())) {
        if node.addresses.is_empty() {
            return true;
        }
        for address in &node.addresses {
            if address.prefix_len() != address.max_prefix_len() {
                return true;
            }
            hosts.insert(address.addr());
        }
    }
    hosts.len() > 1
}

/// W0209 for each role or external that a flow of a site comes from and that has neither
/// addresses nor a selector: `check` says what a build for any target will refuse, before the
/// build does.
pub fn unbound_endpoints(graph: &FlowGraph, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    if !program.site {
        return;
    }
    let unbound =
        |id: NodeId| program.nodes.get(id.index()).is_some_and(|n| n.addresses.is_empty() && n.selector.is_none());
    // A `bind` left out by an error may bind it.
    let unbound =
        |id: NodeId| unbound(id) && program.nodes.get(id.index()).is_some_and(|n| !program.gaps.mentions(&n.name));
    let mut first_use: std::collections::BTreeMap<NodeId, crate::hir::FlowId> = std::collections::BTreeMap::new();
    // A flow's source is what every target must name (a host firewall the peer's addresses, a
    // policy its selector or addresses); its destination is the host or pod the rule is for.
    let role = |id: NodeId| program.nodes.get(id.index()).is_some_and(|n| n.kind == NodeKind::Role);
    for edge in graph.edges.iter().filter(|e| e.open != Cond::Const(false) && !e.local && role(e.to)) {
        if unbound(edge.from) {
            first_use.entry(edge.from).or_insert(edge.flow);
        }
    }
    let names = program.node_names();
    for (node, flow) in first_use {
        let (Some(decl), Some(flow)) = (program.nodes.get(node.index()), program.flows.get(flow.index())) else {
            continue;
        };
        let name = names.get(node.index()).map_or(decl.name.as_str(), String::as_str);
        // The declared name: how the site file usually refers to it (qualify it where it must).
        let plain = decl.name.as_str();
        let example = match decl.kind {
            NodeKind::Role => format!(
                "`bind {plain} = 10.0.0.0/24`, or `bind {plain} = nodes {{ ... }}` / `pods {{ ... }}` for the Kubernetes targets"
            ),
            NodeKind::External => format!("`bind {plain} = 10.0.0.0/24`"),
        };
        out.push(
            Diagnostic::new(
                Code::UnboundEndpoint,
                format!("`{name}` has neither addresses nor a selector, and flows from it need one"),
                decl.span,
                "declared here, never bound",
            )
            .with_secondary(flow.span, "this flow uses it")
            .with_note("a host firewall or a policy cannot tell its traffic apart, so a build refuses the flows from it (E0301, E0303) or leaves them out")
            .with_help(format!("bind it in the site file: {example}")),
        );
    }
}

/// The address families of a node's addresses: (IPv4, IPv6).
fn families(node: &crate::hir::Node) -> (bool, bool) {
    let v4 = node.addresses.iter().any(|a| matches!(a, ipnet::IpNet::V4(_)));
    let v6 = node.addresses.iter().any(|a| matches!(a, ipnet::IpNet::V6(_)));
    (v4, v6)
}

/// W0210 for each flow of a site whose two ends, both bound to addresses, can never meet: no
/// address family in common, or ICMP (ICMPv6) where an end has no IPv4 (IPv6) address. Rules for
/// such a flow never match, or are dropped by the targets without a word.
pub fn family_mismatches(graph: &FlowGraph, out: &mut Vec<Diagnostic>) {
    let program = &graph.program;
    if !program.site {
        return;
    }
    let names = program.node_names();
    let mut reported = BTreeSet::new();
    for edge in graph.edges.iter().filter(|e| e.open != Cond::Const(false) && !e.local) {
        let (Some(from), Some(to)) = (program.nodes.get(edge.from.index()), program.nodes.get(edge.to.index())) else {
            continue;
        };
        // An address left out by an error may be of the missing family.
        let gap = |n: &crate::hir::Node| program.gaps.mentions(&n.name);
        if from.addresses.is_empty() || to.addresses.is_empty() || gap(from) || gap(to) {
            continue;
        }
        let ((f4, f6), (t4, t6)) = (families(from), families(to));
        let problem = match edge.protocol {
            Protocol::Icmp if !(f4 && t4) => "ICMP is IPv4, and not both ends have an IPv4 address",
            Protocol::Icmpv6 if !(f6 && t6) => "ICMPv6 is IPv6, and not both ends have an IPv6 address",
            _ if !((f4 && t4) || (f6 && t6)) => "the two ends have no address family in common",
            _ => continue,
        };
        if !reported.insert((edge.flow, edge.from, edge.to)) {
            continue;
        }
        let Some(flow) = program.flows.get(edge.flow.index()) else { continue };
        let family = |(v4, v6): (bool, bool)| match (v4, v6) {
            (true, true) => "IPv4 and IPv6",
            (true, false) => "IPv4 only",
            _ => "IPv6 only",
        };
        let name = |id: NodeId| names.get(id.index()).map_or("?", String::as_str);
        let mut d = Diagnostic::new(
            Code::FamilyMismatch,
            format!(
                "{} from `{}` ({}) to `{}` ({}) can never match: {problem}",
                super::ports_text(edge),
                name(edge.from),
                family((f4, f6)),
                name(edge.to),
                family((t4, t6)),
            ),
            flow.span,
            "this flow",
        );
        for (node, id) in [(from, edge.from), (to, edge.to)] {
            for span in node.address_sources.iter().take(2) {
                d = d.with_secondary(*span, format!("the addresses of `{}`", name(id)));
            }
        }
        out.push(d.with_help("bind the missing family on both ends, or write the flow for the family the ends share (`icmp` for IPv4, `icmpv6` for IPv6)"));
    }
}
