//! `BlockReceiver`: takes a block in (`PUT /blocks/{id}`), writes it to the
//! store while forwarding the same bytes to the next pipeline hop, and
//! acknowledges only when the local copy is durable and the downstream hop
//! has answered (HDFS `BlockReceiver` + `PacketResponder`).
//!
//! Does not parse HTTP (the handler in [`crate::api`] hands it typed
//! [`PutRequest`] values and a byte stream) and does not talk to the namenode
//! (it pushes a [`BlockEvent::Received`]).
//!
//! Invariants:
//! - Backpressure end to end: the downstream body is fed through a bounded
//!   channel, so a slow hop slows the sender; the disk writer is bounded too.
//! - A failed downstream hop never fails the write: this hop keeps writing
//!   and reports that hop (and the ones after it) as `ok: false`.
//! - A truncated upstream body never looks complete downstream: the forwarded
//!   stream ends with an error unless it was ended on purpose.
//! - Nothing is kept from a body that failed, or that does not match the
//!   expected length / SHA-256 (412).
//! - Each byte is hashed with SHA-256 once per pipeline, by its first hop:
//!   the hops after it get the digest in a trailer after the bytes
//!   ([`DIGEST_TRAILER_HEADER`]) and adopt it only if their chunk CRC32Cs
//!   agree with the first hop's (else 412). The scanner and every full read
//!   check the adopted digest against the bytes on disk.
use crate::error::{error_chain, DatanodeError, Result};
use crate::events::BlockEvent;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::peer::PeerClient;
use crate::store::{Digest, Expected};
use bytes::Bytes;
use dfs_common::checksum::Sha256Digest;
use dfs_common::error::ErrorBody;
use dfs_common::ids::BlockId;
use dfs_common::proto::data::{
    format_pipeline, DigestTrailer, ReplicaAck, WriteBlockResponse, DIGEST_TRAILER_HEADER,
    DIGEST_TRAILER_V1, EXPECTED_LEN_HEADER, EXPECTED_SHA256_HEADER, PIPELINE_HEADER,
};
use dfs_common::proto::datanode::ReportedBlock;
use futures_util::{Stream, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Pieces buffered towards the next hop before the upstream is slowed down.
const FORWARD_QUEUE: usize = 16;
/// A downstream hop that accepts nothing for this long is given up on.
const FORWARD_STALL: Duration = Duration::from_secs(60);
/// How long to wait for the downstream answer once the body is complete
/// (it only has to make its copy durable and hear from its own hops).
const DOWNSTREAM_ANSWER: Duration = Duration::from_secs(120);

/// A parsed `PUT /blocks/{id}`.
#[derive(Debug, Clone, Default)]
pub struct PutRequest {
    /// Downstream hops, nearest first.
    pub pipeline: Vec<String>,
    /// The body ends with a [`DigestTrailer`] from the upstream hop (see
    /// [`DIGEST_TRAILER_HEADER`]).
    pub digest_trailer: bool,
    pub expected: Expected,
    /// The block access token this write came with (access control on),
    /// handed on to the next hop.
    pub token: Option<String>,
}

/// Receives one block from `body`. See the module doc for the guarantees.
pub async fn receive<S, E>(
    node: &Node,
    client: &PeerClient,
    id: BlockId,
    req: PutRequest,
    mut body: S,
) -> Result<WriteBlockResponse>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let _transfer = node.metrics.transfer();
    let digest = if req.digest_trailer {
        Digest::Adopt
    } else {
        Digest::Compute
    };
    let mut writer = node.store.writer_with(id, req.expected.len, digest).await?;
    let mut downstream = req.pipeline.split_first().map(|(next, rest)| {
        Downstream::start(client, id, next, rest, &req.expected, req.token.as_deref())
    });
    let mut split = req.digest_trailer.then(TrailerSplit::default);

    while let Some(piece) = body.next().await {
        let piece = match piece {
            Ok(p) => p,
            Err(e) => {
                // Dropping the writer removes its temp file; dropping the
                // downstream makes its body fail rather than end.
                return Err(DatanodeError::Body(e.to_string()));
            }
        };
        // Forwarded as received: a trailer from upstream goes on too.
        if let Some(d) = downstream.as_mut() {
            d.send(piece.clone()).await;
        }
        let (held, piece) = match split.as_mut() {
            Some(s) => s.push(piece),
            None => (Vec::new(), piece),
        };
        for data in [&held[..], &piece[..]] {
            writer.write(data).await?;
            Metrics::add(&node.metrics.bytes_received, data.len() as u64);
        }
    }

    let mut sealed = writer.seal().await?;
    match split.map(TrailerSplit::finish) {
        Some(trailer) => {
            let trailer = trailer.ok_or_else(|| {
                DatanodeError::Body("the body ended inside its digest trailer".into())
            })?;
            sealed.adopt_digest(trailer.sha256, trailer.fingerprint)?;
        }
        None => {
            if let (Some(d), Some(sha256)) = (downstream.as_mut(), sealed.sha256()) {
                let trailer = DigestTrailer {
                    sha256,
                    fingerprint: sealed.fingerprint(),
                };
                d.send(Bytes::copy_from_slice(&trailer.encode())).await;
            }
        }
    }
    let downstream = downstream.map(Downstream::end);
    let (info, crcs) = sealed.commit(req.expected).await?;
    Metrics::add(&node.metrics.blocks_received, 1);
    node.events.send(BlockEvent::Received(ReportedBlock {
        id,
        len: info.len,
        sha256: info.sha256,
    }));

    let mut replicas = vec![ReplicaAck {
        addr: node.advertise.clone(),
        node_id: Some(node.id),
        ok: true,
        sha256: Some(info.sha256),
        error: None,
        crcs: Some(crcs),
    }];
    if let Some(d) = downstream {
        replicas.extend(d.outcome(info.sha256).await);
    }
    Ok(WriteBlockResponse {
        block_id: id,
        len: info.len,
        sha256: info.sha256,
        replicas,
    })
}

/// What goes down the channel to the next hop.
enum Forward {
    Data(Bytes),
    /// The body is complete; without this the stream ends with an error.
    End,
}

/// The request to the next hop, running in its own task.
struct Downstream {
    hops: Vec<String>,
    tx: Option<mpsc::Sender<Forward>>,
    task: JoinHandle<std::result::Result<WriteBlockResponse, String>>,
    stalled: bool,
}

impl Downstream {
    fn start(
        client: &PeerClient,
        id: BlockId,
        next: &str,
        rest: &[String],
        expected: &Expected,
        token: Option<&str>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(FORWARD_QUEUE);
        let url = format!("{next}/blocks/{id}");
        // The body always ends with a trailer: this hop's own, or the one
        // it received and forwards.
        let mut req = client
            .0
            .put(&url)
            .header(PIPELINE_HEADER, format_pipeline(rest))
            .header(DIGEST_TRAILER_HEADER, DIGEST_TRAILER_V1);
        if let Some(sha) = expected.sha256 {
            req = req.header(EXPECTED_SHA256_HEADER, sha.to_hex());
        }
        if let Some(len) = expected.len {
            req = req.header(EXPECTED_LEN_HEADER, len.to_string());
        }
        if let Some(t) = token {
            req = req.header(dfs_common::auth::BLOCK_TOKEN_HEADER, t);
        }
        let body = reqwest::Body::wrap_stream(forward_stream(rx));
        let task = tokio::spawn(async move {
            let resp = req.body(body).send().await.map_err(|e| error_chain(&e))?;
            let status = resp.status();
            if !status.is_success() {
                let text = resp.text().await.unwrap_or_default();
                let msg = serde_json::from_str::<ErrorBody>(&text)
                    .map(|b| b.error.message)
                    .unwrap_or(text);
                return Err(format!("{status}: {msg}"));
            }
            resp.json::<WriteBlockResponse>()
                .await
                .map_err(|e| format!("bad answer: {}", error_chain(&e)))
        });
        let mut hops = vec![next.to_string()];
        hops.extend(rest.iter().cloned());
        Downstream {
            hops,
            tx: Some(tx),
            task,
            stalled: false,
        }
    }

    /// Forwards a piece, unless the hop has already failed.
    async fn send(&mut self, piece: Bytes) {
        let Some(tx) = &self.tx else { return };
        if self.task.is_finished() {
            // It answered (or failed) before the body was complete.
            self.tx = None;
            return;
        }
        match timeout(FORWARD_STALL, tx.send(Forward::Data(piece))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => self.tx = None, // the request is gone; its task says why
            Err(_) => {
                log::warn!(
                    "next hop {} accepted nothing for {FORWARD_STALL:?}; giving up on it",
                    self.hops[0]
                );
                self.stalled = true;
                self.tx = None;
                self.task.abort();
            }
        }
    }

    /// Marks the body complete (the next hop sees a clean end).
    fn end(mut self) -> Self {
        if let Some(tx) = self.tx.take() {
            // The channel may be full; then the end marker waits in a task.
            if let Err(mpsc::error::TrySendError::Full(end)) = tx.try_send(Forward::End) {
                tokio::spawn(async move {
                    let _ = tx.send(end).await;
                });
            }
        }
        self
    }

    /// One ack per downstream hop.
    async fn outcome(self, our_sha: Sha256Digest) -> Vec<ReplicaAck> {
        let result = match timeout(DOWNSTREAM_ANSWER, self.task).await {
            Err(_) => Err(format!("no answer within {DOWNSTREAM_ANSWER:?}")),
            Ok(Err(_)) if self.stalled => {
                Err(format!("stalled: accepted nothing for {FORWARD_STALL:?}"))
            }
            Ok(Err(e)) => Err(format!("forwarding task failed: {e}")),
            Ok(Ok(r)) => r,
        };
        match result {
            Ok(resp) => {
                let mut acks = resp.replicas;
                for ack in &mut acks {
                    if ack.ok && ack.sha256 != Some(our_sha) {
                        ack.ok = false;
                        ack.error = Some(format!(
                            "digest {:?} differs from the upstream hop's {our_sha}",
                            ack.sha256
                        ));
                    }
                }
                // A hop that answered for fewer hops than it was given.
                for hop in self.hops.iter().skip(acks.len()) {
                    acks.push(failed_ack(
                        hop,
                        "no acknowledgement from the previous hop".into(),
                    ));
                }
                acks
            }
            Err(e) => {
                log::warn!("pipeline hop {} failed: {e}", self.hops[0]);
                self.hops
                    .iter()
                    .enumerate()
                    .map(|(i, hop)| {
                        let why = if i == 0 {
                            e.clone()
                        } else {
                            format!("not reached: {} failed", self.hops[0])
                        };
                        failed_ack(hop, why)
                    })
                    .collect()
            }
        }
    }
}

fn failed_ack(addr: &str, error: String) -> ReplicaAck {
    ReplicaAck {
        addr: addr.to_string(),
        node_id: None,
        ok: false,
        sha256: None,
        error: Some(error),
        crcs: None,
    }
}

/// The body sent to the next hop: data until [`Forward::End`]; a channel that
/// closes without it (this hop failed) ends the body with an error, so the
/// next hop keeps nothing.
fn forward_stream(
    rx: mpsc::Receiver<Forward>,
) -> impl Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Forward::Data(b)) => Some((Ok(b), Some(rx))),
            Some(Forward::End) => None,
            None => Some((
                Err(std::io::Error::other("upstream hop aborted the block")),
                None,
            )),
        }
    })
}

/// Holds back the last [`DigestTrailer::LEN`] bytes of a body until it ends,
/// passing on the rest (the block's bytes) without copying them.
#[derive(Default)]
struct TrailerSplit {
    held: Vec<u8>,
}

impl TrailerSplit {
    /// Takes the next piece of the body; gives the bytes now known to be
    /// data: some held from before, then a slice of `piece`.
    fn push(&mut self, piece: Bytes) -> (Vec<u8>, Bytes) {
        const LEN: usize = DigestTrailer::LEN;
        if piece.len() >= LEN {
            let cut = piece.len() - LEN;
            let earlier = std::mem::replace(&mut self.held, piece[cut..].to_vec());
            return (earlier, piece.slice(..cut));
        }
        self.held.extend_from_slice(&piece);
        let cut = self.held.len().saturating_sub(LEN);
        let rest = self.held.split_off(cut);
        let data = std::mem::replace(&mut self.held, rest);
        (data, Bytes::new())
    }

    /// The trailer, if the body held one.
    fn finish(self) -> Option<DigestTrailer> {
        DigestTrailer::decode(&self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However the body is cut into pieces, the data is everything but the
    /// last 36 bytes, in order, and the trailer is those.
    #[test]
    fn trailer_split_any_piece_sizes() {
        let trailer = DigestTrailer {
            sha256: Sha256Digest([7; 32]),
            fingerprint: 0xdead_beef,
        };
        for data_len in [0usize, 1, 35, 36, 37, 100, 1000] {
            let data: Vec<u8> = (0..data_len).map(|i| (i % 251) as u8).collect();
            let mut body = data.clone();
            body.extend_from_slice(&trailer.encode());
            for piece in [1usize, 5, 36, 37, 64, 4096] {
                let mut split = TrailerSplit::default();
                let mut got = Vec::new();
                for p in body.chunks(piece) {
                    let (held, rest) = split.push(Bytes::copy_from_slice(p));
                    got.extend_from_slice(&held);
                    got.extend_from_slice(&rest);
                }
                assert_eq!(got, data, "data_len {data_len}, pieces of {piece}");
                assert_eq!(split.finish(), Some(trailer), "data_len {data_len}");
            }
        }
        // A body shorter than a trailer has none.
        let mut split = TrailerSplit::default();
        let (held, rest) = split.push(Bytes::from_static(&[1; 20]));
        assert!(held.is_empty() && rest.is_empty());
        assert_eq!(split.finish(), None);
    }
}
