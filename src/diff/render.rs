//! The comparison as text: for people (grouped by role pair, like a review comment), as markdown for
//! a pull request's comment, and as JSON (`portc.diff/v1`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rustc_hash::FxHashMap;

use super::{Allowance, Change, Cited, CitedSetting, Configurations, Diff, Difference, NodeChange, NodeInfo, When};

impl Diff {
    /// The document of `--format json`, ending in a newline.
    pub fn json(&self) -> String {
        // Strings, numbers and vectors only: serde_json fails only on non-string map keys or a failing Serialize impl.
        let mut text = serde_json::to_string_pretty(self).expect("invariant: plain data serialises");
        text.push('\n');
        text
    }

    /// `json`, written as it is made: a comparison of large programs has hundreds of megabytes of it.
    pub fn write_json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self).map_err(std::io::Error::other)?;
        out.write_all(b"\n")
    }

    /// The comparison for people: a header, then one block per role pair (pairs with the same
    /// differences share a block).
    pub fn human(&self) -> String {
        let mut out = self.header_lines().join("\n");
        out.push('\n');
        if self.is_empty() {
            out.push_str("\nno difference in what is allowed\n");
            return out;
        }
        for node in &self.nodes {
            out.push('\n');
            out.push_str(&node_change_text(node));
        }
        for block in blocks(&self.differences, self.configurations) {
            let _ = write!(out, "\n{}\n", block.title());
            for d in block.differences {
                out.push_str(&difference_text(d, self.configurations));
            }
        }
        out
    }

    /// The comparison as a pull request comment: a summary and one table row per difference.
    pub fn markdown(&self) -> String {
        let mut out = format!("### `portc diff` {} → {}\n\n", code(&self.old.input), code(&self.new.input));
        let _ = writeln!(out, "{}.", compared(self.configurations));
        if self.is_empty() {
            out.push_str("\nNo difference in what is allowed.\n");
            return out;
        }
        let _ = writeln!(out, "\n**{}**\n", self.counts());
        if !self.nodes.is_empty() {
            out.push_str("| Node | OLD | NEW |\n|---|---|---|\n");
            for node in &self.nodes {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    cell(&node.name),
                    cell(&node_text(&node.old)),
                    cell(&node_text(&node.new))
                );
            }
            out.push('\n');
        }
        out.push_str(
            "| | From | To | Traffic | OLD allows it | NEW allows it | Lines |\n|---|---|---|---|---|---|---|\n",
        );
        for block in blocks(&self.differences, self.configurations) {
            let (from, to) = (block.from.join(", "), block.to.join(", "));
            let to = if block.local { format!("{to} (node-local)") } else { to };
            for d in block.differences {
                let _ = writeln!(out, "{}", markdown_row(&from, &to, d));
            }
        }
        out
    }

    fn header_lines(&self) -> Vec<String> {
        let side = |label: &str, input: &str, module: &str, settings: &[String]| {
            let mut line = format!("{label} {input}");
            if module != input {
                let _ = write!(line, " (module {module})");
            }
            if !settings.is_empty() {
                let _ = write!(line, " with {}", settings.join(", "));
            }
            line
        };
        let mut lines = vec![
            side("---", &self.old.input, &self.old.module, &self.old.settings),
            side("+++", &self.new.input, &self.new.module, &self.new.settings),
            format!("{}; {}", compared(self.configurations), self.counts()),
        ];
        for r in &self.renames {
            lines.push(format!("OLD's `{}` is NEW's `{}`", r.old, r.new));
        }
        let one_sided: Vec<String> = self
            .switches
            .iter()
            .filter(|s| s.declared != super::Presence::Both)
            .map(|s| format!("{} ({} only)", s.name, if s.declared == super::Presence::Old { "OLD" } else { "NEW" }))
            .collect();
        if !one_sided.is_empty() && self.configurations == Configurations::Every {
            lines.push(format!("switches of one side, unconstrained on the other: {}", one_sided.join(", ")));
        }
        lines
    }

    fn counts(&self) -> String {
        let s = &self.summary;
        let mut parts =
            vec![format!("{} removed", s.removed), format!("{} added", s.added), format!("{} changed", s.changed)];
        if s.nodes > 0 {
            parts.push(format!("{} node{} rebound", s.nodes, if s.nodes == 1 { "" } else { "s" }));
        }
        parts.join(", ")
    }
}

/// Role pairs with the same differences, as one block: the destinations of a source that differ
/// alike, then the sources whose destinations and differences are alike. The pairs of a block are
/// exactly the product of its sources and destinations.
struct Block<'d> {
    from: Vec<&'d str>,
    to: Vec<&'d str>,
    /// Node-local traffic has blocks of its own, so that it does not split the blocks of the rest.
    local: bool,
    differences: Vec<&'d Difference>,
}

impl Block<'_> {
    fn title(&self) -> String {
        let local = if self.local { " (node-local)" } else { "" };
        format!("{} -> {}{local}", self.from.join(", "), self.to.join(", "))
    }
}

/// Node-local or not, source, destination.
type Pair<'d> = (bool, &'d str, &'d str);

fn blocks(differences: &[Difference], configurations: Configurations) -> Vec<Block<'_>> {
    // (local, from, to) -> its differences, in order; a list's key is its text without the pair.
    let mut pairs: BTreeMap<Pair<'_>, Vec<&Difference>> = BTreeMap::new();
    for d in differences {
        pairs.entry((d.local, &d.from, &d.to)).or_default().push(d);
    }
    let text = |list: &[&Difference]| list.iter().map(|d| difference_text(d, configurations)).collect::<String>();
    // The destinations of each source that differ alike.
    let mut by_source: Vec<(&str, Vec<&str>, Vec<&Difference>, String)> = Vec::new();
    let mut seen: FxHashMap<(&str, String), usize> = FxHashMap::default();
    for ((local, from, to), list) in pairs {
        // Node-local traffic from a node to itself reads best as `self`, as the language writes it.
        let to = if local && from == to { "self" } else { to };
        let probe = (from, format!("{local}{}", text(&list)));
        if let Some((_, tos, _, _)) = seen.get(&probe).copied().and_then(|i| by_source.get_mut(i)) {
            tos.push(to);
            continue;
        }
        by_source.push((from, vec![to], list, probe.1.clone()));
        seen.insert(probe, by_source.len() - 1);
    }
    // Then the sources whose destinations and differences are alike.
    let mut out: Vec<Block<'_>> = Vec::new();
    let mut blocks_seen: FxHashMap<(Vec<&str>, String), usize> = FxHashMap::default();
    for (from, to, list, key) in by_source {
        let probe = (to, key);
        if let Some(block) = blocks_seen.get(&probe).copied().and_then(|i| out.get_mut(i)) {
            block.from.push(from);
            continue;
        }
        let local = list.first().is_some_and(|d| d.local);
        out.push(Block { from: vec![from], to: probe.0.clone(), local, differences: list });
        blocks_seen.insert(probe, out.len() - 1);
    }
    out
}

fn markdown_row(from: &str, to: &str, d: &Difference) -> String {
    let mark = match d.change {
        Change::Removed => "➖ removed",
        Change::Added => "➕ added",
        Change::Changed => "✏️ changed",
    };
    let mut lines: Vec<String> = [("OLD", &d.old), ("NEW", &d.new)]
        .iter()
        .flat_map(|(side, a)| a.flows.iter().map(move |f| format!("{side} `{}:{}`", f.module, f.line)))
        .collect();
    for (side, a) in [("OLD", &d.old), ("NEW", &d.new)] {
        lines.extend(a.settings.iter().map(|s| match &s.origin {
            Some(p) => format!("{side} `{}:{}` `{}`", p.file, p.line, p.text.replace('`', "'")),
            None => format!("{side} {}", setting_text(s)),
        }));
    }
    format!(
        "| {mark} | {} | {} | {} | {} | {} | {} |",
        cell(from),
        cell(to),
        cell(&traffic(d)),
        cell(&allowance_short(&d.old)),
        cell(&allowance_short(&d.new)),
        lines.join("<br>")
    )
}

fn compared(configurations: Configurations) -> &'static str {
    match configurations {
        Configurations::Every => "Compared in every configuration each side allows",
        Configurations::Build => "Compared in the build's configuration (defaults included), as `portc build`",
    }
}

/// `tcp 443`, `udp 30000-32767`, `ipip`.
fn traffic(d: &Difference) -> String {
    match d.ports {
        Some(p) if p.start == p.end => format!("{} {}", d.protocol, p.start),
        Some(p) => format!("{} {}-{}", d.protocol, p.start, p.end),
        None => d.protocol.to_string(),
    }
}

fn difference_text(d: &Difference, configurations: Configurations) -> String {
    let mut out = String::new();
    let mark = match d.change {
        Change::Removed => '-',
        Change::Added => '+',
        Change::Changed => '~',
    };
    let _ = write!(out, "  {mark} {:<18}", traffic(d));
    match d.change {
        Change::Removed => {
            out.push_str(&format!(" removed: OLD allows it {}\n", allowance_words(&d.old, configurations)))
        }
        Change::Added => out.push_str(&format!(" added: NEW allows it {}\n", allowance_words(&d.new, configurations))),
        Change::Changed => {
            let _ = writeln!(out, " condition changed");
            let _ = writeln!(out, "        OLD allows it {}", allowance_words(&d.old, configurations));
            let _ = writeln!(out, "        NEW allows it {}", allowance_words(&d.new, configurations));
            for (side, only) in [("OLD", &d.only_old), ("NEW", &d.only_new)] {
                if let Some(when) = only {
                    let _ = writeln!(out, "        only {side} allows it {}", when_words(when));
                }
            }
        }
    }
    for (side, allowance) in [("OLD", &d.old), ("NEW", &d.new)] {
        for flow in &allowance.flows {
            let _ = writeln!(out, "        {side} {}", cited_text(flow));
        }
    }
    for (side, allowance) in [("OLD", &d.old), ("NEW", &d.new)] {
        for setting in &allowance.settings {
            let _ = writeln!(out, "        {side} {}", setting_text(setting));
        }
    }
    out
}

/// `site.ports:11 set cni = canal`, or `leaves cni open` when nothing gives it a value.
fn setting_text(s: &CitedSetting) -> String {
    match (&s.origin, &s.value) {
        (Some(place), _) => format!("{}:{} {}", place.file, place.line, place.text),
        (None, Some(value)) => format!("has {} = {value}", s.name),
        (None, None) => format!("leaves {} open", s.name),
    }
}

/// "in every configuration", "when cni == calico", "in no configuration".
fn allowance_words(a: &Allowance, configurations: Configurations) -> String {
    match (&*a.condition, configurations) {
        ("true", Configurations::Every) => "in every configuration".to_string(),
        ("true", Configurations::Build) => "in the build".to_string(),
        ("false", _) => "in no configuration".to_string(),
        (c, _) => format!("when {c}"),
    }
}

fn allowance_short(a: &Allowance) -> String {
    match &*a.condition {
        "true" => "yes".to_string(),
        "false" => "no".to_string(),
        c => format!("when `{c}`"),
    }
}

fn when_words(w: &When) -> String {
    if w.example.is_empty() { "in every configuration".to_string() } else { format!("with {}", w.example) }
}

/// `rancher.common:92 "Rancher webhook" [1] Local traffic...; when cni == canal`.
fn cited_text(c: &Cited) -> String {
    let mut text = format!("{}:{}", c.module, c.line);
    // A site file's path says where to look; a stdlib module's name already does.
    if c.module != c.file && !c.file.starts_with("<stdlib>/") {
        let _ = write!(text, " ({})", c.file);
    }
    if let Some(d) = &c.description {
        let _ = write!(text, " \"{}\"", shorten(d));
    }
    for note in &c.notes {
        let _ = write!(text, " {}", shorten(note));
    }
    match c.condition.as_str() {
        "true" => {}
        "false" => text.push_str("; never active here"),
        cond => {
            let _ = write!(text, "; when {cond}");
        }
    }
    text
}

/// At most 60 characters, with `…` for the rest: JSON has the whole text.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text).trim_end()),
        None => text.to_string(),
    }
}

fn node_text(n: &NodeInfo) -> String {
    let kind = match n.kind {
        crate::hir::NodeKind::Role => "role",
        crate::hir::NodeKind::External => "external",
    };
    let mut parts = vec![kind.to_string()];
    if !n.addresses.is_empty() {
        parts.push(n.addresses.join(", "));
    }
    if let Some(s) = &n.selector {
        parts.push(s.clone());
    }
    if n.addresses.is_empty() && n.selector.is_none() {
        parts.push("unbound".into());
    }
    parts.join(" ")
}

fn node_change_text(n: &NodeChange) -> String {
    format!("{} rebound\n  - {}\n  + {}\n", n.name, node_text(&n.old), node_text(&n.new))
}

/// A markdown table cell: pipes escaped, no line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}
