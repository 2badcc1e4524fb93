//! The comparison itself: both sides' edges grouped by (from, to, locality, protocol), each group's
//! port axis cut into the disjoint intervals where the set of covering edges is constant on both
//! sides, and each interval judged once per distinct pair of condition sets.

use crate::protocol::Protocol;

/// One edge of one side, with its nodes and condition as unified ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    pub from: u32,
    pub to: u32,
    pub local: bool,
    pub protocol: Protocol,
    /// `0..=0` for protocols without ports.
    pub start: u16,
    pub end: u16,
    /// The unified condition; `FALSE` when the edge is never active in the compared configurations.
    pub cond: u32,
    /// The flow on its own side.
    pub flow: u32,
}

/// The interned condition `false`: edges with it are cited, never counted as allowing anything.
pub const FALSE: u32 = 0;

/// An interval where the sides differ, with what covers it on each side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece<V> {
    pub from: u32,
    pub to: u32,
    pub local: bool,
    pub protocol: Protocol,
    pub start: u16,
    pub end: u16,
    pub verdict: V,
    /// The conditions that allow the interval on each side (sorted, without `FALSE`).
    pub conds: [Vec<u32>; 2],
    /// The flows whose edges cover the interval on each side (sorted), active or not.
    pub flows: [Vec<u32>; 2],
}

/// Compares two sides' items, each sorted (`Item`'s order). `judge` decides a pair of condition
/// sets: `None` when they allow the same configurations. Adjacent intervals with the same verdict
/// and the same flows are merged, so a difference is reported as one range where it is one.
pub fn sweep<V: Clone + PartialEq>(
    old: &[Item],
    new: &[Item],
    mut judge: impl FnMut(&[u32], &[u32]) -> Option<V>,
) -> Vec<Piece<V>> {
    let mut out: Vec<Piece<V>> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let key = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => group_key(a).min(group_key(b)),
            (Some(a), None) => group_key(a),
            (None, Some(b)) => group_key(b),
            (None, None) => break,
        };
        let old_end = i + old.get(i..).map_or(0, |rest| rest.iter().take_while(|x| group_key(x) == key).count());
        let new_end = j + new.get(j..).map_or(0, |rest| rest.iter().take_while(|x| group_key(x) == key).count());
        let (a, b) = (old.get(i..old_end).unwrap_or_default(), new.get(j..new_end).unwrap_or_default());
        group(a, b, &mut judge, &mut out);
        (i, j) = (old_end, new_end);
    }
    out
}

type Key = (u32, u32, bool, Protocol);

fn group_key(item: &Item) -> Key {
    (item.from, item.to, item.local, item.protocol)
}

/// One group: the elementary intervals between every start and every end + 1 of either side.
fn group<V: Clone + PartialEq>(
    old: &[Item],
    new: &[Item],
    judge: &mut impl FnMut(&[u32], &[u32]) -> Option<V>,
    out: &mut Vec<Piece<V>>,
) {
    let Some(first) = old.first().or(new.first()) else { return };
    let mut points: Vec<u32> = old.iter().chain(new).flat_map(|x| [u32::from(x.start), u32::from(x.end) + 1]).collect();
    points.sort_unstable();
    points.dedup();
    let mut sides = [Active::new(old), Active::new(new)];
    for window in points.windows(2) {
        let &[start, next] = window else { continue };
        for side in &mut sides {
            side.advance(start);
        }
        let [a, b] = &sides;
        if a.conds == b.conds {
            continue;
        }
        let Some(verdict) = judge(&a.conds, &b.conds) else { continue };
        // Points are ports plus one at most, so both ends fit in u16.
        let (start, end) = (narrow(start), narrow(next - 1));
        let piece = Piece {
            from: first.from,
            to: first.to,
            local: first.local,
            protocol: first.protocol,
            start,
            end,
            verdict,
            conds: [a.conds.clone(), b.conds.clone()],
            flows: [a.flows.clone(), b.flows.clone()],
        };
        match out.last_mut() {
            Some(last) if continues(last, &piece) => last.end = end,
            _ => out.push(piece),
        }
    }
}

fn narrow(point: u32) -> u16 {
    // Callers pass a window's start (never the last point, so not 65536) or `next - 1`, at most 65535.
    u16::try_from(point).expect("invariant: interval ends are ports")
}

/// Whether `next` extends `last`: the same group, adjacent, the same verdict and flows.
fn continues<V: PartialEq>(last: &Piece<V>, next: &Piece<V>) -> bool {
    (last.from, last.to, last.local, last.protocol) == (next.from, next.to, next.local, next.protocol)
        && u32::from(last.end) + 1 == u32::from(next.start)
        && last.verdict == next.verdict
        && last.conds == next.conds
        && last.flows == next.flows
}

/// The items of one side that cover the current point, as an active list.
struct Active<'a> {
    items: &'a [Item],
    next: usize,
    active: Vec<&'a Item>,
    conds: Vec<u32>,
    flows: Vec<u32>,
}

impl<'a> Active<'a> {
    fn new(items: &'a [Item]) -> Self {
        Active { items, next: 0, active: Vec::new(), conds: Vec::new(), flows: Vec::new() }
    }

    /// Moves to `point`: items starting at or before it join, items ending before it leave.
    fn advance(&mut self, point: u32) {
        while let Some(item) = self.items.get(self.next).filter(|x| u32::from(x.start) <= point) {
            self.active.push(item);
            self.next += 1;
        }
        self.active.retain(|x| u32::from(x.end) >= point);
        self.conds.clear();
        self.conds.extend(self.active.iter().map(|x| x.cond).filter(|&c| c != FALSE));
        self.conds.sort_unstable();
        self.conds.dedup();
        self.flows.clear();
        self.flows.extend(self.active.iter().map(|x| x.flow));
        self.flows.sort_unstable();
        self.flows.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(start: u16, end: u16, cond: u32, flow: u32) -> Item {
        Item { from: 0, to: 1, local: false, protocol: Protocol::Tcp, start, end, cond, flow }
    }

    /// Differences as (start, end, old conds, new conds), judging any two different sets different.
    fn ranges(old: &[Item], new: &[Item]) -> Vec<(u16, u16, Vec<u32>, Vec<u32>)> {
        let pieces = sweep(old, new, |a, b| Some((a.to_vec(), b.to_vec())));
        pieces.into_iter().map(|p| (p.start, p.end, p.verdict.0, p.verdict.1)).collect()
    }

    #[test]
    fn a_range_against_single_ports_splits_exactly() {
        let old = [item(1, 1024, 1, 0)];
        let new = [item(22, 22, 1, 0), item(80, 80, 1, 1)];
        let got = ranges(&old, &new);
        assert_eq!(got, [(1, 21, vec![1], vec![]), (23, 79, vec![1], vec![]), (81, 1024, vec![1], vec![])]);
    }

    #[test]
    fn edges_that_are_never_active_allow_nothing() {
        let old = [item(443, 443, FALSE, 0)];
        assert!(ranges(&old, &[]).is_empty());
        let new = [item(443, 443, 2, 0)];
        assert_eq!(ranges(&old, &new), [(443, 443, vec![], vec![2])]);
    }

    #[test]
    fn the_top_port_closes_its_interval() {
        let old = [item(65535, 65535, 1, 0)];
        assert_eq!(ranges(&old, &[]), [(65535, 65535, vec![1], vec![])]);
    }
}
