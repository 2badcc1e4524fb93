//! The reserved words of the language, listed once: the hand-written parser, the scanner and the
//! error wording read them here, and the tests check them against grammar/ports.pest, the
//! reference (docs/language.md) and the editor grammars.

use crate::protocol::Protocol;

/// Words that start a statement. A line that starts with one starts a statement, which is where
/// the parser resumes after an error.
pub const STATEMENT: &[&str] = &[
    "module", "source", "use", "flag", "option", "param", "role", "external", "group", "service", "note", "never",
    "set", "bind",
];

/// The other keywords: never names, never statement starts.
pub const OTHER: &[&str] = &["as", "when", "local", "management", "self", "true", "false"];

/// Words that are keywords only inside `bind` (selectors) and ordinary names elsewhere.
pub const SELECTOR: &[&str] = &["pods", "nodes", "in", "namespace"];

/// Whether a word is a keyword, never a name (the grammar's `keyword`, protocols aside).
pub fn is_keyword(word: &str) -> bool {
    // The hand-written parser asks this of every word it reads: compare lengths before bytes.
    let same = |k: &&str| k.len() == word.len() && **k == *word;
    STATEMENT.iter().any(same) || OTHER.iter().any(same)
}

/// Whether a word is reserved: a keyword or a protocol name (the grammar's `keyword`).
pub fn is_reserved(word: &str) -> bool {
    is_keyword(word) || Protocol::from_name(word).is_some()
}

/// Every reserved word: the keywords, then the protocol names.
pub fn reserved() -> impl Iterator<Item = &'static str> {
    STATEMENT.iter().chain(OTHER).copied().chain(Protocol::ALL.iter().map(|p| p.name()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const GRAMMAR: &str = include_str!("../../grammar/ports.pest");

    /// The quoted words of one rule of ports.pest, `name = @{ ... }` up to the next rule.
    fn words_of(rule: &str) -> BTreeSet<String> {
        let start = GRAMMAR
            .lines()
            .position(|l| l.split_whitespace().next() == Some(rule) && l.contains('='))
            .unwrap_or_else(|| panic!("no rule `{rule}` in ports.pest"));
        let mut body = String::new();
        for (i, line) in GRAMMAR.lines().enumerate().skip(start) {
            let next_rule = !line.starts_with(char::is_whitespace) && !line.starts_with(['(', ')', '}']);
            if i > start && (line.trim().is_empty() || line.trim_start().starts_with("//") || next_rule) {
                break;
            }
            body.push_str(line.split("//").next().unwrap_or_default());
            body.push('\n');
        }
        body.split('"')
            .skip(1)
            .step_by(2)
            .filter(|w| w.chars().all(|c| c.is_ascii_alphanumeric()))
            .map(String::from)
            .collect()
    }

    fn set(words: impl IntoIterator<Item = &'static str>) -> BTreeSet<String> {
        words.into_iter().map(String::from).collect()
    }

    #[test]
    fn the_reserved_words_are_the_grammars_keyword_rule() {
        assert_eq!(set(reserved()), words_of("keyword"));
        assert_eq!(reserved().count(), words_of("keyword").len(), "a word listed twice");
    }

    #[test]
    fn the_protocols_are_the_grammars() {
        let ported = set(Protocol::ALL.iter().filter(|p| p.has_ports()).map(|p| p.name()));
        let portless = set(Protocol::ALL.iter().filter(|p| !p.has_ports()).map(|p| p.name()));
        assert_eq!(ported, words_of("ported_protocol"));
        assert_eq!(portless, words_of("portless_protocol"));
    }

    #[test]
    fn glued_keywords_are_the_statement_words_and_the_words_that_precede_a_name() {
        let mut expected = set(STATEMENT.iter().copied());
        expected.extend(set(["as", "when", "in", "namespace"]));
        assert_eq!(expected, words_of("glued_keyword"));
    }

    #[test]
    fn every_statement_rule_starts_with_a_statement_word() {
        let definitions = GRAMMAR.lines().filter(|l| l.split_whitespace().nth(1) == Some("="));
        let statement_rules: Vec<&str> = definitions
            .filter(|l| l.split_whitespace().next().is_some_and(|n| n.ends_with("_decl") || n.ends_with("_stmt")))
            .collect();
        assert!(statement_rules.len() >= STATEMENT.len());
        let mut starts = BTreeSet::new();
        for line in statement_rules {
            let rule = line.split_whitespace().next().unwrap_or_default();
            let first = line.split("!glued_keyword ~ \"").nth(1).and_then(|rest| rest.split('"').next());
            starts.insert(first.unwrap_or_else(|| panic!("{rule} does not start with a keyword")).to_string());
        }
        assert_eq!(starts, set(STATEMENT.iter().copied()));
    }

    #[test]
    fn selector_words_are_the_grammars() {
        let mut grammar = words_of("selector_kind");
        grammar.extend(words_of("namespace_clause"));
        assert_eq!(grammar, set(SELECTOR.iter().copied()));
        assert!(SELECTOR.iter().all(|w| !is_reserved(w)), "selector words are names elsewhere");
    }

    #[test]
    fn the_reference_lists_every_reserved_word() {
        let docs = include_str!("../../docs/language.md");
        let section = docs.split("**Reserved words.**").nth(1).and_then(|s| s.split("\n\n").next()).unwrap_or_default();
        for word in reserved() {
            assert!(section.contains(&format!("`{word}`")), "docs/language.md does not list `{word}` as reserved");
        }
    }
}
