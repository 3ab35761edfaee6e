//! The cluster API (`/api/v1/summary`, `datanodes`, `fsck`, `blocks`) and
//! the operational endpoints `/health` and `/metrics`.
use super::error::ApiError;
use crate::metrics;
use crate::namesystem::Namesystem;
use actix_web::{web, HttpResponse};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    ClusterSummary, DatanodeReport, FileLocations, FsckReport, PathQuery,
};
use serde::Deserialize;

type Ns = web::Data<Namesystem>;
type Answer<T> = Result<web::Json<T>, ApiError>;

pub const API_PREFIX: &str = "/api/v1";

pub fn configure(cfg: &mut web::ServiceConfig) {
    let r = |name: &str| format!("{API_PREFIX}/{name}");
    cfg.route(&r("summary"), web::get().to(summary))
        .route(&r("datanodes"), web::get().to(datanodes))
        .route(&r("fsck"), web::get().to(fsck))
        .route(&r("blocks"), web::get().to(blocks))
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics_text));
}

#[derive(Debug, Deserialize)]
struct OptionalPath {
    #[serde(default)]
    path: Option<DfsPath>,
}

async fn summary(ns: Ns) -> Answer<ClusterSummary> {
    Ok(web::Json(ns.summary()?))
}

async fn datanodes(ns: Ns) -> Answer<Vec<DatanodeReport>> {
    Ok(web::Json(ns.datanode_reports()?))
}

/// `fsck?path=` (default `/`).
async fn fsck(ns: Ns, q: web::Query<OptionalPath>) -> Answer<FsckReport> {
    let path = q.into_inner().path.unwrap_or_else(DfsPath::root);
    Ok(web::Json(ns.fsck(&path)?))
}

async fn blocks(ns: Ns, q: web::Query<PathQuery>) -> Answer<FileLocations> {
    Ok(web::Json(ns.locations(&q.path)?))
}

/// 200 while the process serves; says how many datanodes are live.
async fn health(ns: Ns) -> Result<HttpResponse, ApiError> {
    let s = ns.summary()?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "live_datanodes": s.live_datanodes,
        "dead_datanodes": s.dead_datanodes,
        "safe_mode": s.safe_mode,
        "version": s.version,
        "uptime_secs": s.uptime_secs,
    })))
}

async fn metrics_text(ns: Ns) -> Result<HttpResponse, ApiError> {
    let s = ns.summary()?;
    let pending = ns.counts()?.files_being_written;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render(&s, pending, ns.store_size())))
}
