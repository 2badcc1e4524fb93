//! The nftables target judged by the real `nft`: every ruleset of every example and stdlib
//! module is accepted by `nft -c`, and the rule count does not grow with the number of flows.

#![allow(clippy::disallowed_methods)] // Tests read their own files.

mod support;

use support::{Need, Test};

use portc::{FsLoader, MemoryLoader, Options, Root, SourceLoader, Target};

fn ruleset(root: &Root, loader: &dyn SourceLoader, settings: &[String], role: &str, egress: bool) -> String {
    let options = Options {
        target: Some(Target::Nftables),
        settings: settings.to_vec(),
        roles: vec![role.to_string()],
        egress,
        allow_lockout: true,
        ..Options::default()
    };
    let outcome = portc::compile(root, loader, &options).expect("loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    outcome.output.unwrap_or_else(|| panic!("{root:?} as {role}:\n{rendered}"))
}

fn main() -> std::process::ExitCode {
    support::run(vec![
        Test::new("nft_accepts_every_ruleset", &[Need::Tool("nft"), Need::NetAdmin], nft_accepts_every_ruleset),
        Test::new("rule_count_stays_flat_as_flows_are_added", &[], rule_count_stays_flat_as_flows_are_added),
        Test::new("every_ruleset_owns_the_one_portc_table", &[], every_ruleset_owns_the_one_portc_table),
        Test::new("rule_comments_count_their_set", &[], rule_comments_count_their_set),
    ])
}

fn nft_accepts_every_ruleset() {
    let mut checked = 0;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut examples: Vec<String> = std::fs::read_dir(dir)
        .expect("examples/")
        .flatten()
        .map(|e| format!("examples/{}", e.file_name().to_string_lossy()))
        .collect();
    examples.sort();
    for example in examples {
        let root = Root::File(example);
        // Egress too where every peer has addresses (a pod-selected workload has none).
        let egress = root == Root::File("examples/rancher-custom-site.ports".into());
        for role in support::host_roles(&root, &FsLoader, &[]) {
            let text = ruleset(&root, &FsLoader, &[], &role, egress);
            support::nft_check(&text).unwrap_or_else(|e| panic!("{root:?} as {role}: nft refuses it:\n{e}\n{text}"));
            checked += 1;
        }
    }
    for module in portc::stdlib::modules() {
        let (loader, settings) = support::stdlib_site(module.name, |_| String::new());
        let root = Root::File("site.ports".into());
        for role in support::host_roles(&root, &loader, &settings) {
            let text = ruleset(&root, &loader, &settings, &role, false);
            support::nft_check(&text)
                .unwrap_or_else(|e| panic!("{} as {role}: nft refuses it:\n{e}\n{text}", module.name));
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} rulesets checked");
}

/// A program with `n` flows of one shape: two peers and a host, one port each.
fn shaped(n: u16) -> String {
    let mut text = String::from(
        "role host\nrole a\nrole b\nexternal admins = 10.9.0.0/24\nbind a = 10.1.0.0/24\nbind b = 10.2.0.0/24\nadmins -> host : tcp 22\n",
    );
    for i in 0..n {
        let peer = if i % 2 == 0 { "a" } else { "b" };
        text.push_str(&format!("{peer} -> host : tcp {} \"service {i}\"\n", 1000 + i));
    }
    text
}

fn rules(n: u16) -> usize {
    let mut loader = MemoryLoader::default();
    loader.files.insert("p.ports".into(), shaped(n).into_bytes());
    let text = ruleset(&Root::File("p.ports".into()), &loader, &[], "host", false);
    text.lines().filter(|l| l.contains(" saddr @peer_")).count()
}

fn rule_count_stays_flat_as_flows_are_added() {
    assert_eq!(rules(10), rules(1000));
    assert_eq!(rules(10), 3, "one rule per peer: a, b and the admins");
}

/// One table per host, named for neither the host nor its roles: a host given `worker.nft` and
/// later the file of all its roles replaces the first, instead of keeping two tables that a
/// packet must both pass.
fn every_ruleset_owns_the_one_portc_table() {
    let root = Root::File("examples/rancher-custom-site.ports".into());
    for roles in [vec!["worker"], vec!["etcd", "controlplane", "worker"]] {
        let options = Options {
            target: Some(Target::Nftables),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..Options::default()
        };
        let text = portc::compile(&root, &FsLoader, &options).expect("loads").output.expect("builds");
        let tables: Vec<&str> =
            text.lines().filter(|l| l.starts_with("table ") || l.starts_with("delete table")).collect();
        assert_eq!(tables, ["table inet portc", "delete table inet portc", "table inet portc {"], "{roles:?}");
        assert!(!text.contains("flush ruleset"), "a portc file never flushes the other tables");
    }
}

/// A rule's comment counts the entries of the set it uses.
fn rule_comments_count_their_set() {
    let root = Root::File("examples/rancher-custom-site.ports".into());
    let text = ruleset(&root, &FsLoader, &[], "worker", true);
    let mut checked = 0;
    for line in text.lines().filter(|l| l.contains("th dport @")) {
        let set = line.split("th dport @").nth(1).and_then(|r| r.split_whitespace().next()).expect("a set name");
        let body =
            text.split(&format!("    set {set} {{")).nth(1).and_then(|r| r.split("\n    }").next()).expect("the set");
        let entries = body.lines().filter(|l| l.contains(" comment \"")).count();
        let said = if entries == 1 { "the entry of".to_string() } else { format!("the {entries} entries of") };
        assert!(line.contains(&said), "{line}: the set has {entries} entries");
        checked += 1;
    }
    assert!(checked > 5, "only {checked} rules");
}
