//! The read path: a byte range of a file becomes a stream of verified bytes.
//!
//! `locations` → for each needed block, try its replicas in the namenode's
//! order (drawn at random for every answer, so the reads of a block, the
//! next block's read-ahead included, spread over all its replicas and rot
//! on any of them is met here): fetch the replica's checksums (`/meta`,
//! which must agree with the namenode's recorded length and SHA-256), then
//! the chunk-aligned byte range, and check each chunk's CRC32C before
//! handing on the part of it that was asked for. When a whole block is read, its SHA-256 is checked too, before
//! its last chunk is handed on (also when a replica failed part-way: the
//! digest goes on over the next replica's bytes); the datanode is told so,
//! and checks only the CRC32Cs, so each byte is hashed once per read.
//! Chunks are checked in place in the pieces the HTTP body delivers, with no
//! copy ([`ChunkVerifier`]).
//!
//! Invariants:
//! - No byte leaves this module unverified.
//! - At most about one body piece (a few hundred KiB) is buffered, plus what
//!   the HTTP body holds.
//! - On any failure of a replica (cannot connect, error answer, short body,
//!   checksum mismatch), reading goes on from the next replica at the same
//!   chunk-aligned offset, so no byte is handed on twice. Data mismatches are
//!   reported to the namenode (best effort), so it can repair the block.
//! - When no replica is left the stream ends with `ClientError::Corrupt`,
//!   and yields nothing after an error.
use crate::datanode::DatanodeClient;
use crate::error::{ClientError, Result};
use crate::namenode::NamenodeClient;
use crate::FileReader;
use bytes::Bytes;
use dfs_common::checksum::{BlockChecksums, Sha256Digest, Sha256Hasher};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{BadReplicaReport, FileLocations, FileType, LocatedBlock};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::time::Duration;

/// A datanode that sends nothing for this long is given up on, and the next
/// replica is tried.
const READ_IDLE_TIMEOUT: Duration = crate::datanode::IDLE_TIMEOUT;

/// Opens `path` for reading `[offset, offset + length)` (to the end when
/// `length` is `None`).
pub(crate) async fn open(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    offset: u64,
    length: Option<u64>,
) -> Result<FileReader> {
    let located = nn.locations(path).await?;
    open_located(nn, dn, path, located, offset, length)
}

/// As [`open`], from locations the caller already has (an append reads
/// the file as it was when its lease was granted).
pub(crate) fn open_located(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    located: FileLocations,
    offset: u64,
    length: Option<u64>,
) -> Result<FileReader> {
    if located.status.file_type == FileType::Directory {
        return Err(ClientError::Invalid(format!(
            "{path} is a directory, not a file"
        )));
    }
    let file_len = located.status.length;
    let (end, blocks) = plan_read(path, file_len, located.blocks, offset, length)?;
    let state = ReadState {
        nn: nn.clone(),
        dn: dn.clone(),
        path: path.clone(),
        blocks,
        pos: offset,
        end,
        cur: None,
        ready: VecDeque::new(),
        hash: None,
        next_replica: 0,
        tried: Vec::new(),
        prefetch: None,
    };
    let stream = futures_util::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        match state.next_piece().await? {
            Ok(bytes) => Some((Ok(bytes), Some(state))),
            // Nothing follows an error.
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed();
    Ok(FileReader::new(located.status, end - offset, stream))
}

/// Checks the block list and the range; returns the range's end and the
/// blocks it touches.
fn plan_read(
    path: &DfsPath,
    file_len: u64,
    blocks: Vec<LocatedBlock>,
    offset: u64,
    length: Option<u64>,
) -> Result<(u64, VecDeque<LocatedBlock>)> {
    if offset > file_len {
        return Err(ClientError::Invalid(format!(
            "offset {offset} is beyond the end of {path} ({file_len} bytes)"
        )));
    }
    let end = offset + length.unwrap_or(u64::MAX).min(file_len - offset);
    let mut expected = 0u64;
    for b in &blocks {
        if b.offset != expected {
            return Err(ClientError::Corrupt(format!(
                "the namenode's block list for {path} has a gap or overlap at byte {expected}"
            )));
        }
        expected += b.len;
    }
    if expected != file_len {
        return Err(ClientError::Corrupt(format!(
            "the namenode's blocks for {path} hold {expected} bytes but the file has {file_len}"
        )));
    }
    let needed = blocks
        .into_iter()
        .filter(|b| b.len > 0 && b.offset < end && b.offset + b.len > offset)
        .collect();
    Ok((end, needed))
}

/// The chunk-aligned range `(offset, length)` of a block that covers the
/// block bytes `[want_start, want_end)`.
pub(crate) fn aligned_range(
    chunk_size: u64,
    block_len: u64,
    want_start: u64,
    want_end: u64,
) -> (u64, u64) {
    let chunk_size = chunk_size.max(1);
    let start = want_start / chunk_size * chunk_size;
    let end = want_end
        .div_ceil(chunk_size)
        .saturating_mul(chunk_size)
        .min(block_len);
    (start, end.saturating_sub(start))
}

/// The part of chunk `[chunk_start, chunk_end)` (block offsets) that lies in
/// `[want_start, want_end)`, relative to the chunk.
pub(crate) fn needed_part(
    chunk_start: u64,
    chunk_end: u64,
    want_start: u64,
    want_end: u64,
) -> (usize, usize) {
    let from = want_start.clamp(chunk_start, chunk_end) - chunk_start;
    let to = want_end.clamp(chunk_start, chunk_end) - chunk_start;
    (from as usize, to as usize)
}

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

/// The next block's first replica, opened while the current block's last
/// [`PREFETCH_AT`] bytes arrive: its checksums are fetched and its GET sent,
/// so that the datanode reads ahead and no round trip separates two blocks.
/// Its body is not read until the block before is done, so TCP backpressure
/// bounds what it holds (the socket buffers and the datanode's read queue).
struct Prefetch {
    block: LocatedBlock,
    want_end: u64,
    task: tokio::task::JoinHandle<Option<Opened>>,
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // A reader dropped or gone elsewhere does not leave a GET open.
        self.task.abort();
    }
}

/// A replica with its checksums checked and its body on the way.
struct Opened {
    meta: BlockChecksums,
    offset: u64,
    length: u64,
    body: BoxStream<'static, Result<Bytes>>,
}

/// How close to the end of a block the next one is opened: enough to cover
/// two round trips and a first disk read at full speed, little enough that
/// the opened body does not idle long behind a slow consumer.
const PREFETCH_AT: u64 = 8 * 1024 * 1024;

/// The running SHA-256 of a block that is read whole (carried over to the
/// next replica when one fails part-way, so the digest still covers every
/// byte handed on). The hashing runs on a thread of its own, beside the
/// receiving, checking and writing (one core of SHA-256 is the download's
/// ceiling); only the block's last piece waits for its verdict.
struct BlockHash {
    /// Verified pieces to the hashing thread, in batches (bounded: it keeps
    /// up or slows the reader down).
    tx: tokio::sync::mpsc::Sender<Vec<Bytes>>,
    digest: tokio::sync::oneshot::Receiver<Sha256Digest>,
    /// Pieces not sent yet: handing over one piece at a time costs a thread
    /// wake-up per HTTP body piece (tens of KiB).
    batch: Vec<Bytes>,
    batched: usize,
    /// Bytes of the block hashed so far (all of them handed on, or about to be).
    len: u64,
}

/// Batches queued for the hashing thread.
const HASH_QUEUE: usize = 4;
/// Bytes per batch.
const HASH_BATCH: usize = 512 * 1024;

impl BlockHash {
    fn new() -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(HASH_QUEUE);
        let (done, digest) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let mut hasher = Sha256Hasher::new();
            while let Some(batch) = rx.blocking_recv() {
                for piece in batch {
                    hasher.update(&piece);
                }
            }
            let _ = done.send(hasher.finish());
        });
        BlockHash {
            tx,
            digest,
            batch: Vec::new(),
            batched: 0,
            len: 0,
        }
    }

    async fn update(&mut self, piece: Bytes) -> std::result::Result<(), ReplicaFailure> {
        self.len += piece.len() as u64;
        self.batched += piece.len();
        self.batch.push(piece);
        if self.batched >= HASH_BATCH {
            self.send_batch().await?;
        }
        Ok(())
    }

    async fn send_batch(&mut self) -> std::result::Result<(), ReplicaFailure> {
        self.batched = 0;
        let batch = std::mem::take(&mut self.batch);
        self.tx
            .send(batch)
            .await
            .map_err(|_| ReplicaFailure::io("the hashing thread stopped".into()))
    }

    async fn finish(mut self) -> Option<Sha256Digest> {
        if !self.batch.is_empty() {
            self.send_batch().await.ok()?;
        }
        drop(self.tx);
        self.digest.await.ok()
    }
}

struct ReadState {
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
    /// The next verified piece; `None` at the end of the range.
    async fn next_piece(&mut self) -> Option<Result<Bytes>> {
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
        let Some(replica) = next.replicas.first() else {
            return;
        };
        let block = next.clone();
        let want_end = self.end.min(block.offset + block.len) - block.offset;
        let (dn, addr) = (self.dn.clone(), replica.addr.clone());
        let task = tokio::spawn({
            let block = block.clone();
            async move { open_ahead(&dn, &addr, &block, want_end).await }
        });
        self.prefetch = Some(Prefetch {
            block,
            want_end,
            task,
        });
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
        let mut p = self.prefetch.take()?;
        if p.block.block_id != block.block_id || p.want_end != want_end {
            return None;
        }
        (&mut p.task).await.ok().flatten()
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

/// Opens `[0, want_end)` of `block` on its first replica (see [`Prefetch`]);
/// `None` on any problem, which the usual path then meets and reports.
async fn open_ahead(
    dn: &DatanodeClient,
    addr: &str,
    block: &LocatedBlock,
    want_end: u64,
) -> Option<Opened> {
    let token = block.access_token.as_deref();
    let meta = dn.block_meta(addr, block.block_id, token).await.ok()?;
    if meta_problem(&meta, block).is_some() {
        return None;
    }
    let (offset, length) = aligned_range(meta.chunk_size as u64, block.len, 0, want_end);
    let whole = length == block.len && block.sha256.is_some();
    let body = dn
        .get_block_checked(addr, block.block_id, offset, length, whole, token)
        .await
        .ok()?;
    Some(Opened {
        meta,
        offset,
        length,
        body,
    })
}

/// Why a replica's checksums cannot be trusted for `block`, if they cannot.
fn meta_problem(meta: &BlockChecksums, block: &LocatedBlock) -> Option<String> {
    if meta.len != block.len {
        return Some(format!(
            "replica holds {} bytes, the namenode recorded {}",
            meta.len, block.len
        ));
    }
    if block.sha256.is_some_and(|s| s != meta.sha256) {
        return Some("replica's SHA-256 differs from the namenode's record".into());
    }
    if !meta.is_consistent() {
        return Some("replica's checksum file is inconsistent".into());
    }
    None
}

struct ReplicaFailure {
    reason: String,
    /// The replica sent bytes that do not match (worth reporting), as
    /// opposed to failing to send them.
    bad_data: bool,
}

impl ReplicaFailure {
    fn io(reason: String) -> Self {
        Self {
            reason,
            bad_data: false,
        }
    }
    fn data(reason: String) -> Self {
        Self {
            reason,
            bad_data: true,
        }
    }
}

/// Checks a replica's bytes against its chunk CRC32Cs as they arrive, in
/// pieces of any size, without copying them: whole chunks inside a piece are
/// checked in place, and a chunk split over pieces is kept as its parts
/// until it is complete.
struct ChunkVerifier {
    meta: BlockChecksums,
    /// The chunk the next byte belongs to.
    chunk: usize,
    /// The received parts of that chunk, and their running CRC32C.
    parts: Vec<Bytes>,
    filled: usize,
    crc: u32,
}

impl ChunkVerifier {
    /// Expects bytes from the start of chunk `first_chunk`.
    fn new(meta: BlockChecksums, first_chunk: usize) -> Self {
        Self {
            meta,
            chunk: first_chunk,
            parts: Vec::new(),
            filled: 0,
            crc: 0,
        }
    }

    /// Takes the next piece; answers the bytes it completes, verified, with
    /// their offsets in the block, in order. Nothing of a piece is answered
    /// when any chunk it completes fails.
    fn feed(&mut self, mut piece: Bytes) -> std::result::Result<Vec<(u64, Bytes)>, ReplicaFailure> {
        let chunk_size = self.meta.chunk_size as u64;
        let mut out = Vec::new();
        while !piece.is_empty() {
            let len = self.meta.chunk_len(self.chunk);
            if len == 0 {
                return Err(ReplicaFailure::io(
                    "the read went past the end of the block".into(),
                ));
            }
            if self.filled == 0 && piece.len() >= len {
                // As many whole chunks as the piece holds, checked in place.
                let first = self.chunk;
                let mut n = 0;
                loop {
                    let len = self.meta.chunk_len(self.chunk);
                    if len == 0 || n + len > piece.len() {
                        break;
                    }
                    if !self.meta.verify_chunk(self.chunk, &piece[n..n + len]) {
                        return Err(self.mismatch());
                    }
                    n += len;
                    self.chunk += 1;
                }
                out.push((first as u64 * chunk_size, piece.split_to(n)));
                continue;
            }
            let part = piece.split_to((len - self.filled).min(piece.len()));
            self.crc = crc32c::crc32c_append(self.crc, &part);
            self.filled += part.len();
            self.parts.push(part);
            if self.filled == len {
                if self.meta.crcs.get(self.chunk) != Some(&self.crc) {
                    return Err(self.mismatch());
                }
                let mut at = self.chunk as u64 * chunk_size;
                for part in self.parts.drain(..) {
                    let n = part.len() as u64;
                    out.push((at, part));
                    at += n;
                }
                self.chunk += 1;
                self.filled = 0;
                self.crc = 0;
            }
        }
        Ok(out)
    }

    fn mismatch(&self) -> ReplicaFailure {
        ReplicaFailure::data(format!("checksum mismatch in chunk {}", self.chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::ids::BlockId;

    const C: u64 = 64 * 1024;

    #[test]
    fn alignment_covers_whole_chunks() {
        // Whole block.
        assert_eq!(aligned_range(C, 3 * C + 5, 0, 3 * C + 5), (0, 3 * C + 5));
        // Inside one chunk.
        assert_eq!(aligned_range(C, 3 * C, 10, 20), (0, C));
        // Straddling a boundary.
        assert_eq!(aligned_range(C, 3 * C, C - 1, C + 1), (0, 2 * C));
        // Starting on a boundary, ending in the short last chunk.
        assert_eq!(
            aligned_range(C, 3 * C + 5, 2 * C, 3 * C + 2),
            (2 * C, C + 5)
        );
        // An aligned start and end stays as is.
        assert_eq!(aligned_range(C, 4 * C, C, 3 * C), (C, 2 * C));
    }

    #[test]
    fn needed_part_of_a_chunk() {
        assert_eq!(needed_part(0, C, 10, 20), (10, 20));
        assert_eq!(needed_part(C, 2 * C, 10, 3 * C), (0, C as usize));
        assert_eq!(needed_part(C, 2 * C, C + 5, C + 5), (5, 5));
        assert_eq!(needed_part(2 * C, 2 * C + 7, 0, 100 * C), (0, 7));
    }

    fn blk(offset: u64, len: u64) -> LocatedBlock {
        LocatedBlock {
            block_id: BlockId::new(),
            offset,
            len,
            sha256: None,
            replicas: vec![],
            access_token: None,
        }
    }

    #[test]
    fn plan_picks_the_touched_blocks() {
        let p = DfsPath::parse("/f").unwrap();
        let blocks = vec![blk(0, 10), blk(10, 10), blk(20, 5)];
        let (end, b) = plan_read(&p, 25, blocks.clone(), 0, None).unwrap();
        assert_eq!((end, b.len()), (25, 3));
        let (end, b) = plan_read(&p, 25, blocks.clone(), 12, Some(3)).unwrap();
        assert_eq!((end, b.len(), b[0].offset), (15, 1, 10));
        let (end, b) = plan_read(&p, 25, blocks.clone(), 9, Some(100)).unwrap();
        assert_eq!((end, b.len()), (25, 3));
        let (end, b) = plan_read(&p, 25, blocks.clone(), 25, None).unwrap();
        assert_eq!((end, b.len()), (25, 0));
        assert!(matches!(
            plan_read(&p, 25, blocks.clone(), 26, None),
            Err(ClientError::Invalid(_))
        ));
        assert!(plan_read(&p, 26, blocks, 0, None).is_err());
        assert!(plan_read(&p, 20, vec![blk(0, 10), blk(11, 10)], 0, None).is_err());
        assert_eq!(plan_read(&p, 0, vec![], 0, None).unwrap().0, 0);
    }

    fn pieces_of(data: &[u8], cuts: &[usize]) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&data.len())) {
            out.push(Bytes::copy_from_slice(&data[at..c]));
            at = c;
        }
        out
    }

    #[test]
    fn verifier_hands_on_whole_chunks_from_pieces_of_any_size() {
        let c = C as usize;
        let data: Vec<u8> = (0..3 * c + 5).map(|i| (i * 7 % 251) as u8).collect();
        let meta = BlockChecksums::of(&data);
        for cuts in [
            vec![],
            vec![1],
            vec![c],
            vec![c - 1, c + 1, 2 * c + 3],
            vec![10, 20, 30, 2 * c, 3 * c + 4],
        ] {
            let mut v = ChunkVerifier::new(meta.clone(), 0);
            let mut got = Vec::new();
            for piece in pieces_of(&data, &cuts) {
                for (at, b) in v.feed(piece).ok().unwrap() {
                    assert_eq!(at as usize, got.len(), "in order, no gap ({cuts:?})");
                    got.extend_from_slice(&b);
                }
                // Only whole chunks (or the short last one) are handed on.
                assert!(got.len() % c == 0 || got.len() == data.len(), "{cuts:?}");
            }
            assert!(got == data, "{cuts:?}");
        }
        // From a later chunk on.
        let mut v = ChunkVerifier::new(meta.clone(), 2);
        let out = v.feed(Bytes::copy_from_slice(&data[2 * c..])).ok().unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 2 * C);
        // More than the block holds.
        let mut v = ChunkVerifier::new(meta.clone(), 3);
        assert!(v.feed(Bytes::from(vec![0u8; 6])).is_err());
    }

    #[test]
    fn verifier_hands_on_nothing_of_a_bad_chunk() {
        let c = C as usize;
        let data: Vec<u8> = (0..3 * c).map(|i| (i * 13 % 251) as u8).collect();
        let meta = BlockChecksums::of(&data);
        let mut bad = data.clone();
        bad[c + 100] ^= 1;
        // Whole chunks in one piece: the good first chunk is not handed on
        // either (the reader goes on from it with the next replica).
        let mut v = ChunkVerifier::new(meta.clone(), 0);
        let err = v.feed(Bytes::copy_from_slice(&bad)).err().unwrap();
        assert!(
            err.bad_data && err.reason.contains("chunk 1"),
            "{}",
            err.reason
        );
        // Split pieces: the first chunk went on, the bad one does not.
        let mut v = ChunkVerifier::new(meta, 0);
        let pieces = pieces_of(&bad, &[c - 7, c + 50]);
        let first = v.feed(pieces[0].clone()).ok().unwrap();
        assert!(first.is_empty());
        let second = v.feed(pieces[1].clone()).ok().unwrap();
        assert_eq!(second.iter().map(|(_, b)| b.len()).sum::<usize>(), c);
        assert!(v.feed(pieces[2].clone()).is_err());
    }
}
