//! Client ↔ namenode: JSON over HTTP under [`RPC_PREFIX`] (the native client
//! protocol), and the cluster API shapes served under `/api/v1`.
//!
//! Write protocol (HDFS's create / addBlock / complete):
//! 1. `POST create` → [`CreateResponse`] with a `file_id` (the write lease).
//!    Nothing is visible at the path yet.
//! 2. For each block, `POST add_block` → [`LocatedBlock`] (id and pipeline
//!    targets); the client streams the block to `targets[0]` (see
//!    [`super::data`]). On a failed pipeline: `POST abandon_block`, then
//!    `add_block` again with the bad nodes in `exclude`.
//! 3. `POST complete` with every block's length, digest and replicas, and the
//!    whole file's digest → the file appears at its path atomically.
//!
//! While writing, the client calls `renew_lease` every
//! `lease_renew_interval_ms`; a file whose lease expires is abandoned and its
//! blocks deleted. `abandon_file` gives it up at once.
use super::DatanodeInfo;
use crate::checksum::{Sha256Digest, Sha256State};
use crate::ids::{BlockId, FileId, NodeId};
use crate::path::DfsPath;
use serde::{Deserialize, Serialize};

pub const RPC_PREFIX: &str = "/rpc/v1";

/// Header a datanode sends, with its node id, on the write calls it makes
/// as a relay (a WebHDFS CREATE/APPEND landing there): `create`, `append`
/// and `renew_lease`. The namenode then ends that write as soon as it
/// declares the datanode dead, rather than after the lease timeout (the
/// relay died with it). Only the writer's own write is affected, so it
/// needs no more trust than the write itself.
pub const RELAY_HEADER: &str = "x-dfs-relayed-by";

/// Header a client sends, with a fresh [`crate::ids::RequestId`], on every
/// call that changes the namespace, and again, unchanged, on each retry of
/// that call: a call that was applied but whose answer was lost is
/// answered from the namenode's retry cache (about 10 minutes) instead of
/// being applied twice (a retried `create` is not a conflict, a retried
/// `rename` not a 404).
/// On a 503 answer: this namenode cannot serve now (it knows no leader,
/// or cannot reach it) and another namenode may; a client that knows
/// several tries the next.
pub const STANDBY_HEADER: &str = "x-dfs-standby";
pub const REQUEST_ID_HEADER: &str = "x-dfs-request-id";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    File,
    Directory,
}

/// What `stat` shows. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatus {
    pub path: DfsPath,
    /// The last component; empty for `/`.
    pub name: String,
    #[serde(rename = "type")]
    pub file_type: FileType,
    /// Bytes in the file; 0 for a directory.
    pub length: u64,
    /// 0 for a directory.
    pub replication: u16,
    /// 0 for a directory.
    pub block_size: u64,
    pub modification_time: u64,
    pub access_time: u64,
    pub owner: String,
    pub group: String,
    /// Unix permission bits, e.g. 0o644; in JSON the octal digits as a
    /// string (`"644"`), as WebHDFS and `hdfs dfs -stat %a` show them.
    #[serde(with = "octal_mode")]
    pub permission: u16,
    /// The whole file's SHA-256 (what `sha256sum` prints); `None` for directories.
    pub sha256: Option<Sha256Digest>,
    /// Entries directly inside a directory; 0 for a file.
    pub children: u64,
    /// Blocks of a file; 0 for a directory.
    pub blocks: u64,
    /// A stable number for this inode (WebHDFS `fileId`).
    pub inode_id: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PathQuery {
    pub path: DfsPath,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MkdirsRequest {
    pub path: DfsPath,
    /// Make missing parents (`mkdir -p`); without it a missing parent is 404.
    #[serde(default)]
    pub parents: bool,
    /// Owner of the directories made (default: the namenode's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Mode of the directories made (default 755).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<u16>,
}

/// `GET list?path=..&start_after=..&limit=..`. Listing a file gives that one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListQuery {
    pub path: DfsPath,
    /// Only names sorting after this one (paging through huge directories).
    #[serde(default)]
    pub start_after: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryListing {
    pub path: DfsPath,
    /// Sorted by name.
    pub entries: Vec<FileStatus>,
    /// More entries follow the last one returned.
    pub has_more: bool,
}

/// `mv` semantics: when `dst` is an existing directory, `src` moves into it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenameRequest {
    pub src: DfsPath,
    pub dst: DfsPath,
    /// Replace an existing file at the destination.
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub path: DfsPath,
    /// Needed to delete a non-empty directory (409 otherwise).
    #[serde(default)]
    pub recursive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteResponse {
    pub files_deleted: u64,
    pub directories_deleted: u64,
    pub bytes_deleted: u64,
}

/// `rm` through the trash (`POST /rpc/v1/trash`): the path moves to the
/// caller's trash, or is deleted at once when the trash is off
/// (`--trash-interval 0`) or the path is already in a trash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrashRequest {
    pub path: DfsPath,
    /// Needed for a non-empty directory (409 otherwise), as for a delete.
    #[serde(default)]
    pub recursive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashResponse {
    /// Where the path now is, under `/user/<user>/.Trash/Current`; `None`
    /// when it was deleted at once.
    pub moved_to: Option<DfsPath>,
    /// What was deleted at once: all zero when the path was moved.
    pub deleted: DeleteResponse,
}

/// `expunge` (`POST /rpc/v1/expunge`): the caller's trash emptied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpungeResponse {
    /// The trash that was emptied (`/user/<user>/.Trash`).
    pub trash_root: DfsPath,
    pub deleted: DeleteResponse,
}

/// `quota set` / `quota clear` (`POST /rpc/v1/set_quota`, the superuser's
/// with access control on). A kind neither set nor cleared is kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetQuotaRequest {
    pub path: DfsPath,
    /// Sets the name quota: files and directories below the path, itself
    /// included (HDFS's namespace quota).
    #[serde(default)]
    pub files: Option<u64>,
    /// Sets the space quota: bytes times replication below the path.
    #[serde(default)]
    pub bytes: Option<u64>,
    #[serde(default)]
    pub clear_files: bool,
    #[serde(default)]
    pub clear_bytes: bool,
}

/// A directory's quotas and what is used below it (`GET /rpc/v1/quota`,
/// `dfs count -q`, WebHDFS GETQUOTAUSAGE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUsage {
    pub path: DfsPath,
    /// The name quota; `None`: none.
    pub files_quota: Option<u64>,
    /// The space quota in bytes (replicas counted); `None`: none.
    pub bytes_quota: Option<u64>,
    /// Files and directories below the path, itself included.
    pub names: u64,
    /// Bytes times replication below the path.
    pub space_consumed: u64,
}

/// A snapshot call (`POST /rpc/v1/snapshot/{allow,disallow,create,delete,rename}`):
/// the snapshottable directory, the snapshot's name (made from the time
/// when `create` names none) and, to rename, its new name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SnapshotRequest {
    pub path: DfsPath,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub new_name: Option<String>,
}

/// What a snapshot call did: the snapshot's path (`DIR/.snapshot/NAME`)
/// for create and rename, the directory for the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotResponse {
    pub path: DfsPath,
}

/// `GET /rpc/v1/snapshot_diff?path=DIR&from=S1&to=S2` (`.`: the live tree).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotDiffQuery {
    pub path: DfsPath,
    pub from: String,
    pub to: String,
}

/// One change of a snapshot diff: `CREATE`, `DELETE`, `MODIFY` or `RENAME`
/// (HDFS's), paths relative to the snapshottable directory (`""`: itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDiffEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    /// A rename's new path.
    pub target: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDiff {
    pub path: DfsPath,
    pub from: String,
    pub to: String,
    pub entries: Vec<SnapshotDiffEntry>,
}

/// `du`: totals under a path (the path itself included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentSummary {
    pub path: DfsPath,
    pub length: u64,
    pub file_count: u64,
    pub directory_count: u64,
    /// Sum over files of length × replication.
    pub space_consumed: u64,
    pub block_count: u64,
    /// The path's name quota (files and directories, itself included), if
    /// it has one.
    #[serde(default)]
    pub files_quota: Option<u64>,
    /// The path's space quota (bytes × replication), if it has one.
    #[serde(default)]
    pub bytes_quota: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateRequest {
    pub path: DfsPath,
    /// Replace a complete file at `path` when this write completes.
    #[serde(default)]
    pub overwrite: bool,
    /// Default: the namenode's `--replication`.
    #[serde(default)]
    pub replication: Option<u16>,
    /// Default: the namenode's `--block-size`.
    #[serde(default)]
    pub block_size: Option<u64>,
    /// Make missing parent directories (default true, as `dfs put` does).
    #[serde(default = "yes")]
    pub create_parent: bool,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub permission: Option<u16>,
    /// Also place the file's first block (as `add_block` would) and answer
    /// it in [`CreateResponse::block`]: a writer with bytes to send saves a
    /// round trip (a small file costs create, the pipeline and complete).
    #[serde(default)]
    pub first_block: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateResponse {
    pub file_id: FileId,
    pub block_size: u64,
    pub replication: u16,
    pub lease_renew_interval_ms: u64,
    /// The first block, when asked for with [`CreateRequest::first_block`]
    /// and it could be placed (otherwise the writer asks `add_block`, and
    /// hears why not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<LocatedBlock>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddBlockRequest {
    pub file_id: FileId,
    /// Nodes not to place this block on (they just failed in a pipeline).
    #[serde(default)]
    pub exclude: Vec<NodeId>,
}

/// A block and where it is (reads) or where it goes (writes: `replicas` is
/// the pipeline, first hop first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocatedBlock {
    pub block_id: BlockId,
    /// Offset of the block's first byte within the file.
    pub offset: u64,
    /// Length (for a new block: 0 until committed).
    pub len: u64,
    /// Recorded digest; `None` for a block being written.
    pub sha256: Option<Sha256Digest>,
    /// Live replicas first, in the order a reader should try them.
    pub replicas: Vec<DatanodeInfo>,
    /// Block access token (`dfs_common::auth`) for this block: read for a
    /// located block, write for a new one. Absent when access control is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AbandonBlockRequest {
    pub file_id: FileId,
    pub block_id: BlockId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileIdRequest {
    pub file_id: FileId,
}

/// One written block, as the pipeline acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedBlock {
    pub block_id: BlockId,
    pub len: u64,
    pub sha256: Sha256Digest,
    /// Nodes that acknowledged a durable replica with this digest.
    pub replicas: Vec<NodeId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompleteRequest {
    pub file_id: FileId,
    /// In file order; every block but the last is exactly `block_size` long.
    pub blocks: Vec<CommittedBlock>,
    pub length: u64,
    pub sha256: Sha256Digest,
    /// The file digest's midstate over every full block (all but a short
    /// last one), kept so that an append can go on hashing from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_state: Option<Sha256State>,
    /// Extended attributes the file gets as it appears, in the same change
    /// (an S3 object's ETag, `Content-Type` and user metadata, known only
    /// once its bytes are in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xattrs: Option<Xattrs>,
}

/// A file's extended attributes: names (`s3.etag`, `s3.content-type`,
/// `user.<name>`...) and their values. Kept by inode: they follow a rename
/// and go with the file.
pub type Xattrs = std::collections::BTreeMap<String, String>;

/// `POST xattrs`: the extended attributes of some files (at most
/// [`MAX_XATTR_PATHS`] in one call).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct XattrsRequest {
    pub paths: Vec<DfsPath>,
}

pub const MAX_XATTR_PATHS: usize = 10_000;

/// For each path asked, in order: its attributes (empty when it has none,
/// is gone, or the caller may not read it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct XattrsResponse {
    pub xattrs: Vec<Xattrs>,
}

/// `POST concat`: complete files joined, in order, into a new file at
/// `dst` (a file there is replaced), their blocks moved, not copied. Every
/// block of the parts but the very last must be a full block of the first
/// part's block size (all parts of one block size and replication), none
/// may be in a snapshot; `sha256` is the whole's digest (the caller read
/// the parts to compute it). 400 when the blocks do not line up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConcatRequest {
    pub parts: Vec<DfsPath>,
    pub dst: DfsPath,
    pub sha256: Sha256Digest,
    #[serde(default)]
    pub xattrs: Xattrs,
}

/// `POST hadoop/token`: a Hadoop delegation token of the caller, for the
/// namenodes' Hadoop door with access control on (`dfs hadoop-token`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HadoopTokenRequest {
    /// How long it lasts (default [`HADOOP_TOKEN_LIFETIME`], at most
    /// [`HADOOP_TOKEN_MAX_LIFETIME`]).
    #[serde(default)]
    pub lifetime_secs: Option<u64>,
}

pub const HADOOP_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// HDFS's own limit on a delegation token's life (7 days).
pub const HADOOP_TOKEN_MAX_LIFETIME: std::time::Duration =
    std::time::Duration::from_secs(7 * 24 * 3600);

/// A Hadoop delegation token (`dfs_common::hadoop::token`), and where this
/// namenode's Hadoop door listens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HadoopToken {
    pub user: String,
    /// The identifier's bytes, hex.
    pub identifier: String,
    /// The password's bytes, hex: a secret, like any token.
    pub password: String,
    pub expires_ms: u64,
    /// The port of this namenode's Hadoop door, if it has one.
    #[serde(default)]
    pub door_port: Option<u16>,
}

/// `POST s3/keys/create`: a new S3 access key acting as `user`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct S3KeyRequest {
    pub user: String,
}

/// `POST s3/keys/delete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct S3KeyDeleteRequest {
    pub access_key: String,
}

/// An S3 access key: `secret` only in the answer that creates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Key {
    pub access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub user: String,
    /// Milliseconds since the Unix epoch.
    pub created: u64,
}

/// `GET s3/keys`: the keys the caller may see (all of them for a
/// superuser or with access control off; else the caller's own).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct S3KeyList {
    pub keys: Vec<S3Key>,
}

/// `POST append`: reopens a complete file for appending under a lease
/// (HDFS append). The file stays readable with its old content until the
/// append's `complete`, which swaps in the new block list atomically.
///
/// Protocol: the client keeps the first `kept_len` bytes (whole blocks)
/// untouched; it reads `last_block` (a short last block, if any) verified,
/// streams its bytes followed by the new ones into NEW blocks through
/// `add_block` (copy-on-write: every block but the last stays full), and
/// calls `complete` with only the new blocks and the whole new length and
/// digest. The replaced last block is deleted after `complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppendRequest {
    pub path: DfsPath,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResponse {
    pub file_id: FileId,
    pub block_size: u64,
    pub replication: u16,
    pub lease_renew_interval_ms: u64,
    /// The file as it is (its length is the old length).
    pub status: FileStatus,
    /// Bytes in the blocks that stay as they are.
    pub kept_len: u64,
    /// The short last block to rewrite, with its replicas.
    pub last_block: Option<LocatedBlock>,
    /// The digest's midstate over the first `kept_len` bytes, when known;
    /// otherwise the client hashes those bytes again.
    pub sha256_state: Option<Sha256State>,
}

/// `POST set_attributes`: what WebHDFS SETTIMES / SETPERMISSION / SETOWNER
/// change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetAttributesRequest {
    pub path: DfsPath,
    #[serde(default)]
    pub modification_time: Option<u64>,
    #[serde(default)]
    pub access_time: Option<u64>,
    #[serde(default)]
    pub permission: Option<u16>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetReplicationRequest {
    pub path: DfsPath,
    pub replication: u16,
}

/// A reader (client) found a replica whose bytes do not match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BadReplicaReport {
    pub block_id: BlockId,
    pub node_id: NodeId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileLocations {
    pub status: FileStatus,
    pub blocks: Vec<LocatedBlock>,
}

/// `/api/v1/summary`.
///
/// Space (bytes, live datanodes only) counts each file system once, however
/// many datanodes share it (see [`DatanodeReport::filesystem`]). For the
/// datanodes on one file system:
/// - `capacity` = min(the sum of their capacities, the file system's size):
///   what dfs may fill there. A node's capacity is its `--capacity`, or the
///   whole file system's size without one; so two nodes limited to 10 GiB on
///   one 252 GiB disk have 20 GiB, and three unlimited ones have 252 GiB;
/// - `used` = the sum of their block data (every node's blocks count);
/// - `available` = min(the sum of what each can still take, the file
///   system's available bytes): free space on a shared disk counts once;
/// - what is left, capacity − used − available (0 if negative), is space
///   the file system cannot give dfs: first its reserve, the free space
///   that ordinary writers cannot use (ext4's root reserve), as `reserved`;
///   the rest, other files on it, as `non_dfs_used`. Without `--capacity`
///   these are the file system's reserve and `df`'s Used less dfs's
///   blocks; with small capacities on a roomy disk both are 0.
///
/// So `used + available + reserved + non_dfs_used = capacity` (unless the
/// blocks alone exceed it). A datanode that does not report its file system
/// (an older version) is counted as a file system of its own, with all that
/// is left as `non_dfs_used`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterSummary {
    pub version: String,
    pub uptime_secs: u64,
    pub safe_mode: bool,
    pub live_datanodes: u32,
    pub dead_datanodes: u32,
    /// What dfs may store in all (see above).
    pub capacity: u64,
    /// Block data on the live datanodes.
    pub used: u64,
    /// What dfs can still store (see above).
    pub available: u64,
    pub files: u64,
    pub directories: u64,
    pub blocks: u64,
    pub under_replicated_blocks: u64,
    pub missing_blocks: u64,
    pub default_replication: u16,
    pub default_block_size: u64,
    /// How long `dfs rm` keeps what it deletes in the trash (seconds; 0:
    /// no trash, `rm` deletes at once).
    #[serde(default)]
    pub trash_interval_secs: u64,
    /// Why the namenode is in safe mode (e.g. "12 of 40 blocks reported").
    pub safe_mode_reason: Option<String>,
    pub decommissioning_datanodes: u32,
    pub decommissioned_datanodes: u32,
    pub over_replicated_blocks: u64,
    /// Blocks whose every remaining replica is known corrupt.
    pub corrupt_blocks: u64,
    /// Replicas known corrupt and not yet deleted.
    pub corrupt_replicas: u64,
    /// Repair work in view: what is queued, in flight and done.
    pub replication: ReplicationProgress,
    /// This cluster's id (datanodes of another cluster are refused).
    pub cluster_id: String,
    /// Replicas on datanodes of blocks the namespace does not know.
    pub unknown_replicas: UnknownReplicas,
    /// Datanodes of another cluster that tried to join recently.
    pub refused_datanodes: Vec<RefusedDatanode>,
    /// Capacity taken by other files on the datanodes' file systems.
    pub non_dfs_used: u64,
    /// Capacity that the file systems keep back from ordinary writers.
    pub reserved: u64,
    /// Distinct file systems under the live datanodes.
    pub filesystems: u32,
}

/// Replicas that datanodes hold of blocks the namespace does not know
/// ("orphans"). A few strays of cut-off writes wait out the orphan grace and
/// are deleted; anything that looks like lost or stale metadata is held
/// until an operator decides (`dfs orphans delete`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UnknownReplicas {
    /// Held: deleted only on an operator's word.
    pub held: u64,
    /// Datanodes holding the held ones.
    pub held_nodes: u32,
    /// Waiting out the orphan grace, then deleted.
    pub waiting: u64,
    /// Why replicas are held, in the operator's words (`None`: none held).
    pub reason: Option<String>,
}

/// A datanode of another cluster that tried to register.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RefusedDatanode {
    pub id: NodeId,
    pub addr: String,
    /// The cluster it belongs to.
    pub cluster_id: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// Seconds since its last attempt.
    pub last_attempt_secs_ago: u64,
    pub attempts: u64,
}

/// `GET /api/v1/orphans`: unknown replicas per datanode.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OrphansReport {
    pub unknown_replicas: UnknownReplicas,
    pub nodes: Vec<NodeOrphans>,
}

/// One datanode's unknown replicas.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeOrphans {
    pub id: NodeId,
    pub addr: String,
    pub held: u64,
    pub waiting: u64,
    /// Replicas of known blocks on the same node.
    pub known: u64,
}

/// `POST /api/v1/orphans/delete`: what was ordered deleted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OrphansDeleted {
    pub replicas: u64,
    pub nodes: u32,
}

/// What the replication monitor is doing (the "repair in view" numbers).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplicationProgress {
    /// Blocks waiting for a copy (under-replicated, not yet scheduled).
    pub queued_blocks: u64,
    /// Copies scheduled on datanodes and not yet confirmed.
    pub pending_copies: u64,
    /// Bytes still to copy for queued and pending work.
    pub remaining_bytes: u64,
    /// Copies confirmed since the namenode started.
    pub completed_copies: u64,
    pub completed_bytes: u64,
    /// Copies that timed out and were queued again.
    pub timed_out_copies: u64,
    /// Recent repair rate (bytes/s, averaged over about a minute).
    pub bytes_per_sec: f64,
    /// Excess replicas deleted since start.
    pub excess_deleted: u64,
}

impl Eq for ReplicationProgress {}

/// What the balancer is doing (`GET /api/v1/balancer`, `dfs balancer
/// --status`, a line of `dfs report`). Kept in the leader's memory: a
/// restart or a change of leader stops the balancer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BalancerStatus {
    pub running: bool,
    /// Percentage points around the cluster's average used share.
    pub threshold: f64,
    /// Bytes per second the balancer may start moving, cluster-wide.
    pub bandwidth: u64,
    /// Bytes moved (copied, then the source replica deleted) since the
    /// last start.
    pub bytes_moved: u64,
    pub moves_done: u64,
    /// Moves given up (copy timed out, source lost, or the source replica
    /// could not go without lowering the block's replication or racks).
    pub moves_abandoned: u64,
    pub moves_in_flight: u64,
    /// The cluster's used share (percent) at the last look.
    pub average_used_pct: f64,
    /// Nodes over / under the threshold at the last look.
    pub nodes_over: u64,
    pub nodes_under: u64,
    /// Why it stopped last (`balanced`, `stopped`, ...), if it did.
    pub last_stop: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatanodeState {
    #[default]
    Live,
    Dead,
}

/// What an operator asked of a datanode (HDFS AdminStates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminState {
    #[default]
    Normal,
    /// Its replicas are being copied elsewhere; it gets no new blocks and its
    /// replicas do not count toward replication.
    Decommissioning,
    /// Drained: it can be stopped without any block losing replication.
    Decommissioned,
}

/// One row of `/api/v1/datanodes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DatanodeReport {
    pub id: NodeId,
    pub addr: String,
    pub state: DatanodeState,
    pub capacity: u64,
    pub used: u64,
    pub available: u64,
    /// Replicas the namenode believes this node holds.
    pub blocks: u64,
    /// Milliseconds since its last heartbeat.
    pub last_heartbeat_ms: u64,
    pub admin_state: AdminState,
    /// While decommissioning: its blocks that still lack enough replicas
    /// elsewhere (0 when drained).
    pub decommission_remaining_blocks: u64,
    /// Block copies this node is sending or receiving for repair now.
    pub replication_in_flight: u32,
    /// The file system holding its blocks, as `<host>:<device>` (the first
    /// part of the machine's boot id, the device number in hex): nodes that
    /// show the same one share a disk, which the cluster's totals count
    /// once. `None`: not reported (an older datanode, or none since the
    /// namenode started).
    pub filesystem: Option<String>,
    /// Its data dirs (disks) and their state, from its last heartbeat
    /// (empty: not reported, an older datanode or namenode).
    pub disks: Vec<super::datanode::DiskReport>,
    /// Its rack (`datanode --rack`; empty from a namenode that predates
    /// racks).
    pub rack: String,
    /// In maintenance (`dfs maintenance`): it gets no new blocks, and
    /// while silent its replicas still count for blocks that keep a live
    /// replica elsewhere.
    pub in_maintenance: bool,
    /// When maintenance was given a duration: milliseconds until it ends
    /// (`None`: until an operator ends it, or not in maintenance).
    pub maintenance_ends_in_ms: Option<u64>,
}

/// `POST /api/v1/datanodes/{node}/decommission` and `/recommission`, and
/// `/maintenance` and `/maintenance/end`: `node` is a node id (or a unique
/// prefix of one) or its address (`host:port` or URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminStateChange {
    pub node: DatanodeReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockHealth {
    Healthy,
    UnderReplicated,
    OverReplicated,
    /// No live replica at all.
    Missing,
    /// Replicas exist but every one is known corrupt.
    Corrupt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsckProblem {
    pub path: DfsPath,
    pub block_id: BlockId,
    pub health: BlockHealth,
    pub live_replicas: u32,
    pub expected_replicas: u16,
}

/// `/api/v1/fsck?path=`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FsckReport {
    pub path: DfsPath,
    pub files: u64,
    pub directories: u64,
    pub total_bytes: u64,
    pub blocks: u64,
    pub healthy_blocks: u64,
    pub under_replicated_blocks: u64,
    pub over_replicated_blocks: u64,
    pub missing_blocks: u64,
    pub corrupt_blocks: u64,
    /// Blocks with a live replica whose live replicas sit on fewer racks
    /// than min(replication, racks with a live node): repair adds a
    /// replica on a new rack, then trims one where a rack has several.
    /// They are also counted above by replica count (mostly as healthy).
    pub mis_replicated_blocks: u64,
    /// True when no block is missing or corrupt (under-replication alone is
    /// not corruption).
    pub healthy: bool,
    /// Problem blocks (at most a bounded number are listed).
    pub problems: Vec<FsckProblem>,
    pub live_datanodes: u32,
    pub dead_datanodes: u32,
    pub decommissioning_datanodes: u32,
    pub safe_mode: bool,
    /// Replicas of blocks the namespace does not know (cluster-wide).
    pub unknown_replicas: UnknownReplicas,
}

/// What `POST /api/v1/safemode?action=` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SafeModeAction {
    /// Only report the state.
    Get,
    /// Stop writes, re-replication and deletes until left.
    Enter,
    /// Leave safe mode now.
    Leave,
}

impl SafeModeAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SafeModeAction::Get => "get",
            SafeModeAction::Enter => "enter",
            SafeModeAction::Leave => "leave",
        }
    }
}

/// The answer of `POST /api/v1/safemode`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SafeModeStatus {
    pub safe_mode: bool,
    /// Why it is on (e.g. "12 of 40 blocks reported"), when it is.
    pub reason: Option<String>,
}

/// A mode as octal digits in JSON (`"644"`), a number in binary encodings.
/// JSON input may also be a number (what older peers sent).
mod octal_mode {
    use super::super::webhdfs::{parse_permission, permission_string};
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &u16, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&permission_string(*mode))
        } else {
            s.serialize_u16(*mode)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        if !d.is_human_readable() {
            return u16::deserialize(d);
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Mode {
            Digits(String),
            Number(u16),
        }
        match Mode::deserialize(d)? {
            Mode::Digits(s) => parse_permission(&s).map_err(de::Error::custom),
            Mode::Number(n) => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_is_octal_digits_in_json() {
        let mut st: FileStatus = serde_json::from_value(serde_json::json!({
            "path": "/a", "name": "a", "type": "file", "length": 0, "replication": 3,
            "block_size": 1, "modification_time": 0, "access_time": 0, "owner": "o",
            "group": "g", "permission": "644", "sha256": null, "children": 0, "blocks": 0,
            "inode_id": 2
        }))
        .unwrap();
        assert_eq!(st.permission, 0o644);
        st.permission = 0o755;
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(v["permission"], "755");
        let back: FileStatus = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, st);
        let mut old = v;
        old["permission"] = serde_json::json!(420);
        assert_eq!(
            serde_json::from_value::<FileStatus>(old)
                .unwrap()
                .permission,
            0o644
        );
        let bin = crate::codec::encode(&st).unwrap();
        assert_eq!(crate::codec::decode::<FileStatus>(&bin).unwrap(), st);
    }

    #[test]
    fn create_request_defaults() {
        let r: CreateRequest = serde_json::from_str(r#"{"path":"/a"}"#).unwrap();
        assert!(r.create_parent);
        assert!(!r.overwrite);
        assert_eq!(r.replication, None);
        assert!(serde_json::from_str::<CreateRequest>(r#"{"path":"a"}"#).is_err());
    }
}

/// `GET /api/v1/namenodes`: the namenodes of the cluster as the answering
/// one sees them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NamenodesReport {
    /// The answering namenode's URL.
    #[serde(rename = "self")]
    pub self_url: String,
    /// Its role: `leader`, `follower`, `candidate` (an election), `learner`
    /// (joining), or `shutdown`.
    pub self_role: String,
    /// The current term (elections so far).
    pub term: u64,
    /// The leader's URL, when one is known.
    pub leader: Option<String>,
    /// The last log index applied here.
    pub last_applied: u64,
    /// The last log index here (written, maybe not yet committed).
    pub last_log_index: u64,
    pub namenodes: Vec<NamenodeInfo>,
}

/// One namenode of the group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NamenodeInfo {
    /// Its Raft id.
    pub id: u64,
    pub url: String,
    /// `leader`, `follower` (a voter), or `learner` (not voting yet).
    pub role: String,
    /// On the leader: the last log index this namenode is known to hold,
    /// and how many entries it is behind.
    pub matched: Option<u64>,
    pub lag: Option<u64>,
}
