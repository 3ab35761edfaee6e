//! `NamenodeClient`: one method per namenode HTTP endpoint (the native RPC
//! under `/rpc/v1` and the cluster API under `/api/v1`), each turning an
//! error answer into a [`ClientError`].
//!
//! It does not know how files become blocks (that is `upload` / `download`)
//! and never talks to datanodes. Every call is a small JSON exchange, so each
//! has an overall timeout; block data never goes through here.
use crate::error::{ClientError, Result};
use dfs_common::ids::FileId;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, BadReplicaReport, ClusterSummary, CompleteRequest,
    ContentSummary, CreateRequest, CreateResponse, DatanodeReport, DeleteRequest, DeleteResponse,
    DirectoryListing, FileIdRequest, FileLocations, FileStatus, FsckReport, LocatedBlock,
    MkdirsRequest, RenameRequest, SetReplicationRequest, RPC_PREFIX,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// How long to wait for a TCP connection to any dfs server.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A metadata call that takes longer than this is treated as failed. Generous:
/// `complete` may wait for replicas to be reported, `fsck` walks a namespace.
const RPC_TIMEOUT: Duration = Duration::from_secs(120);

/// The cluster API prefix (`/api/v1/summary`, ...).
const CLUSTER_PREFIX: &str = "/api/v1";

/// A handle on one namenode (cheap to clone).
#[derive(Clone)]
pub struct NamenodeClient {
    http: reqwest::Client,
    base: String,
    /// "namenode at http://..": how errors name this server.
    who: String,
}

impl NamenodeClient {
    /// `base` is the namenode's URL (`http://host:port`, no trailing slash).
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        let base = base.trim_end_matches('/').to_string();
        let who = format!("namenode at {base}");
        Self { http, base, who }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn endpoint(&self, prefix: &str, name: &str, query: &[(&str, &str)]) -> Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(&format!("{}{prefix}/{name}", self.base))
            .map_err(|e| ClientError::Invalid(format!("bad namenode URL {:?}: {e}", self.base)))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    async fn answer<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T> {
        let resp = self.check(resp).await?;
        resp.json::<T>()
            .await
            .map_err(|e| ClientError::transport(&self.who, &e))
    }

    /// Non-2xx → the error it carries.
    async fn check(&self, resp: reqwest::Response) -> Result<reqwest::Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(ClientError::from_error_answer(status.as_u16(), &body))
    }

    async fn get<T: DeserializeOwned>(
        &self,
        prefix: &str,
        name: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        let url = self.endpoint(prefix, name, query)?;
        let resp = self
            .http
            .get(url)
            .timeout(RPC_TIMEOUT)
            .send()
            .await
            .map_err(|e| ClientError::transport(&self.who, &e))?;
        self.answer(resp).await
    }

    async fn send_post<B: Serialize>(&self, name: &str, body: &B) -> Result<reqwest::Response> {
        let url = self.endpoint(RPC_PREFIX, name, &[])?;
        let resp = self
            .http
            .post(url)
            .timeout(RPC_TIMEOUT)
            .json(body)
            .send()
            .await
            .map_err(|e| ClientError::transport(&self.who, &e))?;
        self.check(resp).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, name: &str, body: &B) -> Result<T> {
        let resp = self.send_post(name, body).await?;
        resp.json::<T>()
            .await
            .map_err(|e| ClientError::transport(&self.who, &e))
    }

    /// A POST whose answer body does not matter, only its status.
    async fn post_unit<B: Serialize>(&self, name: &str, body: &B) -> Result<()> {
        let resp = self.send_post(name, body).await?;
        // Drain so the connection can be reused; its content is not needed.
        let _ = resp.bytes().await;
        Ok(())
    }

    // --- namespace -------------------------------------------------------

    pub async fn mkdirs(&self, req: &MkdirsRequest) -> Result<FileStatus> {
        self.post("mkdirs", req).await
    }

    pub async fn status(&self, path: &DfsPath) -> Result<FileStatus> {
        self.get(RPC_PREFIX, "status", &[("path", path.as_str())])
            .await
    }

    /// One page of a listing.
    pub async fn list(
        &self,
        path: &DfsPath,
        start_after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<DirectoryListing> {
        let limit = limit.map(|l| l.to_string());
        let mut query = vec![("path", path.as_str())];
        if let Some(s) = start_after {
            query.push(("start_after", s));
        }
        if let Some(l) = &limit {
            query.push(("limit", l.as_str()));
        }
        self.get(RPC_PREFIX, "list", &query).await
    }

    pub async fn rename(&self, req: &RenameRequest) -> Result<FileStatus> {
        self.post("rename", req).await
    }

    pub async fn delete(&self, req: &DeleteRequest) -> Result<DeleteResponse> {
        self.post("delete", req).await
    }

    pub async fn content_summary(&self, path: &DfsPath) -> Result<ContentSummary> {
        self.get(RPC_PREFIX, "content_summary", &[("path", path.as_str())])
            .await
    }

    pub async fn set_replication(&self, req: &SetReplicationRequest) -> Result<FileStatus> {
        self.post("setrep", req).await
    }

    // --- write protocol --------------------------------------------------

    pub async fn create(&self, req: &CreateRequest) -> Result<CreateResponse> {
        self.post("create", req).await
    }

    pub async fn add_block(&self, req: &AddBlockRequest) -> Result<LocatedBlock> {
        self.post("add_block", req).await
    }

    pub async fn abandon_block(&self, req: &AbandonBlockRequest) -> Result<()> {
        self.post_unit("abandon_block", req).await
    }

    pub async fn complete(&self, req: &CompleteRequest) -> Result<FileStatus> {
        self.post("complete", req).await
    }

    pub async fn renew_lease(&self, file_id: FileId) -> Result<()> {
        self.post_unit("renew_lease", &FileIdRequest { file_id })
            .await
    }

    pub async fn abandon_file(&self, file_id: FileId) -> Result<()> {
        self.post_unit("abandon_file", &FileIdRequest { file_id })
            .await
    }

    // --- read protocol ---------------------------------------------------

    pub async fn locations(&self, path: &DfsPath) -> Result<FileLocations> {
        self.get(RPC_PREFIX, "locations", &[("path", path.as_str())])
            .await
    }

    pub async fn report_bad_replica(&self, report: &BadReplicaReport) -> Result<()> {
        self.post_unit("report_bad_replica", report).await
    }

    // --- cluster ---------------------------------------------------------

    pub async fn summary(&self) -> Result<ClusterSummary> {
        self.get(CLUSTER_PREFIX, "summary", &[]).await
    }

    pub async fn datanodes(&self) -> Result<Vec<DatanodeReport>> {
        self.get(CLUSTER_PREFIX, "datanodes", &[]).await
    }

    pub async fn fsck(&self, path: &DfsPath) -> Result<FsckReport> {
        self.get(CLUSTER_PREFIX, "fsck", &[("path", path.as_str())])
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_encoded() {
        let nn = NamenodeClient::new(reqwest::Client::new(), "http://127.0.0.1:9870/");
        let u = nn
            .endpoint(
                RPC_PREFIX,
                "list",
                &[("path", "/a b/c&d"), ("start_after", "x")],
            )
            .unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9870/rpc/v1/list?path=%2Fa+b%2Fc%26d&start_after=x"
        );
        let u = nn.endpoint(CLUSTER_PREFIX, "summary", &[]).unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:9870/api/v1/summary");
    }
}
