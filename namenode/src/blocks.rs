//! `BlockMap`: every block the namenode knows → its owner, length, digest and
//! replica locations (HDFS BlocksMap), plus the node → blocks index (in
//! memory, kept in step with every replica change).
//!
//! What it does not do: decide placement (`placement`), know whether a node
//! is live (`datanodes`), or send anything (deletions are returned to the
//! caller, which queues them once the change is durable).
//!
//! Invariants:
//! - every `BlockMeta` is persisted through the caller's [`Txn`] whenever it
//!   changes (replica lists included), so a restart keeps the last known
//!   locations and block reports only have to correct them;
//! - `by_node[n]` contains `b` exactly when `blocks[b].replicas` contains `n`;
//! - a block owned by a pending file has no `len`/`sha256` yet: replicas that
//!   datanodes report for it are remembered in `reported` (memory only) and
//!   merged in at `complete` when their length and digest match.
//!
//! Hazard: a full report assembled on the datanode before a write finished
//! can arrive after `complete` and so lack a replica just recorded; the
//! replica is then forgotten until the node's next report (or its
//! incremental report) brings it back. Nothing is deleted because of it.
use crate::meta_store::Txn;
use crate::namespace::inode::InodeId;
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::proto::datanode::ReportedBlock;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Who a block belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockOwner {
    /// A complete file (inode id).
    File(InodeId),
    /// A file still being written.
    Pending(FileId),
}

/// One block as stored (`b/<block id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub owner: BlockOwner,
    /// 0 until committed.
    pub len: u64,
    /// `None` until committed.
    pub sha256: Option<Sha256Digest>,
    /// Nodes believed to hold a good, complete replica.
    pub replicas: Vec<NodeId>,
    /// The pipeline it was sent to (pending blocks only): where to send
    /// deletions if the write is abandoned.
    pub targets: Vec<NodeId>,
}

/// What to do about one reported replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Recorded (or already known), or remembered for a pending block.
    Kept,
    /// Not ours, or not matching: the node should delete it.
    Delete,
}

#[derive(Debug, Default)]
pub struct BlockMap {
    blocks: HashMap<BlockId, BlockMeta>,
    by_node: HashMap<NodeId, HashSet<BlockId>>,
    /// Replicas reported for pending blocks: (node, len, sha256).
    reported: HashMap<BlockId, Vec<(NodeId, u64, Sha256Digest)>>,
}

impl BlockMap {
    /// Rebuilds the map and its index from stored records.
    pub fn from_records(records: impl IntoIterator<Item = (BlockId, BlockMeta)>) -> Self {
        let mut map = BlockMap::default();
        for (id, meta) in records {
            for n in &meta.replicas {
                map.by_node.entry(*n).or_default().insert(id);
            }
            map.blocks.insert(id, meta);
        }
        map
    }

    pub fn get(&self, id: &BlockId) -> Option<&BlockMeta> {
        self.blocks.get(id)
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&BlockId, &BlockMeta)> {
        self.blocks.iter()
    }

    /// Replicas recorded on `node`.
    pub fn replica_count(&self, node: &NodeId) -> u64 {
        self.by_node.get(node).map_or(0, |s| s.len() as u64)
    }

    /// Adds a new block (or replaces one), persisting it.
    pub fn insert(&mut self, id: BlockId, meta: BlockMeta, txn: &mut Txn) {
        if let Some(old) = self.blocks.remove(&id) {
            self.unindex(id, &old.replicas);
        }
        for n in &meta.replicas {
            self.by_node.entry(*n).or_default().insert(id);
        }
        txn.put_block(id, &meta);
        self.blocks.insert(id, meta);
    }

    /// Forgets a block; returns every node that may hold bytes of it
    /// (replicas, pipeline targets, reported copies), for deletion.
    pub fn remove(&mut self, id: BlockId, txn: &mut Txn) -> Vec<NodeId> {
        let mut holders = Vec::new();
        if let Some(meta) = self.blocks.remove(&id) {
            self.unindex(id, &meta.replicas);
            txn.del_block(id);
            holders.extend(meta.replicas);
            holders.extend(meta.targets);
        }
        if let Some(rep) = self.reported.remove(&id) {
            holders.extend(rep.into_iter().map(|(n, _, _)| n));
        }
        holders.sort();
        holders.dedup();
        holders
    }

    /// Turns a pending block into a committed one of file `inode`. Replicas
    /// are the pipeline's acknowledgements plus any matching reports that
    /// arrived before `complete`.
    pub fn commit(
        &mut self,
        id: BlockId,
        inode: InodeId,
        len: u64,
        sha256: Sha256Digest,
        acked: &[NodeId],
        txn: &mut Txn,
    ) {
        let mut replicas: Vec<NodeId> = acked.to_vec();
        if let Some(rep) = self.reported.remove(&id) {
            for (n, l, s) in rep {
                if l == len && s == sha256 {
                    replicas.push(n);
                }
            }
        }
        let mut seen = HashSet::new();
        replicas.retain(|n| seen.insert(*n));
        let meta = BlockMeta {
            owner: BlockOwner::File(inode),
            len,
            sha256: Some(sha256),
            replicas,
            targets: Vec::new(),
        };
        self.insert(id, meta, txn);
    }

    /// Records that `node` holds a replica of a known block.
    pub fn add_replica(&mut self, id: BlockId, node: NodeId, txn: &mut Txn) -> bool {
        let Some(meta) = self.blocks.get_mut(&id) else {
            return false;
        };
        if meta.replicas.contains(&node) {
            return false;
        }
        meta.replicas.push(node);
        txn.put_block(id, meta);
        self.by_node.entry(node).or_default().insert(id);
        true
    }

    /// Forgets `node`'s replica of `id`; true if it was recorded.
    pub fn remove_replica(&mut self, id: BlockId, node: NodeId, txn: &mut Txn) -> bool {
        if let Some(rep) = self.reported.get_mut(&id) {
            rep.retain(|(n, _, _)| *n != node);
        }
        let Some(meta) = self.blocks.get_mut(&id) else {
            return false;
        };
        let before = meta.replicas.len();
        meta.replicas.retain(|n| *n != node);
        if meta.replicas.len() == before {
            return false;
        }
        txn.put_block(id, meta);
        if let Some(set) = self.by_node.get_mut(&node) {
            set.remove(&id);
        }
        true
    }

    /// One replica reported by `node` (full or incremental report).
    ///
    /// - unknown block (no file, no pending file): delete it;
    /// - block of a pending file: remember it for `complete`;
    /// - complete block with matching length and digest: record it;
    /// - complete block that does not match: forget it and delete it.
    pub fn on_reported(
        &mut self,
        node: NodeId,
        rb: &ReportedBlock,
        txn: &mut Txn,
    ) -> ReportOutcome {
        let Some(meta) = self.blocks.get(&rb.id) else {
            return ReportOutcome::Delete;
        };
        match meta.owner {
            BlockOwner::Pending(_) => {
                let rep = self.reported.entry(rb.id).or_default();
                rep.retain(|(n, _, _)| *n != node);
                rep.push((node, rb.len, rb.sha256));
                ReportOutcome::Kept
            }
            BlockOwner::File(_) => {
                if meta.len == rb.len && meta.sha256 == Some(rb.sha256) {
                    self.add_replica(rb.id, node, txn);
                    ReportOutcome::Kept
                } else {
                    self.remove_replica(rb.id, node, txn);
                    ReportOutcome::Delete
                }
            }
        }
    }

    /// A full block report from `node`: reconciles every reported replica
    /// and forgets recorded replicas the node no longer has. Returns the
    /// blocks the node should delete.
    pub fn on_full_report(
        &mut self,
        node: NodeId,
        blocks: &[ReportedBlock],
        txn: &mut Txn,
    ) -> Vec<BlockId> {
        let mut delete = Vec::new();
        let mut seen = HashSet::with_capacity(blocks.len());
        for rb in blocks {
            seen.insert(rb.id);
            if self.on_reported(node, rb, txn) == ReportOutcome::Delete {
                delete.push(rb.id);
            }
        }
        let recorded: Vec<BlockId> = self
            .by_node
            .get(&node)
            .map(|s| s.iter().filter(|b| !seen.contains(b)).copied().collect())
            .unwrap_or_default();
        for b in recorded {
            self.remove_replica(b, node, txn);
        }
        delete
    }

    fn unindex(&mut self, id: BlockId, replicas: &[NodeId]) {
        for n in replicas {
            if let Some(set) = self.by_node.get_mut(n) {
                set.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(inode: InodeId, data: &[u8], replicas: Vec<NodeId>) -> BlockMeta {
        BlockMeta {
            owner: BlockOwner::File(inode),
            len: data.len() as u64,
            sha256: Some(Sha256Digest::of(data)),
            replicas,
            targets: vec![],
        }
    }

    #[test]
    fn reports_reconcile() {
        let (a, b) = (NodeId::new(), NodeId::new());
        let good = BlockId::new();
        let mut map = BlockMap::default();
        let mut txn = Txn::new();
        map.insert(good, committed(5, b"hello", vec![a]), &mut txn);
        let pending = BlockId::new();
        map.insert(
            pending,
            BlockMeta {
                owner: BlockOwner::Pending(FileId::new()),
                len: 0,
                sha256: None,
                replicas: vec![],
                targets: vec![a, b],
            },
            &mut txn,
        );
        let stranger = BlockId::new();
        let rb = |id, data: &[u8]| ReportedBlock {
            id,
            len: data.len() as u64,
            sha256: Sha256Digest::of(data),
        };

        // b reports the good block, a pending one, and one we never heard of.
        let del = map.on_full_report(
            b,
            &[rb(good, b"hello"), rb(pending, b"xy"), rb(stranger, b"?")],
            &mut txn,
        );
        assert_eq!(del, vec![stranger]);
        assert_eq!(map.get(&good).unwrap().replicas, vec![a, b]);
        assert_eq!(map.replica_count(&b), 1);

        // a's report lacks the good block and has a corrupt copy of... nothing: forgotten.
        assert!(map.on_full_report(a, &[], &mut txn).is_empty());
        assert_eq!(map.get(&good).unwrap().replicas, vec![b]);
        assert_eq!(map.replica_count(&a), 0);

        // A mismatching copy is deleted and not recorded.
        assert_eq!(
            map.on_reported(a, &rb(good, b"hellx"), &mut txn),
            ReportOutcome::Delete
        );
        assert_eq!(map.get(&good).unwrap().replicas, vec![b]);

        // The pending block's reported copy joins at commit when it matches.
        map.commit(pending, 6, 2, Sha256Digest::of(b"xy"), &[a], &mut txn);
        assert_eq!(map.get(&pending).unwrap().replicas, vec![a, b]);
        let holders = map.remove(pending, &mut txn);
        assert_eq!(holders.len(), 2);
        assert_eq!(map.replica_count(&a), 0);
    }
}
