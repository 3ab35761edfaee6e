//! The native client protocol: JSON under `/rpc/v1` (types in
//! `dfs_common::proto::client`). Each handler parses its typed request (paths
//! arrive as validated `DfsPath`s), calls one `Namesystem` method and
//! answers its result; endpoints with no natural result answer `{}`.
use super::error::ApiError;
use crate::namesystem::Namesystem;
use actix_web::{web, HttpResponse};
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, AppendRequest, AppendResponse, BadReplicaReport,
    CompleteRequest, ContentSummary, CreateRequest, CreateResponse, DeleteRequest, DeleteResponse,
    DirectoryListing, FileIdRequest, FileLocations, FileStatus, ListQuery, LocatedBlock,
    MkdirsRequest, PathQuery, RenameRequest, SetAttributesRequest, SetReplicationRequest,
    RPC_PREFIX,
};

type Ns = web::Data<Namesystem>;
type Answer<T> = Result<web::Json<T>, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let r = |name: &str| format!("{RPC_PREFIX}/{name}");
    cfg.route(&r("mkdirs"), web::post().to(mkdirs))
        .route(&r("status"), web::get().to(status))
        .route(&r("list"), web::get().to(list))
        .route(&r("rename"), web::post().to(rename))
        .route(&r("delete"), web::post().to(delete))
        .route(&r("content_summary"), web::get().to(content_summary))
        .route(&r("create"), web::post().to(create))
        .route(&r("append"), web::post().to(append))
        .route(&r("set_attributes"), web::post().to(set_attributes))
        .route(&r("add_block"), web::post().to(add_block))
        .route(&r("abandon_block"), web::post().to(abandon_block))
        .route(&r("complete"), web::post().to(complete))
        .route(&r("renew_lease"), web::post().to(renew_lease))
        .route(&r("abandon_file"), web::post().to(abandon_file))
        .route(&r("locations"), web::get().to(locations))
        .route(&r("setrep"), web::post().to(setrep))
        .route(&r("report_bad_replica"), web::post().to(report_bad_replica));
}

/// `{}`: the answer of endpoints with no result.
fn empty() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({}))
}

async fn mkdirs(ns: Ns, req: web::Json<MkdirsRequest>) -> Answer<FileStatus> {
    Ok(web::Json(
        ns.mkdirs_as(&req.path, req.parents, req.owner.as_deref(), req.permission)
            .await?,
    ))
}

async fn append(ns: Ns, req: web::Json<AppendRequest>) -> Answer<AppendResponse> {
    Ok(web::Json(ns.append(&req.path).await?))
}

async fn set_attributes(ns: Ns, req: web::Json<SetAttributesRequest>) -> Answer<FileStatus> {
    Ok(web::Json(ns.set_attributes(&req).await?))
}

async fn status(ns: Ns, q: web::Query<PathQuery>) -> Answer<FileStatus> {
    Ok(web::Json(ns.status(&q.path)?))
}

async fn list(ns: Ns, q: web::Query<ListQuery>) -> Answer<DirectoryListing> {
    Ok(web::Json(ns.list(
        &q.path,
        q.start_after.as_deref(),
        q.limit,
    )?))
}

async fn rename(ns: Ns, req: web::Json<RenameRequest>) -> Answer<FileStatus> {
    Ok(web::Json(
        ns.rename(&req.src, &req.dst, req.overwrite).await?,
    ))
}

async fn delete(ns: Ns, req: web::Json<DeleteRequest>) -> Answer<DeleteResponse> {
    Ok(web::Json(ns.delete(&req.path, req.recursive).await?))
}

async fn content_summary(ns: Ns, q: web::Query<PathQuery>) -> Answer<ContentSummary> {
    Ok(web::Json(ns.content_summary(&q.path)?))
}

async fn create(ns: Ns, req: web::Json<CreateRequest>) -> Answer<CreateResponse> {
    Ok(web::Json(ns.create(&req).await?))
}

async fn add_block(ns: Ns, req: web::Json<AddBlockRequest>) -> Answer<LocatedBlock> {
    Ok(web::Json(ns.add_block(&req).await?))
}

async fn abandon_block(
    ns: Ns,
    req: web::Json<AbandonBlockRequest>,
) -> Result<HttpResponse, ApiError> {
    ns.abandon_block(&req).await?;
    Ok(empty())
}

async fn complete(ns: Ns, req: web::Json<CompleteRequest>) -> Answer<FileStatus> {
    Ok(web::Json(ns.complete(&req).await?))
}

async fn renew_lease(ns: Ns, req: web::Json<FileIdRequest>) -> Result<HttpResponse, ApiError> {
    ns.renew_lease(req.file_id)?;
    Ok(empty())
}

async fn abandon_file(ns: Ns, req: web::Json<FileIdRequest>) -> Result<HttpResponse, ApiError> {
    ns.abandon_file(req.file_id).await?;
    Ok(empty())
}

async fn locations(ns: Ns, q: web::Query<PathQuery>) -> Answer<FileLocations> {
    Ok(web::Json(ns.locations(&q.path)?))
}

async fn setrep(ns: Ns, req: web::Json<SetReplicationRequest>) -> Answer<FileStatus> {
    Ok(web::Json(
        ns.set_replication(&req.path, req.replication).await?,
    ))
}

async fn report_bad_replica(
    ns: Ns,
    req: web::Json<BadReplicaReport>,
) -> Result<HttpResponse, ApiError> {
    ns.report_bad_replica(&req).await?;
    Ok(empty())
}
