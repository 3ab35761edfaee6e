//! The namenode holding many files (1,000,000 in a full run): the rate of
//! bulk creates, its resident memory while and after, and how long a
//! restart takes until `/health` answers and until the namespace lists.
//! Ends with [`super::backup`] at the same file count.
use super::parallel::parallel;
use super::process::{proc_rss, reset_peak};
use super::report::Report;
use super::Sizes;
use super::MIB;
use crate::cluster::TestCluster;
use crate::data::p;
use crate::wait::poll_until;
use anyhow::{ensure, Context, Result};
use dfs_client::DfsClient;
use dfs_common::checksum::Sha256Digest;
use dfs_common::proto::client::{CompleteRequest, CreateRequest};
use dfs_common::units::human_bytes;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn measure(rep: &mut Report, cluster: &mut TestCluster, s: &Sizes) -> Result<()> {
    let n = s.namespace_files;
    let per_dir = 1000usize;
    let dirs = n.div_ceil(per_dir);
    let client = cluster.client();
    // Directories first (so that the creates don't race to make them).
    let url = cluster.namenode_url();
    parallel(&url, dirs, 16, |c, d| async move {
        c.mkdirs(&p(&format!("/ns/d{d:04}")), true).await?;
        Ok(())
    })
    .await?;
    let nn_pid = cluster.namenode_pid().context("no namenode")?;
    reset_peak(nn_pid);
    let (_, rss_before) = proc_rss(nn_pid);
    let done = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let d = done.load(Ordering::Relaxed);
                let (_, rss) = proc_rss(nn_pid);
                println!(
                    "    ... {d}/{n} files, {:.0}/s, namenode RSS {}",
                    d as f64 / t.elapsed().as_secs_f64(),
                    human_bytes(rss)
                );
            }
        })
    };
    // 128 create+complete of empty files in flight (8 tasks x 16 each).
    let tasks = 8usize;
    let per_task = 16usize;
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let c = DfsClient::new(&url)?;
        let next = next.clone();
        let done = done.clone();
        handles.push(tokio::spawn(async move {
            let work = futures_util::stream::iter(std::iter::from_fn(|| {
                let i = next.fetch_add(1, Ordering::Relaxed);
                (i < n).then_some(i)
            }))
            .map(|i| {
                let c = c.clone();
                let done = done.clone();
                async move {
                    let path = p(&format!("/ns/d{:04}/f{:04}", i / per_dir, i % per_dir));
                    let nn = c.namenode();
                    let created = nn
                        .create(&CreateRequest {
                            path: path.clone(),
                            overwrite: false,
                            replication: None,
                            block_size: None,
                            create_parent: false,
                            owner: None,
                            permission: None,
                            first_block: false,
                        })
                        .await
                        .with_context(|| format!("create {path}"))?;
                    nn.complete(&CompleteRequest {
                        file_id: created.file_id,
                        blocks: Vec::new(),
                        length: 0,
                        sha256: Sha256Digest::empty(),
                        sha256_state: None,
                        xattrs: None,
                    })
                    .await
                    .with_context(|| format!("complete {path}"))?;
                    done.fetch_add(1, Ordering::Relaxed);
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(per_task);
            futures_util::pin_mut!(work);
            while let Some(r) = work.next().await {
                r?;
            }
            anyhow::Ok(())
        }));
    }
    let mut first_err = None;
    for h in handles {
        if let Err(e) = h.await? {
            first_err.get_or_insert(e);
        }
    }
    progress.abort();
    if let Some(e) = first_err {
        return Err(e);
    }
    let secs = t.elapsed().as_secs_f64();
    rep.add(
        format!("files created (empty, 128 in flight, {n})"),
        n as f64 / secs,
        "ops/s",
        None,
        None,
    );
    let summary = client.content_summary(&p("/ns")).await?;
    ensure!(
        summary.file_count as usize == n,
        "/ns holds {} files, not {n}",
        summary.file_count
    );
    let (hwm, rss) = proc_rss(nn_pid);
    let gib = Some((1024.0, "budget 1 GiB"));
    rep.add(
        format!("namenode RSS holding {n} files"),
        rss as f64 / MIB as f64,
        "MiB",
        gib,
        Some("< 1024 MiB"),
    );
    rep.add(
        "namenode peak RSS during the bulk create",
        hwm as f64 / MIB as f64,
        "MiB",
        gib,
        None,
    );
    println!("    (namenode RSS before: {})", human_bytes(rss_before));

    // Restart: SIGTERM, start, time until /health answers and the namespace
    // is listable.
    cluster.stop_namenode();
    let t = Instant::now();
    cluster.start_namenode();
    let http = reqwest::Client::builder().no_proxy().build()?;
    let health = format!("{url}/health");
    // Polled every 10 ms: these waits are the figures.
    let every = Duration::from_millis(10);
    let limit = Duration::from_secs(600);
    poll_until("the restarted namenode's /health", limit, every, || async {
        let r = http.get(&health).send().await?;
        Ok(r.status().is_success().then_some(()))
    })
    .await?;
    let to_health = t.elapsed().as_secs_f64();
    let last = p(&format!("/ns/d{:04}", (n - 1) / per_dir));
    poll_until("the restarted namespace to list", limit, every, || async {
        let top = client.list(&p("/ns")).await?;
        let inner = client.list(&last).await?;
        Ok((top.len() == dirs && !inner.is_empty()).then_some(()))
    })
    .await?;
    let to_list = t.elapsed().as_secs_f64();
    let pid = cluster.namenode_pid().context("no namenode")?;
    let (hwm, rss) = proc_rss(pid);
    rep.add(
        format!("namenode restart with {n} files: /health"),
        to_health,
        "s",
        Some((10.0, "budget 10 s")),
        None,
    );
    rep.add(
        format!("namenode restart with {n} files: listable"),
        to_list,
        "s",
        Some((10.0, "budget 10 s")),
        Some("< 10 s"),
    );
    rep.add(
        "namenode RSS after restart",
        rss as f64 / MIB as f64,
        "MiB",
        gib,
        Some("< 1024 MiB"),
    );
    rep.add(
        "namenode peak RSS during restart",
        hwm as f64 / MIB as f64,
        "MiB",
        gib,
        None,
    );
    let st = client
        .status(&p(&format!(
            "/ns/d{:04}/f{:04}",
            (n - 1) / per_dir,
            (n - 1) % per_dir
        )))
        .await?;
    ensure!(st.length == 0, "last file after restart: {st:?}");
    cluster.wait_live(cluster.opts.datanodes).await;
    super::backup::measure(rep, cluster, n).await
}
