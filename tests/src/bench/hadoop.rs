//! Hadoop's own client against dfs's own, same run: one cluster of the
//! transfer part's shape with the Hadoop doors on (the namenode's
//! `--hadoop-rpc-listen`, each datanode's `--hadoop-data-listen`), and
//! `hadoop fs -put` beside `dfs put` and `hadoop fs -get` beside `dfs get`
//! (each to a local file, removed after), alternating, best of two each,
//! blocks evicted from the page cache before each read. Both clients use
//! the same block size and three replicas.
//!
//! Hadoop's client is FsShell from the hadoop-client jars PySpark ships
//! (`scripts/hadoop-jars` extracts them; `DFS_HADOOP_JARS` names another
//! directory) on the machine's `java`; its figures include the JVM's
//! start (half a second or so), as a `hadoop fs` user sees it.
use super::process::{run_measured, timed};
use super::report::Report;
use super::transfers::{dfs_get, dfs_put, evict_blocks, write_source};
use super::{Sizes, MB, MIB};
use crate::cluster::{free_port, ClusterOptions, TestCluster};
use crate::p;
use anyhow::{ensure, Context, Result};
use dfs_common::units::human_bytes;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Block size of both clients.
const BLOCK: u64 = 64 * MIB;

/// The hadoop-client jars: `DFS_HADOOP_JARS`, else extracted by
/// `scripts/hadoop-jars` (kept in target/hadoop-jars).
fn jars() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("DFS_HADOOP_JARS") {
        return Ok(PathBuf::from(dir));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("scripts/hadoop-jars"))
        .output()
        .context("running scripts/hadoop-jars")?;
    ensure!(
        out.status.success(),
        "scripts/hadoop-jars failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(root.join(String::from_utf8_lossy(&out.stdout).trim()))
}

/// `hadoop fs ARGS` as the user `dfs`, with an empty core-site.xml in
/// `conf`.
fn fs_shell(conf: &Path, jars: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(format!("{}:{}/*", conf.display(), jars.display()))
        .arg("org.apache.hadoop.fs.FsShell")
        .args([
            "-D",
            &format!("dfs.blocksize={BLOCK}"),
            "-D",
            "dfs.replication=3",
        ])
        .args(args)
        .env("HADOOP_USER_NAME", "dfs");
    cmd
}

pub async fn measure(rep: &mut Report, s: &Sizes) -> Result<()> {
    ensure!(
        Command::new("java").arg("-version").output().is_ok(),
        "java is missing (apt-get install openjdk-17-jre-headless)"
    );
    let jars = jars()?;
    let port = free_port();
    let c = TestCluster::start(ClusterOptions {
        block_size: BLOCK,
        replication: 3,
        lease_timeout: "60s",
        dead_node_timeout: "30s",
        heartbeat_interval: "1s",
        namenode_args: vec!["--hadoop-rpc-listen".into(), format!("127.0.0.1:{port}")],
        datanode_args: vec!["--hadoop-data-listen".into(), "127.0.0.1:0".into()],
        ..Default::default()
    })
    .await;
    println!("  (cluster in {})", c.root().display());
    let conf = c.root().join("hadoop-conf");
    std::fs::create_dir_all(&conf)?;
    std::fs::write(
        conf.join("core-site.xml"),
        "<configuration></configuration>\n",
    )?;
    let size = s.transfer;
    let src = c.root().join("hadoop-bench.bin");
    write_source(&src, size)?;
    let gib = size as f64 / (1u64 << 30) as f64;
    let name = human_bytes(size);
    let nn = c.namenode_url();
    let hdfs = format!("hdfs://127.0.0.1:{port}");
    c.client().mkdirs(&p("/bench"), true).await?;
    // (seconds, server CPU) of the best run: [dfs, hadoop] × [put, get].
    let mut best = [[(f64::MAX, 0.0); 2]; 2];
    for round in 0..2 {
        for (i, hadoop) in [false, true].into_iter().enumerate() {
            let dst = format!(
                "/bench/{}-{round}.bin",
                if hadoop { "hadoop" } else { "dfs" }
            );
            let put = if hadoop {
                let to = format!("{hdfs}{dst}");
                fs_shell(
                    &conf,
                    &jars,
                    &["-put", src.to_str().unwrap_or_default(), &to],
                )
            } else {
                dfs_put(&nn, &src, &dst)
            };
            let put = timed(&c, put)?;
            let st = c.client().status(&p(&dst)).await?;
            ensure!(
                st.length == size,
                "{dst}: {} bytes stored, not {size}",
                st.length
            );
            evict_blocks(&c);
            let got = c.root().join("hadoop-bench.got");
            let get = if hadoop {
                let from = format!("{hdfs}{dst}");
                fs_shell(
                    &conf,
                    &jars,
                    &["-get", &from, got.to_str().unwrap_or_default()],
                )
            } else {
                dfs_get(&nn, &dst, &got)
            };
            let get = timed(&c, get)?;
            let len = std::fs::metadata(&got)?.len();
            ensure!(len == size, "{dst}: {len} bytes read, not {size}");
            std::fs::remove_file(&got)?;
            for (k, run) in [put, get].into_iter().enumerate() {
                if run.0 < best[i][k].0 {
                    best[i][k] = run;
                }
            }
        }
        // Both wrote the same bytes: dfs recorded the same digest.
        let mut digests = Vec::new();
        for w in ["dfs", "hadoop"] {
            let path = p(&format!("/bench/{w}-{round}.bin"));
            digests.push(c.client().status(&path).await?.sha256);
            c.client().delete(&path, false).await?;
        }
        ensure!(
            digests[0] == digests[1] && digests[0].is_some(),
            "hadoop fs -put and dfs put of the same file recorded different digests: {digests:?}"
        );
    }
    // The JVM's own start, for the reader of the figures.
    let (jvm, _) = run_measured(&mut fs_shell(&conf, &jars, &["-ls", &format!("{hdfs}/")]))?;
    let rate = |secs: f64| size as f64 / MB / secs.max(1e-9);
    for (k, (what, dfs, hadoop)) in [
        ("upload", "dfs put", "hadoop fs -put"),
        ("download", "dfs get", "hadoop fs -get"),
    ]
    .into_iter()
    .enumerate()
    {
        let dfs_rate = rate(best[0][k].0);
        rep.add(
            format!("{what} {name}, {dfs}"),
            dfs_rate,
            "MB/s",
            None,
            None,
        );
        rep.add(
            format!("{what} {name}, {hadoop}"),
            rate(best[1][k].0),
            "MB/s",
            Some((dfs_rate, "dfs's own client, same run")),
            None,
        );
        rep.add(
            format!("{what} {name}: server CPU, {dfs}"),
            best[0][k].1 / gib,
            "CPU-s/GiB",
            None,
            None,
        );
        rep.add(
            format!("{what} {name}: server CPU, {hadoop}"),
            best[1][k].1 / gib,
            "CPU-s/GiB",
            Some((best[0][k].1 / gib, "dfs's own client, same run")),
            None,
        );
    }
    rep.add("hadoop fs -ls / (the JVM's start)", jvm, "s", None, None);
    std::fs::remove_file(&src)?;
    Ok(())
}
