//! Warden's durable storage (txn log, snapshots, recovery).
//!
//! Not built yet: Warden keeps its state in memory until the storage issue
//! lands, and the README says so.
