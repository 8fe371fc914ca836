//! Open-loop sending times. Each connection sends at a fixed pace; the
//! connections are staggered so that together they offer `rate` requests/s
//! evenly. A request's latency is measured from its *intended* send time, so
//! a stalled server is charged for the requests that should have been sent
//! meanwhile (no coordinated omission).

use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Schedule {
    start: Instant,
    /// Time between two sends of this connection.
    interval: Duration,
    /// Index of the next request to send.
    next: u64,
}

impl Schedule {
    /// Connection `index` of `connections` sharing a total `rate` from `start`.
    pub fn new(start: Instant, rate: f64, connections: usize, index: usize) -> Schedule {
        let per_conn = rate / connections as f64;
        let interval = Duration::from_secs_f64(1.0 / per_conn);
        // Stagger: connection i starts i/rate after the first one.
        let offset = Duration::from_secs_f64(index as f64 / rate);
        Schedule {
            start: start + offset,
            interval,
            next: 0,
        }
    }

    /// When request `i` of this connection is meant to be sent.
    pub fn intended(&self, i: u64) -> Instant {
        self.start + self.interval.mul_f64(i as f64)
    }

    /// Intended time of the next request.
    pub fn peek(&self) -> Instant {
        self.intended(self.next)
    }

    /// Index of the next request to send.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// How many requests (counted from the first) are due at `now`: the
    /// index of the first one whose intended time is still ahead.
    pub fn due_through(&self, now: Instant) -> u64 {
        let Some(since) = now.checked_duration_since(self.start) else {
            return 0;
        };
        // A float estimate, corrected against `intended` so the two agree
        // exactly at the boundaries.
        let mut n = (since.as_secs_f64() / self.interval.as_secs_f64()) as u64 + 1;
        while n > 0 && self.intended(n - 1) > now {
            n -= 1;
        }
        while self.intended(n) <= now {
            n += 1;
        }
        n
    }

    /// Marks the next `n` requests as sent.
    pub fn advance(&mut self, n: u64) {
        self.next += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_together_offer_the_rate() {
        let t0 = Instant::now();
        let scheds: Vec<Schedule> = (0..4).map(|i| Schedule::new(t0, 1000.0, 4, i)).collect();
        let end = t0 + Duration::from_secs(1);
        let sent: u64 = scheds
            .iter()
            .map(|s| s.due_through(end - Duration::from_nanos(1)))
            .sum();
        assert_eq!(sent, 1000);
        assert_eq!(scheds[0].interval, Duration::from_millis(4));
    }

    #[test]
    fn staggered_and_evenly_spaced() {
        let t0 = Instant::now();
        let a = Schedule::new(t0, 1000.0, 4, 0);
        let b = Schedule::new(t0, 1000.0, 4, 1);
        assert_eq!(b.intended(0) - a.intended(0), Duration::from_millis(1));
        assert_eq!(a.intended(3) - a.intended(2), Duration::from_millis(4));
    }

    #[test]
    fn due_through_agrees_with_intended_at_the_boundaries() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 3000.0, 7, 3);
        assert_eq!(s.due_through(t0), 0, "before the connection's first send");
        for i in 0..2000u64 {
            let t = s.intended(i);
            assert_eq!(
                s.due_through(t),
                i + 1,
                "request {i} is due at its own time"
            );
            assert_eq!(s.due_through(t - Duration::from_nanos(1)), i);
        }
    }

    #[test]
    fn a_late_sender_catches_up_with_original_intended_times() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 100.0, 1, 0);
        // The sender was stalled for 55 ms: six requests are due at once, and
        // each keeps its own intended time (the latency clock started then).
        let now = t0 + Duration::from_millis(55);
        let due = s.due_through(now) - s.next_index();
        assert_eq!(due, 6);
        assert_eq!(s.intended(5) - t0, Duration::from_millis(50));
        s.advance(due);
        assert_eq!(s.due_through(now), s.next_index(), "nothing more is due");
        assert_eq!(s.peek() - t0, Duration::from_millis(60));
    }
}
