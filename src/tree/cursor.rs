//! A cursor over parents' children sets for a walk of the tree in path order.
//!
//! Why: code that visits every node in path order and needs each node's
//! entry in its parent's children set (the snapshot writer, the invariant
//! check at restart) would otherwise search the node map and the set for
//! every node: two B-tree searches of keys with long common prefixes, most
//! of the cost of a 1M-znode snapshot. Siblings mostly come one after
//! another in path order, so the cursor walks the parent's set alongside.
//!
//! Guarantees: [`ChildCursor::member`] answers exactly what a lookup would,
//! in any visiting order; in path order it costs O(1) amortised per node
//! whose previous node was a sibling.

use super::{javaorder::Member, member_of, path, Node, PathKey, Tree};
use std::ops::Bound;

type Members<'t> = Box<dyn Iterator<Item = (&'t PathKey, &'t u64)> + 't>;

#[derive(Default)]
pub(super) struct ChildCursor<'t> {
    parent: Option<(&'t str, &'t Node)>,
    members: Option<Members<'t>>,
}

impl<'t> ChildCursor<'t> {
    /// The parent of the node at `p` and `p`'s entry in its children set;
    /// `None` for the root, a missing parent, or a parent not listing `p`.
    pub(super) fn member(&mut self, tree: &'t Tree, p: &'t str) -> Option<(&'t Node, Member)> {
        let (parent, _) = path::split_last(p).filter(|_| p != "/")?;
        let parent = Tree::key(parent);
        if let Some((_, node)) = self.parent.filter(|(name, _)| *name == parent) {
            if let Some(m) = self.advance_to(p) {
                return Some((node, m));
            }
        }
        let node = tree.node(parent)?;
        self.parent = Some((parent, node));
        self.members = node.children.as_ref().map(|c| {
            Box::new(
                c.members
                    .range::<_, str>((Bound::Included(p), Bound::Unbounded)),
            ) as Members<'t>
        });
        self.advance_to(p).map(|m| (node, m))
    }

    fn advance_to(&mut self, p: &str) -> Option<Member> {
        let members = self.members.as_mut()?;
        for (k, m) in members.by_ref() {
            match (**k).cmp(p) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return Some(member_of(k, *m)),
                std::cmp::Ordering::Greater => break,
            }
        }
        self.members = None;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_a_lookup_in_any_order() {
        let mut t = Tree::new();
        for p in ["/a", "/a-b", "/a/x", "/a/y", "/a/x/z", "/b"] {
            let parent = path::split_last(p)
                .map(|(pa, _)| Tree::key(pa).to_string())
                .unwrap();
            let node = t.node("/zookeeper/config").unwrap().clone();
            t.insert_node(PathKey::from(p), node);
            t.add_child(&parent, p);
        }
        let paths: Vec<PathKey> = t.nodes.keys().cloned().collect();
        let lookup = |p: &str| {
            let (parent, _) = path::split_last(p).filter(|_| p != "/")?;
            let pn = t.node(parent)?;
            pn.child_member(p).map(|m| (pn.stat, m))
        };
        let mut forward = ChildCursor::default();
        for p in &paths {
            let got = forward.member(&t, p).map(|(n, m)| (n.stat, m));
            assert_eq!(got, lookup(p), "{p}");
        }
        let mut backward = ChildCursor::default();
        for p in paths.iter().rev() {
            let got = backward.member(&t, p).map(|(n, m)| (n.stat, m));
            assert_eq!(got, lookup(p), "{p}");
        }
        assert!(ChildCursor::default().member(&t, "/nope/x").is_none());
    }
}
