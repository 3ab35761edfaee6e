//! Quotas (issue 21) through the CLI, the native API and WebHDFS, against a
//! real cluster: a name quota and a space quota at their edges (exactly at
//! the quota succeeds, one past fails with 403 `quota_exceeded`), an upload
//! that crosses the space quota mid-file (refused at that block, nothing
//! visible, its blocks gone from the disks), a rename of a tree that would
//! break a quota, `dfs count -q`, Hadoop's shapes, and quotas after a
//! restart.
use dfs_tests::{get_json, test_data, wait_until, ClusterOptions, TestCluster};
use serde_json::{json, Value};
use std::time::Duration;

const MIB: u64 = 1 << 20;

fn count_q(cluster: &TestCluster, path: &str) -> Vec<String> {
    let out = cluster.dfs_ok(&["count", "-q", path]);
    out.split_whitespace().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_hold_at_their_edges_through_every_door() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let local = cluster.root().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let small = local.join("small.txt");
    std::fs::write(&small, b"hello").unwrap();
    let small = small.to_str().unwrap();

    // Name quota 4: /q itself and three more names.
    cluster.dfs_ok(&["mkdir", "/q"]);
    let set = cluster.dfs_ok(&["quota", "set", "--files", "4", "/q"]);
    assert_eq!(set, "/q: files and directories 1 of 4, bytes 0 B of none\n");
    cluster.dfs_ok(&["mkdir", "/q/a"]);
    cluster.dfs_ok(&["put", small, "/q/a/f.txt"]);
    cluster.dfs_ok(&["mkdir", "/q/b"]);
    cluster.dfs_fails(&["mkdir", "/q/c"], "name quota of /q is exceeded");
    cluster.dfs_fails(&["put", small, "/q/g.txt"], "quota");
    assert!(!cluster.dfs(&["stat", "/q/g.txt"]).status.success());
    // QUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME
    assert_eq!(
        count_q(&cluster, "/q"),
        ["4", "0", "none", "inf", "3", "1", "5", "/q"]
    );
    let header = cluster.dfs_ok(&["count", "-v", "/q"]);
    assert!(
        header.starts_with("   DIR_COUNT   FILE_COUNT       CONTENT_SIZE PATHNAME\n"),
        "{header}"
    );

    // The native API's error: 403 quota_exceeded, nothing made.
    let nn = cluster.namenode_url();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{nn}/rpc/v1/mkdirs"))
        .json(&json!({"path": "/q/c/d", "parents": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
    // WebHDFS: Hadoop's exception, and its quota shapes.
    let r = http
        .put(format!("{nn}/webhdfs/v1/q/c?op=MKDIRS"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["RemoteException"]["exception"], "NSQuotaExceededException",
        "{body}"
    );
    let q = get_json(&format!("{nn}/webhdfs/v1/q?op=GETQUOTAUSAGE")).await;
    assert_eq!(
        q,
        json!({"QuotaUsage": {"fileAndDirectoryCount": 4, "quota": 4, "spaceConsumed": 15, "spaceQuota": -1, "typeQuota": {}}})
    );
    // A delete frees a name: exactly at the quota again.
    cluster.dfs_ok(&["rm", "--skip-trash", "-r", "/q/b"]);
    cluster.dfs_ok(&["mkdir", "/q/c"]);
    // SETQUOTA through WebHDFS: a space quota, the name quota kept.
    let r = http
        .put(format!(
            "{nn}/webhdfs/v1/q?op=SETQUOTA&storagespacequota=1000000"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let cs = get_json(&format!("{nn}/webhdfs/v1/q?op=GETCONTENTSUMMARY")).await;
    assert_eq!(cs["ContentSummary"]["quota"], 4, "{cs}");
    assert_eq!(cs["ContentSummary"]["spaceQuota"], 1_000_000, "{cs}");

    // A space quota of three blocks of three replicas: an upload that would
    // need a fourth is refused at that block; nothing is left of it.
    cluster.dfs_ok(&["mkdir", "/s"]);
    cluster.dfs_ok(&["quota", "set", "--bytes", "9MiB", "/s"]);
    let exact = local.join("exact.bin");
    std::fs::write(&exact, test_data(3 * MIB as usize, 1)).unwrap();
    cluster.dfs_ok(&["put", exact.to_str().unwrap(), "/s/exact.bin"]);
    assert_eq!(
        count_q(&cluster, "/s"),
        [
            "none",
            "inf",
            &(9 * MIB).to_string(),
            "0",
            "1",
            "1",
            &(3 * MIB).to_string(),
            "/s"
        ]
    );
    cluster.dfs_ok(&["rm", "--skip-trash", "/s/exact.bin"]);
    let big = local.join("big.bin");
    std::fs::write(&big, test_data(5 * MIB as usize, 2)).unwrap();
    cluster.dfs_fails(
        &["put", big.to_str().unwrap(), "/s/big.bin"],
        "space quota of /s is exceeded",
    );
    assert!(!cluster.dfs(&["stat", "/s/big.bin"]).status.success());
    wait_until(
        "the refused upload's blocks gone",
        Duration::from_secs(30),
        || async { Ok(cluster.all_block_files().len().eq(&3).then_some(())) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}: {:?}", cluster.all_block_files()));
    // setrep is checked too: 2 MiB at 3 replicas fits in 9 MiB, at 5 not.
    let two = local.join("two.bin");
    std::fs::write(&two, test_data(2 * MIB as usize, 3)).unwrap();
    cluster.dfs_ok(&["put", two.to_str().unwrap(), "/s/two.bin"]);
    cluster.dfs_fails(&["setrep", "5", "/s/two.bin"], "space quota");
    cluster.dfs_ok(&["setrep", "4", "/s/two.bin"]);

    // A rename of a tree that would break a name quota changes nothing.
    cluster.dfs_ok(&["mkdir", "-p", "/tree/x", "/narrow"]);
    for i in 0..5 {
        cluster.dfs_ok(&["put", small, &format!("/tree/x/{i}.txt")]);
    }
    cluster.dfs_ok(&["quota", "set", "--files", "7", "/narrow"]);
    cluster.dfs_fails(&["mv", "/tree", "/narrow/tree"], "name quota of /narrow");
    assert!(cluster.dfs(&["stat", "/tree/x/4.txt"]).status.success());
    // One level less fits exactly: /narrow + x + 5 files = 7.
    cluster.dfs_ok(&["mv", "/tree/x", "/narrow/x"]);

    // Quotas outlive a restart, still enforced.
    cluster.stop_namenode();
    cluster.start_namenode();
    cluster.wait_live(3).await;
    assert_eq!(count_q(&cluster, "/narrow")[..2], ["7", "0"]);
    cluster.dfs_fails(&["mkdir", "/narrow/y"], "name quota");
    // Cleared, the limit is gone.
    cluster.dfs_ok(&["quota", "clear", "/narrow"]);
    cluster.dfs_ok(&["mkdir", "/narrow/y"]);
    assert_eq!(
        count_q(&cluster, "/narrow")[..4],
        ["none", "inf", "none", "inf"]
    );
    // A trash over its home's quota: rm says how to delete at once.
    cluster.dfs_ok(&["mkdir", "-p", "/user/dfs"]);
    cluster.dfs_ok(&["quota", "set", "--files", "1", "/user/dfs"]);
    cluster.dfs_fails(&["rm", "/narrow/y"], "--skip-trash");
    assert!(
        cluster.dfs(&["stat", "/narrow/y"]).status.success(),
        "nothing moved"
    );
    cluster.dfs_ok(&["rm", "--skip-trash", "/narrow/y"]);
    // Misuse: a quota set needs something to set.
    let out = cluster.dfs(&["quota", "set", "/narrow"]);
    assert_eq!(out.status.code(), Some(2));
}
