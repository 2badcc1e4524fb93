//! Replays what the fuzzers found (fuzz/corpus/TARGET/), their regression inputs
//! (tests/fuzz/regressions/TARGET/) and the repository's own .ports files through the fuzz
//! targets' bodies (fuzz/bodies.rs): deterministic and fast, so every `cargo test` runs it.
//! `scripts/fuzz.sh` runs the fuzzers themselves.

#![allow(clippy::disallowed_methods)] // Tests read the repository's own files.

#[path = "../fuzz/bodies.rs"]
mod bodies;

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The inputs of a target: its corpus and regressions, for the text targets the repository's
/// .ports files, which seed the fuzzers, and fixed pseudo-random bytes.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    let mut seeds = Vec::new();
    files(&root.join("fuzz/corpus").join(target), &mut paths);
    files(&root.join("tests/fuzz/regressions").join(target), &mut paths);
    if target == "rulesets" {
        // The rulesets the verify tests load, each read as nft, iptables and ip6tables output.
        let mut found = Vec::new();
        files(&root.join("tests/verify"), &mut found);
        files(&root.join("tests/ui/rulesets"), &mut found);
        found.sort();
        for path in found.into_iter().filter(|p| p.extension().is_some_and(|e| e == "nft" || e == "rules")) {
            let text = std::fs::read(&path).expect("readable");
            for choice in 0..3u8 {
                let mut bytes = vec![choice];
                bytes.extend(&text);
                seeds.push((path.with_extension(format!("as-{choice}")), bytes));
            }
        }
    } else if target != "structured" {
        for dir in ["stdlib", "examples", "tests/ui", "tests/parser"] {
            let mut found = Vec::new();
            files(&root.join(dir), &mut found);
            paths.extend(found.into_iter().filter(|p| p.extension().is_some_and(|e| e == "ports")));
        }
    }
    paths.sort();
    let mut inputs: Vec<(PathBuf, Vec<u8>)> =
        paths.into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("readable"))).collect();
    inputs.extend(seeds);
    // A few hundred pseudo-random inputs too, the same on every run, so that a target is
    // exercised even before its corpus holds anything.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for n in 0..300 {
        let bytes: Vec<u8> = (0..(n * 7) % 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        inputs.push((PathBuf::from(format!("<pseudo-random input {n}>")), bytes));
    }
    inputs
}

/// Runs `body` on every input of `target`, naming the input that fails.
fn replay(target: &str, body: impl Fn(&[u8])) {
    let inputs = inputs(target);
    assert!(!inputs.is_empty(), "no inputs for {target}");
    for (path, bytes) in &inputs {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(bytes)));
        assert!(outcome.is_ok(), "{target} fails on {}", path.display());
    }
}

#[test]
fn check() {
    replay("check", |bytes| {
        bodies::check(bytes);
    });
}

#[test]
fn targets() {
    replay("targets", bodies::targets);
}

#[test]
fn parsers() {
    replay("parsers", bodies::parsers);
}

#[test]
fn fmt() {
    replay("fmt", bodies::fmt);
}

#[test]
fn rulesets() {
    replay("rulesets", bodies::rulesets);
}

#[test]
fn structured() {
    use arbitrary::{Arbitrary, Unstructured};
    // As libfuzzer-sys's `fuzz_target!` reads a typed input.
    replay("structured", |bytes| {
        if let Ok(program) = bodies::Program::arbitrary_take_rest(Unstructured::new(bytes)) {
            bodies::structured(&program);
        }
    });
}
