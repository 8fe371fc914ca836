//! Server-side request decoding: one frame body (without its length prefix)
//! into a [`RequestHeader`] and a typed [`Request`].
//!
//! Guarantees:
//! - every opcode of [`Request`] is decoded with the record layout of
//!   `zookeeper.jute`; anything else is [`DecodeError::UnknownOpCode`], which
//!   still carries the xid and opcode so the server can answer ZUNIMPLEMENTED;
//! - a body that does not decode is [`DecodeError::Body`] with the header, so
//!   the server can answer MARSHALLINGERROR as ZooKeeper does;
//! - bytes after a complete request are ignored, as ZooKeeper ignores them
//!   (its records stop reading at their last field), so no real client that
//!   ZooKeeper accepts is refused;
//! - `multi` accepts only create/delete/setData/check ops and `multiRead` only
//!   getChildren/getData ops, each preceded by a `MultiHeader`; the list ends
//!   at the first header whose `done` flag is set (ZooKeeper ignores the end
//!   header's type and err, and so do we).

use super::jute::{DecodeError, Reader, Result};
use super::records::{read_acls, read_data, MultiHeader};
use super::requests::*;
use super::types::OpCode;

/// Decodes one request frame body (the bytes after the 4-byte length).
pub fn decode_request(body: &[u8]) -> Result<(RequestHeader, Request)> {
    let mut r = Reader::new(body);
    let header = RequestHeader {
        xid: r.read_i32()?,
        op: r.read_i32()?,
    };
    let unknown = DecodeError::UnknownOpCode {
        xid: header.xid,
        op: header.op,
    };
    let op = OpCode::from_i32(header.op).ok_or_else(|| unknown.clone())?;
    match decode_body(op, &mut r) {
        Ok(Some(request)) => Ok((header, request)),
        Ok(None) => Err(unknown),
        Err(e) => Err(DecodeError::Body {
            header,
            source: Box::new(e),
        }),
    }
}

/// Decodes the body of a request with opcode `op`; `None` for the opcodes a
/// client never sends inside a session (notification, createSession, error).
fn decode_body(op: OpCode, r: &mut Reader<'_>) -> Result<Option<Request>> {
    use OpCode as O;
    Ok(Some(match op {
        O::Create | O::Create2 | O::CreateContainer | O::CreateTtl => {
            Request::Create(op, read_create(op, r)?)
        }
        O::Delete => Request::Delete(read_delete(r)?),
        O::DeleteContainer => Request::DeleteContainer(r.read_ustring()?),
        O::Exists => Request::Exists(read_path_watch(r)?),
        O::GetData => Request::GetData(read_path_watch(r)?),
        O::SetData => Request::SetData(read_set_data(r)?),
        O::GetAcl => Request::GetAcl(r.read_ustring()?),
        O::SetAcl => Request::SetAcl(read_set_acl(r)?),
        O::GetChildren => Request::GetChildren(read_path_watch(r)?),
        O::GetChildren2 => Request::GetChildren2(read_path_watch(r)?),
        O::Sync => Request::Sync(r.read_ustring()?),
        O::Ping => Request::Ping,
        O::Check => Request::Check(read_check(r)?),
        O::Multi => Request::Multi(read_multi(r, MultiKind::Write)?),
        O::MultiRead => Request::MultiRead(read_multi(r, MultiKind::Read)?),
        O::Reconfig => Request::Reconfig(read_reconfig(r)?),
        O::CheckWatches => Request::CheckWatches(read_watches(r)?),
        O::RemoveWatches => Request::RemoveWatches(read_watches(r)?),
        O::Auth => Request::Auth(read_auth(r)?),
        O::SetWatches => Request::SetWatches(read_set_watches(r, false)?),
        O::SetWatches2 => Request::SetWatches2(read_set_watches(r, true)?),
        O::Sasl => Request::Sasl(r.read_bytes()?),
        O::GetEphemerals => Request::GetEphemerals(r.read_ustring()?),
        O::GetAllChildrenNumber => Request::GetAllChildrenNumber(r.read_ustring()?),
        O::AddWatch => Request::AddWatch(read_add_watch(r)?),
        O::WhoAmI => Request::WhoAmI,
        O::CloseSession => Request::CloseSession,
        O::Notification | O::CreateSession | O::Error => return Ok(None),
    }))
}

/// `CreateRequest`, or `CreateTTLRequest` (with a trailing ttl) for opcode 21.
fn read_create(op: OpCode, r: &mut Reader<'_>) -> Result<CreateRequest> {
    Ok(CreateRequest {
        path: r.read_ustring()?,
        data: read_data(r)?,
        acl: read_acls(r)?,
        flags: r.read_i32()?,
        ttl: match op {
            OpCode::CreateTtl => Some(r.read_i64()?),
            _ => None,
        },
    })
}

fn read_delete(r: &mut Reader<'_>) -> Result<DeleteRequest> {
    Ok(DeleteRequest {
        path: r.read_ustring()?,
        version: r.read_i32()?,
    })
}

fn read_path_watch(r: &mut Reader<'_>) -> Result<PathWatchRequest> {
    Ok(PathWatchRequest {
        path: r.read_ustring()?,
        watch: r.read_bool()?,
    })
}

fn read_set_data(r: &mut Reader<'_>) -> Result<SetDataRequest> {
    Ok(SetDataRequest {
        path: r.read_ustring()?,
        data: read_data(r)?,
        version: r.read_i32()?,
    })
}

fn read_set_acl(r: &mut Reader<'_>) -> Result<SetAclRequest> {
    Ok(SetAclRequest {
        path: r.read_ustring()?,
        acl: read_acls(r)?,
        version: r.read_i32()?,
    })
}

fn read_check(r: &mut Reader<'_>) -> Result<CheckVersionRequest> {
    Ok(CheckVersionRequest {
        path: r.read_ustring()?,
        version: r.read_i32()?,
    })
}

fn read_reconfig(r: &mut Reader<'_>) -> Result<ReconfigRequest> {
    Ok(ReconfigRequest {
        joining_servers: r.read_ustring_opt()?,
        leaving_servers: r.read_ustring_opt()?,
        new_members: r.read_ustring_opt()?,
        cur_config_id: r.read_i64()?,
    })
}

fn read_watches(r: &mut Reader<'_>) -> Result<WatchesRequest> {
    Ok(WatchesRequest {
        path: r.read_ustring()?,
        watcher_type: r.read_i32()?,
    })
}

fn read_auth(r: &mut Reader<'_>) -> Result<AuthPacket> {
    Ok(AuthPacket {
        auth_type: r.read_i32()?,
        scheme: r.read_ustring()?,
        auth: r.read_bytes()?,
    })
}

/// `SetWatches` (three lists) or `SetWatches2` (five lists).
fn read_set_watches(r: &mut Reader<'_>, v2: bool) -> Result<SetWatchesRequest> {
    let mut sw = SetWatchesRequest {
        relative_zxid: r.read_i64()?,
        data_watches: r.read_string_vec()?,
        exist_watches: r.read_string_vec()?,
        child_watches: r.read_string_vec()?,
        ..SetWatchesRequest::default()
    };
    if v2 {
        sw.persistent_watches = r.read_string_vec()?;
        sw.persistent_recursive_watches = r.read_string_vec()?;
    }
    Ok(sw)
}

fn read_add_watch(r: &mut Reader<'_>) -> Result<AddWatchRequest> {
    Ok(AddWatchRequest {
        path: r.read_ustring()?,
        mode: r.read_i32()?,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MultiKind {
    Write,
    Read,
}

/// The ops of a `MultiOperationRecord`, up to the header marked done.
/// Every op costs at least one 9-byte header, so the loop is bounded by
/// the input length.
fn read_multi(r: &mut Reader<'_>, kind: MultiKind) -> Result<Vec<MultiOp>> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(ops);
        }
        ops.push(read_multi_op(h.op, kind, r)?);
    }
}

fn read_multi_op(op: i32, kind: MultiKind, r: &mut Reader<'_>) -> Result<MultiOp> {
    use OpCode as O;
    let invalid = DecodeError::InvalidMultiOp { op };
    let code = OpCode::from_i32(op).ok_or_else(|| invalid.clone())?;
    Ok(match (kind, code) {
        (MultiKind::Write, O::Create | O::Create2 | O::CreateContainer | O::CreateTtl) => {
            MultiOp::Create(code, read_create(code, r)?)
        }
        (MultiKind::Write, O::Delete) => MultiOp::Delete(read_delete(r)?),
        (MultiKind::Write, O::SetData) => MultiOp::SetData(read_set_data(r)?),
        (MultiKind::Write, O::Check) => MultiOp::Check(read_check(r)?),
        // GetChildrenRequest / GetDataRequest carry a watch flag that
        // ZooKeeper ignores inside multiRead.
        (MultiKind::Read, O::GetChildren) => MultiOp::GetChildren(read_path_watch(r)?.path),
        (MultiKind::Read, O::GetData) => MultiOp::GetData(read_path_watch(r)?.path),
        _ => return Err(invalid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::types::{Acl, NodeData};

    fn frame(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn s(v: &str) -> Vec<u8> {
        let mut out = (v.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(v.as_bytes());
        out
    }

    fn i(v: i32) -> [u8; 4] {
        v.to_be_bytes()
    }

    /// A create request laid out by hand exactly as kazoo's `Create.serialize`
    /// writes it after `_submit` puts xid and type in front.
    #[test]
    fn create_as_kazoo_sends_it() {
        let mut acl = i(1).to_vec();
        acl.extend_from_slice(&i(31));
        acl.extend(s("world"));
        acl.extend(s("anyone"));
        let body = frame(&[&i(5), &i(1), &s("/node"), &s("val"), &acl, &i(3)]);
        let (h, req) = decode_request(&body).expect("decodes");
        assert_eq!(h, RequestHeader { xid: 5, op: 1 });
        assert_eq!(
            req,
            Request::Create(
                OpCode::Create,
                CreateRequest {
                    path: "/node".into(),
                    data: NodeData::from_static(b"val"),
                    acl: Acl::open_unsafe(),
                    flags: 3,
                    ttl: None,
                }
            )
        );
    }

    #[test]
    fn create_ttl_reads_ttl() {
        let body = frame(&[
            &i(1),
            &i(21),
            &s("/t"),
            &i(-1),
            &i(0),
            &i(5),
            &[0, 0, 0, 0, 0, 0, 3, 232],
        ]);
        let (_, req) = decode_request(&body).expect("decodes");
        match req {
            Request::Create(OpCode::CreateTtl, c) => {
                assert_eq!(c.ttl, Some(1000));
                // Length -1 on the wire: null, not empty.
                assert!(c.data.is_null());
                assert_eq!(c.data, NodeData::NULL);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn get_data_and_ping() {
        let body = frame(&[&i(9), &i(4), &s("/a"), &[1]]);
        let (_, req) = decode_request(&body).expect("decodes");
        assert_eq!(
            req,
            Request::GetData(PathWatchRequest {
                path: "/a".into(),
                watch: true
            })
        );
        let (h, req) = decode_request(&frame(&[&i(-2), &i(11)])).expect("ping");
        assert_eq!((h.xid, req), (-2, Request::Ping));
    }

    /// zkCli's `create /x` and `setData` with null send length -1; ZooKeeper
    /// keeps it null. Length 0 (kazoo's `create('/y')`) stays empty.
    #[test]
    fn null_data_stays_null_and_empty_stays_empty() {
        let acl = [&i(0)[..]].concat();
        let null = frame(&[&i(1), &i(1), &s("/x"), &i(-1), &acl, &i(0)]);
        let empty = frame(&[&i(1), &i(15), &s("/y"), &i(0), &acl, &i(0)]);
        for (body, want) in [(null, NodeData::NULL), (empty, NodeData::empty())] {
            match decode_request(&body).expect("decodes").1 {
                Request::Create(_, c) => assert_eq!(c.data, want),
                other => panic!("unexpected {other:?}"),
            }
        }
        let set = frame(&[&i(2), &i(5), &s("/x"), &i(-1), &i(3)]);
        assert_eq!(
            decode_request(&set).expect("decodes").1,
            Request::SetData(SetDataRequest {
                path: "/x".into(),
                data: NodeData::NULL,
                version: 3,
            })
        );
        // Inside a multi: MultiHeader { setData, done false, err -1 }, then the op.
        let multi = frame(&[
            &i(3),
            &i(14),
            &i(5),
            &[0],
            &i(-1),
            &s("/x"),
            &i(-1),
            &i(-1),
            &i(-1),
            &[1],
            &i(-1),
        ]);
        match decode_request(&multi).expect("decodes").1 {
            Request::Multi(ops) => assert_eq!(
                ops,
                vec![MultiOp::SetData(SetDataRequest {
                    path: "/x".into(),
                    data: NodeData::NULL,
                    version: -1,
                })]
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_opcode_keeps_xid_and_op() {
        let err = decode_request(&frame(&[&i(42), &i(10)])).expect_err("unknown");
        assert_eq!(err, DecodeError::UnknownOpCode { xid: 42, op: 10 });
        assert_eq!(
            err.request_header(),
            Some(RequestHeader { xid: 42, op: 10 })
        );
        let err = decode_request(&frame(&[&i(43), &i(-10)])).expect_err("in-session connect");
        assert_eq!(err, DecodeError::UnknownOpCode { xid: 43, op: -10 });
    }

    #[test]
    fn bad_body_keeps_header() {
        let err = decode_request(&frame(&[&i(7), &i(2), &s("/a")])).expect_err("short");
        assert_eq!(err.request_header(), Some(RequestHeader { xid: 7, op: 2 }));
        assert!(matches!(err, DecodeError::Body { .. }));
    }

    #[test]
    fn short_header_is_truncated() {
        assert!(matches!(
            decode_request(&[0, 0, 0, 1, 0]),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn multi_as_kazoo_sends_it() {
        let end = [255, 255, 255, 255, 1, 255, 255, 255, 255];
        let body = frame(&[
            &i(3),
            &i(14),
            &i(13),
            &[0],
            &i(-1),
            &s("/a"),
            &i(4),
            &i(2),
            &[0],
            &i(-1),
            &s("/b"),
            &i(-1),
            &end,
        ]);
        let (_, req) = decode_request(&body).expect("decodes");
        assert_eq!(
            req,
            Request::Multi(vec![
                MultiOp::Check(CheckVersionRequest {
                    path: "/a".into(),
                    version: 4
                }),
                MultiOp::Delete(DeleteRequest {
                    path: "/b".into(),
                    version: -1
                }),
            ])
        );
    }

    #[test]
    fn multi_refuses_read_ops_and_multi_read_write_ops() {
        let get = frame(&[&i(4), &[0], &i(-1), &s("/a"), &[0]]);
        let end = [255, 255, 255, 255, 1, 255, 255, 255, 255];
        let body = frame(&[&i(1), &i(14), &get, &end]);
        assert!(decode_request(&body).is_err());
        let body = frame(&[&i(1), &i(22), &get, &end]);
        let (_, req) = decode_request(&body).expect("multiRead getData");
        assert_eq!(req, Request::MultiRead(vec![MultiOp::GetData("/a".into())]));
        let del = frame(&[&i(2), &[0], &i(-1), &s("/a"), &i(0)]);
        assert!(decode_request(&frame(&[&i(1), &i(22), &del, &end])).is_err());
    }

    #[test]
    fn multi_without_end_is_truncated() {
        let body = frame(&[&i(1), &i(14), &i(2), &[0], &i(-1), &s("/a"), &i(0)]);
        assert!(decode_request(&body).is_err());
    }

    #[test]
    fn set_watches_v1_has_no_persistent_lists() {
        let body = frame(&[
            &i(-8),
            &i(101),
            &[0, 0, 0, 0, 0, 0, 0, 9],
            &i(1),
            &s("/d"),
            &i(0),
            &i(-1),
        ]);
        let (_, req) = decode_request(&body).expect("decodes");
        assert_eq!(
            req,
            Request::SetWatches(SetWatchesRequest {
                relative_zxid: 9,
                data_watches: vec!["/d".into()],
                ..Default::default()
            })
        );
    }

    #[test]
    fn trailing_bytes_are_ignored_like_zookeeper() {
        let body = frame(&[&i(1), &i(9), &s("/"), &[0xde, 0xad]]);
        assert_eq!(
            decode_request(&body).map(|x| x.1),
            Ok(Request::Sync("/".into()))
        );
    }
}
