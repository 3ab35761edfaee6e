//! Test-only: an in-process fake namenode and fake datanodes that speak just
//! enough HTTP/1.1 (one request per connection) for the write path, so
//! pipeline failures can be staged exactly: a datanode that refuses
//! connections, one that dies in the middle of a block body, a good one.
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
use dfs_common::proto::data::{ReplicaAck, WriteBlockResponse};
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

/// When set, `create` answers this status and message.
#[derive(Clone, Default)]
pub struct Options {
    pub refuse_create: Option<(ErrorCode, String)>,
}

impl FakeCluster {
    /// A namenode that offers every datanode not excluded, in the given
    /// order, as each block's pipeline; `block_size` for every file.
    pub async fn start(block_size: u64, behaviours: &[Behaviour], opts: Options) -> Self {
        let mut nodes = Vec::new();
        let mut stored = Vec::new();
        for (i, b) in behaviours.iter().enumerate() {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = format!("http://{}", listener.local_addr().unwrap());
            let id = NodeId::from_bytes([i as u8 + 1; 16]);
            let store = Arc::new(Mutex::new(Vec::new()));
            match *b {
                // Dropping the listener frees the port: connections are refused.
                Behaviour::Refuse => drop(listener),
                b => {
                    tokio::spawn(serve_datanode(listener, b, id, addr.clone(), store.clone()));
                }
            }
            nodes.push(DatanodeInfo { id, addr });
            stored.push(store);
        }
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

async fn serve_datanode(
    listener: TcpListener,
    behaviour: Behaviour,
    id: NodeId,
    addr: String,
    store: Store,
) {
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            return;
        };
        let (addr, store) = (addr.clone(), store.clone());
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
                    let sha256 = Sha256Digest::of(&body);
                    let mut crcs = ChunkCrcs::new();
                    crcs.update(&body);
                    let crcs = crcs_fingerprint(body.len() as u64, &crcs.finish());
                    let answer = WriteBlockResponse {
                        block_id: block,
                        len: body.len() as u64,
                        sha256,
                        replicas: vec![ReplicaAck {
                            addr,
                            node_id: Some(id),
                            ok: true,
                            sha256: Some(sha256),
                            error: None,
                            crcs: Some(crcs),
                        }],
                    };
                    store.lock().unwrap().push((block, body));
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
    let mut calls = calls.lock().unwrap();
    match req.target.as_str() {
        "/rpc/v1/create" => {
            if let Some((code, message)) = &opts.refuse_create {
                let body = ErrorBody::new(*code, message.clone());
                return (code.http_status(), serde_json::to_vec(&body).unwrap());
            }
            let c: CreateRequest = serde_json::from_slice(&req.body).unwrap();
            // A first block is placed as `add_block` would, on every node.
            let block = c.first_block.then(|| LocatedBlock {
                block_id: BlockId::new(),
                offset: 0,
                len: 0,
                sha256: None,
                replicas: nodes.to_vec(),
                access_token: None,
            });
            calls.first_blocks += usize::from(block.is_some());
            let r = CreateResponse {
                file_id: FileId::new(),
                block_size,
                replication: 3,
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
                replication: 3,
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
