//! Quotas as ZooKeeper 3.8 keeps them: the set of quota roots, the usage in
//! each `zookeeper_stats` node, and the check `enforceQuota` applies.
//!
//! Why: zkCli's setquota/listquota/delquota work client-side by creating,
//! reading and writing `/zookeeper/quota/<path>/zookeeper_limits` and
//! `zookeeper_stats`; the server's part (ZooKeeper's `DataTree` pTrie,
//! `updateQuotaStat`, `updateQuotaForPath`, `setupQuota` and
//! `ZooKeeperServer.checkQuota`) is here, so the tree calls in at three
//! places (create, delete, setData) and prep at one.
//!
//! Guarantees, as in ZooKeeper: creating a `zookeeper_limits` node makes its
//! path a quota root and creating `zookeeper_stats` fills it with the
//! subtree's current count and bytes; every create, delete and setData under
//! the deepest quota root of a path (never `/`) adjusts that root's stats
//! node data (its Stat is untouched but for dataLength, and the change is
//! not counted in the approximate data size, as in ZooKeeper); deleting a
//! `zookeeper_limits` node drops the root; loading a snapshot rebuilds the
//! roots from the leaf `zookeeper_limits` nodes and recomputes their stats.
//! All of it is a function of the applied records, so it is deterministic.
//! Data that does not parse as a `StatsTrack` (where ZooKeeper would throw)
//! skips the update with a log line; in the check it fails the request with
//! MarshallingError, as ZooKeeper's prep turns the exception into that code.

use super::stats_track::{self, StatsTrack};
use super::Tree;
use crate::proto::types::ErrorCode;
use imbl::OrdSet;

/// `Quotas.procZookeeper`.
pub const PROC_ZOOKEEPER: &str = "/zookeeper";
/// `Quotas.quotaZookeeper`.
pub const QUOTA_ROOT: &str = "/zookeeper/quota";
/// `Quotas.limitNode`.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// `Quotas.statNode`.
pub const STAT_NODE: &str = "zookeeper_stats";

/// The quota roots and the bookkeeping drift, carried by every tree version.
#[derive(Clone, Debug, Default)]
pub struct QuotaState {
    /// Paths with a quota, normalised as ZooKeeper's PathTrie keys them.
    roots: OrdSet<String>,
    /// Bytes the stats-node rewrites added to node data without touching the
    /// approximate data size (ZooKeeper's `nodeDataSize` ignores them too).
    untracked_bytes: i64,
}

impl QuotaState {
    pub fn untracked_bytes(&self) -> i64 {
        self.untracked_bytes
    }

    /// The quota roots, in path order.
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.roots.iter().map(String::as_str)
    }
}

/// PathTrie's split: components, dropping those that are blank after Java's
/// `trim()` (every char <= U+0020).
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.chars().all(|ch| ch <= ' '))
}

/// The PathTrie key of `path`; `None` for what `addPath` refuses ("") or
/// names the trie's root.
fn trie_key(path: &str) -> Option<String> {
    let mut key = String::with_capacity(path.len());
    for c in components(path) {
        key.push('/');
        key.push_str(c);
    }
    (!key.is_empty()).then_some(key)
}

/// `quotaPath.substring(16)` in UTF-16 units; `None` where Java would throw.
fn java_substring_16(s: &str) -> Option<String> {
    let units: Vec<u16> = s.encode_utf16().collect();
    units.get(QUOTA_ROOT.len()..).map(String::from_utf16_lossy)
}

/// `Quotas.limitPath`.
pub fn limit_path(prefix: &str) -> String {
    format!("{QUOTA_ROOT}{prefix}/{LIMIT_NODE}")
}

/// `Quotas.statPath`.
pub fn stat_path(prefix: &str) -> String {
    format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}")
}

fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

impl Tree {
    /// `getMaxPrefixWithQuota`: the deepest quota root that is `path` or an
    /// ancestor of it, never "/".
    pub fn quota_prefix(&self, path: &str) -> Option<String> {
        if self.quota.roots.is_empty() {
            return None;
        }
        let mut prefix = String::with_capacity(path.len());
        let mut best = None;
        for c in components(path) {
            prefix.push('/');
            prefix.push_str(c);
            if self.quota.roots.contains(&prefix) {
                best = Some(prefix.len());
            }
        }
        best.map(|len| prefix[..len].to_string())
    }

    /// DataTree.createNode's quota step, after the node is in the tree.
    pub(super) fn quota_on_create(&mut self, parent: &str, name: &str, path: &str, len: usize) {
        if let Some(quota_path) = parent.strip_prefix(QUOTA_ROOT) {
            if name == LIMIT_NODE {
                if let Some(key) = trie_key(quota_path) {
                    self.quota.roots.insert(key);
                }
            }
            if name == STAT_NODE {
                self.recompute_usage(quota_path);
            }
        }
        if let Some(prefix) = self.quota_prefix(path) {
            self.add_usage(&prefix, len as i64, 1);
        }
    }

    /// DataTree.deleteNode's quota step, after the node left the tree.
    pub(super) fn quota_on_delete(&mut self, parent: &str, name: &str, path: &str, len: usize) {
        if parent.starts_with(PROC_ZOOKEEPER) && name == LIMIT_NODE {
            // ZooKeeper throws (and keeps the root) when the parent is shorter.
            if let Some(key) = java_substring_16(parent).and_then(|p| trie_key(&p)) {
                self.quota.roots.remove(&key);
            }
        }
        if let Some(prefix) = self.quota_prefix(path) {
            self.add_usage(&prefix, -(len as i64), -1);
        }
    }

    /// DataTree.setData's quota step.
    pub(super) fn quota_on_set_data(&mut self, path: &str, old_len: usize, new_len: usize) {
        if let Some(prefix) = self.quota_prefix(path) {
            self.add_usage(&prefix, new_len as i64 - old_len as i64, 0);
        }
    }

    /// `setupQuota` after loading a snapshot: the roots are the leaf
    /// `zookeeper_limits` nodes under /zookeeper/quota; their stats are
    /// recomputed from the tree.
    pub(super) fn quota_setup(&mut self) {
        self.quota.roots = OrdSet::new();
        let mut stack = vec![QUOTA_ROOT.to_string()];
        let mut found = Vec::new();
        while let Some(p) = stack.pop() {
            let Some(n) = self.node(&p) else { continue };
            if n.num_children() == 0 {
                let end = format!("/{LIMIT_NODE}");
                if p.ends_with(&end) {
                    if let Some(i) = p.find(&end) {
                        found.push(p[QUOTA_ROOT.len()..i].to_string());
                    }
                }
                continue;
            }
            stack.extend(n.children_sorted().map(|c| child_path(&p, c)));
        }
        found.sort();
        for real in found {
            self.recompute_usage(&real);
            match trie_key(&real) {
                Some(key) => {
                    self.quota.roots.insert(key);
                }
                None => tracing::error!(path = %real, "quota on the root cannot be tracked"),
            }
        }
    }

    /// `updateQuotaStat`: adds to the count and bytes in `prefix`'s stats node.
    fn add_usage(&mut self, prefix: &str, bytes: i64, count: i64) {
        let stats = stat_path(prefix);
        let Some(node) = self.node(&stats) else {
            tracing::error!(path = %stats, "Missing node for stat");
            return;
        };
        let mut st = match StatsTrack::parse(node.data()) {
            Ok(st) => st,
            Err(e) => {
                tracing::error!(path = %stats, error = %e, "quota stats node does not parse; not updated");
                return;
            }
        };
        st.set(
            stats_track::COUNT,
            st.get(stats_track::COUNT).wrapping_add(count),
        );
        st.set(
            stats_track::BYTES,
            st.get(stats_track::BYTES).wrapping_add(bytes),
        );
        self.write_stats(&stats, st);
    }

    /// `updateQuotaForPath`: the subtree's node count and data bytes (the
    /// node itself included) written to its stats node.
    fn recompute_usage(&mut self, path: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            let Some(n) = self.node(&p) else { continue };
            count += 1;
            bytes += n.data_len() as i64;
            stack.extend(n.children_sorted().map(|c| child_path(&p, c)));
        }
        let stats = stat_path(path);
        if self.node(&stats).is_none() {
            tracing::warn!(path = %stats, "Missing quota stat node");
            return;
        }
        self.write_stats(&stats, StatsTrack::usage(count, bytes));
    }

    fn write_stats(&mut self, stats_path: &str, st: StatsTrack) {
        if let Some(delta) = self.replace_data_untracked(stats_path, st.to_bytes().into()) {
            self.quota.untracked_bytes += delta;
        }
    }
}

/// What `checkQuota` says about one create or setData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaVerdict {
    /// ZooKeeper's "Quota exceeded: ..." lines (soft or hard), in order.
    pub messages: Vec<String>,
    pub result: Result<(), ErrorCode>,
}

impl QuotaVerdict {
    fn ok() -> QuotaVerdict {
        QuotaVerdict {
            messages: Vec::new(),
            result: Ok(()),
        }
    }
}

/// One dimension of a quota check (count or bytes).
struct Dimension<'a> {
    name: &'a str,
    soft: i64,
    hard: i64,
    current: i64,
    diff: i64,
}

impl Dimension<'_> {
    fn checked(&self) -> bool {
        self.diff != 0 && (self.soft > -1 || self.hard > -1)
    }

    /// The message when over the limit, and whether the limit is hard.
    fn over(&self, prefix: &str) -> Option<(String, bool)> {
        let new = self.current.wrapping_add(self.diff);
        let is_hard = self.hard > -1;
        let limit = if is_hard { self.hard } else { self.soft };
        let kind = if is_hard { "hard" } else { "soft" };
        let cap = if self.name == "count" {
            "Count"
        } else {
            "Byte"
        };
        (new > limit).then(|| {
            (
                format!(
                    "Quota exceeded: {prefix} [current {}={new}, {kind}{cap}Limit={limit}]",
                    self.name
                ),
                is_hard,
            )
        })
    }
}

/// A quota node's StatsTrack; `Ok(None)` (logged with `missing`) when
/// there is no such node, MarshallingError when it does not parse.
fn read_quota_node(
    tree: &Tree,
    path: &str,
    missing: &str,
) -> Result<Option<StatsTrack>, ErrorCode> {
    let Some(node) = tree.node(path) else {
        tracing::error!(path, "{missing}");
        return Ok(None);
    };
    StatsTrack::parse(node.data()).map(Some).map_err(|e| {
        tracing::error!(path, error = %e, "quota node does not parse; failing the request");
        ErrorCode::MarshallingError
    })
}

/// `ZooKeeperServer.checkQuota` for a create (`last_len` None) or a setData
/// of `path` to `new_len` bytes, against `tree` (ZooKeeper reads the
/// committed tree here, not the pending changes of a multi).
pub fn check(tree: &Tree, path: &str, last_len: Option<usize>, new_len: usize) -> QuotaVerdict {
    let Some(prefix) = tree.quota_prefix(path) else {
        return QuotaVerdict::ok();
    };
    let (bytes_diff, count_diff) = match last_len {
        None => (new_len as i64, 1),
        Some(last) => (new_len as i64 - last as i64, 0),
    };
    let limits = match read_quota_node(tree, &limit_path(&prefix), "Missing limit node for quota") {
        Ok(Some(l)) => l,
        Ok(None) => return QuotaVerdict::ok(),
        Err(code) => return verdict_err(code),
    };
    let mut dims = [
        Dimension {
            name: "count",
            soft: limits.get(stats_track::COUNT),
            hard: limits.get(stats_track::COUNT_HARD_LIMIT),
            current: 0,
            diff: count_diff,
        },
        Dimension {
            name: "bytes",
            soft: limits.get(stats_track::BYTES),
            hard: limits.get(stats_track::BYTE_HARD_LIMIT),
            current: 0,
            diff: bytes_diff,
        },
    ];
    if !dims.iter().any(Dimension::checked) {
        return QuotaVerdict::ok();
    }
    let usage = match read_quota_node(tree, &stat_path(&prefix), "Missing node for stat") {
        Ok(Some(u)) => u,
        Ok(None) => return QuotaVerdict::ok(),
        Err(code) => return verdict_err(code),
    };
    dims[0].current = usage.get(stats_track::COUNT);
    dims[1].current = usage.get(stats_track::BYTES);
    let mut verdict = QuotaVerdict::ok();
    for d in dims.iter().filter(|d| d.checked()) {
        if let Some((message, hard)) = d.over(&prefix) {
            verdict.messages.push(message);
            if hard {
                verdict.result = Err(ErrorCode::QuotaExceeded);
                return verdict;
            }
        }
    }
    verdict
}

fn verdict_err(code: ErrorCode) -> QuotaVerdict {
    QuotaVerdict {
        messages: Vec::new(),
        result: Err(code),
    }
}

#[cfg(test)]
mod tests;
