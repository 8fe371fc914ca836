//! fourlw (being built).
