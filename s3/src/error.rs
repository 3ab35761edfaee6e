//! S3's errors: a code from S3's list (`NoSuchKey`, `SignatureDoesNotMatch`,
//! ...), its HTTP status, and a message, answered as S3's XML error body
//! (`<Error><Code>…</Code><Message>…</Message><Resource>…</Resource>
//! <RequestId>…</RequestId></Error>`). HEAD answers carry no body, so the
//! code also goes in `x-amz-error-code` (what SDKs read there).
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use dfs_client::ClientError;
use dfs_common::error::ErrorCode;

/// One S3 error: `code` is S3's name for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct S3Error {
    pub code: &'static str,
    pub status: StatusCode,
    pub message: String,
}

pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    pub fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        S3Error {
            code,
            status,
            message: message.into(),
        }
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDenied", StatusCode::FORBIDDEN, message)
    }
    pub fn signature_mismatch(message: impl Into<String>) -> Self {
        Self::new("SignatureDoesNotMatch", StatusCode::FORBIDDEN, message)
    }
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new("InvalidArgument", StatusCode::BAD_REQUEST, message)
    }
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("InvalidRequest", StatusCode::BAD_REQUEST, message)
    }
    pub fn malformed_xml(message: impl Into<String>) -> Self {
        Self::new("MalformedXML", StatusCode::BAD_REQUEST, message)
    }
    pub fn bad_digest(message: impl Into<String>) -> Self {
        Self::new("BadDigest", StatusCode::BAD_REQUEST, message)
    }
    pub fn incomplete_body(message: impl Into<String>) -> Self {
        Self::new("IncompleteBody", StatusCode::BAD_REQUEST, message)
    }
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new("NotImplemented", StatusCode::NOT_IMPLEMENTED, message)
    }
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(
            "NoSuchBucket",
            StatusCode::NOT_FOUND,
            format!("the bucket {bucket:?} does not exist"),
        )
    }
    pub fn no_such_key(key: &str) -> Self {
        Self::new(
            "NoSuchKey",
            StatusCode::NOT_FOUND,
            format!("the key {key:?} does not exist"),
        )
    }
    pub fn no_such_upload(id: &str) -> Self {
        Self::new(
            "NoSuchUpload",
            StatusCode::NOT_FOUND,
            format!("the multipart upload {id:?} does not exist (aborted or completed?)"),
        )
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalError", StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The XML body, for the request on `resource` (the path asked for).
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{}</RequestId></Error>",
            self.code,
            escape(&self.message),
            escape(resource),
            escape(request_id)
        )
    }

    /// The `<Error>` element alone, for an error inside an answer that
    /// already started (a long CompleteMultipartUpload).
    pub fn to_xml_fragment(&self) -> String {
        format!(
            "<Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            escape(&self.message)
        )
    }

    /// The answer: XML body (none for HEAD), `x-amz-error-code`.
    pub fn response(&self, resource: &str, request_id: &str, head: bool) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        r.insert_header(("x-amz-error-code", self.code))
            .insert_header(("x-amz-request-id", request_id.to_string()));
        if head {
            r.finish()
        } else {
            r.content_type("application/xml")
                .body(self.to_xml(resource, request_id))
        }
    }
}

/// XML text escaping (`&`, `<`, `>`, quotes) for the few hand-made bodies.
pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// A dfs error, as S3 names it (`what` is the key or bucket it was about,
/// for the missing cases).
pub fn from_client(e: ClientError, what: &str) -> S3Error {
    let code = e.code();
    let message = e.to_string();
    match code {
        ErrorCode::NotFound => S3Error::no_such_key(what),
        ErrorCode::Forbidden | ErrorCode::Unauthorized => S3Error::access_denied(message),
        ErrorCode::QuotaExceeded => S3Error::new("QuotaExceeded", StatusCode::FORBIDDEN, message),
        ErrorCode::BadRequest => S3Error::invalid_argument(message),
        ErrorCode::Conflict => S3Error::new("OperationAborted", StatusCode::CONFLICT, message),
        ErrorCode::ChecksumMismatch => S3Error::bad_digest(message),
        ErrorCode::PayloadTooLarge => {
            S3Error::new("EntityTooLarge", StatusCode::BAD_REQUEST, message)
        }
        ErrorCode::TooManyRequests => {
            S3Error::new("SlowDown", StatusCode::SERVICE_UNAVAILABLE, message)
        }
        ErrorCode::NoSpace | ErrorCode::Unavailable => S3Error::new(
            "ServiceUnavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            message,
        ),
        ErrorCode::Internal => S3Error::internal(message),
    }
}
