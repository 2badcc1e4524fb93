//! A hand-written parser for well-formed statements, tried before pest on each statement.
//!
//! pest spends about 100 000 instructions on a one-line flow, mostly trying the alternatives of
//! `statement` and the lookaheads before each keyword; this parser spends a few hundred.
//! It follows the grammar (grammar/ports.pest) as pest runs it: the same ordered choices, greedy
//! repetitions and implicit white space, and it builds exactly the nodes, spans and values that
//! `build.rs` builds. It gives up (`None`) on anything that is not plainly well-formed: a
//! repetition or option that pest would enter and then abandon, anything `build.rs` would report
//! (a port out of range, a repeated modifier, a bad address), escapes in strings, and the rare
//! forms it does not know (selectors). pest then parses that statement as before, so every
//! diagnostic still comes from pest and `build.rs`, and a statement this parser accepts gives the
//! same AST either way (tests/fast_parser.rs compares the two on every file and on random text).

use super::keywords::{self, is_reserved};
use crate::ast::*;
use crate::span::{FileId, Span};

/// What to build of a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    Everything,
    /// Only check a flow or `never`, and build a placeholder with its span: its names, texts
    /// and lists are left empty, which allocates nothing. Whether the statement is accepted,
    /// and where it ends, are the same as with `Everything`.
    NoFlows,
}

/// Parses the statement at `start` in `text`, which pest would see as `text[start..end]`.
/// Returns the item and the statement's span, without trailing white space and comments.
pub fn statement(file: FileId, text: &str, start: usize, end: usize, build: Build) -> Option<(Item, Span)> {
    let bytes = text.as_bytes().get(..end)?;
    let mut p = Parser { bytes, text, file, pos: start, last: start, build: true, word: (usize::MAX, 0) };
    let item = p.statement(build)?;
    Some((item, p.span(start)))
}

/// `statement` without the end of pest's slice, for the common statement on one line: the slice
/// ends at the start of a later line, so a statement that consumed no newline lies inside it.
/// Beyond its last token this parser only looks ahead to stop a repetition, as pest stops at the
/// end of its slice, or to give up. `None` when the statement spans lines: then the caller
/// needs `scan::statement_end` and `statement`.
pub fn one_line_statement(file: FileId, text: &str, start: usize, build: Build) -> Option<(Item, Span)> {
    let (item, span) = statement(file, text, start, text.len(), build)?;
    let consumed = text.as_bytes().get(start..span.end as usize)?;
    (!consumed.contains(&b'\n')).then_some((item, span))
}

struct Parser<'t> {
    /// The text up to the end of the statement's slice: pest sees nothing beyond it.
    bytes: &'t [u8],
    text: &'t str,
    file: FileId,
    pos: usize,
    /// The end of the last token consumed: where the span of what was parsed so far ends.
    last: usize,
    /// Whether to build names, texts and lists (`Build`); no decision depends on what is built.
    build: bool,
    /// The position and length of the last word found, which is often asked for again.
    word: (usize, usize),
}

/// `[A-Za-z0-9_]`, by table: the scan of every word asks it of each byte.
#[allow(clippy::indexing_slicing)] // `b` runs over 0..256, the table's indices.
const NAME_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    table
};

fn is_name_char(b: u8) -> bool {
    NAME_CHARS.get(usize::from(b)).copied().unwrap_or(false)
}

impl<'t> Parser<'t> {
    // ------------------------------------------------------------------ tokens

    fn span(&self, start: usize) -> Span {
        Span::new(self.file, start, self.last)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    /// Skips white space and comments, as pest does between the elements of a non-atomic rule.
    fn skip(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'#' => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// Consumes `count` bytes as one token.
    fn take(&mut self, count: usize) {
        self.pos += count;
        self.last = self.pos;
    }

    /// After white space: consumes the punctuation `token` if it is next.
    fn eat(&mut self, token: &[u8]) -> bool {
        self.skip();
        if self.bytes.get(self.pos..).is_some_and(|rest| rest.starts_with(token)) {
            self.take(token.len());
            true
        } else {
            false
        }
    }

    /// After white space: the word (a maximal run of name characters starting with a letter or
    /// `_`) that comes next, without consuming it.
    fn word(&mut self) -> Option<&'t str> {
        self.skip();
        if self.word.0 == self.pos {
            return self.text.get(self.pos..self.pos + self.word.1);
        }
        let first = self.peek()?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let len =
            self.bytes.get(self.pos..)?.iter().position(|&b| !is_name_char(b)).unwrap_or(self.bytes.len() - self.pos);
        self.word = (self.pos, len);
        self.text.get(self.pos..self.pos + len)
    }

    /// `text` as an owned string, or an empty one (which allocates nothing) when not building.
    fn owned(&self, text: &str) -> String {
        if self.build { text.to_string() } else { String::new() }
    }

    /// A new list for a few items, most often one: room for exactly one, where `Vec::new` makes
    /// room for four at the first push (a thousand bytes for four `Spec`s).
    fn list<T>(&self) -> Vec<T> {
        self.list_for(1)
    }

    fn list_for<T>(&self, items: usize) -> Vec<T> {
        if self.build { Vec::with_capacity(items) } else { Vec::new() }
    }

    /// Pushes onto a list being built; a list is left empty when not building.
    fn push<T>(&self, list: &mut Vec<T>, item: T) {
        if self.build {
            list.push(item);
        }
    }

    /// Consumes the word `keyword` if it comes next (a keyword glued to more name characters is a name).
    fn keyword(&mut self, keyword: &str) -> Option<Span> {
        let start = self.pos_after_skip();
        if self.word()? != keyword {
            return None;
        }
        self.take(keyword.len());
        Some(self.span(start))
    }

    fn pos_after_skip(&mut self) -> usize {
        self.skip();
        self.pos
    }

    fn ident(&mut self) -> Option<Ident> {
        let word = self.word()?;
        if is_reserved(word) {
            return None;
        }
        let start = self.pos;
        self.take(word.len());
        Some(Ident { name: self.owned(word), span: self.span(start) })
    }

    /// `qualified_name` and `dotted_name`: names joined by `.` with no white space.
    fn path(&mut self) -> Option<Path> {
        let first = self.ident()?;
        let start = first.span.start as usize;
        let mut segments = self.list();
        self.push(&mut segments, first);
        while self.peek() == Some(b'.') {
            // `a.` followed by anything but a name ends the path before the dot in pest; give up.
            let next = self.peek_at(1)?;
            if !(next.is_ascii_alphabetic() || next == b'_') {
                return None;
            }
            self.pos += 1;
            let segment = self.ident()?;
            self.push(&mut segments, segment);
        }
        Some(Path { segments, span: self.span(start) })
    }

    /// A string without escapes (the builder decodes those; pest takes the statement then).
    fn string(&mut self) -> Option<Text> {
        self.skip();
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.pos;
        let rest = self.bytes.get(start + 1..)?;
        let len = rest.iter().position(|&b| matches!(b, b'"' | b'\\' | b'\n'))?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        let value = self.owned(self.text.get(start + 1..start + 1 + len)?);
        self.pos = start + 1 + len;
        self.take(1);
        Some(Text { value, span: self.span(start) })
    }

    fn string_next(&mut self) -> bool {
        self.skip();
        self.peek() == Some(b'"')
    }

    /// A run of digits, not glued to name characters.
    fn digits(&mut self) -> Option<(&'t str, Span)> {
        self.skip();
        let start = self.pos;
        let len = self.bytes.get(start..)?.iter().position(|b| !b.is_ascii_digit()).unwrap_or(self.bytes.len() - start);
        if len == 0 || self.bytes.get(start + len).is_some_and(|&b| is_name_char(b)) {
            return None;
        }
        self.take(len);
        Some((self.text.get(start..start + len)?, self.span(start)))
    }

    fn digit_next(&mut self) -> bool {
        self.skip();
        self.peek().is_some_and(|b| b.is_ascii_digit())
    }

    fn port(&mut self) -> Option<Port> {
        let (digits, span) = self.digits()?;
        let value = digits.parse::<u16>().ok().filter(|&v| v > 0)?;
        Some(Port { value, span })
    }

    fn note_label(&mut self) -> Option<NoteLabel> {
        let (digits, span) = self.digits()?;
        Some(NoteLabel { label: self.owned(digits), span })
    }

    fn bool(&mut self) -> Option<Bool> {
        let start = self.pos_after_skip();
        let value = match self.word()? {
            "true" => true,
            "false" => false,
            _ => return None,
        };
        self.take(if value { 4 } else { 5 });
        Some(Bool { value, span: self.span(start) })
    }

    fn bool_next(&mut self) -> bool {
        matches!(self.word(), Some("true" | "false"))
    }

    fn protocol(&mut self) -> Option<(Protocol, Span)> {
        let start = self.pos_after_skip();
        let protocol = Protocol::from_name(self.word()?)?;
        self.take(protocol.name().len());
        Some((protocol, self.span(start)))
    }

    /// `address`, checked as the builder checks it.
    fn address(&mut self) -> Option<Address> {
        self.skip();
        let start = self.pos;
        let rest = self.bytes.get(start..)?;
        let mut len =
            rest.iter().position(|&b| !(b.is_ascii_hexdigit() || b == b':' || b == b'.')).unwrap_or(rest.len());
        if len == 0 {
            return None;
        }
        if rest.get(len) == Some(&b'/') {
            let digits = rest.get(len + 1..)?.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len() - len - 1);
            if digits > 0 {
                len += 1 + digits;
            }
        }
        let text = self.text.get(start..start + len)?;
        let net = if text.contains('/') {
            text.parse::<ipnet::IpNet>().ok()?
        } else {
            ipnet::IpNet::from(text.parse::<std::net::IpAddr>().ok()?)
        };
        // Host bits under the prefix are an error, which the builder reports.
        if net.trunc() != net {
            return None;
        }
        self.take(len);
        Some(Address { net, span: self.span(start) })
    }

    fn addresses(&mut self) -> Option<Vec<Address>> {
        let mut addresses = vec![self.address()?];
        while self.eat(b",") {
            addresses.push(self.address()?);
        }
        Some(addresses)
    }

    // ------------------------------------------------------------------ statements

    fn statement(&mut self, build: Build) -> Option<Item> {
        let start = self.pos;
        // Declarations are always built: the resolver keeps them when it defers flows.
        let declaration = self.word().is_some_and(|w| w != "never" && keywords::STATEMENT.contains(&w));
        self.build = declaration || build == Build::Everything;
        let item = match self.word()? {
            "module" => Item::Module(self.module_decl(start)?),
            "source" => {
                self.keyword("source")?;
                Item::Source(self.string()?)
            }
            "use" => Item::Use(self.use_decl(start)?),
            "flag" => Item::Flag(self.flag_decl(start)?),
            "option" => Item::Option(self.option_decl(start)?),
            "param" => Item::Param(self.param_decl(start)?),
            "role" => {
                self.keyword("role")?;
                let name = self.ident()?;
                let description = if self.string_next() { Some(self.string()?) } else { None };
                Item::Role(RoleDecl { name, description, span: self.span(start) })
            }
            "external" => Item::External(self.external_decl(start)?),
            "group" => Item::Group(self.group_decl(start)?),
            "service" => Item::Service(self.service_decl(start)?),
            "note" => Item::Note(self.note_decl(start)?),
            "never" => {
                self.keyword("never")?;
                Item::Never(self.flow()?)
            }
            "set" => Item::Set(self.set_stmt(start)?),
            "bind" => Item::Bind(self.bind_stmt(start)?),
            word if word != "self" && is_reserved(word) => return None,
            _ => Item::Flow(self.flow()?),
        };
        Some(item)
    }

    fn module_decl(&mut self, start: usize) -> Option<ModuleDecl> {
        self.keyword("module")?;
        let name = self.path()?;
        let description = if self.string_next() { Some(self.string()?) } else { None };
        Some(ModuleDecl { name, description, span: self.span(start) })
    }

    fn use_decl(&mut self, start: usize) -> Option<UseDecl> {
        self.keyword("use")?;
        let target = if self.string_next() { UseTarget::File(self.string()?) } else { UseTarget::Stdlib(self.path()?) };
        let alias = if self.word() == Some("as") {
            self.keyword("as")?;
            Some(self.ident()?)
        } else {
            None
        };
        Some(UseDecl { target, alias, span: self.span(start) })
    }

    fn flag_decl(&mut self, start: usize) -> Option<FlagDecl> {
        self.keyword("flag")?;
        let name = self.ident()?;
        let (mut description, mut default) = (None, None);
        loop {
            if self.string_next() {
                once(&mut description, self.string()?)?;
            } else if self.eat(b"=") {
                once(&mut default, self.bool()?)?;
            } else {
                break;
            }
        }
        Some(FlagDecl { name, description, default, span: self.span(start) })
    }

    fn option_decl(&mut self, start: usize) -> Option<OptionDecl> {
        self.keyword("option")?;
        let name = self.ident()?;
        let mut description = self.description_before()?;
        if !self.eat(b"=") {
            return None;
        }
        let mut choices = vec![self.ident()?];
        while self.eat(b"|") {
            let choice = self.ident()?;
            if choices.iter().any(|c| c.name == choice.name) {
                return None;
            }
            choices.push(choice);
        }
        let mut default = None;
        loop {
            if self.string_next() {
                once(&mut description, self.string()?)?;
            } else if self.eat(b"=") {
                once(&mut default, self.ident()?)?;
            } else {
                break;
            }
        }
        Some(OptionDecl { name, choices, description, default, span: self.span(start) })
    }

    fn param_decl(&mut self, start: usize) -> Option<ParamDecl> {
        self.keyword("param")?;
        let name = self.ident()?;
        let (mut description, mut default) = (None, None);
        loop {
            if self.string_next() {
                once(&mut description, self.string()?)?;
            } else if self.eat(b"=") {
                once(&mut default, self.port()?)?;
            } else {
                break;
            }
        }
        Some(ParamDecl { name, default, description, span: self.span(start) })
    }

    fn external_decl(&mut self, start: usize) -> Option<ExternalDecl> {
        self.keyword("external")?;
        let name = self.ident()?;
        let mut description = self.description_before()?;
        let addresses = if self.eat(b"=") { self.addresses()? } else { Vec::new() };
        self.description_after(&mut description)?;
        Some(ExternalDecl { name, addresses, description, span: self.span(start) })
    }

    /// A declaration's description before its value: `Some(None)` when there is none, `None` to give up.
    fn description_before(&mut self) -> Option<Option<Text>> {
        if self.string_next() { Some(Some(self.string()?)) } else { Some(None) }
    }

    /// A declaration's description after its value; a second description is left to pest (E0013).
    fn description_after(&mut self, description: &mut Option<Text>) -> Option<()> {
        if self.string_next() {
            once(description, self.string()?)?;
        }
        Some(())
    }

    fn group_decl(&mut self, start: usize) -> Option<GroupDecl> {
        self.keyword("group")?;
        let name = self.ident()?;
        let mut description = self.description_before()?;
        if !self.eat(b"=") {
            return None;
        }
        let mut members = vec![self.path()?];
        while self.eat(b"|") {
            members.push(self.path()?);
        }
        self.description_after(&mut description)?;
        Some(GroupDecl { name, members, description, span: self.span(start) })
    }

    fn service_decl(&mut self, start: usize) -> Option<ServiceDecl> {
        self.keyword("service")?;
        let name = self.ident()?;
        let mut description = self.description_before()?;
        if !self.eat(b"=") {
            return None;
        }
        let SpecKind::Proto(spec) = self.spec_head()? else { return None };
        self.description_after(&mut description)?;
        Some(ServiceDecl { name, spec, description, span: self.span(start) })
    }

    fn note_decl(&mut self, start: usize) -> Option<NoteDecl> {
        self.keyword("note")?;
        let label = self.note_label()?;
        let text = self.string()?;
        let (mut when, mut local) = (None, None);
        loop {
            match self.word() {
                Some("when") => {
                    self.keyword("when")?;
                    once(&mut when, self.expr()?)?;
                }
                Some("local") => {
                    let span = self.keyword("local")?;
                    once(&mut local, span)?;
                }
                _ => break,
            }
        }
        Some(NoteDecl { label, text, when, local, span: self.span(start) })
    }

    fn set_stmt(&mut self, start: usize) -> Option<SetStmt> {
        self.keyword("set")?;
        let name = self.path()?;
        if !self.eat(b"=") {
            return None;
        }
        let value = if self.bool_next() {
            SetValue::Bool(self.bool()?)
        } else if self.digit_next() {
            SetValue::Port(self.port()?)
        } else {
            SetValue::Name(self.path()?)
        };
        Some(SetStmt { name, value, span: self.span(start) })
    }

    /// `bind NAME = ADDRESS, ...`; selectors are left to pest.
    fn bind_stmt(&mut self, start: usize) -> Option<BindStmt> {
        self.keyword("bind")?;
        let name = self.path()?;
        if !self.eat(b"=") || matches!(self.word(), Some("pods" | "nodes")) {
            return None;
        }
        let target = BindTarget::Addresses(self.addresses()?);
        Some(BindStmt { name, target, span: self.span(start) })
    }

    // ------------------------------------------------------------------ flows

    fn flow(&mut self) -> Option<Flow> {
        let start = self.pos_after_skip();
        let (from, from_has_self, _) = self.endpoints()?;
        if !self.eat(b"->") {
            return None;
        }
        let (to, to_has_self, to_count) = self.endpoints()?;
        // `self` only alone on the right (build.rs reports the rest).
        if from_has_self || (to_count > 1 && to_has_self) {
            return None;
        }
        let mut modifiers = Modifiers::default();
        let mut specs = self.list();
        let body = if self.eat(b":") {
            let spec = self.spec()?;
            self.push(&mut specs, spec);
            while self.eat(b",") {
                let spec = self.spec()?;
                self.push(&mut specs, spec);
            }
            FlowBody::Inline
        } else {
            self.modifiers(&mut modifiers)?;
            if !self.eat(b"{") {
                return None;
            }
            let open = self.span(self.last - 1);
            while !self.eat(b"}") {
                let spec = self.spec()?;
                self.push(&mut specs, spec);
                self.eat(b",");
            }
            FlowBody::Block { open, close: self.span(self.last - 1) }
        };
        Some(Flow { from, to, modifiers, specs, body, span: self.span(start) })
    }

    /// The endpoints, whether one is `self`, and how many there are.
    fn endpoints(&mut self) -> Option<(Vec<Endpoint>, bool, usize)> {
        let (mut endpoints, mut has_self, mut count) = (self.list(), false, 0);
        loop {
            let endpoint = self.endpoint()?;
            has_self |= matches!(endpoint, Endpoint::SelfNode(_));
            count += 1;
            self.push(&mut endpoints, endpoint);
            // `||` is no endpoint separator; the endpoint after `|` fails on the second `|`.
            if !self.eat(b"|") {
                return Some((endpoints, has_self, count));
            }
        }
    }

    fn endpoint(&mut self) -> Option<Endpoint> {
        if self.word() == Some("self") {
            return Some(Endpoint::SelfNode(self.keyword("self")?));
        }
        Some(Endpoint::Name(self.path()?))
    }

    fn spec(&mut self) -> Option<Spec> {
        let start = self.pos_after_skip();
        let kind = self.spec_head()?;
        let mut modifiers = Modifiers::default();
        self.modifiers(&mut modifiers)?;
        Some(Spec { kind, modifiers, span: self.span(start) })
    }

    /// `modifier*`: each kind at most once (build.rs reports a repeat).
    fn modifiers(&mut self, modifiers: &mut Modifiers) -> Option<()> {
        let mut notes = false;
        loop {
            self.skip();
            match self.peek() {
                Some(b'[') => {
                    if notes {
                        return None;
                    }
                    modifiers.notes = self.note_refs()?;
                    notes = true;
                }
                Some(b'"') => once(&mut modifiers.description, self.string()?)?,
                _ => match self.word() {
                    Some("when") => {
                        self.keyword("when")?;
                        once(&mut modifiers.when, self.expr()?)?;
                    }
                    Some("local") => {
                        let span = self.keyword("local")?;
                        once(&mut modifiers.local, span)?;
                    }
                    Some("management") => {
                        let span = self.keyword("management")?;
                        once(&mut modifiers.management, span)?;
                    }
                    _ => return Some(()),
                },
            }
        }
    }

    fn note_refs(&mut self) -> Option<Vec<NoteLabel>> {
        if !self.eat(b"[") {
            return None;
        }
        let mut labels = self.list();
        let label = self.note_label()?;
        self.push(&mut labels, label);
        while self.eat(b",") {
            let label = self.note_label()?;
            self.push(&mut labels, label);
        }
        self.eat(b"]").then_some(labels)
    }

    /// `spec_head`: protocols and ports, protocols without ports, or a service.
    fn spec_head(&mut self) -> Option<SpecKind> {
        let start = self.pos_after_skip();
        let word = self.word()?;
        let Some(first) = Protocol::from_name(word) else {
            // `name / ...` and `name 80` are unknown protocols (E0011); keywords are no service.
            let after = self.pos + word.len();
            let mut lookahead = Parser { pos: after, ..*self };
            lookahead.skip();
            if matches!(lookahead.peek(), Some(b'/')) || lookahead.peek().is_some_and(|b| b.is_ascii_digit()) {
                return None;
            }
            return Some(SpecKind::Service(self.path()?));
        };
        let mut protocols = self.list();
        let protocol = self.protocol()?;
        self.push(&mut protocols, protocol);
        while self.eat(b"/") {
            let protocol = self.protocol()?;
            // Mixed protocols (E0012), ports where none are taken (E0010) and none where they
            // are needed (E0009) are reported by build.rs.
            if protocol.0.has_ports() != first.has_ports() {
                return None;
            }
            self.push(&mut protocols, protocol);
        }
        let ports = if first.has_ports() {
            self.port_list()?
        } else {
            if self.digit_next() {
                return None;
            }
            Vec::new()
        };
        Some(SpecKind::Proto(ProtoSpec { protocols, ports, span: self.span(start) }))
    }

    /// `port_list`, which ends before a comma followed by a protocol (`tcp 80, udp 53` is two specs).
    fn port_list(&mut self) -> Option<Vec<PortItem>> {
        let mut items = self.list();
        let item = self.port_item()?;
        self.push(&mut items, item);
        loop {
            let (comma, last) = (self.pos_after_skip(), self.last);
            if !self.eat(b",") {
                return Some(items);
            }
            if self.word().and_then(Protocol::from_name).is_some() {
                (self.pos, self.last) = (comma, last);
                return Some(items);
            }
            let item = self.port_item()?;
            self.push(&mut items, item);
        }
    }

    fn port_item(&mut self) -> Option<PortItem> {
        if !self.digit_next() {
            // `port_param`: a name that no `/`, digit, `->` or `|` follows.
            let path = self.path()?;
            let mut lookahead = Parser { ..*self };
            lookahead.skip();
            let rest = lookahead.bytes.get(lookahead.pos..).unwrap_or_default();
            if rest.first().is_some_and(|&b| b == b'/' || b == b'|' || b.is_ascii_digit()) || rest.starts_with(b"->") {
                return None;
            }
            return Some(PortItem::Param(path));
        }
        let start = self.port()?;
        if !self.eat(b"-") {
            return Some(PortItem::Single(start));
        }
        let end = self.port()?;
        if start.value > end.value {
            return None;
        }
        let span = start.span.to(end.span);
        Some(PortItem::Range { start, end, span })
    }

    // ------------------------------------------------------------------ conditions

    fn expr(&mut self) -> Option<Expr> {
        let start = self.pos_after_skip();
        let first = self.and_expr()?;
        if !self.eat(b"||") {
            return Some(first);
        }
        let mut terms = self.list_for(2);
        self.push(&mut terms, first);
        loop {
            let term = self.and_expr()?;
            self.push(&mut terms, term);
            if !self.eat(b"||") {
                return Some(Expr::Or(terms, self.span(start)));
            }
        }
    }

    fn and_expr(&mut self) -> Option<Expr> {
        let start = self.pos_after_skip();
        let first = self.unary()?;
        if !self.eat(b"&&") {
            return Some(first);
        }
        let mut terms = self.list_for(2);
        self.push(&mut terms, first);
        loop {
            let term = self.unary()?;
            self.push(&mut terms, term);
            if !self.eat(b"&&") {
                return Some(Expr::And(terms, self.span(start)));
            }
        }
    }

    fn unary(&mut self) -> Option<Expr> {
        let start = self.pos_after_skip();
        let mut negations = 0usize;
        while self.peek() == Some(b'!') {
            // `!` followed by `=` is no negation (`a != b`); then the atom fails in pest too.
            let mut lookahead = Parser { pos: self.pos + 1, ..*self };
            lookahead.skip();
            if lookahead.peek() == Some(b'=') {
                return None;
            }
            self.take(1);
            negations += 1;
            self.skip();
        }
        let atom = self.atom()?;
        // Not building, the atom stands in for its negation (a box would allocate).
        Some(if negations % 2 == 1 && self.build { Expr::Not(Box::new(atom), self.span(start)) } else { atom })
    }

    fn atom(&mut self) -> Option<Expr> {
        let start = self.pos_after_skip();
        if self.eat(b"(") {
            let inner = self.expr()?;
            if !self.eat(b")") {
                return None;
            }
            return Some(if self.build { Expr::Paren(Box::new(inner), self.span(start)) } else { inner });
        }
        if self.bool_next() {
            return Some(Expr::Bool(self.bool()?));
        }
        let left = self.path()?;
        self.skip();
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let equal = if rest.starts_with(b"==") {
            true
        } else if rest.starts_with(b"!=") {
            false
        } else {
            // A single `=` after a name is never well-formed.
            return (rest.first() != Some(&b'=')).then_some(Expr::Name(left));
        };
        self.take(2);
        let right = if self.bool_next() { CompareValue::Bool(self.bool()?) } else { CompareValue::Name(self.path()?) };
        Some(Expr::Compare { left, equal, right, span: self.span(start) })
    }
}

/// Stores a modifier that may appear once; `None` on a repeat, which build.rs reports.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}
