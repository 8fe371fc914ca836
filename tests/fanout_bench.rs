//! Watch fan-out benchmark (issue 3), run on demand:
//!
//! ```text
//! cargo test --release --test fanout_bench -- --ignored --nocapture
//! ```
//!
//! N sessions (default 1,000 and 10,000) each hold a one-shot exists watch
//! on one znode; a separate session sends one setData. The figure is the time
//! from just before the setData is written to the socket to the arrival of
//! the last of the N notifications, median of `FANOUT_RUNS` (default 5) runs
//! over the same sessions. Targets: Warden with two shards and Apache
//! ZooKeeper 3.8 started as the differential test starts it (both with
//! `maxClientCnxns=0`). Environment: `FANOUT_SIZES=1000,10000`,
//! `FANOUT_TARGETS=warden,zookeeper`, `FANOUT_RUNS=5`.
//!
//! The receivers are `FANOUT_THREADS` (default 4) threads, each reading its
//! share of the sockets one after another with blocking reads; they share
//! the machine's cores with the server, as a client fleet on one box would.

mod support;
#[path = "differential/zookeeper.rs"]
mod zookeeper;

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use support::Client;
use warden::proto::requests::*;
use warden::proto::types::{Acl, EventType, NodeData, OpCode};

const NODE: &str = "/fanout-bench";

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `runs` fan-outs to `sessions` sessions on `port`; returns each run's
/// time from the setData to the last notification.
fn measure(port: u16, sessions: usize, runs: usize, threads: usize) -> Vec<Duration> {
    let mut writer = Client::connect(port);
    let (h, _) = writer.call(&Request::Create(
        OpCode::Create2,
        CreateRequest {
            path: NODE.into(),
            data: NodeData::copy_from_slice(b"0"),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: None,
        },
    ));
    assert_eq!(h.err, 0);
    // Phases per run: watches set -> (main sends setData) -> all received.
    let barrier = Arc::new(Barrier::new(threads + 1));
    let last_arrivals = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let share = sessions / threads + usize::from(t < sessions % threads);
            let barrier = barrier.clone();
            let last_arrivals = last_arrivals.clone();
            std::thread::spawn(move || {
                let mut clients: Vec<Client> = (0..share)
                    .map(|_| Client::connect_with(port, 0, &[0; 16], 30_000).expect("session"))
                    .collect();
                // Warden: a session on another shard may be a batch behind.
                let xids: Vec<i32> = clients
                    .iter_mut()
                    .map(|c| c.send(&Request::Sync(NODE.into())))
                    .collect();
                for (c, xid) in clients.iter_mut().zip(xids) {
                    assert_eq!(c.wait_reply(xid).0.err, 0);
                }
                for _ in 0..runs {
                    let xids: Vec<i32> = clients
                        .iter_mut()
                        .map(|c| {
                            c.send(&Request::Exists(PathWatchRequest {
                                path: NODE.into(),
                                watch: true,
                            }))
                        })
                        .collect();
                    for (c, xid) in clients.iter_mut().zip(xids) {
                        assert_eq!(c.wait_reply(xid).0.err, 0);
                    }
                    barrier.wait();
                    let mut last = None;
                    for c in clients.iter_mut() {
                        let e = c.next_event(Duration::from_secs(60)).expect("an event");
                        assert_eq!(e.event_type, EventType::NodeDataChanged);
                        last = Some(Instant::now());
                    }
                    if let Some(last) = last {
                        last_arrivals.lock().unwrap().push(last);
                    }
                    barrier.wait();
                }
            })
        })
        .collect();
    let mut figures = Vec::new();
    for run in 0..runs {
        barrier.wait();
        let start = Instant::now();
        let xid = writer.send(&Request::SetData(SetDataRequest {
            path: NODE.into(),
            data: NodeData::copy_from_slice(run.to_string().as_bytes()),
            version: -1,
        }));
        assert_eq!(writer.wait_reply(xid).0.err, 0);
        barrier.wait();
        let last = last_arrivals.lock().unwrap().drain(..).max().unwrap();
        figures.push(last - start);
    }
    for h in handles {
        h.join().unwrap();
    }
    figures
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn watch_fan_out() {
    let sizes: Vec<usize> = env_list("FANOUT_SIZES", "1000,10000")
        .iter()
        .map(|s| s.parse().expect("FANOUT_SIZES: numbers"))
        .collect();
    let targets = env_list("FANOUT_TARGETS", "warden,zookeeper");
    let runs = env_usize("FANOUT_RUNS", 5);
    let threads = env_usize("FANOUT_THREADS", 4);
    let mut rows = Vec::new();
    for target in &targets {
        for &n in &sizes {
            let figures = match target.as_str() {
                "warden" => {
                    // The harness's tickTime=200 caps sessions at 4 s; 10,000
                    // idle sessions need longer while the rest connect.
                    let server = support::Server::start(2, "maxClientCnxns=0\ntickTime=2000");
                    measure(server.port, n, runs, threads)
                }
                "zookeeper" => {
                    let zk = zookeeper::ZooKeeper::start(1000);
                    measure(zk.port, n, runs, threads)
                }
                other => panic!("unknown target {other}"),
            };
            let all: Vec<String> = figures.iter().map(|d| ms(*d)).collect();
            eprintln!("{target} {n}: {} ms", all.join(" "));
            rows.push((target.clone(), n, median(figures), all.join(" ")));
        }
    }
    println!();
    println!("| target | sessions | median setData -> last notification (ms) | runs (ms) |");
    println!("|---|---:|---:|---|");
    for (target, n, med, all) in rows {
        let name = if target == "warden" {
            "Warden (shards=2)".to_string()
        } else {
            "Apache ZooKeeper 3.8".to_string()
        };
        println!("| {name} | {n} | {} | {all} |", ms(med));
    }
}
