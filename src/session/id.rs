//! Session id allocation, laid out as ZooKeeper's `initializeNextSessionId`.

use crate::proto::types::SessionId;

/// The server id a standalone ZooKeeper uses for session ids.
///
/// `ZooKeeperServer` creates its tracker with `createSessionTrackerServerId`,
/// which defaults to 1 and is changed only by tests; a quorum peer passes its
/// `myid` instead. So a standalone server's session ids start with `0x01`.
pub const STANDALONE_SERVER_ID: i64 = 1;

/// The ephemeral owner ZooKeeper reserves for containers (`Long.MIN_VALUE`);
/// a session id must never equal it.
const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;

/// Hands out session ids: high byte = server id, next 40 bits = the low 40
/// bits of the start time in milliseconds, low 16 bits = a counter.
///
/// Ids (from `next()`; the generator is an endless [`Iterator`]) then
/// increase by one per session, carrying into the time bits after 65536
/// sessions, exactly as ZooKeeper's `nextSessionId.getAndIncrement()`.
#[derive(Clone, Debug)]
pub struct SessionIdGenerator {
    next: i64,
}

impl SessionIdGenerator {
    /// Starts the sequence for `server_id` at time `now_ms`.
    ///
    /// ZooKeeper reads its monotonic elapsed-time clock here; any millisecond
    /// clock works, but a wall clock makes collisions with ids from before a
    /// restart (still present in snapshots) least likely. Only the low byte
    /// of `server_id` fits (bits above it are shifted out, as in Java);
    /// configuration should keep server ids in 1..=254 (ZooKeeper requires
    /// <= 254 when TTL nodes are enabled).
    pub fn new(server_id: i64, now_ms: i64) -> SessionIdGenerator {
        let time_bits = ((now_ms as u64) << 24) >> 8;
        let mut next = (time_bits | ((server_id as u64) << 56)) as i64;
        if next == CONTAINER_EPHEMERAL_OWNER {
            next += 1;
        }
        SessionIdGenerator { next }
    }

    /// The id the next call to `next()` returns.
    pub fn peek(&self) -> SessionId {
        self.next
    }
}

/// An endless sequence of session ids; `next()` never returns `None`.
impl Iterator for SessionIdGenerator {
    type Item = SessionId;

    fn next(&mut self) -> Option<SessionId> {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_server_byte_time_bits_zero_counter() {
        let now = 0x0012_3456_789a_i64;
        let mut g = SessionIdGenerator::new(STANDALONE_SERVER_ID, now);
        let id = g.next().unwrap();
        assert_eq!(id >> 56, 1, "server id in the high byte");
        assert_eq!((id >> 16) & 0xff_ffff_ffff, now & 0xff_ffff_ffff);
        assert_eq!(id & 0xffff, 0, "counter starts at zero");
        assert_eq!(id, 0x0112_3456_789a_0000);
        assert_eq!(g.next().unwrap(), id + 1);
        assert_eq!(g.peek(), id + 2);
    }

    #[test]
    fn time_bits_above_forty_are_dropped() {
        let now = 0x7f_0000_0000_0001_i64;
        let id = SessionIdGenerator::new(3, now).next().unwrap();
        assert_eq!(id, 0x0300_0000_0001_0000);
    }

    #[test]
    fn high_server_ids_fill_the_sign_bit_and_skip_the_container_owner() {
        let id = SessionIdGenerator::new(0xfe, 0).next().unwrap();
        assert_eq!(id as u64, 0xfe00_0000_0000_0000);
        let id = SessionIdGenerator::new(0x80, 0).next().unwrap();
        assert_eq!(id, i64::MIN + 1);
    }
}
