//! Hadoop's DataTransferProtocol (`--hadoop-data-listen`), so that Hadoop's
//! own client (`hadoop fs`, Spark on `hdfs://`) reads and writes this
//! node's blocks as it would an HDFS datanode's (issue 24).
//!
//! A connection carries operations one after another (Hadoop's client
//! keeps a connection for the next one): `READ_BLOCK`, `BLOCK_CHECKSUM`
//! and `WRITE_BLOCK` ([`write`]). The dfs block an
//! operation means comes from its block token (`dfs_common::hadoop`), and
//! must be of this node's cluster.
//!
//! Reads go through [`crate::sender`], so what leaves was verified against
//! dfs's own CRC32Cs, and a corrupt replica is quarantined and reported as
//! on every other door; the 512-byte CRC32Cs Hadoop's client checks are
//! computed from those verified bytes.
//!
//! Bad input never panics and never takes the node down: an unknown
//! version or operation, a message that does not decode, a block of
//! another cluster or a token that is not dfs's get an error answer and
//! the connection is closed; a stalled client is cut off after the
//! request timeout.
mod read;
pub mod write;

use crate::node::Node;
use dfs_common::auth::BlockOp;
use dfs_common::hadoop::transfer::{self, status, BaseHeaderProto, BlockOpResponseProto};
use dfs_common::hadoop::{pool_id, BlockToken};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The most Hadoop connections served at once (HDFS's
/// `dfs.datanode.max.transfer.threads` is 4096); more are closed at once.
const MAX_CONNECTIONS: usize = 1024;

/// How long a connection may sit idle between two operations (Hadoop's
/// client keeps an idle connection for 3 s).
const KEEPALIVE: Duration = Duration::from_secs(5);

/// The largest operation message accepted.
pub const MAX_OP: usize = 1 << 20;

/// Data bytes in one packet sent to a reader (Hadoop's 64 KiB).
pub(crate) const PACKET_DATA: usize = 64 << 10;

/// Why an operation ended a connection (for the log).
#[derive(Debug)]
pub struct Failed(pub String);

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Failed(e.to_string())
    }
}

/// An operation's refusal: the status and message its answer carries.
pub struct Refusal {
    pub status: i32,
    pub message: String,
}

impl Refusal {
    pub fn new(status: i32, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

/// Serves `listener` until `cancel`.
pub fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    timeout: Duration,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => return,
                a = listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(c) => c,
                Err(e) => {
                    log::warn!("Hadoop data transfer: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                log::warn!(
                    "Hadoop data transfer: {peer} refused, {MAX_CONNECTIONS} connections open"
                );
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (node, cancel) = (node.clone(), cancel.clone());
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::with_capacity(128 << 10, r);
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    ended = connection(&mut r, &mut w, &node, timeout) => {
                        if let Err(Failed(why)) = ended {
                            log::info!("Hadoop data transfer: {peer}: {why}");
                        }
                    }
                }
                drop(slot);
            });
        }
    })
}

/// Serves one connection's operations until the client closes it.
pub async fn connection<R, W>(
    r: &mut R,
    w: &mut W,
    node: &Arc<Node>,
    timeout: Duration,
) -> Result<(), Failed>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut wait = timeout;
    loop {
        let mut head = [0u8; 3];
        match tokio::time::timeout(wait, r.read_exact(&mut head)).await {
            Ok(Ok(_)) => {}
            // Closed, or idle too long between operations: done.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) if wait == KEEPALIVE => return Ok(()),
            Err(_) => return Err(Failed(format!("no operation within {timeout:?}"))),
        }
        let version = u16::from_be_bytes([head[0], head[1]]);
        if version != transfer::VERSION {
            let why = format!(
                "data transfer version {version} is not supported: this datanode speaks version {} (Hadoop 2.x and 3.x)",
                transfer::VERSION
            );
            answer(w, Refusal::new(status::ERROR, why.clone()).into()).await?;
            return Err(Failed(why));
        }
        let outcome = match head[2] {
            transfer::OP_READ_BLOCK => read::read_block(r, w, node, timeout).await,
            transfer::OP_BLOCK_CHECKSUM => read::block_checksum(r, w, node, timeout).await,
            transfer::OP_WRITE_BLOCK => write::write_block(r, w, node, timeout).await,
            transfer::OP_TRANSFER_BLOCK => write::transfer_block(r, w, node, timeout).await,
            op => {
                let why = format!("operation {op} is not served by dfs");
                answer(
                    w,
                    Refusal::new(status::ERROR_UNSUPPORTED, why.clone()).into(),
                )
                .await?;
                return Err(Failed(why));
            }
        };
        match outcome {
            Ok(Done::Again) => wait = KEEPALIVE,
            Ok(Done::Close) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// What a served operation leaves the connection fit for.
pub enum Done {
    /// Another operation may follow.
    Again,
    Close,
}

impl From<Refusal> for BlockOpResponseProto {
    fn from(r: Refusal) -> Self {
        BlockOpResponseProto {
            status: r.status,
            message: Some(r.message),
            ..Default::default()
        }
    }
}

/// Writes one delimited answer.
pub async fn answer<W: AsyncWrite + Unpin>(
    w: &mut W,
    response: BlockOpResponseProto,
) -> std::io::Result<()> {
    w.write_all(&response.encode_length_delimited_to_vec())
        .await?;
    w.flush().await
}

/// Reads one delimited message of at most `max` bytes, within `timeout`.
pub async fn read_delimited<M, R>(r: &mut R, max: usize, timeout: Duration) -> Result<M, Failed>
where
    M: Message + Default,
    R: AsyncRead + Unpin,
{
    let read = async {
        let mut len: u64 = 0;
        for i in 0..10 {
            let b = r.read_u8().await?;
            len |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
            if i == 9 {
                return Err(Failed("a message length does not decode".into()));
            }
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > max {
            return Err(Failed(format!(
                "a message of {len} bytes is over the limit of {max}"
            )));
        }
        // Read as it comes: memory follows what the peer sends.
        let mut buf = Vec::with_capacity(len.min(4096));
        let got = AsyncReadExt::take(&mut *r, len as u64)
            .read_to_end(&mut buf)
            .await?;
        if got != len {
            return Err(Failed("the connection ended inside a message".into()));
        }
        M::decode(buf.as_slice()).map_err(|e| Failed(format!("a message does not decode: {e}")))
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(m) => m,
        Err(_) => Err(Failed(format!(
            "a message did not arrive within {timeout:?}"
        ))),
    }
}

/// The dfs block an operation's header names (and what its token holds),
/// if this node may serve it for one of `ops`.
pub fn resolve(
    node: &Node,
    header: &BaseHeaderProto,
    ops: &[BlockOp],
) -> Result<BlockToken, Refusal> {
    let b = &header.block;
    let ours = node.cluster_id().map(pool_id);
    if ours.as_deref() != Some(b.pool_id.as_str()) {
        return Err(Refusal::new(
            status::ERROR_INVALID,
            format!(
                "block pool {} is not this datanode's ({})",
                b.pool_id,
                ours.as_deref().unwrap_or("none yet")
            ),
        ));
    }
    let token = header.token.as_ref().ok_or_else(|| {
        Refusal::new(
            status::ERROR_INVALID,
            format!("block {}: no block token", b.block_id),
        )
    })?;
    let token = BlockToken::from_proto(token, b.block_id)
        .map_err(|why| Refusal::new(status::ERROR_INVALID, why))?;
    if let Some(keys) = &node.keys {
        let access = token.access.as_deref().ok_or_else(|| {
            Refusal::new(
                status::ERROR_ACCESS_TOKEN,
                format!("block {}: no block access token", token.block),
            )
        })?;
        keys.verify_block(access, token.block, ops, dfs_common::auth::now_ms())
            .map_err(|e| {
                Refusal::new(
                    status::ERROR_ACCESS_TOKEN,
                    format!("block {}: {e}", token.block),
                )
            })?;
    }
    Ok(token)
}
