//! Targets: one file per output format, each turning a `Checked` graph into text.
//! `kubernetes.rs` holds what the two Kubernetes targets share.

pub mod aws;
pub mod calico;
pub mod cilium;
mod dot;
pub mod firewalld;
pub(crate) mod host;
pub mod iptables;
mod json;
mod kubernetes;
mod markdown;
mod networkpolicy;
mod nftables;

/// The identifier nftables sets are named by, from a node name (the language server finds a
/// flow's elements by it).
pub(crate) use host::ident as nft_ident;

use std::collections::{BTreeMap, BTreeSet};

use crate::check::Checked;
use crate::diag::{Code, Diagnostic};
use crate::graph::Edge;
use crate::hir::{Cond, NodeId, Program};
use crate::protocol::Protocol;

/// An output format of `portc build`. Everything else about a target (its name, whether it is
/// per host, the options it takes, its files, what it needs of a program) is its `Description`
/// and its `Lower::precondition`, in the target's own file; the CLI and the tests derive from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Json,
    Dot,
    Markdown,
    Nftables,
    Iptables,
    Firewalld,
    NetworkPolicy,
    Calico,
    Aws,
    Cilium,
}

/// An option of `portc build` that only some targets take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `--role`: the roles the host holds.
    Role,
    /// `--egress`: filter outgoing traffic too.
    Egress,
    /// `--allow-lockout`: no warning when no `management` flow reaches the host.
    AllowLockout,
    /// `--allow-lossy`: build without what the target cannot express, or (firewalld) wider than
    /// the flows, with a warning instead of an error.
    AllowLossy,
}

impl Setting {
    /// The command-line flag.
    pub fn flag(self) -> &'static str {
        match self {
            Setting::Role => "--role",
            Setting::Egress => "--egress",
            Setting::AllowLockout => "--allow-lockout",
            Setting::AllowLossy => "--allow-lossy",
        }
    }
}

/// What the command line and the tests know of a target.
#[derive(Clone, Copy, Debug)]
pub struct Description {
    /// The value of `--target`.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// Builds one host's output at a time, for the roles the host holds (`--role`), and with
    /// `--out-dir` one file per host role.
    pub per_host: bool,
    /// The options it takes beyond the common ones.
    pub settings: &'static [Setting],
    /// The extension of its files under `--out-dir`.
    pub extension: &'static str,
    /// Its output is several documents (a Kubernetes manifest per policy; a host's IPv4 and
    /// IPv6 rules), which `--out-dir` and `-o DIR/` write as files of their own, each named by
    /// the target (a per-host target names them for the host: `etcd.v4.rules`).
    pub documents: bool,
    /// Builds something to deploy on one site, so every peer must have a name in it and every
    /// setting be decided: a vendor module builds for it only through a site that binds and
    /// sets what the module leaves open (the tests make such sites).
    pub site: bool,
}

impl Target {
    pub const ALL: &'static [Target] = &[
        Target::Json,
        Target::Dot,
        Target::Markdown,
        Target::Nftables,
        Target::Iptables,
        Target::Firewalld,
        Target::NetworkPolicy,
        Target::Calico,
        Target::Aws,
        Target::Cilium,
    ];

    /// The target's description, from its lowerer.
    pub fn description(self) -> &'static Description {
        lowerer(self).description()
    }

    pub fn name(self) -> &'static str {
        self.description().name
    }

    /// Whether the target builds one host's output at a time, for the roles the host holds.
    pub fn per_host(self) -> bool {
        self.description().per_host
    }

    /// Whether the target takes a build option.
    pub fn takes(self, setting: Setting) -> bool {
        self.description().settings.contains(&setting)
    }

    /// The target of a `--target` value.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.iter().copied().find(|t| t.name() == name)
    }
}

/// What a build asks of a target beyond the policy itself.
#[derive(Clone, Debug, Default)]
pub struct TargetOptions {
    /// For host firewalls: the roles the host holds (their union is built).
    pub roles: Vec<crate::hir::NodeId>,
    /// For host firewalls and NetworkPolicies: filter outgoing traffic too.
    pub egress: bool,
    /// For host firewalls: do not warn when no flow lets an operator in over SSH.
    pub allow_lockout: bool,
    /// For the Kubernetes targets and aws: leave out what the target cannot express, with a
    /// warning and a comment in the output, instead of failing; for firewalld: build a zone
    /// wider than the flows, with a warning.
    pub allow_lossy: bool,
}

/// One part of a target's output: the whole output for most targets, one manifest per policy for
/// the Kubernetes targets, which `--out-dir` writes to files of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// A file name for the part, unique within one output.
    pub name: String,
    pub text: String,
}

impl Document {
    /// The whole output as one part.
    pub fn whole(text: String) -> Vec<Document> {
        vec![Document { name: String::new(), text }]
    }
}

/// `Ok` carries the output and the target's warnings; `Err` the errors that prevent it.
pub type Lowered = Result<(Vec<Document>, Vec<Diagnostic>), Vec<Diagnostic>>;

/// Where a target writes its documents as it makes them: temporary files for the command line,
/// which keep only what a build that succeeds wrote; memory for the library and the tests.
pub trait Sink {
    /// Starts the document `name` (see `Document::name`) and returns where its text goes; the
    /// document started before it is complete.
    fn document(&mut self, name: &str) -> std::io::Result<&mut dyn std::io::Write>;
}

/// A sink that keeps every document in memory.
#[derive(Debug, Default)]
pub struct Memory {
    documents: Vec<(String, Vec<u8>)>,
}

impl Memory {
    pub fn into_documents(self) -> Vec<Document> {
        self.documents
            .into_iter()
            .map(|(name, text)| Document { name, text: String::from_utf8_lossy(&text).into_owned() })
            .collect()
    }
}

impl Sink for Memory {
    fn document(&mut self, name: &str) -> std::io::Result<&mut dyn std::io::Write> {
        self.documents.push((name.to_string(), Vec::new()));
        match self.documents.last_mut() {
            Some((_, text)) => Ok(text),
            None => Err(std::io::Error::other("internal: no document to write to")),
        }
    }
}

/// A sink that drops what is written: `check --target` wants the diagnostics alone.
#[derive(Debug, Default)]
pub struct Discard(std::io::Sink);

impl Sink for Discard {
    fn document(&mut self, _name: &str) -> std::io::Result<&mut dyn std::io::Write> {
        Ok(&mut self.0)
    }
}

/// Why a target wrote no output.
#[derive(Debug)]
pub enum Failed {
    /// What the program asks for and the target cannot build.
    Errors(Vec<Diagnostic>),
    /// The sink refused the text (a full disk).
    Io(std::io::Error),
}

impl From<std::io::Error> for Failed {
    fn from(error: std::io::Error) -> Failed {
        Failed::Io(error)
    }
}

/// `Ok` carries the target's warnings, once every document is in the sink.
pub type Written = Result<Vec<Diagnostic>, Failed>;

/// A target: everything it cannot express is a diagnostic, never a silent drop.
pub trait Lower {
    fn description(&self) -> &'static Description;

    /// Why this program gives the target nothing to build, a usage error with a hint: the
    /// Kubernetes targets need a role bound to pods or to nodes.
    fn precondition(&self, _program: &Program) -> Result<(), String> {
        Ok(())
    }

    fn lower(&self, policy: &Checked, options: &TargetOptions) -> Lowered;

    /// Lowers into `sink`. A target whose output grows with roles × peers writes each role's part
    /// as soon as it is made, so memory holds one role's objects at a time; the others write
    /// what `lower` made.
    fn write(&self, policy: &Checked, options: &TargetOptions, sink: &mut dyn Sink) -> Written {
        let (documents, warnings) = self.lower(policy, options).map_err(Failed::Errors)?;
        for document in documents {
            sink.document(&document.name)?.write_all(document.text.as_bytes())?;
        }
        Ok(warnings)
    }
}

/// `Lower::lower` for a target that writes as it goes: its `write` into memory.
fn lowered_by_writing(target: &dyn Lower, policy: &Checked, options: &TargetOptions) -> Lowered {
    let mut memory = Memory::default();
    match target.write(policy, options, &mut memory) {
        Ok(warnings) => Ok((memory.into_documents(), warnings)),
        Err(Failed::Errors(errors)) => Err(errors),
        // Memory's writers are `Vec<u8>`, whose `write` never fails, and what the targets
        // serialise (strings, numbers, string-keyed maps) fails only through its writer.
        Err(Failed::Io(error)) => panic!("invariant: writing to memory cannot fail: {error}"),
    }
}

/// Whether a role of the program is bound to a selector of this kind.
fn selects(program: &Program, kind: crate::ast::SelectorKind) -> bool {
    program
        .nodes
        .iter()
        .any(|n| n.kind == crate::hir::NodeKind::Role && n.selector.as_ref().is_some_and(|s| s.kind == kind))
}

pub fn lowerer(target: Target) -> Box<dyn Lower> {
    match target {
        Target::Json => Box::new(json::Json),
        Target::Dot => Box::new(dot::Dot),
        Target::Markdown => Box::new(markdown::Markdown),
        Target::Nftables => Box::new(nftables::Nftables),
        Target::Iptables => Box::new(iptables::Iptables),
        Target::Firewalld => Box::new(firewalld::Firewalld),
        Target::NetworkPolicy => Box::new(networkpolicy::NetworkPolicies),
        Target::Calico => Box::new(calico::Calico),
        Target::Aws => Box::new(aws::Aws),
        Target::Cilium => Box::new(cilium::Cilium),
    }
}

/// A flow the build leaves undecided would be silently open or silently closed: an error for
/// every flow with an edge that `concerns` the output.
fn undecided(program: &Program, edges: &[&Edge], concerns: impl Fn(&Edge) -> bool, errors: &mut Vec<Diagnostic>) {
    let mut seen = BTreeSet::new();
    for edge in edges.iter().filter(|e| concerns(e)) {
        if edge.residual == Cond::Const(true) || !seen.insert(edge.flow) {
            continue;
        }
        let Some(flow) = program.flows.get(edge.flow.index()) else { continue };
        errors.push(
            Diagnostic::new(
                Code::UndecidedCondition,
                "this flow depends on a setting the build leaves open",
                flow.span,
                "undecided",
            )
            .with_note(format!("what is left of its condition: {}", edge.residual.display(program)))
            .with_help(
                "a firewall or policy is either open or closed: `set` the flags and options it names, or pass `--set`",
            ),
        );
    }
}

/// Where an edge comes from, for comments and annotations in the output:
/// `Rancher agent (3)(5) [rancher.downstream.custom:76]`.
fn provenance(program: &Program, edge: &Edge) -> String {
    let flow = program.flows.get(edge.flow.index());
    let module = flow.and_then(|f| program.modules.get(f.module.index())).map_or("?", |m| m.name.as_str());
    let line = flow.map_or(0, |f| f.line);
    let description = flow.and_then(|f| f.description.clone()).unwrap_or_else(|| edge.protocol.to_string());
    let notes: Vec<&str> = flow
        .map(|f| f.notes.iter().filter_map(|n| program.notes.get(n.index())).map(|n| n.label.as_str()).collect())
        .unwrap_or_default();
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(")(")) };
    format!("{description}{notes} [{module}:{line}]")
}

/// The name a node goes by in the output.
fn node_name(names: &[String], node: NodeId) -> &str {
    names.get(node.index()).map_or("?", String::as_str)
}

/// What one role allows from (or to) one peer, each entry with the provenance of the flows that
/// need it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Allowed {
    /// (protocol, start, end) -> provenance; after `merge_overlaps`, no two ranges of one protocol overlap.
    pub(crate) ported: BTreeMap<(Protocol, u16, u16), BTreeSet<String>>,
    /// Protocols without ports -> provenance.
    pub(crate) portless: BTreeMap<Protocol, BTreeSet<String>>,
}

impl Allowed {
    fn add(&mut self, edge: &Edge, provenance: String) {
        match edge.ports {
            Some((start, end)) => {
                self.ported.entry((edge.protocol, start, end)).or_default().insert(provenance);
            }
            None => {
                self.portless.entry(edge.protocol).or_default().insert(provenance);
            }
        }
    }

    /// Merges overlapping ranges of one protocol (interval sets reject overlapping elements, and
    /// manifests read better without them).
    fn merge_overlaps(&mut self) {
        let mut merged: BTreeMap<(Protocol, u16, u16), BTreeSet<String>> = BTreeMap::new();
        let mut current: Option<((Protocol, u16, u16), BTreeSet<String>)> = None;
        for ((protocol, start, end), comments) in std::mem::take(&mut self.ported) {
            match current.as_mut() {
                Some(((p, _, e), c)) if *p == protocol && start <= *e => {
                    *e = (*e).max(end);
                    c.extend(comments);
                }
                _ => {
                    if let Some((key, c)) = current.replace(((protocol, start, end), comments)) {
                        merged.insert(key, c);
                    }
                }
            }
        }
        if let Some((key, c)) = current {
            merged.insert(key, c);
        }
        self.ported = merged;
    }

    /// Whether TCP or UDP port 53 is allowed.
    fn reaches_dns(&self) -> bool {
        self.ported.keys().any(|(p, s, e)| matches!(p, Protocol::Udp | Protocol::Tcp) && *s <= 53 && 53 <= *e)
    }
}
