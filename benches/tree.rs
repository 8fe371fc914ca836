//! Micro-benchmarks of the data tree (issue 6): create, setData, delete and
//! getData on trees of 1,000 and 1,000,000 znodes of 100 bytes under one
//! parent, a children listing, and the sequencer's publication of a version
//! (the tree cloned into an `Arc` after each write, as `sequencer::core`
//! pushes it, and dropped once the shards are done with it).
//!
//! Each write is measured as the server runs it: a version published before
//! it is alive, so the write path-copies instead of mutating in place. The
//! txn log's append + flush is benchmarked in storage/benches/append.rs.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use tree_txns::{create, node_path, record, set_data, PARENT};
use warden::proto::requests::{PathWatchRequest, Request};
use warden::tree::{read::read, Tree};
use warden::txn::{Txn, TxnRecord};

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

criterion_group!(benches, writes, listing, publication);
criterion_main!(benches);
