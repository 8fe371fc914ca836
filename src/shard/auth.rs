//! Client identities: what a connection has proved about itself.
//!
//! Every connection starts as `ip:<its address>`; `addauth digest user:pw`
//! adds `digest:user:base64(sha1("user:pw"))`, the id ZooKeeper's
//! DigestAuthenticationProvider produces, so ACLs written by ZooKeeper
//! clients (and kazoo's `make_digest_acl`) match. When that id equals the
//! configured `superDigest`, the connection also gains `super:` (ZooKeeper's
//! `DigestAuthenticationProvider`), which passes every ACL check; `skipACL`
//! is the same pass for everyone, given only to ACL checks (see
//! [`acl_ids`]), never shown by `whoAmI`.

use crate::proto::requests::AuthPacket;
use crate::proto::types::{ClientInfo, ErrorCode, Id};
use crate::tree::path::java_hash;
use base64::Engine;
use sha1::{Digest, Sha1};
use std::sync::Arc;

/// `user:base64(sha1("user:password"))`.
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{user}:{encoded}")
}

/// The id ZooKeeper's checkACL treats as the super user.
pub fn super_id() -> Id {
    Id::new("super", "")
}

/// The identities an auth packet proves, in the order ZooKeeper adds them
/// (`super` first when the digest is `super_digest`), or AuthFailed.
pub fn authenticate(packet: &AuthPacket, super_digest: Option<&str>) -> Result<Vec<Id>, ErrorCode> {
    match packet.scheme.as_str() {
        "digest" => {
            let text = std::str::from_utf8(&packet.auth).map_err(|_| ErrorCode::AuthFailed)?;
            let (user, password) = text.split_once(':').ok_or(ErrorCode::AuthFailed)?;
            let digest = digest_id(user, password);
            let mut ids = Vec::with_capacity(2);
            if super_digest == Some(digest.as_str()) {
                tracing::info!(user, "authenticated as the super user");
                ids.push(super_id());
            }
            ids.push(Id::new("digest", &digest));
            Ok(ids)
        }
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// The ids ACL checks see: the proved ones, plus `super` under `skipACL`
/// (ZooKeeper's checkACL returns at once in both cases).
pub fn acl_ids(proved: &Arc<[Id]>, skip_acl: bool) -> Arc<[Id]> {
    if skip_acl {
        proved.iter().cloned().chain([super_id()]).collect()
    } else {
        proved.clone()
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
        let ids = authenticate(&ok, None).unwrap();
        assert_eq!(ids.len(), 1);
        let id = &ids[0];
        assert!(id.id.starts_with("alice:"));
        assert_eq!(client_info(id).user, "alice");
        let no_colon = AuthPacket {
            auth: Bytes::from_static(b"alice"),
            ..ok.clone()
        };
        assert_eq!(authenticate(&no_colon, None), Err(ErrorCode::AuthFailed));
        let unknown = AuthPacket {
            scheme: "kerberos".into(),
            ..ok
        };
        assert_eq!(authenticate(&unknown, None), Err(ErrorCode::AuthFailed));
    }

    #[test]
    fn super_digest_adds_the_super_id() {
        let packet = |auth: &'static [u8]| AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(auth),
        };
        // The value ZooKeeper's docs give for super:test.
        let configured = Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
        let ids = authenticate(&packet(b"super:test"), configured).unwrap();
        assert_eq!(
            ids,
            vec![
                super_id(),
                Id::new("digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
            ]
        );
        assert_eq!(
            client_info(&ids[0]).user,
            "",
            "whoAmI shows super with no user"
        );
        let wrong = authenticate(&packet(b"super:nottest"), configured).unwrap();
        assert_eq!(wrong.len(), 1, "a wrong password is only a digest id");
        assert_eq!(authenticate(&packet(b"super:test"), None).unwrap().len(), 1);
    }

    #[test]
    fn skip_acl_adds_super_for_checks_only() {
        let proved: Arc<[Id]> = Arc::from(vec![Id::new("ip", "127.0.0.1")]);
        assert_eq!(acl_ids(&proved, false), proved);
        let ids = acl_ids(&proved, true);
        assert!(ids.contains(&super_id()));
        assert_eq!(
            crate::tree::acl::check_acl(&[], crate::proto::types::perms::READ, &ids),
            Ok(())
        );
    }
}
