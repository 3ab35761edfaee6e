//! `dfs backup`: streams `GET /api/v1/checkpoint` to a writer while a thread
//! of its own checks it with the checkpoint reader
//! (`dfs_common::checkpoint`), so a backup that was cut off or damaged on
//! the way is an error, never a file that only looks like a backup.
//!
//! Invariants: every byte written to `out` also went through the checker;
//! `Ok` means the whole checkpoint arrived and its trailer matched.
use crate::error::{ClientError, Result};
use bytes::Bytes;
use dfs_common::checkpoint::{self, CheckpointError, Summary};
use futures_util::StreamExt;
use std::io::Read;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Pieces queued between the download and the checker.
const QUEUE: usize = 16;

/// `Read` over the pieces the download hands over.
struct Pieces {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Writes the checkpoint in `resp` to `out`, checked as it goes.
pub(crate) async fn save(
    resp: reqwest::Response,
    out: &mut (impl AsyncWrite + Unpin),
) -> Result<Summary> {
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    let checker = std::thread::Builder::new()
        .name("backup-check".into())
        .spawn(move || {
            let mut input = Pieces {
                rx,
                current: Bytes::new(),
            };
            let r = checkpoint::read(&mut input, |_| Ok::<(), CheckpointError>(()));
            // Drain, so the sender never blocks on a checker that stopped early.
            let mut sink = [0u8; 64 * 1024];
            while matches!(input.read(&mut sink), Ok(n) if n > 0) {}
            r
        })
        .map_err(ClientError::Io)?;
    let mut body = resp.bytes_stream();
    let mut failed = None;
    while let Some(piece) = body.next().await {
        let piece = match piece {
            Ok(p) => p,
            Err(e) => {
                failed = Some(ClientError::Transport(format!(
                    "the checkpoint download broke off: {e}"
                )));
                break;
            }
        };
        if let Err(e) = out.write_all(&piece).await {
            failed = Some(ClientError::Io(e));
            break;
        }
        if tx.send(piece).await.is_err() {
            break;
        }
    }
    drop(tx);
    out.flush().await?;
    let checked = tokio::task::spawn_blocking(move || checker.join())
        .await
        .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))?
        .map_err(|_| ClientError::Io(std::io::Error::other("the checkpoint checker panicked")))?;
    if let Some(e) = failed {
        return Err(e);
    }
    checked.map_err(|e| {
        ClientError::Corrupt(format!(
            "the checkpoint received is not usable, so this backup must not be kept: {e}"
        ))
    })
}
