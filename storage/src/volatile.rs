//! A txn log that keeps nothing: the in-memory stage of Warden.
//!
//! It hands out batch ids in order and "flushes" at once. It exists so the
//! sequencer is already written against the append/flush/[`Durable`] cycle
//! the real log will use; swapping it for the file log changes no caller.

use crate::durable::{BatchId, Durable};

/// The in-memory log: counts batches, stores nothing.
#[derive(Debug, Default)]
pub struct VolatileLog {
    next: u64,
    flushed: Option<BatchId>,
}

impl VolatileLog {
    pub fn new() -> VolatileLog {
        VolatileLog::default()
    }

    /// Appends a batch of `records` encoded transactions; returns its id.
    pub fn append(&mut self, _records: usize) -> BatchId {
        let id = BatchId(self.next);
        self.next += 1;
        id
    }

    /// Flushes everything appended up to and including `batch`.
    pub fn flush(&mut self, batch: BatchId) -> Durable<BatchId> {
        assert!(batch.0 < self.next, "flush of a batch never appended");
        if let Some(done) = self.flushed {
            assert!(batch > done, "batches are flushed in order, once");
        }
        self.flushed = Some(batch);
        Durable::after_flush(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_flush_in_order() {
        let mut log = VolatileLog::new();
        let a = log.append(3);
        let b = log.append(1);
        assert_eq!(*log.flush(a).get(), BatchId(0));
        assert_eq!(*log.flush(b).get(), BatchId(1));
    }

    #[test]
    #[should_panic(expected = "in order")]
    fn reflushing_a_batch_is_a_programmer_error() {
        let mut log = VolatileLog::new();
        let a = log.append(1);
        log.flush(a);
        log.flush(a);
    }
}
