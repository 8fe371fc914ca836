//! The proof that a batch is on stable storage (or, for the volatile log,
//! that it was accepted by the only storage there is).
//!
//! [`Durable`] has no public constructor: only the logs in this crate create
//! one, and only after their flush of that batch completed. A group commit
//! covers several batches at once; it hands out one [`Durable`] per batch, in
//! order, through [`DurableBatches`].

/// Sequence number of an appended batch, increasing by one per append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(pub u64);

/// A value (usually a [`BatchId`]) whose backing log records are flushed.
#[derive(Debug, PartialEq, Eq)]
pub struct Durable<T> {
    value: T,
}

impl<T> Durable<T> {
    /// Only for logs in this crate, after their flush returned.
    pub(crate) fn after_flush(value: T) -> Durable<T> {
        Durable { value }
    }

    pub fn get(&self) -> &T {
        &self.value
    }
}

/// The batches one completed flush made durable, oldest first: one
/// [`Durable`] each, so a caller that publishes batch by batch needs no
/// change when one fdatasync covers many of them.
#[derive(Debug, PartialEq, Eq)]
pub struct DurableBatches {
    next: u64,
    end: u64,
}

impl DurableBatches {
    /// Batches `from..end` (end exclusive); only after their flush.
    pub(crate) fn after_flush(from: u64, end: u64) -> DurableBatches {
        assert!(from <= end, "durable range {from}..{end} runs backwards");
        DurableBatches { next: from, end }
    }

    /// The newest batch covered, if any.
    pub fn upto(&self) -> Option<BatchId> {
        (self.next < self.end).then(|| BatchId(self.end - 1))
    }
}

impl Iterator for DurableBatches {
    type Item = Durable<BatchId>;

    fn next(&mut self) -> Option<Durable<BatchId>> {
        if self.next == self.end {
            return None;
        }
        let id = BatchId(self.next);
        self.next += 1;
        Some(Durable::after_flush(id))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end - self.next) as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for DurableBatches {}
