//! Which rule of a chain a box of packets meets next: the first rule after a given one whose hull
//! (`eval::hull`) overlaps the box. A chain walked rule by rule costs one overlap test per rule
//! and box, and kube-proxy's chains hold tens of thousands of rules that each carve a hole out of
//! the same traffic; this index lets a box skip straight to the rules that can act on it.
//!
//! It is a tree of boxes over the rules' hulls, split by place (not by rule order, which is
//! arbitrary: kube-proxy writes its Services in any order), each node knowing the lowest and
//! highest rule under it. A query descends only into nodes whose box overlaps the packets, that
//! hold a rule after the given one, and that could hold one before the best found so far.
//!
//! `outcome` indexes the copies of forked packets the same way, to find those that overlap.

use super::space::{Cube, DIMS};

/// Hulls in a leaf; more are split.
const LEAF: usize = 8;

pub struct RuleIndex {
    /// Leaves hold a range of `items`; the root is the last node.
    nodes: Vec<Node>,
    /// The rules' numbers in the chain and their hulls, in leaf order.
    items: Vec<(usize, Cube)>,
}

struct Node {
    /// The smallest box around every hull below.
    around: Cube,
    first: usize,
    last: usize,
    below: Below,
}

enum Below {
    Items(usize, usize),
    Nodes(usize, usize),
}

impl RuleIndex {
    /// An index of the rules with a hull (`None`: the rule acts on no packet).
    pub fn new(hulls: &[Option<Cube>]) -> RuleIndex {
        let items: Vec<(usize, Cube)> = hulls.iter().enumerate().filter_map(|(i, h)| h.map(|h| (i, h))).collect();
        let mut index = RuleIndex { nodes: Vec::new(), items };
        if !index.items.is_empty() {
            index.build(0, index.items.len());
        }
        index
    }

    /// Builds the node over `items[from..to]` (not empty), and returns its place in `nodes`.
    fn build(&mut self, from: usize, to: usize) -> usize {
        let slice = self.items.get_mut(from..to).unwrap_or_default();
        let around =
            slice.iter().skip(1).fold(slice.first().map(|i| i.1).unwrap_or_else(Cube::all), |a, i| a.span(&i.1));
        let first = slice.iter().map(|i| i.0).min().unwrap_or(0);
        let last = slice.iter().map(|i| i.0).max().unwrap_or(0);
        let below = if slice.len() <= LEAF {
            Below::Items(from, to)
        } else {
            sort_for_split(slice);
            let middle = from + slice.len() / 2;
            let left = self.build(from, middle);
            let right = self.build(middle, to);
            Below::Nodes(left, right)
        };
        self.nodes.push(Node { around, first, last, below });
        self.nodes.len() - 1
    }

    /// The first rule numbered `from` or later whose hull overlaps `cube`.
    pub fn next(&self, cube: &Cube, from: usize) -> Option<usize> {
        let mut best = usize::MAX;
        if let Some(root) = self.nodes.len().checked_sub(1) {
            self.visit(root, cube, from, &mut best);
        }
        (best != usize::MAX).then_some(best)
    }

    /// Every rule whose hull overlaps `cube`, in order.
    pub fn overlapping(&self, cube: &Cube) -> Vec<usize> {
        let mut found = Vec::new();
        if let Some(root) = self.nodes.len().checked_sub(1) {
            self.collect(root, cube, &mut found);
        }
        found.sort_unstable();
        found
    }

    fn collect(&self, node: usize, cube: &Cube, found: &mut Vec<usize>) {
        let Some(node) = self.nodes.get(node) else { return };
        if !node.around.overlaps(cube) {
            return;
        }
        match node.below {
            Below::Items(a, b) => {
                let items = self.items.get(a..b).unwrap_or_default();
                found.extend(items.iter().filter(|(_, hull)| hull.overlaps(cube)).map(|(rule, _)| *rule));
            }
            Below::Nodes(left, right) => {
                self.collect(left, cube, found);
                self.collect(right, cube, found);
            }
        }
    }

    fn visit(&self, node: usize, cube: &Cube, from: usize, best: &mut usize) {
        let Some(node) = self.nodes.get(node) else { return };
        if node.last < from || node.first >= *best || !node.around.overlaps(cube) {
            return;
        }
        match node.below {
            Below::Items(a, b) => {
                for (rule, hull) in self.items.get(a..b).unwrap_or_default() {
                    if *rule >= from && *rule < *best && hull.overlaps(cube) {
                        *best = *rule;
                    }
                }
            }
            Below::Nodes(left, right) => {
                // The side with the earlier rules first: what it finds prunes the other side.
                let early = |n: usize| self.nodes.get(n).map_or(usize::MAX, |n| n.first.max(from));
                let (a, b) = if early(right) < early(left) { (right, left) } else { (left, right) };
                self.visit(a, cube, from, best);
                self.visit(b, cube, from, best);
            }
        }
    }
}

/// Orders hulls so that the halves of the slice lie apart: along the dimension where their lower
/// bounds take the most values; where they all share them, by rule number.
fn sort_for_split(slice: &mut [(usize, Cube)]) {
    let mut best: Option<(usize, usize)> = None;
    for dim in 0..DIMS {
        let mut lows: Vec<u128> = slice.iter().map(|i| i.1.dim(dim).0).collect();
        lows.sort_unstable();
        lows.dedup();
        if lows.len() > 1 && best.is_none_or(|(_, n)| lows.len() > n) {
            best = Some((dim, lows.len()));
        }
    }
    match best {
        Some((dim, _)) => slice.sort_unstable_by_key(|i| (i.1.dim(dim), i.0)),
        None => slice.sort_unstable_by_key(|i| i.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::space::{DPORT, DST, PROTO, V4};

    fn service(ip: u128, port: u128) -> Option<Cube> {
        Some(Cube::family(V4).with(PROTO, 6, 6).with(DST, ip, ip).with(DPORT, port, port))
    }

    #[test]
    fn finds_the_first_overlapping_rule_after_the_given_one() {
        // Services in no particular order, a rule that acts on nothing, and a catch-all at the end.
        let ips = [7u128, 3, 9, 1, 12, 5, 30, 2, 8, 11, 4, 6, 10, 20, 15, 13, 14, 16, 17, 18];
        let mut hulls: Vec<Option<Cube>> = ips.iter().map(|ip| service(*ip, 80 + ip % 3)).collect();
        hulls.insert(4, None);
        hulls.push(Some(Cube::all()));
        let index = RuleIndex::new(&hulls);
        let slow = |cube: &Cube, from: usize| {
            hulls.iter().enumerate().skip(from).find(|(_, h)| h.is_some_and(|h| h.overlaps(cube))).map(|(i, _)| i)
        };
        for lo in 0..32 {
            for hi in lo..32 {
                for port in 79..84 {
                    let cube = Cube::family(V4).with(PROTO, 6, 6).with(DST, lo, hi).with(DPORT, port, port + 1);
                    for from in 0..=hulls.len() {
                        assert_eq!(index.next(&cube, from), slow(&cube, from), "{lo}-{hi}:{port} from {from}");
                    }
                }
            }
        }
    }
}
