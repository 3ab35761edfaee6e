//! Safe mode (HDFS SafeModeInfo / BlockManagerSafeMode): the startup gate.
//! After a restart the block map holds where replicas *were*; until the
//! datanodes have reported, every under-replicated count is a guess. So
//! while in safe mode the namenode answers reads but refuses every change
//! to the namespace, and schedules no copies and no deletions.
//!
//! It starts on when the namespace holds complete blocks, and leaves by
//! itself once blocks covering `threshold` of them have at least one replica
//! reported by a datanode registered since this start, plus `extension`.
//! An operator can enter it (then only an operator leaves it) or leave it.
//!
//! What it does not do: count blocks (the namesystem hands it the numbers)
//! or enforce itself (the namesystem checks [`SafeMode::refusal`] before
//! every mutation and the replication monitor skips its work).
//!
//! The arithmetic is pure ([`blocks_needed`]) and the clock is passed in,
//! so it is tested without waiting.
use std::time::Duration;
use tokio::time::Instant;

/// Blocks that must be reported for `threshold` of `total`: the ceiling, so
/// 0.999 of 40 needs all 40 and 0.999 of 10 000 needs 9 990. A threshold
/// of 0 needs none.
pub fn blocks_needed(total: u64, threshold: f64) -> u64 {
    if total == 0 || threshold <= 0.0 {
        return 0;
    }
    let t = threshold.min(1.0);
    // Round away float noise before taking the ceiling (0.999 * 10_000
    // is 9989.999999999998 in f64).
    let exact = (total as f64 * t * 1e6).round() / 1e6;
    (exact.ceil() as u64).min(total)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    /// Entered at startup; leaves by itself. `reached` is when the
    /// threshold was first met (the extension runs from there).
    Startup {
        reached: Option<Instant>,
    },
    /// Entered by an operator; only an operator leaves it.
    Manual,
}

#[derive(Debug, Clone)]
pub struct SafeMode {
    mode: Mode,
    threshold: f64,
    extension: Duration,
    reported: u64,
    total: u64,
}

impl SafeMode {
    /// On at startup when there are complete blocks to wait for.
    pub fn new(total_blocks: u64, threshold: f64, extension: Duration) -> Self {
        let mode = if total_blocks > 0 && blocks_needed(total_blocks, threshold) > 0 {
            Mode::Startup { reached: None }
        } else {
            Mode::Off
        };
        SafeMode {
            mode,
            threshold,
            extension,
            reported: 0,
            total: total_blocks,
        }
    }

    pub fn is_on(&self) -> bool {
        self.mode != Mode::Off
    }

    /// True while it waits for block reports (the namesystem only counts
    /// then).
    pub fn is_automatic(&self) -> bool {
        matches!(self.mode, Mode::Startup { .. })
    }

    /// Entered by an operator (and not left since).
    pub fn is_manual(&self) -> bool {
        matches!(self.mode, Mode::Manual)
    }

    /// Feeds the latest counts. Returns true when this call left safe mode.
    pub fn update(&mut self, reported: u64, total: u64, now: Instant) -> bool {
        self.reported = reported;
        self.total = total;
        let Mode::Startup { reached } = self.mode else {
            return false;
        };
        if reported < blocks_needed(total, self.threshold) {
            self.mode = Mode::Startup { reached: None };
            return false;
        }
        let since = reached.unwrap_or(now);
        if now.saturating_duration_since(since) >= self.extension {
            self.mode = Mode::Off;
            true
        } else {
            self.mode = Mode::Startup {
                reached: Some(since),
            };
            false
        }
    }

    /// An operator enters safe mode.
    pub fn enter(&mut self) {
        self.mode = Mode::Manual;
    }

    /// An operator leaves safe mode (also one entered at startup).
    pub fn leave(&mut self) {
        self.mode = Mode::Off;
    }

    /// Why the namenode is in safe mode, or `None` when it is not.
    pub fn reason(&self, now: Instant) -> Option<String> {
        // 0.999 → "99.9" (rounded, so no float noise shows).
        let pct = (self.threshold * 100_000.0).round() / 1000.0;
        match self.mode {
            Mode::Off => None,
            Mode::Manual => Some(
                "namenode is in safe mode: entered by an operator; it stays until an operator \
                 leaves it (POST /api/v1/safemode?action=leave)"
                    .to_string(),
            ),
            Mode::Startup { reached: None } => Some(format!(
                "namenode is in safe mode: {} of {} blocks reported (need {pct}%, {} blocks); \
                 it leaves safe mode by itself once datanodes report",
                self.reported,
                self.total,
                blocks_needed(self.total, self.threshold)
            )),
            Mode::Startup {
                reached: Some(since),
            } => {
                let left = self
                    .extension
                    .saturating_sub(now.saturating_duration_since(since));
                Some(format!(
                    "namenode is in safe mode: {} of {} blocks reported (need {pct}%); \
                     threshold reached, leaving safe mode in {}s",
                    self.reported,
                    self.total,
                    left.as_secs_f64().ceil() as u64
                ))
            }
        }
    }

    /// The error message for a refused change, or `None` to go ahead.
    pub fn refusal(&self, now: Instant) -> Option<String> {
        self.reason(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_arithmetic() {
        assert_eq!(blocks_needed(0, 0.999), 0);
        assert_eq!(blocks_needed(40, 0.999), 40);
        assert_eq!(blocks_needed(10_000, 0.999), 9_990);
        assert_eq!(blocks_needed(1000, 0.999), 999);
        assert_eq!(blocks_needed(10, 0.5), 5);
        assert_eq!(blocks_needed(11, 0.5), 6);
        assert_eq!(blocks_needed(7, 1.0), 7);
        assert_eq!(blocks_needed(7, 0.0), 0);
        assert_eq!(blocks_needed(3, 2.0), 3, "clamped");
    }

    #[tokio::test(start_paused = true)]
    async fn startup_waits_for_reports_then_the_extension() {
        let mut sm = SafeMode::new(40, 0.999, Duration::from_secs(5));
        assert!(sm.is_on());
        let now = Instant::now();
        assert!(!sm.update(12, 40, now));
        let r = sm.reason(now).unwrap();
        assert!(r.contains("12 of 40 blocks reported"), "{r}");
        assert!(r.contains("99.9%"), "{r}");
        assert!(r.contains("leaves safe mode by itself"), "{r}");
        assert!(!sm.update(40, 40, now), "extension");
        assert!(sm.reason(now).unwrap().contains("leaving safe mode in 5s"));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(sm.update(40, 40, Instant::now()));
        assert!(!sm.is_on());
        assert!(sm.reason(Instant::now()).is_none());
        // Once off, it stays off whatever the counts say.
        assert!(!sm.update(0, 40, Instant::now()));
        assert!(!sm.is_on());
    }

    #[test]
    fn empty_namespace_starts_off_and_operators_rule() {
        let now = Instant::now();
        let mut sm = SafeMode::new(0, 0.999, Duration::ZERO);
        assert!(!sm.is_on());
        sm.enter();
        assert!(sm.is_on());
        assert!(!sm.update(10, 10, now), "manual: not left by reports");
        assert!(sm.refusal(now).unwrap().contains("operator"));
        sm.leave();
        assert!(!sm.is_on());
        // Leaving early works too.
        let mut sm = SafeMode::new(5, 1.0, Duration::ZERO);
        sm.leave();
        assert!(!sm.is_on());
        // Threshold 0: nothing to wait for.
        assert!(!SafeMode::new(5, 0.0, Duration::ZERO).is_on());
        // No extension: leaves as soon as the threshold is met.
        let mut sm = SafeMode::new(2, 0.5, Duration::ZERO);
        assert!(sm.update(1, 2, now));
    }
}
