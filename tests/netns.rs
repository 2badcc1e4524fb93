//! The nftables target proven in the Linux kernel: one network namespace per node of a site,
//! joined by a bridge, each role's generated ruleset loaded in its namespace; every declared
//! TCP, UDP and ICMP flow must get through, and sampled undeclared traffic (wrong port, wrong
//! source, wrong protocol, a flow whose condition is off) must be dropped.
//!
//! Probes use only the namespaces' own addresses, are bounded in count and time, and the
//! namespaces are deleted when the test ends, failed or not.

#![allow(clippy::disallowed_methods)] // Tests read their own files.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;
use portc::{FsLoader, Options, Root, Target};

/// Denied probes tried per site, beyond the condition-off flows.
const MAX_DENIED: usize = 16;

/// The namespaces of one test network; deleted on drop, also when an assertion fails.
struct Network {
    hub: String,
    nodes: BTreeMap<String, (String, Ipv4Addr)>,
}

impl Drop for Network {
    fn drop(&mut self) {
        for (ns, _) in self.nodes.values() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.hub]).status();
    }
}

/// Deletes a namespace left over by an earlier run, if any.
fn quietly_delete(ns: &str) {
    let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
}

fn run(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().expect("command runs");
    assert!(status.success(), "failed: {}", args.join(" "));
}

/// A flow of the json target, with its IPv4 source prefixes looked up.
#[derive(Clone, Debug)]
struct Flow {
    from: String,
    to: String,
    protocol: String,
    ports: Option<(u16, u16)>,
    local: bool,
}

struct Site {
    flows: Vec<Flow>,
    /// IPv4 prefixes of every node.
    prefixes: BTreeMap<String, Vec<Ipv4Net>>,
    roles: BTreeSet<String>,
}

fn json(root: &Root, settings: &[String]) -> Site {
    let options = Options { target: Some(Target::Json), settings: settings.to_vec(), ..Options::default() };
    let outcome = portc::compile(root, &FsLoader, &options).expect("loads");
    let document: serde_json::Value = serde_json::from_str(&outcome.output.expect("builds")).expect("json");
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut prefixes = BTreeMap::new();
    let mut roles = BTreeSet::new();
    for node in document["nodes"].as_array().into_iter().flatten() {
        let v4: Vec<Ipv4Net> =
            node["addresses"].as_array().into_iter().flatten().filter_map(|a| a.as_str()?.parse().ok()).collect();
        prefixes.insert(text(&node["name"]), v4);
        if node["kind"] == "role" {
            roles.insert(text(&node["name"]));
        }
    }
    let flows = document["flows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| Flow {
            from: text(&f["from"]),
            to: text(&f["to"]),
            protocol: text(&f["protocol"]),
            ports: f["ports"]["start"].as_u64().zip(f["ports"]["end"].as_u64()).map(|(s, e)| (s as u16, e as u16)),
            local: f["local"].as_bool().unwrap_or(false),
        })
        .collect();
    Site { flows, prefixes, roles }
}

/// One address per node: the first host of its first IPv4 prefix not already taken; for a
/// prefix as wide as the Internet, an address in 10.250.0.0/16 that no other node claims.
fn addresses(site: &Site) -> BTreeMap<String, Ipv4Addr> {
    let mut taken: BTreeSet<Ipv4Addr> = BTreeSet::new();
    let mut out = BTreeMap::new();
    let used: BTreeSet<&String> = site.flows.iter().flat_map(|f| [&f.from, &f.to]).collect();
    for name in used {
        let Some(first) = site.prefixes.get(name).and_then(|p| p.first()).copied() else { continue };
        let others: Vec<Ipv4Net> =
            site.prefixes.iter().filter(|(n, _)| *n != name).flat_map(|(_, p)| p.iter().copied()).collect();
        let candidates: Box<dyn Iterator<Item = Ipv4Addr>> = if first.prefix_len() < 8 {
            Box::new(Ipv4Net::new(Ipv4Addr::new(10, 250, 0, 0), 16).expect("prefix").hosts())
        } else if first.prefix_len() == 32 {
            Box::new(std::iter::once(first.addr()))
        } else {
            Box::new(first.hosts())
        };
        let wide = first.prefix_len() < 8;
        let pick =
            candidates.take(4096).find(|a| !taken.contains(a) && (!wide || !others.iter().any(|o| o.contains(a))));
        if let Some(address) = pick {
            taken.insert(address);
            out.insert(name.clone(), address);
        }
    }
    out
}

fn build_network(tag: &str, addresses: &BTreeMap<String, Ipv4Addr>) -> Network {
    let hub = format!("pc{}{tag}h", std::process::id());
    quietly_delete(&hub);
    run(&["ip", "netns", "add", &hub]);
    let mut network = Network { hub: hub.clone(), nodes: BTreeMap::new() };
    run(&["ip", "-n", &hub, "link", "add", "br0", "type", "bridge"]);
    run(&["ip", "-n", &hub, "link", "set", "br0", "up"]);
    for (i, (name, address)) in addresses.iter().enumerate() {
        let ns = format!("pc{}{tag}n{i}", std::process::id());
        quietly_delete(&ns);
        run(&["ip", "netns", "add", &ns]);
        network.nodes.insert(name.clone(), (ns.clone(), *address));
        let (inner, outer) = ("v0".to_string(), format!("p{i}"));
        run(&["ip", "-n", &ns, "link", "add", &inner, "type", "veth", "peer", "name", &outer, "netns", &hub]);
        run(&["ip", "-n", &hub, "link", "set", &outer, "master", "br0", "up"]);
        run(&["ip", "-n", &ns, "addr", "add", &format!("{address}/32"), "dev", &inner]);
        run(&["ip", "-n", &ns, "link", "set", &inner, "up"]);
        run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        run(&["ip", "-n", &ns, "route", "add", "default", "dev", &inner]);
    }
    network
}

fn load_rulesets(root: &Root, network: &Network, roles: &BTreeSet<String>) {
    for (name, (ns, _)) in &network.nodes {
        if !roles.contains(name) {
            continue;
        }
        let options = Options {
            target: Some(Target::Nftables),
            roles: vec![name.clone()],
            allow_lockout: true,
            ..Options::default()
        };
        let outcome = portc::compile(root, &FsLoader, &options).expect("loads");
        let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
        let text = outcome.output.unwrap_or_else(|| panic!("{name}: {rendered}"));
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft runs");
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
        assert!(child.wait().expect("nft finishes").success(), "nft -f refused the ruleset of {name}");
    }
}

/// Sends one probe; true when it got through.
fn probe(network: &Network, from: &str, to: &str, protocol: &str, port: u16, seconds: f32) -> bool {
    let (Some((src_ns, _)), Some((dst_ns, dst_addr))) = (network.nodes.get(from), network.nodes.get(to)) else {
        return false;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/netns/probe.py");
    if protocol == "icmp" {
        let status = Command::new("ip")
            .args(["netns", "exec", src_ns, "ping", "-c", "1", "-W", "1", &dst_addr.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        return status.is_ok_and(|s| s.success());
    }
    let timeout = seconds.to_string();
    let mut listener = Command::new("ip")
        .args(["netns", "exec", dst_ns, "python3", script, "listen", protocol, &port.to_string(), &timeout])
        .stdout(Stdio::piped())
        .spawn()
        .expect("listener runs");
    let mut lines = BufReader::new(listener.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"), "listener in {to} did not start");
    let _ = Command::new("ip")
        .args([
            "netns",
            "exec",
            src_ns,
            "python3",
            script,
            "send",
            protocol,
            &dst_addr.to_string(),
            &port.to_string(),
            &timeout,
        ])
        .status();
    let got = lines.next().and_then(Result::ok).as_deref() == Some("got");
    let _ = listener.wait();
    got
}

/// Whether the site declares traffic from `from`'s address to role `to`: the firewall's own test.
fn declared(site: &Site, network: &Network, from: &str, to: &str, protocol: &str, port: u16) -> bool {
    let Some((_, address)) = network.nodes.get(from) else { return false };
    site.flows.iter().any(|f| {
        f.to == to
            && !f.local
            && f.protocol == protocol
            && f.ports.is_none_or(|(s, e)| s <= port && port <= e)
            && site.prefixes.get(&f.from).is_some_and(|p| p.iter().any(|n| n.contains(address)))
    })
}

/// Builds the network of a site, loads its rulesets and probes it.
fn prove(example: &str, tag: &str, flipped: &[&str]) {
    let root = Root::File(example.to_string());
    let site = json(&root, &[]);
    let network = build_network(tag, &addresses(&site));
    load_rulesets(&root, &network, &site.roles);

    // Every declared flow between nodes, once per (from, to, protocol, port).
    let mut allowed: BTreeSet<(String, String, String, u16)> = BTreeSet::new();
    for f in site.flows.iter().filter(|f| !f.local && f.from != f.to && site.roles.contains(&f.to)) {
        let port = f.ports.map_or(0, |(s, _)| s);
        if matches!(f.protocol.as_str(), "tcp" | "udp" | "icmp") {
            allowed.insert((f.from.clone(), f.to.clone(), f.protocol.clone(), port));
        }
    }
    let allowed: Vec<_> = allowed
        .into_iter()
        .filter(|(f, t, _, _)| network.nodes.contains_key(f) && network.nodes.contains_key(t))
        .collect();
    assert!(allowed.len() >= 5, "{example}: too few flows to prove anything ({})", allowed.len());
    for (from, to, protocol, port) in &allowed {
        assert!(
            probe(&network, from, to, protocol, *port, 2.0),
            "{example}: declared {protocol} {port} from {from} to {to} was dropped"
        );
    }

    // Denied: flows that exist only with a switch flipped, then sampled mutations of the declared ones.
    let mut denied: BTreeSet<(String, String, String, u16)> = BTreeSet::new();
    let flipped_settings: Vec<String> = flipped.iter().map(|s| s.to_string()).collect();
    for f in json(&root, &flipped_settings).flows.iter().filter(|f| !f.local && site.roles.contains(&f.to)) {
        if let (Some((port, _)), true) = (f.ports, matches!(f.protocol.as_str(), "tcp" | "udp")) {
            denied.insert((f.from.clone(), f.to.clone(), f.protocol.clone(), port));
        }
    }
    let sources: Vec<&String> = network.nodes.keys().collect();
    for (i, (from, to, protocol, port)) in allowed.iter().filter(|a| a.2 != "icmp").enumerate() {
        let other = if protocol == "tcp" { "udp" } else { "tcp" };
        denied.insert((from.clone(), to.clone(), protocol.clone(), port.wrapping_add(1).max(1)));
        denied.insert((from.clone(), to.clone(), other.to_string(), *port));
        if let Some(stranger) = sources.get(i % sources.len()) {
            denied.insert(((*stranger).clone(), to.clone(), protocol.clone(), *port));
        }
    }
    let denied: Vec<_> = denied
        .into_iter()
        .filter(|(f, t, p, port)| f != t && network.nodes.contains_key(f) && !declared(&site, &network, f, t, p, *port))
        .take(MAX_DENIED)
        .collect();
    assert!(denied.len() >= 5, "{example}: too few denied probes");
    for (from, to, protocol, port) in &denied {
        assert!(
            !probe(&network, from, to, protocol, *port, 0.6),
            "{example}: undeclared {protocol} {port} from {from} to {to} got through"
        );
    }
    eprintln!("{example}: {} declared flows passed, {} undeclared probes dropped", allowed.len(), denied.len());
}

#[test]
fn rulesets_hold_in_network_namespaces() {
    if !support::tool_available("nft")
        || !support::tool_available("ip")
        || !support::tool_available("python3")
        || !support::net_admin_available()
    {
        return;
    }
    prove("examples/rancher-custom-site.ports", "r", &["external_lb=false", "ace=false"]);
    prove("examples/dce5-cilium-site.ports", "d", &["cni=calico"]);
}
