//! What the server knows between requests: the open documents (the source of truth for their
//! files, saved or not), where the stdlib's files are served, and each document's analysis,
//! kept until any document changes.

use std::collections::BTreeMap;
use std::rc::Rc;

use lsp_types::{Location, Uri};

use super::text::{Encoding, Lines, key_of, uri_of};
use crate::analysis::{Analysis, analyze};
use crate::resolve::{LoadError, Root, SourceLoader};
use crate::span::{FileId, Span};
use crate::stdlib;

/// What the server is given by whoever runs it: the only ways it reaches files.
pub struct Host {
    /// Reads the files that are not open in the editor.
    pub loader: Box<dyn SourceLoader>,
    /// The `.ports` files under a workspace folder, for find-references and rename.
    pub list: Box<ListFiles>,
    /// The directory that holds a copy of every stdlib module (`<stdlib>/x.ports` is `DIR/x.ports`),
    /// so that an editor can open them; `None` leaves definitions in the stdlib unanswered.
    pub stdlib_dir: Option<String>,
}

/// Lists the `.ports` files under a folder.
pub type ListFiles = dyn Fn(&str) -> Vec<String>;

/// An open document.
#[derive(Clone, Debug)]
pub struct Document {
    pub text: String,
    pub version: i32,
}

pub struct World {
    pub host: Host,
    pub encoding: Encoding,
    /// The workspace folders, as paths.
    pub folders: Vec<String>,
    /// Open documents by key (`text::key_of`).
    pub documents: BTreeMap<String, Document>,
    /// Each root's analysis, dropped whenever a document changes.
    analyses: BTreeMap<String, Rc<Analysis>>,
}

/// Files through the open documents first, then the host's loader.
struct Overlay<'w> {
    documents: &'w BTreeMap<String, Document>,
    loader: &'w dyn SourceLoader,
}

impl SourceLoader for Overlay<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, LoadError> {
        match self.documents.get(path) {
            Some(document) => Ok(document.text.clone().into_bytes()),
            None => self.loader.read(path),
        }
    }

    fn identity(&self, path: &str) -> String {
        self.loader.identity(path)
    }
}

impl World {
    pub fn new(host: Host, encoding: Encoding, folders: Vec<String>) -> Self {
        World { host, encoding, folders, documents: BTreeMap::new(), analyses: BTreeMap::new() }
    }

    /// Forgets every analysis: a document changed, and any root may use it.
    pub fn changed(&mut self) {
        self.analyses.clear();
    }

    /// The analysis of the program rooted at `key`, from the open documents and the files.
    pub fn analysis(&mut self, key: &str) -> Option<Rc<Analysis>> {
        if let Some(found) = self.analyses.get(key) {
            return Some(Rc::clone(found));
        }
        let overlay = Overlay { documents: &self.documents, loader: self.host.loader.as_ref() };
        let analysis = Rc::new(analyze(&self.root_of(key), &overlay, &[]).ok()?);
        self.analyses.insert(key.to_string(), Rc::clone(&analysis));
        Some(analysis)
    }

    /// The analysis of the program rooted at `key` with other texts for the documents, for a
    /// look at the result of an edit; not kept.
    pub fn analyze_with(&self, key: &str, documents: &BTreeMap<String, Document>) -> Option<Analysis> {
        let overlay = Overlay { documents, loader: self.host.loader.as_ref() };
        analyze(&self.root_of(key), &overlay, &[]).ok()
    }

    /// The root a key stands for: a stdlib module when it is one of the served copies.
    pub fn root_of(&self, key: &str) -> Root {
        match self.stdlib_module(key) {
            Some(module) => Root::Module(module.name.to_string()),
            None => Root::File(key.to_string()),
        }
    }

    /// The stdlib module whose served copy `key` is.
    pub fn stdlib_module(&self, key: &str) -> Option<stdlib::StdModule> {
        let dir = self.host.stdlib_dir.as_deref()?;
        let relative = key.strip_prefix(dir)?.strip_prefix('/')?;
        stdlib::modules().find(|m| m.relative == relative)
    }

    /// The key of a file of an analysis: its path, or the served copy of a stdlib module.
    pub fn key_of_file(&self, analysis: &Analysis, file: FileId) -> Option<String> {
        let name = analysis.sources.name(file);
        if let Some(relative) = name.strip_prefix("<stdlib>/") {
            return self.host.stdlib_dir.as_ref().map(|dir| format!("{dir}/{relative}"));
        }
        (!name.starts_with('<')).then(|| name.to_string())
    }

    /// Where a span is, for the editor.
    pub fn location(&self, analysis: &Analysis, span: Span) -> Option<Location> {
        let uri = uri_of(&self.key_of_file(analysis, span.file)?)?;
        let lines = Lines::new(analysis.sources.text(span.file), self.encoding);
        Some(Location::new(uri, lines.range(span.start, span.end)))
    }

    /// Every root worth analysing for the uses of a name: the open documents and the `.ports`
    /// files of the workspace folders, each once.
    pub fn workspace_roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = self.documents.keys().cloned().collect();
        for folder in &self.folders {
            roots.extend((self.host.list)(folder));
        }
        roots.sort();
        roots.dedup();
        roots
    }

    /// The key of an open document's URI.
    pub fn key(uri: &Uri) -> String {
        key_of(uri)
    }
}
