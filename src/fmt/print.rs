//! The formatted file: each statement laid out, the comments and blank lines put back next to
//! the code they were next to, trailing comments aligned.

use super::layout::{CodeLine, Role};
use super::statements::{self, Source};
use crate::ast::{self, Comment, Trivia};

/// A comment or a blank line of the source.
#[derive(Clone, Copy, Debug)]
enum Event {
    Comment(Comment),
    Blank(u32),
}

impl Event {
    fn at(self) -> u32 {
        match self {
            Event::Comment(c) => c.span.start,
            Event::Blank(at) => at,
        }
    }
}

/// One line of output.
#[derive(Debug)]
enum Out {
    Blank,
    Comment { indent: usize, text: String },
    Code { indent: usize, text: String, comment: Option<Trailing> },
}

/// A comment after code on its line, and the column (in characters) where its `#` stood.
#[derive(Debug)]
struct Trailing {
    text: String,
    column: usize,
}

struct Printer<'t> {
    src: Source<'t>,
    events: Vec<Event>,
    /// The first event not yet placed.
    next: usize,
    out: Vec<Out>,
}

/// Formats a parsed file with its trivia.
pub fn print(text: &str, file: &ast::File, trivia: &Trivia) -> String {
    let mut events: Vec<Event> = trivia.comments.iter().map(|c| Event::Comment(*c)).collect();
    events.extend(trivia.blank_lines.iter().map(|b| Event::Blank(b.start)));
    events.sort_by_key(|e| e.at());
    let mut printer = Printer { src: Source { text }, events, next: 0, out: Vec::new() };
    for item in &file.items {
        let span = item.span();
        printer.gap(span.start);
        printer.statement(item, span.end);
    }
    printer.gap(u32::MAX);
    render(printer.out)
}

impl Printer<'_> {
    /// The events before `until`, which stand between statements.
    fn take(&mut self, until: u32) -> Vec<Event> {
        let start = self.next;
        while self.events.get(self.next).is_some_and(|e| e.at() < until) {
            self.next += 1;
        }
        self.events.get(start..self.next).unwrap_or_default().to_vec()
    }

    /// Comments and blank lines between statements: a comment after the previous statement on
    /// its line stays there; the others stand on their own lines, unindented.
    fn gap(&mut self, until: u32) {
        for event in self.take(until) {
            match event {
                Event::Comment(c) if c.trailing => {
                    let trailing = self.trailing(c);
                    self.attach(trailing);
                }
                Event::Comment(c) => self.out.push(Out::Comment { indent: 0, text: self.comment_text(c) }),
                Event::Blank(_) => self.out.push(Out::Blank),
            }
        }
    }

    /// Puts a trailing comment on the last code line; one already there moves above it.
    fn attach(&mut self, trailing: Trailing) {
        let Some(Out::Code { indent, comment, .. }) = self.out.last_mut() else {
            self.out.push(Out::Comment { indent: 0, text: trailing.text });
            return;
        };
        let indent = *indent;
        if let Some(earlier) = comment.replace(trailing) {
            // The `let ... else` above returned unless the last line is code.
            let code = self.out.pop().expect("invariant: the last line is code");
            self.out.push(Out::Comment { indent, text: earlier.text });
            self.out.push(code);
        }
    }

    fn comment_text(&self, comment: Comment) -> String {
        let text = self.src.text.get(comment.span.start as usize..comment.span.end as usize).unwrap_or("#");
        text.trim_end().to_string()
    }

    fn trailing(&self, comment: Comment) -> Trailing {
        let start = comment.span.start as usize;
        let line_start = self.src.text.get(..start).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
        let column = self.src.text.get(line_start..start).map_or(0, |t| t.chars().count());
        Trailing { text: self.comment_text(comment), column }
    }

    /// One statement, laid out in the best of its layouts, with the comments and blank lines
    /// inside it placed.
    fn statement(&mut self, item: &ast::Item, end: u32) {
        let inner = self.take(end);
        let statement = statements::statement(&self.src, item);
        let open_block = statement.block.as_ref().is_some_and(|b| {
            inner.iter().any(|e| matches!(e, Event::Comment(c) if c.span.start > b.open.0 && c.span.start < b.close.0))
        });
        let layouts = statement.layouts(open_block);
        let placed: Vec<Placement> = layouts.iter().map(|lines| place(lines, &inner)).collect();
        // The least broken layout that keeps every comment next to its code and fits; a
        // statement that no layout fits (a long string does not break) stays on one line.
        let score = |(index, (lines, placement)): (usize, (&Vec<CodeLine>, &Placement))| {
            (placement.collisions, !lines.iter().all(CodeLine::fits), index)
        };
        let best = layouts.iter().zip(&placed).enumerate().min_by_key(|&candidate| score(candidate)).map(|(i, _)| i);
        let (Some(lines), Some(placement)) = (best.and_then(|i| layouts.get(i)), best.and_then(|i| placed.get(i)))
        else {
            return;
        };
        self.emit(lines, placement);
    }

    fn emit(&mut self, lines: &[CodeLine], placement: &Placement) {
        for (index, line) in lines.iter().enumerate() {
            for event in placement.before.iter().filter(|(i, _)| *i == index).map(|(_, e)| *e) {
                match event {
                    Event::Comment(c) => {
                        self.out.push(Out::Comment { indent: line.comment_indent(), text: self.comment_text(c) })
                    }
                    // Only a block keeps blank lines inside it: between its specs and comments.
                    Event::Blank(_) if matches!(line.role, Role::Spec { .. } | Role::Close) => {
                        self.out.push(Out::Blank)
                    }
                    Event::Blank(_) => {}
                }
            }
            self.out.push(Out::Code { indent: line.indent, text: line.text.clone(), comment: None });
            for comment in placement.trailing.iter().filter(|(i, _)| *i == index).map(|(_, c)| *c) {
                let trailing = self.trailing(comment);
                self.attach(trailing);
            }
        }
    }
}

/// Where the comments and blank lines inside a statement go in one of its layouts.
#[derive(Debug, Default)]
struct Placement {
    /// Events that stand on their own lines before a line, by line index.
    before: Vec<(usize, Event)>,
    /// Comments at the end of a line, by line index.
    trailing: Vec<(usize, Comment)>,
    /// Comments that cannot stand next to the code they were next to in this layout.
    collisions: usize,
}

/// Places each event: a trailing comment after the code it followed, anything else before the
/// code it preceded. Places stay in the source's order.
fn place(lines: &[CodeLine], events: &[Event]) -> Placement {
    let mut placement = Placement::default();
    let mut floor = (0usize, false);
    for &event in events {
        let at = event.at();
        let trailing = matches!(event, Event::Comment(c) if c.trailing);
        let mut key = if trailing {
            match last_ending_by(lines, at) {
                Some(line) => (line, true),
                None => {
                    placement.collisions += 1;
                    (0, false)
                }
            }
        } else {
            match first_starting_from(lines, at) {
                Some(line) => (line, false),
                None => {
                    placement.collisions += 1;
                    (lines.len().saturating_sub(1), true)
                }
            }
        };
        // Comments keep their order; a blank line that would come before an earlier comment is
        // dropped instead, as it only separated what no longer stands there.
        if key < floor {
            if matches!(event, Event::Blank(_)) {
                continue;
            }
            placement.collisions += 1;
            key = floor;
        }
        if matches!(event, Event::Comment(_)) {
            floor = key;
        }
        let line = lines.get(key.0);
        match (key.1, event) {
            (true, Event::Comment(c)) => {
                // Code after the comment in the source would come before it on this line.
                if line.is_some_and(|l| l.ranges.iter().any(|r| r.0 > at && r.0 < r.1)) {
                    placement.collisions += 1;
                }
                if placement.trailing.iter().any(|(i, _)| *i == key.0) {
                    placement.collisions += 1;
                }
                placement.trailing.push((key.0, c));
            }
            (_, event) => {
                // Code before the comment in the source would come after it.
                if matches!(event, Event::Comment(_))
                    && line.is_some_and(|l| l.ranges.iter().any(|r| r.1 <= at && r.0 < r.1))
                {
                    placement.collisions += 1;
                }
                placement.before.push((key.0, event));
            }
        }
    }
    placement
}

/// The line of the code that ends last at or before `at`; the later line on a tie.
fn last_ending_by(lines: &[CodeLine], at: u32) -> Option<usize> {
    let mut best: Option<(u32, usize)> = None;
    for (index, line) in lines.iter().enumerate() {
        for range in line.ranges.iter().filter(|r| r.1 <= at && r.0 < r.1) {
            if best.is_none_or(|(end, _)| range.1 >= end) {
                best = Some((range.1, index));
            }
        }
    }
    best.map(|(_, index)| index)
}

/// The line of the code that starts first at or after `at`; the later line on a tie (a keyword
/// takes the empty range at the start of what it introduces, which may go on the next line).
fn first_starting_from(lines: &[CodeLine], at: u32) -> Option<usize> {
    let mut best: Option<(u32, usize)> = None;
    for (index, line) in lines.iter().enumerate() {
        for range in line.ranges.iter().filter(|r| r.0 >= at) {
            if best.is_none_or(|(start, _)| range.0 <= start) {
                best = Some((range.0, index));
            }
        }
    }
    best.map(|(_, index)| index)
}

/// The text: blank lines only between other lines, one at a time, never just inside a block's
/// braces; trailing comments of consecutive lines aligned.
fn render(out: Vec<Out>) -> String {
    let mut lines: Vec<Out> = Vec::with_capacity(out.len());
    for line in out {
        if matches!(line, Out::Blank) {
            let after_open = matches!(lines.last(), Some(Out::Code { text, .. }) if text.ends_with('{'));
            if lines.is_empty() || matches!(lines.last(), Some(Out::Blank)) || after_open {
                continue;
            }
        }
        if matches!(&line, Out::Code { text, .. } if text.starts_with('}')) && matches!(lines.last(), Some(Out::Blank))
        {
            lines.pop();
        }
        lines.push(line);
    }
    while matches!(lines.last(), Some(Out::Blank)) {
        lines.pop();
    }
    let columns = comment_columns(&lines);
    let mut text = String::new();
    for (line, column) in lines.iter().zip(columns) {
        match line {
            Out::Blank => {}
            Out::Comment { indent, text: comment } => {
                text.push_str(&" ".repeat(*indent));
                text.push_str(comment);
            }
            Out::Code { indent, text: code, comment } => {
                text.push_str(&" ".repeat(*indent));
                text.push_str(code);
                if let Some(comment) = comment {
                    let width = indent + code.chars().count();
                    text.push_str(&" ".repeat(column.saturating_sub(width).max(2)));
                    text.push_str(&comment.text);
                }
            }
        }
        text.push('\n');
    }
    text
}

/// The column of each line's trailing comment. Consecutive lines with trailing comments share
/// one: the leftmost the author used among them, or two spaces after the longest of their code
/// if that is further right, or if the author's is past the width limit (as after the code was
/// broken into shorter lines). So columns that authors line up by hand stay.
fn comment_columns(lines: &[Out]) -> Vec<usize> {
    let mut columns = vec![0; lines.len()];
    let mut start = 0;
    while start < lines.len() {
        let run = lines
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|l| matches!(l, Out::Code { comment: Some(_), .. }));
        let (mut widest, mut leftmost, mut count) = (0, usize::MAX, 0);
        for line in run {
            if let Out::Code { indent, text, comment: Some(comment) } = line {
                widest = widest.max(indent + text.chars().count());
                leftmost = leftmost.min(comment.column);
                count += 1;
            }
        }
        let column = if leftmost <= super::layout::WIDTH { leftmost.max(widest + 2) } else { widest + 2 };
        for slot in columns.iter_mut().skip(start).take(count) {
            *slot = column;
        }
        start += count.max(1);
    }
    columns
}
