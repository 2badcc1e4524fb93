//! Synthetic `iptables-save` output as kube-proxy (iptables mode) writes it on a large cluster,
//! for the benches and scale tests of `portc verify`. Deterministic: the same options give the
//! same bytes.
//!
//! Per Service: a ClusterIP rule in `KUBE-SERVICES`, a `KUBE-SVC-*` chain that picks one of its
//! endpoints with `-m statistic`, and per endpoint a `KUBE-SEP-*` chain that marks and DNATs;
//! one Service in three is also a NodePort (`KUBE-NODEPORTS`, `KUBE-EXT-*`), one in ten has a
//! health check NodePort that the filter table accepts, one in twenty has no endpoints and is
//! rejected in the filter table. The node's own rules in `INPUT` come first and end in a drop
//! policy, as a firewall that someone wrote by hand and kube-proxy extended.

use std::fmt::Write as _;

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub services: usize,
    pub endpoints: usize,
}

impl Options {
    /// At least about `rules` rules in all (a Service with three endpoints gives ten or eleven).
    pub fn for_rules(rules: usize) -> Options {
        Options { services: rules / 10 + 1, endpoints: 3 }
    }
}

/// The ruleset, and how many rules it has.
pub fn kube_proxy_save(options: &Options) -> (String, usize) {
    let mut filter = Vec::new();
    let mut nat = Vec::new();
    let (mut filter_chains, mut nat_chains) = (Vec::new(), Vec::new());
    for service in 0..options.services {
        let name = format!("{service:06X}");
        let ip = format!("10.96.{}.{}", service / 250, service % 250 + 1);
        let port = 80 + service % 7;
        let comment = format!("ns-{}/svc-{service}:http", service % 40);
        if service % 20 == 19 {
            filter.push(format!(
                "-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment \"{comment} has no endpoints\" -m tcp --dport {port} -j REJECT --reject-with icmp-port-unreachable"
            ));
            continue;
        }
        nat.push(format!(
            "-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment \"{comment} cluster IP\" -m tcp --dport {port} -j KUBE-SVC-{name}"
        ));
        nat_chains.push(format!("KUBE-SVC-{name}"));
        endpoints(&name, &comment, service, options.endpoints, &mut nat, &mut nat_chains);
        if service % 3 == 0 {
            let node_port = 30000 + service % 2768;
            nat.push(format!(
                "-A KUBE-NODEPORTS -p tcp -m comment --comment \"{comment}\" -m tcp --dport {node_port} -j KUBE-EXT-{name}"
            ));
            nat.push(format!("-A KUBE-EXT-{name} -m comment --comment \"masquerade traffic for {comment} external destinations\" -j KUBE-MARK-MASQ"));
            nat.push(format!("-A KUBE-EXT-{name} -j KUBE-SVC-{name}"));
            nat_chains.push(format!("KUBE-EXT-{name}"));
        }
        if service % 10 == 0 {
            let health = 32000 + service % 700;
            filter.push(format!(
                "-A KUBE-NODEPORTS -p tcp -m comment --comment \"{comment} health check node port\" -m tcp --dport {health} -j ACCEPT"
            ));
        }
    }
    filter_chains.extend(["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-FIREWALL", "KUBE-FORWARD"].map(String::from));
    let rules = filter.len() + nat.len() + FILTER_HEAD.len() + NAT_HEAD.len();
    (render(&filter_chains, &filter, &nat_chains, &nat), rules)
}

fn endpoints(name: &str, comment: &str, service: usize, count: usize, nat: &mut Vec<String>, chains: &mut Vec<String>) {
    for endpoint in 0..count {
        let sep = format!("KUBE-SEP-{name}{endpoint}");
        let pod = format!("10.{}.{}.{}", 42 + endpoint, (service / 250) % 250, service % 250 + 1);
        let left = count - endpoint;
        let pick = if left > 1 {
            format!(" -m statistic --mode random --probability {:.11}", 1.0 / left as f64)
        } else {
            String::new()
        };
        nat.push(format!("-A KUBE-SVC-{name} -m comment --comment \"{comment} -> {pod}:8080\"{pick} -j {sep}"));
        nat.push(format!("-A {sep} -s {pod}/32 -m comment --comment \"{comment}\" -j KUBE-MARK-MASQ"));
        nat.push(format!(
            "-A {sep} -p tcp -m comment --comment \"{comment}\" -m tcp -j DNAT --to-destination {pod}:8080"
        ));
        chains.push(sep);
    }
}

/// The node's own rules and kube-proxy's fixed ones.
const FILTER_HEAD: &[&str] = &[
    "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
    "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
    "-A INPUT -j KUBE-FIREWALL",
    "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A INPUT -i lo -j ACCEPT",
    "-A INPUT -p icmp -m icmp --icmp-type 3 -j ACCEPT",
    "-A INPUT -s 10.0.0.0/16 -p tcp -m multiport --dports 2379:2380,6443,10250 -j ACCEPT",
    "-A INPUT -s 10.9.0.0/24 -p tcp -m tcp --dport 22 -j ACCEPT",
    "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
    "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
    "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
    "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT",
];

const NAT_HEAD: &[&str] = &[
    "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
    "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
    "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
    "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
    "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
    "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
    "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully",
];

fn render(filter_chains: &[String], filter: &[String], nat_chains: &[String], nat: &[String]) -> String {
    let mut out = String::from("# Generated by portc::verify::synth (kube-proxy at scale)\n*filter\n");
    out.push_str(":INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for chain in filter_chains {
        let _ = writeln!(out, ":{chain} - [0:0]");
    }
    for line in FILTER_HEAD.iter().map(|s| s.to_string()).chain(filter.iter().cloned()) {
        let _ = writeln!(out, "{line}");
    }
    out.push_str("COMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
    for chain in ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"] {
        let _ = writeln!(out, ":{chain} - [0:0]");
    }
    for chain in nat_chains {
        let _ = writeln!(out, ":{chain} - [0:0]");
    }
    for line in NAT_HEAD.iter().map(|s| s.to_string()).chain(nat.iter().cloned()) {
        let _ = writeln!(out, "{line}");
    }
    out.push_str("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\nCOMMIT\n");
    out
}
