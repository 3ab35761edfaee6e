//! Unit tests of the block map.
use super::*;
use dfs_common::ids::FileId;

fn committed(inode: InodeId, data: &[u8], replicas: Vec<NodeId>) -> BlockMeta {
    BlockMeta {
        owner: BlockOwner::File(inode),
        len: data.len() as u64,
        sha256: Some(Sha256Digest::of(data)),
        replicas,
        targets: vec![],
    }
}

fn rb(id: BlockId, data: &[u8]) -> ReportedBlock {
    ReportedBlock {
        id,
        len: data.len() as u64,
        sha256: Sha256Digest::of(data),
    }
}

const BOUND: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn reports_reconcile() {
    let (a, b) = (NodeId::new(), NodeId::new());
    let good = BlockId::new();
    let mut map = BlockMap::default();
    let mut txn = Txn::new();
    map.insert(good, committed(5, b"hello", vec![a]), &mut txn);
    let pending = BlockId::new();
    map.insert(
        pending,
        BlockMeta {
            owner: BlockOwner::Pending(FileId::new()),
            len: 0,
            sha256: None,
            replicas: vec![],
            targets: vec![a, b],
        },
        &mut txn,
    );
    let stranger = BlockId::new();
    let now = Instant::now();

    // b reports the good block, a pending one, and one we never heard of.
    let del = map.on_full_report(
        b,
        &[rb(good, b"hello"), rb(pending, b"xy"), rb(stranger, b"?")],
        false,
        now,
        BOUND,
        &mut txn,
    );
    assert!(del.is_empty(), "the stranger is an orphan with a grace");
    assert_eq!(map.get(&good).unwrap().replicas, vec![a, b]);
    assert_eq!(map.replica_count(&b), 1);
    assert_eq!(map.orphan_count(), 1);
    let ev = map.take_events();
    assert_eq!(ev.arrived, vec![(good, b)]);
    assert!(ev.touched.contains(&good));

    // a's report lacks the good block: forgotten (it was not added recently).
    assert!(map
        .on_full_report(a, &[], false, now, BOUND, &mut txn)
        .is_empty());
    assert_eq!(map.get(&good).unwrap().replicas, vec![b]);
    assert_eq!(map.replica_count(&a), 0);
    assert_eq!(map.take_events().lost, vec![(good, a)]);

    // A mismatching copy is corrupt: not recorded, not served.
    assert_eq!(
        map.on_reported(a, &rb(good, b"hellx"), ReportKind::Full, now, &mut txn),
        ReportOutcome::Kept
    );
    assert_eq!(map.get(&good).unwrap().replicas, vec![b]);
    assert!(map.corrupt_of(&good).unwrap().contains_key(&a));
    assert_eq!(map.corrupt_replica_count(), 1);

    // The pending block's reported copy joins at commit when it matches.
    map.commit(pending, 6, 2, Sha256Digest::of(b"xy"), &[a], now, &mut txn);
    assert_eq!(map.get(&pending).unwrap().replicas, vec![a, b]);
    let holders = map.remove(pending, &mut txn);
    assert_eq!(holders.len(), 2);
    assert_eq!(map.replica_count(&a), 0);

    // The orphan is handed out for deletion only after its grace.
    tokio::time::advance(Duration::from_secs(3)).await;
    assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty());
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(
        map.sweep_orphans(Instant::now(), BOUND),
        vec![(b, stranger)]
    );
    assert_eq!(map.orphan_count(), 0);
    map.check_index();
}

#[tokio::test(start_paused = true)]
async fn a_full_report_older_than_a_new_replica_does_not_remove_it() {
    let a = NodeId::new();
    let id = BlockId::new();
    let mut map = BlockMap::default();
    let mut txn = Txn::new();
    map.insert(id, committed(5, b"x", vec![]), &mut txn);
    assert!(map.add_replica(id, a, Instant::now(), &mut txn));
    // The report was built before the replica arrived.
    tokio::time::advance(Duration::from_secs(1)).await;
    map.on_full_report(a, &[], false, Instant::now(), BOUND, &mut txn);
    assert_eq!(map.get(&id).unwrap().replicas, vec![a], "kept");
    // A later report that still lacks it is believed.
    tokio::time::advance(BOUND).await;
    map.prune_recent(Instant::now(), BOUND);
    map.on_full_report(a, &[], false, Instant::now(), BOUND, &mut txn);
    assert!(map.get(&id).unwrap().replicas.is_empty());
    map.check_index();
}

#[tokio::test(start_paused = true)]
async fn corrupt_and_invalidated_replicas() {
    let (a, b) = (NodeId::new(), NodeId::new());
    let id = BlockId::new();
    let mut map = BlockMap::default();
    let mut txn = Txn::new();
    let now = Instant::now();
    map.insert(id, committed(5, b"data", vec![a, b]), &mut txn);
    assert!(map.mark_corrupt(id, a, "scanner", &mut txn));
    assert_eq!(map.get(&id).unwrap().replicas, vec![b]);
    assert_eq!(map.blocks_on(&a), vec![]);
    // Its full report still lists it (the node may not know): stays corrupt.
    map.on_full_report(a, &[rb(id, b"data")], false, now, BOUND, &mut txn);
    assert_eq!(map.get(&id).unwrap().replicas, vec![b]);
    assert_eq!(map.corrupt_replica_count(), 1);
    // A fresh copy received later is good again.
    map.on_reported(a, &rb(id, b"data"), ReportKind::Incremental, now, &mut txn);
    assert_eq!(map.corrupt_replica_count(), 0);
    assert_eq!(map.get(&id).unwrap().replicas, vec![b, a]);

    // Excess: dropped now, and a full report of it is answered with Delete.
    map.invalidate(id, a, &mut txn);
    assert!(map.is_invalidated(&id, &a));
    assert_eq!(map.get(&id).unwrap().replicas, vec![b]);
    let del = map.on_full_report(a, &[rb(id, b"data")], false, now, BOUND, &mut txn);
    assert_eq!(del, vec![id]);
    assert_eq!(map.get(&id).unwrap().replicas, vec![b]);
    map.on_deleted(id, a, &mut txn);
    assert!(!map.is_invalidated(&id, &a));

    // A corrupt replica whose node no longer has it is forgotten.
    map.mark_corrupt(id, b, "reader", &mut txn);
    assert!(map.get(&id).unwrap().replicas.is_empty());
    map.on_full_report(b, &[], false, now, BOUND, &mut txn);
    assert_eq!(map.corrupt_replica_count(), 0);
    map.check_index();
}

#[tokio::test(start_paused = true)]
async fn unknown_replicas_are_held_when_the_metadata_may_be_wrong() {
    let (a, b) = (NodeId::new(), NodeId::new());
    let mut map = BlockMap::default();
    let mut txn = Txn::new();
    let now = Instant::now();
    // a holds 10 known blocks.
    let known: Vec<ReportedBlock> = (0..10u8)
        .map(|i| {
            let id = BlockId::new();
            map.insert(id, committed(1, &[i], vec![]), &mut txn);
            rb(id, &[i])
        })
        .collect();
    map.on_full_report(a, &known, false, now, BOUND, &mut txn);
    assert_eq!(map.replica_count(&a), 10);

    // Reported as b registers: held, whatever the grace.
    let strangers: Vec<ReportedBlock> = (0..3u8).map(|i| rb(BlockId::new(), &[i])).collect();
    map.on_full_report(b, &strangers, true, now, BOUND, &mut txn);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty());
    let (nodes, reasons) = map.orphans_by_node();
    assert_eq!(nodes, vec![(b, 3, 0)]);
    assert_eq!(reasons, vec![HoldReason::Registration]);

    // A few strays beside known blocks, seen while running: deleted after the grace.
    let stray = rb(BlockId::new(), b"s");
    map.on_reported(a, &stray, ReportKind::Incremental, Instant::now(), &mut txn);
    assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty(), "grace");
    tokio::time::advance(BOUND).await;
    assert_eq!(
        map.sweep_orphans(Instant::now(), BOUND),
        vec![(a, stray.id)]
    );

    // More than the share limit of a node at once: all held.
    assert_eq!(orphan_share_limit(10), 4);
    assert_eq!(orphan_share_limit(1000), 10);
    for i in 0..5u8 {
        let x = rb(BlockId::new(), &[i, i]);
        map.on_reported(a, &x, ReportKind::Incremental, Instant::now(), &mut txn);
    }
    tokio::time::advance(BOUND).await;
    assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty());
    let (nodes, reasons) = map.orphans_by_node();
    assert!(nodes.contains(&(a, 5, 0)), "{nodes:?}");
    assert!(reasons.contains(&HoldReason::Share));

    // The operator's word takes them all; a block that became known
    // meanwhile is not among them.
    let later_known = strangers[0];
    map.insert(later_known.id, committed(2, &[0], vec![]), &mut txn);
    let taken = map.take_orphans();
    assert_eq!(taken.len(), 5 + 2);
    assert!(!taken.iter().any(|(_, id)| *id == later_known.id));
    assert_eq!(map.orphan_count(), 0);
    map.check_index();
}

/// Replicas that land after their blocks were removed here (a pipeline
/// cut by a dead datanode abandons every block it had in flight) are
/// garbage: deleted at the next sweep, however many, while as many
/// replicas of blocks never known are held for an operator.
#[tokio::test(start_paused = true)]
async fn late_replicas_of_removed_blocks_are_deleted_not_held() {
    let a = NodeId::new();
    let mut map = BlockMap::default();
    let mut txn = Txn::new();
    let mut late = Vec::new();
    for i in 0..6u8 {
        let id = BlockId::new();
        map.insert(id, committed(1, &[i], vec![]), &mut txn);
        map.remove(id, &mut txn);
        late.push(rb(id, &[i]));
    }
    for x in &late {
        map.on_reported(a, x, ReportKind::Incremental, Instant::now(), &mut txn);
    }
    let mut swept = map.sweep_orphans(Instant::now(), BOUND);
    swept.sort();
    let mut want: Vec<(NodeId, BlockId)> = late.iter().map(|x| (a, x.id)).collect();
    want.sort();
    assert_eq!(swept, want);
    assert_eq!(map.orphan_count(), 0);
    // Strangers, as many: held (the share limit of a node with none known).
    for i in 0..6u8 {
        let x = rb(BlockId::new(), &[i, 1]);
        map.on_reported(a, &x, ReportKind::Incremental, Instant::now(), &mut txn);
    }
    tokio::time::advance(BOUND).await;
    assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty());
    assert_eq!(map.orphans_by_node().1, vec![HoldReason::Share]);
    map.check_index();
}

#[tokio::test(start_paused = true)]
async fn after_a_restore_every_unknown_replica_is_held() {
    let a = NodeId::new();
    let mut map = BlockMap::default();
    let mut txn = Txn::new();
    map.set_hold_all(true);
    let x = rb(BlockId::new(), b"x");
    map.on_reported(a, &x, ReportKind::Incremental, Instant::now(), &mut txn);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert!(map.sweep_orphans(Instant::now(), BOUND).is_empty());
    assert_eq!(map.orphans_by_node().1, vec![HoldReason::Restored]);
    assert_eq!(map.take_orphans(), vec![(a, x.id)]);
    assert!(!map.holds_all(), "the operator's word ends the hold");
    map.check_index();
}

/// The compact form against a plain model: replicas (in order), owners,
/// the node index and the counters, through random changes. Six nodes so
/// that replicas spill past the inline three; six blocks so that removals
/// move entries between slots.
mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, bool, Vec<u8>),
        Add(u8, u8),
        Remove(u8, u8),
        Invalidate(u8, u8),
        Corrupt(u8, u8),
        Forget(u8),
        Commit(u8, Vec<u8>),
        Register(u8),
        /// A full report from a node of the blocks in a mask (and one
        /// unknown block when set).
        FullReport(u8, u8, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        let b = 0..6u8;
        let n = 0..6u8;
        let ns = proptest::collection::vec(0..6u8, 0..7);
        prop_oneof![
            1 => (b.clone(), any::<bool>(), ns.clone()).prop_map(|(b, p, r)| Op::Insert(b, p, r)),
            4 => (b.clone(), n.clone()).prop_map(|(b, n)| Op::Add(b, n)),
            2 => (b.clone(), n.clone()).prop_map(|(b, n)| Op::Remove(b, n)),
            1 => (b.clone(), n.clone()).prop_map(|(b, n)| Op::Invalidate(b, n)),
            1 => (b.clone(), n.clone()).prop_map(|(b, n)| Op::Corrupt(b, n)),
            1 => b.clone().prop_map(Op::Forget),
            1 => (b, ns).prop_map(|(b, r)| Op::Commit(b, r)),
            1 => n.clone().prop_map(Op::Register),
            2 => (n, 0..64u8, any::<bool>()).prop_map(|(n, m, u)| Op::FullReport(n, m, u)),
        ]
    }

    fn dedup(v: &[NodeId]) -> Vec<NodeId> {
        let mut out = Vec::new();
        for n in v {
            if !out.contains(n) {
                out.push(*n);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn matches_a_plain_map(ops in proptest::collection::vec(op(), 1..80)) {
            let blocks: Vec<BlockId> = (0..6).map(|_| BlockId::new()).collect();
            let nodes: Vec<NodeId> = (0..6).map(|_| NodeId::new()).collect();
            let file = FileId::new();
            let now = Instant::now();
            let mut map = BlockMap::default();
            let mut txn = Txn::new();
            // block → (pending, replicas in order)
            let mut want: HashMap<BlockId, (bool, Vec<NodeId>)> = HashMap::new();
            // Replicas we ordered deleted, replicas known corrupt, and
            // replicas reported for pending blocks (in order).
            let mut inv: HashSet<(BlockId, NodeId)> = HashSet::new();
            let mut cor: HashSet<(BlockId, NodeId)> = HashSet::new();
            let mut rep: HashMap<BlockId, Vec<NodeId>> = HashMap::new();
            let good = |id: BlockId| ReportedBlock { id, len: 1, sha256: Sha256Digest::of(b"x") };
            for op in ops {
                match op {
                    Op::Insert(b, pending, r) => {
                        let (id, r) = (blocks[b as usize], r.iter().map(|i| nodes[*i as usize]).collect::<Vec<_>>());
                        let meta = BlockMeta {
                            owner: if pending { BlockOwner::Pending(file) } else { BlockOwner::File(7) },
                            len: if pending { 0 } else { 1 },
                            sha256: (!pending).then(|| Sha256Digest::of(b"x")),
                            replicas: r.clone(),
                            targets: if pending { vec![nodes[0]] } else { vec![] },
                        };
                        map.insert(id, meta, &mut txn);
                        want.insert(id, (pending, dedup(&r)));
                    }
                    Op::Add(b, n) => {
                        let (id, n) = (blocks[b as usize], nodes[n as usize]);
                        let added = map.add_replica(id, n, now, &mut txn);
                        let fresh = want.get_mut(&id).is_some_and(|(_, r)| !r.contains(&n) && { r.push(n); true });
                        prop_assert_eq!(added, fresh);
                    }
                    Op::Remove(b, n) | Op::Invalidate(b, n) | Op::Corrupt(b, n) => {
                        let (id, node) = (blocks[b as usize], nodes[n as usize]);
                        let applies = match op {
                            Op::Remove(..) => {
                                map.remove_replica(id, node, &mut txn);
                                if let Some(r) = rep.get_mut(&id) {
                                    r.retain(|x| *x != node);
                                }
                                true
                            }
                            Op::Invalidate(..) => {
                                map.invalidate(id, node, &mut txn);
                                inv.insert((id, node));
                                true
                            }
                            _ => {
                                map.mark_corrupt(id, node, "test", &mut txn);
                                if want.contains_key(&id) {
                                    if let Some(r) = rep.get_mut(&id) {
                                        r.retain(|x| *x != node);
                                    }
                                }
                                let committed = want.get(&id).is_some_and(|(p, _)| !p);
                                if committed {
                                    cor.insert((id, node));
                                }
                                committed
                            }
                        };
                        if applies {
                            if let Some((_, r)) = want.get_mut(&id) {
                                r.retain(|x| *x != node);
                            }
                        }
                    }
                    Op::Forget(b) => {
                        let id = blocks[b as usize];
                        let holders = map.remove(id, &mut txn);
                        if let Some((_, r)) = want.remove(&id) {
                            prop_assert!(r.iter().all(|n| holders.contains(n)));
                        }
                        rep.remove(&id);
                        inv.retain(|(b, _)| *b != id);
                        cor.retain(|(b, _)| *b != id);
                    }
                    Op::Commit(b, r) => {
                        let (id, r) = (blocks[b as usize], r.iter().map(|i| nodes[*i as usize]).collect::<Vec<_>>());
                        map.commit(id, 9, 1, Sha256Digest::of(b"x"), &r, now, &mut txn);
                        let mut all = r.clone();
                        all.extend(rep.remove(&id).unwrap_or_default());
                        want.insert(id, (false, dedup(&all)));
                    }
                    Op::Register(n) => map.note_registered(nodes[n as usize]),
                    Op::FullReport(n, mask, unknown) => {
                        let node = nodes[n as usize];
                        let listed: Vec<BlockId> = (0..6)
                            .filter(|i| mask & (1 << i) != 0)
                            .map(|i| blocks[i])
                            .collect();
                        let mut report: Vec<ReportedBlock> = listed.iter().map(|b| good(*b)).collect();
                        if unknown {
                            report.push(good(BlockId::new()));
                        }
                        // Nothing is fresh: a zero race bound.
                        let del = map.on_full_report(node, &report, false, now, Duration::ZERO, &mut txn);
                        let mut want_del = Vec::new();
                        for b in &listed {
                            match want.get_mut(b) {
                                None => {}
                                Some((true, _)) => {
                                    let r = rep.entry(*b).or_default();
                                    r.retain(|x| *x != node);
                                    r.push(node);
                                }
                                Some((false, r)) => {
                                    if inv.contains(&(*b, node)) {
                                        want_del.push(*b);
                                    } else if !cor.contains(&(*b, node)) && !r.contains(&node) {
                                        r.push(node);
                                    }
                                }
                            }
                        }
                        prop_assert_eq!(del, want_del);
                        for (b, (_, r)) in want.iter_mut() {
                            if !listed.contains(b) && r.contains(&node) {
                                r.retain(|x| *x != node);
                                if let Some(p) = rep.get_mut(b) {
                                    p.retain(|x| *x != node);
                                }
                            }
                        }
                        cor.retain(|(b, x)| *x != node || listed.contains(b));
                        inv.retain(|(b, x)| *x != node || listed.contains(b));
                    }
                }
                map.check_index();
                prop_assert_eq!(map.len(), want.len());
                for (id, (pending, r)) in &want {
                    let got = map.get(id).unwrap();
                    prop_assert_eq!(&got.replicas, r);
                    prop_assert_eq!(matches!(got.owner, BlockOwner::Pending(_)), *pending);
                }
                prop_assert_eq!(map.corrupt_replica_count(), cor.len() as u64);
                for (b, n) in &inv {
                    prop_assert!(map.is_invalidated(b, n));
                }
                for n in &nodes {
                    let on = want.values().filter(|(_, r)| r.contains(n)).count();
                    prop_assert_eq!(map.replica_count(n), on as u64);
                    prop_assert_eq!(map.blocks_on(n).len(), on);
                }
            }
        }
    }
}
