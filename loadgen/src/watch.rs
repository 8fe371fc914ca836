//! Watch fan-out: S sessions watch one znode (W watchers spread over them),
//! one writer session changes it T times, one change at a time. For each
//! notification we take the time from the writer's setData reply to its
//! arrival; for each change, the time from the setData send to the last
//! session's notification (the fan-out time).
//!
//! ZooKeeper keeps one watch per (session, path, kind): extra watchers in
//! one session are registered (getData plus exists for one-shot, repeated
//! addWatch for persistent) but the server sends that session one
//! notification per change, as it would to a real client that fans out
//! locally. So "notifications" counts sessions x changes.
//!
//! Who runs what: `--threads` executors connect their share of the sessions
//! and then serve them from one receive loop each ([`crate::watchers`]);
//! the writer runs on one more executor of its own, asleep while a change
//! fans out, so that its waits never hold up a receive loop.

use crate::cli::WatchMode;
use crate::conn::{connect, error_name, ConnError};
use crate::cpu;
use crate::engine::{join_executors, spawn_executors, Progress};
use crate::goal::Goal;
use crate::report::{Cpu, RunReport};
use crate::stats::{new_histogram, record, Latency};
use crate::watchers;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warden::proto::requests::{
    AddWatchRequest, DeleteRequest, PathWatchRequest, Request, SetDataRequest,
};
use warden::proto::types::AddWatchMode;

#[derive(Clone)]
pub struct WatchCfg {
    pub addr: String,
    pub session_timeout_ms: i32,
    pub io_timeout: Duration,
    pub path: String,
    pub payload: Bytes,
    pub sessions: usize,
    pub watchers: usize,
    pub changes: u64,
    pub mode: WatchMode,
    pub threads: usize,
    pub progress: bool,
    pub server_pid: Option<u32>,
}

/// What the writer, the watcher loops and the summary share.
#[derive(Default)]
pub(crate) struct State {
    pub registered: AtomicUsize,
    pub failed: AtomicUsize,
    pub notified: Goal,
    pub rearmed: Goal,
    changes_done: AtomicU64,
    pub writer_done: AtomicBool,
    errors: Mutex<BTreeMap<String, u64>>,
    first_error: Mutex<Option<String>>,
    /// (change, arrival) for every data-change notification.
    pub arrivals: Mutex<Vec<(u64, Instant)>>,
    /// Per change: setData sent, setData answered.
    sends: Mutex<Vec<(Instant, Instant)>>,
    measure_start: Mutex<Option<Instant>>,
}

impl State {
    pub fn error(&self, name: String, text: String) {
        *self.errors.lock().unwrap().entry(name).or_insert(0) += 1;
        let mut f = self.first_error.lock().unwrap();
        if f.is_none() {
            *f = Some(text);
        }
    }
}

/// The requests that (re-)arm `n` watchers of one session.
pub(crate) fn arm_requests(path: &str, n: usize, mode: WatchMode) -> Vec<Request> {
    (0..n)
        .map(|i| match mode {
            WatchMode::Oneshot if i == 0 => Request::GetData(PathWatchRequest {
                path: path.to_string(),
                watch: true,
            }),
            WatchMode::Oneshot => Request::Exists(PathWatchRequest {
                path: path.to_string(),
                watch: true,
            }),
            WatchMode::Persistent => Request::AddWatch(AddWatchRequest {
                path: path.to_string(),
                mode: AddWatchMode::Persistent as i32,
            }),
        })
        .collect()
}

/// Connects executor `e`'s share of the sessions, then serves them in one
/// loop (see [`crate::watchers`]) that owns the executor from then on.
async fn watcher_executor(e: usize, threads: usize, cfg: WatchCfg, st: Arc<State>) {
    let connecting: Vec<_> = (e..cfg.sessions)
        .step_by(threads)
        .map(|i| {
            let cfg = cfg.clone();
            glommio::spawn_local(async move {
                let conn = connect(&cfg.addr, cfg.session_timeout_ms, cfg.io_timeout).await;
                (i, conn)
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(connecting.len());
    for handle in connecting {
        match handle.await {
            (i, Ok(c)) => conns.push((i, c)),
            (_, Err(e)) => {
                st.failed.fetch_add(1, Release);
                if !st.writer_done.load(Acquire) {
                    st.error("connection failures".into(), e.to_string());
                }
            }
        }
    }
    watchers::serve(conns, &cfg, &st);
}

async fn wait_until(cond: impl Fn() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        glommio::timer::sleep(Duration::from_micros(50)).await;
    }
    true
}

async fn writer(cfg: WatchCfg, st: Arc<State>) {
    let result: Result<(), ConnError> = async {
        let mut conn = connect(&cfg.addr, cfg.session_timeout_ms, cfg.io_timeout).await?;
        let s = cfg.sessions;
        // Registration of many sessions can take a while: allow a minute.
        wait_until(
            || st.registered.load(Acquire) + st.failed.load(Acquire) >= s,
            Duration::from_secs(60),
        )
        .await;
        *st.measure_start.lock().unwrap() = Some(Instant::now());
        for k in 0..cfg.changes {
            let live = (s - st.failed.load(Acquire).min(s)) as u64;
            let base_n = st.notified.get();
            let base_r = st.rearmed.get();
            let sent = Instant::now();
            let (h, _) = conn
                .call(&Request::SetData(SetDataRequest {
                    path: cfg.path.clone(),
                    data: cfg.payload.clone().into(),
                    version: -1,
                }))
                .await?;
            let replied = Instant::now();
            st.sends.lock().unwrap().push((sent, replied));
            if h.err != 0 {
                st.error(
                    error_name(h.err),
                    format!("setData returned {}", error_name(h.err)),
                );
            }
            let oneshot = cfg.mode == WatchMode::Oneshot;
            // Woken by the session whose notification (and re-arm) completes
            // the change: no polling while the fan-out runs.
            let all_in = async {
                st.notified.reached(base_n + live).await;
                if oneshot {
                    st.rearmed.reached(base_r + live).await;
                }
                true
            };
            let timeout = async {
                glommio::timer::sleep(cfg.io_timeout).await;
                false
            };
            let ok = futures_lite::future::or(all_in, timeout).await;
            if !ok {
                st.error(
                    "missed notifications".into(),
                    format!("change {k}: not every session was notified within the timeout"),
                );
            }
            st.changes_done.fetch_add(1, Release);
        }
        st.writer_done.store(true, Release);
        // Deleting the node tells every watcher to close its session.
        let _ = conn
            .call(&Request::Delete(DeleteRequest {
                path: cfg.path.clone(),
                version: -1,
            }))
            .await?;
        let _ = conn.call(&Request::CloseSession).await;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        st.error("connection failures".into(), format!("writer: {e}"));
    }
    st.writer_done.store(true, Release);
}

pub fn run(cfg: &WatchCfg) -> Result<RunReport, String> {
    let st = Arc::new(State::default());
    let threads = cfg.threads.max(1);
    // `threads` executors serve the watchers; one more (mostly asleep) runs
    // the writer, whose waits must not stop a watcher loop.
    let handles = {
        let cfg = cfg.clone();
        let st = st.clone();
        spawn_executors(threads + 1, move |e| {
            let cfg = cfg.clone();
            let st = st.clone();
            async move {
                if e == threads {
                    writer(cfg, st).await;
                } else {
                    watcher_executor(e, threads, cfg, st).await;
                }
            }
        })?
    };
    let progress = Progress::new(cfg.progress);
    let mut cpu0 = None;
    while !st.writer_done.load(Acquire) {
        if cpu0.is_none() && st.measure_start.lock().unwrap().is_some() {
            cpu0 = Some((cpu::self_cpu(), cfg.server_pid.and_then(cpu::proc_cpu)));
        }
        progress.show(&format!(
            "[watch] sessions {}/{} registered, change {}/{}, notifications {}",
            st.registered.load(Relaxed),
            cfg.sessions,
            st.changes_done.load(Relaxed),
            cfg.changes,
            st.notified.get()
        ));
        std::thread::sleep(Duration::from_millis(20));
    }
    let t_end = Instant::now();
    let cpu1 = (cpu::self_cpu(), cfg.server_pid.and_then(cpu::proc_cpu));
    progress.done();
    join_executors(handles);
    Ok(summarise(cfg, &st, t_end, cpu0, cpu1))
}

type CpuMark = (Duration, Option<Duration>);

fn summarise(
    cfg: &WatchCfg,
    st: &State,
    t_end: Instant,
    cpu0: Option<CpuMark>,
    cpu1: CpuMark,
) -> RunReport {
    let sends = st.sends.lock().unwrap().clone();
    let arrivals = st.arrivals.lock().unwrap().clone();
    let mut from_reply = new_histogram();
    let mut from_send = new_histogram();
    let mut fanout = new_histogram();
    let mut setdata = new_histogram();
    let mut before_reply = 0u64;
    let mut last: Vec<Option<Instant>> = vec![None; sends.len()];
    for &(k, t) in &arrivals {
        let Some(&(sent, replied)) = sends.get(k as usize) else {
            continue;
        };
        record(&mut from_send, t.saturating_duration_since(sent));
        if t < replied {
            before_reply += 1;
        }
        record(&mut from_reply, t.saturating_duration_since(replied));
        let l = &mut last[k as usize];
        *l = Some(l.map_or(t, |x: Instant| x.max(t)));
    }
    let mut window = Duration::ZERO;
    for (k, &(sent, replied)) in sends.iter().enumerate() {
        record(&mut setdata, replied - sent);
        if let Some(l) = last[k] {
            record(&mut fanout, l - sent);
            window += l - sent;
        }
    }
    let notifications = arrivals.len() as u64;
    let expected = cfg.sessions as u64 * sends.len() as u64;
    let mut errors = st.errors.lock().unwrap().clone();
    if notifications < expected {
        errors.insert(
            "notifications never received".into(),
            expected - notifications,
        );
    }
    let error_total: u64 = errors.values().sum();
    let start = st.measure_start.lock().unwrap().unwrap_or(t_end);
    let elapsed = t_end.saturating_duration_since(start);
    let rate = if window.is_zero() {
        0.0
    } else {
        notifications as f64 / window.as_secs_f64()
    };
    let mut latency = BTreeMap::new();
    latency.insert("all".to_string(), Latency::of(&from_reply));
    latency.insert("fan-out (send to last)".to_string(), Latency::of(&fanout));
    latency.insert("notify (from send)".to_string(), Latency::of(&from_send));
    latency.insert("setData (writer)".to_string(), Latency::of(&setdata));
    let mut extra = BTreeMap::new();
    extra.insert("sessions".into(), cfg.sessions as f64);
    extra.insert("watchers".into(), cfg.watchers as f64);
    extra.insert("changes".into(), sends.len() as f64);
    extra.insert("notifications".into(), notifications as f64);
    extra.insert("notifications_per_s".into(), rate);
    extra.insert(
        "notifications_before_setData_reply".into(),
        before_reply as f64,
    );
    let f = Latency::of(&fanout);
    extra.insert("fanout_p50_ms".into(), f.p50_us / 1000.0);
    extra.insert("fanout_p99_ms".into(), f.p99_us / 1000.0);
    extra.insert("fanout_max_ms".into(), f.max_us / 1000.0);
    let (client_cpu, server_cpu) = match cpu0 {
        Some((c0, s0)) => (
            Cpu::new(cpu1.0.saturating_sub(c0), elapsed, notifications),
            match (s0, cpu1.1) {
                (Some(a), Some(b)) => Some(Cpu::new(b.saturating_sub(a), elapsed, notifications)),
                _ => None,
            },
        ),
        None => (Cpu::default(), None),
    };
    RunReport {
        label: format!("watch {:?}", cfg.mode).to_lowercase(),
        offered_rate: None,
        duration_s: elapsed.as_secs_f64(),
        ops: notifications,
        ops_per_s: rate,
        error_total,
        errors,
        conn_failures: 0,
        lost_requests: 0,
        depth_waits: 0,
        latency,
        series: Vec::new(),
        client_cpu,
        server_cpu,
        extra,
        first_error: st.first_error.lock().unwrap().clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arming_requests_per_mode() {
        let r = arm_requests("/w", 3, WatchMode::Oneshot);
        assert!(matches!(&r[0], Request::GetData(p) if p.watch && p.path == "/w"));
        assert!(matches!(&r[2], Request::Exists(p) if p.watch));
        let r = arm_requests("/w", 2, WatchMode::Persistent);
        assert_eq!(r.len(), 2);
        assert!(matches!(&r[1], Request::AddWatch(a) if a.mode == 0));
    }
}
