//! Building a [`super::DenseMap`] from entries in strictly increasing key
//! order, in O(n): leaves are filled to [`MAX`] one after another, then
//! each level of branches likewise.
//!
//! Why: a restart loads a snapshot whose znodes come in path order (issue
//! 6); building from them beats inserting them one at a time (a search
//! and a node rebuild each) and leaves every node full.
//!
//! Guarantees: the map holds exactly the entries pushed; every node is
//! full but the last two of each level, which share their entries so that
//! both hold at least [`MIN`]. Keys out of order are a programmer error
//! and panic (the snapshot loader refuses them before they get here).

use super::slices::{self, collect};
use super::{DenseMap, Node, MAX, MIN};
use std::sync::Arc;

/// Packs entries, in order, into slices of [`MAX`].
struct Packer<T> {
    buf: Vec<T>,
    done: Vec<Arc<[T]>>,
}

impl<T: Clone> Packer<T> {
    fn new() -> Self {
        Packer {
            buf: Vec::new(),
            done: Vec::new(),
        }
    }

    fn push(&mut self, entry: T) {
        self.buf.push(entry);
        if self.buf.len() == MAX {
            self.done.push(collect(MAX, &mut self.buf.drain(..)));
        }
    }

    fn last(&self) -> Option<&T> {
        self.buf
            .last()
            .or_else(|| self.done.last().and_then(|s| s.last()))
    }

    /// The slices, the last two sharing evenly if the last is short.
    fn finish(mut self) -> Vec<Arc<[T]>> {
        if self.buf.is_empty() {
            return self.done;
        }
        let rest = collect(self.buf.len(), &mut self.buf.drain(..));
        match self.done.pop() {
            Some(prev) if rest.len() < MIN => {
                let total = prev.len() + rest.len();
                let (a, b) = slices::regrouped(prev, rest, total / 2);
                self.done.push(a);
                self.done.push(b);
            }
            Some(prev) => {
                self.done.push(prev);
                self.done.push(rest);
            }
            None => self.done.push(rest),
        }
        self.done
    }
}

/// Builds a map from entries pushed in strictly increasing key order.
pub struct SortedBuilder<K, V> {
    leaves: Packer<(K, V)>,
    len: usize,
}

impl<K: Ord + Clone, V: Clone> Default for SortedBuilder<K, V> {
    fn default() -> Self {
        SortedBuilder::new()
    }
}

impl<K: Ord + Clone, V: Clone> SortedBuilder<K, V> {
    pub fn new() -> Self {
        SortedBuilder {
            leaves: Packer::new(),
            len: 0,
        }
    }

    /// Adds the next entry; `key` must be above every key pushed before.
    pub fn push(&mut self, key: K, value: V) {
        if let Some((prev, _)) = self.leaves.last() {
            assert!(*prev < key, "sorted build: keys not strictly increasing");
        }
        self.leaves.push((key, value));
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> DenseMap<K, V> {
        let len = self.len;
        let mut level: Vec<Node<K, V>> = self.leaves.finish().into_iter().map(Node::Leaf).collect();
        while level.len() > 1 {
            let mut branches = Packer::new();
            for n in level {
                branches.push((n.first_key().clone(), n));
            }
            level = branches.finish().into_iter().map(Node::Branch).collect();
        }
        let root = level.pop().unwrap_or_else(Node::empty);
        DenseMap { root, len }
    }
}
