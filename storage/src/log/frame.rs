//! The on-disk format of a txn log file: a 64-byte header, then records
//! framed as `len u32 | crc32c u32 | zxid u64 | payload | zero pad to 8`,
//! all little-endian, then zeros to the preallocated end.
//!
//! Guarantees: a frame is accepted only if its length is within bounds, it
//! fits in the file, its CRC32C (over len, zxid and payload) matches and its
//! zxid is not 0. Sixteen zero bytes where a frame would start are the end of
//! the written part (a real frame never has zxid 0).

use crate::Zxid;
use std::fmt;

pub const LOG_MAGIC: [u8; 8] = *b"WARDNLOG";
pub const LOG_FORMAT_VERSION: u32 = 1;
pub const HEADER_LEN: usize = 64;
pub const FRAME_HEADER_LEN: usize = 16;
pub const FRAME_ALIGN: usize = 8;

/// The header at offset 0 of every log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogHeader {
    pub format_version: u32,
    /// Set by the operator (or 0); a file from another database is refused.
    pub db_id: u64,
    /// The zxid of the first record, also the file's name.
    pub first_zxid: Zxid,
    /// The preallocated size when created.
    pub created_size: u64,
}

/// Why a log header is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("file shorter than the {HEADER_LEN}-byte header")]
    Short,
    #[error("header is all zeros (the file was never written)")]
    Zeros,
    #[error("bad magic (not a Warden txn log)")]
    Magic,
    #[error("unsupported format version {0}")]
    Version(u32),
    #[error("header checksum mismatch")]
    Crc,
}

impl LogHeader {
    pub fn new(db_id: u64, first_zxid: Zxid, created_size: u64) -> LogHeader {
        LogHeader {
            format_version: LOG_FORMAT_VERSION,
            db_id,
            first_zxid,
            created_size,
        }
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&LOG_MAGIC);
        b[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.db_id.to_le_bytes());
        b[24..32].copy_from_slice(&self.first_zxid.to_le_bytes());
        b[32..40].copy_from_slice(&self.created_size.to_le_bytes());
        let crc = crc32c::crc32c(&b[..HEADER_LEN - 4]);
        b[HEADER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub fn decode(bytes: &[u8]) -> Result<LogHeader, HeaderError> {
        if bytes.len() < HEADER_LEN {
            return Err(HeaderError::Short);
        }
        let b = &bytes[..HEADER_LEN];
        if crate::fsutil::all_zero(b) {
            return Err(HeaderError::Zeros);
        }
        if b[0..8] != LOG_MAGIC {
            return Err(HeaderError::Magic);
        }
        if crc32c::crc32c(&b[..HEADER_LEN - 4]) != u32_at(b, HEADER_LEN - 4) {
            return Err(HeaderError::Crc);
        }
        let format_version = u32_at(b, 8);
        if format_version != LOG_FORMAT_VERSION || u32_at(b, 12) as usize != HEADER_LEN {
            return Err(HeaderError::Version(format_version));
        }
        Ok(LogHeader {
            format_version,
            db_id: u64_at(b, 16),
            first_zxid: u64_at(b, 24),
            created_size: u64_at(b, 32),
        })
    }
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Bytes one record of `payload_len` bytes takes, padding included.
pub fn frame_len(payload_len: usize) -> usize {
    (FRAME_HEADER_LEN + payload_len + FRAME_ALIGN - 1) & !(FRAME_ALIGN - 1)
}

/// CRC32C over the length, the zxid and the payload.
pub fn frame_crc(len: u32, zxid: Zxid, payload: &[u8]) -> u32 {
    let mut head = [0u8; 12];
    head[..4].copy_from_slice(&len.to_le_bytes());
    head[4..].copy_from_slice(&zxid.to_le_bytes());
    crc32c::crc32c_append(crc32c::crc32c(&head), payload)
}

/// Writes one frame into `dst`, exactly [`frame_len`] bytes long.
pub(crate) fn encode_frame(dst: &mut [u8], zxid: Zxid, payload: &[u8]) {
    assert_eq!(dst.len(), frame_len(payload.len()), "frame slot size");
    assert_ne!(zxid, 0, "zxid 0 is never a record");
    let len = u32::try_from(payload.len()).expect("payload length fits u32");
    let end = FRAME_HEADER_LEN + payload.len();
    dst[0..4].copy_from_slice(&len.to_le_bytes());
    dst[4..8].copy_from_slice(&frame_crc(len, zxid, payload).to_le_bytes());
    dst[8..16].copy_from_slice(&zxid.to_le_bytes());
    dst[FRAME_HEADER_LEN..end].copy_from_slice(payload);
    dst[end..].fill(0);
}

/// Why the bytes at an offset are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadFrame {
    /// The frame runs past the end of the file.
    Partial,
    /// The length field exceeds the record bound.
    TooLarge(u32),
    Crc {
        stored: u32,
        computed: u32,
    },
    ZeroZxid,
}

impl fmt::Display for BadFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadFrame::Partial => write!(f, "partial frame at the end of the file"),
            BadFrame::TooLarge(len) => write!(f, "length field {len} exceeds the record bound"),
            BadFrame::Crc { stored, computed } => {
                write!(
                    f,
                    "CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
            BadFrame::ZeroZxid => write!(f, "frame with zxid 0"),
        }
    }
}

/// What is at one offset of a log file.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Record {
        zxid: Zxid,
        payload: &'a [u8],
        /// Offset of the next frame.
        next: usize,
    },
    /// Sixteen zero bytes (or a zero remainder shorter than that).
    Zeros,
    Bad(BadFrame),
}

/// Reads the frame at `at` of `buf` (a whole file).
pub fn read_frame(buf: &[u8], at: usize, max_payload: usize) -> Frame<'_> {
    let rest = &buf[at.min(buf.len())..];
    if rest.len() < FRAME_HEADER_LEN {
        return if crate::fsutil::all_zero(rest) {
            Frame::Zeros
        } else {
            Frame::Bad(BadFrame::Partial)
        };
    }
    if crate::fsutil::all_zero(&rest[..FRAME_HEADER_LEN]) {
        return Frame::Zeros;
    }
    let len = u32_at(rest, 0);
    let stored = u32_at(rest, 4);
    let zxid = u64_at(rest, 8);
    if len as usize > max_payload {
        return Frame::Bad(BadFrame::TooLarge(len));
    }
    let total = frame_len(len as usize);
    if total > rest.len() {
        return Frame::Bad(BadFrame::Partial);
    }
    let payload = &rest[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len as usize];
    let computed = frame_crc(len, zxid, payload);
    if computed != stored {
        return Frame::Bad(BadFrame::Crc { stored, computed });
    }
    if zxid == 0 {
        return Frame::Bad(BadFrame::ZeroZxid);
    }
    Frame::Record {
        zxid,
        payload,
        next: at + total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_detects_damage() {
        let h = LogHeader::new(7, 0x1_0000_0001, 1 << 20);
        let mut b = h.encode().to_vec();
        assert_eq!(LogHeader::decode(&b), Ok(h));
        b[20] ^= 1;
        assert_eq!(LogHeader::decode(&b), Err(HeaderError::Crc));
        assert_eq!(LogHeader::decode(&[0u8; 64]), Err(HeaderError::Zeros));
        assert_eq!(LogHeader::decode(&[0u8; 10]), Err(HeaderError::Short));
    }

    #[test]
    fn frames_round_trip_and_fail_closed() {
        let mut buf = vec![0u8; 64];
        let n = frame_len(5);
        assert_eq!(n, 24);
        encode_frame(&mut buf[..n], 9, b"hello");
        assert_eq!(
            read_frame(&buf, 0, 100),
            Frame::Record {
                zxid: 9,
                payload: b"hello",
                next: 24
            }
        );
        assert_eq!(read_frame(&buf, 24, 100), Frame::Zeros);
        assert_eq!(read_frame(&buf, 0, 4), Frame::Bad(BadFrame::TooLarge(5)));
        assert_eq!(
            read_frame(&buf[..20], 0, 100),
            Frame::Bad(BadFrame::Partial)
        );
        buf[17] ^= 0x10;
        assert!(matches!(
            read_frame(&buf, 0, 100),
            Frame::Bad(BadFrame::Crc { .. })
        ));
    }
}
