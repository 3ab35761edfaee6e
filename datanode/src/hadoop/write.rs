//! `WRITE_BLOCK` of Hadoop's DataTransferProtocol: a block written by
//! Hadoop's client down a pipeline of datanodes (HDFS `BlockReceiver` and
//! `PacketResponder`), and the file digest chain the door asks for.
//!
//! Each datanode of the pipeline:
//! - connects to the next one (if any) and hands the operation on, before
//!   it answers: a next hop that cannot be reached is named in the answer
//!   (`firstBadLink`), so the client leaves it out and asks again;
//! - checks each packet's CRC32Cs, passes the packet on, writes its data
//!   through the same [`crate::store`] writer as dfs's own pipeline (so the
//!   replica gets its SHA-256 and dfs's own checksums, and is verified like
//!   any other from then on);
//! - acknowledges each packet once it holds it and the rest of the
//!   pipeline said they do (a status per node, its own first);
//! - makes the replica durable at the last packet, before acknowledging
//!   it, and tells the namenodes it holds it.
//!
//! The first datanode (the client's) also goes on hashing the file, from
//! the midstate its token carries, and remembers the result
//! ([`dfs_common::hadoop::Chain`]); [`chain`] answers the door from it, or
//! by reading the replica when this node did not hash the block as it came.
//!
//! Pipeline recovery (`PIPELINE_SETUP_STREAMING_RECOVERY`): a replica whose
//! pipeline broke is kept sealed, not visible ([`crate::rbw`]); the
//! client's recovery starts a new writer from the bytes it saw acknowledged
//! (copied from the kept one) and goes on. A recovered block's chain is
//! computed from the replica when the door asks.
//!
//! Appends (`PIPELINE_SETUP_APPEND`): dfs blocks never change once
//! written, so the namenode's door gives the file's short last block a new
//! block on the nodes that hold the old one, and each of them starts the
//! new replica as a copy of its old one (verified as it is read); Hadoop's
//! client then sends the new bytes as if into the old block.
//!
//! A node added to a pipeline that lost some (`TRANSFER_BLOCK` here, then
//! `TRANSFER_RBW` on the new node): this node copies the bytes its client
//! saw acknowledged, from the replica it kept when the pipeline broke,
//! packet by packet like a client; the new node keeps them unfinished for
//! the recovery that follows ([`transfer_block`]).
use super::{answer, read_delimited, resolve, Done, Failed, Refusal, MAX_OP, PACKET_DATA};
use crate::error::{DatanodeError, Result};
use crate::events::BlockEvent;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::sender;
use crate::store::{BlockInfo, BlockWriter, Digest, Expected, ReadCheck, SealedBlock};
use bytes::Bytes;
use dfs_common::auth::BlockOp;
use dfs_common::checksum::{Sha256Hasher, Sha256State};
use dfs_common::hadoop::transfer::{
    self, stage, status, BlockOpResponseProto, ChecksumProto, OpTransferBlockProto,
    OpWriteBlockProto, PacketHeaderProto, PipelineAckProto, HEARTBEAT_SEQNO, MAX_PACKET,
    MAX_PACKET_HEADER,
};
use dfs_common::hadoop::Chain;
use dfs_common::ids::BlockId;
use dfs_common::proto::data::DigestTrailer;
use dfs_common::proto::datanode::ReportedBlock;
use futures_util::StreamExt;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a pipeline waits for a packet or an acknowledgement (Hadoop's
/// client sends a heartbeat packet every 30 s on a quiet pipeline).
const PIPELINE_TIMEOUT: Duration = Duration::from_secs(75);

/// The largest checksum chunk accepted.
const MAX_BYTES_PER_CHECKSUM: u32 = 64 << 10;

/// What a packet's buffer starts at (Hadoop's packets are 64 KiB and a
/// bit): it grows as more arrives.
const PACKET_START: usize = 66 << 10;

/// Bytes copied at a time from a broken replica into its recovery.
const RECOVERY_PIECE: usize = 1 << 20;

/// Where a write's bytes go.
enum Sink {
    /// A replica being written.
    Writing(BlockWriter),
    /// The replica is already durable (a recovered close): packets are
    /// acknowledged, nothing is written.
    Done,
}

/// A write ready to take packets.
struct Prepared {
    id: BlockId,
    sink: Sink,
    /// Where the next packet's data starts in the block.
    offset: u64,
    /// The packets' checksums; `None`: the client sends none.
    bytes_per_checksum: Option<Sums>,
    /// The file's digest, carried on (the first datanode of a new block).
    chain: Option<(Sha256State, Sha256Hasher)>,
    /// The block's SHA-256 comes from the previous datanode (a trailer
    /// after the last packet; see [`finalize`]): the pipeline hashes each
    /// byte once, as dfs's own does.
    adopt: bool,
    /// Hand this node's digest to the next one (all but a recovered close).
    hand_on: bool,
    /// A replica copied here for a pipeline that takes this node on
    /// (`TRANSFER_RBW`): kept unfinished, for the recovery that follows.
    keep: bool,
}

/// The checksums a writer's packets carry: one per `chunk` bytes, CRC32C
/// (Hadoop's default) or the older CRC32.
#[derive(Clone, Copy)]
struct Sums {
    chunk: usize,
    castagnoli: bool,
}

impl Sums {
    fn of(&self, data: &[u8]) -> [u8; 4] {
        if self.castagnoli {
            crc32c::crc32c(data).to_be_bytes()
        } else {
            crc32fast::hash(data).to_be_bytes()
        }
    }
}

fn refuse(status: i32, message: impl Into<String>) -> Refusal {
    Refusal::new(status, message)
}

/// Checks the operation and opens what it writes into.
async fn prepare(
    req: &OpWriteBlockProto,
    node: &Arc<Node>,
) -> std::result::Result<Prepared, Refusal> {
    let token = resolve(node, &req.header.base_header, &[BlockOp::Write])?;
    let id = token.block;
    let sum = &req.requested_checksum;
    let chunk_ok = (1..=MAX_BYTES_PER_CHECKSUM).contains(&sum.bytes_per_checksum);
    let bytes_per_checksum = match sum.r#type {
        transfer::CHECKSUM_CRC32C | transfer::CHECKSUM_CRC32 if chunk_ok => Some(Sums {
            chunk: sum.bytes_per_checksum as usize,
            castagnoli: sum.r#type == transfer::CHECKSUM_CRC32C,
        }),
        transfer::CHECKSUM_NULL => None,
        other => {
            return Err(refuse(
                status::ERROR_INVALID,
                format!(
                    "checksum type {other} of {} bytes is not supported: dfs takes CRC32C or \
                     CRC32 (dfs.checksum.type), dfs.bytes-per-checksum up to \
                     {MAX_BYTES_PER_CHECKSUM}",
                    sum.bytes_per_checksum
                ),
            ))
        }
    };
    // The client's own datanode: the rest of the pipeline is in `targets`.
    let first = req.targets.len() + 1 == req.pipeline_size as usize;
    // Past the first, a datanode takes the block's SHA-256 from the one
    // before it (a recovered close may meet replicas already durable,
    // which send none: every node hashes its own then).
    let adopt = !first && req.stage != stage::PIPELINE_CLOSE_RECOVERY;
    let digest = if adopt {
        Digest::Adopt
    } else {
        Digest::Compute
    };
    let writer = |expected| async move {
        node.store
            .writer_with(id, expected, digest)
            .await
            .map_err(|e| refuse(status::ERROR, format!("block {id}: {e}")))
    };
    let resume = |file_state: Option<Sha256State>| match file_state.filter(|_| first) {
        None => Ok(None),
        Some(before) => {
            let h = Sha256Hasher::resume(&before).ok_or_else(|| {
                refuse(
                    status::ERROR_INVALID,
                    "the token's file midstate is not one",
                )
            })?;
            Ok(Some((before, h)))
        }
    };
    match req.stage {
        stage::PIPELINE_SETUP_APPEND => {
            // dfs appends by copy: the new block starts as the old one.
            let Some((old, n)) = token.source else {
                return Err(refuse(
                    status::ERROR_UNSUPPORTED,
                    format!("block {id}: appending to a block in place is not supported by dfs"),
                ));
            };
            if req.min_bytes_rcvd != n || node.store.get(old).map(|i| i.len) != Some(n) {
                return Err(refuse(
                    status::ERROR,
                    format!("block {old} of {n} bytes, to append to, is not on this datanode"),
                ));
            }
            let mut chain = resume(token.file_state)?;
            let mut w = writer(None).await?;
            let out = sender::open(node.clone(), old, None, None, ReadCheck::Digest)
                .await
                .map_err(|e| refuse(status::ERROR, format!("block {old}: {e}")))?;
            let mut stream = out.stream;
            while let Some(piece) = stream.next().await {
                let piece =
                    piece.map_err(|e| refuse(status::ERROR, format!("block {old}: {e}")))?;
                w.write(&piece)
                    .await
                    .map_err(|e| refuse(status::ERROR, e.to_string()))?;
                if let Some((_, h)) = chain.as_mut() {
                    h.update(&piece);
                }
            }
            Ok(Prepared {
                id,
                sink: Sink::Writing(w),
                offset: n,
                bytes_per_checksum,
                chain,
                adopt,
                hand_on: true,
                keep: false,
            })
        }
        stage::PIPELINE_SETUP_CREATE => {
            if node.store.get(id).is_some() {
                return Err(refuse(
                    status::ERROR_EXISTS,
                    format!("block {id} already exists on this datanode"),
                ));
            }
            let chain = resume(token.file_state)?;
            Ok(Prepared {
                id,
                sink: Sink::Writing(writer(None).await?),
                offset: 0,
                bytes_per_checksum,
                chain,
                adopt,
                hand_on: true,
                keep: false,
            })
        }
        stage::PIPELINE_SETUP_STREAMING_RECOVERY | stage::PIPELINE_CLOSE_RECOVERY => {
            let acked = req.min_bytes_rcvd;
            if req.stage == stage::PIPELINE_CLOSE_RECOVERY {
                if let Some(info) = node.store.get(id) {
                    if info.len != acked {
                        return Err(refuse(
                            status::ERROR,
                            format!(
                                "block {id} is durable here with {} bytes, not {acked}",
                                info.len
                            ),
                        ));
                    }
                    return Ok(Prepared {
                        id,
                        sink: Sink::Done,
                        offset: acked,
                        bytes_per_checksum,
                        chain: None,
                        adopt: false,
                        hand_on: false,
                        keep: false,
                    });
                }
            }
            let Some(broken) = node.rbw.take_broken(id) else {
                return Err(refuse(
                    status::ERROR,
                    format!("no replica of block {id} is being written here to recover"),
                ));
            };
            if broken.len() < acked {
                let why = format!(
                    "block {id}: this datanode holds {} bytes of it, fewer than the {acked} acknowledged",
                    broken.len()
                );
                node.rbw.keep_broken(id, broken);
                return Err(refuse(status::ERROR, why));
            }
            let mut w = writer(None).await?;
            let mut at = 0u64;
            while at < acked {
                let n = RECOVERY_PIECE.min(usize::try_from(acked - at).unwrap_or(usize::MAX));
                let piece = broken
                    .read_piece(at, n)
                    .await
                    .map_err(|e| refuse(status::ERROR, e.to_string()))?;
                if piece.is_empty() {
                    break;
                }
                w.write(&piece)
                    .await
                    .map_err(|e| refuse(status::ERROR, e.to_string()))?;
                at += piece.len() as u64;
            }
            log::info!("block {id}: pipeline recovery goes on from byte {acked}");
            Ok(Prepared {
                id,
                sink: Sink::Writing(w),
                offset: acked,
                bytes_per_checksum,
                chain: None,
                adopt,
                hand_on: req.stage != stage::PIPELINE_CLOSE_RECOVERY,
                keep: false,
            })
        }
        stage::TRANSFER_RBW => Ok(Prepared {
            id,
            sink: Sink::Writing(writer(None).await?),
            offset: 0,
            bytes_per_checksum,
            chain: None,
            adopt: false,
            hand_on: false,
            keep: true,
        }),
        other => Err(refuse(
            status::ERROR_UNSUPPORTED,
            format!(
                "block construction stage {other} (appending to a block, adding a datanode to \
                 a pipeline) is not supported by dfs"
            ),
        )),
    }
}

/// The next hop: the operation handed on, and its answer read.
struct Mirror {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

/// Connects to `next` and hands it the operation with `rest` as its
/// targets. The error is the first bad link (`ip:port`) and why.
async fn connect_mirror(
    req: &OpWriteBlockProto,
    timeout: Duration,
) -> std::result::Result<Option<Mirror>, (String, String)> {
    let Some((next, rest)) = req.targets.split_first() else {
        return Ok(None);
    };
    let addr = format!("{}:{}", next.id.ip_addr, next.id.xfer_port);
    let fail = |why: String| (addr.clone(), why);
    let stream = tokio::time::timeout(timeout, TcpStream::connect(&addr))
        .await
        .map_err(|_| fail(format!("no connection to {addr} within {timeout:?}")))?
        .map_err(|e| fail(format!("cannot connect to {addr}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::with_capacity(64 << 10, r);
    let mut op = OpWriteBlockProto {
        targets: rest.to_vec(),
        ..req.clone()
    };
    op.target_storage_types.truncate(rest.len());
    let mut bytes = transfer::VERSION.to_be_bytes().to_vec();
    bytes.push(transfer::OP_WRITE_BLOCK);
    bytes.extend_from_slice(&op.encode_length_delimited_to_vec());
    w.write_all(&bytes)
        .await
        .map_err(|e| fail(format!("{addr}: {e}")))?;
    let resp: BlockOpResponseProto = read_delimited(&mut r, MAX_OP, timeout)
        .await
        .map_err(|Failed(why)| fail(format!("{addr}: {why}")))?;
    if resp.status != status::SUCCESS {
        let bad = resp
            .first_bad_link
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| addr.clone());
        return Err((bad, resp.message.unwrap_or_default()));
    }
    Ok(Some(Mirror { r, w }))
}

/// One packet as read: its header, its checksums and data, and its bytes
/// as they came (to hand on).
struct Packet {
    head: PacketHeaderProto,
    sums: Bytes,
    data: Bytes,
    raw: Bytes,
}

async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> std::result::Result<Packet, Failed> {
    let read = async {
        let mut lens = [0u8; 6];
        r.read_exact(&mut lens).await?;
        let plen = u32::from_be_bytes([lens[0], lens[1], lens[2], lens[3]]) as usize;
        let hlen = u16::from_be_bytes([lens[4], lens[5]]) as usize;
        if !(4..=MAX_PACKET).contains(&plen) || hlen > MAX_PACKET_HEADER {
            return Err(Failed(format!(
                "a packet of {plen} bytes with a header of {hlen} is out of bounds"
            )));
        }
        // Read as it comes (a packet is 64 KiB unless the client was told
        // otherwise): memory follows what the peer sends.
        let want = hlen + plen - 4;
        let mut raw = Vec::with_capacity(6 + want.min(PACKET_START));
        raw.extend_from_slice(&lens);
        let got = AsyncReadExt::take(&mut *r, want as u64)
            .read_to_end(&mut raw)
            .await?;
        if got != want {
            return Err(Failed("the connection ended inside a packet".into()));
        }
        let head = PacketHeaderProto::decode(&raw[6..6 + hlen])
            .map_err(|e| Failed(format!("a packet header does not decode: {e}")))?;
        let n = usize::try_from(head.data_len).unwrap_or(usize::MAX);
        let body = plen - 4;
        if n > body {
            return Err(Failed(format!(
                "a packet says {n} data bytes in a body of {body}"
            )));
        }
        let raw = Bytes::from(raw);
        let sums = raw.slice(6 + hlen..6 + hlen + body - n);
        let data = raw.slice(6 + hlen + body - n..);
        Ok(Packet {
            head,
            sums,
            data,
            raw,
        })
    };
    match tokio::time::timeout(PIPELINE_TIMEOUT, read).await {
        Ok(p) => p,
        Err(_) => Err(Failed(format!("no packet within {PIPELINE_TIMEOUT:?}"))),
    }
}

/// What the receiving side hands the acknowledging side for each packet.
struct Received {
    seqno: i64,
    status: i32,
    last: bool,
}

/// `WRITE_BLOCK`.
pub async fn write_block<R, W>(
    r: &mut R,
    w: &mut W,
    node: &Arc<Node>,
    timeout: Duration,
) -> std::result::Result<Done, Failed>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let req: OpWriteBlockProto = read_delimited(r, MAX_OP, timeout).await?;
    let mut p = match prepare(&req, node).await {
        Ok(p) => p,
        Err(refusal) => {
            let why = refusal.message.clone();
            answer(w, refusal.into()).await?;
            return Err(Failed(why));
        }
    };
    let mirror = match connect_mirror(&req, timeout).await {
        Ok(m) => m,
        Err((bad_link, why)) => {
            keep_broken(node, p.id, p.sink).await;
            answer(
                w,
                BlockOpResponseProto {
                    status: status::ERROR,
                    first_bad_link: Some(bad_link),
                    message: Some(why.clone()),
                    ..Default::default()
                },
            )
            .await?;
            return Err(Failed(why));
        }
    };
    answer(
        w,
        BlockOpResponseProto {
            status: status::SUCCESS,
            first_bad_link: Some(String::new()),
            ..Default::default()
        },
    )
    .await?;
    let _transfer = node.metrics.transfer();
    let (mirror_r, mut mirror_w) = match mirror {
        Some(m) => (Some(m.r), Some(m.w)),
        None => (None, None),
    };
    let (tx, rx) = mpsc::unbounded_channel::<Received>();
    let stop = CancellationToken::new();
    let receiving = async {
        let outcome = tokio::select! {
            _ = stop.cancelled() => Err(Failed("the pipeline's acknowledgements stopped".into())),
            o = receive(r, &mut mirror_w, &mut p, node, &tx) => o,
        };
        // An end for the next hop too (it keeps what it has, for recovery).
        drop(mirror_w);
        drop(tx);
        outcome
    };
    let responding = async {
        let ended = respond(w, mirror_r, rx).await;
        if ended.is_err() {
            stop.cancel();
        }
        ended
    };
    let (received, responded) = tokio::join!(receiving, responding);
    match (received, responded) {
        (Ok(()), Ok(())) => Ok(Done::Close),
        (Err(e), _) | (_, Err(e)) => {
            keep_broken(node, p.id, std::mem::replace(&mut p.sink, Sink::Done)).await;
            Err(e)
        }
    }
}

/// Keeps what a broken write received, for its recovery.
async fn keep_broken(node: &Node, id: BlockId, sink: Sink) {
    if let Sink::Writing(w) = sink {
        match w.seal().await {
            Ok(sealed) => {
                log::info!(
                    "block {id}: pipeline broke after {} bytes; kept for recovery",
                    sealed.len()
                );
                node.rbw.keep_broken(id, sealed);
            }
            Err(e) => log::warn!("block {id}: pipeline broke, and what it had is lost: {e}"),
        }
    }
}

/// Takes packets until the last one (or the pipeline breaks).
async fn receive<R, M>(
    r: &mut R,
    mirror: &mut Option<M>,
    p: &mut Prepared,
    node: &Node,
    tx: &mpsc::UnboundedSender<Received>,
) -> std::result::Result<(), Failed>
where
    R: AsyncRead + Unpin,
    M: AsyncWrite + Unpin,
{
    let id = p.id;
    loop {
        let packet = read_packet(r).await?;
        let head = &packet.head;
        let ack = |status| {
            let _ = tx.send(Received {
                seqno: head.seqno,
                status,
                last: head.last_packet_in_block,
            });
        };
        if let Some(sums) = p.bytes_per_checksum {
            let chunks = packet.data.chunks(sums.chunk);
            let ok = packet.sums.len() == chunks.len() * 4
                && chunks
                    .zip(packet.sums.chunks(4))
                    .all(|(c, s)| sums.of(c) == [s[0], s[1], s[2], s[3]]);
            if !ok {
                ack(status::ERROR_CHECKSUM);
                return Err(Failed(format!(
                    "block {id}: a packet at offset {} failed its checksum",
                    head.offset_in_block
                )));
            }
        }
        // Handed on before it is written here, as HDFS does.
        if let Some(m) = mirror.as_mut() {
            if let Err(e) = m.write_all(&packet.raw).await {
                // The acknowledgements will name the next hop.
                log::info!("block {id}: the next hop is gone: {e}");
                *mirror = None;
            }
        }
        if head.seqno == HEARTBEAT_SEQNO {
            ack(status::SUCCESS);
            continue;
        }
        let start = u64::try_from(head.offset_in_block).unwrap_or(u64::MAX);
        let end = start.saturating_add(packet.data.len() as u64);
        // A packet resent after a recovery may overlap what is held.
        let data = match p.offset.checked_sub(start) {
            Some(skip) if skip <= packet.data.len() as u64 => packet.data.slice(skip as usize..),
            _ => {
                ack(status::ERROR_INVALID);
                return Err(Failed(format!(
                    "block {id}: a packet at offset {start} leaves a gap after byte {}",
                    p.offset
                )));
            }
        };
        if let Sink::Writing(w) = &mut p.sink {
            if let Err(e) = w.write(&data).await {
                ack(status::ERROR);
                return Err(Failed(format!("block {id}: {e}")));
            }
            Metrics::add(&node.metrics.bytes_received, data.len() as u64);
            if let Some((_, h)) = p.chain.as_mut() {
                h.update(&data);
            }
        }
        p.offset = p.offset.max(end);
        if head.last_packet_in_block {
            if let Err(e) = finalize(p, node, r, mirror).await {
                ack(status::ERROR);
                return Err(Failed(format!("block {id}: {e}")));
            }
            ack(status::SUCCESS);
            return Ok(());
        }
        ack(status::SUCCESS);
    }
}

/// The last packet: the block's SHA-256 taken from the previous datanode
/// (a [`DigestTrailer`] after its last packet, checked against this node's
/// own chunk CRC32Cs) or computed here, and handed to the next one; the
/// replica made durable and reported; the chain remembered.
async fn finalize<R, M>(
    p: &mut Prepared,
    node: &Node,
    upstream: &mut R,
    mirror: &mut Option<M>,
) -> Result<()>
where
    R: AsyncRead + Unpin,
    M: AsyncWrite + Unpin,
{
    let Sink::Writing(w) = std::mem::replace(&mut p.sink, Sink::Done) else {
        return Ok(());
    };
    let mut sealed = w.seal().await?;
    if p.keep {
        node.rbw.keep_broken(p.id, sealed);
        return Ok(());
    }
    if p.adopt {
        let mut raw = [0u8; DigestTrailer::LEN];
        tokio::time::timeout(PIPELINE_TIMEOUT, upstream.read_exact(&mut raw))
            .await
            .map_err(|_| DatanodeError::Body("no digest from the previous datanode".into()))?
            .map_err(|e| DatanodeError::Body(format!("the previous datanode's digest: {e}")))?;
        let t = DigestTrailer::decode(&raw)
            .ok_or_else(|| DatanodeError::Body("a garbled digest trailer".into()))?;
        sealed.adopt_digest(t.sha256, t.fingerprint)?;
    }
    if let (Some(m), Some(sha256), true) = (mirror.as_mut(), sealed.sha256(), p.hand_on) {
        let t = DigestTrailer {
            sha256,
            fingerprint: sealed.fingerprint(),
        };
        // A next hop that is gone says so in its acknowledgement.
        let _ = m.write_all(&t.encode()).await;
    }
    let (info, _) = sealed.commit(Expected::default()).await?;
    Metrics::add(&node.metrics.blocks_received, 1);
    node.events.send(BlockEvent::Received(ReportedBlock {
        id: p.id,
        len: info.len,
        sha256: info.sha256,
    }));
    if let Some((before, h)) = p.chain.take() {
        let chain = carried(&before, info, h);
        node.rbw.record_chain(p.id, before, chain);
    }
    Ok(())
}

/// Acknowledges each packet upstream once the next hop has.
async fn respond<W, M>(
    w: &mut W,
    mut mirror: Option<M>,
    mut rx: mpsc::UnboundedReceiver<Received>,
) -> std::result::Result<(), Failed>
where
    W: AsyncWrite + Unpin,
    M: AsyncRead + Unpin,
{
    while let Some(got) = rx.recv().await {
        let mut reply = vec![got.status];
        let mut broken = got.status != status::SUCCESS;
        if let (Some(m), false) = (mirror.as_mut(), broken) {
            let ack = read_delimited::<PipelineAckProto, _>(m, 4096, PIPELINE_TIMEOUT).await;
            match ack {
                Ok(a) if a.seqno == got.seqno && !a.reply.is_empty() => {
                    broken = a.reply.iter().any(|s| *s != status::SUCCESS);
                    reply.extend(a.reply);
                }
                // The next hop is gone or confused: it is the bad one.
                _ => {
                    reply.push(status::ERROR);
                    broken = true;
                    mirror = None;
                }
            }
        }
        let ack = PipelineAckProto {
            seqno: got.seqno,
            reply,
            downstream_ack_time_nanos: Some(0),
            flag: Vec::new(),
        };
        w.write_all(&ack.encode_length_delimited_to_vec()).await?;
        w.flush().await?;
        if broken {
            return Err(Failed(format!(
                "packet {}: the pipeline broke ({:?})",
                got.seqno, ack.reply
            )));
        }
        if got.last {
            return Ok(());
        }
    }
    Err(Failed(
        "the client's packets stopped before the last one".into(),
    ))
}

/// The file's digest carried across block `id` from `before`: remembered
/// if this node hashed the block as it came, else computed from the
/// replica (verified as it is read).
pub async fn chain(node: Arc<Node>, id: BlockId, before: &Sha256State) -> Result<Chain> {
    if let Some(c) = node.rbw.chain(id, before) {
        return Ok(c);
    }
    let mut h = Sha256Hasher::resume(before).ok_or_else(|| {
        DatanodeError::BadRequest("the file midstate is not a SHA-256 midstate".into())
    })?;
    let info = node.store.get(id).ok_or(DatanodeError::NotFound(id))?;
    let out = sender::open(node.clone(), id, None, None, ReadCheck::Digest).await?;
    let mut stream = out.stream;
    while let Some(piece) = stream.next().await {
        h.update(&piece?);
    }
    let chain = carried(before, info, h);
    node.rbw.record_chain(id, before.clone(), chain.clone());
    Ok(chain)
}

/// The chain of a block `info`, hashed by `h` on top of `before`.
fn carried(before: &Sha256State, info: BlockInfo, h: Sha256Hasher) -> Chain {
    let total = before.len + info.len;
    Chain {
        len: info.len,
        sha256: info.sha256,
        after: total.is_multiple_of(64).then(|| h.state(total)),
        digest: h.finish(),
    }
}

/// `TRANSFER_BLOCK`: the first `numBytes` of a replica being written (kept
/// here when its pipeline broke), or of a durable one, copied to a node a
/// pipeline takes on, as a `TRANSFER_RBW` write; answered once that node
/// acknowledged every packet.
pub(super) async fn transfer_block<R, W>(
    r: &mut R,
    w: &mut W,
    node: &Arc<Node>,
    timeout: Duration,
) -> std::result::Result<Done, Failed>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let req: OpTransferBlockProto = read_delimited(r, MAX_OP, timeout).await?;
    let base = &req.header.base_header;
    let copied = match resolve(node, base, &[BlockOp::Write, BlockOp::Copy]) {
        Ok(token) => {
            let broken = node.rbw.take_broken(token.block);
            let copied = copy_to(&req, token.block, broken.as_ref(), node, timeout).await;
            // Back, for this node's part in the recovery that follows.
            if let Some(b) = broken {
                node.rbw.keep_broken(token.block, b);
            }
            copied
        }
        Err(refusal) => Err(refusal),
    };
    match copied {
        Ok(()) => {
            answer(
                w,
                BlockOpResponseProto {
                    status: status::SUCCESS,
                    ..Default::default()
                },
            )
            .await?;
            Ok(Done::Close)
        }
        Err(refusal) => {
            let why = refusal.message.clone();
            answer(w, refusal.into()).await?;
            Err(Failed(why))
        }
    }
}

/// Writes the first `numBytes` of block `id` to the transfer's target.
async fn copy_to(
    req: &OpTransferBlockProto,
    id: BlockId,
    broken: Option<&SealedBlock>,
    node: &Arc<Node>,
    timeout: Duration,
) -> std::result::Result<(), Refusal> {
    let block = &req.header.base_header.block;
    let n = block.num_bytes.unwrap_or(0);
    let target = req
        .targets
        .first()
        .ok_or_else(|| refuse(status::ERROR_INVALID, "a transfer to no datanode"))?;
    let op = OpWriteBlockProto {
        header: req.header.clone(),
        targets: Vec::new(),
        source: None,
        stage: stage::TRANSFER_RBW,
        pipeline_size: 1,
        min_bytes_rcvd: n,
        max_bytes_rcvd: n,
        latest_generation_stamp: block.generation_stamp,
        requested_checksum: ChecksumProto {
            r#type: transfer::CHECKSUM_CRC32C,
            bytes_per_checksum: transfer::BYTES_PER_CHECKSUM as u32,
        },
        storage_type: None,
        target_storage_types: Vec::new(),
    };
    let as_pipeline = OpWriteBlockProto {
        targets: vec![target.clone()],
        ..op
    };
    let failed = |(link, why): (String, String)| refuse(status::ERROR, format!("{link}: {why}"));
    let Some(mut m) = connect_mirror(&as_pipeline, timeout)
        .await
        .map_err(failed)?
    else {
        return Err(refuse(status::ERROR_INVALID, "a transfer to no datanode"));
    };
    let gone =
        |e: std::io::Error| refuse(status::ERROR, format!("block {id}: the copy broke: {e}"));
    // The bytes, from the kept write or the durable replica.
    let mut durable = match broken {
        Some(b) if b.len() >= n => None,
        Some(b) => {
            return Err(refuse(
                status::ERROR,
                format!("block {id}: {} bytes held here, fewer than {n}", b.len()),
            ))
        }
        None => Some(
            sender::open(node.clone(), id, Some(0), Some(n), ReadCheck::Crc)
                .await
                .map_err(|e| refuse(status::ERROR, format!("block {id}: {e}")))?
                .stream,
        ),
    };
    let mut pending = bytes::BytesMut::new();
    let (mut at, mut seqno) = (0u64, 0i64);
    while at < n {
        let want = (n - at).min(PACKET_DATA as u64) as usize;
        while pending.len() < want {
            let more = match (&mut durable, broken) {
                (Some(s), _) => match s.next().await {
                    Some(piece) => piece.map_err(|e| refuse(status::ERROR, e.to_string()))?,
                    None => break,
                },
                (None, Some(b)) => bytes::Bytes::from(
                    b.read_piece(at + pending.len() as u64, want - pending.len())
                        .await
                        .map_err(|e| refuse(status::ERROR, e.to_string()))?,
                ),
                (None, None) => break,
            };
            if more.is_empty() {
                break;
            }
            pending.extend_from_slice(&more);
        }
        if pending.len() < want {
            return Err(refuse(
                status::ERROR,
                format!("block {id}: ended before byte {n}"),
            ));
        }
        let data = pending.split_to(want);
        let head = PacketHeaderProto {
            offset_in_block: at as i64,
            seqno,
            last_packet_in_block: false,
            data_len: want as i32,
            sync_block: None,
        };
        m.w.write_all(&transfer::packet(
            &head,
            &transfer::chunk_crcs(&data),
            &data,
        ))
        .await
        .map_err(gone)?;
        at += want as u64;
        seqno += 1;
    }
    let last = PacketHeaderProto {
        offset_in_block: at as i64,
        seqno,
        last_packet_in_block: true,
        data_len: 0,
        sync_block: None,
    };
    m.w.write_all(&transfer::packet(&last, &[], &[]))
        .await
        .map_err(gone)?;
    for expected in 0..=seqno {
        let ack = read_delimited::<PipelineAckProto, _>(&mut m.r, 4096, PIPELINE_TIMEOUT)
            .await
            .map_err(|Failed(why)| refuse(status::ERROR, why))?;
        if ack.seqno != expected || ack.reply.iter().any(|s| *s != status::SUCCESS) {
            return Err(refuse(
                status::ERROR,
                format!(
                    "block {id}: the copy was refused at packet {}: {:?}",
                    ack.seqno, ack.reply
                ),
            ));
        }
    }
    Ok(())
}
