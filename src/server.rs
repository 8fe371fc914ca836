//! Server assembly (being built).
//!
//! TEMPORARY STUB from the `cfg` branch so the binary compiles; the runtime
//! owner replaces this file.

/// Runs the server until shutdown.
pub fn run(_: crate::config::Config) -> Result<(), String> {
    Err("server not built yet".into())
}
