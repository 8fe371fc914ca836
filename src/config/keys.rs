//! Key-by-key interpretation of `zoo.cfg` entries into a [`Config`].
//!
//! One function per concern: read each entry into a [`Draft`] (values still
//! optional), then fill defaults and check cross-key rules in [`finish`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use super::properties::{self, Entry};
use super::server_line::{self, PeerType, ServerSpec};
use super::*;
use crate::fourlw::Whitelist;

/// Values as read; `None` = key absent.
#[derive(Default)]
struct Draft {
    tick_time_ms: Option<u32>,
    init_limit_ticks: Option<u32>,
    sync_limit_ticks: Option<u32>,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    client_port: Option<u16>,
    client_port_address: Option<String>,
    max_client_cnxns_per_ip: Option<u32>,
    session_timeout_ms_min: Option<u32>,
    session_timeout_ms_max: Option<u32>,
    jute_max_buffer_bytes: Option<u32>,
    four_letter_words: Option<Whitelist>,
    extended_types_enabled: Option<bool>,
    autopurge_snap_retain_count: Option<u32>,
    autopurge_purge_interval_hours: Option<u32>,
    servers: BTreeMap<u64, ServerSpec>,
    peer_type: Option<PeerType>,
    shards: Option<usize>,
    max_connections_per_shard: Option<u32>,
    max_watches_per_session: Option<u32>,
    global_outstanding_limit: Option<u32>,
    force_sync: Option<bool>,
    fsync_warning_threshold_ms: Option<u64>,
    container_check_interval_ms: Option<u32>,
    snap_count: Option<u32>,
    snap_size_limit_kb: Option<u64>,
    prealloc_size_kb: Option<u32>,
    skip_acl: Option<bool>,
    enforce_quota: Option<bool>,
    super_digest: Option<String>,
    sasl: SaslConfig,
    enforce_auth_enabled: bool,
    enforce_auth_schemes: Vec<String>,
    session_require_client_sasl_auth: bool,
}

/// ZooKeeper keys Warden reads and ignores (a warning, not an error).
const IGNORED_KEYS: &[&str] = &[
    "secureClientPort",
    "secureClientPortAddress",
    "observerMasterPort",
    "clientPortListenBacklog",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "connectToLearnerMasterLimit",
    "electionAlg",
    "electionPortBindRetry",
    "quorumListenOnAllIPs",
    "syncEnabled",
    "dynamicConfigFile",
    "standaloneEnabled",
    "reconfigEnabled",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorum.cnxn.threads.size",
    "oraclePath",
    "txnLogSizeLimitInKb",
    "maxCnxns",
    "serverCnxnFactory",
    "audit.enable",
    "minClientCnxns",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "digest.enabled",
];

/// Prefixes of ZooKeeper key families Warden ignores.
const IGNORED_PREFIXES: &[&str] = &[
    "admin.",
    "quorum.auth.",
    "jvm.pause.",
    "metricsProvider.",
    "multiAddress.",
    "ssl.",
    "group.",
    "weight.",
    "zookeeper.",
];

/// Keys ZooKeeper takes as `zookeeper.<key>` system properties; the
/// prefixed spelling is accepted too.
const SYSPROP_ALIASES: &[&str] = &[
    "4lw.commands.whitelist",
    "extendedTypesEnabled",
    "globalOutstandingLimit",
    "forceSync",
    "fsync.warningthresholdms",
    "jute.maxbuffer",
    "skipACL",
    "enforceQuota",
    "DigestAuthenticationProvider.superDigest",
];

/// Parses `zoo.cfg` text on top of the system properties given as
/// `-Dzookeeper.<key>=<value>` in `jvm_flags` (zoo.cfg wins, as ZooKeeper
/// sets its keys as system properties after the JVM's own).
pub(super) fn parse_text(text: &str, origin: &str, jvm_flags: &str) -> Result<Loaded, ConfigError> {
    let entries = properties::parse(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_string(),
        line: e.line,
        message: e.message,
    })?;
    let mut draft = Draft::default();
    let mut warnings = Vec::new();
    for e in system_properties(jvm_flags) {
        apply(
            &mut draft,
            canonical_key(&e.key),
            &e.value,
            &mut warnings,
            &e,
        )
        .map_err(|r| invalid(JVM_FLAGS_ORIGIN, &e, r))?;
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in &entries {
        let key = canonical_key(&e.key);
        if let Some(first) = seen.insert(key.to_string(), e.line) {
            warnings.push(warning(
                e,
                format!("given again (first on line {first}); the last value wins"),
            ));
        }
        apply(&mut draft, key, &e.value, &mut warnings, e).map_err(|r| invalid(origin, e, r))?;
    }
    let config = finish(draft, origin)?;
    Ok(Loaded { config, warnings })
}

/// How messages name the environment's JVM flags.
pub const JVM_FLAGS_ORIGIN: &str = "$SERVER_JVMFLAGS/$JVMFLAGS";

/// The `-D<key>=<value>` flags Warden reads: `zookeeper.<key>` for a key
/// ZooKeeper reads as a system property, and the JAAS file
/// (`java.security.auth.login.config`, skipped when empty); other flags
/// are not Warden's business. Applied in order, so the last one wins, as
/// with the JVM.
fn system_properties(jvm_flags: &str) -> Vec<Entry> {
    jvm_flags
        .split_whitespace()
        .filter_map(|t| t.strip_prefix("-D"))
        .filter_map(|t| t.split_once('='))
        .filter(|(k, v)| {
            (*k == JAAS_PROPERTY && !v.is_empty())
                || k.strip_prefix("zookeeper.")
                    .is_some_and(|k| SYSPROP_ALIASES.contains(&k))
        })
        .map(|(k, v)| Entry {
            line: 0,
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect()
}

/// Families of system-property keys (`zookeeper.<family>...`) ZooKeeper
/// also takes from zoo.cfg without the prefix.
const SYSPROP_FAMILIES: &[&str] = &[
    "authProvider.",
    "superUser",
    "sasl.serverconfig",
    "enforce.auth.",
    "sessionRequireClientSASLAuth",
    "allowSaslFailedClients",
];

/// `zookeeper.forceSync` -> `forceSync` for the system-property keys.
fn canonical_key(key: &str) -> &str {
    match key.strip_prefix("zookeeper.") {
        Some(k) if SYSPROP_ALIASES.contains(&k) => k,
        Some(k) if SYSPROP_FAMILIES.iter().any(|f| k.starts_with(f)) => k,
        _ => key,
    }
}

fn warning(e: &Entry, message: String) -> ConfigWarning {
    ConfigWarning {
        line: e.line,
        key: e.key.clone(),
        message,
    }
}

fn invalid(origin: &str, e: &Entry, reason: String) -> ConfigError {
    ConfigError::InvalidValue {
        origin: origin.to_string(),
        line: e.line,
        key: e.key.clone(),
        value: e.value.clone(),
        reason,
    }
}

/// Reads one entry into the draft; `Err` is the reason the value is bad.
fn apply(
    d: &mut Draft,
    key: &str,
    v: &str,
    warnings: &mut Vec<ConfigWarning>,
    e: &Entry,
) -> Result<(), String> {
    match key {
        "tickTime" => d.tick_time_ms = Some(int(v, 1, 600_000)?),
        "initLimit" => d.init_limit_ticks = Some(int(v, 1, 100_000)?),
        "syncLimit" => d.sync_limit_ticks = Some(int(v, 1, 100_000)?),
        "dataDir" => d.data_dir = Some(path(v)?),
        "dataLogDir" => d.data_log_dir = Some(path(v)?),
        "clientPort" => d.client_port = Some(int(v, 1, 65_535)?),
        "clientPortAddress" => d.client_port_address = Some(host(v)?),
        "maxClientCnxns" => d.max_client_cnxns_per_ip = Some(int(v, 0, 1_000_000)?),
        "minSessionTimeout" => d.session_timeout_ms_min = Some(int(v, 1, i32::MAX as i64)?),
        "maxSessionTimeout" => d.session_timeout_ms_max = Some(int(v, 1, i32::MAX as i64)?),
        "jute.maxbuffer" => d.jute_max_buffer_bytes = Some(int(v, 1024, 256 << 20)?),
        "4lw.commands.whitelist" => d.four_letter_words = Some(whitelist(v)?),
        "extendedTypesEnabled" => d.extended_types_enabled = Some(boolean(v)?),
        "autopurge.snapRetainCount" => {
            d.autopurge_snap_retain_count = Some(snap_retain(v, warnings, e)?)
        }
        "autopurge.purgeInterval" => d.autopurge_purge_interval_hours = Some(purge_interval(v)?),
        "peerType" => d.peer_type = Some(peer_type(v)?),
        "shards" => d.shards = Some(int(v, 1, 1024)?),
        "warden.maxConnectionsPerShard" => {
            d.max_connections_per_shard = Some(int(v, 1, 1_000_000)?)
        }
        "warden.maxWatchesPerSession" => d.max_watches_per_session = Some(int(v, 1, 100_000_000)?),
        "globalOutstandingLimit" => d.global_outstanding_limit = Some(int(v, 1, 1_000_000)?),
        "forceSync" => d.force_sync = Some(yes_no(v)?),
        "fsync.warningthresholdms" => d.fsync_warning_threshold_ms = Some(int(v, 0, i64::MAX)?),
        "skipACL" => d.skip_acl = Some(yes_no_strict(v)?),
        "enforceQuota" => d.enforce_quota = Some(boolean(v)?),
        "DigestAuthenticationProvider.superDigest" => d.super_digest = Some(super_digest(v)?),
        "snapCount" => d.snap_count = Some(int(v, 2, i32::MAX as i64)?),
        "snapSizeLimitInKb" => d.snap_size_limit_kb = Some(int(v, 0, i64::MAX / 1024)?),
        "preAllocSize" => d.prealloc_size_kb = Some(int(v, 64, 16 * 1024 * 1024)?),
        "znode.container.checkIntervalMs" => {
            d.container_check_interval_ms = Some(int(v, 1, 24 * 3_600_000)?)
        }
        JAAS_PROPERTY => d.sasl.jaas_login_config = Some(path(v)?),
        "sasl.serverconfig" => d.sasl.server_section = nonempty(v)?,
        k if k == "superUser" || k.starts_with("superUser.") => {
            d.sasl.super_users.push(nonempty(v)?)
        }
        "enforce.auth.enabled" => d.enforce_auth_enabled = java_boolean(v),
        "enforce.auth.schemes" => {
            d.enforce_auth_schemes = v.split(',').map(|s| s.trim().to_string()).collect()
        }
        "sessionRequireClientSASLAuth" => d.session_require_client_sasl_auth = java_boolean(v),
        "allowSaslFailedClients" => d.sasl.allow_sasl_failed_clients = java_boolean(v),
        k if k.starts_with("authProvider.") => auth_provider(&mut d.sasl, v, warnings, e),
        k if k.starts_with("server.") => {
            let spec = server(&k["server.".len()..], v)?;
            d.servers.insert(spec.id, spec);
        }
        k => warnings.push(unknown_key_warning(k, e)),
    }
    Ok(())
}

/// The classes ZooKeeper ships; `ip` and `digest` are always on.
const SASL_PROVIDER_CLASS: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";
const BUILT_IN_PROVIDER_CLASSES: &[&str] = &[
    "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
    "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
];

/// `authProvider.N=<class>`: registers the ACL scheme of a known provider;
/// ZooKeeper logs and skips a class it cannot load, Warden warns likewise.
fn auth_provider(sasl: &mut SaslConfig, v: &str, warnings: &mut Vec<ConfigWarning>, e: &Entry) {
    if v == SASL_PROVIDER_CLASS {
        if !sasl.auth_provider_schemes.iter().any(|s| s == "sasl") {
            sasl.auth_provider_schemes.push("sasl".to_string());
        }
    } else if !BUILT_IN_PROVIDER_CLASSES.contains(&v) {
        warnings.push(warning(
            e,
            format!("authentication provider {v} is not implemented; ignored"),
        ));
    }
}

/// Java's `Boolean.parseBoolean`: `true` in any case, anything else false.
fn java_boolean(v: &str) -> bool {
    v.eq_ignore_ascii_case("true")
}

/// `AuthenticationHelper`: the schemes to enforce, checked against the
/// providers there are (`ip`, `digest`, and `authProvider.N` ones).
fn enforce_auth_schemes(d: &Draft, origin: &str) -> Result<Vec<String>, ConfigError> {
    let schemes = if d.session_require_client_sasl_auth {
        vec!["sasl".to_string()]
    } else if d.enforce_auth_enabled {
        d.enforce_auth_schemes.clone()
    } else {
        return Ok(Vec::new());
    };
    let inconsistent = |message: String| ConfigError::Inconsistent {
        origin: origin.to_string(),
        message,
    };
    if schemes.iter().all(|s| s.is_empty()) {
        return Err(inconsistent(
            "enforce.auth.enabled is true, enforce.auth.schemes must be configured".into(),
        ));
    }
    for scheme in &schemes {
        let known = matches!(scheme.as_str(), "ip" | "digest")
            || d.sasl.auth_provider_schemes.contains(scheme);
        if !known {
            return Err(inconsistent(format!(
                "authentication scheme {scheme:?} in enforce.auth.schemes is not available \
                 (sasl needs authProvider.N=org.apache.zookeeper.server.auth.SASLAuthenticationProvider)"
            )));
        }
    }
    Ok(schemes)
}

fn nonempty(v: &str) -> Result<String, String> {
    if v.is_empty() {
        return Err("expected a value".into());
    }
    Ok(v.to_string())
}

fn unknown_key_warning(key: &str, e: &Entry) -> ConfigWarning {
    let known_to_zk =
        IGNORED_KEYS.contains(&key) || IGNORED_PREFIXES.iter().any(|p| key.starts_with(p));
    let message = if known_to_zk {
        "a ZooKeeper setting Warden does not implement; ignored"
    } else {
        "unknown key; ignored"
    };
    warning(e, message.to_string())
}

/// A decimal integer (Java `Integer.parseInt` syntax) in `min..=max`.
fn int<T: TryFrom<i64>>(v: &str, min: i64, max: i64) -> Result<T, String> {
    let range = || format!("expected an integer from {min} to {max}");
    let n: i64 = v.parse().map_err(|_| range())?;
    if n < min || n > max {
        return Err(range());
    }
    T::try_from(n).map_err(|_| range())
}

fn boolean(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// ZooKeeper's `forceSync` is `yes`/`no`; true/false accepted too.
fn yes_no(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err("expected yes or no".into()),
    }
}

/// `skipACL`: ZooKeeper skips only for exactly `yes`, so `true` is refused
/// rather than read differently.
fn yes_no_strict(v: &str) -> Result<bool, String> {
    match v {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("expected yes or no".into()),
    }
}

/// `user:base64(sha1(user:password))`, as `DigestAuthenticationProvider` prints it.
fn super_digest(v: &str) -> Result<String, String> {
    match v.split_once(':') {
        Some((user, hash)) if !user.is_empty() && !hash.is_empty() => Ok(v.to_string()),
        _ => Err(
            "expected user:base64(sha1(user:password)), e.g. super:D/InIHSb7yEEbrWz8b9l71RjZJU="
                .into(),
        ),
    }
}

fn path(v: &str) -> Result<PathBuf, String> {
    if v.is_empty() {
        return Err("expected a directory path".into());
    }
    Ok(PathBuf::from(v))
}

fn host(v: &str) -> Result<String, String> {
    if v.is_empty() || v.contains(char::is_whitespace) {
        return Err("expected a host name or IP address".into());
    }
    Ok(v.trim_start_matches('[').trim_end_matches(']').to_string())
}

fn whitelist(v: &str) -> Result<Whitelist, String> {
    Whitelist::parse(v).map_err(|name| {
        let known: Vec<_> = crate::fourlw::FourLetterWord::ALL
            .iter()
            .map(|w| w.name())
            .collect();
        format!(
            "unknown four-letter word {name:?} (known: {}, or *)",
            known.join(", ")
        )
    })
}

fn peer_type(v: &str) -> Result<PeerType, String> {
    PeerType::parse(v).ok_or_else(|| "expected participant or observer".into())
}

/// Below 3 is raised to 3 with a warning, as ZooKeeper does.
fn snap_retain(v: &str, warnings: &mut Vec<ConfigWarning>, e: &Entry) -> Result<u32, String> {
    let n: i64 = int(v, i32::MIN as i64, i32::MAX as i64)?;
    if n < i64::from(MIN_SNAP_RETAIN_COUNT) {
        warnings.push(warning(
            e,
            format!("{n} is below the minimum; using {MIN_SNAP_RETAIN_COUNT}"),
        ));
        return Ok(MIN_SNAP_RETAIN_COUNT);
    }
    Ok(n as u32)
}

/// Hours; 0 disables auto-purge (ZooKeeper treats negatives the same).
fn purge_interval(v: &str) -> Result<u32, String> {
    let n: i64 = int(v, i32::MIN as i64, i32::MAX as i64)?;
    Ok(n.max(0) as u32)
}

fn server(id: &str, v: &str) -> Result<ServerSpec, String> {
    let id: u64 = id
        .parse()
        .map_err(|_| format!("server id {id:?} in the key is not a non-negative integer"))?;
    server_line::parse(id, v)
}

fn finish(d: Draft, origin: &str) -> Result<Config, ConfigError> {
    let missing = |key, hint| ConfigError::Missing {
        origin: origin.to_string(),
        key,
        hint,
    };
    let data_dir = d.data_dir.clone().ok_or_else(|| missing("dataDir", ""))?;
    let enforce = enforce_auth_schemes(&d, origin)?;
    let tick = d.tick_time_ms.unwrap_or(DEFAULT_TICK_TIME_MS);
    let min = d.session_timeout_ms_min.unwrap_or(tick.saturating_mul(2));
    let max = d.session_timeout_ms_max.unwrap_or(tick.saturating_mul(20));
    if min > max {
        return Err(ConfigError::SessionTimeouts {
            origin: origin.to_string(),
            min,
            max,
        });
    }
    let cluster = !d.servers.is_empty();
    let required = " (required with server.N lines)";
    let init = match (cluster, d.init_limit_ticks) {
        (true, None) => return Err(missing("initLimit", required)),
        (_, v) => v.unwrap_or(0),
    };
    let sync = match (cluster, d.sync_limit_ticks) {
        (true, None) => return Err(missing("syncLimit", required)),
        (_, v) => v.unwrap_or(0),
    };
    if d.client_port.is_none() && d.client_port_address.is_some() {
        return Err(ConfigError::Inconsistent {
            origin: origin.to_string(),
            message: "clientPortAddress is set but clientPort is not set".into(),
        });
    }
    // In a cluster the port may come from this server's `server.N` line,
    // which is only known once myid is read (`apply_my_id`).
    let client_port = match (d.client_port, cluster) {
        (Some(p), _) => p,
        (None, true) => 0,
        (None, false) => return Err(missing("clientPort", "")),
    };
    Ok(Config {
        tick_time_ms: tick,
        init_limit_ticks: init,
        sync_limit_ticks: sync,
        data_log_dir: d.data_log_dir.unwrap_or_else(|| data_dir.clone()),
        data_dir,
        client_port,
        client_port_address: d.client_port_address,
        max_client_cnxns_per_ip: d
            .max_client_cnxns_per_ip
            .unwrap_or(DEFAULT_MAX_CLIENT_CNXNS),
        session_timeout_ms_min: min,
        session_timeout_ms_max: max,
        jute_max_buffer_bytes: d
            .jute_max_buffer_bytes
            .unwrap_or(DEFAULT_JUTE_MAX_BUFFER_BYTES),
        four_letter_words: d.four_letter_words.unwrap_or_default(),
        extended_types_enabled: d.extended_types_enabled.unwrap_or(false),
        snap_count: d.snap_count.unwrap_or(DEFAULT_SNAP_COUNT),
        snap_size_limit_bytes: d
            .snap_size_limit_kb
            .unwrap_or(DEFAULT_SNAP_SIZE_LIMIT_KB)
            .saturating_mul(1024),
        prealloc_size_bytes: u64::from(d.prealloc_size_kb.unwrap_or(DEFAULT_PREALLOC_SIZE_KB))
            * 1024,
        container_check_interval_ms: d
            .container_check_interval_ms
            .unwrap_or(DEFAULT_CONTAINER_CHECK_INTERVAL_MS),
        autopurge_snap_retain_count: d
            .autopurge_snap_retain_count
            .unwrap_or(MIN_SNAP_RETAIN_COUNT),
        autopurge_purge_interval_hours: d.autopurge_purge_interval_hours.unwrap_or(0),
        servers: d.servers.into_values().collect(),
        peer_type: d.peer_type.unwrap_or_default(),
        my_id: None,
        shards: d.shards.unwrap_or_else(online_cpus),
        max_connections_per_shard: d
            .max_connections_per_shard
            .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_SHARD),
        max_watches_per_session: d
            .max_watches_per_session
            .unwrap_or(DEFAULT_MAX_WATCHES_PER_SESSION),
        global_outstanding_limit: d
            .global_outstanding_limit
            .unwrap_or(DEFAULT_GLOBAL_OUTSTANDING_LIMIT),
        force_sync: d.force_sync.unwrap_or(true),
        fsync_warning_threshold_ms: d
            .fsync_warning_threshold_ms
            .unwrap_or(DEFAULT_FSYNC_WARNING_THRESHOLD_MS),
        skip_acl: d.skip_acl.unwrap_or(false),
        enforce_quota: d.enforce_quota.unwrap_or(false),
        super_digest: d.super_digest,
        sasl: SaslConfig {
            enforce_auth_schemes: enforce,
            ..d.sasl
        },
    })
}

/// Records `myid` and takes the client port from this server's line when
/// `clientPort` is absent.
pub(super) fn apply_my_id(c: &mut Config, id: u64, origin: &str) -> Result<(), ConfigError> {
    let inconsistent = |message: String| ConfigError::Inconsistent {
        origin: origin.to_string(),
        message,
    };
    let me =
        c.servers.iter().find(|s| s.id == id).ok_or_else(|| {
            inconsistent(format!("myid is {id} but there is no server.{id} line"))
        })?;
    if c.client_port == 0 {
        let (host, port) = me.client_address.clone().ok_or_else(|| {
            inconsistent(format!(
                "clientPort is not set and server.{id} has no ';clientPort' part"
            ))
        })?;
        c.client_port = port;
        c.client_port_address.get_or_insert(host);
    }
    c.my_id = Some(id);
    Ok(())
}
