//! Property tests of the whole codec: every request and reply shape survives
//! encode → decode unchanged, and arbitrary bytes never make a decoder panic.
//!
//! Generated values stay within what the wire can carry: a create carries a
//! ttl exactly when its opcode is createTTL, a multi create result is typed
//! create (no stat) or create2 (stat), and strings are UTF-8. Node data
//! (create, setData, getData) is sometimes null, which must come back null
//! rather than empty.

use super::client::{decode_reply, encode_request, request_opcode};
use super::connect::*;
use super::decode::decode_request;
use super::encode::encode_reply;
use super::frame::next_frame;
use super::requests::*;
use super::responses::{MultiResult, ReplyHeader, Response};
use super::types::*;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn data() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from)
}

/// Node data: null, empty or bytes (null and empty each about 1 in 5).
fn node_data() -> impl Strategy<Value = NodeData> {
    prop_oneof![
        1 => Just(NodeData::NULL),
        1 => Just(NodeData::empty()),
        3 => data().prop_map(NodeData::from),
    ]
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..4)
}

fn acl() -> impl Strategy<Value = Acl> {
    (any::<i32>(), text(), text()).prop_map(|(perms, scheme, id)| Acl {
        perms,
        id: Id { scheme, id },
    })
}

fn acls() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(acl(), 0..3)
}

fn stat() -> impl Strategy<Value = Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        (any::<i64>(), any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(|((cz, mz, ct, mt), (v, cv, av), (eo, dl, nc, pz))| Stat {
            czxid: cz,
            mzxid: mz,
            ctime: ct,
            mtime: mt,
            version: v,
            cversion: cv,
            aversion: av,
            ephemeral_owner: eo,
            data_length: dl,
            num_children: nc,
            pzxid: pz,
        })
}

fn create_op() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Create),
        Just(OpCode::Create2),
        Just(OpCode::CreateContainer),
        Just(OpCode::CreateTtl),
    ]
}

fn create() -> impl Strategy<Value = (OpCode, CreateRequest)> {
    (
        create_op(),
        text(),
        node_data(),
        acls(),
        any::<i32>(),
        any::<i64>(),
    )
        .prop_map(|(op, path, data, acl, flags, ttl)| {
            let ttl = (op == OpCode::CreateTtl).then_some(ttl);
            let req = CreateRequest {
                path,
                data,
                acl,
                flags,
                ttl,
            };
            (op, req)
        })
}

fn path_watch() -> impl Strategy<Value = PathWatchRequest> {
    (text(), any::<bool>()).prop_map(|(path, watch)| PathWatchRequest { path, watch })
}

fn delete() -> impl Strategy<Value = DeleteRequest> {
    (text(), any::<i32>()).prop_map(|(path, version)| DeleteRequest { path, version })
}

fn set_data() -> impl Strategy<Value = SetDataRequest> {
    (text(), node_data(), any::<i32>()).prop_map(|(path, data, version)| SetDataRequest {
        path,
        data,
        version,
    })
}

fn check() -> impl Strategy<Value = CheckVersionRequest> {
    (text(), any::<i32>()).prop_map(|(path, version)| CheckVersionRequest { path, version })
}

fn write_ops() -> impl Strategy<Value = Vec<MultiOp>> {
    let op = prop_oneof![
        create().prop_map(|(op, c)| MultiOp::Create(op, c)),
        delete().prop_map(MultiOp::Delete),
        set_data().prop_map(MultiOp::SetData),
        check().prop_map(MultiOp::Check),
    ];
    prop::collection::vec(op, 0..4)
}

fn read_ops() -> impl Strategy<Value = Vec<MultiOp>> {
    let op = prop_oneof![
        text().prop_map(MultiOp::GetChildren),
        text().prop_map(MultiOp::GetData),
    ];
    prop::collection::vec(op, 0..4)
}

fn set_watches(v2: bool) -> impl Strategy<Value = SetWatchesRequest> {
    (
        any::<i64>(),
        strings(),
        strings(),
        strings(),
        strings(),
        strings(),
    )
        .prop_map(move |(z, d, e, c, p, pr)| SetWatchesRequest {
            relative_zxid: z,
            data_watches: d,
            exist_watches: e,
            child_watches: c,
            persistent_watches: if v2 { p } else { vec![] },
            persistent_recursive_watches: if v2 { pr } else { vec![] },
        })
}

fn watches() -> impl Strategy<Value = WatchesRequest> {
    (text(), any::<i32>()).prop_map(|(path, watcher_type)| WatchesRequest { path, watcher_type })
}

fn reconfig() -> impl Strategy<Value = ReconfigRequest> {
    let s = || prop::option::of(text());
    (s(), s(), s(), any::<i64>()).prop_map(|(j, l, n, id)| ReconfigRequest {
        joining_servers: j,
        leaving_servers: l,
        new_members: n,
        cur_config_id: id,
    })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        create().prop_map(|(op, c)| Request::Create(op, c)),
        delete().prop_map(Request::Delete),
        text().prop_map(Request::DeleteContainer),
        path_watch().prop_map(Request::Exists),
        path_watch().prop_map(Request::GetData),
        set_data().prop_map(Request::SetData),
        text().prop_map(Request::GetAcl),
        (text(), acls(), any::<i32>())
            .prop_map(|(path, acl, version)| Request::SetAcl(SetAclRequest { path, acl, version })),
        path_watch().prop_map(Request::GetChildren),
        path_watch().prop_map(Request::GetChildren2),
        text().prop_map(Request::Sync),
        Just(Request::Ping),
        check().prop_map(Request::Check),
        write_ops().prop_map(Request::Multi),
        read_ops().prop_map(Request::MultiRead),
        reconfig().prop_map(Request::Reconfig),
        watches().prop_map(Request::CheckWatches),
        watches().prop_map(Request::RemoveWatches),
        (any::<i32>(), text(), data()).prop_map(|(auth_type, scheme, auth)| {
            Request::Auth(AuthPacket {
                auth_type,
                scheme,
                auth,
            })
        }),
        set_watches(false).prop_map(Request::SetWatches),
        set_watches(true).prop_map(Request::SetWatches2),
        data().prop_map(Request::Sasl),
        text().prop_map(Request::GetEphemerals),
        text().prop_map(Request::GetAllChildrenNumber),
        (text(), any::<i32>())
            .prop_map(|(path, mode)| Request::AddWatch(AddWatchRequest { path, mode })),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::Ok),
        Just(ErrorCode::NoNode),
        Just(ErrorCode::NodeExists),
        Just(ErrorCode::BadVersion),
        Just(ErrorCode::RuntimeInconsistency),
        Just(ErrorCode::NotEmpty),
    ]
}

fn multi_result() -> impl Strategy<Value = MultiResult> {
    prop_oneof![
        (text(), prop::option::of(stat())).prop_map(|(path, stat)| MultiResult::Create {
            op: if stat.is_some() { 15 } else { 1 },
            path,
            stat,
        }),
        Just(MultiResult::Delete),
        Just(MultiResult::Check),
        stat().prop_map(MultiResult::SetData),
        strings().prop_map(MultiResult::GetChildren),
        (node_data(), stat()).prop_map(|(d, s)| MultiResult::GetData(d, s)),
        error_code().prop_map(MultiResult::Error),
    ]
}

fn event() -> impl Strategy<Value = WatcherEvent> {
    let t = prop_oneof![
        Just(EventType::None),
        Just(EventType::NodeCreated),
        Just(EventType::NodeDeleted),
        Just(EventType::NodeDataChanged),
        Just(EventType::NodeChildrenChanged),
        Just(EventType::DataWatchRemoved),
        Just(EventType::ChildWatchRemoved),
        Just(EventType::PersistentWatchRemoved),
    ];
    let s = prop_oneof![
        Just(KeeperState::SyncConnected),
        Just(KeeperState::Disconnected),
        Just(KeeperState::Expired),
        Just(KeeperState::AuthFailed),
        Just(KeeperState::ConnectedReadOnly),
        Just(KeeperState::SaslAuthenticated),
        Just(KeeperState::Closed),
    ];
    (t, s, text()).prop_map(|(event_type, state, path)| WatcherEvent {
        event_type,
        state,
        path,
    })
}

/// A reply body together with an opcode whose reply has that shape.
fn response() -> impl Strategy<Value = (OpCode, Response)> {
    use OpCode as O;
    prop_oneof![
        prop_oneof![
            Just(O::Delete),
            Just(O::Check),
            Just(O::SetWatches2),
            Just(O::Auth)
        ]
        .prop_map(|op| (op, Response::Empty)),
        text().prop_map(|p| (O::Create, Response::Create(p))),
        (
            prop_oneof![
                Just(O::Create2),
                Just(O::CreateContainer),
                Just(O::CreateTtl)
            ],
            text(),
            stat()
        )
            .prop_map(|(op, p, s)| (op, Response::Create2(p, s))),
        (
            prop_oneof![Just(O::Exists), Just(O::SetData), Just(O::SetAcl)],
            stat()
        )
            .prop_map(|(op, s)| (op, Response::Stat(s))),
        (node_data(), stat()).prop_map(|(d, s)| (O::GetData, Response::GetData(d, s))),
        (acls(), stat()).prop_map(|(a, s)| (O::GetAcl, Response::GetAcl(a, s))),
        strings().prop_map(|c| (O::GetChildren, Response::GetChildren(c))),
        (strings(), stat()).prop_map(|(c, s)| (O::GetChildren2, Response::GetChildren2(c, s))),
        text().prop_map(|p| (O::Sync, Response::Sync(p))),
        (
            prop_oneof![Just(O::Multi), Just(O::MultiRead)],
            prop::collection::vec(multi_result(), 0..5)
        )
            .prop_map(|(op, r)| (op, Response::Multi(r))),
        data().prop_map(|d| (O::Sasl, Response::Sasl(d))),
        strings().prop_map(|e| (O::GetEphemerals, Response::GetEphemerals(e))),
        any::<i32>().prop_map(|n| (O::GetAllChildrenNumber, Response::GetAllChildrenNumber(n))),
        prop::collection::vec((text(), text()), 0..3).prop_map(|v| {
            let infos = v
                .into_iter()
                .map(|(auth_scheme, user)| ClientInfo { auth_scheme, user })
                .collect();
            (O::WhoAmI, Response::WhoAmI(infos))
        }),
        (data(), stat()).prop_map(|(d, s)| (O::Reconfig, Response::Reconfig(d, s))),
        Just((O::AddWatch, Response::AddWatch)),
    ]
}

fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    (
        any::<i32>(),
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        data(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(pv, z, t, s, passwd, read_only)| ConnectRequest {
            protocol_version: pv,
            last_zxid_seen: z,
            timeout_ms: t,
            session_id: s,
            passwd,
            read_only,
        })
}

fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    (
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
        data(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(pv, t, s, passwd, read_only)| ConnectResponse {
            protocol_version: pv,
            timeout_ms: t,
            session_id: s,
            passwd,
            read_only,
        })
}

/// Strips the length prefix after checking it.
fn body(out: &BytesMut) -> &[u8] {
    let len = i32::from_be_bytes([out[0], out[1], out[2], out[3]]);
    assert_eq!(len as usize, out.len() - 4);
    &out[4..]
}

proptest! {
    #[test]
    fn request_round_trip(req in request(), xid in any::<i32>()) {
        let header = RequestHeader { xid, op: request_opcode(&req) as i32 };
        let mut out = BytesMut::new();
        encode_request(&mut out, header, &req);
        prop_assert_eq!(decode_request(body(&out)), Ok((header, req)));
    }

    #[test]
    fn reply_round_trip((op, resp) in response(), xid in 0..i32::MAX, zxid in any::<i64>()) {
        let header = ReplyHeader { xid, zxid, err: 0 };
        let mut out = BytesMut::new();
        encode_reply(&mut out, header, &resp);
        prop_assert_eq!(decode_reply(op, body(&out)), Ok((header, resp)));
    }

    #[test]
    fn error_reply_round_trip((op, resp) in response(), code in error_code()) {
        prop_assume!(code != ErrorCode::Ok);
        let header = ReplyHeader { xid: 1, zxid: 2, err: code.code() };
        let mut out = BytesMut::new();
        encode_reply(&mut out, header, &resp);
        prop_assert_eq!(out.len(), 20);
        prop_assert_eq!(decode_reply(op, body(&out)), Ok((header, Response::Empty)));
    }

    #[test]
    fn event_round_trip(e in event(), op in any::<i32>()) {
        let op = OpCode::from_i32(op).unwrap_or(OpCode::GetData);
        let mut out = BytesMut::new();
        super::encode::encode_notification(&mut out, &e);
        let header = ReplyHeader { xid: -1, zxid: -1, err: 0 };
        prop_assert_eq!(decode_reply(op, body(&out)), Ok((header, Response::Event(e))));
    }

    #[test]
    fn connect_request_round_trip(req in connect_request()) {
        let mut out = BytesMut::new();
        encode_connect_request(&mut out, &req);
        prop_assert_eq!(decode_connect_request(body(&out)), Ok(req));
    }

    #[test]
    fn connect_response_round_trip(resp in connect_response()) {
        let mut out = BytesMut::new();
        encode_connect_response(&mut out, &resp);
        prop_assert_eq!(decode_connect_response(body(&out)), Ok(resp));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), op in any::<i32>()) {
        let _ = decode_request(&bytes);
        let _ = decode_connect_request(&bytes);
        let _ = decode_connect_response(&bytes);
        if let Some(op) = OpCode::from_i32(op) {
            let _ = decode_reply(op, &bytes);
        }
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = next_frame(&mut buf, 64) {}
    }

    /// Arbitrary bytes behind a valid header, so bodies of every opcode are
    /// exercised rather than mostly unknown opcodes.
    #[test]
    fn arbitrary_bodies_never_panic(req in request(), tail in prop::collection::vec(any::<u8>(), 0..128), cut in any::<prop::sample::Index>()) {
        let mut out = BytesMut::new();
        encode_request(&mut out, RequestHeader { xid: 1, op: request_opcode(&req) as i32 }, &req);
        let mut bytes = out[4..].to_vec();
        bytes.truncate(8 + cut.index(bytes.len() - 7));
        bytes.extend_from_slice(&tail);
        let _ = decode_request(&bytes);
    }

    #[test]
    fn every_strict_prefix_of_a_request_is_an_error(req in request()) {
        let mut out = BytesMut::new();
        let header = RequestHeader { xid: 1, op: request_opcode(&req) as i32 };
        encode_request(&mut out, header, &req);
        let full = &out[4..];
        for cut in 0..full.len() {
            // Parsing is deterministic and reads every byte it was given by
            // the encoder, so a shorter body must run out.
            prop_assert!(decode_request(&full[..cut]).is_err());
        }
    }
}
