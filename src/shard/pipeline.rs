//! Per-session request ordering on a shard.
//!
//! ZooKeeper answers a session's requests in the order they were sent, and a
//! read sent after a write must see that write. Writes go to the sequencer
//! and come back later; reads are served locally. The pipeline holds a
//! session's requests from the first unanswered write on: a read queued
//! behind a write is evaluated only when everything before it is answered,
//! on the tree version right after that write. When nothing is pending, a
//! read is answered at once and never enters the queue.

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
    capacity: usize,
}

impl<R, C> Pipeline<R, C> {
    pub fn new(capacity: usize) -> Pipeline<R, C> {
        assert!(capacity > 0);
        Pipeline {
            queue: VecDeque::new(),
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
        if self.queue.len() >= self.capacity {
            return Err(Full);
        }
        self.queue.push_back(slot);
        Ok(())
    }

    /// Records the reply of the oldest unanswered write. The sequencer keeps
    /// each session's order, so it must be the one with this xid.
    pub fn complete_write(&mut self, xid: i32, completed: C) {
        let slot = self
            .queue
            .iter_mut()
            .find(|slot| matches!(slot, Slot::Write { done: None, .. }))
            .expect("a completed write was pending");
        match slot {
            Slot::Write {
                xid: pending, done, ..
            } => {
                assert_eq!(*pending, xid, "writes complete in the order sent");
                *done = Some(completed);
            }
            Slot::Read(_) => unreachable!(),
        }
    }

    /// Puts back a read that [`Pipeline::pop_ready`] gave out but that must
    /// wait longer; it is next again.
    pub fn unpop_read(&mut self, read: R) {
        self.queue.push_front(Slot::Read(read));
    }

    /// The next thing to send, if everything before it is answered.
    pub fn pop_ready(&mut self) -> Option<Ready<R, C>> {
        match self.queue.front()? {
            Slot::Write { done: None, .. } => None,
            _ => match self.queue.pop_front()? {
                Slot::Write { done, received, .. } => {
                    Some(Ready::Write(done.expect("checked above"), received))
                }
                Slot::Read(read) => Some(Ready::Read(read)),
            },
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
    #[should_panic(expected = "in the order sent")]
    fn out_of_order_completion_is_a_programmer_error() {
        let mut p = P::new(4);
        p.push_write(1, t0()).unwrap();
        p.push_write(2, t0()).unwrap();
        p.complete_write(2, "w2");
    }
}
