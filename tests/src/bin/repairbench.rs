//! Re-replication benchmark: how fast a lost datanode's data is copied again.
//!
//! Starts 4 datanodes (replication 3), writes `--size` of data (default 1 GiB
//! in 64 MiB blocks), SIGKILLs the datanode holding the most replicas, and
//! measures (a) how long until the namenode declares it dead and (b) how long
//! from then until every block is back at full replication, printing the
//! repair rate in MB/s.
//!
//! `cargo run --release -p dfs-tests --bin repairbench -- --size 1GiB`
//! with `DFS_BIN_DIR=target/release` to measure release binaries.
use dfs_client::{NoProgress, UploadOptions};
use dfs_common::units::{human_bytes, ByteSize};
use dfs_tests::{p, test_data, ClusterOptions, TestCluster};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let size = arg("--size")
        .map_or(Ok(ByteSize(1 << 30)), |s| s.parse())?
        .0;
    let block = arg("--block-size")
        .map_or(Ok(ByteSize(64 << 20)), |s| s.parse())?
        .0;
    let streams = arg("--streams").unwrap_or_else(|| "4".into());

    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 4,
        block_size: block,
        dead_node_timeout: "3s",
        heartbeat_interval: "500ms",
        lease_timeout: "60s",
        namenode_args: vec!["--replication-max-streams".into(), streams.clone()],
        ..Default::default()
    })
    .await;
    let c = cluster.client();
    let file_size = (block * 4).min(size).max(1);
    let files = size.div_ceil(file_size);
    let t = Instant::now();
    for i in 0..files {
        let len = file_size.min(size - i * file_size) as usize;
        let data = test_data(len, i + 1);
        c.upload(
            &p(&format!("/bench/f{i}")),
            &data[..],
            &UploadOptions::default(),
            &NoProgress,
        )
        .await?;
    }
    let write_secs = t.elapsed().as_secs_f64();

    // Who holds what.
    let mut held: HashMap<usize, u64> = HashMap::new();
    for i in 0..files {
        for b in c.locations(&p(&format!("/bench/f{i}"))).await?.blocks {
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
        .ok_or_else(|| anyhow::anyhow!("no replicas"))?;
    let before = cluster.summary().await?.replication.completed_bytes;

    let killed = Instant::now();
    cluster.kill_datanode(victim);
    loop {
        if cluster.summary().await?.dead_datanodes >= 1 {
            break;
        }
        anyhow::ensure!(
            killed.elapsed() < Duration::from_secs(60),
            "node never declared dead"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let detected = Instant::now();
    loop {
        let f = cluster.fsck().await?;
        let s = cluster.summary().await?;
        if f.under_replicated_blocks == 0
            && f.missing_blocks == 0
            && s.replication.pending_copies == 0
            && s.replication.queued_blocks == 0
        {
            break;
        }
        anyhow::ensure!(
            detected.elapsed() < Duration::from_secs(1800),
            "repair did not finish in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let repair_secs = detected.elapsed().as_secs_f64();
    let copied = cluster.summary().await?.replication.completed_bytes - before;
    let mb = |b: u64, s: f64| b as f64 / 1e6 / s.max(1e-9);
    println!(
        "repairbench: {} written in {} files ({} blocks), 4 datanodes, replication 3, {streams} streams per node",
        human_bytes(size),
        files,
        human_bytes(block)
    );
    println!(
        "  initial write          {write_secs:>8.1} s  {:>8.1} MB/s (client, 3 replicas)",
        mb(size, write_secs)
    );
    println!("  lost with the node     {:>10}", human_bytes(lost));
    println!(
        "  dead after             {:>8.1} s  (dead-node timeout 3s)",
        (detected - killed).as_secs_f64()
    );
    println!(
        "  re-replicated          {:>10} in {repair_secs:.1} s",
        human_bytes(copied)
    );
    println!(
        "  repair rate            {:>8.1} MB/s",
        mb(copied, repair_secs)
    );
    anyhow::ensure!(copied >= lost, "copied {copied} bytes but {lost} were lost");
    Ok(())
}
