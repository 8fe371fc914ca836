//! Opcode 102 (SASL) on one connection, as `ZooKeeperServer.processSasl`
//! answers it: each token goes to the connection's DIGEST-MD5 exchange and
//! the reply carries the server's next token. On success the connection
//! gains `sasl:<user>` (and `super:` for a `superUser`); on failure the
//! client gets AuthFailed and the connection closes (the session stays
//! until it expires, as ZooKeeper's `sendCloseSession` on a connection
//! does). The client raises its own SaslAuthenticated/AuthFailed state
//! events from these replies; ZooKeeper sends no watcher event for SASL.

use crate::proto::responses::Response;
use crate::proto::types::{ErrorCode, Id};
use crate::sasl::digest_md5::{DigestMd5Server, SaslError, Step};
use crate::sasl::SaslService;
use bytes::Bytes;

/// What a failed exchange does (`zookeeper.allowSaslFailedClients`,
/// `AuthenticationHelper.isSaslAuthRequired`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailurePolicy {
    pub allow_failed_clients: bool,
    pub sasl_required: bool,
}

impl FailurePolicy {
    pub fn from_config(config: &crate::config::SaslConfig) -> FailurePolicy {
        FailurePolicy {
            allow_failed_clients: config.allow_sasl_failed_clients,
            sasl_required: config.sasl_required(),
        }
    }
}

/// What the connection does with one SASL token.
#[derive(Debug, PartialEq, Eq)]
pub struct SaslAnswer {
    /// The reply (sent with zxid 0, like ZooKeeper's).
    pub reply: Result<Response, ErrorCode>,
    /// Identities the connection gains.
    pub identities: Vec<Id>,
    /// Close the connection after the reply.
    pub close: bool,
}

impl SaslAnswer {
    /// OK with `token`; the connection stays open.
    fn token(token: Vec<u8>) -> SaslAnswer {
        SaslAnswer {
            reply: Ok(Response::Sasl(Bytes::from(token))),
            identities: Vec::new(),
            close: false,
        }
    }
}

/// Runs one step of `exchange` (started on the first token).
pub fn answer(
    service: Option<&SaslService>,
    exchange: &mut Option<DigestMd5Server>,
    token: &[u8],
    conn: u64,
    policy: FailurePolicy,
) -> SaslAnswer {
    let Some(service) = service else {
        // ZooKeeper without a JAAS login has no SASL server for the
        // connection and answers OK with no token; Warden sends an empty one
        // (README, deliberate differences).
        tracing::warn!(
            conn,
            "SASL request but no JAAS login config is set; answering with an empty token"
        );
        return SaslAnswer::token(Vec::new());
    };
    let server = exchange.get_or_insert_with(|| service.start());
    match server.step(token, |user| service.password(user)) {
        Ok(Step::Challenge(challenge)) => SaslAnswer::token(challenge),
        Ok(Step::Complete {
            token,
            authorization_id,
        }) => {
            tracing::info!(
                conn,
                "adding SASL authorization for authorizationID: {authorization_id}"
            );
            let mut identities = vec![Id::new("sasl", &authorization_id)];
            if service.is_super_user(&authorization_id) {
                tracing::info!(conn, "authenticated id {authorization_id:?} as super user");
                identities.push(Id::new("super", ""));
            }
            SaslAnswer {
                identities,
                ..SaslAnswer::token(token)
            }
        }
        Err(error) => failed(conn, &error, policy),
    }
}

/// `processSasl`'s failure branch: keep the connection (answering OK with
/// no token) only if failed clients are allowed and SASL is not enforced;
/// else AuthFailed, or SessionClosedRequireSaslAuth when it is enforced.
fn failed(conn: u64, error: &SaslError, policy: FailurePolicy) -> SaslAnswer {
    if policy.allow_failed_clients && !policy.sasl_required {
        tracing::warn!(
            conn,
            "SASL authentication failed, connection kept (allowSaslFailedClients): {error}"
        );
        return SaslAnswer::token(Vec::new());
    }
    tracing::warn!(
        conn,
        "SASL authentication failed, closing the connection: {error}"
    );
    let code = if policy.sasl_required {
        ErrorCode::SessionClosedRequireSaslAuth
    } else {
        ErrorCode::AuthFailed
    };
    SaslAnswer {
        reply: Err(code),
        identities: Vec::new(),
        close: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn service() -> SaslService {
        let users = BTreeMap::from([("alice".to_string(), "secret".to_string())]);
        SaslService::new(users, vec!["alice".into()])
    }

    #[test]
    fn no_service_answers_an_empty_token() {
        let mut exchange = None;
        let a = answer(None, &mut exchange, b"", 1, FailurePolicy::default());
        assert_eq!(a.reply, Ok(Response::Sasl(Bytes::new())));
        assert!(!a.close && exchange.is_none());
    }

    #[test]
    fn challenge_then_failure_closes() {
        let service = service();
        let mut exchange = None;
        let first = answer(
            Some(&service),
            &mut exchange,
            b"",
            1,
            FailurePolicy::default(),
        );
        let Ok(Response::Sasl(challenge)) = &first.reply else {
            panic!("{first:?}")
        };
        assert!(challenge.starts_with(b"realm=\"zk-sasl-md5\",nonce=\""));
        let bad = answer(
            Some(&service),
            &mut exchange,
            b"username=\"alice\"",
            1,
            FailurePolicy::default(),
        );
        assert_eq!(bad.reply, Err(ErrorCode::AuthFailed));
        assert!(bad.close && bad.identities.is_empty());
    }

    #[test]
    fn success_adds_sasl_and_super_ids() {
        // The exchange of digest_md5's tests (values from Python's hashlib).
        let service = service();
        let mut exchange = Some(DigestMd5Server::new(
            crate::sasl::digest_md5::ZK_REALM,
            "bm9uY2Ux+/=",
        ));
        answer(
            Some(&service),
            &mut exchange,
            b"",
            1,
            FailurePolicy::default(),
        );
        let response = b"username=\"alice\",realm=\"zk-sasl-md5\",nonce=\"bm9uY2Ux+/=\",\
            cnonce=\"Y25vbmNl\",nc=00000001,qop=auth,digest-uri=\"zookeeper/zk-sasl-md5\",\
            response=b3a0b63cf9645d4ef99970fdede75ab8";
        let done = answer(
            Some(&service),
            &mut exchange,
            response,
            1,
            FailurePolicy::default(),
        );
        assert_eq!(
            done.reply,
            Ok(Response::Sasl(Bytes::from_static(
                b"rspauth=a54067be09099d740b55514b5eb130bb"
            )))
        );
        assert_eq!(
            done.identities,
            vec![Id::new("sasl", "alice"), Id::new("super", "")]
        );
        assert!(!done.close);
    }

    #[test]
    fn gssapi_first_token_fails() {
        let service = service();
        let mut exchange = None;
        let a = answer(
            Some(&service),
            &mut exchange,
            &[0x60, 0x82],
            1,
            FailurePolicy::default(),
        );
        assert_eq!(a.reply, Err(ErrorCode::AuthFailed));
        assert!(a.close);
    }

    #[test]
    fn failure_policies() {
        let service = service();
        let fail = |policy| {
            let mut exchange = None;
            answer(Some(&service), &mut exchange, b"", 1, policy);
            answer(Some(&service), &mut exchange, b"x=1", 1, policy)
        };
        let allow = FailurePolicy {
            allow_failed_clients: true,
            sasl_required: false,
        };
        let kept = fail(allow);
        assert_eq!(kept.reply, Ok(Response::Sasl(Bytes::new())));
        assert!(!kept.close && kept.identities.is_empty());
        for allow_failed_clients in [false, true] {
            let required = fail(FailurePolicy {
                allow_failed_clients,
                sasl_required: true,
            });
            assert_eq!(required.reply, Err(ErrorCode::SessionClosedRequireSaslAuth));
            assert!(required.close);
        }
    }
}
