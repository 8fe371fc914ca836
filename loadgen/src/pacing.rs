//! Open-loop pacing: which of a connection's requests are due when the
//! executor's pacing loop wakes, and when that loop wakes next.
//!
//! Why: a timer per request costs a whole executor wake-up per request
//! (glommio re-arms its io_uring timeouts and parks with a membarrier each
//! time), which made the open-loop generator cost ~20-28 us per request. One
//! pacing loop per executor instead wakes at most once per `tick`, reads
//! every reply that arrived, and sends every request that is due, each
//! connection's in one write.
//!
//! Guarantees (no coordinated omission):
//! - a request is never sent before its intended time, and keeps that
//!   intended time however late it goes out (a slow tick, a full socket, a
//!   connection at its depth limit): latency = reply seen - intended time;
//! - at most `free` requests are handed out (the connection's depth);
//! - the loop never sleeps past a due request by more than one tick, nor
//!   past a reply it is waiting for by more than one tick, so the tick
//!   bounds how much pacing adds to a measured latency (at most one tick
//!   late to send, one tick late to see the reply).

use crate::schedule::Schedule;
use std::time::{Duration, Instant};

/// Default wake-up period of the pacing loop.
pub const DEFAULT_TICK: Duration = Duration::from_micros(100);

/// What one connection sends at one wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Index of the first request to send.
    pub first: u64,
    /// How many to send (indices `first..first + count`).
    pub count: u64,
    /// Due requests left behind for lack of a free slot; they keep their
    /// intended times and go out once replies free slots.
    pub waiting: u64,
}

/// The requests of `schedule` due at `now`, at most `free` of them. Pure:
/// the caller sends them and then calls `schedule.advance(batch.count)`.
pub fn due(schedule: &Schedule, now: Instant, free: usize) -> Batch {
    let first = schedule.next_index();
    let due = schedule.due_through(now).saturating_sub(first);
    let count = due.min(free as u64);
    Batch {
        first,
        count,
        waiting: due - count,
    }
}

/// When the loop should wake next, having woken at `woke`: never sooner
/// than one tick later (that is what bounds its cost); no later than that
/// while replies or unsent bytes are pending (`busy`); otherwise when the
/// next request falls due.
pub fn next_wake(woke: Instant, next_due: Instant, busy: bool, tick: Duration) -> Instant {
    let earliest = woke + tick;
    if busy {
        earliest
    } else {
        next_due.max(earliest)
    }
}

/// A request's latency: from its intended send time to when its reply was
/// seen (zero if the clock says the reply came first, which it cannot).
pub fn latency(intended: Instant, seen: Instant) -> Duration {
    seen.saturating_duration_since(intended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nothing_is_due_before_its_intended_time() {
        let t0 = Instant::now();
        // One connection at 1000/s: requests at t0, t0+1ms, t0+2ms, ...
        let s = Schedule::new(t0, 1000.0, 1, 0);
        assert_eq!(
            due(&s, t0 - Duration::from_nanos(1), 64),
            Batch {
                first: 0,
                count: 0,
                waiting: 0
            }
        );
        assert_eq!(due(&s, t0, 64).count, 1);
        assert_eq!(due(&s, t0 + ms(1) - Duration::from_nanos(1), 64).count, 1);
    }

    #[test]
    fn every_request_due_by_now_is_sent_in_one_batch() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 1000.0, 1, 0);
        let b = due(&s, t0 + Duration::from_micros(3500), 64);
        assert_eq!((b.first, b.count, b.waiting), (0, 4, 0));
        s.advance(b.count);
        // The next wake-up sees only what fell due since.
        let b = due(&s, t0 + Duration::from_micros(5000), 64);
        assert_eq!((b.first, b.count, b.waiting), (4, 2, 0));
    }

    #[test]
    fn full_depth_leaves_requests_waiting_with_their_intended_times() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 1000.0, 1, 0);
        // 10 due, 3 slots: 3 go, 7 wait.
        let b = due(&s, t0 + ms(9), 3);
        assert_eq!((b.first, b.count, b.waiting), (0, 3, 7));
        s.advance(b.count);
        // Slots free up 20 ms later: the waiting ones go first, and request
        // 3's latency still counts from t0 + 3 ms, not from when it was sent.
        let now = t0 + ms(29);
        let b = due(&s, now, 64);
        assert_eq!((b.first, b.count, b.waiting), (3, 27, 0));
        assert_eq!(latency(s.intended(b.first), now), ms(26));
    }

    #[test]
    fn the_loop_wakes_at_most_once_per_tick() {
        let t0 = Instant::now();
        let tick = Duration::from_micros(50);
        // A request due sooner than one tick still waits for the tick.
        assert_eq!(
            next_wake(t0, t0 + Duration::from_micros(10), false, tick),
            t0 + tick
        );
        // Nothing pending: sleep until the next request is due.
        assert_eq!(next_wake(t0, t0 + ms(5), false, tick), t0 + ms(5));
        // Replies outstanding: look again after one tick.
        assert_eq!(next_wake(t0, t0 + ms(5), true, tick), t0 + tick);
    }

    #[test]
    fn latency_counts_from_the_intended_time() {
        let t0 = Instant::now();
        assert_eq!(latency(t0, t0 + ms(7)), ms(7));
        assert_eq!(latency(t0 + ms(1), t0), Duration::ZERO);
    }
}
