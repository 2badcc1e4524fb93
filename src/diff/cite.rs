//! What a difference cites on each side: the flows whose edges cover its traffic, and, among the
//! flags, options and params those flows depend on, the ones whose values differ between the
//! sides, with the `set` (or, for a build, the declaration's default) that gives each value.
//! A site that changes `set cni = canal` to `set cni = calico` is reviewed at that line.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::sweep::Piece;
use super::{Allowance, Cited, CitedSetting, Configurations, Difference, Input, Place, Ports, Request};
use crate::diag::SourceMap;
use crate::hir::{Cond, PortRef, Program, Switch};
use crate::span::Span;

/// A switch as both sides name it: its kind (0 flag, 1 option, 2 param) and unique name.
type Key = (u8, String);

/// One side's program, sources, and its switches by name.
struct Side<'p> {
    program: &'p Program,
    sources: &'p SourceMap,
    by_name: BTreeMap<Key, Switch>,
    name_of: BTreeMap<Switch, String>,
    /// The `set` that gave each switch its value: the last one applied.
    last_set: BTreeMap<Switch, Span>,
}

/// Builds and remembers what each flow cites.
pub(super) struct Citer<'p> {
    sides: [Side<'p>; 2],
    configurations: Configurations,
    flows: [BTreeMap<u32, Arc<Cited>>; 2],
    /// Per side and flow: the switches its condition and ports depend on.
    depends: [BTreeMap<u32, Vec<Key>>; 2],
    /// Per side and switch: its citation, shared by every difference that cites it.
    settings: [BTreeMap<Key, Arc<CitedSetting>>; 2],
}

impl<'p> Citer<'p> {
    pub(super) fn new(inputs: [&Input<'p>; 2], request: &Request) -> Citer<'p> {
        let side = |index: usize, input: &Input<'p>| {
            let program = &input.checked.graph().program;
            let renames: &[(String, String)] = if index == 0 { &request.renames } else { &[] };
            let flags = super::renamed(program.flag_names(), renames);
            let options = super::renamed(program.option_names(), renames);
            let params = program.params.iter().map(|p| p.name.clone());
            let mut by_name = BTreeMap::new();
            let named = flags.into_iter().enumerate().map(|(i, n)| ((0, n), Switch::Flag(id(i, crate::hir::FlagId))));
            let named = named
                .chain(
                    options.into_iter().enumerate().map(|(i, n)| ((1, n), Switch::Option(id(i, crate::hir::OptionId)))),
                )
                .chain(params.enumerate().map(|(i, n)| ((2, n), Switch::Param(id(i, crate::hir::ParamId)))));
            for (key, switch) in named {
                by_name.insert(key, switch);
            }
            let name_of = by_name.iter().map(|((_, n), s)| (*s, n.clone())).collect();
            let last_set = program.settings.iter().map(|s| (s.switch, s.span)).collect();
            Side { program, sources: input.sources, by_name, name_of, last_set }
        };
        let [old, new] = inputs;
        Citer {
            sides: [side(0, old), side(1, new)],
            configurations: request.configurations,
            flows: [BTreeMap::new(), BTreeMap::new()],
            depends: [BTreeMap::new(), BTreeMap::new()],
            settings: [BTreeMap::new(), BTreeMap::new()],
        }
    }

    fn cite(&mut self, side: usize, flow: u32) -> Option<Arc<Cited>> {
        let program = self.sides.get(side)?.program;
        let cache = self.flows.get_mut(side)?;
        if let Some(known) = cache.get(&flow) {
            return Some(Arc::clone(known));
        }
        let f = program.flows.get(flow as usize)?;
        let module = program.modules.get(f.module.index());
        let notes: Vec<&crate::hir::Note> = f.notes.iter().filter_map(|n| program.notes.get(n.index())).collect();
        let condition = match self.configurations {
            Configurations::Every => whole_condition(program, f).simplify(&program.explicit),
            Configurations::Build => whole_condition(program, f).simplify(&program.config),
        };
        let cited = Arc::new(Cited {
            module: module.map_or_else(String::new, |m| m.name.clone()),
            file: module.map_or_else(String::new, |m| m.path.clone()),
            line: f.line,
            description: f.description.clone(),
            notes: notes.iter().map(|n| format!("[{}] {}", n.label, n.text)).collect(),
            condition: condition.display(program),
        });
        cache.insert(flow, Arc::clone(&cited));
        Some(cited)
    }

    /// The switches a flow depends on: the variables of its condition and notes, and its params.
    fn depends(&mut self, side: usize, flow: u32) -> Vec<Key> {
        if let Some(known) = self.depends.get(side).and_then(|d| d.get(&flow)) {
            return known.clone();
        }
        let Some(s) = self.sides.get(side) else { return Vec::new() };
        let Some(f) = s.program.flows.get(flow as usize) else { return Vec::new() };
        let (flags, options) = crate::check::logic::variables(&whole_condition(s.program, f));
        let params = f.ports.iter().filter_map(|p| match p {
            PortRef::Param(param, _) => Some(Switch::Param(*param)),
            PortRef::Range(..) => None,
        });
        let switches = flags.into_iter().map(Switch::Flag).chain(options.into_iter().map(Switch::Option)).chain(params);
        let keys: Vec<Key> = switches.filter_map(|sw| Some((kind(sw), s.name_of.get(&sw)?.clone()))).collect();
        if let Some(d) = self.depends.get_mut(side) {
            d.insert(flow, keys.clone());
        }
        keys
    }

    /// For each side, the switches of `flows` whose values differ between the sides.
    fn settings(&mut self, flows: [&[u32]; 2]) -> [Vec<Arc<CitedSetting>>; 2] {
        let mut keys = BTreeSet::new();
        for (side, list) in flows.iter().enumerate() {
            for &flow in *list {
                keys.extend(self.depends(side, flow));
            }
        }
        let mut out = [Vec::new(), Vec::new()];
        for key in keys {
            let values = [self.value(0, &key), self.value(1, &key)];
            if values[0] == values[1] {
                continue;
            }
            for (side, (value, list)) in values.into_iter().zip(out.iter_mut()).enumerate() {
                let known = self.settings.get(side).and_then(|cache| cache.get(&key)).cloned();
                let cited = known.unwrap_or_else(|| {
                    Arc::new(CitedSetting { name: key.1.clone(), value, origin: self.origin(side, &key) })
                });
                if let Some(cache) = self.settings.get_mut(side) {
                    cache.entry(key.clone()).or_insert_with(|| Arc::clone(&cited));
                }
                list.push(cited);
            }
        }
        out
    }

    /// The value a side gives a switch in the compared configurations; params always have the
    /// build's value, since flows use it as a port whatever is compared.
    fn value(&self, side: usize, key: &Key) -> Option<String> {
        let s = self.sides.get(side)?;
        let switch = *s.by_name.get(key)?;
        let config = match (self.configurations, switch) {
            (Configurations::Build, _) | (_, Switch::Param(_)) => &s.program.config,
            (Configurations::Every, _) => &s.program.explicit,
        };
        match switch {
            Switch::Flag(f) => config.flags.get(f.index()).copied().flatten().map(|b| b.to_string()),
            Switch::Option(o) => {
                let choice = config.options.get(o.index()).copied().flatten()?;
                s.program.options.get(o.index())?.choices.get(choice as usize).cloned()
            }
            Switch::Param(p) => config.params.get(p.index()).copied().flatten().map(|v| v.to_string()),
        }
    }

    /// Where a side's value of a switch comes from: its last `set`, else its declaration when
    /// the value is a default the comparison uses.
    fn origin(&self, side: usize, key: &Key) -> Option<Place> {
        let s = self.sides.get(side)?;
        let switch = *s.by_name.get(key)?;
        if let Some(span) = s.last_set.get(&switch) {
            return Some(place(s.sources, *span));
        }
        let uses_defaults = self.configurations == Configurations::Build || matches!(switch, Switch::Param(_));
        if !uses_defaults || self.value(side, key).is_none() {
            return None;
        }
        let span = match switch {
            Switch::Flag(f) => s.program.flags.get(f.index())?.span,
            Switch::Option(o) => s.program.options.get(o.index())?.span,
            Switch::Param(p) => s.program.params.get(p.index())?.span,
        };
        Some(place(s.sources, span))
    }
}

fn id<T>(index: usize, make: fn(u32) -> T) -> T {
    make(crate::hir::next_id(index))
}

fn kind(switch: Switch) -> u8 {
    match switch {
        Switch::Flag(_) => 0,
        Switch::Option(_) => 1,
        Switch::Param(_) => 2,
    }
}

/// A flow's `when` and its notes' conditions.
fn whole_condition(program: &Program, flow: &crate::hir::Flow) -> Cond {
    let notes = flow.notes.iter().filter_map(|n| program.notes.get(n.index())).map(|n| n.when.clone());
    Cond::and(std::iter::once(flow.when.clone()).chain(notes).collect())
}

/// The file, line and text of the line where `span` starts.
fn place(sources: &SourceMap, span: Span) -> Place {
    let file = sources.get(span.file);
    let line = sources.line(span.file, span.start);
    let text = file.text.lines().nth(line.saturating_sub(1)).unwrap_or_default();
    Place { file: file.name.clone(), line: u32::try_from(line).unwrap_or(u32::MAX), text: without_comment(text) }
}

/// A line without its trailing comment: `#` outside a string.
fn without_comment(line: &str) -> String {
    let mut in_string = false;
    let mut escaped = false;
    for (index, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '#' if !in_string => return line.get(..index).unwrap_or(line).trim().to_string(),
            _ => {}
        }
    }
    line.trim().to_string()
}

/// A piece of the sweep as a difference, with its citations.
pub(super) fn difference(piece: &Piece<super::Verdict>, unified: &[Arc<str>], citer: &mut Citer<'_>) -> Difference {
    let name = |id: u32| unified.get(id as usize).cloned().unwrap_or_else(|| Arc::from(""));
    let v = &piece.verdict;
    let flows = |side: usize| piece.flows.get(side).map_or(&[][..], Vec::as_slice);
    let mut cite = |side: usize| -> Vec<Arc<Cited>> {
        let mut out: Vec<Arc<Cited>> = flows(side).iter().filter_map(|&f| citer.cite(side, f)).collect();
        out.sort();
        out.dedup();
        out
    };
    let (mut old_flows, mut new_flows) = (cite(0), cite(1));
    // A flow that is never active on either side (the same module and line) explains nothing.
    let never = |c: &&Arc<Cited>| c.condition == "false";
    if old_flows.iter().any(|c| never(&c)) && new_flows.iter().any(|c| never(&c)) {
        let inactive = |list: &[Arc<Cited>]| -> BTreeSet<(String, u32)> {
            list.iter().filter(never).map(|c| (c.module.clone(), c.line)).collect()
        };
        let both: BTreeSet<(String, u32)> = inactive(&old_flows).intersection(&inactive(&new_flows)).cloned().collect();
        for list in [&mut old_flows, &mut new_flows] {
            list.retain(|c| c.condition != "false" || !both.contains(&(c.module.clone(), c.line)));
        }
    }
    let [old_settings, new_settings] = citer.settings([flows(0), flows(1)]);
    Difference {
        from: name(piece.from),
        to: name(piece.to),
        local: piece.local,
        protocol: piece.protocol.name(),
        ports: piece.protocol.has_ports().then_some(Ports { start: piece.start, end: piece.end }),
        change: v.change,
        old: Allowance { condition: Arc::clone(&v.old), flows: old_flows, settings: old_settings },
        new: Allowance { condition: Arc::clone(&v.new), flows: new_flows, settings: new_settings },
        only_old: v.only_old.clone(),
        only_new: v.only_new.clone(),
    }
}
