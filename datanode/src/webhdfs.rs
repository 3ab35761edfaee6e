//! The WebHDFS data step on a datanode (where the namenode's 307 for
//! CREATE, APPEND and OPEN points): `PUT|POST|GET /webhdfs/v1/<path>?op=...`.
//!
//! This is a compatibility relay, not block machinery: it acts as an
//! ordinary client through `dfs_client` (STYLE: compatibility relays go
//! through `dfs_client`, never side channels), talking to the namenode of
//! this datanode's `--namenode`, so data goes through the same write
//! pipeline and the same verified read path as `dfs put` / `dfs get`.
//! - CREATE streams the request body into `DfsClient::upload` (never the
//!   whole file in memory) and answers 201 with `Location: webhdfs://...`.
//! - APPEND streams it into `DfsClient::append` and answers 200 (fsspec
//!   writes a file as CREATE with an empty body, then many APPENDs).
//! - OPEN streams `DfsClient::open(offset, length)`: verified bytes with
//!   `Content-Length`.
//!
//! A write relayed here ends with this datanode: its namenode calls carry
//! this node's id ([`dfs_client::DfsClient::with_relay`]), so when the
//! namenode declares this node dead it abandons the write at once, and the
//! path does not stay locked for a lease timeout by a writer that is gone.
//!
//! Access control (this node has the cluster secret): the request must
//! carry a `delegation` user token signed by the namenode (every redirect
//! the namenode hands out does), else 403; the relay then calls the
//! namenode with it, so it acts as that user and no one else.
//!
//! Errors answer in Hadoop's `RemoteException` shape ([`WebHdfsError`]).
//! The `namenoderpcaddress` parameter is only echoed in `Location`; the
//! namenode actually used is always this datanode's own.
use actix_web::http::header::{CONTENT_LENGTH, LOCATION};
use actix_web::http::{Method as HttpMethod, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use dfs_client::{ClientError, DfsClient, NoProgress, UploadOptions};
use dfs_common::error::ErrorCode;
use dfs_common::proto::webhdfs::{percent_encode, Exception, Method, Op, Params, PREFIX};
use futures_util::TryStreamExt;
use std::fmt;

/// The client the landing uses (app data).
pub struct Landing {
    pub client: DfsClient,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource([PREFIX.to_string(), format!("{PREFIX}/{{tail:.*}}")])
            .route(web::get().to(land))
            .route(web::put().to(land))
            .route(web::post().to(land)),
    );
}

/// A WebHDFS failure: a Hadoop exception and its message.
#[derive(Debug)]
pub struct WebHdfsError {
    exception: Exception,
    message: String,
}

impl WebHdfsError {
    fn bad(message: impl Into<String>) -> Self {
        Self {
            exception: Exception::IllegalArgument,
            message: message.into(),
        }
    }
}

impl fmt::Display for WebHdfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.exception.parts().1, self.message)
    }
}

impl From<ClientError> for WebHdfsError {
    fn from(e: ClientError) -> Self {
        let message = e.to_string();
        Self {
            exception: Exception::of_code(e.code(), &message),
            message,
        }
    }
}

impl ResponseError for WebHdfsError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.exception.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        dfs_http::error::webhdfs_answer(self.status_code(), self.exception, self.message.clone())
    }
}

async fn land(
    req: HttpRequest,
    landing: web::Data<Landing>,
    node: web::Data<crate::Node>,
    body: web::Payload,
) -> Result<HttpResponse, WebHdfsError> {
    let method = match *req.method() {
        HttpMethod::PUT => Method::Put,
        HttpMethod::POST => Method::Post,
        _ => Method::Get,
    };
    let pairs = dfs_common::proto::webhdfs::parse_query(req.query_string())
        .map_err(|e| WebHdfsError::bad(format!("bad query string: {e}")))?;
    let p = Params::parse(&pairs).map_err(WebHdfsError::bad)?;
    let op = Op::parse(p.op.as_deref().unwrap_or(""), method).map_err(WebHdfsError::bad)?;
    let path =
        dfs_common::proto::webhdfs::path_from_url(req.uri().path()).map_err(WebHdfsError::bad)?;
    let authed;
    let dfs = match &node.keys {
        None => &landing.client,
        Some(keys) => {
            let now = dfs_common::auth::now_ms();
            let token = pairs
                .iter()
                .filter(|(k, _)| k == dfs_common::auth::DELEGATION_PARAM)
                .map(|(_, v)| v)
                .find(|v| keys.verify_user(v, now).is_ok())
                .ok_or_else(|| WebHdfsError {
                    exception: Exception::AccessControl,
                    message: "no valid delegation token: go through the namenode's redirect".into(),
                })?;
            authed = landing.client.clone().with_token(Some(token.clone()));
            &authed
        }
    };
    let relay = || dfs.clone().with_relay(node.id);
    match op {
        Op::Create => {
            let opts = UploadOptions {
                overwrite: p.overwrite.unwrap_or(false),
                replication: p.replication,
                block_size: p.block_size,
                owner: Some(p.user_or_default().to_string()),
                permission: p.permission,
                ..Default::default()
            };
            relay()
                .upload(&path, body_reader(body), &opts, &NoProgress)
                .await?;
            let nn = p
                .namenode_rpc_address
                .clone()
                .unwrap_or_else(|| authority(dfs.namenode_url()).to_string());
            Ok(HttpResponse::Created()
                .insert_header((
                    LOCATION,
                    format!("webhdfs://{nn}{}", percent_encode(path.as_str(), true)),
                ))
                .insert_header((CONTENT_LENGTH, 0))
                .finish())
        }
        Op::Append => {
            relay()
                .append(&path, body_reader(body), &NoProgress)
                .await?;
            Ok(HttpResponse::Ok()
                .insert_header((CONTENT_LENGTH, 0))
                .finish())
        }
        Op::Open => {
            // Primed: a file whose first block cannot be read gets an
            // error, not a cut body.
            let reader = dfs
                .open(&path, p.offset.unwrap_or(0), p.length)
                .await
                .map_err(|e| match e.code() {
                    ErrorCode::NotFound => WebHdfsError {
                        exception: Exception::FileNotFound,
                        message: format!("File does not exist: {path}"),
                    },
                    _ => e.into(),
                })?
                .primed()
                .await?;
            let len = reader.len;
            let stream = reader.map_err(actix_web::error::ErrorInternalServerError);
            Ok(HttpResponse::Ok()
                .content_type("application/octet-stream")
                .no_chunking(len)
                .streaming(stream))
        }
        other => Err(WebHdfsError::bad(format!(
            "{} is a namenode operation",
            other.name()
        ))),
    }
}

fn body_reader(body: web::Payload) -> impl tokio::io::AsyncRead + Unpin {
    tokio_util::io::StreamReader::new(body.map_err(std::io::Error::other))
}

/// `host:port` of a base URL.
fn authority(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}
