//! What the seeded fault tests (`tests/chaos.rs`, `tests/chaos_ha.rs`)
//! share: a small reproducible random source, their bounds from the
//! environment, and the namespace as a list of files.
use crate::cluster::ClusterOptions;
use crate::data::p;
use dfs_client::DfsClient;
use dfs_common::proto::client::FileType;
use std::collections::BTreeMap;

/// xorshift64, seeded through splitmix64 so that every seed (0 too) gives
/// its own non-zero state.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn draw(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// In `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.draw() % n.max(1)
    }
}

/// A number from the environment variable `name`, else `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every file under `/` with its length.
pub async fn listing(c: &DfsClient) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![p("/")];
    while let Some(dir) = stack.pop() {
        for e in c.list(&dir).await.unwrap() {
            match e.file_type {
                FileType::Directory => stack.push(e.path.clone()),
                FileType::File => {
                    out.insert(e.path.to_string(), e.length);
                }
            }
        }
    }
    out
}

/// A fault test's cluster: `namenodes` and `datanodes`, nodes dead after
/// 2 s of silence, strays deleted after 2 s, copies given up after 10 s.
pub fn options(namenodes: usize, datanodes: usize) -> ClusterOptions {
    ClusterOptions {
        namenodes,
        datanodes,
        dead_node_timeout: "2s",
        namenode_args: vec![
            "--orphan-grace".into(),
            "2s".into(),
            "--replication-pending-timeout".into(),
            "10s".into(),
        ],
        ..Default::default()
    }
}
