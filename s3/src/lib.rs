//! The S3 REST API of a dfs namenode (`--s3-listen`), over the same files
//! every other door sees: a bucket is a top-level directory, the object
//! `a/b/c` of bucket `x` is the file `/x/a/b/c`.
//!
//! Map of the crate:
//! - [`sigv4`]: who is calling (Signature V4 over headers or a presigned
//!   URL); [`chunked`] and [`checksum`]: reading a body as the signature
//!   and the checksums it came with say (aws-chunked, trailers, MD5,
//!   SHA-256, CRC32/CRC32C/SHA-1);
//! - [`router`]: each request checked and routed ([`router::dispatch`])
//!   to [`bucket`], [`list`], [`object`] or [`multipart`]; [`request`]: a
//!   request taken apart (addressing, query, body);
//! - [`meta`]: what S3 keeps beside an object's bytes (ETag, content
//!   type, user metadata) as the file's extended attributes;
//! - [`xml`]: S3's XML bodies; [`error`]: S3's errors.
//!
//! Every byte goes through `dfs_client` as for any other client: uploads
//! take the write pipeline (a file is invisible until complete, so a PUT
//! cut off leaves nothing), downloads hand out only verified bytes. With
//! access control on, each request acts as the user its key belongs to,
//! so the namenode's permission checks apply unchanged.
//!
//! Invariants: nothing is held in memory whole but XML request bodies
//! (bounded, [`xml::MAX_XML_BODY`]); a body is checked (signature of each
//! chunk, `Content-MD5`, the payload SHA-256, trailing checksums) before
//! the upload that reads it completes, so a body that fails a check
//! stores nothing.
pub mod bucket;
pub mod checksum;
pub mod chunked;
pub mod error;
pub mod list;
pub mod meta;
pub mod multipart;
pub mod object;
pub mod request;
pub mod router;
pub mod sigv2;
pub mod sigv4;
#[cfg(test)]
mod testing;
pub mod xml;

use actix_web::web;
use dfs_client::DfsClient;
use std::sync::Arc;

/// What the namenode gives the S3 door: its keys and a client acting for
/// a user.
pub trait Keys: Send + Sync {
    /// The secret of `access_key` and the user it acts as.
    fn lookup(&self, access_key: &str) -> Option<(String, String)>;
    /// A client of this cluster acting as `user` (access control on), or
    /// the plain one (off).
    fn client_for(&self, user: &str) -> DfsClient;
}

/// The S3 door's state (app data).
#[derive(Clone)]
pub struct S3State {
    pub keys: Arc<dyn Keys>,
    /// Host names under which `<bucket>.<domain>` is virtual-host-style
    /// addressing (`localhost` always is).
    pub domains: Vec<String>,
    /// A request body silent this long is cut off (a stalled upload fails
    /// and stores nothing, rather than holding its write forever).
    pub body_idle_timeout: std::time::Duration,
}

/// Mounts the S3 API: every path, every method, through [`router::dispatch`].
/// Expects `web::Data<S3State>` in app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(usize::MAX))
        .default_service(web::to(router::dispatch));
}
