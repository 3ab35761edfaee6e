//! The HTTP surface of the namenode: [`configure`] is the single route table
//! of the process. Handlers live one module per audience: [`client`] (native
//! JSON RPC), [`cluster`] (`/api/v1`, `/health`, `/metrics`), [`internal`]
//! (datanodes, bincode), [`seed`] (compatibility endpoints, relayed through
//! `dfs_client`), then the web UI at `/`. [`error`] turns every failure into
//! a status and an `ErrorBody`.
pub mod client;
pub mod cluster;
pub mod error;
pub mod forward;
pub mod internal;
pub mod limits;
pub mod openapi;
pub mod seed;
pub mod webhdfs;

use crate::auth::Caller;
use crate::error::NamenodeError;
use crate::namespace::permission::Check;
use crate::namesystem::Namesystem;
use actix_web::web;
use dfs_common::ids::FileId;
use dfs_common::path::DfsPath;

/// Largest JSON body (`complete` can list many blocks).
pub const JSON_LIMIT: usize = 64 << 20;
/// Largest form body (the seed endpoints' parameters are a few paths).
pub const FORM_LIMIT: usize = 64 << 10;
/// Largest body read whole into memory where no other limit is set (the
/// seed endpoints' form, JSON or multipart parameters; not file uploads,
/// which stream).
pub const BODY_LIMIT: usize = 256 << 10;

/// Mounts everything. Expects `web::Data<Namesystem>` and
/// `web::Data<dfs_client::DfsClient>` in app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(JSON_LIMIT)
            .error_handler(error::json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(error::query_error))
    .app_data(
        web::FormConfig::default()
            .limit(FORM_LIMIT)
            .error_handler(error::form_error),
    )
    .app_data(web::PayloadConfig::new(BODY_LIMIT))
    .app_data(web::PathConfig::default().error_handler(error::path_error));
    client::configure(cfg);
    cluster::configure(cfg);
    openapi::configure(cfg);
    internal::configure(cfg);
    crate::auth::configure(cfg);
    seed::configure(cfg);
    webhdfs::configure(cfg);
    dfs_web::configure(cfg);
    cfg.default_service(web::to(error::not_found));
}

/// Runs `f`, a synchronous read of the namespace (`Namesystem::status`,
/// `list`, access checks), on the blocking pool when a change or a walk
/// holds the namespace: an HTTP worker thread never waits on that lock,
/// which would stall every other connection it serves (a `/health` probe)
/// for as long as the holder keeps it. Other readers do not count: reads
/// share the lock. Async namesystem calls wait for their turn without
/// blocking instead (`Namesystem::lock_async`).
pub async fn off_worker<T: Send + 'static>(
    ns: &web::Data<Namesystem>,
    f: impl FnOnce(&Namesystem) -> Result<T, NamenodeError> + Send + 'static,
) -> Result<T, NamenodeError> {
    // The common case, nobody holding the namespace: no hop to another
    // thread (it costs a single client's `stat` a third of its rate). A
    // writer taking the lock between this look and `f`'s holds it for one
    // command, not for a walk.
    if !ns.namespace_busy() {
        return f(ns);
    }
    let ns = ns.clone().into_inner();
    web::block(move || f(&ns))
        .await
        .map_err(|e| NamenodeError::Internal(format!("a blocking read failed: {e}")))?
}

/// Runs the access check `f` for `caller`: off the worker thread
/// ([`off_worker`]) when access control is on, since the checks read the
/// namespace; inline when it is off (every check passes without a look).
pub async fn check_access(
    ns: &web::Data<Namesystem>,
    caller: &Caller,
    f: impl FnOnce(&Namesystem, &Caller) -> Result<(), NamenodeError> + Send + 'static,
) -> Result<(), NamenodeError> {
    if caller.principal().is_none() {
        return f(ns, caller);
    }
    let caller = caller.clone();
    off_worker(ns, move |ns| f(ns, &caller)).await
}

/// [`check_access`] of `check` on `path` (the path is copied only when a
/// check has to look).
pub async fn check_path(
    ns: &web::Data<Namesystem>,
    caller: &Caller,
    path: &DfsPath,
    check: Check,
) -> Result<(), NamenodeError> {
    if caller.principal().is_none() {
        return caller.check(ns, path, check);
    }
    let path = path.clone();
    check_access(ns, caller, move |ns, c| c.check(ns, &path, check)).await
}

/// [`check_access`]: `caller` holds the lease of `file_id`.
pub async fn check_writer(
    ns: &web::Data<Namesystem>,
    caller: &Caller,
    file_id: FileId,
) -> Result<(), NamenodeError> {
    check_access(ns, caller, move |ns, c| c.check_writer(ns, file_id)).await
}

#[cfg(test)]
mod tests;
