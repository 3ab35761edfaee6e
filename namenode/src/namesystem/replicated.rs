//! The namesystem as the Raft state machine sees it (`crate::raft`):
//! committed entries applied in order, the log position the state holds,
//! and a snapshot's records replacing everything.
use super::*;
use std::sync::Arc;

impl Namesystem {
    /// What this namespace holds beyond a fresh start's root ("3 files,
    /// 2 directories, 4 known datanodes"), `None` when nothing: a namenode
    /// that joins a group may only have that to lose.
    pub fn holdings(&self) -> Result<Option<String>> {
        let ns = self.lock()?;
        let c = ns.counters();
        let nodes = ns.cluster().datanodes.len();
        let held = [
            (c.files, "files"),
            (
                c.directories.saturating_sub(1),
                "directories besides the root",
            ),
            (c.blocks, "blocks"),
            (nodes as u64, "known datanodes"),
        ];
        let parts: Vec<String> = held
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        Ok((!parts.is_empty()).then(|| parts.join(", ")))
    }

    /// Whether the cluster id came through the log (datanodes are taken
    /// only then: every namenode holds the same).
    pub fn cluster_agreed(&self) -> Result<bool> {
        Ok(self.lock()?.cluster().cluster_agreed)
    }

    /// As the leader: makes this namenode's cluster id the group's if none
    /// is agreed yet (the first leader of a group, or of a namenode of an
    /// earlier version).
    pub async fn agree_cluster_id(&self) -> Result<()> {
        if self.cluster_agreed()? {
            return Ok(());
        }
        self.execute(Command::SetClusterId {
            id: self.cluster_id(),
        })
        .await
        .map(|_| ())
    }

    /// The Raft log position the state holds (as `crate::raft` encoded
    /// it), `None` before the first entry.
    pub fn raft_position(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.lock()?.cluster().raft.clone())
    }

    /// Applies committed commands in order and records `position` with
    /// their changes, as one transaction. Each command's outcome is
    /// returned; a command that fails changes nothing, the same on every
    /// replica. The transaction is queued for the store, neither waited for
    /// nor synced by itself (`MetaStore::submit_unsynced`): the Raft log
    /// holds the entries, and a start re-applies what the store lost. An error is the store's (no more changes are taken).
    pub async fn apply_committed(
        &self,
        entries: Vec<Entry>,
        position: Vec<u8>,
    ) -> Result<Vec<Result<Outcome>>> {
        self.check_not_failed()?;
        let mut dels = Deletions::new();
        let mut outcomes = Vec::with_capacity(entries.len());
        // Applied changes to what the datanode registry acts on, mirrored
        // into it on every namenode (so the next leader has them).
        let mut mirror = Vec::new();
        let asked = std::time::Instant::now();
        {
            let mut ns = self.lock_async().await?;
            let locked = std::time::Instant::now();
            let now = Instant::now();
            let mut txn = Txn::new();
            for entry in entries {
                let mut one = Txn::new();
                let mut gone = Deletions::new();
                let out = ns.apply(&entry, now, &mut one, &mut gone);
                if let (Ok(_), Command::SetClusterId { id }) = (&out, &entry.command) {
                    if *id != self.cluster_id() {
                        log::info!(
                            "cluster id {id} agreed by the namenodes (this one had made {})",
                            self.cluster_id()
                        );
                    }
                    self.set_cluster_id(*id);
                }
                if out.is_ok() {
                    if matches!(
                        entry.command,
                        Command::SetAdminState { .. }
                            | Command::SetMaintenance { .. }
                            | Command::SetSafeMode { .. }
                    ) {
                        mirror.push(entry.command.clone());
                    }
                    if matches!(entry.command, Command::AbandonFiles { .. })
                        && ns.blocks().holds_all()
                    {
                        // Restored: a file being written when the checkpoint
                        // was taken may have been completed since, in the
                        // metadata that was lost. Its replicas are held like
                        // those of every block the checkpoint does not know.
                        ns.hold_unknown_replicas(gone.drain(..), now);
                    }
                    txn.extend(one);
                    dels.append(&mut gone);
                }
                outcomes.push(out);
            }
            // (Empty: applied without a log, in unit tests; no position.)
            if !position.is_empty() {
                ns.set_raft_position(position, &mut txn);
            }
            let events = ns.take_block_events();
            let mut q = self.repl();
            q.absorb(events, now);
            self.publish(&ns, &mut q, now);
            drop(q);
            if let Err(e) = self.store.submit_unsynced(txn) {
                self.fail(&e);
                return Err(e);
            }
            self.times.add_applied(locked - asked, locked.elapsed());
        }
        let (now, at) = (Instant::now(), now_ms());
        for c in mirror {
            match c {
                Command::SetAdminState { node, admin } => {
                    self.datanodes.set_admin(&node, admin);
                }
                Command::SetMaintenance { node, maintenance } => {
                    self.datanodes
                        .mirror_maintenance(&node, maintenance, now, at);
                }
                Command::SetSafeMode { on } => self.mirror_safe_mode(on),
                _ => {}
            }
        }
        // The entries are durable in the log (committed), so the replicas
        // they stopped referring to may go now: a crash re-applies them.
        // The leader's queue is the one datanodes are handed; a follower
        // queues none (they would pile up for as long as it follows: a
        // deletion the old leader had not handed out when it died is found
        // by the next block reports, as an orphan).
        if self.leadership().leader {
            self.datanodes.queue_deletes(&dels);
        }
        Ok(outcomes)
    }

    /// An operator's safe mode, as applied (on every namenode, so the next
    /// leader refuses changes too): entered, or left if an operator had
    /// entered it. The safe mode of a start is left alone (it ends with the
    /// block reports; the leader's operator `leave` ends it there).
    fn mirror_safe_mode(&self, on: bool) {
        let mut sm = self.safemode();
        if on && !sm.is_manual() {
            sm.enter();
            log::warn!("safe mode entered by an operator");
        } else if !on && sm.is_manual() {
            sm.leave();
            drop(sm);
            log::warn!("safe mode left by an operator");
            self.repl().request_rescan();
        }
    }

    /// Replaces the whole state with the records `fill` hands over in
    /// canonical order (a Raft snapshot being installed): they become the
    /// store's, and the namespace is built from them again. No change runs
    /// meanwhile; reads see the old state until the new one is in. `fill`
    /// runs on a blocking thread.
    pub async fn install_records(
        self: &Arc<Self>,
        fill: impl FnOnce(&mut crate::journal::Sink<'_, NamenodeError>) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        self.check_not_failed()?;
        let _turn = self.turn.lock().await;
        let this = self.clone();
        // A damaged file fails the copy before the new base is in place:
        // the store is as it was.
        let (replaced, built) =
            tokio::task::spawn_blocking(move || match this.store.replace(fill) {
                Ok(()) => (
                    true,
                    crate::load::load(&this.store, now_ms(), Instant::now()),
                ),
                Err(e) => (false, Err(e)),
            })
            .await
            .map_err(|e| NamenodeError::Internal(format!("installing a snapshot: {e}")))?;
        let built = match built {
            Ok(b) => b,
            Err(e) => {
                if replaced {
                    // Memory no longer says what the store holds.
                    self.fail(&e);
                }
                return Err(e);
            }
        };
        {
            let mut ns = self.lock_mut()?;
            *ns = built.ns;
            if let Some(id) = built.cluster_id {
                self.set_cluster_id(id);
            }
            let now = Instant::now();
            self.mirror_safe_mode(ns.cluster().operator_safe_mode);
            self.datanodes.adopt(
                &ns.cluster().datanodes,
                &ns.cluster().maintenance,
                now,
                now_ms(),
            );
            let mut q = self.repl();
            q.rebuild_health(&ns, &self.datanodes.view(now));
            self.publish(&ns, &mut q, now);
        }
        if !built.txn.is_empty() {
            let commit = self.store.submit(built.txn)?;
            commit.durable().await?;
        }
        Ok(())
    }
}
