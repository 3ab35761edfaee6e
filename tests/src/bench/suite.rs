//! The `bench` run: dfs measured against this machine's own limits, in one
//! run. Reads the flags, checks the disk has room, measures the ceilings,
//! runs each part on a fresh cluster (so that one failing, or hanging until
//! the client's timeouts, cannot spoil the others), then prints the table
//! and writes the JSON file. A part that fails is listed, and the run goes
//! on; no figure is asserted.
//!
//! Flags: `--quick`, `--json FILE`, `--only SECTIONS` (comma list of
//! `transfers,tls,hadoop,small,s3,meta,namespace,scale,repair,balance,failover`; the ceilings
//! always run),
//! `--size SIZE` (big transfers), `--small-files N`, `--namespace-files N`,
//! `--scale-files N[,N...]`, `--repair-size SIZE`, `--namenodes N` (the
//! small-file and metadata parts on a group of N namenodes, their clients
//! talking to the leader), `--peer garage --garage-bin PATH` (the same work
//! on a three-node Garage cluster, after the other parts; with `--only`,
//! name `peer` to run it).
use super::ceilings::{self, Ceilings};
use super::context::{git_state, machine_info, utc_stamp};
use super::repair::{self, RepairSetup};
use super::report::{print_table, write_json, Report, RunInfo};
use super::{failover, hadoop, metadata, namespace, peer, s3, scale, small_files, tls, transfers};
use super::{Args, Sizes, GIB, MB, MIB};
use crate::cluster::{ClusterOptions, TestCluster};
use anyhow::{ensure, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The parts, in the order they run: (`--only` key, title).
const SECTIONS: [(&str, &str); 11] = [
    ("transfers", "big transfers"),
    ("tls", "TLS against plain HTTP"),
    ("hadoop", "Hadoop's own client"),
    ("small", "4 KiB files"),
    ("s3", "the S3 door"),
    ("meta", "metadata operations"),
    ("namespace", "namenode with many files"),
    ("scale", "namenode at scale (bulk-loaded)"),
    ("repair", "re-replication"),
    ("balance", "balancer"),
    ("failover", "namenode failover"),
];

/// Points `DFS_BIN_DIR` at the binaries of the profile this bench was built
/// with (a release bench measures release binaries), unless it is set.
pub fn use_own_profile_binaries() {
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
}

/// Runs everything `args` asks for; Ok(false) if a measurement failed.
pub async fn run(args: &Args) -> Result<bool> {
    let quick = args.flag("--quick");
    let mut sizes = if quick { Sizes::quick() } else { Sizes::full() };
    sizes.transfer = args.byte_size("--size", sizes.transfer)?;
    if let Some(s) = args.value("--namespace-files") {
        sizes.namespace_files = s.parse()?;
    }
    if let Some(s) = args.value("--small-files") {
        sizes.small_files = s.parse()?;
        ensure!(sizes.small_files > 0, "--small-files must be > 0");
    }
    if let Some(s) = args.value("--scale-files") {
        sizes.scale_files = s
            .split(',')
            .map(|n| n.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()?;
        ensure!(
            sizes.scale_files.iter().all(|&n| n > 0),
            "--scale-files: sizes must be > 0"
        );
    }
    sizes.repair = args.byte_size("--repair-size", sizes.repair)?;
    if let Some(n) = args.value("--namenodes") {
        sizes.namenodes = n.parse()?;
        ensure!((1..=9).contains(&sizes.namenodes), "--namenodes: 1 to 9");
    }
    let only: Option<Vec<String>> = args
        .value("--only")
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    let wanted = |s: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == s));
    let peer = match args.value("--peer").as_deref() {
        None => None,
        Some("garage") => {
            let bin = args
                .value("--garage-bin")
                .map(PathBuf::from)
                .ok_or_else(|| anyhow::anyhow!("--peer garage needs --garage-bin PATH"))?;
            ensure!(
                bin.is_file(),
                "--garage-bin {}: no such file",
                bin.display()
            );
            Some(bin)
        }
        Some(other) => anyhow::bail!("--peer {other}: the only peer is garage"),
    };
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let json_path = args.value("--json").map(PathBuf::from).unwrap_or_else(|| {
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
    let transfer_need = if wanted("transfers") || wanted("tls") || wanted("hadoop") {
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
    let ceil = ceilings::measure(&mut rep, &sizes, scratch.path()).await?;
    drop(scratch);

    for (key, title) in SECTIONS {
        if !wanted(key) {
            continue;
        }
        rep.section = key.into();
        println!(
            "\n== {title} ({:.0} s into the run)",
            total.elapsed().as_secs_f64()
        );
        let r = if key == "repair" {
            repair_part(&mut rep, &ceil, &sizes).await
        } else if key == "balance" {
            balance_part(&mut rep, &sizes).await
        } else if key == "failover" {
            // Three namenodes of its own; five trials (three with --quick).
            failover::measure(&mut rep, if quick { 3 } else { 5 }).await
        } else if key == "s3" {
            // A cluster of its own, with S3 on.
            s3::measure(&mut rep, &sizes).await
        } else if key == "tls" {
            // Two clusters of its own, one plain and one with TLS.
            tls::measure(&mut rep, &sizes).await
        } else if key == "hadoop" {
            // A cluster of its own, with the Hadoop doors on.
            hadoop::measure(&mut rep, &sizes).await
        } else if key == "scale" {
            // A cluster per size, started by the part (it restarts the
            // namenode on a store loaded behind its back).
            scale::measure(&mut rep, &sizes).await
        } else {
            let mut cluster = TestCluster::start(ClusterOptions {
                // (`--namenodes` for the parts that measure the namespace's
                // changes: the others measure what no namenode carries.)
                namenodes: if matches!(key, "small" | "meta") {
                    sizes.namenodes
                } else {
                    1
                },
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
                "transfers" => transfers::measure(&mut rep, &cluster, &ceil, &sizes).await,
                "small" => small_files::measure(&mut rep, &cluster, &ceil, &sizes).await,
                "meta" => metadata::measure(&mut rep, &cluster, &ceil, &sizes).await,
                _ => namespace::measure(&mut rep, &mut cluster, &sizes).await,
            }
        };
        if let Err(e) = r {
            eprintln!("bench: {title} FAILED: {e:#}");
            rep.failures.push(format!("{title}: {e:#}"));
        }
    }

    if let Some(bin) = peer.filter(|_| wanted("peer")) {
        rep.section = "peer".into();
        println!(
            "\n== Garage beside dfs ({:.0} s into the run)",
            total.elapsed().as_secs_f64()
        );
        if let Err(e) = peer::measure(&mut rep, &ceil, &sizes, &bin).await {
            eprintln!("bench: Garage beside dfs FAILED: {e:#}");
            rep.failures.push(format!("Garage beside dfs: {e:#}"));
        }
    }

    let secs = total.elapsed().as_secs_f64();
    print_table(&rep, mode, secs);
    let info = RunInfo {
        mode: mode.into(),
        started_unix,
        started_utc: utc_stamp(started_unix),
        duration_secs: secs,
        git,
        machine,
        bin_dir,
        command: args.command_line(),
    };
    write_json(&json_path, &info, &ceil, &rep)?;
    println!("json: {}", json_path.display());
    if !rep.failures.is_empty() {
        eprintln!("bench: {} measurement(s) failed:", rep.failures.len());
        for f in &rep.failures {
            eprintln!("  - {f}");
        }
    }
    Ok(rep.failures.is_empty())
}

/// The balancer on a cluster of its own (3 full + 3 empty datanodes), as
/// rows: half the repair part's data.
async fn balance_part(rep: &mut Report, s: &Sizes) -> Result<()> {
    // Blocks of at most 4 MiB: a block's share of a node must stay well
    // under the threshold, or no move brings a node within it.
    let block = s.repair_block.min(4 * MIB);
    let size = (s.repair / 2).max(block);
    let r = super::balance::measure(size, block).await?;
    println!(
        "    moved {} in {} moves in {:.1} s",
        dfs_common::units::human_bytes(r.bytes_moved),
        r.moves,
        r.secs
    );
    rep.add(
        format!(
            "balancer throughput ({} x2 on 3 nodes, 3 join; threshold 10)",
            dfs_common::units::human_bytes(size)
        ),
        r.rate_mbps(),
        "MB/s",
        None,
        None,
    );
    Ok(())
}

/// Re-replication on a cluster of its own (4 datanodes), as rows.
async fn repair_part(rep: &mut Report, c: &Ceilings, s: &Sizes) -> Result<()> {
    let r = repair::measure(&RepairSetup {
        size: s.repair,
        block: s.repair_block,
        streams: None,
    })
    .await?;
    rep.add(
        format!(
            "data on the killed datanode (of {} x3)",
            dfs_common::units::human_bytes(s.repair)
        ),
        r.lost as f64 / MIB as f64,
        "MiB",
        None,
        None,
    );
    rep.add(
        "dead node detected after (timeout 3 s)",
        r.dead_after_secs,
        "s",
        None,
        None,
    );
    rep.add(
        "re-replication throughput",
        r.copied as f64 / MB / r.repair_secs,
        "MB/s",
        Some((c.repair(), "min(loopback, SHA-256, disk fsync)")),
        None,
    );
    Ok(())
}
