//! The crash tests' ledger: writers record every acknowledged value (and
//! the one write in flight when the connection died); after a restart every
//! path must hold its acknowledged value, or the value that was in flight.

use super::{create, get, set, Client};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use warden::proto::responses::Response;

/// Per path: the last acknowledged value, and the value of a write that was
/// sent but not answered when the server died (it may or may not be there).
#[derive(Default, Clone, Debug)]
pub struct PathState {
    pub acked: Option<String>,
    pub in_flight: Option<String>,
}

pub type Ledger = Arc<Mutex<BTreeMap<String, PathState>>>;

/// How a writer writes: 20 paths of its own, values padded to `pad` bytes.
#[derive(Clone, Copy, Debug)]
pub struct Writes {
    pub id: usize,
    pub round: usize,
    pub pad: usize,
}

/// One client writing its own paths until the connection dies. Returns the
/// number of acknowledged writes.
pub fn writer(port: u16, w: Writes, ledger: Ledger) -> u64 {
    let Some(mut client) = Client::try_connect(port) else {
        return 0;
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64((w.round * 100 + w.id) as u64);
    let mut acked = 0;
    for n in 0.. {
        let path = format!("/w{}-{}", w.id, rng.gen_range(0..20));
        let value = format!("r{}-n{n}-{}", w.round, ".".repeat(w.pad));
        let existed = {
            let mut ledger = ledger.lock().unwrap();
            let state = ledger.entry(path.clone()).or_default();
            state.in_flight = Some(value.clone());
            state.acked.is_some()
        };
        let request = if existed {
            set(&path, value.as_bytes())
        } else {
            create(&path, value.as_bytes(), 0)
        };
        let Some((header, _)) = client.try_call(&request) else {
            return acked;
        };
        let mut ledger = ledger.lock().unwrap();
        let state = ledger.get_mut(&path).unwrap();
        state.in_flight = None;
        if header.err == 0 {
            state.acked = Some(value);
            acked += 1;
        }
    }
    acked
}

/// Checks every path against the ledger; from here on what is there is
/// the acknowledged state. Returns the number of paths.
pub fn verify(port: u16, ledger: &Ledger) -> usize {
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
        state.acked = found;
        state.in_flight = None;
    }
    ledger.len()
}
