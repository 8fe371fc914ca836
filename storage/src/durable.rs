//! The proof that a batch is on stable storage (or, for the volatile log,
//! that it was accepted by the only storage there is).
//!
//! [`Durable`] has no public constructor: only the logs in this crate create
//! one, and only after their flush of that batch completed.

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
