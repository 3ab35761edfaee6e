//! The balancer's operator side of [`Namesystem`]: start, stop, status,
//! and the eligible nodes' figures its step reads (the step itself runs in
//! the replication tick, see `balancing`).
//!
//! The run an operator started, with its threshold, is replicated
//! (`Command::SetBalancer`, a `records::BalancerRun`): the leader runs it,
//! a new leader takes it up (`reconcile_balancer`, from the replication
//! tick), and a run that finished by itself (balanced, or no move left) is
//! recorded as done (`Command::BalancerDone`, which leaves a later run
//! alone), so that no later leader starts it again.
use super::*;
use crate::balancer::NodeUse;
use crate::placement::RackId;
use crate::records::BalancerRun;
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
        let run = BalancerRun {
            id: uuid::Uuid::new_v4().as_u64_pair().0,
            threshold_milli: (threshold * 1000.0).round() as u32,
        };
        self.execute(Command::SetBalancer { run: Some(run) })
            .await?;
        let mut q = self.repl();
        // (Unless the tick took the run up already.)
        if q.balancer.run() != Some(run.id) || !q.balancer.is_running() {
            q.balancer.start(run.id, threshold);
        }
        log::info!("balancer started (threshold {threshold} points)");
        Ok(q.balancer.status(self.config.balancer_bandwidth))
    }

    /// `POST /api/v1/balancer/stop`: no new move; those in flight finish.
    pub async fn stop_balancer(&self) -> Result<BalancerStatus> {
        self.execute(Command::SetBalancer { run: None }).await?;
        let mut q = self.repl();
        q.balancer.stop("stopped");
        Ok(q.balancer.status(self.config.balancer_bandwidth))
    }

    /// `GET /api/v1/balancer`.
    pub fn balancer_status(&self) -> BalancerStatus {
        self.repl().balancer.status(self.config.balancer_bandwidth)
    }

    /// The leader's balancer against the run an operator started (from the
    /// replication tick): a new leader takes the run up; a run that ended
    /// by itself here is recorded as done (so that no later leader starts
    /// it again); a run stopped elsewhere stops here.
    pub(super) async fn reconcile_balancer(&self) -> Result<()> {
        let wanted = self.lock_async().await?.cluster().balancer;
        let done = {
            let mut q = self.repl();
            let running = q.balancer.is_running();
            match wanted {
                Some(r) if q.balancer.run() == Some(r.id) && q.balancer.finished() => Some(r.id),
                Some(r) if !running || q.balancer.run() != Some(r.id) => {
                    let threshold = f64::from(r.threshold_milli) / 1000.0;
                    log::info!(
                        "balancer run taken up by this leader (threshold {threshold} points)"
                    );
                    q.balancer.start(r.id, threshold);
                    None
                }
                None if running => {
                    q.balancer.stop("stopped");
                    None
                }
                _ => None,
            }
        };
        if let Some(id) = done {
            self.execute(Command::BalancerDone { id }).await?;
        }
        Ok(())
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

/// Why a namenode that stopped leading stopped its balancer.
pub(super) const NOT_LEADER: &str = "not the leader";
