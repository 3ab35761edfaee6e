//! Memory benchmark: moves one large file (default 1 GiB) through a real
//! local cluster four ways — `dfs put`, `dfs get`, seed `/upload_file` and
//! seed `/download_file` (with curl) — checks every copy bit-exact, and prints
//! the peak resident memory of every process involved. Exits 1 if any dfs
//! process peaked above the limit (default 300 MiB).
//!
//! `cargo run -p dfs-tests --bin membench [-- --size 1GiB --limit-mib 300]`
//! (uses the binaries in target/debug unless DFS_BIN_DIR says otherwise).
//! The measurement is `dfs_tests::bench::memory`.
use dfs_common::units::human_bytes;
use dfs_tests::bench::{memory, Args, GIB, MIB};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::from_env();
    let size = args.byte_size("--size", GIB)?;
    let limit: u64 = args.value("--limit-mib").map_or(Ok(300), |s| s.parse())? * MIB;
    let run = memory::measure(size).await?;
    run.print(limit);
    let over = run.over(limit);
    if !over.is_empty() {
        eprintln!(
            "membench: over the {} limit: {}",
            human_bytes(limit),
            over.join(", ")
        );
        std::process::exit(1);
    }
    println!(
        "membench: every dfs process stayed under {}",
        human_bytes(limit)
    );
    Ok(())
}
