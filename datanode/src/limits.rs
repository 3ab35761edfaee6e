//! The datanode's data streams, for the HTTP edge it shares with the
//! namenode (`dfs_http::limits`: idle request bodies cut off, data streams
//! bounded per peer IP, every error answer given a body).
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use dfs_common::limits::Limits;
use dfs_common::proto::webhdfs::PREFIX as WEBHDFS_PREFIX;

pub use dfs_http::limits::{enforce, error_shape, Guard};

/// The datanode's limits, with its own data streams: block reads and
/// writes (`GET`/`PUT /blocks/{id}`) and the WebHDFS landing.
pub fn guard(limits: Limits) -> Guard {
    Guard::new(limits, is_stream)
}

/// Whether a request moves block or file data.
fn is_stream(req: &ServiceRequest) -> bool {
    let path = req.path();
    (path.starts_with("/blocks/")
        && !path.ends_with("/meta")
        && matches!(*req.method(), Method::GET | Method::PUT))
        || path.starts_with(WEBHDFS_PREFIX)
}
