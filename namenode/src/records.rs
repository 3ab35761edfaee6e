//! The records the namenode persists, one place for their shapes and their
//! legacy forms (what older versions wrote, still readable): inodes and
//! files being written (`i/`, `p/`), blocks (`b/`), datanodes (`d/`) and
//! their maintenance (`n/`).
//!
//! A leaf: it knows no domain logic, so the store (`meta_store`) and the
//! domain modules (`namespace`, `blocks`, `datanodes`) all depend on it and
//! not on each other's types. Changing a record's shape means adding a
//! legacy form here and its `From` (bincode has no field tags: see
//! DEPENDENCIES.md on bincode).
use compact_str::CompactString;
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::AdminState;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// A stable number for an inode (WebHDFS `fileId`). Never reused.
pub type InodeId = u64;

pub const DEFAULT_OWNER: &str = "dfs";
pub const DEFAULT_GROUP: &str = "supergroup";
pub const DIR_PERMISSION: u16 = 0o755;
pub const FILE_PERMISSION: u16 = 0o644;

/// What a complete file is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    pub length: u64,
    pub replication: u16,
    pub block_size: u64,
    /// In file order; every block but the last is `block_size` long.
    pub blocks: Vec<BlockId>,
    /// The whole file's SHA-256.
    pub sha256: Sha256Digest,
}

/// An [`InodeRecord`] borrowed from the live inode, for writing many at
/// once (`Namespace::export`): it encodes to the same bytes, field for field
/// (`&str` as `String`, a slice as a `Vec`), without copying the strings.
#[derive(Debug, Serialize)]
pub struct InodeRecordRef<'a> {
    pub parent: InodeId,
    pub name: &'a str,
    pub mtime: u64,
    pub atime: u64,
    pub owner: &'a str,
    pub group: &'a str,
    pub permission: u16,
    pub file: Option<FileMetaRef<'a>>,
}

/// A [`FileMeta`] borrowed (see [`InodeRecordRef`]).
#[derive(Debug, Serialize)]
pub struct FileMetaRef<'a> {
    pub length: u64,
    pub replication: u16,
    pub block_size: u64,
    pub blocks: &'a [BlockId],
    pub sha256: Sha256Digest,
}

/// One inode as stored (`i/<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InodeRecord {
    pub parent: InodeId,
    /// Empty for the root.
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub mtime: u64,
    pub atime: u64,
    pub owner: String,
    pub group: String,
    pub permission: u16,
    /// `None` for a directory.
    pub file: Option<FileMeta>,
}

impl InodeRecord {
    pub fn new_dir(parent: InodeId, name: &str, now_ms: u64) -> Self {
        InodeRecord {
            parent,
            name: name.to_string(),
            mtime: now_ms,
            atime: now_ms,
            owner: DEFAULT_OWNER.to_string(),
            group: DEFAULT_GROUP.to_string(),
            permission: DIR_PERMISSION,
            file: None,
        }
    }
}

/// A file being written (HDFS "under construction"), as stored (`p/<file id>`).
/// It is not in the tree: nothing shows at `path` until `complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFile {
    pub file_id: FileId,
    pub path: DfsPath,
    pub overwrite: bool,
    pub create_parent: bool,
    pub replication: u16,
    pub block_size: u64,
    pub owner: String,
    pub permission: u16,
    /// Blocks allocated so far, in allocation order.
    pub blocks: Vec<BlockId>,
    pub created_ms: u64,
    /// Set when this write appends to a complete file (which stays in the
    /// tree, with its old content, until `complete`).
    pub append: Option<AppendTarget>,
}

/// What an append goes on from: the file's inode as it was when the
/// append started. `complete` checks it is still so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendTarget {
    pub inode: InodeId,
    pub old_length: u64,
    pub old_blocks: u64,
    /// Leading blocks that stay (all full).
    pub kept_blocks: u64,
    /// The short last block that the append rewrites, deleted at `complete`.
    pub replaced: Option<BlockId>,
}

impl AppendTarget {
    pub fn kept_len(&self, block_size: u64) -> u64 {
        self.kept_blocks * block_size
    }
}

/// The first shape of [`PendingFile`] (before appends), still readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyPendingFile {
    pub file_id: FileId,
    pub path: DfsPath,
    pub overwrite: bool,
    pub create_parent: bool,
    pub replication: u16,
    pub block_size: u64,
    pub owner: String,
    pub permission: u16,
    pub blocks: Vec<BlockId>,
    pub created_ms: u64,
}

impl From<LegacyPendingFile> for PendingFile {
    fn from(l: LegacyPendingFile) -> Self {
        PendingFile {
            file_id: l.file_id,
            path: l.path,
            overwrite: l.overwrite,
            create_parent: l.create_parent,
            replication: l.replication,
            block_size: l.block_size,
            owner: l.owner,
            permission: l.permission,
            blocks: l.blocks,
            created_ms: l.created_ms,
            append: None,
        }
    }
}

/// Who a block belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockOwner {
    /// A complete file (inode id).
    File(InodeId),
    /// A file still being written.
    Pending(FileId),
}

/// One block as stored (`b/<block id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub owner: BlockOwner,
    /// 0 until committed.
    pub len: u64,
    /// `None` until committed.
    pub sha256: Option<Sha256Digest>,
    /// Nodes believed to hold a good, complete replica.
    pub replicas: Vec<NodeId>,
    /// The pipeline it was sent to (pending blocks only): where to send
    /// deletions if the write is abandoned.
    pub targets: Vec<NodeId>,
}

/// An [`InodeRecord`] as a start reads it, millions at a time: the same
/// encoding field for field (a `CompactString` is a `String`, a `SmallVec`
/// a `Vec`), decoded without an allocation for a name, an owner or a group
/// of up to 24 bytes and for a file of one block.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InodeRecordIn {
    pub parent: InodeId,
    pub name: CompactString,
    pub mtime: u64,
    pub atime: u64,
    pub owner: CompactString,
    pub group: CompactString,
    pub permission: u16,
    pub file: Option<FileMetaIn>,
}

/// A [`FileMeta`] as a start reads it (see [`InodeRecordIn`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileMetaIn {
    pub length: u64,
    pub replication: u16,
    pub block_size: u64,
    pub blocks: SmallVec<[BlockId; 1]>,
    pub sha256: Sha256Digest,
}

impl From<InodeRecord> for InodeRecordIn {
    fn from(r: InodeRecord) -> Self {
        InodeRecordIn {
            parent: r.parent,
            name: r.name.into(),
            mtime: r.mtime,
            atime: r.atime,
            owner: r.owner.into(),
            group: r.group.into(),
            permission: r.permission,
            file: r.file.map(|f| FileMetaIn {
                length: f.length,
                replication: f.replication,
                block_size: f.block_size,
                blocks: SmallVec::from_vec(f.blocks),
                sha256: f.sha256,
            }),
        }
    }
}

/// A [`BlockMeta`] as a start reads it: the same encoding, three replicas
/// inline (see [`InodeRecordIn`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BlockMetaIn {
    pub owner: BlockOwner,
    pub len: u64,
    pub sha256: Option<Sha256Digest>,
    pub replicas: SmallVec<[NodeId; 3]>,
    pub targets: Vec<NodeId>,
}

impl From<BlockMeta> for BlockMetaIn {
    fn from(m: BlockMeta) -> Self {
        BlockMetaIn {
            owner: m.owner,
            len: m.len,
            sha256: m.sha256,
            replicas: SmallVec::from_vec(m.replicas),
            targets: m.targets,
        }
    }
}

/// Bincode's encoding as `dfs_common::codec` writes it (its version byte,
/// then integers as varints, little endian), read by hand for the two
/// records a start decodes millions of: serde's generic path spent most of
/// a 10 M-file start's read in them. The test
/// `the_hand_decoders_agree_with_serde` holds the two together.
struct Bin<'a>(&'a [u8]);

type BinResult<T> = std::result::Result<T, String>;

impl<'a> Bin<'a> {
    fn new(bytes: &'a [u8]) -> BinResult<Self> {
        match bytes.split_first() {
            Some((&dfs_common::codec::FORMAT_VERSION, rest)) => Ok(Bin(rest)),
            Some((v, _)) => Err(format!("unsupported format version {v}")),
            None => Err("an empty record".into()),
        }
    }

    fn take(&mut self, n: usize) -> BinResult<&'a [u8]> {
        if self.0.len() < n {
            return Err("the record is cut short".into());
        }
        let (a, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(a)
    }

    fn array<const N: usize>(&mut self) -> BinResult<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn byte(&mut self) -> BinResult<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u64(&mut self) -> BinResult<u64> {
        match self.byte()? {
            b @ 0..=250 => Ok(u64::from(b)),
            251 => Ok(u64::from(u16::from_le_bytes(self.array()?))),
            252 => Ok(u64::from(u32::from_le_bytes(self.array()?))),
            253 => Ok(u64::from_le_bytes(self.array()?)),
            t => Err(format!("an integer of tag {t}")),
        }
    }

    fn u16(&mut self) -> BinResult<u16> {
        u16::try_from(self.u64()?).map_err(|e| e.to_string())
    }

    fn u32(&mut self) -> BinResult<u32> {
        u32::try_from(self.u64()?).map_err(|e| e.to_string())
    }

    fn len(&mut self) -> BinResult<usize> {
        usize::try_from(self.u64()?).map_err(|e| e.to_string())
    }

    fn str(&mut self) -> BinResult<&'a str> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).map_err(|e| e.to_string())
    }

    fn some(&mut self) -> BinResult<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(format!("an option of tag {t}")),
        }
    }

    /// A UUID (serde's: 16 length-prefixed bytes).
    fn uuid(&mut self) -> BinResult<[u8; 16]> {
        match self.len()? {
            16 => self.array(),
            n => Err(format!("an id of {n} bytes")),
        }
    }

    fn digest(&mut self) -> BinResult<Sha256Digest> {
        Ok(Sha256Digest(self.array()?))
    }

    /// A sequence of `item`s (at least 17 bytes each: a UUID).
    fn uuids<T, C: Default + Extend<T>>(&mut self, item: impl Fn([u8; 16]) -> T) -> BinResult<C> {
        let n = self.len()?;
        if n > self.0.len() / 17 {
            return Err("the record is cut short".into());
        }
        let mut out = C::default();
        for _ in 0..n {
            out.extend(Some(item(self.uuid()?)));
        }
        Ok(out)
    }

    /// Nothing may follow a record (codec's options reject trailing bytes).
    fn end(self) -> BinResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err("bytes follow the record".into())
        }
    }
}

impl InodeRecordIn {
    /// Decodes a stored [`InodeRecord`]'s bytes (as `codec::decode` would).
    pub fn decode(bytes: &[u8]) -> BinResult<Self> {
        let mut b = Bin::new(bytes)?;
        let parent = b.u64()?;
        let name = b.str()?.into();
        let (mtime, atime) = (b.u64()?, b.u64()?);
        let owner = b.str()?.into();
        let group = b.str()?.into();
        let permission = b.u16()?;
        let file = if b.some()? {
            Some(FileMetaIn {
                length: b.u64()?,
                replication: b.u16()?,
                block_size: b.u64()?,
                blocks: b.uuids(BlockId::from_bytes)?,
                sha256: b.digest()?,
            })
        } else {
            None
        };
        b.end()?;
        Ok(InodeRecordIn {
            parent,
            name,
            mtime,
            atime,
            owner,
            group,
            permission,
            file,
        })
    }
}

impl BlockMetaIn {
    /// Decodes a stored [`BlockMeta`]'s bytes (as `codec::decode` would).
    pub fn decode(bytes: &[u8]) -> BinResult<Self> {
        let mut b = Bin::new(bytes)?;
        let owner = match b.u32()? {
            0 => BlockOwner::File(b.u64()?),
            1 => BlockOwner::Pending(FileId::from_bytes(b.uuid()?)),
            v => return Err(format!("a block owner of variant {v}")),
        };
        let len = b.u64()?;
        let sha256 = if b.some()? { Some(b.digest()?) } else { None };
        let replicas = b.uuids(NodeId::from_bytes)?;
        let targets = b.uuids(NodeId::from_bytes)?;
        b.end()?;
        Ok(BlockMetaIn {
            owner,
            len,
            sha256,
            replicas,
            targets,
        })
    }
}

/// A datanode as stored (`d/<node id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub addr: String,
    /// Stored since decommissioning exists; records written before decode
    /// through [`LegacyNodeRecord`] as `Normal`.
    pub admin: AdminState,
}

/// A datanode's maintenance as replicated (`Command::SetMaintenance`) and
/// stored (`n/<node id>`): until an operator ends it, or until a wall-clock
/// time, so that every namenode (the next leader too) runs it out at the
/// same moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Maintenance {
    UntilEnded,
    /// Ms since the epoch.
    Until(u64),
}

/// A directory's quotas as replicated (`Command::SetQuota`) and stored
/// (`q/<inode id>`): at most `names` files and directories below it (itself
/// included, as HDFS counts) and at most `bytes` of space (each file's
/// length times its replication). `None`: no limit of that kind; a record
/// with neither is not kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLimits {
    pub names: Option<u64>,
    pub bytes: Option<u64>,
}

impl QuotaLimits {
    pub fn is_none(&self) -> bool {
        self.names.is_none() && self.bytes.is_none()
    }
}

/// An S3 access key as replicated (`Command::PutS3Key`) and stored
/// (`k/<access key>`). The secret is kept as given: S3's signatures are
/// HMACs, so the server needs it (as S3 and Garage keep theirs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3KeyRecord {
    pub secret: String,
    pub user: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: u64,
}

/// One snapshot of a snapshottable directory (stored in `y/<dir inode>`,
/// all of the directory's in one record, oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub name: String,
    pub epoch: u64,
    pub next_inode: InodeId,
    pub created_ms: u64,
}

/// An inode as a snapshot saw it, saved before a change (`v/<inode><epoch>`):
/// its record, and a directory's entries then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRecord {
    pub record: InodeRecord,
    pub children: Option<Vec<InodeId>>,
}

/// A balancer run an operator started (`Command::SetBalancer`, stored as
/// `m/balancer`): the leader runs it until the cluster is balanced (or no
/// move is left), a new leader takes it up, and `id` tells this run's end
/// (`Command::BalancerDone`) from a later start's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancerRun {
    pub id: u64,
    /// Thousandths of a percentage point.
    pub threshold_milli: u32,
}

/// The first shape of [`NodeRecord`] (address only), still readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyNodeRecord {
    pub addr: String,
}

impl From<LegacyNodeRecord> for NodeRecord {
    fn from(l: LegacyNodeRecord) -> Self {
        NodeRecord {
            addr: l.addr,
            admin: AdminState::Normal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::codec;

    /// The hand decoder and serde's agree on `bytes`, and on every cut of
    /// them, every byte changed (to a few values) and a byte added: both
    /// decode the same record, or both refuse.
    fn agree<T: PartialEq + std::fmt::Debug, E>(
        bytes: &[u8],
        hand: impl Fn(&[u8]) -> std::result::Result<T, String>,
        serde: impl Fn(&[u8]) -> std::result::Result<T, E>,
    ) {
        let same = |b: &[u8], what: &str| {
            assert_eq!(hand(b).ok(), serde(b).ok(), "{what}: {b:?}");
        };
        same(bytes, "as written");
        assert!(hand(bytes).is_ok());
        for cut in 0..bytes.len() {
            same(&bytes[..cut], "cut");
        }
        for i in 0..bytes.len() {
            for v in [0u8, 1, 2, 16, 250, 251, 252, 253, 254, 255] {
                let mut b = bytes.to_vec();
                b[i] = v;
                same(&b, "changed");
            }
        }
        same(&[bytes, &[0]].concat(), "trailing");
    }

    /// The start's forms read the stored forms' bytes as the stored forms
    /// do: names short and long, files of no, one and many blocks,
    /// blocks with no, three and five replicas, committed or not.
    #[test]
    fn the_hand_decoders_agree_with_serde() {
        let long = "a name longer than twenty-four bytes, é and all".to_string();
        for (i, name) in ["", "f", long.as_str()].into_iter().enumerate() {
            for blocks in [0usize, 1, 3] {
                let mut rec =
                    InodeRecord::new_dir(i as u64 + 1, name, 1_700_000_000_000 + i as u64);
                rec.owner = if i == 2 { long.clone() } else { "dfs".into() };
                rec.permission = 0o640;
                rec.file = (blocks > 0 || i == 1).then(|| FileMeta {
                    length: (blocks as u64) << 30,
                    replication: 3,
                    block_size: 1 << 27,
                    blocks: (0..blocks).map(|_| BlockId::new()).collect(),
                    sha256: Sha256Digest::of(name.as_bytes()),
                });
                let bytes = codec::encode(&rec).unwrap();
                let read: InodeRecordIn = codec::decode(&bytes).unwrap();
                assert_eq!(read, InodeRecordIn::from(rec.clone()), "{rec:?}");
                agree(&bytes, InodeRecordIn::decode, |b| {
                    codec::decode::<InodeRecordIn>(b)
                });
            }
        }
        for replicas in [0usize, 3, 5] {
            for owner in [BlockOwner::File(77), BlockOwner::Pending(FileId::new())] {
                let meta = BlockMeta {
                    owner,
                    len: 12345,
                    sha256: (replicas > 0).then(|| Sha256Digest::of(b"x")),
                    replicas: (0..replicas).map(|_| NodeId::new()).collect(),
                    targets: (0..replicas / 2).map(|_| NodeId::new()).collect(),
                };
                let bytes = codec::encode(&meta).unwrap();
                let read: BlockMetaIn = codec::decode(&bytes).unwrap();
                assert_eq!(read, BlockMetaIn::from(meta.clone()), "{meta:?}");
                agree(&bytes, BlockMetaIn::decode, |b| {
                    codec::decode::<BlockMetaIn>(b)
                });
            }
        }
    }
}
