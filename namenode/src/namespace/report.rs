//! Read-only views across the tree and the block map (block locations, fsck,
//! cluster counts, safe-mode progress), and the replica bookkeeping that
//! datanode reports drive. Node standing is the caller's knowledge, passed
//! in as a [`NodeView`] snapshot.
//!
//! Counts come from counters kept as the tree and the block map change
//! ([`Namespace::counters`], O(1)); [`Namespace::counts`] is the full walk
//! they must agree with (startup, tests). Block health depends on which
//! nodes are live, so it is tallied elsewhere (`replication`'s
//! `HealthTally`, fed by the same events as the repair queues).
use super::inode::InodeId;
use super::Namespace;
use crate::blocks::{BlockInfo, BlockMap, BlockOwner, ReportKind, ReportOutcome};
use crate::datanodes::NodeView;
use crate::error::{NamenodeError, Result};
use crate::health::{block_health, count_replicas, ReplicaCounts};
use crate::meta_store::Txn;
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    BlockHealth, ContentSummary, FileLocations, FileStatus, FsckProblem, FsckReport, LocatedBlock,
};
use dfs_common::proto::datanode::ReportedBlock;
use dfs_common::proto::DatanodeInfo;
use std::time::Duration;
use tokio::time::Instant;

/// Totals for the cluster summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NamespaceCounts {
    pub files: u64,
    pub directories: u64,
    pub blocks: u64,
    pub under_replicated: u64,
    pub over_replicated: u64,
    pub missing: u64,
    pub corrupt_blocks: u64,
    pub corrupt_replicas: u64,
    pub files_being_written: u64,
    /// Replicas of no block waiting for their grace before deletion.
    pub orphan_replicas: u64,
}

/// An fsck under way: what is left to look at and what was found. Between
/// steps the caller may release the namespace lock so writers are not
/// held up by a large tree; the result is then *fuzzy*, as HDFS's fsck and
/// content summary are when they yield their lock: what changes under a
/// part not yet visited shows, what changes under a part already visited
/// does not, and a subtree moved meanwhile may be counted twice or missed
/// (under its new path or its old one). Each file and block is looked at
/// as it is at that step.
#[derive(Debug)]
pub struct FsckWalk {
    stack: Vec<(InodeId, DfsPath)>,
    report: FsckReport,
}

impl FsckWalk {
    /// The report (with `healthy` decided; the node counts are the caller's).
    pub fn finish(mut self) -> FsckReport {
        self.report.healthy = self.report.missing_blocks == 0 && self.report.corrupt_blocks == 0;
        self.report
    }
}

/// A `du` under way (fuzzy in the same way as [`FsckWalk`]).
#[derive(Debug)]
pub struct SummaryWalk {
    stack: Vec<InodeId>,
    summary: ContentSummary,
}

impl SummaryWalk {
    pub fn finish(self) -> ContentSummary {
        self.summary
    }
}

/// Safe-mode progress: complete blocks, and those with at least one
/// replica reported by a datanode registered since this start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportedBlocks {
    pub reported: u64,
    pub total: u64,
}

impl Namespace {
    /// The block map (read-only; the replication monitor's view).
    pub fn blocks(&self) -> &BlockMap {
        &self.blocks
    }

    /// The replication wanted for a committed block (its file's), or
    /// `None` for a block of a file being written or of no file.
    pub fn expected_replication(&self, meta: &BlockInfo) -> Option<u16> {
        let BlockOwner::File(ino) = meta.owner else {
            return None;
        };
        self.file_replication(ino)
    }

    /// The replication of file `ino` (`None`: no such file).
    pub fn file_replication(&self, ino: InodeId) -> Option<u16> {
        self.inodes
            .get(&ino)
            .and_then(|i| i.file())
            .map(|f| f.replication)
    }

    /// [`Self::file_replication`] along a walk of the blocks (see
    /// `InodeTable::get_near`; `at` starts at 0).
    pub fn file_replication_near(&self, ino: InodeId, at: &mut usize) -> Option<u16> {
        self.inodes
            .get_near(&ino, at)
            .and_then(|i| i.file())
            .map(|f| f.replication)
    }

    /// The replica counts of block `id` against `view`.
    pub fn replica_counts(&self, id: &BlockId, view: &NodeView) -> ReplicaCounts {
        let corrupt = self.blocks.corrupt_of(id).map_or(0, |m| m.len());
        self.blocks.get(id).map_or(ReplicaCounts::default(), |m| {
            count_replicas(&m.replicas, corrupt, view)
        })
    }

    /// Safe-mode progress (see [`ReportedBlocks`]): from the block map's
    /// counters, once every node `view` calls registered has been noted
    /// ([`Namespace::note_registered`]); otherwise (a registration not
    /// noted, which the namesystem never leaves) by a walk.
    pub fn reported_blocks(&self, view: &NodeView) -> ReportedBlocks {
        let noted = view
            .nodes
            .iter()
            .all(|(n, s)| !s.registered || self.blocks.is_noted_registered(n));
        if noted {
            let c = self.blocks.counters();
            return ReportedBlocks {
                reported: c.reported,
                total: c.committed,
            };
        }
        self.reported_blocks_walk(view)
    }

    /// [`Self::reported_blocks`] by a walk of every block.
    pub fn reported_blocks_walk(&self, view: &NodeView) -> ReportedBlocks {
        let mut r = ReportedBlocks::default();
        for (_, meta) in self.blocks.iter() {
            if let BlockOwner::File(_) = meta.owner {
                r.total += 1;
                if meta.replicas.iter().any(|n| view.is_registered(n)) {
                    r.reported += 1;
                }
            }
        }
        r
    }

    /// A file's blocks with offsets, lengths, digests and replicas; `place`
    /// turns a block's recorded replica ids into the addresses a reader
    /// should try, in order (dropping dead nodes). 409 for a directory.
    pub fn locations(
        &self,
        path: &DfsPath,
        place: impl Fn(BlockId, &[NodeId]) -> Vec<DatanodeInfo>,
    ) -> Result<FileLocations> {
        let (ino, inode) = match self.snapshot_path(path).transpose()? {
            Some(super::snapshot::SnapPath::At { id, epoch }) => (
                id,
                self.state_at(id, epoch)
                    .ok_or_else(|| NamenodeError::not_found(path))?,
            ),
            Some(super::snapshot::SnapPath::List(_)) => {
                return Err(NamenodeError::IsADirectory(format!(
                    "{path} is a directory, not a file"
                )))
            }
            None => self.require(path)?,
        };
        let Some(f) = inode.file() else {
            return Err(NamenodeError::IsADirectory(format!(
                "{path} is a directory, not a file"
            )));
        };
        let mut blocks = Vec::with_capacity(f.blocks.len());
        let mut offset = 0;
        for id in &f.blocks {
            let (len, sha256, replicas) = match self.blocks.get(id) {
                Some(m) => (m.len, m.sha256, place(*id, &m.replicas)),
                None => {
                    return Err(NamenodeError::Internal(format!(
                        "block {id} of {path} is not in the block map"
                    )));
                }
            };
            blocks.push(LocatedBlock {
                block_id: *id,
                offset,
                len,
                sha256,
                replicas,
                access_token: None,
            });
            offset += len;
        }
        Ok(FileLocations {
            status: self.status_of(ino, inode, path.clone()),
            blocks,
        })
    }

    /// `fsck path`: per-block replica health under `path`, listing at most
    /// `max_problems` problem blocks (in one hold of the caller's lock).
    pub fn fsck(&self, path: &DfsPath, view: &NodeView, max_problems: usize) -> Result<FsckReport> {
        let mut walk = self.fsck_start(path)?;
        while !self.fsck_step(&mut walk, view, max_problems, usize::MAX)? {}
        Ok(walk.finish())
    }

    /// Starts an fsck of `path` that [`Self::fsck_step`] carries on (see
    /// [`FsckWalk`]). 404 if `path` does not exist.
    pub fn fsck_start(&self, path: &DfsPath) -> Result<FsckWalk> {
        let root = self
            .lookup(path)
            .ok_or_else(|| NamenodeError::not_found(path))?;
        Ok(FsckWalk {
            stack: vec![(root, path.clone())],
            report: FsckReport {
                path: path.clone(),
                healthy: true,
                ..Default::default()
            },
        })
    }

    /// Looks at about `budget` inodes and blocks of `walk`; true when it is
    /// done. Inodes gone since an earlier step are skipped.
    pub fn fsck_step(
        &self,
        walk: &mut FsckWalk,
        view: &NodeView,
        max_problems: usize,
        budget: usize,
    ) -> Result<bool> {
        let r = &mut walk.report;
        let mut spent = 0usize;
        let live_racks = view.live_racks();
        while let Some((id, p)) = walk.stack.pop() {
            if spent >= budget {
                walk.stack.push((id, p));
                return Ok(false);
            }
            spent += 1;
            let Some(inode) = self.inodes.get(&id) else {
                continue;
            };
            let Some(f) = inode.file() else {
                r.directories += 1;
                for &kid in inode.children() {
                    let name = self.name_of(kid);
                    let child = p.join(name).map_err(|e| {
                        NamenodeError::Internal(format!("stored name {name:?} is invalid: {e}"))
                    })?;
                    walk.stack.push((kid, child));
                }
                continue;
            };
            r.files += 1;
            r.total_bytes += f.length;
            spent += f.blocks.len();
            for id in &f.blocks {
                r.blocks += 1;
                let counts = self.replica_counts(id, view);
                let live = counts.live;
                let health = block_health(&counts, f.replication);
                match health {
                    BlockHealth::Healthy => r.healthy_blocks += 1,
                    BlockHealth::UnderReplicated => r.under_replicated_blocks += 1,
                    BlockHealth::OverReplicated => r.over_replicated_blocks += 1,
                    BlockHealth::Missing => r.missing_blocks += 1,
                    BlockHealth::Corrupt => r.corrupt_blocks += 1,
                }
                if self.is_mis_replicated(id, view, live_racks) {
                    r.mis_replicated_blocks += 1;
                }
                if health != BlockHealth::Healthy && r.problems.len() < max_problems {
                    r.problems.push(FsckProblem {
                        path: p.clone(),
                        block_id: *id,
                        health,
                        live_replicas: live,
                        expected_replicas: f.replication,
                    });
                }
            }
        }
        Ok(true)
    }

    /// Starts a `du` of `path` that [`Self::content_summary_step`] carries
    /// on (see [`SummaryWalk`]). 404 if `path` does not exist.
    pub fn content_summary_start(&self, path: &DfsPath) -> Result<SummaryWalk> {
        let root = self
            .lookup(path)
            .ok_or_else(|| NamenodeError::not_found(path))?;
        let limits = self.quotas.get(root).map(|q| q.limits).unwrap_or_default();
        Ok(SummaryWalk {
            stack: vec![root],
            summary: ContentSummary {
                path: path.clone(),
                length: 0,
                file_count: 0,
                directory_count: 0,
                space_consumed: 0,
                block_count: 0,
                files_quota: limits.names,
                bytes_quota: limits.bytes,
            },
        })
    }

    /// Looks at up to `budget` inodes of `walk`; true when it is done.
    /// Inodes gone since an earlier step are skipped.
    pub fn content_summary_step(&self, walk: &mut SummaryWalk, budget: usize) -> bool {
        let s = &mut walk.summary;
        for _ in 0..budget {
            let Some(id) = walk.stack.pop() else {
                return true;
            };
            let Some(inode) = self.inodes.get(&id) else {
                continue;
            };
            match inode.file() {
                None => {
                    s.directory_count += 1;
                    walk.stack.extend(inode.children().iter().copied());
                }
                Some(f) => {
                    s.file_count += 1;
                    s.length += f.length;
                    s.space_consumed += f.length * u64::from(f.replication);
                    s.block_count += f.blocks.len() as u64;
                }
            }
        }
        walk.stack.is_empty()
    }

    /// `node` registered since this start: its replicas count toward
    /// safe-mode progress from now on (O(its replicas), once).
    pub fn note_registered(&mut self, node: NodeId) {
        self.blocks.note_registered(node);
    }

    /// Files, directories, blocks of complete files, files being written,
    /// corrupt and unknown replicas, from counters: O(1) (O(datanodes) for
    /// the unknown replicas). The block health fields are left 0.
    pub fn counters(&self) -> NamespaceCounts {
        let b = self.blocks.counters();
        NamespaceCounts {
            files: self.inodes.len() as u64 - self.directories,
            directories: self.directories,
            blocks: b.committed,
            files_being_written: self.pending.len() as u64,
            corrupt_replicas: b.corrupt_replicas,
            orphan_replicas: b.orphans,
            ..Default::default()
        }
    }

    /// The health of committed block `id` against `view`, or `None` for a
    /// block of a file being written or one no longer known.
    pub fn block_health(&self, id: &BlockId, view: &NodeView) -> Option<BlockHealth> {
        let meta = self.blocks.get(id)?;
        let expected = self.expected_replication(&meta)?;
        let corrupt = self.blocks.corrupt_of(id).map_or(0, |m| m.len());
        Some(block_health(
            &count_replicas(&meta.replicas, corrupt, view),
            expected,
        ))
    }

    /// Is block `id` on fewer racks than it could be (see
    /// [`crate::placement::is_mis_replicated`]; `live_racks` is
    /// [`NodeView::live_racks`])? Only a block with a live replica can be;
    /// not a block of no file.
    pub fn is_mis_replicated(&self, id: &BlockId, view: &NodeView, live_racks: usize) -> bool {
        if live_racks < 2 {
            // One rack (the default): nothing to spread over, and no cost.
            return false;
        }
        let Some(meta) = self.blocks.get(id) else {
            return false;
        };
        let Some(expected) = self.expected_replication(&meta) else {
            return false;
        };
        let racks = view.live_replica_racks(&meta.replicas);
        !racks.is_empty() && crate::placement::is_mis_replicated(racks, expected, live_racks)
    }

    /// Files, directories, blocks of complete files, and their health, by
    /// walking every inode and block: what [`Self::counters`] and the
    /// health tally must agree with. Startup and tests only; never per
    /// request.
    pub fn counts(&self, view: &NodeView) -> NamespaceCounts {
        let recount = self.blocks.recount();
        let mut c = NamespaceCounts {
            files_being_written: self.pending.len() as u64,
            corrupt_replicas: recount.corrupt_replicas,
            orphan_replicas: recount.orphans,
            ..Default::default()
        };
        for inode in self.inodes.values() {
            match inode.file() {
                None => c.directories += 1,
                Some(_) => c.files += 1,
            }
        }
        for (id, meta) in self.blocks.iter() {
            let BlockOwner::File(ino) = meta.owner else {
                continue;
            };
            let expected = self.file_replication(ino).unwrap_or(0);
            c.blocks += 1;
            let corrupt = self.blocks.corrupt_of(id).map_or(0, |m| m.len());
            match block_health(&count_replicas(&meta.replicas, corrupt, view), expected) {
                BlockHealth::Missing => c.missing += 1,
                BlockHealth::Corrupt => c.corrupt_blocks += 1,
                BlockHealth::UnderReplicated => c.under_replicated += 1,
                BlockHealth::OverReplicated => c.over_replicated += 1,
                BlockHealth::Healthy => {}
            }
        }
        c
    }

    /// Replicas recorded on `node`.
    pub fn replica_count(&self, node: &NodeId) -> u64 {
        self.blocks.replica_count(node)
    }

    /// A full block report (also the one sent with `register`: then
    /// `registration`, and unknown replicas are held). Returns the blocks
    /// `node` should delete now.
    pub fn on_full_report(
        &mut self,
        node: NodeId,
        blocks: &[ReportedBlock],
        registration: bool,
        now: Instant,
        race_bound: Duration,
        txn: &mut Txn,
    ) -> Vec<BlockId> {
        self.blocks
            .on_full_report(node, blocks, registration, now, race_bound, txn)
    }

    /// An incremental report. Returns the blocks `node` should delete now.
    pub fn on_incremental_report(
        &mut self,
        node: NodeId,
        received: &[ReportedBlock],
        deleted: &[BlockId],
        now: Instant,
        txn: &mut Txn,
    ) -> Vec<BlockId> {
        let mut delete = Vec::new();
        for rb in received {
            if self
                .blocks
                .on_reported(node, rb, ReportKind::Incremental, now, txn)
                == ReportOutcome::Delete
            {
                delete.push(rb.id);
            }
        }
        for b in deleted {
            self.blocks.on_deleted(*b, node, txn);
        }
        delete
    }

    /// Marks one replica corrupt (a bad block). Returns how many good
    /// replicas the block has left, or `None` for a block we do not know.
    pub fn mark_corrupt(
        &mut self,
        block: BlockId,
        node: NodeId,
        reason: &str,
        txn: &mut Txn,
    ) -> Option<usize> {
        if self.blocks.mark_corrupt(block, node, reason, txn) {
            Some(self.blocks.get(&block).map_or(0, |m| m.replicas.len()))
        } else {
            None
        }
    }

    /// The status of the file that owns `block`, if it is complete (tests and diagnostics).
    pub fn block_file(&self, block: &BlockId) -> Option<FileStatus> {
        let BlockOwner::File(ino) = self.blocks.get(block)?.owner else {
            return None;
        };
        let mut names = Vec::new();
        let mut cur = ino;
        while cur != super::inode::ROOT_ID {
            let inode = self.inodes.get(&cur)?;
            names.push(inode.name.as_str());
            cur = inode.parent;
        }
        let mut path = DfsPath::root();
        for n in names.iter().rev() {
            path = path.join(n).ok()?;
        }
        Some(self.status_of(ino, self.inodes.get(&ino)?, path))
    }
}

#[cfg(test)]
impl Namespace {
    /// Panics unless every counter equals what a full walk finds.
    pub(crate) fn assert_counters_exact(&self) {
        let walk = self.counts(&NodeView::default());
        let c = self.counters();
        assert_eq!(
            (
                c.files,
                c.directories,
                c.blocks,
                c.files_being_written,
                c.corrupt_replicas,
                c.orphan_replicas
            ),
            (
                walk.files,
                walk.directories,
                walk.blocks,
                walk.files_being_written,
                walk.corrupt_replicas,
                walk.orphan_replicas
            ),
            "counters against a walk"
        );
        assert_eq!(self.blocks.counters(), self.blocks.recount());
        self.blocks.check_index();
        assert!(self.inodes.index_is_exact(), "inode table index");
        for (id, inode) in self.inodes.iter() {
            if let Some(f) = inode.file() {
                assert!(
                    f.sha256(|b| self.blocks.sha256_of(b)).is_some(),
                    "file inode {id} has a digest"
                );
            }
        }
    }
}
