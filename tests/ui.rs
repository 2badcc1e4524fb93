//! Snapshot tests of diagnostics: every file in tests/ui/ is checked and its rendered diagnostics snapshotted.

#![allow(clippy::disallowed_methods)] // Tests read and write their own files.

use std::path::Path;

use portc::FsLoader;
use portc::diag::Code;

/// The path relative to the crate root, so snapshots do not depend on where the repository lives.
fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

/// Checks a case, or builds it when a line `# build: --target T [--role R] [--egress] [--allow-lossy]` asks,
/// and renders the diagnostics without colour. A line `# check: --no-path FROM:TO` checks it as
/// `portc check --no-path` does, and `# verify: --role R --iptables FILE` (or `--nft`) verifies
/// the ruleset in FILE against it as `portc verify` does.
fn render_case(name: &str) -> String {
    let text = std::fs::read_to_string(name).unwrap_or_default();
    if let Some(args) = text.lines().find_map(|l| l.strip_prefix("# check:")) {
        return check_no_path(name, args);
    }
    if let Some(args) = text.lines().find_map(|l| l.strip_prefix("# verify:")) {
        return verify(name, args);
    }
    let Some(args) = text.lines().find_map(|l| l.strip_prefix("# build:")) else {
        return portc::check_and_render_plain(name, &FsLoader);
    };
    let words: Vec<&str> = args.split_whitespace().collect();
    let value = |flag: &str| words.iter().position(|w| *w == flag).and_then(|i| words.get(i + 1)).copied();
    let target = value("--target").and_then(portc::Target::from_name).unwrap_or(portc::Target::Json);
    let options = portc::Options {
        target: Some(target),
        roles: value("--role").map(|r| r.split(',').map(String::from).collect()).unwrap_or_default(),
        egress: words.contains(&"--egress"),
        allow_lossy: words.contains(&"--allow-lossy"),
        ..portc::Options::default()
    };
    match portc::compile(&portc::Root::File(name.to_string()), &FsLoader, &options) {
        Ok(outcome) => portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false),
        Err(e) => format!("error: {}\n", e.0),
    }
}

/// `portc check --no-path FROM:TO` on a case.
fn check_no_path(name: &str, args: &str) -> String {
    let words: Vec<&str> = args.split_whitespace().collect();
    let pairs: Vec<(String, String)> = words
        .windows(2)
        .filter(|w| w.first() == Some(&"--no-path"))
        .filter_map(|w| w.get(1)?.split_once(':').map(|(f, t)| (f.to_string(), t.to_string())))
        .collect();
    let root = portc::Root::File(name.to_string());
    let (mut outcome, checked) = portc::check_program(&root, &FsLoader, &[]).expect("the case loads");
    let checked = checked.expect("the case checks");
    let hops = usize::from(portc::paths::DEFAULT_MAX_HOPS);
    outcome.diagnostics.extend(portc::paths::forbidden_paths(&checked, &pairs, hops).expect("known names"));
    portc::diag::sort(&mut outcome.diagnostics);
    portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false)
}

/// `portc verify` of a ruleset file against a case: its diagnostics, or the report's status.
fn verify(name: &str, args: &str) -> String {
    let words: Vec<&str> = args.split_whitespace().collect();
    let value = |flag: &str| words.iter().position(|w| *w == flag).and_then(|i| words.get(i + 1)).copied();
    let (file, nft) = match (value("--nft"), value("--iptables")) {
        (Some(file), _) => (file, true),
        (None, Some(file)) => (file, false),
        (None, None) => panic!("{name}: `# verify:` needs --nft FILE or --iptables FILE"),
    };
    let ruleset = std::fs::read_to_string(file).expect("the case's ruleset is readable");
    let source = if nft { portc::verify::Source::Nft(&ruleset) } else { portc::verify::Source::Iptables(&ruleset) };
    let roles = value("--role").map(|r| r.split(',').map(String::from).collect()).unwrap_or_default();
    let request = portc::verify::Request { roles, ..portc::verify::Request::default() };
    let root = portc::Root::File(name.to_string());
    let (mut outcome, checked) = portc::check_program(&root, &FsLoader, &[]).expect("the case loads");
    let checked = checked.expect("the case checks");
    match portc::verify::verify(&checked, &request, &[source]) {
        Ok((report, _)) => format!("verified: {:?}\n", report.status),
        Err(portc::verify::Failure::Unreadable(unreadable)) => {
            outcome.diagnostics = vec![unreadable.diagnostic(&mut outcome.sources, file, &source)];
            portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false)
        }
        Err(portc::verify::Failure::Diagnostics(diagnostics)) => {
            portc::diag::render::human(&outcome.sources, &diagnostics, false)
        }
        Err(portc::verify::Failure::Usage(message)) => format!("error: {message}\n"),
    }
}

#[test]
fn ui() {
    insta::glob!("ui/*.ports", |path| {
        let name = relative(path);
        let bytes = std::fs::read(path).expect("test file is readable");
        let source = String::from_utf8_lossy(&bytes).replace('\0', "\u{2400}");
        let rendered = render_case(&name);
        insta::assert_snapshot!(format!("--- source\n{source}\n--- diagnostics\n{rendered}"));
    });
}

#[test]
fn every_code_has_a_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/ui exists")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    for code in Code::ALL {
        let prefix = format!("{}_", code.as_str());
        let case = names.iter().find(|n| n.starts_with(&prefix));
        let Some(case) = case else { panic!("no tests/ui case for {}", code.as_str()) };
        let rendered = render_case(&format!("tests/ui/{case}"));
        assert!(
            rendered.contains(&format!("[{}]", code.as_str())),
            "tests/ui/{case} does not produce {}:\n{rendered}",
            code.as_str()
        );
    }
}

#[test]
fn every_code_is_documented() {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md"))
        .expect("docs/diagnostics.md exists");
    for code in Code::ALL {
        assert!(
            docs.contains(&format!("## {}", code.as_str())),
            "docs/diagnostics.md lacks a section for {}",
            code.as_str()
        );
    }
}

#[test]
fn codes_are_unique() {
    let mut seen = std::collections::BTreeSet::new();
    for code in Code::ALL {
        assert!(seen.insert(code.as_str()), "{} is used twice", code.as_str());
    }
}

/// Every rendered example in docs/diagnostics.md is current output: each ```text block appears
/// verbatim in a snapshot of the ui corpus.
#[test]
fn documented_outputs_match_the_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/diagnostics.md")).expect("docs/diagnostics.md exists");
    let snapshots: Vec<String> = std::fs::read_dir(root.join("tests/snapshots"))
        .expect("snapshots exist")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("ui__ui@"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    let mut blocks = 0;
    let mut rest = docs.as_str();
    while let Some(start) = rest.find("```text\n") {
        let after = &rest[start + "```text\n".len()..];
        let end = after.find("```").expect("text block is closed");
        let block = &after[..end];
        assert!(
            snapshots.iter().any(|s| s.contains(block)),
            "docs/diagnostics.md shows output that no snapshot has:\n{block}"
        );
        blocks += 1;
        rest = &after[end..];
    }
    assert!(blocks >= Code::ALL.len(), "every code shows its output");
}

/// The `ok_*` cases are near misses and constructs that must stay free of diagnostics.
#[test]
fn ok_cases_are_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    for entry in std::fs::read_dir(&dir).expect("tests/ui exists").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("ok_") && name.ends_with(".ports") {
            let rendered = render_case(&format!("tests/ui/{name}"));
            assert!(rendered.is_empty(), "tests/ui/{name} should be clean:\n{rendered}");
        }
    }
}
