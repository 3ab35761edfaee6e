//! The next block, opened ahead: while the current block's last
//! [`PREFETCH_AT`] bytes arrive, the next block's first replica has its
//! checksums fetched and its GET sent in the background, so that the
//! datanode reads ahead and no round trip separates two blocks.
//!
//! It reports nothing: a prefetch that fails is simply not used, and the
//! usual path in `read` meets the problem again and reports it.
//!
//! Invariants:
//! - The opened body is not read until the block before is done, so TCP
//!   backpressure bounds what it holds.
//! - A prefetch dropped (the reader dropped, or it went elsewhere) leaves
//!   no GET open.
use super::plan::aligned_range;
use super::verify::meta_problem;
use crate::datanode::DatanodeClient;
use crate::error::Result;
use crate::task::AbortOnDrop;
use bytes::Bytes;
use dfs_common::checksum::BlockChecksums;
use dfs_common::proto::client::LocatedBlock;
use futures_util::stream::BoxStream;

/// How close to the end of a block the next one is opened: enough to cover
/// two round trips and a first disk read at full speed, little enough that
/// the opened body does not idle long behind a slow consumer.
pub(super) const PREFETCH_AT: u64 = 8 * 1024 * 1024;

/// The next block's first replica, opened while the current block's last
/// [`PREFETCH_AT`] bytes arrive: its checksums are fetched and its GET sent,
/// so that the datanode reads ahead and no round trip separates two blocks.
/// Its body is not read until the block before is done, so TCP backpressure
/// bounds what it holds (the socket buffers and the datanode's read queue).
pub(super) struct Prefetch {
    block: LocatedBlock,
    want_end: u64,
    /// Aborted when dropped: a reader dropped or gone elsewhere does not
    /// leave a GET open.
    task: AbortOnDrop<Option<Opened>>,
}

impl Prefetch {
    /// Opens `[0, want_end)` of `block`, the range that ends at file
    /// offset `end`, on its first replica, in the background; `None` when
    /// the block has no replica.
    pub(super) fn start(dn: &DatanodeClient, block: &LocatedBlock, end: u64) -> Option<Prefetch> {
        let replica = block.replicas.first()?;
        let block = block.clone();
        let want_end = end.min(block.offset + block.len) - block.offset;
        let (dn, addr) = (dn.clone(), replica.addr.clone());
        let task = AbortOnDrop(tokio::spawn({
            let block = block.clone();
            async move { open_ahead(&dn, &addr, &block, want_end).await }
        }));
        Some(Prefetch {
            block,
            want_end,
            task,
        })
    }

    /// The opened replica, if it was opened for `[0, want_end)` of this
    /// very `block` and nothing went wrong.
    pub(super) async fn take(mut self, block: &LocatedBlock, want_end: u64) -> Option<Opened> {
        if self.block.block_id != block.block_id || self.want_end != want_end {
            return None;
        }
        (&mut self.task.0).await.ok().flatten()
    }
}

/// A replica with its checksums checked and its body on the way.
pub(super) struct Opened {
    pub(super) meta: BlockChecksums,
    pub(super) offset: u64,
    pub(super) length: u64,
    pub(super) body: BoxStream<'static, Result<Bytes>>,
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
