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
//!
//! Invariants:
//! - one logical change = one [`Txn`] = one atomic `sled::Batch`, applied
//!   while the caller still holds the namespace lock (so batches reach sled in
//!   the order the changes were made in memory);
//! - a change is acknowledged to a client only after [`MetaStore::flush`]
//!   returned, which the caller awaits *after* releasing the lock, so
//!   concurrent changes share one flush (sled fsyncs its log once for all);
//! - sled is never called from anywhere else, so the engine can be swapped in
//!   this one file (Garage `src/db`).
use crate::blocks::BlockMeta;
use crate::datanodes::{LegacyNodeRecord, NodeRecord};
use crate::error::{NamenodeError, Result};
use crate::namespace::inode::{InodeId, InodeRecord, LegacyPendingFile, PendingFile};
use dfs_common::checksum::Sha256State;
use dfs_common::codec::{self, CodecError};
use dfs_common::ids::{BlockId, FileId, NodeId};
use std::path::Path;

const INODE: &[u8] = b"i/";
const PENDING: &[u8] = b"p/";
const BLOCK: &[u8] = b"b/";
const DATANODE: &[u8] = b"d/";
const HASH_STATE: &[u8] = b"h/";
const NEXT_INODE: &[u8] = b"m/next_inode";

fn key(prefix: &[u8], id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + id.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(id);
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
}

/// A set of puts and deletes that is applied atomically.
#[derive(Default)]
pub struct Txn {
    batch: sled::Batch,
    ops: usize,
    error: Option<CodecError>,
}

impl Txn {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.ops == 0 && self.error.is_none()
    }

    fn put<T: serde::Serialize>(&mut self, k: Vec<u8>, value: &T) {
        match codec::encode(value) {
            Ok(v) => {
                self.batch.insert(k, v);
                self.ops += 1;
            }
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(e);
                }
            }
        }
    }

    fn del(&mut self, k: Vec<u8>) {
        self.batch.remove(k);
        self.ops += 1;
    }

    pub fn put_inode(&mut self, id: InodeId, rec: &InodeRecord) {
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
    pub fn put_next_inode(&mut self, next: InodeId) {
        self.put(NEXT_INODE.to_vec(), &next);
    }
}

/// The sled database of one namenode.
pub struct MetaStore {
    db: sled::Db,
}

impl MetaStore {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            NamenodeError::Internal(format!("cannot create data dir {}: {e}", dir.display()))
        })?;
        let db = sled::Config::new()
            .path(dir.join("meta.sled"))
            .open()
            .map_err(|e| {
                NamenodeError::Internal(format!("cannot open metadata in {}: {e}", dir.display()))
            })?;
        if db.was_recovered() {
            log::info!("metadata store opened from {}", dir.display());
        } else {
            log::info!("metadata store created in {}", dir.display());
        }
        Ok(MetaStore { db })
    }

    /// Reads everything back. A record that cannot be decoded is an error:
    /// starting with part of the namespace silently missing is worse than
    /// not starting.
    pub fn load(&self) -> Result<Loaded> {
        let mut out = Loaded::default();
        for item in self.db.scan_prefix(INODE) {
            let (k, v) = item.map_err(store_err)?;
            let id = id_u64(&k[INODE.len()..])?;
            out.inodes.push((id, codec::decode(&v).map_err(codec_err)?));
        }
        for item in self.db.scan_prefix(PENDING) {
            let (_, v) = item.map_err(store_err)?;
            // Records written before appends existed lack `append`.
            let p = match codec::decode::<PendingFile>(&v) {
                Ok(p) => p,
                Err(_) => codec::decode::<LegacyPendingFile>(&v)
                    .map_err(codec_err)?
                    .into(),
            };
            out.pending.push(p);
        }
        for item in self.db.scan_prefix(BLOCK) {
            let (k, v) = item.map_err(store_err)?;
            out.blocks.push((
                BlockId::from_bytes(id_16(&k[BLOCK.len()..])?),
                codec::decode(&v).map_err(codec_err)?,
            ));
        }
        for item in self.db.scan_prefix(DATANODE) {
            let (k, v) = item.map_err(store_err)?;
            // Records written before admin states existed hold the address only.
            let rec = match codec::decode::<NodeRecord>(&v) {
                Ok(r) => r,
                Err(_) => codec::decode::<LegacyNodeRecord>(&v)
                    .map_err(codec_err)?
                    .into(),
            };
            out.datanodes
                .push((NodeId::from_bytes(id_16(&k[DATANODE.len()..])?), rec));
        }
        if let Some(v) = self.db.get(NEXT_INODE).map_err(store_err)? {
            out.next_inode = Some(codec::decode(&v).map_err(codec_err)?);
        }
        Ok(out)
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

    /// Applies a transaction atomically (not yet durable: see [`Self::flush`]).
    pub fn apply(&self, txn: Txn) -> Result<()> {
        if let Some(e) = txn.error {
            return Err(codec_err(e));
        }
        if txn.ops == 0 {
            return Ok(());
        }
        self.db.apply_batch(txn.batch).map_err(store_err)
    }

    /// Makes every applied transaction durable.
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await.map(|_| ()).map_err(store_err)
    }

    /// Bytes sled uses on disk (for `/metrics`).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
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
    use crate::blocks::BlockOwner;
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
            store.apply(txn).unwrap();
            let mut txn = Txn::new();
            txn.del_inode(9);
            store.apply(txn).unwrap();
            store.flush().await.unwrap();
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
}
