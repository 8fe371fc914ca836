//! Write validation and execution (being built).
