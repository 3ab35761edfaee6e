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
//! copy ([`verify::ChunkVerifier`]).
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
//!
//! # Layout
//! One job per module; each depends only on the ones listed before it.
//! - [`plan`]: which blocks and which chunk-aligned bytes a range needs
//!   (pure).
//! - [`verify`]: whether a replica's bytes are the block's: its checksums
//!   against the namenode's record, each chunk's CRC32C, the whole block's
//!   SHA-256.
//! - [`prefetch`]: the next block's first replica, opened ahead.
//! - [`read`]: the read of a range, block after block, replica after
//!   replica (choice, failover, reports of bad replicas).
mod plan;
mod prefetch;
mod read;
mod verify;

use self::plan::plan_read;
use self::read::ReadState;
use crate::datanode::DatanodeClient;
use crate::error::{ClientError, Result};
use crate::namenode::NamenodeClient;
use bytes::Bytes;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{FileLocations, FileStatus, FileType};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A verified byte stream of (part of) a file. Every byte it yields has been
/// checked against its chunk checksum.
pub struct FileReader {
    pub status: FileStatus,
    /// How many bytes this reader yields in all.
    pub len: u64,
    stream: BoxStream<'static, Result<Bytes>>,
}

impl futures_util::Stream for FileReader {
    type Item = Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

impl FileReader {
    fn new(status: FileStatus, len: u64, stream: BoxStream<'static, Result<Bytes>>) -> Self {
        Self {
            status,
            len,
            stream,
        }
    }

    /// Reads the first verified piece now, and gives back a reader that
    /// yields it and then the rest. Relays that answer over HTTP call this
    /// before sending a status line, so a file whose first block cannot be
    /// read gets a proper error answer rather than a 200 with a cut body.
    pub async fn primed(mut self) -> Result<FileReader> {
        use futures_util::StreamExt;
        let first = match self.stream.next().await {
            Some(Ok(piece)) => Some(piece),
            Some(Err(e)) => return Err(e),
            None => None,
        };
        let stream = futures_util::stream::iter(first.map(Ok))
            .chain(self.stream)
            .boxed();
        Ok(FileReader { stream, ..self })
    }
}

/// Opens `path` for reading `[offset, offset + length)` (to the end when
/// `length` is `None`).
pub(crate) async fn open(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    offset: u64,
    length: Option<u64>,
) -> Result<FileReader> {
    let mut located = nn.locations(path).await?;
    // A block no replica of which is known yet: just after a namenode
    // failover (the new leader still taking the datanodes' reports of
    // blocks written a moment before) or a namenode start. Ask again a few
    // times, as HDFS's client does, before reading fails on it.
    for wait in NO_REPLICA_RETRIES {
        let none_known = located
            .blocks
            .iter()
            .any(|b| b.len > 0 && b.replicas.is_empty());
        if !none_known {
            break;
        }
        log::debug!("{path}: a block has no known replica yet; asking again in {wait:?}");
        tokio::time::sleep(wait).await;
        located = nn.locations(path).await?;
    }
    open_located(nn, dn, path, located, offset, length)
}

/// The waits before asking the namenode again for locations that name no
/// replica of a block (about 4 s in all).
const NO_REPLICA_RETRIES: [std::time::Duration; 4] = [
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(500),
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(2),
];

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
    let state = ReadState::new(nn, dn, path, blocks, offset, end);
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
