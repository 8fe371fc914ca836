//! When the sequencer runtime takes events: the group-commit intake rule.
//!
//! While a flush is in flight, events wait in the channel and are taken
//! together once it completes, so each flush covers the one batch sealed
//! before it (issue 6: an event taken as it came cost a wake-up, a tree
//! version, an append and a publication). A flush slower than the pause
//! (a stalled disk) must not also hold up four-letter words, ticks and new
//! requests, so after [`INTAKE_PAUSE_MAX`] events are taken as they come
//! again, and the next flush may cover several batches.
//!
//! Guarantee checked in release builds: a flush covers more than one
//! batch only if intake resumed after the flush before it was cut.

use std::time::Duration;

/// Longest the runtime leaves events waiting for a flush.
pub const INTAKE_PAUSE_MAX: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
pub struct Intake {
    /// The flush in flight outlasted the pause: take events as they come.
    resumed: bool,
    /// Intake resumed since the last flush was cut: batches appended
    /// meanwhile all go into the next one.
    resumed_since_cut: bool,
    /// The flush in flight may cover several batches.
    cut_may_cover_many: bool,
}

impl Intake {
    /// Whether to leave events in the channel now.
    pub fn waits(&self, flush_in_flight: bool) -> bool {
        flush_in_flight && !self.resumed
    }

    /// The flush in flight outlasted [`INTAKE_PAUSE_MAX`].
    pub fn pause_over(&mut self) {
        self.resumed = true;
        self.resumed_since_cut = true;
    }

    /// A flush ticket was cut for everything appended so far.
    pub fn flush_cut(&mut self) {
        self.cut_may_cover_many = self.resumed_since_cut;
        self.resumed_since_cut = false;
    }

    /// The flush cut last completed, covering `batches` batches.
    pub fn flush_completed(&mut self, batches: usize) {
        assert!(
            batches <= 1 || self.cut_may_cover_many,
            "a flush covered {batches} batches though events waited for the one before it"
        );
        self.resumed = false;
        self.cut_may_cover_many = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_wait_only_while_a_flush_runs_and_the_pause_lasts() {
        let mut intake = Intake::default();
        assert!(!intake.waits(false));
        intake.flush_cut();
        assert!(intake.waits(true));
        intake.pause_over();
        assert!(!intake.waits(true), "a slow flush no longer holds events");
        intake.flush_completed(1);
        intake.flush_cut();
        assert!(intake.waits(true), "the next flush pauses intake again");
    }

    #[test]
    fn batches_taken_after_the_pause_go_into_the_next_flush_together() {
        let mut intake = Intake::default();
        intake.flush_cut(); // F1: one batch.
        intake.pause_over(); // B2, B3 appended while F1 runs.
        intake.flush_completed(1);
        intake.flush_cut(); // F2 covers B2 and B3.
        intake.flush_completed(2);
        intake.flush_cut(); // F3: intake waited again.
        intake.flush_completed(1);
    }

    #[test]
    #[should_panic(expected = "covered 2 batches")]
    fn several_batches_without_a_pause_expiry_are_a_programmer_error() {
        let mut intake = Intake::default();
        intake.flush_cut();
        intake.flush_completed(1);
        intake.flush_cut();
        intake.flush_completed(2);
    }
}
