//! A warning log that repeats itself at most every 100 ms (ZooKeeper's
//! `RateLogger`, used for "Quota exceeded" lines).
//!
//! Why: a client that keeps writing over a quota must not flood the log.
//! Guarantees: a new message is logged at once; the same message again within
//! the interval is only counted, and logged with its count (`[N times]
//! Message: ...`) when the interval has passed or another message arrives.
//! Time is the caller's (the txn header's), so the log is deterministic.

use std::sync::Mutex;

/// ZooKeeper's `LOG_INTERVAL` for the server's RateLogger, in ms.
pub const INTERVAL_MS: i64 = 100;

#[derive(Debug, Default)]
struct State {
    msg: Option<String>,
    since_ms: i64,
    count: u64,
}

/// Shared by the sequencer's prep (one thread; the lock is never contended).
#[derive(Debug, Default)]
pub struct RateLog {
    state: Mutex<State>,
}

impl RateLog {
    /// Logs `msg` (a warning) or counts it; returns the line written, if any.
    pub fn warn(&self, msg: &str, now_ms: i64) -> Option<String> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.msg.as_deref() == Some(msg) {
            s.count += 1;
            if now_ms.wrapping_sub(s.since_ms) >= INTERVAL_MS {
                let line = flush(&mut s);
                s.msg = Some(msg.to_string());
                s.since_ms = now_ms;
                return line;
            }
            return None;
        }
        flush(&mut s);
        s.msg = Some(msg.to_string());
        s.since_ms = now_ms;
        let line = format!("Message:{msg} Value:null");
        tracing::warn!("{line}");
        Some(line)
    }
}

/// Writes the pending repeat count, if any, and forgets the message.
fn flush(s: &mut State) -> Option<String> {
    let line = match (&s.msg, s.count) {
        (Some(m), 1) => Some(format!("Message: {m}")),
        (Some(m), n) if n > 1 => Some(format!("[{n} times] Message: {m}")),
        _ => None,
    };
    if let Some(l) = &line {
        tracing::warn!("{l}");
    }
    s.msg = None;
    s.count = 0;
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_counted_and_flushed() {
        let log = RateLog::default();
        assert_eq!(log.warn("a", 0).as_deref(), Some("Message:a Value:null"));
        assert_eq!(log.warn("a", 10), None);
        assert_eq!(log.warn("a", 20), None);
        assert_eq!(log.warn("a", 150).as_deref(), Some("[3 times] Message: a"));
        assert_eq!(log.warn("b", 160).as_deref(), Some("Message:b Value:null"));
    }
}
