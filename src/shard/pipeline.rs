//! Per-session request ordering on a shard.
//!
//! ZooKeeper answers a session's requests in the order they were sent, and a
//! read sent after a write must see that write. Writes go to the sequencer
//! and come back later; reads are served locally. The pipeline holds a
//! session's requests from the first unanswered write on: a read queued
//! behind a write is evaluated only when everything before it is answered,
//! on the tree version right after that write. When nothing is pending, a
//! read is answered at once and never enters the queue.
//!
//! The sequencer publishes a tree version only where a shard needs one (the
//! end of each batch, and read points), not after every write. So a read
//! queued right behind a pending write is preceded by a read point: the
//! connection asks the sequencer for one ([`Pipeline::needs_point`]), which
//! answers it, in the session's order, with the version right after the
//! session's earlier writes. Points are not requests: they do not count
//! against the bound.

use std::collections::VecDeque;
use std::time::Instant;

/// One queued request.
#[derive(Debug)]
enum Slot<R, C> {
    Write {
        xid: i32,
        received: Instant,
        done: Option<C>,
    },
    Read(R),
    /// A read point: released once the sequencer has answered it.
    Point {
        done: bool,
    },
}

/// What the connection must do next, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Ready<R, C> {
    /// Send this completed write's reply (received at that instant).
    Write(C, Instant),
    /// Evaluate this read now and send its reply.
    Read(R),
}

/// The queue is at its bound; the connection must stop reading.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// A session's queue of unanswered requests, bounded by `capacity`.
#[derive(Debug)]
pub struct Pipeline<R, C> {
    queue: VecDeque<Slot<R, C>>,
    /// Read points in `queue` (not counted against `capacity`).
    points: usize,
    capacity: usize,
}

impl<R, C> Pipeline<R, C> {
    pub fn new(capacity: usize) -> Pipeline<R, C> {
        assert!(capacity > 0);
        Pipeline {
            queue: VecDeque::new(),
            points: 0,
            capacity,
        }
    }

    /// True when a read may be answered at once.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn push_write(&mut self, xid: i32, received: Instant) -> Result<(), Full> {
        self.push(Slot::Write {
            xid,
            received,
            done: None,
        })
    }

    pub fn push_read(&mut self, read: R) -> Result<(), Full> {
        self.push(Slot::Read(read))
    }

    fn push(&mut self, slot: Slot<R, C>) -> Result<(), Full> {
        if self.queue.len() - self.points >= self.capacity {
            return Err(Full);
        }
        self.queue.push_back(slot);
        Ok(())
    }

    /// True when a read pushed now would be released by the completion of a
    /// pending write (the last slot), i.e. in the middle of a batch: it
    /// needs a read point pushed (and asked of the sequencer) first.
    pub fn needs_point(&self) -> bool {
        matches!(self.queue.back(), Some(Slot::Write { done: None, .. }))
    }

    /// Queues a read point; the caller asks the sequencer for it.
    pub fn push_point(&mut self) {
        self.points += 1;
        self.queue.push_back(Slot::Point { done: false });
    }

    /// The oldest write or read point the sequencer has not answered yet.
    fn first_pending(&mut self) -> &mut Slot<R, C> {
        self.queue
            .iter_mut()
            .find(|slot| {
                matches!(
                    slot,
                    Slot::Write { done: None, .. } | Slot::Point { done: false }
                )
            })
            .expect("an answer from the sequencer was pending")
    }

    /// Records the reply of the oldest unanswered write. The sequencer keeps
    /// each session's order, so it must be the one with this xid.
    pub fn complete_write(&mut self, xid: i32, completed: C) {
        match self.first_pending() {
            Slot::Write {
                xid: pending, done, ..
            } => {
                assert_eq!(*pending, xid, "writes complete in the order sent");
                *done = Some(completed);
            }
            _ => panic!("a write completed where a read point was pending"),
        }
    }

    /// Records that the sequencer answered the oldest read point.
    pub fn complete_point(&mut self) {
        match self.first_pending() {
            Slot::Point { done } => *done = true,
            _ => panic!("a read point completed where a write was pending"),
        }
    }

    /// Puts back a read that [`Pipeline::pop_ready`] gave out but that must
    /// wait longer; it is next again.
    pub fn unpop_read(&mut self, read: R) {
        self.queue.push_front(Slot::Read(read));
    }

    /// The next thing to send, if everything before it is answered.
    pub fn pop_ready(&mut self) -> Option<Ready<R, C>> {
        loop {
            match self.queue.front()? {
                Slot::Write { done: None, .. } | Slot::Point { done: false } => return None,
                _ => match self.queue.pop_front()? {
                    Slot::Write { done, received, .. } => {
                        return Some(Ready::Write(done.expect("checked above"), received))
                    }
                    Slot::Read(read) => return Some(Ready::Read(read)),
                    Slot::Point { .. } => self.points -= 1,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type P = Pipeline<&'static str, &'static str>;

    /// One fixed instant, so replies compare equal.
    fn t0() -> Instant {
        thread_local!(static T0: Instant = Instant::now());
        T0.with(|t| *t)
    }

    fn drain(p: &mut P) -> Vec<Ready<&'static str, &'static str>> {
        std::iter::from_fn(|| p.pop_ready()).collect()
    }

    #[test]
    fn idle_pipeline_lets_reads_through() {
        let p = P::new(4);
        assert!(p.is_idle());
    }

    #[test]
    fn read_behind_write_waits_for_it() {
        let mut p = P::new(4);
        p.push_write(1, t0()).unwrap();
        p.push_read("r2").unwrap();
        assert!(!p.is_idle());
        assert_eq!(drain(&mut p), vec![]);
        p.complete_write(1, "w1");
        assert_eq!(
            drain(&mut p),
            vec![Ready::Write("w1", t0()), Ready::Read("r2")]
        );
        assert!(p.is_idle());
    }

    #[test]
    fn read_between_writes_is_released_between_them() {
        let mut p = P::new(8);
        p.push_write(1, t0()).unwrap();
        p.push_read("r2").unwrap();
        p.push_write(3, t0()).unwrap();
        p.push_read("r4").unwrap();
        p.complete_write(1, "w1");
        assert_eq!(
            drain(&mut p),
            vec![Ready::Write("w1", t0()), Ready::Read("r2")]
        );
        p.complete_write(3, "w3");
        assert_eq!(
            drain(&mut p),
            vec![Ready::Write("w3", t0()), Ready::Read("r4")]
        );
    }

    #[test]
    fn an_unpopped_read_comes_out_first_again() {
        let mut p = P::new(4);
        p.push_write(1, t0()).unwrap();
        p.push_read("r2").unwrap();
        p.push_read("r3").unwrap();
        p.complete_write(1, "w1");
        assert_eq!(p.pop_ready(), Some(Ready::Write("w1", t0())));
        let Some(Ready::Read(r)) = p.pop_ready() else {
            panic!()
        };
        p.unpop_read(r);
        assert_eq!(drain(&mut p), vec![Ready::Read("r2"), Ready::Read("r3")]);
    }

    #[test]
    fn bound_is_enforced() {
        let mut p = P::new(2);
        p.push_write(1, t0()).unwrap();
        p.push_read("r").unwrap();
        assert_eq!(p.push_read("r"), Err(Full));
    }

    #[test]
    fn a_read_behind_a_pending_write_needs_a_point_and_waits_for_it() {
        let mut p = P::new(2);
        assert!(!p.needs_point());
        p.push_write(1, t0()).unwrap();
        assert!(p.needs_point());
        p.push_point();
        p.push_read("r2").unwrap();
        // A second read shares the point; the bound counts requests only.
        assert!(!p.needs_point());
        assert_eq!(p.push_read("r3"), Err(Full));
        p.complete_write(1, "w1");
        assert_eq!(drain(&mut p), vec![Ready::Write("w1", t0())]);
        p.complete_point();
        assert_eq!(drain(&mut p), vec![Ready::Read("r2")]);
        assert!(p.is_idle());
    }

    #[test]
    fn a_completed_write_behind_a_waiting_read_needs_no_point() {
        let mut p = P::new(4);
        p.push_read("r1").unwrap();
        p.push_write(2, t0()).unwrap();
        p.complete_write(2, "w2");
        assert!(!p.needs_point());
    }

    #[test]
    #[should_panic(expected = "read point was pending")]
    fn a_write_answered_before_its_earlier_point_is_a_programmer_error() {
        let mut p = P::new(4);
        p.push_write(1, t0()).unwrap();
        p.push_point();
        p.push_write(3, t0()).unwrap();
        p.complete_write(1, "w1");
        p.complete_write(3, "w3");
    }

    #[test]
    #[should_panic(expected = "in the order sent")]
    fn out_of_order_completion_is_a_programmer_error() {
        let mut p = P::new(4);
        p.push_write(1, t0()).unwrap();
        p.push_write(2, t0()).unwrap();
        p.complete_write(2, "w2");
    }
}
