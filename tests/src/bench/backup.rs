//! `dfs backup` of a large namespace: how long, how large, and how metadata
//! writes (16 clients making directories) fare while it runs, against the
//! same load without it.
use super::report::Report;
use super::MIB;
use crate::cluster::{bin, TestCluster};
use crate::data::p;
use anyhow::{ensure, Result};
use dfs_client::DfsClient;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Adds the backup's figures for a namespace of `n` files to `rep`.
pub async fn measure(rep: &mut Report, cluster: &TestCluster, n: usize) -> Result<()> {
    const CLIENTS: usize = 16;
    /// Runs the mkdir load until `stop`; returns (ops, seconds).
    async fn load(url: String, tag: &'static str, stop: Arc<AtomicBool>) -> Result<(usize, f64)> {
        let t = Instant::now();
        let ops = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for k in 0..CLIENTS {
            let (c, ops, stop) = (DfsClient::new(&url)?, ops.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    c.mkdirs(&p(&format!("/bk/{tag}/c{k:02}/d{i:07}")), true)
                        .await?;
                    ops.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        Ok((ops.load(Ordering::Relaxed), t.elapsed().as_secs_f64()))
    }
    let url = cluster.namenode_url();
    let file = cluster.root().join("bench-backup.dfsck");
    // The backup alone, then the load alone for as long, then both.
    let t = Instant::now();
    let out = Command::new(bin("dfs"))
        .args(["--namenode", &url, "backup", "-f"])
        .arg(&file)
        .output()?;
    ensure!(
        out.status.success(),
        "dfs backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alone = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&file)?.len();
    rep.add(format!("dfs backup with {n} files"), alone, "s", None, None);
    rep.add(
        "  checkpoint size",
        size as f64 / MIB as f64,
        "MiB",
        None,
        None,
    );
    rep.add(
        "  checkpoint bytes per file",
        size as f64 / n.max(1) as f64,
        "B",
        None,
        None,
    );

    let stop = Arc::new(AtomicBool::new(false));
    let quiet = tokio::spawn(load(url.clone(), "quiet", stop.clone()));
    tokio::time::sleep(Duration::from_secs_f64(alone.max(2.0))).await;
    stop.store(true, Ordering::Relaxed);
    let (ops, secs) = quiet.await??;
    let without = ops as f64 / secs;

    let stop = Arc::new(AtomicBool::new(false));
    let busy = tokio::spawn(load(url.clone(), "busy", stop.clone()));
    let t = Instant::now();
    let (u, f) = (url.clone(), file.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin("dfs"))
            .args(["--namenode", &u, "backup", "-f"])
            .arg(&f)
            .output()
    })
    .await??;
    let during_secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (ops, secs) = busy.await??;
    ensure!(
        out.status.success(),
        "dfs backup under load: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let during = ops as f64 / secs;
    rep.add(
        "  dfs backup under 16 mkdir clients",
        during_secs,
        "s",
        None,
        None,
    );
    rep.add(
        "mkdir ops/s, 16 clients, no backup",
        without,
        "ops/s",
        None,
        None,
    );
    rep.add(
        "mkdir ops/s, 16 clients, during backup",
        during,
        "ops/s",
        Some((without, "same load without backup")),
        None,
    );
    std::fs::remove_file(&file)?;
    Ok(())
}
