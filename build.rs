//! Embeds every `stdlib/**/*.ports` file in the binary, so portc needs no files beside it.

#![allow(clippy::disallowed_methods)] // A build script's job is to read stdlib/ and write the table.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut out = String::from(
        "/// (module name, path under stdlib/, text), sorted by name.\npub static FILES: &[(&str, &str, &str)] = &[\n",
    );
    for relative in &files {
        let name = relative.trim_end_matches(".ports").replace('/', ".");
        let absolute = root.join(relative);
        writeln!(out, "    ({name:?}, {relative:?}, include_str!({:?})),", absolute.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("stdlib_files.rs");
    std::fs::write(dest, out).unwrap();
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "ports") {
            let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            files.push(relative);
        }
    }
}
