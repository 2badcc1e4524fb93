//! Targets: one file per output format, each turning a `Checked` graph into text.

mod dot;
mod json;
mod markdown;
mod nftables;

use crate::check::Checked;
use crate::diag::Diagnostic;

/// An output format of `portc build`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Json,
    Dot,
    Markdown,
    Nftables,
}

impl Target {
    pub const ALL: &'static [Target] = &[Target::Json, Target::Dot, Target::Markdown, Target::Nftables];

    pub fn name(self) -> &'static str {
        match self {
            Target::Json => "json",
            Target::Dot => "dot",
            Target::Markdown => "markdown",
            Target::Nftables => "nftables",
        }
    }
}

/// What a build asks of a target beyond the policy itself.
#[derive(Clone, Debug, Default)]
pub struct TargetOptions {
    /// For host firewalls: the roles the host holds (their union is built).
    pub roles: Vec<crate::hir::NodeId>,
    /// For host firewalls: filter outgoing traffic too.
    pub egress: bool,
    /// For host firewalls: do not warn when no flow lets an operator in over SSH.
    pub allow_lockout: bool,
}

/// A target: everything it cannot express is a diagnostic, never a silent drop.
/// `Ok` carries the output and the target's warnings.
pub trait Lower {
    fn lower(&self, policy: &Checked, options: &TargetOptions) -> Result<(String, Vec<Diagnostic>), Vec<Diagnostic>>;
}

pub fn lowerer(target: Target) -> Box<dyn Lower> {
    match target {
        Target::Json => Box::new(json::Json),
        Target::Dot => Box::new(dot::Dot),
        Target::Markdown => Box::new(markdown::Markdown),
        Target::Nftables => Box::new(nftables::Nftables),
    }
}
