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
}
