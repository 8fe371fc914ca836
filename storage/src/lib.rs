//! Warden's storage: where writes become durable before anyone is told.
//!
//! The one rule this crate exists to enforce is *persistence before promises*:
//! a reply, an ack or a commit may only be released for a batch of
//! transactions that a log has flushed. That ordering is a type, [`Durable`],
//! which only a log's flush can construct; the sequencer cannot publish a
//! batch without holding one.
//!
//! The crate knows nothing about txns or trees: a log record is opaque bytes
//! tagged with a zxid, a snapshot is opaque bytes tagged with the zxid it is
//! exact at. The server serialises both.
//!
//! - [`log`] is the preallocated, memory-mapped, CRC32C-framed txn log with
//!   group commit ([`log::TxnLog`]), and [`volatile::VolatileLog`], the
//!   in-memory mode; [`store::Log`] holds either behind one API.
//! - [`snapshot`] writes atomic snapshot files and the `snapCount` trigger.
//! - [`recovery`] finds the newest valid snapshot + the log records after it, with
//!   torn tails cut off and reported and mid-log corruption refused.
//! - [`purge`] implements `autopurge.snapRetainCount`.
//! - [`writeback`] paces large background writes (snapshots, the next log
//!   file's zero fill) so the log's fdatasync never queues behind them.
//! - [`dump`] is what `warden log-dump` / `warden snap-dump` render.

pub mod dump;
pub mod durable;
mod fsutil;
pub mod log;
pub mod purge;
pub mod recovery;
pub mod snapshot;
pub mod store;
pub mod volatile;
pub mod writeback;

pub use durable::{BatchId, Durable, DurableBatches};
pub use fsutil::VERSION_DIR;

/// A transaction id as the log sees it (ZooKeeper's zxid, unsigned; 0 is
/// never a record's zxid).
pub type Zxid = u64;

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod testutil;
