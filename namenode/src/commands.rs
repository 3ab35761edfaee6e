//! The vocabulary of the namenode's command log: every change to the
//! replicated namespace is one [`Command`], wrapped in an [`Entry`] that
//! carries what the proposer decided (the clock), and applied by
//! `Namespace::apply` — the only way the tree, the files being written
//! and the block ownership change (issue 17; `../shared/design/HA.md`).
//!
//! A leaf: plain data over `records` and `dfs_common` types, no logic.
//!
//! Invariants:
//! - a command holds every non-deterministic input already decided: the
//!   timestamp (in its entry), new file and block ids, a new block's
//!   pipeline, resolved defaults (replication, block size). Applying the
//!   same entries in the same order to the same state gives the same state
//!   and the same results on any machine;
//! - commands are encoded with `dfs_common::codec` (bincode behind a
//!   format-version byte), so no field may use `skip_serializing_if` or
//!   other self-describing serde tricks; wire request types are not reused
//!   here, so a change to the HTTP API does not change the log's format;
//! - soft state is not in commands: replica locations reported by
//!   datanodes, liveness and lease clocks are rebuilt from heartbeats and
//!   reports (what a `Complete` lists as replicas only seeds them).
use crate::records::InodeId;
use dfs_common::checksum::{Sha256Digest, Sha256State};
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{DeleteResponse, FileStatus};
use serde::{Deserialize, Serialize};

/// One change as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The proposer's clock, ms since the Unix epoch: every mtime the
    /// command sets comes from here, never from the applier's clock.
    pub ts_ms: u64,
    pub command: Command,
}

/// A change to the replicated namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// `mkdir [-p]`; new directories get `owner` / `permission` (defaults
    /// when `None`).
    Mkdirs {
        path: DfsPath,
        parents: bool,
        owner: Option<String>,
        permission: Option<u16>,
    },
    /// WebHDFS SETTIMES / SETPERMISSION / SETOWNER.
    SetAttributes {
        path: DfsPath,
        mtime: Option<u64>,
        atime: Option<u64>,
        permission: Option<u16>,
        owner: Option<String>,
        group: Option<String>,
    },
    SetReplication {
        path: DfsPath,
        replication: u16,
    },
    Rename {
        src: DfsPath,
        dst: DfsPath,
        overwrite: bool,
    },
    Delete {
        path: DfsPath,
        recursive: bool,
    },
    /// A new file being written (invisible until `Complete`).
    Create(NewFile),
    /// Reopens the complete file at `path` for appending, as `file_id`.
    Append {
        file_id: FileId,
        path: DfsPath,
    },
    /// The next block of a file being written, with the pipeline the
    /// proposer chose.
    AddBlock {
        file_id: FileId,
        block_id: BlockId,
        targets: Vec<NodeId>,
    },
    AbandonBlock {
        file_id: FileId,
        block_id: BlockId,
    },
    /// Makes a file being written visible (or swaps in an append's blocks).
    Complete(Completion),
    /// Ends writes that will not complete (the writer gave up, its lease
    /// expired, the datanode relaying it died). Ids no longer pending are
    /// skipped: abandoning is idempotent.
    AbandonFiles {
        file_ids: Vec<FileId>,
    },
}

/// What `Create` registers; every default already resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFile {
    pub file_id: FileId,
    pub path: DfsPath,
    pub overwrite: bool,
    pub create_parent: bool,
    pub replication: u16,
    pub block_size: u64,
    /// `None` or empty: the default owner.
    pub owner: Option<String>,
    pub permission: u16,
}

/// One block a `Complete` commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitBlock {
    pub block_id: BlockId,
    pub len: u64,
    pub sha256: Sha256Digest,
    /// Nodes the writer's pipeline acknowledged (seeds the locations).
    pub replicas: Vec<NodeId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    pub file_id: FileId,
    pub blocks: Vec<CommitBlock>,
    pub length: u64,
    pub sha256: Sha256Digest,
    pub sha256_state: Option<Sha256State>,
}

/// What applying a command gave (the caller turns it into its answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The status of the path the command changed.
    Status(FileStatus),
    Deleted(DeleteResponse),
    /// `Create`: the write is registered.
    Created,
    /// `Append`: the file reopened.
    Appended(AppendOpened),
    /// `AddBlock`: where the new block starts in the file.
    BlockAdded {
        offset: u64,
        block_size: u64,
    },
    /// `AbandonBlock`.
    BlockAbandoned,
    /// `AbandonFiles`: the paths of the writes that were still pending.
    Abandoned(Vec<DfsPath>),
}

/// A file reopened for appending (see `Namespace::append`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOpened {
    pub file_id: FileId,
    pub block_size: u64,
    pub replication: u16,
    pub status: FileStatus,
    pub kept_len: u64,
    pub inode: InodeId,
    /// The short last block to be rewritten.
    pub replaced: Option<BlockId>,
}
