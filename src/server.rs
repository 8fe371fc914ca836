//! Server assembly (being built).
