//! `portc diff` judged by network-config-analyzer: for sites whose roles are bound to pods, the
//! NetworkPolicies built from both sides are compared by `nca --semantic_diff`, and
//! tests/kubernetes/semantic_diff.py checks that the connections it finds added and removed are
//! exactly those of the differences `portc diff` reports.

#![allow(clippy::disallowed_methods)] // Tests write the sites and manifests for the outside tool.

mod support;

use support::{Need, Test};

use std::path::{Path, PathBuf};
use std::process::Command;

use portc::diff::{Configurations, Request};
use portc::{FsLoader, Options, Root, Target};

fn main() -> std::process::ExitCode {
    support::run(vec![Test::new(
        "nca_semantic_diff_finds_exactly_the_differences_portc_reports",
        &[Need::Tool("nca")],
        nca_semantic_diff_finds_exactly_the_differences_portc_reports,
    )])
}

/// A site, a changed copy of it, and whether the policies filter egress too.
struct Case {
    name: &'static str,
    old: String,
    new: String,
    egress: bool,
}

fn example(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("the example reads")
}

/// `text` with each `(from, to)` replaced once; a replacement that finds nothing is a broken case.
fn edit(text: &str, edits: &[(&str, &str)]) -> String {
    edits.iter().fold(text.to_string(), |text, (from, to)| {
        assert!(text.contains(from), "the case expects `{from}` in the site");
        text.replacen(from, to, 1)
    })
}

fn cases() -> Vec<Case> {
    let shop = example("examples/three-tier-site.ports");
    let shop_changed = edit(
        &shop,
        &[
            ("partners -> backend : tcp 8443", "partners -> backend : tcp 8443-8444"),
            ("backend -> payments : tcp 443", "backend -> payments : tcp 443, 8443"),
            ("tcp 5432 \"PostgreSQL\"", "tcp 5432-5433 \"PostgreSQL\""),
            ("frontend -> backend : tcp 8443", "frontend -> backend : udp 9000"),
        ],
    );
    let cluster = example("examples/kubernetes-site.ports");
    let cluster_changed = format!(
        "{}admins -> api : tcp 9090 \"Metrics, for the operators\"\n",
        edit(
            &cluster,
            &[(
                "workload_clients | worker | pod_cidr -> api : tcp 8080",
                "workload_clients | pod_cidr -> api : tcp 8080-8081"
            )]
        )
    );
    vec![
        Case { name: "three-tier, ingress", old: shop.clone(), new: shop_changed.clone(), egress: false },
        Case { name: "three-tier, egress", old: shop, new: shop_changed, egress: true },
        Case { name: "kubernetes site", old: cluster, new: cluster_changed, egress: false },
    ]
}

fn build(path: &Path, target: Target, egress: bool) -> String {
    let options = Options { target: Some(target), egress, ..Options::default() };
    let root = Root::File(path.to_string_lossy().into_owned());
    let outcome = portc::compile(&root, &FsLoader, &options).expect("the site loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    outcome.output.unwrap_or_else(|| panic!("{}: no {} output:\n{rendered}", path.display(), target.name()))
}

fn diff_json(old: &Path, new: &Path) -> String {
    let side = |path: &Path| {
        let root = Root::File(path.to_string_lossy().into_owned());
        portc::diff::check_side(&root, &FsLoader, &[]).expect("the site loads")
    };
    let (a, b) = (side(old), side(new));
    let request = Request { configurations: Configurations::Build, renames: Vec::new(), any_source: false };
    let diff = portc::diff::diff(&a.input("old").expect("checks"), &b.input("new").expect("checks"), &request)
        .expect("no renames");
    assert!(!diff.differences.is_empty(), "the case changes nothing");
    diff.json()
}

/// Where a command is on PATH.
fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|p| p.is_file())
}

fn nca_semantic_diff_finds_exactly_the_differences_portc_reports() {
    let nca = which("nca").expect("nca is on PATH");
    // The analyser's own interpreter, which has its modules.
    let python = nca.parent().map(|d| d.join("python3")).filter(|p| p.is_file()).unwrap_or_else(|| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kubernetes/semantic_diff.py");
    for case in cases() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("writes");
            path
        };
        let (old, new) = (file("old.ports", &case.old), file("new.ports", &case.new));
        let args = [
            ("--old-flows", file("old.json", &build(&old, Target::Json, false))),
            ("--new-flows", file("new.json", &build(&new, Target::Json, false))),
            ("--old-policies", file("old.yaml", &build(&old, Target::NetworkPolicy, case.egress))),
            ("--new-policies", file("new.yaml", &build(&new, Target::NetworkPolicy, case.egress))),
            ("--diff", file("diff.json", &diff_json(&old, &new))),
            ("--nca", nca.clone()),
        ];
        let mut command = Command::new(&python);
        command.arg(&script);
        for (flag, path) in &args {
            command.arg(flag).arg(path);
        }
        if case.egress {
            command.arg("--egress");
        }
        let run = command.output().expect("python3 runs");
        let report = String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{}:\n{report}", case.name);
        eprint!("{}: {report}", case.name);
    }
}
