//! `ClientError`: everything a dfs client call can fail with.
use dfs_common::error::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error (`{"error":{"code","message"}}`).
    #[error("{message}")]
    Remote { status: u16, code: ErrorCode, message: String },
    /// The server could not be reached or the connection broke.
    #[error("{0}")]
    Transport(String),
    /// Local I/O (reading the source, writing the destination).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Data failed verification and no good replica was left.
    #[error("{0}")]
    Corrupt(String),
    /// Bad input caught before any request was sent.
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    /// The error code this stands for (used to pass errors through relays).
    pub fn code(&self) -> ErrorCode {
        match self {
            ClientError::Remote { code, .. } => *code,
            ClientError::Transport(_) => ErrorCode::Unavailable,
            ClientError::Io(_) => ErrorCode::Internal,
            ClientError::Corrupt(_) => ErrorCode::Internal,
            ClientError::Invalid(_) => ErrorCode::BadRequest,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
