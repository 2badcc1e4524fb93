//! The `iptables` target: the host firewall of one host as three files, `HOST.ipset` for
//! `ipset restore`, `HOST.v4.rules` for `iptables-restore --noflush` and `HOST.v6.rules` for
//! `ip6tables-restore --noflush`.
//!
//! Layout (docs/targets/iptables.md), the nftables target's in iptables' terms: portc owns a fixed
//! set of chains, `PORTC-*`, which every file declares, so that loading a file flushes and refills
//! them and nothing else (kube-proxy's, the CNI's and Docker's rules stay). `PORTC-INBOUND` judges
//! traffic to the host and exists twice, in `mangle` and in `filter`, because iptables cannot jump
//! across tables: `mangle`'s `PORTC-PREROUTING` (hooked from `PREROUTING`, before kube-proxy's
//! DNAT in `nat`) sends packets addressed to the host through it and drops the rest, so NodePorts
//! are judged on the address and port the client used; `filter`'s `PORTC-INPUT` (hooked from
//! `INPUT`) judges what only became local through DNAT. Peers' addresses are ipsets (`-m set`), one
//! per peer and family, and ports are `-m multiport` lists of up to 15, so the rule count grows
//! with the peers and with the ports a peer needs over 15, never with a peer's addresses.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::host::{self, Host, Side};
use super::{Allowed, Document, Lower, TargetOptions};
use crate::check::Checked;
use crate::hir::{NodeId, Program};
use crate::protocol::Protocol;

pub struct Iptables;

const DESCRIPTION: super::Description = super::Description {
    name: "iptables",
    about: "A host firewall for iptables-restore and ip6tables-restore, with its ipsets: HOST.ipset, HOST.v4.rules, HOST.v6.rules (needs --role with -o DIR/, or --out-dir for every host role)",
    per_host: true,
    settings: &[super::Setting::Role, super::Setting::Egress, super::Setting::AllowLockout],
    extension: "rules",
    documents: true,
    site: true,
};

/// The kernel keeps at most 255 bytes of a rule's comment (`xt_comment`), and of a set element's.
const MAX_COMMENT: usize = 255;
/// `-m multiport` takes at most 15 ports, a range counting as two.
const MULTIPORT_SLOTS: usize = 15;
/// An ipset name has at most 31 bytes: `portc-` + a peer + `-v4` + the `-t` of its twin.
const MAX_PEER_IDENT: usize = 20;

/// The chains portc owns; every file declares them all, so a load replaces them whole.
pub const CHAINS: &[(&str, &str)] = &[
    ("mangle", "PORTC-PREROUTING"),
    ("mangle", "PORTC-INBOUND"),
    ("filter", "PORTC-INPUT"),
    ("filter", "PORTC-INBOUND"),
    ("filter", "PORTC-OUTPUT"),
    ("filter", "PORTC-OUTBOUND"),
];

/// The jumps from the built-in chains, which a loader adds once (`-C || -I`): a restore file
/// cannot add a rule to a chain it does not own without adding it again on every load.
pub const HOOKS: &[(&str, &str, &str)] = &[
    ("mangle", "PREROUTING", "PORTC-PREROUTING"),
    ("filter", "INPUT", "PORTC-INPUT"),
    ("filter", "OUTPUT", "PORTC-OUTPUT"),
];

impl Lower for Iptables {
    fn description(&self) -> &'static super::Description {
        &DESCRIPTION
    }

    fn lower(&self, policy: &Checked, options: &TargetOptions) -> super::Lowered {
        let (host, warnings) = host::host(policy, options)?;
        let program = &policy.graph().program;
        let names = program.node_names();
        let prefix = host::host_name(&names, &host.roles);
        let sets = Sets::new(program, &names, &host);
        let documents = vec![
            Document { name: format!("{prefix}.ipset"), text: ipsets(program, &names, &host, &sets, &prefix) },
            Document {
                name: format!("{prefix}.v4.rules"),
                text: rules(program, &names, &host, &sets, Family::V4, &prefix),
            },
            Document {
                name: format!("{prefix}.v6.rules"),
                text: rules(program, &names, &host, &sets, Family::V6, &prefix),
            },
        ];
        Ok((documents, warnings))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn v4(self) -> bool {
        self == Family::V4
    }

    fn tag(self) -> &'static str {
        if self.v4() { "v4" } else { "v6" }
    }
}

/// How a rule matches a peer's addresses in one family.
enum Source {
    /// `-m set --match-set NAME`.
    Set(String),
    /// The peer is every address of the family (`0.0.0.0/0`, which a `hash:net` set cannot hold).
    Any,
}

/// The ipset of every peer, by family.
struct Sets {
    /// (peer, family) -> set name, for the peers whose addresses fit a set.
    names: std::collections::BTreeMap<(NodeId, &'static str), String>,
}

impl Sets {
    fn new(program: &Program, names: &[String], host: &Host) -> Sets {
        let mut sets = std::collections::BTreeMap::new();
        for peer in peers(host) {
            let name = names.get(peer.index()).map_or("", String::as_str);
            let Some(node) = program.nodes.get(peer.index()) else { continue };
            for (family, _, elements) in host::families(&node.addresses) {
                if !elements.iter().any(|e| e.ends_with("/0")) {
                    sets.insert((peer, family), format!("portc-{}-{family}", host::short_ident(name, MAX_PEER_IDENT)));
                }
            }
        }
        Sets { names: sets }
    }

    /// How rules match `peer` in `family`, or `None` when it has no addresses there.
    fn source(&self, program: &Program, peer: NodeId, family: Family) -> Option<Source> {
        if !host::has_family(program, Some(peer), family.v4()) {
            return None;
        }
        Some(self.names.get(&(peer, family.tag())).map_or(Source::Any, |n| Source::Set(n.clone())))
    }
}

/// Every peer of either side, once.
fn peers(host: &Host) -> BTreeSet<NodeId> {
    let mut peers: BTreeSet<NodeId> = host.inbound.peers.keys().copied().collect();
    if let Some(outbound) = &host.outbound {
        peers.extend(outbound.peers.keys().copied());
    }
    peers
}

/// The `ipset restore` file: each set is filled as a twin and swapped in, so that a reload
/// changes a set in one step and a set that lost addresses loses them.
fn ipsets(program: &Program, names: &[String], host: &Host, sets: &Sets, prefix: &str) -> String {
    let list = host::role_list(names, &host.roles);
    let root = program.modules.first().map_or("?", |m| m.path.as_str());
    let mut out = String::new();
    let _ = writeln!(out, "# {prefix}.ipset: the address sets of the host firewall of a host with the role(s) {list},");
    let _ =
        writeln!(out, "# generated by portc from {root}. Load with `ipset restore < {prefix}.ipset` before the rules;");
    out.push_str("# each set is filled as a twin and swapped in, so a reload replaces its addresses in one step.\n");
    let mut ordered: Vec<(&(NodeId, &str), &String)> = sets.names.iter().collect();
    ordered.sort_by(|a, b| a.1.cmp(b.1));
    for ((peer, family), set) in ordered {
        let Some(node) = program.nodes.get(peer.index()) else { continue };
        let name = names.get(peer.index()).map_or("?", String::as_str);
        let note = host::comment(node.description.as_deref().unwrap_or(name), MAX_COMMENT);
        let elements = host::families(&node.addresses).into_iter().find(|(f, _, _)| f == family).map(|(_, _, e)| e);
        let elements = elements.unwrap_or_default();
        let kind = if *family == "v4" { "inet" } else { "inet6" };
        let size = if elements.len() > 65536 { format!(" maxelem {}", elements.len()) } else { String::new() };
        let create = format!("hash:net family {kind} comment{size} -exist");
        let _ = writeln!(out, "create {set} {create}\ncreate {set}-t {create}\nflush {set}-t");
        for element in &elements {
            let _ = writeln!(out, "add {set}-t {element} comment \"{note}\"");
        }
        let _ = writeln!(out, "swap {set}-t {set}\ndestroy {set}-t");
    }
    out
}

/// The `iptables-restore --noflush` (or `ip6tables-restore`) file of one family.
fn rules(program: &Program, names: &[String], host: &Host, sets: &Sets, family: Family, prefix: &str) -> String {
    let list = host::role_list(names, &host.roles);
    let root = program.modules.first().map_or("?", |m| m.path.as_str());
    let (tool, file) = if family.v4() { ("iptables", "v4") } else { ("ip6tables", "v6") };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {prefix}.{file}.rules: the IPv{} host firewall of a host with the role(s) {list},",
        if family.v4() { 4 } else { 6 }
    );
    let _ = writeln!(out, "# generated by portc from {root}.");
    let _ = writeln!(
        out,
        "# Load with `{tool}-restore --noflush {prefix}.{file}.rules` after `ipset restore < {prefix}.ipset`:"
    );
    out.push_str("# it replaces the PORTC-* chains and touches no other rule (kube-proxy's, the CNI's, Docker's).\n");
    out.push_str("# The built-in chains jump to them once (scripts/iptables-apply.sh does all of this):\n");
    for (table, chain, target) in HOOKS {
        let _ =
            writeln!(out, "#   {tool} -t {table} -C {chain} -j {target} || {tool} -t {table} -I {chain} 1 -j {target}");
    }
    let inbound = inbound_rules(program, names, host, sets, family);
    out.push_str("*mangle\n");
    declare(&mut out, "mangle");
    rule(
        &mut out,
        "PORTC-PREROUTING",
        "-m addrtype ! --dst-type LOCAL",
        "not addressed to this host: routed, pod and Service traffic",
        "RETURN",
    );
    out.push_str("-A PORTC-PREROUTING -j PORTC-INBOUND\n");
    rule(
        &mut out,
        "PORTC-PREROUTING",
        "",
        "undeclared traffic to this host, judged before kube-proxy's or Docker's DNAT",
        "DROP",
    );
    out.push_str(&inbound);
    out.push_str("COMMIT\n*filter\n");
    declare(&mut out, "filter");
    out.push_str("-A PORTC-INPUT -j PORTC-INBOUND\n");
    rule(&mut out, "PORTC-INPUT", "", "undeclared traffic to this host", "DROP");
    out.push_str(&inbound);
    match &host.outbound {
        Some(outbound) => {
            out.push_str("-A PORTC-OUTPUT -j PORTC-OUTBOUND\n");
            rule(&mut out, "PORTC-OUTPUT", "", "undeclared traffic from this host", "DROP");
            out.push_str(&outbound_rules(program, names, outbound, sets, family));
        }
        None => out.push_str("# No egress filtering: PORTC-OUTPUT is empty and returns at once.\n"),
    }
    out.push_str("COMMIT\n");
    out
}

/// `:CHAIN - [0:0]` for portc's chains of one table: created, or flushed when they exist.
fn declare(out: &mut String, table: &str) {
    for (_, chain) in CHAINS.iter().filter(|(t, _)| *t == table) {
        let _ = writeln!(out, ":{chain} - [0:0]");
    }
}

/// `-A CHAIN MATCHES -m comment --comment "..." -j VERDICT`.
fn rule(out: &mut String, chain: &str, matches: &str, comment: &str, verdict: &str) {
    let matches = if matches.is_empty() { String::new() } else { format!("{matches} ") };
    let _ = writeln!(
        out,
        "-A {chain} {matches}-m comment --comment \"{}\" -j {verdict}",
        host::comment(comment, MAX_COMMENT)
    );
}

/// Replies, invalid packets, loopback, the ICMP baseline and DHCPv6, at the top of both sides.
fn baseline(out: &mut String, chain: &str, family: Family, inbound: bool) {
    rule(out, chain, "-m conntrack --ctstate RELATED,ESTABLISHED", "replies to allowed traffic", "ACCEPT");
    rule(out, chain, "-m conntrack --ctstate INVALID", "packets that belong to no connection", "DROP");
    let lo = if inbound { "-i lo" } else { "-o lo" };
    rule(out, chain, lo, "loopback: node-local traffic", "ACCEPT");
    for group in host::ICMP_BASELINE.iter().filter(|g| g.v6 != family.v4()) {
        for (number, _) in group.types {
            let matches = if group.v6 {
                format!("-p ipv6-icmp -m icmp6 --icmpv6-type {number}")
            } else {
                format!("-p icmp -m icmp --icmp-type {number}")
            };
            rule(out, chain, &matches, group.why, "ACCEPT");
        }
    }
    if family == Family::V6 {
        let ((address, sport, dport), side, what) = if inbound {
            (host::DHCPV6_REPLY, "-s", "DHCPv6 replies to this host")
        } else {
            (host::DHCPV6_REQUEST, "-d", "DHCPv6 requests of this host")
        };
        rule(out, chain, &format!("{side} {address} -p udp -m udp --sport {sport} --dport {dport}"), what, "ACCEPT");
    }
}

/// The rules of `PORTC-INBOUND`, the same in `mangle` and `filter`.
fn inbound_rules(program: &Program, names: &[String], host: &Host, sets: &Sets, family: Family) -> String {
    let chain = "PORTC-INBOUND";
    let mut out = String::new();
    baseline(&mut out, chain, family, true);
    if let Some(pods) = host.cluster.pods.filter(|p| host.inbound.peers.contains_key(p)) {
        let services = host.pod_services();
        let prefixes = services.iter().filter(|(f, _, _)| *f == family.tag()).flat_map(|(_, _, e)| e);
        for prefix in prefixes {
            if let Some(source) = sets.source(program, pods, family) {
                let matches = format!("{} -d {prefix}", matcher(&source, "src"));
                rule(
                    &mut out,
                    chain,
                    matches.trim_start(),
                    "pods to ClusterIP Services, which kube-proxy's IPVS mode delivers on the node",
                    "ACCEPT",
                );
            }
        }
    }
    let local = &host.inbound.local;
    allowed_rules(&mut out, chain, "-m addrtype --src-type LOCAL", "declared node-local flows", local, family);
    side_rules(program, names, &host.inbound, sets, family, chain, "src", "from", &mut out);
    out
}

fn outbound_rules(program: &Program, names: &[String], outbound: &Side, sets: &Sets, family: Family) -> String {
    let chain = "PORTC-OUTBOUND";
    let mut out = String::new();
    baseline(&mut out, chain, family, false);
    side_rules(program, names, outbound, sets, family, chain, "dst", "to", &mut out);
    out
}

/// `-m set --match-set NAME src`, or nothing for a peer that is every address.
fn matcher(source: &Source, direction: &str) -> String {
    match source {
        Source::Set(name) => format!("-m set --match-set {name} {direction}"),
        Source::Any => String::new(),
    }
}

/// The rules of every peer of one side, in the order of their names.
#[allow(clippy::too_many_arguments)] // One call per side; a struct would only rename them.
fn side_rules(
    program: &Program,
    names: &[String],
    side: &Side,
    sets: &Sets,
    family: Family,
    chain: &str,
    direction: &str,
    preposition: &str,
    out: &mut String,
) {
    for (peer, allowed) in side.peers_by_name(names) {
        let Some(source) = sets.source(program, peer, family) else { continue };
        let display = names.get(peer.index()).map_or("?", String::as_str);
        allowed_rules(out, chain, &matcher(&source, direction), &format!("{preposition} {display}"), allowed, family);
    }
}

/// The rules for what one peer may send (or receive): per protocol, `-m multiport` lists of at
/// most 15 ports, each rule preceded by a comment line per entry with its full provenance; then a
/// rule per protocol without ports.
fn allowed_rules(out: &mut String, chain: &str, matches: &str, who: &str, allowed: &Allowed, family: Family) {
    let prefix = if matches.is_empty() { String::new() } else { format!("{matches} ") };
    for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
        let entries: Vec<(u16, u16, &BTreeSet<String>)> =
            allowed.ported.iter().filter(|((p, _, _), _)| *p == protocol).map(|((_, s, e), c)| (*s, *e, c)).collect();
        for chunk in chunks(&entries) {
            let mut provenance = BTreeSet::new();
            let mut ports = Vec::new();
            for (start, end, comments) in chunk {
                let _ = writeln!(
                    out,
                    "# {}: {}",
                    host::port_text(protocol, start, end),
                    host::joined(comments, usize::MAX)
                );
                ports.push(if start == end { start.to_string() } else { format!("{start}:{end}") });
                provenance.extend(comments.iter().cloned());
            }
            let matches = format!("{prefix}-p {protocol} -m multiport --dports {}", ports.join(","));
            let comment = format!("{who}: {}", host::joined(&provenance, usize::MAX));
            rule(out, chain, &matches, &comment, "ACCEPT");
        }
    }
    let portless = allowed.portless.iter().filter(|(p, _)| match p {
        Protocol::Icmp => family.v4(),
        Protocol::Icmpv6 => !family.v4(),
        _ => true,
    });
    for (protocol, comments) in portless {
        let name = match protocol {
            Protocol::Icmp => "icmp".to_string(),
            Protocol::Icmpv6 => "ipv6-icmp".to_string(),
            other => other.number().to_string(),
        };
        let comment = format!("{who}: {protocol}: {}", host::joined(comments, usize::MAX));
        rule(out, chain, &format!("{prefix}-p {name}"), &comment, "ACCEPT");
    }
}

/// Port entries in groups that fit one `-m multiport` (a range takes two of its 15 places).
fn chunks<T: Copy>(entries: &[(u16, u16, T)]) -> Vec<Vec<(u16, u16, T)>> {
    let mut out: Vec<Vec<(u16, u16, T)>> = Vec::new();
    let mut used = MULTIPORT_SLOTS;
    for (start, end, value) in entries {
        let slots = if start == end { 1 } else { 2 };
        if used + slots > MULTIPORT_SLOTS {
            out.push(Vec::new());
            used = 0;
        }
        used += slots;
        if let Some(last) = out.last_mut() {
            last.push((*start, *end, *value));
        }
    }
    out
}
