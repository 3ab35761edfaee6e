//! The startup image: the namespace as a clean stop leaves it, in one
//! sequential file (`<data-dir>/namespace.image`), so the next start reads
//! it instead of scanning the store, record by record, through sled's page
//! cache (issue 17: most of a 10 M-file restart was that scan, and most of
//! the store's share of the namenode's resident memory the pages it left
//! behind).
//!
//! The store stays the metadata of record: the image is only a faster way
//! to read the same state, and the start falls back to the store's scan
//! whenever the image is missing, damaged, or not exactly the store's
//! state. The format is the checkpoint format (`dfs_common::checkpoint`:
//! records in the store's own form, a SHA-256 trailer), written from
//! memory; it lacks the digest midstates (`h/`), which stay in the store
//! and are read on demand.
//!
//! Invariants:
//! - written only at a clean stop, after every change is durable and only
//!   if no commit ever failed (memory then equals the store), under a
//!   temporary name, synced, then renamed and the directory synced;
//! - read at most once: a start removes it (and syncs the directory)
//!   before it changes anything in the store, so an image never outlives
//!   the state it copies, whether the start goes on or crashes;
//! - used only if it is whole (trailer), every record decodes, and its last
//!   applied command and cluster id are the store's: commands are the
//!   only changes that outlive a start, and each one moves the index;
//! - tools that write a stopped store directly (restore, the benchmark's
//!   bulk loader) remove it first ([`discard`]).
use crate::error::{NamenodeError, Result};
use crate::meta_store::{decode_into, Loaded, MetaStore, Txn};
use crate::namespace::Namespace;
use dfs_common::checkpoint::{self as format, CheckpointError, Record, Summary};
use dfs_common::ids::ClusterId;
use std::fs;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

/// The image's name in the data dir.
pub const FILE: &str = "namespace.image";
/// Records handed to the writer at a time.
const BATCH: usize = 64 * 1024;
/// Read and write buffers.
const BUFFER: usize = 4 << 20;

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

fn tmp_path(data_dir: &Path) -> PathBuf {
    data_dir.join(format!(".{FILE}.tmp"))
}

/// Writes the image of `ns` into `data_dir` (see the invariants: the caller
/// has made every change durable). Blocking.
pub fn write(ns: &Namespace, cluster_id: ClusterId, data_dir: &Path) -> Result<Summary> {
    let tmp = tmp_path(data_dir);
    let result = (|| {
        let file = fs::File::create(&tmp).map_err(io_err)?;
        let mut w = format::Writer::new(
            BufWriter::with_capacity(BUFFER, &file),
            cluster_id,
            crate::namesystem::now_ms(),
        )
        .map_err(io_err)?;
        let mut head = Txn::new();
        head.put_cluster_id(cluster_id);
        let mut put_all = |txn: &mut Txn| -> Result<()> {
            for (k, v) in txn.take_writes()? {
                match v {
                    Some(v) => w.put(&k, &v).map_err(io_err)?,
                    None => w.del(&k).map_err(io_err)?,
                }
            }
            Ok(())
        };
        put_all(&mut head)?;
        ns.export(BATCH, &mut put_all)?;
        let (_, summary) = w.finish().map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        fs::rename(&tmp, path(data_dir)).map_err(io_err)?;
        sync_dir(data_dir)?;
        Ok(summary)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The image in `data_dir`, if there is one and it is exactly `store`'s
/// state; removed either way (see the invariants). A damaged or stale
/// image is logged and ignored: the store has everything.
pub fn take(data_dir: &Path, store: &MetaStore) -> Result<Option<Loaded>> {
    let _ = fs::remove_file(tmp_path(data_dir));
    let file = path(data_dir);
    let input = match fs::File::open(&file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            log::warn!(
                "cannot open the startup image {}: {e}; reading the store instead",
                file.display()
            );
            discard(data_dir)?;
            return Ok(None);
        }
    };
    let read = read(input);
    discard(data_dir)?;
    let loaded = match read {
        Ok(l) => l,
        Err(e) => {
            log::warn!(
                "startup image {} not used: {e}; reading the store instead",
                file.display()
            );
            return Ok(None);
        }
    };
    let (applied, cluster) = store.applied_and_cluster()?;
    if loaded.applied != applied || loaded.cluster_id != cluster {
        log::warn!(
            "startup image {} not used: it holds command {} of cluster {:?}, the store command {applied} of cluster {cluster:?}; reading the store instead",
            file.display(),
            loaded.applied,
            loaded.cluster_id
        );
        return Ok(None);
    }
    Ok(Some(loaded))
}

/// Reads a whole image (checked to its trailer) into records as the store
/// holds them.
fn read(input: fs::File) -> std::result::Result<Loaded, String> {
    let mut out = Loaded::default();
    let summary = format::read(BufReader::with_capacity(BUFFER, input), |r| match r {
        Record::Put(k, v) => decode_into(&mut out, &k, &v).map_err(|e| ImageError(e.to_string())),
        Record::Del(_) => Err(ImageError("an image holds no deletions".into())),
    })
    .map_err(|e: ImageError| e.0)?;
    if out.cluster_id != Some(summary.header.cluster_id) {
        return Err("its header and its records name different clusters".into());
    }
    Ok(out)
}

/// A read's error, as text.
struct ImageError(String);

impl From<CheckpointError> for ImageError {
    fn from(e: CheckpointError) -> Self {
        ImageError(e.to_string())
    }
}

/// Removes the image from `data_dir`, durably. Nothing to remove is fine.
pub fn discard(data_dir: &Path) -> Result<()> {
    match fs::remove_file(path(data_dir)) {
        Ok(()) => sync_dir(data_dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NamenodeError::Internal(format!(
            "cannot remove the startup image {}: {e}",
            path(data_dir).display()
        ))),
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err)
}

fn io_err(e: impl std::fmt::Display) -> NamenodeError {
    NamenodeError::Internal(format!("startup image: {e}"))
}
