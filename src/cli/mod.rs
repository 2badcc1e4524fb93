//! The commands of the `portc` binary that are more than a call into the library: formatting
//! files in place, and the shell completions and manual page made from the clap definition.

pub mod fmt;
pub mod manual;
