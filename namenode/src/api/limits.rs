//! The namenode's data streams, for the HTTP edge it shares with the
//! datanode (`dfs_http::limits`: idle request bodies cut off, data streams
//! bounded per peer IP, every error answer given a body).
use actix_web::dev::ServiceRequest;
use dfs_common::limits::Limits;
use dfs_common::proto::webhdfs::PREFIX as WEBHDFS_PREFIX;

pub use dfs_http::limits::{enforce, error_shape, Guard};

/// The namenode's limits, with its own data streams: the seed relays
/// (`/upload_file`, `/download_file`) and WebHDFS data steps landing here.
pub fn guard(limits: Limits) -> Guard {
    Guard::new(limits, is_stream)
}

/// Whether a request moves file data through this process.
fn is_stream(req: &ServiceRequest) -> bool {
    let path = req.path();
    path == "/upload_file"
        || path == "/download_file"
        || (path.starts_with(WEBHDFS_PREFIX) && req.query_string().contains("namenoderpcaddress="))
}
