//! Rack-aware placement with real processes: datanodes started with
//! `--rack`, replicas checked where they really are (which datanodes' data
//! dirs hold the block files), a whole rack killed, and a block written
//! while only one rack existed counted by fsck as mis-replicated and
//! moved onto a second rack when one joins.
use dfs_client::DfsClient;
use dfs_tests::{
    p, test_data, upload_many, upload_one, verify_all, wait_until, ClusterOptions, TestCluster,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

const HEAL: Duration = Duration::from_secs(90);

/// Options for datanodes on `racks[i]` each.
fn opts(racks: &[&str], replication: u16) -> ClusterOptions {
    ClusterOptions {
        replication,
        datanode_args_at: racks
            .iter()
            .map(|r| vec!["--rack".into(), r.to_string()])
            .collect(),
        ..ClusterOptions::healing(racks.len())
    }
}

/// The block ids of `files`.
async fn block_ids(c: &DfsClient, files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut ids = Vec::new();
    for path in files.keys() {
        for b in c.locations(&p(path)).await.unwrap().blocks {
            ids.push(b.block_id.to_string());
        }
    }
    ids
}

/// Waits until every block of `files` is, on disk, on exactly
/// `replication` running datanodes spread over at least `min_racks`
/// racks (`racks[i]` is datanode `i`'s).
async fn wait_on_disk(
    cluster: &TestCluster,
    files: &BTreeMap<String, Vec<u8>>,
    racks: &[&str],
    replication: usize,
    min_racks: usize,
) {
    let ids = block_ids(&cluster.client(), files).await;
    assert!(!ids.is_empty());
    wait_until(
        &format!("every block on {replication} disks over {min_racks}+ racks"),
        HEAL,
        || {
            let ids = ids.clone();
            async move {
                let mut holders: HashMap<String, Vec<usize>> = HashMap::new();
                for (i, b) in cluster.all_block_files() {
                    if cluster.is_running(i) {
                        holders.entry(b).or_default().push(i);
                    }
                }
                for id in &ids {
                    let on = holders.get(id).cloned().unwrap_or_default();
                    let spread: HashSet<&str> = on.iter().map(|&i| racks[i]).collect();
                    if on.len() != replication || spread.len() < min_racks {
                        anyhow::bail!("block {id} is on datanodes {on:?} ({} racks)", spread.len());
                    }
                }
                Ok(Some(()))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
}

/// Waits until fsck counts `n` mis-replicated blocks.
async fn wait_mis_replicated(cluster: &TestCluster, n: u64) {
    wait_until(&format!("{n} mis-replicated blocks"), HEAL, || async {
        let f = cluster.fsck().await?;
        if f.mis_replicated_blocks == n {
            Ok(Some(()))
        } else {
            anyhow::bail!("fsck counts {} mis-replicated", f.mis_replicated_blocks)
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_racks_hold_every_block_and_survive_losing_one() {
    let racks = ["/r0", "/r0", "/r1", "/r1", "/r2", "/r2"];
    let mut cluster = TestCluster::start(opts(&racks, 3)).await;
    let c = cluster.client();

    // The namenode knows each node's rack (JSON API and `dfs report`).
    let rows = c.datanodes().await.unwrap();
    for r in &rows {
        let i = cluster.node_index(&r.addr).unwrap();
        assert_eq!(r.rack, racks[i], "datanode {i}");
    }
    let report = cluster.dfs_ok(&["report"]);
    assert!(
        report.contains("RACK") && report.contains("/r2"),
        "{report}"
    );

    // Every block on 3 datanodes of 3 racks, on disk.
    let files = upload_many(&c, "/racks", 8, 19).await;
    cluster.wait_fully_replicated(HEAL).await;
    wait_on_disk(&cluster, &files, &racks, 3, 3).await;
    assert_eq!(cluster.fsck().await.unwrap().mis_replicated_blocks, 0);

    // A whole rack goes: every file still reads bit-exact, at once.
    cluster.kill_datanode(2);
    cluster.kill_datanode(3);
    verify_all(&c, &files).await;

    // Repaired on the two racks left: 3 replicas, at least 2 racks.
    cluster.wait_live(4).await;
    cluster.wait_fully_replicated(HEAL).await;
    wait_on_disk(&cluster, &files, &racks, 3, 2).await;
    assert_eq!(cluster.fsck().await.unwrap().mis_replicated_blocks, 0);
    verify_all(&c, &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racks_and_replication_three_use_both() {
    let racks = ["/a", "/a", "/b", "/b"];
    let cluster = TestCluster::start(opts(&racks, 3)).await;
    let c = cluster.client();
    let files = upload_many(&c, "/two", 8, 23).await;
    cluster.wait_fully_replicated(HEAL).await;
    wait_on_disk(&cluster, &files, &racks, 3, 2).await;
    assert_eq!(cluster.fsck().await.unwrap().mis_replicated_blocks, 0);
    verify_all(&c, &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_written_on_one_rack_move_to_a_second() {
    // Datanodes 0 and 1 on /a; 2 and 3 on /b, where 2 is too small for
    // any block (so the block stays on one rack, counted, until 3 comes).
    let racks = ["/a", "/a", "/b", "/b"];
    let mut o = opts(&racks, 2);
    o.datanode_args_at[2].extend(["--capacity".into(), "1KiB".into()]);
    let mut cluster = TestCluster::start(o).await;
    let c = cluster.client();
    cluster.stop_datanode(2);
    cluster.stop_datanode(3);
    cluster.wait_live(2).await;

    // Written while only /a is live: both replicas there, and that is
    // all it can be (not mis-replicated).
    let mut files = BTreeMap::new();
    for i in 0..4u64 {
        let data = test_data(200_000 + i as usize * 300_000, 40 + i);
        let path = format!("/one-rack/f{i}");
        upload_one(&c, &path, &data).await;
        files.insert(path, data);
    }
    cluster.wait_fully_replicated(HEAL).await;
    wait_on_disk(&cluster, &files, &racks, 2, 1).await;
    let blocks = block_ids(&c, &files).await.len() as u64;
    assert_eq!(cluster.fsck().await.unwrap().mis_replicated_blocks, 0);

    // /b comes, but only with a node that can take nothing: every block
    // is now on fewer racks than it could be, and stays counted.
    cluster.start_datanode(2);
    cluster.wait_live(3).await;
    wait_mis_replicated(&cluster, blocks).await;
    let text = cluster.dfs_ok(&["fsck", "/"]);
    let want = ["Mis-replicated", "blocks:", &blocks.to_string()].join(" ");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == want),
        "fsck text: {text}"
    );

    // A node of /b with room: repaired (a copy there, then one of the
    // two on /a removed).
    cluster.start_datanode(3);
    cluster.wait_live(4).await;
    wait_mis_replicated(&cluster, 0).await;
    cluster.wait_fully_replicated(HEAL).await;
    wait_on_disk(&cluster, &files, &racks, 2, 2).await;
    verify_all(&c, &files).await;
}
