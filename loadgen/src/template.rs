//! A fixed batch of requests encoded once; each send only copies the bytes
//! and writes fresh xids into them.
//!
//! Why: a one-shot watcher re-arms the same requests (getData plus exists
//! with watch=true) after every notification, on every session. Encoding
//! them with the codec each time would cost the generator CPU per
//! notification that the measurement charges to fan-out.
//!
//! Guarantees: [`Template::render`] appends exactly what the codec's
//! `encode_request` would for the same requests with consecutive xids
//! (wrapping to 1 past `i32::MAX`, as `Conn::push` numbers them).

use bytes::BytesMut;
use warden::proto::client::{encode_request, request_opcode};
use warden::proto::requests::{Request, RequestHeader};

/// See the module docs.
#[derive(Clone, Debug)]
pub struct Template {
    bytes: Vec<u8>,
    /// Where each request's xid sits in `bytes`.
    xid_at: Vec<usize>,
}

/// The xid after `x` (never zero or negative: those are reserved).
pub fn next_xid(x: i32) -> i32 {
    x.wrapping_add(1).max(1)
}

impl Template {
    pub fn new(requests: &[Request]) -> Template {
        let mut out = BytesMut::new();
        let mut xid_at = Vec::with_capacity(requests.len());
        for r in requests {
            // The length prefix comes first, then the xid.
            xid_at.push(out.len() + 4);
            let header = RequestHeader {
                xid: 0,
                op: request_opcode(r) as i32,
            };
            encode_request(&mut out, header, r);
        }
        Template {
            bytes: out.to_vec(),
            xid_at,
        }
    }

    /// How many requests one rendering holds.
    pub fn len(&self) -> usize {
        self.xid_at.len()
    }

    /// Bytes one rendering appends.
    pub fn bytes_len(&self) -> usize {
        self.bytes.len()
    }

    /// Appends the requests to `into`, numbered from `*xid` on; leaves
    /// `*xid` at the next free one.
    pub fn render(&self, into: &mut Vec<u8>, xid: &mut i32) {
        let base = into.len();
        into.extend_from_slice(&self.bytes);
        for &at in &self.xid_at {
            into[base + at..base + at + 4].copy_from_slice(&xid.to_be_bytes());
            *xid = next_xid(*xid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden::proto::requests::PathWatchRequest;

    #[test]
    fn renders_what_the_codec_encodes() {
        let get = Request::GetData(PathWatchRequest {
            path: "/w".into(),
            watch: true,
        });
        let exists = Request::Exists(PathWatchRequest {
            path: "/w".into(),
            watch: true,
        });
        let reqs = vec![get, exists.clone(), exists];
        let t = Template::new(&reqs);
        assert_eq!(t.len(), 3);
        // (name, first xid, xids the codec would use)
        let cases = [
            ("from 1", 1, vec![1, 2, 3]),
            ("later", 500, vec![500, 501, 502]),
            ("wrapping", i32::MAX - 1, vec![i32::MAX - 1, i32::MAX, 1]),
        ];
        for (name, first, xids) in cases {
            let mut want = BytesMut::new();
            for (r, &x) in reqs.iter().zip(&xids) {
                let h = RequestHeader {
                    xid: x,
                    op: request_opcode(r) as i32,
                };
                encode_request(&mut want, h, r);
            }
            let mut got = b"before".to_vec();
            let mut xid = first;
            t.render(&mut got, &mut xid);
            assert_eq!(&got[..6], b"before", "{name}");
            assert_eq!(&got[6..], &want[..], "{name}");
            assert_eq!(got.len() - 6, t.bytes_len(), "{name}");
            assert_eq!(xid, next_xid(*xids.last().unwrap()), "{name}");
        }
    }
}
