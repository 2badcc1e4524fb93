//! Builds `ast` nodes from pest pairs, checking what the grammar leaves open:
//! port ranges, addresses, escapes, protocol words, repeated modifiers.
//!
//! The builder walks only trees that pest made from `ports.pest`, so the children a rule must have
//! are there: the `grammar:` expectations below name the rule that guarantees them, and a miss
//! is a bug in portc (the `parsers` and `check` fuzz targets look for one), never in a user's file.

use pest::iterators::Pair;

use super::Rule;
use crate::ast::*;
use crate::diag::{Code, Diagnostic};
use crate::span::{FileId, Span};

pub struct Builder {
    file: FileId,
    /// Where the statement's text starts in the file; pest's offsets are relative to it.
    offset: usize,
    pub diagnostics: Vec<Diagnostic>,
}

/// The next child, which the grammar guarantees; a miss is a bug in portc, not in the user's file.
fn next<'i>(pairs: &mut impl Iterator<Item = Pair<'i, Rule>>, want: Rule) -> Pair<'i, Rule> {
    let pair = pairs.next().unwrap_or_else(|| panic!("grammar: missing {want:?}"));
    debug_assert_eq!(pair.as_rule(), want, "grammar: expected {want:?}");
    pair
}

fn only_child(pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    let rule = pair.as_rule();
    // Called only on rules that are one choice of alternatives, never empty (module doc).
    pair.into_inner().next().unwrap_or_else(|| panic!("grammar: {rule:?} has no child"))
}

impl Builder {
    pub fn new(file: FileId, offset: usize) -> Self {
        Builder { file, offset, diagnostics: Vec::new() }
    }

    /// The span of a whole statement, without trailing white space and comments.
    pub fn trimmed_span(&self, pair: &Pair<'_, Rule>) -> Span {
        self.span(pair)
    }

    /// The pair's span without trailing white space and comments, which pest includes
    /// when an optional or repeated tail matched nothing.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let end = s.start() + trimmed_len(pair.as_str());
        Span::new(self.file, self.offset + s.start(), self.offset + end)
    }

    fn error(
        &mut self,
        code: Code,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::new(code, message, span, label));
        // The vector is not empty: the line above pushed onto it.
        self.diagnostics.last_mut().expect("invariant: just pushed")
    }

    /// Builds one statement. `None` when it was reported as broken.
    pub fn statement(&mut self, pair: Pair<'_, Rule>) -> Option<Item> {
        let inner = only_child(pair);
        let span = self.span(&inner);
        let item = match inner.as_rule() {
            Rule::module_decl => {
                let mut p = inner.into_inner();
                let name = self.path(next(&mut p, Rule::dotted_name));
                let description = p.next().map(|s| self.text(s));
                Item::Module(ModuleDecl { name, description, span })
            }
            Rule::source_decl => Item::Source(self.text(only_child(inner))),
            Rule::use_decl => self.use_decl(inner, span),
            Rule::flag_decl => self.flag_decl(inner, span),
            Rule::option_decl => self.option_decl(inner, span),
            Rule::param_decl => self.param_decl(inner, span),
            Rule::role_decl => {
                let mut p = inner.into_inner();
                let name = self.ident(next(&mut p, Rule::name));
                let description = p.next().map(|s| self.text(s));
                Item::Role(RoleDecl { name, description, span })
            }
            Rule::external_decl => self.external_decl(inner, span),
            Rule::group_decl => {
                let mut p = inner.into_inner();
                let name = self.ident(next(&mut p, Rule::name));
                let (mut members, mut description) = (Vec::new(), None);
                for part in p {
                    match part.as_rule() {
                        Rule::members => members = part.into_inner().map(|m| self.path(m)).collect(),
                        _ => self.description(&mut description, part),
                    }
                }
                Item::Group(GroupDecl { name, members, description, span })
            }
            Rule::service_decl => self.service_decl(inner, span)?,
            Rule::note_decl => self.note_decl(inner, span),
            Rule::never_decl => Item::Never(self.flow(only_child(inner))),
            Rule::flow => Item::Flow(self.flow(inner)),
            Rule::set_stmt => {
                let mut p = inner.into_inner();
                let name = self.path(next(&mut p, Rule::qualified_name));
                let value = only_child(next(&mut p, Rule::set_value));
                let value = match value.as_rule() {
                    Rule::bool_lit => SetValue::Bool(self.bool(value)),
                    Rule::port_number => SetValue::Port(self.port(value)?),
                    _ => SetValue::Name(self.path(value)),
                };
                Item::Set(SetStmt { name, value, span })
            }
            Rule::bind_stmt => self.bind_stmt(inner, span),
            // `statement` in ports.pest lists exactly the rules matched above.
            other => unreachable!("grammar: {other:?} is not a statement"),
        };
        // A bad part (a port, an address, a spec) is left out of the item and reported; the rest
        // of the statement stays, so its names do not turn into "undeclared" errors further on.
        // `ast::File::broken` records the statement, so no stage concludes from the gap, and no
        // output is made from a program with errors.
        Some(item)
    }

    fn use_decl(&mut self, pair: Pair<'_, Rule>, span: Span) -> Item {
        let mut p = pair.into_inner();
        // `use_decl = { "use" ~ (string | dotted_name) ~ ... }`: the target is not optional.
        let target = p.next().expect("grammar: use target");
        let target = match target.as_rule() {
            Rule::string => UseTarget::File(self.text(target)),
            _ => UseTarget::Stdlib(self.path(target)),
        };
        let alias = p.next().map(|a| self.ident(only_child(a)));
        Item::Use(UseDecl { target, alias, span })
    }

    fn flag_decl(&mut self, pair: Pair<'_, Rule>, span: Span) -> Item {
        let mut p = pair.into_inner();
        let name = self.ident(next(&mut p, Rule::name));
        let (mut description, mut default) = (None, None);
        for part in p {
            let part_span = self.span(&part);
            match part.as_rule() {
                Rule::string => {
                    let value = self.text(part);
                    self.once(&mut description, value, part_span, "description")
                }
                _ => {
                    let value = self.bool(only_child(part));
                    self.once(&mut default, value, part_span, "default")
                }
            }
        }
        Item::Flag(FlagDecl { name, description, default, span })
    }

    fn option_decl(&mut self, pair: Pair<'_, Rule>, span: Span) -> Item {
        let mut p = pair.into_inner().peekable();
        let name = self.ident(next(&mut p, Rule::name));
        let mut description = None;
        if let Some(before) = p.next_if(|part| part.as_rule() == Rule::string) {
            self.description(&mut description, before);
        }
        let mut choices: Vec<Ident> = Vec::new();
        for choice in next(&mut p, Rule::choices).into_inner() {
            let choice = self.ident(choice);
            if let Some(first) = choices.iter().find(|c| c.name == choice.name) {
                let first = first.span;
                self.error(
                    Code::DuplicateChoice,
                    format!("choice `{}` is listed twice", choice.name),
                    choice.span,
                    "listed again",
                )
                .add_secondary(first, "first listed here");
            } else {
                choices.push(choice);
            }
        }
        let mut default = None;
        for part in p {
            let part_span = self.span(&part);
            match part.as_rule() {
                Rule::string => self.description(&mut description, part),
                _ => {
                    let value = self.ident(only_child(part));
                    self.once(&mut default, value, part_span, "default")
                }
            }
        }
        Item::Option(OptionDecl { name, choices, description, default, span })
    }

    fn param_decl(&mut self, pair: Pair<'_, Rule>, span: Span) -> Item {
        let mut p = pair.into_inner();
        let name = self.ident(next(&mut p, Rule::name));
        let (mut description, mut default) = (None, None);
        for part in p {
            let part_span = self.span(&part);
            match part.as_rule() {
                Rule::string => {
                    let value = self.text(part);
                    self.once(&mut description, value, part_span, "description")
                }
                _ => {
                    if let Some(port) = self.port(only_child(part)) {
                        self.once(&mut default, port, part_span, "default");
                    }
                }
            }
        }
        Item::Param(ParamDecl { name, default, description, span })
    }

    fn external_decl(&mut self, pair: Pair<'_, Rule>, span: Span) -> Item {
        let mut p = pair.into_inner();
        let name = self.ident(next(&mut p, Rule::name));
        let (mut addresses, mut description) = (Vec::new(), None);
        for part in p {
            match part.as_rule() {
                Rule::address_list => addresses = self.addresses(part),
                _ => self.description(&mut description, part),
            }
        }
        Item::External(ExternalDecl { name, addresses, description, span })
    }

    fn service_decl(&mut self, pair: Pair<'_, Rule>, span: Span) -> Option<Item> {
        let mut p = pair.into_inner().peekable();
        let name = self.ident(next(&mut p, Rule::name));
        let mut description = None;
        if let Some(before) = p.next_if(|part| part.as_rule() == Rule::string) {
            self.description(&mut description, before);
        }
        let head = next(&mut p, Rule::spec_head);
        let head_span = self.span(&head);
        let spec = match self.spec_head(head)? {
            SpecKind::Proto(spec) => spec,
            SpecKind::Service(path) => {
                self.error(
                    Code::UnknownProtocol,
                    format!("`{}` is not a protocol", path.text()),
                    head_span,
                    "not a protocol",
                )
                .help = Some("a service is a protocol and its ports: `service etcd_client = tcp 2379`".into());
                return None;
            }
        };
        if let Some(after) = p.next() {
            self.description(&mut description, after);
        }
        Some(Item::Service(ServiceDecl { name, spec, description, span }))
    }

    fn note_decl(&mut self, pair: Pair<'_, Rule>, span: Span) -> Item {
        let mut p = pair.into_inner();
        let label = self.note_label(next(&mut p, Rule::note_label));
        let text = self.text(next(&mut p, Rule::string));
        let (mut when, mut local) = (None, None);
        for part in p {
            let part_span = self.span(&part);
            match part.as_rule() {
                Rule::when_clause => {
                    let value = self.expr(only_child(part));
                    self.once(&mut when, value, part_span, "`when`")
                }
                _ => self.once(&mut local, part_span, part_span, "`local`"),
            }
        }
        Item::Note(NoteDecl { label, text, when, local, span })
    }

    fn bind_stmt(&mut self, pair: Pair<'_, Rule>, span: Span) -> Item {
        let mut p = pair.into_inner();
        let name = self.path(next(&mut p, Rule::qualified_name));
        // `bind_stmt` requires a target after the name and `=`.
        let target = p.next().expect("grammar: bind target");
        let target = match target.as_rule() {
            Rule::selector => BindTarget::Selector(self.selector(target)),
            _ => BindTarget::Addresses(self.addresses(target)),
        };
        Item::Bind(BindStmt { name, target, span })
    }

    fn selector(&mut self, pair: Pair<'_, Rule>) -> Selector {
        let span = self.span(&pair);
        let mut p = pair.into_inner();
        let kind = match next(&mut p, Rule::selector_kind).as_str() {
            "pods" => SelectorKind::Pods,
            _ => SelectorKind::Nodes,
        };
        let (mut labels, mut namespace): (Vec<(Text, Text)>, Option<Text>) = (Vec::new(), None);
        for part in p {
            match part.as_rule() {
                Rule::label => {
                    let mut kv = part.into_inner();
                    let key = self.label_part(next(&mut kv, Rule::label_part));
                    let value = self.label_part(next(&mut kv, Rule::label_part));
                    if let Some((first, _)) = labels.iter().find(|(k, _)| k.value == key.value) {
                        let first = first.span;
                        self.error(
                            Code::DuplicateLabel,
                            format!("label `{}` is given twice", key.value),
                            key.span,
                            "again",
                        )
                        .add_secondary(first, "first given here")
                        .help = Some("a selector matches one value per label; keep one".into());
                        continue;
                    }
                    labels.push((key, value));
                }
                _ => {
                    let clause_span = self.span(&part);
                    let value = self.label_part(only_child(part));
                    if kind == SelectorKind::Nodes {
                        self.error(Code::NodeNamespace, "nodes have no namespace", clause_span, "not for `nodes`")
                            .help =
                            Some("drop `in namespace ...`; only `pods { ... }` selectors live in a namespace".into());
                    } else {
                        namespace = Some(value);
                    }
                }
            }
        }
        Selector { kind, labels, namespace, span }
    }

    fn label_part(&mut self, pair: Pair<'_, Rule>) -> Text {
        let inner = only_child(pair);
        match inner.as_rule() {
            Rule::string => self.text(inner),
            _ => Text { value: inner.as_str().to_string(), span: self.span(&inner) },
        }
    }

    fn flow(&mut self, pair: Pair<'_, Rule>) -> Flow {
        let span = self.span(&pair);
        let mut p = pair.into_inner();
        let from = self.endpoints(next(&mut p, Rule::endpoints));
        next(&mut p, Rule::arrow);
        let to = self.endpoints(next(&mut p, Rule::endpoints));
        // `flow = { endpoints ~ arrow ~ endpoints ~ (inline_body | block_body) }`.
        let body = p.next().expect("grammar: flow body");
        let block = body.as_rule() == Rule::block_body;
        let body_span = self.span(&body);
        let body_text = body.as_str();
        let (mut modifiers, mut specs) = (Modifiers::default(), Vec::new());
        // The `{` of a block follows its modifiers, with only white space and comments between.
        let mut before_open = body_span.start as usize;
        for part in body.into_inner() {
            match part.as_rule() {
                Rule::modifier => {
                    before_open = self.span(&part).end as usize;
                    self.modifier(&mut modifiers, part)
                }
                _ => specs.extend(self.spec(part)),
            }
        }
        let body = if block {
            let after_modifiers = body_text.get(before_open - body_span.start as usize..).unwrap_or_default();
            let open = before_open + super::scan::leading_trivia(after_modifiers);
            let close = (body_span.end as usize).saturating_sub(1);
            FlowBody::Block {
                open: Span::new(self.file, open, open + 1),
                close: Span::new(self.file, close, close + 1),
            }
        } else {
            FlowBody::Inline
        };
        self.check_self(&from, &to);
        Flow { from, to, modifiers, specs, body, span }
    }

    /// `self` stands alone, on the right of the arrow.
    fn check_self(&mut self, from: &[Endpoint], to: &[Endpoint]) {
        for endpoint in from {
            if let Endpoint::SelfNode(span) = endpoint {
                self.error(Code::MisplacedSelf, "`self` cannot send traffic", *span, "`self` on the left of `->`")
                    .help = Some("`self` names the receiving node itself: write `nodes -> self : ...`".into());
            }
        }
        if to.len() > 1 {
            for endpoint in to {
                if let Endpoint::SelfNode(span) = endpoint {
                    self.error(
                        Code::MisplacedSelf,
                        "`self` cannot be combined with other endpoints",
                        *span,
                        "`self` in a union",
                    )
                    .help = Some("write the local flow as its own statement: `a -> self : ...`".into());
                }
            }
        }
    }

    fn endpoints(&mut self, pair: Pair<'_, Rule>) -> Vec<Endpoint> {
        pair.into_inner()
            .map(|endpoint| {
                let inner = only_child(endpoint);
                match inner.as_rule() {
                    Rule::self_kw => Endpoint::SelfNode(self.span(&inner)),
                    _ => Endpoint::Name(self.path(inner)),
                }
            })
            .collect()
    }

    fn spec(&mut self, pair: Pair<'_, Rule>) -> Option<Spec> {
        let span = self.span(&pair);
        let mut p = pair.into_inner();
        let kind = self.spec_head(next(&mut p, Rule::spec_head));
        let mut modifiers = Modifiers::default();
        for part in p {
            self.modifier(&mut modifiers, part);
        }
        Some(Spec { kind: kind?, modifiers, span })
    }

    /// Builds a spec head: protocols with ports, a protocol without ports, or a service name.
    fn spec_head(&mut self, pair: Pair<'_, Rule>) -> Option<SpecKind> {
        let span = self.span(&pair);
        let head = only_child(pair);
        if head.as_rule() == Rule::service_ref {
            return Some(SpecKind::Service(self.path(only_child(head))));
        }
        let known = head.as_rule() != Rule::unknown_head;
        let mut protocols = Vec::new();
        let mut unknown = false;
        let mut ports_pair = None;
        for part in head.into_inner() {
            match part.as_rule() {
                Rule::port_list | Rule::number_list => ports_pair = Some(part),
                _ => {
                    let word_span = self.span(&part);
                    let word = part.as_str().to_string();
                    match Protocol::from_name(&word) {
                        Some(protocol) => protocols.push((protocol, word_span)),
                        None => {
                            unknown = true;
                            let names = Protocol::ALL.iter().map(|p| p.name());
                            let d = Diagnostic::new(
                                Code::UnknownProtocol,
                                format!("unknown protocol `{word}`"),
                                word_span,
                                "not a protocol",
                            )
                            .with_suggestion(&word, names)
                            .with_note(format!("protocols: {}", protocol_list()));
                            self.diagnostics.push(d);
                        }
                    }
                }
            }
        }
        debug_assert!(known || unknown, "grammar: an unknown_head has an unknown word");
        let errors_before = self.diagnostics.len();
        let ports_span = ports_pair.as_ref().map(|p| self.span(p));
        let ports: Vec<PortItem> = match ports_pair {
            Some(list) => list.into_inner().filter_map(|item| self.port_item(item)).collect(),
            None => Vec::new(),
        };
        if unknown || self.diagnostics.len() > errors_before {
            return None;
        }
        self.check_protocols(&protocols, &ports, ports_span)?;
        Some(SpecKind::Proto(ProtoSpec { protocols, ports, span }))
    }

    fn check_protocols(
        &mut self,
        protocols: &[(Protocol, Span)],
        ports: &[PortItem],
        ports_span: Option<Span>,
    ) -> Option<()> {
        let ported: Vec<_> = protocols.iter().filter(|(p, _)| p.has_ports()).collect();
        let portless: Vec<_> = protocols.iter().filter(|(p, _)| !p.has_ports()).collect();
        if let (Some((a, a_span)), Some((b, b_span))) = (ported.first(), portless.first()) {
            self.error(
                Code::MixedProtocols,
                format!("`{a}` takes ports but `{b}` does not"),
                *b_span,
                "takes no port",
            )
            .add_secondary(*a_span, "takes ports")
            .help = Some(format!("write them as two specs: `{a} ...`, `{b}`"));
            return None;
        }
        if let (Some((p, p_span)), true) = (ported.first(), ports.is_empty()) {
            self.error(Code::PortRequired, format!("`{p}` needs a port"), *p_span, "no port given").help =
                Some(format!("name the ports: `{p} 443`, `{p} 30000-32767` or `{p} 80, 443`"));
            return None;
        }
        if let (Some((p, p_span)), Some(span)) = (portless.first(), ports_span) {
            self.error(Code::PortNotAllowed, format!("`{p}` does not take a port"), span, "port given here")
                .add_secondary(*p_span, "has no ports")
                .help = Some(format!("write `{p}` alone; only tcp, udp and sctp have ports"));
            return None;
        }
        Some(())
    }

    /// A `port_item` or `number_item`.
    fn port_item(&mut self, pair: Pair<'_, Rule>) -> Option<PortItem> {
        let inner = only_child(pair);
        let span = self.span(&inner);
        match inner.as_rule() {
            Rule::port_number => self.port(inner).map(PortItem::Single),
            Rule::port_range => {
                let mut p = inner.into_inner();
                let start = self.port(next(&mut p, Rule::port_number));
                let end = self.port(next(&mut p, Rule::port_number));
                let (start, end) = (start?, end?);
                if start.value > end.value {
                    self.error(Code::ReversedRange, "port range runs backwards", span, "start is above end").help =
                        Some(format!("write `{}-{}`", end.value, start.value));
                    return None;
                }
                Some(PortItem::Range { start, end, span })
            }
            _ => Some(PortItem::Param(self.path(only_child(inner)))),
        }
    }

    fn port(&mut self, pair: Pair<'_, Rule>) -> Option<Port> {
        let span = self.span(&pair);
        match pair.as_str().parse::<u16>() {
            Ok(value) if value > 0 => Some(Port { value, span }),
            _ => {
                self.error(
                    Code::PortOutOfRange,
                    format!("port `{}` is out of range", pair.as_str()),
                    span,
                    "not in 1-65535",
                )
                .help = Some("ports run from 1 to 65535".into());
                None
            }
        }
    }

    fn modifier(&mut self, modifiers: &mut Modifiers, pair: Pair<'_, Rule>) {
        let inner = only_child(pair);
        let span = self.span(&inner);
        match inner.as_rule() {
            Rule::note_refs => {
                let labels: Vec<NoteLabel> = inner.into_inner().map(|l| self.note_label(l)).collect();
                if modifiers.notes.is_empty() {
                    modifiers.notes = labels;
                } else {
                    self.duplicate(span, "note reference list");
                }
            }
            Rule::when_clause => {
                let value = self.expr(only_child(inner));
                self.once(&mut modifiers.when, value, span, "`when`")
            }
            Rule::local_kw => self.once(&mut modifiers.local, span, span, "`local`"),
            Rule::management_kw => self.once(&mut modifiers.management, span, span, "`management`"),
            _ => {
                let value = self.text(inner);
                self.once(&mut modifiers.description, value, span, "description")
            }
        }
    }

    /// Stores a declaration's description, which may come before or after its value, once.
    fn description(&mut self, slot: &mut Option<Text>, part: Pair<'_, Rule>) {
        let span = self.span(&part);
        let value = self.text(part);
        self.once(slot, value, span, "description");
    }

    /// Stores a modifier that may appear once, reporting a repeat.
    fn once<T>(&mut self, slot: &mut Option<T>, value: T, span: Span, what: &str) {
        if slot.is_some() {
            self.duplicate(span, what);
        } else {
            *slot = Some(value);
        }
    }

    fn duplicate(&mut self, span: Span, what: &str) {
        let help = match what {
            "`when`" => "combine the conditions into one: `when a && b`",
            "description" => "merge the texts into one string",
            "note reference list" => "list every note in one pair of brackets: `[3, 5]`",
            _ => "keep one of them",
        };
        self.error(Code::DuplicateModifier, format!("{what} given twice"), span, "given again here").help =
            Some(help.into());
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let mut terms: Vec<Expr> = pair.into_inner().map(|and| self.and_expr(and)).collect();
        // `terms.len() == 1` was just checked.
        if terms.len() == 1 { terms.pop().expect("invariant: one term") } else { Expr::Or(terms, span) }
    }

    fn and_expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let mut terms: Vec<Expr> = pair.into_inner().map(|unary| self.unary(unary)).collect();
        // `terms.len() == 1` was just checked.
        if terms.len() == 1 { terms.pop().expect("invariant: one term") } else { Expr::And(terms, span) }
    }

    fn unary(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let mut negations = 0usize;
        let mut atom = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::not_op => negations += 1,
                _ => atom = Some(self.atom(part)),
            }
        }
        // `unary = { not_op* ~ atom }`: exactly one child is not a `not_op`.
        let atom = atom.expect("grammar: unary has an atom");
        // `!!x` is `x`: fold the chain so a long run of `!` cannot build a deep tree.
        if negations % 2 == 1 { Expr::Not(Box::new(atom), span) } else { atom }
    }

    fn atom(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let inner = only_child(pair);
        match inner.as_rule() {
            Rule::expr => Expr::Paren(Box::new(self.expr(inner)), span),
            Rule::bool_lit => Expr::Bool(self.bool(inner)),
            Rule::comparison => {
                let mut p = inner.into_inner();
                let left = self.path(next(&mut p, Rule::qualified_name));
                let equal = next(&mut p, Rule::cmp_op).as_str() == "==";
                // `comparison = { qualified_name ~ cmp_op ~ (bool_lit | qualified_name) }`.
                let right = p.next().expect("grammar: comparison right side");
                let right = match right.as_rule() {
                    Rule::bool_lit => CompareValue::Bool(self.bool(right)),
                    _ => CompareValue::Name(self.path(right)),
                };
                Expr::Compare { left, equal, right, span }
            }
            _ => Expr::Name(self.path(inner)),
        }
    }

    fn addresses(&mut self, pair: Pair<'_, Rule>) -> Vec<Address> {
        pair.into_inner().filter_map(|a| self.address(a)).collect()
    }

    fn address(&mut self, pair: Pair<'_, Rule>) -> Option<Address> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let net = if text.contains('/') {
            text.parse::<ipnet::IpNet>().ok()
        } else {
            text.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from)
        };
        match net {
            Some(net) if net.trunc() != net => {
                self.host_bits(net, span);
                None
            }
            Some(net) => Some(Address { net, span }),
            None => {
                self.error(
                    Code::BadAddress,
                    format!("`{text}` is not an IP address or prefix"),
                    span,
                    "not an address",
                )
                .help = Some("write an IPv4 or IPv6 address or prefix: `10.0.0.1`, `10.0.0.0/24`, `fd00::/8`".into());
                None
            }
        }
    }

    /// `10.9.0.77/16`: most likely a host whose `/32` was mistyped, or a network written with a
    /// host's address; either way the prefix would open far more than meant, so neither is guessed.
    fn host_bits(&mut self, net: ipnet::IpNet, span: Span) {
        let host = ipnet::IpNet::from(net.addr());
        let network = net.trunc();
        let size = match net {
            ipnet::IpNet::V4(v4) => format!("{} addresses", 1u64 << (32 - u32::from(v4.prefix_len()))),
            ipnet::IpNet::V6(v6) => format!("a /{} of addresses", v6.prefix_len()),
        };
        let d = self.error(
            Code::HostBits,
            format!("`{net}` has host bits set: {} is not the start of a /{}", net.addr(), net.prefix_len()),
            span,
            format!("would open {size}"),
        );
        d.help = Some(format!("write `{host}` for the one host, or `{network}` for the whole network"));
    }

    fn note_label(&self, pair: Pair<'_, Rule>) -> NoteLabel {
        // Kept as text: labels are names that happen to be numbers, so `07` and `7` differ as in the documents.
        NoteLabel { label: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn bool(&self, pair: Pair<'_, Rule>) -> Bool {
        Bool { value: pair.as_str() == "true", span: self.span(&pair) }
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn path(&self, pair: Pair<'_, Rule>) -> Path {
        let span = self.span(&pair);
        let segments = pair.into_inner().map(|s| self.ident(s)).collect();
        Path { segments, span }
    }

    /// Decodes a string literal's escapes.
    fn text(&mut self, pair: Pair<'_, Rule>) -> Text {
        let span = self.span(&pair);
        let body = only_child(pair);
        let body_start = self.offset + body.as_span().start();
        let mut value = String::with_capacity(body.as_str().len());
        let mut chars = body.as_str().char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            let escape = chars.next().map(|(_, e)| e);
            let decoded = match escape {
                Some('"') => Some('"'),
                Some('\\') => Some('\\'),
                Some('n') => Some('\n'),
                Some('t') => Some('\t'),
                Some('u') => unicode_escape(&mut chars),
                _ => None,
            };
            match decoded {
                Some(c) => value.push(c),
                None => {
                    let at = Span::new(self.file, body_start + i, body_start + i + 2);
                    self.error(Code::BadEscape, "unknown escape in string", at, "not an escape").help =
                        Some(r#"the escapes are \" \\ \n \t and \u{...}"#.into());
                }
            }
        }
        Text { value, span }
    }
}

/// The length of `text` without trailing white space and `#` comments.
/// Strings never span lines, so a `#` outside quotes on the last line starts a comment.
fn trimmed_len(text: &str) -> usize {
    let mut text = text.trim_end();
    loop {
        let line_start = text.rfind('\n').map_or(0, |i| i + 1);
        let line = text.get(line_start..).unwrap_or_default();
        let Some(hash) = comment_start(line) else {
            return text.len();
        };
        text = text.get(..line_start + hash).unwrap_or_default().trim_end();
    }
}

fn comment_start(line: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if in_string => escaped = !escaped,
            '"' if !escaped => in_string = !in_string,
            '#' if !in_string => return Some(i),
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    None
}

/// Reads the `{1F600}` of a `\u{1F600}` escape.
fn unicode_escape(chars: &mut std::str::CharIndices<'_>) -> Option<char> {
    if chars.next()?.1 != '{' {
        return None;
    }
    let mut hex = String::new();
    for (_, c) in chars.by_ref() {
        if c == '}' {
            return u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
        }
        if hex.len() == 6 {
            return None;
        }
        hex.push(c);
    }
    None
}

fn protocol_list() -> String {
    let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.name()).collect();
    names.join(", ")
}
