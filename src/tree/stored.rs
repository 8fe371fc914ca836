//! How a znode's Stat, kind and data are kept in memory.
//!
//! Why: with a million znodes every byte of a node counts (issue 6). A
//! client-visible [`Stat`] carries `dataLength` and `numChildren`, which
//! follow from the data and the children set, and [`NodeKind`] repeats
//! what `ephemeralOwner` says; [`NodeData`] is a 32-byte `Bytes` handle.
//! Here a node keeps each fact once: [`StoredStat`] is the nine stored
//! fields plus a one-byte kind tag in what would be padding, and [`Data`]
//! is a 16-byte owned boxed slice (an exact-size allocation that no
//! reader's clone can grow, as cloning a `Bytes` made from a `Vec` does).
//!
//! Guarantees: `StoredStat::new(stat, kind).full(len, children)` gives back
//! `stat` with those two counts, and `.kind()` gives back `kind`; a [`Data`]
//! keeps null apart from empty and reads back the same bytes.

use super::NodeKind;
use crate::proto::types::{NodeData, Stat, Zxid};
use bytes::Bytes;

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

/// A znode's data: `None` is null (jute length -1), apart from empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Data(Option<Box<[u8]>>);

impl Data {
    pub const NULL: Data = Data(None);

    /// Empty, non-null data (no allocation).
    pub fn empty() -> Data {
        Data(Some(Box::default()))
    }

    /// A copy of `d` in an allocation of exactly its size (none if empty).
    pub fn copy_of(d: &NodeData) -> Data {
        Data(d.as_bytes().map(|b| Box::from(&b[..])))
    }

    /// `d` itself when it is the only handle on a `Vec`-made buffer of
    /// exactly its size (what the decoders make), else a copy.
    pub fn take(d: NodeData) -> Data {
        Data(
            d.into_option()
                .map(|b: Bytes| Vec::from(b).into_boxed_slice()),
        )
    }

    pub fn is_null(&self) -> bool {
        self.0.is_none()
    }

    /// Length in bytes, 0 for null.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |b| b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, `None` when null.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        self.0.as_deref()
    }

    /// The bytes for a reply (a copy: the tree's allocation stays exact).
    pub fn to_node_data(&self) -> NodeData {
        match self.as_bytes() {
            None => NodeData::NULL,
            Some([]) => NodeData::empty(),
            Some(b) => NodeData::copy_from_slice(b),
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
    fn data_keeps_null_apart_from_empty() {
        assert!(Data::copy_of(&NodeData::NULL).is_null());
        assert!(!Data::copy_of(&NodeData::empty()).is_null());
        assert_eq!(Data::take(NodeData::empty()).as_bytes(), Some(&b""[..]));
        assert_eq!(Data::take(NodeData::NULL), Data::NULL);
        let d = Data::take(NodeData::copy_from_slice(b"abc"));
        assert_eq!(d.as_bytes(), Some(&b"abc"[..]));
        assert_eq!(d.len(), 3);
        assert_eq!(d.to_node_data(), NodeData::copy_from_slice(b"abc"));
        assert_eq!(Data::NULL.to_node_data(), NodeData::NULL);
        assert_eq!(
            Data::copy_of(&NodeData::empty()).to_node_data(),
            NodeData::empty()
        );
    }

    #[test]
    fn compact_sizes() {
        assert_eq!(std::mem::size_of::<StoredStat>(), 64);
        assert_eq!(std::mem::size_of::<Data>(), 16);
        // An `Arc<Node>` (16 bytes of counts + 96) fills a 112-byte size class.
        assert_eq!(std::mem::size_of::<super::super::Node>(), 96);
    }
}
