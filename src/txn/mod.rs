//! Transaction records: what the sequencer decided a write does.
//!
//! A [`TxnRecord`] is the unit that is ordered (one zxid each), logged,
//! replicated and applied with [`crate::tree::Tree::apply`]. It is fully
//! resolved: sequential names are already chosen, ACLs already expanded, the
//! parent's new cversion already computed, so applying it is deterministic and
//! needs nothing but the tree and the record. This is what makes log replay
//! and followers produce exactly the leader's tree.
//!
//! The shapes mirror ZooKeeper's txn records (`CreateTxn`, `CreateTTLTxn`,
//! `CreateContainerTxn`, `DeleteTxn`, `SetDataTxn`, `SetACLTxn`,
//! `CheckVersionTxn`, `CloseSessionTxn`, `ErrorTxn`, `MultiTxn`), so a request
//! that fails still yields a record ([`Txn::Error`]) and consumes its zxid,
//! as in ZooKeeper.

use crate::proto::types::{Acl, ErrorCode, NodeData, OpCode, SessionId, Zxid};

/// `TxnHeader` without the type: the type is the [`Txn`] variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnHeader {
    pub session_id: SessionId,
    pub cxid: i32,
    pub zxid: Zxid,
    /// Wall-clock time the sequencer assigned, milliseconds since the epoch.
    pub time_ms: i64,
}

/// What kind of node a create makes; decides the node's `ephemeralOwner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateKind {
    Persistent,
    /// Owned by the header's session.
    Ephemeral,
    /// `ephemeralOwner` = `i64::MIN` (ZooKeeper's `CONTAINER_EPHEMERAL_OWNER`).
    Container,
    /// `ephemeralOwner` = `0xff00_0000_0000_0000 | ttl` (EphemeralType.TTL).
    Ttl(i64),
}

/// A resolved create (ZooKeeper's `CreateTxn` / `CreateTTLTxn` / `CreateContainerTxn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTxn {
    /// Final path, sequential suffix included.
    pub path: String,
    /// May be null, as in ZooKeeper's `CreateTxn.data`.
    pub data: NodeData,
    /// Deduplicated, `auth` ids expanded.
    pub acl: Vec<Acl>,
    pub kind: CreateKind,
    /// The parent's cversion after this create (applied only if greater, as DataTree does).
    pub parent_cversion: i32,
    /// The request opcode (create, create2, createContainer, createTTL): decides the reply shape.
    pub op: OpCode,
}

/// One transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Txn {
    CreateSession {
        timeout_ms: i32,
    },
    /// The session's ephemerals to delete, in the order they are deleted
    /// (ZooKeeper's `CloseSessionTxn.paths2Delete`).
    CloseSession {
        paths: Vec<String>,
    },
    Create(CreateTxn),
    Delete {
        path: String,
    },
    /// deleteContainer: applied exactly as a delete.
    DeleteContainer {
        path: String,
    },
    /// `version` is the node's new version; `data` may be null.
    SetData {
        path: String,
        data: NodeData,
        version: i32,
    },
    /// `version` is the node's new aversion.
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    /// A successful check (inside a multi, or standalone opcode 13).
    Check {
        path: String,
        version: i32,
    },
    /// All-or-nothing. A failed multi holds, like ZooKeeper's, the txns of the
    /// ops before the failing one, `Error(code)` for the failing op and
    /// `Error(RuntimeInconsistency)` for every later op.
    Multi(Vec<Txn>),
    /// A failed request: changes nothing but consumes its zxid.
    Error(ErrorCode),
}

impl Txn {
    /// ZooKeeper's txn type code (`TxnHeader.type`), for the log and for tests.
    pub fn op_code(&self) -> i32 {
        match self {
            Txn::CreateSession { .. } => OpCode::CreateSession as i32,
            Txn::CloseSession { .. } => OpCode::CloseSession as i32,
            Txn::Create(c) => match c.kind {
                CreateKind::Container => OpCode::CreateContainer as i32,
                CreateKind::Ttl(_) => OpCode::CreateTtl as i32,
                _ => c.op as i32,
            },
            Txn::Delete { .. } => OpCode::Delete as i32,
            Txn::DeleteContainer { .. } => OpCode::DeleteContainer as i32,
            Txn::SetData { .. } => OpCode::SetData as i32,
            Txn::SetAcl { .. } => OpCode::SetAcl as i32,
            Txn::Check { .. } => OpCode::Check as i32,
            Txn::Multi(_) => OpCode::Multi as i32,
            Txn::Error(_) => OpCode::Error as i32,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Txn::Error(_))
    }
}

/// A header and its transaction: one zxid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnRecord {
    pub header: TxnHeader,
    pub txn: Txn,
}

pub mod codec;
