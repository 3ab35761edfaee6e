//! Memory benchmark: moves one large file (default 1 GiB) through a real
//! local cluster four ways — `dfs put`, `dfs get`, seed `/upload_file` and
//! seed `/download_file` (with curl) — checks every copy bit-exact, and prints
//! the peak resident memory of every process involved. Exits 1 if any dfs
//! process peaked above the limit (default 300 MiB).
//!
//! `cargo run -p dfs-tests --bin membench [-- --size 1GiB --limit-mib 300]`
//! (uses the binaries in target/debug unless DFS_BIN_DIR says otherwise).
use dfs_common::units::{human_bytes, ByteSize};
use dfs_tests::{bin, ClusterOptions, TestCluster};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Runs a command to completion and returns its peak RSS in bytes (wait4).
fn run_measured(cmd: &mut Command) -> anyhow::Result<u64> {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // Safe: zeroed rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    anyhow::ensure!(r == pid, "wait4 failed");
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed: {status}"
    );
    Ok(usage.ru_maxrss as u64 * 1024)
}

/// Peak resident memory of a running process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn sha256_file(path: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = dfs_common::checksum::Sha256Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish().to_hex())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let size: u64 = arg("--size")
        .map_or(Ok(ByteSize(1 << 30)), |s| s.parse())?
        .0;
    let limit: u64 = arg("--limit-mib").map_or(Ok(300), |s| s.parse())? << 20;

    let cluster = TestCluster::start(ClusterOptions {
        block_size: 64 << 20,
        lease_timeout: "60s",
        dead_node_timeout: "30s",
        ..Default::default()
    })
    .await;
    let dir = cluster.root().join("bench");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("big.bin");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&src)?);
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut buf = vec![0u8; 1 << 20];
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
    }
    let want = sha256_file(&src)?;
    let nn = cluster.namenode_url();
    let mut rows: Vec<(String, u64, f64)> = Vec::new();
    let dfs = bin("dfs");
    // `dfs put` needs the parent, as `hdfs dfs -put` does.
    cluster
        .client()
        .mkdirs(&dfs_tests::p("/bench"), true)
        .await?;

    let t = Instant::now();
    let rss = run_measured(Command::new(&dfs).args([
        "--namenode",
        &nn,
        "put",
        src.to_str().unwrap_or_default(),
        "/bench/cli.bin",
    ]))?;
    rows.push(("dfs put".into(), rss, t.elapsed().as_secs_f64()));

    let out = dir.join("cli-out.bin");
    let t = Instant::now();
    let rss = run_measured(Command::new(&dfs).args([
        "--namenode",
        &nn,
        "get",
        "/bench/cli.bin",
        out.to_str().unwrap_or_default(),
    ]))?;
    rows.push(("dfs get".into(), rss, t.elapsed().as_secs_f64()));
    anyhow::ensure!(
        sha256_file(&out)? == want,
        "dfs get returned different bytes"
    );
    std::fs::remove_file(&out)?;

    let t = Instant::now();
    let rss = run_measured(Command::new("curl").args([
        "-sSf",
        "-o",
        "/dev/null",
        "-F",
        "directory=/bench",
        "-F",
        &format!("file=@{};filename=seed.bin", src.display()),
        &format!("{nn}/upload_file"),
    ]))?;
    rows.push(("curl /upload_file".into(), rss, t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let rss = run_measured(Command::new("curl").args([
        "-sSf",
        "-o",
        out.to_str().unwrap_or_default(),
        "-d",
        "file_name=/bench/seed.bin",
        &format!("{nn}/download_file"),
    ]))?;
    rows.push(("curl /download_file".into(), rss, t.elapsed().as_secs_f64()));
    anyhow::ensure!(
        sha256_file(&out)? == want,
        "/download_file returned different bytes"
    );

    let mut servers = vec![(
        "namenode".to_string(),
        cluster.namenode_pid().map_or(0, peak_rss),
    )];
    for i in 0..cluster.opts.datanodes {
        servers.push((
            format!("datanode-{i}"),
            cluster.datanode_pid(i).map_or(0, peak_rss),
        ));
    }

    println!(
        "membench: {} file, 64 MiB blocks, replication 3, limit {}",
        human_bytes(size),
        human_bytes(limit)
    );
    println!(
        "{:<22} {:>12} {:>10} {:>12}",
        "step (client)", "peak RSS", "seconds", "throughput"
    );
    for (name, rss, secs) in &rows {
        let mbps = size as f64 / secs.max(1e-9) / (1 << 20) as f64;
        println!(
            "{name:<22} {:>12} {secs:>10.1} {:>9.0} MiB/s",
            human_bytes(*rss),
            mbps
        );
    }
    println!("{:<22} {:>12}", "server (whole run)", "peak RSS");
    for (name, rss) in &servers {
        println!("{name:<22} {:>12}", human_bytes(*rss));
    }
    let mut over: Vec<String> = servers
        .iter()
        .filter(|(_, r)| *r > limit)
        .map(|(n, r)| format!("{n} {}", human_bytes(*r)))
        .collect();
    over.extend(
        rows.iter()
            .filter(|(n, r, _)| n.starts_with("dfs") && *r > limit)
            .map(|(n, r, _)| format!("{n} {}", human_bytes(*r))),
    );
    if !over.is_empty() {
        eprintln!(
            "membench: over the {} limit: {}",
            human_bytes(limit),
            over.join(", ")
        );
        std::process::exit(1);
    }
    println!(
        "membench: every dfs process stayed under {}",
        human_bytes(limit)
    );
    Ok(())
}
