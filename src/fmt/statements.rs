//! Each statement of the syntax tree as layout pieces, its parts in their canonical order.
//!
//! Names, strings, numbers and addresses are written as the author spelt them (escapes, leading
//! zeros and address forms are the author's); spacing, separators and the order of parts are
//! the formatter's.

use super::layout::{Atom, Block, List, ListKind, Piece, Statement};
use crate::ast::{self, Item};
use crate::span::Span;

/// Ranks of lists: which breaks first when a statement is too long.
const FIRST: u8 = 0;
const ENDPOINTS_FROM: u8 = 1;
const ENDPOINTS_TO: u8 = 2;

/// The source text, for what is written as the author spelt it.
pub struct Source<'t> {
    pub text: &'t str,
}

impl Source<'_> {
    fn raw(&self, span: Span) -> &str {
        self.text.get(span.start as usize..span.end as usize).unwrap_or_default()
    }

    fn atom(&self, span: Span) -> Atom {
        Atom { text: self.raw(span).to_string(), range: (span.start, span.end) }
    }
}

fn atom(text: impl Into<String>, span: Span) -> Atom {
    Atom { text: text.into(), range: (span.start, span.end) }
}

/// A keyword or operator, which stands for nothing a comment could follow: it takes the empty
/// range at the start of `span`, the part it introduces.
fn word(text: &str, span: Span) -> Piece {
    Piece::Atom(Atom { text: text.into(), range: (span.start, span.start) })
}

fn path(path: &ast::Path) -> Atom {
    atom(path.text(), path.span)
}

/// The pieces of one statement. One arm per kind of statement, each short: the order of the
/// pieces in each arm is the canonical order of that statement's parts, best read side by side.
pub fn statement(src: &Source<'_>, item: &Item) -> Statement {
    let mut pieces = Vec::new();
    let mut block = None;
    match item {
        Item::Module(m) => {
            pieces.push(word("module", m.span));
            pieces.push(Piece::Atom(path(&m.name)));
            pieces.extend(m.description.iter().map(|d| Piece::Atom(src.atom(d.span))));
        }
        Item::Source(s) => {
            pieces.push(word("source", s.span));
            pieces.push(Piece::Atom(src.atom(s.span)));
        }
        Item::Use(u) => {
            pieces.push(word("use", u.span));
            pieces.push(Piece::Atom(match &u.target {
                ast::UseTarget::Stdlib(p) => path(p),
                ast::UseTarget::File(f) => src.atom(f.span),
            }));
            if let Some(alias) = &u.alias {
                pieces.push(word("as", alias.span));
                pieces.push(Piece::Atom(atom(&alias.name, alias.span)));
            }
        }
        Item::Flag(f) => {
            declaration(&mut pieces, "flag", &f.name);
            description(src, &mut pieces, &f.description);
            if let Some(default) = f.default {
                pieces.push(word("=", default.span));
                pieces.push(Piece::Atom(src.atom(default.span)));
            }
        }
        Item::Option(o) => {
            declaration(&mut pieces, "option", &o.name);
            let first = o.choices.first().map_or(o.name.span, |c| c.span);
            pieces.push(word("=", first));
            let choices = o.choices.iter().map(|c| atom(&c.name, c.span)).collect();
            pieces.push(Piece::List(List { kind: ListKind::Union, items: choices, rank: FIRST }));
            description(src, &mut pieces, &o.description);
            if let Some(default) = &o.default {
                pieces.push(word("=", default.span));
                pieces.push(Piece::Atom(atom(&default.name, default.span)));
            }
        }
        Item::Param(p) => {
            declaration(&mut pieces, "param", &p.name);
            description(src, &mut pieces, &p.description);
            if let Some(default) = p.default {
                pieces.push(word("=", default.span));
                pieces.push(Piece::Atom(src.atom(default.span)));
            }
        }
        Item::Role(r) => {
            declaration(&mut pieces, "role", &r.name);
            description(src, &mut pieces, &r.description);
        }
        Item::External(e) => {
            declaration(&mut pieces, "external", &e.name);
            if let Some(first) = e.addresses.first() {
                pieces.push(word("=", first.span));
                let addresses = e.addresses.iter().map(|a| src.atom(a.span)).collect();
                pieces.push(Piece::List(List { kind: ListKind::Comma, items: addresses, rank: FIRST }));
            }
            description(src, &mut pieces, &e.description);
        }
        Item::Group(g) => {
            declaration(&mut pieces, "group", &g.name);
            let first = g.members.first().map_or(g.name.span, |m| m.span);
            pieces.push(word("=", first));
            let members = g.members.iter().map(path).collect();
            pieces.push(Piece::List(List { kind: ListKind::Union, items: members, rank: FIRST }));
            description(src, &mut pieces, &g.description);
        }
        Item::Service(s) => {
            declaration(&mut pieces, "service", &s.name);
            pieces.push(word("=", s.spec.span));
            pieces.push(Piece::Atom(atom(proto_spec(src, &s.spec), s.spec.span)));
            description(src, &mut pieces, &s.description);
        }
        Item::Note(n) => {
            pieces.push(word("note", n.span));
            pieces.push(Piece::Atom(atom(&n.label.label, n.label.span)));
            pieces.push(Piece::Atom(src.atom(n.text.span)));
            if let Some(when) = &n.when {
                pieces.push(Piece::Atom(atom(format!("when {}", expr(when)), when.span())));
            }
            if let Some(local) = n.local {
                pieces.push(word("local", local));
            }
        }
        Item::Flow(flow) => block = self::flow(src, &mut pieces, flow),
        Item::Never(flow) => {
            pieces.push(word("never", flow.span));
            block = self::flow(src, &mut pieces, flow);
        }
        Item::Set(s) => {
            pieces.push(word("set", s.span));
            pieces.push(Piece::Atom(path(&s.name)));
            let value = match &s.value {
                ast::SetValue::Bool(b) => src.atom(b.span),
                ast::SetValue::Port(p) => src.atom(p.span),
                ast::SetValue::Name(p) => path(p),
            };
            pieces.push(word("=", Span { start: value.range.0, end: value.range.1, ..s.span }));
            pieces.push(Piece::Atom(value));
        }
        Item::Bind(b) => {
            pieces.push(word("bind", b.span));
            pieces.push(Piece::Atom(path(&b.name)));
            match &b.target {
                ast::BindTarget::Addresses(addresses) => {
                    let first = addresses.first().map_or(b.name.span, |a| a.span);
                    pieces.push(word("=", first));
                    let items = addresses.iter().map(|a| src.atom(a.span)).collect();
                    pieces.push(Piece::List(List { kind: ListKind::Comma, items, rank: FIRST }));
                }
                ast::BindTarget::Selector(selector) => {
                    pieces.push(word("=", selector.span));
                    self::selector(src, &mut pieces, selector);
                }
            }
        }
    }
    Statement { pieces, block }
}

fn declaration(pieces: &mut Vec<Piece>, keyword: &str, name: &ast::Ident) {
    pieces.push(word(keyword, name.span));
    pieces.push(Piece::Atom(atom(&name.name, name.span)));
}

fn description(src: &Source<'_>, pieces: &mut Vec<Piece>, description: &Option<ast::Text>) {
    pieces.extend(description.iter().map(|d| Piece::Atom(src.atom(d.span))));
}

fn selector(src: &Source<'_>, pieces: &mut Vec<Piece>, selector: &ast::Selector) {
    let kind = match selector.kind {
        ast::SelectorKind::Pods => "pods",
        ast::SelectorKind::Nodes => "nodes",
    };
    pieces.push(word(kind, selector.span));
    let labels = selector
        .labels
        .iter()
        .map(|(key, value)| atom(format!("{}: {}", src.raw(key.span), src.raw(value.span)), key.span.to(value.span)))
        .collect();
    pieces.push(Piece::List(List { kind: ListKind::Braced, items: labels, rank: FIRST }));
    if let Some(namespace) = &selector.namespace {
        pieces.push(word("in", namespace.span));
        pieces.push(word("namespace", namespace.span));
        pieces.push(Piece::Atom(src.atom(namespace.span)));
    }
}

/// A flow's pieces, and its block if it has one.
fn flow(src: &Source<'_>, pieces: &mut Vec<Piece>, flow: &ast::Flow) -> Option<Block> {
    pieces.push(Piece::List(List { kind: ListKind::Union, items: endpoints(&flow.from), rank: ENDPOINTS_FROM }));
    let arrow = flow.to.first().map_or(flow.span, endpoint_span);
    pieces.push(word("->", arrow));
    pieces.push(Piece::List(List { kind: ListKind::Union, items: endpoints(&flow.to), rank: ENDPOINTS_TO }));
    let specs = flow.specs.iter().map(|s| atom(spec(src, s), s.span));
    match flow.body {
        ast::FlowBody::Inline => {
            let colon = flow.specs.first().map_or(flow.span, |s| s.span);
            pieces.push(word(":", colon));
            pieces.push(Piece::List(List { kind: ListKind::Comma, items: specs.collect(), rank: FIRST }));
            None
        }
        ast::FlowBody::Block { open, close } => {
            pieces.extend(modifiers(src, &flow.modifiers).into_iter().map(Piece::Atom));
            Some(Block { open: (open.start, open.end), close: (close.start, close.end), specs: specs.collect() })
        }
    }
}

fn endpoints(endpoints: &[ast::Endpoint]) -> Vec<Atom> {
    endpoints
        .iter()
        .map(|e| match e {
            ast::Endpoint::Name(p) => path(p),
            ast::Endpoint::SelfNode(span) => atom("self", *span),
        })
        .collect()
}

fn endpoint_span(endpoint: &ast::Endpoint) -> Span {
    match endpoint {
        ast::Endpoint::Name(p) => p.span,
        ast::Endpoint::SelfNode(span) => *span,
    }
}

/// A spec on one line: its head, then its modifiers in their canonical order.
fn spec(src: &Source<'_>, spec: &ast::Spec) -> String {
    let head = match &spec.kind {
        ast::SpecKind::Proto(p) => proto_spec(src, p),
        ast::SpecKind::Service(p) => p.text(),
    };
    let mut parts = vec![head];
    parts.extend(modifiers(src, &spec.modifiers).into_iter().map(|a| a.text));
    parts.join(" ")
}

/// `tcp/udp 53, 5353-5354, dns_port` or `ipip`.
fn proto_spec(src: &Source<'_>, spec: &ast::ProtoSpec) -> String {
    let protocols: Vec<&str> = spec.protocols.iter().map(|(p, _)| p.name()).collect();
    let mut text = protocols.join("/");
    let ports: Vec<String> = spec
        .ports
        .iter()
        .map(|item| match item {
            ast::PortItem::Single(p) => src.raw(p.span).to_string(),
            ast::PortItem::Range { start, end, .. } => format!("{}-{}", src.raw(start.span), src.raw(end.span)),
            ast::PortItem::Param(p) => p.text(),
        })
        .collect();
    if !ports.is_empty() {
        text.push(' ');
        text.push_str(&ports.join(", "));
    }
    text
}

/// Modifiers in their canonical order: notes, `when`, description, `local`, `management`.
fn modifiers(src: &Source<'_>, m: &ast::Modifiers) -> Vec<Atom> {
    let mut out = Vec::new();
    if let (Some(first), Some(last)) = (m.notes.first(), m.notes.last()) {
        let labels: Vec<&str> = m.notes.iter().map(|n| n.label.as_str()).collect();
        out.push(atom(format!("[{}]", labels.join(", ")), first.span.to(last.span)));
    }
    if let Some(when) = &m.when {
        out.push(atom(format!("when {}", expr(when)), when.span()));
    }
    if let Some(description) = &m.description {
        out.push(src.atom(description.span));
    }
    if let Some(local) = m.local {
        out.push(atom("local", local));
    }
    if let Some(management) = m.management {
        out.push(atom("management", management));
    }
    out
}

/// A condition with one space around `&&`, `||`, `==` and `!=`, and its parentheses as written.
pub fn expr(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Bool(b) => b.value.to_string(),
        ast::Expr::Name(p) => p.text(),
        ast::Expr::Compare { left, equal, right, .. } => {
            let right = match right {
                ast::CompareValue::Bool(b) => b.value.to_string(),
                ast::CompareValue::Name(p) => p.text(),
            };
            format!("{} {} {right}", left.text(), if *equal { "==" } else { "!=" })
        }
        ast::Expr::Not(inner, _) => format!("!{}", expr(inner)),
        ast::Expr::And(terms, _) => terms.iter().map(expr).collect::<Vec<_>>().join(" && "),
        ast::Expr::Or(terms, _) => terms.iter().map(expr).collect::<Vec<_>>().join(" || "),
        ast::Expr::Paren(inner, _) => format!("({})", expr(inner)),
    }
}
