//! The data tree: every znode with its data, ACL and Stat, as a persistent map.
//!
//! Why: the sequencer applies each write and publishes a new version after a
//! batch; shards read published versions without locks. `Tree: Clone` is O(1)
//! (its maps share structure: the node and children maps are [`dense`] maps,
//! the small ones imbl's), so a version costs O(changes).
//!
//! Guarantees (ZooKeeper 3.8's `DataTree`): [`Tree::apply`] is deterministic;
//! stats change exactly as ZooKeeper changes them (create bumps the parent's
//! cversion and pzxid only if the record's cversion is greater, delete moves
//! the parent's pzxid only forwards, setACL does not touch mzxid); the
//! returned [`Change`]s are the watch triggers in ZooKeeper's order; the
//! counters behind mntr (`node_count`, `approximate_data_size`,
//! `ephemeral_count`) are ZooKeeper's figures. Listings follow Java HashSet
//! order (see [`javaorder`]). A record that does not fit the tree (it cannot
//! come from [`crate::sequencer::prep`]) changes nothing and reports an error.

pub mod acl;
mod cursor;
pub mod dense;
pub mod javaorder;
mod node;
pub mod path;
mod path_key;
pub mod quota;
pub mod read;
mod ref_count;
pub mod snapshot;
pub mod stats_track;
mod stored;

use crate::proto::types::{Acl, ErrorCode, EventType, NodeData, OpCode, SessionId, Stat, Zxid};
use crate::txn::{CreateKind, CreateTxn, Txn, TxnHeader, TxnRecord};
use dense::DenseMap;
use imbl::{OrdMap, OrdSet};
use javaorder::Member;
pub use node::Node;
pub use path_key::PathKey;
use std::sync::Arc;
pub use stored::StoredStat;

/// A node's ACL, shared by every node that carries the same one. A thin
/// pointer (8 bytes, not the 16 of `Arc<[Acl]>`): it keeps [`NodeMeta`] at
/// 80 bytes, so that a node with 100 bytes of data fits mimalloc's
/// 192-byte size class (see [`Node`]).
pub type Acls = Arc<Vec<Acl>>;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// `EphemeralType` extended-owner mask (high byte all ones).
pub const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
/// The largest TTL ZooKeeper accepts (`EphemeralType.TTL.maxValue()`), ms.
pub const MAX_TTL: i64 = 0x0000_00ff_ffff_ffff;

/// The `ephemeralOwner` ZooKeeper stores for a TTL node.
pub fn ttl_owner(ttl: i64) -> i64 {
    EXTENDED_MASK | ttl
}

/// Initial capacity of a node's children set (`new HashSet<String>(8)` in DataNode).
const CHILDREN_INITIAL_CAP: usize = 8;
/// Initial capacity of a session's ephemeral set (`new HashSet<String>()`).
const EPHEMERALS_INITIAL_CAP: usize = 16;

/// What a node is, by its `ephemeralOwner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    Ephemeral(SessionId),
    Container,
    Ttl(i64),
}

impl NodeKind {
    pub fn owner(self) -> i64 {
        match self {
            NodeKind::Persistent => 0,
            NodeKind::Ephemeral(s) => s,
            NodeKind::Container => CONTAINER_OWNER,
            NodeKind::Ttl(ttl) => ttl_owner(ttl),
        }
    }
}

/// A znode's metadata: everything but its data, which [`Node`] keeps
/// inline in the same allocation. Its Stat's `dataLength` and
/// `numChildren` follow from the data and the children set ([`Node::stat`]).
///
/// Compact on purpose (issue 6): the tree holds each znode once (one
/// [`Node`] allocation), its path (the tree's key) is one allocation shared
/// with the parent's children set, a znode that never had a child holds no
/// children map at all, and the Stat and kind are kept without repetition
/// (see [`stored`]): 80 bytes.
#[derive(Clone, Debug)]
pub struct NodeMeta {
    pub acl: Acls,
    pub stat: StoredStat,
    /// `None` until the first child is added.
    children: Option<Arc<Children>>,
}

/// A znode's children: full child path -> insertion stamp (for Java
/// iteration order), and the most children ever held at once (fixes the
/// Java set's capacity). Keyed by full path: every key has the parent's
/// prefix, so path order is name order.
///
/// The name's hash, the other half of a [`Member`], is computed when a
/// listing needs it rather than stored: 16-byte entries (a thin [`PathKey`]
/// and the stamp), 31 of which fill a [`DenseMap`] leaf of 512 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Children {
    members: DenseMap<PathKey, u64>,
    peak: usize,
}

/// The [`Member`] of the child at full path `child` inserted at stamp `seq`.
fn member_of(child: &str, seq: u64) -> Member {
    Member::new(name_of(child), seq)
}

/// The last segment of a path ("a" of "/x/a").
fn name_of(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

impl Node {
    fn new(data: Option<&[u8]>, acl: Acls, stat: Stat, kind: NodeKind) -> Node {
        Node::with_data(NodeMeta::new(acl, &stat, kind), data)
    }

    /// A node read back from a snapshot: `stat`'s stored fields and `kind`
    /// (its derived counts come from the data and, later, the children).
    pub(super) fn restored(data: &NodeData, acl: Acls, stat: &Stat, kind: NodeKind) -> Node {
        Node::new(data.as_opt_slice(), acl, *stat, kind)
    }

    /// The data for a reply.
    pub fn node_data(&self) -> NodeData {
        match self.data() {
            None => NodeData::NULL,
            Some([]) => NodeData::empty(),
            Some(b) => NodeData::copy_from_slice(b),
        }
    }

    /// The stored Stat with its derived counts: what a snapshot keeps
    /// (the stored cversion, the real ephemeralOwner of containers and
    /// TTL nodes); clients see [`Node::client_stat`].
    pub fn stat(&self) -> Stat {
        self.stat
            .full(self.data_len() as i32, self.num_children() as i32)
    }

    /// The Stat a client sees, as ZooKeeper's `DataNode.copyStat` makes it.
    ///
    /// The stored `cversion` counts creates only (it also names sequential
    /// children); the visible one counts creates and deletes, i.e.
    /// `2 * creates - children now`. Container and TTL markers stored in
    /// `ephemeralOwner` are shown as 0.
    pub fn client_stat(&self) -> Stat {
        let mut stat = self.stat();
        let children = stat.num_children;
        stat.cversion = self.stat.cversion.wrapping_mul(2).wrapping_sub(children);
        if !matches!(self.kind(), NodeKind::Ephemeral(_)) {
            stat.ephemeral_owner = 0;
        }
        stat
    }
}

impl NodeMeta {
    fn new(acl: Acls, stat: &Stat, kind: NodeKind) -> NodeMeta {
        NodeMeta {
            acl,
            stat: StoredStat::new(stat, kind),
            children: None,
        }
    }

    pub fn kind(&self) -> NodeKind {
        self.stat.kind()
    }

    pub fn num_children(&self) -> usize {
        self.children.as_ref().map_or(0, |c| c.members.len())
    }

    /// Most children ever held at once.
    fn children_peak(&self) -> usize {
        self.children.as_ref().map_or(0, |c| c.peak)
    }

    /// The stamp of the child at full path `child`, if it is one.
    #[cfg(test)]
    fn child_member(&self, child: &str) -> Option<Member> {
        let seq = self.children.as_ref()?.members.get(child)?;
        Some(member_of(child, *seq))
    }

    fn has_child(&self, child: &str) -> bool {
        self.children
            .as_ref()
            .is_some_and(|c| c.members.contains_key(child))
    }

    /// Adds the child at full path `child` with insertion stamp `seq`.
    fn add_child(&mut self, child: PathKey, seq: u64) {
        let c = Arc::make_mut(self.children.get_or_insert_with(Default::default));
        c.members.insert(child, seq);
        c.peak = c.peak.max(c.members.len());
    }

    fn remove_child(&mut self, child: &str) {
        if let Some(c) = self.children.as_mut() {
            let c = Arc::make_mut(c);
            c.members.remove(child);
        }
    }

    /// Child names in ZooKeeper's (Java HashSet) order.
    pub fn children(&self) -> Vec<String> {
        let mut items: Vec<(&str, Member)> = self
            .children_members()
            .map(|(k, m)| (name_of(k), m))
            .collect();
        let cap = javaorder::capacity_after(CHILDREN_INITIAL_CAP, self.children_peak());
        javaorder::order(&mut items, cap);
        items.into_iter().map(|(k, _)| k.to_string()).collect()
    }

    /// Child names in byte order (cheap, for internal use).
    pub fn children_sorted(&self) -> impl Iterator<Item = &str> {
        self.children
            .iter()
            .flat_map(|c| c.members.keys().map(|k| name_of(k)))
    }

    /// Full child paths with their stamps, in path order.
    fn children_members(&self) -> impl Iterator<Item = (&str, Member)> {
        self.children
            .iter()
            .flat_map(|c| c.members.iter().map(|(k, seq)| (&**k, member_of(k, *seq))))
    }
}

/// A session's ephemerals, with what Java's HashSet order needs.
#[derive(Clone, Debug, Default)]
struct SessionEphemerals {
    paths: OrdMap<PathKey, Member>,
    peak: usize,
}

/// One watch trigger, in ZooKeeper's firing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub event: EventType,
    pub path: String,
    /// The ACL of the node at `path` (for NodeDeleted, as it was). ZooKeeper
    /// (3.8.4+, 3.9.2+, and Debian's 3.8.0 with the CVE-2024-23944 fix)
    /// delivers the event only to watchers whose connection has READ on it.
    pub acl: Acls,
}

/// What applying a txn produced, per ZooKeeper's `ProcessTxnResult`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Session txns, delete, check.
    Done,
    Created {
        op: OpCode,
        path: String,
        stat: Stat,
    },
    /// setData / setACL: the node's stat after.
    Stat(Stat),
    /// Per-op results; a failed multi has `Err(Ok)` for ops before the failure
    /// (ZooKeeper's `ErrorResult(0)`), the failure's code, then `RuntimeInconsistency`.
    Multi(Vec<Result<Outcome, ErrorCode>>),
}

/// The result of [`Tree::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub result: Result<Outcome, ErrorCode>,
    pub changes: Vec<Change>,
}

/// The whole data tree. Root is keyed "/"; lookups of "" also find it, as in ZooKeeper.
#[derive(Clone, Debug)]
pub struct Tree {
    /// Path -> znode. Values are thin shared [`Node`] handles, so that
    /// copying a leaf on a write (the price of a shared version) copies
    /// pointers, not znodes.
    nodes: DenseMap<PathKey, Node>,
    ephemerals: OrdMap<SessionId, SessionEphemerals>,
    containers: OrdSet<PathKey>,
    ttls: OrdSet<PathKey>,
    /// Live sessions and their negotiated timeouts, as of `last_zxid`: what
    /// a snapshot must carry so sessions (and their ephemerals) survive a
    /// restart, as in ZooKeeper.
    sessions: OrdMap<SessionId, i32>,
    last_zxid: Zxid,
    data_size: u64,
    ephemeral_count: usize,
    next_seq: u64,
    /// Quota roots (see [`quota`]); rebuilt from the nodes on snapshot load.
    quota: quota::QuotaState,
    /// The ACL stored last: a new one equal to it shares its allocation
    /// (most znodes carry the same ACL). Not state: never observable.
    last_acl: Acls,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree::new()
    }
}

fn open_acl() -> Acls {
    Arc::new(Acl::open_unsafe())
}

impl Tree {
    /// The tree of a fresh ZooKeeper 3.8 standalone server: "/", "/zookeeper",
    /// "/zookeeper/quota", "/zookeeper/config" (world read-only, aversion -1),
    /// all stats zero, empty (not null) data, as DataTree's `new byte[0]`.
    pub fn new() -> Tree {
        let open = open_acl();
        let mut t = Tree {
            nodes: DenseMap::new(),
            ephemerals: OrdMap::new(),
            containers: OrdSet::new(),
            ttls: OrdSet::new(),
            sessions: OrdMap::new(),
            last_zxid: 0,
            data_size: 0,
            ephemeral_count: 0,
            next_seq: 0,
            quota: quota::QuotaState::default(),
            last_acl: open.clone(),
        };
        let empty = || {
            Node::new(
                Some(&[]),
                open.clone(),
                Stat::default(),
                NodeKind::Persistent,
            )
        };
        t.insert_node(PathKey::from("/"), empty());
        t.insert_node(PathKey::from("/zookeeper"), empty());
        t.add_child("/", "/zookeeper");
        t.insert_node(PathKey::from("/zookeeper/quota"), empty());
        t.add_child("/zookeeper", "/zookeeper/quota");
        let mut config = empty();
        config.acl = Arc::new(Acl::read_unsafe());
        config.stat.aversion = -1;
        t.insert_node(PathKey::from("/zookeeper/config"), config);
        t.add_child("/zookeeper", "/zookeeper/config");
        // DataTree counts the root twice (under "" and "/"): 0 + 1 bytes of key.
        debug_assert_eq!(t.data_size, 44);
        t
    }

    fn key(path: &str) -> &str {
        if path.is_empty() {
            "/"
        } else {
            path
        }
    }

    /// The ACL of the node at `path` ("" is the root); empty if there is none.
    fn acl_of(&self, path: &str) -> Acls {
        self.node(path)
            .map_or_else(|| Arc::new(Vec::new()), |n| n.acl.clone())
    }

    /// The node at `path` ("" is the root, as in ZooKeeper); no normalisation.
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(Self::key(path))
    }

    /// Whether "/" is in the tree, in O(1): it sorts before every other
    /// path, so it is the first key when present. Checked after every
    /// write, where a search cost 3% of the sequencer's time.
    pub fn has_root(&self) -> bool {
        self.nodes.first_key().is_some_and(|k| k.as_str() == "/")
    }

    /// Changes the node at `path` in this version only: a znode another
    /// version shares is copied first (a few pointers and the Stat), one
    /// only this version holds is changed in place. `None` if there is no
    /// such node.
    fn update<R>(&mut self, path: &str, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
        self.nodes.get_mut(Self::key(path)).map(f)
    }

    /// `acl` as an `Arc`, sharing the last stored one when equal.
    fn intern_acl(&mut self, acl: &[Acl]) -> Acls {
        if **self.last_acl != *acl {
            self.last_acl = Arc::new(acl.to_vec());
        }
        self.last_acl.clone()
    }

    /// Child names in ZooKeeper's order.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.node(path).map(|n| n.children())
    }

    /// The zxid of the last record applied.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// ZooKeeper's znode count (mntr `zk_znode_count`): the nodes plus one,
    /// because DataTree keeps the root under both "" and "/". 5 when fresh.
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// The number of znodes (root included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// mntr `zk_approximate_data_size`: ZooKeeper's running sum of path length
    /// (UTF-16 units) plus data length per node, starting at 44 when fresh.
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    /// Number of ephemeral nodes (mntr `zk_ephemerals_count`).
    /// Sessions created and not closed as of [`Tree::last_zxid`], with their
    /// timeouts.
    pub fn sessions(&self) -> impl Iterator<Item = (SessionId, i32)> + '_ {
        self.sessions.iter().map(|(id, timeout)| (*id, *timeout))
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemeral_count
    }

    /// For `dump`: every session that has held an ephemeral since it began,
    /// with its ephemeral paths in ZooKeeper's HashSet order. Sessions are in
    /// ascending id order (ZooKeeper's ConcurrentHashMap order is not reproduced).
    pub fn sessions_with_ephemerals(&self) -> Vec<(SessionId, Vec<String>)> {
        self.ephemerals
            .iter()
            .map(|(s, e)| {
                let mut items: Vec<(&PathKey, Member)> =
                    e.paths.iter().map(|(p, m)| (p, *m)).collect();
                javaorder::order(
                    &mut items,
                    javaorder::capacity_after(EPHEMERALS_INITIAL_CAP, e.peak),
                );
                (*s, items.into_iter().map(|(p, _)| p.to_string()).collect())
            })
            .collect()
    }

    /// The session's ephemerals in the order `DataTree.getEphemerals(session)`
    /// (a HashSet clone) iterates them: the order of getEphemerals replies and
    /// of the deletions of closeSession.
    pub fn ephemerals_of(&self, session: SessionId) -> Vec<String> {
        let Some(e) = self.ephemerals.get(&session) else {
            return Vec::new();
        };
        let mut items: Vec<(&PathKey, Member)> = e.paths.iter().map(|(p, m)| (p, *m)).collect();
        javaorder::order_of_clone(
            &mut items,
            javaorder::capacity_after(EPHEMERALS_INITIAL_CAP, e.peak),
        );
        items.into_iter().map(|(p, _)| p.to_string()).collect()
    }

    /// Number of nodes whose path starts with `path + "/"`
    /// (`DataTree.getAllChildrenNumber`; "/" counts every node but the root).
    pub fn descendant_count(&self, path: &str) -> usize {
        if path == "/" {
            return self.node_count() - 2;
        }
        let prefix = format!("{path}/");
        self.nodes
            .range::<_, str>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(&prefix))
            .count()
    }

    /// Paths the ContainerManager would delete now: empty containers that have
    /// had a child (cversion > 0), and empty TTL nodes whose mtime is more than
    /// their TTL ago. Sorted by path.
    pub fn sweep_candidates(&self, now_ms: i64) -> Vec<String> {
        self.sweep_candidates_with(now_ms, 0)
    }

    /// As [`Tree::sweep_candidates`], plus never-used empty containers older
    /// than `max_never_used_ms` (znode.container.maxNeverUsedIntervalMs; 0 = off).
    pub fn sweep_candidates_with(&self, now_ms: i64, max_never_used_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        for p in self.containers.iter() {
            let Some(n) = self.node(p) else {
                continue;
            };
            if n.num_children() != 0 {
                continue;
            }
            let elapsed = now_ms.wrapping_sub(n.stat.mtime);
            if n.stat.cversion > 0 || (max_never_used_ms != 0 && elapsed > max_never_used_ms) {
                out.push(p.to_string());
            }
        }
        for p in self.ttls.iter() {
            let Some(n) = self.node(p) else {
                continue;
            };
            if let NodeKind::Ttl(ttl) = n.kind() {
                if n.num_children() == 0 && ttl != 0 && now_ms.wrapping_sub(n.stat.mtime) > ttl {
                    out.push(p.to_string());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Applies one record. Deterministic: the same records in the same order
    /// give the same tree. Advances `last_zxid` (never backwards).
    pub fn apply(&mut self, rec: &TxnRecord) -> Applied {
        let mut changes = Vec::new();
        let result = self.apply_txn(&rec.header, &rec.txn, &mut changes);
        if rec.header.zxid > self.last_zxid {
            self.last_zxid = rec.header.zxid;
        }
        Applied { result, changes }
    }

    fn apply_txn(
        &mut self,
        h: &TxnHeader,
        txn: &Txn,
        ch: &mut Vec<Change>,
    ) -> Result<Outcome, ErrorCode> {
        match txn {
            Txn::CreateSession { timeout_ms } => {
                self.sessions.insert(h.session_id, *timeout_ms);
                Ok(Outcome::Done)
            }
            Txn::CloseSession { paths } => {
                self.sessions.remove(&h.session_id);
                self.kill_session(h.session_id, paths, h.zxid, ch);
                Ok(Outcome::Done)
            }
            Txn::Create(c) => self.create_node(h, c, ch),
            Txn::Delete { path } | Txn::DeleteContainer { path } => {
                self.delete_node(path, h.zxid, ch).map(|_| Outcome::Done)
            }
            Txn::SetData {
                path,
                data,
                version,
            } => self.set_data(path, data, *version, h, ch),
            Txn::SetAcl { path, acl, version } => self.set_acl(path, acl, *version),
            Txn::Check { .. } => Ok(Outcome::Done),
            Txn::Error(code) => Err(*code),
            Txn::Multi(txns) => Ok(self.apply_multi(h, txns, ch)),
        }
    }

    fn apply_multi(&mut self, h: &TxnHeader, txns: &[Txn], ch: &mut Vec<Change>) -> Outcome {
        if txns.iter().any(Txn::is_error) {
            let mut post_failed = false;
            let results = txns
                .iter()
                .map(|t| match t {
                    Txn::Error(code) => {
                        post_failed = true;
                        Err(*code)
                    }
                    _ if post_failed => Err(ErrorCode::RuntimeInconsistency),
                    _ => Err(ErrorCode::Ok),
                })
                .collect();
            return Outcome::Multi(results);
        }
        // All-or-nothing even for a record that does not fit this tree.
        let mut scratch = self.clone();
        let mut sub_changes = Vec::new();
        let mut results = Vec::with_capacity(txns.len());
        for t in txns {
            match scratch.apply_txn(h, t, &mut sub_changes) {
                Ok(o) => results.push(Ok(o)),
                Err(code) => {
                    let mut results: Vec<_> =
                        results.into_iter().map(|_| Err(ErrorCode::Ok)).collect();
                    results.push(Err(code));
                    results.resize(txns.len(), Err(ErrorCode::RuntimeInconsistency));
                    return Outcome::Multi(results);
                }
            }
        }
        *self = scratch;
        ch.extend(sub_changes);
        Outcome::Multi(results)
    }

    fn insert_node(&mut self, path: PathKey, node: Node) {
        self.data_size += path::java_len(&path) + node.data_len() as u64;
        let old = self.nodes.insert(path, node);
        assert!(old.is_none(), "insert_node over an existing node");
    }

    /// Lists the node at `child` (a full path) under `parent` (for the fresh tree).
    fn add_child(&mut self, parent: &str, child: &str) {
        let seq = self.take_seq();
        let (child, _) = self
            .nodes
            .get_key_value(child)
            .expect("child inserted first");
        let child = child.clone();
        self.update(parent, |p| p.add_child(child, seq));
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn create_node(
        &mut self,
        h: &TxnHeader,
        c: &CreateTxn,
        ch: &mut Vec<Change>,
    ) -> Result<Outcome, ErrorCode> {
        let (parent_name, child_name) = path::split_last(&c.path).ok_or(ErrorCode::NoNode)?;
        let parent = self.node(parent_name).ok_or(ErrorCode::NoNode)?;
        if parent.has_child(&c.path) || self.nodes.contains_key(c.path.as_str()) {
            return Err(ErrorCode::NodeExists);
        }
        let kind = match c.kind {
            CreateKind::Persistent => NodeKind::Persistent,
            CreateKind::Ephemeral if h.session_id != 0 => NodeKind::Ephemeral(h.session_id),
            CreateKind::Ephemeral => NodeKind::Persistent,
            CreateKind::Container => NodeKind::Container,
            CreateKind::Ttl(ttl) => NodeKind::Ttl(ttl),
        };
        let stat = Stat {
            czxid: h.zxid,
            mzxid: h.zxid,
            pzxid: h.zxid,
            ctime: h.time_ms,
            mtime: h.time_ms,
            ephemeral_owner: kind.owner(),
            ..Stat::default()
        };
        let acl = self.intern_acl(&c.acl);
        let path: PathKey = PathKey::from(c.path.as_str());
        let node = Node::new(c.data.as_opt_slice(), acl.clone(), stat, kind);
        let out_stat = node.client_stat();
        let seq = self.take_seq();
        let child = path.clone();
        self.update(parent_name, |p| {
            p.add_child(child, seq);
            let new_cversion = if c.parent_cversion == -1 {
                p.stat.cversion.wrapping_add(1)
            } else {
                c.parent_cversion
            };
            if new_cversion > p.stat.cversion {
                p.stat.cversion = new_cversion;
                p.stat.pzxid = h.zxid;
            }
        });
        self.track_kind(&path, kind);
        self.insert_node(path, node);
        self.quota_on_create(parent_name, child_name, &c.path, c.data.len());
        ch.push(Change {
            event: EventType::NodeCreated,
            path: c.path.clone(),
            acl,
        });
        ch.push(Change {
            event: EventType::NodeChildrenChanged,
            path: path::event_path(parent_name).to_string(),
            acl: self.acl_of(parent_name),
        });
        Ok(Outcome::Created {
            op: c.op,
            path: c.path.clone(),
            stat: out_stat,
        })
    }

    fn track_kind(&mut self, path: &PathKey, kind: NodeKind) {
        match kind {
            NodeKind::Persistent => {}
            NodeKind::Container => {
                self.containers.insert(path.clone());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.clone());
            }
            NodeKind::Ephemeral(s) => {
                let seq = self.take_seq();
                let e = self.ephemerals.entry(s).or_default();
                e.paths.insert(path.clone(), Member::new(path, seq));
                e.peak = e.peak.max(e.paths.len());
                self.ephemeral_count += 1;
            }
        }
    }

    fn untrack_kind(&mut self, path: &str, kind: NodeKind) {
        match kind {
            NodeKind::Persistent => {}
            NodeKind::Container => {
                self.containers.remove(path);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            NodeKind::Ephemeral(s) => {
                if let Some(e) = self.ephemerals.get_mut(&s) {
                    if e.paths.remove(path).is_some() {
                        self.ephemeral_count -= 1;
                    }
                }
            }
        }
    }

    fn delete_node(
        &mut self,
        path: &str,
        zxid: Zxid,
        ch: &mut Vec<Change>,
    ) -> Result<(), ErrorCode> {
        let (parent_name, child_name) = path::split_last(path).ok_or(ErrorCode::NoNode)?;
        if self.node(parent_name).is_none() || !self.nodes.contains_key(path) || path == "/" {
            return Err(ErrorCode::NoNode);
        }
        if self.node(path).is_some_and(|n| n.num_children() != 0) {
            // Removing it would orphan its children; prep never emits this.
            return Err(ErrorCode::NotEmpty);
        }
        self.update(parent_name, |p| {
            p.remove_child(path);
            if zxid > p.stat.pzxid {
                p.stat.pzxid = zxid;
            }
        });
        let Some(node) = self.nodes.remove(path) else {
            return Err(ErrorCode::NoNode);
        };
        self.data_size -= path::java_len(path) + node.data_len() as u64;
        self.untrack_kind(path, node.kind());
        self.quota_on_delete(parent_name, child_name, path, node.data_len());
        ch.push(Change {
            event: EventType::NodeDeleted,
            path: path.to_string(),
            acl: node.acl.clone(),
        });
        ch.push(Change {
            event: EventType::NodeChildrenChanged,
            path: path::event_path(parent_name).to_string(),
            acl: self.acl_of(parent_name),
        });
        Ok(())
    }

    fn set_data(
        &mut self,
        path: &str,
        data: &NodeData,
        version: i32,
        h: &TxnHeader,
        ch: &mut Vec<Change>,
    ) -> Result<Outcome, ErrorCode> {
        self.set_data_checked(h, path, data, |_| Ok(version), ch)
    }

    /// setData with its checks done on the node found by the same lookup
    /// (issue 6: prep and apply each searching the path cost a tenth of the
    /// sequencer). `check` sees the node before the change and returns the
    /// new version, or the error that leaves the tree as it was (but for
    /// `last_zxid`, which moves to `h.zxid` either way, as
    /// [`Tree::apply`] of the matching record would move it).
    pub fn apply_set_data(
        &mut self,
        h: &TxnHeader,
        path: &str,
        data: &NodeData,
        check: impl FnOnce(&Node) -> Result<i32, ErrorCode>,
    ) -> Applied {
        let mut changes = Vec::new();
        let result = self.set_data_checked(h, path, data, check, &mut changes);
        if h.zxid > self.last_zxid {
            self.last_zxid = h.zxid;
        }
        Applied { result, changes }
    }

    fn set_data_checked(
        &mut self,
        h: &TxnHeader,
        path: &str,
        data: &NodeData,
        check: impl FnOnce(&Node) -> Result<i32, ErrorCode>,
        ch: &mut Vec<Change>,
    ) -> Result<Outcome, ErrorCode> {
        let slot = self
            .nodes
            .get_mut(Self::key(path))
            .ok_or(ErrorCode::NoNode)?;
        let version = check(slot)?;
        let old_len = slot.data_len() as u64;
        slot.set_data(data.as_opt_slice());
        slot.stat.mtime = h.time_ms;
        slot.stat.mzxid = h.zxid;
        slot.stat.version = version;
        let (stat, acl) = (slot.client_stat(), slot.acl.clone());
        self.data_size = self.data_size - old_len + data.len() as u64;
        self.quota_on_set_data(path, old_len as usize, data.len());
        ch.push(Change {
            event: EventType::NodeDataChanged,
            path: path.to_string(),
            acl,
        });
        Ok(Outcome::Stat(stat))
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Outcome, ErrorCode> {
        let acl = self.intern_acl(acl);
        self.update(path, |n| {
            n.stat.aversion = version;
            n.acl = acl;
            Outcome::Stat(n.client_stat())
        })
        .ok_or(ErrorCode::NoNode)
    }

    /// Replaces a node's data without touching its Stat (but dataLength) or
    /// the approximate data size, as ZooKeeper rewrites quota stats nodes.
    /// Returns the change in length, or `None` if there is no such node.
    fn replace_data_untracked(&mut self, path: &str, data: NodeData) -> Option<i64> {
        self.update(path, |n| {
            let delta = data.len() as i64 - n.data_len() as i64;
            n.set_data(data.as_opt_slice());
            delta
        })
    }

    /// `DataTree.killSession`: deletes the txn's paths in order (missing ones
    /// are skipped), then any ephemeral of the session the txn did not name.
    fn kill_session(
        &mut self,
        session: SessionId,
        paths: &[String],
        zxid: Zxid,
        ch: &mut Vec<Change>,
    ) {
        let leftover: Vec<String> = self
            .ephemerals_of(session)
            .into_iter()
            .filter(|p| !paths.contains(p))
            .collect();
        self.ephemerals.remove(&session);
        for p in paths.iter().chain(leftover.iter()) {
            let owned = self
                .node(p)
                .is_some_and(|n| n.kind() == NodeKind::Ephemeral(session));
            if owned {
                self.ephemeral_count -= 1;
                // The session entry is gone; untrack_kind finds nothing more to do.
            }
            let _ = self.delete_node(p, zxid, ch);
        }
    }

    /// Checks the structural invariants (tests and debug builds call this).
    /// Returns a description of the first violation.
    pub fn check_invariants(&self) -> Result<(), String> {
        // The maps' own structure (asserted), in every unit test that checks a tree.
        #[cfg(test)]
        {
            self.nodes.check();
            for c in self.nodes.values().filter_map(|n| n.children.as_ref()) {
                c.members.check();
            }
        }
        let mut eph = 0usize;
        let mut listed = 0usize;
        let mut size = 0u64;
        let mut parents = cursor::ChildCursor::default();
        for (p, n) in self.nodes.iter() {
            let p: &str = p;
            size += path::java_len(p) + n.data_len() as u64;
            if n.children_peak() < n.num_children() {
                return Err(format!("{p}: children peak below the count"));
            }
            for (cp, _) in n.children_members() {
                if cp == "/" || path::split_last(cp).map(|(parent, _)| Self::key(parent)) != Some(p)
                {
                    return Err(format!("{p}: lists {cp}, not its child"));
                }
            }
            listed += n.num_children();
            if p != "/" {
                let Some((parent, _)) = parents.member(self, p) else {
                    return Err(format!("{p}: not listed by its parent"));
                };
                // (ZooKeeper stops moving pzxid once cversion is stuck at i32::MAX.)
                if parent.stat.pzxid < n.stat.czxid && parent.stat.cversion != i32::MAX {
                    return Err(format!("{p}: czxid above its parent's pzxid"));
                }
            }
            if let NodeKind::Ephemeral(s) = n.kind() {
                eph += 1;
                if !self
                    .ephemerals
                    .get(&s)
                    .is_some_and(|e| e.paths.contains_key(p))
                {
                    return Err(format!("{p}: ephemeral not tracked for its session"));
                }
            }
        }
        // Every node but the root is listed by its parent (checked above),
        // so as many listings as non-root nodes means none names a missing node.
        if listed + 1 != self.nodes.len() || !self.nodes.contains_key("/") {
            return Err(format!(
                "{listed} children listed for {} nodes: some listed child is missing",
                self.nodes.len()
            ));
        }
        if eph != self.ephemeral_count {
            return Err(format!("ephemeral_count {} != {eph}", self.ephemeral_count));
        }
        // Quota stats rewrites are not counted, as in ZooKeeper.
        if size as i64 != self.data_size as i64 + self.quota.untracked_bytes() {
            return Err(format!("data size {} != {size}", self.data_size));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
