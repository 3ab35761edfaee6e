//! `BlockRead`: the verified bytes of a block, or of a range of it.
//!
//! Opening a read takes the `.blk` first (once open, a concurrent delete or
//! quarantine cannot pull it away), then reads its checksums (the footer
//! and trailer at the end of the file, or an old two-file replica's
//! `.meta`) and checks them against the index and the file's length: two
//! small reads, whatever the range asked for. A blocking thread then reads
//! whole aligned chunks, ~1 MiB at a time, and sends on the part asked for
//! of each chunk that passed.
//!
//! Invariants:
//! - Every byte handed out was checked against its chunk's CRC32C first; a
//!   mismatch ends the stream with [`DatanodeError::Corrupt`]. A read of the
//!   whole block is also checked against the SHA-256 in its checksums
//!   ([`ReadCheck::Digest`]), and its last piece is held back until that
//!   check passes, so a replica whose CRCs agree with corrupt data still
//!   never leaves whole; only a reader that checks the SHA-256 itself asks
//!   for [`ReadCheck::Crc`].
//! - A replica whose footer or trailer (or `.meta`) is missing, damaged or
//!   disagrees with the index, or whose file is of the wrong length, is
//!   `Corrupt` too, and none of it is served, not even a range. A `.blk` that disappeared behind our back is dropped
//!   from the index ([`DatanodeError::Vanished`], see
//!   [`remove`](super::remove)).
//! - What to do about a corrupt replica is the caller's decision
//!   ([`crate::sender`], [`crate::scanner`]); a read only reports it.
use super::format::{read_trailer, Layout, TrailerError};
use super::index::Entry;
use super::{BlockInfo, BlockStore, IO_BUF, IO_QUEUE};
use crate::direct;
use crate::error::{DatanodeError, Result};
use bytes::Bytes;
use dfs_common::checksum::{BlockChecksums, Sha256Digest, Sha256Hasher, CHUNK_SIZE};
use dfs_common::codec;
use dfs_common::ids::BlockId;
use futures_util::Stream;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio::task::spawn_blocking;

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

impl BlockStore {
    /// The stored checksums of a block.
    pub async fn meta(&self, id: BlockId) -> Result<BlockChecksums> {
        let e = self.locate(id).ok_or(DatanodeError::NotFound(id))?;
        let store = self.clone();
        spawn_blocking(move || {
            let file = match fs::File::open(store.block_path_on(e.vol, id)) {
                Ok(f) => f,
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    return Err(DatanodeError::NotFound(id))
                }
                Err(err) => {
                    store.check_after_error(e.vol, &err);
                    return Err(DatanodeError::io("opening block file", err));
                }
            };
            store.checksums_of(id, e, &file)
        })
        .await?
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
        let entry = self.locate(id).ok_or(DatanodeError::NotFound(id))?;
        let (info, vol) = (entry.info, entry.vol);
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
        let blk_path = self.block_path_on(vol, id);
        let (tx, rx) = mpsc::channel(IO_QUEUE);
        let store = self.clone();
        let opened = spawn_blocking(move || -> Result<()> {
            // The data file first: once open, a concurrent delete or
            // quarantine (a rename or unlink) cannot pull it from under us.
            let file = match direct::open_read(&blk_path) {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(store.vanished(id, vol, info))
                }
                Err(e) => {
                    store.check_after_error(vol, &e);
                    return Err(DatanodeError::io(
                        format!("opening {}", blk_path.display()),
                        e,
                    ));
                }
            };
            let meta = store.checksums_of(id, entry, &file)?;
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
                    let failed = read_loop(id, file, &meta, (offset, len), check, drop_behind, tx);
                    if let Some(e) = failed {
                        store.check_after_error(vol, &e);
                    }
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
}

impl BlockStore {
    /// The checksums of replica `e` of block `id`, whose file is open as
    /// `file` (blocking): from its trailer, or from its `.meta` for the old
    /// layout, checked against the index entry and the file's length. A
    /// missing, damaged or disagreeing trailer or meta is `Corrupt`.
    fn checksums_of(&self, id: BlockId, e: Entry, file: &File) -> Result<BlockChecksums> {
        let on_disk = file
            .metadata()
            .map_err(|err| {
                self.check_after_error(e.vol, &err);
                DatanodeError::io("stat of block file", err)
            })?
            .len();
        let meta = match e.layout {
            Layout::OneFile => read_trailer(file, on_disk).map_err(|t| match t {
                // The disk failed to read it: not the replica's fault.
                TrailerError::Io(what, err) => {
                    self.check_after_error(e.vol, &err);
                    DatanodeError::io(format!("reading the {what} of block {id}"), err)
                }
                // Indexed only once readable: another format here means the
                // file changed under us; not this binary's to quarantine.
                TrailerError::Unreadable(why) => {
                    DatanodeError::io(format!("reading block {id}"), std::io::Error::other(why))
                }
                TrailerError::Bad(detail) => DatanodeError::Corrupt { id, detail },
            })?,
            Layout::TwoFile => {
                let meta = match read_meta(id, &self.meta_path_on(e.vol, id)) {
                    // Gone while the index still lists it: damage (a
                    // delete meanwhile leaves the index without it).
                    Err(DatanodeError::NotFound(_)) if self.get(id) == Some(e.info) => {
                        return Err(DatanodeError::Corrupt {
                            id,
                            detail: "meta file is missing".into(),
                        })
                    }
                    other => other.inspect_err(|err| self.after_read_error(e.vol, err))?,
                };
                if on_disk != meta.len {
                    return Err(DatanodeError::Corrupt {
                        id,
                        detail: format!("{on_disk} bytes on disk, meta says {}", meta.len),
                    });
                }
                meta
            }
        };
        if meta.len != e.info.len || meta.sha256 != e.info.sha256 {
            return Err(DatanodeError::Corrupt {
                id,
                detail: "stored checksums disagree with the index".into(),
            });
        }
        Ok(meta)
    }

    /// A read of volume `vol` failed with `err`: an I/O error may be the
    /// disk failing, and the store checks (blocking).
    fn after_read_error(&self, vol: usize, err: &DatanodeError) {
        if let DatanodeError::Io { source, .. } = err {
            self.check_after_error(vol, source);
        }
    }
}

/// Reads and decodes an old-layout `.meta` (checked against the index by
/// the caller).
fn read_meta(id: BlockId, path: &Path) -> Result<BlockChecksums> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(DatanodeError::NotFound(id)),
        Err(e) => return Err(DatanodeError::io(format!("reading {}", path.display()), e)),
    };
    let meta: BlockChecksums = codec::decode(&bytes).map_err(|e| DatanodeError::Corrupt {
        id,
        detail: format!("meta file: {e}"),
    })?;
    if !meta.is_consistent() || meta.chunk_size as usize != CHUNK_SIZE {
        return Err(DatanodeError::Corrupt {
            id,
            detail: "meta file is inconsistent".into(),
        });
    }
    Ok(meta)
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
) -> Option<std::io::Error> {
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
                if e.kind() == ErrorKind::UnexpectedEof {
                    let err = DatanodeError::Corrupt {
                        id,
                        detail: "block file is shorter than its meta".into(),
                    };
                    fail(&tx, err);
                    return None;
                }
                // The disk may be failing: the caller checks it.
                let copy = std::io::Error::new(e.kind(), e.to_string());
                fail(&tx, DatanodeError::io("reading block file", e));
                return Some(copy);
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
                    fail(
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
                    return None;
                }
            }
        }
        if !verified.is_empty() && tx.blocking_send(Ok(verified)).is_err() {
            return None; // the reader went away
        }
        if let Some(i) = bad {
            fail(
                &tx,
                DatanodeError::Corrupt {
                    id,
                    detail: format!("chunk {i} fails its CRC32C"),
                },
            );
            return None;
        }
        chunk = batch_end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{data, put, read_all};
    use futures_util::StreamExt;

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
        assert_eq!(quarantined, 1, "one file per replica");
        assert_eq!(store.used(), 0);
    }

    /// A replica whose footer or trailer is damaged after it was indexed is
    /// not served at all (not even a range of good chunks): the open fails
    /// with `Corrupt`, and quarantine moves it away.
    #[tokio::test]
    async fn damaged_footer_or_trailer_is_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        let bytes = data(CHUNK_SIZE * 2 + 9);
        for from_end in [1usize, 20, 33, 40] {
            let id = BlockId::new();
            put(&store, id, &bytes).await;
            let mut on_disk = fs::read(store.block_path(id)).unwrap();
            let at = on_disk.len() - from_end;
            on_disk[at] ^= 0x04;
            fs::write(store.block_path(id), on_disk).unwrap();
            for (off, len) in [(None, None), (Some(0), Some(10))] {
                let got = read_all(&store, id, off, len).await;
                assert!(
                    matches!(got, Err(DatanodeError::Corrupt { .. })),
                    "{from_end}: {got:?}"
                );
            }
            assert!(matches!(
                store.meta(id).await,
                Err(DatanodeError::Corrupt { .. })
            ));
            assert!(store.quarantine(id, "test").await.unwrap());
            assert!(!store.block_path(id).exists());
        }
        assert_eq!(store.used(), 0);
    }
}
