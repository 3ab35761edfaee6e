//! `BlockStore`: block replicas on the local disk, and the only module of the
//! datanode that claims durability.
//!
//! Layout under the data dir:
//! - `blocks/<last 2 hex chars of id>/<id>.blk`: the raw bytes;
//! - `blocks/<..>/<id>.meta`: its [`BlockChecksums`] (encoded with
//!   `dfs_common::codec`): length, SHA-256 and one CRC32C per 64 KiB chunk;
//! - `tmp/`: writes in progress (emptied at startup);
//! - `corrupt/`: quarantined replicas, kept for a human to look at.
//!
//! (The fan-out uses the last two hex characters: block ids are UUID v7,
//! whose leading characters are timestamp bits that nearly all blocks share,
//! while the trailing ones are random and spread blocks over 256 directories.)
//!
//! Invariants:
//! - A block is in the index only once its `.blk` and `.meta` are durable in
//!   `blocks/` (temp file, fsync, rename meta then data, fsync dir: Garage
//!   `write_block_inner`, neon `durable_rename`). An unfinished or failed
//!   write leaves nothing behind ([`DeleteOnDrop`]).
//! - Every byte handed out by [`BlockStore::read`] was checked against its
//!   chunk's CRC32C first; a mismatch ends the stream with
//!   [`DatanodeError::Corrupt`]. A read of the whole block is also checked
//!   against the SHA-256 in its `.meta` ([`ReadCheck::Digest`]), and its last
//!   piece is held back until that check passes, so a replica whose CRCs
//!   agree with corrupt data still never leaves whole; only a reader that
//!   checks the SHA-256 itself asks for [`ReadCheck::Crc`]. A `.blk` without a usable `.meta`, or of the
//!   wrong length, is `Corrupt` too. Deciding what to do about it
//!   (quarantine, report) is the caller's job ([`crate::sender`],
//!   [`crate::scanner`]).
//! - A replica whose `.blk` disappeared behind our back is dropped from the
//!   index when a read finds it gone ([`DatanodeError::Vanished`]).
//! - Blocking file I/O runs on tokio's blocking pool, in ~1 MiB pieces;
//!   writes are direct, reads go through the page cache ([`crate::direct`]).
//!
//! Does not talk to the network and does not know about the namenode.
use crate::direct::{self, DirectBuf, DirectWriter};
use crate::error::{DatanodeError, Result};
use bytes::Bytes;
use dfs_common::checksum::{
    crcs_fingerprint, BlockChecksums, ChunkCrcs, Sha256Digest, Sha256Hasher, CHUNK_SIZE,
};
use dfs_common::codec;
use dfs_common::ids::BlockId;
use dfs_common::proto::datanode::ReportedBlock;
use futures_util::Stream;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio::task::{spawn_blocking, JoinHandle};

/// The largest block this node accepts.
pub const MAX_BLOCK_LEN: u64 = 4 << 30;

/// Bytes per disk read or write: 16 whole chunks, large enough that the data
/// path is not bound by syscalls and small enough to keep memory flat.
const IO_BUF: usize = 16 * CHUNK_SIZE;

/// A block no longer than this that fits in one buffer is checksummed on
/// the async thread at seal (a few microseconds), not handed to a blocking one.
const INLINE_CHECKSUM: usize = 64 * 1024;

/// Pieces queued between the network side and the disk thread (per transfer):
/// enough to overlap the two, little enough to keep backpressure tight.
const IO_QUEUE: usize = 4;

/// What a read checks besides every chunk's CRC32C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadCheck {
    /// A whole-block read is also checked against the block's SHA-256, its
    /// last piece held back until the verdict (the scanner, re-replication,
    /// readers that do not verify).
    Digest,
    /// CRC32C only: for a reader that checks the block's SHA-256 itself, end
    /// to end (the dfs client), so that one core is not spent hashing the
    /// same bytes twice.
    Crc,
}

/// Where a written block's SHA-256 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// Hashed here as the bytes pass (the first hop of a pipeline, a
    /// re-replication target, any single write).
    Compute,
    /// Handed over by the upstream hop, which hashed the same bytes, before
    /// the block is committed ([`SealedBlock::adopt_digest`]); this hop
    /// checks its chunk CRC32Cs against the upstream hop's instead, as HDFS
    /// datanodes do, so a pipeline hashes each byte once, not once per hop.
    Adopt,
}

/// What the index knows about a finalized replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    pub len: u64,
    pub sha256: Sha256Digest,
}

/// Optional promises a writer checks before making a block durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    pub len: Option<u64>,
    pub sha256: Option<Sha256Digest>,
}

/// The block store. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct BlockStore {
    inner: Arc<Inner>,
}

struct Inner {
    blocks_dir: PathBuf,
    tmp_dir: PathBuf,
    corrupt_dir: PathBuf,
    capacity: Option<u64>,
    index: Mutex<Index>,
    /// Held (on blocking threads only) while files move in or out of
    /// `blocks/`, so that two writers, a delete and a quarantine of the same
    /// id never interleave their renames.
    files: Mutex<()>,
    tmp_seq: AtomicU64,
}

#[derive(Default)]
struct Index {
    blocks: HashMap<BlockId, BlockInfo>,
    /// Bytes of the blocks in `blocks` and in `committing`.
    used: u64,
    /// Blocks whose files are in place and whose directory is being synced:
    /// not readable yet, but their names are taken.
    committing: HashSet<BlockId>,
}

/// Locks a mutex, recovering from poisoning: every critical section leaves
/// the data consistent (single inserts and removes), so a panic elsewhere
/// does not make it unusable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BlockStore {
    /// Opens (creating as needed) the store under `data_dir`: empties `tmp/`,
    /// loads the index from `blocks/`, and quarantines replicas whose `.meta`
    /// is missing, unreadable or disagrees with the data's length.
    pub async fn open(data_dir: &Path, capacity: Option<u64>) -> Result<BlockStore> {
        let data_dir = data_dir.to_path_buf();
        spawn_blocking(move || Self::open_blocking(&data_dir, capacity)).await?
    }

    fn open_blocking(data_dir: &Path, capacity: Option<u64>) -> Result<BlockStore> {
        let inner = Inner {
            blocks_dir: data_dir.join("blocks"),
            tmp_dir: data_dir.join("tmp"),
            corrupt_dir: data_dir.join("corrupt"),
            capacity,
            index: Mutex::new(Index::default()),
            files: Mutex::new(()),
            tmp_seq: AtomicU64::new(0),
        };
        for dir in [&inner.blocks_dir, &inner.tmp_dir, &inner.corrupt_dir] {
            fs::create_dir_all(dir)
                .map_err(|e| DatanodeError::io(format!("creating {}", dir.display()), e))?;
        }
        let ctx = |p: &Path| format!("emptying {}", p.display());
        for entry in
            fs::read_dir(&inner.tmp_dir).map_err(|e| DatanodeError::io(ctx(&inner.tmp_dir), e))?
        {
            let path = entry
                .map_err(|e| DatanodeError::io(ctx(&inner.tmp_dir), e))?
                .path();
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(|e| DatanodeError::io(format!("removing {}", path.display()), e))?;
        }
        let store = BlockStore {
            inner: Arc::new(inner),
        };
        store.load_index()?;
        let (n, used) = (store.block_count(), store.used());
        log::info!(
            "block store {}: {n} blocks, {used} bytes",
            data_dir.display()
        );
        Ok(store)
    }

    fn load_index(&self) -> Result<()> {
        let blocks_dir = &self.inner.blocks_dir;
        let ctx = || format!("scanning {}", blocks_dir.display());
        let mut index = Index::default();
        for sub in fs::read_dir(blocks_dir).map_err(|e| DatanodeError::io(ctx(), e))? {
            let sub = sub.map_err(|e| DatanodeError::io(ctx(), e))?.path();
            if !sub.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&sub).map_err(|e| DatanodeError::io(ctx(), e))? {
                let path = entry.map_err(|e| DatanodeError::io(ctx(), e))?.path();
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                match ext {
                    "blk" => match stem.parse::<BlockId>() {
                        Ok(id) => match check_replica(&path, &path.with_extension("meta")) {
                            Ok(info) => {
                                index.used += info.len;
                                index.blocks.insert(id, info);
                            }
                            Err(why) => {
                                log::warn!("quarantining replica {id} found at startup: {why}");
                                self.move_to_corrupt(&path, stem);
                            }
                        },
                        Err(_) => {
                            log::warn!("quarantining {}: not a block id", path.display());
                            self.move_to_corrupt(&path, stem);
                        }
                    },
                    // A meta without data is left by a write interrupted
                    // between its two renames: the block was never acked.
                    "meta" if !path.with_extension("blk").exists() => {
                        log::info!("removing orphan {}", path.display());
                        if let Err(e) = fs::remove_file(&path) {
                            log::warn!("cannot remove {}: {e}", path.display());
                        }
                    }
                    _ => {}
                }
            }
        }
        *lock(&self.inner.index) = index;
        Ok(())
    }

    /// Capacity cap from `--capacity`, if any.
    pub fn capacity(&self) -> Option<u64> {
        self.inner.capacity
    }

    /// The data dir's `blocks/` directory (for disk-space queries).
    pub fn blocks_dir(&self) -> &Path {
        &self.inner.blocks_dir
    }

    pub fn get(&self, id: BlockId) -> Option<BlockInfo> {
        lock(&self.inner.index).blocks.get(&id).copied()
    }

    pub fn block_count(&self) -> usize {
        lock(&self.inner.index).blocks.len()
    }

    /// Bytes of block data held.
    pub fn used(&self) -> u64 {
        lock(&self.inner.index).used
    }

    /// Every finalized replica (a full block report).
    pub fn list(&self) -> Vec<ReportedBlock> {
        lock(&self.inner.index)
            .blocks
            .iter()
            .map(|(id, b)| ReportedBlock {
                id: *id,
                len: b.len,
                sha256: b.sha256,
            })
            .collect()
    }

    fn fanout_dir(&self, id: BlockId) -> PathBuf {
        let s = id.to_string();
        self.inner.blocks_dir.join(&s[s.len() - 2..])
    }

    /// Path of a block's data file (whether or not it exists).
    pub fn block_path(&self, id: BlockId) -> PathBuf {
        self.fanout_dir(id).join(format!("{id}.blk"))
    }

    fn meta_path(&self, id: BlockId) -> PathBuf {
        self.fanout_dir(id).join(format!("{id}.meta"))
    }

    /// Starts writing block `id` into a temp file. `expected_len`, when known,
    /// is checked against the size limit and the capacity up front.
    pub async fn writer(&self, id: BlockId, expected_len: Option<u64>) -> Result<BlockWriter> {
        self.writer_with(id, expected_len, Digest::Compute).await
    }

    /// [`BlockStore::writer`], choosing where the block's SHA-256 comes from.
    pub async fn writer_with(
        &self,
        id: BlockId,
        expected_len: Option<u64>,
        digest: Digest,
    ) -> Result<BlockWriter> {
        if let Some(len) = expected_len {
            check_len(len)?;
            if self.get(id).is_none() {
                self.check_room(len)?;
            }
        }
        let seq = self.inner.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp_path = self.inner.tmp_dir.join(format!("{id}.{seq}.blk.tmp"));
        let guard = DeleteOnDrop::new(tmp_path.clone());
        // The temp file and the disk thread start with the first full
        // buffer: a block that fits in one is written, hashed and made
        // durable in one go at the end (small files cost one hand-off to a
        // blocking thread per replica, not four and a thread).
        Ok(BlockWriter {
            id,
            store: self.clone(),
            tmp_path,
            guard,
            buf: DirectBuf::new(IO_BUF),
            spare: None,
            len: 0,
            hash: digest == Digest::Compute,
            disk: Disk::NotStarted,
        })
    }

    fn check_room(&self, len: u64) -> Result<()> {
        if let Some(cap) = self.inner.capacity {
            let used = self.used();
            if used.saturating_add(len) > cap {
                return Err(DatanodeError::NoSpace(format!(
                    "{len} more bytes would exceed this node's capacity ({used} of {cap} used)"
                )));
            }
        }
        Ok(())
    }

    /// The stored checksums of a block.
    pub async fn meta(&self, id: BlockId) -> Result<BlockChecksums> {
        let info = self.get(id).ok_or(DatanodeError::NotFound(id))?;
        let path = self.meta_path(id);
        spawn_blocking(move || read_meta(id, &path, info)).await?
    }

    /// Opens `length` bytes of block `id` from `offset` (defaults: the whole
    /// block). The stream yields only verified bytes, then ends, or yields
    /// [`DatanodeError::Corrupt`] at the first bad chunk.
    pub async fn read(
        &self,
        id: BlockId,
        offset: Option<u64>,
        length: Option<u64>,
    ) -> Result<BlockRead> {
        self.read_checked(id, offset, length, ReadCheck::Digest)
            .await
    }

    /// [`BlockStore::read`], checking as `check` says.
    pub async fn read_checked(
        &self,
        id: BlockId,
        offset: Option<u64>,
        length: Option<u64>,
        check: ReadCheck,
    ) -> Result<BlockRead> {
        self.open_read(id, offset, length, check, false).await
    }

    /// A whole-block [`BlockStore::read`] for the scanner: the pages it reads
    /// are dropped from the page cache behind it, so that a scan of every
    /// replica does not push the blocks clients are reading out of memory
    /// (HDFS's volume scanner reads with the same drop-behind).
    pub async fn scan_read(&self, id: BlockId) -> Result<BlockRead> {
        self.open_read(id, None, None, ReadCheck::Digest, true)
            .await
    }

    async fn open_read(
        &self,
        id: BlockId,
        offset: Option<u64>,
        length: Option<u64>,
        check: ReadCheck,
        drop_behind: bool,
    ) -> Result<BlockRead> {
        let info = self.get(id).ok_or(DatanodeError::NotFound(id))?;
        let offset = offset.unwrap_or(0);
        if offset > info.len {
            return Err(DatanodeError::BadRequest(format!(
                "offset {offset} is beyond block {id} of {} bytes",
                info.len
            )));
        }
        let len = length.unwrap_or(info.len - offset);
        if len > info.len - offset {
            return Err(DatanodeError::BadRequest(format!(
                "range {offset}+{len} is beyond block {id} of {} bytes",
                info.len
            )));
        }
        let (meta_path, blk_path) = (self.meta_path(id), self.block_path(id));
        let (tx, rx) = mpsc::channel(IO_QUEUE);
        let store = self.clone();
        let opened = spawn_blocking(move || -> Result<()> {
            // The data file first: once open, a concurrent delete or
            // quarantine (a rename or unlink) cannot pull it from under us.
            let file = match direct::open_read(&blk_path) {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::NotFound => return Err(store.vanished(id, info)),
                Err(e) => {
                    return Err(DatanodeError::io(
                        format!("opening {}", blk_path.display()),
                        e,
                    ))
                }
            };
            let meta = match read_meta(id, &meta_path, info) {
                Err(DatanodeError::NotFound(_)) if store.get(id) == Some(info) => {
                    return Err(DatanodeError::Corrupt {
                        id,
                        detail: "meta file is missing".into(),
                    })
                }
                other => other?,
            };
            let on_disk = file
                .metadata()
                .map_err(|e| DatanodeError::io("stat of block file", e))?
                .len();
            if on_disk != meta.len {
                return Err(DatanodeError::Corrupt {
                    id,
                    detail: format!("{on_disk} bytes on disk, meta says {}", meta.len),
                });
            }
            if meta.len == 0 && meta.sha256 != Sha256Digest::empty() {
                return Err(DatanodeError::Corrupt {
                    id,
                    detail: format!("empty block, but meta says SHA-256 {}", meta.sha256),
                });
            }
            if len > 0 {
                // The reader runs on its own blocking thread; it stops when
                // the consumer drops the stream.
                spawn_blocking(move || {
                    read_loop(id, file, &meta, (offset, len), check, drop_behind, tx)
                });
            }
            Ok(())
        });
        opened.await??;
        Ok(BlockRead {
            info,
            offset,
            len,
            stream: ReadStream { rx },
        })
    }

    /// Removes a replica. Returns whether there was one.
    pub async fn delete(&self, id: BlockId) -> Result<bool> {
        let store = self.clone();
        spawn_blocking(move || store.delete_blocking(id)).await?
    }

    fn delete_blocking(&self, id: BlockId) -> Result<bool> {
        let _files = lock(&self.inner.files);
        let had = self.remove_from_index(id).is_some();
        let mut found = had;
        for path in [self.block_path(id), self.meta_path(id)] {
            match fs::remove_file(&path) {
                Ok(()) => found = true,
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(DatanodeError::io(format!("removing {}", path.display()), e)),
            }
        }
        if found {
            sync_dir(&self.fanout_dir(id))
                .map_err(|e| DatanodeError::io("syncing block dir", e))?;
        }
        Ok(found)
    }

    /// Moves a replica to `corrupt/` and forgets it. Returns whether it was
    /// still here: `false` when a delete or another quarantine got there
    /// first (then nothing is moved and there is nothing to report).
    pub async fn quarantine(&self, id: BlockId, reason: &str) -> Result<bool> {
        let store = self.clone();
        let reason = reason.to_string();
        let had = spawn_blocking(move || {
            let _files = lock(&store.inner.files);
            if store.remove_from_index(id).is_none() {
                return false;
            }
            log::warn!("quarantining replica {id}: {reason}");
            store.move_to_corrupt(&store.block_path(id), &id.to_string());
            true
        })
        .await?;
        Ok(had)
    }

    /// A read found the `.blk` of an indexed replica missing (blocking).
    /// Under the files lock, so a delete or write of the same id cannot
    /// interleave: if the index still holds what the reader saw and the
    /// file is still absent, forget the replica and remove its orphan
    /// `.meta` → [`DatanodeError::Vanished`]; otherwise it was deleted the
    /// ordinary way meanwhile → [`DatanodeError::NotFound`].
    fn vanished(&self, id: BlockId, seen: BlockInfo) -> DatanodeError {
        let _files = lock(&self.inner.files);
        if self.get(id) != Some(seen) || self.block_path(id).exists() {
            return DatanodeError::NotFound(id);
        }
        self.remove_from_index(id);
        log::warn!("replica {id} vanished from disk; forgetting it");
        match fs::remove_file(self.meta_path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => log::warn!("cannot remove orphan meta of {id}: {e}"),
        }
        DatanodeError::Vanished(id)
    }

    fn remove_from_index(&self, id: BlockId) -> Option<BlockInfo> {
        let mut index = lock(&self.inner.index);
        let info = index.blocks.remove(&id)?;
        index.used -= info.len;
        Some(info)
    }

    /// Moves `<stem>.blk` and its `.meta` (whichever exist) into `corrupt/`.
    /// Failures are logged: quarantine is best effort, the index no longer
    /// lists the replica either way.
    fn move_to_corrupt(&self, blk: &Path, stem: &str) {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        for ext in ["blk", "meta"] {
            let from = blk.with_extension(ext);
            let to = self.inner.corrupt_dir.join(format!("{stem}.{stamp}.{ext}"));
            match fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => log::error!("cannot move {} to {}: {e}", from.display(), to.display()),
            }
        }
        for dir in [blk.parent(), Some(self.inner.corrupt_dir.as_path())]
            .into_iter()
            .flatten()
        {
            if let Err(e) = sync_dir(dir) {
                log::warn!("cannot sync {}: {e}", dir.display());
            }
        }
    }

    /// The durable step of a write (blocking): fsync data, write and fsync
    /// meta, rename meta then data into `blocks/`, fsync the directory.
    fn finalize(
        &self,
        id: BlockId,
        w: Written,
        sha256: Sha256Digest,
        data_tmp: DeleteOnDrop,
    ) -> Result<BlockInfo> {
        let info = BlockInfo { len: w.len, sha256 };
        let io = |what: &str, e| DatanodeError::io(format!("{what} for block {id}"), e);
        let meta = BlockChecksums {
            len: w.len,
            sha256,
            chunk_size: CHUNK_SIZE as u32,
            crcs: w.crcs,
        };
        let meta_bytes = codec::encode(&meta)
            .map_err(|e| DatanodeError::Internal(format!("encoding meta: {e}")))?;
        let meta_tmp = DeleteOnDrop::new(data_tmp.path.with_extension("meta.tmp"));
        let write_meta = || -> std::io::Result<()> {
            let mut f = File::create(&meta_tmp.path)?;
            f.write_all(&meta_bytes)?;
            f.sync_all()
        };
        match w.data {
            Sealed::File(data_file) => {
                // The data's fsync and the meta's write and fsync at the same
                // time: the file system can commit both in one journal
                // transaction.
                let (data_synced, meta_synced) = std::thread::scope(|scope| {
                    let data = scope.spawn(|| data_file.sync_all());
                    let meta = write_meta();
                    let data = data
                        .join()
                        .unwrap_or_else(|_| Err(std::io::Error::other("fsync thread panicked")));
                    (data, meta)
                });
                data_synced.map_err(|e| io("fsync of data", e))?;
                meta_synced.map_err(|e| io("writing meta", e))?;
            }
            Sealed::Memory(buf) => {
                // Small enough that a second thread would cost more than it
                // saves.
                let mut f = DirectWriter::create_new(&data_tmp.path)
                    .map_err(|e| io("creating the temp file", e))?;
                f.write_all(buf.filled())
                    .map_err(|e| io("writing data", e))?;
                f.into_file()
                    .sync_all()
                    .map_err(|e| io("fsync of data", e))?;
                write_meta().map_err(|e| io("writing meta", e))?;
            }
        }

        let files = lock(&self.inner.files);
        if let Some(existing) = self.get(id) {
            // Temps are removed by their guards either way.
            return if existing == info {
                Ok(existing)
            } else {
                Err(DatanodeError::Conflict(id))
            };
        }
        if lock(&self.inner.index).committing.contains(&id) {
            // The same block, being committed by another write right now
            // (block ids are never reused, so this is a duplicate request).
            return Err(DatanodeError::Conflict(id));
        }
        self.check_room(info.len)?;
        let dir = self.fanout_dir(id);
        if !dir.exists() {
            fs::create_dir_all(&dir).map_err(|e| io("creating fan-out dir", e))?;
            sync_dir(&self.inner.blocks_dir).map_err(|e| io("fsync of blocks dir", e))?;
        }
        fs::rename(&meta_tmp.path, self.meta_path(id)).map_err(|e| io("renaming meta", e))?;
        meta_tmp.disarm();
        if let Err(e) = fs::rename(&data_tmp.path, self.block_path(id)) {
            // Do not leave a meta that promises data which is not there.
            let _ = fs::remove_file(self.meta_path(id));
            return Err(io("renaming data", e));
        }
        data_tmp.disarm();
        {
            let mut index = lock(&self.inner.index);
            index.committing.insert(id);
            index.used += info.len;
        }
        // The directory is synced outside the lock, so that the syncs of
        // concurrent writes share the file system's journal commits instead
        // of queueing for the lock one commit each (small files).
        drop(files);
        let synced = sync_dir(&dir);
        let mut index = lock(&self.inner.index);
        index.committing.remove(&id);
        if let Err(e) = synced {
            // As before this change: the files stay (a restart indexes them
            // if they are whole); the write is not acknowledged.
            index.used -= info.len;
            return Err(io("fsync of block dir", e));
        }
        index.blocks.insert(id, info);
        Ok(info)
    }
}

fn check_len(len: u64) -> Result<()> {
    if len > MAX_BLOCK_LEN {
        return Err(DatanodeError::TooLarge {
            len,
            limit: MAX_BLOCK_LEN,
        });
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads and checks a `.meta` against the index entry.
fn read_meta(id: BlockId, path: &Path, info: BlockInfo) -> Result<BlockChecksums> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(DatanodeError::NotFound(id)),
        Err(e) => return Err(DatanodeError::io(format!("reading {}", path.display()), e)),
    };
    let meta: BlockChecksums = codec::decode(&bytes).map_err(|e| DatanodeError::Corrupt {
        id,
        detail: format!("meta file: {e}"),
    })?;
    if !meta.is_consistent()
        || meta.chunk_size as usize != CHUNK_SIZE
        || meta.len != info.len
        || meta.sha256 != info.sha256
    {
        return Err(DatanodeError::Corrupt {
            id,
            detail: "meta file disagrees with the index".into(),
        });
    }
    Ok(meta)
}

/// Startup check of one replica: a decodable, consistent meta whose length is
/// the data file's length. Returns why not, for the log.
fn check_replica(blk: &Path, meta: &Path) -> std::result::Result<BlockInfo, String> {
    let bytes = fs::read(meta).map_err(|e| format!("meta file: {e}"))?;
    let m: BlockChecksums = codec::decode(&bytes).map_err(|e| format!("meta file: {e}"))?;
    if !m.is_consistent() || m.chunk_size as usize != CHUNK_SIZE {
        return Err("meta file is inconsistent".into());
    }
    let on_disk = fs::metadata(blk)
        .map_err(|e| format!("data file: {e}"))?
        .len();
    if on_disk != m.len {
        return Err(format!("{on_disk} bytes on disk, meta says {}", m.len));
    }
    Ok(BlockInfo {
        len: m.len,
        sha256: m.sha256,
    })
}

/// Removes a file when dropped, unless disarmed (Garage `DeleteOnDrop`).
struct DeleteOnDrop {
    path: PathBuf,
    armed: bool,
}

impl DeleteOnDrop {
    fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        // One unlink, done inline even on an async thread: it is a metadata
        // operation of microseconds, and deferring it would race a restart.
        if self.armed {
            if let Err(e) = fs::remove_file(&self.path) {
                if e.kind() != ErrorKind::NotFound {
                    log::warn!("cannot remove temp file {}: {e}", self.path.display());
                }
            }
        }
    }
}

/// Where a sealed block's bytes are.
enum Sealed {
    /// In the temp file, not yet synced.
    File(File),
    /// Still in memory (a block that fit in one buffer): written to the temp
    /// file at commit.
    Memory(DirectBuf),
}

/// What the disk thread hands back at the end of a write.
struct Written {
    data: Sealed,
    len: u64,
    /// `None` until adopted when the writer did not hash ([`Digest::Adopt`]).
    sha256: Option<Sha256Digest>,
    crcs: Vec<u32>,
}

/// The disk side of a write: hash, checksum and write each piece as it comes
/// (directly, see [`crate::direct`]), and hand the buffer back for reuse.
/// Should the file have fallen back to the page cache, start the disk writing
/// every [`WRITEBACK_EVERY`] bytes, so that the disk works while the block
/// arrives instead of all at the final fsync.
fn write_loop(
    mut file: DirectWriter,
    mut rx: mpsc::Receiver<DirectBuf>,
    back: std::sync::mpsc::Sender<DirectBuf>,
    hash: bool,
) -> std::io::Result<Written> {
    let mut sha = hash.then(Sha256Hasher::new);
    let mut crcs = ChunkCrcs::new();
    let mut len = 0u64;
    let mut flushed = 0u64;
    while let Some(mut piece) = rx.blocking_recv() {
        let data = piece.filled();
        if let Some(sha) = sha.as_mut() {
            sha.update(data);
        }
        crcs.update(data);
        file.write_all(data)?;
        len += data.len() as u64;
        if !file.is_direct() && len - flushed >= WRITEBACK_EVERY {
            start_writeback(file.file(), flushed, len - flushed);
            flushed = len;
        }
        piece.clear();
        let _ = back.send(piece); // the writer may be gone already
    }
    Ok(Written {
        data: Sealed::File(file.into_file()),
        len,
        sha256: sha.map(Sha256Hasher::finish),
        crcs: crcs.finish(),
    })
}

/// Bytes written to a block file between two starts of write-back.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// Asks the kernel to start writing `[offset, offset + len)` of `file` to
/// disk, without waiting for it (the fsync at the end of the block still
/// makes it durable; this only spreads the disk work over the transfer).
/// Best effort: on failure the fsync does it all, as without it.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain syscall on a file descriptor we own for the call's
    // duration; it reads no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

/// A block being written. Feed it with [`BlockWriter::write`], then
/// [`BlockWriter::finish`]; dropping it unfinished removes the temp file.
pub struct BlockWriter {
    id: BlockId,
    store: BlockStore,
    tmp_path: PathBuf,
    guard: DeleteOnDrop,
    /// The piece being filled; full ones go to the disk thread.
    buf: DirectBuf,
    /// Buffers the disk thread is done with, for reuse.
    spare: Option<std::sync::mpsc::Receiver<DirectBuf>>,
    len: u64,
    /// Whether this writer computes the SHA-256 ([`Digest::Compute`]).
    hash: bool,
    disk: Disk,
}

/// The disk side of a [`BlockWriter`].
enum Disk {
    /// Nothing sent yet: all the bytes so far are in `buf`.
    NotStarted,
    Running {
        tx: mpsc::Sender<DirectBuf>,
        task: JoinHandle<std::io::Result<Written>>,
    },
    /// The disk thread stopped with an error, already returned.
    Failed,
}

impl BlockWriter {
    pub fn id(&self) -> BlockId {
        self.id
    }

    /// Bytes accepted so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a piece. Refuses to grow past [`MAX_BLOCK_LEN`].
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        let new_len = self.len + data.len() as u64;
        check_len(new_len)?;
        self.len = new_len;
        let mut data = data;
        while !data.is_empty() {
            let took = self.buf.fill_from(data);
            data = &data[took..];
            if self.buf.is_full() && !data.is_empty() {
                self.send_buf().await?;
            }
        }
        Ok(())
    }

    /// Creates the temp file and starts the disk thread.
    async fn start_disk(&mut self) -> Result<()> {
        let p = self.tmp_path.clone();
        let file = spawn_blocking(move || DirectWriter::create_new(&p))
            .await?
            .map_err(|e| DatanodeError::io(format!("creating {}", self.tmp_path.display()), e))?;
        let (tx, rx) = mpsc::channel(IO_QUEUE);
        let (back_tx, back_rx) = std::sync::mpsc::channel();
        let hash = self.hash;
        let task = spawn_blocking(move || write_loop(file, rx, back_tx, hash));
        self.spare = Some(back_rx);
        self.disk = Disk::Running { tx, task };
        Ok(())
    }

    async fn send_buf(&mut self) -> Result<()> {
        if matches!(self.disk, Disk::NotStarted) {
            self.start_disk().await?;
        }
        let next = self
            .spare
            .as_ref()
            .and_then(|s| s.try_recv().ok())
            .unwrap_or_else(|| DirectBuf::new(IO_BUF));
        let piece = std::mem::replace(&mut self.buf, next);
        let sent = match &self.disk {
            Disk::Running { tx, .. } => tx.send(piece).await.is_ok(),
            _ => false,
        };
        if sent {
            return Ok(());
        }
        // The disk thread stopped early: it failed, and says why.
        match std::mem::replace(&mut self.disk, Disk::Failed) {
            Disk::Running { task, .. } => match task.await? {
                Err(e) => Err(DatanodeError::io(
                    format!("writing {}", self.tmp_path.display()),
                    e,
                )),
                Ok(_) => Err(DatanodeError::Internal("block writer stopped early".into())),
            },
            _ => Err(DatanodeError::Internal(
                "block writer already failed".into(),
            )),
        }
    }

    /// Completes the write: checks `expected`, then makes the block durable
    /// and visible. If the same block (same digest) is already stored, this
    /// succeeds without replacing it; a different digest is a conflict.
    pub async fn finish(self, expected: Expected) -> Result<BlockInfo> {
        Ok(self.finish_reporting(expected).await?.0)
    }

    /// [`BlockWriter::finish`], also giving the received bytes'
    /// [`crcs_fingerprint`] (for the writer's check).
    pub async fn finish_reporting(self, expected: Expected) -> Result<(BlockInfo, u32)> {
        self.seal().await?.commit(expected).await
    }

    /// Ends the write: every byte is in the temp file (not yet durable) and
    /// its checksums are known. Nothing is visible until
    /// [`SealedBlock::commit`]; dropping the result removes the temp file.
    pub async fn seal(mut self) -> Result<SealedBlock> {
        if matches!(self.disk, Disk::Running { .. }) && !self.buf.is_empty() {
            self.send_buf().await?;
        }
        let written = match std::mem::replace(&mut self.disk, Disk::Failed) {
            Disk::NotStarted => {
                // The whole block is in `buf`: checksum it here, write it at
                // commit.
                let buf = std::mem::replace(&mut self.buf, DirectBuf::new(0));
                let hash = self.hash;
                let checksum = move || {
                    let data = buf.filled();
                    let mut crcs = ChunkCrcs::new();
                    crcs.update(data);
                    Written {
                        len: data.len() as u64,
                        sha256: hash.then(|| Sha256Digest::of(data)),
                        crcs: crcs.finish(),
                        data: Sealed::Memory(buf),
                    }
                };
                if self.len <= INLINE_CHECKSUM as u64 {
                    checksum()
                } else {
                    spawn_blocking(checksum).await?
                }
            }
            Disk::Running { tx, task } => {
                drop(tx); // ends the disk thread's loop
                task.await?.map_err(|e| {
                    DatanodeError::io(format!("writing {}", self.tmp_path.display()), e)
                })?
            }
            Disk::Failed => {
                return Err(DatanodeError::Internal(
                    "block writer already failed".into(),
                ))
            }
        };
        let fingerprint = crcs_fingerprint(written.len, &written.crcs);
        let BlockWriter {
            id, store, guard, ..
        } = self;
        Ok(SealedBlock {
            id,
            store,
            guard,
            written,
            fingerprint,
        })
    }
}

/// A block whose bytes are all written (see [`BlockWriter::seal`]).
pub struct SealedBlock {
    id: BlockId,
    store: BlockStore,
    guard: DeleteOnDrop,
    written: Written,
    fingerprint: u32,
}

impl SealedBlock {
    /// The SHA-256 of the bytes, unless the writer left it to be adopted.
    pub fn sha256(&self) -> Option<Sha256Digest> {
        self.written.sha256
    }

    /// [`crcs_fingerprint`] of the bytes written.
    pub fn fingerprint(&self) -> u32 {
        self.fingerprint
    }

    /// Takes the upstream hop's SHA-256 for these bytes, after checking that
    /// the upstream hop's chunk CRC32Cs (its `fingerprint`) are ours: a hop
    /// that received other bytes keeps nothing (412).
    pub fn adopt_digest(&mut self, sha256: Sha256Digest, fingerprint: u32) -> Result<()> {
        if fingerprint != self.fingerprint {
            return Err(DatanodeError::ChecksumMismatch {
                id: self.id,
                detail: format!(
                    "the bytes received differ from the upstream hop's (chunk CRC32C \
                     fingerprint {:08x}, upstream {fingerprint:08x})",
                    self.fingerprint
                ),
            });
        }
        self.written.sha256 = Some(sha256);
        Ok(())
    }

    /// Checks `expected`, then makes the block durable and visible. If the
    /// same block (same digest) is already stored, this succeeds without
    /// replacing it; a different digest is a conflict. Gives the block and
    /// its fingerprint.
    pub async fn commit(self, expected: Expected) -> Result<(BlockInfo, u32)> {
        let SealedBlock {
            id,
            store,
            guard,
            written,
            fingerprint,
        } = self;
        let Some(sha256) = written.sha256 else {
            return Err(DatanodeError::Internal(format!(
                "block {id}: no SHA-256 was computed or handed over"
            )));
        };
        if let Some(len) = expected.len {
            if len != written.len {
                return Err(DatanodeError::ChecksumMismatch {
                    id,
                    detail: format!("received {} bytes, expected {len}", written.len),
                });
            }
        }
        if let Some(sha) = expected.sha256 {
            if sha != sha256 {
                return Err(DatanodeError::ChecksumMismatch {
                    id,
                    detail: format!("received bytes have SHA-256 {sha256}, expected {sha}"),
                });
            }
        }
        let info = spawn_blocking(move || store.finalize(id, written, sha256, guard)).await??;
        Ok((info, fingerprint))
    }
}

/// An open, range-checked read.
pub struct BlockRead {
    pub info: BlockInfo,
    pub offset: u64,
    /// Bytes the stream will yield if nothing is corrupt.
    pub len: u64,
    pub stream: ReadStream,
}

/// Verified bytes of a block range, in pieces of up to 1 MiB.
pub struct ReadStream {
    rx: mpsc::Receiver<Result<Bytes>>,
}

impl Stream for ReadStream {
    type Item = Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// The disk side of a read: whole aligned chunks, each verified before the
/// requested part of it is sent.
fn read_loop(
    id: BlockId,
    file: File,
    meta: &BlockChecksums,
    (offset, len): (u64, u64),
    check: ReadCheck,
    drop_behind: bool,
    tx: mpsc::Sender<Result<Bytes>>,
) {
    let cs = CHUNK_SIZE as u64;
    let end = offset + len;
    let mut chunk = (offset / cs) as usize;
    let last = end.div_ceil(cs) as usize; // exclusive
                                          // A whole-block read is hashed too; its last piece waits for the verdict.
    let whole = offset == 0 && len == meta.len && check == ReadCheck::Digest;
    let mut whole = whole.then(Sha256Hasher::new);
    let fail = |tx: &mpsc::Sender<Result<Bytes>>, e: DatanodeError| {
        let _ = tx.blocking_send(Err(e));
    };
    while chunk < last {
        let batch_end = (chunk + IO_BUF / CHUNK_SIZE).min(last);
        let batch_start_off = chunk as u64 * cs;
        let batch_len = (batch_end as u64 * cs).min(meta.len) - batch_start_off;
        // Chunk-aligned offset and whole chunks (but the block's last):
        // what direct reads need.
        let read = match direct::read_at(&file, batch_start_off, batch_len as usize) {
            Ok(b) if b.len() as u64 == batch_len => Ok(b),
            Ok(_) => Err(std::io::Error::from(ErrorKind::UnexpectedEof)),
            Err(e) => Err(e),
        };
        if drop_behind {
            direct::drop_cached(&file, batch_start_off, batch_len);
        }
        let buf = match read {
            Ok(b) => b,
            Err(e) => {
                let err = if e.kind() == ErrorKind::UnexpectedEof {
                    DatanodeError::Corrupt {
                        id,
                        detail: "block file is shorter than its meta".into(),
                    }
                } else {
                    DatanodeError::io("reading block file", e)
                };
                return fail(&tx, err);
            }
        };
        // Verify chunk by chunk; send the verified prefix, then the error.
        let mut good = 0usize;
        let mut bad = None;
        for i in chunk..batch_end {
            let clen = meta.chunk_len(i);
            if !meta.verify_chunk(i, &buf[good..good + clen]) {
                bad = Some(i);
                break;
            }
            good += clen;
        }
        let mut verified = buf.slice(..good);
        // Trim to the requested range.
        let lo = offset.saturating_sub(batch_start_off) as usize;
        let hi = (end - batch_start_off).min(good as u64) as usize;
        verified = if lo < hi {
            verified.slice(lo..hi)
        } else {
            Bytes::new()
        };
        if let Some(hasher) = whole.as_mut() {
            hasher.update(&verified);
            if bad.is_none() && batch_end == last {
                let got = std::mem::take(hasher).finish();
                if got != meta.sha256 {
                    return fail(
                        &tx,
                        DatanodeError::Corrupt {
                            id,
                            detail: format!(
                                "every chunk passes its CRC32C, but the data's SHA-256 is {got}, \
                                 not {} as its meta says",
                                meta.sha256
                            ),
                        },
                    );
                }
            }
        }
        if !verified.is_empty() && tx.blocking_send(Ok(verified)).is_err() {
            return; // the reader went away
        }
        if let Some(i) = bad {
            return fail(
                &tx,
                DatanodeError::Corrupt {
                    id,
                    detail: format!("chunk {i} fails its CRC32C"),
                },
            );
        }
        chunk = batch_end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    async fn put(store: &BlockStore, id: BlockId, bytes: &[u8]) -> BlockInfo {
        let mut w = store.writer(id, None).await.unwrap();
        for piece in bytes.chunks(10_000) {
            w.write(piece).await.unwrap();
        }
        w.finish(Expected::default()).await.unwrap()
    }

    async fn read_all(
        store: &BlockStore,
        id: BlockId,
        off: Option<u64>,
        len: Option<u64>,
    ) -> Result<Vec<u8>> {
        let mut r = store.read(id, off, len).await?;
        let mut out = Vec::new();
        while let Some(piece) = r.stream.next().await {
            out.extend_from_slice(&piece?);
        }
        assert_eq!(out.len() as u64, r.len);
        Ok(out)
    }

    fn tmp_files(dir: &Path) -> usize {
        fs::read_dir(dir.join("tmp")).unwrap().count()
    }

    #[tokio::test]
    async fn write_then_read_whole_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        let bytes = data(CHUNK_SIZE * 20 + 17); // spans two 1 MiB read batches
        let id = BlockId::new();
        let info = put(&store, id, &bytes).await;
        assert_eq!(
            info,
            BlockInfo {
                len: bytes.len() as u64,
                sha256: Sha256Digest::of(&bytes)
            }
        );
        assert_eq!(store.used(), bytes.len() as u64);
        assert_eq!(store.meta(id).await.unwrap(), BlockChecksums::of(&bytes));
        assert!(store.block_path(id).exists());
        assert_eq!(tmp_files(dir.path()), 0);

        assert_eq!(read_all(&store, id, None, None).await.unwrap(), bytes);
        let cs = CHUNK_SIZE as u64;
        for (off, len) in [
            (0, 1),
            (cs - 1, 2),
            (cs, cs),
            (5, 3 * cs),
            (15 * cs + 3, 2 * cs),
            (20 * cs, 17),
            (20 * cs + 16, 1),
        ] {
            let got = read_all(&store, id, Some(off), Some(len)).await.unwrap();
            assert_eq!(
                got,
                &bytes[off as usize..(off + len) as usize],
                "{off}+{len}"
            );
        }
        let n = bytes.len() as u64;
        assert!(read_all(&store, id, Some(n), None)
            .await
            .unwrap()
            .is_empty());
        assert!(read_all(&store, id, Some(n), Some(0))
            .await
            .unwrap()
            .is_empty());
        assert!(matches!(
            store.read(id, Some(n + 1), None).await,
            Err(DatanodeError::BadRequest(_))
        ));
        assert!(matches!(
            store.read(id, Some(n - 1), Some(2)).await,
            Err(DatanodeError::BadRequest(_))
        ));
        assert!(matches!(
            store.read(BlockId::new(), None, None).await,
            Err(DatanodeError::NotFound(_))
        ));

        // Same bytes again: idempotent. Different bytes: conflict.
        assert_eq!(put(&store, id, &bytes).await, info);
        let mut w = store.writer(id, None).await.unwrap();
        w.write(b"other").await.unwrap();
        assert!(matches!(
            w.finish(Expected::default()).await,
            Err(DatanodeError::Conflict(_))
        ));
        assert_eq!(tmp_files(dir.path()), 0);
        assert_eq!(store.used(), n);

        assert!(store.delete(id).await.unwrap());
        assert!(!store.delete(id).await.unwrap());
        assert!(!store.block_path(id).exists());
        assert_eq!(store.used(), 0);
    }

    #[tokio::test]
    async fn empty_block() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        let id = BlockId::new();
        let info = put(&store, id, b"").await;
        assert_eq!(info.sha256, Sha256Digest::empty());
        assert!(read_all(&store, id, None, None).await.unwrap().is_empty());
    }

    /// Blocks that stay in memory until commit (up to one buffer, above and
    /// below the inline-checksum size) and blocks that go through the disk
    /// thread, hashed here or with an adopted digest: the same bytes,
    /// digest and CRCs on disk, and no temp file left.
    #[tokio::test]
    async fn every_size_and_digest_source_stores_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        for len in [
            1,
            INLINE_CHECKSUM,
            INLINE_CHECKSUM + 1,
            IO_BUF,
            IO_BUF + 1,
            2 * IO_BUF + 3,
        ] {
            let bytes = data(len);
            let sha = Sha256Digest::of(&bytes);
            for digest in [Digest::Compute, Digest::Adopt] {
                let id = BlockId::new();
                let mut w = store.writer_with(id, None, digest).await.unwrap();
                for piece in bytes.chunks(100_000) {
                    w.write(piece).await.unwrap();
                }
                let mut sealed = w.seal().await.unwrap();
                let fp = crcs_fingerprint(len as u64, &BlockChecksums::of(&bytes).crcs);
                assert_eq!(sealed.fingerprint(), fp, "len {len}");
                match digest {
                    Digest::Compute => assert_eq!(sealed.sha256(), Some(sha)),
                    Digest::Adopt => {
                        assert_eq!(sealed.sha256(), None);
                        assert!(sealed.adopt_digest(sha, fp ^ 1).is_err());
                        sealed.adopt_digest(sha, fp).unwrap();
                    }
                }
                let (info, _) = sealed.commit(Expected::default()).await.unwrap();
                assert_eq!(info.sha256, sha, "len {len} {digest:?}");
                assert_eq!(read_all(&store, id, None, None).await.unwrap(), bytes);
                assert_eq!(store.meta(id).await.unwrap(), BlockChecksums::of(&bytes));
            }
        }
        // A sealed block that is dropped, in memory or on disk, leaves nothing.
        for len in [10, 2 * IO_BUF] {
            let mut w = store.writer(BlockId::new(), None).await.unwrap();
            w.write(&data(len)).await.unwrap();
            drop(w.seal().await.unwrap());
        }
        assert_eq!(tmp_files(dir.path()), 0);
    }

    #[tokio::test]
    async fn flipped_byte_is_detected_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        let bytes = data(CHUNK_SIZE * 3 + 17);
        let id = BlockId::new();
        put(&store, id, &bytes).await;
        let mut on_disk = fs::read(store.block_path(id)).unwrap();
        on_disk[CHUNK_SIZE * 2 + 5] ^= 0x40;
        fs::write(store.block_path(id), on_disk).unwrap();

        // Chunks before the bad one are served, then the error.
        let mut r = store.read(id, None, None).await.unwrap();
        let mut good = 0;
        let mut err = None;
        while let Some(piece) = r.stream.next().await {
            match piece {
                Ok(b) => good += b.len(),
                Err(e) => err = Some(e),
            }
        }
        assert_eq!(good, CHUNK_SIZE * 2);
        assert!(
            matches!(err, Some(DatanodeError::Corrupt { .. })),
            "{err:?}"
        );
        // A range inside good chunks still reads.
        assert_eq!(
            read_all(&store, id, Some(3), Some(100)).await.unwrap(),
            &bytes[3..103]
        );
        assert!(read_all(&store, id, Some(CHUNK_SIZE as u64 * 2), Some(1))
            .await
            .is_err());

        store.quarantine(id, "test").await.unwrap();
        assert!(store.get(id).is_none());
        assert!(!store.block_path(id).exists());
        let quarantined = fs::read_dir(dir.path().join("corrupt")).unwrap().count();
        assert_eq!(quarantined, 2);
        assert_eq!(store.used(), 0);
    }

    #[tokio::test]
    async fn dropped_or_mismatched_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        let id = BlockId::new();
        let mut w = store.writer(id, None).await.unwrap();
        w.write(&data(3 * IO_BUF + 5)).await.unwrap();
        assert_eq!(tmp_files(dir.path()), 1);
        drop(w);
        assert_eq!(tmp_files(dir.path()), 0);
        assert!(store.get(id).is_none());

        let bytes = data(1000);
        let mut w = store.writer(id, None).await.unwrap();
        w.write(&bytes).await.unwrap();
        let wrong = Expected {
            len: Some(1000),
            sha256: Some(Sha256Digest::of(b"x")),
        };
        assert!(matches!(
            w.finish(wrong).await,
            Err(DatanodeError::ChecksumMismatch { .. })
        ));
        let mut w = store.writer(id, None).await.unwrap();
        w.write(&bytes).await.unwrap();
        let wrong = Expected {
            len: Some(999),
            sha256: None,
        };
        assert!(matches!(
            w.finish(wrong).await,
            Err(DatanodeError::ChecksumMismatch { .. })
        ));
        assert_eq!(tmp_files(dir.path()), 0);
        assert!(store.get(id).is_none());
        assert!(!store.block_path(id).exists());

        let mut w = store.writer(id, None).await.unwrap();
        w.write(&bytes).await.unwrap();
        let right = Expected {
            len: Some(1000),
            sha256: Some(Sha256Digest::of(&bytes)),
        };
        assert_eq!(w.finish(right).await.unwrap().len, 1000);
    }

    #[tokio::test]
    async fn limits() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), Some(1500)).await.unwrap();
        assert!(matches!(
            store.writer(BlockId::new(), Some(MAX_BLOCK_LEN + 1)).await,
            Err(DatanodeError::TooLarge { .. })
        ));
        assert!(matches!(
            store.writer(BlockId::new(), Some(2000)).await,
            Err(DatanodeError::NoSpace(_))
        ));
        put(&store, BlockId::new(), &data(1000)).await;
        let mut w = store.writer(BlockId::new(), None).await.unwrap();
        w.write(&data(1000)).await.unwrap();
        assert!(matches!(
            w.finish(Expected::default()).await,
            Err(DatanodeError::NoSpace(_))
        ));
        assert_eq!(tmp_files(dir.path()), 0);
    }

    #[tokio::test]
    async fn restart_reloads_index_and_quarantines_bad_replicas() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        let (a, b, c, d) = (
            BlockId::new(),
            BlockId::new(),
            BlockId::new(),
            BlockId::new(),
        );
        let bytes = data(CHUNK_SIZE + 3);
        let ia = put(&store, a, &bytes).await;
        put(&store, b, &bytes).await;
        put(&store, c, &bytes).await;
        put(&store, d, &bytes).await;
        // b loses its meta, c gets truncated, d's meta is garbage; a stray temp file.
        fs::remove_file(store.meta_path(b)).unwrap();
        fs::OpenOptions::new()
            .write(true)
            .open(store.block_path(c))
            .unwrap()
            .set_len(10)
            .unwrap();
        fs::write(store.meta_path(d), b"\x01garbage").unwrap();
        fs::write(dir.path().join("tmp").join("x.tmp"), b"left over").unwrap();
        drop(store);

        let store = BlockStore::open(dir.path(), None).await.unwrap();
        assert_eq!(
            store.list(),
            vec![ReportedBlock {
                id: a,
                len: ia.len,
                sha256: ia.sha256
            }]
        );
        assert_eq!(store.used(), ia.len);
        assert_eq!(read_all(&store, a, None, None).await.unwrap(), bytes);
        assert_eq!(tmp_files(dir.path()), 0);
        let quarantined = fs::read_dir(dir.path().join("corrupt")).unwrap().count();
        assert_eq!(quarantined, 5, "b.blk, c.blk+meta, d.blk+meta");
        for id in [b, c, d] {
            assert!(!store.block_path(id).exists());
        }
    }
}
