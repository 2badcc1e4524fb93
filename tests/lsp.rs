//! `portc lsp` as an editor meets it: the real binary over standard input and output, driven
//! with JSON-RPC (initialize, didOpen, didChange, hover, definition, references, rename,
//! completion, formatting, shutdown), with snapshots of its answers over an example, a site that
//! uses the stdlib and a broken file, and a sweep of requests over broken texts that must all be
//! answered without a panic.

#![allow(clippy::disallowed_methods)] // Tests read the repository's examples.

#[path = "lsp/client.rs"]
mod client;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use client::{Client, position, uri};
use serde_json::{Value, json};

/// The JSON-RPC code of an internal error: what a panicking handler answers.
const INTERNAL_ERROR: i64 = -32603;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> (PathBuf, String) {
    let path = root().join("examples").join(name);
    let text = std::fs::read_to_string(&path).expect("the example exists");
    (std::fs::canonicalize(&path).expect("canonical"), text)
}

/// A transcript of requests and their answers, for a snapshot.
struct Transcript<'c> {
    client: &'c mut Client,
    out: String,
}

impl Transcript<'_> {
    fn record(&mut self, title: &str, answer: &Value) {
        let text = self.client.relative(answer);
        let _ = write!(self.out, "--- {title}\n{text}\n\n");
    }

    /// A request at the `nth` occurrence of `needle` (moved `shift` bytes in), recorded.
    fn at(&mut self, method: &str, path: &Path, text: &str, needle: (&str, usize, usize), extra: Value) -> Value {
        let mut params = json!({
            "textDocument": { "uri": uri(path) },
            "position": position(text, needle.0, needle.1, needle.2),
        });
        if let (Some(params), Value::Object(extra)) = (params.as_object_mut(), extra) {
            params.extend(extra);
        }
        let answer = self.client.request(method, params);
        let shown = match method {
            "textDocument/completion" => labels(&answer),
            _ => answer.clone(),
        };
        self.record(&format!("{method} at `{}` #{}+{}", needle.0, needle.1, needle.2), &shown);
        answer
    }

    fn whole(&mut self, method: &str, path: &Path, extra: Value) -> Value {
        let mut params = json!({ "textDocument": { "uri": uri(path) } });
        if let (Some(params), Value::Object(extra)) = (params.as_object_mut(), extra) {
            params.extend(extra);
        }
        let answer = self.client.request(method, params);
        self.record(method, &answer);
        answer
    }
}

/// A completion list as `label (detail)` lines: the full items are long and say little more.
fn labels(answer: &Value) -> Value {
    let items = answer.as_array().or_else(|| answer.get("items").and_then(Value::as_array));
    let Some(items) = items else { return answer.clone() };
    let lines = items.iter().map(|item| {
        let label = item["label"].as_str().unwrap_or_default();
        match item["detail"].as_str() {
            Some(detail) => format!("{label} ({detail})"),
            None => label.to_string(),
        }
    });
    Value::Array(lines.map(Value::String).collect())
}

fn formatting_options() -> Value {
    json!({ "options": { "tabSize": 2, "insertSpaces": true } })
}

fn stop(client: Client) {
    let (status, stderr) = client.stop();
    assert!(status.success(), "portc lsp exited with {status}; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "portc lsp panicked:\n{stderr}");
}

#[test]
fn initialize_announces_the_capabilities() {
    let mut client = Client::start(&root().join("examples"));
    let mut initialized = client.initialized.clone();
    if let Some(info) = initialized.pointer_mut("/serverInfo/version") {
        *info = json!("VERSION");
    }
    insta::assert_snapshot!("initialize", client.relative(&initialized));
    let answer = client.request("initialize", json!({ "processId": null, "capabilities": {}, "rootUri": null }));
    // A second initialize is refused; the server goes on.
    assert!(answer.get("error").is_some(), "{answer}");
    stop(client);
}

#[test]
fn an_example_with_pods() {
    let (path, text) = example("three-tier-site.ports");
    let mut client = Client::start(path.parent().expect("examples/"));
    let diagnostics = client.open(&path, &text);
    let mut t = Transcript { client: &mut client, out: String::new() };
    t.record("diagnostics on open", &diagnostics);
    t.at("textDocument/hover", &path, &text, ("role frontend", 0, 5), json!({}));
    t.at("textDocument/hover", &path, &text, ("frontend -> backend", 0, 9), json!({}));
    t.at("textDocument/hover", &path, &text, ("cluster_dns", 0, 0), json!({}));
    let definition = t.at("textDocument/definition", &path, &text, ("cluster_dns", 0, 0), json!({}));
    t.at("textDocument/definition", &path, &text, ("backend", 3, 0), json!({}));
    t.at(
        "textDocument/references",
        &path,
        &text,
        ("backend", 3, 0),
        json!({ "context": { "includeDeclaration": true } }),
    );
    t.at("textDocument/prepareRename", &path, &text, ("backend", 3, 0), json!({}));
    t.at("textDocument/rename", &path, &text, ("backend", 3, 0), json!({ "newName": "orders" }));
    t.at("textDocument/rename", &path, &text, ("backend", 3, 0), json!({ "newName": "frontend" }));
    t.at("textDocument/completion", &path, &text, ("frontend -> backend", 0, 12), json!({}));
    t.whole("textDocument/formatting", &path, formatting_options());
    t.whole("textDocument/documentSymbol", &path, json!({}));
    let out = t.out;
    // The definition in the stdlib is a file the editor can open, and may not write.
    let target = definition["uri"].as_str().and_then(|u| u.strip_prefix("file://")).expect("a file URI");
    let metadata = std::fs::metadata(target).expect("the stdlib module is written");
    assert!(metadata.permissions().readonly(), "{target} is writable");
    insta::assert_snapshot!("three_tier_site", out);
    stop(client);
}

#[test]
fn a_site_on_the_stdlib() {
    let (path, text) = example("kubeadm-site.ports");
    let mut client = Client::start(path.parent().expect("examples/"));
    let diagnostics = client.open(&path, &text);
    let mut t = Transcript { client: &mut client, out: String::new() };
    t.record("diagnostics on open", &diagnostics);
    t.at("textDocument/hover", &path, &text, ("etcd_client_port", 0, 0), json!({}));
    t.at("textDocument/hover", &path, &text, ("external_etcd", 0, 0), json!({}));
    t.at("textDocument/hover", &path, &text, ("calico_mode", 0, 0), json!({}));
    t.at("textDocument/hover", &path, &text, ("admins -> controlplane", 0, 7), json!({}));
    t.at("textDocument/hover", &path, &text, ("use kubernetes.cni", 0, 6), json!({}));
    t.at("textDocument/definition", &path, &text, ("controlplane", 1, 0), json!({}));
    t.at("textDocument/definition", &path, &text, ("use kubernetes.cni", 0, 6), json!({}));
    t.at(
        "textDocument/references",
        &path,
        &text,
        ("admins ->", 0, 0),
        json!({ "context": { "includeDeclaration": true } }),
    );
    t.at("textDocument/prepareRename", &path, &text, ("controlplane", 1, 0), json!({}));
    t.at("textDocument/rename", &path, &text, ("controlplane", 1, 0), json!({ "newName": "masters" }));
    t.at("textDocument/rename", &path, &text, ("admins ->", 0, 0), json!({ "newName": "operators" }));
    t.at("textDocument/completion", &path, &text, ("set calico_mode = ", 0, 18), json!({}));
    t.at("textDocument/completion", &path, &text, ("use kubernetes.cni", 0, 15), json!({}));
    t.at("textDocument/completion", &path, &text, (": tcp 22", 0, 2), json!({}));

    // A typo while typing: the diagnostics follow the unsaved text, with a quick fix.
    let typo = text.replace("admins -> controlplane", "admins -> controlplan");
    let diagnostics = t.client.change(&path, 2, &typo);
    t.record("diagnostics after a change", &diagnostics);
    let range = diagnostics.get(0).map(|d| d["range"].clone()).expect("a diagnostic for the typo");
    t.whole("textDocument/codeAction", &path, json!({ "range": range, "context": { "diagnostics": diagnostics } }));
    let diagnostics = t.client.change(&path, 3, &text);
    t.record("diagnostics after undoing it", &diagnostics);
    t.whole("textDocument/formatting", &path, formatting_options());
    let out = t.out;
    insta::assert_snapshot!("kubeadm_site", out);
    stop(client);
}

#[test]
fn a_broken_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = std::fs::read_to_string(root().join("tests/lsp/broken.ports")).expect("the broken file");
    let path = std::fs::canonicalize(dir.path()).expect("canonical").join("broken.ports");
    std::fs::write(&path, &text).expect("writable");
    let mut client = Client::start(dir.path());
    let diagnostics = client.open(&path, &text);
    let mut t = Transcript { client: &mut client, out: String::new() };
    t.record("diagnostics on open", &diagnostics);
    t.at("textDocument/hover", &path, &text, ("web", 1, 0), json!({}));
    t.at("textDocument/hover", &path, &text, ("controlplan", 0, 0), json!({}));
    t.at("textDocument/definition", &path, &text, ("web", 1, 0), json!({}));
    t.at("textDocument/references", &path, &text, ("web", 1, 0), json!({ "context": { "includeDeclaration": true } }));
    t.at("textDocument/rename", &path, &text, ("web", 1, 0), json!({ "newName": "www" }));
    t.at("textDocument/completion", &path, &text, ("web -> ", 1, 7), json!({}));
    t.whole("textDocument/formatting", &path, formatting_options());
    t.whole("textDocument/documentSymbol", &path, json!({}));
    let unknown = t.client.request("portc/unknown", json!({}));
    t.record("an unknown method", &unknown);
    let bad = t.client.request("textDocument/hover", json!({ "no": 1 }));
    t.record("a request with bad parameters", &bad);
    let out = t.out;
    insta::assert_snapshot!("broken_file", out);
    stop(client);
}

/// Every request at many places of many broken texts (the stdlib site cut short at every few
/// bytes, and the broken file) is answered, and none with an internal error.
#[test]
fn every_request_is_answered_on_broken_texts() {
    let (path, text) = example("kubeadm-site.ports");
    let broken = std::fs::read_to_string(root().join("tests/lsp/broken.ports")).expect("the broken file");
    let mut client = Client::start(path.parent().expect("examples/"));
    client.open(&path, &text);
    let mut texts: Vec<String> = (0..text.len()).step_by(89).filter_map(|n| text.get(..n).map(String::from)).collect();
    texts.push(broken);
    let methods = [
        "textDocument/hover",
        "textDocument/definition",
        "textDocument/references",
        "textDocument/prepareRename",
        "textDocument/completion",
        "textDocument/rename",
    ];
    let mut asked = 0;
    for (version, cut) in texts.iter().enumerate() {
        client.change(&path, version as i32 + 2, cut);
        for offset in (0..=cut.len()).step_by(23).filter(|o| cut.is_char_boundary(*o)) {
            let before = cut.get(..offset).unwrap_or_default();
            let line = before.matches('\n').count();
            let character = before.len() - before.rfind('\n').map_or(0, |i| i + 1);
            for method in methods {
                let answer = client.request(
                    method,
                    json!({
                        "textDocument": { "uri": uri(&path) },
                        "position": { "line": line, "character": character },
                        "context": { "includeDeclaration": true },
                        "newName": "renamed",
                    }),
                );
                asked += 1;
                let code = answer.pointer("/error/code").and_then(Value::as_i64);
                assert_ne!(code, Some(INTERNAL_ERROR), "{method} at {line}:{character} of\n{cut}\nanswered {answer}");
            }
        }
        for method in ["textDocument/documentSymbol", "textDocument/formatting", "textDocument/codeAction"] {
            let answer = client.request(
                method,
                json!({
                    "textDocument": { "uri": uri(&path) },
                    "options": { "tabSize": 2, "insertSpaces": true },
                    "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 999, "character": 0 } },
                    "context": { "diagnostics": [] },
                }),
            );
            let code = answer.pointer("/error/code").and_then(Value::as_i64);
            assert_ne!(code, Some(INTERNAL_ERROR), "{method} of\n{cut}\nanswered {answer}");
        }
    }
    assert!(asked > 1000, "only {asked} requests");
    stop(client);
}

/// The quick fixes that have an obvious edit: a missing `bind` (of the unbound source) and a
/// duplicate flow.
#[test]
fn quick_fixes_for_a_missing_bind_and_a_duplicate_flow() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = std::fs::canonicalize(dir.path()).expect("canonical").join("site.ports");
    let text = "role web \"Web servers\"\nrole db \"Database\"\nbind db = 10.0.1.0/24\n\
                web -> db : tcp 5432 \"PostgreSQL\"\nweb -> db : tcp 5432 \"PostgreSQL\"\n";
    std::fs::write(&path, text).expect("writable");
    let mut client = Client::start(dir.path());
    let diagnostics = client.open(&path, text);
    let mut t = Transcript { client: &mut client, out: String::new() };
    t.record("diagnostics on open", &diagnostics);
    let whole = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 5, "character": 0 } });
    t.whole("textDocument/codeAction", &path, json!({ "range": whole, "context": { "diagnostics": diagnostics } }));
    let out = t.out;
    insta::assert_snapshot!("quick_fixes", out);
    stop(client);
}
