//! The hand-written parser for well-formed statements (src/syntax/fast.rs) changes nothing:
//! every file, every documentation example and random near-miss text gives the same AST, spans
//! and diagnostics with it as with pest alone.

#![allow(clippy::disallowed_methods)] // Tests read the repository's own files.

use std::path::Path;

use portc::span::FileId;
use proptest::prelude::*;

fn assert_same(name: &str, text: &str) {
    let fast = portc::syntax::parse(FileId(0), text);
    let pest = portc::syntax::parse_with_pest_only(FileId(0), text);
    assert_deferred_same(name, text, &fast);
    if std::env::var("FAST_DEBUG").is_ok() && format!("{fast:#?}") != format!("{pest:#?}") {
        std::fs::write("/tmp/fast.txt", format!("{fast:#?}")).ok();
        std::fs::write("/tmp/pest.txt", format!("{pest:#?}")).ok();
        std::fs::write("/tmp/input.txt", text).ok();
    }
    assert_eq!(format!("{fast:#?}"), format!("{pest:#?}"), "{name} parses differently:\n{text}");
}

/// Parsing with flows deferred reports the same, keeps the same declarations, and each deferred
/// flow parses again to the same item.
fn assert_deferred_same(name: &str, text: &str, whole: &(portc::ast::File, Vec<portc::diag::Diagnostic>)) {
    use portc::ast::Item;
    let deferred = portc::syntax::parse_deferring_flows(FileId(0), text);
    assert_eq!(format!("{:#?}", deferred.diagnostics), format!("{:#?}", whole.1), "{name}: diagnostics differ");
    let (flows, declarations): (Vec<&Item>, Vec<&Item>) =
        whole.0.items.iter().partition(|i| matches!(i, Item::Flow(_) | Item::Never(_)));
    assert_eq!(format!("{:?}", deferred.file.items.iter().collect::<Vec<_>>()), format!("{declarations:?}"), "{name}");
    let again: Vec<Option<Item>> =
        deferred.flows.iter().map(|&start| portc::syntax::flow_at(FileId(0), text, start)).collect();
    let flows: Vec<Option<&Item>> = flows.into_iter().map(Some).collect();
    assert_eq!(format!("{:?}", again.iter().map(Option::as_ref).collect::<Vec<_>>()), format!("{flows:?}"), "{name}");
}

fn ports_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            ports_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "ports") {
            out.push(path);
        }
    }
}

#[test]
fn every_file_of_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["stdlib", "examples", "tests/ui", "tests/parser", "tests/fmt"] {
        ports_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 100, "found only {} files", files.len());
    for file in files {
        let bytes = std::fs::read(&file).expect("readable");
        assert_same(&file.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn every_example_in_the_documentation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for doc in ["README.md", "docs/language.md", "docs/diagnostics.md", "docs/stdlib.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("readable");
        for block in text.split("```ports\n").skip(1) {
            let code = block.split("```").next().unwrap_or_default();
            assert_same(doc, code);
            count += 1;
        }
    }
    assert!(count > 50, "found only {count} examples");
}

#[test]
fn synthetic_programs() {
    for seed in 0..4 {
        let text = portc::synth::generate(&portc::synth::Options::for_flows(1500, seed));
        assert_same(&format!("seed {seed}"), &text);
    }
}

#[test]
fn a_statement_ends_where_a_line_starts_the_next() {
    // pest sees each statement only up to the next line that starts one, so these continuations
    // across such a line are errors, not longer statements.
    for text in [
        "group g = a |\nb -> c : tcp 1\n",
        "a -> b : tcp 80,\nrole x\n",
        "a | b ->\nrole c\n",
        "a -> b : tcp 80 when x &&\nflag y\n",
        "a -> b when x {\n  tcp 1\nrole r\n}\n",
        "option o = x |\nnote 1 \"n\"\n",
    ] {
        assert_same("a cut statement", text);
    }
}

/// Pieces of statements, well-formed and not, that random text is built from.
const PIECES: &[&str] = &[
    "role",
    "external",
    "group",
    "flag",
    "option",
    "param",
    "service",
    "note",
    "never",
    "set",
    "bind",
    "use",
    "module",
    "source",
    "as",
    "when",
    "local",
    "self",
    "true",
    "false",
    "tcp",
    "udp",
    "sctp",
    "icmp",
    "icmpv6",
    "ipip",
    "tcp/udp",
    "udp/icmp",
    "foo",
    "bar",
    "k8s.api",
    "roles",
    "whenever",
    "pods",
    "nodes",
    "a",
    "b",
    "c",
    "etcd_client",
    "port_x",
    "->",
    "-",
    "|",
    "||",
    "&&",
    "!",
    "!=",
    "==",
    "=",
    ":",
    ",",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "[3]",
    "[1, 2]",
    "80",
    "443",
    "0",
    "65536",
    "8000-8080",
    "90-80",
    "10.0.0.1",
    "10.0.0.0/24",
    "::/0",
    "fd00::/8",
    "1.2.3",
    "\"text\"",
    "\"a # b\"",
    "\"esc \\\" aped\"",
    "\"open",
    "# comment\n",
    "\n",
    "\n\n",
    " ",
    "\t",
    "a -> b : tcp 80",
    "a -> b { udp 53 }",
    "when x && !y || (z == k)",
    "x.",
    "7x",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((0..PIECES.len(), prop::bool::ANY), 1..40).prop_map(|picks| {
        let mut text = String::new();
        for (index, newline) in picks {
            text.push_str(PIECES.get(index).copied().unwrap_or_default());
            text.push(if newline { '\n' } else { ' ' });
        }
        text
    })
}

/// Well-formed statements, whose pieces the strategies below replace or space out.
const STATEMENTS: &[&str] = &[
    "role r \"R\"",
    "external e = 10.0.0.0/8, ::/0 \"E\"",
    "group g = a | b.c \"G\"",
    "flag f \"F\" = true",
    "option o = x | y \"O\" = x",
    "param p = 80 \"P\"",
    "service s = tcp/udp 53, 54-55 \"S\"",
    "note 3 \"N\" when f && !g local",
    "never a -> b : udp 8472 \"V\"",
    "set o = y",
    "bind r = 10.0.0.1, fd00::1",
    "use rancher.roles as rr",
    "a | b -> c : tcp 80, udp 53 [1] when x \"d\", icmp local",
    "a -> self when (x || y) && z != w [2] { tcp p, 8000-8010 \"t\" ipip }",
    "k8s.a -> b.c.d : svc, tcp/udp 1 - 2, q.p when !!!(a.b == true) || !c [1,2] local",
    "a -> b when x { icmp/icmpv6 , svc tcp 1 , 2 }",
];

/// Statements that are mostly right, with one piece replaced.
fn near_miss() -> impl Strategy<Value = String> {
    (0..STATEMENTS.len(), 0..PIECES.len(), 0..64usize).prop_map(|(s, piece, at)| {
        let statement = STATEMENTS.get(s).copied().unwrap_or_default();
        let words: Vec<&str> = statement.split(' ').collect();
        let at = at % words.len();
        let mut out: Vec<&str> = words.clone();
        if let Some(slot) = out.get_mut(at) {
            *slot = PIECES.get(piece).copied().unwrap_or_default();
        }
        format!("{}\nrole after\n", out.join(" "))
    })
}

/// Well-formed statements with white space, comments or nothing between their pieces.
fn spaced_out() -> impl Strategy<Value = String> {
    const GAPS: &[&str] = &[" ", "  ", "\n", "\n  ", " # c\n", "\t", "", "\r\n"];
    (0..STATEMENTS.len(), prop::collection::vec(0..GAPS.len(), 40)).prop_map(|(s, gaps)| {
        let statement = STATEMENTS.get(s).copied().unwrap_or_default();
        let mut out = String::new();
        for (i, word) in statement.split(' ').enumerate() {
            out.push_str(GAPS.get(gaps.get(i).copied().unwrap_or(0)).copied().unwrap_or(" "));
            out.push_str(word);
        }
        format!("{out}\nrole after\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_text(text in soup()) {
        assert_same("random text", &text);
    }

    #[test]
    fn near_misses(text in near_miss()) {
        assert_same("near miss", &text);
    }

    #[test]
    fn white_space_anywhere(text in spaced_out()) {
        assert_same("spaced out", &text);
    }
}
