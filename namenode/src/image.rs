//! The startup image: the namespace as a clean stop leaves it, in one
//! sequential file (`<data-dir>/namespace.image`), so the next start reads
//! it instead of scanning the store, record by record, through sled's page
//! cache (issue 17: most of a 10 M-file restart was that scan, and most of
//! the store's share of the namenode's resident memory the pages it left
//! behind).
//!
//! The store stays the metadata of record: the image is only a faster way
//! to read the same state, and the start falls back to the store's scan
//! whenever the image is missing, damaged, or not exactly the store's
//! state. The format is the checkpoint format (`dfs_common::checkpoint`:
//! records in the store's own form, a SHA-256 trailer), written from
//! memory; it lacks the digest midstates (`h/`), which stay in the store
//! and are read on demand.
//!
//! Invariants:
//! - written only at a clean stop, after every change is durable and only
//!   if no commit ever failed (memory then equals the store), under a
//!   temporary name, synced, then renamed and the directory synced;
//! - read at most once: a start removes it (and syncs the directory)
//!   before it changes anything in the store, so an image never outlives
//!   the state it copies, whether the start goes on or crashes;
//! - used only if it is whole (trailer), every record decodes, and its last
//!   applied command and cluster id are the store's: commands are the
//!   only changes that outlive a start, and each one moves the index;
//! - tools that write a stopped store directly (restore, the benchmark's
//!   bulk loader) remove it first ([`discard`]).
use crate::error::{NamenodeError, Result};
use crate::meta_store::{decode_into, decode_large, Large, Loaded, MetaStore, Txn};
use crate::namespace::Namespace;
use crate::records::{BlockMeta, InodeId, InodeRecord};
use dfs_common::checkpoint::{self as format, CheckpointError, Record, Summary};
use dfs_common::codec;
use dfs_common::ids::{BlockId, ClusterId};
use std::fs;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::time::Instant;

/// The image's name in the data dir.
pub const FILE: &str = "namespace.image";
/// Records handed to the writer at a time.
const BATCH: usize = 64 * 1024;
/// Read and write buffers.
const BUFFER: usize = 4 << 20;

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

fn tmp_path(data_dir: &Path) -> PathBuf {
    data_dir.join(format!(".{FILE}.tmp"))
}

/// Writes the image of `ns` into `data_dir`, dated `now_ms` (see the
/// invariants: the caller has made every change durable). Blocking.
pub fn write(
    ns: &Namespace,
    cluster_id: ClusterId,
    data_dir: &Path,
    now_ms: u64,
) -> Result<Summary> {
    let tmp = tmp_path(data_dir);
    let result = (|| {
        let file = fs::File::create(&tmp).map_err(io_err)?;
        let mut w =
            format::Writer::new(BufWriter::with_capacity(BUFFER, &file), cluster_id, now_ms)
                .map_err(io_err)?;
        let mut head = Txn::new();
        head.put_cluster_id(cluster_id);
        head.put_raw(SIZES, &codec::encode(&ns.sizes()).map_err(io_err)?);
        let mut put_all = |txn: &mut Txn| -> Result<()> {
            for (k, v) in txn.take_writes()? {
                match v {
                    Some(v) => w.put(&k, &v).map_err(io_err)?,
                    None => w.del(&k).map_err(io_err)?,
                }
            }
            Ok(())
        };
        put_all(&mut head)?;
        ns.export(BATCH, &mut put_all)?;
        let (_, summary) = w.finish().map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        fs::rename(&tmp, path(data_dir)).map_err(io_err)?;
        sync_dir(data_dir)?;
        Ok(summary)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The namespace built from the image in `data_dir`, with the repairs the
/// build made (to commit), if there is an image and it is exactly
/// `store`'s state; the image is removed either way (see the invariants).
/// A damaged or stale image is logged and ignored: the store has
/// everything.
///
/// The build overlaps the read: one thread reads and decodes the records,
/// handing the inodes to the tree's build and then the blocks to the block
/// map's, both already running (see [`Namespace::load_from`]). Whatever was
/// built is thrown away if the file then turns out damaged.
pub fn load(
    data_dir: &Path,
    store: &MetaStore,
    now_ms: u64,
    now: Instant,
) -> Result<Option<(Namespace, Txn)>> {
    let _ = fs::remove_file(tmp_path(data_dir));
    let file = path(data_dir);
    let input = match fs::File::open(&file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            log::warn!(
                "cannot open the startup image {}: {e}; reading the store instead",
                file.display()
            );
            discard(data_dir)?;
            return Ok(None);
        }
    };
    // The sizes the image claims size the maps before its checksum is
    // checked: bounded by what a file this long can hold (a record takes
    // more than 16 bytes), so a damaged one cannot ask for terabytes.
    let most = input.metadata().map_or(0, |m| m.len() / 16);
    // Gone before anything changes (the open file reads on).
    discard(data_dir)?;
    let stored = store.applied_and_cluster()?;
    let (built, read) = std::thread::scope(|s| {
        let (head_tx, head_rx) = mpsc::sync_channel(1);
        let (inode_tx, inode_rx) = mpsc::sync_channel(CHANNEL);
        let (block_tx, block_rx) = mpsc::sync_channel(CHANNEL);
        let reader = s.spawn(move || stream(input, head_tx, inode_tx, block_tx));
        let built = match head_rx.recv() {
            Ok((head, sizes)) if (head.applied, head.cluster_id) == stored => {
                let mut txn = Txn::new();
                let ns = Namespace::load_from(
                    head,
                    Batches::new(inode_rx, sizes.0.min(most)),
                    Batches::new(block_rx, sizes.1.min(most)),
                    now_ms,
                    now,
                    &mut txn,
                );
                Ok((ns, txn))
            }
            Ok((head, _)) => Err(format!(
                "it holds command {} of cluster {:?}, the store command {} of cluster {:?}",
                head.applied, head.cluster_id, stored.0, stored.1
            )),
            Err(_) => Err("its head is unreadable".to_string()),
        };
        // Not building: the reader's next send fails and it stops.
        let read = reader
            .join()
            .unwrap_or_else(|_| Err("reading it panicked".into()));
        (built, read)
    });
    match (built, read) {
        (Ok(ns), Ok(())) => Ok(Some(ns)),
        // The reader's error first: it says what was wrong with the file.
        (_, Err(e)) | (Err(e), Ok(())) => {
            log::warn!(
                "startup image {} not used: {e}; reading the store instead",
                file.display()
            );
            Ok(None)
        }
    }
}

/// Batches of records handed from the reader to a build.
const CHANNEL: usize = 8;
const RECORDS_PER_BATCH: usize = 8 * 1024;
/// The image's own record (not a store key): how many inodes and blocks
/// follow, for the builds to size their maps.
const SIZES: &[u8] = b"x/sizes";

/// The records of a kind as they arrive, in batches.
struct Batches<T> {
    rx: mpsc::Receiver<Vec<T>>,
    batch: std::vec::IntoIter<T>,
    expected: usize,
}

impl<T> Batches<T> {
    fn new(rx: mpsc::Receiver<Vec<T>>, expected: u64) -> Self {
        Batches {
            rx,
            batch: Vec::new().into_iter(),
            expected: usize::try_from(expected).unwrap_or(0),
        }
    }
}

impl<T> Iterator for Batches<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        loop {
            if let Some(t) = self.batch.next() {
                return Some(t);
            }
            self.batch = self.rx.recv().ok()?.into_iter();
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.expected, None)
    }
}

/// The reader's side of [`load`]: the other records first (as a `Loaded`
/// without inodes and blocks, with the sizes), then the inodes, then the
/// blocks, each sent as it decodes; then the trailer's check.
fn stream(
    input: fs::File,
    head_tx: mpsc::SyncSender<(Loaded, (u64, u64))>,
    inode_tx: mpsc::SyncSender<Vec<(InodeId, InodeRecord)>>,
    block_tx: mpsc::SyncSender<Vec<(BlockId, BlockMeta)>>,
) -> std::result::Result<(), String> {
    /// Where the reader is: the head, the inodes, the blocks.
    enum Part {
        Head(Loaded, (u64, u64)),
        Inodes(Vec<(InodeId, InodeRecord)>),
        Blocks(Vec<(BlockId, BlockMeta)>),
    }
    let mut part = Part::Head(Loaded::default(), (0, 0));
    let mut head_tx = Some(head_tx);
    let mut inode_tx = Some(inode_tx);
    let mut cluster = None;
    let stopped = || ImageError("the build stopped".into());
    let damaged = |e: crate::error::NamenodeError| ImageError(e.to_string());
    let summary = format::read(BufReader::with_capacity(BUFFER, input), |r| {
        let (k, v) = match r {
            Record::Put(k, v) => (k, v),
            Record::Del(_) => return Err(ImageError("an image holds no deletions".into())),
        };
        let large = decode_large(k, v).map_err(damaged)?;
        if large.is_some() {
            if let Part::Head(head, sizes) = &mut part {
                // The head is whole: the builds can start.
                let head = std::mem::take(head);
                cluster = head.cluster_id;
                let tx = head_tx.take().ok_or_else(stopped)?;
                tx.send((head, *sizes)).map_err(|_| stopped())?;
                part = Part::Inodes(Vec::with_capacity(RECORDS_PER_BATCH));
            }
        }
        match (&mut part, large) {
            (Part::Head(_, sizes), None) if k == SIZES => {
                *sizes = codec::decode(v).map_err(|e| ImageError(e.to_string()))?;
            }
            (Part::Head(head, _), None) => decode_into(head, k, v).map_err(damaged)?,
            (Part::Inodes(batch), Some(Large::Inode(id, rec))) => {
                batch.push((id, rec));
                if batch.len() >= RECORDS_PER_BATCH {
                    let tx = inode_tx.as_ref().ok_or_else(stopped)?;
                    tx.send(std::mem::take(batch)).map_err(|_| stopped())?;
                }
            }
            (Part::Inodes(batch), Some(Large::Block(id, meta))) => {
                let tx = inode_tx.take().ok_or_else(stopped)?;
                tx.send(std::mem::take(batch)).map_err(|_| stopped())?;
                part = Part::Blocks(vec![(id, meta)]);
            }
            (Part::Blocks(batch), Some(Large::Block(id, meta))) => {
                batch.push((id, meta));
                if batch.len() >= RECORDS_PER_BATCH {
                    block_tx
                        .send(std::mem::take(batch))
                        .map_err(|_| stopped())?;
                }
            }
            _ => return Err(ImageError("its records are out of order".into())),
        }
        Ok(())
    })
    .map_err(|e: ImageError| e.0)?;
    let stopped = || "the build stopped".to_string();
    match part {
        // No inode at all: not an image a namenode wrote.
        Part::Head(..) => return Err("it holds no inodes".into()),
        Part::Inodes(batch) => {
            let tx = inode_tx.take().ok_or_else(stopped)?;
            tx.send(batch).map_err(|_| stopped())?;
        }
        Part::Blocks(batch) => block_tx.send(batch).map_err(|_| stopped())?,
    }
    if cluster != Some(summary.header.cluster_id) {
        return Err("its header and its records name different clusters".into());
    }
    Ok(())
}

/// A read's error, as text.
struct ImageError(String);

impl From<CheckpointError> for ImageError {
    fn from(e: CheckpointError) -> Self {
        ImageError(e.to_string())
    }
}

/// Removes the image from `data_dir`, durably. Nothing to remove is fine.
pub fn discard(data_dir: &Path) -> Result<()> {
    match fs::remove_file(path(data_dir)) {
        Ok(()) => sync_dir(data_dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NamenodeError::Internal(format!(
            "cannot remove the startup image {}: {e}",
            path(data_dir).display()
        ))),
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err)
}

fn io_err(e: impl std::fmt::Display) -> NamenodeError {
    NamenodeError::Internal(format!("startup image: {e}"))
}
