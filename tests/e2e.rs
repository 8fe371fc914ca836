//! End-to-end tests against a real `warden` process, each run with one and
//! with two shards: ordering guarantees, cross-shard watches, sessions, and
//! bad input closing only the offending connection.

mod support;

use std::time::Duration;
use support::{create, exists, four_letter, get, set, Client, Frame, Server};
use warden::proto::requests::*;
use warden::proto::responses::Response;
use warden::proto::types::{ErrorCode, EventType, NodeData};

fn for_each_shard_count(test: impl Fn(&Server)) {
    for shards in [1, 2] {
        let server = Server::start(shards, "");
        test(&server);
    }
}

#[test]
fn create_get_set_delete_with_stats() {
    for_each_shard_count(|server| {
        let mut c = Client::connect(server.port);
        let (h, r) = c.call(&create("/a", b"hello", 0));
        assert_eq!(h.err, 0);
        let Response::Create2(path, stat) = r else {
            panic!("{r:?}")
        };
        assert_eq!(path, "/a");
        assert_eq!((stat.version, stat.data_length, stat.czxid), (0, 5, h.zxid));
        let (h, r) = c.call(&set("/a", b"bye"));
        assert_eq!(h.err, 0);
        let Response::Stat(stat2) = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            (stat2.version, stat2.mzxid, stat2.czxid),
            (1, h.zxid, stat.czxid)
        );
        let (_, r) = c.call(&get("/a", false));
        let Response::GetData(data, _) = r else {
            panic!("{r:?}")
        };
        assert_eq!(data.as_slice(), b"bye");
        let (h, _) = c.call(&Request::Delete(DeleteRequest {
            path: "/a".into(),
            version: 5,
        }));
        assert_eq!(h.err, ErrorCode::BadVersion.code());
        let (h, _) = c.call(&Request::Delete(DeleteRequest {
            path: "/a".into(),
            version: 1,
        }));
        assert_eq!(h.err, 0);
        let (h, _) = c.call(&get("/a", false));
        assert_eq!(h.err, ErrorCode::NoNode.code());
    });
}

#[test]
fn a_read_pipelined_behind_a_write_sees_it() {
    for_each_shard_count(|server| {
        let mut c = Client::connect(server.port);
        for i in 0..200 {
            let path = format!("/p{i}");
            let w = c.send(&create(&path, b"x", 0));
            let r = c.send(&get(&path, false));
            let (hw, _) = c.wait_reply(w);
            let (hr, read) = c.wait_reply(r);
            assert_eq!((hw.err, hr.err), (0, 0), "read after own write must see it");
            assert!(matches!(read, Response::GetData(..)));
        }
        // Replies came back in the order sent.
        let order: Vec<i32> = c
            .arrivals
            .iter()
            .filter_map(|a| a.strip_prefix("reply ").map(|x| x.parse().unwrap()))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
    });
}

/// Reads queued between two writes of one session see the first write and
/// not the second, even when both writes land in one published batch (the
/// read is answered from the read point the shard asked for), and a watch
/// such a read sets fires for the second write before its reply.
#[test]
fn a_read_between_two_pipelined_writes_sees_exactly_the_first() {
    for_each_shard_count(|server| {
        let mut c = Client::connect(server.port);
        c.call(&create("/rp", b"", 0));
        for i in 0..100 {
            let first = format!("a{i}");
            let second = format!("b{i}");
            let w1 = c.send(&set("/rp", first.as_bytes()));
            let r1 = c.send(&get("/rp", true));
            let r1b = c.send(&exists("/rp", false));
            let w2 = c.send(&set("/rp", second.as_bytes()));
            let r2 = c.send(&get("/rp", false));
            let (h1, _) = c.wait_reply(w1);
            let (hr1, read1) = c.wait_reply(r1);
            let (hr1b, exists1) = c.wait_reply(r1b);
            let (h2, _) = c.wait_reply(w2);
            let (hr2, read2) = c.wait_reply(r2);
            let Response::GetData(data1, stat1) = read1 else {
                panic!("{read1:?}")
            };
            let Response::Stat(stat1b) = exists1 else {
                panic!("{exists1:?}")
            };
            let Response::GetData(data2, stat2) = read2 else {
                panic!("{read2:?}")
            };
            assert_eq!(data1.as_slice(), first.as_bytes(), "round {i}");
            assert_eq!(
                (stat1.mzxid, hr1.zxid, hr1b.zxid),
                (h1.zxid, h1.zxid, h1.zxid)
            );
            assert_eq!(stat1b, stat1);
            assert_eq!(data2.as_slice(), second.as_bytes());
            assert_eq!((stat2.mzxid, hr2.zxid), (h2.zxid, h2.zxid));
            let event = c.next_event(Duration::from_secs(5)).expect("watch fired");
            assert_eq!(
                (event.event_type, event.path.as_str()),
                (EventType::NodeDataChanged, "/rp")
            );
            let tail: Vec<&str> = c.arrivals[c.arrivals.len() - 5..]
                .iter()
                .map(String::as_str)
                .collect();
            let w2_reply = format!("reply {w2}");
            assert_eq!(
                tail,
                [
                    format!("reply {r1}").as_str(),
                    format!("reply {r1b}").as_str(),
                    "event NodeDataChanged /rp",
                    w2_reply.as_str(),
                    format!("reply {r2}").as_str(),
                ],
                "the watch set between the writes fires before the second reply"
            );
        }
    });
}

/// Reads answered on arrival are held while the reader handles what it
/// has and leave in one direct send; a burst of them, mixed with writes,
/// and with replies far larger than the socket buffer while the
/// client is not reading, must still arrive complete, in order, and each
/// read must see the writes sent before it.
#[test]
fn a_burst_of_pipelined_reads_and_writes_is_answered_in_order() {
    for_each_shard_count(|server| {
        let mut c = Client::connect(server.port);
        let big = vec![b'v'; 4096];
        c.call(&create("/burst", &big, 0));
        let mut expected = Vec::new();
        for i in 0..1500u32 {
            if i % 100 == 50 {
                let data = format!("v{i}").into_bytes();
                expected.push((c.send(&set("/burst", &data)), None));
                expected.push((c.send(&get("/burst", false)), Some(data)));
            } else if i % 100 == 99 {
                expected.push((c.send(&exists("/burst", false)), None));
            } else {
                let want = expected
                    .iter()
                    .rev()
                    .find_map(|(_, d): &(i32, Option<Vec<u8>>)| d.clone())
                    .unwrap_or_else(|| big.clone());
                expected.push((c.send(&get("/burst", false)), Some(want)));
            }
        }
        // Only now read: about 6 MB of replies queued behind a full socket.
        let sent = expected.len();
        for (xid, want) in expected {
            let (h, response) = c.wait_reply(xid);
            assert_eq!(h.err, 0, "xid {xid}");
            if let Some(want) = want {
                match response {
                    Response::GetData(data, _) => {
                        assert_eq!(data, NodeData::copy_from_slice(&want), "xid {xid}")
                    }
                    other => panic!("xid {xid}: {other:?}"),
                }
            }
        }
        let order: Vec<i32> = c
            .arrivals
            .iter()
            .filter_map(|a| a.strip_prefix("reply ").map(|x| x.parse().unwrap()))
            .filter(|x: &i32| *x > 0)
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "replies in the order sent");
        assert_eq!(order.len(), 1 + sent);
        // Reads with no write ahead of them are answered on arrival, held
        // while the reader works, and must be sent before it waits again.
        let started = std::time::Instant::now();
        let xids: Vec<i32> = (0..300).map(|_| c.send(&get("/burst", false))).collect();
        for xid in xids {
            assert_eq!(c.wait_reply(xid).0.err, 0, "xid {xid}");
        }
        // Held replies that nothing sends come out only seconds later (on
        // some unrelated wake-up), if at all.
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "300 reads took {took:?}");
    });
}

#[test]
fn watch_event_arrives_before_any_reply_showing_the_change() {
    for_each_shard_count(|server| {
        let mut writer = Client::connect(server.port);
        let mut watchers: Vec<Client> = (0..6).map(|_| Client::connect(server.port)).collect();
        writer.call(&create("/w", b"0", 0));
        for round in 1..30 {
            for w in watchers.iter_mut() {
                let (h, _) = w.call(&get("/w", true));
                assert_eq!(h.err, 0);
            }
            let value = round.to_string();
            writer.call(&set("/w", value.as_bytes()));
            for w in watchers.iter_mut() {
                // Read until we see the new value; the event must come first.
                let mut saw_event = false;
                loop {
                    let xid = w.send(&get("/w", false));
                    loop {
                        match w.receive().expect("open") {
                            Frame::Event(e) => {
                                assert_eq!(
                                    (e.event_type, e.path.as_str()),
                                    (EventType::NodeDataChanged, "/w")
                                );
                                assert!(!saw_event, "one-shot watch fired twice");
                                saw_event = true;
                            }
                            Frame::Reply(h, Response::GetData(data, _)) if h.xid == xid => {
                                if data.as_slice() == value.as_bytes() {
                                    assert!(
                                        saw_event,
                                        "reply showed the change before its watch event"
                                    );
                                }
                                break;
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    if saw_event {
                        break;
                    }
                }
            }
        }
    });
}

#[test]
fn every_session_on_every_shard_gets_exactly_one_event() {
    for_each_shard_count(|server| {
        let mut writer = Client::connect(server.port);
        writer.call(&create("/fan", b"", 0));
        let mut watchers: Vec<Client> = (0..40).map(|_| Client::connect(server.port)).collect();
        for w in watchers.iter_mut() {
            assert_eq!(w.call(&exists("/fan", true)).0.err, 0);
        }
        writer.call(&set("/fan", b"1"));
        writer.call(&set("/fan", b"2"));
        for w in watchers.iter_mut() {
            let e = w.next_event(Duration::from_secs(5)).expect("event");
            assert_eq!(
                (e.event_type, e.path.as_str()),
                (EventType::NodeDataChanged, "/fan")
            );
            assert!(
                w.next_event(Duration::from_millis(100)).is_none(),
                "one-shot watch fired twice"
            );
        }
    });
}

#[test]
fn oversized_frame_closes_only_that_connection() {
    for_each_shard_count(|server| {
        let mut good = Client::connect(server.port);
        let mut bad = Client::connect(server.port);
        let huge = (2 * 1024 * 1024i32).to_be_bytes();
        bad.send_raw(&huge).unwrap();
        assert!(bad.is_closed());
        assert_eq!(good.call(&create("/still", b"ok", 0)).0.err, 0);
        assert!(
            server.log().contains("jute.maxbuffer"),
            "one log line names the limit"
        );
    });
}

#[test]
fn garbage_instead_of_a_request_closes_only_that_connection() {
    for_each_shard_count(|server| {
        let mut good = Client::connect(server.port);
        let mut bad = Client::connect(server.port);
        // A frame of 3 bytes cannot hold a request header.
        bad.send_raw(&[0, 0, 0, 3, 1, 2, 3]).unwrap();
        assert!(bad.is_closed());
        assert_eq!(good.call(&exists("/", false)).0.err, 0);
    });
}

#[test]
fn unknown_opcode_answers_unimplemented_and_keeps_the_connection() {
    for_each_shard_count(|server| {
        let mut c = Client::connect(server.port);
        // xid 7, opcode 999, no body.
        c.send_raw(&[0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 3, 0xe7])
            .unwrap();
        let mut buffer = [0u8; 20];
        use std::io::Read;
        let mut stream_reply = Vec::new();
        while stream_reply.len() < 20 {
            let n = c_stream_read(&mut c, &mut buffer);
            stream_reply.extend_from_slice(&buffer[..n]);
        }
        let err = i32::from_be_bytes(stream_reply[16..20].try_into().unwrap());
        assert_eq!(err, ErrorCode::Unimplemented.code());
        let _ = std::io::empty().read(&mut buffer);
        assert_eq!(c.call(&exists("/", false)).0.err, 0);
    });
}

fn c_stream_read(c: &mut Client, buffer: &mut [u8]) -> usize {
    c.read_raw(buffer)
}

#[test]
fn expired_session_removes_ephemerals_and_fires_watches() {
    for_each_shard_count(|server| {
        let mut watcher = Client::connect(server.port);
        let owner = Client::connect_with(server.port, 0, &[0; 16], 400).unwrap();
        let mut owner = owner;
        assert_eq!(owner.call(&create("/eph", b"", 1)).0.err, 0);
        assert_eq!(watcher.call(&exists("/eph", true)).0.err, 0);
        drop(owner); // no pings: the session must expire
        let e = watcher
            .next_event(Duration::from_secs(10))
            .expect("deleted event");
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::NodeDeleted, "/eph")
        );
        assert_eq!(
            watcher.call(&exists("/eph", false)).0.err,
            ErrorCode::NoNode.code()
        );
    });
}

#[test]
fn reconnect_with_password_keeps_session_and_wrong_password_is_refused() {
    for_each_shard_count(|server| {
        let mut first = Client::connect(server.port);
        assert_eq!(first.call(&create("/mine", b"", 1)).0.err, 0);
        let id = first.session_id();
        let passwd = first.session.passwd.clone();
        assert!(Client::connect_with(server.port, id, &[7; 16], 10_000).is_none());
        let mut second = Client::connect_with(server.port, id, &passwd, 10_000).expect("resumed");
        assert_eq!(second.session_id(), id);
        // The old connection is closed: the session moved.
        assert!(first.is_closed());
        let (h, r) = second.call(&exists("/mine", false));
        assert_eq!(h.err, 0);
        let Response::Stat(stat) = r else { panic!() };
        assert_eq!(stat.ephemeral_owner, id);
        assert!(Client::connect_with(server.port, 0x7777, &passwd, 10_000).is_none());
    });
}

#[test]
fn close_session_deletes_ephemerals_and_closes() {
    for_each_shard_count(|server| {
        let mut a = Client::connect(server.port);
        let mut b = Client::connect(server.port);
        a.call(&create("/e1", b"", 1));
        b.call(&exists("/e1", true));
        let (h, _) = a.call(&Request::CloseSession);
        assert_eq!(h.err, 0);
        assert!(a.is_closed());
        let e = b.next_event(Duration::from_secs(5)).expect("event");
        assert_eq!(e.event_type, EventType::NodeDeleted);
    });
}

#[test]
fn four_letter_words_answer() {
    for_each_shard_count(|server| {
        let mut c = Client::connect(server.port);
        c.call(&create("/x", b"", 0));
        assert_eq!(four_letter(server.port, "ruok").unwrap(), "imok");
        let srvr = four_letter(server.port, "srvr").unwrap();
        assert!(srvr.contains("Mode: standalone"), "{srvr}");
        assert!(srvr.contains("Zxid: 0x"), "{srvr}");
        let mntr = four_letter(server.port, "mntr").unwrap();
        // A fresh ZooKeeper reports 5 (it counts the root twice); one node added.
        assert!(mntr.contains("zk_znode_count\t6"), "{mntr}");
    });
}

#[test]
fn a_read_after_another_clients_acknowledged_write_sees_it() {
    for_each_shard_count(|server| {
        let mut writer = Client::connect(server.port);
        // Several readers so that, with two shards, some sit on the other one.
        let mut readers: Vec<Client> = (0..4).map(|_| Client::connect(server.port)).collect();
        writer.call(&create("/fresh", b"0", 0));
        for round in 1..200 {
            let value = round.to_string();
            assert_eq!(writer.call(&set("/fresh", value.as_bytes())).0.err, 0);
            for reader in readers.iter_mut() {
                let (h, r) = reader.call(&get("/fresh", false));
                assert_eq!(h.err, 0);
                let Response::GetData(data, _) = r else {
                    panic!("{r:?}")
                };
                assert_eq!(
                    data.as_slice(),
                    value.as_bytes(),
                    "a read after an acknowledged write saw older data"
                );
            }
            let path = format!("/fresh/c{round}");
            assert_eq!(writer.call(&create(&path, b"", 0)).0.err, 0);
            let reader = &mut readers[round % 4];
            assert_eq!(
                reader.call(&exists(&path, false)).0.err,
                0,
                "{path} not visible after its create was acknowledged"
            );
        }
    });
}

#[test]
fn auth_reply_carries_zxid_zero_as_zookeeper_does() {
    // ZooKeeper answers an auth packet with ReplyHeader(xid -4, zxid 0, err),
    // whatever the last zxid is (found by the differential test).
    for_each_shard_count(|server| {
        let mut c = Client::connect(server.port);
        let (h, _) = c.call(&create("/auth-zxid", b"", 0));
        assert!(h.zxid > 0);
        let (h, _) = c.call(&Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: bytes::Bytes::from_static(b"u1:p1"),
        }));
        assert_eq!((h.xid, h.zxid, h.err), (-4, 0, 0));
    });
}

#[test]
fn events_on_nodes_the_watcher_cannot_read_are_not_delivered() {
    // ZooKeeper (CVE-2024-23944 fix, in Debian's 3.8.0 and upstream 3.8.4)
    // checks READ on the node (on the parent for NodeChildrenChanged) before
    // sending an event; the one-shot watch is used up either way. Found by the
    // differential test.
    for_each_shard_count(|server| {
        let mut writer = Client::connect(server.port);
        let mut watcher = Client::connect(server.port);
        writer.call(&create("/acl-w", b"", 0));
        // Another shard may be a batch behind until the watcher syncs.
        watcher.call(&Request::Sync("/acl-w".into()));
        let (h, _) = watcher.call(&Request::AddWatch(AddWatchRequest {
            path: "/acl-w".into(),
            mode: 1,
        }));
        assert_eq!(h.err, 0);
        let (h, _) = watcher.call(&exists("/acl-w/secret", true));
        assert_eq!(h.err, ErrorCode::NoNode.code());
        let write_only = vec![warden::proto::types::Acl {
            perms: warden::proto::types::perms::WRITE,
            id: warden::proto::types::Id::new("world", "anyone"),
        }];
        let mut secret = create("/acl-w/secret", b"", 0);
        if let Request::Create(_, c) = &mut secret {
            c.acl = write_only;
        }
        assert_eq!(writer.call(&secret).0.err, 0);
        assert_eq!(writer.call(&create("/acl-w/open", b"", 0)).0.err, 0);
        let event = watcher
            .next_event(Duration::from_secs(5))
            .expect("an event");
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (EventType::NodeCreated, "/acl-w/open")
        );
        // The exists watch on /acl-w/secret was used up silently.
        assert_eq!(
            writer
                .call(&Request::Delete(DeleteRequest {
                    path: "/acl-w/secret".into(),
                    version: -1
                }))
                .0
                .err,
            0
        );
        let event = watcher.next_event(Duration::from_millis(300));
        assert!(event.is_none(), "{event:?}");
    });
}
