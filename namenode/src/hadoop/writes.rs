//! Files being written through the Hadoop door: `create`, `addBlock`,
//! `complete`, `abandonBlock`, `renewLease` and pipeline recovery
//! (`updateBlockForPipeline`, `updatePipeline`), mapped onto dfs's write
//! protocol (create, add_block, complete) through the door's `dfs_client`.
//!
//! Hadoop's client sends the bytes to the datanodes itself and tells the
//! namenode only block lengths; dfs records each block's SHA-256 and the
//! whole file's. So the door keeps, per file being written, the blocks
//! done so far and the file's SHA-256 midstate, hands the midstate to the
//! first datanode of each new block (in the block's token), and when the
//! client moves on (`addBlock` with the previous block, or `complete`) asks
//! a datanode of that block for the file's digest carried across it
//! ([`dfs_common::hadoop::Chain`]). The datanode that hashed the block as
//! it came answers at once; another reads its replica to.
//!
//! What the door keeps is in memory, and can be had again from the
//! namespace: when the namenode a Hadoop client writes through goes away,
//! the client fails over to another door, which takes the write up at the
//! client's next call about it ([`Door::adopt`]: the file being written and
//! its blocks are replicated state, and the datanodes carry the file's
//! digest across the blocks done), a pipeline recovery's calls and appends
//! included.
use super::calls::{remote, Door};
use super::proto::{self, ExtendedBlockProto};
use super::Remote;
use dfs_common::checksum::{Sha256Digest, Sha256Hasher, Sha256State};
use dfs_common::hadoop::{
    hadoop_block_id, Chain, ChainRequest, CHAIN_PATH, FIRST_GENERATION_STAMP,
};
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, AppendRequest, CommittedBlock, CompleteRequest,
    CreateRequest, LocatedBlock,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a write nobody touches (no call, no lease renewal) is kept.
const IDLE: Duration = Duration::from_secs(3600);

/// A client heard from within this still holds its files (Hadoop's soft
/// lease limit is 60 s; its client renews every 30 s).
const HEARD_FROM: Duration = Duration::from_secs(90);

/// How often the door renews the leases of its writers.
pub const RENEW_EVERY: Duration = Duration::from_secs(10);

/// One file being written.
pub struct OpenFile {
    pub file_id: FileId,
    pub path: DfsPath,
    /// The Hadoop client's name (`DFSClient_...`).
    pub client: String,
    /// The user writing it: only their calls reach it, and the door acts
    /// as them.
    pub user: String,
    pub block_size: u64,
    pub done: Vec<CommittedBlock>,
    /// The file's SHA-256 midstate over `done`.
    pub state: Sha256State,
    pub length: u64,
    /// The block being written.
    pub current: Option<Current>,
    pub touched: Instant,
}

/// A block being written.
pub struct Current {
    pub block: LocatedBlock,
    /// Its pipeline, first first.
    pub nodes: Vec<NodeId>,
    pub gs: u64,
    /// An append: the old last block it starts as a copy of, and its length.
    pub source: Option<(BlockId, u64)>,
}

/// The files being written through this door, by the id Hadoop knows
/// them by.
#[derive(Default)]
pub struct Writes {
    open: Mutex<HashMap<u64, Entry>>,
}

/// A write, and what never changes of it, kept outside its lock: a call is
/// matched to a write by its user without waiting for (or skipping) a
/// write that is busy.
struct Entry {
    user: String,
    path: DfsPath,
    client: String,
    file: Arc<tokio::sync::Mutex<OpenFile>>,
}

/// The id a Hadoop client knows a file being written by (Java long,
/// positive).
pub fn hadoop_file_id(id: FileId) -> u64 {
    dfs_common::hadoop::java_id(id.as_bytes())
}

fn io(message: String) -> Remote {
    Remote::application("java.io.IOException", message)
}

type Handle = Arc<tokio::sync::Mutex<OpenFile>>;

impl Writes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert(&self, f: OpenFile) -> u64 {
        let id = hadoop_file_id(f.file_id);
        let now = Instant::now();
        let mut open = self.lock();
        // Writes nobody has touched for long are forgotten (dfs's lease
        // expiry has ended them).
        open.retain(|_, e| {
            e.file
                .try_lock()
                .map_or(true, |f| now.duration_since(f.touched) < IDLE)
        });
        let entry = Entry {
            user: f.user.clone(),
            path: f.path.clone(),
            client: f.client.clone(),
            file: Arc::new(tokio::sync::Mutex::new(f)),
        };
        open.insert(id, entry);
        id
    }

    /// The write of `user` a call names: by id, or (an old client sends
    /// none) by path.
    pub fn find(&self, id: Option<u64>, src: &str, user: &str) -> Result<Handle, Remote> {
        let open = self.lock();
        let found = match id.filter(|i| *i != 0) {
            Some(i) => open.get(&i).filter(|e| e.user == user),
            None => open
                .values()
                .find(|e| e.path.as_str() == src && e.user == user),
        };
        found.map(|e| e.file.clone()).ok_or_else(|| {
            Remote::application(
                "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException",
                format!("No lease on {src}: the file is not being written through this namenode"),
            )
        })
    }

    /// Whether this door serves the write Hadoop knows as `id`.
    pub fn has(&self, id: u64) -> bool {
        self.lock().contains_key(&id)
    }

    /// Whether `src` is being written through this door, by anyone.
    pub fn writing(&self, src: &str) -> bool {
        self.lock().values().any(|e| e.path.as_str() == src)
    }

    pub fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Every write of `client`, run by `user`.
    pub fn of_client(&self, client: &str, user: &str) -> Vec<Handle> {
        self.lock()
            .values()
            .filter(|e| e.client == client && e.user == user)
            .map(|e| e.file.clone())
            .collect()
    }

    pub fn all(&self) -> Vec<Handle> {
        self.lock().values().map(|e| e.file.clone()).collect()
    }

    /// The write of `user` whose current block Hadoop knows as `block`.
    pub fn by_block(&self, block: u64, user: &str) -> Result<Handle, Remote> {
        self.lock()
            .values()
            .filter(|e| e.user == user)
            .find(|e| {
                e.file.try_lock().is_ok_and(|f| {
                    f.current
                        .as_ref()
                        .is_some_and(|c| hadoop_block_id(c.block.block_id) == block)
                })
            })
            .map(|e| e.file.clone())
            .ok_or_else(|| {
                io(format!(
                    "block {block}: not being written through this namenode"
                ))
            })
    }
}

impl Door {
    /// `create`: a new file (or one replacing another, with OVERWRITE),
    /// owned by the Hadoop user.
    pub async fn create(
        &self,
        user: &str,
        r: proto::CreateRequestProto,
    ) -> Result<proto::HdfsFileStatusProto, Remote> {
        if r.create_flag & proto::CREATE_FLAG_CREATE == 0 {
            return Err(Remote::application(
                "java.lang.UnsupportedOperationException",
                format!(
                    "{}: appending through the Hadoop door is not supported yet",
                    r.src
                ),
            ));
        }
        let p = super::calls::path(&r.src)?;
        let permission = r.masked.map(|m| (m.perm & 0o777) as u16);
        let resp = self
            .client_for(user)
            .namenode()
            .create(&CreateRequest {
                path: p.clone(),
                overwrite: r.create_flag & proto::CREATE_FLAG_OVERWRITE != 0,
                replication: u16::try_from(r.replication).ok().filter(|n| *n > 0),
                block_size: (r.block_size > 0).then_some(r.block_size),
                create_parent: r.create_parent,
                owner: Some(user.to_string()),
                permission,
                first_block: false,
            })
            .await
            .map_err(|e| remote(&e))?;
        let now = dfs_common::auth::now_ms();
        let id = self.writes.insert(OpenFile {
            file_id: resp.file_id,
            path: p,
            client: r.client_name,
            user: user.to_string(),
            block_size: resp.block_size,
            done: Vec::new(),
            state: Sha256Hasher::new().state(0),
            length: 0,
            current: None,
            touched: Instant::now(),
        });
        Ok(proto::HdfsFileStatusProto {
            file_type: proto::IS_FILE,
            path: Vec::new(),
            length: 0,
            permission: Some(proto::FsPermissionProto {
                perm: u32::from(permission.unwrap_or(0o644)),
            }),
            owner: user.to_string(),
            group: "supergroup".to_string(),
            modification_time: now,
            access_time: now,
            block_replication: Some(u32::from(resp.replication)),
            blocksize: Some(resp.block_size),
            locations: None,
            file_id: Some(id),
            children_num: Some(0),
            storage_policy: Some(0),
        })
    }

    /// The file's digest carried across `block` from `before`, from the
    /// first of `nodes` that answers (and which one it was). The error says
    /// why each did not.
    async fn ask_chain(
        &self,
        block: &LocatedBlock,
        nodes: &[NodeId],
        before: &Sha256State,
    ) -> Result<(Chain, NodeId), String> {
        let mut why = Vec::new();
        for n in nodes {
            let Some((addr, _, _)) = self.ns.datanodes().hadoop_endpoint(n) else {
                why.push(format!("{n}: not registered"));
                continue;
            };
            let url = format!("{addr}{CHAIN_PATH}/{}", block.block_id);
            let mut req = self.http.post(&url).json(&ChainRequest {
                before: before.clone(),
            });
            if let Some(t) = &block.access_token {
                req = req.header(dfs_common::auth::BLOCK_TOKEN_HEADER, t);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => match r.json::<Chain>().await {
                    Ok(c) => return Ok((c, *n)),
                    Err(e) => why.push(format!("{addr}: {e}")),
                },
                Ok(r) => why.push(format!("{addr}: {}", r.status())),
                Err(e) => why.push(format!("{addr}: {e}")),
            }
        }
        Err(why.join("; "))
    }

    /// The file's SHA-256 midstate over its first `kept_len` bytes (the
    /// blocks an append keeps): `recorded` if it is that, or else carried
    /// across the kept blocks by their datanodes.
    async fn kept_state(
        &self,
        dfs: &dfs_client::DfsClient,
        p: &DfsPath,
        kept_len: u64,
        recorded: Option<Sha256State>,
    ) -> Result<Sha256State, Remote> {
        if let Some(s) = recorded.filter(|s| s.len == kept_len) {
            return Ok(s);
        }
        let file = dfs.locations(p).await.map_err(|e| remote(&e))?;
        let mut state = Sha256Hasher::new().state(0);
        for b in file.blocks.iter().filter(|b| b.offset < kept_len) {
            let nodes: Vec<NodeId> = b.replicas.iter().map(|d| d.id).collect();
            let (chain, _) = self
                .ask_chain(b, &nodes, &state)
                .await
                .map_err(|why| io(format!("{p}: cannot read block {} ({why})", b.block_id)))?;
            state = chain
                .after
                .ok_or_else(|| io(format!("{p}: block {} is short", b.block_id)))?;
        }
        Ok(state)
    }

    /// `append`: dfs appends by copy (blocks never change once written):
    /// the file's short last block, if any, is replaced by a new one that
    /// starts as a copy of it, on the datanodes that hold it; Hadoop's
    /// client goes on writing into that new block as into the old one.
    pub async fn append(
        &self,
        user: &str,
        r: proto::AppendRequestProto,
    ) -> Result<proto::AppendResponseProto, Remote> {
        let p = super::calls::path(&r.src)?;
        let dfs = self.client_for(user);
        let resp = dfs
            .namenode()
            .append(&AppendRequest { path: p.clone() })
            .await
            .map_err(|e| remote(&e))?;
        let state = self
            .kept_state(&dfs, &p, resp.kept_len, resp.sha256_state.clone())
            .await?;
        let mut f = OpenFile {
            file_id: resp.file_id,
            path: p,
            client: r.client_name,
            user: user.to_string(),
            block_size: resp.block_size,
            done: Vec::new(),
            state,
            length: resp.kept_len,
            current: None,
            touched: Instant::now(),
        };
        let block = match &resp.last_block {
            None => None,
            Some(old) => {
                // On the nodes that hold the old block (they copy it).
                let exclude: Vec<NodeId> = self
                    .ns
                    .datanodes()
                    .directory()
                    .into_iter()
                    .map(|(n, _)| n)
                    .filter(|n| !old.replicas.iter().any(|d| d.id == *n))
                    .collect();
                let lb = self.place(&f, exclude).await?;
                let source = Some((old.block_id, old.len));
                let mut located =
                    self.located(&lb, FIRST_GENERATION_STAMP, Some(f.state.clone()), source)?;
                located.b.num_bytes = Some(old.len);
                f.current = Some(Current {
                    nodes: lb.replicas.iter().map(|d| d.id).collect(),
                    block: lb,
                    gs: FIRST_GENERATION_STAMP,
                    source,
                });
                Some(located)
            }
        };
        let mut stat = super::calls::status_proto(&resp.status, "");
        stat.file_id = Some(self.writes.insert(f));
        Ok(proto::AppendResponseProto {
            block,
            stat: Some(stat),
        })
    }

    /// The file's digest carried across the current block, from a datanode
    /// of its pipeline (the first one hashed it as it came); the block is
    /// then done. `reported` is its length as the client counts it.
    pub async fn finish_block(
        &self,
        f: &mut OpenFile,
        b: &ExtendedBlockProto,
    ) -> Result<Chain, Remote> {
        let Some(cur) = f.current.take() else {
            return Err(io(format!(
                "block {} of {}: no block is being written",
                b.block_id, f.path
            )));
        };
        if hadoop_block_id(cur.block.block_id) != b.block_id {
            let id = hadoop_block_id(cur.block.block_id);
            f.current = Some(cur);
            return Err(io(format!(
                "block {} of {} is not the one being written ({id})",
                b.block_id, f.path
            )));
        }
        let (block, nodes) = (cur.block, cur.nodes);
        let (chain, _) = self
            .ask_chain(&block, &nodes, &f.state)
            .await
            .map_err(|why| {
                io(format!(
                    "block {} of {}: no datanode of its pipeline has it ({why})",
                    block.block_id, f.path
                ))
            })?;
        let reported = b.num_bytes.unwrap_or(0);
        if chain.len != reported {
            return Err(io(format!(
                "block {} of {}: the client wrote {reported} bytes, its datanodes hold {}",
                block.block_id, f.path, chain.len
            )));
        }
        f.done.push(CommittedBlock {
            block_id: block.block_id,
            len: chain.len,
            sha256: chain.sha256,
            replicas: nodes,
        });
        f.length += chain.len;
        Ok(chain)
    }

    /// The write a call names: the one this door serves, or else one it
    /// takes up from the namespace ([`Door::adopt`]).
    async fn write_of(
        &self,
        user: &str,
        id: Option<u64>,
        src: &str,
        client: &str,
        block: Option<&ExtendedBlockProto>,
    ) -> Result<Arc<tokio::sync::Mutex<OpenFile>>, Remote> {
        match self.writes.find(id, src, user) {
            Ok(f) => Ok(f),
            Err(unknown) => match self.adopt(user, id, src, client, block).await? {
                Some(f) => Ok(f),
                None => Err(unknown),
            },
        }
    }

    /// The write whose current block is `block` (a pipeline recovery's
    /// calls name no file): the one this door serves, or else one it takes
    /// up from the namespace.
    async fn write_by_block(
        &self,
        user: &str,
        client: &str,
        block: &ExtendedBlockProto,
    ) -> Result<Arc<tokio::sync::Mutex<OpenFile>>, Remote> {
        let unknown = match self.writes.by_block(block.block_id, user) {
            Ok(f) => return Ok(f),
            Err(e) => e,
        };
        let named = |b: BlockId| hadoop_block_id(b) == block.block_id;
        let src = match self.ns.pending_with_block(user, named).await {
            Ok(Some(p)) => p,
            _ => return Err(unknown),
        };
        match self
            .adopt(user, None, src.as_str(), client, Some(block))
            .await?
        {
            Some(f) => Ok(f),
            None => Err(unknown),
        }
    }

    /// Takes up a write another namenode's door served (it went away, and
    /// Hadoop's client failed over to this one) from what the namespace
    /// holds of it: the file being written at `src` (Hadoop's id `id`, by
    /// `user`), its blocks up to `block` (the one the call names: being
    /// written, or just written) with the file's digest carried across
    /// the earlier ones by their datanodes, and its later blocks (placed,
    /// never written: the answer that named them was lost) abandoned.
    /// `None`: no such write. An append goes on from the old file's kept
    /// blocks (their midstate as recorded, or carried across them), its
    /// first block a copy of the old short last block.
    async fn adopt(
        &self,
        user: &str,
        id: Option<u64>,
        src: &str,
        client: &str,
        block: Option<&ExtendedBlockProto>,
    ) -> Result<Option<Arc<tokio::sync::Mutex<OpenFile>>>, Remote> {
        let p = super::calls::path(src)?;
        let Some((pending, holders)) = self
            .ns
            .pending_write(&p)
            .await
            .map_err(|e| io(format!("{src}: {e}")))?
        else {
            return Ok(None);
        };
        if id.is_some_and(|i| i != 0 && i != hadoop_file_id(pending.file_id))
            || pending.owner != user
        {
            return Ok(None);
        }
        let upto = match block {
            Some(b) => match pending
                .blocks
                .iter()
                .position(|x| hadoop_block_id(*x) == b.block_id)
            {
                Some(i) => Some(i),
                None => {
                    return Err(io(format!(
                        "block {} is not a block of {src} being written",
                        b.block_id
                    )))
                }
            },
            None => None,
        };
        let dfs = self.client_for(user);
        // An append: the old file's kept bytes, their midstate, and the
        // short last block its first new block starts as a copy of.
        let (kept_len, state, source) = match &pending.append {
            None => (0, Sha256Hasher::new().state(0), None),
            Some(t) => {
                let kept_len = t.kept_len(pending.block_size);
                let recorded = self.ns.hash_state(t.inode).ok().flatten();
                let state = self.kept_state(&dfs, &p, kept_len, recorded).await?;
                let old = dfs.locations(&p).await.map_err(|e| remote(&e))?;
                let source = t.replaced.and_then(|r| {
                    let b = old.blocks.iter().find(|b| b.block_id == r)?;
                    Some((r, b.len))
                });
                (kept_len, state, source)
            }
        };
        let later = upto.map_or(0, |i| i + 1);
        for b in &pending.blocks[later..] {
            let req = AbandonBlockRequest {
                file_id: pending.file_id,
                block_id: *b,
            };
            dfs.namenode()
                .abandon_block(&req)
                .await
                .map_err(|e| remote(&e))?;
        }
        let token = |b: BlockId| {
            self.security
                .as_ref()
                .map(|s| s.block_token(b, dfs_common::auth::BlockOp::Write, user))
        };
        let located = |b: BlockId, offset: u64, nodes: &[NodeId]| LocatedBlock {
            block_id: b,
            offset,
            len: 0,
            sha256: None,
            replicas: nodes
                .iter()
                .map(|n| dfs_common::proto::DatanodeInfo {
                    id: *n,
                    addr: String::new(),
                })
                .collect(),
            access_token: token(b),
        };
        let mut f = OpenFile {
            file_id: pending.file_id,
            path: p,
            client: client.to_string(),
            user: user.to_string(),
            block_size: pending.block_size,
            done: Vec::new(),
            state,
            length: kept_len,
            current: None,
            touched: Instant::now(),
        };
        for (b, nodes) in pending.blocks.iter().zip(&holders).take(upto.unwrap_or(0)) {
            let lb = located(*b, f.length, nodes);
            let (chain, from) = self
                .ask_chain(&lb, nodes, &f.state)
                .await
                .map_err(|why| io(format!("{src}: block {b}: no datanode has it ({why})")))?;
            let after = chain.after.ok_or_else(|| {
                io(format!(
                    "{src}: block {b} is short, yet a later one follows"
                ))
            })?;
            f.done.push(CommittedBlock {
                block_id: *b,
                len: chain.len,
                sha256: chain.sha256,
                replicas: vec![from],
            });
            f.length += chain.len;
            f.state = after;
        }
        if let (Some(i), Some(b)) = (upto, block) {
            let (id, nodes) = (pending.blocks[i], holders[i].clone());
            f.current = Some(Current {
                block: located(id, f.length, &nodes),
                nodes,
                gs: b.generation_stamp,
                // Only an append's first new block starts as a copy.
                source: if i == 0 { source } else { None },
            });
        }
        log::info!(
            "Hadoop door: took up the write of {src} by {user} ({} blocks done) from another namenode",
            f.done.len()
        );
        let id = self.writes.insert(f);
        Ok(self.writes.find(Some(id), src, user).ok())
    }

    /// A new block of the file, on none of `exclude`.
    async fn place(&self, f: &OpenFile, exclude: Vec<NodeId>) -> Result<LocatedBlock, Remote> {
        let file_id = f.file_id;
        self.client_for(&f.user)
            .namenode()
            .add_block(&AddBlockRequest { file_id, exclude })
            .await
            .map_err(|e| remote(&e))
    }

    /// Gives up the block being written, if any.
    async fn abandon_current(&self, f: &mut OpenFile) -> Result<(), dfs_client::ClientError> {
        let Some(cur) = f.current.take() else {
            return Ok(());
        };
        self.client_for(&f.user)
            .namenode()
            .abandon_block(&AbandonBlockRequest {
                file_id: f.file_id,
                block_id: cur.block.block_id,
            })
            .await
    }

    /// `addBlock`: the previous block done, a new one placed.
    pub async fn add_block(
        &self,
        user: &str,
        r: proto::AddBlockRequestProto,
    ) -> Result<proto::LocatedBlockProto, Remote> {
        let handle = self
            .write_of(user, r.file_id, &r.src, &r.client_name, r.previous.as_ref())
            .await?;
        let mut f = handle.lock().await;
        f.touched = Instant::now();
        if let Some(prev) = &r.previous {
            if f.current.is_some() {
                let chain = self.finish_block(&mut f, prev).await?;
                f.state = chain.after.ok_or_else(|| {
                    io(format!(
                        "{}: a block of {} bytes is followed by another: only the last block may be short",
                        f.path, chain.len
                    ))
                })?;
            }
        }
        // A block placed and never written (the client asks again).
        let _ = self.abandon_current(&mut f).await;
        // Nodes the client found bad, and nodes that do not speak Hadoop's
        // data transfer protocol.
        let mut exclude: Vec<NodeId> = r
            .exclude_nodes
            .iter()
            .filter_map(|d| d.id.datanode_uuid.parse().ok())
            .collect();
        for (n, _) in self.ns.datanodes().directory() {
            if self.ns.datanodes().hadoop_endpoint(&n).is_none() {
                exclude.push(n);
            }
        }
        let lb = self.place(&f, exclude).await?;
        let nodes = lb.replicas.iter().map(|d| d.id).collect();
        let located = self.located(&lb, FIRST_GENERATION_STAMP, Some(f.state.clone()), None)?;
        f.current = Some(Current {
            block: lb,
            nodes,
            gs: FIRST_GENERATION_STAMP,
            source: None,
        });
        Ok(located)
    }

    /// `complete`: the last block done, the file made whole in dfs.
    pub async fn complete(
        &self,
        user: &str,
        r: proto::CompleteRequestProto,
    ) -> Result<bool, Remote> {
        let handle = match self
            .write_of(user, r.file_id, &r.src, &r.client_name, r.last.as_ref())
            .await
        {
            Ok(h) => h,
            // A retry whose first try completed the file (on a namenode that
            // went away before it could answer): done already.
            Err(e) if self.completed(user, &r).await => {
                log::info!(
                    "Hadoop door: {} was completed already ({})",
                    r.src,
                    e.message
                );
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        let mut f = handle.lock().await;
        let mut last_chain = None;
        if let (Some(last), true) = (&r.last, f.current.is_some()) {
            if last.num_bytes.unwrap_or(0) == 0 {
                // An empty last block: placed, nothing written.
                let _ = self.abandon_current(&mut f).await;
            } else {
                last_chain = Some(self.finish_block(&mut f, last).await?);
            }
        }
        let (sha256, state) = match last_chain {
            Some(c) => {
                let state = c.after.clone().unwrap_or_else(|| f.state.clone());
                (c.digest, state)
            }
            None => {
                let digest = Sha256Hasher::resume(&f.state)
                    .map(Sha256Hasher::finish)
                    .unwrap_or_else(Sha256Digest::empty);
                (digest, f.state.clone())
            }
        };
        self.client_for(&f.user)
            .namenode()
            .complete(&CompleteRequest {
                file_id: f.file_id,
                blocks: f.done.clone(),
                length: f.length,
                sha256,
                sha256_state: Some(state),
                xattrs: None,
            })
            .await
            .map_err(|e| remote(&e))?;
        self.writes.remove(hadoop_file_id(f.file_id));
        Ok(true)
    }

    /// Whether the file `complete` names is complete already, ending with
    /// the last block it names (an empty file: no last block, no block).
    async fn completed(&self, user: &str, r: &proto::CompleteRequestProto) -> bool {
        let Ok(p) = super::calls::path(&r.src) else {
            return false;
        };
        let Ok(file) = self.client_for(user).locations(&p).await else {
            return false;
        };
        let last = file.blocks.last().map(|b| hadoop_block_id(b.block_id));
        match &r.last {
            Some(b) if b.num_bytes.unwrap_or(0) > 0 => last == Some(b.block_id),
            _ => last.is_none() && file.status.length == 0,
        }
    }

    /// `abandonBlock`: the client could not set up a pipeline for it.
    pub async fn abandon_block(
        &self,
        user: &str,
        r: proto::AbandonBlockRequestProto,
    ) -> Result<(), Remote> {
        let handle = self
            .write_of(user, r.file_id, &r.src, &r.holder, Some(&r.b))
            .await?;
        let mut f = handle.lock().await;
        f.touched = Instant::now();
        let ours = f
            .current
            .as_ref()
            .is_some_and(|c| hadoop_block_id(c.block.block_id) == r.b.block_id);
        if !ours {
            return Ok(());
        }
        self.abandon_current(&mut f).await.map_err(|e| remote(&e))
    }

    /// `renewLease`: every file `client` writes as `user`. A client this
    /// door serves no write of may be one whose namenode went away (it
    /// failed over to this one): its writes are taken up when it next
    /// calls about them, and until then every write of its user that this
    /// door does not serve is kept alive (dfs's leases are per file, and
    /// the namespace does not record Hadoop's client names).
    pub async fn renew_lease(&self, user: &str, client: &str) -> Result<(), Remote> {
        let known = self.writes.of_client(client, user);
        if known.is_empty() {
            let dfs = self.client_for(user);
            for file_id in self.ns.pending_of(user).await.unwrap_or_default() {
                if !self.writes.has(hadoop_file_id(file_id)) {
                    if let Err(e) = dfs.namenode().renew_lease(file_id).await {
                        log::debug!("Hadoop door: renewing the lease of {file_id}: {e}");
                    }
                }
            }
        }
        for handle in known {
            let mut f = handle.lock().await;
            if f.client != client || f.user != user {
                continue;
            }
            f.touched = Instant::now();
            self.client_for(user)
                .namenode()
                .renew_lease(f.file_id)
                .await
                .map_err(|e| remote(&e))?;
        }
        Ok(())
    }

    /// Renews dfs's lease on every file whose Hadoop client was heard from
    /// lately (Hadoop's client renews every 30 s; dfs's lease may be
    /// shorter). A client that went quiet loses its lease as any other.
    pub async fn keep_leases(&self) {
        for handle in self.writes.all() {
            let (file_id, dfs) = {
                let f = handle.lock().await;
                if f.touched.elapsed() > HEARD_FROM {
                    continue;
                }
                (f.file_id, self.client_for(&f.user))
            };
            if let Err(e) = dfs.namenode().renew_lease(file_id).await {
                log::debug!("Hadoop door: renewing the lease of {file_id}: {e}");
            }
        }
    }

    /// `updateBlockForPipeline`: a new generation stamp for a block whose
    /// pipeline broke, and a fresh token.
    pub async fn update_block_for_pipeline(
        &self,
        user: &str,
        r: proto::UpdateBlockForPipelineRequestProto,
    ) -> Result<proto::LocatedBlockProto, Remote> {
        let handle = self.write_by_block(user, &r.client_name, &r.block).await?;
        let mut f = handle.lock().await;
        f.touched = Instant::now();
        let state = f.state.clone();
        let Some(cur) = f.current.as_mut() else {
            return Err(io(format!("block {}: not being written", r.block.block_id)));
        };
        cur.gs += 1;
        // An append's pipeline is set up through here: its first datanode
        // needs the midstate and the block to start from (a recovery's
        // does not, and ignores them).
        let empty = LocatedBlock {
            replicas: Vec::new(),
            ..cur.block.clone()
        };
        let (file_state, source) = match cur.source {
            Some(src) => (Some(state), Some(src)),
            None => (None, None),
        };
        let mut lb = self.located(&empty, cur.gs, file_state, source)?;
        lb.b.num_bytes = r.block.num_bytes;
        Ok(lb)
    }

    /// `getAdditionalDatanode`: a pipeline that lost nodes asks for others
    /// (Hadoop's client does when too few are left for its
    /// replace-datanode-on-failure policy): live nodes that serve Hadoop's
    /// data transfer protocol, not in the pipeline nor excluded, the
    /// emptiest first. The answer names the pipeline's nodes, then the new
    /// ones; the client has a replica copied to them (`TRANSFER_BLOCK`).
    pub async fn additional_datanode(
        &self,
        user: &str,
        r: proto::GetAdditionalDatanodeRequestProto,
    ) -> Result<proto::LocatedBlockProto, Remote> {
        let handle = self
            .write_of(user, r.file_id, &r.src, &r.client_name, Some(&r.blk))
            .await?;
        let mut f = handle.lock().await;
        f.touched = Instant::now();
        let Some(cur) = f.current.as_ref() else {
            return Err(io(format!("{}: no block is being written", r.src)));
        };
        if hadoop_block_id(cur.block.block_id) != r.blk.block_id {
            return Err(io(format!(
                "block {} of {} is not the one being written",
                r.blk.block_id, r.src
            )));
        }
        let named = |d: &proto::DatanodeInfoProto| d.id.datanode_uuid.parse::<NodeId>().ok();
        let existing: Vec<NodeId> = r.existings.iter().filter_map(named).collect();
        let excluded: Vec<NodeId> = r.excludes.iter().filter_map(named).collect();
        let mut spare: Vec<_> = self
            .ns
            .datanodes()
            .live(tokio::time::Instant::now())
            .into_iter()
            .filter(|n| {
                n.admin == dfs_common::proto::client::AdminState::Normal
                    && !n.maintenance
                    && !existing.contains(&n.id)
                    && !excluded.contains(&n.id)
                    && self.ns.datanodes().hadoop_endpoint(&n.id).is_some()
            })
            .collect();
        spare.sort_by_key(|n| std::cmp::Reverse(n.available));
        spare.truncate(r.num_additional_nodes.max(1) as usize);
        if spare.is_empty() {
            return Err(io(format!(
                "block {} of {}: no other datanode to add to its pipeline",
                r.blk.block_id, r.src
            )));
        }
        let replicas = existing
            .iter()
            .map(|id| dfs_common::proto::DatanodeInfo {
                id: *id,
                addr: String::new(),
            })
            .chain(spare.iter().map(|n| dfs_common::proto::DatanodeInfo {
                id: n.id,
                addr: n.addr.clone(),
            }))
            .collect();
        let with = LocatedBlock {
            replicas,
            ..cur.block.clone()
        };
        log::info!(
            "Hadoop door: block {} gets {} more datanode(s) for its pipeline",
            r.blk.block_id,
            spare.len()
        );
        let mut lb = self.located(&with, cur.gs, None, None)?;
        lb.b = r.blk;
        Ok(lb)
    }

    /// `updatePipeline`: the nodes that hold the block now.
    pub async fn update_pipeline(
        &self,
        user: &str,
        r: proto::UpdatePipelineRequestProto,
    ) -> Result<(), Remote> {
        let handle = self
            .write_by_block(user, &r.client_name, &r.old_block)
            .await?;
        let mut f = handle.lock().await;
        f.touched = Instant::now();
        let Some(cur) = f.current.as_mut() else {
            return Err(io(format!(
                "block {}: not being written",
                r.old_block.block_id
            )));
        };
        let new: Vec<NodeId> = r
            .new_nodes
            .iter()
            .filter_map(|d| d.datanode_uuid.parse().ok())
            .collect();
        if new.is_empty() {
            return Err(io(format!(
                "block {}: a pipeline of no nodes",
                r.old_block.block_id
            )));
        }
        log::info!(
            "Hadoop door: block {} goes on with {} of its datanodes",
            r.old_block.block_id,
            new.len()
        );
        cur.nodes = new;
        cur.gs = r.new_block.generation_stamp;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(user: &str) -> OpenFile {
        OpenFile {
            file_id: FileId::new(),
            path: DfsPath::parse("/a").unwrap(),
            client: "DFSClient_1".into(),
            user: user.into(),
            block_size: 1 << 20,
            done: Vec::new(),
            state: Sha256Hasher::new().state(0),
            length: 0,
            current: None,
            touched: Instant::now(),
        }
    }

    /// Another user's call never reaches a write (the door would act as
    /// its owner), busy or not; its own user's does, busy or not.
    #[tokio::test]
    async fn a_write_is_found_by_its_own_user_only_busy_or_not() {
        let w = Writes::default();
        let id = w.insert(write("alice"));
        let handle = w.find(Some(id), "/a", "alice").unwrap();
        for busy in [false, true] {
            let _held = if busy {
                Some(handle.lock().await)
            } else {
                None
            };
            assert!(w.find(Some(id), "/a", "bob").is_err(), "busy {busy}");
            assert!(w.find(None, "/a", "bob").is_err(), "busy {busy}");
            assert!(w.of_client("DFSClient_1", "bob").is_empty(), "busy {busy}");
            assert!(w.find(Some(id), "/a", "alice").is_ok(), "busy {busy}");
            assert!(w.find(None, "/a", "alice").is_ok(), "busy {busy}");
            assert_eq!(w.of_client("DFSClient_1", "alice").len(), 1);
            assert!(w.writing("/a") && w.has(id));
        }
        w.remove(id);
        assert!(!w.writing("/a") && !w.has(id));
    }
}
