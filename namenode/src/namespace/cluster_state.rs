//! The replicated records beside the tree (issue 17): the datanodes the
//! cluster knows (address, admin state, maintenance), whether the metadata was restored
//! from a checkpoint (unknown replicas then held for an operator), and
//! safe mode entered by an operator, the S3 access keys. Changed only by their commands,
//! through `Namespace::apply`; the namesystem mirrors each change into the
//! soft state that acts on it (the datanode registry, the safe-mode gate).
use crate::commands::Outcome;
use crate::error::{NamenodeError, Result};
use crate::meta_store::Txn;
use crate::records::{BalancerRun, Maintenance, NodeRecord, S3KeyRecord};
use dfs_common::ids::NodeId;
use dfs_common::proto::client::AdminState;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterState {
    pub datanodes: BTreeMap<NodeId, NodeRecord>,
    /// Nodes in maintenance (entered and not ended; one whose time has run
    /// out stays here until the leader ends it, and counts as out of
    /// maintenance meanwhile).
    pub maintenance: BTreeMap<NodeId, Maintenance>,
    /// The balancer run an operator started, until it ends.
    pub balancer: Option<BalancerRun>,
    /// Restored from a checkpoint at this time (ms since the epoch), until
    /// an operator decides about the unknown replicas.
    pub restored: Option<u64>,
    pub operator_safe_mode: bool,
    /// The cluster id came through the log (`Command::SetClusterId`), so
    /// every namenode holds the same.
    pub cluster_agreed: bool,
    /// The Raft log position this state holds (`crate::raft` encodes it;
    /// `None` before the first entry).
    pub raft: Option<Vec<u8>>,
    /// S3 access keys, by access key.
    pub s3_keys: BTreeMap<String, S3KeyRecord>,
}

impl ClusterState {
    /// A new S3 key. An access key already taken is refused: the proposer
    /// makes them at random, so a clash means a retried or forged command.
    pub fn put_s3_key(
        &mut self,
        access_key: &str,
        record: &S3KeyRecord,
        txn: &mut Txn,
    ) -> Result<Outcome> {
        match self.s3_keys.get(access_key) {
            Some(r) if r == record => return Ok(Outcome::Done),
            Some(_) => {
                return Err(NamenodeError::AlreadyExists(format!(
                    "the S3 access key {access_key} exists"
                )))
            }
            None => {}
        }
        txn.put_s3_key(access_key, record);
        self.s3_keys.insert(access_key.to_string(), record.clone());
        Ok(Outcome::Done)
    }

    /// An S3 key removed (404 when there is none).
    pub fn delete_s3_key(&mut self, access_key: &str, txn: &mut Txn) -> Result<Outcome> {
        if self.s3_keys.remove(access_key).is_none() {
            return Err(NamenodeError::NotFound(format!(
                "no S3 access key {access_key}"
            )));
        }
        txn.del_s3_key(access_key);
        Ok(Outcome::Done)
    }

    /// A datanode's record, new or changed (a new address).
    pub fn put_datanode(&mut self, node: NodeId, record: &NodeRecord, txn: &mut Txn) -> Outcome {
        txn.put_datanode(node, record);
        self.datanodes.insert(node, record.clone());
        Outcome::Datanode(record.clone())
    }

    /// An operator's (or the decommission drain's) admin state for a known
    /// node.
    pub fn set_admin_state(
        &mut self,
        node: NodeId,
        admin: AdminState,
        txn: &mut Txn,
    ) -> Result<Outcome> {
        let rec = self
            .datanodes
            .get_mut(&node)
            .ok_or_else(|| NamenodeError::NotFound(format!("datanode {node} is unknown")))?;
        rec.admin = admin;
        txn.put_datanode(node, rec);
        Ok(Outcome::Datanode(rec.clone()))
    }

    /// A known node enters maintenance (or changes its end), or leaves it.
    pub fn set_maintenance(
        &mut self,
        node: NodeId,
        maintenance: Option<Maintenance>,
        txn: &mut Txn,
    ) -> Result<Outcome> {
        match maintenance {
            Some(m) => {
                if !self.datanodes.contains_key(&node) {
                    return Err(NamenodeError::NotFound(format!(
                        "datanode {node} is unknown"
                    )));
                }
                self.maintenance.insert(node, m);
                txn.put_maintenance(node, &m);
            }
            None => {
                if self.maintenance.remove(&node).is_some() {
                    txn.del_maintenance(node);
                }
            }
        }
        Ok(Outcome::Done)
    }

    /// An operator started a balancer run, or stopped it (`None`).
    pub fn set_balancer(&mut self, run: Option<BalancerRun>, txn: &mut Txn) -> Outcome {
        if self.balancer != run {
            self.balancer = run;
            txn.put_balancer(run.as_ref());
        }
        Outcome::Done
    }

    /// Balancer run `id` ended by itself: forgotten, unless a later run
    /// replaced it meanwhile.
    pub fn balancer_done(&mut self, id: u64, txn: &mut Txn) -> Outcome {
        if self.balancer.is_some_and(|r| r.id == id) {
            self.balancer = None;
            txn.put_balancer(None);
        }
        Outcome::Done
    }

    /// The operator decided about the unknown replicas: holding ends.
    pub fn clear_restored(&mut self, txn: &mut Txn) -> Outcome {
        if self.restored.take().is_some() {
            txn.del_restored();
        }
        Outcome::Done
    }

    pub fn set_safe_mode(&mut self, on: bool, txn: &mut Txn) -> Outcome {
        self.operator_safe_mode = on;
        txn.put_operator_safe_mode(on);
        Outcome::Done
    }
}
