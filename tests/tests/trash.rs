//! The trash (issue 21): `dfs rm` moves to `/user/<user>/.Trash/Current`
//! keeping the path, `mv` restores, `--skip-trash` and `expunge` delete (the
//! blocks leave the disks), WebHDFS DELETE and the seed endpoints delete at
//! once, a restart keeps the trash, and the namenode empties it after
//! `--trash-interval`.
use dfs_tests::{get_json, test_data, wait_until, ClusterOptions, TestCluster};
use serde_json::Value;
use std::time::Duration;

fn json(cluster: &TestCluster, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let out = cluster.dfs_ok(&a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("dfs {args:?} gave no JSON ({e}): {out}"))
}

fn exists(cluster: &TestCluster, path: &str) -> bool {
    cluster.dfs(&["stat", path]).status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rm_moves_to_the_trash_and_mv_brings_it_back() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let local = cluster.root().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let data = test_data(2 * (1 << 20) + 17, 21);
    let big = local.join("big.bin");
    std::fs::write(&big, &data).unwrap();
    cluster.dfs_ok(&["mkdir", "-p", "/data/dir"]);
    cluster.dfs_ok(&["put", big.to_str().unwrap(), "/data/dir/big.bin"]);
    cluster.dfs_ok(&["put", big.to_str().unwrap(), "/data/a.bin"]);
    // 3 blocks a file, 3 replicas each.
    cluster.wait_block_files(18, "both files stored").await;

    // A file: moved with its path kept, readable there, blocks untouched.
    let out = cluster.dfs_ok(&["rm", "/data/a.bin"]);
    assert_eq!(
        out,
        "Moved /data/a.bin to the trash: /user/dfs/.Trash/Current/data/a.bin\n"
    );
    assert!(!exists(&cluster, "/data/a.bin"));
    assert_eq!(cluster.dfs_cat("/user/dfs/.Trash/Current/data/a.bin"), data);
    // Restore: move it back.
    cluster.dfs_ok(&["mv", "/user/dfs/.Trash/Current/data/a.bin", "/data/a.bin"]);
    assert_eq!(cluster.dfs_cat("/data/a.bin"), data);

    // A directory needs -r, as a delete does; --json says where it went.
    let out = cluster.dfs(&["rm", "/data/dir"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    let v = json(&cluster, &["rm", "-r", "/data/dir"]);
    assert_eq!(v[0]["path"], "/data/dir");
    assert_eq!(v[0]["moved_to"], "/user/dfs/.Trash/Current/data/dir");
    assert_eq!(v[0]["files_deleted"], 0);
    assert_eq!(
        cluster.dfs_cat("/user/dfs/.Trash/Current/data/dir/big.bin"),
        data
    );
    // Trashed files still take their space: every block is still there.
    assert_eq!(cluster.all_block_files().len(), 18);
    let du = json(&cluster, &["du", "-s", "/user/dfs/.Trash"]);
    assert_eq!(du["length"], data.len() as u64, "{du}");
    assert_eq!(du["space_consumed"], 3 * data.len() as u64, "{du}");

    // The trash outlives a restart of the namenode.
    cluster.stop_namenode();
    cluster.start_namenode();
    cluster.wait_live(3).await;
    assert_eq!(
        cluster.dfs_cat("/user/dfs/.Trash/Current/data/dir/big.bin"),
        data
    );

    // A home that holds the trash is refused, with the way out named.
    let out = cluster.dfs(&["rm", "-r", "/user/dfs"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("contains the trash") && err.contains("--skip-trash"),
        "{err}"
    );

    // What is deleted from the trash goes at once.
    let v = json(&cluster, &["rm", "-r", "/user/dfs/.Trash/Current/data/dir"]);
    assert_eq!(v[0]["moved_to"], Value::Null);
    assert_eq!(v[0]["files_deleted"], 1);
    cluster
        .wait_block_files(9, "the blocks of a file deleted from the trash gone")
        .await;

    // --skip-trash deletes at once.
    let out = cluster.dfs_ok(&["rm", "--skip-trash", "/data/a.bin"]);
    assert_eq!(out, "Deleted /data/a.bin\n");
    cluster
        .wait_block_files(0, "the blocks of a file deleted with --skip-trash gone")
        .await;

    // WebHDFS DELETE and the seed endpoints delete at once, as in HDFS.
    let small = local.join("s.txt");
    std::fs::write(&small, b"small").unwrap();
    cluster.dfs_ok(&["put", small.to_str().unwrap(), "/w.txt"]);
    cluster.dfs_ok(&["put", small.to_str().unwrap(), "/seed.txt"]);
    let nn = cluster.namenode_url();
    let http = reqwest::Client::new();
    let r = http
        .delete(format!("{nn}/webhdfs/v1/w.txt?op=DELETE"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{nn}/delete_file"))
        .form(&[("file_name", "/seed.txt")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    for p in ["/w.txt", "/seed.txt"] {
        assert!(!exists(&cluster, p));
        assert!(!exists(&cluster, &format!("/user/dfs/.Trash/Current{p}")));
    }
    cluster
        .wait_block_files(0, "WebHDFS and seed deletes freed their blocks")
        .await;
    let r = get_json(&format!("{nn}/webhdfs/v1/?op=GETTRASHROOT")).await;
    assert_eq!(r["Path"], "/user/dfs/.Trash");

    // expunge empties the trash, and the blocks leave the disks.
    cluster.dfs_ok(&["put", big.to_str().unwrap(), "/e.bin"]);
    cluster.dfs_ok(&["rm", "/e.bin"]);
    cluster
        .wait_block_files(9, "a trashed file keeps its blocks")
        .await;
    let out = cluster.dfs_ok(&["expunge"]);
    assert!(
        out.starts_with("Emptied /user/dfs/.Trash: 1 files"),
        "{out}"
    );
    assert!(!exists(&cluster, "/user/dfs/.Trash"));
    cluster.wait_block_files(0, "expunged blocks gone").await;
    let v = json(&cluster, &["expunge"]);
    assert_eq!(v["deleted"]["files_deleted"], 0, "nothing left: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namenode_empties_the_trash_after_its_interval() {
    let cluster = TestCluster::start(ClusterOptions {
        namenode_args: vec!["--trash-interval".into(), "2s".into()],
        ..ClusterOptions::default()
    })
    .await;
    let local = cluster.root().join("f.bin");
    std::fs::write(&local, test_data(1 << 20, 4)).unwrap();
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/f.bin"]);
    cluster.wait_block_files(3, "the file stored").await;
    cluster.dfs_ok(&["rm", "/f.bin"]);
    // Rolled into a checkpoint (named yyMMddHHmmss), then deleted: within
    // two intervals and a tick, plus the deletions' heartbeat.
    let listed = wait_until(
        "a checkpoint of the trash",
        Duration::from_secs(20),
        || async {
            let out = cluster.dfs(&["ls", "-R", "/user/dfs/.Trash"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            Ok(text
                .contains("f.bin")
                .then_some(text)
                .filter(|t| !t.contains("Current")))
        },
    )
    .await
    .unwrap();
    assert!(
        listed.lines().any(|l| l
            .split('/')
            .nth(4)
            .is_some_and(|c| c.len() == 12 && c.bytes().all(|b| b.is_ascii_digit()))),
        "{listed}"
    );
    wait_until("the trash emptied", Duration::from_secs(20), || async {
        let out = cluster.dfs(&["ls", "-R", "/user/dfs/.Trash"]);
        Ok((!String::from_utf8_lossy(&out.stdout).contains("f.bin")).then_some(()))
    })
    .await
    .unwrap();
    cluster
        .wait_block_files(0, "the emptied trash's blocks gone")
        .await;
}
