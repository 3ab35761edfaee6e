//! The machine's limits, measured first in every run, on the disk the
//! clusters use: loopback TCP, sequential disk write with fsync (through the
//! page cache and direct), 4 KiB write+fdatasync, SHA-256 on one core, and
//! loopback round trips. Every dfs figure is compared with one of these.
use super::report::Report;
use super::{Sizes, MB, MIB};
use crate::data::test_data;
use anyhow::{ensure, Result};
use datanode::direct::{DirectBuf, DirectWriter};
use dfs_common::checksum::Sha256Hasher;
use dfs_common::units::human_bytes;
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The machine's limits, measured in this run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ceilings {
    pub loopback_mbps: f64,
    pub disk_fsync_mbps: f64,
    /// Three O_DIRECT writers at once, each its own file, together: what
    /// the three datanodes of a pipeline on this one disk can write (the
    /// buffered single-writer rate when the file system refuses O_DIRECT).
    pub disk_3_direct_mbps: f64,
    /// A copy on this one disk: a cold file read (through the page cache,
    /// as the datanodes read blocks) while another is written directly, in
    /// bytes copied per second. What a download of cold blocks into a local
    /// file on the same disk can reach.
    pub disk_copy_mbps: f64,
    pub sha256_mbps: f64,
    pub fsync_ops: f64,
    pub rtt_1_ops: f64,
    pub rtt_16_ops: f64,
}

impl Ceilings {
    /// A pipelined upload: every byte crosses loopback, is hashed, and is
    /// written three times on this one disk, by three writers at once.
    pub fn upload(&self) -> f64 {
        self.loopback_mbps
            .min(self.sha256_mbps)
            .min(self.disk_3_direct_mbps / 3.0)
    }
    /// A download: every byte crosses loopback and is hashed.
    pub fn download(&self) -> f64 {
        self.loopback_mbps.min(self.sha256_mbps)
    }
    /// A repair copy: loopback, hashing and one disk write each.
    pub fn repair(&self) -> f64 {
        self.loopback_mbps
            .min(self.sha256_mbps)
            .min(self.disk_fsync_mbps)
    }
    /// Loopback round trips per second for one client or for many, and what
    /// that bound is (the floor under any operation that is one RPC).
    pub fn rtt(&self, clients: usize) -> (f64, &'static str) {
        if clients > 1 {
            (self.rtt_16_ops, "loopback RTTs/s, 16 conns")
        } else {
            (self.rtt_1_ops, "loopback RTTs/s, 1 conn")
        }
    }
}

/// Measures every ceiling (files in `dir`, removed again), adding each to
/// `rep` as it goes.
pub async fn measure(rep: &mut Report, s: &Sizes, dir: &Path) -> Result<Ceilings> {
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
    type Rates = (f64, Option<f64>, Option<f64>);
    let (buffered, direct, direct_3) = tokio::task::spawn_blocking(move || -> Result<Rates> {
        // The better of two runs each: other work on the machine only ever
        // slows it.
        let mut buffered = 0f64;
        let (mut direct, mut direct_3): (Option<f64>, Option<f64>) = (None, None);
        let best = |best: Option<f64>, rate: f64| Some(best.unwrap_or(0.0).max(rate));
        for round in 0..2 {
            buffered = buffered.max(timed_disk_writes(&p2, 1, disk_bytes, false, round)?.0);
            let (rate, was_direct) = timed_disk_writes(&p2, 1, disk_bytes, true, round)?;
            if was_direct {
                direct = best(direct, rate);
            }
            let (rate, was_direct) = timed_disk_writes(&p2, 3, disk_bytes, true, round)?;
            if was_direct {
                direct_3 = best(direct_3, rate);
            }
        }
        Ok((buffered, direct, direct_3))
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
    let disk_3 = direct_3.unwrap_or(buffered);
    rep.add(
        format!(
            "disk write + fsync, 3 O_DIRECT writers together ({} each)",
            human_bytes(disk_bytes)
        ),
        disk_3,
        "MB/s",
        None,
        None,
    );

    // A copy on the one disk: a cold read while a direct write goes on.
    let p4 = dir.join("ceiling-copy.bin");
    let disk_copy = tokio::task::spawn_blocking(move || timed_disk_copy(&p4, disk_bytes)).await??;
    rep.add(
        format!(
            "disk copy: cold read + direct write at once ({})",
            human_bytes(disk_bytes)
        ),
        disk_copy,
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
        disk_3_direct_mbps: disk_3,
        disk_copy_mbps: disk_copy,
        sha256_mbps: sha,
        fsync_ops,
        rtt_1_ops: rtt_1,
        rtt_16_ops: rtt_16,
    };
    rep.add("pipelined upload ceiling", c.upload(), "MB/s", None, None);
    rep.add("download ceiling", c.download(), "MB/s", None, None);
    Ok(c)
}

/// Writes `bytes` of data that differs in every MiB to each of `writers`
/// new files beside `path` at once, one thread each, then fsyncs them;
/// returns MB/s (all writers together) and whether every write was direct
/// (a file system may refuse O_DIRECT). The files are removed afterwards.
fn timed_disk_writes(
    path: &Path,
    writers: usize,
    bytes: u64,
    direct: bool,
    seed: u64,
) -> Result<(f64, bool)> {
    let paths: Vec<_> = (0..writers)
        .map(|i| path.with_extension(format!("{i}")))
        .collect();
    let t = Instant::now();
    let results: Vec<Result<bool>> = std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| s.spawn(move || write_synced(p, bytes, direct, seed * 8 + i as u64)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a writer panicked")))
            })
            .collect()
    });
    let secs = t.elapsed().as_secs_f64();
    let mut all_direct = true;
    for r in results {
        all_direct &= r?;
    }
    for p in &paths {
        std::fs::remove_file(p)?;
    }
    Ok((writers as f64 * bytes as f64 / MB / secs, all_direct))
}

/// The better of two rounds of: `bytes` written to a file beside `path`
/// and dropped from the page cache, then read back sequentially (1 MiB
/// reads, through the page cache) while as many bytes are written directly
/// to another file; bytes copied per second. The files are removed.
fn timed_disk_copy(path: &Path, bytes: u64) -> Result<f64> {
    use std::io::Read;
    let (src, dst) = (path.with_extension("src"), path.with_extension("dst"));
    let mut best = 0f64;
    for round in 0..2 {
        write_synced(&src, bytes, true, 100 + round)?;
        {
            let f = std::fs::File::open(&src)?;
            datanode::direct::drop_cached(&f, 0, 0);
        }
        let t = Instant::now();
        let (read, written) = std::thread::scope(|s| {
            let reader = s.spawn(|| -> Result<u64> {
                let mut f = datanode::direct::open_read(&src)?;
                let mut buf = vec![0u8; MIB as usize];
                let mut n = 0u64;
                loop {
                    let got = f.read(&mut buf)?;
                    if got == 0 {
                        return Ok(n);
                    }
                    n += got as u64;
                }
            });
            let written = write_synced(&dst, bytes, true, 200 + round);
            let read = reader
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the reader panicked")));
            (read, written)
        });
        let secs = t.elapsed().as_secs_f64();
        ensure!(read? == bytes, "the copy's source read back short");
        written?;
        std::fs::remove_file(&src)?;
        std::fs::remove_file(&dst)?;
        best = best.max(bytes as f64 / MB / secs);
    }
    Ok(best)
}

/// Writes `bytes` of data that differs in every 4 KiB page to a new file at
/// `path` and fsyncs it; whether every write was direct.
fn write_synced(path: &Path, bytes: u64, direct: bool, seed: u64) -> Result<bool> {
    let mut buf = DirectBuf::new(MIB as usize);
    buf.fill_from(&test_data(MIB as usize, 9 + seed));
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
    Ok(was_direct)
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
