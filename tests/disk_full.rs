//! A full disk: Warden's data directory on a small tmpfs, written until no
//! space is left.
//!
//! Warden's choice, as ZooKeeper's: a txn log that cannot be written stops
//! the server. (ZooKeeper 3.8.0 on a full 8 MiB tmpfs, tried by hand: its
//! SyncThread logs "Severe unrecoverable error ... No space left on
//! device", the server shuts down and the process exits abnormally.) Appends go into preallocated files, so
//! the disk runs out when the next file cannot be preallocated: the
//! background preallocation fails (a warning, its partial file removed,
//! retried), and when the current file is full with no spare the server
//! logs one line and exits with status 2. Nothing is acknowledged that was
//! not fdatasynced; clients see their connections close. After space is
//! freed, a restart recovers every acknowledged write. A snapshot that does
//! not fit fails on its own: its temporary file is removed, the older
//! snapshots stay, one line is logged and the server keeps serving.
//!
//! Needs root (to mount a tmpfs); elsewhere the tests say loudly that they
//! were skipped.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::disk::{on_disk_tree, served_matches_replay, SmallFs};
use support::ledger::{verify, writer, Ledger, Writes};
use support::{create, four_letter, set, Client, Server};
use warden_storage::log::{LogConfig, LogError, Record, TxnLog};

/// Log files of 136 KiB (a record may be up to 64 KiB + 64 KiB of room).
const SMALL_FILES: &str = "jute.maxbuffer=65536\npreAllocSize=64\n";

fn files_in(dir: &Path, prefix: &str, suffix: &str) -> Vec<String> {
    std::fs::read_dir(dir.join("version-2"))
        .map(|entries| {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
                .collect();
            names.sort();
            names
        })
        .unwrap_or_default()
}

/// Snapshot files that are complete (not a `.tmp` being written).
fn finished_snapshots(dir: &Path) -> Vec<String> {
    let mut names = files_in(dir, "snapshot.", "");
    names.retain(|n| !n.ends_with(".tmp"));
    names
}

/// A file that takes all but `leave` bytes of what is free.
fn fill(fs: &SmallFs, name: &str, leave: u64) -> std::path::PathBuf {
    let path = fs.path().join(name);
    let size = fs.free().saturating_sub(leave);
    std::fs::write(&path, vec![0x55u8; size as usize]).unwrap();
    path
}

#[test]
fn a_spare_that_does_not_fit_is_refused_and_leaves_nothing_behind() {
    let Some(fs) = SmallFs::mount(1) else { return };
    let mut cfg = LogConfig::new(fs.path());
    // Its stopgap (a sixteenth, 2 MiB) does not fit either.
    cfg.file_size = 32 << 20;
    cfg.max_record_bytes = 4096;
    let mut log = TxnLog::open(cfg, None).unwrap();
    let free = fs.free();
    let plan = log.spare_wanted().expect("a spare is wanted");
    assert!(plan.build().is_err(), "32 MiB do not fit in 1 MiB");
    assert!(files_in(fs.path(), "prealloc.", "").is_empty());
    assert_eq!(fs.free(), free, "the partial file gave its space back");
    log.spare_failed();
    assert!(log.spare_wanted().is_some(), "asked again after a failure");
    // Without a spare the first append preallocates a small file inline,
    // fails, and poisons the log: nothing after it can be flushed.
    let record = Record {
        zxid: 1,
        payload: b"x",
    };
    assert!(log.append(&[record]).is_err());
    let again = log.append(&[Record {
        zxid: 2,
        payload: b"y",
    }]);
    assert!(matches!(again, Err(LogError::Flush(_))), "{again:?}");
    assert!(files_in(fs.path(), "log.", "").is_empty());
}

#[test]
fn a_full_disk_stops_the_server_and_every_acknowledged_write_survives() {
    let Some(fs) = SmallFs::mount(8) else { return };
    let home = tempfile::tempdir().unwrap();
    let data = fs.path().join("data");
    // Room to free later, so the restarted server can preallocate again.
    let reserve = fill(&fs, "reserve", fs.free() - (1 << 20));
    let mut server = Server::start_at(home.path(), &data, 2, SMALL_FILES);
    let ledger: Ledger = Arc::default();
    let port = server.port;
    let writers: Vec<_> = (0..4)
        .map(|id| {
            let ledger = ledger.clone();
            let writes = Writes {
                id,
                round: 0,
                pad: 2000,
            };
            std::thread::spawn(move || writer(port, writes, ledger))
        })
        .collect();
    let acked: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("the server stops when the disk is full");
    let log = server.log();
    assert_eq!(status.code(), Some(2), "exit status; log:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    let stops: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("stopping so that nothing unflushed is acknowledged"))
        .collect();
    assert_eq!(stops.len(), 1, "one line says why: {log}");
    assert!(stops[0].contains("No space left on device"), "{}", stops[0]);
    assert!(
        fs.free() < 136 << 10,
        "the disk was full: {} free",
        fs.free()
    );
    assert!(acked > 100, "only {acked} writes before the disk was full");
    // What is on disk is consistent, full as it is.
    let (expected, _) = on_disk_tree(&data).unwrap();
    std::fs::remove_file(reserve).unwrap();
    let server = Server::start_at(home.path(), &data, 2, SMALL_FILES);
    let nodes = served_matches_replay(server.port, &expected);
    let paths = verify(server.port, &ledger);
    assert_eq!(paths, 80);
    // And it takes writes again.
    let mut client = Client::connect(server.port);
    for n in 0..50 {
        let (header, _) = client.call(&set("/w0-0", format!("after {n}").as_bytes()));
        assert_eq!(header.err, 0);
    }
    eprintln!("{acked} writes acknowledged before the disk filled, all {paths} paths intact, {nodes} nodes equal the replay");
}

#[test]
fn a_snapshot_that_does_not_fit_fails_cleanly_and_keeps_the_older_ones() {
    let Some(fs) = SmallFs::mount(8) else { return };
    let home = tempfile::tempdir().unwrap();
    let data = fs.path().join("data");
    let extra = format!("{SMALL_FILES}snapCount=20\n");
    let server = Server::start_at(home.path(), &data, 1, &extra);
    let mut client = Client::connect(server.port);
    let mut acked = Vec::new();
    let mut write = |client: &mut Client, path: &str, value: Vec<u8>| {
        let (header, _) = client.call(&set(path, &value));
        assert_eq!(header.err, 0, "{path}");
        acked.push((path.to_string(), value));
    };
    assert_eq!(client.call(&create("/small", b"0", 0)).0.err, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while finished_snapshots(&data).is_empty() {
        assert!(Instant::now() < deadline, "no snapshot was taken");
        n += 1;
        write(&mut client, "/small", n.to_string().into_bytes());
    }
    let older = finished_snapshots(&data);
    std::thread::sleep(Duration::from_millis(500)); // let the spare log file be built
    let filler = fill(&fs, "filler", 60 << 10);
    // 100 KB more tree than the disk has room for; the log still has room
    // (the current file and its preallocated spare).
    for name in ["/big1", "/big2"] {
        let (header, _) = client.call(&create(name, &[7u8; 50_000], 0));
        assert_eq!(header.err, 0);
    }
    while !server.log().contains("snapshot failed") {
        assert!(Instant::now() < deadline, "no snapshot was attempted");
        n += 1;
        write(&mut client, "/small", n.to_string().into_bytes());
        std::thread::sleep(Duration::from_millis(5));
    }
    let log = server.log();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("snapshot failed"))
        .collect();
    assert!(
        failures
            .iter()
            .all(|l| l.contains("No space left on device")),
        "{failures:?}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(four_letter(server.port, "ruok").unwrap(), "imok");
    assert!(
        files_in(&data, "snapshot.", ".tmp").is_empty(),
        "temporary file removed"
    );
    for name in &older {
        let path = data.join("version-2").join(name);
        warden_storage::snapshot::read_snapshot(&path).expect("the older snapshot is intact");
    }
    // Writes are still acknowledged, and all of them survive a crash.
    for _ in 0..5 {
        n += 1;
        write(&mut client, "/small", n.to_string().into_bytes());
    }
    server.kill();
    std::fs::remove_file(filler).unwrap();
    let (expected, _) = on_disk_tree(&data).unwrap();
    let server = Server::start_at(home.path(), &data, 1, &extra);
    served_matches_replay(server.port, &expected);
    let mut client = Client::connect(server.port);
    let (path, value) = acked.last().unwrap();
    let (header, response) = client.call(&support::get(path, false));
    assert_eq!(header.err, 0);
    let warden::proto::responses::Response::GetData(data, _) = response else {
        panic!("{response:?}")
    };
    assert_eq!(data.as_slice(), &value[..], "the last acknowledged write");
    let (header, _) = client.call(&support::get("/big2", false));
    assert_eq!(header.err, 0);
}
