//! Snapshots through the CLI against a real cluster (issue 21): a snapshot
//! reads bit-exact at DIR/.snapshot/NAME after the live files are
//! overwritten, appended to, renamed and deleted; it is read-only; a
//! directory with snapshots cannot be deleted; deleting the snapshot deletes
//! from disk the blocks only it held; a restart keeps it.
use dfs_client::NoProgress;
use dfs_tests::{get_json, p, test_data, ClusterOptions, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_reads_what_it_saw_and_holds_its_blocks() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let local = cluster.root().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let a = test_data(2 * (1 << 20) + 100, 1); // 3 blocks
    let c = test_data(5000, 2);
    for (name, data) in [("a", &a), ("c", &c)] {
        std::fs::write(local.join(name), data).unwrap();
    }
    cluster.dfs_ok(&["mkdir", "-p", "/d/sub"]);
    cluster.dfs_ok(&["put", local.join("a").to_str().unwrap(), "/d/a"]);
    cluster.dfs_ok(&["put", local.join("c").to_str().unwrap(), "/d/sub/c"]);
    cluster.wait_block_files(12, "4 blocks of 3 replicas").await;

    cluster.dfs_fails(&["snapshot", "create", "/d", "s1"], "not snapshottable");
    cluster.dfs_ok(&["snapshot", "allow", "/d"]);
    let out = cluster.dfs_ok(&["snapshot", "create", "/d", "s1"]);
    assert_eq!(out, "Created snapshot /d/.snapshot/s1\n");

    // The live tree changes every way it can.
    let small = local.join("small");
    std::fs::write(&small, b"new a").unwrap();
    cluster.dfs_ok(&["put", "-f", small.to_str().unwrap(), "/d/a"]);
    cluster
        .client()
        .append(&p("/d/sub/c"), &b"appended"[..], &NoProgress)
        .await
        .unwrap();
    cluster.dfs_ok(&["mv", "/d/sub", "/moved"]);
    cluster.dfs_ok(&["mkdir", "/d/later"]);

    // The snapshot reads as it was, bit-exact.
    assert_eq!(cluster.dfs_cat("/d/.snapshot/s1/a"), a);
    assert_eq!(cluster.dfs_cat("/d/.snapshot/s1/sub/c"), c);
    let ls = cluster.dfs_ok(&["ls", "/d/.snapshot/s1"]);
    assert!(
        ls.contains("/d/.snapshot/s1/a") && ls.contains("/d/.snapshot/s1/sub"),
        "{ls}"
    );
    assert!(!ls.contains("later"), "{ls}");
    let list = cluster.dfs_ok(&["snapshot", "list", "/d"]);
    assert!(list.starts_with("/d/.snapshot/s1\t"), "{list}");
    // Through every door: WebHDFS (OPEN follows the redirect to a
    // datanode) and the seed endpoint.
    let nn = cluster.namenode_url();
    let http = reqwest::Client::new();
    let got = http
        .get(format!("{nn}/webhdfs/v1/d/.snapshot/s1/a?op=OPEN"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), &a[..]);
    let listed = get_json(&format!("{nn}/webhdfs/v1/d/.snapshot/s1?op=LISTSTATUS")).await;
    let names: Vec<&str> = listed["FileStatuses"]["FileStatus"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["pathSuffix"].as_str())
        .collect();
    assert_eq!(names, ["a", "sub"], "{listed}");
    let seed = http
        .post(format!("{nn}/download_file"))
        .form(&[("file_name", "/d/.snapshot/s1/sub/c")])
        .send()
        .await
        .unwrap();
    assert_eq!(seed.status(), 200);
    assert_eq!(seed.bytes().await.unwrap().as_ref(), &c[..]);
    // The diff from the snapshot to now: HDFS's marks.
    let diff = cluster.dfs_ok(&["snapshot", "diff", "/d", "s1", "."]);
    let lines: Vec<&str> = diff.lines().skip(1).collect();
    assert_eq!(
        lines,
        // /d/a was replaced by a new file (put -f), /d/sub moved out.
        ["M\t.", "+\t./a", "-\t./a", "+\t./later", "-\t./sub"],
        "{diff}"
    );
    // And in WebHDFS's report.
    let report = get_json(&format!(
        "{nn}/webhdfs/v1/d?op=GETSNAPSHOTDIFF&oldsnapshotname=s1&snapshotname="
    ))
    .await;
    let r = &report["SnapshotDiffReport"];
    assert_eq!(
        (&r["fromSnapshot"], &r["toSnapshot"], &r["snapshotRoot"]),
        (&"s1".into(), &"".into(), &"/d".into()),
        "{report}"
    );
    assert_eq!(r["diffList"].as_array().map(Vec::len), Some(5), "{report}");
    // The live files are the new ones.
    assert_eq!(cluster.dfs_cat("/d/a"), b"new a");
    let mut grown = c.clone();
    grown.extend_from_slice(b"appended");
    assert_eq!(cluster.dfs_cat("/moved/c"), grown);

    // Read-only; a directory with snapshots stays.
    cluster.dfs_fails(
        &["put", small.to_str().unwrap(), "/d/.snapshot/s1/x"],
        "read-only",
    );
    cluster.dfs_fails(&["rm", "--skip-trash", "/d/.snapshot/s1/a"], "read-only");
    cluster.dfs_fails(&["rm", "-r", "--skip-trash", "/d"], "snapshots");
    cluster.dfs_fails(&["snapshot", "disallow", "/d"], "delete them first");

    // The snapshot outlives a restart.
    cluster.stop_namenode();
    cluster.start_namenode();
    cluster.wait_live(3).await;
    assert_eq!(cluster.dfs_cat("/d/.snapshot/s1/a"), a);
    assert_eq!(cluster.dfs_cat("/d/.snapshot/s1/sub/c"), c);

    // Renamed, then deleted: the blocks only it held leave the disks (the
    // old /d/a's 3 blocks; /moved/c's old last block, rewritten by the
    // append). Live: new /d/a (1 block) and /moved/c (1 block).
    cluster.dfs_ok(&["snapshot", "rename", "/d", "s1", "before"]);
    assert_eq!(cluster.dfs_cat("/d/.snapshot/before/a"), a);
    cluster.dfs_fails(&["cat", "/d/.snapshot/s1/a"], "no snapshot named s1");
    cluster.dfs_ok(&["snapshot", "delete", "/d", "before"]);
    cluster
        .wait_block_files(6, "only the live files' blocks")
        .await;
    assert_eq!(cluster.dfs_cat("/d/a"), b"new a");
    assert_eq!(cluster.dfs_cat("/moved/c"), grown);
    cluster.dfs_ok(&["snapshot", "disallow", "/d"]);
    cluster.dfs_ok(&["rm", "-r", "--skip-trash", "/d"]);
}

/// WebHDFS's snapshot operations, in Hadoop's shapes: allow, create (with a
/// name and without), list them, list snapshottable directories, rename,
/// delete, disallow; and what it refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhdfs_snapshot_operations() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let nn = cluster.namenode_url();
    let http = reqwest::Client::new();
    let op = |method: reqwest::Method, query: &str| {
        http.request(method, format!("{nn}/webhdfs/v1/w?{query}"))
            .send()
    };
    cluster.dfs_ok(&["mkdir", "/w"]);
    let r = op(reqwest::Method::PUT, "op=CREATESNAPSHOT&snapshotname=x")
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "not snapshottable yet");
    let r = op(reqwest::Method::PUT, "op=ALLOWSNAPSHOT").await.unwrap();
    assert_eq!(r.status(), 200);
    let made: serde_json::Value = op(reqwest::Method::PUT, "op=CREATESNAPSHOT&snapshotname=x")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(made, serde_json::json!({"Path": "/w/.snapshot/x"}));
    let unnamed: serde_json::Value = op(reqwest::Method::PUT, "op=CREATESNAPSHOT")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unnamed = unnamed["Path"].as_str().unwrap().to_string();
    assert!(unnamed.starts_with("/w/.snapshot/s20"), "{unnamed}");
    let list = get_json(&format!("{nn}/webhdfs/v1/w?op=GETSNAPSHOTLIST")).await;
    let full: Vec<&str> = list["SnapshotList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["fullPath"].as_str().unwrap())
        .collect();
    assert_eq!(full, ["/w/.snapshot/x", unnamed.as_str()], "{list}");
    let dirs = get_json(&format!(
        "{nn}/webhdfs/v1/?op=GETSNAPSHOTTABLEDIRECTORYLIST"
    ))
    .await;
    let d = &dirs["SnapshottableDirectoryList"][0];
    assert_eq!(
        (&d["parentFullPath"], &d["snapshotNumber"]),
        (&"/".into(), &2.into()),
        "{dirs}"
    );
    assert_eq!(d["dirStatus"]["pathSuffix"], "w");
    let r = op(
        reqwest::Method::PUT,
        "op=RENAMESNAPSHOT&oldsnapshotname=x&snapshotname=y",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(cluster.dfs(&["stat", "/w/.snapshot/y"]).status.success());
    // A snapshot is read-only, also through WebHDFS.
    let r = http
        .put(format!("{nn}/webhdfs/v1/w/.snapshot/y/new?op=MKDIRS"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let name = unnamed.rsplit('/').next().unwrap().to_string();
    for q in [
        "op=DELETESNAPSHOT&snapshotname=y".to_string(),
        format!("op=DELETESNAPSHOT&snapshotname={name}"),
    ] {
        let r = op(reqwest::Method::DELETE, &q).await.unwrap();
        assert_eq!(r.status(), 200, "{q}");
    }
    let r = op(reqwest::Method::PUT, "op=DISALLOWSNAPSHOT")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let dirs = get_json(&format!(
        "{nn}/webhdfs/v1/?op=GETSNAPSHOTTABLEDIRECTORYLIST"
    ))
    .await;
    assert_eq!(dirs["SnapshottableDirectoryList"], serde_json::json!([]));
}
