//! portc: a compiler for port-requirement policies.
//!
//! `compile` runs the pipeline: syntax -> resolve -> graph -> check -> lower.
//! ARCHITECTURE.md describes the stages and the invariants between them.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod analysis;
pub mod ast;
pub mod check;
pub mod diag;
pub mod diff;
pub mod explain;
pub mod fmt;
pub mod git;
pub mod graph;
pub mod hir;
pub mod lower;
pub mod lsp;
pub mod paths;
pub mod protocol;
pub mod resolve;
pub mod span;
pub mod stdlib;
pub mod summary;
pub mod syntax;
pub mod synth;
pub mod verify;

use diag::{Diagnostic, SourceMap};
pub use lower::Target;
pub use resolve::{LoadError, Root, RootError, SourceLoader};

/// What a compilation should do beyond checking.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The output to produce; `None` only checks.
    pub target: Option<Target>,
    /// `name=value` settings from the command line; they override the files' `set`s.
    pub settings: Vec<String>,
    /// Role names and switches for targets that build per host (`nftables`).
    pub roles: Vec<String>,
    pub egress: bool,
    pub allow_lockout: bool,
    /// For the Kubernetes targets and aws: leave out what the target cannot express, with a
    /// warning; for firewalld: build a zone wider than the flows, with a warning.
    pub allow_lossy: bool,
}

/// Everything a compilation produced: the files it read, its diagnostics (sorted) and,
/// when no error was found, the output.
#[derive(Debug)]
pub struct Outcome {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    /// The whole output: the documents, concatenated.
    pub output: Option<String>,
    /// The output in parts: one manifest per policy for the Kubernetes targets, else one part.
    pub documents: Vec<lower::Document>,
}

impl Outcome {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Compiles the program rooted at `root`. A statement with an error is reported and left out, and
/// the rest is checked, without reporting what follows from the error; output is produced only
/// when nothing is an error.
pub fn compile(root: &Root, loader: &dyn SourceLoader, options: &Options) -> Result<Outcome, RootError> {
    compile_keeping(root, loader, options).map(|(outcome, _)| outcome)
}

/// `compile`, also handing back the checked program (`None` when a stage reported an error), for a
/// caller that queries it further, or that is about to exit and need not free it.
pub fn compile_keeping(
    root: &Root,
    loader: &dyn SourceLoader,
    options: &Options,
) -> Result<(Outcome, Option<check::Checked>), RootError> {
    let mut memory = lower::Memory::default();
    let (mut outcome, checked, written) = compile_writing(root, loader, options, &mut memory)?;
    if written {
        let documents = memory.into_documents();
        outcome.output = Some(documents.iter().map(|d| d.text.as_str()).collect());
        outcome.documents = documents;
    }
    Ok((outcome, checked))
}

/// `compile_keeping` with the target writing into `sink` as it makes its output, so the output
/// need not be held in memory whole (the outcome has none). The sink holds a whole output only
/// when the outcome has no error.
pub fn compile_into(
    root: &Root,
    loader: &dyn SourceLoader,
    options: &Options,
    sink: &mut dyn lower::Sink,
) -> Result<(Outcome, Option<check::Checked>), RootError> {
    compile_writing(root, loader, options, sink).map(|(outcome, checked, _)| (outcome, checked))
}

/// `compile_into`, also telling whether the target wrote its output.
fn compile_writing(
    root: &Root,
    loader: &dyn SourceLoader,
    options: &Options,
    sink: &mut dyn lower::Sink,
) -> Result<(Outcome, Option<check::Checked>, bool), RootError> {
    if let Some(target) = options.target.filter(|t| t.per_host() && options.roles.is_empty()) {
        return Err(RootError(format!("the {} target builds one host's output: name its role(s)", target.name())));
    }
    let (mut outcome, checked) = check_program(root, loader, &options.settings)?;
    let mut written = false;
    if let (Some(target), Some(checked), false) = (options.target, checked.as_ref(), outcome.has_errors()) {
        match write_checked(checked, target, options, sink)? {
            Ok(mut found) => {
                written = true;
                outcome.diagnostics.append(&mut found);
            }
            Err(mut found) => outcome.diagnostics.append(&mut found),
        }
        diag::sort(&mut outcome.diagnostics);
    }
    Ok((outcome, checked, written))
}

/// `check` for a target: the checks, then everything a build for the target would refuse or warn
/// about, in one run and without output. A target that builds per host is built for the roles
/// named, or else for every host role (`host_roles`), and each diagnostic is reported once.
pub fn check_for_target(root: &Root, loader: &dyn SourceLoader, options: &Options) -> Result<Outcome, RootError> {
    let (mut outcome, checked) = check_program(root, loader, &options.settings)?;
    let (Some(target), Some(checked), false) = (options.target, checked.as_ref(), outcome.has_errors()) else {
        return Ok(outcome);
    };
    let builds: Vec<Vec<String>> = match (target.per_host(), options.roles.is_empty()) {
        (true, true) => host_roles(checked).into_iter().map(|r| vec![r]).collect(),
        _ => vec![options.roles.clone()],
    };
    for roles in builds {
        let options = Options { roles, ..options.clone() };
        // Written to nowhere: only the diagnostics count here.
        let mut found = match write_checked(checked, target, &options, &mut lower::Discard::default())? {
            Ok(warnings) => warnings,
            Err(errors) => errors,
        };
        found.retain(|d| !outcome.diagnostics.contains(d));
        outcome.diagnostics.append(&mut found);
    }
    diag::sort(&mut outcome.diagnostics);
    Ok(outcome)
}

/// Every role that gets a host firewall: a role (never an external) that takes part in a flow of
/// the build and is not bound to pods, which makes it a workload. By name, sorted.
pub fn host_roles(checked: &check::Checked) -> Vec<String> {
    let graph = checked.graph();
    let program = &graph.program;
    let names = program.node_names();
    let mut active = vec![false; program.nodes.len()];
    for edge in graph.edges.iter().filter(|e| e.built()) {
        for node in [edge.from, edge.to] {
            if let Some(slot) = active.get_mut(node.index()) {
                *slot = true;
            }
        }
    }
    let mut roles: Vec<String> = program
        .nodes
        .iter()
        .zip(&names)
        .zip(&active)
        .filter(|((n, _), active)| {
            **active
                && n.kind == hir::NodeKind::Role
                && n.selector.as_ref().is_none_or(|s| s.kind != ast::SelectorKind::Pods)
        })
        .map(|((_, name), _)| name.clone())
        .collect();
    roles.sort();
    roles
}

/// Lowers a checked program for a target: `Err` when the request itself is wrong (an unknown
/// role, nothing to build for the target), else the target's own result.
fn lower_checked(checked: &check::Checked, target: Target, options: &Options) -> Result<lower::Lowered, RootError> {
    let (lowerer, target_options) = lowerer_for(checked, target, options)?;
    Ok(lowerer.lower(checked, &target_options))
}

/// `lower_checked` into a sink: `Ok` carries the target's warnings once its output is in the
/// sink, `Err` its errors; a sink that cannot be written is an `Err` of its own.
fn write_checked(
    checked: &check::Checked,
    target: Target,
    options: &Options,
    sink: &mut dyn lower::Sink,
) -> Result<Result<Vec<Diagnostic>, Vec<Diagnostic>>, RootError> {
    let (lowerer, target_options) = lowerer_for(checked, target, options)?;
    match lowerer.write(checked, &target_options, sink) {
        Ok(warnings) => Ok(Ok(warnings)),
        Err(lower::Failed::Errors(errors)) => Ok(Err(errors)),
        Err(lower::Failed::Io(error)) => Err(RootError(error.to_string())),
    }
}

/// The target's lowerer and options for a build: `Err` when the request itself is wrong.
fn lowerer_for(
    checked: &check::Checked,
    target: Target,
    options: &Options,
) -> Result<(Box<dyn lower::Lower>, lower::TargetOptions), RootError> {
    let program = &checked.graph().program;
    let mut roles = Vec::new();
    for name in &options.roles {
        for node in program.nodes_named(name).map_err(RootError)? {
            // A host firewall is for hosts the policy controls, never for an external.
            if program.nodes.get(node.index()).is_some_and(|n| n.kind != hir::NodeKind::Role) {
                return Err(RootError(format!("`{name}` is an external, not a role: it has no host firewall")));
            }
            roles.push(node);
        }
    }
    let lowerer = lower::lowerer(target);
    lowerer.precondition(program).map_err(RootError)?;
    let target_options = lower::TargetOptions {
        roles,
        egress: options.egress,
        allow_lockout: options.allow_lockout,
        allow_lossy: options.allow_lossy,
    };
    Ok((lowerer, target_options))
}

/// A per-host target built for one host role, from a program compiled once for all of them.
#[derive(Debug)]
pub struct HostBuild {
    pub role: String,
    /// `Ok` carries the documents and warnings, `Err` the errors, as `Lower::lower` does.
    pub result: lower::Lowered,
}

/// Builds a per-host target for every host role (`host_roles`) of a program compiled once; hands
/// each role's result to `each` as it is made, so that a caller can write it out before the next
/// is built and memory stays flat in the number of roles. `Ok(None)` with the outcome when a
/// stage before the target reported an error.
pub fn compile_every_host(
    root: &Root,
    loader: &dyn SourceLoader,
    options: &Options,
    mut each: impl FnMut(HostBuild) -> Result<(), RootError>,
) -> Result<Outcome, RootError> {
    let (mut outcome, checked) = check_program(root, loader, &options.settings)?;
    let (Some(target), Some(checked), false) = (options.target, checked.as_ref(), outcome.has_errors()) else {
        return Ok(outcome);
    };
    let roles = host_roles(checked);
    if roles.is_empty() {
        return Err(RootError(format!(
            "no role that a flow names is a host (every such role is bound to pods), so there is no {} firewall to build",
            target.name()
        )));
    }
    for role in roles {
        let options = Options { roles: vec![role.clone()], ..options.clone() };
        let result = lower_checked(checked, target, &options)?;
        let found = match &result {
            Ok((_, warnings)) => warnings,
            Err(errors) => errors,
        };
        outcome
            .diagnostics
            .extend(found.iter().filter(|d| !outcome.diagnostics.contains(d)).cloned().collect::<Vec<_>>());
        each(HostBuild { role, result })?;
    }
    diag::sort(&mut outcome.diagnostics);
    Ok(outcome)
}

/// Compiles and checks `root` and returns the checked program for queries such as `explain`;
/// `None` in the outcome's place when a stage reported an error.
pub fn check_program(
    root: &Root,
    loader: &dyn SourceLoader,
    settings: &[String],
) -> Result<(Outcome, Option<check::Checked>), RootError> {
    let mut sources = SourceMap::default();
    let overrides: String = settings.iter().map(|s| setting_statement(s)).collect();
    let (program, mut diagnostics) = resolve::resolve(root, loader, &overrides, &mut sources)?;
    let checked = check_resolved(program, &mut diagnostics);
    diag::sort(&mut diagnostics);
    Ok((Outcome { sources, diagnostics, output: None, documents: Vec::new() }, checked))
}

/// The stages after `resolve`, adding what they report to `diagnostics`: the checked program, or
/// `None` when any stage reported an error. They run on what resolved even after errors, which
/// resolve left out quietly (ARCHITECTURE.md, "Partial results").
fn check_resolved(program: hir::Program, diagnostics: &mut Vec<Diagnostic>) -> Option<check::Checked> {
    let result = check_always(program, diagnostics);
    (!diagnostics.iter().any(Diagnostic::is_error)).then_some(result)
}

/// `check_resolved`, keeping the checked graph even after errors, for tools that look at what
/// resolved (`analysis`); targets never see it then.
fn check_always(program: hir::Program, diagnostics: &mut Vec<Diagnostic>) -> check::Checked {
    let (graph, mut found) = graph::build(program);
    diagnostics.append(&mut found);
    let (result, mut found) = check::check(graph);
    diagnostics.append(&mut found);
    result
}

/// `name=value` as a `set` statement of the command-line pseudo-file.
fn setting_statement(setting: &str) -> String {
    match setting.split_once('=') {
        Some((name, value)) => format!("set {} = {}\n", name.trim(), value.trim()),
        None => format!("set {setting}\n"),
    }
}

/// Reads source files from the file system; the only place the library touches files.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsLoader;

impl SourceLoader for FsLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        if std::path::Path::new(path).is_dir() {
            return Err(LoadError::IsDirectory);
        }
        #[allow(clippy::disallowed_methods)] // The one place the library reads files.
        std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LoadError::NotFound,
            std::io::ErrorKind::IsADirectory => LoadError::IsDirectory,
            _ => LoadError::Other(e.to_string()),
        })
    }

    fn identity(&self, path: &str) -> String {
        std::fs::canonicalize(path).map_or_else(|_| path.to_string(), |p| p.to_string_lossy().into_owned())
    }
}

/// A loader over in-memory files, for tests and tools that hold sources themselves.
#[derive(Clone, Debug, Default)]
pub struct MemoryLoader {
    pub files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl SourceLoader for MemoryLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        self.files.get(path).cloned().ok_or(LoadError::NotFound)
    }
}

/// Checks a file and renders its diagnostics without colour; used by the snapshot tests.
pub fn check_and_render_plain(path: &str, loader: &dyn SourceLoader) -> String {
    match compile(&Root::File(path.to_string()), loader, &Options::default()) {
        Ok(outcome) => diag::render::human(&outcome.sources, &outcome.diagnostics, false),
        Err(RootError(message)) => format!("error: {message}\n"),
    }
}
