//! Expected digests were computed once with Python's hashlib, straight from
//! RFC 2831 §2.1.2.1 (independently of this code):
//!
//! ```text
//! a1 = md5(user:realm:pw).digest() + b":" + nonce + b":" + cnonce [+ b":" + authzid]
//! a2 = b"AUTHENTICATE:" + uri        (b":" + uri for rspauth)
//! md5(b":".join([md5(a1).hexdigest(), nonce, nc, cnonce, qop, md5(a2).hexdigest()])).hexdigest()
//! ```
//!
//! The same formula gives RFC 2831's own example values (chris/secret).

use super::*;
use proptest::prelude::*;

const NONCE: &str = "bm9uY2Ux+/=";

fn users(name: &str) -> Option<String> {
    match name {
        "alice" => Some("secret".into()),
        "jürgen" => Some("pässword".into()),
        _ => None,
    }
}

/// A server that has sent its challenge.
fn challenged() -> DigestMd5Server {
    let mut server = DigestMd5Server::new(ZK_REALM, NONCE);
    assert!(matches!(server.step(b"", users), Ok(Step::Challenge(_))));
    server
}

fn response_for(user: &str, digest: &str, extra: &str) -> Vec<u8> {
    format!(
        "username=\"{user}\",realm=\"zk-sasl-md5\",nonce=\"{NONCE}\",cnonce=\"Y25vbmNl\",\
         nc=00000001,qop=auth,digest-uri=\"zookeeper/zk-sasl-md5\",response={digest}{extra}"
    )
    .into_bytes()
}

#[test]
fn rfc_2831_example() {
    let inputs = DigestInputs {
        username: b"chris".to_vec(),
        realm: b"elwood.innosoft.com".to_vec(),
        password: b"secret".to_vec(),
        nonce: b"OA6MG9tEQGm2hh",
        cnonce: b"OA6MHXh6VqTrRk",
        authzid: None,
        nc: b"00000001",
        qop: b"auth",
        digest_uri: b"imap/elwood.innosoft.com",
    };
    assert_eq!(
        inputs.response(b"AUTHENTICATE:"),
        b"d388dad90d4bbd760a152321f2143af7"
    );
    assert_eq!(inputs.response(b":"), b"ea40f60335c427b5527b84dbabcdfffd");
}

#[test]
fn challenge_is_the_jdks() {
    let mut server = DigestMd5Server::new(ZK_REALM, NONCE);
    let Ok(Step::Challenge(c)) = server.step(b"", users) else {
        panic!("no challenge")
    };
    assert_eq!(
        String::from_utf8(c).unwrap(),
        format!(
            "realm=\"zk-sasl-md5\",nonce=\"{NONCE}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess"
        )
    );
}

#[test]
fn known_good_exchange() {
    let mut server = challenged();
    let step = server.step(
        &response_for("alice", "b3a0b63cf9645d4ef99970fdede75ab8", ""),
        users,
    );
    assert_eq!(
        step,
        Ok(Step::Complete {
            token: b"rspauth=a54067be09099d740b55514b5eb130bb".to_vec(),
            authorization_id: "alice".into(),
        })
    );
    // Nothing more once complete (the JDK: "authentication already complete").
    assert_eq!(server.step(b"", users), Err(SaslError::Finished));
}

#[test]
fn authzid_enters_the_digest_but_not_the_identity() {
    let mut server = challenged();
    let step = server.step(
        &response_for(
            "alice",
            "4dab213442c101df6add6dc0589a915a",
            ",authzid=\"bob\"",
        ),
        users,
    );
    assert_eq!(
        step,
        Ok(Step::Complete {
            token: b"rspauth=fdd678c08e72464ed3172981ea09eebf".to_vec(),
            authorization_id: "alice".into(),
        })
    );
}

#[test]
fn latin1_names_hash_as_latin1_under_charset_utf8() {
    let mut server = DigestMd5Server::new(ZK_REALM, "n");
    server.step(b"", users).unwrap();
    let token = "username=\"jürgen\",realm=\"zk-sasl-md5\",nonce=\"n\",cnonce=\"c\",nc=00000001,\
                 qop=auth,digest-uri=\"zookeeper/zk-sasl-md5\",charset=utf-8,\
                 response=2b1e76459c5deec754b6e76dc99921fd";
    let step = server.step(token.as_bytes(), users).unwrap();
    assert!(
        matches!(step, Step::Complete { authorization_id, .. } if authorization_id == "jürgen")
    );
}

#[test]
fn wrong_password_and_unknown_user_fail() {
    let good = "b3a0b63cf9645d4ef99970fdede75ab8";
    let mut server = challenged();
    let wrong = server.step(
        &response_for("alice", "00000000000000000000000000000000", ""),
        users,
    );
    assert_eq!(wrong, Err(SaslError::WrongDigest("alice".into())));
    // A failed exchange is over.
    assert_eq!(
        server.step(&response_for("alice", good, ""), users),
        Err(SaslError::Finished)
    );
    let mut server = challenged();
    assert_eq!(
        server.step(&response_for("mallory", good, ""), users),
        Err(SaslError::UnknownUser("mallory".into()))
    );
}

#[test]
fn fields_must_match_the_challenge() {
    let good = "b3a0b63cf9645d4ef99970fdede75ab8";
    let base = String::from_utf8(response_for("alice", good, "")).unwrap();
    let cases: Vec<(String, SaslError)> = vec![
        (
            base.replace(NONCE, "other"),
            SaslError::Mismatch {
                what: "nonce",
                got: "other".into(),
            },
        ),
        (
            base.replace("realm=\"zk-sasl-md5\"", "realm=\"x\""),
            SaslError::Mismatch {
                what: "realm",
                got: "x".into(),
            },
        ),
        (
            base.replace("qop=auth", "qop=auth-conf"),
            SaslError::Mismatch {
                what: "qop",
                got: "auth-conf".into(),
            },
        ),
        (
            base.replace("zookeeper/zk-sasl-md5", "imap/zk-sasl-md5"),
            SaslError::Mismatch {
                what: "digest-uri",
                got: "imap/zk-sasl-md5".into(),
            },
        ),
        (
            base.replace("nc=00000001", "nc=00000002"),
            SaslError::NonceCount,
        ),
        (
            base.replace("cnonce=\"Y25vbmNl\",", ""),
            SaslError::Missing("cnonce"),
        ),
        (
            format!("{base},nc=00000001"),
            SaslError::Duplicate("nc".into()),
        ),
        (
            format!("{base},charset=latin1"),
            SaslError::Charset("latin1".into()),
        ),
        (
            "username=\"alice\",".repeat(300),
            SaslError::TooLong(17 * 300),
        ),
    ];
    for (token, want) in cases {
        let mut server = challenged();
        assert_eq!(server.step(token.as_bytes(), users), Err(want), "{token}");
    }
}

#[test]
fn an_initial_response_is_refused() {
    // A GSSAPI client starts with its token (ASN.1 tag 0x60).
    let mut server = DigestMd5Server::new(ZK_REALM, NONCE);
    assert_eq!(
        server.step(&[0x60, 0x82, 0x01], users),
        Err(SaslError::InitialResponse(3))
    );
}

proptest! {
    #[test]
    fn arbitrary_client_tokens_never_panic(
        first in prop::collection::vec(any::<u8>(), 0..64),
        second in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut server = DigestMd5Server::new(ZK_REALM, NONCE);
        let _ = server.step(&first, users);
        let _ = server.step(&second, users);
        let _ = server.step(&second, users);
    }

    #[test]
    fn response_shaped_tokens_never_panic(
        user in "\\PC{0,8}",
        digest in "[0-9a-f]{0,40}",
        extra in "[a-z=\",\\\\ ]{0,24}",
    ) {
        let mut server = challenged();
        let _ = server.step(&response_for(&user, &digest, &extra), users);
    }
}
