//! The write path: a byte source becomes a file of blocks.
//!
//! `create` → (lease renewal in the background) → for each block: `add_block`,
//! stream up to `block_size` bytes to the first datanode of the pipeline while
//! hashing them → check every hop's digest → `complete` with the blocks and
//! the whole file's SHA-256.
//!
//! From a seekable source, blocks overlap: block k+1 is sent while block k's
//! pipeline drains and syncs, and k's answer is checked once k+1 is out
//! (measured here: 15–25 ms of waiting per 64 MiB block without it). When
//! k failed, k+1 is abandoned as well, and both are written again from the
//! source, k the sequential way below.
//!
//! Acknowledgement and pipeline recovery:
//! - A block counts as written only once [`replicas_needed`] hops, min(2,
//!   R) with R the file's replication in the namenode's answer to `create`
//!   or `append`, acknowledged a durable replica whose digest is the
//!   client's: an acknowledged file then survives the loss of any one
//!   datanode before repair (CONTRACT, "Reads and relayed writes"). Every
//!   door comes here: `dfs put` of a file or of stdin, appends, the seed
//!   `/upload_file` and WebHDFS CREATE/APPEND relayed by the namenode or a
//!   datanode. `complete` names every hop that holds an intact replica and
//!   no other (a hop that failed or kept other bytes is left out); the
//!   namenode copies a block kept by fewer than its replication.
//! - A pipeline shorter than that (the namenode found too few datanodes, or
//!   too few are left once failed ones are excluded) is refused before any
//!   byte is sent: the upload fails, saying how many datanodes it needs.
//! - When fewer hops kept the block (the first hop refused the connection,
//!   broke it, answered an error, stalled; or a later hop died mid-block and
//!   too few replicas are left), the failed hop is replaced the simple way:
//!   the block is abandoned and written again, whole, on a new pipeline from
//!   `add_block` with the failed nodes in `exclude`, up to
//!   [`MAX_BLOCK_ATTEMPTS`] pipelines ([`decide`] is the rule). HDFS instead
//!   splices a new datanode into the live pipeline and copies the bytes
//!   already sent from a surviving hop; rewriting needs no datanode protocol
//!   of its own and gives the same guarantee, at the cost of resending one
//!   block. That needs the block's bytes again:
//!   - a seekable source ([`Seekable`], `DfsClient::upload_seekable`) seeks
//!     back to the block's start and reads it again, for any block size;
//!   - a plain stream ([`Plain`]: stdin, the seed endpoint, WebHDFS
//!     CREATE/APPEND relays, appends) keeps the pieces of the block read so
//!     far while they fit in [`REPLAY_LIMIT`] (a dead first hop is noticed
//!     within the first pieces, and a small block is held whole). Past that
//!     the upload fails cleanly, naming the failed node.
//! - A namenode answer is never retried here: a 503 (safe mode, too few
//!   datanodes) fails the upload with the namenode's reason.
//!
//! Invariants:
//! - Memory is bounded by a few pieces ([`PIECE`] × [`IN_FLIGHT`]) plus, for
//!   a plain stream, the replay buffer ([`REPLAY_LIMIT`]); never a block. The
//!   source is read in the caller's task and handed to the request body
//!   through a bounded channel, so a slow pipeline slows the reader.
//! - The source need not be `Send` (the seed endpoint passes an actix
//!   multipart stream); only the HTTP request runs in a spawned task.
//! - The file digest covers exactly the bytes of the accepted attempts (it
//!   is forked per attempt), so it always matches the blocks `complete`
//!   names, even if a seekable source changed between two reads. Progress
//!   counts each source byte once, whatever the retries.
//! - Any failure after `create` abandons the file (best effort, also when the
//!   upload future is dropped): a failed upload leaves no visible file.
use crate::datanode::DatanodeClient;
use crate::error::{ClientError, Result};
use crate::namenode::NamenodeClient;
use crate::{Progress, UploadOptions};
use bytes::{Bytes, BytesMut};
use dfs_common::checksum::{crcs_fingerprint, ChunkCrcs, Sha256Digest, Sha256Hasher, Sha256State};
use dfs_common::error::ErrorCode;
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, AppendRequest, AppendResponse, CommittedBlock,
    CompleteRequest, CreateRequest, FileStatus, LocatedBlock,
};
use dfs_common::proto::data::{ReplicaAck, WriteBlockResponse};
use dfs_common::proto::DatanodeInfo;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::io::SeekFrom;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes read from the source at a time and sent as one body piece.
const PIECE: usize = 512 * 1024;
/// Pieces queued between the reader and the request body.
const IN_FLIGHT: usize = 4;
/// A plain stream's block is kept for a second attempt while it is at most
/// this long: long enough to cover what is in flight when a dead first hop
/// is noticed, and all of a small file's block.
pub(crate) const REPLAY_LIMIT: u64 = 8 * 1024 * 1024;
/// Pipelines tried per block before the upload fails.
pub(crate) const MAX_BLOCK_ATTEMPTS: usize = 4;
/// Durable replicas a block needs to count as written, when the file's
/// replication allows: two, so that no single datanode lost before repair
/// loses an acknowledged block. The namenode copies the rest later.
const MIN_DURABLE_REPLICAS: u16 = 2;

/// Hops that must keep a block intact for it to count as written, for a
/// file of `replication`: min(2, replication), and at least 1.
pub(crate) fn replicas_needed(replication: u16) -> usize {
    usize::from(replication.clamp(1, MIN_DURABLE_REPLICAS))
}

/// A first hop that takes no body bytes for this long is taken as hung.
const SEND_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the pipeline may take to answer once the whole block was sent
/// (each hop syncs to disk and waits for the hops after it).
const ACK_TIMEOUT: Duration = Duration::from_secs(120);

/// A byte source for an upload, and whether it can be read again.
pub(crate) trait Input {
    /// True when [`Input::rewind_to`] works.
    fn seekable(&self) -> bool;
    /// Reads up to `want` bytes (fewer only at end of input); empty = end.
    async fn read_piece(&mut self, want: usize) -> std::io::Result<Bytes>;
    /// Goes back to `offset` bytes past where the upload started.
    async fn rewind_to(&mut self, offset: u64) -> std::io::Result<()>;
}

/// A source that can be read once (stdin, a multipart stream).
pub(crate) struct Plain<R>(pub R);

impl<R: AsyncRead + Unpin> Input for Plain<R> {
    fn seekable(&self) -> bool {
        false
    }
    async fn read_piece(&mut self, want: usize) -> std::io::Result<Bytes> {
        read_piece(&mut self.0, want).await
    }
    async fn rewind_to(&mut self, _offset: u64) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "the source cannot be read again",
        ))
    }
}

/// A source that can seek (a local file): any block can be read again.
pub(crate) struct Seekable<R> {
    reader: R,
    /// Where the reader stood when the upload began.
    origin: u64,
}

impl<R: AsyncRead + AsyncSeek + Unpin> Seekable<R> {
    /// Uploads from the reader's current position.
    pub(crate) async fn new(mut reader: R) -> std::io::Result<Self> {
        let origin = reader.stream_position().await?;
        Ok(Self { reader, origin })
    }
}

impl<R: AsyncRead + AsyncSeek + Unpin> Input for Seekable<R> {
    fn seekable(&self) -> bool {
        true
    }
    async fn read_piece(&mut self, want: usize) -> std::io::Result<Bytes> {
        read_piece(&mut self.reader, want).await
    }
    async fn rewind_to(&mut self, offset: u64) -> std::io::Result<()> {
        self.reader
            .seek(SeekFrom::Start(self.origin + offset))
            .await
            .map(|_| ())
    }
}

/// Writes `input` to `path`; see the module doc.
pub(crate) async fn upload<I: Input>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    input: I,
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
            create_parent: opts.create_parent,
            owner: opts.owner.clone(),
            permission: opts.permission,
            first_block: true,
        })
        .await
        .map_err(|e| unavailable_context(e, path))?;
    let file_id = created.file_id;
    let mut abandon = AbandonOnDrop {
        nn: nn.clone(),
        file_id,
        armed: true,
    };
    let _lease = renew_lease_in_background(nn, file_id, created.lease_renew_interval_ms);

    let start = Resume {
        length: 0,
        hash: Sha256Hasher::new(),
    };
    let opened = Opened {
        file_id,
        first: created.block,
        block_size: created.block_size,
        replication: created.replication,
    };
    let result = write_file(nn, dn, path, opened, input, progress, start).await;
    abandon.armed = false;
    if result.is_err() {
        if let Err(e) = nn.abandon_file(file_id).await {
            log::warn!("could not abandon the failed upload of {path}: {e}");
        }
    }
    result
}

/// A 503 from the namenode says it takes no writes now (safe mode, too few
/// datanodes): say so in front of its reason.
fn unavailable_context(e: ClientError, path: &DfsPath) -> ClientError {
    if e.code() == ErrorCode::Unavailable && matches!(e, ClientError::Remote { .. }) {
        e.context(format!("cannot write {path} now"))
    } else {
        e
    }
}

/// Where a write starts: after `length` bytes that stay as they are (0 for
/// a new file; the kept whole blocks of an append), whose digest midstate
/// is `hash`.
pub(crate) struct Resume {
    pub length: u64,
    pub hash: Sha256Hasher,
}

/// What the namenode fixed for a file opened for writing.
struct Opened {
    file_id: FileId,
    /// The first block's pipeline, when it was placed with the create.
    first: Option<LocatedBlock>,
    block_size: u64,
    /// The file's replication (it sets [`replicas_needed`]).
    replication: u16,
}

async fn write_file<I: Input>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    opened: Opened,
    mut input: I,
    progress: &dyn Progress,
    start: Resume,
) -> Result<FileStatus> {
    let Opened {
        file_id,
        mut first,
        block_size,
        replication,
    } = opened;
    if block_size == 0 {
        return Err(ClientError::Transport(format!(
            "{} chose a block size of 0",
            nn.url()
        )));
    }
    let t = Target {
        nn,
        dn,
        path,
        file_id,
        block_size,
        need: replicas_needed(replication),
        progress,
    };
    let mut file_hash = start.hash;
    let mut done = Committed {
        blocks: Vec::new(),
        end: start.length,
        block_size,
        full_state: file_hash.state(start.length),
    };
    // Bytes sent (committed or in flight), and progress counted, up to here.
    let mut length = start.length;
    let mut counted = start.length;
    // A seekable input overlaps blocks: the next block is sent while the
    // pipeline of the one before still drains and syncs (tens of ms per
    // 64 MiB block on one machine), since a failed block can be read again
    // from the input. A plain stream waits for each block's answer.
    let overlap = input.seekable();
    let mut pending: Option<Pending> = None;
    loop {
        let mut source = BlockSource::new(&mut input, (length, counted), block_size, progress);
        // Read before asking for a block, so a source that ends exactly on a
        // block boundary (or is empty) does not leave an empty block.
        if !source.start().await? {
            break;
        }
        let index = done.blocks.len() + usize::from(pending.is_some());
        if !overlap {
            let block = write_block(
                &t,
                first.take(),
                &mut source,
                &mut file_hash,
                Retries::new(),
            )
            .await
            .map_err(|e| t.failed(index, e))?;
            counted = counted.max(source.counted_to());
            length += block.len;
            done.push(block, &file_hash);
            continue;
        }

        // Overlapped: this block's first attempt goes out before the
        // answer for the one before is looked at.
        let located = Retries::new()
            .pipeline(&t, first.take())
            .await
            .map_err(|e| t.failed(index, e))?;
        let hash_before = file_hash.clone();
        let sent = send_block(dn, &located, t.need, &mut source, &mut file_hash).await;
        counted = counted.max(source.counted_to());
        drop(source);

        if let Some(prev) = pending.take() {
            match prev.settle().await {
                Ok((block, hash_after)) => done.push(block, &hash_after),
                Err(failed) => {
                    // The block before has to go out again, so this one,
                    // sent after it, goes too; both start over from there.
                    drop(sent);
                    abandon(nn, file_id, located.block_id).await;
                    file_hash = t
                        .write_again(&mut input, &mut done, &mut counted, failed)
                        .await
                        .map_err(|e| t.failed(index - 1, e))?;
                    length = done.end;
                    continue;
                }
            }
        }
        match sent {
            Ok(flight) => {
                length += flight.len;
                pending = Some(Pending {
                    flight,
                    hash_before,
                    hash_after: file_hash.clone(),
                });
            }
            Err(f) => {
                let failed = Failed {
                    failure: f,
                    block_id: located.block_id,
                    hash_before,
                };
                file_hash = t
                    .write_again(&mut input, &mut done, &mut counted, failed)
                    .await
                    .map_err(|e| t.failed(index, e))?;
                length = done.end;
            }
        }
    }
    if let Some(prev) = pending.take() {
        let index = done.blocks.len();
        match prev.settle().await {
            Ok((block, hash_after)) => done.push(block, &hash_after),
            Err(failed) => {
                file_hash = t
                    .write_again(&mut input, &mut done, &mut counted, failed)
                    .await
                    .map_err(|e| t.failed(index, e))?;
            }
        }
    }
    if let Some(unused) = first {
        // Placed with the create, but the input was empty.
        let req = AbandonBlockRequest {
            file_id,
            block_id: unused.block_id,
        };
        abandon_block(nn, &req).await;
    }
    nn.complete(&CompleteRequest {
        file_id,
        blocks: done.blocks,
        length: done.end,
        sha256: file_hash.finish(),
        sha256_state: Some(done.full_state),
    })
    .await
}

/// Where an upload's blocks go, and what it reports progress to.
struct Target<'a> {
    nn: &'a NamenodeClient,
    dn: &'a DatanodeClient,
    path: &'a DfsPath,
    file_id: FileId,
    block_size: u64,
    /// Intact replicas a block needs to count as written.
    need: usize,
    progress: &'a dyn Progress,
}

impl Target<'_> {
    /// The error that ends the upload at block `index`.
    fn failed(&self, index: usize, e: ClientError) -> ClientError {
        e.context(format!(
            "writing block {index} of {} failed (upload abandoned)",
            self.path
        ))
    }

    /// Writes the block after the committed ones (`done`) again, the
    /// sequential way, after its first attempt failed (and is abandoned
    /// here): the input is read again from that offset, the block is added
    /// to `done`, and the file digest after it is returned. `counted`: where
    /// progress has counted the input up to.
    async fn write_again<I: Input>(
        &self,
        input: &mut I,
        done: &mut Committed,
        counted: &mut u64,
        failed: Failed,
    ) -> Result<Sha256Hasher> {
        abandon(self.nn, self.file_id, failed.block_id).await;
        let at = (done.end, *counted);
        let mut source = BlockSource::new(input, at, self.block_size, self.progress);
        let mut retries = Retries::new();
        retries
            .failed(failed.block_id, failed.failure, &mut source)
            .await?;
        let mut hash = failed.hash_before;
        let block = write_block(self, None, &mut source, &mut hash, retries).await?;
        *counted = (*counted).max(source.counted_to());
        done.push(block, &hash);
        Ok(hash)
    }
}

/// The blocks committed so far, in file order.
struct Committed {
    blocks: Vec<CommittedBlock>,
    /// Upload offset where the last of them ends.
    end: u64,
    block_size: u64,
    /// The file digest's midstate after the last full block, for a later
    /// append.
    full_state: Sha256State,
}

impl Committed {
    /// Adds the next block; `hash_after` is the file digest after it.
    fn push(&mut self, block: CommittedBlock, hash_after: &Sha256Hasher) {
        self.end += block.len;
        if block.len == self.block_size {
            self.full_state = hash_after.state(self.end);
        }
        self.blocks.push(block);
    }
}

/// A block of an overlapped upload whose answer is still to come (it starts
/// where the committed blocks end).
struct Pending {
    flight: InFlight,
    /// The file digest before and after its bytes.
    hash_before: Sha256Hasher,
    hash_after: Sha256Hasher,
}

/// A first attempt at a block that failed.
struct Failed {
    failure: BlockFailure,
    block_id: BlockId,
    /// The file digest before the block's bytes.
    hash_before: Sha256Hasher,
}

impl Pending {
    /// The pipeline's answer: the block and the file digest after it.
    async fn settle(self) -> std::result::Result<(CommittedBlock, Sha256Hasher), Failed> {
        let block_id = self.flight.located.block_id;
        match self.flight.finish().await {
            Ok(block) => Ok((block, self.hash_after)),
            Err(failure) => Err(Failed {
                failure,
                block_id,
                hash_before: self.hash_before,
            }),
        }
    }
}

/// Appends `input` to the complete file at `path` (see
/// `dfs_common::proto::client::AppendRequest` for the protocol): keeps the
/// whole blocks, rewrites a short last block copy-on-write as the head of
/// the new data, and continues the file digest from the namenode's saved
/// midstate (or, for a file that has none, by hashing the kept bytes once).
/// An empty `input` changes nothing. On failure the file keeps its old
/// content.
pub(crate) async fn append<I: Input>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    mut input: I,
    progress: &dyn Progress,
) -> Result<FileStatus> {
    let first = input.read_piece(PIECE).await?;
    if first.is_empty() {
        return nn.status(path).await;
    }
    let opened = nn
        .append(&AppendRequest { path: path.clone() })
        .await
        .map_err(|e| unavailable_context(e, path))?;
    let file_id = opened.file_id;
    let mut abandon = AbandonOnDrop {
        nn: nn.clone(),
        file_id,
        armed: true,
    };
    let _lease = renew_lease_in_background(nn, file_id, opened.lease_renew_interval_ms);
    let result = append_under_lease(nn, dn, path, &opened, first, input, progress).await;
    abandon.armed = false;
    if result.is_err() {
        if let Err(e) = nn.abandon_file(file_id).await {
            log::warn!("could not abandon the failed append to {path}: {e}");
        }
    }
    result
}

async fn append_under_lease<I: Input>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    opened: &AppendResponse,
    first: Bytes,
    input: I,
    progress: &dyn Progress,
) -> Result<FileStatus> {
    let located = nn.locations(path).await?;
    if located.status.inode_id != opened.status.inode_id
        || located.status.length != opened.status.length
    {
        return Err(ClientError::Remote {
            status: 409,
            code: ErrorCode::Conflict,
            message: format!("{path} changed while an append to it was starting"),
        });
    }
    let kept = opened.kept_len;
    let resumed = opened
        .sha256_state
        .as_ref()
        .filter(|s| s.len == kept)
        .and_then(Sha256Hasher::resume);
    let hash = match resumed {
        Some(h) => h,
        None => {
            // No midstate saved (a file written before they were): hash the
            // kept bytes once; the append saves one for next time.
            let mut h = Sha256Hasher::new();
            if kept > 0 {
                let mut r =
                    crate::download::open_located(nn, dn, path, located.clone(), 0, Some(kept))?;
                while let Some(piece) = r.next().await {
                    h.update(&piece?);
                }
            }
            h
        }
    };
    let tail = if opened.last_block.is_some() && opened.status.length > kept {
        Some(crate::download::open_located(
            nn, dn, path, located, kept, None,
        )?)
    } else {
        None
    };
    let chained = Chain {
        tail,
        leftover: Bytes::new(),
        first: Some(first),
        rest: input,
    };
    let start = Resume { length: kept, hash };
    let target = Opened {
        file_id: opened.file_id,
        first: None,
        block_size: opened.block_size,
        replication: opened.replication,
    };
    write_file(nn, dn, path, target, chained, progress, start).await
}

/// An append's byte source: the old short last block (verified as it is
/// read), then the first piece already read, then the rest of the input.
/// Read once (a pipeline failure is retried from the replay buffer, as for
/// any plain stream).
struct Chain<I> {
    tail: Option<crate::FileReader>,
    leftover: Bytes,
    first: Option<Bytes>,
    rest: I,
}

impl<I: Input> Input for Chain<I> {
    fn seekable(&self) -> bool {
        false
    }
    async fn read_piece(&mut self, want: usize) -> std::io::Result<Bytes> {
        loop {
            if !self.leftover.is_empty() {
                let n = want.min(self.leftover.len());
                return Ok(self.leftover.split_to(n));
            }
            let Some(t) = self.tail.as_mut() else {
                break;
            };
            match t.next().await {
                Some(Ok(b)) => self.leftover = b,
                Some(Err(e)) => {
                    return Err(std::io::Error::other(format!(
                        "reading the last block to append to: {e}"
                    )))
                }
                None => self.tail = None,
            }
        }
        if let Some(mut f) = self.first.take() {
            if f.len() > want {
                self.leftover = f.split_off(want);
            }
            return Ok(f);
        }
        self.rest.read_piece(want).await
    }
    async fn rewind_to(&mut self, _offset: u64) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "an append's source cannot be read again",
        ))
    }
}

/// The bytes of one block, for as many attempts as it takes: each attempt
/// gets the block from its start, from the replay buffer or by seeking back.
struct BlockSource<'a, I> {
    input: &'a mut I,
    /// Offset of the block's first byte in the upload.
    start: u64,
    block_size: u64,
    /// Bytes of the block read so far at most, over all attempts (progress
    /// has counted this many).
    seen: u64,
    /// Bytes handed out in the current attempt.
    sent: u64,
    /// Pieces to hand out before reading the input again.
    queued: VecDeque<Bytes>,
    /// Plain input: every piece read so far, while they fit in
    /// [`REPLAY_LIMIT`]; `None` once they do not (or for seekable input).
    kept: Option<Vec<Bytes>>,
    progress: &'a dyn Progress,
}

impl<'a, I: Input> BlockSource<'a, I> {
    /// The block at `start`; progress was already counted up to the
    /// upload offset `counted` (a block read again after a later one was
    /// sent does not count twice).
    fn new(
        input: &'a mut I,
        (start, counted): (u64, u64),
        block_size: u64,
        progress: &'a dyn Progress,
    ) -> Self {
        let kept = (!input.seekable()).then(Vec::new);
        Self {
            input,
            start,
            block_size,
            seen: counted.saturating_sub(start).min(block_size),
            sent: 0,
            queued: VecDeque::new(),
            kept,
            progress,
        }
    }

    /// Reads the block's first piece, to be handed out again by the first
    /// attempt; false when the input is at its end (no block).
    async fn start(&mut self) -> std::io::Result<bool> {
        let first = self.next().await?;
        if first.is_empty() {
            return Ok(false);
        }
        self.sent = 0;
        self.queued.push_back(first);
        Ok(true)
    }

    /// The next piece of the block for the current attempt; empty at its end.
    async fn next(&mut self) -> std::io::Result<Bytes> {
        if self.sent >= self.block_size {
            return Ok(Bytes::new());
        }
        let piece = match self.queued.pop_front() {
            Some(p) => p,
            None => {
                let p = self
                    .input
                    .read_piece(piece_len(self.block_size, self.sent))
                    .await?;
                // A plain input only ever reads new bytes here (the replay
                // covers everything seen), so `kept` stays the block's prefix.
                if self.sent + p.len() as u64 > REPLAY_LIMIT {
                    self.kept = None;
                } else if let Some(k) = self.kept.as_mut() {
                    k.push(p.clone());
                }
                p
            }
        };
        self.sent += piece.len() as u64;
        if self.sent > self.seen {
            self.progress.advance(self.sent - self.seen);
            self.seen = self.sent;
        }
        Ok(piece)
    }

    /// The upload offset up to which progress has been counted.
    fn counted_to(&self) -> u64 {
        self.start + self.seen
    }

    /// Whether the block can be had again from its start.
    fn can_resend(&self) -> bool {
        self.input.seekable() || self.kept.is_some()
    }

    /// Goes back to the block's start for another attempt.
    async fn rewind(&mut self) -> std::io::Result<()> {
        self.sent = 0;
        self.queued.clear();
        if let Some(k) = &self.kept {
            self.queued.extend(k.iter().cloned());
            return Ok(());
        }
        self.input.rewind_to(self.start).await
    }
}

/// What kind of thing made a block attempt fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureKind {
    /// Reading the local source failed: no other pipeline helps.
    Source,
    /// The namenode gave no pipeline to try.
    NoTarget,
    /// Datanodes failed: another pipeline without them may work.
    Pipeline,
}

/// A block attempt that failed.
struct BlockFailure {
    error: ClientError,
    kind: FailureKind,
    /// Nodes to keep out of the next pipeline.
    failed: Vec<DatanodeInfo>,
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

/// After a failed attempt: try a new pipeline, or give up (and why, when
/// it is not the failure itself).
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Retry,
    Fail(Option<&'static str>),
}

/// The retry rule: only datanode failures are worth a new pipeline, only
/// when a node to leave out is known, only while the block's bytes can be had
/// again, and at most [`MAX_BLOCK_ATTEMPTS`] pipelines in all.
fn decide(attempt: usize, kind: FailureKind, named_a_node: bool, can_resend: bool) -> Decision {
    match kind {
        FailureKind::Source | FailureKind::NoTarget => Decision::Fail(None),
        FailureKind::Pipeline if !named_a_node => Decision::Fail(None),
        FailureKind::Pipeline if attempt >= MAX_BLOCK_ATTEMPTS => {
            Decision::Fail(Some("every pipeline tried failed"))
        }
        FailureKind::Pipeline if !can_resend => Decision::Fail(Some(
            "the block could not be sent again: its source cannot be re-read and more than 8 MiB of it had gone",
        )),
        FailureKind::Pipeline => Decision::Retry,
    }
}

/// The attempts at one block so far.
struct Retries {
    excluded: Vec<DatanodeInfo>,
    /// Whether every attempt so far failed because its datanode was full.
    all_full: bool,
    /// The attempt about to be made, from 1.
    attempt: usize,
}

impl Retries {
    fn new() -> Self {
        Retries {
            excluded: Vec::new(),
            all_full: true,
            attempt: 1,
        }
    }

    /// The pipeline for the next attempt, or why there is none. A pipeline
    /// of fewer datanodes than the block needs is given back and refused
    /// before anything is sent: it could never be acknowledged, and the
    /// namenode had no more to offer.
    async fn pipeline(&self, t: &Target<'_>, placed: Option<LocatedBlock>) -> Result<LocatedBlock> {
        let (nn, path, file_id) = (t.nn, t.path, t.file_id);
        let asked = match placed {
            Some(b) => Ok(b),
            None => {
                let exclude = self.excluded.iter().map(|d| d.id).collect();
                nn.add_block(&AddBlockRequest { file_id, exclude }).await
            }
        };
        let located = asked.map_err(|e| self.no_pipeline(path, e))?;
        if located.replicas.len() < t.need {
            abandon(nn, file_id, located.block_id).await;
            let e = too_few_targets(located.replicas.len(), t.need);
            return Err(self.no_pipeline(path, e));
        }
        Ok(located)
    }

    /// Why no pipeline can be had, from the namenode's answer `e`.
    fn no_pipeline(&self, path: &DfsPath, e: ClientError) -> ClientError {
        let excluded = &self.excluded;
        if excluded.is_empty() {
            unavailable_context(e, path)
        } else if self.all_full && e.code() == ErrorCode::Unavailable {
            // Every node left out was out of room: the write failed for
            // want of space, not of datanodes.
            ClientError::Remote {
                status: ErrorCode::NoSpace.http_status(),
                code: ErrorCode::NoSpace,
                message: format!(
                    "no datanode has room for the next block of {path} ({} refused it as full)",
                    addrs(excluded)
                ),
            }
        } else {
            e.context(format!(
                "no other pipeline after {} failed",
                addrs(excluded)
            ))
        }
    }

    /// After attempt `block_id` failed with `f` (and was abandoned): goes
    /// back to the block's start for another pipeline, or gives the error
    /// that ends the upload (see [`decide`]).
    async fn failed<I: Input>(
        &mut self,
        block_id: BlockId,
        f: BlockFailure,
        source: &mut BlockSource<'_, I>,
    ) -> Result<()> {
        self.all_full &= f.error.code() == ErrorCode::NoSpace;
        let decision = decide(
            self.attempt,
            f.kind,
            !f.failed.is_empty(),
            source.can_resend(),
        );
        if decision == Decision::Retry {
            if let Err(e) = source.rewind().await {
                return Err(ClientError::from(e).context(format!(
                    "{} (and the source could not be read again)",
                    f.error
                )));
            }
            log::warn!(
                "block {block_id} failed on {} ({}); trying another pipeline",
                addrs(&f.failed),
                f.error
            );
            self.excluded.extend(f.failed);
            self.attempt += 1;
            return Ok(());
        }
        let mut error = f.error;
        if !self.excluded.is_empty() {
            error = error.context(format!("after {} had failed", addrs(&self.excluded)));
        }
        if let Decision::Fail(Some(why)) = decision {
            error = error.context(why);
        }
        Err(error)
    }
}

/// Writes one block, on a new pipeline each time an attempt fails in a way
/// another pipeline may fix (see [`decide`]), going on from `retries`.
async fn write_block<I: Input>(
    t: &Target<'_>,
    placed: Option<LocatedBlock>,
    source: &mut BlockSource<'_, I>,
    file_hash: &mut Sha256Hasher,
    mut retries: Retries,
) -> Result<CommittedBlock> {
    let mut placed = placed;
    loop {
        let located = retries.pipeline(t, placed.take()).await?;
        // Fork the file digest: only the accepted attempt's bytes count.
        let mut attempt_hash = file_hash.clone();
        match stream_block(t.dn, &located, t.need, source, &mut attempt_hash).await {
            Ok(block) => {
                *file_hash = attempt_hash;
                return Ok(block);
            }
            Err(f) => {
                abandon(t.nn, t.file_id, located.block_id).await;
                retries.failed(located.block_id, f, source).await?;
            }
        }
    }
}

fn addrs(nodes: &[DatanodeInfo]) -> String {
    nodes
        .iter()
        .map(|d| d.addr.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn abandon(nn: &NamenodeClient, file_id: FileId, block_id: BlockId) {
    abandon_block(nn, &AbandonBlockRequest { file_id, block_id }).await;
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

/// One attempt: streams the block from `source` (from its start) into the
/// pipeline of `located`, hashing what is sent into `file_hash` as well,
/// then waits for the pipeline's answer.
async fn stream_block<I: Input>(
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
struct InFlight {
    put: AbortOnDrop<Result<WriteBlockResponse>>,
    located: LocatedBlock,
    /// The pipeline's first hop.
    head: DatanodeInfo,
    len: u64,
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
async fn send_block<I: Input>(
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

/// The namenode offered `found` datanodes for a block that needs `need`.
fn too_few_targets(found: usize, need: usize) -> ClientError {
    let message = match found {
        0 => "the namenode chose no datanode for the block".to_string(),
        1 => format!(
            "only 1 datanode is available for the block, and a block counts as \
             written only once {need} datanodes hold it"
        ),
        n => format!(
            "only {n} datanodes are available for the block, and a block counts \
             as written only once {need} datanodes hold it"
        ),
    };
    ClientError::Remote {
        status: ErrorCode::Unavailable.http_status(),
        code: ErrorCode::Unavailable,
        message,
    }
}

impl InFlight {
    /// The second half of an attempt: the pipeline's answer, checked.
    async fn finish(mut self) -> std::result::Result<CommittedBlock, BlockFailure> {
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

/// The block's SHA-256: the digest of the first hop (in pipeline order) that
/// made a replica durable whose chunk CRCs match the bytes sent (`sent`, a
/// [`crcs_fingerprint`] over `len` bytes). Every other hop is then held to
/// that digest by [`accept_block`]. `None` when no hop shows the bytes sent.
pub(crate) fn digest_of_sent(
    answer: &WriteBlockResponse,
    len: u64,
    sent: u32,
) -> Option<Sha256Digest> {
    if answer.len != len {
        return None;
    }
    answer
        .replicas
        .iter()
        .find(|a| a.ok && a.crcs == Some(sent))
        .and_then(|a| a.sha256)
}

/// The pipeline acceptance rule: the node ids of the hops that acknowledged a
/// durable replica with the client's digest, when there are at least `need`
/// (the write path asks for [`replicas_needed`]); otherwise a message naming
/// what failed. A hop that says ok but kept other bytes never counts.
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
            crcs: ok.then_some(7),
        }
    }

    #[test]
    fn the_digest_is_the_first_hop_that_kept_the_bytes_sent() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        let other = Sha256Digest::of(b"dat4");
        let mut wrong_bytes = ack(&t[0], true, Some(other));
        wrong_bytes.crcs = Some(8);
        let a = answer(
            4,
            d,
            vec![
                wrong_bytes.clone(),
                ack(&t[1], false, None),
                ack(&t[2], true, Some(d)),
            ],
        );
        assert_eq!(digest_of_sent(&a, 4, 7), Some(d));
        // The hop with other bytes then fails the digest check.
        assert_eq!(accept_block(&t, &a, &d, 1).unwrap(), vec![t[2].id]);
        // Nobody kept the bytes sent, or the length is not what was sent.
        let a = answer(4, d, vec![wrong_bytes, ack(&t[1], false, None)]);
        assert_eq!(digest_of_sent(&a, 4, 7), None);
        let a = answer(4, d, vec![ack(&t[0], true, Some(d))]);
        assert_eq!(digest_of_sent(&a, 5, 7), None);
        // A hop without fingerprint (or a failed one) proves nothing.
        let mut silent = ack(&t[0], true, Some(d));
        silent.crcs = None;
        assert_eq!(digest_of_sent(&answer(4, d, vec![silent]), 4, 7), None);
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
    fn two_replicas_needed_unless_replication_is_lower() {
        assert_eq!(replicas_needed(0), 1);
        assert_eq!(replicas_needed(1), 1);
        assert_eq!(replicas_needed(2), 2);
        assert_eq!(replicas_needed(3), 2);
        assert_eq!(replicas_needed(10), 2);
    }

    #[test]
    fn one_intact_replica_of_three_is_not_enough() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        // The second hop died: only the first one's replica is left, which
        // one more lost datanode would take with it.
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
        let e = accept_block(&t, &a, &d, replicas_needed(3)).unwrap_err();
        assert!(e.contains("only 1 of 3") && e.contains("need 2"), "{e}");
        // The dead hop is left out of the next pipeline.
        assert_eq!(nodes_to_exclude(&t, &a, &d), vec![t[1].clone()]);
        // With replication 1, the first hop's replica is the block.
        assert_eq!(
            accept_block(&t, &a, &d, replicas_needed(1)).unwrap(),
            vec![t[0].id]
        );
        // No hop intact: refused, and the first hop is the one to leave out.
        let bad = Sha256Digest::of(b"dat4");
        let a = answer(4, d, vec![ack(&t[0], true, Some(bad))]);
        assert!(accept_block(&t, &a, &d, replicas_needed(1)).is_err());
        assert_eq!(nodes_to_exclude(&t, &a, &d), vec![t[0].clone()]);
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
            accept_block(&t, &a, &d, replicas_needed(3)).unwrap(),
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
        let e = accept_block(&t, &a, &d, 2).unwrap_err();
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
        let e = accept_block(&t, &a, &d, replicas_needed(2)).unwrap_err();
        assert!(e.contains("instead of"), "{e}");
        assert_eq!(
            accept_block(&t, &a, &d, replicas_needed(1)).unwrap(),
            vec![t[0].id]
        );
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
            accept_block(&t, &a, &d, replicas_needed(1)).unwrap(),
            vec![t[0].id]
        );
        let a = answer(1, d, vec![ack(&t[0], false, None)]);
        assert!(accept_block(&t, &a, &d, replicas_needed(1)).is_err());
        // A lone target can never make the two replicas of replication 3.
        let a = answer(1, d, vec![ack(&t[0], true, Some(d))]);
        assert!(accept_block(&t, &a, &d, replicas_needed(3)).is_err());
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

    #[test]
    fn retry_rule() {
        use FailureKind::*;
        assert_eq!(decide(1, Pipeline, true, true), Decision::Retry);
        assert_eq!(
            decide(MAX_BLOCK_ATTEMPTS - 1, Pipeline, true, true),
            Decision::Retry
        );
        assert!(matches!(
            decide(MAX_BLOCK_ATTEMPTS, Pipeline, true, true),
            Decision::Fail(Some(_))
        ));
        // The bytes are gone (a plain stream past the replay buffer).
        assert!(matches!(
            decide(1, Pipeline, true, false),
            Decision::Fail(Some(why)) if why.contains("cannot be re-read")
        ));
        // No node to leave out: the same pipeline would fail the same way.
        assert_eq!(decide(1, Pipeline, false, true), Decision::Fail(None));
        // A local read error or no pipeline at all: nothing to retry.
        assert_eq!(decide(1, Source, true, true), Decision::Fail(None));
        assert_eq!(decide(1, NoTarget, false, true), Decision::Fail(None));
    }

    struct Count(std::sync::atomic::AtomicU64);
    impl Progress for Count {
        fn advance(&self, bytes: u64) {
            self.0
                .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Reads two pieces of a block, rewinds, reads the whole block: what
    /// the second attempt saw, and the bytes progress counted.
    async fn read_twice<I: Input>(input: &mut I, block: u64) -> (Vec<u8>, u64) {
        let count = Count(Default::default());
        let mut src = BlockSource::new(input, (0, 0), block, &count);
        assert!(src.start().await.unwrap());
        assert_eq!(src.next().await.unwrap().len(), PIECE);
        assert_eq!(src.next().await.unwrap().len(), PIECE);
        assert!(src.can_resend());
        src.rewind().await.unwrap();
        let mut again = Vec::new();
        loop {
            let p = src.next().await.unwrap();
            if p.is_empty() {
                break;
            }
            again.extend_from_slice(&p);
        }
        (again, count.0.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// A plain source is replayed from memory while the block is small; a
    /// seekable one seeks back. Either way each byte is counted once and
    /// every attempt gets the block from its start.
    #[tokio::test]
    async fn block_source_rewinds() {
        let data: Vec<u8> = (0..3 * PIECE + 10).map(|i| (i % 251) as u8).collect();
        let block = (2 * PIECE + 5) as u64;
        let want = (data[..block as usize].to_vec(), block);
        assert_eq!(read_twice(&mut Plain(&data[..]), block).await, want);
        // Seekable, starting mid-file: the block starts where the reader stood.
        let mut cursor = std::io::Cursor::new(data.clone());
        cursor.set_position(3);
        let mut seek = Seekable::new(cursor).await.unwrap();
        let want = (data[3..3 + block as usize].to_vec(), block);
        assert_eq!(read_twice(&mut seek, block).await, want);
    }

    /// A plain source past [`REPLAY_LIMIT`] cannot be sent again.
    #[tokio::test]
    async fn plain_source_forgets_big_blocks() {
        let data = vec![1u8; REPLAY_LIMIT as usize + 2 * PIECE];
        let mut input = Plain(&data[..]);
        let mut src = BlockSource::new(&mut input, (0, 0), 64 << 20, &crate::NoProgress);
        assert!(src.start().await.unwrap());
        while src.sent <= REPLAY_LIMIT {
            assert!(src.can_resend());
            src.next().await.unwrap();
        }
        assert!(!src.can_resend());
    }

    // --- against a fake cluster ----------------------------------------

    use crate::fake_cluster::{Behaviour, FakeCluster, Options};
    use crate::DfsClient;
    use Behaviour::{DieAfter, Good, Refuse};

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i as u64).wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    fn path() -> DfsPath {
        DfsPath::parse("/f").unwrap()
    }

    fn replication(r: u16) -> Options {
        Options {
            replication: r,
            ..Options::default()
        }
    }

    /// Uploads `d` from a seekable source or a plain stream.
    async fn put(c: &FakeCluster, d: &[u8], seekable: bool) -> Result<FileStatus> {
        let client = DfsClient::new(&c.url).unwrap();
        let opts = UploadOptions::default();
        if seekable {
            let file = std::io::Cursor::new(d.to_vec());
            client
                .upload_seekable(&path(), file, &opts, &crate::NoProgress)
                .await
        } else {
            client.upload(&path(), d, &opts, &crate::NoProgress).await
        }
    }

    /// Checks what `complete` was told (each block kept by exactly the
    /// datanodes `good`, in pipeline order) and that each of them stored
    /// every block's bytes.
    fn assert_written(c: &FakeCluster, good: &[usize], data: &[u8], block_size: usize) {
        let calls = c.calls.lock().unwrap();
        let done = calls.complete.as_ref().expect("complete was called");
        assert_eq!(done.length, data.len() as u64);
        assert_eq!(done.sha256, Sha256Digest::of(data));
        assert_eq!(done.blocks.len(), data.len().div_ceil(block_size));
        let want: Vec<NodeId> = good.iter().map(|&g| c.nodes[g].id).collect();
        for (i, b) in done.blocks.iter().enumerate() {
            let part = &data[i * block_size..((i + 1) * block_size).min(data.len())];
            assert_eq!(b.sha256, Sha256Digest::of(part), "block {i}");
            assert_eq!(b.replicas, want, "block {i}");
            for &g in good {
                let stored = c.stored[g].lock().unwrap();
                let (_, bytes) = stored.iter().find(|(id, _)| *id == b.block_id).unwrap();
                assert_eq!(&bytes[..], part, "block {i} on node {g}");
            }
        }
        assert_eq!(calls.abandon_file, 0);
    }

    /// A first datanode that refuses connections, and a small-block file
    /// from a plain stream: each block is replayed from memory onto a
    /// pipeline without the dead node.
    #[tokio::test]
    async fn dead_first_hop_plain_stream() {
        let bs = 1 << 20;
        let c = FakeCluster::start(bs as u64, &[Refuse, Good, Good], Options::default()).await;
        let client = DfsClient::new(&c.url).unwrap();
        let d = data(2 * bs + 1234);
        let count = Count(Default::default());
        let st = client
            .upload(&path(), &d[..], &UploadOptions::default(), &count)
            .await
            .unwrap();
        assert_eq!(st.length, d.len() as u64);
        assert_eq!(
            count.0.load(std::sync::atomic::Ordering::Relaxed),
            d.len() as u64
        );
        assert_written(&c, &[1, 2], &d, bs);
        let calls = c.calls.lock().unwrap();
        // Per block: a pipeline with the dead node, then one without it
        // (the first block's first pipeline came with the create).
        assert_eq!(calls.first_blocks, 1);
        assert_eq!(calls.add_block.len(), 5);
        assert_eq!(calls.abandon_block, 3);
        assert_eq!(calls.add_block[0].exclude, vec![c.nodes[0].id]);
    }

    /// Replication 3, and the second hop of every pipeline is dead: the
    /// first hop alone holds the block, which is not enough. Each block is
    /// abandoned and written again on a pipeline without the dead node, and
    /// `complete` names the three datanodes of that pipeline, whatever the
    /// source.
    #[tokio::test]
    async fn one_failed_hop_of_three_rewrites_the_block() {
        let bs = 1 << 20;
        let d = data(2 * bs + 77);
        for seekable in [false, true] {
            let c = FakeCluster::start(bs as u64, &[Good, Refuse, Good, Good], Options::default())
                .await;
            let st = put(&c, &d, seekable).await.unwrap();
            assert_eq!(st.length, d.len() as u64);
            assert_written(&c, &[0, 2, 3], &d, bs);
            let calls = c.calls.lock().unwrap();
            // Every block went out once with the dead hop and was given back.
            assert!(calls.abandon_block >= 3, "seekable: {seekable}");
            let dead = c.nodes[1].id;
            assert!(calls.add_block.iter().any(|a| a.exclude == vec![dead]));
            if !seekable {
                assert_eq!(
                    (calls.add_block.len(), calls.abandon_block),
                    (5, 3),
                    "one retry per block"
                );
            }
        }
    }

    /// Replication 3 and a dead last hop: the two hops before it hold the
    /// block, which is enough. Nothing is written again, and `complete`
    /// names only those two.
    #[tokio::test]
    async fn two_intact_hops_of_three_keep_the_block() {
        let bs = 1 << 20;
        let d = data(bs + 5);
        let c = FakeCluster::start(bs as u64, &[Good, Good, Refuse], Options::default()).await;
        put(&c, &d, false).await.unwrap();
        assert_written(&c, &[0, 1], &d, bs);
        let calls = c.calls.lock().unwrap();
        assert_eq!(
            (calls.add_block.len(), calls.abandon_block),
            (1, 0),
            "no retry"
        );
    }

    /// Replication 1: one hop holding the block is enough.
    #[tokio::test]
    async fn replication_one_needs_one_hop() {
        let bs = 1 << 20;
        let d = data(bs + 5);
        let c = FakeCluster::start(bs as u64, &[Good, Refuse], replication(1)).await;
        put(&c, &d, false).await.unwrap();
        assert_written(&c, &[0], &d, bs);
        {
            let calls = c.calls.lock().unwrap();
            assert_eq!((calls.add_block.len(), calls.abandon_block), (1, 0));
        }
        // And a pipeline that lost its head goes on with one other node.
        let c = FakeCluster::start(bs as u64, &[Refuse, Good], replication(1)).await;
        put(&c, &d, true).await.unwrap();
        assert_written(&c, &[1], &d, bs);
    }

    /// Replication 3 with one datanode left alive: every pipeline that the
    /// namenode can still offer after the failed nodes are excluded is too
    /// short, and the upload fails cleanly (abandoned, never completed)
    /// saying why, from any source.
    #[tokio::test]
    async fn one_live_datanode_cannot_take_replication_three() {
        let bs = 1 << 20;
        let d = data(bs + 5);
        for seekable in [false, true] {
            let c =
                FakeCluster::start(bs as u64, &[Good, Refuse, Refuse], Options::default()).await;
            let msg = put(&c, &d, seekable).await.unwrap_err().to_string();
            assert!(msg.contains("only 1 datanode is available"), "{msg}");
            assert!(msg.contains("once 2 datanodes hold it"), "{msg}");
            assert!(msg.contains(&c.nodes[1].addr), "{msg}");
            assert!(msg.contains(&c.nodes[2].addr), "{msg}");
            assert!(msg.contains("upload abandoned"), "{msg}");
            let calls = c.calls.lock().unwrap();
            assert!(calls.complete.is_none());
            assert_eq!(calls.abandon_file, 1);
        }
        // A single datanode from the start: refused before a byte is sent.
        let c = FakeCluster::start(bs as u64, &[Good], Options::default()).await;
        let msg = put(&c, &d, false).await.unwrap_err().to_string();
        assert!(msg.contains("only 1 datanode is available"), "{msg}");
        assert!(c.stored[0].lock().unwrap().is_empty());
        let calls = c.calls.lock().unwrap();
        assert!(calls.complete.is_none());
        assert_eq!(calls.abandon_file, 1);
    }

    /// A plain stream whose block is past the replay buffer when a later hop
    /// turns out dead: the block cannot be sent again, and one replica is
    /// not enough, so the upload fails cleanly; a seekable source rewrites it.
    #[tokio::test]
    async fn failed_hop_past_the_replay_buffer() {
        let bs = REPLAY_LIMIT as usize + (2 << 20);
        let d = data(bs + 10);
        let c = FakeCluster::start(bs as u64, &[Good, Refuse, Good], replication(2)).await;
        let msg = put(&c, &d, false).await.unwrap_err().to_string();
        assert!(msg.contains("cannot be re-read"), "{msg}");
        assert!(msg.contains(&c.nodes[1].addr), "{msg}");
        {
            let calls = c.calls.lock().unwrap();
            assert!(calls.complete.is_none());
            assert_eq!(calls.abandon_file, 1);
        }
        let c = FakeCluster::start(bs as u64, &[Good, Refuse, Good], replication(2)).await;
        put(&c, &d, true).await.unwrap();
        assert_written(&c, &[0, 2], &d, bs);
    }

    /// An empty input gives back the block placed with the create and
    /// completes a file with no blocks.
    #[tokio::test]
    async fn empty_input_gives_back_its_first_block() {
        let c = FakeCluster::start(1 << 20, &[Good], Options::default()).await;
        let client = DfsClient::new(&c.url).unwrap();
        let st = client
            .upload(
                &path(),
                &b""[..],
                &UploadOptions::default(),
                &crate::NoProgress,
            )
            .await
            .unwrap();
        assert_eq!(st.length, 0);
        let calls = c.calls.lock().unwrap();
        assert_eq!((calls.first_blocks, calls.abandon_block), (1, 1));
        assert!(calls.add_block.is_empty());
        assert!(calls.complete.as_ref().unwrap().blocks.is_empty());
    }

    /// A first datanode that dies after 9 MiB of a 12 MiB block: a seekable
    /// source reads the block again; a plain stream cannot, and the upload
    /// fails cleanly (abandoned, not completed).
    #[tokio::test]
    async fn first_hop_dies_mid_block() {
        let bs = 12 << 20;
        let d = data(bs + (3 << 20));
        let nodes = [DieAfter(9 << 20), Good, Good];

        let c = FakeCluster::start(bs as u64, &nodes, Options::default()).await;
        let client = DfsClient::new(&c.url).unwrap();
        let count = Count(Default::default());
        let file = std::io::Cursor::new(d.clone());
        client
            .upload_seekable(&path(), file, &UploadOptions::default(), &count)
            .await
            .unwrap();
        assert_eq!(
            count.0.load(std::sync::atomic::Ordering::Relaxed),
            d.len() as u64
        );
        assert_written(&c, &[1, 2], &d, bs);

        let c = FakeCluster::start(bs as u64, &nodes, Options::default()).await;
        let e = put(&c, &d, false).await.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cannot be re-read"), "{msg}");
        assert!(msg.contains(&c.nodes[0].addr), "{msg}");
        // The abandon is awaited before the error is returned.
        let calls = c.calls.lock().unwrap();
        assert!(calls.complete.is_none());
        assert_eq!(calls.abandon_file, 1);
        assert_eq!(calls.abandon_block, 1);
    }

    /// A first datanode that takes every block whole, then hangs up
    /// without an answer: with a seekable source the failure shows only
    /// after the next block went out (blocks overlap), so that block is
    /// abandoned too and both are written again; with a plain stream each
    /// block is replayed. Either way every block lands on the good nodes,
    /// progress counts each byte once, and the digest midstate for appends
    /// covers exactly the full blocks.
    #[tokio::test]
    async fn first_hop_hangs_up_after_each_block() {
        let bs = 1 << 20;
        let d = data(3 * bs + bs / 2);
        let hang_up = DieAfter(usize::MAX);
        for seekable in [true, false] {
            let c = FakeCluster::start(bs as u64, &[hang_up, Good, Good], Options::default()).await;
            let client = DfsClient::new(&c.url).unwrap();
            let count = Count(Default::default());
            let opts = UploadOptions::default();
            if seekable {
                let file = std::io::Cursor::new(d.clone());
                client.upload_seekable(&path(), file, &opts, &count).await
            } else {
                client.upload(&path(), &d[..], &opts, &count).await
            }
            .unwrap();
            assert_eq!(
                count.0.load(std::sync::atomic::Ordering::Relaxed),
                d.len() as u64,
                "seekable: {seekable}"
            );
            assert_written(&c, &[1, 2], &d, bs);
            let calls = c.calls.lock().unwrap();
            let mut full = Sha256Hasher::new();
            full.update(&d[..3 * bs]);
            let done = calls.complete.as_ref().unwrap();
            assert!(done.sha256_state == Some(full.state(3 * bs as u64)));
            assert_eq!(calls.abandon_file, 0);
            // Each block failed once on the node that hangs up. Overlapped,
            // the block sent after a failed one is given back as well (3
            // times: the last block has none after it), and asked for again.
            let (abandoned, asked) = if seekable { (4 + 3, 10) } else { (4, 7) };
            assert_eq!(
                (calls.abandon_block, calls.add_block.len()),
                (abandoned, asked),
                "seekable: {seekable}"
            );
        }
    }

    /// Every datanode dead: the attempts stop when the namenode has no
    /// pipeline left, and the error names the failed nodes.
    #[tokio::test]
    async fn no_datanode_left() {
        let c = FakeCluster::start(1 << 20, &[Refuse, Refuse], replication(1)).await;
        let msg = put(&c, b"hello", false).await.unwrap_err().to_string();
        assert!(msg.contains("no other pipeline"), "{msg}");
        assert!(msg.contains(&c.nodes[1].addr), "{msg}");
        let calls = c.calls.lock().unwrap();
        assert_eq!((calls.first_blocks, calls.add_block.len()), (1, 2));
        assert_eq!(calls.abandon_file, 1);
    }

    /// Safe mode: the namenode's 503 is the error, said plainly, once.
    #[tokio::test]
    async fn safe_mode_refusal_is_clear() {
        let opts = Options {
            refuse_create: Some((
                ErrorCode::Unavailable,
                "the namenode is in safe mode (3 of 9 blocks reported)".into(),
            )),
            ..Options::default()
        };
        let c = FakeCluster::start(1 << 20, &[Good], opts).await;
        let e = put(&c, b"x", false).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unavailable);
        assert_eq!(
            e.to_string(),
            "cannot write /f now: the namenode is in safe mode (3 of 9 blocks reported)"
        );
        assert!(c.calls.lock().unwrap().add_block.is_empty());
    }
}
