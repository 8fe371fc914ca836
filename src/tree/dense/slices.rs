//! Exactly sized, `Arc`-shared entry slices: the storage of every
//! [`super::DenseMap`] node, and the few ways of rebuilding one.
//!
//! Why: a node of a persistent map is rebuilt whenever a version changes
//! it. Built here, a node is one allocation of exactly its entries (no
//! spare capacity, no `Vec` in between), and the old node's entries are
//! moved into the new one when the old node has no other holder (a version
//! nobody shares), cloned otherwise (a shared version must not change).
//!
//! Guarantees: every function returns slices holding exactly the entries
//! it was given, in the order given, each entry exactly once (moved or
//! cloned); a slice another holder shares is never changed. A panic while
//! building (only an entry's `clone` can panic) leaks entries, never
//! drops one twice.

use std::mem::{ManuallyDrop, MaybeUninit};
use std::sync::Arc;

/// A slice of `len` entries being filled, front to back.
pub(super) struct Exact<T> {
    slots: Option<Arc<[MaybeUninit<T>]>>,
    /// The first slot (`slots` is ours alone while we fill it).
    base: *mut MaybeUninit<T>,
    len: usize,
    filled: usize,
}

impl<T> Exact<T> {
    pub(super) fn new(len: usize) -> Exact<T> {
        let mut slots = Arc::<[T]>::new_uninit_slice(len);
        let base = Arc::get_mut(&mut slots)
            .expect("a new slice has one holder")
            .as_mut_ptr();
        Exact {
            slots: Some(slots),
            base,
            len,
            filled: 0,
        }
    }

    pub(super) fn push(&mut self, entry: T) {
        assert!(self.filled < self.len, "more entries than the slice holds");
        // SAFETY: `filled < len`, the slice is ours alone, the slot is not
        // yet initialised.
        unsafe { self.base.add(self.filled).write(MaybeUninit::new(entry)) };
        self.filled += 1;
    }

    /// Moves the next `n` entries of `from` in.
    pub(super) fn take(&mut self, from: &mut impl Iterator<Item = T>, n: usize) {
        for _ in 0..n {
            self.push(from.next().expect("enough entries to fill the slice"));
        }
    }

    pub(super) fn finish(mut self) -> Arc<[T]> {
        assert_eq!(self.filled, self.len, "a slice left partly filled");
        let slots = self.slots.take().expect("finish runs once");
        // SAFETY: all `len` slots were written.
        unsafe { slots.assume_init() }
    }
}

impl<T> Drop for Exact<T> {
    fn drop(&mut self) {
        if self.slots.is_some() {
            for i in 0..self.filled {
                // SAFETY: the first `filled` slots are initialised and ours.
                unsafe { (*self.base.add(i)).assume_init_drop() };
            }
        }
    }
}

/// The entries of a slice by value: moved out when it had no other
/// holder, cloned otherwise.
pub(super) enum Entries<T> {
    Moved {
        /// Kept for its allocation; its entries are read out by `base`.
        _slice: Arc<[ManuallyDrop<T>]>,
        base: *mut ManuallyDrop<T>,
        next: usize,
        len: usize,
    },
    Cloned {
        slice: Arc<[T]>,
        next: usize,
    },
}

impl<T: Clone> Entries<T> {
    pub(super) fn new(mut slice: Arc<[T]>) -> Entries<T> {
        if Arc::get_mut(&mut slice).is_none() {
            return Entries::Cloned { slice, next: 0 };
        }
        let len = slice.len();
        // SAFETY: `ManuallyDrop<T>` is `repr(transparent)` over `T`, so the
        // allocation has the same layout; dropping the result frees it
        // without dropping the entries, which we move out one by one.
        let mut slice: Arc<[ManuallyDrop<T>]> =
            unsafe { Arc::from_raw(Arc::into_raw(slice) as *const [ManuallyDrop<T>]) };
        let base = Arc::get_mut(&mut slice)
            .expect("checked to have one holder")
            .as_mut_ptr();
        Entries::Moved {
            _slice: slice,
            base,
            next: 0,
            len,
        }
    }
}

impl<T: Clone> Iterator for Entries<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match self {
            Entries::Moved {
                base, next, len, ..
            } => {
                if *next == *len {
                    return None;
                }
                // SAFETY: entry `next` is initialised and not yet moved out;
                // `next` advances past it, so it is read once.
                let entry = unsafe { ManuallyDrop::take(&mut *base.add(*next)) };
                *next += 1;
                Some(entry)
            }
            Entries::Cloned { slice, next } => {
                let entry = slice.get(*next)?.clone();
                *next += 1;
                Some(entry)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match self {
            Entries::Moved { next, len, .. } => len - next,
            Entries::Cloned { slice, next } => slice.len() - next,
        };
        (left, Some(left))
    }
}

impl<T: Clone> ExactSizeIterator for Entries<T> {}

impl<T> Drop for Entries<T> {
    fn drop(&mut self) {
        if let Entries::Moved {
            base, next, len, ..
        } = self
        {
            for i in *next..*len {
                // SAFETY: entries from `next` on were not moved out.
                unsafe { ManuallyDrop::drop(&mut *base.add(i)) };
            }
        }
    }
}

/// A slice of the first `len` entries of `from`.
pub(super) fn collect<T>(len: usize, from: &mut impl Iterator<Item = T>) -> Arc<[T]> {
    let mut out = Exact::new(len);
    out.take(from, len);
    out.finish()
}

/// `slice` with `entry` inserted at `at`.
pub(super) fn inserted<T: Clone>(slice: Arc<[T]>, at: usize, entry: T) -> Arc<[T]> {
    let len = slice.len();
    assert!(at <= len, "insert position past the end");
    let mut from = Entries::new(slice);
    let mut out = Exact::new(len + 1);
    out.take(&mut from, at);
    out.push(entry);
    out.take(&mut from, len - at);
    out.finish()
}

/// `slice` without its entry at `at`, and that entry.
pub(super) fn removed<T: Clone>(slice: Arc<[T]>, at: usize) -> (Arc<[T]>, T) {
    let len = slice.len();
    assert!(at < len, "remove position past the end");
    let mut from = Entries::new(slice);
    let mut out = Exact::new(len - 1);
    out.take(&mut from, at);
    let entry = from.next().expect("at < len");
    out.take(&mut from, len - at - 1);
    (out.finish(), entry)
}

/// The entries of `a` then `b`, regrouped as `left` entries and the rest.
pub(super) fn regrouped<T: Clone>(a: Arc<[T]>, b: Arc<[T]>, left: usize) -> (Arc<[T]>, Arc<[T]>) {
    let total = a.len() + b.len();
    assert!(left <= total, "regroup past the end");
    let mut from = Entries::new(a).chain(Entries::new(b));
    let l = collect(left, &mut from);
    let r = collect(total - left, &mut from);
    (l, r)
}

/// `slice` cut into its first `left` entries and the rest.
pub(super) fn split<T: Clone>(slice: Arc<[T]>, left: usize) -> (Arc<[T]>, Arc<[T]>) {
    let total = slice.len();
    assert!(left <= total, "split past the end");
    let mut from = Entries::new(slice);
    let l = collect(left, &mut from);
    let r = collect(total - left, &mut from);
    (l, r)
}

/// The entries of `a` then `b` in one slice.
pub(super) fn merged<T: Clone>(a: Arc<[T]>, b: Arc<[T]>) -> Arc<[T]> {
    let total = a.len() + b.len();
    let mut from = Entries::new(a).chain(Entries::new(b));
    collect(total, &mut from)
}

/// `slice`, changeable: copied first if another holder shares it.
pub(super) fn unique<T: Clone>(slice: &mut Arc<[T]>) -> &mut [T] {
    if Arc::get_mut(slice).is_none() {
        let len = slice.len();
        *slice = collect(len, &mut slice.iter().cloned());
    }
    Arc::get_mut(slice).expect("a fresh copy has one holder")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts live instances, to catch double drops and leaks.
    static LIVE: AtomicUsize = AtomicUsize::new(0);

    #[derive(Debug, PartialEq)]
    struct Counted(u32);
    impl Counted {
        fn new(v: u32) -> Counted {
            LIVE.fetch_add(1, Ordering::SeqCst);
            Counted(v)
        }
    }
    impl Clone for Counted {
        fn clone(&self) -> Counted {
            Counted::new(self.0)
        }
    }
    impl Drop for Counted {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn slice(vals: &[u32]) -> Arc<[Counted]> {
        collect(vals.len(), &mut vals.iter().map(|v| Counted::new(*v)))
    }

    fn vals(s: &[Counted]) -> Vec<u32> {
        s.iter().map(|c| c.0).collect()
    }

    #[test]
    fn moves_when_unshared_clones_when_shared_and_drops_each_entry_once() {
        {
            let a = slice(&[1, 2, 3]);
            let a = inserted(a, 1, Counted::new(9));
            assert_eq!(vals(&a), [1, 9, 2, 3]);
            assert_eq!(LIVE.load(Ordering::SeqCst), 4, "moved, not cloned");
            let kept = a.clone();
            let (b, gone) = removed(a, 0);
            assert_eq!((vals(&b), gone.0), (vec![9, 2, 3], 1));
            assert_eq!(vals(&kept), [1, 9, 2, 3], "a shared slice is unchanged");
            drop(gone);
            let (l, r) = regrouped(b, slice(&[4, 5]), 4);
            assert_eq!((vals(&l), vals(&r)), (vec![9, 2, 3, 4], vec![5]));
            let (l2, r2) = split(merged(l, r), 2);
            assert_eq!((vals(&l2), vals(&r2)), (vec![9, 2], vec![3, 4, 5]));
            let mut shared = l2.clone();
            unique(&mut shared)[0] = Counted::new(7);
            assert_eq!((vals(&shared), vals(&l2)), (vec![7, 2], vec![9, 2]));
            // A partly consumed iterator drops the rest.
            let mut e = Entries::new(r2);
            drop(e.next());
            drop(e);
            drop(kept);
        }
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);
    }
}
