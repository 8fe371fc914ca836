use super::*;

use EventType::{NodeChildrenChanged, NodeCreated, NodeDataChanged, NodeDeleted};
use NodeChange::*;

const W: WatcherId = WatcherId(7);

fn ev(t: EventType, path: &str) -> (EventType, String) {
    (t, path.to_string())
}

/// The events `w` receives from one change.
fn fired(
    table: &mut WatchTable,
    change: NodeChange,
    path: &str,
) -> Vec<(WatcherId, (EventType, String))> {
    table
        .trigger_change(change, path)
        .into_iter()
        .map(|(w, e)| {
            assert_eq!(e.state, KeeperState::SyncConnected);
            (w, (e.event_type, e.path))
        })
        .collect()
}

fn for_w(table: &mut WatchTable, change: NodeChange, path: &str) -> Vec<(EventType, String)> {
    fired(table, change, path)
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

fn table_with(kind: WatchKind, path: &str) -> WatchTable {
    let mut t = WatchTable::new(1000);
    t.add(path, kind, W).unwrap();
    t
}

/// Which events a watch of each kind on /a/b receives for each change, and
/// whether it is still there afterwards (the change is applied twice).
#[test]
fn each_kind_receives_exactly_its_events() {
    use WatchKind::*;
    type Row = (
        WatchKind,
        NodeChange,
        &'static str,
        &'static [(EventType, &'static str)],
        bool,
    );
    #[rustfmt::skip]
    let rows: &[Row] = &[
        // kind, change, changed path, events, fires again on repeat
        (Data, Created, "/a/b", &[(NodeCreated, "/a/b")], false),
        (Data, Deleted, "/a/b", &[(NodeDeleted, "/a/b")], false),
        (Data, DataChanged, "/a/b", &[(NodeDataChanged, "/a/b")], false),
        (Data, Created, "/a/b/c", &[], false),
        (Data, Deleted, "/a/b/c", &[], false),
        (Data, DataChanged, "/a", &[], false),
        (Exist, Created, "/a/b", &[(NodeCreated, "/a/b")], false),
        (Exist, Deleted, "/a/b", &[(NodeDeleted, "/a/b")], false),
        (Exist, DataChanged, "/a/b", &[(NodeDataChanged, "/a/b")], false),
        (Exist, Created, "/a/b/c", &[], false),
        (Child, Created, "/a/b", &[], false),
        (Child, Deleted, "/a/b", &[(NodeDeleted, "/a/b")], false),
        (Child, DataChanged, "/a/b", &[], false),
        (Child, Created, "/a/b/c", &[(NodeChildrenChanged, "/a/b")], false),
        (Child, Deleted, "/a/b/c", &[(NodeChildrenChanged, "/a/b")], false),
        (Child, DataChanged, "/a/b/c", &[], false),
        (Child, Created, "/a/b/c/d", &[], false),
        (Persistent, Created, "/a/b", &[(NodeCreated, "/a/b")], true),
        (Persistent, Deleted, "/a/b", &[(NodeDeleted, "/a/b")], true),
        (Persistent, DataChanged, "/a/b", &[(NodeDataChanged, "/a/b")], true),
        (Persistent, Created, "/a/b/c", &[(NodeChildrenChanged, "/a/b")], true),
        (Persistent, Deleted, "/a/b/c", &[(NodeChildrenChanged, "/a/b")], true),
        (Persistent, DataChanged, "/a/b/c", &[], true),
        (Persistent, Created, "/a/b/c/d", &[], true),
        (Persistent, Created, "/a/x", &[], true),
        (PersistentRecursive, Created, "/a/b", &[(NodeCreated, "/a/b")], true),
        (PersistentRecursive, Deleted, "/a/b", &[(NodeDeleted, "/a/b")], true),
        (PersistentRecursive, DataChanged, "/a/b", &[(NodeDataChanged, "/a/b")], true),
        (PersistentRecursive, Created, "/a/b/c", &[(NodeCreated, "/a/b/c")], true),
        (PersistentRecursive, Deleted, "/a/b/c", &[(NodeDeleted, "/a/b/c")], true),
        (PersistentRecursive, DataChanged, "/a/b/c", &[(NodeDataChanged, "/a/b/c")], true),
        (PersistentRecursive, Created, "/a/b/c/d", &[(NodeCreated, "/a/b/c/d")], true),
        (PersistentRecursive, Deleted, "/a/b/c/d", &[(NodeDeleted, "/a/b/c/d")], true),
        (PersistentRecursive, DataChanged, "/a", &[], true),
        (PersistentRecursive, Created, "/a/x", &[], true),
        (PersistentRecursive, Created, "/a/bc", &[], true),
    ];
    for (kind, change, path, want, repeats) in rows {
        let mut t = table_with(*kind, "/a/b");
        let want: Vec<_> = want.iter().map(|(e, p)| ev(*e, p)).collect();
        let row = format!("{kind:?} {change:?} {path}");
        assert_eq!(for_w(&mut t, *change, path), want, "{row}");
        let again = for_w(&mut t, *change, path);
        if *repeats || want.is_empty() {
            assert_eq!(again, want, "{row}: second time");
        } else {
            assert_eq!(again, vec![], "{row}: one-shot fired twice");
            assert_eq!(t.watches_of(W), 0, "{row}: one-shot not removed");
        }
    }
}

#[test]
fn root_parent_and_recursive_root() {
    let mut t = table_with(WatchKind::Child, "/");
    assert_eq!(
        for_w(&mut t, Created, "/a"),
        vec![ev(NodeChildrenChanged, "/")]
    );
    let mut t = table_with(WatchKind::PersistentRecursive, "/");
    assert_eq!(for_w(&mut t, Created, "/a"), vec![ev(NodeCreated, "/a")]);
    assert_eq!(
        for_w(&mut t, DataChanged, "/"),
        vec![ev(NodeDataChanged, "/")]
    );
    assert_eq!(
        for_w(&mut t, Deleted, "/a/b/c"),
        vec![ev(NodeDeleted, "/a/b/c")]
    );
}

/// Several registrations of one watcher matching one change give one event.
#[test]
fn one_event_per_watcher_per_trigger() {
    use WatchKind::*;
    type Row = (
        &'static [(WatchKind, &'static str)],
        NodeChange,
        &'static str,
        &'static [(EventType, &'static str)],
    );
    #[rustfmt::skip]
    let rows: &[Row] = &[
        (&[(Data, "/a"), (Child, "/a")], Deleted, "/a", &[(NodeDeleted, "/a")]),
        (&[(Persistent, "/a"), (Child, "/a")], Deleted, "/a", &[(NodeDeleted, "/a")]),
        (&[(PersistentRecursive, "/"), (Data, "/a/b")], DataChanged, "/a/b", &[(NodeDataChanged, "/a/b")]),
        (&[(PersistentRecursive, "/"), (PersistentRecursive, "/a")], Created, "/a/b", &[(NodeCreated, "/a/b")]),
        (&[(PersistentRecursive, "/a"), (Child, "/a")], Deleted, "/a", &[(NodeDeleted, "/a")]),
        // Different tables' parent trigger is a separate call: two events.
        (&[(Data, "/a/b"), (Child, "/a")], Created, "/a/b", &[(NodeCreated, "/a/b"), (NodeChildrenChanged, "/a")]),
        (&[(Data, "/a/b"), (Child, "/a")], Deleted, "/a/b", &[(NodeDeleted, "/a/b"), (NodeChildrenChanged, "/a")]),
        (&[(PersistentRecursive, "/a"), (Persistent, "/a")], Created, "/a/b", &[(NodeChildrenChanged, "/a")]),
    ];
    for (watches, change, path, want) in rows {
        let mut t = WatchTable::new(1000);
        for (kind, p) in *watches {
            t.add(p, *kind, W).unwrap();
        }
        let want: Vec<_> = want.iter().map(|(e, p)| ev(*e, p)).collect();
        assert_eq!(
            for_w(&mut t, *change, path),
            want,
            "{watches:?} {change:?} {path}"
        );
    }
}

#[test]
fn suppressed_child_watch_is_still_consumed_by_delete() {
    let mut t = WatchTable::new(1000);
    t.add("/a", WatchKind::Data, W).unwrap();
    t.add("/a", WatchKind::Child, W).unwrap();
    assert_eq!(for_w(&mut t, Deleted, "/a").len(), 1);
    assert_eq!(t.watches_of(W), 0);
    assert_eq!(for_w(&mut t, Created, "/a/c"), vec![]);
}

#[test]
fn delete_orders_data_then_child_then_parent() {
    let (w1, w2, w3) = (WatcherId(1), WatcherId(2), WatcherId(3));
    let mut t = WatchTable::new(1000);
    t.add("/a/b", WatchKind::Child, w1).unwrap();
    t.add("/a/b", WatchKind::Data, w3).unwrap();
    t.add("/a/b", WatchKind::Exist, w2).unwrap();
    t.add("/a", WatchKind::Child, w1).unwrap();
    let got = fired(&mut t, Deleted, "/a/b");
    let want = vec![
        (w2, ev(NodeDeleted, "/a/b")),
        (w3, ev(NodeDeleted, "/a/b")),
        (w1, ev(NodeDeleted, "/a/b")),
        (w1, ev(NodeChildrenChanged, "/a")),
    ];
    assert_eq!(got, want);
}

#[test]
fn watchers_are_independent() {
    let (w1, w2) = (WatcherId(1), WatcherId(2));
    let mut t = WatchTable::new(1000);
    t.add("/a", WatchKind::Data, w1).unwrap();
    t.add("/a", WatchKind::Data, w2).unwrap();
    t.add("/a", WatchKind::Persistent, w2).unwrap();
    let got = fired(&mut t, DataChanged, "/a");
    assert_eq!(
        got,
        vec![
            (w1, ev(NodeDataChanged, "/a")),
            (w2, ev(NodeDataChanged, "/a"))
        ]
    );
    let got = fired(&mut t, DataChanged, "/a");
    assert_eq!(got, vec![(w2, ev(NodeDataChanged, "/a"))]);
}

/// ZooKeeper 3.8 keeps one mode per (watcher, path) per table: a later
/// one-shot registration replaces a persistent/recursive one in its table.
#[test]
fn one_shot_after_persistent_replaces_its_table_half() {
    let mut t = table_with(WatchKind::Persistent, "/a");
    t.add("/a", WatchKind::Data, W).unwrap();
    assert_eq!(
        for_w(&mut t, DataChanged, "/a"),
        vec![ev(NodeDataChanged, "/a")]
    );
    assert_eq!(
        for_w(&mut t, DataChanged, "/a"),
        vec![],
        "data half now one-shot"
    );
    assert_eq!(
        for_w(&mut t, Created, "/a/c"),
        vec![ev(NodeChildrenChanged, "/a")]
    );
    assert_eq!(
        for_w(&mut t, Created, "/a/d"),
        vec![ev(NodeChildrenChanged, "/a")]
    );

    let mut t = table_with(WatchKind::PersistentRecursive, "/a");
    t.add("/a", WatchKind::Data, W).unwrap();
    assert_eq!(
        for_w(&mut t, Created, "/a/c"),
        vec![],
        "recursion lost in the data table"
    );
    // Re-adding the persistent watch restores the mode.
    t.add("/a", WatchKind::PersistentRecursive, W).unwrap();
    assert_eq!(
        for_w(&mut t, Created, "/a/c"),
        vec![ev(NodeCreated, "/a/c")]
    );
}

#[test]
fn remove_watcher_forgets_everything() {
    let mut t = WatchTable::new(1000);
    for (p, k) in [
        ("/a", WatchKind::Data),
        ("/a", WatchKind::Child),
        ("/b", WatchKind::PersistentRecursive),
    ] {
        t.add(p, k, W).unwrap();
    }
    t.add("/a", WatchKind::Data, WatcherId(1)).unwrap();
    t.remove_watcher(W);
    assert_eq!(t.watches_of(W), 0);
    assert_eq!(
        fired(&mut t, Deleted, "/a"),
        vec![(WatcherId(1), ev(NodeDeleted, "/a"))]
    );
    assert_eq!(fired(&mut t, Created, "/b/c"), vec![]);
    assert_eq!(t.summary().num_connections, 1);
}

#[test]
fn remove_by_type() {
    use WatchKind as K;
    use WatcherType as T;
    type Row = (&'static [K], T, bool, usize);
    #[rustfmt::skip]
    let rows: &[Row] = &[
        // watches held on /a, type removed, removed?, registrations left
        (&[], T::Any, false, 0),
        (&[K::Data], T::Data, true, 0),
        (&[K::Exist], T::Data, true, 0),
        (&[K::Data], T::Children, false, 1),
        (&[K::Child], T::Children, true, 0),
        (&[K::Child], T::Data, false, 1),
        (&[K::Data, K::Child], T::Any, true, 0),
        (&[K::Data, K::Child], T::Data, true, 1),
        (&[K::Persistent], T::Any, true, 0),
        (&[K::Persistent], T::Data, true, 1),
        (&[K::PersistentRecursive], T::Children, true, 1),
    ];
    for (held, ty, removed, left) in rows {
        let mut t = WatchTable::new(1000);
        for k in *held {
            t.add("/a", *k, W).unwrap();
        }
        assert_eq!(t.remove("/a", *ty, W), Ok(*removed), "{held:?} {ty:?}");
        assert_eq!(t.watches_of(W), *left, "{held:?} {ty:?}");
    }
    let mut t = table_with(K::Persistent, "/a");
    for ty in [T::Persistent, T::PersistentRecursive] {
        assert_eq!(
            t.remove("/a", ty, W),
            Err(WatchError::UnsupportedWatcherType(ty))
        );
        assert_eq!(
            t.contains("/a", ty, W),
            Err(WatchError::UnsupportedWatcherType(ty))
        );
    }
    // The child half left by removing the data half keeps firing.
    t.remove("/a", T::Data, W).unwrap();
    assert_eq!(for_w(&mut t, DataChanged, "/a"), vec![]);
    assert_eq!(
        for_w(&mut t, Created, "/a/c"),
        vec![ev(NodeChildrenChanged, "/a")]
    );
}

#[test]
fn contains_answers_like_zookeeper_3_8() {
    let other = WatcherId(1);
    let mut t = WatchTable::new(1000);
    t.add("/a", WatchKind::Data, W).unwrap();
    t.add("/c", WatchKind::PersistentRecursive, W).unwrap();
    assert_eq!(t.contains("/a", WatcherType::Data, W), Ok(true));
    assert_eq!(t.contains("/a", WatcherType::Any, W), Ok(true));
    assert_eq!(t.contains("/a", WatcherType::Children, W), Ok(false));
    assert_eq!(t.contains("/b", WatcherType::Any, W), Ok(false));
    assert_eq!(t.contains("/c", WatcherType::Children, W), Ok(true));
    assert_eq!(
        t.contains("/c/d", WatcherType::Any, W),
        Ok(false),
        "not for descendants"
    );
    // 3.8 answers for the path, whoever holds the watch; `holds` is strict.
    assert_eq!(t.contains("/a", WatcherType::Data, other), Ok(true));
    assert!(!t.holds("/a", WatcherType::Data, other));
    assert!(t.holds("/a", WatcherType::Any, W));
    assert!(!t.holds("/a", WatcherType::Children, W));
}

#[test]
fn set_watches_decisions() {
    use WatchKind as K;
    // Tree: /n with mzxid 5, pzxid 8; /gone missing.
    let tree = |p: &str| (p == "/n").then_some(NodeZxids { mzxid: 5, pzxid: 8 });
    type Row = (K, &'static str, Zxid, Option<EventType>);
    #[rustfmt::skip]
    let rows: &[Row] = &[
        // list, path, relative zxid, immediate event (None = registered)
        (K::Data, "/gone", 10, Some(NodeDeleted)),
        (K::Data, "/n", 4, Some(NodeDataChanged)),
        (K::Data, "/n", 5, None),
        (K::Data, "/n", 9, None),
        (K::Exist, "/n", 4, Some(NodeCreated)),
        (K::Exist, "/n", 9, Some(NodeCreated)),
        (K::Exist, "/gone", 9, None),
        (K::Child, "/gone", 10, Some(NodeDeleted)),
        (K::Child, "/n", 7, Some(NodeChildrenChanged)),
        (K::Child, "/n", 8, None),
        (K::Child, "/n", 20, None),
        (K::Persistent, "/gone", 0, None),
        (K::Persistent, "/n", 0, None),
        (K::PersistentRecursive, "/gone", 0, None),
        (K::PersistentRecursive, "/n", 0, None),
    ];
    for (kind, path, rel, want) in rows {
        let mut lists = WatchLists::default();
        let list = match kind {
            K::Data => &mut lists.data,
            K::Exist => &mut lists.exist,
            K::Child => &mut lists.child,
            K::Persistent => &mut lists.persistent,
            K::PersistentRecursive => &mut lists.persistent_recursive,
        };
        list.push(path.to_string());
        let mut t = WatchTable::new(1000);
        let events = t.set_watches(W, *rel, &lists, tree).unwrap();
        let row = format!("{kind:?} {path} rel={rel}");
        match want {
            Some(e) => {
                assert_eq!(events, vec![event(*e, path)], "{row}");
                assert_eq!(t.watches_of(W), 0, "{row}: not registered");
            }
            None => {
                assert_eq!(events, vec![], "{row}");
                let mut expect = table_with(*kind, path);
                assert_eq!(t.by_watcher(), expect.by_watcher(), "{row}");
                assert_eq!(t.watches_of(W), expect.watches_of(W), "{row}");
                let probe = format!("{path}/x");
                assert_eq!(
                    fired(&mut t, Created, &probe),
                    fired(&mut expect, Created, &probe),
                    "{row}"
                );
            }
        }
    }
}

#[test]
fn set_watches_events_follow_list_order() {
    let lists = WatchLists {
        data: vec!["/d".into()],
        exist: vec!["/e".into()],
        child: vec!["/c".into()],
        ..WatchLists::default()
    };
    let tree = |p: &str| (p == "/e").then_some(NodeZxids { mzxid: 1, pzxid: 1 });
    let got = WatchTable::new(10).set_watches(W, 0, &lists, tree).unwrap();
    let got: Vec<_> = got.into_iter().map(|e| (e.event_type, e.path)).collect();
    assert_eq!(
        got,
        vec![
            ev(NodeDeleted, "/d"),
            ev(NodeCreated, "/e"),
            ev(NodeDeleted, "/c")
        ]
    );
}

#[test]
fn per_watcher_bound() {
    let mut t = WatchTable::new(3);
    t.add("/a", WatchKind::Data, W).unwrap();
    t.add("/a", WatchKind::Child, W).unwrap();
    t.add("/a", WatchKind::Exist, W).unwrap(); // same data slot: no new room needed
    let err = t.add("/p", WatchKind::Persistent, W).unwrap_err();
    assert_eq!(
        err,
        WatchError::TooManyWatches {
            watcher: W,
            held: 2,
            max: 3
        }
    );
    assert!(err.to_string().contains("too many watches"));
    t.add("/b", WatchKind::Data, W).unwrap();
    assert!(t.add("/c", WatchKind::Data, W).is_err());
    t.add("/c", WatchKind::Data, WatcherId(1)).unwrap(); // others unaffected
                                                         // setWatches is all or nothing.
    let lists = WatchLists {
        persistent: vec!["/x".into()],
        ..WatchLists::default()
    };
    let mut t = WatchTable::new(2);
    t.add("/a", WatchKind::Data, W).unwrap();
    assert!(t.set_watches(W, 0, &lists, |_| None).is_err());
    assert_eq!(t.watches_of(W), 1);
    // Firing frees room.
    t.trigger_change(DataChanged, "/a");
    assert!(t.set_watches(W, 0, &lists, |_| None).is_ok());
}

#[test]
fn four_letter_word_counts() {
    let (w1, w2, w3) = (WatcherId(1), WatcherId(2), WatcherId(3));
    let mut t = WatchTable::new(1000);
    t.add("/a", WatchKind::Data, w1).unwrap();
    t.add("/b", WatchKind::Child, w2).unwrap();
    t.add("/c", WatchKind::Persistent, w3).unwrap();
    t.add("/a", WatchKind::Exist, w3).unwrap();
    let s = t.summary();
    assert_eq!(
        s,
        WatchesSummary {
            num_connections: 2,
            num_paths: 2,
            total_watches: 3
        }
    );
    assert_eq!(
        s.to_string(),
        "2 connections watching 2 paths\nTotal watches:3"
    );
    assert_eq!(t.watch_count(), 5);
    assert_eq!(
        t.by_watcher(),
        vec![
            (w1, vec!["/a".to_string()]),
            (w3, vec!["/a".to_string(), "/c".to_string()])
        ]
    );
    assert_eq!(
        t.by_path(),
        vec![
            ("/a".to_string(), vec![w1, w3]),
            ("/c".to_string(), vec![w3])
        ]
    );
    let mut paths: Vec<_> = t.watched_paths().collect();
    paths.sort();
    assert_eq!(paths, vec!["/a", "/c"]);
    // A watcher whose one-shot watches fired still counts as a connection.
    t.trigger_change(DataChanged, "/a");
    let s = t.summary();
    assert_eq!(
        s,
        WatchesSummary {
            num_connections: 2,
            num_paths: 1,
            total_watches: 1
        }
    );
    assert_eq!(t.by_watcher()[0], (w1, vec![]));
    t.remove_watcher(w1);
    assert_eq!(t.summary().num_connections, 1);
}

#[test]
fn parent_paths() {
    assert_eq!(table::parent("/"), None);
    assert_eq!(table::parent("/a"), Some("/"));
    assert_eq!(table::parent("/a/b"), Some("/a"));
    let all: Vec<_> = table::path_and_ancestors("/a/b/c").collect();
    assert_eq!(all, vec!["/a/b/c", "/a/b", "/a", "/"]);
}
