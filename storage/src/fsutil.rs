//! File-system helpers every module shares: ZooKeeper's `version-2`
//! directory, the `log.<hex>` / `snapshot.<hex>` names, zero filling and
//! directory fsync. Kept apart so each rule (e.g. "a rename is durable only
//! after the directory is fsynced") is written once.

use crate::writeback::Writeback;
use crate::Zxid;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The sub-directory ZooKeeper keeps its files in (format version 2).
pub const VERSION_DIR: &str = "version-2";

/// The size of each write when zero filling (the pacing is per
/// [`crate::writeback::CHUNK`]).
pub(crate) const ZERO_CHUNK: usize = 64 << 10;

/// Zeros for [`zero_fill`], shared so no call zeroes a buffer of its own.
static ZEROS: [u8; ZERO_CHUNK] = [0; ZERO_CHUNK];

pub(crate) fn version_dir(base: &Path) -> PathBuf {
    base.join(VERSION_DIR)
}

/// `prefix.<zxid in lower-case hex>`, as ZooKeeper's `Long.toHexString`.
pub(crate) fn zxid_name(prefix: &str, zxid: Zxid) -> String {
    format!("{prefix}.{zxid:x}")
}

/// The zxid of a `prefix.<hex>` name; `None` for anything else.
pub(crate) fn parse_zxid_name(name: &str, prefix: &str) -> Option<Zxid> {
    let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// Every entry of `dir` with a UTF-8 name, as (name, path); a missing dir
/// is empty.
fn named_entries(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Ok(name) = entry.file_name().into_string() {
            found.push((name, entry.path()));
        }
    }
    Ok(found)
}

/// Files `prefix.<hex>` in `dir`, oldest zxid first; a missing dir is empty.
pub(crate) fn list_zxid_files(dir: &Path, prefix: &str) -> io::Result<Vec<(Zxid, PathBuf)>> {
    let mut found: Vec<(Zxid, PathBuf)> = named_entries(dir)?
        .into_iter()
        .filter_map(|(name, path)| parse_zxid_name(&name, prefix).map(|zxid| (zxid, path)))
        .collect();
    found.sort();
    Ok(found)
}

/// Files in `dir` whose name starts with `prefix` and ends with `suffix`.
pub(crate) fn list_matching(dir: &Path, prefix: &str, suffix: &str) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = named_entries(dir)?
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix) && name.ends_with(suffix))
        .map(|(_, path)| path)
        .collect();
    found.sort();
    Ok(found)
}

/// Makes renames, creations and unlinks in `dir` durable.
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Asks the kernel to drop `range` of `file` from the page cache
/// (`POSIX_FADV_DONTNEED`): clean pages go, dirty ones are left (and only
/// get their writeback started). An empty range does nothing.
pub(crate) fn drop_cached(file: &File, range: std::ops::Range<u64>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    if range.is_empty() {
        return Ok(());
    }
    let offset = libc::off_t::try_from(range.start).map_err(|_| io::ErrorKind::InvalidInput)?;
    let len =
        libc::off_t::try_from(range.end - range.start).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: advice on a descriptor this `File` owns; no memory is passed.
    match unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED) } {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Writes real zeros over `from..to` (never fallocate: an
/// allocated-but-unwritten extent costs a metadata write on every later
/// fdatasync that touches it; tried for the log's spares on 23 Nov, setData
/// p99 at 15,000/s went from 2.5-3.6 ms to 4.4-39 ms), paced by
/// [`Writeback`] so a 64 MiB preallocation does not stall the log's
/// fdatasync behind it. The caller syncs.
pub(crate) fn zero_fill(file: &File, from: u64, to: u64) -> io::Result<()> {
    let mut pacing = Writeback::starting_at(from);
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZERO_CHUNK as u64) as usize;
        file.write_all_at(&ZEROS[..n], at)?;
        at += n as u64;
        pacing.wrote_up_to(file, at);
    }
    Ok(())
}

/// Index one past the last non-zero byte of `bytes` (0 if all zero).
pub(crate) fn nonzero_end(bytes: &[u8]) -> usize {
    let mut end = bytes.len();
    while !end.is_multiple_of(8) {
        if bytes[end - 1] != 0 {
            return end;
        }
        end -= 1;
    }
    while end >= 8 {
        let word = u64::from_ne_bytes(bytes[end - 8..end].try_into().unwrap());
        if word != 0 {
            return end - 8 + (1 + bytes[end - 8..end].iter().rposition(|&b| b != 0).unwrap());
        }
        end -= 8;
    }
    0
}

/// Whether every byte of `bytes` is zero.
pub(crate) fn all_zero(bytes: &[u8]) -> bool {
    nonzero_end(bytes) == 0
}

/// An `io::Error` with the path and operation it came from.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct IoError {
    pub path: PathBuf,
    pub op: &'static str,
    #[source]
    pub source: io::Error,
}

pub(crate) fn io_err<'p>(
    path: &'p Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> IoError + 'p {
    move |source| IoError {
        path: path.to_path_buf(),
        op,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_like_zookeeper() {
        assert_eq!(zxid_name("log", 0x1_0000_0001), "log.100000001");
        assert_eq!(parse_zxid_name("log.100000001", "log"), Some(0x1_0000_0001));
        assert_eq!(parse_zxid_name("log.", "log"), None);
        assert_eq!(parse_zxid_name("log.xyz", "log"), None);
        assert_eq!(parse_zxid_name("snapshot.1f.tmp", "snapshot"), None);
        assert_eq!(parse_zxid_name("logx.1", "log"), None);
    }

    #[test]
    fn nonzero_end_finds_the_last_byte() {
        let mut b = vec![0u8; 37];
        assert_eq!(nonzero_end(&b), 0);
        b[3] = 1;
        assert_eq!(nonzero_end(&b), 4);
        b[36] = 9;
        assert_eq!(nonzero_end(&b), 37);
        b[36] = 0;
        b[17] = 2;
        assert_eq!(nonzero_end(&b), 18);
    }
}
