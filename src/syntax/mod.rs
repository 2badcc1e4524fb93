//! Parsing: bytes -> text -> `ast::File`. The only module that sees pest.
//!
//! Statements are parsed one at a time, so a syntax error in one statement is reported
//! and the parser resumes at the next line that starts a statement.

mod build;
mod error;
mod fast;
mod scan;

use pest::Parser;

use crate::ast;
use crate::diag::{Code, Diagnostic};
use crate::span::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/ports.pest"]
struct PortsParser;

/// Parentheses nest at most this deep in a condition.
/// Deeper input is rejected before pest sees it, so neither the parser nor later stages can overflow the stack.
pub const MAX_NESTING: usize = 64;

/// Why a file's bytes are not a source text.
#[derive(Debug)]
pub struct DecodeError {
    /// The text to show in snippets, with bad bytes replaced.
    pub lossy: String,
    code: Code,
    offset: usize,
}

/// Checks that a file is UTF-8 and has no NUL byte.
pub fn decode(bytes: Vec<u8>) -> Result<String, DecodeError> {
    match String::from_utf8(bytes) {
        Ok(text) => match text.find('\0') {
            None => Ok(text),
            Some(offset) => Err(DecodeError { lossy: text.replace('\0', "\u{2400}"), code: Code::NulByte, offset }),
        },
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            Err(DecodeError { lossy, code: Code::InvalidUtf8, offset })
        }
    }
}

impl DecodeError {
    /// The diagnostic for this error, once the lossy text is in the source map as `file`.
    pub fn diagnostic(&self, file: FileId) -> Diagnostic {
        // The lossy text has different offsets after the bad byte; point at the start of its line.
        let line_start = self.lossy.get(..self.offset).and_then(|s| s.rfind('\n')).map_or(0, |i| i + 1);
        let span = Span::new(file, line_start, line_start);
        match self.code {
            Code::NulByte => Diagnostic::new(Code::NulByte, "file contains a NUL byte", span, "NUL byte on this line")
                .with_help("is this a binary file? .ports files are UTF-8 text"),
            _ => Diagnostic::new(Code::InvalidUtf8, "file is not valid UTF-8", span, "invalid byte on this line")
                .with_note(format!("the first invalid byte is at offset {}", self.offset))
                .with_help("save the file as UTF-8"),
        }
    }
}

/// Parses one file. Returns every item that parsed, and a diagnostic for everything that did not.
pub fn parse(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    parse_statements(file, text, true).0
}

/// `parse` with pest alone, without the hand-written parser for well-formed statements
/// (`fast.rs`); the tests compare the two.
#[doc(hidden)]
pub fn parse_with_pest_only(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    parse_statements(file, text, false).0
}

/// Parses statement by statement, each with the hand-written parser first when `fast` is set and
/// with pest when that gives up; also returns how many statements the hand-written parser took.
fn parse_statements(file: FileId, text: &str, fast: bool) -> ((ast::File, Vec<Diagnostic>), usize) {
    let mut fast_statements = 0;
    let mut diagnostics = Vec::new();
    let mut items = Vec::new();
    let too_deep = scan::too_deep(text, MAX_NESTING);
    let mut too_deep = too_deep.iter().peekable();
    let mut offset = 0;
    // The span of the last statement that parsed, to explain junk that follows it on its line.
    let mut previous: Option<Span> = None;
    loop {
        let start = offset + scan::leading_trivia(text.get(offset..).unwrap_or_default());
        if start >= text.len() {
            break;
        }
        let end = scan::statement_end(text, start);
        // A statement that nests too deeply is skipped whole, without running pest on it.
        if let Some(&&deep) = too_deep.peek() {
            if deep < end {
                diagnostics.push(error::too_deep(file, deep));
                while too_deep.next_if(|&&d| d < end).is_some() {}
                offset = end;
                continue;
            }
        }
        if let Some((item, span)) = fast.then(|| fast::statement(file, text, start, end)).flatten() {
            items.push(item);
            previous = Some(span);
            offset = (span.end as usize).max(start + 1);
            fast_statements += 1;
            continue;
        }
        let slice = text.get(start..end).unwrap_or_default();
        match PortsParser::parse(Rule::statement, slice) {
            Ok(mut pairs) => {
                let statement = pairs.next().expect("grammar: statement");
                let mut builder = build::Builder::new(file, start);
                let span = builder.trimmed_span(&statement);
                if let Some(item) = builder.statement(statement) {
                    items.push(item);
                }
                diagnostics.append(&mut builder.diagnostics);
                previous = Some(span);
                offset = (span.end as usize).max(start + 1);
            }
            Err(e) => {
                let (mut diagnostic, at) = error::syntax(file, text, start, &e);
                if let Some(prev) = previous.filter(|p| scan::same_line(text, p.end as usize, start)) {
                    diagnostic = error::trailing(file, text, start, prev);
                }
                diagnostics.push(diagnostic);
                offset = scan::next_statement(text, start, at);
            }
        }
    }
    check_headers(&items, &mut diagnostics);
    let span = Span::new(file, 0, text.len());
    if items.is_empty() && diagnostics.is_empty() {
        diagnostics.push(
            Diagnostic::new(Code::EmptyFile, "file declares nothing", Span::new(file, 0, 0), "nothing here")
                .with_help("a .ports file holds declarations, flows, `use`, `set` or `bind` statements"),
        );
    }
    ((ast::File { items, span }, diagnostics), fast_statements)
}

/// `module` and `source` come first, at most once each, so a reader finds them at the top.
fn check_headers(items: &[ast::Item], diagnostics: &mut Vec<Diagnostic>) {
    let mut first_other: Option<Span> = None;
    let mut seen_module: Option<Span> = None;
    let mut seen_source: Option<Span> = None;
    for item in items {
        let (span, seen, keyword) = match item {
            ast::Item::Module(m) => (m.span, &mut seen_module, "module"),
            ast::Item::Source(s) => (s.span, &mut seen_source, "source"),
            other => {
                first_other.get_or_insert(item_span(other));
                continue;
            }
        };
        if let Some(first) = *seen {
            diagnostics.push(
                Diagnostic::new(Code::MisplacedHeader, format!("`{keyword}` given twice"), span, "again here")
                    .with_secondary(first, "first given here")
                    .with_help(format!("a file has one `{keyword}` line")),
            );
        } else if let Some(other) = first_other {
            diagnostics.push(
                Diagnostic::new(
                    Code::MisplacedHeader,
                    format!("`{keyword}` must come before the file's other statements"),
                    span,
                    "too late",
                )
                .with_secondary(other, "first other statement")
                .with_help(format!("move the `{keyword}` line to the top of the file")),
            );
        }
        seen.get_or_insert(span);
    }
}

fn item_span(item: &ast::Item) -> Span {
    match item {
        ast::Item::Module(m) => m.span,
        ast::Item::Source(s) => s.span,
        ast::Item::Use(u) => u.span,
        ast::Item::Flag(f) => f.span,
        ast::Item::Option(o) => o.span,
        ast::Item::Param(p) => p.span,
        ast::Item::Role(r) => r.span,
        ast::Item::External(e) => e.span,
        ast::Item::Group(g) => g.span,
        ast::Item::Service(s) => s.span,
        ast::Item::Note(n) => n.span,
        ast::Item::Flow(f) | ast::Item::Never(f) => f.span,
        ast::Item::Set(s) => s.span,
        ast::Item::Bind(b) => b.span,
    }
}

/// Parses the command line's settings, given as `set` statements, one per line.
pub fn parse_settings(file: FileId, text: &str) -> (Vec<ast::SetStmt>, Vec<Diagnostic>) {
    if text.trim().is_empty() {
        return (Vec::new(), Vec::new());
    }
    let (parsed, mut diagnostics) = parse(file, text);
    let mut sets = Vec::new();
    for item in parsed.items {
        match item {
            ast::Item::Set(set) => sets.push(set),
            _ => diagnostics.push(Diagnostic::new(
                Code::Syntax,
                "expected a setting `name=value`",
                parsed.span,
                "not a setting",
            )),
        }
    }
    (sets, diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_parser_takes_every_statement_of_a_synthetic_program() {
        let text = crate::synth::generate(&crate::synth::Options::for_flows(2000, 4));
        let ((file, diagnostics), fast) = parse_statements(FileId(0), &text, true);
        assert!(diagnostics.is_empty());
        assert_eq!(fast, file.items.len(), "every statement should take the fast path");
    }
}
