//! Conditions as logic: satisfiability, implication and witnesses over flags and options.
//!
//! A search branches only over the variables a condition mentions, and a three-valued
//! evaluation of each partial assignment cuts branches early, so the cost is exponential in
//! the variables of the condition at hand, never in all the flags of the program.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use crate::hir::{Cond, FlagId, OptionId, Program};

/// Values for some flags and options: a configuration, or the part of one a condition needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    pub flags: BTreeMap<FlagId, bool>,
    pub options: BTreeMap<OptionId, u32>,
}

/// Decides conditions, remembering answers: checks ask about the same conditions many times.
#[derive(Debug)]
pub struct Solver<'p> {
    program: &'p Program,
    cache: FxHashMap<Cond, Option<Assignment>>,
}

impl<'p> Solver<'p> {
    pub fn new(program: &'p Program) -> Self {
        Solver { program, cache: FxHashMap::default() }
    }

    /// An assignment of the condition's variables that makes it true, if there is one.
    pub fn witness(&mut self, cond: &Cond) -> Option<Assignment> {
        match cond {
            Cond::Const(true) => return Some(Assignment::default()),
            Cond::Const(false) => return None,
            _ => {}
        }
        if let Some(known) = self.cache.get(cond) {
            return known.clone();
        }
        let (flags, options) = variables(cond);
        let vars: Vec<Var> = flags.into_iter().map(Var::Flag).chain(options.into_iter().map(Var::Option)).collect();
        let mut partial = Assignment::default();
        let found = self.search(cond, &vars, &mut partial).then_some(partial);
        self.cache.insert(cond.clone(), found.clone());
        found
    }

    pub fn satisfiable(&mut self, cond: &Cond) -> bool {
        self.witness(cond).is_some()
    }

    /// Whether every configuration where `a` holds makes `b` hold too.
    pub fn implies(&mut self, a: &Cond, b: &Cond) -> bool {
        !self.satisfiable(&Cond::and(vec![a.clone(), Cond::negate(b.clone())]))
    }

    /// Whether the condition holds in every configuration.
    pub fn valid(&mut self, cond: &Cond) -> bool {
        !self.satisfiable(&Cond::negate(cond.clone()))
    }

    fn search(&self, cond: &Cond, vars: &[Var], partial: &mut Assignment) -> bool {
        if let Some(value) = eval(cond, partial) {
            return value;
        }
        let Some((var, rest)) = vars.split_first() else {
            // Every variable is assigned, so evaluation cannot be undecided.
            return false;
        };
        match *var {
            Var::Flag(flag) => {
                for value in [false, true] {
                    partial.flags.insert(flag, value);
                    if self.search(cond, rest, partial) {
                        return true;
                    }
                }
                partial.flags.remove(&flag);
            }
            Var::Option(option) => {
                let choices = self.program.options.get(option.index()).map_or(0, |o| o.choices.len());
                for choice in 0..choices {
                    partial.options.insert(option, crate::hir::next_id(choice));
                    if self.search(cond, rest, partial) {
                        return true;
                    }
                }
                partial.options.remove(&option);
            }
        }
        false
    }
}

#[derive(Clone, Copy, Debug)]
enum Var {
    Flag(FlagId),
    Option(OptionId),
}

/// The condition's value under a partial assignment, or `None` while it depends on unassigned variables.
fn eval(cond: &Cond, a: &Assignment) -> Option<bool> {
    match cond {
        Cond::Const(b) => Some(*b),
        Cond::Flag(f) => a.flags.get(f).copied(),
        Cond::Choice(o, c) => a.options.get(o).map(|v| v == c),
        Cond::Not(inner) => eval(inner, a).map(|v| !v),
        Cond::And(terms) => {
            let mut undecided = false;
            for term in terms.iter() {
                match eval(term, a) {
                    Some(false) => return Some(false),
                    None => undecided = true,
                    Some(true) => {}
                }
            }
            if undecided { None } else { Some(true) }
        }
        Cond::Or(terms) => {
            let mut undecided = false;
            for term in terms.iter() {
                match eval(term, a) {
                    Some(true) => return Some(true),
                    None => undecided = true,
                    Some(false) => {}
                }
            }
            if undecided { None } else { Some(false) }
        }
    }
}

/// The flags and options a condition mentions.
pub fn variables(cond: &Cond) -> (BTreeSet<FlagId>, BTreeSet<OptionId>) {
    let mut flags = BTreeSet::new();
    let mut options = BTreeSet::new();
    let mut stack = vec![cond];
    while let Some(c) = stack.pop() {
        match c {
            Cond::Const(_) => {}
            Cond::Flag(f) => {
                flags.insert(*f);
            }
            Cond::Choice(o, _) => {
                options.insert(*o);
            }
            Cond::Not(inner) => stack.push(inner),
            Cond::And(terms) | Cond::Or(terms) => stack.extend(terms.iter()),
        }
    }
    (flags, options)
}

impl Assignment {
    /// `external_lb = false, cni = canal`, in name order; empty for the empty assignment.
    pub fn display(&self, program: &Program) -> String {
        let (flag_names, option_names) = (program.flag_names(), program.option_names());
        let mut parts: Vec<String> = Vec::new();
        for (flag, value) in &self.flags {
            let name = flag_names.get(flag.index()).map_or("?", String::as_str);
            parts.push(format!("{name} = {value}"));
        }
        for (option, choice) in &self.options {
            let def = program.options.get(option.index());
            let name = option_names.get(option.index()).map_or("?", String::as_str);
            let value = def.and_then(|o| o.choices.get(*choice as usize)).map_or("?", |c| c.as_str());
            parts.push(format!("{name} = {value}"));
        }
        parts.sort();
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hir::{OptionDef, Program};
    use crate::span::{FileId, Span};

    fn program() -> Program {
        let span = Span::new(FileId(0), 0, 0);
        let mut p = Program::default();
        for name in ["a", "b"] {
            p.flags.push(crate::hir::Flag {
                name: name.into(),
                description: None,
                default: None,
                module: crate::hir::ModuleId(0),
                span,
            });
        }
        p.options.push(OptionDef {
            name: "cni".into(),
            choices: vec!["canal".into(), "calico".into(), "flannel".into()],
            description: None,
            default: None,
            module: crate::hir::ModuleId(0),
            span,
        });
        p
    }

    #[test]
    fn options_take_exactly_one_choice() {
        let p = program();
        let mut s = Solver::new(&p);
        let canal = Cond::Choice(OptionId(0), 0);
        let calico = Cond::Choice(OptionId(0), 1);
        assert!(!s.satisfiable(&Cond::and(vec![canal.clone(), calico.clone()])));
        let any = Cond::or(vec![canal.clone(), calico, Cond::Choice(OptionId(0), 2)]);
        assert!(s.valid(&any));
        assert!(!s.valid(&canal));
    }

    #[test]
    fn witnesses_name_only_what_the_condition_mentions() {
        let p = program();
        let mut s = Solver::new(&p);
        let cond = Cond::and(vec![Cond::negate(Cond::Flag(FlagId(0))), Cond::Choice(OptionId(0), 2)]);
        let w = s.witness(&cond).map(|w| w.display(&p));
        assert_eq!(w.as_deref(), Some("a = false, cni = flannel"));
    }

    #[test]
    fn implication() {
        let p = program();
        let mut s = Solver::new(&p);
        let a = Cond::Flag(FlagId(0));
        let ab = Cond::and(vec![a.clone(), Cond::Flag(FlagId(1))]);
        assert!(s.implies(&ab, &a));
        assert!(!s.implies(&a, &ab));
        assert!(s.implies(&Cond::Const(false), &a));
    }
}
