//! The durable step of a write: a sealed block becomes one replica file in
//! `blocks/` (its bytes, then its checksums in a trailer, see
//! [`format`](super::format)) that survives a crash, and only then enters
//! the index (Garage `write_block_inner` + `DeleteOnDrop`; neon
//! `durable_rename`).
//!
//! Order: append the trailer to the temp file and fsync it; under the files
//! lock, answer a duplicate or a conflict, check for room, rename the file
//! into the fan-out directory; outside the lock, fsync that directory; then
//! index the block. Per replica: one inode, one fsync, one rename, one
//! directory sync.
//!
//! Crash-safety invariants:
//! - A block is in the index, and acknowledged, only once its file is
//!   durable in `blocks/`. A crash before that may lose the block, never a
//!   block that was acknowledged.
//! - The file is complete (bytes, trailer, footer) and synced before it is
//!   renamed: a crash leaves either a temp file in `tmp/` (emptied at
//!   startup, never indexed) or a whole replica in `blocks/`, never a torn
//!   one there; the startup scan checks the footer anyway.
//! - Every temp file is removed on every exit path ([`DeleteOnDrop`]).
//! - While its directory is being synced, a block's id is in the index's
//!   `committing` set: its bytes count as used, it is not readable yet, and
//!   a second commit of it is a conflict.
use super::format::{encode_trailer, Layout};
use super::layout::sync_dir;
use super::{lock, BlockInfo, BlockStore};
use crate::direct::{DirectBuf, DirectWriter};
use crate::error::{DatanodeError, Result};
use dfs_common::checksum::{BlockChecksums, Sha256Digest, CHUNK_SIZE};
use dfs_common::ids::BlockId;
use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;

impl BlockStore {
    /// The durable step of a write (blocking): append the trailer, fsync,
    /// rename into `blocks/`, fsync the directory.
    pub(super) fn finalize(
        &self,
        id: BlockId,
        vol: usize,
        w: Written,
        sha256: Sha256Digest,
        data_tmp: DeleteOnDrop,
    ) -> Result<BlockInfo> {
        let info = BlockInfo { len: w.len, sha256 };
        let io = |what: &str, e: std::io::Error| {
            // An I/O error may be the disk failing: the store checks.
            self.check_after_error(vol, &e);
            DatanodeError::io(format!("{what} for block {id}"), e)
        };
        let meta = BlockChecksums {
            len: w.len,
            sha256,
            chunk_size: CHUNK_SIZE as u32,
            crcs: w.crcs,
        };
        let trailer = encode_trailer(&meta)
            .map_err(|e| DatanodeError::Internal(format!("block {id}: {e}")))?;
        // The checksums go after the bytes in the same file, so one fsync
        // makes the whole replica durable.
        let file = match w.data {
            Sealed::File(mut file) => {
                file.write_all(&trailer)
                    .map_err(|e| io("writing the trailer", e))?;
                file.into_file()
            }
            Sealed::Memory(buf) => {
                // Bytes and trailer in one write through the page cache, which
                // the fsync writes out as one piece (written directly, the
                // unaligned trailer was a second write to the disk: small
                // files paid it on every replica).
                let mut whole = Vec::with_capacity(buf.filled().len() + trailer.len());
                whole.extend_from_slice(buf.filled());
                whole.extend_from_slice(&trailer);
                let mut f = fs::File::create_new(&data_tmp.path)
                    .map_err(|e| io("creating the temp file", e))?;
                std::io::Write::write_all(&mut f, &whole).map_err(|e| io("writing data", e))?;
                f
            }
        };
        file.sync_all().map_err(|e| io("fsync of the replica", e))?;
        drop(file);

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
        let volume = self.volume(vol);
        if volume.is_failed() {
            return Err(DatanodeError::io(
                format!("committing block {id}"),
                std::io::Error::other(format!("data dir {} has failed", volume.root.display())),
            ));
        }
        let dir = self.fanout_dir_on(vol, id);
        if !dir.exists() {
            fs::create_dir_all(&dir).map_err(|e| io("creating fan-out dir", e))?;
            sync_dir(&volume.blocks_dir).map_err(|e| io("fsync of blocks dir", e))?;
        }
        let blk_path = self.block_path_on(vol, id);
        fs::rename(&data_tmp.path, &blk_path).map_err(|e| io("renaming the replica", e))?;
        data_tmp.disarm();
        {
            let mut index = lock(&self.inner.index);
            index.committing.insert(id);
            index.add_used(vol, info.len);
        }
        // The directory is synced outside the lock, so that the syncs of
        // concurrent writes share the file system's journal commits instead
        // of queueing for the lock one commit each (small files).
        drop(files);
        let synced = sync_dir(&dir);
        let mut index = lock(&self.inner.index);
        index.committing.remove(&id);
        if synced.is_err() || volume.is_failed() {
            // As before this change: the files stay (a restart indexes them
            // if they are whole); the write is not acknowledged. (A volume
            // that failed meanwhile has announced its replicas lost: this
            // one must not appear on it now.)
            index.sub_used(vol, info.len);
            drop(index);
            let e = synced
                .err()
                .unwrap_or_else(|| std::io::Error::other("the data dir failed"));
            return Err(io("fsync of block dir", e));
        }
        index.insert(
            id,
            super::index::Entry {
                info,
                vol,
                layout: Layout::OneFile,
            },
        );
        drop(index);
        volume.charge(info.len);
        Ok(info)
    }
}

/// Removes a file when dropped, unless disarmed (Garage `DeleteOnDrop`).
pub(super) struct DeleteOnDrop {
    pub(super) path: PathBuf,
    armed: bool,
}

impl DeleteOnDrop {
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }
    pub(super) fn disarm(mut self) {
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
pub(super) enum Sealed {
    /// In the temp file, not yet synced.
    File(DirectWriter),
    /// Still in memory (a block that fit in one buffer): written to the temp
    /// file at commit.
    Memory(DirectBuf),
}

/// What the disk thread hands back at the end of a write.
pub(super) struct Written {
    pub(super) data: Sealed,
    pub(super) len: u64,
    /// `None` until adopted when the writer did not hash
    /// ([`Digest::Adopt`](super::Digest::Adopt)).
    pub(super) sha256: Option<Sha256Digest>,
    pub(super) crcs: Vec<u32>,
}
