//! Capacity planning: which offered rate to try next.
//!
//! The ramp multiplies the rate by `factor` while each step is sustained
//! (p99 within the SLO, the offered rate actually achieved, no errors). At the
//! first failing step it bisects between the last sustained and the first
//! failing rate `refine` times. The answer is the highest sustained rate.

/// What one step at a fixed offered rate showed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepResult {
    pub offered: f64,
    pub achieved: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// A step is sustained when it met the SLO and kept up with the offered rate
/// (within 5%: the generator's own scheduling jitter) without errors.
pub fn sustained(step: &StepResult, slo_p99_ms: f64) -> bool {
    step.errors == 0 && step.p99_ms <= slo_p99_ms && step.achieved >= 0.95 * step.offered
}

#[derive(Clone, Debug)]
pub struct Ramp {
    slo_p99_ms: f64,
    factor: f64,
    max_rate: f64,
    refine_left: u32,
    /// Highest sustained and lowest failed rate so far.
    good: Option<f64>,
    bad: Option<f64>,
    next: Option<f64>,
}

impl Ramp {
    pub fn new(start: f64, factor: f64, max_rate: f64, refine: u32, slo_p99_ms: f64) -> Ramp {
        Ramp {
            slo_p99_ms,
            factor,
            max_rate,
            refine_left: refine,
            good: None,
            bad: None,
            next: Some(start.min(max_rate)),
        }
    }

    /// The next rate to offer, or `None` when the search is over.
    pub fn next_rate(&self) -> Option<f64> {
        self.next
    }

    /// Highest sustained rate seen (the answer once `next_rate` is `None`).
    pub fn best(&self) -> Option<f64> {
        self.good
    }

    pub fn observe(&mut self, step: &StepResult) {
        if sustained(step, self.slo_p99_ms) {
            self.good = Some(self.good.map_or(step.offered, |g| g.max(step.offered)));
        } else {
            self.bad = Some(self.bad.map_or(step.offered, |b| b.min(step.offered)));
        }
        self.next = match (self.good, self.bad) {
            // Still growing.
            (Some(g), None) => {
                if g >= self.max_rate {
                    None
                } else {
                    Some((g * self.factor).min(self.max_rate))
                }
            }
            // Even the first rate failed: nothing sustained.
            (None, Some(_)) => None,
            (Some(g), Some(b)) => {
                if self.refine_left == 0 || b <= g {
                    None
                } else {
                    self.refine_left -= 1;
                    Some((g + b) / 2.0)
                }
            }
            (None, None) => unreachable!("a step was observed"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that keeps p99 at 1 ms up to `capacity`, then falls behind.
    fn server(capacity: f64) -> impl Fn(f64) -> StepResult {
        move |offered| StepResult {
            offered,
            achieved: offered.min(capacity),
            p99_ms: if offered <= capacity { 1.0 } else { 500.0 },
            errors: 0,
        }
    }

    fn run(mut ramp: Ramp, srv: impl Fn(f64) -> StepResult) -> (Option<f64>, Vec<f64>) {
        let mut tried = Vec::new();
        while let Some(rate) = ramp.next_rate() {
            tried.push(rate);
            ramp.observe(&srv(rate));
            assert!(tried.len() < 100, "ramp does not terminate");
        }
        (ramp.best(), tried)
    }

    #[test]
    fn grows_geometrically_then_bisects() {
        let (best, tried) = run(Ramp::new(1000.0, 2.0, 1e9, 3, 10.0), server(10_000.0));
        assert_eq!(&tried[..5], &[1000.0, 2000.0, 4000.0, 8000.0, 16000.0]);
        // Bisection between 8000 and 16000: 12000 (bad), 10000 (good), 11000 (bad).
        assert_eq!(&tried[5..], &[12000.0, 10000.0, 11000.0]);
        assert_eq!(best, Some(10000.0));
    }

    #[test]
    fn first_step_failing_means_no_sustainable_rate() {
        let (best, tried) = run(Ramp::new(1000.0, 2.0, 1e9, 3, 10.0), server(10.0));
        assert_eq!(best, None);
        assert_eq!(tried, vec![1000.0]);
    }

    #[test]
    fn stops_at_max_rate() {
        let (best, tried) = run(Ramp::new(1000.0, 3.0, 5000.0, 3, 10.0), server(1e9));
        assert_eq!(tried, vec![1000.0, 3000.0, 5000.0]);
        assert_eq!(best, Some(5000.0));
    }

    #[test]
    fn sustained_needs_slo_throughput_and_no_errors() {
        let ok = StepResult {
            offered: 1000.0,
            achieved: 990.0,
            p99_ms: 5.0,
            errors: 0,
        };
        assert!(sustained(&ok, 10.0));
        assert!(!sustained(&StepResult { p99_ms: 10.1, ..ok }, 10.0));
        assert!(!sustained(
            &StepResult {
                achieved: 900.0,
                ..ok
            },
            10.0
        ));
        assert!(!sustained(&StepResult { errors: 1, ..ok }, 10.0));
    }

    #[test]
    fn no_refinement_stops_at_first_failure() {
        let (best, tried) = run(Ramp::new(1000.0, 2.0, 1e9, 0, 10.0), server(5000.0));
        assert_eq!(tried, vec![1000.0, 2000.0, 4000.0, 8000.0]);
        assert_eq!(best, Some(4000.0));
    }
}
