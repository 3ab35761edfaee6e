//! `MetaStore`: the namenode's durable metadata. It stores the namespace,
//! the under-construction files, the block map and the known datanodes in
//! the journal (`crate::journal`: a base and a log of groups), and reads
//! them all back at startup. Values are encoded with `dfs_common::codec`
//! (bincode with a leading format-version byte).
//!
//! What it does not do: hold the live state. The namenode keeps everything
//! in memory (HDFS FSDirectory style); this is its write-ahead log and
//! checkpoint in one. The one thing read back while serving, a file's
//! digest midstate (for appends), is kept here in memory.
//!
//! Keys, by prefix:
//!
//! | key                    | value                              |
//! | ---------------------- | ---------------------------------- |
//! | `i/<inode id u64 BE>`  | `InodeRecord` (parent id + name)   |
//! | `p/<file id 16 bytes>` | `PendingFile` (under construction) |
//! | `b/<block id 16 bytes>`| `BlockMeta`                        |
//! | `d/<node id 16 bytes>` | `NodeRecord` (address, admin state)|
//! | `h/<inode id u64 BE>`  | `Sha256State`: a file's digest midstate over its full blocks (for appends; none while it has no full block) |
//! | `a/<inode id u64 BE>`  | `Xattrs`: a file's extended attributes (an S3 object's ETag and metadata); kept in memory here too, as the digest midstates |
//! | `k/<access key>`       | `S3KeyRecord`: an S3 access key's secret and user |
//! | `m/next_inode`         | u64: the next free inode id        |
//! | `r/<request id 16 bytes><command kind u8>` | `RetryRecord`: a client call's outcome, for its retries (about 10 minutes) |
//! | `m/operator_safe_mode` | bool: safe mode entered by an operator (kept across restarts) |
//! | `m/applied`            | u64: commands applied so far (the command log's last applied index) |
//! | `m/cluster_id`         | `ClusterId` (made with the metadata) |
//! | `m/restored`           | `u64` ms: restored from a checkpoint then; unknown replicas held until an operator decides |
//! | `m/cluster_agreed`     | `true`: the cluster id came through the Raft log (every namenode holds it) |
//! | `m/raft`               | the Raft log position the records hold (last applied log id, membership; encoded by `crate::raft`) |
//!
//! Invariants:
//! - one logical change = one [`Txn`], queued with [`MetaStore::submit`]
//!   while the caller still holds the namespace lock (so transactions are
//!   queued in the order the changes were made in memory); the caller
//!   awaits the returned [`Commit`] *after* releasing the lock and answers
//!   its client only then;
//! - group commit: one committer thread takes every queued transaction at
//!   once, writes them as one frame of the log (atomic: a frame is whole or
//!   cut off at a start, so never a later change without an earlier one),
//!   syncs once for the whole group and only then answers every waiter;
//! - after a failed write or sync the committer refuses every later
//!   transaction (memory is ahead of disk; see `namesystem`);
//! - a compactor thread folds the log into a new base when the log grows
//!   past half the base (16 MiB..512 MiB), reading the files, never the
//!   namespace, so the namenode serves meanwhile; a consistent scan (for
//!   checkpoints) seals the segment being written and streams the base
//!   with the sealed log laid over it: exactly the state after the last
//!   sealed group;
//! - the journal is never touched from anywhere else, so the engine can be
//!   swapped in this one file and `journal` (Garage `src/db`).
use crate::commands::RetryRecord;
use crate::error::{NamenodeError, Result};
use crate::journal::{self, MergeError, NumberedFile, Overlay};
use crate::records::{
    BalancerRun, BlockMeta, BlockMetaIn, InodeId, InodeRecord, InodeRecordIn, InodeRecordRef,
    LegacyNodeRecord, LegacyPendingFile, Maintenance, NodeRecord, PendingFile, QuotaLimits,
    S3KeyRecord, SavedRecord, SnapshotRecord,
};
use dfs_common::proto::client::Xattrs;

/// A big-endian u64 key part (an inode id, an epoch).
fn be_u64(b: &[u8], key: &[u8]) -> Result<u64> {
    let a: [u8; 8] = b.try_into().map_err(|_| {
        NamenodeError::Internal(format!(
            "metadata: a key of {} bytes is malformed",
            key.len()
        ))
    })?;
    Ok(u64::from_be_bytes(a))
}
use dfs_common::checksum::Sha256State;
use dfs_common::codec::{self, CodecError};
use dfs_common::ids::{BlockId, ClusterId, FileId, NodeId, RequestId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

const INODE: &[u8] = b"i/";
const PENDING: &[u8] = b"p/";
const BLOCK: &[u8] = b"b/";
const DATANODE: &[u8] = b"d/";
/// A datanode's maintenance (`Command::SetMaintenance`); older versions
/// skip the prefix (`decode_small` ignores what it does not know).
const MAINTENANCE: &[u8] = b"n/";
/// A directory's quotas (`Command::SetQuota`), by inode id.
const QUOTA: &[u8] = b"q/";
/// A snapshottable directory's snapshots, by inode id.
const SNAPSHOTS: &[u8] = b"y/";
/// An inode as a snapshot saw it: inode id, then the epoch it was saved in.
const SAVED: &[u8] = b"v/";
/// A deleted subtree kept for snapshots, by its root's inode id.
const DETACHED: &[u8] = b"z/";
const SNAPSHOT_EPOCH: &[u8] = b"m/snapshot_epoch";
/// A file's extended attributes (`Command::CompleteWithXattrs`), by inode
/// id. Read from the store when asked, never loaded: most files have
/// none, and an S3 object's cost no memory.
const XATTRS: &[u8] = b"a/";
/// An S3 access key (`Command::PutS3Key`), by access key.
const S3_KEY: &[u8] = b"k/";
const HASH_STATE: &[u8] = b"h/";
const NEXT_INODE: &[u8] = b"m/next_inode";
const APPLIED: &[u8] = b"m/applied";
const RETRY: &[u8] = b"r/";
const OPERATOR_SAFE_MODE: &[u8] = b"m/operator_safe_mode";
const CLUSTER_ID: &[u8] = b"m/cluster_id";
const RESTORED: &[u8] = b"m/restored";
const RAFT: &[u8] = b"m/raft";
const CLUSTER_AGREED: &[u8] = b"m/cluster_agreed";
/// The balancer run an operator started, until it ends (`Command::SetBalancer`).
const BALANCER: &[u8] = b"m/balancer";
/// The single records above (`m/...`).
const META: &[u8] = b"m/";

fn key(prefix: &[u8], id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + id.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(id);
    k
}

/// The Raft log's directory under the data dir (`crate::raft::log_store`
/// keeps it; named here, below every module that needs the name).
pub const RAFT_DIR: &str = "raft";

/// Whether `k` is the record of the Raft log position the records hold.
pub fn is_raft_position(k: &[u8]) -> bool {
    k == RAFT
}

/// A retry cache entry: the client call and the kind of command.
pub type RetryKey = (RequestId, u8);

fn retry_key((id, kind): &RetryKey) -> Vec<u8> {
    let mut k = key(RETRY, id.as_bytes());
    k.push(*kind);
    k
}

fn codec_err(e: CodecError) -> NamenodeError {
    NamenodeError::Internal(format!("metadata encoding: {e}"))
}

/// Everything stored, as read at startup.
#[derive(Debug, Default)]
pub struct Loaded {
    pub inodes: Vec<(InodeId, InodeRecord)>,
    pub pending: Vec<PendingFile>,
    pub blocks: Vec<(BlockId, BlockMeta)>,
    pub datanodes: Vec<(NodeId, NodeRecord)>,
    pub maintenance: Vec<(NodeId, Maintenance)>,
    pub quotas: Vec<(InodeId, QuotaLimits)>,
    pub s3_keys: Vec<(String, S3KeyRecord)>,
    pub snapshot_roots: Vec<(InodeId, Vec<SnapshotRecord>)>,
    pub saved: Vec<(InodeId, u64, SavedRecord)>,
    pub detached: Vec<InodeId>,
    pub snapshot_epoch: u64,
    /// The balancer run an operator started, until it ends.
    pub balancer: Option<BalancerRun>,
    pub next_inode: Option<InodeId>,
    /// The last applied command's index (0 before any, or before commands).
    pub applied: u64,
    /// The retry cache. Records that no longer decode (written by another
    /// version) are left out: the cache only saves retries work.
    pub retries: Vec<(RetryKey, RetryRecord)>,
    pub operator_safe_mode: bool,
    pub cluster_id: Option<ClusterId>,
    /// When the metadata was restored from a checkpoint (ms since the epoch),
    /// until an operator decided about the unknown replicas.
    pub restored: Option<u64>,
    /// The Raft log position the records hold (`crate::raft` encodes it).
    pub raft: Option<Vec<u8>>,
    pub cluster_agreed: bool,
}

pub use crate::journal::Write;

/// A set of puts and deletes that is applied atomically.
#[derive(Default)]
pub struct Txn {
    writes: Vec<Write>,
    error: Option<CodecError>,
}

impl Txn {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.error.is_none()
    }

    fn put<T: serde::Serialize>(&mut self, k: Vec<u8>, value: &T) {
        match codec::encode(value) {
            Ok(v) => self.writes.push((k, Some(v))),
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(e);
                }
            }
        }
    }

    fn del(&mut self, k: Vec<u8>) {
        self.writes.push((k, None));
    }

    pub fn put_inode(&mut self, id: InodeId, rec: &InodeRecord) {
        self.put(key(INODE, &id.to_be_bytes()), rec);
    }
    /// [`Txn::put_inode`] from a borrowed record (the same bytes).
    pub fn put_inode_ref(&mut self, id: InodeId, rec: &InodeRecordRef<'_>) {
        self.put(key(INODE, &id.to_be_bytes()), rec);
    }
    /// Also drops the inode's digest midstate and extended attributes,
    /// if any.
    pub fn del_inode(&mut self, id: InodeId) {
        self.del(key(INODE, &id.to_be_bytes()));
        self.del(key(HASH_STATE, &id.to_be_bytes()));
        self.del(key(XATTRS, &id.to_be_bytes()));
    }
    pub fn put_xattrs(&mut self, id: InodeId, xattrs: &Xattrs) {
        if xattrs.is_empty() {
            self.del(key(XATTRS, &id.to_be_bytes()));
        } else {
            self.put(key(XATTRS, &id.to_be_bytes()), xattrs);
        }
    }
    pub fn put_s3_key(&mut self, access_key: &str, rec: &S3KeyRecord) {
        self.put(key(S3_KEY, access_key.as_bytes()), rec);
    }
    pub fn del_s3_key(&mut self, access_key: &str) {
        self.del(key(S3_KEY, access_key.as_bytes()));
    }
    /// A midstate over no bytes (a file without a full block) is the
    /// start of any hash: not kept.
    pub fn put_hash_state(&mut self, id: InodeId, state: &Sha256State) {
        if state.len == 0 {
            self.del_hash_state(id);
        } else {
            self.put(key(HASH_STATE, &id.to_be_bytes()), state);
        }
    }
    pub fn del_hash_state(&mut self, id: InodeId) {
        self.del(key(HASH_STATE, &id.to_be_bytes()));
    }
    pub fn put_pending(&mut self, p: &PendingFile) {
        self.put(key(PENDING, p.file_id.as_bytes()), p);
    }
    pub fn del_pending(&mut self, id: FileId) {
        self.del(key(PENDING, id.as_bytes()));
    }
    pub fn put_block(&mut self, id: BlockId, meta: &BlockMeta) {
        self.put(key(BLOCK, id.as_bytes()), meta);
    }
    pub fn del_block(&mut self, id: BlockId) {
        self.del(key(BLOCK, id.as_bytes()));
    }
    pub fn put_datanode(&mut self, id: NodeId, rec: &NodeRecord) {
        self.put(key(DATANODE, id.as_bytes()), rec);
    }
    pub fn put_balancer(&mut self, run: Option<&BalancerRun>) {
        match run {
            Some(r) => self.put(BALANCER.to_vec(), r),
            None => self.del(BALANCER.to_vec()),
        }
    }
    pub fn put_maintenance(&mut self, id: NodeId, m: &Maintenance) {
        self.put(key(MAINTENANCE, id.as_bytes()), m);
    }
    pub fn del_maintenance(&mut self, id: NodeId) {
        self.del(key(MAINTENANCE, id.as_bytes()));
    }
    pub fn put_quota(&mut self, id: InodeId, q: &QuotaLimits) {
        self.put(key(QUOTA, &id.to_be_bytes()), q);
    }
    pub fn del_quota(&mut self, id: InodeId) {
        self.del(key(QUOTA, &id.to_be_bytes()));
    }
    pub fn put_snapshots(&mut self, dir: InodeId, list: &[SnapshotRecord]) {
        self.put(key(SNAPSHOTS, &dir.to_be_bytes()), &list.to_vec());
    }
    pub fn del_snapshots(&mut self, dir: InodeId) {
        self.del(key(SNAPSHOTS, &dir.to_be_bytes()));
    }
    fn saved_key(id: InodeId, at: u64) -> Vec<u8> {
        let mut k = key(SAVED, &id.to_be_bytes());
        k.extend_from_slice(&at.to_be_bytes());
        k
    }
    pub fn put_saved(&mut self, id: InodeId, at: u64, rec: &SavedRecord) {
        self.put(Self::saved_key(id, at), rec);
    }
    pub fn del_saved(&mut self, id: InodeId, at: u64) {
        self.del(Self::saved_key(id, at));
    }
    pub fn put_detached(&mut self, id: InodeId) {
        self.put(key(DETACHED, &id.to_be_bytes()), &());
    }
    pub fn del_detached(&mut self, id: InodeId) {
        self.del(key(DETACHED, &id.to_be_bytes()));
    }
    pub fn put_snapshot_epoch(&mut self, e: u64) {
        self.put(SNAPSHOT_EPOCH.to_vec(), &e);
    }
    pub fn put_retry(&mut self, key: &RetryKey, rec: &RetryRecord) {
        self.put(retry_key(key), rec);
    }

    pub fn del_retry(&mut self, key: &RetryKey) {
        self.del(retry_key(key));
    }

    pub fn put_operator_safe_mode(&mut self, on: bool) {
        self.put(OPERATOR_SAFE_MODE.to_vec(), &on);
    }

    pub fn put_applied(&mut self, index: u64) {
        self.put(APPLIED.to_vec(), &index);
    }

    pub fn put_next_inode(&mut self, next: InodeId) {
        self.put(NEXT_INODE.to_vec(), &next);
    }
    /// A record as a checkpoint holds it (restore).
    /// Each write in order: a put (`Some`) or a delete (`None`).
    #[cfg(test)]
    pub fn writes(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.writes
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
    }

    pub fn put_raw(&mut self, k: &[u8], v: &[u8]) {
        self.writes.push((k.to_vec(), Some(v.to_vec())));
    }
    pub fn del_raw(&mut self, k: &[u8]) {
        self.del(k.to_vec());
    }
    /// The writes so far, in order, leaving the transaction empty; the
    /// first encoding error instead, if a value could not be encoded.
    pub fn take_writes(&mut self) -> Result<Vec<Write>> {
        if let Some(e) = self.error.take() {
            self.writes.clear();
            return Err(codec_err(e));
        }
        Ok(std::mem::take(&mut self.writes))
    }

    /// Records in this transaction.
    pub fn len(&self) -> usize {
        self.writes.len()
    }
    pub fn put_cluster_id(&mut self, id: ClusterId) {
        self.put(CLUSTER_ID.to_vec(), &id);
    }
    /// The Raft log position the records hold after this transaction.
    pub fn put_raft(&mut self, position: &[u8]) {
        self.writes.push((RAFT.to_vec(), Some(position.to_vec())));
    }
    /// The cluster id came through the Raft log.
    pub fn put_cluster_agreed(&mut self) {
        self.put(CLUSTER_AGREED.to_vec(), &true);
    }
    /// Another transaction's writes after this one's.
    pub fn extend(&mut self, mut other: Txn) {
        if self.error.is_none() {
            self.error = other.error.take();
        }
        self.writes.append(&mut other.writes);
    }
    pub fn put_restored(&mut self, at_ms: u64) {
        self.put(RESTORED.to_vec(), &at_ms);
    }
    pub fn del_restored(&mut self) {
        self.del(RESTORED.to_vec());
    }
}

/// A queued transaction's answer: `Err` holds the store's error text.
/// How the committer tells a transaction's submitter it is durable (or
/// why not).
enum Reply {
    /// Wakes a task awaiting [`Commit::durable`].
    Wake(tokio::sync::oneshot::Sender<std::result::Result<(), String>>),
    /// Called on the committer's thread ([`MetaStore::submit_then`]).
    Call(Box<dyn FnOnce(std::result::Result<(), String>) + Send>),
}

impl Reply {
    fn send(self, result: std::result::Result<(), String>) {
        match self {
            Reply::Wake(tx) => {
                let _ = tx.send(result);
            }
            Reply::Call(f) => f(result),
        }
    }
}
/// A seal's answer: the last group in the sealed segments.
type SealReply = std::sync::mpsc::Sender<std::result::Result<u64, String>>;

#[derive(Default)]
struct Queue {
    /// Transactions in order; `None`: nobody waits for this one, so it
    /// need not be synced by itself ([`MetaStore::submit_unsynced`]).
    items: Vec<Queued>,
    seals: Vec<SealReply>,
    closed: bool,
}

/// A queued transaction's writes, and who waits for them.
type Queued = (Vec<Write>, Option<Reply>);

/// The committer's inbox.
#[derive(Default)]
struct Inbox {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// A submitted transaction: await [`Commit::durable`] before answering.
#[must_use]
pub struct Commit(tokio::sync::oneshot::Receiver<std::result::Result<(), String>>);

impl Commit {
    /// Resolves once the transaction (and every one queued before it) is
    /// written and synced.
    pub async fn durable(self) -> Result<()> {
        match self.0.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NamenodeError::Internal(format!("metadata store: {e}"))),
            Err(_) => Err(NamenodeError::Internal(
                "metadata store: the committer stopped".into(),
            )),
        }
    }
}

impl Commit {
    /// [`Commit::durable`] from a thread outside the runtime (restore).
    pub fn wait_blocking(self) -> Result<()> {
        match self.0.blocking_recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NamenodeError::Internal(format!("metadata store: {e}"))),
            Err(_) => Err(NamenodeError::Internal(
                "metadata store: the committer stopped".into(),
            )),
        }
    }
}

/// Transactions nobody waits for ([`MetaStore::submit_unsynced`]) are
/// written once this many wait, or once the first of them waited this long.
const LAZY_BATCH: usize = 256;
const LAZY_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

/// Segments are sealed and a new one begun past this size.
const SEGMENT_BYTES: u64 = 64 << 20;
/// The log is folded into a new base once it reaches half the base's size,
/// within these bounds (a start replays at most the upper one, holding the
/// latest value of each key it wrote in memory meanwhile).
const COMPACT_MIN: u64 = 16 << 20;
const COMPACT_MAX: u64 = 512 << 20;
/// A clean stop folds a log at least this long (so that a start after it
/// reads the base alone, or nearly).
pub const STOP_COMPACT_BYTES: u64 = 1 << 20;

fn compact_threshold(base_bytes: u64) -> u64 {
    (base_bytes / 2).clamp(COMPACT_MIN, COMPACT_MAX)
}

/// The journal's files as the committer and the maintenance share them.
#[derive(Default)]
struct Files {
    base: Option<NumberedFile>,
    base_bytes: u64,
    /// Segments no longer written, after the base, oldest first.
    sealed: Vec<NumberedFile>,
    /// Bytes of the sealed segments and the one being written.
    log_bytes: u64,
}

/// What the compactor thread is asked to do.
#[derive(Default)]
struct CompactorState {
    requested: bool,
    closed: bool,
}

/// Everything the committer, the compactor and callers share.
struct Shared {
    /// The journal directory.
    dir: PathBuf,
    inbox: Inbox,
    writer: Mutex<Writer>,
    files: Mutex<Files>,
    /// One consistent scan or compaction at a time.
    maintenance: Mutex<()>,
    compactor: Mutex<CompactorState>,
    compactor_wake: Condvar,
    /// Set when the store closes: a compaction under way gives up.
    stopping: std::sync::atomic::AtomicBool,
    /// The cluster id of the records (what a base's header names).
    cluster_id: Mutex<Option<ClusterId>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The segment being written.
struct Active {
    segment: journal::Segment,
    name: NumberedFile,
}

/// What writes the journal: the segment being written and where the
/// groups are. Held by whoever writes a group (the committer thread, or a
/// caller of [`MetaStore::commit_now`]), who takes the queue's items while
/// holding it: groups reach the journal in the order they were queued.
struct Writer {
    next_lsn: u64,
    /// Why a commit failed: every later one fails too.
    failed: Option<String>,
    active: Option<Active>,
    buf: Vec<u8>,
    /// Frames written to the active segment and not synced yet (of
    /// transactions nobody waited for).
    dirty: bool,
}

impl Writer {
    /// Writes `items` as one group (synced if someone waits for one of
    /// them, or `sync`), answers them, seals the segment when asked or
    /// full, and asks for a compaction when the log is long. Returns the
    /// group's result.
    fn step(
        &mut self,
        shared: &Shared,
        items: Vec<Queued>,
        seals: Vec<SealReply>,
        sync: bool,
    ) -> std::result::Result<(), String> {
        let mut result = Ok(());
        if !items.is_empty() || sync {
            result = match &self.failed {
                Some(e) => Err(format!("an earlier commit failed: {e}")),
                None => write_group(shared, &items, sync, self),
            };
            if let Err(e) = &result {
                if self.failed.is_none() {
                    log::error!("metadata commit failed: {e}");
                    self.failed = Some(e.clone());
                }
            }
            for (_, reply) in items {
                if let Some(reply) = reply {
                    reply.send(result.clone());
                }
            }
        }
        let full = self
            .active
            .as_ref()
            .is_some_and(|a| a.segment.len() >= SEGMENT_BYTES);
        if !seals.is_empty() || full {
            // (Sealing syncs the segment's frames.)
            self.dirty = false;
            if let Some(a) = self.active.take() {
                if let Err(e) = a.segment.seal() {
                    // Its frames stand; the zeros after them are read as its end.
                    log::warn!("metadata journal: sealing {}: {e}", a.name.path.display());
                }
                lock(&shared.files).sealed.push(a.name);
            }
            let answer = match &self.failed {
                Some(e) => Err(format!("an earlier commit failed: {e}")),
                None => Ok(self.next_lsn - 1),
            };
            for s in seals {
                let _ = s.send(answer.clone());
            }
        }
        let long = {
            let f = lock(&shared.files);
            f.log_bytes >= compact_threshold(f.base_bytes)
        };
        if long && self.failed.is_none() {
            lock(&shared.compactor).requested = true;
            shared.compactor_wake.notify_one();
        }
        result
    }

    /// Syncs what was written and not synced yet (the close).
    fn sync_dirty(&mut self) {
        if self.dirty {
            if let Some(a) = self.active.as_mut() {
                if let Err(e) = a.segment.sync() {
                    log::error!("metadata journal: the last sync at close failed: {e}");
                }
            }
            self.dirty = false;
        }
    }
}

/// Everything queued and every seal asked for, taken from the queue (hold
/// the writer: see [`Writer`]).
fn take_queued(shared: &Shared) -> (Vec<Queued>, Vec<SealReply>, bool) {
    let mut q = lock(&shared.inbox.queue);
    (
        std::mem::take(&mut q.items),
        std::mem::take(&mut q.seals),
        q.closed,
    )
}

/// The committer thread: takes every queued transaction, writes them as
/// one frame, syncs once, answers them all; seals the segment when asked
/// or when it is full; asks for a compaction when the log is long (see
/// the module doc).
fn run_committer(shared: Arc<Shared>) {
    loop {
        {
            let mut q = lock(&shared.inbox.queue);
            // Transactions nobody waits for are not worth a wakeup each:
            // they go with the next one waited for, a seal, a pile of them,
            // or after a short while.
            let mut lazy_since: Option<std::time::Instant> = None;
            while !q.closed && q.seals.is_empty() && q.items.iter().all(|(_, r)| r.is_none()) {
                if q.items.len() >= LAZY_BATCH
                    || lazy_since.is_some_and(|t| t.elapsed() >= LAZY_DELAY)
                {
                    break;
                }
                if !q.items.is_empty() {
                    lazy_since.get_or_insert_with(std::time::Instant::now);
                }
                q = match lazy_since {
                    None => shared
                        .inbox
                        .ready
                        .wait(q)
                        .unwrap_or_else(|e| e.into_inner()),
                    Some(_) => {
                        shared
                            .inbox
                            .ready
                            .wait_timeout(q, LAZY_DELAY)
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                };
            }
        }
        // (A caller of `commit_now` may have taken them meanwhile.)
        let mut w = lock(&shared.writer);
        let (items, seals, closed) = take_queued(&shared);
        if closed && items.is_empty() && seals.is_empty() {
            w.sync_dirty();
            return;
        }
        let _ = w.step(&shared, items, seals, false);
    }
}

/// Writes the groups of `items` as one frame, and syncs it (with any
/// frame before it not synced yet) when someone waits for one of them, or
/// `sync`.
fn write_group(
    shared: &Shared,
    items: &[Queued],
    sync: bool,
    w: &mut Writer,
) -> std::result::Result<(), String> {
    let waited = sync || items.iter().any(|(_, r)| r.is_some());
    if items.iter().all(|(w, _)| w.is_empty()) {
        // Only waiters: what came before them must be synced.
        if waited && w.dirty {
            if let Some(a) = w.active.as_mut() {
                a.segment
                    .sync()
                    .map_err(|e| format!("{}: {e}", a.name.path.display()))?;
            }
            w.dirty = false;
        }
        return Ok(());
    }
    w.buf.clear();
    journal::encode_frame(
        w.next_lsn,
        items.iter().flat_map(|(w, _)| w.iter()),
        &mut w.buf,
    );
    if w.active.is_none() {
        let name = NumberedFile {
            lsn: w.next_lsn,
            path: journal::segment_path(&shared.dir, w.next_lsn),
        };
        let segment = journal::Segment::create(&name.path)
            .map_err(|e| format!("{}: {e}", name.path.display()))?;
        journal::sync_dir(&shared.dir).map_err(|e| e.to_string())?;
        w.active = Some(Active { segment, name });
    }
    let Some(a) = w.active.as_mut() else {
        return Err("no segment to write".into());
    };
    a.segment
        .append(&w.buf, waited)
        .map_err(|e| format!("{}: {e}", a.name.path.display()))?;
    w.dirty = !waited;
    lock(&shared.files).log_bytes += w.buf.len() as u64;
    w.next_lsn += 1;
    // A big group's buffer is not kept.
    if w.buf.capacity() > 16 << 20 {
        w.buf = Vec::new();
    }
    Ok(())
}

/// The compactor thread: folds the log into a new base when asked.
fn run_compactor(shared: Arc<Shared>) {
    loop {
        {
            let mut st = lock(&shared.compactor);
            while !st.requested && !st.closed {
                st = shared
                    .compactor_wake
                    .wait(st)
                    .unwrap_or_else(|e| e.into_inner());
            }
            if st.closed {
                return;
            }
            st.requested = false;
        }
        let min = compact_threshold(lock(&shared.files).base_bytes);
        if let Err(e) = compact(&shared, min) {
            log::error!(
                "metadata compaction failed (the log keeps growing until one succeeds): {e}"
            );
            // Not again at once: wait for the next request.
        }
    }
}

/// [`journal::merge`] of `base`, checking that the base is the group its
/// name says (a file copied or renamed by hand is not trusted).
fn merge<E>(
    base: Option<&NumberedFile>,
    overlay: Overlay,
    sizes: Option<(u64, u64)>,
    each: impl FnMut(&[u8], &[u8]) -> std::result::Result<(), E>,
) -> std::result::Result<(), MergeError<E>> {
    let info = journal::merge(base.map(|b| b.path.as_path()), overlay, sizes, each)?;
    match base {
        Some(b) if b.lsn != info.lsn => Err(MergeError::Store(NamenodeError::Internal(format!(
            "metadata journal: {} holds group {}, not the group its name says",
            b.path.display(),
            info.lsn
        )))),
        _ => Ok(()),
    }
}

/// Asks the committer to seal the segment being written; returns the last
/// group the sealed segments hold.
fn seal(shared: &Shared) -> Result<u64> {
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let mut q = lock(&shared.inbox.queue);
        if q.closed {
            return Err(NamenodeError::Internal("metadata store: closed".into()));
        }
        q.seals.push(tx);
    }
    shared.inbox.ready.notify_one();
    match rx.recv() {
        Ok(Ok(last)) => Ok(last),
        Ok(Err(e)) => Err(NamenodeError::Internal(format!("metadata store: {e}"))),
        Err(_) => Err(NamenodeError::Internal(
            "metadata store: the committer stopped".into(),
        )),
    }
}

/// The base and the sealed segments up to `upto`, read into an overlay:
/// the state after group `upto`, as a base to stream and what to lay over
/// it. Hold `maintenance`.
fn sealed_state(
    shared: &Shared,
    upto: u64,
) -> Result<(Option<NumberedFile>, Vec<NumberedFile>, Overlay)> {
    let (base, sealed) = {
        let f = lock(&shared.files);
        (f.base.clone(), f.sealed.clone())
    };
    let after = base.as_ref().map_or(0, |b| b.lsn);
    let mut overlay = Overlay::default();
    let replayed = journal::replay(&sealed, after, |w| overlay.apply(w), false)?;
    if replayed.last != upto {
        return Err(NamenodeError::Internal(format!(
            "metadata journal: the sealed segments end at group {} where the committer sealed {upto}",
            replayed.last
        )));
    }
    Ok((base, sealed, overlay))
}

/// Folds the sealed log into a new base if it holds at least `min_bytes`
/// (0: any frame); returns whether it did. The committer goes on meanwhile
/// (into a new segment).
fn compact(shared: &Shared, min_bytes: u64) -> Result<bool> {
    let _one = lock(&shared.maintenance);
    if lock(&shared.files).log_bytes < min_bytes.max(1) {
        return Ok(false);
    }
    let clock = std::time::Instant::now();
    let upto = seal(shared)?;
    let (base, sealed, overlay) = sealed_state(shared, upto)?;
    if sealed.is_empty() || base.as_ref().is_some_and(|b| b.lsn >= upto) {
        return Ok(false);
    }
    let base_path = base.as_ref().map(|b| b.path.as_path());
    let sizes = journal::count(base_path, &overlay)?;
    let cluster = *lock(&shared.cluster_id);
    let stopping = || shared.stopping.load(std::sync::atomic::Ordering::Relaxed);
    let (path, bytes) = journal::write_base(&shared.dir, upto, cluster, |put| {
        merge(base.as_ref(), overlay, Some(sizes), |k, v| {
            if stopping() {
                return Err(NamenodeError::Internal("the store is closing".into()));
            }
            put(k, v)
        })
        .map_err(|e| match e {
            MergeError::Store(e) | MergeError::Consumer(e) => e,
        })
    })?;
    let folded: u64 = sealed.iter().map(|s| journal::file_len(&s.path)).sum();
    {
        let mut f = lock(&shared.files);
        f.base = Some(NumberedFile { lsn: upto, path });
        f.base_bytes = bytes;
        f.sealed.drain(..sealed.len());
        f.log_bytes = f.log_bytes.saturating_sub(folded);
    }
    for old in base.iter().chain(&sealed) {
        if let Err(e) = std::fs::remove_file(&old.path) {
            log::warn!(
                "metadata journal: cannot remove {}: {e}",
                old.path.display()
            );
        }
    }
    journal::sync_dir(&shared.dir)?;
    log::info!(
        "metadata journal: {} bytes of log folded into a base of {} bytes (group {upto}) in {:.2} s",
        folded,
        bytes,
        clock.elapsed().as_secs_f64()
    );
    Ok(true)
}

/// The metadata store of one namenode: a journal directory (see
/// `crate::journal`) with its committer and compactor threads.
pub struct MetaStore {
    shared: Arc<Shared>,
    /// Digest midstates (`h/`), the only records read back while serving
    /// (appends); kept as the transactions submit them.
    hash_states: Mutex<HashMap<InodeId, Sha256State>>,
    /// Files' extended attributes (`a/`), encoded as stored: read back by
    /// S3 (an object's ETag and metadata), kept as transactions submit them.
    xattrs: Mutex<HashMap<InodeId, Box<[u8]>>>,
    committer: Option<std::thread::JoinHandle<()>>,
    compactor: Option<std::thread::JoinHandle<()>>,
    /// Held (flock) while the store is open.
    _lock: std::fs::File,
}

impl Drop for MetaStore {
    fn drop(&mut self) {
        self.shared
            .stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        lock(&self.shared.compactor).closed = true;
        self.shared.compactor_wake.notify_all();
        if let Some(t) = self.compactor.take() {
            let _ = t.join();
        }
        lock(&self.shared.inbox.queue).closed = true;
        self.shared.inbox.ready.notify_all();
        if let Some(t) = self.committer.take() {
            let _ = t.join();
        }
    }
}

impl MetaStore {
    /// Opens (or creates) the store under the data dir `dir`: takes the
    /// journal's lock, moves a store of an earlier version (sled) into it
    /// once, cuts a torn frame off the log's end, and starts the threads.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, true)
    }

    /// A journal under `dir` for records of another kind (the Raft log,
    /// `crate::raft`): the same files, group commit and compaction, with
    /// nothing of the namespace's history to move in.
    pub fn open_plain(dir: &Path) -> Result<Self> {
        Self::open_with(dir, false)
    }

    fn open_with(dir: &Path, namespace: bool) -> Result<Self> {
        let jdir = dir.join(journal::DIR);
        std::fs::create_dir_all(&jdir).map_err(|e| {
            NamenodeError::Internal(format!("cannot create data dir {}: {e}", jdir.display()))
        })?;
        let lock_file = take_lock(&jdir)?;
        let mut listing = journal::list(&jdir)?;
        let fresh = listing.base.is_none() && listing.segments.is_empty();
        if namespace && fresh {
            let layout = crate::migrate::Layout {
                small: &[DATANODE, HASH_STATE, META, PENDING, RETRY],
                inodes: INODE,
                blocks: BLOCK,
                cluster_id: CLUSTER_ID,
                // Midstates over no bytes are not kept (`Txn::put_hash_state`).
                keep: &|k, v| {
                    !(k.starts_with(HASH_STATE)
                        && codec::decode::<Sha256State>(v).is_ok_and(|s| s.len == 0))
                },
            };
            if crate::migrate::from_sled(dir, &jdir, &layout)? {
                listing = journal::list(&jdir)?;
            }
        } else if namespace {
            crate::migrate::warn_if_sled_left(dir);
        }
        // A startup image of an earlier version copies a store now folded
        // into the journal: never read again.
        if namespace {
            let _ = std::fs::remove_file(dir.join(LEGACY_IMAGE));
        }
        for old in &listing.old_bases {
            std::fs::remove_file(&old.path).map_err(|e| {
                NamenodeError::Internal(format!("cannot remove {}: {e}", old.path.display()))
            })?;
        }
        let after = listing.base.as_ref().map_or(0, |b| b.lsn);
        // Read once here to find the next group and cut a torn tail, the
        // records dropped as they come; the load reads them again (they are
        // at most a few hundred MiB, but for a crash before a fold).
        let replayed = journal::replay(&listing.segments, after, drop, true)?;
        // Segments wholly covered by the base (a crash before they were
        // removed) and empty ones (a torn first frame cut off) go now.
        let mut sealed = Vec::new();
        for (i, seg) in listing.segments.iter().enumerate() {
            let last_in = match listing.segments.get(i + 1) {
                Some(next) => next.lsn.saturating_sub(1),
                None if journal::file_len(&seg.path) == 0 => 0,
                None => replayed.last,
            };
            if last_in <= after {
                std::fs::remove_file(&seg.path).map_err(|e| {
                    NamenodeError::Internal(format!("cannot remove {}: {e}", seg.path.display()))
                })?;
            } else {
                sealed.push(seg.clone());
            }
        }
        let files = Files {
            base_bytes: listing
                .base
                .as_ref()
                .map_or(0, |b| journal::file_len(&b.path)),
            base: listing.base,
            log_bytes: sealed.iter().map(|s| journal::file_len(&s.path)).sum(),
            sealed,
        };
        if replayed.last > 0 || files.base.is_some() {
            log::info!(
                "metadata journal opened in {} (base at group {after}, log to group {}, {} bytes)",
                jdir.display(),
                replayed.last,
                files.log_bytes
            );
        } else {
            log::info!("metadata journal created in {}", jdir.display());
        }
        let shared = Arc::new(Shared {
            dir: jdir,
            inbox: Inbox::default(),
            writer: Mutex::new(Writer {
                next_lsn: replayed.last + 1,
                failed: None,
                active: None,
                buf: Vec::new(),
                dirty: false,
            }),
            files: Mutex::new(files),
            maintenance: Mutex::new(()),
            compactor: Mutex::new(CompactorState::default()),
            compactor_wake: Condvar::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            cluster_id: Mutex::new(None),
        });
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|e| NamenodeError::Internal(format!("cannot start {name}: {e}")))
        };
        let committer = {
            let shared = shared.clone();
            spawn("meta-commit", Box::new(move || run_committer(shared)))?
        };
        let compactor = {
            let shared = shared.clone();
            spawn("meta-compact", Box::new(move || run_compactor(shared)))
        };
        let mut store = MetaStore {
            shared,
            hash_states: Mutex::new(HashMap::new()),
            xattrs: Mutex::new(HashMap::new()),
            committer: Some(committer),
            compactor: None,
            _lock: lock_file,
        };
        store.compactor = Some(compactor?);
        Ok(store)
    }

    /// Hands `each` every record, as of now, in the journal's canonical
    /// order (the small records, `x/sizes`, the inodes, the blocks): the
    /// start's read. Call it before serving: it also takes the digest
    /// midstates and the cluster id the store keeps.
    pub fn read_all<E>(
        &self,
        mut each: impl FnMut(&[u8], &[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<std::result::Result<(), E>, NamenodeError> {
        let mut states = HashMap::new();
        let mut xattrs = HashMap::new();
        let mut cluster = None;
        let r = self.scan_consistent(|k, v| {
            if let Some(id) = k.strip_prefix(XATTRS) {
                if let Ok(id) = id_u64(id) {
                    xattrs.insert(id, Box::<[u8]>::from(v));
                }
            } else if let Some(id) = k.strip_prefix(HASH_STATE) {
                if let (Ok(id), Ok(st)) = (id_u64(id), codec::decode::<Sha256State>(v)) {
                    if st.len > 0 {
                        states.insert(id, st);
                    }
                }
            } else if k == CLUSTER_ID {
                cluster = codec::decode::<ClusterId>(v).ok();
            }
            each(k, v)
        })?;
        *lock(&self.hash_states) = states;
        *lock(&self.xattrs) = xattrs;
        *lock(&self.shared.cluster_id) = cluster;
        Ok(r)
    }

    /// Reads everything back (restore's check, tools, tests). A record
    /// that cannot be decoded is an error: starting with part of the
    /// namespace silently missing is worse than not starting.
    pub fn load(&self) -> Result<Loaded> {
        let mut out = Loaded::default();
        self.read_all(|k, v| decode_into(&mut out, k, v))??;
        Ok(out)
    }

    /// A file's extended attributes (none kept: empty).
    pub fn xattrs(&self, id: InodeId) -> Result<Xattrs> {
        match lock(&self.xattrs).get(&id) {
            Some(v) => codec::decode(v).map_err(codec_err),
            None => Ok(Xattrs::new()),
        }
    }

    /// A file's saved digest midstate (only appends need it).
    pub fn hash_state(&self, id: InodeId) -> Result<Option<Sha256State>> {
        Ok(lock(&self.hash_states).get(&id).cloned())
    }

    /// Queues a transaction for the committer (call it under the lock that
    /// orders the changes; await the answer after releasing it). An empty
    /// transaction just waits for everything queued before it.
    pub fn submit(&self, txn: Txn) -> Result<Commit> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(txn, Some(Reply::Wake(tx)))?;
        Ok(Commit(rx))
    }

    /// [`MetaStore::submit`], with `done` called on the committer's thread
    /// once the transaction is durable (or with why not) instead of a
    /// future to await: one wakeup fewer for a caller that only passes the
    /// news on (the Raft log's flush callback). `done` must be quick.
    pub fn submit_then(
        &self,
        txn: Txn,
        done: impl FnOnce(std::result::Result<(), String>) + Send + 'static,
    ) -> Result<()> {
        self.enqueue(txn, Some(Reply::Call(Box::new(done))))
    }

    /// Queues a transaction nobody waits for: written in its turn, synced
    /// with the next transaction someone waits for, a seal, or the close
    /// (the Raft state machine's changes, which the Raft log already
    /// holds durably). An error shows on the next one waited for.
    pub fn submit_unsynced(&self, txn: Txn) -> Result<()> {
        self.enqueue(txn, None)
    }

    /// Writes and syncs `txn`, after everything queued before it, on the
    /// caller's thread: no handoff to the committer and back, for a caller
    /// that would only wait for it (the Raft log of a namenode alone, whose
    /// every append is awaited before anything else can happen). Blocking.
    pub fn commit_now(&self, txn: Txn) -> Result<()> {
        if let Some(e) = txn.error {
            return Err(codec_err(e));
        }
        self.note(&txn.writes);
        let mut w = lock(&self.shared.writer);
        // (Never closed here: the close takes the store whole.)
        let (mut items, seals, _) = take_queued(&self.shared);
        items.push((txn.writes, None));
        w.step(&self.shared, items, seals, true)
            .map_err(|e| NamenodeError::Internal(format!("metadata store: {e}")))
    }

    /// Queues `txn` for the committer, and wakes it unless nobody waits
    /// for this one and it can go with a later one (see `run_committer`:
    /// the first of a quiet spell starts the clock that sends them).
    fn enqueue(&self, txn: Txn, reply: Option<Reply>) -> Result<()> {
        if let Some(e) = txn.error {
            return Err(codec_err(e));
        }
        self.note(&txn.writes);
        let lazy = reply.is_none();
        {
            let mut q = self.shared.inbox.queue.lock().map_err(|_| {
                NamenodeError::Internal("metadata store: commit queue poisoned".into())
            })?;
            if q.closed {
                return Err(NamenodeError::Internal("metadata store: closed".into()));
            }
            q.items.push((txn.writes, reply));
            if lazy && q.items.len() != 1 && q.items.len() < LAZY_BATCH {
                return Ok(());
            }
        }
        self.shared.inbox.ready.notify_one();
        Ok(())
    }

    /// Keeps what the store serves from memory as `writes` change it.
    fn note(&self, writes: &[Write]) {
        for (k, v) in writes {
            if let Some(id) = k.strip_prefix(XATTRS) {
                let Ok(id) = id_u64(id) else { continue };
                let mut xattrs = lock(&self.xattrs);
                match v {
                    Some(v) => xattrs.insert(id, Box::from(v.as_slice())),
                    None => xattrs.remove(&id),
                };
            } else if let Some(id) = k.strip_prefix(HASH_STATE) {
                let Ok(id) = id_u64(id) else { continue };
                let mut states = lock(&self.hash_states);
                match v.as_deref().map(codec::decode::<Sha256State>) {
                    Some(Ok(st)) if st.len > 0 => {
                        states.insert(id, st);
                    }
                    _ => {
                        states.remove(&id);
                    }
                }
            } else if k == CLUSTER_ID {
                if let Some(Ok(id)) = v.as_deref().map(codec::decode::<ClusterId>) {
                    *lock(&self.shared.cluster_id) = Some(id);
                }
            }
        }
    }

    /// Applies and syncs a transaction (startup, before anything else
    /// uses the store).
    pub async fn apply(&self, txn: Txn) -> Result<()> {
        self.submit(txn)?.durable().await
    }

    /// Makes every submitted transaction durable.
    pub async fn flush(&self) -> Result<()> {
        self.submit(Txn::new())?.durable().await
    }

    /// Folds the log into a new base now if it holds at least `min_bytes`
    /// (a clean stop, the bulk loader, tests); returns whether it did.
    /// Blocking.
    pub fn compact(&self, min_bytes: u64) -> Result<bool> {
        compact(&self.shared, min_bytes)
    }

    /// Every record as of one moment, while the store keeps taking changes:
    /// the segment being written is sealed, and the base with the sealed
    /// log laid over it is streamed in canonical order. Blocking (call from
    /// `spawn_blocking`); one scan or compaction at a time.
    pub fn scan_consistent<E>(
        &self,
        each: impl FnMut(&[u8], &[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<std::result::Result<(), E>, NamenodeError> {
        let shared = &self.shared;
        let _one = lock(&shared.maintenance);
        let upto = seal(shared)?;
        let (base, _, overlay) = sealed_state(shared, upto)?;
        match merge(base.as_ref(), overlay, None, each) {
            Ok(()) => Ok(Ok(())),
            Err(MergeError::Consumer(e)) => Ok(Err(e)),
            Err(MergeError::Store(e)) => Err(e),
        }
    }

    /// Replaces every record with those `fill` hands over, in canonical
    /// order (a Raft snapshot being installed): a new base after every
    /// group so far, then the old base and segments go. The caller makes
    /// sure nothing is submitted meanwhile (it holds the namespace's turn):
    /// a transaction queued during it would be laid over the new records.
    /// Blocking.
    pub fn replace(
        &self,
        fill: impl FnOnce(&mut journal::Sink<'_, NamenodeError>) -> Result<()>,
    ) -> Result<()> {
        let shared = &self.shared;
        let _one = lock(&shared.maintenance);
        let upto = seal(shared)?;
        let cluster = *lock(&shared.cluster_id);
        let (path, bytes) = journal::write_base(&shared.dir, upto, cluster, fill)?;
        let (old_base, sealed) = {
            let mut f = lock(&shared.files);
            let old = (f.base.take(), std::mem::take(&mut f.sealed));
            f.base = Some(NumberedFile {
                lsn: upto,
                path: path.clone(),
            });
            f.base_bytes = bytes;
            f.log_bytes = 0;
            old
        };
        for old in old_base.iter().chain(&sealed) {
            // (A base of the same group was replaced by the rename.)
            if old.path != path {
                if let Err(e) = std::fs::remove_file(&old.path) {
                    log::warn!(
                        "metadata journal: cannot remove {}: {e}",
                        old.path.display()
                    );
                }
            }
        }
        journal::sync_dir(&shared.dir)
    }

    /// Bytes the journal takes on disk (for `/metrics`).
    pub fn size_on_disk(&self) -> u64 {
        let f = lock(&self.shared.files);
        f.base_bytes + f.log_bytes
    }
}

/// The startup image of versions before the journal.
const LEGACY_IMAGE: &str = "namespace.image";

/// Takes the journal's lock: one process per data dir. A store closed a
/// moment ago (a restart in the same process) may hold it briefly: wait a
/// little before calling it taken.
fn take_lock(jdir: &Path) -> Result<std::fs::File> {
    use fs4::FileExt;
    let path = jdir.join(journal::LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| NamenodeError::Internal(format!("cannot open {}: {e}", path.display())))?;
    let started = std::time::Instant::now();
    loop {
        match FileExt::try_lock(&file) {
            Ok(()) => return Ok(file),
            Err(fs4::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(NamenodeError::Internal(format!(
                    "metadata in {} is locked: is another namenode running on this data dir?",
                    jdir.display()
                )))
            }
            Err(fs4::TryLockError::Error(e)) => {
                return Err(NamenodeError::Internal(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )))
            }
        }
    }
}

/// How long `open` waits for the lock to be released.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Adds one stored record to `out`: the store's scan and the startup
/// image (`crate::image`) read records the same way. A digest midstate
/// (`h/`, read on demand) and keys of no known kind are skipped.
pub fn decode_into(out: &mut Loaded, k: &[u8], v: &[u8]) -> Result<()> {
    match decode_large(k, v)? {
        Some(Large::Inode(id, rec)) => out.inodes.push((id, rec)),
        Some(Large::Block(id, meta)) => out.blocks.push((id, meta)),
        None => decode_small(out, k, v)?,
    }
    Ok(())
}

/// [`decode_into`] for the records that are not inodes or blocks.
fn decode_small(out: &mut Loaded, k: &[u8], v: &[u8]) -> Result<()> {
    if k.starts_with(PENDING) {
        // Records written before appends existed lack `append`.
        out.pending.push(match codec::decode::<PendingFile>(v) {
            Ok(p) => p,
            Err(_) => codec::decode::<LegacyPendingFile>(v)
                .map_err(codec_err)?
                .into(),
        });
    } else if let Some(id) = k.strip_prefix(DATANODE) {
        // Records written before admin states existed hold the address only.
        let rec = match codec::decode::<NodeRecord>(v) {
            Ok(r) => r,
            Err(_) => codec::decode::<LegacyNodeRecord>(v)
                .map_err(codec_err)?
                .into(),
        };
        out.datanodes.push((NodeId::from_bytes(id_16(id)?), rec));
    } else if let Some(id) = k.strip_prefix(MAINTENANCE) {
        out.maintenance.push((
            NodeId::from_bytes(id_16(id)?),
            codec::decode(v).map_err(codec_err)?,
        ));
    } else if let Some(id) = k.strip_prefix(QUOTA) {
        let id: [u8; 8] = id.try_into().map_err(|_| {
            NamenodeError::Internal(format!("metadata: a quota key of {} bytes", k.len()))
        })?;
        out.quotas.push((
            InodeId::from_be_bytes(id),
            codec::decode(v).map_err(codec_err)?,
        ));
    } else if let Some(ak) = k.strip_prefix(S3_KEY) {
        out.s3_keys.push((
            String::from_utf8_lossy(ak).into_owned(),
            codec::decode(v).map_err(codec_err)?,
        ));
    } else if let Some(id) = k.strip_prefix(SNAPSHOTS) {
        out.snapshot_roots
            .push((be_u64(id, k)?, codec::decode(v).map_err(codec_err)?));
    } else if let Some(rest) = k.strip_prefix(SAVED) {
        let (id, at) = (
            be_u64(rest.get(..8).unwrap_or(&[]), k)?,
            be_u64(rest.get(8..).unwrap_or(&[]), k)?,
        );
        out.saved
            .push((id, at, codec::decode(v).map_err(codec_err)?));
    } else if let Some(id) = k.strip_prefix(DETACHED) {
        out.detached.push(be_u64(id, k)?);
    } else if k == SNAPSHOT_EPOCH {
        out.snapshot_epoch = codec::decode(v).map_err(codec_err)?;
    } else if let Some(rest) = k.strip_prefix(RETRY) {
        if rest.len() == 17 {
            let id = RequestId::from_bytes(id_16(&rest[..16])?);
            if let Ok(rec) = codec::decode::<RetryRecord>(v) {
                out.retries.push(((id, rest[16]), rec));
            }
        }
    } else if k == NEXT_INODE {
        out.next_inode = Some(codec::decode(v).map_err(codec_err)?);
    } else if k == APPLIED {
        out.applied = codec::decode(v).map_err(codec_err)?;
    } else if k == OPERATOR_SAFE_MODE {
        out.operator_safe_mode = codec::decode(v).map_err(codec_err)?;
    } else if k == CLUSTER_ID {
        out.cluster_id = Some(codec::decode(v).map_err(codec_err)?);
    } else if k == RESTORED {
        out.restored = Some(codec::decode(v).map_err(codec_err)?);
    } else if k == RAFT {
        out.raft = Some(v.to_vec());
    } else if k == CLUSTER_AGREED {
        out.cluster_agreed = codec::decode(v).map_err(codec_err)?;
    } else if k == BALANCER {
        out.balancer = Some(codec::decode(v).map_err(codec_err)?);
    }
    Ok(())
}

/// A stored record of one of the two kinds there are millions of, decoded
/// as `I` and `B` (the stored forms, or a start's: [`decode_start`]).
pub enum Large<I = InodeRecord, B = BlockMeta> {
    Inode(InodeId, I),
    Block(BlockId, B),
}

/// `k`/`v` decoded if it is an inode or a block record (`None`: another
/// kind, for [`decode_into`]).
pub fn decode_large(k: &[u8], v: &[u8]) -> Result<Option<Large>> {
    if let Some(id) = k.strip_prefix(INODE) {
        let (id, rec) = decode_inode(id, v)?;
        Ok(Some(Large::Inode(id, rec)))
    } else if let Some(id) = k.strip_prefix(BLOCK) {
        let (id, meta) = decode_block(id, v)?;
        Ok(Some(Large::Block(id, meta)))
    } else {
        Ok(None)
    }
}

fn decode_inode(id: &[u8], v: &[u8]) -> Result<(InodeId, InodeRecord)> {
    Ok((id_u64(id)?, codec::decode(v).map_err(codec_err)?))
}

fn decode_block(id: &[u8], v: &[u8]) -> Result<(BlockId, BlockMeta)> {
    Ok((
        BlockId::from_bytes(id_16(id)?),
        codec::decode(v).map_err(codec_err)?,
    ))
}

/// [`decode_large`] into a start's forms, by their hand decoders (see
/// [`InodeRecordIn::decode`]).
pub fn decode_start(k: &[u8], v: &[u8]) -> Result<Option<Large<InodeRecordIn, BlockMetaIn>>> {
    let bad = |what: &str, e: String| {
        NamenodeError::Internal(format!(
            "metadata store: {what} record does not decode: {e}"
        ))
    };
    if let Some(id) = k.strip_prefix(INODE) {
        let rec = InodeRecordIn::decode(v).map_err(|e| bad("an inode", e))?;
        Ok(Some(Large::Inode(id_u64(id)?, rec)))
    } else if let Some(id) = k.strip_prefix(BLOCK) {
        let meta = BlockMetaIn::decode(v).map_err(|e| bad("a block", e))?;
        Ok(Some(Large::Block(BlockId::from_bytes(id_16(id)?), meta)))
    } else {
        Ok(None)
    }
}

fn id_u64(b: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = b
        .try_into()
        .map_err(|_| NamenodeError::Internal(format!("metadata store: bad inode key {b:?}")))?;
    Ok(u64::from_be_bytes(arr))
}

fn id_16(b: &[u8]) -> Result<[u8; 16]> {
    b.try_into()
        .map_err(|_| NamenodeError::Internal(format!("metadata store: bad id key {b:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::BlockOwner;
    use dfs_common::checksum::Sha256Digest;

    /// Each kind of record has a key prefix of its own: none is the
    /// journal's (a load rejects those keys; a snapshot prefix once was),
    /// and none starts another.
    #[test]
    fn record_prefixes_are_distinct_and_not_the_journals() {
        let prefixes: [&[u8]; 14] = [
            INODE,
            PENDING,
            BLOCK,
            DATANODE,
            MAINTENANCE,
            QUOTA,
            SNAPSHOTS,
            SAVED,
            DETACHED,
            XATTRS,
            S3_KEY,
            HASH_STATE,
            RETRY,
            META,
        ];
        for (i, a) in prefixes.iter().enumerate() {
            assert!(
                !a.starts_with(journal::INTERNAL),
                "{:?}",
                String::from_utf8_lossy(a)
            );
            for (j, b) in prefixes.iter().enumerate() {
                if i != j {
                    assert!(
                        !a.starts_with(b),
                        "{:?} starts with {:?}",
                        String::from_utf8_lossy(a),
                        String::from_utf8_lossy(b)
                    );
                }
            }
        }
        for single in [
            NEXT_INODE,
            APPLIED,
            OPERATOR_SAFE_MODE,
            CLUSTER_ID,
            RESTORED,
            RAFT,
            CLUSTER_AGREED,
            BALANCER,
            SNAPSHOT_EPOCH,
        ] {
            assert!(single.starts_with(META));
        }
    }

    #[tokio::test]
    async fn mutations_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (b, n, f) = (BlockId::new(), NodeId::new(), FileId::new());
        {
            let store = MetaStore::open(dir.path()).unwrap();
            let mut txn = Txn::new();
            txn.put_inode(1, &InodeRecord::new_dir(0, "", 7));
            txn.put_inode(9, &InodeRecord::new_dir(1, "gone", 7));
            txn.put_next_inode(10);
            txn.put_block(
                b,
                &BlockMeta {
                    owner: BlockOwner::Pending(f),
                    len: 3,
                    sha256: Some(Sha256Digest::of(b"abc")),
                    replicas: vec![n],
                    targets: vec![],
                },
            );
            txn.put_datanode(
                n,
                &NodeRecord {
                    addr: "http://127.0.0.1:1".into(),
                    admin: dfs_common::proto::client::AdminState::Decommissioning,
                },
            );
            let first = store.submit(txn).unwrap();
            let mut txn = Txn::new();
            txn.del_inode(9);
            store.submit(txn).unwrap().durable().await.unwrap();
            first.durable().await.unwrap();
        }
        let store = MetaStore::open(dir.path()).unwrap();
        let l = store.load().unwrap();
        assert_eq!(l.inodes.len(), 1);
        assert_eq!(l.inodes[0].0, 1);
        assert_eq!(l.next_inode, Some(10));
        assert_eq!(l.blocks.len(), 1);
        assert_eq!(l.blocks[0].0, b);
        assert_eq!(l.blocks[0].1.replicas, vec![n]);
        assert_eq!(
            l.datanodes,
            vec![(
                n,
                NodeRecord {
                    addr: "http://127.0.0.1:1".into(),
                    admin: dfs_common::proto::client::AdminState::Decommissioning,
                }
            )]
        );
        assert!(l.pending.is_empty());
    }

    /// `commit_now` writes on the caller's thread after everything queued
    /// before it (answering those waiting), and what is queued after it
    /// still reaches the journal.
    #[tokio::test]
    async fn commit_now_keeps_the_queue_order_and_answers_waiters() {
        let dir = tempfile::tempdir().unwrap();
        let put = |k: &[u8], v: u8| {
            let mut t = Txn::new();
            t.put_raw(k, &[v]);
            t
        };
        {
            let store = MetaStore::open_plain(dir.path()).unwrap();
            store.submit_unsynced(put(b"k", 1)).unwrap();
            let waited = store.submit(put(b"k", 2)).unwrap();
            store.submit_unsynced(put(b"j", 1)).unwrap();
            store.commit_now(put(b"k", 3)).unwrap();
            waited.durable().await.unwrap();
            for i in 0..200u8 {
                store.submit_unsynced(put(b"j", i)).unwrap();
                store.commit_now(put(b"n", i)).unwrap();
            }
            store.submit_unsynced(put(b"k", 4)).unwrap();
        }
        let store = MetaStore::open_plain(dir.path()).unwrap();
        let mut seen = std::collections::BTreeMap::new();
        store
            .read_all(|k, v| -> Result<()> {
                seen.insert(k.to_vec(), v.to_vec());
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(seen.get(&b"k"[..]), Some(&vec![4]));
        assert_eq!(seen.get(&b"j"[..]), Some(&vec![199]));
        assert_eq!(seen.get(&b"n"[..]), Some(&vec![199]));
    }

    /// A store held open refuses a second opener with a clear message (a
    /// second namenode on the same data dir); one just closed does not.
    #[test]
    fn a_held_store_is_refused_and_a_closed_one_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let held = MetaStore::open(dir.path()).unwrap();
        let err = MetaStore::open(dir.path())
            .err()
            .expect("second open refused");
        assert!(
            err.to_string().contains("another namenode running"),
            "{err}"
        );
        drop(held);
        for _ in 0..20 {
            drop(MetaStore::open(dir.path()).unwrap());
        }
    }

    /// A scan racing a stream of changes still yields one moment: applying
    /// its records in order gives a state in which every counter key is
    /// equal to the others (each change bumps all of them at once).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scan_beside_changes_is_one_moment() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MetaStore::open(dir.path()).unwrap());
        const KEYS: u64 = 200;
        let bump = |n: u64| {
            let mut t = Txn::new();
            for k in 0..KEYS {
                t.put(key(INODE, &k.to_be_bytes()), &n);
            }
            t
        };
        store.apply(bump(0)).await.unwrap();
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 1..=300u64 {
                    store.submit(bump(n)).unwrap().durable().await.unwrap();
                }
            })
        };
        let mut scans = 0;
        while !writer.is_finished() || scans < 3 {
            let s = store.clone();
            let state = tokio::task::spawn_blocking(move || {
                let mut m = std::collections::BTreeMap::new();
                s.scan_consistent(|k, v| {
                    // (Not the base's own records.)
                    if !k.starts_with(b"x/") {
                        m.insert(k.to_vec(), codec::decode::<u64>(v).unwrap());
                    }
                    Ok::<(), ()>(())
                })
                .unwrap()
                .unwrap();
                m
            })
            .await
            .unwrap();
            assert_eq!(state.len() as u64, KEYS);
            let first = *state.values().next().unwrap();
            let seen: std::collections::BTreeSet<u64> = state.values().copied().collect();
            assert!(state.values().all(|v| *v == first), "a torn scan: {seen:?}");
            scans += 1;
        }
        writer.await.unwrap();
    }

    /// Everything `store` holds, as a map (the base's own records left out).
    fn state(store: &MetaStore) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
        let mut m = std::collections::BTreeMap::new();
        store
            .scan_consistent(|k, v| {
                if !k.starts_with(b"x/") {
                    m.insert(k.to_vec(), v.to_vec());
                }
                Ok::<(), ()>(())
            })
            .unwrap()
            .unwrap();
        m
    }

    /// Random writes, with compactions (while writes are in flight) and
    /// reopens at random points, against a map of what was written: the
    /// store always holds exactly the writes acknowledged, in order, and
    /// its files are a base and the segments after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn compactions_and_reopens_keep_exactly_the_writes() {
        let dir = tempfile::tempdir().unwrap();
        let mut model = std::collections::BTreeMap::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..5 {
            let store = Arc::new(MetaStore::open(dir.path()).unwrap());
            assert_eq!(state(&store), model, "after reopen {round}");
            let mut in_flight = Vec::new();
            let mut folding = None;
            for _ in 0..300 {
                let mut t = Txn::new();
                for _ in 0..=rand(4) {
                    let prefix = [INODE, BLOCK, DATANODE, META][rand(4) as usize];
                    let k = key(prefix, &rand(200).to_be_bytes());
                    if rand(4) == 0 {
                        model.remove(&k);
                        t.del(k);
                    } else {
                        let v = rand(1 << 40);
                        model.insert(k.clone(), codec::encode(&v).unwrap());
                        t.put(k, &v);
                    }
                }
                in_flight.push(store.submit(t).unwrap());
                if rand(3) == 0 {
                    for c in in_flight.drain(..) {
                        c.durable().await.unwrap();
                    }
                }
                if rand(60) == 0 && folding.is_none() {
                    let s = store.clone();
                    folding = Some(tokio::task::spawn_blocking(move || s.compact(0)));
                }
            }
            for c in in_flight {
                c.durable().await.unwrap();
            }
            if let Some(f) = folding {
                f.await.unwrap().unwrap();
            }
            assert_eq!(state(&store), model, "round {round}");
            drop(store);
        }
        let files = journal::list(&dir.path().join(journal::DIR)).unwrap();
        assert!(files.base.is_some());
        assert!(files.old_bases.is_empty());
        let after = files.base.as_ref().unwrap().lsn;
        assert!(files.segments.iter().all(|s| s.lsn > after), "{files:?}");
    }

    /// A store of an earlier version (sled) is copied into the journal at
    /// the first open, record for record, and kept aside under another name.
    #[test]
    fn a_sled_store_moves_into_the_journal_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut model = std::collections::BTreeMap::new();
        {
            let db = sled::open(dir.path().join(crate::migrate::SLED_DIR)).unwrap();
            let mut t = Txn::new();
            t.put_inode(1, &InodeRecord::new_dir(0, "", 7));
            t.put_inode(2, &InodeRecord::new_dir(1, "a", 7));
            t.put_block(
                BlockId::new(),
                &BlockMeta {
                    owner: crate::records::BlockOwner::File(2),
                    len: 3,
                    sha256: None,
                    replicas: vec![NodeId::new()],
                    targets: vec![],
                },
            );
            t.put_cluster_id(ClusterId::new());
            t.put_next_inode(3);
            t.put_hash_state(
                2,
                &Sha256State {
                    len: 64,
                    state: vec![1; 32],
                },
            );
            for (k, v) in t.take_writes().unwrap() {
                let v = v.unwrap();
                db.insert(&k, v.clone()).unwrap();
                model.insert(k, v);
            }
            // A midstate over no bytes: not kept.
            let empty = codec::encode(&Sha256State {
                len: 0,
                state: vec![2; 32],
            })
            .unwrap();
            db.insert(key(HASH_STATE, &9u64.to_be_bytes()), empty)
                .unwrap();
            db.flush().unwrap();
        }
        let store = MetaStore::open(dir.path()).unwrap();
        assert!(!dir.path().join(crate::migrate::SLED_DIR).exists());
        assert!(dir.path().join(crate::migrate::MIGRATED_DIR).exists());
        assert_eq!(state(&store), model);
        let loaded = store.load().unwrap();
        assert_eq!(loaded.inodes.len(), 2);
        assert_eq!(loaded.blocks.len(), 1);
        assert_eq!(store.hash_state(2).unwrap().map(|s| s.len), Some(64));
        assert_eq!(store.hash_state(9).unwrap(), None);
        drop(store);
        // Once: the journal is read from now on.
        let store = MetaStore::open(dir.path()).unwrap();
        assert_eq!(state(&store), model);
    }
}
