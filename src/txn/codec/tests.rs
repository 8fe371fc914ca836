use super::*;
use crate::proto::types::perms;
use proptest::prelude::*;

fn header() -> TxnHeader {
    TxnHeader {
        session_id: 0x1234,
        cxid: 7,
        zxid: 0x1_0000_0005,
        time_ms: 1_700_000_000_000,
    }
}

fn round_trip(txn: Txn) {
    let rec = TxnRecord {
        header: header(),
        txn,
    };
    let mut out = Vec::new();
    encode_txn(&rec, &mut out);
    assert_eq!(out[0], TXN_FORMAT_VERSION);
    assert_eq!(decode_txn(&out), Ok(rec));
}

#[test]
fn every_variant_round_trips() {
    let acl = Acl::open_unsafe();
    round_trip(Txn::CreateSession { timeout_ms: 30000 });
    round_trip(Txn::CloseSession {
        paths: vec!["/e1".into(), "/e2".into()],
    });
    for (kind, op) in [
        (CreateKind::Persistent, OpCode::Create),
        (CreateKind::Ephemeral, OpCode::Create2),
        (CreateKind::Container, OpCode::CreateContainer),
        (CreateKind::Ttl(1000), OpCode::CreateTtl),
    ] {
        round_trip(Txn::Create(CreateTxn {
            path: "/a".into(),
            data: NodeData::from_static(b"x"),
            acl: acl.clone(),
            kind,
            parent_cversion: 3,
            op,
        }));
    }
    round_trip(Txn::Delete { path: "/a".into() });
    round_trip(Txn::DeleteContainer { path: "/c".into() });
    round_trip(Txn::SetAcl {
        path: "/a".into(),
        acl,
        version: 2,
    });
    round_trip(Txn::Check {
        path: "/a".into(),
        version: -1,
    });
    round_trip(Txn::Multi(vec![
        Txn::Delete { path: "/a".into() },
        Txn::Error(ErrorCode::NoNode),
        Txn::Error(ErrorCode::RuntimeInconsistency),
    ]));
    round_trip(Txn::Error(ErrorCode::BadVersion));
}

#[test]
fn null_and_empty_data_stay_apart() {
    for data in [NodeData::NULL, NodeData::empty()] {
        let rec = TxnRecord {
            header: header(),
            txn: Txn::SetData {
                path: "/a".into(),
                data: data.clone(),
                version: 1,
            },
        };
        let mut out = Vec::new();
        encode_txn(&rec, &mut out);
        let back = decode_txn(&out).unwrap();
        let Txn::SetData { data: got, .. } = back.txn else {
            panic!("not a setData");
        };
        assert_eq!(got.is_null(), data.is_null());
    }
}

#[test]
fn bad_inputs_are_errors() {
    assert_eq!(decode_txn(&[]), Err(TxnCodecError::Empty));
    assert_eq!(decode_txn(&[9]), Err(TxnCodecError::Version(9)));
    let rec = TxnRecord {
        header: header(),
        txn: Txn::Delete { path: "/a".into() },
    };
    let mut out = Vec::new();
    encode_txn(&rec, &mut out);
    // Every strict prefix fails, and so does a trailing byte.
    for n in 0..out.len() {
        assert!(decode_txn(&out[..n]).is_err());
    }
    out.push(0);
    assert!(matches!(
        decode_txn(&out),
        Err(TxnCodecError::Jute(DecodeError::TrailingBytes(1)))
    ));
}

#[test]
fn huge_counts_fail_before_allocating() {
    let mut b = vec![TXN_FORMAT_VERSION];
    b.extend_from_slice(&[0; 28]);
    b.push(TAG_MULTI);
    b.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        decode_txn(&b),
        Err(TxnCodecError::Jute(DecodeError::LengthExceedsInput { .. }))
    ));
}

#[test]
fn deep_multis_are_refused() {
    let mut b = vec![TXN_FORMAT_VERSION];
    b.extend_from_slice(&[0; 28]);
    for _ in 0..=MAX_MULTI_DEPTH {
        b.push(TAG_MULTI);
        b.extend_from_slice(&1i32.to_be_bytes());
    }
    b.extend_from_slice(&[TAG_ERROR, 0, 0, 0, 0]);
    b.extend_from_slice(&[0; 64]);
    assert_eq!(decode_txn(&b), Err(TxnCodecError::TooDeep));
}

pub(crate) fn arb_data() -> impl Strategy<Value = NodeData> {
    prop_oneof![
        Just(NodeData::NULL),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(NodeData::from),
    ]
}

pub(crate) fn arb_acls() -> impl Strategy<Value = Vec<Acl>> {
    proptest::collection::vec(
        (0..=perms::ALL, "[a-z]{0,6}", "[a-z:]{0,8}").prop_map(|(perms, scheme, id)| Acl {
            perms,
            id: Id { scheme, id },
        }),
        0..3,
    )
}

fn arb_kind() -> impl Strategy<Value = CreateKind> {
    prop_oneof![
        Just(CreateKind::Persistent),
        Just(CreateKind::Ephemeral),
        Just(CreateKind::Container),
        any::<i64>().prop_map(CreateKind::Ttl),
    ]
}

fn arb_error() -> impl Strategy<Value = ErrorCode> {
    (-130i32..1).prop_filter_map("known code", ErrorCode::from_i32)
}

fn arb_leaf() -> impl Strategy<Value = Txn> {
    let path = "/[a-z\u{e9}]{0,5}";
    prop_oneof![
        any::<i32>().prop_map(|timeout_ms| Txn::CreateSession { timeout_ms }),
        proptest::collection::vec(path, 0..3).prop_map(|paths| Txn::CloseSession { paths }),
        (
            path,
            arb_data(),
            arb_acls(),
            arb_kind(),
            any::<i32>(),
            prop_oneof![
                Just(OpCode::Create),
                Just(OpCode::Create2),
                Just(OpCode::CreateContainer),
                Just(OpCode::CreateTtl)
            ]
        )
            .prop_map(|(path, data, acl, kind, parent_cversion, op)| {
                Txn::Create(CreateTxn {
                    path,
                    data,
                    acl,
                    kind,
                    parent_cversion,
                    op,
                })
            }),
        path.prop_map(|path| Txn::Delete { path }),
        path.prop_map(|path| Txn::DeleteContainer { path }),
        (path, arb_data(), any::<i32>()).prop_map(|(path, data, version)| Txn::SetData {
            path,
            data,
            version
        }),
        (path, arb_acls(), any::<i32>()).prop_map(|(path, acl, version)| Txn::SetAcl {
            path,
            acl,
            version
        }),
        (path, any::<i32>()).prop_map(|(path, version)| Txn::Check { path, version }),
        arb_error().prop_map(Txn::Error),
    ]
}

fn arb_txn() -> impl Strategy<Value = Txn> {
    arb_leaf().prop_recursive(2, 16, 4, |inner| {
        proptest::collection::vec(inner, 0..4).prop_map(Txn::Multi)
    })
}

fn arb_record() -> impl Strategy<Value = TxnRecord> {
    (
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        any::<i64>(),
        arb_txn(),
    )
        .prop_map(|(session_id, cxid, zxid, time_ms, txn)| TxnRecord {
            header: TxnHeader {
                session_id,
                cxid,
                zxid,
                time_ms,
            },
            txn,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn any_record_round_trips(rec in arb_record()) {
        let mut out = vec![0xAA];
        encode_txn(&rec, &mut out);
        prop_assert_eq!(decode_txn(&out[1..]), Ok(rec));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_txn(&bytes);
        let mut b = vec![TXN_FORMAT_VERSION];
        b.extend_from_slice(&bytes);
        if let Ok(rec) = decode_txn(&b) {
            let mut out = Vec::new();
            encode_txn(&rec, &mut out);
            prop_assert_eq!(decode_txn(&out), Ok(rec));
        }
    }
}
