//! A file's blocks, in order: each block from the input goes out (through
//! `retry`), and once all are written, `complete` names them with the
//! whole file's SHA-256.
//!
//! From a seekable source, blocks overlap: block k+1 is sent while block
//! k's pipeline drains and syncs, and k's answer is checked once k+1 is out.
//! When k failed, k+1 is abandoned as well, and both are written again from
//! the source, k the sequential way ([`write_again`]). A plain stream waits
//! for each block's answer.
//!
//! Invariants:
//! - A source that ends on a block boundary (or is empty) leaves no empty
//!   block; a block placed with the create and not used is given back.
//! - The file digest covers exactly the bytes of the accepted attempts, so
//!   it always matches the blocks `complete` names; the midstate after the
//!   last full block is kept for a later append.
//! - Progress counts each source byte once, whatever the retries.
use super::acks::replicas_needed;
use super::attempt::{send_block, BlockFailure, InFlight};
use super::input::{BlockSource, Input};
use super::lease::{abandon, abandon_block};
use super::retry::{write_block, Retries, Target};
use crate::datanode::DatanodeClient;
use crate::error::{ClientError, Result};
use crate::namenode::NamenodeClient;
use crate::progress::Progress;
use dfs_common::checksum::{Sha256Hasher, Sha256State};
use dfs_common::ids::{BlockId, FileId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AbandonBlockRequest, CommittedBlock, CompleteRequest, FileStatus, LocatedBlock,
};

/// Where a write starts: after `length` bytes that stay as they are (0 for
/// a new file; the kept whole blocks of an append), whose digest midstate
/// is `hash`.
pub(super) struct Resume {
    pub(super) length: u64,
    pub(super) hash: Sha256Hasher,
}

/// What the namenode fixed for a file opened for writing.
pub(super) struct Opened {
    pub(super) file_id: FileId,
    /// The first block's pipeline, when it was placed with the create.
    pub(super) first: Option<LocatedBlock>,
    pub(super) block_size: u64,
    /// The file's replication (it sets [`replicas_needed`]).
    pub(super) replication: u16,
    /// Given to the file with its `complete`.
    pub(super) xattrs: Option<super::XattrSource>,
}

pub(super) async fn write_file<I: Input>(
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
        xattrs,
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
                    file_hash = write_again(&t, &mut input, &mut done, &mut counted, failed)
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
                file_hash = write_again(&t, &mut input, &mut done, &mut counted, failed)
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
                file_hash = write_again(&t, &mut input, &mut done, &mut counted, failed)
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
    let sha256 = file_hash.finish();
    nn.complete(&CompleteRequest {
        file_id,
        blocks: done.blocks,
        length: done.end,
        sha256,
        sha256_state: Some(done.full_state),
        xattrs: xattrs.map(|x| (x.0)(&sha256)),
    })
    .await
}

/// Writes the block after the committed ones (`done`) again, the
/// sequential way, after its first attempt failed (and is abandoned
/// here): the input is read again from that offset, the block is added
/// to `done`, and the file digest after it is returned. `counted`: where
/// progress has counted the input up to.
async fn write_again<I: Input>(
    t: &Target<'_>,
    input: &mut I,
    done: &mut Committed,
    counted: &mut u64,
    failed: Failed,
) -> Result<Sha256Hasher> {
    abandon(t.nn, t.file_id, failed.block_id).await;
    let at = (done.end, *counted);
    let mut source = BlockSource::new(input, at, t.block_size, t.progress);
    let mut retries = Retries::new();
    retries
        .failed(failed.block_id, failed.failure, &mut source)
        .await?;
    let mut hash = failed.hash_before;
    let block = write_block(t, None, &mut source, &mut hash, retries).await?;
    *counted = (*counted).max(source.counted_to());
    done.push(block, &hash);
    Ok(hash)
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
