//! `dfs_client`: the one library that knows how files become blocks and back.
//! (skeleton: the public API is fixed here; bodies are being built)
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod error;

pub use error::{ClientError, Result};

use bytes::Bytes;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    ClusterSummary, ContentSummary, DatanodeReport, DeleteResponse, FileLocations, FileStatus,
    FsckReport,
};
use futures_util::stream::BoxStream;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

/// Told how many more bytes have moved (drives progress bars).
pub trait Progress: Send + Sync {
    fn advance(&self, bytes: u64);
}

/// A progress sink that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {
    fn advance(&self, _bytes: u64) {}
}

/// How to write a file.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// Replace an existing file.
    pub overwrite: bool,
    /// Default: the namenode's.
    pub replication: Option<u16>,
    /// Default: the namenode's.
    pub block_size: Option<u64>,
}

/// A verified byte stream of (part of) a file. Every byte it yields has been
/// checked against its chunk checksum.
pub struct FileReader {
    pub status: FileStatus,
    /// How many bytes this reader yields in all.
    pub len: u64,
    stream: BoxStream<'static, Result<Bytes>>,
}

impl futures_util::Stream for FileReader {
    type Item = Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

/// A handle on one dfs cluster (cheap to clone).
#[derive(Clone)]
pub struct DfsClient {
    namenode: String,
}

fn unbuilt<T>() -> Result<T> {
    Err(ClientError::Invalid("not built yet".into()))
}

impl DfsClient {
    pub fn new(namenode_url: &str) -> Result<Self> {
        Ok(Self { namenode: namenode_url.trim_end_matches('/').to_string() })
    }
    pub fn namenode_url(&self) -> &str {
        &self.namenode
    }

    pub async fn mkdirs(&self, _path: &DfsPath, _parents: bool) -> Result<FileStatus> {
        unbuilt()
    }
    pub async fn status(&self, _path: &DfsPath) -> Result<FileStatus> {
        unbuilt()
    }
    /// Every entry of a directory (all pages), or the file itself.
    pub async fn list(&self, _path: &DfsPath) -> Result<Vec<FileStatus>> {
        unbuilt()
    }
    pub async fn rename(&self, _src: &DfsPath, _dst: &DfsPath, _overwrite: bool) -> Result<FileStatus> {
        unbuilt()
    }
    pub async fn delete(&self, _path: &DfsPath, _recursive: bool) -> Result<DeleteResponse> {
        unbuilt()
    }
    pub async fn content_summary(&self, _path: &DfsPath) -> Result<ContentSummary> {
        unbuilt()
    }
    pub async fn set_replication(&self, _path: &DfsPath, _replication: u16) -> Result<FileStatus> {
        unbuilt()
    }
    pub async fn locations(&self, _path: &DfsPath) -> Result<FileLocations> {
        unbuilt()
    }
    pub async fn summary(&self) -> Result<ClusterSummary> {
        unbuilt()
    }
    pub async fn datanodes(&self) -> Result<Vec<DatanodeReport>> {
        unbuilt()
    }
    pub async fn fsck(&self, _path: &DfsPath) -> Result<FsckReport> {
        unbuilt()
    }

    /// Writes `reader` to `path` as a new file; visible only once complete.
    pub async fn upload<R: AsyncRead + Unpin>(
        &self,
        _path: &DfsPath,
        _reader: R,
        _opts: &UploadOptions,
        _progress: &dyn Progress,
    ) -> Result<FileStatus> {
        unbuilt()
    }

    /// Opens `path` for reading from `offset`, at most `length` bytes.
    pub async fn open(&self, _path: &DfsPath, _offset: u64, _length: Option<u64>) -> Result<FileReader> {
        unbuilt()
    }

    /// Reads the whole file into `writer`.
    pub async fn download<W: AsyncWrite + Unpin>(
        &self,
        _path: &DfsPath,
        _writer: W,
        _progress: &dyn Progress,
    ) -> Result<FileStatus> {
        unbuilt()
    }
}
