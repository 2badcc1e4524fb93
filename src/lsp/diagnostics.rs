//! The checker's diagnostics as the protocol carries them: each with its code, its notes and help
//! in the message, and its other labels as related locations. A diagnostic in a used module is
//! shown on the `use` that brings that module in.

use std::collections::{BTreeMap, BTreeSet};

use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, NumberOrString};

use super::text::Lines;
use super::world::World;
use crate::analysis::Analysis;
use crate::ast;
use crate::diag::{Diagnostic, Severity};
use crate::resolve::Symbol;
use crate::span::{FileId, Span};

/// The diagnostics of the document at the root of `analysis`.
pub fn of_root(world: &World, analysis: &Analysis) -> Vec<lsp_types::Diagnostic> {
    let Some(root) = analysis.modules.first() else { return Vec::new() };
    let reach = uses_reaching(analysis, root);
    let lines = Lines::new(analysis.sources.text(root.file), world.encoding);
    let mut out = Vec::new();
    for d in &analysis.diagnostics {
        let file = d.primary.span.file;
        if file == root.file {
            out.push(convert(world, analysis, &lines, d, d.primary.span, None));
            continue;
        }
        // Elsewhere: on the `use` through which the root reaches that file, or at the top.
        let at = reach.iter().find(|(_, files)| files.contains(&file)).map(|(span, _)| *span);
        let span = at.unwrap_or(Span { file: root.file, start: 0, end: 0 });
        out.push(convert(world, analysis, &lines, d, span, Some(analysis.sources.name(file))));
    }
    out
}

/// A diagnostic of the root file, shown at `span` (its own primary span, or a `use`); `elsewhere`
/// names the file it really is in.
pub fn convert(
    world: &World,
    analysis: &Analysis,
    lines: &Lines<'_>,
    d: &Diagnostic,
    span: Span,
    elsewhere: Option<&str>,
) -> lsp_types::Diagnostic {
    let mut message = match elsewhere {
        Some(file) => format!("in {file}: {}", d.message),
        None => d.message.clone(),
    };
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let mut related = Vec::new();
    let labels = elsewhere.map(|_| &d.primary).into_iter().chain(&d.secondary);
    for label in labels {
        if let Some(location) = world.location(analysis, label.span) {
            let text = if label.message.is_empty() { d.message.clone() } else { label.message.clone() };
            related.push(DiagnosticRelatedInformation { location, message: text });
        }
    }
    lsp_types::Diagnostic {
        range: lines.range(span.start, span.end),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Note => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        source: Some("portc".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

/// Each `use` of the root (its target's span) and every file reachable through it.
fn uses_reaching(analysis: &Analysis, root: &crate::analysis::Module) -> Vec<(Span, BTreeSet<FileId>)> {
    // Module references recorded in a file: its `use` targets and qualifiers.
    let mut edges: BTreeMap<FileId, Vec<FileId>> = BTreeMap::new();
    for r in analysis.references.all() {
        if let Symbol::Module(_) = r.symbol {
            edges.entry(r.span.file).or_default().push(r.definition.file);
        }
    }
    let mut out = Vec::new();
    for item in &root.ast.items {
        let ast::Item::Use(u) = item else { continue };
        let target = match &u.target {
            ast::UseTarget::Stdlib(path) => path.span,
            ast::UseTarget::File(text) => text.span,
        };
        let Some(reference) = analysis.references.at(root.file, target.start) else { continue };
        let mut seen = BTreeSet::from([reference.definition.file]);
        let mut stack = vec![reference.definition.file];
        while let Some(file) = stack.pop() {
            for next in edges.get(&file).into_iter().flatten() {
                if seen.insert(*next) {
                    stack.push(*next);
                }
            }
        }
        out.push((u.span, seen));
    }
    out
}
