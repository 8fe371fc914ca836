//! Walking the records of one log file and deciding how it ends.
//!
//! The decision is what recovery's promise rests on:
//! - zeros to the end of the file: a clean end;
//! - a bad frame (partial, bad CRC, absurd length, zeros followed by data)
//!   with no valid record anywhere after it: a torn tail, the trace of a
//!   crash mid-write; it may be cut off because nothing after it was ever
//!   acknowledged;
//! - a bad frame *followed by* a valid record: corruption before records
//!   that may have been acknowledged; never cut, always refused;
//! - a valid record whose zxid does not increase: refused.

use super::frame::{read_frame, u32_at, u64_at, Frame, FRAME_ALIGN, FRAME_HEADER_LEN};
use crate::fsutil::nonzero_end;
use crate::Zxid;

/// How a file's records end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    Clean,
    Torn {
        offset: usize,
        /// One past the last non-zero byte of the file (what must be zeroed).
        garbage_end: usize,
        reason: String,
    },
    CorruptBeforeValid {
        offset: usize,
        reason: String,
        valid_at: usize,
    },
    ZxidOrder {
        offset: usize,
        zxid: Zxid,
        previous: Zxid,
    },
}

/// The valid records of one file and how they end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    pub records: u64,
    pub first_zxid: Option<Zxid>,
    pub last_zxid: Option<Zxid>,
    /// Offset just after the last valid record.
    pub end: usize,
    pub stop: Stop,
}

/// Scans `buf` (a whole file) from `start`; `previous` is the last zxid
/// before this file.
pub fn scan_records(buf: &[u8], start: usize, previous: Option<Zxid>, max_payload: usize) -> Scan {
    let mut pos = start;
    let mut last = previous;
    let mut first = None;
    let mut records = 0;
    let stop = loop {
        if pos >= buf.len() {
            break Stop::Clean;
        }
        match read_frame(buf, pos, max_payload) {
            Frame::Record { zxid, next, .. } => {
                if let Some(prev) = last.filter(|&prev| zxid <= prev) {
                    break Stop::ZxidOrder {
                        offset: pos,
                        zxid,
                        previous: prev,
                    };
                }
                first.get_or_insert(zxid);
                last = Some(zxid);
                records += 1;
                pos = next;
            }
            Frame::Zeros => {
                if nonzero_end(&buf[pos..]) == 0 {
                    break Stop::Clean;
                }
                break classify(buf, pos, "zeros followed by data".into(), last, max_payload);
            }
            Frame::Bad(bad) => break classify(buf, pos, bad.to_string(), last, max_payload),
        }
    };
    Scan {
        records,
        first_zxid: first,
        last_zxid: last,
        end: pos,
        stop,
    }
}

fn classify(
    buf: &[u8],
    offset: usize,
    reason: String,
    last: Option<Zxid>,
    max_payload: usize,
) -> Stop {
    match find_valid_after(buf, offset + FRAME_ALIGN, last, max_payload) {
        Some(valid_at) => Stop::CorruptBeforeValid {
            offset,
            reason,
            valid_at,
        },
        None => Stop::Torn {
            offset,
            garbage_end: nonzero_end(buf).max(offset),
            reason,
        },
    }
}

/// The first offset at or after `from` (8-aligned) holding a valid record
/// whose zxid follows `last`.
pub fn find_valid_after(
    buf: &[u8],
    from: usize,
    last: Option<Zxid>,
    max_payload: usize,
) -> Option<usize> {
    let mut q = (from + FRAME_ALIGN - 1) & !(FRAME_ALIGN - 1);
    while q + FRAME_HEADER_LEN <= buf.len() {
        let zxid = u64_at(buf, q + 8);
        let plausible =
            zxid != 0 && last.is_none_or(|l| zxid > l) && u32_at(buf, q) as usize <= max_payload;
        if plausible && matches!(read_frame(buf, q, max_payload), Frame::Record { .. }) {
            return Some(q);
        }
        q += FRAME_ALIGN;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::frame::{encode_frame, frame_len};
    use super::*;

    fn file(records: &[(Zxid, &[u8])], size: usize) -> (Vec<u8>, Vec<usize>) {
        let mut buf = vec![0u8; size];
        let mut offsets = Vec::new();
        let mut pos = 0;
        for (zxid, payload) in records {
            let n = frame_len(payload.len());
            encode_frame(&mut buf[pos..pos + n], *zxid, payload);
            offsets.push(pos);
            pos += n;
        }
        (buf, offsets)
    }

    #[test]
    fn clean_torn_and_corrupt_are_told_apart() {
        let (mut buf, at) = file(&[(1, b"a"), (2, b"bb"), (3, b"ccc")], 256);
        let s = scan_records(&buf, 0, None, 100);
        assert_eq!(
            (s.records, s.last_zxid, s.stop.clone()),
            (3, Some(3), Stop::Clean)
        );

        let mut torn = buf.clone();
        torn[at[2] + 17] ^= 1;
        let s = scan_records(&torn, 0, None, 100);
        assert_eq!(s.records, 2);
        assert!(matches!(s.stop, Stop::Torn { offset, .. } if offset == at[2]));

        buf[at[1] + 16] ^= 1;
        let s = scan_records(&buf, 0, None, 100);
        assert_eq!(
            s.stop,
            Stop::CorruptBeforeValid {
                offset: at[1],
                reason: s.stop_reason(),
                valid_at: at[2]
            }
        );
    }

    #[test]
    fn zxids_must_increase() {
        let (buf, at) = file(&[(5, b"a"), (5, b"b")], 128);
        let s = scan_records(&buf, 0, None, 100);
        assert_eq!(
            s.stop,
            Stop::ZxidOrder {
                offset: at[1],
                zxid: 5,
                previous: 5
            }
        );
        let s = scan_records(&buf, 0, Some(7), 100);
        assert!(matches!(s.stop, Stop::ZxidOrder { offset: 0, .. }));
    }

    impl Scan {
        fn stop_reason(&self) -> String {
            match &self.stop {
                Stop::CorruptBeforeValid { reason, .. } | Stop::Torn { reason, .. } => {
                    reason.clone()
                }
                _ => String::new(),
            }
        }
    }
}
