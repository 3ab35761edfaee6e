//! Re-replication benchmark: how fast a lost datanode's data is copied again.
//!
//! Starts 4 datanodes (replication 3), writes `--size` of data (default 1 GiB
//! in 64 MiB blocks), SIGKILLs the datanode holding the most replicas, and
//! measures (a) how long until the namenode declares it dead and (b) how long
//! from then until every block is back at full replication, printing the
//! repair rate in MB/s. `--streams N` sets the namenode's copies in flight
//! per datanode (default 4).
//!
//! `cargo run --release -p dfs-tests --bin repairbench -- --size 1GiB`
//! with `DFS_BIN_DIR=target/release` to measure release binaries.
//! The measurement is `dfs_tests::bench::repair`, which `bench` runs too.
use dfs_common::units::human_bytes;
use dfs_tests::bench::repair::{self, RepairSetup, DEAD_NODE_TIMEOUT};
use dfs_tests::bench::{Args, GIB, MB, MIB};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::from_env();
    let size = args.byte_size("--size", GIB)?;
    let block = args.byte_size("--block-size", 64 * MIB)?;
    let streams: u32 = args.value("--streams").map_or(Ok(4), |s| s.parse())?;
    let r = repair::measure(&RepairSetup {
        size,
        block,
        streams: Some(streams),
    })
    .await?;
    println!(
        "repairbench: {} written in {} files ({} blocks), 4 datanodes, replication 3, {streams} streams per node",
        human_bytes(size),
        r.files,
        human_bytes(block)
    );
    println!(
        "  initial write          {:>8.1} s  {:>8.1} MB/s (client, 3 replicas)",
        r.write_secs,
        size as f64 / MB / r.write_secs.max(1e-9)
    );
    println!("  lost with the node     {:>10}", human_bytes(r.lost));
    println!(
        "  dead after             {:>8.1} s  (dead-node timeout {DEAD_NODE_TIMEOUT})",
        r.dead_after_secs
    );
    println!(
        "  re-replicated          {:>10} in {:.1} s",
        human_bytes(r.copied),
        r.repair_secs
    );
    println!("  repair rate            {:>8.1} MB/s", r.rate_mbps());
    Ok(())
}
