//! What an upload holds at the namenode while it runs, and gives back: the
//! write lease, renewed in the background ([`hold`]); the file, abandoned
//! when the upload fails or its future is dropped; a block, abandoned when
//! an attempt at it failed or it was never used.
//!
//! Invariants:
//! - The renewal task ends with the upload (it is aborted when dropped).
//! - Giving back is best effort: a failure is logged, never the upload's
//!   error (the namenode's lease expiry cleans up what is left).
use crate::error::Result;
use crate::namenode::NamenodeClient;
use crate::task::AbortOnDrop;
use dfs_common::ids::{BlockId, FileId};
use dfs_common::proto::client::AbandonBlockRequest;
use std::future::Future;
use std::time::Duration;

/// Runs `write` on the file `file_id` while holding its write lease
/// (renewed every `interval_ms`), and abandons the file when `write` fails
/// (awaited before the error is returned) or is dropped before it ends
/// (in the background). `what` names the write in the log ("upload of /f").
pub(super) async fn hold<T>(
    nn: &NamenodeClient,
    file_id: FileId,
    interval_ms: u64,
    what: String,
    write: impl Future<Output = Result<T>>,
) -> Result<T> {
    let mut abandon = AbandonOnDrop {
        nn: nn.clone(),
        file_id,
        armed: true,
    };
    let _lease = renew_lease_in_background(nn, file_id, interval_ms);
    let result = write.await;
    abandon.armed = false;
    if result.is_err() {
        if let Err(e) = nn.abandon_file(file_id).await {
            log::warn!("could not abandon the failed {what}: {e}");
        }
    }
    result
}

/// Renews the write lease every `interval_ms` until dropped.
fn renew_lease_in_background(
    nn: &NamenodeClient,
    file_id: FileId,
    interval_ms: u64,
) -> Option<AbortOnDrop<()>> {
    if interval_ms == 0 {
        return None;
    }
    let nn = nn.clone();
    let every = Duration::from_millis(interval_ms.max(100));
    Some(AbortOnDrop(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate; `create` just took the lease
        loop {
            ticks.tick().await;
            if let Err(e) = nn.renew_lease(file_id).await {
                log::warn!("renewing the write lease of file {file_id} failed: {e}");
            }
        }
    })))
}

/// Abandons the file if the upload future is dropped before it finished
/// (the explicit error path abandons and awaits instead).
struct AbandonOnDrop {
    nn: NamenodeClient,
    file_id: FileId,
    armed: bool,
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (nn, file_id) = (self.nn.clone(), self.file_id);
            rt.spawn(async move {
                if let Err(e) = nn.abandon_file(file_id).await {
                    log::warn!("could not abandon the cut-off upload of file {file_id}: {e}");
                }
            });
        }
    }
}

pub(super) async fn abandon(nn: &NamenodeClient, file_id: FileId, block_id: BlockId) {
    abandon_block(nn, &AbandonBlockRequest { file_id, block_id }).await;
}

pub(super) async fn abandon_block(nn: &NamenodeClient, req: &AbandonBlockRequest) {
    if let Err(e) = nn.abandon_block(req).await {
        log::warn!("could not abandon block {}: {e}", req.block_id);
    }
}
