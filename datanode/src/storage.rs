//! This node's storage as the namenode is told it: capacity, bytes used and
//! available ([`StorageReport`]), each data dir's ([`DiskReport`]), and
//! which file system holds the blocks
//! ([`FilesystemReport`]: machine, device, `statvfs` sizes), so that the
//! namenode counts a disk shared by several datanodes once (HDFS
//! `FsVolumeImpl` / `StorageReport`).
//!
//! Reads only: [`crate::heartbeat`] sends what this gathers; nothing here
//! talks to the namenode or touches a block.
//!
//! Invariants: what is reported available never exceeds the disk's
//! available space, nor the capacity minus what blocks use; a file system
//! is named only when the machine can be told apart from others
//! ([`host_id`]).
use crate::store::BlockStore;
use dfs_common::proto::datanode::{
    DiskReport, DiskState, FilesystemId, FilesystemReport, StorageReport,
};
use std::path::Path;
use std::sync::OnceLock;

/// This node's space: capacity (the `--capacity` cap or the size of the
/// disks in service), bytes used by blocks, and what is still available
/// (bounded by the disks' available space); and the file system under the
/// blocks, when it can be told apart from others (see [`filesystem_of`])
/// and all the disks in service are on that one.
///
/// Several data dirs on one file system count it once.
pub async fn storage_report(store: &BlockStore) -> (StorageReport, Option<FilesystemReport>) {
    let used = store.used();
    let dirs = store.blocks_dirs();
    let disks = tokio::task::spawn_blocking(move || {
        let mut failed = false;
        let found = dirs
            .iter()
            .filter_map(|d| match filesystem_of(d, host_id()) {
                Ok(fs) => Some(fs),
                Err(e) => {
                    log::warn!("cannot read disk space of {}: {e}", d.display());
                    failed = true;
                    None
                }
            })
            .collect::<Vec<_>>();
        (found, failed)
    })
    .await;
    let disks = disks.map(|(found, failed)| {
        if failed {
            // A disk failing: have it checked now rather than at the next
            // round, so that it is out of service before the next report.
            let store = store.clone();
            tokio::spawn(async move { store.check_volumes().await });
        }
        found
    });
    let mut filesystems = match disks {
        Ok(fs) => fs,
        Err(e) => {
            log::warn!("cannot read disk space: {e}");
            Vec::new()
        }
    };
    filesystems.sort_by(|a, b| a.id.cmp(&b.id));
    filesystems.dedup_by(|a, b| a.id == b.id);
    let disk_total = filesystems.iter().map(|f| f.total).sum::<u64>();
    let disk_available = filesystems.iter().map(|f| f.available).sum::<u64>();
    let fs = match filesystems.len() {
        1 => filesystems.pop(),
        _ => None,
    };
    let capacity = store.capacity().unwrap_or(disk_total);
    let storage = StorageReport {
        capacity,
        used,
        available: capacity.saturating_sub(used).min(disk_available),
    };
    // Without a host identity two machines could not be told apart: say
    // nothing, and the namenode counts this disk as one of its own.
    (storage, fs.filter(|f| !f.id.host.is_empty()))
}

/// Each data dir of the node, as heartbeats and `dfs report` show it.
pub fn disk_reports(store: &BlockStore) -> Vec<DiskReport> {
    store
        .volumes()
        .into_iter()
        .map(|v| DiskReport {
            dir: v.dir.display().to_string(),
            state: if v.failed.is_some() {
                DiskState::Failed
            } else {
                DiskState::InService
            },
            error: v.failed.unwrap_or_default(),
            capacity: v.total,
            used: v.used,
            available: v.available,
            blocks: v.blocks as u64,
        })
        .collect()
}

/// The file system holding `dir`, as `df` sees it, on the machine `host`
/// (empty: unknown).
pub fn filesystem_of(dir: &Path, host: &str) -> std::io::Result<FilesystemReport> {
    let stats = fs4::statvfs(dir)?;
    Ok(FilesystemReport {
        id: FilesystemId {
            host: host.to_string(),
            device: device_of(dir)?,
        },
        total: stats.total_space(),
        free: stats.free_space(),
        available: stats.available_space(),
    })
}

#[cfg(unix)]
fn device_of(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(dir)?.dev())
}

#[cfg(not(unix))]
fn device_of(_dir: &Path) -> std::io::Result<u64> {
    Ok(0)
}

/// Which machine this is, for telling file systems apart: Linux's boot id,
/// the same for every process and container on one running kernel (so
/// datanodes in containers that share a volume see the same), and new at
/// each boot (when every datanode here restarts anyway). Empty where there
/// is none (other systems): this node's file system is then not named.
pub fn host_id() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_systems_are_told_apart() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir_in(a.path()).unwrap();
        let fa = filesystem_of(a.path(), "h").unwrap();
        assert_eq!(fa.id, filesystem_of(b.path(), "h").unwrap().id, "one disk");
        assert_ne!(fa.id, filesystem_of(a.path(), "other").unwrap().id);
        // /proc is a file system of its own wherever it exists.
        if let Ok(p) = filesystem_of(Path::new("/proc"), "h") {
            assert_ne!(p.id, fa.id);
        }
    }
}
