//! Name resolution: `ast::File`s (the root and every module it uses) -> `hir::Program`.
//!
//! Loads modules through a `SourceLoader` (the only way this stage reaches files), builds each
//! module's scope, resolves every name to an id, expands groups, and applies `set` and `bind`.

mod gaps;
mod items;
mod load;
mod references;
mod scope;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::ast;
use crate::diag::{Diagnostic, SourceMap};
use crate::hir::{self, Program};
use crate::span::Span;

pub use load::Flows;
pub use references::{Reference, References, Symbol, Visible};

/// Reads source files for `use "./file.ports"` and for the root file.
pub trait SourceLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError>;

    /// A name that is the same for every spelling of one file (`./x.ports`, `a/../x.ports`,
    /// an absolute path), so a module is loaded once however it is reached.
    fn identity(&self, path: &str) -> String {
        path.to_string()
    }
}

/// Why a file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    NotFound,
    IsDirectory,
    Other(String),
}

/// What to compile: a file, or a stdlib module by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Root {
    File(String),
    Module(String),
}

/// The root itself could not be read: a usage or I/O error, not a problem in a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootError(pub String);

/// Resolves the program rooted at `root`. `overrides` is the text of the command line's settings,
/// as `set` statements, applied after (and over) the files' own.
pub fn resolve(
    root: &Root,
    loader: &dyn SourceLoader,
    overrides: &str,
    map: &mut SourceMap,
) -> Result<(Program, Vec<Diagnostic>), RootError> {
    let parsed = load(root, loader, map)?;
    Ok(resolve_parsed(parsed, overrides, map))
}

/// Every module of a program, parsed, with its `use` edges and the diagnostics found so far:
/// the first half of `resolve`, apart so that benchmarks can time parsing and resolution apart.
#[derive(Clone, Debug)]
pub struct Parsed {
    modules: Vec<load::Loaded>,
    diagnostics: Vec<Diagnostic>,
}

/// Loads and parses the root and every module it uses, transitively.
pub fn load(root: &Root, loader: &dyn SourceLoader, map: &mut SourceMap) -> Result<Parsed, RootError> {
    load_with(root, loader, map, Flows::Deferred)
}

/// `load`, choosing how flows are parsed: `Flows::Kept` keeps every module's whole syntax tree,
/// which tools read.
pub fn load_with(
    root: &Root,
    loader: &dyn SourceLoader,
    map: &mut SourceMap,
    flows: Flows,
) -> Result<Parsed, RootError> {
    let mut diagnostics = Vec::new();
    let modules = load::load_all(root, loader, map, &mut diagnostics, flows)?;
    Ok(Parsed { modules, diagnostics })
}

impl Parsed {
    /// Each module's display path and syntax tree, the root first.
    pub fn modules(&self) -> impl Iterator<Item = (&str, &ast::File)> {
        self.modules.iter().map(|m| (m.path.as_str(), &m.ast))
    }

    /// `modules`, owned.
    pub fn into_modules(self) -> impl Iterator<Item = (String, ast::File)> {
        self.modules.into_iter().map(|m| (m.path, m.ast))
    }
}

/// Resolves a loaded program: the second half of `resolve`.
pub fn resolve_parsed(parsed: Parsed, overrides: &str, map: &mut SourceMap) -> (Program, Vec<Diagnostic>) {
    let Parsed { modules, diagnostics } = parsed;
    let resolver = resolve_modules(&modules, diagnostics, overrides, map, false);
    (resolver.program, resolver.diagnostics)
}

/// `resolve_parsed` for tools: the program, and every name of it with its definition.
pub fn resolve_recording(
    parsed: &Parsed,
    overrides: &str,
    map: &mut SourceMap,
) -> (Program, References, Vec<Diagnostic>) {
    let resolver = resolve_modules(&parsed.modules, parsed.diagnostics.clone(), overrides, map, true);
    let visible = resolver.visible.first().map(|v| {
        v.iter()
            .filter_map(|(name, entry)| match entry {
                scope::Entry::One(b) => Some(Visible { name: name.clone(), def: b.def, definition: b.span }),
                scope::Entry::Ambiguous(_) => None,
            })
            .collect()
    });
    let qualifiers = resolver.qualifiers.first().map(|q| {
        q.iter()
            .flat_map(|(name, targets)| targets.iter().map(|t| (name.clone(), hir::ModuleId(hir::next_id(*t)))))
            .collect()
    });
    let references = References::new(resolver.references.unwrap_or_default())
        .with_scope(visible.unwrap_or_default(), qualifiers.unwrap_or_default());
    (resolver.program, references, resolver.diagnostics)
}

fn resolve_modules<'a>(
    modules: &'a [load::Loaded],
    mut diagnostics: Vec<Diagnostic>,
    overrides: &str,
    map: &'a mut SourceMap,
    record: bool,
) -> Resolver<'a> {
    let override_file = map.add("<command line>", overrides);
    let (overrides, mut found) = crate::syntax::parse_settings(override_file, map.text(override_file));
    let settings_broken = !found.is_empty();
    diagnostics.append(&mut found);
    let mut resolver = Resolver::new(modules, map);
    resolver.diagnostics = diagnostics;
    resolver.program.gaps.settings = settings_broken;
    if record {
        resolver.references = Some(Vec::new());
    }
    resolver.collect_broken();
    resolver.collect_declarations();
    resolver.build_scopes();
    resolver.resolve_items(&overrides);
    resolver
}

/// What a name in scope refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Def {
    Node(hir::NodeId),
    Group(usize),
    Flag(hir::FlagId),
    Option(hir::OptionId),
    Param(hir::ParamId),
    Service(usize),
}

struct GroupDef {
    decl: ast::GroupDecl,
    module: usize,
}

struct ServiceDef {
    decl: ast::ServiceDecl,
    module: usize,
}

/// The state of one resolution; the fields are filled stage by stage in `resolve`.
struct Resolver<'a> {
    modules: &'a [load::Loaded],
    map: &'a SourceMap,
    program: Program,
    groups: Vec<GroupDef>,
    services: Vec<ServiceDef>,
    /// Per service: its protocols and ports once resolved (`Some(None)` when that failed).
    #[allow(clippy::type_complexity)] // One cache slot; a struct would only rename the tuple.
    service_ports: Vec<Option<Option<(Vec<ast::Protocol>, Vec<hir::PortRef>)>>>,
    /// Every distinct condition of a flow or note so far (`Resolver::shared`).
    conditions: rustc_hash::FxHashSet<hir::Cond>,
    note_decls: Vec<ast::NoteDecl>,
    note_modules: Vec<usize>,
    /// Per module: note label -> note.
    notes: Vec<BTreeMap<String, hir::NoteId>>,
    /// Per module: the names it declares itself.
    own: Vec<BTreeMap<String, scope::Binding>>,
    /// Per module: every name it sees unqualified (and exports to glob users).
    /// Looked up for every name of every flow, so a hash map; its order reaches no output
    /// (imports report at each declaration's span, and suggestions rank candidates by name).
    visible: Vec<FxHashMap<String, scope::Entry>>,
    /// Per module: qualifier -> the modules it names.
    qualifiers: Vec<BTreeMap<String, Vec<usize>>>,
    /// Every name and its definition, when a tool asked for them.
    references: Option<Vec<Reference>>,
    /// The words of the statements that did not parse: a name among them that does not resolve
    /// may be declared by one of them, so its miss is not reported (it would be a cascade).
    suspects: rustc_hash::FxHashSet<String>,
    /// Per module: its scope may lack names, because a `use` of it failed, closed a cycle or did
    /// not parse, or through a module it uses whole; a miss in it is not reported either.
    incomplete: Vec<bool>,
    /// Per group and per note: left out because of an error in it; its uses are left out quietly.
    broken_groups: Vec<bool>,
    broken_notes: Vec<bool>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Resolver<'a> {
    fn new(modules: &'a [load::Loaded], map: &'a SourceMap) -> Self {
        let n = modules.len();
        let program = Program { modules: modules.iter().map(module_info).collect(), ..Program::default() };
        Resolver {
            modules,
            map,
            program,
            groups: Vec::new(),
            services: Vec::new(),
            service_ports: Vec::new(),
            conditions: rustc_hash::FxHashSet::default(),
            note_decls: Vec::new(),
            note_modules: Vec::new(),
            notes: vec![BTreeMap::new(); n],
            own: vec![BTreeMap::new(); n],
            visible: vec![FxHashMap::default(); n],
            qualifiers: vec![BTreeMap::new(); n],
            references: None,
            suspects: rustc_hash::FxHashSet::default(),
            incomplete: vec![false; n],
            broken_groups: Vec::new(),
            broken_notes: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Records a name and its definition, when references are asked for.
    fn record(&mut self, span: Span, symbol: Symbol, definition: Span) {
        if let Some(references) = &mut self.references {
            references.push(Reference { span, symbol, definition, is_declaration: span == definition });
        }
    }
}

fn module_info(loaded: &load::Loaded) -> hir::Module {
    let mut name = None;
    let mut title = None;
    let mut source = None;
    for item in &loaded.ast.items {
        match item {
            ast::Item::Module(m) => {
                name = Some(m.name.text());
                title = m.description.as_ref().map(|d| d.value.clone());
            }
            ast::Item::Source(s) => source = Some(s.value.clone()),
            _ => {}
        }
    }
    let file = loaded.ast.span.file;
    hir::Module { name: name.unwrap_or_else(|| loaded.path.clone()), title, source, file, path: loaded.path.clone() }
}
