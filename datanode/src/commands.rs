//! Executes the commands the namenode sends back on heartbeat replies:
//! `Delete` (remove replicas, report them deleted) and `Replicate` (send a
//! replica to other datanodes through [`crate::sender`]). `Reregister` is the
//! link's own business ([`crate::heartbeat`]).
//!
//! Each command runs as its own task so a long transfer never delays a
//! heartbeat; at most [`MAX_REPLICATIONS`] transfers run at once.
use crate::error::DatanodeError;
use crate::heartbeat::BlockEvent;
use crate::receiver::PeerClient;
use crate::{sender, Node};
use dfs_common::proto::datanode::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Re-replications running at once; more queue up. A few streams fill a
/// disk or a link; beyond that they only compete.
pub const MAX_REPLICATIONS: usize = 4;

/// How long shutdown waits for running commands.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

pub struct CommandRunner {
    node: Arc<Node>,
    client: PeerClient,
    slots: Arc<Semaphore>,
    tasks: JoinSet<()>,
}

impl CommandRunner {
    pub fn new(node: Arc<Node>) -> Self {
        Self {
            node,
            client: PeerClient::new(),
            slots: Arc::new(Semaphore::new(MAX_REPLICATIONS)),
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
                let client = self.client.0.clone();
                let slots = self.slots.clone();
                self.tasks.spawn(async move {
                    // The semaphore is never closed, so acquire only fails if
                    // it were; then run without a slot rather than not at all.
                    let _slot = slots.acquire_owned().await.ok();
                    let addrs: Vec<&str> = targets.iter().map(|t| t.addr.as_str()).collect();
                    match sender::replicate(node.clone(), &client, block_id, len, sha256, &targets).await {
                        Ok(resp) => {
                            let ok = resp.replicas.iter().filter(|r| r.ok).count();
                            log::info!("replicated block {block_id} to {addrs:?}: {ok} of {} hops ok", resp.replicas.len());
                        }
                        Err(DatanodeError::NotFound(_)) => {
                            log::warn!("asked to replicate block {block_id}, which is not here; reporting it gone");
                            node.events.send(BlockEvent::Deleted(block_id));
                        }
                        Err(e) => log::warn!("replicating block {block_id} to {addrs:?} failed: {e}"),
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
