//! The firewalld target judged by firewalld's own tools: every host's configuration of every
//! example and stdlib module, laid out as firewalld's configuration directory, passes
//! `firewall-offline-cmd --check-config`, and every service and ipset its rules name is defined;
//! `install.sh` installs it with `firewall-offline-cmd` and replaces an earlier install.

#![allow(clippy::disallowed_methods)] // Tests read and write their own files.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Need, Test};

use portc::lower::Document;
use portc::{FsLoader, Options, Root, SourceLoader, Target};

fn documents(root: &Root, loader: &dyn SourceLoader, settings: &[String], role: &str, egress: bool) -> Vec<Document> {
    let options = Options {
        target: Some(Target::Firewalld),
        settings: settings.to_vec(),
        roles: vec![role.to_string()],
        egress,
        allow_lockout: true,
        // A Kubernetes node's zone is wider than its flows (E0304, E0305).
        allow_lossy: true,
    };
    let outcome = portc::compile(root, loader, &options).expect("loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    assert!(outcome.output.is_some(), "{root:?} as {role}:\n{rendered}");
    outcome.documents
}

/// A firewalld system configuration directory of its own, deleted on drop.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn new(tag: &str) -> ConfigDir {
        let dir = std::env::temp_dir().join(format!("portc-firewalld-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        // The settings firewalld needs to read; the rest are its defaults.
        std::fs::write(dir.join("firewalld.conf"), "DefaultZone=public\nFirewallBackend=nftables\n").expect("write");
        ConfigDir(dir)
    }

    /// Puts a host's files where firewalld reads them, as `install.sh` would, with the zone as
    /// the default zone.
    fn lay_out(&self, documents: &[Document]) {
        for document in documents.iter().filter(|d| d.name.ends_with(".xml")) {
            let relative = document.name.split_once('/').map_or(document.name.as_str(), |(_, rest)| rest);
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, &document.text).expect("write");
        }
        std::fs::write(self.0.join("firewalld.conf"), "DefaultZone=portc\nFirewallBackend=nftables\n").expect("write");
    }

    fn clear(&self) {
        for dir in ["zones", "services", "ipsets", "policies"] {
            let _ = std::fs::remove_dir_all(self.0.join(dir));
        }
    }

    /// `firewall-offline-cmd --system-config DIR ARGS`; its output, or `Err` with it.
    fn offline(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new("firewall-offline-cmd")
            .arg("--system-config")
            .arg(&self.0)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        // A configuration firewalld cannot load is reported on the output, and makes it fall back
        // to its stock configuration.
        if output.status.success() && !text.contains("ERROR") && !text.contains("Configuration error") {
            Ok(text)
        } else {
            Err(text)
        }
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `name="X"` values of one element kind in a text: `<service name="X"/>`, `ipset="X"`.
fn references<'a>(text: &'a str, before: &str) -> Vec<&'a str> {
    text.split(before).skip(1).filter_map(|rest| rest.split('"').next()).collect()
}

/// Every service and ipset a rule names is one of the host's files (or firewalld's own service).
fn defined(documents: &[Document]) -> Result<(), String> {
    let has = |dir: &str, name: &str| documents.iter().any(|d| d.name.ends_with(&format!("/{dir}/{name}.xml")));
    for document in documents.iter().filter(|d| d.name.contains("/zones/") || d.name.contains("/policies/")) {
        for service in references(&document.text, "<service name=\"") {
            if service != "dhcpv6-client" && !has("services", service) {
                return Err(format!("{} names the undefined service {service}", document.name));
            }
        }
        for ipset in references(&document.text, "ipset=\"") {
            if !has("ipsets", ipset) {
                return Err(format!("{} names the undefined ipset {ipset}", document.name));
            }
        }
    }
    Ok(())
}

const TOOLS: &[Need] = &[Need::Tool("firewall-offline-cmd")];

fn main() -> std::process::ExitCode {
    support::run(vec![
        Test::new("firewalld_accepts_every_configuration", TOOLS, firewalld_accepts_every_configuration),
        Test::new("install_script_replaces_an_earlier_install", TOOLS, install_script_replaces_an_earlier_install),
        Test::new("rule_count_stays_flat_as_flows_are_added", &[], rule_count_stays_flat_as_flows_are_added),
    ])
}

fn check(dir: &ConfigDir, documents: &[Document], what: &str) {
    dir.clear();
    dir.lay_out(documents);
    defined(documents).unwrap_or_else(|e| panic!("{what}: {e}"));
    dir.offline(&["--check-config"]).unwrap_or_else(|e| panic!("{what}: firewalld refuses it:\n{e}\n{documents:#?}"));
}

fn firewalld_accepts_every_configuration() {
    let dir = ConfigDir::new("check");
    let mut checked = 0;
    for example in support::examples() {
        let root = Root::File(example.clone());
        let egress = example == "examples/rancher-custom-site.ports";
        for role in support::host_roles(&root, &FsLoader, &[]) {
            for egress in [false, egress].into_iter().collect::<std::collections::BTreeSet<_>>() {
                check(&dir, &documents(&root, &FsLoader, &[], &role, egress), &format!("{example} as {role}"));
                checked += 1;
            }
        }
    }
    for module in portc::stdlib::modules() {
        let (loader, settings) = support::stdlib_site(module.name, |_| String::new());
        let root = Root::File("site.ports".into());
        for role in support::host_roles(&root, &loader, &settings) {
            check(&dir, &documents(&root, &loader, &settings, &role, false), &format!("{} as {role}", module.name));
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} configurations checked");
}

/// Writes a host's files under `out` as `--out-dir` does.
fn write(out: &Path, documents: &[Document]) {
    for document in documents {
        let path = out.join(&document.name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, &document.text).expect("write");
    }
}

fn install(dir: &ConfigDir, out: &Path, role: &str) {
    let script = out.join(role).join("install.sh");
    let command = format!("firewall-offline-cmd --system-config {}", dir.0.display());
    let output =
        Command::new("sh").arg(&script).env("FIREWALL_OFFLINE_CMD", command).output().expect("the script runs");
    assert!(output.status.success(), "install.sh of {role}: {}", String::from_utf8_lossy(&output.stderr));
}

/// `install.sh` puts the files in place through firewall-offline-cmd and makes the zone the
/// default; installing another role's files replaces every portc object of the first.
fn install_script_replaces_an_earlier_install() {
    let dir = ConfigDir::new("install");
    let out = dir.0.join("out");
    let root = Root::File("examples/rancher-custom-site.ports".into());
    write(&out, &documents(&root, &FsLoader, &[], "etcd", true));
    write(&out, &documents(&root, &FsLoader, &[], "worker", false));
    install(&dir, &out, "etcd");
    dir.offline(&["--check-config"]).unwrap_or_else(|e| panic!("after the etcd install: {e}"));
    assert_eq!(dir.offline(&["--get-default-zone"]).expect("default zone").trim(), "portc");
    let ipsets = dir.offline(&["--get-ipsets"]).expect("ipsets");
    assert!(ipsets.contains("portc-infra_dns-v4"), "{ipsets}");
    assert!(dir.offline(&["--get-policies"]).expect("policies").contains("portc-out"));
    install(&dir, &out, "worker");
    dir.offline(&["--check-config"]).unwrap_or_else(|e| panic!("after the worker install: {e}"));
    let ipsets = dir.offline(&["--get-ipsets"]).expect("ipsets");
    assert!(!ipsets.contains("portc-infra_dns-v4"), "a peer only etcd's egress needed is gone: {ipsets}");
    assert!(!dir.offline(&["--get-policies"]).expect("policies").contains("portc-out"), "no egress policy");
    let zone = dir.offline(&["--zone=portc", "--list-rich-rules"]).expect("rich rules");
    assert!(zone.contains("portc-in-workload_clients"), "{zone}");
    assert_eq!(dir.offline(&["--get-default-zone"]).expect("default zone").trim(), "portc");
}

/// The rich rules of a host with `n` flows of one shape from two peers.
fn rich_rules(n: u16) -> usize {
    let mut text = String::from(
        "role host\nrole a\nrole b\nexternal admins = 10.9.0.0/24\nbind a = 10.1.0.0/24\nbind b = 10.2.0.0/24\nadmins -> host : tcp 22 management\n",
    );
    for i in 0..n {
        let peer = if i % 2 == 0 { "a" } else { "b" };
        text.push_str(&format!("{peer} -> host : tcp {} \"service {i}\"\n", 1000 + i));
    }
    let mut loader = portc::MemoryLoader::default();
    loader.files.insert("p.ports".into(), text.into_bytes());
    let docs = documents(&Root::File("p.ports".into()), &loader, &[], "host", false);
    let zone = docs.iter().find(|d| d.name.ends_with("/zones/portc.xml")).expect("the zone");
    zone.text.matches("<service name=\"portc-in-").count()
}

fn rule_count_stays_flat_as_flows_are_added() {
    assert_eq!(rich_rules(10), rich_rules(1000));
    assert_eq!(rich_rules(10), 3, "one rule per peer: a, b and the admins");
}
