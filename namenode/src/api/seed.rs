//! Seed endpoints (compat). OWNED BY THE CLIENT WORK: relays through
//! `dfs_client::DfsClient` taken from app data. Stub until then.
use actix_web::web;

/// Mounts `/create_directory`, `/upload_file`, ... . Expects
/// `web::Data<dfs_client::DfsClient>` in app data.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
