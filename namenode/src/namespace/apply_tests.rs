//! Determinism of the state machine (issue 17): random sequences of
//! commands of every kind, many failing their preconditions, applied to two
//! fresh states and to a state restored midway from the records of a third,
//! give the same results and the same stored records, and the counters
//! kept as they apply equal a full recount after every one. (The generator
//! also drives `replication`'s tally tests, with reports mixed in.)
use super::{Deletions, Namespace};
use crate::commands::{Command, CommitBlock, Completion, Entry, NewFile, Outcome};
use crate::error::Result;
use crate::meta_store::{MetaStore, Txn};
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId, RequestId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::AdminState;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use tokio::time::Instant;

pub(crate) const BS: u64 = 4096;
const NAMES: [&str; 3] = ["a", "b", "c"];

/// One step as generated: small indices that [`Proposer`] turns into a
/// command without looking at any state (so every replica gets the same).
#[derive(Debug, Clone)]
pub(crate) enum Step {
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
    PutDatanode(u8),
    SetAdminState(u8, u8),
    SetSafeMode(bool),
    ClearRestored,
}

pub(crate) fn step() -> impl Strategy<Value = Step> {
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
        (0u8..3).prop_map(Step::PutDatanode),
        (0u8..4, 0u8..3).prop_map(|(n, a)| Step::SetAdminState(n, a)),
        any::<bool>().prop_map(Step::SetSafeMode),
        Just(Step::ClearRestored),
    ]
}

/// Paths of depth 1 to 3 over three names: 3 + 9 + 27 = 39 of them.
pub(crate) fn path(i: u8) -> DfsPath {
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
pub(crate) struct Proposer {
    /// The generation of each file slot (a new `Create` or `Append` gives
    /// a new file id) and the blocks proposed for it since.
    files: HashMap<u8, (u32, Vec<BlockId>)>,
    n: u32,
    /// Every entry proposed, for retries.
    sent: Vec<Entry>,
}

pub(crate) fn node(i: u8) -> NodeId {
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

    pub(crate) fn command(&mut self, s: &Step) -> Entry {
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
            Step::PutDatanode(n) => Command::PutDatanode {
                node: node(n),
                record: crate::records::NodeRecord {
                    addr: format!("http://127.0.0.1:{}", 9000 + u32::from(n) + self.n),
                    admin: AdminState::Normal,
                },
            },
            Step::SetAdminState(n, a) => Command::SetAdminState {
                node: node(n),
                admin: [
                    AdminState::Normal,
                    AdminState::Decommissioning,
                    AdminState::Decommissioned,
                ][usize::from(a)],
            },
            Step::SetSafeMode(on) => Command::SetSafeMode { on },
            Step::ClearRestored => Command::ClearRestored,
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

/// A state and the records it stored, as the store would hold them.
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
        assert_eq!(a.ns.cluster(), c.ns.cluster(), "restored midway");
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
    // Idempotent commands keep no outcome: a retry applies again, alike.
    let kept = r.ns.retry_cache_len();
    let md = RequestId::new();
    let made = r.apply(&entry(30, md, mkdir(1)), now);
    assert_eq!(r.ns.retry_cache_len(), kept, "mkdirs is idempotent");
    assert_eq!(r.apply(&entry(31, md, mkdir(1)), now), made);
    let (mv, rm) = (RequestId::new(), RequestId::new());
    let rename = Command::Rename {
        src: path(1),
        dst: path(2),
        overwrite: false,
    };
    let moved = r.apply(&entry(40, mv, rename.clone()), now);
    assert!(moved.starts_with("Ok(Status"), "{moved}");
    assert_eq!(r.ns.retry_cache_len(), kept + 1, "rename is kept");
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
