//! Waiting on observable state: poll a check until it holds or a timeout
//! passes, never a fixed sleep; or check that something stays true for a
//! while. The one wait loop of the tests and benches.
use anyhow::{bail, Result};
use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 100 ms until it returns `Ok(Some(v))`, or fails
/// after `timeout` with the last error seen.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    poll_until(what, timeout, Duration::from_millis(100), check).await
}

/// [`wait_until`], polling every `every`: for waits that are themselves
/// measured (the benches time a restart to 10 ms), where 100 ms steps would
/// be much of the figure.
pub async fn poll_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    let mut last = String::from("condition not yet true");
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(every).await;
    }
}

/// Checks `check` every 200 ms for `dur` (something that must stay true for
/// a while: nothing deleted, nothing changed); fails at the first error.
pub async fn holds_for<F, Fut>(what: &str, dur: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let start = Instant::now();
    while start.elapsed() < dur {
        if let Err(e) = check().await {
            bail!("{what} stopped holding after {:?}: {e:#}", start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
