//! A statement as pieces of text that lay out on one line or, broken at their lists, on several;
//! and the choice among those layouts.

/// Code lines longer than this (in characters) are broken at their lists, where they have any.
pub const WIDTH: usize = 100;
/// Blocks and broken lists indent by this much.
pub const INDENT: usize = 2;

/// A source range, by byte offsets: what a piece of output stands for, so comments can be placed
/// next to the code they were next to.
pub type Range = (u32, u32);

/// Text that is never broken, with the source it stands for.
#[derive(Clone, Debug)]
pub struct Atom {
    pub text: String,
    pub range: Range,
}

/// A statement's pieces, separated by one space; and for a block flow, its block.
#[derive(Clone, Debug, Default)]
pub struct Statement {
    pub pieces: Vec<Piece>,
    pub block: Option<Block>,
}

#[derive(Clone, Debug)]
pub enum Piece {
    Atom(Atom),
    List(List),
}

/// Items that may go one per line.
#[derive(Clone, Debug)]
pub struct List {
    pub kind: ListKind,
    pub items: Vec<Atom>,
    /// Lists with a lower rank break first.
    pub rank: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// `a, b`: broken, each item on a line of its own after the piece before the list, with its comma.
    Comma,
    /// `a | b`: broken, the first item stays, each other one starts a line with `| `.
    Union,
    /// `{ a, b }`: broken, the items go between a `{` that ends a line and a `}` that starts one.
    Braced,
}

/// The specs of a block flow, one per line.
#[derive(Clone, Debug)]
pub struct Block {
    pub open: Range,
    pub close: Range,
    pub specs: Vec<Atom>,
}

/// What a line of a statement is, for the blank lines and comments placed before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The first line of a statement, or a line that continues it.
    Code,
    /// A spec of a block: `first` when it is the block's first.
    Spec { first: bool },
    /// The `}` of a block.
    Close,
}

/// One line of a laid-out statement.
#[derive(Clone, Debug)]
pub struct CodeLine {
    pub indent: usize,
    pub text: String,
    /// The source ranges of what the line holds.
    pub ranges: Vec<Range>,
    /// How much of the width is strings (descriptions, titles, note texts, labels), which
    /// nothing breaks.
    pub strings: usize,
    pub role: Role,
}

impl CodeLine {
    pub fn width(&self) -> usize {
        self.indent + self.text.chars().count()
    }

    /// Whether the line is short enough, not counting its strings: lines are broken to
    /// shorten lists, and a line that is long because of its descriptions stays as it is.
    pub fn fits(&self) -> bool {
        self.width().saturating_sub(self.strings) <= WIDTH
    }

    /// How far comments that stand on their own line before this one are indented.
    pub fn comment_indent(&self) -> usize {
        match self.role {
            Role::Close => self.indent + INDENT,
            _ => self.indent,
        }
    }
}

impl Statement {
    /// The statement's lists, in the order they break (`List::rank`, then position); lists of one
    /// item are left out, as breaking them gains nothing.
    fn breakable(&self) -> Vec<usize> {
        let mut lists: Vec<(u8, usize)> = self
            .pieces
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Piece::List(list) if list.items.len() > 1 => Some((list.rank, i)),
                _ => None,
            })
            .collect();
        lists.sort_unstable();
        lists.into_iter().map(|(_, i)| i).collect()
    }

    /// The layouts to choose from: on one line, then with one more list broken each time.
    pub fn layouts(&self, open_block: bool) -> Vec<Vec<CodeLine>> {
        let order = self.breakable();
        (0..=order.len())
            .map(|n| {
                let broken = order.get(..n).unwrap_or_default();
                self.lay_out(&|piece| broken.contains(&piece), open_block)
            })
            .collect()
    }

    /// Lays the statement out with the lists at the pieces `broken` says broken. A block without
    /// specs stays `{}` unless `open_block` (comments go inside it).
    fn lay_out(&self, broken: &dyn Fn(usize) -> bool, open_block: bool) -> Vec<CodeLine> {
        let mut out = Lines { done: Vec::new(), line: CodeLine::new(0, Role::Code), labels: false };
        for (index, piece) in self.pieces.iter().enumerate() {
            out.labels = matches!(piece, Piece::List(List { kind: ListKind::Braced, .. }));
            match piece {
                Piece::Atom(atom) => out.push(" ", atom),
                Piece::List(list) if broken(index) => out.broken(list),
                Piece::List(list) => out.flat(list),
            }
            out.labels = false;
        }
        if let Some(block) = &self.block {
            out.block(block, open_block);
        }
        out.done.push(out.line);
        out.done
    }
}

impl CodeLine {
    fn new(indent: usize, role: Role) -> Self {
        CodeLine { indent, text: String::new(), ranges: Vec::new(), strings: 0, role }
    }
}

/// Lines being laid out: those done, and the current one.
struct Lines {
    done: Vec<CodeLine>,
    line: CodeLine,
    /// Laying out a selector's labels, whose strings are keys and values that breaking the list
    /// puts on lines of their own, not descriptions.
    labels: bool,
}

impl Lines {
    /// Appends an atom after `separator`, or alone at the start of a line.
    fn push(&mut self, separator: &str, atom: &Atom) {
        if !self.line.text.is_empty() {
            self.line.text.push_str(separator);
        }
        self.line.text.push_str(&atom.text);
        self.line.ranges.push(atom.range);
        if !self.labels {
            self.line.strings += string_width(&atom.text);
        }
    }

    fn text(&mut self, text: &str) {
        self.line.text.push_str(text);
    }

    fn new_line(&mut self, indent: usize, role: Role) {
        let line = std::mem::replace(&mut self.line, CodeLine::new(indent, role));
        self.done.push(line);
    }

    fn flat(&mut self, list: &List) {
        let separator = match list.kind {
            ListKind::Union => " | ",
            ListKind::Comma | ListKind::Braced => ", ",
        };
        if list.kind == ListKind::Braced {
            self.text(if list.items.is_empty() { " {}" } else { " {" });
        }
        for (i, item) in list.items.iter().enumerate() {
            self.push(if i == 0 { " " } else { separator }, item);
        }
        if list.kind == ListKind::Braced && !list.items.is_empty() {
            self.text(" }");
        }
    }

    /// Continuation lines indent from the statement's first line, however many lists broke.
    fn broken(&mut self, list: &List) {
        let indent = self.done.first().map_or(self.line.indent, |l| l.indent);
        let last = list.items.len().saturating_sub(1);
        match list.kind {
            ListKind::Comma => {
                for (i, item) in list.items.iter().enumerate() {
                    self.new_line(indent + INDENT, Role::Code);
                    self.push("", item);
                    if i < last {
                        self.text(",");
                    }
                }
            }
            ListKind::Union => {
                for (i, item) in list.items.iter().enumerate() {
                    if i > 0 {
                        self.new_line(indent + INDENT, Role::Code);
                        self.text("| ");
                    }
                    self.push(if i > 0 { "" } else { " " }, item);
                }
            }
            ListKind::Braced => {
                self.text(" {");
                for item in &list.items {
                    self.new_line(indent + INDENT, Role::Code);
                    self.push("", item);
                    self.text(",");
                }
                self.new_line(indent, Role::Code);
                self.text("}");
            }
        }
    }

    fn block(&mut self, block: &Block, open_block: bool) {
        let indent = self.done.first().map_or(self.line.indent, |l| l.indent);
        if block.specs.is_empty() && !open_block {
            self.push(" ", &Atom { text: "{}".into(), range: (block.open.0, block.close.1) });
            return;
        }
        self.push(" ", &Atom { text: "{".into(), range: block.open });
        for (i, spec) in block.specs.iter().enumerate() {
            self.new_line(indent + INDENT, Role::Spec { first: i == 0 });
            self.push("", spec);
        }
        self.new_line(indent, Role::Close);
        self.push("", &Atom { text: "}".into(), range: block.close });
    }
}

/// The characters of the string literals in `text`, quotes included.
fn string_width(text: &str) -> usize {
    let (mut width, mut inside, mut escaped) = (0, false, false);
    for c in text.chars() {
        if inside || c == '"' {
            width += 1;
        }
        match c {
            _ if escaped => escaped = false,
            '\\' if inside => escaped = true,
            '"' => inside = !inside,
            _ => {}
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(text: &str, at: u32) -> Atom {
        Atom { text: text.into(), range: (at, at + 1) }
    }

    fn texts(lines: &[CodeLine]) -> Vec<String> {
        lines.iter().map(|l| format!("{}{}", " ".repeat(l.indent), l.text)).collect()
    }

    #[test]
    fn each_list_kind_breaks_its_own_way() {
        let list = |kind, rank| Piece::List(List { kind, items: vec![atom("a", 1), atom("b", 2)], rank });
        let statement = Statement {
            pieces: vec![
                Piece::Atom(atom("x", 0)),
                list(ListKind::Union, 1),
                Piece::Atom(atom("=", 3)),
                list(ListKind::Comma, 0),
                list(ListKind::Braced, 2),
            ],
            block: None,
        };
        let layouts: Vec<Vec<String>> = statement.layouts(false).iter().map(|l| texts(l)).collect();
        assert_eq!(layouts.first().map(Vec::as_slice), Some(["x a | b = a, b { a, b }".to_string()].as_slice()));
        assert_eq!(layouts.last().map(|l| l.join("\n")), Some("x a\n  | b =\n  a,\n  b {\n  a,\n  b,\n}".into()));
    }
}
