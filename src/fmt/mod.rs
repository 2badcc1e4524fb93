//! `portc fmt`: the canonical layout of a `.ports` file, from its syntax tree and its trivia.
//!
//! Comments (whole-line and trailing), blank lines between statements and whether each flow is
//! written inline or as a block are the author's; indentation, spacing, separators, the order of
//! a declaration's parts and the breaking of long lines are the formatter's. docs/language.md,
//! "Formatting", describes the style. Formatting never changes meaning: a file with syntax errors
//! is refused, and every result is parsed again and compared with the original, its syntax tree
//! without spans and its comments, before it is returned.

mod layout;
mod print;
mod statements;

use crate::ast;
use crate::diag::{Code, Diagnostic};
use crate::span::FileId;

pub use layout::WIDTH;

/// Why a file was not formatted.
#[derive(Debug)]
pub enum Refused {
    /// The file has syntax errors (its diagnostics, in `FileId(0)`): it is left as it is.
    Syntax(Vec<Diagnostic>),
    /// The result would have meant something else: a bug in portc, described.
    Bug(String),
}

/// The file in the canonical layout.
pub fn format(text: &str) -> Result<String, Refused> {
    let file = FileId(0);
    let (parsed, diagnostics) = crate::syntax::parse(file, text);
    // A file of comments only declares nothing (E0017), but has nothing to lose either.
    let errors: Vec<Diagnostic> =
        diagnostics.into_iter().filter(|d| d.is_error() && d.code != Code::EmptyFile).collect();
    if !errors.is_empty() {
        return Err(Refused::Syntax(errors));
    }
    let trivia = crate::syntax::trivia(file, text);
    let formatted = print::print(text, &parsed, &trivia);
    check_meaning(text, &parsed, &trivia, &formatted)?;
    Ok(formatted)
}

/// Parses the result again: it must parse cleanly to the same syntax tree, spans aside, with the
/// same comments in the same order.
fn check_meaning(text: &str, before: &ast::File, trivia: &ast::Trivia, formatted: &str) -> Result<(), Refused> {
    let (after, diagnostics) = crate::syntax::parse(FileId(0), formatted);
    if let Some(d) = diagnostics.iter().find(|d| d.is_error() && d.code != Code::EmptyFile) {
        return Err(Refused::Bug(format!("the formatted text does not parse: {} {}", d.code, d.message)));
    }
    if without_spans(&format!("{:?}", before.items)) != without_spans(&format!("{:?}", after.items)) {
        return Err(Refused::Bug("the formatted text parses to different statements".into()));
    }
    let comments = |text: &str, trivia: &ast::Trivia| -> Vec<String> {
        let slice = |c: &ast::Comment| text.get(c.span.start as usize..c.span.end as usize).unwrap_or_default();
        trivia.comments.iter().map(|c| slice(c).trim_end().to_string()).collect()
    };
    if comments(text, trivia) != comments(formatted, &crate::syntax::trivia(FileId(0), formatted)) {
        return Err(Refused::Bug("the formatted text lost, added or reordered a comment".into()));
    }
    Ok(())
}

/// A syntax tree's debug text with every `Span { .. }` replaced by `Span`.
fn without_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(start) = rest.find("Span { file:") {
        out.push_str(rest.get(..start).unwrap_or_default());
        out.push_str("Span");
        let after = rest.get(start..).unwrap_or_default();
        rest = after.find('}').and_then(|end| after.get(end + 1..)).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_erased_from_debug_text() {
        let debug = "Ident { name: \"a\", span: Span { file: FileId(0), start: 1, end: 2 } }, SelfNode(Span { file: FileId(0), start: 3, end: 7 })";
        assert_eq!(without_spans(debug), "Ident { name: \"a\", span: Span }, SelfNode(Span)");
    }
}
