//! Whether a replica's bytes are the block's: its checksums must agree with
//! the namenode's record ([`meta_problem`]), each chunk with its CRC32C as
//! the bytes arrive ([`ChunkVerifier`], in place, no copy), and a block
//! read whole with its SHA-256 ([`BlockHash`], on a thread of its own).
//!
//! It does not fetch anything nor choose replicas (that is `read`); a
//! check that fails is a [`ReplicaFailure`], saying whether the replica's
//! data is bad (worth reporting) or it failed to send it.
//!
//! Invariants:
//! - Nothing of a piece is handed on when any chunk it completes fails.
//! - Verified bytes come out in order, with their offsets in the block.
use bytes::Bytes;
use dfs_common::checksum::{BlockChecksums, Sha256Digest, Sha256Hasher};
use dfs_common::proto::client::LocatedBlock;

/// Why a replica's checksums cannot be trusted for `block`, if they cannot.
pub(super) fn meta_problem(meta: &BlockChecksums, block: &LocatedBlock) -> Option<String> {
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

pub(super) struct ReplicaFailure {
    pub(super) reason: String,
    /// The replica sent bytes that do not match (worth reporting), as
    /// opposed to failing to send them.
    pub(super) bad_data: bool,
}

impl ReplicaFailure {
    pub(super) fn io(reason: String) -> Self {
        Self {
            reason,
            bad_data: false,
        }
    }
    pub(super) fn data(reason: String) -> Self {
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
pub(super) struct ChunkVerifier {
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
    pub(super) fn new(meta: BlockChecksums, first_chunk: usize) -> Self {
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
    pub(super) fn feed(
        &mut self,
        mut piece: Bytes,
    ) -> std::result::Result<Vec<(u64, Bytes)>, ReplicaFailure> {
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

/// The running SHA-256 of a block that is read whole (carried over to the
/// next replica when one fails part-way, so the digest still covers every
/// byte handed on). The hashing runs on a thread of its own, beside the
/// receiving, checking and writing (one core of SHA-256 is the download's
/// ceiling); only the block's last piece waits for its verdict.
pub(super) struct BlockHash {
    /// Verified pieces to the hashing thread, in batches (bounded: it keeps
    /// up or slows the reader down).
    tx: tokio::sync::mpsc::Sender<Vec<Bytes>>,
    digest: tokio::sync::oneshot::Receiver<Sha256Digest>,
    /// Pieces not sent yet: handing over one piece at a time costs a thread
    /// wake-up per HTTP body piece (tens of KiB).
    batch: Vec<Bytes>,
    batched: usize,
    /// Bytes of the block hashed so far (all of them handed on, or about to be).
    pub(super) len: u64,
}

/// Batches queued for the hashing thread.
const HASH_QUEUE: usize = 4;
/// Bytes per batch.
const HASH_BATCH: usize = 512 * 1024;

impl BlockHash {
    pub(super) fn new() -> Self {
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

    pub(super) async fn update(&mut self, piece: Bytes) -> std::result::Result<(), ReplicaFailure> {
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

    pub(super) async fn finish(mut self) -> Option<Sha256Digest> {
        if !self.batch.is_empty() {
            self.send_batch().await.ok()?;
        }
        drop(self.tx);
        self.digest.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: u64 = 64 * 1024;

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
