use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Bound::{self, Excluded, Included, Unbounded};

fn same<K: Ord + Clone + std::fmt::Debug, V: Clone + PartialEq + std::fmt::Debug>(
    m: &DenseMap<K, V>,
    model: &BTreeMap<K, V>,
) {
    m.check();
    assert_eq!(m.len(), model.len());
    assert!(m.iter().eq(model.iter()), "{m:?} != {model:?}");
}

#[test]
fn empty_map() {
    let mut m: DenseMap<u32, u32> = DenseMap::new();
    m.check();
    assert!(m.is_empty());
    assert_eq!(m.get(&1), None);
    assert_eq!(m.remove(&1), None);
    assert_eq!(m.get_mut(&1), None);
    assert_eq!(m.iter().next(), None);
    assert_eq!(m.first_key(), None);
    assert_eq!(m.range(3..).next(), None);
    assert_eq!(m, DenseMap::from_sorted_iter([]));
}

#[test]
fn insert_get_replace_remove() {
    let mut m = DenseMap::new();
    assert_eq!(m.insert(2, "b"), None);
    assert_eq!(m.insert(1, "a"), None);
    assert_eq!(m.insert(2, "B"), Some("b"));
    assert_eq!(m.get(&2), Some(&"B"));
    assert_eq!(m.get_key_value(&1), Some((&1, &"a")));
    *m.get_mut(&1).unwrap() = "A";
    assert_eq!(m.remove(&1), Some("A"));
    assert!(!m.contains_key(&1) && m.contains_key(&2));
    assert_eq!(m.len(), 1);
    m.check();
}

#[test]
fn str_keys_are_found_by_borrowed_str() {
    let m: DenseMap<Arc<str>, u64> = (0..500u64)
        .map(|i| (Arc::from(format!("/p/{i:04}")), i))
        .collect();
    assert_eq!(m.get("/p/0042"), Some(&42));
    let from: Vec<u64> = m
        .range::<_, str>((Included("/p/0497"), Unbounded))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(from, [497, 498, 499]);
    let between: Vec<u64> = m
        .range::<_, str>((Excluded("/p/0100"), Excluded("/p/0103")))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(between, [101, 102]);
}

#[test]
fn inserts_in_key_order_leave_full_leaves() {
    // Appending at the end, and appending just before a fixed tail (the
    // shape of znodes created under "/mem" with "/zookeeper" after them).
    for tail in [0u32, 3] {
        let mut m = DenseMap::new();
        for t in 0..tail {
            m.insert(u32::MAX - t, 0);
        }
        let n = 20_000u32;
        for i in 0..n {
            m.insert(i, i);
        }
        m.check();
        let (leaves, _) = m.shape();
        let full = (n + tail).div_ceil(MAX as u32) as usize;
        assert!(
            leaves <= full + 2,
            "tail {tail}: {leaves} leaves, {full} if full"
        );
    }
}

#[test]
fn sorted_build_is_full_and_equals_inserts() {
    let sizes = [
        0,
        1,
        MIN - 1,
        MIN,
        MAX - 1,
        MAX,
        MAX + 1,
        MAX + MIN - 1,
        MAX + MIN,
        MAX * MAX,
        MAX * MAX + 5,
        100_000,
    ];
    for n in sizes {
        let built = DenseMap::from_sorted_iter((0..n).map(|i| (i, i * 2)));
        built.check();
        let inserted: DenseMap<usize, usize> = (0..n).rev().map(|i| (i, i * 2)).collect();
        assert_eq!(built, inserted, "n = {n}");
        let (leaves, _) = built.shape();
        assert_eq!(leaves, n.div_ceil(MAX).max(1), "n = {n}");
    }
}

#[test]
#[should_panic(expected = "not strictly increasing")]
fn sorted_build_refuses_keys_out_of_order() {
    DenseMap::from_sorted_iter([(1, ()), (3, ()), (2, ())]);
}

#[test]
#[should_panic(expected = "not strictly increasing")]
fn sorted_build_refuses_a_repeated_key() {
    DenseMap::from_sorted_iter([(1, ()), (1, ())]);
}

#[test]
fn removal_down_to_empty_and_back() {
    let n = 5_000u32;
    let mut m: DenseMap<u32, u32> = (0..n).map(|i| (i * 7919 % n, i)).collect();
    let mut model: BTreeMap<u32, u32> = (0..n).map(|i| (i * 7919 % n, i)).collect();
    same(&m, &model);
    for i in 0..n {
        let k = i * 104_729 % n;
        assert_eq!(m.remove(&k), model.remove(&k));
        if i % 97 == 0 {
            same(&m, &model);
        }
    }
    same(&m, &model);
    assert!(m.is_empty());
    assert_eq!(m.shape(), (1, 0), "back to one empty leaf");
    for i in 0..300 {
        m.insert(i, i);
        model.insert(i, i);
    }
    same(&m, &model);
}

#[test]
fn removals_keep_the_node_count_bounded() {
    let n = 40_000u32;
    let mut m: DenseMap<u32, ()> = (0..n).map(|i| (i, ())).collect();
    // Keep one key in 50: every leaf would be nearly empty without merges.
    for i in (0..n).filter(|i| i % 50 != 0) {
        m.remove(&i);
    }
    m.check();
    let (leaves, _) = m.shape();
    assert!(
        leaves <= m.len() / MIN + 1,
        "{leaves} leaves for {}",
        m.len()
    );
}

#[test]
fn an_old_clone_never_changes() {
    let mut m: DenseMap<u32, u32> = (0..1_000).map(|i| (i, i)).collect();
    let old = m.clone();
    for i in 0..1_000 {
        if i % 3 == 0 {
            m.remove(&i);
        } else {
            *m.get_mut(&i).unwrap() += 1;
        }
    }
    m.insert(5_000, 0);
    assert!(old
        .iter()
        .map(|(k, v)| (*k, *v))
        .eq((0..1_000).map(|i| (i, i))));
    old.check();
    m.check();
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, u32),
    Remove(u16),
    Update(u16, u32),
    Keep,
    Range(Bound<u16>, Bound<u16>),
}

fn bound(keys: u16) -> impl Strategy<Value = Bound<u16>> {
    prop_oneof![
        Just(Unbounded),
        (0..keys).prop_map(Included),
        (0..keys).prop_map(Excluded)
    ]
}

/// Changes and queries of keys below `keys`.
fn op(keys: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => (0..keys).prop_map(Op::Remove),
        2 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Update(k, v)),
        1 => Just(Op::Keep),
        1 => (bound(keys), bound(keys)).prop_map(|(a, b)| Op::Range(a, b)),
    ]
}

fn valid(a: Bound<u16>, b: Bound<u16>) -> bool {
    match (a, b) {
        (Included(x) | Excluded(x), Included(y) | Excluded(y)) if x > y => false,
        (Excluded(x), Excluded(y)) if x == y => false,
        _ => true,
    }
}

/// Runs `ops` on a map built from `start` and on a BTreeMap: they agree
/// throughout, and every clone taken along the way still holds what it
/// held when taken.
fn run(start: BTreeMap<u16, u32>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut m = DenseMap::from_sorted_iter(start.clone());
    let mut model = start;
    let mut kept: Vec<(DenseMap<u16, u32>, BTreeMap<u16, u32>)> = Vec::new();
    for op in ops {
        match op {
            Op::Insert(k, v) => prop_assert_eq!(m.insert(k, v), model.insert(k, v)),
            Op::Remove(k) => prop_assert_eq!(m.remove(&k), model.remove(&k)),
            Op::Update(k, v) => {
                let got = m.get_mut(&k).map(|x| std::mem::replace(x, v));
                let want = model.get_mut(&k).map(|x| std::mem::replace(x, v));
                prop_assert_eq!(got, want);
            }
            Op::Keep => kept.push((m.clone(), model.clone())),
            Op::Range(a, b) if valid(a, b) => {
                prop_assert!(m.range((a, b)).eq(model.range((a, b))));
            }
            Op::Range(..) => {}
        }
        prop_assert_eq!(m.len(), model.len());
        prop_assert_eq!(m.first_key(), model.keys().next());
    }
    same(&m, &model);
    for (old, want) in &kept {
        same(old, want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Up to a few leaves under one branch.
    #[test]
    fn agrees_with_btreemap_and_clones_persist(
        start in proptest::collection::btree_map(0..600u16, any::<u32>(), 0..400),
        ops in proptest::collection::vec(op(600), 1..1_500),
    ) {
        run(start, ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Three levels: branches split, merge and share entries too.
    #[test]
    fn agrees_with_btreemap_and_clones_persist_when_deep(
        start in proptest::collection::btree_map(0..20_000u16, any::<u32>(), 3_000..9_000),
        ops in proptest::collection::vec(op(20_000), 1..12_000),
    ) {
        run(start, ops)?;
    }
}

/// Entries per leaf slot after inserting `keys` one by one.
fn fill<K: Ord + Clone>(keys: impl Iterator<Item = K>) -> f64 {
    let mut m = DenseMap::new();
    for k in keys {
        m.insert(k, ());
    }
    m.check();
    let (leaves, _) = m.shape();
    m.len() as f64 / (leaves * MAX) as f64
}

#[test]
fn inserts_out_of_order_leave_leaves_mostly_full() {
    // loadgen's creates: 32 connections interleaved, "c{conn}-{n}" unpadded.
    let n = 100_000u64;
    let loadgen = fill((0..n).map(|i| format!("/mem/c{}-{}", i % 32, i / 32)));
    assert!(loadgen > 0.9, "loadgen order: {loadgen:.3} full");
    // Halving splits alone would leave about ln 2 = 0.69.
    let random = fill((0..n).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    assert!(random > 0.8, "random order: {random:.3} full");
}
