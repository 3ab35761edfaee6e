//! Executes the commands the namenode sends back on heartbeat replies:
//! `Delete` (remove replicas, report them deleted) and `Replicate` (send a
//! replica to other datanodes through [`crate::sender`]). `Reregister` is the
//! link's own business ([`crate::heartbeat`]).
//!
//! Each command runs as its own task so a long transfer never delays a
//! heartbeat; at most [`MAX_REPLICATIONS`] transfers run at once and the
//! rest wait their turn (queued, never dropped). A `Replicate` identical to
//! one already queued or running (the namenode re-sends work whose pending
//! entry timed out) is not queued twice. A `Delete` of a replica that is not
//! here is harmless: it is reported deleted all the same.
use crate::error::DatanodeError;
use crate::events::BlockEvent;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::peer::PeerClient;
use crate::sender;
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::proto::datanode::Command;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// A replication as the namenode names it: the block and its targets.
type ReplicationKey = (BlockId, Vec<NodeId>);

/// Replications queued or running; the entry leaves when its task ends.
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<HashSet<ReplicationKey>>>);

impl InFlight {
    /// Claims `key`; `None` if it is already queued or running.
    fn claim(&self, key: ReplicationKey) -> Option<InFlightGuard> {
        let mut set = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        set.insert(key.clone())
            .then(|| InFlightGuard(self.clone(), key))
    }
}

struct InFlightGuard(InFlight, ReplicationKey);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut set = (self.0)
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        set.remove(&self.1);
    }
}

/// Re-replications running at once; more queue up. A few streams fill a
/// disk or a link; beyond that they only compete.
pub const MAX_REPLICATIONS: usize = 4;

/// How long shutdown waits for running commands.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

pub struct CommandRunner {
    node: Arc<Node>,
    client: PeerClient,
    slots: Arc<Semaphore>,
    in_flight: InFlight,
    tasks: JoinSet<()>,
}

impl CommandRunner {
    pub fn new(node: Arc<Node>) -> Self {
        Self {
            node,
            client: PeerClient::new(),
            slots: Arc::new(Semaphore::new(MAX_REPLICATIONS)),
            in_flight: InFlight::default(),
            tasks: JoinSet::new(),
        }
    }

    /// Starts a command in the background.
    pub fn execute(&mut self, command: Command) {
        while self.tasks.try_join_next().is_some() {} // reap finished ones
        let node = self.node.clone();
        match command {
            Command::Delete { blocks } => {
                self.tasks.spawn(async move {
                    for id in blocks {
                        match node.store.delete(id).await {
                            // Reported either way: the namenode should forget it.
                            Ok(had) => {
                                log::info!(
                                    "deleted block {id} on namenode's command{}",
                                    if had { "" } else { " (was not here)" }
                                );
                                node.events.send(BlockEvent::Deleted(id));
                            }
                            Err(e) => log::error!("cannot delete block {id}: {e}"),
                        }
                    }
                });
            }
            Command::Replicate {
                block_id,
                len,
                sha256,
                targets,
            } => {
                let key = (block_id, targets.iter().map(|t| t.id).collect());
                let Some(claim) = self.in_flight.claim(key) else {
                    log::debug!("replication of {block_id} to the same targets is already queued");
                    return;
                };
                let client = self.client.0.clone();
                let slots = self.slots.clone();
                self.tasks.spawn(async move {
                    let _claim = claim;
                    let m = &node.metrics;
                    m.replications_queued.fetch_add(1, Ordering::Relaxed);
                    // The semaphore is never closed, so acquire only fails if
                    // it were; then run without a slot rather than not at all.
                    let _slot = slots.acquire_owned().await.ok();
                    m.replications_queued.fetch_sub(1, Ordering::Relaxed);
                    let addrs: Vec<&str> = targets.iter().map(|t| t.addr.as_str()).collect();
                    match sender::replicate(node.clone(), &client, block_id, len, sha256, &targets).await {
                        Ok(resp) => {
                            let ok = resp.replicas.iter().filter(|r| r.ok).count();
                            let all = ok == resp.replicas.len() && ok >= targets.len();
                            Metrics::add(if all { &m.replications_ok } else { &m.replications_failed }, 1);
                            log::info!("replicated block {block_id} to {addrs:?}: {ok} of {} hops ok", resp.replicas.len());
                        }
                        Err(DatanodeError::NotFound(_)) => {
                            Metrics::add(&m.replications_failed, 1);
                            log::warn!("asked to replicate block {block_id}, which is not here; reporting it gone");
                            node.events.send(BlockEvent::Deleted(block_id));
                        }
                        Err(e) => {
                            // Corrupt and vanished replicas were reported by the sender.
                            Metrics::add(&m.replications_failed, 1);
                            log::warn!("replicating block {block_id} to {addrs:?} failed: {e}");
                        }
                    }
                });
            }
            Command::Reregister => {}
        }
    }

    /// Waits briefly for running commands, then abandons them.
    pub async fn shutdown(mut self) {
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_WAIT, drain).await.is_err() {
            log::warn!("abandoning unfinished namenode commands at shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replication_is_claimed_once_until_it_ends() {
        let f = InFlight::default();
        let (b, n) = (BlockId::new(), NodeId::new());
        let first = f.claim((b, vec![n])).unwrap();
        assert!(f.claim((b, vec![n])).is_none(), "same block, same targets");
        let other = f.claim((b, vec![NodeId::new()])).unwrap();
        drop(first);
        assert!(f.claim((b, vec![n])).is_some(), "free again once it ended");
        drop(other);
    }
}
