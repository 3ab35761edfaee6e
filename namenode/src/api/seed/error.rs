//! How a seed endpoint fails. [`SeedError`] builds no body of its own: it
//! answers through the namenode's [`ApiError`], and so through
//! `dfs_http::error`, in the contract's shape (CONTRACT, seed endpoints).
use crate::api::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use dfs_client::ClientError;
use dfs_common::error::ErrorCode;
use std::fmt;

/// A seed endpoint's error: a relayed `ClientError` or a bad parameter. It
/// becomes `{"error":{"code","message"}}` with the code's status through
/// [`ApiError`], like every other error of the namenode.
#[derive(Debug)]
pub(super) struct SeedError {
    pub(super) code: ErrorCode,
    pub(super) message: String,
}

impl SeedError {
    pub(super) fn bad(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::BadRequest,
            message: message.into(),
        }
    }

    fn api(&self) -> ApiError {
        ApiError::new(self.code, self.message.clone())
    }
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ClientError> for SeedError {
    fn from(e: ClientError) -> Self {
        Self {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Answered through the namenode's one error-to-HTTP conversion.
impl ResponseError for SeedError {
    fn status_code(&self) -> StatusCode {
        self.api().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.api().error_response()
    }
}

pub(super) type SeedResult = Result<HttpResponse, SeedError>;
