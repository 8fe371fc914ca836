use super::*;
use crate::proto::types::{ErrorCode, OpCode};
use crate::txn::{CreateTxn, TxnHeader};

fn rec(txn: Txn) -> TxnRecord {
    TxnRecord {
        header: TxnHeader {
            session_id: 0x1ab,
            cxid: 3,
            zxid: 0x100000002,
            time_ms: 0,
        },
        txn,
    }
}

#[test]
fn times_are_utc_civil_dates() {
    assert_eq!(format_time(0), "1970-01-01 00:00:00.000 UTC");
    assert_eq!(format_time(951_782_400_123), "2000-02-29 00:00:00.123 UTC");
    assert_eq!(
        format_time(1_763_776_027_000),
        "2025-11-22 01:47:07.000 UTC"
    );
    assert_eq!(format_time(-1), "1969-12-31 23:59:59.999 UTC");
}

#[test]
fn record_lines_name_header_and_fields() {
    let create = Txn::Create(CreateTxn {
        path: "/app".into(),
        data: NodeData::from_static(b"hi"),
        acl: Acl::open_unsafe(),
        kind: CreateKind::Ephemeral,
        parent_cversion: 4,
        op: OpCode::Create,
    });
    assert_eq!(
        record_line(&rec(create.clone())),
        "1970-01-01 00:00:00.000 UTC session 0x1ab cxid 0x3 zxid 0x100000002 create /app,hi,[31,world:anyone],true,4"
    );
    let multi = Txn::Multi(vec![
        Txn::Check {
            path: "/a".into(),
            version: 1,
        },
        Txn::Error(ErrorCode::NoNode),
    ]);
    assert_eq!(txn_text(&multi), "check:/a,1; error:-101");
    assert_eq!(op_name(&multi), "multi");
    let j = txn_json(&create);
    assert_eq!(j["type"], "create");
    assert_eq!(j["path"], "/app");
    assert_eq!(j["kind"], "ephemeral");
    let null = txn_json(&Txn::SetData {
        path: "/n".into(),
        data: NodeData::NULL,
        version: 1,
    });
    assert!(null["data"].is_null());
    assert_eq!(
        txn_json(&Txn::CreateSession { timeout_ms: 5 })["type"],
        "createSession"
    );
}

#[test]
fn snapshot_text_lists_nodes_sessions_and_zxid() {
    let mut t = Tree::new();
    t.apply(&rec(Txn::CreateSession { timeout_ms: 30000 }));
    let s = DecodedSnapshot {
        info: dump::SnapshotInfo {
            path: "snapshot.100000002".into(),
            file_size: 1,
            header: None,
            content_bytes: 0,
            valid: true,
            error: None,
        },
        tree: Ok(t),
    };
    let text = snapshot_text(&s);
    assert!(text.contains("ZNode Details (count=5):"), "{text}");
    assert!(text.contains("\n/zookeeper/quota\n"));
    assert!(text.contains("0x1ab, 30000, 0"));
    assert!(text.contains("Last zxid: 0x100000002"));
    let j = snapshot_json(&s);
    assert_eq!(j["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(j["sessions"][0]["timeout_ms"], 30000);
}
