//! When to take a snapshot: ZooKeeper's `snapCount` rule as pure state.
//!
//! ZooKeeper snapshots once `snapCount/2 + roll` txns were logged since the
//! last one, `roll` uniform in `[0, snapCount/2)`, or once the logged bytes
//! pass `snapSizeLimit/2 + roll'`; the randomness keeps the servers of an
//! ensemble from all snapshotting at once. The randomness here comes from a
//! seed the caller gives, so a run replays exactly.

/// The snapshot trigger.
#[derive(Clone, Debug)]
pub struct SnapTrigger {
    snap_count: u64,
    size_limit: u64,
    rng: u64,
    count_threshold: u64,
    bytes_threshold: u64,
    count: u64,
    bytes: u64,
}

impl SnapTrigger {
    /// `snap_count` txns (ZooKeeper default 100000, at least 2);
    /// `size_limit` bytes of log (`snapSizeLimitInKb`·1024, 0 disables).
    pub fn new(snap_count: u64, size_limit: u64, seed: u64) -> SnapTrigger {
        assert!(snap_count >= 2, "snapCount must be at least 2");
        let mut t = SnapTrigger {
            snap_count,
            size_limit,
            rng: seed,
            count_threshold: 0,
            bytes_threshold: 0,
            count: 0,
            bytes: 0,
        };
        t.reroll();
        t
    }

    /// Counts one logged txn of `bytes`; true when a snapshot is due now
    /// (the counters restart with a new random offset).
    pub fn on_txn(&mut self, bytes: u64) -> bool {
        self.count += 1;
        self.bytes += bytes;
        let due = self.count > self.count_threshold
            || (self.size_limit > 0 && self.bytes > self.bytes_threshold);
        if due {
            self.count = 0;
            self.bytes = 0;
            self.reroll();
        }
        due
    }

    /// Txns and bytes since the last snapshot.
    pub fn pending(&self) -> (u64, u64) {
        (self.count, self.bytes)
    }

    fn reroll(&mut self) {
        let half = self.snap_count / 2;
        self.count_threshold = half + self.next_random() % half.max(1);
        let half_size = self.size_limit / 2;
        self.bytes_threshold = half_size + self.next_random() % half_size.max(1);
        assert!(
            self.count_threshold < self.snap_count.max(2),
            "threshold within snapCount"
        );
    }

    /// splitmix64.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txns_until_due(t: &mut SnapTrigger, bytes: u64) -> u64 {
        (1..).find(|_| t.on_txn(bytes)).unwrap()
    }

    #[test]
    fn fires_between_half_and_full_snap_count() {
        let mut t = SnapTrigger::new(1000, 0, 42);
        let gaps: Vec<u64> = (0..50).map(|_| txns_until_due(&mut t, 100)).collect();
        assert!(gaps.iter().all(|&g| (501..=1000).contains(&g)), "{gaps:?}");
        assert!(gaps.iter().any(|&g| g != gaps[0]), "randomised");
        let mut again = SnapTrigger::new(1000, 0, 42);
        assert_eq!(
            txns_until_due(&mut again, 100),
            gaps[0],
            "deterministic from the seed"
        );
    }

    #[test]
    fn the_size_limit_fires_first_for_big_txns() {
        let mut t = SnapTrigger::new(100_000, 1 << 20, 7);
        let n = txns_until_due(&mut t, 64 << 10);
        assert!((8..=17).contains(&n), "{n}");
        assert_eq!(t.pending(), (0, 0));
    }
}
