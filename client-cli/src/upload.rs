//! The write path: a byte source becomes a file of blocks.
//!
//! `create` → (lease renewal in the background) → for each block: `add_block`,
//! stream up to `block_size` bytes to the first datanode of the pipeline while
//! hashing them → check every hop's digest → `complete` with the blocks and
//! the whole file's SHA-256.
//!
//! Invariants:
//! - Memory is bounded by a few pieces ([`PIECE`] × [`IN_FLIGHT`]) plus the
//!   replay buffer ([`REPLAY_LIMIT`]), never a block: the source is read in the caller's task and handed to the request
//!   body through a bounded channel, so a slow pipeline slows the reader.
//! - The source need not be `Send` (the seed endpoint passes an actix
//!   multipart stream); only the HTTP request runs in a spawned task.
//! - The source cannot be re-read. A block whose pipeline fails while the
//!   block so far is still held (at most [`REPLAY_LIMIT`]: a dead first hop
//!   is noticed within the first pieces, and a small block is held whole) is
//!   abandoned and sent again on a new pipeline without the failed nodes, up
//!   to [`MAX_BLOCK_ATTEMPTS`] times. Past that, a block that did not keep
//!   enough intact replicas fails the upload, naming the failed nodes.
//! - Each source byte is hashed into the file digest and counted for
//!   progress exactly once, whatever the retries.
//! - Any failure after `create` abandons the file (best effort, also when the
//!   upload future is dropped): a failed upload leaves no visible file.
use crate::datanode::DatanodeClient;
use crate::error::{ClientError, Result};
use crate::namenode::NamenodeClient;
use crate::{Progress, UploadOptions};
use bytes::{Bytes, BytesMut};
use dfs_common::checksum::{Sha256Digest, Sha256Hasher};
use dfs_common::error::ErrorCode;
use dfs_common::ids::{FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, CommittedBlock, CompleteRequest, CreateRequest,
    FileStatus, LocatedBlock,
};
use dfs_common::proto::data::{ReplicaAck, WriteBlockResponse};
use dfs_common::proto::DatanodeInfo;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes read from the source at a time and sent as one body piece.
const PIECE: usize = 512 * 1024;
/// Pieces queued between the reader and the request body.
const IN_FLIGHT: usize = 4;
/// A block is kept for a second attempt while it is at most this long: long
/// enough to cover what is in flight when a dead first hop is noticed, and
/// all of a small file's block.
const REPLAY_LIMIT: u64 = 8 * 1024 * 1024;
/// Pipelines tried per block before the upload fails.
const MAX_BLOCK_ATTEMPTS: usize = 3;

/// Writes `reader` to `path`; see the module doc.
pub(crate) async fn upload<R: AsyncRead + Unpin>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    reader: R,
    opts: &UploadOptions,
    progress: &dyn Progress,
) -> Result<FileStatus> {
    if opts.replication == Some(0) {
        return Err(ClientError::Invalid(
            "replication must be at least 1".into(),
        ));
    }
    if opts.block_size == Some(0) {
        return Err(ClientError::Invalid(
            "block size must be at least 1 byte".into(),
        ));
    }
    let created = nn
        .create(&CreateRequest {
            path: path.clone(),
            overwrite: opts.overwrite,
            replication: opts.replication,
            block_size: opts.block_size,
            create_parent: true,
            owner: None,
            permission: None,
        })
        .await?;
    let file_id = created.file_id;
    let mut abandon = AbandonOnDrop {
        nn: nn.clone(),
        file_id,
        armed: true,
    };
    let _lease = renew_lease_in_background(nn, file_id, created.lease_renew_interval_ms);

    let result = write_file(nn, dn, path, file_id, created.block_size, reader, progress).await;
    abandon.armed = false;
    if result.is_err() {
        if let Err(e) = nn.abandon_file(file_id).await {
            log::warn!("could not abandon the failed upload of {path}: {e}");
        }
    }
    result
}

async fn write_file<R: AsyncRead + Unpin>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    file_id: FileId,
    block_size: u64,
    mut reader: R,
    progress: &dyn Progress,
) -> Result<FileStatus> {
    if block_size == 0 {
        return Err(ClientError::Transport(format!(
            "{} chose a block size of 0",
            nn.url()
        )));
    }
    let mut file_hash = Sha256Hasher::new();
    let mut length = 0u64;
    let mut blocks = Vec::new();
    loop {
        // Read before asking for a block, so a source that ends exactly on a
        // block boundary (or is empty) does not leave an empty block.
        let first = read_piece(&mut reader, piece_len(block_size, 0)).await?;
        if first.is_empty() {
            break;
        }
        file_hash.update(&first);
        progress.advance(first.len() as u64);
        let mut source = BlockSource {
            reader: &mut reader,
            block_size,
            read: first.len() as u64,
            replay: Some(vec![first]),
            file_hash: &mut file_hash,
            progress,
        };
        let index = blocks.len();
        let block = write_block(nn, dn, file_id, &mut source)
            .await
            .map_err(|e| {
                e.context(format!(
                    "writing block {index} of {path} failed (upload abandoned)"
                ))
            })?;
        length += block.len;
        blocks.push(block);
    }
    nn.complete(&CompleteRequest {
        file_id,
        blocks,
        length,
        sha256: file_hash.finish(),
    })
    .await
}

/// The bytes of one block as they come from the source: each byte is read,
/// hashed into the file digest and counted for progress once, and kept for a
/// second attempt while the block so far fits in [`REPLAY_LIMIT`].
struct BlockSource<'a, R> {
    reader: &'a mut R,
    block_size: u64,
    /// Bytes of this block read from the source so far.
    read: u64,
    /// Every piece read so far, while they fit in [`REPLAY_LIMIT`].
    replay: Option<Vec<Bytes>>,
    file_hash: &'a mut Sha256Hasher,
    progress: &'a dyn Progress,
}

impl<R: AsyncRead + Unpin> BlockSource<'_, R> {
    /// The next new piece of the block; empty at its end.
    async fn next_new(&mut self) -> std::io::Result<Bytes> {
        if self.read >= self.block_size {
            return Ok(Bytes::new());
        }
        let piece = read_piece(self.reader, piece_len(self.block_size, self.read)).await?;
        self.read += piece.len() as u64;
        self.file_hash.update(&piece);
        self.progress.advance(piece.len() as u64);
        if self.read > REPLAY_LIMIT {
            self.replay = None;
        } else if let Some(r) = self.replay.as_mut() {
            r.push(piece.clone());
        }
        Ok(piece)
    }
}

/// A block attempt that failed, and whether it may be tried again.
struct BlockFailure {
    error: ClientError,
    /// Nodes to keep out of the next pipeline.
    failed: Vec<DatanodeInfo>,
}

/// Writes one block, on a new pipeline each time an attempt fails early
/// enough that its bytes are still at hand (a dead first datanode, or a small
/// block that too few hops stored).
async fn write_block<R: AsyncRead + Unpin>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    file_id: FileId,
    source: &mut BlockSource<'_, R>,
) -> Result<CommittedBlock> {
    let mut excluded: Vec<DatanodeInfo> = Vec::new();
    // Fixed by the first pipeline: a retry on fewer nodes must not lower it.
    let mut need: Option<usize> = None;
    let mut attempt = 1;
    loop {
        let exclude = excluded.iter().map(|d| d.id).collect();
        let located = nn
            .add_block(&AddBlockRequest { file_id, exclude })
            .await
            .map_err(|e| {
                if excluded.is_empty() {
                    e
                } else {
                    e.context(format!(
                        "no other pipeline after {} failed",
                        addrs(&excluded)
                    ))
                }
            })?;
        let need = *need.get_or_insert_with(|| required_replicas(located.replicas.len()));
        let abandon = AbandonBlockRequest {
            file_id,
            block_id: located.block_id,
        };
        if located.replicas.len() < need {
            abandon_block(nn, &abandon).await;
            return Err(ClientError::Transport(format!(
                "only {} datanode(s) left for the block after {} failed (need {need})",
                located.replicas.len(),
                addrs(&excluded)
            )));
        }
        // Pieces already read are sent again first (all of them, or the
        // first attempt's single piece).
        let replay = source.replay.clone().unwrap_or_default();
        let f = match stream_block(dn, &located, need, replay, source).await {
            Ok(block) => return Ok(block),
            Err(f) => f,
        };
        abandon_block(nn, &abandon).await;
        let retry = attempt < MAX_BLOCK_ATTEMPTS && source.replay.is_some() && !f.failed.is_empty();
        if !retry {
            return Err(if excluded.is_empty() {
                f.error
            } else {
                f.error
                    .context(format!("after {} had failed", addrs(&excluded)))
            });
        }
        log::warn!(
            "block {} failed ({}); retrying on another pipeline",
            located.block_id,
            f.error
        );
        excluded.extend(f.failed);
        attempt += 1;
    }
}

fn addrs(nodes: &[DatanodeInfo]) -> String {
    nodes
        .iter()
        .map(|d| d.addr.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn abandon_block(nn: &NamenodeClient, req: &AbandonBlockRequest) {
    if let Err(e) = nn.abandon_block(req).await {
        log::warn!("could not abandon block {}: {e}", req.block_id);
    }
}

/// How much to read for the next piece of a block that has `written` bytes.
fn piece_len(block_size: u64, written: u64) -> usize {
    (block_size - written).min(PIECE as u64) as usize
}

/// Reads up to `want` bytes (fewer only at end of input); empty = end of input.
async fn read_piece<R: AsyncRead + Unpin>(reader: &mut R, want: usize) -> std::io::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(want);
    while buf.len() < want {
        let limit = (want - buf.len()) as u64;
        if (&mut *reader).take(limit).read_buf(&mut buf).await? == 0 {
            break;
        }
    }
    Ok(buf.freeze())
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

/// Aborts a spawned task when dropped (the upload failed or was dropped).
struct AbortOnDrop<T>(JoinHandle<T>);
impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One attempt: streams the `replay` pieces and then the rest of the block
/// from `source` into the pipeline of `located`.
async fn stream_block<R: AsyncRead + Unpin>(
    dn: &DatanodeClient,
    located: &LocatedBlock,
    need: usize,
    replay: Vec<Bytes>,
    source: &mut BlockSource<'_, R>,
) -> std::result::Result<CommittedBlock, BlockFailure> {
    let targets = &located.replicas;
    let Some(head) = targets.first() else {
        let error = ClientError::Remote {
            status: 503,
            code: ErrorCode::Unavailable,
            message: "the namenode chose no datanode for the block".into(),
        };
        return Err(BlockFailure {
            error,
            failed: Vec::new(),
        });
    };
    let head_failed = |error: ClientError| BlockFailure {
        error,
        failed: vec![head.clone()],
    };
    let downstream: Vec<String> = targets[1..].iter().map(|t| t.addr.clone()).collect();
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let put = {
        let (dn, addr, block) = (dn.clone(), head.addr.clone(), located.block_id);
        let body = reqwest::Body::wrap_stream(body_stream(rx));
        tokio::spawn(async move { dn.put_block(&addr, block, &downstream, body).await })
    };
    let mut put = AbortOnDrop(put);

    let mut block_hash = Sha256Hasher::new();
    let mut len = 0u64;
    let mut receiver_gone = false;
    let mut replay = replay.into_iter();
    loop {
        let piece = match replay.next() {
            Some(p) => p,
            None => source.next_new().await.map_err(|e| BlockFailure {
                error: e.into(),
                failed: Vec::new(),
            })?,
        };
        if piece.is_empty() {
            break;
        }
        len += piece.len() as u64;
        block_hash.update(&piece);
        if tx.send(Piece::Data(piece)).await.is_err() {
            // The request ended early; its answer says why.
            receiver_gone = true;
            break;
        }
    }
    if !receiver_gone {
        let _ = tx.send(Piece::End).await;
    }
    drop(tx);
    let answer = match (&mut put.0).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return Err(head_failed(e)),
        Err(e) => {
            return Err(head_failed(ClientError::Transport(format!(
                "the block upload task failed: {e}"
            ))))
        }
    };
    if receiver_gone {
        return Err(head_failed(ClientError::Transport(format!(
            "{} stopped reading the block early",
            head.addr
        ))));
    }
    let sha256 = block_hash.finish();
    match accept_block(targets, &answer, &sha256, need) {
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
                failed,
            })
        }
    }
}

/// Replicas needed for a block to count as written: two (so it survives the
/// loss of one datanode, and re-replication restores the rest), or all of
/// them when the namenode's first pipeline is shorter (a one-node cluster).
pub(crate) fn required_replicas(pipeline_len: usize) -> usize {
    pipeline_len.clamp(1, 2)
}

/// The pipeline acceptance rule: the node ids of the hops that acknowledged a
/// durable replica with the client's digest, when there are at least `need`
/// (see [`required_replicas`]); otherwise a message naming what failed.
pub(crate) fn accept_block(
    targets: &[DatanodeInfo],
    answer: &WriteBlockResponse,
    sha256: &Sha256Digest,
    need: usize,
) -> std::result::Result<Vec<NodeId>, String> {
    let mut good: Vec<NodeId> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for (t, outcome) in targets.iter().zip(hop_outcomes(targets, answer, sha256)) {
        match outcome {
            Hop::Intact if !good.contains(&t.id) => good.push(t.id),
            Hop::Intact => {}
            Hop::Failed(why) => failed.push(format!("{} ({why})", t.addr)),
            Hop::Unacknowledged => failed.push(format!("{} (no acknowledgement)", t.addr)),
        }
    }
    if good.len() >= need {
        if !failed.is_empty() {
            log::warn!(
                "block {} kept {} of {} replicas; failed: {}",
                answer.block_id,
                good.len(),
                targets.len(),
                failed.join(", ")
            );
        }
        Ok(good)
    } else {
        Err(format!(
            "only {} of {} datanodes stored the block intact (need {need}); failed: {}",
            good.len(),
            targets.len(),
            failed.join(", ")
        ))
    }
}

/// What one hop of a pipeline did with a block.
#[derive(Debug, PartialEq)]
enum Hop {
    /// A durable replica with the client's digest.
    Intact,
    /// The hop said it failed, or kept different bytes.
    Failed(String),
    /// No word from it (a hop before it in the chain may have broken off).
    Unacknowledged,
}

/// Each target's outcome, in pipeline order.
fn hop_outcomes(
    targets: &[DatanodeInfo],
    answer: &WriteBlockResponse,
    sha256: &Sha256Digest,
) -> Vec<Hop> {
    let anonymous = |a: &&ReplicaAck| a.node_id.is_none();
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // Hops name themselves by node id; an older or partial answer may
            // only give the address, or only the position in the pipeline.
            let ack = answer
                .replicas
                .iter()
                .find(|a| a.node_id == Some(t.id))
                .or_else(|| {
                    answer
                        .replicas
                        .iter()
                        .filter(anonymous)
                        .find(|a| same_addr(&a.addr, &t.addr))
                })
                .or_else(|| answer.replicas.get(i).filter(anonymous));
            match ack {
                None => Hop::Unacknowledged,
                Some(a) if !a.ok => Hop::Failed(a.error.clone().unwrap_or_else(|| "failed".into())),
                // The digest covers the length too: a short replica fails here.
                Some(a) if a.sha256.as_ref() != Some(sha256) => Hop::Failed(format!(
                    "stored bytes with SHA-256 {} instead of {sha256}",
                    a.sha256
                        .map(|d| d.to_hex())
                        .unwrap_or_else(|| "unknown".into())
                )),
                Some(_) => Hop::Intact,
            }
        })
        .collect()
}

/// The node to leave out of the next pipeline: the first hop, in chain
/// order, that did not keep an intact replica. Hops after it only ever saw
/// what it forwarded, so their failure may be its fault (a datanode reports
/// them as "not reached"); if they are bad too, the next attempt shows it.
fn nodes_to_exclude(
    targets: &[DatanodeInfo],
    answer: &WriteBlockResponse,
    sha256: &Sha256Digest,
) -> Vec<DatanodeInfo> {
    targets
        .iter()
        .zip(hop_outcomes(targets, answer, sha256))
        .find(|(_, h)| *h != Hop::Intact)
        .map(|(t, _)| vec![t.clone()])
        .unwrap_or_default()
}

fn same_addr(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Renews the write lease every `interval_ms` until dropped.
fn renew_lease_in_background(
    nn: &NamenodeClient,
    file_id: FileId,
    interval_ms: u64,
) -> Option<AbortOnDrop<()>> {
    if interval_ms == 0 {
        return None;
    }
    let nn = nn.clone();
    let every = Duration::from_millis(interval_ms.max(100));
    Some(AbortOnDrop(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate; `create` just took the lease
        loop {
            ticks.tick().await;
            if let Err(e) = nn.renew_lease(file_id).await {
                log::warn!("renewing the write lease of file {file_id} failed: {e}");
            }
        }
    })))
}

/// Abandons the file if the upload future is dropped before it finished
/// (the explicit error path abandons and awaits instead).
struct AbandonOnDrop {
    nn: NamenodeClient,
    file_id: FileId,
    armed: bool,
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (nn, file_id) = (self.nn.clone(), self.file_id);
            rt.spawn(async move {
                if let Err(e) = nn.abandon_file(file_id).await {
                    log::warn!("could not abandon the cut-off upload of file {file_id}: {e}");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(i: u8) -> DatanodeInfo {
        DatanodeInfo {
            id: NodeId::from_bytes([i; 16]),
            addr: format!("http://127.0.0.1:{}", 9000 + i as u16),
        }
    }

    fn ack(n: &DatanodeInfo, ok: bool, sha: Option<Sha256Digest>) -> ReplicaAck {
        ReplicaAck {
            addr: n.addr.clone(),
            node_id: Some(n.id),
            ok,
            sha256: sha,
            error: (!ok).then(|| "disk full".to_string()),
        }
    }

    fn answer(len: u64, sha: Sha256Digest, replicas: Vec<ReplicaAck>) -> WriteBlockResponse {
        WriteBlockResponse {
            block_id: dfs_common::ids::BlockId::new(),
            len,
            sha256: sha,
            replicas,
        }
    }

    #[test]
    fn required_replicas_rule() {
        assert_eq!(required_replicas(0), 1);
        assert_eq!(required_replicas(1), 1);
        assert_eq!(required_replicas(2), 2);
        assert_eq!(required_replicas(3), 2);
        assert_eq!(required_replicas(5), 2);
    }

    #[test]
    fn accepts_two_of_three() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        let a = answer(
            4,
            d,
            vec![
                ack(&t[0], true, Some(d)),
                ack(&t[1], false, None),
                ack(&t[2], true, Some(d)),
            ],
        );
        assert_eq!(
            accept_block(&t, &a, &d, required_replicas(t.len())).unwrap(),
            vec![t[0].id, t[2].id]
        );
    }

    #[test]
    fn refuses_one_of_three_and_names_the_failed() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        let a = answer(
            4,
            d,
            vec![ack(&t[0], true, Some(d)), ack(&t[1], false, None)],
        );
        let e = accept_block(&t, &a, &d, required_replicas(t.len())).unwrap_err();
        assert!(e.contains("only 1 of 3"), "{e}");
        assert!(e.contains(&t[1].addr) && e.contains("disk full"), "{e}");
        assert!(
            e.contains(&t[2].addr) && e.contains("no acknowledgement"),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_digest_does_not_count() {
        let t = vec![node(1), node(2)];
        let d = Sha256Digest::of(b"data");
        let bad = Sha256Digest::of(b"dat4");
        let a = answer(
            4,
            d,
            vec![ack(&t[0], true, Some(d)), ack(&t[1], true, Some(bad))],
        );
        let e = accept_block(&t, &a, &d, required_replicas(t.len())).unwrap_err();
        assert!(e.contains("instead of"), "{e}");
    }

    #[test]
    fn exclusion_blames_the_first_broken_hop() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        // Hop 2 failed, so hop 3 was never reached: only hop 2 is excluded.
        let mut unreached = ack(&t[2], false, None);
        unreached.error = Some("not reached".into());
        let a = answer(
            4,
            d,
            vec![
                ack(&t[0], true, Some(d)),
                ack(&t[1], false, None),
                unreached,
            ],
        );
        assert_eq!(nodes_to_exclude(&t, &a, &d), vec![t[1].clone()]);
        // Silent hops count as broken too.
        let a = answer(4, d, vec![ack(&t[0], true, Some(d))]);
        assert_eq!(nodes_to_exclude(&t, &a, &d), vec![t[1].clone()]);
        let a = answer(
            4,
            d,
            vec![
                ack(&t[0], true, Some(d)),
                ack(&t[1], true, Some(d)),
                ack(&t[2], true, Some(d)),
            ],
        );
        assert!(nodes_to_exclude(&t, &a, &d).is_empty());
        // Matched by address when the hop gave no id.
        let mut anon = ack(&t[1], true, Some(d));
        anon.node_id = None;
        let a = answer(4, d, vec![ack(&t[0], true, Some(d)), anon]);
        assert_eq!(accept_block(&t, &a, &d, 2).unwrap(), vec![t[0].id, t[1].id]);
    }

    #[test]
    fn single_target_needs_one() {
        let t = vec![node(1)];
        let d = Sha256Digest::of(b"x");
        let a = answer(1, d, vec![ack(&t[0], true, Some(d))]);
        assert_eq!(
            accept_block(&t, &a, &d, required_replicas(t.len())).unwrap(),
            vec![t[0].id]
        );
        let a = answer(1, d, vec![ack(&t[0], false, None)]);
        assert!(accept_block(&t, &a, &d, required_replicas(t.len())).is_err());
    }

    #[test]
    fn pieces_never_cross_a_block() {
        assert_eq!(piece_len(10, 0), 10);
        assert_eq!(piece_len(10, 7), 3);
        assert_eq!(piece_len(64 << 20, 0), PIECE);
        assert_eq!(piece_len(64 << 20, (64 << 20) - 5), 5);
    }

    #[tokio::test]
    async fn read_piece_fills_or_ends() {
        let data = [7u8; 100];
        let mut r = &data[..];
        assert_eq!(read_piece(&mut r, 60).await.unwrap().len(), 60);
        assert_eq!(read_piece(&mut r, 60).await.unwrap().len(), 40);
        assert!(read_piece(&mut r, 60).await.unwrap().is_empty());
    }

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
