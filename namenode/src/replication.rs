//! The replication monitor (HDFS RedundancyMonitor with LowRedundancyBlocks
//! and PendingReconstructionBlocks, plus excess-replica removal and the
//! DatanodeAdminManager's drain check): it keeps every block at its file's
//! replication.
//!
//! Shape: a *needed* set of blocks to look at, fed by events (a node died,
//! a replica was lost or found corrupt, a write completed short, setrep, a
//! node came back or changed admin state, a copy timed out) and by a
//! periodic full rescan that is only a safety net. Each tick (about every
//! second) examines the needed blocks, most urgent first (fewest live
//! replicas), and for each one either:
//! - drops it (healthy, or no longer exists),
//! - schedules a copy: a source among the live holders, targets from
//!   [`placement::choose_more_targets`] excluding every holder (good,
//!   corrupt, being deleted) and preferring racks the block is not on, a
//!   `Command::Replicate` on the source's heartbeat queue, and a *pending*
//!   entry with a deadline; at most `max_streams` copies per node as source
//!   and as target, so repair never starves clients,
//! - for a block with enough replicas on too few racks (mis-replicated, see
//!   [`placement::is_mis_replicated`]), schedules one copy to a node on a
//!   rack it is not on (HDFS's way: add first; the excess that makes is
//!   then trimmed from a rack with several, so the block never drops below
//!   its replication),
//! - deletes excess replicas (more live replicas than wanted: keep the
//!   ones placement ranks highest, which cover as many racks as they can),
//!   never while a copy is pending,
//! - deletes corrupt replicas once a good replica is live elsewhere,
//! - or keeps it queued (no source, no target, throttled).
//!
//! A pending copy ends when the target reports the replica (it then counts
//! as completed), when its source loses the replica or dies (queued
//! again), or at its deadline (counted as timed out, queued again).
//!
//! Source choice: the least busy live holder; on a tie a decommissioning
//! node is preferred, as HDFS does (it takes no client writes), so a drain
//! spreads over every holder rather than queueing behind one node.
//!
//! The same events keep the cluster's block-health numbers
//! ([`HealthTally`]): every block enqueued or touched is also marked for the
//! tally, which the namesystem settles when it publishes the counters after
//! a change ([`ReplicationQueues::health_counts`]) and the monitor's worker
//! settles every period, safe mode or not; it is built at load, and the
//! safety-net rescan rebuilds it.
//!
//! What it does not do: run while the namenode is in safe mode (the
//! namesystem skips the tick), touch the store (changes go through the caller's
//! `Txn`), or talk to datanodes (commands are returned to the caller).
//! The decisions ([`priority`], [`choose_source`], [`choose_excess`],
//! [`decommission_sufficient`]) are pure and unit-tested; [`tick`] wires them
//! to the namespace and is tested through the namesystem; the worker that
//! runs a tick every period is `replication_monitor`.
pub mod balancing;

use crate::blocks::BlockEvents;
use crate::datanodes::{NodeClass, NodeView};
use crate::health::{
    block_health, count_classes, count_replicas, HealthCounts, HealthTally, ReplicaCounts,
};
use crate::meta_store::Txn;
use crate::namespace::{Deletions, Namespace};
use crate::placement::{self, Candidate};
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::proto::client::{BlockHealth, ReplicationProgress};
use dfs_common::proto::datanode::Command;
use dfs_common::proto::DatanodeInfo;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// Blocks from which the tally's first build is shared between threads.
const PARALLEL_HEALTH_FROM: usize = 100_000;
/// Blocks the rescan looks at per tick: about 50 ms under the lock; a pass
/// over 10 M blocks then takes some 200 ticks.
pub const RESCAN_CHUNK: usize = 50_000;
/// The safety-net rescan of every block (events do the real work).
pub const RESCAN_PERIOD: Duration = Duration::from_secs(120);
/// The window of the repair-rate figure.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// The monitor's settings (from `Config`).
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub max_streams: u32,
    pub pending_timeout: Duration,
    pub orphan_grace: Duration,
    pub race_bound: Duration,
    /// Blocks the safety-net rescan looks at in one tick
    /// ([`RESCAN_CHUNK`]): the tick holds the namespace lock, so a pass
    /// over a large map is spread over many ticks.
    pub rescan_chunk: usize,
}

// ----- pure decisions -----

/// Sort key of a block needing copies: lower goes first. Blocks that have
/// data somewhere (a source) come before those with none (they cannot be
/// repaired until a node comes back), then fewest live replicas first
/// (a block with 1 live replica before one with 2; only decommissioning
/// replicas left counts as 0), then the most copies missing.
pub fn priority(c: &ReplicaCounts, expected: u16) -> (bool, u32, std::cmp::Reverse<u32>) {
    let missing = u32::from(expected).saturating_sub(c.live);
    (c.live + c.retiring == 0, c.live, std::cmp::Reverse(missing))
}

/// A holder that could send a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceCandidate {
    pub id: NodeId,
    /// Decommissioning or decommissioned.
    pub retiring: bool,
    /// Copies it is sending now.
    pub in_flight: u32,
}

/// The least busy candidate under `max_streams`; ties go to a retiring
/// node, then to the lowest id (deterministic).
pub fn choose_source(cands: &[SourceCandidate], max_streams: u32) -> Option<NodeId> {
    cands
        .iter()
        .filter(|c| c.in_flight < max_streams)
        .min_by_key(|c| (c.in_flight, !c.retiring, c.id))
        .map(|c| c.id)
}

/// Which of `holders` (live, normal nodes with a good replica) to delete so
/// that `keep` remain: all but the `keep` placement ranks highest. Never
/// all of them: at least one is kept.
pub fn choose_excess(block: BlockId, holders: &[Candidate], keep: usize) -> Vec<NodeId> {
    let ranked = placement::rank_holders(block, holders);
    ranked.into_iter().skip(keep.max(1)).collect()
}

/// Would stopping `node` for maintenance leave a block with replicas on
/// `replicas` without a live replica on a node out of maintenance? True
/// when `node` holds a replica and no other holder is live (retiring or
/// not) and out of maintenance: entering maintenance is refused then, as
/// such a block's replicas on nodes in maintenance would not count once
/// they stop (see `health`).
pub fn sole_live_replica(replicas: &[NodeId], node: &NodeId, view: &NodeView) -> bool {
    replicas.contains(node)
        && !replicas.iter().filter(|n| *n != node).any(|n| {
            view.nodes.get(n).is_some_and(|s| {
                matches!(s.class, NodeClass::Live | NodeClass::LiveRetiring) && !s.maintenance
            })
        })
}

/// Is a block on a decommissioning node safe without it? Only once its
/// full replication lives on normal nodes (never fewer than one). Too few
/// normal nodes to hold that many (3 nodes, one leaving, replication 3)
/// is no excuse: the leaving node's copy is one of those the block needs,
/// so the node stays decommissioning (not safe to stop) until another
/// datanode joins, as HDFS's decommission does.
pub fn decommission_sufficient(live: u32, expected: u16) -> bool {
    live >= u32::from(expected).max(1)
}

// ----- the queues -----

/// A copy scheduled on a datanode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCopy {
    pub source: NodeId,
    /// Targets that have not reported the replica yet.
    pub targets: Vec<NodeId>,
    pub deadline: Instant,
    pub len: u64,
}

#[derive(Debug, Default)]
struct Stats {
    completed_copies: u64,
    completed_bytes: u64,
    timed_out_copies: u64,
    excess_deleted: u64,
    recent: VecDeque<(Instant, u64)>,
    /// Gauges from the last tick.
    queued_blocks: u64,
    queued_bytes: u64,
}

/// Needed + pending + progress (memory only: after a restart, safe mode
/// and the rescan that follows it rebuild the needed set).
#[derive(Debug, Default)]
pub struct ReplicationQueues {
    needed: HashSet<BlockId>,
    pending: HashMap<BlockId, PendingCopy>,
    stats: Stats,
    decom_remaining: HashMap<NodeId, u64>,
    last_rescan: Option<Instant>,
    started: Option<Instant>,
    rescan_requested: bool,
    /// The rescan pass under way: where in the block map it goes on, and
    /// what it has found so far.
    rescan_at: Option<usize>,
    rescan_found: usize,
    /// Block health for the summary (see the module doc).
    health: HealthTally,
    /// The balancer's moves and figures (leader memory; the run itself is
    /// replicated).
    pub balancer: crate::replication::balancing::Balancing,
}

impl ReplicationQueues {
    pub fn new(now: Instant) -> Self {
        ReplicationQueues {
            started: Some(now),
            last_rescan: Some(now),
            ..Default::default()
        }
    }

    /// Blocks to look at on the next tick.
    pub fn enqueue(&mut self, blocks: impl IntoIterator<Item = BlockId>) {
        for b in blocks {
            self.needed.insert(b);
            self.health.mark([b]);
        }
    }

    /// The block-health numbers, settled first. Settles the dirty blocks
    /// when there are at most `limit` (more, after a node with many blocks
    /// died, are left to the worker's [`Self::take_dirty_health`] pass, so
    /// a change never pays for a large one), and builds the tally if
    /// nothing has yet (one walk).
    pub fn health_counts(&mut self, ns: &Namespace, view: &NodeView, limit: usize) -> HealthCounts {
        if !self.health.is_built() {
            self.rebuild_health(ns, view);
        } else if self.health.dirty_len() <= limit {
            self.health.settle_dirty(|id| ns.block_health(id, view));
        }
        self.health.counts()
    }

    /// Blocks whose health may have changed since they were last settled.
    pub fn dirty_health_len(&self) -> usize {
        self.health.dirty_len()
    }

    /// The block-health numbers as last settled (no settling).
    pub fn settled_health(&self) -> HealthCounts {
        self.health.counts()
    }

    /// Looks at every committed block's health (the tally's first build).
    /// A large map is walked on every core: this runs at startup, between
    /// the load and the first answer, when nothing else wants the CPU.
    pub fn rebuild_health(&mut self, ns: &Namespace, view: &NodeView) {
        let parts = if ns.blocks().len() < PARALLEL_HEALTH_FROM {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
        };
        self.rebuild_health_in(ns, view, parts);
    }

    /// [`Self::rebuild_health`] on `parts` threads.
    fn rebuild_health_in(&mut self, ns: &Namespace, view: &NodeView, parts: usize) {
        let parts = parts.max(1);
        // Part `k` of `parts`: every `parts`-th block from the `k`-th; only
        // the unhealthy ones are kept.
        let walk = |k: usize| -> Vec<(BlockId, BlockHealth)> {
            let mut unhealthy = Vec::new();
            let mut at = 0;
            ns.blocks().for_each_committed(
                k,
                parts,
                |n| view.class(n),
                |id, inode, classes, corrupt| {
                    let Some(expected) = ns.file_replication_near(inode, &mut at) else {
                        return;
                    };
                    let h =
                        block_health(&count_classes(classes.iter().copied(), corrupt), expected);
                    if h != BlockHealth::Healthy {
                        unhealthy.push((*id, h));
                    }
                },
            );
            unhealthy
        };
        if parts == 1 {
            self.health.rebuild(walk(0));
            return;
        }
        let found: Vec<Vec<(BlockId, BlockHealth)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..parts).map(|k| s.spawn(move || walk(k))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        self.health.rebuild(found.into_iter().flatten());
    }

    pub fn health_is_built(&self) -> bool {
        self.health.is_built()
    }

    /// The blocks whose health is to be settled, handed to the worker
    /// (which settles them in chunks with [`Self::settle_health`]).
    pub fn take_dirty_health(&mut self) -> Vec<BlockId> {
        self.health.take_dirty()
    }

    /// Settles `blocks` against `view`.
    pub fn settle_health(&mut self, blocks: &[BlockId], ns: &Namespace, view: &NodeView) {
        for id in blocks {
            self.health.settle(*id, ns.block_health(id, view));
        }
    }

    /// Look at every block on the next tick (leaving safe mode).
    pub fn request_rescan(&mut self) {
        self.rescan_requested = true;
    }

    pub fn is_pending(&self, b: &BlockId) -> bool {
        self.pending.contains_key(b)
    }

    /// Records a copy scheduled by someone else (the balancer), so that its
    /// block is left alone (no copy, no trimming) until it lands or times
    /// out, and it counts toward the per-node stream limits.
    pub fn add_pending(&mut self, b: BlockId, copy: PendingCopy) {
        self.pending.insert(b, copy);
    }

    /// Takes in what the block map recorded: changed blocks are looked at,
    /// arrived replicas complete pending copies, lost ones cancel copies
    /// from them.
    pub fn absorb(&mut self, ev: BlockEvents, now: Instant) {
        self.health.mark(ev.touched.iter().copied());
        self.needed.extend(ev.touched);
        for (b, n) in ev.arrived {
            let Some(p) = self.pending.get_mut(&b) else {
                continue;
            };
            let before = p.targets.len();
            p.targets.retain(|t| *t != n);
            // A balancer move is not a repair: its copies are the balancer's
            // figures, not the repair rate and ETA.
            if p.targets.len() < before && !self.balancer.is_moving(&b) {
                self.stats.completed_copies += 1;
                self.stats.completed_bytes += p.len;
                self.stats.recent.push_back((now, p.len));
            }
            if p.targets.is_empty() {
                self.pending.remove(&b);
            }
        }
        for (b, n) in ev.lost {
            if self.pending.get(&b).is_some_and(|p| p.source == n) {
                self.pending.remove(&b);
                self.needed.insert(b);
            }
        }
    }

    /// A node died: copies from or to it will not finish; look at their
    /// blocks again now rather than at the deadline.
    pub fn node_lost(&mut self, node: &NodeId) {
        let gone: Vec<BlockId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.source == *node || p.targets.contains(node))
            .map(|(b, _)| *b)
            .collect();
        for b in gone {
            self.pending.remove(&b);
            self.needed.insert(b);
        }
    }

    /// Copies each node is (sending, receiving).
    pub fn in_flight(&self) -> HashMap<NodeId, (u32, u32)> {
        let mut m: HashMap<NodeId, (u32, u32)> = HashMap::new();
        for p in self.pending.values() {
            m.entry(p.source).or_default().0 += 1;
            for t in &p.targets {
                m.entry(*t).or_default().1 += 1;
            }
        }
        m
    }

    /// Blocks on a decommissioning node still lacking replicas elsewhere
    /// (as of the last tick).
    pub fn decommission_remaining(&self, node: &NodeId) -> u64 {
        self.decom_remaining.get(node).copied().unwrap_or(0)
    }

    /// The numbers for `ClusterSummary.replication`.
    pub fn progress(&self, now: Instant) -> ReplicationProgress {
        let cutoff = now.checked_sub(RATE_WINDOW);
        let recent: u64 = self
            .stats
            .recent
            .iter()
            .filter(|(t, _)| cutoff.is_none_or(|c| *t >= c))
            .map(|(_, b)| *b)
            .sum();
        let up = self
            .started
            .map_or(RATE_WINDOW, |s| now.saturating_duration_since(s))
            .clamp(Duration::from_secs(1), RATE_WINDOW);
        let pending_copies: u64 = self.pending.values().map(|p| p.targets.len() as u64).sum();
        let pending_bytes: u64 = self
            .pending
            .values()
            .map(|p| p.len * p.targets.len() as u64)
            .sum();
        ReplicationProgress {
            queued_blocks: self.stats.queued_blocks,
            pending_copies,
            remaining_bytes: self.stats.queued_bytes + pending_bytes,
            completed_copies: self.stats.completed_copies,
            completed_bytes: self.stats.completed_bytes,
            timed_out_copies: self.stats.timed_out_copies,
            bytes_per_sec: recent as f64 / up.as_secs_f64(),
            excess_deleted: self.stats.excess_deleted,
        }
    }
}

/// What a tick hands back to the namesystem to act on.
#[derive(Debug, Default)]
pub struct TickOutput {
    /// `Replicate` commands for the source's next heartbeat.
    pub replicate: Vec<(NodeId, Command)>,
    /// Decommissioning nodes now drained.
    pub decommissioned: Vec<NodeId>,
}

/// One needed block, as examined.
struct Examined {
    id: BlockId,
    len: u64,
    sha256: Sha256Digest,
    expected: u16,
    replicas: Vec<NodeId>,
    counts: ReplicaCounts,
    /// Enough replicas, too few racks: one copy to a rack it is not on
    /// (the excess it makes is trimmed from a rack with several).
    misplaced: bool,
}

/// One pass of the monitor over the needed blocks (see the module doc).
/// Replica removals go into `txn`, deletions into `dels`; commands come
/// back in the output. Call with the namespace locked, outside safe mode.
pub fn tick(
    ns: &mut Namespace,
    q: &mut ReplicationQueues,
    view: &NodeView,
    now: Instant,
    s: &Settings,
    txn: &mut Txn,
    dels: &mut Deletions,
) -> TickOutput {
    let mut out = TickOutput::default();
    q.absorb(ns.take_block_events(), now);
    let cutoff = now.checked_sub(RATE_WINDOW);
    while q
        .stats
        .recent
        .front()
        .is_some_and(|(t, _)| cutoff.is_some_and(|c| *t < c))
    {
        q.stats.recent.pop_front();
    }

    // Copies past their deadline go back to the queue.
    let expired: Vec<BlockId> = q
        .pending
        .iter()
        .filter(|(_, p)| p.deadline <= now)
        .map(|(b, _)| *b)
        .collect();
    for b in expired {
        if let Some(p) = q.pending.remove(&b) {
            log::warn!(
                "copy of block {b} from {} to {:?} timed out; queued again",
                p.source,
                p.targets
            );
            q.stats.timed_out_copies += p.targets.len() as u64;
            q.needed.insert(b);
        }
    }

    // The safety net: a pass over every block, `rescan_chunk` a tick.
    // Each block's health is settled as it is looked at; the map can change
    // between ticks, and a block moved behind the cursor is looked at by
    // the next pass (events cover it meanwhile).
    let rescan_due = q
        .last_rescan
        .is_none_or(|t| now.saturating_duration_since(t) >= RESCAN_PERIOD);
    if q.rescan_requested || (q.rescan_at.is_none() && rescan_due) {
        q.rescan_requested = false;
        q.last_rescan = Some(now);
        q.rescan_at = Some(0);
        q.rescan_found = 0;
    }
    let live_racks = view.live_racks();
    if let Some(start) = q.rescan_at {
        let chunk = s.rescan_chunk.max(1);
        let ids: Vec<BlockId> = ns.blocks().ids().skip(start).take(chunk).copied().collect();
        for id in &ids {
            let health = ns.block_health(id, view);
            q.health.settle(*id, health);
            let corrupt = ns.blocks().corrupt_of(id).is_some_and(|m| !m.is_empty());
            let attention = corrupt
                || health.is_some_and(|h| h != BlockHealth::Healthy)
                || ns.is_mis_replicated(id, view, live_racks);
            if attention && q.needed.insert(*id) {
                q.rescan_found += 1;
            }
        }
        if ids.len() < chunk {
            // The pass is over: the tally forgets blocks no longer known.
            q.health.forget_unknown(|id| ns.blocks().contains(id));
            q.rescan_at = None;
            if q.rescan_found > 0 {
                log::info!(
                    "replication rescan found {} blocks needing work",
                    q.rescan_found
                );
            }
        } else {
            q.rescan_at = Some(start + ids.len());
        }
    }

    // Replicas of no block, past their grace.
    let orphans = ns.sweep_orphans(now, s.orphan_grace);
    if !orphans.is_empty() {
        log::info!("deleting {} replicas that belong to no file", orphans.len());
    }
    dels.extend(orphans);
    ns.prune_recent_deletions(now, s.race_bound);

    // Look at every needed block.
    let mut work: Vec<Examined> = Vec::new();
    let mut keep: HashSet<BlockId> = HashSet::new();
    let needed: Vec<BlockId> = q.needed.drain().collect();
    for id in needed {
        let Some(meta) = ns.blocks().get(&id) else {
            continue;
        };
        let Some(expected) = ns.expected_replication(&meta) else {
            continue;
        };
        let Some(sha256) = meta.sha256 else {
            continue;
        };
        let replicas = meta.replicas.to_vec();
        let len = meta.len;
        let corrupt: Vec<(NodeId, bool)> = ns
            .blocks()
            .corrupt_of(&id)
            .map(|m| m.iter().map(|(n, c)| (*n, c.delete_sent)).collect())
            .unwrap_or_default();
        let counts = count_replicas(&replicas, corrupt.len(), view);
        let readable = replicas
            .iter()
            .filter(|n| matches!(view.class(n), NodeClass::Live | NodeClass::LiveRetiring))
            .count();

        // Corrupt replicas go once good data is live elsewhere.
        if readable > 0 {
            for (n, sent) in &corrupt {
                if !sent && view.class(n) != NodeClass::Gone {
                    dels.push((*n, id));
                    ns.corrupt_delete_sent(&id, n);
                    log::info!("deleting corrupt replica of block {id} on {n}");
                }
            }
        }
        if q.pending.contains_key(&id) {
            // Its completion or timeout brings it back.
            continue;
        }
        let presumed = || {
            replicas
                .iter()
                .any(|n| matches!(view.class(n), NodeClass::Presumed | NodeClass::Maintenance))
        };
        match block_health(&counts, expected) {
            BlockHealth::Healthy if live_racks > 1 => {
                let racks = view.live_replica_racks(&replicas);
                if placement::is_mis_replicated(racks, expected, live_racks) && !presumed() {
                    work.push(Examined {
                        id,
                        len,
                        sha256,
                        expected,
                        replicas,
                        counts,
                        misplaced: true,
                    });
                }
            }
            BlockHealth::Healthy => {}
            BlockHealth::OverReplicated => {
                if presumed() {
                    // Not sure yet which replicas are really there.
                    keep.insert(id);
                    continue;
                }
                let live: Vec<Candidate> = replicas
                    .iter()
                    .filter(|n| view.class(n) == NodeClass::Live)
                    .map(|n| Candidate {
                        id: *n,
                        available: view.nodes.get(n).map_or(0, |s| s.available),
                        rack: view.rack(n),
                    })
                    .collect();
                for n in choose_excess(id, &live, usize::from(expected)) {
                    log::info!("deleting excess replica of block {id} on {n}");
                    ns.invalidate_replica(id, n, txn);
                    dels.push((n, id));
                    q.stats.excess_deleted += 1;
                }
            }
            BlockHealth::UnderReplicated | BlockHealth::Missing | BlockHealth::Corrupt => {
                work.push(Examined {
                    id,
                    len,
                    sha256,
                    expected,
                    replicas,
                    counts,
                    misplaced: false,
                });
            }
        }
    }

    // Schedule copies, most urgent first, within the per-node limits.
    work.sort_by_key(|w| (priority(&w.counts, w.expected), w.id));
    let mut flight = q.in_flight();
    let all_targets = view.targets();
    let (mut queued_blocks, mut queued_bytes) = (0u64, 0u64);
    for w in work {
        let missing = if w.misplaced {
            1
        } else {
            u32::from(w.expected).saturating_sub(w.counts.live)
        };
        let requeue = |q: &mut ReplicationQueues, qb: &mut u64, qy: &mut u64| {
            q.needed.insert(w.id);
            *qb += 1;
            *qy += w.len * u64::from(missing);
        };
        let sources: Vec<SourceCandidate> = w
            .replicas
            .iter()
            .filter_map(|n| {
                let retiring = match view.class(n) {
                    NodeClass::Live => false,
                    NodeClass::LiveRetiring => true,
                    _ => return None,
                };
                if ns.blocks().is_invalidated(&w.id, n) {
                    return None;
                }
                Some(SourceCandidate {
                    id: *n,
                    retiring,
                    in_flight: flight.get(n).map_or(0, |f| f.0),
                })
            })
            .collect();
        let Some(source) = choose_source(&sources, s.max_streams) else {
            requeue(q, &mut queued_blocks, &mut queued_bytes);
            continue;
        };
        let mut exclude: Vec<NodeId> = w.replicas.clone();
        if let Some(c) = ns.blocks().corrupt_of(&w.id) {
            exclude.extend(c.keys().copied());
        }
        exclude.extend(ns.blocks().invalidated_holders(&w.id));
        let used_racks = view.live_replica_racks(&w.replicas);
        let cands: Vec<Candidate> = all_targets
            .iter()
            .filter(|c| flight.get(&c.id).map_or(0, |f| f.1) < s.max_streams)
            // A copy made for the racks' sake goes to a new rack or nowhere.
            .filter(|c| !w.misplaced || !used_racks.contains(&c.rack))
            .copied()
            .collect();
        let targets = placement::choose_more_targets(
            w.id,
            missing as usize,
            &cands,
            &exclude,
            w.len.max(1),
            &used_racks,
        );
        if targets.is_empty() {
            requeue(q, &mut queued_blocks, &mut queued_bytes);
            continue;
        }
        flight.entry(source).or_default().0 += 1;
        for t in &targets {
            flight.entry(*t).or_default().1 += 1;
        }
        let infos: Vec<DatanodeInfo> = targets
            .iter()
            .map(|t| DatanodeInfo {
                id: *t,
                addr: view.addr(t).unwrap_or_default().to_string(),
            })
            .collect();
        log::info!(
            "copying block {} ({} bytes, {} of {} live{}) from {source} to {:?}",
            w.id,
            w.len,
            w.counts.live,
            w.expected,
            if w.misplaced { ", too few racks" } else { "" },
            targets
        );
        out.replicate.push((
            source,
            Command::Replicate {
                block_id: w.id,
                len: w.len,
                sha256: w.sha256,
                targets: infos,
            },
        ));
        let short = missing as usize - targets.len().min(missing as usize);
        q.pending.insert(
            w.id,
            PendingCopy {
                source,
                targets,
                deadline: now + s.pending_timeout,
                len: w.len,
            },
        );
        if short > 0 {
            // The rest once this copy lands (its arrival re-queues it).
            queued_bytes += w.len * short as u64;
        }
    }
    q.needed.extend(keep);
    q.stats.queued_blocks = queued_blocks;
    q.stats.queued_bytes = queued_bytes;

    // Decommissioning nodes: drained when every block is safe elsewhere.
    q.decom_remaining.clear();
    for (n, snap) in &view.nodes {
        if snap.admin != dfs_common::proto::client::AdminState::Decommissioning {
            continue;
        }
        let mut remaining = 0u64;
        for b in ns.blocks().blocks_on(n) {
            let Some(meta) = ns.blocks().get(&b) else {
                continue;
            };
            let Some(expected) = ns.expected_replication(&meta) else {
                continue;
            };
            let c = ns.replica_counts(&b, view);
            if !decommission_sufficient(c.live, expected) {
                remaining += 1;
                if !q.pending.contains_key(&b) {
                    q.needed.insert(b);
                }
            }
        }
        q.decom_remaining.insert(*n, remaining);
        if remaining == 0 {
            out.decommissioned.push(*n);
        }
    }
    out
}

#[cfg(test)]
mod tally_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;

    fn counts(live: u32, retiring: u32) -> ReplicaCounts {
        ReplicaCounts {
            live,
            retiring,
            corrupt: 0,
        }
    }

    #[test]
    fn fewest_live_replicas_first() {
        let mut blocks = [
            (priority(&counts(2, 0), 3), "two"),
            (priority(&counts(0, 0), 3), "missing"),
            (priority(&counts(1, 0), 3), "one"),
            (priority(&counts(0, 1), 3), "only decommissioning"),
            (priority(&counts(1, 0), 2), "one of two"),
        ];
        blocks.sort();
        let order: Vec<&str> = blocks.iter().map(|b| b.1).collect();
        assert_eq!(
            order,
            [
                "only decommissioning",
                "one",
                "one of two",
                "two",
                "missing"
            ]
        );
        assert_eq!(priority(&counts(1, 0), 3), (false, 1, Reverse(2)));
    }

    #[test]
    fn source_is_the_least_busy_under_the_limit() {
        let (a, b, c) = (NodeId::new(), NodeId::new(), NodeId::new());
        let s = |id, retiring, in_flight| SourceCandidate {
            id,
            retiring,
            in_flight,
        };
        assert_eq!(choose_source(&[s(a, false, 2), s(b, false, 1)], 4), Some(b));
        // A tie goes to the decommissioning node.
        assert_eq!(choose_source(&[s(a, false, 1), s(b, true, 1)], 4), Some(b));
        assert_eq!(choose_source(&[s(a, false, 0), s(b, true, 1)], 4), Some(a));
        // At the limit: not a source.
        assert_eq!(choose_source(&[s(a, false, 4), s(c, true, 4)], 4), None);
        assert_eq!(choose_source(&[], 4), None);
    }

    #[test]
    fn excess_keeps_what_placement_prefers() {
        let holders: Vec<Candidate> = (0..5)
            .map(|_| Candidate {
                id: NodeId::new(),
                available: 1 << 30,
                rack: placement::RackId::default(),
            })
            .collect();
        for _ in 0..100 {
            let b = BlockId::new();
            let del = choose_excess(b, &holders, 3);
            assert_eq!(del.len(), 2);
            let kept: Vec<NodeId> = holders
                .iter()
                .map(|c| c.id)
                .filter(|n| !del.contains(n))
                .collect();
            let mut best = placement::choose_targets(b, 3, &holders, &[], 1);
            best.sort();
            let mut kept_sorted = kept.clone();
            kept_sorted.sort();
            assert_eq!(kept_sorted, best);
        }
        assert!(choose_excess(BlockId::new(), &holders[..2], 3).is_empty());
        // Never the last one, even if asked to keep none.
        assert_eq!(choose_excess(BlockId::new(), &holders[..2], 0).len(), 1);
    }

    /// A view of nodes of these classes, each with its maintenance flag.
    fn maintenance_view(nodes: &[(NodeClass, bool)]) -> (NodeView, Vec<NodeId>) {
        let mut v = NodeView::default();
        let mut ids = Vec::new();
        for (class, maintenance) in nodes {
            let id = NodeId::new();
            v.nodes.insert(
                id,
                crate::datanodes::NodeSnap {
                    addr: String::new(),
                    class: *class,
                    registered: true,
                    admin: dfs_common::proto::client::AdminState::Normal,
                    available: 1 << 30,
                    rack: placement::RackId::default(),
                    maintenance: *maintenance,
                },
            );
            ids.push(id);
        }
        (v, ids)
    }

    #[test]
    fn which_blocks_are_copied_with_a_node_in_maintenance() {
        use NodeClass::*;
        // [live, silent in maintenance, gone]
        let (v, n) = maintenance_view(&[(Live, false), (Maintenance, true), (Gone, false)]);
        let health = |replicas: &[NodeId], expected| {
            block_health(&count_replicas(replicas, 0, &v), expected)
        };
        // Another live replica: the silent one counts, nothing to copy.
        assert_eq!(health(&[n[0], n[1]], 2), BlockHealth::Healthy);
        // Only the node in maintenance: not counted, copied as usual (here
        // no source: missing until it returns or its maintenance ends).
        assert_eq!(health(&[n[1]], 1), BlockHealth::Missing);
        assert_eq!(health(&[n[1], n[2]], 2), BlockHealth::Missing);
        // One live replica out of three wanted: the silent one counts, one
        // copy is made.
        let c = count_replicas(&[n[0], n[1], n[2]], 0, &v);
        assert_eq!(c.live, 2);
        assert_eq!(block_health(&c, 3), BlockHealth::UnderReplicated);
        // A retiring live replica is data too.
        let (v, n) = maintenance_view(&[(LiveRetiring, false), (Maintenance, true)]);
        assert_eq!(count_replicas(&[n[0], n[1]], 0, &v).live, 1);
        // Targets skip nodes in maintenance, live or not.
        let (v, n) = maintenance_view(&[(Live, false), (Live, true), (Maintenance, true)]);
        assert_eq!(
            v.targets().iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![n[0]]
        );
    }

    #[test]
    fn maintenance_is_refused_for_the_sole_live_replica() {
        use NodeClass::*;
        let (v, n) = maintenance_view(&[
            (Live, false),
            (Live, false),
            (Live, true),
            (Maintenance, true),
            (Gone, false),
            (LiveRetiring, false),
        ]);
        // Another live node out of maintenance holds it.
        assert!(!sole_live_replica(&[n[0], n[1]], &n[0], &v));
        assert!(!sole_live_replica(&[n[0], n[5]], &n[0], &v));
        // Alone, or beside nodes in maintenance or gone.
        assert!(sole_live_replica(&[n[0]], &n[0], &v));
        assert!(sole_live_replica(&[n[0], n[2], n[3], n[4]], &n[0], &v));
        // A node without a replica of the block blocks nothing.
        assert!(!sole_live_replica(&[n[1]], &n[0], &v));
    }

    #[test]
    fn decommission_is_done_when_blocks_are_safe_elsewhere() {
        assert!(decommission_sufficient(3, 3));
        assert!(decommission_sufficient(4, 3));
        // 3 nodes, one leaving, replication 3: the two others hold all the
        // copies they can, but the block still needs the leaving node's.
        assert!(!decommission_sufficient(2, 3));
        // Never with no copy elsewhere.
        assert!(!decommission_sufficient(0, 3));
        assert!(!decommission_sufficient(0, 0));
        assert!(decommission_sufficient(1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn pending_copies_complete_or_time_out() {
        let now = Instant::now();
        let mut q = ReplicationQueues::new(now);
        let (src, t1, t2) = (NodeId::new(), NodeId::new(), NodeId::new());
        let b = BlockId::new();
        q.pending.insert(
            b,
            PendingCopy {
                source: src,
                targets: vec![t1, t2],
                deadline: now + Duration::from_secs(60),
                len: 100,
            },
        );
        assert_eq!(q.in_flight()[&src], (1, 0));
        assert_eq!(q.in_flight()[&t1], (0, 1));
        let ev = BlockEvents {
            arrived: vec![(b, t1)],
            ..Default::default()
        };
        q.absorb(ev, now);
        let p = q.progress(now);
        assert_eq!(
            (p.completed_copies, p.completed_bytes, p.pending_copies),
            (1, 100, 1)
        );
        assert!(p.bytes_per_sec > 0.0);
        // The source loses its replica: the copy is off, the block queued.
        q.absorb(
            BlockEvents {
                lost: vec![(b, src)],
                ..Default::default()
            },
            now,
        );
        assert!(!q.is_pending(&b));
        assert!(q.needed.contains(&b));
        // The rate counts a copy for RATE_WINDOW, then forgets it, though
        // the totals keep it (progress() filters by itself; no tick has run
        // to prune the record).
        tokio::time::advance(RATE_WINDOW - Duration::from_secs(1)).await;
        assert!(q.progress(Instant::now()).bytes_per_sec > 0.0);
        tokio::time::advance(Duration::from_secs(2)).await;
        let p = q.progress(Instant::now());
        assert_eq!(p.bytes_per_sec, 0.0, "a copy older than the window counts");
        assert_eq!((p.completed_copies, p.completed_bytes), (1, 100));
    }

    /// A balancer move's copy is not a repair: it leaves the repair figures
    /// (completed copies, the rate the web UI's ETA uses) alone.
    #[tokio::test(start_paused = true)]
    async fn a_balancer_move_is_not_counted_as_a_repair() {
        let now = Instant::now();
        let mut q = ReplicationQueues::new(now);
        let (src, t) = (NodeId::new(), NodeId::new());
        let b = BlockId::new();
        q.balancer.start_move_for_tests(b, src, t);
        q.add_pending(
            b,
            PendingCopy {
                source: src,
                targets: vec![t],
                deadline: now + Duration::from_secs(60),
                len: 100,
            },
        );
        q.absorb(
            BlockEvents {
                arrived: vec![(b, t)],
                ..Default::default()
            },
            now,
        );
        let p = q.progress(now);
        assert!(!q.is_pending(&b));
        assert_eq!((p.completed_copies, p.completed_bytes), (0, 0));
        assert_eq!(p.bytes_per_sec, 0.0);
    }
}
