//! The outline of a document: its declarations (an option with its choices), flows, `never`s,
//! `set`s and `bind`s, in order.

use lsp_types::{DocumentSymbol, SymbolKind};

use super::lookup::slice;
use super::text::Lines;
use crate::analysis::Analysis;
use crate::ast::{Endpoint, Item};
use crate::span::Span;

pub fn symbols(analysis: &Analysis, lines: &Lines<'_>) -> Vec<DocumentSymbol> {
    let Some(root) = analysis.modules.first() else { return Vec::new() };
    root.ast.items.iter().filter_map(|item| symbol(analysis, lines, item)).collect()
}

fn symbol(analysis: &Analysis, lines: &Lines<'_>, item: &Item) -> Option<DocumentSymbol> {
    let (name, detail, kind, selection) = match item {
        Item::Module(m) => {
            (m.name.text(), m.description.as_ref().map(|d| d.value.clone()), SymbolKind::MODULE, m.name.span)
        }
        Item::Use(u) => {
            let target = match &u.target {
                crate::ast::UseTarget::Stdlib(p) => p.span,
                crate::ast::UseTarget::File(t) => t.span,
            };
            (format!("use {}", slice(analysis, target)), None, SymbolKind::NAMESPACE, target)
        }
        Item::Flag(d) => (d.name.name.clone(), text(&d.description), SymbolKind::BOOLEAN, d.name.span),
        Item::Option(d) => (d.name.name.clone(), text(&d.description), SymbolKind::ENUM, d.name.span),
        Item::Param(d) => (d.name.name.clone(), text(&d.description), SymbolKind::CONSTANT, d.name.span),
        Item::Role(d) => (d.name.name.clone(), text(&d.description), SymbolKind::CLASS, d.name.span),
        Item::External(d) => (d.name.name.clone(), text(&d.description), SymbolKind::INTERFACE, d.name.span),
        Item::Group(d) => (d.name.name.clone(), text(&d.description), SymbolKind::ARRAY, d.name.span),
        Item::Service(d) => (d.name.name.clone(), text(&d.description), SymbolKind::FUNCTION, d.name.span),
        Item::Note(d) => {
            (format!("note {}", d.label.label), Some(d.text.value.clone()), SymbolKind::STRING, d.label.span)
        }
        Item::Flow(f) | Item::Never(f) => {
            let never = if matches!(item, Item::Never(_)) { "never " } else { "" };
            let name = format!("{never}{} -> {}", endpoints(analysis, &f.from), endpoints(analysis, &f.to));
            (name, None, SymbolKind::EVENT, f.span)
        }
        Item::Set(s) => (format!("set {}", s.name.text()), None, SymbolKind::PROPERTY, s.name.span),
        Item::Bind(b) => (format!("bind {}", b.name.text()), None, SymbolKind::PROPERTY, b.name.span),
        Item::Source(_) => return None,
    };
    let children = match item {
        Item::Option(o) => Some(
            o.choices.iter().map(|c| leaf(lines, c.name.clone(), SymbolKind::ENUM_MEMBER, c.span, c.span)).collect(),
        ),
        _ => None,
    };
    let mut symbol = leaf(lines, name, kind, item.span(), selection);
    symbol.detail = detail;
    symbol.children = children;
    Some(symbol)
}

fn text(description: &Option<crate::ast::Text>) -> Option<String> {
    description.as_ref().map(|d| d.value.clone())
}

fn endpoints(analysis: &Analysis, endpoints: &[Endpoint]) -> String {
    let names: Vec<&str> = endpoints
        .iter()
        .map(|e| match e {
            Endpoint::Name(path) => slice(analysis, path.span),
            Endpoint::SelfNode(_) => "self",
        })
        .collect();
    names.join(" | ")
}

#[allow(deprecated)] // `deprecated` is a field the protocol keeps and every literal must name.
fn leaf(lines: &Lines<'_>, name: String, kind: SymbolKind, whole: Span, selection: Span) -> DocumentSymbol {
    DocumentSymbol {
        name,
        detail: None,
        kind,
        tags: None,
        deprecated: None,
        range: lines.range(whole.start, whole.end),
        selection_range: lines.range(selection.start, selection.end),
        children: None,
    }
}
