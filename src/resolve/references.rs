//! Every name as written and what it refers to: the side table that go-to-definition, find-uses
//! and rename read, filled by `Resolver::lookup` (every lookup passes there) and by declarations.

use super::Def;
use crate::hir::{ModuleId, NoteId};
use crate::span::{FileId, Span};

/// What a name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Symbol {
    /// A role, external, group, flag, option, param or service.
    Name(Def),
    /// A note, referenced as `[3]`.
    Note(NoteId),
    /// A module, through a qualifier: the `k8s` of `k8s.worker`.
    Module(ModuleId),
}

/// One name in the source and its definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The name as written: one segment of a qualified name (the qualifier is a reference of its
    /// own), or a note label.
    pub span: Span,
    pub symbol: Symbol,
    /// The name in its declaration; for a module, the start of its file.
    pub definition: Span,
    /// The reference is the declaration itself.
    pub is_declaration: bool,
}

/// A name that the root module sees unqualified, with its declaration: what completion offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visible {
    pub name: String,
    pub def: Def,
    /// The name in its declaration.
    pub definition: Span,
}

/// Every reference of a program, ordered by file and position, and the root module's scope.
#[derive(Clone, Debug, Default)]
pub struct References {
    sorted: Vec<Reference>,
    /// Sorted by name; a name that two used modules declare (ambiguous) is left out.
    visible: Vec<Visible>,
    /// The root module's qualifiers (`k8s` of `use kubernetes as k8s`) and the modules they name,
    /// sorted.
    qualifiers: Vec<(String, ModuleId)>,
}

impl References {
    /// Sorts the references as recorded; the same name recorded twice counts once.
    pub(super) fn new(mut references: Vec<Reference>) -> Self {
        references.sort_by_key(|r| (r.span.file, r.span.start, r.span.end, !r.is_declaration));
        references.dedup_by_key(|r| (r.span, r.symbol));
        References { sorted: references, visible: Vec::new(), qualifiers: Vec::new() }
    }

    /// Adds the root module's scope.
    pub(super) fn with_scope(mut self, mut visible: Vec<Visible>, mut qualifiers: Vec<(String, ModuleId)>) -> Self {
        visible.sort_by(|a, b| a.name.cmp(&b.name));
        qualifiers.sort();
        self.visible = visible;
        self.qualifiers = qualifiers;
        self
    }

    /// The names the root module sees unqualified, by name.
    pub fn visible(&self) -> &[Visible] {
        &self.visible
    }

    /// The root module's qualifiers and the modules they name, by qualifier.
    pub fn qualifiers(&self) -> &[(String, ModuleId)] {
        &self.qualifiers
    }

    /// Every reference, by file and position.
    pub fn all(&self) -> &[Reference] {
        &self.sorted
    }

    /// The reference whose name covers `offset` (its end included, where an editor's cursor stands
    /// after typing it).
    pub fn at(&self, file: FileId, offset: u32) -> Option<&Reference> {
        let after = self.sorted.partition_point(|r| (r.span.file, r.span.start) <= (file, offset));
        let candidate = self.sorted.get(after.checked_sub(1)?)?;
        (candidate.span.file == file && candidate.span.end >= offset).then_some(candidate)
    }

    /// Every reference to the definition at `definition`, its declaration included, in order.
    pub fn to(&self, definition: Span) -> impl Iterator<Item = &Reference> {
        self.sorted.iter().filter(move |r| r.definition == definition)
    }
}
