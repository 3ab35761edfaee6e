//! The namespace operations of [`Namesystem`] (HDFS FSDirectory calls):
//! mkdirs, status, list, rename, delete, replication and attributes, each
//! checked against safe mode and applied as a [`Command`] through
//! `Namesystem::execute`.
use super::*;
use dfs_common::proto::client::{
    ExpungeResponse, QuotaUsage, SetQuotaRequest, SnapshotDiff, SnapshotDiffEntry, SnapshotRequest,
    SnapshotResponse, TrashResponse,
};
use dfs_common::trash;

impl Namesystem {
    /// Access control (on): may `who` do what `check` describes on `path`?
    pub fn check_permission(&self, who: &Principal, path: &DfsPath, check: &Check) -> Result<()> {
        self.lock()?.check_permission(who, path, check)
    }

    /// Access control (on): may `who` go on with the write `file_id`? (See
    /// `Namespace::check_writer`.)
    pub fn check_writer(&self, who: &Principal, file_id: dfs_common::ids::FileId) -> Result<()> {
        self.lock()?.check_writer(who, file_id)
    }

    pub async fn mkdirs(&self, path: &DfsPath, parents: bool) -> Result<FileStatus> {
        self.check_writable()?;
        self.mkdirs_as(path, parents, None, None).await
    }

    pub fn status(&self, path: &DfsPath) -> Result<FileStatus> {
        self.lock()?.status(path)
    }

    pub fn list(
        &self,
        path: &DfsPath,
        start_after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<DirectoryListing> {
        self.lock()?.list(path, start_after, limit)
    }

    /// Entries of a directory after `name` (see `Namespace::count_after`).
    pub fn count_after(&self, path: &DfsPath, name: &str) -> Result<u64> {
        self.lock()?.count_after(path, name)
    }

    pub async fn rename(
        &self,
        src: &DfsPath,
        dst: &DfsPath,
        overwrite: bool,
    ) -> Result<FileStatus> {
        self.check_writable()?;
        status(
            self.execute(Command::Rename {
                src: src.clone(),
                dst: dst.clone(),
                overwrite,
            })
            .await?,
        )
    }

    pub async fn delete(&self, path: &DfsPath, recursive: bool) -> Result<DeleteResponse> {
        self.check_writable()?;
        let cmd = Command::Delete {
            path: path.clone(),
            recursive,
        };
        let Outcome::Deleted(r) = self.execute(cmd).await? else {
            return Err(unexpected_outcome());
        };
        log::info!(
            "deleted {path}: {} files, {} directories",
            r.files_deleted,
            r.directories_deleted
        );
        Ok(r)
    }

    /// `rm` through the trash: `path` moves to `user`'s trash, or is
    /// deleted at once when the trash is off or `path` is in a trash
    /// already (HDFS deletes those for good too).
    pub async fn trash(
        &self,
        path: &DfsPath,
        recursive: bool,
        user: &str,
    ) -> Result<TrashResponse> {
        self.check_writable()?;
        if self.config.trash_interval.is_zero() || trash::in_a_trash(path) {
            let deleted = self.delete(path, recursive).await?;
            return Ok(TrashResponse {
                moved_to: None,
                deleted,
            });
        }
        let cmd = Command::MoveToTrash {
            path: path.clone(),
            recursive,
            user: user.to_string(),
        };
        let moved = status(self.execute(cmd).await?)?;
        log::info!("moved {path} to the trash: {}", moved.path);
        Ok(TrashResponse {
            moved_to: Some(moved.path),
            deleted: DeleteResponse::default(),
        })
    }

    /// `expunge`: `user`'s trash deleted, checkpoints and `Current` alike.
    pub async fn expunge(&self, user: &str) -> Result<ExpungeResponse> {
        let trash_root = trash::trash_root(user).map_err(|e| {
            NamenodeError::InvalidArgument(format!("no trash for user {user:?}: {e}"))
        })?;
        let deleted = match self.delete(&trash_root, true).await {
            Ok(d) => d,
            Err(NamenodeError::NotFound(_)) => DeleteResponse::default(),
            Err(e) => return Err(e),
        };
        Ok(ExpungeResponse {
            trash_root,
            deleted,
        })
    }

    /// One pass of the trash emptier (leader only; HDFS's `Emptier`): in
    /// every user's trash, checkpoints older than the trash interval are
    /// deleted, then `Current` becomes a checkpoint named by `now_ms`. So
    /// what `rm` moved there is deleted one to two intervals later.
    /// Returns how many checkpoints were deleted.
    pub async fn roll_trash(&self, now_ms: u64) -> Result<usize> {
        let interval = self.config.trash_interval.as_millis() as u64;
        if interval == 0 {
            return Ok(0);
        }
        let trashes = self.lock()?.trashes()?;
        let mut removed = 0;
        for (root, names) in trashes {
            for name in &names {
                let old = trash::checkpoint_time(name)
                    .is_some_and(|t| t.saturating_add(interval) <= now_ms);
                if !old {
                    continue;
                }
                let Ok(p) = root.join(name) else { continue };
                match self.delete(&p, true).await {
                    Ok(d) => {
                        removed += 1;
                        log::info!(
                            "trash: deleted checkpoint {p} ({} files, {} bytes)",
                            d.files_deleted,
                            d.bytes_deleted
                        );
                    }
                    Err(NamenodeError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if !names.iter().any(|n| n == trash::CURRENT) {
                continue;
            }
            let stamp = trash::checkpoint_name(now_ms);
            let free = (0..)
                .map(|k| {
                    if k == 0 {
                        stamp.clone()
                    } else {
                        format!("{stamp}-{k}")
                    }
                })
                .find(|n| !names.contains(n))
                .unwrap_or(stamp);
            let (Ok(current), Ok(checkpoint)) = (root.join(trash::CURRENT), root.join(&free))
            else {
                continue;
            };
            match self.rename(&current, &checkpoint, false).await {
                Ok(_) => log::info!("trash: {current} is now checkpoint {checkpoint}"),
                Err(NamenodeError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Sets or clears a directory's quotas (`dfs quota`, WebHDFS SETQUOTA).
    pub async fn set_quota(&self, req: &SetQuotaRequest) -> Result<QuotaUsage> {
        self.check_writable()?;
        let change = |set: Option<u64>, clear: bool, kind: &str| match (set, clear) {
            (Some(_), true) => Err(NamenodeError::InvalidArgument(format!(
                "the {kind} quota cannot be both set and cleared"
            ))),
            (Some(n), false) => Ok(Some(Some(n))),
            (None, true) => Ok(Some(None)),
            (None, false) => Ok(None),
        };
        let cmd = Command::SetQuota {
            path: req.path.clone(),
            names: change(req.files, req.clear_files, "name")?,
            bytes: change(req.bytes, req.clear_bytes, "space")?,
        };
        let Outcome::Quota {
            limits,
            names,
            bytes,
        } = self.execute(cmd).await?
        else {
            return Err(unexpected_outcome());
        };
        log::info!(
            "quota of {}: names {:?}, bytes {:?}",
            req.path,
            limits.names,
            limits.bytes
        );
        Ok(QuotaUsage {
            path: req.path.clone(),
            files_quota: limits.names,
            bytes_quota: limits.bytes,
            names,
            space_consumed: bytes,
        })
    }

    /// A directory's quotas and usage (a file's usage, with no quota).
    pub fn quota(&self, path: &DfsPath) -> Result<QuotaUsage> {
        let v = self.lock()?.quota(path)?;
        Ok(QuotaUsage {
            path: path.clone(),
            files_quota: v.limits.names,
            bytes_quota: v.limits.bytes,
            names: v.usage.0,
            space_consumed: v.usage.1,
        })
    }

    /// `snapshot allow|disallow|create|delete|rename` (`op` names it).
    pub async fn snapshot(&self, op: &str, req: &SnapshotRequest) -> Result<SnapshotResponse> {
        self.check_writable()?;
        let path = req.path.clone();
        let name = |what: &str| {
            req.name.clone().ok_or_else(|| {
                NamenodeError::InvalidArgument(format!("{what} a snapshot needs its name"))
            })
        };
        let in_snapshots = |n: &str| {
            path.join(crate::namespace::snapshot::SNAPSHOT_DIR)
                .and_then(|s| s.join(n))
                .map_err(|e| NamenodeError::InvalidArgument(format!("snapshot name {n:?}: {e}")))
        };
        let (cmd, shown) = match op {
            "allow" | "disallow" => (
                Command::AllowSnapshot {
                    path: path.clone(),
                    allow: op == "allow",
                },
                path.clone(),
            ),
            "create" => {
                let n = req
                    .name
                    .clone()
                    .unwrap_or_else(|| default_snapshot_name(now_ms()));
                let shown = in_snapshots(&n)?;
                (
                    Command::CreateSnapshot {
                        path: path.clone(),
                        name: n,
                    },
                    shown,
                )
            }
            "delete" => (
                Command::DeleteSnapshot {
                    path: path.clone(),
                    name: name("deleting")?,
                },
                path.clone(),
            ),
            "rename" => {
                let to = req.new_name.clone().ok_or_else(|| {
                    NamenodeError::InvalidArgument("renaming a snapshot needs new_name".into())
                })?;
                let shown = in_snapshots(&to)?;
                (
                    Command::RenameSnapshot {
                        path: path.clone(),
                        from: name("renaming")?,
                        to,
                    },
                    shown,
                )
            }
            other => {
                return Err(NamenodeError::InvalidArgument(format!(
                    "no snapshot call {other:?} (allow, disallow, create, delete, rename)"
                )))
            }
        };
        self.execute(cmd).await?;
        log::info!("snapshot {op}: {shown}");
        Ok(SnapshotResponse { path: shown })
    }

    /// What changed under `path` from snapshot `from` to `to` (`.`: now).
    pub fn snapshot_diff(&self, path: &DfsPath, from: &str, to: &str) -> Result<SnapshotDiff> {
        let entries = self
            .lock()?
            .snapshot_diff(path, from, to)?
            .into_iter()
            .map(|(kind, path, target)| SnapshotDiffEntry {
                kind: kind.to_string(),
                path,
                target,
            })
            .collect();
        Ok(SnapshotDiff {
            path: path.clone(),
            from: from.to_string(),
            to: to.to_string(),
            entries,
        })
    }

    /// Every snapshottable directory and how many snapshots it has.
    pub fn snapshottable_dirs(&self) -> Result<Vec<(FileStatus, usize)>> {
        Ok(self.lock()?.snapshottable_dirs())
    }

    /// `setrep`: the file's blocks go to the replication monitor (copies
    /// when raised, excess deletions when lowered).
    pub async fn set_replication(&self, path: &DfsPath, replication: u16) -> Result<FileStatus> {
        self.check_writable()?;
        status(
            self.execute(Command::SetReplication {
                path: path.clone(),
                replication,
            })
            .await?,
        )
    }

    /// `mkdir [-p]` with owner and mode for the directories it makes.
    pub async fn mkdirs_as(
        &self,
        path: &DfsPath,
        parents: bool,
        owner: Option<&str>,
        permission: Option<u16>,
    ) -> Result<FileStatus> {
        self.check_writable()?;
        status(
            self.execute(Command::Mkdirs {
                path: path.clone(),
                parents,
                owner: owner.map(str::to_string),
                permission,
            })
            .await?,
        )
    }

    /// Times, mode, owner and group (WebHDFS SETTIMES, SETPERMISSION,
    /// SETOWNER).
    pub async fn set_attributes(&self, req: &SetAttributesRequest) -> Result<FileStatus> {
        self.check_writable()?;
        status(
            self.execute(Command::SetAttributes {
                path: req.path.clone(),
                mtime: req.modification_time,
                atime: req.access_time,
                permission: req.permission,
                owner: req.owner.clone(),
                group: req.group.clone(),
            })
            .await?,
        )
    }
}

/// The status a status-giving command gave.
fn status(o: Outcome) -> Result<FileStatus> {
    match o {
        Outcome::Status(s) => Ok(s),
        _ => Err(unexpected_outcome()),
    }
}

/// HDFS's name for a snapshot created without one: `s` and the time,
/// `s20261205-045937.123` (UTC here).
fn default_snapshot_name(unix_ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
    // "2026-12-05T04:59:37.123Z"
    let iso = humantime::format_rfc3339_millis(t).to_string();
    let digits: String = iso.chars().filter(char::is_ascii_digit).collect();
    let part = |r: std::ops::Range<usize>| digits.get(r).unwrap_or("0");
    format!("s{}-{}.{}", part(0..8), part(8..14), part(14..17))
}

#[cfg(test)]
mod snapshot_name_tests {
    #[test]
    fn a_default_snapshot_name_is_hdfss() {
        assert_eq!(
            super::default_snapshot_name(1_796_442_037_123),
            "s20261205-034037.123"
        );
    }
}
