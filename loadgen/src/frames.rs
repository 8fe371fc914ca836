//! Reply frames cut out of whatever a non-blocking read returned, and what
//! each frame is, from its header alone.
//!
//! Why: the watch scenario's receive loop reads every ready socket into one
//! reusable buffer per executor. A read may end inside a frame (or inside a
//! frame's length prefix), and a read may hold many frames. Decoding each
//! reply in full (stat, data, path) is work the loop does not need: a
//! notification is recognised by its xid (-1) and its event type, a reply
//! by its xid and error code.
//!
//! Guarantees:
//! - [`Reassembly::feed`] hands out every complete frame body exactly once,
//!   in stream order, whatever the read boundaries; only an incomplete tail
//!   is copied (kept for the next read), and it is never larger than one
//!   frame (`4 + max` bytes);
//! - a negative or oversized length prefix, or a frame too short for its
//!   header, is a protocol error (the session is dropped), never a panic.

use crate::conn::ConnError;
use warden::proto::frame::peek_len;
use warden::proto::types::xid;

/// Bytes of a reply header: xid (i32), zxid (i64), err (i32).
const REPLY_HEADER: usize = 16;
/// A notification's header plus its event type and state (both i32).
const NOTIFICATION_HEAD: usize = REPLY_HEADER + 8;
/// A kept tail whose buffer grew beyond this is given back once consumed.
const KEEP_CAPACITY: usize = 64 * 1024;

/// One session's bytes between reads: the start of a frame not yet whole.
#[derive(Debug, Default)]
pub struct Reassembly {
    partial: Vec<u8>,
}

/// What a frame is, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A watch event (xid -1) of this `EventType` value.
    Notification { event: i32 },
    /// A ping reply (xid -2).
    Ping,
    /// The reply to request `xid`, with its error code.
    Reply { xid: i32, err: i32 },
}

impl Reassembly {
    /// Splits `bytes` (just read, following whatever earlier reads left) into
    /// frame bodies (without their length prefix), calling `each` on every
    /// complete one in order; keeps an incomplete tail for the next call.
    /// Stops at the first error (from a length prefix or from `each`).
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        max: usize,
        mut each: impl FnMut(&[u8]) -> Result<(), ConnError>,
    ) -> Result<(), ConnError> {
        if !self.partial.is_empty() {
            // Complete the frame begun by an earlier read, copying only it.
            let take = 4usize.saturating_sub(self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            let Some(len) = frame_len(&self.partial, max)? else {
                return Ok(());
            };
            let take = (4 + len - self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.partial.len() < 4 + len {
                return Ok(());
            }
            each(&self.partial[4..])?;
            self.partial.clear();
            if self.partial.capacity() > KEEP_CAPACITY {
                self.partial = Vec::new();
            }
        }
        let mut at = 0;
        while let Some(len) = frame_len(&bytes[at..], max)? {
            let end = at + 4 + len;
            if end > bytes.len() {
                break;
            }
            each(&bytes[at + 4..end])?;
            at = end;
        }
        self.partial.extend_from_slice(&bytes[at..]);
        Ok(())
    }

    /// Bytes kept from an incomplete frame.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.partial.len()
    }
}

/// The length in the first four bytes of `buf`, if there are four.
fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, ConnError> {
    peek_len(buf, max).map_err(|e| ConnError::Protocol(format!("reply frame: {e}")))
}

fn i32_at(body: &[u8], at: usize) -> i32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&body[at..at + 4]);
    i32::from_be_bytes(raw)
}

/// What `body` (one frame without its length) is.
pub fn classify(body: &[u8]) -> Result<Frame, ConnError> {
    if body.len() < REPLY_HEADER {
        return Err(ConnError::Protocol(format!(
            "reply of {} bytes is shorter than its header",
            body.len()
        )));
    }
    match i32_at(body, 0) {
        xid::NOTIFICATION if body.len() < NOTIFICATION_HEAD => Err(ConnError::Protocol(format!(
            "notification of {} bytes has no event",
            body.len()
        ))),
        xid::NOTIFICATION => Ok(Frame::Notification {
            event: i32_at(body, REPLY_HEADER),
        }),
        xid::PING => Ok(Frame::Ping),
        x => Ok(Frame::Reply {
            xid: x,
            err: i32_at(body, 12),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;
    use warden::proto::encode::{encode_notification, encode_reply};
    use warden::proto::responses::{ReplyHeader, Response};
    use warden::proto::types::{EventType, KeeperState, OpCode, Stat, WatcherEvent};

    const MAX: usize = 1 << 20;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    /// Feeds `stream` cut at `cuts`; returns the bodies and what is kept.
    fn split(stream: &[u8], cuts: &[usize]) -> Result<(Vec<Vec<u8>>, usize), String> {
        let mut r = Reassembly::default();
        let mut got = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain(std::iter::once(&stream.len())) {
            r.feed(&stream[from..to], MAX, |b| {
                got.push(b.to_vec());
                Ok(())
            })
            .map_err(|e| e.to_string())?;
            from = to;
        }
        Ok((got, r.pending()))
    }

    #[test]
    fn frames_come_out_whole_whatever_the_read_boundaries() {
        let bodies: Vec<Vec<u8>> = vec![b"first".to_vec(), vec![], vec![7; 300], b"xyz".to_vec()];
        let stream: Vec<u8> = bodies.iter().flat_map(|b| frame(b)).collect();
        let n = stream.len();
        // (name, read boundaries)
        let cases: Vec<(&str, Vec<usize>)> = vec![
            ("one read", vec![]),
            ("inside the first length", vec![2]),
            ("right after a length", vec![4]),
            ("inside a body", vec![6]),
            ("on a frame boundary", vec![9]),
            ("an empty frame alone", vec![9, 13]),
            ("byte by byte", (1..n).collect()),
            ("every 5 bytes", (5..n).step_by(5).collect()),
            ("empty reads between", vec![3, 3, 3, 100, 100]),
        ];
        for (name, cuts) in cases {
            let (got, pending) = split(&stream, &cuts).unwrap();
            assert_eq!(got, bodies, "{name}");
            assert_eq!(pending, 0, "{name}");
        }
    }

    #[test]
    fn an_incomplete_tail_waits_for_its_bytes() {
        // (name, stream, frames out, bytes kept)
        let whole = frame(b"abcdef");
        let cases: Vec<(&str, Vec<u8>, usize, usize)> = vec![
            ("half a length", whole[..2].to_vec(), 0, 2),
            ("length only", whole[..4].to_vec(), 0, 4),
            ("part of a body", whole[..7].to_vec(), 0, 7),
            (
                "one and a bit",
                [whole.clone(), whole[..5].to_vec()].concat(),
                1,
                5,
            ),
        ];
        for (name, stream, frames, kept) in cases {
            for cuts in [vec![], vec![1]] {
                let (got, pending) = split(&stream, &cuts).unwrap();
                assert_eq!((got.len(), pending), (frames, kept), "{name} {cuts:?}");
            }
        }
    }

    #[test]
    fn bad_lengths_are_protocol_errors() {
        let cases: Vec<(&str, Vec<u8>, Vec<usize>)> = vec![
            ("negative", (-1i32).to_be_bytes().to_vec(), vec![]),
            (
                "too large",
                ((MAX + 1) as i32).to_be_bytes().to_vec(),
                vec![],
            ),
            (
                "too large, split",
                ((MAX + 1) as i32).to_be_bytes().to_vec(),
                vec![2],
            ),
            (
                "after a good frame",
                [frame(b"ok"), (-5i32).to_be_bytes().to_vec()].concat(),
                vec![],
            ),
        ];
        for (name, stream, cuts) in cases {
            let e = split(&stream, &cuts).unwrap_err();
            assert!(
                e.contains("reply frame: negative length")
                    || e.contains("reply frame: frame length 1048577 exceeds the maximum 1048576"),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn a_handler_error_stops_the_split() {
        let stream = [frame(b"a"), frame(b"b")].concat();
        let mut r = Reassembly::default();
        let mut seen = 0;
        let e = r.feed(&stream, MAX, |_| {
            seen += 1;
            Err(ConnError::Closed)
        });
        assert!(matches!(e, Err(ConnError::Closed)));
        assert_eq!(seen, 1);
    }

    /// A reply body as the server encodes it (length prefix removed).
    fn reply(xid: i32, err: i32, body: Response) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_reply(&mut out, ReplyHeader { xid, zxid: 42, err }, &body);
        out[4..].to_vec()
    }

    #[test]
    fn headers_are_classified_like_the_full_decoder_would() {
        let mut out = BytesMut::new();
        encode_notification(
            &mut out,
            &WatcherEvent {
                event_type: EventType::NodeDataChanged,
                state: KeeperState::SyncConnected,
                path: "/w".into(),
            },
        );
        let note = out[4..].to_vec();
        // The codec the old path used agrees on what this frame is.
        assert!(warden::proto::client::decode_reply(OpCode::Notification, &note).is_ok());
        let stat = Response::Stat(Stat::default());
        let cases: Vec<(&str, Vec<u8>, Result<Frame, ()>)> = vec![
            (
                "data changed",
                note.clone(),
                Ok(Frame::Notification { event: 3 }),
            ),
            (
                "ping",
                reply(xid::PING, 0, Response::Empty),
                Ok(Frame::Ping),
            ),
            (
                "reply",
                reply(9, 0, stat.clone()),
                Ok(Frame::Reply { xid: 9, err: 0 }),
            ),
            (
                "error reply",
                reply(10, -101, stat),
                Ok(Frame::Reply { xid: 10, err: -101 }),
            ),
            ("short header", note[..15].to_vec(), Err(())),
            ("notification without event", note[..20].to_vec(), Err(())),
        ];
        for (name, body, want) in cases {
            let got = classify(&body).map_err(|_| ());
            assert_eq!(got, want, "{name}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        ) {
            let mut r = Reassembly::default();
            for c in &chunks {
                let fed = r.feed(c, 256, |b| classify(b).map(|_| ()));
                if fed.is_err() {
                    break;
                }
                prop_assert!(r.pending() <= 4 + 256);
            }
        }
    }
}
