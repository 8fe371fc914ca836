//! Micro-benchmarks of the data tree (issue 6): create, setData, delete and
//! getData on trees of 1,000 and 1,000,000 znodes of 100 bytes under one
//! parent, a children listing, and the sequencer's publication of a version
//! (the tree cloned into an `Arc` after each write, as `sequencer::core`
//! pushes it, and dropped once the shards are done with it).
//!
//! Each write is measured as the server runs it: a version published before
//! it is alive, so the write path-copies instead of mutating in place. The
//! txn log's append + flush is benchmarked in storage/benches/append.rs.
//!
//! `sequencer/10000/setData, version per ...` runs setData requests through
//! `prep::execute` on the loadgen write scenario's tree (10,000 znodes of
//! 1 KiB), with a version taken after every write (as before read points)
//! or after every 200 (a batch at saturation, as the sequencer now does),
//! and with enforceQuota on (the general path, two lookups of the path).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use tree_txns::{create, node_path, record, set_data, PARENT};
use warden::proto::requests::{PathWatchRequest, Request, SetDataRequest};
use warden::proto::types::NodeData;
use warden::sequencer::prep::{self, PrepContext};
use warden::tree::{read::read, Tree};
use warden::txn::{Txn, TxnHeader, TxnRecord};

#[path = "../tests/support/tree_txns.rs"]
mod tree_txns;

const PAYLOAD: [u8; 100] = [b'x'; 100];

const SIZES: [usize; 2] = [1_000, 1_000_000];

/// A tree of `n` znodes under [`PARENT`] and the next free zxid.
fn tree_of(n: usize) -> (Tree, i64) {
    let mut t = Tree::new();
    let mut zxid = 1;
    assert!(t.apply(&create(zxid, PARENT.into(), b"")).result.is_ok());
    for i in 0..n {
        zxid += 1;
        assert!(t
            .apply(&create(zxid, node_path(i), &PAYLOAD))
            .result
            .is_ok());
    }
    (t, zxid + 1)
}

/// Applies `rec` to `tree` with the previous version published, as the
/// sequencer does; returns the new version (dropped by the caller, as a
/// shard drops it).
fn apply_published(tree: &mut Tree, rec: &TxnRecord) -> Arc<Tree> {
    let applied = tree.apply(rec);
    assert!(applied.result.is_ok(), "{:?}", applied.result);
    Arc::new(tree.clone())
}

fn writes(c: &mut Criterion) {
    for n in SIZES {
        let (mut tree, mut zxid) = tree_of(n);
        let mut published = Arc::new(tree.clone());
        let mut k = 0usize;
        c.bench_function(&format!("tree/{n}/setData"), |b| {
            b.iter(|| {
                k = (k + 7919) % n;
                zxid += 1;
                let rec = set_data(zxid, node_path(k), &[b'y'; 100], 1);
                published = apply_published(&mut tree, &rec);
            })
        });
        let mut next = n;
        c.bench_function(&format!("tree/{n}/create+delete"), |b| {
            b.iter(|| {
                zxid += 1;
                let path = node_path(next);
                next += 1;
                published = apply_published(&mut tree, &create(zxid, path.clone(), &PAYLOAD));
                zxid += 1;
                published = apply_published(&mut tree, &record(zxid, Txn::Delete { path }));
            })
        });
        drop(published);
        let mut k = 0usize;
        c.bench_function(&format!("tree/{n}/getData"), |b| {
            b.iter(|| {
                k = (k + 7919) % n;
                let req = Request::GetData(PathWatchRequest {
                    path: node_path(k),
                    watch: false,
                });
                black_box(read(&tree, 1, &req)).unwrap()
            })
        });
    }
}

fn listing(c: &mut Criterion) {
    let (tree, _) = tree_of(1_000);
    c.bench_function("tree/1000/getChildren", |b| {
        b.iter(|| black_box(tree.children(PARENT)).unwrap())
    });
}

fn publication(c: &mut Criterion) {
    let (tree, _) = tree_of(1_000_000);
    c.bench_function("tree/1000000/publish version", |b| {
        b.iter_with_large_drop(|| Arc::new(tree.clone()))
    });
}

fn sequencer_set_data(c: &mut Criterion) {
    const KEYS: usize = 10_000;
    let mut tree = Tree::new();
    let mut zxid = 1;
    assert!(tree.apply(&create(zxid, PARENT.into(), b"")).result.is_ok());
    for i in 0..KEYS {
        zxid += 1;
        let rec = create(zxid, node_path(i), &[b'x'; 1024]);
        assert!(tree.apply(&rec).result.is_ok());
    }
    let data = NodeData::copy_from_slice(&[b'y'; 1024]);
    // enforceQuota on (no quota set) takes the general path: the path is
    // searched in prep and again in apply, as every setData did before.
    for (every, enforce_quota) in [(1u64, true), (1, false), (200, false)] {
        let ctx = PrepContext {
            enforce_quota,
            ..PrepContext::default()
        };
        let mut published = Arc::new(tree.clone());
        let mut k = 0usize;
        let lookups = if enforce_quota {
            "two lookups"
        } else {
            "one lookup"
        };
        let name = format!("sequencer/{KEYS}/setData, {lookups}, version per {every}");
        c.bench_function(&name, |b| {
            b.iter(|| {
                k = (k + 7919) % KEYS;
                zxid += 1;
                let req = Request::SetData(SetDataRequest {
                    path: node_path(k),
                    data: data.clone(),
                    version: -1,
                });
                let header = TxnHeader {
                    session_id: 1,
                    cxid: 1,
                    zxid,
                    time_ms: zxid,
                };
                let done = prep::execute(&mut tree, header, &req, &ctx);
                assert!(done.reply.is_ok());
                if (zxid as u64).is_multiple_of(every) {
                    published = Arc::new(tree.clone());
                }
                black_box(done)
            })
        });
        drop(published);
    }
}

criterion_group!(benches, writes, listing, publication, sequencer_set_data);
criterion_main!(benches);
