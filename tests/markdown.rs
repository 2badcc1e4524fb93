//! The markdown target read back by a real GFM parser: its tables must be well-formed, and the
//! From/To matrix and the per-role rules must list exactly the json target's flows.

#![allow(clippy::disallowed_methods)] // Tests read their own files.

use std::collections::BTreeSet;

mod support;

use portc::{FsLoader, Options, Root, Target};
use pulldown_cmark::{Event, HeadingLevel, Options as MdOptions, Parser, Tag, TagEnd};

/// (from, to, protocol, ports) with ports as written: `2379`, `2379-2380` or empty.
type Flow = (String, String, String, String);

/// Settings that fix every flag and option (to its default, or its first choice) and every param,
/// so the markdown (which shows what explicit settings allow) and the json (which applies
/// defaults) describe the same flows.
fn fixed_settings(root: &Root) -> Vec<String> {
    let mut map = portc::diag::SourceMap::default();
    let (program, _) = portc::resolve::resolve(root, &FsLoader, "", &mut map).expect("root loads");
    let (flag_names, option_names) = (program.flag_names(), program.option_names());
    let mut settings = Vec::new();
    for ((flag, value), name) in program.flags.iter().zip(&program.config.flags).zip(&flag_names) {
        let _ = flag;
        settings.push(format!("{name}={}", value.unwrap_or(false)));
    }
    for ((option, value), name) in program.options.iter().zip(&program.config.options).zip(&option_names) {
        let choice = option.choices.get(value.unwrap_or(0) as usize).cloned().unwrap_or_default();
        settings.push(format!("{name}={choice}"));
    }
    settings.extend(support::placeholder_params(&program));
    settings
}

fn build(root: &Root, target: Target, settings: &[String]) -> String {
    let options = Options { target: Some(target), settings: settings.to_vec(), ..Options::default() };
    let outcome = portc::compile(root, &FsLoader, &options).expect("loads");
    let rendered = portc::diag::render::human(&outcome.sources, &outcome.diagnostics, false);
    outcome.output.unwrap_or_else(|| panic!("{root:?} for {}:\n{rendered}", target.name()))
}

fn json_flows(text: &str) -> BTreeSet<Flow> {
    let document: serde_json::Value = serde_json::from_str(text).expect("json");
    let flows = document["flows"].as_array().cloned().unwrap_or_default();
    flows
        .iter()
        .map(|f| {
            let ports = match (f["ports"]["start"].as_u64(), f["ports"]["end"].as_u64()) {
                (Some(s), Some(e)) if s == e => s.to_string(),
                (Some(s), Some(e)) => format!("{s}-{e}"),
                _ => String::new(),
            };
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            (text(&f["from"]), text(&f["to"]), text(&f["protocol"]), ports)
        })
        .collect()
}

/// One table: its rows of cells; a cell's `<br>` separates items.
#[derive(Debug, Default)]
struct Table {
    /// The nearest heading above it and the bold text just before it.
    heading: String,
    caption: String,
    rows: Vec<Vec<String>>,
}

fn tables(markdown: &str) -> Vec<Table> {
    let mut tables = Vec::new();
    let (mut heading, mut caption, mut in_heading, mut in_strong) = (String::new(), String::new(), false, false);
    let mut current: Option<Table> = None;
    let mut row: Vec<String> = Vec::new();
    let mut text = String::new();
    for event in Parser::new_ext(markdown, MdOptions::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { level: HeadingLevel::H3, .. }) => {
                heading.clear();
                in_heading = true;
            }
            Event::End(TagEnd::Heading(_)) => in_heading = false,
            Event::Start(Tag::Strong) => {
                caption.clear();
                in_strong = true;
            }
            Event::End(TagEnd::Strong) => in_strong = false,
            Event::Start(Tag::Table(_)) => {
                current = Some(Table { heading: heading.clone(), caption: caption.clone(), rows: Vec::new() })
            }
            Event::End(TagEnd::Table) => tables.extend(current.take()),
            Event::Start(Tag::TableRow | Tag::TableHead) => row.clear(),
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => {
                if let Some(t) = current.as_mut() {
                    t.rows.push(std::mem::take(&mut row));
                }
            }
            Event::Start(Tag::TableCell) => text.clear(),
            Event::End(TagEnd::TableCell) => row.push(text.trim().to_string()),
            Event::Text(t) | Event::Code(t) => {
                if in_heading {
                    heading.push_str(&t);
                } else if in_strong {
                    caption.push_str(&t);
                } else {
                    text.push_str(&t);
                }
            }
            Event::InlineHtml(html) if html.as_ref() == "<br>" => text.push('\n'),
            _ => {}
        }
    }
    tables
}

/// `8472 UDP (3) [if ...] local` -> (UDP, 8472); `IPIP` -> (IPIP, "").
fn matrix_item(item: &str) -> (String, String) {
    let words: Vec<&str> = item.split_whitespace().collect();
    match words.as_slice() {
        [first, second, ..] if first.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
            (second.to_lowercase(), first.to_string())
        }
        [first, ..] => (first.to_lowercase(), String::new()),
        [] => (String::new(), String::new()),
    }
}

fn markdown_flows(markdown: &str) -> (BTreeSet<Flow>, BTreeSet<Flow>, BTreeSet<Flow>) {
    let (mut matrix, mut inbound, mut outbound) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for table in tables(markdown) {
        let Some((header, rows)) = table.rows.split_first() else { continue };
        assert!(rows.iter().all(|r| r.len() == header.len()), "a ragged table: {table:?}");
        if header.first().map(String::as_str) == Some("From \\ To") {
            for row in rows {
                let Some((from, cells)) = row.split_first() else { continue };
                for (to, cell) in header.iter().skip(1).zip(cells) {
                    for item in cell.lines().filter(|i| !i.trim().is_empty()) {
                        let (protocol, ports) = matrix_item(item);
                        matrix.insert((from.clone(), to.clone(), protocol, ports));
                    }
                }
            }
            continue;
        }
        if header.first().map(String::as_str) != Some("Protocol") {
            continue;
        }
        let role = table.heading.clone();
        for row in rows {
            let [protocols, ports, peers, ..] = row.as_slice() else { continue };
            for protocol in protocols.split('/') {
                for peer in peers.split(", ") {
                    let peer = if peer == "self (local)" { role.clone() } else { peer.to_string() };
                    let (from, to) =
                        if table.caption == "Inbound" { (peer, role.clone()) } else { (role.clone(), peer) };
                    let flow = (from, to, protocol.to_lowercase(), ports.clone());
                    if table.caption == "Inbound" {
                        inbound.insert(flow)
                    } else {
                        outbound.insert(flow)
                    };
                }
            }
        }
    }
    (matrix, inbound, outbound)
}

fn roots() -> Vec<Root> {
    let mut roots: Vec<Root> = portc::stdlib::modules().map(|m| Root::Module(m.name.to_string())).collect();
    roots.extend(support::examples().into_iter().map(Root::File));
    roots
}

#[test]
fn markdown_tables_say_what_the_json_says() {
    for root in roots() {
        let settings = fixed_settings(&root);
        let json = json_flows(&build(&root, Target::Json, &settings));
        let markdown = build(&root, Target::Markdown, &settings);
        let (matrix, inbound, outbound) = markdown_flows(&markdown);
        assert_eq!(matrix, json, "{root:?}: the From/To matrix differs from the json flows");
        let roles: BTreeSet<String> = inbound.iter().map(|f| f.1.clone()).collect();
        let json_in: BTreeSet<Flow> = json.iter().filter(|f| roles.contains(&f.1)).cloned().collect();
        assert_eq!(inbound, json_in, "{root:?}: the inbound rules differ from the json flows");
        for flow in &outbound {
            assert!(json.contains(flow), "{root:?}: outbound row {flow:?} is no json flow");
        }
    }
}

#[test]
fn markdown_of_every_stdlib_module_is_snapshotted() {
    for module in portc::stdlib::modules() {
        let root = Root::Module(module.name.to_string());
        let settings: Vec<String> = fixed_settings(&root).into_iter().filter(|s| s.contains("=6000")).collect();
        insta::assert_snapshot!(format!("markdown.{}", module.name), build(&root, Target::Markdown, &settings));
    }
}

/// The `never` invariants have a table of their own, and it lists what the json's `never` lists.
#[test]
fn markdown_lists_the_never_invariants() {
    let root = Root::File("examples/rancher-custom-site.ports".into());
    let markdown = build(&root, Target::Markdown, &[]);
    let json: serde_json::Value = serde_json::from_str(&build(&root, Target::Json, &[])).expect("json");
    let never = tables(&markdown)
        .into_iter()
        .find(|t| t.rows.first().is_some_and(|h| h.first().map(String::as_str) == Some("From")))
        .expect("a never table");
    let mut listed = BTreeSet::new();
    for row in never.rows.iter().skip(1) {
        let [from, to, forbidden, ..] = row.as_slice() else { panic!("a short row: {row:?}") };
        for to in to.split(", ") {
            for item in forbidden.split(", ") {
                let (protocol, ports) = matrix_item(item);
                listed.insert((from.clone(), to.to_string(), protocol, ports));
            }
        }
    }
    let expected: BTreeSet<Flow> = json["never"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let ports = match (n["ports"]["start"].as_u64(), n["ports"]["end"].as_u64()) {
                (Some(s), Some(e)) if s == e => s.to_string(),
                (Some(s), Some(e)) => format!("{s}-{e}"),
                _ => String::new(),
            };
            (
                n["from"].as_str().unwrap_or("").to_string(),
                n["to"].as_str().unwrap_or("").to_string(),
                n["protocol"].as_str().unwrap_or("").to_string(),
                ports,
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(listed, expected);
}
