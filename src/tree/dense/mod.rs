//! A dense persistent ordered map: the data tree's path -> znode map and
//! each parent's children set.
//!
//! Why (issue 6): imbl's B-tree gives every node, leaf included, room for
//! 64 keys and 65 child pointers (a 2,104-byte leaf for 24-byte entries,
//! whatever its fill), and sequential inserts leave its leaves half full:
//! the two maps cost about 164 of the 408 live heap bytes per znode with a
//! million znodes under one parent, and inserting into them one by one was
//! a quarter of a restart's snapshot load. Here a leaf is one exactly sized
//! allocation of its entries (see [`MAX`]), an insert that fills a leaf first tops up its
//! neighbour (so sequential inserts leave full leaves), and a map is built
//! from sorted entries in O(n) with full leaves ([`DenseMap::from_sorted_iter`]).
//!
//! Guarantees: a B+tree whose nodes are `Arc`-shared. `Clone` is O(1); a
//! change copies the nodes on its path that another version shares and
//! changes the rest in place, so an old clone never changes. All leaves are
//! at the same depth; every node holds at most [`MAX`] entries and every
//! node but the root at least [`MIN`] (removals merge or rebalance
//! neighbours), so the node count is bounded by the entry count however the
//! map got there. Every branch entry's key is its child's smallest key.
//! Lookups take `Borrow`ed keys (path keys by `&str`).
//! [`DenseMap::check`] asserts all this (in release builds too).

mod build;
mod check;
mod edit;
mod iter;
mod slices;

pub use build::SortedBuilder;
pub use iter::{Iter, Range};

use std::borrow::Borrow;
use std::fmt;
use std::ops::RangeBounds;
use std::sync::Arc;

/// Most entries in a node. 31 entries of 16 bytes (a thin
/// [`super::PathKey`] and an 8-byte value) plus the `Arc` counts fill
/// mimalloc's 512-byte size class exactly, and a branch's 31 entries of 32
/// bytes its 1,024-byte one. Not
/// more: a write to a shared version clones every entry of each node on
/// its path (two reference counts per entry), so a node of 63 made setData
/// with a published version cost half as much again as imbl's half-full
/// leaves did.
pub const MAX: usize = 31;
/// Fewest entries in a node other than the root.
pub const MIN: usize = 8;
/// Deeper than possible (a root of 2 children, the others of [`MIN`],
/// would hold more than `usize::MAX` entries at this depth).
const MAX_DEPTH: usize = 24;

#[derive(Clone)]
enum Node<K, V> {
    Leaf(Arc<[(K, V)]>),
    Branch(Arc<[(K, Node<K, V>)]>),
    /// Only while an edit has moved the node out; never left in a map.
    Vacant,
}

const VACANT: &str = "a vacant node is never left in a map";

impl<K, V> Node<K, V> {
    fn empty() -> Node<K, V> {
        Node::Leaf(Arc::new([]))
    }

    fn len(&self) -> usize {
        match self {
            Node::Leaf(l) => l.len(),
            Node::Branch(b) => b.len(),
            Node::Vacant => unreachable!("{VACANT}"),
        }
    }

    fn first_key(&self) -> &K {
        match self {
            Node::Leaf(l) => &l[0].0,
            Node::Branch(b) => &b[0].0,
            Node::Vacant => unreachable!("{VACANT}"),
        }
    }

    fn take(&mut self) -> Node<K, V> {
        std::mem::replace(self, Node::Vacant)
    }
}

/// The index of the child of branch `b` whose keys `key` would be among.
fn route<K: Borrow<Q>, Q: Ord + ?Sized, X>(b: &[(K, X)], key: &Q) -> usize {
    b.partition_point(|(k, _)| k.borrow() <= key)
        .saturating_sub(1)
}

/// A persistent ordered map (see the module doc).
pub struct DenseMap<K, V> {
    root: Node<K, V>,
    len: usize,
}

impl<K, V> Clone for DenseMap<K, V> {
    fn clone(&self) -> Self {
        DenseMap {
            root: match &self.root {
                Node::Leaf(l) => Node::Leaf(l.clone()),
                Node::Branch(b) => Node::Branch(b.clone()),
                Node::Vacant => unreachable!("{VACANT}"),
            },
            len: self.len,
        }
    }
}

impl<K, V> Default for DenseMap<K, V> {
    fn default() -> Self {
        DenseMap::new()
    }
}

impl<K, V> DenseMap<K, V> {
    pub fn new() -> Self {
        DenseMap {
            root: Node::empty(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The smallest key, without a search: a branch's first key is its
    /// first child's (checked by `check`), so the root holds it.
    pub fn first_key(&self) -> Option<&K> {
        if self.len == 0 {
            return None;
        }
        Some(self.root.first_key())
    }

    /// Entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::first(&self.root, self.len)
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

impl<K: Ord, V> DenseMap<K, V> {
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let mut node = &self.root;
        loop {
            match node {
                Node::Branch(b) => node = &b[route(b, key)].1,
                Node::Leaf(l) => {
                    let at = l.binary_search_by(|(k, _)| k.borrow().cmp(key)).ok()?;
                    let (k, v) = &l[at];
                    return Some((k, v));
                }
                Node::Vacant => unreachable!("{VACANT}"),
            }
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get_key_value(key).map(|(_, v)| v)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get_key_value(key).is_some()
    }

    /// Entries whose keys are in `range`, in key order. (Type parameters
    /// in imbl's order: `range::<_, str>(..)` on path keys.)
    pub fn range<R, Q>(&self, range: R) -> Range<'_, K, V, R, Q>
    where
        R: RangeBounds<Q>,
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        Range::new(&self.root, range)
    }
}

impl<K: Ord + Clone, V: Clone> DenseMap<K, V> {
    /// Inserts `value` at `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = edit::insert(&mut self.root, key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes the entry at `key`; returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let path = edit::Path::locate(&self.root, key)?;
        let (_, v) = edit::remove(&mut self.root, &path);
        self.len -= 1;
        Some(v)
    }

    /// The value at `key`, changeable in this version only (the nodes on
    /// its path that another version shares are copied first).
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let path = edit::Path::locate(&self.root, key)?;
        Some(edit::get_mut(&mut self.root, &path))
    }

    /// The map of `entries`, whose keys must be strictly increasing (a
    /// programmer invariant: asserted), built in O(n) with full leaves.
    pub fn from_sorted_iter(entries: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut b = SortedBuilder::new();
        for (k, v) in entries {
            b.push(k, v);
        }
        b.finish()
    }
}

impl<K: Ord + Clone, V: Clone> FromIterator<(K, V)> for DenseMap<K, V> {
    /// Entries in any order; a later entry replaces an earlier equal key.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut m = DenseMap::new();
        for (k, v) in entries {
            m.insert(k, v);
        }
        m
    }
}

impl<K: PartialEq, V: PartialEq> PartialEq for DenseMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<K: Eq, V: Eq> Eq for DenseMap<K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for DenseMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests;
