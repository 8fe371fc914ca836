//! What the sequencer publishes to the shards: one [`Outcome`] per ordered
//! event, grouped in durable [`Batch`]es.
//!
//! Every shard receives every batch. For each outcome, in order, a shard
//! (1) switches its readers to `tree` if the outcome carries the version
//! right after it (`exact`), (2) fires the watches of `changes`, and (3) if
//! `origin` names one of its connections, releases the reply. That order is
//! what makes a client see a watch event before any reply that reflects the
//! change, and a read queued behind its own write see the tree after that
//! write (and after nothing the shard has not fired the watches of).
//!
//! Versions are taken only where a shard may read one (issue 6: a version
//! per write made the sequencer copy B-tree paths and the shards free them
//! on every write): the last outcome of a batch, whose version shards serve
//! reads from after the batch, and read points, which a shard asks for when
//! a read is queued behind a pending write of its session. Between those,
//! the tree is applied in place. Every other outcome carries the newest
//! version taken before it, with `exact` false; nobody reads it.

use crate::proto::responses::Response;
use crate::proto::types::{ErrorCode, SessionId, Zxid};
use crate::tree::{Change, Tree};
use std::sync::Arc;
use warden_storage::BatchId;

/// Where a request came from: a shard and one of its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub shard: usize,
    pub conn: u64,
}

/// What the origin connection is told.
#[derive(Clone, Debug)]
pub enum Reply {
    /// The answer to a client request (header error code or a body).
    Response(Result<Response, ErrorCode>),
    /// A new session was created for a connect request.
    SessionCreated { timeout_ms: i32, passwd: [u8; 16] },
    /// A reconnect with a live session id and the right password.
    /// `previous` is the connection that held the session before, if any;
    /// its shard closes it.
    SessionResumed {
        timeout_ms: i32,
        passwd: [u8; 16],
        previous: Option<Origin>,
    },
    /// A reconnect to an unknown or expired session, or with a wrong
    /// password: the client is told its session expired.
    SessionRejected,
    /// The client has seen a zxid newer than this server's: close, as
    /// ZooKeeper does, so the client tries another server.
    ZxidAhead { client_zxid: Zxid },
    /// Nobody waits for this outcome (expiry, container sweep).
    Nothing,
    /// The read point the origin connection asked for: its queued reads
    /// are answered from `tree` (exact).
    ReadPoint,
}

/// One ordered event's result.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub origin: Option<Origin>,
    pub session: SessionId,
    pub xid: i32,
    /// The zxid for the reply header: the last zxid applied at this point.
    pub zxid: Zxid,
    pub reply: Reply,
    /// Watch triggers, in ZooKeeper's order.
    pub changes: Vec<Change>,
    /// The session ended here (closeSession or expiry): close its connection.
    pub session_closed: bool,
    /// The tree right after this outcome if `exact`; otherwise an older
    /// version, not to be read.
    pub tree: Arc<Tree>,
    /// `tree` is the version right after this outcome (always so for the
    /// last outcome of a batch and for read points).
    pub exact: bool,
}

/// A group of outcomes whose transactions were flushed together.
#[derive(Debug)]
pub struct Batch {
    pub id: BatchId,
    pub outcomes: Vec<Outcome>,
}
