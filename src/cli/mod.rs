//! The commands of the `portc` binary that are more than a call into the library: formatting
//! files in place, the language server's files, the shell completions and manual page made from
//! the clap definition, verifying a ruleset read from files or standard input, and where a build's
//! output goes.

pub mod fmt;
pub mod lsp;
pub mod manual;
pub mod output;
pub mod verify;
