use super::frame::HEADER_LEN;
use super::*;
use crate::testutil::*;
use std::os::unix::fs::MetadataExt;

#[test]
fn append_flush_reopen_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 64 * 1024), None).unwrap();
    append(&mut log, 1..=3);
    append(&mut log, 4..=4);
    log.append(&[]).unwrap();
    append(&mut log, 5..=9);
    let durable: Vec<_> = log.flush_blocking().unwrap().map(|d| d.get().0).collect();
    assert_eq!(durable, vec![0, 1, 2, 3]);
    drop(log);

    let (recovered, records) = recover_all(tmp.path());
    assert_eq!(records, expected(1..=9));
    assert!(recovered.torn_tail.is_none());
    assert_eq!(recovered.last_zxid, Some(9));
    let end = recovered.log_end.clone().unwrap();
    assert_eq!(end.last_zxid, 9);

    let mut log = TxnLog::open(config(tmp.path(), 64 * 1024), Some(&end)).unwrap();
    assert!(matches!(
        log.append(&[Record {
            zxid: 9,
            payload: b"x"
        }]),
        Err(LogError::ZxidOrder { .. })
    ));
    append(&mut log, 10..=12);
    assert_eq!(log.flush_blocking().unwrap().upto(), Some(BatchId(0)));
    drop(log);
    let (_, records) = recover_all(tmp.path());
    assert_eq!(records, expected(1..=12));
    assert_eq!(log_files(tmp.path()).len(), 1, "resumed in the same file");
}

#[test]
fn rolls_to_a_new_file_named_by_its_first_zxid() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 8192), None).unwrap();
    for start in (1..=200).step_by(10) {
        append(&mut log, start..=start + 9);
        log.flush_blocking().unwrap();
    }
    drop(log);
    let files = log_files(tmp.path());
    assert!(files.len() >= 3, "{files:?}");
    for file in &files {
        let first = frames(file)[0].1;
        assert_eq!(
            file.file_name().unwrap().to_str().unwrap(),
            format!("log.{first:x}")
        );
        assert_eq!(fs::metadata(file).unwrap().len(), 8192);
    }
    let (_, records) = recover_all(tmp.path());
    assert_eq!(records, expected(1..=200));
}

#[test]
fn without_a_spare_a_small_file_carries_the_log_and_the_build_in_flight_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let size = 32 << 20;
    let mut log = TxnLog::open(config(tmp.path(), size), None).unwrap();
    // A spare build is in flight: requested, not installed yet.
    let plan = log.spare_wanted().expect("no spare yet");
    append(&mut log, 1..=3);
    let files = log_files(tmp.path());
    assert_eq!(files.len(), 1);
    assert_eq!(
        fs::metadata(&files[0]).unwrap().len(),
        size / 16,
        "the appending thread made a sixteenth-size file, not a full one"
    );
    assert!(
        log.spare_wanted().is_none(),
        "the build in flight stays requested: no second one is started"
    );
    log.install_spare(plan.build().unwrap());
    // Fill the small file: the next roll takes the full-size spare.
    let big = vec![7u8; 1000];
    let mut zxid = 4;
    while log_files(tmp.path()).len() < 2 {
        log.append(&records(zxid..zxid + 60, &big)).unwrap();
        zxid += 60;
        assert!(zxid < 10_000, "no roll by zxid {zxid}");
    }
    log.flush_blocking().unwrap();
    let files = log_files(tmp.path());
    assert_eq!(fs::metadata(&files[1]).unwrap().len(), size, "the spare");
    drop(log);
    let (_, records) = recover_all(tmp.path());
    assert_eq!(records.len() as u64, zxid - 1);
    assert_eq!(records[..3], expected(1..=3)[..]);
    assert!(records[3..].iter().all(|(_, p)| p == &big));
    assert_eq!(records.last().unwrap().0, zxid - 1);
}

#[test]
fn stopgap_files_hold_the_record_that_rolled() {
    assert_eq!(stopgap_file_size(64 << 20, 100), 4 << 20);
    assert_eq!(stopgap_file_size(8 << 20, 100), 1 << 20, "at least 1 MiB");
    assert_eq!(
        stopgap_file_size(256 << 10, 100),
        256 << 10,
        "at most the file size"
    );
    let need = 3 << 20;
    let size = stopgap_file_size(64 << 20, need);
    assert!(size >= HEADER_LEN as u64 + need as u64, "{size}");
    assert_eq!(size % 4096, 0);
}

#[test]
fn preallocation_writes_real_zeros_at_full_size() {
    let tmp = tempfile::tempdir().unwrap();
    let size = 256 * 1024;
    let mut log = TxnLog::open(config(tmp.path(), size), None).unwrap();
    let spare = log.spare_wanted().expect("no spare yet").build().unwrap();
    assert!(
        log.spare_wanted().is_none(),
        "one spare requested at a time"
    );
    let meta = fs::metadata(&spare.path).unwrap();
    assert_eq!(meta.len(), size);
    assert!(
        meta.blocks() * 512 >= size,
        "blocks allocated, not a sparse file: {}",
        meta.blocks()
    );
    assert!(fs::read(&spare.path).unwrap().iter().all(|&b| b == 0));
    log.install_spare(spare);
    append(&mut log, 1..=1);
    let (path, pos) = log.position().map(|(p, o)| (p.to_path_buf(), o)).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        size,
        "full size before any flush"
    );
    let bytes = fs::read(&path).unwrap();
    assert!(bytes[pos as usize..].iter().all(|&b| b == 0));
    assert!(
        fsutil::list_matching(&log.dir, "prealloc.", ".tmp")
            .unwrap()
            .is_empty(),
        "spare consumed"
    );
}

#[test]
fn group_commit_flushes_what_was_appended_before_the_ticket() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 64 * 1024), None).unwrap();
    assert!(log.begin_flush().is_none(), "nothing to flush");
    append(&mut log, 1..=2);
    append(&mut log, 3..=3);
    let ticket = log.begin_flush().unwrap();
    assert_eq!(ticket.batches(), 0..2);
    assert_eq!(ticket.sync_count(), 2, "the new file and its directory");
    append(&mut log, 4..=4);
    assert!(log.begin_flush().is_none(), "one ticket at a time");
    let proof = ticket.sync_blocking().unwrap();
    let done: Vec<_> = log
        .complete_flush(proof)
        .unwrap()
        .map(|d| d.get().0)
        .collect();
    assert_eq!(done, vec![0, 1]);
    let ticket = log.begin_flush().unwrap();
    assert_eq!((ticket.batches(), ticket.sync_count()), (2..3, 1));
    let done: Vec<_> = log
        .complete_flush(ticket.sync_blocking().unwrap())
        .unwrap()
        .collect();
    assert_eq!(done.len(), 1);
}

#[test]
fn a_proof_only_completes_its_own_log() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let mut a = TxnLog::open(config(a_dir.path(), 64 * 1024), None).unwrap();
    let mut b = TxnLog::open(config(b_dir.path(), 64 * 1024), None).unwrap();
    append(&mut a, 1..=1);
    append(&mut b, 1..=1);
    let proof_a = a.begin_flush().unwrap().sync_blocking().unwrap();
    let ticket_b = b.begin_flush().unwrap();
    assert!(matches!(
        b.complete_flush(proof_a),
        Err(LogError::Flush(FlushError::ForeignProof))
    ));
    b.complete_flush(ticket_b.sync_blocking().unwrap()).unwrap();
}

#[test]
fn an_abandoned_ticket_poisons_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 64 * 1024), None).unwrap();
    append(&mut log, 1..=1);
    drop(log.begin_flush().unwrap());
    assert!(matches!(
        log.append(&[Record {
            zxid: 2,
            payload: b"x"
        }]),
        Err(LogError::Flush(FlushError::Poisoned))
    ));
    assert!(log.begin_flush().is_none());
}

#[test]
fn bounds_are_checked_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = TxnLog::open(config(tmp.path(), 64 * 1024), None).unwrap();
    append(&mut log, 1..=1);
    let before = log.position().map(|(p, o)| (p.to_path_buf(), o));
    let big = vec![1u8; MAX_RECORD + 1];
    let ok = vec![1u8; MAX_RECORD];
    let cases = [
        (
            vec![
                Record {
                    zxid: 2,
                    payload: b"a",
                },
                Record {
                    zxid: 3,
                    payload: &big,
                },
            ],
            "too large",
        ),
        (
            vec![
                Record {
                    zxid: 2,
                    payload: b"a",
                },
                Record {
                    zxid: 2,
                    payload: b"b",
                },
            ],
            "order",
        ),
        (
            vec![Record {
                zxid: 0,
                payload: b"a",
            }],
            "zero",
        ),
    ];
    for (records, what) in cases {
        let err = log.append(&records).unwrap_err();
        let matched = match what {
            "too large" => matches!(err, LogError::RecordTooLarge { zxid: 3, .. }),
            "order" => matches!(
                err,
                LogError::ZxidOrder {
                    zxid: 2,
                    previous: 2
                }
            ),
            _ => matches!(err, LogError::ZeroZxid),
        };
        assert!(matched, "{what}: {err}");
    }
    let many = records(2..101, &ok);
    assert!(matches!(
        log.append(&many),
        Err(LogError::BatchTooLarge { .. })
    ));
    assert_eq!(
        log.position().map(|(p, o)| (p.to_path_buf(), o)),
        before,
        "nothing written"
    );
    append(&mut log, 2..=2);
}

#[test]
fn a_config_that_cannot_hold_a_record_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        TxnLog::open(config(tmp.path(), 1024), None),
        Err(LogError::Config(_))
    ));
    assert!(matches!(
        TxnLog::open(config(tmp.path(), 8000), None),
        Err(LogError::Config(_))
    ));
}

#[test]
fn force_sync_off_issues_no_fdatasync() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path(), 64 * 1024);
    cfg.force_sync = false;
    let mut log = TxnLog::open(cfg, None).unwrap();
    append(&mut log, 1..=1);
    let ticket = log.begin_flush().unwrap();
    assert_eq!(ticket.sync_count(), 0);
    log.complete_flush(ticket.sync_blocking().unwrap()).unwrap();
    assert_eq!(HEADER_LEN, 64);
}

#[cfg(feature = "glommio")]
#[test]
fn the_ticket_syncs_through_io_uring() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().to_path_buf();
    glommio::LocalExecutorBuilder::default()
        .spawn(move || async move {
            let mut log = TxnLog::open(config(&path, 64 * 1024), None).unwrap();
            append(&mut log, 1..=3);
            let ticket = log.begin_flush().unwrap();
            let proof = ticket.sync().await.unwrap();
            assert_eq!(log.complete_flush(proof).unwrap().upto(), Some(BatchId(0)));
        })
        .unwrap()
        .join()
        .unwrap();
    let (_, records) = recover_all(tmp.path());
    assert_eq!(records, expected(1..=3));
}

/// The resident set size of the mapping starting at `base`, from
/// /proc/self/smaps (what counts in the process's RSS, unlike mincore,
/// which reports the page cache).
fn mapping_rss(base: usize) -> usize {
    let smaps = fs::read_to_string("/proc/self/smaps").unwrap();
    let head = format!("{base:x}-");
    let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&head));
    assert!(lines.next().is_some(), "no mapping at {head} in smaps");
    let rss = lines
        .find_map(|l| l.strip_prefix("Rss:"))
        .expect("an Rss line for the mapping");
    let kib: usize = rss.trim().trim_end_matches("kB").trim().parse().unwrap();
    kib * 1024
}

#[test]
fn written_pages_behind_the_write_position_leave_the_mapping_at_each_flush() {
    let tmp = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut cfg = config(tmp.path(), 64 << 20);
    cfg.prefault_bytes = 256 * 1024;
    let mut log = TxnLog::open(cfg, None).unwrap();
    // A full-size spare, so the first file is not a small stopgap.
    let plan = log.spare_wanted().expect("no spare yet");
    log.install_spare(plan.build().unwrap());
    let written = 16 << 20;
    // 200 records of this test are under 64 KiB: what stays mapped after a
    // flush is the prefault window and the page holding the cut.
    let bound = 64 * 1024 + 256 * 1024 + 2 * PAGE;
    let mut next = 1;
    let mut peak = 0;
    while log
        .position()
        .is_none_or(|(_, pos)| (pos as usize) < written)
    {
        append(&mut log, next..=next + 199);
        next += 200;
        assert_eq!(log_files(tmp.path()).len(), 1, "rolled at zxid {next}");
        // Released at the cut, before the sync (writeback then has no
        // mapped page to write-protect).
        let ticket = log.begin_flush().unwrap();
        let base = log.active.as_ref().unwrap().base();
        peak = peak.max(mapping_rss(base));
        let proof = ticket.sync_blocking().unwrap();
        log.complete_flush(proof).unwrap();
    }
    assert_eq!(log_files(tmp.path()).len(), 1, "all in one mapping");
    assert!(
        peak <= bound,
        "resident {peak} bytes of the mapping after {written} written and synced; bound {bound}"
    );
    // Appends after a release land in the file as ever.
    append(&mut log, next..=next + 9);
    log.flush_blocking().unwrap();
    drop(log);
    let (recovered, records) = recover_all(tmp.path());
    assert!(recovered.torn_tail.is_none());
    assert_eq!(records, expected(1..=next + 9));
}

#[test]
fn synced_log_pages_leave_the_page_cache_in_whole_folios_and_recent_ones_stay() {
    use super::segment::EVICT_ALIGN;
    // On the crate's own disk: /tmp may be a tmpfs, which keeps its pages.
    let tmp = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    if !evicts_page_cache(tmp.path()) {
        eprintln!("!!!!! page cache eviction not checked: this file system keeps synced pages");
        return;
    }
    let size = 3 * EVICT_ALIGN as u64;
    let mut log = TxnLog::open(config(tmp.path(), size), None).unwrap();
    let spare = log.spare_wanted().expect("no spare yet").build().unwrap();
    log.install_spare(spare);
    let big = vec![9u8; 1000];
    let mut zxid = 0;
    let mut write = |log: &mut TxnLog| {
        log.append(&records(zxid + 1..zxid + 31, &big)).unwrap();
        zxid += 30;
        log.flush_blocking().unwrap();
    };
    // Past the first unit, one flush per 30 records (about 30 KiB).
    while log.position().map_or(0, |(_, pos)| pos) < EVICT_ALIGN as u64 + 100_000 {
        write(&mut log);
    }
    let (first, pos) = log.position().map(|(p, o)| (p.to_path_buf(), o)).unwrap();
    let cached = cached_pages(&first);
    let unit = EVICT_ALIGN / 4096;
    assert!(
        cached[..unit].iter().all(|&r| !r),
        "the first whole unit, synced, is dropped: {} pages still cached",
        cached[..unit].iter().filter(|&&r| r).count()
    );
    assert!(
        cached[pos as usize / 4096],
        "the page still being filled stays"
    );
    // Into a second file: the first leaves the cache entirely once the
    // flush that syncs its last records returned.
    while log.position().unwrap().0 == first.as_path() {
        write(&mut log);
    }
    assert!(
        cached_pages(&first).iter().all(|&r| !r),
        "a full, synced file is dropped whole"
    );
    drop(log);
    let (_, records) = recover_all(tmp.path());
    assert_eq!(
        records.len() as u64,
        zxid,
        "every record reads back from disk"
    );
    assert!(records.iter().all(|(_, p)| p == &big));
}

#[test]
fn without_force_sync_nothing_is_dropped_from_the_page_cache() {
    let tmp = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut cfg = config(tmp.path(), 256 * 1024);
    cfg.force_sync = false;
    let mut log = TxnLog::open(cfg, None).unwrap();
    let big = vec![9u8; 1000];
    let batch: Vec<_> = (1..=30)
        .map(|zxid| Record {
            zxid,
            payload: &big,
        })
        .collect();
    log.append(&batch).unwrap();
    log.flush_blocking().unwrap();
    let (path, pos) = log.position().map(|(p, o)| (p.to_path_buf(), o)).unwrap();
    let cached = cached_pages(&path);
    assert!(
        cached[..pos as usize / 4096].iter().all(|&r| r),
        "unsynced (forceSync=no) pages are dirty and must stay"
    );
}
