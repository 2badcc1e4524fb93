//! Cheap scans of raw text that run before and between pest calls: statement starts for
//! error recovery, and parenthesis depth; and the trivia (comments, blank lines) that the
//! syntax tree leaves out.

use crate::ast::{Comment, Trivia};
use crate::span::{FileId, Span};

/// Tracks whether a byte is inside a string or a comment, so the scans below see only code.
/// Strings and comments end at the end of their line.
#[derive(Default)]
struct CodeBytes {
    in_string: bool,
    escaped: bool,
    in_comment: bool,
}

impl CodeBytes {
    /// Feeds one byte; returns it when it is code (newlines always are).
    fn feed(&mut self, b: u8) -> Option<u8> {
        if b == b'\n' {
            *self = CodeBytes::default();
            return Some(b);
        }
        if self.in_comment {
            return None;
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return None;
        }
        match b {
            b'#' => self.in_comment = true,
            b'"' => self.in_string = true,
            _ => return Some(b),
        }
        None
    }
}

/// Offsets of the first `(` past `limit` in each run of too-deep nesting, outside strings and comments.
/// It reads the whole file before parsing, so it skips through comments, strings and plain bytes
/// with simple searches instead of feeding `CodeBytes` every byte; `too_deep_reference` in the
/// tests is that plainer version.
pub fn too_deep(text: &str, limit: usize) -> Vec<usize> {
    let bytes = text.as_bytes();
    let next = |from: usize, wanted: fn(u8) -> bool| {
        bytes.get(from..).and_then(|rest| rest.iter().position(|&b| wanted(b))).map_or(bytes.len(), |i| from + i)
    };
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut i = next(0, |b| matches!(b, b'(' | b')' | b'\n' | b'#' | b'"'));
    while let Some(&b) = bytes.get(i) {
        match b {
            b'(' => {
                depth += 1;
                if depth == limit + 1 {
                    found.push(i);
                }
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            // Parentheses never span statements; reset so one bad statement cannot poison the rest.
            b'\n' => {
                if depth > limit {
                    depth = 0;
                }
                i += 1;
            }
            // A comment runs to the end of its line; the newline is code.
            b'#' => i = next(i, |b| b == b'\n'),
            // A string ends at its closing quote or, unclosed, at the end of its line.
            _ => {
                let mut j = i + 1;
                loop {
                    j = next(j, |b| matches!(b, b'"' | b'\\' | b'\n'));
                    match bytes.get(j) {
                        Some(b'"') => break j += 1,
                        // An escape takes the next byte, unless that byte ends the line.
                        Some(b'\\') if bytes.get(j + 1) != Some(&b'\n') => j += 2,
                        Some(b'\\') => j += 1,
                        _ => break,
                    }
                }
                i = j;
                continue;
            }
        }
        i = next(i, |b| matches!(b, b'(' | b')' | b'\n' | b'#' | b'"'));
    }
    found
}

/// `too_deep` as the byte-by-byte scan it replaced, which the tests compare it with.
#[cfg(test)]
fn too_deep_reference(text: &str, limit: usize) -> Vec<usize> {
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut code = CodeBytes::default();
    for (i, b) in text.bytes().enumerate() {
        match code.feed(b) {
            Some(b'(') => {
                depth += 1;
                if depth == limit + 1 {
                    found.push(i);
                }
            }
            Some(b')') => depth = depth.saturating_sub(1),
            // Parentheses never span statements; reset so one bad statement cannot poison the rest.
            Some(b'\n') if depth > limit => depth = 0,
            _ => {}
        }
    }
    found
}

/// The comments and blank lines of a file: what the syntax tree leaves out.
/// A lexical scan that knows strings and comments only, as `CodeBytes` does: a `#` in a string
/// starts no comment, and both end at the end of their line.
pub fn trivia(file: FileId, text: &str) -> Trivia {
    let mut trivia = Trivia::default();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let mut code = CodeBytes::default();
        let hash = body.bytes().position(|b| code.feed(b).is_none() && b == b'#' && code.in_comment);
        match hash {
            Some(at) => {
                let trailing = body.get(..at).is_some_and(|before| !before.trim().is_empty());
                let span = Span::new(file, line_start + at, line_start + body.len());
                trivia.comments.push(Comment { span, trailing });
            }
            None if body.trim().is_empty() && !line.is_empty() && line.ends_with('\n') => {
                trivia.blank_lines.push(Span::new(file, line_start, line_start + body.len()));
            }
            None => {}
        }
        line_start += line.len();
    }
    trivia
}

/// The words of a statement's code, outside strings and comments: the names it may declare or
/// mention, and the digits of its note labels and ports.
pub fn code_words(text: &str) -> impl Iterator<Item = &str> {
    let mut code = CodeBytes::default();
    let mask: Vec<bool> =
        text.bytes().map(|b| code.feed(b).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')).collect();
    let mut words = Vec::new();
    let mut start = None;
    for (i, &word_byte) in mask.iter().chain(std::iter::once(&false)).enumerate() {
        match (word_byte, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.extend(text.get(s..i));
                start = None;
            }
            _ => {}
        }
    }
    words.into_iter()
}

/// Bytes of white space and comments at the start of `text`.
pub fn leading_trivia(text: &str) -> usize {
    let mut i = 0;
    let bytes = text.as_bytes();
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'#' {
            i += bytes.get(i..).and_then(|r| r.iter().position(|&c| c == b'\n')).unwrap_or(bytes.len() - i);
        } else {
            break;
        }
    }
    i
}

/// Where to resume after a syntax error at `from` in the statement starting at `start`:
/// the first later line outside the statement's braces that starts a statement, or that starts
/// with a name in the first column (a likely statement, even if a broken one), or the end of the text.
pub fn next_statement(text: &str, start: usize, from: usize) -> usize {
    first_line_after(text, start, |line_start, line| {
        line_start >= from
            && (line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') || starts_statement(line))
    })
}

/// An upper bound for the end of the statement that starts at `start`: the first later line,
/// outside braces, strings and comments, that starts with a statement keyword or a flow's `a ->`.
/// No statement continues on such a line, so pest can be handed just this slice; this keeps
/// each parse (and pest's error reporting, which scans its whole input) proportional to the
/// statement, not to the rest of the file.
pub fn statement_end(text: &str, start: usize) -> usize {
    first_line_after(text, start, |_, line| starts_statement(line))
}

/// The start of the first line after `start`, at brace depth zero counted from `start`, that
/// `wanted(line_start, line)` accepts; or the end of the text.
fn first_line_after(text: &str, start: usize, wanted: impl Fn(usize, &str) -> bool) -> usize {
    let mut depth = 0i64;
    let mut code = CodeBytes::default();
    for (i, b) in text.bytes().enumerate().skip(start) {
        match code.feed(b) {
            Some(b'{') => depth += 1,
            Some(b'}') => depth -= 1,
            Some(b'\n') if depth <= 0 => {
                let line_start = i + 1;
                let line = text.get(line_start..).unwrap_or_default().split('\n').next().unwrap_or_default();
                if wanted(line_start, line) {
                    return line_start;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// Whether no newline separates `a` from `b`.
pub fn same_line(text: &str, a: usize, b: usize) -> bool {
    text.get(a.min(b)..a.max(b)).is_some_and(|between| !between.contains('\n'))
}

fn starts_statement(line: &str) -> bool {
    let line = line.trim_start();
    let word_len = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(line.len());
    let (word, rest) = line.split_at(word_len);
    if word.is_empty() {
        return false;
    }
    if super::keywords::STATEMENT.contains(&word) {
        return true;
    }
    // A flow: `a -> b` or `a | b -> c`.
    let mut rest = rest.trim_start();
    while let Some(after) = rest.strip_prefix('|') {
        let after = after.trim_start();
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(after.len());
        rest = after.get(len..).unwrap_or_default().trim_start();
    }
    rest.starts_with("->")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_statement_starts() {
        let text = "role a \"x\" oops\n  tcp 1\n  b | c -> d : tcp 1\n";
        assert_eq!(next_statement(text, 0, 0), text.find("  b |").unwrap_or(0));
        assert_eq!(next_statement(text, 0, text.len() - 1), text.len());
    }

    #[test]
    fn an_error_at_a_line_start_resumes_on_that_line() {
        let text = "a b\nrole c\n";
        let at = text.find("role").unwrap_or(0);
        assert_eq!(next_statement(text, 0, at), at);
    }

    #[test]
    fn skips_the_rest_of_a_broken_block() {
        let text = "a -> b {\n  tcp oops oops\nudp 1\n}\nrole c\n";
        assert_eq!(next_statement(text, 0, 12), text.find("role c").unwrap_or(0));
    }

    #[test]
    fn the_fast_depth_scan_agrees_with_the_byte_by_byte_one() {
        const PIECES: &[&str] = &["(", ")", "\"", "\\", "#", "\n", "a", " ", "((", "))", "\\\n", "\\\""];
        let mut seed = 7u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                text.push_str(PIECES.get((seed >> 33) as usize % PIECES.len()).copied().unwrap_or_default());
            }
            for limit in [0, 1, 2, 3] {
                assert_eq!(too_deep(&text, limit), too_deep_reference(&text, limit), "{text:?} at {limit}");
            }
        }
    }

    #[test]
    fn trivia_are_the_comments_and_blank_lines_outside_strings() {
        let text = "# head\n\nrole a \"x # y\" # trailing\n  \t\nrole b\n#last";
        let trivia = trivia(FileId(0), text);
        let comments: Vec<(&str, bool)> = trivia
            .comments
            .iter()
            .map(|c| (text.get(c.span.start as usize..c.span.end as usize).unwrap_or_default(), c.trailing))
            .collect();
        assert_eq!(comments, [("# head", false), ("# trailing", true), ("#last", false)]);
        let blanks: Vec<&str> =
            trivia.blank_lines.iter().map(|b| text.get(b.start as usize..b.end as usize).unwrap_or("?")).collect();
        assert_eq!(blanks, ["", "  \t"]);
    }

    #[test]
    fn code_words_skip_strings_and_comments() {
        let words: Vec<&str> = code_words("a -> k8s.b : tcp 80 [3] \"not words\" # nor these\nrol c").collect();
        assert_eq!(words, ["a", "k8s", "b", "tcp", "80", "3", "rol", "c"]);
    }

    #[test]
    fn depth_ignores_strings_and_comments() {
        assert!(too_deep("\"((((\" # ((((\n", 2).is_empty());
        assert_eq!(too_deep("a -> b : ipip when (((x)))", 2), vec![21]);
    }
}
