//! The compact in-memory form of the block map: where each block's entry
//! lives and how a node's replicas are found. No policy: [`super::BlockMap`]
//! decides what changes; this keeps it small (issue 17: about 300 B per
//! single-block file in all, so the block side must stay near 100 B).
//!
//! Why this shape and not the stored record: a `HashMap<BlockId,
//! BlockMeta>` costs ~140 B a bucket plus a heap `Vec` of 16-byte node
//! ids per block, and a node → blocks index of `HashSet<BlockId>` repeats
//! each 16-byte block id once per replica: ~290 B per block with three
//! replicas. Here instead:
//!
//! - [`Slab`]: every block's [`Entry`] (72 B: id, digest, length, inode,
//!   up to [`INLINE`] replicas, flags) in one dense `Vec`, found through a
//!   `hashbrown::HashTable` of 4-byte slot numbers hashed by the entry's
//!   id, so the id is stored once rather than again as a map key (std's
//!   `HashMap` cannot hash a key it does not store). A removal moves the
//!   last entry into the hole, so slots stay dense and valid; the caller
//!   re-points the moved entry's references ([`Slab::swap_remove`]).
//! - [`NodeTable`]: each node id interned to a 2-byte [`NodeIx`] while it
//!   holds a replica, and per node the slots it holds as a compressed
//!   bitmap ([`RoaringBitmap`]): the node → blocks index full reports and
//!   dead nodes need. A node holding a good share of the blocks costs about
//!   a bit per slot, one holding few about 2 bytes per replica (a hash set
//!   of 4-byte slots cost ~10 B per replica, 31 MB at 1 M blocks on three
//!   nodes). A node left with no replica is forgotten and its index
//!   reused, so the 65 536 indexes bound the nodes holding replicas at
//!   once, not the nodes ever seen.
//! - What few blocks have lives beside the entry, in the map: replicas
//!   past the third (`more`), and a pending block's file and pipeline
//!   (`writes`); an entry's flags say when to look there.
//!
//! Cost with three replicas (tables 76 % full, the slab sized exactly, as
//! at startup): the 72 B entry, ~7 B of index and well under a byte of
//! node bitmaps. Just past a resize the index is 44 % full (~12 B), and a
//! slab grown by doubling after startup reserves up to as much again,
//! though glibc maps blocks that large and pages never written are not
//! resident.
//!
//! Speed against the map it replaces (200 k blocks, release build): a full
//! report that changes nothing takes a quarter of the time (a bit per
//! slot instead of a set of ids); adding and committing blocks costs the
//! same; removing a block costs ~20 % more (the moved entry is re-pointed)
//! and listing a node's blocks ~5× more (a slot is read back into an id),
//! still ~30 ns a block.
//!
//! Invariants (kept by `BlockMap`, checked by `BlockMap::check_index` in
//! tests): the index holds each slot once, under its entry's id; a node's
//! set holds slot `s` exactly when entry `s` lists the node (inline or in
//! `more`); an entry's inline replicas are full before any go to `more`.
use dfs_common::checksum::Sha256Digest;
use dfs_common::ids::{BlockId, NodeId};
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::ops::Deref;

/// A block's place in the [`Slab`]. 32 bits: four billion blocks would
/// need some 400 GB of entries first.
pub(super) type Slot = u32;

/// A node's index in the [`NodeTable`].
pub(super) type NodeIx = u16;

/// Replicas kept in the entry itself; the rest go to the map's `more`.
pub(super) const INLINE: usize = 3;

/// Entry flags.
pub(super) mod flag {
    /// Owned by a file being written: the file id is in `writes`.
    pub const PENDING: u8 = 1;
    /// The digest is known (committed blocks).
    pub const HAS_SHA: u8 = 2;
    /// More than [`super::INLINE`] replicas: the rest are in `more`.
    pub const SPILLED: u8 = 4;
    /// Has a `writes` record (pending owner or pipeline targets).
    pub const WRITE: u8 = 8;
}

/// One block in memory.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub id: BlockId,
    /// Meaningful with [`flag::HAS_SHA`].
    pub sha256: Sha256Digest,
    pub len: u64,
    /// The owning inode; 0 for a pending block.
    pub inode: u64,
    /// The first `n` are replicas, in the order they were recorded.
    pub replicas: [NodeIx; INLINE],
    pub n: u8,
    pub flags: u8,
}

// The size the module doc counts on.
const _: () = assert!(std::mem::size_of::<Entry>() == 72);

impl Entry {
    pub fn new(id: BlockId) -> Self {
        Entry {
            id,
            sha256: Sha256Digest([0; 32]),
            len: 0,
            inode: 0,
            replicas: [0; INLINE],
            n: 0,
            flags: 0,
        }
    }

    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// The inline replicas.
    pub fn inline(&self) -> &[NodeIx] {
        self.replicas.get(..usize::from(self.n)).unwrap_or(&[])
    }

    pub fn sha256(&self) -> Option<Sha256Digest> {
        self.has(flag::HAS_SHA).then_some(self.sha256)
    }
}

/// The entries, dense, and the index that finds them by id.
#[derive(Debug, Default)]
pub(super) struct Slab {
    entries: Vec<Entry>,
    index: HashTable<Slot>,
    hasher: RandomState,
    /// Entries a load pushed and the index does not hold yet, with their
    /// hashes ([`Slab::push_deferred`]); empty outside a load.
    deferred: Vec<(u64, Slot)>,
}

impl Slab {
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve_exact(additional);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .reserve(additional, |s| hash_at(entries, hasher, *s));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, slot: Slot) -> Option<&Entry> {
        self.entries.get(slot as usize)
    }

    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut Entry> {
        self.entries.get_mut(slot as usize)
    }

    pub fn slot(&self, id: &BlockId) -> Option<Slot> {
        debug_assert!(self.deferred.is_empty(), "a look before the index is whole");
        let entries = &self.entries;
        self.index
            .find(self.hasher.hash_one(id), |s| {
                entries.get(*s as usize).is_some_and(|e| e.id == *id)
            })
            .copied()
    }

    pub fn contains(&self, id: &BlockId) -> bool {
        self.slot(id).is_some()
    }

    /// [`Slab::slot`], trying `hint` first: a walk that meets the blocks
    /// in about the order they were added (a load's files, by id) reads
    /// the slab in order instead of the index at random.
    pub fn slot_near(&self, hint: Slot, id: &BlockId) -> Option<Slot> {
        match self.entries.get(hint as usize) {
            Some(e) if e.id == *id => Some(hint),
            _ => self.slot(id),
        }
    }

    /// Adds an entry whose id is not in the slab yet.
    pub fn push(&mut self, e: Entry) -> Slot {
        // See `Slot` on why 32 bits do.
        let slot = self.entries.len() as Slot;
        let hash = self.hasher.hash_one(e.id);
        self.entries.push(e);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .insert_unique(hash, slot, |s| hash_at(entries, hasher, *s));
        slot
    }

    /// [`Slab::push`] for a load: the entry goes in now, its index entry
    /// with the others' at [`Slab::index_deferred`] (call it before any
    /// look by id).
    pub fn push_deferred(&mut self, e: Entry) -> Slot {
        let slot = self.entries.len() as Slot;
        self.deferred.push((self.hasher.hash_one(e.id), slot));
        self.entries.push(e);
        slot
    }

    /// Indexes what [`Slab::push_deferred`] put in: all at once into an
    /// empty index ([`crate::bulk_index`]), else one by one.
    pub fn index_deferred(&mut self) {
        let slots = std::mem::take(&mut self.deferred);
        let (entries, hasher) = (&self.entries, &self.hasher);
        let rehash = |s: &Slot| hash_at(entries, hasher, *s);
        if self.index.is_empty() {
            crate::bulk_index::fill(&mut self.index, slots, rehash);
        } else {
            for (hash, slot) in slots {
                self.index.insert_unique(hash, slot, rehash);
            }
        }
    }

    /// Removes the entry at `slot`. The last entry moves into its place:
    /// its old slot is returned too, for the caller to re-point.
    pub fn swap_remove(&mut self, slot: Slot) -> Option<(Entry, Option<Slot>)> {
        let e = *self.entries.get(slot as usize)?;
        if let Ok(found) = self
            .index
            .find_entry(self.hasher.hash_one(e.id), |s| *s == slot)
        {
            found.remove();
        }
        let last = (self.entries.len() - 1) as Slot;
        self.entries.swap_remove(slot as usize);
        if last == slot {
            return Some((e, None));
        }
        if let Some(moved) = self.entries.get(slot as usize) {
            let hash = self.hasher.hash_one(moved.id);
            if let Some(s) = self.index.find_mut(hash, |s| *s == last) {
                *s = slot;
            }
        }
        Some((e, Some(last)))
    }

    /// Is every entry indexed under its id, once (tests)?
    #[cfg(test)]
    pub fn index_is_exact(&self) -> bool {
        self.index.len() == self.entries.len()
            && (0..self.entries.len()).all(|s| self.slot(&self.entries[s].id) == Some(s as Slot))
    }
}

fn hash_at(entries: &[Entry], hasher: &RandomState, s: Slot) -> u64 {
    // Every slot in the index is a valid one (module invariants).
    entries.get(s as usize).map_or(0, |e| hasher.hash_one(e.id))
}

/// One node holding replicas.
#[derive(Debug)]
struct NodeSlot {
    id: NodeId,
    /// The slots of the blocks it holds a good replica of.
    blocks: RoaringBitmap,
    /// Registered since this start (the map's `registered`, cached here
    /// so the safe-mode count does not hash node ids per block).
    registered: bool,
}

/// Nodes interned to small indexes, each with its blocks.
#[derive(Debug, Default)]
pub(super) struct NodeTable {
    slots: Vec<Option<NodeSlot>>,
    index: HashMap<NodeId, NodeIx>,
    free: Vec<NodeIx>,
}

impl NodeTable {
    pub fn ix(&self, id: &NodeId) -> Option<NodeIx> {
        self.index.get(id).copied()
    }

    fn slot(&self, k: NodeIx) -> Option<&NodeSlot> {
        self.slots.get(usize::from(k)).and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, k: NodeIx) -> Option<&mut NodeSlot> {
        self.slots.get_mut(usize::from(k)).and_then(Option::as_mut)
    }

    pub fn id(&self, k: NodeIx) -> Option<NodeId> {
        self.slot(k).map(|s| s.id)
    }

    /// Whether index `k` is within the table (used or free).
    pub fn has_slot(&self, k: NodeIx) -> bool {
        usize::from(k) < self.slots.len()
    }

    /// `id`'s index, made if need be; `None` when all 65 536 are taken.
    pub fn intern(&mut self, id: NodeId, registered: bool) -> Option<NodeIx> {
        if let Some(k) = self.ix(&id) {
            return Some(k);
        }
        let fresh = NodeSlot {
            id,
            blocks: RoaringBitmap::new(),
            registered,
        };
        let k = match self.free.pop() {
            Some(k) => {
                *self.slots.get_mut(usize::from(k))? = Some(fresh);
                k
            }
            None => {
                let k = NodeIx::try_from(self.slots.len()).ok()?;
                self.slots.push(Some(fresh));
                k
            }
        };
        self.index.insert(id, k);
        Some(k)
    }

    /// The slots `id` holds replicas of.
    pub fn blocks_of(&self, id: &NodeId) -> Option<&RoaringBitmap> {
        self.ix(id).and_then(|k| self.slot(k)).map(|s| &s.blocks)
    }

    pub fn count(&self, id: &NodeId) -> usize {
        self.blocks_of(id).map_or(0, |s| s.len() as usize)
    }

    pub fn link(&mut self, k: NodeIx, slot: Slot) {
        if let Some(s) = self.slot_mut(k) {
            s.blocks.insert(slot);
        }
    }

    /// Drops `slot` from `k`'s blocks; a node left with none is forgotten
    /// (its index goes back to the free list, its set is freed).
    pub fn unlink(&mut self, k: NodeIx, slot: Slot) {
        let Some(s) = self.slot_mut(k) else {
            return;
        };
        s.blocks.remove(slot);
        if s.blocks.is_empty() {
            let id = s.id;
            if let Some(x) = self.slots.get_mut(usize::from(k)) {
                *x = None;
            }
            self.index.remove(&id);
            self.free.push(k);
        }
    }

    /// `k`'s replica moved from slot `from` to `to`.
    pub fn relink(&mut self, k: NodeIx, from: Slot, to: Slot) {
        if let Some(s) = self.slot_mut(k) {
            s.blocks.remove(from);
            s.blocks.insert(to);
        }
    }

    pub fn is_registered(&self, k: NodeIx) -> bool {
        self.slot(k).is_some_and(|s| s.registered)
    }

    /// Marks `id` registered; its index if it holds replicas.
    pub fn set_registered(&mut self, id: &NodeId) -> Option<NodeIx> {
        let k = self.ix(id)?;
        self.slot_mut(k)?.registered = true;
        Some(k)
    }

    /// Every node holding replicas, with its slots (tests).
    #[cfg(test)]
    pub fn all(&self) -> impl Iterator<Item = (NodeIx, &RoaringBitmap)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(k, s)| Some((k as NodeIx, &s.as_ref()?.blocks)))
    }
}

/// A short list of node ids (a block's replicas), inline up to four so
/// that reading a block allocates nothing in the usual case. Reads as a
/// slice.
#[derive(Clone)]
pub struct NodeList {
    len: usize,
    inline: [NodeId; 4],
    /// Everything, once there are more than four.
    heap: Vec<NodeId>,
}

impl NodeList {
    pub fn new() -> Self {
        NodeList {
            len: 0,
            inline: [NodeId::from_bytes([0; 16]); 4],
            heap: Vec::new(),
        }
    }

    pub fn push(&mut self, n: NodeId) {
        if self.heap.is_empty() {
            if let Some(x) = self.inline.get_mut(self.len) {
                *x = n;
                self.len += 1;
                return;
            }
            self.heap.extend_from_slice(&self.inline);
        }
        self.heap.push(n);
        self.len += 1;
    }
}

impl Default for NodeList {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for NodeList {
    type Target = [NodeId];

    fn deref(&self) -> &[NodeId] {
        if self.heap.is_empty() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.heap
        }
    }
}

impl<'a> IntoIterator for &'a NodeList {
    type Item = &'a NodeId;
    type IntoIter = std::slice::Iter<'a, NodeId>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<NodeId> for NodeList {
    fn from_iter<I: IntoIterator<Item = NodeId>>(iter: I) -> Self {
        let mut l = NodeList::new();
        for n in iter {
            l.push(n);
        }
        l
    }
}

impl std::fmt::Debug for NodeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for NodeList {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for NodeList {}

impl PartialEq<Vec<NodeId>> for NodeList {
    fn eq(&self, other: &Vec<NodeId>) -> bool {
        **self == other[..]
    }
}

impl PartialEq<[NodeId]> for NodeList {
    fn eq(&self, other: &[NodeId]) -> bool {
        **self == *other
    }
}
