//! Cross-shard read freshness: once any client has seen the reply to a
//! write, every read that arrives afterwards, on any shard, sees that write.
//!
//! A standalone ZooKeeper has one tree, so this holds there and clients
//! (and their tests) rely on it. Shards apply published batches
//! independently, a few microseconds apart, so a shard that is behind could
//! otherwise answer a read with a tree older than a reply another shard has
//! already released. The rule: before a shard releases any reply of batch
//! `k`, it raises the server-wide `released` watermark to `k + 1`; a read
//! that finds its shard's applied count below the watermark waits until the
//! shard has applied that far, and is answered right after the batch that
//! brings it there (before the next one, so it never sees a later write of
//! its own session).

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

/// The server-wide watermark of batches whose replies have been released.
#[derive(Debug, Default)]
pub struct Visibility {
    released: AtomicU64,
}

impl Visibility {
    pub fn new() -> Visibility {
        Visibility::default()
    }

    /// Batches `[0, count)` may now have replies out.
    pub fn release(&self, count: u64) {
        self.released.fetch_max(count, SeqCst);
    }

    /// How many batches a read must see applied.
    pub fn released(&self) -> u64 {
        self.released.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_only_rises() {
        let v = Visibility::new();
        assert_eq!(v.released(), 0);
        v.release(3);
        v.release(2);
        assert_eq!(v.released(), 3);
    }
}
