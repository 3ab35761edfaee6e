//! The benchmarks' library: `bench`, `membench` and `repairbench`
//! (`tests/src/bin/`) are thin mains over these modules, one measurement
//! or concern each.
//!
//! - [`suite`]: the `bench` run: the ceilings, then each part on a fresh
//!   cluster, then the table and the JSON file.
//! - [`ceilings`]: the machine's own limits, measured first.
//! - [`transfers`]: a large file up and down four ways, with peak RSS.
//! - [`small_files`]: 4 KiB files per second.
//! - [`s3`]: the S3 door beside the native paths (big PUT/GET, 4 KiB PUTs).
//! - [`peer`]: the same work on Garage beside dfs (`--peer garage`).
//! - [`tls`]: `dfs put` and `dfs get` with TLS on and off, same run.
//! - [`hadoop`]: `hadoop fs -put`/`-get` beside `dfs put`/`get`, same run.
//! - [`metadata`]: mkdir, stat, rename, list per second.
//! - [`namespace`]: the namenode with a million files (memory, restart);
//!   [`backup`]: `dfs backup` of it, alone and under load.
//! - [`scale`]: the namenode with a bulk-loaded namespace of millions of
//!   single-block files (memory per file, restart, endpoint latency under
//!   writes).
//! - [`repair`]: re-replication after a datanode is killed (`bench` and
//!   `repairbench`).
//! - [`balance`]: the balancer's throughput once empty datanodes join.
//! - [`memory`]: `membench`, peak RSS of every process against a limit.
//! - [`parallel`]: the load generator (n operations over k clients).
//! - [`process`]: wall time and peak RSS of a process.
//! - [`report`]: rows, the table, the JSON file; [`context`]: the machine
//!   and git state a run measured.
//!
//! Parts take what they need as arguments and add figures to a
//! [`report::Report`]; none calls another part except [`namespace`], which
//! ends with [`backup`] at its file count. Waiting goes through
//! [`crate::wait::wait_until`], as in the tests.
pub mod backup;
pub mod balance;
pub mod ceilings;
pub mod context;
pub mod failover;
pub mod hadoop;
pub mod memory;
pub mod metadata;
pub mod namespace;
pub mod parallel;
pub mod peer;
pub mod process;
pub mod repair;
pub mod report;
pub mod s3;
pub mod scale;
pub mod small_files;
pub mod suite;
pub mod tls;
pub mod transfers;

use anyhow::Result;
use dfs_common::units::ByteSize;
use std::time::Duration;

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
/// Rates are in MB/s (10^6 bytes), as disks and networks are quoted.
pub const MB: f64 = 1e6;

/// How much each part of a `bench` run moves.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub transfer: u64,
    pub loopback: u64,
    pub disk: u64,
    pub sha: u64,
    pub small_files: usize,
    pub meta_ops: usize,
    pub meta_ops_single: usize,
    pub namespace_files: usize,
    /// Namespace sizes of the `scale` part, one fresh cluster each.
    pub scale_files: Vec<usize>,
    /// How long the `scale` part probes under writes (a quarter of it idle
    /// first).
    pub scale_load: Duration,
    pub repair: u64,
    pub repair_block: u64,
    /// Namenodes of the cluster the small-file and metadata parts run on
    /// (`--namenodes N`; clients talk to the leader).
    pub namenodes: usize,
}

impl Sizes {
    pub fn full() -> Self {
        Sizes {
            transfer: GIB,
            loopback: 2 * GIB,
            disk: GIB,
            sha: 256 * MIB,
            small_files: 2000,
            meta_ops: 10_000,
            meta_ops_single: 2000,
            namespace_files: 1_000_000,
            scale_files: vec![1_000_000],
            scale_load: Duration::from_secs(20),
            repair: 3 * GIB,
            repair_block: 64 * MIB,
            namenodes: 1,
        }
    }

    pub fn quick() -> Self {
        Sizes {
            transfer: 64 * MIB,
            loopback: 256 * MIB,
            disk: 256 * MIB,
            sha: 64 * MIB,
            small_files: 200,
            meta_ops: 1000,
            meta_ops_single: 200,
            namespace_files: 10_000,
            scale_files: vec![20_000],
            scale_load: Duration::from_secs(3),
            repair: 256 * MIB,
            repair_block: 16 * MIB,
            namenodes: 1,
        }
    }
}

/// The command line of a bench binary: `--flag` and `--name VALUE`.
pub struct Args(Vec<String>);

impl Args {
    pub fn from_env() -> Self {
        Args(std::env::args().collect())
    }

    /// The value after `name`, if `name` is given.
    pub fn value(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
    }

    pub fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }

    /// A size such as `256MiB` after `name`, else `default` bytes.
    pub fn byte_size(&self, name: &str, default: u64) -> Result<u64> {
        Ok(self
            .value(name)
            .map_or(Ok(ByteSize(default)), |s| s.parse::<ByteSize>())?
            .0)
    }

    /// The whole command line, as run.
    pub fn command_line(&self) -> String {
        self.0.join(" ")
    }
}
