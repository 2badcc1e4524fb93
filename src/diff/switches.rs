//! The switches of two programs as one set of variables, so that the solver can compare conditions
//! written on either side: flags and options are matched by name, an option's choices are the union
//! of both sides' choices, and a switch that one side does not declare is unconstrained there.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::hir::{Cond, Flag, FlagId, ModuleId, OptionDef, OptionId, Program};
use crate::span::{FileId, Span};

/// Which sides declare a switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Both,
    Old,
    New,
}

/// The switches of both sides: a program with only flags and options, for the solver and for
/// displaying conditions, and how each side's ids map into it.
#[derive(Debug)]
pub struct Switches {
    pub program: Program,
    /// Per unified flag, then per unified option: which sides declare it.
    pub flag_presence: Vec<Presence>,
    pub option_presence: Vec<Presence>,
    sides: [SideMap; 2],
}

/// How one side's flags, options and choices map to the unified ones.
#[derive(Debug, Default)]
struct SideMap {
    flags: Vec<FlagId>,
    /// Per option: the unified option and, per choice, the unified choice.
    options: Vec<(OptionId, Vec<u32>)>,
}

impl Switches {
    /// Unifies the switches of `old` (side 0) and `new` (side 1) by their unique display names,
    /// OLD's renamed by `renames` (already checked by the caller).
    pub fn new(old: &Program, new: &Program, renames: &[(String, String)]) -> Switches {
        let names = [
            (super::renamed(old.flag_names(), renames), super::renamed(old.option_names(), renames)),
            (new.flag_names(), new.option_names()),
        ];
        let mut flags: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut options: BTreeMap<String, (Vec<String>, Vec<usize>)> = BTreeMap::new();
        for (side, (program, (flag_names, option_names))) in [old, new].into_iter().zip(&names).enumerate() {
            for name in flag_names {
                flags.entry(name.clone()).or_default().push(side);
            }
            for (name, def) in option_names.iter().cloned().zip(&program.options) {
                let (choices, sides) = options.entry(name).or_default();
                choices.extend(def.choices.iter().filter(|c| !choices.contains(c)).cloned().collect::<Vec<_>>());
                sides.push(side);
            }
        }
        let (program, flag_presence, option_presence) = unified(&flags, &options);
        let [(old_flags, old_options), (new_flags, new_options)] = &names;
        let sides = [side_map(old, old_flags, old_options, &program), side_map(new, new_flags, new_options, &program)];
        Switches { program, flag_presence, option_presence, sides }
    }

    /// A condition of `side` (0 old, 1 new) over the unified switches.
    pub fn translate(&self, side: usize, cond: &Cond) -> Cond {
        // Callers pass 0 (old) or 1 (new); `sides` has both.
        let map = self.sides.get(side).expect("invariant: two sides");
        translate(map, cond)
    }
}

/// A program of only the united flags and options (in name order), and which sides declare each.
fn unified(
    flags: &BTreeMap<String, Vec<usize>>,
    options: &BTreeMap<String, (Vec<String>, Vec<usize>)>,
) -> (Program, Vec<Presence>, Vec<Presence>) {
    let span = Span::new(FileId(0), 0, 0);
    let presence = |sides: &[usize]| match sides {
        [0] => Presence::Old,
        [1] => Presence::New,
        _ => Presence::Both,
    };
    let mut program = Program::default();
    for name in flags.keys() {
        program.flags.push(Flag { name: name.clone(), description: None, default: None, module: ModuleId(0), span });
    }
    for (name, (choices, _)) in options {
        program.options.push(OptionDef {
            name: name.clone(),
            choices: choices.clone(),
            description: None,
            default: None,
            module: ModuleId(0),
            span,
        });
    }
    let flag_presence = flags.values().map(|sides| presence(sides)).collect();
    let option_presence = options.values().map(|(_, sides)| presence(sides)).collect();
    (program, flag_presence, option_presence)
}

fn side_map(program: &Program, flag_names: &[String], option_names: &[String], unified: &Program) -> SideMap {
    let flag_index: FxHashMap<&str, usize> =
        unified.flags.iter().enumerate().map(|(i, f)| (f.name.as_str(), i)).collect();
    let option_index: FxHashMap<&str, usize> =
        unified.options.iter().enumerate().map(|(i, o)| (o.name.as_str(), i)).collect();
    let id = crate::hir::next_id;
    let flags = flag_names
        .iter()
        // The unified program declares every flag of either side (built just above).
        .map(|name| FlagId(id(flag_index.get(name.as_str()).copied().expect("invariant: every flag is unified"))))
        .collect();
    let options = option_names
        .iter()
        .zip(&program.options)
        .map(|(name, def)| {
            // The unified program declares every option and choice of either side (built just above).
            let index = option_index.get(name.as_str()).copied().expect("invariant: every option is unified");
            let all = &unified.options.get(index).expect("invariant: unified option").choices;
            let choices = def
                .choices
                .iter()
                // The unified option holds the choices of both sides, this one's among them.
                .map(|c| id(all.iter().position(|u| u == c).expect("invariant: every choice is unified")))
                .collect();
            (OptionId(id(index)), choices)
        })
        .collect();
    SideMap { flags, options }
}

fn translate(map: &SideMap, cond: &Cond) -> Cond {
    match cond {
        Cond::Const(b) => Cond::Const(*b),
        Cond::Flag(f) => map.flags.get(f.index()).map_or(Cond::Const(false), |&f| Cond::Flag(f)),
        Cond::Choice(o, c) => match map.options.get(o.index()) {
            Some((option, choices)) => {
                choices.get(*c as usize).map_or(Cond::Const(false), |&c| Cond::Choice(*option, c))
            }
            None => Cond::Const(false),
        },
        Cond::Not(inner) => Cond::negate(translate(map, inner)),
        Cond::And(terms) => Cond::and(terms.iter().map(|t| translate(map, t)).collect()),
        Cond::Or(terms) => Cond::or(terms.iter().map(|t| translate(map, t)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(flags: &[&str], options: &[(&str, &[&str])]) -> Program {
        let span = Span::new(FileId(0), 0, 0);
        let mut p = Program::default();
        for name in flags {
            p.flags.push(Flag { name: (*name).into(), description: None, default: None, module: ModuleId(0), span });
        }
        for (name, choices) in options {
            p.options.push(OptionDef {
                name: (*name).into(),
                choices: choices.iter().map(|c| (*c).to_string()).collect(),
                description: None,
                default: None,
                module: ModuleId(0),
                span,
            });
        }
        p
    }

    #[test]
    fn switches_match_by_name_and_choices_unite() {
        let old = program(&["ace", "external_lb"], &[("cni", &["canal", "flannel"])]);
        let new = program(&["external_lb", "windows"], &[("cni", &["calico", "canal"])]);
        let s = Switches::new(&old, &new, &[]);
        let names: Vec<&str> = s.program.flags.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["ace", "external_lb", "windows"]);
        assert_eq!(s.flag_presence, [Presence::Old, Presence::Both, Presence::New]);
        let cni = s.program.options.first().map(|o| o.choices.clone()).unwrap_or_default();
        assert_eq!(cni, ["canal", "flannel", "calico"]);
        // new's `cni == canal` (its choice 1) is the unified choice 0; old's flag 1 is unified flag 1.
        let canal = s.translate(1, &Cond::Choice(OptionId(0), 1));
        assert_eq!(canal.display(&s.program), "cni == canal");
        assert_eq!(s.translate(0, &Cond::Flag(FlagId(1))).display(&s.program), "external_lb");
        assert_eq!(s.translate(1, &Cond::Flag(FlagId(1))).display(&s.program), "windows");
    }
}
