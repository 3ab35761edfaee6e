//! Where an upload's bytes come from: the byte sources ([`Input`]: a plain
//! stream, a seekable file, an append's [`Chain`]) and [`BlockSource`], the
//! bytes of one block for as many attempts as it takes.
//!
//! It does not send anything nor decide whether to try again (that is
//! `attempt` and `retry`); it only hands out a block's bytes, from its start
//! each time it is asked to rewind.
//!
//! Invariants:
//! - Pieces are at most [`PIECE`] bytes and never cross a block boundary.
//! - Every attempt at a block gets the same offsets of the source: from
//!   the replay buffer for a plain stream (while the block read so far fits
//!   in [`REPLAY_LIMIT`]), by seeking back for a seekable one. A plain
//!   stream past that cannot be read again, and says so
//!   ([`BlockSource::can_resend`]).
//! - Progress counts each source byte once, whatever the attempts.
use crate::progress::Progress;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::io::SeekFrom;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};

/// Bytes read from the source at a time and sent as one body piece.
pub(super) const PIECE: usize = 512 * 1024;
/// A plain stream's block is kept for a second attempt while it is at most
/// this long: long enough to cover what is in flight when a dead first hop
/// is noticed, and all of a small file's block.
pub(crate) const REPLAY_LIMIT: u64 = 8 * 1024 * 1024;

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

/// An append's byte source: the old short last block (verified as it is
/// read), then the first piece already read, then the rest of the input.
/// Read once (a pipeline failure is retried from the replay buffer, as for
/// any plain stream).
pub(super) struct Chain<I> {
    pub(super) tail: Option<crate::download::FileReader>,
    pub(super) leftover: Bytes,
    pub(super) first: Option<Bytes>,
    pub(super) rest: I,
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
pub(super) struct BlockSource<'a, I> {
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
    pub(super) fn new(
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
    pub(super) async fn start(&mut self) -> std::io::Result<bool> {
        let first = self.next().await?;
        if first.is_empty() {
            return Ok(false);
        }
        self.sent = 0;
        self.queued.push_back(first);
        Ok(true)
    }

    /// The next piece of the block for the current attempt; empty at its end.
    pub(super) async fn next(&mut self) -> std::io::Result<Bytes> {
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
    pub(super) fn counted_to(&self) -> u64 {
        self.start + self.seen
    }

    /// Whether the block can be had again from its start.
    pub(super) fn can_resend(&self) -> bool {
        self.input.seekable() || self.kept.is_some()
    }

    /// Goes back to the block's start for another attempt.
    pub(super) async fn rewind(&mut self) -> std::io::Result<()> {
        self.sent = 0;
        self.queued.clear();
        if let Some(k) = &self.kept {
            self.queued.extend(k.iter().cloned());
            return Ok(());
        }
        self.input.rewind_to(self.start).await
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

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

    /// A progress sink that adds up what it is told.
    pub(in crate::upload) struct Count(pub(in crate::upload) std::sync::atomic::AtomicU64);
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
}
