//! Quotas (HDFS `DirectoryWithQuotaFeature`): a directory may limit the
//! names (files and directories below it, itself included) and the space
//! (each file's length times its replication) of its subtree.
//!
//! Each quota directory keeps what its subtree uses, changed with every
//! change below it ([`Namespace::charge`], called where inodes come, go,
//! move and grow), so a check walks only the path up to `/`, never the
//! tree; with no quota anywhere both cost nothing. Writes in progress are
//! not in the tree: what they have allocated is added at each check (each
//! block at its full size, as HDFS reserves it), so concurrent uploads
//! cannot overshoot together. Setting a quota counts its subtree once; a
//! rename into a quota directory counts what moves (or reads it off a
//! quota directory that moves).
//!
//! Only what grows is checked: a quota set below what is used already is
//! kept (HDFS's rule), and then only deletes succeed below it.
use super::inode::{InodeId, Kind, ROOT_ID};
use super::Namespace;
use crate::error::{NamenodeError, Result};
use crate::meta_store::Txn;
use crate::records::QuotaLimits;
use dfs_common::path::DfsPath;
use smallvec::SmallVec;
use std::collections::HashMap;

/// A quota directory: its limits and what its subtree uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirQuota {
    pub limits: QuotaLimits,
    /// Files and directories in the subtree, the directory included.
    pub names: u64,
    /// Σ length × replication of the files in the subtree.
    pub bytes: u64,
}

/// The quota directories, by inode.
#[derive(Debug, Default)]
pub struct Quotas {
    dirs: HashMap<InodeId, DirQuota>,
}

/// What a subtree uses: (names, bytes × replication).
pub type Usage = (u64, u64);

/// A change to one kind of quota (`Command::SetQuota`): `None` keeps it,
/// `Some(None)` clears it, `Some(Some(n))` sets it.
pub type QuotaChange = Option<Option<u64>>;

/// What a directory's quota and usage are (`dfs count -q`, WebHDFS
/// GETQUOTAUSAGE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaView {
    pub limits: QuotaLimits,
    pub usage: Usage,
}

impl Quotas {
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }
    pub fn get(&self, id: InodeId) -> Option<&DirQuota> {
        self.dirs.get(&id)
    }
}

impl Namespace {
    /// The quota directories from `dir` up to `/`, nearest first.
    fn quota_dirs(&self, dir: InodeId) -> SmallVec<[InodeId; 4]> {
        let mut out = SmallVec::new();
        if self.quotas.is_empty() {
            return out;
        }
        let mut cur = dir;
        loop {
            if self.quotas.dirs.contains_key(&cur) {
                out.push(cur);
            }
            match self.inodes.get(&cur) {
                Some(i) if cur != ROOT_ID => cur = i.parent,
                _ => break,
            }
        }
        out
    }

    /// Adds (or with negative values, takes away) `names` and `bytes` to
    /// every quota directory from `dir` up.
    pub(super) fn charge(&mut self, dir: InodeId, names: i64, bytes: i64) {
        for q in self.quota_dirs(dir) {
            if let Some(d) = self.quotas.dirs.get_mut(&q) {
                d.names = d.names.saturating_add_signed(names);
                d.bytes = d.bytes.saturating_add_signed(bytes);
            }
        }
    }

    /// Refuses `names` more names and `bytes` more space below `dir` where
    /// a quota from `dir` up would then be exceeded. `except`: quota
    /// directories that count them already (those a rename stays under).
    pub(super) fn check_quota(
        &self,
        dir: InodeId,
        names: u64,
        bytes: u64,
        except: &[InodeId],
    ) -> Result<()> {
        if self.quotas.is_empty() || (names == 0 && bytes == 0) {
            return Ok(());
        }
        for q in self.quota_dirs(dir) {
            if except.contains(&q) {
                continue;
            }
            let Some(d) = self.quotas.dirs.get(&q) else {
                continue;
            };
            let name_limit = d.limits.names.filter(|_| names > 0);
            let byte_limit = d.limits.bytes.filter(|_| bytes > 0);
            if name_limit.is_none() && byte_limit.is_none() {
                continue;
            }
            let (pn, pb) = self.pending_usage(q);
            if let Some(limit) = name_limit {
                let would = d.names + pn + names;
                if would > limit {
                    return Err(NamenodeError::NameQuotaExceeded(format!(
                        "the name quota of {} is exceeded: quota {limit}, and it would hold {would} files and directories (itself included)",
                        self.path_of(q)
                    )));
                }
            }
            if let Some(limit) = byte_limit {
                let would = d.bytes + pb + bytes;
                if would > limit {
                    return Err(NamenodeError::SpaceQuotaExceeded(format!(
                        "the space quota of {} is exceeded: quota {limit} bytes, and it would take {would} (every replica counts, and a block being written counts at its full size)",
                        self.path_of(q)
                    )));
                }
            }
        }
        Ok(())
    }

    /// What the writes in progress below quota directory `q` will add:
    /// a name for each new file (and each directory it makes), and each
    /// block it has allocated at full size.
    fn pending_usage(&self, q: InodeId) -> Usage {
        let (mut names, mut bytes) = (0, 0);
        for p in self.pending.values() {
            let f = &p.file;
            let parent = f.path.parent().unwrap_or_else(DfsPath::root);
            let (dir, missing) = self.deepest_dir(&parent);
            if !self.is_under(dir, q) {
                continue;
            }
            if f.append.is_none() {
                names += 1 + missing;
            }
            bytes += f.blocks.len() as u64 * f.block_size * u64::from(f.replication);
        }
        (names, bytes)
    }

    /// Whether `dir` is `q` or below it.
    pub(super) fn is_under(&self, dir: InodeId, q: InodeId) -> bool {
        let mut cur = dir;
        loop {
            if cur == q {
                return true;
            }
            match self.inodes.get(&cur) {
                Some(i) if cur != ROOT_ID => cur = i.parent,
                _ => return false,
            }
        }
    }

    /// The deepest directory on the way to `dir` that exists, and how many
    /// of `dir`'s components are missing below it (a file on the way stops
    /// the walk: whatever wanted to go there fails on its own).
    pub(super) fn deepest_dir(&self, dir: &DfsPath) -> (InodeId, u64) {
        let mut cur = ROOT_ID;
        let total = dir.components().count() as u64;
        let mut depth = 0;
        for c in dir.components() {
            let next = self
                .inodes
                .get(&cur)
                .and_then(|i| self.child(i, c))
                .filter(|id| self.inodes.get(id).is_some_and(|i| i.is_dir()));
            match next {
                Some(id) => {
                    cur = id;
                    depth += 1;
                }
                None => break,
            }
        }
        (cur, total - depth)
    }

    /// Checks that the subtree at `src` may move under `dest` (an existing
    /// directory), with `new_dirs` directories made on the way: quota
    /// directories above `dest` that are not above `src` gain its usage.
    /// Returns what it uses when quotas are kept (for [`Self::charge`]).
    pub(super) fn check_move(
        &self,
        src: InodeId,
        dest: InodeId,
        new_dirs: u64,
    ) -> Result<Option<Usage>> {
        if self.quotas.is_empty() {
            return Ok(None);
        }
        let from = self.inode(src)?.parent;
        let common = self.quota_dirs(from);
        let usage = self.usage_of(src);
        self.check_quota(dest, usage.0 + new_dirs, usage.1, &common)?;
        Ok(Some(usage))
    }

    /// What the subtree at `id` uses: read off its quota if it has one,
    /// counted otherwise.
    pub(super) fn usage_of(&self, id: InodeId) -> Usage {
        if let Some(d) = self.quotas.dirs.get(&id) {
            return (d.names, d.bytes);
        }
        self.count_usage(id)
    }

    /// What the subtree at `id` uses, counted by a walk.
    fn count_usage(&self, id: InodeId) -> Usage {
        let (mut names, mut bytes) = (0, 0);
        let mut stack = vec![id];
        while let Some(cur) = stack.pop() {
            let Some(inode) = self.inodes.get(&cur) else {
                continue;
            };
            names += 1;
            match &inode.kind {
                Kind::Dir(kids) => stack.extend(kids.iter().copied()),
                Kind::File(f) => bytes += f.length * u64::from(f.replication),
            }
        }
        (names, bytes)
    }

    /// Sets or clears the quotas of directory `path` (HDFS `setQuota`).
    /// A quota below what is used already is allowed. Counts the subtree
    /// when the directory gets its first quota.
    pub fn set_quota(
        &mut self,
        path: &DfsPath,
        names: QuotaChange,
        bytes: QuotaChange,
        txn: &mut Txn,
    ) -> Result<QuotaView> {
        // A space quota of 0 is allowed (nothing may be written); a name
        // quota counts the directory itself, so 0 could never hold.
        if names == Some(Some(0)) {
            return Err(NamenodeError::InvalidArgument(
                "a name quota must be at least 1: it counts the directory itself".into(),
            ));
        }
        let id = self
            .lookup(path)
            .ok_or_else(|| NamenodeError::not_found(path))?;
        if !self.inode(id)?.is_dir() {
            return Err(NamenodeError::NotADirectory(format!(
                "{path} is a file: quotas are set on directories"
            )));
        }
        let old = self
            .quotas
            .dirs
            .get(&id)
            .map(|d| d.limits)
            .unwrap_or_default();
        let limits = QuotaLimits {
            names: names.unwrap_or(old.names),
            bytes: bytes.unwrap_or(old.bytes),
        };
        if limits.is_none() {
            if self.quotas.dirs.remove(&id).is_some() {
                txn.del_quota(id);
            }
            return Ok(QuotaView {
                limits,
                usage: self.count_usage(id),
            });
        }
        txn.put_quota(id, &limits);
        let usage = self.usage_of(id);
        let d = self.quotas.dirs.entry(id).or_default();
        d.limits = limits;
        (d.names, d.bytes) = usage;
        Ok(QuotaView { limits, usage })
    }

    /// The quotas of directory `path` (none when it has none) and what its
    /// subtree uses (counted by a walk when it has no quota).
    pub fn quota(&self, path: &DfsPath) -> Result<QuotaView> {
        let id = self
            .lookup(path)
            .ok_or_else(|| NamenodeError::not_found(path))?;
        let limits = self.quotas.get(id).map(|d| d.limits).unwrap_or_default();
        Ok(QuotaView {
            limits,
            usage: self.usage_of(id),
        })
    }

    /// A removed directory's quota goes with it.
    pub(super) fn forget_quota(&mut self, id: InodeId, txn: &mut Txn) {
        if !self.quotas.is_empty() && self.quotas.dirs.remove(&id).is_some() {
            txn.del_quota(id);
        }
    }

    /// Takes the stored quotas in after a load, and counts each subtree.
    /// A quota of an inode that is gone or not a directory is dropped.
    pub(super) fn load_quotas(&mut self, stored: Vec<(InodeId, QuotaLimits)>, txn: &mut Txn) {
        for (id, limits) in stored {
            if !self.inodes.get(&id).is_some_and(|i| i.is_dir()) || limits.is_none() {
                log::error!("metadata: dropping the quota of inode {id}, not a directory");
                txn.del_quota(id);
                continue;
            }
            let (names, bytes) = self.count_usage(id);
            self.quotas.dirs.insert(
                id,
                DirQuota {
                    limits,
                    names,
                    bytes,
                },
            );
        }
    }

    /// Every quota, for export.
    pub(super) fn quota_records(&self) -> impl Iterator<Item = (InodeId, &QuotaLimits)> {
        self.quotas.dirs.iter().map(|(id, d)| (*id, &d.limits))
    }

    /// Test support: every quota directory's kept usage is what a walk counts.
    #[cfg(test)]
    pub(super) fn assert_quota_counts(&self) {
        for (id, d) in &self.quotas.dirs {
            assert_eq!(
                (d.names, d.bytes),
                self.count_usage(*id),
                "kept usage of {}",
                self.path_of(*id)
            );
        }
    }

    /// The path of inode `id` (`/` if it is detached, which no invariant
    /// allows).
    pub(super) fn path_of(&self, id: InodeId) -> DfsPath {
        let mut names = Vec::new();
        let mut cur = id;
        while cur != ROOT_ID {
            let Some(i) = self.inodes.get(&cur) else {
                break;
            };
            names.push(i.name.as_str());
            cur = i.parent;
        }
        names.reverse();
        DfsPath::parse(&format!("/{}", names.join("/"))).unwrap_or_else(|_| DfsPath::root())
    }
}
