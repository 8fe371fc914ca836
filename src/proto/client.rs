//! The client half of the codec: encoding requests and decoding replies.
//!
//! The server never needs this; our integration tests, the differential
//! harness and `loadgen` do, and the proptests use it as the inverse of the
//! server half. Unlike the server's request decoder, [`decode_reply`] is
//! strict: trailing bytes are an error, because here they would mean our own
//! server wrote a malformed reply.
//!
//! The shape of a reply body is decided by the opcode of the request it
//! answers, except that a reply with `err != 0` has no body, xid -1 is always
//! a watch event and xid -2 a ping (no body).

use super::jute::{with_length_prefix, DecodeError, Reader, Result, Writer};
use super::records::*;
use super::requests::*;
use super::responses::{MultiResult, ReplyHeader, Response};
use super::types::{xid, OpCode};
use bytes::BytesMut;

/// The opcode a request is sent with.
pub fn request_opcode(req: &Request) -> OpCode {
    use OpCode as O;
    match req {
        Request::Create(op, _) => *op,
        Request::Delete(_) => O::Delete,
        Request::DeleteContainer(_) => O::DeleteContainer,
        Request::Exists(_) => O::Exists,
        Request::GetData(_) => O::GetData,
        Request::SetData(_) => O::SetData,
        Request::GetAcl(_) => O::GetAcl,
        Request::SetAcl(_) => O::SetAcl,
        Request::GetChildren(_) => O::GetChildren,
        Request::GetChildren2(_) => O::GetChildren2,
        Request::Sync(_) => O::Sync,
        Request::Ping => O::Ping,
        Request::Check(_) => O::Check,
        Request::Multi(_) => O::Multi,
        Request::MultiRead(_) => O::MultiRead,
        Request::Reconfig(_) => O::Reconfig,
        Request::CheckWatches(_) => O::CheckWatches,
        Request::RemoveWatches(_) => O::RemoveWatches,
        Request::Auth(_) => O::Auth,
        Request::SetWatches(_) => O::SetWatches,
        Request::SetWatches2(_) => O::SetWatches2,
        Request::Sasl(_) => O::Sasl,
        Request::GetEphemerals(_) => O::GetEphemerals,
        Request::GetAllChildrenNumber(_) => O::GetAllChildrenNumber,
        Request::AddWatch(_) => O::AddWatch,
        Request::WhoAmI => O::WhoAmI,
        Request::CloseSession => O::CloseSession,
    }
}

/// Appends one request frame (length prefix included). The header is written
/// as given; use [`request_opcode`] to fill `header.op`.
pub fn encode_request(out: &mut BytesMut, header: RequestHeader, req: &Request) {
    with_length_prefix(out, |w| {
        w.i32(header.xid).i32(header.op);
        write_request(w, req);
    });
}

/// Writes a request body (no header, no length).
pub fn write_request(w: &mut Writer<'_>, req: &Request) {
    match req {
        Request::Create(op, c) => write_create(w, *op, c),
        Request::Delete(d) => write_delete(w, d),
        Request::DeleteContainer(p)
        | Request::GetAcl(p)
        | Request::Sync(p)
        | Request::GetEphemerals(p)
        | Request::GetAllChildrenNumber(p) => {
            w.ustring(p);
        }
        Request::Exists(p)
        | Request::GetData(p)
        | Request::GetChildren(p)
        | Request::GetChildren2(p) => write_path_watch(w, &p.path, p.watch),
        Request::SetData(s) => write_set_data(w, s),
        Request::SetAcl(s) => {
            w.ustring(&s.path);
            write_acls(w, &s.acl);
            w.i32(s.version);
        }
        Request::Check(c) => write_check(w, c),
        Request::Multi(ops) | Request::MultiRead(ops) => write_multi(w, ops),
        Request::Reconfig(r) => {
            w.ustring_opt(r.joining_servers.as_deref())
                .ustring_opt(r.leaving_servers.as_deref())
                .ustring_opt(r.new_members.as_deref())
                .i64(r.cur_config_id);
        }
        Request::CheckWatches(x) | Request::RemoveWatches(x) => {
            w.ustring(&x.path).i32(x.watcher_type);
        }
        Request::Auth(a) => {
            w.i32(a.auth_type).ustring(&a.scheme).buffer(&a.auth);
        }
        Request::SetWatches(s) => write_set_watches(w, s, false),
        Request::SetWatches2(s) => write_set_watches(w, s, true),
        Request::Sasl(token) => {
            w.buffer(token);
        }
        Request::AddWatch(a) => {
            w.ustring(&a.path).i32(a.mode);
        }
        Request::Ping | Request::WhoAmI | Request::CloseSession => {}
    }
}

/// `CreateRequest`, plus the ttl for createTTL (0 when absent).
fn write_create(w: &mut Writer<'_>, op: OpCode, c: &CreateRequest) {
    w.ustring(&c.path);
    write_data(w, &c.data);
    write_acls(w, &c.acl);
    w.i32(c.flags);
    if op == OpCode::CreateTtl {
        w.i64(c.ttl.unwrap_or(0));
    }
}

fn write_delete(w: &mut Writer<'_>, d: &DeleteRequest) {
    w.ustring(&d.path).i32(d.version);
}

fn write_path_watch(w: &mut Writer<'_>, path: &str, watch: bool) {
    w.ustring(path).bool(watch);
}

fn write_set_data(w: &mut Writer<'_>, s: &SetDataRequest) {
    w.ustring(&s.path);
    write_data(w, &s.data);
    w.i32(s.version);
}

fn write_check(w: &mut Writer<'_>, c: &CheckVersionRequest) {
    w.ustring(&c.path).i32(c.version);
}

fn write_set_watches(w: &mut Writer<'_>, s: &SetWatchesRequest, v2: bool) {
    w.i64(s.relative_zxid)
        .string_vec(&s.data_watches)
        .string_vec(&s.exist_watches)
        .string_vec(&s.child_watches);
    if v2 {
        w.string_vec(&s.persistent_watches)
            .string_vec(&s.persistent_recursive_watches);
    }
}

/// Each op behind `MultiHeader { type, false, -1 }`, then the end header,
/// as ZooKeeper's `MultiOperationRecord` writes them.
fn write_multi(w: &mut Writer<'_>, ops: &[MultiOp]) {
    for op in ops {
        MultiHeader {
            op: multi_op_code(op) as i32,
            done: false,
            err: -1,
        }
        .write(w);
        write_multi_op(w, op);
    }
    MultiHeader::END.write(w);
}

fn multi_op_code(op: &MultiOp) -> OpCode {
    match op {
        MultiOp::Create(code, _) => *code,
        MultiOp::Delete(_) => OpCode::Delete,
        MultiOp::SetData(_) => OpCode::SetData,
        MultiOp::Check(_) => OpCode::Check,
        MultiOp::GetChildren(_) => OpCode::GetChildren,
        MultiOp::GetData(_) => OpCode::GetData,
    }
}

/// Read ops are sent with watch false: ZooKeeper ignores it in multiRead.
fn write_multi_op(w: &mut Writer<'_>, op: &MultiOp) {
    match op {
        MultiOp::Create(code, c) => write_create(w, *code, c),
        MultiOp::Delete(d) => write_delete(w, d),
        MultiOp::SetData(s) => write_set_data(w, s),
        MultiOp::Check(c) => write_check(w, c),
        MultiOp::GetChildren(p) | MultiOp::GetData(p) => write_path_watch(w, p, false),
    }
}

/// Decodes one reply frame body (without its length) to a request sent with
/// opcode `op`.
pub fn decode_reply(op: OpCode, body: &[u8]) -> Result<(ReplyHeader, Response)> {
    let mut r = Reader::new(body);
    let header = ReplyHeader {
        xid: r.read_i32()?,
        zxid: r.read_i64()?,
        err: r.read_i32()?,
    };
    let response = match header.xid {
        _ if header.err != 0 => Response::Empty,
        xid::NOTIFICATION => Response::Event(read_event(&mut r)?),
        xid::PING => Response::Empty,
        _ => read_response(op, &mut r)?,
    };
    r.finish()?;
    Ok((header, response))
}

fn read_response(op: OpCode, r: &mut Reader<'_>) -> Result<Response> {
    use OpCode as O;
    Ok(match op {
        O::Create => Response::Create(r.read_ustring()?),
        O::Create2 | O::CreateContainer | O::CreateTtl => {
            Response::Create2(r.read_ustring()?, read_stat(r)?)
        }
        O::Exists | O::SetData | O::SetAcl => Response::Stat(read_stat(r)?),
        O::GetData => Response::GetData(read_data(r)?, read_stat(r)?),
        O::Reconfig => Response::Reconfig(r.read_bytes()?, read_stat(r)?),
        O::GetAcl => Response::GetAcl(read_acls(r)?, read_stat(r)?),
        O::GetChildren => Response::GetChildren(r.read_string_vec()?),
        O::GetChildren2 => Response::GetChildren2(r.read_string_vec()?, read_stat(r)?),
        O::GetEphemerals => Response::GetEphemerals(r.read_string_vec()?),
        O::Sync => Response::Sync(r.read_ustring()?),
        O::Multi | O::MultiRead => Response::Multi(read_multi_results(r)?),
        O::Sasl => Response::Sasl(r.read_bytes()?),
        O::GetAllChildrenNumber => Response::GetAllChildrenNumber(r.read_i32()?),
        O::WhoAmI => Response::WhoAmI(r.read_vec(MIN_CLIENT_INFO, read_client_info)?),
        O::AddWatch => read_add_watch_reply(r)?,
        O::Delete
        | O::DeleteContainer
        | O::Check
        | O::Ping
        | O::CheckWatches
        | O::RemoveWatches
        | O::Auth
        | O::SetWatches
        | O::SetWatches2
        | O::CloseSession => Response::Empty,
        O::Notification | O::CreateSession | O::Error => {
            return Err(DecodeError::UnknownOpCode {
                xid: 0,
                op: op as i32,
            })
        }
    })
}

/// addWatch answers `ErrorResponse { err: 0 }`.
fn read_add_watch_reply(r: &mut Reader<'_>) -> Result<Response> {
    match r.read_i32()? {
        0 => Ok(Response::AddWatch),
        other => Err(DecodeError::UnknownErrorCode(other)),
    }
}

fn read_multi_results(r: &mut Reader<'_>) -> Result<Vec<MultiResult>> {
    let mut results = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(results);
        }
        results.push(read_multi_result(h.op, r)?);
    }
}

fn read_multi_result(op: i32, r: &mut Reader<'_>) -> Result<MultiResult> {
    const CREATE: i32 = OpCode::Create as i32;
    const CREATE2: i32 = OpCode::Create2 as i32;
    Ok(match OpCode::from_i32(op) {
        Some(OpCode::Create) => MultiResult::Create {
            op: CREATE,
            path: r.read_ustring()?,
            stat: None,
        },
        Some(OpCode::Create2) => MultiResult::Create {
            op: CREATE2,
            path: r.read_ustring()?,
            stat: Some(read_stat(r)?),
        },
        Some(OpCode::Delete) => MultiResult::Delete,
        Some(OpCode::Check) => MultiResult::Check,
        Some(OpCode::SetData) => MultiResult::SetData(read_stat(r)?),
        Some(OpCode::GetChildren) => MultiResult::GetChildren(r.read_string_vec()?),
        Some(OpCode::GetData) => MultiResult::GetData(read_data(r)?, read_stat(r)?),
        Some(OpCode::Error) => MultiResult::Error(error_code(r.read_i32()?)?),
        _ => return Err(DecodeError::InvalidMultiOp { op }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::decode::decode_request;
    use crate::proto::encode::encode_reply;
    use crate::proto::types::{Acl, ErrorCode, NodeData, Stat};

    #[test]
    fn create_request_bytes_match_kazoo() {
        let req = Request::Create(
            OpCode::Create,
            CreateRequest {
                path: "/n".into(),
                data: NodeData::from_static(b"v"),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl: None,
            },
        );
        let mut out = BytesMut::new();
        encode_request(&mut out, RequestHeader { xid: 1, op: 1 }, &req);
        let mut want: Vec<u8> = vec![0, 0, 0, 1, 0, 0, 0, 1];
        want.extend_from_slice(&[0, 0, 0, 2, b'/', b'n', 0, 0, 0, 1, b'v']);
        want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 5]);
        want.extend_from_slice(b"world");
        want.extend_from_slice(&[0, 0, 0, 6]);
        want.extend_from_slice(b"anyone");
        want.extend_from_slice(&[0, 0, 0, 0]);
        let len = (want.len() as i32).to_be_bytes();
        assert_eq!(&out[..4], &len);
        assert_eq!(&out[4..], &want[..]);
        assert_eq!(decode_request(&out[4..]).map(|x| x.1), Ok(req));
    }

    #[test]
    fn get_data_request_bytes() {
        let req = Request::GetData(PathWatchRequest {
            path: "/a".into(),
            watch: true,
        });
        let mut out = BytesMut::new();
        encode_request(&mut out, RequestHeader { xid: 2, op: 4 }, &req);
        let want: &[u8] = &[
            0, 0, 0, 15, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 2, b'/', b'a', 1,
        ];
        assert_eq!(&out[..], want);
    }

    #[test]
    fn ping_reply_decodes_empty() {
        let h = ReplyHeader {
            xid: -2,
            zxid: 5,
            err: 0,
        };
        let mut out = BytesMut::new();
        encode_reply(&mut out, h, &Response::Empty);
        assert_eq!(
            decode_reply(OpCode::GetData, &out[4..]),
            Ok((h, Response::Empty))
        );
    }

    #[test]
    fn error_reply_decodes_empty_and_trailing_bytes_fail() {
        let h = ReplyHeader {
            xid: 3,
            zxid: 5,
            err: ErrorCode::NoNode.code(),
        };
        let mut out = BytesMut::new();
        encode_reply(&mut out, h, &Response::Stat(Stat::default()));
        assert_eq!(
            decode_reply(OpCode::Exists, &out[4..]),
            Ok((h, Response::Empty))
        );
        out.extend_from_slice(&[0]);
        assert_eq!(
            decode_reply(OpCode::Exists, &out[4..]),
            Err(DecodeError::TrailingBytes(1))
        );
    }
}
