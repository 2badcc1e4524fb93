//! Shared test helpers. The outside-tool convention lives here: a test that needs a tool
//! (`nft`, a schema validator, an editor) calls `tool_available` (or `installed`, for what a package
//! manager puts in the tree), which skips loudly on a developer machine without it and fails when
//! `PORTC_REQUIRE_TOOLS=1` (set by .ci/run) demands every tool.

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

/// Whether `path` exists, for what a package manager installs (`npm ci` makes `node_modules`); `how`
/// says how to install it. Skips loudly, or panics under `PORTC_REQUIRE_TOOLS=1`, like `tool_available`.
pub fn installed(path: &std::path::Path, how: &str) -> bool {
    if path.exists() {
        return true;
    }
    if std::env::var("PORTC_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!("`{}` is required (PORTC_REQUIRE_TOOLS=1) but missing; {how}", path.display());
    }
    eprintln!("\n*** SKIPPED: `{}` is missing; {how} to run this test ***\n", path.display());
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

/// Every host role that takes part in a flow of the build, by name: a role bound to pods is a
/// workload, which gets NetworkPolicies, not a host firewall.
pub fn host_roles(root: &portc::Root, loader: &dyn portc::SourceLoader, settings: &[String]) -> Vec<String> {
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
        .filter(|n| {
            graph.program.nodes.get(n.index()).is_some_and(|n| {
                n.kind == portc::hir::NodeKind::Role
                    && n.selector.as_ref().is_none_or(|s| s.kind != portc::ast::SelectorKind::Pods)
            })
        })
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

/// A site that uses a stdlib module and settles everything it leaves open: every node without
/// addresses gets its own test prefix, `more` adds lines per node (binds of its own), every
/// undecided flag is false and every undecided option takes its first choice. The settings give
/// every unset param a placeholder port.
pub fn stdlib_site(module: &str, more: impl Fn(&portc::hir::Node) -> String) -> (portc::MemoryLoader, Vec<String>) {
    let root = portc::Root::Module(module.to_string());
    let mut map = portc::diag::SourceMap::default();
    let (program, _) = portc::resolve::resolve(&root, &portc::FsLoader, "", &mut map).expect("loads");
    let mut site = format!("use {module}\n");
    let mut third = 0u32;
    for node in &program.nodes {
        if node.addresses.is_empty() {
            third += 1;
            site.push_str(&format!("bind {module}.{} = 10.{}.{}.0/24\n", node.name, 200 + third / 256, third % 256));
        }
        site.push_str(&more(node));
    }
    for (flag, value) in program.flags.iter().zip(&program.config.flags) {
        if value.is_none() {
            site.push_str(&format!("set {module}.{} = false\n", flag.name));
        }
    }
    for (option, value) in program.options.iter().zip(&program.config.options) {
        if let (None, Some(first)) = (value, option.choices.first()) {
            site.push_str(&format!("set {module}.{} = {first}\n", option.name));
        }
    }
    let mut loader = portc::MemoryLoader::default();
    loader.files.insert("site.ports".into(), site.into_bytes());
    (loader, placeholder_params(&program))
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
