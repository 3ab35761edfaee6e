//! Inodes: the records of the directory tree, as kept in memory and (the
//! `*Record` / `PendingFile` parts, defined in `records`) as stored by `meta_store`.
//!
//! A directory is an inode without [`FileMeta`]; its children live only in
//! memory (rebuilt at load from every inode's `parent` + `name`), so a rename
//! rewrites exactly one inode record plus the two parents' mtimes.
use dfs_common::ids::NodeId;
use std::collections::BTreeMap;
use tokio::time::Instant;

pub use crate::records::{
    AppendTarget, FileMeta, InodeId, InodeRecord, LegacyPendingFile, PendingFile, DEFAULT_GROUP,
    DEFAULT_OWNER, DIR_PERMISSION, FILE_PERMISSION,
};

/// The root directory's inode id; its parent is [`NO_PARENT`].
pub const ROOT_ID: InodeId = 1;
pub const NO_PARENT: InodeId = 0;
/// The first id handed to a new inode.
pub const FIRST_FREE_ID: InodeId = 2;

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
