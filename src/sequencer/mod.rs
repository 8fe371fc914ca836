//! The sequencer: orders every write, applies it and publishes tree versions.

pub mod prep;
