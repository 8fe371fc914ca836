//! The 4-byte reference count inside the tree's thin shared allocations
//! ([`super::PathKey`], [`super::Node`]).
//!
//! Why: both keep their count in the allocation's header, next to a
//! length, to stay small (issue 6); the ordering rules that make a count
//! safe to share between threads belong in one place.
//!
//! Guarantees (as `std::sync::Arc`'s count): [`RefCount::retain`] never
//! lets the count overflow (it aborts first); [`RefCount::release`]
//! returns true to exactly one caller, the last, and by then every other
//! holder's use of the allocation happens before that caller's free.

use std::sync::atomic::{fence, AtomicU32, Ordering};

/// Above this many holders the count could overflow: abort, as `Arc` does.
/// Far above what memory allows (every holder lives in a map entry or a
/// handle of at least 8 bytes: 2^31 of them are 16 GiB).
const MAX_COUNT: u32 = u32::MAX / 2;

/// See the module docs.
#[derive(Debug)]
pub(super) struct RefCount(AtomicU32);

impl RefCount {
    /// The count of a fresh allocation: its one holder.
    pub fn one() -> RefCount {
        RefCount(AtomicU32::new(1))
    }

    /// One more holder.
    pub fn retain(&self) {
        let old = self.0.fetch_add(1, Ordering::Relaxed);
        if old > MAX_COUNT {
            std::process::abort();
        }
    }

    /// One holder fewer; true when it was the last (the caller frees).
    pub fn release(&self) -> bool {
        if self.0.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        // Every other holder's use happens before the free.
        fence(Ordering::Acquire);
        true
    }

    /// Whether the caller's holder is the only one (then, holding it
    /// mutably, the caller may change the allocation in place).
    pub fn is_one(&self) -> bool {
        // Acquire: see every change other holders made before they let go.
        self.0.load(Ordering::Acquire) == 1
    }

    #[cfg(test)]
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_release_frees() {
        let c = RefCount::one();
        c.retain();
        c.retain();
        assert_eq!(c.get(), 3);
        assert!(!c.is_one());
        assert!(!c.release());
        assert!(!c.release());
        assert!(c.is_one());
        assert!(c.release());
    }
}
