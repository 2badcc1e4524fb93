//! Synthetic programs for benchmarks and scale tests: many roles, groups, flows, conditions,
//! notes, services, params, `never` invariants and bindings, generated deterministically from a seed.
//!
//! The programs are built to check clean, so that every stage, every target included, runs to the
//! end on them: every role is bound to addresses of its own, every flag and option has a default,
//! and ports are handed out per destination so that no two flows to one node overlap (no duplicate,
//! shadowed or doubly claimed ports), while `never` invariants guard a band of ports no flow uses.
//! `portc-synth` (tools/portc-synth.rs, an example) prints them; the benches and tests call `generate`.

use std::fmt::Write as _;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Roles (hosts or workloads the policy controls).
    pub roles: usize,
    /// Flows, counted as the language counts them: one per spec, so a block of three specs is three.
    pub flows: usize,
    /// Flags that conditions use (at least 12: 8 for notes, the rest for flows).
    pub flags: usize,
    pub seed: u64,
}

impl Options {
    /// `roles` about 5·√flows: a platform grows in roles more slowly than in flows, and the From/To
    /// matrix of the markdown target (roles × roles cells) then grows like the flows.
    pub fn for_flows(flows: usize, seed: u64) -> Options {
        Options { roles: default_roles(flows), flows, flags: 32, seed }
    }
}

/// The number of roles `for_flows` picks: 5·√flows, at least 8.
pub fn default_roles(flows: usize) -> usize {
    // √ by integer search: exact and free of floating point, so it is the same everywhere.
    let mut root = 0usize;
    while (root + 1).saturating_mul(root + 1) <= flows {
        root += 1;
    }
    (5 * root).max(8)
}

/// Generates a program. The same options give byte-identical text.
pub fn generate(options: &Options) -> String {
    let mut g = Generator::new(options);
    g.header();
    g.declarations();
    g.admin_flows();
    g.flows();
    g.nevers();
    g.settings_and_binds();
    g.out
}

/// Ports handed out to flows, per destination node, lie in `FIRST_PORT..SERVICE_PORTS`.
const FIRST_PORT: u16 = 1024;
/// Service `k` owns ports `SERVICE_PORTS + 4k ..`; no literal port lands there.
const SERVICE_PORTS: u16 = 40000;
const SERVICES: usize = 64;
/// Param `k` defaults to `PARAM_PORTS + 2k` and the file sets some to `PARAM_PORTS + 2k + 1`.
const PARAM_PORTS: u16 = 50000;
const PARAMS: usize = 16;
/// `never` invariants forbid ports from here up, which no flow uses.
const NEVER_PORTS: u16 = 60000;
/// Notes; each of the first eight carries a condition on a flag of its own.
const NOTES: usize = 12;
/// Flags the notes use; flows use the others, so a flow's condition and its notes' never contradict.
const NOTE_FLAGS: usize = 8;
/// Flags the file sets to true; conditions use them only positively, so no flow is dead.
const SET_FLAGS: usize = 4;
const PORTLESS: [&str; 5] = ["icmp", "ipip", "vrrp", "esp", "gre"];
const CNI: [&str; 4] = ["canal", "calico", "flannel", "cilium"];
const KINDS: [&str; 16] = [
    "api", "web", "db", "cache", "queue", "etcd", "ingress", "worker", "batch", "auth", "search", "logs", "metrics",
    "mail", "dns", "backup",
];

/// SplitMix64: a tiny, well-known generator; enough for shuffling test data, and it keeps the
/// crate free of a dependency for one function.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// One side of a flow: the text written and the nodes it stands for.
struct Side {
    text: String,
    nodes: Vec<usize>,
}

/// One spec before it is written: its head and what it takes from each destination.
enum Head {
    Ports(&'static str, Vec<(u16, u16)>),
    Service(usize),
    Param(&'static str, usize),
    Portless(usize),
}

struct Generator {
    options: Options,
    rng: Rng,
    out: String,
    role_names: Vec<String>,
    /// Node `i < roles` is role `i`; the externals follow.
    external_names: Vec<String>,
    /// Every group's expanded members (node indices) and its name.
    groups: Vec<(String, Vec<usize>)>,
    /// Per node: the next free port for flows to it.
    next_port: Vec<u16>,
    /// Per node: services, params and portless protocols already allowed to it.
    services_used: Vec<u64>,
    params_used: Vec<u16>,
    portless_used: Vec<u8>,
    written: usize,
}

impl Generator {
    fn new(options: &Options) -> Self {
        let options = Options { roles: options.roles.max(2), flags: options.flags.max(12), ..*options };
        let mut rng = Rng(options.seed);
        let role_names = (0..options.roles)
            .map(|i| format!("{}_{i:04}", KINDS.get(rng.below(KINDS.len())).copied().unwrap_or("role")))
            .collect();
        let partners = options.roles / 20 + 1;
        let mut external_names = vec!["internet".to_string(), "admins".to_string()];
        external_names.extend((0..partners).map(|i| format!("partner_{i:03}")));
        let nodes = options.roles + external_names.len();
        Generator {
            options,
            rng,
            out: String::new(),
            role_names,
            external_names,
            groups: Vec::new(),
            next_port: vec![FIRST_PORT; nodes],
            services_used: vec![0; nodes],
            params_used: vec![0; nodes],
            portless_used: vec![0; nodes],
            written: 0,
        }
    }

    fn header(&mut self) {
        let o = self.options;
        let _ = writeln!(
            self.out,
            "# A synthetic platform for benchmarks: {} roles, {} flows, seed {}.\n\
             # Generated by portc-synth; every stage and target should accept it without errors.\n\
             module synth.platform \"Synthetic platform ({} roles, {} flows)\"\n\
             source \"portc-synth --roles {} --flows {} --seed {}\"\n",
            o.roles, o.flows, o.seed, o.roles, o.flows, o.roles, o.flows, o.seed
        );
    }

    fn declarations(&mut self) {
        for i in 0..self.options.flags {
            let default = self.rng.chance(50);
            let _ = writeln!(self.out, "flag {} \"Switch {i} of the platform\" = {default}", flag_name(i));
        }
        let _ = writeln!(self.out, "option cni = {} \"CNI plugin\" = calico", CNI.join(" | "));
        let _ = writeln!(self.out, "option tier = bronze | silver | gold = silver \"Support tier\"");
        for k in 0..PARAMS {
            let _ = writeln!(self.out, "param port_{k:02} = {} \"Configurable port {k}\"", param_port(k));
        }
        self.out.push('\n');
        for (i, name) in self.role_names.iter().enumerate() {
            let _ = writeln!(self.out, "role {name} \"Node pool {i} \u{2014} {name}\"");
        }
        self.externals();
        self.group_declarations();
        self.services();
        self.notes();
    }

    fn externals(&mut self) {
        self.out.push_str("external internet = 0.0.0.0/0, ::/0 \"The Internet\"\n");
        self.out.push_str("external admins = 10.255.0.0/24, fd00:ff::/64 \"Operators' workstations\"\n");
        for (i, name) in self.external_names.iter().enumerate().skip(2) {
            let k = i - 2;
            let _ =
                writeln!(self.out, "external {name} = 172.{}.{}.0/24 \"Partner network {k}\"", 16 + k / 256, k % 256);
        }
        self.out.push('\n');
    }

    /// Groups of 2 to 8 roles; every tenth also takes in an earlier group.
    fn group_declarations(&mut self) {
        let count = (self.options.roles / 4).max(2);
        for g in 0..count {
            let size = 2 + self.rng.below(7);
            let mut members: Vec<usize> = (0..size).map(|_| self.rng.below(self.options.roles)).collect();
            members.sort_unstable();
            members.dedup();
            let mut written: Vec<String> = members.iter().filter_map(|&m| self.role_names.get(m).cloned()).collect();
            if g > 0 && g % 10 == 0 {
                let inner = self.rng.below(g);
                if let Some((name, inner_members)) = self.groups.get(inner) {
                    written.push(name.clone());
                    members.extend(inner_members);
                    members.sort_unstable();
                    members.dedup();
                }
            }
            let name = format!("pool_{g:04}");
            let _ = writeln!(self.out, "group {name} = {} \"Pool {g}\"", written.join(" | "));
            self.groups.push((name, members));
        }
        self.out.push('\n');
    }

    fn services(&mut self) {
        for k in 0..SERVICES {
            let start = service_port(k);
            let (protocols, ports) = match k % 4 {
                0 => ("tcp", format!("{start}")),
                1 => ("udp", format!("{start}")),
                2 => ("tcp/udp", format!("{start}")),
                _ => ("tcp", format!("{start}-{}", start + 3)),
            };
            let _ = writeln!(self.out, "service svc_{k:02} = {protocols} {ports} \"Service {k}\"");
        }
        self.out.push('\n');
    }

    fn notes(&mut self) {
        for n in 0..NOTES {
            let label = n + 1;
            if n < NOTE_FLAGS {
                let bang = if n % 2 == 0 { "" } else { "!" };
                let _ = writeln!(
                    self.out,
                    "note {label} \"Only when switch {n} is {}\" when {bang}{}",
                    if bang.is_empty() { "on" } else { "off" },
                    flag_name(n)
                );
            } else if n % 2 == 0 {
                let _ = writeln!(self.out, "note {label} \"Local traffic on the node\" local");
            } else {
                let _ = writeln!(self.out, "note {label} \"See the platform's runbook, section {n}\"");
            }
        }
        self.out.push('\n');
    }

    /// SSH from the operators to every role, fifty roles a flow, so that no host firewall locks
    /// them out and no role is isolated.
    fn admin_flows(&mut self) {
        for chunk in (0..self.options.roles).collect::<Vec<_>>().chunks(50) {
            let names: Vec<&str> = chunk.iter().filter_map(|&r| self.role_names.get(r).map(String::as_str)).collect();
            let _ = writeln!(self.out, "admins -> {} : tcp 22 \"SSH\" management", names.join(" | "));
            self.written += 1;
        }
        self.out.push('\n');
    }

    fn flows(&mut self) {
        let mut statement = 0usize;
        while self.written < self.options.flows {
            let block = self.rng.chance(5) && self.options.flows - self.written >= 2;
            if block {
                self.block_flow(statement);
            } else {
                self.inline_flow(statement);
            }
            statement += 1;
        }
        self.out.push('\n');
    }

    fn inline_flow(&mut self, statement: usize) {
        let from = self.source();
        let to = self.destination(&from);
        let targets = self.targets(&from, &to);
        let head = self.head(&targets);
        let mut line = format!("{} -> {} : {}", from.text, to.text, self.head_text(&head));
        let modifiers = self.modifiers(statement, true);
        line.push_str(&modifiers);
        line.push('\n');
        self.out.push_str(&line);
        self.written += 1;
    }

    /// `a -> b when c [n] "text" { spec spec ... }`.
    fn block_flow(&mut self, statement: usize) {
        let from = self.source();
        let to = self.destination(&from);
        let targets = self.targets(&from, &to);
        let specs = (2 + self.rng.below(3)).min(self.options.flows - self.written);
        let modifiers = self.modifiers(statement, false);
        let _ = writeln!(self.out, "{} -> {}{modifiers} {{", from.text, to.text);
        for s in 0..specs {
            let head = self.head(&targets);
            let text = self.head_text(&head);
            let description = if self.rng.chance(60) { format!(" \"part {s}\"") } else { String::new() };
            let _ = writeln!(self.out, "  {text}{description}");
            self.written += 1;
        }
        self.out.push_str("}\n");
    }

    /// The nodes that receive the flow: `self` means each source itself.
    fn targets(&self, from: &Side, to: &Side) -> Vec<usize> {
        if to.text == "self" { from.nodes.clone() } else { to.nodes.clone() }
    }

    fn source(&mut self) -> Side {
        let roll = self.rng.below(100);
        if roll < 75 {
            self.role()
        } else if roll < 87 {
            self.group()
        } else if roll < 95 {
            self.external()
        } else {
            let (a, b) = (self.role(), self.role());
            if a.nodes == b.nodes {
                return a;
            }
            let mut nodes = a.nodes;
            nodes.extend(b.nodes);
            nodes.sort_unstable();
            nodes.dedup();
            Side { text: format!("{} | {}", a.text, b.text), nodes }
        }
    }

    fn destination(&mut self, from: &Side) -> Side {
        let roll = self.rng.below(100);
        let from_roles = from.nodes.iter().all(|&n| n < self.options.roles);
        if roll < 80 {
            self.role()
        } else if roll < 95 {
            self.group()
        } else if roll < 98 && from_roles {
            Side { text: "self".into(), nodes: Vec::new() }
        } else if from_roles {
            self.external()
        } else {
            self.role()
        }
    }

    fn role(&mut self) -> Side {
        let r = self.rng.below(self.options.roles);
        Side { text: self.role_names.get(r).cloned().unwrap_or_default(), nodes: vec![r] }
    }

    fn group(&mut self) -> Side {
        let g = self.rng.below(self.groups.len());
        let (name, members) = self.groups.get(g).cloned().unwrap_or_default();
        Side { text: name, nodes: members }
    }

    /// The Internet or a partner network; never the operators, whose port 22 stays theirs.
    fn external(&mut self) -> Side {
        let choices = self.external_names.len() - 1;
        let pick = match self.rng.below(choices) {
            0 => 0,
            k => k + 1,
        };
        let node = self.options.roles + pick;
        Side { text: self.external_names.get(pick).cloned().unwrap_or_default(), nodes: vec![node] }
    }

    /// A spec head that no earlier flow to any of `targets` overlaps, and records it as taken.
    fn head(&mut self, targets: &[usize]) -> Head {
        let roll = self.rng.below(100);
        if roll < 10 {
            let k = self.rng.below(SERVICES);
            let bit = 1u64 << k;
            if targets.iter().all(|&t| self.services_used.get(t).is_some_and(|u| u & bit == 0)) {
                targets.iter().for_each(|&t| self.services_used.get_mut(t).into_iter().for_each(|u| *u |= bit));
                return Head::Service(k);
            }
        } else if roll < 18 {
            let k = self.rng.below(PARAMS);
            let bit = 1u16 << k;
            if targets.iter().all(|&t| self.params_used.get(t).is_some_and(|u| u & bit == 0)) {
                targets.iter().for_each(|&t| self.params_used.get_mut(t).into_iter().for_each(|u| *u |= bit));
                let protocol = if k.is_multiple_of(3) { "udp" } else { "tcp" };
                return Head::Param(protocol, k);
            }
        } else if roll < 23 {
            let k = self.rng.below(PORTLESS.len());
            let bit = 1u8 << k;
            if targets.iter().all(|&t| self.portless_used.get(t).is_some_and(|u| u & bit == 0)) {
                targets.iter().for_each(|&t| self.portless_used.get_mut(t).into_iter().for_each(|u| *u |= bit));
                return Head::Portless(k);
            }
        }
        self.literal_ports(targets)
    }

    /// One to three ports or ranges above every target's next free port.
    fn literal_ports(&mut self, targets: &[usize]) -> Head {
        let protocol = match self.rng.below(100) {
            0..60 => "tcp",
            60..82 => "udp",
            82..97 => "tcp/udp",
            _ => "sctp",
        };
        let mut start = targets.iter().filter_map(|&t| self.next_port.get(t).copied()).max().unwrap_or(FIRST_PORT);
        let items = 1 + usize::from(self.rng.chance(35)) + usize::from(self.rng.chance(15));
        let mut ports = Vec::new();
        for _ in 0..items {
            let width = if self.rng.chance(30) { 1 + self.rng.below(16) as u16 } else { 0 };
            // A platform this busy has used up its band: start over, at the risk of overlaps.
            if start + width + 8 >= SERVICE_PORTS {
                start = FIRST_PORT;
            }
            ports.push((start, start + width));
            start += width + 1 + self.rng.below(4) as u16;
        }
        for &t in targets {
            if let Some(next) = self.next_port.get_mut(t) {
                *next = start;
            }
        }
        Head::Ports(protocol, ports)
    }

    fn head_text(&self, head: &Head) -> String {
        match head {
            Head::Ports(protocol, ports) => {
                let items: Vec<String> =
                    ports.iter().map(|&(s, e)| if s == e { s.to_string() } else { format!("{s}-{e}") }).collect();
                format!("{protocol} {}", items.join(", "))
            }
            Head::Service(k) => format!("svc_{k:02}"),
            Head::Param(protocol, k) => format!("{protocol} port_{k:02}"),
            Head::Portless(k) => PORTLESS.get(*k).copied().unwrap_or("icmp").to_string(),
        }
    }

    /// Notes, a condition and a description, each often absent. Statement `n < NOTES` references
    /// note `n + 1`, so that every note is used.
    fn modifiers(&mut self, statement: usize, inline: bool) -> String {
        let mut out = String::new();
        let mut notes: Vec<usize> = Vec::new();
        if statement < NOTES {
            notes.push(statement + 1);
        } else if self.rng.chance(15) {
            notes.push(1 + self.rng.below(NOTES));
            if self.rng.chance(20) {
                notes.push(1 + self.rng.below(NOTES));
            }
        }
        notes.sort_unstable();
        notes.dedup();
        if !notes.is_empty() {
            let labels: Vec<String> = notes.iter().map(ToString::to_string).collect();
            let _ = write!(out, " [{}]", labels.join(", "));
        }
        if self.rng.chance(55) {
            let condition = self.condition();
            let _ = write!(out, " when {condition}");
        }
        if self.rng.chance(if inline { 85 } else { 60 }) {
            let _ = write!(out, " \"{}\"", self.description());
        }
        out
    }

    /// A condition over flow flags and options, never mentioning one flag twice.
    fn condition(&mut self) -> String {
        let mut flags: Vec<usize> = Vec::new();
        let mut literal = |g: &mut Self| {
            let span = g.options.flags - NOTE_FLAGS;
            let mut flag = NOTE_FLAGS + g.rng.below(span);
            while flags.contains(&flag) {
                flag = NOTE_FLAGS + (flag + 1 - NOTE_FLAGS) % span;
            }
            flags.push(flag);
            let negate = flag >= NOTE_FLAGS + SET_FLAGS && g.rng.chance(40);
            format!("{}{}", if negate { "!" } else { "" }, flag_name(flag))
        };
        match self.rng.below(10) {
            0..4 => literal(self),
            4..6 => {
                let (a, b) = (literal(self), literal(self));
                format!("{a} && {b}")
            }
            6 => {
                let (a, b) = (literal(self), literal(self));
                format!("{a} || {b}")
            }
            7 => format!("cni == {}", CNI.get(self.rng.below(CNI.len())).copied().unwrap_or("calico")),
            8 => {
                let a = literal(self);
                format!("tier != bronze && {a}")
            }
            _ => {
                let (a, b, c) = (literal(self), literal(self), literal(self));
                format!("({a} || {b}) && {c}")
            }
        }
    }

    fn description(&mut self) -> String {
        const WHAT: [&str; 8] =
            ["API", "health checks", "metrics scrape", "replication", "gossip", "admin UI", "webhooks", "backups"];
        let what = WHAT.get(self.rng.below(WHAT.len())).copied().unwrap_or("traffic");
        format!("{what} #{}", self.rng.below(10_000))
    }

    /// Invariants on ports no flow uses: the Internet must not reach pools on them, and some
    /// roles must not reach each other there.
    fn nevers(&mut self) {
        let count = self.options.roles / 10 + 1;
        for i in 0..count {
            let port = NEVER_PORTS + (self.rng.below(5000) as u16);
            let to = if self.rng.chance(50) { self.group() } else { self.role() };
            let from = if i % 3 == 2 { self.role().text } else { "internet".to_string() };
            let when = if self.rng.chance(20) {
                format!(" when {}", flag_name(NOTE_FLAGS + SET_FLAGS))
            } else {
                String::new()
            };
            let protocol = if i % 2 == 0 { "tcp" } else { "udp" };
            let _ = writeln!(
                self.out,
                "never {from} -> {} : {protocol} {port}-{}{when} \"Band {i} must stay closed\"",
                to.text,
                port + 10
            );
        }
        // Every partner network is mentioned somewhere, so none is reported as isolated.
        for (k, name) in self.external_names.iter().enumerate().skip(2) {
            let role = self.role_names.get(k % self.options.roles).cloned().unwrap_or_default();
            let _ = writeln!(self.out, "never {name} -> {role} : tcp 65100-65110 \"Partners stay out of band {k}\"");
        }
        self.out.push('\n');
    }

    /// `set` for some flags and params, and an address `bind` for every role: a /28 of its own,
    /// and for every third role an IPv6 prefix too. Every fifth role is a workload, bound to pods
    /// in one of eight namespaces; the others are node pools, bound to a node label, so that the
    /// Kubernetes targets have work too.
    fn settings_and_binds(&mut self) {
        for f in NOTE_FLAGS..NOTE_FLAGS + SET_FLAGS {
            let _ = writeln!(self.out, "set {} = true", flag_name(f));
        }
        for k in (0..PARAMS).step_by(4) {
            let _ = writeln!(self.out, "set port_{k:02} = {}", param_port(k) + 1);
        }
        self.out.push('\n');
        for (r, name) in self.role_names.iter().enumerate() {
            let v4 = format!("10.{}.{}.{}/28", r / 4096, (r / 16) % 256, (r % 16) * 16);
            if r % 3 == 0 {
                let _ = writeln!(self.out, "bind {name} = {v4}, fd00:{:x}::/64", r + 1);
            } else {
                let _ = writeln!(self.out, "bind {name} = {v4}");
            }
            if r % 5 == 4 {
                let _ = writeln!(self.out, "bind {name} = pods {{ app: {name} }} in namespace \"ns-{}\"", r % 8);
            } else {
                let _ = writeln!(self.out, "bind {name} = nodes {{ \"portc.synth/pool\": {name} }}");
            }
        }
    }
}

fn flag_name(i: usize) -> String {
    format!("switch_{i:02}")
}

fn service_port(k: usize) -> u16 {
    SERVICE_PORTS + 4 * u16::try_from(k).unwrap_or(0)
}

fn param_port(k: usize) -> u16 {
    PARAM_PORTS + 2 * u16::try_from(k).unwrap_or(0)
}
