//! The namenodes' consensus (issue 18): the namespace's command log
//! replicated with openraft 0.9 (`../shared/design/HA.md`).
//!
//! Pieces, one file each:
//! - [`log_store`]: the Raft log and the vote, kept in a journal of their
//!   own under `<data-dir>/raft/` (the metadata journal's files, group
//!   commit and compaction; see `meta_store`), and in memory;
//! - [`state_machine`]: the namesystem seen by openraft: committed entries
//!   go to `Namespace::apply`, snapshots are checkpoints of the metadata
//!   store, streamed from and to files.
//!
//! Invariants:
//! - an entry, a truncation or a purge reaches the log's journal in the
//!   order openraft asked for it (one committer), and openraft is told an
//!   append is flushed only once its group is synced; a vote is synced
//!   before `save_vote` returns;
//! - the state machine records the last applied log id and membership in
//!   the same transaction as the changes of the entries it applied, so its
//!   state and what it says it holds never disagree; that transaction is
//!   not awaited (the log holds the entries: a start re-applies what the
//!   metadata store lost, from the committed id the log keeps);
//! - the metadata store may be ahead of the log after a crash (openraft
//!   then purges the log up to what was applied), never out of step with
//!   it in any other way.
// openraft's traits return its `StorageError` (200-odd bytes); the helpers
// that build one for them return it too.
#![allow(clippy::result_large_err)]

pub mod group;
pub mod log_store;
pub mod membership;
pub mod network;
pub mod state_machine;

#[cfg(test)]
mod tests;

use crate::commands::{Entry, Outcome};
use crate::error::NamenodeError;

/// What applying one entry gives its proposer: the command's outcome, or
/// why it failed (a failed command changes nothing, on every replica).
pub type Applied = std::result::Result<Outcome, NamenodeError>;

openraft::declare_raft_types!(
    /// The namenodes' Raft types: a batch of commands in (applied in
    /// order), their outcomes out, nodes named by a number with their HTTP
    /// address, snapshots in files.
    pub TypeConfig:
        D = Vec<Entry>,
        R = Vec<Applied>,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A namenode's Raft.
pub type Raft = openraft::Raft<TypeConfig>;
/// An entry of the Raft log.
pub type LogEntry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<u64>;
pub type Vote = openraft::Vote<u64>;
pub type StoredMembership = openraft::StoredMembership<u64, openraft::BasicNode>;
pub type StorageError = openraft::StorageError<u64>;

/// An error of the log's or the state machine's storage, as openraft
/// takes it (`what` names the step: a raft-log write, a snapshot read).
fn storage_error(what: &str, e: impl std::fmt::Display) -> StorageError {
    openraft::StorageIOError::<u64>::write(openraft::AnyError::error(format!("{what}: {e}"))).into()
}
