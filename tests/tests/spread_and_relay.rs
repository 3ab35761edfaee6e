//! Two promises of "Reads and relayed writes" (CONTRACT), with real
//! processes:
//! - reads of one block spread over all its replicas (no replica is always
//!   first), through the native client and through WebHDFS OPEN, so a byte
//!   flipped in *any* replica is met by ordinary reads, reported and
//!   repaired, while every read still returns the right bytes;
//! - a WebHDFS CREATE relayed by a datanode that is SIGKILLed ends when the
//!   namenode declares that datanode dead, not at the lease timeout: the
//!   path is writable again, and nothing of the cut-off write is visible.
use dfs_client::{NoProgress, UploadOptions};
use dfs_tests::{
    flip_byte, http_no_redirect, p, test_data, wait_until, ClusterOptions, TestCluster,
};
use std::time::{Duration, Instant};

/// Reads of the file needed to see every replica used at least once: with
/// three replicas in random order, one is missed by all 30 with a
/// probability of about 3 · (2/3)^30 ≈ 1.5e-5.
const READS: usize = 30;

/// A counter or gauge from a server's Prometheus text at `base/metrics`.
async fn metric(base: &str, name: &str) -> anyhow::Result<u64> {
    let text = dfs_tests::metrics_text(base).await?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{base}/metrics has no {name}"))
}

/// Block reads each datanode completed so far.
async fn reads_served(cluster: &TestCluster) -> Vec<u64> {
    let mut v = Vec::new();
    for i in 0..cluster.opts.datanodes {
        v.push(
            metric(&cluster.datanode_url(i), "dfs_datanode_blocks_sent_total")
                .await
                .unwrap(),
        );
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_spread_over_replicas_and_rot_on_any_is_found_and_repaired() {
    // Three datanodes, replication 3: every node holds the block.
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let c = cluster.client();
    let data = test_data(200_000, 21);
    c.upload(
        &p("/spread/f"),
        &data[..],
        &UploadOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    cluster.wait_fully_replicated(Duration::from_secs(30)).await;
    let locs = c.locations(&p("/spread/f")).await.unwrap();
    assert_eq!(locs.blocks.len(), 1);
    let block = locs.blocks[0].block_id.to_string();
    assert_eq!(locs.blocks[0].replicas.len(), 3);

    // Native reads (what `dfs get/cat` and the seed `/download_file` run).
    let before = reads_served(&cluster).await;
    for _ in 0..READS {
        let mut back = Vec::new();
        c.download(&p("/spread/f"), &mut back, &NoProgress)
            .await
            .unwrap();
        assert!(back == data, "a read returned other bytes");
    }
    let after = reads_served(&cluster).await;
    for i in 0..3 {
        assert!(
            after[i] > before[i],
            "datanode {i} served none of {READS} reads of a block it holds \
             (reads served before {before:?}, after {after:?})"
        );
    }

    // WebHDFS OPEN: the namenode's redirect and the landing datanode's own
    // read both spread.
    let nn = cluster.namenode_url();
    let h = http_no_redirect();
    let before = after;
    for _ in 0..READS {
        let r = h
            .get(format!("{nn}/webhdfs/v1/spread/f?op=OPEN"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 307);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let back = h
            .get(loc)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(back == data, "a WebHDFS read returned other bytes");
    }
    let after = reads_served(&cluster).await;
    for i in 0..3 {
        assert!(
            after[i] > before[i],
            "datanode {i} served none of {READS} WebHDFS reads \
             (reads served before {before:?}, after {after:?})"
        );
    }

    // Rot on each replica in turn, whichever the namenode lists first, is
    // met by ordinary reads (the scanner runs once a week here), reported
    // and repaired, and no read returns a wrong byte meanwhile.
    for i in 0..3 {
        let f = cluster.block_file(i, &block).expect("replica on disk");
        flip_byte(&f, 1_000 + 70_000 * i as u64);
        let copies = cluster
            .summary()
            .await
            .unwrap()
            .replication
            .completed_copies;
        let mut reads = 0;
        wait_until(
            &format!("reads to find the flipped byte on datanode {i} and repair it"),
            Duration::from_secs(60),
            || {
                let (c, data, cluster, block) = (&c, &data, &cluster, &block);
                reads += 1;
                async move {
                    let mut back = Vec::new();
                    c.download(&p("/spread/f"), &mut back, &NoProgress).await?;
                    assert!(&back == data, "a read returned other bytes");
                    let on_disk_good = cluster
                        .block_file(i, block)
                        // The block's bytes, then its checksums' trailer.
                        .and_then(|f| std::fs::read(f).ok())
                        .is_some_and(|f| f.get(..data.len()) == Some(&data[..]));
                    let s = cluster.summary().await?;
                    let repaired = on_disk_good
                        && s.corrupt_replicas == 0
                        && s.replication.completed_copies > copies;
                    Ok(repaired.then_some(()))
                }
            },
        )
        .await
        .unwrap();
        eprintln!("rot on datanode {i} found and repaired within {reads} reads");
        cluster.wait_fully_replicated(Duration::from_secs(30)).await;
        let fsck = cluster.fsck().await.unwrap();
        assert!(fsck.healthy && fsck.corrupt_blocks == 0, "{fsck:?}");
    }
}

/// `http://host:port` of a URL.
fn base_of(url: &str) -> String {
    url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_write_ends_when_its_datanode_is_declared_dead() {
    // The default lease (60 s): without ending relayed writes with their
    // datanode, the path would stay locked for a minute.
    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 4,
        dead_node_timeout: "2s",
        lease_timeout: "60s",
        ..Default::default()
    })
    .await;
    let nn = cluster.namenode_url();
    let h = http_no_redirect();

    // CREATE: the namenode names the datanode that will relay the write.
    let r = h
        .put(format!("{nn}/webhdfs/v1/relay/f?op=CREATE"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let relay = cluster
        .node_index(&base_of(&loc))
        .expect("redirected to a datanode");

    // A body that trickles: a block and a half, then nothing more, the
    // request still open.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    });
    let cut_off = tokio::spawn({
        let h = h.clone();
        async move {
            h.put(loc)
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
        }
    });
    let first = test_data(3 << 19, 31);
    for piece in first.chunks(64 * 1024) {
        tx.send(Ok(bytes::Bytes::copy_from_slice(piece)))
            .await
            .unwrap();
    }
    // The write is under way: pending at the namenode, its first block
    // durable on datanodes other than the relay.
    wait_until(
        "the relayed write under way",
        Duration::from_secs(30),
        || {
            let (cluster, nn) = (&cluster, &nn);
            async move {
                let pending = metric(nn, "dfs_namenode_files_being_written").await?;
                let elsewhere = cluster
                    .all_block_files()
                    .iter()
                    .filter(|(i, _)| *i != relay)
                    .count();
                Ok((pending == 1 && elsewhere > 0).then_some(()))
            }
        },
    )
    .await
    .unwrap();

    cluster.kill_datanode(relay);
    let killed = Instant::now();
    let data = test_data(300_000, 32);
    // Rewrite until it is accepted: refused (409, the path is held) or
    // redirected to the dead node until the namenode declares it dead.
    // overwrite=false: it is accepted only if nothing is at the path.
    wait_until(
        "the path writable again after the relay's death",
        Duration::from_secs(30),
        || {
            let (h, nn, data) = (&h, &nn, &data);
            async move {
                let r = h
                    .put(format!("{nn}/webhdfs/v1/relay/f?op=CREATE&overwrite=false"))
                    .send()
                    .await?;
                if r.status().as_u16() != 307 {
                    anyhow::bail!("namenode answered {}", r.status());
                }
                let loc = r.headers()["location"].to_str()?.to_string();
                let r = h.put(loc).body(data.clone()).send().await?;
                let status = r.status().as_u16();
                if status != 201 {
                    anyhow::bail!("{status}: {}", r.text().await.unwrap_or_default());
                }
                Ok(Some(()))
            }
        },
    )
    .await
    .unwrap();
    let took = killed.elapsed();
    eprintln!("path writable again {took:?} after the relay was killed");
    assert!(
        took < Duration::from_secs(30),
        "the path was held for {took:?}: the write outlived its relay"
    );
    let summary = cluster.summary().await.unwrap();
    assert_eq!(summary.dead_datanodes, 1, "the relay is declared dead");
    // The cut-off request failed, it did not complete.
    if let Ok(r) = cut_off.await.unwrap() {
        assert_ne!(r.status().as_u16(), 201, "the cut-off write completed");
    }
    drop(tx);

    // Nothing of the cut-off write is visible: the file is the rewrite...
    let r = h
        .get(format!("{nn}/webhdfs/v1/relay?op=LISTSTATUS"))
        .send()
        .await
        .unwrap();
    let listing: serde_json::Value = r.json().await.unwrap();
    let entries = listing["FileStatuses"]["FileStatus"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{listing}");
    assert_eq!(entries[0]["pathSuffix"], "f");
    assert_eq!(entries[0]["length"], data.len() as u64);
    let mut back = Vec::new();
    cluster
        .client()
        .download(&p("/relay/f"), &mut back, &NoProgress)
        .await
        .unwrap();
    assert!(back == data, "the file holds the rewrite only");
    // ...no write is left pending, and the cut-off write's blocks leave the
    // live datanodes' disks.
    assert_eq!(
        metric(&nn, "dfs_namenode_files_being_written")
            .await
            .unwrap(),
        0
    );
    let kept: Vec<String> = cluster
        .client()
        .locations(&p("/relay/f"))
        .await
        .unwrap()
        .blocks
        .iter()
        .map(|b| b.block_id.to_string())
        .collect();
    wait_until(
        "the cut-off write's blocks deleted",
        Duration::from_secs(30),
        || {
            let (cluster, kept) = (&cluster, &kept);
            async move {
                let stray: Vec<(usize, String)> = cluster
                    .all_block_files()
                    .into_iter()
                    .filter(|(i, b)| *i != relay && !kept.contains(b))
                    .collect();
                if stray.is_empty() {
                    Ok(Some(()))
                } else {
                    Err(anyhow::anyhow!("block files left: {stray:?}"))
                }
            }
        },
    )
    .await
    .unwrap();
}
