//! One watch table: ZooKeeper 3.8's `WatchManager`, without the delivery.
//!
//! ZooKeeper keeps two of these (data and child). Each maps a path to its
//! watchers and each watcher to its paths, and remembers one mode per
//! (watcher, path) — so registering a one-shot watch where the same watcher
//! holds a persistent one *replaces* the mode in this table (3.8 behaviour;
//! 3.9 lets modes coexist).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::proto::types::EventType;

use super::WatcherId;

/// How a registration behaves when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// One-shot: fires for its exact path, then is removed.
    Standard,
    /// Fires for its exact path and stays.
    Persistent,
    /// Fires for its path and every descendant (never for
    /// NodeChildrenChanged) and stays.
    Recursive,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Table {
    by_path: HashMap<String, HashMap<WatcherId, Mode>>,
    /// Like `watch2Paths`, a watcher keeps its (possibly empty) entry until
    /// it is removed as a whole; `wchs` counts it as a connection.
    by_watcher: HashMap<WatcherId, HashSet<String>>,
    /// Number of (watcher, path) registrations in recursive mode; while it
    /// is zero a trigger need not look at ancestors.
    recursive: usize,
}

impl Table {
    /// Registers (or re-moded) `watcher` on `path`.
    pub(super) fn add(&mut self, path: &str, watcher: WatcherId, mode: Mode) {
        let watchers = self.by_path.entry(path.to_string()).or_default();
        let old = watchers.insert(watcher, mode);
        self.adjust_recursive(old, Some(mode));
        let paths = self.by_watcher.entry(watcher).or_default();
        if !paths.contains(path) {
            paths.insert(path.to_string());
        }
    }

    /// Whether `watcher` is registered on `path` (in any mode).
    pub(super) fn has(&self, path: &str, watcher: WatcherId) -> bool {
        self.by_path
            .get(path)
            .is_some_and(|ws| ws.contains_key(&watcher))
    }

    /// Number of paths `watcher` is registered on.
    pub(super) fn count_of(&self, watcher: WatcherId) -> usize {
        self.by_watcher.get(&watcher).map_or(0, HashSet::len)
    }

    /// Drops every registration of `watcher` (its connection closed).
    pub(super) fn remove_watcher(&mut self, watcher: WatcherId) {
        let Some(paths) = self.by_watcher.remove(&watcher) else {
            return;
        };
        for path in paths {
            self.unlink(&path, watcher);
        }
    }

    /// Drops `watcher`'s registration on `path`; false if there was none.
    pub(super) fn remove(&mut self, path: &str, watcher: WatcherId) -> bool {
        let removed = self
            .by_watcher
            .get_mut(&watcher)
            .is_some_and(|paths| paths.remove(path));
        removed && self.unlink(path, watcher)
    }

    /// ZooKeeper 3.8's `containsWatcher`: true if *any* watcher is
    /// registered on `path` in this table. Its only other test (the asking
    /// watcher holds a recursive registration on `path`) implies this one.
    /// It does not check that the asking watcher is among them; a 3.8
    /// client checks its own registrations before asking the server.
    pub(super) fn contains_any(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }

    /// Fires this table for `event` on `path`: returns every watcher that
    /// matched (one entry each, however many registrations matched) and
    /// removes the one-shot registrations that fired.
    pub(super) fn trigger(&mut self, event: EventType, path: &str) -> BTreeSet<WatcherId> {
        let mut matched = BTreeSet::new();
        let mut spent = Vec::new();
        let walk_up = self.recursive > 0;
        for (level, at) in path_and_ancestors(path).enumerate() {
            if level > 0 && !walk_up {
                break;
            }
            let Some(watchers) = self.by_path.get_mut(at) else {
                continue;
            };
            watchers.retain(|w, mode| match mode {
                Mode::Recursive => {
                    if event != EventType::NodeChildrenChanged {
                        matched.insert(*w);
                    }
                    true
                }
                _ if level > 0 => true,
                Mode::Persistent => {
                    matched.insert(*w);
                    true
                }
                Mode::Standard => {
                    matched.insert(*w);
                    spent.push(*w);
                    false
                }
            });
            if watchers.is_empty() {
                self.by_path.remove(at);
            }
        }
        for w in spent {
            if let Some(paths) = self.by_watcher.get_mut(&w) {
                paths.remove(path);
            }
        }
        matched
    }

    /// `wchs`: (watchers with an entry, watched paths, registrations).
    pub(super) fn summary(&self) -> (usize, usize, usize) {
        let total = self.by_watcher.values().map(HashSet::len).sum();
        (self.by_watcher.len(), self.by_path.len(), total)
    }

    /// Number of registrations (`WatchManager.size`).
    pub(super) fn size(&self) -> usize {
        self.by_path.values().map(HashMap::len).sum()
    }

    pub(super) fn by_watcher(&self) -> impl Iterator<Item = (WatcherId, &HashSet<String>)> {
        self.by_watcher.iter().map(|(w, paths)| (*w, paths))
    }

    pub(super) fn by_path(
        &self,
    ) -> impl Iterator<Item = (&str, impl Iterator<Item = WatcherId> + '_)> {
        self.by_path
            .iter()
            .map(|(p, ws)| (p.as_str(), ws.keys().copied()))
    }

    /// Removes `watcher` from `path`'s set; false if it was not there.
    fn unlink(&mut self, path: &str, watcher: WatcherId) -> bool {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(old) = watchers.remove(&watcher) else {
            return false;
        };
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        self.adjust_recursive(Some(old), None);
        true
    }

    fn adjust_recursive(&mut self, old: Option<Mode>, new: Option<Mode>) {
        let was = old == Some(Mode::Recursive);
        let is = new == Some(Mode::Recursive);
        match (was, is) {
            (false, true) => self.recursive += 1,
            (true, false) => self.recursive -= 1,
            _ => {}
        }
    }
}

/// `path`, then its parent, and so on up to `/` (`PathParentIterator`).
pub(super) fn path_and_ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| parent(p))
}

/// The parent of an absolute path; `None` for `/`.
pub(super) fn parent(path: &str) -> Option<&str> {
    if path == "/" || path.is_empty() {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}
