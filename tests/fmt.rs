//! `portc fmt`: idempotent, and meaning-preserving (the json target and the comments are the same
//! before and after) on every shipped file, every documentation example and random programs;
//! snapshots of tricky layouts; the command line (`--check`, `-`, refusals, atomic writes).

#![allow(clippy::disallowed_methods)] // Tests read and write their own files.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use portc::{MemoryLoader, Options, Root, Target};
use proptest::prelude::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ports_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            ports_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "ports") {
            out.push(path);
        }
    }
}

/// Every stdlib module and example, by path relative to the repository.
fn shipped() -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["stdlib", "examples"] {
        ports_files(&root().join(dir), &mut files);
    }
    files.sort();
    let names: Vec<String> =
        files.iter().map(|f| f.strip_prefix(root()).unwrap_or(f).to_string_lossy().replace('\\', "/")).collect();
    assert!(names.len() > 50, "found only {} files", names.len());
    names
}

fn read(name: &str) -> String {
    std::fs::read_to_string(root().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn format(name: &str, text: &str) -> String {
    match portc::fmt::format(text) {
        Ok(formatted) => formatted,
        Err(portc::fmt::Refused::Syntax(d)) => panic!("{name} has syntax errors: {d:?}"),
        Err(portc::fmt::Refused::Bug(why)) => panic!("{name}: {why}"),
    }
}

/// The json target of `text` as the file `name`, with the origins' line numbers left out: what
/// the layout may move.
fn meaning(name: &str, text: &str) -> serde_json::Value {
    built(name, text).unwrap_or_else(|rendered| panic!("{name} does not build:\n{rendered}\n{text}"))
}

/// `meaning`, or the diagnostics that keep it from building.
fn built(name: &str, text: &str) -> Result<serde_json::Value, String> {
    let mut loader = MemoryLoader::default();
    loader.files.insert(name.to_string(), text.as_bytes().to_vec());
    let root = Root::File(name.to_string());
    let mut map = portc::diag::SourceMap::default();
    let (program, _) = portc::resolve::resolve(&root, &loader, "", &mut map).expect("loads");
    let settings = support::placeholder_params(&program);
    let options = Options { target: Some(Target::Json), settings, ..Options::default() };
    let outcome = portc::compile(&root, &loader, &options).expect("loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    let output = outcome.output.ok_or(rendered)?;
    let mut value: serde_json::Value = serde_json::from_str(&output).expect("the json target is json");
    drop_lines(&mut value);
    Ok(value)
}

/// Leaves out the line numbers, and so the difference between two equal entries that the
/// target merges when they are on one line and keeps apart on two.
fn drop_lines(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("line");
            map.values_mut().for_each(drop_lines);
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(drop_lines);
            items.dedup();
        }
        _ => {}
    }
}

/// The comments of a text, in order.
fn comments(text: &str) -> Vec<String> {
    let trivia = portc::syntax::trivia(portc::span::FileId(0), text);
    trivia.comments.iter().map(|c| text[c.span.start as usize..c.span.end as usize].trim_end().to_string()).collect()
}

/// Formatting `text` is idempotent and keeps its meaning and its comments.
fn assert_formats_faithfully(name: &str, text: &str) {
    let once = format(name, text);
    assert_eq!(format(name, &once), once, "{name}: formatting twice changes the text again; the text was:\n{text}");
    assert_eq!(comments(&once), comments(text), "{name}: the comments differ");
    assert_eq!(meaning(name, &once), meaning(name, text), "{name}: the json target differs:\n{once}");
}

/// What CI asks: the stdlib and the examples are in the canonical layout, through the command
/// line as a contributor runs it.
#[test]
fn the_stdlib_and_the_examples_are_formatted() {
    let out = portc(&["fmt", "--check", "stdlib", "examples"], root(), None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run `portc fmt stdlib examples` (cargo run -- fmt stdlib examples):\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn every_shipped_file_formats_faithfully() {
    for name in shipped() {
        assert_formats_faithfully(&name, &read(&name));
    }
}

#[test]
fn every_documentation_example_formats_idempotently() {
    let mut count = 0;
    for doc in ["README.md", "docs/language.md", "docs/diagnostics.md", "docs/stdlib.md"] {
        for block in read(doc).split("```ports\n").skip(1) {
            let code = block.split("```").next().unwrap_or_default();
            // Examples of errors are not formatted.
            let Ok(once) = portc::fmt::format(code) else { continue };
            assert_eq!(portc::fmt::format(&once).ok().as_ref(), Some(&once), "{doc}:\n{code}");
            assert_eq!(comments(&once), comments(code), "{doc}:\n{code}");
            count += 1;
        }
    }
    assert!(count > 40, "found only {count} examples");
}

#[test]
fn a_file_with_syntax_errors_is_refused() {
    for text in ["role a \"unclosed\n", "a -> b : tcp 70000\n", "flag f \"a\" \"b\"\n", "role\n"] {
        assert!(matches!(portc::fmt::format(text), Err(portc::fmt::Refused::Syntax(_))), "{text:?}");
    }
    // A file of comments, or nothing, has nothing to lose.
    assert_eq!(portc::fmt::format("  # only\n\n\n# comments  \n").ok().as_deref(), Some("# only\n\n# comments\n"));
    assert_eq!(portc::fmt::format("\n \n").ok().as_deref(), Some(""));
}

#[test]
fn tricky_layouts() {
    insta::glob!("fmt/*.ports", |path| {
        let text = std::fs::read_to_string(path).expect("readable");
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let formatted = format(&name, &text);
        assert_eq!(format(&name, &formatted), formatted, "{name} is not idempotent");
        assert_eq!(comments(&formatted), comments(&text), "{name}: the comments differ");
        insta::assert_snapshot!(format!("--- input\n{text}\n--- formatted\n{formatted}"));
    });
}

// ---------------------------------------------------------------- random programs

/// Declarations every random program has, so its flows resolve.
const PREAMBLE: &[&[&str]] = &[
    &["flag", "f", "\"F\"", "=", "false"],
    &["option", "o", "=", "x", "|", "y", "\"O\"", "=", "x"],
    &["param", "p", "=", "8080", "\"P\""],
    &["role", "a", "\"A\""],
    &["role", "b"],
    &["role", "c"],
    &["external", "e", "=", "10.0.0.1", ",", "10.0.0.2", "\"E\""],
    &["group", "g", "=", "a", "|", "b"],
    &["service", "s", "=", "tcp", "9000", "\"S\""],
    &["note", "1", "\"N\"", "when", "f"],
    &["note", "2", "\"L\"", "local"],
    &["never", "e", "->", "c", ":", "tcp", "22", "\"no ssh from e\""],
];

const ENDPOINTS: &[&str] = &["a", "b", "c", "e", "g"];
const SPECS: &[&[&str]] = &[
    &["tcp", "1000"],
    &["udp", "1100", "-", "1200"],
    &["tcp", "p"],
    &["s"],
    &["ipip"],
    &["icmp"],
    &["tcp", "/", "udp", "1300", ",", "1301"],
];
const MODIFIERS: &[&[&str]] =
    &[&["[", "1", "]"], &["when", "o", "==", "y"], &["\"described\""], &["local"], &["management"]];
const OTHERS: &[&[&str]] = &[
    &["set", "f", "=", "true"],
    &["bind", "a", "=", "10.1.0.1", ",", "10.1.0.2", ",", "fd00::1"],
    &["bind", "b", "=", "pods", "{", "app", ":", "b", ",", "\"tier\"", ":", "web", "}", "in", "namespace", "shop"],
    &["use", "kubernetes.cluster", "as", "cluster"],
];

/// A flow as numbers that proptest shrinks: endpoints, specs, modifiers, form.
#[derive(Clone, Debug)]
struct RandomFlow {
    from: Vec<usize>,
    to: Vec<usize>,
    to_self: bool,
    specs: Vec<(usize, Vec<usize>)>,
    block: bool,
    block_modifiers: Vec<usize>,
}

fn random_flow() -> impl Strategy<Value = RandomFlow> {
    let indices = |max: usize, len: std::ops::Range<usize>| prop::collection::btree_set(0..max, len);
    (
        indices(ENDPOINTS.len(), 1..3),
        indices(ENDPOINTS.len(), 1..3),
        any::<bool>(),
        prop::collection::vec((0..SPECS.len(), prop::collection::vec(0..MODIFIERS.len(), 0..3)), 1..4),
        any::<bool>(),
        prop::collection::vec(0..MODIFIERS.len(), 0..2),
    )
        .prop_map(|(from, to, to_self, specs, block, block_modifiers)| RandomFlow {
            from: from.into_iter().collect(),
            to: to.into_iter().collect(),
            to_self,
            specs,
            block,
            block_modifiers,
        })
}

/// Each modifier once, in the order drawn.
fn modifier_tokens(indices: &[usize]) -> Vec<&'static str> {
    let mut seen = Vec::new();
    for &i in indices {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    seen.iter().flat_map(|&i| MODIFIERS.get(i).copied().unwrap_or_default().iter().copied()).collect()
}

/// A program's statements as tokens, with the spots where a block's specs end (`None`).
fn statements(flows: &[RandomFlow], others: &[usize]) -> Vec<Vec<Option<&'static str>>> {
    let mut out: Vec<Vec<Option<&'static str>>> =
        PREAMBLE.iter().map(|s| s.iter().copied().map(Some).collect()).collect();
    let mut seen = Vec::new();
    for &i in others {
        if !seen.contains(&i) {
            seen.push(i);
            out.push(OTHERS.get(i).copied().unwrap_or_default().iter().copied().map(Some).collect());
        }
    }
    for flow in flows {
        let mut tokens: Vec<Option<&str>> = Vec::new();
        let union = |tokens: &mut Vec<Option<&str>>, indices: &[usize]| {
            for (n, &i) in indices.iter().enumerate() {
                if n > 0 {
                    tokens.push(Some("|"));
                }
                tokens.push(ENDPOINTS.get(i).copied());
            }
        };
        union(&mut tokens, &flow.from);
        tokens.push(Some("->"));
        if flow.to_self {
            tokens.push(Some("self"))
        } else {
            union(&mut tokens, &flow.to)
        }
        if flow.block {
            tokens.extend(modifier_tokens(&flow.block_modifiers).into_iter().map(Some));
            tokens.push(Some("{"));
        } else {
            tokens.push(Some(":"));
        }
        for (n, (spec, modifiers)) in flow.specs.iter().enumerate() {
            if n > 0 && !flow.block {
                tokens.push(Some(","));
            }
            if n > 0 && flow.block {
                tokens.push(None);
            }
            tokens.extend(SPECS.get(*spec).copied().unwrap_or_default().iter().copied().map(Some));
            tokens.extend(modifier_tokens(modifiers).into_iter().map(Some));
        }
        if flow.block {
            tokens.push(Some("}"));
        }
        out.push(tokens);
    }
    out
}

/// The statements laid out by a seeded random choice of white space, comments and blank lines,
/// wherever the language allows them.
fn render(statements: &[Vec<Option<&str>>], seed: u64) -> String {
    let mut state = seed | 1;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut text = String::new();
    let mut comment = 0;
    for statement in statements {
        let mut previous = "";
        for token in statement {
            let Some(token) = token else {
                // Between two specs of a block.
                text.push_str(["\n  ", "\n\n  ", " # between specs\n  ", ", "][next(4) as usize]);
                previous = "";
                continue;
            };
            if !previous.is_empty() {
                // A line may break after these without the next line looking like a statement.
                let breakable = matches!(previous, ":" | "," | "{" | "=") && !matches!(*token, "{" | "}");
                let choice = next(if breakable { 6 } else { 3 });
                match choice {
                    0 => text.push(' '),
                    1 => text.push_str("  "),
                    2 => text.push('\t'),
                    3 => text.push_str("\n    "),
                    4 => {
                        comment += 1;
                        text.push_str(&format!("   # inside {comment}\n  "));
                    }
                    _ => text.push_str(" \n\n  "),
                }
            }
            text.push_str(token);
            previous = token;
        }
        comment += 1;
        text.push_str(
            [
                "\n".to_string(),
                "\n\n".to_string(),
                "\n\n\n".to_string(),
                format!("  # after {comment}\n"),
                format!("\n# own line {comment}\n"),
                "\r\n".to_string(),
            ]
            .get(next(6) as usize)
            .map_or("\n", String::as_str),
        );
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_format_faithfully(
        flows in prop::collection::vec(random_flow(), 0..6),
        others in prop::collection::vec(0..OTHERS.len(), 0..4),
        seed in any::<u64>(),
    ) {
        let text = render(&statements(&flows, &others), seed);
        // A random program may not resolve (a `self` in a union, say): those say nothing here.
        prop_assume!(built("random.ports", &text).is_ok());
        assert_formats_faithfully("random.ports", &text);
    }
}

// ---------------------------------------------------------------- the command line

fn portc(args: &[&str], dir: &Path, stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_portc"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("portc runs");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("writes");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("portc finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const MESSY: &str = "role   a \"A\"# the first\nrole b\na->b:tcp 1,udp 2\n";
const TIDY: &str = "role a \"A\"  # the first\nrole b\na -> b : tcp 1, udp 2\n";

#[test]
fn check_prints_a_diff_and_fails_without_touching_the_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("sub/messy.ports"), MESSY).expect("writes");
    std::fs::write(dir.path().join("tidy.ports"), TIDY).expect("writes");
    let out = portc(&["fmt", "--check", "."], dir.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let diff = text(&out.stdout);
    assert!(diff.starts_with("--- a/./sub/messy.ports\n+++ b/./sub/messy.ports\n"), "{diff}");
    assert!(diff.contains("\n-a->b:tcp 1,udp 2\n+a -> b : tcp 1, udp 2\n"), "{diff}");
    assert!(!diff.contains("tidy.ports"), "{diff}");
    assert_eq!(std::fs::read_to_string(dir.path().join("sub/messy.ports")).ok().as_deref(), Some(MESSY));
    let clean = portc(&["fmt", "--check", "tidy.ports"], dir.path(), None);
    assert_eq!((clean.status.code(), text(&clean.stdout)), (Some(0), String::new()));
}

#[test]
fn writes_in_place_keeping_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("messy.ports");
    std::fs::write(&file, MESSY).expect("writes");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let out = portc(&["fmt", "messy.ports"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&file).ok().as_deref(), Some(TIDY));
    let mode = std::fs::metadata(&file).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("lists").flatten().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

#[test]
fn standard_input_to_standard_output() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = portc(&["fmt", "-"], dir.path(), Some(MESSY));
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), TIDY.to_string()));
    let check = portc(&["fmt", "--check", "-"], dir.path(), Some(MESSY));
    assert_eq!(check.status.code(), Some(1));
    assert!(text(&check.stdout).starts_with("--- a/<stdin>\n"), "{}", text(&check.stdout));
}

#[test]
fn a_file_with_syntax_errors_is_left_untouched_with_its_diagnostics() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let broken = "role   a \"unclosed\nrole b\n";
    std::fs::write(dir.path().join("broken.ports"), broken).expect("writes");
    std::fs::write(dir.path().join("messy.ports"), MESSY).expect("writes");
    let out = portc(&["fmt", "--color", "never", "."], dir.path(), None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error[E0001]: string is not closed"), "{stderr}");
    assert!(stderr.contains("`./broken.ports` is not formatted: it has syntax errors"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("broken.ports")).ok().as_deref(), Some(broken));
    // The other files are formatted all the same.
    assert_eq!(std::fs::read_to_string(dir.path().join("messy.ports")).ok().as_deref(), Some(TIDY));
    let stdin = portc(&["fmt", "-"], dir.path(), Some(broken));
    assert_eq!((stdin.status.code(), text(&stdin.stdout)), (Some(1), String::new()));
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = portc(&["fmt", "nothing.ports"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no such file or directory"), "{}", text(&out.stderr));
}
