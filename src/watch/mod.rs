//! The watch table of one shard: who is told about which change.
//!
//! Each shard owns the watches of its own connections (identified by an
//! opaque [`WatcherId`]) and, when a committed txn arrives from the
//! sequencer, asks this table which of its connections must be notified.
//! Clients must see exactly the notifications ZooKeeper 3.8 sends, so the
//! table is modelled on ZooKeeper's: two tables, *data* (getData, exists —
//! including exists on a missing node — and one half of each
//! persistent/recursive watch) and *child* (getChildren and the other half),
//! each remembering one mode per (watcher, path): one-shot, persistent or
//! persistent-recursive. The firing rules then follow `DataTree` and
//! `WatchManager.triggerWatch` exactly:
//!
//! | txn        | calls made by [`WatchTable::trigger_change`] |
//! |------------|-----------------------------------------------|
//! | create `p` | data table `NodeCreated` on `p`; child table `NodeChildrenChanged` on parent(`p`) |
//! | delete `p` | data table `NodeDeleted` on `p`; child table `NodeDeleted` on `p`, skipping watchers the data table just notified; child table `NodeChildrenChanged` on parent(`p`) |
//! | setData `p`| data table `NodeDataChanged` on `p` |
//!
//! A table trigger notifies every watcher with a registration on the exact
//! path (one-shot ones are then removed, persistent ones stay) and every
//! watcher with a recursive registration on the path or an ancestor, except
//! for `NodeChildrenChanged`, which recursive watches never see. Each
//! watcher gets at most one event per table trigger.
//!
//! Guarantees: events come back in ZooKeeper's order (per txn, in the order
//! of the calls above; within one call, by watcher id), and a watcher never
//! holds more than the configured number of registrations.
//!
//! What the caller still does:
//! - ACL filtering. ZooKeeper 3.8.4 delivers a triggered event only if the
//!   connection may READ the node named by the event's path (for a delete,
//!   the deleted node's ACL; for `NodeChildrenChanged`, the parent's).
//!   Events from [`WatchTable::set_watches`] are not filtered.
//! - Sending: a notification is a reply with xid -1, zxid -1, err 0.
//! - Registering only on success: getData and getChildren on a missing node
//!   register nothing; exists registers whether or not the node exists.
//! - removeWatches/checkWatches events: the ZooKeeper *server* sends none.
//!   The client library synthesises `DataWatchRemoved`, `ChildWatchRemoved`
//!   and `PersistentWatchRemoved` locally when its request succeeds.

mod table;

use std::collections::BTreeSet;
use std::fmt;

use thiserror::Error;

use crate::proto::types::{AddWatchMode, EventType, KeeperState, WatcherEvent, WatcherType, Zxid};

use table::{Mode, Table};

/// A watching connection, as named by its shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatcherId(pub u64);

/// The request that registers a watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatchKind {
    /// getData with watch (node exists), or exists on an existing node.
    Data,
    /// exists on a missing node. Stored like [`WatchKind::Data`], as in
    /// ZooKeeper; the distinction matters to the client's setWatches lists.
    Exist,
    /// getChildren / getChildren2 with watch.
    Child,
    /// addWatch mode 0.
    Persistent,
    /// addWatch mode 1.
    PersistentRecursive,
}

impl From<AddWatchMode> for WatchKind {
    fn from(mode: AddWatchMode) -> WatchKind {
        match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        }
    }
}

/// A change to one node, as a committed txn applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeChange {
    /// create / create2 / createContainer / createTTL (also inside multi).
    Created,
    /// delete, deleteContainer, container/TTL cleanup, ephemeral removal at
    /// session close.
    Deleted,
    /// setData.
    DataChanged,
}

/// What [`WatchTable::set_watches`] needs to know about a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeZxids {
    /// Zxid of the last data change (`Stat.mzxid`).
    pub mzxid: Zxid,
    /// Zxid of the last change to the children (`Stat.pzxid`).
    pub pzxid: Zxid,
}

/// The watch lists of a setWatches / setWatches2 request (setWatches has
/// no persistent lists: leave them empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchLists {
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    pub persistent: Vec<String>,
    pub persistent_recursive: Vec<String>,
}

/// Why a watch request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum WatchError {
    /// The watcher already holds the maximum number of registrations.
    #[error("too many watches: connection {watcher:?} holds {held} and the limit is {max}")]
    TooManyWatches {
        watcher: WatcherId,
        held: usize,
        max: usize,
    },
    /// checkWatches/removeWatches named a watcher type ZooKeeper 3.8 does
    /// not accept (it answers MARSHALLINGERROR for types 4 and 5).
    #[error("watcher type {0:?} is not supported by checkWatches/removeWatches")]
    UnsupportedWatcherType(WatcherType),
}

/// The `wchs` figures, counted as ZooKeeper's `WatchesSummary`: over the
/// data table only (so one-shot child watches do not appear, persistent
/// watches do), with connections that once watched still counted until
/// they close.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchesSummary {
    pub num_connections: usize,
    pub num_paths: usize,
    pub total_watches: usize,
}

/// Renders as ZooKeeper's `wchs` body (without the trailing newline).
impl fmt::Display for WatchesSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connections watching {} paths\nTotal watches:{}",
            self.num_connections, self.num_paths, self.total_watches
        )
    }
}

/// All watches of one shard's connections.
#[derive(Clone, Debug)]
pub struct WatchTable {
    data: Table,
    child: Table,
    max_per_watcher: usize,
}

impl WatchTable {
    /// An empty table in which each watcher may hold at most
    /// `max_per_watcher` registrations (a persistent or recursive watch
    /// counts twice, as it sits in both of ZooKeeper's tables).
    pub fn new(max_per_watcher: usize) -> WatchTable {
        WatchTable {
            data: Table::default(),
            child: Table::default(),
            max_per_watcher,
        }
    }

    /// Registers a watch of `kind` on `path` for `watcher`.
    ///
    /// As in ZooKeeper 3.8, a one-shot registration on a path where the
    /// watcher holds a persistent or recursive watch replaces that watch's
    /// mode in the table concerned (data for Data/Exist, child for Child).
    pub fn add(
        &mut self,
        path: &str,
        kind: WatchKind,
        watcher: WatcherId,
    ) -> Result<(), WatchError> {
        let slots = slots_for(kind);
        let new = slots
            .iter()
            .filter(|(t, _)| !self.table(*t).has(path, watcher))
            .count();
        self.check_room(watcher, new)?;
        for (t, mode) in slots {
            self.table_mut(*t).add(path, watcher, *mode);
        }
        Ok(())
    }

    /// Forgets every watch of `watcher` (its connection closed).
    pub fn remove_watcher(&mut self, watcher: WatcherId) {
        self.data.remove_watcher(watcher);
        self.child.remove_watcher(watcher);
    }

    /// removeWatches: drops `watcher`'s registrations of type `kind` on
    /// `path`. `Ok(false)` means nothing matched: answer ZNOWATCHER.
    ///
    /// `Children` looks in the child table, `Data` in the data table, `Any`
    /// in both; the mode does not matter, so `Any` also removes persistent
    /// and recursive watches, while `Data` alone leaves their child half.
    pub fn remove(
        &mut self,
        path: &str,
        kind: WatcherType,
        watcher: WatcherId,
    ) -> Result<bool, WatchError> {
        let (in_data, in_child) = tables_for(kind)?;
        let from_child = in_child && self.child.remove(path, watcher);
        let from_data = in_data && self.data.remove(path, watcher);
        Ok(from_child || from_data)
    }

    /// checkWatches: whether a registration of type `kind` exists on
    /// `path`. `Ok(false)` means answer ZNOWATCHER.
    ///
    /// ZooKeeper 3.8 answers true when *any* connection has such a watch on
    /// the path (see `WatchManager.containsWatcher`); so does this, and
    /// [`WatchTable::holds`] gives the strict per-watcher answer.
    pub fn contains(
        &self,
        path: &str,
        kind: WatcherType,
        watcher: WatcherId,
    ) -> Result<bool, WatchError> {
        let _ = watcher;
        let (in_data, in_child) = tables_for(kind)?;
        Ok(
            (in_child && self.child.contains_any(path))
                || (in_data && self.data.contains_any(path)),
        )
    }

    /// Whether `watcher` itself holds a registration of type `kind` on
    /// `path`, in any mode (`Persistent` and `PersistentRecursive` are
    /// treated as `Any`).
    pub fn holds(&self, path: &str, kind: WatcherType, watcher: WatcherId) -> bool {
        let (in_data, in_child) = tables_for(kind).unwrap_or((true, true));
        (in_data && self.data.has(path, watcher)) || (in_child && self.child.has(path, watcher))
    }

    /// Applies the watch side of one node change and returns the events to
    /// send, in order. See the module docs for the calls each change makes.
    pub fn trigger_change(
        &mut self,
        change: NodeChange,
        path: &str,
    ) -> Vec<(WatcherId, WatcherEvent)> {
        let mut out = Vec::new();
        match change {
            NodeChange::Created => {
                let hit = self.data.trigger(EventType::NodeCreated, path);
                emit(&mut out, &hit, EventType::NodeCreated, path);
                self.fire_parent(&mut out, path);
            }
            NodeChange::Deleted => {
                let by_data = self.data.trigger(EventType::NodeDeleted, path);
                emit(&mut out, &by_data, EventType::NodeDeleted, path);
                let by_child = self.child.trigger(EventType::NodeDeleted, path);
                let rest: BTreeSet<WatcherId> = by_child.difference(&by_data).copied().collect();
                emit(&mut out, &rest, EventType::NodeDeleted, path);
                self.fire_parent(&mut out, path);
            }
            NodeChange::DataChanged => {
                let hit = self.data.trigger(EventType::NodeDataChanged, path);
                emit(&mut out, &hit, EventType::NodeDataChanged, path);
            }
        }
        out
    }

    /// setWatches / setWatches2 after a reconnect, as `DataTree.setWatches`.
    ///
    /// `node` looks a path up in the current tree. For each listed path, in
    /// list order (data, exist, child, persistent, recursive):
    /// - data: missing -> `NodeDeleted`; `mzxid > relative_zxid` ->
    ///   `NodeDataChanged`; otherwise the data watch is registered;
    /// - exist: present -> `NodeCreated`; otherwise registered;
    /// - child: missing -> `NodeDeleted`; `pzxid > relative_zxid` ->
    ///   `NodeChildrenChanged`; otherwise registered;
    /// - persistent and recursive: always registered, never an event.
    ///
    /// A watch that produced an event is not registered. Returns the events
    /// to send at once (before the setWatches reply). Fails without
    /// registering anything if the registrations would exceed the limit.
    pub fn set_watches<F>(
        &mut self,
        watcher: WatcherId,
        relative_zxid: Zxid,
        lists: &WatchLists,
        node: F,
    ) -> Result<Vec<WatcherEvent>, WatchError>
    where
        F: Fn(&str) -> Option<NodeZxids>,
    {
        let mut events = Vec::new();
        let mut register: Vec<(&str, WatchKind)> = Vec::new();
        for path in &lists.data {
            match node(path) {
                None => events.push(event(EventType::NodeDeleted, path)),
                Some(n) if n.mzxid > relative_zxid => {
                    events.push(event(EventType::NodeDataChanged, path))
                }
                Some(_) => register.push((path, WatchKind::Data)),
            }
        }
        for path in &lists.exist {
            match node(path) {
                Some(_) => events.push(event(EventType::NodeCreated, path)),
                None => register.push((path, WatchKind::Exist)),
            }
        }
        for path in &lists.child {
            match node(path) {
                None => events.push(event(EventType::NodeDeleted, path)),
                Some(n) if n.pzxid > relative_zxid => {
                    events.push(event(EventType::NodeChildrenChanged, path))
                }
                Some(_) => register.push((path, WatchKind::Child)),
            }
        }
        register.extend(
            lists
                .persistent
                .iter()
                .map(|p| (p.as_str(), WatchKind::Persistent)),
        );
        let recursive = lists.persistent_recursive.iter();
        register.extend(recursive.map(|p| (p.as_str(), WatchKind::PersistentRecursive)));
        self.check_room(watcher, self.new_slots(watcher, &register))?;
        for (path, kind) in register {
            for (t, mode) in slots_for(kind) {
                self.table_mut(*t).add(path, watcher, *mode);
            }
        }
        Ok(events)
    }

    /// Number of registrations `watcher` holds (both tables).
    pub fn watches_of(&self, watcher: WatcherId) -> usize {
        self.data.count_of(watcher) + self.child.count_of(watcher)
    }

    /// All registrations in both tables (`mntr`'s `zk_watch_count`).
    pub fn watch_count(&self) -> usize {
        self.data.size() + self.child.size()
    }

    /// `wchs`, counted over the data table as ZooKeeper does. To combine
    /// shards, add connections and watches but union
    /// [`WatchTable::watched_paths`] for the path count.
    pub fn summary(&self) -> WatchesSummary {
        let (num_connections, num_paths, total_watches) = self.data.summary();
        WatchesSummary {
            num_connections,
            num_paths,
            total_watches,
        }
    }

    /// The paths `wchs` counts (data table), unordered.
    pub fn watched_paths(&self) -> impl Iterator<Item = &str> {
        self.data.by_path().map(|(p, _)| p)
    }

    /// `wchc`: each watcher with its watched paths (data table, including
    /// watchers left with none), sorted by watcher then path.
    pub fn by_watcher(&self) -> Vec<(WatcherId, Vec<String>)> {
        let mut rows: Vec<(WatcherId, Vec<String>)> = self
            .data
            .by_watcher()
            .map(|(w, paths)| {
                let mut paths: Vec<String> = paths.iter().cloned().collect();
                paths.sort();
                (w, paths)
            })
            .collect();
        rows.sort_by_key(|(w, _)| *w);
        rows
    }

    /// `wchp`: each watched path with its watchers (data table), sorted.
    pub fn by_path(&self) -> Vec<(String, Vec<WatcherId>)> {
        let mut rows: Vec<(String, Vec<WatcherId>)> = self
            .data
            .by_path()
            .map(|(p, ws)| {
                let mut ws: Vec<WatcherId> = ws.collect();
                ws.sort();
                (p.to_string(), ws)
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    /// The child table's `NodeChildrenChanged` on the parent of `path`.
    fn fire_parent(&mut self, out: &mut Vec<(WatcherId, WatcherEvent)>, path: &str) {
        if let Some(parent) = table::parent(path) {
            let hit = self.child.trigger(EventType::NodeChildrenChanged, parent);
            emit(out, &hit, EventType::NodeChildrenChanged, parent);
        }
    }

    /// How many new registrations `register` would create for `watcher`.
    fn new_slots(&self, watcher: WatcherId, register: &[(&str, WatchKind)]) -> usize {
        let mut fresh: BTreeSet<(Which, &str)> = BTreeSet::new();
        for (path, kind) in register {
            for (t, _) in slots_for(*kind) {
                if !self.table(*t).has(path, watcher) {
                    fresh.insert((*t, path));
                }
            }
        }
        fresh.len()
    }

    fn check_room(&self, watcher: WatcherId, new: usize) -> Result<(), WatchError> {
        let held = self.watches_of(watcher);
        if new > 0 && held + new > self.max_per_watcher {
            return Err(WatchError::TooManyWatches {
                watcher,
                held,
                max: self.max_per_watcher,
            });
        }
        Ok(())
    }

    fn table(&self, which: Which) -> &Table {
        match which {
            Which::Data => &self.data,
            Which::Child => &self.child,
        }
    }

    fn table_mut(&mut self, which: Which) -> &mut Table {
        match which {
            Which::Data => &mut self.data,
            Which::Child => &mut self.child,
        }
    }
}

/// ZooKeeper's two tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Which {
    Data,
    Child,
}

/// The (table, mode) registrations a watch kind makes.
fn slots_for(kind: WatchKind) -> &'static [(Which, Mode)] {
    match kind {
        WatchKind::Data | WatchKind::Exist => &[(Which::Data, Mode::Standard)],
        WatchKind::Child => &[(Which::Child, Mode::Standard)],
        WatchKind::Persistent => &[
            (Which::Data, Mode::Persistent),
            (Which::Child, Mode::Persistent),
        ],
        WatchKind::PersistentRecursive => &[
            (Which::Data, Mode::Recursive),
            (Which::Child, Mode::Recursive),
        ],
    }
}

/// Which tables (data, child) a checkWatches/removeWatches type covers.
fn tables_for(kind: WatcherType) -> Result<(bool, bool), WatchError> {
    match kind {
        WatcherType::Data => Ok((true, false)),
        WatcherType::Children => Ok((false, true)),
        WatcherType::Any => Ok((true, true)),
        other => Err(WatchError::UnsupportedWatcherType(other)),
    }
}

fn event(event_type: EventType, path: &str) -> WatcherEvent {
    WatcherEvent {
        event_type,
        state: KeeperState::SyncConnected,
        path: path.to_string(),
    }
}

fn emit(
    out: &mut Vec<(WatcherId, WatcherEvent)>,
    to: &BTreeSet<WatcherId>,
    ty: EventType,
    path: &str,
) {
    out.extend(to.iter().map(|w| (*w, event(ty, path))));
}

#[cfg(test)]
mod tests;
