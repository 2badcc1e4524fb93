//! Source files as they were at a git revision, read with the `git` command line (never by checking
//! the revision out), so that `portc diff HEAD~1:site.ports site.ports` compares a site with its
//! last commit. Files that the root `use`s are read at the same revision; stdlib modules are the
//! ones embedded in this portc.

use std::process::Command;

use crate::{LoadError, SourceLoader};

/// Reads files at one revision of the git repository around the current directory.
#[derive(Clone, Debug)]
pub struct GitLoader {
    revision: String,
    /// The repository's top directory, for absolute paths.
    top: String,
}

/// `REV:path` as the command line writes it: a revision and a path, neither empty.
pub fn split_revision(arg: &str) -> Option<(&str, &str)> {
    let (revision, path) = arg.split_once(':')?;
    (!revision.is_empty() && !path.is_empty()).then_some((revision, path))
}

impl GitLoader {
    /// A loader for `revision`; `Err` says why it cannot be read (no git, no repository, no such revision).
    pub fn new(revision: &str) -> Result<GitLoader, String> {
        let top = git(&["rev-parse", "--show-toplevel"])
            .map_err(|why| format!("cannot read files at revision `{revision}`: {why}"))?;
        let top = String::from_utf8_lossy(&top).trim().to_string();
        if revision.starts_with('-')
            || git(&["rev-parse", "--verify", "--quiet", &format!("{revision}^{{commit}}")]).is_err()
        {
            return Err(format!("no revision `{revision}` in the git repository at `{top}`"));
        }
        Ok(GitLoader { revision: revision.to_string(), top })
    }

    /// `REV:./path` for a relative path (git reads it from the current directory), `REV:path`
    /// relative to the top of the repository for an absolute one.
    fn object(&self, path: &str) -> Result<String, LoadError> {
        let Some(absolute) = path.strip_prefix('/') else {
            return Ok(format!("{}:./{path}", self.revision));
        };
        let top = self.top.trim_start_matches('/');
        match absolute.strip_prefix(top).and_then(|rest| rest.strip_prefix('/')) {
            Some(inside) => Ok(format!("{}:{inside}", self.revision)),
            None => Err(LoadError::Other(format!("it is outside the git repository at `{}`", self.top))),
        }
    }
}

impl SourceLoader for GitLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        let object = self.object(path)?;
        match git(&["cat-file", "blob", &object]) {
            Ok(bytes) => Ok(bytes),
            Err(why) => match git(&["cat-file", "-t", &object]) {
                Ok(kind) if kind.starts_with(b"tree") => Err(LoadError::IsDirectory),
                _ if why.contains("does not exist") || why.contains("exists on disk, but not in") => {
                    Err(LoadError::NotFound)
                }
                _ => Err(LoadError::Other(format!("git cannot read it at `{}`: {why}", self.revision))),
            },
        }
    }

    /// The path without `.` and `a/..` steps: the files are not on disk to be canonicalised.
    fn identity(&self, path: &str) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." if parts.last().is_some_and(|p| *p != "..") => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        let joined = parts.join("/");
        if path.starts_with('/') { format!("/{joined}") } else { joined }
    }
}

/// Runs git; its standard output, or its error message.
fn git(args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git").args(args).output().map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        let message = String::from_utf8_lossy(&output.stderr);
        let message = message.trim().trim_start_matches("fatal: ").trim_end_matches('.');
        Err(message.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::split_revision;

    #[test]
    fn revisions_and_paths_split_at_the_first_colon() {
        assert_eq!(split_revision("HEAD~1:site.ports"), Some(("HEAD~1", "site.ports")));
        assert_eq!(split_revision("origin/main:sites/a.ports"), Some(("origin/main", "sites/a.ports")));
        assert_eq!(split_revision(":site.ports"), None);
        assert_eq!(split_revision("HEAD:"), None);
        assert_eq!(split_revision("site.ports"), None);
    }
}
