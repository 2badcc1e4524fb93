//! Hover: what a name is (its declaration, description, module and source document, and for a
//! switch or param its value under the file's settings), and on a flow the edges it expands to
//! and what it compiles to.

use super::lookup::{self, slice};
use super::preview;
use crate::analysis::Analysis;
use crate::ast::{self, Item};
use crate::hir::{self, Program};
use crate::resolve::{Def, Reference, Symbol};
use crate::span::Span;

/// The hover text (markdown) at `offset` of the root, and the span it is about.
pub fn hover(analysis: &Analysis, offset: u32) -> Option<(String, Span)> {
    let root = analysis.modules.first()?;
    if let Some(reference) = analysis.reference_at(root.file, offset) {
        return Some((name(analysis, reference), reference.span));
    }
    let (flow, never) = lookup::flow_at(root, offset)?;
    Some((preview::flow(analysis, flow, never, offset), flow.span))
}

/// What a name refers to.
fn name(analysis: &Analysis, reference: &Reference) -> String {
    let program = analysis.program();
    let mut out = String::new();
    if let Some(item) = lookup::declaration(analysis, reference.definition) {
        out.push_str(&format!("```ports\n{}\n```\n\n", slice(analysis, item.span())));
    }
    let body = match reference.symbol {
        Symbol::Name(def) => definition(analysis, program, def, reference.definition),
        Symbol::Note(id) => program.notes.get(id.index()).map(|n| note(program, n)).unwrap_or_default(),
        Symbol::Module(id) => program.modules.get(id.index()).map(module).unwrap_or_default(),
    };
    out.push_str(&body);
    if !matches!(reference.symbol, Symbol::Module(_)) {
        out.push_str(&provenance(analysis, reference.definition));
    }
    out
}

fn definition(analysis: &Analysis, program: &Program, def: Def, at: Span) -> String {
    match def {
        Def::Node(id) => program.nodes.get(id.index()).map(|n| node(analysis, program, n)).unwrap_or_default(),
        Def::Group(index) => program.groups.get(index).map(|g| group(analysis, program, g)).unwrap_or_default(),
        Def::Flag(id) => flag(analysis, program, id, at),
        Def::Option(id) => option(analysis, program, id, at),
        Def::Param(id) => param(analysis, program, id, at),
        Def::Service(_) => service(analysis, at),
    }
}

fn headline(kind: &str, name: &str, description: Option<&str>) -> String {
    match description {
        Some(d) => format!("**{kind}** `{name}`: {d}\n\n"),
        None => format!("**{kind}** `{name}`\n\n"),
    }
}

fn node(analysis: &Analysis, program: &Program, node: &hir::Node) -> String {
    let kind = match node.kind {
        hir::NodeKind::Role => "role",
        hir::NodeKind::External => "external",
    };
    let mut out = headline(kind, &node.name, node.description.as_deref());
    if node.addresses.is_empty() && node.selector.is_none() {
        out.push_str("Not bound: no addresses and no selector.\n\n");
    }
    if !node.addresses.is_empty() {
        let addresses: Vec<String> = node.addresses.iter().map(ToString::to_string).collect();
        let from: Vec<String> = node.address_sources.iter().map(|s| place(analysis, *s)).collect();
        out.push_str(&format!("Addresses: {} (from {})\n\n", addresses.join(", "), from.join(", ")));
    }
    if let Some(selector) = &node.selector {
        out.push_str(&format!(
            "Selector: `{}` ({})\n\n",
            slice(analysis, selector.span),
            place(analysis, selector.span)
        ));
    }
    let id = program.nodes.iter().position(|n| std::ptr::eq(n, node));
    let groups: Vec<String> = program
        .groups
        .iter()
        .filter(|g| id.is_some_and(|id| g.members.iter().any(|m| m.index() == id)))
        .map(|g| format!("`{}`", g.name))
        .collect();
    if !groups.is_empty() {
        out.push_str(&format!("Member of {}.\n\n", groups.join(", ")));
    }
    out
}

fn group(analysis: &Analysis, program: &Program, group: &hir::Group) -> String {
    let description = lookup::declaration(analysis, group.span).and_then(|item| match item {
        Item::Group(g) => g.description.as_ref().map(|d| d.value.clone()),
        _ => None,
    });
    let mut out = headline("group", &group.name, description.as_deref());
    let names = program.node_names();
    let members: Vec<String> =
        group.members.iter().filter_map(|m| names.get(m.index())).map(|n| format!("`{n}`")).collect();
    out.push_str(&format!("Stands for {}.\n\n", members.join(", ")));
    out
}

/// Where the value of a switch or param comes from: the `set`s that name it.
fn set_by(analysis: &Analysis, at: Span) -> Vec<String> {
    let mut out = Vec::new();
    for reference in analysis.references.to(at).filter(|r| !r.is_declaration) {
        let Some(module) = analysis.module(reference.span.file) else { continue };
        if let Some(Item::Set(set)) = lookup::item_at(module, reference.span.start) {
            out.push(format!("`{}` ({})", slice(analysis, set.span), place(analysis, set.span)));
        }
    }
    out
}

/// "Value in this file: ..." from the build's and the explicit configuration.
fn value(analysis: &Analysis, at: Span, value: Option<String>, explicit: bool, default: Option<String>) -> String {
    let mut out = match (value, explicit) {
        (Some(v), true) => format!("Value here: **{v}**, set by {}.\n\n", set_by(analysis, at).join(", ")),
        (Some(v), false) => format!("Value here: **{v}** (its default).\n\n"),
        (None, _) => {
            "Value here: **undecided**: a build whose flows depend on it fails (E0302) until a `set` decides it.\n\n"
                .to_string()
        }
    };
    if explicit && let Some(default) = default {
        out.push_str(&format!("Default: {default}.\n\n"));
    }
    out
}

fn flag(analysis: &Analysis, program: &Program, id: hir::FlagId, at: Span) -> String {
    let Some(flag) = program.flags.get(id.index()) else { return String::new() };
    let current = program.config.flags.get(id.index()).copied().flatten();
    let explicit = program.explicit.flags.get(id.index()).copied().flatten().is_some();
    headline("flag", &flag.name, flag.description.as_deref())
        + &value(analysis, at, current.map(|b| b.to_string()), explicit, flag.default.map(|b| b.to_string()))
}

fn option(analysis: &Analysis, program: &Program, id: hir::OptionId, at: Span) -> String {
    let Some(option) = program.options.get(id.index()) else { return String::new() };
    let choice = |c: Option<u32>| c.and_then(|c| option.choices.get(c as usize)).cloned();
    let current = choice(program.config.options.get(id.index()).copied().flatten());
    let explicit = program.explicit.options.get(id.index()).copied().flatten().is_some();
    let choices: Vec<String> = option.choices.iter().map(|c| format!("`{c}`")).collect();
    headline("option", &option.name, option.description.as_deref())
        + &format!("Choices: {}.\n\n", choices.join(", "))
        + &value(analysis, at, current, explicit, choice(option.default))
}

fn param(analysis: &Analysis, program: &Program, id: hir::ParamId, at: Span) -> String {
    let Some(param) = program.params.get(id.index()) else { return String::new() };
    let current = program.config.params.get(id.index()).copied().flatten();
    let explicit = program.explicit.params.get(id.index()).copied().flatten().is_some();
    headline("param", &param.name, param.description.as_deref())
        + &value(analysis, at, current.map(|p| p.to_string()), explicit, param.default.map(|p| p.to_string()))
}

fn service(analysis: &Analysis, at: Span) -> String {
    let Some(Item::Service(service)) = lookup::declaration(analysis, at) else { return String::new() };
    let description = service.description.as_ref().map(|d| d.value.as_str());
    headline("service", &service.name.name, description)
        + &format!("Stands for `{}`.\n\n", slice(analysis, service.spec.span))
}

fn note(program: &Program, note: &hir::Note) -> String {
    let mut out = format!("**note** [{}]: {}\n\n", note.label, note.text);
    if note.when != hir::Cond::Const(true) {
        let now = note.when.simplify(&program.config).display(program);
        out.push_str(&format!("Condition: `{}` (here: {now}).\n\n", note.when.display(program)));
    }
    if note.local {
        out.push_str("Marks its flows `local`: traffic from a node to itself.\n\n");
    }
    out
}

fn module(module: &hir::Module) -> String {
    let mut out = match &module.title {
        Some(title) => format!("**module** `{}`: {title}\n\n", module.name),
        None => format!("**module** `{}`\n\n", module.name),
    };
    out.push_str(&format!("File: `{}`\n\n", module.path));
    if let Some(source) = &module.source {
        out.push_str(&format!("Source: {source}\n"));
    }
    out
}

/// "Declared in `module` (title), `path` line N. Source: ...".
fn provenance(analysis: &Analysis, at: Span) -> String {
    let Some(module) = lookup::module_of_file(analysis, at.file) else { return String::new() };
    let mut out = format!("Declared in `{}`", module.name);
    if let Some(title) = &module.title {
        out.push_str(&format!(" ({title})"));
    }
    out.push_str(&format!(", {}.", place(analysis, at)));
    if let Some(source) = &module.source {
        out.push_str(&format!("\n\nSource: {source}"));
    }
    out.push('\n');
    out
}

/// `path` line N.
pub fn place(analysis: &Analysis, span: Span) -> String {
    let line = lookup::line(analysis, span);
    let Some(root) = analysis.modules.first() else { return format!("line {line}") };
    if span.file == root.file {
        return format!("line {line}");
    }
    // A file beside the root by its relative name, as the root's `use` wrote it.
    let name = analysis.sources.name(span.file);
    let directory = root.path.rsplit_once('/').map_or("", |(d, _)| d);
    let shown = name.strip_prefix(directory).and_then(|n| n.strip_prefix('/')).filter(|_| !directory.is_empty());
    format!("`{}` line {line}", shown.unwrap_or(name))
}

/// The statement's own text, for a flow's headline.
pub fn statement_text(analysis: &Analysis, flow: &ast::Flow) -> String {
    let text = slice(analysis, flow.span);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    if lines.next().is_some() { format!("{first} …") } else { first.to_string() }
}
