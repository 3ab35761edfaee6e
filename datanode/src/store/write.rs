//! `BlockWriter`: a block's bytes into a temp file in `tmp/`, checksummed as
//! they pass (one CRC32C per chunk, and the SHA-256 unless it is adopted
//! from the upstream hop, see [`Digest`]), then sealed ([`SealedBlock`]) and
//! committed ([`commit`](super::commit)).
//!
//! The bytes are gathered into aligned buffers of [`IO_BUF`] bytes; a disk
//! thread checksums and writes each full one (direct I/O, [`crate::direct`])
//! and hands it back for reuse. A block that fits in one buffer never starts
//! the disk thread: it is checksummed at seal, and written and made durable
//! in one go at commit.
//!
//! Invariants:
//! - Nothing is visible before the commit; dropping a writer or a sealed
//!   block, at any point, removes its temp file.
//! - A block never grows past [`MAX_BLOCK_LEN`]; a length announced up front
//!   that would not fit the capacity is refused before any byte is written
//!   (and the commit checks the room again).
//! - Backpressure: at most [`IO_QUEUE`] full buffers wait for the disk per
//!   write.
//! - The expected length and SHA-256 are checked before the commit (a
//!   mismatch is [`DatanodeError::ChecksumMismatch`]), and an upstream
//!   digest is adopted only if our chunk CRC32Cs agree with the upstream
//!   hop's.
use super::commit::{DeleteOnDrop, Sealed, Written};
use super::{BlockInfo, BlockStore, IO_BUF, IO_QUEUE};
use crate::direct::{DirectBuf, DirectWriter};
use crate::error::{DatanodeError, Result};
use dfs_common::checksum::{
    crc32c, crcs_fingerprint, ChunkCrcs, Sha256Digest, Sha256Hasher, CHUNK_SIZE,
};
use dfs_common::ids::BlockId;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;
use tokio::task::{spawn_blocking, JoinHandle};

/// The largest block this node accepts.
pub const MAX_BLOCK_LEN: u64 = 4 << 30;

/// A block no longer than this that fits in one buffer is checksummed on
/// the async thread at seal (a few microseconds), not handed to a blocking one.
const INLINE_CHECKSUM: usize = 64 * 1024;

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

/// Optional promises a writer checks before making a block durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    pub len: Option<u64>,
    pub sha256: Option<Sha256Digest>,
}

impl BlockStore {
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
        // The temp file goes on the volume the block will live on, so that
        // the commit is a rename.
        let vol = self.choose_volume(expected_len.unwrap_or(0))?;
        let seq = self.inner.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp_path = self.volume(vol).tmp_dir.join(format!("{id}.{seq}.blk.tmp"));
        let guard = DeleteOnDrop::new(tmp_path.clone());
        // The temp file and the disk thread start with the first full
        // buffer: a block that fits in one is written, hashed and made
        // durable in one go at the end (small files cost one hand-off to a
        // blocking thread per replica, not four and a thread).
        Ok(BlockWriter {
            id,
            vol,
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
        data: Sealed::File(file),
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
    /// The volume the block is written to.
    vol: usize,
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

    /// An I/O error on the temp file: the store checks the volume.
    fn io_error(&self, what: &str, e: std::io::Error) -> DatanodeError {
        self.store.suspect(self.vol, &e);
        DatanodeError::io(format!("{what} {}", self.tmp_path.display()), e)
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
            .map_err(|e| self.io_error("creating", e))?;
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
                Err(e) => Err(self.io_error("writing", e)),
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
                task.await?.map_err(|e| self.io_error("writing", e))?
            }
            Disk::Failed => {
                return Err(DatanodeError::Internal(
                    "block writer already failed".into(),
                ))
            }
        };
        let fingerprint = crcs_fingerprint(written.len, &written.crcs);
        let BlockWriter {
            id,
            vol,
            store,
            guard,
            ..
        } = self;
        Ok(SealedBlock {
            id,
            vol,
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
    vol: usize,
    store: BlockStore,
    guard: DeleteOnDrop,
    written: Written,
    fingerprint: u32,
}

impl SealedBlock {
    /// Bytes written.
    pub fn len(&self) -> u64 {
        self.written.len
    }

    pub fn is_empty(&self) -> bool {
        self.written.len == 0
    }

    /// Up to `len` of the bytes written, from `offset` (a write that starts
    /// again from part of them: Hadoop's pipeline recovery), each 64 KiB
    /// chunk they touch checked against the CRC32C it was written with.
    pub async fn read_piece(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let end = self.written.len.min(offset.saturating_add(len as u64));
        if offset >= end {
            return Ok(Vec::new());
        }
        let chunk = CHUNK_SIZE as u64;
        let (first, last) = (offset / chunk, (end - 1) / chunk);
        let (from, to) = (first * chunk, ((last + 1) * chunk).min(self.written.len));
        let n = usize::try_from(to - from).unwrap_or(usize::MAX);
        let whole = match &self.written.data {
            Sealed::Memory(buf) => {
                let at = usize::try_from(from).unwrap_or(usize::MAX);
                buf.filled().get(at..at + n).unwrap_or_default().to_vec()
            }
            Sealed::File(_) => {
                let path = self.guard.path.clone();
                spawn_blocking(move || {
                    use std::os::unix::fs::FileExt;
                    let mut piece = vec![0u8; n];
                    File::open(&path)
                        .and_then(|f| f.read_exact_at(&mut piece, from))
                        .map_err(|e| {
                            DatanodeError::io(format!("reading back {}", path.display()), e)
                        })?;
                    Ok::<_, DatanodeError>(piece)
                })
                .await??
            }
        };
        for (i, c) in whole.chunks(CHUNK_SIZE).enumerate() {
            let want = self.written.crcs.get(first as usize + i).copied();
            if want != Some(crc32c(c)) {
                return Err(DatanodeError::ChecksumMismatch {
                    id: self.id,
                    detail: format!(
                        "chunk {} of the bytes written read back other than written",
                        first as usize + i
                    ),
                });
            }
        }
        let skip = usize::try_from(offset - from).unwrap_or(usize::MAX);
        let take = usize::try_from(end - offset).unwrap_or(usize::MAX);
        Ok(whole[skip..skip + take].to_vec())
    }

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
            vol,
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
        let info =
            spawn_blocking(move || store.finalize(id, vol, written, sha256, guard)).await??;
        Ok((info, fingerprint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{data, put, read_all, tmp_files};
    use dfs_common::checksum::BlockChecksums;

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

    /// A sealed write read back (Hadoop's pipeline recovery starts again
    /// from part of it): any range, from memory or from the temp file, the
    /// same bytes; a byte changed on disk behind the writer's back is
    /// caught by the chunk CRC32Cs, never handed on.
    #[tokio::test]
    async fn a_sealed_write_reads_back_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        for len in [5000, 3 * IO_BUF + 777] {
            let bytes = data(len);
            let mut w = store.writer(BlockId::new(), None).await.unwrap();
            w.write(&bytes).await.unwrap();
            let sealed = w.seal().await.unwrap();
            assert_eq!(sealed.len(), len as u64);
            for (at, n) in [(0, len), (1000, 3000), (len - 10, 100), (len, 5)] {
                let got = sealed.read_piece(at as u64, n).await.unwrap();
                assert_eq!(got, bytes[at..(at + n).min(len)], "{len}: {at}+{n}");
            }
            if len > IO_BUF {
                // On disk: change a byte of the temp file.
                let path = sealed.guard.path.clone();
                let mut raw = std::fs::read(&path).unwrap();
                raw[IO_BUF + 5] ^= 1;
                std::fs::write(&path, &raw).unwrap();
                let e = sealed.read_piece(IO_BUF as u64, 10).await.unwrap_err();
                assert!(matches!(e, DatanodeError::ChecksumMismatch { .. }), "{e}");
                // Chunks before it are still good.
                assert_eq!(sealed.read_piece(0, 100).await.unwrap(), bytes[..100]);
            }
        }
    }
}
