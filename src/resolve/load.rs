//! Loads the root module and, transitively, every module it `use`s; finds `use` cycles.

use std::collections::{BTreeMap, VecDeque};

use super::{LoadError, Root, RootError, SourceLoader};
use crate::ast::{self, Item, UseTarget};
use crate::diag::{Code, Diagnostic, SourceMap};
use crate::span::{FileId, Span};
use crate::{stdlib, syntax};

/// A parsed module and the modules it uses.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The display path, which is also the path handed to the loader for local files.
    pub path: String,
    /// For stdlib modules, the path under stdlib/ (to resolve relative `use`s inside the stdlib).
    pub stdlib_path: Option<String>,
    /// Every item; but the flows and `never`s when they are deferred (`Flows`).
    pub ast: ast::File,
    /// When flows are deferred, where each flow and `never` statement starts, in order: they are
    /// parsed again one at a time when they are resolved (`syntax::parse_deferring_flows` says why).
    pub flows: Vec<u32>,
    pub uses: Vec<Use>,
}

/// One `use` statement whose target was found.
#[derive(Clone, Debug)]
pub struct Use {
    pub target: usize,
    pub decl: ast::UseDecl,
    /// The edge closes a cycle; it is reported and ignored for scopes.
    pub cyclic: bool,
}

/// How a module's flows are parsed when it is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flows {
    /// Only where each starts (`Loaded::flows`); the resolver parses each again, one at a time.
    Deferred,
    /// Whole, in `Loaded::ast` with the other items, for tools that look at every statement.
    Kept,
}

/// Loads every module reachable from the root. Index 0 is the root.
pub fn load_all(
    root: &Root,
    loader: &dyn SourceLoader,
    map: &mut SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
    flows: Flows,
) -> Result<Vec<Loaded>, RootError> {
    let root = load_root(root, loader, map, diagnostics, flows)?;
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    index.insert(key_of(&root, loader), 0);
    let mut modules = vec![root];
    let mut queue = VecDeque::from([0usize]);
    while let Some(current) = queue.pop_front() {
        let decls: Vec<ast::UseDecl> = modules
            .get(current)
            .map(|m| {
                m.ast.items.iter().filter_map(|i| if let Item::Use(u) = i { Some(u.clone()) } else { None }).collect()
            })
            .unwrap_or_default();
        for decl in decls {
            let Some(importer) = modules.get(current) else {
                continue;
            };
            let Some((key, request)) = locate(importer, &decl, loader, diagnostics) else {
                continue;
            };
            let target = match index.get(&key) {
                Some(&target) => target,
                None => {
                    let Some(module) = fetch(request, &decl, loader, map, diagnostics, flows) else {
                        continue;
                    };
                    modules.push(module);
                    let target = modules.len() - 1;
                    index.insert(key, target);
                    queue.push_back(target);
                    target
                }
            };
            if let Some(importer) = modules.get_mut(current) {
                importer.uses.push(Use { target, decl, cyclic: false });
            }
        }
    }
    mark_cycles(&mut modules, diagnostics);
    Ok(modules)
}

/// Where a `use` points: a stdlib module or a file.
enum Request {
    Stdlib(stdlib::StdModule),
    File(String),
}

/// What identifies a module: its stdlib path, or the loader's identity for its file.
fn key_of(module: &Loaded, loader: &dyn SourceLoader) -> String {
    match &module.stdlib_path {
        Some(p) => format!("std:{p}"),
        None => format!("file:{}", loader.identity(&module.path)),
    }
}

fn load_root(
    root: &Root,
    loader: &dyn SourceLoader,
    map: &mut SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
    flows: Flows,
) -> Result<Loaded, RootError> {
    match root {
        Root::Module(name) => match stdlib::get(name) {
            Some(module) => Ok(parse_stdlib(module, map, diagnostics, flows)),
            None => {
                let hint = crate::diag::suggest(name, stdlib::modules().map(|m| m.name))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                Err(RootError(format!("no stdlib module `{name}`{hint} (`portc stdlib list` shows them)")))
            }
        },
        Root::File(path) => match read(loader, path) {
            Ok(bytes) => Ok(parse_bytes(path.clone(), bytes, map, diagnostics, flows)),
            Err(LoadError::NotFound) => Err(RootError(format!("cannot read `{path}`: no such file"))),
            Err(LoadError::IsDirectory) => Err(RootError(format!("cannot read `{path}`: it is a directory"))),
            Err(LoadError::Other(why)) => Err(RootError(format!("cannot read `{path}`: {why}"))),
        },
    }
}

/// Reads a source file through the loader, refusing one above 4 GiB: spans and offsets are `u32`.
fn read(loader: &dyn SourceLoader, path: &str) -> Result<Vec<u8>, LoadError> {
    let bytes = loader.read(path)?;
    if u32::try_from(bytes.len()).is_err() {
        return Err(LoadError::Other("it is larger than 4 GiB, the most a source file may be".into()));
    }
    Ok(bytes)
}

fn locate(
    importer: &Loaded,
    decl: &ast::UseDecl,
    loader: &dyn SourceLoader,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(String, Request)> {
    match &decl.target {
        UseTarget::Stdlib(path) => {
            let name = path.text();
            match stdlib::get(&name) {
                Some(module) => Some((format!("std:{}", module.relative), Request::Stdlib(module))),
                None => {
                    let d = Diagnostic::new(Code::UnknownModule, format!("no stdlib module `{name}`"), path.span, "not in the stdlib")
                        .with_suggestion(&name, stdlib::modules().map(|m| m.name))
                        .with_note("`portc stdlib list` shows the stdlib; a local file is used by its path: `use \"./file.ports\"`");
                    diagnostics.push(d);
                    None
                }
            }
        }
        UseTarget::File(text) => {
            if !text.value.ends_with(".ports") {
                diagnostics.push(
                    Diagnostic::new(
                        Code::NotPortsFile,
                        format!("`{}` is not a .ports file", text.value),
                        text.span,
                        "not a .ports file",
                    )
                    .with_help("`use` takes .ports files only"),
                );
                return None;
            }
            match &importer.stdlib_path {
                Some(base) => {
                    let relative = join(base, &text.value);
                    match stdlib::modules().find(|m| m.relative == relative) {
                        Some(module) => Some((format!("std:{}", module.relative), Request::Stdlib(module))),
                        None => {
                            diagnostics.push(not_found(text, &relative));
                            None
                        }
                    }
                }
                None => {
                    let path = join(&importer.path, &text.value);
                    Some((format!("file:{}", loader.identity(&path)), Request::File(path)))
                }
            }
        }
    }
}

fn fetch(
    request: Request,
    decl: &ast::UseDecl,
    loader: &dyn SourceLoader,
    map: &mut SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
    flows: Flows,
) -> Option<Loaded> {
    let path = match request {
        Request::Stdlib(module) => return Some(parse_stdlib(module, map, diagnostics, flows)),
        Request::File(path) => path,
    };
    let (span, written) = match &decl.target {
        UseTarget::File(text) => (text.span, text.value.clone()),
        UseTarget::Stdlib(p) => (p.span, p.text()),
    };
    let error = match read(loader, &path) {
        Ok(bytes) => return Some(parse_bytes(path, bytes, map, diagnostics, flows)),
        Err(error) => error,
    };
    let d = match error {
        LoadError::NotFound => match &decl.target {
            UseTarget::File(text) => not_found(text, &path),
            // Only a `use` of a file makes a `Request::File` (above); a stdlib name makes `Request::Stdlib` or an error.
            UseTarget::Stdlib(_) => unreachable!("stdlib modules are not read from disk"),
        },
        LoadError::IsDirectory => {
            Diagnostic::new(Code::NotPortsFile, format!("`{written}` is a directory"), span, "a directory")
                .with_note(format!("resolved to `{path}`"))
                .with_help("`use` takes one .ports file")
        }
        LoadError::Other(why) => {
            Diagnostic::new(Code::UnreadableFile, format!("cannot read `{written}`"), span, "cannot be read")
                .with_note(format!("reading `{path}` failed: {why}"))
                .with_help("check that the path and every directory on it exist and are readable")
        }
    };
    diagnostics.push(d);
    None
}

fn not_found(text: &ast::Text, resolved: &str) -> Diagnostic {
    Diagnostic::new(Code::FileNotFound, format!("no file `{}`", text.value), text.span, "file not found")
        .with_note(format!("looked for `{resolved}`; paths are relative to the file that has the `use`"))
}

fn parse_stdlib(
    module: stdlib::StdModule,
    map: &mut SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
    flows: Flows,
) -> Loaded {
    let file = map.add(module.display_path(), module.text);
    let (ast, starts) = parse(file, module.text, diagnostics, flows);
    Loaded {
        path: module.display_path(),
        stdlib_path: Some(module.relative.to_string()),
        ast,
        flows: starts,
        uses: Vec::new(),
    }
}

fn parse_bytes(
    path: String,
    bytes: Vec<u8>,
    map: &mut SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
    flows: Flows,
) -> Loaded {
    let (ast, flows) = match syntax::decode(bytes) {
        Ok(text) => {
            let file = map.add(path.clone(), text);
            parse(file, map.text(file), diagnostics, flows)
        }
        Err(error) => {
            let file = map.add(path.clone(), error.lossy.clone());
            diagnostics.push(error.diagnostic(file));
            (ast::File { items: Vec::new(), broken: Vec::new(), span: Span::new(file, 0, 0) }, Vec::new())
        }
    };
    Loaded { path, stdlib_path: None, ast, flows, uses: Vec::new() }
}

/// A module's syntax tree and, when flows are deferred, where each flow starts.
fn parse(file: FileId, text: &str, diagnostics: &mut Vec<Diagnostic>, flows: Flows) -> (ast::File, Vec<u32>) {
    match flows {
        Flows::Deferred => {
            let mut parsed = syntax::parse_deferring_flows(file, text);
            diagnostics.append(&mut parsed.diagnostics);
            (parsed.file, parsed.flows)
        }
        Flows::Kept => {
            let (parsed, mut found) = syntax::parse(file, text);
            diagnostics.append(&mut found);
            (parsed, Vec::new())
        }
    }
}

/// Joins a relative path to the directory of `base`, lexically (no file system access).
fn join(base: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let absolute = relative.starts_with('/') || (base.starts_with('/') && !relative.starts_with('/'));
    if !relative.starts_with('/') {
        parts.extend(base.split('/'));
        parts.pop();
    }
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| !p.is_empty() && *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.retain(|p| !p.is_empty() && *p != ".");
    let joined = parts.join("/");
    if absolute { format!("/{joined}") } else { joined }
}

/// Reports each `use` that closes a cycle and marks it, so that scopes stay finite.
fn mark_cycles(modules: &mut [Loaded], diagnostics: &mut Vec<Diagnostic>) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    let mut state = vec![State::New; modules.len()];
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    if let Some(s) = state.get_mut(0) {
        *s = State::Open;
    }
    while let Some(&(module, edge)) = stack.last() {
        let Some(u) = modules.get(module).and_then(|m| m.uses.get(edge)) else {
            if let Some(s) = state.get_mut(module) {
                *s = State::Done;
            }
            stack.pop();
            continue;
        };
        let (target, span) = (u.target, u.decl.span);
        if let Some(top) = stack.last_mut() {
            top.1 += 1;
        }
        match state.get(target).copied() {
            Some(State::New) => {
                if let Some(s) = state.get_mut(target) {
                    *s = State::Open;
                }
                stack.push((target, 0));
            }
            Some(State::Open) => {
                let chain: Vec<&str> = stack
                    .iter()
                    .skip_while(|(m, _)| *m != target)
                    .filter_map(|(m, _)| modules.get(*m).map(|m| m.path.as_str()))
                    .collect();
                let cycle =
                    format!("{} -> {}", chain.join(" -> "), modules.get(target).map_or("", |m| m.path.as_str()));
                let (message, help) = if target == module {
                    ("module uses itself", "delete this `use`: a module's own names are always visible in it")
                } else {
                    ("`use` cycle", "move what the files of the cycle share into a file that each of them uses")
                };
                diagnostics.push(
                    Diagnostic::new(Code::UseCycle, message, span, "this `use` closes the cycle")
                        .with_note(format!("cycle: {cycle}"))
                        .with_help(help),
                );
                if let Some(u) = modules.get_mut(module).and_then(|m| m.uses.get_mut(edge)) {
                    u.cyclic = true;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn joins_lexically() {
        assert_eq!(join("site.ports", "./common.ports"), "common.ports");
        assert_eq!(join("a/b/site.ports", "../c.ports"), "a/c.ports");
        assert_eq!(join("site.ports", "../c.ports"), "../c.ports");
        assert_eq!(join("/etc/portc/site.ports", "x/./y.ports"), "/etc/portc/x/y.ports");
        assert_eq!(join("a/site.ports", "/abs.ports"), "/abs.ports");
    }
}
