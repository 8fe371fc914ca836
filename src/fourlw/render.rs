//! Text of each four-letter word, laid out line for line as ZooKeeper 3.8
//! prints it (checked against a real 3.8 server), so scripts that parse
//! `Mode:`, `Zxid:`, `Node count:` or `zk_*` keys keep working.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use super::snapshot::{ConnectionInfo, Metric, ServerSnapshot, Summary};
use super::word::{not_whitelisted_reply, FourLetterWord, Whitelist};

/// ZooKeeper's answer when the server is not serving (most commands).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// Whitelist gate plus [`render`]: what to write back for `cmd`.
pub fn respond(cmd: FourLetterWord, whitelist: &Whitelist, s: &ServerSnapshot) -> String {
    if whitelist.contains(cmd) {
        render(cmd, s)
    } else {
        not_whitelisted_reply(cmd)
    }
}

/// The full reply to `cmd` (the connection is closed after writing it).
pub fn render(cmd: FourLetterWord, s: &ServerSnapshot) -> String {
    use FourLetterWord as W;
    match cmd {
        W::Ruok => "imok".to_string(),
        W::Envi => envi(s),
        W::Gtmk | W::Stmk => s.trace_mask.to_string(),
        W::TelnetClose => String::new(),
        W::Isro if !s.serving => "null".to_string(),
        _ if !s.serving => NOT_SERVING.to_string(),
        W::Isro => isro(s),
        W::Srvr => stat(s, false),
        W::Stat => stat(s, true),
        W::Srst => "Server stats reset.\n".to_string(),
        W::Crst => "Connection stats reset.\n".to_string(),
        W::Cons => cons(s),
        W::Conf => conf(s),
        W::Dirs => dirs(s),
        W::Dump => dump(s),
        W::Wchs => wchs(s),
        W::Wchc => wchc(s),
        W::Wchp => wchp(s),
        W::Mntr => mntr(s),
        W::Hash => hash(s),
    }
}

fn isro(s: &ServerSnapshot) -> String {
    let ro = s.state == super::ServerState::ReadOnly;
    (if ro { "ro" } else { "rw" }).to_string()
}

/// Java's `Long.toHexString`: two's complement, lower case, no padding.
pub fn hex(v: i64) -> String {
    format!("{:x}", v as u64)
}

/// Java's `Double.toString` for the values a server prints.
pub fn java_double(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }
        .into();
    }
    let a = v.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let t = format!("{v}");
        return if t.contains('.') { t } else { format!("{t}.0") };
    }
    let t = format!("{v:e}");
    let (mantissa, exp) = t.split_once('e').unwrap_or((&t, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exp}")
}

/// Java's `InetSocketAddress.toString` for a resolved, unnamed address:
/// `/1.2.3.4:5` or `/0:0:0:0:0:0:0:1:5` (IPv6 uncompressed, no brackets).
pub fn java_socket_addr(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => format!("/{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => {
            let segs: Vec<String> = v6
                .ip()
                .segments()
                .iter()
                .map(|s| format!("{s:x}"))
                .collect();
            format!("/{}:{}", segs.join(":"), v6.port())
        }
    }
}

/// `srvr` (`with_clients == false`) and `stat`.
fn stat(s: &ServerSnapshot, with_clients: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Zookeeper version: {}", s.version);
    if s.state == super::ServerState::ReadOnly {
        o.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if with_clients {
        o.push_str("Clients:\n");
        for c in &s.connections {
            o.push_str(&connection_line(c, true));
            o.push('\n');
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "Latency min/avg/max: {}/{}/{}",
        s.latency_ms_min,
        java_double(s.latency_ms_avg),
        s.latency_ms_max
    );
    let _ = writeln!(o, "Received: {}", s.packets_received);
    let _ = writeln!(o, "Sent: {}", s.packets_sent);
    let _ = writeln!(o, "Connections: {}", s.num_alive_connections);
    let _ = writeln!(o, "Outstanding: {}", s.outstanding_requests);
    let _ = writeln!(o, "Zxid: 0x{}", hex(s.last_processed_zxid));
    let _ = writeln!(o, "Mode: {}", s.state.as_str());
    let _ = writeln!(o, "Node count: {}", s.node_count);
    if let (super::ServerState::Leader, Some(l)) = (s.state, &s.leader) {
        let _ = writeln!(
            o,
            "Proposal sizes last/min/max: {}/{}/{}",
            l.last_proposal_size_bytes, l.min_proposal_size_bytes, l.max_proposal_size_bytes
        );
    }
    o
}

/// One connection, without the trailing newline (`brief` for `stat`).
fn connection_line(c: &ConnectionInfo, brief: bool) -> String {
    let mut o = format!(
        " {}[{}](queued={},recved={},sent={}",
        java_socket_addr(&c.remote),
        hex(i64::from(c.interest_ops)),
        c.queued,
        c.packets_received,
        c.packets_sent
    );
    if let (false, Some(x)) = (brief, &c.session) {
        if x.session_id != 0 {
            let _ = write!(
                o,
                ",sid=0x{},lop={},est={},to={}",
                hex(x.session_id),
                x.last_operation,
                x.established_unix_ms,
                x.timeout_ms
            );
            if x.last_cxid >= 0 {
                let _ = write!(o, ",lcxid=0x{}", hex(x.last_cxid));
            }
            let _ = write!(
                o,
                ",lzxid=0x{},lresp={},llat={},minlat={},avglat={},maxlat={}",
                hex(x.last_zxid),
                x.last_response_ms,
                x.last_latency_ms,
                x.min_latency_ms,
                x.avg_latency_ms,
                x.max_latency_ms
            );
        }
    }
    o.push(')');
    o
}

fn cons(s: &ServerSnapshot) -> String {
    let mut o = String::new();
    for c in &s.connections {
        o.push_str(&connection_line(c, false));
        o.push('\n');
    }
    o.push('\n');
    o
}

fn conf(s: &ServerSnapshot) -> String {
    let c = &s.conf;
    let mut o = String::new();
    let _ = writeln!(o, "clientPort={}", c.client_port);
    let _ = writeln!(o, "secureClientPort={}", c.secure_client_port);
    let _ = writeln!(o, "dataDir={}", c.data_dir.display());
    let _ = writeln!(o, "dataDirSize={}", s.data_dir_size_bytes);
    let _ = writeln!(o, "dataLogDir={}", c.data_log_dir.display());
    let _ = writeln!(o, "dataLogSize={}", s.log_dir_size_bytes);
    let _ = writeln!(o, "tickTime={}", c.tick_time_ms);
    let _ = writeln!(o, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(o, "minSessionTimeout={}", c.session_timeout_ms_min);
    let _ = writeln!(o, "maxSessionTimeout={}", c.session_timeout_ms_max);
    let _ = writeln!(
        o,
        "clientPortListenBacklog={}",
        c.client_port_listen_backlog
    );
    let _ = writeln!(o, "serverId={}", c.server_id);
    o
}

fn dirs(s: &ServerSnapshot) -> String {
    format!(
        "datadir_size: {}\nlogdir_size: {}\n",
        s.data_dir_size_bytes, s.log_dir_size_bytes
    )
}

fn envi(s: &ServerSnapshot) -> String {
    let e = &s.environment;
    let lines = [
        ("zookeeper.version", s.version.as_str()),
        ("host.name", &e.host_name),
        ("os.name", &e.os_name),
        ("os.arch", &e.os_arch),
        ("os.version", &e.os_version),
        ("user.name", &e.user_name),
        ("user.home", &e.user_home),
        ("user.dir", &e.user_dir),
        ("java.io.tmpdir", &e.tmp_dir),
    ];
    let mut o = String::from("Environment:\n");
    for (k, v) in lines {
        let _ = writeln!(o, "{k}={v}");
    }
    o
}

/// `Sets (buckets)/(elements):` then each bucket, oldest first.
fn expiry_sets(o: &mut String, items: impl Iterator<Item = (u64, String)>) {
    let mut buckets: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut total = 0;
    for (at, line) in items {
        buckets.entry(at).or_default().push(line);
        total += 1;
    }
    let _ = writeln!(o, "Sets ({})/({}):", buckets.len(), total);
    for (at, lines) in buckets {
        let _ = writeln!(o, "{} expire at {}:", lines.len(), java_date_utc(at));
        for l in lines {
            let _ = writeln!(o, "\t{l}");
        }
    }
}

fn dump(s: &ServerSnapshot) -> String {
    let mut o = String::from("SessionTracker dump:\nSession ");
    let sessions = s
        .sessions
        .iter()
        .map(|x| (x.expires_at_unix_ms, format!("0x{}", hex(x.session_id))));
    expiry_sets(&mut o, sessions);
    o.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(o, "Sessions with Ephemerals ({}):", s.ephemerals.len());
    for e in &s.ephemerals {
        let _ = writeln!(o, "0x{}:", hex(e.session_id));
        for p in &e.paths {
            let _ = writeln!(o, "\t{p}");
        }
    }
    o.push_str("Connections dump:\nConnections ");
    let conns = s.connections.iter().map(|c| {
        let sid = c.session.as_ref().map_or(0, |x| x.session_id);
        let line = format!(
            "ip: {} sessionId: 0x{}",
            java_socket_addr(&c.remote),
            hex(sid)
        );
        (c.expires_at_unix_ms, line)
    });
    expiry_sets(&mut o, conns);
    o
}

/// Data watches grouped by session, then by path, in first-seen order.
fn grouped(s: &ServerSnapshot, by_path: bool) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    for w in &s.data_watches {
        let sid = format!("0x{}", hex(w.session_id));
        let (key, item) = if by_path {
            (w.path.clone(), sid)
        } else {
            (sid, w.path.clone())
        };
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        if !groups[i].1.contains(&item) {
            groups[i].1.push(item);
        }
    }
    groups
}

fn wchs(s: &ServerSnapshot) -> String {
    let by_session = grouped(s, false);
    let paths = grouped(s, true).len();
    let total: usize = by_session.iter().map(|g| g.1.len()).sum();
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        by_session.len(),
        paths,
        total
    )
}

fn watch_groups(groups: Vec<(String, Vec<String>)>) -> String {
    let mut o = String::new();
    for (k, items) in groups {
        let _ = writeln!(o, "{k}");
        for i in items {
            let _ = writeln!(o, "\t{i}");
        }
    }
    o.push('\n');
    o
}

fn wchc(s: &ServerSnapshot) -> String {
    watch_groups(grouped(s, false))
}

fn wchp(s: &ServerSnapshot) -> String {
    watch_groups(grouped(s, true))
}

fn hash(s: &ServerSnapshot) -> String {
    let mut o = String::new();
    for (zxid, digest) in &s.digests {
        let _ = writeln!(o, "{}: {}", hex(*zxid), digest);
    }
    o
}

fn metric_line(o: &mut String, key: &str, value: &Metric) {
    let v = match value {
        Metric::Int(i) => i.to_string(),
        Metric::Float(f) => java_double(*f),
        Metric::Text(t) => t.clone(),
    };
    let _ = writeln!(o, "zk_{key}\t{v}");
}

fn summary_lines(o: &mut String, name: &str, x: &Summary) {
    let avg = if x.count == 0 {
        0.0
    } else {
        x.sum as f64 / x.count as f64
    };
    metric_line(o, &format!("avg_{name}"), &Metric::Float(avg));
    for (prefix, v) in [
        ("min", x.min),
        ("max", x.max),
        ("cnt", x.count),
        ("sum", x.sum),
    ] {
        metric_line(o, &format!("{prefix}_{name}"), &Metric::Int(v as i64));
    }
    if let Some(p) = x.percentiles {
        for (prefix, v) in ["p50", "p95", "p99", "p999"].iter().zip(p) {
            metric_line(o, &format!("{prefix}_{name}"), &Metric::Int(v as i64));
        }
    }
}

/// The standard `mntr` gauges, in ZooKeeper's registration order.
fn mntr_gauges(s: &ServerSnapshot) -> Vec<(&'static str, Metric)> {
    use Metric::{Float, Int, Text};
    let n = |v: u64| Int(v as i64);
    vec![
        ("version", Text(s.version.clone())),
        ("server_state", Text(s.state.as_str().to_string())),
        ("avg_latency", Float(s.latency_ms_avg)),
        ("max_latency", n(s.latency_ms_max)),
        ("min_latency", n(s.latency_ms_min)),
        ("packets_received", n(s.packets_received)),
        ("packets_sent", n(s.packets_sent)),
        ("num_alive_connections", n(s.num_alive_connections)),
        ("outstanding_requests", n(s.outstanding_requests)),
        ("uptime", n(s.uptime_ms)),
        ("znode_count", n(s.node_count)),
        ("watch_count", n(s.watch_count)),
        ("ephemerals_count", n(s.ephemerals_count)),
        ("approximate_data_size", n(s.approximate_data_size_bytes)),
        ("global_sessions", n(s.global_sessions)),
        ("local_sessions", n(s.local_sessions)),
        (
            "open_file_descriptor_count",
            Int(s.open_file_descriptor_count),
        ),
        (
            "max_file_descriptor_count",
            Int(s.max_file_descriptor_count),
        ),
        ("connection_drop_probability", Float(0.0)),
        (
            "last_client_response_size",
            Int(s.last_client_response_size_bytes),
        ),
        (
            "max_client_response_size",
            Int(s.max_client_response_size_bytes),
        ),
        (
            "min_client_response_size",
            Int(s.min_client_response_size_bytes),
        ),
        ("outstanding_tls_handshake", Int(0)),
        ("auth_failed_count", n(s.auth_failed_count)),
        ("non_mtls_remote_conn_count", Int(0)),
        ("non_mtls_local_conn_count", Int(0)),
    ]
}

fn leader_gauges(l: &super::LeaderStats) -> Vec<(&'static str, Metric)> {
    let n = |v: u64| Metric::Int(v as i64);
    vec![
        ("learners", n(l.learners)),
        ("synced_followers", n(l.synced_followers)),
        (
            "synced_non_voting_followers",
            n(l.synced_non_voting_followers),
        ),
        ("synced_observers", n(l.synced_observers)),
        ("pending_syncs", n(l.pending_syncs)),
        (
            "last_proposal_size",
            Metric::Int(l.last_proposal_size_bytes),
        ),
        ("max_proposal_size", Metric::Int(l.max_proposal_size_bytes)),
        ("min_proposal_size", Metric::Int(l.min_proposal_size_bytes)),
    ]
}

fn mntr(s: &ServerSnapshot) -> String {
    let mut o = String::new();
    for (k, v) in mntr_gauges(s) {
        metric_line(&mut o, k, &v);
    }
    if let (super::ServerState::Leader, Some(l)) = (s.state, &s.leader) {
        for (k, v) in leader_gauges(l) {
            metric_line(&mut o, k, &v);
        }
    }
    for (k, v) in &s.extra_metrics {
        metric_line(&mut o, k, v);
    }
    for (k, x) in &s.summaries {
        summary_lines(&mut o, k, x);
    }
    o
}

/// Java's `Date.toString()` in UTC: `Sun Nov 22 00:24:21 UTC 2026`.
pub fn java_date_utc(unix_ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = unix_ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
