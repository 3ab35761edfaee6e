//! One attempt at a block: stream its bytes from a [`BlockSource`] into the
//! pipeline of one [`LocatedBlock`] (`PUT` to the first hop, which forwards
//! them), then take the pipeline's answer and check it by the `acks` rule.
//!
//! It does not choose pipelines nor decide whether to try again (that is
//! `retry`); a failed attempt is a [`BlockFailure`] saying what kind of
//! failure it was and which node to leave out.
//!
//! Invariants:
//! - The source is read in the caller's task and handed to the request
//!   body through a channel of [`IN_FLIGHT`] pieces, so a slow pipeline
//!   slows the reader; only the HTTP request runs in a spawned task, which
//!   is aborted if the attempt is dropped.
//! - A body cut off before the block's end ends in an error, so the
//!   datanode discards it rather than storing a short block.
//! - The bytes sent are hashed into the caller's file digest as they go;
//!   the block's own digest is the first hop's, once its chunk CRCs show it
//!   holds exactly those bytes.
//! - A first hop that takes no bytes for [`SEND_IDLE_TIMEOUT`], or a
//!   pipeline that does not answer within [`ACK_TIMEOUT`] of the last
//!   byte, fails the attempt.
use super::acks::{accept_block, digest_of_sent, nodes_to_exclude, too_few_targets};
use super::input::{BlockSource, Input};
use crate::datanode::DatanodeClient;
use crate::error::{ClientError, Result};
use crate::task::AbortOnDrop;
use bytes::Bytes;
use dfs_common::checksum::{crcs_fingerprint, ChunkCrcs, Sha256Hasher};
use dfs_common::proto::client::{CommittedBlock, LocatedBlock};
use dfs_common::proto::data::WriteBlockResponse;
use dfs_common::proto::DatanodeInfo;
use std::time::Duration;
use tokio::sync::mpsc;

/// Pieces queued between the reader and the request body.
const IN_FLIGHT: usize = 4;
/// A first hop that takes no body bytes for this long is taken as hung.
const SEND_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the pipeline may take to answer once the whole block was sent
/// (each hop syncs to disk and waits for the hops after it).
const ACK_TIMEOUT: Duration = Duration::from_secs(120);

/// What kind of thing made a block attempt fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailureKind {
    /// Reading the local source failed: no other pipeline helps.
    Source,
    /// The namenode gave no pipeline to try.
    NoTarget,
    /// Datanodes failed: another pipeline without them may work.
    Pipeline,
}

/// A block attempt that failed.
pub(super) struct BlockFailure {
    pub(super) error: ClientError,
    pub(super) kind: FailureKind,
    /// Nodes to keep out of the next pipeline.
    pub(super) failed: Vec<DatanodeInfo>,
}

impl BlockFailure {
    fn source(e: std::io::Error) -> Self {
        Self {
            error: e.into(),
            kind: FailureKind::Source,
            failed: Vec::new(),
        }
    }

    /// The pipeline failed at its first hop, `head`.
    fn at_head(head: &DatanodeInfo, error: ClientError) -> Self {
        Self {
            error,
            kind: FailureKind::Pipeline,
            failed: vec![head.clone()],
        }
    }
}

/// What the reader hands the request body.
enum Piece {
    Data(Bytes),
    /// The block is complete. A channel closed without it means the upload
    /// was cut off, and the body then ends in an error so that the datanode
    /// discards what it got instead of storing a short block.
    End,
}

fn body_stream(
    rx: mpsc::Receiver<Piece>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Piece::Data(b)) => Some((Ok(b), Some(rx))),
            Some(Piece::End) => None,
            None => Some((Err(std::io::Error::other("upload cut off")), None)),
        }
    })
}

/// One attempt: streams the block from `source` (from its start) into the
/// pipeline of `located`, hashing what is sent into `file_hash` as well,
/// then waits for the pipeline's answer.
pub(super) async fn stream_block<I: Input>(
    dn: &DatanodeClient,
    located: &LocatedBlock,
    need: usize,
    source: &mut BlockSource<'_, I>,
    file_hash: &mut Sha256Hasher,
) -> std::result::Result<CommittedBlock, BlockFailure> {
    send_block(dn, located, need, source, file_hash)
        .await?
        .finish()
        .await
}

/// A block whose bytes all went to its pipeline, with the answer to come.
pub(super) struct InFlight {
    put: AbortOnDrop<Result<WriteBlockResponse>>,
    pub(super) located: LocatedBlock,
    /// The pipeline's first hop.
    head: DatanodeInfo,
    pub(super) len: u64,
    /// [`crcs_fingerprint`] of the bytes sent.
    sent: u32,
    /// The first hop stopped reading before the end.
    receiver_gone: bool,
    /// Intact replicas the block needs to count as written.
    need: usize,
}

/// The first half of an attempt: sends the block's bytes, does not wait for
/// the answer (see [`InFlight::finish`]), which must show `need` intact
/// replicas.
pub(super) async fn send_block<I: Input>(
    dn: &DatanodeClient,
    located: &LocatedBlock,
    need: usize,
    source: &mut BlockSource<'_, I>,
    file_hash: &mut Sha256Hasher,
) -> std::result::Result<InFlight, BlockFailure> {
    let targets = &located.replicas;
    let Some(head) = targets.first() else {
        return Err(BlockFailure {
            error: too_few_targets(0, need),
            kind: FailureKind::NoTarget,
            failed: Vec::new(),
        });
    };
    let head_failed = |error| BlockFailure::at_head(head, error);
    let downstream: Vec<String> = targets[1..].iter().map(|t| t.addr.clone()).collect();
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let put = {
        let (dn, addr, block) = (dn.clone(), head.addr.clone(), located.block_id);
        let token = located.access_token.clone();
        let body = reqwest::Body::wrap_stream(body_stream(rx));
        tokio::spawn(async move {
            dn.put_block(&addr, block, &downstream, body, token.as_deref())
                .await
        })
    };
    let put = AbortOnDrop(put);

    // Chunk CRCs, not a second SHA-256: the block's digest is the first
    // hop's, once its CRCs show it holds exactly these bytes (see
    // `digest_of_sent`); the whole-file SHA-256 is still computed here.
    let mut crcs = ChunkCrcs::new();
    let mut len = 0u64;
    let mut receiver_gone = false;
    loop {
        let piece = source.next().await.map_err(BlockFailure::source)?;
        if piece.is_empty() {
            break;
        }
        len += piece.len() as u64;
        crcs.update(&piece);
        file_hash.update(&piece);
        match tokio::time::timeout(SEND_IDLE_TIMEOUT, tx.send(Piece::Data(piece))).await {
            Ok(Ok(())) => {}
            // The request ended early; its answer says why.
            Ok(Err(_)) => {
                receiver_gone = true;
                break;
            }
            Err(_) => {
                return Err(head_failed(ClientError::Transport(format!(
                    "datanode at {} took no data for {}s",
                    head.addr,
                    SEND_IDLE_TIMEOUT.as_secs()
                ))))
            }
        }
    }
    if !receiver_gone {
        let _ = tx.send(Piece::End).await;
    }
    Ok(InFlight {
        put,
        located: located.clone(),
        head: head.clone(),
        len,
        sent: crcs_fingerprint(len, &crcs.finish()),
        receiver_gone,
        need,
    })
}

impl InFlight {
    /// The second half of an attempt: the pipeline's answer, checked.
    pub(super) async fn finish(mut self) -> std::result::Result<CommittedBlock, BlockFailure> {
        let (located, len) = (&self.located, self.len);
        let (targets, head) = (&located.replicas, &self.head);
        let head_failed = |error| BlockFailure::at_head(head, error);
        let answer = match tokio::time::timeout(ACK_TIMEOUT, &mut self.put.0).await {
            Ok(Ok(Ok(answer))) => answer,
            Ok(Ok(Err(e))) => return Err(head_failed(e)),
            Ok(Err(e)) => {
                return Err(head_failed(ClientError::Transport(format!(
                    "the block upload task failed: {e}"
                ))))
            }
            Err(_) => {
                return Err(head_failed(ClientError::Transport(format!(
                    "the pipeline from datanode at {} did not acknowledge the block within {}s",
                    head.addr,
                    ACK_TIMEOUT.as_secs()
                ))))
            }
        };
        if self.receiver_gone {
            return Err(head_failed(ClientError::Transport(format!(
                "datanode at {} stopped reading the block early",
                head.addr
            ))));
        }
        let Some(sha256) = digest_of_sent(&answer, len, self.sent) else {
            return Err(head_failed(ClientError::Transport(format!(
                "no datanode of the pipeline from {} kept the bytes sent \
                 (chunk checksums differ or are missing)",
                head.addr
            ))));
        };
        match accept_block(targets, &answer, &sha256, self.need) {
            Ok(replicas) => Ok(CommittedBlock {
                block_id: located.block_id,
                len,
                sha256,
                replicas,
            }),
            Err(message) => {
                let failed = nodes_to_exclude(targets, &answer, &sha256);
                Err(BlockFailure {
                    error: ClientError::Transport(message),
                    kind: FailureKind::Pipeline,
                    failed,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cut_off_body_ends_in_an_error() {
        use futures_util::StreamExt;
        let (tx, rx) = mpsc::channel(2);
        tx.send(Piece::Data(Bytes::from_static(b"ab")))
            .await
            .unwrap();
        drop(tx);
        let mut s = Box::pin(body_stream(rx));
        assert_eq!(&s.next().await.unwrap().unwrap()[..], b"ab");
        assert!(s.next().await.unwrap().is_err());
        assert!(s.next().await.is_none());
    }
}
