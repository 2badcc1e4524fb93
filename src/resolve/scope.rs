//! Declarations and scopes: what each module declares, what it sees through `use`, and lookups.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::{Def, Resolver, Symbol};
use crate::ast::{self, Item, UseTarget};
use crate::diag::{Code, Diagnostic};
use crate::hir::{self, next_id};
use crate::span::Span;

/// A name bound in a scope, with the span of its declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    pub def: Def,
    pub span: Span,
}

/// A name as a module sees it: one declaration, or several that reached it through different `use`s.
#[derive(Clone, Debug)]
pub enum Entry {
    One(Binding),
    Ambiguous(Vec<Binding>),
}

/// What a name must be where it is used; decides the error code and wording for a miss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Endpoint,
    Condition,
    Service,
    Param,
    Setting,
    BindTarget,
}

impl Want {
    fn accepts(self, def: Def) -> bool {
        match self {
            Want::Endpoint => matches!(def, Def::Node(_) | Def::Group(_)),
            Want::Condition => matches!(def, Def::Flag(_) | Def::Option(_)),
            Want::Service => matches!(def, Def::Service(_)),
            Want::Param => matches!(def, Def::Param(_)),
            Want::Setting => matches!(def, Def::Flag(_) | Def::Option(_) | Def::Param(_)),
            Want::BindTarget => matches!(def, Def::Node(_)),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Want::Endpoint => "role, external or group",
            Want::Condition => "flag or option",
            Want::Service => "service",
            Want::Param => "param",
            Want::Setting => "flag, option or param",
            Want::BindTarget => "role or external",
        }
    }

    fn unknown_code(self) -> Code {
        match self {
            Want::Endpoint | Want::BindTarget => Code::UnknownRole,
            Want::Condition => Code::UnknownCondition,
            Want::Service => Code::UnknownService,
            Want::Param => Code::UnknownParam,
            Want::Setting => Code::UnknownSetting,
        }
    }
}

impl Resolver<'_> {
    /// Gives every declaration of every module its id and records it in the module's own names.
    pub(super) fn collect_declarations(&mut self) {
        for module in 0..self.modules.len() {
            let Some(loaded) = self.modules.get(module) else {
                continue;
            };
            for item in &loaded.ast.items {
                self.declare_item(module, item);
            }
        }
    }

    fn declare_item(&mut self, module: usize, item: &Item) {
        let declared = match item {
            Item::Role(r) => &r.name,
            Item::External(e) => &e.name,
            Item::Flag(f) => &f.name,
            Item::Option(o) => &o.name,
            Item::Param(p) => &p.name,
            Item::Group(g) => &g.name,
            Item::Service(s) => &s.name,
            Item::Note(n) => {
                self.declare_note(module, n);
                return;
            }
            _ => return,
        };
        // A name declared twice keeps its first declaration; the repeat is reported and left out,
        // so nothing checks it as a declaration of its own.
        if let Some(first) = self.own.get(module).and_then(|own| own.get(&declared.name)) {
            let d = Diagnostic::new(
                Code::DuplicateDeclaration,
                format!("`{}` is declared twice", declared.name),
                declared.span,
                "declared again",
            )
            .with_secondary(first.span, "first declared here")
            .with_help("rename one of them, or delete the repeat");
            self.diagnostics.push(d);
            return;
        }
        let module_id = hir::ModuleId(next_id(module));
        let (name, def) = match item {
            Item::Role(r) => (
                &r.name,
                self.add_node(r.name.clone(), hir::NodeKind::Role, &r.description, Vec::new(), module_id, r.span),
            ),
            Item::External(e) => {
                let addresses = e.addresses.iter().map(|a| a.net).collect();
                (
                    &e.name,
                    self.add_node(
                        e.name.clone(),
                        hir::NodeKind::External,
                        &e.description,
                        addresses,
                        module_id,
                        e.span,
                    ),
                )
            }
            Item::Flag(f) => {
                let id = hir::FlagId(next_id(self.program.flags.len()));
                self.program.flags.push(hir::Flag {
                    name: f.name.name.clone(),
                    description: f.description.as_ref().map(|d| d.value.clone()),
                    default: f.default.map(|b| b.value),
                    module: module_id,
                    span: f.name.span,
                });
                (&f.name, Def::Flag(id))
            }
            Item::Option(o) => {
                let id = hir::OptionId(next_id(self.program.options.len()));
                let default = o.default.as_ref().and_then(|d| self.choice_index(&o.choices, d));
                self.program.options.push(hir::OptionDef {
                    name: o.name.name.clone(),
                    choices: o.choices.iter().map(|c| c.name.clone()).collect(),
                    description: o.description.as_ref().map(|d| d.value.clone()),
                    default,
                    module: module_id,
                    span: o.name.span,
                });
                (&o.name, Def::Option(id))
            }
            Item::Param(p) => {
                let id = hir::ParamId(next_id(self.program.params.len()));
                self.program.params.push(hir::Param {
                    name: p.name.name.clone(),
                    description: p.description.as_ref().map(|d| d.value.clone()),
                    default: p.default.map(|d| d.value),
                    module: module_id,
                    span: p.name.span,
                });
                (&p.name, Def::Param(id))
            }
            Item::Group(g) => {
                self.groups.push(super::GroupDef { decl: g.clone(), module });
                (&g.name, Def::Group(self.groups.len() - 1))
            }
            Item::Service(s) => {
                self.services.push(super::ServiceDef { decl: s.clone(), module });
                self.service_ports.push(None);
                (&s.name, Def::Service(self.services.len() - 1))
            }
            _ => return,
        };
        self.bind_own(module, name, def);
    }

    /// The index of an option's default among its choices; reports a default that is not a choice.
    fn choice_index(&mut self, choices: &[ast::Ident], default: &ast::Ident) -> Option<u32> {
        match choices.iter().position(|c| c.name == default.name) {
            Some(i) => Some(next_id(i)),
            None => {
                let names = choices.iter().map(|c| c.name.as_str());
                let d = Diagnostic::new(
                    Code::BadDefault,
                    format!("default `{}` is not a choice", default.name),
                    default.span,
                    "not a choice",
                )
                .with_suggestion(&default.name, names)
                .with_note(format!("the choices are {}", list(choices.iter().map(|c| c.name.as_str()))));
                self.diagnostics.push(d);
                None
            }
        }
    }

    fn add_node(
        &mut self,
        name: ast::Ident,
        kind: hir::NodeKind,
        description: &Option<ast::Text>,
        addresses: Vec<ipnet::IpNet>,
        module: hir::ModuleId,
        span: Span,
    ) -> Def {
        let id = hir::NodeId(next_id(self.program.nodes.len()));
        let address_sources = if addresses.is_empty() { Vec::new() } else { vec![span] };
        self.program.nodes.push(hir::Node {
            name: name.name,
            kind,
            description: description.as_ref().map(|d| d.value.clone()),
            addresses,
            address_sources,
            selector: None,
            module,
            line: u32::try_from(self.map.line(span.file, span.start)).unwrap_or(u32::MAX),
            span,
        });
        Def::Node(id)
    }

    fn declare_note(&mut self, module: usize, note: &ast::NoteDecl) {
        let Some(notes) = self.notes.get_mut(module) else {
            return;
        };
        if let Some(&first) = notes.get(&note.label.label) {
            let first_span = self.note_decls.get(first.index()).map_or(note.span, |n| n.label.span);
            self.diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateDeclaration,
                    format!("note {} is defined twice", note.label.label),
                    note.label.span,
                    "defined again",
                )
                .with_secondary(first_span, "first defined here")
                .with_help("give each note its own number"),
            );
            return;
        }
        let id = hir::NoteId(next_id(self.note_decls.len()));
        notes.insert(note.label.label.clone(), id);
        self.record(note.label.span, Symbol::Note(id), note.label.span);
        self.note_decls.push(note.clone());
        self.note_modules.push(module);
    }

    /// Binds a declaration's name in its module (`declare_item` has ruled out a repeat).
    fn bind_own(&mut self, module: usize, name: &ast::Ident, def: Def) {
        let Some(own) = self.own.get_mut(module) else {
            return;
        };
        own.insert(name.name.clone(), Binding { def, span: name.span });
        self.record(name.span, Symbol::Name(def), name.span);
    }

    /// Builds what each module sees: its own names, then what its glob `use`s export.
    /// Modules are visited dependencies first, so each module's exports are complete when used.
    pub(super) fn build_scopes(&mut self) {
        for module in self.dependency_order() {
            let mut visible: FxHashMap<String, Entry> = self
                .own
                .get(module)
                .map(|own| own.iter().map(|(n, b)| (n.clone(), Entry::One(*b))).collect())
                .unwrap_or_default();
            let mut qualifiers: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            let modules = self.modules;
            let Some(loaded) = modules.get(module) else {
                continue;
            };
            self.failed_uses(module);
            for u in &loaded.uses {
                self.record_use(u);
            }
            for u in loaded.uses.iter().filter(|u| !u.cyclic) {
                for qualifier in qualifiers_of(&u.decl) {
                    let targets = qualifiers.entry(qualifier).or_default();
                    if !targets.contains(&u.target) {
                        targets.push(u.target);
                    }
                }
                if u.decl.alias.is_some() {
                    continue;
                }
                let Some(exports) = self.visible.get(u.target).cloned() else {
                    continue;
                };
                for (name, entry) in &exports {
                    self.import(module, &mut visible, name, entry);
                }
            }
            if let Some(slot) = self.visible.get_mut(module) {
                *slot = visible;
            }
            if let Some(slot) = self.qualifiers.get_mut(module) {
                *slot = qualifiers;
            }
        }
    }

    fn import(&mut self, module: usize, visible: &mut FxHashMap<String, Entry>, name: &str, entry: &Entry) {
        let incoming: Vec<Binding> = match entry {
            Entry::One(b) => vec![*b],
            Entry::Ambiguous(bs) => bs.clone(),
        };
        if let Some(own) = self.own.get(module).and_then(|o| o.get(name)).copied() {
            if let Some(other) = incoming.iter().find(|b| b.def != own.def) {
                let d = Diagnostic::new(
                    Code::DuplicateDeclaration,
                    format!("`{name}` is already declared by a used module"),
                    own.span,
                    "declared here",
                )
                .with_secondary(other.span, "also declared here, and visible through `use`")
                .with_help("rename this declaration, or use the module with `as` and qualify its names");
                self.diagnostics.push(d);
            }
            return;
        }
        let merged = match visible.remove(name) {
            None => entry.clone(),
            Some(existing) => {
                let mut all = match existing {
                    Entry::One(b) => vec![b],
                    Entry::Ambiguous(bs) => bs,
                };
                for b in incoming {
                    if !all.iter().any(|a| a.def == b.def) {
                        all.push(b);
                    }
                }
                if all.len() == 1 { Entry::One(all.remove(0)) } else { Entry::Ambiguous(all) }
            }
        };
        visible.insert(name.to_string(), merged);
    }

    /// Post-order of the acyclic `use` graph from the root: every module after the modules it uses.
    fn dependency_order(&self) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.modules.len());
        let mut seen = vec![false; self.modules.len()];
        let mut stack = vec![(0usize, 0usize)];
        if let Some(s) = seen.get_mut(0) {
            *s = true;
        }
        while let Some(&(module, edge)) = stack.last() {
            let next =
                self.modules.get(module).and_then(|m| m.uses.iter().filter(|u| !u.cyclic).nth(edge)).map(|u| u.target);
            match next {
                Some(target) => {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    if seen.get(target) == Some(&false) {
                        if let Some(s) = seen.get_mut(target) {
                            *s = true;
                        }
                        stack.push((target, 0));
                    }
                }
                None => {
                    order.push(module);
                    stack.pop();
                }
            }
        }
        order
    }

    /// Looks a name up as `want`, reporting a miss, a wrong kind or an ambiguity.
    pub(super) fn lookup(&mut self, module: usize, path: &ast::Path, want: Want) -> Option<Def> {
        let (name, scope) = match self.scope_for(module, path) {
            Ok(found) => found,
            Err(d) => {
                // An unknown qualifier may be the alias of a `use` that failed or did not parse.
                if d.code != Code::UnknownQualifier || !self.failed_qualifier(path) {
                    self.diagnostics.push(*d);
                }
                return None;
            }
        };
        if scope != module {
            self.record_qualifier(path, scope);
        }
        // The usual case, a name with one declaration of the wanted kind, without copying anything.
        if let Some(&Entry::One(b)) = self.visible.get(scope).and_then(|v| v.get(name))
            && want.accepts(b.def)
        {
            self.record_name(path, b);
            return Some(b.def);
        }
        let entry = self.visible.get(scope).and_then(|v| v.get(name)).cloned();
        match entry {
            Some(Entry::One(b)) if want.accepts(b.def) => {
                self.record_name(path, b);
                Some(b.def)
            }
            Some(Entry::One(b)) => {
                self.wrong_kind(path, b, want);
                None
            }
            Some(Entry::Ambiguous(bindings)) => {
                let mut d = Diagnostic::new(
                    Code::AmbiguousName,
                    format!("`{name}` is ambiguous"),
                    path.span,
                    "declared by more than one used module",
                );
                for b in &bindings {
                    d = d.with_secondary(b.span, "declared here");
                }
                // Only the qualifiers of modules that really declare one of the candidates.
                let declares = |targets: &Vec<usize>| {
                    targets.iter().any(|t| {
                        matches!(self.visible.get(*t).and_then(|v| v.get(name)), Some(Entry::One(b)) if bindings.contains(b))
                    })
                };
                let qualifiers: Vec<String> = self
                    .qualifiers
                    .get(module)
                    .map(|q| q.iter().filter(|(_, t)| declares(t)).map(|(k, _)| format!("`{k}.{name}`")).collect())
                    .unwrap_or_default();
                self.diagnostics.push(d.with_help(format!(
                    "qualify the name with its module: {}",
                    list(qualifiers.iter().map(String::as_str))
                )));
                None
            }
            None if self.quiet(scope, name) => None,
            None => {
                let candidates: Vec<String> = self
                    .visible
                    .get(scope)
                    .map(|v| {
                        v.iter()
                            .filter(|(_, e)| matches!(e, Entry::One(b) if want.accepts(b.def)))
                            .map(|(n, _)| n.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let suggestion = crate::diag::suggest(name, candidates.iter().map(String::as_str)).map(String::from);
                let mut d = Diagnostic::new(
                    want.unknown_code(),
                    format!("no {} named `{name}`", want.noun()),
                    path.span,
                    "not declared",
                );
                // What the misspelt name was meant to be is mentioned by the statement it spoils.
                if let Some(meant) = suggestion {
                    d = d.with_help(format!("did you mean `{meant}`?"));
                    self.program.gaps.mentioned.insert(meant);
                }
                self.diagnostics.push(d);
                None
            }
        }
    }

    /// Records the last segment of a name that resolved to `binding`.
    fn record_name(&mut self, path: &ast::Path, binding: Binding) {
        if let Some(last) = path.segments.last() {
            self.record(last.span, Symbol::Name(binding.def), binding.span);
        }
    }

    /// Records the target of a `use` (the dotted name or the path string) as a reference to the
    /// module it loads, so that an editor can follow it.
    fn record_use(&mut self, u: &super::load::Use) {
        let span = match &u.decl.target {
            UseTarget::Stdlib(path) => path.span,
            UseTarget::File(text) => text.span,
        };
        let Some(file) = self.modules.get(u.target).map(|m| m.ast.span.file) else { return };
        let start = Span { file, start: 0, end: 0 };
        self.record(span, Symbol::Module(hir::ModuleId(next_id(u.target))), start);
    }

    /// Records the qualifier of a qualified name (`k8s` in `k8s.worker`) as a reference to its module.
    fn record_qualifier(&mut self, path: &ast::Path, module: usize) {
        let Some((_, qualifier)) = path.segments.split_last() else { return };
        let (Some(first), Some(last)) = (qualifier.first(), qualifier.last()) else { return };
        let Some(file) = self.modules.get(module).map(|m| m.ast.span.file) else { return };
        let start = Span { file, start: 0, end: 0 };
        self.record(first.span.to(last.span), Symbol::Module(hir::ModuleId(next_id(module))), start);
    }

    fn wrong_kind(&mut self, path: &ast::Path, found: Binding, want: Want) {
        let kind = self.kind_name(found.def);
        let name = path.text();
        let d = if want == Want::BindTarget && matches!(found.def, Def::Group(_)) {
            Diagnostic::new(Code::BadBindTarget, format!("cannot bind group `{name}`"), path.span, "a group")
                .with_secondary(found.span, "declared as a group here")
                .with_help("bind each member role on its own; a group's addresses are those of its members")
        } else {
            Diagnostic::new(
                Code::WrongKind,
                format!("`{name}` is {kind}, not a {}", want.noun()),
                path.span,
                kind.to_string(),
            )
            .with_secondary(found.span, "declared here")
        };
        self.diagnostics.push(d);
    }

    fn kind_name(&self, def: Def) -> &'static str {
        match def {
            Def::Node(id) => match self.program.nodes.get(id.index()).map(|n| n.kind) {
                Some(hir::NodeKind::External) => "an external",
                _ => "a role",
            },
            Def::Group(_) => "a group",
            Def::Flag(_) => "a flag",
            Def::Option(_) => "an option",
            Def::Param(_) => "a param",
            Def::Service(_) => "a service",
        }
    }

    /// The unqualified name and the module whose scope holds it.
    fn scope_for<'p>(&self, module: usize, path: &'p ast::Path) -> Result<(&'p str, usize), Box<Diagnostic>> {
        // ports.pest's `path` rule has at least one segment, and paths come only from its parse.
        let Some((last, qualifier)) = path.segments.split_last() else { unreachable!("grammar: a path has a segment") };
        if qualifier.is_empty() {
            return Ok((&last.name, module));
        }
        let qualifier_text: Vec<&str> = qualifier.iter().map(|s| s.name.as_str()).collect();
        let qualifier_text = qualifier_text.join(".");
        let span = qualifier.first().map_or(path.span, |f| f.span.to(qualifier.last().map_or(f.span, |l| l.span)));
        let targets = self.qualifiers.get(module).and_then(|q| q.get(&qualifier_text));
        match targets.map(Vec::as_slice) {
            Some([target]) => Ok((&last.name, *target)),
            Some(_) => Err(Box::new(
                Diagnostic::new(
                    Code::AmbiguousName,
                    format!("module qualifier `{qualifier_text}` is ambiguous"),
                    span,
                    "names more than one used module",
                )
                .with_help("give the modules distinct names with `use ... as name`"),
            )),
            None => {
                let known: Vec<&str> =
                    self.qualifiers.get(module).map(|q| q.keys().map(String::as_str).collect()).unwrap_or_default();
                Err(Box::new(
                    Diagnostic::new(Code::UnknownQualifier, format!("no used module is called `{qualifier_text}`"), span, "unknown module qualifier")
                        .with_suggestion(&qualifier_text, known)
                        .with_note("a qualifier is the `as` name of a `use`, the last part of a stdlib module name, or a file's name without `.ports`"),
                ))
            }
        }
    }
}

/// The qualifiers a `use` binds: its alias; or the module's full and last names, or a file's stem.
pub(super) fn qualifiers_of(decl: &ast::UseDecl) -> Vec<String> {
    if let Some(alias) = &decl.alias {
        return vec![alias.name.clone()];
    }
    match &decl.target {
        UseTarget::Stdlib(path) => {
            let full = path.text();
            let last = path.segments.last().map(|s| s.name.clone()).unwrap_or_default();
            if last == full { vec![full] } else { vec![full, last] }
        }
        UseTarget::File(text) => {
            let stem = text.value.rsplit('/').next().unwrap_or_default().trim_end_matches(".ports");
            vec![stem.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()]
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.into_iter().collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
