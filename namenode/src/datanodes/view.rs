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

    /// Live nodes in admin state `Normal`: where new replicas may go.
    pub fn targets(&self) -> Vec<Candidate> {
        let mut v: Vec<Candidate> = self
            .nodes
            .iter()
            .filter(|(_, s)| s.class == NodeClass::Live)
            .map(|(id, s)| Candidate {
                id: *id,
                available: s.available,
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// How many nodes could hold a counted replica now.
    pub fn normal_nodes(&self) -> usize {
        self.nodes
            .values()
            .filter(|s| matches!(s.class, NodeClass::Live | NodeClass::Presumed))
            .count()
    }
}
