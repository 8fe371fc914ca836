//! Jute encodings of the records shared by requests and replies: node data
//! (a `buffer` that keeps null), `Stat`, `ACL`/`Id`, `ClientInfo`, `WatcherEvent`, `MultiHeader`, and the numbered
//! enums (error codes, event types, keeper states) read off the wire.
//!
//! Field order and widths follow `zookeeper.jute` exactly; each `read_*` here
//! is the inverse of its `write_*`, which the proptests check.

use super::jute::{DecodeError, Reader, Result, Writer};
use super::types::{
    Acl, ClientInfo, ErrorCode, EventType, Id, KeeperState, NodeData, Stat, WatcherEvent,
};
use bytes::Bytes;

/// Encoded size of a `Stat`: 6 longs and 5 ints.
pub const STAT_LEN: usize = 6 * 8 + 5 * 4;
/// Smallest encoded `ACL`: perms + two empty strings.
pub const MIN_ACL: usize = 12;
/// Smallest encoded `ClientInfo`: two empty strings.
pub const MIN_CLIENT_INFO: usize = 8;
/// Encoded size of a `MultiHeader`: type, done, err.
pub const MULTI_HEADER_LEN: usize = 9;

/// Node data: a null buffer (length -1) is written as null, as
/// `BinaryOutputArchive.writeBuffer` does.
pub fn write_data(w: &mut Writer<'_>, d: &NodeData) {
    w.buffer_opt(d.as_bytes().map(|b| &b[..]));
}

/// Node data: length -1 reads as [`NodeData::NULL`], as
/// `BinaryInputArchive.readBuffer` returns null.
pub fn read_data(r: &mut Reader<'_>) -> Result<NodeData> {
    Ok(NodeData::from(
        r.read_buffer_opt()?.map(Bytes::copy_from_slice),
    ))
}

pub fn write_stat(w: &mut Writer<'_>, s: &Stat) {
    w.i64(s.czxid)
        .i64(s.mzxid)
        .i64(s.ctime)
        .i64(s.mtime)
        .i32(s.version)
        .i32(s.cversion)
        .i32(s.aversion)
        .i64(s.ephemeral_owner)
        .i32(s.data_length)
        .i32(s.num_children)
        .i64(s.pzxid);
}

pub fn read_stat(r: &mut Reader<'_>) -> Result<Stat> {
    Ok(Stat {
        czxid: r.read_i64()?,
        mzxid: r.read_i64()?,
        ctime: r.read_i64()?,
        mtime: r.read_i64()?,
        version: r.read_i32()?,
        cversion: r.read_i32()?,
        aversion: r.read_i32()?,
        ephemeral_owner: r.read_i64()?,
        data_length: r.read_i32()?,
        num_children: r.read_i32()?,
        pzxid: r.read_i64()?,
    })
}

pub fn write_acl(w: &mut Writer<'_>, a: &Acl) {
    w.i32(a.perms).ustring(&a.id.scheme).ustring(&a.id.id);
}

pub fn read_acl(r: &mut Reader<'_>) -> Result<Acl> {
    Ok(Acl {
        perms: r.read_i32()?,
        id: Id {
            scheme: r.read_ustring()?,
            id: r.read_ustring()?,
        },
    })
}

pub fn write_acls(w: &mut Writer<'_>, acls: &[Acl]) {
    w.vec(acls, |w, a| write_acl(w, a));
}

pub fn read_acls(r: &mut Reader<'_>) -> Result<Vec<Acl>> {
    r.read_vec(MIN_ACL, read_acl)
}

pub fn write_client_info(w: &mut Writer<'_>, c: &ClientInfo) {
    w.ustring(&c.auth_scheme).ustring(&c.user);
}

pub fn read_client_info(r: &mut Reader<'_>) -> Result<ClientInfo> {
    Ok(ClientInfo {
        auth_scheme: r.read_ustring()?,
        user: r.read_ustring()?,
    })
}

pub fn write_event(w: &mut Writer<'_>, e: &WatcherEvent) {
    w.i32(e.event_type as i32)
        .i32(e.state as i32)
        .ustring(&e.path);
}

pub fn read_event(r: &mut Reader<'_>) -> Result<WatcherEvent> {
    Ok(WatcherEvent {
        event_type: event_type(r.read_i32()?)?,
        state: keeper_state(r.read_i32()?)?,
        path: r.read_ustring()?,
    })
}

/// `MultiHeader { int type; boolean done; int err; }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiHeader {
    pub op: i32,
    pub done: bool,
    pub err: i32,
}

impl MultiHeader {
    /// The header that ends every multi request and reply.
    pub const END: MultiHeader = MultiHeader {
        op: -1,
        done: true,
        err: -1,
    };

    pub fn write(&self, w: &mut Writer<'_>) {
        w.i32(self.op).bool(self.done).i32(self.err);
    }

    pub fn read(r: &mut Reader<'_>) -> Result<MultiHeader> {
        Ok(MultiHeader {
            op: r.read_i32()?,
            done: r.read_bool()?,
            err: r.read_i32()?,
        })
    }
}

pub fn error_code(v: i32) -> Result<ErrorCode> {
    ErrorCode::from_i32(v).ok_or(DecodeError::UnknownErrorCode(v))
}

pub fn event_type(v: i32) -> Result<EventType> {
    use EventType::*;
    Ok(match v {
        -1 => None,
        1 => NodeCreated,
        2 => NodeDeleted,
        3 => NodeDataChanged,
        4 => NodeChildrenChanged,
        5 => DataWatchRemoved,
        6 => ChildWatchRemoved,
        7 => PersistentWatchRemoved,
        _ => return Err(DecodeError::UnknownEventType(v)),
    })
}

pub fn keeper_state(v: i32) -> Result<KeeperState> {
    use KeeperState::*;
    Ok(match v {
        0 => Disconnected,
        3 => SyncConnected,
        4 => AuthFailed,
        5 => ConnectedReadOnly,
        6 => SaslAuthenticated,
        -112 => Expired,
        7 => Closed,
        _ => return Err(DecodeError::UnknownKeeperState(v)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn stat() -> Stat {
        Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        }
    }

    #[test]
    fn node_data_keeps_null_apart_from_empty() {
        for (d, wire) in [
            (NodeData::NULL, &[0xff, 0xff, 0xff, 0xff][..]),
            (NodeData::empty(), &[0, 0, 0, 0][..]),
            (NodeData::from_static(b"a"), &[0, 0, 0, 1, b'a'][..]),
        ] {
            let mut out = BytesMut::new();
            write_data(&mut Writer::new(&mut out), &d);
            assert_eq!(&out[..], wire);
            let mut r = Reader::new(&out);
            assert_eq!(read_data(&mut r), Ok(d));
            assert_eq!(r.finish(), Ok(()));
        }
    }

    #[test]
    fn stat_is_68_bytes_in_wire_order() {
        let mut out = BytesMut::new();
        write_stat(&mut Writer::new(&mut out), &stat());
        assert_eq!(out.len(), STAT_LEN);
        assert_eq!(&out[0..8], &1i64.to_be_bytes());
        assert_eq!(&out[32..36], &5i32.to_be_bytes());
        assert_eq!(&out[60..68], &11i64.to_be_bytes());
        assert_eq!(read_stat(&mut Reader::new(&out)), Ok(stat()));
    }

    #[test]
    fn acl_round_trip_and_bytes() {
        let acl = Acl::open_unsafe();
        let mut out = BytesMut::new();
        write_acls(&mut Writer::new(&mut out), &acl);
        let mut want = vec![0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 5];
        want.extend_from_slice(b"world");
        want.extend_from_slice(&[0, 0, 0, 6]);
        want.extend_from_slice(b"anyone");
        assert_eq!(&out[..], &want[..]);
        assert_eq!(read_acls(&mut Reader::new(&out)), Ok(acl));
    }

    #[test]
    fn event_round_trip() {
        let e = WatcherEvent {
            event_type: EventType::NodeDataChanged,
            state: KeeperState::SyncConnected,
            path: "/x".into(),
        };
        let mut out = BytesMut::new();
        write_event(&mut Writer::new(&mut out), &e);
        assert_eq!(&out[..8], &[0, 0, 0, 3, 0, 0, 0, 3]);
        assert_eq!(read_event(&mut Reader::new(&out)), Ok(e));
    }

    #[test]
    fn unknown_event_numbers_are_errors() {
        assert_eq!(event_type(99), Err(DecodeError::UnknownEventType(99)));
        assert_eq!(keeper_state(1), Err(DecodeError::UnknownKeeperState(1)));
        assert_eq!(error_code(-9999), Err(DecodeError::UnknownErrorCode(-9999)));
    }

    #[test]
    fn client_info_round_trip() {
        let c = ClientInfo {
            auth_scheme: "ip".into(),
            user: "127.0.0.1".into(),
        };
        let mut out = BytesMut::new();
        write_client_info(&mut Writer::new(&mut out), &c);
        assert_eq!(read_client_info(&mut Reader::new(&out)), Ok(c));
    }

    #[test]
    fn multi_header_end_bytes() {
        let mut out = BytesMut::new();
        MultiHeader::END.write(&mut Writer::new(&mut out));
        assert_eq!(&out[..], &[255, 255, 255, 255, 1, 255, 255, 255, 255]);
    }
}
