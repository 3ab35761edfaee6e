//! Re-replication: write data to 4 datanodes (replication 3), SIGKILL the
//! one holding the most, and time how long until the namenode declares it
//! dead and from then until every block is back at full replication; then
//! check the repaired files read back exact. `bench`'s repair part and
//! `repairbench` both run this one measurement.
use super::{MB, MIB};
use crate::cluster::{ClusterOptions, TestCluster};
use crate::data::{p, test_data};
use crate::wait::{poll_until, wait_until};
use anyhow::{ensure, Context, Result};
use dfs_client::{NoProgress, UploadOptions};
use dfs_common::checksum::{Sha256Digest, Sha256Hasher};
use dfs_common::units::human_bytes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What to write, and how the cluster copies.
pub struct RepairSetup {
    /// Bytes of file data (each stored 3 times).
    pub size: u64,
    pub block: u64,
    /// `--replication-max-streams` of the namenode, or its default.
    pub streams: Option<u32>,
}

/// The figures of one repair.
pub struct Repaired {
    pub files: u64,
    /// The initial write, through the client, all three replicas.
    pub write_secs: f64,
    /// Bytes of replicas the killed datanode held.
    pub lost: u64,
    /// From the SIGKILL until the namenode counts the node dead.
    pub dead_after_secs: f64,
    /// From then until nothing is under-replicated, queued or pending.
    pub repair_secs: f64,
    /// Bytes the datanodes copied meanwhile.
    pub copied: u64,
}

impl Repaired {
    pub fn rate_mbps(&self) -> f64 {
        self.copied as f64 / MB / self.repair_secs.max(1e-9)
    }
}

/// The dead-node timeout of the cluster, which the "dead after" figure is
/// bounded by (plus a heartbeat check).
pub const DEAD_NODE_TIMEOUT: &str = "3s";

/// How long a repair of `lost` bytes may take before it counts as stuck:
/// 10 MB/s at the least, and never less than 5 minutes. The wait exists to
/// turn a repair that cannot go on (a full disk) into a failure that says
/// what is left, instead of a hang; so it scales with the data. Of the two
/// copies this replaces, bench's had this rule and repairbench's waited a
/// fixed 30 minutes, which let a stuck 256 MiB run (CI's) hang for half an
/// hour and would cut off a large one that was going fine (40 GB at
/// 20 MB/s). Debug binaries repair at 80-260 MB/s here (2 shared cores), 8
/// times the floor or more.
pub fn repair_deadline(lost: u64) -> Duration {
    Duration::from_secs((lost / 10_000_000).max(300))
}

/// Runs the whole measurement on a cluster of its own.
pub async fn measure(setup: &RepairSetup) -> Result<Repaired> {
    let (size, block) = (setup.size, setup.block);
    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 4,
        block_size: block,
        dead_node_timeout: DEAD_NODE_TIMEOUT,
        heartbeat_interval: "500ms",
        lease_timeout: "60s",
        namenode_args: setup
            .streams
            .map(|n| vec!["--replication-max-streams".into(), n.to_string()])
            .unwrap_or_default(),
        ..Default::default()
    })
    .await;
    let client = cluster.client();
    let file_size = (block * 4).min(size).max(1);
    let files = size.div_ceil(file_size);
    let mut digests = Vec::new();
    let t = Instant::now();
    for i in 0..files {
        let len = file_size.min(size - i * file_size) as usize;
        let data = test_data(len, 500 + i);
        digests.push(Sha256Digest::of(&data));
        client
            .upload(
                &p(&format!("/repair/f{i}")),
                &data[..],
                &UploadOptions::default(),
                &NoProgress,
            )
            .await?;
    }
    let write_secs = t.elapsed().as_secs_f64();
    println!(
        "    wrote {} in {files} files in {write_secs:.1} s",
        human_bytes(size)
    );

    // Who holds what.
    let mut held: HashMap<usize, u64> = HashMap::new();
    for i in 0..files {
        for b in client.locations(&p(&format!("/repair/f{i}"))).await?.blocks {
            for r in b.replicas {
                if let Some(n) = cluster.node_index(&r.addr) {
                    *held.entry(n).or_default() += b.len;
                }
            }
        }
    }
    let (&victim, &lost) = held
        .iter()
        .max_by_key(|(_, b)| **b)
        .context("no replicas")?;
    let before = cluster.summary().await?.replication.completed_bytes;

    let killed = Instant::now();
    cluster.kill_datanode(victim);
    // Every 50 ms: the wait is the "dead after" figure.
    let (limit, every) = (Duration::from_secs(60), Duration::from_millis(50));
    poll_until("the killed node declared dead", limit, every, || async {
        Ok((cluster.summary().await?.dead_datanodes >= 1).then_some(()))
    })
    .await?;
    let detected = Instant::now();
    wait_repaired(&cluster, lost).await?;
    let repair_secs = detected.elapsed().as_secs_f64();
    let copied = cluster.summary().await?.replication.completed_bytes - before;
    ensure!(copied >= lost, "copied {copied} bytes but {lost} were lost");

    // The repaired cluster still serves the right bytes (first and last file).
    for i in [0, files - 1] {
        let mut r = client.open(&p(&format!("/repair/f{i}")), 0, None).await?;
        let mut h = Sha256Hasher::new();
        while let Some(piece) = r.next().await {
            h.update(&piece?);
        }
        ensure!(
            h.finish() == digests[i as usize],
            "/repair/f{i} reads back different bytes after repair"
        );
    }
    Ok(Repaired {
        files,
        write_secs,
        lost,
        dead_after_secs: (detected - killed).as_secs_f64(),
        repair_secs,
        copied,
    })
}

/// Waits until nothing is under-replicated or missing and the namenode has
/// no copy queued or in flight, for at most [`repair_deadline`] of `lost`.
pub async fn wait_repaired(cluster: &TestCluster, lost: u64) -> Result<()> {
    let limit = repair_deadline(lost);
    wait_until(
        &format!("re-replication of {} MiB", lost / MIB),
        limit,
        || async {
            let f = cluster.fsck().await?;
            let s = cluster.summary().await?;
            let done = f.under_replicated_blocks == 0
                && f.missing_blocks == 0
                && s.replication.pending_copies == 0
                && s.replication.queued_blocks == 0;
            ensure!(
                done,
                "fsck: {} under-replicated, {} missing; {} queued, {} pending; is a disk full?",
                f.under_replicated_blocks,
                f.missing_blocks,
                s.replication.queued_blocks,
                s.replication.pending_copies
            );
            Ok(Some(()))
        },
    )
    .await
}
