//! Several disks per datanode, with real processes: a datanode with three
//! data dirs (`--data-dir A,B,C`) beside nodes of one. Blocks spread over
//! its three dirs and read back bit-exact; one dir is taken away (renamed,
//! as a disk that vanished: the tests run as root, so permissions would not
//! stop the I/O). With `--max-failed-disks 1` the node stays up, serves from
//! the other two, its lost replicas come back to full replication elsewhere,
//! and `dfs report` shows the failed disk; restarted with the disk still
//! broken it starts without it. With the default (0) the node stops with a
//! message naming the disk, and refuses to start again while it is broken.
use dfs_common::proto::datanode::DiskState;
use dfs_tests::{upload_many, verify_all, wait_until, ClusterOptions, TestCluster};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

const HEAL: Duration = Duration::from_secs(90);

fn opts(datanodes: usize) -> ClusterOptions {
    ClusterOptions {
        // Datanode 0 has three data dirs, the others one.
        disks_at: vec![3],
        ..ClusterOptions::healing(datanodes)
    }
}

/// The block ids in one data dir (from its `*.blk` files).
fn blocks_in(dir: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "blk") {
                if let Some(stem) = path.file_stem() {
                    out.insert(stem.to_string_lossy().into_owned());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&dir.join("blocks"), &mut out);
    out
}

/// Waits until the namenode shows datanode 0's disks in these states.
async fn wait_disk_states(cluster: &TestCluster, want: &[DiskState]) {
    let c = cluster.client();
    let addr = cluster.datanode_url(0);
    wait_until("datanode 0's disks in the namenode's report", HEAL, || {
        let (c, addr) = (c.clone(), addr.clone());
        async move {
            let nodes = c.datanodes().await?;
            let node = nodes
                .iter()
                .find(|n| n.addr.trim_end_matches('/') == addr)
                .ok_or_else(|| anyhow::anyhow!("datanode 0 not listed"))?;
            let states: Vec<DiskState> = node.disks.iter().map(|d| d.state).collect();
            if states == want {
                Ok(Some(()))
            } else {
                Err(anyhow::anyhow!("disks: {:?}", node.disks))
            }
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
}

/// Renames a data dir away (a disk that vanished).
fn take_away(dir: &Path) -> PathBuf {
    let gone = dir.with_extension("gone");
    std::fs::rename(dir, &gone).unwrap();
    gone
}

#[tokio::test]
async fn a_failed_disk_is_taken_out_of_service_and_its_replicas_copied_elsewhere() {
    let mut cluster = TestCluster::start(opts(4)).await;
    // Datanode 0 tolerates one failed disk.
    cluster.stop_datanode(0);
    cluster.start_datanode_with(0, &["--max-failed-disks", "1"]);
    cluster.wait_live(4).await;
    wait_disk_states(&cluster, &[DiskState::InService; 3]).await;
    let c = cluster.client();

    let files = upload_many(&c, "/disks", 16, 19).await;
    verify_all(&c, &files).await;
    cluster.wait_fully_replicated(HEAL).await;

    // Every disk of datanode 0 took blocks, each block on one of them.
    let dirs = cluster.datanode_dirs(0);
    assert_eq!(dirs.len(), 3);
    let per_disk: Vec<BTreeSet<String>> = dirs.iter().map(|d| blocks_in(d)).collect();
    let counts: Vec<usize> = per_disk.iter().map(BTreeSet::len).collect();
    assert!(counts.iter().all(|n| *n > 0), "blocks per disk: {counts:?}");
    let all: BTreeSet<&String> = per_disk.iter().flatten().collect();
    assert_eq!(
        all.len(),
        counts.iter().sum::<usize>(),
        "a block on two disks"
    );

    // Its second disk goes away while idle: the periodic check finds it.
    let lost = per_disk[1].clone();
    let gone = take_away(&dirs[1]);
    wait_disk_states(
        &cluster,
        &[
            DiskState::InService,
            DiskState::Failed,
            DiskState::InService,
        ],
    )
    .await;
    assert!(cluster.datanode_exit(0).is_none(), "datanode 0 stopped");
    let metrics = dfs_tests::metrics_text(&cluster.namenode_url())
        .await
        .unwrap();
    assert!(
        metrics.contains("\ndfs_namenode_failed_disks 1\n"),
        "{metrics}"
    );

    // Its replicas come back elsewhere; every file reads bit-exact.
    wait_until("the lost replicas on three nodes again", HEAL, || {
        let (cluster, lost) = (&cluster, &lost);
        async move {
            let on_disk = cluster.all_block_files();
            let short: Vec<&String> = lost
                .iter()
                .filter(|b| on_disk.iter().filter(|(_, id)| id == *b).count() < 3)
                .collect();
            if short.is_empty() {
                Ok(Some(()))
            } else {
                Err(anyhow::anyhow!(
                    "{} of {} not back yet",
                    short.len(),
                    lost.len()
                ))
            }
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    cluster.wait_fully_replicated(HEAL).await;
    verify_all(&c, &files).await;
    // Datanode 0 still serves what is on its other disks.
    let kept = per_disk[0].iter().next().unwrap().clone();
    let r = reqwest::get(format!("{}/blocks/{kept}", cluster.datanode_url(0)))
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    // New writes go to the disks left; the failed dir is not recreated.
    let more = upload_many(&c, "/after", 6, 23).await;
    verify_all(&c, &more).await;
    assert!(!dirs[1].exists(), "the failed dir was written to again");
    assert_eq!(
        blocks_in(&gone),
        lost,
        "the failed disk's files are left alone"
    );

    let report = cluster.dfs_ok(&["report"]);
    assert!(report.contains("Disks:"), "{report}");
    let line = report
        .lines()
        .find(|l| l.contains(&*dirs[1].to_string_lossy()))
        .unwrap_or_else(|| panic!("no line for the failed disk in\n{report}"));
    assert!(line.contains("FAILED"), "{line}");
    assert!(cluster.datanode_exit(0).is_none(), "datanode 0 stopped");

    // A restart with that disk still broken (a file where its dir was):
    // the node starts with it out of service, and serves the rest.
    cluster.stop_datanode(0);
    std::fs::write(&dirs[1], b"not a dir").unwrap();
    cluster.start_datanode_with(0, &["--max-failed-disks", "1"]);
    wait_until("datanode 0 up without its broken disk", HEAL, || {
        let log = cluster.datanode_log(0);
        async move { Ok(log.contains("out of service from the start").then_some(())) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    cluster.wait_live(4).await;
    assert!(cluster.datanode_exit(0).is_none(), "datanode 0 stopped");
    wait_until("datanode 0 serving again", HEAL, || {
        let url = format!("{}/blocks/{kept}", cluster.datanode_url(0));
        async move { Ok(reqwest::get(url).await?.status().is_success().then_some(())) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    cluster.wait_fully_replicated(HEAL).await;
    verify_all(&c, &files).await;
    verify_all(&c, &more).await;
}

#[tokio::test]
async fn without_tolerance_a_failed_disk_stops_the_node_naming_it() {
    let mut cluster = TestCluster::start(opts(4)).await;
    cluster.wait_live(4).await;
    let c = cluster.client();
    let files = upload_many(&c, "/strict", 6, 29).await;
    cluster.wait_fully_replicated(HEAL).await;

    let dirs = cluster.datanode_dirs(0);
    take_away(&dirs[2]);
    let status = wait_until("datanode 0 to stop", HEAL, || {
        let status = cluster_exit(&mut cluster);
        async move { Ok(status) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!status.success(), "{status}");
    let log = cluster.datanode_log(0);
    let dir = dirs[2].to_string_lossy().into_owned();
    assert!(
        log.lines()
            .any(|l| l.contains(&dir) && l.contains("max-failed-disks")),
        "no line naming {dir} in the log:\n{log}"
    );
    // The other nodes hold every block: all reads stay bit-exact.
    verify_all(&c, &files).await;

    // Restarted with that disk broken (a file where its dir was) and no
    // tolerance, it refuses to start, naming the disk.
    std::fs::write(&dirs[2], b"not a dir").unwrap();
    cluster.start_datanode(0);
    let status = wait_until("datanode 0 to refuse to start", HEAL, || {
        let status = cluster_exit(&mut cluster);
        async move { Ok(status) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!status.success(), "{status}");
    let log = cluster.datanode_log(0);
    let last = log.lines().rev().find(|l| l.contains(&dir)).unwrap_or("");
    assert!(last.contains("cannot"), "{last}\n{log}");
}

fn cluster_exit(cluster: &mut TestCluster) -> Option<std::process::ExitStatus> {
    cluster.datanode_exit(0)
}
