//! Moving the metadata of a version before the journal (a sled store,
//! `<data-dir>/meta.sled`) into the journal, once, at the first start of
//! this version: every record is copied into a base, in the journal's
//! canonical order; then the sled directory is renamed
//! `meta.sled.migrated` (kept for the operator to remove: never deleted
//! here).
//!
//! Invariants: the base appears only whole and synced (`journal::write_base`)
//! and the sled store is renamed only after it; a start interrupted before
//! the rename migrates again into an empty journal (the base of a failed
//! try is a temporary file, removed by the next listing).
use crate::error::{NamenodeError, Result};
use crate::journal::{self, SIZES};
use dfs_common::codec;
use dfs_common::ids::ClusterId;
use std::path::Path;

/// The store of earlier versions, under the data dir.
pub const SLED_DIR: &str = "meta.sled";
/// Where it goes once copied.
pub const MIGRATED_DIR: &str = "meta.sled.migrated";

fn sled_err(e: sled::Error) -> NamenodeError {
    NamenodeError::Internal(format!(
        "reading the metadata of an earlier version ({SLED_DIR}): {e}"
    ))
}

/// The store's key layout, as `meta_store` defines it.
pub struct Layout<'a> {
    /// Prefixes of the small records, then of the inodes and the blocks.
    pub small: &'a [&'a [u8]],
    pub inodes: &'a [u8],
    pub blocks: &'a [u8],
    /// The cluster id's key.
    pub cluster_id: &'a [u8],
    /// Whether a small record is worth copying.
    pub keep: &'a dyn Fn(&[u8], &[u8]) -> bool,
}

/// Copies `<data_dir>/meta.sled`, if there is one, into a base in the
/// empty journal `jdir`; returns whether there was one.
pub fn from_sled(data_dir: &Path, jdir: &Path, layout: &Layout<'_>) -> Result<bool> {
    let sled_dir = data_dir.join(SLED_DIR);
    if !sled_dir.exists() {
        return Ok(false);
    }
    let clock = std::time::Instant::now();
    log::info!(
        "moving the metadata in {} into the journal {} (once)",
        sled_dir.display(),
        jdir.display()
    );
    let db = sled::Config::new()
        .path(&sled_dir)
        .cache_capacity(16 << 20)
        .open()
        .map_err(sled_err)?;
    let count = |prefix: &[u8]| -> Result<u64> {
        let mut n = 0;
        for item in db.scan_prefix(prefix).keys() {
            item.map_err(sled_err)?;
            n += 1;
        }
        Ok(n)
    };
    let sizes = (count(layout.inodes)?, count(layout.blocks)?);
    let cluster = match db.get(layout.cluster_id).map_err(sled_err)? {
        Some(v) => codec::decode::<ClusterId>(&v).ok(),
        None => None,
    };
    let mut records = 0u64;
    let (_, bytes) = journal::write_base(jdir, 0, cluster, |put| {
        for prefix in layout.small {
            for item in db.scan_prefix(prefix) {
                let (k, v) = item.map_err(sled_err)?;
                if !(layout.keep)(&k, &v) {
                    continue;
                }
                put(&k, &v)?;
                records += 1;
            }
        }
        let v = codec::encode(&sizes)
            .map_err(|e| NamenodeError::Internal(format!("encoding sizes: {e}")))?;
        put(SIZES, &v)?;
        for prefix in [layout.inodes, layout.blocks] {
            for item in db.scan_prefix(prefix) {
                let (k, v) = item.map_err(sled_err)?;
                put(&k, &v)?;
                records += 1;
            }
        }
        Ok::<(), NamenodeError>(())
    })?;
    drop(db);
    let to = data_dir.join(MIGRATED_DIR);
    std::fs::rename(&sled_dir, &to)
        .and_then(|()| std::fs::File::open(data_dir)?.sync_all())
        .map_err(|e| {
            NamenodeError::Internal(format!(
                "moving {} to {} after copying it: {e}",
                sled_dir.display(),
                to.display()
            ))
        })?;
    log::warn!(
        "metadata of an earlier version moved into the journal: {records} records ({} inodes, {} blocks), \
         a base of {bytes} bytes, in {:.1} s; the old store is kept as {}: remove it once this \
         namenode runs as it should",
        sizes.0,
        sizes.1,
        clock.elapsed().as_secs_f64(),
        to.display()
    );
    Ok(true)
}

/// A sled store beside a journal is not read: say so.
pub fn warn_if_sled_left(data_dir: &Path) {
    let sled_dir = data_dir.join(SLED_DIR);
    if sled_dir.exists() {
        log::warn!(
            "{} is not read: the metadata is in {} (a store of an earlier version copied there \
             before, or put back by hand); move it away to silence this",
            sled_dir.display(),
            data_dir.join(journal::DIR).display()
        );
    }
}
