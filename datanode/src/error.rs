//! `DatanodeError`: the one error type of the crate. Domain modules return it;
//! [`crate::api`] alone turns it into an HTTP answer (status + `ErrorBody`).
//!
//! No HTTP in here: only what went wrong, and [`DatanodeError::code`], the
//! wire code it stands for; and [`error_chain`], which puts an error and its
//! causes on one log line.
use dfs_common::error::ErrorCode;
use dfs_common::ids::BlockId;

#[derive(Debug, thiserror::Error)]
pub enum DatanodeError {
    #[error("block {0} is not on this datanode")]
    NotFound(BlockId),
    /// The index listed the replica but its data file is gone from disk
    /// (removed behind our back). The store has dropped it from the index;
    /// whoever sees this reports the replica deleted.
    #[error("block {0} vanished from this datanode's disk")]
    Vanished(BlockId),
    #[error("{0}")]
    BadRequest(String),
    /// No valid block access token (access control on): 403.
    #[error("{0}")]
    Forbidden(String),
    /// A request for a route this datanode does not have.
    #[error("{0}")]
    NoRoute(String),
    #[error("block of {len} bytes or more refused (the limit is {limit} bytes)")]
    TooLarge { len: u64, limit: u64 },
    /// The bytes received do not match what the writer promised.
    #[error("block {id}: {detail}")]
    ChecksumMismatch { id: BlockId, detail: String },
    /// A stored replica failed verification (it is quarantined by the caller).
    #[error("replica of block {id} is corrupt: {detail}")]
    Corrupt { id: BlockId, detail: String },
    #[error("block {0} already exists with different content")]
    Conflict(BlockId),
    #[error("no space: {0}")]
    NoSpace(String),
    /// The request body ended early or failed.
    #[error("request body failed: {0}")]
    Body(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration: {0}")]
    Config(String),
    #[error("node identity: {0}")]
    Identity(String),
    /// Too many data dirs failed (`--max-failed-disks`): the node stopped.
    #[error("{0}")]
    DisksFailed(String),
    #[error("{0}")]
    Internal(String),
}

impl DatanodeError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DatanodeError::Io {
            context: context.into(),
            source,
        }
    }

    /// The wire code this error stands for.
    pub fn code(&self) -> ErrorCode {
        match self {
            DatanodeError::NotFound(_) | DatanodeError::Vanished(_) | DatanodeError::NoRoute(_) => {
                ErrorCode::NotFound
            }
            DatanodeError::BadRequest(_)
            | DatanodeError::TooLarge { .. }
            | DatanodeError::Body(_) => ErrorCode::BadRequest,
            DatanodeError::ChecksumMismatch { .. } => ErrorCode::ChecksumMismatch,
            DatanodeError::Conflict(_) => ErrorCode::Conflict,
            DatanodeError::Forbidden(_) => ErrorCode::Forbidden,
            DatanodeError::NoSpace(_) => ErrorCode::NoSpace,
            // The disk itself is full (ENOSPC, EDQUOT): the same answer as
            // a full `--capacity`, so writers place the block elsewhere.
            DatanodeError::Io { source, .. }
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                ) =>
            {
                ErrorCode::NoSpace
            }
            DatanodeError::Corrupt { .. }
            | DatanodeError::Io { .. }
            | DatanodeError::Config(_)
            | DatanodeError::Identity(_)
            | DatanodeError::DisksFailed(_)
            | DatanodeError::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// A `spawn_blocking` task that panicked or was cancelled.
impl From<tokio::task::JoinError> for DatanodeError {
    fn from(e: tokio::task::JoinError) -> Self {
        DatanodeError::Internal(format!("background I/O task failed: {e}"))
    }
}

pub use dfs_common::error::error_chain;

pub type Result<T, E = DatanodeError> = std::result::Result<T, E>;
