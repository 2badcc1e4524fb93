//! Symbolic evaluation of a ruleset: sets of packets, as boxes, walk the base chains of the
//! hooks in priority order, and each rule splits them into the part it matches and the part it
//! does not. A match verify cannot decide sends a copy down each way, both marked with the rule
//! that forked them; where the copies end with different verdicts, the verdict is unknown.

use std::collections::BTreeMap;

use super::index::RuleIndex;
use super::rules::{Base, Cond, Hook, Kind, MarkOp, Policy, Ruleset, Stmt, Test, Verdict};
use super::space::{Cube, FAMILY, IIF, INVALID, NEW, NONE, OTHER, STATE, Tri, UNTRACKED};

/// Nested jumps beyond this are not followed (the kernel allows 16).
const MAX_DEPTH: usize = 64;

/// Undecidable matches a part may pass before its verdict is called unknown at once: each one
/// doubles the copies that follow it, so a chain of them must not grow without bound.
const MAX_FORKS: usize = 8;

/// Parts entering a chain are merged (`merged`) from this many on; fewer are not worth it.
const MERGE_FROM: usize = 16;

/// Which way traffic goes, seen from the host, and so which hooks it passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    fn hooks(self) -> &'static [Hook] {
        match self {
            Direction::In => &[Hook::Ingress, Hook::Prerouting, Hook::Input],
            Direction::Out => &[Hook::Output, Hook::Postrouting],
        }
    }
}

/// Where in the ruleset something happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Site {
    /// A statement of a rule: indices into `Ruleset::chains`, the chain's rules and the rule's statements.
    Rule { chain: usize, rule: usize, stmt: usize },
    /// The policy at the end of a base chain.
    Policy(usize),
    /// A jump deeper than verify follows, in this chain.
    Depth(usize),
    /// The devices an `ingress` base chain is bound to: verify cannot tell whether a packet
    /// arrives on one of them.
    Devices(usize),
}

/// Packets under evaluation: a box, and what verify knows of them beyond it. The box always
/// describes the packets as they arrived, so that verdicts can be compared with the policy;
/// what rules change (marks, `notrack`) is kept beside it.
#[derive(Clone, Debug)]
pub struct Part {
    pub cube: Cube,
    /// `notrack` ran: conntrack leaves the packets alone, `ct state` is `untracked`.
    pub untracked: bool,
    /// The packet's mark and its connection's, when known.
    pub mark: Option<u32>,
    pub ctmark: Option<u32>,
    /// The undecidable matches that sent copies of these packets both ways.
    pub forks: Vec<Site>,
    /// How many times copies were sent both ways: more than `forks` holds when one match is
    /// met again (a chain that jumps to itself).
    pub splits: usize,
    /// The rule or policy that let it through each base chain so far.
    pub accepted: Vec<Site>,
}

impl Part {
    /// Packets with no mark set, as they arrive or leave a process; a new connection's mark is 0.
    pub fn new(cube: Cube) -> Part {
        let ctmark = (cube.dim(STATE) == (NEW, NEW)).then_some(0);
        Part { cube, untracked: false, mark: Some(0), ctmark, forks: Vec::new(), splits: 0, accepted: Vec::new() }
    }

    fn with(&self, cube: Cube) -> Part {
        Part { cube, ..self.clone() }
    }

    fn forked(&self, cube: Cube, site: Site) -> Part {
        let mut part = self.with(cube);
        part.splits += 1;
        if !part.forks.contains(&site) {
            part.forks.push(site);
        }
        part
    }
}

/// What finally happens to some packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Through every base chain; the sites that let it through.
    Accept(Vec<Site>),
    Drop(Site),
    /// Something verify does not model decides (the site says what).
    Unknown(Site),
}

#[derive(Clone, Debug)]
pub struct End {
    pub part: Part,
    pub fate: Fate,
}

/// What leaves one chain: accepted (with the accepting site), returned (or fell off the end),
/// or ended for good.
#[derive(Default)]
struct Flow {
    accepted: Vec<Part>,
    returned: Vec<Part>,
    ends: Vec<End>,
}

/// Where the evaluation of one base chain stands.
#[derive(Clone, Copy)]
struct Context {
    /// The chain runs before conntrack has seen the packet: every `ct` expression sees none.
    pre_conntrack: bool,
    /// Cut by a run of one-box tests at once (`evaluate`).
    whole_runs: bool,
}

/// Runs `parts` through every base chain of the hooks of `direction`; every packet of them ends
/// in exactly one `End`, except where an undecidable match forked it (then the copies overlap).
pub fn run(ruleset: &Ruleset, direction: Direction, parts: Vec<Part>) -> Vec<End> {
    evaluate(ruleset, direction, parts, true)
}

/// `run`; `whole_runs`: a run of tests that each match one box cuts the parts once, by their
/// intersection, rather than test by test (the same packets, in far fewer boxes).
fn evaluate(ruleset: &Ruleset, direction: Direction, parts: Vec<Part>, whole_runs: bool) -> Vec<End> {
    let mut order: Vec<(usize, &Base)> = ruleset
        .chains
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.base.as_ref().map(|b| (i, b)))
        .filter(|(_, b)| direction.hooks().contains(&b.hook))
        .collect();
    order.sort_by(|(i, a), (j, b)| {
        let name = |k: &usize| ruleset.chains.get(*k).map(|c| c.name.as_str());
        (a.hook, a.priority, name(i)).cmp(&(b.hook, b.priority, name(j)))
    });
    let indexes: Vec<RuleIndex> = ruleset
        .chains
        .iter()
        .map(|c| RuleIndex::new(&c.rules.iter().map(|r| hull(&r.stmts)).collect::<Vec<_>>()))
        .collect();
    let mut ends = Vec::new();
    let mut alive = parts;
    // NAT chains see the first packet of a tracked connection only.
    let first = Tri::yes(Cube::all().with(STATE, NEW, NEW));
    for (index, base) in order {
        let (inside, outside) = entering(index, base, alive, &first);
        let context = Context {
            pre_conntrack: base.hook == Hook::Ingress
                || (base.priority < -200 && matches!(base.hook, Hook::Prerouting | Hook::Output)),
            whole_runs,
        };
        let flow = chain(ruleset, &indexes, index, inside, 0, context);
        ends.extend(flow.ends);
        alive = outside;
        alive.extend(flow.accepted);
        match base.policy {
            Some(Policy::Accept) => alive.extend(flow.returned.into_iter().map(|p| accepted(p, Site::Policy(index)))),
            Some(Policy::Drop) => {
                ends.extend(flow.returned.into_iter().map(|part| End { part, fate: Fate::Drop(Site::Policy(index)) }))
            }
            None => ends
                .extend(flow.returned.into_iter().map(|part| End { part, fate: Fate::Unknown(Site::Policy(index)) })),
        }
    }
    ends.extend(alive.into_iter().map(|part| {
        let sites = part.accepted.clone();
        End { part, fate: Fate::Accept(sites) }
    }));
    ends
}

/// The parts a base chain sees, and those it does not: its families only; NAT chains only the
/// first packet of a connection; an `ingress` chain only what arrives on its devices (which
/// verify cannot tell apart, so it forks).
fn entering(index: usize, base: &Base, parts: Vec<Part>, first: &Tri) -> (Vec<Part>, Vec<Part>) {
    let family = Tri::yes(Cube::all().with(FAMILY, base.families.0, base.families.1));
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for part in parts {
        let mut sees = family.clone();
        if base.kind == Kind::Nat {
            // Local connections are translated on their way out; on loopback their packets
            // meet no NAT chain of the input side.
            let local = Tri::yes(Cube::all().with(IIF, OTHER, NONE));
            sees = if part.untracked { Tri::never() } else { sees.and(first).and(&local) };
        }
        if base.hook == Hook::Ingress {
            sees = sees.and(&super::rules::interfaces(IIF, &base.devices));
        }
        let (yes, maybe, no) = sees.split(&part.cube);
        inside.extend(yes.into_iter().map(|c| part.with(c)));
        outside.extend(no.into_iter().map(|c| part.with(c)));
        for cube in maybe {
            inside.push(part.forked(cube, Site::Devices(index)));
            outside.push(part.forked(cube, Site::Devices(index)));
        }
    }
    (inside, outside)
}

fn accepted(mut part: Part, site: Site) -> Part {
    part.accepted.push(site);
    part
}

/// The box around every packet a rule can act on: its tests before the first statement that is
/// not a test, each narrowed to its domain and, unless negated, to its region. A packet outside it
/// fails a test and goes on to the next rule untouched. `None`: the rule acts on no packet.
fn hull(stmts: &[Stmt]) -> Option<Cube> {
    let mut hull = Cube::all();
    for stmt in stmts {
        let Stmt::Test(test) = stmt else { break };
        hull = hull.intersect(&test.domain)?;
        if let (Cond::Region(tri), false) = (&test.cond, test.negate) {
            let mut around: Option<Cube> = None;
            for cube in tri.yes.iter().chain(&tri.maybe) {
                around = Some(around.map_or(*cube, |a| a.span(cube)));
            }
            hull = hull.intersect(&around?)?;
        }
    }
    Some(hull)
}

fn chain(
    ruleset: &Ruleset,
    indexes: &[RuleIndex],
    index: usize,
    parts: Vec<Part>,
    depth: usize,
    context: Context,
) -> Flow {
    let mut flow = Flow::default();
    let (Some(chain), Some(rules)) = (ruleset.chains.get(index), indexes.get(index)) else {
        flow.ends.extend(parts.into_iter().map(|part| End { part, fate: Fate::Unknown(Site::Depth(index)) }));
        return flow;
    };
    // Each part waits at the next rule that can act on it (its hull overlaps the part); a rule
    // acts on all the parts waiting for it at once, as a jump merges them.
    let mut waiting: BTreeMap<usize, Vec<Part>> = BTreeMap::new();
    for part in parts {
        wait(rules, &mut waiting, &mut flow, part, 0);
    }
    while let Some((number, acted)) = waiting.pop_first() {
        let Some(rule) = chain.rules.get(number) else { continue };
        let mut walk = Walk { ruleset, indexes, chain: index, rule: number, depth, context, flow: &mut flow };
        for part in walk.rule(&rule.stmts, acted) {
            wait(rules, &mut waiting, &mut flow, part, number + 1);
        }
    }
    flow
}

/// Puts a part at the first rule numbered `from` or later that can act on it, or, when none
/// can, among the parts that fall off the end of the chain.
fn wait(rules: &RuleIndex, waiting: &mut BTreeMap<usize, Vec<Part>>, flow: &mut Flow, part: Part, from: usize) {
    match rules.next(&part.cube, from) {
        Some(number) => waiting.entry(number).or_default().push(part),
        None => flow.returned.push(part),
    }
}

/// The evaluation of one rule.
struct Walk<'a> {
    ruleset: &'a Ruleset,
    indexes: &'a [RuleIndex],
    chain: usize,
    rule: usize,
    depth: usize,
    context: Context,
    flow: &'a mut Flow,
}

impl Walk<'_> {
    fn site(&self, stmt: usize) -> Site {
        Site::Rule { chain: self.chain, rule: self.rule, stmt }
    }

    /// Runs the statements; returns the parts that go on to the next rule.
    fn rule(&mut self, stmts: &[Stmt], parts: Vec<Part>) -> Vec<Part> {
        let mut next = Vec::new();
        let mut current = parts;
        let mut skip_to = 0;
        for (number, stmt) in stmts.iter().enumerate() {
            if number < skip_to {
                continue;
            }
            let site = self.site(number);
            let run_end = if self.context.whole_runs { boxed(stmts, number) } else { number };
            match stmt {
                Stmt::Test(_) if run_end > number + 1 => {
                    // A run of tests that each match one box matches their intersection, and
                    // what it does not match is cut from each part in one go.
                    skip_to = run_end;
                    let within =
                        stmts.get(number..skip_to).unwrap_or_default().iter().try_fold(Cube::all(), |acc, s| {
                            acc.intersect(&match s {
                                Stmt::Test(test) => one_box(test)?,
                                _ => Cube::all(),
                            })
                        });
                    let (yes, no) = cut(current, within.as_ref());
                    current = yes;
                    next.extend(no);
                }
                Stmt::Test(test) => {
                    let (yes, no) = self.test(test, current, site);
                    current = yes;
                    next.extend(no);
                }
                Stmt::Verdict(verdict) => {
                    next.extend(self.verdict(*verdict, current, site));
                    return next;
                }
                Stmt::Vmap(entries) => {
                    for (test, verdict) in entries {
                        let (yes, no) = self.test(test, current, site);
                        next.extend(self.verdict(*verdict, yes, site));
                        current = no;
                    }
                    next.extend(current);
                    return next;
                }
                Stmt::Mark { ct, op } => current.iter_mut().for_each(|p| set_mark(p, *ct, *op)),
                Stmt::Notrack => current.iter_mut().for_each(|p| p.untracked = true),
                Stmt::Nat(_) | Stmt::Stop(_) => {
                    self.flow.ends.extend(current.into_iter().map(|part| End { part, fate: Fate::Unknown(site) }));
                    return next;
                }
            }
            if current.is_empty() {
                break;
            }
        }
        next.extend(current);
        next
    }

    /// Splits parts into those the test matches and those it does not; undecided ones go both ways.
    fn test(&mut self, test: &Test, parts: Vec<Part>, site: Site) -> (Vec<Part>, Vec<Part>) {
        let (mut matched, mut unmatched) = (Vec::new(), Vec::new());
        for whole in parts {
            // Outside its domain a test never matches, negated or not.
            let Some(inside) = whole.cube.intersect(&test.domain) else {
                unmatched.push(whole);
                continue;
            };
            unmatched.extend(whole.cube.subtract(&test.domain).into_iter().map(|c| whole.with(c)));
            let part = whole.with(inside);
            let (yes, maybe, no) = decide(&test.cond, &part, self.context);
            let breaks =
                matches!(test.cond, Cond::Break) || (self.context.pre_conntrack && matches!(test.cond, Cond::CtOther));
            let (yes, no) = if test.negate && !breaks { (no, yes) } else { (yes, no) };
            matched.extend(yes.into_iter().map(|c| part.with(c)));
            unmatched.extend(no.into_iter().map(|c| part.with(c)));
            for cube in maybe {
                if part.splits >= MAX_FORKS {
                    self.flow.ends.push(End { part: part.forked(cube, site), fate: Fate::Unknown(site) });
                    continue;
                }
                matched.push(part.forked(cube, site));
                unmatched.push(part.forked(cube, site));
            }
        }
        (matched, unmatched)
    }

    /// Applies a verdict; returns the parts that go on to the next rule.
    fn verdict(&mut self, verdict: Verdict, parts: Vec<Part>, site: Site) -> Vec<Part> {
        if parts.is_empty() {
            return parts;
        }
        match verdict {
            Verdict::Accept => self.flow.accepted.extend(parts.into_iter().map(|p| accepted(p, site))),
            Verdict::Drop | Verdict::Reject => {
                self.flow.ends.extend(parts.into_iter().map(|part| End { part, fate: Fate::Drop(site) }));
            }
            Verdict::Continue => return parts,
            Verdict::Return => self.flow.returned.extend(parts),
            Verdict::Jump(target) | Verdict::Goto(target) => {
                if self.depth >= MAX_DEPTH {
                    let fate = Fate::Unknown(Site::Depth(self.chain));
                    self.flow.ends.extend(parts.into_iter().map(|part| End { part, fate: fate.clone() }));
                    return Vec::new();
                }
                let inner = chain(self.ruleset, self.indexes, target, merged(parts), self.depth + 1, self.context);
                self.flow.accepted.extend(inner.accepted);
                self.flow.ends.extend(inner.ends);
                if matches!(verdict, Verdict::Jump(_)) {
                    return inner.returned;
                }
                // A goto's chain returns to whoever called this one.
                self.flow.returned.extend(inner.returned);
            }
        }
        Vec::new()
    }
}

/// The box of packets a test matches, when that is one box: a region that verify can decide
/// everywhere, not negated.
fn one_box(test: &Test) -> Option<Cube> {
    match (&test.cond, test.negate) {
        (Cond::Region(Tri { yes, maybe }), false) if maybe.is_empty() => match yes.as_slice() {
            [cube] => test.domain.intersect(cube),
            _ => None,
        },
        _ => None,
    }
}

/// Where the run of tests from `start` that each match one box ends (`start` when there is none).
fn boxed(stmts: &[Stmt], start: usize) -> usize {
    let run = stmts.get(start..).unwrap_or_default();
    start + run.iter().take_while(|s| matches!(s, Stmt::Test(t) if one_box(t).is_some())).count()
}

/// Splits parts into those inside `within` and the rest, cut as `Cube::subtract` cuts: by
/// protocol and port before address, so that the packets a rule for one address and port does
/// not match stay a few boxes, whatever rules follow.
fn cut(parts: Vec<Part>, within: Option<&Cube>) -> (Vec<Part>, Vec<Part>) {
    let Some(within) = within else { return (Vec::new(), parts) };
    let (mut matched, mut unmatched) = (Vec::new(), Vec::new());
    for part in parts {
        match part.cube.intersect(within) {
            Some(inside) => {
                unmatched.extend(part.cube.subtract(within).into_iter().map(|c| part.with(c)));
                matched.push(part.with(inside));
            }
            None => unmatched.push(part),
        }
    }
    (matched, unmatched)
}

/// Splits a part's box by a condition into (holds, cannot tell, fails).
fn decide(cond: &Cond, part: &Part, context: Context) -> (Vec<Cube>, Vec<Cube>, Vec<Cube>) {
    let whole = vec![part.cube];
    match cond {
        Cond::Region(tri) => tri.split(&part.cube),
        Cond::CtState(mask) if context.pre_conntrack || part.untracked => {
            // Before conntrack every packet is `invalid`, but one already marked `notrack`.
            let state = if part.untracked { UNTRACKED } else { INVALID };
            if mask & (1 << state) != 0 { (whole, Vec::new(), Vec::new()) } else { (Vec::new(), Vec::new(), whole) }
        }
        Cond::CtState(mask) => super::rules::states(*mask).split(&part.cube),
        Cond::Mark { ct, mask, values } => match if *ct { part.ctmark } else { part.mark } {
            Some(mark) if values.iter().any(|(lo, hi)| (*lo..=*hi).contains(&(mark & mask))) => {
                (whole, Vec::new(), Vec::new())
            }
            Some(_) => (Vec::new(), Vec::new(), whole),
            None => (Vec::new(), whole, Vec::new()),
        },
        Cond::CtOther if context.pre_conntrack => (Vec::new(), Vec::new(), whole),
        Cond::CtOther => (Vec::new(), whole, Vec::new()),
        Cond::Break => (Vec::new(), Vec::new(), whole),
    }
}

/// The same packets in fewer parts: the boxes of parts with the same history (marks, forks,
/// accepting sites) merged where they touch. Rules that carve holes (kube-proxy's ClusterIPs)
/// leave many boxes behind; a chain they jump to would otherwise walk each of them.
fn merged(parts: Vec<Part>) -> Vec<Part> {
    if parts.len() < MERGE_FROM {
        return parts;
    }
    type History = (bool, Option<u32>, Option<u32>, Vec<Site>, usize, Vec<Site>);
    let mut groups: BTreeMap<History, Vec<Cube>> = BTreeMap::new();
    for part in parts {
        let history = (part.untracked, part.mark, part.ctmark, part.forks, part.splits, part.accepted);
        groups.entry(history).or_default().push(part.cube);
    }
    let mut out = Vec::new();
    for ((untracked, mark, ctmark, forks, splits, accepted), cubes) in groups {
        for cube in super::space::coalesce(cubes) {
            out.push(Part { cube, untracked, mark, ctmark, forks: forks.clone(), splits, accepted: accepted.clone() });
        }
    }
    out
}

fn set_mark(part: &mut Part, ct: bool, op: MarkOp) {
    let (own, other) = if ct { (part.ctmark, part.mark) } else { (part.mark, part.ctmark) };
    let new = match op {
        MarkOp::Xmark { value, mask: u32::MAX } => Some(value),
        MarkOp::Xmark { value, mask } => own.map(|m| (m & !mask) ^ value),
        MarkOp::Copy => other,
        MarkOp::Unknown => None,
    };
    if ct {
        part.ctmark = new;
    } else {
        part.mark = new;
    }
}

#[cfg(test)]
mod tests {
    use super::super::outcome::Outcome;
    use super::super::rules::Local;
    use super::super::space::{self, V4, V6};
    use super::*;

    /// Each verdict, with the sites behind it, and the packets that get it. The sites of unknown
    /// packets are left out: where the copies of a forked packet overlap, `Outcome::resolve`
    /// names the forks box by box, so how the boxes fall decides which forks are named.
    fn verdicts(outcome: Outcome) -> BTreeMap<(u8, Vec<Site>), Vec<Cube>> {
        let mut out: BTreeMap<(u8, Vec<Site>), Vec<Cube>> = BTreeMap::new();
        for (kind, list) in [(0, outcome.accepted), (1, outcome.dropped), (2, outcome.unknown)] {
            for (cube, sites) in list {
                let sites = if kind == 2 { Vec::new() } else { sites };
                out.entry((kind, sites)).or_default().push(cube);
            }
        }
        out
    }

    /// Cutting by a run of tests at once gives every packet the verdict, and the sites, that
    /// cutting test by test gives, in fewer boxes.
    fn same_verdicts(ruleset: &Ruleset) {
        for direction in [Direction::In, Direction::Out] {
            let parts = || {
                [V4, V6]
                    .into_iter()
                    .flat_map(|f| (NEW..=UNTRACKED).map(move |s| Part::new(Cube::family(f).with(STATE, s, s))))
                    .collect::<Vec<_>>()
            };
            let slow = evaluate(ruleset, direction, parts(), false);
            let fast = evaluate(ruleset, direction, parts(), true);
            assert!(fast.len() <= slow.len(), "{} boxes, test by test {}", fast.len(), slow.len());
            let (slow, fast) = (verdicts(Outcome::resolve(slow)), verdicts(Outcome::resolve(fast)));
            assert_eq!(slow.keys().collect::<Vec<_>>(), fast.keys().collect::<Vec<_>>(), "{direction:?}");
            for (key, cubes) in &slow {
                let other = fast.get(key).map_or(&[][..], Vec::as_slice);
                assert!(space::subtract(cubes, other).is_empty(), "{direction:?} {key:?}: only test by test");
                assert!(space::subtract(other, cubes).is_empty(), "{direction:?} {key:?}: only at once");
            }
        }
    }

    fn iptables(text: &str) -> Ruleset {
        let local = Local { v4: vec![(0x0a00_030a, 0x0a00_030a)], v6: vec![(1, 1)] };
        let mut ruleset = Ruleset::default();
        super::super::iptables::read(text, V4, &local, &Default::default(), &mut ruleset).expect("the ruleset reads");
        ruleset
    }

    #[test]
    fn kube_proxy_at_scale_gets_the_same_verdicts_either_way() {
        let (text, _) = super::super::synth::kube_proxy_save(&super::super::synth::Options::for_rules(400));
        same_verdicts(&iptables(&text));
    }

    #[test]
    fn kube_proxy_and_docker_get_the_same_verdicts_either_way() {
        let text = include_str!("../../tests/verify/kube-proxy-docker.rules");
        same_verdicts(&iptables(text));
    }

    #[test]
    fn a_chain_that_jumps_to_itself_past_an_undecidable_match_stays_small() {
        // The kernel refuses the loop; verify reads such text anyway and must not double the
        // copies of the packets at every turn (found by fuzzing: 2^64 copies).
        let text = "*filter\n:INPUT DROP [0:0]\n:LOOP - [0:0]\n-A INPUT -j LOOP\n\
            -A LOOP ! -i eth0 -p tcp -m tcp --dport 8 -j LOOP\nCOMMIT\n";
        let ruleset = iptables(text);
        let ends = evaluate(&ruleset, Direction::In, vec![Part::new(Cube::family(V4))], true);
        assert!(ends.len() < 1000, "{} ends", ends.len());
        let outcome = Outcome::resolve(ends);
        assert!(!outcome.unknown.is_empty(), "the loop's verdict is unknown");
    }

    #[test]
    fn negations_and_sets_of_boxes_get_the_same_verdicts_either_way() {
        let text = "*filter\n:INPUT DROP [0:0]\n:SSH - [0:0]\n\
            -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
            -A INPUT ! -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j DROP\n\
            -A INPUT -s 10.1.0.0/16 -d 10.0.3.10/32 -p tcp -m multiport --dports 22,80,443 -j SSH\n\
            -A INPUT -s 10.2.0.0/16 -p udp -m udp ! --dport 53 -j ACCEPT\n\
            -A INPUT -d 10.0.3.10/32 -p tcp -m tcp --dport 6443 -m conntrack --ctstate NEW -j ACCEPT\n\
            -A SSH -s 10.1.2.0/24 -j RETURN\n\
            -A SSH -p tcp -m tcp --dport 22 -j ACCEPT\n\
            COMMIT\n";
        same_verdicts(&iptables(text));
    }
}
