//! `warden-loadgen`: a ZooKeeper-protocol load generator.
//!
//! It speaks the wire protocol with Warden's own client codec, so it measures
//! any ZooKeeper-compatible server (Apache ZooKeeper included). Connections
//! run on glommio executors with many requests in flight each; latencies go
//! into HDR histograms; the open-loop mode measures from the intended send
//! time. Exit status: 0 for a valid run, 1 for a run with errors (or none
//! measured), 2 for bad arguments.

mod churn;
mod cli;
mod conn;
mod cpu;
mod engine;
mod frames;
mod goal;
mod openloop;
mod outbuf;
mod pacing;
mod plot;
mod ramp;
mod readiness;
mod report;
mod rxstamp;
mod schedule;
mod stats;
mod template;
mod watch;
mod watchers;
mod workload;

use bytes::Bytes;
use clap::Parser;
use cli::{CapacityWorkload, Cli, Common, Scenario};
use engine::{BoxSource, LoadCfg, MonitorCfg, Script};
use report::{Output, RunReport};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use warden::proto::types::ErrorCode;
use workload::{Generator, Keys, Mix, Op};

fn main() {
    let cli = Cli::parse();
    if let Err(e) = cli.scenario.validate() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let common = cli.scenario.common().clone();
    let mut out = Output {
        scenario: cli.scenario.name().to_string(),
        server: common.server.clone(),
        command_line: std::env::args().collect(),
        runs: Vec::new(),
        summary: BTreeMap::new(),
        valid: false,
        invalid_reasons: Vec::new(),
    };
    let result = run(&cli.scenario, &mut out);
    if let Some(pid) = common.server_pid {
        if let (Some(run), Some(rss)) = (out.runs.last_mut(), cpu::proc_rss(pid)) {
            run.extra.insert("server_rss_bytes".into(), rss as f64);
        }
    }
    out.judge();
    if let Err(e) = &result {
        out.valid = false;
        out.invalid_reasons.push(e.clone());
    }
    print!("{}", out.table());
    let mut failed_output = false;
    if let Some(path) = &common.json {
        let written = std::fs::File::create(path)
            .map_err(|e| e.to_string())
            .and_then(|f| serde_json::to_writer_pretty(f, &out).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", path.display());
            failed_output = true;
        }
    }
    if let Some(path) = &common.plot {
        let title = format!("{} ({})", out.scenario, out.server);
        if let Err(e) = plot::write_svg(path, &title, &out.runs) {
            eprintln!("error: {e}");
            failed_output = true;
        }
    }
    std::process::exit(if out.valid && !failed_output { 0 } else { 1 });
}

fn load_cfg(c: &Common, rate: Option<f64>) -> LoadCfg {
    LoadCfg {
        addr: c.server.clone(),
        session_timeout_ms: c.session_timeout,
        io_timeout: Duration::from_secs_f64(c.request_timeout),
        depth: c.depth,
        rate,
        threads: c.threads,
        tolerate: Vec::new(),
        tick: Duration::from_micros(c.tick_us),
    }
}

fn monitor_cfg(c: &Common, label: String, rate: Option<f64>) -> MonitorCfg {
    MonitorCfg {
        label,
        connections: c.connections,
        warmup: Duration::from_secs_f64(c.warmup),
        duration: if c.ops.is_some() {
            None
        } else {
            Some(c.duration())
        },
        progress: !c.quiet,
        server_pid: c.server_pid,
        offered_rate: rate,
        tick: Duration::from_secs(1),
        pause_after_go: Duration::ZERO,
    }
}

/// A name for this run's own znodes, so repeated runs do not collide.
fn run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{:x}-{:x}", std::process::id(), secs & 0xff_ffff_ffff)
}

/// Creates `paths` (in order) from one session per connection, pipelined;
/// NodeExists is fine. Reported as a run labelled `label`.
fn create_all(c: &Common, label: &str, paths: Vec<(String, Bytes)>) -> Result<RunReport, String> {
    let n = c.connections.min(paths.len()).max(1);
    let mut scripts: Vec<VecDeque<_>> = (0..n).map(|_| VecDeque::new()).collect();
    for (i, (p, data)) in paths.into_iter().enumerate() {
        scripts[i % n].push_back((workload::create(p, data, 0), Op::Create));
    }
    let sources: Vec<BoxSource> = scripts
        .into_iter()
        .map(|s| Box::new(Script(s)) as BoxSource)
        .collect();
    let mut cfg = load_cfg(c, None);
    cfg.tolerate = vec![ErrorCode::NodeExists.code()];
    let mut mon = monitor_cfg(c, label.to_string(), None);
    mon.connections = n;
    mon.duration = None;
    mon.warmup = Duration::ZERO;
    mon.server_pid = None;
    engine::run_load(&cfg, &mon, None, sources)
}

/// The prefix and its ancestors, then `dirs`, then the keys if wanted.
fn prepare(c: &Common, out: &mut Output, dirs: &[String], keys: bool) -> Result<(), String> {
    let prefix = c.prefix();
    let mut paths = Vec::new();
    let mut at = String::new();
    for part in prefix.split('/').skip(1) {
        at.push('/');
        at.push_str(part);
        paths.push((at.clone(), Bytes::new()));
    }
    paths.extend(dirs.iter().map(|d| (d.clone(), Bytes::new())));
    // Parents first: one connection, in order.
    let mut one = c.clone();
    one.connections = 1;
    let r = create_all(&one, "setup (paths)", paths)?;
    if r.error_total > 0 || r.ops == 0 {
        out.runs.push(r);
        return Err("setup failed: cannot create the run's znodes".into());
    }
    if keys {
        let payload = Bytes::from(vec![b'x'; c.payload]);
        let k = Keys {
            prefix: prefix.clone(),
            count: c.keys,
        };
        let paths = (0..c.keys).map(|i| (k.key(i), payload.clone())).collect();
        let r = create_all(c, "setup (keys)", paths)?;
        if r.error_total > 0 || r.ops == 0 {
            out.runs.push(r);
            return Err("setup failed: cannot create the keys".into());
        }
        eprintln!(
            "setup: {} keys of {} bytes under {prefix} ({:.1} s)",
            c.keys, c.payload, r.duration_s
        );
    }
    Ok(())
}

/// One closed- or open-loop run of `mix` on every connection.
fn run_mix(
    c: &Common,
    mix: &Mix,
    create_dir: &str,
    label: String,
    rate: Option<f64>,
) -> Result<RunReport, String> {
    let payload = Bytes::from(vec![b'x'; c.payload]);
    let keys = Keys {
        prefix: c.prefix(),
        count: c.keys,
    };
    let sources: Vec<BoxSource> = (0..c.connections)
        .map(|i| {
            Box::new(Generator::new(
                mix.clone(),
                keys.clone(),
                create_dir.to_string(),
                i,
                payload.clone(),
                c.seed,
            )) as BoxSource
        })
        .collect();
    engine::run_load(
        &load_cfg(c, rate),
        &monitor_cfg(c, label, rate),
        c.ops,
        sources,
    )
}

fn mode_label(name: &str, rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{name} @{}/s", stats::si(r)),
        None => name.to_string(),
    }
}

fn run(s: &Scenario, out: &mut Output) -> Result<(), String> {
    let c = s.common();
    let id = run_id();
    let prefix = c.prefix();
    match s {
        Scenario::Write(a) => {
            let mix = Mix::new(&[
                (Op::Create, a.create),
                (Op::SetData, a.set),
                (Op::Delete, a.delete),
            ]);
            let dir = format!("{prefix}/w-{id}");
            let dirs = if a.create + a.delete > 0 {
                vec![dir.clone()]
            } else {
                vec![]
            };
            prepare(c, out, &dirs, a.set > 0)?;
            out.runs
                .push(run_mix(c, &mix, &dir, mode_label("write", c.rate), c.rate)?);
        }
        Scenario::Read(a) => {
            let mix = Mix::new(&[
                (Op::GetData, a.get),
                (Op::Exists, a.exists),
                (Op::GetChildren, a.children),
            ]);
            prepare(c, out, &[], true)?;
            out.runs
                .push(run_mix(c, &mix, "", mode_label("read", c.rate), c.rate)?);
        }
        Scenario::Mixed(a) => {
            let mix = Mix::new(&[
                (Op::GetData, a.read_ratio),
                (Op::SetData, 100 - a.read_ratio),
            ]);
            prepare(c, out, &[], true)?;
            let label = mode_label(&format!("mixed {}% reads", a.read_ratio), c.rate);
            out.runs.push(run_mix(c, &mix, "", label, c.rate)?);
        }
        Scenario::Sweep(a) => {
            prepare(c, out, &[], true)?;
            let mut curve = Vec::new();
            for &r in &a.ratios {
                let mix = Mix::new(&[(Op::GetData, r), (Op::SetData, 100 - r)]);
                let label = mode_label(&format!("{r}% reads"), c.rate);
                let run = run_mix(c, &mix, "", label, c.rate)?;
                curve.push(serde_json::json!({
                    "read_percent": r,
                    "ops_per_s": run.ops_per_s,
                    "p99_us": run.all().p99_us,
                }));
                let stop = run.error_total > 0 && run.ops == 0;
                out.runs.push(run);
                if stop {
                    break;
                }
            }
            out.summary
                .insert("curve".into(), serde_json::Value::Array(curve));
        }
        Scenario::Capacity(a) => {
            prepare(c, out, &[], true)?;
            let mix = match a.workload {
                CapacityWorkload::Read => Mix::new(&[(Op::GetData, 100)]),
                CapacityWorkload::Write => Mix::new(&[(Op::SetData, 100)]),
                CapacityWorkload::Mixed => Mix::new(&[
                    (Op::GetData, a.read_ratio),
                    (Op::SetData, 100 - a.read_ratio),
                ]),
            };
            let mut ramp =
                ramp::Ramp::new(a.start_rate, a.factor, a.max_rate, a.refine, a.slo_p99_ms);
            let mut steps = Vec::new();
            while let Some(rate) = ramp.next_rate() {
                let run = run_mix(c, &mix, "", mode_label("offered", Some(rate)), Some(rate))?;
                let step = ramp::StepResult {
                    offered: rate,
                    achieved: run.ops_per_s,
                    p99_ms: run.all().p99_us / 1000.0,
                    errors: run.error_total,
                };
                let ok = ramp::sustained(&step, a.slo_p99_ms);
                eprintln!(
                    "capacity: offered {}/s achieved {}/s p99 {:.2} ms errors {} -> {}",
                    stats::si(rate),
                    stats::si(step.achieved),
                    step.p99_ms,
                    step.errors,
                    if ok { "sustained" } else { "not sustained" }
                );
                steps.push(serde_json::json!({
                    "offered": rate, "achieved": step.achieved,
                    "p99_ms": step.p99_ms, "errors": step.errors, "sustained": ok,
                }));
                let dead = run.ops == 0;
                out.runs.push(run);
                ramp.observe(&step);
                if dead {
                    break;
                }
            }
            out.summary
                .insert("steps".into(), serde_json::Value::Array(steps));
            out.summary
                .insert("slo_p99_ms".into(), serde_json::json!(a.slo_p99_ms));
            out.summary.insert(
                "highest_sustainable_rate".into(),
                serde_json::json!(ramp.best()),
            );
            // Steps past capacity miss the SLO by design; only errors
            // invalidate the run, so drop the step runs' SLO misses from
            // judgement by keeping them as they are (judge looks at errors).
        }
        Scenario::Watch(a) => {
            let path = format!("{prefix}/watch-{id}");
            prepare(c, out, &[], false)?;
            let mut one = c.clone();
            one.connections = 1;
            let r = create_all(
                &one,
                "setup (watched)",
                vec![(path.clone(), Bytes::from(vec![b'x'; c.payload]))],
            )?;
            if r.error_total > 0 {
                out.runs.push(r);
                return Err("setup failed: cannot create the watched znode".into());
            }
            let cfg = watch::WatchCfg {
                addr: c.server.clone(),
                session_timeout_ms: c.session_timeout,
                io_timeout: Duration::from_secs_f64(c.request_timeout),
                path,
                payload: Bytes::from(vec![b'y'; c.payload]),
                sessions: c.connections,
                watchers: a.watchers,
                changes: a.changes,
                mode: a.mode,
                threads: c.threads,
                progress: !c.quiet,
                server_pid: c.server_pid,
            };
            out.runs.push(watch::run(&cfg)?);
        }
        Scenario::Churn(_) => {
            let dir = format!("{prefix}/churn-{id}");
            prepare(c, out, std::slice::from_ref(&dir), false)?;
            let cfg = churn::ChurnCfg {
                addr: c.server.clone(),
                session_timeout_ms: c.session_timeout,
                io_timeout: Duration::from_secs_f64(c.request_timeout),
                dir,
                payload: Bytes::from(vec![b'x'; c.payload]),
            };
            let mon = monitor_cfg(c, "churn".into(), None);
            let mut r = engine::run_monitored(
                c.threads,
                c.connections,
                &mon,
                c.ops,
                cfg.io_timeout,
                move |i, shared, rec| churn::churn_task(i, cfg.clone(), shared, rec),
            )?;
            r.extra.insert("sessions_per_s".into(), r.ops_per_s);
            r.extra
                .insert("ephemeral_creates_per_s".into(), r.ops_per_s);
            out.runs.push(r);
        }
    }
    Ok(())
}
