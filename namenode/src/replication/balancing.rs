//! The balancer at work: the leader's moves and figures (in its memory; the
//! run an operator started is replicated, see `namesystem::balancer`) and
//! the step the replication tick runs (the decisions are `balancer`'s,
//! pure).
//!
//! A move goes through the replication monitor's machinery: a
//! `Command::Replicate` to one target on the source's heartbeat queue and a
//! *pending* copy in [`ReplicationQueues`] (so the monitor neither copies
//! nor trims the block meanwhile, the per-node stream limits count it, and
//! its deadline and the loss of its source end it). Once the target reports
//! the replica, the step (run in the tick after the reports are taken in
//! and before the monitor looks at the blocks, so the generic excess
//! trimming never picks an arbitrary replica of a moved block) deletes the
//! *source's* replica, if the block keeps its replication live and its
//! racks without it; otherwise the move is abandoned and the monitor trims
//! the excess by its own rule (which keeps racks). A block thus has its
//! replication + 1 replicas for a moment and never fewer than before.
//!
//! Stopping (`--stop`, balanced, leadership lost) starts no new move;
//! moves in flight still finish (or time out) through the same step while
//! this namenode leads. Not persisted: a restart or a change of leader
//! stops the balancer (a copy that lands then is excess, trimmed as any).
use super::{PendingCopy, ReplicationQueues};
use crate::balancer::{self, Limits, NodeUse};
use crate::datanodes::{NodeClass, NodeView};
use crate::meta_store::Txn;
use crate::namespace::{Deletions, Namespace};
use crate::placement::rack_count;
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::proto::client::BalancerStatus;
use dfs_common::proto::datanode::Command;
use dfs_common::proto::DatanodeInfo;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Blocks of one source node the planner looks at in one tick (the tick
/// holds the namespace lock).
const BLOCKS_PER_SOURCE: usize = 2_000;
/// Unused byte budget carried over between ticks, at most this much (a
/// bandwidth below a block's length per tick still moves it, every few
/// ticks; a long wait on busy nodes allows no larger burst than this).
const MAX_CREDIT: u64 = 1 << 30;
/// Ticks in a row with nothing in flight and nothing to start, the cluster
/// still not balanced, after which the balancer gives up (HDFS's balancer
/// stops after 5 iterations without progress): the nodes' distance from
/// the average is less than a block's share, or no block can move without
/// breaking a rule.
const IDLE_TICKS: u32 = 20;

/// Why a run stopped by itself.
const BALANCED: &str = "balanced";
const NO_MOVE: &str = "no move possible";

/// One move in flight.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    source: NodeId,
    target: NodeId,
    len: u64,
}

/// The balancer's state (leader memory).
#[derive(Debug, Default)]
pub struct Balancing {
    running: bool,
    threshold: f64,
    moves: HashMap<BlockId, InFlight>,
    bytes_moved: u64,
    moves_done: u64,
    moves_abandoned: u64,
    average: f64,
    over: u64,
    under: u64,
    last_stop: Option<String>,
    /// Bytes new moves may still total (the bandwidth's share of each
    /// tick, carried over up to [`MAX_CREDIT`]).
    credit: u64,
    /// See [`IDLE_TICKS`].
    idle_ticks: u32,
    /// The run (`records::BalancerRun::id`) this is, or was last.
    run: Option<u64>,
}

impl Balancing {
    /// Block `b` is being moved by the balancer (its copy is a move, not a
    /// repair).
    pub fn is_moving(&self, b: &BlockId) -> bool {
        self.moves.contains_key(b)
    }

    #[cfg(test)]
    pub(crate) fn start_move_for_tests(&mut self, b: BlockId, source: NodeId, target: NodeId) {
        self.moves.insert(
            b,
            InFlight {
                source,
                target,
                len: 0,
            },
        );
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The run it is doing, or did last.
    pub fn run(&self) -> Option<u64> {
        self.run
    }

    /// Stopped by itself (balanced, or no move left), not by an operator
    /// or a change of leader.
    pub fn finished(&self) -> bool {
        !self.running && matches!(self.last_stop.as_deref(), Some(BALANCED | NO_MOVE))
    }

    /// Starts run `run` (or restarts with a new threshold); the figures
    /// start again.
    pub fn start(&mut self, run: u64, threshold: f64) {
        self.run = Some(run);
        self.running = true;
        self.threshold = threshold;
        self.bytes_moved = 0;
        self.moves_done = 0;
        self.moves_abandoned = 0;
        self.last_stop = None;
        self.credit = 0;
        self.idle_ticks = 0;
    }

    /// Starts no new move; those in flight finish or time out.
    pub fn stop(&mut self, why: &str) {
        if self.running {
            self.running = false;
            self.last_stop = Some(why.to_string());
        }
    }

    pub fn status(&self, bandwidth: u64) -> BalancerStatus {
        BalancerStatus {
            running: self.running,
            threshold: self.threshold,
            bandwidth,
            bytes_moved: self.bytes_moved,
            moves_done: self.moves_done,
            moves_abandoned: self.moves_abandoned,
            moves_in_flight: self.moves.len() as u64,
            average_used_pct: self.average,
            nodes_over: self.over,
            nodes_under: self.under,
            last_stop: self.last_stop.clone(),
        }
    }
}

/// What a step needs besides the namespace.
pub struct StepInput<'a> {
    pub view: &'a NodeView,
    /// Eligible nodes' figures (live, normal, not in maintenance).
    pub usage: &'a [NodeUse],
    pub now: Instant,
    /// The bandwidth's share of this tick, in bytes.
    pub budget: u64,
    pub max_streams: u32,
    pub pending_timeout: Duration,
}

/// Settles the moves whose copy landed or failed, then plans new ones.
/// Call after the block events are absorbed, before the monitor's tick.
pub fn step(
    ns: &mut Namespace,
    q: &mut ReplicationQueues,
    input: &StepInput<'_>,
    txn: &mut Txn,
    dels: &mut Deletions,
) -> Vec<(NodeId, Command)> {
    settle(ns, q, input.view, txn, dels);
    let b = &mut q.balancer;
    if !b.running {
        b.credit = 0;
        return Vec::new();
    }
    b.credit = b
        .credit
        .saturating_add(input.budget)
        .min(input.budget.max(MAX_CREDIT));
    // The figures as they will be once the moves in flight are done (the
    // reports lag behind), so that a round does not plan them again.
    let mut usage: Vec<NodeUse> = input.usage.to_vec();
    for m in b.moves.values() {
        for u in usage.iter_mut() {
            if u.id == m.source {
                u.used = u.used.saturating_sub(m.len);
            } else if u.id == m.target {
                u.used = u.used.saturating_add(m.len);
            }
        }
    }
    let classes = balancer::classify(&usage, b.threshold);
    b.average = classes.average;
    b.over = classes.over.len() as u64;
    b.under = classes.under.len() as u64;
    if classes.balanced() {
        if b.moves.is_empty() {
            log::info!(
                "balancer: every node within {} points of {:.1}%; done",
                b.threshold,
                classes.average
            );
            b.stop(BALANCED);
        }
        return Vec::new();
    }
    let view = input.view;
    let mut in_flight: HashMap<NodeId, u32> = HashMap::new();
    for (n, (send, recv)) in q.in_flight() {
        in_flight.insert(n, send + recv);
    }
    let moving: Vec<BlockId> = q.balancer.moves.keys().copied().collect();
    let blocks_on = |node: &NodeId| -> Vec<balancer::BlockOnNode> {
        ns.blocks()
            .blocks_on(node)
            .into_iter()
            .filter(|id| !ns.blocks().is_invalidated(id, node))
            .filter_map(|id| {
                let meta = ns.blocks().get(&id)?;
                let expected = ns.expected_replication(&meta)?;
                meta.sha256?;
                let mut holders: Vec<(NodeId, _)> =
                    meta.replicas.iter().map(|n| (*n, view.rack(n))).collect();
                if let Some(c) = ns.blocks().corrupt_of(&id) {
                    holders.extend(c.keys().map(|n| (*n, view.rack(n))));
                }
                holders.extend(
                    ns.blocks()
                        .invalidated_holders(&id)
                        .into_iter()
                        .map(|n| (n, view.rack(&n))),
                );
                Some(balancer::BlockOnNode {
                    id,
                    len: meta.len,
                    expected,
                    live: ns.replica_counts(&id, view).live,
                    holders,
                    busy: q.is_pending(&id) || moving.contains(&id),
                })
            })
            .take(BLOCKS_PER_SOURCE)
            .collect()
    };
    let moves = balancer::plan(
        &usage,
        &classes,
        blocks_on,
        &in_flight,
        Limits {
            budget: q.balancer.credit,
            // Half the streams at most: the balancer plans before the
            // monitor in a tick, and repair must keep room on every node.
            per_node: (input.max_streams / 2).max(1),
        },
    );
    if moves.is_empty() && q.balancer.moves.is_empty() {
        q.balancer.idle_ticks += 1;
        if q.balancer.idle_ticks >= IDLE_TICKS {
            log::info!(
                "balancer: nodes still beyond {} points of {:.1}%, but no move can bring them closer; stopping",
                q.balancer.threshold,
                classes.average
            );
            q.balancer.stop(NO_MOVE);
        }
        return Vec::new();
    }
    q.balancer.idle_ticks = 0;
    let mut out = Vec::new();
    for m in moves {
        let Some(meta) = ns.blocks().get(&m.block) else {
            continue;
        };
        let Some(sha256) = meta.sha256 else {
            continue;
        };
        let Some(addr) = view.addr(&m.target) else {
            continue;
        };
        log::info!(
            "balancer: moving block {} ({} bytes) from {} to {}",
            m.block,
            m.len,
            m.source,
            m.target
        );
        out.push((
            m.source,
            Command::Replicate {
                block_id: m.block,
                len: m.len,
                sha256,
                targets: vec![DatanodeInfo {
                    id: m.target,
                    addr: addr.to_string(),
                }],
            },
        ));
        q.add_pending(
            m.block,
            PendingCopy {
                source: m.source,
                targets: vec![m.target],
                deadline: input.now + input.pending_timeout,
                len: m.len,
            },
        );
        q.balancer.credit = q.balancer.credit.saturating_sub(m.len);
        q.balancer.moves.insert(
            m.block,
            InFlight {
                source: m.source,
                target: m.target,
                len: m.len,
            },
        );
    }
    out
}

/// Moves whose target reported the replica: the source's replica goes
/// (when the block keeps its replication and racks without it); moves
/// whose copy is no longer pending otherwise failed: abandoned.
fn settle(
    ns: &mut Namespace,
    q: &mut ReplicationQueues,
    view: &NodeView,
    txn: &mut Txn,
    dels: &mut Deletions,
) {
    let ids: Vec<BlockId> = q.balancer.moves.keys().copied().collect();
    for id in ids {
        let Some(m) = q.balancer.moves.get(&id).copied() else {
            continue;
        };
        let Some(meta) = ns.blocks().get(&id) else {
            q.balancer.moves.remove(&id);
            q.balancer.moves_abandoned += 1;
            continue;
        };
        let replicas = meta.replicas.to_vec();
        if !replicas.contains(&m.target) {
            if !q.is_pending(&id) {
                // Timed out, or the source lost it or died.
                q.balancer.moves.remove(&id);
                q.balancer.moves_abandoned += 1;
            }
            continue;
        }
        q.balancer.moves.remove(&id);
        let expected = ns.expected_replication(&meta).unwrap_or(u16::MAX);
        let live =
            |n: &NodeId| view.class(n) == NodeClass::Live && !ns.blocks().is_invalidated(&id, n);
        let live_without_source = replicas
            .iter()
            .filter(|n| **n != m.source && live(n))
            .count() as u32;
        let racks_without = |gone: NodeId| {
            rack_count(
                replicas
                    .iter()
                    .filter(|n| **n != gone && live(n))
                    .map(|n| view.rack(n)),
            )
        };
        let racks_kept = racks_without(m.source) >= racks_without(m.target);
        if replicas.contains(&m.source)
            && balancer::may_delete_source(live_without_source, expected)
            && racks_kept
        {
            log::info!(
                "balancer: block {id} now on {}; deleting its replica on {}",
                m.target,
                m.source
            );
            ns.invalidate_replica(id, m.source, txn);
            dels.push((m.source, id));
            q.balancer.bytes_moved += m.len;
            q.balancer.moves_done += 1;
        } else {
            // The monitor trims the excess by its own rule.
            q.balancer.moves_abandoned += 1;
            q.enqueue([id]);
        }
    }
}
