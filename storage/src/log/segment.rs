//! One log file being written: a preallocated file mapped read-write, a
//! write position, and the prefault front.
//!
//! Appends are a memcpy into the mapping. Before the write position reaches
//! a page it has already been touched (a volatile read of one byte per
//! page, `prefault_bytes` ahead), so the sequencer never takes a *major*
//! fault (a disk read) on its own thread. Reading rather than writing the
//! page keeps prefaulted pages clean: an fdatasync writes only pages that
//! hold records. The first store into a page still takes a minor fault
//! (write-protect to dirty-tracking), which is microseconds, not a disk I/O.
//!
//! Behind the write position the mapping is let go: when a flush is cut,
//! before its sync is issued, the whole pages below the cut's page are
//! dropped from this process's page tables with one `MADV_DONTNEED`. For a
//! `MAP_SHARED` file mapping that discards nothing: the data stays in the
//! file and the page cache (the kernel moves a dirty page-table entry's
//! dirty bit to the page, so the sync that follows writes it), the pages
//! just stop counting in the server's RSS, as ZooKeeper's plain file
//! writes never do. Dropping them before the sync, not after, is what
//! keeps writeback cheap: writeback write-protects every mapped dirty page
//! it cleans (`page_mkclean`), a TLB flush on every CPU the process runs
//! on, once per page (about a tenth of the server's CPU under a setData
//! load, issue 6); an unmapped page needs none, and the `madvise` flushes
//! once for the whole range. Only the page holding the cut stays mapped,
//! because the next records go on filling it. Nothing reads the log back
//! through this mapping (recovery and the dump tools open the file anew),
//! and a stray read would re-fault the page from the file, still correct.
//! `MADV_COLD` would leave the pages mapped (RSS unchanged) and
//! `MADV_PAGEOUT` would evict them from the page cache too, which costs
//! I/O for nothing; `MADV_DONTNEED` is the one that does exactly this.

use super::frame::{encode_frame, frame_len, LogHeader, HEADER_LEN};
use memmap2::{MmapMut, MmapOptions};
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) const PAGE: usize = 4096;

/// The unit in which synced pages are dropped from the page cache: the
/// largest folio (a PMD, 2 MiB on x86-64) the page cache may hold a log
/// file in.
pub(crate) const EVICT_ALIGN: usize = 2 << 20;

pub(crate) struct Segment {
    pub path: PathBuf,
    pub file: Arc<File>,
    map: MmapMut,
    pos: usize,
    prefaulted: usize,
    window: usize,
    /// Pages below this offset were released from the mapping.
    released: usize,
    /// Pages below this offset were handed to a flush to drop from the
    /// page cache once synced (see flush.rs).
    evict_handed: usize,
}

impl Segment {
    /// Maps `file` (already preallocated) to write at `pos`.
    pub fn map(path: PathBuf, file: File, pos: usize, window: usize) -> io::Result<Segment> {
        // SAFETY: the log owns its files; nothing else writes them while it runs.
        let map = unsafe { MmapOptions::new().map_mut(&file)? };
        assert!(
            pos <= map.len(),
            "write position {pos} past the end of {}",
            path.display()
        );
        let mut segment = Segment {
            path,
            file: Arc::new(file),
            map,
            pos,
            prefaulted: pos & !(PAGE - 1),
            window,
            released: 0,
            evict_handed: 0,
        };
        segment.prefault();
        Ok(segment)
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn remaining(&self) -> usize {
        self.map.len() - self.pos
    }

    /// Writes the header of a fresh file.
    pub fn write_header(&mut self, header: &LogHeader) {
        assert_eq!(self.pos, 0, "a header goes at offset 0");
        assert!(self.map.len() >= HEADER_LEN, "file too small for a header");
        self.map[..HEADER_LEN].copy_from_slice(&header.encode());
        self.pos = HEADER_LEN;
        self.prefault();
    }

    /// Appends one framed record; the caller checked it fits.
    pub fn write_frame(&mut self, zxid: crate::Zxid, payload: &[u8]) {
        let n = frame_len(payload.len());
        assert!(n <= self.remaining(), "frame of {n} bytes does not fit");
        encode_frame(&mut self.map[self.pos..self.pos + n], zxid, payload);
        self.pos += n;
        self.prefault();
    }

    /// A flush is cut now: everything written so far is what it syncs.
    /// The whole pages below the cut's page leave the mapping now, before
    /// the sync (see the module docs).
    pub fn cut_flush(&mut self) {
        let end = self.pos & !(PAGE - 1);
        if end <= self.released {
            return;
        }
        assert!(
            end <= self.map.len(),
            "release up to {end} past the end of the mapping ({})",
            self.map.len()
        );
        // SAFETY: a page-aligned range inside the live MAP_SHARED file
        // mapping, all of it behind the write position, which nothing
        // writes again. For a shared file mapping MADV_DONTNEED only drops
        // our page-table entries; the contents (dirty or not) stay in the
        // page cache and reach the file with the sync that follows.
        let rc = unsafe {
            libc::madvise(
                self.map.as_mut_ptr().add(self.released) as *mut libc::c_void,
                end - self.released,
                libc::MADV_DONTNEED,
            )
        };
        if rc != 0 {
            // Advice only: the pages stay mapped, nothing is lost.
            tracing::warn!(
                path = %self.path.display(),
                error = %io::Error::last_os_error(),
                "madvise(MADV_DONTNEED) of written log pages failed"
            );
            return;
        }
        self.released = end;
    }

    /// The pages released from the mapping since the last call, in whole
    /// [`EVICT_ALIGN`] units: the flush cut just now syncs them, after
    /// which they can leave the page cache. Whole units because the page
    /// cache holds a file in folios of up to that size, naturally aligned,
    /// and the kernel drops only the folios a range covers entirely.
    pub fn take_evictable(&mut self) -> std::ops::Range<u64> {
        let end = self.released & !(EVICT_ALIGN - 1);
        if end <= self.evict_handed {
            return 0..0;
        }
        let range = self.evict_handed as u64..end as u64;
        self.evict_handed = end;
        range
    }

    /// The rest of the file, from the last range handed out: for a file
    /// that is full, whose last records are in the flush that syncs it.
    pub fn take_evictable_to_end(&mut self) -> std::ops::Range<u64> {
        let range = self.evict_handed as u64..self.map.len() as u64;
        self.evict_handed = self.map.len();
        range
    }

    /// Where the mapping starts (tests look it up in /proc/self/smaps).
    #[cfg(test)]
    pub fn base(&self) -> usize {
        self.map.as_ptr() as usize
    }

    fn prefault(&mut self) {
        let target = (self.pos + self.window).min(self.map.len());
        let base = self.map.as_ptr();
        while self.prefaulted < target {
            // SAFETY: in bounds of the live mapping; a volatile read only
            // faults the page in, it changes nothing.
            unsafe { std::ptr::read_volatile(base.add(self.prefaulted)) };
            self.prefaulted += PAGE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::zero_fill;

    const MIB: usize = 1 << 20;

    /// Which pages of `bytes` (page-aligned) are in the page cache.
    fn resident(bytes: &[u8]) -> Vec<bool> {
        let pages = bytes.len().div_ceil(PAGE);
        let mut vec = vec![0u8; pages];
        // SAFETY: a live, page-aligned mapping of `bytes.len()` bytes and an
        // out-vector of one byte per page.
        let rc = unsafe { libc::mincore(bytes.as_ptr() as *mut _, bytes.len(), vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", io::Error::last_os_error());
        vec.iter().map(|b| b & 1 == 1).collect()
    }

    /// A preallocated file whose pages are evicted from the page cache.
    fn cold_file(path: &std::path::Path, size: usize) -> File {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .unwrap();
        zero_fill(&file, 0, size as u64).unwrap();
        file.sync_all().unwrap();
        crate::fsutil::drop_cached(&file, 0..size as u64).unwrap();
        file
    }

    #[test]
    fn pages_ahead_of_the_write_position_are_faulted_in_and_no_further() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("segment");
        // Larger than a device's mmap read-around (8 MiB here), so the far
        // end stays cold unless something touches it.
        let size = 32 * MIB;
        let file = cold_file(&path, size);
        // SAFETY: a private look at the file nothing else writes.
        let probe = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let evictable = !resident(&probe).iter().any(|&r| r);
        drop(probe);
        let mut segment = Segment::map(path.clone(), file, 0, MIB).unwrap();
        assert_eq!(segment.prefaulted, MIB, "touched one window ahead at open");
        let payload = vec![7u8; 100_000];
        let mut zxid = 0;
        while segment.pos() < MIB + MIB / 2 {
            zxid += 1;
            segment.write_frame(zxid, &payload);
            assert!(
                segment.prefaulted >= (segment.pos() + MIB).min(segment.len()),
                "the front stays a window ahead: pos {}, front {}",
                segment.pos(),
                segment.prefaulted
            );
            assert!(
                segment.prefaulted <= segment.pos() + MIB + PAGE,
                "and no further"
            );
        }
        if !evictable {
            eprintln!(
                "!!!!! page cache residency not checked: this file system keeps evicted pages"
            );
            return;
        }
        let pages = resident(&segment.map);
        let front = segment.pos() + MIB;
        let ahead = &pages[segment.pos() / PAGE..front / PAGE];
        // The file was cold, so without the prefault none of these would be
        // resident. The host may reclaim a few clean pages between the
        // prefault and this look (seen once in a full parallel test run on
        // a machine under page-cache reclaim), so most, not all, must be.
        let resident_ahead = ahead.iter().filter(|&&r| r).count();
        assert!(
            resident_ahead * 10 >= ahead.len() * 9,
            "pages up to one window ahead are resident: {resident_ahead} of {}",
            ahead.len()
        );
        let far = &pages[24 * MIB / PAGE..];
        assert!(
            far.iter().all(|&r| !r),
            "nothing is touched far past the window"
        );
    }
}
