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
//! In memory a block is not its stored record ([`BlockMeta`]) but a compact
//! entry, with node ids interned and the node → blocks index holding slot
//! numbers (`table` says why and what it costs); [`BlockMap::get`]
//! hands out a copy ([`BlockInfo`]), and the record is rebuilt whenever it
//! is persisted.
//!
//! Invariants:
//! - every block's record is persisted through the caller's [`Txn`]
//!   whenever it changes (replica lists included), so a restart keeps the
//!   last known locations and block reports only have to correct them;
//! - the node index lists block `b` under node `n` exactly when `b`'s
//!   replicas contain `n` (see `table` for the slot-level form);
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
//! Counters kept as the map changes, so the summary and safe mode read them
//! without a walk: committed blocks (owned by a file), committed blocks
//! with a replica on a node registered since this start (safe-mode
//! progress, [`BlockMap::note_registered`]), corrupt replicas, and per
//! node the held unknown replicas by reason. [`BlockMap::recount`] is the
//! walk they must always equal (tests).
//!
//! Hazard (handled): a full report assembled on the datanode before a write
//! finished can arrive after `complete` and so lack a replica just recorded.
//! Replicas added less than the caller's bound ago are therefore not removed
//! by a full report that lacks them.
use crate::meta_store::Txn;
use crate::records::InodeId;
pub use crate::records::{BlockMeta, BlockMetaIn, BlockOwner};
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::proto::datanode::ReportedBlock;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
pub use table::NodeList;
use table::{flag, Entry, NodeIx, NodeTable, Slab, Slot};
use tokio::time::Instant;

mod table;

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
    /// Its block was this namenode's and was removed (its file deleted or
    /// the block abandoned): a replica that landed late, deleted without
    /// counting against the node's share (see [`Tombstones`]).
    removed: bool,
}

/// The ids of the blocks removed most recently (at most
/// [`Tombstones::KEPT`], in memory). A replica of one that a node reports
/// afterwards is known garbage, not a sign of metadata that is lost or
/// stale: a pipeline cut by a dead datanode abandons every block it had in
/// flight, and their replicas on the other nodes land after the abandon.
/// Counted against the share limit, five such blocks held a small node's
/// strays for an operator (`healing.rs`, in CI).
#[derive(Debug, Default)]
struct Tombstones {
    set: HashSet<BlockId>,
    order: std::collections::VecDeque<BlockId>,
}

impl Tombstones {
    const KEPT: usize = 65_536;

    fn add(&mut self, id: BlockId) {
        if self.set.insert(id) {
            self.order.push_back(id);
            if self.order.len() > Self::KEPT {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    fn contains(&self, id: &BlockId) -> bool {
        self.set.contains(id)
    }
}

/// One node's unknown replicas, with how many are held for each reason
/// (kept as entries change, so reports need not walk them).
#[derive(Debug, Default)]
struct OrphanSet {
    map: HashMap<BlockId, Orphan>,
    held: [u64; 3],
}

impl OrphanSet {
    fn slot(r: HoldReason) -> usize {
        match r {
            HoldReason::Restored => 0,
            HoldReason::Registration => 1,
            HoldReason::Share => 2,
        }
    }

    fn count(&mut self, o: &Orphan, add: bool) {
        if let Some(r) = o.held {
            let c = &mut self.held[Self::slot(r)];
            *c = if add { *c + 1 } else { c.saturating_sub(1) };
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn held(&self) -> u64 {
        self.held.iter().sum()
    }

    fn reasons(&self) -> impl Iterator<Item = HoldReason> + '_ {
        [
            HoldReason::Restored,
            HoldReason::Registration,
            HoldReason::Share,
        ]
        .into_iter()
        .filter(|r| self.held[Self::slot(*r)] > 0)
    }

    fn insert(&mut self, b: BlockId, o: Orphan) {
        self.count(&o, true);
        if let Some(old) = self.map.insert(b, o) {
            self.count(&old, false);
        }
    }

    fn remove(&mut self, b: &BlockId) {
        if let Some(old) = self.map.remove(b) {
            self.count(&old, false);
        }
    }

    /// Holds `b` for `reason` unless it is held already.
    fn hold(&mut self, b: &BlockId, reason: HoldReason) {
        if let Some(o) = self.map.get_mut(b) {
            if o.held.is_none() {
                o.held = Some(reason);
                self.held[Self::slot(reason)] += 1;
            }
        }
    }

    /// Holds every entry for `reason` unless held already.
    fn hold_all(&mut self, reason: HoldReason) {
        for o in self.map.values_mut() {
            if o.held.is_none() {
                o.held = Some(reason);
                self.held[Self::slot(reason)] += 1;
            }
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&BlockId, &Orphan) -> bool) {
        let held = &mut self.held;
        self.map.retain(|b, o| {
            let k = keep(b, o);
            if !k {
                if let Some(r) = o.held {
                    let c = &mut held[Self::slot(r)];
                    *c = c.saturating_sub(1);
                }
            }
            k
        });
    }
}

/// What the map's counters say (see the module doc); [`BlockMap::recount`]
/// gives the same from a walk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockCounters {
    /// Blocks owned by a complete file.
    pub committed: u64,
    /// Committed blocks with a good replica on a registered node.
    pub reported: u64,
    pub corrupt_replicas: u64,
    pub orphans: u64,
    pub held_orphans: u64,
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

/// One block as the map knows it, by value: the map keeps a compact form
/// (`table`), so this is a copy (allocation-free for up to four
/// replicas). Pipeline targets are not in it: only [`BlockMap::remove`]
/// needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    pub owner: BlockOwner,
    /// 0 until committed.
    pub len: u64,
    /// `None` until committed.
    pub sha256: Option<Sha256Digest>,
    /// Nodes believed to hold a good, complete replica, in the order
    /// they were recorded.
    pub replicas: NodeList,
}

/// A pending block's file and its write pipeline (few at a time, so kept
/// beside the entries rather than in each).
#[derive(Debug)]
struct WriteInfo {
    file: Option<FileId>,
    targets: Vec<NodeId>,
}

/// Where a walk of the map is (the slot it looked at last): a walk that
/// meets blocks in about the order they were added (a load's files, by
/// id) then reads the slab in order instead of the index at random.
#[derive(Debug, Default)]
pub struct Cursor(Slot);

#[derive(Debug, Default)]
pub struct BlockMap {
    /// Every block, compact (see `table`).
    slab: Slab,
    /// Nodes holding replicas, and their blocks (the node → blocks index).
    nodes: NodeTable,
    /// Replicas past the `table::INLINE` kept in an entry, in order.
    more: HashMap<BlockId, Vec<NodeIx>>,
    /// Pending owners and pipeline targets.
    writes: HashMap<BlockId, WriteInfo>,
    /// Replicas reported for pending blocks: (node, len, sha256).
    reported: HashMap<BlockId, Vec<(NodeId, u64, Sha256Digest)>>,
    corrupt: HashMap<BlockId, HashMap<NodeId, CorruptReplica>>,
    /// Replicas we ordered deleted and the node has not confirmed yet.
    invalidated: HashMap<NodeId, HashSet<BlockId>>,
    /// Replicas of no block: when first reported, and whether held.
    orphans: HashMap<NodeId, OrphanSet>,
    /// Restored from a checkpoint: every unknown replica is held.
    hold_all: bool,
    /// Blocks removed lately (their late replicas are garbage).
    removed: Tombstones,
    /// When replicas were added, for the full-report race (pruned).
    recent: HashMap<(BlockId, NodeId), Instant>,
    events: BlockEvents,
    /// Nodes registered since this start (their replicas count as reported).
    registered: HashSet<NodeId>,
    /// Counters (see the module doc).
    committed: u64,
    reported_count: u64,
    corrupt_replicas: u64,
}

fn set_bit(bits: &mut [u64], s: Slot) {
    if let Some(w) = bits.get_mut(s as usize / 64) {
        *w |= 1 << (s % 64);
    }
}

fn has_bit(bits: &[u64], s: Slot) -> bool {
    bits.get(s as usize / 64)
        .is_some_and(|w| w & (1 << (s % 64)) != 0)
}

/// The replica indexes of `e`: inline, then spilled.
fn ixs<'a>(
    e: &'a Entry,
    more: &'a HashMap<BlockId, Vec<NodeIx>>,
) -> impl Iterator<Item = NodeIx> + 'a {
    let spilled: &[NodeIx] = if e.has(flag::SPILLED) {
        more.get(&e.id).map_or(&[], |v| v.as_slice())
    } else {
        &[]
    };
    e.inline().iter().chain(spilled).copied()
}

impl BlockMap {
    /// Rebuilds the map and its index from stored records.
    pub fn from_records(records: impl IntoIterator<Item = (BlockId, BlockMetaIn)>) -> Self {
        let mut map = BlockMap::default();
        let records = records.into_iter();
        map.slab.reserve(records.size_hint().0);
        // A load's records come in id order, each id once: past the last
        // one, an id is new and needs no look for one to replace.
        let mut last = None;
        for (id, meta) in records {
            if last.is_some_and(|l| id <= l) {
                map.slab.index_deferred();
                map.take(&id);
            }
            last = Some(id);
            map.put_new(id, meta, true);
        }
        map.slab.index_deferred();
        map
    }

    /// Of the blocks `ids` (each counted once), how many this map holds as
    /// `owner`'s.
    pub fn count_owned(&self, ids: &[BlockId], owner: BlockOwner, at: &mut Cursor) -> usize {
        let owns = |id: &BlockId, at: &mut Cursor| {
            self.entry_near(id, at)
                .is_some_and(|e| self.owner(e) == owner)
        };
        match ids {
            [] => 0,
            [one] => usize::from(owns(one, at)),
            _ => {
                let mut distinct = ids.to_vec();
                distinct.sort_unstable();
                distinct.dedup();
                // Ids sort by when they were made: about the slab's order.
                distinct.iter().filter(|id| owns(id, at)).count()
            }
        }
    }

    /// [`BlockMap::sha256_of`] along a walk (see [`Cursor`]).
    pub fn sha256_near(&self, id: &BlockId, at: &mut Cursor) -> Option<Sha256Digest> {
        self.entry_near(id, at)?.sha256()
    }

    fn entry_near(&self, id: &BlockId, at: &mut Cursor) -> Option<&Entry> {
        let slot = match self.slab.get(at.0) {
            // The block looked at last, again (its owner, then its digest).
            Some(e) if e.id == *id => at.0,
            _ => self.slab.slot_near(at.0.saturating_add(1), id)?,
        };
        at.0 = slot;
        self.slab.get(slot)
    }

    /// The counters, read in O(1) (O(nodes) for the orphans).
    pub fn counters(&self) -> BlockCounters {
        BlockCounters {
            committed: self.committed,
            reported: self.reported_count,
            corrupt_replicas: self.corrupt_replicas,
            orphans: self.orphan_count(),
            held_orphans: self.orphans.values().map(|o| o.held()).sum(),
        }
    }

    /// The counters by a walk of everything (what they must equal).
    pub fn recount(&self) -> BlockCounters {
        let mut c = BlockCounters::default();
        for e in self.slab.entries() {
            if !e.has(flag::PENDING) {
                c.committed += 1;
            }
            if self.is_reported(e) {
                c.reported += 1;
            }
        }
        c.corrupt_replicas = self.corrupt.values().map(|m| m.len() as u64).sum();
        for o in self.orphans.values() {
            c.orphans += o.map.len() as u64;
            c.held_orphans += o.map.values().filter(|x| x.held.is_some()).count() as u64;
        }
        c
    }

    /// A committed block with a good replica on a registered node.
    fn is_reported(&self, e: &Entry) -> bool {
        !e.has(flag::PENDING) && ixs(e, &self.more).any(|k| self.nodes.is_registered(k))
    }

    fn reported_at(&self, slot: Slot) -> bool {
        self.slab.get(slot).is_some_and(|e| self.is_reported(e))
    }

    /// Adjusts the reported count after the block at `slot` was `was` reported.
    fn recount_reported(&mut self, slot: Slot, was: bool) {
        match (was, self.reported_at(slot)) {
            (false, true) => self.reported_count += 1,
            (true, false) => self.reported_count -= 1,
            _ => {}
        }
    }

    /// `node` registered since this start: its replicas count as reported
    /// from now on (once per node: O(its replicas)).
    pub fn note_registered(&mut self, node: NodeId) {
        if !self.registered.insert(node) {
            return;
        }
        // Counted before the node's flag is set: a block becomes reported
        // when no other replica of it was on a registered node.
        let mut newly = 0;
        for s in self.nodes.blocks_of(&node).into_iter().flatten() {
            let Some(e) = self.slab.get(s) else {
                continue;
            };
            if !e.has(flag::PENDING) && !self.is_reported(e) {
                newly += 1;
            }
        }
        self.nodes.set_registered(&node);
        self.reported_count += newly;
    }

    /// Is `node` among those [`Self::note_registered`] was told of?
    pub fn is_noted_registered(&self, node: &NodeId) -> bool {
        self.registered.contains(node)
    }

    /// Block `id`, as a copy (see [`BlockInfo`]).
    pub fn get(&self, id: &BlockId) -> Option<BlockInfo> {
        self.slab.get(self.slab.slot(id)?).map(|e| self.info(e))
    }

    /// Every node that may hold bytes of block `id`, each once: its
    /// replicas, the nodes that reported it while pending, then its
    /// pipeline targets.
    pub fn holders(&self, id: &BlockId) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = Vec::new();
        let meta = self.slab.slot(id).and_then(|s| self.record(s));
        let reported = self.reported.get(id).into_iter().flatten().map(|r| r.0);
        let (replicas, targets) = meta.map(|m| (m.replicas, m.targets)).unwrap_or_default();
        for n in replicas.into_iter().chain(reported).chain(targets) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }

    pub fn contains(&self, id: &BlockId) -> bool {
        self.slab.contains(id)
    }

    /// The digest of committed block `id` (`None`: unknown or not
    /// committed), without copying its replicas.
    pub fn sha256_of(&self, id: &BlockId) -> Option<Sha256Digest> {
        self.slab.get(self.slab.slot(id)?)?.sha256()
    }

    fn info(&self, e: &Entry) -> BlockInfo {
        BlockInfo {
            owner: self.owner(e),
            len: e.len,
            sha256: e.sha256(),
            replicas: ixs(e, &self.more)
                .filter_map(|k| self.nodes.id(k))
                .collect(),
        }
    }

    fn owner(&self, e: &Entry) -> BlockOwner {
        if e.has(flag::PENDING) {
            if let Some(f) = self.writes.get(&e.id).and_then(|w| w.file) {
                return BlockOwner::Pending(f);
            }
        }
        BlockOwner::File(e.inode)
    }

    /// The stored form of the entry at `slot`.
    fn record(&self, slot: Slot) -> Option<BlockMeta> {
        Some(self.record_of(self.slab.get(slot)?))
    }

    /// Every block in its stored form, in no particular order.
    pub fn for_each_record(&self, mut f: impl FnMut(BlockId, BlockMeta)) {
        for e in self.slab.entries() {
            f(e.id, self.record_of(e));
        }
    }

    fn record_of(&self, e: &Entry) -> BlockMeta {
        let info = self.info(e);
        let targets = if e.has(flag::WRITE) {
            self.writes
                .get(&e.id)
                .map(|w| w.targets.clone())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        BlockMeta {
            owner: info.owner,
            len: info.len,
            sha256: info.sha256,
            replicas: info.replicas.to_vec(),
            targets,
        }
    }

    /// Persists the entry at `slot` (replica locations included: see the
    /// module doc).
    fn persist(&self, slot: Slot, txn: &mut Txn) {
        if let Some(meta) = self.record(slot) {
            if let Some(e) = self.slab.get(slot) {
                txn.put_block(e.id, &meta);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.slab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    /// Every block (copies, see [`BlockInfo`]), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&BlockId, BlockInfo)> + '_ {
        self.slab.entries().iter().map(|e| (&e.id, self.info(e)))
    }

    /// Every block of a file in place (no copies), every `parts`-th entry
    /// from the `part`-th, for walks of the whole map that share it between
    /// threads: `f` gets its id, its file, what `weigh` says of each replica's
    /// node, and its count of corrupt replicas. Each node is weighed once
    /// per walk, not once per replica.
    pub fn for_each_committed<T: Copy>(
        &self,
        part: usize,
        parts: usize,
        weigh: impl Fn(&NodeId) -> T,
        mut f: impl FnMut(&BlockId, InodeId, &[T], usize),
    ) {
        let weights: Vec<Option<T>> = (0..=NodeIx::MAX)
            .map_while(|k| {
                self.nodes
                    .has_slot(k)
                    .then(|| self.nodes.id(k).map(|n| weigh(&n)))
            })
            .collect();
        let mut held: Vec<T> = Vec::new();
        for e in self.slab.entries().iter().skip(part).step_by(parts.max(1)) {
            let BlockOwner::File(inode) = self.owner(e) else {
                continue;
            };
            held.clear();
            held.extend(
                ixs(e, &self.more).filter_map(|k| weights.get(usize::from(k)).copied().flatten()),
            );
            let corrupt = self.corrupt_of(&e.id).map_or(0, |m| m.len());
            f(&e.id, inode, &held, corrupt);
        }
    }

    /// Every block id, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = &BlockId> + '_ {
        self.slab.entries().iter().map(|e| &e.id)
    }

    /// Replicas recorded on `node`.
    pub fn replica_count(&self, node: &NodeId) -> u64 {
        self.nodes.count(node) as u64
    }

    /// Blocks with a good replica recorded on `node`.
    pub fn blocks_on(&self, node: &NodeId) -> Vec<BlockId> {
        self.nodes
            .blocks_of(node)
            .map(|s| {
                s.iter()
                    .filter_map(|s| self.slab.get(s).map(|e| e.id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The corrupt replicas of `id`.
    pub fn corrupt_of(&self, id: &BlockId) -> Option<&HashMap<NodeId, CorruptReplica>> {
        self.corrupt.get(id).filter(|m| !m.is_empty())
    }

    /// Corrupt replicas known in all.
    pub fn corrupt_replica_count(&self) -> u64 {
        self.corrupt_replicas
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
        txn.put_block(id, &meta);
        self.set(id, meta);
    }

    /// Adds or replaces a block in memory, keeping index and counters.
    fn set(&mut self, id: BlockId, meta: BlockMeta) {
        self.take(&id);
        self.put_new(id, meta.into(), false);
    }

    /// [`BlockMap::set`] of a block not in the map; `deferred`: indexed
    /// later ([`Slab::push_deferred`], a load's).
    fn put_new(&mut self, id: BlockId, meta: BlockMetaIn, deferred: bool) {
        let mut e = Entry::new(id);
        e.len = meta.len;
        if let Some(sha) = meta.sha256 {
            e.sha256 = sha;
            e.flags |= flag::HAS_SHA;
        }
        let file = match meta.owner {
            BlockOwner::File(ino) => {
                e.inode = ino;
                None
            }
            BlockOwner::Pending(f) => {
                e.flags |= flag::PENDING;
                Some(f)
            }
        };
        if file.is_some() || !meta.targets.is_empty() {
            e.flags |= flag::WRITE;
            self.writes.insert(
                id,
                WriteInfo {
                    file,
                    targets: meta.targets,
                },
            );
        }
        let slot = if deferred {
            self.slab.push_deferred(e)
        } else {
            self.slab.push(e)
        };
        for n in meta.replicas {
            self.push_replica(slot, n);
        }
        let Some(e) = self.slab.get(slot) else {
            return;
        };
        if !e.has(flag::PENDING) {
            self.committed += 1;
        }
        if self.is_reported(e) {
            self.reported_count += 1;
        }
    }

    /// Adds `node` to the replicas of the entry at `slot` and to the node
    /// index; false if it was there already (or no index is left for a
    /// new node, which is logged).
    fn push_replica(&mut self, slot: Slot, node: NodeId) -> bool {
        let k = match self.nodes.ix(&node) {
            Some(k) => k,
            None => {
                let registered = self.registered.contains(&node);
                let Some(k) = self.nodes.intern(node, registered) else {
                    log::error!(
                        "block map: more than {} datanodes hold replicas; the replica on {node} is not recorded",
                        usize::from(NodeIx::MAX) + 1
                    );
                    return false;
                };
                k
            }
        };
        let Some(e) = self.slab.get_mut(slot) else {
            return false;
        };
        if ixs(e, &self.more).any(|x| x == k) {
            return false;
        }
        if usize::from(e.n) < table::INLINE && !e.has(flag::SPILLED) {
            if let Some(x) = e.replicas.get_mut(usize::from(e.n)) {
                *x = k;
            }
            e.n += 1;
        } else {
            self.more.entry(e.id).or_default().push(k);
            e.flags |= flag::SPILLED;
        }
        self.nodes.link(k, slot);
        true
    }

    /// Drops `node` from the replicas of the entry at `slot` and from the
    /// node index; false if it was not there.
    fn pull_replica(&mut self, slot: Slot, node: &NodeId) -> bool {
        let Some(k) = self.nodes.ix(node) else {
            return false;
        };
        let Some(e) = self.slab.get_mut(slot) else {
            return false;
        };
        let n = usize::from(e.n);
        if let Some(i) = e.inline().iter().position(|x| *x == k) {
            e.replicas.copy_within(i + 1..n, i);
            e.n -= 1;
            if e.has(flag::SPILLED) {
                // Keep the inline part full: the first spilled one moves in.
                let spill = self.more.get_mut(&e.id);
                if let Some(first) = spill.as_ref().and_then(|v| v.first().copied()) {
                    if let Some(x) = e.replicas.get_mut(usize::from(e.n)) {
                        *x = first;
                    }
                    e.n += 1;
                }
                if let Some(v) = spill {
                    if !v.is_empty() {
                        v.remove(0);
                    }
                    if v.is_empty() {
                        self.more.remove(&e.id);
                        e.flags &= !flag::SPILLED;
                    }
                } else {
                    e.flags &= !flag::SPILLED;
                }
            }
        } else {
            if !e.has(flag::SPILLED) {
                return false;
            }
            let Some(v) = self.more.get_mut(&e.id) else {
                return false;
            };
            let Some(i) = v.iter().position(|x| *x == k) else {
                return false;
            };
            v.remove(i);
            if v.is_empty() {
                self.more.remove(&e.id);
                e.flags &= !flag::SPILLED;
            }
        }
        self.nodes.unlink(k, slot);
        true
    }

    /// Takes block `id` out of memory (entry, index, side records) and
    /// out of the counters; returns its stored form.
    fn take(&mut self, id: &BlockId) -> Option<BlockMeta> {
        let slot = self.slab.slot(id)?;
        let meta = self.record(slot)?;
        if let Some(e) = self.slab.get(slot) {
            if !e.has(flag::PENDING) {
                self.committed -= 1;
            }
            if self.is_reported(e) {
                self.reported_count -= 1;
            }
            let spilled = if e.has(flag::SPILLED) {
                self.more.remove(id).unwrap_or_default()
            } else {
                Vec::new()
            };
            for k in e.inline().iter().chain(&spilled) {
                self.nodes.unlink(*k, slot);
            }
            if e.has(flag::WRITE) {
                self.writes.remove(id);
            }
        }
        if let Some((_, Some(last))) = self.slab.swap_remove(slot) {
            // The last entry now lives at `slot`: re-point its node sets.
            if let Some(e) = self.slab.get(slot) {
                for k in ixs(e, &self.more) {
                    self.nodes.relink(k, last, slot);
                }
            }
        }
        Some(meta)
    }

    /// Forgets a block; returns every node that may hold bytes of it
    /// (replicas, pipeline targets, reported and corrupt copies), for
    /// deletion.
    pub fn remove(&mut self, id: BlockId, txn: &mut Txn) -> Vec<NodeId> {
        let mut holders = Vec::new();
        if let Some(meta) = self.take(&id) {
            self.removed.add(id);
            // Its health no longer counts anywhere.
            self.events.touched.insert(id);
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
            self.corrupt_replicas -= c.len() as u64;
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

    /// Committed block `id` now belongs to file `inode` (a concat moves
    /// blocks between files); false for an unknown or pending block.
    pub fn set_owner(&mut self, id: BlockId, inode: InodeId, txn: &mut Txn) -> bool {
        let Some(slot) = self.slab.slot(&id) else {
            return false;
        };
        let Some(e) = self.slab.get_mut(slot) else {
            return false;
        };
        if e.has(flag::PENDING) {
            return false;
        }
        e.inode = inode;
        if let Some(meta) = self.record(slot) {
            txn.put_block(id, &meta);
        }
        true
    }

    /// Records that `node` holds a good replica of a known block.
    pub fn add_replica(&mut self, id: BlockId, node: NodeId, now: Instant, txn: &mut Txn) -> bool {
        match self.slab.slot(&id) {
            Some(slot) => self.add_at(slot, id, node, now, txn),
            None => false,
        }
    }

    /// [`Self::add_replica`] for the block at `slot`.
    fn add_at(
        &mut self,
        slot: Slot,
        id: BlockId,
        node: NodeId,
        now: Instant,
        txn: &mut Txn,
    ) -> bool {
        // Already recorded (what most reports say): compared without
        // hashing the node id.
        if let Some(e) = self.slab.get(slot) {
            if ixs(e, &self.more).any(|k| self.nodes.id(k) == Some(node)) {
                return false;
            }
        }
        let was = self.reported_at(slot);
        if !self.push_replica(slot, node) {
            return false;
        }
        self.persist(slot, txn);
        self.recount_reported(slot, was);
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
        let Some(slot) = self.slab.slot(&id) else {
            return false;
        };
        let was = self.reported_at(slot);
        if !self.pull_replica(slot, &node) {
            return false;
        }
        self.persist(slot, txn);
        self.recount_reported(slot, was);
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
        let Some(e) = self.slab.slot(&id).and_then(|s| self.slab.get(s)) else {
            return false;
        };
        if e.has(flag::PENDING) {
            if let Some(rep) = self.reported.get_mut(&id) {
                rep.retain(|(n, _, _)| *n != node);
            }
            return false;
        }
        self.remove_replica(id, node, txn);
        let entries = self.corrupt.entry(id).or_default();
        if let std::collections::hash_map::Entry::Vacant(v) = entries.entry(node) {
            v.insert(CorruptReplica {
                reason: reason.to_string(),
                delete_sent: false,
            });
            self.corrupt_replicas += 1;
        }
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
        if let Some(slot) = self.slab.slot(&id) {
            let was = self.reported_at(slot);
            if self.pull_replica(slot, &node) {
                self.persist(slot, txn);
                // One replica fewer: its health may have changed.
                self.events.touched.insert(id);
            }
            self.recount_reported(slot, was);
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
            if m.remove(&node).is_some() {
                self.corrupt_replicas -= 1;
                // One corrupt replica fewer: a block with no good one left
                // turns from corrupt to missing.
                self.events.touched.insert(id);
            }
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
        let found = self.slab.slot(&rb.id);
        self.on_reported_at(node, rb, found, kind, None, now, txn)
    }

    /// [`Self::on_reported`] for a block found at `found` (`None`: not
    /// known), holding an unknown replica for `hold`.
    #[allow(clippy::too_many_arguments)]
    fn on_reported_at(
        &mut self,
        node: NodeId,
        rb: &ReportedBlock,
        found: Option<Slot>,
        kind: ReportKind,
        hold: Option<HoldReason>,
        now: Instant,
        txn: &mut Txn,
    ) -> ReportOutcome {
        let Some((slot, meta)) = found.and_then(|s| Some((s, self.slab.get(s)?))) else {
            let held = if self.hold_all {
                Some(HoldReason::Restored)
            } else {
                hold
            };
            let removed = self.removed.contains(&rb.id);
            let set = self.orphans.entry(node).or_default();
            if !set.map.contains_key(&rb.id) {
                set.insert(
                    rb.id,
                    Orphan {
                        first_seen: now,
                        held: None,
                        removed,
                    },
                );
            }
            if let Some(r) = held {
                set.hold(&rb.id, r);
            }
            return ReportOutcome::Kept;
        };
        if meta.has(flag::PENDING) {
            let rep = self.reported.entry(rb.id).or_default();
            rep.retain(|(n, _, _)| *n != node);
            rep.push((node, rb.len, rb.sha256));
            return ReportOutcome::Kept;
        }
        let matches = meta.len == rb.len && meta.sha256() == Some(rb.sha256);
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
            self.add_at(slot, rb.id, node, now, txn);
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
        // What the report lists: known blocks as a bit per slot (slots do
        // not move during a report: nothing here removes an entry), the
        // rest by id.
        let mut seen_slots = vec![0u64; self.slab.len().div_ceil(64)];
        let mut seen_other = HashSet::new();
        let hold = registration.then_some(HoldReason::Registration);
        for rb in blocks {
            let found = self.slab.slot(&rb.id);
            match found {
                Some(s) => set_bit(&mut seen_slots, s),
                None => {
                    seen_other.insert(rb.id);
                }
            }
            if self.on_reported_at(node, rb, found, ReportKind::Full, hold, now, txn)
                == ReportOutcome::Delete
            {
                delete.push(rb.id);
            }
        }
        let slab = &self.slab;
        let recorded: Vec<BlockId> = self
            .nodes
            .blocks_of(&node)
            .map(|set| {
                set.iter()
                    .filter(|s| !has_bit(&seen_slots, *s))
                    .filter_map(|s| slab.get(s).map(|e| e.id))
                    .collect()
            })
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
        let slab = &self.slab;
        let seen = |b: &BlockId| match slab.slot(b) {
            Some(s) => has_bit(&seen_slots, s),
            None => seen_other.contains(b),
        };
        // What the node no longer has needs no deleting and is no longer corrupt.
        let gone_corrupt: Vec<BlockId> = self
            .corrupt
            .iter()
            .filter(|(b, m)| m.contains_key(&node) && !seen(b))
            .map(|(b, _)| *b)
            .collect();
        if let Some(s) = self.invalidated.get_mut(&node) {
            s.retain(|b| seen(b));
        }
        if let Some(o) = self.orphans.get_mut(&node) {
            o.retain(|b, _| seen(b));
        }
        for b in gone_corrupt {
            self.forget_aux(b, node);
            self.events.touched.insert(b);
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
            o.retain(|b, _| !self.slab.contains(b));
            // Late replicas of blocks removed here go at once, and do not
            // count towards the share.
            o.retain(|b, x| {
                if x.removed && x.held.is_none() {
                    out.push((*node, *b));
                    return false;
                }
                true
            });
            let waiting = o.len() as u64 - o.held();
            let known = self.nodes.count(node) as u64;
            if waiting > orphan_share_limit(known) {
                log::warn!(
                    "datanode {node} holds {waiting} replicas of unknown blocks beside {known} known ones: \
                     held until an operator decides (dfs orphans delete)"
                );
                o.hold_all(HoldReason::Share);
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
            .flat_map(|(n, o)| o.map.into_keys().map(move |b| (n, b)))
            .filter(|(_, b)| !self.slab.contains(b))
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
            if self.slab.contains(&id) {
                continue;
            }
            self.forget_aux(id, node);
            self.orphans.entry(node).or_default().insert(
                id,
                Orphan {
                    first_seen: now,
                    held: Some(HoldReason::Restored),
                    removed: false,
                },
            );
        }
    }

    /// Holds every unknown replica (the metadata was restored).
    pub fn set_hold_all(&mut self, hold: bool) {
        self.hold_all = hold;
        if hold {
            for o in self.orphans.values_mut() {
                o.hold_all(HoldReason::Restored);
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
            let held = o.held();
            for r in o.reasons() {
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
}

#[cfg(test)]
impl BlockMap {
    /// Panics unless the compact form is consistent (the invariants in
    /// [`table`]) and the counters equal a walk.
    pub(crate) fn check_index(&self) {
        assert!(self.slab.index_is_exact(), "index against slab");
        let mut from_entries = HashSet::new();
        let (mut spilled, mut writes) = (0, 0);
        for (s, e) in self.slab.entries().iter().enumerate() {
            let more = self.more.get(&e.id);
            assert_eq!(e.has(flag::SPILLED), more.is_some(), "{e:?}");
            if let Some(v) = more {
                spilled += 1;
                assert_eq!(usize::from(e.n), table::INLINE, "inline full first");
                assert!(!v.is_empty());
            }
            for k in ixs(e, &self.more) {
                assert!(
                    from_entries.insert((k, s as Slot)),
                    "a replica twice: {e:?}"
                );
            }
            let w = self.writes.get(&e.id);
            assert_eq!(e.has(flag::WRITE), w.is_some());
            writes += usize::from(w.is_some());
            assert_eq!(e.has(flag::PENDING), w.is_some_and(|w| w.file.is_some()));
        }
        assert_eq!((self.more.len(), self.writes.len()), (spilled, writes));
        let mut from_nodes = HashSet::new();
        for (k, set) in self.nodes.all() {
            assert!(!set.is_empty(), "a node with no replica is forgotten");
            let id = self.nodes.id(k).unwrap();
            assert_eq!(self.nodes.ix(&id), Some(k));
            assert_eq!(self.nodes.is_registered(k), self.registered.contains(&id));
            from_nodes.extend(set.iter().map(|s| (k, s)));
        }
        assert_eq!(from_entries, from_nodes, "node sets against entries");
        assert_eq!(self.counters(), self.recount());
    }
}

#[cfg(test)]
mod tests;
