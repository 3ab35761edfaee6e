//! `membench`: the peak resident memory of every process while one large
//! file goes through a real cluster four ways (`dfs put`, `dfs get`, seed
//! `/upload_file` and `/download_file` with curl), each copy checked
//! bit-exact, held to a limit. Unlike [`super::transfers`] it measures
//! memory only: the page cache is left alone and there is no ceiling.
use super::process::{proc_rss, run_measured, server_pids};
use super::transfers::{dfs_get, dfs_put, seed_download, seed_upload, sha256_file, write_source};
use super::MIB;
use crate::cluster::{ClusterOptions, TestCluster};
use crate::data::p;
use anyhow::{ensure, Result};
use dfs_common::units::human_bytes;

/// The peaks of one run.
pub struct MemoryRun {
    pub size: u64,
    /// (step, peak RSS of its client process, seconds).
    pub clients: Vec<(String, u64, f64)>,
    /// (server, peak RSS over the whole run).
    pub servers: Vec<(String, u64)>,
}

/// Moves `size` bytes through a fresh cluster (64 MiB blocks, replication 3).
pub async fn measure(size: u64) -> Result<MemoryRun> {
    let cluster = TestCluster::start(ClusterOptions {
        block_size: 64 * MIB,
        lease_timeout: "60s",
        dead_node_timeout: "30s",
        ..Default::default()
    })
    .await;
    let dir = cluster.root().join("bench");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("big.bin");
    write_source(&src, size)?;
    let want = sha256_file(&src)?;
    let nn = cluster.namenode_url();
    let mut clients: Vec<(String, u64, f64)> = Vec::new();
    // `dfs put` needs the parent, as `hdfs dfs -put` does.
    cluster.client().mkdirs(&p("/bench"), true).await?;

    let (secs, rss) = run_measured(&mut dfs_put(&nn, &src, "/bench/cli.bin"))?;
    clients.push(("dfs put".into(), rss, secs));

    let out = dir.join("cli-out.bin");
    let (secs, rss) = run_measured(&mut dfs_get(&nn, "/bench/cli.bin", &out))?;
    clients.push(("dfs get".into(), rss, secs));
    ensure!(
        sha256_file(&out)? == want,
        "dfs get returned different bytes"
    );
    std::fs::remove_file(&out)?;

    let (secs, rss) = run_measured(&mut seed_upload(&nn, &src, "/bench", "seed.bin"))?;
    clients.push(("curl /upload_file".into(), rss, secs));

    let (secs, rss) = run_measured(&mut seed_download(&nn, "/bench/seed.bin", &out))?;
    clients.push(("curl /download_file".into(), rss, secs));
    ensure!(
        sha256_file(&out)? == want,
        "/download_file returned different bytes"
    );

    let servers = server_pids(&cluster)
        .into_iter()
        .map(|(name, pid)| (name, proc_rss(pid).0))
        .collect();
    Ok(MemoryRun {
        size,
        clients,
        servers,
    })
}

impl MemoryRun {
    /// The table: each client step, then each server.
    pub fn print(&self, limit: u64) {
        println!(
            "membench: {} file, 64 MiB blocks, replication 3, limit {}",
            human_bytes(self.size),
            human_bytes(limit)
        );
        println!(
            "{:<22} {:>12} {:>10} {:>12}",
            "step (client)", "peak RSS", "seconds", "throughput"
        );
        for (name, rss, secs) in &self.clients {
            let mbps = self.size as f64 / secs.max(1e-9) / MIB as f64;
            println!(
                "{name:<22} {:>12} {secs:>10.1} {:>9.0} MiB/s",
                human_bytes(*rss),
                mbps
            );
        }
        println!("{:<22} {:>12}", "server (whole run)", "peak RSS");
        for (name, rss) in &self.servers {
            println!("{name:<22} {:>12}", human_bytes(*rss));
        }
    }

    /// The dfs processes (servers, and the `dfs` clients; not curl) whose
    /// peak passed `limit`, as "name peak".
    pub fn over(&self, limit: u64) -> Vec<String> {
        let mut over: Vec<String> = self
            .servers
            .iter()
            .filter(|(_, r)| *r > limit)
            .map(|(n, r)| format!("{n} {}", human_bytes(*r)))
            .collect();
        over.extend(
            self.clients
                .iter()
                .filter(|(n, r, _)| n.starts_with("dfs") && *r > limit)
                .map(|(n, r, _)| format!("{n} {}", human_bytes(*r))),
        );
        over
    }
}
