//! The ZooKeeper client wire protocol: jute records over length-prefixed frames.

pub mod requests;
pub mod responses;
pub mod types;
