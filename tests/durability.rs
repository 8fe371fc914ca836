//! Crash tests on the real binary: clients write and record every
//! acknowledged result while the server is killed with SIGKILL at random
//! moments; after each restart every acknowledged write is there, nothing
//! that was never written appears, and sessions survive.
//!
//! `WARDEN_CRASH_KILLS` sets the number of kills (default 50).

mod support;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{create, get, set, Client, Server};
use warden::proto::requests::*;
use warden::proto::responses::Response;
use warden::proto::types::{Acl, OpCode};

/// Small files and frequent snapshots, so kills land in every phase: mid
/// append, mid roll to a new file, mid snapshot.
const STORAGE: &str = "preAllocSize=256\nsnapCount=200\n";

/// Per path: the last acknowledged value, and the value of a write that was
/// sent but not answered when the server died (it may or may not be there).
#[derive(Default, Clone, Debug)]
struct PathState {
    acked: Option<String>,
    in_flight: Option<String>,
}

type Ledger = Arc<Mutex<BTreeMap<String, PathState>>>;

/// One client writing its own paths until the connection dies.
fn writer(port: u16, id: usize, round: usize, ledger: Ledger) {
    let Some(mut client) = Client::try_connect(port) else {
        return;
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64((round * 100 + id) as u64);
    for n in 0.. {
        let path = format!("/w{id}-{}", rng.gen_range(0..20));
        let value = format!("r{round}-n{n}");
        let existed = ledger
            .lock()
            .unwrap()
            .get(&path)
            .is_some_and(|s| s.acked.is_some());
        ledger
            .lock()
            .unwrap()
            .entry(path.clone())
            .or_default()
            .in_flight = Some(value.clone());
        let request = if existed {
            set(&path, value.as_bytes())
        } else {
            create(&path, value.as_bytes(), 0)
        };
        let Some((header, _)) = client.try_call(&request) else {
            return;
        };
        let mut ledger = ledger.lock().unwrap();
        let state = ledger.get_mut(&path).unwrap();
        state.in_flight = None;
        if header.err == 0 {
            state.acked = Some(value);
        }
    }
}

fn verify(port: u16, ledger: &Ledger) -> usize {
    let mut client = Client::connect(port);
    let mut ledger = ledger.lock().unwrap();
    for (path, state) in ledger.iter_mut() {
        let (header, response) = client.call(&get(path, false));
        let found = match response {
            Response::GetData(data, _) if header.err == 0 => {
                Some(String::from_utf8(data.as_slice().to_vec()).unwrap())
            }
            _ => None,
        };
        let allowed = found == state.acked || (found.is_some() && found == state.in_flight);
        assert!(
            allowed,
            "{path}: found {found:?}, acknowledged {:?}, in flight {:?}",
            state.acked, state.in_flight
        );
        // What is there now is the acknowledged state from here on.
        state.acked = found;
        state.in_flight = None;
    }
    ledger.len()
}

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
        let server = Server::start_in(dir.path(), 2, STORAGE);
        let checked = verify(server.port, &ledger);
        let writers: Vec<_> = (0..4)
            .map(|id| {
                let ledger = ledger.clone();
                let port = server.port;
                std::thread::spawn(move || writer(port, id, round, ledger))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..250)));
        server.kill();
        for w in writers {
            w.join().unwrap();
        }
        eprintln!("round {round}: {checked} paths verified");
    }
    let server = Server::start_in(dir.path(), 1, STORAGE);
    let paths = verify(server.port, &ledger);
    assert!(paths > 0);
    eprintln!(
        "{kills} kills, {paths} paths, 0 lost acknowledged writes, {:?}",
        started.elapsed()
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
