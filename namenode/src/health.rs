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
//! - `corrupt`: replicas known bad, not yet deleted;
//! - a replica on a silent node in maintenance counts as `live` only while
//!   the block has a good replica on a live node out of maintenance
//!   (retiring or not): the operator's reboot costs no copies, but a block
//!   whose only live data sits on nodes in maintenance is re-replicated as
//!   usual (HDFS's maintenance minimum replication, fixed at one).
//!
//! [`HealthTally`] keeps the cluster's numbers of unhealthy blocks without
//! a scan (HDFS reports them from its LowRedundancyBlocks queue sizes): it
//! remembers what each unhealthy block was when last looked at, and which
//! blocks may have changed since (*dirty*). Its owner marks a block dirty
//! on every event that can change its health (a replica came, went or went
//! bad, the block was committed, removed or its file's replication set, a
//! node holding it died, came back or changed admin state: the same events
//! that feed the repair queues) and settles dirty blocks against the node
//! view it has then. So the numbers are exact once settled, and cost
//! O(changes), never O(blocks), except the first build (at load, with the
//! namespace) and the repair monitor's periodic safety-net rescan, which
//! rebuilds it. The namesystem publishes the settled numbers with its
//! other counters after every change, for readers that take no lock
//! (`namesystem::views`).
use crate::datanodes::{NodeClass, NodeView};
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::proto::client::BlockHealth;
use std::collections::{HashMap, HashSet};

/// The replicas of one block, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaCounts {
    pub live: u32,
    pub retiring: u32,
    pub corrupt: u32,
}

/// Counts `replicas` (good ones) against the node view.
pub fn count_replicas(replicas: &[NodeId], corrupt: usize, view: &NodeView) -> ReplicaCounts {
    count_classes(replicas.iter().map(|n| view.class(n)), corrupt)
}

/// Counts good replicas on nodes of these classes.
pub fn count_classes(
    classes: impl IntoIterator<Item = NodeClass>,
    corrupt: usize,
) -> ReplicaCounts {
    let mut c = ReplicaCounts {
        corrupt: corrupt as u32,
        ..Default::default()
    };
    let (mut maintenance, mut serving) = (0, false);
    for class in classes {
        match class {
            NodeClass::Live => {
                c.live += 1;
                serving = true;
            }
            NodeClass::Presumed => c.live += 1,
            NodeClass::LiveRetiring => {
                c.retiring += 1;
                serving = true;
            }
            NodeClass::PresumedRetiring => c.retiring += 1,
            NodeClass::Maintenance => maintenance += 1,
            NodeClass::Gone => {}
        }
    }
    if serving {
        c.live += maintenance;
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

/// Unhealthy blocks by kind (committed blocks only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthCounts {
    pub missing: u64,
    pub corrupt: u64,
    pub under_replicated: u64,
    pub over_replicated: u64,
}

impl HealthCounts {
    fn slot(&mut self, h: BlockHealth) -> Option<&mut u64> {
        match h {
            BlockHealth::Healthy => None,
            BlockHealth::Missing => Some(&mut self.missing),
            BlockHealth::Corrupt => Some(&mut self.corrupt),
            BlockHealth::UnderReplicated => Some(&mut self.under_replicated),
            BlockHealth::OverReplicated => Some(&mut self.over_replicated),
        }
    }

    /// Counts one block of health `h`.
    pub fn add(&mut self, h: BlockHealth) {
        if let Some(c) = self.slot(h) {
            *c += 1;
        }
    }
}

/// The unhealthy blocks as last looked at, and the blocks to look at again
/// (see the module doc).
#[derive(Debug, Default)]
pub struct HealthTally {
    unhealthy: HashMap<BlockId, BlockHealth>,
    counts: HealthCounts,
    dirty: HashSet<BlockId>,
    /// False until every block has been looked at once ([`Self::rebuild`]).
    built: bool,
}

impl HealthTally {
    /// Blocks whose health may have changed.
    pub fn mark(&mut self, blocks: impl IntoIterator<Item = BlockId>) {
        self.dirty.extend(blocks);
    }

    /// Records block `id`'s health now (`None`: not a committed block any
    /// more); it is no longer dirty.
    pub fn settle(&mut self, id: BlockId, health: Option<BlockHealth>) {
        self.dirty.remove(&id);
        let now = health.filter(|h| *h != BlockHealth::Healthy);
        let before = match now {
            Some(h) => self.unhealthy.insert(id, h),
            None => self.unhealthy.remove(&id),
        };
        if before == now {
            return;
        }
        if let Some(c) = before.and_then(|h| self.counts.slot(h)) {
            *c -= 1;
        }
        if let Some(h) = now {
            self.counts.add(h);
        }
    }

    /// Settles every dirty block with `health`.
    pub fn settle_dirty(&mut self, health: impl Fn(&BlockId) -> Option<BlockHealth>) {
        for id in std::mem::take(&mut self.dirty) {
            self.settle(id, health(&id));
        }
    }

    /// The dirty blocks, no longer marked: the caller settles them.
    pub fn take_dirty(&mut self) -> Vec<BlockId> {
        self.dirty.drain().collect()
    }

    /// Settles as gone every unhealthy block `known` says no longer exists
    /// (the end of a rescan pass: a safety net for a missed event).
    pub fn forget_unknown(&mut self, known: impl Fn(&BlockId) -> bool) {
        let gone: Vec<BlockId> = self
            .unhealthy
            .keys()
            .filter(|id| !known(id))
            .copied()
            .collect();
        for id in gone {
            self.settle(id, None);
        }
    }

    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    pub fn is_built(&self) -> bool {
        self.built
    }

    /// Starts over from the health of every committed block.
    pub fn rebuild(&mut self, all: impl IntoIterator<Item = (BlockId, BlockHealth)>) {
        self.unhealthy.clear();
        self.counts = HealthCounts::default();
        self.dirty.clear();
        for (id, h) in all {
            if h != BlockHealth::Healthy {
                self.unhealthy.insert(id, h);
                self.counts.add(h);
            }
        }
        self.built = true;
    }

    /// The numbers as last settled.
    pub fn counts(&self) -> HealthCounts {
        self.counts
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
                    rack: crate::placement::RackId::default(),
                    maintenance: false,
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

#[cfg(test)]
mod tally_tests {
    use super::*;

    #[test]
    fn tally_follows_settlements() {
        let mut t = HealthTally::default();
        let (a, b) = (BlockId::new(), BlockId::new());
        t.rebuild([(a, BlockHealth::Missing), (b, BlockHealth::Healthy)]);
        assert!(t.is_built());
        assert_eq!(t.counts().missing, 1);
        t.mark([a, b]);
        assert_eq!(t.dirty_len(), 2);
        t.settle_dirty(|id| {
            Some(if *id == a {
                BlockHealth::UnderReplicated
            } else {
                BlockHealth::OverReplicated
            })
        });
        assert_eq!(
            t.counts(),
            HealthCounts {
                under_replicated: 1,
                over_replicated: 1,
                ..Default::default()
            }
        );
        // Settling the same health twice counts once; a removed block goes.
        t.settle(a, Some(BlockHealth::UnderReplicated));
        t.settle(b, None);
        assert_eq!(
            t.counts(),
            HealthCounts {
                under_replicated: 1,
                ..Default::default()
            }
        );
        t.settle(a, Some(BlockHealth::Healthy));
        assert_eq!(t.counts(), HealthCounts::default());
        assert_eq!(t.dirty_len(), 0);
    }
}
