//! Determinism of the state machine (issue 17): random sequences of
//! commands of every kind, many failing their preconditions, applied to two
//! fresh states and to a state restored midway from the records of a third,
//! give the same results and the same stored records; and the counters
//! kept as they apply (with datanode reports, liveness changes and
//! replication ticks mixed in) equal a full recount after every step.
use super::{Deletions, Namespace};
use crate::commands::{Command, CommitBlock, Completion, Entry, NewFile, Outcome};
use crate::error::Result;
use crate::meta_store::{MetaStore, Txn};
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId, RequestId};
use dfs_common::path::DfsPath;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use tokio::time::Instant;

const BS: u64 = 4096;
const NAMES: [&str; 3] = ["a", "b", "c"];

/// One step as generated: small indices that [`Proposer`] turns into a
/// command without looking at any state (so every replica gets the same).
#[derive(Debug, Clone)]
enum Step {
    Mkdirs(u8, bool),
    Delete(u8, bool),
    Rename(u8, u8, bool),
    SetReplication(u8, u16),
    SetAttributes(u8, u16),
    Create(u8, u8, bool),
    Append(u8, u8),
    AddBlock(u8),
    AbandonBlock(u8),
    Complete(u8, u64),
    Abandon(u8),
    /// The client retries an earlier call: the same request, resent.
    Retry(u8),
}

fn step() -> impl Strategy<Value = Step> {
    let path = 0u8..39;
    let file = 0u8..4;
    prop_oneof![
        (path.clone(), any::<bool>()).prop_map(|(p, b)| Step::Mkdirs(p, b)),
        (path.clone(), any::<bool>()).prop_map(|(p, b)| Step::Delete(p, b)),
        (path.clone(), path.clone(), any::<bool>()).prop_map(|(a, b, o)| Step::Rename(a, b, o)),
        (path.clone(), 0u16..5).prop_map(|(p, r)| Step::SetReplication(p, r)),
        (path.clone(), 0u16..0o1000).prop_map(|(p, m)| Step::SetAttributes(p, m)),
        (file.clone(), path.clone(), any::<bool>()).prop_map(|(f, p, o)| Step::Create(f, p, o)),
        (file.clone(), path.clone()).prop_map(|(f, p)| Step::Append(f, p)),
        file.clone().prop_map(Step::AddBlock),
        file.clone().prop_map(Step::AbandonBlock),
        (file.clone(), 0u64..3 * BS).prop_map(|(f, l)| Step::Complete(f, l)),
        file.prop_map(Step::Abandon),
        any::<u8>().prop_map(Step::Retry),
    ]
}

/// Paths of depth 1 to 3 over three names: 3 + 9 + 27 = 39 of them.
pub(super) fn path(i: u8) -> DfsPath {
    let i = usize::from(i);
    let parts: Vec<&str> = if i < 3 {
        vec![NAMES[i]]
    } else if i < 12 {
        vec![NAMES[(i - 3) / 3], NAMES[(i - 3) % 3]]
    } else {
        let j = i - 12;
        vec![NAMES[j / 9], NAMES[j / 3 % 3], NAMES[j % 3]]
    };
    DfsPath::parse(&format!("/{}", parts.join("/"))).unwrap()
}

/// Turns steps into commands as a proposer would, from what it proposed
/// before (not from any state): ids are fixed by the step's position, and
/// a file's `Complete` lists the blocks proposed for it.
#[derive(Default)]
struct Proposer {
    /// The generation of each file slot (a new `Create` or `Append` gives
    /// a new file id) and the blocks proposed for it since.
    files: HashMap<u8, (u32, Vec<BlockId>)>,
    n: u32,
    /// Every entry proposed, for retries.
    sent: Vec<Entry>,
}

fn node(i: u8) -> NodeId {
    NodeId::from_bytes([i + 1; 16])
}

impl Proposer {
    fn file_id(&self, slot: u8) -> FileId {
        let generation = self.files.get(&slot).map_or(0, |f| f.0);
        let mut b = [0u8; 16];
        b[0] = slot.wrapping_add(1);
        b[1..5].copy_from_slice(&generation.to_be_bytes());
        FileId::from_bytes(b)
    }

    fn renew(&mut self, slot: u8) -> FileId {
        let f = self.files.entry(slot).or_default();
        f.0 += 1;
        f.1.clear();
        self.file_id(slot)
    }

    fn command(&mut self, s: &Step) -> Entry {
        self.n += 1;
        let ts_ms = 1_000 + u64::from(self.n);
        if let Step::Retry(k) = *s {
            if !self.sent.is_empty() {
                let first = &self.sent[usize::from(k) % self.sent.len()];
                return Entry {
                    ts_ms,
                    ..first.clone()
                };
            }
        }
        // Most calls name themselves (the CLI does); some do not.
        let request = (!self.n.is_multiple_of(4)).then(|| {
            let mut b = [0u8; 16];
            b[12..].copy_from_slice(&self.n.to_be_bytes());
            RequestId::from_bytes(b)
        });
        let command = match *s {
            Step::Mkdirs(p, parents) => Command::Mkdirs {
                path: path(p),
                parents,
                owner: parents.then(|| "alice".into()),
                permission: None,
            },
            Step::Delete(p, recursive) => Command::Delete {
                path: path(p),
                recursive,
            },
            Step::Rename(a, b, overwrite) => Command::Rename {
                src: path(a),
                dst: path(b),
                overwrite,
            },
            Step::SetReplication(p, r) => Command::SetReplication {
                path: path(p),
                replication: r,
            },
            Step::SetAttributes(p, mode) => Command::SetAttributes {
                path: path(p),
                mtime: Some(u64::from(mode)),
                atime: None,
                permission: Some(mode),
                owner: (mode % 2 == 0).then(|| "bob".into()),
                group: None,
            },
            Step::Create(f, p, overwrite) => Command::Create(NewFile {
                file_id: self.renew(f),
                path: path(p),
                overwrite,
                create_parent: overwrite,
                replication: 2,
                block_size: BS,
                owner: None,
                permission: 0o644,
            }),
            Step::Append(f, p) => Command::Append {
                file_id: self.renew(f),
                path: path(p),
            },
            Step::AddBlock(f) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&self.n.to_be_bytes());
                let block_id = BlockId::from_bytes(b);
                self.files.entry(f).or_default().1.push(block_id);
                Command::AddBlock {
                    file_id: self.file_id(f),
                    block_id,
                    targets: vec![node(0), node(f % 3 + 1)],
                }
            }
            Step::AbandonBlock(f) => {
                let last = self.files.get_mut(&f).and_then(|x| x.1.pop());
                Command::AbandonBlock {
                    file_id: self.file_id(f),
                    block_id: last.unwrap_or_else(|| BlockId::from_bytes([9; 16])),
                }
            }
            Step::Complete(f, last_len) => {
                let blocks = self.files.get(&f).map(|x| x.1.clone()).unwrap_or_default();
                let n = blocks.len();
                let blocks: Vec<CommitBlock> = blocks
                    .into_iter()
                    .enumerate()
                    .map(|(i, block_id)| {
                        let len = if i + 1 == n { last_len.max(1) } else { BS };
                        CommitBlock {
                            block_id,
                            len,
                            sha256: Sha256Digest::of(&len.to_be_bytes()),
                            replicas: vec![node(0)],
                        }
                    })
                    .collect();
                // Sometimes right for a new file; an append's kept bytes
                // make it wrong, which fails as it must.
                let length = blocks.iter().map(|b| b.len).sum();
                Command::Complete(Completion {
                    file_id: self.file_id(f),
                    blocks,
                    length,
                    sha256: Sha256Digest::of(&length.to_be_bytes()),
                    sha256_state: None,
                })
            }
            Step::Abandon(f) | Step::Retry(f) => Command::AbandonFiles {
                file_ids: vec![self.file_id(f), FileId::from_bytes([7; 16])],
            },
        };
        let e = Entry {
            ts_ms,
            request,
            command,
        };
        self.sent.push(e.clone());
        e
    }
}

/// A state and the records it stored, as sled would hold them.
struct Replica {
    ns: Namespace,
    records: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Replica {
    fn fresh() -> Self {
        let mut txn = Txn::new();
        let ns = Namespace::new(1, &mut txn);
        let mut r = Replica {
            ns,
            records: BTreeMap::new(),
        };
        r.absorb(&txn);
        r
    }

    fn absorb(&mut self, txn: &Txn) {
        for (k, v) in txn.writes() {
            match v {
                Some(v) => self.records.insert(k.to_vec(), v.to_vec()),
                None => self.records.remove(k),
            };
        }
    }

    /// A result as comparable text (errors by kind and message).
    fn apply(&mut self, e: &Entry, now: Instant) -> String {
        let mut txn = Txn::new();
        let mut dels = Deletions::new();
        let out: Result<Outcome> = self.ns.apply(e, now, &mut txn, &mut dels);
        if out.is_err() {
            assert!(txn.is_empty(), "a failed command changed nothing: {e:?}");
        }
        self.ns.assert_counters_exact();
        self.absorb(&txn);
        format!("{out:?}")
    }

    /// A new state loaded from this one's records, through a real store
    /// (as a restart or a checkpoint restore does).
    async fn restored(&self, dir: &std::path::Path, now: Instant) -> Replica {
        let store = MetaStore::open(dir).unwrap();
        let mut txn = Txn::new();
        for (k, v) in &self.records {
            txn.put_raw(k, v);
        }
        store.apply(txn).await.unwrap();
        let loaded = store.load().unwrap();
        let mut repair = Txn::new();
        let ns = Namespace::load(loaded, 99, now, &mut repair);
        assert!(repair.is_empty(), "a consistent state needs no repair");
        ns.assert_counters_exact();
        Replica {
            ns,
            records: self.records.clone(),
        }
    }
}

fn run(steps: Vec<Step>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let now = Instant::now();
        let mut proposer = Proposer::default();
        let entries: Vec<Entry> = steps.iter().map(|s| proposer.command(s)).collect();
        let (mut a, mut b) = (Replica::fresh(), Replica::fresh());
        let mid = entries.len() / 2;
        let mut results = Vec::new();
        for e in &entries[..mid] {
            let ra = a.apply(e, now);
            assert_eq!(
                ra,
                b.apply(e, now),
                "same state + same command = same result"
            );
            results.push(ra);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut c = a.restored(dir.path(), now).await;
        assert_eq!(c.ns.applied(), a.ns.applied());
        for e in &entries[mid..] {
            let ra = a.apply(e, now);
            assert_eq!(ra, b.apply(e, now), "{e:?}");
            assert_eq!(ra, c.apply(e, now), "restored midway: {e:?}");
            results.push(ra);
        }
        assert_eq!(a.records, b.records);
        assert_eq!(a.records, c.records, "restored midway");
        assert_eq!(a.ns.applied(), c.ns.applied());
        let ok = results.iter().filter(|r| r.starts_with("Ok")).count();
        assert_eq!(
            a.ns.applied(),
            ok as u64,
            "every success, and only those, counted"
        );
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn commands_apply_deterministically(steps in prop::collection::vec(step(), 1..120)) {
        run(steps);
    }
}

/// The generator reaches every outcome kind, and successes of the writes
/// (a property test that only ever failed would prove little).
#[test]
fn the_sequences_exercise_every_command() {
    let mut proposer = Proposer::default();
    let steps = [
        Step::Mkdirs(3, true),
        Step::Create(0, 12, true),
        Step::AddBlock(0),
        Step::AddBlock(0),
        Step::AbandonBlock(0),
        Step::AddBlock(0),
        Step::Complete(0, 10),
        Step::Append(1, 12),
        Step::AddBlock(1),
        Step::Complete(1, 5),
        Step::SetReplication(12, 3),
        Step::SetAttributes(12, 0o600),
        Step::Rename(12, 1, false),
        Step::Create(2, 2, false),
        Step::Abandon(2),
        Step::Delete(0, true),
    ];
    let mut r = Replica::fresh();
    let now = Instant::now();
    let results: Vec<String> = steps
        .iter()
        .map(|s| r.apply(&proposer.command(s), now))
        .collect();
    for (s, res) in steps.iter().zip(&results) {
        if !matches!(s, Step::Complete(1, _)) {
            assert!(res.starts_with("Ok"), "{s:?}: {res}");
        }
    }
    // The append's complete lists only its new block, with the file's
    // whole length wrong by the kept bytes: refused, as it must be.
    assert!(results[9].starts_with("Err"), "{}", results[9]);
    assert!(r.ns.status(&path(1)).is_ok(), "renamed");
    assert!(r.ns.status(&path(0)).is_err(), "deleted");
}

/// A retried call answers its first outcome and changes nothing, also
/// after a restart; one call's commands of other kinds are its own.
#[tokio::test]
async fn retried_calls_answer_their_first_outcome() {
    let now = Instant::now();
    let mut r = Replica::fresh();
    let entry = |ts_ms: u64, request: RequestId, command: Command| Entry {
        ts_ms,
        request: Some(request),
        command,
    };
    let new_file = |file_id: FileId| {
        Command::Create(NewFile {
            file_id,
            path: path(0),
            overwrite: false,
            create_parent: true,
            replication: 1,
            block_size: BS,
            owner: None,
            permission: 0o644,
        })
    };
    let (create, f1) = (RequestId::new(), FileId::new());
    let first = r.apply(&entry(10, create, new_file(f1)), now);
    assert!(first.contains(&format!("{f1:?}")), "{first}");
    // The retry's proposer picked another file id: the first one is
    // answered, and no second write exists.
    let retry = r.apply(&entry(20, create, new_file(FileId::new())), now);
    assert_eq!(retry, first);
    assert_eq!(r.ns.pending_count(), 1);
    // Without the request id it is a second call: the path is taken.
    let mut other = entry(21, create, new_file(FileId::new()));
    other.request = None;
    assert!(r.apply(&other, now).contains("LeaseHeld"));
    // The same call's next command of another kind is not a retry.
    let add = Command::AddBlock {
        file_id: f1,
        block_id: BlockId::new(),
        targets: vec![node(0)],
    };
    assert!(r
        .apply(&entry(22, create, add), now)
        .starts_with("Ok(BlockAdded"));

    let mkdir = |p: u8| Command::Mkdirs {
        path: path(p),
        parents: true,
        owner: None,
        permission: None,
    };
    r.apply(&entry(30, RequestId::new(), mkdir(1)), now);
    let (mv, rm) = (RequestId::new(), RequestId::new());
    let rename = Command::Rename {
        src: path(1),
        dst: path(2),
        overwrite: false,
    };
    let moved = r.apply(&entry(40, mv, rename.clone()), now);
    assert!(moved.starts_with("Ok(Status"), "{moved}");
    let delete = Command::Delete {
        path: path(2),
        recursive: true,
    };
    let deleted = r.apply(&entry(50, rm, delete.clone()), now);
    assert!(deleted.starts_with("Ok(Deleted"), "{deleted}");

    // A restart (the cache is stored with the state), then the retries.
    let dir = tempfile::tempdir().unwrap();
    let mut r = r.restored(dir.path(), now).await;
    let records = r.records.clone();
    assert_eq!(r.apply(&entry(60, mv, rename.clone()), now), moved);
    assert_eq!(r.apply(&entry(61, rm, delete.clone()), now), deleted);
    // Applied once: a fresh call of the same rename finds no source.
    assert!(r
        .apply(&entry(62, RequestId::new(), rename), now)
        .contains("NotFound"));
    // Retries changed nothing but the applied count.
    let changed: Vec<_> = r
        .records
        .iter()
        .filter(|(k, v)| records.get(*k) != Some(*v))
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert_eq!(changed, ["m/applied"]);

    // Ten minutes after the call, its outcome is gone: a retry then is a
    // new call (and fails, as the path is gone).
    let late = 50 + crate::namespace::retry::TTL_MS + 1;
    r.apply(&entry(late, RequestId::new(), mkdir(5)), now);
    assert!(r
        .apply(&entry(late + 1, rm, delete), now)
        .contains("NotFound"));
}

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
        3 => (n.clone(), b.clone(), any::<bool>()).prop_map(|(n, b, ok)| Soft::Received(n, b, ok)),
        1 => (n.clone(), b.clone()).prop_map(|(n, b)| Soft::Deleted(n, b)),
        1 => (n.clone(), b.clone()).prop_map(|(n, b)| Soft::Corrupt(n, b)),
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
                },
            );
        }
        let settings = Settings {
            max_streams: 2,
            pending_timeout: Duration::from_secs(10),
            orphan_grace: Duration::ZERO,
            race_bound: Duration::ZERO,
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
