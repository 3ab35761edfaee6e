//! The bulk loader: writes a namespace of N single-block files straight
//! into a stopped namenode's metadata store, as the namenode's own records
//! (10 M creates through the API would take hours).
//!
//! What it writes is what a namenode writes for the same tree: an inode
//! record per directory (`/scale`, then `/scale/dNNNNN`, 1,000 files each)
//! and per file (`fNNNNNN`, one block, replication 3, 64 MiB block size), a
//! block record per file owned by it with three replicas (no digest
//! midstate: a file without a full block has none),
//! `m/next_inode`, and
//! a `d/` record for each of the three datanodes the replicas name. Those
//! three are fake: no process answers for them, so after a restart the
//! namenode holds them as *awaiting registration* (their replicas count
//! until the dead-node timeout). Ids come from the same constructors the
//! namenode uses (`BlockId::new`, consecutive inode ids); digests are made
//! up (cheap, distinct).
//!
//! What it does not do: start or stop anything. The store must be closed
//! (no namenode running on it); the existing records (the root, the
//! cluster id) stay, and the tree goes under `/scale`, which must not exist.
use anyhow::{ensure, Context, Result};
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::proto::client::AdminState;
use namenode::meta_store::{Commit, MetaStore, Txn};
use namenode::namespace::inode::{FIRST_FREE_ID, ROOT_ID};
use namenode::records::{
    BlockMeta, BlockOwner, FileMeta, InodeRecord, NodeRecord, DEFAULT_GROUP, DEFAULT_OWNER,
    FILE_PERMISSION,
};
use std::path::Path;
use std::time::Instant;

/// Files a directory holds.
pub const PER_DIR: usize = 1000;
/// Each file's length (one short block).
pub const FILE_LEN: u64 = 4096;
const BLOCK_SIZE: u64 = 64 << 20;
const REPLICATION: u16 = 3;
/// Records a transaction (one frame of the log, one sync).
const BATCH_RECORDS: usize = 50_000;

/// The prefix of the line `bench --bulk-load` prints its [`LoadStats`] on
/// (as JSON).
pub const STATS: &str = "load stats: ";

/// [`bulk_load`] in a child process (`bench --bulk-load`, this same
/// binary): sled and the allocator keep much of what a load of millions of
/// records touched, gigabytes the namenode started next would then lack.
/// Blocking.
pub fn bulk_load_in_child(data_dir: &Path, n: usize) -> Result<LoadStats> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(&exe)
        .arg("--bulk-load")
        .arg(data_dir)
        .arg("--files")
        .arg(n.to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {} --bulk-load", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "{} --bulk-load failed ({}): {}{}",
        exe.display(),
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(STATS))
        .with_context(|| format!("no stats from --bulk-load: {stdout}"))?;
    Ok(serde_json::from_str(line)?)
}

/// What a bulk load wrote.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoadStats {
    pub files: usize,
    pub dirs: usize,
    pub records: usize,
    pub secs: f64,
    /// The store's size on disk afterwards.
    pub disk_bytes: u64,
}

/// `/scale/d{dir:05}/f{file:06}`: the path of file `i`.
pub fn file_path(i: usize) -> String {
    format!("/scale/d{:05}/f{:06}", i / PER_DIR, i % PER_DIR)
}

/// A made-up digest for file `i` (splitmix64 of its index, four times).
fn fake_digest(i: usize) -> Sha256Digest {
    let mut out = [0u8; 32];
    let mut x = i as u64;
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
    }
    Sha256Digest(out)
}

/// Writes `n` files under `/scale` into the store in `data_dir`. Blocking
/// (sled and the store's committer thread): run it off the async runtime.
pub fn bulk_load(data_dir: &Path, n: usize) -> Result<LoadStats> {
    let t = Instant::now();
    let store = MetaStore::open(data_dir)?;
    let loaded = store.load()?;
    ensure!(
        !loaded
            .inodes
            .iter()
            .any(|(_, r)| r.parent == ROOT_ID && r.name == "scale"),
        "{} already holds /scale",
        data_dir.display()
    );
    let mut next = loaded
        .inodes
        .iter()
        .map(|(id, _)| id + 1)
        .chain(loaded.next_inode)
        .max()
        .unwrap_or(FIRST_FREE_ID)
        .max(FIRST_FREE_ID);
    drop(loaded);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;

    let mut txn = Txn::new();
    let mut records = 0usize;
    // One transaction in flight while the next is built.
    let mut in_flight: Option<Commit> = None;
    let mut flush =
        |store: &MetaStore, txn: &mut Txn, in_flight: &mut Option<Commit>| -> Result<()> {
            records += txn.len();
            let commit = store.submit(std::mem::take(txn))?;
            if let Some(previous) = in_flight.replace(commit) {
                previous.wait_blocking()?;
            }
            Ok(())
        };

    let nodes: Vec<NodeId> = (0..REPLICATION).map(|_| NodeId::new()).collect();
    for (k, id) in nodes.iter().enumerate() {
        // Ports 1..=3: nothing listens there, and the namenode never calls
        // a datanode.
        let rec = NodeRecord {
            addr: format!("http://127.0.0.1:{}", k + 1),
            admin: AdminState::Normal,
        };
        txn.put_datanode(*id, &rec);
    }
    let top = next;
    next += 1;
    txn.put_inode(top, &InodeRecord::new_dir(ROOT_ID, "scale", now_ms));
    let dirs = n.div_ceil(PER_DIR);
    let mut dir_id = 0;
    for i in 0..n {
        if i % PER_DIR == 0 {
            dir_id = next;
            next += 1;
            let name = format!("d{:05}", i / PER_DIR);
            txn.put_inode(dir_id, &InodeRecord::new_dir(top, &name, now_ms));
        }
        let ino = next;
        next += 1;
        let block = BlockId::new();
        let sha256 = fake_digest(i);
        let rec = InodeRecord {
            parent: dir_id,
            name: format!("f{:06}", i % PER_DIR),
            mtime: now_ms,
            atime: now_ms,
            owner: DEFAULT_OWNER.to_string(),
            group: DEFAULT_GROUP.to_string(),
            permission: FILE_PERMISSION,
            file: Some(FileMeta {
                length: FILE_LEN,
                replication: REPLICATION,
                block_size: BLOCK_SIZE,
                blocks: vec![block],
                sha256,
            }),
        };
        txn.put_inode(ino, &rec);
        txn.put_block(
            block,
            &BlockMeta {
                owner: BlockOwner::File(ino),
                len: FILE_LEN,
                sha256: Some(sha256),
                replicas: nodes.clone(),
                targets: Vec::new(),
            },
        );
        if txn.len() >= BATCH_RECORDS {
            flush(&store, &mut txn, &mut in_flight)?;
        }
    }
    txn.put_next_inode(next);
    flush(&store, &mut txn, &mut in_flight)?;
    if let Some(last) = in_flight.take() {
        last.wait_blocking()?;
    }
    let disk_bytes = store.size_on_disk();
    drop(store);
    Ok(LoadStats {
        files: n,
        dirs: dirs + 1,
        records,
        secs: t.elapsed().as_secs_f64(),
        disk_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_digests() {
        assert_eq!(file_path(0), "/scale/d00000/f000000");
        assert_eq!(file_path(12_345), "/scale/d00012/f000345");
        assert_ne!(fake_digest(1), fake_digest(2));
    }
}
