//! What errors leave out, and keeping their consequences quiet: a statement with an error is
//! reported once and left out, and neither a miss that it may explain nor a check that would
//! conclude from its absence is reported (ARCHITECTURE.md, "Partial results").

use super::Resolver;
use crate::ast;
use crate::span::Span;

impl Resolver<'_> {
    /// Reads the statements of every module that did not parse (`ast::File::broken`): their words
    /// become suspects; a broken `use` leaves its module's scope incomplete, a broken `set` the
    /// settings.
    pub(super) fn collect_broken(&mut self) {
        let modules = self.modules;
        for (module, loaded) in modules.iter().enumerate() {
            for &span in &loaded.ast.broken {
                let words: Vec<String> = self.words(span).collect();
                match words.first().map(String::as_str) {
                    Some("use") => {
                        if let Some(incomplete) = self.incomplete.get_mut(module) {
                            *incomplete = true;
                        }
                    }
                    Some("set") => self.program.gaps.settings = true,
                    _ => {}
                }
                self.program.gaps.flows = true;
                self.program.gaps.mentioned.extend(words.iter().cloned());
                self.suspects.extend(words);
            }
        }
    }

    /// Looks at a module's `use`s that found no module or closed a cycle (reported by the
    /// loader): one without `as` leaves names out of its scope, as does a `use` of a module whose
    /// scope lacks names; each leaves its qualifiers unbound. Called in dependency order.
    pub(super) fn failed_uses(&mut self, module: usize) {
        let Some(loaded) = self.modules.get(module) else { return };
        let mut incomplete = false;
        for item in &loaded.ast.items {
            let ast::Item::Use(decl) = item else { continue };
            let found = loaded.uses.iter().find(|u| u.decl.span == decl.span && !u.cyclic);
            match found {
                Some(u) => {
                    incomplete |= decl.alias.is_none() && self.incomplete.get(u.target).copied().unwrap_or(false);
                }
                None => {
                    incomplete |= decl.alias.is_none();
                    self.suspects.extend(super::scope::qualifiers_of(decl));
                }
            }
        }
        if let Some(slot) = self.incomplete.get_mut(module) {
            *slot |= incomplete;
        }
    }

    /// Whether an unknown qualifier is one that a failed or broken `use` would have bound, so
    /// that its miss is not reported.
    pub(super) fn failed_qualifier(&self, path: &ast::Path) -> bool {
        let Some((_, qualifier)) = path.segments.split_last() else { return false };
        let text: Vec<&str> = qualifier.iter().map(|s| s.name.as_str()).collect();
        let first = qualifier.first().map_or("", |s| s.name.as_str());
        self.suspects.contains(&text.join(".")) || self.suspects.contains(first)
    }

    /// Records that a statement (or part of one) at `span` is left out because of an error: what
    /// it mentions may look unused without it.
    pub(super) fn left_out(&mut self, span: Span) {
        let words: Vec<String> = self.words(span).collect();
        self.program.gaps.mentioned.extend(words);
    }

    /// Whether a miss of `name` in the scope of `scope` may be a consequence of another error.
    pub(super) fn quiet(&self, scope: usize, name: &str) -> bool {
        self.incomplete.get(scope).copied().unwrap_or(false) || self.suspects.contains(name)
    }

    /// The words of the code at `span`.
    fn words(&self, span: Span) -> impl Iterator<Item = String> + use<'_> {
        let text = self.map.text(span.file).get(span.start as usize..span.end as usize).unwrap_or_default();
        crate::syntax::code_words(text).map(String::from)
    }
}
