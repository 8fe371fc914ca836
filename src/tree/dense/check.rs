//! The structural invariants of a [`super::DenseMap`], asserted.
//!
//! Why: tests (and anyone doubting a map) call [`DenseMap::check`] after
//! changes; it runs in release builds too, and panics naming the first
//! broken invariant.

use super::{DenseMap, Node, MAX, MIN};

impl<K: Ord, V> DenseMap<K, V> {
    /// Asserts every invariant of the module doc: node sizes, leaf depth,
    /// branch keys, key order and the entry count.
    pub fn check(&self) {
        let mut leaf_depth = None;
        let count = check_node(&self.root, 0, &mut leaf_depth);
        assert_eq!(count, self.len, "entry count");
        let mut prev: Option<&K> = None;
        for (k, _) in self.iter() {
            assert!(prev.is_none_or(|p| p < k), "keys out of order");
            prev = Some(k);
        }
    }

    /// (leaves, depth of the leaves): for tests of how full a map is.
    #[cfg(test)]
    pub(super) fn shape(&self) -> (usize, usize) {
        fn walk<K, V>(n: &Node<K, V>, depth: usize, out: &mut (usize, usize)) {
            match n {
                Node::Leaf(_) => *out = (out.0 + 1, depth),
                Node::Branch(b) => b.iter().for_each(|(_, c)| walk(c, depth + 1, out)),
                Node::Vacant => {}
            }
        }
        let mut out = (0, 0);
        walk(&self.root, 0, &mut out);
        out
    }
}

/// Checks `node` at `depth` and below; returns its entry count.
fn check_node<K: Ord, V>(node: &Node<K, V>, depth: usize, leaf_depth: &mut Option<usize>) -> usize {
    let root = depth == 0;
    let len = match node {
        Node::Leaf(l) => l.len(),
        Node::Branch(b) => b.len(),
        Node::Vacant => panic!("a vacant node left in a map"),
    };
    assert!(len <= MAX, "a node of {len} entries");
    assert!(root || len >= MIN, "a non-root node of {len} entries");
    match node {
        Node::Leaf(l) => {
            let d = *leaf_depth.get_or_insert(depth);
            assert_eq!(d, depth, "leaves at different depths");
            l.len()
        }
        Node::Branch(b) => {
            assert!(!root || len >= 2, "a root branch of {len} children");
            b.iter()
                .map(|(k, child)| {
                    let count = check_node(child, depth + 1, leaf_depth);
                    assert!(k == child.first_key(), "a branch key not its child's first");
                    count
                })
                .sum()
        }
        Node::Vacant => unreachable!("checked above"),
    }
}
