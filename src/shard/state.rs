//! The shard's state and its three loops: accept connections, apply
//! published batches, report session activity to the sequencer.
//!
//! A batch is applied in one go, without awaiting: switch the tree
//! version where the outcome carries one, fire watches, release replies; everything it queues for
//! clients is then flushed connection by connection (see [`super::flush`]),
//! so each watch event is sent before any reply of the same batch or later
//! on that connection.

use super::connection::{notification_frame, Connection, READ_CHUNK_BYTES};
use super::flush::FlushQueue;
use super::peers::{ShardPeers, ShardQuery, WatchReport};
use super::visibility::Visibility;
use crate::config::Config;
use crate::proto::types::{perms, Acl, EventType, SessionId, WatcherEvent};
use crate::sasl::SaslService;
use crate::sequencer::core::Event;
use crate::sequencer::outcome::{Batch, Outcome, Reply};
use crate::server::stats::ServerStats;
use crate::tree::{acl, Change, Tree};
use crate::watch::{NodeChange, WatchTable, WatcherId};
use async_channel::{Receiver, Sender};
use bytes::Bytes;
use glommio::net::TcpListener;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Bounds a shard enforces.
#[derive(Clone, Debug)]
pub struct ShardLimits {
    /// Largest frame a client may send (`jute.maxbuffer`).
    pub frame_bytes_max: usize,
    /// Connections this shard accepts at once.
    pub connections_max: usize,
    /// Connections from one IP address at once, across shards (0 = no limit).
    pub connections_per_ip_max: usize,
    /// Unanswered requests per connection before it stops reading.
    pub pending_requests_max: usize,
    /// Bytes queued for a client before it is considered stuck and closed.
    pub outbound_bytes_max: usize,
    /// Watches one connection may hold.
    pub watches_per_connection_max: usize,
    /// How often session activity is reported to the sequencer.
    pub touch_interval: Duration,
}

/// What every shard shares with the rest of the server.
#[derive(Clone)]
pub struct ServerShared {
    pub to_sequencer: Sender<Event>,
    pub stats: Arc<ServerStats>,
    pub config: Arc<Config>,
    pub peers: ShardPeers,
    pub visibility: Arc<Visibility>,
    /// DIGEST-MD5 users; `None` = SASL off.
    pub sasl: Option<Arc<SaslService>>,
}

/// One shard's state, shared by its tasks (single-threaded).
pub struct Shard {
    pub index: usize,
    pub limits: ShardLimits,
    pub to_sequencer: Sender<Event>,
    pub stats: Arc<ServerStats>,
    pub config: Arc<Config>,
    pub peers: ShardPeers,
    visibility: Arc<Visibility>,
    pub sasl: Option<Arc<SaslService>>,
    tree: RefCell<Arc<Tree>>,
    /// Batches this shard has applied.
    applied: Cell<u64>,
    /// Connections whose next read waits for `applied` to reach a count.
    waiting_reads: RefCell<Vec<(u64, u64)>>,
    pub(crate) watches: RefCell<WatchTable>,
    /// The one buffer every connection's socket reads land in (see
    /// `connection::read_more`).
    pub(crate) read_scratch: RefCell<Vec<u8>>,
    /// Connections with bytes released by the batch being applied.
    pub(crate) flush: Rc<FlushQueue>,
    connections: RefCell<HashMap<u64, Rc<Connection>>>,
    sessions: RefCell<HashMap<SessionId, u64>>,
    touched: RefCell<HashSet<SessionId>>,
    next_connection: Cell<u64>,
}

impl Shard {
    pub fn new(
        index: usize,
        limits: ShardLimits,
        shared: ServerShared,
        tree: Arc<Tree>,
    ) -> Rc<Shard> {
        let watches = WatchTable::new(limits.watches_per_connection_max);
        Rc::new(Shard {
            index,
            limits,
            to_sequencer: shared.to_sequencer,
            stats: shared.stats,
            config: shared.config,
            peers: shared.peers,
            visibility: shared.visibility,
            sasl: shared.sasl,
            tree: RefCell::new(tree),
            applied: Cell::new(0),
            waiting_reads: RefCell::new(Vec::new()),
            watches: RefCell::new(watches),
            flush: Rc::new(FlushQueue::new()),
            read_scratch: RefCell::new(vec![0; READ_CHUNK_BYTES]),
            connections: RefCell::new(HashMap::new()),
            sessions: RefCell::new(HashMap::new()),
            touched: RefCell::new(HashSet::new()),
            next_connection: Cell::new(1),
        })
    }

    /// The newest tree version this shard has processed.
    pub fn tree(&self) -> Arc<Tree> {
        self.tree.borrow().clone()
    }

    /// Batches any reply has been released for, server-wide: a read
    /// arriving now must see that many applied.
    pub fn released(&self) -> u64 {
        self.visibility.released()
    }

    /// Batches this shard has applied.
    pub fn applied(&self) -> u64 {
        self.applied.get()
    }

    /// Answers `connection`'s queued read once `count` batches are applied.
    pub(crate) fn wake_read_at(&self, count: u64, connection: u64) {
        self.waiting_reads.borrow_mut().push((count, connection));
    }

    pub fn touch(&self, session: SessionId) {
        self.touched.borrow_mut().insert(session);
    }

    pub fn connection_count(&self) -> usize {
        self.connections.borrow().len()
    }

    pub(crate) fn bind_session(&self, session: SessionId, connection: u64) {
        self.sessions.borrow_mut().insert(session, connection);
    }

    /// Forgets a closed connection and everything it held on this shard.
    pub(crate) fn forget(&self, connection: &Connection) {
        self.connections.borrow_mut().remove(&connection.id);
        self.watches
            .borrow_mut()
            .remove_watcher(WatcherId(connection.id));
        if let Some(session) = connection.session() {
            let mut sessions = self.sessions.borrow_mut();
            if sessions.get(&session) == Some(&connection.id) {
                sessions.remove(&session);
            }
        }
        self.stats
            .connection_closed(self.index, connection.id, connection.peer);
    }

    fn connection(&self, id: u64) -> Option<Rc<Connection>> {
        self.connections.borrow().get(&id).cloned()
    }

    fn session_connection(&self, session: SessionId) -> Option<Rc<Connection>> {
        let id = *self.sessions.borrow().get(&session)?;
        self.connection(id)
    }

    /// Accepts connections until the listener fails.
    pub async fn accept_loop(self: Rc<Self>, listener: TcpListener) {
        loop {
            let stream = match listener.accept().await {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(shard = self.index, %error, "accept failed");
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let peer = match stream.peer_addr() {
                Ok(peer) => peer,
                Err(_) => continue,
            };
            if !self.admit(peer) {
                continue;
            }
            let id = self.next_connection.get();
            self.next_connection.set(id + 1);
            let connection = Connection::new(id, peer, &self);
            self.connections.borrow_mut().insert(id, connection.clone());
            glommio::spawn_local(connection.serve(self.clone(), stream)).detach();
        }
    }

    fn admit(&self, peer: SocketAddr) -> bool {
        if self.connection_count() >= self.limits.connections_max {
            tracing::warn!(shard = self.index, %peer, "connection refused: shard at its connection limit");
            return false;
        }
        if !self
            .stats
            .admit_ip(peer.ip(), self.limits.connections_per_ip_max)
        {
            tracing::warn!(shard = self.index, %peer, "connection refused: too many connections from this address (maxClientCnxns)");
            return false;
        }
        true
    }

    /// Applies published batches, in order, until the sequencer is gone.
    pub async fn batch_loop(self: Rc<Self>, batches: Receiver<Arc<Batch>>) {
        while let Ok(batch) = batches.recv().await {
            let count = batch.id.0 + 1;
            assert_eq!(
                count,
                self.applied.get() + 1,
                "batches are applied in order, once"
            );
            if batch
                .outcomes
                .iter()
                .any(|o| o.origin.is_some_and(|o| o.shard == self.index))
            {
                self.visibility.release(count);
            }
            self.flush.begin();
            for outcome in &batch.outcomes {
                self.apply_outcome(outcome);
            }
            self.applied.set(count);
            self.wake_waiting_reads();
            self.flush_released();
        }
    }

    /// Sends what the batch just applied released, one connection at a time.
    fn flush_released(&self) {
        for id in self.flush.finish() {
            if let Some(connection) = self.connection(id) {
                connection.flush_direct();
            }
        }
    }

    fn wake_waiting_reads(&self) {
        let applied = self.applied.get();
        let ready: Vec<u64> = {
            let mut waiting = self.waiting_reads.borrow_mut();
            let (ready, still): (Vec<_>, Vec<_>) =
                waiting.drain(..).partition(|(count, _)| *count <= applied);
            *waiting = still;
            ready
                .into_iter()
                .map(|(_, connection)| connection)
                .collect()
        };
        for id in ready {
            if let Some(connection) = self.connection(id) {
                connection.drain(self);
            }
        }
    }

    fn apply_outcome(&self, outcome: &Outcome) {
        if outcome.exact {
            *self.tree.borrow_mut() = outcome.tree.clone();
        }
        self.fire_watches(outcome);
        if let Reply::SessionResumed {
            previous: Some(previous),
            ..
        } = &outcome.reply
        {
            if previous.shard == self.index {
                if let Some(old) = self.connection(previous.conn) {
                    old.close("session moved to another connection");
                }
            }
        }
        if let Some(origin) = outcome.origin.filter(|o| o.shard == self.index) {
            if let Some(connection) = self.connection(origin.conn) {
                connection.on_outcome(self, outcome);
            }
        }
        if outcome.session_closed {
            if let Some(connection) = self.session_connection(outcome.session) {
                connection.close_after_flush("session closed");
            }
        }
    }

    fn fire_watches(&self, outcome: &Outcome) {
        if outcome.changes.is_empty() {
            return;
        }
        let mut fired = Vec::new();
        {
            let mut watches = self.watches.borrow_mut();
            for (i, change) in outcome.changes.iter().enumerate() {
                if let Some(kind) = node_change(change.event) {
                    let parent = outcome.changes.get(i + 1);
                    for (watcher, event) in watches.trigger_change(kind, &change.path) {
                        let acl = event_acl(change, parent, &event);
                        fired.push((watcher, event, acl));
                    }
                }
            }
        }
        // The watchers of one trigger get the same event in a row: the
        // frame is encoded once for them all.
        let mut frame: Option<(WatcherEvent, Bytes)> = None;
        for (watcher, event, acl) in fired {
            let Some(connection) = self.connection(watcher.0) else {
                continue;
            };
            // ZooKeeper drops an event (the one-shot watch is still used
            // up) when the watcher may not READ the node.
            if acl::check_acl(acl, perms::READ, &connection.auth_ids()).is_err() {
                continue;
            }
            let bytes = match &frame {
                Some((last, bytes)) if *last == event => bytes.clone(),
                _ => {
                    let bytes = notification_frame(&event);
                    frame = Some((event, bytes.clone()));
                    bytes
                }
            };
            connection.send_notification(self, &bytes);
        }
    }

    /// Answers other shards' questions until the server stops.
    pub async fn query_loop(self: Rc<Self>, queries: Receiver<ShardQuery>) {
        while let Ok(query) = queries.recv().await {
            match query {
                ShardQuery::Watches { with_list, reply } => {
                    let _ = reply.send(self.watch_report(with_list)).await;
                }
            }
        }
    }

    fn watch_report(&self, with_list: bool) -> WatchReport {
        let watches = self.watches.borrow();
        let mut report = WatchReport {
            watch_count: watches.watch_count(),
            data_watches: Vec::new(),
        };
        if with_list {
            for (watcher, paths) in watches.by_watcher() {
                let session = self
                    .connection(watcher.0)
                    .and_then(|c| c.session())
                    .unwrap_or(0);
                report
                    .data_watches
                    .extend(paths.into_iter().map(|path| (session, path)));
            }
        }
        report
    }

    /// Reports session activity to the sequencer every `touch_interval`.
    pub async fn touch_loop(self: Rc<Self>) {
        loop {
            glommio::timer::sleep(self.limits.touch_interval).await;
            let touched: Vec<SessionId> = self.touched.borrow_mut().drain().collect();
            if touched.is_empty() {
                continue;
            }
            if self.to_sequencer.send(Event::Touch(touched)).await.is_err() {
                return;
            }
        }
    }
}

/// The ACL ZooKeeper checks before delivering `event`, fired by `change`:
/// the changed node's, or for the parent's NodeChildrenChanged the parent's
/// (the tree reports it as the change right after a create or delete).
fn event_acl<'c>(
    change: &'c Change,
    parent: Option<&'c Change>,
    event: &WatcherEvent,
) -> &'c [Acl] {
    match parent {
        Some(p)
            if event.event_type == EventType::NodeChildrenChanged
                && p.event == EventType::NodeChildrenChanged
                && p.path == event.path =>
        {
            &p.acl
        }
        _ => &change.acl,
    }
}

/// The watch-table trigger for a tree change. The table fires the parent's
/// NodeChildrenChanged itself for creates and deletes, so the tree's own
/// parent entries are not triggered again.
fn node_change(event: EventType) -> Option<NodeChange> {
    match event {
        EventType::NodeCreated => Some(NodeChange::Created),
        EventType::NodeDeleted => Some(NodeChange::Deleted),
        EventType::NodeDataChanged => Some(NodeChange::DataChanged),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::types::{Id, KeeperState};

    fn change(event: EventType, path: &str, perms: i32) -> Change {
        Change {
            event,
            path: path.into(),
            acl: Arc::from(vec![Acl {
                perms,
                id: Id::new("world", "anyone"),
            }]),
        }
    }

    fn event(event_type: EventType, path: &str) -> WatcherEvent {
        WatcherEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path: path.into(),
        }
    }

    #[test]
    fn events_are_checked_against_the_node_or_parent_acl() {
        let created = change(EventType::NodeCreated, "/p/x", perms::WRITE);
        let parent = change(EventType::NodeChildrenChanged, "/p", perms::ALL);
        let on_node = event_acl(
            &created,
            Some(&parent),
            &event(EventType::NodeCreated, "/p/x"),
        );
        assert_eq!(on_node[0].perms, perms::WRITE);
        let on_parent = event_acl(
            &created,
            Some(&parent),
            &event(EventType::NodeChildrenChanged, "/p"),
        );
        assert_eq!(on_parent[0].perms, perms::ALL);
        let ids = [Id::new("ip", "127.0.0.1")];
        assert!(acl::check_acl(on_node, perms::READ, &ids).is_err());
        assert!(acl::check_acl(on_parent, perms::READ, &ids).is_ok());
    }
}
