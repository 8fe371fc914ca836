//! Every scenario for about a second against a real Warden, plus the failure
//! paths (closed port, server killed mid-run).
//!
//! The warden binary is not built by this crate: it is looked up in
//! `$WARDEN_BIN`, then `$CARGO_TARGET_DIR/{release,debug}/warden`, then the
//! workspace `target/{release,debug}/warden` (newest first). Build it with
//! `cargo build --release -p warden` (or `cargo build -p warden`).

#[path = "../../tests/support/client.rs"]
mod client;

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn warden_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WARDEN_BIN") {
        return PathBuf::from(p);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut roots = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        let t = PathBuf::from(t);
        roots.push(if t.is_absolute() {
            t
        } else {
            manifest.join("..").join(t)
        });
    }
    roots.push(manifest.join("../target"));
    // This test binary lives in <target>/<profile>/deps/.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(t) = exe.ancestors().nth(3) {
            roots.push(t.to_path_buf());
        }
    }
    let mut found: Vec<PathBuf> = roots
        .iter()
        .flat_map(|r| ["release", "debug"].map(|p| r.join(p).join("warden")))
        .filter(|p| p.is_file())
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.metadata().and_then(|m| m.modified()).ok()));
    found.into_iter().next().unwrap_or_else(|| {
        panic!(
            "no warden binary found (looked in $WARDEN_BIN and {:?}/{{release,debug}}/warden); \
             build it first with `cargo build --release -p warden`",
            roots
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_ticking(2000)
    }

    /// A server with this `tickTime` (the shortest session timeout it
    /// grants is two ticks).
    fn start_ticking(tick_ms: u32) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = format!(
            "tickTime={tick_ms}\nclientPort={port}\nclientPortAddress=127.0.0.1\ndataDir={}\n\
             4lw.commands.whitelist=*\nmaxClientCnxns=0\nshards=2\n",
            dir.path().display()
        );
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = std::fs::File::create(dir.path().join("warden.log")).unwrap();
        let child = Command::new(warden_bin())
            .args(["server", "--config"])
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start warden");
        let server = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if ruok(port) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "warden did not start:\n{}",
            std::fs::read_to_string(server.dir.path().join("warden.log")).unwrap_or_default()
        );
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The answer to a four-letter word.
fn four(port: u16, word: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(word.as_bytes());
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

/// The server's `Total watches:` figure (`wchs`).
fn total_watches(port: u16) -> u64 {
    let text = four(port, "wchs");
    text.lines()
        .find_map(|l| l.strip_prefix("Total watches:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn ruok(port: u16) -> bool {
    four(port, "ruok") == "imok"
}

/// Runs the generator with `args` plus --server/--json; returns the exit
/// output and the parsed JSON.
fn loadgen(addr: &str, args: &[&str], limit: Duration) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden-loadgen"))
        .args(args)
        .args(["--server", addr, "--quiet", "--json"])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "loadgen {args:?} did not finish within {limit:?}\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let value = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (out, value)
}

fn assert_clean(name: &str, out: &Output, v: &Value) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name}: exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert_eq!(v["valid"], Value::Bool(true), "{name}: {stdout}");
    let runs = v["runs"].as_array().expect("runs");
    assert!(!runs.is_empty(), "{name}");
    for r in runs {
        assert!(r["ops"].as_u64().unwrap() > 0, "{name}: no ops\n{stdout}");
        assert_eq!(
            r["error_total"].as_u64(),
            Some(0),
            "{name}: errors\n{stdout}"
        );
    }
    assert!(stdout.contains("run valid"), "{name}: {stdout}");
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn every_scenario_runs_cleanly_against_warden() {
    let server = Server::start();
    let addr = server.addr();
    let common = ["--keys", "500", "--payload", "100"];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("write", vec!["write", "-c", "4", "-d", "16"]),
        (
            "write mix",
            vec![
                "write", "-c", "4", "-d", "16", "--create", "40", "--set", "20", "--delete", "40",
            ],
        ),
        (
            "read mix",
            vec![
                "read",
                "-c",
                "4",
                "--get",
                "50",
                "--exists",
                "25",
                "--children",
                "25",
            ],
        ),
        ("mixed", vec!["mixed", "-c", "4", "--read-ratio", "70"]),
        (
            "open loop",
            vec!["mixed", "-c", "4", "--rate", "2000", "--threads", "2"],
        ),
        (
            "sweep",
            vec!["sweep", "-c", "2", "--ratios", "0,100", "--duration", "0.5"],
        ),
        ("churn", vec!["churn", "-c", "2"]),
        (
            "capacity",
            vec![
                "capacity",
                "-c",
                "2",
                "--duration",
                "0.5",
                "--start-rate",
                "500",
                "--factor",
                "2",
                "--max-rate",
                "2000",
                "--slo-p99-ms",
                "1000",
                "--refine",
                "0",
            ],
        ),
        (
            "watch oneshot",
            vec!["watch", "-c", "20", "-w", "40", "-t", "5"],
        ),
        (
            "watch persistent",
            vec![
                "watch",
                "-c",
                "20",
                "-w",
                "20",
                "-t",
                "5",
                "--mode",
                "persistent",
            ],
        ),
    ];
    for (seed, (name, args)) in cases.iter().enumerate() {
        let seed = (seed + 100).to_string();
        let mut all: Vec<&str> = args.clone();
        all.extend_from_slice(&common);
        if !all.contains(&"--duration") {
            all.extend_from_slice(&["--duration", "1"]);
        }
        all.extend_from_slice(&["--seed", &seed]);
        let (out, v) = loadgen(&addr, &all, LIMIT);
        assert_clean(name, &out, &v);
        match *name {
            "capacity" => {
                assert_eq!(
                    v["summary"]["highest_sustainable_rate"],
                    serde_json::json!(2000.0)
                );
            }
            "sweep" => assert_eq!(v["runs"].as_array().unwrap().len(), 2),
            "watch oneshot" | "watch persistent" => {
                let r = &v["runs"][0];
                assert_eq!(r["extra"]["notifications"].as_f64(), Some(100.0), "{r}");
            }
            "open loop" => {
                let r = &v["runs"][0];
                assert_eq!(r["offered_rate"].as_f64(), Some(2000.0));
                let achieved = r["ops_per_s"].as_f64().unwrap();
                assert!(achieved > 1500.0, "open loop achieved only {achieved}/s");
            }
            _ => {}
        }
    }
}

#[test]
fn plot_is_written() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("p.svg");
    let svg_arg = svg.to_str().unwrap().to_string();
    let (out, v) = loadgen(
        &server.addr(),
        &[
            "read",
            "-c",
            "2",
            "--duration",
            "1.5",
            "--keys",
            "100",
            "--plot",
            &svg_arg,
        ],
        LIMIT,
    );
    assert_clean("plot", &out, &v);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
    assert!(text.contains("throughput"));
}

#[test]
fn closed_port_is_a_clean_failure() {
    let port = free_port();
    let (out, v) = loadgen(
        &format!("127.0.0.1:{port}"),
        &[
            "read",
            "-c",
            "3",
            "--duration",
            "1",
            "--request-timeout",
            "2",
        ],
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("RUN INVALID"), "{stdout}");
    assert_eq!(v["valid"], Value::Bool(false));
    assert!(v["runs"][0]["conn_failures"].as_u64().unwrap() >= 1, "{v}");
}

/// Runs the generator with `args` against a server SIGKILLed once
/// `kill_when` (given the port) returns; checks the run failed (exit 1) and
/// ended soon after the kill. Returns its stdout and JSON.
fn run_until_server_killed(
    args: &[&str],
    kill_when: impl FnOnce(u16) + Send + 'static,
) -> (String, Value) {
    let mut server = Server::start();
    let (pid, port) = (server.child.id(), server.port);
    let killer = std::thread::spawn(move || {
        kill_when(port);
        // SAFETY: plain kill(2) on the child we started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        Instant::now()
    });
    let (out, v) = loadgen(&server.addr(), args, Duration::from_secs(45));
    let killed = killer.join().unwrap();
    let _ = server.child.wait();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "run did not end soon after the server died"
    );
    (stdout, v)
}

/// Runs `read` with `args` (plus 30 s, 200 keys, 3 s request timeout)
/// against a server SIGKILLed after 2.5 s.
fn read_until_server_killed(args: &[&str]) -> (String, Value) {
    let mut all = vec!["read"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--duration",
        "30",
        "--keys",
        "200",
        "--request-timeout",
        "3",
    ]);
    run_until_server_killed(&all, |_| std::thread::sleep(Duration::from_millis(2500)))
}

#[test]
fn server_killed_mid_run_is_counted_and_ends_the_run() {
    let (stdout, v) = read_until_server_killed(&["-c", "4"]);
    let r = &v["runs"][0];
    assert!(r["ops"].as_u64().unwrap() > 0, "{stdout}");
    assert!(r["conn_failures"].as_u64().unwrap() >= 1, "{stdout}");
}

#[test]
fn open_loop_states_its_tick_and_ends_when_the_server_dies() {
    let (stdout, v) = read_until_server_killed(&[
        "-c",
        "6",
        "--threads",
        "2",
        "--rate",
        "3000",
        "--tick-us",
        "200",
    ]);
    assert!(stdout.contains("pacing_tick_us: 200"), "{stdout}");
    let r = &v["runs"][0];
    assert_eq!(r["extra"]["pacing_tick_us"].as_f64(), Some(200.0));
    assert!(r["ops"].as_u64().unwrap() > 1000, "{stdout}");
    assert!(r["conn_failures"].as_u64().unwrap() >= 1, "{stdout}");
    let lag = &r["latency"]["(generator send lag)"];
    assert!(lag["count"].as_u64().unwrap() > 1000, "{r}");
}

/// Every session sees every change exactly once, in both modes, with the
/// sessions split over two receive loops and watchers spread unevenly.
#[test]
fn watch_counts_sessions_times_changes_notifications() {
    let server = Server::start();
    for mode in ["oneshot", "persistent"] {
        let args = [
            "watch",
            "-c",
            "150",
            "-w",
            "200",
            "-t",
            "20",
            "--mode",
            mode,
            "--threads",
            "2",
            "--payload",
            "100",
        ];
        let (out, v) = loadgen(&server.addr(), &args, LIMIT);
        assert_clean(mode, &out, &v);
        let r = &v["runs"][0];
        let extra = &r["extra"];
        assert_eq!(extra["notifications"].as_f64(), Some(3000.0), "{mode}: {r}");
        assert_eq!(r["ops"].as_u64(), Some(3000), "{mode}");
        assert_eq!(r["latency"]["all"]["count"].as_u64(), Some(3000), "{mode}");
        let fanout = &r["latency"]["fan-out (send to last)"];
        assert_eq!(fanout["count"].as_u64(), Some(20), "{mode}: {r}");
        let p50 = extra["fanout_p50_ms"].as_f64().unwrap();
        let max = extra["fanout_max_ms"].as_f64().unwrap();
        assert!(p50 > 0.0 && p50 <= max, "{mode}: {r}");
        let early = extra["notifications_before_setData_reply"]
            .as_f64()
            .unwrap();
        assert!((0.0..=3000.0).contains(&early), "{mode}: {r}");
        assert!(
            extra["notifications_per_s"].as_f64().unwrap() > 0.0,
            "{mode}"
        );
    }
}

/// Persistent watchers send nothing after arming: their pings must keep
/// the sessions alive through a run several session timeouts long.
#[test]
fn idle_persistent_watchers_outlive_their_session_timeout() {
    let server = Server::start_ticking(500);
    let args = [
        "watch",
        "-c",
        "20",
        "-w",
        "20",
        "-t",
        "6000",
        "--mode",
        "persistent",
        "--session-timeout",
        "1000",
        "--threads",
        "2",
    ];
    let (out, v) = loadgen(&server.addr(), &args, LIMIT);
    assert_clean("pings", &out, &v);
    let r = &v["runs"][0];
    assert_eq!(r["extra"]["notifications"].as_f64(), Some(120_000.0), "{r}");
    let secs = r["duration_s"].as_f64().unwrap();
    assert!(
        secs > 3.0,
        "the run ({secs} s) must outlast the 1 s session timeout a few times"
    );
}

/// A server SIGKILLed while one-shot watchers re-arm: the run counts the
/// failures, ends early and exits 1.
#[test]
fn server_killed_during_a_watch_run_is_counted_and_ends_the_run() {
    let args = [
        "watch",
        "-c",
        "40",
        "-w",
        "60",
        "-t",
        "1000000",
        "--threads",
        "2",
        "--request-timeout",
        "3",
    ];
    let (stdout, v) = run_until_server_killed(&args, |port| {
        // Every session watches (one watch per session and path), then the
        // changes run for a second.
        let deadline = Instant::now() + Duration::from_secs(30);
        while total_watches(port) < 40 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(1000));
    });
    assert_eq!(v["valid"], Value::Bool(false), "{stdout}");
    let runs = v["runs"].as_array().expect("runs");
    let r = runs
        .iter()
        .find(|r| r["label"] == "watch oneshot")
        .expect(&stdout);
    assert!(
        r["extra"]["notifications"].as_f64().unwrap() > 0.0,
        "{stdout}"
    );
    let failures = r["errors"]["connection failures"].as_u64().unwrap_or(0);
    assert!(failures >= 1, "{stdout}");
    assert!(r["first_error"].is_string(), "{r}");
}

#[test]
fn bad_arguments_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_warden-loadgen"))
        .args(["write", "--create", "50"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("150%"));
}

/// The fan-out floor example (`cargo test` builds it next to this test's
/// own directory: <target>/<profile>/examples/).
fn fanout_floor_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.ancestors().nth(2).expect("<target>/<profile>");
    profile_dir.join("examples").join("fanout_floor")
}

/// The numbers after `label` on the output's lines, in order.
fn figures_after(text: &str, label: &str) -> Vec<f64> {
    text.split(label)
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn fanout_floor_measures_every_round_and_rejects_bad_arguments() {
    let bin = fanout_floor_bin();
    assert!(
        bin.is_file(),
        "{} missing: a plain `cargo test` builds examples; with a target filter, build it with \
         `cargo build -p warden-loadgen --example fanout_floor` (and --release for release tests)",
        bin.display()
    );
    let out = Command::new(&bin)
        .args([
            "--connections",
            "40",
            "--rounds",
            "5",
            "--senders",
            "2",
            "--receivers",
            "2",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("40 connections, 5 rounds"), "{text}");
    let p50 = figures_after(&text, "p50 ");
    let max = figures_after(&text, "max ");
    let cpu = figures_after(&text, "kernel: ");
    assert_eq!((p50.len(), max.len(), cpu.len()), (1, 1, 1), "{text}");
    // A stamp can only follow its send: every round took some time.
    assert!(p50[0] > 0.0 && p50[0] <= max[0], "{text}");
    assert!(cpu[0] > 0.0, "{text}");
    for bad in [
        &["--connections", "0"][..],
        &["--rounds", "x"],
        &["--bogus", "1"],
    ] {
        let out = Command::new(&bin).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn errors_from_the_server_are_counted_by_name_and_invalidate_the_run() {
    use warden::proto::requests::{CreateRequest, Request};
    use warden::proto::types::{perms, Acl, Id, NodeData, OpCode};
    let server = Server::start();
    // The keys exist before the run (setup tolerates NodeExists), readable
    // by anyone and writable by no one: every setData is answered NoAuth.
    let create = |path: String, perms: i32| {
        Request::Create(
            OpCode::Create,
            CreateRequest {
                path,
                data: NodeData::from_static(b"x"),
                acl: vec![Acl {
                    perms,
                    id: Id::new("world", "anyone"),
                }],
                flags: 0,
                ttl: None,
            },
        )
    };
    let mut requests = vec![create("/locked".into(), perms::ALL)];
    requests.extend((0..5).map(|i| create(format!("/locked/k{i}"), perms::READ)));
    let mut admin = client::Client::connect(server.port);
    for request in &requests {
        let (header, _) = admin.try_call(request).expect("a reply");
        assert_eq!(header.err, 0, "{request:?}");
    }
    let on_locked_keys = |op: &str| {
        let args = [
            op,
            "-c",
            "2",
            "-d",
            "4",
            "--keys",
            "5",
            "--prefix",
            "/locked",
            "--duration",
            "1",
        ];
        loadgen(&server.addr(), &args, LIMIT)
    };
    let (out, v) = on_locked_keys("write");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("RUN INVALID"), "{stdout}");
    assert!(stdout.contains("NoAuth"), "{stdout}");
    assert_eq!(v["valid"], Value::Bool(false), "{v}");
    let run = &v["runs"][0];
    let no_auth = run["errors"]["NoAuth"].as_u64().unwrap_or(0);
    assert!(no_auth > 0, "{v}");
    assert_eq!(run["error_total"].as_u64(), Some(no_auth), "{v}");
    // Reads of the same keys are allowed: the same server still serves.
    let (out, v) = on_locked_keys("read");
    assert_clean("read of read-only keys", &out, &v);
}
