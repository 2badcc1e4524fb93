//! `portc lsp` in a real editor: headless Neovim's built-in client (tests/lsp/neovim.lua) opens a
//! site file with a typo, waits for the diagnostics, asks for hover, definition, completion and
//! rename, and applies them; this test checks what the editor saw. Without `nvim` the test is
//! reported as ignored with the reason, and fails when CI (`CI` or `PORTC_REQUIRE_TOOLS=1`) is set.

#![allow(clippy::disallowed_methods)] // The test writes a site file and reads Neovim's report.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Need, Test};

fn main() -> std::process::ExitCode {
    if std::env::var_os("CI").is_some() && !support::on_path("nvim") {
        eprintln!("lsp_neovim: CI is set but `nvim` is not installed (.ci/run installs neovim)");
        return std::process::ExitCode::FAILURE;
    }
    support::run(vec![Test::new(
        "neovim_shows_diagnostics_hover_definition_completion_and_rename",
        &[Need::Tool("nvim")],
        neovim_shows_diagnostics_hover_definition_completion_and_rename,
    )])
}

/// Runs the Lua script in headless Neovim on `site`; the report it writes.
pub fn neovim_report(site: &Path, stdlib: &Path) -> Value {
    let out = site.with_extension("report.json");
    let script = support::root().join("tests/lsp/neovim.lua");
    let mut child = Command::new("nvim")
        .args(["--headless", "--clean", "-n", "-i", "NONE", "-c"])
        .arg(format!("luafile {}", script.display()))
        .env("PORTC_BIN", env!("CARGO_BIN_EXE_portc"))
        .env("PORTC_SITE", site)
        .env("PORTC_STDLIB", stdlib)
        .env("PORTC_OUT", &out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nvim starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("nvim runs").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("headless Neovim did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("Neovim wrote no report ({e})"));
    serde_json::from_str(&text).expect("the report is JSON")
}

fn neovim_shows_diagnostics_hover_definition_completion_and_rename() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let example = std::fs::read_to_string(support::root().join("examples/kubeadm-site.ports")).expect("the example");
    // A typo, so that there is a diagnostic to wait for.
    let site = root.join("site.ports");
    std::fs::write(&site, example.replace("nodes -> registry", "nodes -> registri")).expect("writable");
    let stdlib = root.join("stdlib");
    let report = neovim_report(&site, &stdlib);
    let log = report["log"].as_array().map(|l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"));
    let log = log.unwrap_or_default();
    assert!(report.get("error").is_none(), "Neovim's client failed: {}\n{log}", report["error"]);

    let codes: Vec<&str> =
        report["diagnostics"].as_array().expect("diagnostics").iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["E0101"], "{log}");

    let hover = report["hover"]["contents"]["value"].as_str().expect("a markdown hover");
    assert!(hover.contains("**param** `etcd_client_port`") && hover.contains("2379"), "{hover}");

    let jumped = &report["jumped"];
    let file = jumped["file"].as_str().expect("the file jumped to");
    assert_eq!(Path::new(file), stdlib.join("kubernetes.ports"), "{log}");
    assert!(jumped["line"].as_str().is_some_and(|l| l.starts_with("role controlplane")), "{jumped}");
    // Its mode, not a write attempt: CI runs as root, who may write anyway.
    assert_eq!(jumped["permissions"].as_str(), Some("r--r--r--"), "the stdlib copy is writable");

    let completion: Vec<&str> =
        report["completion"].as_array().expect("items").iter().filter_map(Value::as_str).collect();
    assert!(completion.contains(&"tcp") && completion.contains(&"udp"), "{completion:?}");

    let renamed: Vec<&str> = report["renamed"].as_array().expect("lines").iter().filter_map(Value::as_str).collect();
    assert!(renamed.iter().any(|l| l.starts_with("external operators =")), "{renamed:?}");
    assert!(renamed.iter().any(|l| l.starts_with("operators -> controlplane")), "{renamed:?}");
    if let Some(path) = std::env::var_os("PORTC_NEOVIM_TRANSCRIPT") {
        std::fs::write(path, format!("{log}\n")).expect("the transcript is writable");
    }
}
