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

    /// Takes the next request if it is due at `now`, returning its intended time.
    pub fn take_due(&mut self, now: Instant) -> Option<Instant> {
        let t = self.peek();
        if t <= now {
            self.next += 1;
            Some(t)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_together_offer_the_rate() {
        let t0 = Instant::now();
        let mut scheds: Vec<Schedule> = (0..4).map(|i| Schedule::new(t0, 1000.0, 4, i)).collect();
        let end = t0 + Duration::from_secs(1);
        let mut sent = 0;
        for s in &mut scheds {
            while s.take_due(end - Duration::from_nanos(1)).is_some() {
                sent += 1;
            }
        }
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
    fn a_late_sender_catches_up_with_original_intended_times() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 100.0, 1, 0);
        // The sender was stalled for 55 ms: six requests are due at once, and
        // each keeps its own intended time (the latency clock started then).
        let now = t0 + Duration::from_millis(55);
        let due: Vec<Instant> = std::iter::from_fn(|| s.take_due(now)).collect();
        assert_eq!(due.len(), 6);
        assert_eq!(due[5] - t0, Duration::from_millis(50));
        assert!(s.take_due(now).is_none());
        assert_eq!(s.peek() - t0, Duration::from_millis(60));
    }
}
