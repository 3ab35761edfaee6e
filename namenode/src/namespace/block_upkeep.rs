//! The block map's changes that are not namespace operations, each named:
//! what the replication monitor and the datanode protocol decide about
//! replicas (events for the repair queues, replicas of unknown blocks held
//! or let go, corrupt replicas whose deletion went out, excess replicas
//! invalidated). The namespace's callers change the block map only through
//! these and the namespace operations; none holds it mutably.
use super::Namespace;
use crate::blocks::BlockEvents;
use crate::meta_store::Txn;
use dfs_common::ids::{BlockId, NodeId};
use std::time::Duration;
use tokio::time::Instant;

impl Namespace {
    /// The block map's change events since the last call, for the
    /// replication queues.
    pub fn take_block_events(&mut self) -> BlockEvents {
        self.blocks.take_events()
    }

    /// Every replica of an unknown block, held or not, taken out of the
    /// orphan list to be deleted (an operator's `dfs orphans delete`).
    pub fn take_orphans(&mut self) -> Vec<(NodeId, BlockId)> {
        self.blocks.take_orphans()
    }

    /// Replicas of blocks just dropped from the map, held for an operator
    /// rather than deleted (the metadata was restored).
    pub fn hold_unknown_replicas(
        &mut self,
        replicas: impl IntoIterator<Item = (NodeId, BlockId)>,
        now: Instant,
    ) {
        self.blocks.hold_unknown(replicas, now)
    }

    /// Hold every replica of an unknown block until an operator says
    /// otherwise (the metadata was restored from a checkpoint).
    pub fn hold_all_unknown_replicas(&mut self) {
        self.blocks.set_hold_all(true)
    }

    /// Unheld replicas of unknown blocks whose grace is over: to delete.
    pub fn sweep_orphans(&mut self, now: Instant, grace: Duration) -> Vec<(NodeId, BlockId)> {
        self.blocks.sweep_orphans(now, grace)
    }

    /// Forgets recently deleted blocks older than `race_bound` (a report
    /// racing their deletion can no longer arrive).
    pub fn prune_recent_deletions(&mut self, now: Instant, race_bound: Duration) {
        self.blocks.prune_recent(now, race_bound)
    }

    /// The deletion of `node`'s corrupt replica of `id` went out.
    pub fn corrupt_delete_sent(&mut self, id: &BlockId, node: &NodeId) {
        self.blocks.corrupt_delete_sent(id, node)
    }

    /// `node`'s replica of `id` is excess: no longer counted, to delete.
    pub fn invalidate_replica(&mut self, id: BlockId, node: NodeId, txn: &mut Txn) {
        self.blocks.invalidate(id, node, txn)
    }
}
