//! What `warden log-dump FILE` and `warden snap-dump FILE` show, as data:
//! the server crate renders it (human or `--json`) and decodes payloads.
//!
//! Unlike recovery, dumping never refuses: damage is part of the output
//! (a record with `crc_ok: false`, how the file ends), and only failing to
//! read the file at all is an error. Dumping never writes.

use crate::fsutil::{self, io_err, IoError};
use crate::log::frame::{
    frame_len, read_frame, u32_at, u64_at, BadFrame, Frame, LogHeader, FRAME_HEADER_LEN, HEADER_LEN,
};
use crate::snapshot::{self, SnapshotHeader, SNAP_HEADER_LEN, SNAP_TRAILER_LEN};
use crate::Zxid;
use std::fs;
use std::path::{Path, PathBuf};

/// One frame of a log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecordInfo {
    pub offset: u64,
    pub zxid: Zxid,
    pub payload_len: u32,
    pub crc_ok: bool,
}

/// How the readable part of a log file ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DumpEnd {
    /// Zeros to the end of the file (the preallocated, unwritten part).
    Zeros { offset: u64 },
    /// The last frame ends exactly at the end of the file.
    EndOfFile,
    /// Zeros, then non-zero bytes again.
    DataAfterZeros { offset: u64, next_nonzero: u64 },
    /// Bytes that are no frame (absurd length, partial frame).
    Unreadable { offset: u64, reason: String },
}

/// A whole log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogDump {
    pub path: PathBuf,
    pub file_size: u64,
    /// The header, or why it is unusable.
    pub header: Result<LogHeader, String>,
    pub records: Vec<LogRecordInfo>,
    pub end: DumpEnd,
}

/// Lists the frames of a log file; see [`dump_log_with`] for payloads.
pub fn dump_log(path: &Path, max_record_bytes: usize) -> Result<LogDump, IoError> {
    dump_log_with(path, max_record_bytes, |_, _| {})
}

/// Lists the frames of a log file, calling `each` with every frame and its
/// payload (for the server crate to decode the txn).
pub fn dump_log_with(
    path: &Path,
    max_record_bytes: usize,
    mut each: impl FnMut(&LogRecordInfo, &[u8]),
) -> Result<LogDump, IoError> {
    let bytes = fs::read(path).map_err(io_err(path, "read"))?;
    let header = LogHeader::decode(&bytes).map_err(|e| e.to_string());
    let mut records = Vec::new();
    let mut pos = HEADER_LEN.min(bytes.len());
    let end = loop {
        if pos >= bytes.len() {
            break DumpEnd::EndOfFile;
        }
        let (info, payload, next) = match read_frame(&bytes, pos, max_record_bytes) {
            Frame::Record {
                zxid,
                payload,
                next,
            } => (
                LogRecordInfo {
                    offset: pos as u64,
                    zxid,
                    payload_len: payload.len() as u32,
                    crc_ok: true,
                },
                payload,
                next,
            ),
            Frame::Bad(BadFrame::Crc { .. }) => {
                let len = u32_at(&bytes, pos) as usize;
                let payload = &bytes[pos + FRAME_HEADER_LEN..pos + FRAME_HEADER_LEN + len];
                let info = LogRecordInfo {
                    offset: pos as u64,
                    zxid: u64_at(&bytes, pos + 8),
                    payload_len: len as u32,
                    crc_ok: false,
                };
                (info, payload, pos + frame_len(len))
            }
            Frame::Zeros => break zeros_end(&bytes, pos),
            Frame::Bad(other) => {
                break DumpEnd::Unreadable {
                    offset: pos as u64,
                    reason: other.to_string(),
                }
            }
        };
        each(&info, payload);
        records.push(info);
        pos = next;
    };
    Ok(LogDump {
        path: path.to_path_buf(),
        file_size: bytes.len() as u64,
        header,
        records,
        end,
    })
}

fn zeros_end(bytes: &[u8], pos: usize) -> DumpEnd {
    let rest = &bytes[pos..];
    match rest.iter().position(|&b| b != 0) {
        None => DumpEnd::Zeros { offset: pos as u64 },
        Some(n) => DumpEnd::DataAfterZeros {
            offset: pos as u64,
            next_nonzero: (pos + n) as u64,
        },
    }
}

/// A snapshot file's header and integrity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub path: PathBuf,
    pub file_size: u64,
    pub header: Option<SnapshotHeader>,
    pub content_bytes: u64,
    /// Header, trailer and content CRC all verified.
    pub valid: bool,
    /// Why not, when not.
    pub error: Option<String>,
}

/// Describes a snapshot file (the server crate may decode the content
/// itself with [`crate::snapshot::read_snapshot`]).
pub fn dump_snapshot(path: &Path) -> Result<SnapshotInfo, IoError> {
    let file_size = fs::metadata(path).map_err(io_err(path, "stat"))?.len();
    let overhead = (SNAP_HEADER_LEN + SNAP_TRAILER_LEN) as u64;
    let verdict = snapshot::read_snapshot(path);
    let header = match &verdict {
        Ok(image) => Some(image.header),
        Err(_) => read_header(path),
    };
    Ok(SnapshotInfo {
        path: path.to_path_buf(),
        file_size,
        header,
        content_bytes: file_size.saturating_sub(overhead),
        valid: verdict.is_ok(),
        error: verdict.err().map(|e| e.to_string()),
    })
}

fn read_header(path: &Path) -> Option<SnapshotHeader> {
    use std::io::Read;
    let mut buf = [0u8; SNAP_HEADER_LEN];
    fs::File::open(path).ok()?.read_exact(&mut buf).ok()?;
    snapshot::decode_header(&buf).ok()
}

/// Whether a path looks like a log or a snapshot by its name, for a CLI
/// that takes either: `Some(("log", zxid))`.
pub fn classify_name(path: &Path) -> Option<(&'static str, Zxid)> {
    let name = path.file_name()?.to_str()?;
    fsutil::parse_zxid_name(name, "log")
        .map(|z| ("log", z))
        .or_else(|| fsutil::parse_zxid_name(name, "snapshot").map(|z| ("snapshot", z)))
}
