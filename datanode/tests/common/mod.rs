//! Helpers the datanode's integration tests share.
use std::time::Duration;

/// Polls until `f` holds, up to 10 s (tests wait on progress, not fixed
/// sleeps).
pub async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}
