//! openraft's own conformance suite over the log store and the state
//! machine, each pair on a fresh namesystem in its own data dir.
use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::{StorageError, TypeConfig};
use crate::namesystem::tests::test_config;
use crate::namesystem::Namesystem;
use openraft::testing::{StoreBuilder, Suite};
use std::sync::Arc;

/// A fresh pair; `inline`: the log appends as a namenode alone does.
struct Fresh {
    inline: bool,
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Fresh {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().unwrap();
        let ns = Arc::new(Namesystem::open(test_config(dir.path())).await.unwrap());
        let log = LogStore::open(dir.path()).unwrap();
        log.inline_switch()
            .store(self.inline, std::sync::atomic::Ordering::Release);
        let sm = StateMachine::open(ns)?;
        Ok((dir, log, sm))
    }
}

#[test]
fn the_stores_pass_openrafts_suite() {
    Suite::test_all(Fresh { inline: false }).unwrap();
}

#[test]
fn the_stores_pass_openrafts_suite_with_inline_appends() {
    Suite::test_all(Fresh { inline: true }).unwrap();
}

use super::LogEntry;
use crate::commands::{Command, Entry, Outcome};
use crate::error::NamenodeError;
use dfs_common::path::DfsPath;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::{CommittedLeaderId, EntryPayload, LogId, RaftLogReader, RaftSnapshotBuilder, Vote};

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn mkdir(term: u64, index: u64, path: &str) -> LogEntry {
    LogEntry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(vec![Entry {
            ts_ms: 1_000 + index,
            request: None,
            command: Command::Mkdirs {
                path: DfsPath::parse(path).unwrap(),
                parents: true,
                owner: None,
                permission: None,
            },
        }]),
    }
}

fn blank(term: u64, index: u64) -> LogEntry {
    LogEntry {
        log_id: log_id(term, index),
        payload: EntryPayload::Blank,
    }
}

async fn open_sm(dir: &std::path::Path) -> (Arc<Namesystem>, StateMachine) {
    let ns = Arc::new(Namesystem::open(test_config(dir)).await.unwrap());
    let sm = StateMachine::open(ns.clone()).unwrap();
    (ns, sm)
}

fn exists(ns: &Namesystem, path: &str) -> bool {
    ns.status(&DfsPath::parse(path).unwrap()).is_ok()
}

#[tokio::test]
async fn the_log_keeps_entries_vote_and_purges_across_a_restart() {
    log_survives_a_restart(false).await;
}

#[tokio::test]
async fn the_log_appending_inline_keeps_entries_vote_and_purges_across_a_restart() {
    log_survives_a_restart(true).await;
}

async fn log_survives_a_restart(inline: bool) {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path()).unwrap();
        log.inline_switch()
            .store(inline, std::sync::atomic::Ordering::Release);
        log.save_vote(&Vote::new(3, 1)).await.unwrap();
        log.blocking_append((1..=10).map(|i| blank(2, i)))
            .await
            .unwrap();
        log.truncate(log_id(2, 8)).await.unwrap();
        log.blocking_append([blank(3, 8)]).await.unwrap();
        log.purge(log_id(2, 3)).await.unwrap();
        log.save_committed(Some(log_id(2, 6))).await.unwrap();
        // The last append's sync covers the truncation, purge and hint
        // queued before it.
        log.blocking_append([blank(3, 9)]).await.unwrap();
    }
    let mut log = LogStore::open(dir.path()).unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(3, 1)));
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(2, 6)));
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(2, 3)));
    assert_eq!(state.last_log_id, Some(log_id(3, 9)));
    let ids: Vec<_> = log
        .try_get_log_entries(0..100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.log_id)
        .collect();
    let mut want: Vec<_> = (4..8).map(|i| log_id(2, i)).collect();
    want.extend([log_id(3, 8), log_id(3, 9)]);
    assert_eq!(ids, want);
}

#[tokio::test]
async fn applied_entries_and_their_position_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (ns, mut sm) = open_sm(dir.path()).await;
        let out = sm
            .apply([blank(1, 1), mkdir(1, 2, "/a/b"), mkdir(1, 3, "/c")])
            .await
            .unwrap();
        assert_eq!(out.len(), 3);
        assert!(out[0].is_empty(), "{out:?}");
        assert!(matches!(out[1][..], [Ok(Outcome::Status(_))]), "{out:?}");
        assert!(exists(&ns, "/a/b") && exists(&ns, "/c"));
        // A command that fails is an outcome, not a storage error, and
        // changes nothing but the position.
        let mut file = mkdir(1, 4, "/a/b/x");
        if let EntryPayload::Normal(batch) = &mut file.payload {
            let mut second = batch[0].clone();
            second.command = Command::Delete {
                path: DfsPath::parse("/nope").unwrap(),
                recursive: false,
            };
            batch.push(second);
        }
        let out = sm.apply([file]).await.unwrap();
        // Commands of one entry apply in order; each has its own outcome.
        assert!(matches!(out[0][0], Ok(Outcome::Status(_))), "{out:?}");
        assert!(
            matches!(out[0][1], Err(NamenodeError::NotFound(_))),
            "{out:?}"
        );
        assert!(exists(&ns, "/a/b/x"));
        assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, 4)));
        ns.store().flush().await.unwrap();
    }
    let (ns, mut sm) = open_sm(dir.path()).await;
    assert!(exists(&ns, "/a/b/x") && exists(&ns, "/c"));
    assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, 4)));
}

#[tokio::test]
async fn a_snapshot_carries_the_namespace_and_a_damaged_one_changes_nothing() {
    let leader = tempfile::tempdir().unwrap();
    let (_, mut sm) = open_sm(leader.path()).await;
    sm.apply((1..=20).map(|i| mkdir(1, i, &format!("/d{i}/e"))))
        .await
        .unwrap();
    let snap = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    assert_eq!(snap.meta.last_log_id, Some(log_id(1, 20)));
    let data = leader
        .path()
        .join(super::state_machine::DIR)
        .join(format!("{}.dfsck", snap.meta.snapshot_id));

    let follower = tempfile::tempdir().unwrap();
    let (ns, mut fsm) = open_sm(follower.path()).await;
    fsm.apply([mkdir(1, 1, "/only-here")]).await.unwrap();

    // Damaged in the middle: refused, the follower as it was.
    let mut bytes = std::fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let mut rx = fsm.begin_receiving_snapshot().await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut *rx, &bytes)
        .await
        .unwrap();
    assert!(fsm.install_snapshot(&snap.meta, rx).await.is_err());
    assert!(exists(&ns, "/only-here") && !exists(&ns, "/d1"));
    assert_eq!(fsm.applied_state().await.unwrap().0, Some(log_id(1, 1)));

    let mut rx = fsm.begin_receiving_snapshot().await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut *rx, &std::fs::read(&data).unwrap())
        .await
        .unwrap();
    fsm.install_snapshot(&snap.meta, rx).await.unwrap();
    assert!(!exists(&ns, "/only-here"));
    assert!((1..=20).all(|i| exists(&ns, &format!("/d{i}/e"))));
    assert_eq!(fsm.applied_state().await.unwrap().0, Some(log_id(1, 20)));
    // It is the follower's current snapshot now, and later changes apply
    // over it.
    let cur = fsm.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(cur.meta, snap.meta);
    fsm.apply([mkdir(1, 21, "/after")]).await.unwrap();
    assert!(exists(&ns, "/after"));
    drop(fsm);
    ns.store().flush().await.unwrap();
    drop(ns);
    let (ns, _) = open_sm(follower.path()).await;
    assert!(exists(&ns, "/after") && exists(&ns, "/d20/e") && !exists(&ns, "/only-here"));
}

/// A fresh namesystem holding `/precious`, applied without a log (as a
/// store restored or from before namenode groups holds it).
async fn namespace_without_a_log(dir: &std::path::Path) -> Arc<Namesystem> {
    let ns = Arc::new(Namesystem::open(test_config(dir)).await.unwrap());
    ns.mkdirs(&DfsPath::parse("/precious").unwrap(), true)
        .await
        .unwrap();
    ns
}

/// Why `Group::start` refused `ns` at `http://127.0.0.1:1` with `peers`
/// and `join` (it must refuse), having left the namespace as it was.
async fn refused_start(ns: &Arc<Namesystem>, peers: &[String], join: bool) -> NamenodeError {
    let timings = super::group::Timings {
        heartbeat_ms: 50,
        election_min_ms: 300,
        election_max_ms: 600,
        snapshot_every: 1000,
    };
    let started =
        super::group::Group::start(ns.clone(), "http://127.0.0.1:1", peers, join, timings, None)
            .await;
    let e = match started {
        Ok(_) => panic!("the group started over a namespace in no log"),
        Err(e) => e,
    };
    assert!(
        ns.status(&DfsPath::parse("/precious").unwrap()).is_ok(),
        "the namespace is untouched"
    );
    e
}

/// `--join` on a namespace of its own that has no Raft log (a store of a
/// version before the group) is refused: the group's snapshot would
/// replace it.
#[tokio::test]
async fn join_refuses_a_namespace_without_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let ns = namespace_without_a_log(dir.path()).await;
    let e = refused_start(&ns, &[], true).await;
    assert!(
        matches!(&e, NamenodeError::InvalidArgument(m) if m.contains("holds a namespace of its own")),
        "{e}"
    );
}

/// A namespace with no Raft log (restored, or from before namenode groups)
/// cannot form a group of several: the other namenodes start empty and
/// would never get it.
#[tokio::test]
async fn peers_refuse_a_namespace_without_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let ns = namespace_without_a_log(dir.path()).await;
    let peers = [
        "http://127.0.0.1:1",
        "http://127.0.0.1:2",
        "http://127.0.0.1:3",
    ]
    .map(String::from);
    let e = refused_start(&ns, &peers, false).await;
    assert!(
        matches!(&e, NamenodeError::InvalidArgument(m) if m.contains("forms only from empty namenodes")),
        "{e}"
    );
}
