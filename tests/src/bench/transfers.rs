//! Big transfers: one large file up and down through `dfs put` / `dfs get`
//! and the seed `/upload_file` / `/download_file` (curl), every copy
//! checked bit-exact, each download read from disk (page cache dropped),
//! with the peak RSS of every process. Also what membench shares with it:
//! the large source file (written, hashed) and the four transfer commands.
use super::ceilings::Ceilings;
use super::process::{proc_rss, reset_peak, run_measured, server_pids};
use super::report::Report;
use super::Sizes;
use super::{MB, MIB};
use crate::cluster::{bin, TestCluster};
use crate::data::p;
use anyhow::{ensure, Result};
use dfs_common::checksum::{Sha256Digest, Sha256Hasher};
use dfs_common::units::human_bytes;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// The SHA-256 of a local file, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> Result<Sha256Digest> {
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

/// Writes `size` bytes of xorshift data (the same for every run) to `path`,
/// synced.
pub fn write_source(path: &Path, size: u64) -> Result<()> {
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
    // On disk before anything is measured: otherwise the kernel writes it
    // back in the middle of a later figure, which then pays for it.
    f.get_ref().sync_all()?;
    Ok(())
}

/// `dfs put SRC DST` against the namenode at `nn`.
pub fn dfs_put(nn: &str, src: &Path, dst: &str) -> Command {
    let mut cmd = Command::new(bin("dfs"));
    cmd.args(["--namenode", nn, "put"]).arg(src).arg(dst);
    cmd
}

/// `dfs get PATH TO` (`TO` `-` for stdout).
pub fn dfs_get(nn: &str, path: &str, to: &Path) -> Command {
    let mut cmd = Command::new(bin("dfs"));
    cmd.args(["--namenode", nn, "get", path]).arg(to);
    cmd
}

/// curl: `POST /upload_file` of `src` as `directory/name`, answer dropped.
pub fn seed_upload(nn: &str, src: &Path, directory: &str, name: &str) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sSf", "-o", "/dev/null", "-F"])
        .arg(format!("directory={directory}"))
        .arg("-F")
        .arg(format!("file=@{};filename={name}", src.display()))
        .arg(format!("{nn}/upload_file"));
    cmd
}

/// curl: `POST /download_file` of `path` into the local file `to`.
pub fn seed_download(nn: &str, path: &str, to: &Path) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sSf", "-o"])
        .arg(to)
        .arg("-d")
        .arg(format!("file_name={path}"))
        .arg(format!("{nn}/download_file"));
    cmd
}

/// Drops every block file of the cluster from the page cache (best effort:
/// clean pages only, which all of them are once written and synced), so that
/// each download reads from the disk, as the first read of a file would,
/// and not from the memory an earlier download filled.
pub fn evict_blocks(cluster: &TestCluster) {
    for i in 0..cluster.opts.datanodes {
        evict_dir(&cluster.datanode_dir(i).join("blocks"));
    }
}

/// Drops every file under `dir` from the page cache (see [`evict_blocks`]).
pub fn evict_dir(dir: &Path) {
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

pub async fn measure(
    rep: &mut Report,
    cluster: &TestCluster,
    c: &Ceilings,
    s: &Sizes,
) -> Result<()> {
    let size = s.transfer;
    let dir = cluster.root().join("bench");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("big.bin");
    write_source(&src, size)?;
    let want = sha256_file(&src)?;
    let out = dir.join("out.bin");
    let nn = cluster.namenode_url();
    let name = human_bytes(size);
    let servers = server_pids(cluster);
    for (_, pid) in &servers {
        reset_peak(*pid);
    }
    let up = (c.upload(), "pipelined upload ceiling");
    let down = (c.download(), "download ceiling");
    let to_file = (
        c.download().min(c.disk_fsync_mbps),
        "min(download ceiling, disk write)",
    );
    let copy = (
        c.download().min(c.disk_copy_mbps),
        "min(download ceiling, disk copy)",
    );
    let mut clients: Vec<(String, u64)> = Vec::new();
    let rate = |secs: f64| size as f64 / MB / secs.max(1e-9);
    // `dfs put` needs the parent, as `hdfs dfs -put` does.
    cluster.client().mkdirs(&p("/bench"), true).await?;

    let (secs, rss) = run_measured(&mut dfs_put(&nn, &src, "/bench/cli.bin"))?;
    let native_up = rate(secs);
    rep.add(
        format!("upload {name}, dfs put"),
        native_up,
        "MB/s",
        Some(up),
        Some(">= 0.85"),
    );
    clients.push(("dfs put".into(), rss));
    let st = cluster.client().status(&p("/bench/cli.bin")).await?;
    ensure!(
        st.length == size,
        "dfs put stored {} bytes, not {size}",
        st.length
    );

    evict_blocks(cluster);
    let (secs, rss) = run_measured(&mut dfs_get(&nn, "/bench/cli.bin", &out))?;
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
        Some(">= 0.70"),
    );
    // The same figure against what bounds it here: the blocks are read
    // cold from the very disk the copy is written to.
    rep.add(
        format!("download {name}, dfs get → local file (as above)"),
        rate(secs),
        "MB/s",
        Some(copy),
        None,
    );
    clients.push(("dfs get".into(), rss));

    // The data path alone: the same download to stdout (/dev/null), so that
    // the client's own disk is not part of the figure. The client checks
    // every block's SHA-256 before it writes a byte of it, and exits non-zero
    // on a mismatch; the copy above was compared byte for byte.
    evict_blocks(cluster);
    let (secs, rss) = run_measured(&mut dfs_get(&nn, "/bench/cli.bin", Path::new("-")))?;
    let native_down = rate(secs);
    rep.add(
        format!("download {name}, dfs get → stdout (/dev/null)"),
        native_down,
        "MB/s",
        Some(down),
        Some(">= 0.90"),
    );
    clients.push(("dfs get -".into(), rss));

    let (secs, rss) = run_measured(&mut seed_upload(&nn, &src, "/bench", "seed.bin"))?;
    rep.add(
        format!("upload {name}, POST /upload_file"),
        rate(secs),
        "MB/s",
        Some((native_up, "dfs put, same run")),
        Some(">= 0.70"),
    );
    clients.push(("curl /upload_file".into(), rss));

    // `/download_file` into `to`, read from the disk.
    let from_seed = |to: &Path| {
        evict_blocks(cluster);
        run_measured(&mut seed_download(&nn, "/bench/seed.bin", to))
    };
    let (secs, rss) = from_seed(&out)?;
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
    let (secs, _) = from_seed(Path::new("/dev/null"))?;
    rep.add(
        format!("download {name}, POST /download_file → /dev/null"),
        rate(secs),
        "MB/s",
        Some((native_down, "dfs get → stdout, same run")),
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
