//! `portc diff`, `portc paths` and `check --no-path` on the command line: exit codes like diff(1),
//! files at a git revision (`REV:path`, with the files they use read at the same revision), the
//! output formats, and settings that only one side declares.

#![allow(clippy::disallowed_methods)] // Tests write their own files and repositories.

mod support;

use support::{Need, Test};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn portc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portc")).args(args).current_dir(dir).output().expect("portc runs")
}

fn portc(args: &[&str]) -> Output {
    portc_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("portc exits normally, not by a signal")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh scratch directory under the target dir, so tests never write into the source tree.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn main() -> std::process::ExitCode {
    support::run(vec![
        Test::new("exit_codes_follow_diff", &[], exit_codes_follow_diff),
        Test::new("formats_are_json_and_markdown", &[], formats_are_json_and_markdown),
        Test::new(
            "settings_pick_one_configuration_and_apply_where_declared",
            &[],
            settings_pick_one_configuration_and_apply_where_declared,
        ),
        Test::new(
            "a_side_can_be_a_file_at_a_git_revision",
            &[Need::Tool("git")],
            a_side_can_be_a_file_at_a_git_revision,
        ),
        Test::new("paths_and_check_no_path", &[], paths_and_check_no_path),
        Test::new("the_dot_of_paths_is_read_by_graphviz", &[Need::Tool("dot")], the_dot_of_paths_is_read_by_graphviz),
        Test::new("the_documented_outputs_are_current", &[], the_documented_outputs_are_current),
        Test::new(
            "the_rancher_comparisons_in_the_docs_are_current",
            &[],
            the_rancher_comparisons_in_the_docs_are_current,
        ),
    ])
}

const SITE: &str = "use \"./common.ports\"\nrole web\nweb -> db : tcp 5432 \"PostgreSQL\"\n";
const COMMON: &str = "role db\nexternal admins = 10.9.0.0/24\nadmins -> db : tcp 22 \"SSH\"\n";

fn site_pair(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("old.ports"), SITE).expect("writes");
    std::fs::write(dir.join("new.ports"), SITE.replace("tcp 5432", "tcp 5432-5433")).expect("writes");
    std::fs::write(dir.join("common.ports"), COMMON).expect("writes");
    dir
}

fn exit_codes_follow_diff() {
    let dir = site_pair("diff-exit-codes");
    assert_eq!(code(&portc_in(&dir, &["diff", "old.ports", "old.ports"])), 0);
    let different = portc_in(&dir, &["diff", "old.ports", "new.ports"]);
    assert_eq!(code(&different), 1, "{}", stderr(&different));
    assert!(stdout(&different).contains("+ tcp 5433"), "{}", stdout(&different));
    assert!(stdout(&different).contains("NEW new.ports:3"), "{}", stdout(&different));
    let missing = portc_in(&dir, &["diff", "old.ports", "missing.ports"]);
    assert_eq!(code(&missing), 2);
    assert!(stderr(&missing).contains("no such file"), "{}", stderr(&missing));
    std::fs::write(dir.join("broken.ports"), "role web\nweb -> nowhere : tcp 1\n").expect("writes");
    let broken = portc_in(&dir, &["diff", "old.ports", "broken.ports"]);
    assert_eq!(code(&broken), 2);
    assert!(stderr(&broken).contains("E0101"), "{}", stderr(&broken));
    let rename = portc_in(&dir, &["diff", "old.ports", "new.ports", "--rename", "nobody=web"]);
    assert_eq!(code(&rename), 2);
    assert!(
        stderr(&rename).contains("OLD has no role, external, flag or option named `nobody`"),
        "{}",
        stderr(&rename)
    );
}

fn formats_are_json_and_markdown() {
    let dir = site_pair("diff-formats");
    let json = portc_in(&dir, &["diff", "old.ports", "new.ports", "--format", "json"]);
    assert_eq!(code(&json), 1);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(doc["format"], "portc.diff/v1");
    assert_eq!(doc["configurations"], "every");
    assert_eq!(doc["summary"]["added"], 1);
    let added = &doc["differences"][0];
    assert_eq!(
        (added["from"].as_str(), added["to"].as_str(), added["change"].as_str()),
        (Some("web"), Some("db"), Some("added"))
    );
    assert_eq!(added["ports"], serde_json::json!({"start": 5433, "end": 5433}));
    assert_eq!(added["new"]["flows"][0]["line"], 3);
    let markdown = portc_in(&dir, &["diff", "old.ports", "new.ports", "--format", "markdown"]);
    assert!(
        stdout(&markdown).contains("| ➕ added | web | db | tcp 5433 | no | yes | NEW `new.ports:3` |"),
        "{}",
        stdout(&markdown)
    );
    let again = portc_in(&dir, &["diff", "old.ports", "new.ports", "--format", "json"]);
    assert_eq!(json.stdout, again.stdout, "the output is deterministic");
}

fn settings_pick_one_configuration_and_apply_where_declared() {
    let every = portc(&["diff", "rancher.v2_4.downstream.custom", "rancher.downstream.custom", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&every.stdout).expect("json");
    assert_eq!(doc["configurations"], "every");
    // `hosted` is a flag of the v2.4 vocabulary only: NEW is compiled without it.
    let args = [
        "diff",
        "rancher.v2_4.downstream.custom",
        "rancher.downstream.custom",
        "--set",
        "hosted=true",
        "--format",
        "json",
    ];
    let build = portc(&args);
    let doc: serde_json::Value = serde_json::from_slice(&build.stdout).expect("json");
    assert_eq!(doc["configurations"], "build", "{}", stderr(&build));
    assert_eq!(doc["old"]["settings"], serde_json::json!(["hosted=true"]));
    assert_eq!(doc["new"]["settings"], serde_json::json!([]));
    let nowhere =
        portc(&["diff", "rancher.v2_4.downstream.custom", "rancher.downstream.custom", "--set", "nothing=true"]);
    assert_eq!(code(&nowhere), 2);
    assert!(
        stderr(&nowhere).contains("neither OLD nor NEW has a flag, option or param named `nothing`"),
        "{}",
        stderr(&nowhere)
    );
    assert!(stderr(&nowhere).contains("error[E0121]"), "the setting is shown with its code: {}", stderr(&nowhere));
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=portc tests", "-c", "user.email=tests@portc.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
}

fn a_side_can_be_a_file_at_a_git_revision() {
    let dir = scratch("diff-git");
    std::fs::create_dir_all(dir.join("sites")).expect("mkdir");
    std::fs::write(dir.join("sites/site.ports"), SITE).expect("writes");
    std::fs::write(dir.join("sites/common.ports"), COMMON).expect("writes");
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "a site"]);
    // The working tree moves on: the used file changes too, and OLD must read it at HEAD.
    std::fs::write(dir.join("sites/common.ports"), COMMON.replace("tcp 22", "tcp 2222")).expect("writes");
    let same_site = portc_in(&dir, &["diff", "HEAD:sites/site.ports", "sites/site.ports"]);
    assert_eq!(code(&same_site), 1, "{}", stderr(&same_site));
    let out = stdout(&same_site);
    assert!(out.contains("- tcp 22") && out.contains("+ tcp 2222"), "{out}");
    // From a subdirectory, a path is relative to it, as git's `REV:./path` reads it.
    let inside = portc_in(&dir.join("sites"), &["diff", "HEAD:site.ports", "site.ports"]);
    assert_eq!(stdout(&inside), out.replace("sites/", ""));
    assert_eq!(code(&portc_in(&dir, &["diff", "HEAD:sites/site.ports", "HEAD:sites/site.ports"])), 0);

    let no_revision = portc_in(&dir, &["diff", "nosuch:sites/site.ports", "sites/site.ports"]);
    assert_eq!(code(&no_revision), 2);
    assert!(stderr(&no_revision).contains("no revision `nosuch`"), "{}", stderr(&no_revision));
    let no_file = portc_in(&dir, &["diff", "HEAD:sites/other.ports", "sites/site.ports"]);
    assert_eq!(code(&no_file), 2);
    assert!(stderr(&no_file).contains("no file `sites/other.ports` at revision `HEAD`"), "{}", stderr(&no_file));
    let tree = portc_in(&dir, &["diff", "HEAD:sites", "sites/site.ports"]);
    assert_eq!(code(&tree), 2);
    assert!(stderr(&tree).contains("it is a directory"), "{}", stderr(&tree));
    // A `use` of a file that the revision does not have is the usual diagnostic, at the revision's file.
    std::fs::write(dir.join("sites/site.ports"), SITE.replace("common.ports", "extra.ports")).expect("writes");
    std::fs::write(dir.join("sites/extra.ports"), COMMON).expect("writes");
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "extra"]);
    git(&dir, &["rm", "-q", "sites/extra.ports"]);
    git(&dir, &["commit", "-q", "-m", "no extra"]);
    let gone = portc_in(&dir, &["diff", "HEAD~1:sites/site.ports", "HEAD:sites/site.ports"]);
    assert_eq!(code(&gone), 2);
    assert!(stderr(&gone).contains("E0107"), "{}", stderr(&gone));
}

fn paths_and_check_no_path() {
    let site = "examples/three-tier-site.ports";
    let paths = portc(&["paths", site, "partners", "database"]);
    assert_eq!(code(&paths), 0, "{}", stderr(&paths));
    assert!(stdout(&paths).contains("1. partners -> backend -> database"), "{}", stdout(&paths));
    let json = portc(&["paths", site, "partners", "database", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(doc["format"], "portc.paths/v1");
    assert_eq!(doc["paths"][0]["hops"][1]["flows"][0]["ports"]["start"], 5432);
    let one_hop = portc(&["paths", site, "partners", "database", "--max-hops", "1", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&one_hop.stdout).expect("json");
    assert_eq!(doc["paths"], serde_json::json!([]));
    let dot = portc(&["paths", site, "partners", "database", "--format", "dot"]);
    assert!(stdout(&dot).starts_with("digraph paths {"), "{}", stdout(&dot));
    assert_eq!(code(&portc(&["paths", site, "partners", "nobody"])), 2);

    let check = portc(&["check", site, "--no-path", "partners:database", "--color", "never"]);
    assert_eq!(code(&check), 1);
    assert!(stdout(&check).contains("error[E0203]"), "{}", stdout(&check));
    assert_eq!(code(&portc(&["check", site, "--no-path", "partners:database", "--max-hops", "1"])), 0);
    assert_eq!(code(&portc(&["check", site, "--no-path", "partners"])), 2);
}

fn the_dot_of_paths_is_read_by_graphviz() {
    let dot = portc(&["paths", "examples/rancher-custom-site.ports", "workload_clients", "etcd", "--format", "dot"]);
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dot runs");
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(&dot.stdout).expect("writes");
    let out = child.wait_with_output().expect("dot finishes");
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The outputs docs/diff.md shows for stdlib modules and shipped examples are current: each
/// `console` block's command is run and its output must match, a line `...` standing for any
/// number of lines. Blocks about a user's own `site.ports` are left out.
fn the_documented_outputs_are_current() {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diff.md")).expect("docs");
    let mut checked = 0;
    for block in docs.split("```console\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        let mut lines = block.lines();
        let Some(command) = lines.next().and_then(|l| l.strip_prefix("$ portc ")) else { continue };
        let args: Vec<&str> = command.split_whitespace().collect();
        if args.iter().any(|a| *a == "site.ports" || a.contains(':') && a.ends_with("site.ports")) {
            continue;
        }
        let mut run = Command::new(env!("CARGO_BIN_EXE_portc"));
        run.args(&args).args(if args.first() == Some(&"check") { &["--color", "never"][..] } else { &[] });
        let out = run.current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("portc runs");
        let got = String::from_utf8_lossy(&out.stdout).into_owned();
        let want: Vec<&str> = lines.collect();
        assert!(matches(&want, &got.lines().collect::<Vec<_>>()), "docs/diff.md: `portc {command}` prints:\n{got}");
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} documented outputs checked");
}

/// Whether `got` matches `want`, where a line `...` (indented or not) matches any lines.
fn matches(want: &[&str], got: &[&str]) -> bool {
    match want.split_first() {
        None => got.is_empty(),
        Some((w, rest)) if w.trim() == "..." => {
            (0..=got.len()).any(|skip| matches(rest, got.get(skip..).unwrap_or_default()))
        }
        Some((w, rest)) => got.split_first().is_some_and(|(g, tail)| g == w && matches(rest, tail)),
    }
}

/// The module-by-module table of docs/diff.md says what each comparison finds.
fn the_rancher_comparisons_in_the_docs_are_current() {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diff.md")).expect("docs");
    let mut checked = 0;
    for row in docs.lines().filter(|l| l.starts_with("| `portc diff rancher.")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let command = cells.first().and_then(|c| c.strip_prefix("| `portc ")).and_then(|c| c.strip_suffix('`'));
        let (Some(command), Some(found)) = (command, cells.get(1)) else { panic!("a malformed row: {row}") };
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.extend(["--format", "json"]);
        let doc: serde_json::Value = serde_json::from_slice(&portc(&args).stdout).expect("json");
        let count = |word: &str| {
            let words: Vec<&str> = found.split_whitespace().collect();
            words
                .windows(2)
                .find(|w| w[1].trim_end_matches([':', ';', ',']) == word)
                .and_then(|w| w[0].parse::<u64>().ok())
        };
        let summary = &doc["summary"];
        for (field, word) in [("removed", "removed"), ("added", "added"), ("changed", "changed"), ("nodes", "node")] {
            let expected = count(word).unwrap_or(0);
            assert_eq!(summary[field].as_u64(), Some(expected), "docs/diff.md: `portc {command}`: {field}");
        }
        checked += 1;
    }
    assert_eq!(checked, 10, "the table has a row per module");
}
