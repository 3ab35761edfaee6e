//! Hadoop's `DataTransferProtocol`, between Hadoop's client and a datanode
//! (and datanode to datanode down a write pipeline): the messages of
//! `datatransfer.proto` (hadoop-hdfs-client, Apache 2.0) that dfs uses,
//! written as prost structs like [`super::proto`], and the framing.
//!
//! Framing:
//! - an operation: a 2-byte big-endian version ([`VERSION`]), a 1-byte op
//!   code ([`OP_WRITE_BLOCK`], ...), then the op's message, delimited;
//! - the answer: a delimited [`BlockOpResponseProto`];
//! - data, both ways, in packets: a 4-byte big-endian length (of itself,
//!   the checksums and the data), a 2-byte big-endian header length, the
//!   [`PacketHeaderProto`] (not delimited), one CRC32C per
//!   [`BYTES_PER_CHECKSUM`] bytes of data (4 bytes each, big-endian), then
//!   the data;
//! - a write's acknowledgements: delimited [`PipelineAckProto`]s.
#![allow(clippy::doc_markdown)]
use super::proto::{DatanodeInfoProto, ExtendedBlockProto, TokenProto};

/// `DataTransferProtocol.DATA_TRANSFER_VERSION`.
pub const VERSION: u16 = 28;

pub const OP_WRITE_BLOCK: u8 = 80;
pub const OP_READ_BLOCK: u8 = 81;
pub const OP_BLOCK_CHECKSUM: u8 = 85;
pub const OP_TRANSFER_BLOCK: u8 = 86;

/// The checksum chunk: one CRC32C per this many bytes of data.
pub const BYTES_PER_CHECKSUM: usize = 512;

/// The largest packet accepted (Hadoop's `PacketReceiver.MAX_PACKET_SIZE`).
pub const MAX_PACKET: usize = 16 << 20;

/// The largest packet header accepted (Hadoop's `PacketHeader.MAX_PROTO_SIZE`
/// is far less; this only bounds what is read).
pub const MAX_PACKET_HEADER: usize = 1024;

/// The sequence number of a heartbeat packet (no data; keeps a quiet
/// pipeline open).
pub const HEARTBEAT_SEQNO: i64 = -1;

/// `hadoop.hdfs.Status`.
pub mod status {
    pub const SUCCESS: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const ERROR_CHECKSUM: i32 = 2;
    pub const ERROR_INVALID: i32 = 3;
    pub const ERROR_EXISTS: i32 = 4;
    pub const ERROR_ACCESS_TOKEN: i32 = 5;
    pub const CHECKSUM_OK: i32 = 6;
    pub const ERROR_UNSUPPORTED: i32 = 7;
}

/// `hadoop.hdfs.BaseHeaderProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BaseHeaderProto {
    #[prost(message, required, tag = "1")]
    pub block: ExtendedBlockProto,
    #[prost(message, optional, tag = "2")]
    pub token: Option<TokenProto>,
}

/// `hadoop.hdfs.ClientOperationHeaderProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClientOperationHeaderProto {
    #[prost(message, required, tag = "1")]
    pub base_header: BaseHeaderProto,
    #[prost(string, required, tag = "2")]
    pub client_name: String,
}

/// `hadoop.hdfs.OpReadBlockProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpReadBlockProto {
    #[prost(message, required, tag = "1")]
    pub header: ClientOperationHeaderProto,
    #[prost(uint64, required, tag = "2")]
    pub offset: u64,
    #[prost(uint64, required, tag = "3")]
    pub len: u64,
    /// Default true.
    #[prost(bool, optional, tag = "4")]
    pub send_checksums: Option<bool>,
}

/// `hadoop.hdfs.ChecksumProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChecksumProto {
    /// `ChecksumTypeProto`: 0 none, 1 CRC32, 2 CRC32C.
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    #[prost(uint32, required, tag = "2")]
    pub bytes_per_checksum: u32,
}

pub const CHECKSUM_NULL: i32 = 0;
pub const CHECKSUM_CRC32: i32 = 1;
pub const CHECKSUM_CRC32C: i32 = 2;

/// `hadoop.hdfs.OpWriteBlockProto.BlockConstructionStage`.
pub mod stage {
    pub const PIPELINE_SETUP_APPEND: i32 = 0;
    pub const PIPELINE_SETUP_APPEND_RECOVERY: i32 = 1;
    pub const DATA_STREAMING: i32 = 2;
    pub const PIPELINE_SETUP_STREAMING_RECOVERY: i32 = 3;
    pub const PIPELINE_CLOSE: i32 = 4;
    pub const PIPELINE_CLOSE_RECOVERY: i32 = 5;
    pub const PIPELINE_SETUP_CREATE: i32 = 6;
    pub const TRANSFER_RBW: i32 = 7;
    pub const TRANSFER_FINALIZED: i32 = 8;
}

/// `hadoop.hdfs.OpWriteBlockProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpWriteBlockProto {
    #[prost(message, required, tag = "1")]
    pub header: ClientOperationHeaderProto,
    /// The rest of the pipeline, next hop first.
    #[prost(message, repeated, tag = "2")]
    pub targets: Vec<DatanodeInfoProto>,
    #[prost(message, optional, tag = "3")]
    pub source: Option<DatanodeInfoProto>,
    /// [`stage`].
    #[prost(int32, required, tag = "4")]
    pub stage: i32,
    #[prost(uint32, required, tag = "5")]
    pub pipeline_size: u32,
    #[prost(uint64, required, tag = "6")]
    pub min_bytes_rcvd: u64,
    #[prost(uint64, required, tag = "7")]
    pub max_bytes_rcvd: u64,
    #[prost(uint64, required, tag = "8")]
    pub latest_generation_stamp: u64,
    #[prost(message, required, tag = "9")]
    pub requested_checksum: ChecksumProto,
    #[prost(int32, optional, tag = "11")]
    pub storage_type: Option<i32>,
    #[prost(int32, repeated, packed = "false", tag = "12")]
    pub target_storage_types: Vec<i32>,
}

/// `hadoop.hdfs.OpTransferBlockProto`: copy a replica being written to
/// `targets` (a node added to a pipeline that lost one).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpTransferBlockProto {
    #[prost(message, required, tag = "1")]
    pub header: ClientOperationHeaderProto,
    #[prost(message, repeated, tag = "2")]
    pub targets: Vec<DatanodeInfoProto>,
}

/// `hadoop.hdfs.OpBlockChecksumProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpBlockChecksumProto {
    #[prost(message, required, tag = "1")]
    pub header: BaseHeaderProto,
}

/// `hadoop.hdfs.PacketHeaderProto` (fixed-size fields: Hadoop sizes
/// packets from it).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PacketHeaderProto {
    #[prost(sfixed64, required, tag = "1")]
    pub offset_in_block: i64,
    #[prost(sfixed64, required, tag = "2")]
    pub seqno: i64,
    #[prost(bool, required, tag = "3")]
    pub last_packet_in_block: bool,
    #[prost(sfixed32, required, tag = "4")]
    pub data_len: i32,
    #[prost(bool, optional, tag = "5")]
    pub sync_block: Option<bool>,
}

/// `hadoop.hdfs.PipelineAckProto`: one status per node from here down the
/// pipeline, this node's first.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PipelineAckProto {
    #[prost(sint64, required, tag = "1")]
    pub seqno: i64,
    #[prost(int32, repeated, packed = "false", tag = "2")]
    pub reply: Vec<i32>,
    #[prost(uint64, optional, tag = "3")]
    pub downstream_ack_time_nanos: Option<u64>,
    /// Per node: the status in the low 4 bits (and flags above; dfs sets
    /// none).
    #[prost(uint32, repeated, packed = "true", tag = "4")]
    pub flag: Vec<u32>,
}

/// `hadoop.hdfs.ReadOpChecksumInfoProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadOpChecksumInfoProto {
    #[prost(message, required, tag = "1")]
    pub checksum: ChecksumProto,
    /// Where the first packet starts (the offset asked, rounded down to a
    /// checksum chunk).
    #[prost(uint64, required, tag = "2")]
    pub chunk_offset: u64,
}

/// `hadoop.hdfs.OpBlockChecksumResponseProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpBlockChecksumResponseProto {
    #[prost(uint32, required, tag = "1")]
    pub bytes_per_crc: u32,
    #[prost(uint64, required, tag = "2")]
    pub crc_per_block: u64,
    #[prost(bytes = "vec", required, tag = "3")]
    pub md5: Vec<u8>,
    #[prost(int32, optional, tag = "4")]
    pub crc_type: Option<i32>,
}

/// `hadoop.hdfs.BlockOpResponseProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BlockOpResponseProto {
    /// [`status`].
    #[prost(int32, required, tag = "1")]
    pub status: i32,
    #[prost(string, optional, tag = "2")]
    pub first_bad_link: Option<String>,
    #[prost(message, optional, tag = "3")]
    pub checksum_response: Option<OpBlockChecksumResponseProto>,
    #[prost(message, optional, tag = "4")]
    pub read_op_checksum_info: Option<ReadOpChecksumInfoProto>,
    #[prost(string, optional, tag = "5")]
    pub message: Option<String>,
}

/// `hadoop.hdfs.ClientReadStatusProto`: a reader's last word.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClientReadStatusProto {
    #[prost(int32, required, tag = "1")]
    pub status: i32,
}

/// The CRC32C of each [`BYTES_PER_CHECKSUM`] chunk of `data`, big-endian,
/// as a packet carries them.
pub fn chunk_crcs(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(BYTES_PER_CHECKSUM) * 4);
    for chunk in data.chunks(BYTES_PER_CHECKSUM) {
        out.extend_from_slice(&crc32c::crc32c(chunk).to_be_bytes());
    }
    out
}

/// A packet's bytes: length, header length, header, checksums, data.
pub fn packet(header: &PacketHeaderProto, crcs: &[u8], data: &[u8]) -> Vec<u8> {
    use prost::Message;
    let head = header.encode_to_vec();
    let mut out = Vec::with_capacity(6 + head.len() + crcs.len() + data.len());
    let len = 4 + crcs.len() + data.len();
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&u16::try_from(head.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(crcs);
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_packet_is_framed_as_hadoop_reads_it() {
        let data = vec![7u8; 1000];
        let crcs = chunk_crcs(&data);
        assert_eq!(crcs.len(), 8, "two chunks, the second short");
        assert_eq!(
            &crcs[4..],
            &crc32c::crc32c(&data[512..]).to_be_bytes(),
            "the short chunk's own CRC"
        );
        let h = PacketHeaderProto {
            offset_in_block: 512,
            seqno: 3,
            last_packet_in_block: false,
            data_len: 1000,
            sync_block: None,
        };
        let p = packet(&h, &crcs, &data);
        let plen = u32::from_be_bytes(p[..4].try_into().unwrap()) as usize;
        assert_eq!(plen, 4 + 8 + 1000);
        let hlen = u16::from_be_bytes(p[4..6].try_into().unwrap()) as usize;
        // Fixed-size fields: the header's size does not depend on values
        // (Hadoop sets `syncBlock` only when true).
        assert_eq!(hlen, 25);
        assert_eq!(PacketHeaderProto::decode(&p[6..6 + hlen]).unwrap(), h);
        assert_eq!(p.len(), 6 + hlen + 8 + 1000);
    }
}
