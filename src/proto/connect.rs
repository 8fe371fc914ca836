//! The session handshake: `ConnectRequest` and `ConnectResponse`, the first
//! frame each way on a connection (they have no request/reply header).
//!
//! Both records end with an optional `readOnly` byte. Clients older than
//! ZooKeeper 3.4 omit it; ZooKeeper then marks the connection as an old
//! client and writes no `readOnly` byte in its answer
//! (`ZooKeeperServer.finishSessionInit`). We model the byte as
//! `Option<bool>` on both sides so that the server answers in kind: build the
//! response's `read_only` with [`ConnectResponse::read_only_for`].
//!
//! Guarantees: decoding never panics or over-allocates; a connect request's
//! bytes after the `readOnly` byte are ignored as ZooKeeper ignores them; a
//! connect response (decoded by our own clients) must end there.

use super::jute::{with_length_prefix, Reader, Result, Writer};
use bytes::{Bytes, BytesMut};

/// `ConnectRequest` plus the optional trailing `readOnly` byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// `None` when the client did not send the byte (pre-3.4 clients).
    pub read_only: Option<bool>,
}

/// `ConnectResponse` plus the optional trailing `readOnly` byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// Written only when `Some`: exactly when the client sent one.
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// The `read_only` field of the answer to `req` from a server that is
    /// (or is not) in read-only mode: present only if the client sent it.
    pub fn read_only_for(req: &ConnectRequest, server_read_only: bool) -> Option<bool> {
        req.read_only.map(|_| server_read_only)
    }
}

/// Decodes a connect request frame body (without its length prefix).
pub fn decode_connect_request(body: &[u8]) -> Result<ConnectRequest> {
    let mut r = Reader::new(body);
    Ok(ConnectRequest {
        protocol_version: r.read_i32()?,
        last_zxid_seen: r.read_i64()?,
        timeout_ms: r.read_i32()?,
        session_id: r.read_i64()?,
        passwd: r.read_bytes()?,
        read_only: read_optional_bool(&mut r)?,
    })
}

/// Appends a connect request frame (length prefix included).
pub fn encode_connect_request(out: &mut BytesMut, req: &ConnectRequest) {
    with_length_prefix(out, |w| {
        w.i32(req.protocol_version)
            .i64(req.last_zxid_seen)
            .i32(req.timeout_ms)
            .i64(req.session_id)
            .buffer(&req.passwd);
        write_optional_bool(w, req.read_only);
    });
}

/// Appends a connect response frame (length prefix included).
pub fn encode_connect_response(out: &mut BytesMut, resp: &ConnectResponse) {
    with_length_prefix(out, |w| {
        w.i32(resp.protocol_version)
            .i32(resp.timeout_ms)
            .i64(resp.session_id)
            .buffer(&resp.passwd);
        write_optional_bool(w, resp.read_only);
    });
}

/// Decodes a connect response frame body; strict about trailing bytes.
pub fn decode_connect_response(body: &[u8]) -> Result<ConnectResponse> {
    let mut r = Reader::new(body);
    let resp = ConnectResponse {
        protocol_version: r.read_i32()?,
        timeout_ms: r.read_i32()?,
        session_id: r.read_i64()?,
        passwd: r.read_bytes()?,
        read_only: read_optional_bool(&mut r)?,
    };
    r.finish()?;
    Ok(resp)
}

fn read_optional_bool(r: &mut Reader<'_>) -> Result<Option<bool>> {
    match r.remaining() {
        0 => Ok(None),
        _ => r.read_bool().map(Some),
    }
}

fn write_optional_bool(w: &mut Writer<'_>, v: Option<bool>) {
    if let Some(v) = v {
        w.bool(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::jute::DecodeError;

    fn req(read_only: Option<bool>) -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 30_000,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only,
        }
    }

    /// 4+8+4+8 + (4+16) = 44 bytes, plus kazoo's readOnly byte.
    #[test]
    fn request_bytes_as_kazoo_sends_them() {
        let mut out = BytesMut::new();
        encode_connect_request(&mut out, &req(Some(false)));
        let mut want = vec![0, 0, 0, 45, 0, 0, 0, 0];
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&30_000i32.to_be_bytes());
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&[0, 0, 0, 16]);
        want.extend_from_slice(&[0; 16]);
        want.push(0);
        assert_eq!(&out[..], &want[..]);
        assert_eq!(decode_connect_request(&out[4..]), Ok(req(Some(false))));
    }

    #[test]
    fn old_client_without_read_only_byte() {
        let mut out = BytesMut::new();
        encode_connect_request(&mut out, &req(None));
        assert_eq!(out.len(), 4 + 44);
        assert_eq!(decode_connect_request(&out[4..]), Ok(req(None)));
    }

    #[test]
    fn response_echoes_presence_of_read_only() {
        let mut resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms: 4000,
            session_id: 0x0100_0000_0000_0001,
            passwd: Bytes::from_static(&[7; 16]),
            read_only: ConnectResponse::read_only_for(&req(None), false),
        };
        let mut out = BytesMut::new();
        encode_connect_response(&mut out, &resp);
        assert_eq!(&out[..4], &36i32.to_be_bytes());
        assert_eq!(decode_connect_response(&out[4..]), Ok(resp.clone()));
        resp.read_only = ConnectResponse::read_only_for(&req(Some(true)), false);
        let mut out = BytesMut::new();
        encode_connect_response(&mut out, &resp);
        assert_eq!(&out[..4], &37i32.to_be_bytes());
        assert_eq!(out[40], 0);
        assert_eq!(decode_connect_response(&out[4..]), Ok(resp));
    }

    #[test]
    fn truncated_request_is_an_error() {
        let mut out = BytesMut::new();
        encode_connect_request(&mut out, &req(None));
        assert!(matches!(
            decode_connect_request(&out[4..30]),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
