//! SASL authentication (opcode 102) as ZooKeeper 3.8 serves it: DIGEST-MD5
//! against the users of a JAAS file, identities `sasl:<user>`, and the
//! `sasl` ACL scheme.
//!
//! [`SaslService`] is built once at start-up from the [`Config`] and shared
//! read-only by every shard; each connection runs its own
//! [`digest_md5::DigestMd5Server`]. GSSAPI (Kerberos) is not served: its
//! first token fails the exchange like any token DIGEST-MD5 cannot accept.

pub mod digest_md5;
pub mod directives;
pub mod jaas;

use crate::config::Config;
use base64::Engine;
use digest_md5::{DigestMd5Server, ZK_REALM};
use jaas::{JaasConfig, JaasError, DIGEST_LOGIN_MODULE};
use rand::RngCore;
use std::collections::BTreeMap;

/// Random bytes in a nonce (32 base64 characters).
const NONCE_BYTES: usize = 24;

/// The DIGEST-MD5 users and the SASL super users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaslService {
    users: BTreeMap<String, String>,
    super_users: Vec<String>,
}

impl SaslService {
    /// Reads the JAAS file the config names. `Ok(None)` when SASL is off:
    /// no file configured, or (as ZooKeeper, which then starts without a
    /// SASL login) the file has no server section (logged).
    pub fn from_config(config: &Config) -> Result<Option<SaslService>, JaasError> {
        let Some(path) = &config.sasl.jaas_login_config else {
            return Ok(None);
        };
        let jaas = JaasConfig::load(path)?;
        let section = &config.sasl.server_section;
        let Some(users) = jaas.digest_users(section) else {
            tracing::warn!(
                jaas = %path.display(),
                "no JAAS section named {section:?}; SASL authentication is off"
            );
            return Ok(None);
        };
        for module in &jaas.sections[section] {
            if module.class != DIGEST_LOGIN_MODULE {
                tracing::warn!(
                    jaas = %path.display(),
                    "login module {} in section {section:?} is not supported (Warden serves DIGEST-MD5 only, no GSSAPI/Kerberos); only its user_ options are used",
                    module.class
                );
            }
        }
        tracing::info!(jaas = %path.display(), users = users.len(), "SASL DIGEST-MD5 enabled");
        Ok(Some(SaslService::new(
            users,
            config.sasl.super_users.clone(),
        )))
    }

    pub fn new(users: BTreeMap<String, String>, super_users: Vec<String>) -> SaslService {
        SaslService { users, super_users }
    }

    /// A user's password.
    pub fn password(&self, user: &str) -> Option<String> {
        self.users.get(user).cloned()
    }

    /// `ZooKeeperServer.isSaslSuperUser`.
    pub fn is_super_user(&self, id: &str) -> bool {
        !id.is_empty() && self.super_users.iter().any(|s| s == id)
    }

    /// A new exchange with a fresh random nonce.
    pub fn start(&self) -> DigestMd5Server {
        let mut bytes = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let nonce = base64::engine::general_purpose::STANDARD.encode(bytes);
        DigestMd5Server::new(ZK_REALM, &nonce)
    }
}

/// `SASLAuthenticationProvider.isValid`: a Kerberos principal
/// (`name[/host]@realm`) or a plain name without `@`.
pub fn acl_id_valid(id: &str) -> bool {
    match id.split_once('@') {
        None => true,
        Some((principal, realm)) => {
            !realm.contains(['@', '/']) && principal.split('/').count() <= 2
        }
    }
}

/// `SASLAuthenticationProvider.matches`: the same id, or a client
/// authenticated as the user named `super`.
pub fn acl_id_matches(client: &str, acl: &str) -> bool {
    client == "super" || client == acl
}

#[cfg(test)]
mod tests {
    use super::*;
    use digest_md5::Step;

    #[test]
    fn acl_ids() {
        for valid in [
            "alice",
            "",
            "zk/host@EXAMPLE.COM",
            "client@KAZOOTEST.ORG",
            "a/b",
        ] {
            assert!(acl_id_valid(valid), "{valid}");
        }
        for invalid in ["a@b@c", "a/b/c@R", "a@R/x"] {
            assert!(!acl_id_valid(invalid), "{invalid}");
        }
        assert!(acl_id_matches("alice", "alice"));
        assert!(acl_id_matches("super", "alice"));
        assert!(!acl_id_matches("alice", "bob"));
        assert!(!acl_id_matches("alice", "Alice"));
    }

    #[test]
    fn service_from_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jaas.conf");
        std::fs::write(
            &path,
            "Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_alice=\"secret\"; };",
        )
        .unwrap();
        let mut config = Config::load(None).unwrap().config;
        assert_eq!(SaslService::from_config(&config).unwrap(), None);
        config.sasl.jaas_login_config = Some(path.clone());
        config.sasl.super_users = vec!["alice".into()];
        let service = SaslService::from_config(&config).unwrap().unwrap();
        assert_eq!(service.password("alice").as_deref(), Some("secret"));
        assert_eq!(service.password("bob"), None);
        assert!(service.is_super_user("alice"));
        assert!(!service.is_super_user("bob"));
        config.sasl.server_section = "Other".into();
        assert_eq!(SaslService::from_config(&config).unwrap(), None);
        std::fs::write(&path, "Server {").unwrap();
        let error = SaslService::from_config(&config).unwrap_err().to_string();
        assert!(error.contains("jaas.conf:1"), "{error}");
    }

    #[test]
    fn nonces_are_fresh() {
        let service = SaslService::default();
        let challenge = |mut s: DigestMd5Server| match s.step(b"", |_| None) {
            Ok(Step::Challenge(c)) => c,
            other => panic!("{other:?}"),
        };
        assert_ne!(challenge(service.start()), challenge(service.start()));
    }
}
