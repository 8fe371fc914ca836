//! Recovery: the newest valid snapshot plus every log record after it.
//!
//! Why it exists: after a crash the server must come back with exactly what
//! it acknowledged — and must say so loudly when it cannot.
//!
//! Guarantees:
//! - snapshots are tried newest first; a corrupt one is skipped with a log
//!   line and listed in [`Recovered::skipped_snapshots`]; if snapshot files
//!   exist and none is valid, recovery refuses ([`RecoveryError::NoValidSnapshot`]);
//! - the log files needed after the snapshot are scanned completely before
//!   anything is handed back: strictly increasing zxids, headers of this
//!   database, file names equal to their first zxid;
//! - a torn tail (zeros, a partial frame or a bad frame with no valid record
//!   after it, in this or any later file) is cut off — zeroed in place and
//!   fdatasynced, later empty files removed — and reported in
//!   [`Recovered::torn_tail`]; such bytes were never covered by a completed
//!   flush, so nothing acknowledged is lost;
//! - a bad frame *followed by* a valid record is refused
//!   ([`RecoveryError::CorruptLog`], naming file and offset): those later
//!   records may have been acknowledged, and cutting them would be a silent
//!   loss. (After a power loss the kernel may have written a later page of
//!   the last, unacknowledged flush before an earlier one; that too shows as
//!   a hole before valid records and is refused: the operator decides, the
//!   server never guesses.)

use crate::fsutil::{self, io_err, IoError};
use crate::log::frame::{read_frame, Frame, HeaderError, LogHeader, HEADER_LEN};
use crate::log::scan::{find_valid_after, scan_records, Stop};
use crate::log::{LogEnd, DEFAULT_MAX_RECORD_BYTES};
use crate::snapshot::{self, SnapshotImage};
use crate::Zxid;
use memmap2::Mmap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

/// Where to recover from.
#[derive(Clone, Debug)]
pub struct RecoveryConfig {
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    /// Refuse log files and snapshots of another database id.
    pub db_id: Option<u64>,
    pub max_record_bytes: usize,
    /// Cut torn tails and remove leftovers; `false` only reports (dry run).
    pub repair: bool,
}

impl RecoveryConfig {
    pub fn new(data_dir: impl Into<PathBuf>, data_log_dir: impl Into<PathBuf>) -> RecoveryConfig {
        RecoveryConfig {
            data_dir: data_dir.into(),
            data_log_dir: data_log_dir.into(),
            db_id: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            repair: true,
        }
    }
}

/// Why recovery refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{}: corrupt log at offset {offset} ({reason}) followed by a valid record at {} offset {valid_offset}; refusing to start, since cutting the log there would lose records that may have been acknowledged", file.display(), valid_file.display())]
    CorruptLog {
        file: PathBuf,
        offset: u64,
        reason: String,
        valid_file: PathBuf,
        valid_offset: u64,
    },
    #[error("{}: record at offset {offset} has zxid {zxid:#x}, not after {previous:#x}", file.display())]
    ZxidOrder {
        file: PathBuf,
        offset: u64,
        zxid: Zxid,
        previous: Zxid,
    },
    #[error("{}: bad header at offset 0: {reason}", file.display())]
    BadHeader { file: PathBuf, reason: HeaderError },
    #[error("{}: belongs to database {found}, not {expected}", file.display())]
    ForeignFile {
        file: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("{}: named for zxid {name_zxid:#x} but starts at {actual:#x}", file.display())]
    NameMismatch {
        file: PathBuf,
        name_zxid: Zxid,
        actual: Zxid,
    },
    #[error("{count} snapshot file(s) and none valid (newest: {}); refusing to start from the logs alone", newest.display())]
    NoValidSnapshot { count: usize, newest: PathBuf },
    #[error("log records {snapshot_zxid:#x}+1 .. {first_log_zxid:#x} are missing: the snapshot at {snapshot_zxid:#x} is older than the oldest log ({})", file.display())]
    Gap {
        snapshot_zxid: Zxid,
        first_log_zxid: Zxid,
        file: PathBuf,
    },
}

/// A snapshot that failed verification and was passed over.
#[derive(Debug, Clone)]
pub struct SkippedSnapshot {
    pub path: PathBuf,
    pub error: String,
}

/// The torn tail that was (or, without `repair`, would be) cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    pub offset: u64,
    /// Non-zero bytes discarded in that file, from `offset` on.
    pub discarded_bytes: u64,
    pub reason: String,
    /// Later files (with no valid record) removed with it.
    pub removed_files: Vec<PathBuf>,
}

/// One validated log file, mapped.
struct ScannedFile {
    path: PathBuf,
    map: Option<Mmap>,
    end: usize,
}

/// What recovery found: hand [`Recovered::snapshot`] to the tree loader,
/// then [`Recovered::replay`] the records, then open the log at
/// [`Recovered::log_end`].
pub struct Recovered {
    pub snapshot: Option<SnapshotImage>,
    pub skipped_snapshots: Vec<SkippedSnapshot>,
    pub torn_tail: Option<TornTail>,
    /// Leftover temporary files (`*.tmp`) removed.
    pub removed_leftovers: Vec<PathBuf>,
    /// Records after the snapshot that [`Recovered::replay`] yields.
    pub records_to_replay: u64,
    /// The newest zxid in the snapshot or the log.
    pub last_zxid: Option<Zxid>,
    /// Where to append next (`None`: start a new file on the first append).
    pub log_end: Option<LogEnd>,
    files: Vec<ScannedFile>,
    max_record_bytes: usize,
}

impl Recovered {
    pub fn snapshot_zxid(&self) -> Option<Zxid> {
        self.snapshot.as_ref().map(|s| s.zxid())
    }

    /// Calls `apply` for every record after the snapshot, in zxid order.
    /// Returns how many were applied.
    pub fn replay<E>(&self, mut apply: impl FnMut(Zxid, &[u8]) -> Result<(), E>) -> Result<u64, E> {
        let after = self.snapshot_zxid();
        let mut applied = 0;
        for f in &self.files {
            let bytes: &[u8] = f.map.as_deref().unwrap_or(&[]);
            let mut pos = HEADER_LEN;
            while pos < f.end {
                match read_frame(bytes, pos, self.max_record_bytes) {
                    Frame::Record { zxid, payload, next } => {
                        if after.is_none_or(|s| zxid > s) {
                            apply(zxid, payload)?;
                            applied += 1;
                        }
                        pos = next;
                    }
                    other => panic!("{}: validated record at {pos} now reads {other:?}: the file changed under recovery", f.path.display()),
                }
            }
        }
        assert_eq!(
            applied, self.records_to_replay,
            "replayed what the scan counted"
        );
        Ok(applied)
    }
}

/// Finds the newest valid snapshot and validates the log after it; cuts a
/// torn tail (with `repair`). See the module docs for what is refused.
pub fn recover(cfg: &RecoveryConfig) -> Result<Recovered, RecoveryError> {
    let snap_dir = snapshot::snapshot_dir(&cfg.data_dir);
    let log_dir = fsutil::version_dir(&cfg.data_log_dir);
    let mut removed_leftovers = Vec::new();
    if cfg.repair {
        removed_leftovers.extend(remove_leftovers(&snap_dir, "snapshot.")?);
        removed_leftovers.extend(remove_leftovers(&log_dir, "prealloc.")?);
    }
    let (snapshot, skipped_snapshots) = newest_valid_snapshot(cfg)?;
    let snap_zxid = snapshot.as_ref().map(|s| s.zxid());
    let logs = fsutil::list_zxid_files(&log_dir, "log").map_err(io_err(&log_dir, "list"))?;
    let needed = &logs[first_needed(&logs, snap_zxid)..];
    let mut walk = Walk::new(cfg, snap_zxid);
    for (name_zxid, path) in needed {
        walk.file(*name_zxid, path)?;
    }
    check_gap(&walk, snap_zxid)?;
    let torn_tail = walk.finish_tail(&log_dir)?;
    let last_zxid = walk.last_zxid.max(snap_zxid);
    let log_end = walk.log_end();
    Ok(Recovered {
        snapshot,
        skipped_snapshots,
        torn_tail,
        removed_leftovers,
        records_to_replay: walk.after_snapshot,
        last_zxid,
        log_end,
        files: walk.files,
        max_record_bytes: cfg.max_record_bytes,
    })
}

fn remove_leftovers(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, IoError> {
    let found = fsutil::list_matching(dir, prefix, ".tmp").map_err(io_err(dir, "list"))?;
    for path in &found {
        tracing::info!(file = %path.display(), "removing leftover temporary file");
        fs::remove_file(path).map_err(io_err(path, "remove"))?;
    }
    if !found.is_empty() {
        fsutil::fsync_dir(dir).map_err(io_err(dir, "fsync directory"))?;
    }
    Ok(found)
}

fn newest_valid_snapshot(
    cfg: &RecoveryConfig,
) -> Result<(Option<SnapshotImage>, Vec<SkippedSnapshot>), RecoveryError> {
    let all = snapshot::list_snapshots(&cfg.data_dir)?;
    let mut skipped = Vec::new();
    for (_, path) in all.iter().rev() {
        let verdict = snapshot::read_snapshot(path)
            .map_err(|e| e.to_string())
            .and_then(
                |image| match cfg.db_id.filter(|&id| id != image.header.db_id) {
                    Some(expected) => Err(format!(
                        "belongs to database {}, not {expected}",
                        image.header.db_id
                    )),
                    None => Ok(image),
                },
            );
        match verdict {
            Ok(image) => return Ok((Some(image), skipped)),
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "skipping invalid snapshot");
                skipped.push(SkippedSnapshot {
                    path: path.clone(),
                    error,
                });
            }
        }
    }
    match all.last() {
        Some((_, newest)) => Err(RecoveryError::NoValidSnapshot {
            count: all.len(),
            newest: newest.clone(),
        }),
        None => Ok((None, skipped)),
    }
}

/// Index of the newest log named at or before the snapshot (it may hold
/// the records right after it); 0 without a snapshot.
fn first_needed(logs: &[(Zxid, PathBuf)], snap_zxid: Option<Zxid>) -> usize {
    match snap_zxid {
        None => 0,
        Some(s) => logs.iter().rposition(|(z, _)| *z <= s).unwrap_or(0),
    }
}

/// Within one epoch (the high 32 bits) zxids count up by one: a first log
/// record past snapshot+1 in the same epoch means purged or lost logs.
fn check_gap(walk: &Walk, snap_zxid: Option<Zxid>) -> Result<(), RecoveryError> {
    let (Some(s), Some((first, file))) = (snap_zxid, walk.first_record.as_ref()) else {
        return Ok(());
    };
    if *first > s + 1 && first >> 32 == s >> 32 {
        return Err(RecoveryError::Gap {
            snapshot_zxid: s,
            first_log_zxid: *first,
            file: file.clone(),
        });
    }
    Ok(())
}

/// A bad point in the log: everything from here on must be unacknowledged.
struct Cut {
    file: PathBuf,
    offset: u64,
    garbage_end: u64,
    reason: String,
    /// The whole file holds nothing valid (remove it rather than zero).
    remove_file: bool,
    later_files: Vec<PathBuf>,
}

/// The walk over the needed log files, in order.
struct Walk<'a> {
    cfg: &'a RecoveryConfig,
    snap_zxid: Option<Zxid>,
    last_zxid: Option<Zxid>,
    first_record: Option<(Zxid, PathBuf)>,
    after_snapshot: u64,
    files: Vec<ScannedFile>,
    cut: Option<Cut>,
}

impl<'a> Walk<'a> {
    fn new(cfg: &'a RecoveryConfig, snap_zxid: Option<Zxid>) -> Walk<'a> {
        Walk {
            cfg,
            snap_zxid,
            last_zxid: None,
            first_record: None,
            after_snapshot: 0,
            files: Vec::new(),
            cut: None,
        }
    }

    fn file(&mut self, name_zxid: Zxid, path: &Path) -> Result<(), RecoveryError> {
        let map = map_file(path)?;
        let bytes: &[u8] = map.as_deref().unwrap_or(&[]);
        if let Some(cut) = &mut self.cut {
            // Past a cut, no valid record may exist anywhere.
            if let Some(at) =
                find_valid_after(bytes, HEADER_LEN, self.last_zxid, self.cfg.max_record_bytes)
            {
                return Err(corrupt(cut, path, at as u64));
            }
            cut.later_files.push(path.to_path_buf());
            return Ok(());
        }
        let header = match LogHeader::decode(bytes) {
            Ok(h) => h,
            Err(reason) => return self.header_unusable(path, bytes, reason),
        };
        self.check_header(path, name_zxid, &header)?;
        let scan = scan_records(bytes, HEADER_LEN, self.last_zxid, self.cfg.max_record_bytes);
        if let Some(first) = scan.first_zxid.filter(|&f| f != name_zxid) {
            return Err(RecoveryError::NameMismatch {
                file: path.to_path_buf(),
                name_zxid,
                actual: first,
            });
        }
        self.count_after_snapshot(bytes, scan.end);
        if let Some(first) = scan.first_zxid {
            self.first_record.get_or_insert((first, path.to_path_buf()));
        }
        self.last_zxid = scan.last_zxid.or(self.last_zxid);
        match scan.stop {
            Stop::Clean if scan.records > 0 => {}
            Stop::Clean => {
                // A file is created for its first record: one without any
                // is the trace of a crash right after the roll.
                self.cut = Some(Cut::new(
                    path,
                    HEADER_LEN as u64,
                    HEADER_LEN as u64,
                    "file holds no record".into(),
                    true,
                ));
            }
            Stop::Torn {
                offset,
                garbage_end,
                reason,
            } => {
                self.cut = Some(Cut::new(
                    path,
                    offset as u64,
                    garbage_end as u64,
                    reason,
                    scan.records == 0,
                ));
            }
            Stop::CorruptBeforeValid {
                offset,
                reason,
                valid_at,
            } => {
                return Err(RecoveryError::CorruptLog {
                    file: path.to_path_buf(),
                    offset: offset as u64,
                    reason,
                    valid_file: path.to_path_buf(),
                    valid_offset: valid_at as u64,
                });
            }
            Stop::ZxidOrder {
                offset,
                zxid,
                previous,
            } => {
                return Err(RecoveryError::ZxidOrder {
                    file: path.to_path_buf(),
                    offset: offset as u64,
                    zxid,
                    previous,
                });
            }
        }
        if scan.records > 0 {
            self.files.push(ScannedFile {
                path: path.to_path_buf(),
                map,
                end: scan.end,
            });
        }
        Ok(())
    }

    fn header_unusable(
        &mut self,
        path: &Path,
        bytes: &[u8],
        reason: HeaderError,
    ) -> Result<(), RecoveryError> {
        // A torn header is only a crash trace if nothing valid follows.
        if find_valid_after(bytes, HEADER_LEN, self.last_zxid, self.cfg.max_record_bytes).is_some()
        {
            return Err(RecoveryError::BadHeader {
                file: path.to_path_buf(),
                reason,
            });
        }
        let garbage_end = fsutil::nonzero_end(bytes) as u64;
        self.cut = Some(Cut::new(
            path,
            0,
            garbage_end,
            format!("header: {reason}"),
            true,
        ));
        Ok(())
    }

    fn check_header(
        &self,
        path: &Path,
        name_zxid: Zxid,
        header: &LogHeader,
    ) -> Result<(), RecoveryError> {
        if let Some(expected) = self.cfg.db_id.filter(|&id| id != header.db_id) {
            return Err(RecoveryError::ForeignFile {
                file: path.to_path_buf(),
                found: header.db_id,
                expected,
            });
        }
        if header.first_zxid != name_zxid {
            return Err(RecoveryError::NameMismatch {
                file: path.to_path_buf(),
                name_zxid,
                actual: header.first_zxid,
            });
        }
        Ok(())
    }

    fn count_after_snapshot(&mut self, bytes: &[u8], end: usize) {
        let mut pos = HEADER_LEN;
        while pos < end {
            let Frame::Record { zxid, next, .. } =
                read_frame(bytes, pos, self.cfg.max_record_bytes)
            else {
                unreachable!("scanned records reread");
            };
            if self.snap_zxid.is_none_or(|s| zxid > s) {
                self.after_snapshot += 1;
            }
            pos = next;
        }
    }

    /// Cuts the torn tail (with `repair`) and reports it.
    fn finish_tail(&mut self, log_dir: &Path) -> Result<Option<TornTail>, RecoveryError> {
        let Some(cut) = self.cut.take() else {
            return Ok(None);
        };
        let mut removed = cut.later_files.clone();
        if cut.remove_file {
            removed.insert(0, cut.file.clone());
        }
        let tail = TornTail {
            file: cut.file.clone(),
            offset: cut.offset,
            discarded_bytes: cut.garbage_end.saturating_sub(cut.offset),
            reason: cut.reason.clone(),
            removed_files: removed.clone(),
        };
        tracing::warn!(file = %tail.file.display(), offset = tail.offset, bytes = tail.discarded_bytes,
            reason = %tail.reason, removed = removed.len(), repair = self.cfg.repair, "torn log tail after the last valid record");
        if self.cfg.repair {
            if !cut.remove_file && cut.garbage_end > cut.offset {
                zero_tail(&cut.file, cut.offset, cut.garbage_end)?;
            }
            for path in &removed {
                fs::remove_file(path).map_err(io_err(path, "remove"))?;
            }
            if !removed.is_empty() {
                fsutil::fsync_dir(log_dir).map_err(io_err(log_dir, "fsync directory"))?;
            }
        }
        Ok(Some(tail))
    }

    fn log_end(&self) -> Option<LogEnd> {
        let last = self.files.last()?;
        let bytes: &[u8] = last.map.as_deref().unwrap_or(&[]);
        let header = LogHeader::decode(bytes).expect("validated header");
        Some(LogEnd {
            path: last.path.clone(),
            first_zxid: header.first_zxid,
            offset: last.end as u64,
            last_zxid: self.last_zxid.expect("a file with records"),
        })
    }
}

impl Cut {
    fn new(path: &Path, offset: u64, garbage_end: u64, reason: String, remove_file: bool) -> Cut {
        Cut {
            file: path.to_path_buf(),
            offset,
            garbage_end,
            reason,
            remove_file,
            later_files: Vec::new(),
        }
    }
}

fn corrupt(cut: &Cut, valid_file: &Path, valid_offset: u64) -> RecoveryError {
    RecoveryError::CorruptLog {
        file: cut.file.clone(),
        offset: cut.offset,
        reason: cut.reason.clone(),
        valid_file: valid_file.to_path_buf(),
        valid_offset,
    }
}

fn map_file(path: &Path) -> Result<Option<Mmap>, IoError> {
    let file = File::open(path).map_err(io_err(path, "open"))?;
    let len = file.metadata().map_err(io_err(path, "stat"))?.len();
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: nothing writes the log while recovery runs.
    Ok(Some(
        unsafe { Mmap::map(&file) }.map_err(io_err(path, "mmap"))?,
    ))
}

fn zero_tail(path: &Path, from: u64, to: u64) -> Result<(), IoError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path, "open"))?;
    fsutil::zero_fill(&file, from, to).map_err(io_err(path, "zero torn tail"))?;
    file.sync_data().map_err(io_err(path, "fdatasync"))
}
