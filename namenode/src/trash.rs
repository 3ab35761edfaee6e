//! The trash emptier (HDFS `TrashPolicyDefault.Emptier`): at every multiple
//! of `--trash-interval` on the wall clock, the leader deletes the trash
//! checkpoints older than the interval and rolls each user's `Current`
//! into a new checkpoint (`Namesystem::roll_trash`). Aligned on the wall
//! clock, not on the process's start, so restarts and changes of leader do
//! not put it off: what `rm` moved to the trash is deleted one to two
//! intervals later.
//!
//! What it does not do: move anything to the trash (the `trash` call,
//! `namespace/trash.rs`), or run on a follower.
use crate::namesystem::{now_ms, Namesystem};
use crate::workers::Workers;
use std::sync::Arc;
use std::time::Duration;

/// How often the emptier looks at the clock: a few times an interval,
/// bounded to [100 ms, 60 s].
pub fn check_period(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
}

/// Which interval of the wall clock `now_ms` falls in.
pub fn epoch(now_ms: u64, interval: Duration) -> u64 {
    now_ms / (interval.as_millis() as u64).max(1)
}

pub fn start(workers: &mut Workers, ns: Arc<Namesystem>) {
    let interval = ns.config().trash_interval;
    if interval.is_zero() {
        return;
    }
    let mut last: Option<u64> = None;
    workers.spawn_periodic("trash-emptier", check_period(interval), move || {
        let now = now_ms();
        let e = epoch(now, interval);
        // The first look only notes the interval it is in.
        let due = last.is_some_and(|l| l != e);
        if last.is_none() || due {
            last = Some(e);
        }
        let ns = ns.clone();
        async move {
            if !due || !ns.leads_surely().await {
                return;
            }
            if let Err(e) = ns.roll_trash(now).await {
                log::error!("trash emptier: {e}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emptier_runs_once_per_interval_of_the_wall_clock() {
        let day = Duration::from_secs(86_400);
        assert_eq!(check_period(day), Duration::from_secs(60));
        assert_eq!(
            check_period(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(epoch(86_399_999, day), 0);
        assert_eq!(epoch(86_400_000, day), 1);
    }
}
