//! `BlockMap`: every block the namenode knows → its owner, length, digest and
//! replica locations (HDFS BlocksMap), plus the node → blocks index, the
//! corrupt-replica map (HDFS CorruptReplicasMap), replicas we ordered
//! deleted (HDFS InvalidateBlocks, as far as reports are concerned) and
//! replicas of no block awaiting their grace (orphans).
//!
//! What it does not do: decide placement (`placement`), know whether a node
//! is live (`datanodes`), decide repairs (`replication`), or send anything
//! (deletions are returned to the caller, which queues them once the change
//! is durable). It records *what changed* ([`BlockEvents`]) so the caller
//! can feed the replication queues without rescanning.
//!
//! Invariants:
//! - every `BlockMeta` is persisted through the caller's [`Txn`] whenever it
//!   changes (replica lists included), so a restart keeps the last known
//!   locations and block reports only have to correct them;
//! - `by_node[n]` contains `b` exactly when `blocks[b].replicas` contains `n`;
//! - `replicas` holds good replicas only: a replica known corrupt is moved
//!   to `corrupt` (memory only: after a restart the datanode's own report,
//!   or the next verification, finds it again), never served, never counted;
//! - a block owned by a pending file has no `len`/`sha256` yet: replicas that
//!   datanodes report for it are remembered in `reported` (memory only) and
//!   merged in at `complete` when their length and digest match;
//! - a replica of no block at all (an "orphan", an unknown replica) is
//!   never deleted at once: it is remembered with the time it was first
//!   reported, and [`BlockMap::sweep_orphans`] hands it out for deletion
//!   once the grace has passed, but only while it looks like a stray of a
//!   cut-off write. Unknown replicas are *held* (never deleted without an
//!   operator's word, [`BlockMap::take_orphans`]) when the metadata may be
//!   what is wrong: after a restore from a checkpoint, when a datanode
//!   reports them as it registers (the first report after a namenode start,
//!   or after the node was away), or when they are more than a small share
//!   of a node's replicas ([`orphan_share_limit`]).
//!
//! Hazard (handled): a full report assembled on the datanode before a write
//! finished can arrive after `complete` and so lack a replica just recorded.
//! Replicas added less than the caller's bound ago are therefore not removed
//! by a full report that lacks them.
use crate::meta_store::Txn;
use crate::namespace::inode::InodeId;
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::proto::datanode::ReportedBlock;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// Who a block belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockOwner {
    /// A complete file (inode id).
    File(InodeId),
    /// A file still being written.
    Pending(FileId),
}

/// One block as stored (`b/<block id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub owner: BlockOwner,
    /// 0 until committed.
    pub len: u64,
    /// `None` until committed.
    pub sha256: Option<Sha256Digest>,
    /// Nodes believed to hold a good, complete replica.
    pub replicas: Vec<NodeId>,
    /// The pipeline it was sent to (pending blocks only): where to send
    /// deletions if the write is abandoned.
    pub targets: Vec<NodeId>,
}

/// What to do about one reported replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Recorded (or already known), remembered for a pending block, marked
    /// corrupt, or remembered as an orphan.
    Kept,
    /// We already ordered it deleted: say so again.
    Delete,
}

/// Which report a replica came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// A full report (or the one sent with `register`): what is on disk,
    /// including replicas we know to be corrupt.
    Full,
    /// `block_received`: a replica just written and verified by the node.
    Incremental,
}

/// A replica known to be corrupt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptReplica {
    pub reason: String,
    /// `Delete` was queued for it; the entry goes when the node confirms.
    pub delete_sent: bool,
}

/// Why an unknown replica is held for an operator instead of deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HoldReason {
    /// The metadata was restored from a checkpoint: replicas of blocks
    /// newer than it are expected, and may be wanted back.
    Restored,
    /// Reported as the node registered: after a namenode start the
    /// metadata itself may be stale or partial.
    Registration,
    /// More than [`orphan_share_limit`] of one node's replicas.
    Share,
}

impl HoldReason {
    pub fn describe(self) -> &'static str {
        match self {
            HoldReason::Restored => "the metadata was restored from a checkpoint, so replicas of blocks written after it are held",
            HoldReason::Registration => "datanodes reported them as they registered (after a namenode start or a datanode's return), when stale metadata looks like this",
            HoldReason::Share => "too many on one datanode to be strays of cut-off writes",
        }
    }
}

/// One replica of an unknown block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Orphan {
    first_seen: Instant,
    held: Option<HoldReason>,
}

/// How many unknown replicas a node may hold and still have them deleted
/// without an operator: 1 % of its known replicas, and at least 4.
///
/// Why: strays come from writes cut off at the wrong moment (a replica
/// that lands after its file was abandoned or deleted), a handful at a
/// time, whatever the node's size. Metadata that is lost, stale or from
/// another cluster shows up as a large share of a node (all of it after a
/// wipe, the writes since the checkpoint after an old restore). 1 % is far
/// above the first and far below the second; the floor of 4 lets a small
/// node clean up one cut-off upload's blocks.
pub fn orphan_share_limit(known_replicas: u64) -> u64 {
    (known_replicas / 100).max(4)
}

/// What changed since the caller last asked ([`BlockMap::take_events`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BlockEvents {
    /// Blocks whose replica set changed in a way that may need a copy,
    /// a deletion, or nothing (the replication monitor decides).
    pub touched: HashSet<BlockId>,
    /// Replicas that appeared (a copy may have completed).
    pub arrived: Vec<(BlockId, NodeId)>,
    /// Replicas that went away or went bad (a copy from there will fail).
    pub lost: Vec<(BlockId, NodeId)>,
}

#[derive(Debug, Default)]
pub struct BlockMap {
    blocks: HashMap<BlockId, BlockMeta>,
    by_node: HashMap<NodeId, HashSet<BlockId>>,
    /// Replicas reported for pending blocks: (node, len, sha256).
    reported: HashMap<BlockId, Vec<(NodeId, u64, Sha256Digest)>>,
    corrupt: HashMap<BlockId, HashMap<NodeId, CorruptReplica>>,
    /// Replicas we ordered deleted and the node has not confirmed yet.
    invalidated: HashMap<NodeId, HashSet<BlockId>>,
    /// Replicas of no block: when first reported, and whether held.
    orphans: HashMap<NodeId, HashMap<BlockId, Orphan>>,
    /// Restored from a checkpoint: every unknown replica is held.
    hold_all: bool,
    /// When replicas were added, for the full-report race (pruned).
    recent: HashMap<(BlockId, NodeId), Instant>,
    events: BlockEvents,
}

impl BlockMap {
    /// Rebuilds the map and its index from stored records.
    pub fn from_records(records: impl IntoIterator<Item = (BlockId, BlockMeta)>) -> Self {
        let mut map = BlockMap::default();
        for (id, meta) in records {
            for n in &meta.replicas {
                map.by_node.entry(*n).or_default().insert(id);
            }
            map.blocks.insert(id, meta);
        }
        map
    }

    pub fn get(&self, id: &BlockId) -> Option<&BlockMeta> {
        self.blocks.get(id)
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&BlockId, &BlockMeta)> {
        self.blocks.iter()
    }

    /// Replicas recorded on `node`.
    pub fn replica_count(&self, node: &NodeId) -> u64 {
        self.by_node.get(node).map_or(0, |s| s.len() as u64)
    }

    /// Blocks with a good replica recorded on `node`.
    pub fn blocks_on(&self, node: &NodeId) -> Vec<BlockId> {
        self.by_node
            .get(node)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The corrupt replicas of `id`.
    pub fn corrupt_of(&self, id: &BlockId) -> Option<&HashMap<NodeId, CorruptReplica>> {
        self.corrupt.get(id).filter(|m| !m.is_empty())
    }

    /// Corrupt replicas known in all.
    pub fn corrupt_replica_count(&self) -> u64 {
        self.corrupt.values().map(|m| m.len() as u64).sum()
    }

    /// True when we ordered `node`'s replica of `id` deleted and it has not
    /// confirmed yet (it must not be chosen as a copy target meanwhile).
    pub fn is_invalidated(&self, id: &BlockId, node: &NodeId) -> bool {
        self.invalidated.get(node).is_some_and(|s| s.contains(id))
    }

    /// Nodes that still have a deletion of `id` outstanding.
    pub fn invalidated_holders(&self, id: &BlockId) -> Vec<NodeId> {
        self.invalidated
            .iter()
            .filter(|(_, s)| s.contains(id))
            .map(|(n, _)| *n)
            .collect()
    }

    /// Everything that changed since the last call.
    pub fn take_events(&mut self) -> BlockEvents {
        std::mem::take(&mut self.events)
    }

    /// Marks a block for the replication monitor's attention.
    pub fn touch(&mut self, id: BlockId) {
        self.events.touched.insert(id);
    }

    /// Adds a new block (or replaces one), persisting it.
    pub fn insert(&mut self, id: BlockId, meta: BlockMeta, txn: &mut Txn) {
        if let Some(old) = self.blocks.remove(&id) {
            self.unindex(id, &old.replicas);
        }
        for n in &meta.replicas {
            self.by_node.entry(*n).or_default().insert(id);
        }
        txn.put_block(id, &meta);
        self.blocks.insert(id, meta);
    }

    /// Forgets a block; returns every node that may hold bytes of it
    /// (replicas, pipeline targets, reported and corrupt copies), for
    /// deletion.
    pub fn remove(&mut self, id: BlockId, txn: &mut Txn) -> Vec<NodeId> {
        let mut holders = Vec::new();
        if let Some(meta) = self.blocks.remove(&id) {
            self.unindex(id, &meta.replicas);
            txn.del_block(id);
            for n in &meta.replicas {
                self.recent.remove(&(id, *n));
            }
            holders.extend(meta.replicas);
            holders.extend(meta.targets);
        }
        if let Some(rep) = self.reported.remove(&id) {
            holders.extend(rep.into_iter().map(|(n, _, _)| n));
        }
        if let Some(c) = self.corrupt.remove(&id) {
            holders.extend(c.into_keys());
        }
        for set in self.invalidated.values_mut() {
            set.remove(&id);
        }
        holders.sort();
        holders.dedup();
        holders
    }

    /// Turns a pending block into a committed one of file `inode`. Replicas
    /// are the pipeline's acknowledgements plus any matching reports that
    /// arrived before `complete`; reports that do not match are corrupt.
    #[allow(clippy::too_many_arguments)]
    pub fn commit(
        &mut self,
        id: BlockId,
        inode: InodeId,
        len: u64,
        sha256: Sha256Digest,
        acked: &[NodeId],
        now: Instant,
        txn: &mut Txn,
    ) {
        let mut replicas: Vec<NodeId> = acked.to_vec();
        let mut bad = Vec::new();
        if let Some(rep) = self.reported.remove(&id) {
            for (n, l, s) in rep {
                if l == len && s == sha256 {
                    replicas.push(n);
                } else if !acked.contains(&n) {
                    bad.push(n);
                }
            }
        }
        let mut seen = HashSet::new();
        replicas.retain(|n| seen.insert(*n));
        for n in &replicas {
            self.recent.insert((id, *n), now);
        }
        let meta = BlockMeta {
            owner: BlockOwner::File(inode),
            len,
            sha256: Some(sha256),
            replicas,
            targets: Vec::new(),
        };
        self.insert(id, meta, txn);
        for n in bad {
            self.mark_corrupt(id, n, "reported with a different length or digest", txn);
        }
    }

    /// Records that `node` holds a good replica of a known block.
    pub fn add_replica(&mut self, id: BlockId, node: NodeId, now: Instant, txn: &mut Txn) -> bool {
        let Some(meta) = self.blocks.get_mut(&id) else {
            return false;
        };
        if meta.replicas.contains(&node) {
            return false;
        }
        meta.replicas.push(node);
        txn.put_block(id, meta);
        self.by_node.entry(node).or_default().insert(id);
        self.recent.insert((id, node), now);
        self.events.touched.insert(id);
        self.events.arrived.push((id, node));
        true
    }

    /// Forgets `node`'s good replica of `id`; true if it was recorded.
    pub fn remove_replica(&mut self, id: BlockId, node: NodeId, txn: &mut Txn) -> bool {
        if let Some(rep) = self.reported.get_mut(&id) {
            rep.retain(|(n, _, _)| *n != node);
        }
        let Some(meta) = self.blocks.get_mut(&id) else {
            return false;
        };
        let before = meta.replicas.len();
        meta.replicas.retain(|n| *n != node);
        if meta.replicas.len() == before {
            return false;
        }
        txn.put_block(id, meta);
        if let Some(set) = self.by_node.get_mut(&node) {
            set.remove(&id);
        }
        self.recent.remove(&(id, node));
        self.events.touched.insert(id);
        self.events.lost.push((id, node));
        true
    }

    /// `node`'s replica of `id` is bad (a datanode's scanner or sender, a
    /// reader, or a report with the wrong digest says so): it stops
    /// counting and serving, and is remembered as corrupt until the node
    /// confirms it gone. Returns false for a block we do not know (or one
    /// still being written: that replica is simply forgotten).
    pub fn mark_corrupt(&mut self, id: BlockId, node: NodeId, reason: &str, txn: &mut Txn) -> bool {
        let Some(meta) = self.blocks.get(&id) else {
            return false;
        };
        if let BlockOwner::Pending(_) = meta.owner {
            if let Some(rep) = self.reported.get_mut(&id) {
                rep.retain(|(n, _, _)| *n != node);
            }
            return false;
        }
        self.remove_replica(id, node, txn);
        self.corrupt
            .entry(id)
            .or_default()
            .entry(node)
            .or_insert_with(|| CorruptReplica {
                reason: reason.to_string(),
                delete_sent: false,
            });
        self.events.touched.insert(id);
        self.events.lost.push((id, node));
        true
    }

    /// Notes that a `Delete` of `node`'s corrupt replica of `id` was queued.
    pub fn corrupt_delete_sent(&mut self, id: &BlockId, node: &NodeId) {
        if let Some(c) = self.corrupt.get_mut(id).and_then(|m| m.get_mut(node)) {
            c.delete_sent = true;
        }
    }

    /// Drops `node`'s (good) replica of `id` because we are deleting it as
    /// excess: reports of it are answered with `Delete` until the node
    /// confirms.
    pub fn invalidate(&mut self, id: BlockId, node: NodeId, txn: &mut Txn) {
        if let Some(meta) = self.blocks.get_mut(&id) {
            let before = meta.replicas.len();
            meta.replicas.retain(|n| *n != node);
            if meta.replicas.len() != before {
                txn.put_block(id, meta);
            }
        }
        if let Some(set) = self.by_node.get_mut(&node) {
            set.remove(&id);
        }
        self.recent.remove(&(id, node));
        self.invalidated.entry(node).or_default().insert(id);
    }

    /// The node says its replica of `id` is gone (incremental report).
    pub fn on_deleted(&mut self, id: BlockId, node: NodeId, txn: &mut Txn) {
        self.remove_replica(id, node, txn);
        self.forget_aux(id, node);
    }

    fn forget_aux(&mut self, id: BlockId, node: NodeId) {
        if let Some(m) = self.corrupt.get_mut(&id) {
            m.remove(&node);
            if m.is_empty() {
                self.corrupt.remove(&id);
            }
        }
        if let Some(s) = self.invalidated.get_mut(&node) {
            s.remove(&id);
        }
        if let Some(o) = self.orphans.get_mut(&node) {
            o.remove(&id);
        }
    }

    /// One replica reported by `node`.
    ///
    /// - unknown block (no file, no pending file): an orphan, deleted once
    ///   its grace has passed ([`Self::sweep_orphans`]), or held (`hold`,
    ///   or a restore) for an operator;
    /// - block of a pending file: remember it for `complete`;
    /// - a replica we ordered deleted: `Delete` again (a full report), or
    ///   a fresh copy (incremental) recorded as usual;
    /// - a replica known corrupt: stays corrupt in a full report (the node
    ///   may not know); an incremental report is a fresh, verified copy;
    /// - complete block with matching length and digest: record it;
    /// - complete block that does not match: corrupt.
    pub fn on_reported(
        &mut self,
        node: NodeId,
        rb: &ReportedBlock,
        kind: ReportKind,
        now: Instant,
        txn: &mut Txn,
    ) -> ReportOutcome {
        self.on_reported_holding(node, rb, kind, None, now, txn)
    }

    /// [`Self::on_reported`], holding an unknown replica for `hold`.
    fn on_reported_holding(
        &mut self,
        node: NodeId,
        rb: &ReportedBlock,
        kind: ReportKind,
        hold: Option<HoldReason>,
        now: Instant,
        txn: &mut Txn,
    ) -> ReportOutcome {
        let Some(meta) = self.blocks.get(&rb.id) else {
            let held = if self.hold_all {
                Some(HoldReason::Restored)
            } else {
                hold
            };
            let o = self
                .orphans
                .entry(node)
                .or_default()
                .entry(rb.id)
                .or_insert(Orphan {
                    first_seen: now,
                    held,
                });
            if o.held.is_none() {
                o.held = held;
            }
            return ReportOutcome::Kept;
        };
        match meta.owner {
            BlockOwner::Pending(_) => {
                let rep = self.reported.entry(rb.id).or_default();
                rep.retain(|(n, _, _)| *n != node);
                rep.push((node, rb.len, rb.sha256));
                ReportOutcome::Kept
            }
            BlockOwner::File(_) => {
                let matches = meta.len == rb.len && meta.sha256 == Some(rb.sha256);
                if kind == ReportKind::Full {
                    if self.is_invalidated(&rb.id, &node) {
                        return ReportOutcome::Delete;
                    }
                    if self
                        .corrupt
                        .get(&rb.id)
                        .is_some_and(|m| m.contains_key(&node))
                    {
                        return ReportOutcome::Kept;
                    }
                } else {
                    self.forget_aux(rb.id, node);
                }
                if matches {
                    self.add_replica(rb.id, node, now, txn);
                } else {
                    self.mark_corrupt(
                        rb.id,
                        node,
                        "reported with a different length or digest than recorded",
                        txn,
                    );
                }
                ReportOutcome::Kept
            }
        }
    }

    /// A full block report from `node`: reconciles every reported replica
    /// and forgets recorded replicas the node no longer has, except those
    /// added less than `race_bound` ago (the report may predate them).
    /// Unknown replicas of a `registration` report are held for an operator.
    /// Returns the blocks the node should delete now.
    pub fn on_full_report(
        &mut self,
        node: NodeId,
        blocks: &[ReportedBlock],
        registration: bool,
        now: Instant,
        race_bound: Duration,
        txn: &mut Txn,
    ) -> Vec<BlockId> {
        let mut delete = Vec::new();
        let mut seen = HashSet::with_capacity(blocks.len());
        let hold = registration.then_some(HoldReason::Registration);
        for rb in blocks {
            seen.insert(rb.id);
            if self.on_reported_holding(node, rb, ReportKind::Full, hold, now, txn)
                == ReportOutcome::Delete
            {
                delete.push(rb.id);
            }
        }
        let recorded: Vec<BlockId> = self
            .by_node
            .get(&node)
            .map(|s| s.iter().filter(|b| !seen.contains(b)).copied().collect())
            .unwrap_or_default();
        for b in recorded {
            let fresh = self
                .recent
                .get(&(b, node))
                .is_some_and(|t| now.saturating_duration_since(*t) < race_bound);
            if !fresh {
                self.remove_replica(b, node, txn);
            }
        }
        // What the node no longer has needs no deleting and is no longer corrupt.
        let gone_corrupt: Vec<BlockId> = self
            .corrupt
            .iter()
            .filter(|(b, m)| m.contains_key(&node) && !seen.contains(b))
            .map(|(b, _)| *b)
            .collect();
        for b in gone_corrupt {
            self.forget_aux(b, node);
            self.events.touched.insert(b);
        }
        if let Some(s) = self.invalidated.get_mut(&node) {
            s.retain(|b| seen.contains(b));
        }
        if let Some(o) = self.orphans.get_mut(&node) {
            o.retain(|b, _| seen.contains(b));
        }
        delete
    }

    /// Orphan replicas whose grace has passed and that are not held:
    /// forgotten here, returned for deletion. A node whose unheld orphans
    /// are more than [`orphan_share_limit`] of its replicas has them all
    /// held instead.
    pub fn sweep_orphans(&mut self, now: Instant, grace: Duration) -> Vec<(NodeId, BlockId)> {
        let mut out = Vec::new();
        for (node, o) in self.orphans.iter_mut() {
            o.retain(|b, _| !self.blocks.contains_key(b));
            let waiting = o.values().filter(|x| x.held.is_none()).count() as u64;
            let known = self.by_node.get(node).map_or(0, |s| s.len() as u64);
            if waiting > orphan_share_limit(known) {
                log::warn!(
                    "datanode {node} holds {waiting} replicas of unknown blocks beside {known} known ones: \
                     held until an operator decides (dfs orphans delete)"
                );
                for x in o.values_mut() {
                    x.held.get_or_insert(HoldReason::Share);
                }
                continue;
            }
            o.retain(|b, x| {
                if x.held.is_none() && now.saturating_duration_since(x.first_seen) >= grace {
                    out.push((*node, *b));
                    return false;
                }
                true
            });
        }
        self.orphans.retain(|_, o| !o.is_empty());
        out.sort();
        out
    }

    /// Every unknown replica, held or not (the operator's `orphans delete`):
    /// forgotten here, returned for deletion; holding after a restore ends.
    pub fn take_orphans(&mut self) -> Vec<(NodeId, BlockId)> {
        let mut out: Vec<(NodeId, BlockId)> = self
            .orphans
            .drain()
            .flat_map(|(n, o)| o.into_keys().map(move |b| (n, b)))
            .filter(|(_, b)| !self.blocks.contains_key(b))
            .collect();
        self.hold_all = false;
        out.sort();
        out
    }

    /// Replicas of blocks just dropped from the map that are to be held
    /// rather than deleted (see [`HoldReason::Restored`]).
    pub fn hold_unknown(
        &mut self,
        replicas: impl IntoIterator<Item = (NodeId, BlockId)>,
        now: Instant,
    ) {
        for (node, id) in replicas {
            if self.blocks.contains_key(&id) {
                continue;
            }
            self.forget_aux(id, node);
            self.orphans.entry(node).or_default().insert(
                id,
                Orphan {
                    first_seen: now,
                    held: Some(HoldReason::Restored),
                },
            );
        }
    }

    /// Holds every unknown replica (the metadata was restored).
    pub fn set_hold_all(&mut self, hold: bool) {
        self.hold_all = hold;
        if hold {
            for o in self.orphans.values_mut() {
                for x in o.values_mut() {
                    x.held.get_or_insert(HoldReason::Restored);
                }
            }
        }
    }

    pub fn holds_all(&self) -> bool {
        self.hold_all
    }

    /// Unknown replicas: all of them.
    pub fn orphan_count(&self) -> u64 {
        self.orphans.values().map(|o| o.len() as u64).sum()
    }

    /// Per node: (held, waiting) unknown replicas, and the reasons for
    /// holding that apply.
    pub fn orphans_by_node(&self) -> (Vec<(NodeId, u64, u64)>, Vec<HoldReason>) {
        let mut reasons = Vec::new();
        let mut nodes = Vec::new();
        for (node, o) in &self.orphans {
            let held = o.values().filter(|x| x.held.is_some()).count() as u64;
            for r in o.values().filter_map(|x| x.held) {
                if !reasons.contains(&r) {
                    reasons.push(r);
                }
            }
            nodes.push((*node, held, o.len() as u64 - held));
        }
        nodes.sort();
        reasons.sort();
        (nodes, reasons)
    }

    /// Forgets when replicas were added, once beyond `race_bound`.
    pub fn prune_recent(&mut self, now: Instant, race_bound: Duration) {
        self.recent
            .retain(|_, t| now.saturating_duration_since(*t) < race_bound);
    }

    fn unindex(&mut self, id: BlockId, replicas: &[NodeId]) {
        for n in replicas {
            if let Some(set) = self.by_node.get_mut(n) {
                set.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(inode: InodeId, data: &[u8], replicas: Vec<NodeId>) -> BlockMeta {
        BlockMeta {
            owner: BlockOwner::File(inode),
            len: data.len() as u64,
            sha256: Some(Sha256Digest::of(data)),
            replicas,
            targets: vec![],
        }
    }

    fn rb(id: BlockId, data: &[u8]) -> ReportedBlock {
        ReportedBlock {
            id,
            len: data.len() as u64,
            sha256: Sha256Digest::of(data),
        }
    }

    const BOUND: Duration = Duration::from_secs(5);

    #[tokio::test(start_paused = true)]
    async fn reports_reconcile() {
        let (a, b) = (NodeId::new(), NodeId::new());
        let good = BlockId::new();
        let mut map = BlockMap::default();
        let mut txn = Txn::new();
        map.insert(good, committed(5, b"hello", vec![a]), &mut txn);
        let pending = BlockId::new();
        map.insert(
            pending,
            BlockMeta {
                owner: BlockOwner::Pending(FileId::new()),
                len: 0,
                sha256: None,
                replicas: vec![],
                targets: vec![a, b],
            },
            &mut txn,
        );
        let stranger = BlockId::new();
        let now = Instant::now();

        // b reports the good block, a pending one, and one we never heard of.
        let del = map.on_full_report(
            b,
            &[rb(good, b"hello"), rb(pending, b"xy"), rb(stranger, b"?")],
            false,
            now,
            BOUND,
            &mut txn,
        );
        assert!(del.is_empty(), "the stranger is an orphan with a grace");
        assert_eq!(map.get(&good).unwrap().replicas, vec![a, b]);
        assert_eq!(map.replica_count(&b), 1);
        assert_eq!(map.orphan_count(), 1);
        let ev = map.take_events();
        assert_eq!(ev.arrived, vec![(good, b)]);
        assert!(ev.touched.contains(&good));

        // a's report lacks the good block: forgotten (it was not added recently).
        assert!(map
            .on_full_report(a, &[], false, now, BOUND, &mut txn)
            .is_empty());
        assert_eq!(map.get(&good).unwrap().replicas, vec![b]);
        assert_eq!(map.replica_count(&a), 0);
        assert_eq!(map.take_events().lost, vec![(good, a)]);

        // A mismatching copy is corrupt: not recorded, not served.
        assert_eq!(
            map.on_reported(a, &rb(good, b"hellx"), ReportKind::Full, now, &mut txn),
            ReportOutcome::Kept
        );
        assert_eq!(map.get(&good).unwrap().replicas, vec![b]);
        assert!(map.corrupt_of(&good).unwrap().contains_key(&a));
        assert_eq!(map.corrupt_replica_count(), 1);

        // The pending block's reported copy joins at commit when it matches.
        map.commit(pending, 6, 2, Sha256Digest::of(b"xy"), &[a], now, &mut txn);
        assert_eq!(map.get(&pending).unwrap().replicas, vec![a, b]);
        let holders = map.remove(pending, &mut txn);
        assert_eq!(holders.len(), 2);
        assert_eq!(map.replica_count(&a), 0);

        // The orphan is handed out for deletion only after its grace.
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty());
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(
            map.sweep_orphans(Instant::now(), BOUND),
            vec![(b, stranger)]
        );
        assert_eq!(map.orphan_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_report_older_than_a_new_replica_does_not_remove_it() {
        let a = NodeId::new();
        let id = BlockId::new();
        let mut map = BlockMap::default();
        let mut txn = Txn::new();
        map.insert(id, committed(5, b"x", vec![]), &mut txn);
        assert!(map.add_replica(id, a, Instant::now(), &mut txn));
        // The report was built before the replica arrived.
        tokio::time::advance(Duration::from_secs(1)).await;
        map.on_full_report(a, &[], false, Instant::now(), BOUND, &mut txn);
        assert_eq!(map.get(&id).unwrap().replicas, vec![a], "kept");
        // A later report that still lacks it is believed.
        tokio::time::advance(BOUND).await;
        map.prune_recent(Instant::now(), BOUND);
        map.on_full_report(a, &[], false, Instant::now(), BOUND, &mut txn);
        assert!(map.get(&id).unwrap().replicas.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn corrupt_and_invalidated_replicas() {
        let (a, b) = (NodeId::new(), NodeId::new());
        let id = BlockId::new();
        let mut map = BlockMap::default();
        let mut txn = Txn::new();
        let now = Instant::now();
        map.insert(id, committed(5, b"data", vec![a, b]), &mut txn);
        assert!(map.mark_corrupt(id, a, "scanner", &mut txn));
        assert_eq!(map.get(&id).unwrap().replicas, vec![b]);
        assert_eq!(map.blocks_on(&a), vec![]);
        // Its full report still lists it (the node may not know): stays corrupt.
        map.on_full_report(a, &[rb(id, b"data")], false, now, BOUND, &mut txn);
        assert_eq!(map.get(&id).unwrap().replicas, vec![b]);
        assert_eq!(map.corrupt_replica_count(), 1);
        // A fresh copy received later is good again.
        map.on_reported(a, &rb(id, b"data"), ReportKind::Incremental, now, &mut txn);
        assert_eq!(map.corrupt_replica_count(), 0);
        assert_eq!(map.get(&id).unwrap().replicas, vec![b, a]);

        // Excess: dropped now, and a full report of it is answered with Delete.
        map.invalidate(id, a, &mut txn);
        assert!(map.is_invalidated(&id, &a));
        assert_eq!(map.get(&id).unwrap().replicas, vec![b]);
        let del = map.on_full_report(a, &[rb(id, b"data")], false, now, BOUND, &mut txn);
        assert_eq!(del, vec![id]);
        assert_eq!(map.get(&id).unwrap().replicas, vec![b]);
        map.on_deleted(id, a, &mut txn);
        assert!(!map.is_invalidated(&id, &a));

        // A corrupt replica whose node no longer has it is forgotten.
        map.mark_corrupt(id, b, "reader", &mut txn);
        assert!(map.get(&id).unwrap().replicas.is_empty());
        map.on_full_report(b, &[], false, now, BOUND, &mut txn);
        assert_eq!(map.corrupt_replica_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_replicas_are_held_when_the_metadata_may_be_wrong() {
        let (a, b) = (NodeId::new(), NodeId::new());
        let mut map = BlockMap::default();
        let mut txn = Txn::new();
        let now = Instant::now();
        // a holds 10 known blocks.
        let known: Vec<ReportedBlock> = (0..10u8)
            .map(|i| {
                let id = BlockId::new();
                map.insert(id, committed(1, &[i], vec![]), &mut txn);
                rb(id, &[i])
            })
            .collect();
        map.on_full_report(a, &known, false, now, BOUND, &mut txn);
        assert_eq!(map.replica_count(&a), 10);

        // Reported as b registers: held, whatever the grace.
        let strangers: Vec<ReportedBlock> = (0..3u8).map(|i| rb(BlockId::new(), &[i])).collect();
        map.on_full_report(b, &strangers, true, now, BOUND, &mut txn);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty());
        let (nodes, reasons) = map.orphans_by_node();
        assert_eq!(nodes, vec![(b, 3, 0)]);
        assert_eq!(reasons, vec![HoldReason::Registration]);

        // A few strays beside known blocks, seen while running: deleted after the grace.
        let stray = rb(BlockId::new(), b"s");
        map.on_reported(a, &stray, ReportKind::Incremental, Instant::now(), &mut txn);
        assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty(), "grace");
        tokio::time::advance(BOUND).await;
        assert_eq!(
            map.sweep_orphans(Instant::now(), BOUND),
            vec![(a, stray.id)]
        );

        // More than the share limit of a node at once: all held.
        assert_eq!(orphan_share_limit(10), 4);
        assert_eq!(orphan_share_limit(1000), 10);
        for i in 0..5u8 {
            let x = rb(BlockId::new(), &[i, i]);
            map.on_reported(a, &x, ReportKind::Incremental, Instant::now(), &mut txn);
        }
        tokio::time::advance(BOUND).await;
        assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty());
        let (nodes, reasons) = map.orphans_by_node();
        assert!(nodes.contains(&(a, 5, 0)), "{nodes:?}");
        assert!(reasons.contains(&HoldReason::Share));

        // The operator's word takes them all; a block that became known
        // meanwhile is not among them.
        let later_known = strangers[0];
        map.insert(later_known.id, committed(2, &[0], vec![]), &mut txn);
        let taken = map.take_orphans();
        assert_eq!(taken.len(), 5 + 2);
        assert!(!taken.iter().any(|(_, id)| *id == later_known.id));
        assert_eq!(map.orphan_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_restore_every_unknown_replica_is_held() {
        let a = NodeId::new();
        let mut map = BlockMap::default();
        let mut txn = Txn::new();
        map.set_hold_all(true);
        let x = rb(BlockId::new(), b"x");
        map.on_reported(a, &x, ReportKind::Incremental, Instant::now(), &mut txn);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty());
        assert_eq!(map.orphans_by_node().1, vec![HoldReason::Restored]);
        assert_eq!(map.take_orphans(), vec![(a, x.id)]);
        assert!(!map.holds_all(), "the operator's word ends the hold");
    }
}
