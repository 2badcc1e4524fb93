//! The edges grouped by (from, to, protocol), each group in the order the sweeps of `overlap`
//! visit it: by port start, then end descending, then edge index.
//!
//! A map from keys to lists costs a tree insertion per edge, with a cache miss at each level;
//! on millions of edges that dominated the checks. A counting sort by source node, then a sort
//! of each node's few edges by their keys gathered in one place, does the same in two passes.

use crate::graph::Edge;
use crate::hir::NodeId;
use crate::protocol::Protocol;

/// Edge indices grouped by (from, to, protocol), as described in the module comment.
pub struct PairIndex {
    order: Vec<u32>,
    /// Where each group starts in `order`, then `order.len()`.
    starts: Vec<u32>,
}

/// What orders an edge within its source node's edges; the index breaks ties, as a stable sort would.
type Key = (NodeId, Protocol, u16, u16, u32);

fn key(edge: &Edge, index: u32) -> Key {
    let (start, end) = super::overlap::interval(edge);
    (edge.to, edge.protocol, start, u16::MAX - end, index)
}

fn index32(index: usize) -> u32 {
    u32::try_from(index).expect("invariant: fewer than 2^32 edges")
}

impl PairIndex {
    pub fn new(edges: &[Edge], nodes: usize) -> Self {
        // Counting sort by source node: bucket `n` holds node n's edges in index order.
        let mut bucket_starts = vec![0usize; nodes + 1];
        for edge in edges {
            if let Some(count) = bucket_starts.get_mut(edge.from.index() + 1) {
                *count += 1;
            }
        }
        for n in 1..bucket_starts.len() {
            let previous = bucket_starts.get(n - 1).copied().unwrap_or(0);
            if let Some(start) = bucket_starts.get_mut(n) {
                *start += previous;
            }
        }
        let mut order = vec![0u32; edges.len()];
        let mut next = bucket_starts.clone();
        for (index, edge) in edges.iter().enumerate() {
            if let Some(at) = next.get_mut(edge.from.index()) {
                if let Some(slot) = order.get_mut(*at) {
                    *slot = index32(index);
                }
                *at += 1;
            }
        }
        // Sort each bucket by its keys, gathered once, and cut it into groups.
        let mut starts = Vec::new();
        let mut keys: Vec<Key> = Vec::new();
        for bucket in bucket_starts.windows(2) {
            let &[first, end] = bucket else { continue };
            let Some(slice) = order.get_mut(first..end) else { continue };
            keys.clear();
            keys.extend(slice.iter().filter_map(|&i| edges.get(i as usize).map(|e| key(e, i))));
            keys.sort_unstable();
            let mut previous: Option<(NodeId, Protocol)> = None;
            for (offset, (slot, k)) in slice.iter_mut().zip(&keys).enumerate() {
                *slot = k.4;
                if previous != Some((k.0, k.1)) {
                    starts.push(index32(first + offset));
                    previous = Some((k.0, k.1));
                }
            }
            debug_assert_eq!(first + keys.len(), end);
        }
        starts.push(index32(order.len()));
        PairIndex { order, starts }
    }

    /// Every group, in (from, to, protocol) order.
    pub fn groups(&self) -> impl Iterator<Item = &[u32]> {
        self.starts.windows(2).filter_map(|w| self.order.get(w.first().copied()? as usize..w.get(1).copied()? as usize))
    }

    /// The group of edges from `from` to `to` on `protocol`; empty if there is none.
    pub fn group(&self, edges: &[Edge], from: NodeId, to: NodeId, protocol: Protocol) -> &[u32] {
        let wanted = (from, to, protocol);
        let key_of = |start: &u32| {
            let edge = self.order.get(*start as usize).and_then(|&i| edges.get(i as usize));
            edge.map(|e| (e.from, e.to, e.protocol))
        };
        let groups = self.starts.len().saturating_sub(1);
        let at = self.starts.get(..groups).map_or(0, |s| s.partition_point(|s| key_of(s).is_some_and(|k| k < wanted)));
        match (self.starts.get(at), self.starts.get(at + 1)) {
            (Some(&start), Some(&end)) if key_of(&start) == Some(wanted) => {
                self.order.get(start as usize..end as usize).unwrap_or_default()
            }
            _ => &[],
        }
    }
}
