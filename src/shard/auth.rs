//! Client identities: what a connection has proved about itself.
//!
//! Every connection starts as `ip:<its address>`; `addauth digest user:pw`
//! adds `digest:user:base64(sha1("user:pw"))`, the id ZooKeeper's
//! DigestAuthenticationProvider produces, so ACLs written by ZooKeeper
//! clients (and kazoo's `make_digest_acl`) match.

use crate::proto::requests::AuthPacket;
use crate::proto::types::{ClientInfo, ErrorCode, Id};
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
