//! A znode path as the tree's maps hold it: an immutable, reference-counted
//! string behind a thin (8-byte) pointer.
//!
//! Why (issue 6): every znode's path is a key of the node map and of its
//! parent's children set, one allocation shared by both. As an `Arc<str>`
//! each key is a 16-byte fat pointer; here the length lives in the
//! allocation, so a map entry of a key and an 8-byte value is 16 bytes, not
//! 24 (31 of them fill a 512-byte leaf instead of a 768-byte one), about
//! 16 bytes per znode over the two maps. The allocation's header is 8 bytes
//! (a 4-byte count and a 4-byte length), half an `Arc<str>`'s: a 31-byte
//! path fills mimalloc's 40-byte class instead of 48.
//!
//! Guarantees: a `PathKey` derefs to exactly the string it was made from,
//! compares, orders and hashes as that `str` (so maps keyed by it are
//! searched by `&str`), and frees its allocation when its last clone is
//! dropped; clones share the allocation (`Clone` is a counter increment).

use super::ref_count::RefCount;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;

/// The allocation's header; the string's bytes follow it.
#[repr(C)]
struct Header {
    count: RefCount,
    /// Paths are bounded by the packet size, far below 4 GiB.
    len: u32,
}

const HEADER: usize = std::mem::size_of::<Header>();

pub struct PathKey {
    ptr: NonNull<Header>,
}

// SAFETY: the string is immutable and the count atomic, as in `Arc<str>`.
unsafe impl Send for PathKey {}
// SAFETY: as above.
unsafe impl Sync for PathKey {}

impl PathKey {
    fn layout(len: usize) -> Layout {
        let size = HEADER.checked_add(len).expect("a path shorter than memory");
        Layout::from_size_align(size, std::mem::align_of::<Header>()).expect("a valid layout")
    }

    pub fn new(s: &str) -> PathKey {
        let layout = PathKey::layout(s.len());
        // SAFETY: the layout is not zero-sized (it holds the header); the
        // header and then `len` bytes are written before any read.
        unsafe {
            let raw = alloc(layout).cast::<Header>();
            let Some(ptr) = NonNull::new(raw) else {
                handle_alloc_error(layout)
            };
            raw.write(Header {
                count: RefCount::one(),
                len: u32::try_from(s.len()).expect("a path under 4 GiB (the packet bound)"),
            });
            let bytes = raw.cast::<u8>().add(HEADER);
            std::ptr::copy_nonoverlapping(s.as_ptr(), bytes, s.len());
            PathKey { ptr }
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the allocation lives while any clone does.
        unsafe { self.ptr.as_ref() }
    }

    pub fn as_str(&self) -> &str {
        let len = self.header().len as usize;
        // SAFETY: `len` bytes of a `str` were copied after the header and
        // never change.
        unsafe {
            let bytes = self.ptr.as_ptr().cast::<u8>().add(HEADER);
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(bytes, len))
        }
    }
}

impl Clone for PathKey {
    fn clone(&self) -> PathKey {
        self.header().count.retain();
        PathKey { ptr: self.ptr }
    }
}

impl Drop for PathKey {
    fn drop(&mut self) {
        if !self.header().count.release() {
            return;
        }
        let layout = PathKey::layout(self.header().len as usize);
        // SAFETY: this was the last clone; the allocation was made with
        // this layout.
        unsafe { dealloc(self.ptr.as_ptr().cast::<u8>(), layout) };
    }
}

impl Deref for PathKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for PathKey {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for PathKey {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for PathKey {
    fn from(s: &str) -> PathKey {
        PathKey::new(s)
    }
}

impl PartialEq for PathKey {
    fn eq(&self, other: &PathKey) -> bool {
        self.ptr == other.ptr || self.as_str() == other.as_str()
    }
}

impl Eq for PathKey {}

impl PartialOrd for PathKey {
    fn partial_cmp(&self, other: &PathKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PathKey {
    fn cmp(&self, other: &PathKey) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for PathKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for PathKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for PathKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn is_thin_and_reads_back() {
        assert_eq!(std::mem::size_of::<PathKey>(), 8);
        assert_eq!(HEADER, 8, "a 4-byte count and a 4-byte length");
        assert_eq!(std::mem::size_of::<Option<PathKey>>(), 8);
        for s in ["", "/", "/zookeeper/quota", "/é/∂/\u{10348}"] {
            let k = PathKey::from(s);
            let c = k.clone();
            drop(k);
            assert_eq!(&*c, s);
            assert_eq!(c.to_string(), s);
        }
    }

    #[test]
    fn clones_share_until_the_last_goes() {
        let k = PathKey::from("/a/b");
        let clones: Vec<PathKey> = (0..100).map(|_| k.clone()).collect();
        assert_eq!(k.header().count.get(), 101);
        assert!(clones.iter().all(|c| c.ptr == k.ptr));
        drop(clones);
        assert_eq!(k.header().count.get(), 1);
        let across = std::thread::spawn({
            let k = k.clone();
            move || k.len()
        });
        assert_eq!(across.join().unwrap(), 4);
    }

    proptest! {
        /// Compares, orders and hashes as its str.
        #[test]
        fn behaves_as_its_str(a in ".{0,12}", b in ".{0,12}") {
            let (ka, kb) = (PathKey::from(a.as_str()), PathKey::from(b.as_str()));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(ka == kb, a == b);
            let hash = |x: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                x(&mut h);
                h.finish()
            };
            prop_assert_eq!(hash(&|h| ka.hash(h)), hash(&|h| a.as_str().hash(h)));
        }
    }
}
