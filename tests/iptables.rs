//! The iptables target judged by the real tools: in a network namespace of its own, `ipset
//! restore` loads every host's sets and `iptables-restore --test` and `ip6tables-restore --test`
//! accept its rules, for every role of every example and stdlib module; loading a host's files
//! twice gives the same rules and keeps other tools' rules; the rule count does not grow with a
//! peer's addresses.

#![allow(clippy::disallowed_methods)] // Tests read their own files.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use support::{Need, Test};

use portc::lower::Document;
use portc::{FsLoader, MemoryLoader, Options, Root, SourceLoader, Target};

fn documents(root: &Root, loader: &dyn SourceLoader, settings: &[String], role: &str, egress: bool) -> Vec<Document> {
    let options = Options {
        target: Some(Target::Iptables),
        settings: settings.to_vec(),
        roles: vec![role.to_string()],
        egress,
        allow_lockout: true,
        ..Options::default()
    };
    let outcome = portc::compile(root, loader, &options).expect("loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    assert!(outcome.output.is_some(), "{root:?} as {role}:\n{rendered}");
    outcome.documents
}

/// The text of the document whose name ends in `suffix`.
fn part<'a>(documents: &'a [Document], suffix: &str) -> &'a str {
    documents.iter().find(|d| d.name.ends_with(suffix)).map(|d| d.text.as_str()).expect("the document")
}

/// A network namespace for the test, deleted on drop.
struct Namespace(String);

impl Namespace {
    fn new(tag: &str) -> Namespace {
        let name = format!("pcipt{}{tag}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).stderr(Stdio::null()).status();
        let status = Command::new("ip").args(["netns", "add", &name]).status().expect("ip runs");
        assert!(status.success(), "ip netns add {name}");
        Namespace(name)
    }

    /// Runs `args` in the namespace with `input` on its standard input; `Err` with its complaint.
    fn run(&self, args: &[&str], input: &str) -> Result<String, String> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        child.stdin.take().ok_or("no stdin")?.write_all(input.as_bytes()).map_err(|e| e.to_string())?;
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// The sets, then both families' rules checked without committing them.
    fn check(&self, documents: &[Document]) -> Result<(), String> {
        self.run(&["ipset", "restore"], part(documents, ".ipset")).map_err(|e| format!("ipset restore: {e}"))?;
        self.run(&["iptables-restore", "--test", "--noflush"], part(documents, ".v4.rules"))
            .map_err(|e| format!("iptables-restore --test: {e}"))?;
        self.run(&["ip6tables-restore", "--test", "--noflush"], part(documents, ".v6.rules"))
            .map_err(|e| format!("ip6tables-restore --test: {e}"))?;
        // The next host's sets start from nothing; `--test` left no rule that uses them.
        self.run(&["ipset", "destroy"], "").map(|_| ())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).stderr(Stdio::null()).status();
    }
}

const TOOLS: &[Need] = &[
    Need::Tool("iptables-restore"),
    Need::Tool("ip6tables-restore"),
    Need::Tool("ipset"),
    Need::Tool("ip"),
    Need::NetAdmin,
];

fn main() -> std::process::ExitCode {
    support::run(vec![
        Test::new("iptables_restore_accepts_every_ruleset", TOOLS, iptables_restore_accepts_every_ruleset),
        Test::new("a_reload_replaces_only_portc_rules", TOOLS, a_reload_replaces_only_portc_rules),
        Test::new("rule_count_stays_flat_as_addresses_are_added", &[], rule_count_stays_flat_as_addresses_are_added),
        Test::new("every_file_declares_every_portc_chain", &[], every_file_declares_every_portc_chain),
    ])
}

fn iptables_restore_accepts_every_ruleset() {
    let ns = Namespace::new("c");
    let mut checked = 0;
    for example in support::examples() {
        let root = Root::File(example.clone());
        // Egress too where every peer has addresses (a pod-selected workload has none).
        let egress = example == "examples/rancher-custom-site.ports";
        for role in support::host_roles(&root, &FsLoader, &[]) {
            for egress in [false, egress].into_iter().collect::<std::collections::BTreeSet<_>>() {
                let docs = documents(&root, &FsLoader, &[], &role, egress);
                ns.check(&docs).unwrap_or_else(|e| panic!("{example} as {role}: {e}\n{docs:#?}"));
                checked += 1;
            }
        }
    }
    for module in portc::stdlib::modules() {
        let (loader, settings) = support::stdlib_site(module.name, |_| String::new());
        let root = Root::File("site.ports".into());
        for role in support::host_roles(&root, &loader, &settings) {
            let docs = documents(&root, &loader, &settings, &role, false);
            ns.check(&docs).unwrap_or_else(|e| panic!("{} as {role}: {e}\n{docs:#?}", module.name));
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} rulesets checked");
}

/// `iptables-save` of one family's filter and mangle tables, without its comment lines.
fn saved(ns: &Namespace, tool: &str) -> String {
    let text = ns.run(&[tool], "").expect("iptables-save");
    text.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect()
}

/// Loading a host's files twice, through the documented script, gives the same rules as loading
/// them once, adds each hook once, and leaves another tool's chain and hook in place; `remove`
/// takes away exactly what portc added.
fn a_reload_replaces_only_portc_rules() {
    let ns = Namespace::new("r");
    let root = Root::File("examples/rancher-custom-site.ports".into());
    let dir = std::env::temp_dir().join(format!("portc-iptables-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for tool in ["iptables", "ip6tables"] {
        ns.run(&[tool, "-N", "KUBE-FIREWALL"], "").expect("a foreign chain");
        ns.run(&[tool, "-A", "KUBE-FIREWALL", "-m", "comment", "--comment", "kube-proxy sim", "-j", "RETURN"], "")
            .expect("a foreign rule");
        ns.run(&[tool, "-I", "INPUT", "-j", "KUBE-FIREWALL"], "").expect("a foreign hook");
    }
    let foreign = saved(&ns, "iptables-save");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/iptables-apply.sh");
    let keep = dir.join("keep").to_string_lossy().into_owned();
    let load = |role: &str, egress: bool| {
        for doc in documents(&root, &FsLoader, &[], role, egress) {
            std::fs::write(dir.join(&doc.name), &doc.text).expect("write");
        }
        let prefix = dir.join(role).to_string_lossy().into_owned();
        let status = Command::new("ip")
            .args(["netns", "exec", &ns.0, "sh", script, "load", &prefix])
            .env("PORTC_IPTABLES_DIR", &keep)
            .stdout(Stdio::null())
            .status()
            .expect("the script runs");
        assert!(status.success(), "iptables-apply.sh load {prefix}");
    };
    load("etcd", true);
    let (once_v4, once_v6) = (saved(&ns, "iptables-save"), saved(&ns, "ip6tables-save"));
    let sets_once = ns.run(&["ipset", "list", "-n"], "").expect("ipset");
    load("etcd", true);
    assert_eq!(saved(&ns, "iptables-save"), once_v4, "a second load changes nothing");
    assert_eq!(saved(&ns, "ip6tables-save"), once_v6, "a second load changes nothing");
    assert_eq!(ns.run(&["ipset", "list", "-n"], "").expect("ipset"), sets_once);
    for (table, hook) in [("mangle", "-A PREROUTING -j PORTC-PREROUTING"), ("filter", "-A INPUT -j PORTC-INPUT")] {
        let text = ns.run(&["iptables-save", "-t", table], "").expect("save");
        assert_eq!(text.matches(hook).count(), 1, "one hook `{hook}`:\n{text}");
    }
    assert!(once_v4.contains("-A INPUT -j KUBE-FIREWALL") && once_v4.contains("kube-proxy sim"), "{once_v4}");
    assert!(once_v6.contains("-A INPUT -j KUBE-FIREWALL"), "{once_v6}");
    // Another host's file, without egress filtering: PORTC-OUTBOUND empties, the worker's peers
    // replace etcd's, and a set no rule uses any more is gone.
    load("worker", false);
    let worker = saved(&ns, "iptables-save");
    assert!(!worker.contains("-A PORTC-OUTBOUND"), "{worker}");
    let sets = ns.run(&["ipset", "list", "-n"], "").expect("ipset");
    assert!(sets_once.contains("portc-infra_dns-v4") && !sets.contains("portc-infra_dns-v4"), "{sets}");
    let status = Command::new("ip")
        .args(["netns", "exec", &ns.0, "sh", script, "remove"])
        .env("PORTC_IPTABLES_DIR", &keep)
        .stdout(Stdio::null())
        .status()
        .expect("the script runs");
    assert!(status.success(), "iptables-apply.sh remove");
    let after = saved(&ns, "iptables-save");
    assert!(!after.contains("PORTC"), "remove takes portc's chains away:\n{after}");
    assert!(after.contains("-A INPUT -j KUBE-FIREWALL") && foreign.contains("-A INPUT -j KUBE-FIREWALL"), "{after}");
    assert_eq!(ns.run(&["ipset", "list", "-n"], "").expect("ipset"), "", "and its sets");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A program whose peer `a` has `n` addresses.
fn addressed(n: u32) -> String {
    let addresses: Vec<String> = (0..n).map(|i| format!("10.1.{}.{}", i / 256, i % 256)).collect();
    format!(
        "role host\nrole a\nexternal admins = 10.9.0.0/24\nbind a = {}\nadmins -> host : tcp 22 management\na -> host : tcp 80, tcp 443, udp 53\n",
        addresses.join(", ")
    )
}

fn rule_count(n: u32) -> usize {
    let mut loader = MemoryLoader::default();
    loader.files.insert("p.ports".into(), addressed(n).into_bytes());
    let docs = documents(&Root::File("p.ports".into()), &loader, &[], "host", false);
    part(&docs, ".v4.rules").lines().filter(|l| l.starts_with("-A ")).count()
}

fn rule_count_stays_flat_as_addresses_are_added() {
    assert_eq!(rule_count(1), rule_count(1000), "a peer's addresses are one ipset, whatever their number");
}

fn every_file_declares_every_portc_chain() {
    let root = Root::File("examples/rancher-custom-site.ports".into());
    for egress in [false, true] {
        let docs = documents(&root, &FsLoader, &[], "worker", egress);
        for suffix in [".v4.rules", ".v6.rules"] {
            let text = part(&docs, suffix);
            for (table, chain) in portc::lower::iptables::CHAINS {
                let section = text.split(&format!("*{table}\n")).nth(1).and_then(|s| s.split("COMMIT").next());
                assert!(
                    section.is_some_and(|s| s.contains(&format!(":{chain} - [0:0]"))),
                    "{suffix} (egress {egress}) declares {table} {chain}, so that a load flushes it"
                );
            }
            assert!(!text.lines().any(|l| l.starts_with("-A ") && !l.starts_with("-A PORTC-")), "only portc's chains");
            assert!(!text.contains("-F") && !text.contains("-X"), "never flushes or deletes a chain by command");
        }
    }
}
