//! Read-only views of [`Namesystem`] for operators: counts, the cluster
//! summary, health extras, datanode reports, fsck, du, and the store's size.
//! fsck and du of a large tree walk it in steps, releasing the namespace
//! lock between them (fuzzy results, as HDFS's; see `namespace::report`).
//!
//! What is asked per request or per poll (summary, `/health`, `/metrics`,
//! the web UI every few seconds) takes neither the namespace lock nor the
//! replication queues' lock, so a probe never waits behind a writer or the
//! monitor's rescan: it reads a [`Published`] snapshot of the counters
//! (HDFS reads its metrics from volatile counters the same way). Whoever
//! changes what the snapshot shows publishes a new one before releasing
//! the namespace lock ([`Namesystem::publish`]): every change
//! ([`Namesystem::mutate`]), a registration, dead or returning nodes, the
//! monitor's settling. Publishing costs O(1) in the namespace's size: the
//! counts come from counters kept as the namespace changes, and block
//! health from the tally the replication queues keep (see `health`),
//! settled by the publisher when few blocks changed and by the replication
//! monitor's worker otherwise ([`Namesystem::settle_block_health`]), so
//! after a large change the numbers may trail by one monitor period. The
//! tally is built once at load, so the first request after a start is as
//! cheap as any. Only the datanode registry (a few entries, held briefly),
//! safe mode and the refusals are read live.
use super::*;
use crate::datanodes::DatanodeTotals;
use dfs_common::proto::client::ReplicationProgress;
use std::sync::Arc;

/// Blocks whose health changed that a publisher settles itself; more are
/// left to the monitor's worker (the numbers then trail by at most its
/// period).
const PUBLISH_SETTLE_LIMIT: usize = 10_000;
/// Blocks the worker settles per hold of the namespace lock.
const SETTLE_CHUNK: usize = 10_000;
/// Inodes (and, for fsck, blocks) `du` and `fsck` look at per hold of the
/// namespace lock (HDFS's content summary yields every 5000 by default).
const WALK_CHUNK: usize = 5_000;

/// The numbers the operators' endpoints show that live under the namespace
/// and replication locks, as of the last change (see the module doc).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Published {
    /// The namespace's counters with block health filled in.
    pub counts: NamespaceCounts,
    pub unknown_replicas: UnknownReplicas,
    /// As of `at` (its rate is over the window before then).
    pub replication: ReplicationProgress,
    pub at: Option<Instant>,
}

/// The last [`Published`]: its mutex is held only to clone or replace the
/// `Arc`, never while anything is computed, so a reader waits for nobody.
#[derive(Debug, Default)]
pub(super) struct Board(Mutex<Arc<Published>>);

impl Board {
    fn get(&self) -> Arc<Published> {
        // A poisoned board still holds a whole snapshot (a swap cannot
        // half-happen).
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, p: Published) {
        let p = Arc::new(p);
        // The old snapshot is dropped after the lock is released.
        let _old = std::mem::replace(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()), p);
    }
}

/// What `/health` and `/metrics` show, from one snapshot.
#[derive(Debug, Clone)]
pub struct OperatorView {
    pub summary: ClusterSummary,
    pub extras: HealthExtras,
    pub files_being_written: u64,
}

/// Unknown replicas cluster-wide, from the block map's per-node numbers
/// (`BlockMap::orphans_by_node`).
pub(super) fn unknown_replicas(
    by_node: &[(NodeId, u64, u64)],
    reasons: &[crate::blocks::HoldReason],
) -> UnknownReplicas {
    let mut u = UnknownReplicas::default();
    for (_, held, waiting) in by_node {
        u.held += held;
        u.waiting += waiting;
        if *held > 0 {
            u.held_nodes += 1;
        }
    }
    if u.held > 0 {
        let why: Vec<&str> = reasons.iter().map(|r| r.describe()).collect();
        u.reason = Some(format!(
            "{} replicas of unknown blocks held on {} datanodes: {}. They are deleted only by `dfs orphans delete`; \
             if they belong to files you need, restore the metadata that knows them instead",
            u.held,
            u.held_nodes,
            why.join("; ")
        ));
    }
    u
}

impl Namesystem {
    /// Settles the blocks whose health changed (when at most
    /// [`PUBLISH_SETTLE_LIMIT`]) and publishes the numbers the operators'
    /// endpoints read. Call with the namespace and the queues locked, after
    /// anything that changes them (see the module doc).
    pub(super) fn publish(&self, ns: &Namespace, q: &mut ReplicationQueues, now: Instant) {
        let dirty = q.dirty_health_len();
        if dirty > 0 && dirty <= PUBLISH_SETTLE_LIMIT {
            q.health_counts(ns, &self.datanodes.view(now), PUBLISH_SETTLE_LIMIT);
        }
        let h = q.settled_health();
        let mut counts = ns.counters();
        counts.missing = h.missing;
        counts.corrupt_blocks = h.corrupt;
        counts.under_replicated = h.under_replicated;
        counts.over_replicated = h.over_replicated;
        let (by_node, reasons) = ns.blocks().orphans_by_node();
        self.published.set(Published {
            counts,
            unknown_replicas: unknown_replicas(&by_node, &reasons),
            replication: q.progress(now),
            at: Some(now),
        });
    }

    /// The last published numbers (no lock but the board's, see the
    /// module doc).
    pub fn published(&self) -> Arc<Published> {
        self.published.get()
    }

    /// The cluster's counts, as last published (see the module doc).
    pub fn counts(&self) -> Result<NamespaceCounts> {
        Ok(self.published.get().counts)
    }

    /// The replication monitor's pass over the block-health tally: settles
    /// every block whose health may have changed, in chunks that release
    /// the namespace lock between them, publishing after each. Runs in
    /// safe mode too.
    pub async fn settle_block_health(&self, now: Instant) -> Result<()> {
        let view = self.datanodes.view(now);
        let dirty = {
            let ns = self.lock_async().await?;
            let mut q = self.repl();
            if !q.health_is_built() {
                q.rebuild_health(&ns, &view);
                self.publish(&ns, &mut q, now);
                return Ok(());
            }
            let dirty = q.take_dirty_health();
            if dirty.is_empty() {
                // The rate and the gauges of the last tick, fresh.
                self.publish(&ns, &mut q, now);
            }
            dirty
        };
        for chunk in dirty.chunks(SETTLE_CHUNK) {
            let ns = self.lock_async().await?;
            let mut q = self.repl();
            q.settle_health(chunk, &ns, &view);
            self.publish(&ns, &mut q, now);
        }
        Ok(())
    }

    /// The summary from the last published numbers and the registry as it
    /// is now.
    fn summary_of(&self, p: &Published, t: &DatanodeTotals, now: Instant) -> ClusterSummary {
        let c = &p.counts;
        let (safe_mode, safe_mode_reason) = {
            let sm = self.safemode();
            (sm.is_on(), sm.reason(now))
        };
        ClusterSummary {
            version: dfs_common::VERSION.to_string(),
            uptime_secs: now.saturating_duration_since(self.started).as_secs(),
            safe_mode,
            live_datanodes: t.live,
            dead_datanodes: t.dead,
            capacity: t.space.capacity,
            used: t.space.used,
            available: t.space.available,
            non_dfs_used: t.space.non_dfs_used,
            reserved: t.space.reserved,
            filesystems: t.space.filesystems,
            files: c.files,
            directories: c.directories,
            blocks: c.blocks,
            under_replicated_blocks: c.under_replicated,
            missing_blocks: c.missing,
            default_replication: self.config.replication,
            default_block_size: self.config.block_size,
            trash_interval_secs: self.config.trash_interval.as_secs(),
            safe_mode_reason,
            decommissioning_datanodes: t.decommissioning,
            decommissioned_datanodes: t.decommissioned,
            over_replicated_blocks: c.over_replicated,
            corrupt_blocks: c.corrupt_blocks,
            corrupt_replicas: c.corrupt_replicas,
            replication: p.replication.clone(),
            cluster_id: self.cluster_id().to_string(),
            unknown_replicas: p.unknown_replicas.clone(),
            refused_datanodes: self.refused_datanodes(now),
        }
    }

    /// `/api/v1/summary` (see the module doc for what it waits for).
    pub fn summary(&self) -> Result<ClusterSummary> {
        let now = Instant::now();
        let t = self.datanodes.totals(now);
        Ok(self.summary_of(&self.published.get(), &t, now))
    }

    /// Numbers for `/health` that the summary does not carry.
    pub fn health_extras(&self) -> Result<HealthExtras> {
        let t = self.datanodes.totals(Instant::now());
        Ok(HealthExtras {
            awaiting_registration: t.awaiting_registration,
            orphan_replicas: self.published.get().counts.orphan_replicas,
            in_maintenance: t.in_maintenance,
            failed_disks: t.failed_disks,
        })
    }

    /// What `/health` and `/metrics` show, from one published snapshot and
    /// one look at the registry.
    pub fn operator_view(&self) -> OperatorView {
        let now = Instant::now();
        let t = self.datanodes.totals(now);
        let p = self.published.get();
        OperatorView {
            summary: self.summary_of(&p, &t, now),
            extras: HealthExtras {
                awaiting_registration: t.awaiting_registration,
                orphan_replicas: p.counts.orphan_replicas,
                in_maintenance: t.in_maintenance,
                failed_disks: t.failed_disks,
            },
            files_being_written: p.counts.files_being_written,
        }
    }

    pub async fn datanode_reports(&self) -> Result<Vec<DatanodeReport>> {
        let ns = self.lock_async().await?;
        let q = self.repl();
        let flight = q.in_flight();
        Ok(self.datanodes.reports(Instant::now(), |n| {
            let f = flight.get(n).copied().unwrap_or_default();
            (ns.replica_count(n), q.decommission_remaining(n), f.0 + f.1)
        }))
    }

    /// `fsck`, walking the tree [`WALK_CHUNK`] inodes and blocks at a time
    /// and releasing the namespace lock between steps, so writers are not
    /// held up for the whole walk; the result is fuzzy for parts that
    /// change meanwhile (see [`crate::namespace::report::FsckWalk`]).
    pub async fn fsck(&self, path: &DfsPath) -> Result<FsckReport> {
        let now = Instant::now();
        let view = self.datanodes.view(now);
        let t = self.datanodes.totals(now);
        let mut walk = self.lock_async().await?.fsck_start(path)?;
        while !self.lock_async().await?.fsck_step(
            &mut walk,
            &view,
            MAX_FSCK_PROBLEMS,
            WALK_CHUNK,
        )? {
            // Whoever queued for the lock meanwhile goes before the next
            // step, and so do the other requests of this thread.
            tokio::task::yield_now().await;
        }
        let mut r = walk.finish();
        r.live_datanodes = t.live;
        r.dead_datanodes = t.dead;
        r.decommissioning_datanodes = t.decommissioning;
        r.safe_mode = self.in_safe_mode();
        r.unknown_replicas = self.orphans().await?.unknown_replicas;
        Ok(r)
    }

    /// `du`, walking the tree [`WALK_CHUNK`] inodes at a time and releasing
    /// the namespace lock between steps (fuzzy for parts that change
    /// meanwhile, see [`crate::namespace::report::SummaryWalk`]).
    pub async fn content_summary(&self, path: &DfsPath) -> Result<ContentSummary> {
        let mut walk = self.lock_async().await?.content_summary_start(path)?;
        while !self
            .lock_async()
            .await?
            .content_summary_step(&mut walk, WALK_CHUNK)
        {
            tokio::task::yield_now().await;
        }
        Ok(walk.finish())
    }

    /// Bytes the metadata store takes on disk.
    pub fn store_size(&self) -> u64 {
        self.store.size_on_disk()
    }

    /// Waits for everything applied to be durable (shutdown).
    pub async fn flush(&self) -> Result<()> {
        self.store.flush().await
    }
}
