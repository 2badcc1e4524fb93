//! The `cilium` target, judged by the tools that read it: every policy of every example and
//! stdlib site (with and without `--egress`) passes the validators compiled from Cilium's own
//! API types and their validation rules (`@kubernetes-models/cilium`, pinned by
//! tests/cilium/package-lock.json, run by tests/cilium/validate.mjs); reads back into portc's
//! typed structs with unknown fields denied; and keeps the shape a host policy needs.

#![allow(clippy::disallowed_methods)] // Tests write the policies for the validator to read.

mod support;

use std::path::PathBuf;
use std::process::Command;

use portc::Target;
use portc::lower::cilium::CiliumClusterwideNetworkPolicy;
use support::{Case, Need, Test};

fn main() -> std::process::ExitCode {
    let modules = support::root().join("tests/cilium/node_modules/@kubernetes-models/cilium");
    support::run(vec![
        Test::new(
            "ciliums_validators_accept_every_policy",
            &[Need::Tool("node"), Need::Installed(modules, "run `npm ci` in tests/cilium")],
            ciliums_validators_accept_every_policy,
        ),
        Test::new("policies_read_back_into_their_types", &[], policies_read_back_into_their_types),
        Test::new("policies_have_the_shape_of_host_policies", &[], policies_have_the_shape_of_host_policies),
        Test::new("labels_cilium_ignores", &[], labels_cilium_ignores),
        Test::new("output_is_byte_identical_across_builds", &[], output_is_byte_identical_across_builds),
    ])
}

impl Case {
    /// The documents, built with --allow-lossy where the program uses what Cilium cannot
    /// express (Calico's IP-in-IP in a site that also builds Calico policies).
    fn build(&self, egress: bool) -> Vec<portc::lower::Document> {
        self.compile(Target::Cilium, egress, true).documents
    }
}

/// Every example with a node role, and a site for every stdlib module with a role, each role
/// bound to the nodes labelled with its name.
fn cases() -> Vec<Case> {
    support::target_cases(Target::Cilium, |module, node| {
        if node.kind == portc::hir::NodeKind::Role && node.selector.is_none() {
            format!("bind {}.{1} = nodes {{ \"portc.test/role\": \"{1}\" }}\n", module, node.name)
        } else {
            String::new()
        }
    })
}

/// Every document of every case, with and without egress, as (name, data).
fn documents() -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for case in cases() {
        for egress in [false, true] {
            for document in case.build(egress) {
                let value: serde_json::Value = serde_saphyr::from_str(&document.text)
                    .unwrap_or_else(|e| panic!("{}: not YAML: {e}\n{}", case.name, document.text));
                out.push((format!("{} ({}, egress {egress})", case.name, document.name), value));
            }
        }
    }
    assert!(out.len() > 100, "only {} documents", out.len());
    out
}

fn ciliums_validators_accept_every_policy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: Vec<serde_json::Value> = documents()
        .into_iter()
        .map(|(name, document)| serde_json::json!({"name": name, "document": document}))
        .collect();
    let file = dir.path().join("policies.json");
    std::fs::write(&file, serde_json::to_string(&cases).expect("JSON")).expect("writes");
    let validate = |file: &PathBuf| {
        let run = Command::new("node")
            .arg("validate.mjs")
            .arg(file)
            .current_dir(support::root().join("tests/cilium"))
            .output()
            .expect("node runs");
        (
            run.status.success(),
            String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr),
        )
    };
    let (ok, report) = validate(&file);
    assert!(ok, "Cilium's validators refuse policies:\n{report}");
    assert!(report.contains(&format!("{} accepted, 0 refused", cases.len())), "{report}");
    // The validators are no test that cannot fail: they refuse what Cilium refuses.
    let mut bad = cases.first().cloned().expect("a case");
    bad["document"]["spec"]["ingress"] = serde_json::json!([
        {"fromEntities": ["everyone"]},
        {"toPorts": [{"ports": [{"port": "70000", "protocol": "TCP"}]}]},
        {"toPorts": [{"ports": [{"port": "22", "protocol": "GRE"}]}]},
        {"fromCIDRSet": [{"cidr": "10.0.0.0/33"}]},
        {"icmps": [{"fields": [{"family": "IPv5", "type": 8}]}]}
    ]);
    std::fs::write(&file, serde_json::to_string(&[bad]).expect("JSON")).expect("writes");
    let (ok, report) = validate(&file);
    assert!(!ok, "the validators accepted a bad policy:\n{report}");
    for field in ["fromEntities", "port", "protocol", "cidr", "family"] {
        assert!(report.contains(field), "no complaint about {field}:\n{report}");
    }
}

fn policies_read_back_into_their_types() {
    for (name, original) in documents() {
        let typed: CiliumClusterwideNetworkPolicy = serde_json::from_value(original.clone())
            .unwrap_or_else(|e| panic!("{name}: does not read back into its type: {e}"));
        assert_eq!(serde_json::to_value(&typed).expect("serialises"), original, "{name}");
    }
    let bad = serde_json::json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": "x"}, "spec": {"description": "", "nodeSelector": {}, "endpointSelector": {}}});
    assert!(serde_json::from_value::<CiliumClusterwideNetworkPolicy>(bad).is_err(), "an unknown field was accepted");
}

/// Every policy selects nodes by labels Cilium keeps, names exactly one kind of peer per rule,
/// matches ports or ICMP in each rule, and has egress rules only with --egress.
fn policies_have_the_shape_of_host_policies() {
    let peers_in = |rule: &serde_json::Value, keys: &[&str]| keys.iter().filter(|k| rule.get(**k).is_some()).count();
    for (name, policy) in documents() {
        let spec = &policy["spec"];
        let labels = spec["nodeSelector"]["matchLabels"].as_object().cloned().unwrap_or_default();
        assert!(!labels.is_empty(), "{name}: selects every node");
        assert!(labels.keys().all(|k| !portc::lower::cilium::label_ignored(k)), "{name}: {labels:?}");
        let egress = name.ends_with("egress true)");
        assert_eq!(spec.get("egress").is_some(), egress, "{name}: egress rules only with --egress");
        let ingress = spec["ingress"].as_array().cloned().unwrap_or_default();
        let egress_rules = spec["egress"].as_array().cloned().unwrap_or_default();
        if ingress == [serde_json::json!({})] {
            // Cilium's deny of every ingress: one rule that names no peer.
            continue;
        }
        for rule in &ingress {
            let n = peers_in(rule, &["fromNodes", "fromEndpoints", "fromEntities", "fromCIDRSet"]);
            assert_eq!(n, 1, "{name}: a rule names one kind of peer: {rule}");
        }
        for rule in &egress_rules {
            let n = peers_in(rule, &["toNodes", "toEndpoints", "toEntities", "toCIDRSet"]);
            assert_eq!(n, 1, "{name}: a rule names one kind of peer: {rule}");
        }
        for rule in ingress.iter().chain(&egress_rules) {
            assert_eq!(peers_in(rule, &["toPorts", "icmps"]), 1, "{name}: ports or ICMP: {rule}");
        }
    }
}

fn labels_cilium_ignores() {
    use portc::lower::cilium::label_ignored;
    for ignored in
        ["kubernetes.io/os", "kubernetes.io/hostname", "beta.kubernetes.io/arch", "k8s.io/x", "io.kubernetes.x"]
    {
        assert!(label_ignored(ignored), "{ignored}");
    }
    for kept in [
        "node-role.kubernetes.io/etcd",
        "node-role.kubernetes.io/control-plane",
        "node.kubernetes.io/instance-type",
        "app.kubernetes.io/name",
        "example.com/edge",
    ] {
        assert!(!label_ignored(kept), "{kept}");
    }
}

fn output_is_byte_identical_across_builds() {
    for case in cases() {
        assert_eq!(case.build(true), case.build(true), "{}", case.name);
    }
}
