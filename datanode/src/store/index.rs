//! The index: which finalized replicas the store holds (id → length and
//! SHA-256) and the bytes they use, in memory; and the startup scan that
//! rebuilds it from `blocks/` when the store opens (HDFS: a volume's replica
//! map, filled when the DataNode starts).
//!
//! Opening creates the directories, empties `tmp/` (writes that never
//! committed, torn or whole: never indexed), then indexes every `.blk`
//! whose footer and trailer check out and give the file's length
//! (one-file, see [`format`](super::format)), or, failing that, whose
//! `.meta` decodes, is consistent and gives the data's length (two-file,
//! the layout before issue 19), and quarantines the others. A `.meta`
//! without its `.blk` is left by a two-file write interrupted between its
//! two renames: it was never acknowledged, and is removed.
//!
//! Invariants:
//! - An entry is added only by the startup scan and by a commit, after its
//!   files are durable; it leaves only through [`remove`](super::remove).
//! - `used` is the sum of the lengths of the indexed replicas and of those
//!   being committed; it is what the capacity check ([`BlockStore::check_room`])
//!   counts.
//! - The index lock is held for one lookup, insert or removal at a time,
//!   never across file I/O.
use super::format::{read_trailer, Layout, TrailerError};
use super::volume::Volume;
use super::{lock, BlockStore, Inner};
use crate::error::{DatanodeError, Result};
use dfs_common::checksum::{BlockChecksums, Sha256Digest, CHUNK_SIZE};
use dfs_common::codec;
use dfs_common::ids::BlockId;
use dfs_common::proto::datanode::ReportedBlock;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use tokio::task::spawn_blocking;

/// What the index knows about a finalized replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    pub len: u64,
    pub sha256: Sha256Digest,
}

/// An index entry: the replica, and the volume holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) info: BlockInfo,
    pub(super) vol: usize,
    /// Where its checksums are (a trailer, or a `.meta` of the old layout).
    pub(super) layout: Layout,
}

/// The index proper, behind the store's index lock.
#[derive(Default)]
pub(super) struct Index {
    pub(super) blocks: HashMap<BlockId, Entry>,
    /// Bytes of the blocks in `blocks` and in `committing`.
    pub(super) used: u64,
    /// The same, per volume.
    pub(super) vol_used: Vec<u64>,
    /// Replicas in `blocks`, per volume (kept as they change: reports read
    /// it at every heartbeat, and counting under the lock would stall the
    /// data path on a large store).
    pub(super) vol_blocks: Vec<u64>,
    /// Blocks whose files are in place and whose directory is being synced:
    /// not readable yet, but their names are taken.
    pub(super) committing: HashSet<BlockId>,
}

impl Index {
    pub(super) fn add_used(&mut self, vol: usize, len: u64) {
        self.used += len;
        if let Some(u) = self.vol_used.get_mut(vol) {
            *u += len;
        }
    }

    /// Indexes a replica whose bytes are already counted (`add_used`).
    pub(super) fn insert(&mut self, id: BlockId, e: Entry) {
        if let Some(old) = self.blocks.insert(id, e) {
            // Never happens (callers check first); keep the counts right.
            self.sub_used(old.vol, old.info.len);
            self.count(old.vol, false);
        }
        self.count(e.vol, true);
    }

    /// Forgets a replica and its bytes.
    pub(super) fn remove(&mut self, id: BlockId) -> Option<Entry> {
        let e = self.blocks.remove(&id)?;
        self.sub_used(e.vol, e.info.len);
        self.count(e.vol, false);
        Some(e)
    }

    fn count(&mut self, vol: usize, add: bool) {
        if let Some(n) = self.vol_blocks.get_mut(vol) {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        }
    }

    pub(super) fn sub_used(&mut self, vol: usize, len: u64) {
        self.used = self.used.saturating_sub(len);
        if let Some(u) = self.vol_used.get_mut(vol) {
            *u = u.saturating_sub(len);
        }
    }
}

impl BlockStore {
    /// Opens (creating as needed) a store of one data dir: see
    /// [`BlockStore::open_dirs`].
    pub async fn open(data_dir: &Path, capacity: Option<u64>) -> Result<BlockStore> {
        Self::open_dirs(&[data_dir.to_path_buf()], capacity).await
    }

    /// Opens (creating as needed) the store over `data_dirs`, one volume
    /// each: empties each `tmp/`, loads the index from each `blocks/`, and
    /// quarantines replicas whose `.meta` is missing, unreadable or
    /// disagrees with the data's length. A dir that cannot be opened is an
    /// error. A replica found on two volumes (a disk that came back after
    /// its blocks were copied elsewhere) is kept once: the other copy is
    /// removed if it is the same block, quarantined if not.
    pub async fn open_dirs(data_dirs: &[PathBuf], capacity: Option<u64>) -> Result<BlockStore> {
        Self::open_dirs_tolerating(data_dirs, capacity, 0, &[]).await
    }

    /// [`BlockStore::open_dirs`], where up to `tolerate` dirs may fail
    /// (`--max-failed-disks`): `known_failed` (found failed before, by
    /// [`crate::identity`]) and those that cannot be opened, do not pass
    /// the probe or cannot be scanned start out of service. More than
    /// `tolerate` of them, or none left in service, is an error.
    pub async fn open_dirs_tolerating(
        data_dirs: &[PathBuf],
        capacity: Option<u64>,
        tolerate: usize,
        known_failed: &[(PathBuf, String)],
    ) -> Result<BlockStore> {
        let data_dirs = data_dirs.to_vec();
        let known_failed = known_failed.to_vec();
        spawn_blocking(move || Self::open_blocking(&data_dirs, capacity, tolerate, &known_failed))
            .await?
    }

    fn open_blocking(
        data_dirs: &[PathBuf],
        capacity: Option<u64>,
        tolerate: usize,
        known_failed: &[(PathBuf, String)],
    ) -> Result<BlockStore> {
        if data_dirs.is_empty() {
            return Err(DatanodeError::Config("no data dir".into()));
        }
        let (failures_tx, failures_rx) = tokio::sync::mpsc::unbounded_channel();
        let inner = Inner {
            volumes: data_dirs.iter().map(|d| Volume::new(d)).collect(),
            failures_tx,
            failures_rx: Mutex::new(Some(failures_rx)),
            capacity,
            index: Mutex::new(Index::default()),
            files: Mutex::new(()),
            tmp_seq: AtomicU64::new(0),
        };
        // Why each volume that cannot be used failed.
        let mut failed: Vec<Option<String>> = vec![None; inner.volumes.len()];
        for (i, v) in inner.volumes.iter().enumerate() {
            if let Some((_, why)) = known_failed.iter().find(|(d, _)| *d == v.root) {
                failed[i] = Some(why.clone());
            } else if let Err(e) = prepare(v) {
                failed[i] = Some(e.to_string());
            } else if let Err(why) = v.probe() {
                failed[i] = Some(why);
            }
        }
        let store = BlockStore {
            inner: Arc::new(inner),
        };
        store.load_index(&mut failed)?;
        let n_failed = failed.iter().flatten().count();
        if n_failed > 0 {
            let list: Vec<String> = store
                .inner
                .volumes
                .iter()
                .zip(&failed)
                .filter_map(|(v, f)| {
                    f.as_ref()
                        .map(|why| format!("{} ({why})", v.root.display()))
                })
                .collect();
            if n_failed > tolerate || n_failed == failed.len() {
                return Err(DatanodeError::DisksFailed(format!(
                    "{n_failed} of {} data dirs cannot be used, more than --max-failed-disks {tolerate} \
                     tolerates: {}",
                    failed.len(),
                    list.join("; ")
                )));
            }
            for (v, why) in store.inner.volumes.iter().zip(&failed) {
                if let Some(why) = why {
                    v.mark_failed(why);
                    log::error!(
                        "data dir {} is out of service from the start: {why}",
                        v.root.display()
                    );
                }
            }
        }
        let vols = store.volumes();
        for v in &vols {
            log::info!(
                "block store {}: {} blocks, {} bytes",
                v.dir.display(),
                v.blocks,
                v.used
            );
        }
        Ok(store)
    }

    /// Loads the index from every volume not `failed` yet; a volume that
    /// cannot be scanned is added to `failed` and leaves nothing in it.
    fn load_index(&self, failed: &mut [Option<String>]) -> Result<()> {
        let mut index = Index {
            vol_used: vec![0; self.inner.volumes.len()],
            vol_blocks: vec![0; self.inner.volumes.len()],
            ..Index::default()
        };
        for (vol, v) in self.inner.volumes.iter().enumerate() {
            if failed[vol].is_some() {
                continue;
            }
            let loaded = self.load_volume(vol, v, &mut index).and_then(|()| {
                v.refresh_space().map_err(|e| {
                    DatanodeError::io(format!("reading the free space of {}", v.root.display()), e)
                })
            });
            if let Err(e) = loaded {
                // `vol` indexes the volumes, and the per-volume vectors are
                // as long.
                index.blocks.retain(|_, entry| entry.vol != vol);
                let lost = std::mem::take(&mut index.vol_used[vol]);
                index.used -= lost;
                index.vol_blocks[vol] = 0;
                failed[vol] = Some(e.to_string());
            }
        }
        *lock(&self.inner.index) = index;
        Ok(())
    }

    fn load_volume(&self, vol: usize, v: &Volume, index: &mut Index) -> Result<()> {
        let blocks_dir = &v.blocks_dir;
        let ctx = || format!("scanning {}", blocks_dir.display());
        for sub in fs::read_dir(blocks_dir).map_err(|e| DatanodeError::io(ctx(), e))? {
            let sub = sub.map_err(|e| DatanodeError::io(ctx(), e))?.path();
            if !sub.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&sub).map_err(|e| DatanodeError::io(ctx(), e))? {
                let path = entry.map_err(|e| DatanodeError::io(ctx(), e))?.path();
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                match ext {
                    "blk" => match stem.parse::<BlockId>() {
                        Ok(id) => match check_replica(&path, &path.with_extension("meta")) {
                            Ok((info, layout)) => match index.blocks.get(&id) {
                                None => {
                                    index.add_used(vol, info.len);
                                    index.insert(id, Entry { info, vol, layout });
                                }
                                Some(kept) if kept.info == info => {
                                    log::info!(
                                        "replica {id} is on two data dirs; removing the copy in {}",
                                        v.root.display()
                                    );
                                    for p in [path.clone(), path.with_extension("meta")] {
                                        match fs::remove_file(&p) {
                                            Ok(()) => {}
                                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                                            Err(e) => {
                                                log::warn!("cannot remove {}: {e}", p.display())
                                            }
                                        }
                                    }
                                }
                                Some(_) => {
                                    log::warn!(
                                        "quarantining replica {id} in {}: another data dir holds other bytes for it",
                                        v.root.display()
                                    );
                                    self.move_to_corrupt(vol, &path, stem);
                                }
                            },
                            Err(TrailerError::Io(what, e)) => {
                                return Err(DatanodeError::io(
                                    format!("reading the {what} of {}", path.display()),
                                    e,
                                ));
                            }
                            // A newer datanode's replica (a downgrade):
                            // the volume is not this binary's to judge.
                            Err(TrailerError::Unreadable(why)) => {
                                return Err(DatanodeError::io(
                                    format!("reading {}", path.display()),
                                    std::io::Error::other(why),
                                ));
                            }
                            Err(why) => {
                                log::warn!("quarantining replica {id} found at startup: {why}");
                                self.move_to_corrupt(vol, &path, stem);
                            }
                        },
                        Err(_) => {
                            log::warn!("quarantining {}: not a block id", path.display());
                            self.move_to_corrupt(vol, &path, stem);
                        }
                    },
                    // A meta without data is left by a write interrupted
                    // between its two renames: the block was never acked.
                    "meta" if !path.with_extension("blk").exists() => {
                        log::info!("removing orphan {}", path.display());
                        if let Err(e) = fs::remove_file(&path) {
                            log::warn!("cannot remove {}: {e}", path.display());
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Capacity cap from `--capacity`, if any.
    pub fn capacity(&self) -> Option<u64> {
        self.inner.capacity
    }

    /// The `blocks/` directory of every volume in service (for disk-space
    /// queries).
    pub fn blocks_dirs(&self) -> Vec<PathBuf> {
        self.inner
            .volumes
            .iter()
            .filter(|v| !v.is_failed())
            .map(|v| v.blocks_dir.clone())
            .collect()
    }

    pub fn get(&self, id: BlockId) -> Option<BlockInfo> {
        self.locate(id).map(|e| e.info)
    }

    /// A replica and the volume holding it.
    pub(super) fn locate(&self, id: BlockId) -> Option<Entry> {
        lock(&self.inner.index).blocks.get(&id).copied()
    }

    pub fn block_count(&self) -> usize {
        lock(&self.inner.index).blocks.len()
    }

    /// Bytes of block data held.
    pub fn used(&self) -> u64 {
        lock(&self.inner.index).used
    }

    /// Every finalized replica (a full block report).
    pub fn list(&self) -> Vec<ReportedBlock> {
        lock(&self.inner.index)
            .blocks
            .iter()
            .map(|(id, e)| ReportedBlock {
                id: *id,
                len: e.info.len,
                sha256: e.info.sha256,
            })
            .collect()
    }

    /// Forgets a replica and its bytes (callers hold the files lock).
    pub(super) fn remove_from_index(&self, id: BlockId) -> Option<Entry> {
        let mut index = lock(&self.inner.index);
        index.remove(id)
    }

    /// Refuses ([`DatanodeError::NoSpace`]) `len` more bytes that would take
    /// the store past its `--capacity` cap.
    pub(super) fn check_room(&self, len: u64) -> Result<()> {
        if let Some(cap) = self.inner.capacity {
            let used = self.used();
            if used.saturating_add(len) > cap {
                return Err(DatanodeError::NoSpace(format!(
                    "{len} more bytes would exceed this node's capacity ({used} of {cap} used)"
                )));
            }
        }
        Ok(())
    }
}

/// Creates a volume's directories and empties its `tmp/` (blocking).
fn prepare(v: &Volume) -> Result<()> {
    for dir in [&v.blocks_dir, &v.tmp_dir, &v.corrupt_dir] {
        fs::create_dir_all(dir)
            .map_err(|e| DatanodeError::io(format!("creating {}", dir.display()), e))?;
    }
    let ctx = |p: &Path| format!("emptying {}", p.display());
    for entry in fs::read_dir(&v.tmp_dir).map_err(|e| DatanodeError::io(ctx(&v.tmp_dir), e))? {
        let path = entry
            .map_err(|e| DatanodeError::io(ctx(&v.tmp_dir), e))?
            .path();
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(|e| DatanodeError::io(format!("removing {}", path.display()), e))?;
    }
    Ok(())
}

/// Startup check of one replica: a one-file replica whose footer and
/// trailer check out (a stray `.meta` beside it is removed), else a
/// two-file replica of the old layout: a decodable, consistent `.meta` whose
/// length is the data file's length. Returns why not: `Bad` for the log
/// and the quarantine, `Io` when the disk failed to read it (which fails
/// the volume's scan: nothing is quarantined for a disk's fault).
fn check_replica(
    blk: &Path,
    meta: &Path,
) -> std::result::Result<(BlockInfo, Layout), TrailerError> {
    let file = fs::File::open(blk).map_err(|e| TrailerError::Io("data file", e))?;
    let on_disk = file
        .metadata()
        .map_err(|e| TrailerError::Io("data file's length", e))?
        .len();
    let one_file = read_trailer(&file, on_disk);
    let m = match (one_file, meta.exists()) {
        (Ok(m), has_meta) => {
            if has_meta {
                // Never written beside a one-file replica; nothing reads it.
                log::warn!("removing stray {}", meta.display());
                if let Err(e) = fs::remove_file(meta) {
                    log::warn!("cannot remove {}: {e}", meta.display());
                }
            }
            return Ok((
                BlockInfo {
                    len: m.len,
                    sha256: m.sha256,
                },
                Layout::OneFile,
            ));
        }
        (Err(e @ (TrailerError::Io(..) | TrailerError::Unreadable(_))), _) => return Err(e),
        (Err(why), false) => return Err(why),
        (Err(_), true) => {
            let bytes = fs::read(meta).map_err(|e| TrailerError::Io("meta file", e))?;
            let m: BlockChecksums = codec::decode(&bytes).map_err(|e| format!("meta file: {e}"))?;
            m
        }
    };
    if !m.is_consistent() || m.chunk_size as usize != CHUNK_SIZE {
        return Err("meta file is inconsistent".into());
    }
    if on_disk != m.len {
        return Err(format!("{on_disk} bytes on disk, meta says {}", m.len).into());
    }
    Ok((
        BlockInfo {
            len: m.len,
            sha256: m.sha256,
        },
        Layout::TwoFile,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{data, put, read_all, tmp_files, write_two_file};
    use futures_util::StreamExt;

    fn corrupt_count(dir: &Path) -> usize {
        fs::read_dir(dir.join("corrupt")).unwrap().count()
    }

    /// One-file replicas: a good one is reloaded; a damaged footer, a
    /// damaged trailer, a file cut inside its trailer and a data-only file
    /// are quarantined, not indexed; a torn temp file and an orphan `.meta`
    /// are removed.
    #[tokio::test]
    async fn restart_reloads_index_and_quarantines_bad_replicas() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        let ids: Vec<BlockId> = (0..5).map(|_| BlockId::new()).collect();
        let (a, b, c, d, e) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
        let bytes = data(CHUNK_SIZE + 3);
        let ia = put(&store, a, &bytes).await;
        for id in [b, c, d, e] {
            put(&store, id, &bytes).await;
        }
        let whole = fs::read(store.block_path(a)).unwrap();
        assert!(whole.len() as u64 > ia.len + super::super::format::FOOTER_LEN);
        assert_eq!(&whole[..bytes.len()], &bytes[..]);
        assert!(!store.meta_path(a).exists(), "one file per replica");
        let flip = |id: BlockId, at: usize| {
            let mut f = fs::read(store.block_path(id)).unwrap();
            f[at] ^= 0x10;
            fs::write(store.block_path(id), f).unwrap();
        };
        flip(b, whole.len() - 20); // the footer
        flip(d, bytes.len() + 2); // the trailer
        fs::OpenOptions::new()
            .write(true)
            .open(store.block_path(c))
            .unwrap()
            .set_len(bytes.len() as u64 + 5)
            .unwrap();
        fs::write(store.block_path(e), &bytes).unwrap(); // data only
                                                         // A temp file torn before its footer, and a whole one never renamed.
        let tmp = dir.path().join("tmp");
        fs::write(
            tmp.join(format!("{}.0.blk.tmp", BlockId::new())),
            &whole[..whole.len() - 7],
        )
        .unwrap();
        fs::write(tmp.join(format!("{}.1.blk.tmp", BlockId::new())), &whole).unwrap();
        let orphan = store.meta_path(BlockId::new());
        fs::create_dir_all(orphan.parent().unwrap()).unwrap();
        fs::write(&orphan, b"meta of a write cut between its renames").unwrap();
        drop(store);

        let store = BlockStore::open(dir.path(), None).await.unwrap();
        assert_eq!(
            store.list(),
            vec![ReportedBlock {
                id: a,
                len: ia.len,
                sha256: ia.sha256
            }]
        );
        assert_eq!(store.used(), ia.len);
        assert_eq!(read_all(&store, a, None, None).await.unwrap(), bytes);
        assert_eq!(tmp_files(dir.path()), 0);
        assert!(!orphan.exists());
        assert_eq!(corrupt_count(dir.path()), 4, "b, c, d, e");
        for id in [b, c, d, e] {
            assert!(!store.block_path(id).exists());
        }
    }

    /// A replica the disk fails to read at startup is not taken for a
    /// damaged one: nothing is quarantined, the volume's scan fails with
    /// the read error (a volume that cannot be read is failed, as any), and
    /// every file stays where it was.
    #[tokio::test]
    async fn a_read_error_at_startup_quarantines_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        let a = BlockId::new();
        put(&store, a, &data(CHUNK_SIZE + 3)).await;
        // A "replica" every read of which fails (EISDIR), as a bad disk's.
        let b = BlockId::new();
        fs::create_dir_all(store.block_path(b)).unwrap();
        let (pa, pb) = (store.block_path(a), store.block_path(b));
        drop(store);
        let e = BlockStore::open(dir.path(), None)
            .await
            .err()
            .expect("must not open");
        assert!(e.to_string().contains("reading the footer"), "{e}");
        assert_eq!(corrupt_count(dir.path()), 0);
        assert!(pa.is_file() && pb.is_dir());
    }

    /// A replica written in a newer format (a datanode downgraded) is not
    /// damage: the volume is refused with the reason, nothing quarantined.
    #[tokio::test]
    async fn a_newer_format_at_startup_quarantines_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        let (a, b) = (BlockId::new(), BlockId::new());
        put(&store, a, &data(CHUNK_SIZE + 3)).await;
        put(&store, b, &data(100)).await;
        let pb = store.block_path(b);
        drop(store);
        let mut f = fs::read(&pb).unwrap();
        super::super::format::set_footer_version(&mut f, 2);
        fs::write(&pb, &f).unwrap();
        let e = BlockStore::open(dir.path(), None)
            .await
            .err()
            .expect("must not open");
        assert!(e.to_string().contains("replica format 2"), "{e}");
        assert_eq!(corrupt_count(dir.path()), 0);
        assert_eq!(fs::read(&pb).unwrap(), f, "left as it was");
    }

    /// Two-file replicas written by the previous layout open with this code:
    /// indexed and reported, served bit-exact (whole and ranges, checksums
    /// too), checked as before (a flipped byte is caught and quarantine
    /// moves both files; a bad `.meta` is quarantined at startup), deleted
    /// with both files; new writes beside them are one file.
    #[tokio::test]
    async fn old_two_file_replicas_are_served_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [0, 1, CHUNK_SIZE + 3, 3 * CHUNK_SIZE, 20 * CHUNK_SIZE + 17];
        let old: Vec<(BlockId, Vec<u8>)> =
            sizes.iter().map(|&n| (BlockId::new(), data(n))).collect();
        for (id, bytes) in &old {
            write_two_file(dir.path(), *id, bytes);
        }
        let (bad_meta, short) = (BlockId::new(), BlockId::new());
        write_two_file(dir.path(), bad_meta, &data(100));
        write_two_file(dir.path(), short, &data(100));
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        fs::write(store.meta_path_on(0, bad_meta), b"\x01garbage").unwrap();
        fs::write(store.block_path_on(0, short), data(99)).unwrap();
        drop(store);

        let store = BlockStore::open(dir.path(), None).await.unwrap();
        assert_eq!(
            corrupt_count(dir.path()),
            4,
            "bad_meta and short, two files each"
        );
        let mut want: Vec<ReportedBlock> = old
            .iter()
            .map(|(id, b)| ReportedBlock {
                id: *id,
                len: b.len() as u64,
                sha256: Sha256Digest::of(b),
            })
            .collect();
        let mut got = store.list();
        want.sort_by_key(|r| r.id);
        got.sort_by_key(|r| r.id);
        assert_eq!(got, want);
        let total: usize = sizes.iter().sum();
        assert_eq!(store.used(), total as u64);
        for (id, bytes) in &old {
            assert_eq!(&read_all(&store, *id, None, None).await.unwrap(), bytes);
            assert_eq!(store.meta(*id).await.unwrap(), BlockChecksums::of(bytes));
            if bytes.len() > 10 {
                let (off, len) = (bytes.len() as u64 / 3, bytes.len() as u64 / 2);
                assert_eq!(
                    read_all(&store, *id, Some(off), Some(len)).await.unwrap(),
                    &bytes[off as usize..(off + len) as usize]
                );
            }
        }
        // A new write beside them is one file.
        let new = BlockId::new();
        put(&store, new, &data(5000)).await;
        assert!(store.block_path(new).exists() && !store.meta_path(new).exists());

        // A flipped byte in an old replica is caught; quarantine moves both files.
        let (flipped, bytes) = &old[3];
        let mut f = fs::read(store.block_path(*flipped)).unwrap();
        f[CHUNK_SIZE + 1] ^= 1;
        fs::write(store.block_path(*flipped), f).unwrap();
        let mut r = store.read(*flipped, None, None).await.unwrap();
        let mut err = None;
        while let Some(piece) = r.stream.next().await {
            if let Err(e) = piece {
                err = Some(e);
            }
        }
        assert!(
            matches!(err, Some(DatanodeError::Corrupt { .. })),
            "{err:?}"
        );
        assert!(store.quarantine(*flipped, "test").await.unwrap());
        assert_eq!(corrupt_count(dir.path()), 6);
        assert!(!store.meta_path_on(0, *flipped).exists());
        assert_eq!(store.used(), (total - bytes.len() + 5000) as u64);

        // Delete removes both files of an old replica.
        let (gone, _) = &old[2];
        assert!(store.delete(*gone).await.unwrap());
        assert!(!store.block_path_on(0, *gone).exists());
        assert!(!store.meta_path_on(0, *gone).exists());

        // And they survive another restart as they are.
        drop(store);
        let store = BlockStore::open(dir.path(), None).await.unwrap();
        assert_eq!(store.block_count(), old.len() - 2 + 1);
        let (kept, bytes) = &old[4];
        assert_eq!(&read_all(&store, *kept, None, None).await.unwrap(), bytes);
    }
}
