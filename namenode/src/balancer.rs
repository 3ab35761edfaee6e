//! The balancer's decisions (HDFS's Balancer, run inside the namenode
//! rather than as a separate client): which live nodes are over- or
//! under-used, which replicas to move from one to another, and when a
//! moved replica's source may be deleted. Pure: data in, data out; the
//! worker that acts on a plan (copy through the replication monitor's
//! pending copies, then a targeted deletion of the source replica once
//! the target reports it) is not here.
//!
//! Definitions:
//! - a node's *used share* is `used / capacity` in percent (the figures
//!   its heartbeats report; `datanode --capacity` caps the capacity, which
//!   is how tests on one disk get distinct shares);
//! - the cluster's *average* is `Σ used / Σ capacity` over the eligible
//!   nodes (live, admin state normal, not in maintenance: the only ones
//!   the balancer moves from or to), as HDFS computes it;
//! - a node is *over* above `average + threshold`, *under* below
//!   `average − threshold`; the cluster is balanced when no node is
//!   either. When only one side has nodes, the other side is the nodes
//!   beyond the average (HDFS's above/below-average groups), so a lone
//!   over-used node can still shed to the rest.
//!
//! Invariants of every move chosen here:
//! - the block has its full replication live and no copy pending (a block
//!   short of replicas is the replication monitor's, not the balancer's);
//! - the target holds no replica of the block and is eligible;
//! - the racks the block is on after the move (source replaced by target)
//!   are at least as many as before (a target on the source's rack always
//!   qualifies);
//! - the source replica is deleted only when, without it, the block keeps
//!   its replication live ([`may_delete_source`]): a copy comes first, so
//!   the block never drops below its replication.
use crate::placement::{rack_count, RackId};
use dfs_common::ids::{BlockId, NodeId};
use std::collections::HashMap;

/// The balancer's default threshold, in percentage points.
pub const DEFAULT_THRESHOLD: f64 = 10.0;

/// An eligible node's figures (live, normal, not in maintenance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeUse {
    pub id: NodeId,
    pub rack: RackId,
    pub used: u64,
    pub capacity: u64,
}

impl NodeUse {
    /// Used share in percent (0 for a node reporting no capacity).
    pub fn share(&self) -> f64 {
        if self.capacity == 0 {
            return 0.0;
        }
        self.used as f64 * 100.0 / self.capacity as f64
    }
}

/// Which nodes give and which take, and how much.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classes {
    /// Σ used / Σ capacity, percent.
    pub average: f64,
    /// Nodes over `average + threshold` (most over first).
    pub over: Vec<NodeId>,
    /// Nodes under `average − threshold` (most under first).
    pub under: Vec<NodeId>,
    /// Nodes that send: the over ones, or when none is over but some are
    /// under, those above the average.
    pub sources: Vec<NodeId>,
    /// Nodes that receive: the under ones, or when none is under but some
    /// are over, those below the average.
    pub targets: Vec<NodeId>,
    /// Bytes each source may give before it reaches the average, and each
    /// target may take before it does.
    pub room: HashMap<NodeId, u64>,
}

impl Classes {
    /// Every node within the threshold.
    pub fn balanced(&self) -> bool {
        self.over.is_empty() && self.under.is_empty()
    }
}

/// Classifies `nodes` against the cluster average with `threshold`
/// (percentage points; negative is taken as 0).
pub fn classify(nodes: &[NodeUse], threshold: f64) -> Classes {
    let threshold = if threshold.is_finite() {
        threshold.max(0.0)
    } else {
        DEFAULT_THRESHOLD
    };
    let cap: u128 = nodes.iter().map(|n| u128::from(n.capacity)).sum();
    let used: u128 = nodes.iter().map(|n| u128::from(n.used)).sum();
    if cap == 0 {
        return Classes::default();
    }
    let average = used as f64 * 100.0 / cap as f64;
    let mut by_share: Vec<&NodeUse> = nodes.iter().filter(|n| n.capacity > 0).collect();
    // Most used first; ties by id (deterministic).
    by_share.sort_by(|a, b| b.share().total_cmp(&a.share()).then(a.id.cmp(&b.id)));
    let over: Vec<NodeId> = by_share
        .iter()
        .filter(|n| n.share() > average + threshold)
        .map(|n| n.id)
        .collect();
    let under: Vec<NodeId> = by_share
        .iter()
        .rev()
        .filter(|n| n.share() < average - threshold)
        .map(|n| n.id)
        .collect();
    let sources = if over.is_empty() && !under.is_empty() {
        by_share
            .iter()
            .filter(|n| n.share() > average)
            .map(|n| n.id)
            .collect()
    } else {
        over.clone()
    };
    let targets = if under.is_empty() && !over.is_empty() {
        by_share
            .iter()
            .rev()
            .filter(|n| n.share() < average)
            .map(|n| n.id)
            .collect()
    } else {
        under.clone()
    };
    let mut room = HashMap::new();
    for n in &by_share {
        let at_average = (n.capacity as f64 * average / 100.0) as u64;
        room.insert(n.id, n.used.abs_diff(at_average));
    }
    Classes {
        average,
        over,
        under,
        sources,
        targets,
        room,
    }
}

/// A block with a replica on a source node, as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockOnNode {
    pub id: BlockId,
    pub len: u64,
    /// The file's replication.
    pub expected: u16,
    /// Live replicas on normal nodes (the count replication uses).
    pub live: u32,
    /// Every holder of the block (good, corrupt or being deleted) with its
    /// rack: none of them may be a target.
    pub holders: Vec<(NodeId, RackId)>,
    /// A copy of it is pending (repair or an earlier move).
    pub busy: bool,
}

/// May a move of this block start? Only with its full replication live
/// (never fewer than one) and nothing pending for it.
pub fn may_move(b: &BlockOnNode) -> bool {
    !b.busy && b.live >= u32::from(b.expected).max(1)
}

/// Does replacing `source`'s replica with one on `target_rack` keep as
/// many racks as the block is on now?
pub fn keeps_racks(holders: &[(NodeId, RackId)], source: NodeId, target_rack: RackId) -> bool {
    let before = rack_count(holders.iter().map(|h| h.1));
    let after = rack_count(
        holders
            .iter()
            .filter(|h| h.0 != source)
            .map(|h| h.1)
            .chain(std::iter::once(target_rack)),
    );
    after >= before
}

/// The target of a move of `b` from `source` (on `source_rack`) among
/// `targets` (eligible nodes with the room they have left): not a holder,
/// keeping the racks, with room for the block; one on the source's rack
/// first, then the one with the most room, then the lowest id.
pub fn choose_target(
    b: &BlockOnNode,
    source: NodeId,
    source_rack: RackId,
    targets: &[(NodeId, RackId, u64)],
) -> Option<NodeId> {
    targets
        .iter()
        .filter(|(id, _, _)| *id != source && !b.holders.iter().any(|h| h.0 == *id))
        .filter(|(_, _, room)| *room >= b.len)
        .filter(|(_, rack, _)| keeps_racks(&b.holders, source, *rack))
        .max_by(|a, c| {
            (a.1 == source_rack)
                .cmp(&(c.1 == source_rack))
                .then(a.2.cmp(&c.2))
                .then(c.0.cmp(&a.0))
        })
        .map(|t| t.0)
}

/// May the source's replica go once the copy is confirmed? Only if the
/// block keeps its replication (never fewer than one) live without it.
pub fn may_delete_source(live_without_source: u32, expected: u16) -> bool {
    live_without_source >= u32::from(expected).max(1)
}

/// One replica to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub block: BlockId,
    pub len: u64,
    pub source: NodeId,
    pub target: NodeId,
}

/// Limits of one planning round.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes the round may start moving (the bandwidth's share of it).
    pub budget: u64,
    /// Moves a node may take part in at once, as source or target.
    pub per_node: u32,
}

/// Moves for one round: sources in order (most over first), each one's
/// blocks in the given order, each to [`choose_target`] among the targets;
/// a node's room shrinks with each move, as does the budget. `in_flight`
/// is what each node already sends or receives for the balancer.
pub fn plan(
    nodes: &[NodeUse],
    classes: &Classes,
    blocks_on: impl Fn(&NodeId) -> Vec<BlockOnNode>,
    in_flight: &HashMap<NodeId, u32>,
    limits: Limits,
) -> Vec<Move> {
    let mut moves = Vec::new();
    let mut budget = limits.budget;
    let mut room = classes.room.clone();
    let mut busy = in_flight.clone();
    // One move per block per round (a block on several sources is moved
    // from one of them).
    let mut planned: std::collections::HashSet<BlockId> = std::collections::HashSet::new();
    let rack_of: HashMap<NodeId, RackId> = nodes.iter().map(|n| (n.id, n.rack)).collect();
    for source in &classes.sources {
        let Some(source_rack) = rack_of.get(source).copied() else {
            continue;
        };
        for b in blocks_on(source) {
            if budget == 0 || busy.get(source).copied().unwrap_or(0) >= limits.per_node {
                break;
            }
            if room.get(source).copied().unwrap_or(0) == 0 {
                break;
            }
            if !may_move(&b) || b.len > budget || planned.contains(&b.id) {
                continue;
            }
            let free: Vec<(NodeId, RackId, u64)> = classes
                .targets
                .iter()
                .filter(|t| busy.get(t).copied().unwrap_or(0) < limits.per_node)
                .filter_map(|t| Some((*t, *rack_of.get(t)?, room.get(t).copied().unwrap_or(0))))
                .collect();
            let Some(target) = choose_target(&b, *source, source_rack, &free) else {
                continue;
            };
            budget -= b.len;
            planned.insert(b.id);
            for n in [source, &target] {
                *busy.entry(*n).or_default() += 1;
                if let Some(r) = room.get_mut(n) {
                    *r = r.saturating_sub(b.len.max(1));
                }
            }
            moves.push(Move {
                block: b.id,
                len: b.len,
                source: *source,
                target,
            });
        }
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(rack: &str, used: u64, capacity: u64) -> NodeUse {
        NodeUse {
            id: NodeId::new(),
            rack: RackId::of(rack),
            used,
            capacity,
        }
    }

    #[test]
    fn over_and_under_against_the_average() {
        let n = [
            node("/r", 90, 100),
            node("/r", 50, 100),
            node("/r", 10, 100),
            node("/r", 0, 100),
        ];
        let c = classify(&n, 10.0);
        assert!((c.average - 37.5).abs() < 1e-9);
        assert_eq!(c.over, vec![n[0].id, n[1].id]);
        assert_eq!(c.under, vec![n[3].id, n[2].id]);
        assert_eq!(c.sources, c.over);
        assert_eq!(c.targets, c.under);
        assert!(!c.balanced());
        // Room: what brings each to the average.
        assert_eq!(c.room[&n[0].id], 53);
        assert_eq!(c.room[&n[3].id], 37);
        // Within the threshold: balanced.
        let c = classify(&[node("/r", 45, 100), node("/r", 40, 100)], 10.0);
        assert!(c.balanced());
        assert!(c.sources.is_empty() && c.targets.is_empty());
        // Different capacities: shares, not bytes.
        let c = classify(&[node("/r", 50, 100), node("/r", 500, 1000)], 1.0);
        assert!(c.balanced());
    }

    #[test]
    fn one_sided_uses_the_other_side_of_the_average() {
        // One node over, none under: the nodes below the average take.
        let n = [
            node("/r", 90, 100),
            node("/r", 55, 100),
            node("/r", 55, 100),
            node("/r", 55, 100),
        ];
        let c = classify(&n, 10.0);
        assert_eq!(c.over, vec![n[0].id]);
        assert!(c.under.is_empty());
        assert_eq!(c.targets.len(), 3);
        // Three full, three empty nodes joining: the issue's case.
        let mut n: Vec<NodeUse> = (0..3).map(|_| node("/r", 60, 100)).collect();
        n.extend((0..3).map(|_| node("/r", 0, 100)));
        let c = classify(&n, 10.0);
        assert_eq!(c.over.len(), 3);
        assert_eq!(c.under.len(), 3);
    }

    #[test]
    fn no_capacity_no_work() {
        let c = classify(&[node("/r", 0, 0)], 10.0);
        assert!(c.balanced());
        assert_eq!(c.average, 0.0);
        // A bad threshold is the default, not a panic.
        let c = classify(&[node("/r", 50, 100), node("/r", 0, 100)], f64::NAN);
        assert!(!c.balanced());
    }

    fn block(len: u64, expected: u16, holders: &[(NodeId, RackId)]) -> BlockOnNode {
        BlockOnNode {
            id: BlockId::new(),
            len,
            expected,
            live: holders.len() as u32,
            holders: holders.to_vec(),
            busy: false,
        }
    }

    #[test]
    fn never_moves_a_block_short_of_replicas_or_busy() {
        let (a, b) = (NodeId::new(), NodeId::new());
        let r = RackId::of("/r");
        let mut blk = block(10, 3, &[(a, r), (b, r)]);
        assert!(!may_move(&blk), "2 of 3 live");
        blk.expected = 2;
        assert!(may_move(&blk));
        blk.busy = true;
        assert!(!may_move(&blk), "a copy pending");
        // Deleting the source: only with the replication left without it.
        assert!(!may_delete_source(1, 2));
        assert!(may_delete_source(2, 2));
        assert!(may_delete_source(3, 2));
        assert!(!may_delete_source(0, 0), "never the last replica");
    }

    #[test]
    fn the_rack_rule() {
        let (r1, r2, r3) = (RackId::of("/r1"), RackId::of("/r2"), RackId::of("/r3"));
        let (s, o, t) = (NodeId::new(), NodeId::new(), NodeId::new());
        // On r1 and r2: a move from r1 may go to r1 or r3, not r2.
        let holders = [(s, r1), (o, r2)];
        assert!(keeps_racks(&holders, s, r1));
        assert!(keeps_racks(&holders, s, r3));
        assert!(!keeps_racks(&holders, s, r2));
        // Two on r1, one on r2: leaving r1 for r2 keeps 2 racks.
        let holders = [(s, r1), (t, r1), (o, r2)];
        assert!(keeps_racks(&holders, s, r2));
        // The choice prefers the source's rack, then room.
        let blk = block(10, 2, &[(s, r1), (o, r2)]);
        let (x, y, z) = (NodeId::new(), NodeId::new(), NodeId::new());
        let cands = [(x, r3, 1000), (y, r1, 100), (z, r2, 5000)];
        assert_eq!(choose_target(&blk, s, r1, &cands), Some(y));
        // Without it, the other rack the block is not on.
        assert_eq!(choose_target(&blk, s, r1, &cands[..1]), Some(x));
        // Only a rack it is on already (other than the source's): none.
        assert_eq!(choose_target(&blk, s, r1, &cands[2..]), None);
        // Not a holder, and only with room.
        assert_eq!(choose_target(&blk, s, r1, &[(o, r1, 1000)]), None);
        assert_eq!(choose_target(&blk, s, r1, &[(y, r1, 9)]), None);
    }

    #[test]
    fn a_plan_moves_from_over_to_under_within_limits() {
        let r = RackId::of("/r");
        let full: Vec<NodeUse> = (0..3).map(|_| node("/r", 600, 1000)).collect();
        let empty: Vec<NodeUse> = (0..3).map(|_| node("/r", 0, 1000)).collect();
        let nodes: Vec<NodeUse> = full.iter().chain(&empty).copied().collect();
        let c = classify(&nodes, 10.0);
        // Each full node holds 60 blocks of 10 bytes, replication 3: every
        // block on all three full nodes.
        let blocks: Vec<BlockOnNode> = (0..60)
            .map(|_| block(10, 3, &[(full[0].id, r), (full[1].id, r), (full[2].id, r)]))
            .collect();
        let blocks_on = |_: &NodeId| blocks.clone();
        let limits = Limits {
            budget: 200,
            per_node: 4,
        };
        let moves = plan(&nodes, &c, blocks_on, &HashMap::new(), limits);
        assert!(!moves.is_empty());
        let total: u64 = moves.iter().map(|m| m.len).sum();
        assert!(total <= 200);
        let mut per: HashMap<NodeId, u32> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for m in &moves {
            assert!(c.sources.contains(&m.source));
            assert!(c.targets.contains(&m.target));
            assert!(!blocks
                .iter()
                .find(|b| b.id == m.block)
                .unwrap()
                .holders
                .iter()
                .any(|h| h.0 == m.target));
            *per.entry(m.source).or_default() += 1;
            *per.entry(m.target).or_default() += 1;
            seen.insert(m.block);
        }
        assert!(per.values().all(|n| *n <= 4));
        // A block is moved at most once a round.
        assert_eq!(seen.len(), moves.len());
        // Busy nodes take no more.
        let busy: HashMap<NodeId, u32> = nodes.iter().map(|n| (n.id, 4)).collect();
        assert!(plan(&nodes, &c, |_| blocks.clone(), &busy, limits).is_empty());
        // Blocks short of replicas are never moved.
        let short: Vec<BlockOnNode> = (0..5)
            .map(|_| block(10, 3, &[(full[0].id, r), (full[1].id, r)]))
            .collect();
        assert!(plan(&nodes, &c, |_| short.clone(), &HashMap::new(), limits).is_empty());
        // A balanced cluster: nothing.
        let c = classify(&full, 10.0);
        assert!(plan(&full, &c, |_| blocks.clone(), &HashMap::new(), limits).is_empty());
    }
}
