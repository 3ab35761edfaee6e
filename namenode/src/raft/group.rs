//! The running Raft group of one namenode: who it is, its timings, the
//! start (forming the group on a pristine log), and the door through which
//! the namesystem's commands enter the log ([`Group`] is its `Proposer`).
//!
//! Identity: a namenode's Raft id is derived from its advertised URL (the
//! first 8 bytes of its SHA-256), so every namenode computes the same ids
//! from the same `--peers` list without talking; it is written to
//! `<data-dir>/raft/node-id` at the first start and kept from then on, so
//! a namenode that moves to another address stays the same member.
use super::log_store::{self, LogStore};
use super::network::Network;
use super::state_machine::StateMachine;
use super::{Applied, Raft};
use crate::commands::Entry;
use crate::error::{NamenodeError, Result};
use crate::namesystem::{Namesystem, Proposer};
use dfs_common::proto::datanode::Leadership;
use openraft::error::{ClientWriteError, RaftError};
use openraft::storage::RaftLogStorage;
use openraft::{BasicNode, ServerState};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const NODE_ID_FILE: &str = "node-id";

/// The Raft id of the namenode at `url`.
pub fn id_of(url: &str) -> u64 {
    let d = sha2::Sha256::digest(url.trim_end_matches('/').as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// This namenode's id: kept in the data dir, or made from `url` (and
/// kept) at the first start.
fn own_id(data_dir: &Path, url: &str) -> Result<u64> {
    let dir = data_dir.join(log_store::DIR);
    let path = dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => s.trim().parse().map_err(|e| {
            NamenodeError::Internal(format!(
                "{} does not hold a node id ({e}): it was damaged or written by hand",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = id_of(url);
            let write = || -> std::io::Result<()> {
                std::fs::create_dir_all(&dir)?;
                let tmp = dir.join(".node-id.tmp");
                std::fs::write(&tmp, format!("{id}\n"))?;
                std::fs::File::open(&tmp)?.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                std::fs::File::open(&dir)?.sync_all()
            };
            write().map_err(|e| {
                NamenodeError::Internal(format!("cannot write {}: {e}", path.display()))
            })?;
            Ok(id)
        }
        Err(e) => Err(NamenodeError::Internal(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Timings of the group (milliseconds) and its snapshot cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// A snapshot is built after this many entries; a fifth of that is
    /// kept behind it, so a follower a little behind catches up from the
    /// log rather than by a whole snapshot.
    pub snapshot_every: u64,
}
/// How long a follower may take to store one snapshot chunk.
const SNAPSHOT_CHUNK_TIMEOUT: Duration = Duration::from_secs(30);

fn raft_config(t: Timings) -> Result<openraft::Config> {
    openraft::Config {
        cluster_name: "dfs-namenodes".into(),
        heartbeat_interval: t.heartbeat_ms,
        election_timeout_min: t.election_min_ms,
        election_timeout_max: t.election_max_ms,
        install_snapshot_timeout: SNAPSHOT_CHUNK_TIMEOUT.as_millis() as u64,
        max_in_snapshot_log_to_keep: t.snapshot_every / 5,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(t.snapshot_every),
        ..Default::default()
    }
    .validate()
    .map_err(|e| NamenodeError::Internal(format!("raft configuration: {e}")))
}

/// This namenode's member of the group.
pub struct Group {
    raft: Raft,
    id: u64,
    /// The URL this namenode advertises.
    url: String,
    network: Network,
    /// How long after a quorum confirmed it a leader still counts itself
    /// leader without asking again (half the shortest election timeout:
    /// the others elect no one sooner after hearing from it).
    lease: Duration,
    /// When this namenode last asked a quorum and was confirmed leader
    /// (the time it asked: the confirmation came later). Only its own
    /// checks count: openraft's metrics give the age of the last
    /// acknowledgement as of when they were reported, which a frozen
    /// process reads late and would take for fresh (a stale read after
    /// SIGCONT, caught by `ha.rs`).
    acked: std::sync::Mutex<Option<std::time::Instant>>,
    /// Commands waiting for the next Raft entry (see `spawn_batcher`).
    batches: BatchQueue,
    /// A group of one voter: its leader needs nobody's word, and its log
    /// appends inline (`LogStore::inline_switch`). Follows the membership
    /// (`watch_server`): a namenode alone may be joined.
    alone: Arc<std::sync::atomic::AtomicBool>,
    /// The longest election timeout.
    election_max: Duration,
}

impl Group {
    /// Starts the group member of `ns`, reachable at `url`; `peers` are
    /// every namenode's URL (this one's among them), empty for a group of
    /// one. On a pristine log the group is formed with `peers` as its
    /// voters (every member may do it: the same configuration twice is
    /// harmless). With `join`, a pristine member forms nothing: it waits
    /// for a leader to add it (`dfs namenode add`), and refuses a data dir
    /// that holds a namespace of its own (the snapshot it gets would
    /// replace it). A group of one is ready when this returns (leader,
    /// with everything its log holds applied).
    pub async fn start(
        ns: Arc<Namesystem>,
        url: &str,
        peers: &[String],
        join: bool,
        timings: Timings,
        credential: Option<String>,
    ) -> Result<Arc<Group>> {
        let data_dir = ns.config().data_dir.clone();
        let id = own_id(&data_dir, url)?;
        let mut voters: BTreeMap<u64, BasicNode> = peers
            .iter()
            .map(|p| (id_of(p), BasicNode::new(p.trim_end_matches('/'))))
            .collect();
        if voters.is_empty() {
            voters.insert(id, BasicNode::new(url.trim_end_matches('/')));
        } else if !voters.contains_key(&id) {
            return Err(NamenodeError::InvalidArgument(format!(
                "this namenode ({url}, raft id {id}) is not in --peers: give every namenode the same list, with this one's --advertise URL in it"
            )));
        }
        let mut log = tokio::task::spawn_blocking(move || LogStore::open(&data_dir))
            .await
            .map_err(|e| NamenodeError::Internal(format!("opening the raft log: {e}")))??;
        let alone_switch = log.inline_switch();
        let state = log
            .get_log_state()
            .await
            .map_err(|e| NamenodeError::Internal(e.to_string()))?;
        let sm =
            StateMachine::open(ns.clone()).map_err(|e| NamenodeError::Internal(e.to_string()))?;
        let network = Network::new(credential)
            .map_err(|e| NamenodeError::Internal(format!("raft network: {e}")))?;
        let config = Arc::new(raft_config(timings)?);
        let raft = Raft::new(id, config, network.clone(), log, sm)
            .await
            .map_err(|e| NamenodeError::Internal(format!("starting raft: {e}")))?;
        let pristine = state.last_log_id.is_none() && ns.raft_position()?.is_none();
        if pristine && join {
            if let Some(what) = ns.holdings()? {
                let _ = raft.shutdown().await;
                return Err(NamenodeError::InvalidArgument(format!(
                    "--join: {} holds a namespace of its own ({what}); a namenode joins on an empty data dir, and the group's snapshot would replace it. Move it away, or start without --join to serve it",
                    ns.config().data_dir.display()
                )));
            }
            log::info!(
                "waiting to be added to a namenode group: run `dfs namenode add {url}` against it"
            );
        } else if join && !pristine {
            log::info!("--join has no effect: this namenode is a member of a group already");
        } else if pristine {
            if voters.len() > 1 {
                // The others start empty: forming a group of several from
                // here would leave them without this namespace (it is in
                // no log), and a leader among them would serve an empty
                // one and take every replica for an orphan.
                if let Some(what) = ns.holdings()? {
                    let _ = raft.shutdown().await;
                    return Err(NamenodeError::InvalidArgument(format!(
                        "--peers: {} holds a namespace ({what}) but no Raft log (restored from a checkpoint, or from a version before namenode groups); a group of several forms only from empty namenodes. Start this one without --peers (a group of one, with this namespace), then add the others: start each with --join and run `dfs namenode add URL`",
                        ns.config().data_dir.display()
                    )));
                }
            }
            log::info!(
                "forming the namenode group: {}",
                voters
                    .iter()
                    .map(|(id, n)| format!("{id} at {}", n.addr))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Err(e) = raft.initialize(voters.clone()).await {
                // Another member formed it first (or it was formed before
                // a crash): its log reaches this one.
                log::info!("not forming the group: {e}");
            }
        }
        // Alone: the log's own membership (not `--peers`, which a restart
        // may have lost) has this namenode as its one voter.
        let alone = if pristine {
            !join && voters.len() == 1
        } else {
            // (The metrics show the membership once the core has read it.)
            let m = raft
                .wait(Some(Duration::from_secs(10)))
                .metrics(
                    |m| {
                        m.membership_config
                            .membership()
                            .voter_ids()
                            .next()
                            .is_some()
                    },
                    "the group's membership read",
                )
                .await
                .map_err(|e| NamenodeError::Internal(format!("starting raft: {e}")))?;
            let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
            voters == [id]
        };
        if alone && voters.len() > 1 {
            log::warn!(
                "--peers names {} namenodes, but this namenode's log has it alone in its group; adding namenodes is not built yet",
                voters.len()
            );
        }
        let (batches, queued) = tokio::sync::mpsc::unbounded_channel();
        Group::spawn_batcher(raft.clone(), id, queued);
        let group = Arc::new(Group {
            batches,
            raft,
            id,
            url: url.trim_end_matches('/').to_string(),
            network,
            lease: Duration::from_millis(timings.election_min_ms / 2),
            acked: std::sync::Mutex::new(None),
            alone: {
                alone_switch.store(alone, std::sync::atomic::Ordering::Release);
                alone_switch
            },
            election_max: Duration::from_millis(timings.election_max_ms),
        });
        ns.attach(group.clone());
        if alone {
            let last = state.last_log_id.map_or(0, |l| l.index);
            group
                .raft
                .wait(Some(Duration::from_secs(60)))
                .metrics(
                    |m| {
                        m.state == ServerState::Leader
                            && m.last_applied.is_some_and(|a| a.index >= last)
                    },
                    "a group of one: leader, its log applied",
                )
                .await
                .map_err(|e| {
                    NamenodeError::Internal(format!("the namenode did not become leader: {e}"))
                })?;
        }
        if alone {
            ns.agree_cluster_id().await?;
            group.readdress_alone(url).await;
        }
        Group::watch_server(Arc::downgrade(&group), Arc::downgrade(&ns));
        Group::hold_elections_while_unreported(Arc::downgrade(&group), Arc::downgrade(&ns));
        log::info!("raft member {id} started ({url})");
        Ok(group)
    }

    /// A namenode of its own that moved (a new `--listen` or
    /// `--advertise`): its one member's address becomes the new one, so
    /// what it reports is true (re-addressing a member of several could
    /// elect two leaders; alone it cannot).
    async fn readdress_alone(&self, url: &str) {
        let url = url.trim_end_matches('/');
        let known = {
            let m = self.raft.server_metrics();
            let m = m.borrow();
            m.membership_config
                .membership()
                .get_node(&self.id)
                .map(|n| n.addr.clone())
        };
        if known.as_deref() == Some(url) {
            return;
        }
        let nodes = BTreeMap::from([(self.id, BasicNode::new(url))]);
        match self
            .raft
            .change_membership(openraft::ChangeMembers::SetNodes(nodes), false)
            .await
        {
            Ok(_) => log::info!("this namenode moved from {known:?} to {url}"),
            Err(e) => log::warn!("cannot record this namenode's new address {url}: {e}"),
        }
    }

    /// Whether this namenode is its group's one voter.
    pub fn alone(&self) -> bool {
        self.alone.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the member (at a clean stop, before the store closes).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            log::warn!("raft shutdown: {e}");
        }
    }
}

/// Who leads the group, as this member knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leader {
    /// This namenode, sure that no other was elected meanwhile.
    Me,
    /// Another namenode, at this URL.
    At(String),
    /// None known (an election, no quorum, or this leader lost touch).
    Unknown,
}

impl Group {
    /// Who leads, now. This namenode counts itself leader only while it
    /// has heard from a quorum within half the shortest election timeout
    /// (no other can have been elected meanwhile), or after checking with
    /// a quorum now (`ensure_linearizable`, one heartbeat round): a frozen
    /// or cut-off leader serves no stale read and takes no change that
    /// cannot commit.
    pub async fn leader(&self) -> Leader {
        let (state, current, addr_of) = {
            let m = self.raft.server_metrics();
            let m = m.borrow();
            let addr = m
                .current_leader
                .and_then(|l| m.membership_config.membership().get_node(&l))
                .map(|n| n.addr.clone());
            (m.state, m.current_leader, addr)
        };
        if current != Some(self.id) || state != ServerState::Leader {
            return match addr_of {
                Some(a) if current != Some(self.id) => Leader::At(a),
                _ => Leader::Unknown,
            };
        }
        let fresh = self
            .quorum_ack()
            .is_some_and(|at| at.elapsed() < self.lease);
        if self.alone() || fresh {
            return Leader::Me;
        }
        // A leader cut off from the others never hears back: it is not
        // leader for this request once an election could have replaced it.
        let asked = std::time::Instant::now();
        match tokio::time::timeout(self.election_max, self.raft.ensure_linearizable()).await {
            Ok(Ok(_)) => {
                self.note_quorum_ack(asked);
                Leader::Me
            }
            Ok(Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(
                f,
            )))) => match f.leader_node {
                Some(n) => Leader::At(n.addr),
                None => Leader::Unknown,
            },
            Ok(Err(_)) | Err(_) => Leader::Unknown,
        }
    }

    /// Follows the server's role and membership: whether it is alone, and
    /// whenever it becomes leader, that the group has agreed on a cluster
    /// id (see `Command::SetClusterId`).
    fn watch_server(group: std::sync::Weak<Group>, ns: std::sync::Weak<Namesystem>) {
        let Some(g) = group.upgrade() else { return };
        // The server metrics change with the role, not with every entry.
        let mut rx = g.raft.server_metrics();
        drop(g);
        tokio::spawn(async move {
            loop {
                let (leads, alone) = {
                    let m = rx.borrow_and_update();
                    let mut voters = m.membership_config.membership().voter_ids();
                    let alone = voters.next() == Some(m.id) && voters.next().is_none();
                    (m.state == ServerState::Leader, alone)
                };
                if let Some(g) = group.upgrade() {
                    g.alone.store(alone, std::sync::atomic::Ordering::Release);
                }
                if leads {
                    let (Some(_g), Some(ns)) = (group.upgrade(), ns.upgrade()) else {
                        return;
                    };
                    if let Err(e) = ns.agree_cluster_id().await {
                        log::warn!("cannot record the cluster id in the log yet: {e}");
                    }
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    /// A namenode that has just started does not know where the replicas
    /// are until the datanodes report to it (its startup safe mode): as
    /// leader it would refuse every change and fail reads of what is not
    /// yet reported, while another member that has been running knows it
    /// all. So while it waits for reports, and other voters exist, it
    /// does not campaign (it still votes, and follows), for at most
    /// `ELECTION_HOLD_LIMIT`: when every namenode restarted at once, or a
    /// datanode with the only replica of a block is gone, one of them must
    /// lead, in safe mode as a namenode of its own would be. (Bounded in
    /// time rather than by "no leader heard": a follower's metrics keep
    /// naming a dead leader until some member campaigns.)
    fn hold_elections_while_unreported(
        group: std::sync::Weak<Group>,
        ns: std::sync::Weak<Namesystem>,
    ) {
        tokio::spawn(async move {
            let mut held = false;
            let started = std::time::Instant::now();
            loop {
                let (Some(g), Some(ns)) = (group.upgrade(), ns.upgrade()) else {
                    return;
                };
                let unreported = ns.awaiting_reports();
                let waited_out = started.elapsed() >= ELECTION_HOLD_LIMIT;
                let hold = !g.alone() && unreported && !waited_out;
                if hold != held {
                    g.raft.runtime_config().elect(!hold);
                    if hold {
                        log::info!("not campaigning for leader until the datanodes have reported (startup safe mode)");
                    } else if unreported {
                        log::warn!(
                            "campaigning for leader when one is needed, although the datanodes have not all reported after {} s",
                            ELECTION_HOLD_LIMIT.as_secs()
                        );
                    } else {
                        log::info!("the datanodes have reported: campaigning for leader when one is needed");
                    }
                    held = hold;
                }
                if !hold && (waited_out || !unreported) {
                    // Startup safe mode does not come back.
                    return;
                }
                drop((g, ns));
                tokio::time::sleep(ELECTION_HOLD_POLL).await;
            }
        });
    }

    fn quorum_ack(&self) -> Option<std::time::Instant> {
        *self.acked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note_quorum_ack(&self, at: std::time::Instant) {
        let mut a = self.acked.lock().unwrap_or_else(|e| e.into_inner());
        if a.is_none_or(|old| old < at) {
            *a = Some(at);
        }
    }
}

/// How long a namenode waiting for block reports at its start holds back
/// from campaigning (see `hold_elections_while_unreported`).
const ELECTION_HOLD_LIMIT: Duration = Duration::from_secs(10);
const ELECTION_HOLD_POLL: Duration = Duration::from_millis(100);

/// How long a follower waits for the leader to apply a command it
/// forwarded, and then to apply it itself.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// The most commands one Raft entry carries.
const MAX_BATCH: usize = 1024;

/// What a batch proposal gets back: the log index of the entry that
/// carried it and each command's outcome, or why it was not taken here.
type BatchReply =
    tokio::sync::oneshot::Sender<std::result::Result<(u64, Vec<Applied>), ProposeError>>;

/// The commands waiting for the next Raft entry.
type BatchQueue = tokio::sync::mpsc::UnboundedSender<(Vec<Entry>, BatchReply)>;

/// Why a proposal was not taken here.
enum ProposeError {
    /// Another namenode leads: its URL, and the commands to send there.
    Leader(String, Vec<Entry>),
    Unavailable(String),
}

impl Group {
    /// The batcher: one Raft entry in flight at a time, carrying every
    /// command that arrived while the one before it was being written and
    /// committed (group commit: openraft 0.9 syncs each entry it appends
    /// before it takes the next client write, so concurrent commands would
    /// otherwise pay one sync each).
    fn spawn_batcher(
        raft: Raft,
        me: u64,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<(Vec<Entry>, BatchReply)>,
    ) {
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut n = first.0.len();
                let mut items = vec![first];
                while n < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(item) => {
                            n += item.0.len();
                            items.push(item);
                        }
                        Err(_) => break,
                    }
                }
                let batch: Vec<Entry> = items.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
                match raft.client_write(batch).await {
                    Ok(r) => {
                        let index = r.log_id.index;
                        let mut outcomes = r.data.into_iter();
                        for (entries, reply) in items {
                            let part: Vec<Applied> = (0..entries.len())
                                .map(|_| {
                                    outcomes.next().unwrap_or_else(|| {
                                        Err(NamenodeError::Internal(
                                            "the state machine gave fewer outcomes than commands"
                                                .into(),
                                        ))
                                    })
                                })
                                .collect();
                            let _ = reply.send(Ok((index, part)));
                        }
                    }
                    Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                        let leader = match (f.leader_id, f.leader_node) {
                            (Some(id), Some(n)) if id != me => Some(n.addr),
                            _ => None,
                        };
                        for (entries, reply) in items {
                            let _ = reply.send(Err(match &leader {
                                Some(addr) => ProposeError::Leader(addr.clone(), entries),
                                None => ProposeError::Unavailable(
                                    "no namenode is the leader now (an election is under way, or too few namenodes are up)".into(),
                                ),
                            }));
                        }
                    }
                    Err(e) => {
                        let why = format!("the namenode group cannot take changes: {e}");
                        for (_, reply) in items {
                            let _ = reply.send(Err(ProposeError::Unavailable(why.clone())));
                        }
                    }
                }
            }
        });
    }

    /// Proposes `entries` (in order, in one Raft entry, with whatever else
    /// is waiting) through this namenode's Raft.
    async fn propose_here(
        &self,
        entries: Vec<Entry>,
    ) -> std::result::Result<(u64, Vec<Applied>), ProposeError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.batches.send((entries, tx)).is_err() {
            return Err(ProposeError::Unavailable("the raft group stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(ProposeError::Unavailable("the raft group stopped".into())))
    }

    /// Commands proposed on a follower: sent to the leader, which
    /// proposes them; answered once this namenode has applied them too (so
    /// what its caller reads here next includes them).
    async fn forward(&self, leader: &str, entries: Vec<Entry>) -> Result<Vec<Applied>> {
        let (index, out) = self
            .network
            .forward_proposal(leader, &entries, FORWARD_TIMEOUT)
            .await
            .map_err(NamenodeError::Unavailable)?;
        self.raft
            .wait(Some(FORWARD_TIMEOUT))
            .applied_index_at_least(Some(index), "a forwarded command applied here")
            .await
            .map_err(|e| {
                NamenodeError::Unavailable(format!(
                    "the leader applied the change, this namenode has not yet ({e}); it will"
                ))
            })?;
        Ok(out)
    }

    /// The leader's side of a forwarded proposal.
    pub async fn take_forwarded(
        &self,
        entries: Vec<Entry>,
    ) -> std::result::Result<(u64, Vec<Applied>), String> {
        match self.propose_here(entries).await {
            Ok(done) => Ok(done),
            Err(ProposeError::Leader(addr, _)) => {
                Err(format!("this namenode is not the leader ({addr} is)"))
            }
            Err(ProposeError::Unavailable(m)) => Err(m),
        }
    }
}

impl Group {
    /// The group as this namenode sees it (`GET /api/v1/namenodes`).
    pub fn report(&self) -> dfs_common::proto::client::NamenodesReport {
        use dfs_common::proto::client::{NamenodeInfo, NamenodesReport};
        let m = self.raft.metrics();
        let m = m.borrow();
        let membership = m.membership_config.membership();
        let url_of = |id: &u64| membership.get_node(id).map(|n| n.addr.clone());
        let last_log_index = m.last_log_index.unwrap_or(0);
        let voters: std::collections::BTreeSet<u64> = membership.voter_ids().collect();
        let namenodes = membership
            .nodes()
            .map(|(id, node)| {
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id))
                    .map(|l| l.as_ref().map_or(0, |l| l.index));
                let matched = if *id == self.id && m.state == ServerState::Leader {
                    Some(last_log_index)
                } else {
                    matched
                };
                NamenodeInfo {
                    id: *id,
                    url: node.addr.clone(),
                    role: if m.current_leader == Some(*id) {
                        "leader"
                    } else if voters.contains(id) {
                        "follower"
                    } else {
                        "learner"
                    }
                    .into(),
                    matched,
                    lag: matched.map(|x| last_log_index.saturating_sub(x)),
                }
            })
            .collect();
        NamenodesReport {
            self_url: url_of(&self.id).unwrap_or_default(),
            self_role: match m.state {
                ServerState::Leader => "leader",
                ServerState::Follower => "follower",
                ServerState::Candidate => "candidate",
                ServerState::Learner => "learner",
                ServerState::Shutdown => "shutdown",
            }
            .into(),
            term: m.current_term,
            leader: m.current_leader.as_ref().and_then(url_of),
            last_applied: m.last_applied.map_or(0, |l| l.index),
            last_log_index,
            namenodes,
        }
    }
}

impl Proposer for Group {
    fn propose(
        &self,
        entries: Vec<Entry>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Applied>>> + Send + '_>>
    {
        Box::pin(async move {
            match self.propose_here(entries).await {
                Ok((_, out)) => Ok(out),
                Err(ProposeError::Leader(addr, entries)) => self.forward(&addr, entries).await,
                Err(ProposeError::Unavailable(m)) => Err(NamenodeError::Unavailable(m)),
            }
        })
    }

    fn leadership(&self) -> Leadership {
        let m = self.raft.server_metrics();
        let m = m.borrow();
        Leadership {
            term: m.vote.leader_id().get_term(),
            leader: m.state == ServerState::Leader && m.current_leader == Some(self.id),
        }
    }

    fn leads_surely(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(async move { self.leader().await == Leader::Me })
    }

    fn several(&self) -> bool {
        !self.alone()
    }
}
