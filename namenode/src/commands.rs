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
use crate::records::{BalancerRun, InodeId, Maintenance, NodeRecord, QuotaLimits, S3KeyRecord};
use dfs_common::checksum::{Sha256Digest, Sha256State};
use dfs_common::ids::{BlockId, FileId, NodeId, RequestId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::AdminState;
use dfs_common::proto::client::{CompleteRequest, DeleteResponse, FileStatus, Xattrs};
use serde::{Deserialize, Serialize};

/// One change as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The proposer's clock, ms since the Unix epoch: every mtime the
    /// command sets comes from here, never from the applier's clock.
    pub ts_ms: u64,
    /// The client call this command serves, when the client named it: a
    /// second entry with the same request and command kind within the
    /// retry cache's window answers the first one's outcome and changes
    /// nothing (see `namespace::retry`).
    pub request: Option<RequestId>,
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
    /// `rm` to the trash: `path` moves to `/user/<user>/.Trash/Current`
    /// under its own path, the directories on the way made (HDFS's
    /// `TrashPolicyDefault.moveToTrash`); a name already taken there gets
    /// the entry's time appended.
    MoveToTrash {
        path: DfsPath,
        recursive: bool,
        user: String,
    },
    /// A directory's quotas set or cleared (HDFS `setQuota`): for each
    /// kind, `None` keeps it, `Some(None)` clears it, `Some(Some(n))` sets it.
    SetQuota {
        path: DfsPath,
        names: Option<Option<u64>>,
        bytes: Option<Option<u64>>,
    },
    /// `path` may have snapshots from now on (`allow: true`), or no more.
    AllowSnapshot {
        path: DfsPath,
        allow: bool,
    },
    /// A snapshot of snapshottable directory `path`, named `name`.
    CreateSnapshot {
        path: DfsPath,
        name: String,
    },
    DeleteSnapshot {
        path: DfsPath,
        name: String,
    },
    RenameSnapshot {
        path: DfsPath,
        from: String,
        to: String,
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
    /// `Complete`, and the file's extended attributes set in the same
    /// change (an S3 object's ETag and metadata, known only at its end).
    CompleteWithXattrs {
        completion: Completion,
        xattrs: Xattrs,
    },
    /// Complete files `parts` joined, in order, into a new file at `dst`
    /// (replacing a file there), their blocks moved, not copied, with the
    /// whole's digest and extended attributes (an S3 multipart upload's
    /// Complete; see `namespace::concat`).
    Concat {
        parts: Vec<DfsPath>,
        dst: DfsPath,
        sha256: Sha256Digest,
        xattrs: Xattrs,
    },
    /// A new S3 access key (its secret decided by the proposer), acting as
    /// `user`.
    PutS3Key {
        access_key: String,
        record: S3KeyRecord,
    },
    DeleteS3Key {
        access_key: String,
    },
    /// Ends writes that will not complete (the writer gave up, its lease
    /// expired, the datanode relaying it died). Ids no longer pending are
    /// skipped: abandoning is idempotent.
    AbandonFiles {
        file_ids: Vec<FileId>,
    },
    /// A datanode's lasting record: a new node, or a known one at a new
    /// address.
    PutDatanode {
        node: NodeId,
        record: NodeRecord,
    },
    /// Decommissioning starts or ends, or a drained node is decommissioned.
    SetAdminState {
        node: NodeId,
        admin: AdminState,
    },
    /// An operator decided about the replicas a restore held.
    ClearRestored,
    /// A datanode enters maintenance, or changes when it ends (`Some`), or
    /// leaves it (`None`: ended by an operator, or run out).
    SetMaintenance {
        node: NodeId,
        maintenance: Option<Maintenance>,
    },
    /// An operator started a balancer run (`Some`) or stopped it.
    SetBalancer {
        run: Option<BalancerRun>,
    },
    /// Balancer run `id` finished by itself (balanced, or no move left);
    /// a later run is left alone.
    BalancerDone {
        id: u64,
    },
    /// Safe mode entered or left by an operator.
    SetSafeMode {
        on: bool,
    },
    /// The cluster's id, the same on every namenode from now on: the
    /// first leader of a group proposes its own (a namenode makes one
    /// when it first creates its metadata), and datanodes are taken only
    /// once one is agreed.
    SetClusterId {
        id: dfs_common::ids::ClusterId,
    },
}

impl Command {
    /// A number per kind of command, stable across versions (it is part
    /// of the retry cache's stored keys), from 1 to 32: one client call may
    /// propose commands of several kinds (`create` with its first block).
    pub fn kind(&self) -> u8 {
        match self {
            Command::Mkdirs { .. } => 1,
            Command::SetAttributes { .. } => 2,
            Command::SetReplication { .. } => 3,
            Command::Rename { .. } => 4,
            Command::Delete { .. } => 5,
            Command::Create(_) => 6,
            Command::Append { .. } => 7,
            Command::AddBlock { .. } => 8,
            Command::AbandonBlock { .. } => 9,
            Command::Complete(_) => 10,
            Command::AbandonFiles { .. } => 11,
            Command::PutDatanode { .. } => 12,
            Command::SetAdminState { .. } => 13,
            Command::ClearRestored => 14,
            Command::SetSafeMode { .. } => 15,
            Command::SetClusterId { .. } => 16,
            Command::SetMaintenance { .. } => 17,
            Command::SetBalancer { .. } => 18,
            Command::BalancerDone { .. } => 19,
            Command::MoveToTrash { .. } => 20,
            Command::SetQuota { .. } => 21,
            Command::AllowSnapshot { .. } => 22,
            Command::CreateSnapshot { .. } => 23,
            Command::DeleteSnapshot { .. } => 24,
            Command::RenameSnapshot { .. } => 25,
            Command::CompleteWithXattrs { .. } => 26,
            Command::PutS3Key { .. } => 27,
            Command::DeleteS3Key { .. } => 28,
            Command::Concat { .. } => 29,
        }
    }
}

impl Command {
    /// Whether applying this command twice could differ from applying it
    /// once (HDFS's `@AtMostOnce`): only these keep their outcome in the
    /// retry cache. The rest (`@Idempotent`: making a directory that may
    /// exist, setting attributes, replication, a node's record or admin
    /// state, safe mode) answer a retry by applying it again, to the same
    /// effect, and cost no retry record (a write now and a delete ten
    /// minutes later).
    pub fn at_most_once(&self) -> bool {
        match self {
            Command::Rename { .. }
            | Command::Delete { .. }
            | Command::MoveToTrash { .. }
            | Command::CreateSnapshot { .. }
            | Command::DeleteSnapshot { .. }
            | Command::RenameSnapshot { .. }
            | Command::Create(_)
            | Command::Append { .. }
            | Command::AddBlock { .. }
            | Command::AbandonBlock { .. }
            | Command::Complete(_)
            | Command::CompleteWithXattrs { .. }
            | Command::Concat { .. }
            | Command::AbandonFiles { .. } => true,
            Command::Mkdirs { .. }
            | Command::SetAttributes { .. }
            | Command::SetReplication { .. }
            | Command::PutDatanode { .. }
            | Command::SetAdminState { .. }
            | Command::ClearRestored
            | Command::SetSafeMode { .. }
            | Command::SetClusterId { .. }
            | Command::SetMaintenance { .. }
            | Command::SetBalancer { .. }
            | Command::BalancerDone { .. }
            | Command::SetQuota { .. }
            | Command::AllowSnapshot { .. }
            | Command::PutS3Key { .. }
            | Command::DeleteS3Key { .. } => false,
        }
    }

    /// The paths a command changes (or makes), which a snapshot's
    /// read-only paths may not be; `None` for commands on no path.
    pub fn changed_path(&self) -> Option<&DfsPath> {
        match self {
            Command::Mkdirs { path, .. }
            | Command::SetAttributes { path, .. }
            | Command::SetReplication { path, .. }
            | Command::Delete { path, .. }
            | Command::MoveToTrash { path, .. }
            | Command::SetQuota { path, .. }
            | Command::Append { path, .. } => Some(path),
            Command::Create(f) => Some(&f.path),
            Command::Concat { dst, .. } => Some(dst),
            Command::Rename { src, .. } => Some(src),
            _ => None,
        }
    }

    /// The kind's name, as logs and the test crash hook name it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Mkdirs { .. } => "mkdirs",
            Command::SetAttributes { .. } => "set_attributes",
            Command::SetReplication { .. } => "setrep",
            Command::Rename { .. } => "rename",
            Command::Delete { .. } => "delete",
            Command::MoveToTrash { .. } => "move_to_trash",
            Command::SetQuota { .. } => "set_quota",
            Command::AllowSnapshot { .. } => "allow_snapshot",
            Command::CreateSnapshot { .. } => "create_snapshot",
            Command::DeleteSnapshot { .. } => "delete_snapshot",
            Command::RenameSnapshot { .. } => "rename_snapshot",
            Command::Create(_) => "create",
            Command::Append { .. } => "append",
            Command::AddBlock { .. } => "add_block",
            Command::AbandonBlock { .. } => "abandon_block",
            Command::Complete(_) => "complete",
            Command::CompleteWithXattrs { .. } => "complete_with_xattrs",
            Command::PutS3Key { .. } => "put_s3_key",
            Command::DeleteS3Key { .. } => "delete_s3_key",
            Command::Concat { .. } => "concat",
            Command::AbandonFiles { .. } => "abandon_files",
            Command::PutDatanode { .. } => "put_datanode",
            Command::SetAdminState { .. } => "set_admin_state",
            Command::ClearRestored => "clear_restored",
            Command::SetMaintenance { .. } => "set_maintenance",
            Command::SetBalancer { .. } => "set_balancer",
            Command::BalancerDone { .. } => "balancer_done",
            Command::SetSafeMode { .. } => "set_safe_mode",
            Command::SetClusterId { .. } => "set_cluster_id",
        }
    }
}

/// A remembered outcome of a client call (`r/` records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryRecord {
    /// The applied index of the command that gave it: the cache's order
    /// (oldest first), the same on every replica and after a restart.
    pub seq: u64,
    pub ts_ms: u64,
    pub outcome: Outcome,
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

impl Completion {
    /// The command a client's `complete` asks for.
    pub fn from_request(req: &CompleteRequest) -> Self {
        Completion {
            file_id: req.file_id,
            blocks: req
                .blocks
                .iter()
                .map(|b| CommitBlock {
                    block_id: b.block_id,
                    len: b.len,
                    sha256: b.sha256,
                    replicas: b.replicas.clone(),
                })
                .collect(),
            length: req.length,
            sha256: req.sha256,
            sha256_state: req.sha256_state.clone(),
        }
    }
}

/// What applying a command gave: everything the caller's answer needs, the
/// values the proposer decided included (a retried request is answered
/// from its first outcome, not from what its retry would decide).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The status of the path the command changed.
    Status(FileStatus),
    Deleted(DeleteResponse),
    /// `Create`: the write is registered.
    Created {
        file_id: FileId,
        replication: u16,
        block_size: u64,
    },
    /// `Append`: the file reopened.
    Appended(AppendOpened),
    /// `AddBlock`: the block, its pipeline, and where it starts in the file.
    BlockAdded {
        block_id: BlockId,
        targets: Vec<NodeId>,
        offset: u64,
        block_size: u64,
    },
    /// `AbandonBlock`.
    BlockAbandoned,
    /// `AbandonFiles`: the paths of the writes that were still pending.
    Abandoned(Vec<DfsPath>),
    /// A datanode's record as it now stands.
    Datanode(NodeRecord),
    /// A flag set.
    Done,
    /// `SetQuota`: the directory's quotas now, and what its subtree uses.
    Quota {
        limits: QuotaLimits,
        names: u64,
        bytes: u64,
    },
}

/// A file reopened for appending (see `Namespace::append`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
