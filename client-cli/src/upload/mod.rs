//! The write path: a byte source becomes a file of blocks. This module is
//! its two doors, a new file ([`upload`]) and an append ([`append`]): open
//! the file at the namenode, hold its lease while [`file`] writes the
//! blocks, and abandon it if that fails.
//!
//! `create` → (lease renewal in the background) → for each block: `add_block`,
//! stream up to `block_size` bytes to the first datanode of the pipeline while
//! hashing them → check every hop's digest → `complete` with the blocks and
//! the whole file's SHA-256.
//!
//! From a seekable source, blocks overlap: block k+1 is sent while block k's
//! pipeline drains and syncs, and k's answer is checked once k+1 is out
//! (measured here: 15–25 ms of waiting per 64 MiB block without it). When
//! k failed, k+1 is abandoned as well, and both are written again from the
//! source, k the sequential way (see [`file`]).
//!
//! Acknowledgement and pipeline recovery:
//! - A block counts as written only once [`acks::replicas_needed`] hops,
//!   min(2, R) with R the file's replication in the namenode's answer to
//!   `create` or `append`, acknowledged a durable replica whose digest is the
//!   client's: an acknowledged file then survives the loss of any one
//!   datanode before repair (CONTRACT, "Reads and relayed writes"). Every
//!   door comes here: `dfs put` of a file or of stdin, appends, the seed
//!   `/upload_file` and WebHDFS CREATE/APPEND relayed by the namenode or a
//!   datanode. `complete` names every hop that holds an intact replica and
//!   no other (a hop that failed or kept other bytes is left out); the
//!   namenode copies a block kept by fewer than its replication.
//! - A pipeline shorter than that (the namenode found too few datanodes, or
//!   too few are left once failed ones are excluded) is refused before any
//!   byte is sent: the upload fails, saying how many datanodes it needs.
//! - When fewer hops kept the block (the first hop refused the connection,
//!   broke it, answered an error, stalled; or a later hop died mid-block and
//!   too few replicas are left), the failed hop is replaced the simple way:
//!   the block is abandoned and written again, whole, on a new pipeline from
//!   `add_block` with the failed nodes in `exclude`, up to
//!   [`retry::MAX_BLOCK_ATTEMPTS`] pipelines ([`retry::decide`] is the
//!   rule). HDFS instead splices a new datanode into the live pipeline and
//!   copies the bytes already sent from a surviving hop; rewriting needs no
//!   datanode protocol of its own and gives the same guarantee, at the cost
//!   of resending one block. That needs the block's bytes again:
//!   - a seekable source ([`input::Seekable`],
//!     `DfsClient::upload_seekable`) seeks back to the block's start and
//!     reads it again, for any block size;
//!   - a plain stream ([`input::Plain`]: stdin, the seed endpoint, WebHDFS
//!     CREATE/APPEND relays, appends) keeps the pieces of the block read so
//!     far while they fit in [`input::REPLAY_LIMIT`] (a dead first hop is
//!     noticed within the first pieces, and a small block is held whole).
//!     Past that the upload fails cleanly, naming the failed node.
//! - A namenode answer is never retried here: a 503 (safe mode, too few
//!   datanodes) fails the upload with the namenode's reason.
//!
//! Invariants:
//! - Memory is bounded by a few pieces ([`input::PIECE`] ×
//!   [`attempt::IN_FLIGHT`]) plus, for a plain stream, the replay buffer
//!   ([`input::REPLAY_LIMIT`]); never a block. The source is read in the
//!   caller's task and handed to the request body through a bounded
//!   channel, so a slow pipeline slows the reader.
//! - The source need not be `Send` (the seed endpoint passes an actix
//!   multipart stream); only the HTTP request runs in a spawned task.
//! - The file digest covers exactly the bytes of the accepted attempts (it
//!   is forked per attempt), so it always matches the blocks `complete`
//!   names, even if a seekable source changed between two reads. Progress
//!   counts each source byte once, whatever the retries.
//! - Any failure after `create` abandons the file (best effort, also when the
//!   upload future is dropped): a failed upload leaves no visible file.
//!
//! # Layout
//! One job per module; each depends only on the ones listed before it.
//! - [`input`]: where the bytes come from (a plain stream, a seekable file,
//!   an append's old tail) and how one block's bytes are had again.
//! - [`acks`]: the acknowledgement rule, pure: which hops kept a block
//!   intact, whether that is enough, which hop to leave out next time.
//! - [`lease`]: what the writer holds at the namenode and gives back: the
//!   lease (renewed), the file and blocks (abandoned on failure).
//! - [`attempt`]: one HTTP attempt at a block on one pipeline.
//! - [`retry`]: the attempts at one block, and when to give up.
//! - [`file`]: a file's blocks in order (overlapped from a seekable
//!   source), then `complete`.
mod acks;
mod attempt;
mod file;
mod input;
mod lease;
mod retry;

pub(crate) use input::{Plain, Seekable};

use self::file::{write_file, Opened, Resume};
use self::input::{Chain, Input, PIECE};
use self::retry::unavailable_context;
use crate::datanode::DatanodeClient;
use crate::error::{ClientError, Result};
use crate::namenode::NamenodeClient;
use crate::progress::Progress;
use bytes::Bytes;
use dfs_common::checksum::Sha256Hasher;
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{AppendRequest, AppendResponse, CreateRequest, FileStatus, Xattrs};
use futures_util::StreamExt;

/// How to write a file.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Replace an existing file.
    pub overwrite: bool,
    /// Make missing parent directories (default: yes, as WebHDFS `CREATE`;
    /// `dfs put` asks for an existing parent, as `hdfs dfs -put`).
    pub create_parent: bool,
    /// Default: the namenode's.
    pub replication: Option<u16>,
    /// Default: the namenode's.
    pub block_size: Option<u64>,
    /// Owner recorded for the file (default: the namenode's).
    pub owner: Option<String>,
    /// Mode bits (default 644).
    pub permission: Option<u16>,
    /// Extended attributes the file gets as it appears (in the same
    /// change as its `complete`).
    pub xattrs: Option<XattrSource>,
}

/// Extended attributes decided once the input is all read (an S3 object's
/// MD5 is known only then): called once, just before `complete`, with the
/// whole file's SHA-256.
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct XattrSource(
    pub std::sync::Arc<dyn Fn(&dfs_common::checksum::Sha256Digest) -> Xattrs + Send + Sync>,
);

impl std::fmt::Debug for XattrSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XattrSource(..)")
    }
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            overwrite: false,
            create_parent: true,
            replication: None,
            block_size: None,
            owner: None,
            permission: None,
            xattrs: None,
        }
    }
}

/// Writes `input` to `path`; see the module doc.
pub(crate) async fn upload<I: Input>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    input: I,
    opts: &UploadOptions,
    progress: &dyn Progress,
) -> Result<FileStatus> {
    if opts.replication == Some(0) {
        return Err(ClientError::Invalid(
            "replication must be at least 1".into(),
        ));
    }
    if opts.block_size == Some(0) {
        return Err(ClientError::Invalid(
            "block size must be at least 1 byte".into(),
        ));
    }
    let created = nn
        .create(&CreateRequest {
            path: path.clone(),
            overwrite: opts.overwrite,
            replication: opts.replication,
            block_size: opts.block_size,
            create_parent: opts.create_parent,
            owner: opts.owner.clone(),
            permission: opts.permission,
            first_block: true,
        })
        .await
        .map_err(|e| unavailable_context(e, path))?;
    let file_id = created.file_id;
    let start = Resume {
        length: 0,
        hash: Sha256Hasher::new(),
    };
    let opened = Opened {
        file_id,
        first: created.block,
        block_size: created.block_size,
        replication: created.replication,
        xattrs: opts.xattrs.clone(),
    };
    let write = write_file(nn, dn, path, opened, input, progress, start);
    let interval_ms = created.lease_renew_interval_ms;
    lease::hold(nn, file_id, interval_ms, format!("upload of {path}"), write).await
}

/// Appends `input` to the complete file at `path` (see
/// `dfs_common::proto::client::AppendRequest` for the protocol): keeps the
/// whole blocks, rewrites a short last block copy-on-write as the head of
/// the new data, and continues the file digest from the namenode's saved
/// midstate (or, for a file that has none, by hashing the kept bytes once).
/// An empty `input` changes nothing. On failure the file keeps its old
/// content.
pub(crate) async fn append<I: Input>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    mut input: I,
    progress: &dyn Progress,
) -> Result<FileStatus> {
    let first = input.read_piece(PIECE).await?;
    if first.is_empty() {
        return nn.status(path).await;
    }
    let opened = nn
        .append(&AppendRequest { path: path.clone() })
        .await
        .map_err(|e| unavailable_context(e, path))?;
    let write = append_under_lease(nn, dn, path, &opened, first, input, progress);
    let (file_id, interval_ms) = (opened.file_id, opened.lease_renew_interval_ms);
    lease::hold(nn, file_id, interval_ms, format!("append to {path}"), write).await
}

async fn append_under_lease<I: Input>(
    nn: &NamenodeClient,
    dn: &DatanodeClient,
    path: &DfsPath,
    opened: &AppendResponse,
    first: Bytes,
    input: I,
    progress: &dyn Progress,
) -> Result<FileStatus> {
    let located = nn.locations(path).await?;
    if located.status.inode_id != opened.status.inode_id
        || located.status.length != opened.status.length
    {
        return Err(ClientError::Remote {
            status: 409,
            code: ErrorCode::Conflict,
            message: format!("{path} changed while an append to it was starting"),
        });
    }
    let kept = opened.kept_len;
    let resumed = opened
        .sha256_state
        .as_ref()
        .filter(|s| s.len == kept)
        .and_then(Sha256Hasher::resume);
    let hash = match resumed {
        Some(h) => h,
        None => {
            // No midstate saved (a file written before they were): hash the
            // kept bytes once; the append saves one for next time.
            let mut h = Sha256Hasher::new();
            if kept > 0 {
                let mut r =
                    crate::download::open_located(nn, dn, path, located.clone(), 0, Some(kept))?;
                while let Some(piece) = r.next().await {
                    h.update(&piece?);
                }
            }
            h
        }
    };
    let tail = if opened.last_block.is_some() && opened.status.length > kept {
        Some(crate::download::open_located(
            nn, dn, path, located, kept, None,
        )?)
    } else {
        None
    };
    let chained = Chain {
        tail,
        leftover: Bytes::new(),
        first: Some(first),
        rest: input,
    };
    let start = Resume { length: kept, hash };
    let target = Opened {
        file_id: opened.file_id,
        first: None,
        block_size: opened.block_size,
        replication: opened.replication,
        xattrs: None,
    };
    write_file(nn, dn, path, target, chained, progress, start).await
}

#[cfg(test)]
mod tests {
    use super::input::tests::Count;
    use super::input::REPLAY_LIMIT;
    use super::*;
    use crate::fake_cluster::{Behaviour, FakeCluster, Options};
    use crate::DfsClient;
    use dfs_common::checksum::Sha256Digest;
    use dfs_common::ids::NodeId;
    use Behaviour::{DieAfter, Good, Refuse};

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i as u64).wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    fn path() -> DfsPath {
        DfsPath::parse("/f").unwrap()
    }

    fn replication(r: u16) -> Options {
        Options {
            replication: r,
            ..Options::default()
        }
    }

    /// Uploads `d` from a seekable source or a plain stream.
    async fn put(c: &FakeCluster, d: &[u8], seekable: bool) -> Result<FileStatus> {
        let client = DfsClient::new(&c.url).unwrap();
        let opts = UploadOptions::default();
        if seekable {
            let file = std::io::Cursor::new(d.to_vec());
            client
                .upload_seekable(&path(), file, &opts, &crate::NoProgress)
                .await
        } else {
            client.upload(&path(), d, &opts, &crate::NoProgress).await
        }
    }

    /// Checks what `complete` was told (each block kept by exactly the
    /// datanodes `good`, in pipeline order) and that each of them stored
    /// every block's bytes.
    fn assert_written(c: &FakeCluster, good: &[usize], data: &[u8], block_size: usize) {
        let calls = c.calls.lock().unwrap();
        let done = calls.complete.as_ref().expect("complete was called");
        assert_eq!(done.length, data.len() as u64);
        assert_eq!(done.sha256, Sha256Digest::of(data));
        assert_eq!(done.blocks.len(), data.len().div_ceil(block_size));
        let want: Vec<NodeId> = good.iter().map(|&g| c.nodes[g].id).collect();
        for (i, b) in done.blocks.iter().enumerate() {
            let part = &data[i * block_size..((i + 1) * block_size).min(data.len())];
            assert_eq!(b.sha256, Sha256Digest::of(part), "block {i}");
            assert_eq!(b.replicas, want, "block {i}");
            for &g in good {
                let stored = c.stored[g].lock().unwrap();
                let (_, bytes) = stored.iter().find(|(id, _)| *id == b.block_id).unwrap();
                assert_eq!(&bytes[..], part, "block {i} on node {g}");
            }
        }
        assert_eq!(calls.abandon_file, 0);
    }

    /// A first datanode that refuses connections, and a small-block file
    /// from a plain stream: each block is replayed from memory onto a
    /// pipeline without the dead node.
    #[tokio::test]
    async fn dead_first_hop_plain_stream() {
        let bs = 1 << 20;
        let c = FakeCluster::start(bs as u64, &[Refuse, Good, Good], Options::default()).await;
        let client = DfsClient::new(&c.url).unwrap();
        let d = data(2 * bs + 1234);
        let count = Count(Default::default());
        let st = client
            .upload(&path(), &d[..], &UploadOptions::default(), &count)
            .await
            .unwrap();
        assert_eq!(st.length, d.len() as u64);
        assert_eq!(
            count.0.load(std::sync::atomic::Ordering::Relaxed),
            d.len() as u64
        );
        assert_written(&c, &[1, 2], &d, bs);
        let calls = c.calls.lock().unwrap();
        // Per block: a pipeline with the dead node, then one without it
        // (the first block's first pipeline came with the create).
        assert_eq!(calls.first_blocks, 1);
        assert_eq!(calls.add_block.len(), 5);
        assert_eq!(calls.abandon_block, 3);
        assert_eq!(calls.add_block[0].exclude, vec![c.nodes[0].id]);
    }

    /// Replication 3, and the second hop of every pipeline is dead: the
    /// first hop alone holds the block, which is not enough. Each block is
    /// abandoned and written again on a pipeline without the dead node, and
    /// `complete` names the three datanodes of that pipeline, whatever the
    /// source.
    #[tokio::test]
    async fn one_failed_hop_of_three_rewrites_the_block() {
        let bs = 1 << 20;
        let d = data(2 * bs + 77);
        for seekable in [false, true] {
            let c = FakeCluster::start(bs as u64, &[Good, Refuse, Good, Good], Options::default())
                .await;
            let st = put(&c, &d, seekable).await.unwrap();
            assert_eq!(st.length, d.len() as u64);
            assert_written(&c, &[0, 2, 3], &d, bs);
            let calls = c.calls.lock().unwrap();
            // Every block went out once with the dead hop and was given back.
            assert!(calls.abandon_block >= 3, "seekable: {seekable}");
            let dead = c.nodes[1].id;
            assert!(calls.add_block.iter().any(|a| a.exclude == vec![dead]));
            if !seekable {
                assert_eq!(
                    (calls.add_block.len(), calls.abandon_block),
                    (5, 3),
                    "one retry per block"
                );
            }
        }
    }

    /// Replication 3 and a dead last hop: the two hops before it hold the
    /// block, which is enough. Nothing is written again, and `complete`
    /// names only those two.
    #[tokio::test]
    async fn two_intact_hops_of_three_keep_the_block() {
        let bs = 1 << 20;
        let d = data(bs + 5);
        let c = FakeCluster::start(bs as u64, &[Good, Good, Refuse], Options::default()).await;
        put(&c, &d, false).await.unwrap();
        assert_written(&c, &[0, 1], &d, bs);
        let calls = c.calls.lock().unwrap();
        assert_eq!(
            (calls.add_block.len(), calls.abandon_block),
            (1, 0),
            "no retry"
        );
    }

    /// Replication 1: one hop holding the block is enough.
    #[tokio::test]
    async fn replication_one_needs_one_hop() {
        let bs = 1 << 20;
        let d = data(bs + 5);
        let c = FakeCluster::start(bs as u64, &[Good, Refuse], replication(1)).await;
        put(&c, &d, false).await.unwrap();
        assert_written(&c, &[0], &d, bs);
        {
            let calls = c.calls.lock().unwrap();
            assert_eq!((calls.add_block.len(), calls.abandon_block), (1, 0));
        }
        // And a pipeline that lost its head goes on with one other node.
        let c = FakeCluster::start(bs as u64, &[Refuse, Good], replication(1)).await;
        put(&c, &d, true).await.unwrap();
        assert_written(&c, &[1], &d, bs);
    }

    /// Replication 3 with one datanode left alive: every pipeline that the
    /// namenode can still offer after the failed nodes are excluded is too
    /// short, and the upload fails cleanly (abandoned, never completed)
    /// saying why, from any source.
    #[tokio::test]
    async fn one_live_datanode_cannot_take_replication_three() {
        let bs = 1 << 20;
        let d = data(bs + 5);
        for seekable in [false, true] {
            let c =
                FakeCluster::start(bs as u64, &[Good, Refuse, Refuse], Options::default()).await;
            let msg = put(&c, &d, seekable).await.unwrap_err().to_string();
            assert!(msg.contains("only 1 datanode is available"), "{msg}");
            assert!(msg.contains("once 2 datanodes hold it"), "{msg}");
            assert!(msg.contains(&c.nodes[1].addr), "{msg}");
            assert!(msg.contains(&c.nodes[2].addr), "{msg}");
            assert!(msg.contains("upload abandoned"), "{msg}");
            let calls = c.calls.lock().unwrap();
            assert!(calls.complete.is_none());
            assert_eq!(calls.abandon_file, 1);
        }
        // A single datanode from the start: refused before a byte is sent.
        let c = FakeCluster::start(bs as u64, &[Good], Options::default()).await;
        let msg = put(&c, &d, false).await.unwrap_err().to_string();
        assert!(msg.contains("only 1 datanode is available"), "{msg}");
        assert!(c.stored[0].lock().unwrap().is_empty());
        let calls = c.calls.lock().unwrap();
        assert!(calls.complete.is_none());
        assert_eq!(calls.abandon_file, 1);
    }

    /// A plain stream whose block is past the replay buffer when a later hop
    /// turns out dead: the block cannot be sent again, and one replica is
    /// not enough, so the upload fails cleanly; a seekable source rewrites it.
    #[tokio::test]
    async fn failed_hop_past_the_replay_buffer() {
        let bs = REPLAY_LIMIT as usize + (2 << 20);
        let d = data(bs + 10);
        let c = FakeCluster::start(bs as u64, &[Good, Refuse, Good], replication(2)).await;
        let msg = put(&c, &d, false).await.unwrap_err().to_string();
        assert!(msg.contains("cannot be re-read"), "{msg}");
        assert!(msg.contains(&c.nodes[1].addr), "{msg}");
        {
            let calls = c.calls.lock().unwrap();
            assert!(calls.complete.is_none());
            assert_eq!(calls.abandon_file, 1);
        }
        let c = FakeCluster::start(bs as u64, &[Good, Refuse, Good], replication(2)).await;
        put(&c, &d, true).await.unwrap();
        assert_written(&c, &[0, 2], &d, bs);
    }

    /// An empty input gives back the block placed with the create and
    /// completes a file with no blocks.
    #[tokio::test]
    async fn empty_input_gives_back_its_first_block() {
        let c = FakeCluster::start(1 << 20, &[Good], Options::default()).await;
        let client = DfsClient::new(&c.url).unwrap();
        let st = client
            .upload(
                &path(),
                &b""[..],
                &UploadOptions::default(),
                &crate::NoProgress,
            )
            .await
            .unwrap();
        assert_eq!(st.length, 0);
        let calls = c.calls.lock().unwrap();
        assert_eq!((calls.first_blocks, calls.abandon_block), (1, 1));
        assert!(calls.add_block.is_empty());
        assert!(calls.complete.as_ref().unwrap().blocks.is_empty());
    }

    /// A first datanode that dies after 9 MiB of a 12 MiB block: a seekable
    /// source reads the block again; a plain stream cannot, and the upload
    /// fails cleanly (abandoned, not completed).
    #[tokio::test]
    async fn first_hop_dies_mid_block() {
        let bs = 12 << 20;
        let d = data(bs + (3 << 20));
        let nodes = [DieAfter(9 << 20), Good, Good];

        let c = FakeCluster::start(bs as u64, &nodes, Options::default()).await;
        let client = DfsClient::new(&c.url).unwrap();
        let count = Count(Default::default());
        let file = std::io::Cursor::new(d.clone());
        client
            .upload_seekable(&path(), file, &UploadOptions::default(), &count)
            .await
            .unwrap();
        assert_eq!(
            count.0.load(std::sync::atomic::Ordering::Relaxed),
            d.len() as u64
        );
        assert_written(&c, &[1, 2], &d, bs);

        let c = FakeCluster::start(bs as u64, &nodes, Options::default()).await;
        let e = put(&c, &d, false).await.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cannot be re-read"), "{msg}");
        assert!(msg.contains(&c.nodes[0].addr), "{msg}");
        // The abandon is awaited before the error is returned.
        let calls = c.calls.lock().unwrap();
        assert!(calls.complete.is_none());
        assert_eq!(calls.abandon_file, 1);
        assert_eq!(calls.abandon_block, 1);
    }

    /// A first datanode that takes every block whole, then hangs up
    /// without an answer: with a seekable source the failure shows only
    /// after the next block went out (blocks overlap), so that block is
    /// abandoned too and both are written again; with a plain stream each
    /// block is replayed. Either way every block lands on the good nodes,
    /// progress counts each byte once, and the digest midstate for appends
    /// covers exactly the full blocks.
    #[tokio::test]
    async fn first_hop_hangs_up_after_each_block() {
        let bs = 1 << 20;
        let d = data(3 * bs + bs / 2);
        let hang_up = DieAfter(usize::MAX);
        for seekable in [true, false] {
            let c = FakeCluster::start(bs as u64, &[hang_up, Good, Good], Options::default()).await;
            let client = DfsClient::new(&c.url).unwrap();
            let count = Count(Default::default());
            let opts = UploadOptions::default();
            if seekable {
                let file = std::io::Cursor::new(d.clone());
                client.upload_seekable(&path(), file, &opts, &count).await
            } else {
                client.upload(&path(), &d[..], &opts, &count).await
            }
            .unwrap();
            assert_eq!(
                count.0.load(std::sync::atomic::Ordering::Relaxed),
                d.len() as u64,
                "seekable: {seekable}"
            );
            assert_written(&c, &[1, 2], &d, bs);
            let calls = c.calls.lock().unwrap();
            let mut full = Sha256Hasher::new();
            full.update(&d[..3 * bs]);
            let done = calls.complete.as_ref().unwrap();
            assert!(done.sha256_state == Some(full.state(3 * bs as u64)));
            assert_eq!(calls.abandon_file, 0);
            // Each block failed once on the node that hangs up. Overlapped,
            // the block sent after a failed one is given back as well (3
            // times: the last block has none after it), and asked for again.
            let (abandoned, asked) = if seekable { (4 + 3, 10) } else { (4, 7) };
            assert_eq!(
                (calls.abandon_block, calls.add_block.len()),
                (abandoned, asked),
                "seekable: {seekable}"
            );
        }
    }

    /// Every datanode dead: the attempts stop when the namenode has no
    /// pipeline left, and the error names the failed nodes.
    #[tokio::test]
    async fn no_datanode_left() {
        let c = FakeCluster::start(1 << 20, &[Refuse, Refuse], replication(1)).await;
        let msg = put(&c, b"hello", false).await.unwrap_err().to_string();
        assert!(msg.contains("no other pipeline"), "{msg}");
        assert!(msg.contains(&c.nodes[1].addr), "{msg}");
        let calls = c.calls.lock().unwrap();
        assert_eq!((calls.first_blocks, calls.add_block.len()), (1, 2));
        assert_eq!(calls.abandon_file, 1);
    }

    /// Safe mode: the namenode's 503 is the error, said plainly, once.
    #[tokio::test]
    async fn safe_mode_refusal_is_clear() {
        let opts = Options {
            refuse_create: Some((
                ErrorCode::Unavailable,
                "the namenode is in safe mode (3 of 9 blocks reported)".into(),
            )),
            ..Options::default()
        };
        let c = FakeCluster::start(1 << 20, &[Good], opts).await;
        let e = put(&c, b"x", false).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unavailable);
        assert_eq!(
            e.to_string(),
            "cannot write /f now: the namenode is in safe mode (3 of 9 blocks reported)"
        );
        assert!(c.calls.lock().unwrap().add_block.is_empty());
    }
}
