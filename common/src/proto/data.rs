//! Block transfer, client ↔ datanode and datanode ↔ datanode. Bodies are raw
//! block bytes, streamed; never a whole block in memory.
//!
//! - `PUT /blocks/{id}`: write a block. Header [`PIPELINE_HEADER`] lists the
//!   downstream hops' base URLs, comma-separated, nearest first (empty or
//!   absent at the last hop). Each hop writes locally while forwarding to the
//!   next, and answers (200, JSON [`WriteBlockResponse`]) only when its own
//!   copy is durable and the downstream hop has answered. Optional
//!   [`EXPECTED_SHA256_HEADER`] / [`EXPECTED_LEN_HEADER`]: a hop whose bytes do
//!   not match refuses to keep them (412). A failed downstream hop does not fail
//!   the write: it shows up as `ok: false` in `replicas`. Between datanodes
//!   the body carries a [`DigestTrailer`] ([`DIGEST_TRAILER_HEADER`]).
//! - `GET /blocks/{id}?offset=&length=`: the bytes (whole block by default),
//!   verified against chunk CRCs as they are read; on a mismatch the datanode
//!   cuts the stream short (the reader sees a short body) and quarantines the
//!   replica.
//! - `GET /blocks/{id}/meta`: JSON [`crate::checksum::BlockChecksums`], so the
//!   reader can verify each chunk itself before handing it on.
//! - `DELETE /blocks/{id}`.
use crate::checksum::Sha256Digest;
use crate::ids::{BlockId, NodeId};
use serde::{Deserialize, Serialize};

pub const PIPELINE_HEADER: &str = "x-dfs-pipeline";
pub const EXPECTED_SHA256_HEADER: &str = "x-dfs-expected-sha256";
pub const EXPECTED_LEN_HEADER: &str = "x-dfs-expected-len";
/// On a block write between datanodes: the body is the block's bytes
/// followed by a [`DigestTrailer`] (value [`DIGEST_TRAILER_V1`]). The
/// upstream hop hashed the bytes as they passed; the hops after it check only
/// their chunk CRC32Cs against the trailer's fingerprint and adopt its
/// SHA-256, so a pipeline hashes each byte once instead of once per hop (HDFS
/// pipelines carry CRCs only). Hops forward the body, trailer included,
/// unchanged.
pub const DIGEST_TRAILER_HEADER: &str = "x-dfs-digest-trailer";
pub const DIGEST_TRAILER_V1: &str = "sha256+crc32c-v1";

/// The end of a block body sent with [`DIGEST_TRAILER_HEADER`]: the
/// upstream hop's SHA-256 of the bytes and the
/// [`crate::checksum::crcs_fingerprint`] of its chunk CRC32Cs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestTrailer {
    pub sha256: Sha256Digest,
    pub fingerprint: u32,
}

impl DigestTrailer {
    pub const LEN: usize = 36;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..32].copy_from_slice(&self.sha256.0);
        out[32..].copy_from_slice(&self.fingerprint.to_le_bytes());
        out
    }

    /// `None` unless `bytes` is exactly [`DigestTrailer::LEN`] long.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (sha, fp) = bytes.split_at_checked(32)?;
        let sha: [u8; 32] = sha.try_into().ok()?;
        let fp: [u8; 4] = fp.try_into().ok()?;
        Some(DigestTrailer {
            sha256: Sha256Digest(sha),
            fingerprint: u32::from_le_bytes(fp),
        })
    }
}

/// On a block read: `sha256` tells the datanode that the reader checks the
/// whole block's SHA-256 itself (and chunk CRCs), so the datanode checks only
/// the chunk CRCs while sending instead of hashing the block a second time.
/// Reads without it (re-replication, plain GETs) get the full check.
pub const READER_VERIFIES_HEADER: &str = "x-dfs-reader-verifies";

/// Offset/length of a ranged block read.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ReadRange {
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub length: Option<u64>,
}

/// One hop's outcome in a write pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaAck {
    /// Base URL of the hop.
    pub addr: String,
    /// Known once the hop answered.
    pub node_id: Option<NodeId>,
    pub ok: bool,
    /// The digest this hop computed over the bytes it made durable.
    pub sha256: Option<Sha256Digest>,
    pub error: Option<String>,
    /// [`crate::checksum::crcs_fingerprint`] of the bytes this hop made
    /// durable: what the writer compares with the bytes it sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crcs: Option<u32>,
}

/// Answer to `PUT /blocks/{id}`: one entry per hop, this hop first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteBlockResponse {
    pub block_id: BlockId,
    pub len: u64,
    pub sha256: Sha256Digest,
    pub replicas: Vec<ReplicaAck>,
}

/// Splits a pipeline header value into hop URLs.
pub fn parse_pipeline(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('/').to_string())
        .collect()
}

/// Builds a pipeline header value.
pub fn format_pipeline<S: AsRef<str>>(hops: &[S]) -> String {
    hops.iter()
        .map(|h| h.as_ref())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_header() {
        assert_eq!(parse_pipeline(""), Vec::<String>::new());
        let hops = parse_pipeline(" http://a:1/ ,http://b:2");
        assert_eq!(hops, vec!["http://a:1", "http://b:2"]);
        assert_eq!(format_pipeline(&hops), "http://a:1,http://b:2");
    }
}
