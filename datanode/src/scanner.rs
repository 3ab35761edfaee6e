//! `BlockScanner`: a background worker that re-reads every finalized replica
//! at a bounded rate and verifies it in full (HDFS `BlockScanner` +
//! `VolumeScanner`), so that a replica rotting on a disk nobody reads is
//! found and repaired before the other copies are lost too.
//!
//! One pass: take the list of replicas held when the pass starts (sorted by
//! id), and read each through [`crate::store`], which checks every chunk's
//! CRC32C against the replica's stored checksums (its trailer, or the
//! `.meta` of an old two-file replica) and, for a whole-block read, the
//! block's SHA-256. A replica that fails (including one whose trailer or
//! `.meta` is missing, damaged or disagrees with it, or whose length is
//! wrong) goes
//! through the sender's door, [`sender::report_corrupt`]: quarantine
//! (moved to `corrupt/`, dropped from the index) and a `BadBlock` event to
//! the namenode link, after which the namenode re-replicates from a good
//! copy. A replica whose `.blk` vanished from disk is dropped from the index
//! by the store and reported deleted. Passes start every `scan_period`; a
//! pass that takes longer is followed at once by the next. Replicas written
//! after a pass started wait for the next pass.
//!
//! What it does not do: talk to the namenode (it only emits events), decide
//! what a corrupt replica means for the file, or hold any lock while reading
//! (an open file survives a concurrent delete or quarantine; the store
//! re-checks the index under its own short lock before acting).
//!
//! Invariants:
//! - Reads are paced by [`Throttle`] to `scan_rate` bytes per second on
//!   average, with at most [`BURST`] worth of catch-up after an idle spell,
//!   so client traffic never waits on the scanner for long.
//! - Shutdown is cooperative: the cancel token is checked between pieces
//!   (≤ 1 MiB) and during every pause.
//! - [`ScannerStatus`] counters only grow; `/health` and `/metrics` show them
//!   so tests can wait for "a pass that started after T has finished".
use crate::error::DatanodeError;
use crate::events::BlockEvent;
use crate::metrics::ScannerStatus;
use crate::node::Node;
use crate::sender;
use dfs_common::ids::BlockId;
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

/// Catch-up allowed after the scanner was idle or slowed by the disk: one
/// second's worth of the rate, so a pause never buys a long full-speed burst.
pub const BURST: Duration = Duration::from_secs(1);

/// What the throttle charges for a replica besides its bytes (open, stat,
/// reading the meta), so a store of many empty blocks is paced too.
const PER_BLOCK_COST: u64 = 4096;

/// The shortest gap between the starts of two passes, whatever the period:
/// an empty store must not turn the scanner into a busy loop.
const MIN_PASS_GAP: Duration = Duration::from_millis(100);

/// How the scanner runs (from [`crate::config::Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanSettings {
    /// Bytes per second, > 0.
    pub rate: u64,
    /// Time between the starts of two passes.
    pub period: Duration,
}

/// Paces reads to `rate` bytes per second (a leaky bucket). Pure: the caller
/// passes the clock in, so the arithmetic is tested without waiting.
#[derive(Debug, Clone)]
pub struct Throttle {
    rate: u64,
    /// When the bytes charged so far will have "drained" at `rate`.
    next_free: Instant,
}

impl Throttle {
    pub fn new(rate: u64, now: Instant) -> Self {
        Throttle {
            rate: rate.max(1),
            next_free: now,
        }
    }

    /// Charges `bytes` just read at `now`; returns how long to pause before
    /// reading more so that the average stays at the rate.
    pub fn charge(&mut self, bytes: u64, now: Instant) -> Duration {
        // Credit for idle time is capped at BURST.
        let floor = now.checked_sub(BURST).unwrap_or(now);
        let start = self.next_free.max(floor);
        self.next_free = start + duration_for(bytes, self.rate);
        self.next_free.saturating_duration_since(now)
    }
}

/// Time `bytes` take at `rate` bytes per second (saturating).
pub fn duration_for(bytes: u64, rate: u64) -> Duration {
    let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The scanner worker of one datanode.
pub struct BlockScanner {
    node: Arc<Node>,
    settings: ScanSettings,
    throttle: Throttle,
}

/// How one replica's scan ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Good,
    /// Quarantined and reported (or someone else did it first).
    Corrupt(String),
    /// Its file was gone; dropped and reported deleted.
    Vanished,
    /// Deleted the ordinary way while we looked; nothing to do.
    Gone,
    /// Not readable for another reason; logged, retried next pass.
    Error(String),
    /// Shutdown asked us to stop.
    Cancelled,
}

impl BlockScanner {
    pub fn new(node: Arc<Node>, settings: ScanSettings) -> Self {
        node.scanner.rate.store(settings.rate, Ordering::Relaxed);
        node.scanner.period_ms.store(
            u64::try_from(settings.period.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        BlockScanner {
            throttle: Throttle::new(settings.rate, Instant::now()),
            node,
            settings,
        }
    }

    /// Runs passes until `cancel` fires. The first pass starts at once.
    pub async fn run(mut self, cancel: CancellationToken) {
        log::info!(
            "block scanner: a pass every {:?} at {} bytes/s",
            self.settings.period,
            self.settings.rate
        );
        loop {
            let started = Instant::now();
            if !self.pass(&cancel).await {
                break;
            }
            let next = started + self.settings.period.max(MIN_PASS_GAP);
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = sleep_until(next) => {}
            }
        }
        log::info!("block scanner stopped");
    }

    /// One full pass over the replicas held now. Returns `false` when it was
    /// cut short by `cancel`.
    pub async fn pass(&mut self, cancel: &CancellationToken) -> bool {
        let node = self.node.clone();
        let status = &node.scanner;
        let started_ms = unix_ms();
        status
            .current_pass_started_unix_ms
            .store(started_ms, Ordering::Relaxed);
        let mut blocks = node.store.list();
        blocks.sort_by_key(|b| b.id);
        let (mut corrupt, mut vanished) = (0u64, 0u64);
        for b in &blocks {
            if cancel.is_cancelled() {
                return false;
            }
            // Deleted or replaced since the list was taken: not ours to judge.
            if node.store.get(b.id).map(|i| (i.len, i.sha256)) != Some((b.len, b.sha256)) {
                continue;
            }
            match self.scan_block(b.id, cancel).await {
                Verdict::Cancelled => return false,
                Verdict::Corrupt(_) => corrupt += 1,
                Verdict::Vanished => vanished += 1,
                Verdict::Good | Verdict::Gone | Verdict::Error(_) => {}
            }
        }
        let finished_ms = unix_ms();
        status
            .last_pass_started_unix_ms
            .store(started_ms, Ordering::Relaxed);
        status
            .last_pass_finished_unix_ms
            .store(finished_ms, Ordering::Relaxed);
        status
            .current_pass_started_unix_ms
            .store(0, Ordering::Relaxed);
        ScannerStatus::bump(&status.passes_completed, 1);
        let level = if corrupt + vanished > 0 {
            log::Level::Warn
        } else {
            log::Level::Debug
        };
        log::log!(
            level,
            "block scan pass done in {} ms: {} replicas, {corrupt} corrupt, {vanished} vanished",
            finished_ms.saturating_sub(started_ms),
            blocks.len()
        );
        true
    }

    /// Reads one replica in full, paced, and acts on what it finds.
    pub async fn scan_block(&mut self, id: BlockId, cancel: &CancellationToken) -> Verdict {
        let node = self.node.clone();
        let status = &node.scanner;
        let verdict = match node.store.scan_read(id).await {
            Err(e) => self.judge(id, e).await,
            Ok(mut read) => {
                let mut verdict = Verdict::Good;
                while let Some(piece) = read.stream.next().await {
                    match piece {
                        Ok(bytes) => {
                            let n = bytes.len() as u64;
                            ScannerStatus::bump(&status.bytes_scanned, n);
                            if !self.pause(n, cancel).await {
                                return Verdict::Cancelled;
                            }
                        }
                        Err(e) => {
                            verdict = self.judge(id, e).await;
                            break;
                        }
                    }
                }
                verdict
            }
        };
        if !self.pause(PER_BLOCK_COST, cancel).await {
            return Verdict::Cancelled;
        }
        ScannerStatus::bump(&status.blocks_scanned, 1);
        verdict
    }

    /// Turns a read error into a verdict, quarantining or forgetting the
    /// replica as needed.
    async fn judge(&self, id: BlockId, e: DatanodeError) -> Verdict {
        let status = &self.node.scanner;
        match e {
            DatanodeError::Corrupt { detail, .. } => {
                log::warn!("block scanner: replica {id} is corrupt: {detail}");
                if sender::report_corrupt(&self.node, id, &detail).await {
                    ScannerStatus::bump(&status.corrupt_found, 1);
                }
                Verdict::Corrupt(detail)
            }
            DatanodeError::Vanished(_) => {
                ScannerStatus::bump(&status.vanished_found, 1);
                self.node.events.send(BlockEvent::Deleted(id));
                Verdict::Vanished
            }
            DatanodeError::NotFound(_) => Verdict::Gone,
            other => {
                log::warn!(
                    "block scanner: cannot read replica {id} (will retry next pass): {other}"
                );
                ScannerStatus::bump(&status.errors, 1);
                Verdict::Error(other.to_string())
            }
        }
    }

    /// Charges `bytes` to the throttle and waits as it says. `false` if
    /// cancelled meanwhile.
    async fn pause(&mut self, bytes: u64, cancel: &CancellationToken) -> bool {
        let wait = self.throttle.charge(bytes, Instant::now());
        if wait.is_zero() {
            return !cancel.is_cancelled();
        }
        tokio::select! {
            _ = cancel.cancelled() => false,
            _ = sleep(wait) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{event_channel, EventReceiver};
    use crate::metrics::Metrics;
    use crate::store::{replica_file_bytes, BlockStore, Expected};
    use dfs_common::checksum::{BlockChecksums, Sha256Digest, CHUNK_SIZE};
    use dfs_common::ids::NodeId;

    const MIB: u64 = 1 << 20;

    #[test]
    fn throttle_paces_to_the_rate() {
        let t0 = Instant::now();
        let mut t = Throttle::new(8 * MIB, t0);
        // 1 MiB at 8 MiB/s: 125 ms of budget, and nothing was credited yet.
        assert_eq!(t.charge(MIB, t0), Duration::from_millis(125));
        // Reading 8 more MiB back to back (the caller never waits): the debt
        // adds up to exactly the time they take at the rate.
        let mut wait = Duration::ZERO;
        for _ in 0..8 {
            wait = t.charge(MIB, t0);
        }
        assert_eq!(wait, Duration::from_millis(1125));

        // A caller that waits as told reads at the rate, within one piece.
        let mut t = Throttle::new(8 * MIB, t0);
        let mut now = t0;
        let mut bytes = 0u64;
        while now < t0 + Duration::from_secs(10) {
            bytes += MIB;
            now += t.charge(MIB, now);
        }
        let rate = bytes as f64 / (now - t0).as_secs_f64();
        assert!(
            (rate - (8 * MIB) as f64).abs() / ((8 * MIB) as f64) < 0.02,
            "{rate}"
        );
    }

    #[test]
    fn idle_time_buys_at_most_one_burst() {
        let t0 = Instant::now();
        let mut t = Throttle::new(MIB, t0);
        // An hour idle: only BURST (1 s = 1 MiB here) is forgiven.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(t.charge(MIB, later), Duration::ZERO);
        assert_eq!(t.charge(MIB, later), Duration::from_secs(1));
        // A slow disk (the read itself took 5 s) does not build credit either.
        let slow = later + Duration::from_secs(5);
        assert_eq!(t.charge(2 * MIB, slow), Duration::from_secs(1));
    }

    #[test]
    fn duration_arithmetic_saturates() {
        assert_eq!(duration_for(0, 1), Duration::ZERO);
        assert_eq!(duration_for(1 << 30, 1 << 30), Duration::from_secs(1));
        assert_eq!(duration_for(3, 2), Duration::from_millis(1500));
        assert_eq!(duration_for(u64::MAX, 1), Duration::from_nanos(u64::MAX));
        assert_eq!(
            duration_for(5, 0),
            Duration::from_secs(5),
            "rate 0 is taken as 1"
        );
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    async fn node(dir: &std::path::Path) -> (Arc<Node>, EventReceiver) {
        let store = BlockStore::open(dir, None).await.unwrap();
        let (events, rx) = event_channel();
        let node = Arc::new(Node {
            id: NodeId::new(),
            advertise: "http://127.0.0.1:1".into(),
            rack: dfs_common::proto::datanode::DEFAULT_RACK.into(),
            hadoop_port: None,
            rbw: Default::default(),
            store,
            events,
            metrics: Metrics::default(),
            scanner: ScannerStatus::default(),
            keys: None,
            cluster: std::sync::Mutex::new(None),
            data_dir: dir.to_path_buf(),
        });
        (node, rx)
    }

    async fn put(node: &Node, bytes: &[u8]) -> BlockId {
        let id = BlockId::new();
        let mut w = node.store.writer(id, None).await.unwrap();
        w.write(bytes).await.unwrap();
        w.finish(Expected::default()).await.unwrap();
        id
    }

    fn scanner(node: &Arc<Node>) -> BlockScanner {
        BlockScanner::new(
            node.clone(),
            ScanSettings {
                rate: 1 << 30,
                period: Duration::from_secs(1),
            },
        )
    }

    fn events(rx: &mut EventReceiver) -> Vec<BlockEvent> {
        let mut out = Vec::new();
        while let Ok(e) = rx.try_recv() {
            out.push(e);
        }
        out
    }

    #[tokio::test]
    async fn a_pass_finds_a_flipped_byte_and_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let (node, mut rx) = node(dir.path()).await;
        let bytes = data(3 * CHUNK_SIZE + 100);
        let good = put(&node, &bytes).await;
        let bad = put(&node, &bytes).await;
        let empty = put(&node, b"").await;
        let path = node.store.block_path(bad);
        let mut on_disk = std::fs::read(&path).unwrap();
        on_disk[2 * CHUNK_SIZE + 7] ^= 0x10;
        std::fs::write(&path, on_disk).unwrap();

        let mut s = scanner(&node);
        let cancel = CancellationToken::new();
        assert!(s.pass(&cancel).await);
        let st = node.scanner.snapshot();
        assert_eq!(st.passes_completed, 1);
        assert_eq!(st.blocks_scanned, 3);
        assert_eq!(st.corrupt_found, 1);
        assert_eq!(st.vanished_found, 0);
        assert!(st.last_pass_finished_unix_ms >= st.last_pass_started_unix_ms);
        assert!(st.last_pass_started_unix_ms > 0);
        assert_eq!(st.current_pass_started_unix_ms, 0);
        assert_eq!(st.scan_rate, 1 << 30);
        assert_eq!(st.scan_period_ms, 1000);

        assert!(node.store.get(good).is_some());
        assert!(node.store.get(empty).is_some());
        assert!(node.store.get(bad).is_none(), "quarantined");
        assert!(!path.exists());
        let ev = events(&mut rx);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(matches!(&ev[0], BlockEvent::Bad { id, .. } if *id == bad));
        assert_eq!(node.metrics.corrupt_replicas.load(Ordering::Relaxed), 1);

        // The next pass finds nothing new.
        assert!(s.pass(&cancel).await);
        let st = node.scanner.snapshot();
        assert_eq!(
            (st.passes_completed, st.blocks_scanned, st.corrupt_found),
            (2, 5, 1)
        );
        assert!(events(&mut rx).is_empty());
    }

    #[tokio::test]
    async fn a_lying_meta_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let (node, _rx) = node(dir.path()).await;
        let bytes = data(2 * CHUNK_SIZE + 1);
        // (1) CRCs rewritten to match corrupted data, SHA-256 left as it was:
        // every chunk passes, the whole-block digest does not.
        let crcs_lie = put(&node, &bytes).await;
        // (2) the trailer claims another digest (the index has the true one).
        let sha_lies = put(&node, &bytes).await;
        // (3) the trailer and footer are gone.
        let no_meta = put(&node, &bytes).await;
        // (4) the trailer decodes but is inconsistent.
        let garbage = put(&node, &bytes).await;
        // (5) the data file was truncated.
        let short = put(&node, &bytes).await;
        let write =
            |id: BlockId, file: Vec<u8>| std::fs::write(node.store.block_path(id), file).unwrap();

        let mut corrupted = bytes.clone();
        corrupted[5] ^= 1;
        let mut m = BlockChecksums::of(&corrupted);
        m.sha256 = Sha256Digest::of(&bytes);
        write(crcs_lie, replica_file_bytes(&corrupted, &m).unwrap());

        let mut m = BlockChecksums::of(&bytes);
        m.sha256 = Sha256Digest::of(b"something else");
        write(sha_lies, replica_file_bytes(&bytes, &m).unwrap());
        write(no_meta, bytes.clone());
        let mut m = BlockChecksums::of(&bytes);
        m.chunk_size = 7;
        write(garbage, replica_file_bytes(&bytes, &m).unwrap());
        std::fs::OpenOptions::new()
            .write(true)
            .open(node.store.block_path(short))
            .unwrap()
            .set_len(100)
            .unwrap();

        let mut s = scanner(&node);
        let cancel = CancellationToken::new();
        for id in [crcs_lie, sha_lies, no_meta, garbage, short] {
            let v = s.scan_block(id, &cancel).await;
            assert!(matches!(v, Verdict::Corrupt(_)), "{id}: {v:?}");
            assert!(node.store.get(id).is_none());
        }
        assert_eq!(node.scanner.snapshot().corrupt_found, 5);
    }

    #[tokio::test]
    async fn a_meta_that_lied_before_a_restart_is_found() {
        // The index is built from the meta at startup, so only the data can
        // give the lie away: CRCs of the right data, a wrong SHA-256.
        let dir = tempfile::tempdir().unwrap();
        let (node, _rx) = node(dir.path()).await;
        let bytes = data(CHUNK_SIZE + 9);
        let id = put(&node, &bytes).await;
        let mut m = BlockChecksums::of(&bytes);
        m.sha256 = Sha256Digest::of(b"a lie");
        std::fs::write(
            node.store.block_path(id),
            replica_file_bytes(&bytes, &m).unwrap(),
        )
        .unwrap();
        drop(node);
        let (node, mut rx) = self::node(dir.path()).await;
        assert_eq!(
            node.store.get(id).unwrap().sha256,
            Sha256Digest::of(b"a lie")
        );
        let mut s = scanner(&node);
        assert!(s.pass(&CancellationToken::new()).await);
        assert_eq!(node.scanner.snapshot().corrupt_found, 1);
        assert!(node.store.get(id).is_none());
        assert!(matches!(&events(&mut rx)[..], [BlockEvent::Bad { id: b, .. }] if *b == id));
    }

    #[tokio::test]
    async fn a_vanished_block_is_forgotten_and_reported_deleted() {
        // `id` is a two-file replica of the old layout whose `.blk` goes
        // (its `.meta` stays behind); `both` is a one-file replica.
        let dir = tempfile::tempdir().unwrap();
        let id = BlockId::new();
        crate::store::write_two_file_for_tests(dir.path(), id, &data(1000));
        let (node, mut rx) = node(dir.path()).await;
        let both = put(&node, &data(1000)).await;
        assert!(node.store.block_path(id).with_extension("meta").exists());
        std::fs::remove_file(node.store.block_path(id)).unwrap();
        std::fs::remove_file(node.store.block_path(both)).unwrap();
        let used = node.store.used();
        let mut s = scanner(&node);
        assert!(s.pass(&CancellationToken::new()).await);
        assert!(node.store.get(id).is_none() && node.store.get(both).is_none());
        assert_eq!(used - node.store.used(), 2000);
        assert!(
            !node.store.block_path(id).with_extension("meta").exists(),
            "orphan meta removed"
        );
        let mut ev = events(&mut rx);
        ev.sort_by_key(|e| format!("{e:?}"));
        let mut want = vec![BlockEvent::Deleted(id), BlockEvent::Deleted(both)];
        want.sort_by_key(|e| format!("{e:?}"));
        assert_eq!(ev, want);
        let st = node.scanner.snapshot();
        assert_eq!((st.vanished_found, st.corrupt_found), (2, 0));
        assert!(std::fs::read_dir(dir.path().join("corrupt"))
            .unwrap()
            .next()
            .is_none());
    }

    #[tokio::test]
    async fn cancel_stops_a_slow_pass() {
        let dir = tempfile::tempdir().unwrap();
        let (node, _rx) = node(dir.path()).await;
        put(&node, &data(4 * CHUNK_SIZE)).await;
        // 1 byte/s: the first piece alone would take days.
        let mut s = BlockScanner::new(
            node.clone(),
            ScanSettings {
                rate: 1,
                period: Duration::from_secs(1),
            },
        );
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            sleep(Duration::from_millis(50)).await;
            c.cancel();
        });
        let done = tokio::time::timeout(Duration::from_secs(10), s.pass(&cancel)).await;
        assert_eq!(done.ok(), Some(false));
        assert_eq!(node.scanner.snapshot().passes_completed, 0);
        assert!(node.scanner.snapshot().current_pass_started_unix_ms > 0);
    }
}
