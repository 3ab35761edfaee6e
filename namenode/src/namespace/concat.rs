//! Concat (HDFS `concat`, with the target made anew): complete files
//! joined, in order, into one new file, their blocks moved to it, not
//! copied; the files themselves go. What an S3 multipart upload's
//! Complete does when its parts' blocks line up (every block but the last
//! of the whole a full block of one size), so a large object costs a
//! metadata change, not a second write of its bytes.
//!
//! The digest of the whole is the caller's (it read the parts, verified,
//! to compute it, as a writer computes a file's): blocks keep their own,
//! which every read checks.
//!
//! Refused, changing nothing: a part that is missing, a directory, being
//! written, listed twice, the target itself, inside a snapshot path, or
//! kept by a snapshot (its blocks cannot belong to two files); parts of
//! different replication; blocks that do not line up (every block but the
//! very last a full block of the first part's block size); a
//! target that is a directory; a quota the new file would exceed (counted
//! as a new file: the parts' names and space are freed only once it is in).
use super::inode::{FileMeta, InodeId};
use super::{Deletions, Namespace};
use crate::blocks::BlockOwner;
use crate::error::{NamenodeError, Result};
use crate::meta_store::Txn;
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::BlockId;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{FileStatus, Xattrs};

/// The parts as validated: ids, their blocks in order, and the new file's
/// shape.
struct Plan {
    ids: Vec<InodeId>,
    blocks: Vec<BlockId>,
    length: u64,
    block_size: u64,
    replication: u16,
    owner: String,
    permission: u16,
    replaced: Option<InodeId>,
}

impl Namespace {
    #[allow(clippy::too_many_arguments)]
    pub fn concat(
        &mut self,
        parts: &[DfsPath],
        dst: &DfsPath,
        sha256: Sha256Digest,
        xattrs: &Xattrs,
        now_ms: u64,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<FileStatus> {
        let plan = self.plan_concat(parts, dst)?;
        // Validated: now change things.
        for id in &plan.ids {
            let (parent, space) = {
                let inode = self.inode(*id)?;
                let space = inode
                    .file()
                    .map_or(0, |f| f.length * u64::from(f.replication));
                (inode.parent, space)
            };
            self.unlink(*id, now_ms, txn)?;
            self.inodes.remove(id);
            txn.del_inode(*id);
            self.charge(parent, -1, -(space as i64));
        }
        if let Some(old) = plan.replaced {
            self.unlink(old, now_ms, txn)?;
            self.remove_subtree(old, txn, dels);
        }
        let parent_path = dst.parent().unwrap_or_else(DfsPath::root);
        let parent = self.make_dirs_as(&parent_path, Some(&plan.owner), None, now_ms, txn)?;
        let meta = FileMeta {
            length: plan.length,
            replication: plan.replication,
            block_size: plan.block_size,
            blocks: plan.blocks.clone(),
            sha256,
        };
        let record = Self::file_record(&plan.owner, plan.permission, now_ms, meta);
        let name = dst.name().unwrap_or_default();
        let id = self.add_child(parent, name, record, now_ms, txn)?;
        for b in &plan.blocks {
            self.blocks.set_owner(*b, id, txn);
        }
        txn.put_xattrs(id, xattrs);
        self.settle_sha256(id);
        Ok(self.status_of(id, self.inode(id)?, dst.clone()))
    }

    /// Everything `concat` checks, before it changes anything.
    fn plan_concat(&self, parts: &[DfsPath], dst: &DfsPath) -> Result<Plan> {
        let bad = |m: String| Err(NamenodeError::InvalidArgument(m));
        if parts.is_empty() {
            return bad("concat needs at least one part".into());
        }
        self.refuse_snapshot_path(dst)?;
        let mut ids: Vec<InodeId> = Vec::with_capacity(parts.len());
        let mut blocks = Vec::new();
        let mut shape: Option<(u64, u16, String, u16)> = None;
        for p in parts {
            self.refuse_snapshot_path(p)?;
            if p == dst {
                return bad(format!("{p} is both a part and the target"));
            }
            if self.pending_by_path.contains_key(p) {
                return Err(NamenodeError::Conflict(format!("{p} is being written")));
            }
            let (id, inode) = self.require(p)?;
            let Some(f) = inode.file() else {
                return Err(NamenodeError::IsADirectory(format!("{p} is a directory")));
            };
            if ids.contains(&id) {
                return bad(format!("{p} is listed twice"));
            }
            // The whole takes the first part's block size; the others'
            // own do not matter, their blocks' lengths do (checked below).
            match &shape {
                None => {
                    shape = Some((
                        f.block_size.get(),
                        f.replication,
                        self.names.get(inode.owner).to_string(),
                        inode.permission,
                    ))
                }
                Some((_, r, _, _)) if *r != f.replication => {
                    return bad(format!(
                        "{p} has replication {}, not {r} as the first part",
                        f.replication
                    ));
                }
                Some(_) => {}
            }
            if self.keep_for_snapshots(id) {
                return Err(NamenodeError::Conflict(format!(
                    "{p} is kept by a snapshot: its blocks cannot move"
                )));
            }
            blocks.extend(f.blocks.iter().copied());
            ids.push(id);
        }
        let Some((block_size, replication, owner, permission)) = shape else {
            return bad("concat needs at least one part".into());
        };
        let mut length = 0u64;
        for (i, b) in blocks.iter().enumerate() {
            let Some(info) = self.blocks.get(b) else {
                return Err(NamenodeError::Internal(format!(
                    "block {b} of a part is unknown"
                )));
            };
            if matches!(info.owner, BlockOwner::Pending(_)) {
                return Err(NamenodeError::Conflict(format!(
                    "block {b} is being written"
                )));
            }
            let last = i + 1 == blocks.len();
            if (!last && info.len != block_size) || info.len > block_size {
                return bad(format!(
                    "the parts' blocks do not line up: block {} of {} is {} bytes, not {block_size}",
                    i + 1,
                    blocks.len(),
                    info.len
                ));
            }
            length += info.len;
        }
        let replaced = self.check_file_target(dst, true, true)?;
        if replaced.is_some_and(|r| ids.contains(&r)) {
            return bad(format!("{dst} is one of the parts"));
        }
        let parent_path = dst.parent().unwrap_or_else(DfsPath::root);
        let (deepest, missing) = self.deepest_dir(&parent_path);
        self.check_quota(deepest, 1 + missing, length * u64::from(replication), &[])?;
        Ok(Plan {
            ids,
            blocks,
            length,
            block_size,
            replication,
            owner,
            permission,
            replaced,
        })
    }
}
