//! A txn log that keeps nothing: the in-memory mode.
//!
//! It hands out batch ids in order and "flushes" at once (its tickets sync
//! nothing). It exists so the sequencer drives the same append / flush /
//! [`Durable`] cycle in both modes; swapping it for the file log changes no
//! caller.

use crate::durable::{BatchId, Durable, DurableBatches};
use crate::log::flush::{FlushError, FlushState, FlushTicket, Synced};

/// The in-memory log: counts batches, stores nothing.
#[derive(Debug)]
pub struct VolatileLog {
    state: FlushState,
}

impl Default for VolatileLog {
    fn default() -> VolatileLog {
        VolatileLog {
            state: FlushState::new(),
        }
    }
}

impl VolatileLog {
    pub fn new() -> VolatileLog {
        VolatileLog::default()
    }

    /// Appends a batch of `records` encoded transactions; returns its id.
    pub fn append(&mut self, _records: usize) -> BatchId {
        BatchId(self.state.take_batch_id())
    }

    /// Flushes everything appended up to and including `batch`.
    pub fn flush(&mut self, batch: BatchId) -> Durable<BatchId> {
        self.state
            .flush_now(batch.0)
            .last()
            .expect("a flush covers at least its batch")
    }

    /// As [`crate::log::TxnLog::begin_flush`]; the ticket syncs nothing.
    pub fn begin_flush(&mut self) -> Option<FlushTicket> {
        self.state
            .can_begin()
            .then(|| self.state.begin(Vec::new(), None, false))
    }

    pub fn complete_flush(&mut self, proof: Synced) -> Result<DurableBatches, FlushError> {
        self.state.complete(proof)
    }

    pub fn flush_in_flight(&self) -> bool {
        self.state.in_flight()
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

    #[test]
    fn tickets_cover_everything_appended_before_them() {
        let mut log = VolatileLog::new();
        log.append(1);
        log.append(1);
        let ticket = log.begin_flush().expect("two batches to flush");
        log.append(1);
        assert!(log.begin_flush().is_none(), "one ticket at a time");
        let done: Vec<_> = log
            .complete_flush(ticket.sync_blocking().unwrap())
            .unwrap()
            .map(|d| *d.get())
            .collect();
        assert_eq!(done, vec![BatchId(0), BatchId(1)]);
        let ticket = log.begin_flush().expect("the third batch");
        assert_eq!(ticket.batches(), 2..3);
        assert_eq!(ticket.sync_count(), 0);
        let _ = log.complete_flush(ticket.sync_blocking().unwrap()).unwrap();
    }
}
