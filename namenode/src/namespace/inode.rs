//! Inodes: the records of the directory tree, as kept in memory, compact
//! (HDFS INode), and as stored by `meta_store` (the `*Record` /
//! `PendingFile` parts, defined in `records`).
//!
//! Memory shape, for namespaces of tens of millions of files (about 150
//! bytes an inode, as HDFS):
//! - the name inline up to 24 bytes ([`CompactString`]), held once: a
//!   directory's entries are its children's ids sorted by *their* names, so
//!   a lookup is a binary search through the inodes (HDFS keeps a sorted
//!   child array the same way);
//! - owner and group as [`NameId`]s into the namespace's [`Names`] (a
//!   cluster has few principals and millions of inodes);
//! - a file's block list inline when it has one block.
//!
//! A directory's children live only in memory (rebuilt at load from every
//! inode's `parent` + `name`), so a rename rewrites exactly one inode record
//! plus the two parents' mtimes. Every change is written as an
//! [`InodeRecord`] ([`Inode::to_record`]); the store never sees this shape.
use compact_str::CompactString;
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, NodeId};
use smallvec::SmallVec;
use std::collections::HashMap;
use std::num::NonZeroU64;
use tokio::time::Instant;

pub use crate::records::{
    AppendTarget, FileMeta, InodeId, InodeRecord, LegacyPendingFile, PendingFile, DEFAULT_GROUP,
    DEFAULT_OWNER, DIR_PERMISSION, FILE_PERMISSION,
};
use crate::records::{FileMetaRef, InodeRecordIn, InodeRecordRef};

/// The root directory's inode id; its parent is [`NO_PARENT`].
pub const ROOT_ID: InodeId = 1;
pub const NO_PARENT: InodeId = 0;
/// The first id handed to a new inode.
pub const FIRST_FREE_ID: InodeId = 2;

/// An owner or group name, interned in [`Names`]. Memory only: records
/// store the names themselves, so ids may differ between namenodes.
pub type NameId = u32;

/// The owner and group names in use, each held once. Never shrinks (a
/// cluster has a handful of principals).
#[derive(Debug, Default)]
pub struct Names {
    names: Vec<CompactString>,
    /// foldhash, randomly seeded: a load interns two names per inode, and
    /// SipHash was 2 % of a start (the map holds a handful of names, so
    /// there is nothing to flood).
    ids: HashMap<CompactString, NameId, foldhash::fast::RandomState>,
}

impl Names {
    /// The id of `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> NameId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as NameId;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The id of `name`, if any inode has used it.
    pub fn find(&self, name: &str) -> Option<NameId> {
        self.ids.get(name).copied()
    }

    /// The name behind `id` ("" for an id not handed out, which cannot
    /// happen: ids only come from [`Names::intern`]).
    pub fn get(&self, id: NameId) -> &str {
        self.names.get(id as usize).map_or("", |n| n.as_str())
    }
}

/// What a complete file is made of, in memory ([`FileMeta`] as stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    pub length: u64,
    pub replication: u16,
    /// Never 0 (a create checks it is at least 4 KiB), which also lets
    /// [`Kind`] keep its tag in this field: 8 bytes an inode.
    pub block_size: NonZeroU64,
    /// In file order; every block but the last is `block_size` long.
    pub blocks: SmallVec<[BlockId; 1]>,
    /// The whole file's SHA-256, kept only when its blocks do not give it
    /// ([`FileData::sha256`]). A file of one block has that block's
    /// digest (the client's for the file is checked against it), so most
    /// files keep no copy: 32 bytes of the ~150 an inode costs.
    sha256: Option<Box<Sha256Digest>>,
}

/// A file with no blocks holds no bytes: its digest is that of nothing.
pub fn empty_sha256() -> Sha256Digest {
    Sha256Digest::of(&[])
}

impl FileData {
    /// A file whose digest its blocks give, until set.
    ///
    /// A stored block size of 0 (which no create lets through) reads as 1,
    /// so a damaged record loads, and nothing divides by it.
    pub fn without_sha256(
        length: u64,
        replication: u16,
        block_size: u64,
        blocks: SmallVec<[BlockId; 1]>,
    ) -> Self {
        FileData {
            length,
            replication,
            block_size: NonZeroU64::new(block_size).unwrap_or(NonZeroU64::MIN),
            blocks,
            sha256: None,
        }
    }

    /// The whole file's digest: the one kept, else what `block_sha256`
    /// says of its only block (or [`empty_sha256`] when it has none).
    /// `None` only if a digest was dropped that its blocks no longer give,
    /// which [`FileData::settle_sha256`]'s callers rule out.
    pub fn sha256(
        &self,
        block_sha256: impl FnOnce(&BlockId) -> Option<Sha256Digest>,
    ) -> Option<Sha256Digest> {
        match &self.sha256 {
            Some(d) => Some(**d),
            None => self.derived_sha256(block_sha256),
        }
    }

    /// What the blocks say the file's digest is: its only block's, or
    /// [`empty_sha256`] when it has none; `None` for several blocks.
    fn derived_sha256(
        &self,
        block_sha256: impl FnOnce(&BlockId) -> Option<Sha256Digest>,
    ) -> Option<Sha256Digest> {
        match self.blocks.as_slice() {
            [] => Some(empty_sha256()),
            [b] => block_sha256(b),
            _ => None,
        }
    }

    /// Whether the digest is kept here rather than given by the blocks.
    #[cfg(test)]
    pub fn keeps_sha256(&self) -> bool {
        self.sha256.is_some()
    }

    /// Keeps `d` as the file's digest (until settled).
    pub fn set_sha256(&mut self, d: Sha256Digest) {
        self.sha256 = Some(Box::new(d));
    }

    /// Keeps `d` as the file's digest unless its blocks give the same one
    /// ([`FileData::set_sha256`] then [`FileData::settle_sha256`], without
    /// holding it first).
    pub fn keep_sha256(
        &mut self,
        d: Sha256Digest,
        block_sha256: impl FnOnce(&BlockId) -> Option<Sha256Digest>,
    ) {
        self.sha256 = (self.derived_sha256(block_sha256) != Some(d)).then(|| Box::new(d));
    }

    /// Drops the kept digest if the blocks give the same one. Call it once
    /// the file's blocks are committed, and again whenever its blocks
    /// change (which always sets the digest anew): a committed block's
    /// digest never changes, so one dropped stays right.
    pub fn settle_sha256(&mut self, block_sha256: impl FnOnce(&BlockId) -> Option<Sha256Digest>) {
        let Some(kept) = self.sha256.as_deref().copied() else {
            return;
        };
        if self.derived_sha256(block_sha256) == Some(kept) {
            self.sha256 = None;
        }
    }

    /// The stored form, with the file's digest `sha256`.
    pub fn to_meta(&self, sha256: Sha256Digest) -> FileMeta {
        FileMeta {
            length: self.length,
            replication: self.replication,
            block_size: self.block_size.get(),
            blocks: self.blocks.to_vec(),
            sha256,
        }
    }
}

/// A directory (its entries) or a file (its content).
#[derive(Debug, Clone)]
pub enum Kind {
    /// Children's ids, sorted by their names (no two alike).
    Dir(Vec<InodeId>),
    File(FileData),
}

/// An inode in memory; its id is its key in the namespace.
#[derive(Debug, Clone)]
pub struct Inode {
    pub parent: InodeId,
    /// Empty for the root.
    pub name: CompactString,
    /// Milliseconds since the Unix epoch.
    pub mtime: u64,
    pub atime: u64,
    pub owner: NameId,
    pub group: NameId,
    pub permission: u16,
    pub kind: Kind,
}

impl Inode {
    /// The in-memory inode for a stored record (no children yet), keeping
    /// a file's digest (settle it once its blocks are committed).
    pub fn from_record(rec: InodeRecord, names: &mut Names) -> Self {
        let (mut inode, sha) = Self::from_record_unsettled(rec.into(), names);
        if let (Some(f), Some(sha)) = (inode.file_mut(), sha) {
            f.set_sha256(sha);
        }
        inode
    }

    /// [`Inode::from_record`] with a file's digest handed back instead of
    /// kept (a load keeps only those the blocks do not give, once they are
    /// in).
    pub fn from_record_unsettled(
        rec: InodeRecordIn,
        names: &mut Names,
    ) -> (Self, Option<Sha256Digest>) {
        let (kind, sha) = match rec.file {
            None => (Kind::Dir(Vec::new()), None),
            Some(f) => (
                Kind::File(FileData::without_sha256(
                    f.length,
                    f.replication,
                    f.block_size,
                    f.blocks,
                )),
                Some(f.sha256),
            ),
        };
        let inode = Inode {
            parent: rec.parent,
            name: rec.name,
            mtime: rec.mtime,
            atime: rec.atime,
            owner: names.intern(&rec.owner),
            group: names.intern(&rec.group),
            permission: rec.permission,
            kind,
        };
        (inode, sha)
    }

    /// [`Inode::to_record`] without copies.
    pub fn record_ref<'a>(&'a self, names: &'a Names, sha256: Sha256Digest) -> InodeRecordRef<'a> {
        InodeRecordRef {
            parent: self.parent,
            name: &self.name,
            mtime: self.mtime,
            atime: self.atime,
            owner: names.get(self.owner),
            group: names.get(self.group),
            permission: self.permission,
            file: self.file().map(|f| FileMetaRef {
                length: f.length,
                replication: f.replication,
                block_size: f.block_size.get(),
                blocks: &f.blocks,
                sha256,
            }),
        }
    }

    /// The record that stores this inode; `sha256` is a file's digest
    /// (`Namespace::record_sha256`; ignored for a directory).
    pub fn to_record(&self, names: &Names, sha256: Sha256Digest) -> InodeRecord {
        InodeRecord {
            parent: self.parent,
            name: self.name.to_string(),
            mtime: self.mtime,
            atime: self.atime,
            owner: names.get(self.owner).to_string(),
            group: names.get(self.group).to_string(),
            permission: self.permission,
            file: self.file().map(|f| f.to_meta(sha256)),
        }
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir(_))
    }

    pub fn file(&self) -> Option<&FileData> {
        match &self.kind {
            Kind::File(f) => Some(f),
            Kind::Dir(_) => None,
        }
    }

    pub fn file_mut(&mut self) -> Option<&mut FileData> {
        match &mut self.kind {
            Kind::File(f) => Some(f),
            Kind::Dir(_) => None,
        }
    }

    /// A directory's entries, sorted by name; none for a file.
    pub fn children(&self) -> &[InodeId] {
        match &self.kind {
            Kind::Dir(c) => c,
            Kind::File(_) => &[],
        }
    }
}

/// A pending file plus its lease clock (memory only: after a restart every
/// writer gets a fresh full lease period to come back).
#[derive(Debug, Clone)]
pub struct Pending {
    pub file: PendingFile,
    pub last_renewed: Instant,
    /// The datanode relaying this write (WebHDFS CREATE/APPEND landing
    /// there), if one is: the write ends when that node is declared dead.
    /// Memory only, like the lease clock: the relay says so again with
    /// every lease renewal, so a restarted namenode learns it anew within
    /// one renewal interval.
    pub relay: Option<NodeId>,
}

#[cfg(test)]
mod record_ref_tests {
    use super::*;
    use dfs_common::codec;

    /// The borrowed record is the stored record, byte for byte: a
    /// directory, and files of no, one and several blocks.
    #[test]
    fn a_borrowed_record_encodes_as_the_owned_one() {
        let mut names = Names::default();
        let dir = InodeRecord::new_dir(7, "dir é", 5);
        let mut recs = vec![dir.clone()];
        for blocks in [0, 1, 3] {
            let mut f = dir.clone();
            f.owner = "alice".into();
            f.group = "staff".into();
            f.permission = 0o600;
            f.file = Some(FileMeta {
                length: 12345,
                replication: 2,
                block_size: 4096,
                blocks: (0..blocks).map(|_| BlockId::new()).collect(),
                sha256: Sha256Digest::of(b"x"),
            });
            recs.push(f);
        }
        for rec in recs {
            let inode = Inode::from_record(rec.clone(), &mut names);
            let sha = Sha256Digest::of(b"x");
            assert_eq!(
                inode.file().map(|f| f.sha256(|_| None)),
                rec.file.as_ref().map(|_| Some(sha))
            );
            assert_eq!(inode.to_record(&names, sha), rec);
            assert_eq!(
                codec::encode(&inode.record_ref(&names, sha)).unwrap(),
                codec::encode(&rec).unwrap(),
                "{rec:?}"
            );
        }
    }

    /// A damaged record with a block size of 0 loads (as 1) instead of
    /// making later arithmetic on it divide by zero.
    #[test]
    fn a_zero_block_size_reads_as_one() {
        let mut names = Names::default();
        let mut rec = InodeRecord::new_dir(1, "f", 0);
        rec.file = Some(FileMeta {
            length: 10,
            replication: 1,
            block_size: 0,
            blocks: vec![BlockId::new()],
            sha256: Sha256Digest::of(b"x"),
        });
        let inode = Inode::from_record(rec, &mut names);
        let f = inode.file().unwrap();
        assert_eq!(f.block_size.get(), 1);
        assert_eq!(f.length % f.block_size, 0);
    }
}
