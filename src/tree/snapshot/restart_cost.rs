//! Restart cost with 1,000,000 znodes, phase by phase (issue 5).
//!
//! Ignored: run by hand with
//! `cargo test --release -p warden --lib restart_cost -- --ignored --nocapture`.
//! It builds the tree loadgen's `--prefix /mem` makes (one parent, 100-byte
//! znodes), then times log replay, snapshot encode, write + fsync, decode
//! and build, and the check the server runs beside the replay, printing
//! wall-clock figures per phase. With `RESTART_COST_DATA_DIR` set it also
//! leaves the snapshot there, to time a real server's start on the same tree.

use super::*;
use crate::proto::types::{Acl, NodeData, OpCode};
use crate::txn::codec::{decode_txn, encode_txn};
use crate::txn::{CreateKind, CreateTxn, Txn, TxnHeader, TxnRecord};
use std::time::Instant;

const ZNODES: usize = 1_000_000;

fn create(zxid: i64, path: String, parent_cversion: i32) -> TxnRecord {
    TxnRecord {
        header: TxnHeader {
            session_id: 1,
            cxid: 0,
            zxid,
            time_ms: zxid,
        },
        txn: Txn::Create(CreateTxn {
            path,
            data: NodeData::copy_from_slice(&[b'x'; 100]),
            acl: Acl::open_unsafe(),
            kind: CreateKind::Persistent,
            parent_cversion,
            op: OpCode::Create,
        }),
    }
}

/// The encoded log: `/mem` then `ZNODES` children of it.
fn log_records() -> Vec<Vec<u8>> {
    let mut recs = Vec::with_capacity(ZNODES + 1);
    let mut buf = Vec::new();
    encode_txn(&create(1, "/mem".into(), 1), &mut buf);
    recs.push(std::mem::take(&mut buf));
    for i in 0..ZNODES {
        let rec = create(i as i64 + 2, format!("/mem/n{i:010}"), i as i32 + 1);
        encode_txn(&rec, &mut buf);
        recs.push(std::mem::take(&mut buf));
    }
    recs
}

fn phase<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let t = Instant::now();
    let r = f();
    println!(
        "restart_cost {name:<22} {:>8.3} s",
        t.elapsed().as_secs_f64()
    );
    r
}

#[test]
#[ignore = "measurement: 1M znodes, run by hand"]
fn restart_cost() {
    let recs = log_records();
    let tree = phase("replay (decode+apply)", || {
        let mut t = Tree::new();
        for b in &recs {
            let rec = decode_txn(b).unwrap();
            assert!(t.apply(&rec).result.is_ok());
        }
        t
    });
    drop(recs);
    assert!(tree.node_count() > ZNODES);
    let mut bytes = Vec::new();
    phase("encode", || write_tree(&tree, &mut bytes).unwrap());
    println!(
        "restart_cost snapshot bytes {} ({} B/znode)",
        bytes.len(),
        bytes.len() / ZNODES
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap");
    phase("write+fsync", || {
        let mut f = std::fs::File::create(&file).unwrap();
        f.write_all(&bytes).unwrap();
        f.sync_all().unwrap();
    });
    let read = phase("file read", || std::fs::read(&file).unwrap());
    let loaded = phase("decode_tree (2 threads)", || decode_tree(&read).unwrap());
    phase("check_invariants", || loaded.check_invariants().unwrap());
    let mut q = loaded.clone();
    phase("quota_setup", || q.quota_setup());
    phase("drop tree", || drop(q));
    assert_eq!(loaded.node_count(), tree.node_count());
    // To time a real server's start on this tree: a dataDir holding it.
    if let Some(dir) = std::env::var_os("RESTART_COST_DATA_DIR") {
        crate::sequencer::runtime::write_snapshot(
            std::path::Path::new(&dir),
            crate::server::storage::DATABASE_ID,
            &tree,
        )
        .unwrap();
        println!("restart_cost snapshot written under {dir:?}");
    }
}
