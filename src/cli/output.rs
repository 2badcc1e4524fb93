//! Where `portc build` puts its output. Everything is written to temporary files beside its
//! place and renamed into place only once the whole build succeeded, so a reader never sees half
//! an output, a failed build leaves the old output as it was, and the output is never held in
//! memory whole: a target writes each role's part as it makes it (`portc::lower::Sink`).

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

/// Where a build's output goes.
pub enum Place {
    /// Standard output: staged in an anonymous file, copied out once the build succeeded.
    Stdout,
    /// One file: every document, one after the other.
    File(String),
    /// A directory: a file per document, named by the document.
    Dir(String),
}

/// A sink that stages a build's output for `Staged::finish`; dropped unfinished, it leaves
/// nothing behind. In a directory, a document named `NAME` is staged as a file beside
/// `DIR/NAME`, and one named `HOST/...` (firewalld's `etcd/zones/portc.xml`) goes into a
/// directory staged for `DIR/HOST` as a whole (`HostDir`).
pub struct Staged {
    place: Place,
    /// The file being written, the temporary path it has until `finish` (none for standard
    /// output and in a host's directory), and where it goes.
    current: Option<(BufWriter<File>, Option<TempPath>, String)>,
    /// The files of a directory written so far, closed, and where they go.
    done: Vec<(TempPath, String)>,
    /// The host directories written so far.
    hosts: Vec<(String, HostDir)>,
}

impl Staged {
    pub fn new(place: Place) -> Result<Staged, String> {
        let mut staged = Staged { place, current: None, done: Vec::new(), hosts: Vec::new() };
        if let Place::Stdout = staged.place {
            let file = tempfile::tempfile().map_err(|e| format!("cannot stage the output: {e}"))?;
            staged.current = Some((BufWriter::new(file), None, String::new()));
        }
        // A file or directory is made with the first document, or by `finish` when there is
        // none: a build that fails early makes nothing.
        Ok(staged)
    }

    /// Moves the output into place: renames every staged file over its place, or copies the
    /// staged standard output out.
    pub fn finish(mut self) -> Result<(), String> {
        if let Place::File(_) = self.place
            && self.current.is_none()
        {
            // No document: the output is an empty file.
            portc::lower::Sink::document(&mut self, "").map_err(|e| e.to_string())?;
        }
        self.close()?;
        if let Place::Stdout = self.place
            && let Some((writer, _, _)) = self.current.take()
        {
            let mut file = writer.into_inner().map_err(|e| format!("cannot write output: {}", e.error()))?;
            file.rewind().map_err(|e| format!("cannot write output: {e}"))?;
            let mut stdout = std::io::stdout().lock();
            return match std::io::copy(&mut file, &mut stdout).and_then(|_| stdout.flush()) {
                // A reader that stopped early (`| head`) wants no more, and no complaint.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write output: {e}")),
                _ => Ok(()),
            };
        }
        if let Place::Dir(dir) = &self.place {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{dir}`: {e}"))?;
        }
        for (temp, path) in self.done {
            temp.persist(&path).map_err(|e| format!("cannot write `{path}`: {}", e.error))?;
        }
        for (_, host) in self.hosts {
            host.finish()?;
        }
        Ok(())
    }

    /// Closes the file being written, unless it is standard output's; a directory's document
    /// waits among `done` for its rename, closed: a build can write thousands.
    fn close(&mut self) -> Result<(), String> {
        if let Place::Stdout = self.place {
            return Ok(());
        }
        if let Some((writer, temp, path)) = self.current.take() {
            writer.into_inner().map_err(|e| format!("cannot write `{path}`: {}", e.error()))?;
            if let Some(temp) = temp {
                self.done.push((temp, path));
            }
        }
        Ok(())
    }
}

impl portc::lower::Sink for Staged {
    fn document(&mut self, name: &str) -> std::io::Result<&mut dyn Write> {
        if let (Place::File(path), None) = (&self.place, &self.current) {
            let (file, temp) = beside(path).map_err(std::io::Error::other)?;
            self.current = Some((BufWriter::new(file), Some(temp), path.clone()));
        }
        if let Place::Dir(dir) = &self.place {
            let dir = dir.clone();
            self.close().map_err(std::io::Error::other)?;
            let path = format!("{dir}/{name}");
            let (file, temp) = match name.split_once('/') {
                Some((host, inside)) => {
                    if self.hosts.last().is_none_or(|(last, _)| last != host) {
                        let staged = HostDir::new(&format!("{dir}/{host}")).map_err(std::io::Error::other)?;
                        self.hosts.push((host.to_string(), staged));
                    }
                    let file = match self.hosts.last() {
                        Some((_, staged)) => staged.create(inside),
                        None => Err("internal: no host directory".to_string()),
                    };
                    (file.map_err(std::io::Error::other)?, None)
                }
                None => {
                    let (file, temp) = beside(&path).map_err(std::io::Error::other)?;
                    (file, Some(temp))
                }
            };
            self.current = Some((BufWriter::new(file), temp, path));
        }
        match self.current.as_mut() {
            Some((writer, _, _)) => Ok(writer),
            None => Err(std::io::Error::other("internal: no file to write to")),
        }
    }
}

/// Writes to a temporary file beside `path` and renames it over `path`, so a reader never sees
/// half a file; `None` writes to standard output.
pub fn write_output(text: &str, path: Option<&str>) -> Result<(), String> {
    let Some(path) = path else {
        let mut stdout = std::io::stdout().lock();
        return match stdout.write_all(text.as_bytes()) {
            // A reader that stopped early (`| head`) wants no more, and no complaint.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write output: {e}")),
            _ => Ok(()),
        };
    };
    let file = temporary(text, path)?;
    file.persist(path).map_err(|e| format!("cannot write `{path}`: {}", e.error))?;
    Ok(())
}

/// `text` in a temporary file beside `path`, for a rename over `path` once everything is ready.
/// The file is closed: a build for every host holds thousands of them, more than a process may
/// have open.
pub fn temporary(text: &str, path: &str) -> Result<TempPath, String> {
    let (mut file, temp) = beside(path)?;
    file.write_all(text.as_bytes()).map_err(|e| format!("cannot write `{path}`: {e}"))?;
    Ok(temp)
}

/// A new temporary file in the directory of `path` (created if need be: a target's document may
/// name a subdirectory, firewalld's `zones/`), open for writing.
fn beside(path: &str) -> Result<(File, TempPath), String> {
    let dir = match Path::new(path).parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    // Created as any file is (0666 less the umask), not with a temporary file's 0600: rulesets
    // and manifests are read by other users and tools.
    let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666);
    let file = tempfile::Builder::new()
        .permissions(mode)
        .tempfile_in(dir)
        .map_err(|e| format!("cannot write `{path}`: {e}"))?;
    Ok(file.into_parts())
}

/// A host's directory of files (firewalld's `DIR/ROLE/`), built in a temporary directory beside
/// it and swapped in whole by `HostDir::finish`: files of an earlier build that this one no
/// longer makes do not stay behind, and a build for every host keeps one path per host, not
/// per file.
pub struct HostDir {
    temp: tempfile::TempDir,
    place: PathBuf,
}

impl HostDir {
    pub fn new(place: &str) -> Result<HostDir, String> {
        let place = PathBuf::from(place);
        let parent = match place.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        let temp = tempfile::Builder::new()
            .prefix(".portc-")
            .tempdir_in(parent)
            .map_err(|e| format!("cannot write `{}`: {e}", place.display()))?;
        Ok(HostDir { temp, place })
    }

    /// Creates the file `name` (which may name subdirectories) inside the host's directory.
    fn create(&self, name: &str) -> Result<File, String> {
        let path = self.temp.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        #[allow(clippy::disallowed_methods)] // The command line writes the output it was asked for.
        File::create(&path).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    }

    /// Puts the directory in place, replacing the one an earlier build left there.
    pub fn finish(self) -> Result<(), String> {
        let place = &self.place;
        let cannot = |e: std::io::Error| format!("cannot write `{}`: {e}", place.display());
        // The temporary directory is 0700; the configuration is read by other users and tools.
        let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
        std::fs::set_permissions(self.temp.path(), mode).map_err(cannot)?;
        let old = match std::fs::symlink_metadata(place) {
            Ok(meta) if meta.is_dir() => {
                // Moved aside first: a directory cannot be renamed over one that has files.
                let aside = tempfile::Builder::new()
                    .prefix(".portc-old-")
                    .tempdir_in(self.temp.path().parent().unwrap_or(Path::new(".")))
                    .map_err(cannot)?;
                let old = aside.path().join("old");
                std::fs::rename(place, &old).map_err(cannot)?;
                Some(aside)
            }
            Ok(_) => return Err(format!("cannot write `{}`: it is a file, not a directory", place.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(cannot(e)),
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
