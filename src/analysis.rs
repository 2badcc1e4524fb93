//! What an editor asks of a program: every module's whole syntax tree and its trivia, every name
//! with its definition, and every diagnostic, looked up by file and offset.
//!
//! `compile` keeps none of this: it parses flows one at a time and drops their syntax trees, and
//! forgets where each name was written once it is resolved.

use crate::check::Checked;
use crate::diag::{self, Diagnostic, SourceMap};
use crate::resolve::{self, Flows, Reference, References, Root, RootError, SourceLoader};
use crate::span::{FileId, Span};
use crate::{ast, hir};

/// A program as tools see it.
#[derive(Debug)]
pub struct Analysis {
    pub sources: SourceMap,
    /// The root first, then every module it uses.
    pub modules: Vec<Module>,
    /// The flow graph after the checks, as far as it resolved: with errors, what they left out is
    /// missing (ARCHITECTURE.md, "Partial results"); `program()` is its program.
    pub checked: Checked,
    pub references: References,
    /// What `portc check` reports, sorted.
    pub diagnostics: Vec<Diagnostic>,
}

/// One module of the program, as written.
#[derive(Debug)]
pub struct Module {
    /// The display path: as given, relative to the root, or `<stdlib>/...`.
    pub path: String,
    pub file: FileId,
    /// Every statement, flows included.
    pub ast: ast::File,
    pub trivia: ast::Trivia,
}

/// Loads, resolves and checks the program rooted at `root`, keeping what tools need.
/// `settings` are the command line's `name=value` settings, as for `compile`.
pub fn analyze(root: &Root, loader: &dyn SourceLoader, settings: &[String]) -> Result<Analysis, RootError> {
    let mut sources = SourceMap::default();
    let parsed = resolve::load_with(root, loader, &mut sources, Flows::Kept)?;
    let overrides: String = settings.iter().map(|s| crate::setting_statement(s)).collect();
    let (program, references, mut diagnostics) = resolve::resolve_recording(&parsed, &overrides, &mut sources);
    let checked = crate::check_always(program, &mut diagnostics);
    diag::sort(&mut diagnostics);
    let modules = parsed
        .into_modules()
        .map(|(path, ast)| {
            let file = ast.span.file;
            Module { path, file, trivia: crate::syntax::trivia(file, sources.text(file)), ast }
        })
        .collect();
    Ok(Analysis { sources, modules, checked, references, diagnostics })
}

impl Analysis {
    /// The resolved program.
    pub fn program(&self) -> &hir::Program {
        &self.checked.graph().program
    }

    /// Whether a stage reported an error: then no target is built.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The module whose file is `file`.
    pub fn module(&self, file: FileId) -> Option<&Module> {
        self.modules.iter().find(|m| m.file == file)
    }

    /// The name at `offset` in `file` and what it refers to (a declaration refers to itself).
    pub fn reference_at(&self, file: FileId, offset: u32) -> Option<&Reference> {
        self.references.at(file, offset)
    }

    /// Where the name at `offset` is declared: go-to-definition.
    pub fn definition_at(&self, file: FileId, offset: u32) -> Option<Span> {
        self.reference_at(file, offset).map(|r| r.definition)
    }

    /// Every place that names what the name at `offset` names, its declaration included, by file
    /// and position: find-uses, and the spans a rename rewrites.
    pub fn uses_at(&self, file: FileId, offset: u32) -> Vec<Span> {
        let Some(definition) = self.definition_at(file, offset) else { return Vec::new() };
        self.references.to(definition).map(|r| r.span).collect()
    }
}
