//! 4 KiB files created and read back per second, by 1 and by 16 clients,
//! each read checked against what was written; and what a quota on the
//! directory costs 16 clients' creates.
use super::ceilings::Ceilings;
use super::parallel::parallel;
use super::report::Report;
use super::Sizes;
use crate::cluster::TestCluster;
use crate::data::{p, test_data};
use anyhow::{ensure, Result};
use dfs_client::{NoProgress, UploadOptions};
use futures_util::StreamExt;

fn small_data(i: usize) -> Vec<u8> {
    test_data(4096, 1_000_000 + i as u64)
}

pub async fn measure(
    rep: &mut Report,
    cluster: &TestCluster,
    c: &Ceilings,
    s: &Sizes,
) -> Result<()> {
    let url = cluster.urls_leader_first().await;
    let n = s.small_files;
    for tasks in [1usize, 16] {
        let dir = format!("/small/c{tasks}");
        cluster.client().mkdirs(&p(&dir), true).await?;
        let ops = create_small(&url, &dir, n, tasks).await?;
        let rtt = c.rtt(tasks);
        rep.add(
            format!("4 KiB files created, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            (tasks == 16).then_some(">= 1000 ops/s"),
        );
        let d = dir.clone();
        let ops = parallel(&url, n, tasks, move |c, i| {
            let path = p(&format!("{d}/f{i:06}"));
            async move {
                let mut r = c.open(&path, 0, None).await?;
                let mut got = Vec::with_capacity(4096);
                while let Some(piece) = r.next().await {
                    got.extend_from_slice(&piece?);
                }
                ensure!(got == small_data(i), "{path} read back different bytes");
                Ok(())
            }
        })
        .await?;
        rep.add(
            format!("4 KiB files read back, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            None,
        );
    }
    quota_cost(rep, cluster, n).await
}

/// `tasks` clients creating `n` 4 KiB files in `dir`: files per second.
async fn create_small(url: &str, dir: &str, n: usize, tasks: usize) -> Result<f64> {
    let d = dir.to_string();
    parallel(url, n, tasks, move |c, i| {
        let path = p(&format!("{d}/f{i:06}"));
        async move {
            let data = small_data(i);
            c.upload(&path, &data[..], &UploadOptions::default(), &NoProgress)
                .await?;
            Ok(())
        }
    })
    .await
}

/// 16 clients' creates under a directory with a name and a space quota
/// (too large to refuse anything, so every create and block is checked
/// against them), against the same work under one without, in alternating
/// rounds so that the host's drift falls on both alike.
async fn quota_cost(rep: &mut Report, cluster: &TestCluster, n: usize) -> Result<()> {
    const ROUNDS: usize = 3;
    let url = cluster.urls_leader_first().await;
    let per = (n / ROUNDS).max(16);
    let client = cluster.client();
    for d in ["/small/quota", "/small/free"] {
        client.mkdirs(&p(d), true).await?;
    }
    client
        .set_quota(&dfs_common::proto::client::SetQuotaRequest {
            path: p("/small/quota"),
            files: Some(1 << 40),
            bytes: Some(1 << 60),
            ..Default::default()
        })
        .await?;
    let mut secs = [0.0f64; 2];
    for round in 0..ROUNDS {
        for (i, top) in ["/small/free", "/small/quota"].iter().enumerate() {
            let d = format!("{top}/r{round}");
            client.mkdirs(&p(&d), true).await?;
            let ops = create_small(&url, &d, per, 16).await?;
            secs[i] += per as f64 / ops;
        }
    }
    let total = (per * ROUNDS) as f64;
    rep.add(
        format!(
            "4 KiB files created under a quota, 16 clients ({})",
            per * ROUNDS
        ),
        total / secs[1],
        "ops/s",
        Some((total / secs[0], "the same without one")),
        Some("no slower"),
    );
    Ok(())
}
