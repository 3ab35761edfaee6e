//! The HTTP surface of a datanode: the one route table, the parsing of
//! requests into typed values, and the one place a [`DatanodeError`] becomes
//! an HTTP answer (`impl ResponseError`, which also logs by kind).
//!
//! Routes:
//! - `PUT /blocks/{id}` → [`crate::receiver`] (200 JSON `WriteBlockResponse`)
//! - `GET /blocks/{id}?offset=&length=` → [`crate::sender`] (raw bytes with
//!   `Content-Length`; cut short on corruption). A reader that sends
//!   [`READER_VERIFIES_HEADER`]`: sha256` checks the block's SHA-256 itself,
//!   and is spared the datanode's own (CRC32C per chunk is always checked).
//! - `GET /blocks/{id}/meta` → JSON `BlockChecksums`
//! - `DELETE /blocks/{id}` → 204
//! - `GET /health` → JSON; `GET /metrics` → Prometheus text
//!
//! Handlers do no work of their own beyond parsing and shaping answers.
use crate::error::{DatanodeError, Result};
use crate::events::BlockEvent;
use crate::metrics::ScannerSnapshot;
use crate::node::Node;
use crate::peer::PeerClient;
use crate::receiver::{self, PutRequest};
use crate::sender;
use crate::store::{Expected, ReadCheck, MAX_BLOCK_LEN};
use actix_web::http::header::{HeaderMap, CONTENT_LENGTH};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use dfs_common::auth::{BlockOp, BLOCK_TOKEN_HEADER};
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::BlockId;
use dfs_common::proto::data::{
    parse_pipeline, ReadRange, DIGEST_TRAILER_HEADER, DIGEST_TRAILER_V1, EXPECTED_LEN_HEADER,
    EXPECTED_SHA256_HEADER, PIPELINE_HEADER,
};
use serde::Serialize;

/// Sent by a reader of a whole block that checks its SHA-256 itself (value
/// `sha256`; the dfs client does, end to end): the datanode then checks only
/// the chunk CRC32Cs, instead of hashing every byte a second time.
pub use dfs_common::proto::data::READER_VERIFIES_HEADER;

/// The route table of the process.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _req| {
        DatanodeError::BadRequest(format!("bad query string: {e}")).into()
    }))
    .app_data(
        web::PathConfig::default()
            .error_handler(|e, _req| DatanodeError::BadRequest(format!("bad path: {e}")).into()),
    )
    .route("/blocks/{id}", web::put().to(put_block))
    .route("/blocks/{id}", web::get().to(get_block))
    .route("/blocks/{id}", web::delete().to(delete_block))
    .route("/blocks/{id}/meta", web::get().to(get_meta))
    .route(
        &format!("{}/{{id}}", dfs_common::hadoop::CHAIN_PATH),
        web::post().to(post_chain),
    )
    .route("/health", web::get().to(health))
    .route("/metrics", web::get().to(metrics));
}

impl ResponseError for DatanodeError {
    fn status_code(&self) -> StatusCode {
        match self {
            DatanodeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            other => StatusCode::from_u16(other.code().http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    fn error_response(&self) -> HttpResponse {
        dfs_http::error::contract_answer(self.status_code(), self.code(), self.to_string())
    }
}

/// Unknown routes: 404 with a JSON body.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse> {
    Err(DatanodeError::NoRoute(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.path()
    )))
}

fn parse_block_id(raw: &str) -> Result<BlockId> {
    raw.parse()
        .map_err(|_| DatanodeError::BadRequest(format!("{raw:?} is not a block id")))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| DatanodeError::BadRequest(format!("header {name} is not text"))),
    }
}

/// Headers of a block write → typed request.
fn parse_put(headers: &HeaderMap) -> Result<PutRequest> {
    let pipeline = header(headers, PIPELINE_HEADER)?
        .map(parse_pipeline)
        .unwrap_or_default();
    for hop in &pipeline {
        if !(hop.starts_with("http://") || hop.starts_with("https://")) {
            return Err(DatanodeError::BadRequest(format!(
                "pipeline hop {hop:?} is not an http:// URL"
            )));
        }
    }
    let sha256 = header(headers, EXPECTED_SHA256_HEADER)?
        .map(|s| {
            s.parse::<Sha256Digest>()
                .map_err(|e| DatanodeError::BadRequest(e.to_string()))
        })
        .transpose()?;
    let len = header(headers, EXPECTED_LEN_HEADER)?
        .map(|s| {
            s.parse::<u64>().map_err(|_| {
                DatanodeError::BadRequest(format!("{EXPECTED_LEN_HEADER} {s:?} is not a number"))
            })
        })
        .transpose()?;
    if let Some(Ok(n)) = header(headers, CONTENT_LENGTH.as_str())?.map(str::parse::<u64>) {
        if n > MAX_BLOCK_LEN {
            return Err(DatanodeError::TooLarge {
                len: n,
                limit: MAX_BLOCK_LEN,
            });
        }
    }
    let digest_trailer = match header(headers, DIGEST_TRAILER_HEADER)? {
        None => false,
        Some(v) if v == DIGEST_TRAILER_V1 => true,
        Some(v) => {
            return Err(DatanodeError::BadRequest(format!(
                "{DIGEST_TRAILER_HEADER} {v:?} is not understood (this node knows \
                 {DIGEST_TRAILER_V1:?})"
            )))
        }
    };
    Ok(PutRequest {
        pipeline,
        digest_trailer,
        expected: Expected { len, sha256 },
        token: header(headers, BLOCK_TOKEN_HEADER)?.map(str::to_string),
    })
}

/// Access control (this node has the cluster secret): the request must
/// carry a block access token, signed by the namenode (or, for a copy, a
/// datanode), unexpired, for this block and one of `ops`; else 403.
fn check_token(node: &Node, headers: &HeaderMap, block: BlockId, ops: &[BlockOp]) -> Result<()> {
    let Some(keys) = &node.keys else {
        return Ok(());
    };
    let token = header(headers, BLOCK_TOKEN_HEADER)?
        .ok_or_else(|| DatanodeError::Forbidden(format!("block {block}: no block access token")))?;
    keys.verify_block(token, block, ops, dfs_common::auth::now_ms())
        .map_err(|e| DatanodeError::Forbidden(format!("block {block}: {e}")))?;
    Ok(())
}

async fn put_block(
    node: web::Data<Node>,
    peers: web::Data<PeerClient>,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse> {
    let id = parse_block_id(&id)?;
    check_token(&node, req.headers(), id, &[BlockOp::Write, BlockOp::Copy])?;
    let put = parse_put(req.headers())?;
    let resp = receiver::receive(&node, &peers, id, put, body).await?;
    Ok(HttpResponse::Ok().json(resp))
}

async fn get_block(
    node: web::Data<Node>,
    id: web::Path<String>,
    range: web::Query<ReadRange>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let id = parse_block_id(&id)?;
    check_token(&node, req.headers(), id, &[BlockOp::Read])?;
    let check = match header(req.headers(), READER_VERIFIES_HEADER)? {
        Some(v) if v.eq_ignore_ascii_case("sha256") => ReadCheck::Crc,
        _ => ReadCheck::Digest,
    };
    let out = sender::open(node.into_inner(), id, range.offset, range.length, check).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .no_chunking(out.len)
        .streaming(out.stream))
}

async fn get_meta(
    node: web::Data<Node>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let id = parse_block_id(&id)?;
    check_token(&node, req.headers(), id, &[BlockOp::Read])?;
    Ok(HttpResponse::Ok().json(node.store.meta(id).await?))
}

/// `POST /hadoop/v1/chain/{id}`: the file digest carried across a block a
/// Hadoop client wrote (see [`crate::hadoop::write::chain`]).
async fn post_chain(
    node: web::Data<Node>,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<dfs_common::hadoop::ChainRequest>,
) -> Result<HttpResponse> {
    let id = parse_block_id(&id)?;
    check_token(&node, req.headers(), id, &[BlockOp::Read, BlockOp::Write])?;
    let chain = crate::hadoop::write::chain(node.into_inner(), id, &body.before).await?;
    Ok(HttpResponse::Ok().json(chain))
}

async fn delete_block(
    node: web::Data<Node>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let id = parse_block_id(&id)?;
    check_token(&node, req.headers(), id, &[BlockOp::Delete])?;
    if !node.store.delete(id).await? {
        return Err(DatanodeError::NotFound(id));
    }
    node.events.send(BlockEvent::Deleted(id));
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /health`.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Health {
    pub status: String,
    pub node_id: String,
    pub addr: String,
    pub version: String,
    pub blocks: usize,
    pub used: u64,
    pub active_transfers: u64,
    /// Whether the namenode currently knows this node.
    pub registered: bool,
    /// Successful registrations so far: one more after each namenode restart.
    pub registrations: u64,
    /// Block scanner progress: wait for `last_pass_started_unix_ms >= T`
    /// to know every replica held at T has been verified since.
    pub scanner: ScannerSnapshot,
}

async fn health(node: web::Data<Node>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        node_id: node.id.to_string(),
        addr: node.advertise.clone(),
        version: dfs_common::VERSION.into(),
        blocks: node.store.block_count(),
        used: node.store.used(),
        active_transfers: node.metrics.active_transfers(),
        registered: node
            .metrics
            .registered
            .load(std::sync::atomic::Ordering::Relaxed),
        registrations: node
            .metrics
            .registrations
            .load(std::sync::atomic::Ordering::Relaxed),
        scanner: node.scanner.snapshot(),
    })
}

async fn metrics(node: web::Data<Node>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(node.metrics.render(
            node.store.block_count(),
            node.store.used(),
            &node.scanner.snapshot(),
        ))
}
