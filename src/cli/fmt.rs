//! `portc fmt`: finds the files, formats each (`portc::fmt`), and writes it back atomically, or
//! with `--check` prints what would change.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use portc::diag::SourceMap;
use portc::fmt::Refused;
use portc::{FsLoader, LoadError, SourceLoader};

/// Renders diagnostics as the command line asked (`--format`, `--color`).
pub type Report<'a> = &'a dyn Fn(&SourceMap, &[portc::diag::Diagnostic]) -> String;

/// What `portc fmt` does with each file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rewrite files that are not in the canonical layout.
    Write,
    /// Change nothing; print a unified diff of each file that would change.
    Check,
}

/// How the run went: the worst of its files.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Every file is (now) formatted.
    Clean,
    /// A file would change (`--check`) or has syntax errors.
    Failed,
    /// The formatter would have changed a file's meaning: a bug in portc.
    Bug,
}

/// Formats standard input to standard output (`portc fmt -`): what editors call.
pub fn stdin(mode: Mode, report: Report<'_>) -> Result<Verdict, String> {
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| format!("cannot read standard input: {e}"))?;
    let name = "<stdin>";
    let Some(text) = decode(name, bytes, report) else { return Ok(Verdict::Failed) };
    let formatted = match format(name, &text, report) {
        Ok(formatted) => formatted,
        Err(verdict) => return Ok(verdict),
    };
    let mut stdout = std::io::stdout().lock();
    let output = match mode {
        Mode::Write => formatted.clone(),
        Mode::Check => diff(name, &text, &formatted),
    };
    stdout.write_all(output.as_bytes()).map_err(|e| format!("cannot write output: {e}"))?;
    Ok(if mode == Mode::Check && formatted != text { Verdict::Failed } else { Verdict::Clean })
}

/// Formats every file named, and every `.ports` file under every directory named.
pub fn paths(paths: &[String], mode: Mode, report: Report<'_>) -> Result<Verdict, String> {
    let mut files = Vec::new();
    for path in paths {
        let path = Path::new(path);
        if path.is_dir() {
            ports_files(path, &mut files)?;
        } else if path.exists() {
            files.push(path.to_path_buf());
        } else {
            return Err(format!("cannot read `{}`: no such file or directory", path.display()));
        }
    }
    let mut worst = Verdict::Clean;
    for file in files {
        worst = worst.max(one(&file, mode, report)?);
    }
    Ok(worst)
}

fn one(file: &Path, mode: Mode, report: Report<'_>) -> Result<Verdict, String> {
    let name = file.display().to_string();
    let bytes = FsLoader.read(&name).map_err(|e| match e {
        LoadError::NotFound => format!("cannot read `{name}`: no such file"),
        LoadError::IsDirectory => format!("cannot read `{name}`: it is a directory"),
        LoadError::Other(why) => format!("cannot read `{name}`: {why}"),
    })?;
    let Some(text) = decode(&name, bytes, report) else { return Ok(Verdict::Failed) };
    let formatted = match format(&name, &text, report) {
        Ok(formatted) => formatted,
        Err(verdict) => return Ok(verdict),
    };
    if formatted == text {
        return Ok(Verdict::Clean);
    }
    match mode {
        Mode::Check => {
            print!("{}", diff(&name, &text, &formatted));
            Ok(Verdict::Failed)
        }
        Mode::Write => {
            // Atomically, keeping its permissions and any symbolic link to it.
            super::output::replace(file, &formatted)?;
            Ok(Verdict::Clean)
        }
    }
}

/// The file's text, or `None` after reporting why it is not text.
fn decode(name: &str, bytes: Vec<u8>, report: Report<'_>) -> Option<String> {
    match portc::syntax::decode(bytes) {
        Ok(text) => Some(text),
        Err(error) => {
            let mut map = SourceMap::default();
            let file = map.add(name, error.lossy.clone());
            eprint!("{}", report(&map, &[error.diagnostic(file)]));
            eprintln!("error: `{name}` is not formatted");
            None
        }
    }
}

/// The formatted text; or, after reporting why not, how bad that is.
fn format(name: &str, text: &str, report: Report<'_>) -> Result<String, Verdict> {
    match portc::fmt::format(text) {
        Ok(formatted) => Ok(formatted),
        Err(Refused::Syntax(diagnostics)) => {
            let mut map = SourceMap::default();
            map.add(name, text);
            eprint!("{}", report(&map, &diagnostics));
            eprintln!("error: `{name}` is not formatted: it has syntax errors");
            Err(Verdict::Failed)
        }
        Err(Refused::Bug(why)) => {
            eprintln!("internal error: `{name}` is not formatted: {why}; this is a bug in portc, please report it");
            Err(Verdict::Bug)
        }
    }
}

/// A unified diff from the file as it is to the file formatted, `git apply`-able.
fn diff(name: &str, text: &str, formatted: &str) -> String {
    similar::TextDiff::from_lines(text, formatted)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// The `.ports` files under `dir`, sorted, without hidden directories (`.git`, `.venv`).
fn ports_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_dir() && !hidden {
            ports_files(&path, out)?;
        } else if path.is_file() && path.extension().is_some_and(|e| e == "ports") {
            out.push(path);
        }
    }
    Ok(())
}
