//! `NamenodeLink`: the only module of the datanode that calls the namenode
//! (HDFS `BPServiceActor`).
//!
//! It registers (with a full block report, retrying with backoff until the
//! namenode answers), then heartbeats every `heartbeat_interval_ms` with a
//! storage report, hands the commands in each reply to [`crate::commands`],
//! sends a full block report every `block_report_interval_ms`, and turns the
//! [`BlockEvent`]s other modules push onto its channel into incremental
//! reports (`block_received`) and `bad_block` reports, batched and sent within
//! ~100 ms.
//!
//! Cluster identity: registration carries the cluster this node belongs to
//! (`<data-dir>/cluster_id`). A namenode of another cluster refuses it (409)
//! and this link keeps retrying, says why in the log, and never heartbeats
//! or takes a command from it, so no block is deleted for a namenode that
//! does not know them. A node that never joined a cluster records the id
//! of the first namenode that accepts it, durably, before anything else.
//!
//! Invariants and hazards:
//! - Events are never dropped while the process lives: a failed send keeps
//!   them and retries. Received/deleted events for the same block coalesce to
//!   the latest, so a batch is never ambiguous.
//! - The link survives namenode restarts: a failed heartbeat is retried at the
//!   next tick; `Reregister` (or a 404 for an unknown node) registers again,
//!   with a full block report, at once. The first heartbeat answered after a
//!   run of failures is followed by a full block report too: the namenode
//!   may have declared this node dead meanwhile and dropped its replicas
//!   from the block map. A failed full report is retried after a heartbeat
//!   interval, not a whole report interval.
//! - Nothing here blocks the data path: block reads and writes go on while
//!   the namenode is unreachable.
//! - Every namenode call is bounded by a timeout and abandoned at once on
//!   shutdown, so a hung namenode can neither stall heartbeats for long nor
//!   hold up a stop.
//! - Heartbeats name the file system under the blocks (machine and device,
//!   size, free space; gathered by [`crate::storage`]) so that the namenode
//!   counts a disk shared by several datanodes once, and each data dir's
//!   state and space (for `dfs report`). A namenode too old to read that
//!   refuses the heartbeat (400); the link then sends the first shape,
//!   without them, until it registers again (the namenode may have been
//!   upgraded meanwhile).
use crate::commands::CommandRunner;
use crate::error::{error_chain, DatanodeError, Result};
use crate::events::{BlockEvent, EventReceiver};
use crate::node::Node;
use crate::storage::storage_report;
use dfs_common::codec;
use dfs_common::ids::BlockId;
use dfs_common::proto::datanode::{
    BadBlockReport, BlockReport, Command, FilesystemReport, Heartbeat, HeartbeatReply,
    IncrementalBlockReport, Leadership, RegisterRequest, RegisterResponse, ReportedBlock,
    StorageReport, DEFAULT_RACK, INTERNAL_PREFIX,
};
use dfs_common::proto::DatanodeInfo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{interval_at, sleep, sleep_until, timeout, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// How long queued events wait to be batched before they are sent.
const BATCH_DELAY: Duration = Duration::from_millis(100);
/// Retry delay for incremental reports that failed to send.
const REPORT_RETRY: Duration = Duration::from_secs(1);
/// Registration backoff: first retry, and the cap. The cap is below the
/// default heartbeat interval (3 s) so that a restarted namenode hears from
/// every node within about one interval of coming up.
const REGISTER_BACKOFF_MIN: Duration = Duration::from_millis(200);
const REGISTER_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// One namenode call; a full report of a very large node still fits.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// One heartbeat: short, so a hung namenode costs a few beats, not the
/// dead-node timeout (default 30 s).
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);
/// At shutdown, how long to try flushing the last events.
const FINAL_FLUSH: Duration = Duration::from_secs(2);
/// Floors on intervals from the namenode, so a zero cannot spin the loop.
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);
const MIN_BLOCK_REPORT: Duration = Duration::from_secs(1);

/// Events waiting to be sent, coalesced per block.
#[derive(Debug, Default)]
struct Pending {
    received: Vec<ReportedBlock>,
    deleted: Vec<BlockId>,
    bad: Vec<(BlockId, String)>,
}

impl Pending {
    fn push(&mut self, e: BlockEvent) {
        match e {
            BlockEvent::Received(b) => {
                self.deleted.retain(|d| *d != b.id);
                self.received.retain(|r| r.id != b.id);
                self.received.push(b);
            }
            BlockEvent::Deleted(id) => {
                self.received.retain(|r| r.id != id);
                if !self.deleted.contains(&id) {
                    self.deleted.push(id);
                }
            }
            BlockEvent::Bad { id, reason } => {
                self.received.retain(|r| r.id != id);
                self.bad.push((id, reason));
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.received.is_empty() && self.deleted.is_empty() && self.bad.is_empty()
    }
}

/// Why a namenode call failed.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    /// The namenode does not know this node (it restarted): register again.
    #[error("namenode does not know this node")]
    UnknownNode,
    /// The namenode could not read the message (400 Bad Request).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

/// Whose replica commands this datanode takes (HDFS `BPOfferService`):
/// the namenode that claims to lead at the highest term any of them has
/// named, so a deposed leader's (frozen, cut off) are ignored once another
/// namenode named a later term. With one namenode, whatever it says.
pub struct Leaders {
    links: usize,
    highest_term: std::sync::atomic::AtomicU64,
}

impl Leaders {
    pub fn new(links: usize) -> Leaders {
        Leaders {
            links,
            highest_term: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether a namenode answering with `claim` may command this node.
    pub fn accepts(&self, claim: Option<Leadership>) -> bool {
        match claim {
            // A namenode of an earlier version, alone.
            None => self.links == 1,
            // The one namenode there is: its word, whatever its term (a
            // namenode restored from a checkpoint starts a group of its own
            // at term 1, below what this node saw before).
            Some(c) if self.links == 1 => c.leader,
            Some(c) => {
                let highest = self
                    .highest_term
                    .fetch_max(c.term, Ordering::AcqRel)
                    .max(c.term);
                c.leader && c.term >= highest
            }
        }
    }
}

/// The datanode's connection to one namenode.
pub struct NamenodeLink {
    rpc: Rpc,
    events: EventReceiver,
    commands: CommandRunner,
    leaders: Arc<Leaders>,
}

/// The calls themselves (kept apart from the event receiver so that both can
/// be borrowed at once in the main loop).
struct Rpc {
    node: Arc<Node>,
    base: String,
    client: reqwest::Client,
    /// The namenode refused a heartbeat that named the file system (it is
    /// older): send the first shape until the next registration.
    first_shape: AtomicBool,
}

impl NamenodeLink {
    pub fn new(
        node: Arc<Node>,
        namenode_url: &str,
        events: EventReceiver,
        leaders: Arc<Leaders>,
    ) -> Result<Self> {
        let client = crate::peer::client_builder()
            .map_err(|e| DatanodeError::Config(e.to_string()))?
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| DatanodeError::Internal(format!("building HTTP client: {e}")))?;
        let commands = CommandRunner::new(node.clone());
        let base = format!("{}{INTERNAL_PREFIX}", namenode_url.trim_end_matches('/'));
        Ok(Self {
            rpc: Rpc {
                node,
                base,
                client,
                first_shape: AtomicBool::new(false),
            },
            events,
            commands,
            leaders,
        })
    }

    /// Runs until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let NamenodeLink {
            rpc,
            mut events,
            mut commands,
            leaders,
        } = self;
        let node = rpc.node.clone();
        let mut pending = Pending::default();
        'register: loop {
            node.metrics.registered.store(false, Ordering::Relaxed);
            let Some(reg) = rpc.register(&cancel).await else {
                break 'register;
            };
            node.metrics.registered.store(true, Ordering::Relaxed);
            node.metrics.registrations.fetch_add(1, Ordering::Relaxed);
            let hb_every = Duration::from_millis(reg.heartbeat_interval_ms).max(MIN_HEARTBEAT);
            let br_every =
                Duration::from_millis(reg.block_report_interval_ms).max(MIN_BLOCK_REPORT);
            let mut heartbeat = interval_at(Instant::now(), hb_every);
            heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut block_report = interval_at(Instant::now() + br_every, br_every);
            block_report.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut flush_at = (!pending.is_empty()).then(Instant::now);
            let mut failures = 0u64;

            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break 'register,
                    _ = heartbeat.tick() => {
                        // The figure first, then every replica event up to
                        // it, then the figure: the namenode then counts a new
                        // replica's bytes once, as scheduled for this node
                        // until its report, in the figure after it, never as
                        // both (a nearly full node refused writes it had
                        // room for while a report waited for its batch).
                        let storage = storage_report(&rpc.node.store).await;
                        match flush_pending(&rpc, &cancel, &mut pending, &mut events, &mut flush_at).await {
                            Flow::Stop => break 'register,
                            Flow::Register => continue 'register,
                            Flow::Go => {}
                        }
                        match cancellable(&cancel, rpc.heartbeat(storage)).await {
                            None => break 'register,
                            Some(Ok(reply)) => {
                                if failures > 0 {
                                    log::info!("namenode answers heartbeats again after {failures} failures; sending a full block report");
                                    failures = 0;
                                    block_report.reset_immediately();
                                }
                                let mut reregister = false;
                                let obey = leaders.accepts(reply.leadership);
                                for command in reply.commands {
                                    match command {
                                        Command::Reregister => reregister = true,
                                        other if obey => commands.execute(other),
                                        other => log::info!(
                                            "ignored a command of namenode {} (not the leader at the latest term): {other:?}",
                                            rpc.base
                                        ),
                                    }
                                }
                                if reregister {
                                    log::info!("namenode asked this node to register again");
                                    continue 'register;
                                }
                            }
                            Some(Err(LinkError::UnknownNode)) => {
                                log::info!("namenode does not know this node; registering again");
                                continue 'register;
                            }
                            Some(Err(e)) => {
                                failures += 1;
                                if failures == 1 || failures.is_multiple_of(20) {
                                    log::warn!("heartbeat failed ({failures} in a row): {e}");
                                }
                            }
                        }
                    }
                    _ = block_report.tick() => {
                        match cancellable(&cancel, rpc.block_report()).await {
                            None => break 'register,
                            Some(Ok(())) => {}
                            Some(Err(LinkError::UnknownNode)) => continue 'register,
                            Some(Err(e)) => {
                                log::warn!("full block report failed (will retry): {e}");
                                block_report.reset_after(hb_every);
                            }
                        }
                    }
                    Some(event) = events.recv() => {
                        pending.push(event);
                        flush_at.get_or_insert_with(|| Instant::now() + BATCH_DELAY);
                    }
                    _ = sleep_until(flush_at.unwrap_or_else(Instant::now)), if flush_at.is_some() => {
                        match flush_pending(&rpc, &cancel, &mut pending, &mut events, &mut flush_at).await {
                            Flow::Stop => break 'register,
                            Flow::Register => continue 'register,
                            Flow::Go => {}
                        }
                    }
                }
            }
        }
        // Shutting down: one short, best-effort attempt to send what is left.
        while let Ok(event) = events.try_recv() {
            pending.push(event);
        }
        if !pending.is_empty() && node.metrics.registered.load(Ordering::Relaxed) {
            match timeout(FINAL_FLUSH, rpc.flush(&mut pending)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log::warn!("final block report failed: {e}"),
                Err(_) => log::warn!("final block report timed out"),
            }
        }
        commands.shutdown().await;
        log::info!("namenode link stopped");
    }
}

/// What the link's loop does next.
enum Flow {
    /// Shutting down.
    Stop,
    /// The namenode does not know this node.
    Register,
    Go,
}

/// Takes every replica event waiting in `events` and sends what is queued
/// (nothing when nothing is); on a failure it stays queued and the next try
/// is set in `flush_at`.
async fn flush_pending(
    rpc: &Rpc,
    cancel: &CancellationToken,
    pending: &mut Pending,
    events: &mut EventReceiver,
    flush_at: &mut Option<Instant>,
) -> Flow {
    while let Ok(event) = events.try_recv() {
        pending.push(event);
    }
    if pending.is_empty() {
        return Flow::Go;
    }
    match cancellable(cancel, rpc.flush(pending)).await {
        None => Flow::Stop,
        Some(Ok(())) => {
            *flush_at = None;
            Flow::Go
        }
        Some(Err(LinkError::UnknownNode)) => Flow::Register,
        Some(Err(e)) => {
            log::warn!("incremental block report failed (will retry): {e}");
            *flush_at = Some(Instant::now() + REPORT_RETRY);
            Flow::Go
        }
    }
}

/// Runs `f` unless `cancel` fires first (`None`).
async fn cancellable<T>(
    cancel: &CancellationToken,
    f: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        _ = cancel.cancelled() => None,
        r = f => Some(r),
    }
}

impl Rpc {
    /// Registers, retrying with backoff until the namenode answers or `cancel`.
    async fn register(&self, cancel: &CancellationToken) -> Option<RegisterResponse> {
        let mut backoff = REGISTER_BACKOFF_MIN;
        let mut attempts = 0u64;
        loop {
            let req = RegisterRequest {
                node: DatanodeInfo {
                    id: self.node.id,
                    addr: self.node.advertise.clone(),
                },
                storage: storage_report(&self.node.store).await.0,
                blocks: self.node.store.list(),
                version: dfs_common::VERSION.to_string(),
                cluster_id: self.node.cluster_id(),
                // The default rack is left out: an older namenode then
                // still reads the registration (see `RegisterRequest`).
                rack: (self.node.rack != DEFAULT_RACK).then(|| self.node.rack.clone()),
                hadoop_port: self.node.hadoop_port,
            };
            let n = req.blocks.len();
            let result = tokio::select! {
                _ = cancel.cancelled() => return None,
                r = self.call::<_, RegisterResponse>("register", &req) => r,
            };
            let result = match result {
                Ok(reply) => self.check_cluster(&reply).await.map(|()| reply),
                Err(e) => Err(e),
            };
            match result {
                Ok(reply) => {
                    self.first_shape.store(false, Ordering::Relaxed);
                    log::info!(
                        "registered with namenode {} ({n} blocks; heartbeat every {} ms)",
                        self.base,
                        reply.heartbeat_interval_ms
                    );
                    return Some(reply);
                }
                Err(e) => {
                    attempts += 1;
                    if attempts == 1 || attempts.is_multiple_of(20) {
                        log::warn!("cannot register with namenode {} (attempt {attempts}, will retry): {e}", self.base);
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(REGISTER_BACKOFF_MAX);
        }
    }

    /// The cluster of the namenode that accepted this node: recorded if
    /// this node had none, refused if it has another (a namenode that did
    /// not check, e.g. an older version).
    async fn check_cluster(&self, reply: &RegisterResponse) -> Result<(), LinkError> {
        match self.node.cluster_id() {
            Some(mine) if mine == reply.cluster_id => Ok(()),
            Some(mine) => Err(LinkError::Failed(
                dfs_common::proto::datanode::cluster_mismatch_message(
                    &mine,
                    self.base.trim_end_matches(INTERNAL_PREFIX),
                    &reply.cluster_id,
                ),
            )),
            None => {
                let (dir, id) = (self.node.data_dir.clone(), reply.cluster_id);
                tokio::task::spawn_blocking(move || crate::identity::record_cluster(&dir, id))
                    .await
                    .map_err(|e| LinkError::Failed(format!("recording the cluster id: {e}")))?
                    .map_err(|e| LinkError::Failed(format!("recording the cluster id: {e}")))?;
                *self.node.cluster.lock().unwrap_or_else(|e| e.into_inner()) = Some(id);
                log::info!("this datanode now belongs to cluster {id}");
                Ok(())
            }
        }
    }

    /// A heartbeat carrying `(storage, filesystem)` ([`storage_report`]).
    async fn heartbeat(
        &self,
        (storage, filesystem): (StorageReport, Option<FilesystemReport>),
    ) -> Result<HeartbeatReply, LinkError> {
        let mut hb = Heartbeat {
            node_id: self.node.id,
            storage,
            active_transfers: u32::try_from(self.node.metrics.active_transfers())
                .unwrap_or(u32::MAX),
            filesystem: filesystem.filter(|_| !self.first_shape.load(Ordering::Relaxed)),
            disks: (!self.first_shape.load(Ordering::Relaxed))
                .then(|| crate::storage::disk_reports(&self.node.store)),
        };
        let mut result = self.call_within("heartbeat", &hb, HEARTBEAT_TIMEOUT).await;
        if hb.filesystem.is_some() || hb.disks.is_some() {
            if let Err(LinkError::Refused(e)) = &result {
                log::warn!(
                    "the namenode cannot read a heartbeat that names the file system ({e}); \
                     it is older than this datanode: sending heartbeats without it, so it \
                     counts this node's disk as a disk of its own"
                );
                self.first_shape.store(true, Ordering::Relaxed);
                hb.filesystem = None;
                hb.disks = None;
                result = self.call_within("heartbeat", &hb, HEARTBEAT_TIMEOUT).await;
            }
        }
        match result {
            Ok(reply) => {
                self.node.metrics.heartbeats.fetch_add(1, Ordering::Relaxed);
                Ok(reply)
            }
            Err(e) => {
                self.node
                    .metrics
                    .heartbeat_failures
                    .fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    async fn block_report(&self) -> Result<(), LinkError> {
        let report = BlockReport {
            node_id: self.node.id,
            blocks: self.node.store.list(),
        };
        self.send("block_report", &report).await
    }

    /// Sends queued events: bad replicas first, then one incremental report.
    /// What fails stays queued.
    async fn flush(&self, p: &mut Pending) -> Result<(), LinkError> {
        while let Some((id, reason)) = p.bad.first() {
            let report = BadBlockReport {
                node_id: self.node.id,
                block_id: *id,
                reason: reason.clone(),
            };
            self.send("bad_block", &report).await?;
            p.bad.remove(0);
        }
        if !p.received.is_empty() || !p.deleted.is_empty() {
            let report = IncrementalBlockReport {
                node_id: self.node.id,
                received: p.received.clone(),
                deleted: p.deleted.clone(),
            };
            self.send("block_received", &report).await?;
            p.received.clear();
            p.deleted.clear();
        }
        Ok(())
    }

    /// POSTs a message whose answer carries nothing we need.
    async fn send<T: Serialize>(&self, endpoint: &str, msg: &T) -> Result<(), LinkError> {
        self.post(endpoint, msg).await.map(|_| ())
    }

    /// POSTs a message and decodes the answer.
    async fn call<T: Serialize, R: DeserializeOwned>(
        &self,
        endpoint: &str,
        msg: &T,
    ) -> Result<R, LinkError> {
        self.call_within(endpoint, msg, REQUEST_TIMEOUT).await
    }

    async fn call_within<T: Serialize, R: DeserializeOwned>(
        &self,
        endpoint: &str,
        msg: &T,
        limit: Duration,
    ) -> Result<R, LinkError> {
        let body = self.post_within(endpoint, msg, limit).await?;
        codec::decode(&body).map_err(|e| LinkError::Failed(format!("{endpoint}: bad answer: {e}")))
    }

    async fn post<T: Serialize>(&self, endpoint: &str, msg: &T) -> Result<bytes::Bytes, LinkError> {
        self.post_within(endpoint, msg, REQUEST_TIMEOUT).await
    }

    async fn post_within<T: Serialize>(
        &self,
        endpoint: &str,
        msg: &T,
        limit: Duration,
    ) -> Result<bytes::Bytes, LinkError> {
        let body = codec::encode(msg)
            .map_err(|e| LinkError::Failed(format!("encoding {endpoint}: {e}")))?;
        let url = format!("{}/{endpoint}", self.base);
        let mut req = self.client.post(&url);
        if let Some(keys) = &self.node.keys {
            // Admission: proof that this node knows the cluster secret.
            req = req.bearer_auth(keys.node_credential());
        }
        let resp = req
            .timeout(limit)
            .header(reqwest::header::CONTENT_TYPE, codec::CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .map_err(|e| LinkError::Failed(format!("{endpoint}: {}", error_chain(&e))))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND && endpoint != "register" {
            return Err(LinkError::UnknownNode);
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| LinkError::Failed(format!("{endpoint}: {}", error_chain(&e))))?;
        if !status.is_success() {
            // The namenode's errors are `{"error": {"code", "message"}}`.
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            let message = format!("{endpoint}: {status}: {message}");
            return Err(if status == reqwest::StatusCode::BAD_REQUEST {
                LinkError::Refused(message)
            } else {
                LinkError::Failed(message)
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_taken_from_the_leader_at_the_highest_term() {
        let claim = |term, leader| Some(Leadership { term, leader });
        let three = Leaders::new(3);
        assert!(three.accepts(claim(2, true)));
        assert!(!three.accepts(claim(2, false)));
        assert!(!three.accepts(None));
        // A newer leader is heard of: the deposed one is ignored.
        assert!(three.accepts(claim(3, true)));
        assert!(!three.accepts(claim(2, true)));
        let one = Leaders::new(1);
        assert!(one.accepts(None) && one.accepts(claim(9, true)));
        // Restored, the one namenode starts over at term 1.
        assert!(one.accepts(claim(1, true)));
        assert!(!one.accepts(claim(1, false)));
    }
    use dfs_common::checksum::Sha256Digest;

    #[test]
    fn pending_events_coalesce_per_block() {
        let (a, b) = (BlockId::new(), BlockId::new());
        let rb = |id| ReportedBlock {
            id,
            len: 1,
            sha256: Sha256Digest::of(b"x"),
        };
        let mut p = Pending::default();
        assert!(p.is_empty());
        p.push(BlockEvent::Received(rb(a)));
        p.push(BlockEvent::Received(rb(a)));
        p.push(BlockEvent::Received(rb(b)));
        p.push(BlockEvent::Deleted(a));
        p.push(BlockEvent::Deleted(a));
        assert_eq!(p.received, vec![rb(b)]);
        assert_eq!(p.deleted, vec![a]);
        p.push(BlockEvent::Received(rb(a)));
        assert!(p.deleted.is_empty());
        p.push(BlockEvent::Bad {
            id: b,
            reason: "crc".into(),
        });
        assert_eq!(p.received, vec![rb(a)]);
        assert_eq!(p.bad.len(), 1);
    }
}
