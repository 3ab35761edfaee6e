//! Full datanodes (issue 8): small `--capacity` datanodes fill up; new
//! blocks go to the nodes that still have room; once no node has room for
//! a block, every way of writing (seed `/upload_file`, WebHDFS CREATE, the
//! `dfs` CLI) fails with 507 and leaves nothing behind: no visible file, no
//! block file, no temp file.
//!
//! Figures that add up (issue 15): datanodes sharing one disk, as `dfs
//! local` runs them, report the disk's size and free space once in the
//! summary, `dfs report` and `/metrics`; capacities below the disk's size
//! add up.
use dfs_tests::{p, test_data, wait_until, ClusterOptions, TestCluster};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

const BLOCK: u64 = 64 * 1024;
/// Room for exactly four blocks per node.
const CAPACITY: u64 = 4 * BLOCK;
const NODES: usize = 3;

fn block_counts(cluster: &TestCluster) -> Vec<usize> {
    (0..NODES).map(|i| cluster.block_files(i).len()).collect()
}

fn tmp_files(cluster: &TestCluster) -> Vec<PathBuf> {
    (0..NODES).flat_map(|i| cluster.temp_files(i)).collect()
}

async fn upload(c: &reqwest::Client, nn: &str, name: &str, data: Vec<u8>) -> reqwest::Response {
    let form = Form::new()
        .text("directory", "/fill")
        .part("file", Part::bytes(data).file_name(name.to_string()));
    c.post(format!("{nn}/upload_file"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Waits until the datanodes hold exactly `want` blocks each (abandoned
/// writes' blocks are deleted through heartbeats) and no temp file.
async fn wait_blocks(cluster: &TestCluster, want: &[usize], what: &str) {
    wait_until(what, Duration::from_secs(30), || async {
        let now = block_counts(cluster);
        let tmps = tmp_files(cluster);
        if now == want && tmps.is_empty() {
            Ok(Some(()))
        } else {
            Err(anyhow::anyhow!(
                "blocks {now:?} (want {want:?}), temp files {tmps:?}"
            ))
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_datanodes_refuse_and_leave_nothing_behind() {
    let cluster = TestCluster::start(ClusterOptions {
        datanodes: NODES,
        replication: 1,
        block_size: BLOCK,
        // Abandoned blocks go quickly.
        namenode_args: vec!["--orphan-grace".into(), "1s".into()],
        datanode_args: vec!["--capacity".into(), CAPACITY.to_string()],
        ..Default::default()
    })
    .await;
    let nn = cluster.namenode_url();
    let c = dfs_tests::http_no_redirect();
    let per_node = (CAPACITY / BLOCK) as usize;
    // Three nodes limited below their shared disk's size: their capacities
    // add up, and the disk counts as one file system.
    wait_until("the capped capacity", Duration::from_secs(10), || async {
        let s = cluster.summary().await?;
        if s.capacity == NODES as u64 * CAPACITY && s.filesystems == 1 {
            Ok(Some(()))
        } else {
            Err(anyhow::anyhow!(
                "capacity {} on {} file systems",
                s.capacity,
                s.filesystems
            ))
        }
    })
    .await
    .unwrap();

    // Fill all but one block's room, one single-block file at a time. A
    // node that is full before a write gets nothing from it: the block
    // goes elsewhere, and every write succeeds while any node has room.
    let mut saw_a_full_node = false;
    for n in 0..(per_node * NODES - 1) {
        let before = block_counts(&cluster);
        let r = upload(
            &c,
            &nn,
            &format!("f{n}"),
            test_data(BLOCK as usize, n as u64),
        )
        .await;
        assert!(
            r.status().is_success(),
            "write {n} with room left ({before:?}): {}",
            r.text().await.unwrap()
        );
        wait_until("the block on disk", Duration::from_secs(10), || async {
            let s: usize = block_counts(&cluster).iter().sum();
            Ok((s == n + 1).then_some(()))
        })
        .await
        .unwrap();
        let after = block_counts(&cluster);
        for i in 0..NODES {
            assert!(
                after[i] <= per_node,
                "node {i} holds more than its capacity: {after:?}"
            );
            if before[i] == per_node {
                saw_a_full_node = true;
                assert_eq!(after[i], before[i], "a block went to full node {i}");
            }
        }
    }
    assert!(
        saw_a_full_node,
        "no node filled up before the others: {:?}",
        block_counts(&cluster)
    );
    // The namenode sees the nodes nearly full.
    let baseline = block_counts(&cluster);
    assert_eq!(baseline.iter().sum::<usize>(), per_node * NODES - 1);
    wait_until("the capacity report", Duration::from_secs(10), || async {
        let s = cluster.summary().await?;
        Ok((s.available < 2 * BLOCK).then_some(()))
    })
    .await
    .unwrap();

    // A three-block file: its first block fits, its second does not. The
    // upload fails with 507 and its first block is removed again.
    let r = upload(&c, &nn, "too-big.bin", test_data(3 * BLOCK as usize, 99)).await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 507, "seed upload into full nodes: {body}");
    assert_eq!(body["error"]["code"], "no_space", "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("free") || msg.contains("room"), "{msg}");
    let r = c
        .post(format!("{nn}/file_info"))
        .form(&[("file_name", "/fill/too-big.bin")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "a failed upload left a visible file"
    );
    wait_blocks(&cluster, &baseline, "the failed upload's blocks to go").await;

    // WebHDFS CREATE: the 307 step, then the data step on a datanode.
    let r = c
        .put(format!(
            "{nn}/webhdfs/v1/fill/w.bin?op=CREATE&user.name=alice"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let r = c
        .put(&location)
        .body(test_data(2 * BLOCK as usize, 5))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 507, "WebHDFS CREATE into full nodes: {body}");
    assert_eq!(
        body["RemoteException"]["exception"], "DiskOutOfSpaceException",
        "{body}"
    );
    assert!(cluster.client().status(&p("/fill/w.bin")).await.is_err());
    wait_blocks(
        &cluster,
        &baseline,
        "the failed WebHDFS write's blocks to go",
    )
    .await;

    // The CLI: exit 1 and one clear line.
    let local = cluster.root().join("local-2-blocks.bin");
    std::fs::write(&local, test_data(2 * BLOCK as usize, 6)).unwrap();
    let out = cluster.dfs(&["put", local.to_str().unwrap(), "/fill/cli.bin"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "dfs put into full nodes: {stderr}"
    );
    let line = stderr.lines().last().unwrap_or_default();
    assert!(line.starts_with("dfs: "), "{stderr}");
    assert!(line.contains("free") || line.contains("room"), "{stderr}");
    assert!(cluster.client().status(&p("/fill/cli.bin")).await.is_err());
    wait_blocks(&cluster, &baseline, "the failed CLI write's blocks to go").await;

    // A write that fits still works (the last block's room), once the
    // heartbeats have told the namenode the room is free again.
    wait_until(
        "the freed room to be reported",
        Duration::from_secs(10),
        || async {
            let s = cluster.summary().await?;
            Ok((s.available >= BLOCK).then_some(()))
        },
    )
    .await
    .unwrap();
    let r = upload(&c, &nn, "last.bin", test_data(BLOCK as usize / 2, 7)).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // A direct block write to a full datanode is refused with 507 too, and
    // keeps nothing.
    let full = (0..NODES)
        .find(|&i| cluster.block_files(i).len() == per_node)
        .expect("a full node");
    let id = "0190a0b0-0000-7000-8000-0000000000ff";
    let r = c
        .put(format!("{}/blocks/{id}", cluster.datanode_url(full)))
        .body(test_data(BLOCK as usize, 8))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 507, "direct write to a full node");
    assert!(cluster.block_file(full, id).is_none());
    assert!(tmp_files(&cluster).is_empty(), "{:?}", tmp_files(&cluster));
}

/// Three datanodes on one disk (as `dfs local` runs them): the cluster's
/// capacity is the disk's size and its available space at most the disk's,
/// not three times either; every node's blocks still count as used, and
/// each node's own row still shows the whole disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datanodes_on_one_disk_count_it_once() {
    const MIB: u64 = 1 << 20;
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let disk = fs4::statvfs(cluster.datanode_dir(0)).unwrap();
    for i in 1..NODES {
        let other = fs4::statvfs(cluster.datanode_dir(i)).unwrap();
        assert_eq!(other.total_space(), disk.total_space(), "one disk");
    }
    let total = disk.total_space();
    // 3 MiB, three replicas: 9 MiB of blocks over the three nodes.
    cluster
        .client()
        .upload(
            &p("/one-disk.bin"),
            &test_data(3 * MIB as usize, 1)[..],
            &dfs_client::UploadOptions::default(),
            &dfs_client::NoProgress,
        )
        .await
        .unwrap();

    let s = wait_until(
        "the summary to count the disk once",
        Duration::from_secs(15),
        || async {
            let s = cluster.summary().await?;
            if s.live_datanodes == 3 && s.used >= 9 * MIB && s.capacity <= total {
                Ok(Some(s))
            } else {
                Err(anyhow::anyhow!(
                    "{} live, capacity {} available {} used {}; the disk has {total} bytes",
                    s.live_datanodes,
                    s.capacity,
                    s.available,
                    s.used
                ))
            }
        },
    )
    .await
    .unwrap();
    // Measured after the summary: what the disk has free now, with some
    // slack for other processes writing and deleting meanwhile.
    let now = fs4::statvfs(cluster.datanode_dir(0)).unwrap();
    let slack = (1 << 30) + now.available_space() / 10;
    assert_eq!(s.capacity, total, "the disk's size, once: {s:?}");
    assert_eq!(s.filesystems, 1, "{s:?}");
    assert!(
        s.available <= now.available_space() + slack,
        "available {} but the disk has {} available (df's Avail)",
        s.available,
        now.available_space()
    );
    assert!(s.available + slack >= now.available_space(), "{s:?}");
    assert_eq!(
        s.used + s.available + s.reserved + s.non_dfs_used,
        s.capacity,
        "the parts add up: {s:?}"
    );
    let reserve = now.free_space() - now.available_space();
    assert!(
        s.reserved.abs_diff(reserve) <= slack,
        "reserved {} but the disk keeps {reserve} back",
        s.reserved
    );

    // Each node's own row shows the whole disk, and names the same file
    // system.
    let nodes = cluster.client().datanodes().await.unwrap();
    assert_eq!(nodes.len(), 3);
    for n in &nodes {
        assert_eq!(n.capacity, total, "{n:?}");
        assert!(n.filesystem.is_some(), "{n:?}");
        assert_eq!(n.filesystem, nodes[0].filesystem, "{nodes:?}");
    }
    let fs = nodes[0].filesystem.clone().unwrap();

    // `dfs report` and /metrics say the same.
    let report = cluster.dfs_ok(&["report"]);
    assert!(
        report.contains("on 1 file system\n"),
        "capacity line in:\n{report}"
    );
    assert!(
        report.contains(&format!("Shared file system {fs}: 3 datanodes")),
        "{report}"
    );
    let metrics = dfs_tests::metrics_text(&cluster.namenode_url())
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("\ndfs_namenode_capacity_bytes {total}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains("\ndfs_namenode_filesystems 1\n"),
        "{metrics}"
    );
}
