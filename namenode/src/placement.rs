//! Block placement: which datanodes get the replicas of a new block. Pure: it
//! takes data and returns data, no clock, no locks, no I/O, so `add_block` and
//! (later) re-replication call the same function and tests can run it
//! exhaustively.
//!
//! The policy is weighted rendezvous (highest-random-weight) hashing. Every
//! (block, node) pair gets a deterministic pseudo-random `u` in (0, 1) from
//! SHA-256 of the two ids; the node's score is `-weight / ln(u)` with weight =
//! its available bytes; the top `n` scores win, best first (the pipeline's
//! first hop). Why this shape rather than HDFS's random choice:
//! - stable: adding a node moves only the blocks it now wins (≈ 1/N of first
//!   replicas); removing one moves only blocks that were on it;
//! - capacity-weighted: `-w/ln(u)` is an exponential race, so a node's chance
//!   of the top score is exactly `w / Σw`;
//! - deterministic: the same inputs give the same pipeline, which makes tests
//!   and debugging easy.
//!
//! Racks (HDFS's rack awareness, in rendezvous form): a block's replicas
//! spread over as many racks as there are, up to its replication. Among
//! the scored candidates, the best node of each rack the block is not on
//! yet is taken first, in score order, until every rack is used or `n` are
//! taken; the rest are filled by score. So a whole rack can fail and every
//! block keeps a replica; within the rule the choice is still the
//! capacity-weighted race above; and with one rack (every node on the
//! default rack) the result is exactly the plain top `n` by score. The
//! answer's order is that order of taking ("best first within the rule"),
//! which makes every prefix an answer of its own: the first `k` of `n`
//! targets are the targets for `k`.
//!
//! Invariants: never two replicas on one node; never an excluded node; never a
//! node with less than `min_available` bytes free; the targets cover
//! min(`n`, racks among the qualifying candidates not already used) new
//! racks. Fewer than `n` targets come back when fewer candidates qualify
//! (HDFS writes with what it has); the caller decides whether zero is an
//! error.
use dfs_common::ids::{BlockId, NodeId};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// A rack as placement compares them: the first 8 bytes of SHA-256 of its
/// name (copyable and the same on every namenode; two names meeting on
/// one value is a 2^-64 chance, and would only make placement treat two
/// racks as one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RackId(pub u64);

impl RackId {
    pub fn of(name: &str) -> RackId {
        let digest = Sha256::digest(name.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        RackId(u64::from_be_bytes(first))
    }
}

/// A live datanode that could take a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: NodeId,
    /// Bytes it can still take.
    pub available: u64,
    pub rack: RackId,
}

/// Chooses up to `n` distinct targets for a new `block`, best first within
/// the rack rule (see the module doc).
pub fn choose_targets(
    block: BlockId,
    n: usize,
    candidates: &[Candidate],
    exclude: &[NodeId],
    min_available: u64,
) -> Vec<NodeId> {
    choose_more_targets(block, n, candidates, exclude, min_available, &[])
}

/// [`choose_targets`] for a block that already has replicas on
/// `used_racks` (re-replication): racks it is not on yet come first.
pub fn choose_more_targets(
    block: BlockId,
    n: usize,
    candidates: &[Candidate],
    exclude: &[NodeId],
    min_available: u64,
    used_racks: &[RackId],
) -> Vec<NodeId> {
    let mut scored: Vec<(f64, NodeId, RackId)> = Vec::with_capacity(candidates.len());
    for c in candidates {
        if c.available == 0
            || c.available < min_available
            || exclude.contains(&c.id)
            || scored.iter().any(|(_, id, _)| *id == c.id)
        {
            continue;
        }
        scored.push((score(block, c.id, c.available), c.id, c.rack));
    }
    spread(scored, n, used_racks)
}

/// Ranks the nodes holding a replica of `block`, the one placement prefers
/// most first, by the same rule as [`choose_targets`] (a node with no free
/// space still ranks, with weight 1): the best holder of each rack, in
/// score order, then the rest by score. Excess-replica removal keeps the
/// head of this list, so the replicas that stay cover as many racks as
/// the holders do (up to the number kept) and are the ones placement would
/// choose again, and the choice is the same whichever node computes it.
pub fn rank_holders(block: BlockId, holders: &[Candidate]) -> Vec<NodeId> {
    let mut scored: Vec<(f64, NodeId, RackId)> = Vec::with_capacity(holders.len());
    for c in holders {
        if scored.iter().any(|(_, id, _)| *id == c.id) {
            continue;
        }
        scored.push((score(block, c.id, c.available.max(1)), c.id, c.rack));
    }
    let n = scored.len();
    spread(scored, n, &[])
}

/// The rack rule over scored nodes: sorted by score, the best of each rack
/// not in `used_racks` first (until `n` are taken), then the rest by
/// score; at most `n`.
fn spread(mut scored: Vec<(f64, NodeId, RackId)>, n: usize, used_racks: &[RackId]) -> Vec<NodeId> {
    // Highest score first; ties (practically impossible) broken by id so the
    // order stays deterministic.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut racks: HashSet<RackId> = used_racks.iter().copied().collect();
    let mut taken = vec![false; scored.len()];
    let mut out = Vec::with_capacity(n.min(scored.len()));
    for (i, (_, id, rack)) in scored.iter().enumerate() {
        if out.len() == n {
            break;
        }
        if racks.insert(*rack) {
            taken[i] = true;
            out.push(*id);
        }
    }
    for (i, (_, id, _)) in scored.iter().enumerate() {
        if out.len() == n {
            break;
        }
        if !taken[i] {
            out.push(*id);
        }
    }
    out
}

/// The distinct racks of `nodes`.
pub fn rack_count(racks: impl IntoIterator<Item = RackId>) -> usize {
    racks.into_iter().collect::<HashSet<_>>().len()
}

/// Is a block with replicas on `replica_racks` (one entry per live
/// replica) on too few racks? It should be on min(`expected`,
/// `live_racks`) racks, `live_racks` being the racks with a live node that
/// could hold a replica (HDFS's "mis-replicated").
pub fn is_mis_replicated(
    replica_racks: impl IntoIterator<Item = RackId>,
    expected: u16,
    live_racks: usize,
) -> bool {
    rack_count(replica_racks) < usize::from(expected).min(live_racks)
}

/// Puts the replicas of `block` that a reader may use in the order it
/// tries them: a random permutation drawn from `seed` and the block id
/// (HDFS shuffles the replicas at the same network distance). The caller
/// passes a fresh random `seed` with every answer, so the reads of one
/// block spread over all its replicas, and rot on any of them is met by
/// ordinary reads (reported and repaired then), not only by the scanner.
/// Unlike the placement ranks above this order is random on purpose: a
/// fixed one sends every read of a block to the same node.
pub fn read_order<T>(replicas: &mut [T], block: BlockId, seed: u64) {
    let b = block.as_bytes();
    let mut state =
        seed ^ u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
    // Fisher-Yates with splitmix64: uniform enough for a handful of
    // replicas (the modulo bias of a 64-bit draw is negligible).
    for i in (1..replicas.len()).rev() {
        let j = (splitmix64(&mut state) % (i as u64 + 1)) as usize;
        replicas.swap(i, j);
    }
}

/// The next number of the splitmix64 sequence held in `state`.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `-weight / ln(u)`, with `u` in (0, 1) derived from the two ids.
fn score(block: BlockId, node: NodeId, weight: u64) -> f64 {
    let u = unit_interval(pair_hash(block, node));
    -(weight as f64) / u.ln()
}

/// The first 8 bytes of SHA-256(block id ‖ node id), big-endian.
fn pair_hash(block: BlockId, node: NodeId) -> u64 {
    let mut h = Sha256::new();
    h.update(block.as_bytes());
    h.update(node.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Maps a hash to (0, 1), never 0 or 1 (so `ln(u)` is finite and negative).
fn unit_interval(h: u64) -> f64 {
    ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    fn nodes(n: usize, available: u64) -> Vec<Candidate> {
        (0..n)
            .map(|_| Candidate {
                id: NodeId::new(),
                available,
                rack: RackId::default(),
            })
            .collect()
    }

    fn blocks(n: usize) -> Vec<BlockId> {
        (0..n).map(|_| BlockId::new()).collect()
    }

    const GB: u64 = 1 << 30;

    #[test]
    fn read_order_is_a_permutation_and_every_replica_comes_first() {
        let block = BlockId::new();
        let mut firsts = HashMap::new();
        for seed in 0..3000u64 {
            let mut r = vec![0, 1, 2];
            // Seeds as a caller draws them: random, not consecutive.
            let mut s = seed;
            read_order(&mut r, block, splitmix64(&mut s));
            let mut sorted = r.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 1, 2], "a permutation");
            *firsts.entry(r[0]).or_insert(0u32) += 1;
        }
        for i in 0..3 {
            let n = firsts.get(&i).copied().unwrap_or(0);
            // Expected 1000 each.
            assert!(
                (850..1150).contains(&n),
                "replica {i} first {n} times of 3000"
            );
        }
        // Same seed and block, same order; one or no replica stays as is.
        let mut a = vec![5, 6, 7, 8];
        let mut b = a.clone();
        read_order(&mut a, block, 42);
        read_order(&mut b, block, 42);
        assert_eq!(a, b);
        let mut one = vec![9];
        read_order(&mut one, block, 7);
        assert_eq!(one, vec![9]);
        read_order::<u8>(&mut [], block, 7);
    }

    #[test]
    fn picks_n_distinct_best_first_and_deterministic() {
        let c = nodes(5, GB);
        let b = BlockId::new();
        let t = choose_targets(b, 3, &c, &[], 1);
        assert_eq!(t.len(), 3);
        assert_eq!(t.iter().collect::<HashSet<_>>().len(), 3);
        assert_eq!(choose_targets(b, 3, &c, &[], 1), t);
        // The first of three is the first of one: a prefix property.
        assert_eq!(choose_targets(b, 1, &c, &[], 1), vec![t[0]]);
    }

    #[test]
    fn fewer_candidates_than_replicas() {
        let c = nodes(2, GB);
        assert_eq!(choose_targets(BlockId::new(), 3, &c, &[], 1).len(), 2);
        assert!(choose_targets(BlockId::new(), 3, &[], &[], 1).is_empty());
        // A candidate listed twice still counts once.
        let twice = vec![c[0], c[0]];
        assert_eq!(
            choose_targets(BlockId::new(), 3, &twice, &[], 1),
            vec![c[0].id]
        );
    }

    #[test]
    fn excluded_and_full_nodes_are_never_chosen() {
        let mut c = nodes(4, GB);
        c[1].available = 100; // below the block size
        c[2].available = 0;
        for b in blocks(500) {
            let t = choose_targets(b, 3, &c, &[c[3].id], 4096);
            assert_eq!(t, vec![c[0].id]);
        }
    }

    #[test]
    fn adding_a_fourth_node_moves_about_a_quarter() {
        let three = nodes(3, GB);
        let mut four = three.clone();
        four.push(Candidate {
            id: NodeId::new(),
            available: GB,
            rack: RackId::default(),
        });
        let bs = blocks(10_000);
        let mut moved = 0;
        for b in &bs {
            let before = choose_targets(*b, 1, &three, &[], 1)[0];
            let after = choose_targets(*b, 1, &four, &[], 1)[0];
            if before != after {
                moved += 1;
                // Only to the new node, never between old ones.
                assert_eq!(after, four[3].id);
            }
        }
        let share = moved as f64 / bs.len() as f64;
        assert!((0.17..=0.33).contains(&share), "moved {share}");
    }

    #[test]
    fn removing_a_node_moves_only_its_blocks() {
        let four = nodes(4, GB);
        let gone = four[2].id;
        let three: Vec<Candidate> = four.iter().copied().filter(|c| c.id != gone).collect();
        for b in blocks(2_000) {
            let before = choose_targets(b, 3, &four, &[], 1);
            let after = choose_targets(b, 3, &three, &[], 1);
            if !before.contains(&gone) {
                assert_eq!(before, after);
            } else {
                // The survivors keep their replicas (in the same order).
                let kept: Vec<NodeId> = before.iter().copied().filter(|id| *id != gone).collect();
                assert_eq!(&after[..2], &kept[..]);
            }
        }
    }

    #[test]
    fn three_times_the_space_gets_three_times_the_share() {
        let mut c = nodes(3, GB);
        c[0].available = 3 * GB;
        let mut firsts: HashMap<NodeId, u32> = HashMap::new();
        for b in blocks(20_000) {
            *firsts
                .entry(choose_targets(b, 1, &c, &[], 1)[0])
                .or_default() += 1;
        }
        let big = firsts[&c[0].id] as f64;
        let small = (firsts[&c[1].id] + firsts[&c[2].id]) as f64 / 2.0;
        let ratio = big / small;
        assert!((2.6..=3.4).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn holders_rank_like_placement() {
        let c = nodes(5, GB);
        for b in blocks(200) {
            let ranked = rank_holders(b, &c);
            assert_eq!(ranked.len(), 5);
            // The top holders are exactly what placement would choose.
            assert_eq!(ranked[..3], choose_targets(b, 3, &c, &[], 1)[..]);
            // Stable: the order does not depend on the input order.
            let mut rev = c.clone();
            rev.reverse();
            assert_eq!(rank_holders(b, &rev), ranked);
        }
        // A full node still ranks (it holds the replica, it just cannot take more).
        let mut full = nodes(2, GB);
        full[0].available = 0;
        assert_eq!(rank_holders(BlockId::new(), &full).len(), 2);
        assert!(rank_holders(BlockId::new(), &[]).is_empty());
    }

    /// `per_rack[i]` nodes on rack `i`, all with `available` bytes.
    fn racked(per_rack: &[usize], available: u64) -> Vec<Candidate> {
        let mut v = Vec::new();
        for (r, &k) in per_rack.iter().enumerate() {
            for _ in 0..k {
                v.push(Candidate {
                    id: NodeId::new(),
                    available,
                    rack: RackId::of(&format!("/rack{r}")),
                });
            }
        }
        v
    }

    fn racks_of(ids: &[NodeId], c: &[Candidate]) -> usize {
        rack_count(
            ids.iter()
                .map(|id| c.iter().find(|c| c.id == *id).unwrap().rack),
        )
    }

    /// The answer without racks: the plain top `n` by score.
    fn by_score(b: BlockId, n: usize, c: &[Candidate]) -> Vec<NodeId> {
        let one_rack: Vec<Candidate> = c
            .iter()
            .map(|c| Candidate {
                rack: RackId::default(),
                ..*c
            })
            .collect();
        choose_targets(b, n, &one_rack, &[], 1)
    }

    #[test]
    fn rack_ids_are_stable_and_distinct() {
        assert_eq!(RackId::of("/a"), RackId::of("/a"));
        assert_ne!(RackId::of("/a"), RackId::of("/b"));
    }

    #[test]
    fn replicas_spread_over_as_many_racks_as_exist() {
        for layout in [
            vec![2, 2, 2],
            vec![3, 3],
            vec![5, 1],
            vec![1, 1, 1, 1, 1],
            vec![4],
        ] {
            let c = racked(&layout, GB);
            let racks = layout.len();
            for b in blocks(300) {
                for n in 0..=c.len() + 1 {
                    let t = choose_targets(b, n, &c, &[], 1);
                    assert_eq!(t.len(), n.min(c.len()));
                    assert_eq!(t.iter().collect::<HashSet<_>>().len(), t.len());
                    assert_eq!(racks_of(&t, &c), n.min(racks), "{layout:?} n={n}");
                    // Every prefix is an answer of its own.
                    for k in 0..t.len() {
                        assert_eq!(choose_targets(b, k, &c, &[], 1), t[..k]);
                    }
                    // The same nodes as by score, only reordered, when the
                    // top by score already spans the racks it can.
                    let plain = by_score(b, n, &c);
                    if racks_of(&plain, &c) == n.min(racks) {
                        let (mut a, mut p) = (t.clone(), plain.clone());
                        a.sort();
                        p.sort();
                        assert_eq!(a, p);
                    }
                }
                // The first target is the best by score, whatever the racks.
                assert_eq!(choose_targets(b, 3, &c, &[], 1)[0], by_score(b, 1, &c)[0]);
            }
        }
    }

    #[test]
    fn within_a_rack_the_best_node_by_score_wins() {
        // Rack 1 has one node: it is always a target of 2; the other
        // target is the best of rack 0 by score, weighted by space.
        let mut c = racked(&[3, 1], GB);
        c[0].available = 3 * GB;
        let mut wins: HashMap<NodeId, u32> = HashMap::new();
        for b in blocks(12_000) {
            let t = choose_targets(b, 2, &c, &[], 1);
            assert!(t.contains(&c[3].id));
            let other = t.iter().find(|id| **id != c[3].id).unwrap();
            let best0 = by_score(b, 3, &c[..3])[0];
            assert_eq!(*other, best0);
            *wins.entry(*other).or_default() += 1;
        }
        let ratio = wins[&c[0].id] as f64 / ((wins[&c[1].id] + wins[&c[2].id]) as f64 / 2.0);
        assert!((2.6..=3.4).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn re_replication_prefers_racks_the_block_is_not_on() {
        let c = racked(&[2, 2, 2], GB);
        let (r0, r1) = (c[0].rack, c[2].rack);
        for b in blocks(300) {
            // On rack 0 and 1 already: the one new replica goes to rack 2.
            let holders = [c[0].id, c[2].id];
            let t = choose_more_targets(b, 1, &c, &holders, 1, &[r0, r1]);
            assert_eq!(t.len(), 1);
            assert_eq!(c.iter().find(|x| x.id == t[0]).unwrap().rack, c[4].rack);
            // On rack 0 only, two missing: racks 1 and 2.
            let t = choose_more_targets(b, 2, &c, &[c[0].id], 1, &[r0]);
            assert_eq!(racks_of(&t, &c), 2);
            assert!(t
                .iter()
                .all(|id| c.iter().any(|x| x.id == *id && x.rack != r0)));
            // Every rack used: by score, among the rest.
            let t = choose_more_targets(b, 2, &c, &holders, 1, &[r0, r1, c[4].rack]);
            let rest: Vec<Candidate> = c
                .iter()
                .copied()
                .filter(|x| !holders.contains(&x.id))
                .collect();
            assert_eq!(t, by_score(b, 2, &rest));
        }
    }

    #[test]
    fn a_full_rack_is_skipped_not_waited_for() {
        let mut c = racked(&[2, 2, 2], GB);
        c[4].available = 10;
        c[5].available = 0;
        for b in blocks(200) {
            let t = choose_targets(b, 3, &c, &[], 4096);
            assert_eq!(t.len(), 3);
            assert_eq!(racks_of(&t, &c), 2);
            assert!(!t.contains(&c[4].id) && !t.contains(&c[5].id));
        }
    }

    #[test]
    fn holders_kept_cover_as_many_racks_as_they_can() {
        let c = racked(&[3, 1, 2], GB);
        for b in blocks(300) {
            let ranked = rank_holders(b, &c);
            assert_eq!(ranked.len(), c.len());
            for keep in 0..=c.len() {
                assert_eq!(racks_of(&ranked[..keep], &c), keep.min(3), "keep {keep}");
                // The kept are what placement would choose.
                assert_eq!(ranked[..keep], choose_targets(b, keep, &c, &[], 1)[..]);
            }
            // The lone node of rack 1 is always kept among 3.
            assert!(ranked[..3].contains(&c[3].id));
        }
        // All on one rack: by score, as without racks.
        let one = racked(&[4], GB);
        let b = BlockId::new();
        assert_eq!(rank_holders(b, &one), by_score(b, 4, &one));
    }

    #[test]
    fn mis_replication_counts_racks_against_what_is_possible() {
        let (a, b, c) = (RackId::of("/a"), RackId::of("/b"), RackId::of("/c"));
        assert!(is_mis_replicated([a, a, a], 3, 2));
        assert!(!is_mis_replicated([a, a, b], 3, 2));
        assert!(is_mis_replicated([a, a, b], 3, 3));
        assert!(!is_mis_replicated([a, b, c], 3, 3));
        assert!(!is_mis_replicated([a, b], 2, 5));
        // One rack in the cluster: never.
        assert!(!is_mis_replicated([a, a, a], 3, 1));
        // Replication 1: one rack is all it needs.
        assert!(!is_mis_replicated([a], 1, 3));
        assert_eq!(rack_count([a, b, a, c, b]), 3);
    }

    proptest! {
        #[test]
        fn rack_rule_invariants(
            racks in proptest::collection::vec(0u8..4, 0..12),
            avail in proptest::collection::vec(0u64..10_000, 12),
            excluded_mask in proptest::collection::vec(any::<bool>(), 12),
            used in proptest::collection::vec(0u8..4, 0..3),
            n in 0usize..6,
            min in 0u64..5_000,
        ) {
            let c: Vec<Candidate> = racks.iter().zip(&avail).map(|(&r, &a)| Candidate {
                id: NodeId::new(),
                available: a,
                rack: RackId(u64::from(r)),
            }).collect();
            let exclude: Vec<NodeId> = c.iter().zip(&excluded_mask).filter(|(_, &x)| x).map(|(c, _)| c.id).collect();
            let used: Vec<RackId> = used.iter().map(|&r| RackId(u64::from(r))).collect();
            let t = choose_more_targets(BlockId::new(), n, &c, &exclude, min, &used);
            let eligible: Vec<&Candidate> = c.iter().filter(|c| c.available > 0 && c.available >= min && !exclude.contains(&c.id)).collect();
            prop_assert_eq!(t.len(), n.min(eligible.len()));
            prop_assert_eq!(t.iter().collect::<HashSet<_>>().len(), t.len());
            for id in &t {
                prop_assert!(!exclude.contains(id));
                prop_assert!(eligible.iter().any(|c| c.id == *id));
            }
            let new_racks = rack_count(eligible.iter().map(|c| c.rack).filter(|r| !used.contains(r)));
            let got_new = rack_count(t.iter().map(|id| c.iter().find(|c| c.id == *id).unwrap().rack).filter(|r| !used.contains(r)));
            prop_assert_eq!(got_new, n.min(new_racks));
        }
    }

    proptest! {
        #[test]
        fn placement_invariants(
            avail in proptest::collection::vec(0u64..10_000, 0..12),
            excluded_mask in proptest::collection::vec(any::<bool>(), 12),
            n in 0usize..6,
            min in 0u64..5_000,
        ) {
            let c: Vec<Candidate> = avail.iter().map(|&a| Candidate { id: NodeId::new(), available: a, rack: RackId::default() }).collect();
            let exclude: Vec<NodeId> = c.iter().zip(&excluded_mask).filter(|(_, &x)| x).map(|(c, _)| c.id).collect();
            let t = choose_targets(BlockId::new(), n, &c, &exclude, min);
            let eligible = c.iter().filter(|c| c.available > 0 && c.available >= min && !exclude.contains(&c.id)).count();
            prop_assert_eq!(t.len(), n.min(eligible));
            prop_assert_eq!(t.iter().collect::<HashSet<_>>().len(), t.len());
            for id in &t {
                prop_assert!(!exclude.contains(id));
                let cand = c.iter().find(|c| c.id == *id).unwrap();
                prop_assert!(cand.available >= min && cand.available > 0);
            }
        }
    }
}
