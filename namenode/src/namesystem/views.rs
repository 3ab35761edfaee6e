//! Read-only views of [`Namesystem`] for operators: counts, the cluster
//! summary, health extras, datanode reports, fsck, and the store's size.
use super::*;

impl Namesystem {
    pub fn counts(&self) -> Result<NamespaceCounts> {
        let view = self.datanodes.view(Instant::now());
        Ok(self.lock()?.counts(&view))
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

    pub fn fsck(&self, path: &DfsPath) -> Result<FsckReport> {
        let now = Instant::now();
        let view = self.datanodes.view(now);
        let t = self.datanodes.totals(now);
        let mut r = self.lock()?.fsck(path, &view, MAX_FSCK_PROBLEMS)?;
        r.live_datanodes = t.live;
        r.dead_datanodes = t.dead;
        r.decommissioning_datanodes = t.decommissioning;
        r.safe_mode = self.in_safe_mode();
        r.unknown_replicas = self.orphans()?.unknown_replicas;
        Ok(r)
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
