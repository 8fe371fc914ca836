//! shard (being built).
