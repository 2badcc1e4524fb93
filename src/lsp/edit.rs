//! The requests that change a document: formatting with `portc fmt`, and the code actions for
//! diagnostics with an obvious fix (a did-you-mean, a missing `bind`, a duplicate flow).

use std::collections::HashMap;

use lsp_types::{CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit};

use super::lookup;
use super::text::Lines;
use super::world::World;
use crate::analysis::Analysis;
use crate::ast::{self, FlowBody, Item};
use crate::diag::{Code, Diagnostic};
use crate::fmt::{self, Refused};

/// The edits that format the document: the lines from the first that differs to the last, or
/// none when it is formatted already. `Err` says why the document is not formatted.
pub fn format(lines: &Lines<'_>) -> Result<Vec<TextEdit>, String> {
    let text = lines.text();
    let formatted = match fmt::format(text) {
        Ok(formatted) => formatted,
        Err(Refused::Syntax(errors)) => {
            let first = errors.first().map(|d| format!(": {} {}", d.code.as_str(), d.message)).unwrap_or_default();
            return Err(format!("not formatted: the file has syntax errors{first}"));
        }
        Err(Refused::Bug(why)) => return Err(format!("not formatted, a bug in portc: {why}")),
    };
    if formatted == text {
        return Ok(Vec::new());
    }
    // Keep the common lines at either end, so the editor's cursor and marks stay where they are.
    let old: Vec<&str> = text.split_inclusive('\n').collect();
    let new: Vec<&str> = formatted.split_inclusive('\n').collect();
    let head = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let tail =
        old.iter().rev().zip(new.iter().rev()).take_while(|(a, b)| a == b).count().min(old.len().min(new.len()) - head);
    let start: usize = old.iter().take(head).map(|l| l.len()).sum();
    let end: usize = text.len() - old.iter().rev().take(tail).map(|l| l.len()).sum::<usize>();
    let replacement: String = new.get(head..new.len() - tail).unwrap_or_default().concat();
    Ok(vec![TextEdit::new(lines.range(start as u32, end as u32), replacement)])
}

/// The quick fixes for the diagnostics of the root that touch `range`.
pub fn actions(
    world: &World,
    analysis: &Analysis,
    uri: &Uri,
    lines: &Lines<'_>,
    range: Range,
) -> Vec<CodeActionOrCommand> {
    let Some(root) = analysis.modules.first() else { return Vec::new() };
    let (start, end) = (lines.offset(range.start), lines.offset(range.end));
    let mut out = Vec::new();
    for d in &analysis.diagnostics {
        let span = d.primary.span;
        if span.file != root.file || span.end < start || end < span.start {
            continue;
        }
        let fix = suggestion(analysis, lines, d)
            .or_else(|| missing_bind(root, lines, d))
            .or_else(|| duplicate(root, lines, d));
        let Some((title, edits, preferred)) = fix else { continue };
        let converted = super::diagnostics::convert(world, analysis, lines, d, span, None);
        let edit = WorkspaceEdit::new(HashMap::from([(uri.clone(), edits)]));
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title,
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![converted]),
            edit: Some(edit),
            is_preferred: Some(preferred),
            ..CodeAction::default()
        }));
    }
    out
}

type Fix = (String, Vec<TextEdit>, bool);

/// "did you mean `x`?" on a misspelt name: replace it (its last segment, for a qualified name).
fn suggestion(analysis: &Analysis, lines: &Lines<'_>, d: &Diagnostic) -> Option<Fix> {
    let meant = d.help.as_deref()?.strip_prefix("did you mean `")?.strip_suffix("`?")?;
    let mut span = d.primary.span;
    if let Some(dot) = lookup::slice(analysis, span).rfind('.').filter(|_| !meant.contains('.')) {
        span.start += dot as u32 + 1;
    }
    let written = lookup::slice(analysis, span);
    let edit = TextEdit::new(lines.range(span.start, span.end), meant.to_string());
    Some((format!("Replace `{written}` with `{meant}`"), vec![edit], true))
}

/// W0209: add `bind NAME = ` after the file's last `bind` (or at its end), for the author to
/// complete: an address left unwritten is a syntax error, never a guess that opens a firewall.
fn missing_bind(root: &crate::analysis::Module, lines: &Lines<'_>, d: &Diagnostic) -> Option<Fix> {
    if d.code != Code::UnboundEndpoint {
        return None;
    }
    let name = d.message.split('`').nth(1)?;
    let text = lines.text();
    let last_bind = root.ast.items.iter().filter(|i| matches!(i, Item::Bind(_))).map(|i| i.span().end).max();
    let at = match last_bind {
        // After the end of the last bind's line.
        Some(end) => {
            text.get(end as usize..).and_then(|rest| rest.find('\n')).map_or(text.len(), |n| end as usize + n + 1)
        }
        None => text.len(),
    };
    let newline = if at > 0 && !text.get(..at).unwrap_or_default().ends_with('\n') { "\n" } else { "" };
    let insert = format!("{newline}bind {name} = \n");
    let position = lines.position(at as u32);
    let title = format!("Add `bind {name} = ` (then write its addresses or selector)");
    Some((title, vec![TextEdit::new(Range::new(position, position), insert)], false))
}

/// W0202: delete the duplicate spec, or its whole statement when it is the only spec.
fn duplicate(root: &crate::analysis::Module, lines: &Lines<'_>, d: &Diagnostic) -> Option<Fix> {
    if d.code != Code::DuplicateFlow {
        return None;
    }
    let span = d.primary.span;
    let flow = root.ast.items.iter().find_map(|item| match item {
        Item::Flow(f) if f.span.start <= span.start && span.end <= f.span.end => Some(f),
        _ => None,
    })?;
    let text = lines.text();
    let (start, end) = match (flow.specs.len(), flow.body) {
        (1, _) => whole_lines(text, flow.span.start as usize, flow.span.end as usize),
        (_, FlowBody::Block { .. }) => whole_lines(text, span.start as usize, span.end as usize),
        (_, FlowBody::Inline) => inline_spec(flow, span)?,
    };
    let title = "Remove the duplicate flow".to_string();
    Some((title, vec![TextEdit::new(lines.range(start as u32, end as u32), String::new())], true))
}

/// The lines that hold `start..end`, with the newline after them, when nothing else is on them
/// (a trailing comment aside); else the span itself.
fn whole_lines(text: &str, start: usize, end: usize) -> (usize, usize) {
    let line_start = text.get(..start).and_then(|t| t.rfind('\n')).map_or(0, |n| n + 1);
    let line_end = text.get(end..).and_then(|t| t.find('\n')).map_or(text.len(), |n| end + n + 1);
    let before = text.get(line_start..start).unwrap_or_default();
    let after = text.get(end..line_end).unwrap_or_default().trim();
    if before.trim().is_empty() && (after.is_empty() || after.starts_with('#')) {
        (line_start, line_end)
    } else {
        (start, end)
    }
}

/// One spec of `a -> b : x, y`, with the comma that separates it from its neighbour.
fn inline_spec(flow: &ast::Flow, span: crate::span::Span) -> Option<(usize, usize)> {
    let index = flow.specs.iter().position(|s| s.span == span)?;
    let (start, end) = match (index.checked_sub(1).and_then(|i| flow.specs.get(i)), flow.specs.get(index + 1)) {
        (Some(previous), _) => (previous.span.end, span.end),
        (None, Some(next)) => (span.start, next.span.start),
        (None, None) => (span.start, span.end),
    };
    Some((start as usize, end as usize))
}
