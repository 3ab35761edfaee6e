//! The WebHDFS data step (CREATE, APPEND, OPEN where a 307 points: on a
//! datanode, or on the namenode with `--webhdfs-data-via-namenode`), and
//! [`WebHdfsError`], WebHDFS's one error type, for both processes.
//!
//! The landing is a compatibility relay, not block machinery: it acts as an
//! ordinary client through `dfs_client`, so data goes through the same
//! write pipeline and the same verified read path as `dfs put` / `dfs get`.
//! - CREATE streams the request body into `DfsClient::upload` (never the
//!   whole file in memory) and answers 201 with `Location: webhdfs://...`.
//! - APPEND streams it into `DfsClient::append` and answers 200 (fsspec
//!   writes a file as CREATE with an empty body, then many APPENDs).
//! - OPEN streams `DfsClient::open(offset, length)`: verified bytes with
//!   `Content-Length`; primed, so a file whose first block cannot be read
//!   gets an error, not a cut body.
//!
//! Who calls it decides with which client: the datanode writes with a
//! client that names it as the relay (so the write ends with it), and signs
//! as the user the namenode's redirect vouched for.
use actix_web::http::header::{CONTENT_LENGTH, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use dfs_client::{ClientError, DfsClient, NoProgress, UploadOptions};
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::webhdfs::{percent_encode, Exception, Op, Params};
use futures_util::TryStreamExt;
use std::fmt;

/// A WebHDFS failure: a Hadoop exception and its message, answered as
/// Hadoop's `RemoteException` with the exception's status.
#[derive(Debug)]
pub struct WebHdfsError {
    pub exception: Exception,
    pub message: String,
}

impl WebHdfsError {
    pub fn new(exception: Exception, message: impl Into<String>) -> Self {
        Self {
            exception,
            message: message.into(),
        }
    }

    /// A request WebHDFS cannot take (`IllegalArgumentException`, 400).
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(Exception::IllegalArgument, message)
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
        Self::new(Exception::of_code(e.code(), &message), message)
    }
}

impl ResponseError for WebHdfsError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.exception.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        crate::error::webhdfs_answer(self.status_code(), self.exception, self.message.clone())
    }
}

/// One data step, parsed by the caller.
pub struct DataStep<'a> {
    pub op: Op,
    pub params: &'a Params,
    pub path: &'a DfsPath,
}

/// Runs a data step: `reader` serves OPEN, `writer` CREATE and APPEND (the
/// same client, or one that names a relay). `namenode` is the
/// `host:port` CREATE's `Location` names when the request did not give
/// `namenoderpcaddress`.
pub async fn land(
    step: DataStep<'_>,
    reader: &DfsClient,
    writer: &DfsClient,
    body: web::Payload,
    namenode: impl FnOnce() -> String,
) -> Result<HttpResponse, WebHdfsError> {
    let DataStep {
        op,
        params: p,
        path,
    } = step;
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
            writer
                .upload(path, body_reader(body), &opts, &NoProgress)
                .await?;
            let nn = p.namenode_rpc_address.clone().unwrap_or_else(namenode);
            Ok(HttpResponse::Created()
                .insert_header((
                    LOCATION,
                    format!("webhdfs://{nn}{}", percent_encode(path.as_str(), true)),
                ))
                .insert_header((CONTENT_LENGTH, 0))
                .finish())
        }
        Op::Append => {
            writer.append(path, body_reader(body), &NoProgress).await?;
            Ok(HttpResponse::Ok()
                .insert_header((CONTENT_LENGTH, 0))
                .finish())
        }
        Op::Open => {
            let file = reader
                .open(path, p.offset.unwrap_or(0), p.length)
                .await
                .map_err(|e| open_error(e, path))?
                .primed()
                .await?;
            let len = file.len;
            let stream = file.map_err(actix_web::error::ErrorInternalServerError);
            Ok(HttpResponse::Ok()
                .content_type("application/octet-stream")
                .no_chunking(len)
                .streaming(stream))
        }
        other => Err(WebHdfsError::bad(format!(
            "{} is not a data step (send it to the namenode without a redirect)",
            other.name()
        ))),
    }
}

fn body_reader(body: web::Payload) -> impl tokio::io::AsyncRead + Unpin {
    tokio_util::io::StreamReader::new(body.map_err(std::io::Error::other))
}

/// OPEN of a missing file: Hadoop's `FileNotFoundException` wording.
fn open_error(e: ClientError, path: &DfsPath) -> WebHdfsError {
    match e.code() {
        ErrorCode::NotFound => WebHdfsError::new(
            Exception::FileNotFound,
            format!("File does not exist: {path}"),
        ),
        _ => e.into(),
    }
}
