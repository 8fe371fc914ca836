//! The open loop: one pacing loop per executor drives all of that
//! executor's connections at a fixed total rate.
//!
//! Why: sending each request from its own timer wake-up, and reading each
//! reply from its own task wake-up, cost the generator about a core at
//! 35k requests/s on the machine it shares with the server. This loop wakes
//! at most once per tick (see [`crate::pacing`]); at each wake-up it reads
//! whatever replies arrived (one epoll poll for all sockets, one `recv` per
//! readable socket), then builds every due request and hands each
//! connection's bytes to the kernel with one non-blocking `send`. No timer,
//! task or allocation per request.
//!
//! Guarantees:
//! - latency counts from each request's intended send time (the schedule's,
//!   not when the loop got to it) to the wake-up that saw its reply;
//! - send lag (reported as its own row) is how late each request's bytes
//!   reached the kernel: tick granularity, CPU, and server back-pressure
//!   (a full socket), for requests that did not wait for a free slot;
//! - at most `depth` requests per connection are outstanding; due requests
//!   beyond that wait, keep their intended times, and are counted as depth
//!   waits;
//! - a connection with replies pending and none arriving for the request
//!   timeout, or with bytes the kernel has not taken for that long, fails
//!   with a timeout; failures and requests lost with them are counted.

use crate::conn::{connect, Conn, ConnError, Received};
use crate::engine::{
    drain_replies, record_failure, BoxSource, InFlight, LoadCfg, Recorder, Shared,
};
use crate::pacing;
use crate::readiness::Readiness;
use crate::schedule::Schedule;
use crate::workload::Op;
use glommio::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::*;
use std::time::{Duration, Instant};
use warden::proto::requests::Request;

/// Latency row of the open loop's own lateness.
pub const SEND_LAG: &str = "(generator send lag)";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Sending,
    /// The close request is queued; waiting for its reply.
    Closing,
    Done,
    Failed,
}

/// One connection of the loop.
struct Paced {
    conn: Conn<TcpStream>,
    schedule: Schedule,
    source: BoxSource,
    inflight: InFlight,
    state: State,
    /// Intended times of requests in the write buffer that did not wait
    /// for a slot: their send lag is known once the buffer is empty.
    unsent: Vec<Instant>,
    /// Requests below this index were counted as waiting for a slot.
    waited_below: u64,
    /// Since when replies are awaited with none arriving.
    awaiting_since: Option<Instant>,
    /// Since when the kernel has not taken all of the write buffer.
    stalled_since: Option<Instant>,
    /// Removed from the readiness set (done or failed).
    forgotten: bool,
}

/// What one wake-up did, recorded under one lock.
#[derive(Default)]
struct Tally {
    lags: Vec<std::time::Duration>,
    depth_waits: u64,
}

impl Paced {
    fn new(conn: Conn<TcpStream>, schedule: Schedule, source: BoxSource, depth: usize) -> Paced {
        Paced {
            conn,
            schedule,
            source,
            inflight: InFlight::with_capacity(depth + 1),
            state: State::Sending,
            unsent: Vec::with_capacity(depth),
            waited_below: 0,
            awaiting_since: None,
            stalled_since: None,
            forgotten: false,
        }
    }

    fn live(&self) -> bool {
        matches!(self.state, State::Sending | State::Closing)
    }

    /// Requests lost if this connection fails now (not the close request).
    fn lost(&self) -> usize {
        let closing = self.state == State::Closing;
        self.inflight.len().saturating_sub(closing as usize)
    }

    /// Takes what the socket holds and handles the replies in it.
    fn read(
        &mut self,
        now: Instant,
        shared: &Shared,
        rec: &Recorder,
        cfg: &LoadCfg,
    ) -> Result<(), ConnError> {
        if self.conn.recv_nonblocking()? == Received::Nothing {
            return Ok(());
        }
        let before = self.inflight.len();
        let closed = drain_replies(
            &mut self.conn,
            &mut self.inflight,
            now,
            shared,
            rec,
            &cfg.tolerate,
        )?;
        if closed {
            self.state = State::Done;
        }
        if self.inflight.len() < before {
            self.awaiting_since = (!self.inflight.is_empty()).then_some(now);
        }
        Ok(())
    }

    /// Queues the close request; no more requests after it.
    fn close(&mut self, now: Instant) {
        let (x, code) = self.conn.push(&Request::CloseSession);
        self.push_inflight(x, code, Op::GetData, now);
        self.state = State::Closing;
    }

    fn push_inflight(
        &mut self,
        xid: i32,
        code: warden::proto::types::OpCode,
        op: Op,
        intended: Instant,
    ) {
        if self.inflight.is_empty() {
            self.awaiting_since = Some(Instant::now());
        }
        self.inflight.push_back((xid, code, op, intended));
    }

    /// Builds every request due at `now` that has a free slot.
    fn build_due(&mut self, now: Instant, depth: usize, shared: &Shared, tally: &mut Tally) {
        if self.state != State::Sending {
            return;
        }
        if shared.stop.load(Relaxed) {
            self.close(now);
            return;
        }
        let free = depth.saturating_sub(self.inflight.len());
        let batch = pacing::due(&self.schedule, now, free);
        if batch.waiting > 0 {
            let due_end = batch.first + batch.count + batch.waiting;
            let from = self.waited_below.max(batch.first + batch.count);
            tally.depth_waits += due_end.saturating_sub(from);
            self.waited_below = self.waited_below.max(due_end);
        }
        for i in batch.first..batch.first + batch.count {
            let next = if shared.claim() {
                self.source.next_request()
            } else {
                None
            };
            let Some((req, op)) = next else {
                self.close(now);
                return;
            };
            let intended = self.schedule.intended(i);
            let (x, code) = self.conn.push(&req);
            self.push_inflight(x, code, op, intended);
            if i >= self.waited_below {
                self.unsent.push(intended);
            }
            self.schedule.advance(1);
        }
    }

    /// Hands the write buffer to the kernel; once it is all taken, the
    /// requests in it have their send lag.
    fn send(&mut self, tally: &mut Tally, measuring: bool) -> Result<(), ConnError> {
        if self.conn.wbuf.is_empty() {
            return Ok(());
        }
        if !self.conn.send_buffered()? {
            self.stalled_since.get_or_insert_with(Instant::now);
            return Ok(());
        }
        self.stalled_since = None;
        let sent = Instant::now();
        if measuring {
            tally
                .lags
                .extend(self.unsent.iter().map(|&t| pacing::latency(t, sent)));
        }
        self.unsent.clear();
        Ok(())
    }

    /// A timeout, if replies or sends have been stuck too long.
    fn check_timeouts(&self, now: Instant, limit: Duration) -> Result<(), ConnError> {
        let stuck = |since: Option<Instant>| {
            since.is_some_and(|t| now.saturating_duration_since(t) > limit)
        };
        if stuck(self.awaiting_since) || stuck(self.stalled_since) {
            Err(ConnError::Timeout)
        } else {
            Ok(())
        }
    }

    /// Work left that needs the loop to look again within one tick.
    fn busy(&self) -> bool {
        self.live() && (!self.inflight.is_empty() || !self.conn.wbuf.is_empty())
    }
}

/// Connects `conns` (index, source) of `total`, then paces them at their
/// share of `rate` until the run stops and every session is closed.
pub async fn run_executor(
    conns: Vec<(usize, BoxSource)>,
    total: usize,
    rate: f64,
    cfg: LoadCfg,
    shared: std::sync::Arc<Shared>,
    rec: Recorder,
) {
    let connecting: Vec<_> = conns
        .into_iter()
        .map(|(i, source)| {
            let cfg = cfg.clone();
            let shared = shared.clone();
            glommio::spawn_local(async move {
                let conn = connect(&cfg.addr, cfg.session_timeout_ms, cfg.io_timeout).await;
                shared.ready.fetch_add(1, Release);
                (i, conn, source)
            })
        })
        .collect();
    let mut ready = Vec::new();
    for handle in connecting {
        let (i, conn, source) = handle.await;
        match conn {
            Ok(c) => ready.push((i, c, source)),
            Err(e) => record_failure(&shared, &rec, &e, 0),
        }
    }
    if ready.is_empty() || !shared.wait_go().await {
        return;
    }
    let start = *shared.go_time.get().expect("go time set before go");
    let paced: Vec<Paced> = ready
        .into_iter()
        .map(|(i, c, source)| {
            Paced::new(c, Schedule::new(start, rate, total, i), source, cfg.depth)
        })
        .collect();
    if let Err(e) = pace(paced, &cfg, &shared, &rec) {
        shared.note_error(format!("pacing loop: {e}"));
    }
}

/// The loop itself. It owns its executor's thread from here on and sleeps
/// with `nanosleep`, not a glommio timer: on this 2-core VM a glommio timer
/// wake-up costs about 32 us of CPU (io_uring timeouts armed and cancelled,
/// a membarrier before parking) against about 15 us for `nanosleep` (see the
/// ignored `wake_up_cost` test), and nothing else runs on this executor
/// once the sessions are up: every socket is driven here, non-blocking.
fn pace(
    mut conns: Vec<Paced>,
    cfg: &LoadCfg,
    shared: &Shared,
    rec: &Recorder,
) -> std::io::Result<()> {
    // Wake when asked to, not up to 50 us later (the default timer slack).
    // SAFETY: prctl on the calling thread only.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
    let mut readiness = Readiness::new(conns.len())?;
    for (token, c) in conns.iter().enumerate() {
        readiness.add(c.conn.stream.as_raw_fd(), token as u64)?;
    }
    let mut tally = Tally::default();
    let mut readable = Vec::with_capacity(conns.len());
    while conns.iter().any(Paced::live) {
        let woke = Instant::now();
        readable.clear();
        readable.extend(readiness.poll()?);
        let mut failed: Vec<(usize, ConnError)> = Vec::new();
        for &t in &readable {
            let c = &mut conns[t as usize];
            if c.live() {
                if let Err(e) = c.read(woke, shared, rec, cfg) {
                    failed.push((t as usize, e));
                }
            }
        }
        let now = Instant::now();
        let measuring = shared.measuring.load(Relaxed);
        for (t, c) in conns.iter_mut().enumerate() {
            if !c.live() || failed.iter().any(|(f, _)| *f == t) {
                continue;
            }
            c.build_due(now, cfg.depth, shared, &mut tally);
            if let Err(e) = c
                .send(&mut tally, measuring)
                .and_then(|_| c.check_timeouts(now, cfg.io_timeout))
            {
                failed.push((t, e));
            }
        }
        for (t, e) in failed {
            let c = &mut conns[t];
            record_failure(shared, rec, &e, c.lost());
            c.state = State::Failed;
        }
        for c in conns
            .iter_mut()
            .filter(|c| c.state == State::Done || c.state == State::Failed)
        {
            if !c.forgotten {
                c.forgotten = true;
                let _ = readiness.remove(c.conn.stream.as_raw_fd());
            }
        }
        record(rec, &mut tally, measuring);
        let next_due = conns
            .iter()
            .filter(|c| c.state == State::Sending)
            .map(|c| c.schedule.peek())
            .min();
        let busy = conns.iter().any(Paced::busy);
        // Nothing due and nothing pending: closing sessions still get
        // looked at every tick.
        let next_due = next_due.unwrap_or(woke);
        let wake = pacing::next_wake(woke, next_due, busy, cfg.tick);
        let now = Instant::now();
        if wake > now {
            std::thread::sleep(wake - now);
        }
    }
    Ok(())
}

/// Moves one wake-up's counts into the executor's recorder.
fn record(rec: &Recorder, tally: &mut Tally, measuring: bool) {
    if tally.lags.is_empty() && tally.depth_waits == 0 {
        return;
    }
    let mut r = rec.lock().unwrap();
    if measuring {
        r.depth_waits += tally.depth_waits;
        for &lag in &tally.lags {
            r.part(SEND_LAG, lag);
        }
    }
    tally.lags.clear();
    tally.depth_waits = 0;
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    fn thread_cpu() -> Duration {
        // SAFETY: getrusage writes into the struct we pass and nothing else.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(u.ru_utime) + tv(u.ru_stime)
    }

    /// Prints CPU and lateness per wake-up of `n` sleeps of `tick` each.
    struct Probe {
        cpu: Duration,
        start: Instant,
        late: Duration,
    }

    impl Probe {
        fn new() -> Probe {
            Probe {
                cpu: thread_cpu(),
                start: Instant::now(),
                late: Duration::ZERO,
            }
        }

        fn woke(&mut self, wanted: Instant) {
            self.late += Instant::now().saturating_duration_since(wanted);
        }

        fn print(&self, name: &str, n: u32) {
            let cpu = thread_cpu() - self.cpu;
            println!(
                "{name}: {:.2} us CPU per wake-up, {:.1} us late on average, {:.2} s",
                cpu.as_secs_f64() * 1e6 / n as f64,
                self.late.as_secs_f64() * 1e6 / n as f64,
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    /// CPU and lateness of one wake-up, glommio timer vs nanosleep.
    /// `cargo test --release -p warden-loadgen wake_up_cost -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn wake_up_cost() {
        const N: u32 = 20_000;
        let tick = Duration::from_micros(50);
        let h = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .spawn(move || async move {
                let mut p = Probe::new();
                for _ in 0..N {
                    let want = Instant::now() + tick;
                    glommio::timer::sleep(tick).await;
                    p.woke(want);
                }
                p.print("glommio sleep", N);
                // SAFETY: prctl on this thread only.
                unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
                let mut p = Probe::new();
                for _ in 0..N {
                    let want = Instant::now() + tick;
                    std::thread::sleep(tick);
                    p.woke(want);
                }
                p.print("nanosleep", N);
            })
            .unwrap();
        h.join().unwrap();
    }
}
