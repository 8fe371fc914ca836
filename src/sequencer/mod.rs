//! sequencer (being built).
