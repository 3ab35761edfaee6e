//! Cluster space: each file system counted once, however many datanodes
//! share it (the rules are in `ClusterSummary`'s doc). Pure.
use super::*;

/// Cluster-wide datanode totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatanodeTotals {
    pub live: u32,
    /// Not live: silent past the timeout, or awaiting registration.
    pub dead: u32,
    /// Of `dead`: known from before this start and still in their grace.
    pub awaiting_registration: u32,
    pub decommissioning: u32,
    pub decommissioned: u32,
    /// Nodes in maintenance (live or not).
    pub in_maintenance: u32,
    /// Data dirs out of service on the live nodes (a dead node's are not
    /// counted: its last report may be stale).
    pub failed_disks: u64,
    /// The live nodes' space, each file system once.
    pub space: Space,
}

/// Space on a set of datanodes with each file system counted once (bytes;
/// the rules are `ClusterSummary`'s). `used + available + reserved +
/// non_dfs_used = capacity` unless blocks exceed a capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Space {
    pub capacity: u64,
    pub used: u64,
    pub available: u64,
    /// Capacity the file systems keep back from ordinary writers.
    pub reserved: u64,
    /// Capacity taken by other files.
    pub non_dfs_used: u64,
    /// File systems counted (a node that did not say is one of its own).
    pub filesystems: u32,
}

/// The nodes on one file system, summed.
#[derive(Debug, Default)]
struct FsGroup<'a> {
    capacity: u64,
    used: u64,
    available: u64,
    /// The file system as reported (the report that saw the least
    /// available space: reports arrive seconds apart while it fills).
    fs: Option<&'a FilesystemReport>,
}

impl FsGroup<'_> {
    fn add(&mut self, s: &StorageReport) {
        self.capacity = self.capacity.saturating_add(s.capacity);
        self.used = self.used.saturating_add(s.used);
        self.available = self.available.saturating_add(s.available);
    }
}

/// Sums the space of nodes given as (storage report, file system if
/// reported), counting each file system's size and free space once: per
/// file system, capacity is min(the nodes' capacities summed, its size)
/// and available is min(the nodes' available summed, its available bytes).
/// Pure, so the rules are unit-tested.
pub fn cluster_space<'a>(
    nodes: impl IntoIterator<Item = (&'a StorageReport, Option<&'a FilesystemReport>)>,
) -> Space {
    let mut shared: BTreeMap<&FilesystemId, FsGroup> = BTreeMap::new();
    let mut alone: Vec<FsGroup> = Vec::new();
    for (storage, fs) in nodes {
        match fs {
            Some(f) => {
                let g = shared.entry(&f.id).or_default();
                if g.fs.is_none_or(|seen| f.available < seen.available) {
                    g.fs = Some(f);
                }
                g.add(storage);
            }
            None => {
                let mut g = FsGroup::default();
                g.add(storage);
                alone.push(g);
            }
        }
    }
    let mut out = Space::default();
    for g in shared.into_values().chain(alone) {
        let (capacity, available, reserve) = match g.fs {
            Some(f) => (
                g.capacity.min(f.total),
                g.available.min(f.available),
                f.free.saturating_sub(f.available),
            ),
            None => (g.capacity, g.available, 0),
        };
        let rest = capacity.saturating_sub(g.used).saturating_sub(available);
        let reserved = rest.min(reserve);
        out.capacity = out.capacity.saturating_add(capacity);
        out.used = out.used.saturating_add(g.used);
        out.available = out.available.saturating_add(available);
        out.reserved = out.reserved.saturating_add(reserved);
        out.non_dfs_used = out.non_dfs_used.saturating_add(rest - reserved);
        out.filesystems += 1;
    }
    out
}
