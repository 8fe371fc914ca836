//! Results: one `RunReport` per measured run, the final table, and JSON.

use crate::stats::{fmt_us, si, Interval, Latency, Point};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// CPU time over a run.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Cpu {
    pub seconds: f64,
    /// CPU seconds per wall second.
    pub cores: f64,
    pub us_per_op: f64,
}

impl Cpu {
    pub fn new(cpu: Duration, wall: Duration, ops: u64) -> Cpu {
        let s = cpu.as_secs_f64();
        Cpu {
            seconds: s,
            cores: if wall.is_zero() {
                0.0
            } else {
                s / wall.as_secs_f64()
            },
            us_per_op: if ops == 0 { 0.0 } else { s * 1e6 / ops as f64 },
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub label: String,
    pub offered_rate: Option<f64>,
    pub duration_s: f64,
    pub ops: u64,
    pub ops_per_s: f64,
    pub error_total: u64,
    pub errors: BTreeMap<String, u64>,
    pub conn_failures: u64,
    pub lost_requests: u64,
    /// Open loop: sends delayed because `depth` requests were outstanding.
    pub depth_waits: u64,
    /// "all" and each operation (or phase) by name.
    pub latency: BTreeMap<String, Latency>,
    pub series: Vec<Point>,
    pub client_cpu: Cpu,
    pub server_cpu: Option<Cpu>,
    /// Scenario-specific figures (notifications/s, sessions/s, ...).
    pub extra: BTreeMap<String, f64>,
    pub first_error: Option<String>,
}

impl RunReport {
    /// Failures recorded after measuring stopped (while draining).
    pub fn add_late_failures(&mut self, late: &Interval) {
        for (name, n) in &late.errors {
            *self.errors.entry(name.clone()).or_insert(0) += n;
        }
        self.conn_failures += late.conn_failures;
        self.lost_requests += late.lost;
        self.error_total += late.error_count();
    }

    pub fn all(&self) -> Latency {
        self.latency.get("all").cloned().unwrap_or_default()
    }
}

/// The whole output of one invocation.
#[derive(Debug, Serialize)]
pub struct Output {
    pub scenario: String,
    pub server: String,
    pub command_line: Vec<String>,
    pub runs: Vec<RunReport>,
    /// Scenario conclusions (capacity: highest sustainable rate, ...).
    pub summary: BTreeMap<String, serde_json::Value>,
    pub valid: bool,
    pub invalid_reasons: Vec<String>,
}

impl Output {
    /// A run is invalid with any error, lost request or failed connection,
    /// or with no operation at all.
    pub fn judge(&mut self) {
        let mut reasons = Vec::new();
        for r in &self.runs {
            if r.error_total > 0 {
                let mut what: Vec<String> =
                    r.errors.iter().map(|(k, v)| format!("{v} {k}")).collect();
                if r.conn_failures > 0 {
                    what.push(format!("{} failed connections", r.conn_failures));
                }
                if r.lost_requests > 0 {
                    what.push(format!("{} requests lost", r.lost_requests));
                }
                reasons.push(format!("{}: errors: {}", r.label, what.join(", ")));
            }
            if r.ops == 0 {
                reasons.push(format!("{}: no operation completed", r.label));
            }
            if let Some(e) = &r.first_error {
                if r.error_total > 0 || r.ops == 0 {
                    reasons.push(format!("{}: first error: {e}", r.label));
                }
            }
        }
        if self.runs.is_empty() {
            reasons.push("nothing was measured".into());
        }
        let resets = self.runs.iter().any(|r| {
            r.conn_failures > 0
                || r.errors.contains_key("connection failures")
                    && r.first_error
                        .as_deref()
                        .is_some_and(|e| e.contains("reset"))
        });
        if resets {
            reasons.push(
                "hint: servers limit connections per client address (maxClientCnxns, \
                 60 by default); set maxClientCnxns=0 for many sessions"
                    .into(),
            );
        }
        self.valid = reasons.is_empty();
        self.invalid_reasons = reasons;
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "scenario {} against {}", self.scenario, self.server);
        let _ = writeln!(
            s,
            "{:<22} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "run / op", "ops", "ops/s", "p50", "p90", "p99", "p99.9", "max", "errors"
        );
        for r in &self.runs {
            let a = r.all();
            let _ = writeln!(
                s,
                "{:<22} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
                r.label,
                r.ops,
                si(r.ops_per_s),
                fmt_us(a.p50_us),
                fmt_us(a.p90_us),
                fmt_us(a.p99_us),
                fmt_us(a.p999_us),
                fmt_us(a.max_us),
                r.error_total
            );
            if r.latency.len() > 2 || r.latency.keys().any(|k| k != "all") {
                for (op, l) in r.latency.iter().filter(|(k, _)| *k != "all") {
                    let _ = writeln!(
                        s,
                        "  {:<20} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
                        op,
                        l.count,
                        "",
                        fmt_us(l.p50_us),
                        fmt_us(l.p90_us),
                        fmt_us(l.p99_us),
                        fmt_us(l.p999_us),
                        fmt_us(l.max_us)
                    );
                }
            }
            if let Some(rate) = r.offered_rate {
                let _ = writeln!(
                    s,
                    "  offered {}/s (open loop, latency from intended send time); \
                     {} sends waited for a free slot (depth reached)",
                    si(rate),
                    r.depth_waits
                );
            }
            for (k, v) in &r.extra {
                let _ = writeln!(s, "  {k}: {}", trim(*v));
            }
            let _ = writeln!(
                s,
                "  generator CPU {:.2} s = {:.2} cores, {:.1} us/op",
                r.client_cpu.seconds, r.client_cpu.cores, r.client_cpu.us_per_op
            );
            if let Some(c) = &r.server_cpu {
                let _ = writeln!(
                    s,
                    "  server CPU    {:.2} s = {:.2} cores, {:.1} us/op",
                    c.seconds, c.cores, c.us_per_op
                );
            }
        }
        for (k, v) in &self.summary {
            let _ = writeln!(s, "{k}: {v}");
        }
        if self.valid {
            let _ = writeln!(s, "run valid: no errors");
        } else {
            let _ = writeln!(s, "RUN INVALID:");
            for r in &self.invalid_reasons {
                let _ = writeln!(s, "  {r}");
            }
        }
        s
    }
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ops: u64, errors: u64) -> RunReport {
        let mut e = BTreeMap::new();
        if errors > 0 {
            e.insert("NoNode".to_string(), errors);
        }
        RunReport {
            label: "read".into(),
            offered_rate: None,
            duration_s: 1.0,
            ops,
            ops_per_s: ops as f64,
            error_total: errors,
            errors: e,
            conn_failures: 0,
            lost_requests: 0,
            depth_waits: 0,
            latency: BTreeMap::new(),
            series: vec![],
            client_cpu: Cpu::default(),
            server_cpu: None,
            extra: BTreeMap::new(),
            first_error: None,
        }
    }

    fn output(runs: Vec<RunReport>) -> Output {
        let mut o = Output {
            scenario: "read".into(),
            server: "x".into(),
            command_line: vec![],
            runs,
            summary: BTreeMap::new(),
            valid: false,
            invalid_reasons: vec![],
        };
        o.judge();
        o
    }

    #[test]
    fn validity() {
        assert!(output(vec![run(10, 0)]).valid);
        let o = output(vec![run(10, 2)]);
        assert!(!o.valid);
        assert!(
            o.invalid_reasons[0].contains("2 NoNode"),
            "{:?}",
            o.invalid_reasons
        );
        assert!(!output(vec![run(0, 0)]).valid);
        assert!(!output(vec![]).valid);
        assert!(output(vec![run(1, 0)]).table().contains("run valid"));
    }

    #[test]
    fn cpu_per_op() {
        let c = Cpu::new(Duration::from_millis(500), Duration::from_secs(1), 1000);
        assert_eq!(c.cores, 0.5);
        assert_eq!(c.us_per_op, 500.0);
        assert_eq!(Cpu::new(Duration::ZERO, Duration::ZERO, 0), Cpu::default());
    }

    #[test]
    fn late_failures_are_added() {
        let mut r = run(10, 0);
        let late = Interval {
            conn_failures: 2,
            lost: 5,
            ..Default::default()
        };
        r.add_late_failures(&late);
        assert_eq!(r.error_total, 7);
        assert_eq!(r.lost_requests, 5);
    }
}
