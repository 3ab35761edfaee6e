//! `MetaStore`: the only module that touches sled. It stores the namespace,
//! the under-construction files, the block map and the known datanodes, and
//! loads them all back at startup. Values are encoded with
//! `dfs_common::codec` (bincode with a leading format-version byte).
//!
//! What it does not do: hold the live state. The namenode keeps everything in
//! memory (HDFS FSDirectory style); this is its write-through journal and
//! checkpoint in one.
//!
//! Layout: one sled tree, keys by prefix:
//!
//! | key                    | value                              |
//! | ---------------------- | ---------------------------------- |
//! | `i/<inode id u64 BE>`  | `InodeRecord` (parent id + name)   |
//! | `p/<file id 16 bytes>` | `PendingFile` (under construction) |
//! | `b/<block id 16 bytes>`| `BlockMeta`                        |
//! | `d/<node id 16 bytes>` | `NodeRecord` (address, admin state)|
//! | `h/<inode id u64 BE>`  | `Sha256State`: a file's digest midstate over its full blocks (for appends) |
//! | `m/next_inode`         | u64: the next free inode id        |
//! | `r/<request id 16 bytes><command kind u8>` | `RetryRecord`: a client call's outcome, for its retries (about 10 minutes) |
//! | `m/operator_safe_mode` | bool: safe mode entered by an operator (kept across restarts) |
//! | `m/applied`            | u64: commands applied so far (the command log's last applied index) |
//! | `m/cluster_id`         | `ClusterId` (made with the metadata) |
//! | `m/restored`           | `u64` ms: restored from a checkpoint then; unknown replicas held until an operator decides |
//!
//! Invariants:
//! - one logical change = one [`Txn`] = one atomic `sled::Batch`, applied
//!   while the caller still holds the namespace lock (so batches reach sled in
//!   the order the changes were made in memory);
//! - a change is acknowledged to a client only after it is durable: the
//!   caller hands its `Txn` to [`MetaStore::submit`] while it still holds
//!   the namespace lock (so transactions are queued in the order the changes
//!   were made in memory) and awaits the returned [`Commit`] *after*
//!   releasing the lock;
//! - group commit: one committer thread takes every queued transaction at
//!   once, applies them in order as one `sled::Batch` (atomic: a crash keeps
//!   all of the group or none of it, so never a later change without an
//!   earlier one), flushes (one fsync for the whole group) and only then
//!   answers every waiter. Transactions queued meanwhile form the next
//!   group. Only this thread calls `apply_batch` and `flush` after startup:
//!   sled 0.34 deadlocks when batches and flushes race from many threads
//!   (a batch waits for the flushes' read guards while the flushes wait for
//!   log writes that its exhausted IO pool cannot run);
//! - after a failed apply or flush the committer refuses every later
//!   transaction (memory is ahead of disk; see `namesystem`);
//! - sled is never called from anywhere else, so the engine can be swapped in
//!   this one file (Garage `src/db`).
//!
//! Point-in-time reads while serving ([`MetaStore::scan_consistent`], for
//! checkpoints): sled has no snapshots, so a scan runs beside the committer
//! and may see some of a group's writes and not others. The committer
//! therefore copies every group it applies while a scan runs into a redo
//! list (under the `capture` lock, which it holds across the apply, so a
//! group is either wholly before the capture began or wholly in it); the
//! scan's records followed by the redo list, applied in order, give exactly
//! the state after the last captured group (a fuzzy checkpoint plus its
//! log, as ARIES and HDFS's checkpointing do).
use crate::commands::RetryRecord;
use crate::error::{NamenodeError, Result};
use crate::records::{
    BlockMeta, InodeId, InodeRecord, InodeRecordRef, LegacyNodeRecord, LegacyPendingFile,
    NodeRecord, PendingFile,
};
use dfs_common::checksum::Sha256State;
use dfs_common::codec::{self, CodecError};
use dfs_common::ids::{BlockId, ClusterId, FileId, NodeId, RequestId};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

const INODE: &[u8] = b"i/";
const PENDING: &[u8] = b"p/";
const BLOCK: &[u8] = b"b/";
const DATANODE: &[u8] = b"d/";
const HASH_STATE: &[u8] = b"h/";
const NEXT_INODE: &[u8] = b"m/next_inode";
const APPLIED: &[u8] = b"m/applied";
const RETRY: &[u8] = b"r/";
const OPERATOR_SAFE_MODE: &[u8] = b"m/operator_safe_mode";
const CLUSTER_ID: &[u8] = b"m/cluster_id";
const RESTORED: &[u8] = b"m/restored";
/// The single records above (`m/...`).
const META: &[u8] = b"m/";

/// sled's page cache (see [`MetaStore::open`]). sled counts a cached page
/// by its size on disk, not by the memory it takes decoded: after loading
/// 1 M files sled held 218 MB of heap with a 64 MiB cache (heaptrack;
/// ~126 MB of it for the page table and per-page records, whatever the
/// cache size). 16 MiB took 79 MB off the namenode's resident size at 1 M
/// files (issue 17) and restarted no slower: the load reads each page
/// once, and writes land on the newest leaves (inode ids are sequential,
/// block ids time-ordered), which stay cached.
const SLED_CACHE_BYTES: u64 = 16 * 1024 * 1024;

fn key(prefix: &[u8], id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + id.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(id);
    k
}

/// A retry cache entry: the client call and the kind of command.
pub type RetryKey = (RequestId, u8);

fn retry_key((id, kind): &RetryKey) -> Vec<u8> {
    let mut k = key(RETRY, id.as_bytes());
    k.push(*kind);
    k
}

fn store_err(e: sled::Error) -> NamenodeError {
    NamenodeError::Internal(format!("metadata store: {e}"))
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
}

/// One put (`Some`) or delete (`None`).
pub type Write = (Vec<u8>, Option<Vec<u8>>);

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
    /// Also drops the inode's digest midstate, if any.
    pub fn del_inode(&mut self, id: InodeId) {
        self.del(key(INODE, &id.to_be_bytes()));
        self.del(key(HASH_STATE, &id.to_be_bytes()));
    }
    pub fn put_hash_state(&mut self, id: InodeId, state: &Sha256State) {
        self.put(key(HASH_STATE, &id.to_be_bytes()), state);
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
    pub fn put_restored(&mut self, at_ms: u64) {
        self.put(RESTORED.to_vec(), &at_ms);
    }
    pub fn del_restored(&mut self) {
        self.del(RESTORED.to_vec());
    }
}

/// Adds `writes` to `batch`, in order (a later write of a key wins).
fn add_to_batch(batch: &mut sled::Batch, writes: Vec<Write>) {
    for (k, v) in writes {
        match v {
            Some(v) => batch.insert(k, v),
            None => batch.remove(k),
        }
    }
}

/// A queued transaction's answer: `Err` holds the store's error text.
type Reply = tokio::sync::oneshot::Sender<std::result::Result<(), String>>;

#[derive(Default)]
struct Queue {
    items: Vec<(Vec<Write>, Reply)>,
    closed: bool,
}

/// Groups applied while a consistent scan runs (`None`: no scan).
type Capture = Arc<Mutex<Option<Vec<Write>>>>;

/// One record of a consistent scan: a key and its value, or a key deleted
/// by a change made during the scan.
pub enum Entry<'a> {
    Put(&'a [u8], &'a [u8]),
    Del(&'a [u8]),
}

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
    /// applied and flushed.
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

/// How long `open` waits for sled's file lock to be released.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The sled database of one namenode.
pub struct MetaStore {
    db: sled::Db,
    inbox: Arc<Inbox>,
    capture: Capture,
    /// One consistent scan at a time.
    scanning: Mutex<()>,
    committer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for MetaStore {
    fn drop(&mut self) {
        if let Ok(mut q) = self.inbox.queue.lock() {
            q.closed = true;
        }
        self.inbox.ready.notify_all();
        if let Some(t) = self.committer.take() {
            let _ = t.join();
        }
    }
}

/// The committer thread: takes every queued transaction, applies them as
/// one batch, flushes once, answers them all (see the module doc).
fn run_committer(db: sled::Db, inbox: Arc<Inbox>, capture: Capture) {
    let mut failed: Option<String> = None;
    loop {
        let items = {
            let Ok(mut q) = inbox.queue.lock() else {
                return;
            };
            while q.items.is_empty() && !q.closed {
                q = match inbox.ready.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
            if q.items.is_empty() {
                return;
            }
            std::mem::take(&mut q.items)
        };
        let mut batch = sled::Batch::default();
        let mut replies = Vec::with_capacity(items.len());
        let mut dirty = false;
        // Held across the apply: a scan starts wholly before or after it.
        let mut captured = capture.lock().unwrap_or_else(|e| e.into_inner());
        for (writes, reply) in items {
            dirty |= !writes.is_empty();
            if let Some(redo) = captured.as_mut() {
                redo.extend(writes.iter().cloned());
            }
            add_to_batch(&mut batch, writes);
            replies.push(reply);
        }
        let result = match &failed {
            Some(e) => Err(format!("an earlier commit failed: {e}")),
            None => {
                let applied = if dirty {
                    db.apply_batch(batch).map_err(|e| e.to_string())
                } else {
                    Ok(())
                };
                drop(captured);
                applied.and_then(|()| db.flush().map(|_| ()).map_err(|e| e.to_string()))
            }
        };
        if let Err(e) = &result {
            if failed.is_none() {
                log::error!("metadata commit failed: {e}");
                failed = Some(e.clone());
            }
        }
        for r in replies {
            let _ = r.send(result.clone());
        }
    }
}

impl MetaStore {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            NamenodeError::Internal(format!("cannot create data dir {}: {e}", dir.display()))
        })?;
        // Everything lives in memory above the store: sled's page cache
        // only serves the startup scan and rare `hash_state` reads, so its
        // default 1 GiB would just double the namespace's footprint.
        let config = sled::Config::new()
            .path(dir.join("meta.sled"))
            .cache_capacity(SLED_CACHE_BYTES);
        // sled holds an exclusive file lock. A store closed a moment ago (a
        // restart in the same process, or a previous process still exiting)
        // can hold it briefly after its last handle is dropped: wait a little
        // before calling it taken.
        let started = std::time::Instant::now();
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(sled::Error::Io(e)) if lock_taken(&e) && started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(sled::Error::Io(e)) if lock_taken(&e) => {
                    return Err(NamenodeError::Internal(format!(
                        "metadata in {} is locked: is another namenode running on this data dir? ({e})",
                        dir.display()
                    )));
                }
                Err(e) => {
                    return Err(NamenodeError::Internal(format!(
                        "cannot open metadata in {}: {e}",
                        dir.display()
                    )))
                }
            }
        };
        if db.was_recovered() {
            log::info!("metadata store opened from {}", dir.display());
        } else {
            log::info!("metadata store created in {}", dir.display());
        }
        let inbox = Arc::new(Inbox::default());
        let capture = Capture::default();
        let committer = {
            let (db, inbox, capture) = (db.clone(), inbox.clone(), capture.clone());
            std::thread::Builder::new()
                .name("meta-commit".into())
                .spawn(move || run_committer(db, inbox, capture))
                .map_err(|e| {
                    NamenodeError::Internal(format!("cannot start the metadata committer: {e}"))
                })?
        };
        Ok(MetaStore {
            db,
            inbox,
            capture,
            scanning: Mutex::new(()),
            committer: Some(committer),
        })
    }

    /// Reads everything back. A record that cannot be decoded is an error:
    /// starting with part of the namespace silently missing is worse than
    /// not starting.
    ///
    /// The blocks are read on a second thread while this one reads the
    /// inodes: the two largest parts take about as long each, and a restart
    /// of a large namespace is mostly this read.
    pub fn load(&self) -> Result<Loaded> {
        let mut out = Loaded::default();
        let (inodes, blocks) = std::thread::scope(|s| {
            let blocks = s.spawn(|| self.load_blocks());
            let inodes = self.load_inodes();
            let blocks = blocks.join().unwrap_or_else(|_| {
                Err(NamenodeError::Internal(
                    "reading the block records panicked".into(),
                ))
            });
            (inodes, blocks)
        });
        out.inodes = inodes?;
        out.blocks = blocks?;
        for prefix in [PENDING, DATANODE, RETRY, META] {
            for item in self.db.scan_prefix(prefix) {
                let (k, v) = item.map_err(store_err)?;
                decode_into(&mut out, &k, &v)?;
            }
        }
        Ok(out)
    }

    fn load_inodes(&self) -> Result<Vec<(InodeId, InodeRecord)>> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix(INODE) {
            let (k, v) = item.map_err(store_err)?;
            out.push(decode_inode(&k[INODE.len()..], &v)?);
        }
        Ok(out)
    }

    fn load_blocks(&self) -> Result<Vec<(BlockId, BlockMeta)>> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix(BLOCK) {
            let (k, v) = item.map_err(store_err)?;
            out.push(decode_block(&k[BLOCK.len()..], &v)?);
        }
        Ok(out)
    }

    /// The last applied command's index and the cluster id, as stored
    /// (what a startup image must match, `crate::image`).
    pub fn applied_and_cluster(&self) -> Result<(u64, Option<ClusterId>)> {
        let mut out = Loaded::default();
        for k in [APPLIED, CLUSTER_ID] {
            if let Some(v) = self.db.get(k).map_err(store_err)? {
                decode_into(&mut out, k, &v)?;
            }
        }
        Ok((out.applied, out.cluster_id))
    }

    /// A file's saved digest midstate (read on demand: only appends need it).
    pub fn hash_state(&self, id: InodeId) -> Result<Option<Sha256State>> {
        match self
            .db
            .get(key(HASH_STATE, &id.to_be_bytes()))
            .map_err(store_err)?
        {
            None => Ok(None),
            Some(v) => Ok(codec::decode(&v).ok()),
        }
    }

    /// Queues a transaction for the committer (call it under the lock that
    /// orders the changes; await the answer after releasing it). An empty
    /// transaction just waits for everything queued before it.
    pub fn submit(&self, txn: Txn) -> Result<Commit> {
        if let Some(e) = txn.error {
            return Err(codec_err(e));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let mut q = self.inbox.queue.lock().map_err(|_| {
                NamenodeError::Internal("metadata store: commit queue poisoned".into())
            })?;
            if q.closed {
                return Err(NamenodeError::Internal("metadata store: closed".into()));
            }
            q.items.push((txn.writes, tx));
        }
        self.inbox.ready.notify_one();
        Ok(Commit(rx))
    }

    /// Applies and flushes a transaction (startup, before anything else
    /// uses the store).
    pub async fn apply(&self, txn: Txn) -> Result<()> {
        self.submit(txn)?.durable().await
    }

    /// Makes every submitted transaction durable.
    pub async fn flush(&self) -> Result<()> {
        self.submit(Txn::new())?.durable().await
    }

    /// Every record as of one moment, while the store keeps taking changes
    /// (see the module doc): the scan's puts, then the changes applied
    /// during it, in order. Applying them in order rebuilds that moment.
    /// Blocking (call from `spawn_blocking`); one scan at a time.
    pub fn scan_consistent<E>(
        &self,
        mut each: impl FnMut(Entry<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<std::result::Result<(), E>, NamenodeError> {
        let _one = self.scanning.lock().unwrap_or_else(|e| e.into_inner());
        /// Ends the capture however the scan ends.
        struct Stop<'a>(&'a Capture);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
        *self.capture.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
        let stop = Stop(&self.capture);
        for item in self.db.iter() {
            let (k, v) = item.map_err(store_err)?;
            if let Err(e) = each(Entry::Put(&k, &v)) {
                return Ok(Err(e));
            }
        }
        let redo = self
            .capture
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        drop(stop);
        for (k, v) in &redo {
            let r = match v {
                Some(v) => each(Entry::Put(k, v)),
                None => each(Entry::Del(k)),
            };
            if let Err(e) = r {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// Bytes sled uses on disk (for `/metrics`).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

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
    }
    Ok(())
}

/// A stored record of one of the two kinds there are millions of.
pub enum Large {
    Inode(InodeId, InodeRecord),
    Block(BlockId, BlockMeta),
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

fn id_u64(b: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = b
        .try_into()
        .map_err(|_| NamenodeError::Internal(format!("metadata store: bad inode key {b:?}")))?;
    Ok(u64::from_be_bytes(arr))
}

/// Whether opening failed only because another handle holds sled's file
/// lock. sled 0.34 reports that as `ErrorKind::Other` with the OS error in
/// the message ("could not acquire lock on ...: WouldBlock"), so the kind
/// alone does not tell.
fn lock_taken(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
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
                s.scan_consistent(|e| {
                    match e {
                        Entry::Put(k, v) => {
                            m.insert(k.to_vec(), codec::decode::<u64>(v).unwrap());
                        }
                        Entry::Del(k) => {
                            m.remove(k);
                        }
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
}
