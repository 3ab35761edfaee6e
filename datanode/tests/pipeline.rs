//! In-process tests of the block transfer protocol: real HTTP servers on
//! 127.0.0.1 port 0, a namenode URL that answers nothing.
mod common;
use bytes::Bytes;
use common::wait_for;
use datanode::config::Config;
use datanode::Datanode;
use dfs_common::checksum::{crcs_fingerprint, BlockChecksums, Sha256Digest, CHUNK_SIZE};
use dfs_common::error::ErrorBody;
use dfs_common::ids::BlockId;
use dfs_common::proto::data::{
    DigestTrailer, WriteBlockResponse, DIGEST_TRAILER_HEADER, DIGEST_TRAILER_V1,
    EXPECTED_LEN_HEADER, EXPECTED_SHA256_HEADER, PIPELINE_HEADER,
};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

async fn start(dir: &std::path::Path, namenode: &str) -> Datanode {
    let config = Config {
        namenode: namenode.to_string(),
        listen: "127.0.0.1:0".into(),
        data_dirs: vec![dir.to_path_buf()],
        ..Config::default()
    };
    Datanode::start(config).await.unwrap()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 % 253) as u8).collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn put(
    url: &str,
    id: BlockId,
    body: Vec<u8>,
    pipeline: &str,
    expect: bool,
) -> reqwest::Response {
    let sha = Sha256Digest::of(&body);
    let len = body.len();
    let mut req = client()
        .put(format!("{url}/blocks/{id}"))
        .header(PIPELINE_HEADER, pipeline);
    if expect {
        req = req
            .header(EXPECTED_SHA256_HEADER, sha.to_hex())
            .header(EXPECTED_LEN_HEADER, len.to_string());
    }
    req.body(body).send().await.unwrap()
}

async fn get(url: &str, id: BlockId, query: &str) -> reqwest::Response {
    client()
        .get(format!("{url}/blocks/{id}{query}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hop_pipeline_stores_on_both() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let nn = dead_url();
    let a = start(da.path(), &nn).await;
    let b = start(db.path(), &nn).await;
    let bytes = data(3 * CHUNK_SIZE + 17);
    let sha = Sha256Digest::of(&bytes);
    let id = BlockId::new();

    let resp = put(a.url(), id, bytes.clone(), b.url(), true).await;
    assert_eq!(resp.status(), 200);
    let w: WriteBlockResponse = resp.json().await.unwrap();
    assert_eq!((w.block_id, w.len, w.sha256), (id, bytes.len() as u64, sha));
    assert_eq!(w.replicas.len(), 2);
    assert!(
        w.replicas.iter().all(|r| r.ok && r.sha256 == Some(sha)),
        "{w:?}"
    );
    assert_eq!(w.replicas[0].node_id, Some(a.node_id()));
    assert_eq!(w.replicas[0].addr, a.url());
    assert_eq!(w.replicas[1].node_id, Some(b.node_id()));
    for dn in [&a, &b] {
        let info = dn.node().store.get(id).unwrap();
        assert_eq!((info.len, info.sha256), (bytes.len() as u64, sha));
    }

    // Reads: whole, a range across a chunk boundary, the empty tail, errors.
    let r = get(b.url(), id, "").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), bytes);
    let off = CHUNK_SIZE - 5;
    let r = get(a.url(), id, &format!("?offset={off}&length=100")).await;
    assert_eq!(r.bytes().await.unwrap(), &bytes[off..off + 100]);
    let r = get(a.url(), id, &format!("?offset={}", bytes.len())).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = get(a.url(), id, &format!("?offset={}&length=1", bytes.len())).await;
    assert_eq!(r.status(), 400);
    let r = get(a.url(), id, "?offset=abc").await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<ErrorBody>().await.unwrap().error.code,
        dfs_common::error::ErrorCode::BadRequest
    );
    let r = client()
        .get(format!("{}/blocks/not-an-id", a.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = get(a.url(), BlockId::new(), "").await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<ErrorBody>().await.unwrap().error.code,
        dfs_common::error::ErrorCode::NotFound
    );

    let meta: BlockChecksums = client()
        .get(format!("{}/blocks/{id}/meta", b.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta, BlockChecksums::of(&bytes));

    // Writing the same block again is idempotent.
    let resp = put(a.url(), id, bytes.clone(), b.url(), true).await;
    assert_eq!(resp.status(), 200);

    // Health and metrics.
    let h: serde_json::Value = client()
        .get(format!("{}/health", a.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["blocks"], 1);
    assert_eq!(h["node_id"], a.node_id().to_string());
    assert_eq!(h["registered"], false);
    let m = client()
        .get(format!("{}/metrics", a.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("dfs_datanode_blocks 1\n"), "{m}");

    // Delete.
    let r = client()
        .delete(format!("{}/blocks/{id}", b.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get(b.url(), id, "").await.status(), 404);
    let r = client()
        .delete(format!("{}/blocks/{id}", b.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_hop_is_reported_and_local_copy_kept() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let nn = dead_url();
    let a = start(da.path(), &nn).await;
    let b = start(db.path(), &nn).await;
    let bytes = data(3 * CHUNK_SIZE + 17);
    let id = BlockId::new();

    let dead = dead_url();
    let resp = put(a.url(), id, bytes.clone(), &dead, true).await;
    assert_eq!(resp.status(), 200);
    let w: WriteBlockResponse = resp.json().await.unwrap();
    assert_eq!(w.replicas.len(), 2);
    assert!(w.replicas[0].ok);
    assert!(!w.replicas[1].ok);
    assert_eq!(w.replicas[1].addr, dead);
    assert!(w.replicas[1].error.is_some());
    assert!(a.node().store.get(id).is_some());

    // A dead middle hop: the hop after it is reported as not reached.
    let id2 = BlockId::new();
    let resp = put(
        a.url(),
        id2,
        bytes.clone(),
        &format!("{dead},{}", b.url()),
        true,
    )
    .await;
    let w: WriteBlockResponse = resp.json().await.unwrap();
    assert_eq!(
        w.replicas.iter().map(|r| r.ok).collect::<Vec<_>>(),
        vec![true, false, false]
    );
    assert_eq!(w.replicas[2].addr, b.url());
    assert!(b.node().store.get(id2).is_none());

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_writes_keep_nothing_anywhere() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let nn = dead_url();
    let a = start(da.path(), &nn).await;
    let b = start(db.path(), &nn).await;
    let bytes = data(2 * CHUNK_SIZE + 1);

    // Wrong expected digest: 412 from the first hop, and the second refuses too.
    let id = BlockId::new();
    let resp = client()
        .put(format!("{}/blocks/{id}", a.url()))
        .header(PIPELINE_HEADER, b.url())
        .header(EXPECTED_SHA256_HEADER, Sha256Digest::of(b"other").to_hex())
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 412);
    assert_eq!(
        resp.json::<ErrorBody>().await.unwrap().error.code,
        dfs_common::error::ErrorCode::ChecksumMismatch
    );
    let idle = |dn: &Datanode| dn.node().metrics.active_transfers() == 0;
    wait_for("second hop to finish", || idle(&b)).await;
    assert!(a.node().store.get(id).is_none());
    assert!(b.node().store.get(id).is_none());

    // A body cut off midway: neither hop keeps anything.
    let id = BlockId::new();
    let first = Bytes::from(bytes[..CHUNK_SIZE].to_vec());
    // The cut comes only once the second hop has bytes on its disk side, so
    // the test really checks that a truncated forward is not kept.
    let b_node = b.node().clone();
    let pieces = futures_util::stream::unfold(0, move |step| {
        let (first, b_node) = (first.clone(), b_node.clone());
        async move {
            match step {
                0 => Some((Ok(first), 1)),
                1 => {
                    let received = || b_node.metrics.bytes_received.load(Ordering::Relaxed);
                    for _ in 0..500 {
                        if received() > 0 {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    assert!(received() > 0, "second hop never got the forwarded bytes");
                    Some((Err(std::io::Error::other("cut")), 2))
                }
                _ => None,
            }
        }
    });
    let body = reqwest::Body::wrap_stream(pieces);
    let sent = client()
        .put(format!("{}/blocks/{id}", a.url()))
        .header(PIPELINE_HEADER, b.url())
        .body(body)
        .send()
        .await;
    assert!(sent.is_err() || !sent.unwrap().status().is_success());
    wait_for("both hops to finish", || idle(&a) && idle(&b)).await;
    // The second hop may still be about to see its (failing) request:
    // watch for a while that it never keeps the block.
    for _ in 0..10 {
        assert!(b.node().store.get(id).is_none());
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    wait_for("both hops to finish", || idle(&a) && idle(&b)).await;
    for (dn, dir) in [(&a, &da), (&b, &db)] {
        assert!(dn.node().store.get(id).is_none());
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    // Bad headers.
    let resp = client()
        .put(format!("{}/blocks/{}", a.url(), BlockId::new()))
        .header(EXPECTED_LEN_HEADER, "lots")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_replica_is_cut_short_and_quarantined() {
    let da = tempfile::tempdir().unwrap();
    let a = start(da.path(), &dead_url()).await;
    let bytes = data(3 * CHUNK_SIZE + 17);
    let id = BlockId::new();
    assert_eq!(
        put(a.url(), id, bytes.clone(), "", false).await.status(),
        200
    );

    let path = a.node().store.block_path(id);
    let mut on_disk = std::fs::read(&path).unwrap();
    on_disk[CHUNK_SIZE + 1] ^= 1;
    std::fs::write(&path, on_disk).unwrap();

    let r = get(a.url(), id, "").await;
    assert_eq!(
        r.status(),
        200,
        "the status is sent before the bad chunk is reached"
    );
    let body = r.bytes().await;
    // Either the body errors (short) or it is shorter than promised.
    if let Ok(b) = body {
        assert!(b.len() < bytes.len());
        assert_eq!(b, &bytes[..b.len()]);
    }
    wait_for("quarantine", || a.node().store.get(id).is_none()).await;
    assert_eq!(get(a.url(), id, "").await.status(), 404);
    assert_eq!(
        std::fs::read_dir(da.path().join("corrupt"))
            .unwrap()
            .count(),
        1,
        "one file per replica"
    );
    a.stop().await.unwrap();
}

/// A hop told that the body ends with the upstream hop's digest trailer
/// adopts its SHA-256 only when its own chunk CRC32Cs agree with the
/// upstream's fingerprint; anything else keeps nothing. A trailer that lies
/// about the SHA-256 (with the right CRCs) is caught at the first full read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_trailer_is_adopted_only_when_the_crcs_agree() {
    let da = tempfile::tempdir().unwrap();
    let a = start(da.path(), &dead_url()).await;
    let bytes = data(2 * CHUNK_SIZE + 99);
    let sha = Sha256Digest::of(&bytes);
    let fp = crcs_fingerprint(bytes.len() as u64, &BlockChecksums::of(&bytes).crcs);
    let with_trailer = |sha256, fingerprint, header: &str| {
        let mut body = bytes.clone();
        body.extend_from_slice(
            &DigestTrailer {
                sha256,
                fingerprint,
            }
            .encode(),
        );
        client()
            .put(format!("{}/blocks/{}", a.url(), BlockId::new()))
            .header(DIGEST_TRAILER_HEADER, header)
            .body(body)
    };
    let idle = |dn: &Datanode| dn.node().metrics.active_transfers() == 0;

    // The right trailer: stored under its digest, without the trailer bytes.
    let r = with_trailer(sha, fp, DIGEST_TRAILER_V1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let w: WriteBlockResponse = r.json().await.unwrap();
    assert_eq!((w.len, w.sha256), (bytes.len() as u64, sha));
    assert_eq!(w.replicas[0].crcs, Some(fp));
    assert_eq!(
        get(a.url(), w.block_id, "").await.bytes().await.unwrap(),
        bytes
    );

    // Other bytes than the upstream hop's, a cut-off trailer, an unknown
    // trailer format, or a digest that is not the one expected: refused.
    let refused = [
        (with_trailer(sha, fp ^ 1, DIGEST_TRAILER_V1), 412),
        (with_trailer(sha, fp, "sha512"), 400),
        (
            with_trailer(Sha256Digest::of(b"x"), fp, DIGEST_TRAILER_V1)
                .header(EXPECTED_SHA256_HEADER, sha.to_hex()),
            412,
        ),
        (
            client()
                .put(format!("{}/blocks/{}", a.url(), BlockId::new()))
                .header(DIGEST_TRAILER_HEADER, DIGEST_TRAILER_V1)
                .body(vec![1u8; 20]),
            400,
        ),
    ];
    for (i, (req, want)) in refused.into_iter().enumerate() {
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), want, "case {i}");
    }
    wait_for("writes to end", || idle(&a)).await;
    assert_eq!(a.node().store.block_count(), 1);
    assert_eq!(std::fs::read_dir(da.path().join("tmp")).unwrap().count(), 0);

    // A lying digest with the right CRCs is kept (the hop cannot tell), but
    // a full read checks the SHA-256 and never hands the block out whole.
    let r = with_trailer(Sha256Digest::of(b"lie"), fp, DIGEST_TRAILER_V1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<WriteBlockResponse>().await.unwrap().block_id;
    let r = get(a.url(), id, "").await;
    if let Ok(b) = r.bytes().await {
        assert!(
            b.len() < bytes.len(),
            "a block with a wrong digest left whole"
        );
    }
    wait_for("quarantine", || a.node().store.get(id).is_none()).await;
    a.stop().await.unwrap();
}
