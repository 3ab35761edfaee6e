//! Volumes: the disks of the store (HDFS `FsVolumeImpl`). A datanode given
//! `--data-dir A,B,C` has one volume per dir, each with its own `blocks/`,
//! `tmp/` and `corrupt/` (see [`layout`](super::layout)); the index says
//! which volume holds each replica.
//!
//! This file holds a volume's state (in service or failed, its free space as
//! last seen), the choice of a volume for a new block ([`choose`], pure), the
//! health probe, and taking a failed volume out of service.
//!
//! A volume fails when an I/O error on it (other than a full disk) is
//! confirmed by a probe, when its `blocks/` dir is gone, or when the
//! periodic probe ([`BlockStore::check_volumes`]) cannot write and sync a
//! small file in it; or at opening, when it cannot be opened, probed or
//! scanned (up to the tolerated count: [`BlockStore::open_dirs_tolerating`];
//! it then starts out of service and nothing is announced, since nothing of
//! it was reported). Failing is at once and for good (until a restart): no
//! new write goes there, its replicas leave the index, and a
//! [`VolumeFailure`] naming them goes out on the store's failure channel
//! ([`BlockStore::take_failures`]), for the node to report them lost and
//! decide whether it can go on. The files are left where they are.
//!
//! Invariants:
//! - A failed volume never comes back into service within a process.
//! - The failure of a volume is announced once, with every replica it held.
//! - The last volume in service may fail too: then every write is refused
//!   with [`DatanodeError::NoSpace`] and the node's owner decides to stop.
use super::layout::{BLOCKS_DIR, CORRUPT_DIR, TMP_DIR};
use super::{lock, BlockStore};
use crate::error::{DatanodeError, Result};
use dfs_common::ids::BlockId;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::task::spawn_blocking;

/// The probe file written and synced in a volume's dir to check it works.
const PROBE_FILE: &str = ".probe";

/// One disk of the store.
pub(super) struct Volume {
    /// The data dir as given.
    pub(super) root: PathBuf,
    pub(super) blocks_dir: PathBuf,
    pub(super) tmp_dir: PathBuf,
    pub(super) corrupt_dir: PathBuf,
    /// Why it was taken out of service (`None`: in service).
    failed: Mutex<Option<String>>,
    /// Bytes available on its file system at the last look (`statvfs`).
    available: AtomicU64,
    /// Its size at the last look.
    total: AtomicU64,
    /// Bytes committed to it since that look: the choice counts them off
    /// `available`, so that blocks spread between two looks.
    since: AtomicU64,
}

/// A volume taken out of service, and the replicas it held (now gone from
/// the index: the node reports them lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeFailure {
    /// The data dir of the volume.
    pub dir: PathBuf,
    pub reason: String,
    pub lost: Vec<BlockId>,
}

/// A volume as reports show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeStatus {
    pub dir: PathBuf,
    /// Bytes of block data it holds (0 once failed).
    pub used: u64,
    pub blocks: usize,
    /// Its file system's size and what is available there, at the last look.
    pub total: u64,
    pub available: u64,
    /// Why it is out of service (`None`: in service).
    pub failed: Option<String>,
}

impl Volume {
    pub(super) fn new(root: &Path) -> Volume {
        Volume {
            root: root.to_path_buf(),
            blocks_dir: root.join(BLOCKS_DIR),
            tmp_dir: root.join(TMP_DIR),
            corrupt_dir: root.join(CORRUPT_DIR),
            failed: Mutex::new(None),
            available: AtomicU64::new(0),
            total: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }

    /// Takes it out of service before anything was indexed on it (opening).
    pub(super) fn mark_failed(&self, why: &str) {
        *lock(&self.failed) = Some(why.to_string());
    }

    pub(super) fn is_failed(&self) -> bool {
        lock(&self.failed).is_some()
    }

    /// Reads the file system's size and free space (blocking).
    pub(super) fn refresh_space(&self) -> std::io::Result<()> {
        let stats = fs4::statvfs(&self.blocks_dir)?;
        self.total.store(stats.total_space(), Ordering::Relaxed);
        self.available
            .store(stats.available_space(), Ordering::Relaxed);
        self.since.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// What the choice counts as available now.
    fn available_now(&self) -> u64 {
        self.available
            .load(Ordering::Relaxed)
            .saturating_sub(self.since.load(Ordering::Relaxed))
    }

    pub(super) fn charge(&self, len: u64) {
        self.since.fetch_add(len, Ordering::Relaxed);
    }

    /// Whether the dir works: its `blocks/` is there, and a small file can be
    /// written and synced in its `tmp/` (a full disk passes) (blocking).
    /// Says why not.
    pub(super) fn probe(&self) -> std::result::Result<(), String> {
        match fs::metadata(&self.blocks_dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("{} is not a directory", self.blocks_dir.display())),
            Err(e) => return Err(format!("{}: {e}", self.blocks_dir.display())),
        }
        let path = self.tmp_dir.join(PROBE_FILE);
        let written = (|| -> std::io::Result<()> {
            let mut f = fs::File::create(&path)?;
            f.write_all(b"probe\n")?;
            f.sync_all()
        })();
        let _ = fs::remove_file(&path);
        match written {
            // A full disk is a working disk: it refuses blocks with "no
            // space" on its own, and must not stop the node.
            Err(e) if is_full(&e) => Ok(()),
            other => other.map_err(|e| format!("cannot write and sync {}: {e}", path.display())),
        }
    }
}

/// The volume a new block of `need` bytes goes to: among those in service
/// (`Some(available bytes)`), one with room for it and the most available;
/// ties go round by `turn`. `None`: no volume in service has room.
pub(super) fn choose(volumes: &[Option<u64>], need: u64, turn: u64) -> Option<usize> {
    let best = volumes.iter().flatten().filter(|a| **a >= need).max()?;
    let tied: Vec<usize> = (0..volumes.len())
        .filter(|i| volumes[*i] == Some(*best))
        .collect();
    // `tied` holds at least the volume `best` came from.
    tied.get((turn % tied.len() as u64) as usize).copied()
}

impl BlockStore {
    /// The volume for a new block of about `need` bytes (0: unknown).
    pub(super) fn choose_volume(&self, need: u64) -> Result<usize> {
        let volumes = &self.inner.volumes;
        let seen: Vec<Option<u64>> = volumes
            .iter()
            .map(|v| (!v.is_failed()).then(|| v.available_now()))
            .collect();
        let turn = self.inner.tmp_seq.load(Ordering::Relaxed);
        if let Some(i) = choose(&seen, need, turn) {
            return Ok(i);
        }
        // None with room as last seen: the disk may have been freed since,
        // so any volume in service may still try (and a full disk answers
        // no space, as before several disks).
        match choose(&seen, 0, turn) {
            Some(i) => Ok(i),
            None => Err(DatanodeError::NoSpace(
                "every data dir of this datanode has failed".into(),
            )),
        }
    }

    /// Every volume's state, in `--data-dir` order.
    pub fn volumes(&self) -> Vec<VolumeStatus> {
        let (used, blocks) = {
            let index = lock(&self.inner.index);
            (index.vol_used.clone(), index.vol_blocks.clone())
        };
        self.inner
            .volumes
            .iter()
            .enumerate()
            .map(|(i, v)| VolumeStatus {
                dir: v.root.clone(),
                used: used.get(i).copied().unwrap_or(0),
                blocks: blocks.get(i).map_or(0, |n| *n as usize),
                total: v.total.load(Ordering::Relaxed),
                available: v.available_now(),
                failed: lock(&v.failed).clone(),
            })
            .collect()
    }

    /// Volumes out of service.
    pub fn failed_volumes(&self) -> usize {
        self.inner.volumes.iter().filter(|v| v.is_failed()).count()
    }

    /// The failures of volumes, as they happen (once: the first caller
    /// gets the receiver).
    pub fn take_failures(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<VolumeFailure>> {
        lock(&self.inner.failures_rx).take()
    }

    /// Probes every volume in service, takes those that fail out of
    /// service, and reads every one's free space.
    pub async fn check_volumes(&self) {
        let store = self.clone();
        let checked = spawn_blocking(move || {
            for (i, v) in store.inner.volumes.iter().enumerate() {
                if v.is_failed() {
                    continue;
                }
                if let Err(why) = v.probe() {
                    store.fail_volume(i, &why);
                    continue;
                }
                if let Err(e) = v.refresh_space() {
                    log::warn!("cannot read the free space of {}: {e}", v.root.display());
                }
            }
        })
        .await;
        if let Err(e) = checked {
            log::error!("volume check failed: {e}");
        }
    }

    /// An I/O error on volume `vol`: unless it says "disk full", probe the volume and take it out of service if the probe
    /// fails too (blocking; from async code see [`BlockStore::suspect`]).
    pub(super) fn check_after_error(&self, vol: usize, e: &std::io::Error) {
        if is_full(e) {
            return;
        }
        let Some(v) = self.inner.volumes.get(vol) else {
            return;
        };
        if v.is_failed() {
            return;
        }
        if let Err(why) = v.probe() {
            self.fail_volume(vol, &format!("{why} (after: {e})"));
        }
    }

    /// [`BlockStore::check_after_error`] on a blocking thread, for async
    /// callers; the error is answered at once either way.
    pub(super) fn suspect(&self, vol: usize, e: &std::io::Error) {
        if is_full(e) {
            return;
        }
        let store = self.clone();
        let e = std::io::Error::new(e.kind(), e.to_string());
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(move || store.check_after_error(vol, &e));
            }
            Err(_) => store.check_after_error(vol, &e),
        }
    }

    /// Takes volume `vol` out of service: no new write goes there, its
    /// replicas leave the index, and a [`VolumeFailure`] is announced.
    /// Returns whether this call failed it (a second call does nothing).
    pub(super) fn fail_volume(&self, vol: usize, reason: &str) -> bool {
        let Some(v) = self.inner.volumes.get(vol) else {
            return false;
        };
        {
            let mut failed = lock(&v.failed);
            if failed.is_some() {
                return false;
            }
            *failed = Some(reason.to_string());
        }
        let lost: Vec<BlockId> = {
            let mut index = lock(&self.inner.index);
            let lost: Vec<BlockId> = index
                .blocks
                .iter()
                .filter(|(_, e)| e.vol == vol)
                .map(|(id, _)| *id)
                .collect();
            for id in &lost {
                index.remove(*id);
            }
            lost
        };
        log::error!(
            "data dir {} failed and is out of service ({reason}); its {} replicas are lost here",
            v.root.display(),
            lost.len()
        );
        let _ = self.inner.failures_tx.send(VolumeFailure {
            dir: v.root.clone(),
            reason: reason.to_string(),
            lost,
        });
        true
    }
}

/// A full disk or quota: says nothing about the disk's health.
fn is_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{data, put, read_all};

    fn blk_files(dir: &Path) -> usize {
        walk(&dir.join(BLOCKS_DIR))
            .filter(|p| p.extension().is_some_and(|e| e == "blk"))
            .count()
    }

    fn walk(dir: &Path) -> impl Iterator<Item = PathBuf> {
        fs::read_dir(dir)
            .map(|r| r.flatten().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .flat_map(|e| {
                let p = e.path();
                if p.is_dir() {
                    walk(&p).collect::<Vec<_>>()
                } else {
                    vec![p]
                }
            })
    }

    #[test]
    fn a_full_disk_is_not_a_failed_disk() {
        use std::io::Error;
        assert!(is_full(&Error::from_raw_os_error(libc::ENOSPC)));
        assert!(is_full(&Error::from_raw_os_error(libc::EDQUOT)));
        for failed in [libc::EIO, libc::EROFS, libc::ENOENT] {
            assert!(!is_full(&Error::from_raw_os_error(failed)), "{failed}");
        }
    }

    #[tokio::test]
    async fn blocks_spread_over_volumes_and_a_failed_one_is_announced() {
        let root = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..3).map(|i| root.path().join(format!("d{i}"))).collect();
        let store = BlockStore::open_dirs(&dirs, None).await.unwrap();
        let failures = store.take_failures().unwrap();
        assert!(store.take_failures().is_none(), "one watcher");
        let bytes = data(5000);
        let ids: Vec<BlockId> = (0..30).map(|_| BlockId::new()).collect();
        for id in &ids {
            put(&store, *id, &bytes).await;
        }
        // Same file system: the choice goes round, every disk gets some.
        let counts: Vec<usize> = dirs.iter().map(|d| blk_files(d)).collect();
        assert_eq!(counts.iter().sum::<usize>(), 30);
        assert!(counts.iter().all(|c| *c >= 5), "{counts:?}");
        let vols = store.volumes();
        assert_eq!(vols.iter().map(|v| v.blocks).sum::<usize>(), 30);
        assert_eq!(vols.iter().map(|v| v.used).sum::<u64>(), store.used());

        // A restart finds every block where it is.
        drop(store);
        let store = BlockStore::open_dirs(&dirs, None).await.unwrap();
        let mut failures = {
            drop(failures);
            store.take_failures().unwrap()
        };
        for id in &ids {
            assert_eq!(read_all(&store, *id, None, None).await.unwrap(), bytes);
        }

        // Disk 1 goes away: the periodic check takes it out of service.
        let on_1: Vec<BlockId> = ids
            .iter()
            .copied()
            .filter(|id| store.block_path(*id).starts_with(&dirs[1]))
            .collect();
        fs::rename(&dirs[1], root.path().join("gone")).unwrap();
        store.check_volumes().await;
        let f = failures.try_recv().unwrap();
        assert_eq!(f.dir, dirs[1]);
        let (mut lost, mut want) = (f.lost.clone(), on_1.clone());
        lost.sort();
        want.sort();
        assert_eq!(lost, want);
        assert_eq!(store.failed_volumes(), 1);
        assert!(store.volumes()[1].failed.is_some());
        store.check_volumes().await;
        assert!(failures.try_recv().is_err(), "announced once");
        assert_eq!(store.block_count(), 30 - on_1.len());
        let vols = store.volumes();
        assert_eq!((vols[1].blocks, vols[1].used), (0, 0));
        assert_eq!(
            vols.iter().map(|v| v.blocks).sum::<usize>(),
            store.block_count()
        );
        assert_eq!(vols.iter().map(|v| v.used).sum::<u64>(), store.used());
        // The others still read, and new blocks avoid the failed disk.
        for id in ids.iter().filter(|id| !on_1.contains(id)) {
            assert_eq!(read_all(&store, *id, None, None).await.unwrap(), bytes);
        }
        for _ in 0..6 {
            let id = BlockId::new();
            put(&store, id, &bytes).await;
            assert!(!store.block_path(id).starts_with(&dirs[1]));
        }
    }

    #[tokio::test]
    async fn an_io_error_on_a_gone_disk_fails_it_at_once() {
        let root = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..2).map(|i| root.path().join(format!("d{i}"))).collect();
        let store = BlockStore::open_dirs(&dirs, None).await.unwrap();
        let mut failures = store.take_failures().unwrap();
        let bytes = data(3000);
        let (a, b) = (BlockId::new(), BlockId::new());
        put(&store, a, &bytes).await;
        put(&store, b, &bytes).await;
        let vol_of = |id| usize::from(store.block_path(id).starts_with(&dirs[1]));
        assert_ne!(vol_of(a), vol_of(b), "ties go round");
        let gone = vol_of(a);
        fs::remove_dir_all(&dirs[gone]).unwrap();
        // A read finds the file gone, and the disk with it.
        assert!(matches!(
            store.read(a, None, None).await,
            Err(DatanodeError::Vanished(_))
        ));
        let f = failures.try_recv().unwrap();
        assert_eq!(
            (f.dir.clone(), f.lost.clone()),
            (dirs[gone].clone(), vec![a])
        );
        assert_eq!(read_all(&store, b, None, None).await.unwrap(), bytes);
        // Every disk failed: writes are refused, not sent to a dead disk.
        fs::remove_dir_all(&dirs[1 - gone]).unwrap();
        store.check_volumes().await;
        assert!(failures.try_recv().is_ok());
        assert!(matches!(
            store.writer(BlockId::new(), Some(10)).await,
            Err(DatanodeError::NoSpace(_))
        ));
    }

    #[tokio::test]
    async fn a_disk_that_cannot_be_opened_is_tolerated_up_to_the_limit() {
        let root = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..3).map(|i| root.path().join(format!("d{i}"))).collect();
        let bytes = data(1000);
        let id = BlockId::new();
        {
            let store = BlockStore::open_dirs(&dirs, None).await.unwrap();
            put(&store, id, &bytes).await;
        }
        let holder = dirs.iter().position(|d| blk_files(d) == 1).unwrap();
        let broken = (holder + 1) % 3;
        // Its blocks/ replaced by a file: it cannot be scanned.
        fs::remove_dir_all(dirs[broken].join(BLOCKS_DIR)).unwrap();
        fs::write(dirs[broken].join(BLOCKS_DIR), b"not a dir").unwrap();
        let err = match BlockStore::open_dirs(&dirs, None).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("opened with a broken disk and no tolerance"),
        };
        assert!(err.contains(&*dirs[broken].to_string_lossy()), "{err}");
        let store = BlockStore::open_dirs_tolerating(&dirs, None, 1, &[])
            .await
            .unwrap();
        assert_eq!(store.failed_volumes(), 1);
        assert!(store.volumes()[broken].failed.is_some());
        assert_eq!(read_all(&store, id, None, None).await.unwrap(), bytes);
        for _ in 0..4 {
            let b = BlockId::new();
            put(&store, b, &bytes).await;
            assert!(!store.block_path(b).starts_with(&dirs[broken]));
        }
        // One failed before (found by the identity check) and this one: two.
        let known = [(dirs[holder].clone(), "test".to_string())];
        assert!(BlockStore::open_dirs_tolerating(&dirs, None, 1, &known)
            .await
            .is_err());
        // Never with every disk failed.
        assert!(
            BlockStore::open_dirs_tolerating(&dirs[broken..=broken], None, 5, &[])
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_write_to_a_disk_that_goes_away_fails_and_fails_the_disk() {
        let root = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..3).map(|i| root.path().join(format!("d{i}"))).collect();
        let store = BlockStore::open_dirs(&dirs, None).await.unwrap();
        let mut failures = store.take_failures().unwrap();
        let bytes = data(2 << 20); // past one buffer: the temp file exists
        let mut w = store.writer(BlockId::new(), None).await.unwrap();
        w.write(&bytes).await.unwrap();
        let vol = dirs
            .iter()
            .position(|d| fs::read_dir(d.join(TMP_DIR)).unwrap().count() > 0)
            .unwrap();
        fs::remove_dir_all(&dirs[vol]).unwrap();
        assert!(matches!(
            w.finish(Default::default()).await,
            Err(DatanodeError::Io { .. })
        ));
        let f = failures.try_recv().unwrap();
        assert_eq!(f.dir, dirs[vol]);
        assert_eq!(store.failed_volumes(), 1);
        // The next writes go to the others, and succeed.
        let id = BlockId::new();
        put(&store, id, &bytes).await;
        assert!(!store.block_path(id).starts_with(&dirs[vol]));
        assert_eq!(read_all(&store, id, None, None).await.unwrap(), bytes);
    }

    #[tokio::test]
    async fn a_block_on_two_disks_is_kept_once() {
        let root = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..2).map(|i| root.path().join(format!("d{i}"))).collect();
        let bytes = data(2000);
        let id = BlockId::new();
        // The same block written to each disk alone (a disk that came back
        // after its blocks were copied elsewhere).
        for d in &dirs {
            let one = BlockStore::open(d, None).await.unwrap();
            put(&one, id, &bytes).await;
        }
        let store = BlockStore::open_dirs(&dirs, None).await.unwrap();
        assert_eq!(store.block_count(), 1);
        assert_eq!(store.used(), 2000);
        assert_eq!(dirs.iter().map(|d| blk_files(d)).sum::<usize>(), 1);
        assert_eq!(store.volumes().iter().map(|v| v.blocks).sum::<usize>(), 1);
        assert!(store.delete(id).await.unwrap());
        assert_eq!(dirs.iter().map(|d| blk_files(d)).sum::<usize>(), 0);
        assert!(store.volumes().iter().all(|v| v.blocks == 0 && v.used == 0));
    }

    #[test]
    fn the_volume_with_most_room_is_chosen() {
        assert_eq!(choose(&[Some(10), Some(30), Some(20)], 5, 0), Some(1));
        // Failed volumes are skipped, and so are those without room.
        assert_eq!(choose(&[Some(10), None, Some(20)], 5, 0), Some(2));
        assert_eq!(choose(&[Some(10), None, Some(4)], 5, 7), Some(0));
        assert_eq!(choose(&[Some(3), None, Some(4)], 5, 0), None);
        assert_eq!(choose(&[None, None], 0, 0), None);
        assert_eq!(choose(&[], 0, 0), None);
        // Ties go round.
        let picks: Vec<_> = (0..4)
            .map(|t| choose(&[Some(9), Some(2), Some(9)], 1, t))
            .collect();
        assert_eq!(picks, vec![Some(0), Some(2), Some(0), Some(2)]);
    }
}
