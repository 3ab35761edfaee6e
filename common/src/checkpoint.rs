//! The checkpoint file: a point-in-time copy of the namenode's metadata
//! (`dfs backup`, `GET /api/v1/checkpoint`, the namenode's own checkpoints,
//! `namenode --restore`). This module is the format only, over `Read` and
//! `Write`; the namenode fills it from its store and the CLI checks what it
//! downloads with the same reader.
//!
//! Layout (integers little-endian):
//!
//! | bytes | what |
//! | ----- | ---- |
//! | 8     | magic `DFSCKPT\n` |
//! | 4     | format version (1) |
//! | 16    | cluster id |
//! | 8     | created, ms since the Unix epoch |
//! | …     | records: tag `1` (put) key-len u32, key, value-len u32, value; tag `2` (delete) key-len u32, key |
//! | 1 + 8 | tag `0` (end), number of records u64 |
//! | 32    | SHA-256 of every byte before it |
//!
//! Records are applied in order (a later record of a key wins): the store's
//! records as scanned, then the changes made while the scan ran, so the
//! whole is one moment of the metadata (see the namenode's `meta_store`).
//!
//! Invariants: a reader hands out no record it has not bounds-checked, and
//! [`read`] returns `Ok` only after the trailer matched and nothing follows
//! it, so a caller that applies records as they come must throw them away
//! on `Err` (restore builds into a scratch store for that reason).
use crate::ids::ClusterId;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

pub const MAGIC: &[u8; 8] = b"DFSCKPT\n";
pub const FORMAT_VERSION: u32 = 1;
/// File name suffix of checkpoints the namenode writes itself.
pub const EXTENSION: &str = "dfsck";
const TAG_END: u8 = 0;
const TAG_PUT: u8 = 1;
const TAG_DEL: u8 = 2;
/// Bounds on one record, far above what the namenode writes (keys are
/// 2-18 bytes, values a few KiB), so a damaged length cannot make a reader
/// allocate gigabytes.
pub const MAX_KEY: u32 = 64 * 1024;
pub const MAX_VALUE: u32 = 64 * 1024 * 1024;

/// What a checkpoint says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub cluster_id: ClusterId,
    pub created_ms: u64,
}

/// What was read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub header: Header,
    pub records: u64,
    pub bytes: u64,
}

/// One record, as [`read`] hands it out: borrowed from the reader's
/// buffers, which the next record reuses (no allocation per record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    Put(&'a [u8], &'a [u8]),
    Del(&'a [u8]),
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Not a checkpoint, truncated, altered, or of an unknown version.
    #[error("{0}")]
    Damaged(String),
}

/// Counts and hashes what passes through.
struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a checkpoint: the header, then every record [`Writer::record`]
/// is given, then [`Writer::finish`] the trailer.
pub struct Writer<W: Write> {
    out: Hashing<W>,
    header: Header,
    records: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, cluster_id: ClusterId, created_ms: u64) -> io::Result<Self> {
        let mut out = Hashing {
            inner: out,
            hasher: Sha256::new(),
            bytes: 0,
        };
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        out.write_all(cluster_id.as_bytes())?;
        out.write_all(&created_ms.to_le_bytes())?;
        Ok(Writer {
            out,
            header: Header {
                version: FORMAT_VERSION,
                cluster_id,
                created_ms,
            },
            records: 0,
        })
    }

    pub fn put(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.out.write_all(&[TAG_PUT])?;
        write_bytes(&mut self.out, key)?;
        write_bytes(&mut self.out, value)?;
        self.records += 1;
        Ok(())
    }

    pub fn del(&mut self, key: &[u8]) -> io::Result<()> {
        self.out.write_all(&[TAG_DEL])?;
        write_bytes(&mut self.out, key)?;
        self.records += 1;
        Ok(())
    }

    /// Writes the end marker and the trailer; returns the sink.
    pub fn finish(mut self) -> io::Result<(W, Summary)> {
        self.out.write_all(&[TAG_END])?;
        self.out.write_all(&self.records.to_le_bytes())?;
        let digest = self.out.hasher.finalize_reset();
        let bytes = self.out.bytes + digest.len() as u64;
        let mut inner = self.out.inner;
        inner.write_all(&digest)?;
        inner.flush()?;
        Ok((
            inner,
            Summary {
                header: self.header,
                records: self.records,
                bytes,
            },
        ))
    }
}

fn write_bytes(out: &mut impl Write, b: &[u8]) -> io::Result<()> {
    let len = u32::try_from(b.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(b)
}

/// Reads a whole checkpoint, handing each record to `each` as it comes,
/// and checks it to the end (see the module's invariants).
///
/// The input is read in large chunks and each record handed out in place
/// (no copy, no call per field), the bytes hashed a chunk at a time: a
/// namenode's start reads gigabytes through here.
pub fn read<E: From<CheckpointError>>(
    input: impl Read,
    mut each: impl FnMut(Record<'_>) -> Result<(), E>,
) -> Result<Summary, E> {
    let mut r = Chunks::new(input);
    let head = r.take(8 + 4 + 16 + 8, "the header")?;
    if &head[..8] != MAGIC {
        return Err(damaged(
            "this is not a dfs checkpoint (its first bytes are not the checkpoint magic)",
        )
        .into());
    }
    let version = le_u32(&head[8..12]);
    if version != FORMAT_VERSION {
        return Err(damaged(format!(
            "checkpoint format version {version} is not one this namenode reads (it reads {FORMAT_VERSION})"
        ))
        .into());
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&head[12..28]);
    let header = Header {
        version,
        cluster_id: ClusterId::from_bytes(id),
        created_ms: le_u64(&head[28..36]),
    };
    let mut records = 0u64;
    loop {
        let at = r.offset();
        let tag = r.take(1, "a record")?[0];
        match tag {
            TAG_PUT => {
                let key = r.field(0, MAX_KEY, "a key")?;
                let value = r.field(4 + key, MAX_VALUE, "a value")?;
                let rec = r.take(4 + key + 4 + value, "a value")?;
                each(Record::Put(&rec[4..4 + key], &rec[8 + key..]))?;
            }
            TAG_DEL => {
                let key = r.field(0, MAX_KEY, "a key")?;
                let rec = r.take(4 + key, "a key")?;
                each(Record::Del(&rec[4..]))?;
            }
            TAG_END => break,
            other => {
                return Err(damaged(format!(
                    "unknown record tag {other} at byte {at}: the file is damaged"
                ))
                .into())
            }
        }
        records += 1;
    }
    let count = le_u64(r.take(8, "the end marker")?);
    if count != records {
        return Err(damaged(format!(
            "the checkpoint says it holds {count} records but {records} were read: the file is damaged"
        ))
        .into());
    }
    let digest = r.digest();
    let bytes = r.offset() + 32;
    let trailer = r.take(32, "the checksum")?;
    if trailer[..] != digest[..] {
        return Err(damaged(
            "checksum mismatch: the checkpoint was altered or damaged after it was written",
        )
        .into());
    }
    if !r.at_end()? {
        return Err(damaged("bytes follow the checkpoint's checksum: the file is damaged").into());
    }
    Ok(Summary {
        header,
        records,
        bytes,
    })
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// The reader's input, a chunk at a time: [`Chunks::take`] hands out the
/// next bytes in place. Every byte taken is hashed (in bulk, when the
/// buffer moves on or [`Chunks::digest`] is asked).
struct Chunks<R> {
    inner: R,
    buf: Vec<u8>,
    /// The next byte to take.
    pos: usize,
    /// The end of what was read into `buf`.
    end: usize,
    /// Bytes of `buf` before this are hashed (it trails `pos`).
    hashed: usize,
    hasher: Sha256,
    /// Whether taken bytes are still hashed (not after the digest).
    hashing: bool,
    /// Offset in the input of `buf[0]`.
    base: u64,
}

impl<R: Read> Chunks<R> {
    /// Bytes read from the input at a time.
    const CHUNK: usize = 4 << 20;

    fn new(inner: R) -> Self {
        Chunks {
            inner,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            hashed: 0,
            hasher: Sha256::new(),
            hashing: true,
            base: 0,
        }
    }

    /// Offset in the input of the next byte.
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Has `n` bytes ready at `pos`, reading more if need be; an input
    /// that ends first is a truncated checkpoint (it ends inside `what`).
    fn fill(&mut self, n: usize, what: &str) -> Result<(), CheckpointError> {
        if self.end - self.pos >= n {
            return Ok(());
        }
        if self.hashing {
            self.hasher.update(&self.buf[self.hashed..self.pos]);
        }
        self.buf.copy_within(self.pos..self.end, 0);
        self.base += self.pos as u64;
        self.end -= self.pos;
        (self.pos, self.hashed) = (0, 0);
        // Small first (a small checkpoint, a check of a few bytes), then
        // doubling up to the chunk size.
        let room = (self.buf.len() * 2).clamp(64 << 10, Self::CHUNK).max(n);
        if self.buf.len() < room {
            self.buf.resize(room, 0);
        }
        while self.end < n {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    return Err(damaged(format!(
                    "the checkpoint is truncated (it ends inside {what}): the copy is incomplete"
                )))
                }
                Ok(got) => self.end += got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CheckpointError::Io(e)),
            }
        }
        Ok(())
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], CheckpointError> {
        self.fill(n, what)?;
        let at = self.pos;
        self.pos += n;
        Ok(&self.buf[at..at + n])
    }

    /// The length of a field whose u32 length is `skip` bytes ahead
    /// (nothing taken), checked against `max`.
    fn field(&mut self, skip: usize, max: u32, what: &str) -> Result<usize, CheckpointError> {
        self.fill(skip + 4, what)?;
        let len = le_u32(&self.buf[self.pos + skip..]);
        if len > max {
            return Err(damaged(format!(
                "{what} of {len} bytes is longer than any the namenode writes: the file is damaged"
            )));
        }
        Ok(len as usize)
    }

    /// The SHA-256 of every byte taken so far; later bytes are not hashed.
    fn digest(&mut self) -> sha2::digest::Output<Sha256> {
        self.hasher.update(&self.buf[self.hashed..self.pos]);
        // Bytes taken from here on (the trailer) are not hashed.
        self.hashing = false;
        self.hasher.finalize_reset()
    }

    /// Whether the input holds nothing more.
    fn at_end(&mut self) -> Result<bool, CheckpointError> {
        if self.pos < self.end {
            return Ok(false);
        }
        let mut extra = [0u8; 1];
        loop {
            match self.inner.read(&mut extra) {
                Ok(n) => return Ok(n == 0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CheckpointError::Io(e)),
            }
        }
    }
}

fn damaged(msg: impl Into<String>) -> CheckpointError {
    CheckpointError::Damaged(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<u8>, ClusterId) {
        let c = ClusterId::new();
        let mut w = Writer::new(Vec::new(), c, 42).unwrap();
        w.put(b"i/1", b"root").unwrap();
        w.put(b"b/x", &[7u8; 1000]).unwrap();
        w.del(b"b/x").unwrap();
        let (bytes, s) = w.finish().unwrap();
        assert_eq!(s.records, 3);
        assert_eq!(s.bytes, bytes.len() as u64);
        (bytes, c)
    }

    /// Owned: a put's key and value, a delete's key and `None`.
    type Owned = (Vec<u8>, Option<Vec<u8>>);

    fn read_all(b: &[u8]) -> Result<(Summary, Vec<Owned>), CheckpointError> {
        let mut out = Vec::new();
        let s = read(b, |r| {
            out.push(match r {
                Record::Put(k, v) => (k.to_vec(), Some(v.to_vec())),
                Record::Del(k) => (k.to_vec(), None),
            });
            Ok::<(), CheckpointError>(())
        })?;
        Ok((s, out))
    }

    #[test]
    fn round_trip() {
        let (b, c) = sample();
        let (s, recs) = read_all(&b).unwrap();
        assert_eq!(s.header.cluster_id, c);
        assert_eq!(s.header.created_ms, 42);
        assert_eq!(s.records, 3);
        assert_eq!(s.bytes, b.len() as u64);
        assert_eq!(
            recs,
            vec![
                (b"i/1".to_vec(), Some(b"root".to_vec())),
                (b"b/x".to_vec(), Some(vec![7u8; 1000])),
                (b"b/x".to_vec(), None),
            ]
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let (b, _) = sample();
        for len in 0..b.len() {
            let e = read_all(&b[..len]).unwrap_err();
            assert!(
                matches!(e, CheckpointError::Damaged(_)),
                "cut at {len}: {e}"
            );
        }
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let (b, _) = sample();
        for i in 0..b.len() {
            for bit in [0u8, 3, 7] {
                let mut d = b.clone();
                d[i] ^= 1 << bit;
                assert!(read_all(&d).is_err(), "flip of bit {bit} in byte {i}");
            }
        }
    }

    #[test]
    fn trailing_bytes_and_other_files_are_refused() {
        let (mut b, _) = sample();
        b.push(0);
        let e = read_all(&b).unwrap_err().to_string();
        assert!(e.contains("follow"), "{e}");
        let e = read_all(b"hello world, not a checkpoint at all")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a dfs checkpoint"), "{e}");
    }

    /// Hands out at most `step` bytes a read: records then straddle every
    /// refill of the reader's buffer.
    struct Trickle<'a> {
        b: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.b.len());
            out[..n].copy_from_slice(&self.b[..n]);
            self.b = &self.b[n..];
            Ok(n)
        }
    }

    /// Records larger than the reader's chunk, and many small ones across
    /// its refills, read back whole whatever size the input's reads are;
    /// the checksum covers them all (a flipped byte far in is found).
    #[test]
    fn records_across_chunks_and_short_reads_read_back() {
        let c = ClusterId::new();
        let mut w = Writer::new(Vec::new(), c, 1).unwrap();
        let mut want: Vec<Owned> = Vec::new();
        for i in 0..3000u32 {
            let v = vec![(i % 251) as u8; (i as usize * 37) % 5000];
            w.put(format!("k/{i}").as_bytes(), &v).unwrap();
            want.push((format!("k/{i}").into_bytes(), Some(v)));
            if i % 1000 == 7 {
                let big = vec![i as u8; 5 << 20];
                w.put(b"big", &big).unwrap();
                want.push((b"big".to_vec(), Some(big)));
                w.del(b"big").unwrap();
                want.push((b"big".to_vec(), None));
            }
        }
        let (b, s) = w.finish().unwrap();
        for step in [usize::MAX, 1 << 20, 4093] {
            let mut got = Vec::new();
            let read_back = read(Trickle { b: &b, step }, |r| {
                got.push(match r {
                    Record::Put(k, v) => (k.to_vec(), Some(v.to_vec())),
                    Record::Del(k) => (k.to_vec(), None),
                });
                Ok::<(), CheckpointError>(())
            })
            .unwrap();
            assert_eq!(read_back, s, "reads of {step} bytes");
            assert!(got == want, "reads of {step} bytes: the records");
        }
        let mut d = b.clone();
        d[b.len() - 1000] ^= 4;
        assert!(read_all(&d).is_err());
    }
}
