//! Transactions (being built).
