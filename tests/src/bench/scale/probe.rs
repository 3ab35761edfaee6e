//! Latency of the namenode's read-only endpoints, probed one after the
//! other at a fixed period (each answer read whole), and the percentiles of
//! what it saw. The load it runs beside is the caller's.
use anyhow::{ensure, Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The endpoints probed: the ones monitoring polls.
pub const ENDPOINTS: [&str; 3] = ["/health", "/metrics", "/api/v1/summary"];

/// Each endpoint's latencies, in milliseconds, in the order probed.
pub type Samples = Vec<(&'static str, Vec<f64>)>;

/// [`probe`] on a thread of its own with its own runtime, so that what it
/// times is the namenode's answer, not its turn among the bench's writer
/// tasks (sharing their runtime added their polls to its latencies).
pub fn spawn(
    url: &str,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<Samples>> {
    let url = url.to_string();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(probe(&url, every, stop))
    })
}

/// GETs every endpoint of [`ENDPOINTS`] in turn, then waits `every`, until
/// `stop`. An answer other than 200 is an error.
pub async fn probe(url: &str, every: Duration, stop: Arc<AtomicBool>) -> Result<Samples> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut out: Samples = ENDPOINTS.iter().map(|e| (*e, Vec::new())).collect();
    while !stop.load(Ordering::Relaxed) {
        for (endpoint, samples) in out.iter_mut() {
            let t = Instant::now();
            let r = http
                .get(format!("{url}{endpoint}"))
                .send()
                .await
                .with_context(|| format!("GET {endpoint}"))?;
            let status = r.status();
            r.bytes().await?;
            samples.push(t.elapsed().as_secs_f64() * 1e3);
            ensure!(status.is_success(), "GET {endpoint}: {status}");
        }
        tokio::time::sleep(every).await;
    }
    Ok(out)
}

/// The `q` quantile (0..=1) of `v` by nearest rank; 0 for no samples.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[3.0], 0.99), 3.0);
        assert_eq!(quantile(&[], 0.99), 0.0);
    }
}
