//! Metadata safety with real processes: cluster identity (a wiped namenode
//! or another cluster's namenode deletes nothing), unknown replicas held
//! for an operator, checkpoints (`dfs backup`, the namenode's own) and
//! `namenode --restore`, including every way a restore must be refused.

use dfs_common::error::ErrorCode;
use dfs_tests::{
    bin, free_port, holds_for, p, upload_many, verify_all, wait_until, ClusterOptions, TestCluster,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const GRACE: &str = "1s";
const WAIT: Duration = Duration::from_secs(60);

fn opts(extra: &[&str]) -> ClusterOptions {
    let mut namenode_args: Vec<String> = vec!["--orphan-grace".into(), GRACE.into()];
    namenode_args.extend(extra.iter().map(|s| s.to_string()));
    ClusterOptions {
        datanodes: 3,
        namenode_args,
        ..Default::default()
    }
}

fn block_set(cluster: &TestCluster) -> BTreeSet<(usize, String)> {
    cluster.all_block_files().into_iter().collect()
}

/// Asserts that no block file disappears for `dur` (deletions ride the
/// next heartbeats, a fraction of a second after the orphan grace).
async fn nothing_deleted_for(
    cluster: &TestCluster,
    before: &BTreeSet<(usize, String)>,
    dur: Duration,
) {
    holds_for("no replica deleted", dur, || async {
        let now = block_set(cluster);
        let gone: Vec<_> = before.difference(&now).collect();
        anyhow::ensure!(gone.is_empty(), "replicas deleted: {gone:?}");
        Ok(())
    })
    .await
    .unwrap();
}

/// Every file (recursively) under `dir` with its bytes.
fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `namenode --restore FILE` into `data_dir`; it must refuse. Returns stderr.
fn restore_refused(file: &Path, data_dir: &Path) -> String {
    let out = Command::new(bin("namenode"))
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--restore")
        .arg(file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "restore of {} was not refused: {err}",
        file.display()
    );
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namenode_on_a_wiped_data_dir_deletes_nothing_and_says_why() {
    let mut cluster = TestCluster::start(opts(&[])).await;
    let c = cluster.client();
    let files = upload_many(&c, "/keep", 4, 1).await;
    cluster.wait_fully_replicated(WAIT).await;
    let before = block_set(&cluster);
    let old_id = cluster.summary().await.unwrap().cluster_id;
    assert!(!old_id.is_empty());
    let backup = cluster.root().join("nn.dfsck");
    cluster.dfs_ok(&["backup", backup.to_str().unwrap()]);

    // A wiped disk, a typo in a path, a container without its volume.
    cluster.kill_namenode();
    std::fs::remove_dir_all(cluster.namenode_dir()).unwrap();
    cluster.start_namenode();
    let s = wait_until("the datanodes refused", WAIT, || async {
        let s = cluster.summary().await?;
        Ok((s.refused_datanodes.len() == 3).then_some(s))
    })
    .await
    .unwrap();
    assert_ne!(s.cluster_id, old_id, "a new namespace is a new cluster");
    assert_eq!(s.live_datanodes, 0);
    for r in &s.refused_datanodes {
        assert_eq!(r.cluster_id, old_id);
        assert!(
            r.message.contains("restore the namenode's metadata"),
            "{}",
            r.message
        );
    }
    // Far longer than the orphan grace: not one replica goes.
    nothing_deleted_for(&cluster, &before, Duration::from_secs(5)).await;
    let report = cluster.dfs_ok(&["report"]);
    assert!(
        report.contains("of another cluster cannot join"),
        "{report}"
    );
    assert!(
        report.contains(&format!("belongs to cluster {old_id}")),
        "{report}"
    );
    // The datanodes say why too.
    let log = std::fs::read_to_string(cluster.root().join("logs/datanode-0.log")).unwrap();
    assert!(
        log.contains(&format!("this datanode belongs to cluster {old_id}")),
        "{log}"
    );

    // What the message says to do: restore the metadata. The datanodes
    // rejoin by themselves and every file reads back.
    cluster.kill_namenode();
    std::fs::remove_dir_all(cluster.namenode_dir()).unwrap();
    cluster.start_namenode_with(&["--restore", backup.to_str().unwrap()]);
    cluster.wait_live(3).await;
    assert_eq!(cluster.summary().await.unwrap().cluster_id, old_id);
    verify_all(&c, &files).await;
    cluster.wait_fully_replicated(WAIT).await;
    assert_eq!(block_set(&cluster), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datanode_pointed_at_another_cluster_keeps_its_blocks_and_comes_back() {
    let mut a = TestCluster::start(opts(&[])).await;
    let b = TestCluster::start(ClusterOptions {
        datanodes: 1,
        replication: 1,
        ..opts(&[])
    })
    .await;
    let ca = a.client();
    let files = upload_many(&ca, "/a", 4, 2).await;
    a.wait_fully_replicated(WAIT).await;
    let held: BTreeSet<String> = a
        .block_files(0)
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    assert!(!held.is_empty());

    // A config mistake: datanode 0 of cluster A is told B's namenode.
    a.stop_datanode(0);
    a.start_datanode_against(0, &b.namenode_url());
    wait_until("B refuses A's datanode", WAIT, || async {
        let s = b.summary().await?;
        Ok((s.refused_datanodes.len() == 1).then_some(()))
    })
    .await
    .unwrap();
    let sb = b.summary().await.unwrap();
    assert_eq!(sb.live_datanodes, 1, "only B's own datanode joined");
    assert!(sb.refused_datanodes[0]
        .message
        .contains("belongs to cluster"));
    let unchanged = || async {
        let now: BTreeSet<String> = a
            .block_files(0)
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        anyhow::ensure!(now == held, "{now:?} != {held:?}");
        Ok(())
    };
    holds_for(
        "blocks unchanged while it talks to the wrong namenode",
        Duration::from_secs(4),
        unchanged,
    )
    .await
    .unwrap();
    // B's own data is untouched by the stranger too.
    assert_eq!(b.fsck().await.unwrap().blocks, 0);

    // Pointed back at its own cluster: it rejoins and its files read back.
    a.stop_datanode(0);
    a.start_datanode(0);
    a.wait_live(3).await;
    a.wait_fully_replicated(WAIT).await;
    verify_all(&ca, &files).await;
    let now: BTreeSet<String> = a
        .block_files(0)
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    assert_eq!(now, held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_then_restore_after_a_wipe() {
    let mut cluster = TestCluster::start(opts(&[])).await;
    let c = cluster.client();
    let before = upload_many(&c, "/before", 5, 10).await;
    let cluster_id = cluster.summary().await.unwrap().cluster_id;

    // Uploads run while the backup is taken.
    let during = {
        let c = c.clone();
        tokio::spawn(async move { upload_many(&c, "/during", 6, 20).await })
    };
    let backup = cluster.root().join("nn.dfsck");
    let out = cluster.dfs_ok(&["backup", backup.to_str().unwrap()]);
    assert!(out.contains(&format!("cluster {cluster_id}")), "{out}");
    let during = during.await.unwrap();
    // Writing over it needs -f.
    let again = cluster.dfs(&["backup", backup.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("-f"));
    // The same bytes come to stdout.
    let to_stdout = cluster.dfs(&["backup", "-"]);
    assert!(to_stdout.status.success());
    assert!(to_stdout.stdout.starts_with(dfs_common::checkpoint::MAGIC));

    let after = upload_many(&c, "/after", 4, 30).await;
    cluster.wait_fully_replicated(WAIT).await;
    let blocks_before_wipe = block_set(&cluster);

    // Lose the namenode's disk; restore the backup.
    cluster.kill_namenode();
    std::fs::remove_dir_all(cluster.namenode_dir()).unwrap();
    cluster.start_namenode_with(&["--restore", backup.to_str().unwrap()]);
    cluster.wait_live(3).await;
    let s = cluster.summary().await.unwrap();
    assert_eq!(s.cluster_id, cluster_id);

    verify_all(&c, &before).await;
    // A file being written during the backup is in it whole or not at all.
    for (path, data) in &during {
        match c.status(&p(path)).await {
            Ok(_) => verify_all(&c, &BTreeMap::from([(path.clone(), data.clone())])).await,
            Err(e) => assert_eq!(e.code(), ErrorCode::NotFound, "{path}: {e}"),
        }
    }
    for path in after.keys() {
        let e = c
            .status(&p(path))
            .await
            .expect_err("written after the checkpoint");
        assert_eq!(e.code(), ErrorCode::NotFound, "{path}");
    }
    // The later files' replicas are held, not deleted, well past the grace.
    wait_until("unknown replicas held", WAIT, || async {
        let s = cluster.summary().await?;
        Ok((s.unknown_replicas.held > 0 && s.unknown_replicas.held_nodes == 3).then_some(s))
    })
    .await
    .unwrap();
    nothing_deleted_for(&cluster, &blocks_before_wipe, Duration::from_secs(4)).await;
    let report = cluster.dfs_ok(&["report"]);
    assert!(report.contains("restored from a checkpoint"), "{report}");
    let fsck = cluster.dfs_ok(&["fsck", "/"]);
    assert!(fsck.contains("held on 3 datanodes"), "{fsck}");

    // New writes work.
    let new = upload_many(&c, "/new", 2, 40).await;
    verify_all(&c, &new).await;

    // The operator's word deletes the held replicas, and only those.
    let out = cluster.dfs_ok(&["orphans", "delete"]);
    assert!(out.contains("Ordered"), "{out}");
    wait_until("held replicas gone", WAIT, || async {
        let s = cluster.summary().await?;
        Ok((s.unknown_replicas.held == 0 && s.unknown_replicas.waiting == 0).then_some(()))
    })
    .await
    .unwrap();
    cluster.wait_fully_replicated(WAIT).await;
    verify_all(&c, &before).await;
    verify_all(&c, &new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_existing_metadata_and_damaged_checkpoints() {
    // The namenode's own checkpoints: every second, two kept.
    let mut cluster = TestCluster::start(opts(&[
        "--checkpoint-interval",
        "1s",
        "--checkpoints-kept",
        "2",
    ]))
    .await;
    let c = cluster.client();
    let files = upload_many(&c, "/x", 3, 50).await;
    let dir = cluster.namenode_dir().join("checkpoints");
    let uploaded_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let checkpoints = || -> Vec<(u64, std::path::PathBuf)> {
        let mut v: Vec<_> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.to_string();
                let ms = name
                    .strip_prefix("checkpoint-")?
                    .strip_suffix(".dfsck")?
                    .parse()
                    .ok()?;
                Some((ms, p))
            })
            .collect();
        v.sort();
        v
    };
    // Two taken after the uploads (so at least three in all): two kept.
    let newest = wait_until("checkpoints after the uploads", WAIT, || async {
        let all = checkpoints();
        assert!(all.len() <= 2, "more checkpoints kept than asked: {all:?}");
        let after = all.iter().filter(|(ms, _)| *ms >= uploaded_ms).count();
        Ok((after == 2).then(|| all[all.len() - 1].1.clone()))
    })
    .await
    .unwrap();
    let good = cluster.root().join("good.dfsck");
    std::fs::copy(&newest, &good).unwrap();

    // (d) Over existing metadata: refused, nothing changed.
    cluster.stop_namenode();
    let meta = cluster.namenode_dir().join("journal");
    let before = snapshot_dir(&meta);
    let err = restore_refused(&good, &cluster.namenode_dir());
    assert!(err.contains("already holds metadata"), "{err}");
    assert!(
        snapshot_dir(&meta) == before,
        "the refused restore changed the store"
    );

    // (e) Truncated or altered: refused, the empty data dir stays empty.
    let bytes = std::fs::read(&good).unwrap();
    let empty = cluster.root().join("empty-nn");
    let truncated = cluster.root().join("truncated.dfsck");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = restore_refused(&truncated, &empty);
    assert!(err.contains("truncated"), "{err}");
    assert!(!empty.join("journal").exists());
    let flipped = cluster.root().join("flipped.dfsck");
    let mut b = bytes.clone();
    let at = b.len() / 2;
    b[at] ^= 0x10;
    std::fs::write(&flipped, &b).unwrap();
    let err = restore_refused(&flipped, &empty);
    assert!(
        err.contains("checksum mismatch") || err.contains("damaged"),
        "{err}"
    );
    assert!(!empty.join("journal").exists());
    let not_one = cluster.root().join("notes.txt");
    std::fs::write(&not_one, b"hello").unwrap();
    let err = restore_refused(&not_one, &empty);
    assert!(
        err.contains("truncated") || err.contains("not a dfs checkpoint"),
        "{err}"
    );

    // The namenode's own newest checkpoint restores: move the store away
    // as the README says, restore, start.
    std::fs::rename(&meta, cluster.root().join("journal.damaged")).unwrap();
    std::fs::rename(
        cluster.namenode_dir().join("raft"),
        cluster.root().join("raft.damaged"),
    )
    .unwrap();
    cluster.start_namenode_with(&["--restore", good.to_str().unwrap()]);
    cluster.wait_live(3).await;
    verify_all(&c, &files).await;
}

/// A backup restored onto a namenode at another address serves: the
/// checkpoint's place in its old Raft group is not carried over (its old
/// group's single member, named by the old address, would never be this
/// namenode, and it would never lead), and a data dir holding a Raft log is
/// refused like one holding metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restored_at_another_address_leads_and_serves() {
    let cluster = TestCluster::start(opts(&[])).await;
    let c = cluster.client();
    let files = upload_many(&c, "/moved", 3, 50).await;
    let backup = cluster.root().join("moved.dfsck");
    cluster.dfs_ok(&["backup", backup.to_str().unwrap()]);

    let dir = cluster.root().join("elsewhere");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(cluster.root().join("logs/elsewhere.log")).unwrap();
    let mut child = Command::new(bin("namenode"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&dir)
        .arg("--restore")
        .arg(&backup)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _kill = Kill(&mut child);
    let moved = dfs_client::DfsClient::new(&url).unwrap();
    wait_until("the restored namenode serves", WAIT, || async {
        Ok(moved.status(&p("/moved/f00")).await.ok())
    })
    .await
    .unwrap();
    let role: serde_json::Value = reqwest::get(format!("{url}/api/v1/namenodes"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(role["self_role"], "leader", "{role}");
    assert_eq!(role["self"], url.as_str(), "{role}");
    // (It waits in safe mode for datanodes, which report to the old one.)
    assert_eq!(moved.list(&p("/moved")).await.unwrap().len(), files.len());

    // A data dir with a Raft log of its own (its journal moved away) is
    // refused too.
    let half = cluster.root().join("half");
    std::fs::create_dir_all(half.join("raft")).unwrap();
    let err = restore_refused(&backup, &half);
    assert!(err.contains("raft"), "{err}");
}
