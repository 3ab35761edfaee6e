//! Changing the namenode group (CONTRACT "Several namenodes"; README
//! "Several namenodes"): `dfs namenode add URL` for a namenode started
//! with `--join`, `dfs namenode remove URL`; a single namenode with data
//! grows to three and the original can then be lost; what cannot follow
//! is refused before anything changes.
use dfs_client::DfsClient;
use dfs_common::proto::client::FileType;
use dfs_tests::{p, upload_many, verify_all, wait_until, ClusterOptions, TestCluster};
use std::time::Duration;

/// A client that talks to namenode `i` alone.
fn client_of(c: &TestCluster, i: usize) -> DfsClient {
    DfsClient::new(&c.namenode_url_at(i)).unwrap()
}

/// Waits until some namenode among `among` leads and returns it.
async fn leader_among(c: &TestCluster, among: &[usize]) -> usize {
    wait_until("a leader", Duration::from_secs(60), || async {
        for &i in among {
            if c.namenode_role(i).await.as_deref() == Some("leader") {
                return Ok(Some(i));
            }
        }
        Ok(None)
    })
    .await
    .unwrap()
}

/// The voters and learners namenode `i` reports (URL, role).
async fn members(c: &TestCluster, i: usize) -> Vec<(String, String)> {
    let r = client_of(c, i).namenodes().await.unwrap();
    let mut v: Vec<(String, String)> = r.namenodes.into_iter().map(|n| (n.url, n.role)).collect();
    v.sort();
    v
}

/// `dfs namenode ...` through the namenode at `via`; its output.
fn dfs_via(c: &TestCluster, via: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--namenode", via];
    all.extend_from_slice(args);
    c.dfs(&all)
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "dfs failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn err(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "dfs should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_single_namenode_with_data_grows_to_three_and_loses_the_original() {
    let mut c = TestCluster::start(ClusterOptions {
        namenodes: 1,
        datanodes: 3,
        ..Default::default()
    })
    .await;
    let original = c.client();
    let mut files = upload_many(&original, "/before", 5, 7).await;
    original.mkdirs(&p("/dirs/kept"), true).await.unwrap();

    // Two namenodes wait to join: they serve nothing of their own.
    let a = c.add_namenode_slot();
    let b = c.add_namenode_slot();
    c.start_namenode_at(a, &[], &[]);
    c.start_namenode_at(b, &[], &[]);
    for i in [a, b] {
        wait_until("a joiner answers", Duration::from_secs(30), || async {
            Ok(c.namenode_role(i).await)
        })
        .await
        .unwrap();
        assert!(members(&c, i).await.is_empty(), "a joiner knows no group");
        let e = client_of(&c, i).status(&p("/before")).await.unwrap_err();
        assert!(
            e.to_string().contains("leader"),
            "a joiner does not serve: {e}"
        );
    }

    // Added through the original (the leader), then through a follower
    // (forwarded to the leader).
    let url0 = c.namenode_url_at(0);
    let (url_a, url_b) = (c.namenode_url_at(a), c.namenode_url_at(b));
    let out = ok(&dfs_via(&c, &url0, &["namenode", "add", &url_a]));
    assert!(out.contains(&format!("added {url_a}")), "{out}");
    let out = ok(&dfs_via(&c, &url_a, &["namenode", "add", &url_b]));
    assert!(out.contains(&format!("added {url_b}")), "{out}");
    // Adding a voter again changes nothing.
    ok(&dfs_via(&c, &url0, &["namenode", "add", &url_b]));
    let roles = members(&c, 0).await;
    assert_eq!(roles.len(), 3, "{roles:?}");
    assert!(
        roles.iter().all(|(_, r)| r == "leader" || r == "follower"),
        "{roles:?}"
    );

    // The newcomers got everything from before the group existed (the
    // snapshot), and what comes after (the log).
    original.mkdirs(&p("/dirs/after-add"), true).await.unwrap();
    for i in [a, b] {
        let only = client_of(&c, i);
        wait_until(
            "the newcomer caught up",
            Duration::from_secs(30),
            || async { Ok(only.status(&p("/dirs/after-add")).await.ok()) },
        )
        .await
        .unwrap();
        assert!(only.status(&p("/dirs/kept")).await.unwrap().file_type == FileType::Directory);
        let log = std::fs::read_to_string(c.root().join(format!("logs/namenode-{i}.log"))).unwrap();
        assert!(
            log.contains("raft snapshot") && log.contains("installed"),
            "namenode {i} joined without the snapshot"
        );
    }

    // Datanodes restarted with the three URLs report to every namenode.
    for d in 0..3 {
        c.stop_datanode(d);
        c.start_datanode(d);
    }
    c.wait_live(3).await;

    // The original is lost: the other two elect and serve everything.
    c.kill_namenode_at(0);
    let new = leader_among(&c, &[a, b]).await;
    let survivor = DfsClient::new(&format!("{url_a},{url_b}")).unwrap();
    wait_until(
        "the datanodes are live at the new leader",
        Duration::from_secs(30),
        || async {
            Ok(client_of(&c, new)
                .summary()
                .await
                .ok()
                .filter(|s| s.live_datanodes == 3))
        },
    )
    .await
    .unwrap();
    files.extend(upload_many(&survivor, "/after", 3, 8).await);
    verify_all(&survivor, &files).await;
    assert!(survivor.status(&p("/dirs/kept")).await.unwrap().file_type == FileType::Directory);

    // The original is taken out for good: two voters remain.
    let via = c.namenode_url_at(new);
    ok(&dfs_via(&c, &via, &["namenode", "remove", &url0]));
    let roles = members(&c, new).await;
    assert_eq!(roles.len(), 2, "{roles:?}");
    assert!(!roles.iter().any(|(u, _)| *u == url0), "{roles:?}");
    survivor
        .mkdirs(&p("/dirs/after-remove"), true)
        .await
        .unwrap();
}

#[tokio::test]
async fn what_cannot_follow_is_refused_and_a_leader_can_be_removed() {
    let mut c = TestCluster::start(ClusterOptions {
        namenodes: 3,
        datanodes: 1,
        replication: 1,
        ..Default::default()
    })
    .await;
    let first = leader_among(&c, &[0, 1, 2]).await;
    let via = c.namenode_url_at(first);
    c.client().mkdirs(&p("/x"), true).await.unwrap();

    // Nobody at that address.
    let nobody = format!("http://127.0.0.1:{}", dfs_tests::free_port());
    let e = err(&dfs_via(&c, &via, &["namenode", "add", &nobody]));
    assert!(e.contains("could not be reached"), "{e}");
    // A namenode of another group (started without --join).
    let other = TestCluster::start(ClusterOptions {
        namenodes: 1,
        datanodes: 0,
        ..Default::default()
    })
    .await;
    let e = err(&dfs_via(
        &c,
        &via,
        &["namenode", "add", &other.namenode_url()],
    ));
    assert!(e.contains("another group"), "{e}");
    // Not a member.
    let e = err(&dfs_via(&c, &via, &["namenode", "remove", &nobody]));
    assert!(e.contains("not a member"), "{e}");
    assert_eq!(members(&c, first).await.len(), 3);

    // The leader removes itself: another takes over, and serves.
    ok(&dfs_via(&c, &via, &["namenode", "remove", &via]));
    let rest: Vec<usize> = (0..3).filter(|i| *i != first).collect();
    let next = leader_among(&c, &rest).await;
    let roles = members(&c, next).await;
    assert_eq!(roles.len(), 2, "{roles:?}");
    let two = DfsClient::new(
        &rest
            .iter()
            .map(|i| c.namenode_url_at(*i))
            .collect::<Vec<_>>()
            .join(","),
    )
    .unwrap();
    two.mkdirs(&p("/y"), true).await.unwrap();
    assert!(two.status(&p("/x")).await.unwrap().file_type == FileType::Directory);
    c.stop_namenode_at(first);

    // Down to one voter; the last one cannot go.
    let via = c.namenode_url_at(next);
    let follower = rest.iter().copied().find(|i| *i != next).unwrap();
    ok(&dfs_via(
        &c,
        &via,
        &["namenode", "remove", &c.namenode_url_at(follower)],
    ));
    let e = err(&dfs_via(&c, &via, &["namenode", "remove", &via]));
    assert!(e.contains("last voter"), "{e}");
    c.stop_namenode_at(follower);
    // Alone now: it still takes changes.
    client_of(&c, next).mkdirs(&p("/z"), true).await.unwrap();
}

/// `--join` is for an empty data dir: on one that already has a group
/// (here a namenode of its own) it changes nothing, and the namespace is
/// served as before. (A namespace with no Raft log at all, from a version
/// before the group, is refused: `raft::tests`.)
#[tokio::test]
async fn join_on_a_data_dir_with_a_group_loses_nothing() {
    let mut c = TestCluster::start(ClusterOptions {
        namenodes: 1,
        datanodes: 0,
        ..Default::default()
    })
    .await;
    c.client().mkdirs(&p("/precious"), true).await.unwrap();
    c.stop_namenode_at(0);
    c.start_namenode_at(0, &["--join"], &[]);
    wait_until("the namespace is back", Duration::from_secs(30), || async {
        Ok(c.client().status(&p("/precious")).await.ok())
    })
    .await
    .unwrap();
    c.client().mkdirs(&p("/more"), true).await.unwrap();
    let log = std::fs::read_to_string(c.root().join("logs/namenode.log")).unwrap();
    assert!(log.contains("--join has no effect"), "{log}");
}
