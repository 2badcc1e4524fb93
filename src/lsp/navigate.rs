//! Go to definition, find references and rename. A name's uses are found in every program of the
//! workspace (the open documents and the `.ports` files of its folders), matched by where the
//! name is declared; stdlib names can be followed and found, never renamed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lsp_types::{Location, Range, TextEdit, Uri, WorkspaceEdit};

use super::lookup;
use super::text::Lines;
use super::world::{Document, World};
use crate::analysis::Analysis;
use crate::resolve::{Reference, Symbol};
use crate::span::Span;
use crate::syntax::keywords;

/// Where the name at `offset` of the root is declared; for a module, the start of its file.
pub fn definition(world: &World, analysis: &Analysis, offset: u32) -> Option<Location> {
    let root = analysis.modules.first()?;
    let reference = analysis.reference_at(root.file, offset)?;
    world.location(analysis, reference.definition)
}

/// A declaration, the same in every analysis: its file's display name and its span's offsets.
type Target = (String, u32, u32);

fn target(analysis: &Analysis, reference: &Reference) -> Target {
    let definition = reference.definition;
    (analysis.sources.name(definition.file).to_string(), definition.start, definition.end)
}

/// Every use of the name at `offset` of the document `key`, across the workspace, as
/// (file key, file text, span) triples, sorted and each once.
fn uses(world: &mut World, key: &str, offset: u32, declaration: bool) -> Vec<(String, Location)> {
    let Some(analysis) = world.analysis(key) else { return Vec::new() };
    let Some(root) = analysis.modules.first() else { return Vec::new() };
    let Some(reference) = analysis.reference_at(root.file, offset) else { return Vec::new() };
    let wanted = target(&analysis, reference);
    let mut found: BTreeMap<(String, u32, u32), Location> = BTreeMap::new();
    let mut roots = world.workspace_roots();
    roots.retain(|r| r != key);
    roots.insert(0, key.to_string());
    for root in roots {
        let Some(analysis) = world.analysis(&root) else { continue };
        for r in analysis.references.all() {
            if (!declaration && r.is_declaration) || target(&analysis, r) != wanted {
                continue;
            }
            let name = analysis.sources.name(r.span.file).to_string();
            if let Some(location) = world.location(&analysis, r.span) {
                found.entry((name, r.span.start, r.span.end)).or_insert(location);
            }
        }
    }
    found.into_iter().map(|((name, _, _), location)| (name, location)).collect()
}

/// Find references.
pub fn references(world: &mut World, key: &str, offset: u32, declaration: bool) -> Vec<Location> {
    uses(world, key, offset, declaration).into_iter().map(|(_, location)| location).collect()
}

/// Why the name at `offset` cannot be renamed, or its span and text.
pub fn prepare(analysis: &Analysis, offset: u32) -> Result<(Span, String), String> {
    let root = analysis.modules.first().ok_or("nothing to rename here")?;
    let reference = analysis.reference_at(root.file, offset).ok_or("no name here to rename")?;
    let text = lookup::slice(analysis, reference.span).to_string();
    if let Symbol::Module(_) = reference.symbol {
        return Err(format!("`{text}` names a module: rename its file or its `as` alias, and the `use`s that name it"));
    }
    if lookup::is_stdlib(analysis, reference.definition.file) {
        let module = lookup::module_of_file(analysis, reference.definition.file).map_or("?", |m| m.name.as_str());
        return Err(format!(
            "`{text}` is declared in the stdlib module `{module}`, which is read-only: its name is the vendor table's"
        ));
    }
    Ok((reference.span, text))
}

/// Whether `name` may replace the name at `offset`: a name for a name, digits for a note label.
fn valid(analysis: &Analysis, offset: u32, name: &str) -> Result<(), String> {
    let note = analysis
        .modules
        .first()
        .and_then(|root| analysis.reference_at(root.file, offset))
        .is_some_and(|r| matches!(r.symbol, Symbol::Note(_)));
    if note {
        return if !name.is_empty() && name.chars().all(|c| c.is_ascii_digit()) {
            Ok(())
        } else {
            Err(format!("`{name}` is no note label: a label is digits, `3`"))
        };
    }
    let mut chars = name.chars();
    let shaped = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !shaped {
        return Err(format!("`{name}` is no name: a name is letters, digits and `_`, not starting with a digit"));
    }
    if keywords::is_reserved(name) {
        return Err(format!("`{name}` is a reserved word of the language"));
    }
    Ok(())
}

/// Rename: every use of the name at `offset` in the workspace, refused when the result would
/// have errors the program does not have now (a clash with another name, for one).
// `WorkspaceEdit::changes` is keyed by `Uri`, whose lazily filled fields clippy takes for a
// mutable key; they never change its hash or equality.
#[allow(clippy::mutable_key_type)]
pub fn rename(world: &mut World, key: &str, offset: u32, name: &str) -> Result<WorkspaceEdit, String> {
    let analysis = world.analysis(key).ok_or("the document cannot be read")?;
    prepare(&analysis, offset)?;
    valid(&analysis, offset, name)?;
    let uses = uses(world, key, offset, true);
    let mut edits: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    let mut texts: BTreeMap<String, Vec<Range>> = BTreeMap::new();
    for (file, location) in &uses {
        texts.entry(file.clone()).or_default().push(location.range);
        edits.entry(location.uri.clone()).or_default().push(TextEdit::new(location.range, name.to_string()));
    }
    check_rename(world, key, &texts, name)?;
    Ok(WorkspaceEdit::new(edits))
}

/// Applies the rename to copies of the texts and analyses the document again: it must have no
/// error it did not have before.
fn check_rename(world: &mut World, key: &str, ranges: &BTreeMap<String, Vec<Range>>, name: &str) -> Result<(), String> {
    let before = world.analysis(key).ok_or("the document cannot be read")?;
    let mut documents = world.documents.clone();
    for (file, ranges) in ranges {
        let text = match documents.get(file) {
            Some(d) => d.text.clone(),
            None => match world.host.loader.read(file) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => continue,
            },
        };
        let edited = apply(&text, ranges, name, world.encoding);
        documents.insert(file.clone(), Document { text: edited, version: 0 });
    }
    let after = world.analyze_with(key, &documents).ok_or("the renamed document cannot be analysed")?;
    let old: BTreeSet<(&str, &str)> =
        before.diagnostics.iter().filter(|d| d.is_error()).map(|d| (d.code.as_str(), d.message.as_str())).collect();
    let new_errors = after.diagnostics.iter().filter(|d| d.is_error()).count();
    if new_errors > old.len()
        && let Some(d) =
            after.diagnostics.iter().find(|d| d.is_error() && !old.contains(&(d.code.as_str(), d.message.as_str())))
    {
        return Err(format!("renaming to `{name}` would give {} {}", d.code.as_str(), d.message));
    }
    Ok(())
}

/// The text with each range replaced by `name`.
fn apply(text: &str, ranges: &[Range], name: &str, encoding: super::text::Encoding) -> String {
    let lines = Lines::new(text, encoding);
    let mut spans: Vec<(usize, usize)> =
        ranges.iter().map(|r| (lines.offset(r.start) as usize, lines.offset(r.end) as usize)).collect();
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        out.push_str(text.get(at..start).unwrap_or_default());
        out.push_str(name);
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}
