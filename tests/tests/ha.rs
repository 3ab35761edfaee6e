//! Several namenodes (CONTRACT "Several namenodes"): three namenodes on
//! 127.0.0.1 replicate the namespace with Raft; any of them serves any
//! request; losing the leader (SIGKILL) or freezing it (SIGSTOP) loses no
//! acknowledged change, and the cluster goes on with a new leader.
use dfs_client::DfsClient;
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
    c.kill_namenode_at(first);
    let second = leader(&c).await;
    assert_ne!(second, first);
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
    let back = client_of(&c, first);
    wait_until(
        "the old leader caught up",
        Duration::from_secs(60),
        || async { Ok(back.status(&p("/dirs/renamed")).await.ok()) },
    )
    .await
    .unwrap();
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
    let old = client_of(&c, first);
    let seen = old.status(&p("/during")).await;
    assert!(seen.is_ok(), "stale read from the old leader: {seen:?}");
    old.mkdirs(&p("/after"), true).await.unwrap();
    assert!(during.status(&p("/after")).await.is_ok());
    assert_ne!(c.leader().await, None);
}
