//! `BlockSender`: sends a stored replica out, to a reader (`GET /blocks/{id}`)
//! or to another datanode (re-replication), verified chunk by chunk.
//!
//! Does not read files itself ([`crate::store`] does, and yields only bytes
//! that passed their CRC32C) and does not talk to the namenode.
//!
//! Invariant: no unverified byte leaves. On a mismatch the stream ends with an
//! error (an HTTP reader sees a body shorter than its `Content-Length`), the
//! replica is quarantined, and a [`BlockEvent::Bad`] goes to the namenode
//! link (HDFS `BlockSender` + `reportBadBlocks`; Garage
//! `move_block_to_corrupted`). A whole-block send is checked against the
//! block's SHA-256 before its last piece leaves ([`crate::store`]), so in a
//! re-replication the target sees a failed body, never a complete bad one
//! (and it checks the expected digest header besides); a reader that checks
//! the SHA-256 itself (the dfs client, which reports a mismatch to the
//! namenode) asks for the chunk CRC32Cs only ([`ReadCheck::Crc`]). A replica
//! whose file vanished is reported deleted.
//!
//! Every send counts as an active transfer (heartbeats report the number);
//! a re-replication counts until the target has answered.
use crate::error::{error_chain, DatanodeError, Result};
use crate::events::BlockEvent;
use crate::metrics::{Metrics, TransferGuard};
use crate::node::Node;
use crate::store::{ReadCheck, ReadStream};
use bytes::Bytes;
use dfs_common::checksum::Sha256Digest;
use dfs_common::error::ErrorBody;
use dfs_common::ids::BlockId;
use dfs_common::proto::data::{
    format_pipeline, WriteBlockResponse, EXPECTED_LEN_HEADER, EXPECTED_SHA256_HEADER,
    PIPELINE_HEADER,
};
use dfs_common::proto::DatanodeInfo;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::sync::Arc;

/// A range of a replica on its way out.
pub struct Outgoing {
    /// Bytes the stream yields when nothing is corrupt.
    pub len: u64,
    pub stream: BoxStream<'static, Result<Bytes>>,
}

/// Opens `length` bytes from `offset` of block `id` (defaults: all of it),
/// checked as `check` says ([`ReadCheck::Crc`] only for a reader that checks
/// the block's SHA-256 itself).
pub async fn open(
    node: Arc<Node>,
    id: BlockId,
    offset: Option<u64>,
    length: Option<u64>,
    check: ReadCheck,
) -> Result<Outgoing> {
    let guard = node.metrics.transfer();
    open_counted(node, id, offset, length, check, Some(guard)).await
}

/// [`open`], with the transfer counted by `guard` for as long as the stream
/// lives (`None`: the caller counts it).
async fn open_counted(
    node: Arc<Node>,
    id: BlockId,
    offset: Option<u64>,
    length: Option<u64>,
    check: ReadCheck,
    guard: Option<TransferGuard>,
) -> Result<Outgoing> {
    let read = match node.store.read_checked(id, offset, length, check).await {
        Ok(r) => r,
        Err(DatanodeError::Corrupt { id, detail }) => {
            report_corrupt(&node, id, &detail).await;
            return Err(DatanodeError::Corrupt { id, detail });
        }
        Err(DatanodeError::Vanished(id)) => {
            node.events.send(BlockEvent::Deleted(id));
            return Err(DatanodeError::Vanished(id));
        }
        Err(e) => return Err(e),
    };
    let len = read.len;
    let state = SendState {
        guard,
        node,
        inner: Some(read.stream),
        sent: 0,
        len,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        let piece = st.inner.as_mut()?.next().await;
        match piece {
            Some(Ok(bytes)) => {
                st.sent += bytes.len() as u64;
                Metrics::add(&st.node.metrics.bytes_sent, bytes.len() as u64);
                Some((Ok(bytes), st))
            }
            None => {
                if st.sent == st.len {
                    Metrics::add(&st.node.metrics.blocks_sent, 1);
                }
                None
            }
            Some(Err(e)) => {
                st.inner = None;
                if let DatanodeError::Corrupt { id, detail } = &e {
                    report_corrupt(&st.node, *id, detail).await;
                }
                Some((Err(e), st))
            }
        }
    });
    Ok(Outgoing {
        len,
        stream: stream.boxed(),
    })
}

struct SendState {
    node: Arc<Node>,
    inner: Option<ReadStream>,
    sent: u64,
    len: u64,
    #[allow(dead_code)] // held for its Drop: counts the transfer while it lives
    guard: Option<TransferGuard>,
}

/// Quarantines a replica that failed verification and tells the namenode
/// (the sender's and the scanner's one door). Returns whether this call did
/// it: when a concurrent reader or a delete got there first, nothing more is
/// reported.
pub async fn report_corrupt(node: &Node, id: BlockId, detail: &str) -> bool {
    let quarantined = match node.store.quarantine(id, detail).await {
        Ok(had) => had,
        Err(e) => {
            // The index entry may or may not be gone; report it anyway: a
            // replica we could not even quarantine is not one to serve.
            log::error!("cannot quarantine replica {id}: {e}");
            true
        }
    };
    if quarantined {
        Metrics::add(&node.metrics.corrupt_replicas, 1);
        node.events.send(BlockEvent::Bad {
            id,
            reason: detail.to_string(),
        });
    }
    quarantined
}

/// How long a re-replication copy token is valid (it is checked when the
/// target starts receiving).
const COPY_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);

/// Streams the local replica of `id` to `targets[0]` with the rest of
/// `targets` as its pipeline, asking every hop to check `len` and `sha256`
/// (re-replication; HDFS `DataTransfer`). The targets report receipt to the
/// namenode themselves.
pub async fn replicate(
    node: Arc<Node>,
    client: &reqwest::Client,
    id: BlockId,
    len: u64,
    sha256: Sha256Digest,
    targets: &[DatanodeInfo],
) -> Result<WriteBlockResponse> {
    let Some((first, rest)) = targets.split_first() else {
        return Err(DatanodeError::BadRequest(format!(
            "replicate {id}: no targets"
        )));
    };
    // Counted from here until the target answers, not just while bytes flow.
    let _transfer = node.metrics.transfer();
    let info = node.store.get(id).ok_or(DatanodeError::NotFound(id))?;
    if info.len != len || info.sha256 != sha256 {
        let detail = format!(
            "replica has {} bytes / {}, the namenode recorded {len} bytes / {sha256}",
            info.len, info.sha256
        );
        report_corrupt(&node, id, &detail).await;
        return Err(DatanodeError::Corrupt { id, detail });
    }
    let (node_keys, node_id) = (node.keys.clone(), node.id);
    let out = open_counted(node, id, None, None, ReadCheck::Digest, None).await?;
    let url = format!("{}/blocks/{id}", first.addr.trim_end_matches('/'));
    let hops: Vec<&str> = rest.iter().map(|t| t.addr.as_str()).collect();
    let mut req = client.put(&url);
    if let Some(keys) = &node_keys {
        // Access control on: a copy token for this block. The source signs
        // it itself: every datanode holds the block key anyway (it must
        // check tokens), so a namenode-signed copy token would prove no
        // more, and the heartbeat's command format stays as it is.
        req = req.header(
            dfs_common::auth::BLOCK_TOKEN_HEADER,
            keys.sign_block(&dfs_common::auth::BlockToken {
                block: id,
                op: dfs_common::auth::BlockOp::Copy,
                expires_ms: dfs_common::auth::now_ms()
                    .saturating_add(COPY_TOKEN_LIFETIME.as_millis() as u64),
                user: format!("datanode {}", node_id),
            }),
        );
    }
    let resp = req
        .header(PIPELINE_HEADER, format_pipeline(&hops))
        .header(EXPECTED_SHA256_HEADER, sha256.to_hex())
        .header(EXPECTED_LEN_HEADER, len.to_string())
        .body(reqwest::Body::wrap_stream(out.stream))
        .send()
        .await
        .map_err(|e| {
            DatanodeError::Internal(format!("replicating {id} to {url}: {}", error_chain(&e)))
        })?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| {
        DatanodeError::Internal(format!("replicating {id} to {url}: {}", error_chain(&e)))
    })?;
    if !status.is_success() {
        let msg = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
        return Err(DatanodeError::Internal(format!(
            "replicating {id} to {url}: {status}: {msg}"
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| DatanodeError::Internal(format!("replicating {id} to {url}: bad answer: {e}")))
}
