//! Watch fan-out, ordering under concurrency and watch restore on reconnect,
//! against a real `warden` process with two shards (issue 3).

mod support;

use std::collections::HashMap;
use support::{create, exists, get, set, Client, Frame, Server};
use warden::proto::requests::*;
use warden::proto::responses::{ReplyHeader, Response};
use warden::proto::types::EventType;

fn add_watch(path: &str, mode: i32) -> Request {
    Request::AddWatch(AddWatchRequest {
        path: path.to_string(),
        mode,
    })
}

const PERSISTENT: i32 = 0;

/// Sends `request` and reads until its reply; returns the reply and every
/// event that arrived before it, in order.
fn call_collect(
    c: &mut Client,
    request: &Request,
) -> ((ReplyHeader, Response), Vec<(EventType, String)>) {
    let xid = c.send(request);
    let mut events = Vec::new();
    while let Some(e) = c.events.pop_front() {
        events.push((e.event_type, e.path));
    }
    loop {
        match c.receive().expect("connection open") {
            Frame::Event(e) => events.push((e.event_type, e.path)),
            Frame::Reply(h, r) if h.xid == xid => return ((h, r), events),
            Frame::Reply(h, r) => panic!("unexpected reply {h:?} {r:?}"),
        }
    }
}

/// 1,000 sessions over both shards, each watching /fan one way (exists,
/// getData or a persistent addWatch); one setData fires exactly one event in
/// each, a second setData exactly one more in the persistent ones only.
#[test]
fn fan_out_to_a_thousand_sessions_over_two_shards() {
    let server = Server::start(2, "maxClientCnxns=0");
    let mut writer = Client::connect(server.port);
    assert_eq!(writer.call(&create("/fan", b"0", 0)).0.err, 0);
    let mut watchers: Vec<Client> = (0..1000).map(|_| Client::connect(server.port)).collect();
    for (i, w) in watchers.iter_mut().enumerate() {
        // A session on the other shard may be a batch behind until it syncs.
        assert_eq!(w.call(&Request::Sync("/fan".into())).0.err, 0);
        let request = match i % 3 {
            0 => exists("/fan", true),
            1 => get("/fan", true),
            _ => add_watch("/fan", PERSISTENT),
        };
        assert_eq!(w.call(&request).0.err, 0, "watch {i}");
    }
    let (h1, _) = writer.call(&set("/fan", b"1"));
    assert_eq!(h1.err, 0);
    let (h2, _) = writer.call(&set("/fan", b"2"));
    assert_eq!(h2.err, 0);
    for (i, w) in watchers.iter_mut().enumerate() {
        // The reply shows the second change, so every event for either
        // change must have arrived before it.
        let ((h, r), events) = call_collect(w, &exists("/fan", false));
        assert_eq!(h.err, 0);
        let Response::Stat(stat) = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            stat.mzxid, h2.zxid,
            "session {i} did not see the second set"
        );
        let expected = if i % 3 == 2 { 2 } else { 1 };
        assert_eq!(
            events,
            vec![(EventType::NodeDataChanged, "/fan".to_string()); expected],
            "session {i} (kind {})",
            i % 3
        );
    }
}

/// One client frame, as the ordering check needs it.
#[derive(Debug)]
enum Seen {
    Event(EventType, String),
    /// Reply header zxid, and for getData/setData the path and the node's mzxid.
    Reply(i64, Option<(String, i64)>),
}

/// Many sessions over both shards, all writing and all watching every path
/// with persistent watches: each session sees, for every path, one event per
/// change in zxid order, each before any reply whose zxid is at or past the
/// change, and its reply zxids never go back.
#[test]
fn events_and_replies_follow_zxid_order_under_concurrency() {
    const SESSIONS: usize = 24;
    const PATHS: usize = 6;
    const ROUNDS: usize = 60;
    let server = Server::start(2, "maxClientCnxns=0");
    let paths: Vec<String> = (0..PATHS).map(|i| format!("/ord{i}")).collect();
    let mut setup = Client::connect(server.port);
    for p in &paths {
        assert_eq!(setup.call(&create(p, b"", 0)).0.err, 0);
    }
    let mut clients: Vec<Client> = (0..SESSIONS)
        .map(|_| Client::connect(server.port))
        .collect();
    for c in clients.iter_mut() {
        assert_eq!(c.call(&Request::Sync("/".into())).0.err, 0);
        for p in &paths {
            assert_eq!(c.call(&add_watch(p, PERSISTENT)).0.err, 0);
        }
    }
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(SESSIONS));
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(n, mut c)| {
            let paths = paths.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut writes = Vec::new();
                let mut state = (n as u64 + 1) * 0x9E37_79B9_7F4A_7C15;
                let mut random = move |m: usize| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % m as u64) as usize
                };
                barrier.wait();
                for round in 0..ROUNDS {
                    // A pipelined write and read, sometimes two in flight.
                    let wp = paths[random(PATHS)].clone();
                    let rp = paths[random(PATHS)].clone();
                    let data = format!("{n}-{round}");
                    let mut pending = HashMap::new();
                    pending.insert(c.send(&set(&wp, data.as_bytes())), wp.clone());
                    pending.insert(c.send(&get(&rp, false)), rp.clone());
                    while !pending.is_empty() {
                        let (h, frame) = c.receive_with_header().expect("open");
                        match frame {
                            Frame::Event(e) => seen.push(Seen::Event(e.event_type, e.path)),
                            Frame::Reply(h2, r) => {
                                assert_eq!(h2.err, 0, "{r:?}");
                                let path = pending.remove(&h.xid).expect("our xid");
                                let mzxid = match r {
                                    Response::Stat(s) => {
                                        writes.push((path.clone(), s.mzxid));
                                        s.mzxid
                                    }
                                    Response::GetData(_, s) => s.mzxid,
                                    other => panic!("{other:?}"),
                                };
                                seen.push(Seen::Reply(h.zxid, Some((path, mzxid))));
                            }
                        }
                    }
                }
                barrier.wait();
                (c, seen, writes)
            })
        })
        .collect();
    let mut results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Every change, per path, in zxid order.
    let mut changes: HashMap<String, Vec<i64>> = HashMap::new();
    for (_, _, writes) in &results {
        for (p, z) in writes {
            changes.entry(p.clone()).or_default().push(*z);
        }
    }
    for zs in changes.values_mut() {
        zs.sort_unstable();
        let n = zs.len();
        zs.dedup();
        assert_eq!(zs.len(), n, "two writes with one zxid");
    }
    let last = changes
        .values()
        .flat_map(|v| v.iter())
        .max()
        .copied()
        .unwrap();
    // Drain what is still in flight: a final read at or past the last change.
    for (c, seen, _) in results.iter_mut() {
        loop {
            c.send(&Request::Sync("/".into()));
            let xid = c.send(&exists("/", false));
            let done;
            loop {
                let (h, frame) = c.receive_with_header().expect("open");
                match frame {
                    Frame::Event(e) => seen.push(Seen::Event(e.event_type, e.path)),
                    Frame::Reply(..) => {
                        seen.push(Seen::Reply(h.zxid, None));
                        if h.xid == xid {
                            done = h.zxid >= last;
                            break;
                        }
                    }
                }
            }
            if done {
                break;
            }
        }
    }
    for (n, (_, seen, _)) in results.iter().enumerate() {
        let mut delivered: HashMap<&str, usize> = HashMap::new();
        let mut last_reply = i64::MIN;
        for (k, item) in seen.iter().enumerate() {
            match item {
                Seen::Event(t, p) => {
                    assert_eq!(*t, EventType::NodeDataChanged, "session {n}: {p}");
                    *delivered.entry(p.as_str()).or_default() += 1;
                }
                Seen::Reply(z, reflects) => {
                    assert!(
                        *z >= last_reply,
                        "session {n} frame {k}: reply zxid {z:#x} after {last_reply:#x}"
                    );
                    last_reply = *z;
                    // Every change at or before this reply's zxid has had
                    // its event delivered already.
                    for (p, zs) in &changes {
                        let due = zs.partition_point(|c| c <= z);
                        let got = delivered.get(p.as_str()).copied().unwrap_or(0);
                        assert!(
                            got >= due,
                            "session {n} frame {k}: reply at zxid {z:#x} before the \
                             event for {p} at zxid {:#x} ({got} of {due} events delivered)",
                            zs[got]
                        );
                    }
                    if let Some((p, m)) = reflects {
                        let due = changes
                            .get(p)
                            .map_or(0, |zs| zs.partition_point(|c| c <= m));
                        assert!(delivered.get(p.as_str()).copied().unwrap_or(0) >= due);
                    }
                }
            }
        }
        for (p, zs) in &changes {
            assert_eq!(
                delivered.get(p.as_str()).copied().unwrap_or(0),
                zs.len(),
                "session {n}: events for {p}"
            );
        }
    }
}

/// setWatches2 on reconnect with persistent, persistent-recursive and
/// one-shot watches: the one-shot ones whose node changed since the client's
/// last zxid fire at once, the persistent ones are restored without firing
/// (ZooKeeper never replays missed events for persistent watches) and fire on
/// the next change.
#[test]
fn set_watches2_restores_persistent_watches_on_reconnect() {
    let server = Server::start(2, "maxClientCnxns=0");
    let mut writer = Client::connect(server.port);
    for p in ["/r", "/r/a", "/r/b", "/p", "/d"] {
        assert_eq!(writer.call(&create(p, b"", 0)).0.err, 0);
    }
    let mut c = Client::connect(server.port);
    let (h, _) = c.call(&Request::Sync("/".into()));
    let last_zxid = h.zxid;
    assert!(last_zxid > 0);
    let session = c.session_id();
    let passwd = c.session.passwd.clone();
    drop(c);
    // Changes the client misses.
    assert_eq!(writer.call(&set("/d", b"1")).0.err, 0);
    assert_eq!(writer.call(&set("/p", b"1")).0.err, 0);
    assert_eq!(writer.call(&set("/r/a", b"1")).0.err, 0);
    let mut c = Client::connect_with(server.port, session, &passwd, 10_000).expect("same session");
    c.send(&Request::SetWatches2(SetWatchesRequest {
        relative_zxid: last_zxid,
        data_watches: vec!["/d".into()],
        exist_watches: vec![],
        child_watches: vec![],
        persistent_watches: vec!["/p".into()],
        persistent_recursive_watches: vec!["/r".into()],
    }));
    // The setWatches reply (xid -8) comes after the missed event.
    let mut frames = Vec::new();
    loop {
        match c.receive().expect("open") {
            Frame::Event(e) => frames.push(format!("{:?} {}", e.event_type, e.path)),
            Frame::Reply(h, _) => {
                assert_eq!((h.xid, h.err), (-8, 0));
                break;
            }
        }
    }
    assert_eq!(frames, vec!["NodeDataChanged /d"]);
    assert_eq!(writer.call(&set("/p", b"2")).0.err, 0);
    assert_eq!(writer.call(&create("/r/b/c", b"", 0)).0.err, 0);
    let (h, _) = writer.call(&set("/d", b"2"));
    assert_eq!(h.err, 0);
    c.call(&Request::Sync("/".into()));
    let ((_, _), events) = call_collect(&mut c, &exists("/d", false));
    let events: Vec<String> = events
        .into_iter()
        .map(|(t, p)| format!("{t:?} {p}"))
        .collect();
    assert_eq!(events, vec!["NodeDataChanged /p", "NodeCreated /r/b/c"]);
}

/// Wraps a request of the support builders into a multi operation.
fn multi_op(request: Request) -> MultiOp {
    match request {
        Request::Create(op, r) => MultiOp::Create(op, r),
        Request::SetData(r) => MultiOp::SetData(r),
        other => panic!("not a multi operation: {other:?}"),
    }
}

/// A client that stops reading while replies and watch events pile up for
/// it: the shard's end-of-batch direct send meets a full socket (or a
/// writer still holding a chunk) and leaves the rest to the writer task.
/// Nothing may be reordered: every frame arrives whole, replies in request
/// order, events in change order, each event before any reply that
/// reflects its change, and the connection still answers afterwards.
#[test]
fn events_behind_a_full_socket_keep_their_order() {
    const NODES: usize = 400;
    const CHANGES: usize = 8;
    const BIG_READS: usize = 24;
    let server = Server::start(1, "maxClientCnxns=0");
    let mut writer = Client::connect(server.port);
    let mut reader = Client::connect(server.port);
    // Long names make each event about 830 bytes.
    let name = |i: usize| format!("/o/{i:03}{}", "x".repeat(800));
    assert_eq!(writer.call(&create("/o", b"", 0)).0.err, 0);
    let creates = (0..NODES).map(|i| multi_op(create(&name(i), b"", 0)));
    assert_eq!(writer.call(&Request::Multi(creates.collect())).0.err, 0);
    assert_eq!(
        writer
            .call(&create("/big", &vec![7u8; 512 * 1024], 0))
            .0
            .err,
        0
    );
    const RECURSIVE: i32 = 1;
    assert_eq!(reader.call(&add_watch("/o", RECURSIVE)).0.err, 0);
    // 12 MiB of replies, far more than the socket buffers hold; the reader
    // reads nothing until every change is made.
    let reads: Vec<i32> = (0..BIG_READS)
        .map(|_| reader.send(&get("/big", false)))
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Each multi fires NODES events for the reader in one batch: 330 KB.
    let mut change_zxids = Vec::new();
    for k in 0..CHANGES {
        let sets = (0..NODES).map(|i| multi_op(set(&name(i), format!("{k}").as_bytes())));
        let (h, _) = writer.call(&Request::Multi(sets.collect()));
        assert_eq!(h.err, 0, "multi {k}");
        change_zxids.push(h.zxid);
    }
    let last = reader.send(&get("/o", false));
    let mut next_read = reads.iter();
    let mut events = 0usize;
    loop {
        let (header, frame) = reader.receive_with_header().expect("connection open");
        match frame {
            Frame::Event(e) => {
                assert_eq!(e.event_type, EventType::NodeDataChanged);
                assert_eq!(e.path, name(events % NODES), "event {events} out of order");
                events += 1;
            }
            Frame::Reply(h, response) => {
                // A reply reflecting change k must follow all of k's events.
                let seen = change_zxids.iter().filter(|z| h.zxid >= **z).count();
                assert!(
                    events >= seen * NODES,
                    "reply {} (zxid {:#x}) before the events of its changes ({events} seen)",
                    header.xid,
                    h.zxid
                );
                if h.xid == last {
                    break;
                }
                assert_eq!(Some(&h.xid), next_read.next(), "replies in request order");
                match response {
                    Response::GetData(data, _) => assert_eq!(data.len(), 512 * 1024),
                    other => panic!("unexpected reply {other:?}"),
                }
            }
        }
    }
    assert_eq!(next_read.next(), None, "every read answered");
    assert_eq!(events, NODES * CHANGES, "every event delivered once");
}
