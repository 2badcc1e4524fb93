//! `portc verify`: does a live host firewall do what the policy says? It reads a ruleset as
//! `nft -j list ruleset` or `iptables-save` print it, evaluates it symbolically for the
//! packets a host of the given roles receives (and, with egress, sends), and compares the
//! verdicts with what the node model (`lower::host`) says the host must accept. docs/verify.md
//! describes the semantics.
//!
//! Stages: `nft`/`iptables` read text into `rules::Ruleset`; `expect` builds the packets to
//! follow and what the policy declares, as boxes (`space`); `eval` walks the ruleset; `outcome`
//! settles one verdict per packet; `report` compares and renders.

mod eval;
mod expect;
mod index;
mod iptables;
mod nft;
mod nft_match;
mod nft_show;
mod outcome;
pub mod report;
mod rules;
mod space;
pub mod synth;

use std::fmt::Write as _;

use serde::Serialize;

use crate::check::Checked;
use crate::diag::{Code, Diagnostic, SourceMap};
use crate::hir::{NodeId, NodeKind, Program};
use crate::lower::TargetOptions;
use crate::span::Span;

pub use eval::Direction;
pub use report::{Packet, Section, Status};

/// A ruleset as a tool printed it.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// `nft -j list ruleset`.
    Nft(&'a str),
    /// `iptables-save` (IPv4).
    Iptables(&'a str),
    /// `ip6tables-save` (IPv6).
    Ip6tables(&'a str),
    /// `ipset save`: the members of the sets that `-m set` matches in the iptables rulesets.
    Ipset(&'a str),
}

/// What to verify.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The roles the host holds.
    pub roles: Vec<String>,
    /// The host's own addresses; when empty, the roles' bound addresses.
    pub addresses: Vec<ipnet::IpNet>,
    /// Verify what the host sends too.
    pub egress: bool,
}

/// Why there is no report.
#[derive(Debug)]
pub enum Failure {
    /// The policy cannot say what the host must accept (E0301, E0302, ...).
    Diagnostics(Vec<Diagnostic>),
    /// The request cannot be met.
    Usage(String),
    /// A ruleset is not what the tool named prints (`Unreadable::diagnostic` says where and why).
    Unreadable(Unreadable),
}

/// Why a reader refused a ruleset's text, and on which line (1-based) when it can tell.
#[derive(Debug)]
pub struct ReadError {
    pub line: Option<usize>,
    pub message: String,
}

impl ReadError {
    fn at(line: usize, message: impl Into<String>) -> ReadError {
        ReadError { line: Some(line), message: message.into() }
    }
}

/// A ruleset that verify cannot read at all: `sources[source]` of the call.
#[derive(Debug)]
pub struct Unreadable {
    pub source: usize,
    pub error: ReadError,
}

impl Unreadable {
    /// The error as a diagnostic (E0401) on the ruleset's text, which it adds to `map` as `name`.
    pub fn diagnostic(&self, map: &mut SourceMap, name: &str, source: &Source) -> Diagnostic {
        let (text, tool, help) = match source {
            Source::Nft(text) => (
                text,
                "nft -j list ruleset",
                "verify reads the JSON that `nft -j list ruleset` prints (mind the `-j`): \
                 `nft -j list ruleset > ruleset.json`, then `--nft ruleset.json`; `iptables-save` output \
                 goes to `--iptables`",
            ),
            Source::Iptables(text) => (
                text,
                "iptables-save",
                "verify reads what `iptables-save` prints, unchanged: `iptables-save > rules.v4`, \
                 then `--iptables rules.v4`; IPv6 rules go to `--ip6tables`, and an nftables ruleset to \
                 `--nft` as `nft -j list ruleset` prints it",
            ),
            Source::Ip6tables(text) => (
                text,
                "ip6tables-save",
                "verify reads what `ip6tables-save` prints, unchanged: `ip6tables-save > rules.v6`, \
                 then `--ip6tables rules.v6`; IPv4 rules go to `--iptables`",
            ),
            Source::Ipset(text) => (
                text,
                "ipset save",
                "verify reads what `ipset save` prints, unchanged: `ipset save > sets`, then `--ipset sets`",
            ),
        };
        let file = map.add(name, *text);
        let (start, end) = self.error.line.map_or((0, 0), |line| line_bytes(text, line));
        let span = Span::new(file, start, end);
        let label = if self.error.line.is_some() { "here" } else { "in this file" };
        let mut diagnostic = Diagnostic::new(
            Code::UnreadableRuleset,
            format!("`{name}` cannot be read as `{tool}` output: {}", self.error.message),
            span,
            label,
        );
        diagnostic.help = Some(help.to_string());
        diagnostic
    }
}

/// Where a line (1-based) of `text` starts and ends, without its line break.
fn line_bytes(text: &str, line: usize) -> (usize, usize) {
    let mut start = 0;
    for (number, content) in text.split_inclusive('\n').enumerate() {
        if number + 1 == line {
            return (start, start + content.trim_end_matches(['\n', '\r']).len());
        }
        start += content.len();
    }
    (text.len(), text.len())
}

/// The result of verifying one host's ruleset.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The version of this document's format.
    pub format: u32,
    pub status: Status,
    pub roles: Vec<String>,
    /// The host's addresses verify used.
    pub addresses: Vec<String>,
    pub sections: Vec<Section>,
    /// Parts of the rulesets verify could not read, and families no ruleset covers.
    pub unread: Vec<Unread>,
    #[serde(skip)]
    outcomes: Vec<(Direction, outcome::Outcome)>,
}

/// Something verify could not read.
#[derive(Clone, Debug, Serialize)]
pub struct Unread {
    pub at: String,
    pub why: String,
}

/// The verdict verify gives one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Dropped,
    Unknown,
    /// Not among the packets verify follows (another destination, a family without addresses).
    Outside,
}

/// Verifies `sources` (together, one host's rulesets) against what `checked` says a host of
/// `request.roles` must accept. Also returns the node model's warnings.
pub fn verify(checked: &Checked, request: &Request, sources: &[Source]) -> Result<(Report, Vec<Diagnostic>), Failure> {
    let program = &checked.graph().program;
    let names = program.node_names();
    let roles = roles(program, &request.roles)?;
    let options =
        TargetOptions { roles: roles.clone(), egress: request.egress, allow_lockout: true, allow_lossy: false };
    let (host, warnings) = crate::lower::host::host(checked, &options).map_err(Failure::Diagnostics)?;
    let nets: Vec<ipnet::IpNet> = if request.addresses.is_empty() {
        roles.iter().filter_map(|r| program.nodes.get(r.index())).flat_map(|n| n.addresses.iter().copied()).collect()
    } else {
        request.addresses.clone()
    };
    if nets.is_empty() {
        return Err(Failure::Usage(format!(
            "`{}` has no addresses, and verify needs the host's own: pass them with --address (`--address 10.0.1.5`)",
            request.roles.join(", ")
        )));
    }
    let mut addresses = addresses(program, &host, &nets);
    let (ruleset, covered) = read(sources, &addresses.fib)?;
    let mut unread: Vec<Unread> =
        ruleset.unread.iter().map(|(at, why)| Unread { at: at.clone(), why: why.clone() }).collect();
    for (family, name, tool) in [(space::V4, "IPv4", "iptables-save"), (space::V6, "IPv6", "ip6tables-save")] {
        let has = !expect_of(&addresses.host, family).is_empty();
        if has && !covered.contains(&family) {
            unread.push(Unread {
                at: name.to_string(),
                why: format!(
                    "no ruleset covers it (give `nft -j list ruleset` or {tool} output): its traffic is not verified"
                ),
            });
            clear(&mut addresses, family);
        }
    }
    let mut sections = Vec::new();
    let mut outcomes = Vec::new();
    let sides = [(Direction::In, Some(&host.inbound)), (Direction::Out, host.outbound.as_ref())];
    for (direction, side) in sides.into_iter().filter_map(|(d, s)| s.map(|s| (d, s))) {
        let expectation = expect::expectation(program, &names, &host, side, direction, &addresses);
        let parts = expectation.followed.iter().map(|c| eval::Part::new(*c)).collect();
        let outcome = outcome::Outcome::resolve(eval::run(&ruleset, direction, parts));
        let inputs =
            report::Inputs { ruleset: &ruleset, expectation: &expectation, outcome: &outcome, addresses: &addresses };
        sections.push(report::section(&inputs));
        outcomes.push((direction, outcome));
    }
    let mut status = sections.iter().map(|s| s.status).max().unwrap_or(Status::Conforms);
    if status == Status::Conforms && !unread.is_empty() {
        status = Status::Unknown;
    }
    let report = Report {
        format: 1,
        status,
        roles: request.roles.clone(),
        addresses: nets.iter().map(ToString::to_string).collect(),
        sections,
        unread,
        outcomes,
    };
    Ok((report, warnings))
}

/// The host's addresses, the pods and Services when its firewall accepts pods to Services, and
/// what `fib` calls local.
fn addresses(program: &Program, host: &crate::lower::host::Host, nets: &[ipnet::IpNet]) -> expect::Addresses {
    let mut own = rules::Local::default();
    push(&mut own, nets);
    let (mut pods, mut services) = (rules::Local::default(), rules::Local::default());
    if let Some(pod_cidr) = host.cluster.pods.filter(|p| host.inbound.peers.contains_key(p)) {
        let addresses = program.nodes.get(pod_cidr.index()).map(|n| n.addresses.clone()).unwrap_or_default();
        if !host.cluster.services.is_empty() {
            push(&mut pods, &addresses);
            push(&mut services, &host.cluster.services);
        }
    }
    let mut fib = own.clone();
    fib.v4.extend(services.v4.iter().copied());
    fib.v6.extend(services.v6.iter().copied());
    let loopback: [ipnet::IpNet; 2] = [
        ipnet::IpNet::V4(ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(127, 0, 0, 0), 8).unwrap_or_default()),
        ipnet::IpNet::V6(ipnet::Ipv6Net::new(std::net::Ipv6Addr::LOCALHOST, 128).unwrap_or_default()),
    ];
    push(&mut fib, &loopback);
    expect::Addresses { host: own, pods, services, fib }
}

/// Adds prefixes to a set of intervals, kept sorted and merged.
fn push(local: &mut rules::Local, nets: &[ipnet::IpNet]) {
    for net in nets {
        let (family, lo, hi) = space::prefix(&net.trunc());
        if family == space::V4 { local.v4.push((lo, hi)) } else { local.v6.push((lo, hi)) }
    }
    for list in [&mut local.v4, &mut local.v6] {
        list.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::new();
        for (lo, hi) in list.drain(..) {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        *list = merged;
    }
}

fn expect_of(local: &rules::Local, family: u128) -> &[(u128, u128)] {
    if family == space::V4 { &local.v4 } else { &local.v6 }
}

/// Leaves a family out of what is verified.
fn clear(addresses: &mut expect::Addresses, family: u128) {
    for local in [&mut addresses.host, &mut addresses.pods, &mut addresses.services, &mut addresses.fib] {
        if family == space::V4 { local.v4.clear() } else { local.v6.clear() }
    }
}

/// The role ids of `names`; an external has no host firewall.
fn roles(program: &Program, names: &[String]) -> Result<Vec<NodeId>, Failure> {
    let mut out = Vec::new();
    for name in names {
        for node in program.nodes_named(name).map_err(Failure::Usage)? {
            if program.nodes.get(node.index()).is_some_and(|n| n.kind != NodeKind::Role) {
                return Err(Failure::Usage(format!("`{name}` is an external, not a role: it has no host firewall")));
            }
            out.push(node);
        }
    }
    if out.is_empty() {
        return Err(Failure::Usage("verify needs the role(s) of the host: --role ROLE".to_string()));
    }
    Ok(out)
}

/// Reads every source into one ruleset; also returns the families the sources cover.
fn read(sources: &[Source], fib: &rules::Local) -> Result<(rules::Ruleset, Vec<u128>), Failure> {
    let mut ruleset = rules::Ruleset::default();
    let mut covered = Vec::new();
    // Tables that iptables-save gives replace nft's view of them (iptables-nft keeps them there).
    let replaced: Vec<String> = sources
        .iter()
        .flat_map(|s| match s {
            Source::Iptables(text) => iptables::tables(text, space::V4),
            Source::Ip6tables(text) => iptables::tables(text, space::V6),
            Source::Nft(_) | Source::Ipset(_) => Vec::new(),
        })
        .collect();
    let mut sets = iptables::IpSets::default();
    for (index, source) in sources.iter().enumerate() {
        if let Source::Ipset(text) = source {
            sets = iptables::ipsets(text).map_err(|error| Failure::Unreadable(Unreadable { source: index, error }))?;
        }
    }
    for (index, source) in sources.iter().enumerate() {
        let result = match source {
            Source::Nft(text) => {
                covered.extend([space::V4, space::V6]);
                nft::read(text, fib, &replaced, &mut ruleset)
            }
            Source::Iptables(text) => {
                covered.push(space::V4);
                iptables::read(text, space::V4, fib, &sets, &mut ruleset)
            }
            Source::Ip6tables(text) => {
                covered.push(space::V6);
                iptables::read(text, space::V6, fib, &sets, &mut ruleset)
            }
            Source::Ipset(_) => Ok(()),
        };
        result.map_err(|error| Failure::Unreadable(Unreadable { source: index, error }))?;
    }
    Ok((ruleset, covered))
}

impl Report {
    /// The verdict of one packet, for checking verify against the kernel.
    pub fn verdict(&self, packet: &Packet, direction: Direction) -> Verdict {
        let Some((_, outcome)) = self.outcomes.iter().find(|(d, _)| *d == direction) else { return Verdict::Outside };
        match outcome.verdict(&packet.point(direction)) {
            outcome::Verdict::Accepted(_) => Verdict::Accepted,
            outcome::Verdict::Dropped(_) => Verdict::Dropped,
            outcome::Verdict::Unknown(_) => Verdict::Unknown,
            outcome::Verdict::Outside => Verdict::Outside,
        }
    }

    /// The report as people read it.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "host: role {}, addresses {}", self.roles.join(", "), self.addresses.join(", "));
        for unread in &self.unread {
            let _ = writeln!(out, "not read: {}: {}", unread.at, unread.why);
        }
        for section in &self.sections {
            human_section(section, &mut out);
        }
        let _ = writeln!(
            out,
            "\n{}",
            match self.status {
                Status::Conforms => "conforms: the ruleset accepts exactly what the policy declares",
                Status::Differs => "does not conform",
                Status::Unknown => "cannot tell: what verify cannot model decides part of the traffic",
            }
        );
        out
    }
}

fn human_section(section: &Section, out: &mut String) {
    let status = match section.status {
        Status::Conforms => "conforms",
        Status::Differs => "does not conform",
        Status::Unknown => "cannot tell",
    };
    let _ = writeln!(
        out,
        "\n{}: {status} ({} missing, {} excess, {} unknown)",
        section.direction,
        section.missing.len(),
        section.excess.len(),
        section.unknown.len()
    );
    let groups = [
        ("missing: declared traffic the ruleset drops", &section.missing, "dropped by"),
        ("excess: traffic the ruleset accepts that no flow declares", &section.excess, "accepted by"),
        ("unknown: traffic whose verdict depends on what verify cannot model", &section.unknown, "decided by"),
    ];
    for (title, findings, verb) in groups {
        if findings.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n  {title}");
        for finding in findings {
            human_finding(finding, verb, out);
        }
    }
    let _ = writeln!(out, "\n  baseline: what portc's own rulesets always accept (not counted)");
    for item in &section.baseline {
        let by: Vec<String> = item.by.iter().map(show_ref).collect();
        let by = if by.is_empty() { String::new() } else { format!(", by {}", by.join("; ")) };
        let _ = writeln!(out, "    {:<15} {}{by}", item.verdict, item.what);
    }
}

fn human_finding(finding: &report::Finding, verb: &str, out: &mut String) {
    let _ = writeln!(out, "    {}", finding.what);
    for why in &finding.declared_by {
        let _ = writeln!(out, "        declared by   {why}");
    }
    for by in &finding.by {
        let _ = writeln!(out, "        {verb:<13} {}", show_ref(by));
    }
    for (i, packets) in finding.packets.iter().take(report::MAX_RANGES).enumerate() {
        let _ = writeln!(out, "        {:<13} {packets}", if i == 0 { "packets" } else { "" });
    }
    let more = finding.packets.len().saturating_sub(report::MAX_RANGES);
    if more > 0 {
        let _ = writeln!(out, "        {:<13} and {more} more ranges (--format json lists them all)", "");
    }
    let _ = writeln!(out, "        {:<13} {}", "for example", finding.example.show());
}

fn show_ref(by: &report::RuleRef) -> String {
    let mut text = by.at.clone();
    if !by.rule.is_empty() {
        text.push_str(&format!(": {}", by.rule));
    }
    if let Some(construct) = &by.construct {
        text.push_str(&format!(" [{construct}]"));
    }
    text
}
