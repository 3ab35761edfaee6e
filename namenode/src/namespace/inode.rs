//! Inodes: the records of the directory tree, as kept in memory and (the
//! `*Record` / `PendingFile` parts) as stored by `meta_store`.
//!
//! A directory is an inode without [`FileMeta`]; its children live only in
//! memory (rebuilt at load from every inode's `parent` + `name`), so a rename
//! rewrites exactly one inode record plus the two parents' mtimes.
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::time::Instant;

/// A stable number for an inode (WebHDFS `fileId`). Never reused.
pub type InodeId = u64;

/// The root directory's inode id; its parent is [`NO_PARENT`].
pub const ROOT_ID: InodeId = 1;
pub const NO_PARENT: InodeId = 0;
/// The first id handed to a new inode.
pub const FIRST_FREE_ID: InodeId = 2;

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

/// An inode in memory.
#[derive(Debug, Clone)]
pub struct Inode {
    pub id: InodeId,
    pub record: InodeRecord,
    /// Entries of a directory, sorted by name; always empty for a file.
    pub children: BTreeMap<String, InodeId>,
}

impl Inode {
    pub fn is_dir(&self) -> bool {
        self.record.file.is_none()
    }
    pub fn file(&self) -> Option<&FileMeta> {
        self.record.file.as_ref()
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
