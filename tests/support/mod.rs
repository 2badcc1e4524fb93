//! Shared test helpers. The outside-tool convention lives here: a test that needs a tool
//! (`nft`, a schema validator, an editor) calls `tool_available`, which skips loudly on a developer
//! machine without it and fails when `PORTC_REQUIRE_TOOLS=1` (set by .ci/run) demands every tool.

#![allow(dead_code)] // Each test crate uses a different subset of these helpers.

/// Whether `tool` can run; prints a loud skip message when it cannot.
/// Panics when it cannot and `PORTC_REQUIRE_TOOLS=1`, so CI never skips silently.
pub fn tool_available(tool: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if found {
        return true;
    }
    if std::env::var("PORTC_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!("`{tool}` is required (PORTC_REQUIRE_TOOLS=1) but cannot run; .ci/run should install it");
    }
    eprintln!("\n*** SKIPPED: `{tool}` is not installed; install it (see .ci/run) to run this test ***\n");
    false
}

/// Whether the tests may use network administration (nft, network namespaces): root is needed.
/// Skips loudly, or panics under `PORTC_REQUIRE_TOOLS=1`, like `tool_available`.
pub fn net_admin_available() -> bool {
    let ok = std::process::Command::new("nft")
        .args(["list", "tables"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    if std::env::var("PORTC_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!("network administration (root, nft) is required (PORTC_REQUIRE_TOOLS=1) but not available");
    }
    eprintln!("\n*** SKIPPED: `nft list tables` fails (not root?); run as root to test the nftables target ***\n");
    false
}

/// The shipped examples, `examples/NAME.ports`, sorted.
pub fn examples() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    #[allow(clippy::disallowed_methods)] // Listing the repository's own examples.
    let entries = std::fs::read_dir(dir).expect("examples/ exists");
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| format!("examples/{}", e.file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".ports"))
        .collect();
    names.sort();
    names
}

/// Every role that takes part in a flow of the build, by name.
pub fn active_roles(root: &portc::Root, loader: &dyn portc::SourceLoader, settings: &[String]) -> Vec<String> {
    let (outcome, checked) = portc::check_program(root, loader, settings).expect("root loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    let checked = checked.unwrap_or_else(|| panic!("{root:?}:\n{rendered}"));
    let graph = checked.graph();
    let names = graph.program.node_names();
    let mut roles: Vec<String> = graph
        .edges
        .iter()
        .filter(|e| e.built())
        .flat_map(|e| [e.from, e.to])
        .filter(|n| graph.program.nodes.get(n.index()).is_some_and(|n| n.kind == portc::hir::NodeKind::Role))
        .filter_map(|n| names.get(n.index()).cloned())
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// `NAME=PORT` settings that give every param without a value its own placeholder port, as a
/// site would (distinct, so that two params never coincide by accident).
pub fn placeholder_params(program: &portc::hir::Program) -> Vec<String> {
    let unset = program.params.iter().zip(&program.config.params).filter(|(_, value)| value.is_none());
    unset.enumerate().map(|(i, (param, _))| format!("{}={}", param.name, 60001 + i)).collect()
}

/// `nft -c -f -` on the text; the error output when it refuses.
pub fn nft_check(text: &str) -> Result<(), String> {
    let mut child = std::process::Command::new("nft")
        .args(["-c", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    use std::io::Write as _;
    child.stdin.take().ok_or("no stdin")?.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
}
