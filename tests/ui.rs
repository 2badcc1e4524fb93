//! Snapshot tests of diagnostics: every file in tests/ui/ is checked and its rendered diagnostics snapshotted.

use std::path::Path;

use portc::FsLoader;
use portc::diag::Code;

/// The path relative to the crate root, so snapshots do not depend on where the repository lives.
fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

#[test]
fn ui() {
    insta::glob!("ui/*.ports", |path| {
        let name = relative(path);
        let bytes = std::fs::read(path).expect("test file is readable");
        let source = String::from_utf8_lossy(&bytes).replace('\0', "\u{2400}");
        let rendered = portc::check_and_render_plain(&name, &FsLoader);
        insta::assert_snapshot!(format!("--- source\n{source}\n--- diagnostics\n{rendered}"));
    });
}

#[test]
fn every_code_has_a_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/ui exists")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    for code in Code::ALL {
        let prefix = format!("{}_", code.as_str());
        let case = names.iter().find(|n| n.starts_with(&prefix));
        let Some(case) = case else { panic!("no tests/ui case for {}", code.as_str()) };
        let rendered = portc::check_and_render_plain(&format!("tests/ui/{case}"), &FsLoader);
        assert!(
            rendered.contains(&format!("[{}]", code.as_str())),
            "tests/ui/{case} does not produce {}:\n{rendered}",
            code.as_str()
        );
    }
}

#[test]
fn every_code_is_documented() {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md"))
        .expect("docs/diagnostics.md exists");
    for code in Code::ALL {
        assert!(
            docs.contains(&format!("## {}", code.as_str())),
            "docs/diagnostics.md lacks a section for {}",
            code.as_str()
        );
    }
}

#[test]
fn codes_are_unique() {
    let mut seen = std::collections::BTreeSet::new();
    for code in Code::ALL {
        assert!(seen.insert(code.as_str()), "{} is used twice", code.as_str());
    }
}
