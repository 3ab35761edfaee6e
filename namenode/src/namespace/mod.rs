//! `Namespace`: the directory tree, the files being written and the block
//! map, all in memory (HDFS FSDirectory + BlocksMap), changed only through
//! the operations here. Every operation is synchronous and takes the
//! caller's [`Txn`]: it records in the transaction exactly what it changed in
//! memory, and the caller applies and flushes it (see `namesystem`).
//!
//! What it does not do: I/O, locking, knowing which datanodes are live, or
//! sending commands. Block deletions are pushed onto a `Vec<(node, block)>`
//! the caller queues once the change is durable.
//!
//! Invariants:
//! - the root (inode 1) always exists and is a directory;
//! - every inode but the root has a parent directory whose `children` maps
//!   its name to it, and nothing else points at it;
//! - a file's blocks are all in the block map, owned by that file;
//! - a pending (under-construction) file is not in the tree: `status`,
//!   `list` and `content_summary` never see it; at most one pending file per
//!   path (`pending_by_path`);
//! - every operation validates before it mutates, so an `Err` leaves memory
//!   (and the transaction) untouched.
//!
//! Operation groups live in their own files (HDFS FSDir*Op): [`ops`] (mkdirs,
//! rename, delete, setrep), [`write`] (create, add_block, complete, leases),
//! [`report`] (locations, fsck, counts).
pub mod apply;
pub mod block_upkeep;
pub mod cluster_state;
pub mod concat;
pub mod inode;
pub mod inode_table;
pub mod ops;
pub mod permission;
pub mod quota;
pub mod report;
pub mod retry;
pub mod snapshot;
pub mod trash;
pub mod write;

use crate::blocks::{self, BlockMap, BlockOwner};
use crate::error::{NamenodeError, Result};
use crate::meta_store::{Loaded, Txn};
use crate::records::{BlockMetaIn, InodeRecordIn};
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{ContentSummary, DirectoryListing, FileStatus, FileType};
use inode::{Inode, InodeId, InodeRecord, Kind, Names, Pending, FIRST_FREE_ID, NO_PARENT, ROOT_ID};
use std::collections::HashMap;
use tokio::time::Instant;

/// Entries a listing returns when the caller gives no limit.
pub const DEFAULT_LIST_LIMIT: u32 = 1000;
/// The most entries one listing page may hold.
pub const MAX_LIST_LIMIT: u32 = 10_000;

/// Replicas to delete once a change is durable: (node, block).
pub type Deletions = Vec<(NodeId, BlockId)>;

#[derive(Debug)]
pub struct Namespace {
    inodes: inode_table::InodeTable,
    /// Owner and group names the inodes refer to.
    names: Names,
    next_inode: InodeId,
    /// Commands applied so far (the index of the last one); recorded with
    /// each command's changes, in the same batch.
    applied: u64,
    retry: retry::RetryCache,
    cluster: cluster_state::ClusterState,
    pending: HashMap<FileId, Pending>,
    pending_by_path: HashMap<DfsPath, FileId>,
    blocks: BlockMap,
    /// Directories in `inodes` (the root included), kept as inodes come and
    /// go so the summary never walks the tree; files are the rest.
    directories: u64,
    /// Directories with quotas, and what their subtrees use.
    quotas: quota::Quotas,
    /// Snapshots, and what they keep of changed and deleted inodes.
    snapshots: snapshot::Snapshots,
}

impl Namespace {
    /// An empty namespace: just `/`.
    pub fn new(now_ms: u64, txn: &mut Txn) -> Self {
        let mut ns = Namespace {
            inodes: inode_table::InodeTable::default(),
            names: Names::default(),
            next_inode: FIRST_FREE_ID,
            applied: 0,
            retry: retry::RetryCache::default(),
            cluster: cluster_state::ClusterState::default(),
            pending: HashMap::new(),
            pending_by_path: HashMap::new(),
            blocks: BlockMap::default(),
            directories: 0,
            quotas: quota::Quotas::default(),
            snapshots: snapshot::Snapshots::default(),
        };
        ns.install_root(now_ms, txn);
        ns.directories = 1;
        ns
    }

    fn install_root(&mut self, now_ms: u64, txn: &mut Txn) {
        let rec = InodeRecord::new_dir(NO_PARENT, "", now_ms);
        txn.put_inode(ROOT_ID, &rec);
        txn.put_next_inode(self.next_inode);
        let root = Inode::from_record(rec, &mut self.names);
        self.inodes.insert(ROOT_ID, root);
    }

    /// Rebuilds the namespace from stored records. Inconsistencies (which a
    /// crash between batches cannot cause, since each change is one batch)
    /// are logged and repaired through `txn`: an orphan inode is dropped, a
    /// block whose owner is gone is forgotten (block reports then delete it).
    ///
    /// The block map is built on a second thread while this one builds the
    /// tree (the two take about as long; a restart waits for both).
    pub fn load(mut loaded: Loaded, now_ms: u64, now: Instant, txn: &mut Txn) -> Self {
        let inodes = std::mem::take(&mut loaded.inodes);
        let blocks = std::mem::take(&mut loaded.blocks);
        Self::load_from(
            loaded,
            inodes.into_iter().map(|(id, r)| (id, r.into())),
            blocks.into_iter().map(|(id, m)| (id, m.into())),
            now_ms,
            now,
            txn,
        )
    }

    /// [`Namespace::load`] with the inodes and the blocks as they come
    /// (the start streams them while it reads: `crate::load`);
    /// `head` holds every other record.
    pub fn load_from(
        head: Loaded,
        inodes: impl IntoIterator<Item = (InodeId, InodeRecordIn)>,
        blocks: impl IntoIterator<Item = (BlockId, BlockMetaIn)> + Send,
        now_ms: u64,
        now: Instant,
        txn: &mut Txn,
    ) -> Self {
        std::thread::scope(|s| {
            let built = s.spawn(move || BlockMap::from_records(blocks));
            let mut head = head;
            let quotas = std::mem::take(&mut head.quotas);
            let snapshots = snapshot::SnapshotParts::take(&mut head);
            let detached = snapshots.detached.clone();
            let (mut ns, digests) = Self::load_tree(head, inodes, &detached, now_ms, now, txn);
            ns.load_snapshots(snapshots);
            ns.load_quotas(quotas, txn);
            ns.blocks = match built.join() {
                Ok(b) => b,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            ns.settle_loaded(digests, txn);
            ns
        })
    }

    /// The tree and the files being written of [`Namespace::load`].
    fn load_tree(
        loaded: Loaded,
        inodes: impl IntoIterator<Item = (InodeId, InodeRecordIn)>,
        detached: &[InodeId],
        now_ms: u64,
        now: Instant,
        txn: &mut Txn,
    ) -> (Self, Vec<(InodeId, Sha256Digest)>) {
        let inodes = inodes.into_iter();
        let expected = inodes.size_hint().0;
        let mut ns = Namespace {
            inodes: inode_table::InodeTable::default(),
            names: Names::default(),
            next_inode: loaded
                .next_inode
                .unwrap_or(FIRST_FREE_ID)
                .max(FIRST_FREE_ID),
            applied: loaded.applied,
            retry: retry::RetryCache::from_records(loaded.retries),
            cluster: cluster_state::ClusterState {
                datanodes: loaded.datanodes.into_iter().collect(),
                maintenance: loaded.maintenance.into_iter().collect(),
                balancer: loaded.balancer,
                restored: loaded.restored,
                operator_safe_mode: loaded.operator_safe_mode,
                raft: loaded.raft,
                cluster_agreed: loaded.cluster_agreed,
                s3_keys: loaded.s3_keys.into_iter().collect(),
            },
            pending: HashMap::new(),
            pending_by_path: HashMap::new(),
            blocks: BlockMap::default(),
            directories: 0,
            quotas: quota::Quotas::default(),
            snapshots: snapshot::Snapshots::default(),
        };
        // Files' digests, kept or not once the blocks are in (`keep_digests`).
        let mut digests = Vec::new();
        // Children by parent, gathered while the records go in.
        let mut by_parent: HashMap<InodeId, Vec<InodeId>, foldhash::fast::RandomState> =
            HashMap::default();
        let (names, next_inode) = (&mut ns.names, &mut ns.next_inode);
        // Subtrees kept for snapshots hang from no live directory.
        let detached_set: std::collections::HashSet<InodeId> = detached.iter().copied().collect();
        let built = inodes.map(|(id, record)| {
            *next_inode = (*next_inode).max(id.saturating_add(1));
            if id != ROOT_ID && !detached_set.contains(&id) {
                by_parent.entry(record.parent).or_default().push(id);
            }
            let (inode, sha) = Inode::from_record_unsettled(record, names);
            if let Some(sha) = sha {
                digests.push((id, sha));
            }
            (id, inode)
        });
        ns.inodes = inode_table::InodeTable::from_loaded(expected, built);
        if !ns.inodes.get(&ROOT_ID).is_some_and(|i| i.is_dir()) {
            log::warn!("metadata has no root directory; creating /");
            ns.install_root(now_ms, txn);
        }
        // Link children to parents, walking from the root so that an inode
        // is attached only if its whole ancestry is. Each directory's
        // entries are sorted once and its map built in bulk.
        let mut attached = vec![ROOT_ID];
        let mut stack = vec![ROOT_ID];
        for &d in detached {
            if ns.inodes.get(&d).is_some() {
                attached.push(d);
                stack.push(d);
            }
        }
        while let Some(dir) = stack.pop() {
            let kids = by_parent.remove(&dir).unwrap_or_default();
            let is_dir = ns.inodes.get(&dir).is_some_and(|i| i.is_dir());
            if !is_dir {
                for kid in kids {
                    let name = ns.inodes.get(&kid).map_or("", |i| i.name.as_str());
                    log::error!(
                        "metadata: inode {kid} ({name:?}) cannot be attached to {dir}; dropping it"
                    );
                }
                continue;
            }
            let mut named: Vec<(&str, InodeId)> = kids
                .iter()
                .map(|k| (ns.inodes.get(k).map_or("", |i| i.name.as_str()), *k))
                .collect();
            named.sort_unstable();
            let mut children: Vec<InodeId> = Vec::with_capacity(named.len());
            let mut last: Option<&str> = None;
            for (name, kid) in named {
                if last == Some(name) {
                    log::error!(
                        "metadata: inode {kid} ({name:?}) cannot be attached to {dir}; dropping it"
                    );
                    continue;
                }
                last = Some(name);
                attached.push(kid);
                stack.push(kid);
                children.push(kid);
            }
            if let Some(p) = ns.inodes.get_mut(&dir) {
                p.kind = Kind::Dir(children);
            }
        }
        if attached.len() != ns.inodes.len() {
            let keep: std::collections::HashSet<InodeId> = attached.into_iter().collect();
            let orphans: Vec<InodeId> = ns.inodes.keys().filter(|id| !keep.contains(id)).collect();
            for id in orphans {
                log::error!("metadata: dropping orphan inode {id}");
                ns.inodes.remove(&id);
                txn.del_inode(id);
            }
        }
        for file in loaded.pending {
            ns.pending_by_path.insert(file.path.clone(), file.file_id);
            ns.pending.insert(
                file.file_id,
                Pending {
                    file,
                    last_renewed: now,
                    relay: None,
                },
            );
        }
        // Counted once here; operations keep it from now on.
        ns.directories = ns.inodes.values().filter(|i| i.is_dir()).count() as u64;
        (ns, digests)
    }

    /// Every replicated record in its stored form (as [`Namespace::load`]
    /// reads them back), handed to `sink` in transactions of about `batch`
    /// records (tests compare states with it). Digest midstates stay in the
    /// store (they are not held here).
    pub fn export(&self, batch: usize, mut sink: impl FnMut(&mut Txn) -> Result<()>) -> Result<()> {
        let mut txn = Txn::new();
        txn.put_next_inode(self.next_inode);
        txn.put_applied(self.applied);
        txn.put_operator_safe_mode(self.cluster.operator_safe_mode);
        if let Some(at) = self.cluster.restored {
            txn.put_restored(at);
        }
        if let Some(p) = &self.cluster.raft {
            txn.put_raft(p);
        }
        if self.cluster.cluster_agreed {
            txn.put_cluster_agreed();
        }
        for (node, rec) in &self.cluster.datanodes {
            txn.put_datanode(*node, rec);
        }
        for (node, m) in &self.cluster.maintenance {
            txn.put_maintenance(*node, m);
        }
        if let Some(run) = &self.cluster.balancer {
            txn.put_balancer(Some(run));
        }
        for (key, rec) in self.retry.records() {
            txn.put_retry(key, rec);
        }
        for p in self.pending.values() {
            txn.put_pending(&p.file);
        }
        for (id, q) in self.quota_records() {
            txn.put_quota(id, q);
        }
        self.export_snapshots(&mut txn)?;
        sink(&mut txn)?;
        for (id, inode) in self.inodes.iter() {
            txn.put_inode_ref(
                id,
                &inode.record_ref(&self.names, self.record_sha256(inode)?),
            );
            if txn.len() >= batch {
                sink(&mut txn)?;
            }
        }
        let mut result = Ok(());
        self.blocks.for_each_record(|id, meta| {
            if result.is_ok() {
                txn.put_block(id, &meta);
                if txn.len() >= batch {
                    result = sink(&mut txn);
                }
            }
        });
        result?;
        sink(&mut txn)
    }

    /// The last step of a load, one walk of the files in table order (and
    /// so of their blocks in about slab order, see [`blocks::Cursor`]):
    /// each file's digest kept only where its blocks do not give the same
    /// ([`inode::FileData::settle_sha256`]), and the blocks' owners
    /// counted. Blocks no file or write owns are then forgotten (a walk of
    /// the whole map, only if the count says there are some).
    fn settle_loaded(&mut self, digests: Vec<(InodeId, Sha256Digest)>, txn: &mut Txn) {
        let mut at = blocks::Cursor::default();
        let blocks = &self.blocks;
        let mut owned = 0;
        // The digests are in id order, as the inodes went into the table.
        let mut digests = digests.into_iter().peekable();
        for (id, inode) in self.inodes.iter_mut() {
            let Some(f) = inode.file_mut() else {
                continue;
            };
            owned += blocks.count_owned(&f.blocks, BlockOwner::File(id), &mut at);
            if let Some((_, sha)) = digests.next_if(|(d, _)| *d == id) {
                f.keep_sha256(sha, |b| blocks.sha256_near(b, &mut at));
            }
        }
        // Any not met in order (a load that dropped inodes moves others).
        for (id, sha) in digests {
            if let Some(f) = self.inodes.get_mut(&id).and_then(Inode::file_mut) {
                f.keep_sha256(sha, |b| blocks.sha256_of(b));
            }
        }
        for p in self.pending.values() {
            let owner = BlockOwner::Pending(p.file.file_id);
            owned += blocks.count_owned(&p.file.blocks, owner, &mut at);
        }
        if owned != blocks.len() {
            self.forget_stray_blocks(txn);
        }
    }

    /// Blocks whose owner is gone: forget them.
    fn forget_stray_blocks(&mut self, txn: &mut Txn) {
        let ns = self;
        let stray: Vec<BlockId> = ns
            .blocks
            .iter()
            .filter(|(id, meta)| match meta.owner {
                BlockOwner::File(ino) => {
                    !ns.inodes
                        .get(&ino)
                        .and_then(|i| i.file())
                        .is_some_and(|f| f.blocks.contains(id))
                        && !ns.snapshots_need(ino, id)
                }
                BlockOwner::Pending(fid) => !ns
                    .pending
                    .get(&fid)
                    .is_some_and(|p| p.file.blocks.contains(id)),
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stray {
            log::warn!("metadata: block {id} has no owner; forgetting it");
            ns.blocks.remove(id, txn);
        }
    }

    // ----- lookups -----

    fn inode(&self, id: InodeId) -> Result<&Inode> {
        self.inodes
            .get(&id)
            .ok_or_else(|| NamenodeError::Internal(format!("inode {id} is referenced but missing")))
    }

    /// An inode to change: a snapshot that saw it keeps its state first.
    fn inode_mut(&mut self, id: InodeId) -> Result<&mut Inode> {
        self.preserve(id);
        self.inodes
            .get_mut(&id)
            .ok_or_else(|| NamenodeError::Internal(format!("inode {id} is referenced but missing")))
    }

    /// The inode at `path`, if any (a path through a file finds nothing).
    pub fn lookup(&self, path: &DfsPath) -> Option<InodeId> {
        let mut cur = ROOT_ID;
        for c in path.components() {
            cur = self.child(self.inodes.get(&cur)?, c)?;
        }
        Some(cur)
    }

    /// The name of inode `id` ("" if it is missing, which no invariant
    /// allows: it sorts first and matches no real name).
    fn name_of(&self, id: InodeId) -> &str {
        self.inodes.get(&id).map_or("", |i| i.name.as_str())
    }

    /// Where `name` is, or would go, among `dir`'s entries.
    fn child_slot(&self, dir: &Inode, name: &str) -> std::result::Result<usize, usize> {
        dir.children()
            .binary_search_by(|&k| self.name_of(k).cmp(name))
    }

    /// The entry `name` of directory `dir`.
    fn child(&self, dir: &Inode, name: &str) -> Option<InodeId> {
        let slot = self.child_slot(dir, name).ok()?;
        dir.children().get(slot).copied()
    }

    /// `dir`'s entries after `name` (all with `None`), in name order.
    fn children_after<'a>(&self, dir: &'a Inode, name: Option<&str>) -> &'a [InodeId] {
        let kids = dir.children();
        let from = match name.filter(|s| !s.is_empty()) {
            None => 0,
            Some(n) => match self.child_slot(dir, n) {
                Ok(i) => i + 1,
                Err(i) => i,
            },
        };
        kids.get(from..).unwrap_or(&[])
    }

    /// Writes inode `id` as it is in memory to `txn`.
    fn persist(&self, id: InodeId, txn: &mut Txn) -> Result<()> {
        let inode = self.inode(id)?;
        let rec = inode.to_record(&self.names, self.record_sha256(inode)?);
        txn.put_inode(id, &rec);
        Ok(())
    }

    /// The digest `inode`'s record stores: a file's, kept or given by its
    /// blocks ([`inode::FileData::sha256`]); zeros for a directory (not
    /// stored). An error if a file's digest is lost, which the settling
    /// rules out: never a made-up digest in the store.
    fn record_sha256(&self, inode: &Inode) -> Result<Sha256Digest> {
        match inode.file() {
            None => Ok(Sha256Digest([0; 32])),
            Some(f) => f.sha256(|b| self.blocks.sha256_of(b)).ok_or_else(|| {
                NamenodeError::Internal(format!(
                    "the digest of file {:?} (in directory inode {}) is lost",
                    inode.name, inode.parent
                ))
            }),
        }
    }

    /// Drops file `id`'s kept digest if its committed blocks give it.
    fn settle_sha256(&mut self, id: InodeId) {
        let blocks = &self.blocks;
        if let Some(f) = self.inodes.get_mut(&id).and_then(Inode::file_mut) {
            f.settle_sha256(|b| blocks.sha256_of(b));
        }
    }

    fn require(&self, path: &DfsPath) -> Result<(InodeId, &Inode)> {
        let id = self
            .lookup(path)
            .ok_or_else(|| NamenodeError::not_found(path))?;
        Ok((id, self.inode(id)?))
    }

    /// The directory that would hold `path`: 404 if it is missing, 409 if a
    /// file is in the way. `path` must not be the root.
    fn parent_dir(&self, path: &DfsPath) -> Result<InodeId> {
        let parent = path
            .parent()
            .ok_or_else(|| NamenodeError::InvalidArgument("/ has no parent directory".into()))?;
        let mut cur = ROOT_ID;
        let mut depth = 0;
        for c in parent.components() {
            depth += 1;
            match self.child(self.inode(cur)?, c) {
                None => {
                    return Err(NamenodeError::NotFound(format!(
                        "parent directory {parent} does not exist"
                    )));
                }
                Some(id) => {
                    if !self.inode(id)?.is_dir() {
                        return Err(NamenodeError::NotADirectory(format!(
                            "{} is a file, not a directory",
                            prefix(&parent, depth)
                        )));
                    }
                    cur = id;
                }
            }
        }
        Ok(cur)
    }

    /// Checks that `dir` could be made with `mkdir -p`: no file on the way.
    /// Returns how many components already exist.
    fn check_mkdirs(&self, dir: &DfsPath) -> Result<usize> {
        let mut cur = ROOT_ID;
        let mut depth = 0;
        for c in dir.components() {
            match self.child(self.inode(cur)?, c) {
                None => return Ok(depth),
                Some(id) => {
                    depth += 1;
                    if !self.inode(id)?.is_dir() {
                        return Err(NamenodeError::NotADirectory(format!(
                            "{} is a file, not a directory",
                            prefix(dir, depth)
                        )));
                    }
                    cur = id;
                }
            }
        }
        Ok(depth)
    }

    /// Allocates an inode for `record` and links it under `parent`.
    fn add_child(
        &mut self,
        parent: InodeId,
        name: &str,
        mut record: InodeRecord,
        now_ms: u64,
        txn: &mut Txn,
    ) -> Result<InodeId> {
        // As HDFS: a new file or directory takes its parent's group (so a
        // group-shared directory shares what is made in it).
        let p = self.inode(parent)?;
        record.group = self.names.get(p.group).to_string();
        let slot = match self.child_slot(p, name) {
            Err(slot) => slot,
            Ok(_) => {
                return Err(NamenodeError::Internal(format!(
                    "{name:?} is already an entry of inode {parent}"
                )))
            }
        };
        let id = self.next_inode;
        self.next_inode += 1;
        txn.put_next_inode(self.next_inode);
        record.parent = parent;
        record.name = name.to_string();
        txn.put_inode(id, &record);
        if record.file.is_none() {
            self.directories += 1;
        }
        let space = record
            .file
            .as_ref()
            .map_or(0, |f| f.length * u64::from(f.replication));
        let inode = Inode::from_record(record, &mut self.names);
        self.inodes.insert(id, inode);
        self.charge(parent, 1, space as i64);
        let p = self.inode_mut(parent)?;
        if let Kind::Dir(kids) = &mut p.kind {
            kids.insert(slot, id);
        }
        p.mtime = now_ms;
        self.persist(parent, txn)?;
        Ok(id)
    }

    /// Links inode `id` (already named) into directory `parent`.
    fn link(&mut self, parent: InodeId, id: InodeId) -> Result<()> {
        let name = self.inode(id)?.name.clone();
        let slot = match self.child_slot(self.inode(parent)?, &name) {
            Err(slot) => slot,
            Ok(_) => {
                return Err(NamenodeError::Internal(format!(
                    "{name:?} is already an entry of inode {parent}"
                )))
            }
        };
        if let Kind::Dir(kids) = &mut self.inode_mut(parent)?.kind {
            kids.insert(slot, id);
        }
        Ok(())
    }

    /// Unlinks `id` from its parent (the inode itself stays in `inodes`).
    fn unlink(&mut self, id: InodeId, now_ms: u64, txn: &mut Txn) -> Result<()> {
        let parent = self.inode(id)?.parent;
        let p = self.inode(parent)?;
        let slot = self.child_slot(p, &self.inode(id)?.name);
        let p = self.inode_mut(parent)?;
        if let (Ok(slot), Kind::Dir(kids)) = (slot, &mut p.kind) {
            kids.remove(slot);
        }
        p.mtime = now_ms;
        self.persist(parent, txn)?;
        Ok(())
    }

    /// Removes the subtree at `id` (already unlinked or about to be), its
    /// inodes, their quotas and its blocks; pushes block deletions; takes
    /// what it used off the quotas above it. Returns (files, directories,
    /// bytes).
    fn remove_subtree(
        &mut self,
        id: InodeId,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> (u64, u64, u64) {
        let (mut files, mut dirs, mut bytes, mut space) = (0, 0, 0, 0);
        let parent = self.inodes.get(&id).map(|i| i.parent);
        if self.keep_for_snapshots(id) {
            // A snapshot saw it: kept, detached, with its blocks.
            let (names, used) = self.usage_of(id);
            let mut stack = vec![id];
            while let Some(cur) = stack.pop() {
                match self.inodes.get(&cur).map(|i| &i.kind) {
                    Some(Kind::Dir(kids)) => {
                        dirs += 1;
                        stack.extend(kids.iter().copied());
                    }
                    Some(Kind::File(f)) => {
                        files += 1;
                        bytes += f.length;
                    }
                    None => {}
                }
            }
            self.detach(id, txn);
            if let Some(p) = parent {
                self.charge(p, -(names as i64), -(used as i64));
            }
            return (files, dirs, bytes);
        }
        let mut stack = vec![id];
        while let Some(cur) = stack.pop() {
            let Some(inode) = self.inodes.remove(&cur) else {
                continue;
            };
            txn.del_inode(cur);
            match inode.kind {
                Kind::Dir(kids) => {
                    dirs += 1;
                    stack.extend(kids);
                    self.forget_quota(cur, txn);
                }
                Kind::File(f) => {
                    files += 1;
                    bytes += f.length;
                    space += f.length * u64::from(f.replication);
                    for b in f.blocks {
                        for n in self.blocks.remove(b, txn) {
                            dels.push((n, b));
                        }
                    }
                }
            }
        }
        self.directories -= dirs;
        if let Some(p) = parent {
            self.charge(p, -((files + dirs) as i64), -(space as i64));
        }
        (files, dirs, bytes)
    }

    /// The status of inode `id`, known to be at `path`.
    fn status_of(&self, id: InodeId, inode: &Inode, path: DfsPath) -> FileStatus {
        let r = inode;
        let (file_type, length, replication, block_size, sha256, blocks) = match r.file() {
            None => (FileType::Directory, 0, 0, 0, None, 0),
            Some(f) => (
                FileType::File,
                f.length,
                f.replication,
                f.block_size.get(),
                f.sha256(|b| self.blocks.sha256_of(b)),
                f.blocks.len() as u64,
            ),
        };
        FileStatus {
            name: path.name().unwrap_or("").to_string(),
            path,
            file_type,
            length,
            replication,
            block_size,
            modification_time: r.mtime,
            access_time: r.atime,
            owner: self.names.get(r.owner).to_string(),
            group: self.names.get(r.group).to_string(),
            permission: r.permission,
            sha256,
            children: inode.children().len() as u64,
            blocks,
            inode_id: id,
        }
    }

    // ----- read operations -----

    /// `stat`.
    pub fn status(&self, path: &DfsPath) -> Result<FileStatus> {
        match self.snapshot_path(path).transpose()? {
            Some(snapshot::SnapPath::List(dir)) => {
                let mut st = self.status_of(dir, self.inode(dir)?, path.clone());
                st.children = self.snapshot_statuses(dir, path)?.len() as u64;
                return Ok(st);
            }
            Some(snapshot::SnapPath::At { id, epoch }) => {
                let inode = self.snapshot_inode(id, epoch)?;
                return Ok(self.status_of(id, inode, path.clone()));
            }
            None => {}
        }
        let (id, inode) = self.require(path)?;
        Ok(self.status_of(id, inode, path.clone()))
    }

    /// Inode `id` as the snapshot of `epoch` saw it.
    fn snapshot_inode(&self, id: InodeId, epoch: u64) -> Result<&Inode> {
        self.state_at(id, epoch)
            .ok_or_else(|| NamenodeError::Internal(format!("inode {id} of a snapshot is gone")))
    }

    /// A listing through `.snapshot` (whole: snapshot listings are not
    /// paged yet).
    fn list_snapshot(&self, path: &DfsPath, at: snapshot::SnapPath) -> Result<DirectoryListing> {
        let entries = match at {
            snapshot::SnapPath::List(dir) => self.snapshot_statuses(dir, path)?,
            snapshot::SnapPath::At { id, epoch } => {
                let inode = self.snapshot_inode(id, epoch)?;
                match &inode.kind {
                    Kind::File(_) => vec![self.status_of(id, inode, path.clone())],
                    Kind::Dir(kids) => {
                        let mut out = Vec::with_capacity(kids.len());
                        for &k in kids {
                            let kid = self.snapshot_inode(k, epoch)?;
                            let p = path.join(&kid.name).map_err(|e| {
                                NamenodeError::Internal(format!("stored name {:?}: {e}", kid.name))
                            })?;
                            out.push(self.status_of(k, kid, p));
                        }
                        out.sort_by(|a, b| a.name.cmp(&b.name));
                        out
                    }
                }
            }
        };
        Ok(DirectoryListing {
            path: path.clone(),
            entries,
            has_more: false,
        })
    }

    /// `ls`: a directory's entries sorted by name, after `start_after`, at
    /// most `limit` (default 1000); a file lists as itself.
    pub fn list(
        &self,
        path: &DfsPath,
        start_after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<DirectoryListing> {
        if let Some(at) = self.snapshot_path(path).transpose()? {
            return self.list_snapshot(path, at);
        }
        let (id, inode) = self.require(path)?;
        if !inode.is_dir() {
            return Ok(DirectoryListing {
                path: path.clone(),
                entries: vec![self.status_of(id, inode, path.clone())],
                has_more: false,
            });
        }
        let limit = match limit {
            None | Some(0) => DEFAULT_LIST_LIMIT,
            Some(n) => n.min(MAX_LIST_LIMIT),
        } as usize;
        let after = self.children_after(inode, start_after);
        let mut entries = Vec::with_capacity(limit.min(after.len()));
        for &kid in after.iter().take(limit) {
            let child = self.inode(kid)?;
            let child_path = path.join(&child.name).map_err(|e| {
                NamenodeError::Internal(format!("stored name {:?} is invalid: {e}", child.name))
            })?;
            entries.push(self.status_of(kid, child, child_path));
        }
        let has_more = after.len() > limit;
        Ok(DirectoryListing {
            path: path.clone(),
            entries,
            has_more,
        })
    }

    /// How many entries of the directory at `path` sort after `name`
    /// (WebHDFS LISTSTATUS_BATCH's `remainingEntries`); 0 for a file.
    pub fn count_after(&self, path: &DfsPath, name: &str) -> Result<u64> {
        let (_, inode) = self.require(path)?;
        Ok(self.children_after(inode, Some(name)).len() as u64)
    }

    /// `du`: totals under `path`, itself included, in one hold of the
    /// caller's lock (the namesystem walks in steps instead, see
    /// [`report::SummaryWalk`]).
    pub fn content_summary(&self, path: &DfsPath) -> Result<ContentSummary> {
        let mut walk = self.content_summary_start(path)?;
        while !self.content_summary_step(&mut walk, usize::MAX) {}
        Ok(walk.finish())
    }
}

/// The first `depth` components of `path`, as a path string.
fn prefix(path: &DfsPath, depth: usize) -> String {
    let mut s = String::new();
    for c in path.components().take(depth) {
        s.push('/');
        s.push_str(c);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

#[cfg(test)]
pub(crate) mod apply_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
pub(crate) mod tests;
