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

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
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
pub fn read<E: From<CheckpointError>>(
    input: impl Read,
    mut each: impl FnMut(Record<'_>) -> Result<(), E>,
) -> Result<Summary, E> {
    let mut r = Hashing {
        inner: input,
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut magic = [0u8; 8];
    exact(&mut r, &mut magic, "the header")?;
    if &magic != MAGIC {
        return Err(damaged(
            "this is not a dfs checkpoint (its first bytes are not the checkpoint magic)",
        )
        .into());
    }
    let version = u32::from_le_bytes(array(&mut r, "the header")?);
    if version != FORMAT_VERSION {
        return Err(damaged(format!(
            "checkpoint format version {version} is not one this namenode reads (it reads {FORMAT_VERSION})"
        ))
        .into());
    }
    let cluster_id = ClusterId::from_bytes(array(&mut r, "the header")?);
    let created_ms = u64::from_le_bytes(array(&mut r, "the header")?);
    let header = Header {
        version,
        cluster_id,
        created_ms,
    };
    let mut records = 0u64;
    let (mut key, mut value) = (Vec::new(), Vec::new());
    loop {
        let [tag] = array::<1>(&mut r, "a record")?;
        match tag {
            TAG_PUT => {
                bytes(&mut r, &mut key, MAX_KEY, "a key")?;
                bytes(&mut r, &mut value, MAX_VALUE, "a value")?;
                each(Record::Put(&key, &value))?;
            }
            TAG_DEL => {
                bytes(&mut r, &mut key, MAX_KEY, "a key")?;
                each(Record::Del(&key))?;
            }
            TAG_END => break,
            other => {
                return Err(damaged(format!(
                    "unknown record tag {other} at byte {}: the file is damaged",
                    r.bytes - 1
                ))
                .into())
            }
        }
        records += 1;
    }
    let count = u64::from_le_bytes(array(&mut r, "the end marker")?);
    if count != records {
        return Err(damaged(format!(
            "the checkpoint says it holds {count} records but {records} were read: the file is damaged"
        ))
        .into());
    }
    let digest = r.hasher.finalize_reset();
    let mut trailer = [0u8; 32];
    let mut input = r.inner;
    exact(&mut input, &mut trailer, "the checksum")?;
    if trailer[..] != digest[..] {
        return Err(damaged(
            "checksum mismatch: the checkpoint was altered or damaged after it was written",
        )
        .into());
    }
    let mut extra = [0u8; 1];
    if input.read(&mut extra).map_err(CheckpointError::from)? != 0 {
        return Err(damaged("bytes follow the checkpoint's checksum: the file is damaged").into());
    }
    Ok(Summary {
        header,
        records,
        bytes: r.bytes + 32,
    })
}

fn damaged(msg: impl Into<String>) -> CheckpointError {
    CheckpointError::Damaged(msg.into())
}

fn exact(r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), CheckpointError> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            damaged(format!(
                "the checkpoint is truncated (it ends inside {what}): the copy is incomplete"
            ))
        } else {
            CheckpointError::Io(e)
        }
    })
}

fn array<const N: usize>(r: &mut impl Read, what: &str) -> Result<[u8; N], CheckpointError> {
    let mut b = [0u8; N];
    exact(r, &mut b, what)?;
    Ok(b)
}

/// A length-prefixed field into `b` (its old content replaced).
fn bytes(r: &mut impl Read, b: &mut Vec<u8>, max: u32, what: &str) -> Result<(), CheckpointError> {
    let len = u32::from_le_bytes(array(r, what)?);
    if len > max {
        return Err(damaged(format!(
            "{what} of {len} bytes is longer than any the namenode writes: the file is damaged"
        )));
    }
    b.resize(len as usize, 0);
    exact(r, b, what)
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
}
