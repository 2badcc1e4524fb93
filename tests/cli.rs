//! The `portc` binary: exit codes, output files, and inputs too large or too deep for a naive parser.

#![allow(clippy::disallowed_methods)] // Tests read and write their own files.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn portc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .output()
        .expect("portc runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("portc exits normally, not by a signal")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh scratch directory under the target dir, so tests never write into the source tree.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn every_example_checks_clean_and_builds_json() {
    let examples = support::examples();
    assert!(!examples.is_empty());
    for example in examples {
        let check = portc(&["check", "--deny-warnings", &example]);
        assert_eq!(code(&check), 0, "{example}: {}", text(&check.stdout));
        let build = portc(&["build", &example, "--target", "json"]);
        assert_eq!(code(&build), 0, "{example}: {}", text(&build.stderr));
        let document: serde_json::Value = serde_json::from_slice(&build.stdout).expect("json target prints JSON");
        assert_eq!(document["format"], "portc.flows/v1");
        assert!(document["flows"].as_array().is_some_and(|f| !f.is_empty()), "{example} has flows");
    }
}

#[test]
fn errors_exit_1_and_usage_exits_2() {
    assert_eq!(code(&portc(&["check", "tests/ui/E0101_unknown_role.ports"])), 1);
    assert_eq!(code(&portc(&["check", "tests/ui/does-not-exist.ports"])), 2);
    assert_eq!(code(&portc(&["check", "tests/ui"])), 2);
    assert_eq!(code(&portc(&["build", "no.such.module", "--target", "json"])), 2);
    assert_eq!(code(&portc(&["check", "--set", "nonsense", "examples/rancher-custom-site.ports"])), 2);
    assert_eq!(code(&portc(&["check", "--set", "a=b c", "examples/rancher-custom-site.ports"])), 2);
    assert_eq!(code(&portc(&["frobnicate"])), 2);
    let missing = portc(&["check", "tests/ui/does-not-exist.ports"]);
    assert!(text(&missing.stderr).contains("no such file"), "{}", text(&missing.stderr));
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let dir = scratch("warnings");
    let file = dir.join("site.ports");
    std::fs::write(&file, "role a\n").expect("write");
    let file = file.to_string_lossy().into_owned();
    // A file with no warnings exits 0 either way; the flag must not turn a clean file into a failure.
    assert_eq!(code(&portc(&["check", &file])), 0);
    assert_eq!(code(&portc(&["check", "--deny-warnings", &file])), 0);
}

#[test]
fn command_line_settings_override_and_are_checked() {
    let site = "examples/rancher-custom-site.ports";
    let calico = portc(&["build", site, "--target", "json", "--set", "cni=calico"]);
    assert_eq!(code(&calico), 0, "{}", text(&calico.stderr));
    let document: serde_json::Value = serde_json::from_slice(&calico.stdout).expect("JSON");
    let cni = document["config"]["options"].as_array().and_then(|o| o.iter().find(|o| o["name"] == "cni")).cloned();
    assert_eq!(cni.map(|c| c["value"].clone()), Some(serde_json::json!("calico")));
    let typo = portc(&["check", site, "--set", "cni=calcio"]);
    assert_eq!(code(&typo), 1);
    let out = text(&typo.stdout);
    assert!(out.contains("E0114") && out.contains("<command line>") && out.contains("did you mean `calico`"), "{out}");
}

#[test]
fn json_diagnostics_are_one_object_per_line() {
    let output = portc(&["check", "--format", "json", "tests/ui/E0013_duplicate_modifier.ports"]);
    assert_eq!(code(&output), 1);
    let lines: Vec<serde_json::Value> =
        text(&output.stdout).lines().map(|l| serde_json::from_str(l).expect("each line is a JSON object")).collect();
    assert_eq!(lines.len(), 3);
    for d in &lines {
        for field in ["code", "severity", "message", "file", "line", "column", "end", "labels", "help"] {
            assert!(d.get(field).is_some(), "missing {field} in {d}");
        }
    }
    assert_eq!(lines[0]["code"], "E0013");
    assert_eq!(lines[0]["line"], 3);
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let file = "tests/ui/E0101_unknown_role.ports";
    let always = portc(&["check", "--color", "always", file]);
    assert!(text(&always.stdout).contains('\u{1b}'), "--color always colours");
    let never = portc(&["check", "--color", "never", file]);
    assert!(!text(&never.stdout).contains('\u{1b}'));
    // Not a terminal: auto means no colour.
    let auto = portc(&["check", file]);
    assert!(!text(&auto.stdout).contains('\u{1b}'));
}

#[test]
fn output_files_are_written_whole_or_not_at_all() {
    let dir = scratch("atomic");
    let out = dir.join("flows.json");
    let out_arg = out.to_string_lossy().into_owned();
    let ok = portc(&["build", "examples/rancher-custom-site.ports", "--target", "json", "-o", &out_arg]);
    assert_eq!(code(&ok), 0, "{}", text(&ok.stderr));
    let first = std::fs::read(&out).expect("output written");
    assert!(serde_json::from_slice::<serde_json::Value>(&first).is_ok());

    // A failing build leaves the previous file untouched and creates no stray temporary file.
    let failed = portc(&["build", "tests/ui/E0101_unknown_role.ports", "--target", "json", "-o", &out_arg]);
    assert_eq!(code(&failed), 1);
    assert_eq!(std::fs::read(&out).expect("still there"), first);
    let fresh = dir.join("never.json");
    let failed =
        portc(&["build", "tests/ui/E0101_unknown_role.ports", "--target", "json", "-o", &fresh.to_string_lossy()]);
    assert_eq!(code(&failed), 1);
    assert!(!fresh.exists());
    let entries = std::fs::read_dir(&dir).expect("dir").count();
    assert_eq!(entries, 1, "only flows.json remains");
}

/// `--out-dir` holds every host's files until all are written, but never open: a build of every
/// host may write more files than a process may have open (firewalld writes dozens per host).
#[test]
fn every_host_build_writes_more_files_than_it_may_open() {
    let dir = scratch("many-files");
    let out = dir.join("out").to_string_lossy().into_owned();
    let script = format!(
        "ulimit -n 32 && exec \"$0\" build examples/rancher-custom-site.ports --target firewalld --allow-lossy --out-dir {out}"
    );
    let output = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_portc")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("sh runs");
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let mut files = 0;
    let mut dirs = vec![PathBuf::from(&out)];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("a directory").flatten() {
            if entry.path().is_dir() { dirs.push(entry.path()) } else { files += 1 }
        }
    }
    assert!(files > 32, "only {files} files: the limit was never in the way");
}

#[test]
fn output_is_byte_identical_across_runs() {
    for input in ["examples/rancher-custom-site.ports", "examples/kubernetes-site.ports", "rancher.downstream.custom"] {
        let a = portc(&["build", input, "--target", "json"]);
        let b = portc(&["build", input, "--target", "json"]);
        assert_eq!(code(&a), 0, "{}", text(&a.stderr));
        assert_eq!(a.stdout, b.stdout, "{input}");
    }
}

#[test]
fn stdlib_list_and_show() {
    let list = portc(&["stdlib", "list"]);
    assert_eq!(code(&list), 0);
    assert!(text(&list.stdout).contains("rancher.downstream.custom"));
    let show = portc(&["stdlib", "show", "kubernetes"]);
    assert_eq!(code(&show), 0);
    assert!(text(&show.stdout).starts_with('#') || text(&show.stdout).contains("module kubernetes"));
    let typo = portc(&["stdlib", "show", "kubernets"]);
    assert_eq!(code(&typo), 2);
    assert!(text(&typo.stderr).contains("did you mean `kubernetes`"));
}

#[test]
fn a_100_mb_line_is_a_diagnostic_not_a_crash() {
    let dir = scratch("long-line");
    let file = dir.join("long.ports");
    let mut source = String::from("role a \"");
    source.push_str(&"x".repeat(100 * 1024 * 1024));
    source.push('\n');
    std::fs::write(&file, source).expect("write");
    let output = portc(&["check", &file.to_string_lossy()]);
    assert_eq!(code(&output), 1);
    assert!(text(&output.stdout).contains("E0001"));
    assert!(text(&output.stdout).len() < 100_000, "the snippet is cut, not printed whole");
}

#[test]
fn ten_thousand_nested_parentheses_are_a_diagnostic() {
    let dir = scratch("deep");
    let file = dir.join("deep.ports");
    let source = format!("flag x\nrole a\na -> a : ipip when {}x{}\n", "(".repeat(10_000), ")".repeat(10_000));
    std::fs::write(&file, source).expect("write");
    let output = portc(&["check", &file.to_string_lossy()]);
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("E0004"));
    let bangs = dir.join("bangs.ports");
    std::fs::write(&bangs, format!("flag x\nrole a\na -> a : ipip when {}x\n", "!".repeat(100_001))).expect("write");
    let output = portc(&["check", &bangs.to_string_lossy()]);
    assert_eq!(code(&output), 0, "{}", text(&output.stdout));
}

#[test]
fn explain_gives_a_verdict_with_reasons() {
    let site = "examples/rancher-custom-site.ports";
    let allowed = portc(&["explain", site, "workload_clients", "worker", "tcp/80"]);
    assert_eq!(code(&allowed), 0, "{}", text(&allowed.stderr));
    let out = text(&allowed.stdout);
    assert!(out.starts_with("tcp/80 from workload_clients to worker: allowed"), "{out}");
    assert!(out.contains("rancher.downstream.custom:"), "names the origin: {out}");

    // The site has an external load balancer, so note 3 leaves the agent's direct flow out.
    let left_out = portc(&["explain", site, "etcd", "rancher", "tcp/443"]);
    let out = text(&left_out.stdout);
    assert!(out.contains("denied") && out.contains("left out") && out.contains("external_lb = true"), "{out}");
    // With the setting flipped on the command line, the same flow allows it.
    let flipped = portc(&["explain", site, "etcd", "rancher", "tcp/443", "--set", "external_lb=false"]);
    assert!(text(&flipped.stdout).contains(": allowed"), "{}", text(&flipped.stdout));

    let forbidden = portc(&["explain", site, "internet", "worker", "udp/8472", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_slice(&forbidden.stdout).expect("JSON");
    assert_eq!(document["verdict"], "denied");
    assert!(document["never"].as_array().is_some_and(|n| !n.is_empty()), "names the invariant");
    assert!(document["nearest"].as_array().is_some_and(|n| !n.is_empty()), "offers the nearest flows");

    let unknown = portc(&["explain", site, "etcd", "rancher_server"]);
    assert_eq!(code(&unknown), 2);
    assert!(text(&unknown.stderr).contains("did you mean `rancher`"), "{}", text(&unknown.stderr));
    assert_eq!(code(&portc(&["explain", site, "etcd", "rancher", "tcp/0"])), 2);
}

#[test]
fn a_host_firewall_is_for_roles_only() {
    let site = "examples/rancher-custom-site.ports";
    let external = portc(&["build", site, "--target", "nftables", "--role", "internet"]);
    assert_eq!(code(&external), 2);
    assert!(text(&external.stderr).contains("is an external, not a role"), "{}", text(&external.stderr));
    let typo = portc(&["build", site, "--target", "nftables", "--role", "etdc"]);
    assert_eq!(code(&typo), 2);
    assert!(text(&typo.stderr).contains("did you mean `etcd`"), "{}", text(&typo.stderr));
    let missing = portc(&["build", site, "--target", "nftables"]);
    assert_eq!(code(&missing), 2);
}

#[test]
fn kubernetes_targets_write_one_file_per_policy() {
    let dir = scratch("networkpolicies");
    let out = dir.join("out");
    let out_arg = out.to_string_lossy().into_owned();
    let site = "examples/three-tier-site.ports";
    let built = portc(&["build", site, "--target", "networkpolicy", "--egress", "--out-dir", &out_arg]);
    assert_eq!(code(&built), 0, "{}", text(&built.stderr));
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .expect("out dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["shop-api.portc-backend.yaml", "shop-data.portc-database.yaml", "shop-web.portc-frontend.yaml"]);
    // The files together are the single-stream output.
    let whole = portc(&["build", site, "--target", "networkpolicy", "--egress"]);
    let joined: String =
        files.iter().map(|f| std::fs::read_to_string(out.join(f)).expect("readable")).collect::<Vec<_>>().join("");
    assert_eq!(joined, text(&whole.stdout));
    // `-o DIR/` does the same.
    let by_o = dir.join("by-o/");
    let built = portc(&["build", site, "--target", "networkpolicy", "--egress", "-o", &by_o.to_string_lossy()]);
    assert_eq!(code(&built), 0, "{}", text(&built.stderr));
    assert_eq!(std::fs::read_dir(&by_o).expect("written").count(), 3);

    // A lossy build without --allow-lossy writes nothing.
    let lossy = dir.join("lossy");
    let failed = portc(&[
        "build",
        "tests/ui/E0303_networkpolicy_icmp.ports",
        "--target",
        "networkpolicy",
        "--out-dir",
        &lossy.to_string_lossy(),
    ]);
    assert_eq!(code(&failed), 1);
    assert!(!lossy.exists());
}

#[test]
fn target_flags_are_checked() {
    let site = "examples/rancher-custom-site.ports";
    for (args, wanted) in [
        (&["--target", "dot", "--egress"][..], "--egress does not apply to --target dot"),
        (&["--target", "json", "--allow-lossy"][..], "--allow-lossy does not apply to --target json"),
        (&["--target", "networkpolicy", "--role", "etcd"][..], "--role does not apply to --target networkpolicy"),
        (&["--target", "networkpolicy"][..], "no role is bound to pods"),
    ] {
        let mut all = vec!["build", site];
        all.extend_from_slice(args);
        let run = portc(&all);
        assert_eq!(code(&run), 2, "{args:?}");
        assert!(text(&run.stderr).contains(wanted), "{args:?}: {}", text(&run.stderr));
    }
}

/// `stdlib show` starts with what a site sets and binds, wherever the module's vocabulary
/// declares it, and the text after the summary still parses as the module.
#[test]
fn stdlib_show_summarises_the_knobs() {
    let shown = portc(&["stdlib", "show", "rancher.downstream.custom"]);
    assert_eq!(code(&shown), 0);
    let out = text(&shown.stdout);
    for want in [
        "#   cni = canal | flannel | calico | weave, default canal  (rancher.roles)",
        "#   external_lb = true | false, default false  (rancher.roles)",
        "#   ace = true | false, default false  (rancher.downstream.custom)",
        "#   rancher, etcd, controlplane, worker",
        "#   lb, api_clients, workload_clients, pod_cidr, service_cidr",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
    let hosted = text(&portc(&["stdlib", "show", "rancher.downstream.hosted"]).stdout);
    assert!(hosted.contains("hosted_api_port = a port, no default: a site must set it"), "{hosted}");
    let dir = scratch("stdlib-show");
    let file = dir.join("shown.ports");
    std::fs::write(&file, &shown.stdout).expect("write");
    let check = portc(&["check", file.to_str().expect("utf-8 path")]);
    assert_ne!(code(&check), 2, "{}", text(&check.stdout));
}

/// Every module names its vendor document by title, language and public URL, never a file that
/// only this repository had.
#[test]
fn every_stdlib_source_names_a_public_document() {
    for module in portc::stdlib::modules() {
        let (_, source) = portc::stdlib::headers(module);
        let source = source.unwrap_or_default();
        assert!(source.contains("https://"), "{}: source names no URL: {source}", module.name);
        assert!(!source.contains("seeds/") && !source.contains(".txt"), "{}: a local file: {source}", module.name);
    }
}

/// `check` warns about what a build needs and the site never binds, and `check --target` reports
/// in one run everything a build would refuse, for every host role.
#[test]
fn check_reports_what_a_build_would_refuse() {
    let dir = scratch("check-target");
    let site = dir.join("site.ports");
    std::fs::write(
        &site,
        "use rancher.downstream.custom\nbind etcd = 10.0.1.0/24\nbind controlplane = 10.0.2.0/24\n\
         bind worker = 10.0.3.0/24\nbind rancher = 10.0.0.11\nbind pod_cidr = 10.42.0.0/16\nbind service_cidr = 10.43.0.0/16\n\
         external admins = 10.9.0.0/24\nadmins -> nodes | rancher : tcp 22 \"SSH\" management\n",
    )
    .expect("write");
    let site = site.to_str().expect("utf-8 path");
    let plain = portc(&["check", site]);
    assert_eq!(code(&plain), 0);
    let out = text(&plain.stdout);
    assert!(out.contains("warning[W0209]: `workload_clients` has neither addresses nor a selector"), "{out}");
    assert_eq!(code(&portc(&["check", "--deny-warnings", site])), 1);
    let targeted = portc(&["check", site, "--target", "nftables"]);
    assert_eq!(code(&targeted), 1, "{}", text(&targeted.stdout));
    let out = text(&targeted.stdout);
    // Each flow from the unbound clients, to the worker role's firewall, once.
    assert_eq!(out.matches("error[E0301]: `workload_clients` has no addresses").count(), 3, "{out}");
    assert_eq!(out.matches("error[").count(), 3, "nothing else is refused:\n{out}");
    let build = portc(&["build", site, "--target", "nftables", "--role", "worker"]);
    assert_eq!(code(&build), 1);
}

/// `explain` exits like grep, takes addresses for endpoints, and says when only node-local flows allow it.
#[test]
fn explain_answers_like_grep_and_takes_addresses() {
    let site = "examples/rancher-custom-site.ports";
    let denied = portc(&["explain", site, "etcd", "rancher", "tcp/443"]);
    assert_eq!(code(&denied), 1, "{}", text(&denied.stdout));
    assert!(text(&denied.stdout).contains("tcp/443 from etcd to rancher: denied"));
    let allowed = portc(&["explain", site, "10.9.0.5", "etcd", "tcp/22"]);
    assert_eq!(code(&allowed), 0);
    assert!(
        text(&allowed.stdout).contains("tcp/22 from 10.9.0.5 (admins, internet) to etcd: allowed"),
        "{}",
        text(&allowed.stdout)
    );
    let local = portc(&["explain", site, "controlplane", "controlplane", "tcp/9099"]);
    assert_eq!(code(&local), 0);
    assert!(text(&local.stdout).contains("allowed only as node-local traffic"), "{}", text(&local.stdout));
    let nowhere = portc(&["explain", "examples/three-tier-site.ports", "192.168.77.1", "backend", "tcp/8443"]);
    assert_eq!(code(&nowhere), 2);
    assert!(text(&nowhere.stderr).contains("no role or external is bound to an address that contains 192.168.77.1"));
}

/// Every command that takes a policy takes a file or a stdlib module alike.
#[test]
fn every_command_takes_a_stdlib_module() {
    assert_eq!(code(&portc(&["check", "rancher.downstream.custom"])), 0);
    assert_eq!(code(&portc(&["build", "rancher.downstream.custom", "--target", "json"])), 0);
    assert_eq!(code(&portc(&["explain", "rancher.downstream.custom", "etcd", "etcd", "tcp/2379"])), 0);
    let missing = portc(&["check", "rancher.downstream.cstom"]);
    assert_eq!(code(&missing), 2);
    assert!(text(&missing.stderr).contains("rancher.downstream.custom"), "{}", text(&missing.stderr));
}

/// Output files are made as any file is (0666 less the umask), not with a temporary file's 0600.
#[test]
fn output_files_are_readable_by_others() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = scratch("modes");
    let out = dir.join("flows.json");
    let bin = env!("CARGO_BIN_EXE_portc");
    let command =
        format!("umask 022 && exec '{bin}' build examples/three-tier-site.ports --target json -o '{}'", out.display());
    let run = Command::new("sh").arg("-c").arg(command).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("sh");
    assert!(run.status.success(), "{}", text(&run.stderr));
    let mode = std::fs::metadata(&out).expect("written").permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
}

/// `cargo install --path .` installs `portc` alone: the benches' generator is an example.
#[test]
fn the_package_has_one_binary() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    let document: serde_json::Value = serde_json::from_slice(&metadata.stdout).expect("json");
    let package = document["packages"].as_array().and_then(|p| p.iter().find(|p| p["name"] == "portc")).expect("portc");
    let binaries: Vec<&str> = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin")))
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(binaries, ["portc"]);
}

#[test]
fn verify_refuses_a_ruleset_in_the_wrong_form_with_e0401() {
    let dir = scratch("verify-wrong-form");
    let file = dir.join("ruleset.nft");
    std::fs::write(
        &file,
        "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n",
    )
    .expect("scratch is writable");
    let file = file.to_string_lossy().into_owned();
    for option in ["--nft", "--iptables"] {
        let output = portc(&["verify", "examples/kubeadm-site.ports", "--role", "worker", option, &file]);
        let stderr = text(&output.stderr);
        assert_eq!(code(&output), 2, "{stderr}");
        assert!(output.stdout.is_empty(), "no report for a ruleset verify cannot read");
        assert!(stderr.contains("error[E0401]"), "{stderr}");
        assert!(stderr.contains("1 │ table inet filter {"), "the snippet shows the line: {stderr}");
        assert!(stderr.contains("help: verify reads"), "{stderr}");
    }
}

/// `--out-dir` for firewalld replaces each host's directory whole: what an earlier build wrote
/// and this one no longer makes is gone, what is beside the hosts' directories stays, and a build
/// that fails leaves the earlier one as it was.
#[test]
fn firewalld_host_directories_are_replaced_whole() {
    let dir = scratch("firewalld-out-dir");
    let out = dir.join("out");
    let out_text = out.to_string_lossy().into_owned();
    let site = "examples/rancher-custom-site.ports";
    let build = |extra: &[&str]| {
        let mut args = vec!["build", site, "--target", "firewalld", "--out-dir", &out_text];
        args.extend_from_slice(extra);
        portc(&args)
    };
    let first = build(&["--allow-lossy"]);
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    let zone = out.join("etcd/zones/portc.xml");
    let before = std::fs::read_to_string(&zone).expect("the etcd zone");
    std::fs::write(out.join("etcd/ipsets/portc-stale-v4.xml"), "<ipset/>").expect("writes");
    std::fs::write(out.join("notes.txt"), "mine").expect("writes");

    let second = build(&["--allow-lossy"]);
    assert_eq!(code(&second), 0, "{}", text(&second.stderr));
    assert!(!out.join("etcd/ipsets/portc-stale-v4.xml").exists(), "a stale ipset stayed");
    assert_eq!(std::fs::read_to_string(&zone).expect("the etcd zone"), before);
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).expect("kept"), "mine");
    let hidden: Vec<_> = std::fs::read_dir(&out)
        .expect("listed")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "staging directories left behind: {hidden:?}");

    // Without --allow-lossy the NodePorts of a Kubernetes node are an error: nothing changes.
    std::fs::write(out.join("etcd/marker"), "earlier").expect("writes");
    let failed = build(&[]);
    assert_eq!(code(&failed), 1, "{}", text(&failed.stderr));
    assert_eq!(std::fs::read_to_string(out.join("etcd/marker")).expect("kept"), "earlier");
}

/// A target that writes each role's part as it makes it (cilium, aws) still writes its file whole
/// or not at all: with `--deny-warnings`, a build with warnings fails after every policy was
/// written, and then the file is left as it was.
#[test]
fn streamed_outputs_are_written_whole_or_not_at_all() {
    let dir = scratch("streamed");
    let out = dir.join("policies.yaml");
    let out_arg = out.to_string_lossy().into_owned();
    let site = "examples/kubernetes-site.ports";
    for target in ["cilium", "aws"] {
        let to_file = portc(&["build", site, "--target", target, "--allow-lossy", "-o", &out_arg]);
        assert_eq!(code(&to_file), 0, "{}", text(&to_file.stderr));
        let to_stdout = portc(&["build", site, "--target", target, "--allow-lossy"]);
        assert_eq!(std::fs::read(&out).expect("written"), to_stdout.stdout, "{target}: -o and stdout differ");
    }
    std::fs::write(&out, "earlier").expect("writes");
    // This site's cilium policies leave out what Cilium cannot express (W0303).
    let failed = portc(&["build", site, "--target", "cilium", "--allow-lossy", "--deny-warnings", "-o", &out_arg]);
    assert_eq!(code(&failed), 1, "{}", text(&failed.stderr));
    assert!(text(&failed.stderr).contains("W0303"), "{}", text(&failed.stderr));
    assert!(
        text(&failed.stderr).contains("the warnings count as errors (--deny-warnings)"),
        "{}",
        text(&failed.stderr)
    );
    assert_eq!(std::fs::read_to_string(&out).expect("still there"), "earlier");
    let failed = portc(&["build", site, "--target", "cilium", "--allow-lossy", "--deny-warnings"]);
    assert_eq!(code(&failed), 1);
    assert!(failed.stdout.is_empty(), "a failed build printed its output");
    let entries = std::fs::read_dir(&dir).expect("dir").count();
    assert_eq!(entries, 1, "only policies.yaml remains");
}

/// `-o` writes the file a symbolic link points to (the link stays), keeps the permissions of the
/// file it replaces, and writes into a pipe or device instead of replacing it with a file.
#[test]
fn output_keeps_links_permissions_and_pipes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("output-places");
    let site = "examples/rancher-custom-site.ports";
    let expected = portc(&["build", site, "--target", "aws"]).stdout;
    let link = dir.join("link.json");
    std::os::unix::fs::symlink("real.json", &link).expect("a link");
    let built = portc(&["build", site, "--target", "aws", "-o", &link.to_string_lossy()]);
    assert_eq!(code(&built), 0, "{}", text(&built.stderr));
    assert!(std::fs::symlink_metadata(&link).expect("there").file_type().is_symlink(), "the link was replaced");
    assert_eq!(std::fs::read(dir.join("real.json")).expect("written through the link"), expected);

    let private = dir.join("private.json");
    std::fs::write(&private, "").expect("writes");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let built = portc(&["build", site, "--target", "aws", "-o", &private.to_string_lossy()]);
    assert_eq!(code(&built), 0, "{}", text(&built.stderr));
    let mode = std::fs::metadata(&private).expect("there").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the permissions of the file replaced");

    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("reads the pipe"))
    };
    let built = portc(&["build", site, "--target", "aws", "-o", &fifo.to_string_lossy()]);
    assert_eq!(code(&built), 0, "{}", text(&built.stderr));
    assert_eq!(reader.join().expect("the reader"), expected);
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo).expect("there").file_type().is_fifo(), "the pipe was replaced");

    // `-o -` is standard output.
    assert_eq!(portc(&["build", site, "--target", "aws", "-o", "-"]).stdout, expected);
}

/// A build that fails makes no directory, an empty --out-dir is refused rather than read as the
/// root directory, and a place in the way of a host's directory fails the build before any host
/// directory is replaced.
#[test]
fn failed_builds_leave_no_trace() {
    let dir = scratch("no-trace");
    let at = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let typo = "tests/ui/E0101_unknown_role.ports";
    for (target, flag) in
        [("firewalld", "--out-dir"), ("nftables", "--out-dir"), ("cilium", "--out-dir"), ("aws", "-o")]
    {
        let place = at(&format!("{target}/nested/out"));
        let failed = portc(&["build", typo, "--target", target, flag, &place]);
        assert_eq!(code(&failed), 1, "{target}: {}", text(&failed.stderr));
    }
    // Warnings denied: the output was written, then dropped with the directories made for it.
    let failed = portc(&[
        "build",
        "examples/rancher-custom-site.ports",
        "--target",
        "calico",
        "--deny-warnings",
        "--out-dir",
        &at("calico/nested"),
    ]);
    assert_eq!(code(&failed), 1, "{}", text(&failed.stderr));
    assert_eq!(std::fs::read_dir(&dir).expect("listed").count(), 0, "a failed build made a directory");

    let empty = portc(&["build", "examples/rancher-custom-site.ports", "--target", "cilium", "--out-dir", ""]);
    assert_eq!(code(&empty), 2);
    assert!(text(&empty.stderr).contains("--out-dir needs"), "{}", text(&empty.stderr));
    let pods_only = portc(&["build", "examples/three-tier-site.ports", "--target", "nftables", "--out-dir", &at("q")]);
    assert_eq!(code(&pods_only), 2, "nothing to build is an error");
    assert!(!dir.join("q").exists());

    let out = dir.join("hosts");
    let out_text = out.to_string_lossy().into_owned();
    let build = || {
        portc(&[
            "build",
            "examples/rancher-custom-site.ports",
            "--target",
            "firewalld",
            "--allow-lossy",
            "--out-dir",
            &out_text,
        ])
    };
    assert_eq!(code(&build()), 0);
    std::fs::write(out.join("etcd/marker"), "earlier").expect("writes");
    std::fs::remove_dir_all(out.join("worker")).expect("removes");
    std::fs::write(out.join("worker"), "not a directory").expect("writes");
    let blocked = build();
    assert_eq!(code(&blocked), 2, "{}", text(&blocked.stderr));
    assert!(text(&blocked.stderr).contains("is not a directory"), "{}", text(&blocked.stderr));
    assert_eq!(std::fs::read_to_string(out.join("etcd/marker")).expect("kept"), "earlier", "a host was replaced");
    let hidden = std::fs::read_dir(&out)
        .expect("listed")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(hidden, 0, "staging directories left behind");
}

/// `portc fmt` on a symbolic link formats the file it points to and leaves the link a link.
#[test]
fn fmt_keeps_links() {
    let dir = scratch("fmt-link");
    std::fs::write(dir.join("real.ports"), "role  a\nrole b\na->b:tcp 22\n").expect("writes");
    let link = dir.join("link.ports");
    std::os::unix::fs::symlink("real.ports", &link).expect("a link");
    let formatted = portc(&["fmt", &link.to_string_lossy()]);
    assert_eq!(code(&formatted), 0, "{}", text(&formatted.stderr));
    assert!(std::fs::symlink_metadata(&link).expect("there").file_type().is_symlink(), "the link was replaced");
    assert_eq!(
        std::fs::read_to_string(dir.join("real.ports")).expect("formatted"),
        "role a\nrole b\na -> b : tcp 22\n"
    );
}

/// A policy file an earlier build wrote into --out-dir, for a role this build no longer has, is
/// named in a note (`kubectl apply -f DIR` would still apply it); files portc did not write are not.
#[test]
fn earlier_policies_in_the_out_dir_are_named() {
    let dir = scratch("earlier-policies");
    let out = dir.to_string_lossy().into_owned();
    let site = "examples/rancher-custom-site.ports";
    let first = portc(&["build", site, "--target", "cilium", "--out-dir", &out]);
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    assert!(!text(&first.stderr).contains("note:"), "{}", text(&first.stderr));
    std::fs::copy(dir.join("portc-etcd.yaml"), dir.join("portc-gone.yaml")).expect("copies");
    std::fs::write(dir.join("mine.yaml"), "kind: ConfigMap\n").expect("writes");
    let second = portc(&["build", site, "--target", "cilium", "--out-dir", &out]);
    assert_eq!(code(&second), 0, "{}", text(&second.stderr));
    let notes: Vec<String> =
        text(&second.stderr).lines().filter(|l| l.starts_with("note:")).map(String::from).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes.iter().all(|n| n.contains("portc-gone.yaml")), "{notes:?}");
}
