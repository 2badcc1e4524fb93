//! Every example and stdlib module through every target, snapshotted; and output that does not
//! depend on the order of declarations.

#![allow(clippy::disallowed_methods)] // Tests read and write their own files.

mod support;

use portc::{FsLoader, MemoryLoader, Options, Root, Target};
use proptest::prelude::*;

/// Settings that give every param without a value a distinct placeholder port, as a site would
/// (distinct, so that two params never coincide by accident).
fn placeholders(root: &Root, loader: &dyn portc::SourceLoader) -> Vec<String> {
    let mut map = portc::diag::SourceMap::default();
    let (program, _) = portc::resolve::resolve(root, loader, "", &mut map).expect("root loads");
    support::placeholder_params(&program)
}

/// Builds `root` for `target` with placeholder params; fails on errors. A program that uses
/// what the target cannot express (Calico's IP-in-IP for Cilium host policies) is built with
/// --allow-lossy instead, and its warnings end the snapshot, which so records what is left out.
fn build(root: &Root, loader: &dyn portc::SourceLoader, target: Target) -> String {
    let settings = placeholders(root, loader);
    let options = Options { target: Some(target), settings, ..Options::default() };
    let mut outcome = portc::compile(root, loader, &options).expect("root loads");
    let lossy = target.takes(portc::lower::Setting::AllowLossy)
        && outcome.has_errors()
        && outcome.diagnostics.iter().all(|d| !d.is_error() || d.code == portc::diag::Code::NotExpressible);
    if lossy {
        outcome = portc::compile(root, loader, &Options { allow_lossy: true, ..options }).expect("root loads");
    }
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    assert!(!outcome.has_errors(), "{root:?} for {}:\n{rendered}", target.name());
    let output = outcome.output.expect("no errors, so there is output");
    if lossy { format!("{output}--- built with --allow-lossy\n{rendered}") } else { output }
}

/// The targets `root` builds for without naming a role: every one that is not per host and
/// whose precondition the program meets (the Kubernetes targets need a role bound to pods or nodes).
fn site_targets(root: &Root, loader: &dyn portc::SourceLoader) -> Vec<Target> {
    let mut map = portc::diag::SourceMap::default();
    let (program, _) = portc::resolve::resolve(root, loader, "", &mut map).expect("root loads");
    Target::ALL
        .iter()
        .copied()
        .filter(|t| !t.per_host() && portc::lower::lowerer(*t).precondition(&program).is_ok())
        .collect()
}

#[test]
fn examples_for_every_target() {
    insta::glob!("../examples", "*.ports", |path| {
        let name =
            std::path::Path::new("examples").join(path.file_name().expect("a file")).to_string_lossy().into_owned();
        for target in site_targets(&Root::File(name.clone()), &FsLoader) {
            let output = build(&Root::File(name.clone()), &FsLoader, target);
            insta::assert_snapshot!(
                format!("{}.{}", path.file_name().unwrap_or_default().to_string_lossy(), target.name()),
                output
            );
        }
    });
}

/// The host firewall of every role of every example, one snapshot per example and per-host
/// target; a target's documents each under a line with their name.
#[test]
fn examples_as_host_firewalls() {
    insta::glob!("../examples", "*.ports", |path| {
        let name =
            std::path::Path::new("examples").join(path.file_name().expect("a file")).to_string_lossy().into_owned();
        let root = Root::File(name);
        for target in Target::ALL.iter().copied().filter(|t| t.per_host()) {
            let mut all = String::new();
            for role in support::host_roles(&root, &FsLoader, &placeholders(&root, &FsLoader)) {
                // A target that can be lossy (firewalld on a Kubernetes node) is built as an
                // operator of these sites must build it, and its warnings are in the snapshot.
                let allow_lossy = target.description().settings.contains(&portc::lower::Setting::AllowLossy);
                let options =
                    Options { target: Some(target), roles: vec![role.clone()], allow_lossy, ..Options::default() };
                let outcome = portc::compile(&root, &FsLoader, &options).expect("loads");
                let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
                assert!(!outcome.has_errors(), "{root:?} as {role} for {}:\n{rendered}", target.name());
                assert!(outcome.output.is_some(), "no errors, so there is output");
                for document in &outcome.documents {
                    if target.description().documents {
                        all.push_str(&format!("--- {}\n", document.name));
                    }
                    all.push_str(&document.text);
                }
                // Warnings (a VIP role that no operator logs in to, say) are part of the record.
                all.push_str(&rendered);
            }
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            insta::assert_snapshot!(format!("{file}.{}", target.name()), all);
        }
    });
}

/// Every stdlib module through every target: as it is for the targets that document it, and
/// through a site that binds and sets what it leaves open (`support::stdlib_site`) for the
/// targets that build something to deploy on a site.
#[test]
fn stdlib_modules_for_every_target() {
    for module in portc::stdlib::modules() {
        let root = Root::Module(module.name.to_string());
        for target in site_targets(&root, &FsLoader).into_iter().filter(|t| !t.description().site) {
            let output = build(&root, &FsLoader, target);
            insta::assert_snapshot!(format!("stdlib.{}.{}", module.name, target.name()), output);
        }
        let (loader, settings) = support::stdlib_site(module.name, |_| String::new());
        let site = Root::File("site.ports".into());
        for target in site_targets(&site, &loader).into_iter().filter(|t| t.description().site) {
            let options = Options { target: Some(target), settings: settings.clone(), ..Options::default() };
            let outcome = portc::compile(&site, &loader, &options).expect("site loads");
            let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
            assert!(!outcome.has_errors(), "a site using {} for {}:\n{rendered}", module.name, target.name());
            let output = outcome.output.expect("no errors, so there is output");
            insta::assert_snapshot!(format!("stdlib.{}.{}", module.name, target.name()), output);
        }
    }
}

/// Every stdlib module checks without a diagnostic: vendor tables that contradict themselves
/// are read one way, with a comment at the line and an entry in docs/stdlib.md.
#[test]
fn stdlib_modules_check_clean() {
    let mut dirty = String::new();
    for module in portc::stdlib::modules() {
        let root = Root::Module(module.name.to_string());
        let settings = placeholders(&root, &FsLoader);
        let outcome = portc::compile(&root, &FsLoader, &Options { target: None, settings, ..Options::default() })
            .expect("root loads");
        if !outcome.diagnostics.is_empty() {
            dirty.push_str(&portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false));
        }
    }
    assert!(dirty.is_empty(), "{dirty}");
}

#[test]
fn stdlib_modules_are_named_after_their_paths() {
    for module in portc::stdlib::modules() {
        let (file, diagnostics) = portc::syntax::parse(portc::span::FileId(0), module.text);
        assert!(diagnostics.is_empty(), "{} has diagnostics", module.name);
        let declared = file.items.iter().find_map(|item| match item {
            portc::ast::Item::Module(m) => Some(m.name.text()),
            _ => None,
        });
        assert_eq!(declared.as_deref(), Some(module.name), "{} declares another name", module.relative);
        let has_source = file.items.iter().any(|item| matches!(item, portc::ast::Item::Source(_)));
        assert!(has_source, "{} has no `source` line", module.name);
    }
}

/// The statements of a small program, each on its own line, in a fixed order.
fn statements() -> Vec<String> {
    [
        "flag lb \"an external load balancer\" = false",
        "flag extra",
        "option cni = canal | calico = canal",
        "param api = 6443",
        "role etcd \"etcd\"",
        "role cp \"control plane\"",
        "role worker",
        "external internet = 0.0.0.0/0, ::/0",
        "group nodes = etcd | cp | worker",
        "service etcd_client = tcp 2379 \"etcd clients\"",
        "note 3 \"no lb\" when !lb",
        "note 10 \"local\" local",
        "nodes -> cp : tcp api [3]",
        "cp -> etcd : etcd_client",
        "etcd -> nodes { udp 8472 when cni == canal \n tcp 9099 [10, 3] }",
        "nodes -> nodes : ipip when cni == calico",
        "internet -> worker : tcp/udp 30000-32767, tcp 80 \"ingress\" when extra",
        "nodes -> self : tcp 10254 [10]",
        "never internet -> nodes : udp 8472",
        "set cni = calico",
        "bind etcd = 10.0.1.0/24",
        "bind cp = 10.0.2.0/24, fd00::2",
        "bind worker = nodes { role: worker }",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The json target's output for `statements`, with every `line` removed: lines move when
/// statements move, and nothing else may.
fn json_without_lines(statements: &[String]) -> serde_json::Value {
    let mut loader = MemoryLoader::default();
    loader.files.insert("site.ports".into(), statements.join("\n").into_bytes());
    let output = build(&Root::File("site.ports".into()), &loader, Target::Json);
    let mut value: serde_json::Value = serde_json::from_str(&output).expect("json");
    strip_lines(&mut value);
    value
}

fn strip_lines(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("line");
            map.values_mut().for_each(strip_lines);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_lines),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn declaration_order_does_not_change_output(shuffled in Just(statements()).prop_shuffle()) {
        prop_assert_eq!(json_without_lines(&shuffled), json_without_lines(&statements()));
    }
}

/// The flows of a json document as `from to protocol start-end` lines.
fn flow_lines(root: &Root, settings: &[&str]) -> Vec<String> {
    let options = Options {
        target: Some(Target::Json),
        settings: settings.iter().map(|s| s.to_string()).collect(),
        ..Options::default()
    };
    let outcome = portc::compile(root, &FsLoader, &options).expect("loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    let text = outcome.output.unwrap_or_else(|| panic!("{root:?}:\n{rendered}"));
    let document: serde_json::Value = serde_json::from_str(&text).expect("json");
    let flows = document["flows"].as_array().cloned().unwrap_or_default();
    flows
        .iter()
        .map(|f| {
            let ports = match (f["ports"]["start"].as_u64(), f["ports"]["end"].as_u64()) {
                (Some(s), Some(e)) if s == e => format!(" {s}"),
                (Some(s), Some(e)) => format!(" {s}-{e}"),
                _ => String::new(),
            };
            format!(
                "{} {} {}{ports}",
                f["from"].as_str().unwrap_or(""),
                f["to"].as_str().unwrap_or(""),
                f["protocol"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// What a working cluster needs and the vendor tables leave out: a CNI's ports for a plain
/// Kubernetes site, Calico's encapsulation on Rancher, etcd between K3s servers with embedded
/// etcd, kube-proxy's health port, and the pods' way to their own node.
#[test]
fn stdlib_modules_make_working_clusters() {
    let has = |flows: &[String], line: &str| flows.iter().any(|f| f == line);
    let kubeadm = flow_lines(&Root::File("examples/kubeadm-site.ports".into()), &[]);
    assert!(has(&kubeadm, "worker controlplane udp 4789"), "kubeadm: Calico's VXLAN between the nodes");
    assert!(has(&kubeadm, "pod_cidr worker tcp 10250"), "kubeadm: pods reach their node's kubelet");
    assert!(has(&kubeadm, "controlplane pod_cidr tcp 1-65535"), "kubeadm: the kubelet probes its pods");
    assert!(has(&kubeadm, "worker worker tcp 10256"), "kubeadm: kube-proxy's health port");
    let calico = flow_lines(&Root::Module("rancher.downstream.custom".into()), &["cni=calico"]);
    assert!(has(&calico, "worker etcd ipip"), "Rancher with Calico: IP-in-IP between the nodes");
    assert!(has(&calico, "worker etcd tcp 179"), "Rancher with Calico: BGP");
    let vxlan = flow_lines(&Root::Module("rancher.downstream.custom".into()), &["cni=calico", "calico_mode=vxlan"]);
    assert!(has(&vxlan, "worker etcd udp 4789") && !has(&vxlan, "worker etcd ipip"), "Calico VXLAN mode");
    let k3s = flow_lines(&Root::File("examples/rancher-server-k3s-site.ports".into()), &[]);
    assert!(has(&k3s, "rancher rancher tcp 2379") && has(&k3s, "rancher rancher tcp 2380"), "K3s embedded etcd");
}

/// Every example checks without a diagnostic, and every host of the Kubernetes examples builds
/// its firewall without one, with and without egress filtering: they are meant to be copied.
#[test]
fn examples_build_without_warnings() {
    for example in support::examples() {
        let root = Root::File(example.clone());
        let (outcome, _) = portc::check_program(&root, &FsLoader, &[]).expect("loads");
        let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
        assert!(outcome.diagnostics.is_empty(), "{example}:\n{rendered}");
    }
    for (example, hosts) in [
        ("examples/rancher-custom-site.ports", &["controlplane", "etcd", "rancher", "worker"][..]),
        ("examples/kubeadm-site.ports", &["controlplane", "worker"][..]),
        ("examples/dce5-cilium-site.ports", &["bootstrap", "controlplane", "worker"][..]),
    ] {
        // firewalld warns on these nodes by design (NodePorts, ICMPv6): tests/firewalld.rs.
        for target in [Target::Nftables, Target::Iptables] {
            for (role, egress) in hosts.iter().flat_map(|r| [(r, false), (r, true)]) {
                let options =
                    Options { target: Some(target), roles: vec![role.to_string()], egress, ..Options::default() };
                let outcome = portc::compile(&Root::File(example.into()), &FsLoader, &options).expect("loads");
                let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
                assert!(outcome.diagnostics.is_empty(), "{example} as {role} (egress {egress}):\n{rendered}");
            }
        }
    }
}
