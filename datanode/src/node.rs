//! `Node`: the state every part of a running datanode shares (its identity,
//! the block store, the event channel to the namenode link, the counters,
//! the cluster keys). Built once by [`crate::Datanode::start`] and handed
//! around as an `Arc<Node>` (actix `web::Data<Node>` in handlers).
//!
//! It holds, and does nothing itself: it depends only on the types it holds
//! (store, events, metrics: none of which depends on it back), so that
//! every module may use it without closing a cycle through `lib.rs`.
use crate::events::EventSender;
use crate::metrics::{Metrics, ScannerStatus};
use crate::rbw::Registry;
use crate::store::BlockStore;
use dfs_common::auth::ClusterKeys;
use dfs_common::ids::{ClusterId, NodeId};
use std::path::PathBuf;
use std::sync::Mutex;

/// What every part of a running datanode shares.
pub struct Node {
    pub id: NodeId,
    /// Base URL others reach this node at (no trailing slash).
    pub advertise: String,
    /// Its rack (`--rack`), told to the namenode when it registers.
    pub rack: String,
    /// The port Hadoop's data transfer protocol is served on
    /// (`--hadoop-data-listen`), told to the namenode when it registers.
    pub hadoop_port: Option<u16>,
    /// Hadoop writes whose pipeline broke, and file digest chains.
    pub rbw: Registry,
    pub store: BlockStore,
    pub events: EventSender,
    pub metrics: Metrics,
    pub scanner: ScannerStatus,
    /// Keys from the cluster secret (access control on): the credential
    /// this node registers with, and block access tokens it checks.
    pub keys: Option<ClusterKeys>,
    /// The cluster this node belongs to (`None` until it first joins one);
    /// kept in `<data-dir>/cluster_id` (see [`crate::identity`]).
    pub cluster: Mutex<Option<ClusterId>>,
    pub data_dir: PathBuf,
}

impl Node {
    pub fn cluster_id(&self) -> Option<ClusterId> {
        *self.cluster.lock().unwrap_or_else(|e| e.into_inner())
    }
}
