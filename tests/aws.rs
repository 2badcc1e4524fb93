//! The `aws` target, judged by the tools that read it: `cfn-lint` (CloudFormation's own linter,
//! with the resource specifications of every region) accepts every template of every example
//! and stdlib site, with and without `--egress`; every template reads back into portc's typed
//! CloudFormation structs with nothing left over; and the stdlib's `rancher-nodes` modules
//! reproduce the security group table of the Rancher pages row by row.

#![allow(clippy::disallowed_methods)] // Tests write the templates for cfn-lint to read.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use portc::lower::aws::{Resource, Template, Value};
use portc::{FsLoader, Root, Target};
use support::{Case, Need, Test};

fn main() -> std::process::ExitCode {
    support::run(vec![
        Test::new("cfn_lint_accepts_every_template", &[Need::Tool("cfn-lint")], cfn_lint_accepts_every_template),
        Test::new("templates_read_back_into_their_types", &[], templates_read_back_into_their_types),
        Test::new(
            "rancher_nodes_tables_are_reproduced_row_by_row",
            &[],
            rancher_nodes_tables_are_reproduced_row_by_row,
        ),
        Test::new("egress_is_filtered_only_with_egress", &[], egress_is_filtered_only_with_egress),
        Test::new("descriptions_fit_ec2", &[], descriptions_fit_ec2),
        Test::new("output_is_byte_identical_across_builds", &[], output_is_byte_identical_across_builds),
        Test::new("logical_ids_are_unique", &[], logical_ids_are_unique),
    ])
}

impl Case {
    fn build(&self, egress: bool) -> String {
        self.compile(Target::Aws, egress, false).output.unwrap_or_default()
    }
}

/// Every example with a host role, and a site for every stdlib module with one.
fn cases() -> Vec<Case> {
    support::target_cases(Target::Aws, |_, _| String::new())
}

fn cfn_lint_accepts_every_template() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for (index, case) in cases().iter().enumerate() {
        for egress in [false, true] {
            let path = dir.path().join(format!("{index:03}-{}.json", if egress { "egress" } else { "open" }));
            std::fs::write(&path, case.build(egress)).expect("writes");
            files.push((path, case.name.clone()));
        }
    }
    // One run for every template: cfn-lint takes seconds to load its specifications.
    let run = Command::new("cfn-lint")
        .args(["--format", "parseable", "--"])
        .args(files.iter().map(|(path, _)| path))
        .output()
        .expect("cfn-lint runs");
    let mut report = String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    for (path, name) in &files {
        report = report.replace(&path.display().to_string(), name);
    }
    assert!(run.status.success(), "cfn-lint refuses {} templates:\n{report}", files.len());
}

fn templates_read_back_into_their_types() {
    let mut checked = 0;
    for case in cases() {
        for egress in [false, true] {
            let text = case.build(egress);
            let original: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            let typed: Template = serde_json::from_value(original.clone())
                .unwrap_or_else(|e| panic!("{}: does not read back into a Template: {e}", case.name));
            assert_eq!(serde_json::to_value(&typed).expect("serialises"), original, "{}", case.name);
            checked += 1;
        }
    }
    let bad = r#"{"AWSTemplateFormatVersion": "2010-09-09", "Description": "", "Metadata": {"portc": {"source": "",
        "egress": "", "roles": {}}}, "Parameters": {}, "Resources": {}, "Outputs": {}, "Conditions": {}}"#;
    assert!(serde_json::from_str::<Template>(bad).is_err(), "an unknown section was accepted");
    assert!(checked > 60, "only {checked} templates");
}

/// The `rancher-nodes` security group of the Rancher port requirements pages (section "Rancher
/// AWS EC2 Security Group"), as the Rancher 2.5 (zh) and v2.0-v2.4 (en) pages print it: type,
/// protocol, port range, source or destination, rule type. The v2.0-v2.2 (zh) page repeats the
/// port range in the source cell of the NodePort rows; stdlib/rancher/v2_0 reads it as 0.0.0.0/0.
const RANCHER_NODES: &[(&str, &str, &str, &str, &str)] = &[
    ("SSH", "TCP", "22", "0.0.0.0/0", "Inbound"),
    ("HTTP", "TCP", "80", "0.0.0.0/0", "Inbound"),
    ("Custom TCP Rule", "TCP", "443", "0.0.0.0/0", "Inbound"),
    ("Custom TCP Rule", "TCP", "2376", "0.0.0.0/0", "Inbound"),
    ("Custom TCP Rule", "TCP", "2379-2380", "sg-xxx (rancher-nodes)", "Inbound"),
    ("Custom UDP Rule", "UDP", "4789", "sg-xxx (rancher-nodes)", "Inbound"),
    ("Custom TCP Rule", "TCP", "6443", "0.0.0.0/0", "Inbound"),
    ("Custom UDP Rule", "UDP", "8472", "sg-xxx (rancher-nodes)", "Inbound"),
    ("Custom TCP Rule", "TCP", "10250-10252", "sg-xxx (rancher-nodes)", "Inbound"),
    ("Custom TCP Rule", "TCP", "10256", "sg-xxx (rancher-nodes)", "Inbound"),
    ("Custom TCP Rule", "TCP", "30000-32767", "0.0.0.0/0", "Inbound"),
    ("Custom UDP Rule", "UDP", "30000-32767", "0.0.0.0/0", "Inbound"),
    ("All traffic", "All", "All", "0.0.0.0/0", "Outbound"),
];

/// The nodes of a Rancher cluster: `rancher-nodes` is one group on all of them, and portc makes
/// a group per role, so a rule naming `rancher-nodes` becomes a rule naming each of these.
const NODE_GROUPS: &[&str] = &["SecurityGroupControlplane", "SecurityGroupEtcd", "SecurityGroupWorker"];

/// An inbound row as `TCP 2379-2380 sg-xxx (rancher-nodes)`.
fn row(protocol: &str, from: Option<i32>, to: Option<i32>, source: &str) -> String {
    let ports = match (from, to) {
        (Some(f), Some(t)) if f == t => f.to_string(),
        (Some(f), Some(t)) => format!("{f}-{t}"),
        _ => "All".to_string(),
    };
    format!("{} {ports} {source}", protocol.to_ascii_uppercase())
}

fn group_of(value: &Value) -> String {
    match value {
        Value::GetAtt(parts) => parts.first().cloned().unwrap_or_default(),
        Value::Ref(name) => name.clone(),
    }
}

/// Each node role's group has exactly the table's inbound rows (a rule naming `rancher-nodes`
/// names every node group), and egress is EC2's default, the table's one outbound row.
fn rancher_nodes_tables_are_reproduced_row_by_row() {
    let expected: BTreeSet<String> = RANCHER_NODES
        .iter()
        .filter(|r| r.4 == "Inbound")
        .map(|(_, protocol, ports, source, _)| format!("{protocol} {ports} {source}"))
        .collect();
    assert_eq!(RANCHER_NODES.iter().filter(|r| r.4 == "Outbound").count(), 1);
    for module in ["rancher.aws_sg", "rancher.v2_0.aws_security_group", "rancher.v2_4.aws_sg"] {
        let case = Case {
            name: module.to_string(),
            root: Root::Module(module.to_string()),
            loader: Box::new(FsLoader),
            settings: Vec::new(),
        };
        let template: Template = serde_json::from_str(&case.build(false)).expect("a template");
        let groups: Vec<&String> = template
            .resources
            .iter()
            .filter(|(_, r)| matches!(r, Resource::SecurityGroup(_)))
            .map(|(id, _)| id)
            .collect();
        assert_eq!(groups, NODE_GROUPS.iter().collect::<Vec<_>>(), "{module}: a group per node role");
        for group in NODE_GROUPS {
            let mut rows: BTreeSet<String> = BTreeSet::new();
            // (protocol, ports) -> the groups a rule names
            let mut named: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
            for (id, resource) in &template.resources {
                match resource {
                    Resource::SecurityGroup(sg) if id == group => {
                        assert!(sg.security_group_egress.is_empty(), "{module}: {group} keeps EC2's default egress");
                        for rule in &sg.security_group_ingress {
                            let source = rule.cidr_ip.clone().or(rule.cidr_ipv6.clone()).unwrap_or_default();
                            rows.insert(row(&rule.ip_protocol, rule.from_port, rule.to_port, &source));
                        }
                    }
                    Resource::Ingress(rule) if group_of(&rule.group_id) == *group => {
                        let key = row(&rule.ip_protocol, rule.from_port, rule.to_port, "sg-xxx (rancher-nodes)");
                        let source = rule.source_security_group_id.as_ref().map(group_of).unwrap_or_default();
                        named.entry(key).or_default().insert(source);
                    }
                    Resource::Egress(_) => panic!("{module}: an egress rule without --egress"),
                    _ => {}
                }
            }
            let every_node: BTreeSet<String> = NODE_GROUPS.iter().map(|g| g.to_string()).collect();
            for (key, sources) in named {
                assert_eq!(sources, every_node, "{module}: {group}: `{key}` names every node group");
                rows.insert(key);
            }
            assert_eq!(rows, expected, "{module}: the inbound rules of {group}");
        }
    }
}

/// Without --egress no group has egress rules (EC2 adds its allow-all rule); with it every group
/// has inline egress rules, so EC2 adds none.
fn egress_is_filtered_only_with_egress() {
    let case = Case {
        name: "rke".into(),
        root: Root::File("examples/rancher-custom-site.ports".into()),
        loader: Box::new(FsLoader),
        settings: Vec::new(),
    };
    for egress in [false, true] {
        let template: Template = serde_json::from_str(&case.build(egress)).expect("a template");
        for (id, resource) in &template.resources {
            match resource {
                Resource::SecurityGroup(sg) => {
                    assert_eq!(!sg.security_group_egress.is_empty(), egress, "{id} (egress {egress})")
                }
                Resource::Egress(_) => assert!(egress, "{id}: an egress rule without --egress"),
                Resource::Ingress(_) => {}
            }
        }
    }
}

/// Every description is at most 255 characters of EC2's set, and says where its flows come from.
fn descriptions_fit_ec2() {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == ' ' || "._-:/()#,@[]+=&;{}!$*".contains(c);
    for case in cases() {
        let template: Template = serde_json::from_str(&case.build(true)).expect("a template");
        let mut descriptions = Vec::new();
        for resource in template.resources.values() {
            match resource {
                Resource::SecurityGroup(sg) => {
                    descriptions.push(sg.group_description.clone());
                    descriptions.extend(sg.security_group_ingress.iter().map(|r| r.description.clone()));
                    descriptions.extend(sg.security_group_egress.iter().map(|r| r.description.clone()));
                }
                Resource::Ingress(rule) | Resource::Egress(rule) => {
                    descriptions.push(rule.description.clone());
                    assert!(rule.description.contains('['), "{}: no provenance in {rule:?}", case.name);
                }
            }
        }
        for description in descriptions {
            assert!(
                description.len() <= 255 && description.chars().all(allowed),
                "{}: EC2 refuses the description `{description}`",
                case.name
            );
        }
    }
    assert_eq!(portc::lower::aws::description("etcd 客户端 \"x\" <y>"), "etcd x y");
    assert_eq!(portc::lower::aws::description(&"a".repeat(300)).len(), 255);
}

fn output_is_byte_identical_across_builds() {
    for case in cases() {
        assert_eq!(case.build(true), case.build(true), "{}", case.name);
    }
}

/// Every resource has a logical id of its own: a duplicate key in `Resources` would silently
/// replace a rule. Roles named `a_from_b` and `b_from_c` make the ids of two groups' rules meet
/// (`IngressAFromBFromCTcp22` for `b_from_c -> a` and for `c -> a_from_b`).
fn logical_ids_are_unique() {
    let site = "role a\nrole a_from_b\nrole b_from_c\nrole c\nrole a_to\n\
                b_from_c -> a : tcp 22 \"one\"\nc -> a_from_b : tcp 22 \"two\"\n\
                a_to -> a : tcp 22 \"three\"\nc -> a_to : udp 53 \"four\"\n";
    let mut loader = portc::MemoryLoader::default();
    loader.files.insert("site.ports".into(), site.as_bytes().to_vec());
    let entangled = Case {
        name: "entangled".into(),
        root: Root::File("site.ports".into()),
        loader: Box::new(loader),
        settings: Vec::new(),
    };
    let mut all = cases();
    all.push(entangled);
    for case in all {
        for egress in [false, true] {
            let text = case.build(egress);
            let template: Template = serde_json::from_str(&text).expect("a template");
            // Every resource has `Properties`, and nothing else in a template does.
            let written = text.matches("\"Properties\": {").count();
            assert_eq!(template.resources.len(), written, "{}: two resources share a logical id", case.name);
            if case.name == "entangled" {
                let ingress = template.resources.values().filter(|r| matches!(r, Resource::Ingress(_))).count();
                assert_eq!(ingress, 4, "{}: a rule per flow between groups", case.name);
            }
        }
    }
}
