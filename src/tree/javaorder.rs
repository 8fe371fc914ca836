//! Reproduces the iteration order of Java's `HashSet<String>`.
//!
//! ZooKeeper answers `getChildren`, `getEphemerals` and the `dump` listing in
//! the iteration order of a `java.util.HashSet`, and deletes a closing
//! session's ephemerals (firing their watches) in that order too. Clients see
//! that order, so Warden reproduces it rather than sorting.
//!
//! A `HashMap` with list bins iterates by bucket (`spread(hash) & (cap - 1)`)
//! and, inside a bucket, in insertion order (removals and resizes keep the
//! relative order). Its capacity only grows, so it follows from the largest
//! size the set ever had. A `clone()` (what `DataTree.getEphemerals` returns)
//! is rebuilt at a capacity sized from its current size (JDK 17's
//! `putMapEntries`) by inserting in the original's order.
//!
//! Not reproduced: tree bins (a bucket of 9+ colliding names), which only
//! adversarial names reach.

/// Hash bits a member needs for ordering: the spread hash and an insertion stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub spread: u32,
    pub seq: u64,
}

impl Member {
    pub fn new(name: &str, seq: u64) -> Member {
        Member {
            spread: spread(super::path::java_hash(name)),
            seq,
        }
    }
}

/// `HashMap.hash()`: `h ^ (h >>> 16)`.
pub fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

/// The table capacity of a `HashMap` created with `initial` capacity (a power
/// of two; 16 by default, 8 for `new HashSet<>(8)`), load factor 0.75, after it
/// held at most `peak` entries.
pub fn capacity_after(initial: usize, peak: usize) -> usize {
    let mut cap = initial.max(1);
    while peak > cap / 4 * 3 && cap < 1 << 30 {
        cap *= 2;
    }
    cap
}

/// `HashMap.tableSizeFor`.
fn table_size_for(c: i32) -> usize {
    if c <= 1 {
        return 1;
    }
    (c as usize).next_power_of_two().min(1 << 30)
}

/// The capacity of `HashMap.clone()` of a map with `size` entries (JDK 17:
/// `tableSizeFor((int) (size / 0.75f + 1.0f))`).
pub fn clone_capacity(size: usize) -> usize {
    let ft = size as f32 / 0.75f32 + 1.0f32;
    table_size_for(ft as i32)
}

/// Sorts `items` into the iteration order of a set of capacity `cap`.
pub fn order<T>(items: &mut [(T, Member)], cap: usize) {
    let mask = (cap.max(1) - 1) as u32;
    items.sort_by_key(|(_, m)| (m.spread & mask, m.seq));
}

/// Sorts `items` into the iteration order of a `clone()` of a set of capacity `cap`.
pub fn order_of_clone<T>(items: &mut [(T, Member)], cap: usize) {
    let mask = (cap.max(1) - 1) as u32;
    let cmask = (clone_capacity(items.len()) - 1) as u32;
    items.sort_by_key(|(_, m)| (m.spread & cmask, m.spread & mask, m.seq));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities() {
        assert_eq!(capacity_after(8, 0), 8);
        assert_eq!(capacity_after(8, 6), 8);
        assert_eq!(capacity_after(8, 7), 16);
        assert_eq!(capacity_after(16, 12), 16);
        assert_eq!(capacity_after(16, 13), 32);
        assert_eq!(capacity_after(16, 25), 64);
        assert_eq!(clone_capacity(1), 2);
        assert_eq!(clone_capacity(2), 4);
        assert_eq!(clone_capacity(3), 8);
        assert_eq!(clone_capacity(12), 32);
    }
}
