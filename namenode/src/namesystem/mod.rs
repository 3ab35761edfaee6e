//! `Namesystem`: the namenode's state and the one door to it (HDFS
//! FSNamesystem). It owns the in-memory [`Namespace`] behind one read-write
//! lock (reads share it, changes take it in turn), the
//! [`MetaStore`] it writes through to, the [`DatanodeManager`], the
//! replication queues and the safe-mode gate, and gives every API handler
//! and worker a typed async method.
//!
//! This file holds the state and the one way to change it
//! ([`Namesystem::mutate`]); the operations live beside it by job: `names`
//! (the namespace), `write` (uploads and leases), `reads`,
//! `datanode_protocol` (what datanodes send), `admin` (periodic and operator
//! work: dead nodes, safe mode, the replication tick, decommissioning),
//! `views` (summary, reports, fsck) and `replicated` (what the Raft state
//! machine calls: committed entries, a snapshot's records).
//!
//! A change to the namespace is a [`Command`] (see [`crate::commands`]):
//! the namesystem decides its non-deterministic inputs (the clock, new file
//! and block ids, a block's pipeline) and proposes it to the namenodes'
//! Raft group ([`Namesystem::execute`], through the attached
//! [`Proposer`]); once the group has committed it (durable in the log of a
//! majority), each namenode applies it with [`Namespace::apply`] in log
//! order ([`Namesystem::apply_committed`]), and the proposer answers with
//! the outcome. That is the only way the tree, the files being written and
//! block ownership change. The applied state is written to the metadata
//! store in the same order, not waited for: the log holds every committed
//! entry, and a start re-applies what the store lost.
//!
//! What datanodes report (replica locations, corrupt replicas) is soft
//! state and changes through [`Namesystem::mutate`] directly, on each
//! namenode:
//! 1. wait for the namespace's turn (without blocking the thread) and lock
//!    it, run the operation (validate, then change memory and
//!    record the same change in a `Txn`), hand the block map's change events
//!    to the replication queues, queue the `Txn` for the store's committer
//!    (so transactions reach the journal in the order the changes were made), unlock;
//! 2. await the commit (outside the lock): the committer applies every
//!    queued transaction as one batch and flushes once for all of them
//!    (group commit, see `meta_store`);
//! 3. only then queue block deletions on datanodes and answer the caller.
//!
//! So an acknowledged change is durable, and a replica is deleted only after
//! the metadata that stopped referring to it is durable (in the Raft log,
//! for a command).
//!
//! Safe mode: every namespace change checks the gate first and fails with
//! [`NamenodeError::SafeMode`] (503); datanode reports are always taken
//! (they are how safe mode ends); the replication monitor and lease expiry
//! do nothing while it is on, so nothing is copied or deleted.
//!
//! Hazard: if the journal fails to write or sync, memory is ahead of disk. The
//! namesystem then refuses every later change (fail-stop, as HDFS does when
//! its edit log fails); a restart reloads the last durable state.
//!
//! Lock order: the namespace's turn (async callers, see
//! [`Namesystem::lock_async`]), namespace, then replication queues, then
//! safe mode, then datanode registry, never the reverse. Most operations take a node
//! snapshot from the registry *before* locking the namespace and queue
//! deletions and commands *after* unlocking it. The published counters
//! (`views`) are a leaf: their mutex is held only to swap or clone an
//! `Arc`, so the operators' endpoints take neither the namespace's nor
//! the queues' lock (only the registry's and safe mode's, held briefly).
use crate::commands::{Command, Completion, Entry, NewFile, Outcome};
use crate::config::Config;
use crate::datanodes::{DatanodeManager, NodeClass, ResolveError};
use crate::error::{NamenodeError, Result};
use crate::meta_store::{MetaStore, Txn};
use crate::namespace::permission::{Check, Principal};
use crate::namespace::report::NamespaceCounts;
use crate::namespace::{Deletions, Namespace};
use crate::records::{Maintenance, FILE_PERMISSION};
use crate::replication::{self, ReplicationQueues};
use crate::safemode::SafeMode;
use dfs_common::ids::{BlockId, ClusterId, FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, AdminState, AppendResponse, BadReplicaReport,
    ClusterSummary, CompleteRequest, ContentSummary, CreateRequest, CreateResponse, DatanodeReport,
    DeleteResponse, DirectoryListing, FileLocations, FileStatus, FsckReport, LocatedBlock,
    NodeOrphans, OrphansDeleted, OrphansReport, SetAttributesRequest, UnknownReplicas,
};
use dfs_common::proto::datanode::{
    BadBlockReport, BlockReport, Command as DnCommand, Heartbeat, HeartbeatReply,
    IncrementalBlockReport, RegisterRequest, RegisterResponse,
};
use dfs_common::proto::DatanodeInfo;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
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
pub use timing::ChangeTimesSnapshot;
pub use views::{OperatorView, Published};

/// Operational numbers for `/health` beyond the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthExtras {
    pub awaiting_registration: u32,
    pub orphan_replicas: u64,
    /// Datanodes in maintenance.
    pub in_maintenance: u32,
    /// Data dirs out of service on the live datanodes.
    pub failed_disks: u64,
}

/// When a change of soft state waits for its journal sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SyncWhen {
    Always,
    /// Only when it queues deletions (`Namesystem::mutate_soft`).
    IfDeleting,
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

fn poisoned() -> NamenodeError {
    NamenodeError::Internal(
        "namespace lock poisoned by an earlier panic; restart the namenode".into(),
    )
}

/// Refused datanodes are shown for this long after their last attempt.
const REFUSAL_SHOWN: std::time::Duration = std::time::Duration::from_secs(120);

pub struct Namesystem {
    /// Read by many at once (`stat`, `list`, access checks); changed by
    /// one at a time, in turn (see [`Namesystem::lock_async`]).
    ns: RwLock<Namespace>,
    /// The queue for `ns` of async callers (see [`Namesystem::lock_async`]).
    turn: tokio::sync::Mutex<()>,
    /// Made with the metadata (or taken from the Raft group's snapshot);
    /// datanodes of another cluster are refused.
    cluster_id: Mutex<ClusterId>,
    refused: Mutex<HashMap<NodeId, Refusal>>,
    repl: Mutex<ReplicationQueues>,
    /// What the operators' endpoints read without the two locks above
    /// (see `views`).
    published: views::Board,
    safemode: Mutex<SafeMode>,
    store: MetaStore,
    datanodes: DatanodeManager,
    config: Config,
    started: Instant,
    failed: AtomicBool,
    /// Where changes spend their time (`/metrics`).
    times: timing::ChangeTimes,
    /// How commands reach the replicated log (`crate::raft`), attached
    /// once the group is started.
    proposer: std::sync::OnceLock<std::sync::Arc<dyn Proposer>>,
}

/// How a command reaches the replicated log (`crate::raft::group::Group`):
/// `propose` returns once the command is committed and applied on this
/// namenode (through [`Namesystem::apply_committed`]), with its outcome.
pub trait Proposer: Send + Sync {
    /// Commands in order, committed together; each one's outcome.
    #[allow(clippy::type_complexity)]
    fn propose(
        &self,
        entries: Vec<Entry>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Vec<Result<Outcome>>>> + Send + '_>,
    >;

    /// This namenode's standing in its group now: its term, and whether it
    /// is the leader (as far as it knows: a frozen one may not know yet).
    fn leadership(&self) -> dfs_common::proto::datanode::Leadership;

    /// Whether it leads and heard from a quorum recently enough that no
    /// other can have been elected meanwhile (for work decided from soft
    /// state: repairs, lease expiry); asks a quorum when unsure.
    fn leads_surely(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>>;

    /// Whether the group has other voters.
    fn several(&self) -> bool;
}

impl Namesystem {
    /// Opens the store under `config.data_dir` and loads everything.
    pub async fn open(config: Config) -> Result<Self> {
        let clock = std::time::Instant::now();
        let store = MetaStore::open(&config.data_dir)?;
        let opened = clock.elapsed();
        let started = Instant::now();
        let crate::load::Built {
            mut ns,
            mut txn,
            cluster_id,
        } = crate::load::load(&store, now_ms(), started)?;
        let steps = format!(
            "read and built in {:.2} s",
            (clock.elapsed() - opened).as_secs_f64()
        );
        let known: Vec<_> = ns
            .cluster()
            .datanodes
            .iter()
            .map(|(id, rec)| (*id, rec.clone()))
            .collect();
        let known_nodes = known.len();
        let restored = ns.cluster().restored;
        // Metadata made by a version without cluster ids gets one now; the
        // datanodes that knew it adopt it when they next register.
        let cluster_id = match cluster_id {
            Some(id) => id,
            None => {
                let id = ClusterId::new();
                txn.put_cluster_id(id);
                log::info!("new cluster id {id}");
                id
            }
        };
        if let Some(at) = restored {
            log::warn!(
                "metadata restored from a checkpoint ({} ms since the epoch): replicas of blocks it does not know are held until an operator runs `dfs orphans delete`",
                at
            );
            ns.hold_all_unknown_replicas();
        }
        release_free_memory();
        store.apply(txn).await?;
        let datanodes = DatanodeManager::new(known, config.dead_node_timeout, started);
        datanodes.adopt(
            &ns.cluster().datanodes,
            &ns.cluster().maintenance,
            started,
            now_ms(),
        );
        // The block-health tally is built here, with the rest of the load,
        // rather than by the first request that needs it.
        let mut repl = ReplicationQueues::new(started);
        repl.rebuild_health(&ns, &datanodes.view(started));
        let counts = ns.counters();
        log::info!(
            "namespace of cluster {cluster_id} loaded in {:.2} s (store opened in {:.2} s, {steps}): {} directories, {} files, {} blocks, {} files being written, {} known datanodes",
            clock.elapsed().as_secs_f64(),
            opened.as_secs_f64(),
            counts.directories,
            counts.files,
            counts.blocks,
            counts.files_being_written,
            known_nodes
        );
        let safemode = SafeMode::new(
            counts.blocks,
            config.safemode_threshold,
            config.safemode_extension,
        );
        let mut safemode = safemode;
        if ns.cluster().operator_safe_mode {
            log::warn!("safe mode was entered by an operator before this start: still on until an operator leaves it");
            safemode.enter();
        }
        if let Some(why) = safemode.reason(started) {
            log::info!("{why}");
        }
        let this = Namesystem {
            ns: RwLock::new(ns),
            turn: tokio::sync::Mutex::new(()),
            cluster_id: Mutex::new(cluster_id),
            refused: Mutex::new(HashMap::new()),
            repl: Mutex::new(repl),
            published: views::Board::default(),
            safemode: Mutex::new(safemode),
            store,
            datanodes,
            config,
            started,
            failed: AtomicBool::new(false),
            times: timing::ChangeTimes::default(),
            proposer: std::sync::OnceLock::new(),
        };
        {
            let ns = this.lock()?;
            this.publish(&ns, &mut this.repl(), started);
        }
        Ok(this)
    }

    /// At a clean stop: makes every change durable and folds the log into
    /// a new base if it is longer than a little, so that the next start
    /// reads the base alone (or nearly). Skipped when a commit ever failed.
    /// Blocking.
    pub fn compact_at_stop(&self) -> Result<()> {
        self.store.submit(Txn::new())?.wait_blocking()?;
        if self.failed.load(Ordering::Acquire) {
            return Err(NamenodeError::Internal(
                "the metadata store failed earlier".into(),
            ));
        }
        self.store
            .compact(crate::meta_store::STOP_COMPACT_BYTES)
            .map(|_| ())
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn cluster_id(&self) -> ClusterId {
        *self.cluster_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_cluster_id(&self, id: ClusterId) {
        *self.cluster_id.lock().unwrap_or_else(|e| e.into_inner()) = id;
    }

    pub(crate) fn store(&self) -> &MetaStore {
        &self.store
    }

    /// Where changes have spent their time since start (`/metrics`).
    pub fn change_times(&self) -> ChangeTimesSnapshot {
        self.times.snapshot()
    }

    /// Commands applied so far (the last one's index).
    pub fn applied_index(&self) -> Result<u64> {
        Ok(self.lock()?.applied())
    }

    pub fn datanodes(&self) -> &DatanodeManager {
        &self.datanodes
    }

    /// The namespace to read (shared with other readers).
    fn lock(&self) -> Result<RwLockReadGuard<'_, Namespace>> {
        self.ns.read().map_err(|_| poisoned())
    }

    /// The namespace to change (alone): only through [`Namesystem::lock_async`].
    fn lock_mut(&self) -> Result<RwLockWriteGuard<'_, Namespace>> {
        self.ns.write().map_err(|_| poisoned())
    }

    /// The namespace lock for async code (every handler, worker and
    /// change): waits for its turn in a FIFO queue without blocking the
    /// thread, then takes the lock for writing, which only synchronous
    /// readers (`stat`, `list`, access checks) can hold meanwhile, and
    /// those only for a short look. An HTTP worker thread waiting here
    /// keeps serving its other connections (a `/health` probe), where
    /// waiting on the lock itself would stall them all. Hold the guard
    /// across no await.
    async fn lock_async(&self) -> Result<NsGuard<'_>> {
        let turn = self.turn.lock().await;
        Ok(NsGuard {
            ns: self.lock_mut()?,
            _turn: turn,
        })
    }

    /// Whether someone holds the namespace lock or waits for it now (a
    /// hint: it may change at once).
    pub fn namespace_busy(&self) -> bool {
        self.turn.try_lock().is_err() || self.ns.try_read().is_err()
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
    /// Refuses namespace changes while in safe mode. In a group of several
    /// the safe mode of a start refuses none: the namenode may have
    /// restarted and been elected (openraft even restores a leader's
    /// leadership at its start) while the cluster went on, and a change
    /// needs no old replica's location (copies, deletions and lease expiry
    /// still wait for the reports).
    fn check_writable(&self) -> Result<()> {
        let sm = self.safemode();
        match sm.refusal(Instant::now()) {
            Some(_) if sm.is_automatic() && self.in_group_of_several() => Ok(()),
            Some(why) => Err(NamenodeError::SafeMode(why)),
            None => Ok(()),
        }
    }

    fn in_group_of_several(&self) -> bool {
        self.proposer.get().is_some_and(|p| p.several())
    }

    pub fn in_safe_mode(&self) -> bool {
        self.safemode().is_on()
    }

    /// In the safe mode of a start, waiting for block reports (not one an
    /// operator entered).
    pub fn awaiting_reports(&self) -> bool {
        self.safemode().is_automatic()
    }

    /// Runs one change of soft state (what datanodes report): in memory
    /// and queued for the journal under the lock, then its sync, then
    /// queue deletions (see the module doc). Namespace changes are
    /// commands instead ([`Namesystem::execute`]).
    async fn mutate<T>(
        &self,
        op: impl FnOnce(&mut Namespace, &mut Txn, &mut Deletions) -> Result<T>,
    ) -> Result<T> {
        self.mutate_with(op, SyncWhen::Always).await
    }

    /// [`Namesystem::mutate`] for what a restart learns again anyway (where
    /// replicas are: every datanode sends a full report when it registers
    /// again): queued for the journal in order but not waited for, unless
    /// it queues deletions, which wait for the change that calls for them
    /// to be durable. A datanode's report of each new replica then costs
    /// no sync of its own (it cost one per replica, beside the command
    /// log's).
    async fn mutate_soft<T>(
        &self,
        op: impl FnOnce(&mut Namespace, &mut Txn, &mut Deletions) -> Result<T>,
    ) -> Result<T> {
        self.mutate_with(op, SyncWhen::IfDeleting).await
    }

    async fn mutate_with<T>(
        &self,
        op: impl FnOnce(&mut Namespace, &mut Txn, &mut Deletions) -> Result<T>,
        sync: SyncWhen,
    ) -> Result<T> {
        self.check_not_failed()?;
        let mut dels = Deletions::new();
        let asked = std::time::Instant::now();
        let locked;
        let (out, commit) = {
            let mut ns = self.lock_async().await?;
            locked = std::time::Instant::now();
            let mut txn = Txn::new();
            let out = op(&mut ns, &mut txn, &mut dels);
            let events = ns.take_block_events();
            let now = Instant::now();
            let mut q = self.repl();
            q.absorb(events, now);
            // Before the lock is released: readers see this change's counts
            // as soon as anyone can see the change.
            self.publish(&ns, &mut q, now);
            drop(q);
            let out = out?;
            let commit = if txn.is_empty() && dels.is_empty() {
                None
            } else if sync == SyncWhen::IfDeleting && dels.is_empty() {
                if let Err(e) = self.store.submit_unsynced(txn) {
                    self.fail(&e);
                    return Err(e);
                }
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
        let released = std::time::Instant::now();
        if let Some(c) = commit {
            if let Err(e) = c.durable().await {
                self.fail(&e);
                return Err(e);
            }
        }
        self.times
            .add(locked - asked, released - locked, released.elapsed());
        self.datanodes.queue_deletes(&dels);
        Ok(out)
    }

    /// Makes `proposer` the way commands reach the log (once, at start).
    pub fn attach(&self, proposer: std::sync::Arc<dyn Proposer>) {
        if self.proposer.set(proposer).is_err() {
            log::error!("a second proposer was attached and ignored");
        }
    }

    /// Applies `command` as one entry of the command log (see
    /// [`crate::commands`]), answering once it is committed and applied.
    async fn execute(&self, command: Command) -> Result<Outcome> {
        self.execute_with(|_| Ok(command)).await
    }

    /// Decides a command from the namespace as it is (`decide` runs under
    /// the read lock: the proposer's choices, such as a block's pipeline;
    /// `Namespace::apply` checks them again against the state it applies
    /// to) and proposes it.
    async fn execute_with(
        &self,
        decide: impl FnOnce(&Namespace) -> Result<Command>,
    ) -> Result<Outcome> {
        let mut out = self.execute_all(|ns| Ok(vec![decide(ns)?])).await?;
        out.pop().unwrap_or_else(|| Err(unexpected_outcome()))
    }

    /// [`Namesystem::execute_with`] for several commands, committed
    /// together (one entry of the log) and applied in order: each one's
    /// outcome (a later one sees what an earlier one did).
    async fn execute_all(
        &self,
        decide: impl FnOnce(&Namespace) -> Result<Vec<Command>>,
    ) -> Result<Vec<Result<Outcome>>> {
        self.check_not_failed()?;
        let commands = {
            let ns = self.lock()?;
            decide(&ns)?
        };
        let ts_ms = now_ms();
        let request = crate::request_id::current();
        let entries: Vec<Entry> = commands
            .into_iter()
            .map(|command| Entry {
                ts_ms,
                request,
                command,
            })
            .collect();
        let kinds: Vec<&'static str> = entries.iter().map(|e| e.command.name()).collect();
        let asked = std::time::Instant::now();
        let out = self.propose(entries).await;
        if out.as_ref().is_ok_and(|o| o.iter().any(|r| r.is_ok())) {
            self.times.add_committed(asked.elapsed());
        }
        if let Some(hook) = crash_after_durable() {
            if kinds.iter().any(|kind| hook.split(',').any(|k| k == *kind)) {
                log::error!(
                    "{CRASH_HOOK}: exiting after a committed {}, before answering it",
                    kinds.join("+")
                );
                std::process::exit(86);
            }
        }
        out
    }

    /// This namenode's standing (a namenode with no group attached, in unit
    /// tests, leads alone).
    pub fn leadership(&self) -> dfs_common::proto::datanode::Leadership {
        match self.proposer.get() {
            Some(p) => p.leadership(),
            None => dfs_common::proto::datanode::Leadership {
                term: 0,
                leader: true,
            },
        }
    }

    /// [`Proposer::leads_surely`] (true with no group attached).
    pub async fn leads_surely(&self) -> bool {
        match self.proposer.get() {
            Some(p) => p.leads_surely().await,
            None => true,
        }
    }

    async fn propose(&self, entries: Vec<Entry>) -> Result<Vec<Result<Outcome>>> {
        match self.proposer.get() {
            Some(p) => p.propose(entries).await,
            None => self.apply_unreplicated(entries).await,
        }
    }

    /// With no group attached (the namesystem's unit tests): applied here
    /// at once, as a group of one would.
    #[cfg(test)]
    async fn apply_unreplicated(&self, entries: Vec<Entry>) -> Result<Vec<Result<Outcome>>> {
        let position = self.raft_position()?.unwrap_or_default();
        self.apply_committed(entries, position).await
    }

    #[cfg(not(test))]
    async fn apply_unreplicated(&self, _entries: Vec<Entry>) -> Result<Vec<Result<Outcome>>> {
        Err(NamenodeError::Unavailable(
            "the namenode's raft group is not started yet".into(),
        ))
    }

    /// Refuses changes once the store failed (see the module doc).
    fn check_not_failed(&self) -> Result<()> {
        if self.failed.load(Ordering::Acquire) {
            return Err(NamenodeError::Internal(
                "the metadata store failed earlier; refusing changes until the namenode restarts"
                    .into(),
            ));
        }
        Ok(())
    }

    fn fail(&self, e: &NamenodeError) {
        log::error!("metadata store failure, refusing further changes: {e}");
        self.failed.store(true, Ordering::Release);
    }

    /// Hands blocks to the replication monitor.
    async fn enqueue_node_blocks(&self, nodes: &[NodeId]) -> Result<()> {
        let ns = self.lock_async().await?;
        let mut q = self.repl();
        for n in nodes {
            q.enqueue(ns.blocks().blocks_on(n));
        }
        self.publish(&ns, &mut q, Instant::now());
        Ok(())
    }
}

/// The namespace, locked by an async caller in its turn
/// ([`Namesystem::lock_async`]); the turn passes on when this drops, after
/// the lock is released.
struct NsGuard<'a> {
    ns: RwLockWriteGuard<'a, Namespace>,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl std::ops::Deref for NsGuard<'_> {
    type Target = Namespace;
    fn deref(&self) -> &Namespace {
        &self.ns
    }
}

impl std::ops::DerefMut for NsGuard<'_> {
    fn deref_mut(&mut self) -> &mut Namespace {
        &mut self.ns
    }
}

/// Test hook (fault injection, for the retry cache's crash tests): with
/// this variable set to command names (`rename,create`), the process exits
/// right after such a command is committed (durable in the log) and
/// applied, before it is answered, as a crash there would.
const CRASH_HOOK: &str = "DFS_TEST_CRASH_AFTER_DURABLE";

fn crash_after_durable() -> Option<&'static str> {
    static HOOK: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    HOOK.get_or_init(|| std::env::var(CRASH_HOOK).ok().filter(|v| !v.is_empty()))
        .as_deref()
}

/// A command gave an outcome of another kind than its own (a broken
/// invariant of `Namespace::apply`).
fn unexpected_outcome() -> NamenodeError {
    NamenodeError::Internal("a command gave an outcome of another kind".into())
}

mod admin;
mod balancer;
mod datanode_protocol;
mod names;
mod reads;
mod replicated;
mod s3;
mod timing;
mod views;
mod write;

#[cfg(test)]
pub(crate) mod tests;

/// Hands the allocator's free pages back to the system. The load decodes
/// every record before the namespace takes what it keeps: glibc would hold
/// the freed records' pages (interleaved with the inodes, so never trimmed
/// from the top) and the resident size would stay near the load's peak.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it has no inputs
    // beyond the padding to keep and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}
