use super::*;
use crate::proto::requests::PathWatchRequest;
use crate::proto::types::{Acl, EventType, NodeData, SessionId, Stat};
use crate::tree::read::read;

/// A tree plus a zxid/time counter: every call is one write.
struct Env {
    tree: Tree,
    zxid: i64,
    ctx: PrepContext,
}

const S1: SessionId = 0x11;
const S2: SessionId = 0x22;

impl Env {
    fn new() -> Env {
        Env {
            tree: Tree::new(),
            zxid: 0,
            ctx: PrepContext {
                extended_types_enabled: true,
                ..PrepContext::default()
            },
        }
    }
    fn header(&mut self, session: SessionId) -> TxnHeader {
        self.zxid += 1;
        TxnHeader {
            session_id: session,
            cxid: 1,
            zxid: self.zxid,
            time_ms: 1000 + self.zxid,
        }
    }
    fn run(&mut self, session: SessionId, req: Request) -> Executed {
        let h = self.header(session);
        let e = execute(&mut self.tree, h, &req, &self.ctx);
        assert_eq!(e.record.header, h);
        assert_eq!(
            self.tree.last_zxid(),
            h.zxid,
            "every write consumes its zxid"
        );
        self.tree.check_invariants().unwrap();
        e
    }
    fn code(&mut self, session: SessionId, req: Request) -> ErrorCode {
        match self.run(session, req).reply {
            Ok(_) => ErrorCode::Ok,
            Err(c) => c,
        }
    }
    fn stat(&self, path: &str) -> Stat {
        self.tree.node(path).unwrap().stat()
    }
}

fn creq(path: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: NodeData::from_static(b"v"),
        acl: Acl::open_unsafe(),
        flags,
        ttl: None,
    }
}
fn create(path: &str, flags: i32) -> Request {
    Request::Create(OpCode::Create, creq(path, flags))
}
fn create2(path: &str, flags: i32) -> Request {
    Request::Create(OpCode::Create2, creq(path, flags))
}
fn create_ttl(path: &str, flags: i32, ttl: i64) -> Request {
    let mut r = creq(path, flags);
    r.ttl = Some(ttl);
    Request::Create(OpCode::CreateTtl, r)
}
fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}
fn set_data(path: &str, data: &'static [u8], version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: NodeData::from_static(data),
        version,
    })
}
fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.into(),
        acl,
        version,
    })
}
fn check(path: &str, version: i32) -> Request {
    Request::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}
fn mop(r: Request) -> MultiOp {
    match r {
        Request::Create(op, c) => MultiOp::Create(op, c),
        Request::Delete(d) => MultiOp::Delete(d),
        Request::SetData(s) => MultiOp::SetData(s),
        Request::Check(c) => MultiOp::Check(c),
        other => panic!("not a multi op: {other:?}"),
    }
}

#[test]
fn create_error_codes() {
    let mut e = Env::new();
    assert_eq!(e.code(S1, create("/p", 0)), ErrorCode::Ok);
    assert_eq!(e.code(S1, create("/eph", 1)), ErrorCode::Ok);
    let mut bad_acl = creq("/q", 0);
    bad_acl.acl = vec![];
    let mut auth_acl = creq("/q", 0);
    auth_acl.acl[0].id = crate::proto::types::Id::new("auth", "");
    let table: Vec<(Request, ErrorCode)> = vec![
        (create("/p", 0), ErrorCode::NodeExists),
        (create("/", 0), ErrorCode::NodeExists),
        (create("/zookeeper", 0), ErrorCode::NodeExists),
        (create("/missing/x", 0), ErrorCode::NoNode),
        (create("/missing/", 0), ErrorCode::NoNode),
        (create("/p/", 0), ErrorCode::BadArguments),
        (create("/p//x", 0), ErrorCode::NoNode),
        (create("/p/.", 0), ErrorCode::BadArguments),
        (create("/p/..", 0), ErrorCode::BadArguments),
        (create("", 0), ErrorCode::BadArguments),
        (create("p", 0), ErrorCode::BadArguments),
        (create("/p\0x", 0), ErrorCode::BadArguments),
        (create("/p\u{1}", 0), ErrorCode::BadArguments),
        (create("/x", 7), ErrorCode::BadArguments),
        (create("/x", -1), ErrorCode::BadArguments),
        (create("/eph/child", 0), ErrorCode::NoChildrenForEphemerals),
        (create("/eph", 0), ErrorCode::NodeExists),
        (create("/zookeeper/config/x", 0), ErrorCode::NoAuth),
        (
            Request::Create(OpCode::Create, bad_acl),
            ErrorCode::InvalidAcl,
        ),
        (
            Request::Create(OpCode::Create, auth_acl),
            ErrorCode::InvalidAcl,
        ),
        // TTL rules (extended types enabled here)
        (create("/t", 5), ErrorCode::BadArguments),
        (create_ttl("/t", 5, 0), ErrorCode::BadArguments),
        (create_ttl("/t", 5, -1), ErrorCode::BadArguments),
        (
            create_ttl("/t", 5, 0x100_0000_0000),
            ErrorCode::BadArguments,
        ),
        (create_ttl("/t", 0, 100), ErrorCode::BadArguments),
        (create_ttl("/t", 0, -1), ErrorCode::BadArguments),
    ];
    for (req, want) in table {
        let before = e.tree.node_count();
        assert_eq!(e.code(S1, req.clone()), want, "{req:?}");
        assert_eq!(e.tree.node_count(), before);
    }
    // Sequential with a trailing slash is a valid name: "/p/" + suffix.
    assert_eq!(e.code(S1, create("/p/", 2)), ErrorCode::Ok);
    assert!(e.tree.node("/p/0000000000").is_some());
    // TTL needs extendedTypesEnabled.
    e.ctx.extended_types_enabled = false;
    assert_eq!(
        e.code(S1, create_ttl("/t", 5, 100)),
        ErrorCode::Unimplemented
    );
    assert_eq!(e.code(S1, create("/t", 6)), ErrorCode::Unimplemented);
}

#[test]
fn create_stats_and_replies() {
    let mut e = Env::new();
    let r = e.run(S1, create("/a", 0));
    assert_eq!(r.reply, Ok(Response::Create("/a".into())));
    assert_eq!(
        r.changes,
        vec![
            Change {
                event: EventType::NodeCreated,
                path: "/a".into(),
                acl: Acl::open_unsafe().into(),
            },
            Change {
                event: EventType::NodeChildrenChanged,
                path: "/".into(),
                acl: Acl::open_unsafe().into(),
            },
        ]
    );
    let want = Stat {
        czxid: 1,
        mzxid: 1,
        pzxid: 1,
        ctime: 1001,
        mtime: 1001,
        data_length: 1,
        ..Stat::default()
    };
    assert_eq!(e.stat("/a"), want);
    let root = e.stat("/");
    assert_eq!((root.cversion, root.pzxid, root.num_children), (1, 1, 2));

    let r = e.run(S2, create2("/a/e", 1));
    let st = e.stat("/a/e");
    assert_eq!(r.reply, Ok(Response::Create2("/a/e".into(), st)));
    assert_eq!(st.ephemeral_owner, S2);
    assert_eq!(e.tree.ephemeral_count(), 1);

    let r = e.run(S1, Request::Create(OpCode::CreateContainer, creq("/c", 0)));
    assert!(matches!(r.reply, Ok(Response::Create2(..))));
    assert_eq!(e.stat("/c").ephemeral_owner, i64::MIN);
    // Ephemeral children are allowed under containers and TTL nodes.
    assert_eq!(e.code(S1, create("/c/e", 1)), ErrorCode::Ok);
    let r = e.run(S1, create_ttl("/t", 5, 5000));
    assert!(matches!(r.reply, Ok(Response::Create2(..))));
    assert_eq!(
        e.stat("/t").ephemeral_owner,
        (0xff00_0000_0000_0000_u64 as i64) | 5000
    );
    // Opcode 1 with container flags makes a plain persistent node (CreateTxn has no container bit).
    e.run(S1, create("/notc", 4));
    assert_eq!(e.stat("/notc").ephemeral_owner, 0);
    // createContainer with ephemeral flags: a container.
    e.run(S1, Request::Create(OpCode::CreateContainer, creq("/c2", 1)));
    assert_eq!(e.stat("/c2").ephemeral_owner, i64::MIN);
}

#[test]
fn sequential_names_from_parent_cversion() {
    let mut e = Env::new();
    e.run(S1, create("/q", 0));
    let mut names = vec![];
    for _ in 0..3 {
        let r = e.run(S1, create("/q/n-", 2));
        let Ok(Response::Create(p)) = r.reply else {
            panic!()
        };
        names.push(p);
    }
    assert_eq!(
        names,
        ["/q/n-0000000000", "/q/n-0000000001", "/q/n-0000000002"]
    );
    // Delete does not bump cversion; failed creates do not either.
    e.run(S1, delete("/q/n-0000000002", -1));
    assert_eq!(
        e.code(S1, create("/q/n-0000000000", 0)),
        ErrorCode::NodeExists
    );
    let r = e.run(S1, create("/q/n-", 3));
    assert_eq!(r.reply, Ok(Response::Create("/q/n-0000000003".into())));
    let r = e.run(S1, create("/q/", 2));
    assert_eq!(r.reply, Ok(Response::Create("/q/0000000004".into())));
    assert_eq!(
        format!("{:010}", -5),
        "-000000005",
        "Java %010d for negatives"
    );
}

#[test]
fn delete_rules() {
    let mut e = Env::new();
    e.run(S1, create("/a", 0));
    e.run(S1, create("/a/b", 0));
    let table: Vec<(Request, ErrorCode)> = vec![
        (delete("/", -1), ErrorCode::BadArguments),
        (delete("/zookeeper", -1), ErrorCode::BadArguments),
        (delete("/zookeeper/quota", -1), ErrorCode::BadArguments),
        (delete("/zookeeper/config", -1), ErrorCode::BadArguments),
        (delete("", -1), ErrorCode::BadArguments),
        (delete("a", -1), ErrorCode::BadArguments),
        (delete("/a\0", -1), ErrorCode::BadArguments),
        (delete("/a/", -1), ErrorCode::NoNode),
        (delete("/x", -1), ErrorCode::NoNode),
        (delete("/x/y", -1), ErrorCode::NoNode),
        (delete("/a", -1), ErrorCode::NotEmpty),
        (delete("/a", 5), ErrorCode::BadVersion),
        (delete("/a/b", 1), ErrorCode::BadVersion),
    ];
    for (req, want) in table {
        assert_eq!(e.code(S1, req.clone()), want, "{req:?}");
    }
    let before = e.stat("/a");
    let r = e.run(S1, delete("/a/b", 0));
    assert_eq!(r.reply, Ok(Response::Empty));
    assert_eq!(
        r.changes
            .iter()
            .map(|c| (c.event, c.path.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (EventType::NodeDeleted, "/a/b"),
            (EventType::NodeChildrenChanged, "/a")
        ]
    );
    let after = e.stat("/a");
    assert_eq!(after.cversion, before.cversion, "delete keeps cversion");
    assert_eq!(after.pzxid, e.zxid);
    assert_eq!(after.num_children, 0);
    assert_eq!(e.code(S1, delete("/a", 0)), ErrorCode::Ok);
}

#[test]
fn set_data_set_acl_check() {
    let mut e = Env::new();
    e.run(S1, create("/a", 0));
    assert_eq!(e.code(S1, set_data("/a", b"x", 3)), ErrorCode::BadVersion);
    assert_eq!(e.code(S1, set_data("/b", b"x", -1)), ErrorCode::NoNode);
    assert_eq!(
        e.code(S1, set_data("/a/", b"x", -1)),
        ErrorCode::BadArguments
    );
    assert_eq!(
        e.code(S1, set_data("/zookeeper/config", b"x", -1)),
        ErrorCode::NoAuth
    );
    let r = e.run(S1, set_data("/a", b"hello", 0));
    let st = e.stat("/a");
    assert_eq!(r.reply, Ok(Response::Stat(st)));
    assert_eq!(
        (st.version, st.mzxid, st.mtime, st.data_length, st.czxid),
        (1, e.zxid, 1000 + e.zxid, 5, 1)
    );
    assert_eq!(
        r.changes,
        vec![Change {
            event: EventType::NodeDataChanged,
            path: "/a".into(),
            acl: Acl::open_unsafe().into(),
        }]
    );
    // setACL: aversion only, no watch, no mzxid.
    assert_eq!(e.code(S1, set_acl("/a", vec![], -1)), ErrorCode::InvalidAcl);
    assert_eq!(
        e.code(S1, set_acl("/nope", Acl::read_unsafe(), -1)),
        ErrorCode::NoNode
    );
    assert_eq!(
        e.code(S1, set_acl("/a", Acl::read_unsafe(), 1)),
        ErrorCode::BadVersion
    );
    let mz = e.stat("/a").mzxid;
    let r = e.run(S1, set_acl("/a", Acl::read_unsafe(), 0));
    assert!(r.changes.is_empty());
    assert_eq!((e.stat("/a").aversion, e.stat("/a").mzxid), (1, mz));
    assert_eq!(&*e.tree.node("/a").unwrap().acl, &Acl::read_unsafe()[..]);
    // Now world may not write or admin it.
    assert_eq!(e.code(S1, set_data("/a", b"x", -1)), ErrorCode::NoAuth);
    assert_eq!(
        e.code(S1, set_acl("/a", Acl::open_unsafe(), -1)),
        ErrorCode::NoAuth
    );
    // check
    assert_eq!(e.code(S1, check("/a", 1)), ErrorCode::Ok);
    assert_eq!(e.code(S1, check("/a", 0)), ErrorCode::BadVersion);
    assert_eq!(e.code(S1, check("/zz", -1)), ErrorCode::NoNode);
    assert_eq!(e.code(S1, check("zz", -1)), ErrorCode::BadArguments);
}

#[test]
fn failed_requests_change_nothing_but_zxid() {
    let mut e = Env::new();
    e.run(S1, create("/a", 0));
    let before = format!("{:?}", e.tree.node("/a").unwrap().stat);
    let r = e.run(S1, set_data("/a", b"x", 9));
    assert_eq!(r.record.txn, Txn::Error(ErrorCode::BadVersion));
    assert!(r.changes.is_empty());
    assert_eq!(format!("{:?}", e.tree.node("/a").unwrap().stat), before);
    let r = e.run(S1, Request::Sync("/".into()));
    assert_eq!(r.reply, Err(ErrorCode::Unimplemented));
}

#[test]
fn multi_success_and_failure() {
    let mut e = Env::new();
    e.run(S1, create("/m", 0));
    // Each op sees the earlier ones.
    let ops = vec![
        mop(create("/m/a", 0)),
        mop(Request::Create(OpCode::Create2, creq("/m/a/b", 0))),
        mop(set_data("/m/a", b"zz", 0)),
        mop(check("/m/a", 1)),
        mop(delete("/m/a/b", 0)),
        mop(create("/m/s-", 2)),
    ];
    let r = e.run(S1, Request::Multi(ops));
    let z = e.zxid;
    let Ok(Response::Multi(res)) = r.reply else {
        panic!("{:?}", r.reply)
    };
    assert_eq!(
        res[0],
        MultiResult::Create {
            op: 1,
            path: "/m/a".into(),
            stat: None
        }
    );
    // create2 inside multi answers like create (ZooKeeper's Op.create).
    assert_eq!(
        res[1],
        MultiResult::Create {
            op: 1,
            path: "/m/a/b".into(),
            stat: None
        }
    );
    assert!(matches!(&res[2], MultiResult::SetData(s) if s.version == 1));
    assert_eq!(res[3], MultiResult::Check);
    assert_eq!(res[4], MultiResult::Delete);
    assert_eq!(
        res[5],
        MultiResult::Create {
            op: 1,
            path: "/m/s-0000000001".into(),
            stat: None
        }
    );
    let ev: Vec<_> = r
        .changes
        .iter()
        .map(|c| (c.event, c.path.as_str()))
        .collect();
    assert_eq!(
        ev,
        vec![
            (EventType::NodeCreated, "/m/a"),
            (EventType::NodeChildrenChanged, "/m"),
            (EventType::NodeCreated, "/m/a/b"),
            (EventType::NodeChildrenChanged, "/m/a"),
            (EventType::NodeDataChanged, "/m/a"),
            (EventType::NodeDeleted, "/m/a/b"),
            (EventType::NodeChildrenChanged, "/m/a"),
            (EventType::NodeCreated, "/m/s-0000000001"),
            (EventType::NodeChildrenChanged, "/m"),
        ]
    );
    assert_eq!(e.stat("/m/a").mzxid, z);

    // Failure: nothing applied, per-op results as ZooKeeper.
    let snapshot = e.tree.clone();
    let ops = vec![
        mop(create("/m/x", 0)),
        mop(set_data("/m/x", b"1", 0)),
        mop(delete("/m/a", 7)),
        mop(create("/m/y", 0)),
    ];
    let r = e.run(S1, Request::Multi(ops));
    assert_eq!(
        r.reply,
        Ok(Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::BadVersion),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ]))
    );
    assert!(r.changes.is_empty());
    assert!(e.tree.node("/m/x").is_none());
    assert_eq!(e.stat("/m"), snapshot.node("/m").unwrap().stat());
    let Txn::Multi(txns) = &r.record.txn else {
        panic!()
    };
    assert!(matches!(txns[0], Txn::Create(_)));
    assert_eq!(txns[2], Txn::Error(ErrorCode::BadVersion));
    assert_eq!(txns[3], Txn::Error(ErrorCode::RuntimeInconsistency));

    // A failed multi did not advance the sequential counter.
    let r = e.run(S1, Request::Multi(vec![mop(create("/m/s-", 2))]));
    let Ok(Response::Multi(res)) = r.reply else {
        panic!()
    };
    assert_eq!(
        res[0],
        MultiResult::Create {
            op: 1,
            path: "/m/s-0000000002".into(),
            stat: None
        }
    );

    // Empty multi is fine; read ops in a write multi fail the whole request.
    assert_eq!(
        e.run(S1, Request::Multi(vec![])).reply,
        Ok(Response::Multi(vec![]))
    );
    let r = e.run(
        S1,
        Request::Multi(vec![mop(create("/m/r", 0)), MultiOp::GetData("/m".into())]),
    );
    assert_eq!(r.reply, Err(ErrorCode::MarshallingError));
    assert!(e.tree.node("/m/r").is_none());
    // Unknown flags fail that op only (BadArguments), as in ZooKeeper 3.8.
    let r = e.run(
        S1,
        Request::Multi(vec![
            mop(create("/m/g", 0)),
            MultiOp::Create(OpCode::Create, creq("/m/f", 9)),
        ]),
    );
    assert_eq!(
        r.reply,
        Ok(Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::BadArguments),
        ]))
    );
    // A TTL mode under another create opcode fails the whole multi.
    let r = e.run(
        S1,
        Request::Multi(vec![MultiOp::Create(OpCode::Create2, creq("/m/f", 5))]),
    );
    assert_eq!(r.reply, Err(ErrorCode::MarshallingError));
}

/// Null data from a create or setData (plain or in a multi) reaches the
/// txn and the tree as null, and getData / multiRead answer it as null.
#[test]
fn null_data_survives_prep_apply_and_read() {
    let mut e = Env::new();
    let mut c = creq("/n", 0);
    c.data = NodeData::NULL;
    let r = e.run(S1, Request::Create(OpCode::Create, c.clone()));
    match &r.record.txn {
        Txn::Create(t) => assert!(t.data.is_null()),
        other => panic!("unexpected {other:?}"),
    }
    let req = Request::GetData(PathWatchRequest {
        path: "/n".into(),
        watch: false,
    });
    let get = |e: &Env| match read(&e.tree, S1, &req) {
        Ok(Response::GetData(d, s)) => (d, s.data_length),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(get(&e), (NodeData::NULL, 0));
    e.run(S1, set_data("/n", b"x", -1));
    let null_set = SetDataRequest {
        path: "/n".into(),
        data: NodeData::NULL,
        version: -1,
    };
    e.run(S1, Request::Multi(vec![MultiOp::SetData(null_set)]));
    assert_eq!(get(&e), (NodeData::NULL, 0));
    c.path = "/n/m".into();
    e.run(
        S1,
        Request::Multi(vec![MultiOp::Create(OpCode::Create2, c)]),
    );
    let reads = Request::MultiRead(vec![MultiOp::GetData("/n/m".into())]);
    match read(&e.tree, S1, &reads) {
        Ok(Response::Multi(res)) => {
            assert!(matches!(&res[..], [MultiResult::GetData(d, _)] if d.is_null()))
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn multi_creates_take_their_opcode_from_the_flags() {
    // ZooKeeper 3.8 rebuilds multi creates with Op.create(..., flags): the
    // header's opcode does not matter (found by the differential test).
    let mut e = Env::new();
    e.run(S1, create("/m", 0));
    let mut ttl = creq("/m/t", 5);
    ttl.ttl = Some(1000);
    let mut plain_with_ttl = creq("/m/p", 0);
    plain_with_ttl.ttl = Some(-5);
    let r = e.run(
        S1,
        Request::Multi(vec![
            MultiOp::Create(OpCode::Create2, creq("/m/e", 1)),
            MultiOp::Create(OpCode::Create, creq("/m/c", 4)),
            MultiOp::Create(OpCode::CreateContainer, creq("/m/n", 0)),
            MultiOp::Create(OpCode::CreateTtl, ttl),
            MultiOp::Create(OpCode::CreateTtl, plain_with_ttl),
        ]),
    );
    let Ok(Response::Multi(res)) = r.reply else {
        panic!("{:?}", r.reply)
    };
    let ops: Vec<(i32, bool)> = res
        .iter()
        .map(|m| match m {
            MultiResult::Create { op, stat, .. } => (*op, stat.is_some()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ops,
        vec![(1, false), (19, true), (1, false), (21, true), (1, false)]
    );
    let kind = |p: &str| e.tree.node(p).unwrap().kind();
    assert_eq!(kind("/m/e"), crate::tree::NodeKind::Ephemeral(S1));
    assert_eq!(kind("/m/c"), crate::tree::NodeKind::Container);
    assert_eq!(kind("/m/n"), crate::tree::NodeKind::Persistent);
    assert_eq!(kind("/m/p"), crate::tree::NodeKind::Persistent);
}

#[test]
fn close_session_removes_ephemerals_with_events() {
    let mut e = Env::new();
    e.run(S1, create("/d", 0));
    e.run(S1, create("/d/e1", 1));
    e.run(S1, create("/d/e2", 3));
    e.run(S2, create("/d/other", 1));
    let want_order = e.tree.ephemerals_of(S1);
    assert_eq!(want_order.len(), 2);
    let h = e.header(S1);
    let r = close_session(&mut e.tree, h);
    assert_eq!(
        r.record.txn,
        Txn::CloseSession {
            paths: want_order.clone()
        }
    );
    let deleted: Vec<_> = r
        .changes
        .iter()
        .filter(|c| c.event == EventType::NodeDeleted)
        .map(|c| c.path.clone())
        .collect();
    assert_eq!(deleted, want_order);
    assert_eq!(r.changes.len(), 4);
    assert_eq!(e.tree.children("/d").unwrap(), vec!["other"]);
    assert_eq!(e.tree.ephemeral_count(), 1);
    assert_eq!(e.stat("/d").pzxid, e.zxid);
    e.tree.check_invariants().unwrap();
    // Closing again is harmless.
    let h = e.header(S1);
    assert!(close_session(&mut e.tree, h).changes.is_empty());
    let h = e.header(S1);
    assert_eq!(
        create_session(&mut e.tree, h, 30_000).reply,
        Ok(Response::Empty)
    );
}

#[test]
fn sweep_delete_rules() {
    let mut e = Env::new();
    e.run(S1, Request::Create(OpCode::CreateContainer, creq("/c", 0)));
    e.run(S1, create("/c/x", 0));
    e.run(S1, create("/e", 1));
    e.run(S1, create("/p", 0));
    let h = e.header(0);
    assert_eq!(
        sweep_delete(&mut e.tree, h, "/c").reply,
        Err(ErrorCode::NotEmpty)
    );
    let h = e.header(0);
    assert_eq!(
        sweep_delete(&mut e.tree, h, "/e").reply,
        Err(ErrorCode::BadVersion)
    );
    let h = e.header(0);
    assert_eq!(
        sweep_delete(&mut e.tree, h, "/nope").reply,
        Err(ErrorCode::NoNode)
    );
    let h = e.header(0);
    assert_eq!(
        sweep_delete(&mut e.tree, h, "/zookeeper").reply,
        Err(ErrorCode::BadArguments)
    );
    e.run(S1, delete("/c/x", -1));
    assert_eq!(e.tree.sweep_candidates(0), vec!["/c"]);
    let h = e.header(0);
    let r = sweep_delete(&mut e.tree, h, "/c");
    assert_eq!(r.reply, Ok(Response::Empty));
    assert_eq!(r.record.txn, Txn::DeleteContainer { path: "/c".into() });
    assert!(e.tree.node("/c").is_none());
    // deleteContainer also removes a plain persistent node (only ephemerals are refused).
    let h = e.header(0);
    assert_eq!(
        sweep_delete(&mut e.tree, h, "/p").reply,
        Ok(Response::Empty)
    );
}

#[test]
fn reads_match_finalrequestprocessor() {
    let mut e = Env::new();
    e.run(S1, create("/r", 0));
    e.run(S1, create("/r/a", 1));
    e.run(S1, create("/r/a2", 0));
    e.run(S1, create("/r/a2/deep", 0));
    let pw = |p: &str| PathWatchRequest {
        path: p.into(),
        watch: false,
    };
    let t = &e.tree;
    assert_eq!(
        read(t, S1, &Request::Exists(pw("/r"))),
        Ok(Response::Stat(t.node("/r").unwrap().stat()))
    );
    assert_eq!(
        read(t, S1, &Request::Exists(pw("/zz"))),
        Err(ErrorCode::NoNode)
    );
    assert_eq!(
        read(t, S1, &Request::Exists(pw("/z\0"))),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        read(t, S1, &Request::GetData(pw("/r/"))),
        Err(ErrorCode::NoNode)
    );
    assert!(matches!(
        read(t, S1, &Request::GetData(pw(""))),
        Ok(Response::GetData(..))
    ));
    assert_eq!(
        read(t, S1, &Request::GetAllChildrenNumber("/r".into())),
        Ok(Response::GetAllChildrenNumber(3))
    );
    assert_eq!(
        read(t, S1, &Request::GetAllChildrenNumber("/".into())),
        Ok(Response::GetAllChildrenNumber(7))
    );
    assert_eq!(
        read(t, S1, &Request::GetAllChildrenNumber("".into())),
        Ok(Response::GetAllChildrenNumber(8))
    );
    assert_eq!(
        read(t, S1, &Request::GetAllChildrenNumber("/q".into())),
        Err(ErrorCode::NoNode)
    );
    assert_eq!(
        read(t, S1, &Request::GetEphemerals("/".into())),
        Ok(Response::GetEphemerals(vec!["/r/a".into()]))
    );
    assert_eq!(
        read(t, S1, &Request::GetEphemerals(" ".into())),
        Ok(Response::GetEphemerals(vec!["/r/a".into()]))
    );
    assert_eq!(
        read(t, S1, &Request::GetEphemerals("/r/a".into())),
        Ok(Response::GetEphemerals(vec!["/r/a".into()]))
    );
    assert_eq!(
        read(t, S1, &Request::GetEphemerals("/x".into())),
        Ok(Response::GetEphemerals(vec![]))
    );
    assert_eq!(
        read(t, S2, &Request::GetEphemerals("/".into())),
        Ok(Response::GetEphemerals(vec![]))
    );
    let Ok(Response::GetChildren2(kids, st)) = read(t, S1, &Request::GetChildren2(pw("/r"))) else {
        panic!()
    };
    assert_eq!((kids.len(), st.num_children), (2, 2));
    assert_eq!(
        read(t, S1, &Request::GetAcl("/zookeeper/config".into())),
        Ok(Response::GetAcl(
            Acl::read_unsafe(),
            t.node("/zookeeper/config").unwrap().stat()
        ))
    );
    let r = read(
        t,
        S1,
        &Request::MultiRead(vec![
            MultiOp::GetData("/r".into()),
            MultiOp::GetChildren("/nope".into()),
        ]),
    );
    let Ok(Response::Multi(res)) = r else {
        panic!()
    };
    assert!(matches!(res[0], MultiResult::GetData(..)));
    assert_eq!(res[1], MultiResult::Error(ErrorCode::NoNode));
    assert_eq!(
        read(
            t,
            S1,
            &Request::MultiRead(vec![MultiOp::Delete(DeleteRequest {
                path: "/r".into(),
                version: -1
            })])
        ),
        Err(ErrorCode::MarshallingError)
    );
}

mod randomized {
    use super::*;
    use proptest::prelude::*;

    fn path_strategy() -> impl Strategy<Value = String> {
        let seg = proptest::sample::select(vec!["a", "b", "c", "s-", "", "."]);
        proptest::collection::vec(seg, 1..4).prop_map(|v| format!("/{}", v.join("/")))
    }

    fn op_strategy() -> impl Strategy<Value = (u8, String, i32, i32, u8)> {
        (0u8..8, path_strategy(), 0i32..8, -1i32..2, 0u8..4)
    }

    fn to_request(
        (kind, path, flags, version, sess): &(u8, String, i32, i32, u8),
    ) -> (SessionId, Request) {
        let s = i64::from(*sess) + 1;
        let req = match kind {
            0 | 1 => create(path, *flags),
            2 => Request::Create(OpCode::CreateContainer, creq(path, 0)),
            3 => delete(path, *version),
            4 => set_data(path, b"xy", *version),
            5 => Request::Multi(vec![
                mop(create(path, *flags % 4)),
                mop(delete(path, *version)),
            ]),
            6 => create_ttl(path, *flags, 10),
            _ => Request::CloseSession,
        };
        (s, req)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn random_writes_keep_invariants(ops in proptest::collection::vec(op_strategy(), 1..60)) {
            let mut e = Env::new();
            let mut cversions: std::collections::HashMap<(String, i64), i32> = Default::default();
            for op in &ops {
                let (s, req) = to_request(op);
                let before = e.tree.clone();
                let r = e.run(s, req);
                if r.reply.is_err() || matches!(r.record.txn, Txn::Error(_)) {
                    prop_assert_eq!(before.node_count(), e.tree.node_count());
                    prop_assert!(r.changes.is_empty());
                }
                e.tree.check_invariants().map_err(TestCaseError::fail)?;
                // Keyed by (path, czxid): a re-created node starts again at 0.
                for (p, czxid, n) in walk(&e.tree) {
                    let key = (p, czxid);
                    if let Some(prev) = cversions.get(&key) {
                        prop_assert!(n >= *prev, "cversion of {} went back", key.0);
                    }
                    cversions.insert(key, n);
                }
                // Every ephemeral's owner is a session that made writes.
                for (sess, _) in e.tree.sessions_with_ephemerals() {
                    prop_assert!((1..=4).contains(&sess));
                }
            }
        }

        /// Replaying the log reproduces the tree.
        #[test]
        fn replay_is_deterministic(ops in proptest::collection::vec(op_strategy(), 1..40)) {
            let mut e = Env::new();
            let mut log = vec![];
            for op in &ops {
                let (s, req) = to_request(op);
                log.push(e.run(s, req).record);
            }
            let mut t = Tree::new();
            for rec in &log {
                t.apply(rec);
            }
            prop_assert_eq!(walk_full(&t), walk_full(&e.tree));
            prop_assert_eq!(t.approximate_data_size(), e.tree.approximate_data_size());
        }
    }

    fn walk(t: &Tree) -> Vec<(String, i64, i32)> {
        walk_full(t)
            .into_iter()
            .map(|(p, s, _)| (p, s.czxid, s.cversion))
            .collect()
    }

    fn walk_full(t: &Tree) -> Vec<(String, Stat, Vec<String>)> {
        let mut out = vec![];
        let mut stack = vec!["/".to_string()];
        while let Some(p) = stack.pop() {
            let n = t.node(&p).unwrap();
            let kids = n.children();
            for k in &kids {
                stack.push(if p == "/" {
                    format!("/{k}")
                } else {
                    format!("{p}/{k}")
                });
            }
            out.push((p, n.stat(), kids));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[test]
fn exists_checks_no_acl_but_get_data_does() {
    // ZooKeeper 3.8: exists answers a node's Stat whatever its ACL (found by
    // the differential test); getData needs READ.
    let mut e = Env::new();
    let mut r = creq("/secret", 0);
    r.acl = vec![Acl {
        perms: crate::proto::types::perms::WRITE,
        id: crate::proto::types::Id::new("world", "anyone"),
    }];
    e.run(S1, Request::Create(OpCode::Create, r));
    let pw = PathWatchRequest {
        path: "/secret".into(),
        watch: false,
    };
    let t = &e.tree;
    assert!(matches!(
        read(t, S1, &Request::Exists(pw.clone())),
        Ok(Response::Stat(_))
    ));
    assert_eq!(read(t, S1, &Request::GetData(pw)), Err(ErrorCode::NoAuth));
}

/// Found by tests/security.rs: a client's deleteContainer deleted any empty
/// non-ephemeral node, whatever its parent's ACL said. ZooKeeper 3.8 answers
/// BadArguments to every client deleteContainer (and consumes a zxid).
#[test]
fn client_delete_container_never_deletes() {
    let mut e = Env::new();
    e.run(S1, create("/c", 4));
    e.run(S1, create("/p", 0));
    for path in ["/c", "/p", "/nope", "/zookeeper", "bad"] {
        assert_eq!(
            e.code(S2, Request::DeleteContainer(path.into())),
            ErrorCode::BadArguments,
            "{path}"
        );
    }
    assert!(e.tree.node("/c").is_some() && e.tree.node("/p").is_some());
    // The sweep still reaps the empty container.
    let h = e.header(0);
    assert_eq!(
        sweep_delete(&mut e.tree, h, "/c").reply,
        Ok(Response::Empty)
    );
}

/// Creates what zkCli's `setquota` creates for `/q` with these limits.
fn setquota(e: &mut Env, limits: &'static [u8]) {
    assert_eq!(e.code(S1, create("/zookeeper/quota/q", 0)), ErrorCode::Ok);
    let mut l = creq("/zookeeper/quota/q/zookeeper_limits", 0);
    l.data = NodeData::from_static(limits);
    assert_eq!(
        e.code(S1, Request::Create(OpCode::Create, l)),
        ErrorCode::Ok
    );
    let mut s = creq("/zookeeper/quota/q/zookeeper_stats", 0);
    s.data = NodeData::from_static(b"count=0,bytes=0");
    assert_eq!(
        e.code(S1, Request::Create(OpCode::Create, s)),
        ErrorCode::Ok
    );
}

fn stats(e: &Env) -> String {
    let n = e.tree.node("/zookeeper/quota/q/zookeeper_stats").unwrap();
    String::from_utf8_lossy(n.data().unwrap_or_default()).into_owned()
}

#[test]
fn enforce_quota_refuses_hard_limits_only_when_on() {
    for enforce in [false, true] {
        let mut e = Env::new();
        e.ctx.enforce_quota = enforce;
        assert_eq!(e.code(S1, create("/q", 0)), ErrorCode::Ok);
        setquota(
            &mut e,
            b"count=-1,bytes=-1=;byteHardLimit=3;countHardLimit=2",
        );
        assert_eq!(stats(&e), "count=1,bytes=1");
        assert_eq!(e.code(S1, create("/q/a", 0)), ErrorCode::Ok);
        let over = if enforce {
            ErrorCode::QuotaExceeded
        } else {
            ErrorCode::Ok
        };
        // count 3 > 2; a sequential create is checked under its final name.
        assert_eq!(e.code(S1, create("/q/b", 2)), over);
        // bytes: 2 now; "vv" makes 3 (allowed), "vvv" 4 (over).
        assert_eq!(e.code(S1, set_data("/q/a", b"vv", -1)), ErrorCode::Ok);
        let zxid_before = e.tree.last_zxid();
        let bad_version = if enforce {
            ErrorCode::QuotaExceeded
        } else {
            ErrorCode::BadVersion
        };
        assert_eq!(
            e.code(S1, set_data("/q/a", b"vvv", 7)),
            bad_version,
            "quota is checked before the version"
        );
        assert_eq!(e.code(S1, set_data("/q/a", b"vvv", -1)), over);
        assert_eq!(
            e.tree.last_zxid(),
            zxid_before + 2,
            "a refused write takes a zxid"
        );
        // Writes outside the quota root are never checked.
        assert_eq!(e.code(S1, create("/free", 0)), ErrorCode::Ok);
    }
}

#[test]
fn multi_checks_quota_against_the_committed_tree_as_zookeeper_does() {
    let mut e = Env::new();
    e.ctx.enforce_quota = true;
    assert_eq!(e.code(S1, create("/q", 0)), ErrorCode::Ok);
    setquota(
        &mut e,
        b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2",
    );
    // Each op sees count 1 + 1 = 2: ZooKeeper's prep reads the committed
    // stats, so the multi passes and leaves the subtree at 3.
    let ok = e.run(
        S1,
        Request::Multi(vec![mop(create("/q/a", 0)), mop(create("/q/b", 0))]),
    );
    assert!(ok.reply.is_ok(), "{:?}", ok.reply);
    assert_eq!(stats(&e), "count=3,bytes=3");
    assert_eq!(e.code(S1, create("/q/c", 0)), ErrorCode::QuotaExceeded);
    let failed = e.run(
        S1,
        Request::Multi(vec![mop(delete("/q/b", -1)), mop(create("/q/c", 0))]),
    );
    match failed.reply {
        Ok(Response::Multi(results)) => assert_eq!(
            results,
            vec![
                MultiResult::Error(ErrorCode::Ok),
                MultiResult::Error(ErrorCode::QuotaExceeded)
            ]
        ),
        other => panic!("{other:?}"),
    }
}

/// setData without enforceQuota checks on the node the apply step finds;
/// it must answer, log and change exactly what the general path (taken
/// with enforceQuota on, no quota set) does, and its record replayed must
/// rebuild the same tree.
#[test]
fn set_data_single_lookup_path_matches_the_general_path_and_replay() {
    let mut fast = Env::new();
    let mut general = Env::new();
    general.ctx.enforce_quota = true;
    let script = [
        create("/a", 0),
        set_data("/a", b"hello", -1),
        set_data("/a", b"x", 7),
        set_data("/a", b"again", 1),
        set_data("/missing", b"x", -1),
        set_data("/a/", b"x", -1),
        // ACL is checked before the version: NoAuth, not BadVersion.
        set_data("/zookeeper/config", b"x", 5),
    ];
    for req in script {
        let before = fast.tree.clone();
        let a = fast.run(S1, req.clone());
        let b = general.run(S1, req);
        assert_eq!(a.record, b.record);
        assert_eq!(a.reply, b.reply);
        assert_eq!(a.changes, b.changes);
        let mut replayed = before;
        let applied = replayed.apply(&a.record);
        assert_eq!(applied.changes, a.changes);
        for tree in [&general.tree, &replayed] {
            let (x, y) = (fast.tree.node("/a").unwrap(), tree.node("/a").unwrap());
            assert_eq!((x.stat(), x.data()), (y.stat(), y.data()));
            assert_eq!(tree.last_zxid(), fast.tree.last_zxid());
            assert_eq!(
                tree.approximate_data_size(),
                fast.tree.approximate_data_size()
            );
        }
    }
    assert_eq!(fast.stat("/a").version, 2);
    assert_eq!(fast.tree.node("/a").unwrap().data(), Some(&b"again"[..]));
}
