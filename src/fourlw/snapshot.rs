//! `ServerSnapshot`: every value a four-letter word can print, as plain data.
//!
//! The runtime fills one of these (on the shard that accepted the command
//! connection) and hands it to [`super::render`]. Nothing here refers back to
//! live server state, so rendering is a pure function and easy to test.
//! Units are in field names; ids and zxids are `i64` like ZooKeeper's `long`
//! (they print as unsigned hex, as Java's `Long.toHexString` does).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::Config;

/// The version string after `Zookeeper version: ` and in `zk_version`.
///
/// Scripts take the leading `x.y.z` (split on `-`) to decide which features
/// exist, so it starts with the ZooKeeper version whose behaviour Warden
/// implements; the rest says which server this really is.
pub const VERSION: &str = concat!(
    "3.8.4-warden-",
    env!("CARGO_PKG_VERSION"),
    ", built on unknown"
);

/// The role shown as `Mode:` and `zk_server_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Standalone,
    Leader,
    Follower,
    Observer,
    ReadOnly,
}

impl ServerState {
    /// ZooKeeper's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standalone => "standalone",
            Self::Leader => "leader",
            Self::Follower => "follower",
            Self::Observer => "observer",
            Self::ReadOnly => "read-only",
        }
    }
}

/// Everything the four-letter words print.
#[derive(Debug, Clone)]
pub struct ServerSnapshot {
    /// Normally [`VERSION`].
    pub version: String,
    /// False while the server is starting or cannot serve (no quorum): most
    /// commands then answer ZooKeeper's "not currently serving" line.
    pub serving: bool,
    pub state: ServerState,
    /// Server-wide request latency since start or the last `srst`.
    pub latency_ms_min: u64,
    pub latency_ms_avg: f64,
    pub latency_ms_max: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// Client connections, including the command connection itself.
    pub num_alive_connections: u64,
    /// Requests received and not yet answered, all connections.
    pub outstanding_requests: u64,
    pub last_processed_zxid: i64,
    pub node_count: u64,
    /// Sum of data and child watch registrations (`zk_watch_count`).
    pub watch_count: u64,
    /// Ephemeral znodes, all sessions (`zk_ephemerals_count`).
    pub ephemerals_count: u64,
    /// Bytes of paths plus data in the tree (`zk_approximate_data_size`).
    pub approximate_data_size_bytes: u64,
    pub global_sessions: u64,
    pub local_sessions: u64,
    pub uptime_ms: u64,
    /// `-1` when unknown, as ZooKeeper prints it.
    pub open_file_descriptor_count: i64,
    pub max_file_descriptor_count: i64,
    pub last_client_response_size_bytes: i64,
    pub min_client_response_size_bytes: i64,
    pub max_client_response_size_bytes: i64,
    pub auth_failed_count: u64,
    /// Trace mask shown by `gtmk`/`stmk` (ZooKeeper's default is 306).
    pub trace_mask: i64,
    /// `dirs` and `conf` sizes.
    pub data_dir_size_bytes: u64,
    pub log_dir_size_bytes: u64,
    /// Only when `state` is `Leader`.
    pub leader: Option<LeaderStats>,
    /// Per-connection stats (`cons`, `stat`, `dump`); fill only when
    /// [`super::FourLetterWord::uses_connections`].
    pub connections: Vec<ConnectionInfo>,
    /// Data watch registrations (`wchs`, `wchc`, `wchp`); ZooKeeper lists its
    /// data-watch table only (getData/exists and persistent watches), not
    /// child watches. Fill only when `uses_watch_list`.
    pub data_watches: Vec<WatchEntry>,
    /// Live sessions with their expiry bucket (`dump`).
    pub sessions: Vec<SessionExpiry>,
    /// Ephemeral paths per owning session (`dump`).
    pub ephemerals: Vec<SessionEphemerals>,
    /// `(zxid, digest)` pairs for `hash`; empty when digests are off.
    pub digests: Vec<(i64, u64)>,
    pub conf: ConfValues,
    pub environment: Environment,
    /// Extra `mntr` lines after the standard ones, e.g. counters
    /// (`("bytes_received_count", Metric::Int(..))`); keys without `zk_`.
    pub extra_metrics: Vec<(String, Metric)>,
    /// Extra `mntr` summaries, printed as `avg_/min_/max_/cnt_/sum_<name>`.
    pub summaries: Vec<(String, Summary)>,
}

/// Leader-only `mntr` gauges and the `stat` proposal-size line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderStats {
    pub learners: u64,
    pub synced_followers: u64,
    pub synced_non_voting_followers: u64,
    pub synced_observers: u64,
    pub pending_syncs: u64,
    pub last_proposal_size_bytes: i64,
    pub min_proposal_size_bytes: i64,
    pub max_proposal_size_bytes: i64,
}

/// One client connection, as `cons` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionInfo {
    pub remote: SocketAddr,
    /// Java NIO interest ops: 1 = reading (an established connection),
    /// 0 = not reading (e.g. the command connection itself), 5 = read+write.
    pub interest_ops: u32,
    /// Requests of this connection not yet answered.
    pub queued: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// `None` before the connect request (no session yet).
    pub session: Option<ConnectionSession>,
    /// When the connection is considered idle-expired, unix ms (`dump`'s
    /// "Connections" buckets). Use the session expiry if nothing better.
    pub expires_at_unix_ms: u64,
}

/// The session half of a `cons` line.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSession {
    pub session_id: i64,
    /// Four-letter op code of the last request: `NA` (none yet), `PING`,
    /// `GETD`, `SETD`, `CREA`, `DELE`, `EXIS`, `GETC`, `GET2`, `MULT`,
    /// `SESS`, `SYNC`, `SETW`, `CLOS`, ... (ZooKeeper's `Request.op2String`).
    pub last_operation: String,
    pub established_unix_ms: u64,
    pub timeout_ms: u32,
    /// Printed only when `>= 0`.
    pub last_cxid: i64,
    /// `-1` before any response.
    pub last_zxid: i64,
    /// Monotonic milliseconds of the last response (ZooKeeper prints its
    /// elapsed-time clock here, not wall time).
    pub last_response_ms: u64,
    pub last_latency_ms: u64,
    pub min_latency_ms: u64,
    pub avg_latency_ms: u64,
    pub max_latency_ms: u64,
}

/// One data watch: session `session_id` watches `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEntry {
    pub session_id: i64,
    pub path: String,
}

/// A live session and the (tick-rounded) time it expires, unix ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionExpiry {
    pub session_id: i64,
    pub expires_at_unix_ms: u64,
}

/// Ephemeral znodes owned by one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEphemerals {
    pub session_id: i64,
    pub paths: Vec<String>,
}

/// A value printed by `mntr`: integers print as integers, floats as Java
/// doubles (`0.0`, `1.5`), text as is.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    Int(i64),
    Float(f64),
    Text(String),
}

/// An avg/min/max/count/sum series (ZooKeeper's summary metrics);
/// percentiles are `[p50, p95, p99, p999]` when the series keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    pub sum: u64,
    pub min: u64,
    pub max: u64,
    pub percentiles: Option<[u64; 4]>,
}

/// The lines of `conf` (standalone form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfValues {
    pub client_port: u16,
    /// `-1`: Warden has no TLS client port.
    pub secure_client_port: i32,
    /// Absolute snapshot directory.
    pub data_dir: PathBuf,
    /// Absolute txn-log directory.
    pub data_log_dir: PathBuf,
    pub tick_time_ms: u32,
    pub max_client_cnxns: u32,
    pub session_timeout_ms_min: u32,
    pub session_timeout_ms_max: u32,
    /// `-1` = the OS default backlog.
    pub client_port_listen_backlog: i32,
    /// `myid`, 0 when standalone.
    pub server_id: u64,
}

impl ConfValues {
    /// Values from the configuration; directories are made absolute
    /// against the current directory. The runtime may replace the
    /// directories with the exact ones its storage uses.
    pub fn from_config(c: &Config) -> Self {
        Self {
            client_port: c.client_port,
            secure_client_port: -1,
            data_dir: absolute(&c.data_dir),
            data_log_dir: absolute(&c.data_log_dir),
            tick_time_ms: c.tick_time_ms,
            max_client_cnxns: c.max_client_cnxns_per_ip,
            session_timeout_ms_min: c.session_timeout_ms_min,
            session_timeout_ms_max: c.session_timeout_ms_max,
            client_port_listen_backlog: -1,
            server_id: c.my_id.unwrap_or(0),
        }
    }
}

fn absolute(p: &std::path::Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The lines of `envi` that make sense for a non-JVM server (ZooKeeper also
/// prints `java.*` and JVM heap lines; Warden omits them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    pub host_name: String,
    pub os_name: String,
    pub os_arch: String,
    pub os_version: String,
    pub user_name: String,
    pub user_home: String,
    /// The working directory (`user.dir`).
    pub user_dir: String,
    pub tmp_dir: String,
}

const NA: &str = "<NA>";

impl Environment {
    /// Reads the values from this process (call once at start-up); any
    /// value that cannot be read is `<NA>`, as in ZooKeeper.
    pub fn probe() -> Self {
        let uts = uname();
        let user_name = std::env::var("USER").unwrap_or_else(|_| NA.into());
        Self {
            host_name: uts.as_ref().map_or(NA.into(), |u| u.0.clone()),
            os_name: uts.as_ref().map_or(NA.into(), |u| u.1.clone()),
            os_arch: std::env::consts::ARCH.to_string(),
            os_version: uts.as_ref().map_or(NA.into(), |u| u.2.clone()),
            user_name,
            user_home: std::env::var("HOME").unwrap_or_else(|_| NA.into()),
            user_dir: std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| NA.into()),
            tmp_dir: std::env::temp_dir().display().to_string(),
        }
    }
}

/// (nodename, sysname, release) from uname(2).
fn uname() -> Option<(String, String, String)> {
    // SAFETY: utsname is plain old data; uname fills it or fails.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let field = |f: &[libc::c_char]| -> String {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Some((field(&u.nodename), field(&u.sysname), field(&u.release)))
}

impl ServerSnapshot {
    /// A snapshot of an idle, serving standalone server with the given
    /// configuration and all counters zero; the runtime overwrites fields.
    pub fn new(config: &Config, environment: Environment) -> Self {
        Self {
            version: VERSION.to_string(),
            serving: true,
            state: ServerState::Standalone,
            latency_ms_min: 0,
            latency_ms_avg: 0.0,
            latency_ms_max: 0,
            packets_received: 0,
            packets_sent: 0,
            num_alive_connections: 0,
            outstanding_requests: 0,
            last_processed_zxid: 0,
            node_count: 0,
            watch_count: 0,
            ephemerals_count: 0,
            approximate_data_size_bytes: 0,
            global_sessions: 0,
            local_sessions: 0,
            uptime_ms: 0,
            open_file_descriptor_count: -1,
            max_file_descriptor_count: -1,
            last_client_response_size_bytes: -1,
            min_client_response_size_bytes: -1,
            max_client_response_size_bytes: -1,
            auth_failed_count: 0,
            trace_mask: 306,
            data_dir_size_bytes: 0,
            log_dir_size_bytes: 0,
            leader: None,
            connections: Vec::new(),
            data_watches: Vec::new(),
            sessions: Vec::new(),
            ephemerals: Vec::new(),
            digests: Vec::new(),
            conf: ConfValues::from_config(config),
            environment,
            extra_metrics: Vec::new(),
            summaries: Vec::new(),
        }
    }
}

/// Open and maximum file descriptors of this process (`/proc/self/fd`,
/// RLIMIT_NOFILE soft limit); `-1` for a value that cannot be read.
pub fn file_descriptor_counts() -> (i64, i64) {
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as i64)
        .unwrap_or(-1);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        i64::try_from(lim.rlim_cur).unwrap_or(i64::MAX)
    } else {
        -1
    };
    (open, max)
}
