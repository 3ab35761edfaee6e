//! Counters and gauges of one datanode, and their Prometheus text for
//! `GET /metrics`. Plain atomics written by hand: a handful of numbers does
//! not need an exporter crate.
//!
//! Tests poll these (habit 10): `dfs_datanode_heartbeats_total` shows the link
//! is alive, `dfs_datanode_registered` that the namenode knows this node,
//! `dfs_datanode_scanner_*` how far the block scanner got.
//!
//! A leaf module: the block scanner's counters ([`ScannerStatus`]) live here
//! too, next to the text that shows them, so that the node state that holds
//! them does not depend on the scanner that writes them.
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Metrics {
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub blocks_received: AtomicU64,
    pub blocks_sent: AtomicU64,
    pub corrupt_replicas: AtomicU64,
    pub heartbeats: AtomicU64,
    pub heartbeat_failures: AtomicU64,
    /// Successful registrations (the first, and each after a namenode restart).
    pub registrations: AtomicU64,
    /// Re-replications (Replicate commands) that ended, by outcome.
    pub replications_ok: AtomicU64,
    pub replications_failed: AtomicU64,
    /// Replicate commands waiting for a slot.
    pub replications_queued: AtomicU64,
    pub registered: AtomicBool,
    active_transfers: Arc<AtomicU64>,
}

/// Counts one transfer in progress for as long as it lives.
pub struct TransferGuard(Arc<AtomicU64>);

impl Drop for TransferGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Marks a block transfer (read, write or re-replication) in progress
    /// until dropped.
    pub fn transfer(&self) -> TransferGuard {
        self.active_transfers.fetch_add(1, Ordering::Relaxed);
        TransferGuard(self.active_transfers.clone())
    }

    pub fn active_transfers(&self) -> u64 {
        self.active_transfers.load(Ordering::Relaxed)
    }

    /// Prometheus text format (version 0.0.4).
    pub fn render(&self, blocks: usize, used: u64, scan: &ScannerSnapshot) -> String {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let rows: [(&str, &str, &str, u64); 23] = [
            (
                "dfs_datanode_blocks",
                "gauge",
                "Replicas stored.",
                blocks as u64,
            ),
            (
                "dfs_datanode_used_bytes",
                "gauge",
                "Bytes of block data stored.",
                used,
            ),
            (
                "dfs_datanode_active_transfers",
                "gauge",
                "Block reads, writes and re-replications in progress.",
                self.active_transfers(),
            ),
            (
                "dfs_datanode_registered",
                "gauge",
                "1 when registered with the namenode.",
                self.registered.load(Ordering::Relaxed) as u64,
            ),
            (
                "dfs_datanode_bytes_received_total",
                "counter",
                "Block bytes received.",
                load(&self.bytes_received),
            ),
            (
                "dfs_datanode_bytes_sent_total",
                "counter",
                "Block bytes sent.",
                load(&self.bytes_sent),
            ),
            (
                "dfs_datanode_blocks_received_total",
                "counter",
                "Blocks made durable.",
                load(&self.blocks_received),
            ),
            (
                "dfs_datanode_blocks_sent_total",
                "counter",
                "Block reads completed.",
                load(&self.blocks_sent),
            ),
            (
                "dfs_datanode_corrupt_replicas_total",
                "counter",
                "Replicas quarantined after failing verification.",
                load(&self.corrupt_replicas),
            ),
            (
                "dfs_datanode_heartbeats_total",
                "counter",
                "Heartbeats answered by the namenode.",
                load(&self.heartbeats),
            ),
            (
                "dfs_datanode_heartbeat_failures_total",
                "counter",
                "Heartbeats that failed.",
                load(&self.heartbeat_failures),
            ),
            (
                "dfs_datanode_registrations_total",
                "counter",
                "Registrations with the namenode (one more after each namenode restart).",
                load(&self.registrations),
            ),
            (
                "dfs_datanode_replications_total",
                "counter",
                "Re-replications that reached every target.",
                load(&self.replications_ok),
            ),
            (
                "dfs_datanode_replication_failures_total",
                "counter",
                "Re-replications that failed or reached only some targets.",
                load(&self.replications_failed),
            ),
            (
                "dfs_datanode_replications_queued",
                "gauge",
                "Replicate commands waiting for a transfer slot.",
                load(&self.replications_queued),
            ),
            (
                "dfs_datanode_scanner_passes_total",
                "counter",
                "Block scanner passes completed.",
                scan.passes_completed,
            ),
            (
                "dfs_datanode_scanner_blocks_scanned_total",
                "counter",
                "Replicas the block scanner verified.",
                scan.blocks_scanned,
            ),
            (
                "dfs_datanode_scanner_bytes_scanned_total",
                "counter",
                "Bytes the block scanner read.",
                scan.bytes_scanned,
            ),
            (
                "dfs_datanode_scanner_corrupt_total",
                "counter",
                "Corrupt replicas the block scanner found.",
                scan.corrupt_found,
            ),
            (
                "dfs_datanode_scanner_vanished_total",
                "counter",
                "Replicas the block scanner found gone from disk.",
                scan.vanished_found,
            ),
            (
                "dfs_datanode_scanner_errors_total",
                "counter",
                "Replicas the block scanner could not read (I/O errors).",
                scan.errors,
            ),
            (
                "dfs_datanode_scanner_last_pass_started_unix_ms",
                "gauge",
                "Start of the last completed scan pass (unix ms; 0 = none yet).",
                scan.last_pass_started_unix_ms,
            ),
            (
                "dfs_datanode_scanner_last_pass_finished_unix_ms",
                "gauge",
                "End of the last completed scan pass (unix ms; 0 = none yet).",
                scan.last_pass_finished_unix_ms,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            // Writing to a String cannot fail.
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        }
        out
    }
}

/// Counters of the scanner, shared with `/health` and `/metrics`; only
/// [`crate::scanner`] writes them.
#[derive(Debug, Default)]
pub struct ScannerStatus {
    pub(crate) passes_completed: AtomicU64,
    pub(crate) blocks_scanned: AtomicU64,
    pub(crate) bytes_scanned: AtomicU64,
    pub(crate) corrupt_found: AtomicU64,
    pub(crate) vanished_found: AtomicU64,
    pub(crate) errors: AtomicU64,
    /// Start and end (unix ms) of the last *completed* pass; 0 = none yet.
    pub(crate) last_pass_started_unix_ms: AtomicU64,
    pub(crate) last_pass_finished_unix_ms: AtomicU64,
    /// Start of the pass in progress; 0 when idle between passes.
    pub(crate) current_pass_started_unix_ms: AtomicU64,
    pub(crate) rate: AtomicU64,
    pub(crate) period_ms: AtomicU64,
}

/// `/health` → `scanner`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannerSnapshot {
    pub passes_completed: u64,
    /// Replicas examined (good or bad).
    pub blocks_scanned: u64,
    pub bytes_scanned: u64,
    /// Replicas found corrupt, quarantined and reported.
    pub corrupt_found: u64,
    /// Replicas whose `.blk` was gone, dropped and reported deleted.
    pub vanished_found: u64,
    /// Replicas that could not be read for another reason (I/O error);
    /// they are tried again next pass.
    pub errors: u64,
    pub last_pass_started_unix_ms: u64,
    pub last_pass_finished_unix_ms: u64,
    pub current_pass_started_unix_ms: u64,
    /// Settings: bytes per second, and the period in ms.
    pub scan_rate: u64,
    pub scan_period_ms: u64,
}

impl ScannerStatus {
    pub fn snapshot(&self) -> ScannerSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ScannerSnapshot {
            passes_completed: l(&self.passes_completed),
            blocks_scanned: l(&self.blocks_scanned),
            bytes_scanned: l(&self.bytes_scanned),
            corrupt_found: l(&self.corrupt_found),
            vanished_found: l(&self.vanished_found),
            errors: l(&self.errors),
            last_pass_started_unix_ms: l(&self.last_pass_started_unix_ms),
            last_pass_finished_unix_ms: l(&self.last_pass_finished_unix_ms),
            current_pass_started_unix_ms: l(&self.current_pass_started_unix_ms),
            scan_rate: l(&self.rate),
            scan_period_ms: l(&self.period_ms),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
