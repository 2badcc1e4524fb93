//! Shell completions and manual pages (`portc completions`, `portc man`): generated from the clap
//! definition, and accepted by the shells (`bash -n`, `zsh -n`, `fish -n`) and by groff.

#![allow(clippy::disallowed_methods)] // Tests write the generated files to read them back.

mod support;

use std::process::{Command, Output, Stdio};

use support::{Need, Test};

fn main() -> std::process::ExitCode {
    support::run(vec![
        Test::new("bash_completions_parse", &[Need::Tool("bash")], bash_completions_parse),
        Test::new("zsh_completions_parse", &[Need::Tool("zsh")], zsh_completions_parse),
        Test::new("fish_completions_parse", &[Need::Tool("fish")], fish_completions_parse),
        Test::new("the_manual_page_renders_cleanly", &[Need::Tool("groff")], the_manual_page_renders_cleanly),
        Test::new("every_subcommand_has_a_page", &[Need::Tool("groff")], every_subcommand_has_a_page),
    ])
}

fn portc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portc")).args(args).output().expect("portc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The completion script for `shell`, written to a file, after checking that it knows the
/// subcommands and their options.
fn script(shell: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let out = portc(&["completions", shell]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    // Options are spelt `--check` by bash and zsh, `-l check` by fish.
    for word in ["check", "build", "explain", "fmt", "stdlib", "completions", "deny-warnings", "target"] {
        assert!(script.contains(word), "the {shell} completions lack `{word}`");
    }
    let path = dir.join(format!("portc.{shell}"));
    std::fs::write(&path, script).expect("writes");
    path
}

/// Runs `shell -n` (parse, do not run) on a script.
fn parses(shell: &str, script: &std::path::Path) {
    let out = Command::new(shell).arg("-n").arg(script).output().expect("the shell runs");
    assert!(out.status.success() && out.stderr.is_empty(), "{shell} -n: {}", text(&out.stderr));
}

fn bash_completions_parse() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = script("bash", dir.path());
    assert!(std::fs::read_to_string(&path).unwrap_or_default().contains("complete -F"));
    parses("bash", &path);
}

fn zsh_completions_parse() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = script("zsh", dir.path());
    assert!(std::fs::read_to_string(&path).unwrap_or_default().starts_with("#compdef portc"));
    parses("zsh", &path);
}

fn fish_completions_parse() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = script("fish", dir.path());
    assert!(std::fs::read_to_string(&path).unwrap_or_default().contains("complete -c portc"));
    parses("fish", &path);
}

/// groff reads the page as a manual page, warning about anything it does not understand.
fn renders(roff: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff runs");
    child.stdin.take().expect("stdin").write_all(roff.as_bytes()).expect("writes");
    let out = child.wait_with_output().expect("groff finishes");
    assert!(out.status.success() && out.stderr.is_empty(), "groff: {}", text(&out.stderr));
    text(&out.stdout)
}

fn the_manual_page_renders_cleanly() {
    let out = portc(&["man"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let roff = text(&out.stdout);
    assert!(roff.contains(".TH portc 1"), "{roff}");
    let page = renders(&roff);
    for section in ["NAME", "SYNOPSIS", "SUBCOMMANDS", "portc-fmt(1)"] {
        assert!(page.contains(section), "the page lacks {section}:\n{page}");
    }
}

fn every_subcommand_has_a_page() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out_dir = dir.path().join("man1");
    let out = portc(&["man", "--out-dir", &out_dir.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("the directory exists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected = [
        "portc-build.1",
        "portc-check.1",
        "portc-completions.1",
        "portc-diff.1",
        "portc-explain.1",
        "portc-fmt.1",
        "portc-lsp.1",
        "portc-man.1",
        "portc-paths.1",
        "portc-stdlib-list.1",
        "portc-stdlib-show.1",
        "portc-stdlib.1",
        "portc-verify.1",
        "portc.1",
    ];
    assert_eq!(names, expected);
    let fmt = renders(&std::fs::read_to_string(out_dir.join("portc-fmt.1")).unwrap_or_default());
    assert!(fmt.contains("--check"), "{fmt}");
    for name in &names {
        renders(&std::fs::read_to_string(out_dir.join(name)).unwrap_or_default());
    }
}
