//! The tree's snapshot encoding: the content of a `snapshot.<zxid>` file.
//!
//! Exact: [`read_tree`] of what [`write_tree`] wrote is the same tree in
//! every observable way and in every piece of state that decides future
//! behaviour — each node's data (null kept apart from empty), ACL, stored
//! Stat (the stored cversion, which names sequential children), kind and
//! children-set peak; each child's insertion stamp (Java HashSet order); the
//! per-session ephemeral sets with their stamps and peaks (including sessions
//! whose set is empty now); the live sessions with timeouts; `last_zxid` and
//! the stamp counter. What follows from the nodes (children maps, the
//! container and TTL sets, the ephemeral count, the data size) is rebuilt,
//! not stored, and the result is checked with [`Tree::check_invariants`].
//!
//! Format (big-endian): magic `WTRE`, a format version byte, last zxid,
//! next stamp, sessions (count, then id + timeout), nodes in path order
//! (count, then path, data, ACL, the 11 Stat fields, kind, own stamp in the
//! parent's children set, children peak), ephemeral sets (count, then
//! session, peak, and path + stamp pairs). Decoding is bounded like
//! [`crate::txn::codec::decode_txn`].

use super::cursor::ChildCursor;
use super::{javaorder::Member, path, Node, NodeKind, PathKey, SessionEphemerals, Tree};
use crate::proto::jute::{DecodeError, Reader};
use crate::proto::types::{SessionId, Stat};
use crate::txn::codec::{put_acls, put_len, put_str, read_acls, read_count, read_data};
use bytes::BufMut;
use imbl::{OrdMap, OrdSet};
use std::io::{self, Write};
use std::sync::Arc;

pub const TREE_MAGIC: [u8; 4] = *b"WTRE";
pub const TREE_FORMAT_VERSION: u8 = 1;

const KIND_PERSISTENT: u8 = 0;
const KIND_EPHEMERAL: u8 = 1;
const KIND_CONTAINER: u8 = 2;
const KIND_TTL: u8 = 3;

/// Smallest encoded node: path len, data len, acl count, stat (68), kind, stamp, peak.
const MIN_NODE: usize = 4 + 4 + 4 + 68 + 1 + 8 + 8;

/// Why bytes are not a tree snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotCodecError {
    #[error("not a tree snapshot (bad magic)")]
    Magic,
    #[error("unsupported tree snapshot format version {0}")]
    Version(u8),
    #[error(transparent)]
    Jute(#[from] DecodeError),
    #[error("unknown node kind {0}")]
    UnknownKind(u8),
    #[error("node {0} appears twice")]
    Duplicate(String),
    #[error("node {0} has no parent in the snapshot")]
    Orphan(String),
    #[error("no root node")]
    NoRoot,
    #[error("inconsistent snapshot: {0}")]
    Invariant(String),
    /// Not the snapshot's fault: the loader's second thread could not start.
    #[error("cannot start the snapshot map builder thread: {0}")]
    Thread(String),
}

/// Flush the staging buffer to the writer past this size.
const CHUNK: usize = 64 << 10;

/// Streams the encoding of `tree` into `w`.
pub fn write_tree(tree: &Tree, w: &mut dyn Write) -> io::Result<()> {
    let mut out = Vec::with_capacity(CHUNK + 4096);
    out.put_slice(&TREE_MAGIC);
    out.put_u8(TREE_FORMAT_VERSION);
    out.put_i64(tree.last_zxid);
    out.put_u64(tree.next_seq);
    put_len(&mut out, tree.sessions.len());
    for (id, timeout) in tree.sessions.iter() {
        out.put_i64(*id);
        out.put_i32(*timeout);
    }
    put_len(&mut out, tree.nodes.len());
    let mut stamps = ChildCursor::default();
    for (p, n) in tree.nodes.iter() {
        put_str(&mut out, p);
        crate::txn::codec::put_opt_data(&mut out, n.data());
        put_acls(&mut out, &n.acl);
        put_stat(&mut out, &n.stat());
        match n.kind() {
            NodeKind::Persistent => out.put_u8(KIND_PERSISTENT),
            NodeKind::Ephemeral(s) => {
                out.put_u8(KIND_EPHEMERAL);
                out.put_i64(s);
            }
            NodeKind::Container => out.put_u8(KIND_CONTAINER),
            NodeKind::Ttl(ttl) => {
                out.put_u8(KIND_TTL);
                out.put_i64(ttl);
            }
        }
        out.put_u64(stamps.member(tree, p).map_or(0, |(_, m)| m.seq));
        out.put_u64(n.children_peak() as u64);
        if out.len() >= CHUNK {
            w.write_all(&out)?;
            out.clear();
        }
    }
    put_len(&mut out, tree.ephemerals.len());
    for (s, e) in tree.ephemerals.iter() {
        out.put_i64(*s);
        out.put_u64(e.peak as u64);
        put_len(&mut out, e.paths.len());
        for (p, m) in e.paths.iter() {
            put_str(&mut out, p);
            out.put_u64(m.seq);
            if out.len() >= CHUNK {
                w.write_all(&out)?;
                out.clear();
            }
        }
    }
    w.write_all(&out)
}

fn put_stat(out: &mut Vec<u8>, s: &Stat) {
    out.put_i64(s.czxid);
    out.put_i64(s.mzxid);
    out.put_i64(s.ctime);
    out.put_i64(s.mtime);
    out.put_i32(s.version);
    out.put_i32(s.cversion);
    out.put_i32(s.aversion);
    out.put_i64(s.ephemeral_owner);
    out.put_i32(s.data_length);
    out.put_i32(s.num_children);
    out.put_i64(s.pzxid);
}

fn read_usize(r: &mut Reader<'_>) -> Result<usize, DecodeError> {
    Ok(usize::try_from(r.read_i64()? as u64).unwrap_or(usize::MAX))
}

/// Decodes a tree written by [`write_tree`]; the whole slice must be it.
/// The result is checked with [`Tree::check_invariants`].
pub fn read_tree(bytes: &[u8]) -> Result<Tree, SnapshotCodecError> {
    let tree = decode_tree(bytes)?;
    tree.check_invariants()
        .map_err(SnapshotCodecError::Invariant)?;
    Ok(tree)
}

/// [`read_tree`] without the final [`Tree::check_invariants`], which the
/// caller must run (the server runs it while it replays the log).
pub fn decode_tree(bytes: &[u8]) -> Result<Tree, SnapshotCodecError> {
    if bytes.len() < 5 || bytes[..4] != TREE_MAGIC {
        return Err(SnapshotCodecError::Magic);
    }
    if bytes[4] != TREE_FORMAT_VERSION {
        return Err(SnapshotCodecError::Version(bytes[4]));
    }
    let mut r = Reader::new(&bytes[5..]);
    let last_zxid = r.read_i64()?;
    let next_seq = r.read_i64()? as u64;
    let mut sessions = OrdMap::new();
    for _ in 0..read_count(&mut r, 12)? {
        let id: SessionId = r.read_i64()?;
        sessions.insert(id, r.read_i32()?);
    }
    let mut acls = AclReuse::default();
    let mut containers = OrdSet::new();
    let mut ttls = OrdSet::new();
    let mut data_size = 0u64;
    let mut ephemeral_count = 0usize;
    let count = read_count(&mut r, MIN_NODE)?;
    let mut sink =
        load::NodeSink::start(count).map_err(|e| SnapshotCodecError::Thread(e.to_string()))?;
    for _ in 0..count {
        let p: PathKey = PathKey::from(r.read_str()?);
        let data = read_data(&mut r)?;
        let acl = acls.read(&mut r)?;
        let stat = crate::proto::records::read_stat(&mut r)?;
        let kind = match r.read_u8()? {
            KIND_PERSISTENT => NodeKind::Persistent,
            KIND_EPHEMERAL => NodeKind::Ephemeral(r.read_i64()?),
            KIND_CONTAINER => NodeKind::Container,
            KIND_TTL => NodeKind::Ttl(r.read_i64()?),
            k => return Err(SnapshotCodecError::UnknownKind(k)),
        };
        let stamp = r.read_i64()? as u64;
        let children_peak = read_usize(&mut r)?;
        match kind {
            NodeKind::Container => {
                containers.insert(p.clone());
            }
            NodeKind::Ttl(_) => {
                ttls.insert(p.clone());
            }
            NodeKind::Ephemeral(_) => ephemeral_count += 1,
            NodeKind::Persistent => {}
        }
        data_size += path::java_len(&p) + data.len() as u64;
        let node = Node::restored(&data, acl, &stat, kind);
        sink.push(p, node, stamp, children_peak)?;
    }
    if !sink.has_root() {
        return Err(SnapshotCodecError::NoRoot);
    }
    let mut ephemerals = OrdMap::new();
    for _ in 0..read_count(&mut r, 20)? {
        let s: SessionId = r.read_i64()?;
        let peak = read_usize(&mut r)?;
        let mut paths = OrdMap::new();
        for _ in 0..read_count(&mut r, 12)? {
            let p: PathKey = PathKey::from(r.read_str()?);
            let m = Member::new(&p, r.read_i64()? as u64);
            paths.insert(p, m);
        }
        ephemerals.insert(s, SessionEphemerals { paths, peak });
    }
    r.finish()?;
    let mut tree = Tree {
        nodes: sink.finish(),
        ephemerals,
        containers,
        ttls,
        sessions,
        last_zxid,
        data_size,
        ephemeral_count,
        next_seq,
        quota: Default::default(),
        last_acl: acls.last,
    };
    // As ZooKeeper's DataTree.deserialize: quota roots and usage come from the nodes.
    tree.quota_setup();
    Ok(tree)
}

/// Consecutive nodes mostly carry the same ACL: its encoding is compared
/// as bytes and the previous allocation shared, decoding only a new one.
struct AclReuse {
    raw: Vec<u8>,
    last: super::Acls,
}

impl Default for AclReuse {
    fn default() -> AclReuse {
        AclReuse {
            raw: Vec::new(),
            last: Arc::new(Vec::new()),
        }
    }
}

impl AclReuse {
    fn read(&mut self, r: &mut Reader<'_>) -> Result<super::Acls, DecodeError> {
        let before = r.rest();
        let mut acl = r.clone();
        skip_acls(r)?;
        let raw = &before[..before.len() - r.remaining()];
        if raw != self.raw.as_slice() {
            let decoded = read_acls(&mut acl)?;
            if *self.last != *decoded {
                self.last = Arc::new(decoded);
            }
            self.raw.clear();
            self.raw.extend_from_slice(raw);
        }
        Ok(self.last.clone())
    }
}

/// Steps over an encoded ACL list (as [`read_acls`] reads it) without decoding it.
fn skip_acls(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    // A vector of `()` never allocates.
    r.read_vec(12, |r| {
        r.read_i32()?;
        r.read_str()?;
        r.read_str()?;
        Ok(())
    })?;
    Ok(())
}

mod load;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod restart_cost;
