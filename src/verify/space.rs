//! Sets of packets as unions of boxes: each box is a product of one interval per dimension
//! (address family, conntrack state, input and output interface, source and destination address,
//! protocol, source and destination port). Matching a rule splits a box into the part that
//! matches, the part that does not and the part verify cannot decide; nothing here samples.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The dimensions of a box, in the order the algebra splits them.
pub const FAMILY: usize = 0;
pub const STATE: usize = 1;
pub const IIF: usize = 2;
pub const OIF: usize = 3;
pub const SRC: usize = 4;
pub const DST: usize = 5;
pub const PROTO: usize = 6;
pub const SPORT: usize = 7;
/// The destination port; for ICMP and ICMPv6, `type * 256 + code` instead.
pub const DPORT: usize = 8;
pub const DIMS: usize = 9;

/// Values of `FAMILY`.
pub const V4: u128 = 0;
pub const V6: u128 = 1;

/// Values of `STATE`: the conntrack states, one packet in exactly one of them.
pub const NEW: u128 = 0;
pub const ESTABLISHED: u128 = 1;
pub const RELATED: u128 = 2;
pub const INVALID: u128 = 3;
pub const UNTRACKED: u128 = 4;

/// Values of `IIF` and `OIF`: loopback, another interface (whose name verify does not know), or
/// none (a locally generated packet has no input interface, an arriving one no output interface).
pub const LOOPBACK: u128 = 0;
pub const OTHER: u128 = 1;
pub const NONE: u128 = 2;

/// The order in which `subtract` cuts: protocols and ports before addresses, so that what is
/// left reads as "other ports from any source" rather than "any port from other sources".
const CUT_ORDER: [usize; DIMS] = [FAMILY, STATE, IIF, OIF, PROTO, DPORT, SPORT, DST, SRC];

/// The largest value of each dimension.
const MAX: [u128; DIMS] = [1, 4, 2, 2, u128::MAX, u128::MAX, 255, 65535, 65535];

/// The largest IPv4 address, as the source and destination dimensions hold it.
pub const V4_MAX: u128 = u32::MAX as u128;

/// One box of packets: an inclusive interval per dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cube(pub [(u128, u128); DIMS]);

impl Cube {
    /// Every packet.
    pub fn all() -> Cube {
        let mut dims = [(0, 0); DIMS];
        for (slot, max) in dims.iter_mut().zip(MAX) {
            *slot = (0, max);
        }
        Cube(dims)
    }

    /// Every packet of one family, addresses limited to that family's range.
    pub fn family(family: u128) -> Cube {
        let top = if family == V4 { V4_MAX } else { u128::MAX };
        Cube::all().with(FAMILY, family, family).with(SRC, 0, top).with(DST, 0, top)
    }

    pub fn dim(&self, dim: usize) -> (u128, u128) {
        self.0.get(dim).copied().unwrap_or((0, 0))
    }

    /// The box with one dimension replaced.
    pub fn with(mut self, dim: usize, lo: u128, hi: u128) -> Cube {
        if let Some(slot) = self.0.get_mut(dim) {
            *slot = (lo, hi);
        }
        self
    }

    /// Whether the dimension spans all its values.
    pub fn is_full(&self, dim: usize) -> bool {
        let top = match (dim, self.dim(FAMILY)) {
            (SRC | DST, (V4, V4)) => V4_MAX,
            _ => MAX.get(dim).copied().unwrap_or(0),
        };
        self.dim(dim) == (0, top)
    }

    pub fn overlaps(&self, other: &Cube) -> bool {
        self.0.iter().zip(&other.0).all(|((a, b), (c, d))| a <= d && c <= b)
    }

    /// Whether `other` lies inside this box.
    pub fn covers(&self, other: &Cube) -> bool {
        self.0.iter().zip(&other.0).all(|((a, b), (c, d))| a <= c && d <= b)
    }

    /// The smallest box around both.
    pub fn span(&self, other: &Cube) -> Cube {
        let mut out = *self;
        for (slot, (c, d)) in out.0.iter_mut().zip(&other.0) {
            *slot = (slot.0.min(*c), slot.1.max(*d));
        }
        out
    }

    pub fn intersect(&self, other: &Cube) -> Option<Cube> {
        let mut out = *self;
        for ((slot, (a, b)), (c, d)) in out.0.iter_mut().zip(&self.0).zip(&other.0) {
            let (lo, hi) = ((*a).max(*c), (*b).min(*d));
            if lo > hi {
                return None;
            }
            *slot = (lo, hi);
        }
        Some(out)
    }

    /// The part of this box outside `other`, as disjoint boxes (at most two per dimension).
    pub fn subtract(&self, other: &Cube) -> Vec<Cube> {
        if !self.overlaps(other) {
            return vec![*self];
        }
        let mut out = Vec::new();
        let mut rest = *self;
        for dim in CUT_ORDER {
            let ((a, b), (c, d)) = (rest.dim(dim), other.dim(dim));
            if a < c {
                out.push(rest.with(dim, a, b.min(c - 1)));
            }
            if b > d {
                out.push(rest.with(dim, a.max(d + 1), b));
            }
            rest = rest.with(dim, a.max(c), b.min(d));
        }
        out
    }

    pub fn contains(&self, point: &[u128; DIMS]) -> bool {
        self.0.iter().zip(point).all(|((a, b), p)| a <= p && p <= b)
    }

    /// The number of packets (of distinct header values), approximately: IPv6 boxes overflow
    /// any integer. For ordering boxes by size.
    #[allow(clippy::cast_precision_loss)] // An approximation is what is asked for.
    pub fn volume(&self) -> f64 {
        self.0.iter().map(|(a, b)| (b - a) as f64 + 1.0).product()
    }

    /// The number of packets (of distinct header values), saturating.
    pub fn size(&self) -> u128 {
        self.0.iter().fold(1u128, |n, (a, b)| n.saturating_mul((b - a).saturating_add(1)))
    }
}

/// A condition over packets in three values: it holds in `yes`, verify cannot tell in `maybe`
/// (a construct it does not model), and it fails everywhere else. `maybe` may overlap `yes`;
/// `yes` wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tri {
    pub yes: Vec<Cube>,
    pub maybe: Vec<Cube>,
}

impl Tri {
    pub fn yes(cube: Cube) -> Tri {
        Tri { yes: vec![cube], maybe: Vec::new() }
    }

    pub fn maybe(cube: Cube) -> Tri {
        Tri { yes: Vec::new(), maybe: vec![cube] }
    }

    /// Holds for every packet.
    pub fn always() -> Tri {
        Tri::yes(Cube::all())
    }

    /// Holds for no packet.
    pub fn never() -> Tri {
        Tri::default()
    }

    /// Both conditions: pairwise intersections.
    pub fn and(&self, other: &Tri) -> Tri {
        let yes = products(&self.yes, &other.yes);
        let (mine, theirs) = (self.could(), other.could());
        let maybe = if self.maybe.is_empty() && other.maybe.is_empty() { Vec::new() } else { products(&mine, &theirs) };
        Tri { yes, maybe }
    }

    /// Either condition.
    pub fn or(mut self, other: Tri) -> Tri {
        self.yes.extend(other.yes);
        self.maybe.extend(other.maybe);
        self
    }

    /// Where the condition may hold: `yes` and `maybe`.
    fn could(&self) -> Vec<Cube> {
        self.yes.iter().chain(&self.maybe).copied().collect()
    }

    /// Splits a box into (holds, cannot tell, fails), each a list of disjoint boxes.
    pub fn split(&self, cube: &Cube) -> (Vec<Cube>, Vec<Cube>, Vec<Cube>) {
        let mut rest = vec![*cube];
        let yes = carve(&mut rest, &self.yes, cube);
        let maybe = carve(&mut rest, &self.maybe, cube);
        (yes, maybe, rest)
    }
}

/// Moves the parts of `rest` inside `by` out of it, and returns them.
fn carve(rest: &mut Vec<Cube>, by: &[Cube], whole: &Cube) -> Vec<Cube> {
    let mut taken = Vec::new();
    for piece in by.iter().filter(|c| c.overlaps(whole)) {
        if rest.is_empty() {
            break;
        }
        let mut kept = Vec::with_capacity(rest.len());
        for r in rest.drain(..) {
            match r.intersect(piece) {
                Some(inside) => {
                    taken.push(inside);
                    kept.extend(r.subtract(piece));
                }
                None => kept.push(r),
            }
        }
        *rest = kept;
    }
    taken
}

fn products(a: &[Cube], b: &[Cube]) -> Vec<Cube> {
    a.iter().flat_map(|x| b.iter().filter_map(move |y| x.intersect(y))).collect()
}

/// The part of `cubes` outside every box of `minus`.
pub fn subtract(cubes: &[Cube], minus: &[Cube]) -> Vec<Cube> {
    let mut out = Vec::new();
    for cube in cubes {
        let mut pieces = vec![*cube];
        for m in minus.iter().filter(|m| m.overlaps(cube)) {
            pieces = pieces.iter().flat_map(|p| p.subtract(m)).collect();
            if pieces.is_empty() {
                break;
            }
        }
        out.extend(pieces);
    }
    out
}

/// The part of `cubes` inside some box of `within`; disjoint when both inputs are.
pub fn intersect(cubes: &[Cube], within: &[Cube]) -> Vec<Cube> {
    products(cubes, within)
}

/// The same set in fewer boxes: boxes that differ in one dimension only and touch there are
/// merged, until nothing changes. Deterministic: the result is sorted.
pub fn coalesce(mut cubes: Vec<Cube>) -> Vec<Cube> {
    cubes.sort_unstable();
    cubes.dedup();
    loop {
        let before = cubes.len();
        for dim in (0..DIMS).rev() {
            cubes = merge_along(cubes, dim);
        }
        if cubes.len() == before {
            cubes.sort_unstable();
            return cubes;
        }
    }
}

fn merge_along(mut cubes: Vec<Cube>, dim: usize) -> Vec<Cube> {
    let key = |c: &Cube| {
        let mut k = *c;
        k = k.with(dim, 0, 0);
        (k, c.dim(dim))
    };
    cubes.sort_unstable_by_key(key);
    let mut out: Vec<Cube> = Vec::with_capacity(cubes.len());
    for cube in cubes {
        if let Some(last) = out.last_mut() {
            let ((a, b), (c, d)) = (last.dim(dim), cube.dim(dim));
            if key(last).0 == key(&cube).0 && c <= b.saturating_add(1) {
                *last = last.with(dim, a, b.max(d));
                continue;
            }
        }
        out.push(cube);
    }
    out
}

/// An address as (family, value).
pub fn address(ip: IpAddr) -> (u128, u128) {
    match ip {
        IpAddr::V4(a) => (V4, u128::from(u32::from(a))),
        IpAddr::V6(a) => (V6, u128::from(a)),
    }
}

/// A prefix as (family, first, last).
pub fn prefix(net: &ipnet::IpNet) -> (u128, u128, u128) {
    let (family, first) = address(net.network());
    let (_, last) = address(net.broadcast());
    (family, first, last)
}

/// The address of a family with this value.
pub fn ip(family: u128, value: u128) -> IpAddr {
    if family == V4 {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX)))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

/// An address interval as people write it: `any`, `10.0.0.0/8`, `10.0.0.5`, or `10.0.0.1-10.0.0.77`.
pub fn show_addresses(family: u128, (lo, hi): (u128, u128)) -> String {
    let bits = if family == V4 { 32 } else { 128 };
    let top = if family == V4 { V4_MAX } else { u128::MAX };
    if (lo, hi) == (0, top) {
        return "any".to_string();
    }
    if lo == hi {
        return ip(family, lo).to_string();
    }
    let span = hi - lo;
    if span.checked_add(1).is_some_and(|n| n.is_power_of_two() && lo & span == 0) {
        let len = bits - (span.count_ones());
        return format!("{}/{len}", ip(family, lo));
    }
    format!("{}-{}", ip(family, lo), ip(family, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(lo: u128, hi: u128) -> Cube {
        Cube::family(V4).with(PROTO, 6, 6).with(DPORT, lo, hi)
    }

    #[test]
    fn subtract_leaves_disjoint_pieces_that_cover_the_rest() {
        let whole = Cube::family(V4);
        let hole = ports(22, 22).with(SRC, 10, 20);
        let pieces = whole.subtract(&hole);
        assert!(pieces.iter().all(|p| !p.overlaps(&hole)));
        let total: u128 = pieces.iter().map(Cube::size).sum::<u128>() + hole.size();
        assert_eq!(total, whole.size());
        for (i, a) in pieces.iter().enumerate() {
            assert!(pieces.iter().skip(i + 1).all(|b| !a.overlaps(b)));
        }
    }

    #[test]
    fn split_is_a_partition() {
        let tri = Tri { yes: vec![ports(22, 22), ports(80, 90)], maybe: vec![ports(85, 100)] };
        let (yes, maybe, no) = tri.split(&ports(0, 65535));
        let size = |v: &[Cube]| v.iter().map(Cube::size).sum::<u128>();
        assert_eq!(size(&yes), ports(0, 10).size() / 11 * 12);
        assert_eq!(size(&maybe), ports(0, 9).size());
        assert_eq!(size(&yes) + size(&maybe) + size(&no), ports(0, 65535).size());
    }

    #[test]
    fn coalesce_merges_neighbours() {
        let merged = coalesce(vec![ports(1, 10), ports(11, 20), ports(30, 40), ports(21, 29)]);
        assert_eq!(merged, vec![ports(1, 40)]);
    }

    #[test]
    fn addresses_show_as_prefixes_when_they_are() {
        assert_eq!(show_addresses(V4, (0x0a00_0000, 0x0aff_ffff)), "10.0.0.0/8");
        assert_eq!(show_addresses(V4, (0x0a00_0001, 0x0a00_0005)), "10.0.0.1-10.0.0.5");
        assert_eq!(show_addresses(V4, (0, V4_MAX)), "any");
        assert_eq!(show_addresses(V6, (1, 1)), "::1");
    }
}
