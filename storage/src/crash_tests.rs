//! Property: across random append / flush / crash / recover sequences,
//! every flushed record is recovered, and what is recovered is exactly the
//! appended records that lay wholly before the crash's cut — nothing after a
//! damaged point is invented, nothing is reordered.
//!
//! A crash is simulated as the loss of a suffix of the unflushed bytes: the
//! files are zeroed from a random position at or after the end of the last
//! flushed record (a later file may be zeroed entirely or deleted). Flushed
//! bytes are never touched, as the disk promised.

use crate::log::frame::HEADER_LEN;
use crate::log::{LogConfig, Record, TxnLog};
use crate::testutil::*;
use crate::Zxid;
use proptest::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<usize>),
    Flush,
    Spare,
    /// Crash with a cut picked by these two numbers; delete later files or zero them.
    Crash(u64, u64, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => prop::collection::vec(0usize..400, 1..6).prop_map(Op::Append),
        2 => Just(Op::Flush),
        1 => Just(Op::Spare),
        1 => (any::<u64>(), any::<u64>(), any::<bool>()).prop_map(|(a, b, d)| Op::Crash(a, b, d)),
    ]
}

struct Model {
    dir: tempfile::TempDir,
    log: Option<TxnLog>,
    appended: Vec<(Zxid, Vec<u8>)>,
    durable: usize,
}

fn log_config(dir: &Path) -> LogConfig {
    let mut cfg = config(dir, 8192);
    cfg.force_sync = false; // the crash is simulated on the files; syncing adds nothing here
    cfg
}

impl Model {
    fn new() -> Model {
        let dir = tempfile::tempdir().unwrap();
        let log = TxnLog::open(log_config(dir.path()), None).unwrap();
        Model {
            dir,
            log: Some(log),
            appended: Vec::new(),
            durable: 0,
        }
    }

    fn append(&mut self, sizes: &[usize]) {
        let mut zxid = self.appended.last().map_or(0, |r| r.0);
        let batch: Vec<(Zxid, Vec<u8>)> = sizes
            .iter()
            .map(|&n| {
                zxid += 1;
                (
                    zxid,
                    (0..n).map(|i| (zxid as u8) ^ (i as u8) | 0x80).collect(),
                )
            })
            .collect();
        let records: Vec<_> = batch
            .iter()
            .map(|(z, p)| Record {
                zxid: *z,
                payload: p,
            })
            .collect();
        self.log.as_mut().unwrap().append(&records).unwrap();
        self.appended.extend(batch);
    }

    fn flush(&mut self) {
        self.log.as_mut().unwrap().flush_blocking().unwrap();
        self.durable = self.appended.len();
    }

    fn spare(&mut self) {
        let log = self.log.as_mut().unwrap();
        if let Some(plan) = log.spare_wanted() {
            log.install_spare(plan.build().unwrap());
        }
    }

    /// Every record's (file index, end of its bytes), in append order.
    fn layout(&self, files: &[PathBuf]) -> Vec<(usize, u64)> {
        let mut ends = Vec::new();
        for (i, f) in files.iter().enumerate() {
            for (offset, _, len) in frames(f) {
                ends.push((i, offset + 16 + len as u64));
            }
        }
        ends
    }

    fn crash(&mut self, a: u64, b: u64, delete_later: bool) {
        drop(self.log.take());
        let files = log_files(self.dir.path());
        let layout = self.layout(&files);
        assert_eq!(
            layout.len(),
            self.appended.len(),
            "every appended record is in the files"
        );
        // The cut: at or after the end of the last durable record.
        let (floor_file, floor_offset) = match self.durable {
            0 => (0, 0),
            n => layout[n - 1],
        };
        let cut = if files.is_empty() {
            None
        } else {
            let file = floor_file + (a as usize) % (files.len() - floor_file);
            let size = fs::metadata(&files[file]).unwrap().len();
            let low = if file == floor_file { floor_offset } else { 0 };
            Some((file, low + b % (size - low + 1)))
        };
        if let Some((file, offset)) = cut {
            zero_from(&files[file], offset);
            for later in &files[file + 1..] {
                if delete_later {
                    fs::remove_file(later).unwrap();
                } else {
                    zero_from(later, 0);
                }
            }
        }
        let survivors = match cut {
            None => 0,
            Some(cut) => layout.iter().take_while(|&&end| end <= cut).count(),
        };
        assert!(survivors >= self.durable);
        self.recover_and_check(survivors);
    }

    fn recover_and_check(&mut self, survivors: usize) {
        let (recovered, records) = recover_all(self.dir.path());
        assert_eq!(
            records.len(),
            survivors,
            "recovered exactly the records before the cut"
        );
        assert_eq!(
            records,
            self.appended[..survivors],
            "in order, byte for byte"
        );
        if let Some(end) = &recovered.log_end {
            assert!(end.offset >= HEADER_LEN as u64);
        }
        self.appended.truncate(survivors);
        self.durable = survivors;
        let end = recovered.log_end.clone();
        drop(recovered);
        self.log = Some(TxnLog::open(log_config(self.dir.path()), end.as_ref()).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(48), ..ProptestConfig::default() })]

    #[test]
    fn flushed_records_survive_and_nothing_is_invented(ops in prop::collection::vec(op(), 1..60)) {
        let mut model = Model::new();
        for op in &ops {
            match op {
                Op::Append(sizes) => model.append(sizes),
                Op::Flush => model.flush(),
                Op::Spare => model.spare(),
                Op::Crash(a, b, delete) => model.crash(*a, *b, *delete),
            }
        }
        // A crash that loses nothing: everything appended comes back.
        drop(model.log.take());
        let all = model.appended.len();
        model.recover_and_check(all);
    }
}
