//! House rules that no compiler checks: every source file says what it is for.

#![allow(clippy::disallowed_methods)] // Tests read the source tree.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    files.push(root.join("build.rs"));
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source");
        assert!(text.starts_with("//!"), "{} does not open with a `//!` line saying what it is for", file.display());
    }
}
