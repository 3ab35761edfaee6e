//! Namespace changes that do not involve writing data: `mkdir -p`, `mv`,
//! `rm -r`, `setrep` (HDFS FSDirMkdirOp, FSDirRenameOp, FSDirDeleteOp,
//! FSDirAttrOp).
use super::inode::{FileMeta, InodeId, InodeRecord, ROOT_ID};
use super::{Deletions, Namespace};
use crate::config::check_replication;
use crate::error::{NamenodeError, Result};
use crate::meta_store::Txn;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{DeleteResponse, FileStatus, SetAttributesRequest};

impl Namespace {
    /// `mkdir [-p]`. Idempotent on an existing directory; 409 when a file
    /// is at `path` or on the way; 404 for a missing parent without
    /// `parents`.
    pub fn mkdirs(
        &mut self,
        path: &DfsPath,
        parents: bool,
        now_ms: u64,
        txn: &mut Txn,
    ) -> Result<FileStatus> {
        self.mkdirs_as(path, parents, None, None, now_ms, txn)
    }

    /// `mkdir [-p]` with the new directories owned by `owner` and given
    /// mode `permission` (defaults when `None`); existing ones are left as
    /// they are.
    pub fn mkdirs_as(
        &mut self,
        path: &DfsPath,
        parents: bool,
        owner: Option<&str>,
        permission: Option<u16>,
        now_ms: u64,
        txn: &mut Txn,
    ) -> Result<FileStatus> {
        if permission.is_some_and(|p| p > 0o7777) {
            return Err(NamenodeError::InvalidArgument(format!(
                "permission {:o} is not a mode",
                permission.unwrap_or_default()
            )));
        }
        if let Some(id) = self.lookup(path) {
            let inode = self.inode(id)?;
            if inode.is_dir() {
                return Ok(self.status_of(id, inode, path.clone()));
            }
            return Err(NamenodeError::AlreadyExists(format!(
                "{path} already exists and is a file"
            )));
        }
        let existing = self.check_mkdirs(path)?;
        let missing = path.components().count() - existing;
        if missing > 1 && !parents {
            let parent = path.parent().unwrap_or_else(DfsPath::root);
            return Err(NamenodeError::NotFound(format!(
                "parent directory {parent} does not exist"
            )));
        }
        let (deepest, missing) = self.deepest_dir(path);
        self.check_quota(deepest, missing, 0, &[])?;
        let id = self.make_dirs_as(path, owner, permission, now_ms, txn)?;
        Ok(self.status_of(id, self.inode(id)?, path.clone()))
    }

    /// `mkdir -p dir` once [`Self::check_mkdirs`] passed: the directories
    /// it makes are owned by `owner` and get mode `permission` (the
    /// defaults when `None`), and take their parent's group as any new
    /// inode does; existing ones are left as they are. Returns `dir`'s
    /// inode; cannot fail but on a broken invariant.
    ///
    /// Every directory is made here: by `mkdir -p`, and as the parents a
    /// write makes on its way (`complete` passes the writer), so a user
    /// owns the directories their upload made and can write into and
    /// remove them (HDFS gives implicit parents the creator too).
    pub(super) fn make_dirs_as(
        &mut self,
        dir: &DfsPath,
        owner: Option<&str>,
        permission: Option<u16>,
        now_ms: u64,
        txn: &mut Txn,
    ) -> Result<InodeId> {
        let mut cur = ROOT_ID;
        for c in dir.components() {
            let existing = self.child(self.inode(cur)?, c);
            cur = match existing {
                Some(id) => id,
                None => {
                    let mut record = InodeRecord::new_dir(cur, c, now_ms);
                    if let Some(o) = owner.filter(|o| !o.is_empty()) {
                        record.owner = o.to_string();
                    }
                    if let Some(p) = permission {
                        record.permission = p;
                    }
                    self.add_child(cur, c, record, now_ms, txn)?
                }
            };
        }
        Ok(cur)
    }

    /// WebHDFS SETTIMES / SETPERMISSION / SETOWNER: changes the given
    /// attributes of the file or directory at `path`.
    pub fn set_attributes(
        &mut self,
        req: &SetAttributesRequest,
        txn: &mut Txn,
    ) -> Result<FileStatus> {
        if req.permission.is_some_and(|p| p > 0o7777) {
            return Err(NamenodeError::InvalidArgument(format!(
                "permission {:o} is not a mode",
                req.permission.unwrap_or_default()
            )));
        }
        let path = &req.path;
        let id = self
            .lookup(path)
            .ok_or_else(|| NamenodeError::not_found(path))?;
        let owner = req
            .owner
            .as_deref()
            .filter(|o| !o.is_empty())
            .map(|o| self.names.intern(o));
        let group = req
            .group
            .as_deref()
            .filter(|g| !g.is_empty())
            .map(|g| self.names.intern(g));
        let r = self.inode_mut(id)?;
        if let Some(t) = req.modification_time {
            r.mtime = t;
        }
        if let Some(t) = req.access_time {
            r.atime = t;
        }
        if let Some(p) = req.permission {
            r.permission = p;
        }
        if let Some(o) = owner {
            r.owner = o;
        }
        if let Some(g) = group {
            r.group = g;
        }
        self.persist(id, txn)?;
        Ok(self.status_of(id, self.inode(id)?, path.clone()))
    }

    /// `mv src dst`. When `dst` is an existing directory, `src` moves into
    /// it. An existing file at the final destination is replaced only with
    /// `overwrite` (its blocks are deleted); an existing directory there is
    /// never replaced. Returns the status at the new path.
    pub fn rename(
        &mut self,
        src: &DfsPath,
        dst: &DfsPath,
        overwrite: bool,
        now_ms: u64,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<FileStatus> {
        if src.is_root() {
            return Err(NamenodeError::InvalidArgument("cannot rename /".into()));
        }
        let src_id = self
            .lookup(src)
            .ok_or_else(|| NamenodeError::not_found(src))?;
        let src_is_dir = self.inode(src_id)?.is_dir();
        self.check_no_snapshots_within(src_id, src)?;
        let src_name = src.name().unwrap_or_default();

        // Into an existing directory?
        let target = match self.lookup(dst) {
            Some(id) if self.inode(id)?.is_dir() => dst.join(src_name).map_err(|e| {
                NamenodeError::InvalidArgument(format!("cannot move {src} into {dst}: {e}"))
            })?,
            _ => dst.clone(),
        };
        if target == *src {
            return Ok(self.status_of(src_id, self.inode(src_id)?, target));
        }
        if target.starts_with(src) {
            return Err(NamenodeError::InvalidArgument(format!(
                "cannot move {src} into itself or one of its descendants ({target})"
            )));
        }
        let new_parent = self.parent_dir(&target).map_err(|e| match e {
            NamenodeError::NotFound(_) => NamenodeError::NotFound(format!(
                "cannot move {src} to {target}: parent directory {} does not exist",
                target.parent().unwrap_or_else(DfsPath::root)
            )),
            other => other,
        })?;
        let replaced = match self.lookup(&target) {
            None => None,
            Some(id) => {
                let existing = self.inode(id)?;
                if existing.is_dir() {
                    return Err(NamenodeError::AlreadyExists(format!(
                        "cannot move {src} to {target}: a directory exists there"
                    )));
                }
                if src_is_dir {
                    return Err(NamenodeError::AlreadyExists(format!(
                        "cannot replace file {target} with directory {src}"
                    )));
                }
                if !overwrite {
                    return Err(NamenodeError::AlreadyExists(format!(
                        "cannot move {src} to {target}: a file exists there"
                    )));
                }
                Some(id)
            }
        };
        let old_parent = self.inode(src_id)?.parent;
        let moving = self.check_move(src_id, new_parent, 0)?;
        // Validated: now change things.
        if let Some(old) = replaced {
            self.unlink(old, now_ms, txn)?;
            self.remove_subtree(old, txn, dels);
        }
        if let Some((names, bytes)) = moving {
            self.charge(old_parent, -(names as i64), -(bytes as i64));
            self.charge(new_parent, names as i64, bytes as i64);
        }
        if old_parent != new_parent {
            // Where it goes, a snapshot that saw it here does not see its
            // later changes: keep how it is now.
            self.preserve_subtree(src_id);
        }
        self.unlink(src_id, now_ms, txn)?;
        {
            let inode = self.inode_mut(src_id)?;
            inode.parent = new_parent;
            inode.name = target.name().unwrap_or_default().into();
        }
        self.persist(src_id, txn)?;
        self.link(new_parent, src_id)?;
        self.inode_mut(new_parent)?.mtime = now_ms;
        self.persist(new_parent, txn)?;
        Ok(self.status_of(src_id, self.inode(src_id)?, target))
    }

    /// `rm [-r]`. 404 when missing; 409 on a non-empty directory without
    /// `recursive`; 400 for `/`. Every replica of every deleted block is
    /// pushed onto `dels`.
    pub fn delete(
        &mut self,
        path: &DfsPath,
        recursive: bool,
        now_ms: u64,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<DeleteResponse> {
        let id = self.check_removable(path, recursive)?;
        self.unlink(id, now_ms, txn)?;
        let (files_deleted, directories_deleted, bytes_deleted) =
            self.remove_subtree(id, txn, dels);
        Ok(DeleteResponse {
            files_deleted,
            directories_deleted,
            bytes_deleted,
        })
    }

    /// What `rm` (to the trash or not) may remove: `path` exists and is
    /// not `/`, a non-empty directory only with `recursive`, and no
    /// directory with snapshots at or below it. Its inode.
    pub(super) fn check_removable(&self, path: &DfsPath, recursive: bool) -> Result<InodeId> {
        if path.is_root() {
            return Err(NamenodeError::InvalidArgument("cannot delete /".into()));
        }
        let id = self
            .lookup(path)
            .ok_or_else(|| NamenodeError::not_found(path))?;
        let inode = self.inode(id)?;
        if inode.is_dir() && !inode.children().is_empty() && !recursive {
            return Err(NamenodeError::NotEmpty(format!(
                "directory {path} is not empty"
            )));
        }
        self.check_no_snapshots_within(id, path)?;
        Ok(id)
    }

    /// `setrep`: records a file's target replication and hands its blocks
    /// to the replication monitor (copies when raised, excess removal when
    /// lowered). Directories: 409.
    pub fn set_replication(
        &mut self,
        path: &DfsPath,
        replication: u16,
        txn: &mut Txn,
    ) -> Result<FileStatus> {
        check_replication(replication).map_err(NamenodeError::InvalidArgument)?;
        let id = self
            .lookup(path)
            .ok_or_else(|| NamenodeError::not_found(path))?;
        let inode = self.inode(id)?;
        let parent = inode.parent;
        let Some(f) = inode.file() else {
            return Err(NamenodeError::IsADirectory(format!(
                "{path} is a directory; replication applies to files"
            )));
        };
        let space = |r: u16| (f.length * u64::from(r)) as i64;
        let grows = space(replication) - space(f.replication);
        self.check_quota(parent, 0, grows.max(0) as u64, &[])?;
        self.charge(parent, 0, grows);
        let inode = self.inode_mut(id)?;
        let Some(f) = inode.file_mut() else {
            return Err(NamenodeError::Internal(format!(
                "{path} stopped being a file"
            )));
        };
        let changed = f.replication != replication;
        f.replication = replication;
        let blocks = if changed {
            f.blocks.to_vec()
        } else {
            Vec::new()
        };
        self.persist(id, txn)?;
        // Up: copies are queued; down: excess replicas are trimmed.
        for b in blocks {
            self.blocks.touch(b);
        }
        Ok(self.status_of(id, self.inode(id)?, path.clone()))
    }

    /// A new file inode record (used by `complete`).
    pub(crate) fn file_record(
        owner: &str,
        permission: u16,
        now_ms: u64,
        meta: FileMeta,
    ) -> InodeRecord {
        InodeRecord {
            parent: 0,
            name: String::new(),
            mtime: now_ms,
            atime: now_ms,
            owner: owner.to_string(),
            group: super::inode::DEFAULT_GROUP.to_string(),
            permission,
            file: Some(meta),
        }
    }
}
