//! 4 KiB files created and read back per second, by 1 and by 16 clients,
//! each read checked against what was written.
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
        let d = dir.clone();
        let ops = parallel(&url, n, tasks, move |c, i| {
            let path = p(&format!("{d}/f{i:06}"));
            async move {
                let data = small_data(i);
                c.upload(&path, &data[..], &UploadOptions::default(), &NoProgress)
                    .await?;
                Ok(())
            }
        })
        .await?;
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
    Ok(())
}
