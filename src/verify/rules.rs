//! Rulesets in the one form both readers produce (`nft -j list ruleset` and `iptables-save`):
//! chains with their hooks, rules as statements, and every match as a condition in three values
//! (`Test`). The functions at the end give each packet field its meaning as a region of the
//! packet space, so that the two readers cannot disagree about what `tcp dport 22` or
//! `-p tcp --dport 22` matches.

use super::space::{
    Cube, DPORT, ESTABLISHED, IIF, INVALID, LOOPBACK, NEW, NONE, OTHER, PROTO, RELATED, STATE, Tri, UNTRACKED, V4,
    V4_MAX, V6,
};

/// Every chain of the rulesets read, base chains and regular ones.
#[derive(Clone, Debug, Default)]
pub struct Ruleset {
    pub chains: Vec<Chain>,
    /// Objects a reader could not read, with where they are and why; each that lies on the path
    /// of the traffic verified makes what reaches it unknown.
    pub unread: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct Chain {
    /// `inet portc inbound`, `filter INPUT`.
    pub name: String,
    pub base: Option<Base>,
    pub rules: Vec<Rule>,
}

/// What makes a chain a base chain: where the kernel calls it.
#[derive(Clone, Debug)]
pub struct Base {
    pub hook: Hook,
    pub priority: i32,
    /// What happens to a packet that reaches the end of the chain (`None`: not readable).
    pub policy: Option<Policy>,
    pub kind: Kind,
    /// The address families it sees: `(V4, V4)`, `(V6, V6)` or both.
    pub families: (u128, u128),
    /// For `ingress` chains: the devices it is bound to.
    pub devices: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    Ingress,
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Filter,
    Nat,
    Route,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Accept,
    Drop,
}

#[derive(Clone, Debug)]
pub struct Rule {
    /// Where the rule is: `inet portc inbound, handle 42`, `filter INPUT, line 17`.
    pub at: String,
    /// The rule as its tool prints it (or close to it).
    pub text: String,
    pub stmts: Vec<Stmt>,
}

#[derive(Clone, Debug)]
pub enum Stmt {
    Test(Box<Test>),
    Verdict(Verdict),
    /// A verdict map: the first entry whose test holds gives the verdict; none, the next statement.
    Vmap(Vec<(Test, Verdict)>),
    /// Sets the packet's mark (`ct: false`) or its connection's mark (`ct: true`).
    Mark {
        ct: bool,
        op: MarkOp,
    },
    /// The packet is no longer tracked: `ct state untracked` from here on.
    Notrack,
    /// Network address translation: the packet leaves the path verify follows (`dnat` takes it
    /// to the forward path), so its fate is unknown; the text says which translation.
    Nat(String),
    /// A statement verify does not model and that may change the verdict: what reaches it is unknown.
    Stop(String),
}

impl Stmt {
    /// A match verify cannot decide for any packet.
    pub fn unknown(text: impl Into<String>) -> Stmt {
        Stmt::Test(Box::new(Test::unknown(text)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    /// A drop that answers the sender.
    Reject,
    Continue,
    Return,
    /// Into a chain, by its index in `Ruleset::chains`.
    Jump(usize),
    Goto(usize),
}

/// A new mark from the old one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkOp {
    /// `(mark & !mask) ^ value`, which covers set, or, and, xor and iptables' `--set-xmark`.
    Xmark { value: u32, mask: u32 },
    /// The other mark (packet from connection, or connection from packet).
    Copy,
    /// A value verify cannot compute.
    Unknown,
}

/// One match: a condition, whether it is negated, and how it reads (for the report).
#[derive(Clone, Debug)]
pub struct Test {
    pub cond: Cond,
    pub negate: bool,
    /// The packets the match applies to at all: `udp dport != 22` reads a UDP header, so it
    /// matches no TCP packet, negated or not (nft's implicit `meta l4proto udp`); `ip saddr`
    /// likewise needs IPv4.
    pub domain: Cube,
    pub text: String,
}

#[derive(Clone, Debug)]
pub enum Cond {
    /// A region of the packet space.
    Region(Tri),
    /// `ct state` in one of these states (a bit per state, `1 << NEW` ...); before conntrack
    /// has seen the packet every packet is `invalid` (or `untracked`).
    CtState(u8),
    /// `(mark & mask)` within one of the intervals, of the packet or of its connection.
    Mark { ct: bool, mask: u32, values: Vec<(u32, u32)> },
    /// A connection property that does not exist before conntrack: then no packet matches,
    /// negated or not; after it, verify cannot tell.
    CtOther,
    /// An expression that fails for every packet, negated or not.
    Break,
}

impl Test {
    pub fn new(cond: Cond, negate: bool, text: impl Into<String>) -> Test {
        Test { cond, negate, domain: Cube::all(), text: text.into() }
    }

    /// The same test, applying only to `domain`.
    pub fn within(mut self, domain: Cube) -> Test {
        self.domain = domain;
        self
    }

    /// A match verify cannot decide for any packet.
    pub fn unknown(text: impl Into<String>) -> Test {
        Test::new(Cond::Region(Tri::maybe(Cube::all())), false, text)
    }
}

/// The host's local addresses as `fib` sees them: per family, sorted intervals.
#[derive(Clone, Debug, Default)]
pub struct Local {
    pub v4: Vec<(u128, u128)>,
    pub v6: Vec<(u128, u128)>,
}

impl Local {
    fn of(&self, family: u128) -> &[(u128, u128)] {
        if family == V4 { &self.v4 } else { &self.v6 }
    }
}

/// The packets of one protocol (`family` too when given): the domain of a header field's match.
pub fn protocol_domain(family: Option<u128>, protocol: u8) -> Cube {
    let cube = Cube::all().with(PROTO, protocol.into(), protocol.into());
    match family {
        Some(f) => cube.with(super::space::FAMILY, f, f),
        None => cube,
    }
}

/// The protocols that carry ports at the start of their header, as `th` reads them.
pub const PORT_PROTOCOLS: &[u8] = &[6, 17, 33, 132, 136];

/// The whole range of one family's addresses.
fn family_top(family: u128) -> u128 {
    if family == V4 { V4_MAX } else { u128::MAX }
}

/// `meta nfproto`: packets of a family.
pub fn family(family: u128) -> Tri {
    Tri::yes(Cube::family(family))
}

/// `ip saddr` / `ip6 daddr` / `-s`: addresses of one family in `dim` (`SRC` or `DST`).
pub fn addresses(dim: usize, family: u128, intervals: &[(u128, u128)]) -> Tri {
    let base = Cube::family(family);
    Tri { yes: intervals.iter().map(|(lo, hi)| base.with(dim, *lo, *hi)).collect(), maybe: Vec::new() }
}

/// `meta l4proto`, `ip protocol`, `-p`.
pub fn protocols(intervals: &[(u128, u128)]) -> Tri {
    Tri { yes: intervals.iter().map(|(lo, hi)| Cube::all().with(PROTO, *lo, *hi)).collect(), maybe: Vec::new() }
}

/// A port field (`dim` is `SPORT` or `DPORT`) of one protocol, or of any (`th`): for protocols
/// without ports `th` reads other header bytes, which verify does not model.
pub fn ports(dim: usize, protocol: Option<u8>, intervals: &[(u128, u128)]) -> Tri {
    let of =
        |p: u8| intervals.iter().map(move |(lo, hi)| Cube::all().with(PROTO, p.into(), p.into()).with(dim, *lo, *hi));
    match protocol {
        Some(p) => Tri { yes: of(p).collect(), maybe: Vec::new() },
        None => {
            let yes = PORT_PROTOCOLS.iter().flat_map(|p| of(*p)).collect();
            let maybe =
                complement(PORT_PROTOCOLS).into_iter().map(|(lo, hi)| Cube::all().with(PROTO, lo, hi)).collect();
            Tri { yes, maybe }
        }
    }
}

/// The protocol numbers not in `numbers` (sorted), as intervals.
fn complement(numbers: &[u8]) -> Vec<(u128, u128)> {
    let mut out = Vec::new();
    let mut next = 0u128;
    for n in numbers.iter().map(|n| u128::from(*n)) {
        if n > next {
            out.push((next, n - 1));
        }
        next = n + 1;
    }
    if next <= 255 {
        out.push((next, 255));
    }
    out
}

/// `icmp type` (`v6: false`) or `icmpv6 type`, as intervals over `type * 256 + code`.
pub fn icmp(v6: bool, intervals: &[(u128, u128)]) -> Tri {
    let (family, protocol) = if v6 { (V6, 58) } else { (V4, 1) };
    let base = Cube::family(family).with(PROTO, protocol, protocol);
    Tri { yes: intervals.iter().map(|(lo, hi)| base.with(DPORT, *lo, *hi)).collect(), maybe: Vec::new() }
}

/// Interface names (`iifname`, `-i`; `dim` is `IIF` or `OIF`); `*` (nft) and `+` (iptables) end a
/// prefix. verify knows only whether an interface is loopback.
pub fn interfaces(dim: usize, names: &[String]) -> Tri {
    let mut tri = Tri::never();
    for name in names {
        let prefix = name.strip_suffix('*').or_else(|| name.strip_suffix('+'));
        let lo = match prefix {
            Some(p) => "lo".starts_with(p),
            None => name == "lo",
        };
        if lo {
            tri.yes.push(Cube::all().with(dim, LOOPBACK, LOOPBACK));
        }
        if name != "lo" {
            tri.maybe.push(Cube::all().with(dim, OTHER, OTHER));
        }
    }
    tri
}

/// `iiftype` / `oiftype`: `loopback`, or a type of other interfaces.
pub fn interface_types(dim: usize, types: &[String]) -> Tri {
    let mut tri = Tri::never();
    for t in types {
        if t == "loopback" {
            tri.yes.push(Cube::all().with(dim, LOOPBACK, LOOPBACK));
        } else {
            tri.maybe.push(Cube::all().with(dim, OTHER, OTHER));
        }
    }
    tri
}

/// `fib saddr type` / `fib daddr type` / `-m addrtype`: `local` is an address of the host (or
/// loopback's), `multicast` a multicast address; other types depend on the routes, which verify
/// does not know.
pub fn address_types(dim: usize, types: &[String], local: &Local) -> Tri {
    let mut tri = Tri::never();
    for family in [V4, V6] {
        let base = Cube::family(family);
        let locals = local.of(family);
        let multicast = if family == V4 { (0xe000_0000, 0xefff_ffff) } else { (0xff << 120, u128::MAX) };
        if types.iter().any(|t| t == "local") {
            tri.yes.extend(locals.iter().map(|(lo, hi)| base.with(dim, *lo, *hi)));
        }
        if types.iter().any(|t| t == "multicast") {
            tri.yes.push(base.with(dim, multicast.0, multicast.1));
        }
        if types.iter().any(|t| !matches!(t.as_str(), "local" | "multicast")) {
            // The rest of the family, which routes decide about.
            let known: Vec<Cube> = locals.iter().chain([&multicast]).map(|(lo, hi)| base.with(dim, *lo, *hi)).collect();
            tri.maybe.extend(super::space::subtract(&[base.with(dim, 0, family_top(family))], &known));
        }
    }
    tri
}

/// `meta pkttype`: a packet addressed to the host is `host`; what the host sends verify does
/// not classify.
pub fn packet_types(types: &[String]) -> Tri {
    let arriving = Cube::all().with(IIF, LOOPBACK, OTHER);
    let mut tri = Tri::maybe(Cube::all().with(IIF, NONE, NONE));
    if types.iter().any(|t| t == "host") {
        tri.yes.push(arriving);
    }
    tri
}

/// `tcp flags & mask` compared with `values` (`any_bit`: nft's `in`, iptables' `--tcp-flags`
/// semantics are all-equal): the first packet of a new connection is a SYN; later ones verify
/// does not know.
pub fn tcp_flags(mask: u8, values: &[u8], any_bit: bool) -> Tri {
    const SYN: u8 = 0x02;
    let seen = SYN & mask;
    let holds = if any_bit { values.iter().any(|v| seen & v != 0) } else { values.contains(&seen) };
    let tcp = Cube::all().with(PROTO, 6, 6);
    let mut tri = Tri::maybe(tcp.with(STATE, ESTABLISHED, UNTRACKED));
    if holds {
        tri.yes.push(tcp.with(STATE, NEW, NEW));
    }
    tri
}

/// The `ct state` bit of a state name. `DNAT` and `SNAT` (iptables' virtual states) give no
/// bit: the packets verify follows are as their sender addressed them, and address translation
/// takes them off the path it follows.
pub fn ct_state(name: &str) -> Option<u8> {
    let state = match name.to_ascii_lowercase().as_str() {
        "dnat" | "snat" => return Some(0),
        "new" => NEW,
        "established" => ESTABLISHED,
        "related" => RELATED,
        "invalid" => INVALID,
        "untracked" => UNTRACKED,
        _ => return None,
    };
    Some(1 << state)
}

/// The region of `ct state` in the states of `mask`.
pub fn states(mask: u8) -> Tri {
    let yes = (NEW..=UNTRACKED).filter(|s| mask & (1 << s) != 0).map(|s| Cube::all().with(STATE, s, s)).collect();
    Tri { yes, maybe: Vec::new() }
}

/// A protocol by name (as `/etc/protocols` and nft spell them) or number.
pub fn protocol_number(name: &str) -> Option<u8> {
    if let Ok(n) = name.parse::<u8>() {
        return Some(n);
    }
    let n = match name.to_ascii_lowercase().as_str() {
        "icmp" => 1,
        "igmp" => 2,
        "ipip" | "ipencap" | "ipv4" => 4,
        "tcp" => 6,
        "udp" => 17,
        "ipv6" => 41,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "icmpv6" | "ipv6-icmp" => 58,
        "dccp" => 33,
        "ospf" | "ospfigp" => 89,
        "pim" => 103,
        "vrrp" => 112,
        "l2tp" => 115,
        "sctp" => 132,
        "udplite" => 136,
        "mpls-in-ip" => 137,
        "ethernet" => 143,
        _ => return None,
    };
    Some(n)
}

/// A protocol number as people read it.
pub fn protocol_name(number: u128) -> String {
    let name = match number {
        1 => "icmp",
        2 => "igmp",
        4 => "ipip",
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        41 => "ipv6",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "icmpv6",
        89 => "ospf",
        103 => "pim",
        112 => "vrrp",
        132 => "sctp",
        136 => "udplite",
        _ => return format!("protocol {number}"),
    };
    name.to_string()
}

/// An ICMP (`v6: false`) or ICMPv6 type by name or number.
pub fn icmp_type(v6: bool, name: &str) -> Option<u8> {
    if let Ok(n) = name.parse::<u8>() {
        return Some(n);
    }
    let table: &[(&str, u8)] = if v6 { ICMPV6_TYPES } else { ICMP_TYPES };
    table.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// An ICMP type's name, for the report.
pub fn icmp_type_name(v6: bool, number: u128) -> String {
    let table: &[(&str, u8)] = if v6 { ICMPV6_TYPES } else { ICMP_TYPES };
    table.iter().find(|(_, t)| u128::from(*t) == number).map_or_else(|| number.to_string(), |(n, _)| (*n).to_string())
}

/// nft's and iptables' names of ICMP types.
const ICMP_TYPES: &[(&str, u8)] = &[
    ("echo-reply", 0),
    ("pong", 0),
    ("destination-unreachable", 3),
    ("source-quench", 4),
    ("redirect", 5),
    ("echo-request", 8),
    ("ping", 8),
    ("router-advertisement", 9),
    ("router-solicitation", 10),
    ("time-exceeded", 11),
    ("ttl-exceeded", 11),
    ("parameter-problem", 12),
    ("timestamp-request", 13),
    ("timestamp-reply", 14),
    ("info-request", 15),
    ("info-reply", 16),
    ("address-mask-request", 17),
    ("address-mask-reply", 18),
];

/// nft's and ip6tables' names of ICMPv6 types.
const ICMPV6_TYPES: &[(&str, u8)] = &[
    ("destination-unreachable", 1),
    ("packet-too-big", 2),
    ("time-exceeded", 3),
    ("ttl-exceeded", 3),
    ("parameter-problem", 4),
    ("echo-request", 128),
    ("ping", 128),
    ("echo-reply", 129),
    ("pong", 129),
    ("mld-listener-query", 130),
    ("mld-listener-report", 131),
    ("mld-listener-done", 132),
    ("mld-listener-reduction", 132),
    ("nd-router-solicit", 133),
    ("router-solicitation", 133),
    ("nd-router-advert", 134),
    ("router-advertisement", 134),
    ("nd-neighbor-solicit", 135),
    ("neighbour-solicitation", 135),
    ("neighbor-solicitation", 135),
    ("nd-neighbor-advert", 136),
    ("neighbour-advertisement", 136),
    ("neighbor-advertisement", 136),
    ("nd-redirect", 137),
    ("redirect", 137),
    ("router-renumbering", 138),
    ("ind-neighbor-solicit", 141),
    ("ind-neighbor-advert", 142),
    ("mld2-listener-report", 143),
];
