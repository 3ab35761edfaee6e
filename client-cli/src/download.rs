//! The read path: a byte range of a file becomes a stream of verified bytes.
//!
//! `locations` → for each needed block, try its replicas in the namenode's
//! order: fetch the replica's checksums (`/meta`, which must agree with the
//! namenode's recorded length and SHA-256), then the chunk-aligned byte range,
//! and check each chunk's CRC32C before handing on the part of it that was
//! asked for. When a whole block is read, its SHA-256 is checked too, before
//! its last chunk is handed on.
//!
//! Invariants:
//! - No byte leaves this module unverified.
//! - At most about one chunk is buffered (plus what the HTTP body holds).
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
use bytes::{Bytes, BytesMut};
use dfs_common::checksum::{BlockChecksums, Sha256Hasher};
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
        next_replica: 0,
        tried: Vec::new(),
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
    meta: BlockChecksums,
    body: BoxStream<'static, Result<Bytes>>,
    /// Received but not yet consumed.
    pending: Bytes,
    /// The next chunk the body will deliver.
    chunk: usize,
    /// Running digest, when this read covers the whole block.
    hash: Option<Sha256Hasher>,
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
    /// The next replica of the current block to try.
    next_replica: usize,
    /// What went wrong with the current block's replicas so far.
    tried: Vec<String>,
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
                self.next_replica = 0;
                self.tried.clear();
            }
            let Some(block) = self.blocks.front().cloned() else {
                return Some(Err(ClientError::Corrupt(format!(
                    "{}: no block holds byte {}",
                    self.path, self.pos
                ))));
            };
            let want_start = self.pos - block.offset;
            let want_end = self.end.min(block.offset + block.len) - block.offset;
            if self.cur.is_none() {
                if let Err(e) = self.open_replica(&block, want_start, want_end).await {
                    return Some(Err(e));
                }
            }
            match self.read_chunk(&block).await {
                Ok(Some((chunk_start, data))) => {
                    let chunk_end = chunk_start + data.len() as u64;
                    let (from, to) = needed_part(chunk_start, chunk_end, want_start, want_end);
                    self.pos += (to - from) as u64;
                    if chunk_end >= want_end {
                        self.cur = None;
                    }
                    if to > from {
                        return Some(Ok(data.slice(from..to)));
                    }
                }
                Ok(None) => {}
                Err(ReplicaFailure { reason, bad_data }) => {
                    if let Some(r) = self.cur.take() {
                        self.replica_failed(&block, r.index, reason, bad_data).await;
                    }
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
        while self.next_replica < block.replicas.len() {
            let index = self.next_replica;
            self.next_replica += 1;
            let addr = block.replicas[index].addr.clone();
            let meta = match self.dn.block_meta(&addr, block.block_id).await {
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
            let body = match self
                .dn
                .get_block(&addr, block.block_id, offset, length)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    self.replica_failed(block, index, e.to_string(), false)
                        .await;
                    continue;
                }
            };
            let whole = offset == 0 && offset + length == block.len;
            self.cur = Some(ReplicaRead {
                index,
                chunk: (offset / meta.chunk_size as u64) as usize,
                meta,
                body,
                pending: Bytes::new(),
                hash: whole.then(Sha256Hasher::new),
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

    /// Reads and verifies the next chunk of the open replica: its offset in
    /// the block and its bytes.
    async fn read_chunk(
        &mut self,
        block: &LocatedBlock,
    ) -> std::result::Result<Option<(u64, Bytes)>, ReplicaFailure> {
        let Some(r) = self.cur.as_mut() else {
            return Ok(None);
        };
        let i = r.chunk;
        let len = r.meta.chunk_len(i);
        if len == 0 {
            return Err(ReplicaFailure::io(
                "the read went past the end of the block".into(),
            ));
        }
        let data = read_exact(&mut r.body, &mut r.pending, len).await?;
        if !r.meta.verify_chunk(i, &data) {
            return Err(ReplicaFailure::data(format!(
                "checksum mismatch in chunk {i}"
            )));
        }
        let chunk_start = i as u64 * r.meta.chunk_size as u64;
        if let Some(h) = r.hash.as_mut() {
            h.update(&data);
            if chunk_start + len as u64 == block.len {
                let digest = r.hash.take().map(Sha256Hasher::finish);
                if block.sha256.is_some() && digest != block.sha256 {
                    return Err(ReplicaFailure::data("block SHA-256 mismatch".into()));
                }
            }
        }
        r.chunk += 1;
        Ok(Some((chunk_start, data)))
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

/// Exactly `len` bytes from `body` (after `pending`), keeping any surplus in
/// `pending`.
async fn read_exact(
    body: &mut BoxStream<'static, Result<Bytes>>,
    pending: &mut Bytes,
    len: usize,
) -> std::result::Result<Bytes, ReplicaFailure> {
    if pending.len() >= len {
        return Ok(pending.split_to(len));
    }
    let mut buf = BytesMut::with_capacity(len);
    loop {
        let take = pending.len().min(len - buf.len());
        buf.extend_from_slice(&pending.split_to(take));
        if buf.len() == len {
            return Ok(buf.freeze());
        }
        match tokio::time::timeout(READ_IDLE_TIMEOUT, body.next()).await {
            Ok(Some(Ok(b))) => *pending = b,
            Ok(Some(Err(e))) => return Err(ReplicaFailure::io(e.to_string())),
            Ok(None) => return Err(ReplicaFailure::io("the datanode sent a short body".into())),
            Err(_) => {
                return Err(ReplicaFailure::io(format!(
                    "the datanode sent nothing for {}s",
                    READ_IDLE_TIMEOUT.as_secs()
                )))
            }
        }
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

    #[tokio::test]
    async fn read_exact_splits_and_joins_pieces() {
        let pieces: Vec<Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"defgh")),
            Ok(Bytes::from_static(b"ij")),
        ];
        let mut body = futures_util::stream::iter(pieces).boxed();
        let mut pending = Bytes::new();
        assert_eq!(
            &read_exact(&mut body, &mut pending, 4).await.ok().unwrap()[..],
            b"abcd"
        );
        assert_eq!(
            &read_exact(&mut body, &mut pending, 2).await.ok().unwrap()[..],
            b"ef"
        );
        assert_eq!(
            &read_exact(&mut body, &mut pending, 4).await.ok().unwrap()[..],
            b"ghij"
        );
        let short = read_exact(&mut body, &mut pending, 1).await;
        assert!(matches!(
            short,
            Err(ReplicaFailure {
                bad_data: false,
                ..
            })
        ));
    }
}
