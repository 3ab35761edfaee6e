//! The read of a range, block after block, replica after replica: for each
//! block, open a replica (the prefetched one first, then in the namenode's
//! order), fetch its checksums and the chunk-aligned bytes, have them
//! verified, and hand on the part that was asked for; on any failure go on
//! from the next replica at the same chunk-aligned offset, and report a
//! replica whose data is bad to the namenode.
//!
//! Invariants:
//! - Only verified bytes are handed on, each once, in order; a block read
//!   whole has its SHA-256 checked before its last piece goes.
//! - A datanode that sends nothing for [`READ_IDLE_TIMEOUT`] is given up
//!   on, and the next replica is tried.
//! - When no replica is left the read ends with `ClientError::Corrupt`,
//!   naming every replica tried and why it failed.
use super::plan::{aligned_range, needed_part};
use super::prefetch::{Opened, Prefetch, PREFETCH_AT};
use super::verify::{meta_problem, BlockHash, ChunkVerifier, ReplicaFailure};
use crate::datanode::DatanodeClient;
use crate::error::{ClientError, Result};
use crate::namenode::NamenodeClient;
use bytes::Bytes;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{BadReplicaReport, LocatedBlock};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::time::Duration;

/// A datanode that sends nothing for this long is given up on, and the next
/// replica is tried.
const READ_IDLE_TIMEOUT: Duration = crate::datanode::IDLE_TIMEOUT;

/// One open replica of the current block.
struct ReplicaRead {
    index: usize,
    body: BoxStream<'static, Result<Bytes>>,
    verifier: ChunkVerifier,
    /// Block offset up to which the body has been received, and where it
    /// ends.
    received: u64,
    end: u64,
}

pub(super) struct ReadState {
    nn: NamenodeClient,
    dn: DatanodeClient,
    path: DfsPath,
    /// Blocks still to read, the current one first.
    blocks: VecDeque<LocatedBlock>,
    /// The next file offset to hand on.
    pos: u64,
    end: u64,
    cur: Option<ReplicaRead>,
    /// Verified bytes of the current block not yet handed on, with their
    /// offsets in the block, in order.
    ready: VecDeque<(u64, Bytes)>,
    /// The current block's digest so far, when it is read whole.
    hash: Option<BlockHash>,
    /// The next replica of the current block to try.
    next_replica: usize,
    /// What went wrong with the current block's replicas so far.
    tried: Vec<String>,
    /// The next block, opened ahead.
    prefetch: Option<Prefetch>,
}

impl ReadState {
    /// The read of `blocks` (those [`super::plan::plan_read`] kept) from
    /// file offset `pos` to `end`.
    pub(super) fn new(
        nn: &NamenodeClient,
        dn: &DatanodeClient,
        path: &DfsPath,
        blocks: VecDeque<LocatedBlock>,
        pos: u64,
        end: u64,
    ) -> Self {
        ReadState {
            nn: nn.clone(),
            dn: dn.clone(),
            path: path.clone(),
            blocks,
            pos,
            end,
            cur: None,
            ready: VecDeque::new(),
            hash: None,
            next_replica: 0,
            tried: Vec::new(),
            prefetch: None,
        }
    }

    /// The next verified piece; `None` at the end of the range.
    pub(super) async fn next_piece(&mut self) -> Option<Result<Bytes>> {
        loop {
            if self.pos >= self.end {
                return None;
            }
            while self
                .blocks
                .front()
                .is_some_and(|b| self.pos >= b.offset + b.len)
            {
                self.blocks.pop_front();
                self.cur = None;
                self.ready.clear();
                self.hash = None;
                self.next_replica = 0;
                self.tried.clear();
            }
            let Some(block) = self.blocks.front() else {
                return Some(Err(ClientError::Corrupt(format!(
                    "{}: no block holds byte {}",
                    self.path, self.pos
                ))));
            };
            let want_start = self.pos - block.offset;
            let want_end = self.end.min(block.offset + block.len) - block.offset;
            if let Some((start, data)) = self.ready.pop_front() {
                let data_end = start + data.len() as u64;
                let (from, to) = needed_part(start, data_end, want_start, want_end);
                self.pos += (to - from) as u64;
                if data_end >= want_end {
                    self.cur = None;
                }
                if to > from {
                    return Some(Ok(data.slice(from..to)));
                }
                continue;
            }
            let block = block.clone();
            if self.cur.is_none() {
                if let Err(e) = self.open_replica(&block, want_start, want_end).await {
                    return Some(Err(e));
                }
            }
            if let Err(ReplicaFailure { reason, bad_data }) = self.receive(&block).await {
                if let Some(r) = self.cur.take() {
                    self.replica_failed(&block, r.index, reason, bad_data).await;
                }
            }
        }
    }

    /// Opens the next usable replica of `block`, or fails when none is left.
    async fn open_replica(
        &mut self,
        block: &LocatedBlock,
        want_start: u64,
        want_end: u64,
    ) -> Result<()> {
        if let Some(opened) = self.take_prefetched(block, want_start, want_end).await {
            self.next_replica = 1;
            self.hash = (opened.length == block.len && block.sha256.is_some()).then(BlockHash::new);
            self.cur = Some(ReplicaRead {
                index: 0,
                body: opened.body,
                verifier: ChunkVerifier::new(opened.meta, 0),
                received: opened.offset,
                end: opened.offset + opened.length,
            });
            return Ok(());
        }
        while self.next_replica < block.replicas.len() {
            let index = self.next_replica;
            self.next_replica += 1;
            let addr = block.replicas[index].addr.clone();
            let meta = match self
                .dn
                .block_meta(&addr, block.block_id, block.access_token.as_deref())
                .await
            {
                Ok(m) => m,
                Err(e) => {
                    self.replica_failed(block, index, format!("checksums unavailable: {e}"), false)
                        .await;
                    continue;
                }
            };
            if let Some(problem) = meta_problem(&meta, block) {
                self.replica_failed(block, index, problem, true).await;
                continue;
            }
            let (offset, length) =
                aligned_range(meta.chunk_size as u64, block.len, want_start, want_end);
            // The digest is checked here when the block is read whole (from
            // its start, or on from where a failed replica left off); then
            // the datanode need not hash it too.
            let whole = offset + length == block.len && block.sha256.is_some();
            if !whole || offset == 0 {
                self.hash = None;
            }
            if whole && offset == 0 {
                self.hash = Some(BlockHash::new());
            }
            if self.hash.as_ref().is_some_and(|h| h.len != offset) {
                self.hash = None;
            }
            let body = match self
                .dn
                .get_block_checked(
                    &addr,
                    block.block_id,
                    offset,
                    length,
                    self.hash.is_some(),
                    block.access_token.as_deref(),
                )
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    self.replica_failed(block, index, e.to_string(), false)
                        .await;
                    continue;
                }
            };
            let first_chunk = (offset / meta.chunk_size as u64) as usize;
            self.cur = Some(ReplicaRead {
                index,
                body,
                verifier: ChunkVerifier::new(meta, first_chunk),
                received: offset,
                end: offset + length,
            });
            return Ok(());
        }
        let tried = if self.tried.is_empty() {
            "no replica is known".to_string()
        } else {
            format!("tried {}", self.tried.join("; "))
        };
        Err(ClientError::Corrupt(format!(
            "block {} of {} has no readable replica ({tried})",
            block.block_id, self.path
        )))
    }

    /// Receives the next piece from the open replica and queues what it
    /// completes, verified, in `ready`. When that reaches the end of a block
    /// read whole, the block's SHA-256 is checked first: on a mismatch
    /// nothing of the piece is queued.
    async fn receive(&mut self, block: &LocatedBlock) -> std::result::Result<(), ReplicaFailure> {
        let Some(r) = self.cur.as_mut() else {
            return Ok(());
        };
        let piece = match tokio::time::timeout(READ_IDLE_TIMEOUT, r.body.next()).await {
            Ok(Some(Ok(b))) => b,
            Ok(Some(Err(e))) => return Err(ReplicaFailure::io(e.to_string())),
            Ok(None) => return Err(ReplicaFailure::io("the datanode sent a short body".into())),
            Err(_) => {
                return Err(ReplicaFailure::io(format!(
                    "the datanode sent nothing for {}s",
                    READ_IDLE_TIMEOUT.as_secs()
                )))
            }
        };
        r.received += piece.len() as u64;
        let near_end = r.end.saturating_sub(r.received) <= PREFETCH_AT;
        let verified = r.verifier.feed(piece)?;
        if near_end && self.prefetch.is_none() {
            self.start_prefetch();
        }
        if let Some(h) = self.hash.as_mut() {
            for (_, b) in &verified {
                h.update(b.clone()).await?;
            }
            if h.len == block.len {
                if let Some(h) = self.hash.take() {
                    let Some(digest) = h.finish().await else {
                        return Err(ReplicaFailure::io("the hashing thread stopped".into()));
                    };
                    if Some(digest) != block.sha256 {
                        return Err(ReplicaFailure::data("block SHA-256 mismatch".into()));
                    }
                }
            }
        }
        self.ready.extend(verified);
        Ok(())
    }

    /// Opens the block after the current one, if the range goes on into it,
    /// on its first replica, in the background.
    fn start_prefetch(&mut self) {
        let Some(next) = self.blocks.get(1) else {
            return;
        };
        if next.offset >= self.end {
            return;
        }
        self.prefetch = Prefetch::start(&self.dn, next, self.end);
    }

    /// The prefetched first replica of `block`, if it was opened for this
    /// very range and nothing went wrong; otherwise the replica is tried
    /// again the usual way, which reports what is wrong with it.
    async fn take_prefetched(
        &mut self,
        block: &LocatedBlock,
        want_start: u64,
        want_end: u64,
    ) -> Option<Opened> {
        if self.next_replica != 0 || want_start != 0 {
            return None;
        }
        self.prefetch.take()?.take(block, want_end).await
    }

    async fn replica_failed(
        &mut self,
        block: &LocatedBlock,
        index: usize,
        reason: String,
        bad_data: bool,
    ) {
        let Some(replica) = block.replicas.get(index) else {
            return;
        };
        log::warn!(
            "reading block {} of {} from {}: {reason}; trying the next replica",
            block.block_id,
            self.path,
            replica.addr
        );
        if bad_data {
            let report = BadReplicaReport {
                block_id: block.block_id,
                node_id: replica.id,
                reason: reason.clone(),
            };
            if let Err(e) = self.nn.report_bad_replica(&report).await {
                log::warn!(
                    "could not report the bad replica of block {} on {}: {e}",
                    block.block_id,
                    replica.addr
                );
            }
        }
        self.tried.push(format!("{} ({reason})", replica.addr));
    }
}
