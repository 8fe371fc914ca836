//! The load engine: executors, connections (closed-loop pipelined or
//! open-loop at a fixed rate), and the main-thread monitor that turns the
//! executors' interval counters into progress, a time series and a report.

use crate::conn::{connect, decode, error_name, frame_xid, Conn, ConnError};
use crate::cpu;
use crate::openloop;
use crate::pacing;
use crate::report::{Cpu, RunReport};
use crate::stats::{rate, Interval, Latency, Point};
use crate::workload::Op;
use glommio::{LocalExecutorBuilder, Placement};
use std::collections::VecDeque;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use warden::proto::requests::Request;
use warden::proto::types::{xid, OpCode};

/// glommio's registered buffers per executor: small, like the server's.
pub const IO_MEMORY_BYTES: usize = 512 * 1024;

/// Where requests come from, per connection. `None`: this connection is done.
pub trait Source {
    fn next_request(&mut self) -> Option<(Request, Op)>;
}

impl Source for crate::workload::Generator {
    fn next_request(&mut self) -> Option<(Request, Op)> {
        Some(self.next())
    }
}

/// A fixed list of requests (setup: populating keys).
pub struct Script(pub VecDeque<(Request, Op)>);

impl Source for Script {
    fn next_request(&mut self) -> Option<(Request, Op)> {
        self.0.pop_front()
    }
}

pub type BoxSource = Box<dyn Source + Send>;

/// How to reach the server and how hard to push.
#[derive(Clone, Debug)]
pub struct LoadCfg {
    pub addr: String,
    pub session_timeout_ms: i32,
    pub io_timeout: Duration,
    pub depth: usize,
    /// Open loop at this total rate; closed loop when `None`.
    pub rate: Option<f64>,
    pub threads: usize,
    /// Error codes that are not errors (setup tolerates NodeExists).
    pub tolerate: Vec<i32>,
    /// Open loop: the pacing loop wakes at most once per tick.
    pub tick: Duration,
}

/// State shared by the main thread and every executor.
pub struct Shared {
    /// Stop issuing new requests.
    pub stop: AtomicBool,
    /// Replies are counted only while this is set.
    pub measuring: AtomicBool,
    /// Load starts once every connection is up (or failed).
    pub go: AtomicBool,
    pub go_time: OnceLock<Instant>,
    /// Remaining measured operations with --ops.
    pub budget: Option<AtomicI64>,
    pub ready: AtomicUsize,
    pub active: AtomicUsize,
    pub first_error: Mutex<Option<String>>,
}

impl Shared {
    pub fn new(connections: usize, ops: Option<u64>) -> Arc<Shared> {
        Arc::new(Shared {
            stop: AtomicBool::new(false),
            measuring: AtomicBool::new(false),
            go: AtomicBool::new(false),
            go_time: OnceLock::new(),
            budget: ops.map(|n| AtomicI64::new(n as i64)),
            ready: AtomicUsize::new(0),
            active: AtomicUsize::new(connections),
            first_error: Mutex::new(None),
        })
    }

    /// May one more request be issued?
    pub(crate) fn claim(&self) -> bool {
        if self.stop.load(Relaxed) {
            return false;
        }
        match &self.budget {
            Some(b) if self.measuring.load(Relaxed) => b.fetch_sub(1, Relaxed) > 0,
            _ => true,
        }
    }

    pub fn note_error(&self, text: String) {
        let mut first = self.first_error.lock().unwrap();
        if first.is_none() {
            *first = Some(text);
        }
    }

    /// Waits (asynchronously) until the main thread says go; false if stopped.
    pub async fn wait_go(&self) -> bool {
        while !self.go.load(Acquire) {
            if self.stop.load(Relaxed) {
                return false;
            }
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        true
    }
}

pub type Recorder = Arc<Mutex<Interval>>;

/// Starts `threads` glommio executors (unpinned), each running `make(i)`.
pub fn spawn_executors<F, Fut>(
    threads: usize,
    make: F,
) -> Result<Vec<glommio::ExecutorJoinHandle<()>>, String>
where
    F: Fn(usize) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    (0..threads)
        .map(|i| {
            let make = make.clone();
            LocalExecutorBuilder::new(Placement::Unbound)
                .name(&format!("loadgen-{i}"))
                .io_memory(IO_MEMORY_BYTES)
                .spawn(move || make(i))
                .map_err(|e| format!("cannot start executor {i}: {e}"))
        })
        .collect()
}

pub fn join_executors(handles: Vec<glommio::ExecutorJoinHandle<()>>) {
    for h in handles {
        let _ = h.join();
    }
}

/// One connection's queue entry: xid, opcode, op kind, clock start.
pub(crate) type InFlight = VecDeque<(i32, OpCode, Op, Instant)>;

pub(crate) fn record_failure(shared: &Shared, rec: &Recorder, e: &ConnError, lost: usize) {
    shared.note_error(e.to_string());
    let mut r = rec.lock().unwrap();
    r.conn_failures += 1;
    r.lost += lost as u64;
}

/// Handles the replies buffered on `conn`, seen at `now`; `Ok(true)` when
/// the session-close reply came.
pub(crate) fn drain_replies<S>(
    conn: &mut Conn<S>,
    inflight: &mut InFlight,
    now: Instant,
    shared: &Shared,
    rec: &Recorder,
    tolerate: &[i32],
) -> Result<bool, ConnError> {
    let measuring = shared.measuring.load(Relaxed);
    let mut guard = None;
    let mut closed = false;
    while let Some(frame) = conn.buffered_frame()? {
        let x = frame_xid(&frame);
        if x == xid::NOTIFICATION || x == xid::PING {
            continue;
        }
        let (want, code, op, start) = inflight
            .pop_front()
            .ok_or_else(|| ConnError::Protocol(format!("unexpected reply xid {x}")))?;
        if x != want {
            return Err(ConnError::Protocol(format!(
                "reply xid {x}, expected {want}"
            )));
        }
        let (header, _) = decode(code, &frame)?;
        if code == OpCode::CloseSession {
            closed = true;
            continue;
        }
        if header.err != 0 && !tolerate.contains(&header.err) {
            let g = guard.get_or_insert_with(|| rec.lock().unwrap());
            g.error(error_name(header.err));
            drop(guard.take());
            shared.note_error(format!("{} returned {}", op.name(), error_name(header.err)));
        } else if measuring {
            let g = guard.get_or_insert_with(|| rec.lock().unwrap());
            g.ok(op.name(), pacing::latency(start, now));
        }
    }
    Ok(closed)
}

/// Connects one session, waits for go, then runs the closed loop.
pub async fn run_connection(
    cfg: Rc<LoadCfg>,
    shared: Arc<Shared>,
    rec: Recorder,
    source: BoxSource,
) {
    let conn = connect(&cfg.addr, cfg.session_timeout_ms, cfg.io_timeout).await;
    shared.ready.fetch_add(1, Release);
    let conn = match conn {
        Ok(c) => c,
        Err(e) => {
            record_failure(&shared, &rec, &e, 0);
            return;
        }
    };
    if shared.wait_go().await {
        closed_loop(conn, &cfg, &shared, &rec, source).await
    }
}

/// Keeps `depth` requests in flight; refills after each read.
async fn closed_loop(
    mut conn: Conn<glommio::net::TcpStream>,
    cfg: &LoadCfg,
    shared: &Shared,
    rec: &Recorder,
    mut source: BoxSource,
) {
    let mut inflight = InFlight::with_capacity(cfg.depth + 1);
    let mut closing = false;
    let result: Result<(), ConnError> = async {
        loop {
            if !closing {
                let now = Instant::now();
                let q = &mut inflight;
                while q.len() < cfg.depth {
                    let next = if shared.claim() {
                        source.next_request()
                    } else {
                        None
                    };
                    match next {
                        Some((req, op)) => {
                            let (x, code) = conn.push(&req);
                            q.push_back((x, code, op, now));
                        }
                        None => {
                            // Done: close the session behind the last request.
                            let (x, code) = conn.push(&Request::CloseSession);
                            q.push_back((x, code, Op::GetData, now));
                            closing = true;
                            break;
                        }
                    }
                }
            }
            conn.flush().await?;
            conn.fill().await?;
            let now = Instant::now();
            if drain_replies(&mut conn, &mut inflight, now, shared, rec, &cfg.tolerate)? {
                return Ok(());
            }
        }
    }
    .await;
    if let Err(e) = result {
        // The close request itself is not a lost operation.
        let lost = inflight.len().saturating_sub(closing as usize);
        record_failure(shared, rec, &e, lost);
    }
}

/// Options of one monitored run.
pub struct MonitorCfg {
    pub label: String,
    pub connections: usize,
    pub warmup: Duration,
    /// Measure this long (or until every connection is done with --ops).
    pub duration: Option<Duration>,
    pub progress: bool,
    pub server_pid: Option<u32>,
    pub offered_rate: Option<f64>,
    pub tick: Duration,
    /// Test seam: the monitoring thread stops this long right after it
    /// says go, as a loaded machine may deschedule it there. Zero in runs.
    pub pause_after_go: Duration,
}

/// Runs `sources.len()` load connections and monitors them: closed loop,
/// one task per connection; open loop, one pacing loop per executor.
pub fn run_load(
    cfg: &LoadCfg,
    mon: &MonitorCfg,
    ops: Option<u64>,
    sources: Vec<BoxSource>,
) -> Result<RunReport, String> {
    let total = sources.len();
    let slots: Arc<Vec<Mutex<Option<BoxSource>>>> =
        Arc::new(sources.into_iter().map(|s| Mutex::new(Some(s))).collect());
    let take = move |i: usize| {
        slots[i]
            .lock()
            .unwrap()
            .take()
            .expect("one task per source")
    };
    let lcfg = cfg.clone();
    let Some(rate) = cfg.rate else {
        return run_monitored(
            cfg.threads,
            total,
            mon,
            ops,
            cfg.io_timeout,
            move |i, shared, rec| run_connection(Rc::new(lcfg.clone()), shared, rec, take(i)),
        );
    };
    let executors = cfg.threads.min(total).max(1);
    let mut report = run_monitored(
        executors,
        executors,
        mon,
        ops,
        cfg.io_timeout,
        move |e, shared, rec| {
            let mine = (e..total)
                .step_by(executors)
                .map(|i| (i, take(i)))
                .collect();
            openloop::run_executor(mine, total, rate, lcfg.clone(), shared, rec)
        },
    )?;
    report
        .extra
        .insert("pacing_tick_us".into(), cfg.tick.as_secs_f64() * 1e6);
    Ok(report)
}

/// Runs `tasks` tasks spread over `threads` executors, task `i` made by
/// `make(i, shared, recorder)`, and monitors them from this thread until the
/// run ends (duration, budget spent, or every task finished).
pub fn run_monitored<F, Fut>(
    threads: usize,
    tasks: usize,
    mon: &MonitorCfg,
    ops: Option<u64>,
    io_timeout: Duration,
    make: F,
) -> Result<RunReport, String>
where
    F: Fn(usize, Arc<Shared>, Recorder) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let shared = Shared::new(tasks, ops);
    let threads = threads.min(tasks).max(1);
    let recs: Vec<Recorder> = (0..threads).map(|_| Recorder::default()).collect();
    let handles = {
        let shared = shared.clone();
        let recs = recs.clone();
        spawn_executors(threads, move |e| {
            let shared = shared.clone();
            let rec = recs[e].clone();
            let make = make.clone();
            async move {
                let handles: Vec<_> = (e..tasks)
                    .step_by(threads)
                    .map(|i| {
                        let fut = make(i, shared.clone(), rec.clone());
                        let shared = shared.clone();
                        glommio::spawn_local(async move {
                            fut.await;
                            shared.active.fetch_sub(1, Release);
                        })
                    })
                    .collect();
                for h in handles {
                    h.await;
                }
            }
        })?
    };
    let mut report = monitor(&shared, &recs, mon, io_timeout);
    shared.stop.store(true, Release);
    join_executors(handles);
    // Failures seen while draining still count.
    let mut late = Interval::default();
    for r in &recs {
        late.merge(&r.lock().unwrap());
    }
    report.add_late_failures(&late);
    report.first_error = shared.first_error.lock().unwrap().clone();
    Ok(report)
}

fn take_all(recs: &[Recorder]) -> Interval {
    let mut iv = Interval::default();
    for r in recs {
        let taken = std::mem::take(&mut *r.lock().unwrap());
        iv.merge(&taken);
    }
    iv
}

/// Progress line on a terminal: label, elapsed, rate, p99, errors.
pub struct Progress {
    on: bool,
}

impl Progress {
    pub fn new(wanted: bool) -> Progress {
        Progress {
            on: wanted && std::io::stderr().is_terminal(),
        }
    }

    pub fn show(&self, text: &str) {
        if self.on {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K{text}");
            let _ = e.flush();
        }
    }

    pub fn done(&self) {
        if self.on {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
        }
    }
}

fn monitor(
    shared: &Shared,
    recs: &[Recorder],
    mon: &MonitorCfg,
    io_timeout: Duration,
) -> RunReport {
    let progress = Progress::new(mon.progress);
    // Connect phase: wait until every connection is up or failed.
    let deadline = Instant::now() + io_timeout + Duration::from_secs(5);
    while shared.ready.load(Acquire) < mon.connections && Instant::now() < deadline {
        progress.show(&format!(
            "[{}] connecting {}/{}",
            mon.label,
            shared.ready.load(Relaxed),
            mon.connections
        ));
        std::thread::sleep(Duration::from_millis(5));
    }
    // Connect phase: failures count, operations do not (there are none).
    let mut before = take_all(recs);
    let mut cpu0 = cpu::self_cpu();
    let mut srv0 = mon.server_pid.and_then(cpu::proc_cpu);
    let go = Instant::now();
    let mut t0 = go;
    let _ = shared.go_time.set(go);
    if mon.warmup.is_zero() {
        // Count from the first request (an --ops budget is exact), and
        // every operation from then on: a short run (a setup's few creates)
        // may be over before this thread looks again.
        shared.measuring.store(true, Release);
    }
    shared.go.store(true, Release);
    std::thread::sleep(mon.pause_after_go);
    if !mon.warmup.is_zero() {
        // Warmup: load runs, nothing counted.
        while go.elapsed() < mon.warmup && shared.active.load(Acquire) > 0 {
            progress.show(&format!("[{}] warming up", mon.label));
            std::thread::sleep(Duration::from_millis(10));
        }
        // Warmup: failures count, operations do not.
        before.merge_failures(&take_all(recs));
        cpu0 = cpu::self_cpu();
        srv0 = mon.server_pid.and_then(cpu::proc_cpu);
        t0 = Instant::now();
        shared.measuring.store(true, Release);
    }
    let mut total = Interval::default();
    total.merge_failures(&before);
    let mut series = Vec::new();
    let mut last_tick = t0;
    let mut next_tick = t0 + mon.tick;
    let end_at = mon.duration.map(|d| t0 + d);
    loop {
        let now = Instant::now();
        let over = end_at.is_some_and(|e| now >= e) || shared.active.load(Acquire) == 0;
        if over {
            break;
        }
        if now >= next_tick {
            let iv = take_all(recs);
            let p = Point::of((now - t0).as_secs_f64(), now - last_tick, &iv);
            total.merge(&iv);
            progress.show(&format!(
                "[{} {:5.1}s] {} ops/s  p99 {}  errors {}",
                mon.label,
                p.t,
                crate::stats::si(p.ops_per_s),
                crate::stats::fmt_us(p.p99_us),
                total.error_count()
            ));
            series.push(p);
            last_tick = now;
            next_tick += mon.tick;
            continue;
        }
        let mut wait = next_tick - now;
        if let Some(e) = end_at {
            wait = wait.min(e.saturating_duration_since(now));
        }
        std::thread::sleep(wait.min(Duration::from_millis(10)));
    }
    shared.measuring.store(false, Release);
    shared.stop.store(true, Release);
    let t_end = Instant::now();
    let cpu1 = cpu::self_cpu();
    let srv1 = mon.server_pid.and_then(cpu::proc_cpu);
    let iv = take_all(recs);
    if t_end > last_tick + Duration::from_millis(1) && (iv.ops > 0 || iv.error_count() > 0) {
        series.push(Point::of(
            (t_end - t0).as_secs_f64(),
            t_end - last_tick,
            &iv,
        ));
    }
    total.merge(&iv);
    progress.done();
    let elapsed = t_end - t0;
    let mut latency = std::collections::BTreeMap::new();
    latency.insert("all".to_string(), Latency::of(&total.all));
    for (op, h) in &total.by_op {
        latency.insert(op.to_string(), Latency::of(h));
    }
    let client_cpu = Cpu::new(cpu1.saturating_sub(cpu0), elapsed, total.ops);
    let server_cpu = match (srv0, srv1) {
        (Some(a), Some(b)) => Some(Cpu::new(b.saturating_sub(a), elapsed, total.ops)),
        _ => None,
    };
    RunReport {
        label: mon.label.clone(),
        offered_rate: mon.offered_rate,
        duration_s: elapsed.as_secs_f64(),
        ops: total.ops,
        ops_per_s: rate(total.ops, elapsed),
        error_total: total.error_count(),
        errors: total.errors.clone(),
        conn_failures: total.conn_failures,
        lost_requests: total.lost,
        depth_waits: total.depth_waits,
        latency,
        series,
        client_cpu,
        server_cpu,
        extra: Default::default(),
        first_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_op_each(pause_after_go: Duration, warmup: Duration) -> RunReport {
        let mon = MonitorCfg {
            label: "t".into(),
            connections: 1,
            warmup,
            duration: None,
            progress: false,
            server_pid: None,
            offered_rate: None,
            tick: Duration::from_millis(100),
            pause_after_go,
        };
        run_monitored(
            1,
            1,
            &mon,
            None,
            Duration::from_secs(5),
            |_, shared, rec| async move {
                shared.ready.fetch_add(1, Release);
                if shared.wait_go().await {
                    rec.lock().unwrap().ok("create", Duration::from_micros(50));
                }
            },
        )
        .unwrap()
    }

    #[test]
    fn a_run_over_before_the_monitor_looks_still_counts_its_operations() {
        // The setup of a scenario is a few creates on one connection; on a
        // loaded machine they were all done before the monitoring thread
        // ran again after go, were taken for warmup, and the run reported
        // "no operation completed" (the compare's retried setups, a failed
        // scenarios test under ./test.sh).
        let report = one_op_each(Duration::from_millis(50), Duration::ZERO);
        assert_eq!(report.ops, 1);
    }

    #[test]
    fn operations_during_the_warmup_are_not_counted() {
        let report = one_op_each(Duration::ZERO, Duration::from_millis(200));
        assert_eq!(report.ops, 0, "the only op came in the warmup");
    }
}
