//! Four-letter words: ZooKeeper's plain-text admin commands (`ruok`, `srvr`,
//! `stat`, `mntr`, `cons`, `dump`, `wchs`, ...).
//!
//! Operators' scripts, `zkServer.sh status` and monitoring agents send four
//! ASCII bytes on a fresh client connection and parse the text that comes
//! back. This module recognises exactly the byte strings ZooKeeper 3.8
//! treats as commands ([`FourLetterWord::from_prefix`]) and gates them with
//! `4lw.commands.whitelist` ([`Whitelist`]).

mod word;

pub use word::{not_whitelisted_reply, Effect, FourLetterWord, Whitelist};
