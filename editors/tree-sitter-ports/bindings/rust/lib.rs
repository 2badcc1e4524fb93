//! The tree-sitter grammar of `.ports` files, for Rust: the language, its node types and its queries.
//!
//! ```
//! let mut parser = tree_sitter::Parser::new();
//! parser.set_language(&tree_sitter_ports::LANGUAGE.into()).expect("the grammar loads");
//! let tree = parser.parse("role etcd\netcd -> self : tcp 2379\n", None).expect("a tree");
//! assert!(!tree.root_node().has_error());
//! ```

use tree_sitter_language::LanguageFn;

unsafe extern "C" {
    fn tree_sitter_ports() -> *const ();
}

/// The tree-sitter language of `.ports` files.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_ports) };

/// The node types of the grammar, `src/node-types.json`.
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");

/// The highlighting query, `queries/highlights.scm`.
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// The folding query, `queries/folds.scm`.
pub const FOLDS_QUERY: &str = include_str!("../../queries/folds.scm");

/// The indentation query, `queries/indents.scm`.
pub const INDENTS_QUERY: &str = include_str!("../../queries/indents.scm");
