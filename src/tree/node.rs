//! A znode as the tree holds it: one reference-counted allocation with the
//! node's metadata and its data inline, behind a thin (8-byte) pointer.
//!
//! Why (issue 6): a znode used to be an `Arc<Node>` (16 bytes of counts and
//! 96 of node, mimalloc's 112-byte class) plus its data in an allocation of
//! its own (100 bytes in the 112-byte class): 224 bytes and two allocations
//! per znode. Here one allocation holds a 4-byte count, the data length,
//! the metadata ([`NodeMeta`]: Stat, kind, ACL, children) and the bytes:
//! 88 + 100 bytes, the 192-byte class, and one allocation per setData.
//!
//! Guarantees:
//! - a `Node` reads back exactly the data it was made or last set with, null
//!   kept apart from empty;
//! - clones share the allocation (`Clone` is a counter increment) and never
//!   see each other's changes: [`DerefMut`] and [`Node::set_data`] copy a
//!   shared allocation first (copy-on-write, as `Arc::make_mut`), and change
//!   one only this handle holds in place;
//! - the allocation, its ACL and children handles are freed when the last
//!   clone is dropped; the count cannot overflow (it aborts first).

use super::ref_count::RefCount;
use super::NodeMeta;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The allocation's header; the data's bytes follow it.
#[repr(C)]
struct Inner {
    count: RefCount,
    /// The data's length, or [`NULL_LEN`] for null data.
    data_len: i32,
    meta: NodeMeta,
}

/// `data_len` of null data (jute's -1).
const NULL_LEN: i32 = -1;

/// See the module docs.
pub struct Node {
    ptr: NonNull<Inner>,
}

// SAFETY: as `Arc<NodeMeta>`: the metadata is `Send + Sync`, the data is
// immutable while shared, and the count is atomic.
unsafe impl Send for Node {}
// SAFETY: as above.
unsafe impl Sync for Node {}

const _: () = assert!(
    std::mem::size_of::<Inner>() == 88,
    "a node's header fills 88 bytes"
);

impl Node {
    fn layout(data_len: usize) -> Layout {
        let size = std::mem::size_of::<Inner>()
            .checked_add(data_len)
            .expect("node data shorter than memory");
        Layout::from_size_align(size, std::mem::align_of::<Inner>()).expect("a valid node layout")
    }

    /// A node of `meta` with `data` (`None`: null).
    pub fn with_data(meta: NodeMeta, data: Option<&[u8]>) -> Node {
        let len = data.map_or(0, <[u8]>::len);
        let data_len = match data {
            None => NULL_LEN,
            Some(d) => i32::try_from(d.len()).expect("node data under 2 GiB (the packet bound)"),
        };
        let layout = Node::layout(len);
        // SAFETY: the layout is not zero-sized (it holds the header); the
        // header and then `len` bytes are written before any read.
        unsafe {
            let raw = alloc(layout).cast::<Inner>();
            let Some(ptr) = NonNull::new(raw) else {
                handle_alloc_error(layout)
            };
            raw.write(Inner {
                count: RefCount::one(),
                data_len,
                meta,
            });
            if let Some(d) = data {
                std::ptr::copy_nonoverlapping(d.as_ptr(), Node::bytes_ptr(raw), len);
            }
            Node { ptr }
        }
    }

    /// Where the data begins in the allocation at `inner`.
    fn bytes_ptr(inner: *mut Inner) -> *mut u8 {
        // SAFETY (of the offset): the data follows the header in the same
        // allocation ([`Node::layout`]).
        unsafe { inner.cast::<u8>().add(std::mem::size_of::<Inner>()) }
    }

    fn inner(&self) -> &Inner {
        // SAFETY: the allocation lives while any handle does.
        unsafe { self.ptr.as_ref() }
    }

    /// The data, `None` when null.
    pub fn data(&self) -> Option<&[u8]> {
        let len = usize::try_from(self.inner().data_len).ok()?;
        // SAFETY: `len` bytes were written after the header at creation and
        // are changed only through a unique handle (`&mut self`).
        Some(unsafe { std::slice::from_raw_parts(Node::bytes_ptr(self.ptr.as_ptr()), len) })
    }

    /// Data length in bytes (0 for null, as `DataNode.copyStat` reports it).
    pub fn data_len(&self) -> usize {
        usize::try_from(self.inner().data_len).unwrap_or(0)
    }

    pub fn data_is_null(&self) -> bool {
        self.inner().data_len == NULL_LEN
    }

    fn is_unique(&self) -> bool {
        self.inner().count.is_one()
    }

    /// The metadata of this node, if no other handle shares it (for
    /// builders that know they hold the only one).
    pub fn get_mut(&mut self) -> Option<&mut NodeMeta> {
        if self.is_unique() {
            // SAFETY: the only handle, borrowed mutably.
            Some(unsafe { &mut self.ptr.as_mut().meta })
        } else {
            None
        }
    }

    /// Replaces the data (the metadata stays). In place when this handle is
    /// the only one and the length is unchanged; otherwise a new allocation.
    pub fn set_data(&mut self, data: Option<&[u8]>) {
        let same_shape = match data {
            None => self.data_is_null(),
            Some(d) => !self.data_is_null() && d.len() == self.data_len(),
        };
        if same_shape && self.is_unique() {
            if let Some(d) = data {
                // SAFETY: the only handle; the allocation holds `d.len()`
                // data bytes (same length), and `d` cannot alias them (no
                // shared borrow of this node's bytes outlives `&mut self`).
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        d.as_ptr(),
                        Node::bytes_ptr(self.ptr.as_ptr()),
                        d.len(),
                    )
                }
            }
            return;
        }
        *self = Node::with_data(self.inner().meta.clone(), data);
    }
}

impl Deref for Node {
    type Target = NodeMeta;

    fn deref(&self) -> &NodeMeta {
        &self.inner().meta
    }
}

impl DerefMut for Node {
    /// The metadata to change, copied first if another handle shares it.
    fn deref_mut(&mut self) -> &mut NodeMeta {
        if !self.is_unique() {
            *self = Node::with_data(self.inner().meta.clone(), self.data());
        }
        self.get_mut().expect("a fresh copy is unique")
    }
}

impl Clone for Node {
    fn clone(&self) -> Node {
        self.inner().count.retain();
        Node { ptr: self.ptr }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if !self.inner().count.release() {
            return;
        }
        let layout = Node::layout(self.data_len());
        // SAFETY: the last handle: the metadata is dropped once and the
        // allocation freed with the layout it was made with.
        unsafe {
            std::ptr::drop_in_place(&mut (*self.ptr.as_ptr()).meta);
            dealloc(self.ptr.as_ptr().cast(), layout);
        }
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("meta", &**self)
            .field("data", &self.data())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::types::Stat;
    use crate::tree::NodeKind;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn meta(version: i32) -> NodeMeta {
        let stat = Stat {
            version,
            ..Stat::default()
        };
        NodeMeta::new(Arc::new(Vec::new()), &stat, NodeKind::Persistent)
    }

    #[test]
    fn null_empty_and_bytes_read_back() {
        let n = Node::with_data(meta(0), None);
        assert!(n.data_is_null());
        assert_eq!((n.data(), n.data_len()), (None, 0));
        let e = Node::with_data(meta(0), Some(b""));
        assert!(!e.data_is_null());
        assert_eq!((e.data(), e.data_len()), (Some(&b""[..]), 0));
        let b = Node::with_data(meta(0), Some(b"abc"));
        assert_eq!((b.data(), b.data_len()), (Some(&b"abc"[..]), 3));
    }

    #[test]
    fn a_clone_never_sees_the_changes_of_another() {
        let mut a = Node::with_data(meta(1), Some(b"one"));
        let b = a.clone();
        a.stat.version = 2;
        a.set_data(Some(b"two"));
        assert_eq!((b.stat.version, b.data()), (1, Some(&b"one"[..])));
        assert_eq!((a.stat.version, a.data()), (2, Some(&b"two"[..])));
        let mut c = b.clone();
        c.set_data(None);
        assert_eq!((b.data(), c.data()), (Some(&b"one"[..]), None));
        assert_eq!(c.stat.version, 1);
    }

    #[test]
    fn a_unique_node_changes_in_place() {
        let mut a = Node::with_data(meta(1), Some(b"one"));
        let before = a.ptr;
        a.set_data(Some(b"two"));
        a.stat.version = 3;
        assert_eq!(a.ptr, before);
        assert_eq!((a.stat.version, a.data()), (3, Some(&b"two"[..])));
        // A new length needs a new allocation; the metadata comes along.
        a.set_data(Some(b"three"));
        assert_eq!((a.stat.version, a.data()), (3, Some(&b"three"[..])));
        let shared = a.clone();
        assert!(a.get_mut().is_none());
        drop(shared);
        assert!(a.get_mut().is_some());
    }

    #[test]
    fn the_metadata_is_dropped_with_the_last_handle() {
        let acl = Arc::new(Vec::new());
        let stat = Stat::default();
        let a = Node::with_data(
            NodeMeta::new(acl.clone(), &stat, NodeKind::Persistent),
            Some(b"x"),
        );
        let b = a.clone();
        assert_eq!(Arc::strong_count(&acl), 2);
        drop(a);
        assert_eq!(Arc::strong_count(&acl), 2);
        drop(b);
        assert_eq!(Arc::strong_count(&acl), 1);
    }

    #[test]
    fn handles_move_between_threads() {
        let a = Node::with_data(meta(7), Some(b"shared"));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let n = a.clone();
                std::thread::spawn(move || {
                    let copies: Vec<Node> = (0..1000).map(|_| n.clone()).collect();
                    copies.iter().all(|c| c.data() == Some(&b"shared"[..]))
                })
            })
            .collect();
        for h in handles {
            assert!(h.join().unwrap());
        }
        assert!(a.is_unique());
    }

    proptest! {
        /// Against a model (version, data) per handle: any sequence of
        /// clones, drops, data and Stat changes reads back as the model says.
        #[test]
        fn handles_behave_like_independent_values(
            ops in proptest::collection::vec(
                (0u8..4, 0usize..8, proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))),
                1..60,
            )
        ) {
            let mut nodes = vec![Node::with_data(meta(0), Some(b"start"))];
            let mut model: Vec<(i32, Option<Vec<u8>>)> = vec![(0, Some(b"start".to_vec()))];
            for (op, at, data) in ops {
                let i = at % nodes.len();
                match op {
                    0 => {
                        nodes.push(nodes[i].clone());
                        model.push(model[i].clone());
                    }
                    1 if nodes.len() > 1 => {
                        nodes.swap_remove(i);
                        model.swap_remove(i);
                    }
                    2 => {
                        nodes[i].set_data(data.as_deref());
                        model[i].1 = data;
                    }
                    _ => {
                        nodes[i].stat.version += 1;
                        model[i].0 += 1;
                    }
                }
                for (n, (v, d)) in nodes.iter().zip(&model) {
                    prop_assert_eq!(n.stat.version, *v);
                    prop_assert_eq!(n.data(), d.as_deref());
                    prop_assert_eq!(n.data_len(), d.as_ref().map_or(0, Vec::len));
                }
            }
        }
    }
}
