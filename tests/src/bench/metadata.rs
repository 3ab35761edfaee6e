//! Metadata operations per second: mkdir, stat and rename by 1 and by 16
//! clients, then listing the 16-client directory (every page) for about
//! two seconds.
use super::ceilings::Ceilings;
use super::parallel::parallel;
use super::report::Report;
use super::Sizes;
use crate::cluster::TestCluster;
use crate::data::p;
use anyhow::{ensure, Result};
use std::time::{Duration, Instant};

pub async fn measure(
    rep: &mut Report,
    cluster: &TestCluster,
    c: &Ceilings,
    s: &Sizes,
) -> Result<()> {
    let url = cluster.urls_leader_first().await;
    let client = cluster.client();
    let mut list_dir = String::new();
    for (tasks, n) in [(1usize, s.meta_ops_single), (16, s.meta_ops)] {
        let dir = format!("/meta/c{tasks}");
        client.mkdirs(&p(&dir), true).await?;
        let rtt = c.rtt(tasks);
        let d = dir.clone();
        let times = change_times(&url).await?;
        let ops = parallel(&url, n, tasks, move |c, i| {
            let path = p(&format!("{d}/d{i:06}"));
            async move {
                c.mkdirs(&path, false).await?;
                Ok(())
            }
        })
        .await?;
        rep.add(
            format!("mkdir, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            (tasks == 16).then_some(">= 5000 ops/s"),
        );
        add_change_times(rep, times, change_times(&url).await?);
        let d = dir.clone();
        let ops = parallel(&url, n, tasks, move |c, i| {
            let path = p(&format!("{d}/d{i:06}"));
            async move {
                let st = c.status(&path).await?;
                ensure!(st.name == format!("d{i:06}"), "stat {path}: {st:?}");
                Ok(())
            }
        })
        .await?;
        rep.add(
            format!("stat, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            None,
        );
        let d = dir.clone();
        let times = change_times(&url).await?;
        let ops = parallel(&url, n, tasks, move |c, i| {
            let src = p(&format!("{d}/d{i:06}"));
            let dst = p(&format!("{d}/r{i:06}"));
            async move {
                c.rename(&src, &dst, false).await?;
                Ok(())
            }
        })
        .await?;
        rep.add(
            format!("rename, {tasks} client(s) ({n})"),
            ops,
            "ops/s",
            Some(rtt),
            None,
        );
        add_change_times(rep, times, change_times(&url).await?);
        if tasks == 16 {
            list_dir = dir;
        }
    }
    // Listing the big directory (every page), for about two seconds.
    let path = p(&list_dir);
    let t = Instant::now();
    let mut lists = 0u32;
    let mut entries = 0;
    while lists < 3 || t.elapsed() < Duration::from_secs(2) {
        entries = client.list(&path).await?.len();
        lists += 1;
    }
    ensure!(
        entries == s.meta_ops,
        "{list_dir} lists {entries} entries, not {}",
        s.meta_ops
    );
    let per_sec = lists as f64 / t.elapsed().as_secs_f64();
    rep.add(
        format!("list a {entries}-entry directory, 1 client"),
        per_sec,
        "ops/s",
        None,
        None,
    );
    rep.add(
        "  entries listed per second",
        per_sec * entries as f64,
        "ops/s",
        None,
        None,
    );
    Ok(())
}

/// The namenode's change timings from `/metrics`: changes, then
/// microseconds queued, locked and waiting for durability (summed).
/// `None` from a namenode older than these metrics (old binaries are
/// measured with this bench too).
async fn change_times(url: &str) -> Result<Option<[u64; 4]>> {
    const NAMES: [&str; 4] = [
        "dfs_namenode_changes_total",
        "dfs_namenode_change_queue_microseconds_total",
        "dfs_namenode_change_locked_microseconds_total",
        "dfs_namenode_change_durable_wait_microseconds_total",
    ];
    let http = reqwest::Client::builder().no_proxy().build()?;
    let text = http
        .get(format!("{}/metrics", url.split(',').next().unwrap_or(url)))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let mut out = [0u64; 4];
    for (slot, name) in out.iter_mut().zip(NAMES) {
        let Some(value) = text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        else {
            return Ok(None);
        };
        *slot = value.trim().parse()?;
    }
    Ok(Some(out))
}

/// Where the changes of the run between `before` and `after` spent their
/// time, per change (the namenode's side of an operation's latency).
fn add_change_times(rep: &mut Report, before: Option<[u64; 4]>, after: Option<[u64; 4]>) {
    let (Some(before), Some(after)) = (before, after) else {
        return;
    };
    let changes = after[0].saturating_sub(before[0]).max(1) as f64;
    for (i, what) in [
        (1, "queued"),
        (2, "holding the lock"),
        (3, "waiting for the commit"),
    ] {
        let us = after[i].saturating_sub(before[i]) as f64 / changes;
        rep.add(format!("  per change, {what}"), us, "us", None, None);
    }
}
