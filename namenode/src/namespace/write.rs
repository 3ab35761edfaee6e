//! The write path (HDFS FSDirWriteFileOp + LeaseManager's bookkeeping):
//! `create` registers an under-construction file (`append` reopens a
//! complete one), `add_block` allocates its blocks, `complete` makes it
//! visible (or swaps in an append's blocks) in one step, and a writer that gives
//! up or goes silent has its file and blocks removed.
//!
//! Invariants (beyond the namespace's):
//! - a pending file's blocks are in the block map, owned by it, so they can
//!   be deleted if the write never completes;
//! - `complete` is the only way a pending file enters the tree, and it
//!   re-checks the path then, since the tree may have changed meanwhile; a
//!   block committed with fewer replicas than wanted (the pipeline lost
//!   hops) is handed to the replication monitor at once;
//! - the lease clock (`last_renewed`) uses `tokio::time::Instant`, so tests
//!   drive expiry with `tokio::time::pause()` / `advance()`;
//! - a write relayed by a datanode (WebHDFS landing) ends when that node is
//!   declared dead (the namesystem abandons [`Namespace::writes_relayed_by`]), as at lease expiry
//!   but without waiting for it.
use super::inode::{AppendTarget, FileMeta, InodeId, Pending, PendingFile, DEFAULT_OWNER};
use super::{Deletions, Namespace};
use crate::blocks::{BlockMeta, BlockOwner};
use crate::commands::{AppendOpened, Completion, NewFile};
use crate::config::{check_block_size, check_replication};
use crate::error::{NamenodeError, Result};
use crate::meta_store::Txn;
use crate::placement::{self, Candidate};
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::FileStatus;
use std::time::Duration;
use tokio::time::Instant;

/// A freshly allocated block and its pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocatedBlock {
    pub block_id: BlockId,
    /// Where the block starts in the file (every earlier block is full).
    pub offset: u64,
    pub targets: Vec<NodeId>,
    /// The file's block size: what each target may have to store.
    pub block_size: u64,
}

impl Namespace {
    fn pending_file(&self, id: FileId) -> Result<&Pending> {
        self.pending.get(&id).ok_or_else(|| no_write(id))
    }

    /// Registers an under-construction file at `f.path` (not visible
    /// until `complete`). 409 if a directory is there, if a complete file
    /// is there and `!overwrite`, or if another writer holds the path
    /// (even with `overwrite`).
    pub fn create(&mut self, f: &NewFile, now_ms: u64, now: Instant, txn: &mut Txn) -> Result<()> {
        let path = &f.path;
        if path.is_root() {
            return Err(NamenodeError::IsADirectory("/ is a directory".into()));
        }
        check_replication(f.replication).map_err(NamenodeError::InvalidArgument)?;
        check_block_size(f.block_size).map_err(NamenodeError::InvalidArgument)?;
        if f.permission > 0o7777 {
            return Err(NamenodeError::InvalidArgument(format!(
                "permission {:o} is not a mode",
                f.permission
            )));
        }
        if self.pending.contains_key(&f.file_id) {
            return Err(NamenodeError::Conflict(format!(
                "a write with file id {} is already in progress",
                f.file_id
            )));
        }
        let replaces = self.check_file_target(path, f.overwrite, f.create_parent)?;
        if self.pending_by_path.contains_key(path) {
            return Err(NamenodeError::LeaseHeld(format!(
                "{path} is being written by another client"
            )));
        }
        // A name for the file (unless it replaces one) and each parent it
        // makes; its space is checked block by block (`add_block`).
        let (dir, missing) = self.deepest_dir(&path.parent().unwrap_or_else(DfsPath::root));
        let names = missing + u64::from(replaces.is_none());
        self.check_quota(dir, names, 0, &[])?;
        let file = PendingFile {
            file_id: f.file_id,
            path: path.clone(),
            overwrite: f.overwrite,
            create_parent: f.create_parent,
            replication: f.replication,
            block_size: f.block_size,
            owner: f
                .owner
                .clone()
                .filter(|o| !o.is_empty())
                .unwrap_or_else(|| DEFAULT_OWNER.to_string()),
            permission: f.permission,
            blocks: Vec::new(),
            created_ms: now_ms,
            append: None,
        };
        txn.put_pending(&file);
        self.pending_by_path.insert(path.clone(), file.file_id);
        self.pending.insert(
            file.file_id,
            Pending {
                file,
                last_renewed: now,
                relay: None,
            },
        );
        Ok(())
    }

    /// Can a file land at `path`? Checks the parent chain and what is at
    /// `path` now; says nothing about pending writers.
    pub(super) fn check_file_target(
        &self,
        path: &DfsPath,
        overwrite: bool,
        create_parent: bool,
    ) -> Result<Option<InodeId>> {
        let parent = path.parent().unwrap_or_else(DfsPath::root);
        if create_parent {
            self.check_mkdirs(&parent)?;
        } else {
            self.parent_dir(path)?;
        }
        match self.lookup(path) {
            None => Ok(None),
            Some(id) => {
                if self.inode(id)?.is_dir() {
                    Err(NamenodeError::IsADirectory(format!(
                        "{path} is a directory"
                    )))
                } else if !overwrite {
                    Err(NamenodeError::AlreadyExists(format!(
                        "{path} already exists"
                    )))
                } else {
                    Ok(Some(id))
                }
            }
        }
    }

    /// Chooses the pipeline of the next block of a pending file among
    /// `candidates` (live datanodes), avoiding `exclude`: what the proposer
    /// of an `AddBlock` decides. Changes nothing.
    pub fn place_block(
        &self,
        file_id: FileId,
        block_id: BlockId,
        exclude: &[NodeId],
        candidates: &[Candidate],
    ) -> Result<Vec<NodeId>> {
        let p = self.pending_file(file_id)?;
        let (replication, block_size) = (p.file.replication, p.file.block_size);
        let targets = placement::choose_targets(
            block_id,
            usize::from(replication),
            candidates,
            exclude,
            block_size,
        );
        if targets.is_empty() {
            return Err(no_targets(candidates, exclude, block_size));
        }
        Ok(targets)
    }

    /// Adds block `block_id`, sent to `targets`, to a pending file. Renews
    /// the lease.
    pub fn add_block(
        &mut self,
        file_id: FileId,
        block_id: BlockId,
        targets: &[NodeId],
        now: Instant,
        txn: &mut Txn,
    ) -> Result<AllocatedBlock> {
        let p = self.pending_file(file_id)?;
        if targets.is_empty() {
            return Err(NamenodeError::InvalidArgument(format!(
                "block {block_id} has no target"
            )));
        }
        if self.blocks.get(&block_id).is_some() {
            return Err(NamenodeError::Conflict(format!(
                "block id {block_id} is taken"
            )));
        }
        let block_size = p.file.block_size;
        if !self.quotas.is_empty() {
            let parent = p.file.path.parent().unwrap_or_else(DfsPath::root);
            let (dir, _) = self.deepest_dir(&parent);
            let space = block_size * u64::from(p.file.replication);
            self.check_quota(dir, 0, space, &[])?;
        }
        let kept = p.file.append.as_ref().map_or(0, |a| a.kept_blocks);
        let offset = (kept + p.file.blocks.len() as u64) * block_size;
        let meta = BlockMeta {
            owner: BlockOwner::Pending(file_id),
            len: 0,
            sha256: None,
            replicas: Vec::new(),
            targets: targets.to_vec(),
        };
        self.blocks.insert(block_id, meta, txn);
        if let Some(p) = self.pending.get_mut(&file_id) {
            p.file.blocks.push(block_id);
            p.last_renewed = now;
            txn.put_pending(&p.file);
        }
        Ok(AllocatedBlock {
            block_id,
            offset,
            targets: targets.to_vec(),
            block_size,
        })
    }

    /// Drops a block of a pending file (its pipeline failed); every node
    /// that may hold part of it is pushed onto `dels`.
    pub fn abandon_block(
        &mut self,
        file_id: FileId,
        block_id: BlockId,
        now: Instant,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<()> {
        let p = self.pending_file(file_id)?;
        if !p.file.blocks.contains(&block_id) {
            return Err(NamenodeError::NotFound(format!(
                "block {block_id} is not a block of the file being written as {file_id}"
            )));
        }
        if let Some(p) = self.pending.get_mut(&file_id) {
            p.file.blocks.retain(|b| *b != block_id);
            p.last_renewed = now;
            txn.put_pending(&p.file);
        }
        for n in self.blocks.remove(block_id, txn) {
            dels.push((n, block_id));
        }
        Ok(())
    }

    /// Makes a pending file visible at its path, atomically. Validates the
    /// block list against what was allocated (in order; every block but
    /// the last full; lengths summing to `length`; each with a replica),
    /// then re-checks the path: parents are made if `create_parent`, an
    /// existing file is replaced only with `overwrite` (its blocks pushed
    /// onto `dels`). Allocated blocks left out of the list are dropped.
    pub fn complete(
        &mut self,
        req: &Completion,
        now_ms: u64,
        now: Instant,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<FileStatus> {
        let p = &self.pending_file(req.file_id)?.file;
        let path = p.path.clone();
        let mut last_pos: Option<usize> = None;
        let mut total: u64 = 0;
        for (i, b) in req.blocks.iter().enumerate() {
            let pos = p
                .blocks
                .iter()
                .position(|x| *x == b.block_id)
                .ok_or_else(|| {
                    NamenodeError::InvalidArgument(format!(
                        "block {} was not allocated to {path}",
                        b.block_id
                    ))
                })?;
            if last_pos.is_some_and(|l| pos <= l) {
                return Err(NamenodeError::InvalidArgument(format!(
                    "blocks of {path} are listed out of allocation order or twice"
                )));
            }
            last_pos = Some(pos);
            let is_last = i + 1 == req.blocks.len();
            if (!is_last && b.len != p.block_size) || b.len > p.block_size {
                return Err(NamenodeError::InvalidArgument(format!(
                    "block {} of {path} is {} bytes; every block but the last must be exactly {} bytes",
                    b.block_id, b.len, p.block_size
                )));
            }
            if b.replicas.is_empty() {
                return Err(NamenodeError::InvalidArgument(format!(
                    "block {} of {path} has no replica",
                    b.block_id
                )));
            }
            total += b.len;
        }
        let base = p.append.as_ref().map_or(0, |a| a.kept_len(p.block_size));
        if base + total != req.length {
            return Err(NamenodeError::InvalidArgument(format!(
                "the blocks of {path} hold {} bytes but the file length is {}",
                base + total,
                req.length
            )));
        }
        if let Some(target) = p.append.clone() {
            return self.complete_append(req, target, now_ms, now, txn, dels);
        }
        let replaced = self.check_file_target(&path, p.overwrite, p.create_parent)?;

        // Validated: now change things.
        let (file, listed) = self.end_write(req, &path, txn, dels)?;
        if let Some(old) = replaced {
            self.unlink(old, now_ms, txn)?;
            self.remove_subtree(old, txn, dels);
        }
        let parent_path = path.parent().unwrap_or_else(DfsPath::root);
        // Parents made on the way are the writer's, as with `mkdir -p`.
        let parent = self.make_dirs_as(&parent_path, Some(&file.owner), None, now_ms, txn)?;
        let meta = FileMeta {
            length: req.length,
            replication: file.replication,
            block_size: file.block_size,
            blocks: listed,
            sha256: req.sha256,
        };
        let record = Self::file_record(&file.owner, file.permission, now_ms, meta);
        let name = path.name().unwrap_or_default();
        let id = self.add_child(parent, name, record, now_ms, txn)?;
        if let Some(st) = &req.sha256_state {
            txn.put_hash_state(id, st);
        }
        self.commit_blocks(req, id, now, txn);
        self.settle_sha256(id);
        Ok(self.status_of(id, self.inode(id)?, path))
    }

    /// Ends the write `req` completes: out of the pending tables and the
    /// store, and the blocks it allocated but does not list are removed
    /// (their replicas onto `dels`). Returns what the write recorded, and
    /// the blocks `req` lists, in order.
    fn end_write(
        &mut self,
        req: &Completion,
        path: &DfsPath,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<(PendingFile, Vec<BlockId>)> {
        let Some(Pending { file, .. }) = self.pending.remove(&req.file_id) else {
            return Err(no_write(req.file_id));
        };
        self.pending_by_path.remove(path);
        txn.del_pending(req.file_id);
        let listed: Vec<BlockId> = req.blocks.iter().map(|b| b.block_id).collect();
        for b in file.blocks.iter().filter(|b| !listed.contains(b)) {
            for n in self.blocks.remove(*b, txn) {
                dels.push((n, *b));
            }
        }
        Ok((file, listed))
    }

    /// Records the committed blocks of `req` as `inode`'s.
    fn commit_blocks(&mut self, req: &Completion, id: InodeId, now: Instant, txn: &mut Txn) {
        for b in &req.blocks {
            self.blocks
                .commit(b.block_id, id, b.len, b.sha256, &b.replicas, now, txn);
            // The monitor looks at every new block: a pipeline that lost
            // hops leaves it short, and a listed replica may sit on a node
            // already declared dead (which then brings no later event), so
            // counting listed replicas here is not enough. Healthy blocks
            // cost the monitor one check.
            self.blocks.touch(b.block_id);
        }
    }

    /// Reopens the complete file at `path` for appending: a pending write
    /// that keeps the file's whole blocks and will rewrite a short last
    /// one (see `AppendRequest`). The file stays visible as it is. 409
    /// when another client writes the path; 404 when missing; 409 on a
    /// directory.
    pub fn append(
        &mut self,
        file_id: FileId,
        path: &DfsPath,
        now_ms: u64,
        now: Instant,
        txn: &mut Txn,
    ) -> Result<AppendOpened> {
        let (id, inode) = self.require(path)?;
        let Some(f) = inode.file() else {
            return Err(NamenodeError::IsADirectory(format!(
                "{path} is a directory; only files can be appended to"
            )));
        };
        if self.pending_by_path.contains_key(path) {
            return Err(NamenodeError::LeaseHeld(format!(
                "{path} is being written by another client"
            )));
        }
        let old_blocks = f.blocks.len() as u64;
        let short_last = f.length % f.block_size != 0;
        let kept_blocks = if short_last {
            old_blocks.saturating_sub(1)
        } else {
            old_blocks
        };
        let replaced = if short_last {
            f.blocks.last().copied()
        } else {
            None
        };
        let target = AppendTarget {
            inode: id,
            old_length: f.length,
            old_blocks,
            kept_blocks,
            replaced,
        };
        if self.pending.contains_key(&file_id) {
            return Err(NamenodeError::Conflict(format!(
                "a write with file id {file_id} is already in progress"
            )));
        }
        let file = PendingFile {
            file_id,
            path: path.clone(),
            overwrite: false,
            create_parent: false,
            replication: f.replication,
            block_size: f.block_size.get(),
            owner: self.names.get(inode.owner).to_string(),
            permission: inode.permission,
            blocks: Vec::new(),
            created_ms: now_ms,
            append: Some(target.clone()),
        };
        let opened = AppendOpened {
            file_id: file.file_id,
            block_size: f.block_size.get(),
            replication: f.replication,
            status: self.status_of(id, inode, path.clone()),
            kept_len: target.kept_len(f.block_size.get()),
            inode: id,
            replaced,
        };
        txn.put_pending(&file);
        self.pending_by_path.insert(path.clone(), file.file_id);
        self.pending.insert(
            file.file_id,
            Pending {
                file,
                last_renewed: now,
                relay: None,
            },
        );
        Ok(opened)
    }

    /// `complete` of an append (validated by the caller): the file's short
    /// last block gives way to the new blocks, in one step.
    fn complete_append(
        &mut self,
        req: &Completion,
        target: AppendTarget,
        now_ms: u64,
        now: Instant,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<FileStatus> {
        let path = self.pending_file(req.file_id)?.file.path.clone();
        let unchanged = self.lookup(&path) == Some(target.inode)
            && self.inode(target.inode)?.file().is_some_and(|f| {
                f.length == target.old_length && f.blocks.len() as u64 == target.old_blocks
            });
        if !unchanged {
            return Err(NamenodeError::Conflict(format!(
                "{path} was moved, replaced or deleted while being appended to"
            )));
        }
        // Validated: now change things.
        let (_, listed) = self.end_write(req, &path, txn, dels)?;
        // A snapshot that saw the file keeps its old last block.
        self.preserve(target.inode);
        if let Some(old) = target.replaced {
            if !self.snapshots_need(target.inode, &old) {
                for n in self.blocks.remove(old, txn) {
                    dels.push((n, old));
                }
            }
        }
        let id = target.inode;
        let (parent, replication) = {
            let inode = self.inode(id)?;
            (inode.parent, inode.file().map_or(0, |f| f.replication))
        };
        let grown = req.length as i64 - target.old_length as i64;
        self.charge(parent, 0, grown * i64::from(replication));
        {
            let inode = self.inode_mut(id)?;
            if let Some(f) = inode.file_mut() {
                f.blocks.truncate(target.kept_blocks as usize);
                f.blocks.extend(listed);
                f.length = req.length;
                f.set_sha256(req.sha256);
            }
            inode.mtime = now_ms;
        }
        self.persist(id, txn)?;
        match &req.sha256_state {
            Some(st) => txn.put_hash_state(id, st),
            None => txn.del_hash_state(id),
        }
        self.commit_blocks(req, id, now, txn);
        self.settle_sha256(id);
        Ok(self.status_of(id, self.inode(id)?, path))
    }

    /// The writer is still there.
    pub fn renew_lease(&mut self, file_id: FileId, now: Instant) -> Result<()> {
        let p = self
            .pending
            .get_mut(&file_id)
            .ok_or_else(|| no_write(file_id))?;
        p.last_renewed = now;
        Ok(())
    }

    /// Notes that datanode `node` relays the write `file_id` (see
    /// `Pending::relay`).
    pub fn set_relay(&mut self, file_id: FileId, node: NodeId) -> Result<()> {
        let p = self
            .pending
            .get_mut(&file_id)
            .ok_or_else(|| no_write(file_id))?;
        p.relay = Some(node);
        Ok(())
    }

    /// The pending files relayed by a node for which `dead` is true (the
    /// relay died, and the write with it: nobody else can finish it); the
    /// caller abandons them.
    pub fn writes_relayed_by(&self, dead: impl Fn(&NodeId) -> bool) -> Vec<FileId> {
        self.pending
            .values()
            .filter(|p| p.relay.as_ref().is_some_and(&dead))
            .map(|p| p.file.file_id)
            .collect()
    }

    /// Gives up a pending file: it and its blocks are removed. Returns its
    /// path, or `None` if no such write is in progress (abandoning is
    /// idempotent: the lease may already have expired).
    pub fn abandon_file(
        &mut self,
        file_id: FileId,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Option<DfsPath> {
        let Pending { file, .. } = self.pending.remove(&file_id)?;
        self.pending_by_path.remove(&file.path);
        txn.del_pending(file_id);
        for b in file.blocks {
            for n in self.blocks.remove(b, txn) {
                dels.push((n, b));
            }
        }
        Some(file.path)
    }

    /// The pending files whose lease was last renewed more than `timeout`
    /// before `now`; the caller abandons them.
    pub fn expired_writes(&self, now: Instant, timeout: Duration) -> Vec<FileId> {
        self.pending
            .values()
            .filter(|p| now.saturating_duration_since(p.last_renewed) > timeout)
            .map(|p| p.file.file_id)
            .collect()
    }

    /// Every writer's lease counts from `now` (safe mode: nothing expires,
    /// and on leaving it every writer gets a full period to come back).
    pub fn renew_all_leases(&mut self, now: Instant) {
        for p in self.pending.values_mut() {
            p.last_renewed = now;
        }
    }

    /// Files being written.
    /// The write under way at `path`, if any, with the nodes that may
    /// hold each of its blocks (see [`BlockMap::holders`]).
    pub fn pending_at(&self, path: &DfsPath) -> Option<(PendingFile, Vec<Vec<NodeId>>)> {
        let p = self.pending.values().find(|p| p.file.path == *path)?;
        let holders = p
            .file
            .blocks
            .iter()
            .map(|b| self.blocks.holders(b))
            .collect();
        Some((p.file.clone(), holders))
    }

    /// The path of the write under way that `owner` started and that has a
    /// block `is` picks out.
    pub fn pending_with_block(&self, owner: &str, is: impl Fn(BlockId) -> bool) -> Option<DfsPath> {
        self.pending
            .values()
            .find(|p| p.file.owner == owner && p.file.blocks.iter().any(|b| is(*b)))
            .map(|p| p.file.path.clone())
    }

    /// The writes under way that `owner` started.
    pub fn pending_of(&self, owner: &str) -> Vec<FileId> {
        self.pending
            .values()
            .filter(|p| p.file.owner == owner)
            .map(|p| p.file.file_id)
            .collect()
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }
}

fn no_write(id: FileId) -> NamenodeError {
    NamenodeError::NotFound(format!(
        "no write in progress with file id {id} (it completed, was abandoned, or its lease expired)"
    ))
}

/// Why placement found nobody: nobody live (503), everybody excluded (503),
/// or nobody with room (507).
fn no_targets(candidates: &[Candidate], exclude: &[NodeId], block_size: u64) -> NamenodeError {
    if candidates.is_empty() {
        return NamenodeError::NoLiveDatanodes("no live datanodes to write to".into());
    }
    if candidates.iter().all(|c| exclude.contains(&c.id)) {
        return NamenodeError::NoLiveDatanodes(format!(
            "no live datanode left to write to ({} excluded after failures)",
            exclude.len()
        ));
    }
    NamenodeError::NoSpace(format!(
        "no live datanode has {block_size} bytes free for a new block"
    ))
}

#[cfg(test)]
mod relay_tests {
    use super::*;
    use crate::namespace::tests::{create_req as req, WriteDefaults, WriteOps};
    use crate::placement::Candidate;

    #[test]
    fn writes_end_with_their_dead_relay_only() {
        let defaults = WriteDefaults {
            replication: 1,
            block_size: 4096,
        };
        let (a, b) = (NodeId::new(), NodeId::new());
        let dn = [Candidate {
            id: NodeId::new(),
            available: 1 << 30,
            rack: crate::placement::RackId::default(),
        }];
        let mut txn = Txn::new();
        let mut ns = Namespace::new(1, &mut txn);
        let now = Instant::now();
        let mut open = |ns: &mut Namespace, path: &str, relay: Option<NodeId>| {
            let c = ns
                .t_create(&req(path, false), &defaults, 2, now, &mut txn)
                .unwrap()
                .file_id;
            let blk = ns.t_add_block(c, &[], &dn, now, &mut txn).unwrap();
            if let Some(r) = relay {
                ns.set_relay(c, r).unwrap();
            }
            (c, blk.block_id)
        };
        let (_, by_a) = open(&mut ns, "/by-a", Some(a));
        let (fb, _) = open(&mut ns, "/by-b", Some(b));
        let (fc, _) = open(&mut ns, "/direct", None);
        assert!(ns.set_relay(FileId::new(), a).is_err(), "no such write");

        let mut txn = Txn::new();
        let mut dels = Deletions::new();
        let ended = ns.writes_relayed_by(|n| *n == a);
        let ended = ns.t_abandon(ended, &mut txn, &mut dels);
        assert_eq!(ended, vec![DfsPath::parse("/by-a").unwrap()]);
        // Its block goes, from where it was placed; the others stay.
        assert_eq!(dels, vec![(dn[0].id, by_a)]);
        assert_eq!(ns.pending_count(), 2);
        assert!(ns.renew_lease(fb, now).is_ok() && ns.renew_lease(fc, now).is_ok());
        // Nothing shows at the path, and it can be written again.
        assert!(ns.lookup(&DfsPath::parse("/by-a").unwrap()).is_none());
        ns.t_create(&req("/by-a", false), &defaults, 3, now, &mut txn)
            .unwrap();
        // Nobody dead: nothing ends.
        assert!(ns.writes_relayed_by(|_| false).is_empty());
        assert_eq!(ns.pending_count(), 3);
    }
}
