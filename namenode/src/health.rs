//! Pure: how many replicas of a block count, and what that makes the block
//! (healthy, under- or over-replicated, corrupt, missing). fsck, the
//! summary, the replication monitor and decommissioning all use these two
//! functions, so they never disagree about a block.
//!
//! What counts (HDFS NumberReplicas, simplified):
//! - `live`: good replicas on nodes in admin state `Normal` that are live,
//!   or that are known from before a restart and still within their time to
//!   register (so an unreported node is not a loss yet);
//! - `retiring`: good replicas on decommissioning or decommissioned nodes
//!   that are live or awaiting registration: they are not counted toward
//!   replication but the data is there (readable, a copy source);
//! - `corrupt`: replicas known bad, not yet deleted.
use crate::datanodes::{NodeClass, NodeView};
use dfs_common::ids::NodeId;
use dfs_common::proto::client::BlockHealth;

/// The replicas of one block, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaCounts {
    pub live: u32,
    pub retiring: u32,
    pub corrupt: u32,
}

/// Counts `replicas` (good ones) against the node view.
pub fn count_replicas(replicas: &[NodeId], corrupt: usize, view: &NodeView) -> ReplicaCounts {
    let mut c = ReplicaCounts {
        corrupt: corrupt as u32,
        ..Default::default()
    };
    for n in replicas {
        match view.class(n) {
            NodeClass::Live | NodeClass::Presumed => c.live += 1,
            NodeClass::LiveRetiring | NodeClass::PresumedRetiring => c.retiring += 1,
            NodeClass::Gone => {}
        }
    }
    c
}

/// What a block with these replicas is, when `expected` are wanted.
/// No good replica left anywhere: `Corrupt` if bad ones exist, else
/// `Missing`. Otherwise only `live` replicas are compared with `expected`.
pub fn block_health(c: &ReplicaCounts, expected: u16) -> BlockHealth {
    let expected = u32::from(expected);
    if c.live + c.retiring == 0 {
        if c.corrupt > 0 {
            BlockHealth::Corrupt
        } else {
            BlockHealth::Missing
        }
    } else if c.live < expected {
        BlockHealth::UnderReplicated
    } else if c.live > expected {
        BlockHealth::OverReplicated
    } else {
        BlockHealth::Healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datanodes::NodeSnap;
    use dfs_common::proto::client::AdminState;

    fn view(classes: &[NodeClass]) -> (NodeView, Vec<NodeId>) {
        let mut v = NodeView::default();
        let mut ids = Vec::new();
        for c in classes {
            let id = NodeId::new();
            v.nodes.insert(
                id,
                NodeSnap {
                    addr: String::new(),
                    class: *c,
                    registered: true,
                    admin: AdminState::Normal,
                    available: 1,
                },
            );
            ids.push(id);
        }
        (v, ids)
    }

    #[test]
    fn counting_and_health() {
        use NodeClass::*;
        let (v, ids) = view(&[Live, Presumed, LiveRetiring, PresumedRetiring, Gone]);
        let c = count_replicas(&ids, 1, &v);
        assert_eq!(
            c,
            ReplicaCounts {
                live: 2,
                retiring: 2,
                corrupt: 1
            }
        );
        assert_eq!(block_health(&c, 3), BlockHealth::UnderReplicated);
        assert_eq!(block_health(&c, 2), BlockHealth::Healthy);
        assert_eq!(block_health(&c, 1), BlockHealth::OverReplicated);
        // An unknown node counts for nothing.
        assert_eq!(
            count_replicas(&[NodeId::new()], 0, &v),
            ReplicaCounts::default()
        );

        let h = |live, retiring, corrupt, exp| {
            block_health(
                &ReplicaCounts {
                    live,
                    retiring,
                    corrupt,
                },
                exp,
            )
        };
        assert_eq!(h(0, 0, 0, 3), BlockHealth::Missing);
        assert_eq!(h(0, 0, 2, 3), BlockHealth::Corrupt);
        assert_eq!(
            h(0, 1, 2, 3),
            BlockHealth::UnderReplicated,
            "a retiring copy is data"
        );
        assert_eq!(
            h(1, 0, 2, 1),
            BlockHealth::Healthy,
            "corrupt ones do not count"
        );
    }
}
