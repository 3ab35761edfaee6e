//! `DatanodeManager`: the registry of datanodes (HDFS DatanodeManager): who
//! exists, where they are reached, how full they are, whether they are live,
//! and the work queued for each until its next heartbeat.
//!
//! What it does not do: know about blocks (the namespace's block map counts
//! replicas), persist anything itself (`register` returns the record to
//! store), or call a datanode (commands ride on heartbeat replies).
//!
//! Invariants:
//! - a node is *live* when it registered since this process started, is not
//!   marked dead, and was heard from within `dead_node_timeout`; only live
//!   nodes get new blocks or are handed to readers;
//! - a node known only from the store (it registered before a restart) is
//!   dead until it registers again; its heartbeats are answered with
//!   `Reregister` so its full block report reconciles the block map;
//! - queued deletions are per node and deduplicated; at most
//!   [`MAX_DELETES_PER_HEARTBEAT`] leave with one heartbeat reply.
use crate::placement::Candidate;
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::proto::client::{DatanodeReport, DatanodeState};
use dfs_common::proto::datanode::{Command, Heartbeat, StorageReport};
use dfs_common::proto::DatanodeInfo;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Block deletions sent with one heartbeat reply (HDFS
/// `dfs.block.invalidate.limit` is 1000 too).
pub const MAX_DELETES_PER_HEARTBEAT: usize = 1000;

/// A datanode as stored (`d/<node id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub addr: String,
}

#[derive(Debug)]
struct Descriptor {
    addr: String,
    storage: StorageReport,
    last_seen: Option<Instant>,
    registered: bool,
    dead: bool,
    active_transfers: u32,
    deletes: BTreeSet<BlockId>,
    commands: VecDeque<Command>,
}

impl Descriptor {
    fn is_live(&self, now: Instant, timeout: Duration) -> bool {
        self.registered
            && !self.dead
            && self
                .last_seen
                .is_some_and(|t| now.saturating_duration_since(t) <= timeout)
    }
}

/// A live node as placement and readers need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNode {
    pub id: NodeId,
    pub addr: String,
    pub available: u64,
}

/// Cluster-wide datanode totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatanodeTotals {
    pub live: u32,
    pub dead: u32,
    pub capacity: u64,
    pub used: u64,
    pub available: u64,
}

pub struct DatanodeManager {
    nodes: Mutex<HashMap<NodeId, Descriptor>>,
    dead_node_timeout: Duration,
}

impl DatanodeManager {
    /// Starts with the nodes known from the store, all dead until they register.
    pub fn new(known: Vec<(NodeId, NodeRecord)>, dead_node_timeout: Duration) -> Self {
        let nodes = known
            .into_iter()
            .map(|(id, rec)| {
                (
                    id,
                    Descriptor {
                        addr: rec.addr,
                        storage: StorageReport::default(),
                        last_seen: None,
                        registered: false,
                        dead: true,
                        active_transfers: 0,
                        deletes: BTreeSet::new(),
                        commands: VecDeque::new(),
                    },
                )
            })
            .collect();
        DatanodeManager {
            nodes: Mutex::new(nodes),
            dead_node_timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<NodeId, Descriptor>> {
        // A panic while holding this lock cannot leave the map half-changed
        // in a way that matters (every change is a field assignment), so a
        // poisoned lock is still usable.
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A node (re)registers. Returns the record to persist when the node is
    /// new or its address changed.
    pub fn register(
        &self,
        info: &DatanodeInfo,
        storage: StorageReport,
        now: Instant,
    ) -> Option<NodeRecord> {
        let mut nodes = self.lock();
        let d = nodes.entry(info.id).or_insert_with(|| Descriptor {
            addr: String::new(),
            storage,
            last_seen: None,
            registered: false,
            dead: true,
            active_transfers: 0,
            deletes: BTreeSet::new(),
            commands: VecDeque::new(),
        });
        let changed = d.addr != info.addr;
        if changed && !d.addr.is_empty() {
            log::info!(
                "datanode {} moved from {} to {}",
                info.id,
                d.addr,
                info.addr
            );
        }
        log::info!("datanode {} registered at {}", info.id, info.addr);
        d.addr = info.addr.clone();
        d.storage = storage;
        d.last_seen = Some(now);
        d.registered = true;
        d.dead = false;
        changed.then(|| NodeRecord {
            addr: info.addr.clone(),
        })
    }

    /// A heartbeat. `None` when the node must register first (unknown, or
    /// not registered since this namenode started); otherwise the commands
    /// queued for it.
    pub fn heartbeat(&self, hb: &Heartbeat, now: Instant) -> Option<Vec<Command>> {
        let mut nodes = self.lock();
        let d = nodes.get_mut(&hb.node_id).filter(|d| d.registered)?;
        if d.dead {
            log::info!("datanode {} ({}) is back", hb.node_id, d.addr);
            d.dead = false;
        }
        d.last_seen = Some(now);
        d.storage = hb.storage;
        d.active_transfers = hb.active_transfers;
        let mut commands: Vec<Command> = d.commands.drain(..).collect();
        if !d.deletes.is_empty() {
            let mut blocks = Vec::with_capacity(d.deletes.len().min(MAX_DELETES_PER_HEARTBEAT));
            while blocks.len() < MAX_DELETES_PER_HEARTBEAT {
                let Some(b) = d.deletes.pop_first() else {
                    break;
                };
                blocks.push(b);
            }
            commands.push(Command::Delete { blocks });
        }
        Some(commands)
    }

    /// True when `node` registered since this process started (reports
    /// from other nodes are answered by asking them to register).
    pub fn is_registered(&self, node: &NodeId) -> bool {
        self.lock().get(node).is_some_and(|d| d.registered)
    }

    /// Notes that a registered node was heard from (any report counts).
    pub fn touch(&self, node: &NodeId, now: Instant) {
        if let Some(d) = self.lock().get_mut(node).filter(|d| d.registered) {
            d.last_seen = Some(now);
        }
    }

    /// Queues replica deletions; unknown nodes are skipped (if one shows up
    /// later, its block report gets the same deletions).
    pub fn queue_deletes(&self, dels: &[(NodeId, BlockId)]) {
        if dels.is_empty() {
            return;
        }
        let mut nodes = self.lock();
        for (n, b) in dels {
            if let Some(d) = nodes.get_mut(n) {
                d.deletes.insert(*b);
            }
        }
    }

    /// Queues another command for `node`'s next heartbeat.
    pub fn queue_command(&self, node: &NodeId, cmd: Command) {
        if let Some(d) = self.lock().get_mut(node) {
            d.commands.push_back(cmd);
        }
    }

    /// Live nodes with their addresses and free space.
    pub fn live(&self, now: Instant) -> Vec<LiveNode> {
        let nodes = self.lock();
        let mut live: Vec<LiveNode> = nodes
            .iter()
            .filter(|(_, d)| d.is_live(now, self.dead_node_timeout))
            .map(|(id, d)| LiveNode {
                id: *id,
                addr: d.addr.clone(),
                available: d.storage.available,
            })
            .collect();
        live.sort_by_key(|n| n.id);
        live
    }

    /// Placement candidates: the live nodes.
    pub fn candidates(live: &[LiveNode]) -> Vec<Candidate> {
        live.iter()
            .map(|n| Candidate {
                id: n.id,
                available: n.available,
            })
            .collect()
    }

    /// Marks nodes silent for longer than the timeout dead; returns them.
    pub fn check_dead(&self, now: Instant) -> Vec<NodeId> {
        let mut nodes = self.lock();
        let mut newly_dead = Vec::new();
        for (id, d) in nodes.iter_mut() {
            if d.registered && !d.dead && !d.is_live(now, self.dead_node_timeout) {
                d.dead = true;
                log::warn!(
                    "datanode {id} ({}) is dead: no heartbeat for more than {:?}",
                    d.addr,
                    self.dead_node_timeout
                );
                newly_dead.push(*id);
            }
        }
        newly_dead
    }

    /// One row per known node, live first then by address.
    pub fn reports(&self, now: Instant, replicas: impl Fn(&NodeId) -> u64) -> Vec<DatanodeReport> {
        let nodes = self.lock();
        let mut rows: Vec<DatanodeReport> = nodes
            .iter()
            .map(|(id, d)| {
                let live = d.is_live(now, self.dead_node_timeout);
                DatanodeReport {
                    id: *id,
                    addr: d.addr.clone(),
                    state: if live {
                        DatanodeState::Live
                    } else {
                        DatanodeState::Dead
                    },
                    capacity: d.storage.capacity,
                    used: d.storage.used,
                    available: d.storage.available,
                    blocks: replicas(id),
                    last_heartbeat_ms: d.last_seen.map_or(u64::MAX, |t| {
                        now.saturating_duration_since(t).as_millis() as u64
                    }),
                    ..Default::default()
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.state != DatanodeState::Live, &a.addr, a.id).cmp(&(
                b.state != DatanodeState::Live,
                &b.addr,
                b.id,
            ))
        });
        rows
    }

    /// Live/dead counts and the live nodes' space.
    pub fn totals(&self, now: Instant) -> DatanodeTotals {
        let nodes = self.lock();
        let mut t = DatanodeTotals::default();
        for d in nodes.values() {
            if d.is_live(now, self.dead_node_timeout) {
                t.live += 1;
                t.capacity += d.storage.capacity;
                t.used += d.storage.used;
                t.available += d.storage.available;
            } else {
                t.dead += 1;
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: NodeId) -> DatanodeInfo {
        DatanodeInfo {
            id,
            addr: format!("http://{id}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn liveness_and_commands() {
        let known = NodeId::new();
        let dm = DatanodeManager::new(
            vec![(
                known,
                NodeRecord {
                    addr: "http://old".into(),
                },
            )],
            Duration::from_secs(2),
        );
        let storage = StorageReport {
            capacity: 100,
            used: 10,
            available: 90,
        };
        let hb = |id| Heartbeat {
            node_id: id,
            storage,
            active_transfers: 0,
        };
        let now = Instant::now();
        // Known from the store but not registered: must re-register.
        assert!(dm.heartbeat(&hb(known), now).is_none());
        assert!(dm.live(now).is_empty());
        assert_eq!(
            dm.register(&info(known), storage, now),
            Some(NodeRecord {
                addr: info(known).addr
            })
        );
        assert_eq!(
            dm.register(&info(known), storage, now),
            None,
            "same address: nothing to store"
        );
        assert_eq!(dm.live(now).len(), 1);

        let b = BlockId::new();
        dm.queue_deletes(&[(known, b), (known, b), (NodeId::new(), b)]);
        let cmds = dm.heartbeat(&hb(known), now).unwrap();
        assert_eq!(cmds, vec![Command::Delete { blocks: vec![b] }]);
        assert!(dm.heartbeat(&hb(known), now).unwrap().is_empty());

        tokio::time::advance(Duration::from_secs(3)).await;
        let later = Instant::now();
        assert!(dm.live(later).is_empty());
        assert_eq!(dm.check_dead(later), vec![known]);
        assert!(dm.check_dead(later).is_empty());
        assert_eq!(dm.totals(later).dead, 1);
        // A heartbeat brings it back.
        assert!(dm.heartbeat(&hb(known), later).is_some());
        assert_eq!(
            dm.totals(later),
            DatanodeTotals {
                live: 1,
                dead: 0,
                capacity: 100,
                used: 10,
                available: 90
            }
        );
    }
}
