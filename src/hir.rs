//! The resolved program: every name replaced by an index, groups expanded, settings collected.
//! Produced by `resolve`, read by `graph`.

use std::sync::Arc;

use crate::ast::SelectorKind;
use crate::protocol::Protocol;
use crate::span::{FileId, Span};

macro_rules! id {
    ($($name:ident),*) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}
id!(ModuleId, NodeId, FlagId, OptionId, ParamId, NoteId, FlowId);

/// Turns an arena length into the next id; arenas are far smaller than 2^32.
pub(crate) fn next_id(len: usize) -> u32 {
    // Declarations come from files held in memory; 2^32 of them cannot be built.
    u32::try_from(len).expect("invariant: fewer than 2^32 declarations")
}

#[derive(Clone, Debug, Default)]
pub struct Program {
    /// The root module is `ModuleId(0)`.
    pub modules: Vec<Module>,
    /// Roles and externals.
    pub nodes: Vec<Node>,
    pub flags: Vec<Flag>,
    pub options: Vec<OptionDef>,
    pub params: Vec<Param>,
    pub notes: Vec<Note>,
    pub flows: Vec<Flow>,
    /// `never` invariants, in the same shape as flows.
    pub nevers: Vec<Flow>,
    pub groups: Vec<Group>,
    /// What the build uses: defaults, then `set`, then the command line.
    pub config: Config,
    /// Only what `set` and the command line decided; the checks consider every configuration
    /// that agrees with it, so a default never hides a problem.
    pub explicit: Config,
    /// The root module binds a role or external: it describes a site, whose flows need
    /// addresses or selectors, rather than a vocabulary or a vendor table.
    pub site: bool,
    /// What resolve left out because of errors, so that no check concludes from its absence.
    pub gaps: Gaps,
    /// Every `set` that was applied, files' first and the command line's last, so that a tool can
    /// say which statement gave a switch its value (`portc diff` cites them).
    pub settings: Vec<Setting>,
}

/// What the program lacks because statements had errors: those are reported, and everything
/// else is still checked, but nothing is concluded from what is missing (ARCHITECTURE.md,
/// "Partial results").
#[derive(Clone, Debug, Default)]
pub struct Gaps {
    /// The words (names, note labels) of statements left out or cut short, and the names that
    /// misspelt names were most likely meant as: what is missing may mention these.
    pub mentioned: std::collections::BTreeSet<String>,
    /// A `set` (in a file or on the command line) was left out: configurations it would rule out
    /// are still open, so nothing is claimed to happen in some configuration, nor a param unset.
    pub settings: bool,
    /// A flow was left out, or a statement that may have been one.
    pub flows: bool,
}

impl Gaps {
    /// Whether something left out may mention `name` (a role, param or note label).
    pub fn mentions(&self, name: &str) -> bool {
        self.mentioned.contains(name)
    }
}

/// A `set` statement, in a file or on the command line (the pseudo-file `<command line>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub switch: Switch,
    pub span: Span,
}

/// A flag, option or param: what `set` gives a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Switch {
    Flag(FlagId),
    Option(OptionId),
    Param(ParamId),
}

#[derive(Clone, Debug)]
pub struct Module {
    /// The dotted name from `module`, or the file's display name for a file without one.
    pub name: String,
    pub title: Option<String>,
    pub source: Option<String>,
    pub file: FileId,
    /// The file's display name: as given, relative to the root, or `<stdlib>/...`.
    pub path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A host or workload the policy controls.
    Role,
    /// Something outside the policy's control, known by its addresses.
    External,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    pub description: Option<String>,
    /// Declared on an `external` plus everything `bind` gave; sorted, no duplicates.
    pub addresses: Vec<ipnet::IpNet>,
    /// Where the addresses come from: the `external` declaration and the `bind`s, in order.
    pub address_sources: Vec<Span>,
    pub selector: Option<Selector>,
    pub module: ModuleId,
    /// The 1-based line of the declaration.
    pub line: u32,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub kind: SelectorKind,
    /// Sorted by key.
    pub labels: Vec<(String, String)>,
    pub namespace: Option<String>,
    /// The selector in its `bind`.
    pub span: Span,
}

/// A group, kept after expansion for the checks that look at groups themselves.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    /// Sorted, no duplicates.
    pub members: Vec<NodeId>,
    pub module: ModuleId,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Flag {
    pub name: String,
    pub description: Option<String>,
    pub default: Option<bool>,
    pub module: ModuleId,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct OptionDef {
    pub name: String,
    pub choices: Vec<String>,
    pub description: Option<String>,
    /// Index into `choices`.
    pub default: Option<u32>,
    pub module: ModuleId,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub description: Option<String>,
    pub default: Option<u16>,
    pub module: ModuleId,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Note {
    pub label: String,
    pub text: String,
    pub when: Cond,
    pub local: bool,
    pub module: ModuleId,
    pub span: Span,
}

/// One spec of one flow statement: `from -> to : protocols ports`, with its own modifiers
/// and those of its block.
#[derive(Clone, Debug)]
pub struct Flow {
    pub from: Vec<NodeId>,
    pub to: Target,
    pub protocols: Vec<Protocol>,
    /// Empty for protocols without ports.
    pub ports: Vec<PortRef>,
    /// The flow's own `when`, without its notes' conditions.
    pub when: Cond,
    pub notes: Vec<NoteId>,
    pub description: Option<String>,
    /// The service the spec named, if any.
    pub service: Option<String>,
    /// Marked `local` directly (notes can mark it too).
    pub local: bool,
    /// Marked `management`: how operators reach the destination hosts.
    pub management: bool,
    pub module: ModuleId,
    /// The 1-based line of the spec, for provenance in every output.
    pub line: u32,
    /// The spec.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Nodes(Vec<NodeId>),
    /// `self`: every source node to itself.
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRef {
    Range(u16, u16),
    Param(ParamId, Span),
}

/// A condition over flags and options.
/// Subterms are shared (`Arc`), so a clone is cheap: each flow's condition is copied into the
/// three views of its edges, the solver's cache and the checks' conjunctions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    Const(bool),
    Flag(FlagId),
    /// The option has the choice with this index.
    Choice(OptionId, u32),
    Not(Arc<Cond>),
    And(Arc<[Cond]>),
    Or(Arc<[Cond]>),
}

/// The values of flags, options and params after defaults, `set` statements and the command line.
/// `None` is undecided.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub flags: Vec<Option<bool>>,
    pub options: Vec<Option<u32>>,
    pub params: Vec<Option<u16>>,
}

impl Program {
    /// A name for every node that is unique in the program: the plain name, or `module.name`
    /// where two modules declare the same name.
    pub fn node_names(&self) -> Vec<String> {
        self.unique_names(self.nodes.iter().map(|n| (n.name.as_str(), n.module)))
    }

    /// The nodes a command-line name stands for: a role or external by its unique name, or the
    /// members of a group; `Err` says what is wrong, with a suggestion.
    pub fn nodes_named(&self, name: &str) -> Result<Vec<NodeId>, String> {
        let names = self.node_names();
        if let Some(index) = names.iter().position(|n| n == name) {
            return Ok(vec![NodeId(next_id(index))]);
        }
        if let Some(group) = self.groups.iter().find(|g| g.name == name) {
            return Ok(group.members.clone());
        }
        let candidates = names.iter().map(String::as_str).chain(self.groups.iter().map(|g| g.name.as_str()));
        let hint = crate::diag::suggest(name, candidates).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
        Err(format!("no role, external or group named `{name}`{hint}"))
    }

    /// The roles and externals whose addresses contain `address` (a host or a whole prefix), in
    /// declaration order.
    pub fn nodes_at(&self, address: ipnet::IpNet) -> Vec<NodeId> {
        let contains = |net: &ipnet::IpNet| match (net, address) {
            (ipnet::IpNet::V4(n), ipnet::IpNet::V4(a)) => n.contains(&a),
            (ipnet::IpNet::V6(n), ipnet::IpNet::V6(a)) => n.contains(&a),
            _ => false,
        };
        let ids = self.nodes.iter().enumerate().filter(|(_, n)| n.addresses.iter().any(contains));
        ids.map(|(i, _)| NodeId(next_id(i))).collect()
    }

    /// Unique names for the flags, as `node_names` does for nodes.
    pub fn flag_names(&self) -> Vec<String> {
        self.unique_names(self.flags.iter().map(|f| (f.name.as_str(), f.module)))
    }

    /// Unique names for the options, as `node_names` does for nodes.
    pub fn option_names(&self) -> Vec<String> {
        self.unique_names(self.options.iter().map(|o| (o.name.as_str(), o.module)))
    }

    fn unique_names<'a>(&self, items: impl Iterator<Item = (&'a str, ModuleId)> + Clone) -> Vec<String> {
        let mut count: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for (name, _) in items.clone() {
            *count.entry(name).or_default() += 1;
        }
        items
            .map(|(name, module)| match count.get(name) {
                Some(1) => name.to_string(),
                _ => format!("{}.{name}", self.modules.get(module.index()).map_or("", |m| m.name.as_str())),
            })
            .collect()
    }
}

/// The unique display names (as `Program::flag_names` gives them) of the flags and options a
/// condition mentions, found one at a time: targets write a condition per edge, and listing every
/// name of the program for each cost more than the rest of the target.
struct Names<'p> {
    program: &'p Program,
}

impl<'p> Names<'p> {
    fn flag(&self, flag: FlagId) -> std::borrow::Cow<'p, str> {
        let flags = &self.program.flags;
        match flags.get(flag.index()) {
            Some(f) => self.unique(&f.name, f.module, flags.iter().map(|g| g.name.as_str())),
            None => "?".into(),
        }
    }

    fn option(&self, option: OptionId) -> std::borrow::Cow<'p, str> {
        let options = &self.program.options;
        match options.get(option.index()) {
            Some(o) => self.unique(&o.name, o.module, options.iter().map(|p| p.name.as_str())),
            None => "?".into(),
        }
    }

    fn unique<'n>(
        &self,
        name: &'p str,
        module: ModuleId,
        all: impl Iterator<Item = &'n str>,
    ) -> std::borrow::Cow<'p, str> {
        if all.filter(|other| *other == name).count() == 1 {
            return name.into();
        }
        let module = self.program.modules.get(module.index()).map_or("", |m| m.name.as_str());
        format!("{module}.{name}").into()
    }
}

impl Cond {
    pub fn and(mut terms: Vec<Cond>) -> Cond {
        // One term that is not itself an `&&` comes out as it went in: skip the copy.
        if terms.len() == 1 && !matches!(terms.first(), Some(Cond::And(_))) {
            // `terms.len() == 1` was just checked.
            return terms.pop().expect("invariant: one term");
        }
        let mut out = Vec::new();
        for term in terms {
            match term {
                Cond::Const(true) => {}
                Cond::Const(false) => return Cond::Const(false),
                Cond::And(inner) => out.extend(inner.iter().cloned()),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Cond::Const(true),
            // The match arm is `out.len() == 1`.
            1 => out.pop().expect("invariant: one term"),
            _ => Cond::And(out.into()),
        }
    }

    pub fn or(mut terms: Vec<Cond>) -> Cond {
        if terms.len() == 1 && !matches!(terms.first(), Some(Cond::Or(_))) {
            // `terms.len() == 1` was just checked.
            return terms.pop().expect("invariant: one term");
        }
        let mut out = Vec::new();
        for term in terms {
            match term {
                Cond::Const(false) => {}
                Cond::Const(true) => return Cond::Const(true),
                Cond::Or(inner) => out.extend(inner.iter().cloned()),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Cond::Const(false),
            // The match arm is `out.len() == 1`.
            1 => out.pop().expect("invariant: one term"),
            _ => Cond::Or(out.into()),
        }
    }

    pub fn negate(term: Cond) -> Cond {
        match term {
            Cond::Const(b) => Cond::Const(!b),
            Cond::Not(inner) => Arc::unwrap_or_clone(inner),
            other => Cond::Not(Arc::new(other)),
        }
    }

    /// What is left of the condition once the decided flags and options are known.
    pub fn simplify(&self, config: &Config) -> Cond {
        self.simplified(config).unwrap_or_else(|| self.clone())
    }

    /// `simplify`, or `None` when the result would equal `self`: then the caller shares `self`
    /// instead of building a copy. A term that the constructors (`and`, `or`, `negate`) would
    /// rewrite counts as changed, so the result is exactly what rebuilding gives.
    fn simplified(&self, config: &Config) -> Option<Cond> {
        match self {
            Cond::Const(_) => None,
            Cond::Flag(f) => config.flags.get(f.index()).copied().flatten().map(Cond::Const),
            Cond::Choice(o, c) => config.options.get(o.index()).copied().flatten().map(|v| Cond::Const(v == *c)),
            Cond::Not(inner) => match (inner.simplified(config), inner.as_ref()) {
                (None, Cond::Const(_) | Cond::Not(_)) => Some(Cond::negate(inner.as_ref().clone())),
                (None, _) => None,
                (Some(changed), _) => Some(Cond::negate(changed)),
            },
            Cond::And(terms) | Cond::Or(terms) => {
                let is_and = matches!(self, Cond::And(_));
                let simplified: Vec<Option<Cond>> = terms.iter().map(|t| t.simplified(config)).collect();
                let flat = terms.len() >= 2
                    && terms.iter().all(|t| match t {
                        Cond::Const(_) => false,
                        Cond::And(_) => !is_and,
                        Cond::Or(_) => is_and,
                        _ => true,
                    });
                if flat && simplified.iter().all(Option::is_none) {
                    return None;
                }
                let terms: Vec<Cond> =
                    simplified.into_iter().zip(terms.iter()).map(|(s, t)| s.unwrap_or_else(|| t.clone())).collect();
                Some(if is_and { Cond::and(terms) } else { Cond::or(terms) })
            }
        }
    }

    /// The condition in the language's own syntax, `!external_lb && cni == canal`.
    pub fn display(&self, program: &Program) -> String {
        let names = Names { program };
        let mut out = String::new();
        self.write(program, &names, &mut out, 0);
        out
    }

    /// `level` is the binding strength of the surrounding operator: 0 none, 1 `||`, 2 `&&`.
    fn write(&self, program: &Program, names: &Names<'_>, out: &mut String, level: u8) {
        let flag = |f: &FlagId| names.flag(*f);
        let option = |o: &OptionId| names.option(*o);
        let choice = |o: &OptionId, c: &u32| {
            program.options.get(o.index()).and_then(|o| o.choices.get(*c as usize)).map_or("?", String::as_str)
        };
        match self {
            Cond::Const(b) => out.push_str(if *b { "true" } else { "false" }),
            Cond::Flag(f) => out.push_str(&flag(f)),
            Cond::Choice(o, c) => {
                out.push_str(&format!("{} == {}", option(o), choice(o, c)));
            }
            Cond::Not(inner) => match inner.as_ref() {
                Cond::Choice(o, c) => out.push_str(&format!("{} != {}", option(o), choice(o, c))),
                Cond::Flag(_) | Cond::Const(_) => {
                    out.push('!');
                    inner.write(program, names, out, 3);
                }
                _ => {
                    out.push_str("!(");
                    inner.write(program, names, out, 0);
                    out.push(')');
                }
            },
            Cond::And(terms) | Cond::Or(terms) => {
                let (own, op) = if matches!(self, Cond::And(_)) { (2, " && ") } else { (1, " || ") };
                let wrap = level > own;
                if wrap {
                    out.push('(');
                }
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        out.push_str(op);
                    }
                    term.write(program, names, out, own);
                }
                if wrap {
                    out.push(')');
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `simplify` as it was before it shared unchanged subterms: rebuild everything.
    fn rebuilt(cond: &Cond, config: &Config) -> Cond {
        match cond {
            Cond::Const(b) => Cond::Const(*b),
            Cond::Flag(f) => config.flags.get(f.index()).copied().flatten().map_or(cond.clone(), Cond::Const),
            Cond::Choice(o, c) => {
                config.options.get(o.index()).copied().flatten().map_or(cond.clone(), |v| Cond::Const(v == *c))
            }
            Cond::Not(inner) => Cond::negate(rebuilt(inner, config)),
            Cond::And(terms) => Cond::and(terms.iter().map(|t| rebuilt(t, config)).collect()),
            Cond::Or(terms) => Cond::or(terms.iter().map(|t| rebuilt(t, config)).collect()),
        }
    }

    /// Every condition of up to `depth` levels over flags 0..2 and option 0, built raw (not only
    /// through the constructors), so unnormalised terms are covered too.
    fn conditions(depth: u32) -> Vec<Cond> {
        let mut out = vec![Cond::Const(true), Cond::Const(false), Cond::Flag(FlagId(0)), Cond::Flag(FlagId(1))];
        out.push(Cond::Choice(OptionId(0), 1));
        if depth == 0 {
            return out;
        }
        let smaller = conditions(depth - 1);
        let mut bigger = out.clone();
        for a in &smaller {
            bigger.push(Cond::Not(Arc::new(a.clone())));
            for b in smaller.iter().take(6) {
                bigger.push(Cond::And(vec![a.clone(), b.clone()].into()));
                bigger.push(Cond::Or(vec![b.clone(), a.clone()].into()));
            }
            bigger.push(Cond::And(vec![a.clone()].into()));
        }
        bigger
    }

    #[test]
    fn simplify_shares_only_what_rebuilding_would_give_back() {
        let configs = [(None, None), (Some(true), None), (None, Some(1)), (Some(false), Some(0))];
        for cond in conditions(2) {
            for (flag, option) in configs {
                let config = Config { flags: vec![flag, None], options: vec![option], params: Vec::new() };
                assert_eq!(cond.simplify(&config), rebuilt(&cond, &config), "{cond:?} under {config:?}");
            }
        }
    }
}
