//! `ClientError`: everything a dfs client call can fail with, and the one
//! place that turns an HTTP error answer or a `reqwest` failure into one.
//!
//! Messages are written for a human reading `dfs: <message>`: they name the
//! server (namenode or datanode, with its URL) and the root cause, not the
//! whole `reqwest` error chain.
use dfs_common::error::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error (`{"error":{"code","message"}}`).
    #[error("{message}")]
    Remote {
        status: u16,
        code: ErrorCode,
        message: String,
    },
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

    /// The error an HTTP answer with a non-2xx `status` and this `body` stands
    /// for: the `ErrorBody` when it is one, else the code the status implies
    /// and the body text (or the status itself when the body is empty).
    pub fn from_error_answer(status: u16, body: &[u8]) -> ClientError {
        if let Ok(b) = serde_json::from_slice::<ErrorBody>(body) {
            return ClientError::Remote {
                status,
                code: b.error.code,
                message: b.error.message,
            };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message = if text.is_empty() {
            format!("HTTP status {status}")
        } else {
            // Keep a stray HTML page or stack trace from flooding a terminal.
            let mut shown: String = text.chars().take(300).collect();
            if shown.len() < text.len() {
                shown.push_str("...");
            }
            format!("HTTP status {status}: {shown}")
        };
        ClientError::Remote {
            status,
            code: ErrorCode::from_status(status),
            message,
        }
    }

    /// A `reqwest` failure talking to `what` (e.g. "namenode at http://..").
    pub(crate) fn transport(what: &str, e: &reqwest::Error) -> ClientError {
        let mut cause = root_cause(e);
        if cause.contains("certificate") {
            // A TLS handshake refused: most often a CA not trusted.
            cause.push_str(&format!(
                " (is {} the cluster's CA certificate?)",
                CA_FILE_ENV
            ));
        }
        let message = if e.is_connect() {
            format!("cannot reach {what}: {cause}")
        } else if e.is_timeout() {
            format!("{what} did not answer in time")
        } else if e.is_decode() {
            format!("{what} sent an answer that could not be read: {cause}")
        } else {
            format!("connection to {what} failed: {cause}")
        };
        ClientError::Transport(message)
    }

    /// Prefixes the message with some context (keeps the variant and code).
    pub(crate) fn context(self, ctx: impl std::fmt::Display) -> ClientError {
        match self {
            ClientError::Remote {
                status,
                code,
                message,
            } => ClientError::Remote {
                status,
                code,
                message: format!("{ctx}: {message}"),
            },
            ClientError::Transport(m) => ClientError::Transport(format!("{ctx}: {m}")),
            ClientError::Io(e) => {
                ClientError::Io(std::io::Error::new(e.kind(), format!("{ctx}: {e}")))
            }
            ClientError::Corrupt(m) => ClientError::Corrupt(format!("{ctx}: {m}")),
            ClientError::Invalid(m) => ClientError::Invalid(format!("{ctx}: {m}")),
        }
    }
}

/// The environment variable the `dfs` command (and any client without a
/// trust of its own) reads its CA file from (`crate::tls` reads it; here
/// so that an error can name it).
pub const CA_FILE_ENV: &str = "DFS_CA_FILE";

/// The innermost error's text ("Connection refused (os error 111)"), which is
/// what a human needs; the outer layers only repeat the URL.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_parsed() {
        let body = br#"{"error":{"code":"not_found","message":"/x does not exist"}}"#;
        match ClientError::from_error_answer(404, body) {
            ClientError::Remote {
                status,
                code,
                message,
            } => {
                assert_eq!(status, 404);
                assert_eq!(code, ErrorCode::NotFound);
                assert_eq!(message, "/x does not exist");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_error_body_falls_back_to_status() {
        let e = ClientError::from_error_answer(409, b"already there\n");
        assert_eq!(e.code(), ErrorCode::Conflict);
        assert_eq!(e.to_string(), "HTTP status 409: already there");
        let e = ClientError::from_error_answer(502, b"");
        assert_eq!(e.code(), ErrorCode::Internal);
        assert_eq!(e.to_string(), "HTTP status 502");
        // JSON that is not an ErrorBody is shown as text.
        let e = ClientError::from_error_answer(400, br#"{"oops":1}"#);
        assert_eq!(e.code(), ErrorCode::BadRequest);
        assert!(e.to_string().contains("oops"));
        let long = "x".repeat(1000);
        let e = ClientError::from_error_answer(500, long.as_bytes());
        assert!(e.to_string().len() < 400);
    }

    #[test]
    fn context_keeps_the_code() {
        let e = ClientError::from_error_answer(
            507,
            br#"{"error":{"code":"no_space","message":"full"}}"#,
        );
        let e = e.context("block 0 of /a");
        assert_eq!(e.code(), ErrorCode::NoSpace);
        assert_eq!(e.to_string(), "block 0 of /a: full");
    }
}
