//! The `nftables` target: the host firewall of one role (or of a host holding several roles),
//! as a file for `nft -f`.
//!
//! Layout: a table of its own in the `inet` family, replaced atomically on every load; an input
//! chain with policy drop that accepts replies, loopback and IPv6 neighbour discovery; then, per
//! peer role, a named set of the peer's addresses, a named `protocol . port` set whose elements
//! carry the provenance of the flow that needs them, and one rule joining the two. The rule count
//! grows with the number of peers, never with the number of flows.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{Allowed, Lower, TargetOptions};
use crate::check::Checked;
use crate::diag::{Code, Diagnostic};
use crate::graph::Edge;
use crate::hir::{Cond, NodeId, Program};
use crate::protocol::Protocol;

pub struct Nftables;

/// nft keeps at most this many bytes of a comment.
const MAX_COMMENT: usize = 120;

/// Which way traffic goes relative to the host.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    In,
    Out,
}

impl Lower for Nftables {
    fn lower(&self, policy: &Checked, options: &TargetOptions) -> super::Lowered {
        let graph = policy.graph();
        let program = &graph.program;
        let names = program.node_names();
        let roles: BTreeSet<NodeId> = options.roles.iter().copied().collect();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let built: Vec<&Edge> = graph.edges.iter().filter(|e| e.built()).collect();
        super::undecided(program, &built, |e| roles.contains(&e.to) || roles.contains(&e.from), &mut errors);
        let inbound = collect(program, &built, &roles, Direction::In, &mut errors);
        let outbound = if options.egress {
            collect(program, &built, &roles, Direction::Out, &mut errors)
        } else {
            (BTreeMap::new(), Allowed::default())
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        if !options.allow_lockout && !reaches_ssh(&inbound.0) {
            warnings.push(lockout(program, &names, &roles));
        }
        if options.egress && !reaches_dns(&outbound.0) {
            warnings.push(no_dns(program, &names, &roles));
        }
        let text = render(program, &names, &roles, &inbound, options.egress.then_some(&outbound));
        Ok((super::Document::whole(text), warnings))
    }
}

/// Groups the edges to (or from) the host's roles by peer; reports peers without addresses.
fn collect(
    program: &Program,
    edges: &[&Edge],
    roles: &BTreeSet<NodeId>,
    direction: Direction,
    errors: &mut Vec<Diagnostic>,
) -> (BTreeMap<NodeId, Allowed>, Allowed) {
    let mut peers: BTreeMap<NodeId, Allowed> = BTreeMap::new();
    let mut local = Allowed::default();
    let mut reported = BTreeSet::new();
    for edge in edges.iter().filter(|e| e.residual == Cond::Const(true)) {
        let (host, peer) = match direction {
            Direction::In => (edge.to, edge.from),
            Direction::Out => (edge.from, edge.to),
        };
        if !roles.contains(&host) {
            continue;
        }
        let comment = comment(program, edge);
        let target = if edge.local {
            if direction == Direction::Out {
                continue;
            }
            &mut local
        } else {
            let addressed = program.nodes.get(peer.index()).is_some_and(|n| !n.addresses.is_empty());
            if !addressed {
                if reported.insert((edge.flow, peer)) {
                    errors.push(unbound_peer(program, edge, peer));
                }
                continue;
            }
            peers.entry(peer).or_default()
        };
        target.add(edge, comment);
    }
    for allowed in peers.values_mut().chain(std::iter::once(&mut local)) {
        allowed.merge_overlaps();
    }
    (peers, local)
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

fn default_span() -> crate::span::Span {
    crate::span::Span::new(crate::span::FileId(0), 0, 0)
}

/// The provenance of an edge, as nft accepts it in a comment.
fn comment(program: &Program, edge: &Edge) -> String {
    clean(&super::provenance(program, edge))
}

/// A string nft accepts as a comment: no quotes or control characters, at most `MAX_COMMENT` bytes.
fn clean(text: &str) -> String {
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
    if out.len() > MAX_COMMENT {
        let mut cut = MAX_COMMENT - 3;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

fn reaches_ssh(peers: &BTreeMap<NodeId, Allowed>) -> bool {
    peers.values().any(|a| a.ported.keys().any(|(p, s, e)| *p == Protocol::Tcp && *s <= 22 && 22 <= *e))
}

fn reaches_dns(peers: &BTreeMap<NodeId, Allowed>) -> bool {
    peers.values().any(Allowed::reaches_dns)
}

fn role_span(program: &Program, roles: &BTreeSet<NodeId>) -> crate::span::Span {
    roles.iter().find_map(|r| program.nodes.get(r.index())).map_or_else(default_span, |n| n.span)
}

fn role_list(names: &[String], roles: &BTreeSet<NodeId>) -> String {
    let list: Vec<&str> = roles.iter().filter_map(|r| names.get(r.index())).map(String::as_str).collect();
    list.join(", ")
}

fn lockout(program: &Program, names: &[String], roles: &BTreeSet<NodeId>) -> Diagnostic {
    let list = role_list(names, roles);
    Diagnostic::new(
        Code::Lockout,
        format!("no flow lets an operator reach `{list}` over SSH: this firewall drops every new login"),
        role_span(program, roles),
        "this host's role",
    )
    .with_note("the input chain's policy is drop; a session open while it loads survives, the next one does not")
    .with_help(format!(
        "declare the way in, e.g. `external admins = 10.9.0.0/24` and `admins -> {list} : tcp 22 \"SSH\"`, or pass --allow-lockout"
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

/// An nft identifier from a node name: letters, digits and `_`.
fn ident(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

fn render(
    program: &Program,
    names: &[String],
    roles: &BTreeSet<NodeId>,
    inbound: &(BTreeMap<NodeId, Allowed>, Allowed),
    outbound: Option<&(BTreeMap<NodeId, Allowed>, Allowed)>,
) -> String {
    let list = role_list(names, roles);
    let table = format!(
        "portc_{}",
        roles.iter().filter_map(|r| names.get(r.index())).map(|n| ident(n)).collect::<Vec<_>>().join("_")
    );
    let root = program.modules.first().map_or("?", |m| m.path.as_str());
    let mut out = String::new();
    let _ = writeln!(out, "#!/usr/sbin/nft -f");
    let _ = writeln!(out, "# Host firewall for role {list}, generated by portc from {root}.");
    let _ = writeln!(out, "# Loading it replaces table inet {table} in one transaction; other tables are left alone.");
    let _ = writeln!(out, "# Roll back with: nft delete table inet {table}");
    let _ = writeln!(out, "\ntable inet {table}\ndelete table inet {table}\n\ntable inet {table} {{");
    // Everything in name order, so the file does not depend on declaration order.
    let by_name = |set: &BTreeMap<NodeId, Allowed>| -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = set.keys().copied().collect();
        ids.sort_by_key(|id| names.get(id.index()).cloned());
        ids
    };
    let mut peers: Vec<NodeId> = by_name(&inbound.0);
    if let Some(out_peers) = outbound {
        peers.extend(by_name(&out_peers.0));
    }
    peers.sort_by_key(|id| names.get(id.index()).cloned());
    peers.dedup();
    for peer in &peers {
        address_sets(program, names, *peer, &mut out);
    }
    for peer in by_name(&inbound.0) {
        if let Some(allowed) = inbound.0.get(&peer) {
            port_set(&mut out, &format!("in_{}", peer_ident(names, peer)), allowed);
        }
    }
    port_set(&mut out, "in_local", &inbound.1);
    if let Some((out_peers, _)) = outbound {
        for peer in by_name(out_peers) {
            if let Some(allowed) = out_peers.get(&peer) {
                port_set(&mut out, &format!("out_{}", peer_ident(names, peer)), allowed);
            }
        }
    }
    chain(program, names, &mut out, Direction::In, inbound);
    if let Some(outbound) = outbound {
        chain(program, names, &mut out, Direction::Out, outbound);
    }
    out.push_str("}\n");
    out
}

fn peer_ident(names: &[String], peer: NodeId) -> String {
    ident(names.get(peer.index()).map_or("", String::as_str))
}

/// `set peer_etcd_v4 { ... }` and `_v6`, with overlapping prefixes merged.
fn address_sets(program: &Program, names: &[String], peer: NodeId, out: &mut String) {
    let Some(node) = program.nodes.get(peer.index()) else { return };
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for address in &node.addresses {
        match address.trunc() {
            ipnet::IpNet::V4(net) => v4.push(net),
            ipnet::IpNet::V6(net) => v6.push(net),
        }
    }
    let name = peer_ident(names, peer);
    let description = node.description.as_deref().map(clean).unwrap_or_default();
    let v4: Vec<String> = ipnet::Ipv4Net::aggregate(&v4).iter().map(ToString::to_string).collect();
    let v6: Vec<String> = ipnet::Ipv6Net::aggregate(&v6).iter().map(ToString::to_string).collect();
    for (family, kind, elements) in [("v4", "ipv4_addr", v4), ("v6", "ipv6_addr", v6)] {
        if elements.is_empty() {
            continue;
        }
        let _ = writeln!(out, "    set peer_{name}_{family} {{");
        let _ = writeln!(out, "        type {kind}; flags interval");
        if !description.is_empty() {
            let _ = writeln!(out, "        comment \"{description}\"");
        }
        let _ = writeln!(out, "        elements = {{ {} }}", elements.join(", "));
        out.push_str("    }\n");
    }
}

/// A `protocol . port` set, one element per (merged) range, each with its provenance.
fn port_set(out: &mut String, name: &str, allowed: &Allowed) {
    if allowed.ported.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "    set {name} {{\n        type inet_proto . inet_service; flags interval\n        elements = {{"
    );
    let count = allowed.ported.len();
    for (i, ((protocol, start, end), comments)) in allowed.ported.iter().enumerate() {
        let ports = if start == end { start.to_string() } else { format!("{start}-{end}") };
        let comment = clean(&comments.iter().cloned().collect::<Vec<_>>().join("; "));
        let comma = if i + 1 < count { "," } else { "" };
        let _ = writeln!(out, "            {protocol} . {ports} comment \"{comment}\"{comma}");
    }
    out.push_str("        }\n    }\n");
}

fn chain(
    program: &Program,
    names: &[String],
    out: &mut String,
    direction: Direction,
    (peers, local): &(BTreeMap<NodeId, Allowed>, Allowed),
) {
    let (name, hook, iface, addr, set_prefix) = match direction {
        Direction::In => ("input", "input", "iif", "saddr", "in"),
        Direction::Out => ("output", "output", "oif", "daddr", "out"),
    };
    let _ = writeln!(out, "\n    chain {name} {{\n        type filter hook {hook} priority filter; policy drop;");
    out.push_str("        ct state established,related accept comment \"replies to allowed traffic\"\n");
    out.push_str("        ct state invalid drop comment \"packets that belong to no connection\"\n");
    let _ = writeln!(out, "        {iface} \"lo\" accept comment \"loopback: node-local traffic\"");
    out.push_str("        icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept comment \"IPv6 neighbour discovery, without which IPv6 stops working\"\n");
    if direction == Direction::In {
        if !local.ported.is_empty() {
            out.push_str("        fib saddr type local meta l4proto . th dport @in_local accept comment \"declared node-local flows\"\n");
        }
        for (protocol, comments) in &local.portless {
            let comment = clean(&comments.iter().cloned().collect::<Vec<_>>().join("; "));
            let _ = writeln!(
                out,
                "        fib saddr type local meta l4proto {} accept comment \"{comment}\"",
                protocol.number()
            );
        }
    }
    let mut ordered: Vec<(&NodeId, &Allowed)> = peers.iter().collect();
    ordered.sort_by_key(|(id, _)| names.get(id.index()).cloned());
    for (peer, allowed) in ordered {
        let ident = peer_ident(names, *peer);
        let node = program.nodes.get(peer.index());
        let display = names.get(peer.index()).map_or("?", String::as_str);
        let has = |v4: bool| node.is_some_and(|n| n.addresses.iter().any(|a| matches!(a, ipnet::IpNet::V4(_)) == v4));
        for (v4, family, match_kw) in [(true, "v4", "ip"), (false, "v6", "ip6")] {
            if !has(v4) {
                continue;
            }
            let sets = format!("{match_kw} {addr} @peer_{ident}_{family}");
            if !allowed.ported.is_empty() {
                let flows: BTreeSet<&String> = allowed.ported.values().flatten().collect();
                let _ = writeln!(
                    out,
                    "        {sets} meta l4proto . th dport @{set_prefix}_{ident} accept comment \"{}\"",
                    clean(&format!(
                        "{} {display}: {} port rule(s) in @{set_prefix}_{ident}",
                        if direction == Direction::In { "from" } else { "to" },
                        flows.len()
                    ))
                );
            }
            let portless: Vec<(&Protocol, &BTreeSet<String>)> = allowed
                .portless
                .iter()
                .filter(|(p, _)| match p {
                    Protocol::Icmp => v4,
                    Protocol::Icmpv6 => !v4,
                    _ => true,
                })
                .collect();
            for (protocol, comments) in portless {
                let comment = clean(&comments.iter().cloned().collect::<Vec<_>>().join("; "));
                let _ = writeln!(
                    out,
                    "        {sets} meta l4proto {} accept comment \"{protocol}: {comment}\"",
                    protocol.number()
                );
            }
        }
    }
    out.push_str("    }\n");
}
