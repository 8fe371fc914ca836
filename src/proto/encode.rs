//! Server-side reply encoding: a [`ReplyHeader`] and a [`Response`] into one
//! length-prefixed frame, byte for byte as ZooKeeper 3.8 writes it.
//!
//! Guarantees:
//! - the frame is `len | ReplyHeader | body`, `len` counting header and body;
//! - no body is written when `header.err != 0`, as ZooKeeper's
//!   `FinalRequestProcessor` leaves the response record null on errors (a
//!   failed `multi` is not an error at this level: ZooKeeper replies err 0 and
//!   reports each op's outcome inside the body);
//! - a multi reply is, per result, a `MultiHeader { type, done: false, err }`
//!   and that op's response record, then `MultiHeader { -1, true, -1 }`. A
//!   create result is typed create (1) with the path only, or create2 (15)
//!   with path and stat: ZooKeeper reports createContainer/createTTL results
//!   as create2, and the Java client rejects any other type. A failed op is
//!   typed -1 with its code in the header and in an `ErrorResponse` body;
//! - notifications carry xid -1, zxid -1 and err 0, as ZooKeeper 3.8's
//!   `NIOServerCnxn.process` writes them.

use super::jute::{with_length_prefix, Writer};
use super::records::{
    write_acls, write_client_info, write_data, write_event, write_stat, MultiHeader,
};
use super::responses::{MultiResult, ReplyHeader, Response};
use super::types::{xid, OpCode, WatcherEvent};
use bytes::BytesMut;

/// Appends one reply frame (length prefix included) to `out`.
pub fn encode_reply(out: &mut BytesMut, header: ReplyHeader, body: &Response) {
    with_length_prefix(out, |w| {
        write_reply_header(w, &header);
        if header.err == 0 {
            write_response(w, body);
        }
    });
}

/// Appends one watch notification frame to `out`.
pub fn encode_notification(out: &mut BytesMut, event: &WatcherEvent) {
    let header = ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid: -1,
        err: 0,
    };
    encode_reply(out, header, &Response::Event(event.clone()));
}

pub(crate) fn write_reply_header(w: &mut Writer<'_>, h: &ReplyHeader) {
    w.i32(h.xid).i64(h.zxid).i32(h.err);
}

/// Writes a reply body (no header, no length).
pub fn write_response(w: &mut Writer<'_>, body: &Response) {
    match body {
        Response::Empty => {}
        Response::Create(path) | Response::Sync(path) => {
            w.ustring(path);
        }
        Response::Create2(path, stat) => {
            w.ustring(path);
            write_stat(w, stat);
        }
        Response::Stat(stat) => write_stat(w, stat),
        Response::GetData(data, stat) => {
            write_data(w, data);
            write_stat(w, stat);
        }
        Response::Reconfig(data, stat) => {
            w.buffer(data);
            write_stat(w, stat);
        }
        Response::GetAcl(acl, stat) => {
            write_acls(w, acl);
            write_stat(w, stat);
        }
        Response::GetChildren(children) | Response::GetEphemerals(children) => {
            w.string_vec(children);
        }
        Response::GetChildren2(children, stat) => {
            w.string_vec(children);
            write_stat(w, stat);
        }
        Response::Multi(results) => write_multi(w, results),
        Response::Sasl(token) => {
            w.buffer(token);
        }
        Response::GetAllChildrenNumber(n) => {
            w.i32(*n);
        }
        Response::WhoAmI(infos) => {
            w.vec(infos, |w, c| write_client_info(w, c));
        }
        Response::Event(event) => write_event(w, event),
        Response::AddWatch => {
            w.i32(0);
        }
    }
}

fn write_multi(w: &mut Writer<'_>, results: &[MultiResult]) {
    for result in results {
        write_multi_result(w, result);
    }
    MultiHeader::END.write(w);
}

fn multi_header(op: OpCode, err: i32) -> MultiHeader {
    MultiHeader {
        op: op as i32,
        done: false,
        err,
    }
}

fn write_multi_result(w: &mut Writer<'_>, result: &MultiResult) {
    match result {
        MultiResult::Create { path, stat, .. } => {
            let op = match stat {
                Some(_) => OpCode::Create2,
                None => OpCode::Create,
            };
            multi_header(op, 0).write(w);
            w.ustring(path);
            if let Some(stat) = stat {
                write_stat(w, stat);
            }
        }
        MultiResult::Delete => multi_header(OpCode::Delete, 0).write(w),
        MultiResult::Check => multi_header(OpCode::Check, 0).write(w),
        MultiResult::SetData(stat) => {
            multi_header(OpCode::SetData, 0).write(w);
            write_stat(w, stat);
        }
        MultiResult::GetChildren(children) => {
            multi_header(OpCode::GetChildren, 0).write(w);
            w.string_vec(children);
        }
        MultiResult::GetData(data, stat) => {
            multi_header(OpCode::GetData, 0).write(w);
            write_data(w, data);
            write_stat(w, stat);
        }
        MultiResult::Error(code) => {
            multi_header(OpCode::Error, code.code()).write(w);
            w.i32(code.code());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::types::{ErrorCode, EventType, KeeperState, NodeData, Stat};

    fn header(err: i32) -> ReplyHeader {
        ReplyHeader {
            xid: 7,
            zxid: 0x1_0000_0002,
            err,
        }
    }

    #[test]
    fn create_reply_bytes() {
        let mut out = BytesMut::new();
        encode_reply(&mut out, header(0), &Response::Create("/a".into()));
        let want: &[u8] = &[
            0, 0, 0, 22, // len = 16 header + 6 body
            0, 0, 0, 7, // xid
            0, 0, 0, 1, 0, 0, 0, 2, // zxid
            0, 0, 0, 0, // err
            0, 0, 0, 2, b'/', b'a',
        ];
        assert_eq!(&out[..], want);
    }

    #[test]
    fn error_reply_has_no_body() {
        let mut out = BytesMut::new();
        let body = Response::GetData(NodeData::from_static(b"x"), Stat::default());
        encode_reply(&mut out, header(ErrorCode::NoNode.code()), &body);
        assert_eq!(out.len(), 4 + 16);
        assert_eq!(&out[16..20], &(-101i32).to_be_bytes());
    }

    /// ZooKeeper's `writeBuffer(null)` writes length -1; `get` of a node
    /// created without data must answer exactly that, not an empty buffer.
    #[test]
    fn null_data_is_encoded_as_length_minus_one() {
        let stat = Stat::default();
        let mut out = BytesMut::new();
        encode_reply(
            &mut out,
            header(0),
            &Response::GetData(NodeData::NULL, stat),
        );
        assert_eq!(out.len(), 4 + 16 + 4 + 68);
        assert_eq!(&out[20..24], &(-1i32).to_be_bytes());
        let mut out = BytesMut::new();
        encode_reply(
            &mut out,
            header(0),
            &Response::GetData(NodeData::empty(), stat),
        );
        assert_eq!(&out[20..24], &0i32.to_be_bytes());
        // multiRead: MultiHeader { getData, false, 0 } then GetDataResponse.
        let mut out = BytesMut::new();
        let body = Response::Multi(vec![MultiResult::GetData(NodeData::NULL, stat)]);
        encode_reply(&mut out, header(0), &body);
        assert_eq!(&out[20..24], &4i32.to_be_bytes());
        assert_eq!(&out[29..33], &(-1i32).to_be_bytes());
    }

    #[test]
    fn notification_uses_xid_and_zxid_minus_one() {
        let mut out = BytesMut::new();
        let event = WatcherEvent {
            event_type: EventType::NodeDeleted,
            state: KeeperState::SyncConnected,
            path: "/z".into(),
        };
        encode_notification(&mut out, &event);
        let want: &[u8] = &[
            0, 0, 0, 30, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0,
            0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2, b'/', b'z',
        ];
        assert_eq!(&out[..], want);
    }

    #[test]
    fn add_watch_reply_has_an_error_response_body() {
        let mut out = BytesMut::new();
        encode_reply(&mut out, header(0), &Response::AddWatch);
        assert_eq!(&out[..4], &20i32.to_be_bytes());
        assert_eq!(&out[20..], &[0, 0, 0, 0]);
    }

    #[test]
    fn failed_multi_bytes() {
        let mut out = BytesMut::new();
        let body = Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NoNode),
        ]);
        encode_reply(&mut out, header(0), &body);
        let mut want = vec![];
        for code in [0i32, -101] {
            want.extend_from_slice(&(-1i32).to_be_bytes());
            want.push(0);
            want.extend_from_slice(&code.to_be_bytes());
            want.extend_from_slice(&code.to_be_bytes());
        }
        want.extend_from_slice(&[255, 255, 255, 255, 1, 255, 255, 255, 255]);
        assert_eq!(&out[20..], &want[..]);
    }

    #[test]
    fn multi_create_results_are_typed_by_stat() {
        let mut out = BytesMut::new();
        let body = Response::Multi(vec![MultiResult::Create {
            op: OpCode::CreateTtl as i32,
            path: "/t".into(),
            stat: Some(Stat::default()),
        }]);
        encode_reply(&mut out, header(0), &body);
        assert_eq!(&out[20..24], &15i32.to_be_bytes());
    }
}
