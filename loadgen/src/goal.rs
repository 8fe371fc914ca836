//! A counter that one task waits on until it reaches a target, advanced by
//! tasks on any executor.
//!
//! Why: the watch scenario's writer waits, after each change, for every
//! session's notification. Polling the counters on a short timer burns the
//! generator's CPU on the same two cores the server needs during the very
//! fan-out being measured. Here the task whose increment crosses the target
//! wakes the waiter once; nothing runs while the count is below it.
//!
//! Guarantees: [`Goal::reached`] completes once the count is at or above
//! the target (it re-checks after registering, so no crossing is missed);
//! an increment costs one atomic add unless it crosses a pending target.
//! The count and the target are sequentially consistent: the waiter stores
//! the target then reads the count, an adder adds then reads the target, so
//! at least one of them sees the other and the crossing is never lost.

use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Mutex;
use std::task::{Poll, Waker};

/// See the module docs.
#[derive(Debug)]
pub struct Goal {
    count: AtomicU64,
    /// The pending target; `u64::MAX` when nobody waits.
    target: AtomicU64,
    waiter: Mutex<Option<Waker>>,
}

impl Default for Goal {
    fn default() -> Goal {
        Goal {
            count: AtomicU64::new(0),
            target: AtomicU64::new(u64::MAX),
            waiter: Mutex::new(None),
        }
    }
}

impl Goal {
    /// The count so far.
    pub fn get(&self) -> u64 {
        self.count.load(SeqCst)
    }

    /// Adds one; wakes the waiter if this crosses its target.
    #[cfg(test)]
    pub fn incr(&self) {
        self.add(1);
    }

    /// Adds `n`; wakes the waiter if this crosses its target.
    pub fn add(&self, n: u64) {
        if n == 0 {
            return;
        }
        let before = self.count.fetch_add(n, SeqCst);
        let target = self.target.load(SeqCst);
        if before < target && before + n >= target {
            if let Some(waker) = self.waiter.lock().unwrap().take() {
                waker.wake();
            }
        }
    }

    /// Completes once the count is at least `target` (one waiter at a time).
    pub async fn reached(&self, target: u64) {
        poll_fn(|cx| {
            if self.get() >= target {
                return Poll::Ready(());
            }
            *self.waiter.lock().unwrap() = Some(cx.waker().clone());
            self.target.store(target, SeqCst);
            if self.get() >= target {
                self.target.store(u64::MAX, SeqCst);
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
        self.target.store(u64::MAX, SeqCst);
        self.waiter.lock().unwrap().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn waiter_wakes_when_other_threads_reach_the_target() {
        let goal = Arc::new(Goal::default());
        let adders: Vec<_> = (0..4)
            .map(|_| {
                let g = goal.clone();
                std::thread::spawn(move || {
                    for _ in 0..2500 {
                        g.incr();
                    }
                })
            })
            .collect();
        futures_lite::future::block_on(goal.reached(10_000));
        assert!(goal.get() >= 10_000);
        for a in adders {
            a.join().unwrap();
        }
        assert_eq!(goal.get(), 10_000);
        // Already reached: completes at once.
        futures_lite::future::block_on(goal.reached(5));
    }

    #[test]
    fn a_batch_that_jumps_over_the_target_wakes_the_waiter() {
        let goal = Arc::new(Goal::default());
        let g = goal.clone();
        let adder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            g.add(0);
            g.add(3);
            g.add(4);
        });
        // 3 then 7: the target 5 is never hit exactly.
        futures_lite::future::block_on(goal.reached(5));
        adder.join().unwrap();
        assert_eq!(goal.get(), 7);
    }

    #[test]
    fn waiter_stays_pending_below_the_target() {
        let goal = Goal::default();
        goal.incr();
        let wait = goal.reached(2);
        let timed_out = futures_lite::future::block_on(futures_lite::future::or(
            async {
                wait.await;
                false
            },
            async {
                std::thread::sleep(Duration::from_millis(20));
                true
            },
        ));
        assert!(timed_out, "one of two is not the target");
    }
}
