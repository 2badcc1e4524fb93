//! Outputs judged by the tools that read them: Graphviz for the `dot` target.

#![allow(clippy::disallowed_methods)] // Tests read and write their own files.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use portc::{FsLoader, Options, Root, Target};

fn dot_of(root: Root) -> String {
    let outcome =
        portc::compile(&root, &FsLoader, &Options { target: Some(Target::Dot), ..Options::default() }).expect("loads");
    assert!(!outcome.has_errors(), "{root:?}");
    outcome.output.expect("output")
}

#[test]
fn graphviz_accepts_the_dot_target() {
    if !support::tool_available("dot") {
        return;
    }
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
