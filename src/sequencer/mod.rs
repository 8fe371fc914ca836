//! The sequencer: orders every write, applies it and publishes tree versions.
//!
//! [`core`] is the pure state machine; [`runtime`] is the glommio adapter
//! that feeds it events and carries out its commands; [`prep`] is how one
//! write is validated and applied; [`outcome`] is what gets published.

pub mod core;
pub mod intake;
pub mod outcome;
pub mod prep;
pub mod rate_log;
pub mod runtime;
