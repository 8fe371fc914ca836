//! Latency histograms, per-interval counters and the time series built from
//! them. Latencies are recorded in nanoseconds in an HDR histogram (3
//! significant digits, 1 ns .. 10 min), so percentiles are exact to 0.1%.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Highest latency recorded; anything longer is clamped (and still counted).
pub const MAX_LATENCY_NS: u64 = 600_000_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid histogram bounds")
}

/// Records `d` (clamped into the histogram's range).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let ns = (d.as_nanos() as u64).clamp(1, MAX_LATENCY_NS);
    h.record(ns).expect("clamped into range");
}

/// What one executor saw in one interval (or the whole run, once merged).
#[derive(Clone, Debug)]
pub struct Interval {
    /// Every successful operation.
    pub all: Histogram<u64>,
    /// Per operation kind ("getData", "setData", ...).
    pub by_op: BTreeMap<&'static str, Histogram<u64>>,
    pub ops: u64,
    /// Replies with a non-zero error code, by ZooKeeper error name.
    pub errors: BTreeMap<String, u64>,
    /// Connections that failed (refused, closed by the server, timed out).
    pub conn_failures: u64,
    /// Requests lost with a failed connection (sent, never answered).
    pub lost: u64,
    /// Open loop: sends that waited for a free slot (depth reached).
    pub depth_waits: u64,
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            all: new_histogram(),
            by_op: BTreeMap::new(),
            ops: 0,
            errors: BTreeMap::new(),
            conn_failures: 0,
            lost: 0,
            depth_waits: 0,
        }
    }
}

impl Interval {
    pub fn ok(&mut self, op: &'static str, latency: Duration) {
        self.ops += 1;
        record(&mut self.all, latency);
        record(self.by_op.entry(op).or_insert_with(new_histogram), latency);
    }

    /// A phase of an operation (churn: connect, create, close): its own
    /// histogram only, not counted as an operation.
    pub fn part(&mut self, op: &'static str, latency: Duration) {
        record(self.by_op.entry(op).or_insert_with(new_histogram), latency);
    }

    pub fn error(&mut self, name: String) {
        *self.errors.entry(name).or_insert(0) += 1;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum::<u64>() + self.conn_failures + self.lost
    }

    /// Only the failures of `other` (warmup: errors count, operations not).
    pub fn merge_failures(&mut self, other: &Interval) {
        for (name, n) in &other.errors {
            *self.errors.entry(name.clone()).or_insert(0) += n;
        }
        self.conn_failures += other.conn_failures;
        self.lost += other.lost;
    }

    pub fn merge(&mut self, other: &Interval) {
        self.all.add(&other.all).expect("same bounds");
        for (op, h) in &other.by_op {
            self.by_op
                .entry(op)
                .or_insert_with(new_histogram)
                .add(h)
                .expect("same bounds");
        }
        self.ops += other.ops;
        for (name, n) in &other.errors {
            *self.errors.entry(name.clone()).or_insert(0) += n;
        }
        self.conn_failures += other.conn_failures;
        self.lost += other.lost;
        self.depth_waits += other.depth_waits;
    }
}

/// Percentiles of one histogram, in microseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Latency {
            count: h.len(),
            mean_us: h.mean() / 1000.0,
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        }
    }
}

/// One point of the time series.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Point {
    /// Seconds since measuring started (end of the interval).
    pub t: f64,
    pub ops_per_s: f64,
    pub errors: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

impl Point {
    pub fn of(t: f64, length: Duration, iv: &Interval) -> Point {
        let l = Latency::of(&iv.all);
        Point {
            t,
            ops_per_s: rate(iv.ops, length),
            errors: iv.error_count(),
            p50_us: l.p50_us,
            p99_us: l.p99_us,
            p999_us: l.p999_us,
            max_us: l.max_us,
        }
    }
}

/// Operations per second; 0 for an empty span.
pub fn rate(count: u64, span: Duration) -> f64 {
    let s = span.as_secs_f64();
    if s <= 0.0 {
        0.0
    } else {
        count as f64 / s
    }
}

/// A human figure: 1234567 -> "1.23M", 45123 -> "45.1k".
pub fn si(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 1e3 {
        format!("{:.2}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// A latency in microseconds as "850us" / "1.23ms" / "2.5s".
pub fn fmt_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{us:.0}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_sample() {
        let mut iv = Interval::default();
        for us in 1..=1000u64 {
            iv.ok("getData", Duration::from_micros(us));
        }
        let l = Latency::of(&iv.all);
        assert_eq!(l.count, 1000);
        // 3 significant digits: within 0.1%.
        assert!((l.p50_us - 500.0).abs() <= 0.5, "{l:?}");
        assert!((l.p99_us - 990.0).abs() <= 1.0, "{l:?}");
        assert!((l.max_us - 1000.0).abs() <= 1.0, "{l:?}");
        assert!((l.mean_us - 500.5).abs() <= 1.0, "{l:?}");
        assert_eq!(Latency::of(&iv.by_op["getData"]), l);
    }

    #[test]
    fn empty_histogram_gives_zeros() {
        assert_eq!(Latency::of(&new_histogram()), Latency::default());
    }

    #[test]
    fn out_of_range_latencies_are_clamped_not_lost() {
        let mut h = new_histogram();
        record(&mut h, Duration::ZERO);
        record(&mut h, Duration::from_secs(100_000));
        assert_eq!(h.len(), 2);
        assert!(h.max() >= MAX_LATENCY_NS - MAX_LATENCY_NS / 1000);
    }

    #[test]
    fn merge_adds_counts_errors_and_histograms() {
        let mut a = Interval::default();
        a.ok("setData", Duration::from_micros(10));
        a.error("NoNode".into());
        let mut b = Interval::default();
        b.ok("getData", Duration::from_micros(1000));
        b.error("NoNode".into());
        b.error("BadVersion".into());
        b.conn_failures = 1;
        b.lost = 3;
        a.merge(&b);
        assert_eq!(a.ops, 2);
        assert_eq!(a.all.len(), 2);
        assert_eq!(a.errors["NoNode"], 2);
        assert_eq!(a.error_count(), 3 + 1 + 3);
        assert_eq!(a.by_op.len(), 2);
        let mut c = Interval::default();
        c.merge_failures(&a);
        assert_eq!((c.ops, c.all.len(), c.error_count()), (0, 0, 7));
    }

    #[test]
    fn rates_and_points() {
        assert_eq!(rate(500, Duration::from_millis(500)), 1000.0);
        assert_eq!(rate(5, Duration::ZERO), 0.0);
        let mut iv = Interval::default();
        for _ in 0..200 {
            iv.ok("getData", Duration::from_micros(100));
        }
        let p = Point::of(2.0, Duration::from_millis(200), &iv);
        assert_eq!(p.ops_per_s, 1000.0);
        assert!((p.p99_us - 100.0).abs() < 0.1);
    }

    #[test]
    fn human_figures() {
        assert_eq!(si(1_234_567.0), "1.23M");
        assert_eq!(si(45_123.0), "45.1k");
        assert_eq!(si(1_500.0), "1.50k");
        assert_eq!(si(999.0), "999");
        assert_eq!(fmt_us(850.0), "850us");
        assert_eq!(fmt_us(1234.0), "1.23ms");
        assert_eq!(fmt_us(2_500_000.0), "2.50s");
    }
}
