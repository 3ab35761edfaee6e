//! Reads through [`Namesystem`]: where a file's blocks are (live replicas
//! first, in the order readers should try them), and a client's report of a
//! bad replica.
use super::*;

impl Namesystem {
    /// Where a file's blocks are: good replicas on live nodes only; nodes
    /// in admin state `Normal` first, in a random order drawn afresh for
    /// every answer (`placement::read_order`) so that the reads of a block
    /// spread over all its replicas, then decommissioning ones. Corrupt
    /// replicas are never listed: a block with no good live replica has none.
    pub fn locations(&self, path: &DfsPath) -> Result<FileLocations> {
        let view = self.datanodes.view(Instant::now());
        locations_in(&*self.lock()?, &view, path)
    }

    /// [`Namesystem::locations`] for async callers (see
    /// [`Namesystem::lock_async`]).
    ///
    /// A namenode that has just started (and may have been elected at
    /// once) knows no replica until the datanodes register again: while a
    /// block has none and nodes known from before are still due, it waits
    /// for them (up to `REGISTRATION_WAIT`) rather than fail the read.
    pub async fn locations_async(&self, path: &DfsPath) -> Result<FileLocations> {
        let deadline = Instant::now() + super::write::REGISTRATION_WAIT;
        loop {
            let now = Instant::now();
            let view = self.datanodes.view(now);
            let found = locations_in(&*self.lock_async().await?, &view, path)?;
            let unplaced = found.blocks.iter().any(|b| b.replicas.is_empty());
            if !unplaced || now >= deadline || !self.datanodes.any_awaiting(now) {
                return Ok(found);
            }
            tokio::time::sleep(super::write::REGISTRATION_POLL).await;
        }
    }

    /// The write under way at `path` and the nodes that may hold each of
    /// its blocks (the Hadoop door takes up a write another namenode
    /// served).
    pub async fn pending_write(
        &self,
        path: &DfsPath,
    ) -> Result<Option<(crate::records::PendingFile, Vec<Vec<NodeId>>)>> {
        Ok(self.lock_async().await?.pending_at(path))
    }

    /// The path of the write under way that `owner` started and that has a
    /// block `is` picks out.
    pub async fn pending_with_block(
        &self,
        owner: &str,
        is: impl Fn(BlockId) -> bool,
    ) -> Result<Option<DfsPath>> {
        Ok(self.lock_async().await?.pending_with_block(owner, is))
    }

    /// The SHA-256 midstate recorded for file `inode` (over its length at
    /// its last `complete`), if any.
    pub fn hash_state(
        &self,
        inode: crate::records::InodeId,
    ) -> Result<Option<dfs_common::checksum::Sha256State>> {
        self.store.hash_state(inode)
    }

    /// The writes under way that `owner` started.
    pub async fn pending_of(&self, owner: &str) -> Result<Vec<dfs_common::ids::FileId>> {
        Ok(self.lock_async().await?.pending_of(owner))
    }

    /// A reader found a replica whose bytes do not match: it is corrupt
    /// from now on (not counted, not served), the block is queued for a
    /// copy, and the bad replica is deleted once a good one is live
    /// elsewhere.
    pub async fn report_bad_replica(&self, r: &BadReplicaReport) -> Result<()> {
        let reason = format!("reader: {}", r.reason);
        let left = self
            .mutate(|ns, txn, _| Ok(ns.mark_corrupt(r.block_id, r.node_id, &reason, txn)))
            .await?;
        log::warn!(
            "client reported bad replica of block {} on {}: {} ({})",
            r.block_id,
            r.node_id,
            r.reason,
            match left {
                Some(n) => format!("{n} good replicas left"),
                None => "no such block".to_string(),
            }
        );
        Ok(())
    }
}

/// Where `path`'s blocks are, as [`Namesystem::locations`] orders them.
fn locations_in(
    ns: &Namespace,
    view: &crate::datanodes::NodeView,
    path: &DfsPath,
) -> Result<FileLocations> {
    let seed = uuid::Uuid::new_v4().as_u64_pair().0;
    let place = |block: BlockId, replicas: &[NodeId]| {
        let pick = |class: NodeClass| -> Vec<DatanodeInfo> {
            replicas
                .iter()
                .filter(|id| view.class(id) == class)
                .filter_map(|id| {
                    view.addr(id).map(|a| DatanodeInfo {
                        id: *id,
                        addr: a.to_string(),
                    })
                })
                .collect()
        };
        let mut out = pick(NodeClass::Live);
        crate::placement::read_order(&mut out, block, seed);
        out.extend(pick(NodeClass::LiveRetiring));
        out
    };
    ns.locations(path, place)
}
