//! `portc lsp`: what the language server needs of the file system. The stdlib modules are written
//! as read-only files to a cache directory, so that any editor can open them after a
//! go-to-definition without client code of its own; the workspace's `.ports` files are listed for
//! find-references and rename; the rest is `portc::lsp` over standard input and output.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use portc::{FsLoader, SourceLoader as _};

/// At most this many files of a workspace are searched for the uses of a name.
const MAX_WORKSPACE_FILES: usize = 2000;

/// Serves one editor until it says `exit`.
pub fn run(stdlib_dir: Option<String>) -> Result<(), String> {
    let stdlib_dir = match stdlib_dir.map(PathBuf::from).or_else(default_stdlib_dir) {
        Some(dir) => match write_stdlib(&dir) {
            Ok(dir) => Some(dir),
            Err(why) => {
                // The server still works; only definitions in the stdlib go unanswered.
                eprintln!("portc lsp: cannot write the stdlib to `{}`: {why}", dir.display());
                None
            }
        },
        None => None,
    };
    let host = portc::lsp::Host {
        loader: Box::new(FsLoader),
        list: Box::new(|folder| ports_files(Path::new(folder))),
        stdlib_dir: stdlib_dir.map(|d| d.to_string_lossy().into_owned()),
    };
    let (connection, io_threads) = lsp_server::Connection::stdio();
    portc::lsp::serve(connection, host)?;
    io_threads.join().map_err(|e| format!("the connection failed: {e}"))
}

/// `$XDG_CACHE_HOME/portc/stdlib-VERSION-HASH` (or under `~/.cache`): one directory per stdlib
/// content, so a newer portc never serves an older copy.
fn default_stdlib_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(cache.join("portc").join(format!("stdlib-{}-{:016x}", env!("CARGO_PKG_VERSION"), stdlib_hash())))
}

/// FNV-1a over every module's path and text.
fn stdlib_hash() -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for module in portc::stdlib::modules() {
        for byte in module.relative.bytes().chain([0]).chain(module.text.bytes()).chain([0]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// Writes every stdlib module that is not there yet, read-only; the directory, absolute.
fn write_stdlib(dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let dir = std::fs::canonicalize(dir).map_err(|e| e.to_string())?;
    for module in portc::stdlib::modules() {
        let path = dir.join(module.relative);
        if FsLoader.read(&path.to_string_lossy()).is_ok_and(|bytes| bytes == module.text.as_bytes()) {
            continue;
        }
        let parent = path.parent().unwrap_or(&dir);
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        let mut file = tempfile::NamedTempFile::new_in(parent).map_err(|e| e.to_string())?;
        file.write_all(module.text.as_bytes()).map_err(|e| e.to_string())?;
        let read_only = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o444);
        file.as_file().set_permissions(read_only).map_err(|e| e.to_string())?;
        // Another server may have written it meanwhile; the content is the same.
        file.persist(&path).map_err(|e| e.error.to_string())?;
    }
    Ok(dir)
}

/// The `.ports` files under a folder, skipping hidden directories and build output, sorted.
fn ports_files(folder: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && !name.starts_with('.') && name != "target" && name != "node_modules" {
                stack.push(path);
            } else if kind.is_file() && name.ends_with(".ports") && out.len() < MAX_WORKSPACE_FILES {
                out.push(path.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}
