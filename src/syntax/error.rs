//! Turns pest's errors into `E0001` diagnostics worded for people.

use super::Rule;
use crate::diag::{Code, Diagnostic};
use crate::span::{FileId, Span};

/// The diagnostic for a statement that does not parse, and the offset where the problem is.
pub fn syntax(file: FileId, text: &str, offset: usize, error: &pest::error::Error<Rule>) -> (Diagnostic, usize) {
    let at = offset
        + match error.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((start, _)) => start,
        };
    let mut expected: Vec<&str> = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.iter().map(|r| expects(*r)).collect(),
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    expected.sort_unstable();
    expected.dedup();
    if expected.contains(&"`:` or `{`") {
        // Block modifiers may precede `{`, but "expected `:` or `{`" is what the user needs to read.
        expected.retain(|e| *e != MODIFIER);
    }
    if let Some(diagnostic) = unterminated_string(file, text, at) {
        return (diagnostic, at);
    }
    let found = found_token(text, at);
    let end = at + found.len();
    let label = if found.is_empty() { "unexpected end of file".to_string() } else { format!("unexpected `{found}`") };
    let message = match expected.as_slice() {
        [] => "syntax error".to_string(),
        [one] => format!("expected {one}"),
        [init @ .., last] => format!("expected {} or {last}", init.join(", ")),
    };
    let mut diagnostic = Diagnostic::new(Code::Syntax, message, Span::new(file, at, end), label);
    if expected.contains(&"a name") && super::keywords::is_reserved(&found) {
        diagnostic = diagnostic
            .with_help(format!("`{found}` is a reserved word (a keyword or a protocol); choose another name"));
    } else if let Some(help) = help_for(&expected) {
        diagnostic = diagnostic.with_help(help);
    }
    (diagnostic, at)
}

const MODIFIER: &str = "a note reference `[n]`, `when`, `local`, `management` or a description";

/// A `"` with no closing quote on its line: say so, rather than what the grammar expected next.
fn unterminated_string(file: FileId, text: &str, at: usize) -> Option<Diagnostic> {
    let rest = text.get(at..)?;
    let line = rest.split('\n').next().unwrap_or_default();
    let mut escaped = false;
    let closed = line.char_indices().skip(1).any(|(_, c)| {
        let close = c == '"' && !escaped;
        escaped = c == '\\' && !escaped;
        close
    });
    if !line.starts_with('"') || closed {
        return None;
    }
    let end = at + line.trim_end().len();
    Some(
        Diagnostic::new(
            Code::Syntax,
            "string is not closed",
            Span::new(file, at, end),
            "this string runs to the end of the line",
        )
        .with_help("strings end on the line they start on; close it with `\"`"),
    )
}

/// Rewords an error at the start of a statement that follows another on the same line:
/// almost always the earlier statement's tail, which the grammar did not accept.
pub fn trailing(file: FileId, text: &str, start: usize, previous: Span) -> Diagnostic {
    if let Some(unclosed) = unterminated_string(file, text, start) {
        return unclosed;
    }
    let found = found_token(text, start);
    let span = Span::new(file, start, start + found.len());
    Diagnostic::new(Code::Syntax, format!("unexpected `{found}` after the end of a statement"), span, "not part of the statement")
        .with_secondary(previous, "this statement ends here")
        .with_help("the rest of the line is not part of the statement before it; check that statement's syntax in docs/language.md")
}

pub fn too_deep(file: FileId, at: usize) -> Diagnostic {
    Diagnostic::new(
        Code::NestingTooDeep,
        format!("parentheses nest deeper than {} levels", super::MAX_NESTING),
        Span::new(file, at, at + 1),
        "too deep from here",
    )
    .with_help("split the condition with a `note`, or drop parentheses that `&&` and `||` precedence makes redundant")
}

/// The token at `at`, for the label: a word, or one character, at most 24 characters.
fn found_token(text: &str, at: usize) -> String {
    let rest = text.get(at..).unwrap_or_default();
    let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.').take(24).collect();
    if !word.is_empty() {
        return word;
    }
    rest.chars()
        .next()
        .filter(|c| !c.is_whitespace() || *c == ' ')
        .map(String::from)
        .unwrap_or_else(|| if rest.is_empty() { String::new() } else { "end of line".into() })
}

fn help_for(expected: &[&str]) -> Option<&'static str> {
    if expected.contains(&"`->`") {
        return Some("a statement starts with a keyword (`role`, `flag`, `use`, ...) or is a flow `from -> to : spec`");
    }
    if expected.contains(&"`:` or `{`") {
        return Some("a flow needs its ports: `a -> b : tcp 443` or `a -> b { tcp 443 }`");
    }
    if expected.contains(&"a protocol") {
        return Some("`/` joins protocols that share the ports, as in `tcp/udp 53`; a protocol follows every `/`");
    }
    None
}

/// What a rule looks like to a user, as the object of "expected ...".
/// Exhaustive on purpose: a new grammar rule must be named here.
fn expects(rule: Rule) -> &'static str {
    match rule {
        Rule::statement
        | Rule::module_decl
        | Rule::source_decl
        | Rule::use_decl
        | Rule::flag_decl
        | Rule::option_decl
        | Rule::param_decl
        | Rule::role_decl
        | Rule::external_decl
        | Rule::group_decl
        | Rule::service_decl
        | Rule::note_decl
        | Rule::never_decl
        | Rule::set_stmt
        | Rule::bind_stmt => "a statement",
        Rule::use_alias => "`as`",
        Rule::flag_default | Rule::option_default | Rule::param_default => "`=` and a default",
        Rule::choices => "the choices, `a | b`",
        Rule::members => "the members, `a | b`",
        Rule::set_value => "a value (`true`, `false`, a port or a choice)",
        Rule::flow => "a flow `from -> to`",
        Rule::arrow => "`->`",
        Rule::endpoints | Rule::endpoint => "a role, external or group",
        Rule::inline_body | Rule::block_body => "`:` or `{`",
        Rule::spec | Rule::spec_head | Rule::unknown_head | Rule::service_ref => "a protocol, port or service",
        Rule::ported_head | Rule::portless_head | Rule::protocol | Rule::ported_protocol | Rule::portless_protocol => {
            "a protocol"
        }
        Rule::port_list
        | Rule::port_item
        | Rule::port_range
        | Rule::port_param
        | Rule::number_list
        | Rule::number_item => "a port",
        Rule::modifier => MODIFIER,
        Rule::note_refs => "a note reference `[n]`",
        Rule::when_clause => "`when`",
        Rule::expr | Rule::and_expr | Rule::unary | Rule::atom | Rule::comparison => "a condition",
        Rule::not_op => "`!`",
        Rule::cmp_op => "`==` or `!=`",
        Rule::selector => "`pods { ... }` or `nodes { ... }`",
        Rule::selector_kind => "`pods` or `nodes`",
        Rule::label | Rule::label_part | Rule::label_word => "a label `key: value`",
        Rule::namespace_clause => "`in namespace`",
        Rule::address_list | Rule::address => "an IP address or prefix",
        Rule::keyword => "a keyword",
        Rule::name | Rule::qualified_name | Rule::dotted_name => "a name",
        Rule::self_kw => "`self`",
        Rule::local_kw => "`local`",
        Rule::management_kw => "`management`",
        Rule::bool_lit => "`true` or `false`",
        Rule::note_label => "a note number",
        Rule::port_number => "a port number",
        Rule::string | Rule::string_body => "a quoted string",
        Rule::WHITESPACE | Rule::COMMENT => "white space",
        Rule::name_char => "a letter, digit or `_`",
        Rule::glued_keyword => "a keyword",
        Rule::head_word => "a protocol",
    }
}
