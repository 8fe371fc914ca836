//! Changing a [`super::DenseMap`]: insert, remove and in-place update,
//! each copying the shared nodes on its path, and the repairs that keep
//! every node between [`MIN`] and [`MAX`] entries.
//!
//! Why a node may briefly hold `MAX + 1` or `MIN - 1` entries: the change
//! happens in the child, the repair in its parent, which alone sees the
//! siblings. An overfull child first tops up a sibling with room (so that
//! inserts in key order leave full nodes behind), else splits in halves;
//! an underfull one merges with a sibling when both fit in one node, else
//! the two share their entries evenly. The root is repaired by
//! [`insert`] and [`remove`] themselves.

use super::slices::{self, Entries};
use super::{route, Node, MAX, MAX_DEPTH, MIN, VACANT};
use std::borrow::Borrow;
use std::sync::Arc;

/// The child index at each branch and the entry index in the leaf that
/// lead to one key (found without changing anything).
pub(super) struct Path {
    at: [u8; MAX_DEPTH],
    depth: usize,
}

impl Path {
    pub(super) fn locate<K, V, Q>(root: &Node<K, V>, key: &Q) -> Option<Path>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let mut path = Path {
            at: [0; MAX_DEPTH],
            depth: 0,
        };
        let mut node = root;
        loop {
            assert!(path.depth < MAX_DEPTH, "a map deeper than possible");
            let at = match node {
                Node::Branch(b) => route(b, key),
                Node::Leaf(l) => l.binary_search_by(|(k, _)| k.borrow().cmp(key)).ok()?,
                Node::Vacant => unreachable!("{VACANT}"),
            };
            path.at[path.depth] = at as u8;
            path.depth += 1;
            match node {
                Node::Branch(b) => node = &b[at].1,
                _ => return Some(path),
            }
        }
    }

    fn steps(&self) -> &[u8] {
        &self.at[..self.depth]
    }
}

/// The value at the end of `path`, its nodes made this version's own.
pub(super) fn get_mut<'a, K: Clone, V: Clone>(node: &'a mut Node<K, V>, path: &Path) -> &'a mut V {
    let mut node = node;
    let steps = path.steps();
    let (&last, branches) = steps.split_last().expect("a path ends at a leaf");
    for &i in branches {
        match node {
            Node::Branch(b) => node = &mut slices::unique(b)[i as usize].1,
            _ => unreachable!("a path follows the map's branches"),
        }
    }
    match node {
        Node::Leaf(l) => &mut slices::unique(l)[last as usize].1,
        _ => unreachable!("a path ends at a leaf"),
    }
}

/// Inserts under `root`; returns the value replaced.
pub(super) fn insert<K: Ord + Clone, V: Clone>(
    root: &mut Node<K, V>,
    key: K,
    value: V,
) -> Option<V> {
    let old = insert_in(root, key, value);
    if root.len() > MAX {
        let (l, r) = halves(root.take());
        let pair = [(l.first_key().clone(), l), (r.first_key().clone(), r)];
        *root = Node::Branch(Arc::new(pair));
    }
    old
}

fn insert_in<K: Ord + Clone, V: Clone>(node: &mut Node<K, V>, key: K, value: V) -> Option<V> {
    match node {
        Node::Leaf(l) => match l.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(at) => Some(std::mem::replace(&mut slices::unique(l)[at].1, value)),
            Err(at) => {
                let Node::Leaf(l) = node.take() else {
                    unreachable!("matched a leaf")
                };
                assert!(l.len() <= MAX, "a leaf above its bound");
                *node = Node::Leaf(slices::inserted(l, at, (key, value)));
                None
            }
        },
        Node::Branch(b) => {
            let i = route(b, &key);
            // Only below the first child's smallest key (i == 0).
            let new_first = key < b[i].0;
            let es = slices::unique(b);
            let old = insert_in(&mut es[i].1, key, value);
            if new_first {
                es[i].0 = es[i].1.first_key().clone();
            }
            if es[i].1.len() > MAX {
                relieve(node, i);
            }
            old
        }
        Node::Vacant => unreachable!("{VACANT}"),
    }
}

/// Brings the overfull child `i` of branch `node` back to [`MAX`]: into a
/// sibling's room, else by splitting it (the branch gains an entry).
fn relieve<K: Ord + Clone, V: Clone>(node: &mut Node<K, V>, i: usize) {
    let Node::Branch(b) = node else {
        unreachable!("only branches have children")
    };
    let es = slices::unique(b);
    let over = es[i].1.len();
    let spare = |n: &Node<K, V>| MAX - n.len().min(MAX);
    if i > 0 && spare(&es[i - 1].1) > 0 {
        let moved = spare(&es[i - 1].1).min(over - MIN);
        let left = es[i - 1].1.len() + moved;
        regroup_pair(es, i - 1, left);
        return;
    }
    if i + 1 < es.len() && spare(&es[i + 1].1) > 0 {
        let moved = spare(&es[i + 1].1).min(over - MIN);
        regroup_pair(es, i, over - moved);
        return;
    }
    let (l, r) = halves(es[i].1.take());
    es[i].1 = l;
    let entry = (r.first_key().clone(), r);
    let Node::Branch(b) = node.take() else {
        unreachable!("matched a branch")
    };
    assert!(b.len() <= MAX, "a branch above its bound");
    *node = Node::Branch(slices::inserted(b, i + 1, entry));
}

/// Removes the entry at the end of `path` under `root`.
pub(super) fn remove<K: Ord + Clone, V: Clone>(root: &mut Node<K, V>, path: &Path) -> (K, V) {
    let removed = remove_in(root, path.steps());
    // A root branch left with one child gives way to it.
    while matches!(root, Node::Branch(b) if b.len() == 1) {
        let Node::Branch(b) = root.take() else {
            unreachable!("matched a branch")
        };
        let (_, child) = Entries::new(b).next().expect("one child");
        *root = child;
    }
    removed
}

fn remove_in<K: Ord + Clone, V: Clone>(node: &mut Node<K, V>, steps: &[u8]) -> (K, V) {
    let (&i, rest) = steps.split_first().expect("a path ends at a leaf");
    let i = i as usize;
    match node {
        Node::Leaf(_) => {
            let Node::Leaf(l) = node.take() else {
                unreachable!("matched a leaf")
            };
            let (l, removed) = slices::removed(l, i);
            *node = Node::Leaf(l);
            removed
        }
        Node::Branch(b) => {
            let es = slices::unique(b);
            let removed = remove_in(&mut es[i].1, rest);
            if rest.iter().all(|&at| at == 0) {
                // The child's smallest key went.
                es[i].0 = es[i].1.first_key().clone();
            }
            if es[i].1.len() < MIN {
                shore_up(node, i);
            }
            removed
        }
        Node::Vacant => unreachable!("{VACANT}"),
    }
}

/// Brings the underfull child `i` of branch `node` back to [`MIN`]: merged
/// with a sibling (the branch loses an entry), else sharing evenly with it.
fn shore_up<K: Ord + Clone, V: Clone>(node: &mut Node<K, V>, i: usize) {
    let Node::Branch(b) = node else {
        unreachable!("only branches have children")
    };
    let es = slices::unique(b);
    assert!(es.len() >= 2, "a branch of one child");
    let l = if i > 0 { i - 1 } else { i };
    let total = es[l].1.len() + es[l + 1].1.len();
    if total > MAX {
        regroup_pair(es, l, total / 2);
        return;
    }
    let merged = match (es[l].1.take(), es[l + 1].1.take()) {
        (Node::Leaf(a), Node::Leaf(c)) => Node::Leaf(slices::merged(a, c)),
        (Node::Branch(a), Node::Branch(c)) => Node::Branch(slices::merged(a, c)),
        _ => unreachable!("siblings are at the same depth"),
    };
    es[l].1 = merged;
    let Node::Branch(b) = node.take() else {
        unreachable!("matched a branch")
    };
    *node = Node::Branch(slices::removed(b, l + 1).0);
}

/// Regroups the entries of children `l` and `l + 1` of a branch so that
/// the first holds `left` of them.
fn regroup_pair<K: Clone, V: Clone>(es: &mut [(K, Node<K, V>)], l: usize, left: usize) {
    let (a, c) = match (es[l].1.take(), es[l + 1].1.take()) {
        (Node::Leaf(a), Node::Leaf(c)) => {
            let (a, c) = slices::regrouped(a, c, left);
            (Node::Leaf(a), Node::Leaf(c))
        }
        (Node::Branch(a), Node::Branch(c)) => {
            let (a, c) = slices::regrouped(a, c, left);
            (Node::Branch(a), Node::Branch(c))
        }
        _ => unreachable!("siblings are at the same depth"),
    };
    assert!((MIN..=MAX).contains(&a.len()) && (MIN..=MAX).contains(&c.len()));
    es[l + 1].0 = c.first_key().clone();
    es[l].1 = a;
    es[l + 1].1 = c;
}

/// `node` cut into two halves.
fn halves<K: Clone, V: Clone>(node: Node<K, V>) -> (Node<K, V>, Node<K, V>) {
    let left = node.len() / 2;
    match node {
        Node::Leaf(l) => {
            let (a, c) = slices::split(l, left);
            (Node::Leaf(a), Node::Leaf(c))
        }
        Node::Branch(b) => {
            let (a, c) = slices::split(b, left);
            (Node::Branch(a), Node::Branch(c))
        }
        Node::Vacant => unreachable!("{VACANT}"),
    }
}
