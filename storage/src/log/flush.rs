//! Group commit as a protocol of types.
//!
//! `begin_flush` seals "everything appended so far" into a [`FlushTicket`];
//! whatever is appended while the ticket is out goes into the next one. The
//! ticket performs the fdatasync (blocking with [`FlushTicket::sync_blocking`],
//! or through glommio's io_uring with `FlushTicket::sync` behind the
//! `glommio` feature) and only then yields [`Synced`], which nobody outside
//! this crate can make. The log turns a [`Synced`] into
//! [`crate::DurableBatches`]. So a [`crate::Durable`] exists only after the
//! fdatasync of every file holding its records returned success.
//!
//! Once a file's fdatasync returned, the part of it the ticket names as
//! evictable leaves the page cache (`POSIX_FADV_DONTNEED`): the log is
//! never read back while serving, and pages let go of soon are the pages
//! the next log file's preallocation gets back. Without that the page cache
//! grows by every byte logged and each new page is one the machine has to
//! hand out fresh; in a VM that was about 2.3 s of kernel time per GiB
//! against 0.35 s for recycled pages (issue 6, `fadvise` measured beside a
//! plain write loop), i.e. the preallocating thread's zero fill cost about
//! 0.45 of the server's 1.4 cores at 180,000 setData/s of 1 KiB.
//!
//! A failed fdatasync poisons the log for good: after a failed fsync the
//! kernel may have dropped the dirty pages, and a retry that "succeeds"
//! proves nothing (the PostgreSQL fsyncgate lesson). A ticket dropped
//! without syncing also poisons it, because the log cannot tell what was
//! done with it.

use crate::durable::DurableBatches;
use crate::fsutil::IoError;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

static NEXT_LOG_ID: AtomicU64 = AtomicU64::new(1);

/// Errors of the flush protocol.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error("fdatasync failed: {0}; the log is poisoned, restart and recover")]
    Sync(#[source] IoError),
    #[error("the log is poisoned by an earlier failed or abandoned flush; restart and recover")]
    Poisoned,
    #[error("flush proof does not belong to this log's flush in flight")]
    ForeignProof,
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    poisoned: AtomicBool,
}

/// A log file a ticket syncs, and the byte range of it (whole pages the
/// writer will not touch again) to drop from the page cache once synced.
#[derive(Debug)]
pub(crate) struct SyncTarget {
    pub path: PathBuf,
    pub file: Arc<File>,
    pub evict: Range<u64>,
}

/// Batch numbering and the one flush in flight, shared by both logs.
#[derive(Debug)]
pub(crate) struct FlushState {
    id: u64,
    shared: Arc<Shared>,
    next_batch: u64,
    /// Batches below this are durable.
    durable_end: u64,
    /// End (exclusive) of the batches the ticket in flight covers.
    in_flight: Option<u64>,
}

impl FlushState {
    pub fn new() -> FlushState {
        FlushState {
            id: NEXT_LOG_ID.fetch_add(1, Ordering::Relaxed),
            shared: Arc::default(),
            next_batch: 0,
            durable_end: 0,
            in_flight: None,
        }
    }

    pub fn check(&self) -> Result<(), FlushError> {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return Err(FlushError::Poisoned);
        }
        Ok(())
    }

    pub fn poison(&self) {
        self.shared.poisoned.store(true, Ordering::Release);
    }

    pub fn take_batch_id(&mut self) -> u64 {
        let id = self.next_batch;
        self.next_batch += 1;
        id
    }

    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether a new ticket can be cut now.
    pub fn can_begin(&self) -> bool {
        self.in_flight.is_none() && self.next_batch > self.durable_end && self.check().is_ok()
    }

    pub fn begin(
        &mut self,
        files: Vec<SyncTarget>,
        dir: Option<(PathBuf, Arc<File>)>,
        force_sync: bool,
    ) -> FlushTicket {
        assert!(self.can_begin(), "begin_flush without can_begin");
        self.in_flight = Some(self.next_batch);
        FlushTicket {
            log_id: self.id,
            from: self.durable_end,
            end: self.next_batch,
            files,
            dir,
            force_sync,
            shared: self.shared.clone(),
            done: false,
        }
    }

    pub fn complete(&mut self, proof: Synced) -> Result<DurableBatches, FlushError> {
        self.check()?;
        if proof.log_id != self.id
            || Some(proof.end) != self.in_flight
            || proof.from != self.durable_end
        {
            return Err(FlushError::ForeignProof);
        }
        self.in_flight = None;
        self.durable_end = proof.end;
        Ok(DurableBatches::after_flush(proof.from, proof.end))
    }

    /// The volatile log's immediate flush of everything up to `batch`.
    pub fn flush_now(&mut self, batch: u64) -> DurableBatches {
        assert!(batch < self.next_batch, "flush of a batch never appended");
        assert!(
            batch >= self.durable_end,
            "batches are flushed in order, once"
        );
        assert!(self.in_flight.is_none(), "flush while a ticket is out");
        let from = self.durable_end;
        self.durable_end = batch + 1;
        DurableBatches::after_flush(from, batch + 1)
    }
}

/// A flush to perform: the files written since the last flush and, after a
/// new file was created, their directory.
#[must_use = "a ticket dropped without sync poisons the log"]
pub struct FlushTicket {
    log_id: u64,
    from: u64,
    end: u64,
    files: Vec<SyncTarget>,
    dir: Option<(PathBuf, Arc<File>)>,
    force_sync: bool,
    shared: Arc<Shared>,
    done: bool,
}

/// Proof that a ticket's fdatasyncs returned success.
#[derive(Debug)]
pub struct Synced {
    log_id: u64,
    from: u64,
    end: u64,
}

impl FlushTicket {
    /// The batch ids this flush makes durable: `first..end`.
    pub fn batches(&self) -> std::ops::Range<u64> {
        self.from..self.end
    }

    /// How many fdatasyncs this ticket issues (0 for the volatile log or
    /// with `forceSync=no`).
    pub fn sync_count(&self) -> usize {
        if self.force_sync {
            self.files.len() + usize::from(self.dir.is_some())
        } else {
            0
        }
    }

    /// fdatasync on the calling thread (tests, tools, a blocking thread).
    pub fn sync_blocking(mut self) -> Result<Synced, FlushError> {
        if self.force_sync {
            for target in &self.files {
                if let Err(source) = target.file.sync_data() {
                    return Err(self.fail(target.path.clone(), source));
                }
                evict_synced(target);
            }
            if let Some((path, dir)) = &self.dir {
                if let Err(source) = dir.sync_all() {
                    return Err(self.fail(path.clone(), source));
                }
            }
        }
        Ok(self.proof())
    }

    /// fdatasync through glommio's io_uring reactor: the sequencer's
    /// executor keeps running while the device works.
    #[cfg(feature = "glommio")]
    pub async fn sync(mut self) -> Result<Synced, FlushError> {
        if self.force_sync {
            let files = std::mem::take(&mut self.files);
            for target in &files {
                if let Err(source) = uring_fdatasync(&target.file).await {
                    return Err(self.fail(target.path.clone(), source));
                }
                evict_synced(target);
            }
            if let Some((path, dir)) = self.dir.take() {
                if let Err(source) = uring_fdatasync(&dir).await {
                    return Err(self.fail(path, source));
                }
            }
        }
        Ok(self.proof())
    }

    fn fail(&mut self, path: PathBuf, source: io::Error) -> FlushError {
        self.done = true;
        self.shared.poisoned.store(true, Ordering::Release);
        FlushError::Sync(IoError {
            path,
            op: "fdatasync",
            source,
        })
    }

    fn proof(&mut self) -> Synced {
        self.done = true;
        Synced {
            log_id: self.log_id,
            from: self.from,
            end: self.end,
        }
    }
}

impl Drop for FlushTicket {
    fn drop(&mut self) {
        if !self.done {
            tracing::error!(batches = ?(self.from..self.end), "flush ticket dropped unsynced; log poisoned");
            self.shared.poisoned.store(true, Ordering::Release);
        }
    }
}

/// Drops `target.evict` from the page cache: its pages are clean now (just
/// synced) and unmapped (see segment.rs), so this discards nothing. Advice
/// only: a failure costs memory, not data, and is logged.
pub(crate) fn evict_synced(target: &SyncTarget) {
    if let Err(error) = crate::fsutil::drop_cached(&target.file, target.evict.clone()) {
        tracing::warn!(path = %target.path.display(), %error, "dropping synced log pages from the page cache failed");
    }
}

#[cfg(feature = "glommio")]
async fn uring_fdatasync(file: &File) -> io::Result<()> {
    use std::os::unix::io::{AsRawFd, FromRawFd};
    // glommio closes the fd it is given; give it its own.
    // SAFETY: dup of a live descriptor owned by `file`.
    let fd = unsafe { libc::dup(file.as_raw_fd()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let file = unsafe { glommio::io::BufferedFile::from_raw_fd(fd) };
    let synced = file.fdatasync().await.map_err(io::Error::from);
    let closed = file.close().await.map_err(io::Error::from);
    synced.and(closed)
}
