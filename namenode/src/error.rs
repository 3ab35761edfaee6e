//! `NamenodeError`: the namenode's domain errors, one enum for the crate.
//!
//! No HTTP in here: `api/error.rs` is the one place that turns these into a
//! status and an `ErrorBody`. Every variant carries a complete, user-facing
//! message (it names the path or id involved), so callers never need to add
//! context to say what went wrong.

/// A domain error. The variant picks the HTTP status (see `api/error.rs`);
/// the message is what the user reads.
/// Serializable: a command's failure is part of its outcome in the Raft
/// log's responses (`crate::raft::Applied`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum NamenodeError {
    /// 404: no such file, directory, block or write in progress.
    #[error("{0}")]
    NotFound(String),
    /// 409: something already exists where it would be created.
    #[error("{0}")]
    AlreadyExists(String),
    /// 409: a directory that must be empty is not.
    #[error("{0}")]
    NotEmpty(String),
    /// 409: a path component that must be a directory is a file.
    #[error("{0}")]
    NotADirectory(String),
    /// 409: a file operation was aimed at a directory.
    #[error("{0}")]
    IsADirectory(String),
    /// 409: another writer holds the path (an under-construction file).
    #[error("{0}")]
    LeaseHeld(String),
    /// 409: any other conflict with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 403: the caller may not do this (permission bits, access control
    /// on).
    #[error("{0}")]
    PermissionDenied(String),
    /// 400: a request that can never succeed as written.
    #[error("{0}")]
    InvalidArgument(String),
    /// 503: no live datanode can take a block.
    #[error("{0}")]
    NoLiveDatanodes(String),
    /// 503: the namenode is in safe mode (the message says why and how it
    /// ends).
    #[error("{0}")]
    SafeMode(String),
    /// 503: the namenodes cannot take the change now (no leader, or no
    /// quorum); another namenode, or a retry, may.
    #[error("{0}")]
    Unavailable(String),
    /// 507: live datanodes exist but none has room.
    #[error("{0}")]
    NoSpace(String),
    /// 403: a directory's name quota (files and directories) would be
    /// exceeded (`quota_exceeded`; WebHDFS NSQuotaExceededException).
    #[error("{0}")]
    NameQuotaExceeded(String),
    /// 403: a directory's space quota (bytes × replication) would be
    /// exceeded (`quota_exceeded`; WebHDFS DSQuotaExceededException).
    #[error("{0}")]
    SpaceQuotaExceeded(String),
    /// 500: a bug or a metadata store failure.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = NamenodeError> = std::result::Result<T, E>;

impl NamenodeError {
    pub fn not_found(path: impl std::fmt::Display) -> Self {
        NamenodeError::NotFound(format!("{path} does not exist"))
    }
}
