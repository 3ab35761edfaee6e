//! The periodic and operator work of [`Namesystem`]: dead-node checks,
//! safe mode (automatic and by hand), the replication monitor's tick, and
//! decommissioning.
use super::*;

impl Namesystem {
    /// Recounts reported blocks while in automatic safe mode; leaving it
    /// triggers a full look at every block.
    pub async fn update_safe_mode(&self, now: Instant) -> Result<()> {
        if !self.safemode().is_automatic() {
            return Ok(());
        }
        let view = self.datanodes.view(now);
        let ns = self.lock_async().await?;
        let r = ns.reported_blocks(&view);
        let mut q = self.repl();
        let mut sm = self.safemode();
        if sm.update(r.reported, r.total, now) {
            log::info!(
                "leaving safe mode: {} of {} blocks reported",
                r.reported,
                r.total
            );
            q.request_rescan();
        }
        Ok(())
    }

    /// One pass of the replication monitor (see `replication`). Does
    /// nothing but count reports while in safe mode.
    pub async fn replication_tick(&self, now: Instant) -> Result<()> {
        self.update_safe_mode(now).await?;
        // Copies, excess and orphan deletions and decommissioning are the
        // leader's work (its commands are the ones datanodes take).
        if self.in_safe_mode() {
            return Ok(());
        }
        if !self.leads_surely().await {
            // The balancer's moves are the leader's; whether it is wanted
            // is replicated, and the next leader takes it up.
            self.repl().balancer.stop(super::balancer::NOT_LEADER);
            return Ok(());
        }
        self.reconcile_balancer().await?;
        let view = self.datanodes.view(now);
        let settings = replication::Settings {
            max_streams: self.config.replication_max_streams,
            pending_timeout: self.config.replication_pending_timeout,
            orphan_grace: self.config.orphan_grace,
            race_bound: self.config.report_race_bound(),
            rescan_chunk: replication::RESCAN_CHUNK,
        };
        let usage = self.balancer_usage(now);
        let period = self.config.replication_period();
        let balancing = crate::replication::balancing::StepInput {
            view: &view,
            usage: &usage,
            now,
            budget: (self.config.balancer_bandwidth as f64 * period.as_secs_f64()) as u64,
            max_streams: settings.max_streams,
            pending_timeout: settings.pending_timeout,
        };
        let (out, moves) = self
            .mutate(|ns, txn, dels| {
                let mut q = self.repl();
                // The balancer settles its moves between the reports and
                // the monitor's look at the blocks (see `balancing`).
                q.absorb(ns.take_block_events(), now);
                let moves = crate::replication::balancing::step(ns, &mut q, &balancing, txn, dels);
                Ok((
                    replication::tick(ns, &mut q, &view, now, &settings, txn, dels),
                    moves,
                ))
            })
            .await?;
        for (node, cmd) in moves {
            self.datanodes.queue_command(&node, cmd);
        }
        for n in &out.decommissioned {
            self.apply_admin_state(*n, AdminState::Decommissioned)
                .await?;
        }
        for (node, cmd) in out.replicate {
            self.datanodes.queue_command(&node, cmd);
        }
        Ok(())
    }

    /// `dfsadmin -safemode get|enter|leave`.
    /// Entering and leaving are commands (kept across restarts).
    pub async fn safe_mode_action(&self, action: SafeModeAction) -> Result<SafeModeStatus> {
        let now = Instant::now();
        match action {
            SafeModeAction::Get => {}
            // Applying the command sets the gate (`replicated`), here and
            // on every other namenode.
            SafeModeAction::Enter => {
                self.execute(Command::SetSafeMode { on: true }).await?;
            }
            SafeModeAction::Leave => {
                self.execute(Command::SetSafeMode { on: false }).await?;
                // Here also the safe mode of a start, at the operator's word.
                let was_on = self.safemode().is_on();
                self.safemode().leave();
                if was_on {
                    log::warn!("safe mode left by an operator");
                    self.repl().request_rescan();
                }
            }
        }
        self.update_safe_mode(now).await?;
        let sm = self.safemode();
        Ok(SafeModeStatus {
            safe_mode: sm.is_on(),
            reason: sm.reason(now),
        })
    }

    /// Starts (`decommission`) or ends (`!decommission`) the retirement of
    /// the node an operator names (id, id prefix or address).
    pub async fn set_admin_state(&self, query: &str, decommission: bool) -> Result<DatanodeReport> {
        let node = crate::datanodes::resolve_node(query, &self.datanodes.directory()).map_err(
            |e| match e {
                ResolveError::NotFound(m) => NamenodeError::NotFound(m),
                ResolveError::Ambiguous(m) => NamenodeError::Conflict(m),
            },
        )?;
        self.check_writable()?;
        let current = self
            .datanodes
            .admin_state(&node)
            .ok_or_else(|| NamenodeError::NotFound(format!("datanode {node} is unknown")))?;
        let target = match (decommission, current) {
            (true, AdminState::Normal) => Some(AdminState::Decommissioning),
            (true, _) => None,
            (false, AdminState::Normal) => None,
            (false, _) => Some(AdminState::Normal),
        };
        if let Some(target) = target {
            self.apply_admin_state(node, target).await?;
            // Decommission: its blocks need copies elsewhere. Recommission:
            // its replicas count again, so excess ones get trimmed.
            self.enqueue_node_blocks(&[node]).await?;
            // Report the new state with up-to-date drain numbers.
            self.replication_tick(Instant::now()).await?;
        }
        self.datanode_reports()
            .await?
            .into_iter()
            .find(|r| r.id == node)
            .ok_or_else(|| NamenodeError::NotFound(format!("datanode {node} is unknown")))
    }
}

impl Namesystem {
    /// Applies `SetAdminState` (every namenode mirrors it into its registry
    /// as it applies it: `replicated`).
    async fn apply_admin_state(&self, node: NodeId, admin: AdminState) -> Result<()> {
        self.execute(Command::SetAdminState { node, admin }).await?;
        if admin == AdminState::Decommissioned {
            log::info!("datanode {node} is decommissioned");
        }
        Ok(())
    }
}

impl Namesystem {
    /// Puts the node an operator names (id, id prefix or address) into
    /// maintenance, for `duration` or until ended: replicated
    /// (`Command::SetMaintenance`, with the wall-clock time it runs out),
    /// so a restart or a new leader keeps it. Refused
    /// (409) for a node that is dead and not in maintenance, retiring, or
    /// holding the only live replica (out of maintenance) of some block.
    pub async fn enter_maintenance(
        &self,
        query: &str,
        duration: Option<std::time::Duration>,
    ) -> Result<DatanodeReport> {
        let node = self.resolve_operator_node(query)?;
        // Safe mode refuses operator actions (503), as for decommissioning.
        self.check_writable()?;
        let now = Instant::now();
        let view = self.datanodes.view(now);
        let snap = view
            .nodes
            .get(&node)
            .ok_or_else(|| NamenodeError::NotFound(format!("datanode {node} is unknown")))?;
        if snap.admin != AdminState::Normal {
            return Err(NamenodeError::Conflict(format!(
                "datanode {node} ({}) is {:?}, not in normal service: recommission it first",
                snap.addr, snap.admin
            )));
        }
        if !matches!(snap.class, NodeClass::Live | NodeClass::Maintenance) {
            return Err(NamenodeError::Conflict(format!(
                "datanode {node} ({}) is not live: maintenance is for a live node about to be stopped",
                snap.addr
            )));
        }
        let maintenance = match duration {
            Some(d) => {
                let too_long = || {
                    NamenodeError::InvalidArgument(format!(
                        "maintenance duration {d:?} is too long"
                    ))
                };
                // Both clocks must be able to say when it ends.
                now.checked_add(d).ok_or_else(too_long)?;
                let ms = u64::try_from(d.as_millis()).map_err(|_| too_long())?;
                Maintenance::Until(now_ms().checked_add(ms).ok_or_else(too_long)?)
            }
            None => Maintenance::UntilEnded,
        };
        let sole = {
            let ns = self.lock_async().await?;
            let blocks = ns.blocks();
            blocks
                .blocks_on(&node)
                .into_iter()
                .filter_map(|b| blocks.get(&b))
                .filter(|info| info.sha256.is_some())
                .filter(|info| replication::sole_live_replica(&info.replicas, &node, &view))
                .count()
        };
        if sole > 0 {
            return Err(NamenodeError::Conflict(format!(
                "datanode {node} ({}) holds the only live replica (on a node not in maintenance) \
                 of {sole} block(s): stopping it would make them unreadable; \
                 raise their replication or wait for repair first",
                snap.addr
            )));
        }
        self.execute(Command::SetMaintenance {
            node,
            maintenance: Some(maintenance),
        })
        .await?;
        self.node_report(node).await
    }

    /// Ends maintenance for the node an operator names. A silent node is
    /// dead from now on: its blocks are re-replicated as usual.
    pub async fn end_maintenance(&self, query: &str) -> Result<DatanodeReport> {
        let node = self.resolve_operator_node(query)?;
        self.check_writable()?;
        let was = self
            .lock_async()
            .await?
            .cluster()
            .maintenance
            .contains_key(&node);
        if was {
            self.execute(Command::SetMaintenance {
                node,
                maintenance: None,
            })
            .await?;
            self.enqueue_node_blocks(&[node]).await?;
            self.replication_tick(Instant::now()).await?;
        }
        self.node_report(node).await
    }

    /// Maintenance that ran out (heartbeat monitor): a silent node's blocks
    /// get a look, as a dead node's, and the leader ends it in the
    /// replicated state too (every namenode has stopped counting it already:
    /// the time is in the record).
    pub async fn expire_maintenance(&self, now: Instant) -> Result<Vec<NodeId>> {
        let ended = self.datanodes.expire_maintenance(now);
        if !ended.is_empty() {
            self.enqueue_node_blocks(&ended).await?;
        }
        let ran_out: Vec<NodeId> = {
            let ns = self.lock_async().await?;
            let at = now_ms();
            ns.cluster()
                .maintenance
                .iter()
                .filter(|(_, m)| matches!(m, Maintenance::Until(t) if *t <= at))
                .map(|(id, _)| *id)
                .collect()
        };
        if !ran_out.is_empty() && !self.in_safe_mode() && self.leads_surely().await {
            for node in ran_out {
                self.execute(Command::SetMaintenance {
                    node,
                    maintenance: None,
                })
                .await?;
            }
        }
        Ok(ended)
    }

    fn resolve_operator_node(&self, query: &str) -> Result<NodeId> {
        crate::datanodes::resolve_node(query, &self.datanodes.directory()).map_err(|e| match e {
            ResolveError::NotFound(m) => NamenodeError::NotFound(m),
            ResolveError::Ambiguous(m) => NamenodeError::Conflict(m),
        })
    }

    async fn node_report(&self, node: NodeId) -> Result<DatanodeReport> {
        self.datanode_reports()
            .await?
            .into_iter()
            .find(|r| r.id == node)
            .ok_or_else(|| NamenodeError::NotFound(format!("datanode {node} is unknown")))
    }
}
