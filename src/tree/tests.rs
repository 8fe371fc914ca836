use super::*;
use crate::proto::types::{Acl, NodeData};

fn hdr(session: SessionId, zxid: Zxid, time_ms: i64) -> TxnHeader {
    TxnHeader {
        session_id: session,
        cxid: 0,
        zxid,
        time_ms,
    }
}

fn create_txn(path: &str, kind: CreateKind, parent_cversion: i32) -> Txn {
    Txn::Create(CreateTxn {
        path: path.to_string(),
        data: NodeData::from_static(b"d"),
        acl: Acl::open_unsafe(),
        kind,
        parent_cversion,
        op: OpCode::Create,
    })
}

fn apply(t: &mut Tree, session: SessionId, zxid: Zxid, txn: Txn) -> Applied {
    let a = t.apply(&TxnRecord {
        header: hdr(session, zxid, zxid * 10),
        txn,
    });
    t.check_invariants().unwrap();
    a
}

#[test]
fn has_root_sees_only_the_root() {
    let mut t = Tree::new();
    assert!(t.nodes.remove("/").is_some());
    assert!(t.node("/zookeeper").is_some());
    assert!(!t.has_root(), "other nodes are left, the root is not");
}

#[test]
fn fresh_tree_is_zookeepers() {
    let t = Tree::new();
    assert_eq!(t.node_count(), 5);
    assert_eq!(t.approximate_data_size(), 44);
    assert_eq!(t.ephemeral_count(), 0);
    assert_eq!(t.last_zxid(), 0);
    assert!(t.has_root());
    let root = t.node("/").unwrap();
    assert_eq!(
        root.stat(),
        Stat {
            num_children: 1,
            ..Stat::default()
        }
    );
    assert_eq!(
        t.node("").unwrap().stat(),
        root.stat(),
        "\"\" aliases the root"
    );
    assert_eq!(
        root.node_data(),
        NodeData::empty(),
        "DataTree's root holds new byte[0]"
    );
    assert_eq!(t.node("/zookeeper").unwrap().stat().num_children, 2);
    let config = t.node("/zookeeper/config").unwrap();
    assert_eq!(&*config.acl, &Acl::read_unsafe()[..]);
    assert_eq!(config.stat.aversion, -1);
    assert_eq!(
        &*t.node("/zookeeper/quota").unwrap().acl,
        &Acl::open_unsafe()[..]
    );
    assert_eq!(t.children("/zookeeper").unwrap(), vec!["config", "quota"]);
    assert_eq!(t.children("/").unwrap(), vec!["zookeeper"]);
    assert_eq!(t.descendant_count("/"), 3);
    assert_eq!(t.descendant_count("/zookeeper"), 2);
    t.check_invariants().unwrap();
}

#[test]
fn children_follow_java_hashset_order() {
    // Golden values from OpenJDK 17 (`new HashSet<>(8)`, same operations).
    let mut t = Tree::new();
    let mut z = 0;
    let mut next = || {
        z += 1;
        z
    };
    apply(
        &mut t,
        1,
        next(),
        create_txn("/n", CreateKind::Persistent, -1),
    );
    for i in 0..20 {
        apply(
            &mut t,
            1,
            next(),
            create_txn(&format!("/n/c{i}"), CreateKind::Persistent, -1),
        );
    }
    for i in (0..20).step_by(3) {
        apply(
            &mut t,
            1,
            next(),
            Txn::Delete {
                path: format!("/n/c{i}"),
            },
        );
    }
    apply(
        &mut t,
        1,
        next(),
        create_txn("/n/x", CreateKind::Persistent, -1),
    );
    apply(
        &mut t,
        1,
        next(),
        create_txn("/n/y", CreateKind::Persistent, -1),
    );
    assert_eq!(
        t.children("/n").unwrap().join(","),
        "c11,c10,c13,c14,c17,c16,c19,c1,c2,c4,c5,c7,c8,x,y"
    );
    apply(
        &mut t,
        1,
        next(),
        create_txn("/s", CreateKind::Persistent, -1),
    );
    for i in 0..10 {
        apply(
            &mut t,
            1,
            next(),
            create_txn(&format!("/s/lock-{i:010}"), CreateKind::Persistent, -1),
        );
    }
    assert_eq!(
        t.children("/s").unwrap().join(","),
        "lock-0000000009,lock-0000000008,lock-0000000007,lock-0000000006,lock-0000000001,\
         lock-0000000000,lock-0000000005,lock-0000000004,lock-0000000003,lock-0000000002"
    );
}

#[test]
fn ephemerals_follow_java_clone_order() {
    let mut t = Tree::new();
    let s = 0x100;
    apply(&mut t, s, 1, create_txn("/app", CreateKind::Persistent, -1));
    let mut z = 1;
    for i in 0..14 {
        z += 1;
        apply(
            &mut t,
            s,
            z,
            create_txn(&format!("/app/e{i}"), CreateKind::Ephemeral, -1),
        );
    }
    for i in (0..14).step_by(2) {
        z += 1;
        apply(
            &mut t,
            s,
            z,
            Txn::Delete {
                path: format!("/app/e{i}"),
            },
        );
    }
    let want = "/app/e1,/app/e3,/app/e5,/app/e7,/app/e9,/app/e13,/app/e11";
    assert_eq!(t.ephemerals_of(s).join(","), want);
    assert_eq!(
        t.sessions_with_ephemerals(),
        vec![(s, want.split(',').map(String::from).collect())]
    );
    assert_eq!(t.ephemeral_count(), 7);

    let mut t = Tree::new();
    let s2 = 0x200;
    for (i, p) in ["/a", "/b", "/zz", "/q1", "/q2"].iter().enumerate() {
        let kind = if *p == "/b" {
            CreateKind::Persistent
        } else {
            CreateKind::Ephemeral
        };
        apply(&mut t, s2, i as i64 + 1, create_txn(p, kind, -1));
    }
    apply(&mut t, s2, 6, create_txn("/b/c", CreateKind::Ephemeral, -1));
    // Java inserted "/a","/b/c","/zz","/q1","/q2"; same set, different insertion order
    // only matters within a bucket.
    assert_eq!(t.ephemerals_of(s2).join(","), "/q2,/b/c,/a,/zz,/q1");
}

#[test]
fn kill_session_deletes_in_given_order_then_leftovers() {
    let mut t = Tree::new();
    let s = 7;
    apply(&mut t, s, 1, create_txn("/a", CreateKind::Ephemeral, -1));
    apply(&mut t, s, 2, create_txn("/b", CreateKind::Ephemeral, -1));
    apply(&mut t, 9, 3, create_txn("/c", CreateKind::Ephemeral, -1));
    let a = apply(
        &mut t,
        s,
        4,
        Txn::CloseSession {
            paths: vec!["/b".into(), "/gone".into()],
        },
    );
    let ev: Vec<(EventType, &str)> = a
        .changes
        .iter()
        .map(|c| (c.event, c.path.as_str()))
        .collect();
    assert_eq!(
        ev,
        vec![
            (EventType::NodeDeleted, "/b"),
            (EventType::NodeChildrenChanged, "/"),
            (EventType::NodeDeleted, "/a"),
            (EventType::NodeChildrenChanged, "/"),
        ]
    );
    assert!(t.node("/a").is_none() && t.node("/b").is_none());
    assert!(t.node("/c").is_some());
    assert_eq!(t.ephemeral_count(), 1);
    assert_eq!(t.sessions_with_ephemerals().len(), 1);
    assert_eq!(t.node("/").unwrap().stat.pzxid, 4);
}

#[test]
fn create_cversion_rules_match_datatree() {
    let mut t = Tree::new();
    apply(&mut t, 1, 1, create_txn("/p", CreateKind::Persistent, -1));
    // A record whose cversion is not greater leaves cversion and pzxid alone
    // (this is how ZooKeeper's cversion sticks at i32::MAX).
    t.apply(&TxnRecord {
        header: hdr(1, 2, 20),
        txn: create_txn("/p/a", CreateKind::Persistent, 0),
    });
    let p = t.node("/p").unwrap().stat();
    assert_eq!((p.cversion, p.pzxid, p.num_children), (0, 1, 1));
    apply(&mut t, 1, 3, create_txn("/p/b", CreateKind::Persistent, 5));
    let p = t.node("/p").unwrap().stat;
    assert_eq!((p.cversion, p.pzxid), (5, 3));
    // Delete moves pzxid forward only and never touches cversion.
    t.apply(&TxnRecord {
        header: hdr(1, 2, 20),
        txn: Txn::Delete {
            path: "/p/a".into(),
        },
    });
    let p = t.node("/p").unwrap().stat();
    assert_eq!((p.cversion, p.pzxid, p.num_children), (5, 3, 1));
    assert_eq!(t.last_zxid(), 3, "last_zxid never goes back");
}

#[test]
fn misfit_records_change_nothing() {
    let mut t = Tree::new();
    let before = t.clone();
    let a = apply(&mut t, 1, 1, create_txn("/x/y", CreateKind::Persistent, -1));
    assert_eq!(a.result, Err(ErrorCode::NoNode));
    let a = apply(
        &mut t,
        1,
        2,
        Txn::Delete {
            path: "/nope".into(),
        },
    );
    assert_eq!(a.result, Err(ErrorCode::NoNode));
    let a = apply(
        &mut t,
        1,
        3,
        Txn::Delete {
            path: "/zookeeper".into(),
        },
    );
    assert_eq!(a.result, Err(ErrorCode::NotEmpty));
    let a = apply(
        &mut t,
        1,
        4,
        Txn::Multi(vec![
            create_txn("/m", CreateKind::Persistent, -1),
            create_txn("/m", CreateKind::Persistent, -1),
        ]),
    );
    assert_eq!(
        a.result,
        Ok(Outcome::Multi(vec![
            Err(ErrorCode::Ok),
            Err(ErrorCode::NodeExists)
        ]))
    );
    assert!(a.changes.is_empty());
    assert_eq!(t.node_count(), before.node_count());
    assert!(t.node("/m").is_none());
}

#[test]
fn data_size_and_counts_track_changes() {
    let mut t = Tree::new();
    apply(
        &mut t,
        1,
        1,
        create_txn("/\u{e9}", CreateKind::Persistent, -1),
    );
    assert_eq!(t.approximate_data_size(), 44 + 2 + 1);
    apply(
        &mut t,
        1,
        2,
        Txn::SetData {
            path: "/\u{e9}".into(),
            data: NodeData::from_static(b"12345"),
            version: 1,
        },
    );
    assert_eq!(t.approximate_data_size(), 44 + 2 + 5);
    apply(
        &mut t,
        1,
        3,
        Txn::SetData {
            path: "/".into(),
            data: NodeData::from_static(b"rr"),
            version: 1,
        },
    );
    assert_eq!(t.approximate_data_size(), 44 + 2 + 5 + 2);
    apply(
        &mut t,
        1,
        4,
        Txn::Delete {
            path: "/\u{e9}".into(),
        },
    );
    assert_eq!(t.approximate_data_size(), 46);
    assert_eq!(t.node_count(), 5);
}

/// A node created with null data keeps null (ZooKeeper's `get` prints
/// `null`), reports dataLength 0 and adds nothing to the data size; setData
/// can set null again.
#[test]
fn null_data_is_stored_and_answered_as_null() {
    use crate::proto::requests::{PathWatchRequest, Request};
    use crate::proto::responses::Response;
    let get = |t: &Tree| {
        let req = Request::GetData(PathWatchRequest {
            path: "/n".into(),
            watch: false,
        });
        match read::read(t, 1, &req) {
            Ok(Response::GetData(d, s)) => (d, s.data_length),
            other => panic!("unexpected {other:?}"),
        }
    };
    let mut t = Tree::new();
    let mut c = create_txn("/n", CreateKind::Persistent, -1);
    if let Txn::Create(c) = &mut c {
        c.data = NodeData::NULL;
    }
    apply(&mut t, 1, 1, c);
    assert_eq!(t.node("/n").unwrap().node_data(), NodeData::NULL);
    assert_eq!(get(&t), (NodeData::NULL, 0));
    assert_eq!(t.approximate_data_size(), 44 + 2);
    let set = |data: NodeData| Txn::SetData {
        path: "/n".into(),
        data,
        version: 1,
    };
    apply(&mut t, 1, 2, set(NodeData::from_static(b"abc")));
    assert_eq!(get(&t), (NodeData::from_static(b"abc"), 3));
    assert_eq!(t.approximate_data_size(), 44 + 2 + 3);
    apply(&mut t, 1, 3, set(NodeData::NULL));
    assert_eq!(get(&t), (NodeData::NULL, 0));
    assert_eq!(t.approximate_data_size(), 44 + 2);
    apply(&mut t, 1, 4, set(NodeData::empty()));
    assert_eq!(get(&t), (NodeData::empty(), 0));
}

#[test]
fn sweep_candidates_containers_and_ttls() {
    let mut t = Tree::new();
    apply(&mut t, 1, 1, create_txn("/c1", CreateKind::Container, -1)); // never used
    apply(&mut t, 1, 2, create_txn("/c2", CreateKind::Container, -1));
    apply(
        &mut t,
        1,
        3,
        create_txn("/c2/x", CreateKind::Persistent, -1),
    );
    apply(
        &mut t,
        1,
        4,
        Txn::Delete {
            path: "/c2/x".into(),
        },
    ); // used, now empty
    apply(&mut t, 1, 5, create_txn("/c3", CreateKind::Container, -1));
    apply(
        &mut t,
        1,
        6,
        create_txn("/c3/x", CreateKind::Persistent, -1),
    ); // not empty
    apply(&mut t, 1, 7, create_txn("/t1", CreateKind::Ttl(100), -1)); // mtime 70
    apply(&mut t, 1, 8, create_txn("/t2", CreateKind::Ttl(1000), -1)); // mtime 80
    apply(&mut t, 1, 9, create_txn("/t3", CreateKind::Ttl(100), -1));
    apply(
        &mut t,
        1,
        10,
        create_txn("/t3/k", CreateKind::Persistent, -1),
    );
    assert_eq!(t.node("/c1").unwrap().stat.ephemeral_owner(), i64::MIN);
    assert_eq!(
        t.node("/t1").unwrap().stat.ephemeral_owner(),
        0xff00_0000_0000_0064_u64 as i64
    );
    assert_eq!(t.sweep_candidates(170), vec!["/c2"]);
    assert_eq!(t.sweep_candidates(171), vec!["/c2", "/t1"]);
    assert_eq!(t.sweep_candidates(10_000), vec!["/c2", "/t1", "/t2"]);
    assert_eq!(
        t.sweep_candidates_with(10_000, 500),
        vec!["/c1", "/c2", "/t1", "/t2"]
    );
    assert_eq!(t.ephemeral_count(), 0);
}

#[test]
fn clone_is_a_snapshot() {
    let mut t = Tree::new();
    let snap = t.clone();
    apply(&mut t, 1, 1, create_txn("/a", CreateKind::Persistent, -1));
    assert!(snap.node("/a").is_none());
    assert!(t.node("/a").is_some());
    assert_eq!(snap.node("/").unwrap().stat().num_children, 1);
}

#[test]
fn descendant_count_is_prefix_based() {
    let mut t = Tree::new();
    for (z, p) in ["/a", "/a/b", "/a/b/c", "/ab", "/a0"].iter().enumerate() {
        apply(
            &mut t,
            1,
            z as i64 + 1,
            create_txn(p, CreateKind::Persistent, -1),
        );
    }
    assert_eq!(t.descendant_count("/a"), 2);
    assert_eq!(t.descendant_count("/a/b"), 1);
    assert_eq!(t.descendant_count("/ab"), 0);
    assert_eq!(t.descendant_count("/"), 8);
}

#[test]
fn client_stat_counts_deletes_in_cversion_and_hides_container_and_ttl_markers() {
    let mut t = Tree::new();
    apply(&mut t, 0, 1, create_txn("/p", CreateKind::Persistent, -1));
    apply(&mut t, 0, 2, create_txn("/p/a", CreateKind::Persistent, -1));
    apply(&mut t, 0, 3, create_txn("/p/b", CreateKind::Persistent, -1));
    apply(
        &mut t,
        0,
        4,
        Txn::Delete {
            path: "/p/a".into(),
        },
    );
    let p = t.node("/p").unwrap();
    assert_eq!(
        p.stat.cversion, 2,
        "stored cversion counts creates (it names sequential children)"
    );
    let seen = p.client_stat();
    assert_eq!(
        (seen.cversion, seen.num_children, seen.pzxid),
        (3, 1, 4),
        "2 creates + 1 delete"
    );
    // A fresh root holds /zookeeper without a create: ZooKeeper shows -1.
    assert_eq!(Tree::new().node("/").unwrap().client_stat().cversion, -1);
    apply(&mut t, 0, 5, create_txn("/c", CreateKind::Container, -1));
    apply(&mut t, 0, 6, create_txn("/t", CreateKind::Ttl(1000), -1));
    assert_ne!(t.node("/c").unwrap().stat.ephemeral_owner(), 0);
    assert_eq!(t.node("/c").unwrap().client_stat().ephemeral_owner, 0);
    assert_eq!(t.node("/t").unwrap().client_stat().ephemeral_owner, 0);
    apply(&mut t, 77, 7, create_txn("/e", CreateKind::Ephemeral, -1));
    assert_eq!(t.node("/e").unwrap().client_stat().ephemeral_owner, 77);
}

#[test]
fn the_tree_knows_live_sessions_and_their_timeouts() {
    let mut t = Tree::new();
    apply(&mut t, 5, 1, Txn::CreateSession { timeout_ms: 4000 });
    apply(&mut t, 6, 2, Txn::CreateSession { timeout_ms: 9000 });
    apply(&mut t, 5, 3, create_txn("/e", CreateKind::Ephemeral, -1));
    assert_eq!(t.sessions().collect::<Vec<_>>(), vec![(5, 4000), (6, 9000)]);
    apply(
        &mut t,
        5,
        4,
        Txn::CloseSession {
            paths: vec!["/e".into()],
        },
    );
    assert_eq!(t.sessions().collect::<Vec<_>>(), vec![(6, 9000)]);
    assert!(t.node("/e").is_none());
}
