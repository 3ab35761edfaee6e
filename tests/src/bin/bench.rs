//! The benchmark: dfs measured against this machine's own limits, in one run.
//!
//! First it measures the ceilings (loopback TCP, sequential disk write with
//! fsync, SHA-256 on one core, 4 KiB write+fsync and loopback round trips per
//! second), then it starts a local cluster (namenode + 3 datanodes,
//! replication 3, 64 MiB blocks, data in a temp dir on the local disk) and
//! reports every figure as MB/s or ops/s and as a ratio to the ceiling that
//! bounds it:
//! - 1 GiB upload/download through `dfs put` / `dfs get` (block protocol) and
//!   through the seed endpoints `/upload_file` / `/download_file` (curl),
//!   each copy checked bit-exact, with the peak RSS of every process; each
//!   download both into a local file and to /dev/null (the data path alone);
//! - 4 KiB files created and read back per second, 1 and 16 clients;
//! - mkdir, stat, rename per second (16 clients, and 1), listing a
//!   10,000-entry directory;
//! - the namenode with 1,000,000 files: resident memory, restart time;
//! - re-replication throughput after a datanode holding GiBs is killed
//!   (a second cluster with 4 datanodes).
//!
//! It prints a table and writes it as JSON (`--json FILE`, default
//! `target/bench/bench-<UTC time>.json`). No timed assertions: it exits
//! non-zero only when a measurement fails (wrong bytes, an error).
//!
//! ```sh
//! cargo build --release --workspace --bins
//! cargo run --release -p dfs-tests --bin bench            # full (~5 min on 2 cores)
//! cargo run -p dfs-tests --bin bench -- --quick           # small sizes (CI)
//! ```
//! A release build of `bench` uses `target/release` binaries, a debug build
//! `target/debug`, unless `DFS_BIN_DIR` says otherwise.
//!
//! Flags: `--quick`, `--json FILE`, `--only SECTIONS` (comma list of
//! `transfers,small,meta,namespace,repair`; the ceilings always run),
//! `--size SIZE` (big transfers), `--namespace-files N`, `--repair-size SIZE`.
use anyhow::{ensure, Context, Result};
use datanode::direct::{DirectBuf, DirectWriter};
use dfs_client::{DfsClient, NoProgress, UploadOptions};
use dfs_common::checksum::{Sha256Digest, Sha256Hasher};
use dfs_common::proto::client::{CompleteRequest, CreateRequest};
use dfs_common::units::{human_bytes, ByteSize};
use dfs_tests::{bin, p, test_data, ClusterOptions, TestCluster};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const MB: f64 = 1e6;

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
struct Row {
    section: String,
    figure: String,
    value: f64,
    unit: String,
    /// The limit this figure is compared with, in the same unit.
    ceiling: Option<f64>,
    /// What that limit is.
    bound: String,
    /// value / ceiling.
    ratio: Option<f64>,
    /// The issue's goal for this figure, if it sets one.
    goal: Option<String>,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    failures: Vec<String>,
    section: String,
}

impl Report {
    fn add(
        &mut self,
        figure: impl Into<String>,
        value: f64,
        unit: &str,
        ceiling: Option<(f64, &str)>,
        goal: Option<&str>,
    ) {
        let row = Row {
            section: self.section.clone(),
            figure: figure.into(),
            value,
            unit: unit.into(),
            ceiling: ceiling.map(|c| c.0),
            bound: ceiling.map_or_else(String::new, |c| c.1.to_string()),
            ratio: ceiling.map(|c| value / c.0.max(1e-12)),
            goal: goal.map(str::to_string),
        };
        println!(
            "  {:<46} {:>12} {:<6} {}",
            row.figure,
            fmt_num(row.value),
            row.unit,
            row.ratio
                .map(|r| format!("({} of {})", fmt_ratio(r), row.bound))
                .unwrap_or_default()
        );
        self.rows.push(row);
    }
}

fn fmt_ratio(r: f64) -> String {
    if r >= 0.095 {
        format!("{r:.2}")
    } else {
        format!("{r:.3}")
    }
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The machine's limits, measured in this run.
#[derive(Debug, Clone, Copy, Serialize)]
struct Ceilings {
    loopback_mbps: f64,
    disk_fsync_mbps: f64,
    sha256_mbps: f64,
    fsync_ops: f64,
    rtt_1_ops: f64,
    rtt_16_ops: f64,
}

impl Ceilings {
    fn upload(&self) -> f64 {
        self.loopback_mbps
            .min(self.sha256_mbps)
            .min(self.disk_fsync_mbps / 3.0)
    }
    fn download(&self) -> f64 {
        self.loopback_mbps.min(self.sha256_mbps)
    }
    fn repair(&self) -> f64 {
        self.loopback_mbps
            .min(self.sha256_mbps)
            .min(self.disk_fsync_mbps)
    }
    fn rtt(&self, clients: usize) -> f64 {
        if clients > 1 {
            self.rtt_16_ops
        } else {
            self.rtt_1_ops
        }
    }
}

#[derive(Debug, Clone)]
struct Sizes {
    transfer: u64,
    loopback: u64,
    disk: u64,
    sha: u64,
    small_files: usize,
    meta_ops: usize,
    meta_ops_single: usize,
    namespace_files: usize,
    repair: u64,
    repair_block: u64,
}

impl Sizes {
    fn full() -> Self {
        Sizes {
            transfer: GIB,
            loopback: 2 * GIB,
            disk: GIB,
            sha: 256 * MIB,
            small_files: 2000,
            meta_ops: 10_000,
            meta_ops_single: 2000,
            namespace_files: 1_000_000,
            repair: 3 * GIB,
            repair_block: 64 * MIB,
        }
    }
    fn quick() -> Self {
        Sizes {
            transfer: 64 * MIB,
            loopback: 256 * MIB,
            disk: 256 * MIB,
            sha: 64 * MIB,
            small_files: 200,
            meta_ops: 1000,
            meta_ops_single: 200,
            namespace_files: 10_000,
            repair: 256 * MIB,
            repair_block: 16 * MIB,
        }
    }
}

fn main() -> Result<()> {
    // A release build of bench measures release binaries unless told.
    if std::env::var_os("DFS_BIN_DIR").is_none() {
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
        std::env::set_var("DFS_BIN_DIR", target.join(profile));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let quick = args.iter().any(|a| a == "--quick");
    let mut sizes = if quick { Sizes::quick() } else { Sizes::full() };
    if let Some(s) = arg("--size") {
        sizes.transfer = s.parse::<ByteSize>()?.0;
    }
    if let Some(s) = arg("--namespace-files") {
        sizes.namespace_files = s.parse()?;
    }
    if let Some(s) = arg("--repair-size") {
        sizes.repair = s.parse::<ByteSize>()?.0;
    }
    let only: Option<Vec<String>> =
        arg("--only").map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    let wanted = |s: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == s));
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let json_path = arg("--json").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/bench")
            .join(format!("bench-{}.json", utc_stamp(started_unix)))
    });
    let mode = if quick { "quick" } else { "full" };
    let bin_dir = std::env::var("DFS_BIN_DIR").unwrap_or_default();
    let machine = machine_info();
    let git = git_state();
    println!(
        "bench ({mode}): binaries in {bin_dir}; {}; git {}",
        machine
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        git
    );

    let mut rep = Report::default();
    let total = Instant::now();

    // The ceilings, in a temp dir where the clusters keep their data.
    rep.section = "ceilings".into();
    println!("\n== machine ceilings");
    let scratch = tempfile::Builder::new().prefix("dfs-bench-").tempdir()?;
    // The biggest part keeps three copies of its data (and the transfers a
    // source file and a downloaded copy besides): refuse to start rather
    // than fill the disk half-way through.
    let repair_need = if wanted("repair") {
        4 * sizes.repair
    } else {
        0
    };
    let transfer_need = if wanted("transfers") {
        6 * sizes.transfer
    } else {
        0
    };
    let needed = repair_need.max(transfer_need).max(sizes.disk) + GIB;
    let free = fs4::statvfs(scratch.path())?.available_space();
    ensure!(
        free >= needed,
        "{} has {} MiB free; this run needs about {} MiB (smaller sizes: --quick, --size, \
         --repair-size)",
        scratch.path().display(),
        free / MIB,
        needed / MIB
    );
    let ceil = measure_ceilings(&mut rep, &sizes, scratch.path()).await?;
    drop(scratch);

    // Each section on a fresh cluster, so that one failing (or hanging
    // until the client's timeouts) cannot spoil the others.
    let sections: [(&str, &str); 5] = [
        ("transfers", "big transfers"),
        ("small", "4 KiB files"),
        ("meta", "metadata operations"),
        ("namespace", "namenode with many files"),
        ("repair", "re-replication"),
    ];
    for (key, title) in sections {
        if !wanted(key) {
            continue;
        }
        rep.section = key.into();
        println!(
            "\n== {title} ({:.0} s into the run)",
            total.elapsed().as_secs_f64()
        );
        let r = if key == "repair" {
            repair(&mut rep, &ceil, &sizes).await
        } else {
            let mut cluster = TestCluster::start(ClusterOptions {
                block_size: 64 * MIB,
                replication: 3,
                lease_timeout: "60s",
                dead_node_timeout: "30s",
                heartbeat_interval: "1s",
                ..Default::default()
            })
            .await;
            println!("  (cluster in {})", cluster.root().display());
            match key {
                "transfers" => transfers(&mut rep, &cluster, &ceil, &sizes).await,
                "small" => small_files(&mut rep, &cluster, &ceil, &sizes).await,
                "meta" => metadata(&mut rep, &cluster, &ceil, &sizes).await,
                _ => namespace(&mut rep, &mut cluster, &sizes).await,
            }
        };
        if let Err(e) = r {
            eprintln!("bench: {title} FAILED: {e:#}");
            rep.failures.push(format!("{title}: {e:#}"));
        }
    }

    let secs = total.elapsed().as_secs_f64();
    print_table(&rep, mode, secs);
    #[derive(Serialize)]
    struct JsonOut<'a> {
        mode: &'a str,
        started_unix: u64,
        started_utc: String,
        duration_secs: f64,
        git: String,
        machine: Vec<(String, String)>,
        bin_dir: String,
        command: String,
        ceilings: Ceilings,
        rows: &'a [Row],
        failures: &'a [String],
    }
    let out = JsonOut {
        mode,
        started_unix,
        started_utc: utc_stamp(started_unix),
        duration_secs: secs,
        git,
        machine,
        bin_dir,
        command: args.join(" "),
        ceilings: ceil,
        rows: &rep.rows,
        failures: &rep.failures,
    };
    if let Some(dir) = json_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&json_path, serde_json::to_string_pretty(&out)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!("json: {}", json_path.display());
    if !rep.failures.is_empty() {
        eprintln!("bench: {} measurement(s) failed:", rep.failures.len());
        for f in &rep.failures {
            eprintln!("  - {f}");
        }
        std::process::exit(1);
    }
    Ok(())
}

fn print_table(rep: &Report, mode: &str, secs: f64) {
    println!("\n== results ({mode} mode, {secs:.0} s)");
    println!(
        "| {:<46} | {:>10} | {:<6} | {:>10} | {:<34} | {:>6} |",
        "figure", "value", "unit", "ceiling", "bounded by", "ratio"
    );
    println!(
        "|{}|{}|{}|{}|{}|{}|",
        "-".repeat(48),
        "-".repeat(12),
        "-".repeat(8),
        "-".repeat(12),
        "-".repeat(36),
        "-".repeat(8)
    );
    let mut section = "";
    for r in &rep.rows {
        if r.section != section {
            section = &r.section;
            println!(
                "| {:<46} | {:>10} | {:<6} | {:>10} | {:<34} | {:>6} |",
                format!("**{section}**"),
                "",
                "",
                "",
                "",
                ""
            );
        }
        println!(
            "| {:<46} | {:>10} | {:<6} | {:>10} | {:<34} | {:>6} |",
            r.figure,
            fmt_num(r.value),
            r.unit,
            r.ceiling.map(fmt_num).unwrap_or_default(),
            r.bound,
            r.ratio.map(fmt_ratio).unwrap_or_default()
        );
    }
}

// ---------------------------------------------------------------- ceilings

async fn measure_ceilings(rep: &mut Report, s: &Sizes, dir: &Path) -> Result<Ceilings> {
    // Loopback TCP: one sender, one receiver, 1 MiB writes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let total = s.loopback;
    let receiver = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await?;
        let mut buf = vec![0u8; MIB as usize];
        let mut got = 0u64;
        loop {
            let n = sock.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        anyhow::Ok(got)
    });
    let t = Instant::now();
    let mut sock = tokio::net::TcpStream::connect(addr).await?;
    let buf = test_data(MIB as usize, 7);
    let mut sent = 0u64;
    while sent < total {
        sock.write_all(&buf).await?;
        sent += buf.len() as u64;
    }
    sock.shutdown().await?;
    drop(sock);
    let got = receiver.await??;
    let loopback = got as f64 / MB / t.elapsed().as_secs_f64();
    ensure!(got == sent, "loopback: sent {sent} bytes, received {got}");
    rep.add(
        format!("loopback TCP ({}, 1 MiB writes)", human_bytes(total)),
        loopback,
        "MB/s",
        None,
        None,
    );

    // Sequential write with fsync, on the disk the cluster uses, both ways a
    // program can write: through the page cache, and direct (O_DIRECT, as
    // the datanodes write blocks). The disk's rate is the better of the two.
    // Every MiB written differs (a repeated buffer can be compressed or
    // deduplicated under the file system, which real data cannot).
    let path = dir.join("ceiling-disk.bin");
    let disk_bytes = s.disk;
    let p2 = path.clone();
    let (buffered, direct) = tokio::task::spawn_blocking(move || -> Result<(f64, Option<f64>)> {
        // The better of two runs each: other work on the machine only ever
        // slows it.
        let mut buffered = 0f64;
        let mut direct: Option<f64> = None;
        for round in 0..2 {
            buffered = buffered.max(timed_disk_write(&p2, disk_bytes, false, round)?.0);
            let (rate, was_direct) = timed_disk_write(&p2, disk_bytes, true, round)?;
            if was_direct {
                direct = Some(direct.unwrap_or(0.0).max(rate));
            }
        }
        Ok((buffered, direct))
    })
    .await??;
    let disk = buffered.max(direct.unwrap_or(0.0));
    rep.add(
        format!(
            "disk write + fsync, page cache, best of 2 ({})",
            human_bytes(disk_bytes)
        ),
        buffered,
        "MB/s",
        None,
        None,
    );
    match direct {
        Some(rate) => rep.add(
            format!(
                "disk write + fsync, O_DIRECT, best of 2 ({})",
                human_bytes(disk_bytes)
            ),
            rate,
            "MB/s",
            None,
            None,
        ),
        None => {
            println!("  (this file system refuses O_DIRECT: the disk ceiling is the buffered rate)")
        }
    }
    rep.add(
        "disk write ceiling (the better way)",
        disk,
        "MB/s",
        None,
        None,
    );

    // Small synchronous writes: 4 KiB write + fdatasync, one thread.
    let p3 = dir.join("ceiling-fsync.bin");
    let fsync_ops = tokio::task::spawn_blocking(move || -> Result<f64> {
        let buf = [0x5au8; 4096];
        let mut f = std::fs::File::create(&p3)?;
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < Duration::from_secs(2) || n < 20 {
            f.write_all(&buf)?;
            f.sync_data()?;
            n += 1;
        }
        let ops = n as f64 / t.elapsed().as_secs_f64();
        drop(f);
        std::fs::remove_file(&p3)?;
        Ok(ops)
    })
    .await??;
    rep.add(
        "4 KiB append + fdatasync, 1 thread",
        fsync_ops,
        "ops/s",
        None,
        None,
    );

    // SHA-256 on one core (dfs_common's hasher: SHA-NI where present).
    let sha_len = s.sha as usize;
    let sha = tokio::task::spawn_blocking(move || {
        let data = test_data(sha_len, 11);
        let t = Instant::now();
        let mut h = Sha256Hasher::new();
        for c in data.chunks(MIB as usize) {
            h.update(c);
        }
        let d = h.finish();
        std::hint::black_box(d);
        sha_len as f64 / MB / t.elapsed().as_secs_f64()
    })
    .await?;
    rep.add(
        format!("SHA-256, one core ({})", human_bytes(s.sha)),
        sha,
        "MB/s",
        None,
        None,
    );

    // Loopback round trips (64-byte ping-pong): the floor under any RPC.
    let rtt_1 = round_trips(1).await?;
    rep.add(
        "loopback round trips, 1 connection",
        rtt_1,
        "ops/s",
        None,
        None,
    );
    let rtt_16 = round_trips(16).await?;
    rep.add(
        "loopback round trips, 16 connections",
        rtt_16,
        "ops/s",
        None,
        None,
    );
    let c = Ceilings {
        loopback_mbps: loopback,
        disk_fsync_mbps: disk,
        sha256_mbps: sha,
        fsync_ops,
        rtt_1_ops: rtt_1,
        rtt_16_ops: rtt_16,
    };
    rep.add("pipelined upload ceiling", c.upload(), "MB/s", None, None);
    rep.add("download ceiling", c.download(), "MB/s", None, None);
    Ok(c)
}

/// Writes `bytes` of data that differs in every MiB to a new file at `path`,
/// then fsyncs it; returns MB/s and whether the writes were direct (a file
/// system may refuse O_DIRECT). The file is removed afterwards.
fn timed_disk_write(path: &Path, bytes: u64, direct: bool, seed: u64) -> Result<(f64, bool)> {
    let mut buf = DirectBuf::new(MIB as usize);
    buf.fill_from(&test_data(MIB as usize, 9 + seed));
    let t = Instant::now();
    let mut w = if direct {
        DirectWriter::create_new(path)?
    } else {
        DirectWriter::create_buffered(path)?
    };
    let was_direct = w.is_direct();
    let mut written = 0u64;
    let mut n = 0u64;
    while written < bytes {
        // A counter in every 4 KiB page: no two pages of the file alike.
        n += 1;
        for page in buf.filled_mut().chunks_mut(4096) {
            page[..8].copy_from_slice(&n.to_le_bytes());
        }
        w.write_all(buf.filled())?;
        written += MIB;
    }
    let was_direct = was_direct && w.is_direct();
    w.into_file().sync_all()?;
    let secs = t.elapsed().as_secs_f64();
    std::fs::remove_file(path)?;
    Ok((written as f64 / MB / secs, was_direct))
}

/// Request/response pairs per second over `conns` loopback connections,
/// each a tokio task doing 64-byte ping-pong for about a second.
async fn round_trips(conns: usize) -> Result<f64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut b = [0u8; 64];
                while s.read_exact(&mut b).await.is_ok() {
                    if s.write_all(&b).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            let mut b = [1u8; 64];
            let mut n = 0u64;
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(1500) {
                s.write_all(&b).await?;
                s.read_exact(&mut b).await?;
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let mut n = 0;
    for t in tasks {
        n += t.await??;
    }
    let ops = n as f64 / t.elapsed().as_secs_f64();
    server.abort();
    Ok(ops)
}

// ---------------------------------------------------------------- processes

/// Runs a command to completion; its wall time and peak RSS.
///
/// The peak is the highest VmHWM read from /proc every 10 ms while it runs.
/// (wait4's ru_maxrss is no use here: Linux carries the parent's high-water
/// mark across fork+exec, so every child would report this process's.)
fn run_measured(cmd: &mut Command) -> Result<(f64, u64)> {
    let t = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let pid = child.id();
    let mut stderr = child.stderr;
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut s);
        }
        s
    });
    let mut status = 0;
    let mut peak = 0u64;
    loop {
        peak = peak.max(proc_rss(pid).0);
        // Safe: waitpid on our own child, WNOHANG.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        ensure!(r >= 0, "waitpid failed");
        if r == pid as libc::pid_t {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let secs = t.elapsed().as_secs_f64();
    let err = err_reader.join().unwrap_or_default();
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed ({status}): {}",
        err.trim()
    );
    Ok((secs, peak))
}

/// (VmHWM, VmRSS) of a running process, in bytes.
fn proc_rss(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets a process's VmHWM to its current RSS (Linux `clear_refs` 5).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn sha256_file(path: &Path) -> Result<Sha256Digest> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256Hasher::new();
    let mut buf = vec![0u8; MIB as usize];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

fn write_source(path: &Path, size: u64) -> Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut buf = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        for c in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(())
}

// ---------------------------------------------------------------- transfers

/// Drops every block file of the cluster from the page cache (best effort:
/// clean pages only, which all of them are once written and synced), so that
/// each download reads from the disk, as the first read of a file would,
/// and not from the memory an earlier download filled.
fn evict_blocks(cluster: &TestCluster) {
    fn evict_dir(dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                evict_dir(&path);
            } else if let Ok(f) = File::open(&path) {
                use std::os::fd::AsRawFd;
                // SAFETY: a hint about a descriptor we own for the call.
                unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
            }
        }
    }
    for i in 0..cluster.opts.datanodes {
        evict_dir(&cluster.datanode_dir(i).join("blocks"));
    }
}

async fn transfers(rep: &mut Report, cluster: &TestCluster, c: &Ceilings, s: &Sizes) -> Result<()> {
    let size = s.transfer;
    let dir = cluster.root().join("bench");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("big.bin");
    write_source(&src, size)?;
    let want = sha256_file(&src)?;
    let out = dir.join("out.bin");
    let nn = cluster.namenode_url();
    let dfs = bin("dfs");
    let name = human_bytes(size);
    let mut servers: Vec<(String, u32)> = Vec::new();
    if let Some(pid) = cluster.namenode_pid() {
        servers.push(("namenode".into(), pid));
    }
    for i in 0..cluster.opts.datanodes {
        if let Some(pid) = cluster.datanode_pid(i) {
            servers.push((format!("datanode-{i}"), pid));
        }
    }
    for (_, pid) in &servers {
        reset_peak(*pid);
    }
    let up = (c.upload(), "pipelined upload ceiling");
    let down = (c.download(), "download ceiling");
    let to_file = (
        c.download().min(c.disk_fsync_mbps),
        "min(download ceiling, disk write)",
    );
    let mut clients: Vec<(String, u64)> = Vec::new();
    let rate = |secs: f64| size as f64 / MB / secs.max(1e-9);
    // `dfs put` needs the parent, as `hdfs dfs -put` does.
    cluster.client().mkdirs(&p("/bench"), true).await?;

    let (secs, rss) = run_measured(Command::new(&dfs).args([
        "--namenode",
        &nn,
        "put",
        &src.display().to_string(),
        "/bench/cli.bin",
    ]))?;
    rep.add(
        format!("upload {name}, dfs put"),
        rate(secs),
        "MB/s",
        Some(up),
        Some(">= 0.60"),
    );
    clients.push(("dfs put".into(), rss));
    let st = cluster.client().status(&p("/bench/cli.bin")).await?;
    ensure!(
        st.length == size,
        "dfs put stored {} bytes, not {size}",
        st.length
    );

    evict_blocks(cluster);
    let (secs, rss) = run_measured(Command::new(&dfs).args([
        "--namenode",
        &nn,
        "get",
        "/bench/cli.bin",
        &out.display().to_string(),
    ]))?;
    ensure!(
        sha256_file(&out)? == want,
        "dfs get returned different bytes"
    );
    std::fs::remove_file(&out)?;
    rep.add(
        format!("download {name}, dfs get → local file (fsynced)"),
        rate(secs),
        "MB/s",
        Some(to_file),
        None,
    );
    clients.push(("dfs get".into(), rss));

    // The data path alone: the same download to stdout (/dev/null), so that
    // the client's own disk is not part of the figure. The client checks
    // every block's SHA-256 before it writes a byte of it, and exits non-zero
    // on a mismatch; the copy above was compared byte for byte.
    evict_blocks(cluster);
    let (secs, rss) =
        run_measured(Command::new(&dfs).args(["--namenode", &nn, "get", "/bench/cli.bin", "-"]))?;
    rep.add(
        format!("download {name}, dfs get → stdout (/dev/null)"),
        rate(secs),
        "MB/s",
        Some(down),
        Some(">= 0.70"),
    );
    clients.push(("dfs get -".into(), rss));

    let (secs, rss) = run_measured(Command::new("curl").args([
        "-sSf",
        "-o",
        "/dev/null",
        "-F",
        "directory=/bench",
        "-F",
        &format!("file=@{};filename=seed.bin", src.display()),
        &format!("{nn}/upload_file"),
    ]))?;
    rep.add(
        format!("upload {name}, POST /upload_file"),
        rate(secs),
        "MB/s",
        Some(up),
        Some(">= 0.60"),
    );
    clients.push(("curl /upload_file".into(), rss));

    // `/download_file` into `to`, read from the disk.
    let seed_download = |to: &str| {
        evict_blocks(cluster);
        run_measured(Command::new("curl").args([
            "-sSf",
            "-o",
            to,
            "-d",
            "file_name=/bench/seed.bin",
            &format!("{nn}/download_file"),
        ]))
    };
    let (secs, rss) = seed_download(&out.display().to_string())?;
    ensure!(
        sha256_file(&out)? == want,
        "/download_file returned different bytes"
    );
    std::fs::remove_file(&out)?;
    rep.add(
        format!("download {name}, POST /download_file → local file"),
        rate(secs),
        "MB/s",
        Some(to_file),
        None,
    );
    clients.push(("curl /download_file".into(), rss));

    // The data path alone, as for `dfs get` above: the same download to
    // /dev/null. The namenode checks every block's SHA-256 before it sends
    // the block's last piece, and the copy above was compared byte for byte.
    let (secs, _) = seed_download("/dev/null")?;
    rep.add(
        format!("download {name}, POST /download_file → /dev/null"),
        rate(secs),
        "MB/s",
        Some(down),
        Some(">= 0.70"),
    );

    let budget = Some((300.0, "budget 300 MiB"));
    for (n, pid) in &servers {
        let (hwm, _) = proc_rss(*pid);
        rep.add(
            format!("peak RSS {n} (all transfers)"),
            hwm as f64 / MIB as f64,
            "MiB",
            budget,
            Some("< 300 MiB"),
        );
    }
    for (n, rss) in &clients {
        rep.add(
            format!("peak RSS {n} (client process)"),
            *rss as f64 / MIB as f64,
            "MiB",
            if n.starts_with("dfs") { budget } else { None },
            None,
        );
    }
    let client = cluster.client();
    client.delete(&p("/bench"), true).await?;
    std::fs::remove_file(&src)?;
    Ok(())
}

// ---------------------------------------------------------------- many ops

/// Runs `f(client, i)` for i in 0..n on `tasks` tokio tasks, each with its
/// own `DfsClient` (its own connections). Returns ops per second.
async fn parallel<F, Fut>(url: &str, n: usize, tasks: usize, f: F) -> Result<f64>
where
    F: Fn(DfsClient, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<DfsClient> = (0..tasks)
        .map(|_| DfsClient::new(url))
        .collect::<std::result::Result<_, _>>()?;
    let t = Instant::now();
    let mut handles = Vec::new();
    for client in clients {
        let f = f.clone();
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                f(client.clone(), i).await?;
            }
        }));
    }
    let mut first_err = None;
    for h in handles {
        if let Err(e) = h.await? {
            first_err.get_or_insert(e);
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

fn small_data(i: usize) -> Vec<u8> {
    test_data(4096, 1_000_000 + i as u64)
}

async fn small_files(
    rep: &mut Report,
    cluster: &TestCluster,
    c: &Ceilings,
    s: &Sizes,
) -> Result<()> {
    let url = cluster.namenode_url();
    let n = s.small_files;
    for tasks in [1usize, 16] {
        let dir = format!("/small/c{tasks}");
        cluster.client().mkdirs(&p(&dir), true).await?;
        let d = dir.clone();
        let ops = parallel(&url, n, tasks, move |c, i| {
            let path = p(&format!("{d}/f{i:06}"));
            async move {
                let data = small_data(i);
                c.upload(&path, &data[..], &UploadOptions::default(), &NoProgress)
                    .await?;
                Ok(())
            }
        })
        .await?;
        let rtt = (
            c.rtt(tasks),
            if tasks > 1 {
                "loopback RTTs/s, 16 conns"
            } else {
                "loopback RTTs/s, 1 conn"
            },
        );
        rep.add(
            format!("4 KiB files created, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            (tasks == 16).then_some(">= 1000 ops/s"),
        );
        let d = dir.clone();
        let ops = parallel(&url, n, tasks, move |c, i| {
            let path = p(&format!("{d}/f{i:06}"));
            async move {
                let mut r = c.open(&path, 0, None).await?;
                let mut got = Vec::with_capacity(4096);
                while let Some(piece) = r.next().await {
                    got.extend_from_slice(&piece?);
                }
                ensure!(got == small_data(i), "{path} read back different bytes");
                Ok(())
            }
        })
        .await?;
        rep.add(
            format!("4 KiB files read back, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            None,
        );
    }
    Ok(())
}

async fn metadata(rep: &mut Report, cluster: &TestCluster, c: &Ceilings, s: &Sizes) -> Result<()> {
    let url = cluster.namenode_url();
    let client = cluster.client();
    let mut list_dir = String::new();
    for (tasks, n) in [(1usize, s.meta_ops_single), (16, s.meta_ops)] {
        let dir = format!("/meta/c{tasks}");
        client.mkdirs(&p(&dir), true).await?;
        let rtt = (
            c.rtt(tasks),
            if tasks > 1 {
                "loopback RTTs/s, 16 conns"
            } else {
                "loopback RTTs/s, 1 conn"
            },
        );
        let d = dir.clone();
        let ops = parallel(&url, n, tasks, move |c, i| {
            let path = p(&format!("{d}/d{i:06}"));
            async move {
                c.mkdirs(&path, false).await?;
                Ok(())
            }
        })
        .await?;
        rep.add(
            format!("mkdir, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            (tasks == 16).then_some(">= 5000 ops/s"),
        );
        let d = dir.clone();
        let ops = parallel(&url, n, tasks, move |c, i| {
            let path = p(&format!("{d}/d{i:06}"));
            async move {
                let st = c.status(&path).await?;
                ensure!(st.name == format!("d{i:06}"), "stat {path}: {st:?}");
                Ok(())
            }
        })
        .await?;
        rep.add(
            format!("stat, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            None,
        );
        let d = dir.clone();
        let ops = parallel(&url, n, tasks, move |c, i| {
            let src = p(&format!("{d}/d{i:06}"));
            let dst = p(&format!("{d}/r{i:06}"));
            async move {
                c.rename(&src, &dst, false).await?;
                Ok(())
            }
        })
        .await?;
        rep.add(
            format!("rename, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            None,
        );
        if tasks == 16 {
            list_dir = dir;
        }
    }
    // Listing the big directory (every page), for about two seconds.
    let path = p(&list_dir);
    let t = Instant::now();
    let mut lists = 0u32;
    let mut entries = 0;
    while lists < 3 || t.elapsed() < Duration::from_secs(2) {
        entries = client.list(&path).await?.len();
        lists += 1;
    }
    ensure!(
        entries == s.meta_ops,
        "{list_dir} lists {entries} entries, not {}",
        s.meta_ops
    );
    let per_sec = lists as f64 / t.elapsed().as_secs_f64();
    rep.add(
        format!("list a {entries}-entry directory, 1 client"),
        per_sec,
        "ops/s",
        None,
        None,
    );
    rep.add(
        "  entries listed per second",
        per_sec * entries as f64,
        "ops/s",
        None,
        None,
    );
    Ok(())
}

// ---------------------------------------------------------------- namespace

async fn namespace(rep: &mut Report, cluster: &mut TestCluster, s: &Sizes) -> Result<()> {
    let n = s.namespace_files;
    let per_dir = 1000usize;
    let dirs = n.div_ceil(per_dir);
    let client = cluster.client();
    // Directories first (so that the creates don't race to make them).
    let url = cluster.namenode_url();
    parallel(&url, dirs, 16, |c, d| async move {
        c.mkdirs(&p(&format!("/ns/d{d:04}")), true).await?;
        Ok(())
    })
    .await?;
    let nn_pid = cluster.namenode_pid().context("no namenode")?;
    reset_peak(nn_pid);
    let (_, rss_before) = proc_rss(nn_pid);
    let done = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let d = done.load(Ordering::Relaxed);
                let (_, rss) = proc_rss(nn_pid);
                println!(
                    "    ... {d}/{n} files, {:.0}/s, namenode RSS {}",
                    d as f64 / t.elapsed().as_secs_f64(),
                    human_bytes(rss)
                );
            }
        })
    };
    // 128 create+complete of empty files in flight (8 tasks x 16 each).
    let tasks = 8usize;
    let per_task = 16usize;
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let c = DfsClient::new(&url)?;
        let next = next.clone();
        let done = done.clone();
        handles.push(tokio::spawn(async move {
            let work = futures_util::stream::iter(std::iter::from_fn(|| {
                let i = next.fetch_add(1, Ordering::Relaxed);
                (i < n).then_some(i)
            }))
            .map(|i| {
                let c = c.clone();
                let done = done.clone();
                async move {
                    let path = p(&format!("/ns/d{:04}/f{:04}", i / per_dir, i % per_dir));
                    let nn = c.namenode();
                    let created = nn
                        .create(&CreateRequest {
                            path: path.clone(),
                            overwrite: false,
                            replication: None,
                            block_size: None,
                            create_parent: false,
                            owner: None,
                            permission: None,
                            first_block: false,
                        })
                        .await
                        .with_context(|| format!("create {path}"))?;
                    nn.complete(&CompleteRequest {
                        file_id: created.file_id,
                        blocks: Vec::new(),
                        length: 0,
                        sha256: Sha256Digest::empty(),
                        sha256_state: None,
                    })
                    .await
                    .with_context(|| format!("complete {path}"))?;
                    done.fetch_add(1, Ordering::Relaxed);
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(per_task);
            futures_util::pin_mut!(work);
            while let Some(r) = work.next().await {
                r?;
            }
            anyhow::Ok(())
        }));
    }
    let mut first_err = None;
    for h in handles {
        if let Err(e) = h.await? {
            first_err.get_or_insert(e);
        }
    }
    progress.abort();
    if let Some(e) = first_err {
        return Err(e);
    }
    let secs = t.elapsed().as_secs_f64();
    rep.add(
        format!("files created (empty, 128 in flight, {n})"),
        n as f64 / secs,
        "ops/s",
        None,
        None,
    );
    let summary = client.content_summary(&p("/ns")).await?;
    ensure!(
        summary.file_count as usize == n,
        "/ns holds {} files, not {n}",
        summary.file_count
    );
    let (hwm, rss) = proc_rss(nn_pid);
    let gib = Some((1024.0, "budget 1 GiB"));
    rep.add(
        format!("namenode RSS holding {n} files"),
        rss as f64 / MIB as f64,
        "MiB",
        gib,
        Some("< 1024 MiB"),
    );
    rep.add(
        "namenode peak RSS during the bulk create",
        hwm as f64 / MIB as f64,
        "MiB",
        gib,
        None,
    );
    println!("    (namenode RSS before: {})", human_bytes(rss_before));

    // Restart: SIGTERM, start, time until /health answers and the namespace
    // is listable.
    cluster.stop_namenode();
    let t = Instant::now();
    cluster.start_namenode();
    let http = reqwest::Client::builder().no_proxy().build()?;
    let health = format!("{url}/health");
    loop {
        if let Ok(r) = http.get(&health).send().await {
            if r.status().is_success() {
                break;
            }
        }
        ensure!(
            t.elapsed() < Duration::from_secs(600),
            "namenode did not answer /health in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let to_health = t.elapsed().as_secs_f64();
    let last = p(&format!("/ns/d{:04}", (n - 1) / per_dir));
    loop {
        let ok = async {
            let top = client.list(&p("/ns")).await?;
            let inner = client.list(&last).await?;
            anyhow::Ok(top.len() == dirs && !inner.is_empty())
        }
        .await;
        if matches!(ok, Ok(true)) {
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(600),
            "namespace not listable after 10 minutes: {ok:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let to_list = t.elapsed().as_secs_f64();
    let pid = cluster.namenode_pid().context("no namenode")?;
    let (hwm, rss) = proc_rss(pid);
    rep.add(
        format!("namenode restart with {n} files: /health"),
        to_health,
        "s",
        Some((10.0, "budget 10 s")),
        None,
    );
    rep.add(
        format!("namenode restart with {n} files: listable"),
        to_list,
        "s",
        Some((10.0, "budget 10 s")),
        Some("< 10 s"),
    );
    rep.add(
        "namenode RSS after restart",
        rss as f64 / MIB as f64,
        "MiB",
        gib,
        Some("< 1024 MiB"),
    );
    rep.add(
        "namenode peak RSS during restart",
        hwm as f64 / MIB as f64,
        "MiB",
        gib,
        None,
    );
    let st = client
        .status(&p(&format!(
            "/ns/d{:04}/f{:04}",
            (n - 1) / per_dir,
            (n - 1) % per_dir
        )))
        .await?;
    ensure!(st.length == 0, "last file after restart: {st:?}");
    cluster.wait_live(cluster.opts.datanodes).await;
    backup(rep, cluster, n).await
}

/// `dfs backup` of the whole namespace: how long, how large, and how
/// metadata writes (16 clients making directories) fare while it runs,
/// against the same load without it.
async fn backup(rep: &mut Report, cluster: &TestCluster, n: usize) -> Result<()> {
    const CLIENTS: usize = 16;
    /// Runs the mkdir load until `stop`; returns (ops, seconds).
    async fn load(
        url: String,
        tag: &'static str,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<(usize, f64)> {
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

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let quiet = tokio::spawn(load(url.clone(), "quiet", stop.clone()));
    tokio::time::sleep(Duration::from_secs_f64(alone.max(2.0))).await;
    stop.store(true, Ordering::Relaxed);
    let (ops, secs) = quiet.await??;
    let without = ops as f64 / secs;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
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

// ---------------------------------------------------------------- repair

async fn repair(rep: &mut Report, c: &Ceilings, s: &Sizes) -> Result<()> {
    let size = s.repair;
    let block = s.repair_block;
    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 4,
        block_size: block,
        dead_node_timeout: "3s",
        heartbeat_interval: "500ms",
        lease_timeout: "60s",
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
    println!(
        "    wrote {} in {files} files in {:.1} s",
        human_bytes(size),
        t.elapsed().as_secs_f64()
    );
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
    loop {
        if cluster.summary().await?.dead_datanodes >= 1 {
            break;
        }
        ensure!(
            killed.elapsed() < Duration::from_secs(60),
            "node never declared dead"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let detected = Instant::now();
    loop {
        let f = cluster.fsck().await?;
        let sm = cluster.summary().await?;
        if f.under_replicated_blocks == 0
            && f.missing_blocks == 0
            && sm.replication.pending_copies == 0
            && sm.replication.queued_blocks == 0
        {
            break;
        }
        // 10 MB/s at the least, and never less than 5 minutes: a repair
        // that cannot go on (a full disk) fails the part instead of hanging.
        let limit = Duration::from_secs((lost / 10_000_000).max(300));
        ensure!(
            detected.elapsed() < limit,
            "repair did not finish in {limit:?} (fsck: {} under-replicated, {} missing; \
             {} queued, {} pending; is a disk full?)",
            f.under_replicated_blocks,
            f.missing_blocks,
            sm.replication.queued_blocks,
            sm.replication.pending_copies
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = detected.elapsed().as_secs_f64();
    let copied = cluster.summary().await?.replication.completed_bytes - before;
    ensure!(copied >= lost, "copied {copied} bytes but {lost} were lost");
    rep.add(
        format!("data on the killed datanode (of {} x3)", human_bytes(size)),
        lost as f64 / MIB as f64,
        "MiB",
        None,
        None,
    );
    rep.add(
        "dead node detected after (timeout 3 s)",
        (detected - killed).as_secs_f64(),
        "s",
        None,
        None,
    );
    rep.add(
        "re-replication throughput",
        copied as f64 / MB / secs,
        "MB/s",
        Some((c.repair(), "min(loopback, SHA-256, disk fsync)")),
        None,
    );
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
    Ok(())
}

// ---------------------------------------------------------------- context

fn machine_info() -> Vec<(String, String)> {
    let mut v = Vec::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    v.push(("nproc".into(), cpus.to_string()));
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    v.push(("cpu".into(), cpu));
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|m| m.trim().to_string()))
        .unwrap_or_default();
    v.push(("memory".into(), mem));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    v.push(("kernel".into(), kernel.trim().to_string()));
    // Other work on the machine skews every figure: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    v.push(("load average at start".into(), load.join(" ")));
    v
}

fn git_state() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&root)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(head) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{head} with uncommitted work")
            } else {
                head
            }
        }
        None => "unknown".into(),
    }
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time.
fn utc_stamp(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
