//! `NamenodeClient`: one method per namenode HTTP endpoint (the native RPC
//! under `/rpc/v1` and the cluster API under `/api/v1`), each turning an
//! error answer into a [`ClientError`].
//!
//! It does not know how files become blocks (that is `upload` / `download`)
//! and never talks to datanodes. Every call is a small JSON exchange, so each
//! has an overall timeout; block data never goes through here.
//!
//! Retries: a metadata read (a GET) that could not reach the namenode or
//! lost the connection is sent again a few times with a growing pause
//! ([`GET_RETRY_PAUSES`]), so a namenode that restarts or hiccups briefly
//! does not fail a read. A call under `/rpc/v1` that changes the namespace
//! carries a fresh request id ([`REQUEST_ID_HEADER`]) and is sent again,
//! with the same id, under the same rule: if the first one took effect and
//! only its answer was lost, the namenode's retry cache answers the retry
//! with the first result instead of applying it twice. An answer (a 503 in
//! safe mode included) is final.
//!
//! Several namenodes (a list given to [`NamenodeClient::with_bases`]): any
//! one serves any call (followers forward to the leader). A call that
//! could not reach one, or got a 503 from it (no leader known there, or
//! the leader lost), is sent to the next one; once every one was tried, it
//! pauses ([`failover_pauses`]) and goes round again, for about 12 s; the
//! one that answered is used first from then on.
use crate::error::{ClientError, Result};
use dfs_common::ids::{FileId, NodeId, RequestId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, AdminStateChange, AppendRequest, AppendResponse,
    BadReplicaReport, ClusterSummary, CompleteRequest, ContentSummary, CreateRequest,
    CreateResponse, DatanodeReport, DeleteRequest, DeleteResponse, DirectoryListing,
    ExpungeResponse, FileIdRequest, FileLocations, FileStatus, FsckReport, LocatedBlock,
    MkdirsRequest, OrphansDeleted, OrphansReport, RenameRequest, SetAttributesRequest,
    SetReplicationRequest, TrashRequest, TrashResponse, RELAY_HEADER, REQUEST_ID_HEADER,
    RPC_PREFIX, STANDBY_HEADER,
};
use dfs_common::proto::client::{QuotaUsage, SetQuotaRequest, SnapshotRequest, SnapshotResponse};
use dfs_common::proto::client::{
    S3Key, S3KeyDeleteRequest, S3KeyList, S3KeyRequest, XattrsRequest, XattrsResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// How long to wait for a TCP connection to any dfs server.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The same when other namenodes could answer instead.
pub(crate) const FAILOVER_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A metadata call that takes longer than this is treated as failed. Generous:
/// `complete` may wait for replicas to be reported, `fsck` walks a namespace.
const RPC_TIMEOUT: Duration = Duration::from_secs(120);
/// Adding a namenode waits for it to catch up (the namenode gives up
/// after ten minutes).
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The cluster API prefix (`/api/v1/summary`, ...).
const CLUSTER_PREFIX: &str = "/api/v1";

/// Pauses before each new try of a GET that did not reach the namenode:
/// about 1.5 s in all, enough to ride out a restart's listen gap without
/// making a dead namenode slow to report.
pub(crate) const GET_RETRY_PAUSES: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
];

/// Pauses before each new round of tries when several namenodes are
/// known: 100, 200, 400 ms, then every 500 ms, about 12 s in all, past a
/// leader's election (a new one serves within about 3-4 s of the old one's
/// death with the default timings), and fine enough not to add much to it.
fn failover_pauses() -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(Duration::from_millis(100)), |d| {
        Some((*d * 2).min(Duration::from_millis(500)))
    })
    .take(26)
}

pub use dfs_common::proto::client::{SafeModeAction, SafeModeStatus};

/// Whether a failed GET is worth sending again: the namenode was not
/// reached or the connection broke, but it did not time out (a slow answer
/// would only be slow again) nor send something unreadable.
fn get_is_retryable(e: &reqwest::Error) -> bool {
    !e.is_timeout() && !e.is_decode() && !e.is_status() && !e.is_builder()
}

/// How a datanode is named in an admin URL: an id, an id prefix or an
/// address. A URL becomes `host:port` (what the namenode matches too), so
/// no `/` needs escaping in the path segment.
pub(crate) fn node_ref(node: &str) -> &str {
    let n = node.trim();
    let n = n
        .strip_prefix("http://")
        .or_else(|| n.strip_prefix("https://"))
        .unwrap_or(n);
    n.trim_end_matches('/')
}

/// A handle on one namenode (cheap to clone).
#[derive(Clone)]
pub struct NamenodeClient {
    http: reqwest::Client,
    /// Every namenode's URL (one, unless a list was given).
    bases: std::sync::Arc<[String]>,
    /// The one to call first: the last that answered.
    current: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    base: String,
    /// "namenode at http://..": how errors name this server.
    who: String,
    /// Sent as `Authorization: Bearer` on every call (access control on).
    token: Option<String>,
    /// The datanode this client relays writes for, sent as
    /// [`RELAY_HEADER`] on every call.
    relay: Option<NodeId>,
}

impl NamenodeClient {
    /// `base` is the namenode's URL (`http://host:port`, no trailing slash).
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self::with_bases(http, &[base.to_string()])
    }

    /// A handle on the namenodes at `bases` (at least one; each
    /// `http://host:port`), calling whichever answers.
    pub fn with_bases(http: reqwest::Client, bases: &[String]) -> Self {
        let bases: Vec<String> = bases
            .iter()
            .map(|b| b.trim_end_matches('/').to_string())
            .collect();
        let base = bases.first().cloned().unwrap_or_default();
        let who = if bases.len() > 1 {
            format!("namenodes at {}", bases.join(","))
        } else {
            format!("namenode at {base}")
        };
        Self {
            http,
            bases: bases.into(),
            current: Default::default(),
            base,
            who,
            token: None,
            relay: None,
        }
    }

    /// The namenode to call now.
    fn base_now(&self) -> &str {
        let i = self.current.load(std::sync::atomic::Ordering::Relaxed);
        self.bases
            .get(i % self.bases.len().max(1))
            .map_or(&self.base, |b| b.as_str())
    }

    /// After a failed try: the next namenode.
    fn fail_over(&self, from: usize) {
        let _ = self.current.compare_exchange(
            from,
            (from + 1) % self.bases.len().max(1),
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The same namenode, calling as the holder of `token`.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// The same namenode, called by datanode `node` relaying writes (see
    /// [`RELAY_HEADER`]).
    pub fn with_relay(mut self, node: NodeId) -> Self {
        self.relay = Some(node);
        self
    }

    /// Adds the bearer token and the relay header, if any.
    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = match &self.relay {
            Some(n) => req.header(RELAY_HEADER, n.to_string()),
            None => req,
        };
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// The namenode calls go to first now.
    pub fn url(&self) -> &str {
        self.base_now()
    }

    fn endpoint(&self, prefix: &str, name: &str, query: &[(&str, &str)]) -> Result<reqwest::Url> {
        let base = self.base_now();
        let mut url = reqwest::Url::parse(&format!("{base}{prefix}/{name}"))
            .map_err(|e| ClientError::Invalid(format!("bad namenode URL {base:?}: {e}")))?;
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

    /// A metadata read; retried while the namenode cannot be reached (see
    /// the module doc).
    async fn get<T: DeserializeOwned>(
        &self,
        prefix: &str,
        name: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        let resp = self
            .send_retrying(name, || {
                Ok(self.authed(self.http.get(self.endpoint(prefix, name, query)?)))
            })
            .await?;
        self.answer(resp).await
    }

    /// Sends the request `build` makes, and again (a new one from `build`,
    /// to the next namenode when there are several) after a pause while
    /// the namenode could not be reached (see the module doc).
    async fn send_retrying(
        &self,
        name: &str,
        build: impl Fn() -> Result<reqwest::RequestBuilder>,
    ) -> Result<reqwest::Response> {
        let several = self.bases.len() > 1;
        let mut pauses: Box<dyn Iterator<Item = Duration> + Send> = if several {
            Box::new(failover_pauses())
        } else {
            Box::new(GET_RETRY_PAUSES.iter().copied())
        };
        // Tries since the last pause: with several namenodes, each is tried
        // once before a pause (a dead one refuses at once; the pauses are
        // for an election to end, not for each namenode).
        let mut round = 0usize;
        loop {
            let at = self.current.load(std::sync::atomic::Ordering::Relaxed);
            let (e, retryable) = match build()?.timeout(RPC_TIMEOUT).send().await {
                // A namenode that cannot serve now (no leader known to it:
                // an election; not the cluster's own state, safe mode or no
                // datanodes, which any namenode would answer the same).
                Ok(resp) if resp.headers().contains_key(STANDBY_HEADER) => {
                    let status = resp.status();
                    let body = resp.bytes().await.unwrap_or_default();
                    (ClientError::from_error_answer(status.as_u16(), &body), true)
                }
                Ok(resp) => return Ok(resp),
                Err(e) => {
                    let retry = get_is_retryable(&e) || (several && e.is_timeout());
                    (ClientError::transport(&self.who, &e), retry)
                }
            };
            if !retryable {
                return Err(e);
            }
            if several {
                self.fail_over(at);
                round += 1;
                if round < self.bases.len() {
                    log::debug!("{e}; sending {name} to the next namenode");
                    continue;
                }
                round = 0;
            }
            match pauses.next() {
                Some(pause) => {
                    log::debug!("{} not answering ({e}); sending {name} again", self.who);
                    tokio::time::sleep(pause).await;
                }
                None => return Err(e),
            }
        }
    }

    /// An operator's POST to the URL `url` builds (for the namenode being
    /// tried), with no body. Sent again, to the next namenode when there
    /// are several, while none could be reached, as reads are: every one
    /// of these sets a state (decommission, maintenance, safe mode, the
    /// balancer, orphans deleted), so sending it twice does what once does.
    async fn post_url<T: DeserializeOwned>(
        &self,
        name: &str,
        url: impl Fn() -> Result<reqwest::Url>,
    ) -> Result<T> {
        let resp = self
            .send_retrying(name, || Ok(self.authed(self.http.post(url()?))))
            .await?;
        self.answer(resp).await
    }

    /// One call under `/rpc/v1`, as one client call (one request id) however
    /// many times it is sent (see the module doc).
    async fn send_post<B: Serialize>(&self, name: &str, body: &B) -> Result<reqwest::Response> {
        let id = RequestId::new().to_string();
        let resp = self
            .send_retrying(name, || {
                Ok(self
                    .authed(self.http.post(self.endpoint(RPC_PREFIX, name, &[])?))
                    .header(REQUEST_ID_HEADER, &id)
                    .json(body))
            })
            .await?;
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

    pub async fn concat(
        &self,
        req: &dfs_common::proto::client::ConcatRequest,
    ) -> Result<FileStatus> {
        self.post("concat", req).await
    }

    pub async fn xattrs(&self, req: &XattrsRequest) -> Result<XattrsResponse> {
        self.post("xattrs", req).await
    }

    pub async fn hadoop_token(
        &self,
        req: &dfs_common::proto::client::HadoopTokenRequest,
    ) -> Result<dfs_common::proto::client::HadoopToken> {
        self.post("hadoop/token", req).await
    }

    pub async fn create_s3_key(&self, req: &S3KeyRequest) -> Result<S3Key> {
        self.post("s3/keys/create", req).await
    }

    pub async fn delete_s3_key(&self, req: &S3KeyDeleteRequest) -> Result<()> {
        self.post_unit("s3/keys/delete", req).await
    }

    pub async fn s3_keys(&self) -> Result<S3KeyList> {
        self.get(RPC_PREFIX, "s3/keys", &[]).await
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

    pub async fn trash(&self, req: &TrashRequest) -> Result<TrashResponse> {
        self.post("trash", req).await
    }

    pub async fn expunge(&self) -> Result<ExpungeResponse> {
        self.post("expunge", &serde_json::json!({})).await
    }

    pub async fn snapshot_diff(
        &self,
        path: &DfsPath,
        from: &str,
        to: &str,
    ) -> Result<dfs_common::proto::client::SnapshotDiff> {
        let q = [("path", path.as_str()), ("from", from), ("to", to)];
        self.get(RPC_PREFIX, "snapshot_diff", &q).await
    }

    pub async fn snapshot(&self, op: &str, req: &SnapshotRequest) -> Result<SnapshotResponse> {
        self.post(&format!("snapshot/{op}"), req).await
    }

    pub async fn set_quota(&self, req: &SetQuotaRequest) -> Result<QuotaUsage> {
        self.post("set_quota", req).await
    }

    pub async fn quota(&self, path: &DfsPath) -> Result<QuotaUsage> {
        self.get(RPC_PREFIX, "quota", &[("path", path.as_str())])
            .await
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

    pub async fn append(&self, req: &AppendRequest) -> Result<AppendResponse> {
        self.post("append", req).await
    }

    pub async fn set_attributes(&self, req: &SetAttributesRequest) -> Result<FileStatus> {
        self.post("set_attributes", req).await
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

    /// `GET /api/v1/namenodes`: the namenodes as the one answering sees
    /// them.
    pub async fn namenodes(&self) -> Result<dfs_common::proto::client::NamenodesReport> {
        self.get(CLUSTER_PREFIX, "namenodes", &[]).await
    }

    /// `POST /api/v1/namenodes {"url"}` (`add`) or `DELETE
    /// /api/v1/namenodes?url=`. Adding waits while the newcomer catches up
    /// (a snapshot of a big namespace): no short timeout.
    pub async fn change_namenodes(
        &self,
        add: bool,
        url: &str,
    ) -> Result<dfs_common::proto::client::NamenodesReport> {
        let req = if add {
            self.http
                .post(self.endpoint(CLUSTER_PREFIX, "namenodes", &[])?)
                .json(&serde_json::json!({ "url": url }))
        } else {
            self.http
                .delete(self.endpoint(CLUSTER_PREFIX, "namenodes", &[("url", url)])?)
        };
        let resp = self
            .authed(req)
            .timeout(MEMBERSHIP_TIMEOUT)
            .send()
            .await
            .map_err(|e| ClientError::transport(&self.who, &e))?;
        self.answer(resp).await
    }

    pub async fn fsck(&self, path: &DfsPath) -> Result<FsckReport> {
        self.get(CLUSTER_PREFIX, "fsck", &[("path", path.as_str())])
            .await
    }

    /// `GET /api/v1/blocks?path=`: a file's blocks and their live replicas.
    pub async fn blocks(&self, path: &DfsPath) -> Result<FileLocations> {
        self.get(CLUSTER_PREFIX, "blocks", &[("path", path.as_str())])
            .await
    }

    // --- administration --------------------------------------------------

    /// `POST /api/v1/datanodes/{node}/{action}`.
    fn admin_url(&self, node: &str, action: &str) -> Result<reqwest::Url> {
        let node = node_ref(node);
        if node.is_empty() {
            return Err(ClientError::Invalid(
                "no datanode given (an id, an id prefix or host:port)".into(),
            ));
        }
        let mut url = self.endpoint(CLUSTER_PREFIX, "datanodes", &[])?;
        url.path_segments_mut()
            .map_err(|()| ClientError::Invalid(format!("bad namenode URL {:?}", self.base)))?
            .push(node)
            .push(action);
        Ok(url)
    }

    /// Starts draining `node` (an id, a unique id prefix, or its address):
    /// its replicas are copied elsewhere, then it is `decommissioned`.
    pub async fn decommission(&self, node: &str) -> Result<AdminStateChange> {
        self.post_url("decommission", || self.admin_url(node, "decommission"))
            .await
    }

    /// Puts `node` back into normal service.
    pub async fn recommission(&self, node: &str) -> Result<AdminStateChange> {
        self.post_url("recommission", || self.admin_url(node, "recommission"))
            .await
    }

    /// Puts `node` into maintenance, for `duration` or until ended.
    pub async fn maintenance(
        &self,
        node: &str,
        duration: Option<std::time::Duration>,
    ) -> Result<AdminStateChange> {
        let url = || {
            let mut url = self.admin_url(node, "maintenance")?;
            if let Some(d) = duration {
                url.query_pairs_mut()
                    .append_pair("for", &format!("{}s", d.as_secs().max(1)));
            }
            Ok(url)
        };
        self.post_url("maintenance", url).await
    }

    /// Ends `node`'s maintenance.
    pub async fn end_maintenance(&self, node: &str) -> Result<AdminStateChange> {
        let url = || {
            let mut url = self.admin_url(node, "maintenance")?;
            url.path_segments_mut()
                .map_err(|()| ClientError::Invalid(format!("bad namenode URL {:?}", self.base)))?
                .push("end");
            Ok(url)
        };
        self.post_url("maintenance/end", url).await
    }

    /// `GET /api/v1/orphans`: replicas of blocks the namespace does not know.
    pub async fn orphans(&self) -> Result<OrphansReport> {
        self.get(CLUSTER_PREFIX, "orphans", &[]).await
    }

    /// `POST /api/v1/orphans/delete`: the operator's word to delete them.
    pub async fn delete_orphans(&self) -> Result<OrphansDeleted> {
        self.post_url("orphans/delete", || {
            self.endpoint(CLUSTER_PREFIX, "orphans/delete", &[])
        })
        .await
    }

    /// `GET /api/v1/checkpoint`: the answer, its body not yet read (no
    /// overall timeout: a checkpoint of a large namespace takes a while).
    pub async fn checkpoint(&self) -> Result<reqwest::Response> {
        let url = self.endpoint(CLUSTER_PREFIX, "checkpoint", &[])?;
        let resp = self
            .authed(self.http.get(url))
            .send()
            .await
            .map_err(|e| ClientError::transport(&self.who, &e))?;
        self.check(resp).await
    }

    /// `POST /api/v1/safemode?action=`.
    pub async fn safe_mode(&self, action: SafeModeAction) -> Result<SafeModeStatus> {
        self.post_url("safemode", || {
            self.endpoint(CLUSTER_PREFIX, "safemode", &[("action", action.as_str())])
        })
        .await
    }

    /// `GET /api/v1/balancer`.
    pub async fn balancer_status(&self) -> Result<dfs_common::proto::client::BalancerStatus> {
        self.get(CLUSTER_PREFIX, "balancer", &[]).await
    }

    /// `POST /api/v1/balancer?threshold=PCT`.
    pub async fn start_balancer(
        &self,
        threshold: f64,
    ) -> Result<dfs_common::proto::client::BalancerStatus> {
        let t = threshold.to_string();
        self.post_url("balancer", || {
            self.endpoint(CLUSTER_PREFIX, "balancer", &[("threshold", t.as_str())])
        })
        .await
    }

    /// `POST /api/v1/balancer/stop`.
    pub async fn stop_balancer(&self) -> Result<dfs_common::proto::client::BalancerStatus> {
        self.post_url("balancer/stop", || {
            self.endpoint(CLUSTER_PREFIX, "balancer/stop", &[])
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_pauses_outlast_an_election_in_fine_steps() {
        let p: Vec<Duration> = failover_pauses().collect();
        let total: Duration = p.iter().sum();
        assert!(
            total >= Duration::from_secs(10) && total <= Duration::from_secs(15),
            "{total:?}"
        );
        assert!(p.iter().all(|d| *d <= Duration::from_millis(500)));
    }

    #[test]
    fn several_namenodes_rotate_from_the_one_that_failed() {
        let bases = [
            "http://a:1".to_string(),
            "http://b:2".into(),
            "http://c:3".into(),
        ];
        let nn = NamenodeClient::with_bases(reqwest::Client::new(), &bases);
        assert_eq!(nn.url(), "http://a:1");
        nn.fail_over(0);
        assert_eq!(nn.url(), "http://b:2");
        // A late failure of the first one does not move past the second.
        nn.fail_over(0);
        assert_eq!(nn.url(), "http://b:2");
        nn.fail_over(1);
        nn.fail_over(2);
        assert_eq!(nn.url(), "http://a:1");
    }

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

    #[test]
    fn admin_urls() {
        let nn = NamenodeClient::new(reqwest::Client::new(), "http://127.0.0.1:9870");
        let u = nn.admin_url("0192ab", "decommission").unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9870/api/v1/datanodes/0192ab/decommission"
        );
        let u = nn
            .admin_url(" http://10.0.0.5:9864/ ", "recommission")
            .unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9870/api/v1/datanodes/10.0.0.5:9864/recommission"
        );
        // Anything odd is escaped into the one segment.
        let u = nn.admin_url("a/b c", "decommission").unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9870/api/v1/datanodes/a%2Fb%20c/decommission"
        );
        assert!(matches!(
            nn.admin_url(" http:// ", "decommission"),
            Err(ClientError::Invalid(_))
        ));
        let u = nn
            .endpoint(CLUSTER_PREFIX, "safemode", &[("action", "leave")])
            .unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9870/api/v1/safemode?action=leave"
        );
    }

    #[test]
    fn safe_mode_answers() {
        let s: SafeModeStatus =
            serde_json::from_str(r#"{"safe_mode":true,"reason":"3 of 9 blocks reported"}"#)
                .unwrap();
        assert!(s.safe_mode);
        assert_eq!(s.reason.as_deref(), Some("3 of 9 blocks reported"));
        let s: SafeModeStatus =
            serde_json::from_str(r#"{"safe_mode":false,"reason":null}"#).unwrap();
        assert_eq!(s, SafeModeStatus::default());
    }

    /// A namenode that is not listening costs a few short pauses, then a
    /// clear error.
    #[tokio::test]
    async fn unreachable_get_is_retried_then_fails() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let nn = NamenodeClient::new(reqwest::Client::new(), &format!("http://127.0.0.1:{port}"));
        let t = std::time::Instant::now();
        let e = nn.summary().await.unwrap_err();
        let total: Duration = GET_RETRY_PAUSES.iter().sum();
        assert!(t.elapsed() >= total, "{:?}", t.elapsed());
        assert!(e.to_string().contains("cannot reach namenode"), "{e}");
    }
}
