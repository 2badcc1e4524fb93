//! The comparison of a ruleset's verdicts with the policy, and its report: missing (declared,
//! dropped), excess (accepted, declared by no flow), unknown (decided by what verify cannot
//! model) and the baseline, each grouped by the rule that decides, as ranges with one concrete
//! example packet. Human text and a JSON document (`docs/verify.md`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use super::eval::{Direction, Site};
use super::expect::{Addresses, Expectation};
use super::outcome::Outcome;
use super::rules::{self, Local, Policy, Ruleset, Stmt};
use super::space::{self, Cube, DIMS, DPORT, DST, FAMILY, IIF, OIF, PROTO, SPORT, SRC, STATE, V4, V4_MAX};

/// Ranges the human report shows per finding; it counts the rest, which the JSON lists.
pub const MAX_RANGES: usize = 8;

/// Whether the ruleset does what the policy says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Conforms,
    /// Something undecidable matters, and nothing decidable is wrong.
    Unknown,
    /// Declared traffic is dropped or undeclared traffic accepted.
    Differs,
}

/// Findings of one direction.
#[derive(Clone, Debug, Serialize)]
pub struct Section {
    pub direction: &'static str,
    pub status: Status,
    pub missing: Vec<Finding>,
    pub excess: Vec<Finding>,
    pub unknown: Vec<Finding>,
    pub baseline: Vec<Baseline>,
}

/// Packets with one verdict for one reason.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// What the packets are: the declared entry, or the first range.
    pub what: String,
    /// For declared traffic: the flows that declare it.
    pub declared_by: Vec<String>,
    pub verdict: &'static str,
    /// The rules, policies or constructs that decide.
    pub by: Vec<RuleRef>,
    /// The packets, as ranges: every one of them.
    pub packets: Vec<String>,
    pub example: Packet,
}

/// A place in the ruleset.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuleRef {
    /// `inet filter input, handle 7`, `filter INPUT, line 12`, `inet filter input, policy drop`.
    pub at: String,
    /// The rule as its tool prints it.
    pub rule: String,
    /// For an unknown verdict: the construct verify cannot model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub construct: Option<String>,
}

/// What happens to part of the baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    pub what: String,
    /// `accepted`, `dropped`, `partly dropped`, `unknown`, or `not followed` (outside the packets verify follows).
    pub verdict: &'static str,
    pub by: Vec<RuleRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<Packet>,
}

/// One concrete packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Packet {
    pub protocol: u8,
    pub source: IpAddr,
    pub destination: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// `new`, `established`, ...
    pub state: &'static str,
    /// `lo` for loopback; `other` for any other interface.
    pub interface: &'static str,
}

/// What a section is built from.
pub struct Inputs<'a> {
    pub ruleset: &'a Ruleset,
    pub expectation: &'a Expectation,
    pub outcome: &'a Outcome,
    pub addresses: &'a Addresses,
}

/// Compares one direction's verdicts with its expectation.
pub fn section(inputs: &Inputs) -> Section {
    let expectation = inputs.expectation;
    let declared: Vec<Cube> = expectation.declared.iter().flat_map(|d| d.cubes.iter().copied()).collect();
    let baseline: Vec<Cube> = expectation.baseline.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    let covered: Vec<Cube> = declared.iter().chain(&baseline).copied().collect();
    let missing = declared_findings(inputs, true);
    let mut unknown = declared_findings(inputs, false);
    let excess = grouped(inputs, inputs.outcome.accepted.iter().map(|(c, s)| (*c, s.clone())), &covered, "accepted");
    unknown.extend(grouped(inputs, inputs.outcome.unknown.iter().map(|(c, s)| (*c, s.clone())), &covered, "unknown"));
    let status = if !missing.is_empty() || !excess.is_empty() {
        Status::Differs
    } else if !unknown.is_empty() {
        Status::Unknown
    } else {
        Status::Conforms
    };
    let direction = if expectation.direction == Direction::In { "inbound" } else { "outbound" };
    Section { direction, status, missing, excess, unknown, baseline: baseline_items(inputs) }
}

/// Declared traffic that is dropped (`dropped: true`) or whose verdict is unknown, per declared
/// entry and deciding site.
fn declared_findings(inputs: &Inputs, dropped: bool) -> Vec<Finding> {
    let outcome = inputs.outcome;
    let verdicts: Vec<(Cube, Vec<Site>)> = if dropped { outcome.dropped.clone() } else { outcome.unknown.clone() };
    let mut out = Vec::new();
    for entry in &inputs.expectation.declared {
        let mut groups: BTreeMap<Vec<Site>, Vec<Cube>> = BTreeMap::new();
        for (cube, sites) in &verdicts {
            for d in entry.cubes.iter().filter(|d| d.overlaps(cube)) {
                groups.entry(sites.clone()).or_default().extend(d.intersect(cube));
            }
        }
        for (sites, cubes) in same_packets(groups) {
            let verdict = if dropped { "dropped" } else { "unknown" };
            let mut finding = finding(inputs, cubes, &sites, verdict);
            finding.what = entry.what.clone();
            finding.declared_by = entry.why.clone();
            out.push(finding);
        }
    }
    out
}

/// Packets outside `covered` with a verdict, grouped by the sites that decide.
fn grouped(
    inputs: &Inputs,
    verdicts: impl Iterator<Item = (Cube, Vec<Site>)>,
    covered: &[Cube],
    verdict: &'static str,
) -> Vec<Finding> {
    let mut groups: BTreeMap<Vec<Site>, Vec<Cube>> = BTreeMap::new();
    for (cube, mut sites) in verdicts {
        let rest = space::subtract(&[cube], covered);
        if !rest.is_empty() {
            sites.sort_unstable();
            sites.dedup();
            groups.entry(sites).or_default().extend(rest);
        }
    }
    let mut out: Vec<Finding> =
        same_packets(groups).into_iter().map(|(sites, cubes)| finding(inputs, cubes, &sites, verdict)).collect();
    out.sort_by(|a, b| a.what.cmp(&b.what));
    out
}

/// Groups of the same packets as one, with the sites of all: copies of packets that an
/// undecidable match forked may meet different rules on their way to the same verdict.
fn same_packets(groups: BTreeMap<Vec<Site>, Vec<Cube>>) -> Vec<(Vec<Site>, Vec<Cube>)> {
    let mut by_packets: BTreeMap<Vec<Cube>, Vec<Site>> = BTreeMap::new();
    for (sites, cubes) in groups {
        by_packets.entry(space::coalesce(cubes)).or_default().extend(sites);
    }
    let mut out: Vec<(Vec<Site>, Vec<Cube>)> = by_packets
        .into_iter()
        .map(|(cubes, mut sites)| {
            sites.sort_unstable();
            sites.dedup();
            (sites, cubes)
        })
        .collect();
    out.sort();
    out
}

fn finding(inputs: &Inputs, cubes: Vec<Cube>, sites: &[Site], verdict: &'static str) -> Finding {
    let mut cubes = space::coalesce(cubes);
    // The largest ranges first: they say most about the finding.
    cubes.sort_by(|a, b| b.volume().total_cmp(&a.volume()).then(a.cmp(b)));
    let packets: Vec<String> = cubes.iter().map(show).collect();
    let direction = inputs.expectation.direction;
    let typical =
        [6u128, 17, 1, 58].iter().find_map(|p| cubes.iter().find(|c| (c.dim(PROTO).0..=c.dim(PROTO).1).contains(p)));
    let example = typical.or(cubes.first()).map_or_else(
        || example(&Cube::family(V4), &Local::default(), direction),
        |c| example(c, &inputs.addresses.fib, direction),
    );
    let what = packets.first().cloned().unwrap_or_default();
    let by = refs(inputs.ruleset, sites, verdict);
    Finding { what, declared_by: Vec::new(), verdict, by, packets, example }
}

/// The rules behind sites: for accepted packets, the rules rather than the policies when both
/// let them through; for unknown ones, the constructs.
fn refs(ruleset: &Ruleset, sites: &[Site], verdict: &str) -> Vec<RuleRef> {
    let constructs = verdict == "unknown";
    let rules: Vec<&Site> = sites.iter().filter(|s| !matches!(s, Site::Policy(_))).collect();
    let chosen: Vec<&Site> = if rules.is_empty() || verdict != "accepted" { sites.iter().collect() } else { rules };
    let mut out: Vec<RuleRef> = chosen.into_iter().map(|s| rule_ref(ruleset, *s, constructs)).collect();
    out.dedup();
    if out.is_empty() && verdict == "accepted" {
        let none = "no base chain on the hooks these packets pass".to_string();
        out.push(RuleRef { at: none, rule: String::new(), construct: None });
    }
    out
}

pub fn rule_ref(ruleset: &Ruleset, site: Site, construct: bool) -> RuleRef {
    let chain_name = |c: usize| ruleset.chains.get(c).map_or("?", |c| c.name.as_str()).to_string();
    match site {
        Site::Rule { chain, rule, stmt } => {
            let found = ruleset.chains.get(chain).and_then(|c| c.rules.get(rule));
            let construct = construct.then(|| found.and_then(|r| r.stmts.get(stmt)).map(stmt_text)).flatten();
            RuleRef {
                at: found.map_or_else(|| chain_name(chain), |r| r.at.clone()),
                rule: found.map_or_else(String::new, |r| r.text.clone()),
                construct,
            }
        }
        Site::Policy(chain) => {
            let policy = ruleset.chains.get(chain).and_then(|c| c.base.as_ref()).and_then(|b| b.policy);
            let word = match policy {
                Some(Policy::Accept) => "policy accept",
                Some(Policy::Drop) => "policy drop",
                None => "policy (unreadable)",
            };
            RuleRef { at: format!("{}, {word}", chain_name(chain)), rule: String::new(), construct: None }
        }
        Site::Depth(chain) => RuleRef {
            at: chain_name(chain),
            rule: String::new(),
            construct: Some("jumps nested deeper than verify follows".to_string()),
        },
        Site::Devices(chain) => {
            let devices = ruleset.chains.get(chain).and_then(|c| c.base.as_ref()).map(|b| b.devices.join(", "));
            RuleRef {
                at: chain_name(chain),
                rule: String::new(),
                construct: Some(format!(
                    "bound to devices {}: which one a packet arrives on is not known",
                    devices.unwrap_or_default()
                )),
            }
        }
    }
}

fn stmt_text(stmt: &Stmt) -> String {
    match stmt {
        Stmt::Test(t) => t.text.clone(),
        Stmt::Nat(t) => format!("{t}: address translation takes the packet off the path verify follows"),
        Stmt::Stop(t) => t.clone(),
        Stmt::Vmap(entries) => entries.first().map(|(t, _)| t.text.clone()).unwrap_or_default(),
        Stmt::Verdict(_) | Stmt::Mark { .. } | Stmt::Notrack => String::new(),
    }
}

/// Each baseline item's verdict.
fn baseline_items(inputs: &Inputs) -> Vec<Baseline> {
    let outcome = inputs.outcome;
    let mut out = Vec::new();
    for (what, cubes) in &inputs.expectation.baseline {
        let overlapping = |v: &[Cube]| cubes.iter().any(|c| v.iter().any(|x| x.overlaps(c)));
        let dropped: Vec<&(Cube, Vec<Site>)> =
            outcome.dropped.iter().filter(|(x, _)| cubes.iter().any(|c| c.overlaps(x))).collect();
        let unknown: Vec<&(Cube, Vec<Site>)> =
            outcome.unknown.iter().filter(|(x, _)| cubes.iter().any(|c| c.overlaps(x))).collect();
        let accepted = overlapping(&outcome.accepted.iter().map(|(c, _)| *c).collect::<Vec<_>>());
        let (verdict, by, example) = if let Some((cube, sites)) = dropped.first() {
            let part = cubes.iter().find_map(|c| c.intersect(cube)).unwrap_or(*cube);
            let verdict = if accepted { "partly dropped" } else { "dropped" };
            (
                verdict,
                refs(inputs.ruleset, sites, "dropped"),
                Some(example(&part, &inputs.addresses.fib, inputs.expectation.direction)),
            )
        } else if let Some((cube, sites)) = unknown.first() {
            let part = cubes.iter().find_map(|c| c.intersect(cube)).unwrap_or(*cube);
            (
                "unknown",
                refs(inputs.ruleset, sites, "unknown"),
                Some(example(&part, &inputs.addresses.fib, inputs.expectation.direction)),
            )
        } else if accepted {
            ("accepted", Vec::new(), None)
        } else {
            ("not followed", Vec::new(), None)
        };
        out.push(Baseline { what: what.clone(), verdict, by, example });
    }
    out
}

/// A box as people read it: `tcp 10.0.2.0/24 -> 10.0.1.5 port 2379`.
pub fn show(cube: &Cube) -> String {
    let family = cube.dim(FAMILY).0;
    let (plo, phi) = cube.dim(PROTO);
    let protocol = if plo == phi {
        rules::protocol_name(plo)
    } else if (plo, phi) == (0, 255) {
        "any protocol".to_string()
    } else {
        format!("protocols {plo}-{phi}")
    };
    let addresses = |dim: usize| {
        let (lo, hi) = cube.dim(dim);
        let top = if family == V4 { V4_MAX } else { u128::MAX };
        if (lo, hi) == (0, top) {
            if family == V4 { "0.0.0.0/0".to_string() } else { "::/0".to_string() }
        } else {
            space::show_addresses(family, (lo, hi))
        }
    };
    let mut text = format!("{protocol} {} -> {}", addresses(SRC), addresses(DST));
    let icmp = plo == phi && ((family == V4 && plo == 1) || (family != V4 && plo == 58));
    let ported = plo == phi && rules::PORT_PROTOCOLS.iter().any(|p| u128::from(*p) == plo);
    if ported {
        if !cube.is_full(SPORT) {
            text.push_str(&format!(" from port {}", range(cube.dim(SPORT))));
        }
        match cube.dim(DPORT) {
            (0, 65535) => text.push_str(" any port"),
            (lo, hi) if lo == hi => text.push_str(&format!(" port {lo}")),
            r => text.push_str(&format!(" ports {}", range(r))),
        }
    } else if icmp && !cube.is_full(DPORT) {
        let (lo, hi) = cube.dim(DPORT);
        let v6 = family != V4;
        if lo % 256 == 0 && hi % 256 == 255 {
            let (first, last) = (lo / 256, hi / 256);
            if first == last {
                text.push_str(&format!(" type {}", rules::icmp_type_name(v6, first)));
            } else {
                text.push_str(&format!(" types {first}-{last}"));
            }
        } else {
            text.push_str(&format!(" type/code {}/{}-{}/{}", lo / 256, lo % 256, hi / 256, hi % 256));
        }
    }
    if cube.dim(STATE) != (0, 0) {
        let (lo, hi) = cube.dim(STATE);
        text.push_str(&format!(
            " state {}",
            if lo == hi { state_name(lo).to_string() } else { format!("{}-{}", state_name(lo), state_name(hi)) }
        ));
    }
    if cube.dim(IIF) == (0, 0) || cube.dim(OIF) == (0, 0) {
        text.push_str(" on lo");
    }
    text
}

fn range((lo, hi): (u128, u128)) -> String {
    if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") }
}

fn state_name(state: u128) -> &'static str {
    ["new", "established", "related", "invalid", "untracked"]
        .get(usize::try_from(state).unwrap_or(0))
        .copied()
        .unwrap_or("?")
}

/// A packet of the box that a kernel would carry: a source that is not the host's own or a
/// special address when the box allows, TCP or UDP when it allows, ports a socket can use.
pub fn example(cube: &Cube, local: &Local, direction: Direction) -> Packet {
    let family = cube.dim(FAMILY).0;
    let locals = if family == V4 { &local.v4 } else { &local.v6 };
    // The far end should not be one of the host's own addresses (the kernel drops such packets
    // arriving from outside); the near end is one.
    let far = if direction == Direction::In { SRC } else { DST };
    let pick_address = |dim: usize| -> u128 {
        let (lo, hi) = cube.dim(dim);
        let quarter = (lo + (hi - lo) / 4).saturating_add(2).min(hi);
        let candidates = [lo.saturating_add(1).min(hi), lo, hi.saturating_sub(1).max(lo), quarter];
        let foreign = |a: &u128| dim != far || !locals.iter().any(|(l, h)| l <= a && a <= h);
        candidates.iter().copied().find(|a| foreign(a) && !special(family, *a)).unwrap_or(lo)
    };
    let (plo, phi) = cube.dim(PROTO);
    let protocol = [6u128, 17, 1, 58].into_iter().find(|p| (plo..=phi).contains(p)).unwrap_or(plo);
    let ported = rules::PORT_PROTOCOLS.iter().any(|p| u128::from(*p) == protocol);
    let icmp = (family == V4 && protocol == 1) || (family != V4 && protocol == 58);
    let port = |dim: usize, preferred: u128| {
        let (lo, hi) = cube.dim(dim);
        let p = if (lo..=hi).contains(&preferred) {
            preferred
        } else if lo == 0 && hi > 0 {
            1
        } else {
            lo
        };
        u16::try_from(p).unwrap_or(0)
    };
    let (dlo, _) = cube.dim(DPORT);
    let interface = |dim: usize| if cube.dim(dim).0 == 0 { "lo" } else { "other" };
    Packet {
        protocol: u8::try_from(protocol).unwrap_or(0),
        source: space::ip(family, pick_address(SRC)),
        destination: space::ip(family, pick_address(DST)),
        source_port: ported.then(|| port(SPORT, 40000)),
        destination_port: ported.then(|| port(DPORT, 1)),
        icmp_type: icmp.then(|| u8::try_from(dlo / 256).unwrap_or(0)),
        icmp_code: icmp.then(|| u8::try_from(dlo % 256).unwrap_or(0)),
        state: state_name(cube.dim(STATE).0),
        interface: if cube.dim(IIF).0 == 2 { interface(OIF) } else { interface(IIF) },
    }
}

/// Addresses no host would use as its own: unspecified, loopback, multicast, reserved.
fn special(family: u128, address: u128) -> bool {
    if family == V4 {
        let first = address >> 24;
        first == 0 || first == 127 || first >= 224
    } else {
        address <= 1 || address >> 120 == 0xff
    }
}

impl Packet {
    /// The packet as a point of the packet space, for looking up its verdict.
    pub fn point(&self, direction: Direction) -> [u128; DIMS] {
        let (family, source) = space::address(self.source);
        let (_, destination) = space::address(self.destination);
        let state = ["new", "established", "related", "invalid", "untracked"]
            .iter()
            .position(|s| *s == self.state)
            .unwrap_or(0);
        let dport = match (self.destination_port, self.icmp_type) {
            (Some(p), _) => u128::from(p),
            (None, Some(t)) => u128::from(t) * 256 + u128::from(self.icmp_code.unwrap_or(0)),
            _ => 0,
        };
        let interface = if self.interface == "lo" { space::LOOPBACK } else { space::OTHER };
        let (iif, oif) = if direction == Direction::In { (interface, space::NONE) } else { (space::NONE, interface) };
        let (sport, protocol) = (self.source_port.map_or(0, u128::from), self.protocol.into());
        [family, state as u128, iif, oif, source, destination, protocol, sport, dport]
    }

    /// `tcp 10.0.2.1:40000 -> 10.0.1.5:2379`.
    pub fn show(&self) -> String {
        let protocol = rules::protocol_name(self.protocol.into());
        let end = |a: &IpAddr, p: Option<u16>| match (a, p) {
            (IpAddr::V6(_), Some(p)) => format!("[{a}]:{p}"),
            (_, Some(p)) => format!("{a}:{p}"),
            _ => a.to_string(),
        };
        let mut text = format!(
            "{protocol} {} -> {}",
            end(&self.source, self.source_port),
            end(&self.destination, self.destination_port)
        );
        if let (Some(t), Some(c)) = (self.icmp_type, self.icmp_code) {
            text.push_str(&format!(" type {t} code {c}"));
        }
        if self.state != "new" {
            text.push_str(&format!(" ({})", self.state));
        }
        if self.interface == "lo" {
            text.push_str(" on lo");
        }
        text
    }
}
