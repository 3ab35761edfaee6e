//! The write path of [`Namesystem`]: append, create, add_block,
//! abandon_block, complete, and the leases that end abandoned writes (HDFS
//! LeaseManager's checks). Every step is a command, answered once
//! committed and applied.
use super::*;

impl Namesystem {
    /// Reopens a complete file for appending (see `AppendRequest`).
    pub async fn append(&self, path: &DfsPath) -> Result<AppendResponse> {
        self.check_writable()?;
        let cmd = Command::Append {
            file_id: FileId::new(),
            path: path.clone(),
        };
        let Outcome::Appended(opened) = self.execute(cmd).await? else {
            return Err(unexpected_outcome());
        };
        let last_block = match opened.replaced {
            None => None,
            Some(b) => self
                .locations_async(path)
                .await?
                .blocks
                .into_iter()
                .find(|lb| lb.block_id == b),
        };
        let sha256_state = self
            .store
            .hash_state(opened.inode)?
            .filter(|s| s.len == opened.kept_len);
        log::info!(
            "appending to {path} ({} bytes kept, last block {})",
            opened.kept_len,
            if opened.replaced.is_some() {
                "rewritten"
            } else {
                "full"
            }
        );
        Ok(AppendResponse {
            file_id: opened.file_id,
            block_size: opened.block_size,
            replication: opened.replication,
            lease_renew_interval_ms: self.lease_renew_interval_ms(),
            status: opened.status,
            kept_len: opened.kept_len,
            last_block,
            sha256_state,
        })
    }

    fn lease_renew_interval_ms(&self) -> u64 {
        self.config.lease_renew_interval().as_millis() as u64
    }

    /// Registers a new file being written; with `req.first_block`, places
    /// its first block in the same entry of the log (a small file then
    /// costs two commits, this and `complete`). A first block that cannot
    /// be placed is left out: the writer asks `add_block` and hears why.
    pub async fn create(&self, req: &CreateRequest) -> Result<CreateResponse> {
        self.check_writable()?;
        let file = NewFile {
            file_id: FileId::new(),
            path: req.path.clone(),
            overwrite: req.overwrite,
            create_parent: req.create_parent,
            replication: req.replication.unwrap_or(self.config.replication),
            block_size: req.block_size.unwrap_or(self.config.block_size),
            owner: req.owner.clone(),
            permission: req.permission.unwrap_or(FILE_PERMISSION),
        };
        let file_id = file.file_id;
        let first = if req.first_block {
            let live = self.datanodes.live(Instant::now());
            let block_id = BlockId::new();
            let targets = crate::placement::choose_targets(
                block_id,
                usize::from(file.replication),
                &DatanodeManager::candidates(&live),
                &[],
                file.block_size,
            );
            (!targets.is_empty()).then_some((live, block_id, targets))
        } else {
            None
        };
        let mut commands = vec![Command::Create(file)];
        if let Some((_, block_id, targets)) = &first {
            commands.push(Command::AddBlock {
                file_id,
                block_id: *block_id,
                targets: targets.clone(),
            });
        }
        let mut outcomes = self.execute_all(|_| Ok(commands)).await?.into_iter();
        let Some(Outcome::Created {
            file_id,
            replication,
            block_size,
        }) = outcomes.next().transpose()?
        else {
            return Err(unexpected_outcome());
        };
        let block = match (first, outcomes.next()) {
            (Some((live, ..)), Some(Ok(added))) => Some(self.located(added, &live)?),
            (_, Some(Err(e))) => {
                log::debug!("no first block for {}: {e}", req.path);
                None
            }
            _ => None,
        };
        Ok(CreateResponse {
            file_id,
            block_size,
            replication,
            lease_renew_interval_ms: self.lease_renew_interval_ms(),
            block,
        })
    }

    pub async fn add_block(&self, req: &AddBlockRequest) -> Result<LocatedBlock> {
        self.check_writable()?;
        let live = self.live_or_registering().await;
        let candidates = DatanodeManager::candidates(&live);
        let block_id = BlockId::new();
        let outcome = self
            .execute_with(|ns| {
                let targets = ns.place_block(req.file_id, block_id, &req.exclude, &candidates)?;
                Ok(Command::AddBlock {
                    file_id: req.file_id,
                    block_id,
                    targets,
                })
            })
            .await?;
        self.located(outcome, &live)
    }

    /// The live datanodes, after waiting (up to [`REGISTRATION_WAIT`]) while
    /// there are too few of them for the default replication and nodes
    /// known from before this start have not registered again yet: a
    /// namenode that has just started (and may have been elected at once)
    /// would otherwise fail writes that a second later have their nodes.
    async fn live_or_registering(&self) -> Vec<crate::datanodes::LiveNode> {
        let want = usize::from(self.config.replication);
        let deadline = Instant::now() + REGISTRATION_WAIT;
        loop {
            let now = Instant::now();
            let live = self.datanodes.live(now);
            let normal = live
                .iter()
                .filter(|n| n.admin == dfs_common::proto::client::AdminState::Normal)
                .count();
            if normal >= want || now >= deadline || !self.datanodes.any_awaiting(now) {
                return live;
            }
            tokio::time::sleep(REGISTRATION_POLL).await;
        }
    }

    /// An added block as its writer gets it, its targets' room counted as
    /// taken until they report it (so that a burst of allocations does not
    /// pile onto a node that can hold only some of them).
    fn located(&self, added: Outcome, live: &[crate::datanodes::LiveNode]) -> Result<LocatedBlock> {
        let Outcome::BlockAdded {
            block_id,
            targets,
            offset,
            block_size,
        } = added
        else {
            return Err(unexpected_outcome());
        };
        self.datanodes
            .reserve(&targets, block_id, block_size, Instant::now());
        let addrs: HashMap<NodeId, &str> = live.iter().map(|n| (n.id, n.addr.as_str())).collect();
        let replicas = targets
            .iter()
            .map(|id| DatanodeInfo {
                id: *id,
                addr: addrs.get(id).map_or_else(String::new, |a| a.to_string()),
            })
            .collect();
        Ok(LocatedBlock {
            block_id,
            offset,
            len: 0,
            sha256: None,
            replicas,
            access_token: None,
        })
    }

    pub async fn abandon_block(&self, req: &AbandonBlockRequest) -> Result<()> {
        self.check_writable()?;
        self.execute(Command::AbandonBlock {
            file_id: req.file_id,
            block_id: req.block_id,
        })
        .await?;
        Ok(())
    }

    /// Makes a file visible. A block committed with fewer replicas than the
    /// file's replication (the pipeline lost hops) is queued for copies now.
    pub async fn complete(&self, req: &CompleteRequest) -> Result<FileStatus> {
        self.check_writable()?;
        let completion = Completion::from_request(req);
        let command = match &req.xattrs {
            Some(xattrs) => Command::CompleteWithXattrs {
                completion,
                xattrs: xattrs.clone(),
            },
            None => Command::Complete(completion),
        };
        let Outcome::Status(st) = self.execute(command).await? else {
            return Err(unexpected_outcome());
        };
        log::info!(
            "completed {} ({} bytes, {} blocks)",
            st.path,
            st.length,
            st.blocks
        );
        Ok(st)
    }

    /// Joins complete files into a new one, moving their blocks (see
    /// `namespace::concat`).
    pub async fn concat(
        &self,
        req: &dfs_common::proto::client::ConcatRequest,
    ) -> Result<FileStatus> {
        self.check_writable()?;
        let command = Command::Concat {
            parts: req.parts.clone(),
            dst: req.dst.clone(),
            sha256: req.sha256,
            xattrs: req.xattrs.clone(),
        };
        let Outcome::Status(st) = self.execute(command).await? else {
            return Err(unexpected_outcome());
        };
        log::info!(
            "concat: {} parts into {} ({} bytes, {} blocks)",
            req.parts.len(),
            st.path,
            st.length,
            st.blocks
        );
        Ok(st)
    }

    /// Renewing changes nothing durable, so it is allowed in safe mode (a
    /// writer caught by a namenode restart keeps its lease meanwhile).
    pub async fn renew_lease(&self, file_id: dfs_common::ids::FileId) -> Result<()> {
        self.lock_async()
            .await?
            .renew_lease(file_id, Instant::now())
    }

    pub async fn abandon_file(&self, file_id: dfs_common::ids::FileId) -> Result<()> {
        self.check_writable()?;
        let paths = self.abandon_files(vec![file_id]).await?;
        for p in paths {
            log::info!("abandoned the write of {p}");
        }
        Ok(())
    }

    /// Applies `AbandonFiles`: the paths of the writes that were pending.
    async fn abandon_files(&self, file_ids: Vec<dfs_common::ids::FileId>) -> Result<Vec<DfsPath>> {
        if file_ids.is_empty() {
            return Ok(Vec::new());
        }
        match self.execute(Command::AbandonFiles { file_ids }).await? {
            Outcome::Abandoned(paths) => Ok(paths),
            _ => Err(unexpected_outcome()),
        }
    }

    /// Datanode `node` relays the write `file_id` (it said so on `create`,
    /// `append` or a lease renewal): the write ends when the node is
    /// declared dead ([`Namesystem::end_relayed_writes`]).
    pub async fn note_relay(&self, file_id: dfs_common::ids::FileId, node: NodeId) -> Result<()> {
        self.lock_async().await?.set_relay(file_id, node)
    }

    /// Abandons writes relayed by datanodes now declared dead (heartbeat
    /// monitor, after marking them), at once rather than at lease expiry:
    /// nothing of them is visible, their blocks are deleted and their
    /// paths are writable again. Nothing ends in safe mode (deleting is
    /// off, as for lease expiry).
    pub async fn end_relayed_writes(&self, now: Instant) -> Result<Vec<DfsPath>> {
        if self.in_safe_mode() {
            return Ok(Vec::new());
        }
        let view = self.datanodes.view(now);
        // Known and dead; an id the registry does not know is left to the
        // lease (a relay that registered with another namenode, say).
        let dead = |n: &NodeId| {
            view.nodes
                .get(n)
                .is_some_and(|s| s.class == NodeClass::Gone)
        };
        let ended = self.lock_async().await?.writes_relayed_by(dead);
        let paths = self.abandon_files(ended).await?;
        for p in &paths {
            log::warn!("the datanode relaying the write of {p} is dead; write abandoned");
        }
        Ok(paths)
    }

    /// Abandons writes whose lease expired before `now` (lease monitor).
    /// Nothing expires in safe mode: deleting is off, and writers could not
    /// renew through a restart anyway.
    pub async fn expire_leases(&self, now: Instant) -> Result<Vec<DfsPath>> {
        // Writers renew with the leader: a namenode that does not lead
        // keeps every lease fresh instead, so that when it takes over no
        // writer's lease looks older than one check period.
        if self.in_safe_mode() || !self.leads_surely().await {
            let mut ns = self.lock_async().await?;
            ns.renew_all_leases(now);
            return Ok(Vec::new());
        }
        let timeout = self.config.lease_timeout;
        let expired = self.lock_async().await?.expired_writes(now, timeout);
        if expired.is_empty() {
            return Ok(Vec::new());
        }
        // (Restored metadata: the replicas of the abandoned blocks are held,
        // not deleted; see `Namesystem::apply_committed`.)
        let outcome = self
            .execute(Command::AbandonFiles { file_ids: expired })
            .await?;
        let Outcome::Abandoned(paths) = outcome else {
            return Err(unexpected_outcome());
        };
        for p in &paths {
            log::warn!(
                "lease on {p} expired (writer silent for more than {timeout:?}); write abandoned"
            );
        }
        Ok(paths)
    }
}

/// How long a write waits for datanodes known from before a start to
/// register again (see `Namesystem::live_or_registering`).
pub(super) const REGISTRATION_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
pub(super) const REGISTRATION_POLL: std::time::Duration = std::time::Duration::from_millis(100);
