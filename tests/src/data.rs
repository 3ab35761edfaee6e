//! Test data and what tests do with it: deterministic bytes, digests, many
//! files uploaded and read back, and a flipped byte on disk (bit rot).
use dfs_client::DfsClient;
use dfs_common::path::DfsPath;
use std::collections::BTreeMap;
use std::path::Path;

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn test_data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    dfs_common::checksum::Sha256Digest::of(data).to_hex()
}

pub fn p(s: &str) -> DfsPath {
    DfsPath::parse(s).expect("valid test path")
}

/// Uploads `n` files `<prefix>/fNN` of 1 byte to 4 MiB (several blocks at
/// the test clusters' 1 MiB) with data from `seed`; returns path -> bytes.
pub async fn upload_many(
    c: &DfsClient,
    prefix: &str,
    n: usize,
    seed: u64,
) -> BTreeMap<String, Vec<u8>> {
    const MB: usize = 1 << 20;
    let mut files = BTreeMap::new();
    for i in 0..n {
        let size = (i % 4) * MB + (i * 7919) % MB + 1;
        let data = test_data(size, seed + i as u64);
        let path = format!("{prefix}/f{i:02}");
        upload_one(c, &path, &data).await;
        files.insert(path, data);
    }
    files
}

/// Uploads `data` to `path` with the default options; panics naming the
/// path if it fails.
pub async fn upload_one(c: &DfsClient, path: &str, data: &[u8]) {
    c.upload(
        &p(path),
        data,
        &dfs_client::UploadOptions::default(),
        &dfs_client::NoProgress,
    )
    .await
    .unwrap_or_else(|e| panic!("upload {path}: {e}"));
}

/// Reads every file back and asserts its bytes.
pub async fn verify_all(c: &DfsClient, files: &BTreeMap<String, Vec<u8>>) {
    for (path, data) in files {
        let mut back = Vec::new();
        c.download(&p(path), &mut back, &dfs_client::NoProgress)
            .await
            .unwrap_or_else(|e| panic!("read {path}: {e}"));
        assert!(&back == data, "{path} differs");
    }
}

/// Flips one byte of a file in place (bit rot on a replica), durably.
///
/// The mask is arbitrary: any nonzero one changes the byte, and every
/// reader of a block file checks both the chunk's CRC32C (which catches any
/// error within 32 bits, so every one-byte change) and the block's SHA-256.
/// (healing.rs once flipped with 0xff and corruption.rs with 0x5a; no test
/// depends on which bits change.) `.blk` files hold the raw bytes from
/// offset 0, then the replica's checksums in a trailer: every offset below
/// the block's length is data.
pub fn flip_byte(path: &Path, at: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open for flipping");
    f.seek(SeekFrom::Start(at)).expect("seek");
    let mut b = [0u8; 1];
    f.read_exact(&mut b).expect("read the byte");
    f.seek(SeekFrom::Start(at)).expect("seek");
    f.write_all(&[b[0] ^ 0x5a]).expect("write the byte");
    f.sync_all().expect("sync");
}
