//! Paced writeback for large background writes.
//!
//! Why: a large file written through the page cache and synced once at the
//! end becomes one burst of device writes, and the txn log's next
//! fdatasync queues behind all of it. A 64 MiB zero fill synced at once
//! stalled 4 KiB fdatasyncs on the same disk for 40-90 ms (measured here;
//! 1 MiB paced chunks kept them at their idle 8-14 ms worst case), and the
//! server writes two such files routinely: the preallocated next log file
//! and snapshots. [`Writeback`] hands each [`CHUNK`] to writeback as soon as
//! it is written and waits for the chunk before it, so at most two chunks
//! are dirty at any time and the final sync has almost nothing left.
//!
//! Guarantees: advisory only. Nothing here makes data durable; callers
//! still `sync_all`/`sync_data` at the end, which also reports any error the
//! writeback hit. Nothing here changes what bytes are written.

use std::fs::File;
use std::os::fd::AsRawFd;

/// Bytes handed to writeback at a time.
pub const CHUNK: u64 = 1 << 20;

/// Tracks which byte ranges of one file were handed to writeback.
#[derive(Debug, Default)]
pub struct Writeback {
    /// Start of the bytes written but not yet handed to writeback.
    pending_from: u64,
    /// The chunk handed to writeback last, not yet waited for.
    in_flight: Option<(u64, u64)>,
}

impl Writeback {
    /// Pacing for a file whose bytes before `from` are already on disk or
    /// not the caller's concern.
    pub fn starting_at(from: u64) -> Writeback {
        Writeback {
            pending_from: from,
            in_flight: None,
        }
    }

    /// Tells the pacer the file now holds written bytes up to `written_to`
    /// (exclusive); starts writeback once a whole chunk is pending.
    pub fn wrote_up_to(&mut self, file: &File, written_to: u64) {
        if written_to >= self.pending_from + CHUNK {
            self.hand_over(file, written_to);
        }
    }

    /// Whether any range was handed to writeback (tests).
    pub fn started(&self) -> bool {
        self.in_flight.is_some()
    }

    fn hand_over(&mut self, file: &File, written_to: u64) {
        let (from, len) = (self.pending_from, written_to - self.pending_from);
        let fd = file.as_raw_fd();
        // SAFETY: plain syscalls on an open fd; no memory is passed. Errors
        // are ignored on purpose: the caller's final sync reports them.
        unsafe {
            libc::sync_file_range(fd, from as i64, len as i64, libc::SYNC_FILE_RANGE_WRITE);
            if let Some((f, l)) = self.in_flight {
                libc::sync_file_range(
                    fd,
                    f as i64,
                    l as i64,
                    libc::SYNC_FILE_RANGE_WAIT_BEFORE
                        | libc::SYNC_FILE_RANGE_WRITE
                        | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                );
            }
        }
        self.in_flight = Some((from, len));
        self.pending_from = written_to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn hands_over_whole_chunks_only_and_remembers_the_last() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![7u8; (3 * CHUNK) as usize]).unwrap();
        let mut pacing = Writeback::starting_at(100);
        pacing.wrote_up_to(&file, 100 + CHUNK - 1);
        assert!(!pacing.started(), "less than a chunk pending");
        pacing.wrote_up_to(&file, 100 + CHUNK);
        assert_eq!(pacing.in_flight, Some((100, CHUNK)));
        pacing.wrote_up_to(&file, 100 + CHUNK + 10);
        assert_eq!(
            pacing.in_flight,
            Some((100, CHUNK)),
            "next chunk not full yet"
        );
        pacing.wrote_up_to(&file, 100 + 2 * CHUNK + 5);
        assert_eq!(pacing.in_flight, Some((100 + CHUNK, CHUNK + 5)));
        assert_eq!(pacing.pending_from, 100 + 2 * CHUNK + 5);
    }
}
