//! The heartbeat monitor (HDFS HeartbeatManager.Monitor): marks datanodes
//! that stopped heartbeating (or, after a namenode restart, did not register
//! within one timeout) dead, so they get no new blocks, readers are not sent
//! to them, and their replicas stop counting. Writes that a dead node was
//! relaying (WebHDFS CREATE/APPEND landing there) end in the same pass:
//! their writer is gone, so their paths are freed at once rather than after
//! the lease timeout.
//!
//! What it does not do: re-replicate what the dead node held; the namesystem
//! hands its blocks to the replication monitor. The replicas stay recorded,
//! so a node that comes back is simply live again (and any excess copies
//! made meanwhile are trimmed). A silent node in maintenance is marked
//! dead too, but its replicas keep counting (see `health`) until its
//! maintenance ends or runs out, which this monitor also notices.
use crate::namesystem::Namesystem;
use crate::workers::Workers;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Checks several times per timeout (and at least once per heartbeat
/// interval), bounded to [50 ms, 5 s].
pub fn check_period(heartbeat_interval: Duration, dead_node_timeout: Duration) -> Duration {
    heartbeat_interval
        .min(dead_node_timeout / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(5))
}

pub fn start(workers: &mut Workers, ns: Arc<Namesystem>) {
    let c = ns.config();
    let period = check_period(c.heartbeat_interval, c.dead_node_timeout);
    workers.spawn_periodic("heartbeat-monitor", period, move || {
        let ns = ns.clone();
        async move {
            let now = Instant::now();
            ns.check_dead_nodes(now).await;
            // Maintenance that ran out: a node still silent is dead now.
            if let Err(e) = ns.expire_maintenance(now).await {
                log::error!("heartbeat monitor: ending maintenance that ran out: {e}");
            }
            // Every pass, not only when a node has just died: a write whose
            // relay was already dead when it said so, or whose ending
            // failed once, ends on a later pass.
            if let Err(e) = ns.end_relayed_writes(now).await {
                log::error!("heartbeat monitor: ending writes of dead relays: {e}");
            }
        }
    });
}
