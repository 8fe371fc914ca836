//! Session bookkeeping for the sequencer, which owns all session state.
//!
//! ZooKeeper clients observe sessions through four things: the negotiated
//! timeout in the connect response, the session id (server id in the high
//! byte), the 16-byte password they must present on reconnect, and *when*
//! an idle session expires. This module reproduces each of them as
//! ZooKeeper 3.8 does (`ZooKeeperServer`, `SessionTrackerImpl`,
//! `ExpiryQueue`), as plain data structures: no threads, no clocks — the
//! caller passes the current time in milliseconds — so the sequencer's state
//! machine and the deterministic simulator can drive them step by step.
//!
//! Guarantees:
//! - [`negotiate_timeout`] clamps exactly as `processConnectRequest`.
//! - [`SessionIdGenerator`] lays ids out as `initializeNextSessionId`.
//! - [`password_for`] is deterministic per (session id, secret) and keyed,
//!   and [`check_password`] compares in constant time.
//! - [`SessionTracker`] expires sessions in tick-aligned batches, rounding
//!   each deadline up to the next tick boundary, and reports each expired
//!   session once; it holds at most a configured number of sessions.

mod id;
mod password;
mod tracker;

pub use id::{SessionIdGenerator, STANDALONE_SERVER_ID};
pub use password::{check_password, password_for, passwords_equal, PASSWORD_LEN};
pub use tracker::{SessionError, SessionInfo, SessionTracker};

/// Clamps a client's requested session timeout into `[min_ms, max_ms]`.
///
/// ZooKeeper raises the request to the minimum first and then lowers it to
/// the maximum, so if a misconfiguration makes `min_ms > max_ms` the maximum
/// wins. The result is what the connect response carries and what the
/// session is tracked with.
pub fn negotiate_timeout(requested_ms: i32, min_ms: i32, max_ms: i32) -> i32 {
    let raised = if requested_ms < min_ms {
        min_ms
    } else {
        requested_ms
    };
    if raised > max_ms {
        max_ms
    } else {
        raised
    }
}

/// The `(min, max)` session timeout bounds a server uses, from `zoo.cfg`.
///
/// `minSessionTimeout`/`maxSessionTimeout` of `-1` (unset) default to
/// 2 and 20 ticks, as `ZooKeeperServer.setMin/MaxSessionTimeout` do.
pub fn timeout_bounds(tick_ms: i32, min_ms: i32, max_ms: i32) -> (i32, i32) {
    let min = if min_ms == -1 { tick_ms * 2 } else { min_ms };
    let max = if max_ms == -1 { tick_ms * 20 } else { max_ms };
    (min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_clamps_like_zookeeper() {
        // (requested, min, max, negotiated)
        let rows = [
            (30_000, 4_000, 40_000, 30_000),
            (1_000, 4_000, 40_000, 4_000),
            (4_000, 4_000, 40_000, 4_000),
            (40_000, 4_000, 40_000, 40_000),
            (90_000, 4_000, 40_000, 40_000),
            (-5, 4_000, 40_000, 4_000),
            (0, 4_000, 40_000, 4_000),
            // min > max: the max is applied last and wins.
            (1_000, 10_000, 5_000, 5_000),
            (7_000, 10_000, 5_000, 5_000),
        ];
        for (req, min, max, want) in rows {
            assert_eq!(negotiate_timeout(req, min, max), want, "req={req}");
        }
    }

    #[test]
    fn default_bounds_are_two_and_twenty_ticks() {
        assert_eq!(timeout_bounds(2_000, -1, -1), (4_000, 40_000));
        assert_eq!(timeout_bounds(2_000, 1_000, -1), (1_000, 40_000));
        assert_eq!(timeout_bounds(2_000, -1, 9_000), (4_000, 9_000));
    }
}
