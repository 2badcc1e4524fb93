//! The spanned syntax tree of one `.ports` file, as written, before names are resolved.

use crate::span::Span;

pub use crate::protocol::Protocol;

/// One parsed file.
#[derive(Clone, Debug)]
pub struct File {
    pub items: Vec<Item>,
    /// Statements that did not parse, or that parsed with a part left out (a bad port, address
    /// or spec), each reported: what they declare or mention is unknown, so later stages neither
    /// report its absence nor conclude from it.
    pub broken: Vec<Span>,
    pub span: Span,
}

/// What the syntax tree leaves out: comments and blank lines, found by `syntax::trivia`, for
/// tools that reproduce or annotate the text (the formatter, an editor).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trivia {
    /// In order; each from its `#` to the end of its line, without the newline.
    pub comments: Vec<Comment>,
    /// Lines of only white space, in order; each without its newline.
    pub blank_lines: Vec<Span>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comment {
    pub span: Span,
    /// Code comes before it on its line; otherwise it stands on a line of its own.
    pub trailing: bool,
}

#[derive(Clone, Debug)]
pub enum Item {
    Module(ModuleDecl),
    Source(Text),
    Use(UseDecl),
    Flag(FlagDecl),
    Option(OptionDecl),
    Param(ParamDecl),
    Role(RoleDecl),
    External(ExternalDecl),
    Group(GroupDecl),
    Service(ServiceDecl),
    Note(NoteDecl),
    Flow(Flow),
    Never(Flow),
    Set(SetStmt),
    Bind(BindStmt),
}

/// A plain name, as declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A name as used: `worker`, or `k8s.worker` through a `use ... as k8s`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

/// A string literal with its escapes decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub value: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ModuleDecl {
    pub name: Path,
    pub description: Option<Text>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum UseTarget {
    /// `use rancher.server.rke`.
    Stdlib(Path),
    /// `use "./site-common.ports"`, relative to the using file.
    File(Text),
}

#[derive(Clone, Debug)]
pub struct UseDecl {
    pub target: UseTarget,
    pub alias: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct FlagDecl {
    pub name: Ident,
    pub description: Option<Text>,
    pub default: Option<Bool>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bool {
    pub value: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct OptionDecl {
    pub name: Ident,
    pub choices: Vec<Ident>,
    pub description: Option<Text>,
    pub default: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ParamDecl {
    pub name: Ident,
    pub default: Option<Port>,
    pub description: Option<Text>,
    pub span: Span,
}

/// A port number, checked to lie in 1..=65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port {
    pub value: u16,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct RoleDecl {
    pub name: Ident,
    pub description: Option<Text>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ExternalDecl {
    pub name: Ident,
    pub addresses: Vec<Address>,
    pub description: Option<Text>,
    pub span: Span,
}

/// An IPv4 or IPv6 address or prefix; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address {
    pub net: ipnet::IpNet,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct GroupDecl {
    pub name: Ident,
    pub members: Vec<Path>,
    pub description: Option<Text>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ServiceDecl {
    pub name: Ident,
    pub spec: ProtoSpec,
    pub description: Option<Text>,
    pub span: Span,
}

/// `note 3 "text" when EXPR` or `note 4 "text" local`.
#[derive(Clone, Debug)]
pub struct NoteDecl {
    pub label: NoteLabel,
    pub text: Text,
    pub when: Option<Expr>,
    pub local: Option<Span>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteLabel {
    pub label: String,
    pub span: Span,
}

/// `from -> to : specs` or `from -> to modifiers { specs }`; also the body of `never`.
#[derive(Clone, Debug)]
pub struct Flow {
    pub from: Vec<Endpoint>,
    pub to: Vec<Endpoint>,
    /// Modifiers of a block (`a -> b when x { ... }`) apply to every spec in it.
    pub modifiers: Modifiers,
    pub specs: Vec<Spec>,
    /// How the author wrote the specs; the meaning is the same either way.
    pub body: FlowBody,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowBody {
    /// `a -> b : spec, spec`.
    Inline,
    /// `a -> b { spec spec }`, with the spans of its braces.
    Block { open: Span, close: Span },
}

#[derive(Clone, Debug)]
pub enum Endpoint {
    Name(Path),
    /// `self`: traffic from a node to itself.
    SelfNode(Span),
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub kind: SpecKind,
    pub modifiers: Modifiers,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum SpecKind {
    Proto(ProtoSpec),
    Service(Path),
}

/// `tcp/udp 53, 5353` or `ipip`: protocols and the ports they take.
#[derive(Clone, Debug)]
pub struct ProtoSpec {
    pub protocols: Vec<(Protocol, Span)>,
    pub ports: Vec<PortItem>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum PortItem {
    Single(Port),
    Range { start: Port, end: Port, span: Span },
    Param(Path),
}

#[derive(Clone, Debug, Default)]
pub struct Modifiers {
    pub notes: Vec<NoteLabel>,
    pub when: Option<Expr>,
    pub description: Option<Text>,
    pub local: Option<Span>,
    /// `management`: the way operators reach the hosts (the host firewalls' lockout guard).
    pub management: Option<Span>,
}

/// A condition over flags and options.
/// `!` chains are folded while parsing, and `&&`/`||` are n-ary, so depth stays small.
#[derive(Clone, Debug)]
pub enum Expr {
    Bool(Bool),
    Name(Path),
    Compare {
        left: Path,
        equal: bool,
        right: CompareValue,
        span: Span,
    },
    Not(Box<Expr>, Span),
    And(Vec<Expr>, Span),
    Or(Vec<Expr>, Span),
    /// A parenthesised expression, kept for its span.
    Paren(Box<Expr>, Span),
}

#[derive(Clone, Debug)]
pub enum CompareValue {
    Bool(Bool),
    Name(Path),
}

#[derive(Clone, Debug)]
pub struct SetStmt {
    pub name: Path,
    pub value: SetValue,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum SetValue {
    Bool(Bool),
    Port(Port),
    Name(Path),
}

#[derive(Clone, Debug)]
pub struct BindStmt {
    pub name: Path,
    pub target: BindTarget,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum BindTarget {
    Addresses(Vec<Address>),
    Selector(Selector),
}

/// `pods { app: api } in namespace "shop"` or `nodes { "node-role.kubernetes.io/worker": "true" }`.
#[derive(Clone, Debug)]
pub struct Selector {
    pub kind: SelectorKind,
    pub labels: Vec<(Text, Text)>,
    pub namespace: Option<Text>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SelectorKind {
    Pods,
    Nodes,
}

impl Item {
    /// The whole statement, without trailing white space and comments.
    pub fn span(&self) -> Span {
        match self {
            Item::Module(m) => m.span,
            Item::Source(s) => s.span,
            Item::Use(u) => u.span,
            Item::Flag(f) => f.span,
            Item::Option(o) => o.span,
            Item::Param(p) => p.span,
            Item::Role(r) => r.span,
            Item::External(e) => e.span,
            Item::Group(g) => g.span,
            Item::Service(s) => s.span,
            Item::Note(n) => n.span,
            Item::Flow(f) | Item::Never(f) => f.span,
            Item::Set(s) => s.span,
            Item::Bind(b) => b.span,
        }
    }
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Bool(b) => b.span,
            Expr::Name(p) => p.span,
            Expr::Compare { span, .. }
            | Expr::Not(_, span)
            | Expr::And(_, span)
            | Expr::Or(_, span)
            | Expr::Paren(_, span) => *span,
        }
    }
}

impl Path {
    /// The path as written, `k8s.worker`.
    pub fn text(&self) -> String {
        let names: Vec<&str> = self.segments.iter().map(|s| s.name.as_str()).collect();
        names.join(".")
    }
}
