//! The balancer (issue 19) against real processes: three datanodes filled,
//! three empty ones join, `dfs balancer --threshold 10` runs; meanwhile no
//! block is ever below its replication (fsck polled in a loop) and a file
//! read during the balancing is bit-exact; at the end every live node's
//! used share is within the threshold of the cluster's (from
//! `/api/v1/datanodes`, each node run with `--capacity` so that shares
//! differ on one test disk) and every file reads back.
use dfs_tests::{p, test_data, upload_one, wait_until, ClusterOptions, TestCluster};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BLOCK: u64 = 64 * 1024;
const THRESHOLD: f64 = 10.0;

/// Each node's (used share in percent) from `/api/v1/datanodes`, live
/// nodes only.
async fn shares(cluster: &TestCluster) -> anyhow::Result<Vec<f64>> {
    let url = format!("{}/api/v1/datanodes", cluster.namenode_url());
    let v: Value = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(url)
        .send()
        .await?
        .json()
        .await?;
    let rows = v.as_array().cloned().unwrap_or_default();
    Ok(rows
        .iter()
        .filter(|r| r["state"] == "live")
        .map(|r| {
            let used = r["used"].as_u64().unwrap_or(0) as f64;
            let cap = r["capacity"].as_u64().unwrap_or(1).max(1) as f64;
            used * 100.0 / cap
        })
        .collect())
}

fn within(shares: &[f64], threshold: f64) -> bool {
    let avg = shares.iter().sum::<f64>() / shares.len().max(1) as f64;
    shares.iter().all(|s| (s - avg).abs() <= threshold)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_full_nodes_and_three_empty_ones_balance() {
    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 6,
        block_size: BLOCK,
        replication: 2,
        // Slow enough to be seen at work, fast enough for a test.
        namenode_args: vec!["--balancer-bandwidth".into(), "1MiB".into()],
        datanode_args: vec!["--capacity".into(), "8MiB".into()],
        ..Default::default()
    })
    .await;
    for i in 3..6 {
        cluster.stop_datanode(i);
    }
    cluster.wait_live(3).await;
    let c = cluster.client();

    // About 4.8 MB, replication 2, on three nodes of 8 MiB: some 40 %.
    let mut files = BTreeMap::new();
    for i in 0..12u64 {
        let data = test_data(300_000 + (i as usize) * 17_000, 90 + i);
        let path = format!("/fill/f{i:02}");
        upload_one(&c, &path, &data).await;
        files.insert(path, data);
    }
    cluster.wait_fully_replicated(Duration::from_secs(60)).await;

    for i in 3..6 {
        cluster.start_datanode(i);
    }
    cluster.wait_live(6).await;
    // The new nodes' (empty) figures in.
    wait_until("shares out of balance", Duration::from_secs(30), || async {
        let s = shares(&cluster).await?;
        Ok((s.len() == 6 && !within(&s, THRESHOLD)).then_some(()))
    })
    .await
    .unwrap();

    // Watchers: fsck never shows a block below its replication; a file
    // read during the balancing is bit-exact.
    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicU64::new(0));
    let watch = {
        let (stop, polls) = (stop.clone(), polls.clone());
        let c = cluster.client();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(f) = c.fsck(&p("/")).await {
                    assert_eq!(f.under_replicated_blocks, 0, "{f:?}");
                    assert_eq!(f.missing_blocks, 0, "{f:?}");
                    assert_eq!(f.corrupt_blocks, 0, "{f:?}");
                    polls.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let reader = {
        let stop = stop.clone();
        let c = cluster.client();
        let (path, data) = files
            .iter()
            .next_back()
            .map(|(p, d)| (p.clone(), d.clone()))
            .unwrap();
        tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) || reads == 0 {
                let mut back = Vec::new();
                c.download(&p(&path), &mut back, &dfs_client::NoProgress)
                    .await
                    .unwrap_or_else(|e| panic!("read {path} while balancing: {e}"));
                assert!(back == data, "{path} differs while balancing");
                reads += 1;
            }
            reads
        })
    };

    let out = cluster.dfs_ok(&["balancer", "--threshold", "10"]);
    assert!(out.contains("running"), "{out}");
    let status = cluster.dfs_ok(&["--json", "balancer", "--status"]);
    let v: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["threshold"], 10.0, "{v}");

    // Done: the balancer stopped by itself, nothing in flight, and the
    // figures (which lag a heartbeat) within the threshold.
    wait_until("balanced", Duration::from_secs(180), || async {
        let s: Value = serde_json::from_str(&cluster.dfs_ok(&["--json", "balancer", "--status"]))?;
        let done = s["running"] == false && s["moves_in_flight"] == 0;
        let sh = shares(&cluster).await?;
        Ok((done && sh.len() == 6 && within(&sh, THRESHOLD)).then_some(s))
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    watch.await.unwrap();
    let reads = reader.await.unwrap();
    assert!(polls.load(Ordering::Relaxed) > 0);
    assert!(reads > 0);

    let s: Value =
        serde_json::from_str(&cluster.dfs_ok(&["--json", "balancer", "--status"])).unwrap();
    eprintln!(
        "balancer: {s}; fsck polls {}, reads {reads}",
        polls.load(Ordering::Relaxed)
    );
    assert!(s["bytes_moved"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["last_stop"], "balanced", "{s}");
    // Every new node took some.
    let sh = shares(&cluster).await.unwrap();
    assert!(sh.iter().all(|x| *x > 0.0), "{sh:?}");
    // The report has a line.
    let report = cluster.dfs_ok(&["report"]);
    assert!(
        report.contains("Balancer: not running (balanced)"),
        "{report}"
    );
    // Exactly the replication after (the source replicas went).
    cluster.wait_fully_replicated(Duration::from_secs(60)).await;
    for (path, data) in &files {
        let mut back = Vec::new();
        c.download(&p(path), &mut back, &dfs_client::NoProgress)
            .await
            .unwrap();
        assert!(&back == data, "{path} differs");
    }

    // Stop: accepted when not running; a bad threshold is refused.
    let out = cluster.dfs_ok(&["balancer", "--stop"]);
    assert!(out.contains("not running"), "{out}");
    let bad = cluster.dfs(&["balancer", "--threshold", "150"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("threshold"));
}
