//! The Kubernetes targets, judged by real tools: every manifest reads back into its typed
//! structs with nothing left over, `kubernetes-validate --strict` accepts the NetworkPolicies, and
//! IBM's network-config-analyzer proves (tests/kubernetes/connectivity.py) that the policies allow
//! exactly the declared flows, both ways.

#![allow(clippy::disallowed_methods)] // Tests write the manifests for the outside tools to read.

mod support;

use support::{Need, Test};

#[path = "kubernetes/calico_validator.rs"]
mod calico_validator;

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use portc::lower::calico::GlobalNetworkPolicy;
use portc::{FsLoader, MemoryLoader, Options, Root, SourceLoader, Target};

/// A site and how to build it.
struct Case {
    name: String,
    root: Root,
    loader: Box<dyn SourceLoader>,
    target: Target,
    egress: bool,
    settings: Vec<String>,
}

impl Case {
    fn file(path: &str, target: Target, egress: bool) -> Case {
        Case {
            name: format!("{path} ({}{})", target.name(), if egress { ", egress" } else { "" }),
            root: Root::File(path.to_string()),
            loader: Box::new(FsLoader),
            target,
            egress,
            settings: Vec::new(),
        }
    }

    fn build(&self, target: Target) -> portc::Outcome {
        let egress = self.egress && matches!(target, Target::NetworkPolicy | Target::Calico);
        let options = Options { target: Some(target), egress, settings: self.settings.clone(), ..Options::default() };
        let outcome = portc::compile(&self.root, self.loader.as_ref(), &options)
            .unwrap_or_else(|e| panic!("{}: {}", self.name, e.0));
        let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
        assert!(outcome.output.is_some(), "{}: no {} output:\n{rendered}", self.name, target.name());
        outcome
    }
}

fn main() -> std::process::ExitCode {
    support::run(vec![
        Test::new("manifests_read_back_into_their_types", &[], manifests_read_back_into_their_types),
        Test::new("unknown_fields_are_refused", &[], unknown_fields_are_refused),
        Test::new("output_is_byte_identical_across_builds", &[], output_is_byte_identical_across_builds),
        Test::new(
            "kubernetes_validate_accepts_every_networkpolicy",
            &[Need::Tool("kubernetes-validate")],
            kubernetes_validate_accepts_every_networkpolicy,
        ),
        Test::new(
            "networkpolicies_allow_exactly_the_declared_flows",
            &[Need::Tool("nca")],
            networkpolicies_allow_exactly_the_declared_flows,
        ),
        Test::new(
            "calico_policies_allow_exactly_the_declared_flows",
            &[Need::Tool("nca")],
            calico_policies_allow_exactly_the_declared_flows,
        ),
        Test::new(
            "the_analysis_fails_on_a_policy_that_allows_too_much",
            &[Need::Tool("nca")],
            the_analysis_fails_on_a_policy_that_allows_too_much,
        ),
        Test::new("lossy_flows_become_comments_with_allow_lossy", &[], lossy_flows_become_comments_with_allow_lossy),
        Test::new("calico_accepts_every_policy_we_build", &[], calico_accepts_every_policy_we_build),
        Test::new(
            "the_calico_validator_refuses_what_calico_refuses",
            &[],
            the_calico_validator_refuses_what_calico_refuses,
        ),
    ])
}

fn networkpolicy_cases() -> Vec<Case> {
    vec![
        Case::file("examples/three-tier-site.ports", Target::NetworkPolicy, false),
        Case::file("examples/three-tier-site.ports", Target::NetworkPolicy, true),
        Case::file("examples/kubernetes-site.ports", Target::NetworkPolicy, false),
        Case::file("examples/kubernetes-site.ports", Target::NetworkPolicy, true),
    ]
}

fn calico_cases() -> Vec<Case> {
    vec![
        Case::file("examples/rancher-custom-site.ports", Target::Calico, false),
        Case::file("examples/rancher-custom-site.ports", Target::Calico, true),
        Case::file("examples/kubernetes-site.ports", Target::Calico, false),
        stdlib_site("kubernetes"),
        stdlib_site("dce5.calico"),
    ]
}

/// A site that uses a stdlib module as a cluster would: every role also bound to the nodes
/// labelled with its name (`support::stdlib_site` settles the rest).
fn stdlib_site(module: &str) -> Case {
    let (loader, settings) = support::stdlib_site(module, |node| {
        let role = node.kind == portc::hir::NodeKind::Role && node.selector.is_none();
        if role {
            format!("bind {module}.{0} = nodes {{ \"portc.test/role\": \"{0}\" }}\n", node.name)
        } else {
            String::new()
        }
    });
    Case {
        name: format!("a site using {module} (calico)"),
        root: Root::File("site.ports".into()),
        loader: Box::new(loader),
        target: Target::Calico,
        egress: false,
        settings,
    }
}

/// Whether a stdlib module's program has a role.
fn declares_a_role(module: &str) -> bool {
    let mut map = portc::diag::SourceMap::default();
    let root = Root::Module(module.to_string());
    let (program, _) = portc::resolve::resolve(&root, &FsLoader, "", &mut map).expect("loads");
    program.nodes.iter().any(|n| n.kind == portc::hir::NodeKind::Role)
}

/// A YAML document as plain data, for comparison.
fn value(yaml: &str) -> serde_json::Value {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("not YAML: {e}\n{yaml}"))
}

/// Reading the document into `T` and writing it back gives the same data: no field is unknown
/// to the type, none is lost, none changes.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(case: &str, yaml: &str) {
    let original = value(yaml);
    let typed: T = serde_json::from_value(original.clone())
        .unwrap_or_else(|e| panic!("{case}: does not read back into its type: {e}\n{yaml}"));
    let again = serde_json::to_value(&typed).expect("serialises");
    assert_eq!(again, original, "{case}: changes when read back into its type:\n{yaml}");
}

fn manifests_read_back_into_their_types() {
    let mut checked = 0;
    for case in networkpolicy_cases() {
        for document in case.build(Target::NetworkPolicy).documents {
            round_trip::<NetworkPolicy>(&case.name, &document.text);
            checked += 1;
        }
    }
    let mut cases = calico_cases();
    // Every module with a role to bind; `kubernetes.cluster` only names two networks.
    cases.extend(portc::stdlib::modules().filter(|m| declares_a_role(m.name)).map(|m| stdlib_site(m.name)));
    for case in cases {
        for document in case.build(Target::Calico).documents {
            round_trip::<GlobalNetworkPolicy>(&case.name, &document.text);
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} manifests checked");
}

fn unknown_fields_are_refused() {
    let case = &calico_cases()[0];
    let text = case.build(Target::Calico).output.expect("built");
    let document = text.split("---\n").find(|d| d.contains("kind: GlobalNetworkPolicy")).expect("a policy");
    let bad = document.replacen("  order:", "  ordre:", 1);
    let parsed: Result<GlobalNetworkPolicy, _> = serde_json::from_value(value(&bad));
    assert!(parsed.is_err(), "a misspelt field was accepted");
}

fn output_is_byte_identical_across_builds() {
    for case in networkpolicy_cases().into_iter().chain(calico_cases()) {
        let first = case.build(case.target).output;
        assert_eq!(first, case.build(case.target).output, "{}", case.name);
    }
}

/// Writes a case's output and its json flow graph into a fresh directory.
fn write_case(case: &Case, dir: &Path) -> (PathBuf, PathBuf) {
    let policies = dir.join("policies.yaml");
    let flows = dir.join("flows.json");
    std::fs::write(&policies, case.build(case.target).output.expect("built")).expect("writes");
    std::fs::write(&flows, case.build(Target::Json).output.expect("built")).expect("writes");
    (policies, flows)
}

/// Where a command is on PATH.
fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|p| p.is_file())
}

fn kubernetes_validate_accepts_every_networkpolicy() {
    for case in networkpolicy_cases() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (policies, _) = write_case(&case, dir.path());
        let run = Command::new("kubernetes-validate")
            .args(["--strict", "--kubernetes-version", "1.33.0"])
            .arg(&policies)
            .output()
            .expect("kubernetes-validate runs");
        let report = String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{}: kubernetes-validate refuses it:\n{report}", case.name);
        assert!(report.contains("passed"), "{}: kubernetes-validate checked nothing:\n{report}", case.name);
    }
}

/// Runs tests/kubernetes/connectivity.py on a case; `Err` is its report of the differences.
fn analyse(case: &Case) -> Result<String, String> {
    let nca = which("nca").expect("nca is on PATH");
    // The analyser's own interpreter, which has its modules.
    let python = nca.parent().map(|d| d.join("python3")).filter(|p| p.is_file()).unwrap_or_else(|| "python3".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let (policies, flows) = write_case(case, dir.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kubernetes/connectivity.py");
    let mut command = Command::new(python);
    command.arg(script).arg("--flows").arg(&flows).arg("--policies").arg(&policies);
    command.args(["--target", case.target.name()]).arg("--nca").arg(&nca);
    if case.egress {
        command.arg("--egress");
    }
    let run = command.output().expect("python3 runs");
    let report = String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    if run.status.success() { Ok(report) } else { Err(report) }
}

/// Every case's policies allow exactly its declared flows, as nca computes them.
fn prove(cases: Vec<Case>) {
    for case in cases {
        match analyse(&case) {
            Ok(report) => eprint!("{}: {report}", case.name),
            Err(report) => panic!("{}:\n{report}", case.name),
        }
    }
}

fn networkpolicies_allow_exactly_the_declared_flows() {
    prove(networkpolicy_cases());
}

fn calico_policies_allow_exactly_the_declared_flows() {
    prove(calico_cases());
}

fn the_analysis_fails_on_a_policy_that_allows_too_much() {
    // A site whose policy is built from a file with one flow more than the json it is judged by.
    let declared = "role web\nrole db\nbind web = pods { app: web } in namespace shop\n\
                    bind db = pods { app: db } in namespace shop\nweb -> db : tcp 5432\n";
    let built = format!("{declared}web -> db : tcp 6432\n");
    let dir = tempfile::tempdir().expect("temp dir");
    let site = |text: &str| {
        let mut loader = MemoryLoader::default();
        loader.files.insert("site.ports".into(), text.as_bytes().to_vec());
        loader
    };
    let case = |text: &str| Case {
        name: "site".into(),
        root: Root::File("site.ports".into()),
        loader: Box::new(site(text)),
        target: Target::NetworkPolicy,
        egress: false,
        settings: Vec::new(),
    };
    let (policies, flows) = write_case(&case(declared), dir.path());
    std::fs::write(&policies, case(&built).build(Target::NetworkPolicy).output.expect("built")).expect("writes");
    let nca = which("nca").expect("nca is on PATH");
    let python = nca.parent().map(|d| d.join("python3")).filter(|p| p.is_file()).unwrap_or_else(|| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kubernetes/connectivity.py");
    let run = Command::new(python)
        .arg(script)
        .arg("--flows")
        .arg(&flows)
        .arg("--policies")
        .arg(&policies)
        .args(["--target", "networkpolicy"])
        .arg("--nca")
        .arg(&nca)
        .output()
        .expect("runs");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(!run.status.success(), "the analysis accepted a policy with an undeclared port:\n{report}");
    assert!(report.contains("allowed but not declared: tcp 6432"), "{report}");
}

fn lossy_flows_become_comments_with_allow_lossy() {
    let text = "role api\nrole probe\nbind api = pods { app: api } in namespace shop\n\
                bind probe = pods { app: probe } in namespace shop\n\
                probe -> api : tcp 8080 \"HTTP\"\nprobe -> api : icmp \"ping\"\n";
    let mut loader = MemoryLoader::default();
    loader.files.insert("site.ports".into(), text.as_bytes().to_vec());
    let root = Root::File("site.ports".into());
    let options = Options { target: Some(Target::NetworkPolicy), ..Options::default() };
    let strict = portc::compile(&root, &loader, &options).expect("loads");
    assert!(strict.output.is_none() && strict.has_errors(), "an ICMP flow was silently dropped");
    let lossy = portc::compile(&root, &loader, &Options { allow_lossy: true, ..options }).expect("loads");
    let output = lossy.output.expect("built with --allow-lossy");
    assert!(output.contains("# Left out with --allow-lossy") && output.contains("icmp from probe to api"), "{output}");
    assert!(lossy.diagnostics.iter().any(|d| d.code.as_str() == "W0303"));
}

/// Every Calico document of every case as data, with the case's name.
fn calico_documents() -> Vec<(String, serde_json::Value)> {
    let mut cases = calico_cases();
    cases.extend(portc::stdlib::modules().filter(|m| declares_a_role(m.name)).map(|m| stdlib_site(m.name)));
    let mut out = Vec::new();
    for case in cases {
        for document in case.build(Target::Calico).documents {
            out.push((format!("{}: {}", case.name, document.name), value(&document.text)));
        }
    }
    out
}

/// Calico's own acceptance rules (tests/kubernetes/calico_validator.rs) accept every document
/// built for the examples and the stdlib sites; no policy selects `all()`, which would put every
/// pod under a host policy.
fn calico_accepts_every_policy_we_build() {
    let documents = calico_documents();
    assert!(documents.len() > 100, "only {} documents", documents.len());
    let mut refused = Vec::new();
    for (name, policy) in &documents {
        for problem in calico_validator::problems(policy) {
            refused.push(format!("{name}: {problem}"));
        }
        let selector = policy["spec"]["selector"].as_str().unwrap_or_default();
        if !selector.contains("has(portc/host-endpoint)") {
            refused.push(format!("{name}: the selector `{selector}` may select workload endpoints"));
        }
    }
    assert!(refused.is_empty(), "{} problems:\n{}", refused.len(), refused.join("\n"));
}

/// The validator is not a test that cannot fail: it refuses what Calico refuses.
fn the_calico_validator_refuses_what_calico_refuses() {
    let policy = |spec: serde_json::Value| {
        serde_json::json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
            "metadata": {"name": "portc-etcd"}, "spec": spec})
    };
    let rule = |rule: serde_json::Value| {
        policy(serde_json::json!({"selector": "has(a)", "types": ["Ingress"], "ingress": [rule]}))
    };
    let bad = [
        (
            "mixed families",
            rule(serde_json::json!({"action": "Allow", "source": {"nets": ["10.0.0.0/24", "fd00::/64"]}})),
        ),
        (
            "mixed across sides",
            rule(
                serde_json::json!({"action": "Allow", "source": {"nets": ["10.0.0.0/24"]}, "destination": {"nets": ["fd00::/64"]}}),
            ),
        ),
        (
            "version mismatch",
            rule(serde_json::json!({"action": "Allow", "ipVersion": 6, "source": {"nets": ["10.0.0.0/24"]}})),
        ),
        ("ICMP on IPv6", rule(serde_json::json!({"action": "Allow", "protocol": "ICMP", "ipVersion": 6}))),
        (
            "ports without a port protocol",
            rule(serde_json::json!({"action": "Allow", "protocol": 4, "destination": {"ports": [22]}})),
        ),
        (
            "a reversed range",
            rule(serde_json::json!({"action": "Allow", "protocol": "TCP", "destination": {"ports": ["20:10"]}})),
        ),
        ("a bad action", rule(serde_json::json!({"action": "Accept"}))),
        ("protocol 0", rule(serde_json::json!({"action": "Allow", "protocol": 0}))),
        ("a host-bit net", rule(serde_json::json!({"action": "Allow", "source": {"nets": ["10.0.0.1/24"]}}))),
        ("a bad selector", policy(serde_json::json!({"selector": "a = 'b'", "types": ["Ingress"]}))),
        ("an unclosed has", policy(serde_json::json!({"selector": "has(a", "types": ["Ingress"]}))),
        (
            "preDNAT egress",
            policy(
                serde_json::json!({"selector": "has(a)", "preDNAT": true, "applyOnForward": true, "types": ["Egress"]}),
            ),
        ),
        (
            "preDNAT without applyOnForward",
            policy(serde_json::json!({"selector": "has(a)", "preDNAT": true, "types": ["Ingress"]})),
        ),
        ("a repeated type", policy(serde_json::json!({"selector": "has(a)", "types": ["Ingress", "Ingress"]}))),
    ];
    for (what, document) in bad {
        assert!(!calico_validator::problems(&document).is_empty(), "accepted {what}: {document}");
    }
    let mut two_dots = rule(serde_json::json!({"action": "Allow"}));
    two_dots["metadata"]["name"] = "a.b.c".into();
    assert!(!calico_validator::problems(&two_dots).is_empty(), "accepted a name with two dots");
    for good in [
        "has(portc/host-endpoint) && node-role.kubernetes.io/etcd == 'true'",
        "all()",
        "",
        "!has(a) || (b in {'x', 'y'})",
    ] {
        assert_eq!(calico_validator::validate_selector(good), Ok(()), "{good}");
    }
}
