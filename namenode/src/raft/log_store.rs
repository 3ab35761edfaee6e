//! The Raft log and vote of one namenode (openraft's `RaftLogStorage`).
//!
//! Kept twice: in memory (every entry not yet purged: openraft purges what
//! a snapshot covers, so this is the last few thousand entries) and in a
//! journal of its own under `<data-dir>/raft/` (a [`MetaStore`] opened
//! plain: the metadata journal's frames, group commit and compaction),
//! whose records are
//!
//! | key              | value |
//! | ---------------- | ----- |
//! | `l/<index u64 BE>` | an entry |
//! | `s/vote`         | the vote |
//! | `s/committed`    | the last committed log id openraft told us |
//! | `s/purged`       | the last purged log id |
//!
//! Invariants (see `raft`'s): writes reach the journal in the order they
//! were asked for; an append is reported flushed (`LogFlushed`) only once
//! synced, a vote is synced before `save_vote` returns; truncations,
//! purges and the committed id are not waited for (a later append's sync
//! covers them; losing them in a crash goes back to a state this node was
//! in before, which Raft allows for uncommitted entries, purged ones and
//! the committed hint).
use super::{storage_error, LogEntry, LogId, StorageError, TypeConfig, Vote};
use crate::error::Result;
use crate::meta_store::{MetaStore, Txn};
use dfs_common::codec;
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The log's directory under the data dir.
pub const DIR: &str = crate::meta_store::RAFT_DIR;
const ENTRY: &[u8] = b"l/";
const VOTE: &[u8] = b"s/vote";
const COMMITTED: &[u8] = b"s/committed";
const PURGED: &[u8] = b"s/purged";

fn entry_key(index: u64) -> Vec<u8> {
    let mut k = ENTRY.to_vec();
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The log as memory holds it.
#[derive(Default)]
struct Log {
    entries: BTreeMap<u64, LogEntry>,
    vote: Option<Vote>,
    committed: Option<LogId>,
    purged: Option<LogId>,
}

/// The log store handed to openraft; its readers share its memory.
#[derive(Clone)]
pub struct LogStore {
    log: Arc<Mutex<Log>>,
    journal: Arc<MetaStore>,
    /// Appends are written and synced on the caller's thread (openraft's
    /// core) rather than handed to the journal's committer: set while this
    /// namenode is its group's one voter, whose appends nothing else can
    /// overlap (a leader of several sends them to the others meanwhile).
    inline: Arc<AtomicBool>,
}

fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    // Every change to it is a whole insert or removal.
    log.lock().unwrap_or_else(|e| e.into_inner())
}

impl LogStore {
    /// Opens (or creates) the log under the data dir `data_dir`, reading
    /// it whole. Blocking.
    pub fn open(data_dir: &Path) -> Result<LogStore> {
        let journal = MetaStore::open_plain(&data_dir.join(DIR))?;
        let mut log = Log::default();
        journal.read_all(|k, v| -> Result<()> {
            let bad = |e: codec::CodecError| {
                crate::error::NamenodeError::Internal(format!(
                    "raft log: a record of {} does not decode: {e}",
                    String::from_utf8_lossy(k)
                ))
            };
            if let Some(index) = k.strip_prefix(ENTRY) {
                let entry: LogEntry = codec::decode(v).map_err(bad)?;
                let at = index.try_into().map(u64::from_be_bytes).ok();
                if at != Some(entry.log_id.index) {
                    return Err(crate::error::NamenodeError::Internal(format!(
                        "raft log: the entry stored at {index:?} is {}",
                        entry.log_id
                    )));
                }
                log.entries.insert(entry.log_id.index, entry);
            } else if k == VOTE {
                log.vote = Some(codec::decode(v).map_err(bad)?);
            } else if k == COMMITTED {
                log.committed = codec::decode(v).map_err(bad)?;
            } else if k == PURGED {
                log.purged = Some(codec::decode(v).map_err(bad)?);
            }
            Ok(())
        })??;
        Ok(LogStore {
            log: Arc::new(Mutex::new(log)),
            journal: Arc::new(journal),
            inline: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The switch of inline appends (see `inline`), shared with the store.
    pub fn inline_switch(&self) -> Arc<AtomicBool> {
        self.inline.clone()
    }

    fn put<T: serde::Serialize>(txn: &mut Txn, k: &[u8], v: &T) -> Result<(), StorageError> {
        let v = codec::encode(v).map_err(|e| storage_error("raft log: encoding", e))?;
        txn.put_raw(k, &v);
        Ok(())
    }

    fn submit(&self, txn: Txn) -> Result<crate::meta_store::Commit, StorageError> {
        self.journal
            .submit(txn)
            .map_err(|e| storage_error("raft log", e))
    }

    /// Queues a write nobody waits for: it reaches the journal in its
    /// turn and is synced with the next append or vote. (Queued with
    /// `submit`, each would cost a sync of its own, which the next append
    /// waits behind: `save_committed` runs after every commit.)
    fn queue(&self, txn: Txn) -> Result<(), StorageError> {
        self.journal
            .submit_unsynced(txn)
            .map_err(|e| storage_error("raft log", e))
    }

    /// The last log id, purged or not.
    fn last(log: &Log) -> Option<LogId> {
        log.entries
            .last_key_value()
            .map(|(_, e)| e.log_id)
            .or(log.purged)
    }
}

fn entries_in(log: &Log, range: impl RangeBounds<u64>) -> Vec<LogEntry> {
    log.entries.range(range).map(|(_, e)| e.clone()).collect()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<LogEntry>, StorageError> {
        Ok(entries_in(&lock(&self.log), range))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let log = lock(&self.log);
        Ok(LogState {
            last_purged_log_id: log.purged,
            last_log_id: Self::last(&log),
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let mut txn = Txn::new();
        Self::put(&mut txn, VOTE, vote)?;
        let commit = {
            let mut log = lock(&self.log);
            log.vote = Some(*vote);
            self.submit(txn)?
        };
        commit
            .durable()
            .await
            .map_err(|e| storage_error("raft log: saving the vote", e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(lock(&self.log).vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let mut txn = Txn::new();
        Self::put(&mut txn, COMMITTED, &committed)?;
        let mut log = lock(&self.log);
        log.committed = committed;
        // Not waited for: a hint that saves re-applying after a restart.
        self.queue(txn)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(lock(&self.log).committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = LogEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut txn = Txn::new();
        let mut kept = Vec::new();
        for e in entries {
            Self::put(&mut txn, &entry_key(e.log_id.index), &e)?;
            kept.push(e);
        }
        // Readable at once, durable once the group is synced: the commit is
        // queued under the lock, so the journal's order is the order of the
        // calls. openraft hears of the sync from the committer's thread.
        let mut log = lock(&self.log);
        for e in kept {
            log.entries.insert(e.log_id.index, e);
        }
        if self.inline.load(Ordering::Acquire) {
            // A namenode alone waits for nothing else: the fsync here saves
            // two thread handoffs (to the committer and back) per entry.
            drop(log);
            let synced = self.journal.commit_now(txn);
            callback.log_io_completed(synced.map_err(std::io::Error::other));
            return Ok(());
        }
        self.journal
            .submit_then(txn, move |synced| {
                callback.log_io_completed(synced.map_err(std::io::Error::other));
            })
            .map_err(|e| storage_error("raft log", e))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut txn = Txn::new();
        let mut log = lock(&self.log);
        let gone: Vec<u64> = log.entries.range(log_id.index..).map(|(i, _)| *i).collect();
        for i in gone {
            log.entries.remove(&i);
            txn.del_raw(&entry_key(i));
        }
        self.queue(txn)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut txn = Txn::new();
        Self::put(&mut txn, PURGED, &log_id)?;
        let mut log = lock(&self.log);
        let gone: Vec<u64> = log
            .entries
            .range(..=log_id.index)
            .map(|(i, _)| *i)
            .collect();
        for i in gone {
            log.entries.remove(&i);
            txn.del_raw(&entry_key(i));
        }
        log.purged = Some(log_id);
        self.queue(txn)
    }
}
