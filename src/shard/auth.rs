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

/// The `ip` id of a client at `addr`, as ZooKeeper's IPAuthenticationProvider
/// gets it from Java's `InetAddress.getHostAddress()`: an IPv4 client that
/// reached a dual-stack (`::`) listener is plain IPv4 (Java never shows
/// v4-mapped addresses), so `ip:` ACLs match it; IPv6 is eight hex groups,
/// uncompressed (`0:0:0:0:0:0:0:1`). A scope id is not shown.
pub fn ip_id(addr: std::net::IpAddr) -> String {
    match addr.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => {
            let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
            groups.join(":")
        }
    }
}

/// `user:base64(sha1("user:password"))`.
pub fn digest_id(user: &str, password: &str) -> String {
    digest_of(&format!("{user}:{password}"))
}

/// `DigestAuthenticationProvider.generateDigest` of `user:password` text.
fn digest_of(text: &str) -> String {
    let user = text.split(':').next().unwrap_or_default();
    let hash = Sha1::digest(text.as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{user}:{encoded}")
}

/// The id ZooKeeper's checkACL treats as the super user.
pub fn super_id() -> Id {
    Id::new("super", "")
}

/// The identities an auth packet proves for a client at `peer_ip`, in the
/// order ZooKeeper adds them, or AuthFailed, as ZooKeeper 3.8's built-in
/// providers answer:
/// - `digest` accepts any bytes: they are read as text (malformed UTF-8
///   replaced) and the id is `<text before the first ':'>:base64(sha1(text))`,
///   so `addauth digest alice` (no password) succeeds too; `super` comes
///   first when that id is `super_digest`;
/// - `ip` ignores the bytes and proves the client's own address;
/// - any other scheme has no provider: AuthFailed.
pub fn authenticate(
    packet: &AuthPacket,
    peer_ip: &str,
    super_digest: Option<&str>,
) -> Result<Vec<Id>, ErrorCode> {
    match packet.scheme.as_str() {
        "digest" => {
            let digest = digest_of(&String::from_utf8_lossy(&packet.auth));
            let mut ids = Vec::with_capacity(2);
            if super_digest == Some(digest.as_str()) {
                tracing::info!("authenticated as the super user");
                ids.push(super_id());
            }
            ids.push(Id::new("digest", &digest));
            Ok(ids)
        }
        "ip" => Ok(vec![Id::new("ip", peer_ip)]),
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
    fn ip_ids_as_java_shows_addresses() {
        let ip = |s: &str| ip_id(s.parse().unwrap());
        assert_eq!(ip("127.0.0.1"), "127.0.0.1");
        assert_eq!(ip("::ffff:10.1.2.3"), "10.1.2.3");
        assert_eq!(ip("::1"), "0:0:0:0:0:0:0:1");
        assert_eq!(ip("fe80::a:bc0d"), "fe80:0:0:0:0:0:a:bc0d");
    }

    #[test]
    fn auth_packets() {
        let ok = AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"alice:secret"),
        };
        let ids = authenticate(&ok, "127.0.0.1", None).unwrap();
        assert_eq!(ids, vec![Id::new("digest", &digest_id("alice", "secret"))]);
        assert_eq!(client_info(&ids[0]).user, "alice");
        for scheme in ["kerberos", "world", "super", "auth", ""] {
            let packet = AuthPacket {
                scheme: scheme.into(),
                ..ok.clone()
            };
            assert_eq!(
                authenticate(&packet, "127.0.0.1", None),
                Err(ErrorCode::AuthFailed),
                "{scheme}"
            );
        }
        let ip = AuthPacket {
            scheme: "ip".into(),
            auth: Bytes::from_static(b"10.9.9.9"),
            ..ok
        };
        assert_eq!(
            authenticate(&ip, "127.0.0.1", None),
            Ok(vec![Id::new("ip", "127.0.0.1")]),
            "addauth ip proves the peer's own address, whatever it says"
        );
    }

    /// ZooKeeper 3.8 accepts any digest credentials (found by tests/security.rs
    /// against ZooKeeper 3.8.0): the user is the text before the first ':'
    /// (all of it when there is none) and the hash covers the whole text.
    #[test]
    fn digest_accepts_any_bytes_as_zookeeper_does() {
        let digest = |auth: &'static [u8]| {
            let packet = AuthPacket {
                auth_type: 0,
                scheme: "digest".into(),
                auth: Bytes::from_static(auth),
            };
            authenticate(&packet, "127.0.0.1", None).unwrap()[0]
                .id
                .clone()
        };
        let sha =
            |text: &[u8]| base64::engine::general_purpose::STANDARD.encode(Sha1::digest(text));
        assert_eq!(digest(b"alice"), format!("alice:{}", sha(b"alice")));
        assert_eq!(digest(b""), format!(":{}", sha(b"")));
        assert_eq!(digest(b":pw"), format!(":{}", sha(b":pw")));
        assert_eq!(digest(b"a:b:c"), format!("a:{}", sha(b"a:b:c")));
        // Malformed UTF-8 is read as U+FFFD, then hashed as UTF-8.
        assert_eq!(
            digest(b"u\xff:p"),
            format!("u\u{fffd}:{}", sha("u\u{fffd}:p".as_bytes()))
        );
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
        let ids = authenticate(&packet(b"super:test"), "127.0.0.1", configured).unwrap();
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
        let wrong = authenticate(&packet(b"super:nottest"), "127.0.0.1", configured).unwrap();
        assert_eq!(wrong.len(), 1, "a wrong password is only a digest id");
        assert_eq!(
            authenticate(&packet(b"super:test"), "127.0.0.1", None)
                .unwrap()
                .len(),
            1
        );
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
