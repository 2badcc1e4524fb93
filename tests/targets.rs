//! Outputs judged by the tools that read them: Graphviz for the `dot` target.

#![allow(clippy::disallowed_methods)] // Tests read and write their own files.

mod support;

use support::{Need, Test};

use std::io::Write;
use std::process::{Command, Stdio};

use portc::{FsLoader, Options, Root, Target};

fn dot_of(root: Root) -> String {
    let outcome =
        portc::compile(&root, &FsLoader, &Options { target: Some(Target::Dot), ..Options::default() }).expect("loads");
    assert!(!outcome.has_errors(), "{root:?}");
    outcome.output.expect("output")
}

fn main() -> std::process::ExitCode {
    support::run(vec![
        Test::new("graphviz_accepts_the_dot_target", &[Need::Tool("dot")], graphviz_accepts_the_dot_target),
        Test::new("dot_sorts_ports_as_numbers_and_draws_never", &[], dot_sorts_ports_as_numbers_and_draws_never),
    ])
}

fn graphviz_accepts_the_dot_target() {
    let mut inputs = vec![
        Root::File("examples/rancher-custom-site.ports".into()),
        Root::File("examples/kubernetes-site.ports".into()),
    ];
    inputs.push(Root::Module("rancher.downstream.custom".into()));
    for root in inputs {
        let text = dot_of(root.clone());
        let mut child = Command::new("dot")
            .arg("-Tsvg")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dot runs");
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
        let output = child.wait_with_output().expect("dot finishes");
        assert!(output.status.success(), "{root:?}: {}", String::from_utf8_lossy(&output.stderr));
        let svg = String::from_utf8_lossy(&output.stdout);
        assert!(svg.contains("<svg") && svg.contains("controlplane"), "{root:?}: the picture shows the roles");
    }
}

/// Ports sort as numbers (`tcp 179` before `tcp 10250`), a role's two kinds of self-loop sit on
/// opposite sides of its node, and the `never` invariants are drawn.
fn dot_sorts_ports_as_numbers_and_draws_never() {
    let text = dot_of(Root::File("examples/rancher-custom-site.ports".into()));
    let line = |from: &str, to: &str, local: bool| {
        text.lines()
            .find(|l| l.starts_with(&format!("  \"{from}\" -> \"{to}\" [")) && l.contains("style=dashed") == local)
            .unwrap_or_else(|| panic!("no edge {from} -> {to}:\n{text}"))
            .to_string()
    };
    let between = line("controlplane", "controlplane", false);
    assert!(between.contains("label=\"tcp 6443\\ntcp 10250\\nudp 8472\""), "{between}");
    assert!(between.contains("tailport=n, headport=n"), "{between}");
    assert!(line("controlplane", "controlplane", true).contains("tailport=s, headport=s"));
    let never = line("internet", "worker", false);
    assert!(never.contains("never udp 4789\\nnever udp 8472") && never.contains("color=red"), "{never}");
}
