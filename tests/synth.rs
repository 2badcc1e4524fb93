//! The synthetic programs of `portc-synth` and the benches: deterministic, free of errors and
//! warnings, and accepted by every target, so that a benchmark measures whole runs.

mod support;

use portc::synth::{Options as SynthOptions, generate};
use portc::{MemoryLoader, Options, Root, Target};

const PATH: &str = "synth.ports";

fn loader(text: &str) -> MemoryLoader {
    let mut loader = MemoryLoader::default();
    loader.files.insert(PATH.to_string(), text.as_bytes().to_vec());
    loader
}

fn compile(loader: &MemoryLoader, target: Option<Target>, roles: &[String]) -> portc::Outcome {
    // The programs have ICMP and node-local flows, which the Kubernetes targets leave out.
    let options = Options { target, roles: roles.to_vec(), allow_lossy: true, ..Options::default() };
    portc::compile(&Root::File(PATH.to_string()), loader, &options).expect("the root loads")
}

fn rendered(outcome: &portc::Outcome) -> String {
    portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false)
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let options = SynthOptions::for_flows(300, 7);
    assert_eq!(generate(&options), generate(&options));
    assert_ne!(generate(&options), generate(&SynthOptions { seed: 8, ..options }));
}

#[test]
fn a_generated_program_checks_clean_and_builds_every_target() {
    let options = SynthOptions::for_flows(200, 1);
    let text = generate(&options);
    let flows = text.lines().filter(|l| l.contains(" -> ") && !l.starts_with("never")).count();
    assert!(flows > 50, "too few flow statements:\n{text}");
    let loader = loader(&text);
    let checked = compile(&loader, None, &[]);
    assert!(checked.diagnostics.is_empty(), "diagnostics on a generated program:\n{}", rendered(&checked));
    for &target in Target::ALL.iter().filter(|t| !t.per_host()) {
        let outcome = compile(&loader, Some(target), &[]);
        assert!(outcome.output.is_some(), "no {} output:\n{}", target.name(), rendered(&outcome));
    }
    for role in support::host_roles(&Root::File(PATH.to_string()), &loader, &[]).iter().take(5) {
        let outcome = compile(&loader, Some(Target::Nftables), std::slice::from_ref(role));
        assert!(outcome.diagnostics.is_empty(), "{role}:\n{}", rendered(&outcome));
        let ruleset = outcome.output.expect("a ruleset");
        if support::unmet(&[support::Need::Tool("nft"), support::Need::NetAdmin]).is_none() {
            support::nft_check(&ruleset).unwrap_or_else(|e| panic!("nft refuses the ruleset of {role}:\n{e}"));
        }
    }
}

#[test]
fn every_flow_counts() {
    // Flows are counted as the language counts them: one per spec.
    let text = generate(&SynthOptions::for_flows(500, 3));
    let mut map = portc::diag::SourceMap::default();
    let (program, diagnostics) =
        portc::resolve::resolve(&Root::File(PATH.to_string()), &loader(&text), "", &mut map).expect("loads");
    assert!(diagnostics.is_empty());
    assert_eq!(program.flows.len(), 500);
}

/// `portc-synth`, the example `cargo test` builds beside the tests (target/PROFILE/examples/);
/// built here when only this test file was asked for.
fn synth_binary() -> std::path::PathBuf {
    let me = std::env::current_exe().expect("this test binary");
    let profile = me.parent().and_then(std::path::Path::parent).expect("target/PROFILE/deps/");
    let binary = profile.join("examples").join("portc-synth");
    if !binary.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "--quiet", "--example", "portc-synth"]).current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        assert!(build.status().is_ok_and(|s| s.success()), "cargo build --example portc-synth");
    }
    binary
}

#[test]
fn the_binary_prints_the_library_program() {
    let run = || {
        std::process::Command::new(synth_binary())
            .args(["--flows", "250", "--roles", "30", "--seed", "5"])
            .output()
            .expect("portc-synth runs")
    };
    let (first, second) = (run(), run());
    assert!(first.status.success());
    assert_eq!(first.stdout, second.stdout);
    let options = SynthOptions { roles: 30, ..SynthOptions::for_flows(250, 5) };
    assert_eq!(String::from_utf8_lossy(&first.stdout), generate(&options));
}
