//! Small questions about an analysis that several requests ask: the statement at an offset, the
//! declaration of a name, the text of a span.

use crate::analysis::{Analysis, Module};
use crate::ast::{self, Item};
use crate::hir;
use crate::span::{FileId, Span};

/// The text of a span.
pub fn slice(analysis: &Analysis, span: Span) -> &str {
    analysis.sources.text(span.file).get(span.start as usize..span.end as usize).unwrap_or_default()
}

/// The statement of `module` that covers `offset` (its end included).
pub fn item_at(module: &Module, offset: u32) -> Option<&Item> {
    module.ast.items.iter().find(|item| {
        let span = item.span();
        span.start <= offset && offset <= span.end
    })
}

/// The declaration whose name (or note label) is at `definition`.
pub fn declaration(analysis: &Analysis, definition: Span) -> Option<&Item> {
    let module = analysis.module(definition.file)?;
    module.ast.items.iter().find(|item| declared_name(item) == Some(definition))
}

/// The span of the name an item declares.
pub fn declared_name(item: &Item) -> Option<Span> {
    Some(match item {
        Item::Flag(d) => d.name.span,
        Item::Option(d) => d.name.span,
        Item::Param(d) => d.name.span,
        Item::Role(d) => d.name.span,
        Item::External(d) => d.name.span,
        Item::Group(d) => d.name.span,
        Item::Service(d) => d.name.span,
        Item::Note(d) => d.label.span,
        _ => return None,
    })
}

/// The name an item declares, and its kind as a word.
pub fn declared(item: &Item) -> Option<(&str, &'static str)> {
    Some(match item {
        Item::Flag(d) => (d.name.name.as_str(), "flag"),
        Item::Option(d) => (d.name.name.as_str(), "option"),
        Item::Param(d) => (d.name.name.as_str(), "param"),
        Item::Role(d) => (d.name.name.as_str(), "role"),
        Item::External(d) => (d.name.name.as_str(), "external"),
        Item::Group(d) => (d.name.name.as_str(), "group"),
        Item::Service(d) => (d.name.name.as_str(), "service"),
        Item::Note(d) => (d.label.label.as_str(), "note"),
        _ => return None,
    })
}

/// The module of a file, as the program knows it.
pub fn module_of_file(analysis: &Analysis, file: FileId) -> Option<&hir::Module> {
    analysis.program().modules.iter().find(|m| m.file == file)
}

/// Whether a file is a stdlib module, which the editor must not change.
pub fn is_stdlib(analysis: &Analysis, file: FileId) -> bool {
    analysis.sources.name(file).starts_with("<stdlib>/")
}

/// The 1-based line of an offset.
pub fn line(analysis: &Analysis, span: Span) -> usize {
    analysis.sources.line(span.file, span.start)
}

/// The flow statement (or `never`) at `offset` of the root, and whether it is a `never`.
pub fn flow_at(module: &Module, offset: u32) -> Option<(&ast::Flow, bool)> {
    match item_at(module, offset)? {
        Item::Flow(flow) => Some((flow, false)),
        Item::Never(flow) => Some((flow, true)),
        _ => None,
    }
}
