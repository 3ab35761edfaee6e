//! Writes that race, writes that are cut off, and restarts.
use dfs_client::{ClientError, NoProgress, UploadOptions};
use dfs_common::error::ErrorCode;
use dfs_tests::{p, test_data, wait_until, ClusterOptions, TestCluster};
use std::io::{Read, Write};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_to_one_path_one_wins() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();
    let a = test_data(3 << 20, 1);
    let b = test_data(3 << 20, 2);
    let (path, opts) = (p("/race"), UploadOptions::default());
    let (ra, rb) = tokio::join!(
        c.upload(&path, &a[..], &opts, &NoProgress),
        c.upload(&path, &b[..], &opts, &NoProgress),
    );
    let winner = match (&ra, &rb) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
            assert_eq!(e.code(), ErrorCode::Conflict, "loser gets a conflict: {e}");
            if ra.is_ok() {
                &a
            } else {
                &b
            }
        }
        other => panic!("exactly one upload must win: {other:?}"),
    };
    let mut back = Vec::new();
    c.download(&p("/race"), &mut back, &NoProgress)
        .await
        .unwrap();
    assert!(&back == winner, "the file holds the winner's bytes");

    // With overwrite, a later upload replaces the file.
    let opts = UploadOptions {
        overwrite: true,
        ..Default::default()
    };
    c.upload(&p("/race"), &b"new"[..], &opts, &NoProgress)
        .await
        .unwrap();
    let mut back = Vec::new();
    c.download(&p("/race"), &mut back, &NoProgress)
        .await
        .unwrap();
    assert_eq!(back, b"new");
}

/// A reader that yields `n` bytes and then fails, like a dying source.
struct FailingReader {
    left: usize,
}
impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.left == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("source died")));
        }
        let n = self.left.min(buf.remaining()).min(100_000);
        buf.put_slice(&vec![7u8; n]);
        self.left -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

async fn total_block_files(cluster: &TestCluster) -> usize {
    (0..cluster.opts.datanodes)
        .map(|i| cluster.block_files(i).len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_uploads_leave_nothing_visible() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();

    // 1. The library's source fails after 2.5 blocks.
    let err = c
        .upload(
            &p("/cut/lib"),
            FailingReader { left: 2_500_000 },
            &UploadOptions::default(),
            &NoProgress,
        )
        .await
        .expect_err("upload of a failing source fails");
    assert!(
        matches!(err, ClientError::Io(_)) || err.to_string().contains("source died"),
        "{err}"
    );
    assert_eq!(
        c.status(&p("/cut/lib")).await.unwrap_err().code(),
        ErrorCode::NotFound
    );

    // 2. A seed upload whose HTTP connection is cut mid-body.
    let nn = cluster.namenode_url();
    let addr = nn.trim_start_matches("http://").to_string();
    let boundary = "XyZboundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"directory\"\r\n\r\n/cut\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"seed.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let claimed = head.len() + (5 << 20) + 100;
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /upload_file HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {claimed}\r\n\r\n{head}"
    )
    .unwrap();
    s.write_all(&test_data(2_200_000, 3)).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(s);

    // 3. A writer that allocated a block, wrote it, and vanished without
    //    completing: the lease expires and its blocks are deleted.
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("{nn}/rpc/v1/create"))
        .json(&serde_json::json!({"path": "/cut/abandoned"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file_id = created["file_id"].clone();
    let lb: serde_json::Value = http
        .post(format!("{nn}/rpc/v1/add_block"))
        .json(&serde_json::json!({"file_id": file_id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = lb["replicas"][0]["addr"].as_str().unwrap();
    let r = http
        .put(format!(
            "{first}/blocks/{}",
            lb["block_id"].as_str().unwrap()
        ))
        .body(vec![1u8; 4096])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    for path in ["/cut/lib", "/cut/seed.bin", "/cut/abandoned"] {
        let e = c.status(&p(path)).await.expect_err("nothing visible");
        assert_eq!(e.code(), ErrorCode::NotFound, "{path}: {e}");
    }
    // Every partial block is eventually removed from every datanode's disk.
    wait_until(
        "partial blocks cleaned up",
        Duration::from_secs(30),
        || async { Ok((total_block_files(&cluster).await == 0).then_some(())) },
    )
    .await
    .unwrap();
    match c.list(&p("/cut")).await {
        Ok(entries) => assert!(entries.is_empty(), "nothing under /cut: {entries:?}"),
        Err(e) => assert_eq!(e.code(), ErrorCode::NotFound),
    }
    // The namenode is still healthy after the cut connection.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_of_every_process_keeps_every_file() {
    let mut cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();
    let files: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| {
            (
                format!("/keep/d{}/f{i}", i % 2),
                test_data(i * 700_000 + 3, 100 + i as u64),
            )
        })
        .collect();
    for (path, data) in &files {
        c.upload(&p(path), &data[..], &UploadOptions::default(), &NoProgress)
            .await
            .unwrap();
    }
    c.mkdirs(&p("/keep/empty/dir"), true).await.unwrap();
    c.rename(&p("/keep/d0/f0"), &p("/keep/f0-moved"), false)
        .await
        .unwrap();
    c.delete(&p("/keep/d1/f5"), false).await.unwrap();

    let check = |cluster: &TestCluster| {
        let c = cluster.client();
        let files = files.clone();
        async move {
            for (path, data) in &files {
                let path = match path.as_str() {
                    "/keep/d0/f0" => "/keep/f0-moved".to_string(),
                    "/keep/d1/f5" => {
                        assert_eq!(
                            c.status(&p(path)).await.unwrap_err().code(),
                            ErrorCode::NotFound
                        );
                        continue;
                    }
                    other => other.to_string(),
                };
                let mut back = Vec::new();
                c.download(&p(&path), &mut back, &NoProgress)
                    .await
                    .unwrap_or_else(|e| panic!("{path}: {e}"));
                assert!(&back == data, "{path} differs after restart");
            }
            assert!(c.status(&p("/keep/empty/dir")).await.is_ok());
        }
    };

    // A clean restart of every process.
    cluster.restart_all().await;
    check(&cluster).await;

    // The namenode killed with SIGKILL right after acknowledged writes.
    c.upload(
        &p("/keep/late"),
        &b"acknowledged"[..],
        &UploadOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    cluster.kill_namenode();
    cluster.start_namenode();
    cluster.wait_live(3).await;
    check(&cluster).await;
    let mut back = Vec::new();
    c.download(&p("/keep/late"), &mut back, &NoProgress)
        .await
        .unwrap();
    assert_eq!(back, b"acknowledged");
}
