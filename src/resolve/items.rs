//! Resolves what declarations say: note conditions, groups, flows, `never`, `set` and `bind`.

use super::scope::{Want, list};
use super::{Def, Resolver};
use crate::ast::{self, Item};
use crate::diag::{Code, Diagnostic};
use crate::hir::{self, Cond, NodeId, next_id};
use crate::span::Span;

/// Where a setting came from; a later source overrides an earlier one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    File,
    CommandLine,
}

impl Resolver<'_> {
    pub(super) fn resolve_items(&mut self, overrides: &[ast::SetStmt]) {
        self.resolve_notes();
        let members = self.expand_groups();
        self.program.groups = self
            .groups
            .iter()
            .zip(&members)
            .map(|(g, members)| hir::Group {
                name: g.decl.name.name.clone(),
                members: members.clone(),
                module: hir::ModuleId(next_id(g.module)),
                span: g.decl.name.span,
            })
            .collect();
        let (modules, map) = (self.modules, self.map);
        for (module, loaded) in modules.iter().enumerate() {
            let file = loaded.ast.span.file;
            // Each flow is parsed again here and its syntax tree dropped as soon as it is resolved.
            for &start in &loaded.flows {
                match crate::syntax::flow_at(file, map.text(file), start) {
                    Some(Item::Flow(flow)) => self.flow(module, flow, &members, false),
                    Some(Item::Never(flow)) => self.flow(module, flow, &members, true),
                    _ => debug_assert!(false, "invariant: a deferred flow parses again"),
                }
            }
            // Flows kept whole (`Flows::Kept`) stay with their module; the program takes copies.
            for item in &loaded.ast.items {
                match item {
                    Item::Flow(flow) => self.flow(module, flow.clone(), &members, false),
                    Item::Never(flow) => self.flow(module, flow.clone(), &members, true),
                    _ => {}
                }
            }
        }
        self.apply_settings(overrides);
        self.apply_binds();
    }

    /// Every note's condition. A note whose condition has an error is left out: flows that
    /// reference it are left out quietly (`note_refs`).
    fn resolve_notes(&mut self) {
        for (index, note) in self.note_decls.clone().iter().enumerate() {
            let module = self.note_modules.get(index).copied().unwrap_or(0);
            let (when, broken) = match note.when.as_ref().map(|expr| self.cond(module, expr)) {
                None => (Cond::Const(true), false),
                Some(Some(when)) => (when, false),
                Some(None) => {
                    self.left_out(note.span);
                    (Cond::Const(true), true)
                }
            };
            self.broken_notes.push(broken);
            let when = self.shared(when);
            self.program.notes.push(hir::Note {
                label: note.label.label.clone(),
                text: note.text.value.clone(),
                when,
                local: note.local.is_some(),
                module: hir::ModuleId(next_id(module)),
                span: note.span,
            });
        }
    }

    /// Every group's member roles, sorted; cycles are reported and cut. A group with an error
    /// (an unknown member, a cycle, or a member group with an error) is left out: its uses are
    /// left out quietly (`endpoints`).
    fn expand_groups(&mut self) -> Vec<Vec<NodeId>> {
        self.broken_groups = vec![false; self.groups.len()];
        let defs: Vec<Vec<(Def, Span)>> = (0..self.groups.len())
            .map(|g| {
                let (module, paths) = match self.groups.get(g) {
                    Some(group) => (group.module, group.decl.members.clone()),
                    None => return Vec::new(),
                };
                let found: Vec<(Def, Span)> =
                    paths.iter().filter_map(|p| self.lookup(module, p, Want::Endpoint).map(|d| (d, p.span))).collect();
                if found.len() != paths.len()
                    && let Some(broken) = self.broken_groups.get_mut(g)
                {
                    *broken = true;
                }
                found
            })
            .collect();
        let members = self.expand(&defs);
        // A group that contains a broken group lacks its members too.
        let mut changed = true;
        while changed {
            changed = false;
            for (g, defs) in defs.iter().enumerate() {
                let inner_broken = defs
                    .iter()
                    .any(|(d, _)| matches!(d, Def::Group(inner) if self.broken_groups.get(*inner) == Some(&true)));
                if inner_broken && let Some(broken @ false) = self.broken_groups.get_mut(g) {
                    *broken = true;
                    changed = true;
                }
            }
        }
        for g in 0..self.groups.len() {
            if self.broken_groups.get(g) == Some(&true)
                && let Some(span) = self.groups.get(g).map(|group| group.decl.span)
            {
                self.left_out(span);
            }
        }
        members
    }

    /// The expansion of `expand_groups`: each group's roles and externals, depth first.
    fn expand(&mut self, defs: &[Vec<(Def, Span)>]) -> Vec<Vec<NodeId>> {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            New,
            Open,
            Done,
        }
        let mut state = vec![State::New; defs.len()];
        let mut members: Vec<Vec<NodeId>> = vec![Vec::new(); defs.len()];
        for start in 0..defs.len() {
            if state.get(start) != Some(&State::New) {
                continue;
            }
            // Iterative depth-first expansion: a long chain of groups must not overflow the stack.
            let mut stack = vec![(start, 0usize)];
            if let Some(s) = state.get_mut(start) {
                *s = State::Open;
            }
            while let Some(&(group, edge)) = stack.last() {
                let Some(&(def, span)) = defs.get(group).and_then(|d| d.get(edge)) else {
                    if let Some(m) = members.get_mut(group) {
                        m.sort_unstable();
                        m.dedup();
                    }
                    if let Some(s) = state.get_mut(group) {
                        *s = State::Done;
                    }
                    stack.pop();
                    if let Some(&(parent, _)) = stack.last() {
                        let done = members.get(group).cloned().unwrap_or_default();
                        if let Some(m) = members.get_mut(parent) {
                            m.extend(done);
                        }
                    }
                    continue;
                };
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match def {
                    Def::Node(node) => {
                        if let Some(m) = members.get_mut(group) {
                            m.push(node);
                        }
                    }
                    Def::Group(inner) => match state.get(inner).copied() {
                        Some(State::New) => {
                            if let Some(s) = state.get_mut(inner) {
                                *s = State::Open;
                            }
                            stack.push((inner, 0));
                        }
                        Some(State::Open) => {
                            let chain: Vec<usize> = stack.iter().map(|(g, _)| *g).skip_while(|g| *g != inner).collect();
                            self.group_cycle(&chain, span);
                            for g in chain {
                                if let Some(broken) = self.broken_groups.get_mut(g) {
                                    *broken = true;
                                }
                            }
                        }
                        _ => {
                            let done = members.get(inner).cloned().unwrap_or_default();
                            if let Some(m) = members.get_mut(group) {
                                m.extend(done);
                            }
                        }
                    },
                    _ => {}
                }
            }
        }
        members
    }

    /// Reports the cycle `chain[0] -> ... -> chain[last] -> chain[0]`, closed at `span`.
    fn group_cycle(&mut self, chain: &[usize], span: Span) {
        let name = |g: &usize| self.groups.get(*g).map_or(String::new(), |g| g.decl.name.name.clone());
        let names: Vec<String> = chain.iter().map(name).collect();
        let first = names.first().cloned().unwrap_or_default();
        let message = match names.as_slice() {
            [one] => format!("group `{one}` contains itself"),
            _ => format!("group `{first}` contains itself through other groups"),
        };
        let first_span = chain.first().and_then(|g| self.groups.get(*g)).map_or(span, |g| g.decl.name.span);
        self.diagnostics.push(
            Diagnostic::new(Code::GroupCycle, message, span, "closes the cycle")
                .with_secondary(first_span, "this group")
                .with_note(format!("cycle: {} -> {first}", names.join(" -> ")))
                .with_help("a group lists roles, externals or other groups, without cycles"),
        );
    }

    /// One `hir::Flow` per spec of the statement, added to the program's flows or, for a `never`,
    /// its invariants. A spec with an error is left out, and so is every spec when the error is
    /// in the endpoints or the block's modifiers.
    /// Takes the flow's syntax tree, to move its descriptions into the program.
    fn flow(&mut self, module: usize, flow: ast::Flow, members: &[Vec<NodeId>], never: bool) {
        let from = self.endpoints(module, &flow.from, members);
        let to = match flow.to.as_slice() {
            [ast::Endpoint::SelfNode(_)] => Some(hir::Target::Local),
            endpoints => self.endpoints(module, endpoints, members).map(hir::Target::Nodes),
        };
        let block_when = self.when(module, flow.modifiers.when.as_ref());
        let block_notes = self.note_refs(module, &flow.modifiers.notes);
        let mut left_out = false;
        for spec in flow.specs {
            // Every part is resolved, so that each of its errors is reported.
            let when = self.when(module, spec.modifiers.when.as_ref());
            let notes = self.note_refs(module, &spec.modifiers.notes);
            let ports = self.spec_ports(module, &spec.kind);
            let (Some(from), Some(to), Some(block_when), Some(block_notes), Some(when), Some(mut notes), Some(ports)) =
                (&from, &to, &block_when, &block_notes, when, notes, ports)
            else {
                left_out = true;
                continue;
            };
            let (protocols, ports, service) = ports;
            if !block_notes.is_empty() {
                notes.splice(0..0, block_notes.iter().copied());
            }
            notes.sort_unstable();
            notes.dedup();
            let description = match spec.modifiers.description {
                Some(own) => Some(own.value),
                None => flow.modifiers.description.as_ref().map(|d| d.value.clone()),
            };
            let description = description.or_else(|| service.as_ref().and_then(|s| s.1.clone()));
            // `and` of `true` and a condition gives the condition back.
            let when = if *block_when == Cond::Const(true) { when } else { Cond::and(vec![block_when.clone(), when]) };
            let when = self.shared(when);
            let resolved = hir::Flow {
                from: from.clone(),
                to: to.clone(),
                protocols,
                ports,
                when,
                notes,
                description,
                service: service.map(|s| s.0),
                local: spec.modifiers.local.is_some() || flow.modifiers.local.is_some(),
                management: spec.modifiers.management.is_some() || flow.modifiers.management.is_some(),
                module: hir::ModuleId(next_id(module)),
                line: u32::try_from(self.map.line(spec.span.file, spec.span.start)).unwrap_or(u32::MAX),
                span: spec.span,
            };
            if never { self.program.nevers.push(resolved) } else { self.program.flows.push(resolved) }
        }
        if left_out {
            self.program.gaps.flows = true;
            self.left_out(flow.span);
        }
    }

    /// A `when` clause's condition, `true` without one; `None` when it has an error.
    fn when(&mut self, module: usize, when: Option<&ast::Expr>) -> Option<Cond> {
        match when {
            None => Some(Cond::Const(true)),
            Some(expr) => self.cond(module, expr),
        }
    }

    /// The nodes of a list of endpoints, groups expanded; `None` when one has an error (a group
    /// with an error of its own fails quietly: it was reported where it is declared).
    fn endpoints(
        &mut self,
        module: usize,
        endpoints: &[ast::Endpoint],
        members: &[Vec<NodeId>],
    ) -> Option<Vec<NodeId>> {
        let mut nodes = Vec::with_capacity(endpoints.len());
        let mut ok = true;
        for endpoint in endpoints {
            let ast::Endpoint::Name(path) = endpoint else {
                continue;
            };
            match self.lookup(module, path, Want::Endpoint) {
                Some(Def::Node(node)) => nodes.push(node),
                Some(Def::Group(g)) if self.broken_groups.get(g) != Some(&true) => {
                    nodes.extend(members.get(g).into_iter().flatten().copied())
                }
                _ => ok = false,
            }
        }
        nodes.sort_unstable();
        nodes.dedup();
        ok.then_some(nodes)
    }

    /// Protocols, ports and (for a service) its name and description.
    #[allow(clippy::type_complexity)] // A private helper's one-off tuple; a struct would only rename it.
    fn spec_ports(
        &mut self,
        module: usize,
        kind: &ast::SpecKind,
    ) -> Option<(Vec<ast::Protocol>, Vec<hir::PortRef>, Option<(String, Option<String>)>)> {
        match kind {
            ast::SpecKind::Proto(spec) => Some((protocols(spec), self.ports(module, spec)?, None)),
            ast::SpecKind::Service(path) => {
                let Def::Service(index) = self.lookup(module, path, Want::Service)? else {
                    return None;
                };
                let service = self.services.get(index)?;
                let name = service.decl.name.name.clone();
                let description = service.decl.description.as_ref().map(|d| d.value.clone());
                let (protocols, ports) = self.service_ports(index)?;
                Some((protocols, ports, Some((name, description))))
            }
        }
    }

    /// A service's protocols and ports, resolved once: its params are resolved where the
    /// service is declared, not where it is used, so every use gets the same. A failure is
    /// reported at the first use and kept, so later uses are left out quietly.
    fn service_ports(&mut self, index: usize) -> Option<(Vec<ast::Protocol>, Vec<hir::PortRef>)> {
        if let Some(Some(known)) = self.service_ports.get(index) {
            return known.clone();
        }
        let service = self.services.get(index)?;
        let (spec, module, span) = (service.decl.spec.clone(), service.module, service.decl.span);
        let resolved = self.ports(module, &spec).map(|ports| (protocols(&spec), ports));
        if resolved.is_none() {
            self.left_out(span);
        }
        if let Some(slot) = self.service_ports.get_mut(index) {
            *slot = Some(resolved.clone());
        }
        resolved
    }

    fn ports(&mut self, module: usize, spec: &ast::ProtoSpec) -> Option<Vec<hir::PortRef>> {
        let mut ports = Vec::with_capacity(spec.ports.len());
        let mut ok = true;
        for item in &spec.ports {
            match item {
                ast::PortItem::Single(p) => ports.push(hir::PortRef::Range(p.value, p.value)),
                ast::PortItem::Range { start, end, .. } => ports.push(hir::PortRef::Range(start.value, end.value)),
                ast::PortItem::Param(path) => match self.lookup(module, path, Want::Param) {
                    Some(Def::Param(param)) => ports.push(hir::PortRef::Param(param, path.span)),
                    _ => ok = false,
                },
            }
        }
        ok.then_some(ports)
    }

    /// The notes a list references; `None` when one is not defined, or has an error of its own
    /// (which was reported where it is defined).
    fn note_refs(&mut self, module: usize, labels: &[ast::NoteLabel]) -> Option<Vec<hir::NoteId>> {
        let mut ids = Vec::with_capacity(labels.len());
        let mut ok = true;
        for label in labels {
            match self.notes.get(module).and_then(|n| n.get(&label.label)) {
                Some(&id) if self.broken_notes.get(id.index()) == Some(&true) => ok = false,
                Some(&id) => {
                    ids.push(id);
                    let definition = self.note_decls.get(id.index()).map_or(label.span, |n| n.label.span);
                    self.record(label.span, super::Symbol::Note(id), definition);
                }
                // A note statement that did not parse may define it.
                None if self.suspects.contains(&label.label) => ok = false,
                None => {
                    ok = false;
                    let defined: Vec<String> =
                        self.notes.get(module).map(|n| n.keys().cloned().collect()).unwrap_or_default();
                    // Any of the module's notes may be the one meant.
                    self.program.gaps.mentioned.extend(defined.iter().cloned());
                    let mut d = Diagnostic::new(
                        Code::UndefinedNote,
                        format!("note {} is not defined", label.label),
                        label.span,
                        "no such note in this module",
                    );
                    d = if defined.is_empty() {
                        d.with_help(format!("define it: `note {} \"...\"`", label.label))
                    } else {
                        let noun = if defined.len() == 1 { "note" } else { "notes" };
                        d.with_note(format!("this module defines {noun} {}", list(defined.iter().map(String::as_str))))
                    };
                    self.diagnostics.push(d);
                }
            }
        }
        ok.then_some(ids)
    }

    /// The condition equal to `cond` that an earlier flow or note already has, if any, so that
    /// equal conditions share their terms: comparing them, as the checks' caches do for every
    /// flow, then stops at the first shared term.
    fn shared(&mut self, cond: Cond) -> Cond {
        if let Some(known) = self.conditions.get(&cond) {
            return known.clone();
        }
        self.conditions.insert(cond.clone());
        cond
    }

    /// A condition over flags and options; `None` when a name in it has an error (each reported).
    pub(super) fn cond(&mut self, module: usize, expr: &ast::Expr) -> Option<Cond> {
        match expr {
            ast::Expr::Bool(b) => Some(Cond::Const(b.value)),
            ast::Expr::Name(path) => match self.lookup(module, path, Want::Condition)? {
                Def::Flag(flag) => Some(Cond::Flag(flag)),
                Def::Option(option) => {
                    let name = path.text();
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::WrongKind,
                            format!("option `{name}` is not a flag"),
                            path.span,
                            "an option",
                        )
                        .with_help(format!(
                            "compare it with one of its choices: `{name} == {}`",
                            self.first_choice(option)
                        )),
                    );
                    None
                }
                _ => None,
            },
            ast::Expr::Compare { left, equal, right, .. } => {
                let positive = self.compare(module, left, right)?;
                Some(if *equal { positive } else { Cond::negate(positive) })
            }
            ast::Expr::Not(inner, _) => Some(Cond::negate(self.cond(module, inner)?)),
            ast::Expr::Paren(inner, _) => self.cond(module, inner),
            ast::Expr::And(terms, _) => self.conds(module, terms).map(Cond::and),
            ast::Expr::Or(terms, _) => self.conds(module, terms).map(Cond::or),
        }
    }

    /// The conditions of the terms of `&&` or `||`, each resolved so that each error is reported.
    fn conds(&mut self, module: usize, terms: &[ast::Expr]) -> Option<Vec<Cond>> {
        let terms: Vec<Option<Cond>> = terms.iter().map(|t| self.cond(module, t)).collect();
        terms.into_iter().collect()
    }

    fn first_choice(&self, option: hir::OptionId) -> String {
        self.program.options.get(option.index()).and_then(|o| o.choices.first()).cloned().unwrap_or_default()
    }

    fn compare(&mut self, module: usize, left: &ast::Path, right: &ast::CompareValue) -> Option<Cond> {
        match (self.lookup(module, left, Want::Condition)?, right) {
            (Def::Flag(flag), ast::CompareValue::Bool(b)) => {
                Some(if b.value { Cond::Flag(flag) } else { Cond::negate(Cond::Flag(flag)) })
            }
            (Def::Flag(_), ast::CompareValue::Name(p)) => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::UnknownChoice,
                        format!("flag `{}` is `true` or `false`, not `{}`", left.text(), p.text()),
                        p.span,
                        "not a boolean",
                    )
                    .with_help(format!("write `{}` or `!{}`", left.text(), left.text())),
                );
                None
            }
            (Def::Option(option), ast::CompareValue::Name(p)) => {
                self.choice(option, &p.text(), p.span).map(|choice| Cond::Choice(option, choice))
            }
            (Def::Option(option), ast::CompareValue::Bool(b)) => {
                let _ = self.choice(option, if b.value { "true" } else { "false" }, b.span);
                None
            }
            _ => None,
        }
    }

    /// The index of `name` among the option's choices; reports a miss with a suggestion.
    fn choice(&mut self, option: hir::OptionId, name: &str, span: Span) -> Option<u32> {
        let def = self.program.options.get(option.index())?;
        if let Some(i) = def.choices.iter().position(|c| c == name) {
            return Some(next_id(i));
        }
        let d = Diagnostic::new(
            Code::UnknownChoice,
            format!("`{name}` is not a choice of option `{}`", def.name),
            span,
            "not a choice",
        )
        .with_secondary(def.span, "option declared here")
        .with_suggestion(name, def.choices.iter().map(String::as_str))
        .with_note(format!("the choices are {}", list(def.choices.iter().map(String::as_str))));
        self.diagnostics.push(d);
        None
    }

    /// Defaults, then the files' `set`s, then the command line's: the later one wins.
    fn apply_settings(&mut self, overrides: &[ast::SetStmt]) {
        let config = &mut self.program.config;
        config.flags = self.program.flags.iter().map(|f| f.default).collect();
        config.options = self.program.options.iter().map(|o| o.default).collect();
        config.params = self.program.params.iter().map(|p| p.default).collect();
        self.program.explicit = hir::Config {
            flags: vec![None; self.program.flags.len()],
            options: vec![None; self.program.options.len()],
            params: vec![None; self.program.params.len()],
        };
        let mut seen: std::collections::BTreeMap<(Def, bool), Span> = std::collections::BTreeMap::new();
        let mut sets: Vec<(usize, ast::SetStmt, Origin)> = Vec::new();
        for (module, loaded) in self.modules.iter().enumerate() {
            for item in &loaded.ast.items {
                if let Item::Set(set) = item {
                    sets.push((module, set.clone(), Origin::File));
                }
            }
        }
        sets.extend(overrides.iter().map(|s| (0, s.clone(), Origin::CommandLine)));
        for (module, set, origin) in sets {
            // A `set` left out leaves its switch open: no check may then claim a configuration.
            let Some(def) = self.lookup(module, &set.name, Want::Setting) else {
                self.program.gaps.settings = true;
                continue;
            };
            let key = (def, origin == Origin::CommandLine);
            if let Some(&first) = seen.get(&key) {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::DuplicateSet,
                        format!("`{}` is set twice", set.name.text()),
                        set.span,
                        "set again",
                    )
                    .with_secondary(first, "first set here")
                    .with_help("keep one `set`; the command line's `--set` and `--param` override the files' own"),
                );
                self.program.gaps.settings = true;
                continue;
            }
            seen.insert(key, set.span);
            self.set(def, &set);
            let switch = match def {
                Def::Flag(flag) => Some(hir::Switch::Flag(flag)),
                Def::Option(option) => Some(hir::Switch::Option(option)),
                Def::Param(param) => Some(hir::Switch::Param(param)),
                _ => None,
            };
            if let Some(switch) = switch {
                self.program.settings.push(hir::Setting { switch, span: set.span });
            }
        }
    }

    fn set(&mut self, def: Def, set: &ast::SetStmt) {
        match (def, &set.value) {
            (Def::Flag(flag), ast::SetValue::Bool(b)) => {
                for config in [&mut self.program.config, &mut self.program.explicit] {
                    if let Some(slot) = config.flags.get_mut(flag.index()) {
                        *slot = Some(b.value);
                    }
                }
            }
            (Def::Option(option), ast::SetValue::Name(p)) if p.segments.len() == 1 => {
                let Some(choice) = self.choice(option, &p.text(), p.span) else {
                    self.program.gaps.settings = true;
                    return;
                };
                for config in [&mut self.program.config, &mut self.program.explicit] {
                    if let Some(slot) = config.options.get_mut(option.index()) {
                        *slot = Some(choice);
                    }
                }
            }
            (Def::Param(param), ast::SetValue::Port(p)) => {
                for config in [&mut self.program.config, &mut self.program.explicit] {
                    if let Some(slot) = config.params.get_mut(param.index()) {
                        *slot = Some(p.value);
                    }
                }
            }
            (def, value) => {
                self.program.gaps.settings = true;
                let (kind, want) = match def {
                    Def::Flag(_) => ("a flag", "`true` or `false`"),
                    Def::Option(_) => ("an option", "one of its choices"),
                    _ => ("a param", "a port number"),
                };
                let span = match value {
                    ast::SetValue::Bool(b) => b.span,
                    ast::SetValue::Port(p) => p.span,
                    ast::SetValue::Name(p) => p.span,
                };
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::SetMismatch,
                        format!("`{}` is {kind}; it takes {want}", set.name.text()),
                        span,
                        "wrong kind of value",
                    )
                    .with_help(format!("write `set {} = ...` with {want}", set.name.text())),
                );
            }
        }
    }

    fn apply_binds(&mut self) {
        let mut addressed: std::collections::BTreeMap<NodeId, Span> = std::collections::BTreeMap::new();
        let mut selected: std::collections::BTreeMap<NodeId, Span> = std::collections::BTreeMap::new();
        for (module, loaded) in self.modules.iter().enumerate() {
            for item in &loaded.ast.items {
                let Item::Bind(bind) = item else { continue };
                let Some(Def::Node(node)) = self.lookup(module, &bind.name, Want::BindTarget) else {
                    self.left_out(bind.span);
                    continue;
                };
                let seen = match bind.target {
                    ast::BindTarget::Addresses(_) => &mut addressed,
                    ast::BindTarget::Selector(_) => &mut selected,
                };
                if let Some(&first) = seen.get(&node) {
                    let help = match bind.target {
                        ast::BindTarget::Addresses(_) => {
                            "list every address in one `bind`: `bind r = 10.0.0.1, 10.0.0.2`"
                        }
                        ast::BindTarget::Selector(_) => {
                            "a role has one selector; put every label in it: `pods { a: x, b: y }`"
                        }
                    };
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::DuplicateBind,
                            format!("`{}` is bound twice", bind.name.text()),
                            bind.span,
                            "bound again",
                        )
                        .with_secondary(first, "first bound here")
                        .with_note("a role takes one address `bind` and one selector `bind`")
                        .with_help(help),
                    );
                    continue;
                }
                seen.insert(node, bind.span);
                self.program.site |= module == 0;
                let Some(target) = self.program.nodes.get_mut(node.index()) else {
                    continue;
                };
                match &bind.target {
                    ast::BindTarget::Addresses(addresses) => {
                        target.address_sources.push(bind.span);
                        target.addresses.extend(addresses.iter().map(|a| a.net));
                        target.addresses.sort_unstable();
                        target.addresses.dedup();
                    }
                    ast::BindTarget::Selector(s) => {
                        let mut labels: Vec<(String, String)> =
                            s.labels.iter().map(|(k, v)| (k.value.clone(), v.value.clone())).collect();
                        labels.sort();
                        target.selector = Some(hir::Selector {
                            kind: s.kind,
                            labels,
                            namespace: s.namespace.as_ref().map(|n| n.value.clone()),
                            span: s.span,
                        });
                    }
                }
            }
        }
        for node in &mut self.program.nodes {
            node.addresses.sort_unstable();
            node.addresses.dedup();
        }
    }
}

fn protocols(spec: &ast::ProtoSpec) -> Vec<ast::Protocol> {
    let mut protocols: Vec<ast::Protocol> = spec.protocols.iter().map(|(p, _)| *p).collect();
    protocols.sort_unstable();
    protocols.dedup();
    protocols
}
