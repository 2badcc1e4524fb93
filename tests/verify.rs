//! `portc verify` proven against the kernel, in Linux network namespaces.
//!
//! A host namespace and a client namespace share a bridge in a hub namespace. Each test loads
//! rulesets into the host's kernel (portc's own for every example and role; hand-written ones
//! with the classic mistakes, in `tests/verify/*.nft`; iptables rules as kube-proxy and Docker
//! write them), dumps them with `nft -j list ruleset` and `iptables-save`, runs verify on the
//! dump, checks that it names the fault, and then probes: the example packet of every missing
//! and excess finding gets exactly the verdict verify claims, and so do sampled packets, the
//! declared ones of the site and undeclared ones beside them. The client sends each probe from
//! the packet's own source address and port.
//!
//! Probes use only the namespaces' own addresses, are bounded in count and time, and the
//! namespaces are deleted when a test ends, failed or not.

#![allow(clippy::disallowed_methods)] // Tests read their own files.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};

use portc::verify::{Direction, Packet, Report, Request, Source, Status, Verdict};
use portc::{FsLoader, Options, Root, Target};
use support::{Need, Test};

/// Probes sent per ruleset, at most.
const MAX_PROBES: usize = 24;
/// The db host of `tests/verify/site.ports`.
const DB: (&str, &str) = ("10.0.1.5", "fd00:1::5");

/// Every namespace of one test bed; deleted on drop, also when an assertion fails.
struct Bed {
    namespaces: Vec<String>,
    prefix: String,
}

impl Drop for Bed {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
        }
    }
}

impl Bed {
    fn new(tag: &str) -> Bed {
        Bed { namespaces: Vec::new(), prefix: format!("pv{}{tag}", std::process::id()) }
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

/// A command in a namespace, fed `input`; its standard output, or its complaint.
fn in_ns(ns: &str, args: &[&str], input: &str) -> Result<String, String> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("command runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
    let output = child.wait_with_output().expect("command finishes");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() { Ok(text) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
}

/// A host and a client on one bridge: the host has the addresses verify is told about; the
/// client takes whatever source address a probe needs.
struct Pair {
    _bed: Bed,
    host: String,
    client: String,
    sources: std::cell::RefCell<BTreeSet<IpAddr>>,
}

impl Pair {
    fn new(tag: &str, host: (&str, &str)) -> Pair {
        let mut bed = Bed::new(tag);
        let hub = bed.namespace("hub");
        run(&["ip", "-n", &hub, "link", "add", "br0", "type", "bridge"]);
        run(&["ip", "-n", &hub, "link", "set", "br0", "up"]);
        let (h, c) = (bed.namespace("host"), bed.namespace("client"));
        attach(&hub, &h, "p0", host);
        attach(&hub, &c, "p1", ("192.0.2.200", "2001:db8::200"));
        Pair { _bed: bed, host: h, client: c, sources: Default::default() }
    }

    /// Replaces the host's whole ruleset with `text` (`nft -f`).
    fn load_nft(&self, text: &str) {
        in_ns(&self.host, &["nft", "flush", "ruleset"], "").expect("flush");
        in_ns(&self.host, &["nft", "-f", "-"], text).unwrap_or_else(|e| panic!("nft -f refused:\n{e}\n{text}"));
    }

    /// Replaces the host's whole ruleset with iptables rules (`iptables-restore`, nf_tables backend).
    fn load_iptables(&self, rules: &str) {
        in_ns(&self.host, &["nft", "flush", "ruleset"], "").expect("flush");
        in_ns(&self.host, &["iptables-restore"], rules).unwrap_or_else(|e| panic!("iptables-restore refused:\n{e}"));
    }

    fn nft_json(&self) -> String {
        in_ns(&self.host, &["nft", "-j", "list", "ruleset"], "").expect("nft -j list ruleset")
    }

    fn iptables_save(&self) -> String {
        in_ns(&self.host, &["iptables-save"], "").expect("iptables-save")
    }

    /// Sends the packet from the client; true when the host's listener got it.
    fn delivers(&self, packet: &Packet, expect: bool) -> bool {
        let protocol = if packet.protocol == 6 { "tcp" } else { "udp" };
        if self.sources.borrow_mut().insert(packet.source) {
            let (address, extra) = match packet.source {
                IpAddr::V4(a) => (format!("{a}/32"), None),
                IpAddr::V6(a) => (format!("{a}/128"), Some("nodad")),
            };
            let mut args = vec!["ip", "-n", &self.client, "addr", "replace", &address, "dev", "v0"];
            args.extend(extra);
            run(&args);
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/verify/probe.py");
        let (dport, sport) = (packet.destination_port.unwrap_or(1), packet.source_port.unwrap_or(40000));
        let timeout = if expect { "2" } else { "0.5" };
        let mut listener = Command::new("ip")
            .args(["netns", "exec", &self.host, "python3", script, "listen", protocol, &dport.to_string(), timeout])
            .stdout(Stdio::piped())
            .spawn()
            .expect("listener runs");
        let mut lines = BufReader::new(listener.stdout.take().expect("stdout")).lines();
        assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"), "the listener did not start");
        let (source, destination) = (packet.source.to_string(), packet.destination.to_string());
        let _ = Command::new("ip")
            .args(["netns", "exec", &self.client, "python3", script, "send", protocol, &source])
            .args([&sport.to_string(), &destination, &dport.to_string(), timeout])
            .status();
        let got = lines.next().and_then(Result::ok).as_deref() == Some("got");
        let _ = listener.wait();
        got
    }
}

/// A veth from the hub's bridge into `ns`, with a /32 and a /128 and routes on the link.
fn attach(hub: &str, ns: &str, outer: &str, (v4, v6): (&str, &str)) {
    run(&["ip", "-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", outer, "netns", hub]);
    run(&["ip", "-n", hub, "link", "set", outer, "master", "br0", "up"]);
    run(&["ip", "-n", ns, "addr", "add", &format!("{v4}/32"), "dev", "v0"]);
    run(&["ip", "-n", ns, "addr", "add", &format!("{v6}/128"), "dev", "v0", "nodad"]);
    run(&["ip", "-n", ns, "link", "set", "v0", "up"]);
    run(&["ip", "-n", ns, "route", "add", "default", "dev", "v0"]);
    run(&["ip", "-n", ns, "-6", "route", "add", "default", "dev", "v0"]);
}

/// Verifies `sources` against `site` for a host of `role` at `addresses`.
fn verify(site: &str, role: &str, addresses: &[&str], egress: bool, sources: &[Source]) -> Report {
    let root = Root::File(site.to_string());
    let (outcome, checked) = portc::check_program(&root, &FsLoader, &[]).expect("site loads");
    let checked = checked.unwrap_or_else(|| panic!("{site}: {:?}", outcome.diagnostics));
    let addresses = addresses.iter().map(|a| ipnet::IpNet::from(a.parse::<IpAddr>().expect("address"))).collect();
    let request = Request { roles: vec![role.to_string()], addresses, egress };
    match portc::verify::verify(&checked, &request, sources) {
        Ok((report, _)) => report,
        Err(e) => panic!("{site} as {role}: {e:?}"),
    }
}

/// Whether the kernel gives a packet the verdict verify gives it; `None` when the packet is not
/// one the probes can send (not TCP or UDP, or from one of the host's own addresses).
fn agrees(pair: &Pair, report: &Report, packet: &Packet, hosts: &[&str]) -> Option<Result<(), String>> {
    let local = hosts.iter().any(|h| h.parse::<IpAddr>().ok() == Some(packet.source));
    if !matches!(packet.protocol, 6 | 17) || local || packet.state != "new" || packet.interface != "other" {
        return None;
    }
    let claimed = report.verdict(packet, Direction::In);
    let expect = match claimed {
        Verdict::Accepted => true,
        Verdict::Dropped => false,
        Verdict::Unknown | Verdict::Outside => return None,
    };
    let got = pair.delivers(packet, expect);
    let line =
        format!("{} claimed {claimed:?}, kernel {}", packet.show(), if got { "passed it" } else { "dropped it" });
    Some(if got == expect { Ok(()) } else { Err(line) })
}

/// Every example packet of the report's missing and excess findings, and `samples`: each gets
/// from the kernel the verdict verify claims. Returns the probes' lines.
fn probe(pair: &Pair, report: &Report, samples: &[Packet], hosts: &[&str]) -> Vec<String> {
    let mut packets: Vec<(Packet, Option<Verdict>)> = Vec::new();
    for section in report.sections.iter().filter(|s| s.direction == "inbound") {
        packets.extend(section.missing.iter().map(|f| (f.example.clone(), Some(Verdict::Dropped))));
        packets.extend(section.excess.iter().map(|f| (f.example.clone(), Some(Verdict::Accepted))));
    }
    packets.extend(samples.iter().map(|p| (p.clone(), None)));
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    for (packet, finding) in packets.into_iter().take(MAX_PROBES) {
        if let Some(verdict) = finding {
            assert_eq!(report.verdict(&packet, Direction::In), verdict, "{}: the example of a finding", packet.show());
        }
        match agrees(pair, report, &packet, hosts) {
            Some(Ok(())) => lines.push(format!("agrees   {}", packet.show())),
            Some(Err(line)) => failures.push(line),
            None => lines.push(format!("skipped  {}", packet.show())),
        }
    }
    assert!(failures.is_empty(), "verify and the kernel disagree:\n{}", failures.join("\n"));
    lines
}

/// A TCP or UDP packet to the db host.
fn packet(protocol: u8, source: &str, destination: &str, port: u16) -> Packet {
    Packet {
        protocol,
        source: source.parse().expect("address"),
        destination: destination.parse().expect("address"),
        source_port: Some(40000),
        destination_port: Some(port),
        icmp_type: None,
        icmp_code: None,
        state: "new",
        interface: "other",
    }
}

/// Declared traffic of `site.ports` and undeclared traffic beside it.
fn samples() -> Vec<Packet> {
    let (v4, v6) = DB;
    vec![
        packet(6, "10.0.2.7", v4, 5432),
        packet(6, "fd00:2::7", v6, 5432),
        packet(6, "10.0.2.7", v4, 8005),
        packet(17, "10.0.2.7", v4, 5353),
        packet(6, "10.9.0.7", v4, 22),
        packet(6, "fd00:9::7", v6, 22),
        packet(6, "10.0.2.7", v4, 5433),
        packet(6, "10.9.0.7", v4, 5432),
        packet(6, "198.51.100.7", v4, 22),
        packet(6, "2001:db8:77::7", v6, 8080),
        packet(17, "10.0.2.7", v4, 5432),
    ]
}

fn site() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/verify/site.ports").to_string()
}

fn ruleset(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/verify/{name}", env!("CARGO_MANIFEST_DIR"))).expect("ruleset file")
}

/// What every kernel test needs: nft, the network tools, python3 for the probes, and root.
const NEEDS: &[Need] = &[Need::Tool("nft"), Need::Tool("ip"), Need::Tool("python3"), Need::NetAdmin];
const NEEDS_IPTABLES: &[Need] = &[
    Need::Tool("nft"),
    Need::Tool("ip"),
    Need::Tool("python3"),
    Need::Tool("iptables-restore"),
    Need::Tool("iptables-save"),
    Need::NetAdmin,
];

/// What loading portc's iptables target needs beyond that.
const NEEDS_IPSET: &[Need] = &[
    Need::Tool("nft"),
    Need::Tool("ip"),
    Need::Tool("python3"),
    Need::Tool("iptables-restore"),
    Need::Tool("iptables-save"),
    Need::Tool("ip6tables-restore"),
    Need::Tool("ip6tables-save"),
    Need::Tool("ipset"),
    Need::NetAdmin,
];

fn main() -> std::process::ExitCode {
    support::run(vec![
        Test::new("our_rulesets_conform", NEEDS, our_rulesets_conform),
        Test::new("our_iptables_rulesets_conform", NEEDS_IPSET, our_iptables_rulesets_conform),
        Test::new("our_ruleset_agrees_with_the_kernel", NEEDS, our_ruleset_agrees_with_the_kernel),
        Test::new("hand_written_mistakes_are_named", NEEDS, hand_written_mistakes_are_named),
        Test::new("kube_proxy_and_docker_iptables", NEEDS_IPTABLES, kube_proxy_and_docker_iptables),
        Test::new("command_line", &[], command_line),
    ])
}

/// The host address a test gives a role: its single bound address, or the first host of its
/// first prefix of each family.
fn host_addresses(program: &portc::hir::Program, role: &str) -> Vec<String> {
    let Ok(nodes) = program.nodes_named(role) else { return Vec::new() };
    let mut out = Vec::new();
    for family_v4 in [true, false] {
        let net = nodes
            .iter()
            .filter_map(|n| program.nodes.get(n.index()))
            .flat_map(|n| n.addresses.iter())
            .find(|a| matches!(a, ipnet::IpNet::V4(_)) == family_v4);
        if let Some(net) = net {
            let first = net.hosts().next().unwrap_or(net.addr());
            out.push(first.to_string());
        }
    }
    if out.is_empty() {
        out.push("10.250.0.1".to_string());
    }
    out
}

/// One host's build of `target` for every example and host role (with `--egress` too for the RKE
/// site): `dump` loads it into a kernel and returns the ruleset as the tools print it, and verify
/// must find each conforming.
fn every_host_conforms(target: Target, mut dump: impl FnMut(&str, &portc::Outcome) -> Vec<(Kind, String)>) {
    let mut checked = 0;
    for example in support::examples() {
        let root = Root::File(example.clone());
        let (_, program) = portc::check_program(&root, &FsLoader, &[]).expect("loads");
        let program = &program.expect("checks").graph().program.clone();
        for role in support::host_roles(&root, &FsLoader, &[]) {
            for egress in [false, true] {
                if egress && !example.contains("rancher-custom") {
                    continue;
                }
                let options = Options { target: Some(target), roles: vec![role.clone()], egress, ..Options::default() };
                let outcome = portc::compile(&root, &FsLoader, &options).expect("loads");
                if outcome.output.is_none() {
                    continue;
                }
                let dumped = dump(&role, &outcome);
                let sources: Vec<Source> = dumped
                    .iter()
                    .map(|(kind, text)| match kind {
                        Kind::Nft => Source::Nft(text),
                        Kind::Iptables => Source::Iptables(text),
                        Kind::Ip6tables => Source::Ip6tables(text),
                        Kind::Ipset => Source::Ipset(text),
                    })
                    .collect();
                let addresses = host_addresses(program, &role);
                let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
                let report = verify(&example, &role, &addresses, egress, &sources);
                let mode = if egress { " --egress" } else { "" };
                assert_eq!(report.status, Status::Conforms, "{example} --role {role}{mode}:\n{}", report.human());
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "too few rulesets verified ({checked})");
}

/// Which tool printed a dumped ruleset.
enum Kind {
    Nft,
    Iptables,
    Ip6tables,
    Ipset,
}

/// `portc build` for every example and every host role, loaded into a kernel and dumped: verify
/// finds each conforming, and with `--egress` too for the RKE site.
fn our_rulesets_conform() {
    let pair = Pair::new("c", ("10.250.0.1", "fd00:250::1"));
    every_host_conforms(Target::Nftables, |_, outcome| {
        pair.load_nft(outcome.output.as_deref().unwrap_or_default());
        vec![(Kind::Nft, pair.nft_json())]
    });
}

/// `portc build --target iptables` for every example and host role, loaded into a namespace of its
/// own with scripts/iptables-apply.sh as the target's page says, and dumped with `iptables-save`,
/// `ip6tables-save` and `ipset save`: verify finds each conforming, with `--egress` too for the
/// RKE site.
fn our_iptables_rulesets_conform() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/iptables-apply.sh");
    let mut bed = Bed::new("t");
    let mut built = 0;
    every_host_conforms(Target::Iptables, |role, outcome| {
        built += 1;
        let files = dir.path().join(built.to_string());
        std::fs::create_dir_all(&files).expect("a directory for the files");
        for document in &outcome.documents {
            std::fs::write(files.join(&document.name), &document.text).expect("writable");
        }
        let ns = bed.namespace(&built.to_string());
        let keep = format!("PORTC_IPTABLES_DIR={}", files.join("keep").display());
        let state = format!("PORTC_APPLY_STATE={}", files.join("state").display());
        let prefix = files.join(role).display().to_string();
        in_ns(&ns, &["env", &keep, &state, "sh", script, "load", &prefix], "")
            .unwrap_or_else(|e| panic!("--role {role}: iptables-apply.sh load failed:\n{e}"));
        let save = |tool: &[&str]| in_ns(&ns, tool, "").unwrap_or_else(|e| panic!("{tool:?}: {e}"));
        vec![
            (Kind::Iptables, save(&["iptables-save"])),
            (Kind::Ip6tables, save(&["ip6tables-save"])),
            (Kind::Ipset, save(&["ipset", "save"])),
        ]
    });
}

/// portc's ruleset for the db host of `site.ports`: sampled declared and undeclared packets get
/// from the kernel the verdict verify gives them.
fn our_ruleset_agrees_with_the_kernel() {
    let pair = Pair::new("a", DB);
    let options = Options { target: Some(Target::Nftables), roles: vec!["db".into()], ..Options::default() };
    let outcome = portc::compile(&Root::File(site()), &FsLoader, &options).expect("loads");
    pair.load_nft(&outcome.output.expect("builds"));
    let json = pair.nft_json();
    let report = verify(&site(), "db", &[DB.0, DB.1], false, &[Source::Nft(&json)]);
    assert_eq!(report.status, Status::Conforms, "{}", report.human());
    let lines = probe(&pair, &report, &samples(), &[DB.0, DB.1]);
    assert!(lines.iter().filter(|l| l.starts_with("agrees")).count() >= 10, "{}", lines.join("\n"));
}

/// One hand-written faulty ruleset: what verify must find (section, entry or range, and a piece
/// of the rule it must name).
struct Fault {
    file: &'static str,
    missing: &'static [(&'static str, &'static str)],
    excess: &'static [(&'static str, &'static str)],
}

const FAULTS: &[Fault] = &[
    Fault { file: "shadowing-drop.nft", missing: &[("from app: tcp 5432", "tcp dport 5432 drop")], excess: &[] },
    Fault { file: "second-chain.nft", missing: &[("from app: tcp 8000-8010", "inet hardening input")], excess: &[] },
    Fault { file: "returning-chain.nft", missing: &[("from app: udp 5353", "policy drop")], excess: &[] },
    Fault {
        file: "gapped-set.nft",
        missing: &[
            ("from app: tcp 5432", "policy drop"),
            ("from app: tcp 8000-8010", "policy drop"),
            ("from app: udp 5353", "policy drop"),
        ],
        excess: &[],
    },
    Fault { file: "wrong-family.nft", missing: &[], excess: &[("::/0 -> fd00:1::5", "no base chain")] },
    Fault { file: "open-port.nft", missing: &[], excess: &[("port 8080", "tcp dport 8080 accept")] },
];

/// `good.nft` conforms; each faulty ruleset gets exactly its fault, whose examples the kernel
/// treats as verify says.
fn hand_written_mistakes_are_named() {
    let pair = Pair::new("f", DB);
    pair.load_nft(&ruleset("good.nft"));
    let json = pair.nft_json();
    let report = verify(&site(), "db", &[DB.0, DB.1], false, &[Source::Nft(&json)]);
    assert_eq!(report.status, Status::Conforms, "good.nft:\n{}", report.human());
    probe(&pair, &report, &samples(), &[DB.0, DB.1]);
    for fault in FAULTS {
        pair.load_nft(&ruleset(fault.file));
        let json = pair.nft_json();
        let report = verify(&site(), "db", &[DB.0, DB.1], false, &[Source::Nft(&json)]);
        let human = report.human();
        assert_eq!(report.status, Status::Differs, "{}:\n{human}", fault.file);
        let section = report.sections.first().expect("inbound");
        assert_eq!(section.missing.len(), fault.missing.len(), "{}: missing\n{human}", fault.file);
        assert_eq!(section.excess.len(), fault.excess.len(), "{}: excess\n{human}", fault.file);
        for (findings, wanted) in [(&section.missing, fault.missing), (&section.excess, fault.excess)] {
            for (what, by) in wanted {
                let named = findings.iter().any(|f| {
                    (f.what.contains(what) || f.packets.iter().any(|p| p.contains(what)))
                        && f.by.iter().any(|r| r.at.contains(by) || r.rule.contains(by))
                });
                assert!(named, "{}: no finding `{what}` by `{by}`:\n{human}", fault.file);
            }
        }
        let lines = probe(&pair, &report, &samples(), &[DB.0, DB.1]);
        eprintln!("--- {}\n{}", fault.file, lines.join("\n"));
    }
}

/// iptables rules as kube-proxy (iptables mode) and Docker write them around the site's own
/// rules, loaded with iptables-restore (nf_tables backend). From `iptables-save`, and from
/// `nft -j list ruleset` with `iptables-save` beside it, verify finds the health check NodePort
/// that kube-proxy opens to everyone (excess) and calls the NodePort and the published container
/// port that DNAT takes off the input path unknown. From `nft -j` alone, which shows iptables
/// extensions without their options, it still finds the excess and names each extension it
/// cannot read.
fn kube_proxy_and_docker_iptables() {
    let pair = Pair::new("i", DB);
    pair.load_iptables(&ruleset("kube-proxy-docker.rules"));
    let saved = pair.iptables_save();
    let json = pair.nft_json();
    let views: [(&str, Vec<Source>); 2] = [
        ("iptables-save", vec![Source::Iptables(&saved)]),
        ("nft -j and iptables-save", vec![Source::Nft(&json), Source::Iptables(&saved)]),
    ];
    for (name, sources) in views {
        let report = verify(&site(), "db", &[DB.0], false, &sources);
        let human = report.human();
        let section = report.sections.first().expect("inbound");
        assert!(section.missing.is_empty(), "{name}: nothing declared is dropped:\n{human}");
        assert_eq!(section.excess.len(), 1, "{name}:\n{human}");
        assert!(health_check_port(section), "{name}:\n{human}");
        for port in ["port 30080", "port 8080"] {
            let unknown = section.unknown.iter().any(|f| f.packets.iter().any(|p| p.contains(port)));
            assert!(unknown, "{name}: {port} unknown:\n{human}");
        }
        assert_eq!(section.unknown.len(), 2, "{name}:\n{human}");
        assert_eq!(report.status, Status::Differs, "{name}:\n{human}");
        let lines = probe(&pair, &report, &samples(), &[DB.0]);
        eprintln!("--- {name}\n{}", lines.join("\n"));
    }
    let report = verify(&site(), "db", &[DB.0], false, &[Source::Nft(&json)]);
    let human = report.human();
    let section = report.sections.first().expect("inbound");
    assert!(health_check_port(section), "nft -j:\n{human}");
    let xt = section
        .unknown
        .iter()
        .flat_map(|f| &f.by)
        .any(|r| r.construct.as_deref().is_some_and(|c| c.contains("xt conntrack")));
    assert!(xt, "nft -j: the conntrack extension is named:\n{human}");
    probe(&pair, &report, &samples(), &[DB.0]);
}

/// kube-proxy's health check NodePort, open to everyone, is the one excess finding.
fn health_check_port(section: &portc::verify::Section) -> bool {
    section.excess.len() == 1
        && section.excess.iter().all(|f| f.what.contains("port 32000") && f.by.iter().any(|r| r.rule.contains("32000")))
}

/// The command line: standard input, exit codes, JSON, and errors for unreadable input.
fn command_line() {
    let portc = env!("CARGO_BIN_EXE_portc");
    let run_with = |args: &[&str], input: &str| {
        let mut child = Command::new(portc)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("portc runs");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
        let output = child.wait_with_output().expect("portc finishes");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let site = site();
    let base = ["verify", site.as_str(), "--role", "db", "--address", "10.0.1.5"];
    let with = |extra: &[&'static str]| base.iter().copied().chain(extra.iter().copied()).collect::<Vec<_>>();
    let open = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
    let (code, out, _) = run_with(&with(&["--iptables", "-"]), open);
    assert_eq!(code, Some(1), "everything open is excess:\n{out}");
    let closed = "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.0.2.0/24 -p tcp -m multiport --dports 5432,8000:8010 -j ACCEPT\n-A INPUT -s 10.0.2.0/24 -p udp --dport 5353 -j ACCEPT\n-A INPUT -s 10.9.0.0/24 -p tcp --dport 22 -j ACCEPT\n-A INPUT -s 10.9.0.0/24 -p icmp -j ACCEPT\nCOMMIT\n";
    let (code, out, _) = run_with(&with(&["--iptables", "-"]), closed);
    assert_eq!(code, Some(0), "{out}");
    let limited = closed.replace("COMMIT", "-A INPUT -p tcp --dport 80 -m limit --limit 5/second -j ACCEPT\nCOMMIT");
    let (code, out, _) = run_with(&with(&["--iptables", "-", "--format", "json"]), &limited);
    assert_eq!(code, Some(2), "a rate limit verify cannot model:\n{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(json["status"], "unknown");
    assert_eq!(json["format"], 1);
    let (code, _, err) = run_with(&with(&["--nft", "-"]), "{ not json");
    assert_eq!(code, Some(2));
    assert!(err.contains("not JSON"), "{err}");
    let (code, _, err) = run_with(&with(&["--nft", "/nonexistent/ruleset.json"]), "");
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read"), "{err}");
    let (code, out, _) = run_with(&["verify", site.as_str(), "--role", "db", "--iptables", "-"], closed);
    assert_eq!(code, Some(2), "IPv6 has addresses and no ruleset:\n{out}");
    assert!(out.contains("IPv6"), "{out}");
}
