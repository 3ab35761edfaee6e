//! Read-only views of [`Namesystem`] for operators: counts, the cluster
//! summary, health extras, datanode reports, fsck, du, and the store's size.
//! fsck and du of a large tree walk it in steps, releasing the namespace
//! lock between them (fuzzy results, as HDFS's; see `namespace::report`).
//!
//! What is asked per request or per poll (summary, `/health`, `/metrics`,
//! the web UI every few seconds) costs O(1) in the namespace's size: the
//! counts come from counters kept as the namespace changes, and block
//! health from the tally the replication queues keep (see `health`),
//! settled here when few blocks changed and by the replication monitor's
//! worker otherwise ([`Namesystem::settle_block_health`]), so after a large
//! change the numbers may trail by one monitor period.
use super::*;

/// Blocks whose health changed that a reader settles itself; more are left
/// to the monitor's worker (the numbers then trail by at most its period).
const READ_SETTLE_LIMIT: usize = 10_000;
/// Blocks the worker settles per hold of the namespace lock.
const SETTLE_CHUNK: usize = 10_000;
/// Inodes (and, for fsck, blocks) `du` and `fsck` look at per hold of the
/// namespace lock (HDFS's content summary yields every 5000 by default).
const WALK_CHUNK: usize = 5_000;

impl Namesystem {
    /// The cluster's counts (O(1) in the namespace's size, see the module doc).
    pub fn counts(&self) -> Result<NamespaceCounts> {
        let view = self.datanodes.view(Instant::now());
        let ns = self.lock()?;
        let mut c = ns.counters();
        let h = self.repl().health_counts(&ns, &view, READ_SETTLE_LIMIT);
        c.missing = h.missing;
        c.corrupt_blocks = h.corrupt;
        c.under_replicated = h.under_replicated;
        c.over_replicated = h.over_replicated;
        Ok(c)
    }

    /// The replication monitor's pass over the block-health tally: settles
    /// every block whose health may have changed, in chunks that release
    /// the namespace lock between them (the first pass after a start
    /// builds the tally with one walk). Runs in safe mode too.
    pub fn settle_block_health(&self, now: Instant) -> Result<()> {
        let view = self.datanodes.view(now);
        let dirty = {
            let ns = self.lock()?;
            let mut q = self.repl();
            if !q.health_is_built() {
                q.rebuild_health(&ns, &view);
                return Ok(());
            }
            q.take_dirty_health()
        };
        for chunk in dirty.chunks(SETTLE_CHUNK) {
            let ns = self.lock()?;
            self.repl().settle_health(chunk, &ns, &view);
        }
        Ok(())
    }

    pub fn summary(&self) -> Result<ClusterSummary> {
        let now = Instant::now();
        let t = self.datanodes.totals(now);
        let c = self.counts()?;
        let replication = self.repl().progress(now);
        let (safe_mode, safe_mode_reason) = {
            let sm = self.safemode();
            (sm.is_on(), sm.reason(now))
        };
        Ok(ClusterSummary {
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
            safe_mode_reason,
            decommissioning_datanodes: t.decommissioning,
            decommissioned_datanodes: t.decommissioned,
            over_replicated_blocks: c.over_replicated,
            corrupt_blocks: c.corrupt_blocks,
            corrupt_replicas: c.corrupt_replicas,
            replication,
            cluster_id: self.cluster_id.to_string(),
            unknown_replicas: self.orphans()?.unknown_replicas,
            refused_datanodes: self.refused_datanodes(now),
        })
    }

    /// Numbers for `/health` that the summary does not carry.
    pub fn health_extras(&self) -> Result<HealthExtras> {
        let t = self.datanodes.totals(Instant::now());
        Ok(HealthExtras {
            awaiting_registration: t.awaiting_registration,
            orphan_replicas: self.lock()?.blocks().orphan_count(),
        })
    }

    pub fn datanode_reports(&self) -> Result<Vec<DatanodeReport>> {
        let ns = self.lock()?;
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
    pub fn fsck(&self, path: &DfsPath) -> Result<FsckReport> {
        let now = Instant::now();
        let view = self.datanodes.view(now);
        let t = self.datanodes.totals(now);
        let mut walk = self.lock()?.fsck_start(path)?;
        while !self
            .lock()?
            .fsck_step(&mut walk, &view, MAX_FSCK_PROBLEMS, WALK_CHUNK)?
        {
            // Let a waiting writer take the lock before the next step.
            std::thread::yield_now();
        }
        let mut r = walk.finish();
        r.live_datanodes = t.live;
        r.dead_datanodes = t.dead;
        r.decommissioning_datanodes = t.decommissioning;
        r.safe_mode = self.in_safe_mode();
        r.unknown_replicas = self.orphans()?.unknown_replicas;
        Ok(r)
    }

    /// `du`, walking the tree [`WALK_CHUNK`] inodes at a time and releasing
    /// the namespace lock between steps (fuzzy for parts that change
    /// meanwhile, see [`crate::namespace::report::SummaryWalk`]).
    pub fn content_summary(&self, path: &DfsPath) -> Result<ContentSummary> {
        let mut walk = self.lock()?.content_summary_start(path)?;
        while !self.lock()?.content_summary_step(&mut walk, WALK_CHUNK) {
            std::thread::yield_now();
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
