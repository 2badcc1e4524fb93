//! The node model that host firewall targets share: the roles a host holds, what it accepts from
//! each peer (and, with egress filtering, what it may send), its node-local flows, whether the
//! operators can still get in, and the Kubernetes cluster networks around it.
//!
//! A host firewall lands on a node that has more than its own services: pods behind veths, an
//! overlay, kube-proxy's NAT. `kubernetes.cluster` (stdlib) names the cluster's two networks,
//! `pod_cidr` and `service_cidr`; this module finds them by that declaration, so that every host
//! target treats traffic from pods and to Services the same way (docs/targets/nftables.md).
//!
//! What the rulesets of every host target share lives here too: the ICMP baseline, the address
//! families of a peer, comments with provenance, and names that fit a tool's limits.

use std::collections::{BTreeMap, BTreeSet};

use super::{Allowed, TargetOptions};
use crate::check::Checked;
use crate::diag::{Code, Diagnostic};
use crate::graph::Edge;
use crate::hir::{Cond, NodeId, NodeKind, Program};
use crate::protocol::Protocol;
use crate::span::Span;

/// What one host's firewall allows.
#[derive(Clone, Debug)]
pub struct Host {
    /// The roles the host holds; its firewall is their union.
    pub roles: BTreeSet<NodeId>,
    pub inbound: Side,
    /// With egress filtering only.
    pub outbound: Option<Side>,
    pub cluster: Cluster,
}

/// One direction of a host's traffic.
#[derive(Clone, Debug, Default)]
pub struct Side {
    /// Per peer with addresses: what it may send to the host (or receive from it).
    pub peers: BTreeMap<NodeId, Allowed>,
    /// Node-local flows (`self`, `local`); inbound only.
    pub local: Allowed,
}

/// The Kubernetes networks a host lives in, from `kubernetes.cluster`.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// `pod_cidr`, when the site bound it: the peer whose addresses are the pods.
    pub pods: Option<NodeId>,
    /// `service_cidr`'s addresses (empty when unbound).
    pub services: Vec<ipnet::IpNet>,
}

impl Side {
    /// Peers in the order of their names, so output never depends on declaration order.
    pub fn peers_by_name<'a>(&'a self, names: &[String]) -> Vec<(NodeId, &'a Allowed)> {
        let mut peers: Vec<(NodeId, &Allowed)> = self.peers.iter().map(|(id, a)| (*id, a)).collect();
        peers.sort_by(|a, b| names.get(a.0.index()).cmp(&names.get(b.0.index())));
        peers
    }
}

/// Which way traffic goes, seen from the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    In,
    Out,
}

/// Builds the model of the host that holds `options.roles`. `Err` carries the errors that leave
/// the firewall undecided (a peer without addresses, a condition the build leaves open); `Ok`
/// carries the warnings about what the firewall would break (lockout, DNS, unbound cluster networks).
pub fn host(policy: &Checked, options: &TargetOptions) -> Result<(Host, Vec<Diagnostic>), Vec<Diagnostic>> {
    let graph = policy.graph();
    let program = &graph.program;
    let roles: BTreeSet<NodeId> = options.roles.iter().copied().collect();
    // Everything below concerns edges to or from the host's roles.
    let built: Vec<&Edge> = graph.edges_touching(&roles).into_iter().filter(|e| e.built()).collect();
    let networks = Networks::find(program);
    let mut errors = Vec::new();
    super::undecided(program, &built, |e| roles.contains(&e.to) || roles.contains(&e.from), &mut errors);
    let mut unbound = Unbound::default();
    let inbound = collect(program, &built, &roles, Direction::In, &networks, &mut unbound, &mut errors);
    let outbound =
        options.egress.then(|| collect(program, &built, &roles, Direction::Out, &networks, &mut unbound, &mut errors));
    if !errors.is_empty() {
        return Err(errors);
    }
    let cluster = Cluster {
        pods: networks.pods.filter(|p| addressed(program, *p)),
        services: networks.services.map(|s| addresses(program, s)).unwrap_or_default(),
    };
    let names = program.node_names();
    let mut warnings = Vec::new();
    if !options.allow_lockout && !reaches_management(program, &built, &roles) {
        warnings.push(lockout(program, &names, &roles, &built));
    }
    if let Some(outbound) = &outbound
        && !outbound.peers.values().any(Allowed::reaches_dns)
    {
        warnings.push(no_dns(program, &names, &roles));
    }
    let is_node = networks.pods.is_some_and(|pods| {
        built.iter().any(|e| (e.from == pods && roles.contains(&e.to)) || (e.to == pods && roles.contains(&e.from)))
    });
    if is_node {
        warnings.extend(unbound_networks(program, &names, &roles, &networks, &cluster, &unbound, options.egress));
    }
    Ok((Host { roles, inbound, outbound, cluster }, warnings))
}

/// The declarations of `kubernetes.cluster` in the program, if it uses that module.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Networks {
    pub pods: Option<NodeId>,
    pub services: Option<NodeId>,
}

impl Networks {
    pub(super) fn find(program: &Program) -> Networks {
        let find = |name: &str| {
            program.nodes.iter().position(|n| {
                n.name == name
                    && n.kind == NodeKind::External
                    && program.modules.get(n.module.index()).is_some_and(|m| m.name == crate::stdlib::CLUSTER_MODULE)
            })
        };
        let id = |index: usize| NodeId(crate::hir::next_id(index));
        Networks { pods: find("pod_cidr").map(id), services: find("service_cidr").map(id) }
    }
}

/// What the host would have allowed to or from the unbound pod network, for the warning.
#[derive(Clone, Debug, Default)]
struct Unbound {
    inbound: Allowed,
    outbound: Allowed,
}

fn addressed(program: &Program, node: NodeId) -> bool {
    program.nodes.get(node.index()).is_some_and(|n| !n.addresses.is_empty())
}

fn addresses(program: &Program, node: NodeId) -> Vec<ipnet::IpNet> {
    program.nodes.get(node.index()).map(|n| n.addresses.clone()).unwrap_or_default()
}

/// Groups the edges to (or from) the host's roles by peer; reports peers without addresses,
/// except the unbound pod network, which `unbound_networks` warns about.
fn collect(
    program: &Program,
    edges: &[&Edge],
    roles: &BTreeSet<NodeId>,
    direction: Direction,
    networks: &Networks,
    unbound: &mut Unbound,
    errors: &mut Vec<Diagnostic>,
) -> Side {
    let mut side = Side::default();
    let mut reported = BTreeSet::new();
    for edge in edges.iter().filter(|e| e.residual == Cond::Const(true)) {
        let (host, peer) = match direction {
            Direction::In => (edge.to, edge.from),
            Direction::Out => (edge.from, edge.to),
        };
        if !roles.contains(&host) {
            continue;
        }
        let comment = super::provenance(program, edge);
        if edge.local {
            // Node-local traffic never leaves the host, so it is inbound only.
            if direction == Direction::In {
                side.local.add(edge, comment);
            }
            continue;
        }
        if !addressed(program, peer) {
            if Some(peer) == networks.pods {
                let target = if direction == Direction::In { &mut unbound.inbound } else { &mut unbound.outbound };
                target.add(edge, comment);
            } else if reported.insert((edge.flow, peer)) {
                errors.push(unbound_peer(program, edge, peer));
            }
            continue;
        }
        side.peers.entry(peer).or_default().add(edge, comment);
    }
    for allowed in side.peers.values_mut().chain(std::iter::once(&mut side.local)) {
        allowed.merge_overlaps();
    }
    side
}

fn unbound_peer(program: &Program, edge: &Edge, peer: NodeId) -> Diagnostic {
    let node = program.nodes.get(peer.index());
    let name = node.map_or("?", |n| n.name.as_str());
    let span = program.flows.get(edge.flow.index()).map_or_else(|| node.map_or(default_span(), |n| n.span), |f| f.span);
    let mut d = Diagnostic::new(
        Code::PeerWithoutAddresses,
        format!("`{name}` has no addresses, so a host firewall cannot tell its traffic apart"),
        span,
        format!("this flow needs the addresses of `{name}`"),
    );
    if let Some(node) = node {
        d = d.with_secondary(node.span, "declared here, and never bound");
    }
    d.with_help(format!("bind it in the site file: `bind {name} = 10.0.0.0/24`"))
}

fn default_span() -> Span {
    Span::new(crate::span::FileId(0), 0, 0)
}

fn role_span(program: &Program, roles: &BTreeSet<NodeId>) -> Span {
    roles.iter().find_map(|r| program.nodes.get(r.index())).map_or_else(default_span, |n| n.span)
}

/// `etcd, worker`.
pub fn role_list(names: &[String], roles: &BTreeSet<NodeId>) -> String {
    let list: Vec<&str> = roles.iter().filter_map(|r| names.get(r.index())).map(String::as_str).collect();
    list.join(", ")
}

/// The name of a host's files: its roles joined by `+` (`etcd+worker`).
pub fn host_name(names: &[String], roles: &BTreeSet<NodeId>) -> String {
    let list: Vec<&str> = roles.iter().filter_map(|r| names.get(r.index())).map(String::as_str).collect();
    list.join("+")
}

/// Whether a flow marked `management` reaches the host from a peer with addresses.
fn reaches_management(program: &Program, edges: &[&Edge], roles: &BTreeSet<NodeId>) -> bool {
    edges.iter().any(|e| {
        e.residual == Cond::Const(true)
            && roles.contains(&e.to)
            && !e.local
            && addressed(program, e.from)
            && program.flows.get(e.flow.index()).is_some_and(|f| f.management)
    })
}

fn lockout(program: &Program, names: &[String], roles: &BTreeSet<NodeId>, edges: &[&Edge]) -> Diagnostic {
    let list = role_list(names, roles);
    let mut d = Diagnostic::new(
        Code::Lockout,
        format!("no `management` flow reaches `{list}`: this firewall locks every operator out"),
        role_span(program, roles),
        "this host's role",
    )
    .with_note("the input chain's policy is drop; a session open while it loads survives, the next one does not");
    // SSH that is not marked may be a provisioning tool's (Rancher's node driver), not the operators'.
    let ssh = edges.iter().find(|e| {
        e.residual == Cond::Const(true)
            && roles.contains(&e.to)
            && e.protocol == Protocol::Tcp
            && e.ports.is_some_and(|(s, end)| s <= 22 && 22 <= end)
            && !program.flows.get(e.flow.index()).is_some_and(|f| f.management)
    });
    if let Some(flow) = ssh.and_then(|e| program.flows.get(e.flow.index())) {
        let from = ssh.map_or("?", |e| names.get(e.from.index()).map_or("?", String::as_str));
        d = d.with_secondary(flow.span, format!("SSH from `{from}`, not marked `management`")).with_note(
            "a flow on TCP 22 is not the operators' way in unless it says so: SSH from a provisioning tool does not count",
        );
    }
    d.with_help(format!(
        "declare the operators' way in, e.g. `external admins = 10.9.0.0/24` and `admins -> {list} : tcp 22 \"SSH\" management`, or pass --allow-lockout"
    ))
}

fn no_dns(program: &Program, names: &[String], roles: &BTreeSet<NodeId>) -> Diagnostic {
    let list = role_list(names, roles);
    Diagnostic::new(
        Code::EgressWithoutDns,
        format!("with egress filtering, `{list}` cannot reach a DNS server"),
        role_span(program, roles),
        "this host's role",
    )
    .with_note("no flow from this role goes to UDP or TCP port 53, so every name lookup will time out")
    .with_help(format!(
        "declare the resolvers, e.g. `external dns = 10.0.0.2` and `{list} -> dns : tcp/udp 53 \"DNS\"`"
    ))
}

/// A warning per cluster network that a Kubernetes node's firewall needs and the site left
/// unbound, saying what breaks.
fn unbound_networks(
    program: &Program,
    names: &[String],
    roles: &BTreeSet<NodeId>,
    networks: &Networks,
    cluster: &Cluster,
    unbound: &Unbound,
    egress: bool,
) -> Vec<Diagnostic> {
    let list = role_list(names, roles);
    let mut out = Vec::new();
    if let (Some(pods), None) = (networks.pods, cluster.pods) {
        let mut breaks: Vec<String> = unbound.inbound.ported.iter().map(|(k, c)| entry(*k, c)).collect();
        breaks.extend(unbound.inbound.portless.iter().map(|(p, c)| format!("{p} ({})", first(c))));
        let mut d = Diagnostic::new(
            Code::ClusterNetworkUnbound,
            format!("the Pod CIDR is not bound: pods cannot reach their node `{list}`"),
            node_span(program, pods),
            "declared here, never bound",
        )
        .with_note("pods talk to their own node from their pod addresses, which this firewall cannot tell apart");
        if !breaks.is_empty() {
            d = d.with_note(format!("dropped from pods: {}", breaks.join(", ")));
        }
        if egress && !unbound.outbound.ported.is_empty() {
            d = d.with_note(
                "with --egress, the kubelet's probes of its own pods are dropped too: every probed pod restarts",
            );
        }
        out.push(d.with_help("bind the cluster's Pod CIDR in the site file: `bind pod_cidr = 10.42.0.0/16`"));
    }
    if let (Some(services), true) = (networks.services, cluster.services.is_empty()) {
        out.push(
            Diagnostic::new(
                Code::ClusterNetworkUnbound,
                format!("the Service CIDR is not bound: with kube-proxy in IPVS mode, pods on `{list}` cannot reach Services"),
                node_span(program, services),
                "declared here, never bound",
            )
            .with_note("in IPVS mode every ClusterIP is an address of the node, so a pod's request to a Service arrives on the node's input path")
            .with_help("bind the cluster's Service CIDR in the site file: `bind service_cidr = 10.43.0.0/16`"),
        );
    }
    out
}

fn node_span(program: &Program, node: NodeId) -> Span {
    program.nodes.get(node.index()).map_or_else(default_span, |n| n.span)
}

/// `tcp 10250 (kubelet API)`.
fn entry((protocol, start, end): (Protocol, u16, u16), comments: &BTreeSet<String>) -> String {
    let ports = if start == end { start.to_string() } else { format!("{start}-{end}") };
    format!("{protocol} {ports} ({})", first(comments))
}

/// The description part of a provenance, `kubelet API` of `kubelet API [kubernetes:60]`.
fn first(comments: &BTreeSet<String>) -> &str {
    let text = comments.iter().next().map_or("", String::as_str);
    text.rsplit_once(" [").map_or(text, |(description, _)| description)
}

/// One group of ICMP types of the baseline that every host accepts in both directions.
#[derive(Clone, Copy, Debug)]
pub struct IcmpGroup {
    /// ICMPv6 (else ICMP).
    pub v6: bool,
    /// Type numbers, with the name nft and iptables know them by where they have one.
    pub types: &'static [(u8, Option<&'static str>)],
    pub why: &'static str,
}

/// What every host accepts whatever the policy says, in both directions: RFC 4890 section 4.4.1
/// ("traffic that must not be dropped") for ICMPv6, and its IPv4 counterparts. Echo is not in
/// it: `icmp`/`icmpv6` flows say who may ping. DHCPv6 replies are the other fixed rule
/// (`DHCPV6_REPLY`).
pub const ICMP_BASELINE: &[IcmpGroup] = &[
    IcmpGroup {
        v6: false,
        types: &[(3, Some("destination-unreachable")), (11, Some("time-exceeded")), (12, Some("parameter-problem"))],
        why: "ICMP errors; path MTU discovery needs destination-unreachable",
    },
    IcmpGroup {
        v6: true,
        types: &[
            (1, Some("destination-unreachable")),
            (2, Some("packet-too-big")),
            (3, Some("time-exceeded")),
            (4, Some("parameter-problem")),
        ],
        why: "ICMPv6 errors (RFC 4890 4.4.1)",
    },
    IcmpGroup {
        v6: true,
        types: &[
            (133, Some("nd-router-solicit")),
            (134, Some("nd-router-advert")),
            (135, Some("nd-neighbor-solicit")),
            (136, Some("nd-neighbor-advert")),
            (141, Some("ind-neighbor-solicit")),
            (142, Some("ind-neighbor-advert")),
            (148, None),
            (149, None),
        ],
        why: "IPv6 neighbour discovery (RFC 4890 4.4.1)",
    },
    IcmpGroup {
        v6: true,
        types: &[
            (130, Some("mld-listener-query")),
            (131, Some("mld-listener-report")),
            (132, Some("mld-listener-done")),
            (143, Some("mld2-listener-report")),
            (151, None),
            (152, None),
            (153, None),
        ],
        why: "IPv6 multicast listener discovery (RFC 4890 4.4.1)",
    },
];

/// DHCPv6 replies from a link-local server, which conntrack cannot tie to a request sent to a
/// multicast address: (source prefix, source port, destination port).
pub const DHCPV6_REPLY: (&str, u16, u16) = ("fe80::/10", 547, 546);
/// DHCPv6 requests of the host, with egress filtering: (destination, source port, destination port).
pub const DHCPV6_REQUEST: (&str, u16, u16) = ("ff02::1:2", 546, 547);

/// `(family, nft type, elements)` of one address family: `("v4", "ipv4_addr", ["10.0.1.0/24"])`.
pub type Family = (&'static str, &'static str, Vec<String>);

/// Addresses split by family, overlapping prefixes merged; families without addresses left out.
pub fn families(addresses: &[ipnet::IpNet]) -> Vec<Family> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for address in addresses {
        match address.trunc() {
            ipnet::IpNet::V4(net) => v4.push(net),
            ipnet::IpNet::V6(net) => v6.push(net),
        }
    }
    let v4: Vec<String> = ipnet::Ipv4Net::aggregate(&v4).iter().map(ToString::to_string).collect();
    let v6: Vec<String> = ipnet::Ipv6Net::aggregate(&v6).iter().map(ToString::to_string).collect();
    [("v4", "ipv4_addr", v4), ("v6", "ipv6_addr", v6)].into_iter().filter(|(_, _, e)| !e.is_empty()).collect()
}

/// Whether a node has addresses of one family.
pub fn has_family(program: &Program, node: Option<NodeId>, v4: bool) -> bool {
    node.and_then(|n| program.nodes.get(n.index()))
        .is_some_and(|n| n.addresses.iter().any(|a| matches!(a, ipnet::IpNet::V4(_)) == v4))
}

impl Host {
    /// The Service CIDR, one entry per family, when the host has pods that may use it (the
    /// pods are a peer of its inbound side).
    pub fn pod_services(&self) -> Vec<Family> {
        if self.cluster.pods.is_none_or(|p| !self.inbound.peers.contains_key(&p)) {
            return Vec::new();
        }
        families(&self.cluster.services)
    }
}

/// A string a firewall tool accepts as a quoted comment: no double quotes or control characters,
/// at most `max` bytes (cut at a character boundary, with `...`).
pub fn comment(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c == '"' {
                '\''
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    if out.len() > max {
        let mut cut = max.saturating_sub(3);
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

/// The provenance of a set of flows in one comment.
pub fn joined(comments: &BTreeSet<String>, max: usize) -> String {
    comment(&comments.iter().cloned().collect::<Vec<_>>().join("; "), max)
}

/// `the entry`, `the 4 entries`: what a rule's comment says of its set.
pub fn entries(count: usize) -> String {
    if count == 1 { "the entry".to_string() } else { format!("the {count} entries") }
}

/// An identifier from a node name: lower-case letters, digits and `_`.
pub fn ident(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// `ident(name)`, cut to at most `max` bytes: a cut name ends in a hash of the whole name, so
/// two long names that share a beginning stay apart, and the same name is always cut the same way.
pub fn short_ident(name: &str, max: usize) -> String {
    let full = ident(name);
    if full.len() <= max {
        return full;
    }
    // FNV-1a: stable across builds and platforms, unlike the standard library's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let keep = max.saturating_sub(7);
    format!("{}_{:06x}", full.get(..keep).unwrap_or(""), hash & 0xff_ffff)
}

/// `tcp 2379-2380`, `udp 53`.
pub fn port_text(protocol: Protocol, start: u16, end: u16) -> String {
    if start == end { format!("{protocol} {start}") } else { format!("{protocol} {start}-{end}") }
}
