//! `rm` to the trash (HDFS `TrashPolicyDefault.moveToTrash`): the path
//! moves to `/user/<user>/.Trash/Current/<its path>`, one atomic command.
//! What is in a trash is ordinary namespace: it keeps its blocks and counts
//! against space until it is removed (`expunge`, or the namenode's
//! emptier once it is older than the trash interval, `crate::trash`).
use super::inode::InodeId;
use super::{Deletions, Namespace};
use crate::error::{NamenodeError, Result};
use crate::meta_store::Txn;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::FileStatus;
use dfs_common::trash::{in_a_trash, trash_root, CURRENT, USER_DIR};

/// Mode of the directories a trash is made of (HDFS: 0700).
const TRASH_MODE: u16 = 0o700;
/// Mode of `/user` and a home directory the trash had to make.
const HOME_MODE: u16 = 0o755;

impl Namespace {
    /// Moves `path` to `user`'s trash, keeping its path below `Current`;
    /// returns its status there. Refused as a delete would be (missing,
    /// `/`, a non-empty directory without `recursive`), and for a path
    /// already in a trash (the caller deletes those at once) or one that
    /// holds the user's trash. A name taken in the trash, or a file where
    /// the trash needs a directory, gets `now_ms` appended (HDFS's rule).
    pub fn move_to_trash(
        &mut self,
        path: &DfsPath,
        recursive: bool,
        user: &str,
        now_ms: u64,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<FileStatus> {
        let id = self.check_removable(path, recursive)?;
        let bad_user =
            |e| NamenodeError::InvalidArgument(format!("no trash for user {user:?}: {e}"));
        let root = trash_root(user).map_err(bad_user)?;
        if in_a_trash(path) {
            return Err(NamenodeError::InvalidArgument(format!(
                "{path} is in a trash already: delete it at once instead"
            )));
        }
        if root.starts_with(path) {
            return Err(NamenodeError::Conflict(format!(
                "cannot move {path} to the trash, as it contains the trash ({root}); delete it at once (--skip-trash)"
            )));
        }
        let current = root.join(CURRENT).map_err(bad_user)?;
        for dir in ancestors_and_self(&current) {
            if self.is_file(&dir)? {
                return Err(NamenodeError::AlreadyExists(format!(
                    "cannot move {path} to the trash: {dir} is a file"
                )));
            }
        }
        let target = self.trash_target(path, &current, now_ms)?;
        let parent = target.parent().unwrap_or_else(DfsPath::root);
        let (dest, missing) = self.deepest_dir(&parent);
        self.check_move(id, dest, missing)?;
        // Validated: the rename below cannot fail (its source exists and is
        // outside the trash, its target is free under a directory made here).
        let home = root.parent().unwrap_or_else(DfsPath::root);
        let users = DfsPath::parse(USER_DIR).map_err(bad_user)?;
        self.make_dirs_as(&users, None, Some(HOME_MODE), now_ms, txn)?;
        self.make_dirs_as(&home, Some(user), Some(HOME_MODE), now_ms, txn)?;
        self.make_dirs_as(&parent, Some(user), Some(TRASH_MODE), now_ms, txn)?;
        self.rename(path, &target, false, now_ms, txn, dels)
    }

    /// Where `path` lands under `current`: its own path, with `now_ms`
    /// (then `now_ms + 1`, ...) appended to the first component that is a
    /// file where a directory is needed, and to the last one if taken.
    fn trash_target(&self, path: &DfsPath, current: &DfsPath, now_ms: u64) -> Result<DfsPath> {
        let names: Vec<&str> = path.components().collect();
        let Some((last, dirs)) = names.split_last() else {
            return Err(NamenodeError::InvalidArgument("cannot delete /".into()));
        };
        let found = || {
            let mut at = current.clone();
            for name in dirs {
                at = self.free_name(&at, name, now_ms, Self::is_file)?;
            }
            self.free_name(&at, last, now_ms, |s, p| Ok(s.lookup(p).is_some()))
        };
        // A name made too long by the trash's prefix or the time appended.
        found().map_err(|e| match e {
            NamenodeError::InvalidArgument(m) => NamenodeError::InvalidArgument(format!(
                "cannot move {path} to the trash: {m}; delete it at once (--skip-trash)"
            )),
            other => other,
        })
    }

    /// `dir/name`, or `dir/name<now_ms + k>` for the first `k` for which
    /// `taken` is false.
    fn free_name(
        &self,
        dir: &DfsPath,
        name: &str,
        now_ms: u64,
        taken: impl Fn(&Self, &DfsPath) -> Result<bool>,
    ) -> Result<DfsPath> {
        let join = |n: &str| {
            dir.join(n)
                .map_err(|e| NamenodeError::InvalidArgument(e.to_string()))
        };
        let mut candidate = join(name)?;
        let mut k = 0u64;
        while taken(self, &candidate)? {
            candidate = join(&format!("{name}{}", now_ms.saturating_add(k)))?;
            k += 1;
        }
        Ok(candidate)
    }

    /// Whether a file (not a directory) is at `path`.
    fn is_file(&self, path: &DfsPath) -> Result<bool> {
        match self.lookup(path) {
            None => Ok(false),
            Some(id) => Ok(!self.inode(id)?.is_dir()),
        }
    }

    /// Every user's trash and the names in it (`Current` and
    /// checkpoints), for the emptier: `/user/*/.Trash` directories only.
    pub fn trashes(&self) -> Result<Vec<(DfsPath, Vec<String>)>> {
        let Ok(users) = DfsPath::parse(USER_DIR) else {
            return Ok(Vec::new());
        };
        let Some(users_id) = self.lookup(&users) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let homes: Vec<InodeId> = self.inode(users_id)?.children().to_vec();
        for home in homes {
            let Ok(root) = trash_root(self.name_of(home)) else {
                continue;
            };
            let Some(tid) = self.lookup(&root) else {
                continue;
            };
            let t = self.inode(tid)?;
            if !t.is_dir() {
                continue;
            }
            let names = t.children().iter().map(|&c| self.name_of(c).to_string());
            out.push((root, names.collect()));
        }
        Ok(out)
    }
}

/// `/`, `/a`, `/a/b` for `/a/b`, without `/`.
fn ancestors_and_self(path: &DfsPath) -> Vec<DfsPath> {
    let mut out = Vec::new();
    let mut at = DfsPath::root();
    for c in path.components() {
        match at.join(c) {
            Ok(p) => at = p,
            Err(_) => break,
        }
        out.push(at.clone());
    }
    out
}
