//! The benchmark: dfs measured against this machine's own limits, in one run.
//!
//! First it measures the ceilings (loopback TCP, sequential disk write with
//! fsync, SHA-256 on one core, 4 KiB write+fsync and loopback round trips per
//! second), then it starts a local cluster (namenode + 3 datanodes,
//! replication 3, 64 MiB blocks, data in a temp dir on the local disk) and
//! reports every figure as MB/s or ops/s and as a ratio to the ceiling that
//! bounds it:
//! - 1 GiB upload/download through `dfs put` / `dfs get` (block protocol) and
//!   through the seed endpoints `/upload_file` / `/download_file` (curl),
//!   each copy checked bit-exact, with the peak RSS of every process; each
//!   download both into a local file and to /dev/null (the data path alone);
//! - 4 KiB files created and read back per second, 1 and 16 clients;
//! - mkdir, stat, rename per second (16 clients, and 1), listing a
//!   10,000-entry directory;
//! - the namenode with 1,000,000 files: resident memory, restart time;
//! - the namenode with 1 M and 10 M bulk-loaded single-block files: memory
//!   per file, restart time, latency of `/health`, `/metrics` and
//!   `/api/v1/summary` while 16 clients write;
//! - re-replication throughput after a datanode holding GiBs is killed
//!   (a second cluster with 4 datanodes).
//!
//! It prints a table and writes it as JSON (`--json FILE`, default
//! `target/bench/bench-<UTC time>.json`). No timed assertions: it exits
//! non-zero only when a measurement fails (wrong bytes, an error).
//!
//! ```sh
//! cargo build --release --workspace --bins
//! cargo run --release -p dfs-tests --bin bench            # full (~5 min on 2 cores)
//! cargo run -p dfs-tests --bin bench -- --quick           # small sizes (CI)
//! ```
//! A release build of `bench` uses `target/release` binaries, a debug build
//! `target/debug`, unless `DFS_BIN_DIR` says otherwise.
//!
//! Flags: `--quick`, `--json FILE`, `--only SECTIONS` (comma list of
//! `transfers,small,meta,namespace,scale,repair`; the ceilings always run),
//! `--size SIZE` (big transfers), `--small-files N`, `--namespace-files N`,
//! `--scale-files N[,N...]` (default 1000000, 10000000 on request; 20000 with
//! `--quick`), `--repair-size SIZE`.
//!
//! `bench --bulk-load DATA_DIR --files N` only writes N files into the (stopped)
//! namenode store under DATA_DIR, as the `scale` part does, and exits: a
//! large namespace to profile a namenode's restart on by hand.
//!
//! The measurements live in the library, `dfs_tests::bench` (one module a
//! part); this main only starts the runtime.
use anyhow::Context;
use dfs_tests::bench::scale::loader::STATS;
use dfs_tests::bench::{suite, Args};

const USAGE: &str = "\
bench: dfs measured against this machine's own limits (see docs/BENCHMARKS.md)

  bench [--quick] [--json FILE] [--only SECTIONS] [--size SIZE]
        [--small-files N] [--namespace-files N] [--scale-files N[,N...]]
        [--repair-size SIZE]
  bench --bulk-load DATA_DIR --files N

  --only     comma list of transfers,small,meta,namespace,scale,repair
             (the machine's ceilings always run)
  --quick    small sizes (CI)
  --bulk-load  only write N files into the stopped namenode store in DATA_DIR
";

fn main() -> anyhow::Result<()> {
    suite::use_own_profile_binaries();
    let args = Args::from_env();
    if args.flag("--help") || args.flag("-h") {
        print!("{USAGE}");
        return Ok(());
    }
    if let Some(dir) = args.value("--bulk-load") {
        let n: usize = args
            .value("--files")
            .context("usage: bench --bulk-load DATA_DIR --files N")?
            .parse()
            .context("--files: a number of files")?;
        let stats = dfs_tests::bench::scale::loader::bulk_load(std::path::Path::new(&dir), n)?;
        println!(
            "{} files in {} directories ({} records) in {:.1} s; {} bytes on disk",
            stats.files, stats.dirs, stats.records, stats.secs, stats.disk_bytes
        );
        // For the `scale` part, which runs the load in a process of its own.
        println!("{}{}", STATS, serde_json::to_string(&stats)?);
        return Ok(());
    }
    let ok = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(suite::run(&args))?;
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
