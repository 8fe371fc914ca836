//! Client identities: what a connection has proved about itself.
//!
//! Every connection starts as `ip:<its address>`; `addauth digest user:pw`
//! adds `digest:user:base64(sha1("user:pw"))`, the id ZooKeeper's
//! DigestAuthenticationProvider produces, so ACLs written by ZooKeeper
//! clients (and kazoo's `make_digest_acl`) match.

use crate::proto::requests::AuthPacket;
use crate::proto::types::{ClientInfo, ErrorCode, Id};
use crate::tree::path::java_hash;
use base64::Engine;
use sha1::{Digest, Sha1};

/// `user:base64(sha1("user:password"))`.
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{user}:{encoded}")
}

/// The identity an auth packet proves, or AuthFailed.
pub fn authenticate(packet: &AuthPacket) -> Result<Id, ErrorCode> {
    match packet.scheme.as_str() {
        "digest" => {
            let text = std::str::from_utf8(&packet.auth).map_err(|_| ErrorCode::AuthFailed)?;
            let (user, password) = text.split_once(':').ok_or(ErrorCode::AuthFailed)?;
            Ok(Id::new("digest", &digest_id(user, password)))
        }
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// How `whoAmI` shows an identity: digest ids by user name.
pub fn client_info(id: &Id) -> ClientInfo {
    let user = match id.scheme.as_str() {
        "digest" => id.id.split(':').next().unwrap_or_default(),
        _ => id.id.as_str(),
    };
    ClientInfo {
        auth_scheme: id.scheme.clone(),
        user: user.to_string(),
    }
}

/// Puts a connection's ids in the iteration order of ZooKeeper's
/// `ServerCnxn.authInfo`, a `ConcurrentHashMap` key set, which is the order
/// `whoAmI` lists them and `auth:` ACL entries expand in: by bin
/// (`spread(Id.hashCode()) & (capacity - 1)`), then insertion order. `ids`
/// is in insertion order. Not reproduced: the reshuffling of a bin when the
/// map resizes, which takes more than 12 ids on one connection.
pub fn zookeeper_order(ids: &mut [Id]) {
    let mut capacity = 16;
    while ids.len() > capacity / 4 * 3 {
        capacity *= 2;
    }
    let mask = capacity as u32 - 1;
    let mut keyed: Vec<(u32, usize, Id)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (chm_spread(jute_id_hash(id)) & mask, i, id.clone()))
        .collect();
    keyed.sort_by_key(|(bin, i, _)| (*bin, *i));
    for (slot, (_, _, id)) in ids.iter_mut().zip(keyed) {
        *slot = id;
    }
}

/// The jute-generated `Id.hashCode()`.
fn jute_id_hash(id: &Id) -> i32 {
    let h = 17i32.wrapping_mul(37).wrapping_add(java_hash(&id.scheme));
    h.wrapping_mul(37).wrapping_add(java_hash(&id.id))
}

/// `ConcurrentHashMap.spread`.
fn chm_spread(h: i32) -> u32 {
    let h = h as u32;
    (h ^ (h >> 16)) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn digest_matches_zookeepers_generator() {
        // `DigestAuthenticationProvider.generateDigest("super:test")` in
        // ZooKeeper's docs gives this value.
        assert_eq!(
            digest_id("super", "test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn ids_in_zookeepers_auth_info_order() {
        // Bins (of 16) computed from Java's hashes: ip:127.0.0.1 12,
        // digest u1 7, u2 5, alice 0. ZooKeeper 3.8 answers whoAmI after
        // `addauth digest u1:p1` with digest first (the differential test).
        let ip = Id::new("ip", "127.0.0.1");
        let u1 = Id::new("digest", &digest_id("u1", "p1"));
        let u2 = Id::new("digest", &digest_id("u2", "p2"));
        let alice = Id::new("digest", &digest_id("alice", "secret"));
        let mut ids = vec![ip.clone(), u1.clone(), u2.clone(), alice.clone()];
        zookeeper_order(&mut ids);
        assert_eq!(ids, vec![alice, u2, u1, ip]);
    }

    #[test]
    fn auth_packets() {
        let ok = AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"alice:secret"),
        };
        let id = authenticate(&ok).unwrap();
        assert!(id.id.starts_with("alice:"));
        assert_eq!(client_info(&id).user, "alice");
        let no_colon = AuthPacket {
            auth: Bytes::from_static(b"alice"),
            ..ok.clone()
        };
        assert_eq!(authenticate(&no_colon), Err(ErrorCode::AuthFailed));
        let unknown = AuthPacket {
            scheme: "kerberos".into(),
            ..ok
        };
        assert_eq!(authenticate(&unknown), Err(ErrorCode::AuthFailed));
    }
}
