//! The datanode-facing endpoints: bincode bodies (via `dfs_common::codec`)
//! POSTed under `/internal/v1` (types in `dfs_common::proto::datanode`).
//! This is the namenode's one module that talks to datanodes; it only
//! answers (commands ride on heartbeat replies).
//!
//! Answers: `register` → `RegisterResponse`; `heartbeat` → `HeartbeatReply`
//! (an unknown node gets `Command::Reregister`); `block_report`,
//! `block_received` and `bad_block` → an empty `HeartbeatReply` (the
//! deletions they cause are queued and leave with the next heartbeat).
use super::error::ApiError;
use crate::error::NamenodeError;
use crate::namesystem::Namesystem;
use actix_web::{web, HttpResponse};
use dfs_common::codec::{self, MAX_MESSAGE_BYTES};
use dfs_common::proto::datanode::{
    BadBlockReport, BlockReport, Heartbeat, HeartbeatReply, IncrementalBlockReport,
    RegisterRequest, INTERNAL_PREFIX,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

type Ns = web::Data<Namesystem>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let payload = || web::PayloadConfig::new(MAX_MESSAGE_BYTES as usize);
    for (name, route) in [
        ("register", web::post().to(register)),
        ("heartbeat", web::post().to(heartbeat)),
        ("block_report", web::post().to(block_report)),
        ("block_received", web::post().to(block_received)),
        ("bad_block", web::post().to(bad_block)),
    ] {
        cfg.service(
            web::resource(format!("{INTERNAL_PREFIX}/{name}"))
                .app_data(payload())
                .route(route),
        );
    }
    cfg.service(
        web::resource(format!("{}/{{rpc}}", crate::raft::network::PREFIX))
            .app_data(payload())
            .route(web::post().to(raft_rpc)),
    );
}

/// Raft traffic from the other namenodes (`crate::raft::network`).
async fn raft_rpc(
    group: Option<web::Data<crate::raft::group::Group>>,
    rpc: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(group) = group else {
        return Err(
            NamenodeError::Unavailable("this namenode's raft group is not started".into()).into(),
        );
    };
    match crate::raft::network::answer(&group, &rpc, &body).await {
        Ok(Some(bytes)) => Ok(HttpResponse::Ok()
            .content_type(codec::CONTENT_TYPE)
            .body(bytes)),
        // An unknown rpc, or a sender whose link is cut (test hook).
        Ok(None) => Err(NamenodeError::Unavailable(format!("raft rpc {rpc:?} not taken")).into()),
        Err(e) => Err(ApiError::bad_request(e)),
    }
}

fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    codec::decode(body).map_err(|e| ApiError::bad_request(format!("malformed {what}: {e}")))
}

fn reply<T: Serialize>(value: &T) -> Result<HttpResponse, ApiError> {
    let bytes = codec::encode(value)
        .map_err(|e| ApiError::internal(format!("cannot encode reply: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(codec::CONTENT_TYPE)
        .body(bytes))
}

async fn register(ns: Ns, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let req: RegisterRequest = decode(&body, "RegisterRequest")?;
    reply(&ns.register(&req).await?)
}

async fn heartbeat(ns: Ns, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let hb: Heartbeat = decode(&body, "Heartbeat")?;
    reply(&ns.heartbeat(&hb).await)
}

async fn block_report(ns: Ns, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let r: BlockReport = decode(&body, "BlockReport")?;
    // A full report settles every replica of the node under the namespace
    // lock (a second or more at millions of blocks): on the blocking pool,
    // so that the HTTP worker's other connections (a `/health` probe, a
    // client's `stat`) are not held up with it. Its waits need no timer or
    // I/O driver (the namespace's turn, the commit's answer), so the worker
    // runtime's handle can run it there.
    let ns = ns.into_inner();
    let rt = tokio::runtime::Handle::current();
    web::block(move || rt.block_on(ns.block_report(&r)))
        .await
        .map_err(|e| NamenodeError::Internal(format!("a block report's task failed: {e}")))??;
    reply(&HeartbeatReply::default())
}

async fn block_received(ns: Ns, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let r: IncrementalBlockReport = decode(&body, "IncrementalBlockReport")?;
    ns.block_received(&r).await?;
    reply(&HeartbeatReply::default())
}

async fn bad_block(ns: Ns, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let r: BadBlockReport = decode(&body, "BadBlockReport")?;
    ns.bad_block(&r).await?;
    reply(&HeartbeatReply::default())
}
