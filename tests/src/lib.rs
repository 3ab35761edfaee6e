//! `dfs-tests`: the end-to-end harness, and the benchmark library behind the
//! `bench`, `membench` and `repairbench` binaries.
//!
//! - [`cluster`]: [`TestCluster`] starts the real `namenode` and `datanode`
//!   binaries on 127.0.0.1 with free ports in a temp dir, kills and restarts
//!   them, and keeps their logs when a test fails.
//! - [`wait`]: [`wait_until`], polling observable state (never a fixed sleep),
//!   and [`holds_for`], a check that must stay true for a while.
//! - [`data`]: deterministic test bytes, digests, uploading and verifying many
//!   files, flipping a byte on disk.
//! - [`http`]: HTTP clients and helpers for tests that speak HTTP themselves.
//! - [`chaos`]: what the seeded fault tests share (random source, bounds,
//!   listing).
//! - [`bench`]: the benchmarks behind `bench`, `membench` and `repairbench`
//!   (`src/bin/`), one module a measurement.
//!
//! Binaries are found in `$DFS_BIN_DIR`, else `$CARGO_TARGET_DIR/debug`, else
//! `<workspace>/target/debug`. Build them first:
//! `cargo build --workspace --bins` (the README's test command does).
pub mod bench;
pub mod chaos;
pub mod cluster;
pub mod data;
pub mod http;
pub mod wait;

pub use cluster::{bin, bin_dir, free_port, ClusterOptions, TestCluster};
pub use data::{flip_byte, p, sha256_hex, test_data, upload_many, upload_one, verify_all};
pub use http::{get_json, http_no_redirect, metrics_text};
pub use wait::{holds_for, poll_until, wait_until};
