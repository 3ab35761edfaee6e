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
//! - the admin state (decommissioning, decommissioned) is stored with the
//!   node's record and survives restarts;
//! - queued deletions are per node and deduplicated; at most
//!   [`MAX_DELETES_PER_HEARTBEAT`] leave with one heartbeat reply;
//! - cluster space counts each file system once, however many nodes share
//!   it ([`cluster_space`], the rules in `ClusterSummary`'s doc); a node's
//!   own figures stay its own.
use crate::placement::Candidate;
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::proto::client::{AdminState, DatanodeReport, DatanodeState};
use dfs_common::proto::datanode::{
    Command, FilesystemId, FilesystemReport, Heartbeat, StorageReport,
};
use dfs_common::proto::DatanodeInfo;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
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
    /// Stored since decommissioning exists; records written before decode
    /// through [`LegacyNodeRecord`] as `Normal`.
    pub admin: AdminState,
}

/// The first shape of [`NodeRecord`] (address only), still readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyNodeRecord {
    pub addr: String,
}

impl From<LegacyNodeRecord> for NodeRecord {
    fn from(l: LegacyNodeRecord) -> Self {
        NodeRecord {
            addr: l.addr,
            admin: AdminState::Normal,
        }
    }
}

#[derive(Debug)]
struct Descriptor {
    addr: String,
    storage: StorageReport,
    /// The file system under its blocks, from its last heartbeat.
    filesystem: Option<FilesystemReport>,
    last_seen: Option<Instant>,
    registered: bool,
    dead: bool,
    admin: AdminState,
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

/// How long a placed block that is never reported keeps its room.
const SCHEDULED_TTL: Duration = Duration::from_secs(600);

impl Descriptor {
    fn new(addr: String, admin: AdminState, last_seen: Option<Instant>) -> Self {
        Descriptor {
            addr,
            storage: StorageReport::default(),
            filesystem: None,
            last_seen,
            registered: false,
            dead: last_seen.is_none(),
            admin,
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
}

/// Cluster-wide datanode totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatanodeTotals {
    pub live: u32,
    /// Not live: silent past the timeout, or awaiting registration.
    pub dead: u32,
    /// Of `dead`: known from before this start and still in their grace.
    pub awaiting_registration: u32,
    pub decommissioning: u32,
    pub decommissioned: u32,
    /// The live nodes' space, each file system once.
    pub space: Space,
}

/// Space on a set of datanodes with each file system counted once (bytes;
/// the rules are `ClusterSummary`'s). `used + available + reserved +
/// non_dfs_used = capacity` unless blocks exceed a capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Space {
    pub capacity: u64,
    pub used: u64,
    pub available: u64,
    /// Capacity the file systems keep back from ordinary writers.
    pub reserved: u64,
    /// Capacity taken by other files.
    pub non_dfs_used: u64,
    /// File systems counted (a node that did not say is one of its own).
    pub filesystems: u32,
}

/// The nodes on one file system, summed.
#[derive(Debug, Default)]
struct FsGroup<'a> {
    capacity: u64,
    used: u64,
    available: u64,
    /// The file system as reported (the report that saw the least
    /// available space: reports arrive seconds apart while it fills).
    fs: Option<&'a FilesystemReport>,
}

impl FsGroup<'_> {
    fn add(&mut self, s: &StorageReport) {
        self.capacity = self.capacity.saturating_add(s.capacity);
        self.used = self.used.saturating_add(s.used);
        self.available = self.available.saturating_add(s.available);
    }
}

/// Sums the space of nodes given as (storage report, file system if
/// reported), counting each file system's size and free space once: per
/// file system, capacity is min(the nodes' capacities summed, its size)
/// and available is min(the nodes' available summed, its available bytes).
/// Pure, so the rules are unit-tested.
pub fn cluster_space<'a>(
    nodes: impl IntoIterator<Item = (&'a StorageReport, Option<&'a FilesystemReport>)>,
) -> Space {
    let mut shared: BTreeMap<&FilesystemId, FsGroup> = BTreeMap::new();
    let mut alone: Vec<FsGroup> = Vec::new();
    for (storage, fs) in nodes {
        match fs {
            Some(f) => {
                let g = shared.entry(&f.id).or_default();
                if g.fs.is_none_or(|seen| f.available < seen.available) {
                    g.fs = Some(f);
                }
                g.add(storage);
            }
            None => {
                let mut g = FsGroup::default();
                g.add(storage);
                alone.push(g);
            }
        }
    }
    let mut out = Space::default();
    for g in shared.into_values().chain(alone) {
        let (capacity, available, reserve) = match g.fs {
            Some(f) => (
                g.capacity.min(f.total),
                g.available.min(f.available),
                f.free.saturating_sub(f.available),
            ),
            None => (g.capacity, g.available, 0),
        };
        let rest = capacity.saturating_sub(g.used).saturating_sub(available);
        let reserved = rest.min(reserve);
        out.capacity = out.capacity.saturating_add(capacity);
        out.used = out.used.saturating_add(g.used);
        out.available = out.available.saturating_add(available);
        out.reserved = out.reserved.saturating_add(reserved);
        out.non_dfs_used = out.non_dfs_used.saturating_add(rest - reserved);
        out.filesystems += 1;
    }
    out
}

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

/// Why a node name given by an operator does not pick one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    NotFound(String),
    Ambiguous(String),
}

/// Strips what an address may carry around `host:port`.
fn normalize_addr(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .unwrap_or(s);
    s.trim_end_matches('/').to_ascii_lowercase()
}

/// Decodes `%XX` escapes (a URL given as a path segment arrives encoded).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Picks the node an operator means: a node id (full, or a unique prefix of
/// at least 4 hex digits, dashes ignored) or its address (`host:port` or the
/// advertised URL). Pure, so the rules are unit-tested.
pub fn resolve_node(query: &str, nodes: &[(NodeId, String)]) -> Result<NodeId, ResolveError> {
    let q = percent_decode(query);
    let q = q.trim();
    if q.is_empty() {
        return Err(ResolveError::NotFound("no datanode named".into()));
    }
    let as_addr = normalize_addr(q);
    let by_addr: Vec<NodeId> = nodes
        .iter()
        .filter(|(_, a)| normalize_addr(a) == as_addr)
        .map(|(id, _)| *id)
        .collect();
    if by_addr.len() == 1 {
        return Ok(by_addr[0]);
    }
    let hex: String = q
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    let is_hex = !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    let by_id: Vec<NodeId> = if is_hex && hex.len() >= 4 {
        nodes
            .iter()
            .filter(|(id, _)| id.to_string().starts_with(&hex))
            .map(|(id, _)| *id)
            .collect()
    } else {
        Vec::new()
    };
    match (by_id.len(), by_addr.len()) {
        (1, _) => Ok(by_id[0]),
        (0, 0) => Err(ResolveError::NotFound(format!(
            "no datanode has id or address {q:?} (an id prefix needs at least 4 hex digits)"
        ))),
        _ => Err(ResolveError::Ambiguous(format!(
            "{q:?} matches {} datanodes; give more of the id",
            by_id.len().max(by_addr.len())
        ))),
    }
}

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

    /// A node (re)registers. Returns the record to persist when the node is
    /// new or its address changed.
    pub fn register(
        &self,
        info: &DatanodeInfo,
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
        log::info!("datanode {} registered at {}", info.id, info.addr);
        d.addr = info.addr.clone();
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
    pub fn heartbeat(&self, hb: &Heartbeat, now: Instant) -> Option<HeartbeatOutcome> {
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
        d.scheduled
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < SCHEDULED_TTL);
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
        Some(HeartbeatOutcome {
            commands,
            came_back,
        })
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

    /// `node` reported these blocks stored: their room is in its own
    /// figures from now on.
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
            })
            .collect();
        live.sort_by_key(|n| n.id);
        live
    }

    /// Placement candidates for new blocks: the live nodes in admin state
    /// `Normal` (decommissioning nodes get no new blocks).
    pub fn candidates(live: &[LiveNode]) -> Vec<Candidate> {
        live.iter()
            .filter(|n| n.admin == AdminState::Normal)
            .map(|n| Candidate {
                id: n.id,
                available: n.available,
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

    fn record(addr: &str) -> NodeRecord {
        NodeRecord {
            addr: addr.into(),
            admin: AdminState::Normal,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn liveness_and_commands() {
        let known = NodeId::new();
        let dm = DatanodeManager::new(
            vec![(known, record("http://old"))],
            Duration::from_secs(2),
            Instant::now(),
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
            filesystem: None,
        };
        let now = Instant::now();
        // Known from the store but not registered: must re-register; its
        // replicas still count meanwhile.
        assert!(dm.heartbeat(&hb(known), now).is_none());
        assert!(dm.live(now).is_empty());
        assert_eq!(dm.view(now).class(&known), NodeClass::Presumed);
        assert_eq!(dm.totals(now).awaiting_registration, 1);
        assert_eq!(
            dm.register(&info(known), storage, now),
            Some(record(&info(known).addr))
        );
        assert_eq!(
            dm.register(&info(known), storage, now),
            None,
            "same address: nothing to store"
        );
        assert_eq!(dm.live(now).len(), 1);
        assert_eq!(dm.view(now).class(&known), NodeClass::Live);

        let b = BlockId::new();
        dm.queue_deletes(&[(known, b), (known, b), (NodeId::new(), b)]);
        let out = dm.heartbeat(&hb(known), now).unwrap();
        assert_eq!(out.commands, vec![Command::Delete { blocks: vec![b] }]);
        assert!(!out.came_back);
        assert!(dm.heartbeat(&hb(known), now).unwrap().commands.is_empty());

        tokio::time::advance(Duration::from_secs(3)).await;
        let later = Instant::now();
        assert!(dm.live(later).is_empty());
        assert_eq!(dm.check_dead(later), vec![known]);
        assert!(dm.check_dead(later).is_empty());
        assert_eq!(dm.totals(later).dead, 1);
        assert_eq!(dm.view(later).class(&known), NodeClass::Gone);
        // A heartbeat brings it back.
        assert!(dm.heartbeat(&hb(known), later).unwrap().came_back);
        assert_eq!(
            dm.totals(later),
            DatanodeTotals {
                live: 1,
                dead: 0,
                space: Space {
                    capacity: 100,
                    used: 10,
                    available: 90,
                    filesystems: 1,
                    ..Default::default()
                },
                ..Default::default()
            }
        );
    }

    const GIB: u64 = 1 << 30;

    /// A node's own report: `cap` its `--capacity` (`None`: the disk's
    /// size), as the datanode computes it.
    fn node_on(fs: &FilesystemReport, cap: Option<u64>, used: u64) -> StorageReport {
        let capacity = cap.unwrap_or(fs.total);
        StorageReport {
            capacity,
            used,
            available: capacity.saturating_sub(used).min(fs.available),
        }
    }

    fn disk(host: &str, device: u64, total: u64, free: u64, available: u64) -> FilesystemReport {
        FilesystemReport {
            id: FilesystemId {
                host: host.into(),
                device,
            },
            total,
            free,
            available,
        }
    }

    fn space(nodes: &[(StorageReport, Option<FilesystemReport>)]) -> Space {
        let s = cluster_space(nodes.iter().map(|(s, f)| (s, f.as_ref())));
        assert_eq!(
            s.used + s.available + s.reserved + s.non_dfs_used,
            s.capacity,
            "the parts add up: {s:?}"
        );
        s
    }

    #[test]
    fn a_shared_file_system_counts_once() {
        // This machine's disk as `df -B1` saw it: 252 GiB, 35.5 GiB used,
        // 55.4 GiB available (a large root reserve).
        let d = disk(
            "host-a",
            0xfd00,
            270_553_174_016,
            232_475_566_080,
            59_495_141_376,
        );
        let used = 3 * GIB / 2;
        let three: Vec<_> = (0..3)
            .map(|_| (node_on(&d, None, used), Some(d.clone())))
            .collect();
        let s = space(&three);
        assert_eq!(s.filesystems, 1);
        assert_eq!(s.capacity, d.total, "the disk once, not three times");
        assert_eq!(s.used, 3 * used, "every node's blocks count");
        assert_eq!(s.available, d.available);
        assert_eq!(s.reserved, d.free - d.available);
        assert_eq!(
            s.non_dfs_used,
            d.total - d.free - 3 * used,
            "df's Used less dfs"
        );

        // The same nodes as an older namenode (or older datanodes) saw
        // them: three disks.
        let old: Vec<_> = three.iter().map(|(st, _)| (*st, None)).collect();
        let s = space(&old);
        assert_eq!((s.filesystems, s.capacity), (3, 3 * d.total));
        assert_eq!(s.available, 3 * d.available);
    }

    #[test]
    fn capacities_below_the_disk_add_up_but_free_space_does_not() {
        let d = disk("h", 1, 252 * GIB, 200 * GIB, 190 * GIB);
        // Two nodes limited to 10 GiB on one roomy disk: 20 GiB for dfs,
        // nothing reserved or taken by others within it.
        let two = [
            (node_on(&d, Some(10 * GIB), GIB), Some(d.clone())),
            (node_on(&d, Some(10 * GIB), 0), Some(d.clone())),
        ];
        assert_eq!(
            space(&two),
            Space {
                capacity: 20 * GIB,
                used: GIB,
                available: 19 * GIB,
                reserved: 0,
                non_dfs_used: 0,
                filesystems: 1,
            }
        );
        // The disk nearly full: each node alone could take its 5 GiB, both
        // together can too, but not 5 GiB each.
        let d = disk("h", 1, 252 * GIB, 6 * GIB, 5 * GIB);
        let two = [
            (node_on(&d, Some(10 * GIB), GIB), Some(d.clone())),
            (node_on(&d, Some(10 * GIB), 0), Some(d.clone())),
        ];
        let s = space(&two);
        assert_eq!((s.capacity, s.available), (20 * GIB, 5 * GIB));
        assert_eq!((s.reserved, s.non_dfs_used), (GIB, 13 * GIB));
        // A limit above the disk's size is the disk's size.
        let s = space(&[(node_on(&d, Some(1000 * GIB), 0), Some(d.clone()))]);
        assert_eq!(s.capacity, d.total);
        // One limited node and one unlimited: the disk.
        let s = space(&[
            (node_on(&d, Some(10 * GIB), 0), Some(d.clone())),
            (node_on(&d, None, 0), Some(d.clone())),
        ]);
        assert_eq!((s.capacity, s.available), (d.total, d.available));
    }

    #[test]
    fn distinct_file_systems_and_hosts_add_up() {
        let a = disk("host-a", 1, 100, 60, 50);
        let b = disk("host-a", 2, 100, 60, 50);
        let c = disk("host-b", 1, 100, 60, 50); // same device, another machine
        let s = space(&[
            (node_on(&a, None, 10), Some(a.clone())),
            (node_on(&a, None, 10), Some(a.clone())),
            (node_on(&b, None, 10), Some(b.clone())),
            (node_on(&c, None, 10), Some(c.clone())),
            // An older datanode: on a file system of its own.
            (
                StorageReport {
                    capacity: 100,
                    used: 10,
                    available: 50,
                },
                None,
            ),
        ]);
        assert_eq!(s.filesystems, 4);
        assert_eq!(s.capacity, 400);
        assert_eq!(s.used, 50);
        assert_eq!(s.available, 200);
        assert_eq!(s.reserved, 30);
        assert_eq!(s.non_dfs_used, 20 + 30 + 30 + 40);
    }

    #[test]
    fn reports_taken_at_different_moments_use_the_least_free_space() {
        let before = disk("h", 1, 100, 50, 40);
        let after = disk("h", 1, 100, 30, 20);
        let s = space(&[
            (node_on(&before, None, 10), Some(before.clone())),
            (node_on(&after, None, 30), Some(after.clone())),
        ]);
        assert_eq!((s.capacity, s.used, s.available), (100, 40, 20));
        assert_eq!(s.reserved, 10);
        // Blocks beyond the capacity (a capacity lowered after they came):
        // nothing is left, nothing is negative.
        let s = cluster_space([(
            &StorageReport {
                capacity: 10,
                used: 15,
                available: 0,
            },
            Some(&before),
        )]);
        assert_eq!(
            (s.capacity, s.used, s.available, s.non_dfs_used),
            (10, 15, 0, 0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_carry_the_file_system_and_only_live_nodes_count() {
        let dm = DatanodeManager::new(vec![], Duration::from_secs(30), Instant::now());
        let d = disk("h", 7, 1000, 600, 500);
        let (a, b) = (NodeId::new(), NodeId::new());
        for n in [a, b] {
            dm.register(&info(n), node_on(&d, None, 0), Instant::now());
        }
        // Registered, no heartbeat yet: two file systems as far as we know.
        assert_eq!(dm.totals(Instant::now()).space.capacity, 2000);
        for n in [a, b] {
            let hb = Heartbeat {
                node_id: n,
                storage: node_on(&d, None, 100),
                active_transfers: 0,
                filesystem: Some(d.clone()),
            };
            dm.heartbeat(&hb, Instant::now()).unwrap();
        }
        let t = dm.totals(Instant::now());
        assert_eq!((t.live, t.space.filesystems), (2, 1));
        assert_eq!(
            (t.space.capacity, t.space.used, t.space.available),
            (1000, 200, 500)
        );
        let rows = dm.reports(Instant::now(), |_| (0, 0, 0));
        assert!(rows.iter().all(|r| r.filesystem.as_deref() == Some("h:7")));
        assert!(
            rows.iter().all(|r| r.capacity == 1000),
            "per node stays per node"
        );
        // One goes silent: the other still has the disk.
        tokio::time::advance(Duration::from_secs(20)).await;
        let hb = Heartbeat {
            node_id: a,
            storage: node_on(&d, None, 100),
            active_transfers: 0,
            filesystem: Some(d.clone()),
        };
        dm.heartbeat(&hb, Instant::now()).unwrap();
        tokio::time::advance(Duration::from_secs(15)).await;
        let t = dm.totals(Instant::now());
        assert_eq!((t.live, t.dead), (1, 1));
        assert_eq!((t.space.capacity, t.space.used), (1000, 100));
    }

    #[tokio::test(start_paused = true)]
    async fn nodes_from_before_a_restart_get_one_timeout_to_register() {
        let (a, b) = (NodeId::new(), NodeId::new());
        let dm = DatanodeManager::new(
            vec![(a, record("http://a:1")), (b, record("http://b:1"))],
            Duration::from_secs(30),
            Instant::now(),
        );
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(dm.check_dead(Instant::now()).is_empty(), "not dead yet");
        dm.register(&info(a), StorageReport::default(), Instant::now());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(dm.check_dead(Instant::now()), vec![b]);
        let v = dm.view(Instant::now());
        assert_eq!(v.class(&a), NodeClass::Live);
        assert_eq!(v.class(&b), NodeClass::Gone);
    }

    #[tokio::test(start_paused = true)]
    async fn admin_state_excludes_from_placement() {
        let a = NodeId::new();
        let dm = DatanodeManager::new(vec![], Duration::from_secs(30), Instant::now());
        let st = StorageReport {
            capacity: 10,
            used: 0,
            available: 10,
        };
        dm.register(&info(a), st, Instant::now());
        assert_eq!(
            DatanodeManager::candidates(&dm.live(Instant::now())).len(),
            1
        );
        let rec = dm.set_admin(&a, AdminState::Decommissioning).unwrap();
        assert_eq!(rec.admin, AdminState::Decommissioning);
        assert!(dm.set_admin(&a, AdminState::Decommissioning).is_none());
        let live = dm.live(Instant::now());
        assert_eq!(live.len(), 1, "still live, still serves reads");
        assert!(DatanodeManager::candidates(&live).is_empty());
        assert_eq!(dm.view(Instant::now()).class(&a), NodeClass::LiveRetiring);
        assert!(dm.view(Instant::now()).targets().is_empty());
        assert_eq!(dm.totals(Instant::now()).decommissioning, 1);
    }

    #[test]
    fn legacy_records_still_decode() {
        let old = dfs_common::codec::encode(&LegacyNodeRecord {
            addr: "http://x:1".into(),
        })
        .unwrap();
        assert!(dfs_common::codec::decode::<NodeRecord>(&old).is_err());
        let l: LegacyNodeRecord = dfs_common::codec::decode(&old).unwrap();
        assert_eq!(NodeRecord::from(l), record("http://x:1"));
    }

    #[test]
    fn operators_name_nodes_by_id_prefix_or_address() {
        let a: NodeId = "a1b2c3d4-0000-4000-8000-000000000001".parse().unwrap();
        let b: NodeId = "a1b2ffff-0000-4000-8000-000000000002".parse().unwrap();
        let nodes = vec![
            (a, "http://127.0.0.1:9864".to_string()),
            (b, "http://127.0.0.1:9865".to_string()),
        ];
        let r = |q: &str| resolve_node(q, &nodes);
        assert_eq!(r("a1b2c3d4-0000-4000-8000-000000000001"), Ok(a));
        assert_eq!(r("a1b2c3d400004000"), Ok(a));
        assert_eq!(r("a1b2-c3"), Ok(a), "dashes ignored");
        assert_eq!(r("A1B2F"), Ok(b));
        assert!(matches!(r("a1b2"), Err(ResolveError::Ambiguous(_))));
        assert!(
            matches!(r("a1b"), Err(ResolveError::NotFound(_))),
            "too short"
        );
        assert!(matches!(r("beef"), Err(ResolveError::NotFound(_))));
        assert!(matches!(r(""), Err(ResolveError::NotFound(_))));
        assert_eq!(r("127.0.0.1:9865"), Ok(b));
        assert_eq!(r("http://127.0.0.1:9865"), Ok(b));
        assert_eq!(r("http://127.0.0.1:9865/"), Ok(b));
        assert_eq!(r("http%3A%2F%2F127.0.0.1%3A9864"), Ok(a));
        assert!(matches!(r("127.0.0.1:1"), Err(ResolveError::NotFound(_))));
    }
}
