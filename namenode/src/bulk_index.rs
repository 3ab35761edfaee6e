//! Building a large `hashbrown` index of slot numbers in one go (a load's
//! ten million inodes or blocks).
//!
//! Inserted one by one in slot order, each slot lands on a random cache
//! line and page of a table of tens of megabytes: some 300 ns an insert,
//! four seconds of a 10 M-file start per table. Inserted in the order of
//! the buckets their hashes fall in, each insert touches the memory the
//! one before it did. This relies on `hashbrown` probing from bucket
//! `hash & (buckets - 1)`, as it does; were that to change, the build would
//! only be slower, never wrong.
use hashbrown::HashTable;

/// Adds `slots` (each with its hash) to the empty `index`, sized for them
/// first. `rehash` gives a slot's hash (for growing, which the sizing
/// makes unneeded).
pub fn fill(index: &mut HashTable<u32>, mut slots: Vec<(u64, u32)>, rehash: impl Fn(&u32) -> u64) {
    index.reserve(slots.len(), &rehash);
    // `capacity` is 7/8 of the buckets (a power of two) from 8 buckets on.
    let buckets = (index.capacity() / 7 * 8).max(1).next_power_of_two() as u64;
    let mask = buckets - 1;
    slots.sort_unstable_by_key(|&(hash, _)| hash & mask);
    for (hash, slot) in slots {
        index.insert_unique(hash, slot, &rehash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the count and the hashes (colliding ones too), every slot
    /// is found under its hash, once.
    #[test]
    fn every_slot_is_found() {
        for n in [0u32, 1, 7, 8, 100, 5000] {
            let hash = |s: &u32| u64::from(*s / 3).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let mut index = HashTable::new();
            fill(&mut index, (0..n).map(|s| (hash(&s), s)).collect(), hash);
            assert_eq!(index.len(), n as usize);
            for s in 0..n {
                assert_eq!(
                    index.find(hash(&s), |x| *x == s),
                    Some(&s),
                    "n {n}, slot {s}"
                );
            }
        }
    }
}
