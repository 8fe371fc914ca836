//! Start-up environment checks (being built).
