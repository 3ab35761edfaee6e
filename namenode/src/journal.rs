//! The metadata's files (`<data-dir>/journal/`): a **base** (every record as
//! of one point of the log, in the checkpoint format) and the **log** of the
//! groups committed after it, in segment files. This is the storage engine
//! under `meta_store` (which owns the committer and the compactor threads);
//! this module is files, frames and the merge of the two, nothing else.
//!
//! Why not sled (issue 17): the namenode holds every record in memory and
//! only ever writes to the store or reads it whole at a start, so a B-tree
//! with a page cache bought nothing and cost ~62 bytes of page table per
//! file, a 139 s scan of 10 M files after a crash, and a second copy on disk.
//! A log with a base is what HDFS (fsimage + edits), etcd (snapshot + WAL)
//! and Raft engines keep, and what the replication issue needs.
//!
//! Files:
//!
//! | name                      | what |
//! | ------------------------- | ---- |
//! | `base-<lsn, 20 digits>.dfsck` | every record after the groups up to `lsn` (checkpoint format, SHA-256 trailer) |
//! | `log-<lsn, 20 digits>.seg`    | frames of the groups from `lsn` on |
//! | `LOCK`                    | held (flock) by the one process using the journal |
//!
//! A frame (integers little-endian): payload length u32, CRC32C u32 of the
//! next 8 bytes and the payload, the group's log sequence number u64, then
//! the payload: records as in a checkpoint (tag `1` put, key-len u32, key,
//! value-len u32, value; tag `2` delete, key-len u32, key).
//!
//! A base holds its records in **canonical order**: the small records (all
//! but inodes and blocks), the image's own `x/sizes` (how many inodes and
//! blocks follow, for the load to size its maps), the inodes (`i/`), then
//! the blocks (`b/`). Its `x/lsn` says which group it follows.
//!
//! Invariants:
//! - a group's frame is written and `fdatasync`ed before anyone is told it
//!   is durable; log sequence numbers go up by one from frame to frame,
//!   across segments;
//! - a segment is never appended to once sealed (a start seals them all);
//! - only the last segment may end in a torn frame (a crash mid-write: it
//!   was never acknowledged) and only that is cut off; a bad frame anywhere
//!   else refuses the start, naming the file and the offset;
//! - a base appears under its final name only once it is whole and synced;
//!   the base and segments it replaces are removed only after that;
//! - frames at or below the base's sequence number are skipped (a crash
//!   between a new base and the removal of the segments it covers).
use crate::error::{NamenodeError, Result};
use dfs_common::checkpoint::{self as format, CheckpointError, Record};
use dfs_common::codec;
use dfs_common::ids::ClusterId;
use std::collections::HashMap;
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// The journal's directory under the data dir.
pub const DIR: &str = "journal";
/// The lock file in it.
pub const LOCK: &str = "LOCK";
/// The base's own records (not store keys).
pub const SIZES: &[u8] = b"x/sizes";
pub const LSN: &[u8] = b"x/lsn";
/// The prefix of the base's own records: no store key may start with it.
pub const INTERNAL: &[u8] = b"x/";
const INODE: &[u8] = b"i/";
const BLOCK: &[u8] = b"b/";
/// A frame's head: length, CRC, sequence number.
pub const FRAME_HEAD: usize = 16;
const TAG_PUT: u8 = 1;
const TAG_DEL: u8 = 2;
/// Write buffer of bases.
const BUFFER: usize = 4 << 20;
/// Bounds on one frame, far above a group (a checkpoint's record bounds
/// times many), so a damaged length cannot make a reader allocate more.
const MAX_FRAME: u32 = 1 << 30;

/// One put (`Some`) or delete (`None`).
pub type Write = (Vec<u8>, Option<Vec<u8>>);

fn io_err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> NamenodeError {
    NamenodeError::Internal(format!("metadata journal: {what}: {e}"))
}

// ----- frames -----

/// Appends the frame of group `lsn` holding `writes` to `out`.
pub fn encode_frame<'a>(lsn: u64, writes: impl IntoIterator<Item = &'a Write>, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEAD]);
    for (k, v) in writes {
        match v {
            Some(v) => {
                out.push(TAG_PUT);
                put_bytes(out, k);
                put_bytes(out, v);
            }
            None => {
                out.push(TAG_DEL);
                put_bytes(out, k);
            }
        }
    }
    let payload = (out.len() - start - FRAME_HEAD) as u32;
    out[start..start + 4].copy_from_slice(&payload.to_le_bytes());
    out[start + 8..start + 16].copy_from_slice(&lsn.to_le_bytes());
    let crc = crc32c::crc32c(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// The writes of a frame's payload (checked by its CRC already).
fn decode_payload(mut p: &[u8]) -> std::result::Result<Vec<Write>, String> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> std::result::Result<&'a [u8], String> {
        if p.len() < n {
            return Err("a record runs past its frame".into());
        }
        let (a, b) = p.split_at(n);
        *p = b;
        Ok(a)
    }
    fn bytes(p: &mut &[u8]) -> std::result::Result<Vec<u8>, String> {
        let len = take(p, 4)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        Ok(take(p, len)?.to_vec())
    }
    let mut out = Vec::new();
    while !p.is_empty() {
        let tag = take(&mut p, 1)?[0];
        let k = bytes(&mut p)?;
        match tag {
            TAG_PUT => out.push((k, Some(bytes(&mut p)?))),
            TAG_DEL => out.push((k, None)),
            t => return Err(format!("unknown record tag {t}")),
        }
    }
    Ok(out)
}

/// How a segment's frames ended.
enum End {
    /// At the end of the frames, this many bytes in: the end of the file,
    /// or where only zeros follow (the room a [`Segment`] zeroes ahead).
    Clean(u64),
    /// In a frame that is cut short or fails its CRC, at this offset, with
    /// no whole frame after it: a write a crash interrupted.
    Torn(u64, String),
}

/// Reads the frames of `bytes` (a segment), handing each to `each` with
/// its sequence number. A bad frame followed by a good one is damage, not
/// a torn write: an error.
fn read_frames(
    bytes: &[u8],
    mut each: impl FnMut(u64, Vec<Write>) -> Result<()>,
    name: &Path,
) -> Result<End> {
    let mut at = 0usize;
    let mut prev = None;
    while at < bytes.len() {
        if bytes[at..].iter().all(|b| *b == 0) {
            // Room zeroed ahead of the frames, never written.
            return Ok(End::Clean(at as u64));
        }
        let bad = |why: String| -> Result<End> {
            if next_frame_at(bytes, at + 1, prev).is_some() {
                Err(NamenodeError::Internal(format!(
                    "metadata journal: {} is damaged at byte {at} ({why}) and whole frames follow: \
                     refusing to start rather than drop committed changes; restore a checkpoint \
                     (see the README's Backups section)",
                    name.display()
                )))
            } else {
                Ok(End::Torn(at as u64, why))
            }
        };
        let Some(head) = bytes.get(at..at + FRAME_HEAD) else {
            return bad("a frame's head is cut short".into());
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let lsn = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default());
        let end = at + FRAME_HEAD + len as usize;
        if len > MAX_FRAME || end > bytes.len() {
            return bad(format!("a frame of {len} bytes runs past the end"));
        }
        if crc32c::crc32c(&bytes[at + 8..end]) != crc {
            return bad("a frame fails its CRC".into());
        }
        let writes = decode_payload(&bytes[at + FRAME_HEAD..end])
            .map_err(|e| io_err(format!("{} at byte {at}", name.display()), e))?;
        each(lsn, writes)?;
        prev = Some(lsn);
        at = end;
    }
    Ok(End::Clean(at as u64))
}

/// Whether a whole frame (head in bounds, a sequence number soon after
/// `prev`, CRC right) starts anywhere at or after `from`: how a torn tail
/// is told from damage in the middle.
fn next_frame_at(bytes: &[u8], from: usize, prev: Option<u64>) -> Option<usize> {
    /// Groups a damaged stretch may hide.
    const WINDOW: u64 = 1 << 20;
    (from..bytes.len().saturating_sub(FRAME_HEAD - 1)).find(|&at| {
        let head = &bytes[at..at + FRAME_HEAD];
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let lsn = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default());
        let near = prev.is_none_or(|p| lsn > p && lsn <= p.saturating_add(WINDOW));
        let end = at + FRAME_HEAD + len;
        near && len > 0 && end <= bytes.len() && crc32c::crc32c(&bytes[at + 8..end]) == crc
    })
}

// ----- files -----

/// A file of the journal and the sequence number in its name.
#[derive(Debug, Clone)]
pub struct NumberedFile {
    pub lsn: u64,
    pub path: PathBuf,
}

/// What the journal directory holds.
#[derive(Debug, Default)]
pub struct Listing {
    /// The newest base.
    pub base: Option<NumberedFile>,
    /// Older bases (a crash before they were removed).
    pub old_bases: Vec<NumberedFile>,
    /// Segments, by first sequence number.
    pub segments: Vec<NumberedFile>,
}

pub fn base_path(dir: &Path, lsn: u64) -> PathBuf {
    dir.join(format!("base-{lsn:020}.{}", format::EXTENSION))
}

pub fn segment_path(dir: &Path, lsn: u64) -> PathBuf {
    dir.join(format!("log-{lsn:020}.seg"))
}

fn number(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Lists `dir`, removing what an interrupted write left (`.*.tmp`).
pub fn list(dir: &Path) -> Result<Listing> {
    let mut out = Listing::default();
    let mut bases = Vec::new();
    let base_suffix = format!(".{}", format::EXTENSION);
    let entries = fs::read_dir(dir).map_err(|e| io_err(dir.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir.display(), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if name.starts_with('.') && name.ends_with(".tmp") {
            fs::remove_file(&path).map_err(|e| io_err(path.display(), e))?;
        } else if let Some(lsn) = number(name, "base-", &base_suffix) {
            bases.push(NumberedFile { lsn, path });
        } else if let Some(lsn) = number(name, "log-", ".seg") {
            out.segments.push(NumberedFile { lsn, path });
        }
    }
    bases.sort_by_key(|f| f.lsn);
    out.segments.sort_by_key(|f| f.lsn);
    out.base = bases.pop();
    out.old_bases = bases;
    Ok(out)
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir.display(), e))
}

pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

// ----- replay -----

/// The latest write of every key in some frames (`None`: deleted).
#[derive(Default)]
pub struct Overlay {
    map: HashMap<Vec<u8>, Option<Vec<u8>>, foldhash::fast::RandomState>,
}

impl Overlay {
    pub fn apply(&mut self, writes: Vec<Write>) {
        for (k, v) in writes {
            self.map.insert(k, v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Puts of `section` not yet emitted, in key order.
    fn drain_section(&mut self, section: Section) -> Vec<(Vec<u8>, Vec<u8>)> {
        let keys: Vec<Vec<u8>> = self
            .map
            .keys()
            .filter(|k| Section::of(k) == Some(section))
            .cloned()
            .collect();
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = keys
            .into_iter()
            .filter_map(|k| {
                let v = self.map.remove(&k)??;
                Some((k, v))
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Puts of inodes and blocks (an upper bound of what they add).
    fn puts(&self) -> (u64, u64) {
        let mut n = (0, 0);
        for (k, v) in &self.map {
            match (Section::of(k), v) {
                (Some(Section::Inodes), Some(_)) => n.0 += 1,
                (Some(Section::Blocks), Some(_)) => n.1 += 1,
                _ => {}
            }
        }
        n
    }
}

/// What [`replay`] found.
pub struct Replayed {
    /// The last sequence number seen (`after` if none).
    pub last: u64,
    /// Bytes of the segments read.
    pub bytes: u64,
}

/// Hands the frames after `after` of `segments` to `apply`, in order
/// (`|w| overlay.apply(w)` to lay them over a base). With
/// `repair`, a torn frame at the end of the last segment is cut off (the
/// file truncated and synced); otherwise it is an error (segments read
/// while serving were sealed whole).
pub fn replay(
    segments: &[NumberedFile],
    after: u64,
    mut apply: impl FnMut(Vec<Write>),
    repair: bool,
) -> Result<Replayed> {
    let mut last = after;
    let mut total = 0;
    for (i, seg) in segments.iter().enumerate() {
        let bytes = fs::read(&seg.path).map_err(|e| io_err(seg.path.display(), e))?;
        let end = read_frames(
            &bytes,
            |lsn, writes| {
                if lsn <= after {
                    return Ok(());
                }
                if lsn != last + 1 {
                    return Err(NamenodeError::Internal(format!(
                        "metadata journal: {} holds group {lsn} after group {last}: groups are missing",
                        seg.path.display()
                    )));
                }
                last = lsn;
                apply(writes);
                Ok(())
            },
            &seg.path,
        )?;
        let at = match end {
            // A start seals the segments: zeros ahead are cut off.
            End::Clean(at) if repair && at < bytes.len() as u64 => cut(seg, at)?,
            End::Clean(at) => at,
            End::Torn(at, why) => {
                cut_torn(seg, &bytes, at, &why, repair && i + 1 == segments.len())?
            }
        };
        total += at;
    }
    Ok(Replayed { last, bytes: total })
}

/// A torn frame at `at` of `seg`: cut off (the file truncated and synced)
/// if `repair`, an error otherwise. Returns `at`.
fn cut_torn(seg: &NumberedFile, bytes: &[u8], at: u64, why: &str, repair: bool) -> Result<u64> {
    if !repair {
        return Err(NamenodeError::Internal(format!(
            "metadata journal: {} is damaged at byte {at} ({why})",
            seg.path.display()
        )));
    }
    log::warn!(
        "metadata journal: {} ends in a torn frame at byte {at} ({why}): a write the crash \
         interrupted, never acknowledged; cutting {} bytes off",
        seg.path.display(),
        bytes.len() as u64 - at
    );
    cut(seg, at)
}

/// Truncates `seg` to `at` bytes, synced. Returns `at`.
fn cut(seg: &NumberedFile, at: u64) -> Result<u64> {
    let f = fs::OpenOptions::new()
        .write(true)
        .open(&seg.path)
        .map_err(|e| io_err(seg.path.display(), e))?;
    f.set_len(at)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err(seg.path.display(), e))?;
    Ok(at)
}

// ----- merge -----

/// The parts of a base, in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Small,
    Inodes,
    Blocks,
}

impl Section {
    /// The section of a stored key (`None`: the base's own `x/` records).
    pub fn of(k: &[u8]) -> Option<Section> {
        if k.starts_with(INODE) {
            Some(Section::Inodes)
        } else if k.starts_with(BLOCK) {
            Some(Section::Blocks)
        } else if k.starts_with(INTERNAL) {
            None
        } else {
            Some(Section::Small)
        }
    }
}

/// What a base says about itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct BaseInfo {
    pub lsn: u64,
    pub cluster_id: Option<ClusterId>,
    pub sizes: (u64, u64),
}

/// Where a merge hands its records.
pub type Sink<'a, E> = dyn FnMut(&[u8], &[u8]) -> std::result::Result<(), E> + 'a;

/// An error of a merge: the store's or the consumer's.
pub enum MergeError<E> {
    Store(NamenodeError),
    Consumer(E),
}

impl<E> From<CheckpointError> for MergeError<E> {
    fn from(e: CheckpointError) -> Self {
        MergeError::Store(io_err("base", e))
    }
}

/// Hands `each` every record of `base` (if any) with `overlay` laid over
/// it, in canonical order: each record of the base as the overlay last
/// wrote it (or not at all if deleted), and the overlay's new keys of a
/// section at the end of that section. `x/sizes` comes between the small
/// records and the inodes: `sizes` if given (exact), else the base's plus
/// the overlay's puts (an upper bound). The base's `x/lsn` is not handed
/// on. Returns what the base said about itself.
pub fn merge<E>(
    base: Option<&Path>,
    mut overlay: Overlay,
    sizes: Option<(u64, u64)>,
    mut each: impl FnMut(&[u8], &[u8]) -> std::result::Result<(), E>,
) -> std::result::Result<BaseInfo, MergeError<E>> {
    let mut info = BaseInfo::default();
    let added = overlay.puts();
    let mut section = Section::Small;
    // Ends sections up to `to`: the overlay's new keys, and the sizes.
    let advance = |section: &mut Section,
                   to: Section,
                   overlay: &mut Overlay,
                   info: &BaseInfo,
                   each: &mut Sink<'_, E>|
     -> std::result::Result<(), MergeError<E>> {
        while *section < to {
            for (k, v) in overlay.drain_section(*section) {
                each(&k, &v).map_err(MergeError::Consumer)?;
            }
            if *section == Section::Small {
                let n = sizes.unwrap_or((info.sizes.0 + added.0, info.sizes.1 + added.1));
                let v = codec::encode(&n).map_err(|e| MergeError::Store(io_err("sizes", e)))?;
                each(SIZES, &v).map_err(MergeError::Consumer)?;
            }
            *section = match *section {
                Section::Small => Section::Inodes,
                _ => Section::Blocks,
            };
        }
        Ok(())
    };
    if let Some(path) = base {
        let file =
            fs::File::open(path).map_err(|e| MergeError::Store(io_err(path.display(), e)))?;
        let summary = format::read(file, |r| {
            let (k, v) = match r {
                Record::Put(k, v) => (k, v),
                Record::Del(_) => {
                    return Err(MergeError::Store(io_err(
                        path.display(),
                        "a base holds no deletions",
                    )))
                }
            };
            let Some(s) = Section::of(k) else {
                if k == LSN {
                    info.lsn = codec::decode(v).map_err(|e| MergeError::Store(io_err("lsn", e)))?;
                } else if k == SIZES {
                    info.sizes =
                        codec::decode(v).map_err(|e| MergeError::Store(io_err("sizes", e)))?;
                }
                return Ok(());
            };
            if s < section {
                return Err(MergeError::Store(io_err(
                    path.display(),
                    "its records are out of order",
                )));
            }
            advance(&mut section, s, &mut overlay, &info, &mut each)?;
            // (A start after a clean stop has nothing laid over the base.)
            if overlay.is_empty() {
                return each(k, v).map_err(MergeError::Consumer);
            }
            match overlay.map.remove(k) {
                None => each(k, v).map_err(MergeError::Consumer)?,
                Some(Some(v)) => each(k, &v).map_err(MergeError::Consumer)?,
                Some(None) => {}
            }
            Ok(())
        })?;
        let id = summary.header.cluster_id;
        info.cluster_id = (id.as_bytes() != &[0u8; 16]).then_some(id);
    }
    advance(
        &mut section,
        Section::Blocks,
        &mut overlay,
        &info,
        &mut each,
    )?;
    for (k, v) in overlay.drain_section(Section::Blocks) {
        each(&k, &v).map_err(MergeError::Consumer)?;
    }
    Ok(info)
}

/// The exact number of inodes and blocks of `base` with `overlay` laid
/// over it (a read of the base's keys).
pub fn count(base: Option<&Path>, overlay: &Overlay) -> Result<(u64, u64)> {
    let mut n = (0u64, 0u64);
    let mut bump = |k: &[u8], by: i64| match Section::of(k) {
        Some(Section::Inodes) => n.0 = n.0.wrapping_add_signed(by),
        Some(Section::Blocks) => n.1 = n.1.wrapping_add_signed(by),
        _ => {}
    };
    // The overlay's puts, as if all new...
    for (k, v) in &overlay.map {
        if v.is_some() {
            bump(k, 1);
        }
    }
    if let Some(path) = base {
        let file = fs::File::open(path).map_err(|e| io_err(path.display(), e))?;
        format::read(file, |r| {
            if let Record::Put(k, _) = r {
                // ...and each key of the base counted once, whatever the
                // overlay did to it: kept (1), replaced (already counted by
                // the put) or deleted (0).
                if !overlay.map.contains_key(k) {
                    bump(k, 1);
                }
            }
            Ok::<(), CheckpointError>(())
        })
        .map_err(|e| io_err(path.display(), e))?;
    }
    Ok(n)
}

/// Writes a base of group `lsn` into `dir` (a temporary name, synced, then
/// renamed and the directory synced); `fill` writes its records in
/// canonical order (see [`merge`]). Returns its path and size.
pub fn write_base<E: From<NamenodeError>>(
    dir: &Path,
    lsn: u64,
    cluster_id: Option<ClusterId>,
    fill: impl FnOnce(&mut Sink<'_, E>) -> std::result::Result<(), E>,
) -> std::result::Result<(PathBuf, u64), E> {
    let path = base_path(dir, lsn);
    let tmp = dir.join(format!(".base-{lsn:020}.tmp"));
    let result = (|| {
        let file = fs::File::create(&tmp).map_err(|e| io_err(tmp.display(), e))?;
        let id = cluster_id.unwrap_or_else(|| ClusterId::from_bytes([0; 16]));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut w = format::Writer::new(BufWriter::with_capacity(BUFFER, &file), id, now)
            .map_err(|e| io_err(tmp.display(), e))?;
        let lsn_value = codec::encode(&lsn).map_err(|e| io_err("lsn", e))?;
        w.put(LSN, &lsn_value)
            .map_err(|e| io_err(tmp.display(), e))?;
        fill(&mut |k, v| w.put(k, v).map_err(|e| E::from(io_err(tmp.display(), e))))?;
        let (_, summary) = w.finish().map_err(|e| io_err(tmp.display(), e))?;
        file.sync_all().map_err(|e| io_err(tmp.display(), e))?;
        fs::rename(&tmp, &path).map_err(|e| io_err(path.display(), e))?;
        sync_dir(dir)?;
        Ok((path.clone(), summary.bytes))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The segment being written. Frames go into room zeroed ahead of them
/// and already synced, so a frame's `fdatasync` writes its data alone: an
/// append that grows the file also commits the file system's journal
/// (its size, its extents), which cost a sixth of a small commit here.
/// A reader takes the zeros after the last frame for the end.
pub struct Segment {
    file: fs::File,
    /// Where the next frame goes: the bytes of frames so far.
    end: u64,
    /// The length of the file: zeros from `end` on.
    zeroed: u64,
}

impl Segment {
    /// Room zeroed at a time (one sync in this many bytes of frames also
    /// commits the file's new size).
    pub const ZERO_AHEAD: u64 = 1 << 20;

    /// A new, empty segment at `path` (which must not exist), its first
    /// room zeroed and synced. Sync the directory after.
    pub fn create(path: &Path) -> std::io::Result<Segment> {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        let mut seg = Segment {
            file,
            end: 0,
            zeroed: 0,
        };
        seg.zero_to(Self::ZERO_AHEAD)?;
        seg.file.sync_all()?;
        Ok(seg)
    }

    /// The bytes of frames written.
    pub fn len(&self) -> u64 {
        self.end
    }

    pub fn is_empty(&self) -> bool {
        self.end == 0
    }

    /// Writes `bytes` (whole frames) after the last frame and syncs them.
    /// On an error the segment may hold part of them: write no more.
    pub fn append_synced(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.append(bytes, true)
    }

    /// Writes `bytes` (whole frames) after the last frame, and syncs
    /// everything written so far if `sync`. On an error the segment may
    /// hold part of them: write no more.
    pub fn append(&mut self, bytes: &[u8], sync: bool) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let end = self.end + bytes.len() as u64;
        if end > self.zeroed {
            self.zero_to(end.next_multiple_of(Self::ZERO_AHEAD) + Self::ZERO_AHEAD)?;
        }
        self.file.write_all_at(bytes, self.end)?;
        if sync {
            self.file.sync_data()?;
        }
        self.end = end;
        Ok(())
    }

    /// Syncs every frame written so far.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// No more frames: the zeros ahead are cut off, so that a sealed
    /// segment's length is its frames' (what the log's size counts).
    pub fn seal(self) -> std::io::Result<()> {
        self.file.set_len(self.end)?;
        self.file.sync_data()
    }

    /// Zeroes the file from `zeroed` to `to` (not synced).
    fn zero_to(&mut self, to: u64) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        const CHUNK: usize = 1 << 20;
        let zeros = vec![0u8; CHUNK];
        while self.zeroed < to {
            let n = (to - self.zeroed).min(CHUNK as u64) as usize;
            self.file.write_all_at(&zeros[..n], self.zeroed)?;
            self.zeroed += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(k: &str, v: Option<&str>) -> Write {
        (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))
    }

    #[test]
    fn frames_read_back_and_a_torn_tail_is_told_from_damage() {
        let mut seg = Vec::new();
        encode_frame(1, &[w("i/1", Some("a")), w("b/2", None)], &mut seg);
        encode_frame(2, &[w("m/x", Some("b"))], &mut seg);
        let whole = seg.len();
        let read = |bytes: &[u8]| {
            let mut got = Vec::new();
            let end = read_frames(
                bytes,
                |l, ws| {
                    got.push((l, ws));
                    Ok(())
                },
                Path::new("seg"),
            );
            (got, end)
        };
        let (got, end) = read(&seg);
        assert!(matches!(end, Ok(End::Clean(n)) if n as usize == whole));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, vec![w("i/1", Some("a")), w("b/2", None)]);
        // Cut anywhere inside the last frame: torn at its start.
        let first = FRAME_HEAD + 1 + 4 + 3 + 4 + 1 + 1 + 4 + 3;
        for cut in first + 1..whole {
            let (got, end) = read(&seg[..cut]);
            assert_eq!(got.len(), 1, "cut at {cut}");
            assert!(
                matches!(end, Ok(End::Torn(at, _)) if at as usize == first),
                "cut at {cut}"
            );
        }
        // A flipped bit in the first frame, with a whole frame after it.
        let mut bad = seg.clone();
        bad[FRAME_HEAD + 2] ^= 1;
        assert!(read(&bad).1.is_err());
        // The same in the last frame: torn (nothing whole follows).
        let mut bad = seg.clone();
        bad[whole - 1] ^= 1;
        assert!(matches!(read(&bad).1, Ok(End::Torn(..))));

        // Zeros after the frames (room zeroed ahead): the clean end.
        let zeroed = [&seg[..], &[0u8; 4096][..]].concat();
        let (got, end) = read(&zeroed);
        assert_eq!(got.len(), 2);
        assert!(matches!(end, Ok(End::Clean(n)) if n as usize == whole));
        // A frame cut short, zeros after it: torn at its start.
        let cut = [&seg[..whole - 3], &[0u8; 4096][..]].concat();
        let (got, end) = read(&cut);
        assert_eq!(got.len(), 1);
        assert!(matches!(end, Ok(End::Torn(at, _)) if at as usize == first));
        // Zeros in the middle with a whole frame after them: damage.
        let hole = [&seg[..first], &[0u8; 64][..], &seg[first..]].concat();
        assert!(read(&hole).1.is_err());
        // Not all zeros after a zero head, nothing whole: torn there.
        let mut junk = zeroed.clone();
        junk[whole + 100] = 7;
        assert!(matches!(read(&junk).1, Ok(End::Torn(at, _)) if at as usize == whole));
    }

    /// A segment's frames, written across several rounds of zeroing
    /// ahead, replay whole; the bytes counted are the frames', not the
    /// zeros'.
    #[test]
    fn a_segment_zeroed_ahead_replays_its_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = segment_path(dir.path(), 1);
        let mut seg = Segment::create(&path).unwrap();
        assert_eq!(file_len(&path), Segment::ZERO_AHEAD);
        let value = "v".repeat(100_000);
        let mut buf = Vec::new();
        for lsn in 1..=30u64 {
            buf.clear();
            encode_frame(lsn, &[w(&format!("m/{lsn}"), Some(&value))], &mut buf);
            seg.append_synced(&buf).unwrap();
        }
        let written = seg.len();
        assert!(written > 2 * Segment::ZERO_AHEAD);
        assert!(file_len(&path) > written, "zeros ahead of the frames");
        drop(seg);
        let segments = list(dir.path()).unwrap().segments;
        let mut overlay = Overlay::default();
        let r = replay(&segments, 0, |w| overlay.apply(w), false).unwrap();
        assert_eq!((r.last, r.bytes), (30, written));
        assert_eq!(overlay.map.len(), 30);
    }
}
