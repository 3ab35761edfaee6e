//! `BlockStore`: block replicas on the local disk, and the only module of the
//! datanode that claims durability. This file holds the handle and the map;
//! each part of the job is a file of its own:
//!
//! - `volume.rs`: the disks (one per `--data-dir`), the choice of a disk for
//!   a new block, the health probe, and taking a failed disk out of service.
//! - `format.rs`: what is inside a replica file: the block's bytes, then
//!   its checksums in a trailer, then a fixed footer (magic, version, CRCs).
//! - `layout.rs`: where a replica's files are under a data dir (`blocks/`
//!   fanned out by id, `tmp/`, `corrupt/`), and quarantine's move.
//! - `index.rs`: which replicas the store holds and on which disk, in
//!   memory, and the startup scan of each disk's `blocks/` that rebuilds it
//!   when the store opens.
//! - `write.rs`: [`BlockWriter`], a block's bytes into a temp file,
//!   checksummed as they pass, then sealed ([`SealedBlock`]).
//! - `commit.rs`: the durable step that makes a sealed block a replica.
//! - `read.rs`: [`BlockRead`], the verified bytes of a block or a range.
//! - `remove.rs`: replicas leaving: delete, quarantine, vanished.
//!
//! One file per replica: `<id>.blk` holds the bytes and, after them, the
//! checksums (`format.rs`), so a commit costs one inode, one fsync, one
//! rename and a directory sync, where the two-file layout before issue 19
//! (`<id>.blk` with the bytes only, `<id>.meta` with the checksums) cost two
//! of each. Existing data dirs are not migrated: both layouts are read. The
//! startup scan takes a `.blk` with a valid footer as one-file, and a `.blk`
//! without one but with a `.meta` as two-file; the index remembers which
//! ([`index`]), reads, the scanner, reports, delete and quarantine treat
//! both alike, and every new write is one-file. An old replica therefore
//! stays two-file until it is deleted or re-replicated (a copy made
//! elsewhere is one-file). Not migrating means no startup pass that
//! rewrites every replica of a full disk, and no crash window in one.
//!
//! Invariants (each stated in full where its code is):
//! - A block is in the index only once its file (and, for an old two-file
//!   replica, its `.meta`) is durable in `blocks/`; an unfinished or failed
//!   write leaves nothing behind, and a torn temp file is never indexed
//!   (`commit.rs`).
//! - Nothing is served from a replica whose footer or trailer (or `.meta`)
//!   fails its checks: the open fails with `Corrupt` (`read.rs`).
//! - Every byte a read hands out was checked against its chunk's CRC32C,
//!   and a whole block against its SHA-256 unless the reader checks that
//!   itself (`read.rs`). Deciding what to do about a corrupt replica
//!   (quarantine, report) is the caller's job ([`crate::sender`],
//!   [`crate::scanner`]).
//! - Files move in or out of `blocks/` only under the files lock, so two
//!   writers, a delete and a quarantine of the same id never interleave
//!   their renames (`commit.rs`, `remove.rs`).
//! - A replica lives on one disk, the one the index names; its temp file is
//!   on that disk too, so that the commit is a rename (`write.rs`).
//! - Blocking file I/O runs on tokio's blocking pool, in ~1 MiB pieces;
//!   writes are direct, reads go through the page cache ([`crate::direct`]).
//!
//! Does not talk to the network and does not know about the namenode.
use dfs_common::checksum::CHUNK_SIZE;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

mod commit;
mod format;
mod index;
mod layout;
mod read;
mod remove;
mod volume;
mod write;

pub use index::BlockInfo;
pub use read::{BlockRead, ReadCheck, ReadStream};
pub use volume::{VolumeFailure, VolumeStatus};
pub use write::{BlockWriter, Digest, Expected, SealedBlock, MAX_BLOCK_LEN};

#[cfg(test)]
pub(crate) use tests::write_two_file as write_two_file_for_tests;

/// The file of a one-file replica holding `data` and the checksums `meta`
/// (which may lie): for tests that build damaged replicas by hand. Nothing
/// on a server path calls it.
pub fn replica_file_bytes(
    data: &[u8],
    meta: &dfs_common::checksum::BlockChecksums,
) -> std::result::Result<Vec<u8>, String> {
    let mut out = data.to_vec();
    out.extend(format::encode_trailer(meta)?);
    Ok(out)
}

/// Bytes per disk read or write: 16 whole chunks, large enough that the data
/// path is not bound by syscalls and small enough to keep memory flat.
const IO_BUF: usize = 16 * CHUNK_SIZE;

/// Pieces queued between the network side and the disk thread (per transfer):
/// enough to overlap the two, little enough to keep backpressure tight.
const IO_QUEUE: usize = 4;

/// The block store. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct BlockStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// One per data dir, in `--data-dir` order.
    volumes: Vec<volume::Volume>,
    /// Where volume failures are announced ([`BlockStore::take_failures`]).
    failures_tx: tokio::sync::mpsc::UnboundedSender<VolumeFailure>,
    failures_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<VolumeFailure>>>,
    capacity: Option<u64>,
    index: Mutex<index::Index>,
    /// Held (on blocking threads only) while files move in or out of
    /// `blocks/`, so that two writers, a delete and a quarantine of the same
    /// id never interleave their renames.
    files: Mutex<()>,
    tmp_seq: AtomicU64,
}

/// Locks a mutex, recovering from poisoning: every critical section leaves
/// the data consistent (single inserts and removes), so a panic elsewhere
/// does not make it unusable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    //! Helpers for every part's tests, and the round trip through the whole
    //! store.
    use super::*;
    use crate::error::{DatanodeError, Result};
    use dfs_common::checksum::{BlockChecksums, Sha256Digest};
    use dfs_common::ids::BlockId;
    use futures_util::StreamExt;
    use std::fs;
    use std::path::Path;

    pub(super) fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    pub(super) async fn put(store: &BlockStore, id: BlockId, bytes: &[u8]) -> BlockInfo {
        let mut w = store.writer(id, None).await.unwrap();
        for piece in bytes.chunks(10_000) {
            w.write(piece).await.unwrap();
        }
        w.finish(Expected::default()).await.unwrap()
    }

    pub(super) async fn read_all(
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

    /// Writes block `id` the way the two-file layout did (before issue 19):
    /// `blocks/<fan-out>/<id>.blk` with the bytes only, and `<id>.meta`
    /// with its encoded [`BlockChecksums`].
    pub(crate) fn write_two_file(data_dir: &Path, id: BlockId, bytes: &[u8]) {
        let s = id.to_string();
        let fanout = data_dir.join("blocks").join(&s[s.len() - 2..]);
        fs::create_dir_all(&fanout).unwrap();
        fs::write(fanout.join(format!("{id}.blk")), bytes).unwrap();
        let meta = dfs_common::codec::encode(&BlockChecksums::of(bytes)).unwrap();
        fs::write(fanout.join(format!("{id}.meta")), meta).unwrap();
    }

    pub(super) fn tmp_files(dir: &Path) -> usize {
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
}
