//! Raft traffic between namenodes, over their HTTP ports: the client side
//! (openraft's `RaftNetwork`) and the endpoints that answer it.
//!
//! Each RPC is a POST of a `dfs_common::codec` body to
//! `<node>/internal/v1/raft/<append|vote|snapshot>` (the datanode protocol's
//! prefix, so access control guards it with the cluster credential); the
//! answer is the codec encoding of the receiving `Raft`'s `Result`, so a
//! remote Raft error reaches the sender as openraft's `RemoteError`.
//! Snapshots go in openraft's chunks (`install_snapshot`), read from the
//! snapshot's file as they are sent.
//!
//! A test hook cuts links (`Network::partition`, `POST <PREFIX>/partition`
//! with `DFS_TEST_HOOKS` set): a node whose links are cut neither sends to
//! nor answers the nodes named (partition tests without root; the
//! namenodes' HTTP forwarding and the datanodes still get through).
use super::TypeConfig;
use dfs_common::codec;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

/// The endpoints' prefix.
pub const PREFIX: &str = "/internal/v1/raft";
/// With this variable set, `POST <PREFIX>/partition` cuts links (tests).
const TEST_HOOKS: &str = "DFS_TEST_HOOKS";

/// Makes a client per peer; shares one HTTP client and the cut links.
#[derive(Clone)]
pub struct Network {
    http: reqwest::Client,
    /// Peers this node neither sends to nor answers (test hook).
    cut: Arc<RwLock<BTreeSet<u64>>>,
    /// What the cluster credential adds to each request (access control).
    credential: Option<String>,
}

impl Network {
    pub fn new(credential: Option<String>) -> anyhow::Result<Network> {
        // The pool's idle timeout is shorter than the peers' keep-alive (see
        // `api::forward`).
        let http = dfs_client::tls::client_builder()?
            .connect_timeout(std::time::Duration::from_secs(2))
            .build()?;
        Ok(Network {
            http,
            cut: Arc::default(),
            credential,
        })
    }

    /// Cuts the links to `peers` (and restores every other one).
    pub fn partition(&self, peers: BTreeSet<u64>) {
        *self.cut.write().unwrap_or_else(|e| e.into_inner()) = peers;
    }

    /// Whether the link to `peer` is cut.
    pub fn is_cut(&self, peer: u64) -> bool {
        self.cut
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&peer)
    }
}

/// The client to one peer.
pub struct Peer {
    net: Network,
    id: u64,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        Peer {
            net: self.clone(),
            id: target,
            addr: node.addr.trim_end_matches('/').to_string(),
        }
    }
}

/// Why an RPC did not get an answer from the peer's Raft.
#[derive(Debug, thiserror::Error)]
#[error("raft rpc to {peer}: {what}")]
struct RpcFailure {
    peer: String,
    what: String,
}

impl Peer {
    async fn call<Req, Resp, E>(
        &self,
        name: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let fail = |what: String| RpcFailure {
            peer: self.addr.clone(),
            what,
        };
        if self.net.is_cut(self.id) {
            return Err(RPCError::Unreachable(Unreachable::new(&fail(
                "link cut (test hook)".into(),
            ))));
        }
        let body = codec::encode(req)
            .map_err(|e| RPCError::Network(NetworkError::new(&fail(e.to_string()))))?;
        let mut request = self
            .net
            .http
            .post(format!("{}{PREFIX}/{name}", self.addr))
            .timeout(option.hard_ttl())
            .header(reqwest::header::CONTENT_TYPE, codec::CONTENT_TYPE)
            .body(body);
        if let Some(c) = &self.net.credential {
            request = request.bearer_auth(c);
        }
        let resp = request.send().await.map_err(|e| {
            if e.is_connect() {
                RPCError::Unreachable(Unreachable::new(&fail(e.to_string())))
            } else {
                RPCError::Network(NetworkError::new(&fail(e.to_string())))
            }
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| RPCError::Network(NetworkError::new(&fail(e.to_string()))))?;
        if !status.is_success() {
            return Err(RPCError::Unreachable(Unreachable::new(&fail(format!(
                "{status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            )))));
        }
        let answer: Result<Resp, RaftError<u64, E>> = codec::decode(&bytes)
            .map_err(|e| RPCError::Network(NetworkError::new(&fail(e.to_string()))))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.id, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        self.call("snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("vote", &rpc, &option).await
    }
}

impl Network {
    /// Sends a command proposed on this follower to the leader at
    /// `leader` (`propose`); returns its log index and outcome there.
    pub async fn forward_proposal(
        &self,
        leader: &str,
        entries: &[crate::commands::Entry],
        timeout: std::time::Duration,
    ) -> Result<(u64, Vec<super::Applied>), String> {
        let body = codec::encode(&entries).map_err(|e| format!("encoding commands: {e}"))?;
        let url = format!("{}{PREFIX}/propose", leader.trim_end_matches('/'));
        let bytes = self
            .exchange(&url, body, timeout)
            .await
            .map_err(|e| e.said(&format!("the leader {leader}"), "refused the change"))?;
        let answer: Result<(u64, Vec<super::Applied>), String> =
            codec::decode(&bytes).map_err(|e| format!("the leader's answer: {e}"))?;
        answer
    }

    /// Asks the namenode at `url` who it is (before adding it).
    pub async fn whoami(&self, url: &str) -> Result<super::membership::Whoami, String> {
        let bytes = self
            .exchange(
                &format!("{url}{PREFIX}/whoami"),
                Vec::new(),
                std::time::Duration::from_secs(10),
            )
            .await
            .map_err(|e| {
                e.said(
                    &format!("the namenode at {url}"),
                    "did not answer as a namenode of this version",
                )
            })?;
        codec::decode(&bytes).map_err(|e| format!("{url}'s answer: {e}"))
    }

    /// POSTs a codec `body` to `url` with the cluster credential; the
    /// answer's bytes when it is a success.
    async fn exchange(
        &self,
        url: &str,
        body: Vec<u8>,
        timeout: std::time::Duration,
    ) -> Result<bytes::Bytes, Exchange> {
        let mut request = self
            .http
            .post(url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, codec::CONTENT_TYPE)
            .body(body);
        if let Some(c) = &self.credential {
            request = request.bearer_auth(c);
        }
        let resp = request.send().await.map_err(Exchange::Unreachable)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(Exchange::Silent)?;
        if !status.is_success() {
            return Err(Exchange::Refused(
                status,
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
            ));
        }
        Ok(bytes)
    }
}

/// Why an exchange with another namenode failed.
enum Exchange {
    Unreachable(reqwest::Error),
    Silent(reqwest::Error),
    Refused(reqwest::StatusCode, String),
}

impl Exchange {
    /// The message, naming the peer `who` and what a refusal means.
    fn said(self, who: &str, refused: &str) -> String {
        match self {
            Exchange::Unreachable(e) => format!("{who} could not be reached: {e}"),
            Exchange::Silent(e) => format!("{who} did not answer: {e}"),
            Exchange::Refused(status, body) => format!("{who} {refused} ({status}): {body}"),
        }
    }
}

/// The answering side: what the endpoint for `name` does with `body`
/// (the codec encoding of the local Raft's result), or `None` for a
/// request this node does not take (an unknown RPC, a cut link). A body
/// that does not decode is an error message.
pub async fn answer(
    group: &super::group::Group,
    name: &str,
    body: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    let raft = group.raft();
    let net = group.network();
    fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, String> {
        codec::decode(b).map_err(|e| format!("malformed raft rpc: {e}"))
    }
    fn encode<T: Serialize>(v: &T) -> Result<Option<Vec<u8>>, String> {
        codec::encode(v)
            .map(Some)
            .map_err(|e| format!("cannot encode a raft answer: {e}"))
    }
    match name {
        "append" => {
            let req: AppendEntriesRequest<TypeConfig> = decode(body)?;
            if from_cut(net, req.vote.leader_id().voted_for()) {
                return Ok(None);
            }
            encode(&raft.append_entries(req).await)
        }
        "vote" => {
            let req: VoteRequest<u64> = decode(body)?;
            if from_cut(net, req.vote.leader_id().voted_for()) {
                return Ok(None);
            }
            encode(&raft.vote(req).await)
        }
        "snapshot" => {
            let req: InstallSnapshotRequest<TypeConfig> = decode(body)?;
            if from_cut(net, req.vote.leader_id().voted_for()) {
                return Ok(None);
            }
            encode(&raft.install_snapshot(req).await)
        }
        "whoami" => encode(&group.whoami()),
        "propose" => {
            let entries: Vec<crate::commands::Entry> = decode(body)?;
            encode(&group.take_forwarded(entries).await)
        }
        // The test hook: a JSON list of the namenode URLs to cut this one
        // off from (empty: heal), taken only with DFS_TEST_HOOKS set.
        "partition" if std::env::var_os(TEST_HOOKS).is_some() => {
            let urls: Vec<String> =
                serde_json::from_slice(body).map_err(|e| format!("malformed partition: {e}"))?;
            let ids = urls
                .iter()
                .map(|u| super::group::id_of(u))
                .collect::<BTreeSet<u64>>();
            log::warn!("{TEST_HOOKS}: links to {urls:?} cut (both ways)");
            net.partition(ids);
            encode(&())
        }
        _ => Ok(None),
    }
}

fn from_cut(net: &Network, sender: Option<u64>) -> bool {
    sender.is_some_and(|s| net.is_cut(s))
}
