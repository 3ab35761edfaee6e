//! `DatanodeClient`: the block protocol of `dfs_common::proto::data`, as a
//! client: stream a block into a write pipeline, fetch a block's checksums,
//! fetch a byte range of a block as a stream.
//!
//! It moves bytes and reports what the datanode said; it does not verify
//! them (that is `download`'s job, chunk by chunk) and never buffers a block.
//! There is no overall timeout on data requests (a block may take minutes on
//! a slow link); the wait for an answer's headers and for each piece of a
//! body is bounded instead ([`IDLE_TIMEOUT`]), so a hung datanode is given up
//! on. A dead one costs little: its HTTP client connects with a short
//! timeout ([`CONNECT_TIMEOUT`]), and a refused connection fails at once.
use crate::error::{ClientError, Result};
use bytes::Bytes;
use dfs_common::auth::BLOCK_TOKEN_HEADER;
use dfs_common::checksum::BlockChecksums;
use dfs_common::ids::BlockId;
use dfs_common::proto::data::{format_pipeline, WriteBlockResponse, PIPELINE_HEADER};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use std::time::Duration;

/// `GET /blocks/{id}/meta` is small: it gets an overall timeout.
const META_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to wait for a TCP connection to a datanode: another replica or
/// pipeline is usually at hand, so a blackholed node must not cost long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A datanode that sends nothing (no answer headers, no body piece) for this
/// long while reading is given up on.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Sent with a block read whose SHA-256 the reader checks itself.
use dfs_common::proto::data::READER_VERIFIES_HEADER;

/// A handle for talking to any datanode (cheap to clone).
#[derive(Clone)]
pub struct DatanodeClient {
    http: reqwest::Client,
}

fn who(addr: &str) -> String {
    format!("datanode at {addr}")
}

fn block_url(addr: &str, block: BlockId) -> String {
    format!("{}/blocks/{block}", addr.trim_end_matches('/'))
}

/// Adds a block access token (access control on), if there is one.
fn with_token(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => req.header(BLOCK_TOKEN_HEADER, t),
        None => req,
    }
}

async fn check(addr: &str, resp: reqwest::Response) -> Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.bytes().await.unwrap_or_default();
    Err(ClientError::from_error_answer(status.as_u16(), &body).context(who(addr)))
}

impl DatanodeClient {
    pub fn new(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// `PUT {addr}/blocks/{id}` with `body`, forwarding to `downstream`
    /// (base URLs, nearest first), with the block's write `token` (access
    /// control on). Answers once every hop has answered.
    pub async fn put_block(
        &self,
        addr: &str,
        block: BlockId,
        downstream: &[String],
        body: reqwest::Body,
        token: Option<&str>,
    ) -> Result<WriteBlockResponse> {
        let resp = with_token(self.http.put(block_url(addr, block)), token)
            .header(PIPELINE_HEADER, format_pipeline(downstream))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::transport(&who(addr), &e))?;
        let resp = check(addr, resp).await?;
        resp.json()
            .await
            .map_err(|e| ClientError::transport(&who(addr), &e))
    }

    /// `GET {addr}/blocks/{id}/meta`: the block's length, SHA-256 and chunk CRCs.
    pub async fn block_meta(
        &self,
        addr: &str,
        block: BlockId,
        token: Option<&str>,
    ) -> Result<BlockChecksums> {
        let resp = with_token(
            self.http.get(format!("{}/meta", block_url(addr, block))),
            token,
        )
        .timeout(META_TIMEOUT)
        .send()
        .await
        .map_err(|e| ClientError::transport(&who(addr), &e))?;
        let resp = check(addr, resp).await?;
        resp.json()
            .await
            .map_err(|e| ClientError::transport(&who(addr), &e))
    }

    /// `GET {addr}/blocks/{id}?offset=&length=`: the bytes as they arrive,
    /// unverified.
    pub async fn get_block(
        &self,
        addr: &str,
        block: BlockId,
        offset: u64,
        length: u64,
        token: Option<&str>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        self.get_block_checked(addr, block, offset, length, false, token)
            .await
    }

    /// [`DatanodeClient::get_block`]; `digest_checked_here` tells the
    /// datanode that the caller checks the block's SHA-256 itself, so that
    /// the datanode checks only the chunk CRC32Cs instead of hashing every
    /// byte a second time.
    pub async fn get_block_checked(
        &self,
        addr: &str,
        block: BlockId,
        offset: u64,
        length: u64,
        digest_checked_here: bool,
        token: Option<&str>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        let url = format!("{}?offset={offset}&length={length}", block_url(addr, block));
        let mut req = with_token(self.http.get(url), token);
        if digest_checked_here {
            req = req.header(READER_VERIFIES_HEADER, "sha256");
        }
        let resp = tokio::time::timeout(IDLE_TIMEOUT, req.send())
            .await
            .map_err(|_| {
                ClientError::Transport(format!(
                    "{} did not answer within {}s",
                    who(addr),
                    IDLE_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| ClientError::transport(&who(addr), &e))?;
        let resp = check(addr, resp).await?;
        let name = who(addr);
        Ok(resp
            .bytes_stream()
            .map_err(move |e| ClientError::transport(&name, &e))
            .boxed())
    }
}
