//! Jute primitives: the bounds-checked reader and the writer every record
//! codec in `proto` is built from.
//!
//! Jute (ZooKeeper's `BinaryInputArchive` / `BinaryOutputArchive`) encodes
//! `int`/`long` as big-endian i32/i64, `boolean` as one byte, `buffer` and
//! `ustring` as an i32 length followed by the bytes (length -1 means null), and
//! `vector` as an i32 count followed by the items (count -1 means null).
//!
//! Guarantees of [`Reader`]:
//! - it never panics and never reads past its slice;
//! - a length or count is checked against the bytes that remain *before*
//!   anything is allocated, so a hostile 4-byte length cannot make us
//!   allocate more than the frame we already hold;
//! - null (`-1`) strings and vectors, and buffers read with [`Reader::read_bytes`],
//!   decode as empty values, because those shared types have no null;
//!   ZooKeeper answers a null path exactly as an empty one (`BadArguments`),
//!   so nothing observable changes. Node data is the exception: null data is
//!   stored and answered as null, so it is read with
//!   [`Reader::read_buffer_opt`] (see `records::read_data`). Other negative
//!   lengths are errors;
//! - a boolean byte is true when non-zero, as Java's `readBoolean`.

use bytes::{BufMut, Bytes, BytesMut};

/// Why a byte sequence is not a valid jute record (or frame).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated record: needed {needed} bytes, {remaining} left")]
    Truncated { needed: usize, remaining: usize },
    #[error("negative length {0}")]
    NegativeLength(i32),
    #[error("length {len} exceeds the {remaining} bytes left")]
    LengthExceedsInput { len: usize, remaining: usize },
    #[error("frame length {len} exceeds the maximum {max}")]
    FrameTooLarge { len: usize, max: usize },
    #[error("string is not valid UTF-8")]
    BadUtf8,
    #[error("unknown opcode {op} (xid {xid})")]
    UnknownOpCode { xid: i32, op: i32 },
    #[error("invalid op type {op} inside a multi request or reply")]
    InvalidMultiOp { op: i32 },
    #[error("unknown error code {0}")]
    UnknownErrorCode(i32),
    #[error("unknown watch event type {0}")]
    UnknownEventType(i32),
    #[error("unknown keeper state {0}")]
    UnknownKeeperState(i32),
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    /// The header was read, the body of a known opcode was not.
    /// ZooKeeper answers such a request with `MarshallingError`.
    #[error("bad body for opcode {} (xid {}): {source}", header.op, header.xid)]
    Body {
        header: super::requests::RequestHeader,
        source: Box<DecodeError>,
    },
}

impl DecodeError {
    /// The request header when it was decoded before the failure: the server
    /// answers those requests (ZUNIMPLEMENTED or MARSHALLINGERROR) instead of
    /// dropping the connection.
    pub fn request_header(&self) -> Option<super::requests::RequestHeader> {
        match self {
            DecodeError::UnknownOpCode { xid, op } => {
                Some(super::requests::RequestHeader { xid: *xid, op: *op })
            }
            DecodeError::Body { header, .. } => Some(*header),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, DecodeError>;

/// Size of the smallest encodable item, used to bound vector counts.
pub const MIN_STRING: usize = 4;

/// A cursor over one record's bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Fails with `TrailingBytes` unless every byte was consumed.
    pub fn finish(&self) -> Result<()> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated {
                needed: n,
                remaining: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn read_i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.take_array()?))
    }

    pub fn read_i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.take_array()?))
    }

    pub fn read_u8(&mut self) -> Result<u8> {
        Ok(self.take_array::<1>()?[0])
    }

    pub fn read_bool(&mut self) -> Result<bool> {
        Ok(self.take_array::<1>()?[0] != 0)
    }

    /// A length or count: `None` for -1 (null); an error when negative or
    /// when `len * min_item` bytes cannot possibly remain.
    fn read_len(&mut self, min_item: usize) -> Result<Option<usize>> {
        let raw = self.read_i32()?;
        if raw == -1 {
            return Ok(None);
        }
        let len = usize::try_from(raw).map_err(|_| DecodeError::NegativeLength(raw))?;
        if len.saturating_mul(min_item.max(1)) > self.buf.len() {
            return Err(DecodeError::LengthExceedsInput {
                len,
                remaining: self.buf.len(),
            });
        }
        Ok(Some(len))
    }

    /// A `buffer`, borrowed; `None` when null.
    pub fn read_buffer_opt(&mut self) -> Result<Option<&'a [u8]>> {
        match self.read_len(1)? {
            None => Ok(None),
            Some(n) => self.take(n).map(Some),
        }
    }

    /// A `buffer` copied into `Bytes`; null decodes as empty.
    pub fn read_bytes(&mut self) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(
            self.read_buffer_opt()?.unwrap_or_default(),
        ))
    }

    /// A `ustring`; `None` when null.
    pub fn read_ustring_opt(&mut self) -> Result<Option<String>> {
        match self.read_buffer_opt()? {
            None => Ok(None),
            Some(b) => std::str::from_utf8(b)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| DecodeError::BadUtf8),
        }
    }

    /// A `ustring` borrowed from the input; null decodes as empty.
    pub fn read_str(&mut self) -> Result<&'a str> {
        match self.read_buffer_opt()? {
            None => Ok(""),
            Some(b) => std::str::from_utf8(b).map_err(|_| DecodeError::BadUtf8),
        }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// A `ustring`; null decodes as empty.
    pub fn read_ustring(&mut self) -> Result<String> {
        Ok(self.read_ustring_opt()?.unwrap_or_default())
    }

    /// A `vector`; null decodes as empty. `min_item` is the smallest encoded
    /// size of one item, so the count is checked before allocating.
    pub fn read_vec<T>(
        &mut self,
        min_item: usize,
        mut item: impl FnMut(&mut Reader<'a>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let n = self.read_len(min_item)?.unwrap_or(0);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// A `vector<ustring>`; null decodes as empty.
    pub fn read_string_vec(&mut self) -> Result<Vec<String>> {
        self.read_vec(MIN_STRING, Reader::read_ustring)
    }
}

/// Appends jute values to a `BytesMut`.
pub struct Writer<'a> {
    out: &'a mut BytesMut,
}

impl<'a> Writer<'a> {
    pub fn new(out: &'a mut BytesMut) -> Writer<'a> {
        Writer { out }
    }

    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.out.put_i32(v);
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.out.put_i64(v);
        self
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.out.put_u8(u8::from(v));
        self
    }

    /// A non-null `buffer` (also used for `ustring`).
    pub fn buffer(&mut self, b: &[u8]) -> &mut Self {
        self.i32(len_i32(b.len()));
        self.out.put_slice(b);
        self
    }

    /// A `buffer` that may be null (-1).
    pub fn buffer_opt(&mut self, b: Option<&[u8]>) -> &mut Self {
        match b {
            Some(b) => self.buffer(b),
            None => self.i32(-1),
        }
    }

    pub fn ustring(&mut self, s: &str) -> &mut Self {
        self.buffer(s.as_bytes())
    }

    /// A `ustring` that may be null (-1).
    pub fn ustring_opt(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.ustring(s),
            None => self.i32(-1),
        }
    }

    /// A non-null `vector`.
    pub fn vec<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.i32(len_i32(items.len()));
        for it in items {
            item(self, it);
        }
        self
    }

    pub fn string_vec(&mut self, items: &[String]) -> &mut Self {
        self.vec(items, |w, s| {
            w.ustring(s);
        })
    }
}

/// Jute lengths are i32; our own values never approach 2 GiB (frames are
/// capped by `jute.maxbuffer`), so saturating is only a guard.
fn len_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Runs `body`, prefixing what it wrote with its 4-byte big-endian length.
pub fn with_length_prefix(out: &mut BytesMut, body: impl FnOnce(&mut Writer<'_>)) {
    let start = out.len();
    out.put_i32(0);
    body(&mut Writer::new(out));
    let len = len_i32(out.len() - start - 4);
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut out = BytesMut::new();
        Writer::new(&mut out)
            .i32(-7)
            .i64(1 << 40)
            .bool(true)
            .ustring("/a")
            .ustring_opt(None)
            .buffer(b"xy")
            .string_vec(&["p".into(), "q".into()]);
        let mut r = Reader::new(&out);
        assert_eq!(r.read_i32(), Ok(-7));
        assert_eq!(r.read_i64(), Ok(1 << 40));
        assert_eq!(r.read_bool(), Ok(true));
        assert_eq!(r.read_ustring().as_deref(), Ok("/a"));
        assert_eq!(r.read_ustring_opt(), Ok(None));
        assert_eq!(r.read_bytes(), Ok(Bytes::from_static(b"xy")));
        assert_eq!(r.read_string_vec(), Ok(vec!["p".into(), "q".into()]));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn exact_bytes() {
        let mut out = BytesMut::new();
        Writer::new(&mut out).ustring("ab").bool(false).i32(258);
        assert_eq!(&out[..], &[0, 0, 0, 2, b'a', b'b', 0, 0, 0, 1, 2]);
    }

    #[test]
    fn nonzero_bool_is_true() {
        assert_eq!(Reader::new(&[7]).read_bool(), Ok(true));
    }

    #[test]
    fn null_values_decode_empty() {
        let neg = (-1i32).to_be_bytes();
        assert_eq!(Reader::new(&neg).read_ustring().as_deref(), Ok(""));
        assert_eq!(Reader::new(&neg).read_bytes(), Ok(Bytes::new()));
        assert_eq!(Reader::new(&neg).read_string_vec(), Ok(vec![]));
        assert_eq!(Reader::new(&neg).read_buffer_opt(), Ok(None));
    }

    #[test]
    fn null_buffer_is_written_as_minus_one() {
        let mut out = BytesMut::new();
        Writer::new(&mut out)
            .buffer_opt(None)
            .buffer_opt(Some(b""))
            .buffer_opt(Some(b"z"));
        assert_eq!(
            &out[..],
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, b'z']
        );
    }

    #[test]
    fn truncation_is_an_error() {
        assert_eq!(
            Reader::new(&[0, 0, 1]).read_i32(),
            Err(DecodeError::Truncated {
                needed: 4,
                remaining: 3
            })
        );
    }

    #[test]
    fn negative_length_is_an_error() {
        let b = (-2i32).to_be_bytes();
        assert_eq!(
            Reader::new(&b).read_bytes(),
            Err(DecodeError::NegativeLength(-2))
        );
    }

    #[test]
    fn huge_count_fails_before_allocating() {
        let mut b = i32::MAX.to_be_bytes().to_vec();
        b.extend_from_slice(&[0; 16]);
        let err = Reader::new(&b).read_string_vec();
        assert!(matches!(err, Err(DecodeError::LengthExceedsInput { .. })));
        let err = Reader::new(&b).read_bytes();
        assert!(matches!(err, Err(DecodeError::LengthExceedsInput { .. })));
    }

    #[test]
    fn bad_utf8_is_an_error() {
        let b = [0, 0, 0, 2, 0xc3, 0x28];
        assert_eq!(Reader::new(&b).read_ustring(), Err(DecodeError::BadUtf8));
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let mut r = Reader::new(&[0, 0, 0, 1, 9]);
        assert_eq!(r.read_i32(), Ok(1));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn length_prefix_is_patched() {
        let mut out = BytesMut::from(&b"zz"[..]);
        with_length_prefix(&mut out, |w| {
            w.i64(5);
        });
        assert_eq!(&out[..6], &[b'z', b'z', 0, 0, 0, 8]);
    }
}
