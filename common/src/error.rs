//! The wire shape of errors outside WebHDFS:
//! `{"error": {"code": "...", "message": "..."}}`, and the status each code maps to.
use serde::{Deserialize, Serialize};
use std::fmt;

/// Machine-readable error codes. Each has one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed request, bad path, bad parameter.
    BadRequest,
    /// 401: no credentials, or credentials that are not valid (access
    /// control on).
    Unauthorized,
    /// 403: authenticated, but not allowed (permission bits, a missing or
    /// expired block access token).
    Forbidden,
    /// 404: no such file or directory (or block).
    NotFound,
    /// 409: exists already, not empty, is a directory / not a directory, lease held.
    Conflict,
    /// 412: a precondition such as an expected checksum failed.
    ChecksumMismatch,
    /// 507: no datanode has room.
    NoSpace,
    /// 503: not enough datanodes, or safe mode.
    Unavailable,
    /// 500: a bug or an I/O failure on the server.
    Internal,
    /// 413: a request body (or its declared `Content-Length`) over the limit.
    PayloadTooLarge,
    /// 429: this client has too many streams open at once.
    TooManyRequests,
    /// 403: a directory's name or space quota would be exceeded.
    QuotaExceeded,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::ChecksumMismatch => 412,
            ErrorCode::NoSpace => 507,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::QuotaExceeded => 403,
        }
    }

    /// The code a bare status stands for (for answers without a JSON body).
    pub fn from_status(status: u16) -> Self {
        match status {
            400 | 405 | 411 | 414 | 415 | 422 => ErrorCode::BadRequest,
            413 => ErrorCode::PayloadTooLarge,
            429 => ErrorCode::TooManyRequests,
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            409 => ErrorCode::Conflict,
            412 => ErrorCode::ChecksumMismatch,
            507 => ErrorCode::NoSpace,
            503 => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        f.write_str(&s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

/// `{"error": {"code": "...", "message": "..."}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

/// An error and its causes on one line (reqwest hides the useful part in
/// `source()`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let b = ErrorBody::new(ErrorCode::NotFound, "/x does not exist");
        let j = serde_json::to_value(&b).unwrap();
        assert_eq!(j["error"]["code"], "not_found");
        assert_eq!(j["error"]["message"], "/x does not exist");
        assert_eq!(ErrorCode::NoSpace.http_status(), 507);
        assert_eq!(ErrorCode::from_status(409), ErrorCode::Conflict);
        assert_eq!(ErrorCode::Unavailable.to_string(), "unavailable");
    }
}
