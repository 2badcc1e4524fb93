//! `portc diff` against references: a program compared with itself is empty, `diff B A` mirrors
//! `diff A B`, and the differences are exactly the set differences of the two sides' `json` flows,
//! in the build's configuration and, configuration by configuration, across all of them; for random
//! programs and for every pair of stdlib editions of one vendor table.

#![allow(clippy::disallowed_methods)] // The test lists the repository's examples.

use std::collections::{BTreeMap, BTreeSet};

use portc::diff::{Change, Configurations, Diff, Request};
use portc::{MemoryLoader, Options, Root, SourceLoader, Target};
use proptest::prelude::*;

/// A permission at one port: (from, to, local, protocol, port); port 0 for protocols without ports.
type Point = (String, String, bool, String, u16);

/// A side of a comparison: where it is and the settings it is compiled with.
struct Side<'a> {
    root: Root,
    loader: &'a dyn SourceLoader,
}

fn checked(side: &Side<'_>, settings: &[String]) -> portc::diff::Checking {
    let checking = portc::diff::check_side(&side.root, side.loader, settings).expect("the root loads");
    if checking.outcome.has_errors() || checking.checked.is_none() {
        let text = portc::diag::render::human(&checking.outcome.sources, &checking.outcome.diagnostics, false);
        panic!("{:?} does not compile:\n{text}", side.root);
    }
    checking
}

fn diff(old: &Side<'_>, new: &Side<'_>, settings: &[String], configurations: Configurations) -> Diff {
    let (a, b) = (checked(old, settings), checked(new, settings));
    let request = Request { configurations, renames: Vec::new(), any_source: false };
    portc::diff::diff(&a.input("old").expect("old"), &b.input("new").expect("new"), &request)
        .expect("no renames to refuse")
}

/// The `json` target's flows as points, in the build's configuration given by `settings`
/// (of which only those the side declares are applied).
fn json_points(side: &Side<'_>, settings: &[String]) -> BTreeSet<Point> {
    let applied = checked(side, settings).applied;
    let options = Options { target: Some(Target::Json), settings: applied, ..Options::default() };
    let outcome = portc::compile(&side.root, side.loader, &options).expect("loads");
    let text = outcome.output.expect("json output");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut points = BTreeSet::new();
    for flow in doc["flows"].as_array().expect("flows") {
        assert!(flow["condition"].is_null(), "an undecided flow in a build: {flow}");
        let (start, end) = match flow["ports"].as_object() {
            Some(p) => (p["start"].as_u64().expect("start"), p["end"].as_u64().expect("end")),
            None => (0, 0),
        };
        for port in start..=end {
            let port = u16::try_from(port).expect("a port");
            points.insert(point(&flow["from"], &flow["to"], flow["local"].as_bool(), &flow["protocol"], port));
        }
    }
    points
}

fn point(
    from: &serde_json::Value,
    to: &serde_json::Value,
    local: Option<bool>,
    p: &serde_json::Value,
    port: u16,
) -> Point {
    let text = |v: &serde_json::Value| v.as_str().expect("a string").to_string();
    (text(from), text(to), local.expect("local"), text(p), port)
}

/// The points of the differences that `pick` selects.
fn diff_points(diff: &Diff, pick: impl Fn(&portc::diff::Difference) -> bool) -> BTreeSet<Point> {
    let mut points = BTreeSet::new();
    for d in diff.differences.iter().filter(|d| pick(d)) {
        let (start, end) = d.ports.map_or((0, 0), |p| (p.start, p.end));
        for port in start..=end {
            points.insert((d.from.to_string(), d.to.to_string(), d.local, d.protocol.to_string(), port));
        }
    }
    points
}

/// `diff B A` as `diff A B` would read with its sides swapped.
fn mirrored(diff: &Diff) -> (Vec<portc::diff::Difference>, Vec<portc::diff::NodeChange>) {
    let differences = diff
        .differences
        .iter()
        .map(|d| {
            let mut m = d.clone();
            m.change = match d.change {
                Change::Removed => Change::Added,
                Change::Added => Change::Removed,
                Change::Changed => Change::Changed,
            };
            std::mem::swap(&mut m.old, &mut m.new);
            std::mem::swap(&mut m.only_old, &mut m.only_new);
            m
        })
        .collect();
    let nodes = diff
        .nodes
        .iter()
        .map(|n| portc::diff::NodeChange { name: n.name.clone(), old: n.new.clone(), new: n.old.clone() })
        .collect();
    (differences, nodes)
}

/// The properties that need no configuration: A against A is empty, B against A mirrors A against B.
fn assert_symmetric(a: &Side<'_>, b: &Side<'_>, settings: &[String], configurations: Configurations, name: &str) {
    assert!(diff(a, a, settings, configurations).is_empty(), "{name}: OLD against itself differs");
    let forward = diff(a, b, settings, configurations);
    let backward = diff(b, a, settings, configurations);
    assert_eq!(mirrored(&forward), (backward.differences, backward.nodes), "{name}: diff B A is not diff A B mirrored");
}

/// In the build's configuration, the differences are the set differences of the json flows, and
/// nothing is merely changed.
fn assert_build_matches_json(a: &Side<'_>, b: &Side<'_>, settings: &[String], name: &str) {
    let d = diff(a, b, settings, Configurations::Build);
    let (old, new) = (json_points(a, settings), json_points(b, settings));
    let removed: BTreeSet<Point> = old.difference(&new).cloned().collect();
    let added: BTreeSet<Point> = new.difference(&old).cloned().collect();
    assert_eq!(diff_points(&d, |d| d.change == Change::Removed), removed, "{name}: removed");
    assert_eq!(diff_points(&d, |d| d.change == Change::Added), added, "{name}: added");
    assert!(d.differences.iter().all(|d| d.change != Change::Changed), "{name}: a build has no conditions");
}

// ---------------------------------------------------------------- random programs

/// A random program over a shared vocabulary: flags `f0`, `f1` and, on some sides, `f2`; an
/// option `o = x | y | z`; roles `r0`..`r3`, an external `e0` and a group `g`; flows with random
/// endpoints, protocols, ports, conditions and notes.
#[derive(Clone, Debug)]
struct Program {
    has_f2: bool,
    defaults: [bool; 3],
    option_default: usize,
    flows: Vec<Flow>,
}

#[derive(Clone, Debug)]
struct Flow {
    from: usize,
    to: usize,
    protocol: usize,
    ports: Vec<(u16, u16)>,
    condition: Option<Condition>,
    notes: Vec<usize>,
}

#[derive(Clone, Debug)]
enum Condition {
    Flag(usize, bool),
    Choice(usize, bool),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

const FROM: [&str; 6] = ["r0", "r1", "r2", "r3", "e0", "g"];
const TO: [&str; 7] = ["r0", "r1", "r2", "r3", "e0", "g", "self"];
const PROTOCOLS: [&str; 4] = ["tcp", "udp", "tcp/udp", "icmp"];
const CHOICES: [&str; 3] = ["x", "y", "z"];

fn condition() -> impl Strategy<Value = Condition> {
    let leaf = prop_oneof![
        (0usize..3, any::<bool>()).prop_map(|(f, v)| Condition::Flag(f, v)),
        (0usize..3, any::<bool>()).prop_map(|(c, v)| Condition::Choice(c, v)),
    ];
    leaf.prop_recursive(2, 4, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Condition::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Condition::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn ports() -> impl Strategy<Value = Vec<(u16, u16)>> {
    let item = (1u16..24, 0u16..6).prop_map(|(start, len)| (start, (start + len).min(24)));
    proptest::collection::vec(item, 1..3)
}

fn flow() -> impl Strategy<Value = Flow> {
    (
        0..FROM.len(),
        0..TO.len(),
        0..PROTOCOLS.len(),
        ports(),
        proptest::option::of(condition()),
        proptest::collection::vec(1usize..3, 0..2),
    )
        .prop_map(|(from, to, protocol, ports, condition, notes)| Flow {
            from,
            to,
            protocol,
            ports,
            condition,
            notes,
        })
}

fn program() -> impl Strategy<Value = Program> {
    (any::<bool>(), any::<[bool; 3]>(), 0usize..3, proptest::collection::vec(flow(), 0..7))
        .prop_map(|(has_f2, defaults, option_default, flows)| Program { has_f2, defaults, option_default, flows })
}

impl Condition {
    fn text(&self, has_f2: bool) -> String {
        match self {
            // Without f2, its atoms read f0, so that the program still compiles.
            Condition::Flag(f, v) => {
                let f = if *f == 2 && !has_f2 { 0 } else { *f };
                format!("{}f{f}", if *v { "" } else { "!" })
            }
            Condition::Choice(c, v) => format!("o {} {}", if *v { "==" } else { "!=" }, CHOICES[*c]),
            Condition::And(a, b) => format!("({} && {})", a.text(has_f2), b.text(has_f2)),
            Condition::Or(a, b) => format!("({} || {})", a.text(has_f2), b.text(has_f2)),
        }
    }
}

impl Program {
    fn text(&self) -> String {
        let mut out = String::new();
        for f in 0..3 {
            if f < 2 || self.has_f2 {
                out.push_str(&format!("flag f{f} = {}\n", self.defaults[f]));
            }
        }
        out.push_str(&format!("option o = x | y | z = {}\n", CHOICES[self.option_default]));
        out.push_str("role r0\nrole r1\nrole r2\nrole r3\nexternal e0 = 192.0.2.0/24\ngroup g = r0 | r1\n");
        out.push_str("note 1 \"only with f1\" when f1\nnote 2 \"node-local\" local\n");
        for flow in &self.flows {
            let to = if flow.from >= 4 && flow.to == 6 { "r2" } else { TO[flow.to] };
            let ported = PROTOCOLS[flow.protocol] != "icmp";
            let ports: Vec<String> =
                flow.ports.iter().map(|(s, e)| if s == e { s.to_string() } else { format!("{s}-{e}") }).collect();
            let ports = if ported { format!(" {}", ports.join(", ")) } else { String::new() };
            let notes: Vec<String> = flow.notes.iter().map(ToString::to_string).collect();
            let notes = if notes.is_empty() { String::new() } else { format!(" [{}]", notes.join(",")) };
            let when = flow.condition.as_ref().map(|c| format!(" when {}", c.text(self.has_f2))).unwrap_or_default();
            out.push_str(&format!("{} -> {to} : {}{ports}{notes}{when}\n", FROM[flow.from], PROTOCOLS[flow.protocol]));
        }
        out
    }

    /// Every configuration of the switches both programs may declare, as `--set`s.
    fn configurations() -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for bits in 0..8u8 {
            for choice in CHOICES {
                let mut settings: Vec<String> = (0..3).map(|f| format!("f{f}={}", bits >> f & 1 == 1)).collect();
                settings.push(format!("o={choice}"));
                out.push(settings);
            }
        }
        out
    }
}

fn loader(old: &Program, new: &Program) -> MemoryLoader {
    let mut loader = MemoryLoader::default();
    loader.files.insert("old.ports".into(), old.text().into_bytes());
    loader.files.insert("new.ports".into(), new.text().into_bytes());
    loader
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_mirror_and_match_their_builds(a in program(), b in program()) {
        let loader = loader(&a, &b);
        let old = Side { root: Root::File("old.ports".into()), loader: &loader };
        let new = Side { root: Root::File("new.ports".into()), loader: &loader };
        let name = format!("OLD:\n{}\nNEW:\n{}", a.text(), b.text());
        assert_symmetric(&old, &new, &[], Configurations::Every, &name);
        assert_symmetric(&old, &new, &[], Configurations::Build, &name);
        assert_build_matches_json(&old, &new, &[], &name);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Across configurations: a point is only in OLD somewhere exactly when some configuration's
    /// OLD build has it and NEW's does not; and each configuration's build diff is its json's.
    #[test]
    fn every_configuration_is_the_union_of_the_builds(a in program(), b in program()) {
        let loader = loader(&a, &b);
        let old = Side { root: Root::File("old.ports".into()), loader: &loader };
        let new = Side { root: Root::File("new.ports".into()), loader: &loader };
        let name = format!("OLD:\n{}\nNEW:\n{}", a.text(), b.text());
        let (mut only_old, mut only_new) = (BTreeSet::new(), BTreeSet::new());
        for settings in Program::configurations() {
            let (o, n) = (json_points(&old, &settings), json_points(&new, &settings));
            only_old.extend(o.difference(&n).cloned());
            only_new.extend(n.difference(&o).cloned());
            assert_build_matches_json(&old, &new, &settings, &format!("{name}with {settings:?}"));
        }
        let every = diff(&old, &new, &[], Configurations::Every);
        prop_assert_eq!(diff_points(&every, |d| d.only_old.is_some()), only_old, "{}", name);
        prop_assert_eq!(diff_points(&every, |d| d.only_new.is_some()), only_new, "{}", name);
    }
}

// ---------------------------------------------------------------- the stdlib's editions

/// The stdlib modules that transcribe one table in several editions of a document.
const EDITIONS: &[&[&str]] = &[
    &["rancher.v2_0.downstream.custom", "rancher.v2_4.downstream.custom", "rancher.downstream.custom"],
    &["rancher.v2_0.downstream.node_pools", "rancher.v2_4.downstream.node_pools", "rancher.downstream.node_pools"],
    &["rancher.v2_0.downstream.hosted", "rancher.v2_4.downstream.hosted", "rancher.downstream.hosted"],
    &["rancher.v2_0.downstream.imported", "rancher.v2_4.downstream.imported", "rancher.downstream.registered"],
    &["rancher.v2_0.server", "rancher.v2_4.server.rke", "rancher.server.rke"],
    &["rancher.v2_4.server.k3s", "rancher.server.k3s"],
    &["rancher.v2_4.server.docker", "rancher.server.docker"],
    &["rancher.v2_0.common_ports", "rancher.v2_4.common", "rancher.common"],
    &["rancher.v2_0.aws_security_group", "rancher.v2_4.aws_sg", "rancher.aws_sg"],
    &["rancher.v2_4.suse", "rancher.suse"],
];

/// Settings that give each of the modules' params without a default a port, and each undecided
/// switch a value, so that the build has one configuration.
fn build_settings(modules: &[&str]) -> Vec<String> {
    let mut settings = BTreeMap::new();
    for module in modules {
        let mut map = portc::diag::SourceMap::default();
        let root = Root::Module(module.to_string());
        let (program, _) = portc::resolve::resolve(&root, &portc::FsLoader, "", &mut map).expect("loads");
        for (i, (param, value)) in program.params.iter().zip(&program.config.params).enumerate() {
            if value.is_none() {
                settings.entry(param.name.clone()).or_insert_with(|| format!("{}={}", param.name, 60001 + i));
            }
        }
        for (flag, value) in program.flags.iter().zip(&program.config.flags) {
            if value.is_none() {
                settings.entry(flag.name.clone()).or_insert_with(|| format!("{}=false", flag.name));
            }
        }
        for (option, value) in program.options.iter().zip(&program.config.options) {
            if let (None, Some(first)) = (value, option.choices.first()) {
                settings.entry(option.name.clone()).or_insert_with(|| format!("{}={first}", option.name));
            }
        }
    }
    settings.into_values().collect()
}

#[test]
fn stdlib_editions_mirror_and_match_their_builds() {
    let mut pairs = 0;
    for table in EDITIONS {
        let settings = build_settings(table);
        for (i, a) in table.iter().enumerate() {
            for b in table.iter().skip(i + 1) {
                let old = Side { root: Root::Module(a.to_string()), loader: &portc::FsLoader };
                let new = Side { root: Root::Module(b.to_string()), loader: &portc::FsLoader };
                let name = format!("{a} -> {b}");
                assert_symmetric(&old, &new, &settings, Configurations::Every, &name);
                assert_symmetric(&old, &new, &settings, Configurations::Build, &name);
                assert_build_matches_json(&old, &new, &settings, &name);
                assert_build_matches_json(&new, &old, &settings, &name);
                pairs += 1;
            }
        }
    }
    assert_eq!(pairs, 24);
}

#[test]
fn every_stdlib_module_and_example_equals_itself() {
    let mut sides: Vec<Root> = portc::stdlib::modules().map(|m| Root::Module(m.name.to_string())).collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("examples")).expect("examples").flatten() {
        sides.push(Root::File(entry.path().to_string_lossy().into_owned()));
    }
    for root in sides {
        let settings = match &root {
            Root::Module(name) => build_settings(&[name]),
            Root::File(_) => Vec::new(),
        };
        let side = Side { root, loader: &portc::FsLoader };
        for configurations in [Configurations::Every, Configurations::Build] {
            assert!(diff(&side, &side, &settings, configurations).is_empty(), "{:?} differs from itself", side.root);
        }
    }
}

// ---------------------------------------------------------------- cases

fn pair(old: &str, new: &str) -> MemoryLoader {
    let mut loader = MemoryLoader::default();
    loader.files.insert("old.ports".into(), old.as_bytes().to_vec());
    loader.files.insert("new.ports".into(), new.as_bytes().to_vec());
    loader
}

fn diff_texts(old: &str, new: &str, configurations: Configurations, renames: &[(&str, &str)]) -> Diff {
    let loader = pair(old, new);
    let side = |name: &str| checked(&Side { root: Root::File(name.into()), loader: &loader }, &[]);
    let (a, b) = (side("old.ports"), side("new.ports"));
    let renames = renames.iter().map(|(o, n)| (o.to_string(), n.to_string())).collect();
    portc::diff::diff(
        &a.input("old").expect("old"),
        &b.input("new").expect("new"),
        &Request { configurations, renames, any_source: false },
    )
    .expect("renames are known")
}

/// (change, traffic) of every difference, for short assertions.
fn summary(diff: &Diff) -> Vec<(Change, String)> {
    diff.differences
        .iter()
        .map(|d| {
            let ports = d.ports.map_or(String::new(), |p| format!(" {}-{}", p.start, p.end));
            (d.change, format!("{} -> {} {}{ports}", d.from, d.to, d.protocol))
        })
        .collect()
}

#[test]
fn a_range_against_single_ports_gives_exact_intervals() {
    let d = diff_texts(
        "role a role b\na -> b : tcp 1-1024\n",
        "role a role b\na -> b : tcp 22, 80\n",
        Configurations::Every,
        &[],
    );
    let removed = |range: &str| (Change::Removed, format!("a -> b tcp {range}"));
    assert_eq!(summary(&d), [removed("1-21"), removed("23-79"), removed("81-1024")]);
}

#[test]
fn a_flow_written_otherwise_is_the_same_flow() {
    let old = "role a role b role c\na -> b : tcp 80\na -> c : tcp 80\nb -> c : udp 53\n";
    let new = "role a role b role c\ngroup g = b | c\nservice dns = udp 53\na -> g : tcp 80\nb -> c : dns\n";
    assert!(diff_texts(old, new, Configurations::Every, &[]).is_empty());
}

#[test]
fn a_note_that_now_applies_changes_the_condition() {
    let old = "flag external_lb = false\nrole etcd role rancher\netcd -> rancher : tcp 443 \"Rancher agent\"\n";
    let new = "flag external_lb = false\nrole etcd role rancher\n\
               note 3 \"Only without an external load balancer\" when !external_lb\n\
               etcd -> rancher : tcp 443 [3] \"Rancher agent\"\n";
    let d = diff_texts(old, new, Configurations::Every, &[]);
    let [only] = d.differences.as_slice() else { panic!("one difference: {d:?}") };
    assert_eq!(only.change, Change::Changed);
    assert_eq!((&*only.old.condition, &*only.new.condition), ("true", "!external_lb"));
    let when = only.only_old.as_ref().expect("only OLD somewhere");
    assert_eq!(when.example, "external_lb = true");
    assert!(only.only_new.is_none());
    assert_eq!(
        only.new.flows.first().map(|f| f.notes.clone()),
        Some(vec!["[3] Only without an external load balancer".into()])
    );
    assert_eq!(only.new.flows.first().map(|f| f.line), Some(4));
    // The build uses the default, external_lb = false, under which both allow it.
    assert!(diff_texts(old, new, Configurations::Build, &[]).is_empty());
}

#[test]
fn a_switch_of_one_side_is_unconstrained_on_the_other() {
    let old = "role a role b\na -> b : tcp 80\n";
    let new = "flag tls = false\nrole a role b\na -> b : tcp 80 when !tls\na -> b : tcp 443 when tls\n";
    let d = diff_texts(old, new, Configurations::Every, &[]);
    let changes: Vec<(Change, Option<String>, Option<String>)> = d
        .differences
        .iter()
        .map(|d| {
            (d.change, d.only_old.as_ref().map(|w| w.example.clone()), d.only_new.as_ref().map(|w| w.example.clone()))
        })
        .collect();
    assert_eq!(
        changes,
        [(Change::Changed, Some("tls = true".into()), None), (Change::Added, None, Some("tls = true".into()))]
    );
    let tls = d.switches.iter().find(|s| s.name == "tls").expect("tls is listed");
    assert_eq!(tls.declared, portc::diff::switches::Presence::New);
}

#[test]
fn options_match_by_name_and_their_choices_unite() {
    let old = "option cni = canal | flannel\nrole n\nn -> n : udp 8472 when cni == canal || cni == flannel\n";
    let new = "option cni = canal | calico\nrole n\nn -> n : udp 8472 when cni == canal\nn -> n : tcp 179 when cni == calico\n";
    let d = diff_texts(old, new, Configurations::Every, &[]);
    let udp = d.differences.iter().find(|d| d.protocol == "udp").expect("8472 changed");
    assert_eq!(udp.change, Change::Changed);
    assert_eq!(udp.only_old.as_ref().map(|w| w.example.as_str()), Some("cni = flannel"));
    let cni = d.switches.iter().find(|s| s.name == "cni").expect("cni");
    assert_eq!(cni.choices, ["canal", "flannel", "calico"]);
}

#[test]
fn the_set_that_changes_a_flow_is_cited() {
    let module = "option cni = canal | calico = canal\nparam api = 6443\nrole n\n\
                  n -> n : udp 8472 when cni == canal\nn -> n : tcp 179 when cni == calico\nn -> n : tcp api\n";
    let old = format!("{module}set cni = canal\n");
    let new = format!("{module}set cni = calico\nset api = 443\n");
    let d = diff_texts(&old, &new, Configurations::Every, &[]);
    let sets = |d: &portc::diff::Difference| {
        let text = |a: &portc::diff::Allowance| {
            a.settings
                .iter()
                .map(|s| s.origin.as_ref().map_or(String::new(), |p| format!("{}:{}", p.line, p.text)))
                .collect::<Vec<_>>()
        };
        (text(&d.old), text(&d.new))
    };
    let by_port: BTreeMap<u16, (Vec<String>, Vec<String>)> =
        d.differences.iter().map(|x| (x.ports.map_or(0, |p| p.start), sets(x))).collect();
    let cni = (vec!["7:set cni = canal".to_string()], vec!["7:set cni = calico".to_string()]);
    assert_eq!(by_port.get(&8472), Some(&cni));
    assert_eq!(by_port.get(&179), Some(&cni));
    // A param is a port, not a configuration: its default is cited on the side that does not set it.
    let api = (vec!["2:param api = 6443".to_string()], vec!["8:set api = 443".to_string()]);
    assert_eq!(by_port.get(&443), Some(&api));
    assert_eq!(by_port.get(&6443), Some(&api));
}

#[test]
fn renamed_roles_are_matched() {
    let old = "role lb role web\nlb -> web : tcp 80\n";
    let new = "role ingress role web\ningress -> web : tcp 80\n";
    assert_eq!(diff_texts(old, new, Configurations::Every, &[]).differences.len(), 2);
    assert!(diff_texts(old, new, Configurations::Every, &[("lb", "ingress")]).is_empty());
}

#[test]
fn renames_of_unknown_or_clashing_names_are_refused() {
    let loader = pair("role a role b\na -> b : tcp 1\n", "role a role b\na -> b : tcp 1\n");
    let side = |name: &str| checked(&Side { root: Root::File(name.into()), loader: &loader }, &[]);
    let (a, b) = (side("old.ports"), side("new.ports"));
    let request = |renames: &[(&str, &str)]| Request {
        configurations: Configurations::Every,
        renames: renames.iter().map(|(o, n)| (o.to_string(), n.to_string())).collect(),
        any_source: false,
    };
    let unknown =
        portc::diff::diff(&a.input("old").expect("old"), &b.input("new").expect("new"), &request(&[("c", "d")]))
            .expect_err("unknown");
    assert!(unknown.contains("no role, external, flag or option named `c`"), "{unknown}");
    let clash =
        portc::diff::diff(&a.input("old").expect("old"), &b.input("new").expect("new"), &request(&[("a", "b")]))
            .expect_err("clash");
    assert!(clash.contains("two of OLD's roles or externals the name `b`"), "{clash}");
}

#[test]
fn renamed_switches_are_matched() {
    let old = "flag hosted = false\nrole a role b\na -> b : tcp 6443 when hosted\n";
    let new = "flag registered_hosted = false\nrole a role b\na -> b : tcp 6443 when registered_hosted\n";
    assert_eq!(diff_texts(old, new, Configurations::Every, &[]).differences.len(), 1);
    assert!(diff_texts(old, new, Configurations::Every, &[("hosted", "registered_hosted")]).is_empty());
}

#[test]
fn any_source_compares_what_each_destination_accepts() {
    let old = "external clients role a role b\nclients -> b : tcp 80, 443\n";
    let new = "role a role b\na -> b : tcp 443, 8443\n";
    let loader = pair(old, new);
    let side = |name: &str| checked(&Side { root: Root::File(name.into()), loader: &loader }, &[]);
    let (a, b) = (side("old.ports"), side("new.ports"));
    let request = Request { configurations: Configurations::Every, renames: Vec::new(), any_source: true };
    let d = portc::diff::diff(&a.input("old").expect("old"), &b.input("new").expect("new"), &request).expect("diff");
    let ports = |d: &portc::diff::Difference| d.ports.map(|p| p.start);
    let got: Vec<(&str, &str, Change, Option<u16>)> =
        d.differences.iter().map(|x| (&*x.from, &*x.to, x.change, ports(x))).collect();
    assert_eq!(got, [("*", "b", Change::Removed, Some(80)), ("*", "b", Change::Added, Some(8443))]);
}

#[test]
fn rebound_nodes_are_differences() {
    let old = "role a external e = 10.0.0.0/24\ne -> a : tcp 22\n";
    let new = "role a external e = 10.0.0.0/16\ne -> a : tcp 22\n";
    let d = diff_texts(old, new, Configurations::Every, &[]);
    assert!(d.differences.is_empty() && !d.is_empty());
    let [node] = d.nodes.as_slice() else { panic!("one node: {:?}", d.nodes) };
    assert_eq!(
        (node.old.addresses.clone(), node.new.addresses.clone()),
        (vec!["10.0.0.0/24".into()], vec!["10.0.0.0/16".into()])
    );
}

#[test]
fn node_local_traffic_is_not_traffic_between_nodes() {
    let old = "role n\nn -> self : tcp 9099\n";
    let new = "role n\nn -> n : tcp 9099\n";
    let d = diff_texts(old, new, Configurations::Every, &[]);
    let kinds: Vec<(bool, Change)> = d.differences.iter().map(|d| (d.local, d.change)).collect();
    assert_eq!(kinds, [(false, Change::Added), (true, Change::Removed)]);
}

#[test]
fn outputs_are_deterministic() {
    let old = Side { root: Root::Module("rancher.v2_4.downstream.hosted".into()), loader: &portc::FsLoader };
    let new = Side { root: Root::Module("rancher.downstream.hosted".into()), loader: &portc::FsLoader };
    let settings = build_settings(&["rancher.v2_4.downstream.hosted", "rancher.downstream.hosted"]);
    let first = diff(&old, &new, &settings, Configurations::Every);
    let again = diff(&old, &new, &settings, Configurations::Every);
    assert!(!first.is_empty());
    assert_eq!(first.json(), again.json());
    assert_eq!(first.human(), again.human());
    assert_eq!(first.markdown(), again.markdown());
}
