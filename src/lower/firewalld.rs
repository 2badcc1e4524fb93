//! The `firewalld` target: the host firewall of one host as firewalld's own configuration files,
//! a directory named for the host with `zones/portc.xml`, a service per peer, an ipset per peer
//! and family, `policies/portc-forward.xml` (routed traffic is not the host firewall's),
//! `policies/portc-out.xml` with `--egress`, and `install.sh`, which installs them with
//! `firewall-offline-cmd`.
//!
//! Layout (docs/targets/firewalld.md): the zone `portc`, target `DROP`, made the default zone, so
//! every interface that no other zone claims is judged by it. Per peer and family, one rich rule
//! joins the peer's ipset with the peer's service, whose ports and protocols carry the provenance
//! of the flows that need them: the rule count grows with the peers, never with the flows. What
//! firewalld decides itself (replies, loopback, invalid packets, every ICMP message, traffic that
//! kube-proxy has DNAT-ed) is not the zone's to say; the lowering warns where that widens the policy.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::host::{self, Host, Side};
use super::{Allowed, Document, Lower, TargetOptions};
use crate::check::Checked;
use crate::diag::{Code, Diagnostic};
use crate::hir::{NodeId, Program};
use crate::protocol::Protocol;

pub struct Firewalld;

const DESCRIPTION: super::Description = super::Description {
    name: "firewalld",
    about: "A host firewall as firewalld configuration: HOST/zones/portc.xml, its services, ipsets and policies, and HOST/install.sh (needs --role with -o DIR/, or --out-dir for every host role)",
    per_host: true,
    settings: &[super::Setting::Role, super::Setting::Egress, super::Setting::AllowLockout, super::Setting::AllowLossy],
    extension: "xml",
    documents: true,
    site: true,
};

/// The zone portc owns on a host, the same whatever roles the host holds.
pub const ZONE: &str = "portc";
/// The policy of the host's outgoing traffic, with `--egress`.
pub const OUTBOUND_POLICY: &str = "portc-out";
/// The policy that leaves routed traffic (pods, the overlay, DNAT-ed NodePorts) alone.
pub const FORWARD_POLICY: &str = "portc-forward";
/// A peer's name in an object name: `portc-in-` + it stays short, and an ipset name (`portc-` +
/// it + `-v4`) within the kernel's 31 bytes.
const MAX_PEER_IDENT: usize = 20;
/// The NodePort range of kube-proxy's default `--service-node-port-range`.
const NODEPORTS: (u16, u16) = (30000, 32767);

impl Lower for Firewalld {
    fn description(&self) -> &'static super::Description {
        &DESCRIPTION
    }

    fn lower(&self, policy: &Checked, options: &TargetOptions) -> super::Lowered {
        let (host, mut warnings) = host::host(policy, options)?;
        let program = &policy.graph().program;
        let names = program.node_names();
        let widened = widened(policy, &names, &host, options.allow_lossy);
        if !options.allow_lossy && !widened.is_empty() {
            return Err(widened);
        }
        warnings.extend(widened);
        let prefix = host::host_name(&names, &host.roles);
        let objects = Objects::new(program, &names, &host);
        let mut documents = Vec::new();
        for (name, text) in objects.ipsets(program, &names) {
            documents.push(Document { name: format!("{prefix}/ipsets/{name}.xml"), text });
        }
        for (name, text) in objects.services(&names, &host) {
            documents.push(Document { name: format!("{prefix}/services/{name}.xml"), text });
        }
        documents.push(Document {
            name: format!("{prefix}/zones/{ZONE}.xml"),
            text: zone(program, &names, &host, &objects),
        });
        documents.push(Document {
            name: format!("{prefix}/policies/{FORWARD_POLICY}.xml"),
            text: forward_policy(&host::role_list(&names, &host.roles)),
        });
        if let Some(outbound) = &host.outbound {
            documents.push(Document {
                name: format!("{prefix}/policies/{OUTBOUND_POLICY}.xml"),
                text: outbound_policy(program, &names, &host, outbound, &objects),
            });
        }
        documents.sort_by(|a, b| a.name.cmp(&b.name));
        let script = install_script(program, &names, &host, &documents, &prefix);
        documents.push(Document { name: format!("{prefix}/install.sh"), text: script });
        Ok((documents, warnings))
    }
}

/// The names of the objects a host's configuration defines.
struct Objects {
    /// (peer, "v4" | "v6") -> ipset name, for the peers whose addresses fit an ipset.
    ipsets: BTreeMap<(NodeId, &'static str), String>,
    /// peer -> its name in service names.
    idents: BTreeMap<NodeId, String>,
}

impl Objects {
    fn new(program: &Program, names: &[String], host: &Host) -> Objects {
        let mut peers: BTreeSet<NodeId> = host.inbound.peers.keys().copied().collect();
        if let Some(outbound) = &host.outbound {
            peers.extend(outbound.peers.keys().copied());
        }
        let (mut ipsets, mut idents) = (BTreeMap::new(), BTreeMap::new());
        for peer in peers {
            let ident = host::short_ident(names.get(peer.index()).map_or("", String::as_str), MAX_PEER_IDENT);
            let Some(node) = program.nodes.get(peer.index()) else { continue };
            for (family, _, elements) in host::families(&node.addresses) {
                // An ipset cannot hold a /0; a rule without a source matches every address.
                if !elements.iter().any(|e| e.ends_with("/0")) {
                    ipsets.insert((peer, family), format!("portc-{ident}-{family}"));
                }
            }
            idents.insert(peer, ident);
        }
        Objects { ipsets, idents }
    }

    /// `(name, XML)` of every ipset.
    fn ipsets(&self, program: &Program, names: &[String]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for ((peer, family), set) in &self.ipsets {
            let Some(node) = program.nodes.get(peer.index()) else { continue };
            let name = names.get(peer.index()).map_or("?", String::as_str);
            let elements = host::families(&node.addresses).into_iter().find(|(f, _, _)| f == family);
            let mut text = header();
            let _ = writeln!(text, "<ipset type=\"hash:net\">\n  <short>{}</short>", escape(name));
            if let Some(description) = &node.description {
                let _ = writeln!(text, "  <description>{}</description>", escape(description));
            }
            let kind = if *family == "v4" { "inet" } else { "inet6" };
            let _ = writeln!(text, "  <option name=\"family\" value=\"{kind}\"/>");
            for element in elements.map(|(_, _, e)| e).unwrap_or_default() {
                let _ = writeln!(text, "  <entry>{element}</entry>");
            }
            text.push_str("</ipset>\n");
            out.push((set.clone(), text));
        }
        out
    }

    /// `(name, XML)` of every peer's service: `portc-in-PEER` and `portc-out-PEER`.
    fn services(&self, names: &[String], host: &Host) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let sides = [("in", "from", Some(&host.inbound)), ("out", "to", host.outbound.as_ref())];
        for (direction, preposition, side) in sides {
            let Some(side) = side else { continue };
            for (peer, allowed) in side.peers_by_name(names) {
                let name = names.get(peer.index()).map_or("?", String::as_str);
                let text = service(&format!("{preposition} {name}"), allowed);
                out.push((self.service_name(direction, peer), text));
            }
        }
        out
    }

    fn service_name(&self, direction: &str, peer: NodeId) -> String {
        format!("portc-{direction}-{}", self.idents.get(&peer).map_or("", String::as_str))
    }

    /// The `<source>` (or `<destination>`) of a peer's rule in one family: `Some(None)` matches
    /// every address, `None` means the peer has no address there.
    fn peer_match(&self, program: &Program, peer: NodeId, v4: bool) -> Option<Option<String>> {
        if !host::has_family(program, Some(peer), v4) {
            return None;
        }
        Some(self.ipsets.get(&(peer, if v4 { "v4" } else { "v6" })).cloned())
    }
}

fn header() -> String {
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n".to_string()
}

/// Text for XML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for an XML comment, which may not contain `--`.
fn comment(text: &str) -> String {
    let mut out = host::comment(text, usize::MAX);
    while out.contains("--") {
        out = out.replace("--", "- -");
    }
    out
}

/// A service with a peer's ports and protocols, each port preceded by its provenance.
fn service(what: &str, allowed: &Allowed) -> String {
    let mut text = header();
    let _ = writeln!(text, "<service>\n  <short>portc: {}</short>", escape(what));
    let _ = writeln!(
        text,
        "  <description>What portc allows {}, generated from the flows named beside each port.</description>",
        escape(what)
    );
    for ((protocol, start, end), comments) in &allowed.ported {
        let _ = writeln!(text, "  <!-- {} -->", comment(&host::joined(comments, usize::MAX)));
        let ports = if start == end { start.to_string() } else { format!("{start}-{end}") };
        let _ = writeln!(text, "  <port protocol=\"{protocol}\" port=\"{ports}\"/>");
    }
    for (protocol, comments) in &allowed.portless {
        let _ = writeln!(text, "  <!-- {} -->", comment(&host::joined(comments, usize::MAX)));
        let _ = writeln!(text, "  <protocol value=\"{}\"/>", protocol_value(*protocol));
    }
    text.push_str("</service>\n");
    text
}

/// A protocol as firewalld names it: ICMP by name, the rest by number (`ipip` in /etc/protocols
/// is protocol 94, not IP-in-IP's 4).
fn protocol_value(protocol: Protocol) -> String {
    match protocol {
        Protocol::Icmp => "icmp".to_string(),
        Protocol::Icmpv6 => "ipv6-icmp".to_string(),
        other => other.number().to_string(),
    }
}

/// The ICMP baseline (docs/targets/firewalld.md): the IPv4 types by name, and all of ICMPv6,
/// since firewalld has no names for multicast listener discovery, which IPv6 needs.
fn icmp_baseline(out: &mut String) {
    for group in host::ICMP_BASELINE.iter().filter(|g| !g.v6) {
        let _ = writeln!(out, "  <!-- {} -->", comment(group.why));
        for name in group.types.iter().filter_map(|(_, name)| *name) {
            rich_rule(out, "  ", true, "", &format!("<icmp-type name=\"{name}\"/>"));
        }
    }
    out.push_str("  <!-- ICMPv6: RFC 4890's errors, neighbour and multicast listener discovery, and the rest -->\n");
    rich_rule(out, "  ", false, "", "<protocol value=\"ipv6-icmp\"/>");
}

/// One rich rule: `family`, then a source or destination, then its element, then `accept`.
fn rich_rule(out: &mut String, indent: &str, v4: bool, address: &str, element: &str) {
    let family = if v4 { "ipv4" } else { "ipv6" };
    let _ = writeln!(out, "{indent}<rule family=\"{family}\">");
    if !address.is_empty() {
        let _ = writeln!(out, "{indent}  {address}");
    }
    if !element.is_empty() {
        let _ = writeln!(out, "{indent}  {element}");
    }
    let _ = writeln!(out, "{indent}  <accept/>\n{indent}</rule>");
}

/// The rules of one side: per peer and family, its ipset (or every address) with its service.
fn peer_rules(program: &Program, names: &[String], side: &Side, objects: &Objects, direction: &str, out: &mut String) {
    let (tag, keyword) = if direction == "in" { ("source", "from") } else { ("destination", "to") };
    for (peer, _) in side.peers_by_name(names) {
        let name = names.get(peer.index()).map_or("?", String::as_str);
        for v4 in [true, false] {
            let Some(matcher) = objects.peer_match(program, peer, v4) else { continue };
            let address = matcher.map_or_else(String::new, |set| format!("<{tag} ipset=\"{set}\"/>"));
            let _ = writeln!(out, "  <!-- {} -->", comment(&format!("{keyword} {name}")));
            let element = format!("<service name=\"{}\"/>", objects.service_name(direction, peer));
            rich_rule(out, "  ", v4, &address, &element);
        }
    }
}

fn zone(program: &Program, names: &[String], host: &Host, objects: &Objects) -> String {
    let list = host::role_list(names, &host.roles);
    let root = program.modules.first().map_or("?", |m| m.path.as_str());
    let mut out = header();
    let _ = writeln!(
        out,
        "<!-- {} -->",
        comment(&format!("The host firewall of a host with the role(s) {list}, generated by portc from {root}."))
    );
    out.push_str("<!-- Install it with install.sh beside this directory; it becomes the default zone. -->\n");
    let _ = writeln!(out, "<zone target=\"DROP\">\n  <short>portc: {}</short>", escape(&list));
    let _ = writeln!(
        out,
        "  <description>The host firewall of a host with the role(s) {}: what each peer may send to it, and nothing else.</description>",
        escape(&list)
    );
    out.push_str(
        "  <!-- DHCPv6 replies to this host (firewalld's own service) -->\n  <service name=\"dhcpv6-client\"/>\n",
    );
    icmp_baseline(&mut out);
    if let Some(pods) = host.cluster.pods.filter(|p| host.inbound.peers.contains_key(p)) {
        for (family, _, prefixes) in host.pod_services() {
            let v4 = family == "v4";
            let Some(matcher) = objects.peer_match(program, pods, v4) else { continue };
            let source = matcher.map_or_else(String::new, |set| format!("<source ipset=\"{set}\"/>"));
            for prefix in prefixes {
                out.push_str(
                    "  <!-- pods to ClusterIP Services, which kube-proxy's IPVS mode delivers on the node -->\n",
                );
                let address = format!("{source}<destination address=\"{prefix}\"/>");
                rich_rule(&mut out, "  ", v4, &address, "");
            }
        }
    }
    peer_rules(program, names, &host.inbound, objects, "in", &mut out);
    out.push_str("</zone>\n");
    out
}

/// Accepts routed traffic, which a host firewall leaves to the CNI and to NetworkPolicies: a zone's
/// target applies to forwarded traffic too, and `DROP` would cut the pods off.
fn forward_policy(list: &str) -> String {
    let mut out = header();
    out.push_str("<policy target=\"ACCEPT\">\n");
    let _ = writeln!(out, "  <short>portc: {}, routed traffic</short>", escape(list));
    out.push_str("  <description>Traffic the host routes (pods, the CNI's overlay, what kube-proxy DNAT-ed to a pod) is not the host firewall's: the CNI and NetworkPolicies filter it.</description>\n");
    out.push_str("  <ingress-zone name=\"ANY\"/>\n  <egress-zone name=\"ANY\"/>\n</policy>\n");
    out
}

fn outbound_policy(program: &Program, names: &[String], host: &Host, outbound: &Side, objects: &Objects) -> String {
    let list = host::role_list(names, &host.roles);
    let mut out = header();
    let _ = writeln!(out, "<policy target=\"DROP\">\n  <short>portc: {}, outgoing</short>", escape(&list));
    let _ = writeln!(
        out,
        "  <description>What a host with the role(s) {} may send, and nothing else.</description>",
        escape(&list)
    );
    out.push_str("  <ingress-zone name=\"HOST\"/>\n  <egress-zone name=\"ANY\"/>\n");
    icmp_baseline(&mut out);
    let (to, _, port) = host::DHCPV6_REQUEST;
    out.push_str("  <!-- DHCPv6 requests of this host -->\n");
    let element = format!("<port port=\"{port}\" protocol=\"udp\"/>");
    rich_rule(&mut out, "  ", false, &format!("<destination address=\"{to}\"/>"), &element);
    peer_rules(program, names, outbound, objects, "out", &mut out);
    out.push_str("</policy>\n");
    out
}

/// The script that installs the host's files with `firewall-offline-cmd`, replacing the portc
/// objects of an earlier install (another role's included), and makes `portc` the default zone.
fn install_script(program: &Program, names: &[String], host: &Host, documents: &[Document], prefix: &str) -> String {
    let list = host::role_list(names, &host.roles);
    let root = program.modules.first().map_or("?", |m| m.path.as_str());
    let mut out = String::from("#!/bin/sh\n");
    let _ =
        writeln!(out, "# Installs the firewalld configuration of a host with the role(s) {list}, generated by portc");
    let _ =
        writeln!(out, "# from {root}, with firewall-offline-cmd; then `firewall-cmd --reload` (or start firewalld).");
    out.push_str("# Every portc object of an earlier install is removed first, so a host that changes roles keeps\n");
    out.push_str("# no stale ipset or service. FIREWALL_OFFLINE_CMD overrides the command (to add --system-config).\n");
    out.push_str("set -eu\ncd \"$(dirname \"$0\")\"\nfoc=${FIREWALL_OFFLINE_CMD:-firewall-offline-cmd}\n");
    out.push_str("# The default zone must not be one that is about to be deleted.\n");
    out.push_str("case $($foc --get-default-zone) in portc*) $foc --set-default-zone=public >/dev/null ;; esac\n");
    for (kind, list_flag) in [("zone", "zones"), ("policy", "policies"), ("service", "services"), ("ipset", "ipsets")] {
        let _ = writeln!(
            out,
            "for old in $($foc --get-{list_flag} | tr ' ' '\\n' | grep '^portc' || true); do $foc --delete-{kind}=\"$old\" >/dev/null; done"
        );
    }
    for (kind, dir) in [("ipset", "ipsets"), ("service", "services"), ("zone", "zones"), ("policy", "policies")] {
        let start = format!("{prefix}/{dir}/");
        for document in documents.iter().filter(|d| d.name.starts_with(&start)) {
            let file = document.name.strip_prefix(&format!("{prefix}/")).unwrap_or(&document.name);
            let name = file.rsplit('/').next().and_then(|f| f.strip_suffix(".xml")).unwrap_or(file);
            let _ = writeln!(out, "$foc --new-{kind}-from-file={file} --name={name} >/dev/null");
        }
    }
    let _ = writeln!(out, "$foc --set-default-zone={ZONE} >/dev/null");
    let _ = writeln!(out, "echo \"installed the portc zone for {list}; run: firewall-cmd --reload\"");
    out
}

/// Where firewalld decides for itself and so opens more than the policy says: traffic that
/// kube-proxy has DNAT-ed (NodePorts) on a Kubernetes node, and ICMPv6. Errors, or with
/// `allow_lossy` warnings: a firewall wider than its policy is built only when asked for.
fn widened(policy: &Checked, names: &[String], host: &Host, allow_lossy: bool) -> Vec<Diagnostic> {
    // The same gap is an error that stops the build, or with --allow-lossy a warning that the
    // configuration is wider than the flows.
    let (nodeports, icmpv6) = if allow_lossy {
        (Code::DnatBypassesFirewalld, Code::IcmpWidened)
    } else {
        (Code::NodePortsUnenforceable, Code::Icmpv6Unenforceable)
    };
    let finish = |d: Diagnostic, help: &str| {
        if allow_lossy {
            d.with_note("built with --allow-lossy: the configuration accepts more than the flows say")
        } else {
            d.with_help(format!("{help}; or pass --allow-lossy to build it all the same, wider than the flows"))
        }
    };
    let program = &policy.graph().program;
    let list = host::role_list(names, &host.roles);
    let span = host.roles.iter().find_map(|r| program.nodes.get(r.index())).map(|n| n.span);
    let Some(span) = span else { return Vec::new() };
    let mut out = Vec::new();
    if host.cluster.pods.is_some_and(|p| host.inbound.peers.contains_key(&p)) {
        let mut d = Diagnostic::new(
            nodeports,
            if allow_lossy {
                format!("firewalld accepts whatever kube-proxy has DNAT-ed: NodePorts on `{list}` are open to every source")
            } else {
                format!("firewalld cannot keep the NodePorts of `{list}` to their sources: it accepts whatever kube-proxy has DNAT-ed")
            },
            span,
            "a Kubernetes node",
        )
        .with_note("firewalld judges traffic in its input and forward chains, after kube-proxy rewrote a NodePort's destination, and accepts every DNAT-ed packet (`ct status dnat accept`)");
        let nodeports = policy.graph().edges_touching(&host.roles).into_iter().filter(|e| {
            e.built()
                && host.roles.contains(&e.to)
                && e.ports.is_some_and(|(s, end)| s <= NODEPORTS.1 && NODEPORTS.0 <= end)
        });
        let mut seen = BTreeSet::new();
        for edge in nodeports {
            if let Some(flow) = program.flows.get(edge.flow.index()).filter(|_| seen.insert(edge.flow)) {
                d = d.with_secondary(flow.span, "declared for these sources only");
            }
        }
        out.push(finish(
            d,
            "judge NodePorts before DNAT with --target nftables or iptables, or bind them to fewer addresses with kube-proxy's --nodeport-addresses",
        ));
    }
    if host.roles.iter().any(|r| host::has_family(program, Some(*r), false)) {
        out.push(finish(
            Diagnostic::new(
                icmpv6,
                if allow_lossy {
                    format!("firewalld has no name for IPv6's multicast listener discovery: `{list}` accepts every ICMPv6 message, pings from anyone included")
                } else {
                    format!("firewalld cannot keep the ICMPv6 of `{list}` to the declared flows: it has no name for IPv6's multicast listener discovery")
                },
                span,
                "this host's role has IPv6 addresses",
            )
            .with_note("RFC 4890 says multicast listener discovery must not be dropped, and firewalld can only accept ICMPv6 types it has a name for; so the zone accepts all of ICMPv6, and `icmpv6` flows cannot say who may ping"),
            "build the host's firewall with --target nftables or iptables, which accept only the RFC 4890 baseline and the declared flows",
        ));
    }
    out
}
