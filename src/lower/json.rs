//! The `json` target: the checked flow graph as data, format `portc.flows/v1`
//! (documented in docs/json-format.md).

use serde::Serialize;

use super::Lower;
use crate::check::Checked;
use crate::graph::Edge;
use crate::hir::{Cond, NodeKind, Program};

pub const FORMAT: &str = "portc.flows/v1";

pub struct Json;

const DESCRIPTION: super::Description = super::Description {
    name: "json",
    about: "The checked flow graph as data (docs/json-format.md)",
    per_host: false,
    settings: &[],
    extension: "json",
    documents: false,
    site: false,
};

impl Lower for Json {
    fn description(&self) -> &'static super::Description {
        &DESCRIPTION
    }

    fn lower(&self, policy: &Checked, _: &super::TargetOptions) -> super::Lowered {
        let graph = policy.graph();
        let program = &graph.program;
        let names = program.node_names();
        let document = Document {
            format: FORMAT,
            module: program.modules.first().map_or("", |m| m.name.as_str()),
            modules: modules(program),
            config: config(program),
            nodes: nodes(program, &names),
            flows: edges(program, &names, &graph.edges, &program.flows),
            never: edges(program, &names, &graph.nevers, &program.nevers),
        };
        // Strings, numbers and vectors only: serde_json fails only on non-string map keys or a failing Serialize impl.
        let mut text = serde_json::to_string_pretty(&document).expect("invariant: plain data serialises");
        text.push('\n');
        Ok((super::Document::whole(text), Vec::new()))
    }
}

#[derive(Serialize)]
struct Document<'a> {
    format: &'static str,
    module: &'a str,
    modules: Vec<Module<'a>>,
    config: Config<'a>,
    nodes: Vec<Node<'a>>,
    flows: Vec<Flow<'a>>,
    never: Vec<Flow<'a>>,
}

#[derive(Serialize)]
struct Module<'a> {
    name: &'a str,
    title: Option<&'a str>,
    source: Option<&'a str>,
    file: &'a str,
}

#[derive(Serialize)]
struct Config<'a> {
    flags: Vec<Setting<'a, bool>>,
    options: Vec<OptionSetting<'a>>,
    params: Vec<Setting<'a, u16>>,
}

#[derive(Serialize)]
struct Setting<'a, T> {
    name: &'a str,
    value: Option<T>,
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct OptionSetting<'a> {
    name: &'a str,
    choices: &'a [String],
    value: Option<&'a str>,
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct Node<'a> {
    name: &'a str,
    kind: NodeKind,
    description: Option<&'a str>,
    addresses: Vec<String>,
    selector: Option<Selector<'a>>,
    origin: Origin<'a>,
}

#[derive(Serialize)]
struct Selector<'a> {
    kind: crate::ast::SelectorKind,
    labels: std::collections::BTreeMap<&'a str, &'a str>,
    namespace: Option<&'a str>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Flow<'a> {
    from: &'a str,
    to: &'a str,
    protocol: &'static str,
    ports: Option<Ports>,
    local: bool,
    /// Written only when true, so documents without management flows read as before.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    management: bool,
    description: Option<&'a str>,
    service: Option<&'a str>,
    notes: Vec<Note<'a>>,
    condition: Option<String>,
    origin: Origin<'a>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
struct Ports {
    start: u16,
    end: u16,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Note<'a> {
    label: &'a str,
    text: &'a str,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
struct Origin<'a> {
    module: &'a str,
    file: &'a str,
    line: u32,
}

fn modules(program: &Program) -> Vec<Module<'_>> {
    let mut modules: Vec<Module<'_>> = program
        .modules
        .iter()
        .map(|m| Module { name: &m.name, title: m.title.as_deref(), source: m.source.as_deref(), file: &m.path })
        .collect();
    modules.sort_by(|a, b| (a.name, a.file).cmp(&(b.name, b.file)));
    modules
}

fn config(program: &Program) -> Config<'_> {
    let c = &program.config;
    let mut flags: Vec<Setting<'_, bool>> = program
        .flags
        .iter()
        .enumerate()
        .map(|(i, f)| Setting {
            name: &f.name,
            value: c.flags.get(i).copied().flatten(),
            description: f.description.as_deref(),
        })
        .collect();
    let mut options: Vec<OptionSetting<'_>> = program
        .options
        .iter()
        .enumerate()
        .map(|(i, o)| OptionSetting {
            name: &o.name,
            choices: &o.choices,
            value: c.options.get(i).copied().flatten().and_then(|v| o.choices.get(v as usize)).map(String::as_str),
            description: o.description.as_deref(),
        })
        .collect();
    let mut params: Vec<Setting<'_, u16>> = program
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| Setting {
            name: &p.name,
            value: c.params.get(i).copied().flatten(),
            description: p.description.as_deref(),
        })
        .collect();
    flags.sort_by(|a, b| a.name.cmp(b.name));
    options.sort_by(|a, b| a.name.cmp(b.name));
    params.sort_by(|a, b| a.name.cmp(b.name));
    Config { flags, options, params }
}

fn nodes<'a>(program: &'a Program, names: &'a [String]) -> Vec<Node<'a>> {
    let mut nodes: Vec<Node<'a>> = program
        .nodes
        .iter()
        .zip(names)
        .map(|(node, name)| Node {
            name,
            kind: node.kind,
            description: node.description.as_deref(),
            addresses: node.addresses.iter().map(ToString::to_string).collect(),
            selector: node.selector.as_ref().map(|s| Selector {
                kind: s.kind,
                labels: s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
                namespace: s.namespace.as_deref(),
            }),
            origin: origin(program, node.module, node.line),
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(b.name));
    nodes
}

fn edges<'a>(
    program: &'a Program,
    names: &'a [String],
    edges: &[Edge],
    flows: &'a [crate::hir::Flow],
) -> Vec<Flow<'a>> {
    let mut out: Vec<Flow<'a>> = edges
        .iter()
        .filter(|edge| edge.built())
        .filter_map(|edge| {
            let flow = flows.get(edge.flow.index())?;
            let mut notes: Vec<Note<'_>> = flow
                .notes
                .iter()
                .filter_map(|n| program.notes.get(n.index()))
                .map(|n| Note { label: &n.label, text: &n.text })
                .collect();
            // Numeric labels in numeric order: by length, then text.
            notes.sort_by(|a, b| (a.label.len(), a.label).cmp(&(b.label.len(), b.label)));
            Some(Flow {
                from: names.get(edge.from.index())?,
                to: names.get(edge.to.index())?,
                protocol: edge.protocol.name(),
                ports: edge.ports.map(|(start, end)| Ports { start, end }),
                local: edge.local,
                management: flow.management,
                description: flow.description.as_deref(),
                service: flow.service.as_deref(),
                notes,
                condition: match &edge.residual {
                    Cond::Const(true) => None,
                    other => Some(other.display(program)),
                },
                origin: origin(program, flow.module, flow.line),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn origin(program: &Program, module: crate::hir::ModuleId, line: u32) -> Origin<'_> {
    let module = program.modules.get(module.index());
    Origin { module: module.map_or("", |m| m.name.as_str()), file: module.map_or("", |m| m.path.as_str()), line }
}
