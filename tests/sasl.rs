//! SASL DIGEST-MD5 end to end against the `warden` binary, over the wire:
//! the exchange (with a client-side digest computed here from RFC 2831, not
//! by the server's code), the identity it grants, ACL checks with it, the
//! failure path (AuthFailed, then the connection closes), a GSSAPI-style
//! first token, SASL with no JAAS file, and start-up errors in the JAAS file.

mod support;

use md5::{Digest, Md5};
use std::process::Command;
use support::{get, Client, Server};
use warden::proto::requests::{CreateRequest, Request};
use warden::proto::responses::Response;
use warden::proto::types::{perms, Acl, ClientInfo, ErrorCode, Id, NodeData, OpCode};

const JAAS: &str = r#"
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_alice="alice-secret"
    user_admin="admin-secret";
};
"#;

/// A server with the users above, the sasl ACL provider and `admin` as
/// SASL super user; the JAAS path comes from zoo.cfg here.
fn sasl_server(shards: usize) -> (Server, tempfile::TempDir) {
    sasl_server_with(shards, "")
}

fn sasl_server_with(shards: usize, more: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(&jaas, JAAS).unwrap();
    let extra = format!(
        "java.security.auth.login.config={}\n\
         authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         superUser=admin\n{more}",
        jaas.display()
    );
    (Server::start(shards, &extra), dir)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The quoted or plain value of `key` in a directive list.
fn directive(list: &str, key: &str) -> String {
    let start = list.find(&format!("{key}=")).expect(key) + key.len() + 1;
    let rest = &list[start..];
    match rest.strip_prefix('"') {
        Some(quoted) => quoted[..quoted.find('"').unwrap()].to_string(),
        None => rest.split(',').next().unwrap().to_string(),
    }
}

/// RFC 2831 §2.1.2.1 response value, qop=auth, md5-sess.
fn digest(user: &str, password: &str, nonce: &str, cnonce: &str, a2: &str) -> String {
    let mut a1 = Md5::digest(format!("{user}:zk-sasl-md5:{password}")).to_vec();
    a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
    let kd = format!(
        "{}:{nonce}:00000001:{cnonce}:auth:{}",
        hex(&Md5::digest(&a1)),
        hex(&Md5::digest(a2))
    );
    hex(&Md5::digest(kd))
}

fn sasl(client: &mut Client, token: &[u8]) -> (i32, i64, Option<Vec<u8>>) {
    let (header, response) = client.call(&Request::Sasl(token.to_vec().into()));
    let body = match response {
        Response::Sasl(bytes) => Some(bytes.to_vec()),
        _ => None,
    };
    (header.err, header.zxid, body)
}

/// Runs the exchange as `user`; returns the error code of the last reply.
fn authenticate(client: &mut Client, user: &str, password: &str) -> i32 {
    let (err, zxid, challenge) = sasl(client, b"");
    assert_eq!((err, zxid), (0, 0), "challenge reply");
    let challenge = String::from_utf8(challenge.unwrap()).unwrap();
    assert_eq!(directive(&challenge, "realm"), "zk-sasl-md5");
    assert_eq!(directive(&challenge, "qop"), "auth");
    assert_eq!(directive(&challenge, "algorithm"), "md5-sess");
    assert_eq!(directive(&challenge, "charset"), "utf-8");
    let nonce = directive(&challenge, "nonce");
    let cnonce = "d2FyZGVuLXRlc3Q";
    let uri = "zookeeper/zk-sasl-md5";
    let response = digest(
        user,
        password,
        &nonce,
        cnonce,
        &format!("AUTHENTICATE:{uri}"),
    );
    let token = format!(
        "username=\"{user}\",realm=\"zk-sasl-md5\",nonce=\"{nonce}\",cnonce=\"{cnonce}\",\
         nc=00000001,qop=auth,digest-uri=\"{uri}\",response={response}"
    );
    let (err, zxid, rspauth) = sasl(client, token.as_bytes());
    if err == 0 {
        assert_eq!(zxid, 0);
        let expected = digest(user, password, &nonce, cnonce, &format!(":{uri}"));
        assert_eq!(
            String::from_utf8(rspauth.unwrap()).unwrap(),
            format!("rspauth={expected}")
        );
    }
    err
}

fn create_with_acl(path: &str, acl: Vec<Acl>) -> Request {
    Request::Create(
        OpCode::Create2,
        CreateRequest {
            path: path.to_string(),
            data: NodeData::copy_from_slice(b"secret data"),
            acl,
            flags: 0,
            ttl: None,
        },
    )
}

fn sasl_acl(user: &str) -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id::new("sasl", user),
    }]
}

#[test]
fn digest_md5_grants_the_sasl_identity_across_shards() {
    let (server, _dir) = sasl_server(2);
    let mut alice = Client::connect(server.port);
    assert_eq!(authenticate(&mut alice, "alice", "alice-secret"), 0);
    let (_, who) = alice.call(&Request::WhoAmI);
    let Response::WhoAmI(ids) = who else {
        panic!("{who:?}")
    };
    assert!(ids.contains(&ClientInfo {
        auth_scheme: "sasl".into(),
        user: "alice".into()
    }));
    let (header, _) = alice.call(&create_with_acl("/owned", sasl_acl("alice")));
    assert_eq!(header.err, 0);
    let (header, response) = alice.call(&get("/owned", false));
    assert_eq!(header.err, 0);
    assert!(
        matches!(response, Response::GetData(data, _) if data == NodeData::copy_from_slice(b"secret data"))
    );
    // Other connections (any shard) are refused until they prove alice.
    for _ in 0..4 {
        let mut anonymous = Client::connect(server.port);
        let (header, _) = anonymous.call(&get("/owned", false));
        assert_eq!(header.err, ErrorCode::NoAuth.code());
    }
    // The SASL super user passes every ACL.
    let mut admin = Client::connect(server.port);
    assert_eq!(authenticate(&mut admin, "admin", "admin-secret"), 0);
    let (header, _) = admin.call(&get("/owned", false));
    assert_eq!(header.err, 0);
    // ACL ids must be Kerberos-style names.
    let (header, _) = alice.call(&create_with_acl("/bad", sasl_acl("a@b@c")));
    assert_eq!(header.err, ErrorCode::InvalidAcl.code());
}

#[test]
fn a_wrong_password_answers_auth_failed_and_closes() {
    let (server, _dir) = sasl_server(1);
    let mut client = Client::connect(server.port);
    assert_eq!(
        authenticate(&mut client, "alice", "wrong"),
        ErrorCode::AuthFailed.code()
    );
    assert!(client.is_closed());
    let mut unknown = Client::connect(server.port);
    assert_eq!(
        authenticate(&mut unknown, "mallory", "x"),
        ErrorCode::AuthFailed.code()
    );
    assert!(unknown.is_closed());
    assert!(server.log().contains("no password for user \"mallory\""));
}

#[test]
fn required_sasl_closes_other_connections_with_124() {
    let (server, _dir) = sasl_server_with(1, "sessionRequireClientSASLAuth=true\n");
    let required = ErrorCode::SessionClosedRequireSaslAuth.code();
    let mut anonymous = Client::connect(server.port);
    let (header, _) = anonymous.call(&Request::Ping);
    assert_eq!((header.err, header.zxid), (required, 0));
    assert!(anonymous.is_closed());
    let mut wrong = Client::connect(server.port);
    assert_eq!(authenticate(&mut wrong, "alice", "nope"), required);
    assert!(wrong.is_closed());
    let mut alice = Client::connect(server.port);
    assert_eq!(authenticate(&mut alice, "alice", "alice-secret"), 0);
    let (header, _) = alice.call(&get("/", false));
    assert_eq!(header.err, 0);
}

#[test]
fn a_gssapi_first_token_is_refused_with_a_log_line() {
    let (server, _dir) = sasl_server(1);
    let mut client = Client::connect(server.port);
    // What a Kerberos client sends first: a GSS-API token (ASN.1 tag 0x60).
    let (err, _, _) = sasl(&mut client, &[0x60, 0x82, 0x02, 0x10, 0x06, 0x09]);
    assert_eq!(err, ErrorCode::AuthFailed.code());
    assert!(client.is_closed());
    assert!(server.log().contains("GSSAPI"), "{}", server.log());
}

#[test]
fn without_a_jaas_file_sasl_answers_an_empty_token() {
    let server = Server::start(1, "");
    let mut client = Client::connect(server.port);
    let (err, _, token) = sasl(&mut client, b"");
    assert_eq!((err, token), (0, Some(Vec::new())));
    let (header, _) = client.call(&get("/", false));
    assert_eq!(header.err, 0, "the connection stays usable");
}

#[test]
fn jaas_errors_stop_start_up_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(
        &jaas,
        "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_alice=;\n};\n",
    )
    .unwrap();
    let config = dir.path().join("zoo.cfg");
    std::fs::write(
        &config,
        format!("dataDir={}\nclientPort=1\n", dir.path().display()),
    )
    .unwrap();
    // The path given the way ZooKeeper's start script takes it.
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["server", "--config"])
        .arg(&config)
        .env(
            "SERVER_JVMFLAGS",
            format!(
                "-Xmx1g -Djava.security.auth.login.config={}",
                jaas.display()
            ),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:3: expected an option value", jaas.display())),
        "{stderr}"
    );
}
