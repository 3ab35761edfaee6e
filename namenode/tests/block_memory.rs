//! Heap cost of the block map per block (three replicas each), counted by
//! a global allocator that tracks live bytes: fails if the compact form
//! (`namenode/src/blocks/table.rs`) regresses. Deterministic: no timing.
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, NodeId};
use namenode::blocks::{BlockMap, BlockMeta, BlockOwner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

struct Counting;
static LIVE: AtomicI64 = AtomicI64::new(0);
/// glibc's view: each chunk is the request + 8, rounded to 16, at least 32.
static CHUNKS: AtomicI64 = AtomicI64::new(0);

fn chunk(size: usize) -> i64 {
    ((size + 8).div_ceil(16) * 16).max(32) as i64
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        CHUNKS.fetch_add(chunk(l.size()), Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        CHUNKS.fetch_sub(chunk(l.size()), Ordering::Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Blocks in the map. The figure depends on where the hash tables are in
/// their growth cycle: at 200 k (per node too) they are 76 % full; just
/// past a resize (44 %) the index and node sets cost ~1.7× as much.
const N: usize = 200_000;

/// Malloc-chunk bytes per block allowed: a little above the ~100 B the
/// compact form reaches here (it was ~290 B as a `HashMap<BlockId,
/// BlockMeta>` with a `HashSet<BlockId>` per node).
const BOUND: i64 = 110;

#[test]
fn block_map_heap_per_block() {
    // Three nodes holding every block, as in `tests/memory.rs`.
    let nodes: Vec<NodeId> = (0..3).map(|_| NodeId::new()).collect();
    let live0 = LIVE.load(Ordering::Relaxed);
    let chunks0 = CHUNKS.load(Ordering::Relaxed);
    let records: Vec<(BlockId, BlockMeta)> = (0..N)
        .map(|i| {
            let mut sha = [0u8; 32];
            sha[..8].copy_from_slice(&(i as u64).to_be_bytes());
            (
                BlockId::new(),
                BlockMeta {
                    owner: BlockOwner::File(i as u64 + 2),
                    len: 4096,
                    sha256: Some(Sha256Digest(sha)),
                    replicas: nodes.clone(),
                    targets: Vec::new(),
                },
            )
        })
        .collect();
    let map = BlockMap::from_records(records);
    // `records` was consumed and freed: what is left is the map.
    let live = LIVE.load(Ordering::Relaxed) - live0;
    let chunks = CHUNKS.load(Ordering::Relaxed) - chunks0;
    assert_eq!(map.len(), N);
    assert_eq!(map.replica_count(&nodes[0]), N as u64);
    let per_block = chunks / N as i64;
    println!(
        "block map: {} B live per block, {per_block} B in malloc chunks (bound {BOUND})",
        live / N as i64
    );
    assert!(
        per_block <= BOUND,
        "the block map costs {per_block} B per block in malloc chunks, more than {BOUND}"
    );
}
