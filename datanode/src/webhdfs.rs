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
//! Errors answer in Hadoop's `RemoteException` shape (`WebHdfsError`); the
//! data step itself is `dfs_http::webhdfs::land`, shared with the namenode.
//! The `namenoderpcaddress` parameter is only echoed in `Location`; the
//! namenode actually used is always this datanode's own.
use actix_web::http::Method as HttpMethod;
use actix_web::{web, HttpRequest, HttpResponse};
use dfs_client::DfsClient;
use dfs_common::proto::webhdfs::{Exception, Method, Op, Params, PREFIX};
pub use dfs_http::webhdfs::WebHdfsError;
use dfs_http::webhdfs::{land as land_step, DataStep};

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
                .ok_or_else(|| {
                    WebHdfsError::new(
                        Exception::AccessControl,
                        "no valid delegation token: go through the namenode's redirect",
                    )
                })?;
            authed = landing.client.clone().with_token(Some(token.clone()));
            &authed
        }
    };
    let relay = dfs.clone().with_relay(node.id);
    let step = DataStep {
        op,
        params: &p,
        path: &path,
    };
    land_step(step, dfs, &relay, body, || {
        authority(dfs.namenode_url()).to_string()
    })
    .await
}

/// `host:port` of a base URL.
fn authority(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}
