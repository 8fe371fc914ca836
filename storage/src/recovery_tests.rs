//! Recovery against damaged directories: every cut of the last record,
//! bit flips, snapshot fallback, leftovers, purge.

use crate::log::frame::HEADER_LEN;
use crate::log::TxnLog;
use crate::purge::purge;
use crate::recovery::{recover, RecoveryError};
use crate::snapshot::{list_snapshots, write_snapshot};
use crate::testutil::*;
use std::fs::{self, OpenOptions};
use std::path::Path;

const FILE: u64 = 16 * 1024;

/// A directory with one log file of records 1..=n, all flushed.
fn template(n: u64) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), FILE), None).unwrap();
    append(&mut log, 1..=n);
    log.flush_blocking().unwrap();
    tmp
}

#[test]
fn a_cut_at_every_byte_of_the_last_record_recovers_the_rest() {
    let template = template(5);
    let file = &log_files(template.path())[0];
    let (offset, zxid, len) = *frames(file).last().unwrap();
    assert_eq!(zxid, 5);
    let data_end = offset + 16 + len as u64;
    let mut checked = 0;
    for cut in offset..data_end {
        for set_len in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            copy_dir(template.path(), dir.path());
            let file = &log_files(dir.path())[0];
            if set_len {
                OpenOptions::new()
                    .write(true)
                    .open(file)
                    .unwrap()
                    .set_len(cut)
                    .unwrap();
            } else {
                zero_from(file, cut);
            }
            let (recovered, records) = recover_all(dir.path());
            assert_eq!(records, expected(1..=4), "cut at {cut} (set_len {set_len})");
            match &recovered.torn_tail {
                None => assert_eq!(cut, offset, "only a cut at the frame start leaves no trace"),
                Some(tail) => {
                    assert_eq!((tail.offset, &tail.file), (offset, file), "cut at {cut}");
                    assert!(
                        tail.discarded_bytes > 0 && tail.discarded_bytes <= cut - offset,
                        "cut at {cut}"
                    );
                }
            }
            // The repaired log takes new records where the torn one was.
            let end = recovered.log_end.clone().unwrap();
            assert_eq!((end.offset, end.last_zxid), (offset, 4));
            drop(recovered);
            let mut log = TxnLog::open(config(dir.path(), FILE), Some(&end)).unwrap();
            append(&mut log, 5..=6);
            log.flush_blocking().unwrap();
            drop(log);
            let (again, records) = recover_all(dir.path());
            assert_eq!(records, expected(1..=6));
            assert!(again.torn_tail.is_none());
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * (data_end - offset));
}

#[test]
fn a_bit_flip_before_valid_records_is_refused_with_file_and_offset() {
    let template = template(6);
    let frames_before = frames(&log_files(template.path())[0]);
    let (offset, _, len) = frames_before[2];
    // In the length, the CRC, the zxid and the payload.
    for at in [
        offset + 1,
        offset + 5,
        offset + 9,
        offset + 16 + len as u64 / 2,
    ] {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        let file = &log_files(dir.path())[0];
        flip_bit(file, at, 3);
        let before = fs::read(file).unwrap();
        match recover(&recovery_config(dir.path())) {
            Err(RecoveryError::CorruptLog {
                file: f,
                offset: o,
                valid_offset,
                ..
            }) => {
                assert_eq!((&f, o), (file, offset), "flip at {at}");
                assert_eq!(valid_offset, frames_before[3].0);
                let msg = RecoveryError::CorruptLog {
                    file: f,
                    offset: o,
                    reason: String::new(),
                    valid_file: file.clone(),
                    valid_offset,
                }
                .to_string();
                assert!(
                    msg.contains(&format!("offset {offset}")) && msg.contains("log.1"),
                    "{msg}"
                );
            }
            other => panic!("flip at {at}: {:?}", other.map(|r| r.records_to_replay)),
        }
        assert_eq!(
            fs::read(file).unwrap(),
            before,
            "a refused recovery changes nothing"
        );
    }
}

#[test]
fn a_bit_flip_in_the_last_record_is_a_torn_tail() {
    let dir = template(6);
    let file = &log_files(dir.path())[0];
    let (offset, _, len) = *frames(file).last().unwrap();
    flip_bit(file, offset + 16 + len as u64 - 1, 0);
    let (recovered, records) = recover_all(dir.path());
    assert_eq!(records, expected(1..=5));
    let tail = recovered.torn_tail.unwrap();
    assert_eq!(tail.offset, offset);
    assert!(tail.reason.contains("CRC"), "{}", tail.reason);
    assert!(
        fs::read(file).unwrap()[offset as usize..]
            .iter()
            .all(|&b| b == 0),
        "tail zeroed"
    );
}

#[test]
fn damage_in_an_earlier_file_with_later_records_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 8192), None).unwrap();
    for start in (1..=100).step_by(10) {
        append(&mut log, start..=start + 9);
    }
    log.flush_blocking().unwrap();
    drop(log);
    let files = log_files(tmp.path());
    assert!(files.len() >= 2);
    let (offset, _, _) = *frames(&files[0]).last().unwrap();
    flip_bit(&files[0], offset + 20, 1);
    match recover(&recovery_config(tmp.path())) {
        Err(RecoveryError::CorruptLog {
            file,
            offset: o,
            valid_file,
            valid_offset,
            ..
        }) => {
            assert_eq!((&file, o), (&files[0], offset));
            assert_eq!((&valid_file, valid_offset), (&files[1], HEADER_LEN as u64));
        }
        other => panic!("{:?}", other.map(|r| r.records_to_replay)),
    }
}

#[test]
fn a_new_file_whose_first_record_never_landed_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 8192), None).unwrap();
    let mut z = 0;
    while log_files(tmp.path()).len() < 2 {
        z += 1;
        append(&mut log, z..=z);
    }
    log.flush_blocking().unwrap();
    drop(log);
    let files = log_files(tmp.path());
    zero_from(&files[1], HEADER_LEN as u64);
    let (recovered, records) = recover_all(tmp.path());
    assert_eq!(records, expected(1..=z - 1));
    let tail = recovered.torn_tail.unwrap();
    assert_eq!(tail.removed_files, vec![files[1].clone()]);
    assert_eq!(log_files(tmp.path()), vec![files[0].clone()]);
    // And a torn header (crash during the rename's first write) too.
    let end = recovered.log_end.clone().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 8192), Some(&end)).unwrap();
    append(&mut log, z..=z);
    log.flush_blocking().unwrap();
    drop(log);
    let second = log_files(tmp.path())[1].clone();
    flip_bit(&second, 3, 0);
    zero_from(&second, HEADER_LEN as u64);
    let (recovered, records) = recover_all(tmp.path());
    assert_eq!(records, expected(1..=z - 1));
    assert!(recovered.torn_tail.unwrap().reason.contains("header"));
}

fn snapshot_at(dir: &Path, zxid: u64) {
    write_snapshot(dir, 0, zxid, |w| {
        w.write_all(format!("tree at {zxid}").as_bytes())
    })
    .unwrap();
}

#[test]
fn a_corrupt_snapshot_falls_back_to_the_older_one() {
    let dir = template(40);
    for z in [10, 20, 30] {
        snapshot_at(dir.path(), z);
    }
    let newest = list_snapshots(dir.path())
        .unwrap()
        .last()
        .unwrap()
        .1
        .clone();
    flip_bit(&newest, 60, 2);
    let (recovered, records) = recover_all(dir.path());
    let snapshot = recovered.snapshot.as_ref().unwrap();
    assert_eq!(
        (snapshot.zxid(), snapshot.content()),
        (20, &b"tree at 20"[..])
    );
    assert_eq!(recovered.skipped_snapshots.len(), 1);
    assert_eq!(recovered.skipped_snapshots[0].path, newest);
    assert_eq!(records, expected(21..=40));
    assert_eq!(recovered.records_to_replay, 20);

    for (_, path) in list_snapshots(dir.path()).unwrap() {
        flip_bit(&path, 50, 0);
    }
    assert!(matches!(
        recover(&recovery_config(dir.path())),
        Err(RecoveryError::NoValidSnapshot { count: 3, .. })
    ));
}

#[test]
fn leftover_temporary_files_are_removed() {
    let dir = template(3);
    let v2 = dir.path().join("version-2");
    fs::write(v2.join("snapshot.5.tmp"), b"half a snapshot").unwrap();
    fs::write(v2.join("prealloc.1.2.tmp"), [0u8; 100]).unwrap();
    let (recovered, records) = recover_all(dir.path());
    assert_eq!(records, expected(1..=3));
    assert_eq!(recovered.removed_leftovers.len(), 2);
    assert!(!v2.join("snapshot.5.tmp").exists());
}

#[test]
fn purge_keeps_what_recovery_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 8192), None).unwrap();
    for start in (1..=300).step_by(10) {
        append(&mut log, start..=start + 9);
        log.flush_blocking().unwrap();
        if start % 50 == 1 {
            snapshot_at(tmp.path(), start + 9);
        }
    }
    drop(log);
    let logs_before = log_files(tmp.path()).len();
    let plan = purge(tmp.path(), tmp.path(), 1).unwrap();
    assert_eq!(plan.retain, 3);
    let kept: Vec<_> = list_snapshots(tmp.path())
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(kept, vec![160, 210, 260]);
    assert!(!plan.logs.is_empty() && log_files(tmp.path()).len() < logs_before);
    let (recovered, records) = recover_all(tmp.path());
    assert_eq!(recovered.snapshot_zxid(), Some(260));
    assert_eq!(records, expected(261..=300));
    // Recovery from the oldest kept snapshot also has every record after it.
    for (z, path) in list_snapshots(tmp.path())
        .unwrap()
        .into_iter()
        .rev()
        .take(2)
    {
        assert!(z > 160);
        fs::remove_file(path).unwrap();
    }
    let (recovered, records) = recover_all(tmp.path());
    assert_eq!(recovered.snapshot_zxid(), Some(160));
    assert_eq!(records, expected(161..=300));
}

#[test]
fn a_snapshot_older_than_every_log_is_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 8192), None).unwrap();
    for start in (1..=100).step_by(10) {
        append(&mut log, start..=start + 9);
    }
    log.flush_blocking().unwrap();
    drop(log);
    snapshot_at(tmp.path(), 3);
    fs::remove_file(&log_files(tmp.path())[0]).unwrap();
    assert!(matches!(
        recover(&recovery_config(tmp.path())),
        Err(RecoveryError::Gap {
            snapshot_zxid: 3,
            ..
        })
    ));
}

#[test]
fn dump_tools_report_damage_instead_of_refusing() {
    use crate::dump::{dump_log, dump_snapshot, DumpEnd};
    let dir = template(4);
    let file = &log_files(dir.path())[0];
    let (offset, _, _) = frames(file)[1];
    flip_bit(file, offset + 18, 4);
    let dump = dump_log(file, MAX_RECORD).unwrap();
    assert_eq!(dump.header.as_ref().unwrap().first_zxid, 1);
    assert_eq!(dump.file_size, FILE);
    let crc: Vec<_> = dump.records.iter().map(|r| (r.zxid, r.crc_ok)).collect();
    assert_eq!(crc, vec![(1, true), (2, false), (3, true), (4, true)]);
    assert!(matches!(dump.end, DumpEnd::Zeros { .. }));

    snapshot_at(dir.path(), 4);
    let snap = &list_snapshots(dir.path()).unwrap()[0].1;
    let info = dump_snapshot(snap).unwrap();
    assert!(info.valid && info.error.is_none());
    assert_eq!((info.header.unwrap().zxid, info.content_bytes), (4, 9));
    flip_bit(snap, 50, 0);
    let info = dump_snapshot(snap).unwrap();
    assert!(!info.valid && info.error.unwrap().contains("CRC"));
    assert_eq!(info.header.unwrap().zxid, 4);
}
