//! [`NodeView`]: a snapshot of every node's standing, taken outside the
//! namespace lock and handed to the pure code (counting, choosing).
use super::*;

/// Where a replica on some node stands, for counting and choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeClass {
    /// Live, admin state `Normal`: counts, serves, can be a source.
    Live,
    /// Live but decommissioning or decommissioned: serves reads and can be
    /// a copy source, does not count toward replication.
    LiveRetiring,
    /// Awaiting registration after a restart: counts (normal) but serves
    /// nothing yet.
    Presumed,
    /// Awaiting registration and retiring: neither counts nor serves.
    PresumedRetiring,
    /// Silent (dead by heartbeat) while in maintenance: serves nothing, is
    /// no copy source; its replica of a block counts only while the block
    /// keeps a replica on a live node out of maintenance (`health`).
    Maintenance,
    /// Dead or unknown.
    Gone,
}

/// One node in a [`NodeView`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSnap {
    pub addr: String,
    pub class: NodeClass,
    pub registered: bool,
    pub admin: AdminState,
    pub available: u64,
    pub rack: RackId,
    /// In maintenance (live or silent): takes no new blocks.
    pub maintenance: bool,
}

/// A snapshot of every node's standing, taken before the namespace lock
/// (lock order: namespace, then registry) and passed to the pure code.
#[derive(Debug, Clone, Default)]
pub struct NodeView {
    pub nodes: HashMap<NodeId, NodeSnap>,
}

impl NodeView {
    pub fn class(&self, n: &NodeId) -> NodeClass {
        self.nodes.get(n).map_or(NodeClass::Gone, |s| s.class)
    }

    pub fn addr(&self, n: &NodeId) -> Option<&str> {
        self.nodes.get(n).map(|s| s.addr.as_str())
    }

    /// Registered since this start (safe mode counts their reports).
    pub fn is_registered(&self, n: &NodeId) -> bool {
        self.nodes.get(n).is_some_and(|s| s.registered)
    }

    /// Live nodes in admin state `Normal` and not in maintenance: where new
    /// replicas may go.
    pub fn targets(&self) -> Vec<Candidate> {
        let mut v: Vec<Candidate> = self
            .nodes
            .iter()
            .filter(|(_, s)| s.class == NodeClass::Live && !s.maintenance)
            .map(|(id, s)| Candidate {
                id: *id,
                available: s.available,
                rack: s.rack,
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// The rack of a node (the default rack's when unknown).
    pub fn rack(&self, n: &NodeId) -> RackId {
        self.nodes
            .get(n)
            .map_or_else(|| RackId::of(DEFAULT_RACK), |s| s.rack)
    }

    /// How many racks have a live node in admin state `Normal` (where a
    /// replica could go): what a block's racks are compared with.
    pub fn live_racks(&self) -> usize {
        crate::placement::rack_count(
            self.nodes
                .values()
                .filter(|s| s.class == NodeClass::Live)
                .map(|s| s.rack),
        )
    }

    /// The racks of a block's replicas on live `Normal` nodes, one entry
    /// per replica.
    pub fn live_replica_racks(&self, replicas: &[NodeId]) -> Vec<RackId> {
        replicas
            .iter()
            .filter_map(|n| self.nodes.get(n))
            .filter(|s| s.class == NodeClass::Live)
            .map(|s| s.rack)
            .collect()
    }

    /// How many nodes could hold a counted replica now.
    pub fn normal_nodes(&self) -> usize {
        self.nodes
            .values()
            .filter(|s| matches!(s.class, NodeClass::Live | NodeClass::Presumed))
            .count()
    }
}
