//! Fault tolerance with real processes: dead datanodes, re-replication,
//! corruption repair (on read and by the scanner), crashes during uploads,
//! a namenode crash, returning nodes, setrep, decommissioning. Every test
//! ends with every file read back bit-exact and fsck clean.
use dfs_client::{DfsClient, NoProgress, UploadOptions};
use dfs_common::error::ErrorCode;
use dfs_common::proto::client::AdminState;
use dfs_tests::{
    flip_byte, p, test_data, upload_many, verify_all, wait_until, ClusterOptions, TestCluster,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

const MB: usize = 1 << 20;
const HEAL: Duration = Duration::from_secs(60);

fn opts(datanodes: usize) -> ClusterOptions {
    ClusterOptions::healing(datanodes)
}

/// Live replicas per block for these files, and the node set of each.
async fn replica_sets(
    c: &DfsClient,
    files: &BTreeMap<String, Vec<u8>>,
) -> HashMap<String, HashSet<String>> {
    let mut m = HashMap::new();
    for path in files.keys() {
        for b in c.locations(&p(path)).await.unwrap().blocks {
            m.insert(
                b.block_id.to_string(),
                b.replicas.into_iter().map(|r| r.addr).collect(),
            );
        }
    }
    m
}

/// Disk agrees with the namenode: each block of each file is on exactly
/// `replication` nodes' disks (no leftover, no orphan).
async fn disks_match(
    cluster: &TestCluster,
    c: &DfsClient,
    files: &BTreeMap<String, Vec<u8>>,
    replication: usize,
) {
    disk_copies(cluster, c, files, replication, true).await
}

/// Each block of `files` is on exactly `replication` running nodes' disks;
/// with `exclusive`, no block of anything else is on any disk either.
async fn disk_copies(
    cluster: &TestCluster,
    c: &DfsClient,
    files: &BTreeMap<String, Vec<u8>>,
    replication: usize,
    exclusive: bool,
) {
    let mut want: HashMap<String, usize> = HashMap::new();
    for path in files.keys() {
        for b in c.locations(&p(path)).await.unwrap().blocks {
            want.insert(b.block_id.to_string(), replication);
        }
    }
    wait_until("block files on disk match the namespace", HEAL, || {
        let want = want.clone();
        async move {
            let mut have: HashMap<String, usize> = HashMap::new();
            for (i, b) in cluster.all_block_files() {
                if cluster.is_running(i) && (exclusive || want.contains_key(&b)) {
                    *have.entry(b).or_default() += 1;
                }
            }
            if have == want {
                Ok(Some(()))
            } else {
                let extra = have.keys().filter(|k| !want.contains_key(*k)).count();
                let wrong = want.iter().filter(|(k, v)| have.get(*k) != Some(v)).count();
                Err(anyhow::anyhow!("{extra} unexpected block ids on disk, {wrong} blocks with the wrong copy count"))
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_one_of_four_datanodes_restores_full_replication() {
    let mut cluster = TestCluster::start(opts(4)).await;
    let c = cluster.client();
    let files = upload_many(&c, "/many", 16, 1).await;
    let before = replica_sets(&c, &files).await;
    // Kill the node that holds the most replicas.
    let mut counts = [0; 4];
    for nodes in before.values() {
        for a in nodes {
            counts[cluster.node_index(a).unwrap()] += 1;
        }
    }
    let victim = (0..4).max_by_key(|&i| counts[i]).unwrap();
    assert!(counts[victim] > 0);
    cluster.kill_datanode(victim);
    cluster.wait_live(3).await;
    cluster.wait_fully_replicated(HEAL).await;
    let after = replica_sets(&c, &files).await;
    let dead = cluster.datanode_url(victim);
    for (b, nodes) in &after {
        assert_eq!(nodes.len(), 3, "block {b} has 3 live replicas");
        assert!(
            !nodes.contains(&dead),
            "no replica counted on the dead node"
        );
    }
    // Only blocks that lost a replica moved.
    for (b, nodes) in &before {
        if !nodes.contains(&dead) {
            assert_eq!(&after[b], nodes, "an unaffected block kept its replicas");
        }
    }
    verify_all(&c, &files).await;
    disks_match(&cluster, &c, &files, 3).await;
    let s = cluster.summary().await.unwrap();
    assert!(
        s.replication.completed_copies as usize >= counts[victim],
        "{:?}",
        s.replication
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_replicas_are_repaired_on_read_and_by_the_scanner() {
    let mut o = opts(4);
    o.datanode_args = vec![
        "--scan-period".into(),
        "1s".into(),
        "--scan-rate".into(),
        "1GiB".into(),
    ];
    let cluster = TestCluster::start(o).await;
    let c = cluster.client();
    let files = upload_many(&c, "/c", 4, 50).await;
    let (path_a, data_a) = files.iter().nth(2).unwrap(); // 2+ MiB: several blocks
    let locs = c.locations(&p(path_a)).await.unwrap();

    // (1) Found by a reader: flip a byte in the replica a reader tries first.
    let b0 = &locs.blocks[0];
    let n0 = cluster.node_index(&b0.replicas[0].addr).unwrap();
    flip_byte(
        &cluster.block_file(n0, &b0.block_id.to_string()).unwrap(),
        1234,
    );
    let mut back = Vec::new();
    c.download(&p(path_a), &mut back, &NoProgress)
        .await
        .unwrap();
    assert!(&back == data_a, "read stays correct");

    // (2) Found by the scanner: flip a byte in a replica nobody reads.
    let b1 = &locs.blocks[1];
    let n1 = cluster.node_index(&b1.replicas[2].addr).unwrap();
    flip_byte(
        &cluster.block_file(n1, &b1.block_id.to_string()).unwrap(),
        77_777,
    );
    wait_until("the scanner finds the corrupt replica", HEAL, || async {
        let h = cluster.datanode_health(n1).await?;
        Ok((h["scanner"]["corrupt_found"].as_u64().unwrap_or(0) >= 1).then_some(()))
    })
    .await
    .unwrap();

    // Both bad replicas were replaced by copies made from good ones.
    wait_until("two repair copies", HEAL, || async {
        let s = cluster.summary().await?;
        Ok((s.replication.completed_copies >= 2).then_some(()))
    })
    .await
    .unwrap();
    cluster.wait_fully_replicated(HEAL).await;
    // Every replica now on record is a good one: its bytes match the digest.
    for path in files.keys() {
        for b in c.locations(&p(path)).await.unwrap().blocks {
            assert_eq!(b.replicas.len(), 3);
            for r in &b.replicas {
                let bytes = reqwest::get(format!("{}/blocks/{}", r.addr, b.block_id))
                    .await
                    .unwrap()
                    .error_for_status()
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert_eq!(bytes.len() as u64, b.len, "full replica on {}", r.addr);
                assert_eq!(
                    Some(dfs_common::checksum::Sha256Digest::of(&bytes)),
                    b.sha256,
                    "good replica on {}",
                    r.addr
                );
            }
        }
    }
    let corrupt_found: u64 = {
        let mut n = 0;
        for i in 0..4 {
            let h = cluster.datanode_health(i).await.unwrap();
            n += h["scanner"]["corrupt_found"].as_u64().unwrap_or(0);
        }
        n
    };
    assert!(
        corrupt_found >= 1,
        "the scanner found the unread corrupt replica"
    );
    verify_all(&c, &files).await;
    disks_match(&cluster, &c, &files, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datanode_killed_during_a_large_upload() {
    let mut cluster = TestCluster::start(opts(4)).await;
    let c = cluster.client();
    let data = test_data(40 * MB + 5, 77);
    let local = cluster.root().join("big.bin");
    std::fs::write(&local, &data).unwrap();
    let nn = cluster.namenode_url();
    let dfs = dfs_tests::bin("dfs");
    let upload = std::process::Command::new(&dfs)
        .args([
            "--namenode",
            &nn,
            "put",
            local.to_str().unwrap(),
            "/big.bin",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the upload is under way (blocks landing on disk), then kill a node.
    wait_until("upload under way", Duration::from_secs(30), || async {
        Ok((cluster.all_block_files().len() >= 12).then_some(()))
    })
    .await
    .unwrap();
    cluster.kill_datanode(1);
    let out = upload.wait_with_output().unwrap();
    if out.status.success() {
        let mut back = Vec::new();
        c.download(&p("/big.bin"), &mut back, &NoProgress)
            .await
            .unwrap();
        assert!(back == data, "upload that succeeded is intact");
        cluster.wait_live(3).await;
        cluster.wait_fully_replicated(HEAL).await;
        let files = BTreeMap::from([("/big.bin".to_string(), data)]);
        verify_all(&c, &files).await;
        disks_match(&cluster, &c, &files, 3).await;
    } else {
        eprintln!(
            "upload failed cleanly: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            c.status(&p("/big.bin")).await.unwrap_err().code(),
            ErrorCode::NotFound
        );
        wait_until("no block left behind", HEAL, || async {
            Ok(cluster
                .all_block_files()
                .iter()
                .all(|(i, _)| !cluster.is_running(*i))
                .then_some(()))
        })
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namenode_killed_while_uploads_run() {
    let mut cluster = TestCluster::start(opts(3)).await;
    let c = cluster.client();
    let done = upload_many(&c, "/before", 3, 300).await;
    // Several uploads in flight, each from a source that trickles, so the
    // namenode dies in the middle of them.
    let baseline = cluster.all_block_files().len();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let data = test_data(5 * MB + i, 400 + i as u64);
            let path = format!("/during/f{i}");
            let (tx, rx) = tokio::io::duplex(64 * 1024);
            let feeder = {
                let data = data.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let mut tx = tx;
                    for chunk in data.chunks(256 * 1024) {
                        if tx.write_all(chunk).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(40)).await;
                    }
                })
            };
            let r = c
                .upload(&p(&path), rx, &UploadOptions::default(), &NoProgress)
                .await;
            feeder.abort();
            (path, data, r.is_ok())
        }));
    }
    wait_until("uploads under way", Duration::from_secs(30), || async {
        Ok((cluster.all_block_files().len() >= baseline + 3 * 3).then_some(()))
    })
    .await
    .unwrap();
    cluster.kill_namenode();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    cluster.start_namenode();
    cluster.wait_live(3).await;
    wait_until("out of safe mode", HEAL, || async {
        Ok((!cluster.summary().await?.safe_mode).then_some(()))
    })
    .await
    .unwrap();
    let mut files = done.clone();
    for (path, data, ok) in results {
        if ok {
            files.insert(path, data);
        } else {
            let e = c
                .status(&p(&path))
                .await
                .expect_err("a failed upload is not visible");
            assert_eq!(e.code(), ErrorCode::NotFound, "{path}");
        }
    }
    verify_all(&c, &files).await;
    cluster.wait_fully_replicated(HEAL).await;
    // Blocks of the interrupted uploads are deleted from disk: those the
    // namenode knew (their files' leases expire) by themselves, any it
    // learned of only as the datanodes registered again on the operator's
    // word (they are held: after a start, the metadata could be what is
    // wrong).
    c.delete_orphans().await.unwrap();
    disks_match(&cluster, &c, &files, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returning_datanode_has_its_excess_replicas_trimmed() {
    let mut cluster = TestCluster::start(opts(4)).await;
    let c = cluster.client();
    let files = upload_many(&c, "/ret", 8, 600).await;
    cluster.kill_datanode(2);
    cluster.wait_live(3).await;
    cluster.wait_fully_replicated(HEAL).await;
    // It comes back with its old blocks: those are now extra copies.
    cluster.start_datanode(2);
    cluster.wait_live(4).await;
    cluster.wait_fully_replicated(HEAL).await;
    for nodes in replica_sets(&c, &files).await.values() {
        assert_eq!(nodes.len(), 3);
    }
    verify_all(&c, &files).await;
    disks_match(&cluster, &c, &files, 3).await;
    assert!(cluster.summary().await.unwrap().replication.excess_deleted > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setrep_up_and_down_then_decommission() {
    let mut cluster = TestCluster::start(opts(4)).await;
    let c = cluster.client();
    let files = upload_many(&c, "/rep", 6, 700).await;
    let one = BTreeMap::from([(String::from("/rep/f03"), files["/rep/f03"].clone())]);

    // setrep up to 4 (every node), then down to 1.
    cluster.dfs_ok(&["setrep", "4", "/rep/f03"]);
    cluster.wait_fully_replicated(HEAL).await;
    assert!(replica_sets(&c, &one).await.values().all(|n| n.len() == 4));
    cluster.dfs_ok(&["setrep", "1", "/rep/f03"]);
    cluster.wait_fully_replicated(HEAL).await;
    assert!(replica_sets(&c, &one).await.values().all(|n| n.len() == 1));
    disk_copies(&cluster, &c, &one, 1, false).await;
    cluster.dfs_ok(&["setrep", "3", "/rep/f03"]);
    cluster.wait_fully_replicated(HEAL).await;

    // Decommission a node: its blocks are copied elsewhere, then it can go.
    let node = cluster.datanode_url(0);
    let out = cluster.dfs_ok(&["--json", "decommission", node.trim_start_matches("http://")]);
    assert!(out.contains("decommission"), "{out}");
    wait_until("node 0 decommissioned", HEAL, || async {
        let dns = c.datanodes().await?;
        let d = dns
            .iter()
            .find(|d| d.addr == node)
            .ok_or_else(|| anyhow::anyhow!("node gone"))?;
        Ok((d.admin_state == AdminState::Decommissioned).then_some(()))
    })
    .await
    .unwrap();
    cluster.stop_datanode(0);
    // Nothing depended on it: no block is under-replicated, right away.
    let f = cluster.fsck().await.unwrap();
    assert_eq!(
        (f.under_replicated_blocks, f.missing_blocks),
        (0, 0),
        "{f:?}"
    );
    cluster.wait_fully_replicated(HEAL).await;
    verify_all(&c, &files).await;
    // Three replicas of every block on nodes other than the decommissioned one
    // (which may still be listed, last, until it is declared dead).
    for nodes in replica_sets(&c, &files).await.values() {
        assert_eq!(nodes.iter().filter(|a| **a != node).count(), 3, "{nodes:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namenode_restart_is_in_safe_mode_until_blocks_are_reported() {
    let mut cluster = TestCluster::start(opts(3)).await;
    let c = cluster.client();
    let files = upload_many(&c, "/safe", 4, 800).await;
    for i in 0..3 {
        cluster.stop_datanode(i);
    }
    cluster.stop_namenode();
    cluster.start_namenode();
    wait_until("namenode up", HEAL, || async {
        Ok(cluster.summary().await.ok().map(|_| ()))
    })
    .await
    .unwrap();
    // No datanode has reported: safe mode; reads of metadata work, writes are refused with 503.
    let s = cluster.summary().await.unwrap();
    assert!(s.safe_mode, "{s:?}");
    assert!(c.status(&p("/safe/f01")).await.is_ok());
    let e = c
        .mkdirs(&p("/safe/new"), true)
        .await
        .expect_err("writes refused in safe mode");
    assert_eq!(e.code(), ErrorCode::Unavailable);
    assert!(e.to_string().contains("safe mode"), "{e}");
    let e = c
        .upload(
            &p("/safe/x"),
            &b"x"[..],
            &UploadOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unavailable);
    for i in 0..3 {
        cluster.start_datanode(i);
    }
    cluster.wait_live(3).await;
    wait_until("out of safe mode", HEAL, || async {
        Ok((!cluster.summary().await?.safe_mode).then_some(()))
    })
    .await
    .unwrap();
    c.mkdirs(&p("/safe/new"), true).await.unwrap();
    let s = cluster.summary().await.unwrap();
    assert_eq!(
        s.replication.completed_copies, 0,
        "no re-replication storm after a restart"
    );
    cluster.wait_fully_replicated(HEAL).await;
    verify_all(&c, &files).await;
}
