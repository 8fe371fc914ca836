//! Server configuration: `zoo.cfg` and `myid`, read the way ZooKeeper reads
//! them, into one plain [`Config`] value that is passed to whatever needs it
//! (there are no globals).
//!
//! Guarantees:
//! - every ZooKeeper key Warden implements is read with ZooKeeper's meaning
//!   and default, including keys ZooKeeper only takes as system properties
//!   (`jute.maxbuffer`, `zookeeper.extendedTypesEnabled`, ...);
//! - an invalid value stops start-up with a [`ConfigError`] naming the file,
//!   line, key and value; nothing is silently clamped except
//!   `autopurge.snapRetainCount` below 3, which ZooKeeper also raises to 3
//!   (with a warning);
//! - an unknown key, or a ZooKeeper key Warden does not act on, is not an
//!   error but a [`ConfigWarning`] returned to the caller to log;
//! - `myid` is read from `dataDir` only when `server.N` lines exist, and must
//!   name one of them.

mod keys;
mod properties;
mod server_line;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::fourlw::Whitelist;

pub use server_line::{PeerType, ServerSpec};

/// The built-in standalone configuration (`conf/zoo.cfg`), used when the
/// command line names no file.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../conf/zoo.cfg");

/// What [`Config::load`] calls the embedded file in messages.
pub const EMBEDDED_ORIGIN: &str = "<embedded conf/zoo.cfg>";

/// ZooKeeper's default `tickTime` when the key is absent.
pub const DEFAULT_TICK_TIME_MS: u32 = 3000;
/// ZooKeeper's default connection limit per client IP.
pub const DEFAULT_MAX_CLIENT_CNXNS: u32 = 60;
/// ZooKeeper's `jute.maxbuffer` default (0xfffff).
pub const DEFAULT_JUTE_MAX_BUFFER_BYTES: u32 = 0xfffff;
/// ZooKeeper's `zookeeper.globalOutstandingLimit` default.
pub const DEFAULT_GLOBAL_OUTSTANDING_LIMIT: u32 = 1000;
/// ZooKeeper keeps at least this many snapshots when purging.
pub const MIN_SNAP_RETAIN_COUNT: u32 = 3;
pub const DEFAULT_MAX_CONNECTIONS_PER_SHARD: u32 = 10_000;
pub const DEFAULT_MAX_WATCHES_PER_SESSION: u32 = 1_000_000;
/// ZooKeeper's default `fsync.warningthresholdms`.
pub const DEFAULT_FSYNC_WARNING_THRESHOLD_MS: u64 = 1000;
/// ZooKeeper's default `snapCount`: txns between snapshots (randomised
/// between half and all of it).
pub const DEFAULT_SNAP_COUNT: u32 = 100_000;
/// ZooKeeper's default `snapSizeLimitInKb`: 4 GiB of txns between snapshots.
pub const DEFAULT_SNAP_SIZE_LIMIT_KB: u64 = 4 * 1024 * 1024;
/// Preallocated size of each txn log file (`preAllocSize`, KiB). ZooKeeper
/// grows its files by this much; Warden writes each file out in full.
pub const DEFAULT_PREALLOC_SIZE_KB: u32 = 64 * 1024;
/// ZooKeeper's default interval of the container and TTL sweep
/// (`znode.container.checkIntervalMs`).
pub const DEFAULT_CONTAINER_CHECK_INTERVAL_MS: u32 = 60_000;

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `tickTime`: the basic time unit (heartbeats, session expiry rounding).
    pub tick_time_ms: u32,
    /// `initLimit`: ticks a follower may take to sync with the leader.
    /// Required with `server.N` lines; 0 when absent in standalone mode.
    pub init_limit_ticks: u32,
    /// `syncLimit`: ticks a follower may lag. Same rule as `init_limit_ticks`.
    pub sync_limit_ticks: u32,
    /// `dataDir`: snapshots and `myid`.
    pub data_dir: PathBuf,
    /// `dataLogDir`: transaction logs; defaults to `data_dir`.
    pub data_log_dir: PathBuf,
    /// `clientPort` (or the port of this server's `server.N` client address).
    pub client_port: u16,
    /// `clientPortAddress`: host or IP to bind; `None` = all interfaces.
    pub client_port_address: Option<String>,
    /// `maxClientCnxns`: concurrent connections per client IP; 0 = no limit.
    pub max_client_cnxns_per_ip: u32,
    /// `minSessionTimeout`, default 2 x tickTime.
    pub session_timeout_ms_min: u32,
    /// `maxSessionTimeout`, default 20 x tickTime.
    pub session_timeout_ms_max: u32,
    /// `jute.maxbuffer`: largest request/response packet and znode.
    pub jute_max_buffer_bytes: u32,
    /// `4lw.commands.whitelist`: enabled four-letter words.
    pub four_letter_words: Whitelist,
    /// `extendedTypesEnabled`: TTL nodes and the server-id bits in zxids.
    pub extended_types_enabled: bool,
    /// `autopurge.snapRetainCount`, at least 3.
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval` in hours; 0 = auto-purge off.
    pub autopurge_purge_interval_hours: u32,
    /// `server.N` lines, sorted by id; empty = standalone.
    pub servers: Vec<ServerSpec>,
    /// `peerType`: this server's role if its `server.N` line does not say.
    pub peer_type: PeerType,
    /// Contents of `dataDir/myid`; `Some` exactly when `servers` is not empty.
    pub my_id: Option<u64>,
    /// `shards`: client-connection executors (default: online CPUs).
    pub shards: usize,
    /// `warden.maxConnectionsPerShard`.
    pub max_connections_per_shard: u32,
    /// `warden.maxWatchesPerSession`.
    pub max_watches_per_session: u32,
    /// `globalOutstandingLimit`: requests in flight before reads throttle.
    pub global_outstanding_limit: u32,
    /// `forceSync`: fsync the txn log before acknowledging (stored; the
    /// storage layer decides what "no" means).
    pub force_sync: bool,
    /// `fsync.warningthresholdms`: an fdatasync of the txn log that takes
    /// at least this long is logged as a warning.
    pub fsync_warning_threshold_ms: u64,
    /// How often empty containers and expired TTL nodes are swept
    /// (`znode.container.checkIntervalMs`, a system property in ZooKeeper).
    pub container_check_interval_ms: u32,
    /// `snapCount`: txns between snapshots.
    pub snap_count: u32,
    /// `snapSizeLimitInKb`, in bytes: txn bytes between snapshots (0 = off).
    pub snap_size_limit_bytes: u64,
    /// `preAllocSize`, in bytes: size of each txn log file.
    pub prealloc_size_bytes: u64,
    /// `skipACL=yes` (system property `zookeeper.skipACL`): no ACL check
    /// anywhere, as if every client were the super user.
    pub skip_acl: bool,
    /// `enforceQuota` (`zookeeper.enforceQuota`): writes over a hard quota
    /// fail with QuotaExceeded.
    pub enforce_quota: bool,
    /// `DigestAuthenticationProvider.superDigest`
    /// (`zookeeper.DigestAuthenticationProvider.superDigest`): the digest id
    /// whose `addauth digest` makes a connection the super user.
    pub super_digest: Option<String>,
    /// SASL settings (`java.security.auth.login.config`, `authProvider.N`,
    /// `superUser`, `sasl.serverconfig`).
    pub sasl: SaslConfig,
}

/// ZooKeeper's `sasl.serverconfig` default: the JAAS section of the server.
pub const DEFAULT_SASL_SERVER_SECTION: &str = "Server";

/// What ZooKeeper takes from system properties for SASL, as Warden reads it
/// from zoo.cfg (and the JAAS path also from `SERVER_JVMFLAGS`/`JVMFLAGS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslConfig {
    /// The JAAS login configuration file with the DIGEST-MD5 users; `None`
    /// = SASL off.
    pub jaas_login_config: Option<PathBuf>,
    /// The JAAS section naming the users (`zookeeper.sasl.serverconfig`).
    pub server_section: String,
    /// Extra ACL schemes from `authProvider.N` lines (`sasl` for
    /// `org.apache.zookeeper.server.auth.SASLAuthenticationProvider`).
    pub auth_provider_schemes: Vec<String>,
    /// `zookeeper.superUser` (and `zookeeper.superUser.*`): SASL ids that
    /// are also the super user.
    pub super_users: Vec<String>,
    /// `enforce.auth.schemes` when `enforce.auth.enabled` (or `sasl` with
    /// `sessionRequireClientSASLAuth`): a connection must hold an identity
    /// of one of them before any request other than auth and SASL; empty =
    /// not enforced.
    pub enforce_auth_schemes: Vec<String>,
    /// `allowSaslFailedClients`: keep a connection whose SASL exchange
    /// failed (unless SASL is enforced).
    pub allow_sasl_failed_clients: bool,
}

impl SaslConfig {
    /// `AuthenticationHelper.isSaslAuthRequired`.
    pub fn sasl_required(&self) -> bool {
        self.enforce_auth_schemes.iter().any(|s| s == "sasl")
    }
}

impl Default for SaslConfig {
    fn default() -> Self {
        SaslConfig {
            jaas_login_config: None,
            server_section: DEFAULT_SASL_SERVER_SECTION.to_string(),
            auth_provider_schemes: Vec::new(),
            super_users: Vec::new(),
            enforce_auth_schemes: Vec::new(),
            allow_sasl_failed_clients: false,
        }
    }
}

/// The system property naming the JAAS file, as the JVM spells it.
pub const JAAS_PROPERTY: &str = "java.security.auth.login.config";

/// A key that was accepted but did not (fully) take effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.key, self.message)
    }
}

/// Why the configuration cannot be used; start-up stops.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}:{line}: {message}")]
    Syntax {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("{origin}:{line}: invalid value for {key}: {value:?}: {reason}")]
    InvalidValue {
        origin: String,
        line: usize,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{origin}: {key} is not set{hint}")]
    Missing {
        origin: String,
        key: &'static str,
        hint: &'static str,
    },
    #[error(
        "{origin}: minSessionTimeout ({min}) must not be larger than maxSessionTimeout ({max})"
    )]
    SessionTimeouts { origin: String, min: u32, max: u32 },
    #[error("{origin}: {message}")]
    Inconsistent { origin: String, message: String },
    #[error("myid file {}: {reason}", path.display())]
    MyId { path: PathBuf, reason: String },
}

/// A parsed configuration and the warnings to log.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<ConfigWarning>,
}

impl Config {
    /// Reads `path`, or the embedded default when `None`.
    pub fn load(path: Option<&Path>) -> Result<Loaded, ConfigError> {
        match path {
            Some(p) => Self::from_file(p),
            None => Self::parse_with_jvm_flags(EMBEDDED_DEFAULT, EMBEDDED_ORIGIN, &env_jvm_flags()),
        }
    }

    /// Reads and parses a `zoo.cfg` file (and `myid` if it is a cluster),
    /// over the `-Dzookeeper.*` system properties in `$SERVER_JVMFLAGS` and
    /// `$JVMFLAGS` (zkServer.sh passes both to ZooKeeper).
    pub fn from_file(path: &Path) -> Result<Loaded, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_with_jvm_flags(&text, &path.display().to_string(), &env_jvm_flags())
    }

    /// Parses `zoo.cfg` text; `origin` names it in messages. Reads
    /// `dataDir/myid` when the text has `server.N` lines.
    pub fn parse(text: &str, origin: &str) -> Result<Loaded, ConfigError> {
        Self::parse_with_jvm_flags(text, origin, "")
    }

    /// As [`Config::parse`], over the system properties set by `jvm_flags`
    /// (`-Dzookeeper.skipACL=yes ...`); zoo.cfg keys win.
    pub fn parse_with_jvm_flags(
        text: &str,
        origin: &str,
        jvm_flags: &str,
    ) -> Result<Loaded, ConfigError> {
        let mut loaded = keys::parse_text(text, origin, jvm_flags)?;
        if !loaded.config.servers.is_empty() {
            let id = read_myid(&loaded.config.data_dir)?;
            keys::apply_my_id(&mut loaded.config, id, origin)?;
        }
        Ok(loaded)
    }

    /// True without `server.N` lines.
    pub fn is_standalone(&self) -> bool {
        self.servers.is_empty()
    }

    /// This server's `server.N` line, in a cluster.
    pub fn my_server(&self) -> Option<&ServerSpec> {
        let id = self.my_id?;
        self.servers.iter().find(|s| s.id == id)
    }

    /// This server's role: its `server.N` suffix, else `peerType`.
    pub fn my_peer_type(&self) -> PeerType {
        self.my_server().map_or(self.peer_type, |s| s.peer_type)
    }

    /// Host and port to bind the client listener on (`0.0.0.0` = all).
    pub fn client_bind(&self) -> (&str, u16) {
        let host = self.client_port_address.as_deref().unwrap_or("0.0.0.0");
        (host, self.client_port)
    }
}

/// `$SERVER_JVMFLAGS $JVMFLAGS`, in zkEnv.sh's order (a later flag wins).
fn env_jvm_flags() -> String {
    let var = |k| std::env::var(k).unwrap_or_default();
    format!("{} {}", var("SERVER_JVMFLAGS"), var("JVMFLAGS"))
}

/// The number of online CPUs (`shards` default); at least 1.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}

/// Reads `<data_dir>/myid`: one non-negative integer, surrounding
/// whitespace allowed.
pub fn read_myid(data_dir: &Path) -> Result<u64, ConfigError> {
    let path = data_dir.join("myid");
    let err = |reason: String| ConfigError::MyId {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        err(format!(
            "cannot read it ({e}); with server.N lines each server needs dataDir/myid holding its N"
        ))
    })?;
    let t = text.trim();
    t.parse::<u64>()
        .map_err(|_| err(format!("{t:?} is not a server id (a non-negative integer)")))
}
