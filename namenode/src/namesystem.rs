//! `Namesystem`: the namenode's state and the one door to it (HDFS
//! FSNamesystem). It owns the in-memory [`Namespace`] behind one mutex, the
//! [`MetaStore`] it writes through to, the [`DatanodeManager`], the
//! replication queues and the safe-mode gate, and gives every API handler
//! and worker a typed async method.
//!
//! The shape of every change ([`Namesystem::mutate`]):
//! 1. lock the namespace, run the operation (validate, then change memory and
//!    record the same change in a `Txn`), hand the block map's change events
//!    to the replication queues, queue the `Txn` for the store's committer
//!    (so transactions reach sled in the order the changes were made), unlock;
//! 2. await the commit (outside the lock): the committer applies every
//!    queued transaction as one batch and flushes once for all of them
//!    (group commit, see `meta_store`);
//! 3. only then queue block deletions on datanodes and answer the caller.
//!
//! So an acknowledged change is durable, and a replica is deleted only after
//! the metadata that stopped referring to it is durable. Two steps of an
//! upload are answered before their flush (`create` and `add_block`, see
//! [`Ack::Applied`]): nothing of them is visible or promised until
//! `complete`, whose flush covers them (the committer keeps the order).
//!
//! Safe mode: every namespace change checks the gate first and fails with
//! [`NamenodeError::SafeMode`] (503); datanode reports are always taken
//! (they are how safe mode ends); the replication monitor and lease expiry
//! do nothing while it is on, so nothing is copied or deleted.
//!
//! Hazard: if sled fails to apply or flush, memory is ahead of disk. The
//! namesystem then refuses every later change (fail-stop, as HDFS does when
//! its edit log fails); a restart reloads the last durable state.
//!
//! Lock order: namespace, then replication queues, then safe mode, then
//! datanode registry, never the reverse. Most operations take a node
//! snapshot from the registry *before* locking the namespace and queue
//! deletions and commands *after* unlocking it.
use crate::config::Config;
use crate::datanodes::{DatanodeManager, NodeClass, NodeView, ResolveError};
use crate::error::{NamenodeError, Result};
use crate::meta_store::{MetaStore, Txn};
use crate::namespace::permission::{Check, Principal};
use crate::namespace::report::NamespaceCounts;
use crate::namespace::write::WriteDefaults;
use crate::namespace::{Deletions, Namespace};
use crate::replication::{self, ReplicationQueues};
use crate::safemode::SafeMode;
use dfs_common::ids::{BlockId, ClusterId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, AdminState, AppendResponse, BadReplicaReport,
    ClusterSummary, CompleteRequest, ContentSummary, CreateRequest, CreateResponse, DatanodeReport,
    DeleteResponse, DirectoryListing, FileLocations, FileStatus, FsckReport, LocatedBlock,
    NodeOrphans, OrphansDeleted, OrphansReport, SetAttributesRequest, UnknownReplicas,
};
use dfs_common::proto::datanode::{
    BadBlockReport, BlockReport, Command, Heartbeat, HeartbeatReply, IncrementalBlockReport,
    RegisterRequest, RegisterResponse,
};
use dfs_common::proto::DatanodeInfo;
use std::collections::HashMap;
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

pub use dfs_common::proto::client::{SafeModeAction, SafeModeStatus};

/// Operational numbers for `/health` beyond the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthExtras {
    pub awaiting_registration: u32,
    pub orphan_replicas: u64,
}

/// A datanode of another cluster that tried to register.
#[derive(Debug, Clone)]
struct Refusal {
    addr: String,
    cluster_id: ClusterId,
    message: String,
    last: Instant,
    attempts: u64,
}

/// Refused datanodes are shown for this long after their last attempt.
const REFUSAL_SHOWN: std::time::Duration = std::time::Duration::from_secs(120);

pub struct Namesystem {
    ns: Mutex<Namespace>,
    /// Made with the metadata; datanodes of another cluster are refused.
    cluster_id: ClusterId,
    refused: Mutex<HashMap<NodeId, Refusal>>,
    repl: Mutex<ReplicationQueues>,
    safemode: Mutex<SafeMode>,
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
        let restored = loaded.restored;
        let mut txn = Txn::new();
        // Metadata made by a version without cluster ids gets one now; the
        // datanodes that knew it adopt it when they next register.
        let cluster_id = match loaded.cluster_id {
            Some(id) => id,
            None => {
                let id = ClusterId::new();
                txn.put_cluster_id(id);
                log::info!("new cluster id {id}");
                id
            }
        };
        let started = Instant::now();
        let mut ns = if fresh {
            Namespace::new(now_ms(), &mut txn)
        } else {
            Namespace::load(loaded, now_ms(), started, &mut txn)
        };
        if let Some(at) = restored {
            log::warn!(
                "metadata restored from a checkpoint ({} ms since the epoch): replicas of blocks it does not know are held until an operator runs `dfs orphans delete`",
                at
            );
            ns.blocks_mut().set_hold_all(true);
        }
        store.apply(txn).await?;
        let counts = ns.counts(&NodeView::default());
        log::info!(
            "namespace of cluster {cluster_id} loaded: {} directories, {} files, {} blocks, {} files being written, {} known datanodes",
            counts.directories,
            counts.files,
            counts.blocks,
            counts.files_being_written,
            known.len()
        );
        let safemode = SafeMode::new(
            counts.blocks,
            config.safemode_threshold,
            config.safemode_extension,
        );
        if let Some(why) = safemode.reason(started) {
            log::info!("{why}");
        }
        Ok(Namesystem {
            ns: Mutex::new(ns),
            cluster_id,
            refused: Mutex::new(HashMap::new()),
            repl: Mutex::new(ReplicationQueues::new(started)),
            safemode: Mutex::new(safemode),
            store,
            datanodes: DatanodeManager::new(known, config.dead_node_timeout, started),
            config,
            started,
            failed: AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn cluster_id(&self) -> ClusterId {
        self.cluster_id
    }

    pub(crate) fn store(&self) -> &MetaStore {
        &self.store
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

    fn repl(&self) -> MutexGuard<'_, ReplicationQueues> {
        // The queues are rebuilt by the next rescan if a panic left them
        // half-changed; a poisoned lock is still usable.
        self.repl.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn safemode(&self) -> MutexGuard<'_, SafeMode> {
        // Every change to it is a field assignment.
        self.safemode.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses namespace changes while in safe mode.
    fn check_writable(&self) -> Result<()> {
        match self.safemode().refusal(Instant::now()) {
            Some(why) => Err(NamenodeError::SafeMode(why)),
            None => Ok(()),
        }
    }

    pub fn in_safe_mode(&self) -> bool {
        self.safemode().is_on()
    }

    /// Runs one change: in memory and sled under the lock, then flush, then
    /// queue deletions (see the module doc).
    async fn mutate<T>(
        &self,
        op: impl FnOnce(&mut Namespace, &mut Txn, &mut Deletions) -> Result<T>,
    ) -> Result<T> {
        self.mutate_with(Ack::Durable, op).await
    }

    /// [`Namesystem::mutate`], answering as `ack` says.
    async fn mutate_with<T>(
        &self,
        ack: Ack,
        op: impl FnOnce(&mut Namespace, &mut Txn, &mut Deletions) -> Result<T>,
    ) -> Result<T> {
        if self.failed.load(Ordering::Acquire) {
            return Err(NamenodeError::Internal(
                "the metadata store failed earlier; refusing changes until the namenode restarts"
                    .into(),
            ));
        }
        let mut dels = Deletions::new();
        let (out, commit) = {
            let mut ns = self.lock()?;
            let mut txn = Txn::new();
            let out = op(&mut ns, &mut txn, &mut dels);
            let events = ns.blocks_mut().take_events();
            self.repl().absorb(events, Instant::now());
            let out = out?;
            let commit = if txn.is_empty() && dels.is_empty() {
                None
            } else {
                match self.store.submit(txn) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        self.fail(&e);
                        return Err(e);
                    }
                }
            };
            (out, commit)
        };
        // A change that deletes replicas always waits: they may go only once
        // nothing durable refers to them.
        let wait = ack == Ack::Durable || !dels.is_empty();
        if let (Some(c), true) = (commit, wait) {
            if let Err(e) = c.durable().await {
                self.fail(&e);
                return Err(e);
            }
        }
        // (Not waited for: it is flushed with the next durable change, which
        // the committer orders after it, or by sled within half a second. A
        // failure then shows on that change.)
        self.datanodes.queue_deletes(&dels);
        Ok(out)
    }

    fn fail(&self, e: &NamenodeError) {
        log::error!("metadata store failure, refusing further changes: {e}");
        self.failed.store(true, Ordering::Release);
    }

    /// Hands blocks to the replication monitor.
    fn enqueue_node_blocks(&self, nodes: &[NodeId]) -> Result<()> {
        let ns = self.lock()?;
        let mut q = self.repl();
        for n in nodes {
            q.enqueue(ns.blocks().blocks_on(n));
        }
        Ok(())
    }

    // ----- namespace -----

    /// Access control (on): may `who` do what `check` describes on `path`?
    pub fn check_permission(&self, who: &Principal, path: &DfsPath, check: &Check) -> Result<()> {
        self.lock()?.check_permission(who, path, check)
    }

    /// Access control (on): may `who` go on with the write `file_id`? (See
    /// `Namespace::check_writer`.)
    pub fn check_writer(&self, who: &Principal, file_id: dfs_common::ids::FileId) -> Result<()> {
        self.lock()?.check_writer(who, file_id)
    }

    pub async fn mkdirs(&self, path: &DfsPath, parents: bool) -> Result<FileStatus> {
        self.check_writable()?;
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

    /// Entries of a directory after `name` (see `Namespace::count_after`).
    pub fn count_after(&self, path: &DfsPath, name: &str) -> Result<u64> {
        self.lock()?.count_after(path, name)
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
        self.check_writable()?;
        self.mutate(|ns, txn, dels| ns.rename(src, dst, overwrite, now_ms(), txn, dels))
            .await
    }

    pub async fn delete(&self, path: &DfsPath, recursive: bool) -> Result<DeleteResponse> {
        self.check_writable()?;
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

    /// `setrep`: the file's blocks go to the replication monitor (copies
    /// when raised, excess deletions when lowered).
    pub async fn set_replication(&self, path: &DfsPath, replication: u16) -> Result<FileStatus> {
        self.check_writable()?;
        self.mutate(|ns, txn, _| ns.set_replication(path, replication, txn))
            .await
    }

    /// `mkdir [-p]` with owner and mode for the directories it makes.
    pub async fn mkdirs_as(
        &self,
        path: &DfsPath,
        parents: bool,
        owner: Option<&str>,
        permission: Option<u16>,
    ) -> Result<FileStatus> {
        self.check_writable()?;
        self.mutate(|ns, txn, _| ns.mkdirs_as(path, parents, owner, permission, now_ms(), txn))
            .await
    }

    /// Times, mode, owner and group (WebHDFS SETTIMES, SETPERMISSION,
    /// SETOWNER).
    pub async fn set_attributes(&self, req: &SetAttributesRequest) -> Result<FileStatus> {
        self.check_writable()?;
        self.mutate(|ns, txn, _| ns.set_attributes(req, txn)).await
    }

    // ----- write path -----

    /// Reopens a complete file for appending (see `AppendRequest`).
    pub async fn append(&self, path: &DfsPath) -> Result<AppendResponse> {
        self.check_writable()?;
        let defaults = self.write_defaults();
        let opened = self
            .mutate(|ns, txn, _| ns.append(path, &defaults, now_ms(), Instant::now(), txn))
            .await?;
        let last_block = match opened.replaced {
            None => None,
            Some(b) => self
                .locations(path)?
                .blocks
                .into_iter()
                .find(|lb| lb.block_id == b),
        };
        let sha256_state = self
            .store
            .hash_state(opened.inode)?
            .filter(|s| s.len == opened.kept_len);
        log::info!(
            "appending to {path} ({} bytes kept, last block {})",
            opened.kept_len,
            if opened.replaced.is_some() {
                "rewritten"
            } else {
                "full"
            }
        );
        Ok(AppendResponse {
            file_id: opened.file_id,
            block_size: opened.block_size,
            replication: opened.replication,
            lease_renew_interval_ms: opened.lease_renew_interval_ms,
            status: opened.status,
            kept_len: opened.kept_len,
            last_block,
            sha256_state,
        })
    }

    fn write_defaults(&self) -> WriteDefaults {
        WriteDefaults {
            replication: self.config.replication,
            block_size: self.config.block_size,
            lease_renew_interval_ms: self.config.lease_renew_interval().as_millis() as u64,
        }
    }

    pub async fn create(&self, req: &CreateRequest) -> Result<CreateResponse> {
        self.check_writable()?;
        let defaults = WriteDefaults {
            replication: self.config.replication,
            block_size: self.config.block_size,
            lease_renew_interval_ms: self.config.lease_renew_interval().as_millis() as u64,
        };
        // Not durable before the answer: a file being written is invisible,
        // and if the namenode forgets it in a crash the upload fails (its
        // next call finds no lease) and leaves nothing. `complete` is the
        // durable step, and flushes this with it.
        self.mutate_with(Ack::Applied, |ns, txn, _| {
            ns.create(req, &defaults, now_ms(), Instant::now(), txn)
        })
        .await
    }

    pub async fn add_block(&self, req: &AddBlockRequest) -> Result<LocatedBlock> {
        self.check_writable()?;
        let live = self.datanodes.live(Instant::now());
        let candidates = DatanodeManager::candidates(&live);
        // Not durable before the answer, as `create`: a block forgotten in a
        // crash belongs to an upload that then fails, and its replicas are
        // orphans, removed by the block reports.
        let b = self
            .mutate_with(Ack::Applied, |ns, txn, _| {
                ns.add_block(req.file_id, &req.exclude, &candidates, Instant::now(), txn)
            })
            .await?;
        // Until the targets report the block, count it as taken on each, so
        // that a burst of allocations does not pile onto a node that can hold
        // only some of them.
        self.datanodes
            .reserve(&b.targets, b.block_id, b.block_size, Instant::now());
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
            access_token: None,
        })
    }

    pub async fn abandon_block(&self, req: &AbandonBlockRequest) -> Result<()> {
        self.check_writable()?;
        self.mutate(|ns, txn, dels| {
            ns.abandon_block(req.file_id, req.block_id, Instant::now(), txn, dels)
        })
        .await
    }

    /// Makes a file visible. A block committed with fewer replicas than the
    /// file's replication (the pipeline lost hops) is queued for copies now.
    pub async fn complete(&self, req: &CompleteRequest) -> Result<FileStatus> {
        self.check_writable()?;
        let st = self
            .mutate(|ns, txn, dels| ns.complete(req, now_ms(), Instant::now(), txn, dels))
            .await?;
        log::info!(
            "completed {} ({} bytes, {} blocks)",
            st.path,
            st.length,
            st.blocks
        );
        Ok(st)
    }

    /// Renewing changes nothing durable, so it is allowed in safe mode (a
    /// writer caught by a namenode restart keeps its lease meanwhile).
    pub fn renew_lease(&self, file_id: dfs_common::ids::FileId) -> Result<()> {
        self.lock()?.renew_lease(file_id, Instant::now())
    }

    pub async fn abandon_file(&self, file_id: dfs_common::ids::FileId) -> Result<()> {
        self.check_writable()?;
        let path = self
            .mutate(|ns, txn, dels| Ok(ns.abandon_file(file_id, txn, dels)))
            .await?;
        if let Some(p) = path {
            log::info!("abandoned the write of {p}");
        }
        Ok(())
    }

    /// Datanode `node` relays the write `file_id` (it said so on `create`,
    /// `append` or a lease renewal): the write ends when the node is
    /// declared dead ([`Namesystem::end_relayed_writes`]).
    pub fn note_relay(&self, file_id: dfs_common::ids::FileId, node: NodeId) -> Result<()> {
        self.lock()?.set_relay(file_id, node)
    }

    /// Abandons writes relayed by datanodes now declared dead (heartbeat
    /// monitor, after marking them), at once rather than at lease expiry:
    /// nothing of them is visible, their blocks are deleted and their
    /// paths are writable again. Nothing ends in safe mode (deleting is
    /// off, as for lease expiry).
    pub async fn end_relayed_writes(&self, now: Instant) -> Result<Vec<DfsPath>> {
        if self.in_safe_mode() {
            return Ok(Vec::new());
        }
        let view = self.datanodes.view(now);
        // Known and dead; an id the registry does not know is left to the
        // lease (a relay that registered with another namenode, say).
        let dead = |n: &NodeId| {
            view.nodes
                .get(n)
                .is_some_and(|s| s.class == NodeClass::Gone)
        };
        let paths = self
            .mutate(|ns, txn, dels| Ok(ns.end_relayed_writes(dead, txn, dels)))
            .await?;
        for p in &paths {
            log::warn!("the datanode relaying the write of {p} is dead; write abandoned");
        }
        Ok(paths)
    }

    /// Abandons writes whose lease expired before `now` (lease monitor).
    /// Nothing expires in safe mode: deleting is off, and writers could not
    /// renew through a restart anyway.
    pub async fn expire_leases(&self, now: Instant) -> Result<Vec<DfsPath>> {
        if self.in_safe_mode() {
            let mut ns = self.lock()?;
            ns.renew_all_leases(now);
            return Ok(Vec::new());
        }
        let timeout = self.config.lease_timeout;
        let paths = self
            .mutate(|ns, txn, dels| {
                let paths = ns.expire_leases(now, timeout, txn, dels);
                if ns.blocks().holds_all() {
                    // Restored: a file being written when the checkpoint
                    // was taken may have been completed since, in the
                    // metadata that was lost. Its replicas are held like
                    // those of every block the checkpoint does not know.
                    ns.blocks_mut().hold_unknown(dels.drain(..), now);
                }
                Ok(paths)
            })
            .await?;
        for p in &paths {
            log::warn!(
                "lease on {p} expired (writer silent for more than {timeout:?}); write abandoned"
            );
        }
        Ok(paths)
    }

    // ----- reads -----

    /// Where a file's blocks are: good replicas on live nodes only; nodes
    /// in admin state `Normal` first, in a random order drawn afresh for
    /// every answer (`placement::read_order`) so that the reads of a block
    /// spread over all its replicas, then decommissioning ones. Corrupt
    /// replicas are never listed: a block with no good live replica has none.
    pub fn locations(&self, path: &DfsPath) -> Result<FileLocations> {
        let view = self.datanodes.view(Instant::now());
        let seed = uuid::Uuid::new_v4().as_u64_pair().0;
        let place = |block: BlockId, replicas: &[NodeId]| {
            let pick = |class: NodeClass| -> Vec<DatanodeInfo> {
                replicas
                    .iter()
                    .filter(|id| view.class(id) == class)
                    .filter_map(|id| {
                        view.addr(id).map(|a| DatanodeInfo {
                            id: *id,
                            addr: a.to_string(),
                        })
                    })
                    .collect()
            };
            let mut out = pick(NodeClass::Live);
            crate::placement::read_order(&mut out, block, seed);
            out.extend(pick(NodeClass::LiveRetiring));
            out
        };
        self.lock()?.locations(path, place)
    }

    /// A reader found a replica whose bytes do not match: it is corrupt
    /// from now on (not counted, not served), the block is queued for a
    /// copy, and the bad replica is deleted once a good one is live
    /// elsewhere.
    pub async fn report_bad_replica(&self, r: &BadReplicaReport) -> Result<()> {
        let reason = format!("reader: {}", r.reason);
        let left = self
            .mutate(|ns, txn, _| Ok(ns.mark_corrupt(r.block_id, r.node_id, &reason, txn)))
            .await?;
        log::warn!(
            "client reported bad replica of block {} on {}: {} ({})",
            r.block_id,
            r.node_id,
            r.reason,
            match left {
                Some(n) => format!("{n} good replicas left"),
                None => "no such block".to_string(),
            }
        );
        Ok(())
    }

    // ----- datanodes -----

    /// A node (re)registers with a full block report. The report is taken
    /// first; then, in one step under the locks, the node becomes live, its
    /// blocks go to the replication monitor (excess check) and safe mode is
    /// re-evaluated. So whoever sees the node live also sees the safe-mode
    /// state its report brought about.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse> {
        let node = req.node.id;
        let now = Instant::now();
        self.check_cluster(req, now)?;
        let record = self.datanodes.record_for(&req.node);
        let bound = self.config.report_race_bound();
        self.mutate(|ns, txn, dels| {
            if let Some(rec) = &record {
                txn.put_datanode(node, rec);
            }
            dels.extend(
                ns.on_full_report(node, &req.blocks, true, now, bound, txn)
                    .into_iter()
                    .map(|b| (node, b)),
            );
            Ok(())
        })
        .await?;
        {
            let ns = self.lock()?;
            let mut q = self.repl();
            let mut sm = self.safemode();
            self.datanodes.register(&req.node, req.storage, now);
            q.enqueue(ns.blocks().blocks_on(&node));
            if sm.is_automatic() {
                let r = ns.reported_blocks(&self.datanodes.view(now));
                if sm.update(r.reported, r.total, now) {
                    log::info!(
                        "leaving safe mode: {} of {} blocks reported",
                        r.reported,
                        r.total
                    );
                    q.request_rescan();
                }
            }
        }
        Ok(RegisterResponse {
            heartbeat_interval_ms: self.config.heartbeat_interval.as_millis() as u64,
            block_report_interval_ms: self.config.block_report_interval.as_millis() as u64,
            cluster_id: self.cluster_id,
        })
    }

    /// Refuses (409, remembered for `dfs report`) a datanode that belongs
    /// to another cluster; nothing of its report is looked at.
    fn check_cluster(&self, req: &RegisterRequest, now: Instant) -> Result<()> {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        match req.cluster_id {
            Some(theirs) if theirs != self.cluster_id => {
                let message = dfs_common::proto::datanode::cluster_mismatch_message(
                    &theirs,
                    &format!("http://{}", self.config.listen),
                    &self.cluster_id,
                );
                let r = refused.entry(req.node.id).or_insert_with(|| Refusal {
                    addr: req.node.addr.clone(),
                    cluster_id: theirs,
                    message: message.clone(),
                    last: now,
                    attempts: 0,
                });
                r.attempts += 1;
                r.last = now;
                r.addr.clone_from(&req.node.addr);
                r.cluster_id = theirs;
                if r.attempts == 1 || r.attempts.is_multiple_of(100) {
                    log::error!(
                        "refused datanode {} at {} ({} attempts): {message}",
                        req.node.id,
                        req.node.addr,
                        r.attempts
                    );
                }
                Err(NamenodeError::Conflict(message))
            }
            _ => {
                refused.remove(&req.node.id);
                Ok(())
            }
        }
    }

    /// Datanodes of another cluster that tried to join lately.
    fn refused_datanodes(&self, now: Instant) -> Vec<dfs_common::proto::client::RefusedDatanode> {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        refused.retain(|_, r| now.saturating_duration_since(r.last) < REFUSAL_SHOWN);
        let mut out: Vec<_> = refused
            .iter()
            .map(|(id, r)| dfs_common::proto::client::RefusedDatanode {
                id: *id,
                addr: r.addr.clone(),
                cluster_id: r.cluster_id.to_string(),
                message: r.message.clone(),
                last_attempt_secs_ago: now.saturating_duration_since(r.last).as_secs(),
                attempts: r.attempts,
            })
            .collect();
        out.sort_by(|a, b| a.addr.cmp(&b.addr));
        out
    }

    /// Unknown replicas, cluster-wide and per node.
    pub fn orphans(&self) -> Result<OrphansReport> {
        let directory = self.datanodes.directory();
        let ns = self.lock()?;
        let (by_node, reasons) = ns.blocks().orphans_by_node();
        let mut u = UnknownReplicas::default();
        let mut nodes = Vec::with_capacity(by_node.len());
        for (id, held, waiting) in by_node {
            u.held += held;
            u.waiting += waiting;
            if held > 0 {
                u.held_nodes += 1;
            }
            nodes.push(NodeOrphans {
                id,
                addr: directory
                    .iter()
                    .find(|(n, _)| *n == id)
                    .map(|(_, a)| a.clone())
                    .unwrap_or_default(),
                held,
                waiting,
                known: ns.replica_count(&id),
            });
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
        Ok(OrphansReport {
            unknown_replicas: u,
            nodes,
        })
    }

    /// The operator's word: every unknown replica (held or waiting) is
    /// ordered deleted, and holding after a restore ends.
    pub async fn delete_orphans(&self) -> Result<OrphansDeleted> {
        self.check_writable()?;
        let out = self
            .mutate(|ns, txn, dels| {
                let was_restored = ns.blocks().holds_all();
                let taken = ns.blocks_mut().take_orphans();
                if was_restored {
                    txn.del_restored();
                }
                let nodes: std::collections::HashSet<NodeId> =
                    taken.iter().map(|(n, _)| *n).collect();
                let out = OrphansDeleted {
                    replicas: taken.len() as u64,
                    nodes: nodes.len() as u32,
                };
                dels.extend(taken);
                Ok(out)
            })
            .await?;
        log::warn!(
            "an operator ordered {} replicas of unknown blocks deleted on {} datanodes",
            out.replicas,
            out.nodes
        );
        Ok(out)
    }

    pub fn heartbeat(&self, hb: &Heartbeat) -> HeartbeatReply {
        match self.datanodes.heartbeat(hb, Instant::now()) {
            Some(out) => {
                if out.came_back {
                    // Its replicas count again: some blocks may now be over-replicated.
                    if let Err(e) = self.enqueue_node_blocks(&[hb.node_id]) {
                        log::error!("heartbeat: {e}");
                    }
                }
                HeartbeatReply {
                    commands: out.commands,
                }
            }
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
        let now = Instant::now();
        self.datanodes.touch(&r.node_id, now);
        let node = r.node_id;
        let bound = self.config.report_race_bound();
        self.mutate(|ns, txn, dels| {
            dels.extend(
                ns.on_full_report(node, &r.blocks, false, now, bound, txn)
                    .into_iter()
                    .map(|b| (node, b)),
            );
            Ok(())
        })
        .await?;
        self.update_safe_mode(now)
    }

    pub async fn block_received(&self, r: &IncrementalBlockReport) -> Result<()> {
        if !self.datanodes.is_registered(&r.node_id) {
            return Ok(());
        }
        let now = Instant::now();
        self.datanodes.touch(&r.node_id, now);
        self.datanodes
            .received(&r.node_id, r.received.iter().map(|b| b.id));
        let node = r.node_id;
        self.mutate(|ns, txn, dels| {
            let d = ns.on_incremental_report(node, &r.received, &r.deleted, now, txn);
            dels.extend(d.into_iter().map(|b| (node, b)));
            Ok(())
        })
        .await
    }

    /// A datanode found one of its replicas bad (scanner or sender) and has
    /// already quarantined it: corrupt, as with a reader's report.
    pub async fn bad_block(&self, r: &BadBlockReport) -> Result<()> {
        log::warn!(
            "datanode {} reports bad block {}: {}",
            r.node_id,
            r.block_id,
            r.reason
        );
        let reason = format!("datanode: {}", r.reason);
        self.mutate(|ns, txn, _| Ok(ns.mark_corrupt(r.block_id, r.node_id, &reason, txn)))
            .await?;
        Ok(())
    }

    /// Marks silent datanodes dead (heartbeat monitor); their blocks go to
    /// the replication monitor, and copies from or to them are cancelled.
    pub fn check_dead_nodes(&self, now: Instant) -> Vec<NodeId> {
        let dead = self.datanodes.check_dead(now);
        if !dead.is_empty() {
            match self.lock() {
                Ok(ns) => {
                    let mut q = self.repl();
                    for n in &dead {
                        q.node_lost(n);
                        q.enqueue(ns.blocks().blocks_on(n));
                    }
                }
                Err(e) => log::error!("heartbeat monitor: {e}"),
            }
        }
        dead
    }

    // ----- replication, safe mode, decommissioning -----

    /// Recounts reported blocks while in automatic safe mode; leaving it
    /// triggers a full look at every block.
    pub fn update_safe_mode(&self, now: Instant) -> Result<()> {
        if !self.safemode().is_automatic() {
            return Ok(());
        }
        let view = self.datanodes.view(now);
        let ns = self.lock()?;
        let r = ns.reported_blocks(&view);
        let mut q = self.repl();
        let mut sm = self.safemode();
        if sm.update(r.reported, r.total, now) {
            log::info!(
                "leaving safe mode: {} of {} blocks reported",
                r.reported,
                r.total
            );
            q.request_rescan();
        }
        Ok(())
    }

    /// One pass of the replication monitor (see `replication`). Does
    /// nothing but count reports while in safe mode.
    pub async fn replication_tick(&self, now: Instant) -> Result<()> {
        self.update_safe_mode(now)?;
        if self.in_safe_mode() {
            return Ok(());
        }
        let view = self.datanodes.view(now);
        let settings = replication::Settings {
            max_streams: self.config.replication_max_streams,
            pending_timeout: self.config.replication_pending_timeout,
            orphan_grace: self.config.orphan_grace,
            race_bound: self.config.report_race_bound(),
        };
        let out = self
            .mutate(|ns, txn, dels| {
                let mut q = self.repl();
                let out = replication::tick(ns, &mut q, &view, now, &settings, txn, dels);
                for n in &out.decommissioned {
                    if let Some(rec) = self.datanodes.set_admin(n, AdminState::Decommissioned) {
                        log::info!("datanode {n} ({}) is decommissioned", rec.addr);
                        txn.put_datanode(*n, &rec);
                    }
                }
                Ok(out)
            })
            .await?;
        for (node, cmd) in out.replicate {
            self.datanodes.queue_command(&node, cmd);
        }
        Ok(())
    }

    /// `dfsadmin -safemode get|enter|leave`.
    pub fn safe_mode_action(&self, action: SafeModeAction) -> Result<SafeModeStatus> {
        let now = Instant::now();
        match action {
            SafeModeAction::Get => {}
            SafeModeAction::Enter => {
                log::warn!("safe mode entered by an operator");
                self.safemode().enter();
            }
            SafeModeAction::Leave => {
                let was_on = self.safemode().is_on();
                self.safemode().leave();
                if was_on {
                    log::warn!("safe mode left by an operator");
                    self.repl().request_rescan();
                }
            }
        }
        self.update_safe_mode(now)?;
        let sm = self.safemode();
        Ok(SafeModeStatus {
            safe_mode: sm.is_on(),
            reason: sm.reason(now),
        })
    }

    /// Starts (`decommission`) or ends (`!decommission`) the retirement of
    /// the node an operator names (id, id prefix or address).
    pub async fn set_admin_state(&self, query: &str, decommission: bool) -> Result<DatanodeReport> {
        let node = crate::datanodes::resolve_node(query, &self.datanodes.directory()).map_err(
            |e| match e {
                ResolveError::NotFound(m) => NamenodeError::NotFound(m),
                ResolveError::Ambiguous(m) => NamenodeError::Conflict(m),
            },
        )?;
        self.check_writable()?;
        let current = self
            .datanodes
            .admin_state(&node)
            .ok_or_else(|| NamenodeError::NotFound(format!("datanode {node} is unknown")))?;
        let target = match (decommission, current) {
            (true, AdminState::Normal) => Some(AdminState::Decommissioning),
            (true, _) => None,
            (false, AdminState::Normal) => None,
            (false, _) => Some(AdminState::Normal),
        };
        if let Some(target) = target {
            self.mutate(|_, txn, _| {
                if let Some(rec) = self.datanodes.set_admin(&node, target) {
                    txn.put_datanode(node, &rec);
                }
                Ok(())
            })
            .await?;
            // Decommission: its blocks need copies elsewhere. Recommission:
            // its replicas count again, so excess ones get trimmed.
            self.enqueue_node_blocks(&[node])?;
            // Report the new state with up-to-date drain numbers.
            self.replication_tick(Instant::now()).await?;
        }
        self.datanode_reports()?
            .into_iter()
            .find(|r| r.id == node)
            .ok_or_else(|| NamenodeError::NotFound(format!("datanode {node} is unknown")))
    }

    // ----- cluster views -----

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
            cluster_id: None,
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
            sha256_state: None,
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
        // Blocks exist but none is reported yet: safe mode refuses changes.
        let s = ns.summary().unwrap();
        assert!(s.safe_mode);
        assert!(
            s.safe_mode_reason
                .as_deref()
                .unwrap()
                .contains("0 of 1 blocks reported"),
            "{s:?}"
        );
        let e = ns.mkdirs(&p("/new"), false).await.unwrap_err();
        assert!(matches!(e, NamenodeError::SafeMode(_)), "{e:?}");
        assert!(ns.fsck(&DfsPath::root()).unwrap().safe_mode);
        ns.safe_mode_action(SafeModeAction::Leave).unwrap();
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

    fn hb(id: NodeId) -> Heartbeat {
        Heartbeat {
            node_id: id,
            storage: StorageReport {
                capacity: 1 << 30,
                used: 0,
                available: 1 << 30,
            },
            active_transfers: 0,
            filesystem: None,
        }
    }

    /// Commands waiting for `id`.
    fn commands(ns: &Namesystem, id: NodeId) -> Vec<Command> {
        ns.heartbeat(&hb(id)).commands
    }

    fn replica_of(block: BlockId, data: &[u8]) -> ReportedBlock {
        ReportedBlock {
            id: block,
            len: data.len() as u64,
            sha256: Sha256Digest::of(data),
        }
    }

    async fn received(ns: &Namesystem, node: NodeId, rb: ReportedBlock) {
        ns.block_received(&IncrementalBlockReport {
            node_id: node,
            received: vec![rb],
            deleted: vec![],
        })
        .await
        .unwrap();
    }

    async fn deleted(ns: &Namesystem, node: NodeId, block: BlockId) {
        ns.block_received(&IncrementalBlockReport {
            node_id: node,
            received: vec![],
            deleted: vec![block],
        })
        .await
        .unwrap();
    }

    fn holders(ns: &Namesystem, path: &str) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = ns.locations(&p(path)).unwrap().blocks[0]
            .replicas
            .iter()
            .map(|r| r.id)
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn reports_reconcile_and_deletions_ride_heartbeats() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        config.orphan_grace = Duration::ZERO;
        let ns = Namesystem::open(config).await.unwrap();
        let a = register(&ns, vec![]).await;
        let b = register(&ns, vec![]).await;
        let f = put(&ns, "/f", b"data").await;
        assert_eq!(f.replication, 2);
        let loc = ns.locations(&p("/f")).unwrap();
        let block = loc.blocks[0].block_id;
        assert_eq!(loc.blocks[0].replicas.len(), 2);
        assert!(commands(&ns, a).is_empty());
        assert_eq!(
            ns.heartbeat(&hb(NodeId::new())).commands,
            vec![Command::Reregister]
        );

        // b reports a stranger block and lacks the real one (the real one
        // was recorded just now, so this report may predate it: kept).
        let stranger = replica_of(BlockId::new(), b"?");
        ns.block_report(&BlockReport {
            node_id: b,
            blocks: vec![stranger],
        })
        .await
        .unwrap();
        assert!(commands(&ns, b).is_empty(), "orphans wait for the monitor");
        assert_eq!(ns.locations(&p("/f")).unwrap().blocks[0].replicas.len(), 2);
        ns.replication_tick(Instant::now()).await.unwrap();
        assert_eq!(
            commands(&ns, b),
            vec![Command::Delete {
                blocks: vec![stranger.id]
            }]
        );
        let good = replica_of(block, b"data");
        // A client reports a bad replica: not served any more, deleted since
        // a good one remains, and the block queued for a copy.
        ns.report_bad_replica(&BadReplicaReport {
            block_id: block,
            node_id: a,
            reason: "crc".into(),
        })
        .await
        .unwrap();
        assert_eq!(holders(&ns, "/f"), vec![b]);
        let s = ns.summary().unwrap();
        assert_eq!((s.corrupt_replicas, s.under_replicated_blocks), (1, 1));
        ns.replication_tick(Instant::now()).await.unwrap();
        assert_eq!(
            commands(&ns, a),
            vec![Command::Delete {
                blocks: vec![block]
            }]
        );
        let fsck = ns.fsck(&DfsPath::root()).unwrap();
        assert_eq!(fsck.under_replicated_blocks, 1);
        assert!(fsck.healthy);
        deleted(&ns, a, block).await;
        assert_eq!(ns.summary().unwrap().corrupt_replicas, 0);
        // The last replica goes bad: the block is corrupt, nothing is served,
        // and the bad copy is never deleted by us.
        ns.bad_block(&BadBlockReport {
            node_id: b,
            block_id: block,
            reason: "scan".into(),
        })
        .await
        .unwrap();
        ns.replication_tick(Instant::now()).await.unwrap();
        assert!(commands(&ns, b).is_empty());
        let s = ns.summary().unwrap();
        assert_eq!((s.corrupt_blocks, s.missing_blocks), (1, 0));
        assert!(ns.locations(&p("/f")).unwrap().blocks[0]
            .replicas
            .is_empty());
        let fsck = ns.fsck(&DfsPath::root()).unwrap();
        assert_eq!(fsck.corrupt_blocks, 1);
        assert!(!fsck.healthy);
        // A fresh good copy arrives (re-replicated, say).
        received(&ns, b, good).await;
        assert_eq!(holders(&ns, "/f"), vec![b]);
        // Deleting the file queues deletions for recorded replicas.
        ns.delete(&p("/f"), false).await.unwrap();
        assert_eq!(
            commands(&ns, b),
            vec![Command::Delete {
                blocks: vec![block]
            }]
        );
        let s = ns.summary().unwrap();
        assert_eq!((s.files, s.blocks, s.live_datanodes), (0, 0, 2));
    }

    /// The Replicate command queued for `source`, if any.
    fn replicate_of(cmds: &[Command]) -> Option<(BlockId, Vec<NodeId>)> {
        cmds.iter().find_map(|c| match c {
            Command::Replicate {
                block_id, targets, ..
            } => Some((*block_id, targets.iter().map(|t| t.id).collect())),
            _ => None,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_node_is_repaired_and_its_return_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        config.dead_node_timeout = Duration::from_secs(5);
        let ns = Namesystem::open(config).await.unwrap();
        let nodes = [
            register(&ns, vec![]).await,
            register(&ns, vec![]).await,
            register(&ns, vec![]).await,
        ];
        put(&ns, "/f", b"data").await;
        let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
        let had = holders(&ns, "/f");
        let (lost, kept) = (had[0], had[1]);
        let spare = *nodes.iter().find(|n| !had.contains(n)).unwrap();
        ns.replication_tick(Instant::now()).await.unwrap();
        assert_eq!(ns.summary().unwrap().replication.pending_copies, 0);

        // `lost` goes silent.
        tokio::time::advance(Duration::from_secs(4)).await;
        for n in [kept, spare] {
            commands(&ns, n);
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        for n in [kept, spare] {
            commands(&ns, n);
        }
        assert_eq!(ns.check_dead_nodes(Instant::now()), vec![lost]);
        assert_eq!(ns.summary().unwrap().under_replicated_blocks, 1);
        ns.replication_tick(Instant::now()).await.unwrap();
        let s = ns.summary().unwrap();
        assert_eq!(
            (s.replication.pending_copies, s.replication.queued_blocks),
            (1, 0)
        );
        let rows = ns.datanode_reports().unwrap();
        let row = |id| {
            rows.iter()
                .find(|r| r.id == id)
                .unwrap()
                .replication_in_flight
        };
        assert_eq!((row(kept), row(spare)), (1, 1));
        // The only live holder sends to the only other live node.
        assert_eq!(
            replicate_of(&commands(&ns, kept)),
            Some((block, vec![spare]))
        );
        // Not scheduled twice.
        ns.replication_tick(Instant::now()).await.unwrap();
        assert_eq!(replicate_of(&commands(&ns, kept)), None);
        received(&ns, spare, replica_of(block, b"data")).await;
        let s = ns.summary().unwrap();
        assert_eq!(s.replication.pending_copies, 0);
        assert_eq!(s.replication.completed_copies, 1);
        assert_eq!(s.replication.completed_bytes, 4);
        assert_eq!(s.under_replicated_blocks, 0);

        // `lost` comes back with its old replica: three live, two wanted.
        assert!(ns.heartbeat(&hb(lost)).commands.is_empty());
        assert_eq!(ns.summary().unwrap().over_replicated_blocks, 1);
        ns.replication_tick(Instant::now()).await.unwrap();
        let s = ns.summary().unwrap();
        assert_eq!(s.replication.excess_deleted, 1);
        assert_eq!(s.over_replicated_blocks, 0);
        let deletes: usize = [lost, kept, spare]
            .iter()
            .map(|n| {
                commands(&ns, *n)
                    .iter()
                    .filter(|c| matches!(c, Command::Delete { .. }))
                    .count()
            })
            .sum();
        assert_eq!(deletes, 1);
        assert_eq!(holders(&ns, "/f").len(), 2);
        assert!(ns.fsck(&DfsPath::root()).unwrap().healthy);
    }

    #[tokio::test(start_paused = true)]
    async fn copies_are_throttled_and_time_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        config.replication = 1;
        config.replication_max_streams = 1;
        config.replication_pending_timeout = Duration::from_secs(10);
        let ns = Namesystem::open(config).await.unwrap();
        let a = register(&ns, vec![]).await;
        put(&ns, "/f1", b"one").await;
        put(&ns, "/f2", b"two").await;
        let b = register(&ns, vec![]).await;
        ns.set_replication(&p("/f1"), 2).await.unwrap();
        ns.set_replication(&p("/f2"), 2).await.unwrap();
        ns.replication_tick(Instant::now()).await.unwrap();
        let s = ns.summary().unwrap();
        assert_eq!(
            (s.replication.pending_copies, s.replication.queued_blocks),
            (1, 1),
            "one stream per node"
        );
        assert_eq!(s.replication.remaining_bytes, 6);
        let (first, targets) = replicate_of(&commands(&ns, a)).unwrap();
        assert_eq!(targets, vec![b]);
        // Nobody confirms: the copy times out and is scheduled again.
        tokio::time::advance(Duration::from_secs(11)).await;
        commands(&ns, b);
        ns.replication_tick(Instant::now()).await.unwrap();
        let s = ns.summary().unwrap();
        assert_eq!(s.replication.timed_out_copies, 1);
        assert_eq!(s.replication.pending_copies, 1);
        let (again, _) = replicate_of(&commands(&ns, a)).unwrap();
        // Fewest live replicas first, then by id: the same block again.
        assert_eq!(again, first);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_write_is_repaired_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let a = register(&ns, vec![]).await;
        let b = register(&ns, vec![]).await;
        let c = ns.create(&create_req("/f")).await.unwrap();
        let lb = ns
            .add_block(&AddBlockRequest {
                file_id: c.file_id,
                exclude: vec![],
            })
            .await
            .unwrap();
        let first = lb.replicas[0].id;
        let other = if first == a { b } else { a };
        ns.complete(&CompleteRequest {
            file_id: c.file_id,
            blocks: vec![CommittedBlock {
                block_id: lb.block_id,
                len: 2,
                sha256: Sha256Digest::of(b"hi"),
                replicas: vec![first],
            }],
            length: 2,
            sha256: Sha256Digest::of(b"hi"),
            sha256_state: None,
        })
        .await
        .unwrap();
        ns.replication_tick(Instant::now()).await.unwrap();
        assert_eq!(
            replicate_of(&commands(&ns, first)),
            Some((lb.block_id, vec![other]))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn safe_mode_after_restart_and_presumed_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        config.dead_node_timeout = Duration::from_secs(30);
        let (a, b, block) = {
            let ns = Namesystem::open(config.clone()).await.unwrap();
            assert!(!ns.summary().unwrap().safe_mode, "empty namespace");
            let a = register(&ns, vec![]).await;
            let b = register(&ns, vec![]).await;
            put(&ns, "/f", b"data").await;
            let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
            (a, b, block)
        };
        let ns = Namesystem::open(config).await.unwrap();
        assert!(ns.in_safe_mode());
        let e = ns.create(&create_req("/g")).await.unwrap_err();
        assert!(e.to_string().contains("0 of 1 blocks reported"), "{e}");
        assert!(e.to_string().contains("99.9%"), "{e}");
        ns.replication_tick(Instant::now()).await.unwrap();
        // Nodes from before count while they have time to register.
        let s = ns.summary().unwrap();
        assert_eq!((s.under_replicated_blocks, s.missing_blocks), (0, 0));
        // a registers with the block: everything reported, safe mode ends.
        ns.register(&RegisterRequest {
            cluster_id: None,
            node: DatanodeInfo {
                id: a,
                addr: format!("http://dn-{a}"),
            },
            storage: StorageReport {
                capacity: 1 << 30,
                used: 0,
                available: 1 << 30,
            },
            blocks: vec![replica_of(block, b"data")],
            version: "t".into(),
        })
        .await
        .unwrap();
        let s = ns.summary().unwrap();
        assert!(!s.safe_mode);
        assert_eq!(s.safe_mode_reason, None);
        ns.replication_tick(Instant::now()).await.unwrap();
        assert_eq!(ns.summary().unwrap().replication.pending_copies, 0);
        assert_eq!(ns.health_extras().unwrap().awaiting_registration, 1);
        // b never registers: after the timeout it is dead and the block is
        // copied (here nowhere to: one live node, so it stays queued).
        tokio::time::advance(Duration::from_secs(31)).await;
        commands(&ns, a);
        assert_eq!(ns.check_dead_nodes(Instant::now()), vec![b]);
        ns.replication_tick(Instant::now()).await.unwrap();
        let s = ns.summary().unwrap();
        assert_eq!(s.under_replicated_blocks, 1);
        assert_eq!(s.replication.queued_blocks, 1);
        // Operators can enter and leave.
        let st = ns.safe_mode_action(SafeModeAction::Enter).unwrap();
        assert!(st.safe_mode);
        assert!(ns.mkdirs(&p("/x"), true).await.is_err());
        let st = ns.safe_mode_action(SafeModeAction::Leave).unwrap();
        assert_eq!(
            st,
            SafeModeStatus {
                safe_mode: false,
                reason: None
            }
        );
        ns.mkdirs(&p("/x"), true).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn decommission_drains_then_recommission_trims() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let nodes = [
            register(&ns, vec![]).await,
            register(&ns, vec![]).await,
            register(&ns, vec![]).await,
        ];
        put(&ns, "/f", b"data").await;
        let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
        let had = holders(&ns, "/f");
        let (leaving, kept) = (had[0], had[1]);
        let spare = *nodes.iter().find(|n| !had.contains(n)).unwrap();

        // By a unique id prefix.
        let prefix = &leaving.to_string()[..12];
        let r = ns.set_admin_state(prefix, true).await.unwrap();
        assert_eq!(r.id, leaving);
        assert_eq!(r.admin_state, AdminState::Decommissioning);
        assert_eq!(r.decommission_remaining_blocks, 1);
        let s = ns.summary().unwrap();
        assert_eq!(s.decommissioning_datanodes, 1);
        assert_eq!(s.under_replicated_blocks, 1);
        // It still serves reads, last.
        let loc = ns.locations(&p("/f")).unwrap();
        assert_eq!(loc.blocks[0].replicas.last().unwrap().id, leaving);
        // Its block is copied to the spare (from either holder).
        let cmds: Vec<_> = [leaving, kept]
            .iter()
            .filter_map(|n| replicate_of(&commands(&ns, *n)))
            .collect();
        assert_eq!(cmds, vec![(block, vec![spare])]);
        received(&ns, spare, replica_of(block, b"data")).await;
        ns.replication_tick(Instant::now()).await.unwrap();
        let rows = ns.datanode_reports().unwrap();
        let row = rows.iter().find(|r| r.id == leaving).unwrap();
        assert_eq!(row.admin_state, AdminState::Decommissioned);
        assert_eq!(ns.summary().unwrap().decommissioned_datanodes, 1);
        // New blocks avoid it.
        for _ in 0..5 {
            let c = ns.create(&create_req("/g")).await.unwrap();
            let lb = ns
                .add_block(&AddBlockRequest {
                    file_id: c.file_id,
                    exclude: vec![],
                })
                .await
                .unwrap();
            assert!(lb.replicas.iter().all(|r| r.id != leaving));
            ns.abandon_file(c.file_id).await.unwrap();
        }
        // By address; back to normal, and the excess copy is trimmed.
        let addr = format!("http://dn-{leaving}");
        let r = ns.set_admin_state(&addr, false).await.unwrap();
        assert_eq!(r.admin_state, AdminState::Normal);
        let s = ns.summary().unwrap();
        assert_eq!(s.replication.excess_deleted, 1);
        assert_eq!(s.over_replicated_blocks, 0);
        assert_eq!(holders(&ns, "/f").len(), 2);
        // Unknown and ambiguous names.
        assert!(matches!(
            ns.set_admin_state("ffffffffffff", true).await,
            Err(NamenodeError::NotFound(_))
        ));
        assert!(matches!(
            ns.set_admin_state("127.0.0.1:1", true).await,
            Err(NamenodeError::NotFound(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn admin_state_survives_restart() {
        let dir = tempfile::tempdir().unwrap();
        let a = {
            let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
            let a = register(&ns, vec![]).await;
            ns.set_admin_state(&a.to_string(), true).await.unwrap();
            a
        };
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let rows = ns.datanode_reports().unwrap();
        // No blocks anywhere: it drains at once... on the next tick, once registered.
        assert_eq!(rows[0].id, a);
        assert_ne!(rows[0].admin_state, AdminState::Normal);
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
            filesystem: None,
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

    #[tokio::test]
    async fn another_clusters_datanode_is_refused_and_shown() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let theirs = ClusterId::new();
        let node = DatanodeInfo {
            id: NodeId::new(),
            addr: "http://stranger:1".into(),
        };
        let req = |cluster_id| RegisterRequest {
            cluster_id,
            node: node.clone(),
            storage: StorageReport::default(),
            blocks: vec![replica_of(BlockId::new(), b"theirs")],
            version: "t".into(),
        };
        let e = ns.register(&req(Some(theirs))).await.unwrap_err();
        assert!(matches!(e, NamenodeError::Conflict(_)), "{e}");
        assert!(
            e.to_string()
                .contains(&format!("belongs to cluster {theirs}")),
            "{e}"
        );
        let s = ns.summary().unwrap();
        assert_eq!(s.live_datanodes, 0);
        assert_eq!(s.refused_datanodes.len(), 1);
        assert_eq!(s.refused_datanodes[0].cluster_id, theirs.to_string());
        assert_eq!(
            s.unknown_replicas,
            UnknownReplicas::default(),
            "its report was not looked at"
        );
        // Its own cluster's id is accepted (and the refusal forgotten).
        let ok = ns.register(&req(Some(ns.cluster_id()))).await.unwrap();
        assert_eq!(ok.cluster_id, ns.cluster_id());
        let s = ns.summary().unwrap();
        assert!(s.refused_datanodes.is_empty());
        assert_eq!(s.unknown_replicas.held, 1, "reported at registration: held");
        // The cluster id survives a restart.
        let id = ns.cluster_id();
        drop(ns);
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        assert_eq!(ns.cluster_id(), id);
        // The operator's word deletes held replicas.
        let n = register(&ns, vec![replica_of(BlockId::new(), b"x")]).await;
        let d = ns.delete_orphans().await.unwrap();
        assert_eq!((d.replicas, d.nodes), (1, 1));
        assert!(commands(&ns, n)
            .iter()
            .any(|c| matches!(c, Command::Delete { blocks } if blocks.len() == 1)));
    }
}

/// When a change is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ack {
    /// Once it is flushed to disk: whatever a client was told it may rely on.
    Durable,
    /// Once it is applied in memory and queued for the disk: only for steps
    /// of an upload that `complete` makes durable later (see `create`).
    Applied,
}
