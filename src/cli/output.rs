//! Where `portc build` puts its output. Everything is staged (in temporary files beside its
//! place, or in an anonymous file for standard output and for a device or pipe) and moved into
//! place only once the whole build succeeded, so a reader never sees half an output, a failed
//! build leaves the old output and makes no directory, and the output is never held in memory
//! whole: a target writes each role's part as it makes it (`portc::lower::Sink`).

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

/// Where a build's output goes.
pub enum Place {
    /// Standard output.
    Stdout,
    /// One file: every document, one after the other.
    File(PathBuf),
    /// A directory: a file per document, named by the document.
    Dir(PathBuf),
}

/// Where the text of a place is staged until `Staged::finish`.
enum Stage {
    /// An anonymous file, copied to standard output, or into a device or pipe (`-o /dev/null`),
    /// which no rename may replace.
    Copied { file: BufWriter<File>, to: Option<PathBuf> },
    /// A temporary file beside its place, renamed over it; `None` until the first document.
    Renamed(Option<(BufWriter<File>, TempPath)>, PathBuf),
    /// A directory: its documents so far.
    Dir(PathBuf),
}

/// A sink that stages a build's output for `Staged::finish`; dropped unfinished, it leaves
/// nothing behind, not even the directories it made. In a directory, a document named `NAME`
/// is staged as a file beside `DIR/NAME`, and one named `HOST/...` (firewalld's
/// `etcd/zones/portc.xml`) goes into a directory staged for `DIR/HOST` as a whole (`HostDir`).
pub struct Staged {
    stage: Stage,
    /// The document of a directory being written, and its place.
    current: Option<(BufWriter<File>, Option<TempPath>, PathBuf)>,
    /// The files of a directory written so far, closed, and their places.
    done: Vec<(TempPath, PathBuf)>,
    /// The host directories written so far.
    hosts: Vec<(String, HostDir)>,
    /// The directories this build made, outermost first.
    made: Vec<PathBuf>,
    finished: bool,
}

impl Staged {
    pub fn new(place: Place) -> Result<Staged, String> {
        let stage = match place {
            Place::Stdout => Stage::Copied { file: anonymous()?, to: None },
            Place::File(path) => {
                let path = final_path(&path);
                match std::fs::metadata(&path) {
                    Ok(meta) if meta.is_dir() => {
                        return Err(format!("cannot write `{}`: it is a directory", path.display()));
                    }
                    Ok(meta) if !meta.is_file() => Stage::Copied { file: anonymous()?, to: Some(path) },
                    _ => Stage::Renamed(None, path),
                }
            }
            Place::Dir(dir) => {
                if dir.as_os_str().is_empty() {
                    return Err("--out-dir needs the name of a directory".into());
                }
                if std::fs::metadata(&dir).is_ok_and(|m| !m.is_dir()) {
                    return Err(format!("cannot write into `{}`: it is a file, not a directory", dir.display()));
                }
                Stage::Dir(dir)
            }
        };
        Ok(Staged { stage, current: None, done: Vec::new(), hosts: Vec::new(), made: Vec::new(), finished: false })
    }

    /// Moves the output into place: copies a staged standard output (or device) out, or renames
    /// every staged file and directory over its place once none of those places is in the way.
    /// Returns the places of a directory's files.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, String> {
        let mut placed = Vec::new();
        self.close()?;
        match &mut self.stage {
            Stage::Copied { file, to } => {
                let place = to.as_ref().map_or("output".to_string(), |p| format!("`{}`", p.display()));
                let cannot = |e: std::io::Error| format!("cannot write {place}: {}", reason(&e));
                file.flush().map_err(cannot)?;
                let staged = file.get_mut();
                staged.rewind().map_err(cannot)?;
                let copied = match to {
                    None => {
                        let mut stdout = std::io::stdout().lock();
                        std::io::copy(staged, &mut stdout).and_then(|_| stdout.flush())
                    }
                    Some(path) => std::fs::OpenOptions::new()
                        .write(true)
                        .open(path)
                        .and_then(|mut out| std::io::copy(staged, &mut out).and_then(|_| out.flush())),
                };
                quiet_broken_pipe(copied).map_err(cannot)?;
            }
            Stage::Renamed(staged, path) => {
                let (writer, temp) = match staged.take() {
                    Some(staged) => staged,
                    // No document: the output is an empty file.
                    None => {
                        let (file, temp) = beside(path, &mut self.made)?;
                        (BufWriter::new(file), temp)
                    }
                };
                writer.into_inner().map_err(|e| format!("cannot write `{}`: {}", path.display(), reason(e.error())))?;
                persist(temp, path)?;
            }
            Stage::Dir(dir) => {
                std::fs::create_dir_all(&*dir)
                    .map_err(|e| format!("cannot create `{}`: {}", dir.display(), reason(&e)))?;
                // Every place is checked before anything moves, so a place in the way fails the
                // build without a part of it moved in.
                for (_, path) in &self.done {
                    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                        return Err(format!("cannot write `{}`: it is a directory", path.display()));
                    }
                }
                for (_, host) in &self.hosts {
                    host.check()?;
                }
                for (temp, path) in std::mem::take(&mut self.done) {
                    persist(temp, &path)?;
                    placed.push(path);
                }
                for (_, host) in std::mem::take(&mut self.hosts) {
                    host.finish()?;
                }
            }
        }
        self.finished = true;
        Ok(placed)
    }

    /// Closes a directory's document being written; it waits among `done` for its rename,
    /// closed: a build can write thousands.
    fn close(&mut self) -> Result<(), String> {
        if let Some((writer, temp, path)) = self.current.take() {
            writer.into_inner().map_err(|e| format!("cannot write `{}`: {}", path.display(), reason(e.error())))?;
            if let Some(temp) = temp {
                self.done.push((temp, path));
            }
        }
        Ok(())
    }
}

impl Drop for Staged {
    /// A build that did not finish removes what it staged, then the directories it made (those
    /// that are empty: nothing else is touched).
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.current = None;
        self.done.clear();
        self.hosts.clear();
        if let Stage::Renamed(staged, _) = &mut self.stage {
            *staged = None;
        }
        for dir in self.made.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl portc::lower::Sink for Staged {
    fn document(&mut self, name: &str) -> std::io::Result<&mut dyn Write> {
        if let Stage::Dir(dir) = &self.stage {
            let dir = dir.clone();
            return self.document_in(&dir, name);
        }
        match &mut self.stage {
            Stage::Copied { file, .. } => Ok(file),
            Stage::Renamed(staged, path) => {
                if staged.is_none() {
                    let (file, temp) = beside(path, &mut self.made).map_err(std::io::Error::other)?;
                    *staged = Some((BufWriter::new(file), temp));
                }
                match staged {
                    Some((writer, _)) => Ok(writer),
                    None => Err(std::io::Error::other("internal: no file to write to")),
                }
            }
            Stage::Dir(_) => Err(std::io::Error::other("internal: a directory is written by document_in")),
        }
    }
}

impl Staged {
    /// Starts the document `name` of the directory `dir`.
    fn document_in(&mut self, dir: &Path, name: &str) -> std::io::Result<&mut dyn Write> {
        self.close().map_err(std::io::Error::other)?;
        let path = dir.join(name);
        let (file, temp) = match name.split_once('/') {
            Some((host, inside)) => {
                if self.hosts.last().is_none_or(|(last, _)| last != host) {
                    let staged = HostDir::new(&dir.join(host), &mut self.made).map_err(std::io::Error::other)?;
                    self.hosts.push((host.to_string(), staged));
                }
                let file = match self.hosts.last() {
                    Some((_, staged)) => staged.create(inside),
                    None => Err("internal: no host directory".to_string()),
                };
                (file.map_err(std::io::Error::other)?, None)
            }
            None => {
                let (file, temp) = beside(&path, &mut self.made).map_err(std::io::Error::other)?;
                (file, Some(temp))
            }
        };
        let (writer, _, _) = self.current.insert((BufWriter::new(file), temp, path));
        Ok(writer)
    }
}

/// Writes `text` to standard output, or (`Some(path)`) puts it in place like a build's output
/// (`replace`).
pub fn write_output(text: &str, path: Option<&str>) -> Result<(), String> {
    match path {
        Some(path) => replace(Path::new(path), text),
        None => {
            let mut stdout = std::io::stdout().lock();
            let written = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
            quiet_broken_pipe(written).map_err(|e| format!("cannot write output: {}", reason(&e)))
        }
    }
}

/// Replaces the file `path` by `text` atomically: through a symbolic link, into a pipe or
/// device, keeping the permissions of the file it replaces.
pub fn replace(path: &Path, text: &str) -> Result<(), String> {
    let mut staged = Staged::new(Place::File(path.to_path_buf()))?;
    portc::lower::Sink::document(&mut staged, "")
        .and_then(|out| out.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write `{}`: {}", path.display(), reason(&e)))?;
    staged.finish().map(|_| ())
}

/// A reader that stopped early (`| head`) wants no more output, and no complaint.
fn quiet_broken_pipe(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The manifests in `dir` that an earlier build wrote (they carry portc's `managed-by` label) and
/// this one did not (`placed`): `kubectl apply -f DIR` would still apply them.
pub fn earlier_manifests(dir: &str, placed: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut earlier: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml") && path.is_file())
        .filter(|path| !placed.iter().any(|p| p.file_name() == path.file_name()))
        .filter(|path| {
            #[allow(clippy::disallowed_methods)] // The command line looks at the directory it wrote.
            let text = std::fs::read_to_string(path).unwrap_or_default();
            text.contains("app.kubernetes.io/managed-by: portc")
        })
        .collect();
    earlier.sort();
    earlier
}

/// The file a path names, following symbolic links (a dangling one included), so that a rename
/// replaces the file a link points to and never the link.
pub fn final_path(path: &Path) -> PathBuf {
    let mut path = path.to_path_buf();
    // As many links as the kernel follows before it gives up (ELOOP).
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&path) else { break };
        path = match path.parent() {
            Some(parent) if target.is_relative() => parent.join(target),
            _ => target,
        };
    }
    path
}

/// An I/O error as a user reads it: without the path of a temporary file, which tempfile adds.
fn reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    text.split(" at path \"").next().unwrap_or(&text).to_string()
}

fn anonymous() -> Result<BufWriter<File>, String> {
    tempfile::tempfile().map(BufWriter::new).map_err(|e| format!("cannot stage the output: {}", reason(&e)))
}

/// Makes `dir` and the directories above it that are missing, recording them, outermost first.
fn make_dirs(dir: &Path, made: &mut Vec<PathBuf>) -> Result<(), String> {
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {}", dir.display(), reason(&e)))?;
    made.extend(missing.into_iter().rev());
    Ok(())
}

/// The directory `path` is in, `.` for a bare name.
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new temporary file in the directory of `path` (made if need be: a target's document may
/// name a subdirectory), open for writing.
fn beside(path: &Path, made: &mut Vec<PathBuf>) -> Result<(File, TempPath), String> {
    make_dirs(parent(path), made)?;
    // Created as any file is (0666 less the umask), not with a temporary file's 0600: rulesets
    // and manifests are read by other users and tools.
    let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666);
    let file = tempfile::Builder::new()
        .permissions(mode)
        .tempfile_in(parent(path))
        .map_err(|e| format!("cannot write `{}`: {}", path.display(), reason(&e)))?;
    Ok(file.into_parts())
}

/// Renames a staged file over `path`, with the permissions of the file it replaces.
fn persist(temp: TempPath, path: &Path) -> Result<(), String> {
    let cannot = |e: &std::io::Error| format!("cannot write `{}`: {}", path.display(), reason(e));
    if let Ok(meta) = std::fs::metadata(path)
        && meta.is_file()
    {
        std::fs::set_permissions(&temp, meta.permissions()).map_err(|e| cannot(&e))?;
    }
    temp.persist(path).map_err(|e| cannot(&e.error))?;
    Ok(())
}

/// A host's directory of files (firewalld's `DIR/ROLE/`), built in a temporary directory beside
/// it and swapped in whole by `HostDir::finish`: files of an earlier build that this one no
/// longer makes do not stay behind, and a build for every host keeps one path per host, not
/// per file.
struct HostDir {
    temp: tempfile::TempDir,
    place: PathBuf,
}

impl HostDir {
    fn new(place: &Path, made: &mut Vec<PathBuf>) -> Result<HostDir, String> {
        make_dirs(parent(place), made)?;
        let temp = tempfile::Builder::new()
            .prefix(".portc-")
            .tempdir_in(parent(place))
            .map_err(|e| format!("cannot write `{}`: {}", place.display(), reason(&e)))?;
        Ok(HostDir { temp, place: place.to_path_buf() })
    }

    /// Creates the file `name` (which may name subdirectories) inside the host's directory.
    fn create(&self, name: &str) -> Result<File, String> {
        let path = self.temp.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{}`: {}", parent.display(), reason(&e)))?;
        }
        #[allow(clippy::disallowed_methods)] // The command line writes the output it was asked for.
        File::create(&path).map_err(|e| format!("cannot write `{}`: {}", path.display(), reason(&e)))
    }

    /// Whether the place can be replaced: it is a directory (never a link to one), or missing.
    fn check(&self) -> Result<(), String> {
        match std::fs::symlink_metadata(&self.place) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(format!(
                "cannot write `{}`: it is not a directory (a file or a symbolic link), and portc replaces only a directory of its own there",
                self.place.display()
            )),
            Err(_) => Ok(()),
        }
    }

    /// Puts the directory in place, replacing the one an earlier build left there.
    fn finish(self) -> Result<(), String> {
        self.check()?;
        let place = &self.place;
        let cannot = |e: std::io::Error| format!("cannot write `{}`: {}", place.display(), reason(&e));
        // The temporary directory is 0700; the configuration is read by other users and tools.
        let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
        std::fs::set_permissions(self.temp.path(), mode).map_err(cannot)?;
        let old = if std::fs::symlink_metadata(place).is_ok() {
            // Moved aside first: a directory cannot be renamed over one that has files.
            let aside = tempfile::Builder::new().prefix(".portc-old-").tempdir_in(parent(place)).map_err(cannot)?;
            std::fs::rename(place, aside.path().join("old")).map_err(cannot)?;
            Some(aside)
        } else {
            None
        };
        let new = self.temp.keep();
        if let Err(e) = std::fs::rename(&new, place) {
            // Put the earlier build back rather than lose it.
            if let Some(aside) = &old {
                let _ = std::fs::rename(aside.path().join("old"), place);
            }
            let _ = std::fs::remove_dir_all(&new);
            return Err(cannot(e));
        }
        // Dropping the directory set aside removes the earlier build.
        drop(old);
        Ok(())
    }
}
