//! `portc diff`: what two checked policies allow differently, role pair by role pair, protocol by
//! protocol and port interval by port interval, with the conditions under which each difference
//! appears and the lines that cause it on each side. Format `portc.diff/v1` (docs/diff.md).
//!
//! It compares what is allowed, not how it is written: a flow split in two, moved to a group or
//! given through a service compares equal to the flow it replaces.

mod cite;
mod render;
mod sweep;
pub mod switches;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::check::Checked;
use crate::check::logic::Solver;
use crate::graph::{Conditions, Edge};
use crate::hir::{Cond, NodeKind, Program};
use sweep::{FALSE, Item};
use switches::{Presence, Switches};

pub const FORMAT: &str = "portc.diff/v1";

/// Which configurations are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Configurations {
    /// Every configuration that agrees with each side's explicit settings (the edges' `open` view).
    Every,
    /// The build's configuration, defaults included (the edges' `residual` view), as `portc build`.
    Build,
}

/// What to compare, beyond the two programs.
#[derive(Clone, Debug)]
pub struct Request {
    pub configurations: Configurations,
    /// `(old name, new name)`: an OLD role, external, flag or option that NEW calls by another name.
    pub renames: Vec<(String, String)>,
    /// Compare what each destination accepts, whatever the source: every source is `*`.
    pub any_source: bool,
}

/// One side of the comparison.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// As the user gave it: a path, `REV:path` or a stdlib module.
    pub label: &'a str,
    pub checked: &'a Checked,
    /// The files it was compiled from, to cite `set` statements and declarations by line.
    pub sources: &'a crate::diag::SourceMap,
    /// The command-line settings this side declares, and so was compiled with.
    pub settings: &'a [String],
}

/// The comparison, as `--format json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    pub format: &'static str,
    pub old: SideInfo,
    pub new: SideInfo,
    pub configurations: Configurations,
    /// With `--any-source`: every source is `*`, and what each destination accepts is compared.
    pub any_source: bool,
    pub renames: Vec<Rename>,
    pub switches: Vec<Switch>,
    pub summary: Summary,
    pub nodes: Vec<NodeChange>,
    pub differences: Vec<Difference>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SideInfo {
    pub input: String,
    pub module: String,
    pub settings: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rename {
    pub old: String,
    pub new: String,
}

/// A flag or option of either side, as the conditions below name it.
#[derive(Clone, Debug, Serialize)]
pub struct Switch {
    pub name: String,
    pub kind: &'static str,
    /// An option's choices on either side; empty for a flag.
    pub choices: Vec<String>,
    pub declared: Presence,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub removed: usize,
    pub added: usize,
    pub changed: usize,
    pub nodes: usize,
}

/// A role or external that both sides have, with other addresses, selector or kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeChange {
    pub name: String,
    pub old: NodeInfo,
    pub new: NodeInfo,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    pub kind: NodeKind,
    pub addresses: Vec<String>,
    /// `pods { app: api } in namespace shop`, or null.
    pub selector: Option<String>,
}

/// How an interval of traffic differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Allowed by OLD in some configuration, by NEW in none.
    Removed,
    /// Allowed by NEW in some configuration, by OLD in none.
    Added,
    /// Allowed by both, but not in the same configurations.
    Changed,
}

/// One difference: traffic from one node to another on one protocol and port range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Shared with the other differences between the same nodes.
    pub from: Arc<str>,
    pub to: Arc<str>,
    pub local: bool,
    pub protocol: &'static str,
    pub ports: Option<Ports>,
    pub change: Change,
    pub old: Allowance,
    pub new: Allowance,
    /// Where OLD allows it and NEW does not; null if nowhere.
    pub only_old: Option<Arc<When>>,
    pub only_new: Option<Arc<When>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Ports {
    pub start: u16,
    pub end: u16,
}

/// What one side allows of a difference's traffic, the flows that cover it, and the settings
/// of theirs that differ from the other side's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Allowance {
    /// `true`, `false`, or the condition in the language's syntax.
    pub condition: Arc<str>,
    /// Shared: a flow that covers many differences is cited by each of them.
    pub flows: Vec<Arc<Cited>>,
    /// The flags, options and params those flows depend on whose value differs between the sides;
    /// shared, as the flows are.
    pub settings: Vec<Arc<CitedSetting>>,
}

/// A switch's value on one side, and the statement that gives it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CitedSetting {
    /// As the conditions name it (renamed, for OLD).
    pub name: String,
    /// `true`, a choice or a port; null when the side leaves it open or lacks it.
    pub value: Option<String>,
    /// The `set` that gives the value, or in the build's configuration the declaration whose
    /// default it is; null when nothing does.
    pub origin: Option<Place>,
}

/// A line of a source file, or of the command line (`<command line>`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Place {
    pub file: String,
    pub line: u32,
    /// The statement's text on that line.
    pub text: String,
}

/// A condition under which a difference appears, and one configuration where it does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct When {
    pub condition: String,
    /// `cni = flannel, external_lb = false`; empty when it appears in every configuration.
    pub example: String,
}

/// A flow that covers a difference, where it is written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Cited {
    pub module: String,
    pub file: String,
    pub line: u32,
    pub description: Option<String>,
    pub notes: Vec<String>,
    /// The flow's condition in the compared configurations: `true`, `false`, or what remains.
    pub condition: String,
}

/// Compares two checked programs. `Err` is a usage error: a rename of something OLD does not have.
pub fn diff(old: &Input<'_>, new: &Input<'_>, request: &Request) -> Result<Diff, String> {
    let programs = [&old.checked.graph().program, &new.checked.graph().program];
    check_renames(programs[0], &request.renames)?;
    let names = node_names(programs, &request.renames, request.any_source);
    let switches = Switches::new(programs[0], programs[1], &request.renames);
    let mut interner = Interner::new(&switches, request.configurations);
    let items = [
        interner.items(0, &old.checked.graph().edges, &names.ids[0], names.any),
        interner.items(1, &new.checked.graph().edges, &names.ids[1], names.any),
    ];
    let mut solver = Solver::new(&switches.program);
    let conds = interner.conds;
    let mut verdicts: FxHashMap<(Vec<u32>, Vec<u32>), Option<Verdict>> = FxHashMap::default();
    let pieces = sweep::sweep(&items[0], &items[1], |a, b| {
        let key = (a.to_vec(), b.to_vec());
        verdicts.entry(key).or_insert_with(|| judge(&mut solver, &switches.program, &conds, a, b)).clone()
    });
    let mut citer = cite::Citer::new([old, new], request);
    let shared: Vec<Arc<str>> = names.unified.iter().map(|n| Arc::from(n.as_str())).collect();
    let differences: Vec<Difference> =
        pieces.into_iter().map(|piece| cite::difference(&piece, &shared, &mut citer)).collect();
    let nodes = node_changes(programs, &names, &items);
    let summary = Summary::of(&differences, &nodes);
    Ok(Diff {
        format: FORMAT,
        old: side_info(old),
        new: side_info(new),
        configurations: request.configurations,
        any_source: request.any_source,
        renames: request.renames.iter().map(|(o, n)| Rename { old: o.clone(), new: n.clone() }).collect(),
        switches: switch_list(&switches, &conds),
        summary,
        nodes,
        differences,
    })
}

impl Summary {
    fn of(differences: &[Difference], nodes: &[NodeChange]) -> Summary {
        let count = |change| differences.iter().filter(|d| d.change == change).count();
        Summary {
            removed: count(Change::Removed),
            added: count(Change::Added),
            changed: count(Change::Changed),
            nodes: nodes.len(),
        }
    }
}

impl Diff {
    /// Whether the two sides allow the same traffic between the same nodes.
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty() && self.nodes.is_empty()
    }
}

fn side_info(input: &Input<'_>) -> SideInfo {
    let program = &input.checked.graph().program;
    SideInfo {
        input: input.label.to_string(),
        module: program.modules.first().map_or_else(String::new, |m| m.name.clone()),
        settings: input.settings.to_vec(),
    }
}

/// The switches that some compared condition mentions.
fn switch_list(switches: &Switches, conds: &[Cond]) -> Vec<Switch> {
    let mut flags_used = BTreeSet::new();
    let mut options_used = BTreeSet::new();
    for cond in conds {
        let (flags, options) = crate::check::logic::variables(cond);
        flags_used.extend(flags.into_iter().map(|f| f.index()));
        options_used.extend(options.into_iter().map(|o| o.index()));
    }
    let flags = switches.program.flags.iter().zip(&switches.flag_presence).enumerate();
    let flags = flags.filter(|(i, _)| flags_used.contains(i)).map(|(_, (f, p))| Switch {
        name: f.name.clone(),
        kind: "flag",
        choices: Vec::new(),
        declared: *p,
    });
    let options = switches.program.options.iter().zip(&switches.option_presence).enumerate();
    let options = options.filter(|(i, _)| options_used.contains(i)).map(|(_, (o, p))| Switch {
        name: o.name.clone(),
        kind: "option",
        choices: o.choices.clone(),
        declared: *p,
    });
    let mut out: Vec<Switch> = flags.chain(options).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The nodes of both sides under one numbering, in name order, renames applied to OLD.
struct Names {
    /// Unified id -> name.
    unified: Vec<String>,
    /// Per side: node index -> unified id.
    ids: [Vec<u32>; 2],
    /// With `--any-source`, the id of `*`, every edge's source.
    any: Option<u32>,
}

/// The name of every source under `--any-source`; no role or external can be called so.
pub const ANY_SOURCE: &str = "*";

fn node_names(programs: [&Program; 2], renames: &[(String, String)], any_source: bool) -> Names {
    let side_names = [renamed(programs[0].node_names(), renames), programs[1].node_names()];
    let any = ANY_SOURCE.to_string();
    let mut all: BTreeSet<&String> = side_names.iter().flatten().collect();
    if any_source {
        all.insert(&any);
    }
    let unified: Vec<String> = all.into_iter().cloned().collect();
    let id =
        // `unified` is the sorted union of both sides' names, so every side name is found.
        |name: &String| crate::hir::next_id(unified.binary_search(name).expect("invariant: every name is unified"));
    let ids = [side_names[0].iter().map(id).collect(), side_names[1].iter().map(id).collect()];
    Names { ids, any: any_source.then(|| id(&any)), unified }
}

/// OLD's names with the renames applied.
fn renamed(names: Vec<String>, renames: &[(String, String)]) -> Vec<String> {
    let map: BTreeMap<&str, &str> = renames.iter().map(|(o, n)| (o.as_str(), n.as_str())).collect();
    names.into_iter().map(|name| map.get(name.as_str()).map_or(name.clone(), |n| n.to_string())).collect()
}

/// Every rename names a role, external, flag or option of OLD, and gives no two of one kind one name.
fn check_renames(old: &Program, renames: &[(String, String)]) -> Result<(), String> {
    let kinds =
        [("roles or externals", old.node_names()), ("flags", old.flag_names()), ("options", old.option_names())];
    for (from, to) in renames {
        if kinds.iter().any(|(_, names)| names.contains(from)) {
            continue;
        }
        let all = kinds.iter().flat_map(|(_, names)| names.iter().map(String::as_str));
        let hint = crate::diag::suggest(from, all).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
        return Err(format!("--rename {from}={to}: OLD has no role, external, flag or option named `{from}`{hint}"));
    }
    for (kind, names) in kinds {
        let mut seen = BTreeSet::new();
        for name in renamed(names, renames) {
            if !seen.insert(name.clone()) {
                return Err(format!("--rename gives two of OLD's {kind} the name `{name}`"));
            }
        }
    }
    Ok(())
}

/// Interns both sides' conditions, translated to the unified switches, and turns edges into items.
struct Interner<'s> {
    switches: &'s Switches,
    configurations: Configurations,
    /// Unified id -> condition; id 0 is `false`.
    conds: Vec<Cond>,
    index: FxHashMap<Cond, u32>,
}

impl<'s> Interner<'s> {
    fn new(switches: &'s Switches, configurations: Configurations) -> Self {
        let mut index = FxHashMap::default();
        index.insert(Cond::Const(false), FALSE);
        Interner { switches, configurations, conds: vec![Cond::Const(false)], index }
    }

    /// The side's edges as items; `any` replaces every source.
    fn items(&mut self, side: usize, edges: &[Edge], ids: &[u32], any: Option<u32>) -> Vec<Item> {
        // Edges of a flow share their conditions: translate each once.
        let mut seen: FxHashMap<*const Conditions, u32> = FxHashMap::default();
        let mut items = Vec::with_capacity(edges.len());
        for edge in edges {
            let key = std::sync::Arc::as_ptr(&edge.conditions);
            let cond = match seen.get(&key) {
                Some(&cond) => cond,
                None => {
                    let cond = self.intern(side, view(edge, self.configurations));
                    seen.insert(key, cond);
                    cond
                }
            };
            let (Some(&from), Some(&to)) = (ids.get(edge.from.index()), ids.get(edge.to.index())) else { continue };
            let from = any.unwrap_or(from);
            let (start, end) = edge.ports.unwrap_or((0, 0));
            let flow = edge.flow.0;
            items.push(Item { from, to, local: edge.local, protocol: edge.protocol, start, end, cond, flow });
        }
        items.sort_unstable();
        items
    }

    fn intern(&mut self, side: usize, cond: &Cond) -> u32 {
        let unified = self.switches.translate(side, cond);
        if let Some(&id) = self.index.get(&unified) {
            return id;
        }
        let id = crate::hir::next_id(self.conds.len());
        self.conds.push(unified.clone());
        self.index.insert(unified, id);
        id
    }
}

/// The edge's condition in the compared configurations.
fn view(edge: &Edge, configurations: Configurations) -> &Cond {
    match configurations {
        Configurations::Every => &edge.open,
        Configurations::Build => &edge.residual,
    }
}

/// How two condition sets differ: the side's allowances and where each allows what the other does not.
#[derive(Clone, Debug, PartialEq, Eq)]
/// Displayed once per distinct pair of condition sets and shared by their differences: a
/// comparison of large programs has hundreds of thousands of them.
struct Verdict {
    change: Change,
    old: Arc<str>,
    new: Arc<str>,
    only_old: Option<Arc<When>>,
    only_new: Option<Arc<When>>,
}

/// `None` when the two sets allow the traffic in exactly the same configurations.
fn judge(solver: &mut Solver<'_>, program: &Program, conds: &[Cond], old: &[u32], new: &[u32]) -> Option<Verdict> {
    // Terms in the order of their text, not of interning, so that the output does not depend on
    // which side was read first (`diff B A` mirrors `diff A B` exactly).
    let union = |ids: &[u32]| {
        let mut terms: Vec<(String, Cond)> =
            ids.iter().filter_map(|&i| conds.get(i as usize)).map(|c| (c.display(program), c.clone())).collect();
        terms.sort_by(|x, y| x.0.cmp(&y.0));
        Cond::or(terms.into_iter().map(|(_, c)| c).collect())
    };
    let (a, b) = (union(old), union(new));
    let mut only = |x: &Cond, y: &Cond| {
        let cond = Cond::and(vec![x.clone(), Cond::negate(y.clone())]);
        let witness = solver.witness(&cond)?;
        Some(Arc::new(When { condition: cond.display(program), example: witness.display(program) }))
    };
    let only_old = only(&a, &b);
    let only_new = only(&b, &a);
    if only_old.is_none() && only_new.is_none() {
        return None;
    }
    let change = if !solver.satisfiable(&b) {
        Change::Removed
    } else if !solver.satisfiable(&a) {
        Change::Added
    } else {
        Change::Changed
    };
    let (old, new) = (a.display(program).into(), b.display(program).into());
    Some(Verdict { change, old, new, only_old, only_new })
}

/// Nodes that both sides have and that take part in some edge, whose kind, addresses or selector differ.
fn node_changes(programs: [&Program; 2], names: &Names, items: &[Vec<Item>; 2]) -> Vec<NodeChange> {
    let used: BTreeSet<u32> = items.iter().flatten().flat_map(|x| [x.from, x.to]).collect();
    let mut infos: [BTreeMap<u32, NodeInfo>; 2] = [BTreeMap::new(), BTreeMap::new()];
    for (side, program) in programs.iter().enumerate() {
        for (index, node) in program.nodes.iter().enumerate() {
            let Some(&id) = names.ids.get(side).and_then(|ids| ids.get(index)) else { continue };
            if let Some(map) = infos.get_mut(side) {
                map.insert(id, node_info(node));
            }
        }
    }
    let [old, new] = &infos;
    let mut out = Vec::new();
    for id in used {
        if let (Some(a), Some(b)) = (old.get(&id), new.get(&id))
            && a != b
        {
            let name = names.unified.get(id as usize).cloned().unwrap_or_default();
            out.push(NodeChange { name, old: a.clone(), new: b.clone() });
        }
    }
    out
}

fn node_info(node: &crate::hir::Node) -> NodeInfo {
    let selector = node.selector.as_ref().map(|s| {
        let kind = match s.kind {
            crate::ast::SelectorKind::Pods => "pods",
            crate::ast::SelectorKind::Nodes => "nodes",
        };
        let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let namespace = s.namespace.as_ref().map(|n| format!(" in namespace {n}")).unwrap_or_default();
        format!("{kind} {{ {} }}{namespace}", labels.join(", "))
    });
    NodeInfo { kind: node.kind, addresses: node.addresses.iter().map(ToString::to_string).collect(), selector }
}

/// One side, checked with the command-line settings it declares.
#[derive(Debug)]
pub struct Checking {
    pub outcome: crate::Outcome,
    pub checked: Option<Checked>,
    /// The settings the side was compiled with.
    pub applied: Vec<String>,
    /// The settings it does not declare, left out (a switch of the other side only).
    pub unknown: Vec<String>,
}

impl Checking {
    /// The side as `diff` takes it; `None` when it did not compile.
    pub fn input<'a>(&'a self, label: &'a str) -> Option<Input<'a>> {
        Some(Input { label, checked: self.checked.as_ref()?, sources: &self.outcome.sources, settings: &self.applied })
    }
}

/// Checks one side with `settings`, leaving out those that name nothing in it
/// ([E0121](../../docs/diagnostics.md)): a switch that one side lacks is unconstrained there.
pub fn check_side(
    root: &crate::Root,
    loader: &dyn crate::SourceLoader,
    settings: &[String],
) -> Result<Checking, crate::RootError> {
    let (outcome, checked) = crate::check_program(root, loader, settings)?;
    // The command line is a pseudo-file of one `set` per line, in the order given, which
    // `resolve::resolve_parsed` names `<command line>`.
    let unknown: BTreeSet<usize> = outcome
        .diagnostics
        .iter()
        .filter(|d| d.code == crate::diag::Code::UnknownSetting)
        .filter(|d| outcome.sources.name(d.primary.span.file) == "<command line>")
        .map(|d| outcome.sources.line(d.primary.span.file, d.primary.span.start).saturating_sub(1))
        .collect();
    if unknown.is_empty() {
        return Ok(Checking { outcome, checked, applied: settings.to_vec(), unknown: Vec::new() });
    }
    let (mut applied, mut left_out) = (Vec::new(), Vec::new());
    for (index, setting) in settings.iter().enumerate() {
        let list = if unknown.contains(&index) { &mut left_out } else { &mut applied };
        list.push(setting.clone());
    }
    let (outcome, checked) = crate::check_program(root, loader, &applied)?;
    Ok(Checking { outcome, checked, applied, unknown: left_out })
}
