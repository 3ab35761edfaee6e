//! The balancer's operator side of [`Namesystem`]: start, stop, status,
//! and the eligible nodes' figures its step reads (the step itself runs in
//! the replication tick, see `balancing`).
use super::*;
use crate::balancer::NodeUse;
use crate::placement::RackId;
use dfs_common::proto::client::{BalancerStatus, DatanodeState};

impl Namesystem {
    /// `POST /api/v1/balancer`: starts balancing to within `threshold`
    /// percentage points of the cluster's average used share.
    pub async fn start_balancer(&self, threshold: f64) -> Result<BalancerStatus> {
        if !threshold.is_finite() || !(0.0..=100.0).contains(&threshold) {
            return Err(NamenodeError::InvalidArgument(format!(
                "the balancer's threshold must be between 0 and 100 (percentage points), not {threshold}"
            )));
        }
        if self.in_safe_mode() {
            return Err(NamenodeError::SafeMode(
                "the balancer does not run in safe mode".into(),
            ));
        }
        let mut q = self.repl();
        q.balancer.start(threshold);
        log::info!("balancer started (threshold {threshold} points)");
        Ok(q.balancer.status(self.config.balancer_bandwidth))
    }

    /// `POST /api/v1/balancer/stop`: no new move; those in flight finish.
    pub fn stop_balancer(&self) -> BalancerStatus {
        let mut q = self.repl();
        q.balancer.stop("stopped");
        q.balancer.status(self.config.balancer_bandwidth)
    }

    /// `GET /api/v1/balancer`.
    pub fn balancer_status(&self) -> BalancerStatus {
        self.repl().balancer.status(self.config.balancer_bandwidth)
    }

    /// The nodes the balancer moves between (live, normal, not in
    /// maintenance) with their reported figures.
    pub(super) fn balancer_usage(&self, now: Instant) -> Vec<NodeUse> {
        self.datanodes
            .reports(now, |_| (0, 0, 0))
            .into_iter()
            .filter(|r| {
                r.state == DatanodeState::Live
                    && r.admin_state == AdminState::Normal
                    && !r.in_maintenance
            })
            .map(|r| NodeUse {
                id: r.id,
                rack: RackId::of(&r.rack),
                used: r.used,
                capacity: r.capacity,
            })
            .collect()
    }
}
