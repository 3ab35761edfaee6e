//! A randomized fault test, seeded and reproducible, bounded in operations
//! and time. It runs uploads, reads, renames and deletes while it kills and
//! restarts datanodes, keeping a model of what must exist; at the end every
//! file whose upload reported success is read back against its SHA-256, the
//! namespace holds exactly the model, and fsck is clean.
//!
//! Short by default (CI). Longer on request:
//! `DFS_CHAOS_SEED=7 DFS_CHAOS_OPS=2000 DFS_CHAOS_SECONDS=900 cargo test -p dfs-tests --test chaos -- --nocapture`
use dfs_client::{NoProgress, UploadOptions};
use dfs_common::error::ErrorCode;
use dfs_tests::chaos::{self, env_u64, listing, Rng};
use dfs_tests::{p, sha256_hex, test_data, TestCluster};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// True while some datanode is down or one restarted so recently that it
/// may not have registered its blocks yet.
fn faults_recent(stopped: &[usize], last_restart: Option<Instant>) -> bool {
    !stopped.is_empty() || last_restart.is_some_and(|t| t.elapsed() < Duration::from_secs(5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_lose_nothing_that_was_acknowledged() {
    let seed = env_u64("DFS_CHAOS_SEED", 20261123);
    let max_ops = env_u64("DFS_CHAOS_OPS", 150);
    let max_time = Duration::from_secs(env_u64("DFS_CHAOS_SECONDS", 60));
    eprintln!("chaos: seed {seed}, at most {max_ops} operations / {max_time:?} (DFS_CHAOS_SEED to reproduce)");
    let mut rng = Rng::new(seed);
    let n = 5;
    let mut cluster = TestCluster::start(chaos::options(1, n)).await;
    let c = cluster.client();
    // path -> (sha256, length) of every file whose upload reported success.
    let mut model: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut next_id = 0u64;
    let (mut uploads_ok, mut uploads_failed, mut kills, mut restarts, mut reads) = (0, 0, 0, 0, 0);
    let mut unavailable = 0;
    let mut last_restart: Option<Instant> = None;
    let start = Instant::now();
    for op in 0..max_ops {
        if start.elapsed() > max_time {
            eprintln!("chaos: time bound reached after {op} operations");
            break;
        }
        let running: Vec<usize> = (0..n).filter(|&i| cluster.is_running(i)).collect();
        let stopped: Vec<usize> = (0..n).filter(|&i| !cluster.is_running(i)).collect();
        match rng.below(100) {
            0..=39 => {
                next_id += 1;
                let size = match rng.below(4) {
                    0 => rng.below(1000) as usize,
                    1 => (1 << 20) + rng.below(1000) as usize - 500,
                    _ => rng.below(3 << 20) as usize,
                };
                let data = test_data(size, seed ^ next_id);
                let path = format!("/chaos/d{}/f{next_id}", rng.below(4));
                match c
                    .upload(&p(&path), &data[..], &UploadOptions::default(), &NoProgress)
                    .await
                {
                    Ok(st) => {
                        assert_eq!(st.length, size as u64);
                        model.insert(path, (sha256_hex(&data), size as u64));
                        uploads_ok += 1;
                    }
                    Err(e) => {
                        eprintln!("chaos: upload {path} failed: {e}");
                        let gone = c
                            .status(&p(&path))
                            .await
                            .expect_err("a failed upload is not visible");
                        assert_eq!(gone.code(), ErrorCode::NotFound);
                        uploads_failed += 1;
                    }
                }
            }
            40..=59 if !model.is_empty() => {
                let k = rng.below(model.len() as u64) as usize;
                let (path, (sha, _)) = model.iter().nth(k).unwrap();
                let mut back = Vec::new();
                // Whether faults were recent when the read began (the client
                // asks again for a while for a block no replica of which is
                // known).
                let faulty = faults_recent(&stopped, last_restart);
                match c.download(&p(path), &mut back, &NoProgress).await {
                    Ok(_) => {
                        assert_eq!(&sha256_hex(&back), sha, "chaos seed {seed}: {path} differs");
                        reads += 1;
                    }
                    // Every holder of a block may be down at once (a node
                    // killed, another just restarted and not yet registered):
                    // the read may fail then, but never with wrong bytes, and
                    // the file must come back (checked at the end).
                    Err(e) if faulty && e.to_string().contains("no readable replica") => {
                        eprintln!("chaos: {path} unavailable while nodes are down: {e}");
                        unavailable += 1;
                    }
                    Err(e) => panic!("chaos seed {seed}: read {path}: {e}"),
                }
            }
            60..=69 if !model.is_empty() => {
                let k = rng.below(model.len() as u64) as usize;
                let path = model.keys().nth(k).unwrap().clone();
                next_id += 1;
                let dst = format!("/chaos/moved/m{next_id}");
                c.mkdirs(&p("/chaos/moved"), true).await.unwrap();
                c.rename(&p(&path), &p(&dst), false)
                    .await
                    .unwrap_or_else(|e| panic!("chaos seed {seed}: rename {path}: {e}"));
                let v = model.remove(&path).unwrap();
                model.insert(dst, v);
            }
            70..=77 if !model.is_empty() => {
                let k = rng.below(model.len() as u64) as usize;
                let path = model.keys().nth(k).unwrap().clone();
                c.delete(&p(&path), false).await.unwrap();
                model.remove(&path);
            }
            78..=88 if running.len() > 3 => {
                let i = running[rng.below(running.len() as u64) as usize];
                cluster.kill_datanode(i);
                kills += 1;
            }
            89..=99 if !stopped.is_empty() => {
                let i = stopped[rng.below(stopped.len() as u64) as usize];
                cluster.start_datanode(i);
                last_restart = Some(Instant::now());
                restarts += 1;
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    eprintln!(
        "chaos: {uploads_ok} uploads ok, {uploads_failed} failed cleanly, {reads} reads ({unavailable} unavailable while nodes were down), {kills} kills, {restarts} restarts; {} files",
        model.len()
    );
    for i in 0..n {
        if !cluster.is_running(i) {
            cluster.start_datanode(i);
        }
    }
    cluster.wait_live(n).await;
    cluster
        .wait_fully_replicated(Duration::from_secs(120))
        .await;
    let listed = listing(&c).await;
    let expected: BTreeMap<String, u64> = model
        .iter()
        .map(|(k, (_, len))| (k.clone(), *len))
        .collect();
    assert_eq!(
        listed, expected,
        "chaos seed {seed}: the namespace holds exactly the acknowledged files"
    );
    for (path, (sha, _)) in &model {
        let mut back = Vec::new();
        c.download(&p(path), &mut back, &NoProgress)
            .await
            .unwrap_or_else(|e| panic!("chaos seed {seed}: {path}: {e}"));
        assert_eq!(&sha256_hex(&back), sha, "chaos seed {seed}: {path}");
    }
}
