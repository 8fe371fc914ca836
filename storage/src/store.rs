//! The one log type the sequencer runtime holds, whichever mode the server
//! runs in.
//!
//! An enum rather than a trait object: there are exactly two modes, the
//! runtime stays monomorphic (no `dyn`, no generic parameter rippling
//! through the server), and the match costs nothing next to a memcpy.

use crate::durable::{BatchId, DurableBatches};
use crate::log::{FlushTicket, LogError, Record, Spare, SparePlan, Synced, TxnLog};
use crate::volatile::VolatileLog;

/// The sequencer's log: in memory, or files on disk.
pub enum Log {
    Volatile(VolatileLog),
    /// Boxed: the file log is much larger than the volatile one.
    File(Box<TxnLog>),
}

impl Log {
    /// Whether appended bytes are kept (the caller may skip encoding txns
    /// for the volatile log).
    pub fn keeps_records(&self) -> bool {
        matches!(self, Log::File(_))
    }

    pub fn append(&mut self, records: &[Record<'_>]) -> Result<BatchId, LogError> {
        match self {
            Log::Volatile(log) => Ok(log.append(records.len())),
            Log::File(log) => log.append(records),
        }
    }

    pub fn begin_flush(&mut self) -> Option<FlushTicket> {
        match self {
            Log::Volatile(log) => log.begin_flush(),
            Log::File(log) => log.begin_flush(),
        }
    }

    pub fn complete_flush(&mut self, proof: Synced) -> Result<DurableBatches, LogError> {
        match self {
            Log::Volatile(log) => Ok(log.complete_flush(proof)?),
            Log::File(log) => log.complete_flush(proof),
        }
    }

    pub fn flush_in_flight(&self) -> bool {
        match self {
            Log::Volatile(log) => log.flush_in_flight(),
            Log::File(log) => log.flush_in_flight(),
        }
    }

    pub fn spare_wanted(&mut self) -> Option<SparePlan> {
        match self {
            Log::Volatile(_) => None,
            Log::File(log) => log.spare_wanted(),
        }
    }

    /// See [`TxnLog::spare_failed`].
    pub fn spare_failed(&mut self) {
        if let Log::File(log) = self {
            log.spare_failed();
        }
    }

    pub fn install_spare(&mut self, spare: Spare) {
        match self {
            Log::Volatile(_) => panic!("the volatile log has no files"),
            Log::File(log) => log.install_spare(spare),
        }
    }
}
