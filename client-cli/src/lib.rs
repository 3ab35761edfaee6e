//! `dfs_client`: the one library that knows how files become blocks and back.
//!
//! [`DfsClient`] is the whole public face: namespace calls relayed to the
//! namenode, [`DfsClient::upload`] / [`DfsClient::upload_seekable`] (a byte
//! source becomes a replicated file, surviving datanode failures on the way)
//! and [`DfsClient::open`] / [`DfsClient::download`] (a file becomes a stream
//! of verified bytes), and the cluster administration calls (decommission,
//! safe mode). The `dfs` command, the namenode's seed endpoints and
//! the datanode's WebHDFS landing all go through it, so there is one write
//! path and one read path.
//!
//! # Layout
//! Each module depends only on the ones listed before it; this file, the
//! [`DfsClient`] facade, on all of them.
//! - [`error`]: the one `ClientError` enum.
//! - `progress`: the [`Progress`] sink a transfer reports to.
//! - `task`: `AbortOnDrop`, a spawned task that ends with its owner.
//! - [`tls`]: what the process trusts over `https://` (`DFS_CA_FILE`), and
//!   the builder every HTTP client starts from.
//! - [`namenode`]: `NamenodeClient`, one method per namenode endpoint;
//!   error answers become [`ClientError`].
//! - [`datanode`]: `DatanodeClient`, the block protocol (put a block into a
//!   pipeline, fetch checksums, fetch a byte range).
//! - `backup`: a namenode checkpoint saved, checked end to end.
//! - `download`: locations → per block, replicas in order, each chunk checked
//!   against its CRC32C (and the block's SHA-256) before it is handed on
//!   ([`FileReader`]).
//! - `upload`: create → add_block + stream each block → complete; a block
//!   whose pipeline fails is sent again on a new one; abandons the file on
//!   any failure ([`UploadOptions`]). An append reads the old last block
//!   through `download`.
//!
//! Neither path ever holds a whole block in memory.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod backup;
pub mod datanode;
mod download;
pub mod error;
#[cfg(test)]
mod fake_cluster;
pub mod namenode;
mod progress;
mod task;
pub mod tls;
mod upload;

pub use download::FileReader;
pub use error::{ClientError, Result};
pub use namenode::{SafeModeAction, SafeModeStatus};
pub use progress::{NoProgress, Progress};
pub use upload::{UploadOptions, XattrSource};

use bytes::Bytes;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AdminStateChange, ClusterSummary, ContentSummary, DatanodeReport, DeleteRequest,
    DeleteResponse, ExpungeResponse, FileLocations, FileStatus, FsckReport, MkdirsRequest,
    OrphansDeleted, OrphansReport, RenameRequest, SetReplicationRequest, TrashRequest,
    TrashResponse,
};
use dfs_common::proto::client::{QuotaUsage, SetQuotaRequest};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite};

/// One namenode URL, checked: `http://host:port` or `https://host:port` (a
/// bare `host:port` is taken as `http://`), without a trailing `/`.
fn parse_namenode_url(given: &str) -> Result<String> {
    let with_scheme = if given.contains("://") {
        given.to_string()
    } else {
        format!("http://{given}")
    };
    let parsed = reqwest::Url::parse(&with_scheme)
        .map_err(|e| ClientError::Invalid(format!("bad namenode URL {given:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ClientError::Invalid(format!(
            "bad namenode URL {given:?}: only http:// and https:// are supported"
        )));
    }
    if parsed.host_str().is_none() {
        return Err(ClientError::Invalid(format!(
            "bad namenode URL {given:?}: no host"
        )));
    }
    Ok(with_scheme.trim_end_matches('/').to_string())
}

/// A handle on one dfs cluster (cheap to clone).
#[derive(Clone)]
pub struct DfsClient {
    nn: namenode::NamenodeClient,
    dn: datanode::DatanodeClient,
}

impl DfsClient {
    /// `namenode_url` is `http://host:port` or `https://host:port` (a bare
    /// `host:port` is taken as `http://`; over https, the process's trust is
    /// [`tls`]'s), or several such, separated by `,` or `;` (the namenodes
    /// of one cluster: any of them serves, see `namenode`). Nothing is
    /// contacted yet.
    pub fn new(namenode_url: &str) -> Result<Self> {
        Self::build(namenode_url, None)
    }

    /// [`DfsClient::new`], trusting `trust` over `https://` rather than the
    /// process's trust.
    pub fn trusting(namenode_url: &str, trust: &tls::Trust) -> Result<Self> {
        Self::build(namenode_url, Some(trust))
    }

    fn build(namenode_url: &str, trust: Option<&tls::Trust>) -> Result<Self> {
        let urls = namenode_url
            .split([',', ';'])
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(parse_namenode_url)
            .collect::<Result<Vec<_>>>()?;
        if urls.is_empty() {
            return Err(ClientError::Invalid(format!(
                "bad namenode URL {namenode_url:?}: empty"
            )));
        }
        let https = |u: &String| u.starts_with("https://");
        if urls.iter().any(https) && !urls.iter().all(https) {
            return Err(ClientError::Invalid(format!(
                "bad namenode URLs {namenode_url:?}: the namenodes of one cluster are all \
                 http:// or all https://"
            )));
        }
        let http = |connect_timeout| {
            match trust {
                // A cluster on http:// is reached by no https:// URL
                // (datanodes advertise the scheme their namenode serves).
                _ if !urls.iter().any(https) => tls::plain_client_builder(),
                Some(t) => tls::client_builder_trusting(t),
                None => tls::client_builder()?,
            }
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| ClientError::Invalid(format!("cannot set up an HTTP client: {e}")))
        };
        let connect = if urls.len() > 1 {
            namenode::FAILOVER_CONNECT_TIMEOUT
        } else {
            namenode::CONNECT_TIMEOUT
        };
        Ok(Self {
            nn: namenode::NamenodeClient::with_bases(http(connect)?, &urls),
            dn: datanode::DatanodeClient::new(http(datanode::CONNECT_TIMEOUT)?),
        })
    }
    /// The same cluster, calling the namenode as the holder of `token`
    /// (`Authorization: Bearer`; access control on). Block access tokens
    /// come with block locations and need nothing here.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.nn = self.nn.with_token(token);
        self
    }

    /// The same cluster, written to by datanode `node` as a relay (WebHDFS
    /// CREATE/APPEND landing there): the namenode ends such writes when it
    /// declares that datanode dead.
    pub fn with_relay(mut self, node: dfs_common::ids::NodeId) -> Self {
        self.nn = self.nn.with_relay(node);
        self
    }

    pub fn namenode_url(&self) -> &str {
        self.nn.url()
    }

    /// The lower-level namenode calls (write protocol, one listing page, ...).
    pub fn namenode(&self) -> &namenode::NamenodeClient {
        &self.nn
    }

    /// The block protocol, for callers that move blocks themselves.
    pub fn datanode(&self) -> &datanode::DatanodeClient {
        &self.dn
    }

    pub async fn mkdirs(&self, path: &DfsPath, parents: bool) -> Result<FileStatus> {
        self.nn
            .mkdirs(&MkdirsRequest {
                path: path.clone(),
                parents,
                owner: None,
                permission: None,
            })
            .await
    }
    pub async fn status(&self, path: &DfsPath) -> Result<FileStatus> {
        self.nn.status(path).await
    }
    /// The extended attributes of each of `paths` (empty for a path that
    /// has none, is gone, or that the caller may not read).
    pub async fn xattrs(
        &self,
        paths: &[DfsPath],
    ) -> Result<Vec<dfs_common::proto::client::Xattrs>> {
        let mut out = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(dfs_common::proto::client::MAX_XATTR_PATHS) {
            let req = dfs_common::proto::client::XattrsRequest {
                paths: chunk.to_vec(),
            };
            let got = self.nn.xattrs(&req).await?;
            out.extend(got.xattrs);
        }
        Ok(out)
    }
    /// Complete files joined, in order, into a new file at `dst`, their
    /// blocks moved, not copied (see `ConcatRequest`).
    pub async fn concat(
        &self,
        req: &dfs_common::proto::client::ConcatRequest,
    ) -> Result<FileStatus> {
        self.nn.concat(req).await
    }
    /// One page of a directory's entries, after `start_after` (by name).
    pub async fn list_page(
        &self,
        path: &DfsPath,
        start_after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<dfs_common::proto::client::DirectoryListing> {
        self.nn.list(path, start_after, limit).await
    }
    /// A Hadoop delegation token of the caller, lasting `lifetime`.
    pub async fn hadoop_token(
        &self,
        lifetime: Option<std::time::Duration>,
    ) -> Result<dfs_common::proto::client::HadoopToken> {
        let req = dfs_common::proto::client::HadoopTokenRequest {
            lifetime_secs: lifetime.map(|d| d.as_secs().max(1)),
        };
        self.nn.hadoop_token(&req).await
    }
    /// A new S3 access key acting as `user` (its secret shown only here).
    pub async fn create_s3_key(&self, user: &str) -> Result<dfs_common::proto::client::S3Key> {
        let req = dfs_common::proto::client::S3KeyRequest {
            user: user.to_string(),
        };
        self.nn.create_s3_key(&req).await
    }
    pub async fn delete_s3_key(&self, access_key: &str) -> Result<()> {
        let req = dfs_common::proto::client::S3KeyDeleteRequest {
            access_key: access_key.to_string(),
        };
        self.nn.delete_s3_key(&req).await
    }
    pub async fn s3_keys(&self) -> Result<Vec<dfs_common::proto::client::S3Key>> {
        Ok(self.nn.s3_keys().await?.keys)
    }
    /// Every entry of a directory (all pages), or the file itself.
    pub async fn list(&self, path: &DfsPath) -> Result<Vec<FileStatus>> {
        let mut entries = Vec::new();
        let mut start_after: Option<String> = None;
        loop {
            let page = self.nn.list(path, start_after.as_deref(), None).await?;
            let last = page.entries.last().map(|e| e.name.clone());
            entries.extend(page.entries);
            match last {
                // An empty page that claims more would loop forever.
                Some(name) if page.has_more => start_after = Some(name),
                _ => return Ok(entries),
            }
        }
    }
    pub async fn rename(
        &self,
        src: &DfsPath,
        dst: &DfsPath,
        overwrite: bool,
    ) -> Result<FileStatus> {
        self.nn
            .rename(&RenameRequest {
                src: src.clone(),
                dst: dst.clone(),
                overwrite,
            })
            .await
    }
    pub async fn delete(&self, path: &DfsPath, recursive: bool) -> Result<DeleteResponse> {
        self.nn
            .delete(&DeleteRequest {
                path: path.clone(),
                recursive,
            })
            .await
    }
    /// `rm` through the trash: moved to the caller's trash, or deleted at
    /// once where the namenode has no trash or the path is in one.
    pub async fn trash(&self, path: &DfsPath, recursive: bool) -> Result<TrashResponse> {
        self.nn
            .trash(&TrashRequest {
                path: path.clone(),
                recursive,
            })
            .await
    }
    /// Times, mode, owner and group (`chmod`, `chown`, `chgrp`).
    pub async fn set_attributes(
        &self,
        req: &dfs_common::proto::client::SetAttributesRequest,
    ) -> Result<FileStatus> {
        self.nn.set_attributes(req).await
    }
    /// What changed under `path` from snapshot `from` to `to` (`.`: now).
    pub async fn snapshot_diff(
        &self,
        path: &DfsPath,
        from: &str,
        to: &str,
    ) -> Result<dfs_common::proto::client::SnapshotDiff> {
        self.nn.snapshot_diff(path, from, to).await
    }
    /// A snapshot call: `allow`, `disallow`, `create`, `delete`, `rename`.
    pub async fn snapshot(
        &self,
        op: &str,
        req: &dfs_common::proto::client::SnapshotRequest,
    ) -> Result<dfs_common::proto::client::SnapshotResponse> {
        self.nn.snapshot(op, req).await
    }
    /// Sets or clears a directory's quotas.
    pub async fn set_quota(&self, req: &SetQuotaRequest) -> Result<QuotaUsage> {
        self.nn.set_quota(req).await
    }
    /// A directory's quotas and what is used below it.
    pub async fn quota(&self, path: &DfsPath) -> Result<QuotaUsage> {
        self.nn.quota(path).await
    }
    /// Empties the caller's trash.
    pub async fn expunge(&self) -> Result<ExpungeResponse> {
        self.nn.expunge().await
    }
    pub async fn content_summary(&self, path: &DfsPath) -> Result<ContentSummary> {
        self.nn.content_summary(path).await
    }
    pub async fn set_replication(&self, path: &DfsPath, replication: u16) -> Result<FileStatus> {
        if replication == 0 {
            return Err(ClientError::Invalid(
                "replication must be at least 1".into(),
            ));
        }
        self.nn
            .set_replication(&SetReplicationRequest {
                path: path.clone(),
                replication,
            })
            .await
    }
    pub async fn locations(&self, path: &DfsPath) -> Result<FileLocations> {
        self.nn.locations(path).await
    }
    pub async fn summary(&self) -> Result<ClusterSummary> {
        self.nn.summary().await
    }
    pub async fn datanodes(&self) -> Result<Vec<DatanodeReport>> {
        self.nn.datanodes().await
    }
    /// The namenodes and who leads, as the namenode answering sees them.
    pub async fn namenodes(&self) -> Result<dfs_common::proto::client::NamenodesReport> {
        self.nn.namenodes().await
    }
    pub async fn fsck(&self, path: &DfsPath) -> Result<FsckReport> {
        self.nn.fsck(path).await
    }
    /// Adds the namenode at `url` (started with `--join`) to the group;
    /// returns once it votes.
    pub async fn add_namenode(
        &self,
        url: &str,
    ) -> Result<dfs_common::proto::client::NamenodesReport> {
        self.nn.change_namenodes(true, url).await
    }
    /// Takes the namenode at `url` out of the group.
    pub async fn remove_namenode(
        &self,
        url: &str,
    ) -> Result<dfs_common::proto::client::NamenodesReport> {
        self.nn.change_namenodes(false, url).await
    }

    /// Drains datanode `node` (a node id, a unique prefix of one, or its
    /// address `host:port` / URL): its replicas are copied elsewhere, then it
    /// is `decommissioned` and can be stopped. Answers its new report.
    pub async fn decommission(&self, node: &str) -> Result<AdminStateChange> {
        self.nn.decommission(node).await
    }

    /// Puts datanode `node` (named as for [`DfsClient::decommission`]) back
    /// into normal service.
    pub async fn recommission(&self, node: &str) -> Result<AdminStateChange> {
        self.nn.recommission(node).await
    }

    /// Puts datanode `node` into maintenance, for `duration` or until
    /// ended: it may be stopped without its blocks being copied while each
    /// keeps a live replica elsewhere (refused otherwise).
    pub async fn maintenance(
        &self,
        node: &str,
        duration: Option<std::time::Duration>,
    ) -> Result<AdminStateChange> {
        self.nn.maintenance(node, duration).await
    }

    /// Ends datanode `node`'s maintenance.
    pub async fn end_maintenance(&self, node: &str) -> Result<AdminStateChange> {
        self.nn.end_maintenance(node).await
    }

    /// Reports, enters or leaves the namenode's safe mode.
    pub async fn safe_mode(&self, action: SafeModeAction) -> Result<SafeModeStatus> {
        self.nn.safe_mode(action).await
    }

    /// What the namenode's balancer is doing.
    pub async fn balancer_status(&self) -> Result<dfs_common::proto::client::BalancerStatus> {
        self.nn.balancer_status().await
    }

    /// Starts the balancer: replicas move until every live node's used
    /// share is within `threshold` points of the cluster's.
    pub async fn start_balancer(
        &self,
        threshold: f64,
    ) -> Result<dfs_common::proto::client::BalancerStatus> {
        self.nn.start_balancer(threshold).await
    }

    /// Stops the balancer (moves in flight finish).
    pub async fn stop_balancer(&self) -> Result<dfs_common::proto::client::BalancerStatus> {
        self.nn.stop_balancer().await
    }

    /// Replicas on datanodes of blocks the namespace does not know.
    pub async fn orphans(&self) -> Result<OrphansReport> {
        self.nn.orphans().await
    }

    /// Orders every replica of an unknown block deleted (held or not).
    pub async fn delete_orphans(&self) -> Result<OrphansDeleted> {
        self.nn.delete_orphans().await
    }

    /// Writes a consistent checkpoint of the namenode's metadata to `out`,
    /// checked end to end as it arrives (`dfs backup`).
    pub async fn backup(
        &self,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<dfs_common::checkpoint::Summary> {
        let resp = self.nn.checkpoint().await?;
        backup::save(resp, out).await
    }

    /// Writes `reader` to `path` as a new file; visible only once complete.
    /// On failure nothing is left behind (the file is abandoned). `reader`
    /// need not be `Send`; when it is, so is this future.
    ///
    /// A block whose pipeline fails is sent again on another while it is at
    /// most 8 MiB into the block (the part kept in memory); past that the
    /// upload fails. A source that can seek should use
    /// [`DfsClient::upload_seekable`], which can always send a block again.
    pub async fn upload<R: AsyncRead + Unpin>(
        &self,
        path: &DfsPath,
        reader: R,
        opts: &UploadOptions,
        progress: &dyn Progress,
    ) -> Result<FileStatus> {
        let input = upload::Plain(reader);
        upload::upload(&self.nn, &self.dn, path, input, opts, progress).await
    }

    /// As [`DfsClient::upload`], from the reader's current position to its
    /// end, but a block whose pipeline fails is read again (by seeking back
    /// to its start) and sent on a new pipeline, whatever the block size,
    /// with memory still bounded by a few pieces.
    pub async fn upload_seekable<R: AsyncRead + AsyncSeek + Unpin>(
        &self,
        path: &DfsPath,
        reader: R,
        opts: &UploadOptions,
        progress: &dyn Progress,
    ) -> Result<FileStatus> {
        let input = upload::Seekable::new(reader).await?;
        upload::upload(&self.nn, &self.dn, path, input, opts, progress).await
    }

    /// Appends `reader` to the complete file at `path` (HDFS append): the
    /// file keeps its old content, visible, until the appended bytes are
    /// all written, then shows the new length and digest at once. Every
    /// block but the last stays full (a short last block is rewritten as a
    /// new block). An empty `reader` changes nothing. 409 while another
    /// client writes the file.
    pub async fn append<R: AsyncRead + Unpin>(
        &self,
        path: &DfsPath,
        reader: R,
        progress: &dyn Progress,
    ) -> Result<FileStatus> {
        upload::append(&self.nn, &self.dn, path, upload::Plain(reader), progress).await
    }

    /// Opens `path` for reading from `offset`, at most `length` bytes (to the
    /// end when `None`). An offset past the end is `ClientError::Invalid`;
    /// a directory too.
    pub async fn open(
        &self,
        path: &DfsPath,
        offset: u64,
        length: Option<u64>,
    ) -> Result<FileReader> {
        download::open(&self.nn, &self.dn, path, offset, length).await
    }

    /// Reads the whole file into `writer` (flushed at the end).
    pub async fn download<W: AsyncWrite + Unpin>(
        &self,
        path: &DfsPath,
        mut writer: W,
        progress: &dyn Progress,
    ) -> Result<FileStatus> {
        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let mut reader = self.open(path, 0, None).await?;
        while let Some(piece) = reader.next().await {
            let piece = piece?;
            writer.write_all(&piece).await?;
            progress.advance(piece.len() as u64);
        }
        writer.flush().await?;
        Ok(reader.status)
    }

    /// Reads the whole file into the blocking writer `out` (a file, stdout),
    /// written on a thread of its own while the next pieces arrive, without
    /// copying them on the way; gives `out` back, flushed. (Through tokio's
    /// file or stdout, every piece would be copied into their buffer and
    /// handed to the blocking pool.)
    pub async fn download_to<W: std::io::Write + Send + 'static>(
        &self,
        path: &DfsPath,
        out: W,
        progress: &dyn Progress,
    ) -> Result<(FileStatus, W)> {
        use futures_util::StreamExt;
        let mut reader = self.open(path, 0, None).await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(WRITE_QUEUE);
        let thread = tokio::task::spawn_blocking(move || -> std::io::Result<W> {
            let mut out = out;
            while let Some(batch) = rx.blocking_recv() {
                for piece in batch {
                    out.write_all(&piece)?;
                }
            }
            out.flush()?;
            Ok(out)
        });
        let mut batch = Vec::new();
        let mut batched = 0;
        let mut failed = None;
        while let Some(piece) = reader.next().await {
            let piece = match piece {
                Ok(p) => p,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            progress.advance(piece.len() as u64);
            batched += piece.len();
            batch.push(piece);
            if batched >= WRITE_BATCH {
                batched = 0;
                if tx.send(std::mem::take(&mut batch)).await.is_err() {
                    break; // the writer failed; it says why below
                }
            }
        }
        if failed.is_none() && !batch.is_empty() {
            let _ = tx.send(batch).await;
        }
        drop(tx);
        let written = thread
            .await
            .map_err(|e| ClientError::Transport(format!("the writing thread failed: {e}")))?;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok((reader.status, written?))
    }
}

/// Batches of downloaded pieces queued for the writing thread.
const WRITE_QUEUE: usize = 16;
/// Bytes per batch.
const WRITE_BATCH: usize = 512 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namenode_urls() {
        assert_eq!(
            DfsClient::new("http://127.0.0.1:9870/")
                .unwrap()
                .namenode_url(),
            "http://127.0.0.1:9870"
        );
        assert_eq!(
            DfsClient::new("localhost:9870").unwrap().namenode_url(),
            "http://localhost:9870"
        );
        // Several namenodes, `,` or `;` between them: the first is called first.
        assert_eq!(
            DfsClient::new(" a:1, http://b:2/ ;c:3")
                .unwrap()
                .namenode_url(),
            "http://a:1"
        );
        // One cluster speaks one scheme.
        assert!(matches!(
            DfsClient::new("a:1,https://b:2"),
            Err(ClientError::Invalid(_))
        ));
        assert!(matches!(
            DfsClient::new(" , "),
            Err(ClientError::Invalid(_))
        ));
        assert_eq!(
            DfsClient::new("https://x:1/").unwrap().namenode_url(),
            "https://x:1"
        );
        assert!(matches!(
            DfsClient::new("ftp://x:1"),
            Err(ClientError::Invalid(_))
        ));
        assert!(matches!(
            DfsClient::new("http://"),
            Err(ClientError::Invalid(_))
        ));
    }

    fn assert_send<T: Send>(_: &T) {}

    /// Callers spawn these futures (a `Send` source gives a `Send` upload).
    #[test]
    fn futures_are_send() {
        let c = DfsClient::new("http://127.0.0.1:1").unwrap();
        let p = DfsPath::root();
        let opts = UploadOptions::default();
        let data: &[u8] = b"x";
        assert_send(&c.upload(&p, data, &opts, &NoProgress));
        assert_send(&c.append(&p, data, &NoProgress));
        let file = std::io::Cursor::new(vec![1u8, 2, 3]);
        assert_send(&c.upload_seekable(&p, file, &opts, &NoProgress));
        assert_send(&c.decommission("x"));
        assert_send(&c.safe_mode(SafeModeAction::Get));
        assert_send(&c.open(&p, 0, None));
        assert_send(&c.download(&p, tokio::io::sink(), &NoProgress));
        assert_send(&c.list(&p));
    }
}
