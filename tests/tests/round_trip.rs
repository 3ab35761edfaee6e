//! Round trips through the client library against a real cluster: sizes at
//! and around block boundaries, a 50 MiB file, ranged reads, and every block
//! stored `replication` times on distinct datanodes.
use dfs_client::{NoProgress, UploadOptions};
use dfs_tests::{p, sha256_hex, test_data, ClusterOptions, TestCluster};
use futures_util::TryStreamExt;
use std::collections::HashSet;

const BLOCK: usize = 1 << 20;

async fn read_all(c: &dfs_client::DfsClient, path: &str, offset: u64, len: Option<u64>) -> Vec<u8> {
    let reader = c.open(&p(path), offset, len).await.expect("open");
    let chunks: Vec<bytes::Bytes> = reader.try_collect().await.expect("read");
    chunks.concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_round_trip_bit_exact_with_replicas_on_distinct_nodes() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();
    let sizes = [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17, 50 << 20];
    for (i, &size) in sizes.iter().enumerate() {
        let data = test_data(size, i as u64 + 1);
        let path = format!("/rt/size-{size}");
        let st = c
            .upload(&p(&path), &data[..], &UploadOptions::default(), &NoProgress)
            .await
            .unwrap_or_else(|e| panic!("upload {size}: {e}"));
        assert_eq!(st.length, size as u64);
        assert_eq!(st.replication, 3);
        assert_eq!(
            st.sha256.map(|d| d.to_hex()),
            Some(sha256_hex(&data)),
            "recorded digest of {size}"
        );

        let mut back = Vec::new();
        c.download(&p(&path), &mut back, &NoProgress)
            .await
            .expect("download");
        assert!(back == data, "size {size}: downloaded bytes differ");

        let locs = c.locations(&p(&path)).await.expect("locations");
        assert_eq!(
            locs.blocks.len(),
            size.div_ceil(BLOCK),
            "block count for {size}"
        );
        let mut offset = 0;
        for b in &locs.blocks {
            assert_eq!(b.offset, offset);
            offset += b.len;
            let nodes: HashSet<_> = b.replicas.iter().map(|r| r.id).collect();
            assert_eq!(b.replicas.len(), 3, "replicas of a block of {size}");
            assert_eq!(nodes.len(), 3, "replicas on distinct nodes");
            // Each replica really is on that node's disk, with the recorded digest.
            for r in &b.replicas {
                let meta: dfs_common::checksum::BlockChecksums =
                    reqwest::get(format!("{}/blocks/{}/meta", r.addr, b.block_id))
                        .await
                        .unwrap()
                        .error_for_status()
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                assert_eq!(Some(meta.sha256), b.sha256);
                assert_eq!(meta.len, b.len);
            }
        }
        assert_eq!(offset, size as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranged_reads_return_exact_slices() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();
    let data = test_data(3 * BLOCK + 17, 42);
    c.upload(
        &p("/r/f"),
        &data[..],
        &UploadOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    let cases: &[(u64, Option<u64>)] = &[
        (0, Some(1)),
        (1, Some(100)),
        (65_535, Some(2)),
        (BLOCK as u64 - 3, Some(10)),
        (BLOCK as u64, None),
        (2 * BLOCK as u64 + 5, Some(BLOCK as u64)),
        (3 * BLOCK as u64 + 16, None),
        (3 * BLOCK as u64 + 17, None),
        (10, Some(0)),
    ];
    for &(off, len) in cases {
        let got = read_all(&c, "/r/f", off, len).await;
        let end = len.map_or(data.len(), |l| (off + l).min(data.len() as u64) as usize);
        assert!(got == data[off as usize..end], "range {off} {len:?}");
    }
    assert!(
        c.open(&p("/r/f"), data.len() as u64 + 1, None)
            .await
            .is_err(),
        "offset past EOF"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_and_block_size_per_file() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();
    let data = test_data(300_000, 7);
    let opts = UploadOptions {
        replication: Some(2),
        block_size: Some(128 * 1024),
        ..Default::default()
    };
    let st = c
        .upload(&p("/custom"), &data[..], &opts, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (st.replication, st.block_size, st.blocks),
        (2, 128 * 1024, 3)
    );
    let locs = c.locations(&p("/custom")).await.unwrap();
    assert!(locs.blocks.iter().all(|b| b.replicas.len() == 2));
    assert_eq!(read_all(&c, "/custom", 0, None).await, data);
}
