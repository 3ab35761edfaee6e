//! The Hadoop protocol messages the door reads and writes, as prost
//! structs written from Hadoop's published `.proto` files (Apache 2.0):
//! `RpcHeader.proto`, `IpcConnectionContext.proto` and
//! `ProtobufRpcEngine2.proto` of hadoop-common, `hdfs.proto` and
//! `ClientNamenodeProtocol.proto` of hadoop-hdfs-client. Only the messages
//! and fields used are here; prost skips unknown fields, so a newer client's
//! extra fields are ignored, as protobuf intends. Field numbers and types
//! are the wire contract: they must match Hadoop's exactly.
//!
//! (Hand-written rather than generated: no `protoc` in the build, as
//! DEPENDENCIES.md asks. A proto2 `required` field is `required` here too:
//! prost then writes it even at its default value, which Hadoop's parser
//! insists on (a `status` of SUCCESS, 0, left out is "missing required
//! fields").)
#![allow(clippy::doc_markdown)]

/// `hadoop.common.RpcRequestHeaderProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcRequestHeaderProto {
    /// `RpcKindProto`: 2 is `RPC_PROTOCOL_BUFFER`.
    #[prost(int32, optional, tag = "1")]
    pub rpc_kind: Option<i32>,
    /// `OperationProto`: 0 a call, 2 "close the connection".
    #[prost(int32, optional, tag = "2")]
    pub rpc_op: Option<i32>,
    #[prost(sint32, required, tag = "3")]
    pub call_id: i32,
    #[prost(bytes = "vec", required, tag = "4")]
    pub client_id: Vec<u8>,
    #[prost(sint32, optional, tag = "5")]
    pub retry_count: Option<i32>,
}

pub const RPC_PROTOCOL_BUFFER: i32 = 2;
pub const RPC_CLOSE_CONNECTION: i32 = 2;
/// The call id of the connection context, sent once after the header.
pub const CONNECTION_CONTEXT_CALL_ID: i32 = -3;

/// `hadoop.common.RpcResponseHeaderProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcResponseHeaderProto {
    #[prost(uint32, required, tag = "1")]
    pub call_id: u32,
    /// `RpcStatusProto`: [`SUCCESS`], [`ERROR`], [`FATAL`].
    #[prost(int32, required, tag = "2")]
    pub status: i32,
    #[prost(uint32, optional, tag = "3")]
    pub server_ipc_version_num: Option<u32>,
    #[prost(string, optional, tag = "4")]
    pub exception_class_name: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub error_msg: Option<String>,
    /// `RpcErrorCodeProto`.
    #[prost(int32, optional, tag = "6")]
    pub error_detail: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "7")]
    pub client_id: Option<Vec<u8>>,
    #[prost(sint32, optional, tag = "8")]
    pub retry_count: Option<i32>,
}

pub const SUCCESS: i32 = 0;
/// The call failed; the connection stays open.
pub const ERROR: i32 = 1;
/// The connection is closed after this answer.
pub const FATAL: i32 = 2;

pub const ERROR_APPLICATION: i32 = 1;
pub const ERROR_NO_SUCH_METHOD: i32 = 2;
pub const ERROR_NO_SUCH_PROTOCOL: i32 = 3;
pub const FATAL_UNSUPPORTED_SERIALIZATION: i32 = 11;
pub const FATAL_INVALID_RPC_HEADER: i32 = 12;
pub const FATAL_DESERIALIZING_REQUEST: i32 = 13;
pub const FATAL_VERSION_MISMATCH: i32 = 14;
pub const FATAL_UNAUTHORIZED: i32 = 15;

/// `hadoop.common.IpcConnectionContextProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IpcConnectionContextProto {
    #[prost(message, optional, tag = "2")]
    pub user_info: Option<UserInformationProto>,
    #[prost(string, optional, tag = "3")]
    pub protocol: Option<String>,
}

/// `hadoop.common.UserInformationProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UserInformationProto {
    #[prost(string, optional, tag = "1")]
    pub effective_user: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub real_user: Option<String>,
}

/// `hadoop.common.RequestHeaderProto` (ProtobufRpcEngine2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestHeaderProto {
    #[prost(string, required, tag = "1")]
    pub method_name: String,
    #[prost(string, required, tag = "2")]
    pub declaring_class_protocol_name: String,
    #[prost(uint64, required, tag = "3")]
    pub client_protocol_version: u64,
}

/// The protocol `hadoop fs` and Spark call the namenode with.
pub const CLIENT_PROTOCOL: &str = "org.apache.hadoop.hdfs.protocol.ClientProtocol";

/// `hadoop.hdfs.FsPermissionProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FsPermissionProto {
    #[prost(uint32, required, tag = "1")]
    pub perm: u32,
}

/// `hadoop.hdfs.HdfsFileStatusProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HdfsFileStatusProto {
    /// [`IS_DIR`] or [`IS_FILE`].
    #[prost(int32, required, tag = "1")]
    pub file_type: i32,
    /// The local name (the last component; empty for the path asked for).
    #[prost(bytes = "vec", required, tag = "2")]
    pub path: Vec<u8>,
    #[prost(uint64, required, tag = "3")]
    pub length: u64,
    #[prost(message, optional, tag = "4")]
    pub permission: Option<FsPermissionProto>,
    #[prost(string, required, tag = "5")]
    pub owner: String,
    #[prost(string, required, tag = "6")]
    pub group: String,
    #[prost(uint64, required, tag = "7")]
    pub modification_time: u64,
    #[prost(uint64, required, tag = "8")]
    pub access_time: u64,
    #[prost(uint32, optional, tag = "10")]
    pub block_replication: Option<u32>,
    #[prost(uint64, optional, tag = "11")]
    pub blocksize: Option<u64>,
    /// A file's blocks, when a listing asked for them (`needLocation`).
    #[prost(message, optional, tag = "12")]
    pub locations: Option<LocatedBlocksProto>,
    #[prost(uint64, optional, tag = "13")]
    pub file_id: Option<u64>,
    #[prost(int32, optional, tag = "14")]
    pub children_num: Option<i32>,
    #[prost(uint32, optional, tag = "16")]
    pub storage_policy: Option<u32>,
}

pub const IS_DIR: i32 = 1;
pub const IS_FILE: i32 = 2;

/// `hadoop.hdfs.GetFileInfoRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetFileInfoRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
}

/// `hadoop.hdfs.GetFileInfoResponseProto`: no `fs` for a path that does not
/// exist (not an exception).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetFileInfoResponseProto {
    #[prost(message, optional, tag = "1")]
    pub fs: Option<HdfsFileStatusProto>,
}

/// `hadoop.hdfs.GetListingRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetListingRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    /// The name after which to start (empty: from the first).
    #[prost(bytes = "vec", required, tag = "2")]
    pub start_after: Vec<u8>,
    #[prost(bool, required, tag = "3")]
    pub need_location: bool,
}

/// `hadoop.hdfs.GetListingResponseProto`: no `dirList` for a path that
/// does not exist.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetListingResponseProto {
    #[prost(message, optional, tag = "1")]
    pub dir_list: Option<DirectoryListingProto>,
}

/// `hadoop.hdfs.DirectoryListingProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DirectoryListingProto {
    #[prost(message, repeated, tag = "1")]
    pub partial_listing: Vec<HdfsFileStatusProto>,
    #[prost(uint32, required, tag = "2")]
    pub remaining_entries: u32,
}

/// `hadoop.hdfs.MkdirsRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MkdirsRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(message, optional, tag = "2")]
    pub masked: Option<FsPermissionProto>,
    #[prost(bool, required, tag = "3")]
    pub create_parent: bool,
}

/// `hadoop.hdfs.MkdirsResponseProto`, `DeleteResponseProto`,
/// `RenameResponseProto`: one `result` flag.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BoolResultProto {
    #[prost(bool, required, tag = "1")]
    pub result: bool,
}

/// `hadoop.hdfs.DeleteRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(bool, required, tag = "2")]
    pub recursive: bool,
}

/// `hadoop.hdfs.RenameRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RenameRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, required, tag = "2")]
    pub dst: String,
}

/// `hadoop.hdfs.Rename2RequestProto` (its answer is empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Rename2RequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, required, tag = "2")]
    pub dst: String,
    #[prost(bool, required, tag = "3")]
    pub overwrite_dest: bool,
}

/// Any message without fields (`Rename2ResponseProto`,
/// `GetServerDefaultsRequestProto`, ...).
#[derive(Clone, PartialEq, prost::Message)]
pub struct EmptyProto {}

/// `hadoop.hdfs.GetServerDefaultsResponseProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetServerDefaultsResponseProto {
    #[prost(message, optional, tag = "1")]
    pub server_defaults: Option<FsServerDefaultsProto>,
}

/// `hadoop.hdfs.FsServerDefaultsProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FsServerDefaultsProto {
    #[prost(uint64, required, tag = "1")]
    pub block_size: u64,
    #[prost(uint32, required, tag = "2")]
    pub bytes_per_checksum: u32,
    #[prost(uint32, required, tag = "3")]
    pub write_packet_size: u32,
    #[prost(uint32, required, tag = "4")]
    pub replication: u32,
    #[prost(uint32, required, tag = "5")]
    pub file_buffer_size: u32,
    #[prost(bool, optional, tag = "6")]
    pub encrypt_data_transfer: Option<bool>,
    /// Minutes.
    #[prost(uint64, optional, tag = "7")]
    pub trash_interval: Option<u64>,
    /// `ChecksumTypeProto`: 2 is CRC32C.
    #[prost(int32, optional, tag = "8")]
    pub checksum_type: Option<i32>,
}

/// `hadoop.hdfs.GetContentSummaryRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetContentSummaryRequestProto {
    #[prost(string, required, tag = "1")]
    pub path: String,
}

/// `hadoop.hdfs.GetContentSummaryResponseProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetContentSummaryResponseProto {
    #[prost(message, optional, tag = "1")]
    pub summary: Option<ContentSummaryProto>,
}

/// `hadoop.hdfs.ContentSummaryProto`. A quota of `u64::MAX` is Java's -1:
/// none.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContentSummaryProto {
    #[prost(uint64, required, tag = "1")]
    pub length: u64,
    #[prost(uint64, required, tag = "2")]
    pub file_count: u64,
    #[prost(uint64, required, tag = "3")]
    pub directory_count: u64,
    #[prost(uint64, required, tag = "4")]
    pub quota: u64,
    #[prost(uint64, required, tag = "5")]
    pub space_consumed: u64,
    #[prost(uint64, required, tag = "6")]
    pub space_quota: u64,
}

/// `hadoop.hdfs.SetReplicationRequestProto` (answer: [`BoolResultProto`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetReplicationRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(uint32, required, tag = "2")]
    pub replication: u32,
}

/// `hadoop.hdfs.SetPermissionRequestProto` (answer empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetPermissionRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(message, optional, tag = "2")]
    pub permission: Option<FsPermissionProto>,
}

/// `hadoop.hdfs.SetOwnerRequestProto` (answer empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetOwnerRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, optional, tag = "2")]
    pub username: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub groupname: Option<String>,
}

/// `hadoop.hdfs.SetTimesRequestProto` (answer empty). A time of
/// `u64::MAX` (Java's -1) leaves that time as it is.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetTimesRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(uint64, required, tag = "2")]
    pub mtime: u64,
    #[prost(uint64, required, tag = "3")]
    pub atime: u64,
}

/// `hadoop.hdfs.GetFsStatsResponseProto` (`getFsStats`, what `-df` asks).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetFsStatsResponseProto {
    #[prost(uint64, required, tag = "1")]
    pub capacity: u64,
    #[prost(uint64, required, tag = "2")]
    pub used: u64,
    #[prost(uint64, required, tag = "3")]
    pub remaining: u64,
    #[prost(uint64, required, tag = "4")]
    pub under_replicated: u64,
    #[prost(uint64, required, tag = "5")]
    pub corrupt_blocks: u64,
    #[prost(uint64, required, tag = "6")]
    pub missing_blocks: u64,
}

/// `hadoop.common.TokenProto` (`Security.proto`): opaque to the client,
/// which hands it back to the datanodes (see [`super::BlockToken`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TokenProto {
    #[prost(bytes = "vec", required, tag = "1")]
    pub identifier: Vec<u8>,
    #[prost(bytes = "vec", required, tag = "2")]
    pub password: Vec<u8>,
    #[prost(string, required, tag = "3")]
    pub kind: String,
    #[prost(string, required, tag = "4")]
    pub service: String,
}

/// `hadoop.hdfs.ExtendedBlockProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtendedBlockProto {
    #[prost(string, required, tag = "1")]
    pub pool_id: String,
    #[prost(uint64, required, tag = "2")]
    pub block_id: u64,
    #[prost(uint64, required, tag = "3")]
    pub generation_stamp: u64,
    #[prost(uint64, optional, tag = "4")]
    pub num_bytes: Option<u64>,
}

/// `hadoop.hdfs.DatanodeIDProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DatanodeIdProto {
    #[prost(string, required, tag = "1")]
    pub ip_addr: String,
    #[prost(string, required, tag = "2")]
    pub host_name: String,
    #[prost(string, required, tag = "3")]
    pub datanode_uuid: String,
    /// The data transfer port (`--hadoop-data-listen`).
    #[prost(uint32, required, tag = "4")]
    pub xfer_port: u32,
    #[prost(uint32, required, tag = "5")]
    pub info_port: u32,
    #[prost(uint32, required, tag = "6")]
    pub ipc_port: u32,
}

/// `hadoop.hdfs.DatanodeInfoProto` (the fields dfs fills).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DatanodeInfoProto {
    #[prost(message, required, tag = "1")]
    pub id: DatanodeIdProto,
    #[prost(uint64, optional, tag = "2")]
    pub capacity: Option<u64>,
    #[prost(uint64, optional, tag = "3")]
    pub dfs_used: Option<u64>,
    #[prost(uint64, optional, tag = "4")]
    pub remaining: Option<u64>,
    /// The rack.
    #[prost(string, optional, tag = "8")]
    pub location: Option<String>,
}

/// `hadoop.hdfs.StorageTypeProto`'s DISK.
pub const STORAGE_DISK: i32 = 1;

/// `hadoop.hdfs.LocatedBlockProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocatedBlockProto {
    #[prost(message, required, tag = "1")]
    pub b: ExtendedBlockProto,
    #[prost(uint64, required, tag = "2")]
    pub offset: u64,
    #[prost(message, repeated, tag = "3")]
    pub locs: Vec<DatanodeInfoProto>,
    #[prost(bool, required, tag = "4")]
    pub corrupt: bool,
    #[prost(message, required, tag = "5")]
    pub block_token: TokenProto,
    #[prost(bool, repeated, tag = "6")]
    pub is_cached: Vec<bool>,
    #[prost(int32, repeated, packed = "false", tag = "7")]
    pub storage_types: Vec<i32>,
    #[prost(string, repeated, tag = "8")]
    pub storage_ids: Vec<String>,
}

/// `hadoop.hdfs.LocatedBlocksProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocatedBlocksProto {
    #[prost(uint64, required, tag = "1")]
    pub file_length: u64,
    #[prost(message, repeated, tag = "2")]
    pub blocks: Vec<LocatedBlockProto>,
    #[prost(bool, required, tag = "3")]
    pub under_construction: bool,
    #[prost(message, optional, tag = "4")]
    pub last_block: Option<LocatedBlockProto>,
    #[prost(bool, required, tag = "5")]
    pub is_last_block_complete: bool,
}

/// `hadoop.hdfs.GetBlockLocationsRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetBlockLocationsRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(uint64, required, tag = "2")]
    pub offset: u64,
    #[prost(uint64, required, tag = "3")]
    pub length: u64,
}

/// `hadoop.hdfs.GetBlockLocationsResponseProto`: no `locations` for a path
/// that does not exist.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetBlockLocationsResponseProto {
    #[prost(message, optional, tag = "1")]
    pub locations: Option<LocatedBlocksProto>,
}

/// `CreateFlagProto` bits.
pub const CREATE_FLAG_CREATE: u32 = 0x01;
pub const CREATE_FLAG_OVERWRITE: u32 = 0x02;
pub const CREATE_FLAG_APPEND: u32 = 0x04;

/// `hadoop.hdfs.CreateRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(message, optional, tag = "2")]
    pub masked: Option<FsPermissionProto>,
    #[prost(string, required, tag = "3")]
    pub client_name: String,
    /// `CREATE_FLAG_*` bits.
    #[prost(uint32, required, tag = "4")]
    pub create_flag: u32,
    #[prost(bool, required, tag = "5")]
    pub create_parent: bool,
    #[prost(uint32, required, tag = "6")]
    pub replication: u32,
    #[prost(uint64, required, tag = "7")]
    pub block_size: u64,
}

/// `hadoop.hdfs.CreateResponseProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateResponseProto {
    #[prost(message, optional, tag = "1")]
    pub fs: Option<HdfsFileStatusProto>,
}

/// `hadoop.hdfs.AddBlockRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddBlockRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, required, tag = "2")]
    pub client_name: String,
    #[prost(message, optional, tag = "3")]
    pub previous: Option<ExtendedBlockProto>,
    #[prost(message, repeated, tag = "4")]
    pub exclude_nodes: Vec<DatanodeInfoProto>,
    #[prost(uint64, optional, tag = "5")]
    pub file_id: Option<u64>,
}

/// `hadoop.hdfs.AddBlockResponseProto` (and the answer of
/// `updateBlockForPipeline` and `getAdditionalDatanode`, same shape).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocatedBlockResponseProto {
    #[prost(message, required, tag = "1")]
    pub block: LocatedBlockProto,
}

/// `hadoop.hdfs.AbandonBlockRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AbandonBlockRequestProto {
    #[prost(message, required, tag = "1")]
    pub b: ExtendedBlockProto,
    #[prost(string, required, tag = "2")]
    pub src: String,
    #[prost(string, required, tag = "3")]
    pub holder: String,
    #[prost(uint64, optional, tag = "4")]
    pub file_id: Option<u64>,
}

/// `hadoop.hdfs.CompleteRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CompleteRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, required, tag = "2")]
    pub client_name: String,
    #[prost(message, optional, tag = "3")]
    pub last: Option<ExtendedBlockProto>,
    #[prost(uint64, optional, tag = "4")]
    pub file_id: Option<u64>,
}

/// `hadoop.hdfs.RenewLeaseRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RenewLeaseRequestProto {
    #[prost(string, required, tag = "1")]
    pub client_name: String,
}

/// `hadoop.hdfs.RecoverLeaseRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RecoverLeaseRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, required, tag = "2")]
    pub client_name: String,
}

/// `hadoop.hdfs.FsyncRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FsyncRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, required, tag = "2")]
    pub client: String,
    #[prost(sint64, optional, tag = "3")]
    pub last_block_length: Option<i64>,
    #[prost(uint64, optional, tag = "4")]
    pub file_id: Option<u64>,
}

/// `hadoop.hdfs.UpdateBlockForPipelineRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UpdateBlockForPipelineRequestProto {
    #[prost(message, required, tag = "1")]
    pub block: ExtendedBlockProto,
    #[prost(string, required, tag = "2")]
    pub client_name: String,
}

/// `hadoop.hdfs.UpdatePipelineRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UpdatePipelineRequestProto {
    #[prost(string, required, tag = "1")]
    pub client_name: String,
    #[prost(message, required, tag = "2")]
    pub old_block: ExtendedBlockProto,
    #[prost(message, required, tag = "3")]
    pub new_block: ExtendedBlockProto,
    #[prost(message, repeated, tag = "4")]
    pub new_nodes: Vec<DatanodeIdProto>,
    #[prost(string, repeated, tag = "5")]
    pub storage_ids: Vec<String>,
}

/// `hadoop.hdfs.GetDatanodeReportRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetDatanodeReportRequestProto {
    /// `DatanodeReportTypeProto`: 1 all, 2 live, 3 dead.
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
}

/// `hadoop.hdfs.GetDatanodeReportResponseProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetDatanodeReportResponseProto {
    #[prost(message, repeated, tag = "1")]
    pub di: Vec<DatanodeInfoProto>,
}

/// `hadoop.hdfs.GetPreferredBlockSizeRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetPreferredBlockSizeRequestProto {
    #[prost(string, required, tag = "1")]
    pub filename: String,
}

/// `hadoop.hdfs.GetPreferredBlockSizeResponseProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetPreferredBlockSizeResponseProto {
    #[prost(uint64, required, tag = "1")]
    pub bsize: u64,
}

/// `hadoop.hdfs.AppendRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AppendRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(string, required, tag = "2")]
    pub client_name: String,
    /// `CREATE_FLAG_*` bits (`NEW_BLOCK`, ...).
    #[prost(uint32, optional, tag = "3")]
    pub flag: Option<u32>,
}

/// `hadoop.hdfs.AppendResponseProto`: the last block to go on writing
/// into (none: the file ends on a block boundary), and the file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AppendResponseProto {
    #[prost(message, optional, tag = "1")]
    pub block: Option<LocatedBlockProto>,
    #[prost(message, optional, tag = "2")]
    pub stat: Option<HdfsFileStatusProto>,
}

/// `hadoop.hdfs.GetAdditionalDatanodeRequestProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetAdditionalDatanodeRequestProto {
    #[prost(string, required, tag = "1")]
    pub src: String,
    #[prost(message, required, tag = "2")]
    pub blk: ExtendedBlockProto,
    #[prost(message, repeated, tag = "3")]
    pub existings: Vec<DatanodeInfoProto>,
    #[prost(message, repeated, tag = "4")]
    pub excludes: Vec<DatanodeInfoProto>,
    #[prost(uint32, required, tag = "5")]
    pub num_additional_nodes: u32,
    #[prost(string, required, tag = "6")]
    pub client_name: String,
    #[prost(uint64, optional, tag = "8")]
    pub file_id: Option<u64>,
}

/// `hadoop.common.RpcSaslProto` (`RpcHeader.proto`): one step of the SASL
/// exchange that comes before the connection context when the connection
/// header's auth byte says SASL (call id [`SASL_CALL_ID`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcSaslProto {
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// `SaslState`: [`SASL_SUCCESS`], [`SASL_NEGOTIATE`], ...
    #[prost(int32, required, tag = "2")]
    pub state: i32,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub token: Option<Vec<u8>>,
    #[prost(message, repeated, tag = "4")]
    pub auths: Vec<SaslAuth>,
}

/// `RpcSaslProto.SaslAuth`: a way to authenticate the server offers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SaslAuth {
    /// Hadoop's `AuthMethod`: `SIMPLE`, `TOKEN`, `KERBEROS`.
    #[prost(string, required, tag = "1")]
    pub method: String,
    #[prost(string, required, tag = "2")]
    pub mechanism: String,
    #[prost(string, optional, tag = "3")]
    pub protocol: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub server_id: Option<String>,
    /// The server's first challenge, sparing a round trip.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub challenge: Option<Vec<u8>>,
}

/// The call id of every SASL message (`AuthProtocol.SASL.callId`).
pub const SASL_CALL_ID: i32 = -33;
pub const SASL_SUCCESS: i32 = 0;
pub const SASL_NEGOTIATE: i32 = 1;
pub const SASL_INITIATE: i32 = 2;
pub const SASL_CHALLENGE: i32 = 3;
pub const SASL_RESPONSE: i32 = 4;

/// `hadoop.common.CredentialsKVProto` (`Security.proto`): one entry of a
/// token file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CredentialsKvProto {
    #[prost(string, required, tag = "1")]
    pub alias: String,
    #[prost(message, optional, tag = "2")]
    pub token: Option<TokenProto>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub secret: Option<Vec<u8>>,
}

/// `hadoop.common.CredentialsProto`: a token file's body
/// (`Credentials.writeTokenStorageToStream`, format 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CredentialsProto {
    #[prost(message, repeated, tag = "1")]
    pub tokens: Vec<CredentialsKvProto>,
    #[prost(message, repeated, tag = "2")]
    pub secrets: Vec<CredentialsKvProto>,
}
