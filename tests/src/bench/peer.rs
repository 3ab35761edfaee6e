//! `bench --peer garage --garage-bin PATH`: the same work on dfs and on a
//! peer, in the same run, on the same disk, with the same S3 client.
//!
//! The peer is Garage (deuxfleurs-org/garage), built by hand outside this
//! repository (docs/BENCHMARKS.md says how): three `garage server`
//! processes on loopback, replication 3, `lmdb` metadata, no compression
//! (dfs does not compress, and the data is random), measured twice: with
//! `data_fsync` and `metadata_fsync` on (dfs acknowledges a write only once
//! data and metadata are on disk, so Garage is asked for the same), and at
//! Garage's defaults (both off: writes acknowledged from the page cache).
//!
//! The work, on each system: a large object PUT and GET through S3 (the
//! GET read from disk, page cache dropped, every byte hashed and checked),
//! and 4 KiB PUTs by 16 clients. dfs is measured through its S3 door and
//! its own paths (`dfs put`, `dfs get`, native creates). Each figure is
//! given against the machine's ceiling, and Garage's against dfs's.
use super::ceilings::Ceilings;
use super::process::{proc_rss, with_cores};
use super::report::Report;
use super::s3::{big_figures, native_small, start_s3_cluster, S3Client};
use super::transfers::{evict_dir, sha256_file, write_source};
use super::{Sizes, MB, MIB};
use crate::cluster::free_port;
use crate::wait::wait_until;
use anyhow::{bail, ensure, Context, Result};
use dfs_common::checksum::Sha256Hasher;
use dfs_common::units::human_bytes;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Clients of the small-object figure.
const CLIENTS: usize = 16;

/// What one system did.
struct Figures {
    put: f64,
    get: f64,
    small: f64,
}

pub async fn measure(rep: &mut Report, c: &Ceilings, s: &Sizes, garage_bin: &Path) -> Result<()> {
    ensure!(
        garage_bin.is_file(),
        "--garage-bin {}: no such file",
        garage_bin.display()
    );
    let scratch = tempfile::Builder::new().prefix("dfs-peer-").tempdir()?;
    let src = scratch.path().join("big.bin");
    write_source(&src, s.transfer)?;
    let want = sha256_file(&src)?;
    let count = s.small_files;
    let name = human_bytes(s.transfer);
    let rate = |secs: f64| s.transfer as f64 / MB / secs.max(1e-9);
    let ops = |secs: f64| count as f64 / secs.max(1e-9);

    // dfs: its own paths and its S3 door, on one cluster.
    let (native, dfs) = {
        let (cluster, s3) = start_s3_cluster().await?;
        let f = big_figures(&cluster, &s3, &src, want, Some(rep)).await?;
        let url = cluster.urls_leader_first().await;
        let native_small = ops(native_small(&cluster, &url, "/bench/small", count, CLIENTS).await?);
        let s3_small = ops(s3.small_puts("/bench/s3-small", count, CLIENTS).await?);
        (
            Figures {
                put: f.native_put,
                get: f.native_get,
                small: native_small,
            },
            Figures {
                put: f.s3_put,
                get: f.s3_get,
                small: s3_small,
            },
        )
    };

    // Garage, the same work through the same client: with fsync on (dfs's
    // promise) and at its defaults (fsync off).
    let mut garage = Vec::new();
    for fsync in [true, false] {
        let g = Garage::start(
            garage_bin,
            &scratch.path().join(format!("g-{fsync}")),
            fsync,
        )
        .await?;
        println!("  (Garage cluster in {})", g.dir.display());
        let s3 = &g.s3;
        let label = if fsync {
            "Garage (fsync on)"
        } else {
            "Garage (defaults, no fsync)"
        };
        let nodes: Vec<u32> = g.nodes.iter().map(Child::id).collect();
        let busy = format!("{label}: CPU cores busy during the PUT");
        let put = rate(with_cores(rep, &busy, &nodes, s3.put_file("/bench/big.bin", &src)).await?);
        evict_dir(&g.dir);
        let busy = format!("{label}: CPU cores busy during the GET");
        let get = s3.timed_get("/bench/big.bin", s.transfer, want);
        let get = rate(with_cores(rep, &busy, &nodes, get).await?);
        let small = ops(s3.small_puts("/bench/small", count, CLIENTS).await?);
        garage.push((label, Figures { put, get, small }, g.peak_rss()));
    }

    let up = Some((c.upload(), "pipelined upload ceiling"));
    let down = Some((c.download(), "download ceiling"));
    let small = format!("{count}, {CLIENTS} clients");
    type Pick = fn(&Figures) -> f64;
    let rows: [(&str, &str, &String, Pick, _, &str); 3] = [
        ("PUT", "dfs put", &name, |f| f.put, up, "MB/s"),
        ("GET", "dfs get → /dev/null", &name, |f| f.get, down, "MB/s"),
        (
            "4 KiB PUTs",
            "dfs native creates",
            &small,
            |f| f.small,
            None,
            "ops/s",
        ),
    ];
    for (what, native_what, size, pick, ceiling, unit) in rows {
        rep.add(
            format!("{native_what} ({size})"),
            pick(&native),
            unit,
            ceiling,
            None,
        );
        rep.add(
            format!("dfs S3 {what} ({size})"),
            pick(&dfs),
            unit,
            ceiling,
            None,
        );
        for (label, f, _) in &garage {
            rep.add(format!("{label} S3 {what}"), pick(f), unit, ceiling, None);
            rep.add(
                format!("{label} S3 {what} against dfs S3"),
                pick(f),
                unit,
                Some((pick(&dfs), "dfs S3, same run")),
                None,
            );
        }
    }
    for (label, _, rss) in &garage {
        for (i, rss) in rss.iter().enumerate() {
            rep.add(
                format!("peak RSS {label} node {i}"),
                *rss as f64 / MIB as f64,
                "MiB",
                None,
                None,
            );
        }
    }
    Ok(())
}

/// A three-node Garage cluster on loopback; stopped when dropped.
struct Garage {
    dir: PathBuf,
    nodes: Vec<Child>,
    s3: S3Client,
}

impl Drop for Garage {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
    }
}

/// 64 hex digits that differ on every call (seeded by the clock and pid).
fn random_hex(salt: &str) -> String {
    let mut h = Sha256Hasher::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(format!("{salt} {} {}", now.as_nanos(), std::process::id()).as_bytes());
    hex::encode(h.finish().0)
}

impl Garage {
    async fn start(bin: &Path, under: &Path, fsync: bool) -> Result<Garage> {
        let dir = under.join("garage");
        let secret = random_hex("rpc");
        let mut g = Garage {
            dir: dir.clone(),
            nodes: Vec::new(),
            s3: S3Client::new("http://127.0.0.1:1", "-", "-")?,
        };
        let mut configs = Vec::new();
        let mut s3_ports = Vec::new();
        for i in 0..3 {
            let node = dir.join(format!("node{i}"));
            std::fs::create_dir_all(node.join("meta"))?;
            std::fs::create_dir_all(node.join("data"))?;
            let (rpc, s3, admin) = (free_port(), free_port(), free_port());
            let config = format!(
                "metadata_dir = \"{meta}\"\n\
                 data_dir = \"{data}\"\n\
                 db_engine = \"lmdb\"\n\
                 replication_factor = 3\n\
                 metadata_fsync = {fsync}\n\
                 data_fsync = {fsync}\n\
                 compression_level = \"none\"\n\
                 rpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_public_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_secret = \"{secret}\"\n\
                 [s3_api]\n\
                 s3_region = \"us-east-1\"\n\
                 api_bind_addr = \"127.0.0.1:{s3}\"\n\
                 [admin]\n\
                 api_bind_addr = \"127.0.0.1:{admin}\"\n",
                meta = node.join("meta").display(),
                data = node.join("data").display(),
            );
            let path = node.join("garage.toml");
            std::fs::write(&path, config)?;
            let log = std::fs::File::create(node.join("garage.log"))?;
            let child = Command::new(bin)
                .arg("-c")
                .arg(&path)
                .arg("server")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            g.nodes.push(child);
            configs.push(path);
            s3_ports.push(s3);
        }
        let cli = |config: &Path, args: &[&str]| -> Result<String> {
            let out = Command::new(bin)
                .arg("-c")
                .arg(config)
                .args(args)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .output()?;
            if !out.status.success() {
                bail!(
                    "garage {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        // Each node's `<id>@<addr>` once it answers; then node 0 meets the
        // others, and every node gets a role in one layout.
        let mut ids = Vec::new();
        for config in &configs {
            let id = wait_until("a Garage node", Duration::from_secs(30), || async {
                Ok(cli(config, &["node", "id", "-q"]).ok())
            })
            .await?;
            ids.push(id);
        }
        for id in &ids[1..] {
            cli(&configs[0], &["node", "connect", id])?;
        }
        for id in &ids {
            let short = id.split('@').next().unwrap_or(id);
            let short = &short[..short.len().min(16)];
            cli(
                &configs[0],
                &["layout", "assign", "-z", "dc1", "-c", "10G", short],
            )?;
        }
        cli(&configs[0], &["layout", "apply", "--version", "1"])?;
        let key_id = format!("GK{}", &random_hex("key")[..24]);
        let key_secret = random_hex("secret");
        cli(
            &configs[0],
            &[
                "key",
                "import",
                "--yes",
                "-n",
                "bench",
                &key_id,
                &key_secret,
            ],
        )?;
        cli(&configs[0], &["bucket", "create", "bench"])?;
        cli(
            &configs[0],
            &[
                "bucket", "allow", "--read", "--write", "--owner", "bench", "--key", &key_id,
            ],
        )?;
        g.s3 = S3Client::new(
            &format!("http://127.0.0.1:{}", s3_ports[0]),
            &key_id,
            &key_secret,
        )?;
        // The layout reaches every node a moment after it is applied.
        let s3 = g.s3.clone();
        wait_until("Garage to take writes", Duration::from_secs(60), || {
            let s3 = s3.clone();
            async move { Ok(s3.put("/bench/ready", "ok", 2).await.ok()) }
        })
        .await?;
        Ok(g)
    }

    /// Each node's peak resident memory so far.
    fn peak_rss(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| proc_rss(n.id()).0).collect()
    }
}
