//! `DatanodeManager`: the registry of datanodes (HDFS DatanodeManager): who
//! exists, where they are reached, how full they are, whether they are live,
//! what an operator asked of them (admin state), and the work queued for
//! each until its next heartbeat.
//!
//! What it does not do: know about blocks (the namespace's block map counts
//! replicas), persist anything itself (changes return the record to store),
//! or call a datanode (commands ride on heartbeat replies).
//!
//! Invariants:
//! - a node is *live* when it registered since this process started, is not
//!   marked dead, and was heard from within `dead_node_timeout`; only live
//!   nodes are handed to readers or used as copy sources, and only live
//!   nodes in admin state `Normal` get new blocks;
//! - a node known only from the store (it registered before a restart) is
//!   *awaiting registration*: treated as last seen when this process
//!   started, so it has one `dead_node_timeout` to register before it is
//!   dead. Meanwhile its recorded replicas still count (no re-replication
//!   storm for nodes that simply have not reported yet), but it serves no
//!   reads; its heartbeats are answered with `Reregister` so its full block
//!   report reconciles the block map;
//! - the admin state (decommissioning, decommissioned) and maintenance (an
//!   operator's "this node is being rebooted", until ended or until a
//!   wall-clock time) are replicated state (`Command::SetAdminState`,
//!   `Command::SetMaintenance`): every namenode mirrors each applied change
//!   here ([`DatanodeManager::set_admin`],
//!   [`DatanodeManager::mirror_maintenance`]) and adopts them all again
//!   with a snapshot ([`DatanodeManager::adopt`]), so they survive restarts
//!   and a change of leader. A node in maintenance gets no new
//!   blocks; while it is silent and its maintenance has not run out it is
//!   [`NodeClass::Maintenance`] rather than gone (see `health` for how its
//!   replicas count); the moment maintenance ends or runs out, a silent
//!   node is gone as any dead node;
//! - queued deletions are per node and deduplicated; at most
//!   [`MAX_DELETES_PER_HEARTBEAT`] leave with one heartbeat reply;
//! - cluster space counts each file system once, however many nodes share
//!   it ([`cluster_space`], the rules in `ClusterSummary`'s doc); a node's
//!   own figures stay its own.
use crate::placement::{Candidate, RackId};
pub use crate::records::{LegacyNodeRecord, Maintenance, NodeRecord};
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::proto::client::{AdminState, DatanodeReport, DatanodeState};
use dfs_common::proto::datanode::{
    Command, DiskState, FilesystemId, FilesystemReport, Heartbeat, StorageReport, DEFAULT_RACK,
};
use dfs_common::proto::DatanodeInfo;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Block deletions sent with one heartbeat reply (HDFS
/// `dfs.block.invalidate.limit` is 1000 too).
pub const MAX_DELETES_PER_HEARTBEAT: usize = 1000;

#[derive(Debug)]
struct Descriptor {
    addr: String,
    /// Its rack, as it said when it last registered (the default rack
    /// until then: racks are not stored, every registration brings it).
    rack: String,
    rack_id: RackId,
    /// Its Hadoop data transfer port, as it said when it last registered.
    hadoop_port: Option<u16>,
    storage: StorageReport,
    /// The file system under its blocks, from its last heartbeat.
    filesystem: Option<FilesystemReport>,
    /// Its data dirs (disks), from its last heartbeat that named them.
    disks: Vec<dfs_common::proto::datanode::DiskReport>,
    last_seen: Option<Instant>,
    registered: bool,
    dead: bool,
    admin: AdminState,
    /// In maintenance: `Some(None)` until an operator ends it,
    /// `Some(Some(t))` until `t`. Mirrors the replicated state.
    maintenance: Option<Option<Instant>>,
    active_transfers: u32,
    deletes: BTreeSet<BlockId>,
    commands: VecDeque<Command>,
    /// Blocks placed here and not reported received yet, with the room each
    /// was given and when (HDFS's "blocks scheduled"): counted as taken so
    /// that a burst of allocations does not pile onto a node that can hold
    /// only some of them. Kept until the block is reported, or
    /// [`SCHEDULED_TTL`] (an upload that was abandoned).
    scheduled: HashMap<BlockId, (u64, Instant)>,
}

/// Maintenance as this registry holds it: `None` until ended, else the
/// instant it runs out (`now` when that time is past).
fn maintenance_until(m: Maintenance, now: Instant, now_ms: u64) -> Option<Instant> {
    match m {
        Maintenance::UntilEnded => None,
        Maintenance::Until(ms) => Some(
            now.checked_add(Duration::from_millis(ms.saturating_sub(now_ms)))
                .unwrap_or(now),
        ),
    }
}

/// How long a placed block that is never reported keeps its room.
const SCHEDULED_TTL: Duration = Duration::from_secs(600);

impl Descriptor {
    fn new(addr: String, admin: AdminState, last_seen: Option<Instant>) -> Self {
        Descriptor {
            addr,
            rack: DEFAULT_RACK.to_string(),
            rack_id: RackId::of(DEFAULT_RACK),
            hadoop_port: None,
            storage: StorageReport::default(),
            filesystem: None,
            disks: Vec::new(),
            last_seen,
            registered: false,
            dead: last_seen.is_none(),
            admin,
            maintenance: None,
            active_transfers: 0,
            deletes: BTreeSet::new(),
            commands: VecDeque::new(),
            scheduled: HashMap::new(),
        }
    }

    /// Free space for new blocks: the node's last figure less what is
    /// scheduled to arrive.
    fn placeable(&self) -> u64 {
        let scheduled: u64 = self.scheduled.values().map(|(b, _)| b).sum();
        self.storage.available.saturating_sub(scheduled)
    }

    fn recent(&self, now: Instant, timeout: Duration) -> bool {
        self.last_seen
            .is_some_and(|t| now.saturating_duration_since(t) <= timeout)
    }

    fn is_live(&self, now: Instant, timeout: Duration) -> bool {
        self.registered && !self.dead && self.recent(now, timeout)
    }

    /// Known from before this start, not registered yet, still in its grace.
    fn is_awaiting(&self, now: Instant, timeout: Duration) -> bool {
        !self.registered && !self.dead && self.recent(now, timeout)
    }

    /// In maintenance at `now` (set, and not run out).
    fn in_maintenance(&self, now: Instant) -> bool {
        match self.maintenance {
            None => false,
            Some(None) => true,
            Some(Some(until)) => now < until,
        }
    }

    fn record(&self) -> NodeRecord {
        NodeRecord {
            addr: self.addr.clone(),
            admin: self.admin,
        }
    }
}

/// A live node as placement and readers need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNode {
    pub id: NodeId,
    pub addr: String,
    pub available: u64,
    pub admin: AdminState,
    pub rack: RackId,
    /// In maintenance: serves, takes no new blocks.
    pub maintenance: bool,
}

mod resolve;
mod space;
#[cfg(test)]
mod tests;
mod view;

pub use resolve::{resolve_node, ResolveError};
pub use space::{cluster_space, DatanodeTotals, Space};
pub use view::{NodeClass, NodeSnap, NodeView};

/// What a heartbeat from a registered node yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatOutcome {
    pub commands: Vec<Command>,
    /// It had been marked dead and is back: its replicas count again.
    pub came_back: bool,
}

pub struct DatanodeManager {
    nodes: Mutex<HashMap<NodeId, Descriptor>>,
    dead_node_timeout: Duration,
}

impl DatanodeManager {
    /// Starts with the nodes known from the store, each treated as last
    /// seen at `started`: awaiting registration for one dead-node timeout.
    pub fn new(
        known: Vec<(NodeId, NodeRecord)>,
        dead_node_timeout: Duration,
        started: Instant,
    ) -> Self {
        let nodes = known
            .into_iter()
            .map(|(id, rec)| (id, Descriptor::new(rec.addr, rec.admin, Some(started))))
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

    /// A node (re)registers, on `rack` (a valid name), serving Hadoop's
    /// data transfer protocol on `hadoop_port` if any. Returns the record
    /// to persist when the node is new or its address changed.
    pub fn register(
        &self,
        info: &DatanodeInfo,
        rack: &str,
        hadoop_port: Option<u16>,
        storage: StorageReport,
        now: Instant,
    ) -> Option<NodeRecord> {
        let mut nodes = self.lock();
        let d = nodes
            .entry(info.id)
            .or_insert_with(|| Descriptor::new(String::new(), AdminState::Normal, None));
        let changed = d.addr != info.addr;
        if changed && !d.addr.is_empty() {
            log::info!(
                "datanode {} moved from {} to {}",
                info.id,
                d.addr,
                info.addr
            );
        }
        log::info!(
            "datanode {} registered at {} on rack {rack}",
            info.id,
            info.addr
        );
        if d.rack != rack {
            d.rack = rack.to_string();
            d.rack_id = RackId::of(rack);
        }
        d.addr = info.addr.clone();
        d.hadoop_port = hadoop_port;
        d.storage = storage;
        d.last_seen = Some(now);
        d.registered = true;
        d.dead = false;
        changed.then(|| d.record())
    }

    /// The record `register` would store for `info`: `Some` when the node
    /// is new or its address changed (so it can go in the same transaction
    /// as the node's block report, before the node is marked live).
    pub fn record_for(&self, info: &DatanodeInfo) -> Option<NodeRecord> {
        match self.lock().get(&info.id) {
            None => Some(NodeRecord {
                addr: info.addr.clone(),
                admin: AdminState::Normal,
            }),
            Some(d) if d.addr != info.addr => Some(NodeRecord {
                addr: info.addr.clone(),
                admin: d.admin,
            }),
            Some(_) => None,
        }
    }

    /// A heartbeat. `None` when the node must register first (unknown, or
    /// not registered since this namenode started); otherwise the commands
    /// queued for it.
    /// A heartbeat: the node's figures, and its commands if `leader` (a
    /// namenode that does not lead keeps the deletions queued and drops the
    /// copies: its replication monitor's work is the leader's to hand out).
    pub fn heartbeat(
        &self,
        hb: &Heartbeat,
        now: Instant,
        leader: bool,
    ) -> Option<HeartbeatOutcome> {
        let mut nodes = self.lock();
        let d = nodes.get_mut(&hb.node_id).filter(|d| d.registered)?;
        let came_back = d.dead || !d.recent(now, self.dead_node_timeout);
        if d.dead {
            log::info!("datanode {} ({}) is back", hb.node_id, d.addr);
            d.dead = false;
        }
        d.last_seen = Some(now);
        d.storage = hb.storage;
        d.filesystem = hb.filesystem.clone();
        d.disks = hb.disks.clone().unwrap_or_default();
        d.scheduled
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < SCHEDULED_TTL);
        d.active_transfers = hb.active_transfers;
        let mut commands: Vec<Command> = d.commands.drain(..).collect();
        if !leader {
            commands.clear();
        } else if !d.deletes.is_empty() {
            let mut blocks = Vec::with_capacity(d.deletes.len().min(MAX_DELETES_PER_HEARTBEAT));
            while blocks.len() < MAX_DELETES_PER_HEARTBEAT {
                let Some(b) = d.deletes.pop_first() else {
                    break;
                };
                blocks.push(b);
            }
            commands.push(Command::Delete { blocks });
        }
        Some(HeartbeatOutcome {
            commands,
            came_back,
        })
    }

    /// Where `node` serves Hadoop's data transfer protocol: its advertised
    /// URL and the port (`None`: unknown, or it does not).
    pub fn hadoop_endpoint(&self, node: &NodeId) -> Option<(String, u16, String)> {
        let nodes = self.lock();
        let d = nodes.get(node)?;
        Some((d.addr.clone(), d.hadoop_port?, d.rack.clone()))
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
            d.dead = false;
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

    /// Counts `bytes` as no longer available on each of `nodes` (`block`
    /// was placed there), until the node reports it ([`Self::received`]).
    pub fn reserve(&self, nodes: &[NodeId], block: BlockId, bytes: u64, now: Instant) {
        let mut all = self.lock();
        for n in nodes {
            if let Some(d) = all.get_mut(n) {
                d.scheduled.insert(block, (bytes, now));
            }
        }
    }

    /// `node` reported these blocks stored (their room is in its own
    /// figures from now on), or gone or bad (they will not arrive).
    pub fn received(&self, node: &NodeId, blocks: impl IntoIterator<Item = BlockId>) {
        if let Some(d) = self.lock().get_mut(node) {
            for b in blocks {
                d.scheduled.remove(&b);
            }
        }
    }

    /// Queues another command for `node`'s next heartbeat.
    pub fn queue_command(&self, node: &NodeId, cmd: Command) {
        if let Some(d) = self.lock().get_mut(node) {
            d.commands.push_back(cmd);
        }
    }

    /// Whether a node known from before this start has not registered
    /// again yet and is still in its grace.
    pub fn any_awaiting(&self, now: Instant) -> bool {
        self.lock()
            .values()
            .any(|d| d.is_awaiting(now, self.dead_node_timeout))
    }

    /// Live nodes with their addresses, free space and admin state.
    pub fn live(&self, now: Instant) -> Vec<LiveNode> {
        let nodes = self.lock();
        let mut live: Vec<LiveNode> = nodes
            .iter()
            .filter(|(_, d)| d.is_live(now, self.dead_node_timeout))
            .map(|(id, d)| LiveNode {
                id: *id,
                addr: d.addr.clone(),
                available: d.placeable(),
                admin: d.admin,
                rack: d.rack_id,
                maintenance: d.in_maintenance(now),
            })
            .collect();
        live.sort_by_key(|n| n.id);
        live
    }

    /// Placement candidates for new blocks: the live nodes in admin state
    /// `Normal` and not in maintenance (decommissioning nodes and nodes
    /// about to be rebooted get no new blocks).
    pub fn candidates(live: &[LiveNode]) -> Vec<Candidate> {
        live.iter()
            .filter(|n| n.admin == AdminState::Normal && !n.maintenance)
            .map(|n| Candidate {
                id: n.id,
                available: n.available,
                rack: n.rack,
            })
            .collect()
    }

    /// Every node's standing now.
    pub fn view(&self, now: Instant) -> NodeView {
        let nodes = self.lock();
        let t = self.dead_node_timeout;
        NodeView {
            nodes: nodes
                .iter()
                .map(|(id, d)| {
                    let normal = d.admin == AdminState::Normal;
                    let maintenance = d.in_maintenance(now);
                    let class = if d.is_live(now, t) {
                        if normal {
                            NodeClass::Live
                        } else {
                            NodeClass::LiveRetiring
                        }
                    } else if d.is_awaiting(now, t) {
                        if normal {
                            NodeClass::Presumed
                        } else {
                            NodeClass::PresumedRetiring
                        }
                    } else if maintenance && normal && d.registered {
                        NodeClass::Maintenance
                    } else {
                        NodeClass::Gone
                    };
                    (
                        *id,
                        NodeSnap {
                            addr: d.addr.clone(),
                            class,
                            registered: d.registered,
                            admin: d.admin,
                            available: d.placeable(),
                            rack: d.rack_id,
                            maintenance,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Marks nodes silent for longer than the timeout dead (registered or
    /// still awaiting registration after a restart); returns them.
    pub fn check_dead(&self, now: Instant) -> Vec<NodeId> {
        let mut nodes = self.lock();
        let mut newly_dead = Vec::new();
        for (id, d) in nodes.iter_mut() {
            if !d.dead && !d.recent(now, self.dead_node_timeout) {
                d.dead = true;
                if d.registered {
                    log::warn!(
                        "datanode {id} ({}) is dead: no heartbeat for more than {:?}",
                        d.addr,
                        self.dead_node_timeout
                    );
                } else {
                    log::warn!(
                        "datanode {id} ({}) is dead: it did not register within {:?} of the namenode's start",
                        d.addr,
                        self.dead_node_timeout
                    );
                }
                newly_dead.push(*id);
            }
        }
        newly_dead
    }

    /// Ids and addresses of every known node (operator lookups).
    pub fn directory(&self) -> Vec<(NodeId, String)> {
        let mut v: Vec<(NodeId, String)> = self
            .lock()
            .iter()
            .map(|(id, d)| (*id, d.addr.clone()))
            .collect();
        v.sort();
        v
    }

    pub fn admin_state(&self, node: &NodeId) -> Option<AdminState> {
        self.lock().get(node).map(|d| d.admin)
    }

    /// Sets a node's admin state; returns the record to persist when it
    /// changed.
    pub fn set_admin(&self, node: &NodeId, admin: AdminState) -> Option<NodeRecord> {
        let mut nodes = self.lock();
        let d = nodes.get_mut(node)?;
        if d.admin == admin {
            return None;
        }
        log::info!(
            "datanode {node} ({}): admin state {:?} -> {:?}",
            d.addr,
            d.admin,
            admin
        );
        d.admin = admin;
        Some(d.record())
    }

    /// Mirrors an applied `SetMaintenance` (`now`/`now_ms`: the same moment
    /// on both clocks; a time already past is maintenance that has run
    /// out, cleared by the next [`DatanodeManager::expire_maintenance`]).
    /// A node unknown here is skipped.
    pub fn mirror_maintenance(
        &self,
        node: &NodeId,
        m: Option<Maintenance>,
        now: Instant,
        now_ms: u64,
    ) {
        match m {
            Some(m) => {
                self.enter_maintenance(node, maintenance_until(m, now, now_ms));
            }
            None => {
                self.end_maintenance(node);
            }
        }
    }

    /// Takes the replicated records as a whole (at startup, and when a
    /// snapshot replaced the state): each node's address if it had none,
    /// its admin state and its maintenance. A node new to this registry is
    /// awaiting registration from `now`, as at startup.
    pub fn adopt(
        &self,
        records: &BTreeMap<NodeId, NodeRecord>,
        maintenance: &BTreeMap<NodeId, Maintenance>,
        now: Instant,
        now_ms: u64,
    ) {
        let mut nodes = self.lock();
        for (id, rec) in records {
            let d = nodes
                .entry(*id)
                .or_insert_with(|| Descriptor::new(rec.addr.clone(), rec.admin, Some(now)));
            if d.addr.is_empty() {
                d.addr = rec.addr.clone();
            }
            if d.admin != rec.admin {
                log::info!(
                    "datanode {id} ({}): admin state {:?} -> {:?}",
                    d.addr,
                    d.admin,
                    rec.admin
                );
                d.admin = rec.admin;
            }
            let m = maintenance
                .get(id)
                .map(|m| maintenance_until(*m, now, now_ms));
            if d.maintenance.is_some() != m.is_some() {
                log::info!(
                    "datanode {id} ({}): {} maintenance",
                    d.addr,
                    if m.is_some() { "in" } else { "out of" }
                );
            }
            d.maintenance = m;
        }
    }

    /// Puts `node` into maintenance until `until` (`None`: until ended),
    /// or changes when it ends. `false` when the node is unknown.
    pub fn enter_maintenance(&self, node: &NodeId, until: Option<Instant>) -> bool {
        let mut nodes = self.lock();
        let Some(d) = nodes.get_mut(node) else {
            return false;
        };
        log::info!(
            "datanode {node} ({}) in maintenance {}",
            d.addr,
            match until {
                None => "until ended".to_string(),
                Some(t) => format!("for {:?}", t.saturating_duration_since(Instant::now())),
            }
        );
        d.maintenance = Some(until);
        true
    }

    /// Ends `node`'s maintenance; `true` when it was in maintenance (set,
    /// run out or not).
    pub fn end_maintenance(&self, node: &NodeId) -> bool {
        let mut nodes = self.lock();
        let Some(d) = nodes.get_mut(node) else {
            return false;
        };
        let was = d.maintenance.take().is_some();
        if was {
            log::info!("datanode {node} ({}): maintenance ended", d.addr);
        }
        was
    }

    /// Clears maintenance that has run out by `now`; returns those nodes
    /// (a silent one is dead from now on: its blocks need a look).
    pub fn expire_maintenance(&self, now: Instant) -> Vec<NodeId> {
        let mut nodes = self.lock();
        let mut out = Vec::new();
        for (id, d) in nodes.iter_mut() {
            if d.maintenance.is_some() && !d.in_maintenance(now) {
                d.maintenance = None;
                log::info!("datanode {id} ({}): maintenance ran out", d.addr);
                out.push(*id);
            }
        }
        out
    }

    /// One row per known node, live first then by address. `extra` fills
    /// the per-node numbers other parts know: (replicas recorded,
    /// decommission blocks remaining, copies in flight).
    pub fn reports(
        &self,
        now: Instant,
        extra: impl Fn(&NodeId) -> (u64, u64, u32),
    ) -> Vec<DatanodeReport> {
        let nodes = self.lock();
        let mut rows: Vec<DatanodeReport> = nodes
            .iter()
            .map(|(id, d)| {
                let live = d.is_live(now, self.dead_node_timeout);
                let (blocks, remaining, in_flight) = extra(id);
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
                    blocks,
                    last_heartbeat_ms: d.last_seen.map_or(u64::MAX, |t| {
                        now.saturating_duration_since(t).as_millis() as u64
                    }),
                    admin_state: d.admin,
                    decommission_remaining_blocks: if d.admin == AdminState::Decommissioning {
                        remaining
                    } else {
                        0
                    },
                    replication_in_flight: in_flight,
                    filesystem: d.filesystem.as_ref().map(|f| f.id.to_string()),
                    disks: d.disks.clone(),
                    rack: d.rack.clone(),
                    in_maintenance: d.in_maintenance(now),
                    maintenance_ends_in_ms: match d.maintenance {
                        Some(Some(until)) if d.in_maintenance(now) => {
                            Some(until.saturating_duration_since(now).as_millis() as u64)
                        }
                        _ => None,
                    },
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

    /// Live/dead/admin counts and the live nodes' space (each file system
    /// once).
    pub fn totals(&self, now: Instant) -> DatanodeTotals {
        let nodes = self.lock();
        let mut t = DatanodeTotals::default();
        let live = |d: &&Descriptor| d.is_live(now, self.dead_node_timeout);
        t.space = cluster_space(
            nodes
                .values()
                .filter(live)
                .map(|d| (&d.storage, d.filesystem.as_ref())),
        );
        for d in nodes.values() {
            if live(&d) {
                t.live += 1;
                t.failed_disks += d
                    .disks
                    .iter()
                    .filter(|k| k.state == DiskState::Failed)
                    .count() as u64;
            } else {
                t.dead += 1;
                if d.is_awaiting(now, self.dead_node_timeout) {
                    t.awaiting_registration += 1;
                }
            }
            match d.admin {
                AdminState::Normal => {}
                AdminState::Decommissioning => t.decommissioning += 1,
                AdminState::Decommissioned => t.decommissioned += 1,
            }
            if d.in_maintenance(now) {
                t.in_maintenance += 1;
            }
        }
        t
    }
}
