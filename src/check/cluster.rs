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
