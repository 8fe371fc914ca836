//! In-order iteration over a [`super::DenseMap`], whole or from a bound.
//!
//! Guarantees: entries come in strictly increasing key order, each once;
//! [`Range`] yields exactly the entries whose keys are in its bounds.
//! Starting at a bound costs one descent; each further entry O(1)
//! amortised.

use super::{route, Node, VACANT};
use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

/// A branch being walked: its entries and the child being visited.
type Level<'a, K, V> = (&'a [(K, Node<K, V>)], usize);

/// Entries in key order from a starting point to the end of the map.
pub struct Iter<'a, K, V> {
    /// The branches above the current leaf, root first.
    stack: Vec<Level<'a, K, V>>,
    leaf: &'a [(K, V)],
    at: usize,
    /// Entries left, when known (a whole-map walk).
    left: Option<usize>,
}

impl<'a, K, V> Iter<'a, K, V> {
    pub(super) fn first(root: &'a Node<K, V>, len: usize) -> Self {
        let mut it = Iter {
            stack: Vec::new(),
            leaf: &[],
            at: 0,
            left: Some(len),
        };
        it.descend(root);
        it
    }

    /// Down the first children of `node` to its first leaf.
    fn descend(&mut self, mut node: &'a Node<K, V>) {
        loop {
            match node {
                Node::Branch(b) => {
                    self.stack.push((b, 0));
                    node = &b[0].1;
                }
                Node::Leaf(l) => {
                    self.leaf = l;
                    self.at = 0;
                    return;
                }
                Node::Vacant => unreachable!("{VACANT}"),
            }
        }
    }

    /// At the first entry not below `start`.
    fn seek<Q>(root: &'a Node<K, V>, start: Bound<&Q>) -> Self
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let mut it = Iter {
            stack: Vec::new(),
            leaf: &[],
            at: 0,
            left: None,
        };
        let mut node = root;
        loop {
            match node {
                Node::Branch(b) => {
                    let i = match start {
                        Bound::Unbounded => 0,
                        Bound::Included(q) | Bound::Excluded(q) => route(b, q),
                    };
                    it.stack.push((b, i));
                    node = &b[i].1;
                }
                Node::Leaf(l) => {
                    it.leaf = l;
                    it.at = match start {
                        Bound::Unbounded => 0,
                        Bound::Included(q) => l.partition_point(|(k, _)| k.borrow() < q),
                        Bound::Excluded(q) => l.partition_point(|(k, _)| k.borrow() <= q),
                    };
                    return it;
                }
                Node::Vacant => unreachable!("{VACANT}"),
            }
        }
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.leaf.get(self.at) {
                self.at += 1;
                if let Some(n) = &mut self.left {
                    *n -= 1;
                }
                return Some((k, v));
            }
            // The next leaf: up to the first branch with a child left.
            loop {
                let (b, i) = self.stack.last_mut()?;
                if *i + 1 < b.len() {
                    *i += 1;
                    let b: &'a [(K, Node<K, V>)] = b;
                    let child = &b[*i].1;
                    self.descend(child);
                    break;
                }
                self.stack.pop();
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.left {
            Some(n) => (n, Some(n)),
            None => (0, None),
        }
    }
}

/// The entries whose keys are in a range, in key order.
pub struct Range<'a, K, V, R, Q: ?Sized> {
    iter: Iter<'a, K, V>,
    range: R,
    done: bool,
    _key: PhantomData<fn(&Q)>,
}

impl<'a, K, V, R, Q> Range<'a, K, V, R, Q>
where
    R: RangeBounds<Q>,
    K: Borrow<Q>,
    Q: Ord + ?Sized,
{
    pub(super) fn new(root: &'a Node<K, V>, range: R) -> Self {
        Range {
            iter: Iter::seek(root, range.start_bound()),
            range,
            done: false,
            _key: PhantomData,
        }
    }
}

impl<'a, K, V, R, Q> Iterator for Range<'a, K, V, R, Q>
where
    R: RangeBounds<Q>,
    K: Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (k, v) = self.iter.next()?;
        let within = match self.range.end_bound() {
            Bound::Unbounded => true,
            Bound::Included(e) => k.borrow() <= e,
            Bound::Excluded(e) => k.borrow() < e,
        };
        self.done = !within;
        within.then_some((k, v))
    }
}
