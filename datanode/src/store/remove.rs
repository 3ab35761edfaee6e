//! Replicas leaving the store: deleted (a namenode command, a client's
//! `DELETE`), quarantined (moved to `corrupt/` after failing verification),
//! or forgotten (their `.blk` vanished behind our back).
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
        let had = self.remove_from_index(id).is_some();
        let mut found = had;
        for path in [self.block_path(id), self.meta_path(id)] {
            match fs::remove_file(&path) {
                Ok(()) => found = true,
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(DatanodeError::io(format!("removing {}", path.display()), e)),
            }
        }
        if found {
            sync_dir(&self.fanout_dir(id))
                .map_err(|e| DatanodeError::io("syncing block dir", e))?;
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
            if store.remove_from_index(id).is_none() {
                return false;
            }
            log::warn!("quarantining replica {id}: {reason}");
            store.move_to_corrupt(&store.block_path(id), &id.to_string());
            true
        })
        .await?;
        Ok(had)
    }

    /// A read found the `.blk` of an indexed replica missing (blocking).
    /// Under the files lock, so a delete or write of the same id cannot
    /// interleave: if the index still holds what the reader saw and the
    /// file is still absent, forget the replica and remove its orphan
    /// `.meta` → [`DatanodeError::Vanished`]; otherwise it was deleted the
    /// ordinary way meanwhile → [`DatanodeError::NotFound`].
    pub(super) fn vanished(&self, id: BlockId, seen: BlockInfo) -> DatanodeError {
        let _files = lock(&self.inner.files);
        if self.get(id) != Some(seen) || self.block_path(id).exists() {
            return DatanodeError::NotFound(id);
        }
        self.remove_from_index(id);
        log::warn!("replica {id} vanished from disk; forgetting it");
        match fs::remove_file(self.meta_path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => log::warn!("cannot remove orphan meta of {id}: {e}"),
        }
        DatanodeError::Vanished(id)
    }
}
