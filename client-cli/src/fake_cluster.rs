//! Test-only: an in-process fake namenode and fake datanodes that speak just
//! enough HTTP/1.1 (one request per connection) for the write path, so
//! pipeline failures can be staged exactly: a datanode that refuses
//! connections, one that dies in the middle of a block body, a good one.
//!
//! The namenode places each block on the first `replication` datanodes not
//! excluded, in order. A good first hop plays the rest of the pipeline as a
//! real datanode would (without sockets): each good hop after it stores the
//! block and acknowledges it; the first hop that is not good fails, and the
//! hops after it are "not reached".
//!
//! It checks nothing for the client; it records what the client did
//! ([`Calls`]) and what each good datanode stored, for the test to assert.
use dfs_common::checksum::{crcs_fingerprint, ChunkCrcs, Sha256Digest};
use dfs_common::error::{ErrorBody, ErrorCode};
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AddBlockRequest, CompleteRequest, CreateRequest, CreateResponse, FileStatus, FileType,
    LocatedBlock,
};
use dfs_common::proto::data::{parse_pipeline, ReplicaAck, WriteBlockResponse, PIPELINE_HEADER};
use dfs_common::proto::DatanodeInfo;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What one fake datanode stored: (block, bytes) in arrival order.
pub type Store = Arc<Mutex<Vec<(BlockId, Vec<u8>)>>>;

/// How a fake datanode treats a block write.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Nothing listens at its address (connection refused).
    Refuse,
    /// Reads this many body bytes, then drops the connection.
    DieAfter(usize),
    /// Stores the block and acknowledges it with its digest.
    Good,
}

/// What the client asked of the fake namenode.
#[derive(Default, Debug)]
pub struct Calls {
    pub add_block: Vec<AddBlockRequest>,
    /// Blocks placed with a create (`first_block`).
    pub first_blocks: usize,
    pub abandon_block: usize,
    pub abandon_file: usize,
    pub complete: Option<CompleteRequest>,
}

pub struct FakeCluster {
    pub url: String,
    pub nodes: Vec<DatanodeInfo>,
    pub calls: Arc<Mutex<Calls>>,
    /// Per datanode, the blocks it stored: (id, bytes).
    pub stored: Vec<Store>,
}

#[derive(Clone)]
pub struct Options {
    /// When set, `create` answers this status and message.
    pub refuse_create: Option<(ErrorCode, String)>,
    /// Every file's replication, and the longest pipeline offered.
    pub replication: u16,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            refuse_create: None,
            replication: 3,
        }
    }
}

/// One fake datanode, as the others see it.
#[derive(Clone)]
struct Peer {
    info: DatanodeInfo,
    behaviour: Behaviour,
    store: Store,
}

impl FakeCluster {
    /// A namenode that offers every datanode not excluded, in the given
    /// order, as each block's pipeline; `block_size` for every file.
    pub async fn start(block_size: u64, behaviours: &[Behaviour], opts: Options) -> Self {
        let mut peers = Vec::new();
        let mut listeners = Vec::new();
        for (i, b) in behaviours.iter().enumerate() {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = format!("http://{}", listener.local_addr().unwrap());
            let id = NodeId::from_bytes([i as u8 + 1; 16]);
            peers.push(Peer {
                info: DatanodeInfo { id, addr },
                behaviour: *b,
                store: Arc::new(Mutex::new(Vec::new())),
            });
            listeners.push(listener);
        }
        for (i, listener) in listeners.into_iter().enumerate() {
            match peers[i].behaviour {
                // Dropping the listener frees the port: connections are refused.
                Behaviour::Refuse => drop(listener),
                _ => {
                    tokio::spawn(serve_datanode(listener, i, peers.clone()));
                }
            }
        }
        let nodes: Vec<DatanodeInfo> = peers.iter().map(|p| p.info.clone()).collect();
        let stored = peers.iter().map(|p| p.store.clone()).collect();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Calls::default()));
        tokio::spawn(serve_namenode(
            listener,
            block_size,
            nodes.clone(),
            calls.clone(),
            opts,
        ));
        Self {
            url,
            nodes,
            calls,
            stored,
        }
    }
}

struct Request {
    target: String,
    body: Vec<u8>,
}

/// Reads the request line and headers; `None` when the peer hung up.
async fn read_head(r: &mut BufReader<TcpStream>) -> Option<(String, Vec<(String, String)>)> {
    let mut line = String::new();
    r.read_line(&mut line).await.ok()?;
    let target = line.split_whitespace().nth(1)?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).await.ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            return Some((target, headers));
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
}

/// Reads a body (content-length or chunked), at most `limit` bytes of it;
/// `None` when the peer broke off.
async fn read_body(
    r: &mut BufReader<TcpStream>,
    headers: &[(String, String)],
    limit: usize,
) -> Option<Vec<u8>> {
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).await.ok()?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            if size == 0 {
                let mut end = String::new();
                r.read_line(&mut end).await.ok()?;
                return Some(body);
            }
            let take = size.min(limit.saturating_sub(body.len()));
            let start = body.len();
            body.resize(start + take, 0);
            r.read_exact(&mut body[start..]).await.ok()?;
            if take < size {
                return Some(body); // the limit was reached: stop reading here
            }
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).await.ok()?;
        }
    }
    let len: usize = header("content-length").and_then(|v| v.parse().ok())?;
    body.resize(len.min(limit), 0);
    r.read_exact(&mut body).await.ok()?;
    Some(body)
}

async fn respond(r: &mut BufReader<TcpStream>, status: u16, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let s = r.get_mut();
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body).await;
    let _ = s.shutdown().await;
}

/// A good hop's acknowledgement of `body`.
fn good_ack(info: &DatanodeInfo, body: &[u8]) -> ReplicaAck {
    let sha256 = Sha256Digest::of(body);
    let mut crcs = ChunkCrcs::new();
    crcs.update(body);
    ReplicaAck {
        addr: info.addr.clone(),
        node_id: Some(info.id),
        ok: true,
        sha256: Some(sha256),
        error: None,
        crcs: Some(crcs_fingerprint(body.len() as u64, &crcs.finish())),
    }
}

fn failed_ack(info: &DatanodeInfo, why: &str) -> ReplicaAck {
    ReplicaAck {
        addr: info.addr.clone(),
        node_id: Some(info.id),
        ok: false,
        sha256: None,
        error: Some(why.to_string()),
        crcs: None,
    }
}

/// The acknowledgements of the hops after the first (base URLs in
/// `downstream`), as the first one would relay them; good ones store `body`.
fn play_downstream(
    peers: &[Peer],
    downstream: &[String],
    block: BlockId,
    body: &[u8],
) -> Vec<ReplicaAck> {
    let mut acks = Vec::new();
    let mut broken = false;
    for addr in downstream {
        let Some(peer) = peers.iter().find(|p| p.info.addr == *addr) else {
            continue;
        };
        if broken {
            acks.push(failed_ack(&peer.info, "not reached"));
            continue;
        }
        match peer.behaviour {
            Behaviour::Good => {
                peer.store.lock().unwrap().push((block, body.to_vec()));
                acks.push(good_ack(&peer.info, body));
            }
            Behaviour::Refuse => {
                broken = true;
                acks.push(failed_ack(&peer.info, "connection refused"));
            }
            Behaviour::DieAfter(_) => {
                broken = true;
                acks.push(failed_ack(&peer.info, "connection reset"));
            }
        }
    }
    acks
}

async fn serve_datanode(listener: TcpListener, me: usize, peers: Vec<Peer>) {
    let behaviour = peers[me].behaviour;
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            return;
        };
        let peers = peers.clone();
        tokio::spawn(async move {
            let mut r = BufReader::new(conn);
            let Some((target, headers)) = read_head(&mut r).await else {
                return;
            };
            let block: BlockId = target
                .trim_start_matches("/blocks/")
                .parse()
                .expect("block id in the URL");
            match behaviour {
                Behaviour::DieAfter(n) => {
                    let _ = read_body(&mut r, &headers, n).await;
                    // Dropping the stream resets the connection mid-body.
                }
                _ => {
                    let Some(body) = read_body(&mut r, &headers, usize::MAX).await else {
                        return;
                    };
                    let downstream = headers
                        .iter()
                        .find(|(k, _)| k == PIPELINE_HEADER)
                        .map(|(_, v)| parse_pipeline(v))
                        .unwrap_or_default();
                    let me = &peers[me];
                    let mut replicas = vec![good_ack(&me.info, &body)];
                    replicas.extend(play_downstream(&peers, &downstream, block, &body));
                    let answer = WriteBlockResponse {
                        block_id: block,
                        len: body.len() as u64,
                        sha256: Sha256Digest::of(&body),
                        replicas,
                    };
                    me.store.lock().unwrap().push((block, body));
                    respond(&mut r, 200, &serde_json::to_vec(&answer).unwrap()).await;
                }
            }
        });
    }
}

async fn serve_namenode(
    listener: TcpListener,
    block_size: u64,
    nodes: Vec<DatanodeInfo>,
    calls: Arc<Mutex<Calls>>,
    opts: Options,
) {
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            return;
        };
        let (nodes, calls, opts) = (nodes.clone(), calls.clone(), opts.clone());
        tokio::spawn(async move {
            let mut r = BufReader::new(conn);
            let Some((target, headers)) = read_head(&mut r).await else {
                return;
            };
            let body = read_body(&mut r, &headers, usize::MAX)
                .await
                .unwrap_or_default();
            let req = Request { target, body };
            let (status, answer) = namenode_answer(&req, block_size, &nodes, &calls, &opts);
            respond(&mut r, status, &answer).await;
        });
    }
}

fn namenode_answer(
    req: &Request,
    block_size: u64,
    nodes: &[DatanodeInfo],
    calls: &Mutex<Calls>,
    opts: &Options,
) -> (u16, Vec<u8>) {
    let json = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
    let replication = usize::from(opts.replication);
    let mut calls = calls.lock().unwrap();
    match req.target.as_str() {
        "/rpc/v1/create" => {
            if let Some((code, message)) = &opts.refuse_create {
                let body = ErrorBody::new(*code, message.clone());
                return (code.http_status(), serde_json::to_vec(&body).unwrap());
            }
            let c: CreateRequest = serde_json::from_slice(&req.body).unwrap();
            // A first block is placed as `add_block` would.
            let block = c.first_block.then(|| LocatedBlock {
                block_id: BlockId::new(),
                offset: 0,
                len: 0,
                sha256: None,
                replicas: nodes.iter().take(replication).cloned().collect(),
                access_token: None,
            });
            calls.first_blocks += usize::from(block.is_some());
            let r = CreateResponse {
                file_id: FileId::new(),
                block_size,
                replication: opts.replication,
                lease_renew_interval_ms: 0,
                block,
            };
            (200, serde_json::to_vec(&r).unwrap())
        }
        "/rpc/v1/add_block" => {
            let r: AddBlockRequest = serde_json::from_slice(&req.body).unwrap();
            let replicas: Vec<DatanodeInfo> = nodes
                .iter()
                .filter(|n| !r.exclude.contains(&n.id))
                .take(replication)
                .cloned()
                .collect();
            calls.add_block.push(r);
            if replicas.is_empty() {
                let body = ErrorBody::new(ErrorCode::Unavailable, "no datanode left");
                return (503, serde_json::to_vec(&body).unwrap());
            }
            let b = LocatedBlock {
                block_id: BlockId::new(),
                offset: 0,
                len: 0,
                sha256: None,
                replicas,
                access_token: None,
            };
            (200, serde_json::to_vec(&b).unwrap())
        }
        "/rpc/v1/abandon_block" => {
            calls.abandon_block += 1;
            (200, json(serde_json::json!({})))
        }
        "/rpc/v1/abandon_file" => {
            calls.abandon_file += 1;
            (200, json(serde_json::json!({})))
        }
        "/rpc/v1/renew_lease" => (200, json(serde_json::json!({}))),
        "/rpc/v1/complete" => {
            let c: CompleteRequest = serde_json::from_slice(&req.body).unwrap();
            let path = DfsPath::parse("/f").unwrap();
            let status = FileStatus {
                name: "f".into(),
                path,
                file_type: FileType::File,
                length: c.length,
                replication: opts.replication,
                block_size,
                modification_time: 0,
                access_time: 0,
                owner: "t".into(),
                group: "t".into(),
                permission: 0o644,
                sha256: Some(c.sha256),
                children: 0,
                blocks: c.blocks.len() as u64,
                inode_id: 1,
            };
            calls.complete = Some(c);
            (200, serde_json::to_vec(&status).unwrap())
        }
        other => {
            let body = ErrorBody::new(ErrorCode::NotFound, format!("{other} does not exist"));
            (404, serde_json::to_vec(&body).unwrap())
        }
    }
}
