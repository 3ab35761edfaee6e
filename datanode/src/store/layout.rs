//! Where a replica's files are under its volume's data dir (see
//! [`volume`](super::volume)):
//! - `blocks/<last 2 hex chars of id>/<id>.blk`: the replica: its bytes,
//!   then its [`BlockChecksums`] (length, SHA-256 and one CRC32C per 64 KiB
//!   chunk) in a trailer (see [`format`](super::format));
//! - `blocks/<..>/<id>.meta`: only beside a replica written before issue 19
//!   (two-file layout: the `.blk` holds the bytes only, the `.meta` its
//!   [`BlockChecksums`] encoded with `dfs_common::codec`);
//! - `tmp/`: writes in progress (emptied at startup);
//! - `corrupt/`: quarantined replicas (`<id>.<unix ms>.blk`, and `.meta`
//!   for a two-file one), kept for a human to look at.
//!
//! (The fan-out uses the last two hex characters: block ids are UUID v7,
//! whose leading characters are timestamp bits that nearly all blocks share,
//! while the trailing ones are random and spread blocks over 256 directories.)
//!
//! Paths, the directory fsync, and the one move out of `blocks/` that keeps
//! the files: into `corrupt/` ([`BlockStore::move_to_corrupt`]). Does not
//! touch the index; the callers decide when a move happens.
//!
//! [`BlockChecksums`]: dfs_common::checksum::BlockChecksums
use super::BlockStore;
use dfs_common::ids::BlockId;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

// The data dir's subdirectories (see the module doc).
pub(super) const BLOCKS_DIR: &str = "blocks";
pub(super) const TMP_DIR: &str = "tmp";
pub(super) const CORRUPT_DIR: &str = "corrupt";

impl BlockStore {
    /// The fan-out directory of block `id` under volume `vol`'s `blocks/`.
    pub(super) fn fanout_dir_on(&self, vol: usize, id: BlockId) -> PathBuf {
        let s = id.to_string();
        self.volume(vol).blocks_dir.join(&s[s.len() - 2..])
    }

    /// Path of a block's data file on volume `vol` (whether or not it exists).
    pub(super) fn block_path_on(&self, vol: usize, id: BlockId) -> PathBuf {
        self.fanout_dir_on(vol, id).join(format!("{id}.blk"))
    }

    /// Path of a block's `.meta` on volume `vol` (whether or not it exists).
    pub(super) fn meta_path_on(&self, vol: usize, id: BlockId) -> PathBuf {
        self.fanout_dir_on(vol, id).join(format!("{id}.meta"))
    }

    /// Path of a block's data file on the volume that holds it (the first
    /// volume for a block not held), whether or not it exists.
    pub fn block_path(&self, id: BlockId) -> PathBuf {
        self.block_path_on(self.locate(id).map_or(0, |e| e.vol), id)
    }

    /// Path of a block's `.meta`, as [`BlockStore::block_path`].
    #[cfg(test)]
    pub(super) fn meta_path(&self, id: BlockId) -> PathBuf {
        self.meta_path_on(self.locate(id).map_or(0, |e| e.vol), id)
    }

    /// Volume `vol` (an index the store handed out: always in range; the
    /// last volume otherwise, never a panic).
    pub(super) fn volume(&self, vol: usize) -> &super::volume::Volume {
        let vols = &self.inner.volumes;
        // `open` refuses an empty list, so `vols` has a last element.
        &vols[vol.min(vols.len() - 1)]
    }

    /// Moves `<stem>.blk` and its `.meta` (whichever exist) into volume
    /// `vol`'s `corrupt/`. Failures are logged: quarantine is best effort,
    /// the index no longer lists the replica either way.
    pub(super) fn move_to_corrupt(&self, vol: usize, blk: &Path, stem: &str) {
        let corrupt_dir = &self.volume(vol).corrupt_dir;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        for ext in ["blk", "meta"] {
            let from = blk.with_extension(ext);
            let to = corrupt_dir.join(format!("{stem}.{stamp}.{ext}"));
            match fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => log::error!("cannot move {} to {}: {e}", from.display(), to.display()),
            }
        }
        for dir in [blk.parent(), Some(corrupt_dir.as_path())]
            .into_iter()
            .flatten()
        {
            if let Err(e) = sync_dir(dir) {
                log::warn!("cannot sync {}: {e}", dir.display());
            }
        }
    }
}

/// Makes a directory's entries (creations, renames, removals) durable.
pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
