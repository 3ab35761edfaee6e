//! The namesystem as openraft's state machine (`RaftStateMachine`).
//!
//! Entries are applied by `Namesystem::apply_committed` (which runs
//! `Namespace::apply`, the only way the replicated state changes) with the
//! log [`Position`] they lead to. A snapshot is a checkpoint of the
//! metadata store (`checkpoint::write`, a consistent scan that runs while
//! the namenode serves), so its position is the one its own records hold.
//!
//! Snapshot files, in `<data-dir>/raft/snapshots/`:
//!
//! | name            | what |
//! | --------------- | ---- |
//! | `<id>.dfsck`    | the checkpoint |
//! | `<id>.meta`     | its `SnapshotMeta`, written once the checkpoint is synced |
//! | `.*.tmp`        | one being built or received (removed at open) |
//!
//! An id is `<last index, 20 digits>-<its term, 20 digits>-<ms, 15 digits>`,
//! so names sort by position; the newest `.meta` names the current
//! snapshot, older ones are removed once a newer one is in place. An id
//! from another node is checked against that shape before it names a file.
use super::{storage_error, Applied, LogEntry, LogId, StorageError, StoredMembership, TypeConfig};
use crate::namesystem::{now_ms, Namesystem};
use dfs_common::codec;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, SnapshotMeta};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The snapshots' directory under the data dir.
pub const DIR: &str = "raft/snapshots";
const DATA: &str = "dfsck";
const META: &str = "meta";

/// Where in the log the replicated state stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

impl Position {
    /// The position recorded in the store's `m/raft` record.
    fn decode(bytes: Option<&[u8]>) -> Result<Position, StorageError> {
        match bytes {
            None => Ok(Position::default()),
            Some(b) => codec::decode(b).map_err(|e| storage_error("raft position", e)),
        }
    }
}

/// The state machine handed to openraft.
pub struct StateMachine {
    ns: Arc<Namesystem>,
    snapshots: Arc<Snapshots>,
}

/// The snapshot files.
struct Snapshots {
    dir: PathBuf,
    /// The file `begin_receiving_snapshot` made last (removed once installed).
    receiving: Mutex<Option<PathBuf>>,
    /// One build at a time.
    building: tokio::sync::Mutex<()>,
}

fn io(what: &str) -> impl Fn(std::io::Error) -> StorageError + '_ {
    move |e| storage_error(what, e)
}

impl StateMachine {
    /// The state machine over `ns`, its snapshots under its data dir.
    pub fn open(ns: Arc<Namesystem>) -> Result<StateMachine, StorageError> {
        let dir = ns.config().data_dir.join(DIR);
        std::fs::create_dir_all(&dir).map_err(io("creating the snapshot directory"))?;
        for e in std::fs::read_dir(&dir).map_err(io("listing snapshots"))? {
            let path = e.map_err(io("listing snapshots"))?.path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp"))
            {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(StateMachine {
            ns,
            snapshots: Arc::new(Snapshots {
                dir,
                receiving: Mutex::new(None),
                building: tokio::sync::Mutex::new(()),
            }),
        })
    }

    fn position(&self) -> Result<Position, StorageError> {
        let bytes = self
            .ns
            .raft_position()
            .map_err(|e| storage_error("raft position", e))?;
        Position::decode(bytes.as_deref())
    }
}

/// Whether `id` has the shape of the ids this module makes.
fn valid_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .zip([20, 20, 15])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()))
}

impl Snapshots {
    fn data_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.{DATA}"))
    }

    fn meta_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.{META}"))
    }

    /// The ids of the snapshots whose `.meta` is in place, oldest first.
    fn ids(&self) -> Result<Vec<String>, StorageError> {
        let mut ids = Vec::new();
        for e in std::fs::read_dir(&self.dir).map_err(io("listing snapshots"))? {
            let name = e.map_err(io("listing snapshots"))?.file_name();
            if let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(&format!(".{META}")))
                .filter(|id| valid_id(id))
            {
                ids.push(id.to_string());
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Makes `meta` the current snapshot (its data already in place and
    /// synced), then removes every older one.
    fn commit(&self, meta: &SnapshotMeta<u64, openraft::BasicNode>) -> Result<(), StorageError> {
        let bytes = codec::encode(meta).map_err(|e| storage_error("snapshot meta", e))?;
        let path = self.meta_path(&meta.snapshot_id);
        write_synced(&self.dir, &path, &bytes).map_err(io("writing a snapshot's meta"))?;
        for old in self.ids()? {
            if old < meta.snapshot_id {
                for p in [self.meta_path(&old), self.data_path(&old)] {
                    if let Err(e) = std::fs::remove_file(&p) {
                        log::warn!("cannot remove old snapshot file {}: {e}", p.display());
                    }
                }
            }
        }
        Ok(())
    }

    /// The current snapshot, opened for reading.
    async fn current(&self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(id) = self.ids()?.pop() else {
            return Ok(None);
        };
        let bytes = tokio::fs::read(self.meta_path(&id))
            .await
            .map_err(io("reading a snapshot's meta"))?;
        let meta = codec::decode(&bytes).map_err(|e| storage_error("snapshot meta", e))?;
        let file = tokio::fs::File::open(self.data_path(&id))
            .await
            .map_err(io("opening a snapshot"))?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(file),
        }))
    }
}

/// Writes `bytes` to `path` durably: a temporary name, synced, renamed,
/// the directory synced.
fn write_synced(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".write-{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Builds snapshots (openraft runs it beside the state machine).
pub struct Builder {
    ns: Arc<Namesystem>,
    snapshots: Arc<Snapshots>,
}

impl RaftSnapshotBuilder<TypeConfig> for Builder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let _one = self.snapshots.building.lock().await;
        let ns = self.ns.clone();
        let snapshots = self.snapshots.clone();
        let clock = std::time::Instant::now();
        let built = tokio::task::spawn_blocking(move || -> Result<_, StorageError> {
            let tmp = snapshots
                .dir
                .join(format!(".build-{}.tmp", uuid::Uuid::new_v4().simple()));
            let result = (|| {
                let file = std::fs::File::create(&tmp).map_err(io("creating a snapshot"))?;
                let mut position = None;
                let summary = crate::checkpoint::write_observed(
                    ns.store(),
                    ns.cluster_id(),
                    &file,
                    |k, v| {
                        if crate::meta_store::is_raft_position(k) {
                            position = Some(v.to_vec());
                        }
                    },
                )
                .map_err(|e| storage_error("writing a snapshot", e))?;
                file.sync_all().map_err(io("syncing a snapshot"))?;
                let position = Position::decode(position.as_deref())?;
                let last = position.last_applied;
                let id = format!(
                    "{:020}-{:020}-{:015}",
                    last.map_or(0, |l| l.index),
                    last.map_or(0, |l| l.leader_id.term),
                    now_ms()
                );
                std::fs::rename(&tmp, snapshots.data_path(&id)).map_err(io("naming a snapshot"))?;
                let meta = SnapshotMeta {
                    last_log_id: last,
                    last_membership: position.membership,
                    snapshot_id: id,
                };
                snapshots.commit(&meta)?;
                Ok((meta, summary))
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result
        })
        .await
        .map_err(|e| storage_error("building a snapshot", e))??;
        let (meta, summary) = built;
        log::info!(
            "raft snapshot {} built: {} records, {} bytes, in {:.2} s",
            meta.snapshot_id,
            summary.records,
            summary.bytes,
            clock.elapsed().as_secs_f64()
        );
        let file = tokio::fs::File::open(self.snapshots.data_path(&meta.snapshot_id))
            .await
            .map_err(io("opening a snapshot"))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Builder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let p = self.position()?;
        Ok((p.last_applied, p.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Applied>>, StorageError>
    where
        I: IntoIterator<Item = LogEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut position = self.position()?;
        let mut commands = Vec::new();
        // How many commands each log entry carried.
        let mut sizes = Vec::new();
        for e in entries {
            position.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => sizes.push(0),
                EntryPayload::Normal(batch) => {
                    sizes.push(batch.len());
                    commands.extend(batch);
                }
                EntryPayload::Membership(m) => {
                    position.membership = StoredMembership::new(Some(e.log_id), m);
                    sizes.push(0);
                }
            }
        }
        if sizes.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = codec::encode(&position).map_err(|e| storage_error("raft position", e))?;
        let outcomes = self
            .ns
            .apply_committed(commands, bytes)
            .await
            .map_err(|e| storage_error("applying entries", e))?;
        let mut outcomes = outcomes.into_iter();
        Ok(sizes
            .into_iter()
            .map(|n| outcomes.by_ref().take(n).collect())
            .collect())
    }

    async fn get_snapshot_builder(&mut self) -> Builder {
        Builder {
            ns: self.ns.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let path = self
            .snapshots
            .dir
            .join(format!(".receive-{}.tmp", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(io("receiving a snapshot"))?;
        let old = self
            .snapshots
            .receiving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(path);
        if let Some(old) = old {
            let _ = std::fs::remove_file(old);
        }
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        use tokio::io::{AsyncSeekExt, AsyncWriteExt};
        let id = &meta.snapshot_id;
        if !valid_id(id) {
            return Err(storage_error(
                "installing a snapshot",
                format!("{id:?} is not a snapshot id"),
            ));
        }
        let clock = std::time::Instant::now();
        let _one = self.snapshots.building.lock().await;
        // Kept under its own name as the current snapshot (a follower
        // serves it to others later), then installed from there.
        let mut input = *snapshot;
        input.flush().await.map_err(io("receiving a snapshot"))?;
        input
            .seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(io("receiving a snapshot"))?;
        let data = self.snapshots.data_path(id);
        let tmp = self
            .snapshots
            .dir
            .join(format!(".install-{}.tmp", uuid::Uuid::new_v4().simple()));
        let copied = async {
            let mut out = tokio::fs::File::create(&tmp).await?;
            tokio::io::copy(&mut input, &mut out).await?;
            out.sync_all().await?;
            tokio::fs::rename(&tmp, &data).await
        }
        .await;
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&tmp);
            return Err(storage_error("receiving a snapshot", e));
        }
        let received = self
            .snapshots
            .receiving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(p) = received {
            let _ = std::fs::remove_file(p);
        }
        self.ns
            .install_records(move |put| crate::checkpoint::copy_records(&data, put))
            .await
            .map_err(|e| storage_error("installing a snapshot", e))?;
        let position = self.position()?;
        if position.last_applied != meta.last_log_id {
            return Err(storage_error(
                "installing a snapshot",
                format!(
                    "snapshot {id} holds the state at {:?}, not at {:?} as its meta says",
                    position.last_applied, meta.last_log_id
                ),
            ));
        }
        self.snapshots.commit(meta)?;
        log::info!(
            "raft snapshot {id} installed in {:.2} s",
            clock.elapsed().as_secs_f64()
        );
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        self.snapshots.current().await
    }
}
