//! How a znode's Stat and kind are kept in memory.
//!
//! Why: with a million znodes every byte of a node counts (issue 6). A
//! client-visible [`Stat`] carries `dataLength` and `numChildren`, which
//! follow from the data and the children set, and [`NodeKind`] repeats
//! what `ephemeralOwner` says. Here a node keeps each fact once:
//! [`StoredStat`] is the nine stored fields plus a one-byte kind tag in
//! what would be padding (the data is inline in the node's allocation:
//! see [`super::Node`]).
//!
//! Guarantees: `StoredStat::new(stat, kind).full(len, children)` gives back
//! `stat` with those two counts, and `.kind()` gives back `kind`.

use super::NodeKind;
use crate::proto::types::{Stat, Zxid};

/// What [`StoredStat`] remembers of a [`NodeKind`]; the payload (session
/// or TTL) is in `ephemeral_owner`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum KindTag {
    #[default]
    Persistent,
    Ephemeral,
    Container,
    Ttl,
}

/// A znode's stored Stat fields and kind (`dataLength` and `numChildren`
/// are derived: see [`StoredStat::full`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoredStat {
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub ctime: i64,
    pub mtime: i64,
    pub pzxid: Zxid,
    /// Set once, with the kind, by [`StoredStat::new`].
    ephemeral_owner: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    kind: KindTag,
}

impl StoredStat {
    /// `stat` without its derived counts, for a node of `kind`. The stored
    /// `ephemeralOwner` is the one `kind` implies (ZooKeeper's encoding).
    pub fn new(stat: &Stat, kind: NodeKind) -> StoredStat {
        let tag = match kind {
            NodeKind::Persistent => KindTag::Persistent,
            NodeKind::Ephemeral(_) => KindTag::Ephemeral,
            NodeKind::Container => KindTag::Container,
            NodeKind::Ttl(_) => KindTag::Ttl,
        };
        StoredStat {
            czxid: stat.czxid,
            mzxid: stat.mzxid,
            ctime: stat.ctime,
            mtime: stat.mtime,
            pzxid: stat.pzxid,
            ephemeral_owner: kind.owner(),
            version: stat.version,
            cversion: stat.cversion,
            aversion: stat.aversion,
            kind: tag,
        }
    }

    pub fn ephemeral_owner(&self) -> i64 {
        self.ephemeral_owner
    }

    pub fn kind(&self) -> NodeKind {
        match self.kind {
            KindTag::Persistent => NodeKind::Persistent,
            KindTag::Ephemeral => NodeKind::Ephemeral(self.ephemeral_owner),
            KindTag::Container => NodeKind::Container,
            KindTag::Ttl => NodeKind::Ttl(self.ephemeral_owner & !super::EXTENDED_MASK),
        }
    }

    /// The whole stored Stat, with the two derived counts filled in.
    pub fn full(&self, data_length: i32, num_children: i32) -> Stat {
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
            data_length,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_kind_round_trip() {
        let stat = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 0,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        for kind in [
            NodeKind::Persistent,
            NodeKind::Ephemeral(0x0100_0000_0000_0042),
            NodeKind::Ephemeral(-2),
            NodeKind::Container,
            NodeKind::Ttl(0),
            NodeKind::Ttl(super::super::MAX_TTL),
        ] {
            let s = StoredStat::new(&stat, kind);
            assert_eq!(s.kind(), kind);
            let back = s.full(9, 10);
            assert_eq!(back.ephemeral_owner, kind.owner());
            assert_eq!(
                back,
                Stat {
                    ephemeral_owner: kind.owner(),
                    ..stat
                }
            );
        }
    }

    #[test]
    fn compact_sizes() {
        assert_eq!(std::mem::size_of::<StoredStat>(), 64);
        // With a 4-byte count and the data length, 88 bytes of node header:
        // a node of 100 bytes of data fills mimalloc's 192-byte class.
        assert_eq!(std::mem::size_of::<super::super::NodeMeta>(), 80);
        // A node handle is a thin pointer.
        assert_eq!(std::mem::size_of::<super::super::Node>(), 8);
    }
}
