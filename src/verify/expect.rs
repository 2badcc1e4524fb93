//! What the policy says a host of the verified roles must accept, from the node model the host
//! targets share (`lower::host`): per peer, its addresses times the protocols and ports it may
//! use; node-local flows from the host's own addresses; pods to the Service CIDR. Also the
//! packets verify follows (new connections to the host's addresses from outside, or from them
//! with `--egress`) and the baseline that portc's own rulesets always accept.

use crate::hir::Program;
use crate::lower::Allowed;
use crate::lower::host::{Host, Side};
use crate::protocol::Protocol;

use super::eval::Direction;
use super::rules::Local;
use super::space::{
    self, Cube, DPORT, DST, ESTABLISHED, IIF, LOOPBACK, NEW, NONE, OIF, OTHER, PROTO, RELATED, SPORT, SRC, STATE, V4,
    V6,
};

/// The host's addresses, and those the kernel treats as local on it.
#[derive(Clone, Debug, Default)]
pub struct Addresses {
    /// The host's own addresses: the destinations of traffic to the host.
    pub host: Local,
    /// When the host's firewall accepts pods to Services: the Pod CIDR and the Service CIDR.
    /// kube-proxy's IPVS mode makes every ClusterIP an address of the node, so traffic from pods
    /// to them is traffic to the host too.
    pub pods: Local,
    pub services: Local,
    /// The host's, the Service CIDR's (when above) and loopback's: what `fib ... type local` matches.
    pub fib: Local,
}

/// One part of what the policy declares, and who declares it.
#[derive(Clone, Debug)]
pub struct Declared {
    pub cubes: Vec<Cube>,
    /// `from controlplane: tcp 2379-2380`.
    pub what: String,
    /// The flows' descriptions and origins.
    pub why: Vec<String>,
}

/// What verify checks in one direction.
#[derive(Clone, Debug)]
pub struct Expectation {
    pub direction: Direction,
    /// New connections from outside (or, outbound, to outside): the packets judged against the policy.
    pub space: Vec<Cube>,
    /// Every packet evaluated: `space`, replies and loopback.
    pub followed: Vec<Cube>,
    pub declared: Vec<Declared>,
    /// Accepted by portc's rulesets whatever the policy says; not excess, never missing.
    pub baseline: Vec<(String, Vec<Cube>)>,
}

/// The expectation of the host in one direction.
pub fn expectation(
    program: &Program,
    names: &[String],
    host: &Host,
    side: &Side,
    direction: Direction,
    addresses: &Addresses,
) -> Expectation {
    let (space, replies, loopback) = spaces(direction, addresses);
    let mut declared = Vec::new();
    for (peer, allowed) in side.peers_by_name(names) {
        let name = names.get(peer.index()).map_or("?", String::as_str);
        let preposition = if direction == Direction::In { "from" } else { "to" };
        let peer_side = intervals(program, Some(peer));
        declared.extend(entries(allowed, &format!("{preposition} {name}"), |family| {
            let peer: Vec<(u128, u128)> = of(&peer_side, family).to_vec();
            let host = of(&addresses.host, family).to_vec();
            if direction == Direction::In { (peer, host) } else { (host, peer) }
        }));
    }
    if direction == Direction::In {
        declared.extend(entries(&side.local, "node-local", |family| {
            (of(&addresses.fib, family).to_vec(), of(&addresses.host, family).to_vec())
        }));
        declared.extend(services(host, names, addresses));
    }
    for d in &mut declared {
        d.cubes = space::intersect(&d.cubes, &space);
    }
    declared.retain(|d| !d.cubes.is_empty());
    let mut baseline = icmp_baseline(&space, direction);
    let followed = space.iter().chain(&replies).chain(&loopback).copied().collect();
    baseline.push(("replies (ct state established,related)".to_string(), replies));
    baseline.push(("loopback".to_string(), loopback));
    Expectation { direction, space, followed, declared, baseline }
}

/// The packets followed: (new connections, replies, loopback).
fn spaces(direction: Direction, addresses: &Addresses) -> (Vec<Cube>, Vec<Cube>, Vec<Cube>) {
    let (mut space, mut replies, mut loopback) = (Vec::new(), Vec::new(), Vec::new());
    for family in [V4, V6] {
        if of(&addresses.host, family).is_empty() {
            continue;
        }
        let base = Cube::family(family).with(STATE, NEW, NEW);
        let (mine, outer, inner) = match direction {
            Direction::In => (DST, (IIF, OTHER), (OIF, NONE)),
            Direction::Out => (SRC, (OIF, OTHER), (IIF, NONE)),
        };
        let mut cubes: Vec<Cube> =
            of(&addresses.host, family).iter().map(|(lo, hi)| base.with(mine, *lo, *hi)).collect();
        if direction == Direction::In {
            let (pods, services) = (of(&addresses.pods, family), of(&addresses.services, family));
            for (p, s) in pods.iter().flat_map(|p| services.iter().map(move |s| (p, s))) {
                cubes.push(base.with(SRC, p.0, p.1).with(DST, s.0, s.1));
            }
        }
        for cube in cubes {
            let cube = cube.with(outer.0, outer.1, outer.1).with(inner.0, inner.1, inner.1);
            space.push(cube);
            replies.push(cube.with(STATE, ESTABLISHED, RELATED));
        }
        let fib = of(&addresses.fib, family);
        for (s, d) in fib.iter().flat_map(|s| fib.iter().map(move |d| (s, d))) {
            let cube = base.with(SRC, s.0, s.1).with(DST, d.0, d.1);
            loopback.push(cube.with(outer.0, LOOPBACK, LOOPBACK).with(inner.0, inner.1, inner.1));
        }
    }
    (space, replies, loopback)
}

fn of(local: &Local, family: u128) -> &[(u128, u128)] {
    if family == V4 { &local.v4 } else { &local.v6 }
}

/// A node's addresses as intervals per family.
pub fn intervals(program: &Program, node: Option<crate::hir::NodeId>) -> Local {
    let mut local = Local::default();
    let Some(node) = node.and_then(|n| program.nodes.get(n.index())) else { return local };
    for net in &node.addresses {
        let (family, lo, hi) = space::prefix(&net.trunc());
        if family == V4 { local.v4.push((lo, hi)) } else { local.v6.push((lo, hi)) }
    }
    local
}

/// The boxes of one peer's (or the node-local) allowed entries; `ends(family)` gives the
/// (source, destination) intervals.
fn entries(
    allowed: &Allowed,
    who: &str,
    ends: impl Fn(u128) -> (Vec<(u128, u128)>, Vec<(u128, u128)>),
) -> Vec<Declared> {
    let mut out = Vec::new();
    for ((protocol, start, end), why) in &allowed.ported {
        let ports = if start == end { start.to_string() } else { format!("{start}-{end}") };
        let cubes = boxes(&ends, &[V4, V6], |c| {
            c.with(PROTO, protocol.number().into(), protocol.number().into()).with(
                DPORT,
                (*start).into(),
                (*end).into(),
            )
        });
        out.push(Declared { cubes, what: format!("{who}: {protocol} {ports}"), why: why.iter().cloned().collect() });
    }
    for (protocol, why) in &allowed.portless {
        // As the nftables target does: ICMP only over IPv4, ICMPv6 only over IPv6.
        let families: &[u128] = match protocol {
            Protocol::Icmp => &[V4],
            Protocol::Icmpv6 => &[V6],
            _ => &[V4, V6],
        };
        let cubes = boxes(&ends, families, |c| c.with(PROTO, protocol.number().into(), protocol.number().into()));
        out.push(Declared { cubes, what: format!("{who}: {protocol}"), why: why.iter().cloned().collect() });
    }
    out
}

fn boxes(
    ends: &impl Fn(u128) -> (Vec<(u128, u128)>, Vec<(u128, u128)>),
    families: &[u128],
    shape: impl Fn(Cube) -> Cube,
) -> Vec<Cube> {
    let mut out = Vec::new();
    for family in families {
        let (sources, destinations) = ends(*family);
        for (s, d) in sources.iter().flat_map(|s| destinations.iter().map(move |d| (s, d))) {
            out.push(shape(Cube::family(*family).with(SRC, s.0, s.1).with(DST, d.0, d.1)));
        }
    }
    out
}

/// Pods to the Service CIDR, as the nftables target accepts them (any protocol and port).
fn services(host: &Host, names: &[String], addresses: &Addresses) -> Vec<Declared> {
    let Some(pods) = host.cluster.pods else { return Vec::new() };
    let ends = |family| (of(&addresses.pods, family).to_vec(), of(&addresses.services, family).to_vec());
    let cubes = boxes(&ends, &[V4, V6], |c| c);
    let name = names.get(pods.index()).map_or("pod_cidr", String::as_str);
    let why = vec!["pods to ClusterIP Services, which kube-proxy's IPVS mode delivers on the node".to_string()];
    vec![Declared { cubes, what: format!("from {name} to the Service CIDR: any protocol"), why }]
}

/// The ICMP baseline of the nftables target (`lower::nftables`: RFC 4890 section 4.4.1 and its
/// IPv4 counterparts) and DHCPv6, as regions of the space followed.
fn icmp_baseline(space: &[Cube], direction: Direction) -> Vec<(String, Vec<Cube>)> {
    let types = |family: u128, protocol: u128, types: &[u128]| -> Vec<Cube> {
        let cubes: Vec<Cube> = types
            .iter()
            .map(|t| Cube::family(family).with(PROTO, protocol, protocol).with(DPORT, t * 256, t * 256 + 255))
            .collect();
        space::intersect(space, &cubes)
    };
    let dhcpv6 = match direction {
        Direction::In => Cube::family(V6)
            .with(SRC, 0xfe80 << 112, (0xfe80 << 112) | ((1 << 118) - 1))
            .with(SPORT, 547, 547)
            .with(DPORT, 546, 546),
        Direction::Out => Cube::family(V6)
            .with(DST, (0xff02 << 112) | 0x1_0002, (0xff02 << 112) | 0x1_0002)
            .with(SPORT, 546, 546)
            .with(DPORT, 547, 547),
    };
    vec![
        (
            "ICMP errors (destination-unreachable, time-exceeded, parameter-problem)".to_string(),
            types(V4, 1, &[3, 11, 12]),
        ),
        ("ICMPv6 errors (RFC 4890 4.4.1)".to_string(), types(V6, 58, &[1, 2, 3, 4])),
        ("IPv6 neighbour discovery".to_string(), types(V6, 58, &[133, 134, 135, 136, 141, 142, 148, 149])),
        ("IPv6 multicast listener discovery".to_string(), types(V6, 58, &[130, 131, 132, 143, 151, 152, 153])),
        ("DHCPv6".to_string(), space::intersect(space, &[dhcpv6.with(PROTO, 17, 17)])),
    ]
}
