//! `ApiError`: the one place where errors become HTTP answers. Every handler
//! returns `Result<_, ApiError>`; a [`NamenodeError`] converts into it, and so
//! do the extractor failures (malformed JSON, bad query, bad path) through
//! the handlers installed by `api::configure`. The body is always
//! `dfs_common::error::ErrorBody`. 5xx are logged at `error!`, 4xx at `info!`.
use crate::error::NamenodeError;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use dfs_common::error::ErrorCode;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// This namenode cannot serve now, another may (no leader known): the
    /// answer carries [`dfs_common::proto::client::STANDBY_HEADER`].
    pub standby: bool,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            standby: false,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<NamenodeError> for ApiError {
    fn from(e: NamenodeError) -> Self {
        let code = match &e {
            NamenodeError::NotFound(_) => ErrorCode::NotFound,
            NamenodeError::AlreadyExists(_)
            | NamenodeError::NotEmpty(_)
            | NamenodeError::NotADirectory(_)
            | NamenodeError::IsADirectory(_)
            | NamenodeError::LeaseHeld(_)
            | NamenodeError::Conflict(_) => ErrorCode::Conflict,
            NamenodeError::InvalidArgument(_) => ErrorCode::BadRequest,
            NamenodeError::PermissionDenied(_) => ErrorCode::Forbidden,
            NamenodeError::NameQuotaExceeded(_) | NamenodeError::SpaceQuotaExceeded(_) => {
                ErrorCode::QuotaExceeded
            }
            NamenodeError::NoLiveDatanodes(_)
            | NamenodeError::SafeMode(_)
            | NamenodeError::Unavailable(_) => ErrorCode::Unavailable,
            NamenodeError::NoSpace(_) => ErrorCode::NoSpace,
            NamenodeError::Internal(_) => ErrorCode::Internal,
        };
        let standby = matches!(e, NamenodeError::Unavailable(_));
        ApiError {
            standby,
            ..ApiError::new(code, e.to_string())
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut r =
            dfs_http::error::contract_answer(self.status_code(), self.code, self.message.clone());
        if self.standby {
            r.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static(
                    dfs_common::proto::client::STANDBY_HEADER,
                ),
                actix_web::http::header::HeaderValue::from_static("1"),
            );
        }
        r
    }
}

pub fn json_error(err: JsonPayloadError, req: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("JSON body too large for {}: {err}", req.path()),
            )
            .into()
        }
        _ => ApiError::bad_request(format!("bad JSON body for {}: {err}", req.path())).into(),
    }
}

pub fn query_error(err: QueryPayloadError, req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("bad query for {}: {err}", req.path())).into()
}

pub fn form_error(err: UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    match err {
        UrlencodedError::Overflow { .. } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("form body too large for {}: {err}", req.path()),
        )
        .into(),
        _ => ApiError::bad_request(format!("bad form body for {}: {err}", req.path())).into(),
    }
}

pub fn path_error(err: PathError, req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("bad path {}: {err}", req.path())).into()
}

/// Unknown routes.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        format!("no such endpoint: {} {}", req.method(), req.path()),
    ))
}
