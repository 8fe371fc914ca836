//! Append + flush latency of the txn log: one record of 100 B or 1 KiB, and
//! batches of 16 and 256 records of 100 B, each followed by its fdatasync;
//! and the same without fdatasync (`forceSync=no`) to show the log's own cost.
//! Runs in a temporary directory under the current directory (the crate's,
//! so the same disk as the build), or under `WARDEN_BENCH_DIR`.
//!
//! Besides criterion's estimate, each case prints p50/p99/max of the samples
//! it timed. Spare files are preallocated outside the timed region, as the
//! server does on a blocking thread.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use warden_storage::log::{LogConfig, Record, TxnLog};

fn bench_dir() -> PathBuf {
    std::env::var_os("WARDEN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_dir().unwrap())
}

fn case(c: &mut Criterion, name: &str, records: usize, size: usize, force_sync: bool) {
    let tmp = tempfile::tempdir_in(bench_dir()).unwrap();
    let mut cfg = LogConfig::new(tmp.path());
    cfg.force_sync = force_sync;
    let mut log = TxnLog::open(cfg, None).unwrap();
    let payload = vec![0xabu8; size];
    let mut zxid = 0u64;
    let mut samples: Vec<Duration> = Vec::new();
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if let Some(plan) = log.spare_wanted() {
                    log.install_spare(plan.build().unwrap());
                }
                let batch: Vec<_> = (0..records)
                    .map(|_| {
                        zxid += 1;
                        Record {
                            zxid,
                            payload: &payload,
                        }
                    })
                    .collect();
                let start = Instant::now();
                log.append(&batch).unwrap();
                let durable = log.flush_blocking().unwrap();
                let took = start.elapsed();
                assert_eq!(durable.len(), 1);
                total += took;
                samples.push(took);
            }
            total
        })
    });
    if samples.is_empty() {
        return; // filtered out
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{name}: {} samples, p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        at(0.5),
        at(0.99),
        samples.last().unwrap()
    );
}

fn append_flush(c: &mut Criterion) {
    case(c, "append_flush/1x100B", 1, 100, true);
    case(c, "append_flush/1x1KiB", 1, 1024, true);
    case(c, "append_flush/16x100B", 16, 100, true);
    case(c, "append_flush/256x100B", 256, 100, true);
    // forceSync=no: the cost of the log itself (frame, CRC, memcpy, ticket).
    case(c, "append_nosync/1x100B", 1, 100, false);
    case(c, "append_nosync/256x100B", 256, 100, false);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = append_flush
}
criterion_main!(benches);
