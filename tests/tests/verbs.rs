//! The verbs HDFS users reach for (issue 21), against a real cluster:
//! `cp` (bit-exact, new blocks), `touchz`, `test`, `head`, `tail [-f]`,
//! `chmod`/`chown`/`chgrp [-R]`, `df` and `setrep` on a directory.
use dfs_client::NoProgress;
use dfs_tests::{p, test_data, ClusterOptions, TestCluster};
use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn json(cluster: &TestCluster, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let out = cluster.dfs_ok(&a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("dfs {args:?} gave no JSON ({e}): {out}"))
}

fn code(cluster: &TestCluster, args: &[&str]) -> (Option<i32>, String, String) {
    let out = cluster.dfs(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cat(cluster: &TestCluster, path: &str) -> Vec<u8> {
    let out = cluster.dfs(&["cat", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

async fn block_ids(cluster: &TestCluster, path: &str) -> Vec<String> {
    let l = cluster.client().locations(&p(path)).await.unwrap();
    l.blocks.iter().map(|b| b.block_id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verbs_hdfs_users_reach_for() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let local = cluster.root().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let data = test_data(2 * (1 << 20) + 3000, 7);
    let big = local.join("big.bin");
    std::fs::write(&big, &data).unwrap();
    cluster.dfs_ok(&["mkdir", "-p", "/src/sub"]);
    cluster.dfs_ok(&["put", big.to_str().unwrap(), "/src/big.bin"]);
    cluster.dfs_ok(&["put", big.to_str().unwrap(), "/src/sub/again.bin"]);

    // cp: bit-exact, its own blocks; into a directory; -f to replace.
    cluster.dfs_ok(&["cp", "/src/big.bin", "/copy.bin"]);
    assert_eq!(cat(&cluster, "/copy.bin"), data);
    let (a, b) = (
        block_ids(&cluster, "/src/big.bin").await,
        block_ids(&cluster, "/copy.bin").await,
    );
    assert_eq!(a.len(), 3);
    assert!(
        a.iter().all(|x| !b.contains(x)),
        "a copy shares no block: {a:?} {b:?}"
    );
    let (c, _, err) = code(&cluster, &["cp", "/src/big.bin", "/copy.bin"]);
    assert_eq!(c, Some(1));
    assert!(err.contains("-f"), "{err}");
    cluster.dfs_ok(&["cp", "-f", "/src/big.bin", "/copy.bin"]);
    cluster.dfs_ok(&["mkdir", "/into"]);
    cluster.dfs_ok(&["cp", "/src", "/copy.bin", "/into"]);
    assert_eq!(cat(&cluster, "/into/src/sub/again.bin"), data);
    assert_eq!(cat(&cluster, "/into/copy.bin"), data);
    let (c, _, err) = code(&cluster, &["cp", "/src", "/src/sub"]);
    assert_eq!(c, Some(1), "{err}");

    // get -r: the tree, bit-exact; without -r a directory is refused.
    let down = local.join("down");
    let (c, _, err) = code(&cluster, &["get", "/into", down.to_str().unwrap()]);
    assert_eq!(c, Some(1));
    assert!(err.contains("-r"), "{err}");
    cluster.dfs_ok(&["get", "-r", "/into", down.to_str().unwrap()]);
    assert_eq!(std::fs::read(down.join("src/sub/again.bin")).unwrap(), data);
    assert_eq!(std::fs::read(down.join("copy.bin")).unwrap(), data);
    // Into an existing directory: under its name; an existing file stops it.
    cluster.dfs_ok(&["get", "-r", "/src/sub", down.to_str().unwrap()]);
    assert_eq!(std::fs::read(down.join("sub/again.bin")).unwrap(), data);
    let (c, _, _) = code(&cluster, &["get", "-r", "/src/sub", down.to_str().unwrap()]);
    assert_eq!(c, Some(1), "an existing local file is kept without -f");
    let v = json(
        &cluster,
        &["get", "-r", "-f", "/src/sub", down.to_str().unwrap()],
    );
    assert_eq!(
        v.as_array().map(Vec::len),
        Some(1),
        "one JSON array of what it got: {v}"
    );
    assert_eq!(v[0]["path"], "/src/sub/again.bin");

    // touchz: an empty file; again is fine; a non-empty one is refused.
    cluster.dfs_ok(&["touchz", "/empty"]);
    cluster.dfs_ok(&["touchz", "/empty"]);
    assert_eq!(json(&cluster, &["stat", "/empty"])["length"], 0);
    let (c, _, err) = code(&cluster, &["touchz", "/copy.bin"]);
    assert_eq!(c, Some(1));
    assert!(err.contains("not a zero-length file"), "{err}");
    // cp of an empty file.
    cluster.dfs_ok(&["cp", "/empty", "/empty2"]);
    assert_eq!(json(&cluster, &["stat", "/empty2"])["length"], 0);

    // test: exit status only.
    for (flag, path, want) in [
        ("-e", "/src", 0),
        ("-e", "/nope", 1),
        ("-d", "/src", 0),
        ("-d", "/copy.bin", 1),
        ("-f", "/copy.bin", 0),
        ("-f", "/src", 1),
        ("-s", "/copy.bin", 0),
        ("-s", "/empty", 1),
        ("-z", "/empty", 0),
        ("-z", "/copy.bin", 1),
    ] {
        let (c, out, err) = code(&cluster, &["test", flag, path]);
        assert_eq!(c, Some(want), "test {flag} {path}: {err}");
        assert!(
            out.is_empty() && err.is_empty(),
            "test prints nothing: {out}{err}"
        );
    }

    // head and tail: a KiB each.
    assert_eq!(cluster.dfs(&["head", "/copy.bin"]).stdout, data[..1024]);
    assert_eq!(
        cluster.dfs(&["tail", "/copy.bin"]).stdout,
        data[data.len() - 1024..]
    );
    assert!(cluster.dfs(&["head", "/empty"]).stdout.is_empty());
    // tail -f prints what is appended.
    cluster.dfs_ok(&["touchz", "/log"]);
    let mut child = Command::new(dfs_tests::bin("dfs"))
        .args(["tail", "-f", "/log"])
        .env("DFS_NAMENODE", cluster.namenode_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !got.ends_with(b"second line\n") {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got
    });
    let client = cluster.client();
    for line in ["first line\n", "second line\n"] {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        client
            .append(&p("/log"), line.as_bytes(), &NoProgress)
            .await
            .unwrap();
    }
    let started = Instant::now();
    while !reader.is_finished() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(reader.join().unwrap(), b"first line\nsecond line\n");

    // chmod (octal, symbolic, -R), chown, chgrp.
    cluster.dfs_ok(&["chmod", "600", "/copy.bin"]);
    assert_eq!(json(&cluster, &["stat", "/copy.bin"])["permission"], "600");
    cluster.dfs_ok(&["chmod", "g+r,o+r", "/copy.bin"]);
    assert_eq!(json(&cluster, &["stat", "/copy.bin"])["permission"], "644");
    cluster.dfs_ok(&["chmod", "-R", "go-rx", "/src"]);
    assert_eq!(json(&cluster, &["stat", "/src"])["permission"], "700");
    assert_eq!(
        json(&cluster, &["stat", "/src/sub/again.bin"])["permission"],
        "600"
    );
    let (c, _, _) = code(&cluster, &["chmod", "u+q", "/src"]);
    assert_eq!(c, Some(2), "a bad mode is misuse");
    cluster.dfs_ok(&["chown", "-R", "alice:staff", "/src"]);
    let st = json(&cluster, &["stat", "/src/sub/again.bin"]);
    assert_eq!(
        (&st["owner"], &st["group"]),
        (&Value::from("alice"), &Value::from("staff"))
    );
    cluster.dfs_ok(&["chgrp", "ops", "/src"]);
    let st = json(&cluster, &["stat", "/src"]);
    assert_eq!(
        (&st["owner"], &st["group"]),
        (&Value::from("alice"), &Value::from("ops"))
    );

    // setrep on a directory: every file below it.
    let out = cluster.dfs_ok(&["setrep", "-R", "2", "/into"]);
    assert_eq!(out, "Replication 2 set: /into (3 files)\n");
    for f in [
        "/into/copy.bin",
        "/into/src/big.bin",
        "/into/src/sub/again.bin",
    ] {
        assert_eq!(json(&cluster, &["stat", f])["replication"], 2, "{f}");
    }

    // df: the cluster's size and use.
    let out = cluster.dfs_ok(&["df", "-h"]);
    let mut lines = out.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["Filesystem", "Size", "Used", "Available", "Use%"]);
    assert!(
        lines.next().unwrap().starts_with(&cluster.namenode_url()),
        "{out}"
    );
    let v = json(&cluster, &["df"]);
    assert!(
        v["size"].as_u64().unwrap() >= v["available"].as_u64().unwrap(),
        "{v}"
    );
    assert!(v["used"].as_u64().unwrap() > 0, "{v}");
}
