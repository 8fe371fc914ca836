//! Decoded client requests: one enum variant per opcode a client may send.
//!
//! The decoder (in `decode.rs`) turns a frame body into a [`Request`]; every
//! other layer works on these typed values only, never on raw bytes. A value of
//! this type has passed the codec's bounds (lengths, counts) but not the
//! semantic checks (path syntax, versions), which belong to the tree and the
//! sequencer so that they answer ZooKeeper's error codes.

use super::types::{Acl, NodeData, OpCode};
use bytes::Bytes;

/// `RequestHeader`: the client's request id and opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    pub xid: i32,
    pub op: i32,
}

/// Create in any of its four opcodes (create 1, create2 15, createContainer
/// 19, createTTL 21). `ttl` is only present for createTTL; the opcode decides
/// the reply's shape (create answers the path only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub path: String,
    /// May be null (zkCli's `create /x` sends no data); stored as sent.
    pub data: NodeData,
    pub acl: Vec<Acl>,
    pub flags: i32,
    pub ttl: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteRequest {
    pub path: String,
    pub version: i32,
}

/// exists / getData / getChildren / getChildren2: a path and a watch flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathWatchRequest {
    pub path: String,
    pub watch: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetDataRequest {
    pub path: String,
    /// May be null; stored as sent.
    pub data: NodeData,
    pub version: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAclRequest {
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckVersionRequest {
    pub path: String,
    pub version: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconfigRequest {
    pub joining_servers: Option<String>,
    pub leaving_servers: Option<String>,
    pub new_members: Option<String>,
    pub cur_config_id: i64,
}

/// checkWatches (17) and removeWatches (18) share this body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchesRequest {
    pub path: String,
    pub watcher_type: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthPacket {
    pub auth_type: i32,
    pub scheme: String,
    pub auth: Bytes,
}

/// setWatches (101) has no persistent lists; they decode as empty.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SetWatchesRequest {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
    pub persistent_watches: Vec<String>,
    pub persistent_recursive_watches: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddWatchRequest {
    pub path: String,
    pub mode: i32,
}

/// One operation inside `multi` (14) or `multiRead` (22).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiOp {
    /// create / create2 / createContainer / createTTL, with its opcode.
    Create(OpCode, CreateRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    /// multiRead only.
    GetChildren(String),
    /// multiRead only.
    GetData(String),
}

/// A decoded client request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Opcodes 1, 15, 19, 21; the opcode is kept to shape the reply.
    Create(OpCode, CreateRequest),
    Delete(DeleteRequest),
    /// deleteContainer (20): a path only.
    DeleteContainer(String),
    Exists(PathWatchRequest),
    GetData(PathWatchRequest),
    SetData(SetDataRequest),
    GetAcl(String),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    GetChildren2(PathWatchRequest),
    Sync(String),
    Ping,
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    MultiRead(Vec<MultiOp>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatchesRequest),
    SetWatches2(SetWatchesRequest),
    /// SASL token (GetSASLRequest).
    Sasl(Bytes),
    /// getEphemerals: a path prefix.
    GetEphemerals(String),
    GetAllChildrenNumber(String),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

impl Request {
    /// True for requests that must pass through the sequencer: everything that
    /// changes the tree or session state, plus `sync`, which is answered once
    /// every write ordered before it is visible on the client's shard.
    pub fn needs_sequencer(&self) -> bool {
        matches!(
            self,
            Request::Create(..)
                | Request::Delete(_)
                | Request::DeleteContainer(_)
                | Request::SetData(_)
                | Request::SetAcl(_)
                | Request::Check(_)
                | Request::Multi(_)
                | Request::Reconfig(_)
                | Request::Sync(_)
                | Request::CloseSession
        )
    }
}
