//! TLS against plain HTTP, same run: two clusters of the transfer part's
//! shape, one plain and one with TLS on every port (a throwaway CA, as
//! `dfs local --tls`), and the same `dfs put` and `dfs get` (to /dev/null,
//! blocks evicted from the page cache first) on each, alternating, best of
//! two each. The TLS rows are held to the plain ones, and the servers'
//! CPU-seconds per GiB say what the encryption costs in work.
use super::process::timed;
use super::report::Report;
use super::transfers::{dfs_get, dfs_put, evict_blocks, write_source};
use super::{Sizes, MB, MIB};
use crate::cluster::{ClusterOptions, TestCluster};
use crate::p;
use anyhow::{ensure, Result};
use dfs_common::units::human_bytes;
use std::path::Path;
use std::process::Command;

/// The cluster of the transfer part, with TLS on or off.
fn options(tls: bool) -> ClusterOptions {
    ClusterOptions {
        block_size: 64 * MIB,
        replication: 3,
        lease_timeout: "60s",
        dead_node_timeout: "30s",
        heartbeat_interval: "1s",
        tls,
        ..Default::default()
    }
}

/// `cmd` with the cluster's CA in `DFS_CA_FILE` (TLS on).
fn trusting(cluster: &TestCluster, mut cmd: Command) -> Command {
    if let Some(pki) = cluster.pki() {
        cmd.env(dfs_client::tls::CA_FILE_ENV, &pki.ca);
    }
    cmd
}

pub async fn measure(rep: &mut Report, s: &Sizes) -> Result<()> {
    let size = s.transfer;
    let plain = TestCluster::start(options(false)).await;
    let tls = TestCluster::start(options(true)).await;
    ensure!(
        tls.namenode_url().starts_with("https://"),
        "the TLS cluster is not on https"
    );
    println!(
        "  (clusters in {} and {})",
        plain.root().display(),
        tls.root().display()
    );
    let src = plain.root().join("tls-bench.bin");
    write_source(&src, size)?;
    let gib = size as f64 / (1u64 << 30) as f64;
    let name = human_bytes(size);
    for c in [&plain, &tls] {
        c.client().mkdirs(&p("/bench"), true).await?;
    }
    // (best seconds, server CPU of that run) per cluster, put then get.
    let mut best = [[(f64::MAX, 0.0); 2]; 2];
    for round in 0..2 {
        for (i, c) in [&plain, &tls].into_iter().enumerate() {
            let nn = c.namenode_url();
            let dst = format!("/bench/{round}.bin");
            let put = timed(c, trusting(c, dfs_put(&nn, &src, &dst)))?;
            ensure!(
                c.client().status(&p(&dst)).await?.length == size,
                "dfs put stored other than {size} bytes"
            );
            // To /dev/null (the client checks every block's SHA-256 before
            // it writes a byte of it, and exits non-zero on a mismatch).
            evict_blocks(c);
            let get = timed(c, trusting(c, dfs_get(&nn, &dst, Path::new("-"))))?;
            c.client().delete(&p(&dst), false).await?;
            for (k, run) in [put, get].into_iter().enumerate() {
                if run.0 < best[i][k].0 {
                    best[i][k] = run;
                }
            }
        }
    }
    let rate = |secs: f64| size as f64 / MB / secs.max(1e-9);
    for (k, what) in [
        "upload {name}, dfs put",
        "download {name}, dfs get → /dev/null",
    ]
    .into_iter()
    .enumerate()
    {
        let what = what.replace("{name}", &name);
        let plain_rate = rate(best[0][k].0);
        rep.add(
            format!("{what}, plain HTTP"),
            plain_rate,
            "MB/s",
            None,
            None,
        );
        rep.add(
            format!("{what}, TLS"),
            rate(best[1][k].0),
            "MB/s",
            Some((plain_rate, "plain HTTP, same run")),
            None,
        );
        rep.add(
            format!("{what}: server CPU, plain HTTP"),
            best[0][k].1 / gib,
            "CPU-s/GiB",
            None,
            None,
        );
        rep.add(
            format!("{what}: server CPU, TLS"),
            best[1][k].1 / gib,
            "CPU-s/GiB",
            Some((best[0][k].1 / gib, "plain HTTP, same run")),
            None,
        );
    }
    std::fs::remove_file(&src)?;
    Ok(())
}
