//! Targets: one file per output format, each turning a `Checked` graph into text.

mod dot;
mod json;
mod markdown;

use crate::check::Checked;
use crate::diag::Diagnostic;

/// An output format of `portc build`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Json,
    Dot,
    Markdown,
}

impl Target {
    pub const ALL: &'static [Target] = &[Target::Json, Target::Dot, Target::Markdown];

    pub fn name(self) -> &'static str {
        match self {
            Target::Json => "json",
            Target::Dot => "dot",
            Target::Markdown => "markdown",
        }
    }
}

/// A target: everything it cannot express is a diagnostic, never a silent drop.
pub trait Lower {
    fn lower(&self, policy: &Checked) -> Result<String, Vec<Diagnostic>>;
}

pub fn lowerer(target: Target) -> Box<dyn Lower> {
    match target {
        Target::Json => Box::new(json::Json),
        Target::Dot => Box::new(dot::Dot),
        Target::Markdown => Box::new(markdown::Markdown),
    }
}
