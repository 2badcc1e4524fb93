//! The editor grammars in editors/ against grammar/ports.pest and the files portc ships:
//! tree-sitter parses every example and stdlib file and passes its corpus; the TextMate and Vim
//! grammars pass their own tools' tests; and all three know every keyword and operator of ports.pest.

#![allow(clippy::disallowed_methods)] // Tests read the repository's grammars and sources.

mod support;

use support::{Need, Test};

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use tree_sitter::{Node, Parser, Query, QueryCursor, StreamingIterator};

fn main() -> std::process::ExitCode {
    let node = [
        Need::Tool("node"),
        Need::Installed(node_modules().join("vscode-tmgrammar-test"), "run `npm ci` in editors/test (.ci/run does)"),
    ];
    support::run(vec![
        Test::new(
            "tree_sitter_parses_every_example_and_stdlib_file",
            &[],
            tree_sitter_parses_every_example_and_stdlib_file,
        ),
        Test::new("tree_sitter_corpus", &[], tree_sitter_corpus),
        Test::new(
            "tree_sitter_queries_compile_and_highlight_every_token",
            &[],
            tree_sitter_queries_compile_and_highlight_every_token,
        ),
        Test::new("ports_pest_vocabulary_is_read_whole", &[], ports_pest_vocabulary_is_read_whole),
        Test::new(
            "every_editor_grammar_knows_every_keyword_and_operator_of_ports_pest",
            &[],
            every_editor_grammar_knows_every_keyword_and_operator_of_ports_pest,
        ),
        Test::new(
            "the_drift_check_sees_a_missing_keyword_or_operator",
            &[],
            the_drift_check_sees_a_missing_keyword_or_operator,
        ),
        Test::new(
            "textmate_grammar_passes_vscode_tmgrammar_test",
            &node,
            textmate_grammar_passes_vscode_tmgrammar_test,
        ),
        Test::new(
            "textmate_grammar_highlights_every_shipped_file_without_invalid_scopes",
            &node,
            textmate_grammar_highlights_every_shipped_file_without_invalid_scopes,
        ),
        Test::new(
            "textmate_stdlib_test_is_the_stdlib_module_with_assertions",
            &[],
            textmate_stdlib_test_is_the_stdlib_module_with_assertions,
        ),
        Test::new(
            "vim_syntax_passes_its_headless_neovim_tests",
            &[Need::Tool("nvim")],
            vim_syntax_passes_its_headless_neovim_tests,
        ),
    ])
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The `.ports` files under `dir` (relative to the root), recursively, sorted.
fn ports_files(dir: &str) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("readable directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "ports") {
                let relative = path.strip_prefix(root()).expect("under the root");
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join(dir), &mut files);
    files.sort();
    files
}

/// Every stdlib module and example: what each editor grammar must read without an error.
fn shipped_files() -> Vec<String> {
    let mut files = ports_files("stdlib");
    files.extend(ports_files("examples"));
    assert!(files.len() >= 40, "expected the stdlib and the examples, found {files:?}");
    files
}

// ---------------------------------------------------------------- tree-sitter

fn ts_parser() -> Parser {
    let mut parser = Parser::new();
    let language = tree_sitter_ports::LANGUAGE.into();
    parser.set_language(&language).expect("src/parser.c's ABI is one the tree-sitter crate loads");
    parser
}

/// The first ERROR or MISSING node of a tree, as `line:column: what`.
fn first_error(node: Node<'_>) -> Option<String> {
    if !node.has_error() {
        return None;
    }
    if node.is_error() || node.is_missing() {
        let at = node.start_position();
        let what = if node.is_missing() { format!("missing `{}`", node.kind()) } else { "syntax error".into() };
        return Some(format!("{}:{}: {what}", at.row + 1, at.column + 1));
    }
    let mut cursor = node.walk();
    node.children(&mut cursor).find_map(first_error)
}

fn tree_sitter_parses_every_example_and_stdlib_file() {
    let mut parser = ts_parser();
    let mut failures = Vec::new();
    for file in shipped_files() {
        let tree = parser.parse(read(&file), None).expect("the parser returns a tree");
        if let Some(error) = first_error(tree.root_node()) {
            failures.push(format!("{file}:{error}"));
        }
    }
    assert!(failures.is_empty(), "the tree-sitter grammar rejects shipped files:\n{}", failures.join("\n"));
}

/// One case of a tree-sitter corpus file (test/corpus/*.txt), in the format `tree-sitter test` reads.
struct CorpusCase {
    name: String,
    input: String,
    /// The expected tree as an S-expression; empty for an `:error` case.
    expected: String,
    /// `:error`: the input must parse with an error, whatever the tree.
    error: bool,
}

fn is_rule(line: &str, c: char) -> bool {
    line.len() >= 3 && line.chars().all(|x| x == c)
}

fn corpus_cases(text: &str) -> Vec<CorpusCase> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !is_rule(lines[i], '=') {
            i += 1;
            continue;
        }
        let header_end = (i + 1..lines.len()).find(|&j| is_rule(lines[j], '=')).expect("a closed case header");
        let header = &lines[i + 1..header_end];
        let divider = (header_end + 1..lines.len()).find(|&j| is_rule(lines[j], '-')).expect("a `---` divider");
        let next = (divider + 1..lines.len()).find(|&j| is_rule(lines[j], '=')).unwrap_or(lines.len());
        cases.push(CorpusCase {
            name: header.iter().filter(|l| !l.starts_with(':')).copied().collect::<Vec<_>>().join(" "),
            input: lines[header_end + 1..divider].join("\n").trim().to_string(),
            expected: lines[divider + 1..next].join(" "),
            error: header.iter().any(|l| l.trim() == ":error"),
        });
        i = next;
    }
    cases
}

/// An S-expression with one space between tokens and none before `)`; without field names
/// (`from:`) when `strip_fields`, as `tree-sitter test` compares them when the expected tree has none.
fn normalize_sexp(sexp: &str, strip_fields: bool) -> String {
    let tokens = sexp.split_whitespace().filter(|t| !(strip_fields && t.ends_with(':')));
    tokens.collect::<Vec<_>>().join(" ").replace(" )", ")")
}

fn tree_sitter_corpus() {
    let mut parser = ts_parser();
    let (mut passed, mut failures) = (0, Vec::new());
    let mut files: Vec<_> = std::fs::read_dir(root().join("editors/tree-sitter-ports/test/corpus"))
        .expect("the corpus directory")
        .flatten()
        .map(|entry| entry.path())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable corpus file");
        for case in corpus_cases(&text) {
            let tree = parser.parse(&case.input, None).expect("a tree");
            let ok = if case.error {
                tree.root_node().has_error()
            } else {
                let actual = tree.root_node().to_sexp();
                normalize_sexp(&actual, !case.expected.contains(':')) == normalize_sexp(&case.expected, false)
            };
            if ok {
                passed += 1;
            } else {
                let actual = normalize_sexp(&tree.root_node().to_sexp(), true);
                failures.push(format!("{}: {}\n  got {actual}", file.display(), case.name));
            }
        }
    }
    println!("tree-sitter corpus: {passed} passed, {} failed", failures.len());
    assert!(passed >= 30, "the corpus has too few cases: {passed}");
    assert!(failures.is_empty(), "corpus cases fail:\n{}", failures.join("\n"));
}

fn tree_sitter_queries_compile_and_highlight_every_token() {
    let language = tree_sitter_ports::LANGUAGE.into();
    for (name, source) in [
        ("highlights", tree_sitter_ports::HIGHLIGHTS_QUERY),
        ("folds", tree_sitter_ports::FOLDS_QUERY),
        ("indents", tree_sitter_ports::INDENTS_QUERY),
    ] {
        Query::new(&language, source).unwrap_or_else(|e| panic!("queries/{name}.scm does not fit the grammar: {e}"));
    }
    let query = Query::new(&language, tree_sitter_ports::HIGHLIGHTS_QUERY).expect("compiles");
    let mut parser = ts_parser();
    let mut failures = Vec::new();
    for file in shipped_files() {
        let text = read(&file);
        let tree = parser.parse(&text, None).expect("a tree");
        let mut captured = Vec::new();
        let mut cursor = QueryCursor::new();
        let mut captures = cursor.captures(&query, tree.root_node(), text.as_bytes());
        while let Some((m, index)) = captures.next() {
            captured.push(m.captures[*index].node.byte_range());
        }
        if let Some(leaf) = uncaptured_leaf(tree.root_node(), &captured) {
            let at = leaf.start_position();
            failures.push(format!("{file}:{}:{}: `{}` has no capture", at.row + 1, at.column + 1, leaf.kind()));
        }
    }
    assert!(failures.is_empty(), "highlights.scm leaves tokens unhighlighted:\n{}", failures.join("\n"));
}

/// The first leaf (token) of the tree that no capture covers.
fn uncaptured_leaf<'t>(node: Node<'t>, captured: &[std::ops::Range<usize>]) -> Option<Node<'t>> {
    let range = node.byte_range();
    if captured.iter().any(|c| c.start <= range.start && range.end <= c.end) {
        return None;
    }
    if node.child_count() == 0 {
        return Some(node);
    }
    let mut cursor = node.walk();
    node.children(&mut cursor).find_map(|child| uncaptured_leaf(child, captured))
}

// ---------------------------------------------------------------- no drift from ports.pest

/// The keywords and operators of grammar/ports.pest: every string literal in it, a word being a
/// keyword and anything else an operator, but for what only spells names, strings and comments.
fn pest_vocabulary(grammar: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    const LEXICAL: &[&str] = &[" ", "\t", "\r", "\n", "#", "\"", "\\", "_", "."];
    let literals = string_literals(grammar, false);
    let keywords: BTreeSet<String> = literals
        .iter()
        .filter(|l| l.len() > 1 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .cloned()
        .collect();
    let operators =
        literals.iter().filter(|l| !keywords.contains(*l) && !LEXICAL.contains(&l.as_str())).cloned().collect();
    (keywords, operators)
}

/// The string literals of a pest grammar or a JavaScript file, unescaped, outside comments.
/// With `js`, single quotes delimit strings too and `/.../` regular expressions are skipped.
fn string_literals(source: &str, js: bool) -> BTreeSet<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut literals = BTreeSet::new();
    let mut last = '(';
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            i = (i..chars.len()).find(|&j| chars[j] == '\n').unwrap_or(chars.len());
        } else if c == '/' && next == Some('*') {
            i = (i + 2..chars.len())
                .find(|&j| chars[j] == '*' && chars.get(j + 1) == Some(&'/'))
                .map_or(chars.len(), |j| j + 2);
        } else if c == '"' || (js && c == '\'') {
            let (literal, end) = quoted(&chars, i);
            literals.insert(literal);
            i = end;
            last = c;
        } else if js && c == '/' && "(,=:[!&|?{};>".contains(last) {
            i = regex_end(&chars, i);
            last = '/';
        } else {
            if !c.is_whitespace() {
                last = c;
            }
            i += 1;
        }
    }
    literals
}

/// The unescaped text of the string literal opening at `start`, and the index after it.
fn quoted(chars: &[char], start: usize) -> (String, usize) {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                let escaped = chars.get(i + 1).copied().unwrap_or('\\');
                text.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
                i += 2;
            }
            c if c == quote => return (text, i + 1),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    (text, i)
}

/// The index after the JavaScript regular expression opening at `start`.
fn regex_end(chars: &[char], start: usize) -> usize {
    let (mut i, mut in_class) = (start + 1, false);
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => i += 1,
            '[' => in_class = true,
            ']' => in_class = false,
            '/' if !in_class => return i + 1,
            '\n' => return i,
            _ => {}
        }
        i += 1;
    }
    i
}

/// What a grammar is known to spell: the words of its patterns (keywords), and the patterns
/// that are one literal token (operators).
struct Spelled {
    words: BTreeSet<String>,
    tokens: BTreeSet<String>,
}

impl Spelled {
    /// From regular expressions: `\X` escapes separate words, and a pattern made only of
    /// literal characters (escaped or not) spells the token it matches.
    fn from_patterns<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Spelled {
        let (mut words, mut tokens) = (BTreeSet::new(), BTreeSet::new());
        for pattern in patterns {
            let (mut spaced, mut literal, mut is_literal) = (String::new(), String::new(), true);
            let mut chars = pattern.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    spaced.push(' ');
                    literal.extend(chars.next());
                } else {
                    spaced.push(c);
                    literal.push(c);
                    is_literal &= !c.is_ascii_alphanumeric() && !"()[]{}?*+.^$|".contains(c);
                }
            }
            words.extend(spaced.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').map(str::to_string));
            if is_literal && !literal.is_empty() {
                tokens.insert(literal);
            }
        }
        Spelled { words, tokens }
    }

    /// What of `keywords` and `operators` this grammar does not spell.
    fn missing(&self, keywords: &BTreeSet<String>, operators: &BTreeSet<String>) -> Vec<String> {
        let words = keywords.iter().filter(|k| !self.words.contains(*k));
        let tokens = operators.iter().filter(|o| !self.tokens.contains(*o));
        words.chain(tokens).map(|m| format!("`{m}`")).collect()
    }
}

/// The TextMate grammar's regular expressions (`match`, `begin`, `end`).
fn textmate_spelled(json: &str) -> Spelled {
    fn collect<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("match" | "begin" | "end", serde_json::Value::String(s)) => out.push(s),
                        _ => collect(value, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let value: serde_json::Value = serde_json::from_str(json).expect("the TextMate grammar is JSON");
    let mut patterns = Vec::new();
    collect(&value, &mut patterns);
    Spelled::from_patterns(patterns)
}

/// The Vim syntax file's patterns (`syn match G /.../`, `start=/.../`, `end=/.../`) and keywords.
/// In Vim's default magic, `|` `{` `}` `(` `)` are literal and `\|` `\{` ... are special, so
/// an operator's pattern is kept as written when it has no backslash.
fn vim_spelled(vim: &str) -> Spelled {
    let mut patterns = Vec::new();
    for line in vim.lines() {
        let mut rest = line;
        while let Some((at, key)) = next_pattern_key(rest) {
            let after = &rest[at + key.len()..];
            // After `syn match`, the group name comes before the pattern.
            let after = if key == "syn match " { after.split_once(' ').map_or("", |(_, p)| p) } else { after };
            let Some(delimiter) = after.chars().next() else { break };
            let body = &after[delimiter.len_utf8()..];
            let end = pattern_end(body, delimiter);
            patterns.push(&body[..end]);
            rest = &body[end..];
        }
        if let Some(keywords) = line.strip_prefix("syn keyword ") {
            patterns.extend(keywords.split_whitespace().skip(1));
        }
    }
    let mut spelled = Spelled::from_patterns(patterns.iter().copied());
    spelled.tokens.extend(patterns.iter().filter(|p| !p.contains('\\') && !p.is_empty()).map(|p| p.to_string()));
    spelled
}

/// Where the next Vim pattern of `text` is introduced, and by what.
fn next_pattern_key(text: &str) -> Option<(usize, &'static str)> {
    ["syn match ", "start=", "end="].into_iter().filter_map(|key| text.find(key).map(|at| (at, key))).min()
}

/// The length of a Vim pattern up to its closing `delimiter`.
fn pattern_end(body: &str, delimiter: char) -> usize {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if c == delimiter && !escaped {
            return i;
        }
        escaped = c == '\\' && !escaped;
    }
    body.len()
}

/// The tree-sitter grammar's string literals.
fn grammar_js_spelled(js: &str) -> Spelled {
    let literals = string_literals(js, true);
    Spelled { words: literals.clone(), tokens: literals }
}

/// What each editor grammar does not spell of ports.pest's keywords and operators.
fn drift(pest: &str, textmate: &str, vim: &str, grammar_js: &str) -> Vec<String> {
    let (keywords, operators) = pest_vocabulary(pest);
    let grammars = [
        ("editors/vscode/syntaxes/ports.tmLanguage.json", textmate_spelled(textmate)),
        ("editors/vim/syntax/ports.vim", vim_spelled(vim)),
        ("editors/tree-sitter-ports/grammar.js", grammar_js_spelled(grammar_js)),
    ];
    let mut problems = Vec::new();
    for (file, spelled) in grammars {
        let missing = spelled.missing(&keywords, &operators);
        if !missing.is_empty() {
            problems.push(format!("{file} lacks {}", missing.join(" ")));
        }
    }
    problems
}

struct Sources {
    pest: String,
    textmate: String,
    vim: String,
    grammar_js: String,
}

fn sources() -> Sources {
    Sources {
        pest: read("grammar/ports.pest"),
        textmate: read("editors/vscode/syntaxes/ports.tmLanguage.json"),
        vim: read("editors/vim/syntax/ports.vim"),
        grammar_js: read("editors/tree-sitter-ports/grammar.js"),
    }
}

fn ports_pest_vocabulary_is_read_whole() {
    let (keywords, operators) = pest_vocabulary(&read("grammar/ports.pest"));
    println!("keywords: {keywords:?}\noperators: {operators:?}");
    for keyword in ["module", "role", "never", "when", "tcp", "icmpv6", "vrrp", "pods", "nodes", "in", "namespace"] {
        assert!(keywords.contains(keyword), "`{keyword}` not read from ports.pest: {keywords:?}");
    }
    for operator in ["->", "||", "&&", "!", "==", "!=", "|", ":", ",", "/", "-", "=", "[", "]", "{", "}", "(", ")"] {
        assert!(operators.contains(operator), "`{operator}` not read from ports.pest: {operators:?}");
    }
    // The Rust list that the parsers and the error wording read is ports.pest's too.
    for word in portc::syntax::keywords::reserved().chain(portc::syntax::keywords::SELECTOR.iter().copied()) {
        assert!(keywords.contains(word), "`{word}` of portc::syntax::keywords is not in ports.pest: {keywords:?}");
    }
    let unexpected: Vec<&String> = operators.iter().filter(|o| o.len() > 2).collect();
    assert!(unexpected.is_empty(), "not operators: {unexpected:?}");
}

fn every_editor_grammar_knows_every_keyword_and_operator_of_ports_pest() {
    let s = sources();
    let problems = drift(&s.pest, &s.textmate, &s.vim, &s.grammar_js);
    assert!(problems.is_empty(), "editor grammars drifted from grammar/ports.pest:\n{}", problems.join("\n"));
}

fn the_drift_check_sees_a_missing_keyword_or_operator() {
    // Each grammar with one keyword (`namespace`) or one operator (`->` or `&&`) taken out.
    let s = sources();
    let textmate = s.textmate.replace("namespace", "nmspace");
    let vim = s.vim.replace("/->/", "/-=>/");
    let grammar_js = s.grammar_js.replace("'&&'", "'&'");
    let problems = drift(&s.pest, &textmate, &vim, &grammar_js);
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].ends_with("lacks `namespace`"), "{problems:?}");
    assert!(problems[1].ends_with("lacks `->`"), "{problems:?}");
    assert!(problems[2].ends_with("lacks `&&`"), "{problems:?}");
}

// ---------------------------------------------------------------- TextMate, with its own tools

/// The test tools of editors/test (`npm ci` there).
fn node_modules() -> std::path::PathBuf {
    root().join("editors/test/node_modules")
}

fn run(command: &mut Command) -> String {
    let out = command.current_dir(root()).output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{command:?} failed:\n{text}");
    text
}

fn textmate_grammar_passes_vscode_tmgrammar_test() {
    let modules = node_modules();
    let cases = ports_files("editors/vscode/test");
    assert!(cases.len() >= 6, "{cases:?}");
    let out = run(Command::new("node")
        .arg(modules.join("vscode-tmgrammar-test/dist/unit.js"))
        .args(["--config", "editors/vscode/package.json"])
        .args(&cases));
    println!("{out}");
}

fn textmate_grammar_highlights_every_shipped_file_without_invalid_scopes() {
    let out = run(Command::new("node").arg("editors/test/no-invalid-scopes.js").args(shipped_files()));
    println!("{out}");
}

fn textmate_stdlib_test_is_the_stdlib_module_with_assertions() {
    // The annotated copy must not drift from the module it tests.
    let annotated = read("editors/vscode/test/stdlib-rancher-downstream-custom.ports");
    let lines: Vec<&str> = annotated.lines().skip(1).filter(|l| !is_assertion(l)).collect();
    assert_eq!(lines.join("\n") + "\n", read("stdlib/rancher/downstream/custom.ports"));
}

/// A line of vscode-tmgrammar-test's assertions: `#` then `^` or `<-`.
fn is_assertion(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('#').map(str::trim_start) else { return false };
    rest.starts_with('^') || rest.strip_prefix('<').is_some_and(|r| r.trim_start_matches('~').starts_with('-'))
}

// ---------------------------------------------------------------- Vim and Neovim

fn vim_syntax_passes_its_headless_neovim_tests() {
    let out = run(Command::new("nvim").args(["--headless", "-u", "NONE", "-i", "NONE", "-n"]).args([
        "--cmd",
        "set rtp^=editors/vim",
        "-c",
        "luafile editors/vim/test/run.lua",
    ]));
    println!("{out}");
    let summary = out.lines().rev().find(|l| l.ends_with(" failed")).expect("a `N passed, N failed` line");
    let passed: usize = summary.split(' ').next().and_then(|n| n.parse().ok()).expect("a count");
    assert!(passed >= 100 && summary.ends_with(" 0 failed"), "{summary}");
}
