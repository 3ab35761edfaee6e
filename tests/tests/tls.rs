//! TLS end to end: a cluster whose every process serves HTTPS only
//! (`--tls-cert`, `--tls-key`) and trusts the cluster's CA (`--tls-ca`),
//! from a throwaway CA the harness makes.
//!
//! - The CLI (`DFS_CA_FILE`), the native client, WebHDFS (its redirects
//!   are `https://`), the seed endpoints and curl all work, block writes
//!   pipelining through three datanodes over TLS.
//! - A client that does not trust the CA is refused with a clear error; a
//!   plain-HTTP request to a TLS port gets no answer.
//! - Under mutual TLS (`--tls-client-auth`) clients need no certificate,
//!   but a datanode without a certificate of the cluster's CA cannot join.
use dfs_tests::{bin, test_data, wait_until, ClusterOptions, TestCluster};
use std::process::Command;
use std::time::Duration;

fn tls_cluster(datanodes: usize, client_auth: bool) -> ClusterOptions {
    ClusterOptions {
        datanodes,
        replication: datanodes as u16,
        tls: true,
        tls_client_auth: client_auth,
        ..ClusterOptions::default()
    }
}

/// `dfs ARGS` against `url` with `DFS_CA_FILE` as given (`None`: unset).
fn dfs_with_ca(url: &str, ca: Option<&std::path::Path>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(bin("dfs"));
    cmd.args(args).env("DFS_NAMENODE", url);
    match ca {
        Some(ca) => cmd.env(dfs_client::tls::CA_FILE_ENV, ca),
        None => cmd.env_remove(dfs_client::tls::CA_FILE_ENV),
    };
    cmd.output().expect("run dfs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_speaks_https_and_only_https() {
    let c = TestCluster::start(tls_cluster(3, false)).await;
    let nn = c.namenode_url();
    assert!(nn.starts_with("https://"), "{nn}");
    let pki = c.pki().expect("TLS on").clone();
    let dir = tempfile::tempdir().unwrap();

    // The CLI: three blocks, each through a pipeline of three datanodes.
    let data = test_data(3 * (1 << 20) + 5, 7);
    let src = dir.path().join("src");
    std::fs::write(&src, &data).unwrap();
    c.dfs_ok(&["put", src.to_str().unwrap(), "/tls.bin"]);
    assert_eq!(c.dfs_cat("/tls.bin"), data);
    c.wait_fully_replicated(Duration::from_secs(30)).await;

    // The native client: every datanode is advertised at https://.
    let locs = c
        .client()
        .locations(&dfs_common::path::DfsPath::parse("/tls.bin").unwrap())
        .await
        .unwrap();
    for b in &locs.blocks {
        assert_eq!(b.replicas.len(), 3);
        for r in &b.replicas {
            assert!(r.addr.starts_with("https://127.0.0.1:"), "{r:?}");
        }
    }

    // WebHDFS: the redirect goes to an https:// datanode, and following it
    // gives the bytes.
    let http = c.http();
    let r = http
        .get(format!("{nn}/webhdfs/v1/tls.bin?op=OPEN"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("https://127.0.0.1:"), "{to}");
    let got = http.get(&to).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(got.as_ref(), &data[..]);

    // The seed endpoints.
    let form = reqwest::multipart::Form::new()
        .text("directory", "/seed")
        .part(
            "file",
            reqwest::multipart::Part::bytes(data.clone()).file_name("s.bin"),
        );
    let r = http
        .post(format!("{nn}/upload_file"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = http
        .get(format!("{nn}/download_file?path=/seed/s.bin"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);

    // curl with the CA.
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(&pki.ca)
        .arg(format!("{nn}/webhdfs/v1/tls.bin?op=GETFILESTATUS"))
        .output()
        .expect("curl (the CI installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("\"length\":{}", data.len())),
        "{text}"
    );

    // A client that does not trust the CA: the CLI says why, reqwest with
    // the system's roots and curl without --cacert are refused.
    let out = dfs_with_ca(&nn, None, &["ls", "/"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("certificate") && err.contains("DFS_CA_FILE"),
        "{err}"
    );
    let untrusting = dfs_client::tls::client_builder_trusting(&dfs_client::tls::Trust::system())
        .build()
        .unwrap();
    assert!(untrusting
        .get(format!("{nn}/api/v1/health"))
        .send()
        .await
        .is_err());
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null"])
        .arg(format!("{nn}/api/v1/health"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "curl without the CA got an answer");
    // A CA file that is not one is an error, not a fallback.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "junk").unwrap();
    let out = dfs_with_ca(&nn, Some(&junk), &["ls", "/"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("DFS_CA_FILE"), "{err}");

    // Plain HTTP to a TLS port (the namenode's, a datanode's): no answer.
    let plain = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for url in [nn.clone(), c.datanode_url(0)] {
        let url = url.replacen("https://", "http://", 1);
        if let Ok(r) = plain.get(format!("{url}/health")).send().await {
            panic!("plain HTTP to {url} was answered: {}", r.status());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_keeps_out_a_datanode_without_a_cluster_certificate() {
    let mut c = TestCluster::start(tls_cluster(2, true)).await;
    let nn = c.namenode_url();
    let pki = c.pki().expect("TLS on").clone();

    // Clients show no certificate, and need none.
    let data = test_data((1 << 20) + 3, 9);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::write(&src, &data).unwrap();
    c.dfs_ok(&["put", src.to_str().unwrap(), "/m.bin"]);
    assert_eq!(c.dfs_cat("/m.bin"), data);

    // The cluster's own routes refuse a connection without a certificate,
    // whatever it asks.
    let r = c
        .http()
        .post(format!("{nn}/internal/v1/heartbeat"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "{}", r.text().await.unwrap());

    // A datanode whose certificate comes from another CA: the handshake
    // with the namenode fails, and it never joins.
    let other = dfs_client::tls::throwaway_pki(&dir.path().join("other"), &["127.0.0.1"]).unwrap();
    let stranger = c.add_datanode_slot();
    let (cert, key, ca) = (
        other.cert.display().to_string(),
        other.key.display().to_string(),
        pki.ca.display().to_string(),
    );
    c.start_datanode_with(
        stranger,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-ca",
            &ca,
            "--tls-client-auth",
        ],
    );
    // A datanode that trusts the cluster but shows no certificate at all
    // (serving with the cluster's, without --tls-client-auth): refused at
    // the route.
    let bare = c.add_datanode_slot();
    let (cert, key) = (
        pki.cert.display().to_string(),
        pki.key.display().to_string(),
    );
    c.start_datanode_with(
        bare,
        &["--tls-cert", &cert, "--tls-key", &key, "--tls-ca", &ca],
    );
    for (i, why) in [(stranger, "fatal alert"), (bare, "403")] {
        wait_until(
            &format!("datanode {i} to fail to register"),
            Duration::from_secs(30),
            || async {
                let log = c.datanode_log(i);
                Ok(log.to_lowercase().contains(why).then_some(()))
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", c.datanode_log(i)));
    }
    assert!(c.is_running(stranger) && c.is_running(bare));
    let s = c.summary().await.unwrap();
    assert_eq!(s.live_datanodes, 2, "only the cluster's datanodes are live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_namenodes_agree_and_fail_over_under_mutual_tls() {
    let mut opts = tls_cluster(3, true);
    opts.namenodes = 3;
    let mut c = TestCluster::start(opts).await;
    let leader = wait_until("a leader", Duration::from_secs(60), || async {
        Ok(c.leader().await)
    })
    .await
    .unwrap();
    let data = test_data((1 << 20) + 9, 11);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::write(&src, &data).unwrap();
    c.dfs_ok(&["put", src.to_str().unwrap(), "/before.bin"]);

    // The leader goes at once; the others elect one over TLS, and the
    // namespace (Raft's log, replicated over mutual TLS) is all there. (The
    // new leader may not have every datanode's report of the block yet: the
    // client asks again for its replicas.)
    c.kill_namenode_at(leader);
    wait_until("a new leader", Duration::from_secs(60), || async {
        Ok(c.leader_besides(Some(leader)).await)
    })
    .await
    .unwrap();
    assert_eq!(c.dfs_cat("/before.bin"), data);
    c.dfs_ok(&["put", src.to_str().unwrap(), "/after.bin"]);
    assert_eq!(c.dfs_cat("/after.bin"), data);
}
