//! The retry cache with real processes (issue 17): the namenode dies
//! between the durable write of a command and its answer (a test hook,
//! `DFS_TEST_CRASH_AFTER_DURABLE`); the client, never answered, sends the
//! same call again with the same request id to the restarted namenode and
//! gets the first call's result, applied once (create, rename, delete,
//! append). Without the cache each retry would fail (409 or 404).

use dfs_common::ids::{FileId, RequestId};
use dfs_common::proto::client::{REQUEST_ID_HEADER, RPC_PREFIX};
use dfs_tests::{wait_until, ClusterOptions, TestCluster};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// One call to the native API: (status, body), or `None` if no answer came.
async fn call(
    cluster: &TestCluster,
    name: &str,
    body: &Value,
    id: RequestId,
) -> Option<(u16, Value)> {
    let resp = reqwest::Client::new()
        .post(format!("{}{RPC_PREFIX}/{name}", cluster.namenode_url()))
        .header(REQUEST_ID_HEADER, id.to_string())
        .json(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.json().await.unwrap_or(Value::Null)))
}

/// Ready for changes: every datanode live, out of safe mode.
async fn wait_writable(cluster: &TestCluster) {
    let client = cluster.client();
    wait_until("the namenode writable", WAIT, || {
        let client = client.clone();
        async move {
            let s = client.summary().await?;
            Ok((s.live_datanodes == 1 && !s.safe_mode).then_some(()))
        }
    })
    .await
    .unwrap();
}

/// Starts the namenode with the crash hook armed for `kind`, sends the
/// call, checks that it went unanswered and the namenode is gone, restarts
/// it, and sends the same call again: its answer.
async fn crash_then_retry(cluster: &mut TestCluster, kind: &str, body: Value) -> (u16, Value) {
    cluster.stop_namenode();
    cluster.start_namenode_env(&[], &[("DFS_TEST_CRASH_AFTER_DURABLE", kind)]);
    wait_writable(cluster).await;
    let id = RequestId::new();
    assert!(
        call(cluster, kind, &body, id).await.is_none(),
        "{kind}: the namenode must die before answering"
    );
    wait_until("the namenode to exit", WAIT, || {
        let gone = cluster.namenode_exited() != Some(false);
        async move { Ok(gone.then_some(())) }
    })
    .await
    .unwrap();
    cluster.start_namenode();
    wait_writable(cluster).await;
    call(cluster, kind, &body, id).await.expect("an answer")
}

#[tokio::test]
async fn a_retried_call_gets_its_first_result_after_a_crash() {
    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 1,
        replication: 1,
        ..Default::default()
    })
    .await;
    let client = cluster.client();
    client.mkdirs(&dfs_tests::p("/d"), true).await.unwrap();
    cluster.dfs_ok(&["put", "-", "/d/f"]);
    cluster.dfs_ok(&["put", "-", "/d/h"]);

    // rename: answered with the new status; the source is gone.
    let (status, body) = crash_then_retry(
        &mut cluster,
        "rename",
        json!({"src": "/d/f", "dst": "/d/g", "overwrite": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["path"], "/d/g", "{body}");
    assert!(client.status(&dfs_tests::p("/d/f")).await.is_err());

    // delete: the first result, one file deleted; nothing at the path.
    let (status, body) = crash_then_retry(
        &mut cluster,
        "delete",
        json!({"path": "/d/g", "recursive": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files_deleted"], 1, "{body}");
    assert!(client.status(&dfs_tests::p("/d/g")).await.is_err());

    // create, append: the write the first call registered, and only that
    // one: a new call finds the path taken until that write is abandoned.
    for (kind, path) in [("create", "/d/new"), ("append", "/d/h")] {
        let (status, body) = crash_then_retry(&mut cluster, kind, json!({"path": path})).await;
        assert_eq!(status, 200, "{kind}: {body}");
        let first: FileId = serde_json::from_value(body["file_id"].clone()).unwrap();
        let again = json!({"path": path});
        let fresh = || call(&cluster, kind, &again, RequestId::new());
        assert_eq!(
            fresh().await.map(|a| a.0),
            Some(409),
            "one write holds {path}"
        );
        let abandon = json!({"file_id": first});
        let abandoned = call(&cluster, "abandon_file", &abandon, RequestId::new()).await;
        assert_eq!(abandoned.map(|a| a.0), Some(200));
        assert_eq!(
            fresh().await.map(|a| a.0),
            Some(200),
            "{kind}: the retried answer named that write"
        );
    }
}
