//! Snapshots (issue 21; `docs/design/snapshots.md`): copy on first
//! change. Creating a snapshot copies nothing: it records a new epoch and
//! the next inode id. Before an inode a snapshot saw changes for the first
//! time after that snapshot, its state is saved ([`Namespace::preserve`],
//! called by `inode_mut`); a deleted subtree a snapshot saw is detached,
//! not removed, with its blocks. A snapshot's tree is read through
//! [`Namespace::state_at`]: the first copy saved at or after its epoch, or
//! the inode as it is now.
//!
//! Not done yet: quotas counting what snapshots keep, and the summary's
//! counters of detached inodes (they count as directories and files).
use super::inode::{Inode, InodeId, Kind, ROOT_ID};
use super::Namespace;
use crate::error::{NamenodeError, Result};
use crate::meta_store::{Loaded, Txn};
use crate::records::{SavedRecord, SnapshotRecord};
use dfs_common::path::DfsPath;
use std::collections::{HashMap, HashSet};

/// The name under a snapshottable directory its snapshots are read at.
pub const SNAPSHOT_DIR: &str = ".snapshot";

/// Where a path through `DIR/.snapshot` leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapPath {
    /// `DIR/.snapshot` itself: the list of DIR's snapshots.
    List(InodeId),
    /// An inode as the snapshot of `epoch` saw it.
    At { id: InodeId, epoch: u64 },
}

/// The stored snapshot records a load hands over.
#[derive(Debug, Default)]
pub struct SnapshotParts {
    pub epoch: u64,
    pub roots: Vec<(InodeId, Vec<SnapshotRecord>)>,
    pub saved: Vec<(InodeId, u64, SavedRecord)>,
    pub detached: Vec<InodeId>,
}

impl SnapshotParts {
    /// Takes them out of what a load read.
    pub fn take(loaded: &mut Loaded) -> Self {
        SnapshotParts {
            epoch: loaded.snapshot_epoch,
            roots: std::mem::take(&mut loaded.snapshot_roots),
            saved: std::mem::take(&mut loaded.saved),
            detached: std::mem::take(&mut loaded.detached),
        }
    }
}

/// Whether an inode changed between two states (its name and place
/// aside): attributes, a file's content, a directory's entries.
fn differs(a: &Inode, b: &Inode) -> bool {
    let attrs = a.mtime != b.mtime
        || a.permission != b.permission
        || a.owner != b.owner
        || a.group != b.group;
    attrs
        || match (&a.kind, &b.kind) {
            (Kind::Dir(x), Kind::Dir(y)) => x != y,
            (Kind::File(x), Kind::File(y)) => {
                x.length != y.length || x.blocks != y.blocks || x.replication != y.replication
            }
            _ => true,
        }
}

/// One snapshot of a snapshottable directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub name: String,
    /// Changes made after it carry this epoch or a later one.
    pub epoch: u64,
    /// Inodes below this id existed when it was taken.
    pub next_inode: InodeId,
    pub created_ms: u64,
}

#[derive(Debug, Default)]
pub struct Snapshots {
    /// The epoch changes are made in now: the number of snapshots ever
    /// taken (0 before the first).
    epoch: u64,
    /// Snapshottable directories and their snapshots, oldest first.
    roots: HashMap<InodeId, Vec<SnapshotInfo>>,
    /// Inodes as they were before a change: (epoch of that change, the
    /// inode then), oldest first.
    saved: HashMap<InodeId, Vec<(u64, Inode)>>,
    /// Roots of subtrees deleted from the live tree but kept for snapshots.
    detached: HashSet<InodeId>,
    /// Copies saved by the command being applied, not yet in its batch.
    unsaved: Vec<(InodeId, u64)>,
}

impl Snapshots {
    /// Whether any snapshot exists (nothing to preserve otherwise).
    pub fn is_empty(&self) -> bool {
        self.roots.values().all(Vec::is_empty)
    }
}

impl Namespace {
    /// Lets `path` (a directory) have snapshots. HDFS's rule: not below or
    /// above another snapshottable directory.
    pub fn allow_snapshot(&mut self, path: &DfsPath, txn: &mut Txn) -> Result<()> {
        let id = self.dir_id(path)?;
        if self.snapshots.roots.contains_key(&id) {
            return Ok(());
        }
        if self.child(self.inode(id)?, SNAPSHOT_DIR).is_some() {
            return Err(NamenodeError::Conflict(format!(
                "{path} has an entry named {SNAPSHOT_DIR}: rename it first"
            )));
        }
        for &other in self.snapshots.roots.keys() {
            if self.is_under(id, other) || self.is_under(other, id) {
                return Err(NamenodeError::Conflict(format!(
                    "{path}: a snapshottable directory cannot be below or above another ({})",
                    self.path_of(other)
                )));
            }
        }
        self.snapshots.roots.insert(id, Vec::new());
        self.store_snapshot_list(id, txn);
        Ok(())
    }

    /// Takes a snapshot of snapshottable directory `path`.
    pub fn create_snapshot(
        &mut self,
        path: &DfsPath,
        name: &str,
        now_ms: u64,
        txn: &mut Txn,
    ) -> Result<()> {
        dfs_common::path::check_name(name)
            .map_err(|e| NamenodeError::InvalidArgument(format!("snapshot name {name:?}: {e}")))?;
        let id = self.dir_id(path)?;
        let next_inode = self.next_inode;
        let Some(list) = self.snapshots.roots.get_mut(&id) else {
            return Err(NamenodeError::InvalidArgument(format!(
                "{path} is not snapshottable (dfs snapshot allow {path})"
            )));
        };
        if list.iter().any(|s| s.name == name) {
            return Err(NamenodeError::AlreadyExists(format!(
                "{path} already has a snapshot named {name}"
            )));
        }
        self.snapshots.epoch += 1;
        list.push(SnapshotInfo {
            name: name.to_string(),
            epoch: self.snapshots.epoch,
            next_inode,
            created_ms: now_ms,
        });
        txn.put_snapshot_epoch(self.snapshots.epoch);
        self.store_snapshot_list(id, txn);
        Ok(())
    }

    fn store_snapshot_list(&self, dir: InodeId, txn: &mut Txn) {
        let list: Vec<SnapshotRecord> = self
            .snapshots
            .roots
            .get(&dir)
            .into_iter()
            .flatten()
            .map(|s| SnapshotRecord {
                name: s.name.clone(),
                epoch: s.epoch,
                next_inode: s.next_inode,
                created_ms: s.created_ms,
            })
            .collect();
        txn.put_snapshots(dir, &list);
    }

    fn dir_id(&self, path: &DfsPath) -> Result<InodeId> {
        let id = self
            .lookup(path)
            .ok_or_else(|| NamenodeError::not_found(path))?;
        if !self.inode(id)?.is_dir() {
            return Err(NamenodeError::NotADirectory(format!(
                "{path} is not a directory"
            )));
        }
        Ok(id)
    }

    /// The newest snapshot epoch that saw inode `x` where it is now (or
    /// was when detached), if any.
    fn covering_epoch(&self, x: InodeId) -> Option<u64> {
        if self.snapshots.is_empty() {
            return None;
        }
        let mut best = None;
        let mut cur = x;
        loop {
            if let Some(s) = self.snapshots.roots.get(&cur).and_then(|l| l.last()) {
                if x < s.next_inode {
                    best = best.max(Some(s.epoch));
                }
            }
            match self.inodes.get(&cur) {
                Some(i) if cur != ROOT_ID => cur = i.parent,
                _ => break,
            }
        }
        best
    }

    /// Saves inode `x` as it is, before a change, if a snapshot saw it and
    /// it has no copy saved since that snapshot.
    pub(super) fn preserve(&mut self, x: InodeId) {
        let Some(e) = self.covering_epoch(x) else {
            return;
        };
        let done = self
            .snapshots
            .saved
            .get(&x)
            .and_then(|v| v.last())
            .is_some_and(|(at, _)| *at >= e);
        if done {
            return;
        }
        if let Some(i) = self.inodes.get(&x) {
            let copy = i.clone();
            let at = self.snapshots.epoch;
            self.snapshots.saved.entry(x).or_default().push((at, copy));
            self.snapshots.unsaved.push((x, at));
        }
    }

    /// [`Self::preserve`] for every inode of the subtree at `x` (before it
    /// moves where the snapshots that saw it will not see its changes).
    pub(super) fn preserve_subtree(&mut self, x: InodeId) {
        if self.covering_epoch(x).is_none() {
            return;
        }
        let mut stack = vec![x];
        while let Some(cur) = stack.pop() {
            self.preserve(cur);
            if let Some(Kind::Dir(kids)) = self.inodes.get(&cur).map(|i| &i.kind) {
                stack.extend(kids.iter().copied());
            }
        }
    }

    /// HDFS's rule: a snapshottable directory with snapshots (at `x` or
    /// below it) is neither deleted nor renamed.
    pub(super) fn check_no_snapshots_within(&self, x: InodeId, path: &DfsPath) -> Result<()> {
        for (root, list) in &self.snapshots.roots {
            if !list.is_empty() && self.is_under(*root, x) {
                return Err(NamenodeError::Conflict(format!(
                    "{path}: {} has snapshots ({}); delete them first",
                    self.path_of(*root),
                    list.len()
                )));
            }
        }
        Ok(())
    }

    /// Whether deleting the subtree at `x` must keep it for a snapshot.
    /// A subtree is kept when a snapshot sees it where it is, or when any
    /// inode in it has a saved copy (it moved out from under a snapshot
    /// that saw it: deleting its blocks now would lose the snapshot's).
    pub(super) fn keep_for_snapshots(&self, x: InodeId) -> bool {
        if self.snapshots.is_empty() {
            return false;
        }
        if self.covering_epoch(x).is_some() {
            return true;
        }
        let mut stack = vec![x];
        while let Some(cur) = stack.pop() {
            if self.snapshots.saved.contains_key(&cur) {
                return true;
            }
            if let Some(Kind::Dir(kids)) = self.inodes.get(&cur).map(|i| &i.kind) {
                stack.extend(kids.iter().copied());
            }
        }
        false
    }

    /// Marks the subtree at `x` (already unlinked) as kept for snapshots.
    pub(super) fn detach(&mut self, x: InodeId, txn: &mut Txn) {
        self.snapshots.detached.insert(x);
        txn.put_detached(x);
    }

    /// Records the copies the command just applied saved (in its batch).
    pub(super) fn flush_snapshot_copies(&mut self, txn: &mut Txn) -> Result<()> {
        for (x, at) in std::mem::take(&mut self.snapshots.unsaved) {
            let rec = self.saved_record(x, at)?;
            txn.put_saved(x, at, &rec);
        }
        Ok(())
    }

    /// A command failed (and changed nothing): the copies it saved go.
    pub(super) fn discard_snapshot_copies(&mut self) {
        for (x, at) in std::mem::take(&mut self.snapshots.unsaved)
            .into_iter()
            .rev()
        {
            if let Some(v) = self.snapshots.saved.get_mut(&x) {
                if v.last().is_some_and(|(a, _)| *a == at) {
                    v.pop();
                }
                if v.is_empty() {
                    self.snapshots.saved.remove(&x);
                }
            }
        }
    }

    fn saved_record(&self, x: InodeId, at: u64) -> Result<SavedRecord> {
        let inode = self
            .snapshots
            .saved
            .get(&x)
            .and_then(|v| v.iter().find(|(a, _)| *a == at))
            .map(|(_, i)| i)
            .ok_or_else(|| NamenodeError::Internal(format!("copy {at} of inode {x} is gone")))?;
        Ok(SavedRecord {
            record: inode.to_record(&self.names, self.record_sha256(inode)?),
            children: match &inode.kind {
                Kind::Dir(kids) => Some(kids.clone()),
                Kind::File(_) => None,
            },
        })
    }

    /// Every snapshot record, for export.
    pub(super) fn export_snapshots(&self, txn: &mut Txn) -> Result<()> {
        if self.snapshots.epoch > 0 {
            txn.put_snapshot_epoch(self.snapshots.epoch);
        }
        for &dir in self.snapshots.roots.keys() {
            self.store_snapshot_list(dir, txn);
        }
        for (&x, copies) in &self.snapshots.saved {
            for (at, _) in copies {
                txn.put_saved(x, *at, &self.saved_record(x, *at)?);
            }
        }
        for &x in &self.snapshots.detached {
            txn.put_detached(x);
        }
        Ok(())
    }

    /// Takes the stored snapshots in after the tree is loaded.
    pub(super) fn load_snapshots(&mut self, loaded: SnapshotParts) {
        self.snapshots.epoch = loaded.epoch;
        for (dir, list) in loaded.roots {
            let infos = list
                .into_iter()
                .map(|s| SnapshotInfo {
                    name: s.name,
                    epoch: s.epoch,
                    next_inode: s.next_inode,
                    created_ms: s.created_ms,
                })
                .collect();
            self.snapshots.roots.insert(dir, infos);
        }
        let mut saved = loaded.saved;
        saved.sort_by_key(|(x, at, _)| (*x, *at));
        for (x, at, rec) in saved {
            let mut inode = Inode::from_record(rec.record, &mut self.names);
            if let Some(kids) = rec.children {
                inode.kind = Kind::Dir(kids);
            }
            self.snapshots.saved.entry(x).or_default().push((at, inode));
        }
        self.snapshots.detached = loaded.detached.into_iter().collect();
    }

    /// Whether any saved copy or detached inode still needs `block` (its
    /// owner being the file `owner`).
    pub(super) fn snapshots_need(&self, owner: InodeId, block: &dfs_common::ids::BlockId) -> bool {
        self.snapshots.saved.get(&owner).is_some_and(|v| {
            v.iter()
                .any(|(_, i)| i.file().is_some_and(|f| f.blocks.contains(block)))
        })
    }

    /// Deletes snapshot `name` of `dir`, then collects what no snapshot
    /// needs any more: copies no remaining snapshot reads, kept (detached)
    /// inodes no remaining snapshot reaches, and the blocks only they held
    /// (their replicas pushed onto `dels`).
    pub fn delete_snapshot(
        &mut self,
        dir: &DfsPath,
        name: &str,
        txn: &mut Txn,
        dels: &mut super::Deletions,
    ) -> Result<()> {
        let (root, _) = self.snapshot(dir, name)?;
        if let Some(list) = self.snapshots.roots.get_mut(&root) {
            list.retain(|s| s.name != name);
        }
        self.store_snapshot_list(root, txn);
        self.collect_snapshot_garbage(txn, dels);
        Ok(())
    }

    /// Every inode some remaining snapshot reaches.
    fn reached_by_snapshots(&self) -> HashSet<InodeId> {
        let mut seen = HashSet::new();
        for (&root, list) in &self.snapshots.roots {
            for s in list {
                let mut stack = vec![root];
                while let Some(x) = stack.pop() {
                    seen.insert(x);
                    if let Some(Kind::Dir(kids)) = self.state_at(x, s.epoch).map(|i| &i.kind) {
                        stack.extend(kids.iter().copied());
                    }
                }
            }
        }
        seen
    }

    fn collect_snapshot_garbage(&mut self, txn: &mut Txn, dels: &mut super::Deletions) {
        let epochs: Vec<u64> = self
            .snapshots
            .roots
            .values()
            .flatten()
            .map(|s| s.epoch)
            .collect();
        let reached = self.reached_by_snapshots();
        // Copies: kept when some remaining epoch reads them (the first copy
        // saved at or after it) and their inode is reached.
        let mut dropped_blocks: Vec<(InodeId, Vec<dfs_common::ids::BlockId>)> = Vec::new();
        let saved = std::mem::take(&mut self.snapshots.saved);
        for (x, copies) in saved {
            let mut keep = Vec::new();
            let mut prev = 0u64;
            for (at, inode) in copies {
                let read = reached.contains(&x) && epochs.iter().any(|e| *e > prev && *e <= at);
                prev = at;
                if read {
                    keep.push((at, inode));
                } else {
                    txn.del_saved(x, at);
                    if let Some(f) = inode.file() {
                        dropped_blocks.push((x, f.blocks.to_vec()));
                    }
                }
            }
            if !keep.is_empty() {
                self.snapshots.saved.insert(x, keep);
            }
        }
        // Kept inodes no snapshot reaches and the live tree does not hold.
        let live = self.live_inodes();
        let gone: Vec<InodeId> = self
            .inodes
            .keys()
            .filter(|x| !live.contains(x) && !reached.contains(x))
            .collect();
        for x in gone {
            if let Some(inode) = self.inodes.remove(&x) {
                txn.del_inode(x);
                if let Some(f) = inode.file() {
                    dropped_blocks.push((x, f.blocks.to_vec()));
                }
                if inode.is_dir() {
                    self.directories = self.directories.saturating_sub(1);
                }
            }
        }
        let dropped: Vec<InodeId> = self
            .snapshots
            .detached
            .iter()
            .copied()
            .filter(|x| !reached.contains(x))
            .collect();
        for x in dropped {
            self.snapshots.detached.remove(&x);
            txn.del_detached(x);
        }
        // A kept inode whose parent just went (it moved into a subtree that
        // was later deleted, and an older snapshot still sees it where it
        // was): it becomes a detached root itself. Otherwise nothing would
        // attach it at the next load, which drops what it cannot attach,
        // and the older snapshot would lose it.
        let orphaned: Vec<InodeId> = self
            .inodes
            .iter()
            .filter(|(x, i)| {
                !live.contains(x)
                    && !self.snapshots.detached.contains(x)
                    && !self.inodes.contains_key(&i.parent)
            })
            .map(|(x, _)| x)
            .collect();
        for x in orphaned {
            self.snapshots.detached.insert(x);
            txn.put_detached(x);
        }
        // A block goes when nothing still lists it: its file (live or
        // kept) nor any remaining copy of that file.
        for (owner, blocks) in dropped_blocks {
            for b in blocks {
                let listed = self
                    .inodes
                    .get(&owner)
                    .and_then(|i| i.file())
                    .is_some_and(|f| f.blocks.contains(&b));
                if !listed && !self.snapshots_need(owner, &b) {
                    for n in self.blocks.remove(b, txn) {
                        dels.push((n, b));
                    }
                }
            }
        }
    }

    /// Every inode the live tree holds.
    fn live_inodes(&self) -> HashSet<InodeId> {
        let mut seen = HashSet::new();
        let mut stack = vec![ROOT_ID];
        while let Some(x) = stack.pop() {
            seen.insert(x);
            if let Some(Kind::Dir(kids)) = self.inodes.get(&x).map(|i| &i.kind) {
                stack.extend(kids.iter().copied());
            }
        }
        seen
    }

    /// Test support: blocks in the map that nothing lists (the live tree,
    /// a write in progress, or a remaining snapshot), and inodes that
    /// neither the live tree nor a snapshot reaches: what a leak would be.
    #[cfg(test)]
    pub fn snapshot_leaks(&self) -> (Vec<dfs_common::ids::BlockId>, Vec<InodeId>) {
        let mut listed = HashSet::new();
        let reached = self.reached_by_snapshots();
        let live = self.live_inodes();
        for x in live.iter().chain(reached.iter()) {
            if let Some(f) = self.inodes.get(x).and_then(|i| i.file()) {
                listed.extend(f.blocks.iter().copied());
            }
        }
        for (&root, list) in &self.snapshots.roots {
            for s in list {
                let mut stack = vec![root];
                while let Some(x) = stack.pop() {
                    match self.state_at(x, s.epoch).map(|i| &i.kind) {
                        Some(Kind::Dir(kids)) => stack.extend(kids.iter().copied()),
                        Some(Kind::File(f)) => listed.extend(f.blocks.iter().copied()),
                        None => {}
                    }
                }
            }
        }
        for p in self.pending.values() {
            listed.extend(p.file.blocks.iter().copied());
        }
        let blocks = self
            .blocks
            .iter()
            .map(|(id, _)| *id)
            .filter(|b| !listed.contains(b))
            .collect();
        let inodes = self
            .inodes
            .keys()
            .filter(|x| !live.contains(x) && !reached.contains(x))
            .collect();
        (blocks, inodes)
    }

    /// Where `path` leads if it goes through `.snapshot` under a
    /// snapshottable directory (`None`: an ordinary path, a directory
    /// named `.snapshot` elsewhere included).
    pub fn snapshot_path(&self, path: &DfsPath) -> Option<Result<SnapPath>> {
        if self.snapshots.roots.is_empty() {
            return None;
        }
        let comps: Vec<&str> = path.components().collect();
        let pos = comps.iter().position(|c| *c == SNAPSHOT_DIR)?;
        let dir_path = DfsPath::parse(&format!("/{}", comps[..pos].join("/"))).ok()?;
        let dir = self.lookup(&dir_path)?;
        let list = self.snapshots.roots.get(&dir)?;
        let Some(name) = comps.get(pos + 1) else {
            return Some(Ok(SnapPath::List(dir)));
        };
        let Some(s) = list.iter().find(|s| s.name == *name) else {
            return Some(Err(NamenodeError::NotFound(format!(
                "{dir_path} has no snapshot named {name}"
            ))));
        };
        let mut at = dir;
        for c in &comps[pos + 2..] {
            let kids = match self.state_at(at, s.epoch).map(|i| &i.kind) {
                Some(Kind::Dir(kids)) => kids,
                _ => return Some(Err(NamenodeError::not_found(path))),
            };
            let found = kids
                .iter()
                .copied()
                .find(|k| self.state_at(*k, s.epoch).is_some_and(|i| i.name == *c));
            match found {
                Some(k) => at = k,
                None => return Some(Err(NamenodeError::not_found(path))),
            }
        }
        Some(Ok(SnapPath::At {
            id: at,
            epoch: s.epoch,
        }))
    }

    /// The inodes along a path through `.snapshot`, as the snapshot saw
    /// them (the live ones above the snapshottable directory), with the
    /// paths they are shown at; as far as they exist. `None` for an
    /// ordinary path.
    pub(super) fn snapshot_chain(&self, path: &DfsPath) -> Option<Vec<(&Inode, String)>> {
        let _ = self.snapshot_path(path)?;
        let comps: Vec<&str> = path.components().collect();
        let mut chain = Vec::new();
        let mut shown = String::new();
        let mut cur = ROOT_ID;
        chain.push((self.inodes.get(&ROOT_ID)?, "/".to_string()));
        let mut epoch = None;
        let mut i = 0;
        while i < comps.len() {
            let c = comps[i];
            let node = match epoch {
                None => self.inodes.get(&cur)?,
                Some(e) => self.state_at(cur, e)?,
            };
            if epoch.is_none() && c == SNAPSHOT_DIR && self.snapshots.roots.contains_key(&cur) {
                shown.push_str("/.snapshot");
                let Some(name) = comps.get(i + 1) else {
                    chain.push((node, shown));
                    return Some(chain);
                };
                let s = self
                    .snapshots
                    .roots
                    .get(&cur)?
                    .iter()
                    .find(|s| s.name == *name)?;
                epoch = Some(s.epoch);
                shown.push('/');
                shown.push_str(name);
                chain.push((self.state_at(cur, s.epoch)?, shown.clone()));
                i += 2;
                continue;
            }
            let next = match (epoch, &node.kind) {
                (None, _) => self.child(node, c),
                (Some(e), Kind::Dir(kids)) => kids
                    .iter()
                    .copied()
                    .find(|k| self.state_at(*k, e).is_some_and(|i| i.name == c)),
                (Some(_), Kind::File(_)) => None,
            };
            let Some(next) = next else {
                return Some(chain);
            };
            cur = next;
            shown.push('/');
            shown.push_str(c);
            let inode = match epoch {
                None => self.inodes.get(&cur)?,
                Some(e) => self.state_at(cur, e)?,
            };
            chain.push((inode, shown.clone()));
            i += 1;
        }
        Some(chain)
    }

    /// Snapshots are read-only: a change to a path through `.snapshot`
    /// (or making one there) is refused.
    pub(super) fn refuse_snapshot_path(&self, path: &DfsPath) -> Result<()> {
        match self.snapshot_path(path) {
            None => Ok(()),
            Some(_) => Err(NamenodeError::PermissionDenied(format!(
                "{path} is in a snapshot, which is read-only"
            ))),
        }
    }

    /// The snapshots of `dir` as directory statuses under `DIR/.snapshot`.
    pub(super) fn snapshot_statuses(
        &self,
        dir: InodeId,
        at: &DfsPath,
    ) -> Result<Vec<dfs_common::proto::client::FileStatus>> {
        let mut out = Vec::new();
        for s in self.snapshots.roots.get(&dir).into_iter().flatten() {
            let inode = self
                .state_at(dir, s.epoch)
                .ok_or_else(|| NamenodeError::Internal(format!("snapshot {} is gone", s.name)))?;
            let p = at
                .join(&s.name)
                .map_err(|e| NamenodeError::Internal(e.to_string()))?;
            let mut st = self.status_of(dir, inode, p);
            st.modification_time = s.created_ms;
            out.push(st);
        }
        Ok(out)
    }

    /// What changed in `dir` from snapshot `from` to snapshot `to` (`.`:
    /// the live tree), as HDFS's diff report: (type, path, new path for a
    /// rename), paths relative to `dir` (`""` for it), sorted. An inode on
    /// one side only was created or deleted; on both, under another path,
    /// renamed; with other attributes, content or entries, modified.
    pub fn snapshot_diff(
        &self,
        dir: &DfsPath,
        from: &str,
        to: &str,
    ) -> Result<Vec<(&'static str, String, Option<String>)>> {
        let root = self.dir_id(dir)?;
        let side = |name: &str| -> Result<HashMap<InodeId, (String, &Inode)>> {
            let epoch = match name {
                "." => None,
                n => Some(self.snapshot(dir, n)?.1.epoch),
            };
            let at = |x: InodeId| match epoch {
                Some(e) => self.state_at(x, e),
                None => self.inodes.get(&x),
            };
            let mut out = HashMap::new();
            let mut stack = vec![(root, String::new())];
            while let Some((x, rel)) = stack.pop() {
                let Some(i) = at(x) else { continue };
                if let Kind::Dir(kids) = &i.kind {
                    for &k in kids {
                        if let Some(kid) = at(k) {
                            let p = if rel.is_empty() {
                                kid.name.to_string()
                            } else {
                                format!("{rel}/{}", kid.name)
                            };
                            stack.push((k, p));
                        }
                    }
                }
                out.insert(x, (rel, i));
            }
            Ok(out)
        };
        let (a, b) = (side(from)?, side(to)?);
        let mut out = Vec::new();
        for (x, (pa, ia)) in &a {
            match b.get(x) {
                None => out.push(("DELETE", pa.clone(), None)),
                Some((pb, ib)) => {
                    if pa != pb {
                        out.push(("RENAME", pa.clone(), Some(pb.clone())));
                    }
                    if differs(ia, ib) {
                        out.push(("MODIFY", pb.clone(), None));
                    }
                }
            }
        }
        for (x, (pb, _)) in &b {
            if !a.contains_key(x) {
                out.push(("CREATE", pb.clone(), None));
            }
        }
        // As HDFS: what is below a created or deleted directory is implied.
        let whole: Vec<(&'static str, String)> = out
            .iter()
            .filter(|(k, _, _)| *k == "CREATE" || *k == "DELETE")
            .map(|(k, p, _)| (*k, format!("{p}/")))
            .collect();
        out.retain(|(k, p, _)| {
            !whole
                .iter()
                .any(|(wk, wp)| wk == k && !wp.starts_with('/') && p.starts_with(wp.as_str()))
        });
        out.sort_by(|x, y| (&x.1, x.0).cmp(&(&y.1, y.0)));
        Ok(out)
    }

    /// Every snapshottable directory: its status and how many snapshots it
    /// has (WebHDFS GETSNAPSHOTTABLEDIRECTORYLIST).
    pub fn snapshottable_dirs(&self) -> Vec<(dfs_common::proto::client::FileStatus, usize)> {
        let mut out: Vec<_> = self
            .snapshots
            .roots
            .iter()
            .filter_map(|(&id, list)| {
                let inode = self.inodes.get(&id)?;
                Some((self.status_of(id, inode, self.path_of(id)), list.len()))
            })
            .collect();
        out.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        out
    }

    /// Lets `path` have snapshots no more (it has none).
    pub fn disallow_snapshot(&mut self, path: &DfsPath, txn: &mut Txn) -> Result<()> {
        let id = self.dir_id(path)?;
        match self.snapshots.roots.get(&id) {
            None => Ok(()),
            Some(list) if !list.is_empty() => Err(NamenodeError::Conflict(format!(
                "{path} has {} snapshots; delete them first",
                list.len()
            ))),
            Some(_) => {
                self.snapshots.roots.remove(&id);
                txn.del_snapshots(id);
                Ok(())
            }
        }
    }

    /// Renames snapshot `from` of `dir` to `to`.
    pub fn rename_snapshot(
        &mut self,
        dir: &DfsPath,
        from: &str,
        to: &str,
        txn: &mut Txn,
    ) -> Result<()> {
        dfs_common::path::check_name(to)
            .map_err(|e| NamenodeError::InvalidArgument(format!("snapshot name {to:?}: {e}")))?;
        let (root, _) = self.snapshot(dir, from)?;
        let list = self.snapshots.roots.get_mut(&root).into_iter().flatten();
        let mut taken = false;
        for s in list {
            taken |= s.name == to;
        }
        if taken && from != to {
            return Err(NamenodeError::AlreadyExists(format!(
                "{dir} already has a snapshot named {to}"
            )));
        }
        if let Some(s) = self
            .snapshots
            .roots
            .get_mut(&root)
            .and_then(|l| l.iter_mut().find(|s| s.name == from))
        {
            s.name = to.to_string();
        }
        self.store_snapshot_list(root, txn);
        Ok(())
    }

    /// Inode `x` as snapshot epoch `epoch` saw it.
    pub fn state_at(&self, x: InodeId, epoch: u64) -> Option<&Inode> {
        if let Some(v) = self.snapshots.saved.get(&x) {
            if let Some((_, i)) = v.iter().find(|(at, _)| *at >= epoch) {
                return Some(i);
            }
        }
        self.inodes.get(&x)
    }

    /// The snapshot `name` of snapshottable directory `dir`.
    pub fn snapshot(&self, dir: &DfsPath, name: &str) -> Result<(InodeId, SnapshotInfo)> {
        let id = self.dir_id(dir)?;
        self.snapshots
            .roots
            .get(&id)
            .and_then(|l| l.iter().find(|s| s.name == name))
            .map(|s| (id, s.clone()))
            .ok_or_else(|| NamenodeError::NotFound(format!("{dir} has no snapshot named {name}")))
    }

    /// Every path of snapshot `name` of `dir`, relative to `dir` ("" for
    /// `dir` itself), with the file's length or `None` for a directory.
    pub fn snapshot_tree(&self, dir: &DfsPath, name: &str) -> Result<Vec<(String, Option<u64>)>> {
        let (root, s) = self.snapshot(dir, name)?;
        let mut out = Vec::new();
        let mut stack = vec![(root, String::new())];
        while let Some((x, rel)) = stack.pop() {
            let i = self.state_at(x, s.epoch).ok_or_else(|| {
                NamenodeError::Internal(format!("snapshot {name} of {dir}: inode {x} is gone"))
            })?;
            match &i.kind {
                Kind::Dir(kids) => {
                    out.push((rel.clone(), None));
                    for &k in kids {
                        let kid = self.state_at(k, s.epoch).ok_or_else(|| {
                            NamenodeError::Internal(format!(
                                "snapshot {name} of {dir}: inode {k} is gone"
                            ))
                        })?;
                        stack.push((k, format!("{rel}/{}", kid.name)));
                    }
                }
                Kind::File(f) => out.push((rel, Some(f.length))),
            }
        }
        out.sort();
        Ok(out)
    }

    /// Test support: every block a snapshot's file lists is in the block
    /// map (none was deleted while a snapshot needed it).
    #[cfg(test)]
    pub fn snapshot_blocks_missing(&self, dir: &DfsPath, name: &str) -> Vec<String> {
        let Ok((root, s)) = self.snapshot(dir, name) else {
            return vec![format!("no snapshot {name}")];
        };
        let mut missing = Vec::new();
        let mut stack = vec![root];
        while let Some(x) = stack.pop() {
            match self.state_at(x, s.epoch).map(|i| &i.kind) {
                Some(Kind::Dir(kids)) => stack.extend(kids.iter().copied()),
                Some(Kind::File(f)) => {
                    for b in &f.blocks {
                        if self.blocks.get(b).is_none() {
                            missing.push(format!("inode {x} block {b}"));
                        }
                    }
                }
                None => missing.push(format!("inode {x}")),
            }
        }
        missing
    }
}
