//! The HTTP surface of the namenode: [`configure`] is the single route table
//! of the process. Handlers live one module per audience: [`client`] (native
//! JSON RPC), [`cluster`] (`/api/v1`, `/health`, `/metrics`), [`internal`]
//! (datanodes, bincode), [`seed`] (compatibility endpoints, relayed through
//! `dfs_client`), then the web UI at `/`. [`error`] turns every failure into
//! a status and an `ErrorBody`.
pub mod client;
pub mod cluster;
pub mod error;
pub mod internal;
pub mod limits;
pub mod openapi;
pub mod seed;
pub mod webhdfs;

use actix_web::web;

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

#[cfg(test)]
mod tests;
