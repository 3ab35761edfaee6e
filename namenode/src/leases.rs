//! The lease monitor (HDFS LeaseManager.Monitor): abandons under-construction
//! files whose writer stopped renewing, so a cut-off upload leaves no
//! visible file and its blocks are deleted.
//!
//! What it does not do: track leases itself; the clock lives on each pending
//! file in the namespace (`namespace/write.rs`), and this worker only asks
//! the namesystem to expire what is overdue. Nor does it wait out the lease
//! of a write relayed by a datanode (WebHDFS CREATE/APPEND landing there)
//! whose datanode died: the heartbeat monitor ends those as soon as it
//! declares the datanode dead (`heartbeat.rs`).
use crate::namesystem::Namesystem;
use crate::workers::Workers;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Checks a few times per lease period, so a lease ends at most about a
/// quarter period late (never early), bounded to [100 ms, 5 s].
pub fn check_period(lease_timeout: Duration) -> Duration {
    (lease_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

pub fn start(workers: &mut Workers, ns: Arc<Namesystem>) {
    let period = check_period(ns.config().lease_timeout);
    workers.spawn_periodic("lease-monitor", period, move || {
        let ns = ns.clone();
        async move {
            if let Err(e) = ns.expire_leases(Instant::now()).await {
                log::error!("lease monitor: {e}");
            }
        }
    });
}
