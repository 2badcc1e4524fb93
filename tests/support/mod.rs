//! Shared test helpers. The outside-tool convention lives here: a test file that needs tools
//! (`nft`, a schema validator, an editor) runs its tests through `run`, each with the `Need`s it
//! has. A test whose needs are not met is reported as **ignored**, with the reason, in the normal
//! `cargo test` summary (`test x ... ignored (`nft` is not installed ...)`), and fails instead when
//! `PORTC_REQUIRE_TOOLS=1` (set by .ci/run) demands every tool.

#![allow(dead_code)] // Each test crate uses a different subset of these helpers.

use std::path::{Path, PathBuf};

/// Something outside the repository that a test needs.
#[derive(Clone, Debug)]
pub enum Need {
    /// A program on the PATH.
    Tool(&'static str),
    /// Network administration (root: nft, network namespaces).
    NetAdmin,
    /// A path that a package manager makes (`npm ci` makes `node_modules`), and how to make it.
    Installed(PathBuf, &'static str),
}

impl Need {
    /// Why the need is not met, or `None` when it is.
    pub fn unmet(&self) -> Option<String> {
        match self {
            Need::Tool(tool) => {
                (!on_path(tool)).then(|| format!("`{tool}` is not installed; .ci/run shows how to install it"))
            }
            Need::NetAdmin => {
                let ok = std::process::Command::new("nft")
                    .args(["list", "tables"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                (!ok).then(|| "needs root for nft and network namespaces".to_string())
            }
            Need::Installed(path, how) => (!path.exists()).then(|| format!("`{}` is missing; {how}", path.display())),
        }
    }
}

/// Whether `tool` is an executable file in a directory of the PATH.
pub fn on_path(tool: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path).any(|dir| {
        let file = dir.join(tool);
        std::fs::metadata(&file).is_ok_and(|m| {
            use std::os::unix::fs::PermissionsExt as _;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        })
    })
}

/// Whether every tool must be present: CI sets `PORTC_REQUIRE_TOOLS=1`.
pub fn tools_required() -> bool {
    std::env::var("PORTC_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// The reasons the needs are not met, in one line; `None` when all are met.
pub fn unmet(needs: &[Need]) -> Option<String> {
    let tools: Vec<String> = needs
        .iter()
        .filter_map(|n| if let Need::Tool(t) = n { (!on_path(t)).then(|| format!("`{t}`")) } else { None })
        .collect();
    let mut reasons = Vec::new();
    match tools.as_slice() {
        [] => {}
        [one] => reasons.push(format!("{one} is not installed")),
        many => reasons.push(format!("{} are not installed", many.join(", "))),
    }
    reasons.extend(needs.iter().filter(|n| !matches!(n, Need::Tool(_))).filter_map(Need::unmet));
    (!reasons.is_empty()).then(|| format!("{} (.ci/run installs what the tests need)", reasons.join("; ")))
}

/// One test of a file that runs through `run`.
pub struct Test {
    pub name: &'static str,
    pub needs: Vec<Need>,
    pub run: fn(),
}

impl Test {
    pub fn new(name: &'static str, needs: &[Need], run: fn()) -> Test {
        Test { name, needs: needs.to_vec(), run }
    }
}

/// The test harness of a file whose tests need outside tools (`harness = false` in Cargo.toml):
/// a test with unmet needs is ignored with its reason, or fails under `PORTC_REQUIRE_TOOLS=1`.
pub fn run(tests: Vec<Test>) -> std::process::ExitCode {
    run_with_threads(tests, 0)
}

/// `run`, with `threads` tests at a time unless `--test-threads` says otherwise (0: one per core),
/// for tests that mostly wait.
pub fn run_with_threads(tests: Vec<Test>, threads: usize) -> std::process::ExitCode {
    let mut args = libtest_mimic::Arguments::from_args();
    if args.test_threads.is_none() && threads > 0 {
        args.test_threads = Some(threads);
    }
    let trials = tests
        .into_iter()
        .map(|test| {
            libtest_mimic::Trial::ignorable_test(test.name, move || {
                if let Some(reason) = unmet(&test.needs) {
                    if tools_required() {
                        return Err(format!("required by PORTC_REQUIRE_TOOLS=1 but unmet: {reason}").into());
                    }
                    return Ok(libtest_mimic::Completion::ignored_with(reason));
                }
                (test.run)();
                Ok(libtest_mimic::Completion::Completed)
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `target` builds anything for a program: its lowerer's precondition holds.
pub fn target_applies(target: portc::Target, root: &portc::Root, loader: &dyn portc::SourceLoader) -> bool {
    let mut map = portc::diag::SourceMap::default();
    let (program, _) = portc::resolve::resolve(root, loader, "", &mut map).expect("loads");
    portc::lower::lowerer(target).precondition(&program).is_ok()
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

/// A program a target's tests build, and its name in messages.
pub struct Case {
    pub name: String,
    pub root: portc::Root,
    pub loader: Box<dyn portc::SourceLoader>,
    pub settings: Vec<String>,
}

impl Case {
    /// The case built for `target`; fails the test, naming the case, when it builds nothing.
    pub fn compile(&self, target: portc::Target, egress: bool, allow_lossy: bool) -> portc::Outcome {
        let options = portc::Options {
            target: Some(target),
            egress,
            allow_lossy,
            settings: self.settings.clone(),
            ..portc::Options::default()
        };
        let outcome = portc::compile(&self.root, self.loader.as_ref(), &options)
            .unwrap_or_else(|e| panic!("{}: {}", self.name, e.0));
        let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
        assert!(outcome.output.is_some(), "{} (egress {egress}): nothing built:\n{rendered}", self.name);
        outcome
    }
}

/// Every example `target` applies to, and a site for every stdlib module it applies to, the
/// site adding `more(module, node)` for each node of the module (as `stdlib_site` does).
pub fn target_cases(target: portc::Target, more: impl Fn(&str, &portc::hir::Node) -> String) -> Vec<Case> {
    let mut cases = Vec::new();
    for example in examples() {
        let root = portc::Root::File(example.clone());
        if target_applies(target, &root, &portc::FsLoader) {
            cases.push(Case { name: example, root, loader: Box::new(portc::FsLoader), settings: Vec::new() });
        }
    }
    for module in portc::stdlib::modules() {
        let (loader, settings) = stdlib_site(module.name, |node| more(module.name, node));
        let root = portc::Root::File("site.ports".into());
        if target_applies(target, &root, &loader) {
            let name = format!("a site using {}", module.name);
            cases.push(Case { name, root, loader: Box::new(loader), settings });
        }
    }
    assert!(cases.len() > 30, "only {} cases", cases.len());
    cases
}
