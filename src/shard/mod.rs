//! A shard: one glommio executor that owns client connections.
//!
//! Each shard binds the client port itself (SO_REUSEPORT, so the kernel
//! spreads connections), decodes requests, answers reads from the newest
//! tree version it has processed, forwards writes to the sequencer, and
//! applies every published batch in order: switch tree version, fire
//! watches, release replies. It shares nothing mutable with other shards
//! except counters and the connection registry the four-letter words read.

pub mod auth;
pub mod connection;
pub mod flush;
pub mod peers;
pub mod pipeline;
pub mod reads;
pub mod sasl;
pub mod state;
pub mod visibility;

pub use state::{ServerShared, Shard, ShardLimits};
