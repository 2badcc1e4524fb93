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

/// Builds `root` for `target` with placeholder params; fails on errors.
fn build(root: &Root, loader: &dyn portc::SourceLoader, target: Target) -> String {
    let settings = placeholders(root, loader);
    let outcome = portc::compile(root, loader, &Options { target: Some(target), settings, ..Options::default() })
        .expect("root loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    assert!(!outcome.has_errors(), "{root:?} for {}:\n{rendered}", target.name());
    outcome.output.expect("no errors, so there is output")
}

/// The targets `root` builds for without naming a role: every one but nftables, and the
/// Kubernetes targets only where a role is bound to pods (networkpolicy) or to nodes (calico).
fn site_targets(root: &Root, loader: &dyn portc::SourceLoader) -> Vec<Target> {
    let mut map = portc::diag::SourceMap::default();
    let (program, _) = portc::resolve::resolve(root, loader, "", &mut map).expect("root loads");
    let bound = |kind| {
        program
            .nodes
            .iter()
            .any(|n| n.kind == portc::hir::NodeKind::Role && n.selector.as_ref().is_some_and(|s| s.kind == kind))
    };
    Target::ALL
        .iter()
        .copied()
        .filter(|t| match t {
            Target::Nftables => false,
            Target::NetworkPolicy => bound(portc::ast::SelectorKind::Pods),
            Target::Calico => bound(portc::ast::SelectorKind::Nodes),
            _ => true,
        })
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

/// The host firewall of every role of every example, one snapshot per example.
#[test]
fn examples_as_host_firewalls() {
    insta::glob!("../examples", "*.ports", |path| {
        let name =
            std::path::Path::new("examples").join(path.file_name().expect("a file")).to_string_lossy().into_owned();
        let root = Root::File(name);
        let mut all = String::new();
        for role in support::host_roles(&root, &FsLoader, &placeholders(&root, &FsLoader)) {
            let options = Options { target: Some(Target::Nftables), roles: vec![role.clone()], ..Options::default() };
            let outcome = portc::compile(&root, &FsLoader, &options).expect("loads");
            let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
            assert!(!outcome.has_errors(), "{root:?} as {role}:\n{rendered}");
            all.push_str(&outcome.output.expect("no errors"));
            // Warnings (a VIP role that no operator logs in to, say) are part of the record.
            all.push_str(&rendered);
        }
        insta::assert_snapshot!(format!("{}.nftables", path.file_name().unwrap_or_default().to_string_lossy()), all);
    });
}

#[test]
fn stdlib_modules_for_every_target() {
    for module in portc::stdlib::modules() {
        let root = Root::Module(module.name.to_string());
        for target in site_targets(&root, &FsLoader) {
            let output = build(&root, &FsLoader, target);
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
