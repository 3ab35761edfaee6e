//! Checkpoints of the metadata: taking them while serving, keeping the
//! namenode's own in `<data-dir>/checkpoints/`, and restoring one into an
//! empty data dir (`namenode --restore FILE`). The file format is
//! `dfs_common::checkpoint`; the point-in-time scan is
//! [`MetaStore::scan_consistent`].
//!
//! What it does not do: serve HTTP (`api::cluster`) or decide when to run
//! (the `checkpoints` worker in [`start`]).
//!
//! Invariants:
//! - a checkpoint file appears under its final name only once it is whole
//!   and synced (temp name, fsync, rename, fsync of the directory), so the
//!   newest file in `checkpoints/` is always complete;
//! - restore never touches existing metadata: it refuses a data dir that
//!   holds a store (a journal, or a sled store of an earlier version),
//!   builds the new journal (one base) in a scratch directory, and moves
//!   it into place only after the whole file checked out (trailer, every
//!   record decodes); on any failure the scratch directory is removed and
//!   the data dir is as it was;
//! - a restored store is marked (`m/restored`), so the namenode holds every
//!   replica it does not know until an operator decides;
//! - a restored store has no Raft position: the namenode forms a group of
//!   its own at its first start, wherever it runs (the checkpoint's group
//!   is not its).
use crate::journal::{self, Section, SIZES};
use crate::meta_store::{MetaStore, Txn};
use crate::namesystem::{now_ms, Namesystem};
use crate::workers::Workers;
use dfs_common::checkpoint::{self as format, CheckpointError, Record, Summary};
use dfs_common::ids::ClusterId;
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the namenode keeps its own checkpoints, under the data dir.
pub const DIR: &str = "checkpoints";
/// The store's directory under the data dir (as `MetaStore::open` makes it).
const STORE_DIR: &str = journal::DIR;
/// Scratch data dir of a restore in progress, under the data dir.
const RESTORING: &str = ".restoring";

/// Writes a consistent checkpoint of `store` to `out`. Blocking.
pub fn write(
    store: &MetaStore,
    cluster_id: ClusterId,
    out: impl Write,
) -> Result<Summary, CheckpointError> {
    write_observed(store, cluster_id, out, |_, _| {})
}

/// [`write`], showing `observe` every record as it goes by (a Raft
/// snapshot reads its position from its records). Blocking.
pub fn write_observed(
    store: &MetaStore,
    cluster_id: ClusterId,
    out: impl Write,
    mut observe: impl FnMut(&[u8], &[u8]),
) -> Result<Summary, CheckpointError> {
    let mut w = format::Writer::new(BufWriter::with_capacity(1 << 20, out), cluster_id, now_ms())?;
    store
        .scan_consistent(|k, v| {
            observe(k, v);
            w.put(k, v)
        })
        .map_err(|e| CheckpointError::Io(std::io::Error::other(e.to_string())))??;
    let (_, summary) = w.finish()?;
    Ok(summary)
}

/// Hands `put` the store records of the checkpoint `file`, which must be
/// one this version wrote from a consistent scan (canonical order, no
/// deletions: a Raft snapshot), with its `x/sizes`; the journal's other
/// own records are left out. The trailer is checked at the end: a damaged
/// file fails after handing over part of its records. Blocking.
pub fn copy_records(
    file: &Path,
    put: &mut journal::Sink<'_, crate::NamenodeError>,
) -> crate::error::Result<()> {
    let bad = |e: CheckpointError| {
        crate::NamenodeError::Internal(format!("snapshot {}: {e}", file.display()))
    };
    let input = fs::File::open(file).map_err(|e| bad(e.into()))?;
    format::read(BufReader::with_capacity(1 << 20, input), |r| match r {
        Record::Put(k, v) if Section::of(k).is_some() || k == SIZES => {
            put(k, v).map_err(|e| CheckpointError::Io(std::io::Error::other(e.to_string())))
        }
        Record::Put(..) => Ok(()),
        Record::Del(_) => Err(CheckpointError::Io(std::io::Error::other(
            "a snapshot holds no deletions",
        ))),
    })
    .map_err(bad)?;
    Ok(())
}

/// Writes a checkpoint into `dir` under a name of its time, durably (see
/// the invariants). Blocking.
pub fn write_into(
    store: &MetaStore,
    cluster_id: ClusterId,
    dir: &Path,
) -> Result<(PathBuf, Summary), CheckpointError> {
    fs::create_dir_all(dir)?;
    let ms = now_ms();
    let name = format!("checkpoint-{ms:015}.{}", format::EXTENSION);
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let file = fs::File::create(&tmp)?;
        let summary = write(store, cluster_id, &file)?;
        file.sync_all()?;
        let path = dir.join(&name);
        fs::rename(&tmp, &path)?;
        fs::File::open(dir)?.sync_all()?;
        Ok((path, summary))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The namenode's own checkpoints in `dir`, oldest first.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("checkpoint-") && n.ends_with(format::EXTENSION))
        })
        .collect();
    v.sort();
    v
}

/// Removes all but the newest `keep` checkpoints in `dir`.
pub fn prune(dir: &Path, keep: usize) {
    let all = list(dir);
    let excess = all.len().saturating_sub(keep);
    for p in &all[..excess] {
        match fs::remove_file(p) {
            Ok(()) => log::info!("removed old checkpoint {}", p.display()),
            Err(e) => log::warn!("cannot remove old checkpoint {}: {e}", p.display()),
        }
    }
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Refused(String),
    #[error("{file}: {source}")]
    Checkpoint {
        file: String,
        source: CheckpointError,
    },
    #[error("{0}")]
    Store(String),
}

/// Loads the checkpoint `file` into the empty data dir `data_dir` (see the
/// module's invariants). Blocking: call before the runtime starts.
pub fn restore(file: &Path, data_dir: &Path) -> Result<Summary, RestoreError> {
    for held in [
        STORE_DIR,
        crate::migrate::SLED_DIR,
        crate::meta_store::RAFT_DIR,
    ] {
        if data_dir.join(held).exists() {
            return Err(RestoreError::Refused(format!(
                "{} already holds metadata ({}): --restore loads a checkpoint only into an empty data dir; \
                 nothing was changed. Move {} away first if you mean to replace it",
                data_dir.display(),
                data_dir.join(held).display(),
                held
            )));
        }
    }
    let input = fs::File::open(file).map_err(|e| {
        RestoreError::Refused(format!("cannot open checkpoint {}: {e}", file.display()))
    })?;
    fs::create_dir_all(data_dir).map_err(|e| {
        RestoreError::Refused(format!(
            "cannot create data dir {}: {e}",
            data_dir.display()
        ))
    })?;
    let scratch = data_dir.join(RESTORING);
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(|e| {
            RestoreError::Store(format!(
                "cannot remove the leftover of an earlier restore {}: {e}",
                scratch.display()
            ))
        })?;
    }
    let result = build(input, file, &scratch).and_then(|summary| {
        fs::rename(scratch.join(STORE_DIR), data_dir.join(STORE_DIR))
            .and_then(|()| fs::File::open(data_dir)?.sync_all())
            .map_err(|e| {
                RestoreError::Store(format!("moving the restored metadata into place: {e}"))
            })?;
        Ok(summary)
    });
    let _ = fs::remove_dir_all(&scratch);
    result
}

/// Builds a journal from the checkpoint in `scratch` and checks it. The
/// checkpoint's records are applied in order in memory (a checkpoint of an
/// earlier version may hold deletions and later writes of a key), then
/// written as one base in canonical order.
fn build(input: fs::File, file: &Path, scratch: &Path) -> Result<Summary, RestoreError> {
    let store_err = |e: crate::NamenodeError| RestoreError::Store(e.to_string());
    let mut records: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let read = format::read(BufReader::with_capacity(1 << 20, input), |r| {
        match r {
            // The journal's own records of the store it came from are not
            // records of this one; nor is its place in its Raft group's
            // log (this namenode forms a group of its own: the old
            // group's members would never elect it).
            Record::Put(k, _) if crate::meta_store::is_raft_position(k) => {}
            Record::Put(k, v) if Section::of(k).is_some() => {
                records.insert(k.to_vec(), v.to_vec());
            }
            Record::Put(..) => {}
            Record::Del(k) => {
                records.remove(k);
            }
        }
        Ok::<(), CheckpointError>(())
    });
    let summary = read.map_err(|source| RestoreError::Checkpoint {
        file: file.display().to_string(),
        source,
    })?;
    let mut txn = Txn::new();
    txn.put_cluster_id(summary.header.cluster_id);
    txn.put_restored(now_ms());
    for (k, v) in txn.take_writes().map_err(store_err)? {
        if let Some(v) = v {
            records.insert(k, v);
        }
    }
    let jdir = scratch.join(STORE_DIR);
    fs::create_dir_all(&jdir)
        .map_err(|e| RestoreError::Store(format!("creating {}: {e}", jdir.display())))?;
    let of = |s: Section| {
        let records = &records;
        records
            .iter()
            .filter(move |(k, _)| Section::of(k) == Some(s))
    };
    let sizes = (
        of(Section::Inodes).count() as u64,
        of(Section::Blocks).count() as u64,
    );
    journal::write_base(&jdir, 0, Some(summary.header.cluster_id), |put| {
        for (k, v) in of(Section::Small) {
            put(k, v)?;
        }
        let v = dfs_common::codec::encode(&sizes)
            .map_err(|e| crate::NamenodeError::Internal(format!("encoding sizes: {e}")))?;
        put(SIZES, &v)?;
        for (k, v) in of(Section::Inodes).chain(of(Section::Blocks)) {
            put(k, v)?;
        }
        Ok::<(), crate::NamenodeError>(())
    })
    .map_err(store_err)?;
    drop(records);
    // Every record must decode, as at a start.
    let store = MetaStore::open(scratch).map_err(store_err)?;
    let loaded = store.load().map_err(|e| {
        RestoreError::Store(format!(
            "the checkpoint's records do not load ({e}): it was written by an incompatible version"
        ))
    })?;
    log::info!(
        "checkpoint {} of cluster {} checked: {} records, {} inodes, {} blocks",
        file.display(),
        summary.header.cluster_id,
        summary.records,
        loaded.inodes.len(),
        loaded.blocks.len()
    );
    Ok(summary)
}

/// Starts the worker that checkpoints into `<data-dir>/checkpoints` every
/// `--checkpoint-interval`, keeping `--checkpoints-kept`.
pub fn start(workers: &mut Workers, ns: Arc<Namesystem>) {
    let every = ns.config().checkpoint_interval;
    if every.is_zero() {
        log::info!("automatic checkpoints off (--checkpoint-interval 0)");
        return;
    }
    let mut first = true;
    workers.spawn_periodic("checkpoints", every, move || {
        // The interval's first tick is at once: the first checkpoint waits
        // a whole interval, so restarts do not pile them up.
        let skip = std::mem::replace(&mut first, false);
        let ns = ns.clone();
        async move {
            if skip {
                return;
            }
            match checkpoint_now(ns).await {
                Ok((path, s)) => log::info!(
                    "checkpoint {} written: {} records, {} bytes",
                    path.display(),
                    s.records,
                    s.bytes
                ),
                Err(e) => log::error!("automatic checkpoint failed: {e}"),
            }
        }
    });
}

/// Writes one checkpoint into the data dir now and prunes old ones.
pub async fn checkpoint_now(ns: Arc<Namesystem>) -> Result<(PathBuf, Summary), CheckpointError> {
    tokio::task::spawn_blocking(move || {
        let dir = ns.config().data_dir.join(DIR);
        let out = write_into(ns.store(), ns.cluster_id(), &dir)?;
        prune(&dir, ns.config().checkpoints_kept.max(1));
        Ok(out)
    })
    .await
    .map_err(|e| CheckpointError::Io(std::io::Error::other(e.to_string())))?
}

/// Writes a checkpoint to an unnamed file in the data dir (created, then
/// unlinked while open) and returns it rewound, for streaming to a client
/// at whatever pace it reads, without holding the scan open meanwhile.
pub async fn to_temp_file(ns: Arc<Namesystem>) -> Result<(fs::File, Summary), CheckpointError> {
    tokio::task::spawn_blocking(move || {
        use std::io::{Seek, SeekFrom};
        let dir = ns.config().data_dir.join(DIR);
        fs::create_dir_all(&dir)?;
        let path = dir.join(format!(".serve-{}.tmp", uuid::Uuid::new_v4().simple()));
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let _ = fs::remove_file(&path);
        let summary = write(ns.store(), ns.cluster_id(), &file)?;
        file.seek(SeekFrom::Start(0))?;
        Ok((file, summary))
    })
    .await
    .map_err(|e| CheckpointError::Io(std::io::Error::other(e.to_string())))?
}
