//! Renders diagnostics for people (codespan-reporting) and for tools (one JSON object a line).
//! This is the only module that uses codespan-reporting.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

use super::{Diagnostic, Label, Severity, SourceMap};
use crate::span::FileId;

/// Lines longer than this are cut around the labels in snippets, so a minified or generated
/// file cannot flood the terminal.
const MAX_LINE: usize = 240;

/// Renders diagnostics the way a terminal shows them, with or without ANSI colours.
pub fn human(map: &SourceMap, diagnostics: &[Diagnostic], color: bool) -> String {
    let config = term::Config::default();
    let mut buffer = if color { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
    for diagnostic in diagnostics {
        let rendered = match shorten(map, diagnostic) {
            Some((short_map, short)) => {
                term::emit_to_write_style(&mut buffer, &config, &short_map, &to_codespan(&short))
            }
            None => term::emit_to_write_style(&mut buffer, &config, map, &to_codespan(diagnostic)),
        };
        // Spans come from the map's own files, so a failure here is a bug in portc.
        rendered.expect("invariant: diagnostic spans lie inside their files");
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

/// A copy of the map and diagnostic in which every line longer than `MAX_LINE` is cut to a window
/// around its labels; `None` when no label sits on such a line (the usual case).
fn shorten(map: &SourceMap, diagnostic: &Diagnostic) -> Option<(SourceMap, Diagnostic)> {
    let labels: Vec<&Label> = std::iter::once(&diagnostic.primary).chain(&diagnostic.secondary).collect();
    let long = |l: &Label| {
        let text = map.text(l.span.file);
        let start = (l.span.start as usize).min(text.len());
        let line_start = text.get(..start).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
        let line_end = text.get(start..).and_then(|t| t.find('\n')).map_or(text.len(), |i| start + i);
        line_end - line_start > MAX_LINE
    };
    if !labels.iter().any(|l| long(l)) {
        return None;
    }
    // Only the labelled lines are rendered, so the copy keeps those (cut where long) and leaves
    // every other line empty: the same line numbers, at a cost that does not grow with the file's
    // bytes for each diagnostic (a program with thousands of warnings renders in linear time).
    let mut short_map = SourceMap::default();
    let mut maps = Vec::new();
    for (index, file) in map.files().iter().enumerate() {
        let mine: Vec<&Label> = labels.iter().copied().filter(|l| l.span.file.0 as usize == index).collect();
        if mine.is_empty() {
            short_map.add(file.name.clone(), String::new());
            maps.push(Vec::new());
            continue;
        }
        let starts = file.line_starts();
        let line_of = |offset: usize| starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let mut needed: Vec<(usize, usize)> =
            mine.iter().map(|l| (line_of(l.span.start as usize), line_of(l.span.end as usize))).collect();
        needed.sort_unstable();
        let mut text = String::new();
        let mut offsets = Vec::new();
        let mut line = 0;
        for (first, last) in needed {
            for _ in line..first {
                text.push('\n');
            }
            line = line.max(first);
            while line <= last {
                let start = starts.get(line).copied().unwrap_or(file.text.len());
                let end = starts.get(line + 1).copied().unwrap_or(file.text.len());
                let slice = file.text.get(start..end).unwrap_or_default();
                let points: Vec<usize> = mine
                    .iter()
                    .flat_map(|l| [l.span.start as usize, l.span.end as usize])
                    .filter(|p| *p >= start && *p <= end)
                    .map(|p| p - start)
                    .collect();
                let (cut, moved) = cut_long_lines(slice, &points);
                offsets.extend(moved.into_iter().map(|(old, new)| (old + start, new + text.len())));
                text.push_str(&cut);
                line += 1;
            }
        }
        short_map.add(file.name.clone(), text);
        maps.push(offsets);
    }
    let moved = |l: &Label| {
        let offsets = maps.get(l.span.file.0 as usize);
        let at = |o: u32| offsets.and_then(|m| m.iter().find(|(old, _)| *old == o as usize)).map_or(0, |(_, new)| *new);
        Label {
            span: crate::span::Span::new(l.span.file, at(l.span.start), at(l.span.end)),
            message: l.message.clone(),
        }
    };
    let mut short = diagnostic.clone();
    short.primary = moved(&diagnostic.primary);
    short.secondary = diagnostic.secondary.iter().map(moved).collect();
    short.notes.push(format!(
        "long lines are shown cut to {MAX_LINE} characters around the problem; columns count from the cut"
    ));
    Some((short_map, short))
}

/// Cuts each line longer than `MAX_LINE` to a window around the `points` on it (or to nothing).
/// Returns the new text and, for each point, its new offset.
fn cut_long_lines(text: &str, points: &[usize]) -> (String, Vec<(usize, usize)>) {
    let mut out = String::new();
    let mut offsets = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let line_end = line_start + line.len();
        let here: Vec<usize> = points.iter().copied().filter(|p| *p >= line_start && *p <= line_end).collect();
        if line.len() <= MAX_LINE {
            offsets.extend(here.iter().map(|p| (*p, out.len() + (p - line_start))));
            out.push_str(line);
        } else {
            let low = here.iter().min().map_or(line_start, |p| p.saturating_sub(MAX_LINE / 4).max(line_start));
            let high = (low + MAX_LINE).min(line_end);
            let low = floor_char(text, low);
            let high = floor_char(text, high);
            let prefix = if low > line_start { "…" } else { "" };
            out.push_str(prefix);
            let window_start = out.len();
            out.push_str(text.get(low..high).unwrap_or_default().trim_end_matches('\n'));
            for p in &here {
                offsets.push((*p, window_start + p.clamp(&low, &high) - low));
            }
            if high < line_end {
                out.push('…');
            }
            if line.ends_with('\n') {
                out.push('\n');
            }
        }
        line_start = line_end;
    }
    (out, offsets)
}

/// The largest char boundary at or below `at`.
fn floor_char(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at.min(text.len())
}

/// Renders one JSON object per diagnostic, one per line.
pub fn json(map: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let record = JsonDiagnostic::new(map, diagnostic);
        // Strings, numbers and vectors only: serde_json fails only on non-string map keys or a failing Serialize impl.
        out.push_str(&serde_json::to_string(&record).expect("invariant: plain data serialises"));
        out.push('\n');
    }
    out
}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<FileId> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
        Severity::Note => cs::Severity::Note,
    };
    let label = |style, l: &Label| {
        cs::Label::new(style, l.span.file, l.span.start as usize..l.span.end as usize).with_message(&l.message)
    };
    let mut labels = vec![label(cs::LabelStyle::Primary, &d.primary)];
    labels.extend(d.secondary.iter().map(|l| label(cs::LabelStyle::Secondary, l)));
    let mut notes = d.notes.clone();
    notes.extend(d.help.iter().map(|h| format!("help: {h}")));
    cs::Diagnostic::new(severity)
        .with_code(d.code.as_str())
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    severity: &'static str,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end: Position,
    labels: Vec<JsonLabel<'a>>,
    notes: &'a [String],
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct Position {
    line: usize,
    column: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    primary: bool,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end: Position,
}

impl<'a> JsonDiagnostic<'a> {
    fn new(map: &'a SourceMap, d: &'a Diagnostic) -> Self {
        let primary = JsonLabel::new(map, &d.primary, true);
        let mut labels = vec![JsonLabel::new(map, &d.primary, true)];
        labels.extend(d.secondary.iter().map(|l| JsonLabel::new(map, l, false)));
        JsonDiagnostic {
            code: d.code.as_str(),
            severity: match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Note => "note",
            },
            message: &d.message,
            file: primary.file,
            line: primary.line,
            column: primary.column,
            end: primary.end,
            labels,
            notes: &d.notes,
            help: d.help.as_deref(),
        }
    }
}

impl<'a> JsonLabel<'a> {
    fn new(map: &'a SourceMap, label: &'a Label, primary: bool) -> Self {
        let (line, column) = map.line_col(label.span.file, label.span.start);
        let (end_line, end_column) = map.line_col(label.span.file, label.span.end);
        JsonLabel {
            primary,
            message: &label.message,
            file: map.name(label.span.file),
            line,
            column,
            end: Position { line: end_line, column: end_column },
        }
    }
}

impl<'a> Files<'a> for SourceMap {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        self.files().get(id.0 as usize).map(|f| f.name.as_str()).ok_or(FilesError::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        self.files().get(id.0 as usize).map(|f| f.text.as_str()).ok_or(FilesError::FileMissing)
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, FilesError> {
        let file = self.files().get(id.0 as usize).ok_or(FilesError::FileMissing)?;
        Ok(file.line_starts().partition_point(|&s| s <= byte_index).saturating_sub(1))
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<std::ops::Range<usize>, FilesError> {
        let file = self.files().get(id.0 as usize).ok_or(FilesError::FileMissing)?;
        let starts = file.line_starts();
        let start = *starts
            .get(line_index)
            .ok_or(FilesError::LineTooLarge { given: line_index, max: starts.len().saturating_sub(1) })?;
        let end = starts.get(line_index + 1).copied().unwrap_or(file.text.len());
        Ok(start..end)
    }
}
