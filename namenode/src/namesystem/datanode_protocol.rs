//! The datanode side of [`Namesystem`] (HDFS DatanodeProtocol): register
//! (with the cluster-id check and refusals), heartbeats and their commands,
//! full and incremental block reports, bad-block reports, and replicas of
//! blocks the namespace does not know (orphans).
use super::*;

impl Namesystem {
    /// A node (re)registers with a full block report. The report is taken
    /// first; then, in one step under the locks, the node becomes live, its
    /// blocks go to the replication monitor (excess check) and safe mode is
    /// re-evaluated. So whoever sees the node live also sees the safe-mode
    /// state its report brought about.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse> {
        let node = req.node.id;
        let now = Instant::now();
        dfs_common::proto::datanode::check_rack(req.rack())
            .map_err(|e| NamenodeError::InvalidArgument(format!("datanode {node}: {e}")))?;
        self.check_cluster(req, now)?;
        if let Some(record) = self.datanodes.record_for(&req.node) {
            self.execute(Command::PutDatanode { node, record }).await?;
        }
        let bound = self.config.report_race_bound();
        self.mutate(|ns, txn, dels| {
            dels.extend(
                ns.on_full_report(node, &req.blocks, true, now, bound, txn)
                    .into_iter()
                    .map(|b| (node, b)),
            );
            Ok(())
        })
        .await?;
        {
            let mut ns = self.lock_async().await?;
            // Its replicas count toward safe-mode progress from now on
            // (under the same lock as the registration, so whoever sees the
            // node registered finds it counted).
            ns.note_registered(node);
            let mut q = self.repl();
            let mut sm = self.safemode();
            let racks_before = self.datanodes.view(now).live_racks();
            self.datanodes
                .register(&req.node, req.rack(), req.hadoop_port, req.storage, now);
            q.enqueue(ns.blocks().blocks_on(&node));
            if self.datanodes.view(now).live_racks() > racks_before {
                // A rack more: blocks on fewer racks than they could be
                // are found by a pass over every block (HDFS looks for
                // mis-replicated blocks when the topology changes).
                q.request_rescan();
            }
            if sm.is_automatic() {
                let r = ns.reported_blocks(&self.datanodes.view(now));
                if sm.update(r.reported, r.total, now) {
                    log::info!(
                        "leaving safe mode: {} of {} blocks reported",
                        r.reported,
                        r.total
                    );
                    q.request_rescan();
                }
            }
            drop(sm);
            self.publish(&ns, &mut q, now);
        }
        Ok(RegisterResponse {
            heartbeat_interval_ms: self.config.heartbeat_interval.as_millis() as u64,
            block_report_interval_ms: self.config.block_report_interval.as_millis() as u64,
            cluster_id: self.cluster_id(),
        })
    }

    /// Refuses (409, remembered for `dfs report`) a datanode that belongs
    /// to another cluster; nothing of its report is looked at.
    fn check_cluster(&self, req: &RegisterRequest, now: Instant) -> Result<()> {
        // (Without a group, in unit tests, the namenode's own id stands.)
        if self.proposer.get().is_some() && !self.cluster_agreed()? {
            return Err(NamenodeError::Unavailable(
                "the namenodes have not agreed on the cluster id yet (no leader so far); retry"
                    .into(),
            ));
        }
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        match req.cluster_id {
            Some(theirs) if theirs != self.cluster_id() => {
                let message = dfs_common::proto::datanode::cluster_mismatch_message(
                    &theirs,
                    &format!("http://{}", self.config.listen),
                    &self.cluster_id(),
                );
                let r = refused.entry(req.node.id).or_insert_with(|| Refusal {
                    addr: req.node.addr.clone(),
                    cluster_id: theirs,
                    message: message.clone(),
                    last: now,
                    attempts: 0,
                });
                r.attempts += 1;
                r.last = now;
                r.addr.clone_from(&req.node.addr);
                r.cluster_id = theirs;
                if r.attempts == 1 || r.attempts.is_multiple_of(100) {
                    log::error!(
                        "refused datanode {} at {} ({} attempts): {message}",
                        req.node.id,
                        req.node.addr,
                        r.attempts
                    );
                }
                Err(NamenodeError::Conflict(message))
            }
            _ => {
                refused.remove(&req.node.id);
                Ok(())
            }
        }
    }

    /// Datanodes of another cluster that tried to join lately.
    pub(super) fn refused_datanodes(
        &self,
        now: Instant,
    ) -> Vec<dfs_common::proto::client::RefusedDatanode> {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        refused.retain(|_, r| now.saturating_duration_since(r.last) < REFUSAL_SHOWN);
        let mut out: Vec<_> = refused
            .iter()
            .map(|(id, r)| dfs_common::proto::client::RefusedDatanode {
                id: *id,
                addr: r.addr.clone(),
                cluster_id: r.cluster_id.to_string(),
                message: r.message.clone(),
                last_attempt_secs_ago: now.saturating_duration_since(r.last).as_secs(),
                attempts: r.attempts,
            })
            .collect();
        out.sort_by(|a, b| a.addr.cmp(&b.addr));
        out
    }

    /// Unknown replicas, cluster-wide and per node.
    pub async fn orphans(&self) -> Result<OrphansReport> {
        let directory = self.datanodes.directory();
        let ns = self.lock_async().await?;
        let (by_node, reasons) = ns.blocks().orphans_by_node();
        let u = views::unknown_replicas(&by_node, &reasons);
        let mut nodes = Vec::with_capacity(by_node.len());
        for (id, held, waiting) in by_node {
            nodes.push(NodeOrphans {
                id,
                addr: directory
                    .iter()
                    .find(|(n, _)| *n == id)
                    .map(|(_, a)| a.clone())
                    .unwrap_or_default(),
                held,
                waiting,
                known: ns.replica_count(&id),
            });
        }
        Ok(OrphansReport {
            unknown_replicas: u,
            nodes,
        })
    }

    /// The operator's word: every unknown replica (held or waiting) is
    /// ordered deleted, and holding after a restore ends.
    pub async fn delete_orphans(&self) -> Result<OrphansDeleted> {
        self.check_writable()?;
        let (was_restored, out) = self
            .mutate(|ns, _, dels| {
                let was_restored = ns.blocks().holds_all();
                let taken = ns.take_orphans();
                let nodes: std::collections::HashSet<NodeId> =
                    taken.iter().map(|(n, _)| *n).collect();
                let out = OrphansDeleted {
                    replicas: taken.len() as u64,
                    nodes: nodes.len() as u32,
                };
                dels.extend(taken);
                Ok((was_restored, out))
            })
            .await?;
        if was_restored {
            self.execute(Command::ClearRestored).await?;
        }
        log::warn!(
            "an operator ordered {} replicas of unknown blocks deleted on {} datanodes",
            out.replicas,
            out.nodes
        );
        Ok(out)
    }

    /// A heartbeat, answered with the node's commands and this namenode's
    /// standing. Only the leader hands out replica commands: a follower's
    /// stay queued (deletions its applied commands call for) and go if it
    /// becomes leader; datanodes ignore a deposed leader's anyway.
    pub async fn heartbeat(&self, hb: &Heartbeat) -> HeartbeatReply {
        let leadership = self.leadership();
        match self
            .datanodes
            .heartbeat(hb, Instant::now(), leadership.leader)
        {
            Some(out) => {
                if out.came_back {
                    // Its replicas count again: some blocks may now be over-replicated.
                    if let Err(e) = self.enqueue_node_blocks(&[hb.node_id]).await {
                        log::error!("heartbeat: {e}");
                    }
                }
                HeartbeatReply {
                    commands: out.commands,
                    leadership: Some(leadership),
                }
            }
            None => HeartbeatReply {
                commands: vec![DnCommand::Reregister],
                leadership: Some(leadership),
            },
        }
    }

    /// A full block report. Reports from nodes that have not registered
    /// since this process started are ignored: their next heartbeat asks
    /// them to register, which carries a full report anyway.
    pub async fn block_report(&self, r: &BlockReport) -> Result<()> {
        if !self.datanodes.is_registered(&r.node_id) {
            return Ok(());
        }
        let now = Instant::now();
        self.datanodes.touch(&r.node_id, now);
        let node = r.node_id;
        let bound = self.config.report_race_bound();
        self.mutate(|ns, txn, dels| {
            dels.extend(
                ns.on_full_report(node, &r.blocks, false, now, bound, txn)
                    .into_iter()
                    .map(|b| (node, b)),
            );
            Ok(())
        })
        .await?;
        self.update_safe_mode(now).await
    }

    pub async fn block_received(&self, r: &IncrementalBlockReport) -> Result<()> {
        if !self.datanodes.is_registered(&r.node_id) {
            return Ok(());
        }
        let now = Instant::now();
        self.datanodes.touch(&r.node_id, now);
        // A replica reported gone may never be reported received (the
        // datanode coalesces a received-then-deleted replica into the
        // deletion): its room was counted as scheduled all the same, and
        // would stay counted until the reservation's TTL.
        self.datanodes.received(
            &r.node_id,
            r.received
                .iter()
                .map(|b| b.id)
                .chain(r.deleted.iter().copied()),
        );
        let node = r.node_id;
        let done = self
            .mutate_soft(|ns, txn, dels| {
                let d = ns.on_incremental_report(node, &r.received, &r.deleted, now, txn);
                dels.extend(d.into_iter().map(|b| (node, b)));
                Ok(())
            })
            .await;
        // The datanode's next heartbeat waits for this answer: the time the
        // commit took is this namenode's, not the node's silence.
        self.datanodes.touch(&node, Instant::now());
        done
    }

    /// A datanode found one of its replicas bad (scanner or sender) and has
    /// already quarantined it: corrupt, as with a reader's report.
    pub async fn bad_block(&self, r: &BadBlockReport) -> Result<()> {
        log::warn!(
            "datanode {} reports bad block {}: {}",
            r.node_id,
            r.block_id,
            r.reason
        );
        // Quarantined, so no longer arriving (see `block_received`).
        self.datanodes.received(&r.node_id, [r.block_id]);
        let reason = format!("datanode: {}", r.reason);
        self.mutate(|ns, txn, _| Ok(ns.mark_corrupt(r.block_id, r.node_id, &reason, txn)))
            .await?;
        Ok(())
    }

    /// Marks silent datanodes dead (heartbeat monitor); their blocks go to
    /// the replication monitor, and copies from or to them are cancelled.
    pub async fn check_dead_nodes(&self, now: Instant) -> Vec<NodeId> {
        let dead = self.datanodes.check_dead(now);
        if !dead.is_empty() {
            match self.lock_async().await {
                Ok(ns) => {
                    let mut q = self.repl();
                    for n in &dead {
                        q.node_lost(n);
                        q.enqueue(ns.blocks().blocks_on(n));
                    }
                    self.publish(&ns, &mut q, now);
                }
                Err(e) => log::error!("heartbeat monitor: {e}"),
            }
        }
        dead
    }
}
