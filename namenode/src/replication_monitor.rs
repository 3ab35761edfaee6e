//! The replication monitor (HDFS RedundancyMonitor): the worker that asks
//! the namesystem for a replication tick every period. What a tick decides
//! lives in `replication` (pure queues and choices); this module only wires
//! it to the clock (and settles the block-health tally the summary reads),
//! so `replication` does not depend on the namesystem that uses it.
use crate::namesystem::Namesystem;
use crate::workers::Workers;
use std::sync::Arc;
use tokio::time::Instant;

/// Starts the monitor: every second, or every heartbeat when faster.
pub fn start(workers: &mut Workers, ns: Arc<Namesystem>) {
    let period = ns.config().replication_period();
    workers.spawn_periodic("replication-monitor", period, move || {
        let ns = ns.clone();
        async move {
            if let Err(e) = ns.replication_tick(Instant::now()).await {
                log::error!("replication monitor: {e}");
            }
            // The summary's block-health numbers (safe mode or not).
            if let Err(e) = ns.settle_block_health(Instant::now()).await {
                log::error!("replication monitor: {e}");
            }
        }
    });
}
