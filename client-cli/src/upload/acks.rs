//! The acknowledgement rule, pure: from a pipeline's answer to a block,
//! which hops kept a durable replica of exactly the bytes sent, whether
//! that is enough for the block to count as written, and which hop to leave
//! out of the next pipeline when it is not.
//!
//! It sends nothing and asks nothing; `attempt` feeds it the answer.
//!
//! Invariants:
//! - A block counts as written only once [`replicas_needed`] hops (min(2,
//!   R), at least 1) acknowledged a durable replica whose SHA-256 is the
//!   block's: the first hop whose chunk CRCs match the bytes sent
//!   ([`digest_of_sent`]) sets that digest, and every other hop is held
//!   to it ([`accept_block`]). A hop that says ok but kept other bytes
//!   never counts.
//! - The hop to blame is the first one, in chain order, without an intact
//!   replica ([`nodes_to_exclude`]): the hops after it only saw what it
//!   forwarded.
use crate::error::ClientError;
use dfs_common::checksum::Sha256Digest;
use dfs_common::error::ErrorCode;
use dfs_common::ids::NodeId;
use dfs_common::proto::data::{ReplicaAck, WriteBlockResponse};
use dfs_common::proto::DatanodeInfo;

/// Durable replicas a block needs to count as written, when the file's
/// replication allows: two, so that no single datanode lost before repair
/// loses an acknowledged block. The namenode copies the rest later.
const MIN_DURABLE_REPLICAS: u16 = 2;

/// Hops that must keep a block intact for it to count as written, for a
/// file of `replication`: min(2, replication), and at least 1.
pub(crate) fn replicas_needed(replication: u16) -> usize {
    usize::from(replication.clamp(1, MIN_DURABLE_REPLICAS))
}

/// The namenode offered `found` datanodes for a block that needs `need`.
pub(super) fn too_few_targets(found: usize, need: usize) -> ClientError {
    // Why a node drops out, so the reader knows where to look.
    const WHY: &str = "(a datanode takes no block while it is silent past the \
        dead-node timeout, retiring, excluded after a failed write, or has less \
        than a block's size free: see `dfs report`)";
    let message = match found {
        0 => format!("the namenode chose no datanode for the block {WHY}"),
        1 => format!(
            "only 1 datanode is available for the block, and a block counts as \
             written only once {need} datanodes hold it {WHY}"
        ),
        n => format!(
            "only {n} datanodes are available for the block, and a block counts \
             as written only once {need} datanodes hold it {WHY}"
        ),
    };
    ClientError::Remote {
        status: ErrorCode::Unavailable.http_status(),
        code: ErrorCode::Unavailable,
        message,
    }
}

/// The block's SHA-256: the digest of the first hop (in pipeline order) that
/// made a replica durable whose chunk CRCs match the bytes sent (`sent`, a
/// [`crcs_fingerprint`] over `len` bytes). Every other hop is then held to
/// that digest by [`accept_block`]. `None` when no hop shows the bytes sent.
pub(crate) fn digest_of_sent(
    answer: &WriteBlockResponse,
    len: u64,
    sent: u32,
) -> Option<Sha256Digest> {
    if answer.len != len {
        return None;
    }
    answer
        .replicas
        .iter()
        .find(|a| a.ok && a.crcs == Some(sent))
        .and_then(|a| a.sha256)
}

/// The pipeline acceptance rule: the node ids of the hops that acknowledged a
/// durable replica with the client's digest, when there are at least `need`
/// (the write path asks for [`replicas_needed`]); otherwise a message naming
/// what failed. A hop that says ok but kept other bytes never counts.
pub(crate) fn accept_block(
    targets: &[DatanodeInfo],
    answer: &WriteBlockResponse,
    sha256: &Sha256Digest,
    need: usize,
) -> std::result::Result<Vec<NodeId>, String> {
    let mut good: Vec<NodeId> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for (t, outcome) in targets.iter().zip(hop_outcomes(targets, answer, sha256)) {
        match outcome {
            Hop::Intact if !good.contains(&t.id) => good.push(t.id),
            Hop::Intact => {}
            Hop::Failed(why) => failed.push(format!("{} ({why})", t.addr)),
            Hop::Unacknowledged => failed.push(format!("{} (no acknowledgement)", t.addr)),
        }
    }
    if good.len() >= need {
        if !failed.is_empty() {
            log::warn!(
                "block {} kept {} of {} replicas; failed: {}",
                answer.block_id,
                good.len(),
                targets.len(),
                failed.join(", ")
            );
        }
        Ok(good)
    } else {
        Err(format!(
            "only {} of {} datanodes stored the block intact (need {need}); failed: {}",
            good.len(),
            targets.len(),
            failed.join(", ")
        ))
    }
}

/// What one hop of a pipeline did with a block.
#[derive(Debug, PartialEq)]
enum Hop {
    /// A durable replica with the client's digest.
    Intact,
    /// The hop said it failed, or kept different bytes.
    Failed(String),
    /// No word from it (a hop before it in the chain may have broken off).
    Unacknowledged,
}

/// Each target's outcome, in pipeline order.
fn hop_outcomes(
    targets: &[DatanodeInfo],
    answer: &WriteBlockResponse,
    sha256: &Sha256Digest,
) -> Vec<Hop> {
    let anonymous = |a: &&ReplicaAck| a.node_id.is_none();
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // Hops name themselves by node id; an older or partial answer may
            // only give the address, or only the position in the pipeline.
            let ack = answer
                .replicas
                .iter()
                .find(|a| a.node_id == Some(t.id))
                .or_else(|| {
                    answer
                        .replicas
                        .iter()
                        .filter(anonymous)
                        .find(|a| same_addr(&a.addr, &t.addr))
                })
                .or_else(|| answer.replicas.get(i).filter(anonymous));
            match ack {
                None => Hop::Unacknowledged,
                Some(a) if !a.ok => Hop::Failed(a.error.clone().unwrap_or_else(|| "failed".into())),
                // The digest covers the length too: a short replica fails here.
                Some(a) if a.sha256.as_ref() != Some(sha256) => Hop::Failed(format!(
                    "stored bytes with SHA-256 {} instead of {sha256}",
                    a.sha256
                        .map(|d| d.to_hex())
                        .unwrap_or_else(|| "unknown".into())
                )),
                Some(_) => Hop::Intact,
            }
        })
        .collect()
}

/// The node to leave out of the next pipeline: the first hop, in chain
/// order, that did not keep an intact replica. Hops after it only ever saw
/// what it forwarded, so their failure may be its fault (a datanode reports
/// them as "not reached"); if they are bad too, the next attempt shows it.
pub(super) fn nodes_to_exclude(
    targets: &[DatanodeInfo],
    answer: &WriteBlockResponse,
    sha256: &Sha256Digest,
) -> Vec<DatanodeInfo> {
    targets
        .iter()
        .zip(hop_outcomes(targets, answer, sha256))
        .find(|(_, h)| *h != Hop::Intact)
        .map(|(t, _)| vec![t.clone()])
        .unwrap_or_default()
}

fn same_addr(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(i: u8) -> DatanodeInfo {
        DatanodeInfo {
            id: NodeId::from_bytes([i; 16]),
            addr: format!("http://127.0.0.1:{}", 9000 + i as u16),
        }
    }

    fn ack(n: &DatanodeInfo, ok: bool, sha: Option<Sha256Digest>) -> ReplicaAck {
        ReplicaAck {
            addr: n.addr.clone(),
            node_id: Some(n.id),
            ok,
            sha256: sha,
            error: (!ok).then(|| "disk full".to_string()),
            crcs: ok.then_some(7),
        }
    }

    #[test]
    fn the_digest_is_the_first_hop_that_kept_the_bytes_sent() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        let other = Sha256Digest::of(b"dat4");
        let mut wrong_bytes = ack(&t[0], true, Some(other));
        wrong_bytes.crcs = Some(8);
        let a = answer(
            4,
            d,
            vec![
                wrong_bytes.clone(),
                ack(&t[1], false, None),
                ack(&t[2], true, Some(d)),
            ],
        );
        assert_eq!(digest_of_sent(&a, 4, 7), Some(d));
        // The hop with other bytes then fails the digest check.
        assert_eq!(accept_block(&t, &a, &d, 1).unwrap(), vec![t[2].id]);
        // Nobody kept the bytes sent, or the length is not what was sent.
        let a = answer(4, d, vec![wrong_bytes, ack(&t[1], false, None)]);
        assert_eq!(digest_of_sent(&a, 4, 7), None);
        let a = answer(4, d, vec![ack(&t[0], true, Some(d))]);
        assert_eq!(digest_of_sent(&a, 5, 7), None);
        // A hop without fingerprint (or a failed one) proves nothing.
        let mut silent = ack(&t[0], true, Some(d));
        silent.crcs = None;
        assert_eq!(digest_of_sent(&answer(4, d, vec![silent]), 4, 7), None);
    }

    fn answer(len: u64, sha: Sha256Digest, replicas: Vec<ReplicaAck>) -> WriteBlockResponse {
        WriteBlockResponse {
            block_id: dfs_common::ids::BlockId::new(),
            len,
            sha256: sha,
            replicas,
        }
    }

    #[test]
    fn two_replicas_needed_unless_replication_is_lower() {
        assert_eq!(replicas_needed(0), 1);
        assert_eq!(replicas_needed(1), 1);
        assert_eq!(replicas_needed(2), 2);
        assert_eq!(replicas_needed(3), 2);
        assert_eq!(replicas_needed(10), 2);
    }

    #[test]
    fn one_intact_replica_of_three_is_not_enough() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        // The second hop died: only the first one's replica is left, which
        // one more lost datanode would take with it.
        let mut unreached = ack(&t[2], false, None);
        unreached.error = Some("not reached".into());
        let a = answer(
            4,
            d,
            vec![
                ack(&t[0], true, Some(d)),
                ack(&t[1], false, None),
                unreached,
            ],
        );
        let e = accept_block(&t, &a, &d, replicas_needed(3)).unwrap_err();
        assert!(e.contains("only 1 of 3") && e.contains("need 2"), "{e}");
        // The dead hop is left out of the next pipeline.
        assert_eq!(nodes_to_exclude(&t, &a, &d), vec![t[1].clone()]);
        // With replication 1, the first hop's replica is the block.
        assert_eq!(
            accept_block(&t, &a, &d, replicas_needed(1)).unwrap(),
            vec![t[0].id]
        );
        // No hop intact: refused, and the first hop is the one to leave out.
        let bad = Sha256Digest::of(b"dat4");
        let a = answer(4, d, vec![ack(&t[0], true, Some(bad))]);
        assert!(accept_block(&t, &a, &d, replicas_needed(1)).is_err());
        assert_eq!(nodes_to_exclude(&t, &a, &d), vec![t[0].clone()]);
    }

    #[test]
    fn accepts_two_of_three() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        let a = answer(
            4,
            d,
            vec![
                ack(&t[0], true, Some(d)),
                ack(&t[1], false, None),
                ack(&t[2], true, Some(d)),
            ],
        );
        assert_eq!(
            accept_block(&t, &a, &d, replicas_needed(3)).unwrap(),
            vec![t[0].id, t[2].id]
        );
    }

    #[test]
    fn refuses_one_of_three_and_names_the_failed() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        let a = answer(
            4,
            d,
            vec![ack(&t[0], true, Some(d)), ack(&t[1], false, None)],
        );
        let e = accept_block(&t, &a, &d, 2).unwrap_err();
        assert!(e.contains("only 1 of 3"), "{e}");
        assert!(e.contains(&t[1].addr) && e.contains("disk full"), "{e}");
        assert!(
            e.contains(&t[2].addr) && e.contains("no acknowledgement"),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_digest_does_not_count() {
        let t = vec![node(1), node(2)];
        let d = Sha256Digest::of(b"data");
        let bad = Sha256Digest::of(b"dat4");
        let a = answer(
            4,
            d,
            vec![ack(&t[0], true, Some(d)), ack(&t[1], true, Some(bad))],
        );
        let e = accept_block(&t, &a, &d, replicas_needed(2)).unwrap_err();
        assert!(e.contains("instead of"), "{e}");
        assert_eq!(
            accept_block(&t, &a, &d, replicas_needed(1)).unwrap(),
            vec![t[0].id]
        );
    }

    #[test]
    fn exclusion_blames_the_first_broken_hop() {
        let t = vec![node(1), node(2), node(3)];
        let d = Sha256Digest::of(b"data");
        // Hop 2 failed, so hop 3 was never reached: only hop 2 is excluded.
        let mut unreached = ack(&t[2], false, None);
        unreached.error = Some("not reached".into());
        let a = answer(
            4,
            d,
            vec![
                ack(&t[0], true, Some(d)),
                ack(&t[1], false, None),
                unreached,
            ],
        );
        assert_eq!(nodes_to_exclude(&t, &a, &d), vec![t[1].clone()]);
        // Silent hops count as broken too.
        let a = answer(4, d, vec![ack(&t[0], true, Some(d))]);
        assert_eq!(nodes_to_exclude(&t, &a, &d), vec![t[1].clone()]);
        let a = answer(
            4,
            d,
            vec![
                ack(&t[0], true, Some(d)),
                ack(&t[1], true, Some(d)),
                ack(&t[2], true, Some(d)),
            ],
        );
        assert!(nodes_to_exclude(&t, &a, &d).is_empty());
        // Matched by address when the hop gave no id.
        let mut anon = ack(&t[1], true, Some(d));
        anon.node_id = None;
        let a = answer(4, d, vec![ack(&t[0], true, Some(d)), anon]);
        assert_eq!(accept_block(&t, &a, &d, 2).unwrap(), vec![t[0].id, t[1].id]);
    }

    #[test]
    fn single_target_needs_one() {
        let t = vec![node(1)];
        let d = Sha256Digest::of(b"x");
        let a = answer(1, d, vec![ack(&t[0], true, Some(d))]);
        assert_eq!(
            accept_block(&t, &a, &d, replicas_needed(1)).unwrap(),
            vec![t[0].id]
        );
        let a = answer(1, d, vec![ack(&t[0], false, None)]);
        assert!(accept_block(&t, &a, &d, replicas_needed(1)).is_err());
        // A lone target can never make the two replicas of replication 3.
        let a = answer(1, d, vec![ack(&t[0], true, Some(d))]);
        assert!(accept_block(&t, &a, &d, replicas_needed(3)).is_err());
    }
}
