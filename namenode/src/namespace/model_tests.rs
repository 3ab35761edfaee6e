//! The namespace against a model (issue 17): random mkdirs, writes
//! (create + blocks + complete), renames and deletes, applied as commands
//! to a `Namespace` and to a plain map of paths, must succeed or fail alike
//! and leave the same tree (every path, its kind and a file's length).
use super::apply_tests::path;
use super::{Deletions, Namespace};
use crate::commands::{Command, CommitBlock, Completion, Entry, NewFile};
use crate::meta_store::Txn;
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, FileId, NodeId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::FileType;
use proptest::prelude::*;
use std::collections::BTreeMap;
use tokio::time::Instant;

const BS: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File(u64),
}

/// The model: every path but `/`, with what is there.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Model(BTreeMap<DfsPath, Kind>);

impl Model {
    fn kind(&self, p: &DfsPath) -> Option<Kind> {
        if p.is_root() {
            Some(Kind::Dir)
        } else {
            self.0.get(p).copied()
        }
    }

    fn parent(p: &DfsPath) -> DfsPath {
        p.parent().unwrap_or_else(DfsPath::root)
    }

    /// No proper ancestor of `p` is a file.
    fn no_file_above(&self, p: &DfsPath) -> bool {
        let mut cur = Self::parent(p);
        loop {
            if matches!(self.kind(&cur), Some(Kind::File(_))) {
                return false;
            }
            if cur.is_root() {
                return true;
            }
            cur = Self::parent(&cur);
        }
    }

    fn make_dirs(&mut self, p: &DfsPath) {
        let mut cur = p.clone();
        while !cur.is_root() {
            self.0.entry(cur.clone()).or_insert(Kind::Dir);
            cur = Self::parent(&cur);
        }
    }

    fn remove_subtree(&mut self, p: &DfsPath) {
        self.0.retain(|q, _| !q.starts_with(p));
    }

    fn mkdirs(&mut self, p: &DfsPath, parents: bool) -> bool {
        match self.kind(p) {
            Some(Kind::Dir) => return true,
            Some(Kind::File(_)) => return false,
            None => {}
        }
        if !self.no_file_above(p) {
            return false;
        }
        if !parents && self.kind(&Self::parent(p)).is_none() {
            return false;
        }
        self.make_dirs(p);
        true
    }

    fn delete(&mut self, p: &DfsPath, recursive: bool) -> bool {
        let Some(k) = self.kind(p).filter(|_| !p.is_root()) else {
            return false;
        };
        let has_children = self.0.keys().any(|q| q != p && q.starts_with(p));
        if k == Kind::Dir && has_children && !recursive {
            return false;
        }
        self.remove_subtree(p);
        true
    }

    fn put(&mut self, p: &DfsPath, len: u64, overwrite: bool, create_parent: bool) -> bool {
        if p.is_root() {
            return false;
        }
        let parent = Self::parent(p);
        let parent_ok = if create_parent {
            self.no_file_above(p)
        } else {
            self.kind(&parent) == Some(Kind::Dir)
        };
        if !parent_ok {
            return false;
        }
        match self.kind(p) {
            Some(Kind::Dir) => return false,
            Some(Kind::File(_)) if !overwrite => return false,
            _ => {}
        }
        self.make_dirs(&parent);
        self.0.insert(p.clone(), Kind::File(len));
        true
    }

    fn rename(&mut self, src: &DfsPath, dst: &DfsPath, overwrite: bool) -> bool {
        if src.is_root() {
            return false;
        }
        let Some(src_kind) = self.kind(src) else {
            return false;
        };
        let target = match self.kind(dst) {
            Some(Kind::Dir) => match src.name().and_then(|n| dst.join(n).ok()) {
                Some(t) => t,
                None => return false,
            },
            _ => dst.clone(),
        };
        if &target == src {
            return true;
        }
        if target.starts_with(src) || self.kind(&Self::parent(&target)) != Some(Kind::Dir) {
            return false;
        }
        match self.kind(&target) {
            Some(Kind::Dir) => return false,
            Some(Kind::File(_)) if src_kind == Kind::Dir || !overwrite => return false,
            _ => {}
        }
        self.remove_subtree(&target);
        let moved: Vec<(DfsPath, Kind)> = self
            .0
            .iter()
            .filter(|(q, _)| q.starts_with(src))
            .map(|(q, k)| (q.clone(), *k))
            .collect();
        self.remove_subtree(src);
        for (q, k) in moved {
            let rest = &q.as_str()[src.as_str().len()..];
            let to = DfsPath::parse(&format!("{}{rest}", target.as_str())).unwrap();
            self.0.insert(to, k);
        }
        true
    }
}

#[derive(Debug, Clone)]
enum Op {
    Mkdirs(u8, bool),
    Delete(u8, bool),
    Rename(u8, u8, bool),
    Put(u8, u64, bool, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0u8..39;
    prop_oneof![
        (p.clone(), any::<bool>()).prop_map(|(a, b)| Op::Mkdirs(a, b)),
        (p.clone(), any::<bool>()).prop_map(|(a, b)| Op::Delete(a, b)),
        (p.clone(), p.clone(), any::<bool>()).prop_map(|(a, b, o)| Op::Rename(a, b, o)),
        (p, 0u64..3 * BS, any::<bool>(), any::<bool>())
            .prop_map(|(a, l, o, c)| Op::Put(a, l, o, c)),
    ]
}

struct Real {
    ns: Namespace,
    ts: u64,
    /// What every applied command's batch wrote, as a store holds it.
    store: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Real {
    fn new() -> Real {
        let mut txn = Txn::new();
        let ns = Namespace::new(1, &mut txn);
        let mut r = Real {
            ns,
            ts: 1,
            store: BTreeMap::new(),
        };
        r.commit(txn);
        r
    }

    /// Writes a batch into the store (as the journal would, once durable).
    fn commit(&mut self, mut txn: Txn) {
        for (k, v) in txn.take_writes().unwrap() {
            match v {
                Some(v) => self.store.insert(k, v),
                None => self.store.remove(&k),
            };
        }
    }

    /// The namespace a restart would load from the store.
    fn reload(&self) -> Namespace {
        let mut loaded = crate::meta_store::Loaded::default();
        for (k, v) in &self.store {
            crate::meta_store::decode_into(&mut loaded, k, v).unwrap();
        }
        let mut repair = Txn::new();
        let ns = Namespace::load(loaded, 99, Instant::now(), &mut repair);
        assert!(
            repair.take_writes().unwrap().is_empty(),
            "a load had to repair"
        );
        ns
    }

    fn apply(&mut self, command: Command) -> bool {
        self.ts += 1;
        let e = Entry {
            ts_ms: self.ts,
            request: None,
            command,
        };
        let (mut txn, mut dels) = (Txn::new(), Deletions::new());
        let ok = self
            .ns
            .apply(&e, Instant::now(), &mut txn, &mut dels)
            .is_ok();
        if ok {
            self.commit(txn);
        }
        ok
    }

    /// create, its blocks, complete: a write as a client makes it.
    fn put(&mut self, p: &DfsPath, len: u64, overwrite: bool, create_parent: bool) -> bool {
        let file_id = FileId::new();
        let created = self.apply(Command::Create(NewFile {
            file_id,
            path: p.clone(),
            overwrite,
            create_parent,
            replication: 1,
            block_size: BS,
            owner: None,
            permission: 0o644,
        }));
        if !created {
            return false;
        }
        let mut blocks = Vec::new();
        let mut left = len;
        while left > 0 {
            let block_id = BlockId::new();
            assert!(self.apply(Command::AddBlock {
                file_id,
                block_id,
                targets: vec![NodeId::from_bytes([1; 16])],
            }));
            let n = left.min(BS);
            blocks.push(CommitBlock {
                block_id,
                len: n,
                sha256: Sha256Digest::of(b"x"),
                replicas: vec![NodeId::from_bytes([1; 16])],
            });
            left -= n;
        }
        let done = self.apply(Command::Complete(Completion {
            file_id,
            blocks,
            length: len,
            sha256: Sha256Digest::of(b"x"),
            sha256_state: None,
        }));
        assert!(done, "nothing changed between create and complete");
        true
    }

    /// Every path under `/` with its kind, by listing.
    fn tree(&self) -> Model {
        let mut out = Model::default();
        let mut stack = vec![DfsPath::root()];
        while let Some(dir) = stack.pop() {
            let listing = self.ns.list(&dir, None, Some(10_000)).unwrap();
            for st in listing.entries {
                let kind = if st.file_type == FileType::Directory {
                    Kind::Dir
                } else {
                    Kind::File(st.length)
                };
                if kind == Kind::Dir {
                    stack.push(st.path.clone());
                }
                out.0.insert(st.path, kind);
            }
        }
        out
    }
}

fn check(ops: Vec<Op>) {
    let mut real = Real::new();
    // A quota on / too big to refuse anything: its kept usage is checked
    // against a count after every step.
    assert!(real.apply(Command::SetQuota {
        path: DfsPath::root(),
        names: Some(Some(1 << 40)),
        bytes: Some(Some(1 << 60)),
    }));
    let mut model = Model::default();
    for op in &ops {
        step(&mut real, &mut model, op);
        real.ns.assert_counters_exact();
        real.ns.assert_quota_counts();
    }
}

/// Applies `op` to both, and checks they agree on its success and on the
/// tree after it.
fn step(real: &mut Real, model: &mut Model, op: &Op) {
    {
        let (want, got) = match *op {
            Op::Mkdirs(p, parents) => (
                model.mkdirs(&path(p), parents),
                real.apply(Command::Mkdirs {
                    path: path(p),
                    parents,
                    owner: None,
                    permission: None,
                }),
            ),
            Op::Delete(p, recursive) => (
                model.delete(&path(p), recursive),
                real.apply(Command::Delete {
                    path: path(p),
                    recursive,
                }),
            ),
            Op::Rename(a, b, overwrite) => (
                model.rename(&path(a), &path(b), overwrite),
                real.apply(Command::Rename {
                    src: path(a),
                    dst: path(b),
                    overwrite,
                }),
            ),
            Op::Put(p, len, overwrite, create_parent) => (
                model.put(&path(p), len, overwrite, create_parent),
                real.put(&path(p), len, overwrite, create_parent),
            ),
        };
        assert_eq!(got, want, "{op:?} on {model:?}");
        assert_eq!(real.tree(), *model, "after {op:?}");
    }
}

/// A snapshot's paths (relative to its directory) with a file's length.
type View = Vec<(String, Option<u64>)>;

/// The model's tree as a snapshot of `/` lists it.
fn snapshot_view(model: &Model) -> Vec<(String, Option<u64>)> {
    let mut v: Vec<(String, Option<u64>)> = std::iter::once((String::new(), None))
        .chain(model.0.iter().map(|(p, k)| {
            let len = match k {
                Kind::Dir => None,
                Kind::File(n) => Some(*n),
            };
            (p.as_str().to_string(), len)
        }))
        .collect();
    v.sort();
    v
}

/// As [`check_snapshots`], with `/a` snapshottable (a snapshot taken
/// first, so it can be neither deleted nor renamed): what moves out of it
/// must keep, in its snapshots, how it was.
fn check_snapshots_below(ops: Vec<(Op, bool)>) {
    let mut real = Real::new();
    let mut model = Model::default();
    let a = DfsPath::parse("/a").unwrap();
    step(&mut real, &mut model, &Op::Mkdirs(0, false));
    let mut t = Txn::new();
    real.ns.allow_snapshot(&a, &mut t).unwrap();
    real.commit(t);
    let view = |m: &Model| {
        let mut v: Vec<(String, Option<u64>)> = snapshot_view(m)
            .into_iter()
            .filter_map(|(p, k)| match p.strip_prefix("/a") {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                    Some((rest.to_string(), k))
                }
                _ => None,
            })
            .collect();
        v.sort();
        v
    };
    let mut taken: Vec<(String, View)> = Vec::new();
    {
        let mut t = Txn::new();
        real.ns.create_snapshot(&a, "s0", 1, &mut t).unwrap();
        real.commit(t);
    }
    taken.push(("s0".into(), view(&model)));
    for (op, snap) in &ops {
        if *snap {
            let name = format!("s{}", taken.len());
            {
                let mut t = Txn::new();
                real.ns.create_snapshot(&a, &name, 1, &mut t).unwrap();
                real.commit(t);
            }
            taken.push((name, view(&model)));
        }
        // /a has snapshots: deleting or moving it is refused.
        let protected = match *op {
            Op::Delete(p, _) | Op::Rename(p, _, _) => path(p) == a,
            _ => false,
        };
        if protected {
            let refused = match *op {
                Op::Delete(p, r) => real.apply(Command::Delete {
                    path: path(p),
                    recursive: r,
                }),
                Op::Rename(s, d, o) => real.apply(Command::Rename {
                    src: path(s),
                    dst: path(d),
                    overwrite: o,
                }),
                _ => true,
            };
            assert!(!refused, "{op:?} of a directory with snapshots");
        } else {
            step(&mut real, &mut model, op);
        }
        for (name, want) in &taken {
            let got = real.ns.snapshot_tree(&a, name).unwrap();
            assert_eq!(&got, want, "snapshot {name} of /a after {op:?}");
            let missing = real.ns.snapshot_blocks_missing(&a, name);
            assert!(
                missing.is_empty(),
                "snapshot {name} after {op:?}: {missing:?}"
            );
        }
    }
}

/// Random operations with snapshots of `/` taken between them: after every
/// step, every snapshot lists exactly the tree the model had when it was
/// taken, and every block its files list is still in the block map.
fn check_snapshots(ops: Vec<(Op, u8)>) {
    let mut real = Real::new();
    let root = DfsPath::root();
    let mut t = Txn::new();
    real.ns.allow_snapshot(&root, &mut t).unwrap();
    real.commit(t);
    let mut model = Model::default();
    let mut taken: Vec<(String, View)> = Vec::new();
    let mut made = 0;
    for (op, action) in &ops {
        // Now and then a snapshot is taken, or one is deleted.
        if *action < 25 {
            let name = format!("s{made}");
            made += 1;
            {
                let mut t = Txn::new();
                real.ns.create_snapshot(&root, &name, 1, &mut t).unwrap();
                real.commit(t);
            }
            taken.push((name, snapshot_view(&model)));
        } else if *action < 45 && !taken.is_empty() {
            let (name, _) = taken.remove(usize::from(*action) % taken.len());
            let (mut dels, mut t) = (Vec::new(), Txn::new());
            real.ns
                .delete_snapshot(&root, &name, &mut t, &mut dels)
                .unwrap();
            real.commit(t);
        }
        step(&mut real, &mut model, op);
        // What is stored loads back to the same snapshots.
        let again = real.reload();
        for (name, want) in &taken {
            let got = real.ns.snapshot_tree(&root, name).unwrap();
            assert_eq!(&got, want, "snapshot {name} after {op:?}");
            let loaded = again.snapshot_tree(&root, name).unwrap();
            assert_eq!(&loaded, want, "snapshot {name} reloaded after {op:?}");
            assert!(
                again.snapshot_blocks_missing(&root, name).is_empty(),
                "reloaded {name}"
            );
            let missing = real.ns.snapshot_blocks_missing(&root, name);
            assert!(
                missing.is_empty(),
                "snapshot {name} after {op:?}: {missing:?}"
            );
        }
    }
    // Every snapshot deleted: nothing is left but the live tree.
    for (name, _) in taken {
        let (mut dels, mut t) = (Vec::new(), Txn::new());
        real.ns
            .delete_snapshot(&root, &name, &mut t, &mut dels)
            .unwrap();
        real.commit(t);
    }
    let (blocks, inodes) = real.ns.snapshot_leaks();
    assert!(
        blocks.is_empty() && inodes.is_empty(),
        "leaked: {blocks:?} {inodes:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn namespace_matches_a_model_file_tree(ops in prop::collection::vec(op(), 1..80)) {
        check(ops);
    }

    #[test]
    fn snapshots_keep_the_tree_they_saw(
        ops in prop::collection::vec((op(), any::<u8>()), 1..60)
    ) {
        check_snapshots(ops);
    }

    #[test]
    fn snapshots_below_keep_what_moves_out(
        ops in prop::collection::vec((op(), prop::bool::weighted(0.15)), 1..60)
    ) {
        check_snapshots_below(ops);
    }
}

#[test]
fn the_model_sees_successes_of_every_kind() {
    let ops = vec![
        Op::Mkdirs(12, true),
        Op::Put(13, 5000, false, false),
        Op::Rename(13, 0, false),
        Op::Put(1, 0, false, true),
        Op::Rename(1, 4, true),
        Op::Delete(0, true),
    ];
    let mut model = Model::default();
    let results: Vec<bool> = ops
        .iter()
        .map(|op| match *op {
            Op::Mkdirs(p, b) => model.mkdirs(&path(p), b),
            Op::Delete(p, r) => model.delete(&path(p), r),
            Op::Rename(a, b, o) => model.rename(&path(a), &path(b), o),
            Op::Put(p, l, o, c) => model.put(&path(p), l, o, c),
        })
        .collect();
    assert!(results.iter().all(|r| *r), "{results:?} {model:?}");
    check(ops);
}

/// A subtree that moves out from under a snapshot, then changes deep down
/// (a directory gains an entry, a file is overwritten, then deleted): the
/// snapshot still lists what it saw and keeps the old file's blocks.
#[test]
fn what_moves_out_of_a_snapshot_keeps_its_old_state_there() {
    let mut real = Real::new();
    let p = |s: &str| DfsPath::parse(s).unwrap();
    let mkdir = |real: &mut Real, s: &str| {
        assert!(real.apply(Command::Mkdirs {
            path: p(s),
            parents: true,
            owner: None,
            permission: None,
        }));
    };
    mkdir(&mut real, "/a/b/d");
    assert!(real.put(&p("/a/b/d/f"), 5000, false, false));
    let mut t = Txn::new();
    real.ns.allow_snapshot(&p("/a"), &mut t).unwrap();
    real.commit(t);
    {
        let mut t = Txn::new();
        real.ns.create_snapshot(&p("/a"), "s", 1, &mut t).unwrap();
        real.commit(t);
    }
    let want = real.ns.snapshot_tree(&p("/a"), "s").unwrap();
    assert!(real.apply(Command::Rename {
        src: p("/a/b"),
        dst: p("/c"),
        overwrite: false,
    }));
    mkdir(&mut real, "/c/d/new");
    assert!(real.put(&p("/c/d/f"), 10, true, false));
    assert_eq!(real.ns.snapshot_tree(&p("/a"), "s").unwrap(), want);
    assert!(real.apply(Command::Delete {
        path: p("/c"),
        recursive: true,
    }));
    assert_eq!(real.ns.snapshot_tree(&p("/a"), "s").unwrap(), want);
    assert!(real.ns.snapshot_blocks_missing(&p("/a"), "s").is_empty());
    assert_eq!(
        want,
        [
            (String::new(), None),
            ("/b".into(), None),
            ("/b/d".into(), None),
            ("/b/d/f".into(), Some(5000)),
        ]
    );
}
