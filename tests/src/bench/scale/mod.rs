//! The namenode at scale (issue 17): for each size N (1 M and 10 M files in
//! a full run), a namespace of N single-block files is bulk-loaded
//! ([`loader`], in a child process: the allocator keeps much of what a
//! 10 M-file load touched) into a stopped namenode's store, and the part
//! reports
//! - the load itself (time, store size on disk);
//! - the first start on that store (the journal's base and the log the
//!   loader left after it, replayed as after a crash) and the clean stop
//!   after it (which folds the log into a new base);
//! - restart time: the real binary started again, from that base, until
//!   `/health` answers 200 (it is then in startup safe mode: no datanode
//!   holds these blocks), and how long the first `/health` takes once the
//!   port is open;
//! - resident memory per file: VmRSS once the datanodes are back, less the
//!   VmRSS of the same namenode empty, measured the same way, over N;
//! - the latency of `/health`, `/metrics` and `/api/v1/summary` ([`probe`])
//!   idle, then while 16 clients write 4 KiB files, with their rate.
//!
//! Each size gets a fresh cluster (namenode + 3 datanodes, replication 3,
//! 64 MiB blocks). The loaded replicas name three datanodes that never
//! come; the dead-node timeout is an hour so that they stay *awaiting
//! registration* (their replicas count) rather than turning every block
//! into repair work mid-measurement. Safe mode is left by the operator
//! call (`POST /api/v1/safemode?action=leave`), as an operator would after
//! a restart whose datanodes are gone.
pub mod loader;
pub mod probe;

use super::process::{proc_rss, reset_peak};
use super::report::Report;
use super::{Sizes, MIB};
use crate::cluster::{ClusterOptions, TestCluster};
use crate::data::{p, test_data};
use crate::wait::poll_until;
use anyhow::{ensure, Context, Result};
use dfs_client::{DfsClient, NoProgress, UploadOptions};
use dfs_common::proto::client::SafeModeAction;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Writers during the latency measurement (the figure).
const WRITERS: usize = 16;
/// The prober's pause between rounds of the three endpoints.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// The goals.
const GOAL_BYTES_PER_FILE: f64 = 300.0;
const GOAL_RESTART_SECS: f64 = 10.0;
const GOAL_P99_MS: f64 = 5.0;
/// Disk and memory a loaded file takes, with room (1,242 B in the store
/// and a peak of 1,260 MiB resident at 1 M files: docs/BENCHMARKS.md), to
/// refuse a size that would fill the disk or the memory rather than fail
/// half-way.
const DISK_BYTES_PER_FILE: u64 = 2000;
const MEMORY_BYTES_PER_FILE: u64 = 2000;

/// Runs the part at every size of `s.scale_files`, each on a fresh cluster.
pub async fn measure(rep: &mut Report, s: &Sizes) -> Result<()> {
    for &n in &s.scale_files {
        measure_one(rep, n, s.scale_load).await?;
    }
    Ok(())
}

/// MemAvailable from /proc/meminfo, in bytes (0 if unreadable).
fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A namenode restart, measured.
struct Restart {
    /// The clean stop before it (SIGTERM to exit: the log is folded into a
    /// base then).
    stop_secs: f64,
    /// Until the port accepts connections: the namenode binds it once the
    /// store is read and the namespace rebuilt.
    listening_secs: f64,
    /// Until `/health` answers 200.
    health_secs: f64,
    /// The first `/health` once the port accepts connections, whatever
    /// its answer (it once built the block-health tally: issue 17).
    first_health_ms: f64,
    /// VmHWM and VmRSS once every datanode is live again.
    hwm: u64,
    rss: u64,
}

/// The namenode stopped and started again (see [`Restart`]).
async fn restart(cluster: &mut TestCluster) -> Result<Restart> {
    let t = Instant::now();
    cluster.stop_namenode_within(Duration::from_secs(600));
    let stop_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    cluster.start_namenode();
    let url = cluster.namenode_url();
    let addr = url.trim_start_matches("http://").to_string();
    let limit = Duration::from_secs(1800);
    // Polled every 10 ms: the waits are the figures.
    let every = Duration::from_millis(10);
    poll_until("the restarted namenode's port", limit, every, || async {
        Ok(tokio::net::TcpStream::connect(&addr)
            .await
            .is_ok()
            .then_some(()))
    })
    .await?;
    let listening_secs = t.elapsed().as_secs_f64();
    let health = format!("{url}/health");
    let http = reqwest::Client::builder().no_proxy().build()?;
    let first = Instant::now();
    http.get(&health).send().await?.bytes().await?;
    let first_health_ms = first.elapsed().as_secs_f64() * 1e3;
    poll_until("the restarted namenode's /health", limit, every, || async {
        let r = http.get(&health).send().await?;
        Ok(r.status().is_success().then_some(()))
    })
    .await?;
    let health_secs = t.elapsed().as_secs_f64();
    cluster.wait_live(cluster.opts.datanodes).await;
    let pid = cluster.namenode_pid().context("no namenode")?;
    let (hwm, rss) = proc_rss(pid);
    Ok(Restart {
        stop_secs,
        listening_secs,
        health_secs,
        first_health_ms,
        hwm,
        rss,
    })
}

async fn measure_one(rep: &mut Report, n: usize, load: Duration) -> Result<()> {
    let mut cluster = TestCluster::start(ClusterOptions {
        block_size: 64 * MIB,
        replication: 3,
        lease_timeout: "60s",
        dead_node_timeout: "1h",
        heartbeat_interval: "1s",
        ..Default::default()
    })
    .await;
    println!("  {n} files (cluster in {})", cluster.root().display());
    let need = n as u64 * DISK_BYTES_PER_FILE + 1024 * MIB;
    let free = fs4::statvfs(cluster.root())?.available_space();
    ensure!(
        free >= need,
        "{} has {} MiB free; {n} files need about {} MiB (fewer: --scale-files)",
        cluster.root().display(),
        free / MIB,
        need / MIB
    );

    let mem = available_memory();
    let need = n as u64 * MEMORY_BYTES_PER_FILE + 1024 * MIB;
    ensure!(
        mem >= need,
        "{} MiB of memory available; {n} files need about {} MiB (fewer: --scale-files)",
        mem / MIB,
        need / MIB
    );

    // The empty namenode, measured as the loaded one will be.
    let empty = restart(&mut cluster).await?;
    let empty_rss = empty.rss;
    println!(
        "    (empty namenode: restart {:.2} s, RSS {:.1} MiB)",
        empty.health_secs,
        empty_rss as f64 / MIB as f64
    );

    cluster.stop_namenode();
    let dir = cluster.namenode_dir();
    let stats = tokio::task::spawn_blocking(move || loader::bulk_load_in_child(&dir, n)).await??;
    rep.add(
        format!("bulk load of {n} files (store, no API)"),
        stats.secs,
        "s",
        None,
        None,
    );
    rep.add(
        "  records written per second",
        stats.records as f64 / stats.secs,
        "ops/s",
        None,
        None,
    );
    rep.add(
        "  metadata store on disk, bytes per file",
        stats.disk_bytes as f64 / n.max(1) as f64,
        "B",
        None,
        None,
    );

    // The first start reads the store the loader wrote (a base and a log);
    // its clean stop folds the log into the base the second start reads.
    let scan = restart(&mut cluster).await?;
    rep.add(
        format!("first start with {n} files, from the store, to serving /health"),
        scan.health_secs,
        "s",
        None,
        None,
    );
    rep.add(
        "  namenode RSS after it, per file (less empty)",
        scan.rss.saturating_sub(empty_rss) as f64 / n.max(1) as f64,
        "B",
        None,
        None,
    );
    let Restart {
        stop_secs,
        listening_secs,
        health_secs,
        first_health_ms,
        hwm,
        rss,
    } = restart(&mut cluster).await?;
    rep.add(
        format!("clean stop with {n} files (folds the log into a base)"),
        stop_secs,
        "s",
        None,
        None,
    );
    rep.add(
        format!("restart with {n} files, from the base, to accepting connections"),
        listening_secs,
        "s",
        None,
        None,
    );
    rep.add(
        format!("restart with {n} files, from the base, to serving /health"),
        health_secs,
        "s",
        Some((GOAL_RESTART_SECS, "goal 10 s")),
        Some("<= 10 s at 10 M files"),
    );
    rep.add(
        "  the first GET /health once listening",
        first_health_ms,
        "ms",
        None,
        None,
    );
    let per_file = rss.saturating_sub(empty_rss) as f64 / n.max(1) as f64;
    rep.add(
        format!("namenode RSS per file ({n} files, less empty)"),
        per_file,
        "B",
        Some((GOAL_BYTES_PER_FILE, "goal 300 B")),
        Some("<= 300 B per file"),
    );
    rep.add(
        "  namenode RSS holding them",
        rss as f64 / MIB as f64,
        "MiB",
        None,
        None,
    );
    rep.add(
        "  namenode peak RSS during the restart",
        hwm as f64 / MIB as f64,
        "MiB",
        None,
        None,
    );
    println!(
        "    (empty namenode RSS {:.1} MiB)",
        empty_rss as f64 / MIB as f64
    );

    // Writable again: out of safe mode, directories for the writers.
    let client = cluster.client();
    let sm = client.safe_mode(SafeModeAction::Leave).await?;
    ensure!(!sm.safe_mode, "still in safe mode: {:?}", sm.reason);
    for k in 0..WRITERS {
        client.mkdirs(&p(&format!("/load/c{k:02}")), true).await?;
    }
    let url = cluster.namenode_url();
    let pid = cluster.namenode_pid().context("no namenode")?;

    let idle = run_probe(&url, load / 4, None).await?;
    add_latencies(rep, &idle, "idle", None);

    reset_peak(pid);
    let written = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let busy = run_probe(&url, load, Some(written.clone())).await?;
    let ops = written.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    add_latencies(rep, &busy, "16 writers", Some(GOAL_P99_MS));
    rep.add(
        format!("4 KiB files written meanwhile, {WRITERS} clients"),
        ops,
        "ops/s",
        None,
        None,
    );
    let (hwm, _) = proc_rss(pid);
    rep.add(
        "  namenode peak RSS while written to",
        hwm as f64 / MIB as f64,
        "MiB",
        None,
        None,
    );

    // The load was the namespace it claims to be.
    let summary = client.content_summary(&p("/scale")).await?;
    ensure!(
        summary.file_count as usize == n,
        "/scale holds {} files, not {n}",
        summary.file_count
    );
    let last = client.status(&p(&loader::file_path(n - 1))).await?;
    ensure!(
        last.length == loader::FILE_LEN,
        "{}: {last:?}",
        loader::file_path(n - 1)
    );
    snapshot_of_all(rep, &cluster, n).await
}

/// A snapshot of the directory of all `n` files (issue 21: well under a
/// second, about no memory per file): the time `create` takes through the
/// API, and what the namenode's RSS grew by.
async fn snapshot_of_all(rep: &mut Report, cluster: &TestCluster, n: usize) -> Result<()> {
    use dfs_common::proto::client::SnapshotRequest;
    let client = cluster.client();
    let pid = cluster.namenode_pid().context("no namenode")?;
    let req = |name: Option<&str>| SnapshotRequest {
        path: p("/scale"),
        name: name.map(str::to_string),
        new_name: None,
    };
    client.snapshot("allow", &req(None)).await?;
    let (_, before) = proc_rss(pid);
    let t = Instant::now();
    let made = client.snapshot("create", &req(Some("bench"))).await?;
    let secs = t.elapsed().as_secs_f64();
    let (_, after) = proc_rss(pid);
    // It is one: a file of it reads as the live one.
    let seen = client
        .status(&p(&format!(
            "{}/{}",
            made.path,
            &loader::file_path(n - 1)["/scale/".len()..]
        )))
        .await?;
    ensure!(seen.length == loader::FILE_LEN, "{seen:?}");
    rep.add(
        format!("snapshot of a directory of {n} files (create, through the API)"),
        secs * 1e3,
        "ms",
        None,
        Some("well under 1 s"),
    );
    rep.add(
        format!("  namenode RSS added by it ({n} files)"),
        after.saturating_sub(before) as f64 / MIB as f64,
        "MiB",
        None,
        Some("about none per file"),
    );
    client.snapshot("delete", &req(Some("bench"))).await?;
    client.snapshot("disallow", &req(None)).await?;
    Ok(())
}

/// Probes for `dur`; with `writers`, 16 clients write 4 KiB files under
/// `/load` meanwhile and count them there.
async fn run_probe(
    url: &str,
    dur: Duration,
    writers: Option<Arc<AtomicUsize>>,
) -> Result<probe::Samples> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    if let Some(written) = &writers {
        for k in 0..WRITERS {
            let (c, stop, written) = (DfsClient::new(url)?, stop.clone(), written.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let data = test_data(4096, (k as u64) << 32 | i);
                    let path = p(&format!("/load/c{k:02}/f{i:07}"));
                    c.upload(&path, &data[..], &UploadOptions::default(), &NoProgress)
                        .await
                        .with_context(|| format!("upload {path}"))?;
                    written.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                anyhow::Ok(())
            }));
        }
    }
    let prober = probe::spawn(url, PROBE_EVERY, stop.clone());
    tokio::time::sleep(dur).await;
    stop.store(true, Ordering::Relaxed);
    let samples = tokio::task::spawn_blocking(move || prober.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the prober's thread panicked"))?;
    for t in tasks {
        t.await??;
    }
    samples
}

/// Rows for each endpoint: p99 (against `goal_ms`), p50 and max.
fn add_latencies(rep: &mut Report, samples: &probe::Samples, when: &str, goal_ms: Option<f64>) {
    for (endpoint, v) in samples {
        rep.add(
            format!("GET {endpoint} p99, {when} ({} probes)", v.len()),
            probe::quantile(v, 0.99),
            "ms",
            goal_ms.map(|g| (g, "goal 5 ms")),
            goal_ms.map(|_| "< 5 ms at p99"),
        );
        for (name, q) in [("p50", 0.5), ("max", 1.0)] {
            rep.add(
                format!("  GET {endpoint} {name}, {when}"),
                probe::quantile(v, q),
                "ms",
                None,
                None,
            );
        }
    }
}
