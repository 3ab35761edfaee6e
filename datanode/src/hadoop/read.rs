//! `READ_BLOCK` and `BLOCK_CHECKSUM`: a replica's bytes, verified by
//! [`crate::sender`] against dfs's own checksums, with the 512-byte CRC32Cs
//! Hadoop's client checks computed from them.
use super::{answer, read_delimited, resolve, Done, Failed, Refusal, MAX_OP, PACKET_DATA};
use crate::node::Node;
use crate::sender;
use crate::store::ReadCheck;
use bytes::{Buf, BytesMut};
use dfs_common::auth::BlockOp;
use dfs_common::hadoop::transfer::{
    self, status, BlockOpResponseProto, ChecksumProto, OpBlockChecksumProto,
    OpBlockChecksumResponseProto, OpReadBlockProto, PacketHeaderProto, ReadOpChecksumInfoProto,
    BYTES_PER_CHECKSUM,
};
use futures_util::StreamExt;
use md5::Digest;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// `READ_BLOCK`: the range asked, from the checksum chunk it starts in, in
/// packets of [`PACKET_DATA`] bytes with their 512-byte CRC32Cs, then an
/// empty last packet; then the client's read status.
pub(super) async fn read_block<R, W>(
    r: &mut R,
    w: &mut W,
    node: &Arc<Node>,
    timeout: Duration,
) -> Result<Done, Failed>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let req: OpReadBlockProto = read_delimited(r, MAX_OP, timeout).await?;
    let opened = async {
        let id = resolve(node, &req.header.base_header, &[BlockOp::Read])?.block;
        let info = node.store.get(id).ok_or_else(|| {
            Refusal::new(
                status::ERROR,
                format!("Replica not found for block {id} on this datanode"),
            )
        })?;
        let end = req.offset.checked_add(req.len).filter(|e| *e <= info.len);
        let Some(end) = end else {
            return Err(Refusal::new(
                status::ERROR_INVALID,
                format!(
                    "Offset {} and length {} don't match block {id} of {} bytes",
                    req.offset, req.len, info.len
                ),
            ));
        };
        let chunk = BYTES_PER_CHECKSUM as u64;
        let start = req.offset - req.offset % chunk;
        let end = end.div_ceil(chunk).saturating_mul(chunk).min(info.len);
        let out = sender::open(
            node.clone(),
            id,
            Some(start),
            Some(end - start),
            ReadCheck::Crc,
        )
        .await
        .map_err(|e| Refusal::new(status::ERROR, format!("block {id}: {e}")))?;
        Ok((start, out))
    };
    let (start, out) = match opened.await {
        Ok(o) => o,
        Err(refusal) => {
            let why = refusal.message.clone();
            answer(w, refusal.into()).await?;
            return Err(Failed(why));
        }
    };
    let crcs = req.send_checksums.unwrap_or(true);
    answer(
        w,
        BlockOpResponseProto {
            status: status::SUCCESS,
            read_op_checksum_info: Some(ReadOpChecksumInfoProto {
                checksum: ChecksumProto {
                    r#type: if crcs {
                        transfer::CHECKSUM_CRC32C
                    } else {
                        transfer::CHECKSUM_NULL
                    },
                    bytes_per_checksum: BYTES_PER_CHECKSUM as u32,
                },
                chunk_offset: start,
            }),
            ..Default::default()
        },
    )
    .await?;
    let mut stream = out.stream;
    let mut pending = BytesMut::with_capacity(2 * PACKET_DATA);
    let mut offset = start;
    let mut seqno = 0i64;
    loop {
        let piece = stream.next().await;
        let ended = match piece {
            Some(Ok(bytes)) => {
                pending.extend_from_slice(&bytes);
                false
            }
            // A replica that fails verification: it is quarantined and
            // reported; the client sees the connection end and reads
            // another replica.
            Some(Err(e)) => return Err(Failed(format!("read stopped: {e}"))),
            None => true,
        };
        while pending.len() >= PACKET_DATA || (ended && !pending.is_empty()) {
            let n = pending.len().min(PACKET_DATA);
            let data = pending.split_to(n);
            let sums = if crcs {
                transfer::chunk_crcs(&data)
            } else {
                Vec::new()
            };
            let head = PacketHeaderProto {
                offset_in_block: i64::try_from(offset).unwrap_or(i64::MAX),
                seqno,
                last_packet_in_block: false,
                data_len: n as i32,
                sync_block: None,
            };
            w.write_all(&transfer::packet(&head, &sums, &data)).await?;
            offset += n as u64;
            seqno += 1;
        }
        if ended {
            break;
        }
        if pending.capacity() < PACKET_DATA {
            pending.reserve(2 * PACKET_DATA);
        }
    }
    let last = PacketHeaderProto {
        offset_in_block: i64::try_from(offset).unwrap_or(i64::MAX),
        seqno,
        last_packet_in_block: true,
        data_len: 0,
        sync_block: None,
    };
    w.write_all(&transfer::packet(&last, &[], &[])).await?;
    w.flush().await?;
    // The client says how the read went when it read all it asked for; a
    // client that stopped early closes the connection instead.
    match read_delimited::<transfer::ClientReadStatusProto, _>(r, 64, timeout).await {
        Ok(s) if s.status == status::CHECKSUM_OK || s.status == status::SUCCESS => Ok(Done::Again),
        Ok(s) => {
            log::warn!(
                "Hadoop data transfer: a reader reported status {} after a read",
                s.status
            );
            Ok(Done::Close)
        }
        Err(_) => Ok(Done::Close),
    }
}

/// `BLOCK_CHECKSUM`: the MD5 of the block's 512-byte CRC32Cs (what
/// `hadoop fs -checksum` combines into its MD5-of-MD5-of-CRC32C), from the
/// replica's verified bytes.
pub(super) async fn block_checksum<R, W>(
    r: &mut R,
    w: &mut W,
    node: &Arc<Node>,
    timeout: Duration,
) -> Result<Done, Failed>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let req: OpBlockChecksumProto = read_delimited(r, MAX_OP, timeout).await?;
    let summed = async {
        let id = resolve(node, &req.header, &[BlockOp::Read])?.block;
        let out = sender::open(node.clone(), id, None, None, ReadCheck::Crc)
            .await
            .map_err(|e| Refusal::new(status::ERROR, format!("block {id}: {e}")))?;
        let mut md5 = md5::Md5::new();
        let mut chunks = 0u64;
        let mut pending = BytesMut::new();
        let mut stream = out.stream;
        loop {
            let piece = stream.next().await;
            let ended = match piece {
                Some(Ok(b)) => {
                    pending.extend_from_slice(&b);
                    false
                }
                Some(Err(e)) => {
                    return Err(Refusal::new(status::ERROR, format!("block {id}: {e}")))
                }
                None => true,
            };
            while pending.len() >= BYTES_PER_CHECKSUM || (ended && !pending.is_empty()) {
                let n = pending.len().min(BYTES_PER_CHECKSUM);
                md5.update(crc32c::crc32c(&pending[..n]).to_be_bytes());
                pending.advance(n);
                chunks += 1;
            }
            if ended {
                break;
            }
        }
        Ok(OpBlockChecksumResponseProto {
            bytes_per_crc: BYTES_PER_CHECKSUM as u32,
            crc_per_block: chunks,
            md5: md5.finalize().to_vec(),
            crc_type: Some(transfer::CHECKSUM_CRC32C),
        })
    };
    match summed.await {
        Ok(sum) => {
            answer(
                w,
                BlockOpResponseProto {
                    status: status::SUCCESS,
                    checksum_response: Some(sum),
                    ..Default::default()
                },
            )
            .await?;
            Ok(Done::Again)
        }
        Err(refusal) => {
            let why = refusal.message.clone();
            answer(w, refusal.into()).await?;
            Err(Failed(why))
        }
    }
}
