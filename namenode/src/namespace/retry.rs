//! The retry cache (HDFS `RetryCache`): the outcomes of recent client
//! calls, by request id and command kind, so that a call applied once but
//! whose answer was lost (a timeout, a dropped connection, a namenode
//! restart) is answered with its first outcome when the client retries it,
//! instead of being applied again (a second `create` would be a conflict,
//! a second `rename` a 404, a second `delete` a 404).
//!
//! Part of the replicated state: it changes only in `Namespace::apply`,
//! is stored (`r/` records) in the same batch as the command it remembers,
//! and is loaded back at startup, so it survives restarts and will be the
//! same on every namenode.
//!
//! Invariants:
//! - an entry lives [`TTL_MS`] after its command's timestamp (entry
//!   clocks only, never the applier's clock), and at most [`MAX_ENTRIES`]
//!   are kept, the oldest (by applied index) going first: both decided by
//!   the entries applied, so every replica drops the same ones;
//! - only successful outcomes are kept: a failed command changed nothing,
//!   so applying its retry again is harmless.
use crate::commands::{Outcome, RetryRecord};
use crate::meta_store::{RetryKey, Txn};
use std::collections::{HashMap, VecDeque};

/// How long a call's outcome is kept for its retries (HDFS
/// `dfs.namenode.retrycache.expirytime.millis`: 10 minutes).
pub const TTL_MS: u64 = 10 * 60 * 1000;
/// The most outcomes kept (about 300 bytes each in memory).
pub const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct RetryCache {
    entries: HashMap<RetryKey, RetryRecord>,
    /// (seq, key), oldest first.
    order: VecDeque<(u64, RetryKey)>,
}

impl RetryCache {
    /// The cache as stored (in any order).
    pub fn from_records(mut records: Vec<(RetryKey, RetryRecord)>) -> Self {
        records.sort_by_key(|(_, r)| r.seq);
        let mut c = RetryCache::default();
        for (k, r) in records {
            c.order.push_back((r.seq, k));
            c.entries.insert(k, r);
        }
        c
    }

    /// Every kept outcome, oldest first.
    pub fn records(&self) -> impl Iterator<Item = (&RetryKey, &RetryRecord)> + '_ {
        self.order
            .iter()
            .filter_map(|(_, k)| self.entries.get_key_value(k))
    }

    pub fn get(&self, key: &RetryKey) -> Option<&Outcome> {
        self.entries.get(key).map(|r| &r.outcome)
    }

    /// Drops what expired by `ts_ms` and what is beyond [`MAX_ENTRIES`]
    /// once one more is added.
    pub fn prune(&mut self, ts_ms: u64, txn: &mut Txn) {
        while let Some((_, key)) = self.order.front() {
            let expired = self
                .entries
                .get(key)
                .is_none_or(|r| r.ts_ms.saturating_add(TTL_MS) < ts_ms);
            if !expired && self.order.len() < MAX_ENTRIES {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                self.entries.remove(&key);
                txn.del_retry(&key);
            }
        }
    }

    pub fn insert(&mut self, key: RetryKey, rec: RetryRecord, txn: &mut Txn) {
        txn.put_retry(&key, &rec);
        self.order.push_back((rec.seq, key));
        self.entries.insert(key, rec);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::ids::RequestId;

    fn rec(seq: u64, ts_ms: u64) -> RetryRecord {
        RetryRecord {
            seq,
            ts_ms,
            outcome: Outcome::BlockAbandoned,
        }
    }

    #[test]
    fn entries_expire_by_entry_clock_oldest_first() {
        let mut c = RetryCache::default();
        let mut txn = Txn::new();
        let (a, b) = ((RequestId::new(), 1), (RequestId::new(), 1));
        c.insert(a, rec(1, 1_000), &mut txn);
        c.insert(b, rec(2, 5_000), &mut txn);
        c.prune(1_000 + TTL_MS, &mut txn);
        assert_eq!(c.len(), 2, "not yet expired");
        c.prune(1_001 + TTL_MS, &mut txn);
        assert!(c.get(&a).is_none() && c.get(&b).is_some());
        // A restart reads the records in key order; the order comes back
        // from `seq`.
        let c2 = RetryCache::from_records(vec![(b, rec(2, 5_000)), (a, rec(1, 1_000))]);
        assert_eq!(c2.order.front().map(|o| o.0), Some(1));
    }
}
