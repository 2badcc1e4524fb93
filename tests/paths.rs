//! `portc paths` against a brute-force reference on random small programs: every sequence of
//! distinct nodes is tried in every configuration, with each configuration's hops read from the
//! `json` target's flows, and the paths, their hops' flows and where they exist must agree.

use std::collections::{BTreeMap, BTreeSet};

use portc::{MemoryLoader, Options, Root, Target};
use proptest::prelude::*;

const NODES: [&str; 5] = ["r0", "r1", "r2", "r3", "e0"];
const CONDITIONS: [&str; 6] = ["", " when f0", " when !f0", " when f1", " when f0 && f1", " when !f0 || !f1"];

/// A flow of a random program: endpoints, port, node-local or not, condition.
#[derive(Clone, Debug)]
struct Flow {
    from: usize,
    to: usize,
    port: u16,
    local: bool,
    condition: usize,
}

fn flows() -> impl Strategy<Value = Vec<Flow>> {
    let flow = (0..NODES.len(), 0..NODES.len(), 1u16..4, proptest::bool::weighted(0.15), 0..CONDITIONS.len())
        .prop_map(|(from, to, port, local, condition)| Flow { from, to, port, local, condition });
    proptest::collection::vec(flow, 0..20)
}

fn text(flows: &[Flow]) -> String {
    let mut out = String::from("flag f0 = false\nflag f1 = false\nrole r0 role r1 role r2 role r3\n");
    out.push_str("external e0 = 192.0.2.0/24\n");
    for f in flows {
        let local = if f.local { " local" } else { "" };
        out.push_str(&format!(
            "{} -> {} : tcp {}{local}{}\n",
            NODES[f.from], NODES[f.to], f.port, CONDITIONS[f.condition]
        ));
    }
    out
}

/// (protocol and port, line) of a flow that can carry a hop.
type HopFlow = (String, u32);

/// Per configuration, the hops that cross hosts: (from, to) -> flows, read from the json target.
fn hops_in(loader: &MemoryLoader, settings: &[String]) -> BTreeMap<(String, String), BTreeSet<HopFlow>> {
    let options = Options { target: Some(Target::Json), settings: settings.to_vec(), ..Options::default() };
    let outcome = portc::compile(&Root::File("site.ports".into()), loader, &options).expect("loads");
    let doc: serde_json::Value = serde_json::from_str(&outcome.output.expect("json")).expect("json");
    let mut hops: BTreeMap<(String, String), BTreeSet<HopFlow>> = BTreeMap::new();
    for flow in doc["flows"].as_array().expect("flows") {
        let (from, to) = (flow["from"].as_str().expect("from"), flow["to"].as_str().expect("to"));
        if flow["local"].as_bool() == Some(true) || from == to {
            continue;
        }
        let port = format!("tcp {}", flow["ports"]["start"]);
        let line = u32::try_from(flow["origin"]["line"].as_u64().expect("line")).expect("line");
        hops.entry((from.to_string(), to.to_string())).or_default().insert((port, line));
    }
    hops
}

/// A path as the reference and `portc::paths` both describe it: its nodes and per hop its flows.
type Described = (Vec<String>, Vec<BTreeSet<HopFlow>>);

/// Every simple path from `from` to `to` of at most `max_hops` hops through roles, in any of the
/// configurations; a hop's flows are those active in some configuration where the whole path is.
fn reference(
    configs: &[BTreeMap<(String, String), BTreeSet<HopFlow>>],
    from: &str,
    to: &str,
    max_hops: usize,
) -> BTreeSet<Described> {
    let roles: Vec<&str> = NODES.iter().copied().filter(|n| n.starts_with('r') && *n != from && *n != to).collect();
    let mut sequences: Vec<Vec<&str>> = vec![vec![from]];
    let mut found = BTreeSet::new();
    while let Some(prefix) = sequences.pop() {
        let mut whole = prefix.clone();
        whole.push(to);
        let mut hop_flows: Vec<BTreeSet<HopFlow>> = vec![BTreeSet::new(); whole.len() - 1];
        let mut exists = false;
        for hops in configs {
            let per_hop: Option<Vec<&BTreeSet<HopFlow>>> =
                whole.windows(2).map(|w| hops.get(&(w[0].to_string(), w[1].to_string()))).collect();
            if let Some(per_hop) = per_hop {
                exists = true;
                for (slot, flows) in hop_flows.iter_mut().zip(per_hop) {
                    slot.extend(flows.iter().cloned());
                }
            }
        }
        if exists {
            found.insert((whole.iter().map(|n| n.to_string()).collect(), hop_flows));
        }
        if prefix.len() < max_hops {
            for role in &roles {
                if !prefix.contains(role) {
                    let mut longer = prefix.clone();
                    longer.push(role);
                    sequences.push(longer);
                }
            }
        }
    }
    found
}

fn found(loader: &MemoryLoader, from: &str, to: &str, max_hops: usize) -> BTreeSet<Described> {
    let (_, checked) = portc::check_program(&Root::File("site.ports".into()), loader, &[]).expect("loads");
    let checked = checked.expect("checks");
    let program = &checked.graph().program;
    let query = portc::paths::Query {
        from: program.nodes_named(from).expect("from"),
        to: program.nodes_named(to).expect("to"),
        max_hops,
    };
    let paths = portc::paths::find(&checked, &query);
    let report = portc::paths::report(&checked, &query, &paths);
    report
        .paths
        .iter()
        .map(|p| {
            let hops = p
                .hops
                .iter()
                .map(|h| {
                    h.flows.iter().map(|f| (format!("tcp {}", f.ports.map_or(0, |p| p.start)), f.origin.line)).collect()
                })
                .collect();
            (p.nodes.clone(), hops)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn paths_match_a_brute_force_search(flows in flows(), from in 0..NODES.len(), to in 0..NODES.len(), max_hops in 1usize..5) {
        prop_assume!(from != to);
        let mut loader = MemoryLoader::default();
        loader.files.insert("site.ports".into(), text(&flows).into_bytes());
        let configs: Vec<_> = [(false, false), (false, true), (true, false), (true, true)]
            .iter()
            .map(|(a, b)| hops_in(&loader, &[format!("f0={a}"), format!("f1={b}")]))
            .collect();
        let expected = reference(&configs, NODES[from], NODES[to], max_hops);
        let got = found(&loader, NODES[from], NODES[to], max_hops);
        prop_assert_eq!(got, expected, "{}from {} to {} in {} hops", text(&flows), NODES[from], NODES[to], max_hops);
    }
}

#[test]
fn paths_are_listed_shortest_first_and_the_json_is_stable() {
    let text = "external internet = 0.0.0.0/0\nrole web role api role db\n\
                internet -> web : tcp 443\nweb -> api : tcp 8443\napi -> db : tcp 5432\nweb -> db : tcp 5432\n";
    let mut loader = MemoryLoader::default();
    loader.files.insert("site.ports".into(), text.as_bytes().to_vec());
    let (_, checked) = portc::check_program(&Root::File("site.ports".into()), &loader, &[]).expect("loads");
    let checked = checked.expect("checks");
    let program = &checked.graph().program;
    let query = |hops| portc::paths::Query {
        from: program.nodes_named("internet").expect("internet"),
        to: program.nodes_named("db").expect("db"),
        max_hops: hops,
    };
    let paths = portc::paths::find(&checked, &query(3));
    let report = portc::paths::report(&checked, &query(3), &paths);
    let routes: Vec<String> = report.paths.iter().map(|p| p.nodes.join(" -> ")).collect();
    assert_eq!(routes, ["internet -> web -> db", "internet -> web -> api -> db"]);
    assert_eq!(portc::paths::find(&checked, &query(2)).len(), 1);
    assert_eq!(
        report.json(),
        portc::paths::report(&checked, &query(3), &portc::paths::find(&checked, &query(3))).json()
    );
    let dot = portc::paths::dot(&checked, &query(3), &paths);
    assert!(dot.contains("\"web\" -> \"db\" [color=red"), "{dot}");
}
