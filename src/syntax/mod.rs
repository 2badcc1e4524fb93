//! Parsing: bytes -> text -> `ast::File`. The only module that sees pest.
//!
//! Statements are parsed one at a time, so a syntax error in one statement is reported
//! and the parser resumes at the next line that starts a statement.

mod build;
mod error;
mod fast;
pub mod keywords;
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
    let parsed = parse_statements(file, text, Mode { fast: true, defer_flows: false });
    (parsed.file, parsed.diagnostics)
}

/// The comments and blank lines of a file, which `parse` leaves out: together with the syntax
/// tree's spans they give back the text's layout, for the formatter and other tools.
pub fn trivia(file: FileId, text: &str) -> ast::Trivia {
    scan::trivia(file, text)
}

/// The words (names, numbers) in the code of `text`, outside strings and comments; for the
/// names a broken statement (`ast::File::broken`) may declare or mention.
pub fn code_words(text: &str) -> impl Iterator<Item = &str> {
    scan::code_words(text)
}

/// `parse` with pest alone, without the hand-written parser for well-formed statements
/// (`fast.rs`); the tests compare the two.
#[doc(hidden)]
pub fn parse_with_pest_only(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    let parsed = parse_statements(file, text, Mode { fast: false, defer_flows: false });
    (parsed.file, parsed.diagnostics)
}

/// A file parsed with its flows left out, for a resolver that takes them one at a time.
#[derive(Clone, Debug)]
pub struct Deferred {
    /// Every item but flows and `never`s.
    pub file: ast::File,
    /// Where each flow and `never` statement starts, in order; `flow_at` parses one again.
    pub flows: Vec<u32>,
    /// Everything `parse` reports, flows included.
    pub diagnostics: Vec<Diagnostic>,
}

/// `parse`, keeping of each flow and `never` only where it starts. A flow's syntax tree is several
/// times the size of what it resolves to, so holding them all costs more memory than the rest of
/// the compilation; parsing each again when it is resolved costs less than that.
pub fn parse_deferring_flows(file: FileId, text: &str) -> Deferred {
    let parsed = parse_statements(file, text, Mode { fast: true, defer_flows: true });
    Deferred { file: parsed.file, flows: parsed.deferred, diagnostics: parsed.diagnostics }
}

/// The flow or `never` statement at `start`, one of `Deferred::flows`, parsed again; its
/// diagnostics were reported by `parse_deferring_flows`.
pub fn flow_at(file: FileId, text: &str, start: u32) -> Option<ast::Item> {
    let start = start as usize;
    if let Some((item, _)) = fast::one_line_statement(file, text, start, fast::Build::Everything) {
        return Some(item);
    }
    let end = scan::statement_end(text, start);
    if let Some((item, _)) = fast::statement(file, text, start, end, fast::Build::Everything) {
        return Some(item);
    }
    let mut pairs = PortsParser::parse(Rule::statement, text.get(start..end)?).ok()?;
    build::Builder::new(file, start).statement(pairs.next()?)
}

#[derive(Clone, Copy)]
struct Mode {
    /// Try the hand-written parser before pest.
    fast: bool,
    /// Keep only the start of flows and `never`s.
    defer_flows: bool,
}

struct Statements {
    file: ast::File,
    deferred: Vec<u32>,
    diagnostics: Vec<Diagnostic>,
    /// How many statements the hand-written parser took.
    fast: usize,
}

/// Parses statement by statement, each with the hand-written parser first when `mode.fast` is set
/// and with pest when that gives up.
fn parse_statements(file: FileId, text: &str, mode: Mode) -> Statements {
    let mut out = Statements {
        file: ast::File { items: Vec::new(), broken: Vec::new(), span: Span::new(file, 0, text.len()) },
        deferred: Vec::new(),
        diagnostics: Vec::new(),
        fast: 0,
    };
    let mut headers = Headers::default();
    let mut keep = |out: &mut Statements, item: ast::Item, start: usize| {
        headers.see(&item);
        match item {
            ast::Item::Flow(_) | ast::Item::Never(_) if mode.defer_flows => {
                // `resolve::load` refuses a file over 4 GiB before it is parsed, so offsets fit in u32.
                out.deferred.push(u32::try_from(start).expect("invariant: resolve::load refuses files above 4 GiB"))
            }
            item => out.file.items.push(item),
        }
    };
    // Flows kept only by where they start need not be built now (see `fast::Build`).
    let build = if mode.defer_flows { fast::Build::NoFlows } else { fast::Build::Everything };
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
        // Finding where pest's slice ends scans the statement and the line after it; a statement
        // on one line, the usual case, needs no such bound (see `fast::one_line_statement`).
        let one_line = (mode.fast && too_deep.peek().is_none())
            .then(|| fast::one_line_statement(file, text, start, build))
            .flatten();
        if let Some((item, span)) = one_line {
            keep(&mut out, item, start);
            previous = Some(span);
            offset = (span.end as usize).max(start + 1);
            out.fast += 1;
            continue;
        }
        let end = scan::statement_end(text, start);
        // A statement that nests too deeply is skipped whole, without running pest on it.
        if let Some(&&deep) = too_deep.peek()
            && deep < end
        {
            out.diagnostics.push(error::too_deep(file, deep));
            out.file.broken.push(Span::new(file, start, end));
            while too_deep.next_if(|&&d| d < end).is_some() {}
            offset = end;
            continue;
        }
        if let Some((item, span)) = mode.fast.then(|| fast::statement(file, text, start, end, build)).flatten() {
            keep(&mut out, item, start);
            previous = Some(span);
            offset = (span.end as usize).max(start + 1);
            out.fast += 1;
            continue;
        }
        let slice = text.get(start..end).unwrap_or_default();
        match PortsParser::parse(Rule::statement, slice) {
            Ok(mut pairs) => {
                // A `statement` pair always wraps one of the statement rules of ports.pest.
                let statement = pairs.next().expect("grammar: statement");
                let mut builder = build::Builder::new(file, start);
                let span = builder.trimmed_span(&statement);
                if let Some(item) = builder.statement(statement) {
                    keep(&mut out, item, start);
                }
                if builder.diagnostics.iter().any(Diagnostic::is_error) {
                    out.file.broken.push(span);
                }
                out.diagnostics.append(&mut builder.diagnostics);
                previous = Some(span);
                offset = (span.end as usize).max(start + 1);
            }
            Err(e) => {
                let (mut diagnostic, at) = error::syntax(file, text, start, &e);
                if let Some(prev) = previous.filter(|p| scan::same_line(text, p.end as usize, start)) {
                    diagnostic = error::trailing(file, text, start, prev);
                }
                out.diagnostics.push(diagnostic);
                offset = scan::next_statement(text, start, at);
                out.file.broken.push(Span::new(file, start, offset));
            }
        }
    }
    out.diagnostics.append(&mut headers.diagnostics);
    if out.file.items.is_empty() && out.deferred.is_empty() && out.diagnostics.is_empty() {
        out.diagnostics.push(
            Diagnostic::new(Code::EmptyFile, "file declares nothing", Span::new(file, 0, 0), "nothing here")
                .with_help("a .ports file holds declarations, flows, `use`, `set` or `bind` statements"),
        );
    }
    out
}

/// `module` and `source` come first, at most once each, so a reader finds them at the top.
/// Fed every item in order; reports in `diagnostics`.
#[derive(Default)]
struct Headers {
    first_other: Option<Span>,
    seen_module: Option<Span>,
    seen_source: Option<Span>,
    diagnostics: Vec<Diagnostic>,
}

impl Headers {
    fn see(&mut self, item: &ast::Item) {
        let (span, seen, keyword) = match item {
            ast::Item::Module(m) => (m.span, &mut self.seen_module, "module"),
            ast::Item::Source(s) => (s.span, &mut self.seen_source, "source"),
            other => {
                self.first_other.get_or_insert(other.span());
                return;
            }
        };
        if let Some(first) = *seen {
            self.diagnostics.push(
                Diagnostic::new(Code::MisplacedHeader, format!("`{keyword}` given twice"), span, "again here")
                    .with_secondary(first, "first given here")
                    .with_help(format!("a file has one `{keyword}` line")),
            );
        } else if let Some(other) = self.first_other {
            self.diagnostics.push(
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
        let parsed = parse_statements(FileId(0), &text, Mode { fast: true, defer_flows: false });
        assert!(parsed.diagnostics.is_empty());
        // Selectors are the one form the hand-written parser leaves to pest.
        let selectors = parsed
            .file
            .items
            .iter()
            .filter(
                |i| matches!(i, crate::ast::Item::Bind(b) if matches!(b.target, crate::ast::BindTarget::Selector(_))),
            )
            .count();
        assert!(selectors > 0, "the synthetic program binds selectors");
        assert_eq!(parsed.fast + selectors, parsed.file.items.len(), "every other statement should take the fast path");
        let deferred = parse_statements(FileId(0), &text, Mode { fast: true, defer_flows: true });
        assert_eq!(deferred.fast, parsed.fast, "and so when flows are deferred");
    }

    #[test]
    fn deferred_flows_parse_again_to_the_same_items() {
        let text = crate::synth::generate(&crate::synth::Options::for_flows(500, 2));
        let (whole, _) = parse(FileId(0), &text);
        let deferred = parse_deferring_flows(FileId(0), &text);
        let again: Vec<ast::Item> =
            deferred.flows.iter().filter_map(|&start| flow_at(FileId(0), &text, start)).collect();
        let flows: Vec<&ast::Item> =
            whole.items.iter().filter(|i| matches!(i, ast::Item::Flow(_) | ast::Item::Never(_))).collect();
        assert_eq!(format!("{flows:?}"), format!("{:?}", again.iter().collect::<Vec<_>>()));
        assert_eq!(whole.items.len(), deferred.file.items.len() + again.len());
    }
}
