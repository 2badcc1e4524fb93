//! Completion, from the words before the cursor: stdlib modules after `use`, note labels in
//! `[...]`, an option's choices after `==` and `!=`, what `set` and `bind` take, switches in
//! conditions, endpoints around `->`, protocols, services and params in specs, a qualifier's
//! names after `.`, and otherwise keywords and every name in scope.

use lsp_types::{CompletionItem, CompletionItemKind, CompletionTextEdit, TextEdit};

use super::lookup;
use super::text::Lines;
use crate::analysis::Analysis;
use crate::ast::Item;
use crate::check::ROOT;
use crate::hir::Program;
use crate::protocol::Protocol;
use crate::resolve::Def;
use crate::stdlib;
use crate::syntax::keywords;

/// A candidate before it becomes a protocol item.
struct Candidate {
    label: String,
    kind: CompletionItemKind,
    detail: String,
}

/// What kinds of names fit where the cursor is.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    Endpoint,
    Switch,
    Settable,
    Bindable,
    Service,
}

/// The completions at `offset` of the root document, whose text is `text`.
pub fn complete(analysis: &Analysis, lines: &Lines<'_>, offset: u32) -> Vec<CompletionItem> {
    let text = lines.text();
    let before = text.get(..offset as usize).unwrap_or_default();
    let line = before.rsplit('\n').next().unwrap_or_default();
    let prefix_len = line.chars().rev().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').count();
    let (head, prefix) = line.split_at(line.len() - prefix_len);
    let head = head.trim_end();
    let candidates = candidates(analysis, before, head, prefix);
    // Replace the word being typed, or only its last segment after a qualifier.
    let replaced =
        prefix.rsplit_once('.').filter(|_| !head.trim_start().starts_with("use")).map_or(prefix, |(_, last)| last);
    let range = lines.range(offset - replaced.len() as u32, offset);
    candidates
        .into_iter()
        .map(|c| CompletionItem {
            filter_text: Some(c.label.clone()),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(range, c.label.clone()))),
            label: c.label,
            kind: Some(c.kind),
            detail: (!c.detail.is_empty()).then_some(c.detail),
            ..CompletionItem::default()
        })
        .collect()
}

fn candidates(analysis: &Analysis, before: &str, head: &str, prefix: &str) -> Vec<Candidate> {
    let statement = head.trim_start();
    let first = statement.split_whitespace().next().unwrap_or_default();
    let program = analysis.program();
    if first == "use" && statement == "use" {
        return stdlib_modules();
    }
    if let Some((qualifier, _)) = prefix.rsplit_once('.') {
        return qualified(analysis, qualifier);
    }
    if let Some(open) = head.rfind('[')
        && head.rfind(']').is_none_or(|close| close < open)
    {
        return notes(program);
    }
    if let Some(left) = head.strip_suffix("==").or_else(|| head.strip_suffix("!=")) {
        let option =
            left.trim_end().rsplit(|c: char| c.is_whitespace() || c == '(' || c == '!').next().unwrap_or_default();
        return choices(program, option);
    }
    if first == "set" {
        return match statement.split_once('=') {
            Some((target, _)) => values(program, target.trim_start_matches("set").trim()),
            None => names(analysis, Want::Settable),
        };
    }
    if first == "bind" && !statement.contains('=') {
        return names(analysis, Want::Bindable);
    }
    let last = head.split_whitespace().last().unwrap_or_default();
    if ["when", "&&", "||", "!", "("].iter().any(|w| head.ends_with(w)) && !matches!(first, "group" | "option") {
        let mut out = names(analysis, Want::Switch);
        out.extend(words(&["true", "false"], "", CompletionItemKind::VALUE));
        return out;
    }
    if head.ends_with("->") || (head.ends_with('|') && !matches!(first, "option" | "group")) {
        let mut out = names(analysis, Want::Endpoint);
        if head.ends_with("->") {
            out.extend(words(&["self"], "each node to itself", CompletionItemKind::KEYWORD));
        }
        return out;
    }
    if first == "group" && (head.ends_with('=') || head.ends_with('|')) {
        return names(analysis, Want::Endpoint);
    }
    let in_spec = head.contains("->") && (head.ends_with(':') || head.ends_with(','));
    if Protocol::from_name(last.rsplit('/').next().unwrap_or_default()).is_some_and(Protocol::has_ports)
        || (in_spec && head.ends_with(','))
    {
        let mut out = params(analysis);
        if head.ends_with(',') {
            out.extend(protocols());
        }
        return out;
    }
    if in_spec || (statement.is_empty() && in_block(before)) {
        let mut out = protocols();
        out.extend(names(analysis, Want::Service));
        return out;
    }
    if statement.is_empty() {
        let mut out = words(keywords::STATEMENT, "statement", CompletionItemKind::KEYWORD);
        out.extend(names(analysis, Want::Endpoint));
        return out;
    }
    let mut out = words(keywords::STATEMENT, "keyword", CompletionItemKind::KEYWORD);
    out.extend(words(keywords::OTHER, "keyword", CompletionItemKind::KEYWORD));
    for want in [Want::Endpoint, Want::Settable, Want::Service] {
        out.extend(names(analysis, want));
    }
    out
}

/// Whether the cursor is inside an open `{` of a flow block.
fn in_block(before: &str) -> bool {
    let mut depth = 0i32;
    for line in before.lines().chain(before.ends_with('\n').then_some("")) {
        let code = line.split('#').next().unwrap_or_default();
        let mut in_string = false;
        for c in code.chars() {
            match c {
                '"' => in_string = !in_string,
                '{' if !in_string => depth += 1,
                '}' if !in_string => depth -= 1,
                _ => {}
            }
        }
    }
    depth > 0
}

fn words(words: &[&str], detail: &str, kind: CompletionItemKind) -> Vec<Candidate> {
    words.iter().map(|w| Candidate { label: w.to_string(), kind, detail: detail.to_string() }).collect()
}

fn stdlib_modules() -> Vec<Candidate> {
    stdlib::modules()
        .map(|m| Candidate {
            label: m.name.to_string(),
            kind: CompletionItemKind::MODULE,
            detail: stdlib::headers(m).0.unwrap_or_default(),
        })
        .collect()
}

fn protocols() -> Vec<Candidate> {
    Protocol::ALL
        .iter()
        .map(|p| Candidate {
            label: p.name().to_string(),
            kind: CompletionItemKind::KEYWORD,
            detail: if p.has_ports() { "protocol, with ports".into() } else { "protocol, without ports".into() },
        })
        .collect()
}

/// The notes of the root module: flows reference only their own module's notes.
fn notes(program: &Program) -> Vec<Candidate> {
    program
        .notes
        .iter()
        .filter(|n| n.module == ROOT)
        .map(|n| Candidate { label: n.label.clone(), kind: CompletionItemKind::REFERENCE, detail: n.text.clone() })
        .collect()
}

fn choices(program: &Program, option: &str) -> Vec<Candidate> {
    let last = option.rsplit('.').next().unwrap_or(option);
    let mut out = Vec::new();
    for o in program.options.iter().filter(|o| o.name == last) {
        for choice in &o.choices {
            let detail = format!("a choice of `{}`", o.name);
            out.push(Candidate { label: choice.clone(), kind: CompletionItemKind::ENUM_MEMBER, detail });
        }
    }
    out
}

/// The values a `set` of `target` takes.
fn values(program: &Program, target: &str) -> Vec<Candidate> {
    let last = target.rsplit('.').next().unwrap_or(target);
    if program.flags.iter().any(|f| f.name == last) {
        return words(&["true", "false"], "", CompletionItemKind::VALUE);
    }
    choices(program, last)
}

fn params(analysis: &Analysis) -> Vec<Candidate> {
    let visible = analysis.references.visible();
    let program = analysis.program();
    visible
        .iter()
        .filter_map(|v| match v.def {
            Def::Param(id) => program.params.get(id.index()).map(|p| Candidate {
                label: v.name.clone(),
                kind: CompletionItemKind::CONSTANT,
                detail: detail("param", p.description.as_deref()),
            }),
            _ => None,
        })
        .collect()
}

fn detail(kind: &str, description: Option<&str>) -> String {
    match description {
        Some(d) => format!("{kind}: {d}"),
        None => kind.to_string(),
    }
}

/// The names in the root's scope that fit.
fn names(analysis: &Analysis, want: Want) -> Vec<Candidate> {
    let program = analysis.program();
    let mut out = Vec::new();
    for v in analysis.references.visible() {
        let (fits, kind) = match v.def {
            Def::Node(id) => {
                let external = program.nodes.get(id.index()).is_some_and(|n| n.kind == crate::hir::NodeKind::External);
                let kind = if external { CompletionItemKind::INTERFACE } else { CompletionItemKind::CLASS };
                (matches!(want, Want::Endpoint | Want::Bindable), kind)
            }
            Def::Group(_) => (want == Want::Endpoint, CompletionItemKind::ENUM),
            Def::Flag(_) => (matches!(want, Want::Switch | Want::Settable), CompletionItemKind::VARIABLE),
            Def::Option(_) => (matches!(want, Want::Switch | Want::Settable), CompletionItemKind::ENUM),
            Def::Param(_) => (want == Want::Settable, CompletionItemKind::CONSTANT),
            Def::Service(_) => (want == Want::Service, CompletionItemKind::FUNCTION),
        };
        if fits {
            out.push(Candidate { label: v.name.clone(), kind, detail: describe(analysis, v.definition) });
        }
    }
    out
}

/// "role: etcd plane nodes (rancher.downstream.custom)".
fn describe(analysis: &Analysis, definition: crate::span::Span) -> String {
    let Some(item) = lookup::declaration(analysis, definition) else { return String::new() };
    let kind = lookup::declared(item).map_or("", |(_, kind)| kind);
    let description = match item {
        Item::Flag(d) => d.description.as_ref(),
        Item::Option(d) => d.description.as_ref(),
        Item::Param(d) => d.description.as_ref(),
        Item::Role(d) => d.description.as_ref(),
        Item::External(d) => d.description.as_ref(),
        Item::Group(d) => d.description.as_ref(),
        Item::Service(d) => d.description.as_ref(),
        _ => None,
    };
    let module = lookup::module_of_file(analysis, definition.file).map(|m| m.name.as_str()).unwrap_or_default();
    let mut out = detail(kind, description.map(|d| d.value.as_str()));
    if definition.file != analysis.modules.first().map_or(definition.file, |m| m.file) {
        out.push_str(&format!(" ({module})"));
    }
    out
}

/// The names a qualifier's module declares, `k8s.` -> `worker`, `api_port`, ...
fn qualified(analysis: &Analysis, qualifier: &str) -> Vec<Candidate> {
    let program = analysis.program();
    let mut out = Vec::new();
    for (_, module) in analysis.references.qualifiers().iter().filter(|(q, _)| q == qualifier) {
        let Some(file) = program.modules.get(module.index()).map(|m| m.file) else { continue };
        let Some(module) = analysis.module(file) else { continue };
        for item in &module.ast.items {
            let (Some((name, _)), Some(span)) = (lookup::declared(item), lookup::declared_name(item)) else { continue };
            if matches!(item, Item::Note(_)) {
                continue;
            }
            out.push(Candidate {
                label: name.to_string(),
                kind: CompletionItemKind::FIELD,
                detail: describe(analysis, span),
            });
        }
    }
    out
}
