//! Snapshots: the serialised tree exact at one zxid, in
//! `dataDir/version-2/snapshot.<zxid hex>`.
//!
//! Format: a 48-byte header (magic, format version, database id, zxid,
//! header CRC32C), the content as the caller's writer produced it, and a
//! 24-byte trailer (content length, content CRC32C, end magic).
//!
//! Guarantees: a snapshot file under its final name is complete and
//! durable — it is written as `snapshot.<zxid>.tmp`, fsynced, renamed, and
//! the directory fsynced before [`write_snapshot`] returns. A snapshot is
//! handed back by [`read_snapshot`] only if header, length and CRC check out.
//! Take snapshots only of tree versions whose batches are durable (the
//! published ones), or a restart may show unacknowledged writes.

pub mod trickle;
pub mod trigger;

use crate::fsutil::{self, io_err, IoError};
use crate::log::frame::{u32_at, u64_at};
use crate::Zxid;
use memmap2::Mmap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use trigger::SnapTrigger;

pub const SNAP_MAGIC: [u8; 8] = *b"WARDNSNP";
pub const SNAP_END_MAGIC: [u8; 8] = *b"WSNPEND\0";
pub const SNAP_FORMAT_VERSION: u32 = 1;
pub const SNAP_HEADER_LEN: usize = 48;
pub const SNAP_TRAILER_LEN: usize = 24;

/// The header of a snapshot file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub format_version: u32,
    pub db_id: u64,
    /// The zxid the content is exact at.
    pub zxid: Zxid,
}

/// Errors of snapshot files.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{}: the snapshot writer failed: {source}", path.display())]
    Writer {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {len} bytes is too short for a snapshot", path.display())]
    Short { path: PathBuf, len: u64 },
    #[error("{}: bad header at offset 0: {reason}", path.display())]
    Header { path: PathBuf, reason: &'static str },
    #[error("{}: bad trailer at offset {offset}: {reason}", path.display())]
    Trailer {
        path: PathBuf,
        offset: u64,
        reason: &'static str,
    },
    #[error("{}: content CRC mismatch (stored {stored:#010x}, computed {computed:#010x})", path.display())]
    ContentCrc {
        path: PathBuf,
        stored: u32,
        computed: u32,
    },
    #[error("{}: name says zxid {name_zxid:#x}, header says {header_zxid:#x}", path.display())]
    NameMismatch {
        path: PathBuf,
        name_zxid: Zxid,
        header_zxid: Zxid,
    },
}

/// What [`write_snapshot`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotWritten {
    pub path: PathBuf,
    pub zxid: Zxid,
    pub content_bytes: u64,
    pub file_bytes: u64,
}

/// A verified snapshot, its content mapped read-only.
#[derive(Debug)]
pub struct SnapshotImage {
    pub path: PathBuf,
    pub header: SnapshotHeader,
    map: Mmap,
}

impl SnapshotImage {
    pub fn zxid(&self) -> Zxid {
        self.header.zxid
    }

    /// The bytes the writer produced, CRC-verified.
    pub fn content(&self) -> &[u8] {
        &self.map[SNAP_HEADER_LEN..self.map.len() - SNAP_TRAILER_LEN]
    }
}

/// The snapshot directory under `data_dir`.
pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    fsutil::version_dir(data_dir)
}

/// `snapshot.<hex>` files of `data_dir`, oldest first.
pub fn list_snapshots(data_dir: &Path) -> Result<Vec<(Zxid, PathBuf)>, IoError> {
    let dir = snapshot_dir(data_dir);
    fsutil::list_zxid_files(&dir, "snapshot").map_err(io_err(&dir, "list"))
}

fn encode_header(h: &SnapshotHeader) -> [u8; SNAP_HEADER_LEN] {
    let mut b = [0u8; SNAP_HEADER_LEN];
    b[0..8].copy_from_slice(&SNAP_MAGIC);
    b[8..12].copy_from_slice(&h.format_version.to_le_bytes());
    b[12..16].copy_from_slice(&(SNAP_HEADER_LEN as u32).to_le_bytes());
    b[16..24].copy_from_slice(&h.db_id.to_le_bytes());
    b[24..32].copy_from_slice(&h.zxid.to_le_bytes());
    let crc = crc32c::crc32c(&b[..SNAP_HEADER_LEN - 4]);
    b[SNAP_HEADER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes a snapshot header; the reason when it is not one.
pub fn decode_header(b: &[u8]) -> Result<SnapshotHeader, &'static str> {
    if b.len() < SNAP_HEADER_LEN {
        return Err("too short");
    }
    if b[0..8] != SNAP_MAGIC {
        return Err("bad magic (not a Warden snapshot)");
    }
    if crc32c::crc32c(&b[..SNAP_HEADER_LEN - 4]) != u32_at(b, SNAP_HEADER_LEN - 4) {
        return Err("header checksum mismatch");
    }
    let format_version = u32_at(b, 8);
    if format_version != SNAP_FORMAT_VERSION || u32_at(b, 12) as usize != SNAP_HEADER_LEN {
        return Err("unsupported format version");
    }
    Ok(SnapshotHeader {
        format_version,
        db_id: u64_at(b, 16),
        zxid: u64_at(b, 24),
    })
}

/// A writer that counts and checksums what passes through.
struct Checksummed<W: Write> {
    inner: W,
    crc: u32,
    len: u64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `snapshot.<zxid>` atomically: `content` streams the serialised
/// tree into the writer it is given. Blocking; run it off the sequencer.
pub fn write_snapshot<F>(
    data_dir: &Path,
    db_id: u64,
    zxid: Zxid,
    content: F,
) -> Result<SnapshotWritten, SnapshotError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let dir = snapshot_dir(data_dir);
    fs::create_dir_all(&dir).map_err(io_err(&dir, "create directory"))?;
    let name = fsutil::zxid_name("snapshot", zxid);
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let result = write_tmp(&tmp, db_id, zxid, content);
    let (content_bytes, file_bytes) = match result {
        Ok(sizes) => sizes,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    fs::rename(&tmp, &path).map_err(io_err(&path, "rename snapshot to"))?;
    fsutil::fsync_dir(&dir).map_err(io_err(&dir, "fsync directory"))?;
    Ok(SnapshotWritten {
        path,
        zxid,
        content_bytes,
        file_bytes,
    })
}

fn write_tmp<F>(tmp: &Path, db_id: u64, zxid: Zxid, content: F) -> Result<(u64, u64), SnapshotError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(io_err(tmp, "create"))?;
    let mut out = BufWriter::with_capacity(1 << 20, trickle::TrickleFile::new(file));
    let header = SnapshotHeader {
        format_version: SNAP_FORMAT_VERSION,
        db_id,
        zxid,
    };
    out.write_all(&encode_header(&header))
        .map_err(io_err(tmp, "write"))?;
    let mut body = Checksummed {
        inner: out,
        crc: 0,
        len: 0,
    };
    content(&mut body).map_err(|source| SnapshotError::Writer {
        path: tmp.to_path_buf(),
        source,
    })?;
    let Checksummed {
        inner: mut out,
        crc,
        len,
    } = body;
    let mut trailer = [0u8; SNAP_TRAILER_LEN];
    trailer[0..8].copy_from_slice(&len.to_le_bytes());
    trailer[8..12].copy_from_slice(&crc.to_le_bytes());
    trailer[16..24].copy_from_slice(&SNAP_END_MAGIC);
    out.write_all(&trailer).map_err(io_err(tmp, "write"))?;
    let file = out
        .into_inner()
        .map_err(|e| io_err(tmp, "write")(e.into_error()))?
        .into_file();
    file.sync_all().map_err(io_err(tmp, "fsync"))?;
    Ok((len, len + (SNAP_HEADER_LEN + SNAP_TRAILER_LEN) as u64))
}

/// Reads and verifies a snapshot file.
pub fn read_snapshot(path: &Path) -> Result<SnapshotImage, SnapshotError> {
    let file = File::open(path).map_err(io_err(path, "open"))?;
    let len = file.metadata().map_err(io_err(path, "stat"))?.len();
    if len < (SNAP_HEADER_LEN + SNAP_TRAILER_LEN) as u64 {
        return Err(SnapshotError::Short {
            path: path.to_path_buf(),
            len,
        });
    }
    // SAFETY: snapshot files are never written after their rename.
    let map = unsafe { Mmap::map(&file) }.map_err(io_err(path, "mmap"))?;
    let header = decode_header(&map).map_err(|reason| SnapshotError::Header {
        path: path.to_path_buf(),
        reason,
    })?;
    let trailer_at = map.len() - SNAP_TRAILER_LEN;
    let trailer = &map[trailer_at..];
    let bad_trailer = |reason| SnapshotError::Trailer {
        path: path.to_path_buf(),
        offset: trailer_at as u64,
        reason,
    };
    if trailer[16..24] != SNAP_END_MAGIC {
        return Err(bad_trailer("no end magic (incomplete file)"));
    }
    if u64_at(trailer, 0) != (trailer_at - SNAP_HEADER_LEN) as u64 {
        return Err(bad_trailer("content length does not match the file size"));
    }
    let stored = u32_at(trailer, 8);
    let computed = crc32c::crc32c(&map[SNAP_HEADER_LEN..trailer_at]);
    if stored != computed {
        return Err(SnapshotError::ContentCrc {
            path: path.to_path_buf(),
            stored,
            computed,
        });
    }
    let name_zxid = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| fsutil::parse_zxid_name(n, "snapshot"));
    if let Some(name_zxid) = name_zxid.filter(|&z| z != header.zxid) {
        return Err(SnapshotError::NameMismatch {
            path: path.to_path_buf(),
            name_zxid,
            header_zxid: header.zxid,
        });
    }
    Ok(SnapshotImage {
        path: path.to_path_buf(),
        header,
        map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    fn write(dir: &Path, zxid: Zxid, body: &[u8]) -> SnapshotWritten {
        write_snapshot(dir, 3, zxid, |w| w.write_all(body)).unwrap()
    }

    #[test]
    fn write_then_read_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let w = write(tmp.path(), 0x2a, b"the tree");
        assert_eq!(w.path.file_name().unwrap(), "snapshot.2a");
        assert_eq!(w.content_bytes, 8);
        assert_eq!(fs::metadata(&w.path).unwrap().len(), w.file_bytes);
        let image = read_snapshot(&w.path).unwrap();
        assert_eq!(
            (image.zxid(), image.header.db_id, image.content()),
            (0x2a, 3, &b"the tree"[..])
        );
        assert!(
            fsutil::list_matching(&snapshot_dir(tmp.path()), "snapshot", ".tmp")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn damage_anywhere_is_detected() {
        let tmp = tempfile::tempdir().unwrap();
        let w = write(tmp.path(), 7, &[5u8; 1000]);
        let file_len = w.file_bytes;
        for (at, kind) in [(3u64, "header"), (500, "crc"), (file_len - 1, "trailer")] {
            let copy = tmp.path().join("copy");
            fs::copy(&w.path, &copy).unwrap();
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&copy)
                .unwrap();
            let mut b = [0u8];
            f.read_exact_at(&mut b, at).unwrap();
            f.write_all_at(&[b[0] ^ 0x40], at).unwrap();
            let err = read_snapshot(&copy).unwrap_err();
            let ok = match kind {
                "header" => matches!(err, SnapshotError::Header { .. }),
                "crc" => matches!(err, SnapshotError::ContentCrc { .. }),
                _ => matches!(err, SnapshotError::Trailer { .. }),
            };
            assert!(ok, "{kind}: {err}");
        }
        let f = OpenOptions::new().write(true).open(&w.path).unwrap();
        f.set_len(file_len - 10).unwrap();
        assert!(matches!(
            read_snapshot(&w.path),
            Err(SnapshotError::Trailer { .. })
        ));
    }

    #[test]
    fn a_failing_writer_leaves_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let err = write_snapshot(tmp.path(), 0, 9, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("tree serialiser failed"))
        })
        .unwrap_err();
        assert!(matches!(err, SnapshotError::Writer { .. }), "{err}");
        assert!(fs::read_dir(snapshot_dir(tmp.path()))
            .unwrap()
            .next()
            .is_none());
    }
}
