//! Maintenance with real processes (`dfs maintenance`): a node in
//! maintenance is stopped and its blocks are not copied (each keeps a live
//! replica elsewhere), every file still reads, it rejoins still in
//! maintenance; maintenance ended while it is down makes it dead as usual,
//! its blocks copied. Refusals: an unknown node (404), a node holding the
//! only live replica of a block (409), a bad duration (400).
use dfs_common::error::ErrorCode;
use dfs_common::proto::client::{DatanodeReport, DatanodeState};
use dfs_tests::{p, upload_many, verify_all, wait_until, ClusterOptions, TestCluster};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const HEAL: Duration = Duration::from_secs(60);
/// The cluster's dead-node timeout (see `opts`).
const DEAD_NODE_TIMEOUT: Duration = Duration::from_secs(2);

fn opts(datanodes: usize, replication: u16) -> ClusterOptions {
    ClusterOptions {
        datanodes,
        replication,
        dead_node_timeout: "2s",
        heartbeat_interval: "300ms",
        namenode_args: vec!["--replication-pending-timeout".into(), "10s".into()],
        ..Default::default()
    }
}

async fn row(cluster: &TestCluster, addr: &str) -> anyhow::Result<DatanodeReport> {
    cluster
        .client()
        .datanodes()
        .await?
        .into_iter()
        .find(|d| d.addr == addr)
        .ok_or_else(|| anyhow::anyhow!("no datanode at {addr}"))
}

/// Block files per running-or-not node, but for node `skip`.
fn block_counts(cluster: &TestCluster, n: usize, skip: usize) -> HashMap<usize, usize> {
    (0..n)
        .filter(|i| *i != skip)
        .map(|i| (i, cluster.block_files(i).len()))
        .collect()
}

#[tokio::test]
async fn a_node_in_maintenance_stops_without_copies_and_rejoins() {
    let mut cluster = TestCluster::start(opts(4, 2)).await;
    let c = cluster.client();
    let files = upload_many(&c, "/m", 8, 19).await;
    cluster.wait_fully_replicated(HEAL).await;
    let addr = cluster.datanode_url(0);
    let host_port = addr.trim_start_matches("http://").to_string();

    // Enter by address (as `dfs report` shows it).
    let out = cluster.dfs_ok(&["--json", "maintenance", &host_port]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["node"]["in_maintenance"], true, "{out}");
    assert!(v["node"]["maintenance_ends_in_ms"].is_null(), "{out}");
    let report = cluster.dfs_ok(&["report"]);
    assert!(report.contains("maintenance"), "{report}");

    // Stop it: once it is dead by heartbeat, nothing is copied.
    let before = block_counts(&cluster, 4, 0);
    let copies_before = cluster
        .summary()
        .await
        .unwrap()
        .replication
        .completed_copies;
    cluster.kill_datanode(0);
    wait_until("node 0 dead by heartbeat", HEAL, || async {
        let r = row(&cluster, &addr).await?;
        Ok((r.state == DatanodeState::Dead).then_some(r))
    })
    .await
    .map(|r| assert!(r.in_maintenance))
    .unwrap_or_else(|e| panic!("{e:#}"));
    // Watch for several dead-node timeouts (the monitors run many times):
    // no copy is scheduled or made, no block counts as lacking a replica.
    let watch_until = Instant::now() + DEAD_NODE_TIMEOUT * 4;
    while Instant::now() < watch_until {
        let s = cluster.summary().await.unwrap();
        assert_eq!(s.under_replicated_blocks, 0, "{s:?}");
        assert_eq!(s.missing_blocks, 0, "{s:?}");
        assert_eq!(s.replication.pending_copies, 0, "{s:?}");
        assert_eq!(s.replication.completed_copies, copies_before, "{s:?}");
        assert_eq!(block_counts(&cluster, 4, 0), before);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every file still reads, and new files go to the other nodes.
    verify_all(&c, &files).await;
    let more = upload_many(&c, "/while", 3, 23).await;
    for path in more.keys() {
        for b in c.locations(&p(path)).await.unwrap().blocks {
            assert!(b.replicas.iter().all(|r| r.addr != addr), "{path}");
        }
    }

    // It comes back, still in maintenance, its replicas counted as usual.
    cluster.start_datanode(0);
    cluster.wait_live(4).await;
    let r = row(&cluster, &addr).await.unwrap();
    assert!(r.in_maintenance && r.state == DatanodeState::Live, "{r:?}");
    cluster.wait_fully_replicated(HEAL).await;

    // Down again, and maintenance ended while it is down: its blocks are
    // copied to the others.
    cluster.kill_datanode(0);
    wait_until("node 0 dead again", HEAL, || async {
        let r = row(&cluster, &addr).await?;
        Ok((r.state == DatanodeState::Dead).then_some(()))
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let out = cluster.dfs_ok(&["--json", "maintenance", &host_port, "--end"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["node"]["in_maintenance"], false, "{out}");
    cluster.wait_fully_replicated(HEAL).await;
    let all: Vec<&String> = files.keys().chain(more.keys()).collect();
    for path in all {
        for b in c.locations(&p(path)).await.unwrap().blocks {
            assert_eq!(b.replicas.len(), 2, "{path}");
            assert!(b.replicas.iter().all(|r| r.addr != addr), "{path}");
        }
    }
    verify_all(&c, &files).await;
    verify_all(&c, &more).await;
}

#[tokio::test]
async fn maintenance_refusals_and_a_duration() {
    let cluster = TestCluster::start(opts(2, 1)).await;
    let c = cluster.client();
    let files = upload_many(&c, "/one", 1, 7).await;
    let path = files.keys().next().unwrap();
    let holder = c.locations(&p(path)).await.unwrap().blocks[0].replicas[0]
        .addr
        .clone();
    let other = (0..2)
        .map(|i| cluster.datanode_url(i))
        .find(|a| *a != holder)
        .unwrap();

    // Unknown node: 404.
    let e = c.maintenance("10.255.255.1:1", None).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound, "{e}");
    // The only live replica of a block: 409, naming how many blocks.
    let e = c.maintenance(&holder, None).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    assert!(e.to_string().contains("only live replica"), "{e}");
    let out = cluster.dfs(&["maintenance", &holder]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only live replica"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A bad duration: 400.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/datanodes/{}/maintenance?for=soon",
            cluster.namenode_url(),
            other.trim_start_matches("http://")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // A node holding nothing may go, for a while; it shows when it ends.
    let change = c
        .maintenance(&other, Some(Duration::from_secs(1800)))
        .await
        .unwrap();
    assert!(change.node.in_maintenance);
    let left = change.node.maintenance_ends_in_ms.unwrap();
    assert!(left > 1_700_000 && left <= 1_800_000, "{left}");
    let report = cluster.dfs_ok(&["report"]);
    assert!(report.contains("s left)"), "{report}");
    // Ended: back to normal.
    let change = c.end_maintenance(&other).await.unwrap();
    assert!(!change.node.in_maintenance);
}
