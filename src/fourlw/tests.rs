//! Rendering tests against the layout of real ZooKeeper 3.8 replies.

use std::net::SocketAddr;

use super::*;
use crate::config::Config;

fn sample() -> ServerSnapshot {
    let config = Config::parse(
        "dataDir=/tmp/zk/data\nclientPort=21819\ntickTime=2000\n",
        "t",
    )
    .unwrap()
    .config;
    let env = Environment {
        host_name: "localhost".into(),
        os_name: "Linux".into(),
        os_arch: "x86_64".into(),
        os_version: "6.1.0".into(),
        user_name: "zk".into(),
        user_home: "/home/zk".into(),
        user_dir: "/srv".into(),
        tmp_dir: "/tmp".into(),
    };
    let mut s = ServerSnapshot::new(&config, env);
    s.latency_ms_min = 0;
    s.latency_ms_avg = 0.5;
    s.latency_ms_max = 13;
    s.packets_received = 15;
    s.packets_sent = 14;
    s.num_alive_connections = 3;
    s.last_processed_zxid = 8;
    s.node_count = 10;
    s.watch_count = 4;
    s.ephemerals_count = 3;
    s.approximate_data_size_bytes = 110;
    s.global_sessions = 2;
    s.uptime_ms = 18695;
    s.open_file_descriptor_count = 42;
    s.max_file_descriptor_count = 20000;
    s.data_dir_size_bytes = 67109337;
    s.log_dir_size_bytes = 67109337;
    s.connections = vec![
        ConnectionInfo {
            remote: "127.0.0.1:59814".parse().unwrap(),
            interest_ops: 0,
            queued: 0,
            packets_received: 1,
            packets_sent: 0,
            session: None,
            expires_at_unix_ms: 1_795_307_063_000,
        },
        ConnectionInfo {
            remote: "127.0.0.1:38030".parse().unwrap(),
            interest_ops: 1,
            queued: 0,
            packets_received: 32,
            packets_sent: 32,
            session: Some(ConnectionSession {
                session_id: 0x10000082e880000,
                last_operation: "PING".into(),
                established_unix_ms: 1795307051300,
                timeout_ms: 10000,
                last_cxid: 0x1e,
                last_zxid: 8,
                last_response_ms: 551137,
                last_latency_ms: 1,
                min_latency_ms: 0,
                avg_latency_ms: 1,
                max_latency_ms: 13,
            }),
            expires_at_unix_ms: 1_795_307_073_000,
        },
    ];
    s.data_watches = vec![
        WatchEntry {
            session_id: 0x10000082e880000,
            path: "/app/config".into(),
        },
        WatchEntry {
            session_id: 0x10000082e880001,
            path: "/app/config".into(),
        },
        WatchEntry {
            session_id: 0x10000082e880001,
            path: "/nonexist".into(),
        },
    ];
    s.sessions = vec![
        SessionExpiry {
            session_id: 0x10000082e880001,
            expires_at_unix_ms: 1_795_307_065_000,
        },
        SessionExpiry {
            session_id: 0x10000082e880000,
            expires_at_unix_ms: 1_795_307_065_000,
        },
    ];
    s.ephemerals = vec![
        SessionEphemerals {
            session_id: 0x10000082e880000,
            paths: vec!["/app/eph1".into(), "/app/eph2".into()],
        },
        SessionEphemerals {
            session_id: 0x10000082e880001,
            paths: vec!["/app/lock-0000000003".into()],
        },
    ];
    s
}

fn r(w: FourLetterWord) -> String {
    render(w, &sample())
}

#[test]
fn ruok_isro_gtmk() {
    assert_eq!(r(FourLetterWord::Ruok), "imok");
    assert_eq!(r(FourLetterWord::Isro), "rw");
    assert_eq!(r(FourLetterWord::Gtmk), "306");
    let mut s = sample();
    s.trace_mask = 0x1ff;
    assert_eq!(render(FourLetterWord::Stmk, &s), "511");
    s.state = ServerState::ReadOnly;
    assert_eq!(render(FourLetterWord::Isro, &s), "ro");
    assert_eq!(render(FourLetterWord::TelnetClose, &s), "");
}

#[test]
fn srvr() {
    let expected = format!(
        "Zookeeper version: {VERSION}\n\
         Latency min/avg/max: 0/0.5/13\n\
         Received: 15\n\
         Sent: 14\n\
         Connections: 3\n\
         Outstanding: 0\n\
         Zxid: 0x8\n\
         Mode: standalone\n\
         Node count: 10\n"
    );
    assert_eq!(r(FourLetterWord::Srvr), expected);
}

#[test]
fn srvr_scriptable_fields() {
    let out = r(FourLetterWord::Srvr);
    // What zkServer.sh status and common checks grep for.
    assert!(out.lines().any(|l| l == "Mode: standalone"));
    let v = out
        .lines()
        .next()
        .unwrap()
        .strip_prefix("Zookeeper version: ")
        .unwrap();
    assert_eq!(v.split('-').next().unwrap(), "3.8.4");
    let lat = out
        .lines()
        .find_map(|l| l.strip_prefix("Latency min/avg/max: "))
        .unwrap();
    assert_eq!(lat.split('/').count(), 3);
}

#[test]
fn stat_lists_clients_briefly() {
    let out = r(FourLetterWord::Stat);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines[0], format!("Zookeeper version: {VERSION}"));
    assert_eq!(lines[1], "Clients:");
    assert_eq!(lines[2], " /127.0.0.1:59814[0](queued=0,recved=1,sent=0)");
    assert_eq!(lines[3], " /127.0.0.1:38030[1](queued=0,recved=32,sent=32)");
    assert_eq!(lines[4], "");
    assert_eq!(lines[5], "Latency min/avg/max: 0/0.5/13");
    assert_eq!(lines[12], "Node count: 10");
    assert_eq!(lines.len(), 13);
}

#[test]
fn stat_for_leader_has_proposal_sizes() {
    let mut s = sample();
    s.state = ServerState::Leader;
    s.leader = Some(LeaderStats {
        last_proposal_size_bytes: 40,
        min_proposal_size_bytes: 36,
        max_proposal_size_bytes: 120,
        ..Default::default()
    });
    let out = render(FourLetterWord::Stat, &s);
    assert!(out.contains("Mode: leader\n"));
    assert!(out.ends_with("Node count: 10\nProposal sizes last/min/max: 40/36/120\n"));
}

#[test]
fn cons() {
    let expected = " /127.0.0.1:59814[0](queued=0,recved=1,sent=0)\n \
        /127.0.0.1:38030[1](queued=0,recved=32,sent=32,sid=0x10000082e880000,lop=PING,\
        est=1795307051300,to=10000,lcxid=0x1e,lzxid=0x8,lresp=551137,llat=1,minlat=0,\
        avglat=1,maxlat=13)\n\n";
    assert_eq!(r(FourLetterWord::Cons), expected);
}

#[test]
fn cons_negative_cxid_and_zxid() {
    let mut s = sample();
    let x = s.connections[1].session.as_mut().unwrap();
    x.last_cxid = -1;
    x.last_zxid = -1;
    let out = render(FourLetterWord::Cons, &s);
    assert!(!out.contains("lcxid"));
    assert!(out.contains(",lzxid=0xffffffffffffffff,"));
}

#[test]
fn ipv6_connection_address() {
    let a: SocketAddr = "[::1]:5000".parse().unwrap();
    assert_eq!(java_socket_addr(&a), "/0:0:0:0:0:0:0:1:5000");
}

#[test]
fn conf() {
    let expected = "clientPort=21819\n\
        secureClientPort=-1\n\
        dataDir=/tmp/zk/data\n\
        dataDirSize=67109337\n\
        dataLogDir=/tmp/zk/data\n\
        dataLogSize=67109337\n\
        tickTime=2000\n\
        maxClientCnxns=60\n\
        minSessionTimeout=4000\n\
        maxSessionTimeout=40000\n\
        clientPortListenBacklog=-1\n\
        serverId=0\n";
    assert_eq!(r(FourLetterWord::Conf), expected);
}

#[test]
fn envi() {
    let out = r(FourLetterWord::Envi);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines[0], "Environment:");
    assert_eq!(lines[1], format!("zookeeper.version={VERSION}"));
    assert_eq!(lines[2], "host.name=localhost");
    assert!(lines.contains(&"os.name=Linux"));
    assert!(lines.contains(&"user.dir=/srv"));
    assert!(lines[1..].iter().all(|l| l.contains('=')));
}

#[test]
fn environment_probe_fills_values() {
    let e = Environment::probe();
    assert_eq!(e.os_name, "Linux");
    assert!(!e.host_name.is_empty());
    assert!(!e.user_dir.is_empty());
}

#[test]
fn dirs() {
    assert_eq!(
        r(FourLetterWord::Dirs),
        "datadir_size: 67109337\nlogdir_size: 67109337\n"
    );
}

#[test]
fn dump() {
    let expected = "SessionTracker dump:\n\
        Session Sets (1)/(2):\n\
        2 expire at Sun Nov 22 00:24:25 UTC 2026:\n\
        \t0x10000082e880001\n\
        \t0x10000082e880000\n\
        ephemeral nodes dump:\n\
        Sessions with Ephemerals (2):\n\
        0x10000082e880000:\n\
        \t/app/eph1\n\
        \t/app/eph2\n\
        0x10000082e880001:\n\
        \t/app/lock-0000000003\n\
        Connections dump:\n\
        Connections Sets (2)/(2):\n\
        1 expire at Sun Nov 22 00:24:23 UTC 2026:\n\
        \tip: /127.0.0.1:59814 sessionId: 0x0\n\
        1 expire at Sun Nov 22 00:24:33 UTC 2026:\n\
        \tip: /127.0.0.1:38030 sessionId: 0x10000082e880000\n";
    assert_eq!(r(FourLetterWord::Dump), expected);
}

#[test]
fn java_dates() {
    assert_eq!(java_date_utc(0), "Thu Jan 01 00:00:00 UTC 1970");
    assert_eq!(
        java_date_utc(951_782_400_000),
        "Tue Feb 29 00:00:00 UTC 2000"
    );
    assert_eq!(
        java_date_utc(1_795_307_061_999),
        "Sun Nov 22 00:24:21 UTC 2026"
    );
}

#[test]
fn wchs() {
    assert_eq!(
        r(FourLetterWord::Wchs),
        "2 connections watching 2 paths\nTotal watches:3\n"
    );
}

#[test]
fn wchc() {
    assert_eq!(
        r(FourLetterWord::Wchc),
        "0x10000082e880000\n\t/app/config\n0x10000082e880001\n\t/app/config\n\t/nonexist\n\n"
    );
}

#[test]
fn wchp() {
    assert_eq!(
        r(FourLetterWord::Wchp),
        "/app/config\n\t0x10000082e880000\n\t0x10000082e880001\n/nonexist\n\t0x10000082e880001\n\n"
    );
}

#[test]
fn empty_watch_lists() {
    let mut s = sample();
    s.data_watches.clear();
    assert_eq!(
        render(FourLetterWord::Wchs, &s),
        "0 connections watching 0 paths\nTotal watches:0\n"
    );
    assert_eq!(render(FourLetterWord::Wchc, &s), "\n");
}

#[test]
fn srst_crst_texts() {
    assert_eq!(r(FourLetterWord::Srst), "Server stats reset.\n");
    assert_eq!(r(FourLetterWord::Crst), "Connection stats reset.\n");
}

fn mntr_map(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').expect("tab-separated");
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn mntr_standard_keys() {
    let out = r(FourLetterWord::Mntr);
    assert!(out.ends_with('\n'));
    let m = mntr_map(&out);
    let expect = [
        ("zk_version", VERSION),
        ("zk_server_state", "standalone"),
        ("zk_avg_latency", "0.5"),
        ("zk_max_latency", "13"),
        ("zk_min_latency", "0"),
        ("zk_packets_received", "15"),
        ("zk_packets_sent", "14"),
        ("zk_num_alive_connections", "3"),
        ("zk_outstanding_requests", "0"),
        ("zk_uptime", "18695"),
        ("zk_znode_count", "10"),
        ("zk_watch_count", "4"),
        ("zk_ephemerals_count", "3"),
        ("zk_approximate_data_size", "110"),
        ("zk_global_sessions", "2"),
        ("zk_local_sessions", "0"),
        ("zk_open_file_descriptor_count", "42"),
        ("zk_max_file_descriptor_count", "20000"),
        ("zk_connection_drop_probability", "0.0"),
        ("zk_last_client_response_size", "-1"),
        ("zk_auth_failed_count", "0"),
    ];
    for (k, v) in expect {
        assert_eq!(m.get(k).map(String::as_str), Some(v), "{k}");
    }
    let first: Vec<_> = out.lines().take(2).collect();
    assert_eq!(
        first,
        vec![
            format!("zk_version\t{VERSION}"),
            "zk_server_state\tstandalone".into()
        ]
    );
    assert!(!m.contains_key("zk_learners"));
}

#[test]
fn mntr_leader_extras_and_summaries() {
    let mut s = sample();
    s.state = ServerState::Leader;
    s.leader = Some(LeaderStats {
        learners: 2,
        synced_followers: 2,
        pending_syncs: 0,
        ..Default::default()
    });
    s.extra_metrics = vec![("bytes_received_count".into(), Metric::Int(48))];
    s.summaries = vec![
        (
            "fsynctime".into(),
            Summary {
                count: 4,
                sum: 10,
                min: 1,
                max: 5,
                percentiles: None,
            },
        ),
        (
            "readlatency".into(),
            Summary {
                count: 0,
                sum: 0,
                min: 0,
                max: 0,
                percentiles: Some([0, 0, 0, 0]),
            },
        ),
    ];
    let m = mntr_map(&render(FourLetterWord::Mntr, &s));
    assert_eq!(m["zk_server_state"], "leader");
    assert_eq!(m["zk_learners"], "2");
    assert_eq!(m["zk_synced_followers"], "2");
    assert_eq!(m["zk_bytes_received_count"], "48");
    assert_eq!(m["zk_avg_fsynctime"], "2.5");
    assert_eq!(m["zk_cnt_fsynctime"], "4");
    assert_eq!(m["zk_sum_fsynctime"], "10");
    assert!(!m.contains_key("zk_p50_fsynctime"));
    assert_eq!(m["zk_avg_readlatency"], "0.0");
    assert_eq!(m["zk_p999_readlatency"], "0");
}

#[test]
fn java_double_format() {
    assert_eq!(java_double(0.0), "0.0");
    assert_eq!(java_double(1.0), "1.0");
    assert_eq!(java_double(0.5), "0.5");
    assert_eq!(java_double(1.0 / 3.0), "0.3333333333333333");
    assert_eq!(java_double(12345.25), "12345.25");
    assert_eq!(java_double(1e7), "1.0E7");
    assert_eq!(java_double(0.0005), "5.0E-4");
}

#[test]
fn not_serving() {
    let mut s = sample();
    s.serving = false;
    for w in [
        FourLetterWord::Srvr,
        FourLetterWord::Stat,
        FourLetterWord::Mntr,
        FourLetterWord::Cons,
        FourLetterWord::Conf,
        FourLetterWord::Dump,
        FourLetterWord::Wchs,
        FourLetterWord::Srst,
    ] {
        assert_eq!(render(w, &s), NOT_SERVING, "{w}");
    }
    assert_eq!(render(FourLetterWord::Ruok, &s), "imok");
    assert_eq!(render(FourLetterWord::Isro, &s), "null");
    assert!(render(FourLetterWord::Envi, &s).starts_with("Environment:\n"));
}

#[test]
fn whitelist_gating() {
    let s = sample();
    let wl = Whitelist::zookeeper_default();
    assert_eq!(
        respond(FourLetterWord::Ruok, &wl, &s),
        "ruok is not executed because it is not in the whitelist.\n"
    );
    assert!(respond(FourLetterWord::Srvr, &wl, &s).starts_with("Zookeeper version: "));
    let wl = Whitelist::parse("ruok").unwrap();
    assert_eq!(respond(FourLetterWord::Ruok, &wl, &s), "imok");
    assert_eq!(
        respond(FourLetterWord::Mntr, &wl, &s),
        "mntr is not executed because it is not in the whitelist.\n"
    );
    assert_eq!(
        respond(FourLetterWord::Mntr, &Whitelist::all(), &s),
        r(FourLetterWord::Mntr)
    );
}

#[test]
fn detail_hints() {
    assert!(FourLetterWord::Cons.uses_connections());
    assert!(!FourLetterWord::Srvr.uses_connections());
    assert!(FourLetterWord::Wchp.uses_watch_list());
    assert!(FourLetterWord::Dump.uses_session_dump());
}

#[test]
fn fd_counts_are_readable() {
    let (open, max) = file_descriptor_counts();
    assert!(open > 0);
    assert!(max >= open);
}
