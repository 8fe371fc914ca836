//! The byte encoding of a [`TxnRecord`]: what a txn log record's payload is.
//!
//! Format (big-endian, jute primitives from [`crate::proto::jute`]):
//! a format version byte ([`TXN_FORMAT_VERSION`]), the header (session id
//! i64, cxid i32, zxid i64, time i64), then the txn: a one-byte tag and its
//! fields. Node data is a jute buffer whose length -1 means null, so null and
//! empty data stay apart. A multi holds a count and nested txns.
//!
//! Guarantees: [`decode_txn`] never panics, never allocates more than the
//! input could describe (every count is checked against the bytes left
//! before anything is reserved), bounds multi nesting at [`MAX_MULTI_DEPTH`],
//! and rejects trailing bytes; `decode_txn(encode_txn(r)) == r` for every
//! record.

use crate::proto::jute::{DecodeError, Reader};
use crate::proto::types::{Acl, ErrorCode, Id, NodeData, OpCode};
use crate::txn::{CreateKind, CreateTxn, Txn, TxnHeader, TxnRecord};
use bytes::{BufMut, Bytes};

/// The first byte of every encoded record.
pub const TXN_FORMAT_VERSION: u8 = 1;
/// Multis nest no deeper than this (ZooKeeper never nests them at all).
pub const MAX_MULTI_DEPTH: usize = 4;

const TAG_CREATE_SESSION: u8 = 1;
const TAG_CLOSE_SESSION: u8 = 2;
const TAG_CREATE: u8 = 3;
const TAG_DELETE: u8 = 4;
const TAG_DELETE_CONTAINER: u8 = 5;
const TAG_SET_DATA: u8 = 6;
const TAG_SET_ACL: u8 = 7;
const TAG_CHECK: u8 = 8;
const TAG_MULTI: u8 = 9;
const TAG_ERROR: u8 = 10;

const KIND_PERSISTENT: u8 = 0;
const KIND_EPHEMERAL: u8 = 1;
const KIND_CONTAINER: u8 = 2;
const KIND_TTL: u8 = 3;

/// Why bytes are not an encoded [`TxnRecord`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnCodecError {
    #[error("empty txn record")]
    Empty,
    #[error("unsupported txn format version {0}")]
    Version(u8),
    #[error(transparent)]
    Jute(#[from] DecodeError),
    #[error("unknown txn tag {0}")]
    UnknownTag(u8),
    #[error("unknown create kind {0}")]
    UnknownKind(u8),
    #[error("unknown opcode {0} in a create")]
    UnknownOpCode(i32),
    #[error("unknown error code {0}")]
    UnknownErrorCode(i32),
    #[error("multi nested deeper than {MAX_MULTI_DEPTH}")]
    TooDeep,
}

/// Appends the encoding of `rec` to `out`.
pub fn encode_txn(rec: &TxnRecord, out: &mut Vec<u8>) {
    out.put_u8(TXN_FORMAT_VERSION);
    let h = &rec.header;
    out.put_i64(h.session_id);
    out.put_i32(h.cxid);
    out.put_i64(h.zxid);
    out.put_i64(h.time_ms);
    put_txn(out, &rec.txn);
}

/// Decodes one record; the whole slice must be that record.
pub fn decode_txn(bytes: &[u8]) -> Result<TxnRecord, TxnCodecError> {
    let (&version, rest) = bytes.split_first().ok_or(TxnCodecError::Empty)?;
    if version != TXN_FORMAT_VERSION {
        return Err(TxnCodecError::Version(version));
    }
    let mut r = Reader::new(rest);
    let header = TxnHeader {
        session_id: r.read_i64()?,
        cxid: r.read_i32()?,
        zxid: r.read_i64()?,
        time_ms: r.read_i64()?,
    };
    let txn = read_txn(&mut r, 0)?;
    r.finish()?;
    Ok(TxnRecord { header, txn })
}

fn put_txn(out: &mut Vec<u8>, txn: &Txn) {
    match txn {
        Txn::CreateSession { timeout_ms } => {
            out.put_u8(TAG_CREATE_SESSION);
            out.put_i32(*timeout_ms);
        }
        Txn::CloseSession { paths } => {
            out.put_u8(TAG_CLOSE_SESSION);
            put_len(out, paths.len());
            for p in paths {
                put_str(out, p);
            }
        }
        Txn::Create(c) => {
            out.put_u8(TAG_CREATE);
            put_str(out, &c.path);
            put_data(out, &c.data);
            put_acls(out, &c.acl);
            match c.kind {
                CreateKind::Persistent => out.put_u8(KIND_PERSISTENT),
                CreateKind::Ephemeral => out.put_u8(KIND_EPHEMERAL),
                CreateKind::Container => out.put_u8(KIND_CONTAINER),
                CreateKind::Ttl(ttl) => {
                    out.put_u8(KIND_TTL);
                    out.put_i64(ttl);
                }
            }
            out.put_i32(c.parent_cversion);
            out.put_i32(c.op as i32);
        }
        Txn::Delete { path } => {
            out.put_u8(TAG_DELETE);
            put_str(out, path);
        }
        Txn::DeleteContainer { path } => {
            out.put_u8(TAG_DELETE_CONTAINER);
            put_str(out, path);
        }
        Txn::SetData {
            path,
            data,
            version,
        } => {
            out.put_u8(TAG_SET_DATA);
            put_str(out, path);
            put_data(out, data);
            out.put_i32(*version);
        }
        Txn::SetAcl { path, acl, version } => {
            out.put_u8(TAG_SET_ACL);
            put_str(out, path);
            put_acls(out, acl);
            out.put_i32(*version);
        }
        Txn::Check { path, version } => {
            out.put_u8(TAG_CHECK);
            put_str(out, path);
            out.put_i32(*version);
        }
        Txn::Multi(txns) => {
            out.put_u8(TAG_MULTI);
            put_len(out, txns.len());
            for t in txns {
                put_txn(out, t);
            }
        }
        Txn::Error(code) => {
            out.put_u8(TAG_ERROR);
            out.put_i32(code.code());
        }
    }
}

fn read_u8(r: &mut Reader<'_>) -> Result<u8, TxnCodecError> {
    Ok(r.read_u8()?)
}

/// A non-null count of items of at least `min_item` bytes each, checked
/// against the bytes left before anything is allocated.
pub(crate) fn read_count(r: &mut Reader<'_>, min_item: usize) -> Result<usize, DecodeError> {
    let raw = r.read_i32()?;
    let n = usize::try_from(raw).map_err(|_| DecodeError::NegativeLength(raw))?;
    if n.saturating_mul(min_item.max(1)) > r.remaining() {
        return Err(DecodeError::LengthExceedsInput {
            len: n,
            remaining: r.remaining(),
        });
    }
    Ok(n)
}

fn read_txn(r: &mut Reader<'_>, depth: usize) -> Result<Txn, TxnCodecError> {
    let tag = read_u8(r)?;
    Ok(match tag {
        TAG_CREATE_SESSION => Txn::CreateSession {
            timeout_ms: r.read_i32()?,
        },
        TAG_CLOSE_SESSION => Txn::CloseSession {
            paths: r.read_vec(4, Reader::read_ustring)?,
        },
        TAG_CREATE => {
            let path = r.read_ustring()?;
            let data = read_data(r)?;
            let acl = read_acls(r)?;
            let kind = match read_u8(r)? {
                KIND_PERSISTENT => CreateKind::Persistent,
                KIND_EPHEMERAL => CreateKind::Ephemeral,
                KIND_CONTAINER => CreateKind::Container,
                KIND_TTL => CreateKind::Ttl(r.read_i64()?),
                k => return Err(TxnCodecError::UnknownKind(k)),
            };
            let parent_cversion = r.read_i32()?;
            let op = r.read_i32()?;
            let op = OpCode::from_i32(op).ok_or(TxnCodecError::UnknownOpCode(op))?;
            Txn::Create(CreateTxn {
                path,
                data,
                acl,
                kind,
                parent_cversion,
                op,
            })
        }
        TAG_DELETE => Txn::Delete {
            path: r.read_ustring()?,
        },
        TAG_DELETE_CONTAINER => Txn::DeleteContainer {
            path: r.read_ustring()?,
        },
        TAG_SET_DATA => Txn::SetData {
            path: r.read_ustring()?,
            data: read_data(r)?,
            version: r.read_i32()?,
        },
        TAG_SET_ACL => Txn::SetAcl {
            path: r.read_ustring()?,
            acl: read_acls(r)?,
            version: r.read_i32()?,
        },
        TAG_CHECK => Txn::Check {
            path: r.read_ustring()?,
            version: r.read_i32()?,
        },
        TAG_MULTI => {
            if depth >= MAX_MULTI_DEPTH {
                return Err(TxnCodecError::TooDeep);
            }
            // Every nested txn is at least its tag and a 4-byte field.
            let n = read_count(r, 5)?;
            let mut txns = Vec::with_capacity(n);
            for _ in 0..n {
                txns.push(read_txn(r, depth + 1)?);
            }
            Txn::Multi(txns)
        }
        TAG_ERROR => {
            let code = r.read_i32()?;
            Txn::Error(ErrorCode::from_i32(code).ok_or(TxnCodecError::UnknownErrorCode(code))?)
        }
        t => return Err(TxnCodecError::UnknownTag(t)),
    })
}

// Shared with the tree snapshot codec.

/// A length or count as a jute i32 (our values never reach 2 GiB).
pub(crate) fn put_len(out: &mut Vec<u8>, n: usize) {
    out.put_i32(i32::try_from(n).unwrap_or(i32::MAX));
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.put_slice(s.as_bytes());
}

/// Node data: length -1 for null.
pub(crate) fn put_data(out: &mut Vec<u8>, d: &NodeData) {
    put_opt_data(out, d.as_bytes().map(|b| &b[..]));
}

/// Data as jute writes a buffer: length (-1 for null), then the bytes.
pub(crate) fn put_opt_data(out: &mut Vec<u8>, d: Option<&[u8]>) {
    match d {
        None => out.put_i32(-1),
        Some(b) => {
            put_len(out, b.len());
            out.put_slice(b);
        }
    }
}

pub(crate) fn put_acls(out: &mut Vec<u8>, acls: &[Acl]) {
    put_len(out, acls.len());
    for a in acls {
        out.put_i32(a.perms);
        put_str(out, &a.id.scheme);
        put_str(out, &a.id.id);
    }
}

pub(crate) fn read_data(r: &mut Reader<'_>) -> Result<NodeData, DecodeError> {
    Ok(NodeData::from(
        r.read_buffer_opt()?.map(Bytes::copy_from_slice),
    ))
}

pub(crate) fn read_acls(r: &mut Reader<'_>) -> Result<Vec<Acl>, DecodeError> {
    // perms + two string lengths.
    r.read_vec(12, |r| {
        Ok(Acl {
            perms: r.read_i32()?,
            id: Id {
                scheme: r.read_ustring()?,
                id: r.read_ustring()?,
            },
        })
    })
}

#[cfg(test)]
mod tests;
