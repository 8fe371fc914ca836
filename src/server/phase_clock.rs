//! Start-up timeline: one `info` line per phase with its wall time.
//!
//! Why: restart-to-serving is a benchmarked figure (issue 6); the log of a
//! real start says where the time went (snapshot, log scan, replay, ...)
//! without a profiler. Each line carries the phase's own wall milliseconds,
//! the process CPU milliseconds it used (all threads: on a busy machine the
//! wall time says little) and the wall milliseconds since the clock started.

use std::time::Instant;

/// Times consecutive start-up phases.
pub struct PhaseClock {
    started: Instant,
    last: Instant,
    last_cpu_ms: f64,
}

impl PhaseClock {
    pub fn start() -> PhaseClock {
        let now = Instant::now();
        PhaseClock {
            started: now,
            last: now,
            last_cpu_ms: process_cpu_ms(),
        }
    }

    /// Logs the phase that ends now; the next one starts now.
    pub fn done(&mut self, phase: &str) {
        let now = Instant::now();
        let ms = now.duration_since(self.last).as_secs_f64() * 1e3;
        let at_ms = now.duration_since(self.started).as_secs_f64() * 1e3;
        let cpu = process_cpu_ms();
        let cpu_ms = cpu - self.last_cpu_ms;
        tracing::info!(
            phase,
            ms = format!("{ms:.1}"),
            cpu_ms = format!("{cpu_ms:.1}"),
            at_ms = format!("{at_ms:.1}"),
            "start-up phase done"
        );
        self.last = now;
        self.last_cpu_ms = cpu;
    }
}

/// CPU time of the whole process so far, ms (0 if the clock is unavailable).
fn process_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}
