//! The replica file format: a replica is one file, `<id>.blk`, holding the
//! block's bytes from offset 0, then a trailer with its checksums, then a
//! fixed-size footer that says where the trailer is and checks both.
//!
//! ```text
//! [0, len)                      the block's bytes, as written
//! [len, len + T)                trailer: the BlockChecksums (len, SHA-256,
//!                               chunk size, one CRC32C per 64 KiB chunk),
//!                               encoded with dfs_common::codec (its own
//!                               leading version byte)
//! [len + T, len + T + 32)       footer, little-endian:
//!                                 magic    8 bytes  "dfsREPL\0"
//!                                 version  u32      1
//!                                 T        u32      trailer length
//!                                 len      u64      data length
//!                                 crc_t    u32      CRC32C of the trailer
//!                                 crc_f    u32      CRC32C of the 28 bytes before it
//! ```
//!
//! Why a trailer and not a header: the data stays at offset 0, so chunk `i`
//! is at `i * CHUNK_SIZE` as before, direct writes stay aligned while the
//! block streams in (its length is not known until the end), and a ranged
//! read is one footer read, one trailer read, then the chunks it needs.
//! The footer's own CRC and the trailer's CRC mean a damaged footer or
//! trailer is caught before anything is served; the file's length must be
//! exactly `len + T + 32`, so a truncated or extended file is caught too.
//!
//! The previous layout (two files, `<id>.blk` with the bytes only and
//! `<id>.meta` with the same encoded `BlockChecksums`) is still read:
//! [`Layout::TwoFile`]. New writes always use [`Layout::OneFile`].
use dfs_common::checksum::{crc32c, BlockChecksums, CHUNK_SIZE};
use dfs_common::codec;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Bytes of the fixed footer at the end of a one-file replica.
pub(super) const FOOTER_LEN: u64 = 32;
const MAGIC: &[u8; 8] = b"dfsREPL\0";
const VERSION: u32 = 1;
/// A trailer is a few bytes per 64 KiB chunk: 4 GiB blocks need ~256 KiB;
/// anything claiming more is damage, not a reason to allocate.
const MAX_TRAILER: u32 = 1 << 20;

/// How a replica's checksums are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// `<id>.blk` = data, trailer, footer (this module).
    OneFile,
    /// `<id>.blk` = data and `<id>.meta` = checksums (before issue 19).
    TwoFile,
}

/// The trailer and footer that follow a block's bytes in its file.
pub(super) fn encode_trailer(meta: &BlockChecksums) -> Result<Vec<u8>, String> {
    let trailer = codec::encode(meta).map_err(|e| format!("encoding checksums: {e}"))?;
    let t_len = u32::try_from(trailer.len())
        .ok()
        .filter(|t| *t <= MAX_TRAILER)
        .ok_or_else(|| format!("trailer of {} bytes is too large", trailer.len()))?;
    let mut out = Vec::with_capacity(trailer.len() + FOOTER_LEN as usize);
    out.extend_from_slice(&trailer);
    let footer_start = out.len();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&t_len.to_le_bytes());
    out.extend_from_slice(&meta.len.to_le_bytes());
    out.extend_from_slice(&crc32c(&trailer).to_le_bytes());
    let crc_f = crc32c(&out[footer_start..]);
    out.extend_from_slice(&crc_f.to_le_bytes());
    Ok(out)
}

/// Why a replica's trailer could not be had: the disk failed to read it
/// (which says nothing of the replica's bytes), or what was read is not a
/// valid trailer (the replica is damaged).
#[derive(Debug)]
pub(super) enum TrailerError {
    /// A read failed: what was being read, and the error.
    Io(&'static str, std::io::Error),
    /// A well-formed footer of another replica format (a newer datanode
    /// wrote it): not damage either, and not for this binary to judge.
    Unreadable(String),
    /// The bytes are wrong: why.
    Bad(String),
}

impl std::fmt::Display for TrailerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrailerError::Io(what, e) => write!(f, "reading the {what}: {e}"),
            TrailerError::Unreadable(why) | TrailerError::Bad(why) => f.write_str(why),
        }
    }
}

impl From<String> for TrailerError {
    fn from(why: String) -> Self {
        TrailerError::Bad(why)
    }
}

impl From<&str> for TrailerError {
    fn from(why: &str) -> Self {
        TrailerError::Bad(why.to_string())
    }
}

/// Reads and checks the trailer of a one-file replica whose file is
/// `file_len` bytes long. A read that fails is [`TrailerError::Io`], never
/// taken for damage: a disk that hiccups must not get good replicas
/// quarantined.
pub(super) fn read_trailer(file: &File, file_len: u64) -> Result<BlockChecksums, TrailerError> {
    if file_len < FOOTER_LEN {
        return Err(format!("{file_len} bytes: too short for a replica footer").into());
    }
    let mut footer = [0u8; FOOTER_LEN as usize];
    file.read_exact_at(&mut footer, file_len - FOOTER_LEN)
        .map_err(|e| TrailerError::Io("footer", e))?;
    let (t_len, data_len, crc_t) = parse_footer(&footer)?;
    let expected = data_len
        .checked_add(u64::from(t_len) + FOOTER_LEN)
        .ok_or("footer gives an impossible length")?;
    if expected != file_len {
        return Err(format!(
            "{file_len} bytes on disk, footer says {data_len} of data and {t_len} of trailer"
        )
        .into());
    }
    let mut trailer = vec![0u8; t_len as usize];
    file.read_exact_at(&mut trailer, data_len)
        .map_err(|e| TrailerError::Io("trailer", e))?;
    if crc32c(&trailer) != crc_t {
        return Err("the trailer fails its CRC32C".into());
    }
    let meta: BlockChecksums =
        codec::decode(&trailer).map_err(|e| format!("decoding the trailer: {e}"))?;
    if !meta.is_consistent() || meta.chunk_size as usize != CHUNK_SIZE || meta.len != data_len {
        return Err("the trailer is inconsistent".into());
    }
    Ok(meta)
}

/// Checks a footer: gives the trailer's length, the data's length and the
/// trailer's CRC32C. A whole footer of another format version is
/// [`TrailerError::Unreadable`].
fn parse_footer(f: &[u8; FOOTER_LEN as usize]) -> Result<(u32, u64, u32), TrailerError> {
    let u32_at = |i: usize| u32::from_le_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
    if &f[..8] != MAGIC {
        return Err("no replica footer (bad magic)".into());
    }
    if crc32c(&f[..28]) != u32_at(28) {
        return Err("the footer fails its CRC32C".into());
    }
    let version = u32_at(8);
    if version != VERSION {
        return Err(TrailerError::Unreadable(format!(
            "written in replica format {version}, and this datanode reads format {VERSION} \
             (run the datanode version that wrote it)"
        )));
    }
    let t_len = u32_at(12);
    if t_len > MAX_TRAILER {
        return Err(format!("footer claims a trailer of {t_len} bytes").into());
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&f[16..24]);
    Ok((t_len, u64::from_le_bytes(len), u32_at(24)))
}

/// Rewrites the footer of the replica file `whole` as a datanode of format
/// `version` would have written it (its CRC32C right).
#[cfg(test)]
pub(super) fn set_footer_version(whole: &mut [u8], version: u32) {
    let footer = whole.len() - FOOTER_LEN as usize;
    whole[footer + 8..footer + 12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32c(&whole[footer..footer + 28]);
    whole[footer + 28..footer + 32].copy_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, u64) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        (f, bytes.len() as u64)
    }

    #[test]
    fn round_trip_and_every_damaged_byte_of_trailer_or_footer_is_caught() {
        let data: Vec<u8> = (0..CHUNK_SIZE * 2 + 5).map(|i| i as u8).collect();
        let meta = BlockChecksums::of(&data);
        let mut whole = data.clone();
        whole.extend(encode_trailer(&meta).unwrap());
        let (f, n) = file_of(&whole);
        assert_eq!(read_trailer(f.as_file(), n).unwrap(), meta);
        for i in data.len()..whole.len() {
            let mut bad = whole.clone();
            bad[i] ^= 0x01;
            let (f, n) = file_of(&bad);
            assert!(read_trailer(f.as_file(), n).is_err(), "byte {i}");
        }
        // Truncated, extended, empty, data only.
        for bad in [
            &whole[..whole.len() - 1],
            &[whole.as_slice(), b"x"].concat()[..],
            &[][..],
            &data[..],
        ] {
            let (f, n) = file_of(bad);
            assert!(matches!(
                read_trailer(f.as_file(), n),
                Err(TrailerError::Bad(_))
            ));
        }
    }

    #[test]
    fn another_format_version_is_not_damage() {
        let data: Vec<u8> = (0..CHUNK_SIZE + 5).map(|i| i as u8).collect();
        let mut whole = data.clone();
        whole.extend(encode_trailer(&BlockChecksums::of(&data)).unwrap());
        set_footer_version(&mut whole, 2);
        let (f, n) = file_of(&whole);
        let e = read_trailer(f.as_file(), n).unwrap_err();
        assert!(matches!(e, TrailerError::Unreadable(_)), "{e}");
        assert!(e.to_string().contains("replica format 2"), "{e}");
    }

    #[test]
    fn a_failed_read_is_not_damage() {
        let data: Vec<u8> = (0..CHUNK_SIZE + 5).map(|i| i as u8).collect();
        let mut whole = data.clone();
        whole.extend(encode_trailer(&BlockChecksums::of(&data)).unwrap());
        let (f, n) = file_of(&whole);
        // A handle that cannot read: every read fails (EBADF), as a disk
        // error would.
        let write_only = std::fs::OpenOptions::new()
            .write(true)
            .open(f.path())
            .unwrap();
        let e = read_trailer(&write_only, n).unwrap_err();
        assert!(matches!(e, TrailerError::Io("footer", _)), "{e}");
        assert!(e.to_string().starts_with("reading the footer: "), "{e}");
    }
}
