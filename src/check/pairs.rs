//! The edges grouped by (from, to, protocol), each group in the order the sweeps of `overlap`
//! visit it: by port start, then end descending, then edge index.
//!
//! On millions of edges, a tree of groups cost a cache miss per edge and level, and an index
//! sorted by looking keys up in the edges a cache miss per comparison. Here the edges are read
//! in order into small records that carry their keys, which are sorted and swept in place; an
//! edge itself is read again only when it overlaps another. The records of a few thousand
//! source nodes at a time are built, so their memory stays bounded.

use crate::graph::Edge;
use crate::hir::{FlowId, NodeId};
use crate::protocol::Protocol;

/// One edge, as the sweeps see it. Ordered by (from, to, protocol, port start, end descending,
/// index): the field order, so that `Ord` is derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Record {
    pub from: NodeId,
    pub to: NodeId,
    pub protocol: Protocol,
    pub start: u16,
    end_descending: u16,
    pub index: u32,
    pub flow: FlowId,
}

impl Record {
    fn new(edge: &Edge, index: usize) -> Self {
        let (start, end) = super::overlap::interval(edge);
        // Edges come from flows of files held in memory; 2^32 of them cannot be built.
        let index = u32::try_from(index).expect("invariant: fewer than 2^32 edges");
        Record {
            from: edge.from,
            to: edge.to,
            protocol: edge.protocol,
            start,
            end_descending: u16::MAX - end,
            index,
            flow: edge.flow,
        }
    }

    /// The ports as an interval, portless protocols spanning everything (`overlap::interval`).
    pub fn interval(&self) -> (u16, u16) {
        (self.start, u16::MAX - self.end_descending)
    }

    pub fn key(&self) -> (NodeId, NodeId, Protocol) {
        (self.from, self.to, self.protocol)
    }

    /// The order within one source node's records, as one number: a comparison of two numbers
    /// instead of five fields.
    fn order_from_one_node(&self) -> u128 {
        (u128::from(self.to.0) << 96)
            | (u128::from(self.protocol as u8) << 64)
            | (u128::from(self.start) << 48)
            | (u128::from(self.end_descending) << 32)
            | u128::from(self.index)
    }
}

/// At most this many records are held at once (12 MB).
const CHUNK: usize = 1 << 19;

const PLACEHOLDER: Record = Record {
    from: NodeId(0),
    to: NodeId(0),
    protocol: Protocol::Tcp,
    start: 0,
    end_descending: 0,
    index: 0,
    flow: FlowId(0),
};

/// Calls `visit` on every group, in (from, to, protocol) order.
pub fn for_each_group(edges: &[Edge], nodes: usize, mut visit: impl FnMut(&[Record])) {
    let mut out_degree = vec![0usize; nodes];
    for edge in edges {
        if let Some(count) = out_degree.get_mut(edge.from.index()) {
            *count += 1;
        }
    }
    let mut records = Vec::new();
    let mut first = 0;
    while first < nodes {
        // Source nodes first..last, together at most CHUNK edges (or one node with more).
        let mut last = first;
        let mut count = 0;
        while let Some(&degree) = out_degree.get(last) {
            if count > 0 && count + degree > CHUNK {
                break;
            }
            count += degree;
            last += 1;
        }
        // A counting sort by source node, then a sort of each node's few records.
        let mut next = vec![0usize; last - first];
        let mut total = 0;
        for (slot, &degree) in next.iter_mut().zip(out_degree.get(first..last).unwrap_or_default()) {
            *slot = total;
            total += degree;
        }
        let bounds: Vec<usize> = next.iter().copied().chain(std::iter::once(total)).collect();
        records.clear();
        records.resize(total, PLACEHOLDER);
        for (index, edge) in edges.iter().enumerate() {
            let Some(at) = edge.from.index().checked_sub(first).and_then(|n| next.get_mut(n)) else { continue };
            if let Some(slot) = records.get_mut(*at) {
                *slot = Record::new(edge, index);
            }
            *at += 1;
        }
        for node in bounds.windows(2) {
            let Some(node_records) =
                records.get_mut(node.first().copied().unwrap_or(0)..node.get(1).copied().unwrap_or(0))
            else {
                continue;
            };
            node_records.sort_unstable_by_key(Record::order_from_one_node);
            for group in node_records.chunk_by(|a, b| a.key() == b.key()) {
                visit(group);
            }
        }
        first = last;
    }
}

/// The records of the edges whose (from, to, protocol) is one of `keys`, sorted.
pub fn matching(edges: &[Edge], keys: &rustc_hash::FxHashSet<(NodeId, NodeId, Protocol)>) -> Vec<Record> {
    let wanted = |e: &Edge| keys.contains(&(e.from, e.to, e.protocol));
    let mut records: Vec<Record> =
        edges.iter().enumerate().filter(|(_, e)| wanted(e)).map(|(index, e)| Record::new(e, index)).collect();
    records.sort_unstable();
    records
}

/// The group of `key` in sorted `records`; empty if there is none.
pub fn group(records: &[Record], key: (NodeId, NodeId, Protocol)) -> &[Record] {
    let start = records.partition_point(|r| r.key() < key);
    let end = records.partition_point(|r| r.key() <= key);
    records.get(start..end).unwrap_or_default()
}
