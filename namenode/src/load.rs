//! The start's read: the journal's records (`MetaStore::read_all`, the base
//! with the log laid over it, in canonical order) built into a namespace
//! while they stream.
//!
//! The build overlaps the read: one thread reads and decodes the records,
//! handing the inodes to the tree's build and then the blocks to the block
//! map's, both already running (see [`Namespace::load_from`]). Whatever
//! was built is thrown away if the read then fails, and the start fails
//! with it: a store that does not read whole is never served in part.
use crate::error::{NamenodeError, Result};
use crate::journal::SIZES;
use crate::meta_store::{decode_into, decode_start, Large, Loaded, MetaStore, Txn};
use crate::namespace::Namespace;
use crate::records::{BlockMetaIn, InodeId, InodeRecordIn};
use dfs_common::codec;
use dfs_common::ids::{BlockId, ClusterId};
use std::sync::mpsc;
use tokio::time::Instant;

/// What the read built.
pub struct Built {
    pub ns: Namespace,
    /// Repairs the build made (to commit before serving).
    pub txn: Txn,
    /// The records' cluster id, if they name one.
    pub cluster_id: Option<ClusterId>,
}

/// Builds the namespace from everything `store` holds; a new namespace
/// (a root) if it holds no inode.
pub fn load(store: &MetaStore, now_ms: u64, now: Instant) -> Result<Built> {
    // The sizes the base claims size the maps before its checksum is
    // checked: bounded by what files this long can hold (a record takes
    // more than 16 bytes), so a damaged one cannot ask for terabytes.
    let most = store.size_on_disk() / 16;
    let (built, read) = std::thread::scope(|s| {
        let (head_tx, head_rx) = mpsc::sync_channel(1);
        let (inode_tx, inode_rx) = mpsc::sync_channel(CHANNEL);
        let (block_tx, block_rx) = mpsc::sync_channel(CHANNEL);
        let reader = s.spawn(move || stream(store, head_tx, inode_tx, block_tx));
        let built = match head_rx.recv() {
            Ok(Head::Records(head, sizes)) => {
                let mut txn = Txn::new();
                let cluster_id = head.cluster_id;
                let ns = Namespace::load_from(
                    head,
                    Batches::new(inode_rx, sizes.0.min(most)),
                    Batches::new(block_rx, sizes.1.min(most)),
                    now_ms,
                    now,
                    &mut txn,
                );
                Some(Built {
                    ns,
                    txn,
                    cluster_id,
                })
            }
            Ok(Head::Empty(head)) => {
                let mut txn = Txn::new();
                let ns = Namespace::new(now_ms, &mut txn);
                Some(Built {
                    ns,
                    txn,
                    cluster_id: head.cluster_id,
                })
            }
            // The reader failed before the head: its error says why.
            Err(_) => None,
        };
        // Not building: the reader's next send fails and it stops.
        let read = reader
            .join()
            .unwrap_or_else(|_| Err("reading it panicked".into()));
        (built, read)
    });
    match (built, read) {
        (Some(b), Ok(())) => Ok(b),
        (_, Err(e)) => Err(NamenodeError::Internal(format!(
            "the metadata does not load: {e}"
        ))),
        (None, Ok(())) => Err(NamenodeError::Internal(
            "the metadata does not load: its reader stopped early".into(),
        )),
    }
}

/// Batches of records handed from the reader to a build.
const CHANNEL: usize = 8;
const RECORDS_PER_BATCH: usize = 8 * 1024;

/// What the reader sends first.
enum Head {
    /// The small records and the sizes; the inodes and blocks follow.
    Records(Loaded, (u64, u64)),
    /// No inode at all: a store with nothing yet (or only a cluster id).
    Empty(Loaded),
}

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
/// blocks, each sent as it decodes.
fn stream(
    store: &MetaStore,
    head_tx: mpsc::SyncSender<Head>,
    inode_tx: mpsc::SyncSender<Vec<(InodeId, InodeRecordIn)>>,
    block_tx: mpsc::SyncSender<Vec<(BlockId, BlockMetaIn)>>,
) -> std::result::Result<(), String> {
    /// Where the reader is: the head, the inodes, the blocks.
    enum Part {
        Head(Box<Loaded>, (u64, u64)),
        Inodes(Vec<(InodeId, InodeRecordIn)>),
        Blocks(Vec<(BlockId, BlockMetaIn)>),
    }
    let mut part = Part::Head(Box::default(), (0, 0));
    let mut head_tx = Some(head_tx);
    let mut inode_tx = Some(inode_tx);
    let stopped = || "the build stopped".to_string();
    let damaged = |e: NamenodeError| e.to_string();
    store
        .read_all(|k, v| {
            let large = decode_start(k, v).map_err(damaged)?;
            if large.is_some() {
                if let Part::Head(head, sizes) = &mut part {
                    // The head is whole: the builds can start.
                    let head = *std::mem::take(head);
                    let tx = head_tx.take().ok_or_else(stopped)?;
                    tx.send(Head::Records(head, *sizes))
                        .map_err(|_| stopped())?;
                    part = Part::Inodes(Vec::with_capacity(RECORDS_PER_BATCH));
                }
            }
            match (&mut part, large) {
                (Part::Head(_, sizes), None) if k == SIZES => {
                    *sizes = codec::decode(v).map_err(|e| e.to_string())?;
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
                _ => return Err("its records are out of order".to_string()),
            }
            Ok(())
        })
        .map_err(|e| e.to_string())??;
    match part {
        Part::Head(head, _) => {
            let tx = head_tx.take().ok_or_else(stopped)?;
            tx.send(Head::Empty(*head)).map_err(|_| stopped())?;
        }
        Part::Inodes(batch) => {
            let tx = inode_tx.take().ok_or_else(stopped)?;
            tx.send(batch).map_err(|_| stopped())?;
        }
        Part::Blocks(batch) => block_tx.send(batch).map_err(|_| stopped())?,
    }
    Ok(())
}
