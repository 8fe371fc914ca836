//! Session expiry, as ZooKeeper's `SessionTrackerImpl` over an `ExpiryQueue`.
//!
//! Deadlines are rounded *up* to the next multiple of the tick (strictly
//! after `now + timeout`), and sessions sharing a rounded deadline form one
//! bucket that expires as a batch once the clock reaches it. Touching a
//! session moves it to the bucket of `now + timeout`. An expired session is
//! reported once and marked closing; it stays known (and untouchable) until
//! the caller removes it after its closeSession txn is applied.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::proto::types::SessionId;

/// Why the tracker refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SessionError {
    /// Accepting one more session would exceed the configured maximum.
    #[error("too many sessions: the server holds its maximum of {max}")]
    TooManySessions { max: usize },
}

/// What the tracker knows about one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    /// The timeout the session was created with (as `getSessionTimeout`).
    pub timeout_ms: i32,
    /// The tick boundary at which it expires unless touched again.
    pub expires_at_ms: i64,
    /// Set by [`SessionTracker::set_closing`] or by expiry.
    pub closing: bool,
}

/// Tracks live sessions and their tick-aligned expiry deadlines.
#[derive(Clone, Debug)]
pub struct SessionTracker {
    tick_ms: i64,
    max_sessions: usize,
    sessions: BTreeMap<SessionId, SessionInfo>,
    /// Deadline -> sessions due then. Like ZooKeeper's expiry map, a bucket
    /// emptied by touches stays until its deadline passes (the `dump` word
    /// counts it).
    buckets: BTreeMap<i64, BTreeSet<SessionId>>,
}

impl SessionTracker {
    /// A tracker expiring on multiples of `tick_ms` and holding at most
    /// `max_sessions` sessions. Panics if `tick_ms` is not positive.
    pub fn new(tick_ms: i32, max_sessions: usize) -> SessionTracker {
        assert!(tick_ms > 0, "tickTime must be positive, got {tick_ms}");
        SessionTracker {
            tick_ms: i64::from(tick_ms),
            max_sessions,
            sessions: BTreeMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    /// The tick boundary strictly after `time_ms` (`roundToNextInterval`).
    pub fn round_to_next_tick(&self, time_ms: i64) -> i64 {
        (time_ms.div_euclid(self.tick_ms) + 1) * self.tick_ms
    }

    /// Starts tracking `id` with `timeout_ms` (ZooKeeper's `trackSession`).
    ///
    /// Returns `Ok(true)` if the session is new. For a session already
    /// tracked the stored timeout is kept and its deadline is refreshed from
    /// `timeout_ms`, and `Ok(false)` is returned — unless it is closing, in
    /// which case nothing changes (so it is never reported expired twice).
    pub fn add(
        &mut self,
        id: SessionId,
        timeout_ms: i32,
        now_ms: i64,
    ) -> Result<bool, SessionError> {
        match self.sessions.get(&id) {
            Some(s) if s.closing => return Ok(false),
            Some(_) => {
                self.reschedule(id, timeout_ms, now_ms);
                return Ok(false);
            }
            None if self.sessions.len() >= self.max_sessions => {
                return Err(SessionError::TooManySessions {
                    max: self.max_sessions,
                })
            }
            None => {}
        }
        let info = SessionInfo {
            id,
            timeout_ms,
            expires_at_ms: i64::MIN,
            closing: false,
        };
        self.sessions.insert(id, info);
        self.reschedule(id, timeout_ms, now_ms);
        Ok(true)
    }

    /// Extends `id`'s deadline by its own timeout from `now_ms`.
    /// False if the session is unknown or closing (the caller then answers
    /// as ZooKeeper's `MissingSessionException` path does).
    pub fn touch(&mut self, id: SessionId, now_ms: i64) -> bool {
        match self.sessions.get(&id) {
            Some(s) => self.touch_with_timeout(id, s.timeout_ms, now_ms),
            None => false,
        }
    }

    /// As [`SessionTracker::touch`] but with an explicit timeout.
    ///
    /// ZooKeeper touches with the *connection's* negotiated timeout, which
    /// after a reconnect may differ from the one the session was created
    /// with; a caller that wants that exact behaviour passes it here.
    pub fn touch_with_timeout(&mut self, id: SessionId, timeout_ms: i32, now_ms: i64) -> bool {
        match self.sessions.get(&id) {
            Some(s) if !s.closing => {
                self.reschedule(id, timeout_ms, now_ms);
                true
            }
            _ => false,
        }
    }

    /// Marks `id` closing (a closeSession is under way); unknown ids are
    /// ignored. A closing session can no longer be touched, but still
    /// expires at its deadline if it has not been removed by then.
    pub fn set_closing(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    /// Forgets `id`, returning what was known about it.
    pub fn remove(&mut self, id: SessionId) -> Option<SessionInfo> {
        let info = self.sessions.remove(&id)?;
        if let Some(bucket) = self.buckets.get_mut(&info.expires_at_ms) {
            bucket.remove(&id);
        }
        Some(info)
    }

    /// Sessions whose deadline is at or before `now_ms`, in id order.
    ///
    /// Each is returned once: its bucket is dropped and it is marked
    /// closing, so it cannot be touched back to life. The caller submits a
    /// closeSession for each and calls [`SessionTracker::remove`] when that
    /// txn is applied.
    pub fn expired(&mut self, now_ms: i64) -> Vec<SessionId> {
        let later = self.buckets.split_off(&now_ms.saturating_add(1));
        let due = std::mem::replace(&mut self.buckets, later);
        let mut ids: Vec<SessionId> = due.into_values().flatten().collect();
        ids.sort_unstable();
        for id in &ids {
            self.set_closing(*id);
        }
        ids
    }

    /// The earliest deadline with a session in it: when to call
    /// [`SessionTracker::expired`] next. `None` if nothing is scheduled.
    pub fn next_expiry_ms(&self) -> Option<i64> {
        self.buckets
            .iter()
            .find(|(_, ids)| !ids.is_empty())
            .map(|(at, _)| *at)
    }

    pub fn get(&self, id: SessionId) -> Option<SessionInfo> {
        self.sessions.get(&id).copied()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn tick_ms(&self) -> i64 {
        self.tick_ms
    }

    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// All sessions in id order (for `cons`, `dump`, `mntr`).
    pub fn iter(&self) -> impl Iterator<Item = SessionInfo> + '_ {
        self.sessions.values().copied()
    }

    /// Pending expiry buckets in deadline order, including ones emptied by
    /// touches, as ZooKeeper's `dump` prints them ("Session Sets (n)/(m):").
    pub fn expiry_buckets(&self) -> impl Iterator<Item = (i64, Vec<SessionId>)> + '_ {
        self.buckets
            .iter()
            .map(|(at, ids)| (*at, ids.iter().copied().collect()))
    }

    /// Moves `id` to the bucket of `now + timeout` (ExpiryQueue.update).
    fn reschedule(&mut self, id: SessionId, timeout_ms: i32, now_ms: i64) {
        let at = self.round_to_next_tick(now_ms.saturating_add(i64::from(timeout_ms)));
        let Some(info) = self.sessions.get_mut(&id) else {
            return;
        };
        let previous = std::mem::replace(&mut info.expires_at_ms, at);
        if previous == at {
            return;
        }
        self.buckets.entry(at).or_default().insert(id);
        if let Some(bucket) = self.buckets.get_mut(&previous) {
            bucket.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: i32 = 2_000;

    fn tracker() -> SessionTracker {
        SessionTracker::new(TICK, 100)
    }

    #[test]
    fn deadline_rounds_up_to_the_next_tick() {
        let t = tracker();
        // (time, rounded)
        for (time, want) in [
            (0, 2_000),
            (1, 2_000),
            (1_999, 2_000),
            (2_000, 4_000),
            (5_500, 6_000),
        ] {
            assert_eq!(t.round_to_next_tick(time), want, "time={time}");
        }
    }

    #[test]
    fn add_places_session_in_rounded_bucket() {
        let mut t = tracker();
        assert_eq!(t.add(1, 10_000, 1_500), Ok(true));
        let s = t.get(1).unwrap();
        assert_eq!(
            (s.timeout_ms, s.expires_at_ms, s.closing),
            (10_000, 12_000, false)
        );
        assert_eq!(t.next_expiry_ms(), Some(12_000));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn expires_only_once_the_bucket_time_is_reached() {
        let mut t = tracker();
        t.add(1, 10_000, 0).unwrap(); // due at 12_000
        assert!(t.expired(11_999).is_empty());
        assert_eq!(t.expired(12_000), vec![1]);
        assert!(t.expired(12_000).is_empty(), "reported once");
        assert!(t.expired(50_000).is_empty(), "reported once");
        assert!(t.get(1).unwrap().closing);
    }

    #[test]
    fn touch_extends_the_deadline() {
        let mut t = tracker();
        t.add(1, 10_000, 0).unwrap();
        assert!(t.touch(1, 9_000));
        assert_eq!(t.get(1).unwrap().expires_at_ms, 20_000);
        assert!(t.expired(12_000).is_empty());
        assert_eq!(t.next_expiry_ms(), Some(20_000));
        assert_eq!(t.expired(20_000), vec![1]);
    }

    #[test]
    fn touch_within_the_same_tick_keeps_the_bucket() {
        let mut t = tracker();
        t.add(1, 10_000, 0).unwrap();
        assert!(t.touch(1, 1_000));
        assert_eq!(t.get(1).unwrap().expires_at_ms, 12_000);
        assert_eq!(t.expiry_buckets().count(), 1);
    }

    #[test]
    fn touch_with_timeout_uses_the_given_timeout() {
        let mut t = tracker();
        t.add(1, 10_000, 0).unwrap();
        assert!(t.touch_with_timeout(1, 30_000, 0));
        assert_eq!(t.get(1).unwrap().expires_at_ms, 32_000);
        assert_eq!(t.get(1).unwrap().timeout_ms, 10_000, "stored timeout kept");
    }

    #[test]
    fn touch_fails_for_unknown_closing_and_expired() {
        let mut t = tracker();
        assert!(!t.touch(9, 0));
        t.add(1, 4_000, 0).unwrap();
        t.set_closing(1);
        assert!(!t.touch(1, 100));
        t.add(2, 4_000, 0).unwrap();
        assert_eq!(
            t.expired(6_000),
            vec![1, 2],
            "closing sessions still expire"
        );
        assert!(!t.touch(2, 6_000));
    }

    #[test]
    fn emptied_buckets_stay_until_due_but_are_not_next_expiry() {
        let mut t = tracker();
        t.add(1, 4_000, 0).unwrap(); // 6_000
        t.touch(1, 4_000); // 10_000
        let buckets: Vec<_> = t.expiry_buckets().collect();
        assert_eq!(buckets, vec![(6_000, vec![]), (10_000, vec![1])]);
        assert_eq!(t.next_expiry_ms(), Some(10_000));
        assert!(t.expired(6_000).is_empty());
        assert_eq!(t.expiry_buckets().count(), 1);
    }

    #[test]
    fn remove_forgets_and_unschedules() {
        let mut t = tracker();
        t.add(1, 4_000, 0).unwrap();
        t.add(2, 4_000, 0).unwrap();
        assert_eq!(t.remove(1).map(|s| s.id), Some(1));
        assert_eq!(t.remove(1), None);
        assert_eq!(t.len(), 1);
        assert_eq!(t.expired(6_000), vec![2]);
        assert_eq!(t.remove(2).map(|s| s.closing), Some(true));
        assert!(t.is_empty());
        assert_eq!(t.next_expiry_ms(), None);
    }

    #[test]
    fn re_adding_keeps_timeout_and_refreshes_deadline() {
        let mut t = tracker();
        t.add(1, 4_000, 0).unwrap();
        assert_eq!(t.add(1, 20_000, 1_000), Ok(false));
        let s = t.get(1).unwrap();
        assert_eq!((s.timeout_ms, s.expires_at_ms), (4_000, 22_000));
        t.set_closing(1);
        assert_eq!(t.add(1, 4_000, 30_000), Ok(false));
        assert_eq!(
            t.get(1).unwrap().expires_at_ms,
            22_000,
            "closing: unchanged"
        );
    }

    #[test]
    fn bounded_by_max_sessions() {
        let mut t = SessionTracker::new(TICK, 2);
        t.add(1, 4_000, 0).unwrap();
        t.add(2, 4_000, 0).unwrap();
        assert_eq!(
            t.add(3, 4_000, 0),
            Err(SessionError::TooManySessions { max: 2 })
        );
        assert_eq!(t.add(2, 4_000, 0), Ok(false), "existing ids still accepted");
        t.remove(1);
        assert_eq!(t.add(3, 4_000, 0), Ok(true));
    }

    #[test]
    fn iteration_is_in_id_order() {
        let mut t = tracker();
        for id in [5, 1, 3] {
            t.add(id, 4_000, 0).unwrap();
        }
        let ids: Vec<_> = t.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 3, 5]);
    }
}
