//! The one decision of which error body an answer gets, and how an error
//! answer is logged: Hadoop's `RemoteException` under `/webhdfs/v1` (what
//! WebHDFS clients parse), the contract's `{"error":{"code","message"}}`
//! everywhere else. The shapes themselves are `dfs_common`'s.
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use dfs_common::error::{ErrorBody, ErrorCode};
use dfs_common::proto::webhdfs::{Exception, PREFIX as WEBHDFS_PREFIX};

/// The contract's error answer, `{"error":{"code","message"}}`, logged.
pub fn contract_answer(status: StatusCode, code: ErrorCode, message: String) -> HttpResponse {
    log_error_answer("request", status, &message);
    HttpResponse::build(status).json(ErrorBody::new(code, message))
}

/// A WebHDFS error answer, Hadoop's `RemoteException`, logged.
pub fn webhdfs_answer(status: StatusCode, exception: Exception, message: String) -> HttpResponse {
    log_error_answer("webhdfs request", status, &message);
    HttpResponse::build(status).json(exception.body(message))
}

/// Whether `path` is under `/webhdfs/v1` (its clients parse only
/// `RemoteException`).
pub fn is_webhdfs(path: &str) -> bool {
    path == WEBHDFS_PREFIX || path.starts_with(&format!("{WEBHDFS_PREFIX}/"))
}

/// An error answer, logged, in the shape `path`'s API uses: a
/// `RemoteException` fitting `code` under `/webhdfs/v1`, the contract's
/// body elsewhere.
pub fn error_response(
    path: &str,
    status: StatusCode,
    code: ErrorCode,
    message: String,
) -> HttpResponse {
    if is_webhdfs(path) {
        let exception = match code {
            ErrorCode::TooManyRequests | ErrorCode::Unavailable => Exception::Retriable,
            ErrorCode::NotFound => Exception::FileNotFound,
            ErrorCode::Unauthorized => Exception::Security,
            _ if status.is_server_error() => Exception::Io,
            _ => Exception::IllegalArgument,
        };
        webhdfs_answer(status, exception, message)
    } else {
        contract_answer(status, code, message)
    }
}

/// Logs an error answer by what it means for the operator: a server
/// failure is an error; a refusal is worth an info line; a 404 is an
/// ordinary answer (clients probe for what exists: `dfs put` asks whether
/// its target is there), so only a debug line.
pub fn log_error_answer(api: &str, status: StatusCode, message: &dyn std::fmt::Display) {
    let code = status.as_u16();
    if status.is_server_error() {
        log::error!("{api} failed ({code}): {message}");
    } else if status == StatusCode::NOT_FOUND {
        log::debug!("{api} answered 404: {message}");
    } else {
        log::info!("{api} refused ({code}): {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhdfs_paths_get_remote_exceptions_others_the_contract_body() {
        assert!(is_webhdfs("/webhdfs/v1") && is_webhdfs("/webhdfs/v1/a/b"));
        assert!(!is_webhdfs("/webhdfs/v10") && !is_webhdfs("/api/v1/summary"));
        let r = error_response(
            "/webhdfs/v1/a",
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "x".into(),
        );
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = error_response(
            "/api/v1/x",
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "y".into(),
        );
        assert_eq!(r.status(), StatusCode::CONFLICT);
    }
}
