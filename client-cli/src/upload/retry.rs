//! The attempts at one block, and when to give up: a block whose pipeline
//! failed is abandoned and written again, whole, on a new pipeline from
//! `add_block` without the failed nodes, while [`decide`] says another
//! pipeline may help.
//!
//! It does not send bytes (that is `attempt`) nor order the blocks of a
//! file (that is `file`).
//!
//! Invariants:
//! - At most [`MAX_BLOCK_ATTEMPTS`] pipelines per block; only datanode
//!   failures that name a node to leave out are retried, and only while the
//!   block's bytes can be had again.
//! - A pipeline shorter than the block needs is given back and refused
//!   before any byte is sent.
//! - A namenode answer is never retried: a 503 (safe mode, too few
//!   datanodes) ends the upload with the namenode's reason
//!   ([`unavailable_context`]).
//! - Each attempt forks the file digest, so only the accepted attempt's
//!   bytes count.
use super::acks::too_few_targets;
use super::attempt::{stream_block, BlockFailure, FailureKind};
use super::input::{BlockSource, Input};
use super::lease::abandon;
use crate::datanode::DatanodeClient;
use crate::error::{ClientError, Result};
use crate::namenode::NamenodeClient;
use crate::progress::Progress;
use dfs_common::checksum::Sha256Hasher;
use dfs_common::error::ErrorCode;
use dfs_common::ids::{BlockId, FileId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{AddBlockRequest, CommittedBlock, LocatedBlock};
use dfs_common::proto::DatanodeInfo;

/// Pipelines tried per block before the upload fails.
pub(crate) const MAX_BLOCK_ATTEMPTS: usize = 4;

/// Where an upload's blocks go, and what it reports progress to.
pub(super) struct Target<'a> {
    pub(super) nn: &'a NamenodeClient,
    pub(super) dn: &'a DatanodeClient,
    pub(super) path: &'a DfsPath,
    pub(super) file_id: FileId,
    pub(super) block_size: u64,
    /// Intact replicas a block needs to count as written.
    pub(super) need: usize,
    pub(super) progress: &'a dyn Progress,
}

impl Target<'_> {
    /// The error that ends the upload at block `index`.
    pub(super) fn failed(&self, index: usize, e: ClientError) -> ClientError {
        e.context(format!(
            "writing block {index} of {} failed (upload abandoned)",
            self.path
        ))
    }
}

/// A 503 from the namenode says it takes no writes now (safe mode, too few
/// datanodes): say so in front of its reason.
pub(super) fn unavailable_context(e: ClientError, path: &DfsPath) -> ClientError {
    if e.code() == ErrorCode::Unavailable && matches!(e, ClientError::Remote { .. }) {
        e.context(format!("cannot write {path} now"))
    } else {
        e
    }
}

/// After a failed attempt: try a new pipeline, or give up (and why, when
/// it is not the failure itself).
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Retry,
    Fail(Option<&'static str>),
}

/// The retry rule: only datanode failures are worth a new pipeline, only
/// when a node to leave out is known, only while the block's bytes can be had
/// again, and at most [`MAX_BLOCK_ATTEMPTS`] pipelines in all.
fn decide(attempt: usize, kind: FailureKind, named_a_node: bool, can_resend: bool) -> Decision {
    match kind {
        FailureKind::Source | FailureKind::NoTarget => Decision::Fail(None),
        FailureKind::Pipeline if !named_a_node => Decision::Fail(None),
        FailureKind::Pipeline if attempt >= MAX_BLOCK_ATTEMPTS => {
            Decision::Fail(Some("every pipeline tried failed"))
        }
        FailureKind::Pipeline if !can_resend => Decision::Fail(Some(
            "the block could not be sent again: its source cannot be re-read and more than 8 MiB of it had gone",
        )),
        FailureKind::Pipeline => Decision::Retry,
    }
}

/// The attempts at one block so far.
pub(super) struct Retries {
    excluded: Vec<DatanodeInfo>,
    /// Whether every attempt so far failed because its datanode was full.
    all_full: bool,
    /// The attempt about to be made, from 1.
    attempt: usize,
}

impl Retries {
    pub(super) fn new() -> Self {
        Retries {
            excluded: Vec::new(),
            all_full: true,
            attempt: 1,
        }
    }

    /// The pipeline for the next attempt, or why there is none. A pipeline
    /// of fewer datanodes than the block needs is given back and refused
    /// before anything is sent: it could never be acknowledged, and the
    /// namenode had no more to offer.
    pub(super) async fn pipeline(
        &self,
        t: &Target<'_>,
        placed: Option<LocatedBlock>,
    ) -> Result<LocatedBlock> {
        let (nn, path, file_id) = (t.nn, t.path, t.file_id);
        let asked = match placed {
            Some(b) => Ok(b),
            None => {
                let exclude = self.excluded.iter().map(|d| d.id).collect();
                nn.add_block(&AddBlockRequest { file_id, exclude }).await
            }
        };
        let located = asked.map_err(|e| self.no_pipeline(path, e))?;
        if located.replicas.len() < t.need {
            abandon(nn, file_id, located.block_id).await;
            let e = too_few_targets(located.replicas.len(), t.need);
            return Err(self.no_pipeline(path, e));
        }
        Ok(located)
    }

    /// Why no pipeline can be had, from the namenode's answer `e`.
    fn no_pipeline(&self, path: &DfsPath, e: ClientError) -> ClientError {
        let excluded = &self.excluded;
        if excluded.is_empty() {
            unavailable_context(e, path)
        } else if self.all_full && e.code() == ErrorCode::Unavailable {
            // Every node left out was out of room: the write failed for
            // want of space, not of datanodes.
            ClientError::Remote {
                status: ErrorCode::NoSpace.http_status(),
                code: ErrorCode::NoSpace,
                message: format!(
                    "no datanode has room for the next block of {path} ({} refused it as full)",
                    addrs(excluded)
                ),
            }
        } else {
            e.context(format!(
                "no other pipeline after {} failed",
                addrs(excluded)
            ))
        }
    }

    /// After attempt `block_id` failed with `f` (and was abandoned): goes
    /// back to the block's start for another pipeline, or gives the error
    /// that ends the upload (see [`decide`]).
    pub(super) async fn failed<I: Input>(
        &mut self,
        block_id: BlockId,
        f: BlockFailure,
        source: &mut BlockSource<'_, I>,
    ) -> Result<()> {
        self.all_full &= f.error.code() == ErrorCode::NoSpace;
        let decision = decide(
            self.attempt,
            f.kind,
            !f.failed.is_empty(),
            source.can_resend(),
        );
        if decision == Decision::Retry {
            if let Err(e) = source.rewind().await {
                return Err(ClientError::from(e).context(format!(
                    "{} (and the source could not be read again)",
                    f.error
                )));
            }
            log::warn!(
                "block {block_id} failed on {} ({}); trying another pipeline",
                addrs(&f.failed),
                f.error
            );
            self.excluded.extend(f.failed);
            self.attempt += 1;
            return Ok(());
        }
        let mut error = f.error;
        if !self.excluded.is_empty() {
            error = error.context(format!("after {} had failed", addrs(&self.excluded)));
        }
        if let Decision::Fail(Some(why)) = decision {
            error = error.context(why);
        }
        Err(error)
    }
}

/// Writes one block, on a new pipeline each time an attempt fails in a way
/// another pipeline may fix (see [`decide`]), going on from `retries`.
pub(super) async fn write_block<I: Input>(
    t: &Target<'_>,
    placed: Option<LocatedBlock>,
    source: &mut BlockSource<'_, I>,
    file_hash: &mut Sha256Hasher,
    mut retries: Retries,
) -> Result<CommittedBlock> {
    let mut placed = placed;
    loop {
        let located = retries.pipeline(t, placed.take()).await?;
        // Fork the file digest: only the accepted attempt's bytes count.
        let mut attempt_hash = file_hash.clone();
        match stream_block(t.dn, &located, t.need, source, &mut attempt_hash).await {
            Ok(block) => {
                *file_hash = attempt_hash;
                return Ok(block);
            }
            Err(f) => {
                abandon(t.nn, t.file_id, located.block_id).await;
                retries.failed(located.block_id, f, source).await?;
            }
        }
    }
}

fn addrs(nodes: &[DatanodeInfo]) -> String {
    nodes
        .iter()
        .map(|d| d.addr.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_rule() {
        use FailureKind::*;
        assert_eq!(decide(1, Pipeline, true, true), Decision::Retry);
        assert_eq!(
            decide(MAX_BLOCK_ATTEMPTS - 1, Pipeline, true, true),
            Decision::Retry
        );
        assert!(matches!(
            decide(MAX_BLOCK_ATTEMPTS, Pipeline, true, true),
            Decision::Fail(Some(_))
        ));
        // The bytes are gone (a plain stream past the replay buffer).
        assert!(matches!(
            decide(1, Pipeline, true, false),
            Decision::Fail(Some(why)) if why.contains("cannot be re-read")
        ));
        // No node to leave out: the same pipeline would fail the same way.
        assert_eq!(decide(1, Pipeline, false, true), Decision::Fail(None));
        // A local read error or no pipeline at all: nothing to retry.
        assert_eq!(decide(1, Source, true, true), Decision::Fail(None));
        assert_eq!(decide(1, NoTarget, false, true), Decision::Fail(None));
    }
}
