//! What tools ask of a program (`portc::analysis`): the name at an offset, its definition and
//! every use of it, across modules; the whole syntax trees and trivia.

use portc::analysis::{Analysis, analyze};
use portc::resolve::Symbol;
use portc::span::Span;
use portc::{MemoryLoader, Root};

const MAIN: &str = r#"use "./common.ports" as c
role backup "Backup server"   # pulls the dumps
flag snapshots
note 1 "Only while snapshots are pulled" when snapshots
param dump_port = 9000
service dump = tcp dump_port "Dump"
group everyone = backup | c.lb

backup -> c.lb : dump [1]
never everyone -> backup : tcp 22
set snapshots = true
bind backup = 10.0.0.1
"#;

const COMMON: &str = "external lb \"Load balancer\"\nlb -> lb : tcp 1\n";

fn analysis() -> Analysis {
    let mut loader = MemoryLoader::default();
    loader.files.insert("main.ports".into(), MAIN.as_bytes().to_vec());
    loader.files.insert("common.ports".into(), COMMON.as_bytes().to_vec());
    analyze(&Root::File("main.ports".into()), &loader, &[]).expect("the root is readable")
}

/// The offset of the `nth` (0-based) occurrence of `needle` in the root.
fn at(needle: &str, nth: usize) -> u32 {
    let offset = MAIN.match_indices(needle).nth(nth).map(|(i, _)| i).unwrap_or_else(|| panic!("no {needle} #{nth}"));
    u32::try_from(offset).expect("small")
}

/// `file:text` of a span.
fn show(a: &Analysis, span: Span) -> String {
    let text = a.sources.text(span.file).get(span.start as usize..span.end as usize).unwrap_or("?");
    format!("{}:{text}", a.sources.name(span.file))
}

#[test]
fn a_name_leads_to_its_definition_in_another_module() {
    let a = analysis();
    assert!(a.diagnostics.is_empty(), "{:?}", a.diagnostics);
    let root = a.modules[0].file;
    let lb = a.reference_at(root, at("c.lb", 1) + 2).expect("a reference at `lb`");
    assert_eq!(show(&a, lb.span), "main.ports:lb");
    assert_eq!(show(&a, lb.definition), "common.ports:lb");
    assert!(!lb.is_declaration);
    let qualifier = a.reference_at(root, at("c.lb", 1)).expect("a reference at `c`");
    assert_eq!(show(&a, qualifier.span), "main.ports:c");
    assert!(matches!(qualifier.symbol, Symbol::Module(_)));
    assert_eq!(a.sources.name(qualifier.definition.file), "common.ports");
}

#[test]
fn every_use_of_a_role_in_order_declaration_included() {
    let a = analysis();
    let root = a.modules[0].file;
    // From the middle of a use, or from just after it, as an editor's cursor stands.
    for offset in [at("backup", 2) + 3, at("backup", 2) + 6] {
        let uses: Vec<String> = a.uses_at(root, offset).into_iter().map(|s| format!("{}", s.start)).collect();
        let expected: Vec<String> = (0..5).map(|n| format!("{}", at("backup", n))).collect();
        assert_eq!(uses, expected);
    }
    let declaration = a.reference_at(root, at("backup", 0)).expect("the declaration");
    assert!(declaration.is_declaration && declaration.span == declaration.definition);
}

#[test]
fn notes_params_flags_and_services_are_references_too() {
    let a = analysis();
    let root = a.modules[0].file;
    let definition = |needle: &str, nth: usize| a.definition_at(root, at(needle, nth)).map(|s| s.start);
    assert_eq!(a.definition_at(root, at("[1]", 0) + 1).map(|s| s.start), Some(at("note 1", 0) + 5));
    assert_eq!(definition("dump_port", 1), Some(at("dump_port", 0)));
    assert_eq!(definition("snapshots", 2), Some(at("snapshots", 0)));
    assert_eq!(definition("snapshots", 3), Some(at("snapshots", 0)));
    assert_eq!(definition("dump [1]", 0), Some(at("dump =", 0)));
    assert!(matches!(a.reference_at(root, at("[1]", 0) + 1).map(|r| r.symbol), Some(Symbol::Note(_))));
    // Nothing is named at an arrow, a keyword or a comment.
    for offset in [at("->", 0) + 1, at("never", 0) + 2, at("pulls", 0)] {
        assert!(a.reference_at(root, offset).is_none(), "at {offset}");
    }
}

#[test]
fn the_modules_keep_their_flows_and_trivia() {
    let a = analysis();
    let root = &a.modules[0];
    let flows = root.ast.items.iter().filter(|i| matches!(i, portc::ast::Item::Flow(_) | portc::ast::Item::Never(_)));
    assert_eq!(flows.count(), 2);
    assert_eq!(root.trivia.comments.len(), 1);
    assert_eq!(root.trivia.blank_lines.len(), 1);
    assert_eq!(a.module(a.modules[1].file).map(|m| m.path.as_str()), Some("common.ports"));
    assert_eq!(a.program().flows.len(), 2);
}
