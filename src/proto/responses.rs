//! Reply bodies the server sends, one variant per reply shape.
//!
//! A reply is a `ReplyHeader` followed by at most one body. ZooKeeper sends no
//! body when `err != 0` (except inside `multi`, where each failed op carries
//! an `ErrorResponse`); the encoder enforces that, so callers only choose the
//! variant.

use super::types::{Acl, ClientInfo, ErrorCode, NodeData, Stat, WatcherEvent, Zxid};
use bytes::Bytes;

/// `ReplyHeader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: Zxid,
    pub err: i32,
}

/// One result inside a `multi` / `multiRead` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiResult {
    /// create (path only), create2/container/TTL carry a stat.
    Create {
        op: i32,
        path: String,
        stat: Option<Stat>,
    },
    Delete,
    SetData(Stat),
    Check,
    GetChildren(Vec<String>),
    /// Null data is encoded as a null buffer (length -1).
    GetData(NodeData, Stat),
    /// A failed op (or an op rolled back by another's failure).
    Error(ErrorCode),
}

/// A reply body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// Header only: delete, check, setWatches, removeWatches, auth, closeSession, errors.
    Empty,
    /// create (opcode 1).
    Create(String),
    /// create2 / createContainer / createTTL.
    Create2(String, Stat),
    /// exists, setData, setACL.
    Stat(Stat),
    /// Null data is encoded as a null buffer (length -1), as ZooKeeper does.
    GetData(NodeData, Stat),
    GetAcl(Vec<Acl>, Stat),
    GetChildren(Vec<String>),
    GetChildren2(Vec<String>, Stat),
    Sync(String),
    Multi(Vec<MultiResult>),
    /// SASL reply token.
    Sasl(Bytes),
    GetEphemerals(Vec<String>),
    GetAllChildrenNumber(i32),
    WhoAmI(Vec<ClientInfo>),
    /// reconfig answers the new config node's data and stat.
    Reconfig(Bytes, Stat),
    /// A watch notification (sent with xid -1).
    Event(WatcherEvent),
    /// addWatch: ZooKeeper answers an `ErrorResponse` with err 0, a 4-byte
    /// body the Java client insists on reading (unlike `Empty`).
    AddWatch,
}
