//! The balancer's throughput: three datanodes hold `size` bytes of files
//! (replication 2), three empty ones join, and `dfs balancer --threshold 10`
//! runs with a bandwidth cap far above what the machine moves (1 GiB/s),
//! so the figure is the machinery's (copy, confirm, delete the source), not
//! the cap's. Bytes moved over the time from the start until the balancer
//! stops by itself.
use super::MB;
use crate::cluster::{ClusterOptions, TestCluster};
use crate::data::{p, test_data};
use crate::wait::wait_until;
use anyhow::{ensure, Result};
use dfs_client::{NoProgress, UploadOptions};
use std::time::{Duration, Instant};

/// The figures of one run.
pub struct Balanced {
    pub bytes_moved: u64,
    pub moves: u64,
    pub secs: f64,
}

impl Balanced {
    pub fn rate_mbps(&self) -> f64 {
        self.bytes_moved as f64 / MB / self.secs.max(1e-9)
    }
}

/// Runs the measurement on a cluster of its own.
pub async fn measure(size: u64, block: u64) -> Result<Balanced> {
    // Each full node holds 2/3 of `size`: a third of its capacity.
    let capacity = (2 * size).max(block * 64);
    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 6,
        block_size: block,
        replication: 2,
        lease_timeout: "60s",
        heartbeat_interval: "500ms",
        dead_node_timeout: "30s",
        namenode_args: vec!["--balancer-bandwidth".into(), "1GiB".into()],
        datanode_args: vec!["--capacity".into(), capacity.to_string()],
        ..Default::default()
    })
    .await;
    for i in 3..6 {
        cluster.stop_datanode(i);
    }
    let client = cluster.client();
    // Wait until the stopped ones are dead, or writes could pick them.
    wait_until("three live datanodes", Duration::from_secs(120), || async {
        Ok((client.summary().await?.live_datanodes == 3).then_some(()))
    })
    .await?;
    let file_size = (block * 4).min(size).max(1);
    let files = size.div_ceil(file_size);
    for i in 0..files {
        let len = file_size.min(size - i * file_size) as usize;
        let data = test_data(len, 700 + i);
        client
            .upload(
                &p(&format!("/balance/f{i}")),
                &data[..],
                &UploadOptions::default(),
                &NoProgress,
            )
            .await?;
    }
    for i in 3..6 {
        cluster.start_datanode(i);
    }
    cluster.wait_live(6).await;
    // Let the newcomers' first heartbeats bring their figures in.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = Instant::now();
    client.start_balancer(10.0).await?;
    let s = wait_until(
        "the balancer done",
        super::repair::repair_deadline(size),
        || async {
            let s = client.balancer_status().await?;
            Ok((!s.running && s.moves_in_flight == 0).then_some(s))
        },
    )
    .await?;
    let secs = t.elapsed().as_secs_f64();
    ensure!(
        s.last_stop.as_deref() == Some("balanced"),
        "the balancer stopped: {:?}",
        s.last_stop
    );
    ensure!(s.bytes_moved > 0, "the balancer moved nothing");
    Ok(Balanced {
        bytes_moved: s.bytes_moved,
        moves: s.moves_done,
        secs,
    })
}
