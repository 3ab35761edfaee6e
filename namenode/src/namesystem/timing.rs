//! Where the namespace's changes spend their time, summed since start, for
//! `/metrics` (HDFS's RpcQueueTime, RpcProcessingTime and the edit log's
//! SyncsAvgTime): waiting for the namespace's turn, holding the lock (the
//! change in memory and its submission), and waiting for the commit to be
//! durable (for a command: proposed until committed and applied here).
//! Only changes that succeed are counted (a failed one answers
//! before any commit). Divide a difference of two scrapes by the difference of
//! `changes` for a per-change average over that window.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct ChangeTimes {
    changes: AtomicU64,
    queued_us: AtomicU64,
    locked_us: AtomicU64,
    durable_wait_us: AtomicU64,
}

/// [`ChangeTimes`] read at one moment (microseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeTimesSnapshot {
    pub changes: u64,
    pub queued_us: u64,
    pub locked_us: u64,
    pub durable_wait_us: u64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl ChangeTimes {
    /// One change: how long it queued, held the lock and waited for
    /// durability (zero when it did not wait).
    pub fn add(&self, queued: Duration, locked: Duration, durable_wait: Duration) {
        self.changes.fetch_add(1, Ordering::Relaxed);
        self.queued_us.fetch_add(micros(queued), Ordering::Relaxed);
        self.locked_us.fetch_add(micros(locked), Ordering::Relaxed);
        self.durable_wait_us
            .fetch_add(micros(durable_wait), Ordering::Relaxed);
    }

    /// One command, from its proposal until it was committed and applied
    /// here (its time in the lock is counted with its batch's, by
    /// [`ChangeTimes::add_applied`]).
    pub fn add_committed(&self, wait: Duration) {
        self.changes.fetch_add(1, Ordering::Relaxed);
        self.durable_wait_us
            .fetch_add(micros(wait), Ordering::Relaxed);
    }

    /// A batch of committed commands applied: how long it queued for the
    /// namespace and held it.
    pub fn add_applied(&self, queued: Duration, locked: Duration) {
        self.queued_us.fetch_add(micros(queued), Ordering::Relaxed);
        self.locked_us.fetch_add(micros(locked), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ChangeTimesSnapshot {
        ChangeTimesSnapshot {
            changes: self.changes.load(Ordering::Relaxed),
            queued_us: self.queued_us.load(Ordering::Relaxed),
            locked_us: self.locked_us.load(Ordering::Relaxed),
            durable_wait_us: self.durable_wait_us.load(Ordering::Relaxed),
        }
    }
}
