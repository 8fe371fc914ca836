//! Txn records for driving a [`warden::tree::Tree`] directly: shared by
//! tests/tree_footprint.rs and benches/tree.rs (included with `#[path]`).
//! Persistent znodes of 100-byte payloads under one parent, "/mem".

use warden::proto::types::{Acl, NodeData, OpCode};
use warden::txn::{CreateKind, CreateTxn, Txn, TxnHeader, TxnRecord};

/// The parent every measured znode is created under.
pub const PARENT: &str = "/mem";

/// `txn` at `zxid`, by no session, at time `zxid` ms.
pub fn record(zxid: i64, txn: Txn) -> TxnRecord {
    TxnRecord {
        header: TxnHeader {
            session_id: 0,
            cxid: 0,
            zxid,
            time_ms: zxid,
        },
        txn,
    }
}

/// A persistent, world-open create of `path` holding `data`.
pub fn create(zxid: i64, path: String, data: &[u8]) -> TxnRecord {
    record(
        zxid,
        Txn::Create(CreateTxn {
            path,
            data: NodeData::copy_from_slice(data),
            acl: Acl::open_unsafe(),
            kind: CreateKind::Persistent,
            parent_cversion: -1,
            op: OpCode::Create,
        }),
    )
}

/// A setData of `path` to `data`, as version `version`.
pub fn set_data(zxid: i64, path: String, data: &[u8], version: i32) -> TxnRecord {
    record(
        zxid,
        Txn::SetData {
            path,
            data: NodeData::copy_from_slice(data),
            version,
        },
    )
}

/// The `i`th measured znode.
pub fn node_path(i: usize) -> String {
    format!("{PARENT}/n{i:010}")
}
