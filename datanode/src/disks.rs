//! `DiskChecker`: the background worker that watches the data dirs (HDFS
//! `DatasetVolumeChecker` + `failed.volumes.tolerated`).
//!
//! Every [`CHECK_EVERY`] it has the store probe each disk in service (its
//! dir is there, a small file can be written and synced) and read its free
//! space, so that a disk that fails while idle is found too; the data path
//! finds the others at its first I/O error (see the store's `volume.rs`).
//! For each disk the store takes out of service, it reports the replicas
//! that were on it deleted (the namenode then copies them from other nodes)
//! and counts the failed disks: past `--max-failed-disks` it trips the
//! node's [`Fatal`] switch, which stops the node with an error naming the
//! disk (HDFS stops a DataNode the same way; the default tolerates none).
//!
//! Does not touch block files itself, nor talk to the namenode: it only
//! emits events for the namenode link.
//!
//! Invariants: a failed disk's replicas are reported lost with it, and
//! again [`REANNOUNCE_AFTER`] later for those still not on the node (a
//! commit racing the failure could report one received in between);
//! shutdown is cooperative (the cancel token is checked between checks).
use crate::events::BlockEvent;
use crate::node::Node;
use crate::store::VolumeFailure;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// How often each disk in service is probed: often enough that an idle
/// disk's failure is reported within a heartbeat or two, rarely enough that
/// the probe's fsync costs nothing worth counting.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// When the replicas of a failed disk are reported lost a second time (see
/// [`DiskChecker`]'s `on_failure`).
const REANNOUNCE_AFTER: Duration = Duration::from_secs(2);

/// A reason the node must stop, and the switch that says so (tripped once,
/// read by [`crate::run`]).
#[derive(Default)]
pub struct Fatal {
    token: CancellationToken,
    why: Mutex<Option<String>>,
}

impl Fatal {
    /// Asks the node to stop, for `why` (the first reason wins).
    pub fn trip(&self, why: String) {
        let mut w = self.why.lock().unwrap_or_else(|e| e.into_inner());
        w.get_or_insert(why);
        self.token.cancel();
    }

    /// Resolves once tripped.
    pub async fn tripped(&self) {
        self.token.cancelled().await
    }

    /// Why it was tripped (`None`: it was not).
    pub fn why(&self) -> Option<String> {
        self.why.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The disk checker of one datanode.
pub struct DiskChecker {
    node: Arc<Node>,
    max_failed: usize,
    fatal: Arc<Fatal>,
}

impl DiskChecker {
    pub fn new(node: Arc<Node>, max_failed: usize, fatal: Arc<Fatal>) -> Self {
        DiskChecker {
            node,
            max_failed,
            fatal,
        }
    }

    /// Runs until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let Some(mut failures) = self.node.store.take_failures() else {
            log::error!("disk checker: the store's failures are watched elsewhere");
            return;
        };
        let mut tick = interval_at(Instant::now() + CHECK_EVERY, CHECK_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => self.node.store.check_volumes().await,
                Some(failure) = failures.recv() => self.on_failure(failure),
            }
        }
        log::info!("disk checker stopped");
    }

    fn on_failure(&self, f: VolumeFailure) {
        for id in &f.lost {
            self.node.events.send(BlockEvent::Deleted(*id));
        }
        // A write that committed on the disk just as it failed may report
        // its replica received after this (it was announced lost): say it
        // again once such reports are out, for each replica still not here
        // (one copied back onto another disk meanwhile is not denied).
        let (node, lost) = (self.node.clone(), f.lost.clone());
        tokio::spawn(async move {
            tokio::time::sleep(REANNOUNCE_AFTER).await;
            for id in lost {
                if node.store.get(id).is_none() {
                    node.events.send(BlockEvent::Deleted(id));
                }
            }
        });
        let failed = self.node.store.failed_volumes();
        let total = self.node.store.volumes().len();
        if failed > self.max_failed {
            let why = format!(
                "data dir {} failed ({}): {failed} of {total} data dirs have failed, more than \
                 --max-failed-disks {} tolerates; stopping this datanode",
                f.dir.display(),
                f.reason,
                self.max_failed
            );
            log::error!("{why}");
            self.fatal.trip(why);
        } else {
            log::warn!(
                "data dir {} is out of service ({}); {} replicas reported lost; this datanode \
                 goes on with the other {} data dir(s) ({failed} failed, --max-failed-disks {})",
                f.dir.display(),
                f.reason,
                f.lost.len(),
                total - failed,
                self.max_failed
            );
        }
    }
}
