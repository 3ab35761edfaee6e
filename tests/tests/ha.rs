//! Several namenodes (CONTRACT "Several namenodes"): three namenodes on
//! 127.0.0.1 replicate the namespace with Raft; any of them serves any
//! request; losing the leader (SIGKILL) or freezing it (SIGSTOP) loses no
//! acknowledged change, and the cluster goes on with a new leader.
use dfs_client::DfsClient;
use dfs_common::error::ErrorCode;
use dfs_common::proto::client::{AdminState, DatanodeReport, DatanodeState};
use dfs_tests::{p, upload_many, verify_all, wait_until, ClusterOptions, TestCluster};
use std::collections::BTreeMap;
use std::time::Duration;

fn opts() -> ClusterOptions {
    ClusterOptions {
        namenodes: 3,
        datanodes: 3,
        ..Default::default()
    }
}

/// Waits until some namenode leads and returns it.
async fn leader(c: &TestCluster) -> usize {
    wait_until("a leader", Duration::from_secs(60), || async {
        Ok(c.leader().await)
    })
    .await
    .unwrap()
}

/// A client that talks to namenode `i` alone.
fn client_of(c: &TestCluster, i: usize) -> DfsClient {
    DfsClient::new(&c.namenode_url_at(i)).unwrap()
}

/// Waits until namenode `i` has applied everything the leader had when
/// asked (by its own report: a follower forwards reads to the leader, so
/// what it serves says nothing of what it holds), and shows `path`.
async fn wait_for_path(c: &TestCluster, i: usize, path: &str) {
    let only = client_of(c, i);
    let lead = leader(c).await;
    let target = client_of(c, lead).namenodes().await.unwrap().last_log_index;
    wait_until(
        &format!("namenode {i} has applied up to {target}"),
        Duration::from_secs(60),
        || async {
            Ok(only
                .namenodes()
                .await
                .ok()
                .filter(|r| r.last_applied >= target))
        },
    )
    .await
    .unwrap();
    only.status(&p(path)).await.unwrap();
}

/// Every file of `files` reads back bit-exact through namenode `i` alone.
async fn verify_through(c: &TestCluster, i: usize, files: &BTreeMap<String, Vec<u8>>) {
    verify_all(&client_of(c, i), files).await;
}

#[tokio::test]
async fn three_namenodes_serve_alike_and_survive_losing_the_leader() {
    let mut c = TestCluster::start(opts()).await;
    let first = leader(&c).await;
    let client = c.client();
    let mut files = upload_many(&client, "/before", 6, 1).await;
    client.mkdirs(&p("/dirs/a"), true).await.unwrap();
    // Any namenode serves any request: a change through each follower, and
    // every file read through each namenode.
    for i in 0..3 {
        let only = client_of(&c, i);
        only.mkdirs(&p(&format!("/dirs/through{i}")), true)
            .await
            .unwrap();
        verify_through(&c, i, &files).await;
    }
    for i in 0..3 {
        let listing = client_of(&c, i).list(&p("/dirs")).await.unwrap();
        assert_eq!(listing.len(), 4, "namenode {i}: {listing:?}");
    }

    // The leader dies: another takes over, nothing acknowledged is lost,
    // and uploads go on through the same client.
    let report = c.dfs_ok(&["report"]);
    assert!(report.contains("Namenodes (3):"), "{report}");
    assert_eq!(report.matches(" leader ").count(), 1, "{report}");
    assert_eq!(report.matches(" follower ").count(), 2, "{report}");

    c.kill_namenode_at(first);
    let second = leader(&c).await;
    assert_ne!(second, first);
    let report = c.dfs_ok(&["report"]);
    let dead = format!("{} ", c.namenode_url_at(first));
    assert!(
        report
            .lines()
            .any(|l| l.contains(&dead) && l.contains("unreachable")),
        "{report}"
    );
    let metrics = dfs_tests::metrics_text(&c.namenode_url_at(second))
        .await
        .unwrap();
    assert!(
        metrics.contains("dfs_namenode_raft_leader 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("dfs_namenode_raft_members 3\n"),
        "{metrics}"
    );
    verify_through(&c, second, &files).await;
    files.extend(upload_many(&client, "/after", 4, 2).await);
    client
        .rename(&p("/dirs/a"), &p("/dirs/renamed"), false)
        .await
        .unwrap();
    for i in (0..3).filter(|i| *i != first) {
        verify_through(&c, i, &files).await;
    }

    // The old leader comes back as a follower and catches up.
    c.start_namenode_at(first, &[], &[]);
    wait_for_path(&c, first, "/dirs/renamed").await;
    verify_through(&c, first, &files).await;
}

#[tokio::test]
async fn a_frozen_leader_steps_down_and_serves_nothing_stale() {
    let mut c = TestCluster::start(opts()).await;
    let first = leader(&c).await;
    let client = c.client();
    client.mkdirs(&p("/before"), true).await.unwrap();
    c.freeze_namenode_at(first, true);
    // Past the election timeout the others elect a leader among them and
    // take changes.
    let second = wait_until("a new leader", Duration::from_secs(60), || async {
        Ok(c.leader().await.filter(|l| *l != first))
    })
    .await
    .unwrap();
    let during = client_of(&c, second);
    during.mkdirs(&p("/during"), true).await.unwrap();
    c.freeze_namenode_at(first, false);
    // The old leader's first answers already include what was done while
    // it was frozen: it checks with a quorum before it answers as leader,
    // and learns it no longer is.
    // Until then it may answer that it cannot serve (503, a retry goes
    // elsewhere); it must never answer that the directory is missing.
    let old = client_of(&c, first);
    wait_until(
        "the old leader answers",
        Duration::from_secs(60),
        || async {
            match old.status(&p("/during")).await {
                Ok(_) => Ok(Some(())),
                Err(e) if e.code() == ErrorCode::NotFound => {
                    panic!("stale read from the old leader: {e}")
                }
                Err(e) => Err(anyhow::anyhow!("{e}")),
            }
        },
    )
    .await
    .unwrap();
    wait_until(
        "a change through the old leader",
        Duration::from_secs(60),
        || async {
            old.mkdirs(&p("/after"), true)
                .await
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{e}"))
        },
    )
    .await
    .unwrap();
    assert!(during.status(&p("/after")).await.is_ok());
    assert_ne!(c.leader().await, None);
}

/// Cuts namenode `i`'s Raft links to `others` (empty: heals), through the
/// namenodes' test hook.
async fn cut(c: &TestCluster, i: usize, others: &[usize]) {
    let urls: Vec<String> = others.iter().map(|j| c.namenode_url_at(*j)).collect();
    let r = reqwest::Client::new()
        .post(format!(
            "{}/internal/v1/raft/partition",
            c.namenode_url_at(i)
        ))
        .json(&urls)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "partition hook on {i}: {}",
        r.status()
    );
}

#[tokio::test]
async fn a_leader_cut_off_from_the_others_takes_nothing_and_one_history_stays() {
    let c = TestCluster::start(ClusterOptions {
        namenode_env: vec![("DFS_TEST_HOOKS", "1")],
        ..opts()
    })
    .await;
    let old = leader(&c).await;
    let others: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    c.client().mkdirs(&p("/before"), true).await.unwrap();
    cut(&c, old, &others).await;
    for o in &others {
        cut(&c, *o, &[old]).await;
    }
    // The majority side elects a leader and takes changes.
    let new = wait_until(
        "a leader on the majority side",
        Duration::from_secs(60),
        || async { Ok(c.leader_besides(Some(old)).await) },
    )
    .await
    .unwrap();
    client_of(&c, new)
        .mkdirs(&p("/majority"), true)
        .await
        .unwrap();
    // The minority side takes none: it cannot hear from a quorum.
    let refused = client_of(&c, old).mkdirs(&p("/minority"), true).await;
    assert!(
        refused.is_err(),
        "the cut-off leader took a change: {refused:?}"
    );
    // Healed: one history, the majority's.
    for i in 0..3 {
        cut(&c, i, &[]).await;
    }
    wait_for_path(&c, old, "/majority").await;
    for i in 0..3 {
        let only = client_of(&c, i);
        assert!(only.status(&p("/before")).await.is_ok(), "namenode {i}");
        assert!(only.status(&p("/minority")).await.is_err(), "namenode {i}");
    }
}

/// Every namenode crashes at once (a power cut): all three come back
/// with everything acknowledged, elect a leader and go on.
#[tokio::test]
async fn all_three_crash_at_once_and_come_back_with_everything() {
    let mut c = TestCluster::start(opts()).await;
    leader(&c).await;
    let client = c.client();
    let mut files = upload_many(&client, "/before", 4, 11).await;
    client.mkdirs(&p("/dirs/x"), true).await.unwrap();
    client
        .rename(&p("/dirs/x"), &p("/dirs/y"), false)
        .await
        .unwrap();
    for i in 0..3 {
        c.kill_namenode_at(i);
    }
    for i in 0..3 {
        c.start_namenode_at(i, &[], &[]);
    }
    let back = leader(&c).await;
    c.wait_live(3).await;
    for i in 0..3 {
        wait_for_path(&c, i, "/dirs/y").await;
        verify_through(&c, i, &files).await;
    }
    files.extend(upload_many(&client, "/after", 2, 12).await);
    verify_through(&c, back, &files).await;

    // A datanode of several namenodes stops cleanly on SIGTERM (it waited
    // for its event fan-out forever, until SIGKILL).
    c.stop_datanode(0);
    let log = std::fs::read_to_string(c.root().join("logs/datanode-0.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("datanode ") && l.ends_with(" stopped")),
        "datanode 0 did not stop cleanly"
    );
}

/// A namenode that was down while more changes were made than the log
/// keeps behind a snapshot catches up from the leader's snapshot, then
/// the log, and serves everything.
#[tokio::test]
async fn a_namenode_down_for_long_catches_up_from_a_snapshot() {
    let mut c = TestCluster::start(ClusterOptions {
        namenode_args: vec!["--raft-snapshot-every".into(), "20".into()],
        ..opts()
    })
    .await;
    let first = leader(&c).await;
    let away = (first + 1) % 3;
    let client = c.client();
    let files = upload_many(&client, "/before", 2, 21).await;
    c.kill_namenode_at(away);
    // Far more entries than the 20 of a snapshot and the 4 kept behind it.
    for i in 0..120 {
        client
            .mkdirs(&p(&format!("/many/d{i}")), true)
            .await
            .unwrap();
    }
    c.start_namenode_at(away, &[], &[]);
    wait_for_path(&c, away, "/many/d119").await;
    verify_through(&c, away, &files).await;
    assert_eq!(
        client_of(&c, away).list(&p("/many")).await.unwrap().len(),
        120
    );
    let log_name = match away {
        0 => "namenode.log".to_string(),
        i => format!("namenode-{i}.log"),
    };
    let log = std::fs::read_to_string(c.root().join("logs").join(log_name)).unwrap();
    assert!(
        log.contains("raft snapshot") && log.contains("installed"),
        "namenode {away} caught up without a snapshot"
    );
}

/// An upload in flight when the leader dies goes on with the new leader:
/// its next blocks are placed and its file committed there, and it reads
/// back whole. (The bytes come through a pipe the test holds: 8 of the 40
/// MiB, then the kill, then the rest.)
#[tokio::test]
async fn an_upload_in_flight_survives_the_leaders_death() {
    use tokio::io::AsyncWriteExt;
    let mut c = TestCluster::start(opts()).await;
    let first = leader(&c).await;
    let client = c.client();
    let data = dfs_tests::test_data(40 << 20, 18);
    let path = p("/inflight/big");
    let (mut tx, rx) = tokio::io::duplex(64 << 10);
    let upload = {
        let client = client.clone();
        let path = path.clone();
        tokio::spawn(async move {
            client
                .upload(
                    &path,
                    rx,
                    &dfs_client::UploadOptions {
                        create_parent: true,
                        ..Default::default()
                    },
                    &dfs_client::NoProgress,
                )
                .await
        })
    };
    tx.write_all(&data[..8 << 20]).await.unwrap();
    assert!(!upload.is_finished(), "the upload ended early");
    c.kill_namenode_at(first);
    tx.write_all(&data[8 << 20..]).await.unwrap();
    drop(tx);
    let st = upload
        .await
        .unwrap()
        .expect("the upload survives the failover");
    assert_eq!(st.length, data.len() as u64);
    assert_ne!(leader(&c).await, first);
    let mut back = Vec::new();
    client
        .download(&path, &mut back, &dfs_client::NoProgress)
        .await
        .unwrap();
    assert!(back == data, "the file reads back whole");
}

/// `curl -L -T FILE URL?op=CREATE` through a follower: curl sends the data
/// with the first step too, which the namenode answers (307) without
/// reading it. The follower once forwarded those bytes to the leader, they
/// stayed unread in a pooled connection, and a later request the follower
/// forwarded on it got no answer at all (curl's upload hung in CI). Each
/// round: the first step with data, the data step, then forwarded calls
/// (a read, an RPC) that must each be answered; a hang is a failure after
/// 20 s, far above a forwarded call's milliseconds.
#[tokio::test]
async fn the_first_webhdfs_step_with_data_through_a_follower_leaves_nothing_behind() {
    let c = TestCluster::start(opts()).await;
    let lead = leader(&c).await;
    let follower = (0..3).find(|&i| i != lead).unwrap();
    let base = c.namenode_url_at(follower);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let data = dfs_tests::test_data(2 << 20, 7);
    let through = client_of(&c, follower);
    for round in 0..12 {
        let url = format!("{base}/webhdfs/v1/curl/x{round}.bin?op=CREATE&user.name=t");
        // Sent in pieces, as curl does after its 100 Continue.
        let pieces: Vec<Result<bytes::Bytes, std::io::Error>> = data
            .chunks(64 << 10)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        let first = http
            .put(&url)
            .header("expect", "100-continue")
            .header("content-length", data.len().to_string())
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                pieces,
            )))
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the first step: {e}"));
        assert_eq!(first.status(), 307, "round {round}");
        let location = first.headers()["location"].to_str().unwrap().to_string();
        let second = http
            .put(&location)
            .body(data.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the data step: {e}"));
        assert_eq!(
            second.status(),
            201,
            "round {round}: {:?}",
            second.text().await
        );
        for call in 0..4 {
            let read = http
                .get(format!(
                    "{base}/webhdfs/v1/curl/x{round}.bin?op=GETFILESTATUS"
                ))
                .send()
                .await
                .unwrap_or_else(|e| panic!("round {round}, read {call}: {e}"));
            assert_eq!(read.status(), 200, "round {round}, read {call}");
            let dir = format!("/curl/d{round}-{call}");
            tokio::time::timeout(Duration::from_secs(20), through.mkdirs(&p(&dir), true))
                .await
                .unwrap_or_else(|_| panic!("round {round}: mkdir {dir} through the follower hung"))
                .unwrap();
        }
    }
    let mut back = Vec::new();
    client_of(&c, lead)
        .download(&p("/curl/x11.bin"), &mut back, &dfs_client::NoProgress)
        .await
        .unwrap();
    assert!(back == data, "the last file reads back whole");
}

/// Decommissioning, maintenance and an operator's safe mode are replicated:
/// the namenode that leads next has them all (it places nothing on either
/// node, reports them as the old leader did, copies nothing for the node in
/// maintenance while it is down, and refuses changes until an operator
/// leaves safe mode). Before, a follower's registry and safe-mode gate
/// never learned them: a new leader took a decommissioned node for a normal
/// one, counting its replicas as it would a node that stays (and could trim
/// the copies the decommission had made), forgot every node's maintenance,
/// and took writes in an operator's safe mode.
#[tokio::test]
async fn operator_states_outlive_a_change_of_leader() {
    let heal = Duration::from_secs(60);
    let mut c = TestCluster::start(ClusterOptions {
        namenodes: 3,
        datanodes: 4,
        replication: 2,
        dead_node_timeout: "2s",
        heartbeat_interval: "300ms",
        ..Default::default()
    })
    .await;
    let first = leader(&c).await;
    let client = c.client();
    let files = upload_many(&client, "/adm", 6, 41).await;
    c.wait_fully_replicated(heal).await;
    let retired = c.datanode_url(0);
    let resting = c.datanode_url(1);
    let host = |u: &str| u.trim_start_matches("http://").to_string();
    c.dfs_ok(&["decommission", &host(&retired)]);
    let row = |rows: &[DatanodeReport], addr: &str| -> DatanodeReport {
        rows.iter().find(|d| d.addr == addr).cloned().unwrap()
    };
    wait_until("node 0 decommissioned", heal, || async {
        let rows = client.datanodes().await?;
        Ok((row(&rows, &retired).admin_state == AdminState::Decommissioned).then_some(()))
    })
    .await
    .unwrap();
    c.dfs_ok(&["maintenance", &host(&resting), "--for", "30m"]);
    c.dfs_ok(&["safemode", "enter"]);
    for i in (0..3).filter(|i| *i != first) {
        wait_for_path(&c, i, "/adm").await;
    }

    // The leader dies; the next one knows both states.
    c.kill_namenode_at(first);
    let second = leader(&c).await;
    let rows = client_of(&c, second).datanodes().await.unwrap();
    assert_eq!(
        row(&rows, &retired).admin_state,
        AdminState::Decommissioned,
        "{rows:?}"
    );
    let r = row(&rows, &resting);
    assert!(r.in_maintenance, "{r:?}");
    let left = r.maintenance_ends_in_ms.unwrap();
    assert!(
        (25 * 60_000..=30 * 60_000).contains(&left),
        "maintenance ends in {left} ms"
    );
    let e = client
        .mkdirs(&p("/refused"), true)
        .await
        .expect_err("changes refused in an operator's safe mode");
    assert_eq!(e.code(), ErrorCode::Unavailable, "{e}");
    assert!(e.to_string().contains("operator"), "{e}");
    c.dfs_ok(&["safemode", "leave"]);

    // New files go to neither node.
    let more = upload_many(&client, "/adm2", 4, 43).await;
    for path in more.keys() {
        for b in client.locations(&p(path)).await.unwrap().blocks {
            assert!(
                b.replicas
                    .iter()
                    .all(|r| r.addr != retired && r.addr != resting),
                "{path}: {b:?}"
            );
        }
    }
    // The node in maintenance stops: nothing is copied for it.
    let copies = c.summary().await.unwrap().replication.completed_copies;
    c.kill_datanode(1);
    wait_until("node 1 dead by heartbeat", heal, || async {
        let rows = client_of(&c, second).datanodes().await?;
        let r = row(&rows, &resting);
        Ok((r.state == DatanodeState::Dead).then_some(r))
    })
    .await
    .map(|r| assert!(r.in_maintenance, "{r:?}"))
    .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let s = c.summary().await.unwrap();
    assert_eq!(s.replication.completed_copies, copies, "{s:?}");
    assert_eq!(s.replication.pending_copies, 0, "{s:?}");
    verify_all(&client, &files).await;
    verify_all(&client, &more).await;

    // Ended through the new leader: now its blocks are copied.
    c.dfs_ok(&["maintenance", &host(&resting), "--end"]);
    c.wait_fully_replicated(heal).await;
    verify_all(&client, &files).await;
}

/// A balancer run outlives a change of leader: the next leader takes it up
/// and runs it to its end, and a run that ended is not started again by the
/// leader after that (it was leader memory only: a failover stopped it).
#[tokio::test]
async fn a_balancer_run_outlives_a_change_of_leader() {
    let mut c = TestCluster::start(ClusterOptions {
        namenodes: 3,
        datanodes: 4,
        replication: 2,
        block_size: 64 * 1024,
        // Slow, so that the leader dies in the middle of the run.
        namenode_args: vec!["--balancer-bandwidth".into(), "256KiB".into()],
        datanode_args: vec!["--capacity".into(), "8MiB".into()],
        ..Default::default()
    })
    .await;
    for i in 2..4 {
        c.stop_datanode(i);
    }
    c.wait_live(2).await;
    let client = c.client();
    let mut files = BTreeMap::new();
    for i in 0..8u64 {
        let data = dfs_tests::test_data(300_000 + (i as usize) * 17_000, 70 + i);
        let path = format!("/bal/f{i}");
        dfs_tests::upload_one(&client, &path, &data).await;
        files.insert(path, data);
    }
    c.wait_fully_replicated(Duration::from_secs(60)).await;
    for i in 2..4 {
        c.start_datanode(i);
    }
    c.wait_live(4).await;
    let first = leader(&c).await;
    let out = c.dfs_ok(&["balancer", "--threshold", "10"]);
    assert!(out.contains("running"), "{out}");
    wait_until("a first move done", Duration::from_secs(60), || async {
        let s = client_of(&c, first).balancer_status().await?;
        Ok((s.moves_done > 0).then_some(()))
    })
    .await
    .unwrap();
    let mid = client_of(&c, first).balancer_status().await.unwrap();
    assert!(mid.running, "{mid:?}");

    c.kill_namenode_at(first);
    let second = leader(&c).await;
    // The new leader takes the run up and takes it to its end.
    let end = wait_until(
        "the run ended on the new leader",
        Duration::from_secs(180),
        || async {
            let s = client_of(&c, second).balancer_status().await?;
            Ok((!s.running && s.last_stop.is_some()).then_some(s))
        },
    )
    .await
    .unwrap();
    assert_eq!(end.last_stop.as_deref(), Some("balanced"), "{end:?}");
    assert!(end.moves_done > 0, "the new leader moved nothing: {end:?}");
    assert_eq!(end.threshold, 10.0, "{end:?}");
    verify_all(&client, &files).await;

    // The run is over for every later leader too.
    // (The leader records the run's end at its next tick.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    c.start_namenode_at(first, &[], &[]);
    wait_for_path(&c, first, "/bal").await;
    c.kill_namenode_at(second);
    let third = leader(&c).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = client_of(&c, third).balancer_status().await.unwrap();
    assert!(!s.running && s.moves_done == 0, "started again: {s:?}");
    verify_all(&client, &files).await;
}

/// Trash and quotas are replicated state: after the leader dies, the next
/// one has the trashed file where `rm` put it, still enforces the quota
/// (with the usage every follower kept from the same commands), and
/// counts a change below it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trash_and_quotas_outlive_a_change_of_leader() {
    let mut c = TestCluster::start(opts()).await;
    let first = leader(&c).await;
    let client = c.client();
    upload_many(&client, "/q/in", 3, 45).await;
    c.dfs_ok(&["quota", "set", "--files", "6", "/q"]);
    // /q, /q/in and its 3 files: one name left.
    c.dfs_ok(&["rm", "/q/in/f00"]);
    c.dfs_ok(&["mkdir", "/q/x"]);
    for i in (0..3).filter(|i| *i != first) {
        wait_for_path(&c, i, "/q/x").await;
    }
    c.kill_namenode_at(first);
    let second = leader(&c).await;
    let on_second = client_of(&c, second);
    let trashed = on_second
        .status(&p("/user/dfs/.Trash/Current/q/in/f00"))
        .await
        .unwrap();
    assert!(trashed.length > 0);
    let q = on_second.quota(&p("/q")).await.unwrap();
    assert_eq!((q.files_quota, q.names), (Some(6), 5), "{q:?}");
    let e = on_second.mkdirs(&p("/q/y/z"), true).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::QuotaExceeded, "{e}");
    on_second.mkdirs(&p("/q/y"), false).await.unwrap();
    assert_eq!(on_second.quota(&p("/q")).await.unwrap().names, 6);
}
