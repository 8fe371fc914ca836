use super::*;
use crate::proto::types::{Acl, NodeData, OpCode};
use crate::tree::snapshot::{read_tree, write_tree};
use crate::txn::{CreateKind, CreateTxn, Txn, TxnHeader, TxnRecord};

/// A tree and a zxid counter; every call applies one record and checks the
/// tree's invariants (the untracked stats bytes included).
struct T {
    tree: Tree,
    zxid: i64,
}

impl T {
    fn new() -> T {
        T {
            tree: Tree::new(),
            zxid: 0,
        }
    }

    fn apply(&mut self, txn: Txn) {
        self.zxid += 1;
        let r = self.tree.apply(&TxnRecord {
            header: TxnHeader {
                session_id: 1,
                cxid: 0,
                zxid: self.zxid,
                time_ms: 0,
            },
            txn,
        });
        assert!(r.result.is_ok(), "{:?}", r.result);
        self.tree.check_invariants().unwrap();
    }

    fn create(&mut self, path: &str, data: &str) {
        let parent_cversion = -1;
        self.apply(Txn::Create(CreateTxn {
            path: path.into(),
            data: NodeData::copy_from_slice(data.as_bytes()),
            acl: Acl::open_unsafe(),
            kind: CreateKind::Persistent,
            parent_cversion,
            op: OpCode::Create,
        }));
    }

    fn set(&mut self, path: &str, data: &str) {
        self.apply(Txn::SetData {
            path: path.into(),
            data: NodeData::copy_from_slice(data.as_bytes()),
            version: 1,
        });
    }

    fn delete(&mut self, path: &str) {
        self.apply(Txn::Delete { path: path.into() });
    }

    /// What zkCli's `setquota` does for a new quota (parents, limits, stats).
    fn setquota(&mut self, path: &str, limits: &str) {
        let mut q = QUOTA_ROOT.to_string();
        for c in path.split('/').filter(|c| !c.is_empty()) {
            q.push('/');
            q.push_str(c);
            if self.tree.node(&q).is_none() {
                self.apply(Txn::Create(CreateTxn {
                    path: q.clone(),
                    data: NodeData::NULL,
                    acl: Acl::open_unsafe(),
                    kind: CreateKind::Persistent,
                    parent_cversion: -1,
                    op: OpCode::Create,
                }));
            }
        }
        self.create(&limit_path(path), limits);
        self.create(&stat_path(path), "count=0,bytes=0");
    }

    fn data(&self, path: &str) -> String {
        String::from_utf8_lossy(self.tree.node(path).unwrap().data().unwrap_or_default())
            .into_owned()
    }

    fn stats(&self, path: &str) -> String {
        self.data(&stat_path(path))
    }
}

const SOFT_COUNT_2: &str = "count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1";
const HARD_COUNT_2: &str = "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2";
const HARD_BYTES_5: &str = "count=-1,bytes=-1=;byteHardLimit=5;countHardLimit=-1";

#[test]
fn stats_node_counts_the_subtree_when_created() {
    let mut t = T::new();
    t.create("/q", "abc");
    t.create("/q/a", "12345");
    t.create("/other", "zzzzzz");
    t.setquota("/q", SOFT_COUNT_2);
    assert_eq!(t.stats("/q"), "count=2,bytes=8");
    assert_eq!(t.tree.quota_prefix("/q/a/b"), Some("/q".into()));
    assert_eq!(t.tree.quota_prefix("/other"), None);
    assert_eq!(t.tree.quota_prefix("/qq"), None);
    // The stats node's Stat keeps its create version; only dataLength follows.
    let n = t.tree.node(&stat_path("/q")).unwrap();
    assert_eq!(n.stat.version, 0);
    assert_eq!(n.stat().data_length, "count=2,bytes=8".len() as i32);
}

#[test]
fn create_delete_and_set_data_update_usage() {
    let mut t = T::new();
    t.create("/q", "");
    t.setquota("/q", SOFT_COUNT_2);
    assert_eq!(t.stats("/q"), "count=1,bytes=0");
    t.create("/q/a", "xy");
    t.create("/q/a/b", "z");
    assert_eq!(t.stats("/q"), "count=3,bytes=3");
    t.set("/q/a", "wxyz");
    assert_eq!(t.stats("/q"), "count=3,bytes=5");
    t.delete("/q/a/b");
    assert_eq!(t.stats("/q"), "count=2,bytes=4");
    t.create("/elsewhere", "data");
    assert_eq!(t.stats("/q"), "count=2,bytes=4");
}

#[test]
fn deepest_root_is_charged_and_limits_delete_drops_the_root() {
    let mut t = T::new();
    t.create("/a", "");
    t.create("/a/b", "");
    t.setquota("/a", SOFT_COUNT_2);
    t.setquota("/a/b", SOFT_COUNT_2);
    t.create("/a/b/c", "1");
    assert_eq!(t.stats("/a/b"), "count=2,bytes=1");
    assert_eq!(t.stats("/a"), "count=2,bytes=0", "only the deepest root");
    t.delete(&limit_path("/a/b"));
    t.create("/a/b/d", "22");
    assert_eq!(t.stats("/a"), "count=3,bytes=2");
    assert_eq!(t.stats("/a/b"), "count=2,bytes=1", "no longer a root");
    let roots: Vec<&str> = t.tree.quota.roots().collect();
    assert_eq!(roots, vec!["/a"]);
}

#[test]
fn extra_keys_in_stats_survive_updates() {
    let mut t = T::new();
    t.create("/q", "");
    t.setquota("/q", SOFT_COUNT_2);
    t.set(&stat_path("/q"), "count=1,bytes=0=;zeta=9");
    t.create("/q/x", "abc");
    assert_eq!(t.stats("/q"), "count=2,bytes=3=;zeta=9");
}

#[test]
fn unparsable_stats_skip_the_update() {
    let mut t = T::new();
    t.create("/q", "");
    t.setquota("/q", SOFT_COUNT_2);
    t.set(&stat_path("/q"), "garbage");
    t.create("/q/x", "abc");
    assert_eq!(t.stats("/q"), "garbage");
    assert_eq!(
        check(&t.tree, "/q/y", None, 1).result,
        Err(ErrorCode::MarshallingError)
    );
}

#[test]
fn approximate_data_size_ignores_stats_rewrites_as_zookeeper_does() {
    let mut t = T::new();
    t.create("/q", "");
    t.setquota("/q", SOFT_COUNT_2);
    let before = t.tree.approximate_data_size();
    t.create("/q/abc", "");
    // Only the new node's path is counted; "count=1" -> "count=2" is not.
    assert_eq!(t.tree.approximate_data_size(), before + 6);
}

#[test]
fn snapshot_load_rebuilds_roots_and_recomputes_usage() {
    let mut t = T::new();
    t.create("/q", "");
    t.setquota("/q", HARD_COUNT_2);
    t.create("/q/a", "1234");
    // A client scribbles on the stats node; a restart recomputes it.
    t.set(&stat_path("/q"), "count=40,bytes=1");
    let mut buf = Vec::new();
    write_tree(&t.tree, &mut buf).unwrap();
    let loaded = read_tree(&buf).unwrap();
    loaded.check_invariants().unwrap();
    let n = loaded.node(&stat_path("/q")).unwrap();
    assert_eq!(n.data().unwrap_or_default(), b"count=2,bytes=4");
    assert_eq!(loaded.quota_prefix("/q/a"), Some("/q".into()));
    // Without a restart the scribble stays and keeps counting.
    t.create("/q/b", "");
    assert_eq!(t.stats("/q"), "count=41,bytes=1");
}

#[test]
fn hard_limits_refuse_and_soft_limits_only_warn() {
    let mut t = T::new();
    t.create("/q", "");
    t.setquota("/q", HARD_COUNT_2);
    assert_eq!(check(&t.tree, "/q/a", None, 0), QuotaVerdict::ok());
    t.create("/q/a", "");
    let v = check(&t.tree, "/q/b", None, 0);
    assert_eq!(v.result, Err(ErrorCode::QuotaExceeded));
    assert_eq!(
        v.messages,
        vec!["Quota exceeded: /q [current count=3, hardCountLimit=2]".to_string()]
    );
    // setData changes no count: not checked against a count limit.
    assert_eq!(check(&t.tree, "/q/a", Some(0), 100), QuotaVerdict::ok());

    let mut t = T::new();
    t.create("/q", "");
    t.setquota("/q", SOFT_COUNT_2);
    t.create("/q/a", "");
    let v = check(&t.tree, "/q/b", None, 0);
    assert_eq!(v.result, Ok(()));
    assert_eq!(
        v.messages,
        vec!["Quota exceeded: /q [current count=3, softCountLimit=2]".to_string()]
    );
}

#[test]
fn byte_limits_use_the_size_difference() {
    let mut t = T::new();
    t.create("/q", "ab");
    t.setquota("/q", HARD_BYTES_5);
    assert_eq!(check(&t.tree, "/q", Some(2), 5).result, Ok(()));
    let v = check(&t.tree, "/q", Some(2), 6);
    assert_eq!(v.result, Err(ErrorCode::QuotaExceeded));
    assert_eq!(
        v.messages,
        vec!["Quota exceeded: /q [current bytes=6, hardByteLimit=5]".to_string()]
    );
    assert_eq!(check(&t.tree, "/q/new", None, 3).result, Ok(()));
    assert_eq!(
        check(&t.tree, "/q/new", None, 4).result,
        Err(ErrorCode::QuotaExceeded)
    );
    // Shrinking is always allowed, even when already over.
    assert_eq!(check(&t.tree, "/q", Some(2), 0).result, Ok(()));
}

#[test]
fn trie_keys_follow_java_path_trie() {
    assert_eq!(trie_key("/a/b"), Some("/a/b".into()));
    assert_eq!(trie_key("a//b/ "), Some("/a/b".into()));
    assert_eq!(trie_key(""), None);
    assert_eq!(trie_key("/"), None);
    assert_eq!(java_substring_16("/zookeeper/quota/x"), Some("/x".into()));
    assert_eq!(java_substring_16("/zookeeper/ab"), None);
}
