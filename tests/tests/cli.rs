//! The `dfs` command against a real cluster: every namespace verb, put/get/cat
//! with files and stdin/stdout, --json, exit statuses and error lines.
use dfs_tests::{sha256_hex, test_data, ClusterOptions, TestCluster};
use serde_json::Value;

fn json(cluster: &TestCluster, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let out = cluster.dfs_ok(&a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("dfs {args:?} gave no JSON ({e}): {out}"))
}

fn fails(cluster: &TestCluster, args: &[&str], code: i32, needle: &str) {
    let out = cluster.dfs(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "dfs {args:?}: {err}");
    assert!(
        err.starts_with("dfs: ") || code == 2,
        "one 'dfs: ' line: {err}"
    );
    assert!(
        err.to_lowercase().contains(&needle.to_lowercase()),
        "dfs {args:?}: {err:?} lacks {needle:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_verbs() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let tmp = cluster.root().join("local");
    std::fs::create_dir_all(&tmp).unwrap();
    let small = tmp.join("small.txt");
    std::fs::write(&small, b"hello dfs\n").unwrap();
    let big_data = test_data(2 * (1 << 20) + 5, 3);
    let big = tmp.join("big.bin");
    std::fs::write(&big, &big_data).unwrap();

    // mkdir -p, and mkdir without -p under a missing parent.
    cluster.dfs_ok(&["mkdir", "-p", "/a/b/c"]);
    fails(&cluster, &["mkdir", "/x/y"], 1, "does not exist");
    fails(&cluster, &["mkdir", "/a/b/c"], 1, "exists"); // as hdfs dfs -mkdir
    cluster.dfs_ok(&["mkdir", "-p", "/a/b/c"]); // -p accepts what exists

    // put into a directory keeps the base name; put to a path names the file.
    cluster.dfs_ok(&["put", small.to_str().unwrap(), "/a/b"]);
    cluster.dfs_ok(&["put", big.to_str().unwrap(), "/a/big.bin"]);
    fails(
        &cluster,
        &["put", small.to_str().unwrap(), "/a/b/small.txt"],
        1,
        "exists",
    );
    cluster.dfs_ok(&["put", "-f", small.to_str().unwrap(), "/a/b/small.txt"]);
    let out = cluster.dfs_with_stdin(&["put", "-", "/a/stdin.txt"], Some(b"from stdin"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // ls and ls -R
    let ls = cluster.dfs_ok(&["ls", "/a"]);
    assert!(
        ls.contains("/a/b") && ls.contains("/a/big.bin") && ls.contains("/a/stdin.txt"),
        "{ls}"
    );
    assert!(!ls.contains("/a/b/c"), "ls is not recursive: {ls}");
    let lsr = cluster.dfs_ok(&["ls", "-R", "/a"]);
    for want in ["/a/b/c", "/a/b/small.txt", "/a/big.bin"] {
        assert!(lsr.contains(want), "ls -R lacks {want}: {lsr}");
    }
    let entries = json(&cluster, &["ls", "/a"]);
    let text = entries.to_string();
    assert!(
        text.contains("big.bin") && text.contains("2097157"),
        "{text}"
    );

    // stat
    let st = json(&cluster, &["stat", "/a/big.bin"]);
    assert_eq!(st["length"], 2 * (1 << 20) + 5);
    assert_eq!(st["type"], "file");
    assert_eq!(st["replication"], 3);
    assert_eq!(st["sha256"], sha256_hex(&big_data));
    let human = cluster.dfs_ok(&["stat", "/a/big.bin"]);
    assert!(
        human.contains("2.0 MiB") || human.contains("2097157"),
        "{human}"
    );
    fails(&cluster, &["stat", "/nope"], 1, "does not exist");

    // du: totals under a path
    let du = json(&cluster, &["du", "-s", "/a"]);
    let total = 10 + 2 * (1 << 20) + 5 + 10;
    assert!(
        du.to_string().contains(&total.to_string()),
        "du -s /a: {du}"
    );
    let du_lines = cluster.dfs_ok(&["du", "/a"]);
    assert!(
        du_lines.contains("/a/big.bin") && du_lines.contains("/a/b"),
        "{du_lines}"
    );

    // checksum equals sha256sum of the local file
    let sum = cluster.dfs_ok(&["checksum", "/a/big.bin"]);
    assert!(sum.starts_with(&sha256_hex(&big_data)), "{sum}");

    // get / cat
    let got = tmp.join("got.bin");
    cluster.dfs_ok(&["get", "/a/big.bin", got.to_str().unwrap()]);
    assert!(std::fs::read(&got).unwrap() == big_data);
    assert_eq!(cluster.dfs_ok(&["cat", "/a/stdin.txt"]), "from stdin");
    let out = cluster.dfs(&["get", "/a/b/small.txt", "-"]);
    assert_eq!(out.stdout, b"hello dfs\n");

    // mv a file, mv a directory, mv into an existing directory
    cluster.dfs_ok(&["mv", "/a/stdin.txt", "/a/renamed.txt"]);
    fails(&cluster, &["stat", "/a/stdin.txt"], 1, "does not exist");
    cluster.dfs_ok(&["mkdir", "/dst"]);
    cluster.dfs_ok(&["mv", "/a/b", "/dst"]);
    assert_eq!(cluster.dfs_ok(&["cat", "/dst/b/small.txt"]), "hello dfs\n");
    cluster.dfs_ok(&["mv", "/dst/b", "/moved"]);
    assert!(cluster.dfs_ok(&["ls", "-R", "/moved"]).contains("/moved/c"));
    fails(&cluster, &["mv", "/moved", "/moved/c"], 1, "");

    // setrep
    let st = json(&cluster, &["setrep", "2", "/a/big.bin"]);
    assert_eq!(st["replication"], 2);

    // rm: a file, a non-empty directory needs -r
    cluster.dfs_ok(&["rm", "/a/renamed.txt"]);
    fails(&cluster, &["rm", "/moved"], 1, "not empty");
    cluster.dfs_ok(&["rm", "-r", "/moved"]);
    fails(&cluster, &["ls", "/moved"], 1, "does not exist");
    fails(&cluster, &["rm", "/nothing"], 1, "does not exist");

    // invalid paths and misuse
    fails(&cluster, &["mkdir", "relative/path"], 2, "absolute");
    fails(&cluster, &["ls", "/a/../etc"], 2, "..");
    let out = cluster.dfs(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));

    // report and fsck
    let rep = json(&cluster, &["report"]);
    assert!(rep.to_string().contains("live"), "{rep}");
    let fsck = json(&cluster, &["fsck", "/"]);
    assert_eq!(fsck["healthy"], true, "{fsck}");
    assert!(cluster.dfs_ok(&["report"]).contains("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_recursive_and_many_sources() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let src = cluster.root().join("tree");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("one"), b"1").unwrap();
    std::fs::write(src.join("sub/two"), b"22").unwrap();
    std::fs::write(src.join("sub/deeper/three"), test_data(1_500_000, 5)).unwrap();
    cluster.dfs_ok(&["put", "-r", src.to_str().unwrap(), "/up"]);
    assert_eq!(cluster.dfs_ok(&["cat", "/up/sub/two"]), "22");
    let st = json(&cluster, &["stat", "/up/sub/deeper/three"]);
    assert_eq!(st["length"], 1_500_000);

    cluster.dfs_ok(&["mkdir", "/many"]);
    cluster.dfs_ok(&[
        "put",
        src.join("one").to_str().unwrap(),
        src.join("sub/two").to_str().unwrap(),
        "/many",
    ]);
    assert_eq!(cluster.dfs_ok(&["cat", "/many/two"]), "22");
    let out = cluster.dfs(&[
        "put",
        src.join("one").to_str().unwrap(),
        src.join("sub/two").to_str().unwrap(),
        "/many/one",
    ]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "several sources need a directory"
    );
}
