//! `Namespace::apply`: the one way a [`Command`] changes the replicated
//! namespace (the state machine of the command log, issue 17).
//!
//! It dispatches to the operation of each command, passing the entry's
//! timestamp as the only clock of record; the operations re-check every
//! precondition against the state as it is now (the path may have changed
//! since the command was proposed) and validate before they change
//! anything, so a command that fails leaves the state as it was.
//!
//! A command that names its client call (`Entry::request`) and was
//! applied before, within the retry cache's window, answers its first
//! outcome and changes nothing ([`super::retry`]).
//!
//! `now` (a monotonic instant) only touches soft state: the lease clocks of
//! files being written, and when a committed block's replicas were last
//! heard of. Replicated state depends only on the state and the entry.
use super::{Deletions, Namespace};
use crate::commands::{Command, Entry, Outcome, RetryRecord};
use crate::error::Result;
use crate::meta_store::Txn;
use dfs_common::proto::client::SetAttributesRequest;
use tokio::time::Instant;

impl Namespace {
    /// Applies one entry: records what it changed in `txn` and pushes the
    /// replicas it orphaned onto `dels` (to delete once `txn` is durable).
    /// A command that succeeds counts one more applied command, recorded
    /// in the same `txn` as its changes (one atomic batch), so a restart
    /// knows exactly which commands its state holds.
    pub fn apply(
        &mut self,
        entry: &Entry,
        now: Instant,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<Outcome> {
        let ts = entry.ts_ms;
        let key = entry
            .request
            .filter(|_| entry.command.at_most_once())
            .map(|r| (r, entry.command.kind()));
        if let Some(first) = key.and_then(|k| self.retry.get(&k)).cloned() {
            // A retry of a call already applied: its first outcome, nothing
            // changed again. (The caller still waits for a flush, which
            // covers the first application.)
            self.retry.prune(ts, txn);
            self.count_applied(txn);
            return Ok(first);
        }
        let out = match self.apply_command(entry, now, txn, dels) {
            Ok(out) => {
                self.flush_snapshot_copies(txn)?;
                out
            }
            Err(e) => {
                self.discard_snapshot_copies();
                return Err(e);
            }
        };
        self.retry.prune(ts, txn);
        self.count_applied(txn);
        if let Some(k) = key {
            let rec = RetryRecord {
                seq: self.applied,
                ts_ms: ts,
                outcome: out.clone(),
            };
            self.retry.insert(k, rec, txn);
        }
        Ok(out)
    }

    /// What `entry`'s command does (see [`Self::apply`]).
    fn apply_command(
        &mut self,
        entry: &Entry,
        now: Instant,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<Outcome> {
        let ts = entry.ts_ms;
        if let Some(p) = entry.command.changed_path() {
            self.refuse_snapshot_path(p)?;
        }
        if let Command::Rename { dst, .. } = &entry.command {
            self.refuse_snapshot_path(dst)?;
        }
        let out = match &entry.command {
            Command::Mkdirs {
                path,
                parents,
                owner,
                permission,
            } => Outcome::Status(self.mkdirs_as(
                path,
                *parents,
                owner.as_deref(),
                *permission,
                ts,
                txn,
            )?),
            Command::SetAttributes {
                path,
                mtime,
                atime,
                permission,
                owner,
                group,
            } => {
                let req = SetAttributesRequest {
                    path: path.clone(),
                    modification_time: *mtime,
                    access_time: *atime,
                    permission: *permission,
                    owner: owner.clone(),
                    group: group.clone(),
                };
                Outcome::Status(self.set_attributes(&req, txn)?)
            }
            Command::SetReplication { path, replication } => {
                Outcome::Status(self.set_replication(path, *replication, txn)?)
            }
            Command::Rename {
                src,
                dst,
                overwrite,
            } => Outcome::Status(self.rename(src, dst, *overwrite, ts, txn, dels)?),
            Command::Delete { path, recursive } => {
                Outcome::Deleted(self.delete(path, *recursive, ts, txn, dels)?)
            }
            Command::MoveToTrash {
                path,
                recursive,
                user,
            } => Outcome::Status(self.move_to_trash(path, *recursive, user, ts, txn, dels)?),
            Command::SetQuota { path, names, bytes } => {
                let v = self.set_quota(path, *names, *bytes, txn)?;
                Outcome::Quota {
                    limits: v.limits,
                    names: v.usage.0,
                    bytes: v.usage.1,
                }
            }
            Command::AllowSnapshot { path, allow } => {
                match allow {
                    true => self.allow_snapshot(path, txn)?,
                    false => self.disallow_snapshot(path, txn)?,
                }
                Outcome::Done
            }
            Command::CreateSnapshot { path, name } => {
                self.create_snapshot(path, name, ts, txn)?;
                Outcome::Done
            }
            Command::DeleteSnapshot { path, name } => {
                self.delete_snapshot(path, name, txn, dels)?;
                Outcome::Done
            }
            Command::RenameSnapshot { path, from, to } => {
                self.rename_snapshot(path, from, to, txn)?;
                Outcome::Done
            }
            Command::Create(f) => {
                self.create(f, ts, now, txn)?;
                Outcome::Created {
                    file_id: f.file_id,
                    replication: f.replication,
                    block_size: f.block_size,
                }
            }
            Command::Append { file_id, path } => {
                Outcome::Appended(self.append(*file_id, path, ts, now, txn)?)
            }
            Command::AddBlock {
                file_id,
                block_id,
                targets,
            } => {
                let b = self.add_block(*file_id, *block_id, targets, now, txn)?;
                Outcome::BlockAdded {
                    block_id: b.block_id,
                    targets: b.targets,
                    offset: b.offset,
                    block_size: b.block_size,
                }
            }
            Command::AbandonBlock { file_id, block_id } => {
                self.abandon_block(*file_id, *block_id, now, txn, dels)?;
                Outcome::BlockAbandoned
            }
            Command::Complete(c) => Outcome::Status(self.complete(c, ts, now, txn, dels)?),
            Command::CompleteWithXattrs { completion, xattrs } => {
                let st = self.complete(completion, ts, now, txn, dels)?;
                txn.put_xattrs(st.inode_id, xattrs);
                Outcome::Status(st)
            }
            Command::Concat {
                parts,
                dst,
                sha256,
                xattrs,
            } => Outcome::Status(self.concat(parts, dst, *sha256, xattrs, ts, txn, dels)?),
            Command::PutS3Key { access_key, record } => {
                self.cluster.put_s3_key(access_key, record, txn)?
            }
            Command::DeleteS3Key { access_key } => self.cluster.delete_s3_key(access_key, txn)?,
            Command::AbandonFiles { file_ids } => Outcome::Abandoned(
                file_ids
                    .iter()
                    .filter_map(|id| self.abandon_file(*id, txn, dels))
                    .collect(),
            ),
            Command::PutDatanode { node, record } => self.cluster.put_datanode(*node, record, txn),
            Command::SetAdminState { node, admin } => {
                self.cluster.set_admin_state(*node, *admin, txn)?
            }
            Command::ClearRestored => self.cluster.clear_restored(txn),
            Command::SetMaintenance { node, maintenance } => {
                self.cluster.set_maintenance(*node, *maintenance, txn)?
            }
            Command::SetBalancer { run } => self.cluster.set_balancer(*run, txn),
            Command::BalancerDone { id } => self.cluster.balancer_done(*id, txn),
            Command::SetSafeMode { on } => self.cluster.set_safe_mode(*on, txn),
            Command::SetClusterId { id } => {
                txn.put_cluster_id(*id);
                txn.put_cluster_agreed();
                self.cluster.cluster_agreed = true;
                Outcome::Done
            }
        };
        Ok(out)
    }

    fn count_applied(&mut self, txn: &mut Txn) {
        self.applied += 1;
        txn.put_applied(self.applied);
    }

    /// Records the Raft log position this state holds from now on (with
    /// the changes of the entries that led there, in the same `txn`).
    pub fn set_raft_position(&mut self, position: Vec<u8>, txn: &mut Txn) {
        txn.put_raft(&position);
        self.cluster.raft = Some(position);
    }

    /// The replicated records beside the tree.
    pub fn cluster(&self) -> &super::cluster_state::ClusterState {
        &self.cluster
    }

    /// Outcomes kept for retries.
    pub fn retry_cache_len(&self) -> usize {
        self.retry.len()
    }

    /// How many commands this state has applied (the last one's index).
    pub fn applied(&self) -> u64 {
        self.applied
    }
}
