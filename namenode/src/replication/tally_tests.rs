//! The counters and the block-health tally against a full recount, after
//! every step of random sequences mixing commands (the generator of
//! `namespace::apply_tests`), whole uploads, datanode reports (received,
//! deleted, corrupt, full), registrations, deaths and returns of nodes,
//! the monitor worker's settling and replication ticks (with rescans).
//! Also checks safe-mode progress from the counters against its walk, and
//! fsck and du taken in steps against one walk.
use crate::commands::{Command, CommitBlock, Completion, Entry, NewFile};
use crate::meta_store::Txn;
use crate::namespace::apply_tests::{node, path, step, Proposer, Step, BS};
use crate::namespace::{Deletions, Namespace};
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use proptest::prelude::*;
use tokio::time::Instant;

/// A step of the soft state beside the commands: what datanodes report and
/// how they stand, and the replication monitor's own work.
#[derive(Debug, Clone)]
enum Soft {
    Cmd(Step),
    /// A whole upload: path, blocks, replication, which nodes ack (mask).
    Write(u8, u8, u16, u8),
    /// Node reports a replica of the n-th known block (right or wrong).
    Received(u8, u8, bool),
    /// Node says its replica of the n-th known block is gone.
    Deleted(u8, u8),
    /// A reader or scanner says node's replica of the n-th block is bad.
    Corrupt(u8, u8),
    /// A full report of the node's recorded replicas, less the n-th one,
    /// plus a replica of no block.
    FullReport(u8, u8),
    Register(u8),
    Die(u8),
    ComeBack(u8),
    /// The monitor's worker settles the tally (the reader did not).
    Settle,
    /// A replication tick (excess and corrupt deletions, the rescan).
    Tick(bool),
}

fn soft() -> impl Strategy<Value = Soft> {
    let n = 0u8..4;
    let b = any::<u8>();
    prop_oneof![
        3 => step().prop_map(Soft::Cmd),
        3 => (0u8..39, 1u8..4, 1u16..4, 1u8..16).prop_map(|(p, b, r, m)| Soft::Write(p, b, r, m)),
        3 => (n.clone(), b, any::<bool>()).prop_map(|(n, b, ok)| Soft::Received(n, b, ok)),
        1 => (n.clone(), b).prop_map(|(n, b)| Soft::Deleted(n, b)),
        1 => (n.clone(), b).prop_map(|(n, b)| Soft::Corrupt(n, b)),
        1 => (n.clone(), b).prop_map(|(n, b)| Soft::FullReport(n, b)),
        1 => n.clone().prop_map(Soft::Register),
        1 => n.clone().prop_map(Soft::Die),
        1 => n.prop_map(Soft::ComeBack),
        1 => Just(Soft::Settle),
        1 => any::<bool>().prop_map(Soft::Tick),
    ]
}

/// The n-th known block (by id, so runs repeat).
fn nth_block(ns: &Namespace, n: u8) -> Option<(BlockId, u64, Option<Sha256Digest>)> {
    let mut ids: Vec<(BlockId, u64, Option<Sha256Digest>)> = ns
        .blocks()
        .iter()
        .map(|(id, m)| (*id, m.len, m.sha256))
        .collect();
    if ids.is_empty() {
        return None;
    }
    ids.sort_by_key(|x| x.0);
    Some(ids[usize::from(n) % ids.len()])
}

/// Runs `steps`, checking after each; returns how many writes completed.
fn soft_run(steps: Vec<Soft>) -> usize {
    use crate::datanodes::{NodeClass, NodeSnap, NodeView};
    use crate::replication::{self, ReplicationQueues, Settings};
    use dfs_common::proto::datanode::ReportedBlock;
    use std::time::Duration;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let now = Instant::now();
        let mut txn = Txn::new();
        let mut ns = Namespace::new(1, &mut txn);
        let mut q = ReplicationQueues::new(now);
        let mut proposer = Proposer::default();
        // Nodes start known from before a restart: presumed, unregistered.
        let mut view = NodeView::default();
        for i in 0..4 {
            view.nodes.insert(
                node(i),
                NodeSnap {
                    addr: format!("http://n{i}"),
                    class: NodeClass::Presumed,
                    registered: false,
                    admin: dfs_common::proto::client::AdminState::Normal,
                    available: 1 << 30,
                    rack: crate::placement::RackId::default(),
                    maintenance: false,
                },
            );
        }
        let settings = Settings {
            max_streams: 2,
            pending_timeout: Duration::from_secs(10),
            orphan_grace: Duration::ZERO,
            race_bound: Duration::ZERO,
            // Rescan passes spread over several ticks, as on a large map.
            rescan_chunk: 2,
        };
        let bound = Duration::ZERO;
        let mut ids = 0u32;
        let mut next_id = move || {
            ids += 1;
            let mut b = [0xa0u8; 16];
            b[..4].copy_from_slice(&ids.to_be_bytes());
            b
        };
        let mut written = 0;
        for s in steps {
            let mut txn = Txn::new();
            let mut dels = Deletions::new();
            let set_class = |view: &mut NodeView, i: u8, class| {
                if let Some(snap) = view.nodes.get_mut(&node(i)) {
                    snap.class = class;
                }
            };
            match s {
                Soft::Cmd(ref step) => {
                    let e = proposer.command(step);
                    let _ = ns.apply(&e, now, &mut txn, &mut dels);
                }
                Soft::Write(p, nblocks, replication, mask) => {
                    let file_id = FileId::from_bytes(next_id());
                    let entry = |command| Entry {
                        ts_ms: 5_000,
                        request: None,
                        command,
                    };
                    let create = entry(Command::Create(NewFile {
                        file_id,
                        path: path(p),
                        overwrite: true,
                        create_parent: true,
                        replication,
                        block_size: BS,
                        owner: None,
                        permission: 0o644,
                    }));
                    if ns.apply(&create, now, &mut txn, &mut dels).is_ok() {
                        let acked: Vec<NodeId> =
                            (0..4).filter(|i| mask & (1 << i) != 0).map(node).collect();
                        let mut blocks = Vec::new();
                        for _ in 0..nblocks {
                            let block_id = BlockId::from_bytes(next_id());
                            let add = entry(Command::AddBlock {
                                file_id,
                                block_id,
                                targets: acked.clone(),
                            });
                            ns.apply(&add, now, &mut txn, &mut dels).unwrap();
                            blocks.push(CommitBlock {
                                block_id,
                                len: BS,
                                sha256: Sha256Digest::of(b"w"),
                                replicas: acked.clone(),
                            });
                        }
                        let length = BS * u64::from(nblocks);
                        let complete = entry(Command::Complete(Completion {
                            file_id,
                            blocks,
                            length,
                            sha256: Sha256Digest::of(b"f"),
                            sha256_state: None,
                        }));
                        if ns.apply(&complete, now, &mut txn, &mut dels).is_ok() {
                            written += 1;
                        }
                    }
                }
                Soft::Received(i, b, ok) => {
                    if let Some((id, len, sha)) = nth_block(&ns, b) {
                        let sha256 = match (ok, sha) {
                            (true, Some(s)) => s,
                            _ => Sha256Digest::of(b"other"),
                        };
                        let rb = ReportedBlock { id, len, sha256 };
                        ns.on_incremental_report(node(i), &[rb], &[], now, &mut txn);
                    }
                }
                Soft::Deleted(i, b) => {
                    if let Some((id, _, _)) = nth_block(&ns, b) {
                        ns.on_incremental_report(node(i), &[], &[id], now, &mut txn);
                    }
                }
                Soft::Corrupt(i, b) => {
                    if let Some((id, _, _)) = nth_block(&ns, b) {
                        ns.mark_corrupt(id, node(i), "test", &mut txn);
                    }
                }
                Soft::FullReport(i, b) => {
                    let skip = nth_block(&ns, b).map(|x| x.0);
                    let mut report: Vec<ReportedBlock> = ns
                        .blocks()
                        .blocks_on(&node(i))
                        .into_iter()
                        .filter(|id| Some(*id) != skip)
                        .filter_map(|id| {
                            let m = ns.blocks().get(&id)?;
                            Some(ReportedBlock {
                                id,
                                len: m.len,
                                sha256: m.sha256?,
                            })
                        })
                        .collect();
                    report.push(ReportedBlock {
                        id: BlockId::from_bytes([0xee; 16]),
                        len: 1,
                        sha256: Sha256Digest::of(b"?"),
                    });
                    ns.on_full_report(node(i), &report, b % 2 == 0, now, bound, &mut txn);
                }
                Soft::Register(i) => {
                    ns.note_registered(node(i));
                    if let Some(snap) = view.nodes.get_mut(&node(i)) {
                        snap.registered = true;
                        snap.class = NodeClass::Live;
                    }
                    q.enqueue(ns.blocks().blocks_on(&node(i)));
                }
                Soft::Die(i) => {
                    set_class(&mut view, i, NodeClass::Gone);
                    q.node_lost(&node(i));
                    q.enqueue(ns.blocks().blocks_on(&node(i)));
                }
                Soft::ComeBack(i) => {
                    let registered = view.nodes.get(&node(i)).is_some_and(|s| s.registered);
                    if registered {
                        set_class(&mut view, i, NodeClass::Live);
                        q.enqueue(ns.blocks().blocks_on(&node(i)));
                    }
                }
                Soft::Settle => {
                    let dirty = q.take_dirty_health();
                    q.settle_health(&dirty, &ns, &view);
                }
                Soft::Tick(rescan) => {
                    if rescan {
                        q.request_rescan();
                    }
                    replication::tick(&mut ns, &mut q, &view, now, &settings, &mut txn, &mut dels);
                }
            }
            q.absorb(ns.take_block_events(), now);

            ns.assert_counters_exact();
            assert_eq!(
                ns.reported_blocks(&view),
                ns.reported_blocks_walk(&view),
                "safe-mode progress after {s:?}"
            );
            let walk = ns.counts(&view);
            let h = q.health_counts(&ns, &view, usize::MAX);
            // A first build of the tally on three threads finds the same.
            let mut fresh = ReplicationQueues::new(now);
            fresh.rebuild_health_in(&ns, &view, 3);
            let f = fresh.settled_health();
            assert_eq!(
                (f.missing, f.corrupt, f.under_replicated, f.over_replicated),
                (h.missing, h.corrupt, h.under_replicated, h.over_replicated),
                "health tally built on three threads after {s:?}"
            );
            assert_eq!(
                (h.missing, h.corrupt, h.under_replicated, h.over_replicated),
                (
                    walk.missing,
                    walk.corrupt_blocks,
                    walk.under_replicated,
                    walk.over_replicated
                ),
                "health tally after {s:?}"
            );
        }
        // fsck and du in small steps (nothing changing between them) find
        // what one walk finds.
        let root = DfsPath::root();
        let whole = ns.fsck(&root, &view, 5).unwrap();
        let mut walk = ns.fsck_start(&root).unwrap();
        while !ns.fsck_step(&mut walk, &view, 5, 3).unwrap() {}
        assert_eq!(format!("{:?}", walk.finish()), format!("{whole:?}"));
        let whole = ns.content_summary(&root).unwrap();
        let mut walk = ns.content_summary_start(&root).unwrap();
        while !ns.content_summary_step(&mut walk, 2) {}
        assert_eq!(walk.finish(), whole);
        // The tree deleted between steps: what is gone is skipped.
        let mut du = ns.content_summary_start(&root).unwrap();
        ns.content_summary_step(&mut du, 2);
        let mut fsck = ns.fsck_start(&root).unwrap();
        ns.fsck_step(&mut fsck, &view, 5, 2).unwrap();
        for p in 0..3 {
            let e = Entry {
                ts_ms: 9_000,
                request: None,
                command: Command::Delete {
                    path: path(p),
                    recursive: true,
                },
            };
            let _ = ns.apply(&e, now, &mut Txn::new(), &mut Deletions::new());
        }
        while !ns.content_summary_step(&mut du, 2) {}
        assert!(du.finish().file_count <= whole.file_count);
        while !ns.fsck_step(&mut fsck, &view, 5, 2).unwrap() {}
        assert!(fsck.finish().files <= whole.file_count);
        written
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The counters, safe-mode progress and the block-health tally equal a
    /// full recount after every command, report, liveness change and tick.
    #[test]
    fn counters_and_health_tally_match_a_recount(steps in prop::collection::vec(soft(), 1..150)) {
        soft_run(steps);
    }
}

/// The soft-state sequences do write files and reach every kind of
/// unhealthy block (checked through the recount the property compares with).
#[test]
fn soft_sequences_reach_every_health() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut written = 0;
    for _ in 0..40 {
        let steps = prop::collection::vec(soft(), 100..150)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        written += soft_run(steps);
    }
    assert!(written > 100, "{written}");
}
