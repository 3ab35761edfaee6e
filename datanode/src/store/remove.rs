//! Replicas leaving the store: deleted (a namenode command, a client's
//! `DELETE`), quarantined (moved to `corrupt/` after failing verification),
//! or forgotten (their `.blk` vanished behind our back). A two-file replica
//! (before issue 19) loses its `.meta` with its `.blk`.
//!
//! Invariants:
//! - Each runs under the files lock, so it never interleaves with a commit
//!   or another removal of the same id.
//! - The index entry goes first, so no new read opens the replica; a read
//!   that already has the file open reads it to the end.
//! - A replica is quarantined or forgotten once: a second attempt finds it
//!   gone from the index and does nothing, so it is reported once.
//! - Quarantine is best effort: the files are moved if they can be (else
//!   logged), and the index forgets the replica either way.
use super::layout::sync_dir;
use super::{lock, BlockInfo, BlockStore};
use crate::error::{DatanodeError, Result};
use dfs_common::ids::BlockId;
use std::fs;
use std::io::ErrorKind;
use tokio::task::spawn_blocking;

impl BlockStore {
    /// Removes a replica. Returns whether there was one.
    pub async fn delete(&self, id: BlockId) -> Result<bool> {
        let store = self.clone();
        spawn_blocking(move || store.delete_blocking(id)).await?
    }

    fn delete_blocking(&self, id: BlockId) -> Result<bool> {
        let _files = lock(&self.inner.files);
        let removed = self.remove_from_index(id);
        let mut found = removed.is_some();
        // Not indexed: a leftover may still sit on any volume in service.
        let vols: Vec<usize> = match removed {
            Some(e) => vec![e.vol],
            None => (0..self.inner.volumes.len())
                .filter(|v| !self.volume(*v).is_failed())
                .collect(),
        };
        for vol in vols {
            let mut here = false;
            for path in [self.block_path_on(vol, id), self.meta_path_on(vol, id)] {
                match fs::remove_file(&path) {
                    Ok(()) => here = true,
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => {
                        self.check_after_error(vol, &e);
                        return Err(DatanodeError::io(format!("removing {}", path.display()), e));
                    }
                }
            }
            if here {
                found = true;
                sync_dir(&self.fanout_dir_on(vol, id)).map_err(|e| {
                    self.check_after_error(vol, &e);
                    DatanodeError::io("syncing block dir", e)
                })?;
            }
        }
        Ok(found)
    }

    /// Moves a replica to `corrupt/` and forgets it. Returns whether it was
    /// still here: `false` when a delete or another quarantine got there
    /// first (then nothing is moved and there is nothing to report).
    pub async fn quarantine(&self, id: BlockId, reason: &str) -> Result<bool> {
        let store = self.clone();
        let reason = reason.to_string();
        let had = spawn_blocking(move || {
            let _files = lock(&store.inner.files);
            let Some(e) = store.remove_from_index(id) else {
                return false;
            };
            log::warn!("quarantining replica {id}: {reason}");
            store.move_to_corrupt(e.vol, &store.block_path_on(e.vol, id), &id.to_string());
            true
        })
        .await?;
        Ok(had)
    }

    /// A read found the `.blk` of an indexed replica on volume `vol`
    /// missing (blocking). Under the files lock, so a delete or write of the
    /// same id cannot interleave: if the index still holds what the reader
    /// saw and the file is still absent, forget the replica and remove its
    /// orphan `.meta` → [`DatanodeError::Vanished`]; otherwise it was
    /// deleted the ordinary way meanwhile → [`DatanodeError::NotFound`].
    /// If the volume itself is gone (its `blocks/` no longer there, or it
    /// fails its probe), the whole volume is taken out of service, which
    /// forgets and announces all its replicas at once.
    pub(super) fn vanished(&self, id: BlockId, vol: usize, seen: BlockInfo) -> DatanodeError {
        let _files = lock(&self.inner.files);
        let now = self.locate(id);
        if now.map(|e| e.info) != Some(seen) || self.block_path_on(vol, id).exists() {
            return DatanodeError::NotFound(id);
        }
        if let Err(why) = self.volume(vol).probe() {
            self.fail_volume(vol, &why);
            return DatanodeError::Vanished(id);
        }
        self.remove_from_index(id);
        log::warn!("replica {id} vanished from disk; forgetting it");
        match fs::remove_file(self.meta_path_on(vol, id)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => log::warn!("cannot remove orphan meta of {id}: {e}"),
        }
        DatanodeError::Vanished(id)
    }
}
