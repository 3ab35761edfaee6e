//! What Hadoop's write protocol needs a datanode to remember between
//! connections (HDFS's "replicas being written"):
//! - a replica whose pipeline broke before its last packet, sealed but not
//!   durable nor visible, for the client's pipeline recovery to go on from
//!   (for [`BROKEN_TTL`], then its temp file is removed);
//! - the file digest chains ([`Chain`]) computed as blocks were written,
//!   for the namenode's door to ask for (the most recent [`MAX_CHAINS`]).
//!
//! A leaf: it holds, and knows only the store's types.
use crate::store::SealedBlock;
use dfs_common::checksum::Sha256State;
use dfs_common::hadoop::Chain;
use dfs_common::ids::BlockId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a broken write waits for its client's recovery.
pub const BROKEN_TTL: Duration = Duration::from_secs(600);

/// Chains remembered (a few hundred bytes each).
pub const MAX_CHAINS: usize = 4096;

/// Chains by block (each with the midstate it started from), and the
/// order they came in (the oldest is forgotten first).
type Chains = (HashMap<BlockId, (Sha256State, Chain)>, VecDeque<BlockId>);

#[derive(Default)]
pub struct Registry {
    broken: Mutex<HashMap<BlockId, (SealedBlock, Instant)>>,
    chains: Mutex<Chains>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    /// Keeps a replica whose pipeline broke (replacing an older one of the
    /// same block), and drops those past [`BROKEN_TTL`].
    pub fn keep_broken(&self, id: BlockId, sealed: SealedBlock) {
        let now = Instant::now();
        let mut broken = lock(&self.broken);
        broken.retain(|_, (_, at)| now.duration_since(*at) < BROKEN_TTL);
        broken.insert(id, (sealed, now));
    }

    /// Takes a broken replica back, for its recovery.
    pub fn take_broken(&self, id: BlockId) -> Option<SealedBlock> {
        lock(&self.broken).remove(&id).map(|(s, _)| s)
    }

    /// Remembers the chain of `id` computed from `before`.
    pub fn record_chain(&self, id: BlockId, before: Sha256State, chain: Chain) {
        let mut guard = lock(&self.chains);
        let (map, order) = &mut *guard;
        if map.insert(id, (before, chain)).is_none() {
            order.push_back(id);
        }
        while order.len() > MAX_CHAINS {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    /// The chain of `id` from `before`, if it was computed here.
    pub fn chain(&self, id: BlockId, before: &Sha256State) -> Option<Chain> {
        let guard = lock(&self.chains);
        guard
            .0
            .get(&id)
            .filter(|(b, _)| b == before)
            .map(|(_, c)| c.clone())
    }
}
