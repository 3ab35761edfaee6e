//! A replica with a flipped byte on disk never reaches the reader: the read
//! goes on from another replica and the bytes come back exact.
use dfs_client::{NoProgress, UploadOptions};
use dfs_tests::{flip_byte, p, test_data, ClusterOptions, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_reads_around_corrupt_replicas() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();
    let data = test_data(2 * (1 << 20) + 999, 9);
    c.upload(
        &p("/c/f"),
        &data[..],
        &UploadOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    let locs = c.locations(&p("/c/f")).await.unwrap();

    // Block 0: corrupt two of its replicas in one chunk. Readers take the
    // replicas in a random order, so most reads meet a bad one first.
    let b0 = &locs.blocks[0];
    for r in &b0.replicas[..2] {
        let i = cluster.node_index(&r.addr).expect("known datanode");
        let f0 = cluster
            .block_file(i, &b0.block_id.to_string())
            .expect("block file on disk");
        flip_byte(&f0, 70_000);
    }
    // Block 1: corrupt two of its three replicas.
    let b1 = &locs.blocks[1];
    for r in &b1.replicas[..2] {
        let i = cluster.node_index(&r.addr).expect("known datanode");
        flip_byte(
            &cluster
                .block_file(i, &b1.block_id.to_string())
                .expect("block file"),
            5,
        );
    }

    let mut back = Vec::new();
    c.download(&p("/c/f"), &mut back, &NoProgress)
        .await
        .expect("download despite corrupt replicas");
    assert!(back == data, "bytes differ after reading around corruption");

    // The same through the CLI, into a file.
    let out = cluster.root().join("out.bin");
    cluster.dfs_ok(&["get", "/c/f", out.to_str().unwrap()]);
    assert!(std::fs::read(&out).unwrap() == data);

    // And a ranged read that starts inside a corrupt chunk of block 0.
    let reader = c.open(&p("/c/f"), 69_000, Some(5_000)).await.unwrap();
    let got: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(reader)
        .await
        .unwrap();
    assert!(got.concat() == data[69_000..74_000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_replicas_corrupt_is_an_error_not_bad_data() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();
    let data = test_data(100_000, 11);
    c.upload(
        &p("/bad"),
        &data[..],
        &UploadOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    let locs = c.locations(&p("/bad")).await.unwrap();
    let b = &locs.blocks[0];
    for r in &b.replicas {
        let i = cluster.node_index(&r.addr).expect("known datanode");
        flip_byte(
            &cluster.block_file(i, &b.block_id.to_string()).unwrap(),
            99_999,
        );
    }
    let mut back = Vec::new();
    let err = c
        .download(&p("/bad"), &mut back, &NoProgress)
        .await
        .expect_err("must fail");
    assert!(
        back.len() < 65_536 * 2,
        "at most the verified first chunk may have been written"
    );
    assert!(
        back == data[..back.len()],
        "whatever was written before the error is correct"
    );
    let msg = err.to_string();
    assert!(msg.contains("replica"), "error names the problem: {msg}");
}

/// The next block is opened ahead on its first replica while the current
/// one finishes; when that replica is gone, or corrupt, the read goes on
/// from the others, for whole and for ranged reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_ahead_falls_back_when_the_next_blocks_first_replica_is_bad() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();
    let data = test_data(4 * (1 << 20) + 4321, 13);
    c.upload(
        &p("/ahead"),
        &data[..],
        &UploadOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    let locs = c.locations(&p("/ahead")).await.unwrap();
    assert_eq!(locs.blocks.len(), 5);
    // Replicas are read in a random order: two of three are bad, so the
    // replica opened ahead is a bad one in most runs, and the read must go
    // on whichever comes first.
    // Block 2: two replicas' files are gone from under their datanodes.
    let b2 = &locs.blocks[2];
    for r in &b2.replicas[..2] {
        let i = cluster.node_index(&r.addr).expect("known datanode");
        let blk = cluster.block_file(i, &b2.block_id.to_string()).unwrap();
        // One file per replica (a `.meta` only beside replicas written
        // before issue 19).
        std::fs::remove_file(&blk).unwrap();
    }
    // Block 3: two replicas have a flipped byte in their last chunk.
    let b3 = &locs.blocks[3];
    for r in &b3.replicas[..2] {
        let i = cluster.node_index(&r.addr).expect("known datanode");
        flip_byte(
            &cluster.block_file(i, &b3.block_id.to_string()).unwrap(),
            (1 << 20) - 10,
        );
    }

    let mut back = Vec::new();
    c.download(&p("/ahead"), &mut back, &NoProgress)
        .await
        .expect("download despite bad first replicas");
    assert!(back == data, "whole read differs");

    // Ranges that start in one block and end inside a later one (the block
    // read ahead is then read in part, without its digest).
    let mb = 1u64 << 20;
    for (from, len) in [(mb / 2, 2 * mb), (mb + 7, 2 * mb + 100), (3 * mb - 1, 2)] {
        let reader = c.open(&p("/ahead"), from, Some(len)).await.unwrap();
        let got: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(reader)
            .await
            .unwrap();
        let (from, len) = (from as usize, len as usize);
        assert!(
            got.concat() == data[from..from + len],
            "range {from}+{len} differs"
        );
    }
}
