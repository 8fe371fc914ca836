//! The txn log: preallocated files of CRC32C-framed records, appended
//! through a memory mapping, made durable by fdatasync with group commit.
//!
//! Files live in `dataLogDir/version-2/` and are named `log.<first zxid
//! hex>`, as in ZooKeeper. Each is created at its full size by writing real
//! zeros in 4 KiB blocks and fsyncing (a "spare"), so an fdatasync after an
//! append writes data pages only, never allocation metadata. The spare is
//! built off the sequencer thread ([`TxnLog::spare_wanted`] →
//! [`SparePlan::build`] → [`TxnLog::install_spare`]); only if none is ready
//! when a file fills up is one built inline, with a warning.
//!
//! Guarantees:
//! - records are appended in strictly increasing zxid order, each within
//!   `max_record_bytes`, each batch within `max_batch_bytes` (checked before
//!   anything is written: a refused batch writes nothing);
//! - a [`crate::Durable`] for a batch exists only after the fdatasync of
//!   every file holding its records (and of the directory, after a new file
//!   appeared) returned success — see [`flush`];
//! - any I/O failure poisons the log: nothing more is accepted, the server
//!   must restart and recover.

pub mod flush;
pub mod frame;
pub mod scan;
mod segment;

use crate::durable::{BatchId, DurableBatches};
use crate::fsutil::{self, io_err, IoError};
use crate::Zxid;
pub use flush::{FlushError, FlushTicket, Synced};
use flush::{FlushState, SyncTarget};
use frame::{frame_len, LogHeader, HEADER_LEN};
use segment::{Segment, PAGE};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// ZooKeeper's default preallocation size.
pub const DEFAULT_FILE_SIZE: u64 = 64 << 20;
/// jute.maxbuffer (1 MiB of node data) plus room for path, ACLs and a multi.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 4 << 20;
pub const DEFAULT_MAX_BATCH_BYTES: usize = 16 << 20;
pub const DEFAULT_PREFAULT_BYTES: usize = 1 << 20;

/// How the log is laid out and synced.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// `dataLogDir` (the files go in its `version-2/`).
    pub data_log_dir: PathBuf,
    /// Preallocated size of each file; a multiple of 4 KiB.
    pub file_size: u64,
    /// Written in each header; recovery refuses files of another id.
    pub db_id: u64,
    /// `forceSync`: `false` skips every fdatasync (benchmarks only; the
    /// caller logs the warning).
    pub force_sync: bool,
    pub max_record_bytes: usize,
    pub max_batch_bytes: usize,
    /// How far ahead of the write position pages are touched.
    pub prefault_bytes: usize,
}

impl LogConfig {
    pub fn new(data_log_dir: impl Into<PathBuf>) -> LogConfig {
        LogConfig {
            data_log_dir: data_log_dir.into(),
            file_size: DEFAULT_FILE_SIZE,
            db_id: 0,
            force_sync: true,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            prefault_bytes: DEFAULT_PREFAULT_BYTES,
        }
    }

    /// The directory the files are in.
    pub fn dir(&self) -> PathBuf {
        fsutil::version_dir(&self.data_log_dir)
    }

    fn validate(&self) -> Result<(), LogError> {
        let need = HEADER_LEN as u64 + frame_len(self.max_record_bytes) as u64;
        if !self.file_size.is_multiple_of(PAGE as u64) || self.file_size < need {
            return Err(LogError::Config(format!(
                "file size {} must be a multiple of {PAGE} and at least {need} (header + one maximal record)",
                self.file_size
            )));
        }
        if self.max_record_bytes > u32::MAX as usize || self.max_batch_bytes == 0 {
            return Err(LogError::Config("record/batch bounds out of range".into()));
        }
        Ok(())
    }
}

/// One record to append: opaque bytes tagged with their zxid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub zxid: Zxid,
    pub payload: &'a [u8],
}

/// Errors of the txn log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Flush(#[from] FlushError),
    #[error("record of zxid {zxid:#x} is {len} bytes, more than the {max}-byte bound")]
    RecordTooLarge { zxid: Zxid, len: usize, max: usize },
    #[error("batch of {bytes} bytes is over the {max}-byte bound")]
    BatchTooLarge { bytes: usize, max: usize },
    #[error("zxid {zxid:#x} does not follow {previous:#x}")]
    ZxidOrder { zxid: Zxid, previous: Zxid },
    #[error("zxid 0 is never a record's")]
    ZeroZxid,
    #[error("{} already exists; refusing to overwrite a log file", .0.display())]
    Exists(PathBuf),
    #[error("invalid log configuration: {0}")]
    Config(String),
}

/// Where the recovered log ends: the file to go on appending to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEnd {
    pub path: PathBuf,
    pub first_zxid: Zxid,
    /// Offset just after the last valid record.
    pub offset: u64,
    pub last_zxid: Zxid,
}

/// A request to preallocate the next file; [`SparePlan::build`] is
/// blocking and `Send`, for a blocking thread (glommio's `spawn_blocking`).
#[derive(Debug)]
pub struct SparePlan {
    path: PathBuf,
    size: u64,
}

/// A preallocated, zero-filled, fsynced file waiting to become the next log.
#[derive(Debug)]
pub struct Spare {
    path: PathBuf,
    file: File,
}

static NEXT_SPARE: AtomicU64 = AtomicU64::new(0);

impl SparePlan {
    fn new(dir: &Path, size: u64) -> SparePlan {
        let n = NEXT_SPARE.fetch_add(1, Ordering::Relaxed);
        let name = format!("prealloc.{}.{n}.tmp", std::process::id());
        SparePlan {
            path: dir.join(name),
            size,
        }
    }

    /// Creates the file and writes `size` zeros (paced, see
    /// [`crate::writeback`]), then fsyncs.
    /// On failure (a full disk: ENOSPC) the partial file is removed, so a
    /// failed attempt gives back the space it took.
    pub fn build(self) -> Result<Spare, LogError> {
        let SparePlan { path, size } = self;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path, "create"))?;
        let filled = fsutil::zero_fill(&file, 0, size)
            .map_err(io_err(&path, "preallocate"))
            .and_then(|()| file.sync_all().map_err(io_err(&path, "fsync")));
        if let Err(error) = filled {
            drop(file);
            let _ = fs::remove_file(&path);
            return Err(error.into());
        }
        let len = file.metadata().map_err(io_err(&path, "stat"))?.len();
        assert_eq!(
            len,
            size,
            "preallocated {} to the wrong size",
            path.display()
        );
        Ok(Spare { path, file })
    }
}

/// Smallest file the appending thread makes when no spare is ready.
const STOPGAP_MIN_BYTES: u64 = 1 << 20;

/// Size of the file the appending thread makes itself when no spare is
/// ready: a sixteenth of `file_size` (at least [`STOPGAP_MIN_BYTES`], at
/// most `file_size`), whole pages, and room for the header and a frame of
/// `need` bytes. Why: zero-filling a whole file there stalls every append
/// (about 170 ms for 64 MiB while snapshots shared the disk); a small one
/// carries the log until the spare being built is ready. Log files need
/// not be of one size: each header records its own.
fn stopgap_file_size(file_size: u64, need: usize) -> u64 {
    let page = PAGE as u64;
    let fits = HEADER_LEN as u64 + need as u64;
    let size = (file_size / 16)
        .max(STOPGAP_MIN_BYTES)
        .min(file_size)
        .max(fits);
    size.div_ceil(page) * page
}

/// The file-backed txn log.
pub struct TxnLog {
    cfg: LogConfig,
    dir: PathBuf,
    dir_file: Arc<File>,
    state: FlushState,
    active: Option<Segment>,
    /// Whether the active file got bytes since the last ticket.
    active_dirty: bool,
    /// Files rolled away since the last ticket, still to fdatasync.
    retired: Vec<SyncTarget>,
    /// A file was created (renamed) since the last ticket.
    dir_dirty: bool,
    spare: Option<Spare>,
    spare_requested: bool,
    /// Small files made on the appending thread since the last spare was
    /// installed: the first one warns, the install reports how many.
    stopgaps: u32,
    last_zxid: Option<Zxid>,
}

impl TxnLog {
    /// Opens the log to append after `end` (from [`crate::recovery`]), or
    /// empty when `None`. Creates the directory if needed.
    pub fn open(cfg: LogConfig, end: Option<&LogEnd>) -> Result<TxnLog, LogError> {
        cfg.validate()?;
        let dir = cfg.dir();
        fs::create_dir_all(&dir).map_err(io_err(&dir, "create directory"))?;
        let dir_file = File::open(&dir).map_err(io_err(&dir, "open directory"))?;
        let mut log = TxnLog {
            cfg,
            dir,
            dir_file: Arc::new(dir_file),
            state: FlushState::new(),
            active: None,
            active_dirty: false,
            retired: Vec::new(),
            dir_dirty: false,
            spare: None,
            spare_requested: false,
            stopgaps: 0,
            last_zxid: None,
        };
        if let Some(end) = end {
            log.resume(end)?;
        }
        Ok(log)
    }

    fn resume(&mut self, end: &LogEnd) -> Result<(), LogError> {
        let path = &end.path;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_err(path, "open"))?;
        let segment = Segment::map(
            path.clone(),
            file,
            end.offset as usize,
            self.cfg.prefault_bytes,
        )
        .map_err(io_err(path, "mmap"))?;
        self.active = Some(segment);
        self.last_zxid = Some(end.last_zxid);
        Ok(())
    }

    pub fn config(&self) -> &LogConfig {
        &self.cfg
    }

    /// The zxid of the newest appended record.
    pub fn last_zxid(&self) -> Option<Zxid> {
        self.last_zxid
    }

    /// The file being written and the offset of the next record.
    pub fn position(&self) -> Option<(&Path, u64)> {
        self.active
            .as_ref()
            .map(|s| (s.path.as_path(), s.pos() as u64))
    }

    /// Appends one batch (possibly empty) and returns its id. Nothing of it
    /// is durable until a flush that began after this call completes.
    pub fn append(&mut self, records: &[Record<'_>]) -> Result<BatchId, LogError> {
        self.state.check()?;
        self.validate(records)?;
        for record in records {
            if let Err(e) = self.write_record(record) {
                self.state.poison();
                return Err(e);
            }
        }
        Ok(BatchId(self.state.take_batch_id()))
    }

    fn validate(&self, records: &[Record<'_>]) -> Result<(), LogError> {
        let mut previous = self.last_zxid;
        let mut bytes = 0;
        for r in records {
            if r.zxid == 0 {
                return Err(LogError::ZeroZxid);
            }
            if let Some(prev) = previous.filter(|&p| r.zxid <= p) {
                return Err(LogError::ZxidOrder {
                    zxid: r.zxid,
                    previous: prev,
                });
            }
            if r.payload.len() > self.cfg.max_record_bytes {
                return Err(LogError::RecordTooLarge {
                    zxid: r.zxid,
                    len: r.payload.len(),
                    max: self.cfg.max_record_bytes,
                });
            }
            previous = Some(r.zxid);
            bytes += frame_len(r.payload.len());
        }
        if bytes > self.cfg.max_batch_bytes {
            return Err(LogError::BatchTooLarge {
                bytes,
                max: self.cfg.max_batch_bytes,
            });
        }
        Ok(())
    }

    fn write_record(&mut self, r: &Record<'_>) -> Result<(), LogError> {
        let need = frame_len(r.payload.len());
        if self.active.as_ref().is_none_or(|s| s.remaining() < need) {
            self.roll(r.zxid, need)?;
        }
        let segment = self.active.as_mut().expect("a file after roll");
        segment.write_frame(r.zxid, r.payload);
        self.active_dirty = true;
        self.last_zxid = Some(r.zxid);
        Ok(())
    }

    /// Retires the full file and starts `log.<first_zxid>` from the spare;
    /// without one, from a small file made here (see
    /// [`stopgap_file_size`]) that holds at least the `need` bytes of the
    /// record that rolled. A spare being built stays requested, so it is
    /// installed when done rather than a second one started.
    fn roll(&mut self, first_zxid: Zxid, need: usize) -> Result<(), LogError> {
        if let Some(mut old) = self.active.take() {
            let target = SyncTarget {
                evict: old.take_evictable_to_end(),
                path: old.path,
                file: old.file,
            };
            if self.active_dirty {
                self.retired.push(target);
            } else if self.cfg.force_sync && !self.state.in_flight() {
                // Synced already, and no sync of it is under way.
                flush::evict_synced(&target);
            }
            self.active_dirty = false;
        }
        let spare = match self.spare.take() {
            Some(spare) => spare,
            None => {
                let bytes = stopgap_file_size(self.cfg.file_size, need);
                if self.stopgaps == 0 {
                    tracing::warn!(
                        bytes,
                        "no spare log file ready: preallocating small ones on the appending thread until it is"
                    );
                }
                self.stopgaps += 1;
                SparePlan::new(&self.dir, bytes).build()?
            }
        };
        let path = self.dir.join(fsutil::zxid_name("log", first_zxid));
        if path.symlink_metadata().is_ok() {
            return Err(LogError::Exists(path));
        }
        fs::rename(&spare.path, &path).map_err(io_err(&path, "rename spare to"))?;
        self.dir_dirty = true;
        let mut segment = Segment::map(path.clone(), spare.file, 0, self.cfg.prefault_bytes)
            .map_err(io_err(&path, "mmap"))?;
        segment.write_header(&LogHeader::new(
            self.cfg.db_id,
            first_zxid,
            segment.len() as u64,
        ));
        self.active = Some(segment);
        Ok(())
    }

    /// A spare to build, if none is ready or being built. Call it after
    /// appends; run [`SparePlan::build`] off the sequencer thread.
    pub fn spare_wanted(&mut self) -> Option<SparePlan> {
        if self.spare.is_some() || self.spare_requested {
            return None;
        }
        self.spare_requested = true;
        Some(SparePlan::new(&self.dir, self.cfg.file_size))
    }

    /// The spare asked for by [`TxnLog::spare_wanted`] could not be built
    /// (e.g. the disk is full): the next call may ask again.
    pub fn spare_failed(&mut self) {
        self.spare_requested = false;
    }

    /// Hands over a built spare (from [`TxnLog::spare_wanted`]).
    pub fn install_spare(&mut self, spare: Spare) {
        assert!(
            spare.path.starts_with(&self.dir),
            "spare from another directory"
        );
        if let Some(old) = self.spare.replace(spare) {
            let _ = fs::remove_file(&old.path);
        }
        self.spare_requested = false;
        if self.stopgaps > 0 {
            tracing::info!(
                stopgaps = self.stopgaps,
                "spare log file ready; the log outran preallocation meanwhile"
            );
            self.stopgaps = 0;
        }
    }

    /// Whether a ticket is out.
    pub fn flush_in_flight(&self) -> bool {
        self.state.in_flight()
    }

    /// Cuts a ticket for every batch appended so far, or `None` when a
    /// ticket is already out or nothing new was appended. Batches appended
    /// while this ticket is out wait for the next one.
    pub fn begin_flush(&mut self) -> Option<FlushTicket> {
        if !self.state.can_begin() {
            return None;
        }
        let mut files = std::mem::take(&mut self.retired);
        if let Some(active) = self.active.as_mut() {
            active.cut_flush();
        }
        if self.active_dirty {
            let active = self.active.as_mut().expect("dirty means a file is active");
            // Evicted only once synced: with forceSync=no the ticket does
            // neither (see flush.rs).
            files.push(SyncTarget {
                evict: active.take_evictable(),
                path: active.path.clone(),
                file: active.file.clone(),
            });
            self.active_dirty = false;
        }
        let dir =
            std::mem::take(&mut self.dir_dirty).then(|| (self.dir.clone(), self.dir_file.clone()));
        Some(self.state.begin(files, dir, self.cfg.force_sync))
    }

    /// Turns a flush proof into one [`crate::Durable`] per batch it covers.
    pub fn complete_flush(&mut self, proof: Synced) -> Result<DurableBatches, LogError> {
        Ok(self.state.complete(proof)?)
    }

    /// begin + blocking sync + complete, on the calling thread (tools,
    /// tests, benches). Empty when nothing was appended since the last flush.
    pub fn flush_blocking(&mut self) -> Result<DurableBatches, LogError> {
        assert!(
            !self.flush_in_flight(),
            "flush_blocking while a ticket is out"
        );
        self.state.check()?;
        match self.begin_flush() {
            Some(ticket) => {
                let proof = ticket.sync_blocking()?;
                self.complete_flush(proof)
            }
            None => Ok(DurableBatches::after_flush(0, 0)),
        }
    }
}

impl Drop for TxnLog {
    fn drop(&mut self) {
        if let Some(spare) = self.spare.take() {
            let _ = fs::remove_file(&spare.path);
        }
    }
}

#[cfg(test)]
mod tests;
