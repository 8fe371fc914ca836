//! Crash tests on the real binary: clients write and record every
//! acknowledged result while the server is killed with SIGKILL at random
//! moments; after each restart every acknowledged write is there, nothing
//! that was never written appears, the served tree equals an independent
//! replay of the log on disk, and sessions survive.
//!
//! `WARDEN_CRASH_KILLS` sets the number of kills (default 50).

mod support;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::disk::{apply_all, compare_served, on_disk_tree, served_matches_replay};
use support::ledger::{verify, writer, Ledger, Writes};
use support::{Client, Server};
use warden::proto::requests::*;
use warden::proto::responses::Response;
use warden::proto::types::{Acl, OpCode};
use warden::txn::Txn;

/// Small files and frequent snapshots, so kills land in every phase: mid
/// append, mid roll to a new file, mid snapshot.
const STORAGE: &str = "preAllocSize=256\nsnapCount=200\n";

#[test]
fn no_acknowledged_write_is_lost_across_sigkills() {
    let kills: usize = std::env::var("WARDEN_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let ledger: Ledger = Arc::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let started = Instant::now();
    for round in 0..kills {
        let (expected, _) =
            on_disk_tree(dir.path()).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let server = Server::start_in(dir.path(), 2, STORAGE);
        let nodes = served_matches_replay(server.port, &expected);
        let checked = verify(server.port, &ledger);
        let writers: Vec<_> = (0..4)
            .map(|id| {
                let ledger = ledger.clone();
                let port = server.port;
                let writes = Writes { id, round, pad: 0 };
                std::thread::spawn(move || writer(port, writes, ledger))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..250)));
        server.kill();
        for w in writers {
            w.join().unwrap();
        }
        eprintln!("round {round}: {checked} paths verified, {nodes} nodes equal the replay");
    }
    let (expected, records) = on_disk_tree(dir.path()).unwrap();
    let server = Server::start_in(dir.path(), 1, STORAGE);
    let nodes = served_matches_replay(server.port, &expected);
    let paths = verify(server.port, &ledger);
    assert!(paths > 0);
    the_comparison_sees_a_dropped_record(server.port, &records);
    eprintln!(
        "{kills} kills, {paths} paths, {} records, {nodes} nodes equal the replay, 0 lost acknowledged writes, {:?}",
        records.len(),
        started.elapsed()
    );
}

/// The oracle itself: a replay missing one setData differs from what the
/// server serves.
fn the_comparison_sees_a_dropped_record(port: u16, records: &[warden::txn::TxnRecord]) {
    let dropped = records
        .iter()
        .rposition(|r| matches!(r.txn, Txn::SetData { .. }))
        .expect("the writers set data");
    let without = apply_all(
        records
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != dropped)
            .map(|(_, r)| r),
    );
    let mut client = Client::connect(port);
    assert!(
        compare_served(&mut client, &without).is_err(),
        "a replay without zxid {:#x} still matched",
        records[dropped].header.zxid
    );
}

#[test]
fn sessions_and_their_ephemerals_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), 2, STORAGE);
    let mut owner = Client::connect_with(server.port, 0, &[0; 16], 30_000).unwrap();
    let (header, _) = owner.call(&Request::Create(
        OpCode::Create,
        CreateRequest {
            path: "/eph".into(),
            data: Bytes::from_static(b"x").into(),
            acl: Acl::open_unsafe(),
            flags: 1,
            ttl: None,
        },
    ));
    assert_eq!(header.err, 0);
    let session = owner.session_id();
    let passwd = owner.session.passwd.clone();
    server.kill();
    let server = Server::start_in(dir.path(), 2, STORAGE);
    let mut resumed =
        Client::connect_with(server.port, session, &passwd, 30_000).expect("session survives");
    let (header, response) = resumed.call(&Request::Exists(PathWatchRequest {
        path: "/eph".into(),
        watch: false,
    }));
    assert_eq!(header.err, 0);
    let Response::Stat(stat) = response else {
        panic!("{response:?}")
    };
    assert_eq!(stat.ephemeral_owner, session);
}

/// 100 setData of 1 KB; returns how many snapshots the server then has.
/// Snapshots are written in the background, so this waits: until the
/// first is on disk when one is expected, else a fixed pause.
fn snapshots_after_100_kb(extra: &str, expect_one: bool) -> usize {
    let server = Server::start(1, extra);
    let mut client = Client::connect(server.port);
    assert_eq!(client.call(&support::create("/s", b"", 0)).0.err, 0);
    for _ in 0..100 {
        assert_eq!(client.call(&support::set("/s", &[b's'; 1000])).0.err, 0);
    }
    if expect_one {
        support::disk::wait_for_snapshot(&server.dir, Duration::from_secs(30))
    } else {
        std::thread::sleep(Duration::from_millis(500));
        support::disk::snapshot_count(&server.dir)
    }
}

#[test]
fn a_txn_log_sync_over_fsync_warningthresholdms_is_logged() {
    let quiet = Server::start(1, "");
    let mut client = Client::connect(quiet.port);
    assert_eq!(client.call(&support::create("/a", b"x", 0)).0.err, 0);
    const WARNING: &str = "fdatasync of the txn log took";
    assert!(
        !quiet.log().contains(WARNING),
        "default 1000 ms: {}",
        quiet.log()
    );
    // 0 ms: every sync is over it.
    let noisy = Server::start(1, "fsync.warningthresholdms=0\n");
    let mut client = Client::connect(noisy.port);
    assert_eq!(client.call(&support::create("/a", b"x", 0)).0.err, 0);
    let log = noisy.log();
    assert!(
        log.contains(WARNING) && log.contains("fsync.warningthresholdms=0"),
        "{log}"
    );
}

#[test]
fn snapshots_are_taken_by_logged_bytes_as_well_as_by_count() {
    // snapCount never fires here; snapSizeLimitInKb=64 fires after 32..64 KiB.
    let by_size = snapshots_after_100_kb("snapCount=1000000\nsnapSizeLimitInKb=64\n", true);
    assert!(by_size >= 1, "no snapshot 30 s after 100 KB of txns");
    let without = snapshots_after_100_kb("snapCount=1000000\nsnapSizeLimitInKb=0\n", false);
    assert_eq!(without, 0, "snapSizeLimitInKb=0 turns the size trigger off");
}
