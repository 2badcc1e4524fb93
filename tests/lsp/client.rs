//! A small JSON-RPC client for the tests of `portc lsp`: it starts the real binary, frames
//! messages with `Content-Length` over its standard input and output, and answers with the
//! paths of the run replaced by `$ROOT` and `$STDLIB`, so that snapshots hold on any machine.

#![allow(dead_code)] // Each test crate uses a different subset of these helpers.

use std::io::{BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use serde_json::{Value, json};

/// How long any one answer may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(60);

pub struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    /// Notifications that arrived while waiting for an answer, in order.
    notifications: Vec<Value>,
    next_id: i64,
    /// The workspace folder and the stdlib directory, for `relative`.
    pub workspace: PathBuf,
    pub stdlib: PathBuf,
    /// What the server answered to `initialize`.
    pub initialized: Value,
    _stdlib_dir: tempfile::TempDir,
}

impl Client {
    /// Starts `portc lsp` and initializes it with `workspace` as the only workspace folder.
    pub fn start(workspace: &Path) -> Client {
        let stdlib_dir = tempfile::tempdir().expect("a temporary directory");
        let stdlib = std::fs::canonicalize(stdlib_dir.path()).expect("canonical").join("stdlib");
        let mut child = Command::new(env!("CARGO_BIN_EXE_portc"))
            .args(["lsp", "--stdlib-dir"])
            .arg(&stdlib)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("portc starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        let workspace = std::fs::canonicalize(workspace).expect("the workspace exists");
        let mut client = Client {
            child,
            stdin,
            messages,
            notifications: Vec::new(),
            next_id: 0,
            workspace,
            stdlib,
            initialized: Value::Null,
            _stdlib_dir: stdlib_dir,
        };
        let root = uri(&client.workspace);
        let init = client.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root,
                "workspaceFolders": [{ "uri": root, "name": "workspace" }],
                "capabilities": {},
            }),
        );
        assert!(init.get("capabilities").is_some(), "initialize answered {init}");
        client.initialized = init;
        client.notify("initialized", json!({}));
        client
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its answer: the result, or `{"error": ...}`.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.receive();
            if message.get("id") == Some(&json!(id)) {
                if let Some(error) = message.get("error") {
                    return json!({ "error": error });
                }
                return message.get("result").cloned().unwrap_or(Value::Null);
            }
            self.notifications.push(message);
        }
    }

    /// The next diagnostics published for `uri`.
    pub fn diagnostics(&mut self, uri: &str) -> Value {
        let is_for = |m: &Value| {
            m.get("method").and_then(Value::as_str) == Some("textDocument/publishDiagnostics")
                && m.pointer("/params/uri").and_then(Value::as_str) == Some(uri)
        };
        if let Some(i) = self.notifications.iter().position(is_for) {
            return self.notifications.remove(i)["params"]["diagnostics"].clone();
        }
        loop {
            let message = self.receive();
            if is_for(&message) {
                return message["params"]["diagnostics"].clone();
            }
            self.notifications.push(message);
        }
    }

    /// Opens a document with `text`; the diagnostics published for it.
    pub fn open(&mut self, path: &Path, text: &str) -> Value {
        let uri = uri(path);
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "ports", "version": 1, "text": text } }),
        );
        self.diagnostics(&uri)
    }

    /// Replaces the whole text of an open document; the diagnostics published for it.
    pub fn change(&mut self, path: &Path, version: i32, text: &str) -> Value {
        let uri = uri(path);
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
        self.diagnostics(&uri)
    }

    /// Shuts the server down; its exit status and what it wrote to standard error.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let answer = self.request("shutdown", Value::Null);
        assert_eq!(answer, Value::Null, "shutdown answered {answer}");
        self.notify("exit", Value::Null);
        let status = self.child.wait().expect("portc exits");
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr).expect("readable stderr");
        }
        (status, stderr)
    }

    /// `value` as pretty JSON with objects sorted by key and this run's paths replaced.
    pub fn relative(&self, value: &Value) -> String {
        let text = serde_json::to_string_pretty(&sorted(value)).expect("serializable");
        let (stdlib, workspace) = (self.stdlib.display().to_string(), self.workspace.display().to_string());
        let text = text.replace(&uri(&self.stdlib), "$STDLIB").replace(&uri(&self.workspace), "$ROOT");
        // Hover names a file without a `module` line by its path.
        text.replace(&stdlib, "$STDLIB").replace(&workspace, "$ROOT")
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("portc reads its input");
        self.stdin.flush().expect("portc reads its input");
    }

    fn receive(&mut self) -> Value {
        match self.messages.recv_timeout(PATIENCE) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => panic!("portc lsp did not answer within {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("portc lsp closed its output: {:?}", self.child.try_wait()),
        }
    }
}

/// The `file://` URI of an absolute path.
pub fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A position `{line, character}` (UTF-16) of the `nth` occurrence of `needle` in `text`, moved
/// `shift` bytes into it.
pub fn position(text: &str, needle: &str, nth: usize, shift: usize) -> Value {
    let mut at = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("no `{needle}` #{nth}")).0;
    at += shift;
    let before = text.get(..at).expect("a char boundary");
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let character: usize = before.get(line_start..).expect("boundary").chars().map(char::len_utf16).sum();
    json!({ "line": line, "character": character })
}

/// Objects with their keys sorted, arrays as they are.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let ordered: std::collections::BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn read_message(reader: &mut impl std::io::BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}
