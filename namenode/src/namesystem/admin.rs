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
        if self.in_safe_mode() || !self.leads_surely().await {
            return Ok(());
        }
        let view = self.datanodes.view(now);
        let settings = replication::Settings {
            max_streams: self.config.replication_max_streams,
            pending_timeout: self.config.replication_pending_timeout,
            orphan_grace: self.config.orphan_grace,
            race_bound: self.config.report_race_bound(),
            rescan_chunk: replication::RESCAN_CHUNK,
        };
        let out = self
            .mutate(|ns, txn, dels| {
                let mut q = self.repl();
                Ok(replication::tick(
                    ns, &mut q, &view, now, &settings, txn, dels,
                ))
            })
            .await?;
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
            SafeModeAction::Enter => {
                self.execute(Command::SetSafeMode { on: true }).await?;
                log::warn!("safe mode entered by an operator");
                self.safemode().enter();
            }
            SafeModeAction::Leave => {
                self.execute(Command::SetSafeMode { on: false }).await?;
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
    /// Applies `SetAdminState` and mirrors it into the registry.
    async fn apply_admin_state(&self, node: NodeId, admin: AdminState) -> Result<()> {
        self.execute(Command::SetAdminState { node, admin }).await?;
        if let Some(rec) = self.datanodes.set_admin(&node, admin) {
            if admin == AdminState::Decommissioned {
                log::info!("datanode {node} ({}) is decommissioned", rec.addr);
            }
        }
        Ok(())
    }
}
