//! Warden's storage: where writes become durable before anyone is told.
//!
//! The one rule this crate exists to enforce is *persistence before promises*:
//! a reply, an ack or a commit may only be released for a batch of
//! transactions that a log has flushed. That ordering is a type, [`Durable`],
//! which only a log's flush can construct; the sequencer cannot publish a
//! batch without holding one.
//!
//! Today the only log is [`volatile::VolatileLog`], which keeps nothing: Warden
//! is in-memory until the durable txn log lands, and the README says so.

pub mod durable;
pub mod volatile;

pub use durable::{BatchId, Durable};
