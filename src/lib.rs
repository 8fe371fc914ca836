//! Warden: a ZooKeeper-compatible coordination service.
//!
//! The request pipeline is assembled in one place, [`server`]; read that first.
//! Shards ([`shard`]) own client connections and serve reads from an immutable
//! tree version ([`tree`]); the sequencer ([`sequencer`]) orders every write,
//! applies it and publishes the next version. [`proto`] is the wire codec.

pub mod config;
pub mod fourlw;
pub mod preflight;
pub mod proto;
pub mod sasl;
pub mod sequencer;
pub mod server;
pub mod session;
pub mod shard;
pub mod tools;
pub mod tree;
pub mod txn;
pub mod watch;
