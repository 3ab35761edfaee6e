//! The inodes by id, compact (issue 17: about 300 B per single-block file
//! in all).
//!
//! A `HashMap<InodeId, Box<Inode>>` cost, at 1 M inodes, the boxed inode
//! plus its malloc header, and 17 B per bucket at 2^21 buckets (36 B an
//! inode). Here the inodes live in one dense `Vec`, their ids in a
//! parallel one, and a `hashbrown::HashTable` of 4-byte slot numbers hashed
//! by the id finds them (5 B per bucket): about 25 B an inode less, and a
//! walk over every inode (the image, the summary's recount) reads memory
//! in order. The block map's slab is the same shape (`blocks::table`).
//!
//! A removal moves the last inode into the hole, so slots stay dense; no
//! one outside holds a slot, so nothing else needs re-pointing.
//!
//! Invariants: `ids` and `inodes` have the same length; the index holds
//! each slot once, under `ids[slot]`; no id is in the table twice.
use super::inode::{Inode, InodeId};
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// A place in the table. 32 bits: four billion inodes would take some
/// 600 GB of memory first.
type Slot = u32;

#[derive(Debug, Default)]
pub struct InodeTable {
    ids: Vec<InodeId>,
    inodes: Vec<Inode>,
    index: HashTable<Slot>,
    /// Ids are numbers the namenode hands out, but foldhash's random seed
    /// costs nothing here and keeps a crafted sequence from mattering.
    hasher: RandomState,
}

impl InodeTable {
    /// An empty table with room for `n` inodes (a load sizes it exactly).
    pub fn with_capacity(n: usize) -> Self {
        InodeTable {
            ids: Vec::with_capacity(n),
            inodes: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: RandomState::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn slot(&self, id: InodeId) -> Option<usize> {
        let ids = &self.ids;
        self.index
            .find(self.hasher.hash_one(id), |s| {
                ids.get(*s as usize) == Some(&id)
            })
            .map(|s| *s as usize)
    }

    pub fn get(&self, id: &InodeId) -> Option<&Inode> {
        self.slot(*id).and_then(|s| self.inodes.get(s))
    }

    /// [`InodeTable::get`] along a walk that meets ids in about table
    /// order (a walk of the blocks, whose owners mostly come in the order
    /// they were made): the few slots from `at` on are tried before the
    /// index, and `at` moves to where `id` was.
    pub fn get_near(&self, id: &InodeId, at: &mut usize) -> Option<&Inode> {
        let mut near = self.ids.get(*at..).unwrap_or_default().iter().take(4);
        let slot = match near.position(|i| i == id) {
            Some(k) => *at + k,
            None => self.slot(*id)?,
        };
        *at = slot;
        self.inodes.get(slot)
    }

    pub fn get_mut(&mut self, id: &InodeId) -> Option<&mut Inode> {
        self.slot(*id).and_then(|s| self.inodes.get_mut(s))
    }

    pub fn contains_key(&self, id: &InodeId) -> bool {
        self.slot(*id).is_some()
    }

    /// Adds `inode` under `id`, replacing (and returning) one already there.
    pub fn insert(&mut self, id: InodeId, inode: Inode) -> Option<Inode> {
        if let Some(old) = self.get_mut(&id) {
            return Some(std::mem::replace(old, inode));
        }
        self.push_new(id, inode);
        None
    }

    /// A table of a load's inodes, which come in ascending id order (about
    /// `n` of them). While they do, each goes in with no look for one to
    /// replace, and the index is built once at the end
    /// ([`crate::bulk_index`]); from an id out of order on (records the log
    /// added after a base's), one [`InodeTable::insert`] at a time.
    pub fn from_loaded(n: usize, inodes: impl IntoIterator<Item = (InodeId, Inode)>) -> Self {
        let mut t = InodeTable {
            ids: Vec::with_capacity(n),
            inodes: Vec::with_capacity(n),
            ..Default::default()
        };
        let mut slots = Vec::with_capacity(n);
        let mut inodes = inodes.into_iter();
        let mut rest = None;
        for (id, inode) in inodes.by_ref() {
            if t.ids.last().is_some_and(|last| id <= *last) {
                rest = Some((id, inode));
                break;
            }
            slots.push((t.hasher.hash_one(id), t.ids.len() as Slot));
            t.ids.push(id);
            t.inodes.push(inode);
        }
        let (ids, hasher) = (&t.ids, &t.hasher);
        crate::bulk_index::fill(&mut t.index, slots, |s| hash_at(ids, hasher, *s));
        for (id, inode) in rest.into_iter().chain(inodes) {
            t.insert(id, inode);
        }
        t
    }

    /// Adds `inode` under `id`, which is not in the table.
    fn push_new(&mut self, id: InodeId, inode: Inode) {
        // See `Slot` on why 32 bits do.
        let slot = self.ids.len() as Slot;
        self.ids.push(id);
        self.inodes.push(inode);
        let (ids, hasher) = (&self.ids, &self.hasher);
        self.index
            .insert_unique(hasher.hash_one(id), slot, |s| hash_at(ids, hasher, *s));
    }

    /// Takes the inode `id` out; the last one moves into its slot.
    pub fn remove(&mut self, id: &InodeId) -> Option<Inode> {
        let ids = &self.ids;
        let (slot, _) = self
            .index
            .find_entry(self.hasher.hash_one(*id), |s| {
                ids.get(*s as usize) == Some(id)
            })
            .ok()?
            .remove();
        let (slot, last) = (slot as usize, self.ids.len() - 1);
        self.ids.swap_remove(slot);
        let inode = self.inodes.swap_remove(slot);
        if let Some(moved) = self.ids.get(slot).filter(|_| slot != last) {
            let hash = self.hasher.hash_one(*moved);
            if let Some(s) = self.index.find_mut(hash, |s| *s as usize == last) {
                *s = slot as Slot;
            }
        }
        self.shrink_if_sparse();
        Some(inode)
    }

    /// After a large delete: memory goes back once three quarters of the
    /// room is unused (halving it, so a delete-and-recreate cycle does not
    /// copy the table each time).
    fn shrink_if_sparse(&mut self) {
        let (len, cap) = (self.ids.len(), self.ids.capacity());
        if cap >= 1024 && len < cap / 4 {
            self.ids.shrink_to(len * 2);
            self.inodes.shrink_to(len * 2);
            let (ids, hasher) = (&self.ids, &self.hasher);
            self.index.shrink_to(len * 2, |s| hash_at(ids, hasher, *s));
        }
    }

    /// Every inode with its id, in slot order (no meaning to it).
    pub fn iter(&self) -> impl Iterator<Item = (InodeId, &Inode)> + '_ {
        self.ids.iter().copied().zip(&self.inodes)
    }

    /// [`InodeTable::iter`], the inodes mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (InodeId, &mut Inode)> + '_ {
        self.ids.iter().copied().zip(&mut self.inodes)
    }

    pub fn keys(&self) -> impl Iterator<Item = InodeId> + '_ {
        self.ids.iter().copied()
    }

    pub fn values(&self) -> impl Iterator<Item = &Inode> + '_ {
        self.inodes.iter()
    }

    /// Is every inode indexed under its id, once (tests)?
    #[cfg(test)]
    pub fn index_is_exact(&self) -> bool {
        self.index.len() == self.ids.len()
            && self.ids.len() == self.inodes.len()
            && self
                .ids
                .iter()
                .enumerate()
                .all(|(s, id)| self.slot(*id) == Some(s))
    }
}

/// The hash of the id in `slot` (every slot in the index is valid).
fn hash_at(ids: &[InodeId], hasher: &RandomState, slot: Slot) -> u64 {
    ids.get(slot as usize).map_or(0, |i| hasher.hash_one(*i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::inode::{InodeRecord, Names};
    use std::collections::HashMap;

    fn dir(name: &str, names: &mut Names) -> Inode {
        Inode::from_record(InodeRecord::new_dir(1, name, 0), names)
    }

    /// A load's inodes, in order, then out of order and again: as a map
    /// (the last of an id wins), every inode found by its id.
    #[test]
    fn a_loaded_table_behaves_as_a_map() {
        let mut names = Names::default();
        for ids in [
            vec![],
            vec![4u64],
            vec![1, 2, 5, 9, 3, 9, 10, 4, 11, 11, 7, 12],
        ] {
            let mut model: HashMap<InodeId, String> = HashMap::new();
            let mut loaded = Vec::new();
            for (step, id) in ids.iter().enumerate() {
                model.insert(*id, format!("n{step}"));
                loaded.push((*id, dir(&format!("n{step}"), &mut names)));
            }
            let t = InodeTable::from_loaded(ids.len(), loaded);
            assert!(t.index_is_exact(), "{ids:?}");
            assert_eq!(t.len(), model.len());
            for (id, name) in &model {
                assert_eq!(t.get(id).map(|i| i.name.as_str()), Some(name.as_str()));
            }
        }
    }

    /// A look along a walk finds what a plain look finds, wherever the
    /// walk's place is (past the end too), and moves the place to it.
    #[test]
    fn a_look_near_finds_what_a_look_finds() {
        let mut names = Names::default();
        let ids: Vec<InodeId> = (0..50u64).map(|i| i * 3 + 1).collect();
        let t = InodeTable::from_loaded(
            ids.len(),
            ids.iter()
                .map(|id| (*id, dir(&format!("n{id}"), &mut names))),
        );
        for id in 0..160u64 {
            for start in [0usize, 5, 48, 49, 50, 1000] {
                let mut at = start;
                let near = t.get_near(&id, &mut at).map(|i| i.name.to_string());
                assert_eq!(
                    near,
                    t.get(&id).map(|i| i.name.to_string()),
                    "{id} from {start}"
                );
                if near.is_some() {
                    assert_eq!(t.ids[at], id);
                } else {
                    assert_eq!(at, start);
                }
            }
        }
    }

    /// Random inserts, replacements and removals against a `HashMap`.
    #[test]
    fn behaves_as_a_map() {
        let mut names = Names::default();
        let mut t = InodeTable::default();
        let mut model: HashMap<InodeId, String> = HashMap::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = x % 3000;
            let name = format!("n{step}");
            if x % 5 < 3 {
                let old = t
                    .insert(id, dir(&name, &mut names))
                    .map(|i| i.name.to_string());
                assert_eq!(old, model.insert(id, name));
            } else {
                let gone = t.remove(&id).map(|i| i.name.to_string());
                assert_eq!(gone, model.remove(&id));
            }
            if step % 1000 == 0 {
                assert!(t.index_is_exact());
            }
        }
        assert!(t.index_is_exact());
        assert_eq!(t.len(), model.len());
        for (id, inode) in t.iter() {
            assert_eq!(
                model.get(&id).map(String::as_str),
                Some(inode.name.as_str())
            );
        }
        // Emptied, the table gives its memory back and still works.
        for id in model.keys() {
            assert!(t.remove(id).is_some());
        }
        assert!(t.is_empty() && t.ids.capacity() < 1024 && t.index_is_exact());
        assert!(t.insert(7, dir("again", &mut names)).is_none());
        assert_eq!(t.get(&7).map(|i| i.name.as_str()), Some("again"));
    }
}
