//! `Namesystem`: the namenode's state and the one door to it (HDFS
//! FSNamesystem). It owns the in-memory [`Namespace`] behind one mutex, the
//! [`MetaStore`] it writes through to, and the [`DatanodeManager`], and gives
//! every API handler and worker a typed async method.
//!
//! The shape of every change ([`Namesystem::mutate`]):
//! 1. lock the namespace, run the operation (validate, then change memory and
//!    record the same change in a `Txn`), apply the `Txn` to sled, unlock;
//! 2. `flush` sled (outside the lock, so concurrent changes share a flush);
//! 3. only then queue block deletions on datanodes and answer the caller.
//!
//! So an acknowledged change is durable, and a replica is deleted only after
//! the metadata that stopped referring to it is durable.
//!
//! Hazard: if sled fails to apply or flush, memory is ahead of disk. The
//! namesystem then refuses every later change (fail-stop, as HDFS does when
//! its edit log fails); a restart reloads the last durable state.
//!
//! Lock order: namespace, then datanode registry, never the reverse. Most
//! operations take a live-node snapshot from the registry *before* locking
//! the namespace and queue deletions *after* unlocking it.
use crate::config::Config;
use crate::datanodes::{DatanodeManager, LiveNode};
use crate::error::{NamenodeError, Result};
use crate::meta_store::{MetaStore, Txn};
use crate::namespace::report::NamespaceCounts;
use crate::namespace::write::WriteDefaults;
use crate::namespace::{Deletions, Namespace};
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, BadReplicaReport, ClusterSummary, CompleteRequest,
    ContentSummary, CreateRequest, CreateResponse, DatanodeReport, DeleteResponse,
    DirectoryListing, FileLocations, FileStatus, FsckReport, LocatedBlock,
};
use dfs_common::proto::datanode::{
    BadBlockReport, BlockReport, Command, Heartbeat, HeartbeatReply, IncrementalBlockReport,
    RegisterRequest, RegisterResponse,
};
use dfs_common::proto::DatanodeInfo;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Problem blocks listed by one fsck.
pub const MAX_FSCK_PROBLEMS: usize = 1000;

/// Milliseconds since the Unix epoch (mtimes).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub struct Namesystem {
    ns: Mutex<Namespace>,
    store: MetaStore,
    datanodes: DatanodeManager,
    config: Config,
    started: Instant,
    failed: AtomicBool,
}

impl Namesystem {
    /// Opens the store under `config.data_dir` and loads everything.
    pub async fn open(config: Config) -> Result<Self> {
        let store = MetaStore::open(&config.data_dir)?;
        let loaded = store.load()?;
        let fresh = loaded.inodes.is_empty();
        let known = loaded.datanodes.clone();
        let mut txn = Txn::new();
        let ns = if fresh {
            Namespace::new(now_ms(), &mut txn)
        } else {
            Namespace::load(loaded, now_ms(), Instant::now(), &mut txn)
        };
        store.apply(txn)?;
        store.flush().await?;
        let counts = ns.counts(|_| false);
        log::info!(
            "namespace loaded: {} directories, {} files, {} blocks, {} files being written, {} known datanodes",
            counts.directories,
            counts.files,
            counts.blocks,
            counts.files_being_written,
            known.len()
        );
        Ok(Namesystem {
            ns: Mutex::new(ns),
            store,
            datanodes: DatanodeManager::new(known, config.dead_node_timeout),
            config,
            started: Instant::now(),
            failed: AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn datanodes(&self) -> &DatanodeManager {
        &self.datanodes
    }

    fn lock(&self) -> Result<MutexGuard<'_, Namespace>> {
        self.ns.lock().map_err(|_| {
            NamenodeError::Internal(
                "namespace lock poisoned by an earlier panic; restart the namenode".into(),
            )
        })
    }

    /// Runs one change: in memory and sled under the lock, then flush, then
    /// queue deletions (see the module doc).
    async fn mutate<T>(
        &self,
        op: impl FnOnce(&mut Namespace, &mut Txn, &mut Deletions) -> Result<T>,
    ) -> Result<T> {
        if self.failed.load(Ordering::Acquire) {
            return Err(NamenodeError::Internal(
                "the metadata store failed earlier; refusing changes until the namenode restarts"
                    .into(),
            ));
        }
        let mut dels = Deletions::new();
        let out = {
            let mut ns = self.lock()?;
            let mut txn = Txn::new();
            let out = op(&mut ns, &mut txn, &mut dels)?;
            if let Err(e) = self.store.apply(txn) {
                self.fail(&e);
                return Err(e);
            }
            out
        };
        if let Err(e) = self.store.flush().await {
            self.fail(&e);
            return Err(e);
        }
        self.datanodes.queue_deletes(&dels);
        Ok(out)
    }

    fn fail(&self, e: &NamenodeError) {
        log::error!("metadata store failure, refusing further changes: {e}");
        self.failed.store(true, Ordering::Release);
    }

    fn is_live_fn(live: &[LiveNode]) -> impl Fn(&NodeId) -> bool {
        let set: HashSet<NodeId> = live.iter().map(|n| n.id).collect();
        move |n| set.contains(n)
    }

    // ----- namespace -----

    pub async fn mkdirs(&self, path: &DfsPath, parents: bool) -> Result<FileStatus> {
        self.mutate(|ns, txn, _| ns.mkdirs(path, parents, now_ms(), txn))
            .await
    }

    pub fn status(&self, path: &DfsPath) -> Result<FileStatus> {
        self.lock()?.status(path)
    }

    pub fn list(
        &self,
        path: &DfsPath,
        start_after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<DirectoryListing> {
        self.lock()?.list(path, start_after, limit)
    }

    pub fn content_summary(&self, path: &DfsPath) -> Result<ContentSummary> {
        self.lock()?.content_summary(path)
    }

    pub async fn rename(
        &self,
        src: &DfsPath,
        dst: &DfsPath,
        overwrite: bool,
    ) -> Result<FileStatus> {
        self.mutate(|ns, txn, dels| ns.rename(src, dst, overwrite, now_ms(), txn, dels))
            .await
    }

    pub async fn delete(&self, path: &DfsPath, recursive: bool) -> Result<DeleteResponse> {
        let r = self
            .mutate(|ns, txn, dels| ns.delete(path, recursive, now_ms(), txn, dels))
            .await?;
        log::info!(
            "deleted {path}: {} files, {} directories",
            r.files_deleted,
            r.directories_deleted
        );
        Ok(r)
    }

    pub async fn set_replication(&self, path: &DfsPath, replication: u16) -> Result<FileStatus> {
        self.mutate(|ns, txn, _| ns.set_replication(path, replication, txn))
            .await
    }

    // ----- write path -----

    pub async fn create(&self, req: &CreateRequest) -> Result<CreateResponse> {
        let defaults = WriteDefaults {
            replication: self.config.replication,
            block_size: self.config.block_size,
            lease_renew_interval_ms: self.config.lease_renew_interval().as_millis() as u64,
        };
        self.mutate(|ns, txn, _| ns.create(req, &defaults, now_ms(), Instant::now(), txn))
            .await
    }

    pub async fn add_block(&self, req: &AddBlockRequest) -> Result<LocatedBlock> {
        let live = self.datanodes.live(Instant::now());
        let candidates = DatanodeManager::candidates(&live);
        let b = self
            .mutate(|ns, txn, _| {
                ns.add_block(req.file_id, &req.exclude, &candidates, Instant::now(), txn)
            })
            .await?;
        let addrs: HashMap<NodeId, &str> = live.iter().map(|n| (n.id, n.addr.as_str())).collect();
        let replicas = b
            .targets
            .iter()
            .map(|id| DatanodeInfo {
                id: *id,
                addr: addrs.get(id).map_or_else(String::new, |a| a.to_string()),
            })
            .collect();
        Ok(LocatedBlock {
            block_id: b.block_id,
            offset: b.offset,
            len: 0,
            sha256: None,
            replicas,
        })
    }

    pub async fn abandon_block(&self, req: &AbandonBlockRequest) -> Result<()> {
        self.mutate(|ns, txn, dels| {
            ns.abandon_block(req.file_id, req.block_id, Instant::now(), txn, dels)
        })
        .await
    }

    pub async fn complete(&self, req: &CompleteRequest) -> Result<FileStatus> {
        let st = self
            .mutate(|ns, txn, dels| ns.complete(req, now_ms(), txn, dels))
            .await?;
        log::info!(
            "completed {} ({} bytes, {} blocks)",
            st.path,
            st.length,
            st.blocks
        );
        Ok(st)
    }

    pub fn renew_lease(&self, file_id: dfs_common::ids::FileId) -> Result<()> {
        self.lock()?.renew_lease(file_id, Instant::now())
    }

    pub async fn abandon_file(&self, file_id: dfs_common::ids::FileId) -> Result<()> {
        let path = self
            .mutate(|ns, txn, dels| Ok(ns.abandon_file(file_id, txn, dels)))
            .await?;
        if let Some(p) = path {
            log::info!("abandoned the write of {p}");
        }
        Ok(())
    }

    /// Abandons writes whose lease expired before `now` (lease monitor).
    pub async fn expire_leases(&self, now: Instant) -> Result<Vec<DfsPath>> {
        let timeout = self.config.lease_timeout;
        let paths = self
            .mutate(|ns, txn, dels| Ok(ns.expire_leases(now, timeout, txn, dels)))
            .await?;
        for p in &paths {
            log::warn!(
                "lease on {p} expired (writer silent for more than {timeout:?}); write abandoned"
            );
        }
        Ok(paths)
    }

    // ----- reads -----

    /// Where a file's blocks are: live replicas only, in an order rotated
    /// per block (by its id's last byte, which is random in a v7 UUID) so
    /// that reads spread over the nodes.
    pub fn locations(&self, path: &DfsPath) -> Result<FileLocations> {
        let live = self.datanodes.live(Instant::now());
        let addrs: HashMap<NodeId, &str> = live.iter().map(|n| (n.id, n.addr.as_str())).collect();
        let place = |block: BlockId, replicas: &[NodeId]| {
            let mut out: Vec<DatanodeInfo> = replicas
                .iter()
                .filter_map(|id| {
                    addrs.get(id).map(|a| DatanodeInfo {
                        id: *id,
                        addr: a.to_string(),
                    })
                })
                .collect();
            if !out.is_empty() {
                let k = usize::from(block.as_bytes()[15]) % out.len();
                out.rotate_left(k);
            }
            out
        };
        self.lock()?.locations(path, place)
    }

    pub async fn report_bad_replica(&self, r: &BadReplicaReport) -> Result<()> {
        let left = self
            .mutate(|ns, txn, dels| {
                let left = ns.remove_replica(r.block_id, r.node_id, txn);
                // Delete the bad copy only when another recorded copy
                // remains: a wrong report must never destroy the last one.
                if left.is_some_and(|n| n > 0) {
                    dels.push((r.node_id, r.block_id));
                }
                Ok(left)
            })
            .await?;
        log::warn!(
            "client reported bad replica of block {} on {}: {} ({})",
            r.block_id,
            r.node_id,
            r.reason,
            match left {
                Some(n) => format!("{n} recorded replicas left"),
                None => "it was not recorded there".to_string(),
            }
        );
        Ok(())
    }

    // ----- datanodes -----

    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse> {
        let node = req.node.id;
        let record = self
            .datanodes
            .register(&req.node, req.storage, Instant::now());
        self.mutate(|ns, txn, dels| {
            if let Some(rec) = &record {
                txn.put_datanode(node, rec);
            }
            dels.extend(
                ns.on_full_report(node, &req.blocks, txn)
                    .into_iter()
                    .map(|b| (node, b)),
            );
            Ok(())
        })
        .await?;
        Ok(RegisterResponse {
            heartbeat_interval_ms: self.config.heartbeat_interval.as_millis() as u64,
            block_report_interval_ms: self.config.block_report_interval.as_millis() as u64,
        })
    }

    pub fn heartbeat(&self, hb: &Heartbeat) -> HeartbeatReply {
        match self.datanodes.heartbeat(hb, Instant::now()) {
            Some(commands) => HeartbeatReply { commands },
            None => HeartbeatReply {
                commands: vec![Command::Reregister],
            },
        }
    }

    /// A full block report. Reports from nodes that have not registered
    /// since this process started are ignored: their next heartbeat asks
    /// them to register, which carries a full report anyway.
    pub async fn block_report(&self, r: &BlockReport) -> Result<()> {
        if !self.datanodes.is_registered(&r.node_id) {
            return Ok(());
        }
        self.datanodes.touch(&r.node_id, Instant::now());
        let node = r.node_id;
        self.mutate(|ns, txn, dels| {
            dels.extend(
                ns.on_full_report(node, &r.blocks, txn)
                    .into_iter()
                    .map(|b| (node, b)),
            );
            Ok(())
        })
        .await
    }

    pub async fn block_received(&self, r: &IncrementalBlockReport) -> Result<()> {
        if !self.datanodes.is_registered(&r.node_id) {
            return Ok(());
        }
        self.datanodes.touch(&r.node_id, Instant::now());
        let node = r.node_id;
        self.mutate(|ns, txn, dels| {
            let d = ns.on_incremental_report(node, &r.received, &r.deleted, txn);
            dels.extend(d.into_iter().map(|b| (node, b)));
            Ok(())
        })
        .await
    }

    pub async fn bad_block(&self, r: &BadBlockReport) -> Result<()> {
        log::warn!(
            "datanode {} reports bad block {}: {}",
            r.node_id,
            r.block_id,
            r.reason
        );
        self.mutate(|ns, txn, _| Ok(ns.remove_replica(r.block_id, r.node_id, txn)))
            .await?;
        Ok(())
    }

    /// Marks silent datanodes dead (heartbeat monitor).
    pub fn check_dead_nodes(&self, now: Instant) -> Vec<NodeId> {
        self.datanodes.check_dead(now)
    }

    // ----- cluster views -----

    pub fn counts(&self) -> Result<NamespaceCounts> {
        let live = self.datanodes.live(Instant::now());
        Ok(self.lock()?.counts(Self::is_live_fn(&live)))
    }

    pub fn summary(&self) -> Result<ClusterSummary> {
        let now = Instant::now();
        let t = self.datanodes.totals(now);
        let c = self.counts()?;
        Ok(ClusterSummary {
            version: dfs_common::VERSION.to_string(),
            uptime_secs: now.saturating_duration_since(self.started).as_secs(),
            safe_mode: false,
            live_datanodes: t.live,
            dead_datanodes: t.dead,
            capacity: t.capacity,
            used: t.used,
            available: t.available,
            files: c.files,
            directories: c.directories,
            blocks: c.blocks,
            under_replicated_blocks: c.under_replicated,
            missing_blocks: c.missing,
            default_replication: self.config.replication,
            default_block_size: self.config.block_size,
            ..Default::default()
        })
    }

    pub fn datanode_reports(&self) -> Result<Vec<DatanodeReport>> {
        let ns = self.lock()?;
        Ok(self
            .datanodes
            .reports(Instant::now(), |n| ns.replica_count(n)))
    }

    pub fn fsck(&self, path: &DfsPath) -> Result<FsckReport> {
        let live = self.datanodes.live(Instant::now());
        self.lock()?
            .fsck(path, Self::is_live_fn(&live), MAX_FSCK_PROBLEMS)
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

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::checksum::Sha256Digest;
    use dfs_common::proto::client::CommittedBlock;
    use dfs_common::proto::datanode::{ReportedBlock, StorageReport};
    use std::time::Duration;

    pub fn test_config(dir: &std::path::Path) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            block_size: 4096,
            replication: 2,
            ..Config::default()
        }
    }

    fn p(s: &str) -> DfsPath {
        DfsPath::parse(s).unwrap()
    }

    fn create_req(path: &str) -> CreateRequest {
        serde_json::from_value(serde_json::json!({ "path": path })).unwrap()
    }

    async fn register(ns: &Namesystem, blocks: Vec<ReportedBlock>) -> NodeId {
        let id = NodeId::new();
        let storage = StorageReport {
            capacity: 1 << 30,
            used: 0,
            available: 1 << 30,
        };
        ns.register(&RegisterRequest {
            node: DatanodeInfo {
                id,
                addr: format!("http://dn-{id}"),
            },
            storage,
            blocks,
            version: "t".into(),
        })
        .await
        .unwrap();
        id
    }

    async fn put(ns: &Namesystem, path: &str, data: &[u8]) -> FileStatus {
        let c = ns.create(&create_req(path)).await.unwrap();
        let b = ns
            .add_block(&AddBlockRequest {
                file_id: c.file_id,
                exclude: vec![],
            })
            .await
            .unwrap();
        ns.complete(&CompleteRequest {
            file_id: c.file_id,
            blocks: vec![CommittedBlock {
                block_id: b.block_id,
                len: data.len() as u64,
                sha256: Sha256Digest::of(data),
                replicas: b.replicas.iter().map(|r| r.id).collect(),
            }],
            length: data.len() as u64,
            sha256: Sha256Digest::of(data),
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn state_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (node, pending_id, file) = {
            let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
            let node = register(&ns, vec![]).await;
            register(&ns, vec![]).await;
            ns.mkdirs(&p("/a/b"), true).await.unwrap();
            let file = put(&ns, "/a/f", b"hello").await;
            ns.rename(&p("/a/f"), &p("/a/b"), false).await.unwrap();
            ns.mkdirs(&p("/gone"), false).await.unwrap();
            ns.delete(&p("/gone"), false).await.unwrap();
            ns.set_replication(&p("/a/b/f"), 1).await.unwrap();
            let pending = ns.create(&create_req("/w")).await.unwrap();
            ns.add_block(&AddBlockRequest {
                file_id: pending.file_id,
                exclude: vec![],
            })
            .await
            .unwrap();
            (node, pending.file_id, file)
        };
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let st = ns.status(&p("/a/b/f")).unwrap();
        assert_eq!(st.length, 5);
        assert_eq!(st.replication, 1);
        assert_eq!(st.inode_id, file.inode_id);
        assert_eq!(st.sha256, Some(Sha256Digest::of(b"hello")));
        assert!(ns.status(&p("/gone")).is_err());
        assert!(ns.status(&p("/a/f")).is_err());
        let loc = ns.locations(&p("/a/b/f")).unwrap();
        assert_eq!(loc.blocks.len(), 1);
        // No datanode has registered since the restart: nothing live to read from.
        assert!(loc.blocks[0].replicas.is_empty());
        let reports = ns.datanode_reports().unwrap();
        assert_eq!(reports.len(), 2);
        assert!(reports.iter().any(|r| r.id == node));
        // The writer can carry on after the restart.
        ns.renew_lease(pending_id).unwrap();
        assert_eq!(ns.counts().unwrap().files_being_written, 1);
        // New inodes do not reuse old ids.
        let d = ns.mkdirs(&p("/new"), false).await.unwrap();
        assert!(d.inode_id > st.inode_id);
    }

    #[tokio::test]
    async fn concurrent_creates_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let ns = std::sync::Arc::new(Namesystem::open(test_config(dir.path())).await.unwrap());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let ns = ns.clone();
                tokio::spawn(async move { ns.create(&create_req("/same")).await })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert!(matches!(e, NamenodeError::LeaseHeld(_)), "{e:?}"),
            }
        }
        assert_eq!(ok, 1);
    }

    #[tokio::test]
    async fn reports_reconcile_and_deletions_ride_heartbeats() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let a = register(&ns, vec![]).await;
        let b = register(&ns, vec![]).await;
        let f = put(&ns, "/f", b"data").await;
        assert_eq!(f.replication, 2);
        let loc = ns.locations(&p("/f")).unwrap();
        let block = loc.blocks[0].block_id;
        assert_eq!(loc.blocks[0].replicas.len(), 2);
        let hb = |id| Heartbeat {
            node_id: id,
            storage: StorageReport::default(),
            active_transfers: 0,
        };
        assert!(ns.heartbeat(&hb(a)).commands.is_empty());
        assert_eq!(
            ns.heartbeat(&hb(NodeId::new())).commands,
            vec![Command::Reregister]
        );

        // b reports a stranger block and lacks the real one.
        let stranger = ReportedBlock {
            id: BlockId::new(),
            len: 1,
            sha256: Sha256Digest::of(b"?"),
        };
        ns.block_report(&BlockReport {
            node_id: b,
            blocks: vec![stranger],
        })
        .await
        .unwrap();
        assert_eq!(
            ns.heartbeat(&hb(b)).commands,
            vec![Command::Delete {
                blocks: vec![stranger.id]
            }]
        );
        assert_eq!(ns.locations(&p("/f")).unwrap().blocks[0].replicas.len(), 1);
        // It gets it back (re-replicated, say).
        let good = ReportedBlock {
            id: block,
            len: 4,
            sha256: Sha256Digest::of(b"data"),
        };
        ns.block_received(&IncrementalBlockReport {
            node_id: b,
            received: vec![good],
            deleted: vec![],
        })
        .await
        .unwrap();
        assert_eq!(ns.locations(&p("/f")).unwrap().blocks[0].replicas.len(), 2);
        // A client reports a bad replica: forgotten, and deleted since another remains.
        ns.report_bad_replica(&BadReplicaReport {
            block_id: block,
            node_id: a,
            reason: "crc".into(),
        })
        .await
        .unwrap();
        assert_eq!(
            ns.heartbeat(&hb(a)).commands,
            vec![Command::Delete {
                blocks: vec![block]
            }]
        );
        let fsck = ns.fsck(&DfsPath::root()).unwrap();
        assert_eq!(fsck.under_replicated_blocks, 1);
        // The last replica is forgotten when its node says it is bad, never deleted by us.
        ns.bad_block(&BadBlockReport {
            node_id: b,
            block_id: block,
            reason: "scan".into(),
        })
        .await
        .unwrap();
        assert!(ns.heartbeat(&hb(b)).commands.is_empty());
        assert_eq!(ns.summary().unwrap().missing_blocks, 1);
        // Deleting the file queues deletions for recorded replicas only (none left).
        ns.block_received(&IncrementalBlockReport {
            node_id: b,
            received: vec![good],
            deleted: vec![],
        })
        .await
        .unwrap();
        ns.delete(&p("/f"), false).await.unwrap();
        assert_eq!(
            ns.heartbeat(&hb(b)).commands,
            vec![Command::Delete {
                blocks: vec![block]
            }]
        );
        let s = ns.summary().unwrap();
        assert_eq!((s.files, s.blocks, s.live_datanodes), (0, 0, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn lease_expiry_abandons_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let a = register(&ns, vec![]).await;
        let c = ns.create(&create_req("/w")).await.unwrap();
        assert_eq!(c.lease_renew_interval_ms, 20_000);
        let b = ns
            .add_block(&AddBlockRequest {
                file_id: c.file_id,
                exclude: vec![],
            })
            .await
            .unwrap();
        assert_eq!(b.replicas.len(), 1, "one live node");
        tokio::time::advance(Duration::from_secs(30)).await;
        ns.renew_lease(c.file_id).unwrap();
        tokio::time::advance(Duration::from_secs(45)).await;
        assert!(ns.expire_leases(Instant::now()).await.unwrap().is_empty());
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(
            ns.expire_leases(Instant::now()).await.unwrap(),
            vec![p("/w")]
        );
        // The datanode learns to delete the block with its next heartbeat.
        let hb = Heartbeat {
            node_id: a,
            storage: StorageReport::default(),
            active_transfers: 0,
        };
        assert_eq!(
            ns.heartbeat(&hb).commands,
            vec![Command::Delete {
                blocks: vec![b.block_id]
            }]
        );
        assert!(ns.renew_lease(c.file_id).is_err());
        assert!(ns.status(&p("/w")).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn dead_nodes_get_no_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        config.dead_node_timeout = Duration::from_secs(2);
        let ns = Namesystem::open(config).await.unwrap();
        register(&ns, vec![]).await;
        let c = ns.create(&create_req("/w")).await.unwrap();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(ns.check_dead_nodes(Instant::now()).len(), 1);
        let e = ns
            .add_block(&AddBlockRequest {
                file_id: c.file_id,
                exclude: vec![],
            })
            .await
            .unwrap_err();
        assert!(matches!(e, NamenodeError::NoLiveDatanodes(_)));
        assert_eq!(ns.summary().unwrap().dead_datanodes, 1);
    }
}
