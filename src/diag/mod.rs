//! Diagnostics: the stable codes, the `Diagnostic` type every stage returns, and the source map.

mod code;
pub mod render;

pub use code::Code;

use crate::span::{FileId, Span};

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Note,
    Warning,
    Error,
}

/// A span with a message, pointing into a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in the user's files, with everything needed to explain it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// Lower case, no trailing period.
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at the severity its code carries.
    pub fn new(code: Code, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            primary: Label { span, message: label.into() },
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label { span, message: message.into() });
        self
    }

    /// `with_secondary` for a diagnostic held by reference.
    pub fn add_secondary(&mut self, span: Span, message: impl Into<String>) -> &mut Self {
        self.secondary.push(Label { span, message: message.into() });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean `x`?" when a candidate is close enough to `name`.
    pub fn with_suggestion<'a>(self, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match suggest(name, candidates) {
            Some(best) => self.with_help(format!("did you mean `{best}`?")),
            None => self,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The closest candidate to `name`, if any is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(name, candidate);
        // Ties go to the alphabetically first candidate, so the hint is deterministic.
        let better = match best {
            None => true,
            Some((s, c)) => score > s || (score == s && candidate < c),
        };
        if better {
            best = Some((score, candidate));
        }
    }
    best.filter(|(score, _)| *score >= 0.8).map(|(_, c)| c)
}

/// Sorts diagnostics by file and position, so output does not depend on the order stages ran.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| (d.primary.span.file, d.primary.span.start, d.primary.span.end, d.code);
        key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message))
    });
}

/// One source file: its display name and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

/// Every file a compilation read, indexed by `FileId`.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        // Each file is read into memory first; 2^32 of them cannot be loaded in one process.
        let id = FileId(u32::try_from(self.files.len()).expect("invariant: fewer than 2^32 files"));
        self.files.push(SourceFile { name: name.into(), text, line_starts });
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        // FileIds are handed out only by `add` on this map, and files are never removed.
        self.files.get(id.0 as usize).expect("invariant: FileIds come from this map")
    }

    pub fn name(&self, id: FileId) -> &str {
        &self.get(id).name
    }

    pub fn text(&self, id: FileId) -> &str {
        &self.get(id).text
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, id: FileId, offset: u32) -> usize {
        let file = self.get(id);
        let offset = (offset as usize).min(file.text.len());
        file.line_starts.partition_point(|&s| s <= offset).max(1)
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: FileId, offset: u32) -> (usize, usize) {
        let file = self.get(id);
        let offset = (offset as usize).min(file.text.len());
        let line = file.line_starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = file.line_starts.get(line).copied().unwrap_or(0);
        let column = file.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }

    pub(crate) fn files(&self) -> &[SourceFile] {
        &self.files
    }
}

impl SourceFile {
    pub(crate) fn line_starts(&self) -> &[usize] {
        &self.line_starts
    }
}
