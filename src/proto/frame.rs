//! Splitting a connection's receive buffer into length-prefixed frames.
//!
//! Every ZooKeeper client message is a 4-byte big-endian length followed by
//! that many bytes. ZooKeeper refuses (and closes the connection on) a length
//! that is negative or greater than `jute.maxbuffer` (`NIOServerCnxn.readLength`);
//! a length equal to it is accepted. The maximum is a parameter, never a
//! global, so each server (and each test) picks its own.
//!
//! Guarantees: [`next_frame`] never panics, does not copy (the frame is split
//! off the receive buffer), reserves at most room for one announced frame
//! (so at most `max_len` bytes), and consumes bytes only when it returns a
//! complete frame. Note that a four-letter word (`ruok`, ...) read as a length
//! is far above any sane maximum: check for those before splitting frames.

use super::jute::DecodeError;
use bytes::{Buf, Bytes, BytesMut};

/// ZooKeeper's default `jute.maxbuffer`: 0xfffff bytes.
pub const DEFAULT_MAX_FRAME: usize = 0xfffff;

/// Takes the next complete frame body (without its length) off the front of
/// `buf`. `Ok(None)` means more bytes are needed; an error means the peer sent
/// a negative or oversized length and the connection must be closed.
pub fn next_frame(buf: &mut BytesMut, max_len: usize) -> Result<Option<Bytes>, DecodeError> {
    let Some(len) = peek_len(buf, max_len)? else {
        return Ok(None);
    };
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// The frame length announced in the first four bytes of `buf`, if there
/// are four (nothing is consumed); a negative or oversized one is an error.
/// For readers that split frames in place in a slice of their own.
pub fn peek_len(buf: &[u8], max_len: usize) -> Result<Option<usize>, DecodeError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let mut raw = [0u8; 4];
    raw.copy_from_slice(prefix);
    let raw = i32::from_be_bytes(raw);
    let len = usize::try_from(raw).map_err(|_| DecodeError::NegativeLength(raw))?;
    if len > max_len {
        return Err(DecodeError::FrameTooLarge { len, max: max_len });
    }
    Ok(Some(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_complete_frames_and_waits_for_partial_ones() {
        let mut buf = BytesMut::from(&[0, 0, 0, 2, b'h', b'i', 0, 0, 0, 3, b'x'][..]);
        let f = next_frame(&mut buf, DEFAULT_MAX_FRAME);
        assert_eq!(f, Ok(Some(Bytes::from_static(b"hi"))));
        assert_eq!(next_frame(&mut buf, DEFAULT_MAX_FRAME), Ok(None));
        assert_eq!(buf.len(), 5, "a partial frame is left in place");
        buf.extend_from_slice(b"yz");
        let f = next_frame(&mut buf, DEFAULT_MAX_FRAME);
        assert_eq!(f, Ok(Some(Bytes::from_static(b"xyz"))));
        assert!(buf.is_empty());
    }

    #[test]
    fn short_prefix_is_incomplete() {
        let mut buf = BytesMut::from(&[0, 0, 0][..]);
        assert_eq!(next_frame(&mut buf, 10), Ok(None));
        assert_eq!(buf.len(), 3);
    }

    #[test]
    fn empty_frame_is_a_frame() {
        let mut buf = BytesMut::from(&[0, 0, 0, 0][..]);
        assert_eq!(next_frame(&mut buf, 10), Ok(Some(Bytes::new())));
    }

    #[test]
    fn negative_length_is_an_error() {
        let mut buf = BytesMut::from(&[255, 255, 255, 255][..]);
        assert_eq!(
            next_frame(&mut buf, 10),
            Err(DecodeError::NegativeLength(-1))
        );
    }

    #[test]
    fn length_at_the_maximum_is_accepted_above_is_refused() {
        let mut buf = BytesMut::from(&[0, 0, 0, 10][..]);
        assert_eq!(next_frame(&mut buf, 10), Ok(None));
        let mut buf = BytesMut::from(&[0, 0, 0, 11][..]);
        assert_eq!(
            next_frame(&mut buf, 10),
            Err(DecodeError::FrameTooLarge { len: 11, max: 10 })
        );
    }

    #[test]
    fn four_letter_word_is_too_large() {
        let mut buf = BytesMut::from(&b"ruok"[..]);
        assert!(matches!(
            next_frame(&mut buf, DEFAULT_MAX_FRAME),
            Err(DecodeError::FrameTooLarge { .. })
        ));
    }
}
