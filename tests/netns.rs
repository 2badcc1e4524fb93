//! The nftables target proven on a simulated Kubernetes cluster, in Linux network namespaces.
//!
//! Each host role of an example site gets a node namespace on a shared bridge (the underlay),
//! with its IPv4 and IPv6 addresses. Every Kubernetes node (a role that the pods reach) also gets
//! a pod namespace behind a veth, wired as Calico wires pods (a /32 route to the veth, proxy ARP,
//! `169.254.1.1` as the pod's gateway), a VXLAN device on the site's overlay port with routes to
//! the other nodes' pod blocks (as Flannel sets them up), and kube-proxy-style NAT in a table of
//! its own: NodePorts DNAT-ed in prerouting to a local and to a remote pod, a ClusterIP DNAT-ed
//! to a pod on another node, and an IPVS-style ClusterIP that is an address of the node. The
//! site's externals get namespaces too, and so does an outsider that no flow names.
//!
//! Then each host's generated ruleset is loaded (twice, as a reload would) and probed: pod to pod
//! across nodes through the overlay, pod to its node's kubelet, NodePorts from a declared and an
//! undeclared source, ClusterIPs from a pod, the operators' SSH over IPv4 and IPv6 (neighbour
//! discovery), the outsider to the overlay port, MLD in and (with egress) out, the kubelet's probe
//! of its pod, every declared flow between the namespaces and sampled undeclared traffic; with and
//! without `--egress`. kube-proxy's table must survive the reloads.
//!
//! Probes use only the namespaces' own addresses, are bounded in count and time, and the
//! namespaces are deleted when a test ends, failed or not.

#![allow(clippy::disallowed_methods)] // Tests read their own files.

mod support;

use support::{Need, Test};

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use portc::{FsLoader, Options, Root, Target};

/// Undeclared probes tried per site and mode, beyond the fixed ones.
const MAX_DENIED: usize = 10;
/// The port every test pod listens on.
const POD_PORT: u16 = 8080;
/// How long a probe that must pass may take: it returns as soon as it got through, so this only
/// costs time when it fails, and it must outlast a Python start on a loaded machine.
const PASS_SECONDS: f32 = 5.0;
/// The IPVS-style Service's port, served by the node itself.
const IPVS_PORT: u16 = 8053;

/// Every namespace of one test bed; deleted on drop, also when an assertion fails.
struct Bed {
    namespaces: Vec<String>,
    prefix: String,
    /// Daemons started for the bed (firewalld and its D-Bus), ended before the namespaces go.
    daemons: Vec<std::process::Child>,
}

impl Drop for Bed {
    fn drop(&mut self) {
        for daemon in &mut self.daemons {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        // For a developer debugging the bed by hand; the namespaces then stay until deleted.
        if std::env::var_os("PORTC_KEEP_NETNS").is_some() {
            eprintln!("kept the namespaces {}", self.namespaces.join(" "));
            return;
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
        }
    }
}

impl Bed {
    fn new(tag: &str) -> Bed {
        Bed { namespaces: Vec::new(), prefix: format!("pc{}{tag}", std::process::id()), daemons: Vec::new() }
    }

    /// A new namespace, with loopback up; a leftover of an earlier run is deleted first.
    fn namespace(&mut self, name: &str) -> String {
        let ns = format!("{}{name}", self.prefix);
        let _ = Command::new("ip").args(["netns", "del", &ns]).stderr(Stdio::null()).status();
        run(&["ip", "netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        ns
    }
}

fn run(args: &[&str]) {
    let output = Command::new(args[0]).args(&args[1..]).output().expect("command runs");
    assert!(output.status.success(), "failed: {}\n{}", args.join(" "), String::from_utf8_lossy(&output.stderr));
}

fn in_ns(ns: &str, args: &[&str]) {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    run(&all);
}

/// `nft -f -` in a namespace; `Err` with nft's complaint.
fn nft_load(ns: &str, text: &str) -> Result<(), String> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nft runs");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let output = child.wait_with_output().expect("nft finishes");
    if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
}

/// A flow of the json target.
#[derive(Clone, Debug)]
struct Flow {
    from: String,
    to: String,
    protocol: String,
    ports: Option<(u16, u16)>,
    local: bool,
}

/// What the test needs of a site: its flows and every node's prefixes.
struct Site {
    flows: Vec<Flow>,
    prefixes: BTreeMap<String, Vec<IpNet>>,
    /// Roles that get a host firewall.
    hosts: Vec<String>,
}

impl Site {
    fn read(root: &Root) -> Site {
        let options = Options { target: Some(Target::Json), ..Options::default() };
        let outcome = portc::compile(root, &FsLoader, &options).expect("loads");
        let document: serde_json::Value = serde_json::from_str(&outcome.output.expect("builds")).expect("json");
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let mut prefixes = BTreeMap::new();
        for node in document["nodes"].as_array().into_iter().flatten() {
            let nets = node["addresses"].as_array().into_iter().flatten().filter_map(|a| a.as_str()?.parse().ok());
            prefixes.insert(text(&node["name"]), nets.collect());
        }
        let flows = document["flows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| Flow {
                from: text(&f["from"]),
                to: text(&f["to"]),
                protocol: text(&f["protocol"]),
                ports: f["ports"]["start"]
                    .as_u64()
                    .zip(f["ports"]["end"].as_u64())
                    .map(|(s, e)| (u16::try_from(s).expect("port"), u16::try_from(e).expect("port"))),
                local: f["local"].as_bool().unwrap_or(false),
            })
            .collect();
        // The hosts are the roles the operators manage: a VIP role (DCE 5's Istio gateway) is an
        // address that the nodes serve, not a host with a firewall of its own.
        let managed: BTreeSet<String> = document["flows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["management"].as_bool() == Some(true))
            .map(|f| text(&f["to"]))
            .collect();
        let hosts = support::host_roles(root, &FsLoader, &[]).into_iter().filter(|r| managed.contains(r)).collect();
        Site { flows, prefixes, hosts }
    }

    /// The roles the pods reach: the Kubernetes nodes.
    fn kubernetes_nodes(&self) -> Vec<String> {
        let nodes: BTreeSet<String> = self
            .flows
            .iter()
            .filter(|f| f.from == "pod_cidr" && self.hosts.contains(&f.to))
            .map(|f| f.to.clone())
            .collect();
        nodes.into_iter().collect()
    }

    fn v4(&self, name: &str) -> Vec<Ipv4Net> {
        let nets = self.prefixes.get(name).into_iter().flatten();
        nets.filter_map(|n| if let IpNet::V4(v4) = n { Some(*v4) } else { None }).collect()
    }

    fn v6(&self, name: &str) -> Vec<Ipv6Net> {
        let nets = self.prefixes.get(name).into_iter().flatten();
        nets.filter_map(|n| if let IpNet::V6(v6) = n { Some(*v6) } else { None }).collect()
    }

    /// The UDP port of the overlay: a UDP flow between two Kubernetes nodes on a VXLAN port.
    fn overlay_port(&self) -> u16 {
        let nodes = self.kubernetes_nodes();
        self.flows
            .iter()
            .filter(|f| f.protocol == "udp" && nodes.contains(&f.from) && nodes.contains(&f.to))
            .filter_map(|f| f.ports.map(|(s, _)| s))
            .find(|p| [8472, 4789].contains(p))
            .expect("the site declares a VXLAN overlay between its nodes")
    }

    /// Whether the site declares traffic from `address` to role `to`.
    fn declares(&self, address: IpAddr, to: &str, protocol: &str, port: u16) -> bool {
        self.flows.iter().any(|f| {
            f.to == to
                && !f.local
                && f.protocol == protocol
                && f.ports.is_none_or(|(s, e)| s <= port && port <= e)
                && self.prefixes.get(&f.from).is_some_and(|p| p.iter().any(|n| n.contains(&address)))
        })
    }
}

/// A namespace and its addresses.
#[derive(Clone, Debug)]
struct Host {
    ns: String,
    v4: Ipv4Addr,
    v6: Option<Ipv6Addr>,
}

/// One simulated cluster.
struct Cluster {
    /// Node namespaces (host roles) and peer namespaces (externals, the outsider), by name.
    hosts: BTreeMap<String, Host>,
    /// Pod namespaces, by the name of their node's role.
    pods: BTreeMap<String, Host>,
    overlay: u16,
    /// The ClusterIP that kube-proxy DNATs to a pod of another node, and the IPVS-style one.
    cluster_ip: Ipv4Addr,
    ipvs_ip: Ipv4Addr,
}

/// An address in `prefix` that no other node claims, or the prefix's first host.
fn pick_v4(prefix: Ipv4Net, others: &[IpNet], taken: &BTreeSet<IpAddr>) -> Option<Ipv4Addr> {
    let wide = prefix.prefix_len() < 8;
    let candidates: Box<dyn Iterator<Item = Ipv4Addr>> = if wide {
        Box::new(Ipv4Net::new(Ipv4Addr::new(10, 250, 0, 0), 16).expect("prefix").hosts())
    } else if prefix.prefix_len() == 32 {
        Box::new(std::iter::once(prefix.addr()))
    } else {
        Box::new(prefix.hosts())
    };
    let mut candidates = candidates.take(4096);
    candidates
        .find(|a| !taken.contains(&IpAddr::V4(*a)) && (!wide || !others.iter().any(|o| o.contains(&IpAddr::V4(*a)))))
}

fn pick_v6(prefix: Ipv6Net, taken: &BTreeSet<IpAddr>) -> Option<Ipv6Addr> {
    if prefix.prefix_len() < 16 {
        return None;
    }
    (1..4096u128)
        .map(|i| Ipv6Addr::from(u128::from(prefix.network()) + i))
        .find(|a| prefix.contains(a) && !taken.contains(&IpAddr::V6(*a)))
}

impl Cluster {
    fn build(bed: &mut Bed, site: &Site) -> Cluster {
        let hub = bed.namespace("hub");
        run(&["ip", "-n", &hub, "link", "add", "br0", "type", "bridge"]);
        run(&["ip", "-n", &hub, "link", "set", "br0", "up"]);
        let all: Vec<IpNet> = site.prefixes.values().flatten().copied().collect();
        let mut taken = BTreeSet::new();
        let mut hosts = BTreeMap::new();
        // The hosts, then every external that sends to one of them.
        let mut names: Vec<String> = site.hosts.clone();
        for flow in &site.flows {
            if site.hosts.contains(&flow.to) && !names.contains(&flow.from) && flow.from != "pod_cidr" {
                names.push(flow.from.clone());
            }
        }
        for (i, name) in names.iter().enumerate() {
            let Some(v4) = site.v4(name).first().and_then(|p| pick_v4(*p, &all, &taken)) else { continue };
            taken.insert(IpAddr::V4(v4));
            let v6 = site.v6(name).first().and_then(|p| pick_v6(*p, &taken));
            if let Some(v6) = v6 {
                taken.insert(IpAddr::V6(v6));
            }
            let ns = bed.namespace(&format!("n{i}"));
            attach(&hub, &ns, &format!("p{i}"), v4, v6);
            hosts.insert(name.clone(), Host { ns, v4, v6 });
        }
        let outsider = outsider(&all);
        let ns = bed.namespace("out");
        attach(&hub, &ns, "pout", outsider.0, Some(outsider.1));
        hosts.insert("outsider".into(), Host { ns, v4: outsider.0, v6: Some(outsider.1) });

        let nodes = site.kubernetes_nodes();
        assert!(nodes.len() >= 2, "a cluster needs two nodes, the site has {nodes:?}");
        let pod_net = *site.v4("pod_cidr").first().expect("the site binds pod_cidr");
        let service_net = *site.v4("service_cidr").first().expect("the site binds service_cidr");
        let block = |i: usize| {
            let base = u32::from(pod_net.network()) + (u32::try_from(i).expect("few nodes") << 8);
            (Ipv4Addr::from(base), Ipv4Addr::from(base + 5))
        };
        let overlay = site.overlay_port();
        let mut pods = BTreeMap::new();
        for (i, node) in nodes.iter().enumerate() {
            let host = hosts.get(node).expect("every node has a namespace").clone();
            let (gateway, pod) = block(i);
            let ns = bed.namespace(&format!("pod{i}"));
            wire_pod(&host.ns, &ns, &format!("cali{i}"), pod);
            wire_overlay(&host.ns, host.v4, gateway, overlay);
            pods.insert(node.clone(), Host { ns, v4: pod, v6: None });
        }
        // Every node knows every other node's pod block, through the overlay.
        for (i, node) in nodes.iter().enumerate() {
            let host = hosts.get(node).expect("node");
            for (j, other) in nodes.iter().enumerate() {
                if i == j {
                    continue;
                }
                let remote = hosts.get(other).expect("node").v4.to_string();
                in_ns(&host.ns, &["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "flannel.1", "dst", &remote]);
                let gateway = block(j).0.to_string();
                let route = format!("{}/24", block(j).0);
                in_ns(&host.ns, &["ip", "route", "add", &route, "via", &gateway, "dev", "flannel.1", "onlink"]);
            }
        }
        let cluster_ip = Ipv4Addr::from(u32::from(service_net.network()) + 10);
        let ipvs_ip = Ipv4Addr::from(u32::from(service_net.network()) + 20);
        let cluster = Cluster { hosts, pods, overlay, cluster_ip, ipvs_ip };
        cluster.kube_proxy(&nodes, pod_net);
        cluster
    }

    /// kube-proxy's NAT on every node, in a table of its own as its nftables mode (or
    /// iptables-nft) installs it, and the IPVS-style ClusterIP as an address of every node (on
    /// `lo`, since the test machine's kernel may lack the dummy device).
    fn kube_proxy(&self, nodes: &[String], pod_net: Ipv4Net) {
        let pod = |i: usize| self.pods.get(&nodes[i % nodes.len()]).expect("pod").v4;
        for (i, node) in nodes.iter().enumerate() {
            let host = self.hosts.get(node).expect("node");
            let (local, remote) = (pod(i), pod(i + 1));
            let table = format!(
                "table ip kube_proxy_sim {{
                    chain prerouting {{
                        type nat hook prerouting priority dstnat; policy accept;
                        ip daddr {cluster_ip} tcp dport 80 dnat to {remote}:{POD_PORT}
                        fib daddr type local tcp dport 30080 dnat to {local}:{POD_PORT}
                        fib daddr type local tcp dport 30081 dnat to {remote}:{POD_PORT}
                    }}
                    chain output {{
                        type nat hook output priority -100; policy accept;
                        ip daddr {cluster_ip} tcp dport 80 dnat to {remote}:{POD_PORT}
                    }}
                    chain postrouting {{
                        type nat hook postrouting priority srcnat; policy accept;
                        ct status dnat ip saddr != {pod_net} ip daddr != {local} masquerade
                    }}
                }}\n",
                cluster_ip = self.cluster_ip,
            );
            nft_load(&host.ns, &table).unwrap_or_else(|e| panic!("kube-proxy's table in {node}: {e}"));
            // kube-proxy's IPVS mode puts it on the dummy `kube-ipvs0`; `lo` makes it as local.
            in_ns(&host.ns, &["ip", "addr", "add", &format!("{}/32", self.ipvs_ip), "dev", "lo"]);
        }
    }
}

/// An address that no prefix of the site contains: the traffic of strangers.
fn outsider(all: &[IpNet]) -> (Ipv4Addr, Ipv6Addr) {
    let v4 = [Ipv4Addr::new(198, 51, 100, 77), Ipv4Addr::new(203, 0, 113, 77), Ipv4Addr::new(192, 0, 2, 77)]
        .into_iter()
        .find(|a| !all.iter().any(|n| n.prefix_len() >= 8 && n.contains(&IpAddr::V4(*a))))
        .expect("an outsider address");
    let v6: Ipv6Addr = "2001:db8:77::77".parse().expect("address");
    (v4, v6)
}

/// A veth from the hub's bridge into `ns`, with /32 and /128 addresses and routes on the link.
fn attach(hub: &str, ns: &str, outer: &str, v4: Ipv4Addr, v6: Option<Ipv6Addr>) {
    run(&["ip", "-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", outer, "netns", hub]);
    run(&["ip", "-n", hub, "link", "set", outer, "master", "br0", "up"]);
    run(&["ip", "-n", ns, "addr", "add", &format!("{v4}/32"), "dev", "v0"]);
    if let Some(v6) = v6 {
        run(&["ip", "-n", ns, "addr", "add", &format!("{v6}/128"), "dev", "v0", "nodad"]);
    }
    run(&["ip", "-n", ns, "link", "set", "v0", "up"]);
    run(&["ip", "-n", ns, "route", "add", "default", "dev", "v0"]);
    if v6.is_some() {
        run(&["ip", "-n", ns, "-6", "route", "add", "default", "dev", "v0"]);
    }
    in_ns(ns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
}

/// A pod behind a veth, as Calico wires it.
fn wire_pod(node: &str, pod: &str, veth: &str, address: Ipv4Addr) {
    run(&["ip", "-n", node, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", pod]);
    run(&["ip", "-n", pod, "addr", "add", &format!("{address}/32"), "dev", "eth0"]);
    run(&["ip", "-n", pod, "link", "set", "eth0", "up"]);
    run(&["ip", "-n", pod, "route", "add", "169.254.1.1", "dev", "eth0"]);
    run(&["ip", "-n", pod, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0"]);
    run(&["ip", "-n", node, "link", "set", veth, "up"]);
    in_ns(node, &["sysctl", "-qw", &format!("net.ipv4.conf.{veth}.proxy_arp=1")]);
    run(&["ip", "-n", node, "route", "add", &format!("{address}/32"), "dev", veth]);
}

/// The node's VXLAN device, as Flannel makes it: its address is the first of the node's block.
fn wire_overlay(node: &str, underlay: Ipv4Addr, gateway: Ipv4Addr, port: u16) {
    let (local, port) = (underlay.to_string(), port.to_string());
    in_ns(
        node,
        &["ip", "link", "add", "flannel.1", "type", "vxlan", "id", "1", "local", &local, "dev", "v0", "dstport", &port],
    );
    in_ns(node, &["ip", "addr", "add", &format!("{gateway}/32"), "dev", "flannel.1"]);
    in_ns(node, &["ip", "link", "set", "flannel.1", "up"]);
}

/// One probe and what it must give.
#[derive(Clone, Debug)]
struct Probe {
    what: String,
    from: String,
    /// Where the listener runs.
    listener: String,
    to: IpAddr,
    protocol: &'static str,
    port: u16,
    /// The port the listener waits on: the port after DNAT.
    listen: u16,
    pass: bool,
}

/// Sends one probe; true when it got through.
fn deliver(from: &str, listener: &str, to: IpAddr, protocol: &str, (port, listen): (u16, u16), seconds: f32) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/netns/probe.py");
    let to = to.to_string();
    if protocol == "icmp" {
        let status = Command::new("ip")
            .args(["netns", "exec", from, "ping", "-c", "1", "-W", "1", &to])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        return status.is_ok_and(|s| s.success());
    }
    let timeout = seconds.to_string();
    let mut child = Command::new("ip")
        .args(["netns", "exec", listener, "python3", script, "listen", protocol, &listen.to_string(), &timeout])
        .stdout(Stdio::piped())
        .spawn()
        .expect("listener runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"), "listener in {listener} did not start");
    let _ = Command::new("ip")
        .args(["netns", "exec", from, "python3", script, "send", protocol, &to, &port.to_string(), &timeout])
        .status();
    let got = lines.next().and_then(Result::ok).as_deref() == Some("got");
    let _ = child.wait();
    got
}

/// The packets a named counter of the monitor table has seen.
fn counter(ns: &str, name: &str) -> u64 {
    let output =
        Command::new("ip").args(["netns", "exec", ns, "nft", "list", "counter", "inet", "test_monitor", name]).output();
    let text = output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    text.split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("counter {name} in {ns}: {text}"))
}

/// Counters behind the host firewall (a later priority, so only what it accepted reaches them).
fn monitor(ns: &str, outsider: Ipv4Addr, overlay: u16) {
    let table = format!(
        "table inet test_monitor {{
            counter outsider_overlay {{}}
            counter mld_query_in {{}}
            counter mld_report_out {{}}
            chain input {{
                type filter hook input priority 100; policy accept;
                ip saddr {outsider} udp dport {overlay} counter name outsider_overlay
                icmpv6 type mld-listener-query counter name mld_query_in
            }}
            chain postrouting {{
                type filter hook postrouting priority 100; policy accept;
                icmpv6 type mld2-listener-report counter name mld_report_out
            }}
        }}\n"
    );
    nft_load(ns, &table).unwrap_or_else(|e| panic!("monitor table: {e}"));
}

/// The host firewall under test, and how a node loads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Firewall {
    /// `nft -f HOST.nft`.
    Nftables,
    /// `scripts/iptables-apply.sh load HOST`: `ipset restore`, `iptables-restore --noflush`,
    /// `ip6tables-restore --noflush`, then the hooks.
    Iptables,
    /// The host's files in firewalld's configuration directory, as `HOST/install.sh` lays them
    /// out, then `firewall-cmd --reload`, with a firewalld (nftables backend) and a D-Bus of its
    /// own per node.
    Firewalld,
}

/// Where a node's firewalld keeps its configuration and its D-Bus socket.
fn firewalld_paths(dir: &std::path::Path, ns: &str) -> (std::path::PathBuf, String) {
    let base = dir.join(format!("firewalld-{ns}"));
    let bus = format!("unix:path={}", base.join("bus").display());
    (base.join("conf"), bus)
}

/// `firewall-cmd --reload` against the firewalld of `ns`. On a busy machine a reload can take
/// longer than D-Bus's 25 s reply timeout; firewalld goes on with it, so a reply that did not
/// come is followed by waiting until the daemon answers `running` again. The probes and
/// `check_reloaded` then judge what it loaded.
fn reload_firewalld(ns: &str, bus: &str) -> Result<(), String> {
    let Err(error) = firewall_cmd(ns, bus, &["--reload"]) else { return Ok(()) };
    if !error.contains("Did not receive a reply") {
        return Err(error);
    }
    for _ in 0..24 {
        if firewall_cmd(ns, bus, &["--state"]).is_ok_and(|state| state.trim() == "running") {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    Err(format!("{error}\n(and firewalld did not answer for two minutes after)"))
}

/// `firewall-cmd ARGS` against the firewalld of `ns`.
fn firewall_cmd(ns: &str, bus: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new("ip")
        .args(["netns", "exec", ns, "firewall-cmd"])
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() { Ok(text) } else { Err(format!("{text}{}", String::from_utf8_lossy(&output.stderr))) }
}

impl Firewall {
    fn target(self) -> Target {
        match self {
            Firewall::Nftables => Target::Nftables,
            Firewall::Iptables => Target::Iptables,
            Firewall::Firewalld => Target::Firewalld,
        }
    }

    /// The warnings a build of the examples gives for this firewall: firewalld's, by design.
    fn expected_warnings(self) -> &'static [&'static str] {
        match self {
            Firewall::Firewalld => &["W0307", "W0308"],
            _ => &[],
        }
    }

    /// Whether a probe gets through: what the site declares, except where the firewall is known
    /// to be wider (firewalld accepts NodePorts that kube-proxy DNAT-ed: W0307).
    fn passes(self, probe: &Probe) -> bool {
        probe.pass || (self == Firewall::Firewalld && probe.what.starts_with("outsider -> NodePort"))
    }

    /// What a node runs beside the firewall before it is loaded: for iptables, a chain of
    /// kube-proxy's hooked from INPUT, which every reload must keep; for firewalld, the daemon.
    fn prepare(self, bed: &mut Bed, ns: &str, dir: &std::path::Path) {
        match self {
            Firewall::Nftables => {}
            Firewall::Iptables => {
                for tool in ["iptables", "ip6tables"] {
                    in_ns(ns, &[tool, "-N", "KUBE-FIREWALL"]);
                    in_ns(
                        ns,
                        &[tool, "-A", "KUBE-FIREWALL", "-m", "comment", "--comment", "kube-proxy sim", "-j", "RETURN"],
                    );
                    in_ns(ns, &[tool, "-I", "INPUT", "-j", "KUBE-FIREWALL"]);
                }
            }
            Firewall::Firewalld => {
                let (conf, bus) = firewalld_paths(dir, ns);
                std::fs::create_dir_all(&conf).expect("firewalld's directory");
                std::fs::write(conf.join("firewalld.conf"), "DefaultZone=public\nFirewallBackend=nftables\n")
                    .expect("firewalld.conf");
                let socket = bus.trim_start_matches("unix:path=").to_string();
                let dbus = Command::new("dbus-daemon")
                    .args(["--config-file=/usr/share/dbus-1/system.conf", "--nofork", "--nopidfile"])
                    .arg(format!("--address={bus}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("dbus-daemon runs");
                bed.daemons.push(dbus);
                for _ in 0..100 {
                    if std::path::Path::new(&socket).exists() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                let firewalld = Command::new("ip")
                    .args(["netns", "exec", ns, "firewalld", "--nofork", "--nopid", "--log-target", "console"])
                    .arg("--system-config")
                    .arg(&conf)
                    .env("DBUS_SYSTEM_BUS_ADDRESS", &bus)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("firewalld runs");
                bed.daemons.push(firewalld);
                let running = (0..120).any(|_| {
                    std::thread::sleep(std::time::Duration::from_millis(500));
                    firewall_cmd(ns, &bus, &["--state"]).is_ok_and(|s| s.trim() == "running")
                });
                assert!(running, "firewalld did not start in {ns}");
            }
        }
    }

    /// Loads one host's documents; `Err` with the tool's complaint.
    fn load(
        self,
        ns: &str,
        role: &str,
        documents: &[portc::lower::Document],
        dir: &std::path::Path,
    ) -> Result<(), String> {
        match self {
            Firewall::Nftables => {
                let text: String = documents.iter().map(|d| d.text.as_str()).collect();
                nft_load(ns, &text)
            }
            Firewall::Iptables => {
                for document in documents {
                    std::fs::write(dir.join(&document.name), &document.text).map_err(|e| e.to_string())?;
                }
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/iptables-apply.sh");
                let prefix = dir.join(role).to_string_lossy().into_owned();
                let output = Command::new("ip")
                    .args(["netns", "exec", ns, "sh", script, "load", &prefix])
                    .env("PORTC_IPTABLES_DIR", dir.join(format!("keep-{role}")))
                    .output()
                    .map_err(|e| e.to_string())?;
                if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
            }
            Firewall::Firewalld => {
                // The files go where install.sh puts them (tests/firewalld.rs runs install.sh
                // itself; its firewall-offline-cmd calls take a minute per host here).
                let (conf, bus) = firewalld_paths(dir, ns);
                for kind in ["zones", "services", "ipsets", "policies"] {
                    let _ = std::fs::remove_dir_all(conf.join(kind));
                }
                for document in documents.iter().filter(|d| d.name.ends_with(".xml")) {
                    let relative = document.name.split_once('/').map_or(document.name.as_str(), |(_, rest)| rest);
                    let path = conf.join(relative);
                    std::fs::create_dir_all(path.parent().ok_or("no parent")?).map_err(|e| e.to_string())?;
                    std::fs::write(path, &document.text).map_err(|e| e.to_string())?;
                }
                std::fs::write(conf.join("firewalld.conf"), "DefaultZone=portc\nFirewallBackend=nftables\n")
                    .map_err(|e| e.to_string())?;
                reload_firewalld(ns, &bus)
            }
        }
    }

    /// After the reloads: one portc table (or one hook per built-in chain), and the other tools'
    /// rules still there.
    fn check_reloaded(self, ns: &str, role: &str, kubernetes_node: bool, dir: &std::path::Path) {
        let listing = |args: &[&str]| {
            let output = Command::new("ip").args(["netns", "exec", ns]).args(args).output();
            output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
        };
        let tables = listing(&["nft", "list", "tables"]);
        if kubernetes_node {
            assert!(tables.contains("table ip kube_proxy_sim"), "{role}: kube-proxy's table is gone:\n{tables}");
        }
        match self {
            Firewall::Nftables => {
                let count = tables.matches("table inet portc").count();
                assert_eq!(count, 1, "{role}: one portc table after reloads:\n{tables}");
            }
            Firewall::Iptables => {
                for tool in ["iptables-save", "ip6tables-save"] {
                    let saved = listing(&[tool]);
                    for hook in
                        ["-A PREROUTING -j PORTC-PREROUTING", "-A INPUT -j PORTC-INPUT", "-A OUTPUT -j PORTC-OUTPUT"]
                    {
                        assert_eq!(saved.matches(hook).count(), 1, "{role} ({tool}): one `{hook}`:\n{saved}");
                    }
                    assert!(saved.contains("-A INPUT -j KUBE-FIREWALL"), "{role} ({tool}): kube-proxy's hook is gone");
                }
            }
            Firewall::Firewalld => {
                assert_eq!(tables.matches("table inet firewalld").count(), 1, "{role}: firewalld's table:\n{tables}");
                let (_, bus) = firewalld_paths(dir, ns);
                let zone = firewall_cmd(ns, &bus, &["--get-default-zone"]).unwrap_or_else(|e| panic!("{role}: {e}"));
                assert_eq!(zone.trim(), "portc", "{role}: the portc zone is the default zone");
            }
        }
    }

    /// Takes the firewall away, so that the next one starts from an open node.
    fn unload(self, ns: &str) {
        // firewalld runs until the bed ends it.
        match self {
            Firewall::Nftables => {
                let _ =
                    Command::new("ip").args(["netns", "exec", ns, "nft", "delete", "table", "inet", "portc"]).status();
            }
            Firewall::Firewalld => {}
            Firewall::Iptables => {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/iptables-apply.sh");
                let keep = std::env::temp_dir().join(format!("portc-netns-unload-{}", std::process::id()));
                let _ = Command::new("ip")
                    .args(["netns", "exec", ns, "sh", script, "remove"])
                    .env("PORTC_IPTABLES_DIR", keep)
                    .stdout(Stdio::null())
                    .status();
            }
        }
    }
}

/// Loads every host's firewall, twice (a reload must replace, not add).
fn load(firewall: Firewall, root: &Root, cluster: &Cluster, site: &Site, egress: bool, dir: &std::path::Path) {
    for role in &site.hosts {
        let Some(host) = cluster.hosts.get(role) else { continue };
        // firewalld's zone is wider than the flows on a Kubernetes node (E0304, E0305): built only
        // with --allow-lossy, as an operator would.
        let allow_lossy = firewall == Firewall::Firewalld;
        let options = Options {
            target: Some(firewall.target()),
            roles: vec![role.clone()],
            egress,
            allow_lossy,
            ..Options::default()
        };
        let outcome = portc::compile(root, &FsLoader, &options).expect("loads");
        let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
        // The examples build without a warning, with and without egress filtering, but those the
        // firewall gives by design.
        let expected = firewall.expected_warnings();
        assert!(
            outcome.diagnostics.iter().all(|d| expected.contains(&d.code.as_str())),
            "{root:?} as {role}{}:\n{rendered}",
            if egress { " --egress" } else { "" }
        );
        assert!(outcome.output.is_some(), "{role}: {rendered}");
        for _ in 0..2 {
            firewall.load(&host.ns, role, &outcome.documents, dir).unwrap_or_else(|e| {
                panic!("{firewall:?}: the host firewall of {role} does not load: {e}\n{:#?}", outcome.documents)
            });
        }
        firewall.check_reloaded(&host.ns, role, site.kubernetes_nodes().contains(role), dir);
    }
}

/// The fixed probes of a Kubernetes cluster, and every declared flow between namespaces, and
/// sampled undeclared traffic.
fn probes(site: &Site, cluster: &Cluster) -> Vec<Probe> {
    let nodes = site.kubernetes_nodes();
    let mut out = Vec::new();
    // `(port, listen)`: the port the probe is sent to, and the one it arrives on after DNAT.
    let mut add = |what: String, from: &Host, listener: &Host, to: IpAddr, protocol, (port, listen), pass| {
        out.push(Probe {
            what,
            from: from.ns.clone(),
            listener: listener.ns.clone(),
            to,
            protocol,
            port,
            listen,
            pass,
        });
    };
    let host = |name: &str| cluster.hosts.get(name).unwrap_or_else(|| panic!("no namespace for {name}"));
    let pod = |name: &str| cluster.pods.get(name).expect("pod");
    let (first, second) = (&nodes[0], &nodes[1]);
    add(
        format!("pod on {first} -> pod on {second}, through the overlay"),
        pod(first),
        pod(second),
        IpAddr::V4(pod(second).v4),
        "tcp",
        (POD_PORT, POD_PORT),
        true,
    );
    for node in &nodes {
        add(
            format!("pod -> its node {node}: kubelet 10250"),
            pod(node),
            host(node),
            IpAddr::V4(host(node).v4),
            "tcp",
            (10250, 10250),
            true,
        );
        add(
            format!("{node} -> its own pod: kubelet probe"),
            host(node),
            pod(node),
            IpAddr::V4(pod(node).v4),
            "tcp",
            (POD_PORT, POD_PORT),
            true,
        );
    }
    add(
        format!("pod on {first} -> ClusterIP (DNAT to a pod on {second})"),
        pod(first),
        pod(second),
        IpAddr::V4(cluster.cluster_ip),
        "tcp",
        (80, POD_PORT),
        true,
    );
    add(
        format!("pod on {first} -> IPVS-style ClusterIP on its node"),
        pod(first),
        host(first),
        IpAddr::V4(cluster.ipvs_ip),
        "tcp",
        (IPVS_PORT, IPVS_PORT),
        true,
    );
    // NodePorts: to a worker-like node (the one that the NodePort flows reach).
    let nodeport_clients: Vec<&String> = site
        .flows
        .iter()
        .filter(|f| f.protocol == "tcp" && f.ports.is_some_and(|(s, e)| s <= 30080 && 30080 <= e))
        .filter(|f| nodes.contains(&f.to) && cluster.hosts.contains_key(&f.from) && !nodes.contains(&f.from))
        .map(|f| &f.from)
        .collect();
    let target = site
        .flows
        .iter()
        .find(|f| f.ports.is_some_and(|(s, e)| s <= 30080 && 30080 <= e) && nodes.contains(&f.to))
        .map(|f| f.to.clone());
    if let (Some(client), Some(target)) = (nodeport_clients.first(), target) {
        let index = nodes.iter().position(|n| *n == target).expect("a node");
        let remote = &nodes[(index + 1) % nodes.len()];
        add(
            format!("{client} -> NodePort 30080 on {target} (local pod)"),
            host(client),
            pod(&target),
            IpAddr::V4(host(&target).v4),
            "tcp",
            (30080, POD_PORT),
            true,
        );
        add(
            format!("{client} -> NodePort 30081 on {target} (pod on {remote})"),
            host(client),
            pod(remote),
            IpAddr::V4(host(&target).v4),
            "tcp",
            (30081, POD_PORT),
            true,
        );
        add(
            format!("outsider -> NodePort 30080 on {target}"),
            host("outsider"),
            pod(&target),
            IpAddr::V4(host(&target).v4),
            "tcp",
            (30080, POD_PORT),
            false,
        );
        add(
            format!("outsider -> NodePort 30081 on {target}"),
            host("outsider"),
            pod(remote),
            IpAddr::V4(host(&target).v4),
            "tcp",
            (30081, POD_PORT),
            false,
        );
    }
    // The operators' way in, over both families.
    if let Some(admins) = cluster.hosts.get("admins") {
        for role in &site.hosts {
            let Some(h) = cluster.hosts.get(role) else { continue };
            add(format!("admins -> {role}: SSH over IPv4"), admins, h, IpAddr::V4(h.v4), "tcp", (22, 22), true);
            if let (Some(v6), Some(_)) = (h.v6, admins.v6) {
                add(
                    format!("admins -> {role}: SSH over IPv6 (needs neighbour discovery)"),
                    admins,
                    h,
                    IpAddr::V6(v6),
                    "tcp",
                    (22, 22),
                    true,
                );
            }
        }
    }
    for node in &nodes {
        add(
            format!("outsider -> {node}: SSH"),
            host("outsider"),
            host(node),
            IpAddr::V4(host(node).v4),
            "tcp",
            (22, 22),
            false,
        );
        add(
            format!("outsider -> {node}: kubelet 10250"),
            host("outsider"),
            host(node),
            IpAddr::V4(host(node).v4),
            "tcp",
            (10250, 10250),
            false,
        );
    }
    declared_and_mutated(site, cluster, &mut out);
    out
}

/// Every declared TCP, UDP and ICMP flow between namespaces passes; sampled mutations (another
/// port, protocol or source) that the site does not declare are dropped.
fn declared_and_mutated(site: &Site, cluster: &Cluster, out: &mut Vec<Probe>) {
    let mut declared: BTreeSet<(String, String, String, u16)> = BTreeSet::new();
    for f in site.flows.iter().filter(|f| !f.local && f.from != f.to && site.hosts.contains(&f.to)) {
        let port = f.ports.map_or(0, |(s, _)| s);
        // The overlay's port belongs to the kernel's VXLAN socket; the pod probes cover it.
        let overlay = f.protocol == "udp" && port == cluster.overlay;
        if matches!(f.protocol.as_str(), "tcp" | "udp" | "icmp") && !overlay {
            declared.insert((f.from.clone(), f.to.clone(), f.protocol.clone(), port));
        }
    }
    let declared: Vec<_> = declared
        .into_iter()
        .filter(|(f, t, _, _)| cluster.hosts.contains_key(f) && cluster.hosts.contains_key(t))
        .collect();
    assert!(declared.len() >= 5, "too few declared flows to prove anything ({})", declared.len());
    let mut denied = BTreeSet::new();
    let sources: Vec<&String> = cluster.hosts.keys().collect();
    for (i, (from, to, protocol, port)) in declared.iter().enumerate() {
        let (Some(src), Some(dst)) = (cluster.hosts.get(from), cluster.hosts.get(to)) else { continue };
        out.push(Probe {
            what: format!("declared {protocol} {port} {from} -> {to}"),
            from: src.ns.clone(),
            listener: dst.ns.clone(),
            to: IpAddr::V4(dst.v4),
            protocol: if protocol == "tcp" {
                "tcp"
            } else if protocol == "udp" {
                "udp"
            } else {
                "icmp"
            },
            port: *port,
            listen: *port,
            pass: true,
        });
        if protocol == "icmp" {
            continue;
        }
        let other = if protocol == "tcp" { "udp" } else { "tcp" };
        denied.insert((from.clone(), to.clone(), protocol.clone(), port.wrapping_add(1).max(1)));
        denied.insert((from.clone(), to.clone(), other.to_string(), *port));
        if let Some(stranger) = sources.get(i % sources.len()) {
            denied.insert(((*stranger).clone(), to.clone(), protocol.clone(), *port));
        }
    }
    let denied = denied.into_iter().filter(|(f, t, p, port)| {
        let (Some(src), Some(_)) = (cluster.hosts.get(f), cluster.hosts.get(t)) else { return false };
        f != t && *port != cluster.overlay && !site.declares(IpAddr::V4(src.v4), t, p, *port)
    });
    for (from, to, protocol, port) in denied.take(MAX_DENIED) {
        let (src, dst) = (cluster.hosts.get(&from).expect("src"), cluster.hosts.get(&to).expect("dst"));
        out.push(Probe {
            what: format!("undeclared {protocol} {port} {from} -> {to}"),
            from: src.ns.clone(),
            listener: dst.ns.clone(),
            to: IpAddr::V4(dst.v4),
            protocol: if protocol == "tcp" { "tcp" } else { "udp" },
            port,
            listen: port,
            pass: false,
        });
    }
}

/// Runs the probes; returns the verdict lines and the failures.
fn verdicts(probes: &[Probe], firewall: Firewall) -> (Vec<String>, Vec<String>) {
    let (mut lines, mut failures) = (Vec::new(), Vec::new());
    for p in probes {
        let p = &Probe { pass: firewall.passes(p), ..p.clone() };
        let got = deliver(
            &p.from,
            &p.listener,
            p.to,
            p.protocol,
            (p.port, p.listen),
            if p.pass { PASS_SECONDS } else { 0.6 },
        );
        let verdict = if got { "passed" } else { "dropped" };
        let line = format!("{:<8} {} ({} {} to {})", verdict, p.what, p.protocol, p.port, p.to);
        if got != p.pass {
            failures.push(format!("expected {}: {line}", if p.pass { "passed" } else { "dropped" }));
        }
        lines.push(line);
    }
    (lines, failures)
}

/// MLD in (a query to every node) and, with egress, out (the report of a join); the outsider's
/// datagrams to the overlay port never reach a node.
fn multicast_and_overlay(site: &Site, cluster: &Cluster, egress: bool) -> (Vec<String>, Vec<String>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/netns/probe.py");
    let (mut lines, mut failures) = (Vec::new(), Vec::new());
    let outsider = cluster.hosts.get("outsider").expect("outsider");
    let mut check = |ok: bool, line: String| {
        if !ok {
            failures.push(line.clone());
        }
        lines.push(line);
    };
    for node in site.kubernetes_nodes() {
        let host = cluster.hosts.get(&node).expect("node");
        let before = counter(&host.ns, "outsider_overlay");
        let overlay = cluster.overlay;
        let _ = Command::new("ip")
            .args([
                "netns",
                "exec",
                &outsider.ns,
                "python3",
                script,
                "send",
                "udp",
                &host.v4.to_string(),
                &overlay.to_string(),
                "0.2",
            ])
            .status();
        let reached = counter(&host.ns, "outsider_overlay") - before;
        check(
            reached == 0,
            format!(
                "{}  outsider -> {node}: udp {overlay} (the overlay port)",
                if reached == 0 { "dropped" } else { "PASSED " }
            ),
        );
        let before = counter(&host.ns, "mld_query_in");
        in_ns(&outsider.ns, &["python3", script, "mld-query", "v0"]);
        let queries = counter(&host.ns, "mld_query_in") - before;
        check(queries > 0, format!("{}  MLD query -> {node}", if queries > 0 { "passed " } else { "DROPPED" }));
        let before = counter(&host.ns, "mld_report_out");
        in_ns(&host.ns, &["python3", script, "join", "v0", "ff02::1:77", "0.8"]);
        let reports = counter(&host.ns, "mld_report_out") - before;
        let what = if egress { "with --egress" } else { "without egress filtering" };
        check(
            reports > 0,
            format!("{}  MLD report from {node} ({what})", if reports > 0 { "passed " } else { "DROPPED" }),
        );
    }
    (lines, failures)
}

/// Builds the cluster of an example, then loads and probes each host firewall's rulesets,
/// without and with egress, on the same nodes: the same probes for every firewall.
fn prove(example: &str, tag: &str, firewalls: &[Firewall]) {
    let root = Root::File(example.to_string());
    let site = Site::read(&root);
    let mut bed = Bed::new(tag);
    let cluster = Cluster::build(&mut bed, &site);
    let outsider = cluster.hosts.get("outsider").expect("outsider").v4;
    for node in site.kubernetes_nodes() {
        monitor(&cluster.hosts.get(&node).expect("node").ns, outsider, cluster.overlay);
    }
    let dir = std::env::temp_dir().join(format!("portc-netns-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the rulesets");
    let probes = probes(&site, &cluster);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for firewall in firewalls {
        let hosts: Vec<Host> = site.hosts.iter().filter_map(|r| cluster.hosts.get(r)).cloned().collect();
        for host in &hosts {
            firewall.prepare(&mut bed, &host.ns, &dir);
        }
        for egress in [false, true] {
            load(*firewall, &root, &cluster, &site, egress, &dir);
            let mode = format!("{firewall:?}, {}", if egress { "with --egress" } else { "without egress filtering" });
            report.push(format!("--- {example}, {mode}"));
            let (lines, failed) = verdicts(&probes, *firewall);
            report.extend(lines);
            failures.extend(failed.into_iter().map(|f| format!("{mode}: {f}")));
            let (lines, failed) = multicast_and_overlay(&site, &cluster, egress);
            report.extend(lines);
            failures.extend(failed.into_iter().map(|f| format!("{mode}: {f}")));
        }
        for host in &hosts {
            firewall.unload(&host.ns);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{example}:\n{}", failures.join("\n"));
}

/// What every test here needs: nft, the network tools and root.
const NEEDS: &[Need] = &[
    Need::Tool("nft"),
    Need::Tool("ip"),
    Need::Tool("bridge"),
    Need::Tool("python3"),
    Need::Tool("ping"),
    Need::NetAdmin,
];

/// What the iptables runs need beyond that.
const IPTABLES_NEEDS: &[Need] = &[
    Need::Tool("nft"),
    Need::Tool("ip"),
    Need::Tool("bridge"),
    Need::Tool("python3"),
    Need::Tool("ping"),
    Need::Tool("iptables-restore"),
    Need::Tool("ip6tables-restore"),
    Need::Tool("ipset"),
    Need::NetAdmin,
];

/// What the firewalld runs need beyond that: the daemon, its tools and a D-Bus of their own.
const FIREWALLD_NEEDS: &[Need] = &[
    Need::Tool("nft"),
    Need::Tool("ip"),
    Need::Tool("bridge"),
    Need::Tool("python3"),
    Need::Tool("ping"),
    Need::Tool("firewalld"),
    Need::Tool("firewall-cmd"),
    Need::Tool("firewall-offline-cmd"),
    Need::Tool("dbus-daemon"),
    Need::NetAdmin,
];

fn main() -> std::process::ExitCode {
    // The probes mostly wait for packets that must not arrive, so the clusters run side by side.
    support::run_with_threads(
        vec![
            Test::new("rke_custom_nodes_cluster", NEEDS, rke_custom_nodes_cluster),
            Test::new("kubeadm_cluster", NEEDS, kubeadm_cluster),
            Test::new("dce5_cluster", NEEDS, dce5_cluster),
            Test::new("rke_custom_nodes_cluster_iptables", IPTABLES_NEEDS, rke_custom_nodes_cluster_iptables),
            Test::new("kubeadm_cluster_iptables", IPTABLES_NEEDS, kubeadm_cluster_iptables),
            Test::new("dce5_cluster_iptables", IPTABLES_NEEDS, dce5_cluster_iptables),
            Test::new("rke_custom_nodes_cluster_firewalld", FIREWALLD_NEEDS, rke_custom_nodes_cluster_firewalld),
            Test::new("kubeadm_cluster_firewalld", FIREWALLD_NEEDS, kubeadm_cluster_firewalld),
            Test::new("dce5_cluster_firewalld", FIREWALLD_NEEDS, dce5_cluster_firewalld),
            Test::new("safe_apply_rolls_back_unless_confirmed", NEEDS, safe_apply_rolls_back_unless_confirmed),
        ],
        3,
    )
}

fn rke_custom_nodes_cluster() {
    prove("examples/rancher-custom-site.ports", "r", &[Firewall::Nftables]);
}

fn kubeadm_cluster() {
    prove("examples/kubeadm-site.ports", "k", &[Firewall::Nftables]);
}

fn dce5_cluster() {
    prove("examples/dce5-cilium-site.ports", "d", &[Firewall::Nftables]);
}

fn rke_custom_nodes_cluster_iptables() {
    prove("examples/rancher-custom-site.ports", "ri", &[Firewall::Iptables]);
}

fn kubeadm_cluster_iptables() {
    prove("examples/kubeadm-site.ports", "ki", &[Firewall::Iptables]);
}

fn dce5_cluster_iptables() {
    prove("examples/dce5-cilium-site.ports", "di", &[Firewall::Iptables]);
}

fn rke_custom_nodes_cluster_firewalld() {
    prove("examples/rancher-custom-site.ports", "rf", &[Firewall::Firewalld]);
}

fn kubeadm_cluster_firewalld() {
    prove("examples/kubeadm-site.ports", "kf", &[Firewall::Firewalld]);
}

fn dce5_cluster_firewalld() {
    prove("examples/dce5-cilium-site.ports", "df", &[Firewall::Firewalld]);
}

/// A host's ruleset for `role` of `example`.
fn ruleset(example: &str, role: &str, egress: bool) -> String {
    let options =
        Options { target: Some(Target::Nftables), roles: vec![role.to_string()], egress, ..Options::default() };
    let outcome = portc::compile(&Root::File(example.to_string()), &FsLoader, &options).expect("loads");
    outcome.output.expect("builds")
}

/// The chains of the portc table in `ns`, or `None` when there is no such table.
fn portc_chains(ns: &str) -> Option<String> {
    let output =
        Command::new("ip").args(["netns", "exec", ns, "nft", "list", "table", "inet", "portc"]).output().ok()?;
    output.status.success().then(|| {
        let text = String::from_utf8_lossy(&output.stdout);
        text.lines().filter(|l| l.trim_start().starts_with("chain ")).map(str::trim).collect::<Vec<_>>().join(" ")
    })
}

/// `scripts/nft-safe-apply.sh` in `ns`, with its state in `state`; its exit status.
fn safe_apply(ns: &str, state: &std::path::Path, args: &[&str]) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/nft-safe-apply.sh");
    let mut all = vec!["netns", "exec", ns, "sh", script];
    all.extend_from_slice(args);
    Command::new("ip")
        .args(&all)
        .env("PORTC_APPLY_STATE", state)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The documented safe-apply recipe: a new ruleset is rolled back after its time unless confirmed
/// from a new login, a file `nft -c` refuses changes nothing, and kube-proxy's table survives all of it.
fn safe_apply_rolls_back_unless_confirmed() {
    let example = "examples/rancher-custom-site.ports";
    let mut bed = Bed::new("s");
    let hub = bed.namespace("hub");
    run(&["ip", "-n", &hub, "link", "add", "br0", "type", "bridge"]);
    run(&["ip", "-n", &hub, "link", "set", "br0", "up"]);
    let node = bed.namespace("node");
    let admins = bed.namespace("admins");
    let (node_ip, admins_ip) = (Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(10, 9, 0, 1));
    attach(&hub, &node, "p0", node_ip, None);
    attach(&hub, &admins, "p1", admins_ip, None);
    nft_load(
        &node,
        "table ip kube_proxy_sim { chain prerouting { type nat hook prerouting priority dstnat; policy accept; }\n}\n",
    )
    .expect("kube-proxy's table");
    let state = std::env::temp_dir().join(format!("portc-apply-{}", std::process::id()));
    let (old, new) = (ruleset(example, "etcd", false), ruleset(example, "etcd", true));
    let write = |name: &str, text: &str| {
        let path = std::env::temp_dir().join(format!("portc-{}-{name}.nft", std::process::id()));
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    };
    let (old_file, new_file, broken) =
        (write("old", &old), write("new", &new), write("broken", "table inet portc {\n"));
    nft_load(&node, &old).expect("the running firewall");
    let before = portc_chains(&node).expect("a portc table");

    // Not confirmed: back to the previous table once the time is up.
    assert!(safe_apply(&node, &state, &["apply", &new_file, "2"]));
    assert!(portc_chains(&node).is_some_and(|c| c.contains("chain outbound")), "the new ruleset is loaded");
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert_eq!(portc_chains(&node).as_deref(), Some(before.as_str()), "rolled back to the previous table");
    assert!(!state.exists(), "the rollback cleans up");

    // Confirmed from a new login, which the new firewall lets in: it stays.
    assert!(safe_apply(&node, &state, &["apply", &new_file, "2"]));
    assert!(deliver(&admins, &node, IpAddr::V4(node_ip), "tcp", (22, 22), 2.0), "a new SSH login gets in");
    assert!(safe_apply(&node, &state, &["confirm"]));
    std::thread::sleep(std::time::Duration::from_millis(3000));
    assert!(portc_chains(&node).is_some_and(|c| c.contains("chain outbound")), "the confirmed ruleset stays");

    // A file nft refuses changes nothing; with no earlier table, a rollback removes the new one.
    assert!(!safe_apply(&node, &state, &["apply", &broken, "2"]), "a broken file is refused");
    assert!(portc_chains(&node).is_some_and(|c| c.contains("chain outbound")), "nothing changed");
    let _ = std::fs::remove_dir_all(&state);
    in_ns(&node, &["nft", "delete", "table", "inet", "portc"]);
    assert!(safe_apply(&node, &state, &["apply", &old_file, "1"]));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(portc_chains(&node), None, "no earlier table: the rollback deletes the new one");
    let tables = Command::new("ip").args(["netns", "exec", &node, "nft", "list", "tables"]).output().expect("nft");
    assert!(String::from_utf8_lossy(&tables.stdout).contains("kube_proxy_sim"), "kube-proxy's table survives");
    for file in [old_file, new_file, broken] {
        let _ = std::fs::remove_file(file);
    }
}
