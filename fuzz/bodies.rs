//! What each fuzz target does with one input, shared by the fuzz targets (`fuzz/fuzz_targets/`)
//! and by the corpus replay that `cargo test` runs (`tests/fuzz_replay.rs`).
//!
//! A body panics when it finds a defect: a panic inside portc, two parsers that disagree, output
//! that differs between two runs of one input, a printed program that does not parse, a
//! formatting that changes meaning or is not idempotent. Anything else an input does (errors,
//! warnings, nothing to build) is fine.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use portc::{MemoryLoader, Options, Root, Target};

/// The file name the input is checked under.
const ROOT: &str = "fuzz.ports";

fn loader(text: &[u8]) -> MemoryLoader {
    MemoryLoader { files: BTreeMap::from([(ROOT.to_string(), text.to_vec())]) }
}

/// bytes -> `check`: load, parse, resolve, graph and check, with the stdlib available, and render
/// the diagnostics both ways. Returns whether the input checked without an error.
pub fn check(bytes: &[u8]) -> bool {
    let loader = loader(bytes);
    let Ok(outcome) = portc::compile(&Root::File(ROOT.into()), &loader, &Options::default()) else {
        return false;
    };
    portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    portc::diag::render::json(&outcome.sources, &outcome.diagnostics);
    !outcome.has_errors()
}

/// The build options a few bits of the input choose, so that every option is fuzzed without a
/// run per combination.
fn variant(bytes: &[u8]) -> (bool, bool, bool) {
    let bits = bytes.iter().fold(0u8, |acc, b| acc.wrapping_mul(31).wrapping_add(*b));
    (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0)
}

/// bytes -> `build` for every target (the `targets` fuzz target), on inputs that check clean.
/// Each target is built twice and the outputs must be byte-identical; per-host targets are built
/// for every host role.
pub fn targets(bytes: &[u8]) {
    build_every_target(bytes, 2);
}

fn build_every_target(bytes: &[u8], runs: usize) {
    if !check(bytes) {
        return;
    }
    let loader = loader(bytes);
    let root = Root::File(ROOT.into());
    let (egress, allow_lockout, allow_lossy) = variant(bytes);
    for &target in Target::ALL {
        let options = Options { target: Some(target), egress, allow_lockout, allow_lossy, ..Options::default() };
        if target.per_host() {
            let every = |options: &Options| {
                let mut outputs = Vec::new();
                let outcome = portc::compile_every_host(&root, &loader, options, |host| {
                    outputs.push(format!("{}: {:?}", host.role, host.result));
                    Ok(())
                });
                (outcome.map(|o| o.diagnostics), outputs)
            };
            let outputs: Vec<String> = (0..runs).map(|_| format!("{:?}", every(&options))).collect();
            assert!(outputs.windows(2).all(|w| w.first() == w.last()), "{} differs between builds", target.name());
        } else {
            let once = || {
                portc::compile(&root, &loader, &options).map(|o| {
                    let rendered = portc::diag::render::human(&o.sources, &o.diagnostics, false);
                    (o.output, rendered)
                })
            };
            let outputs: Vec<String> = (0..runs).map(|_| format!("{:?}", once())).collect();
            assert!(outputs.windows(2).all(|w| w.first() == w.last()), "{} differs between builds", target.name());
        }
    }
}

/// The hand-written parser and pest agree on every input: the same syntax tree, spans and
/// diagnostics. Flows parsed later, one at a time (as `resolve` does), agree too.
pub fn parsers(bytes: &[u8]) {
    use portc::span::FileId;
    let text = String::from_utf8_lossy(bytes);
    let fast = portc::syntax::parse(FileId(0), &text);
    let pest = portc::syntax::parse_with_pest_only(FileId(0), &text);
    assert_eq!(format!("{fast:?}"), format!("{pest:?}"), "the two parsers disagree");
    let deferred = portc::syntax::parse_deferring_flows(FileId(0), &text);
    assert_eq!(format!("{:?}", deferred.diagnostics), format!("{:?}", fast.1), "deferring flows changes diagnostics");
    let flows: Vec<_> = fast
        .0
        .items
        .iter()
        .filter(|i| matches!(i, portc::ast::Item::Flow(_) | portc::ast::Item::Never(_)))
        .map(|i| format!("{i:?}"))
        .collect();
    let again: Vec<_> = deferred
        .flows
        .iter()
        .map(|&start| portc::syntax::flow_at(FileId(0), &text, start).map(|i| format!("{i:?}")).unwrap_or_default())
        .collect();
    assert_eq!(flows, again, "a flow parsed on its own differs");
}

/// The round trip through `portc fmt` (the `fmt` fuzz target): on a text that parses, formatting
/// never changes the program (which `fmt::format` checks itself, by parsing its result again,
/// and reports as a bug), and formatting the result again changes nothing.
pub fn fmt(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    match portc::fmt::format(&text) {
        Ok(once) => {
            let twice = portc::fmt::format(&once);
            assert!(matches!(&twice, Ok(t) if *t == once), "formatting is not idempotent: {twice:?}\n{once}");
        }
        Err(portc::fmt::Refused::Syntax(_)) => {}
        Err(portc::fmt::Refused::Bug(why)) => panic!("the formatter changed the meaning: {why}"),
    }
}

/// The site the `rulesets` target verifies rulesets against: a host with IPv4 and IPv6 addresses,
/// a management flow, a port range, ICMP and a cluster network, so that every part of a report
/// can occur.
const RULESETS_SITE: &str = r#"
role db "Database servers"
role web "Web servers"
external admins = 10.9.0.0/24 "Operators"
bind db = 10.0.1.5, fd00:1::5
bind web = 10.0.2.0/24, fd00:2::/64
admins -> db : tcp 22 "SSH" management
admins -> db : icmp "ping"
web -> db : tcp 5432, tcp 8000-8010 "PostgreSQL"
web -> db : udp 5353 "service discovery"
db -> admins : udp 514 "syslog"
"#;

/// bytes -> `portc verify` (the `rulesets` target): the input is a ruleset, read as `nft -j list
/// ruleset` output, `iptables-save` or `ip6tables-save` output as its first byte chooses, and
/// verified for the db host of a fixed site, with and without egress. Verifying twice gives the
/// same report; a ruleset it cannot read gives a diagnostic that renders.
pub fn rulesets(bytes: &[u8]) {
    use portc::verify::{Failure, Request, Source};
    let Some((&choice, rest)) = bytes.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let source = match choice % 3 {
        0 => Source::Nft(&text),
        1 => Source::Iptables(&text),
        _ => Source::Ip6tables(&text),
    };
    let loader = MemoryLoader { files: BTreeMap::from([(ROOT.to_string(), RULESETS_SITE.as_bytes().to_vec())]) };
    let root = Root::File(ROOT.into());
    let Ok((mut outcome, Some(checked))) = portc::check_program(&root, &loader, &[]) else {
        panic!("the rulesets target's site checks")
    };
    let request = Request { roles: vec!["db".to_string()], egress: choice & 4 != 0, ..Request::default() };
    let run = || portc::verify::verify(&checked, &request, &[source]);
    let show = |result: &Result<(portc::verify::Report, Vec<portc::diag::Diagnostic>), Failure>| match result {
        Ok((report, warnings)) => {
            let json = serde_json::to_string(report).expect("a report serialises");
            format!("{}\n{json}\n{warnings:?}", report.human())
        }
        Err(failure) => format!("{failure:?}"),
    };
    let first = run();
    assert_eq!(show(&first), show(&run()), "verify differs between two runs");
    if let Err(Failure::Unreadable(unreadable)) = &first {
        let diagnostic = unreadable.diagnostic(&mut outcome.sources, "ruleset", &source);
        portc::diag::render::human(&outcome.sources, std::slice::from_ref(&diagnostic), false);
        portc::diag::render::json(&outcome.sources, &[diagnostic]);
    }
}

/// A structured program, printed to text: the fuzzer spends its time past the parser. Built once
/// per target; the `targets` fuzz target is the one that compares two builds.
pub fn structured(program: &Program) {
    let text = program.to_text();
    let (_, diagnostics) = portc::syntax::parse(portc::span::FileId(0), &text);
    let syntax: Vec<_> = diagnostics.iter().filter(|d| d.code.as_str() == "E0001").collect();
    assert!(syntax.is_empty(), "a printed program does not parse: {syntax:?}\n{text}");
    fmt(text.as_bytes());
    build_every_target(text.as_bytes(), 1);
}

// ---------------------------------------------------------------- structured programs

/// A program as the fuzzer builds it: declarations and flows that refer to each other by index,
/// so most names resolve, and an index past the end gives a name nobody declared.
#[derive(Arbitrary, Debug)]
pub struct Program {
    uses: Vec<u8>,
    flags: Vec<(Option<bool>, bool)>,
    options: Vec<(u8, Option<u8>)>,
    params: Vec<Option<u16>>,
    roles: Vec<bool>,
    externals: Vec<Vec<Address>>,
    groups: Vec<Vec<u8>>,
    services: Vec<Spec>,
    notes: Vec<(Option<Cond>, bool)>,
    statements: Vec<Statement>,
}

#[derive(Arbitrary, Debug)]
enum Address {
    V4([u8; 4], Option<u8>),
    V6([u16; 8], Option<u8>),
}

#[derive(Arbitrary, Debug)]
enum Statement {
    Flow(Flow),
    Never(Flow),
    SetFlag(u8, bool),
    SetOption(u8, u8),
    SetParam(u8, u16),
    BindAddresses(u8, Vec<Address>),
    BindSelector(u8, bool, Vec<(u8, u8)>, Option<u8>),
}

#[derive(Arbitrary, Debug)]
struct Flow {
    from: Vec<Endpoint>,
    to: Vec<Endpoint>,
    specs: Vec<Spec>,
    modifiers: Modifiers,
    block: bool,
}

#[derive(Arbitrary, Debug)]
enum Endpoint {
    Own(u8),
    Stdlib(u8),
    SelfNode,
}

#[derive(Arbitrary, Debug)]
struct Modifiers {
    notes: Vec<u8>,
    when: Option<Cond>,
    local: bool,
    management: bool,
    label: Option<u8>,
}

#[derive(Arbitrary, Debug)]
enum Spec {
    Ported(Vec<PortedProtocol>, Vec<Port>, Modifiers),
    Portless(u8, Modifiers),
    Service(u8, Modifiers),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum PortedProtocol {
    Tcp,
    Udp,
    Sctp,
}

#[derive(Arbitrary, Debug)]
enum Port {
    One(u16),
    Range(u16, u16),
    Param(u8),
}

#[derive(Arbitrary, Debug)]
enum Cond {
    Flag(u8),
    Bool(bool),
    Is(u8, u8, bool),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

const PORTLESS: &[&str] = &["icmp", "icmpv6", "ipip", "gre", "esp", "ah", "vrrp"];
const LABEL_VALUES: &[&str] = &["true", "\"etcd\"", "worker", "\"node-role.kubernetes.io/etcd\"", "a.b/c", "\"\""];
const STRINGS: &[&str] = &["\"ssh\"", "\"a \\\"quoted\\\" word\"", "\"\\u{e9}t\\u{e9}\"", "\"\"", "\"tab\\there\""];
/// Conditions deeper than this are printed as `true`, so printing stays within the parser's limit.
const MAX_DEPTH: usize = 6;

/// The names the stdlib declares, per module: what a structured program can refer to after `use`.
fn stdlib_names() -> &'static [(&'static str, Vec<String>)] {
    static NAMES: OnceLock<Vec<(&'static str, Vec<String>)>> = OnceLock::new();
    NAMES.get_or_init(|| {
        portc::stdlib::modules()
            .map(|m| {
                let names = m
                    .text
                    .lines()
                    .filter_map(|line| {
                        let mut words = line.split_whitespace();
                        let keyword = words.next()?;
                        let name = words.next()?;
                        ["role", "external", "group"].contains(&keyword).then(|| name.to_string())
                    })
                    .collect();
                (m.name, names)
            })
            .collect()
    })
}

fn pick<T>(items: &[T], index: u8) -> Option<&T> {
    if items.is_empty() { None } else { items.get(usize::from(index) % items.len()) }
}

impl Program {
    /// The program as `.ports` text.
    pub fn to_text(&self) -> String {
        let mut out = String::from("module fuzz \"a fuzzed site\"\n");
        let stdlib = stdlib_names();
        let used: Vec<&(&str, Vec<String>)> = self.uses.iter().take(2).filter_map(|&i| pick(stdlib, i)).collect();
        for (name, _) in &used {
            let _ = writeln!(out, "use {name}");
        }
        for (i, (default, described)) in self.flags.iter().enumerate() {
            let _ = write!(out, "flag f{i}");
            if *described {
                out.push_str(" \"a flag\"");
            }
            if let Some(value) = default {
                let _ = write!(out, " = {value}");
            }
            out.push('\n');
        }
        for (i, (choices, default)) in self.options.iter().enumerate() {
            let count = usize::from(choices % 4) + 1;
            let list: Vec<String> = (0..count).map(|c| format!("c{c}")).collect();
            let _ = write!(out, "option o{i} = {}", list.join(" | "));
            if let Some(default) = default {
                let _ = write!(out, " = c{}", usize::from(*default) % (count + 1));
            }
            out.push('\n');
        }
        for (i, default) in self.params.iter().enumerate() {
            let _ = write!(out, "param p{i}");
            if let Some(port) = default {
                let _ = write!(out, " = {}", port.max(&1));
            }
            out.push('\n');
        }
        for (i, described) in self.roles.iter().enumerate() {
            let _ = writeln!(out, "role r{i}{}", if *described { " \"a role\"" } else { "" });
        }
        for (i, addresses) in self.externals.iter().enumerate() {
            let _ = write!(out, "external x{i}");
            if !addresses.is_empty() {
                let _ =
                    write!(out, " = {}", addresses.iter().take(4).map(Address::to_text).collect::<Vec<_>>().join(", "));
            }
            out.push('\n');
        }
        let own = self.roles.len() + self.externals.len();
        let own_name = |i: u8| -> String {
            let i = usize::from(i) % (own + 1);
            if i < self.roles.len() {
                format!("r{i}")
            } else if i < own {
                format!("x{}", i - self.roles.len())
            } else {
                "undeclared".into()
            }
        };
        for (i, members) in self.groups.iter().enumerate() {
            let list: Vec<String> = members.iter().take(6).map(|&m| own_name(m)).collect();
            if !list.is_empty() {
                let _ = writeln!(out, "group g{i} = {}", list.join(" | "));
            }
        }
        let context = Context { program: self, used: &used };
        for (i, spec) in self.services.iter().enumerate() {
            // A service is one spec without modifiers or service references.
            let mut text = String::new();
            context.spec_head(spec, &mut text, false);
            if !text.is_empty() {
                let _ = writeln!(out, "service s{i} = {text}");
            }
        }
        for (i, (condition, local)) in self.notes.iter().enumerate() {
            let _ = write!(out, "note {} \"note {}\"", i + 1, i + 1);
            if let Some(condition) = condition {
                let _ = write!(out, " when {}", context.cond(condition, 0));
            }
            if *local {
                out.push_str(" local");
            }
            out.push('\n');
        }
        for statement in &self.statements {
            context.statement(statement, &mut out);
            out.push('\n');
        }
        out
    }
}

impl Address {
    fn to_text(&self) -> String {
        match self {
            Address::V4(octets, prefix) => {
                let address = std::net::Ipv4Addr::from(*octets);
                prefix.map_or_else(|| address.to_string(), |p| format!("{address}/{}", p % 33))
            }
            Address::V6(segments, prefix) => {
                let address = std::net::Ipv6Addr::from(*segments);
                prefix.map_or_else(|| address.to_string(), |p| format!("{address}/{}", p % 129))
            }
        }
    }
}

struct Context<'a> {
    program: &'a Program,
    used: &'a [&'a (&'a str, Vec<String>)],
}

impl Context<'_> {
    fn statement(&self, statement: &Statement, out: &mut String) {
        let p = self.program;
        match statement {
            Statement::Flow(flow) => self.flow(flow, out),
            Statement::Never(flow) => {
                out.push_str("never ");
                self.flow(flow, out);
            }
            Statement::SetFlag(i, value) => {
                if !p.flags.is_empty() {
                    let _ = write!(out, "set f{} = {value}", usize::from(*i) % p.flags.len());
                }
            }
            Statement::SetOption(i, choice) => {
                if let Some((choices, _)) = pick(&p.options, *i) {
                    let index = usize::from(*i) % p.options.len();
                    let _ = write!(out, "set o{index} = c{}", usize::from(*choice) % (usize::from(choices % 4) + 2));
                }
            }
            Statement::SetParam(i, value) => {
                if !p.params.is_empty() {
                    let _ = write!(out, "set p{} = {}", usize::from(*i) % p.params.len(), value.max(&1));
                }
            }
            Statement::BindAddresses(i, addresses) => {
                if let (Some(name), false) = (self.endpoint_name(&Endpoint::Own(*i)), addresses.is_empty()) {
                    let list: Vec<String> = addresses.iter().take(4).map(Address::to_text).collect();
                    let _ = write!(out, "bind {name} = {}", list.join(", "));
                }
            }
            Statement::BindSelector(i, pods, labels, namespace) => {
                if let Some(name) = self.endpoint_name(&Endpoint::Own(*i)) {
                    let labels: Vec<String> = labels
                        .iter()
                        .take(3)
                        .filter_map(|&(k, v)| Some(format!("{}: {}", pick(LABEL_VALUES, k)?, pick(LABEL_VALUES, v)?)))
                        .collect();
                    let _ = write!(
                        out,
                        "bind {name} = {} {{ {} }}",
                        if *pods { "pods" } else { "nodes" },
                        labels.join(", ")
                    );
                    if let (Some(ns), true) = (namespace, *pods) {
                        let _ = write!(out, " in namespace \"ns{}\"", ns % 3);
                    }
                }
            }
        }
    }

    fn endpoint_name(&self, endpoint: &Endpoint) -> Option<String> {
        let p = self.program;
        let own = p.roles.len() + p.externals.len() + p.groups.len();
        match endpoint {
            Endpoint::SelfNode => Some("self".into()),
            Endpoint::Own(i) => {
                let i = usize::from(*i) % (own + 1);
                Some(if i < p.roles.len() {
                    format!("r{i}")
                } else if i < p.roles.len() + p.externals.len() {
                    format!("x{}", i - p.roles.len())
                } else if i < own {
                    format!("g{}", i - p.roles.len() - p.externals.len())
                } else {
                    "undeclared".into()
                })
            }
            Endpoint::Stdlib(i) => {
                let names: Vec<&String> = self.used.iter().flat_map(|(_, names)| names).collect();
                pick(&names, *i).map(|n| (*n).clone())
            }
        }
    }

    fn flow(&self, flow: &Flow, out: &mut String) {
        let side = |endpoints: &[Endpoint]| -> String {
            let names: Vec<String> = endpoints.iter().take(4).filter_map(|e| self.endpoint_name(e)).collect();
            if names.is_empty() { "r0".into() } else { names.join(" | ") }
        };
        let mut specs: Vec<String> = Vec::new();
        for spec in flow.specs.iter().take(6) {
            let mut text = String::new();
            self.spec_head(spec, &mut text, true);
            if !text.is_empty() {
                let modifiers = match spec {
                    Spec::Ported(_, _, m) | Spec::Portless(_, m) | Spec::Service(_, m) => m,
                };
                self.modifiers(modifiers, &mut text);
                specs.push(text);
            }
        }
        if specs.is_empty() {
            specs.push("tcp 22".into());
        }
        let _ = write!(out, "{} -> {}", side(&flow.from), side(&flow.to));
        if flow.block {
            let mut modifiers = String::new();
            self.modifiers(&flow.modifiers, &mut modifiers);
            let _ = write!(out, "{modifiers} {{\n  {}\n}}", specs.join("\n  "));
        } else {
            let _ = write!(out, " : {}", specs.join(", "));
        }
    }

    /// A spec without its modifiers; empty when the program has nothing to refer to.
    fn spec_head(&self, spec: &Spec, out: &mut String, services: bool) {
        let p = self.program;
        match spec {
            Spec::Ported(protocols, ports, _) => {
                let mut names: Vec<&str> = protocols
                    .iter()
                    .take(3)
                    .map(|p| match p {
                        PortedProtocol::Tcp => "tcp",
                        PortedProtocol::Udp => "udp",
                        PortedProtocol::Sctp => "sctp",
                    })
                    .collect();
                names.dedup();
                if names.is_empty() {
                    names.push("tcp");
                }
                out.push_str(&names.join("/"));
                let list: Vec<String> = ports
                    .iter()
                    .take(5)
                    .filter_map(|port| match port {
                        Port::One(n) => Some(n.max(&1).to_string()),
                        Port::Range(a, b) => {
                            let (low, high) = ((*a).min(*b).max(1), (*a).max(*b).max(1));
                            Some(format!("{low}-{high}"))
                        }
                        Port::Param(i) => {
                            (!p.params.is_empty()).then(|| format!("p{}", usize::from(*i) % p.params.len()))
                        }
                    })
                    .collect();
                if !list.is_empty() {
                    let _ = write!(out, " {}", list.join(", "));
                }
            }
            Spec::Portless(i, _) => out.push_str(pick(PORTLESS, *i).copied().unwrap_or("icmp")),
            Spec::Service(i, _) => {
                if services && !p.services.is_empty() {
                    let _ = write!(out, "s{}", usize::from(*i) % p.services.len());
                }
            }
        }
    }

    fn modifiers(&self, modifiers: &Modifiers, out: &mut String) {
        let notes: Vec<String> = modifiers
            .notes
            .iter()
            .take(3)
            .map(|&n| (usize::from(n) % (self.program.notes.len() + 1) + 1).to_string())
            .collect();
        if !notes.is_empty() {
            let _ = write!(out, " [{}]", notes.join(", "));
        }
        if let Some(condition) = &modifiers.when {
            let _ = write!(out, " when {}", self.cond(condition, 0));
        }
        if modifiers.local {
            out.push_str(" local");
        }
        if modifiers.management {
            out.push_str(" management");
        }
        if let Some(label) = modifiers.label.and_then(|l| pick(STRINGS, l)) {
            let _ = write!(out, " {label}");
        }
    }

    fn cond(&self, cond: &Cond, depth: usize) -> String {
        let p = self.program;
        if depth > MAX_DEPTH {
            return "true".into();
        }
        match cond {
            Cond::Bool(value) => value.to_string(),
            Cond::Flag(i) => {
                if p.flags.is_empty() {
                    "undeclared_flag".into()
                } else {
                    format!("f{}", usize::from(*i) % p.flags.len())
                }
            }
            Cond::Is(i, choice, equal) => {
                let option = if p.options.is_empty() { 0 } else { usize::from(*i) % p.options.len() };
                format!("o{option} {} c{}", if *equal { "==" } else { "!=" }, choice % 5)
            }
            Cond::Not(inner) => format!("!{}", self.cond(inner, depth + 1)),
            Cond::And(parts) | Cond::Or(parts) => {
                let joiner = if matches!(cond, Cond::And(_)) { " && " } else { " || " };
                let parts: Vec<String> = parts.iter().take(4).map(|c| self.cond(c, depth + 1)).collect();
                if parts.is_empty() { "false".into() } else { format!("({})", parts.join(joiner)) }
            }
        }
    }
}
