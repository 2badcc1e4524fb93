//! What a site must decide to use a program: the switches its flows depend on (wherever they are
//! declared), the params without a value, and the roles and externals its flows need addresses
//! for. `portc stdlib show` prints it above a module's text, as comments, so a user sees a
//! module's knobs without reading the vocabulary modules it uses.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::hir::{Cond, NodeKind, PortRef, Program};

/// The summary of `program` as `#` comment lines, so that the text it heads still parses.
pub fn summary(program: &Program) -> String {
    let (flags, options, params) = switches(program);
    let names = program.node_names();
    let mut out = String::new();
    if let Some(module) = program.modules.first() {
        let _ =
            writeln!(out, "# {}{}", module.name, module.title.as_ref().map(|t| format!(": {t}")).unwrap_or_default());
        if let Some(source) = &module.source {
            let _ = writeln!(out, "# source: {source}");
        }
    }
    out.push_str("#\n# Settings its flows depend on (`set NAME = VALUE`):\n");
    let mut rows = Vec::new();
    for flag in flags.iter().filter_map(|f| program.flags.get(f.index())) {
        let default = flag.default.map_or("no default".to_string(), |d| format!("default {d}"));
        rows.push((flag.name.clone(), format!("true | false, {default}"), flag.description.clone(), flag.module));
    }
    for option in options.iter().filter_map(|o| program.options.get(o.index())) {
        let default = option
            .default
            .and_then(|d| option.choices.get(d as usize))
            .map_or("no default".to_string(), |d| format!("default {d}"));
        rows.push((
            option.name.clone(),
            format!("{}, {default}", option.choices.join(" | ")),
            option.description.clone(),
            option.module,
        ));
    }
    for param in params.iter().filter_map(|p| program.params.get(p.index())) {
        let default = param.default.map_or("no default: a site must set it".to_string(), |d| format!("default {d}"));
        rows.push((param.name.clone(), format!("a port, {default}"), param.description.clone(), param.module));
    }
    rows.sort();
    if rows.is_empty() {
        out.push_str("#   none\n");
    }
    for (name, values, description, module) in rows {
        let from = program.modules.get(module.index()).map_or("", |m| m.name.as_str());
        let _ = writeln!(out, "#   {name} = {values}  ({from})");
        if let Some(description) = description {
            let _ = writeln!(out, "#       {description}");
        }
    }
    let mut used = used_nodes(program);
    // A host firewall also needs the Service CIDR of `kubernetes.cluster`, which no flow names.
    used.extend(program.nodes.iter().position(|n| {
        n.name == "service_cidr"
            && program.modules.get(n.module.index()).is_some_and(|m| m.name == crate::stdlib::CLUSTER_MODULE)
    }));
    for (kind, title) in [(NodeKind::Role, "Roles"), (NodeKind::External, "Externals")] {
        let mut unbound: Vec<&str> = Vec::new();
        let mut bound: Vec<&str> = Vec::new();
        for (index, node) in program.nodes.iter().enumerate().filter(|(i, n)| n.kind == kind && used.contains(i)) {
            let name = names.get(index).map_or(node.name.as_str(), String::as_str);
            if node.addresses.is_empty() { unbound.push(name) } else { bound.push(name) }
        }
        let _ = writeln!(out, "#\n# {title} its flows need addresses for (`bind NAME = ADDRESS, ...`):");
        let _ = writeln!(out, "#   {}", if unbound.is_empty() { "none".to_string() } else { unbound.join(", ") });
        if !bound.is_empty() {
            let _ = writeln!(out, "#   already addressed: {}", bound.join(", "));
        }
    }
    out.push_str("#\n");
    out
}

/// The flags and options the flows' and notes' conditions mention, and the params flows use as ports.
fn switches(
    program: &Program,
) -> (BTreeSet<crate::hir::FlagId>, BTreeSet<crate::hir::OptionId>, BTreeSet<crate::hir::ParamId>) {
    let mut flags = BTreeSet::new();
    let mut options = BTreeSet::new();
    let mut params = BTreeSet::new();
    let mut add = |cond: &Cond| {
        let (f, o) = crate::check::logic::variables(cond);
        flags.extend(f);
        options.extend(o);
    };
    for flow in program.flows.iter().chain(&program.nevers) {
        add(&flow.when);
        for note in flow.notes.iter().filter_map(|n| program.notes.get(n.index())) {
            add(&note.when);
        }
        params.extend(flow.ports.iter().filter_map(|p| match p {
            PortRef::Param(param, _) => Some(*param),
            PortRef::Range(..) => None,
        }));
    }
    (flags, options, params)
}

/// The indexes of the nodes that a flow (not a `never`) has at either end.
fn used_nodes(program: &Program) -> BTreeSet<usize> {
    let mut used = BTreeSet::new();
    for flow in &program.flows {
        used.extend(flow.from.iter().map(|n| n.index()));
        if let crate::hir::Target::Nodes(to) = &flow.to {
            used.extend(to.iter().map(|n| n.index()));
        }
    }
    used
}
