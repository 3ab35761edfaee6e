//! What a read of `[offset, offset + length)` needs, pure: the blocks it
//! touches (after checking that the namenode's block list covers the file
//! without gap or overlap), the chunk-aligned range to fetch of a block,
//! and the part of a verified chunk to hand on.
//!
//! Invariants:
//! - A range starting past the end of the file is `ClientError::Invalid`;
//!   one running past it ends at the end.
//! - An aligned range starts on a chunk boundary and ends on one or at the
//!   block's end, and covers the bytes asked for.
use crate::error::{ClientError, Result};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::LocatedBlock;
use std::collections::VecDeque;

/// Checks the block list and the range; returns the range's end and the
/// blocks it touches.
pub(super) fn plan_read(
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
}
