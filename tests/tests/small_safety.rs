//! Three smaller ways to lose data or be misled about it (issue 14), end to
//! end with real processes:
//! - with access control on, the parent directories an upload makes on its
//!   way (`dfs put` to a deep path, WebHDFS CREATE landing on a datanode or
//!   relayed by the namenode, the seed `/upload_file`) belong to the writer,
//!   who can then write into them and remove them;
//! - `dfs get` never replaces an existing local file without `-f`, and a
//!   failed download leaves nothing behind;
//! - decommissioning a node of a 3-node cluster with replication 3 never
//!   reports it safe to stop: it stays decommissioning until a node joins.
//!
//! The HdfsCLI side of the first item is in `tests/python/test_auth.py`.
use dfs_common::proto::client::AdminState;
use dfs_tests::{bin, http_no_redirect, p, test_data, wait_until, ClusterOptions, TestCluster};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const SECRET: &str = "small-safety-cluster-secret-0123";
const ROOT: &str = "root-token-small-safety-0123";
const ALICE: &str = "alice-token-small-safety-0123";
const BOB: &str = "bob-token-small-safety-0123";

/// A cluster with access control on: root (superuser), alice and bob
/// (group staff). The harness calls as root.
async fn secured(dir: &Path) -> TestCluster {
    let secret = dir.join("cluster.secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let users = dir.join("users.toml");
    std::fs::write(
        &users,
        format!(
            "cluster_secret_file = \"cluster.secret\"\n\
             [users.root]\ntoken = \"{ROOT}\"\nsuperuser = true\n\
             [users.alice]\ntoken = \"{ALICE}\"\ngroups = [\"staff\"]\n\
             [users.bob]\ntoken = \"{BOB}\"\ngroups = [\"staff\"]\n"
        ),
    )
    .unwrap();
    TestCluster::start(ClusterOptions {
        replication: 2,
        namenode_args: vec!["--auth".into(), users.display().to_string()],
        datanode_args: vec!["--cluster-secret-file".into(), secret.display().to_string()],
        token: Some(ROOT.into()),
        ..Default::default()
    })
    .await
}

/// `dfs` as the user of `token`.
fn dfs_as(cluster: &TestCluster, token: &str, args: &[&str]) -> Output {
    Command::new(bin("dfs"))
        .args(args)
        .env("DFS_NAMENODE", cluster.namenode_url())
        .env("DFS_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn dfs_ok_as(cluster: &TestCluster, token: &str, args: &[&str]) -> String {
    let out = dfs_as(cluster, token, args);
    assert!(
        out.status.success(),
        "dfs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Owner and group of `path`, as the superuser sees them.
fn owner_group(cluster: &TestCluster, path: &str) -> (String, String) {
    let st: Value = serde_json::from_str(&cluster.dfs_ok(&["--json", "stat", path])).unwrap();
    (
        st["owner"].as_str().unwrap_or_default().to_string(),
        st["group"].as_str().unwrap_or_default().to_string(),
    )
}

fn assert_alices(cluster: &TestCluster, dirs: &[&str]) {
    for d in dirs {
        assert_eq!(
            owner_group(cluster, d),
            ("alice".to_string(), "staff".to_string()),
            "{d} should be alice's, as `mkdir -p` would make it"
        );
    }
}

/// WebHDFS CREATE of `path` as `token`: the namenode's redirect, then the
/// data step on the datanode it names, or on the namenode itself (which
/// relays it) when `via_namenode`.
async fn webhdfs_create(cluster: &TestCluster, token: &str, path: &str, via_namenode: bool) {
    let h = http_no_redirect();
    let nn = cluster.namenode_url();
    let r = h
        .put(format!("{nn}/webhdfs/v1{path}?op=CREATE"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307, "{}", r.text().await.unwrap());
    let mut loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.contains("delegation="), "{loc}");
    if via_namenode {
        // The same data step, landing on the namenode (as with
        // `--webhdfs-data-via-namenode`): it must relay it as the caller.
        let rest = loc.find("/webhdfs/").unwrap();
        loc = format!("{nn}{}", &loc[rest..]);
    }
    let r = h
        .put(&loc)
        .body(format!("written to {path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
}

async fn seed_upload(cluster: &TestCluster, token: &str, directory: &str, name: &str) {
    let form = reqwest::multipart::Form::new()
        .text("directory", directory.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"seeded".to_vec()).file_name(name.to_string()),
        );
    let r = http_no_redirect()
        .post(format!("{}/upload_file", cluster.namenode_url()))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parents_an_upload_makes_belong_to_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = secured(dir.path()).await;
    let nn = cluster.namenode_url();
    // The superuser makes alice a home and gives it to her.
    cluster.dfs_ok(&["mkdir", "-p", "/user/alice"]);
    let r = http_no_redirect()
        .put(format!(
            "{nn}/webhdfs/v1/user/alice?op=SETOWNER&owner=alice&group=staff"
        ))
        .bearer_auth(ROOT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let local = dir.path().join("a.jpg");
    std::fs::write(&local, test_data(1500, 1)).unwrap();
    let local = local.to_str().unwrap();

    // The CLI: `mkdir -p` makes two parents; files go into them (refused
    // before: `inode="/user/alice/photos":dfs:supergroup`).
    dfs_ok_as(&cluster, ALICE, &["mkdir", "-p", "/user/alice/photos/2024"]);
    dfs_ok_as(
        &cluster,
        ALICE,
        &["put", local, "/user/alice/photos/2024/a.jpg"],
    );
    assert_alices(&cluster, &["/user/alice/photos", "/user/alice/photos/2024"]);
    dfs_ok_as(
        &cluster,
        ALICE,
        &["put", local, "/user/alice/photos/2024/b.jpg"],
    );
    // A folder into a new directory of a new directory.
    dfs_ok_as(&cluster, ALICE, &["mkdir", "-p", "/user/alice/albums/2025"]);
    let folder = dir.path().join("trip");
    std::fs::create_dir_all(folder.join("day1")).unwrap();
    std::fs::write(folder.join("day1/x.jpg"), b"x").unwrap();
    std::fs::write(folder.join("y.jpg"), b"y").unwrap();
    dfs_ok_as(
        &cluster,
        ALICE,
        &[
            "put",
            "-r",
            folder.to_str().unwrap(),
            "/user/alice/albums/2025/trip",
        ],
    );
    assert_alices(
        &cluster,
        &[
            "/user/alice/albums",
            "/user/alice/albums/2025",
            "/user/alice/albums/2025/trip/day1",
        ],
    );

    // WebHDFS CREATE landing on a datanode, then relayed by the namenode.
    webhdfs_create(&cluster, ALICE, "/user/alice/web/a/1.txt", false).await;
    webhdfs_create(&cluster, ALICE, "/user/alice/web/a/2.txt", false).await;
    webhdfs_create(&cluster, ALICE, "/user/alice/relay/b/1.txt", true).await;
    webhdfs_create(&cluster, ALICE, "/user/alice/relay/b/2.txt", true).await;
    assert_alices(
        &cluster,
        &[
            "/user/alice/web",
            "/user/alice/web/a",
            "/user/alice/relay",
            "/user/alice/relay/b",
        ],
    );
    for f in [
        "/user/alice/web/a/2.txt",
        "/user/alice/relay/b/1.txt",
        "/user/alice/relay/b/2.txt",
    ] {
        assert_eq!(owner_group(&cluster, f).0, "alice", "{f}");
    }

    // The seed upload relays as the caller too.
    seed_upload(&cluster, ALICE, "/user/alice/seed/c", "1.txt").await;
    seed_upload(&cluster, ALICE, "/user/alice/seed/c", "2.txt").await;
    assert_alices(&cluster, &["/user/alice/seed", "/user/alice/seed/c"]);
    assert_eq!(owner_group(&cluster, "/user/alice/seed/c/2.txt").0, "alice");

    // The parents are hers, not everybody's: bob (group staff, r-x) may
    // read but neither write into them nor remove them.
    let out = dfs_as(
        &cluster,
        BOB,
        &["put", local, "/user/alice/photos/2024/c.jpg"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    let out = dfs_as(&cluster, BOB, &["rm", "-r", "/user/alice/photos/2024"]);
    assert_eq!(out.status.code(), Some(1));

    // alice removes everything her uploads made: into her own trash,
    // closed to others, which she then empties.
    for d in ["photos", "albums", "web", "relay", "seed"] {
        dfs_ok_as(&cluster, ALICE, &["rm", "-r", &format!("/user/alice/{d}")]);
    }
    let list_alice = || async {
        let r = http_no_redirect()
            .get(format!("{nn}/webhdfs/v1/user/alice?op=LISTSTATUS"))
            .bearer_auth(ALICE)
            .send()
            .await
            .unwrap();
        let list: Value = r.json().await.unwrap();
        list["FileStatuses"]["FileStatus"].clone()
    };
    let list = list_alice().await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["pathSuffix"], ".Trash");
    assert_eq!(
        (&list[0]["owner"], &list[0]["permission"]),
        (&json!("alice"), &json!("700"))
    );
    let out = dfs_as(&cluster, BOB, &["ls", "/user/alice/.Trash/Current"]);
    assert_eq!(out.status.code(), Some(1), "bob cannot look into her trash");
    dfs_ok_as(&cluster, ALICE, &["expunge"]);
    assert_eq!(list_alice().await, Value::Array(vec![]));
}

/// Temp files `get` may have left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".dfs-part-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_never_replaces_a_local_file_without_f() {
    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 1,
        replication: 1,
        ..Default::default()
    })
    .await;
    let local = cluster.root().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let data = test_data((1 << 20) + 77, 5);
    let src = local.join("src.bin");
    std::fs::write(&src, &data).unwrap();
    cluster.dfs_ok(&["put", src.to_str().unwrap(), "/f.bin"]);

    // Onto an existing file, named or found in a directory: refused, with
    // one line naming the file and the flag; the file is untouched.
    let mine = local.join("mine.bin");
    std::fs::write(&mine, b"my own data").unwrap();
    let inside = local.join("f.bin");
    std::fs::write(&inside, b"also mine").unwrap();
    let local_dir = format!("{}/", local.display());
    for (arg, file, kept) in [
        (mine.to_str().unwrap(), &mine, &b"my own data"[..]),
        (&local_dir[..], &inside, &b"also mine"[..]),
    ] {
        let out = cluster.dfs(&["get", "/f.bin", arg]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(
            err.trim_end(),
            format!(
                "dfs: {} already exists (use -f to replace it)",
                file.display()
            )
        );
        assert_eq!(std::fs::read(file).unwrap(), kept);
    }
    // With -f it is replaced by the verified copy.
    cluster.dfs_ok(&["get", "-f", "/f.bin", mine.to_str().unwrap()]);
    assert_eq!(std::fs::read(&mine).unwrap(), data);
    // Onto nothing: written, no -f needed.
    let fresh = local.join("fresh.bin");
    cluster.dfs_ok(&["get", "/f.bin", fresh.to_str().unwrap()]);
    assert_eq!(std::fs::read(&fresh).unwrap(), data);

    // A missing local directory is named as the user typed it.
    let nodir = local.join("nodir/out.bin");
    let out = cluster.dfs(&["get", "/f.bin", nodir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&nodir.display().to_string()), "{err}");
    assert!(err.contains("no such directory"), "{err}");
    assert!(!err.contains("dfs-part"), "{err}");

    // A download that fails (its only datanode is gone) leaves neither the
    // file nor a temp file, and an existing file replaced with -f stays as
    // it was.
    cluster.kill_datanode(0);
    let lost = local.join("lost.bin");
    let out = cluster.dfs(&["get", "/f.bin", lost.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!lost.exists());
    std::fs::write(&mine, b"my own data").unwrap();
    let out = cluster.dfs(&["get", "-f", "/f.bin", mine.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&mine).unwrap(), b"my own data");
    assert_eq!(leftovers(&local), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decommission_with_as_many_nodes_as_replicas_is_never_safe_to_stop() {
    // Four datanodes, one stopped: three live, replication 3.
    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 4,
        ..Default::default()
    })
    .await;
    cluster.stop_datanode(3);
    cluster.wait_live(3).await;
    let c = cluster.client();
    let local = cluster.root().join("f.bin");
    let data = test_data(2 * (1 << 20) + 9, 8);
    std::fs::write(&local, &data).unwrap();
    cluster.dfs_ok(&["put", local.to_str().unwrap(), "/f.bin"]);
    cluster.wait_fully_replicated(Duration::from_secs(60)).await;
    let blocks = c.locations(&p("/f.bin")).await.unwrap().blocks.len() as u64;

    // The answer comes after a pass of the replication monitor: the node
    // holds copies every block needs and nobody can take them.
    let node = cluster.datanode_url(0);
    let addr = node.trim_start_matches("http://");
    let out = cluster.dfs_ok(&["decommission", addr]);
    assert!(!out.contains("can be stopped"), "{out}");
    assert!(out.contains("is decommissioning"), "{out}");
    assert!(
        out.contains("cannot be drained until a datanode joins"),
        "{out}"
    );
    assert!(out.contains("Do not stop it"), "{out}");
    let state = |dns: &[dfs_common::proto::client::DatanodeReport]| {
        let d = dns.iter().find(|d| d.addr == node).unwrap();
        (d.admin_state, d.decommission_remaining_blocks)
    };
    // Heartbeats come and go (the monitor runs at least once a second, at
    // every heartbeat when faster): it stays decommissioning throughout.
    let mut last_seen = u64::MAX;
    let mut heartbeats = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while heartbeats <= 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for five heartbeats of the leaving node"
        );
        let dns = c.datanodes().await.unwrap();
        assert_eq!(
            state(&dns),
            (AdminState::Decommissioning, blocks),
            "a node holding needed copies was called drained"
        );
        let d = dns.iter().find(|d| d.addr == node).unwrap();
        if d.last_heartbeat_ms < last_seen {
            heartbeats += 1;
        }
        last_seen = d.last_heartbeat_ms;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = cluster.dfs_ok(&["decommission", addr]);
    assert!(!again.contains("can be stopped"), "{again}");

    // A node joins: the copies go there, and only then is it drained.
    cluster.start_datanode(3);
    wait_until("node 0 drained", Duration::from_secs(60), || {
        let c = c.clone();
        async move {
            let dns = c.datanodes().await?;
            Ok((state(&dns).0 == AdminState::Decommissioned).then_some(()))
        }
    })
    .await
    .unwrap();
    let report = cluster.dfs_ok(&["decommission", addr]);
    assert!(report.contains("can be stopped"), "{report}");
    cluster.stop_datanode(0);
    let f = cluster.fsck().await.unwrap();
    assert_eq!(
        (f.under_replicated_blocks, f.missing_blocks),
        (0, 0),
        "{f:?}"
    );
    let out = cluster.dfs(&["cat", "/f.bin"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, data);
}
