//! Datanode ↔ namenode: bincode bodies (see [`crate::codec`]) POSTed to
//! [`INTERNAL_PREFIX`]`/{register,heartbeat,block_report,block_received,bad_block}`.
//!
//! The datanode's one link to the namenode (HDFS `BPServiceActor`) sends all
//! of these; the namenode answers and never calls a datanode. Work for a
//! datanode rides back on [`HeartbeatReply::commands`].
use super::DatanodeInfo;
use crate::checksum::Sha256Digest;
use crate::ids::{BlockId, ClusterId, NodeId};
use serde::{Deserialize, Serialize};

pub const INTERNAL_PREFIX: &str = "/internal/v1";

/// Space on a datanode, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StorageReport {
    /// What this node may store in all (its `--capacity`, or the disk's size).
    pub capacity: u64,
    /// Bytes of block data it holds.
    pub used: u64,
    /// What it can still take: min(capacity − used, free disk space).
    pub available: u64,
}

/// A replica a datanode holds (finalized: durable and checksummed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedBlock {
    pub id: BlockId,
    pub len: u64,
    pub sha256: Sha256Digest,
}

/// `POST register`: sent at start and whenever the namenode asks
/// ([`Command::Reregister`]). Carries a full block report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub node: DatanodeInfo,
    pub storage: StorageReport,
    pub blocks: Vec<ReportedBlock>,
    pub version: String,
    /// The cluster this datanode belongs to (`None`: it never joined one,
    /// and adopts the namenode's). A namenode of another cluster refuses the
    /// registration with 409 Conflict and [`cluster_mismatch_message`].
    pub cluster_id: Option<ClusterId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub heartbeat_interval_ms: u64,
    /// How often to send a full [`BlockReport`].
    pub block_report_interval_ms: u64,
    /// The namenode's cluster: a datanode without one records it.
    pub cluster_id: ClusterId,
}

/// The sentence both sides log when a datanode of cluster `datanode` meets
/// the namenode at `namenode_url` of cluster `namenode`.
pub fn cluster_mismatch_message(
    datanode: &ClusterId,
    namenode_url: &str,
    namenode: &ClusterId,
) -> String {
    format!(
        "this datanode belongs to cluster {datanode}, the namenode at {namenode_url} is cluster {namenode}: \
         restore the namenode's metadata (namenode --restore CHECKPOINT), or start this datanode on an empty data dir"
    )
}

/// `POST heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heartbeat {
    pub node_id: NodeId,
    pub storage: StorageReport,
    /// Block transfers in progress (reads and writes).
    pub active_transfers: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HeartbeatReply {
    pub commands: Vec<Command>,
}

/// Work the namenode hands a datanode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Send your replica of `block_id` to `targets` (a pipeline, first hop
    /// first), which check it against `sha256`.
    Replicate {
        block_id: BlockId,
        len: u64,
        sha256: Sha256Digest,
        targets: Vec<DatanodeInfo>,
    },
    /// Delete these replicas (deleted files, excess or abandoned blocks).
    Delete { blocks: Vec<BlockId> },
    /// The namenode does not know you (it restarted): register again with a
    /// full block report.
    Reregister,
}

/// `POST block_report`: every replica held, sent periodically.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockReport {
    pub node_id: NodeId,
    pub blocks: Vec<ReportedBlock>,
}

/// `POST block_received`: replicas gained and lost since the last report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncrementalBlockReport {
    pub node_id: NodeId,
    pub received: Vec<ReportedBlock>,
    pub deleted: Vec<BlockId>,
}

/// `POST bad_block`: a replica on this node failed verification and was
/// quarantined.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BadBlockReport {
    pub node_id: NodeId,
    pub block_id: BlockId,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    #[test]
    fn heartbeat_reply_round_trips_through_codec() {
        let r = HeartbeatReply {
            commands: vec![
                Command::Delete {
                    blocks: vec![BlockId::new()],
                },
                Command::Replicate {
                    block_id: BlockId::new(),
                    len: 5,
                    sha256: Sha256Digest::of(b"hello"),
                    targets: vec![DatanodeInfo {
                        id: NodeId::new(),
                        addr: "http://127.0.0.1:1".into(),
                    }],
                },
                Command::Reregister,
            ],
        };
        let back: HeartbeatReply = codec::decode(&codec::encode(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
