//! Four-letter words: ZooKeeper's plain-text admin commands (`ruok`, `srvr`,
//! `stat`, `mntr`, `cons`, `dump`, `wchs`, ...).
//!
//! Operators' scripts, `zkServer.sh status` and monitoring agents send four
//! ASCII bytes on a fresh client connection and parse the text that comes
//! back, so this module guarantees three things:
//!
//! - recognition: [`FourLetterWord::from_prefix`] accepts exactly the byte
//!   strings ZooKeeper 3.8 treats as commands (anything else is a length
//!   prefix);
//! - gating: [`respond`] answers a command missing from
//!   `4lw.commands.whitelist` with ZooKeeper's own refusal line;
//! - formats: [`render`] lays each reply out line for line like ZooKeeper
//!   3.8, from a plain [`ServerSnapshot`] the runtime fills, so rendering
//!   has no access to (and no locks on) live server state.
//!
//! Side effects (`srst`, `crst`, `stmk`) are the runtime's job; see
//! [`FourLetterWord::effect`].

mod render;
mod snapshot;
mod word;

#[cfg(test)]
mod tests;

pub(crate) use render::civil_from_days;
pub use render::{hex, java_date_utc, java_double, java_socket_addr, render, respond, NOT_SERVING};
pub use snapshot::{
    file_descriptor_counts, ConfValues, ConnectionInfo, ConnectionSession, Environment,
    LeaderStats, Metric, ServerSnapshot, ServerState, SessionEphemerals, SessionExpiry, Summary,
    WatchEntry, VERSION,
};
pub use word::{not_whitelisted_reply, Effect, FourLetterWord, Whitelist};
