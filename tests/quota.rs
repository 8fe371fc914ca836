//! Quotas, the super user and skipACL on the real binary: the server keeps
//! `zookeeper_stats` current, refuses writes over a hard limit with
//! ZQUOTAEXCEEDED when `enforceQuota=true`, and after a SIGKILL and restart
//! (snapshot + log replay) the stats and the enforcement are the same.

mod support;

use bytes::Bytes;
use std::time::Duration;
use support::{create, get, set, Client, Server};
use warden::proto::requests::{AuthPacket, Request};
use warden::proto::responses::Response;
use warden::proto::types::{Acl, ErrorCode, Id, NodeData, OpCode};

const QUOTA_EXCEEDED: i32 = ErrorCode::QuotaExceeded as i32;
const NO_AUTH: i32 = ErrorCode::NoAuth as i32;

fn ok(client: &mut Client, request: &Request) -> Response {
    let (h, r) = client.call(request);
    assert_eq!(h.err, 0, "{request:?}");
    r
}

fn code(client: &mut Client, request: &Request) -> i32 {
    client.call(request).0.err
}

fn data(client: &mut Client, path: &str) -> String {
    match ok(client, &get(path, false)) {
        Response::GetData(d, _) => String::from_utf8_lossy(d.as_slice()).into_owned(),
        other => panic!("{other:?}"),
    }
}

/// What zkCli's `setquota -N <count> -B <bytes>` creates for `path`.
fn setquota(client: &mut Client, path: &str, count: i64, bytes: i64) {
    let quota = format!("/zookeeper/quota{path}");
    ok(client, &create(&quota, b"", 0));
    let limits = format!("count=-1,bytes=-1=;byteHardLimit={bytes};countHardLimit={count}");
    ok(
        client,
        &create(&format!("{quota}/zookeeper_limits"), limits.as_bytes(), 0),
    );
    ok(
        client,
        &create(&format!("{quota}/zookeeper_stats"), b"count=0,bytes=0", 0),
    );
}

const STATS: &str = "/zookeeper/quota/q/zookeeper_stats";

#[test]
fn enforced_quota_survives_a_crash_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = "enforceQuota=true\nsnapCount=10\npreAllocSize=256\n";
    let server = Server::start_in(dir.path(), 2, cfg);
    let mut c = Client::connect(server.port);
    ok(&mut c, &create("/q", b"root", 0));
    setquota(&mut c, "/q", 30, 100);
    assert_eq!(data(&mut c, STATS), "count=1,bytes=4");
    for i in 0..28 {
        ok(&mut c, &create(&format!("/q/n{i}"), b"xy", 0));
    }
    // 29 nodes now; the 30th fits, the 31st does not.
    ok(&mut c, &create("/q/last", b"", 0));
    assert_eq!(code(&mut c, &create("/q/over", b"", 0)), QUOTA_EXCEEDED);
    assert_eq!(data(&mut c, STATS), "count=30,bytes=60");
    // bytes: 60 of 100; growing one node by 40 fits, by 41 does not.
    assert_eq!(
        code(&mut c, &set("/q/n0", &[b'z'; 43])),
        QUOTA_EXCEEDED,
        "2 -> 43 bytes is 101"
    );
    ok(&mut c, &set("/q/n0", &[b'z'; 42]));
    assert_eq!(data(&mut c, STATS), "count=30,bytes=100");
    // Outside the quota root nothing is limited.
    ok(&mut c, &create("/free", &[0; 500], 0));
    drop(c);
    // Snapshots are written in the background: wait for one before the
    // kill, so that the restart loads a snapshot, not only the log.
    let snapshots = support::disk::wait_for_snapshot(dir.path(), Duration::from_secs(30));
    server.kill();
    assert!(
        snapshots > 0,
        "no snapshot after 30 s: the restart must load a snapshot, not only replay the log"
    );

    let server = Server::start_in(dir.path(), 1, cfg);
    let mut c = Client::connect(server.port);
    assert_eq!(data(&mut c, STATS), "count=30,bytes=100");
    assert_eq!(code(&mut c, &create("/q/again", b"", 0)), QUOTA_EXCEEDED);
    assert_eq!(code(&mut c, &set("/q/n1", b"xyz")), QUOTA_EXCEEDED);
    ok(
        &mut c,
        &Request::Delete(warden::proto::requests::DeleteRequest {
            path: "/q/n1".into(),
            version: -1,
        }),
    );
    assert_eq!(data(&mut c, STATS), "count=29,bytes=98");
    ok(&mut c, &create("/q/again", b"", 0));
    assert!(
        server
            .log()
            .contains("Quota exceeded: /q [current count=31, hardCountLimit=30]"),
        "the refusal is logged as ZooKeeper logs it:\n{}",
        server.log()
    );
}

#[test]
fn soft_limits_and_quota_off_only_count() {
    let server = Server::start(1, "");
    let mut c = Client::connect(server.port);
    ok(&mut c, &create("/q", b"", 0));
    setquota(&mut c, "/q", 1, 1);
    ok(&mut c, &create("/q/a", b"abc", 0));
    ok(&mut c, &create("/q/b", b"abc", 0));
    assert_eq!(data(&mut c, STATS), "count=3,bytes=6");
}

fn addauth(client: &mut Client, who: &str) {
    let packet = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::copy_from_slice(who.as_bytes()),
    });
    ok(client, &packet);
}

/// A node only alice may touch.
fn locked(path: &str) -> Request {
    Request::Create(
        OpCode::Create,
        warden::proto::requests::CreateRequest {
            path: path.into(),
            data: NodeData::from_static(b"secret"),
            acl: vec![Acl {
                perms: 31,
                id: Id::new("digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="),
            }],
            flags: 0,
            ttl: None,
        },
    )
}

#[test]
fn super_digest_passes_every_acl() {
    let server = Server::start(
        2,
        "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
    );
    let mut c = Client::connect(server.port);
    ok(&mut c, &locked("/locked"));
    assert_eq!(code(&mut c, &get("/locked", false)), NO_AUTH);
    addauth(&mut c, "super:wrong");
    assert_eq!(code(&mut c, &get("/locked", false)), NO_AUTH);
    addauth(&mut c, "super:test");
    assert_eq!(data(&mut c, "/locked"), "secret");
    ok(&mut c, &set("/locked", b"mine"));
    ok(&mut c, &create("/locked/child", b"", 0));
    match ok(&mut c, &Request::WhoAmI) {
        Response::WhoAmI(ids) => {
            assert!(ids
                .iter()
                .any(|i| i.auth_scheme == "super" && i.user.is_empty()));
            assert!(ids
                .iter()
                .any(|i| i.auth_scheme == "digest" && i.user == "super"));
        }
        other => panic!("{other:?}"),
    }
    // Another connection is not super.
    let mut other = Client::connect(server.port);
    assert_eq!(code(&mut other, &get("/locked", false)), NO_AUTH);
}

#[test]
fn skip_acl_turns_checks_off() {
    let server = Server::start(1, "skipACL=yes");
    let mut c = Client::connect(server.port);
    ok(&mut c, &locked("/locked"));
    assert_eq!(data(&mut c, "/locked"), "secret");
    ok(&mut c, &set("/locked", b"changed"));
    ok(&mut c, &create("/locked/child", b"", 0));
    match ok(&mut c, &Request::WhoAmI) {
        Response::WhoAmI(ids) => assert!(
            ids.iter().all(|i| i.auth_scheme != "super"),
            "skipACL is not an identity: {ids:?}"
        ),
        other => panic!("{other:?}"),
    }
}
