//! Many clients at once: run one operation `n` times spread over `tasks`
//! tokio tasks, each with a `DfsClient` (connections) of its own, and
//! report operations per second. The load generator of the small-file,
//! metadata and namespace parts.
use anyhow::Result;
use dfs_client::DfsClient;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Runs `f(client, i)` for i in 0..n on `tasks` tokio tasks, each with its
/// own `DfsClient` (its own connections). Returns ops per second.
pub async fn parallel<F, Fut>(url: &str, n: usize, tasks: usize, f: F) -> Result<f64>
where
    F: Fn(DfsClient, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<DfsClient> = (0..tasks)
        .map(|_| DfsClient::new(url))
        .collect::<std::result::Result<_, _>>()?;
    let t = Instant::now();
    let mut handles = Vec::new();
    for client in clients {
        let f = f.clone();
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                f(client.clone(), i).await?;
            }
        }));
    }
    let mut first_err = None;
    for h in handles {
        if let Err(e) = h.await? {
            first_err.get_or_insert(e);
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}
