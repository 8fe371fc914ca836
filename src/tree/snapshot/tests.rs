use super::*;
use crate::proto::requests::{
    CreateRequest, DeleteRequest, MultiOp, Request, SetAclRequest, SetDataRequest,
};
use crate::proto::types::{Acl, Id, NodeData, OpCode};
use crate::sequencer::prep::{execute, PrepContext};
use crate::txn::{Txn, TxnHeader, TxnRecord};
use proptest::prelude::*;

fn round_trip(t: &Tree) -> Tree {
    let mut out = Vec::new();
    write_tree(t, &mut out).unwrap();
    read_tree(&out).unwrap()
}

/// Every piece of state, internal included, is the same.
fn assert_same(a: &Tree, b: &Tree) {
    assert_eq!(a.last_zxid, b.last_zxid);
    assert_eq!(a.next_seq, b.next_seq);
    assert_eq!(a.data_size, b.data_size);
    assert_eq!(a.ephemeral_count, b.ephemeral_count);
    assert_eq!(a.sessions, b.sessions);
    assert_eq!(a.containers, b.containers);
    assert_eq!(a.ttls, b.ttls);
    assert_eq!(a.nodes.len(), b.nodes.len());
    for ((pa, na), (pb, nb)) in a.nodes.iter().zip(b.nodes.iter()) {
        assert_eq!(pa, pb);
        assert_eq!(na.data(), nb.data(), "{pa}");
        assert_eq!(na.data_is_null(), nb.data_is_null(), "{pa}");
        assert_eq!(na.acl, nb.acl, "{pa}");
        assert_eq!(na.stat, nb.stat, "{pa}");
        assert_eq!(na.client_stat(), nb.client_stat(), "{pa}");
        assert_eq!(na.kind(), nb.kind(), "{pa}");
        assert_eq!(
            na.children_members().collect::<Vec<_>>(),
            nb.children_members().collect::<Vec<_>>(),
            "{pa}"
        );
        assert_eq!(na.children_peak(), nb.children_peak(), "{pa}");
        assert_eq!(na.children(), nb.children(), "{pa}");
    }
    assert_eq!(a.ephemerals.len(), b.ephemerals.len());
    for ((sa, ea), (sb, eb)) in a.ephemerals.iter().zip(b.ephemerals.iter()) {
        assert_eq!(sa, sb);
        assert_eq!(ea.paths, eb.paths);
        assert_eq!(ea.peak, eb.peak);
    }
    // And through the public API.
    assert_eq!(a.node_count(), b.node_count());
    assert_eq!(a.approximate_data_size(), b.approximate_data_size());
    assert_eq!(
        a.sessions().collect::<Vec<_>>(),
        b.sessions().collect::<Vec<_>>()
    );
    assert_eq!(a.sessions_with_ephemerals(), b.sessions_with_ephemerals());
    for s in 0..6 {
        assert_eq!(a.ephemerals_of(s), b.ephemerals_of(s));
    }
    assert_eq!(
        a.sweep_candidates(i64::MAX / 2),
        b.sweep_candidates(i64::MAX / 2)
    );
}

#[test]
fn fresh_tree_round_trips() {
    let t = Tree::new();
    assert_same(&t, &round_trip(&t));
}

fn rec(zxid: i64, session: i64, txn: Txn) -> TxnRecord {
    TxnRecord {
        header: TxnHeader {
            session_id: session,
            cxid: 1,
            zxid,
            time_ms: 1000 + zxid,
        },
        txn,
    }
}

#[test]
fn null_data_sessions_and_kinds_survive() {
    use crate::txn::{CreateKind, CreateTxn};
    let mut t = Tree::new();
    t.apply(&rec(1, 5, Txn::CreateSession { timeout_ms: 4000 }));
    let mut z = 1;
    for (p, data, kind) in [
        ("/n", NodeData::NULL, CreateKind::Persistent),
        ("/e", NodeData::empty(), CreateKind::Ephemeral),
        ("/c", NodeData::from_static(b"c"), CreateKind::Container),
        ("/t", NodeData::from_static(b"tt"), CreateKind::Ttl(50)),
    ] {
        z += 1;
        t.apply(&rec(
            z,
            5,
            Txn::Create(CreateTxn {
                path: p.into(),
                data,
                acl: Acl::open_unsafe(),
                kind,
                parent_cversion: -1,
                op: OpCode::Create,
            }),
        ));
    }
    let back = round_trip(&t);
    assert_same(&t, &back);
    assert!(back.node("/n").unwrap().data_is_null());
    assert!(!back.node("/e").unwrap().data_is_null());
    assert_eq!(back.sessions().collect::<Vec<_>>(), vec![(5, 4000)]);
    assert_eq!(back.last_zxid(), 5);
}

#[test]
fn damaged_snapshots_are_errors_not_panics() {
    let mut t = Tree::new();
    t.apply(&rec(1, 5, Txn::CreateSession { timeout_ms: 4000 }));
    let mut out = Vec::new();
    write_tree(&t, &mut out).unwrap();
    assert_eq!(read_tree(b"nope").err(), Some(SnapshotCodecError::Magic));
    for n in 0..out.len() {
        assert!(read_tree(&out[..n]).is_err());
    }
    let mut long = out.clone();
    long.push(0);
    assert!(read_tree(&long).is_err());
    // Flip each byte: an error or a tree that passes its invariants, never a panic.
    for i in 0..out.len() {
        let mut bad = out.clone();
        bad[i] ^= 0x5a;
        let _ = read_tree(&bad);
    }
}

const SESSIONS: i64 = 3;

fn creq(path: &str, flags: i32, ttl: Option<i64>, data: NodeData) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data,
        acl: Acl::open_unsafe(),
        flags,
        ttl,
    }
}

/// (kind, path, flags, version, session)
type Op = (u8, String, i32, i32, i64);

fn op_strategy() -> impl Strategy<Value = Op> {
    let seg = proptest::sample::select(vec!["a", "b", "c", "s-"]);
    let path = proptest::collection::vec(seg, 1..3).prop_map(|v| format!("/{}", v.join("/")));
    (0u8..11, path, 0i32..4, -1i32..2, 1..=SESSIONS)
}

/// Runs one op on `t` as the sequencer would; the record it produced.
fn run(t: &mut Tree, zxid: i64, (kind, path, flags, version, s): &Op) -> TxnRecord {
    let h = TxnHeader {
        session_id: *s,
        cxid: 1,
        zxid,
        time_ms: 1000 + zxid,
    };
    let ctx = PrepContext {
        extended_types_enabled: true,
        ..PrepContext::default()
    };
    let data = if *version == 0 {
        NodeData::NULL
    } else {
        NodeData::from_static(b"xy")
    };
    let req = match kind {
        0..=2 => Request::Create(OpCode::Create, creq(path, *flags, None, data)),
        3 => Request::Create(OpCode::CreateContainer, creq(path, 0, None, data)),
        4 => Request::Create(OpCode::CreateTtl, creq(path, *flags & 2, Some(10), data)),
        5 => Request::Delete(DeleteRequest {
            path: path.clone(),
            version: *version,
        }),
        6 => Request::SetData(SetDataRequest {
            path: path.clone(),
            data,
            version: *version,
        }),
        7 => Request::SetAcl(SetAclRequest {
            path: path.clone(),
            acl: vec![Acl {
                perms: 31,
                id: Id::new("digest", "u:x"),
            }],
            version: -1,
        }),
        8 => Request::Multi(vec![
            MultiOp::Create(OpCode::Create, creq(path, *flags, None, NodeData::empty())),
            MultiOp::Delete(DeleteRequest {
                path: path.clone(),
                version: *version,
            }),
        ]),
        9 => {
            let r = rec(
                zxid,
                *s,
                Txn::CreateSession {
                    timeout_ms: 3000 + *flags,
                },
            );
            t.apply(&r);
            return r;
        }
        _ => Request::CloseSession,
    };
    execute(t, h, &req, &ctx).record
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn snapshot_of_random_tree_is_exact(
        ops in proptest::collection::vec(op_strategy(), 1..200),
        more in proptest::collection::vec(op_strategy(), 1..30),
    ) {
        let mut t = Tree::new();
        let mut zxid = 0;
        for op in &ops {
            zxid += 1;
            run(&mut t, zxid, op);
        }
        let mut back = round_trip(&t);
        assert_same(&t, &back);
        // The same further requests give the same records (sequential names
        // included) and the same trees.
        for op in &more {
            zxid += 1;
            let ra = run(&mut t, zxid, op);
            let rb = run(&mut back, zxid, op);
            prop_assert_eq!(&ra, &rb);
        }
        assert_same(&t, &back);
        assert_same(&t, &round_trip(&back));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut b = TREE_MAGIC.to_vec();
        b.push(TREE_FORMAT_VERSION);
        b.extend_from_slice(&bytes);
        let _ = read_tree(&b);
    }

    /// Damage anywhere in a real snapshot (changed bytes, then a cut):
    /// an error or a tree that passes its check, never a panic.
    #[test]
    fn damaged_random_tree_snapshot_never_panics(
        ops in proptest::collection::vec(op_strategy(), 1..60),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut t = Tree::new();
        for (zxid, op) in ops.iter().enumerate() {
            run(&mut t, zxid as i64 + 1, op);
        }
        let mut out = Vec::new();
        write_tree(&t, &mut out).unwrap();
        for (at, x) in &flips {
            let i = at.index(out.len());
            out[i] ^= x;
        }
        let _ = read_tree(&out);
        let _ = read_tree(&out[..cut.index(out.len())]);
    }
}

/// Enough children to grow the Java sets past their initial capacity, some
/// deleted: order and sequential names must continue identically after a
/// round trip.
#[test]
fn grown_child_sets_continue_identically() {
    let mut t = Tree::new();
    let mut z = 0;
    let mut step = |t: &mut Tree, op: Op| {
        z += 1;
        run(t, z, &op)
    };
    step(&mut t, (9, "/".into(), 0, 0, 1));
    step(&mut t, (0, "/p".into(), 0, 1, 1));
    for i in 0..30 {
        // Persistent and ephemeral sequential children of /p.
        let flags = if i % 3 == 0 { 3 } else { 2 };
        step(&mut t, (0, "/p/n".into(), flags, 1, 1));
    }
    for i in (1..30).step_by(4) {
        step(&mut t, (5, format!("/p/n{i:010}"), 0, -1, 1));
    }
    assert!(
        t.node("/p").unwrap().children_peak() > 12,
        "{:?}",
        t.children("/p")
    );
    assert!(t.ephemeral_count() > 5);
    let mut back = round_trip(&t);
    assert_same(&t, &back);
    let mut z2 = z;
    for i in 0..20 {
        z2 += 1;
        let op: Op = if i == 10 {
            (10, "/".into(), 0, 0, 1)
        } else {
            (0, "/p/m".into(), 2 + (i % 2), 1, 1)
        };
        assert_eq!(run(&mut t, z2, &op), run(&mut back, z2, &op));
    }
    assert_same(&t, &back);
}

/// A snapshot holding plain nodes at `paths`, in the given order.
fn snapshot_of_paths(paths: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_slice(&TREE_MAGIC);
    out.put_u8(TREE_FORMAT_VERSION);
    out.put_i64(1);
    out.put_u64(1);
    put_len(&mut out, 0);
    put_len(&mut out, paths.len());
    for p in paths {
        put_str(&mut out, p);
        crate::txn::codec::put_opt_data(&mut out, Some(b""));
        put_acls(&mut out, &Acl::open_unsafe());
        put_stat(&mut out, &Stat::default());
        out.put_u8(KIND_PERSISTENT);
        out.put_u64(1);
        out.put_u64(2); // children peak
    }
    put_len(&mut out, 0);
    out
}

#[test]
fn node_order_parents_and_duplicates_are_checked() {
    let ok = read_tree(&snapshot_of_paths(&["/", "/a", "/a-b", "/a/c"])).unwrap();
    assert_eq!(ok.children("/a"), Some(vec!["c".to_string()]));
    assert_eq!(
        ok.children("/"),
        Some(vec!["a".to_string(), "a-b".to_string()])
    );
    assert_eq!(
        read_tree(&snapshot_of_paths(&["/", "/a", "/a"])).err(),
        Some(SnapshotCodecError::Duplicate("/a".into()))
    );
    assert!(matches!(
        read_tree(&snapshot_of_paths(&["/", "/b", "/a"])).err(),
        Some(SnapshotCodecError::Invariant(_))
    ));
    assert_eq!(
        read_tree(&snapshot_of_paths(&["/", "/a/b"])).err(),
        Some(SnapshotCodecError::Orphan("/a/b".into()))
    );
    assert_eq!(
        read_tree(&snapshot_of_paths(&["/a"])).err(),
        Some(SnapshotCodecError::Orphan("/a".into()))
    );
    assert_eq!(
        read_tree(&snapshot_of_paths(&[])).err(),
        Some(SnapshotCodecError::NoRoot)
    );
}

#[test]
fn check_invariants_finds_an_unlisted_node() {
    let mut t = round_trip(&Tree::new());
    t.check_invariants().unwrap();
    let leaf = t.nodes.get("/zookeeper/config").unwrap().clone();
    t.nodes.insert(PathKey::from("/lost"), leaf);
    let err = t.check_invariants().unwrap_err();
    assert!(err.contains("not listed"), "{err}");
}

fn create_rec(zxid: i64, path: String, acl: Vec<Acl>) -> TxnRecord {
    rec(
        zxid,
        0,
        Txn::Create(crate::txn::CreateTxn {
            path,
            data: NodeData::copy_from_slice(&zxid.to_be_bytes()),
            acl,
            kind: crate::txn::CreateKind::Persistent,
            parent_cversion: -1,
            op: OpCode::Create,
        }),
    )
}

/// More nodes than one loader chunk, children of several parents
/// interleaved in path order, nested parents, deletes (children peaks above
/// the count) and ACLs that change from node to node: the loader's streamed
/// maps and parent lookups give the tree that was written.
#[test]
fn many_interleaved_parents_round_trip() {
    let mut t = Tree::new();
    let mut zxid = 1;
    let mut next = || {
        zxid += 1;
        zxid
    };
    let digest = vec![Acl {
        perms: 1,
        id: Id {
            scheme: "digest".into(),
            id: "u:x".into(),
        },
    }];
    for p in ["/p", "/p-x", "/q", "/p/deep"] {
        let z = next();
        assert!(t
            .apply(&create_rec(z, p.into(), Acl::open_unsafe()))
            .result
            .is_ok());
    }
    for i in 0..3000 {
        for parent in ["/p", "/p-x", "/q", "/p/deep"] {
            let acl = if i % 7 == 0 {
                digest.clone()
            } else {
                Acl::open_unsafe()
            };
            let z = next();
            let rec = create_rec(z, format!("{parent}/c{i:05}"), acl);
            assert!(t.apply(&rec).result.is_ok());
        }
    }
    for i in (0..3000).step_by(3) {
        let z = next();
        let del = rec(
            z,
            0,
            Txn::Delete {
                path: format!("/q/c{i:05}"),
            },
        );
        assert!(t.apply(&del).result.is_ok());
    }
    t.check_invariants().unwrap();
    assert!(t.nodes.len() > 2 * 4096, "spans several loader chunks");
    let back = round_trip(&t);
    assert_same(&t, &back);
    // The ACL allocations are shared between equal neighbours, as before.
    let (a, b) = (
        back.node("/p/c00001").unwrap(),
        back.node("/p/c00002").unwrap(),
    );
    assert!(Arc::ptr_eq(&a.acl, &b.acl));
    assert_eq!(
        back.node("/p/c00007").unwrap().acl.as_ref(),
        digest.as_slice()
    );
}

/// `decode_tree` leaves the check to the caller; a wrong stored children
/// peak is only found by that check.
#[test]
fn a_children_peak_below_the_count_is_found_by_the_check() {
    // snapshot_of_paths stores peak 2 for every node; the root has 3 children.
    let bytes = snapshot_of_paths(&["/", "/a", "/b", "/c"]);
    let decoded = decode_tree(&bytes).unwrap();
    let err = decoded.check_invariants().unwrap_err();
    assert!(err.contains("peak below"), "{err}");
    assert!(matches!(
        read_tree(&bytes).err(),
        Some(SnapshotCodecError::Invariant(_))
    ));
}
