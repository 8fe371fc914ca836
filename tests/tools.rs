//! `warden log-dump`, `snap-dump` and `purge` on files the storage crate
//! wrote with the server's encodings.

use std::path::{Path, PathBuf};
use std::process::Command;
use warden::proto::types::{Acl, NodeData, OpCode};
use warden::tree::snapshot::write_tree;
use warden::tree::Tree;
use warden::txn::codec::encode_txn;
use warden::txn::{CreateKind, CreateTxn, Txn, TxnHeader, TxnRecord};
use warden_storage::log::{LogConfig, Record, TxnLog};

fn warden(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .output()
        .expect("run warden");
    assert!(
        out.status.success(),
        "warden {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn records() -> Vec<TxnRecord> {
    let h = |zxid| TxnHeader {
        session_id: 0x77,
        cxid: zxid as i32,
        zxid,
        time_ms: 1_700_000_000_000 + zxid,
    };
    let create = |path: &str, data: NodeData, kind| {
        Txn::Create(CreateTxn {
            path: path.into(),
            data,
            acl: Acl::open_unsafe(),
            kind,
            parent_cversion: -1,
            op: OpCode::Create,
        })
    };
    vec![
        TxnRecord {
            header: h(0x1),
            txn: Txn::CreateSession { timeout_ms: 30000 },
        },
        TxnRecord {
            header: h(0x2),
            txn: create(
                "/app",
                NodeData::from_static(b"cfg"),
                CreateKind::Persistent,
            ),
        },
        TxnRecord {
            header: h(0x3),
            txn: create("/app/lock", NodeData::NULL, CreateKind::Ephemeral),
        },
        TxnRecord {
            header: h(0x4),
            txn: Txn::SetData {
                path: "/app".into(),
                data: NodeData::from_static(b"v2"),
                version: 1,
            },
        },
    ]
}

fn write_log(dir: &Path, recs: &[TxnRecord]) -> PathBuf {
    let mut cfg = LogConfig::new(dir);
    cfg.file_size = 8 << 20;
    let mut log = TxnLog::open(cfg, None).unwrap();
    let payloads: Vec<Vec<u8>> = recs
        .iter()
        .map(|r| {
            let mut b = Vec::new();
            encode_txn(r, &mut b);
            b
        })
        .collect();
    let batch: Vec<Record<'_>> = recs
        .iter()
        .zip(&payloads)
        .map(|(r, p)| Record {
            zxid: r.header.zxid as u64,
            payload: p,
        })
        .collect();
    log.append(&batch).unwrap();
    log.flush_blocking().unwrap();
    let (path, _) = log.position().unwrap();
    path.to_path_buf()
}

fn write_snap(data_dir: &Path, tree: &Tree) -> PathBuf {
    warden_storage::snapshot::write_snapshot(data_dir, 0, tree.last_zxid() as u64, |w| {
        write_tree(tree, w)
    })
    .unwrap()
    .path
}

#[test]
fn log_dump_prints_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), &records());
    let p = path.to_str().unwrap();
    let text = warden(&["log-dump", p]);
    assert!(text.contains("zxid 0x1 createSession 30000"), "{text}");
    assert!(text.contains("zxid 0x2 create /app,cfg,"), "{text}");
    assert!(text.contains("zxid 0x3 create /app/lock,"), "{text}");
    assert!(text.contains("zxid 0x4 setData /app,v2,1"), "{text}");
    assert!(text.contains("session 0x77"), "{text}");
    assert!(text.contains("EOF reached after 4 txns"), "{text}");

    let json: serde_json::Value =
        serde_json::from_str(&warden(&["log-dump", p, "--json"])).unwrap();
    let recs = json["records"].as_array().unwrap();
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[2]["zxid"], "0x3");
    assert_eq!(recs[2]["txn"]["path"], "/app/lock");
    assert!(recs[2]["txn"]["data"].is_null());
    assert_eq!(recs[2]["txn"]["kind"], "ephemeral");
}

#[test]
fn snap_dump_prints_nodes_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    for r in records() {
        tree.apply(&r);
    }
    let path = write_snap(dir.path(), &tree);
    let p = path.to_str().unwrap();
    let text = warden(&["snap-dump", p]);
    assert!(text.contains("zxid 0x4"), "{text}");
    assert!(text.contains("ZNode Details (count=7):"), "{text}");
    assert!(text.contains("\n/app\n"), "{text}");
    assert!(text.contains("\n/app/lock\n"), "{text}");
    assert!(text.contains("ephemeralOwner = 0x77"), "{text}");
    assert!(text.contains("0x77, 30000, 1"), "{text}");
    assert!(text.contains("Last zxid: 0x4"), "{text}");

    let json: serde_json::Value =
        serde_json::from_str(&warden(&["snap-dump", p, "--json"])).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["last_zxid"], "0x4");
    let paths: Vec<&str> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/app/lock"));
    assert_eq!(json["sessions"][0]["ephemerals"][0], "/app/lock");
}

#[test]
fn purge_removes_old_snapshots_and_logs() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut tree = Tree::new();
    let mut snaps = vec![];
    for (i, r) in records().into_iter().enumerate() {
        tree.apply(&r);
        snaps.push(write_snap(data.path(), &tree));
        // A log file starting at each snapshot's next zxid.
        let v = logs.path().join("version-2");
        std::fs::create_dir_all(&v).unwrap();
        std::fs::write(v.join(format!("log.{:x}", i + 1)), b"").unwrap();
    }
    let out = warden(&[
        "purge",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--data-log-dir",
        logs.path().to_str().unwrap(),
        "-n",
        "3",
    ]);
    assert!(out.contains("removed 1 snapshots"), "{out}");
    assert!(!snaps[0].exists());
    assert!(snaps[1..].iter().all(|p| p.exists()));
    // Oldest kept snapshot is 0x2: log.2 and later stay, log.1 goes.
    assert!(!logs.path().join("version-2/log.1").exists());
    assert!(logs.path().join("version-2/log.2").exists());
}
