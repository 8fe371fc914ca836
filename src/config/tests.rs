//! Tests of `zoo.cfg` parsing: every key, defaults, error messages,
//! warnings and `myid`.

use super::*;
use crate::fourlw::{FourLetterWord, Whitelist};

const BASE: &str = "dataDir=/var/lib/zk\nclientPort=2181\n";

fn parse_ok(extra: &str) -> Loaded {
    Config::parse(&format!("{BASE}{extra}"), "test.cfg").unwrap()
}

fn cfg(extra: &str) -> Config {
    parse_ok(extra).config
}

fn err(text: &str) -> String {
    Config::parse(text, "test.cfg").unwrap_err().to_string()
}

fn err_extra(extra: &str) -> String {
    err(&format!("{BASE}{extra}"))
}

/// A fresh empty directory, removed when the value is dropped.
struct TempDir(tempfile::TempDir);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

fn temp_dir(name: &str) -> TempDir {
    TempDir(
        tempfile::Builder::new()
            .prefix(&format!("warden-cfg-{name}-"))
            .tempdir()
            .unwrap(),
    )
}

#[test]
fn defaults() {
    let c = cfg("");
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(c.init_limit_ticks, 0);
    assert_eq!(c.sync_limit_ticks, 0);
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/zk"));
    assert_eq!(c.data_log_dir, PathBuf::from("/var/lib/zk"));
    assert_eq!(c.client_port, 2181);
    assert_eq!(c.client_port_address, None);
    assert_eq!(c.max_client_cnxns_per_ip, 60);
    assert_eq!(c.session_timeout_ms_min, 6000);
    assert_eq!(c.session_timeout_ms_max, 60000);
    assert_eq!(c.jute_max_buffer_bytes, 1_048_575);
    assert_eq!(c.four_letter_words, Whitelist::zookeeper_default());
    assert!(!c.extended_types_enabled);
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
    assert!(c.servers.is_empty());
    assert_eq!(c.peer_type, PeerType::Participant);
    assert_eq!(c.my_id, None);
    assert_eq!(c.shards, online_cpus());
    assert!(c.shards >= 1);
    assert_eq!(
        c.max_connections_per_shard,
        DEFAULT_MAX_CONNECTIONS_PER_SHARD
    );
    assert_eq!(c.max_watches_per_session, DEFAULT_MAX_WATCHES_PER_SESSION);
    assert_eq!(c.global_outstanding_limit, 1000);
    assert!(c.force_sync);
    assert!(c.is_standalone());
    assert_eq!(c.client_bind(), ("0.0.0.0", 2181));
}

#[test]
fn session_timeouts_default_from_tick_time() {
    let c = cfg("tickTime=2000\n");
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(
        (c.session_timeout_ms_min, c.session_timeout_ms_max),
        (4000, 40000)
    );
}

#[test]
fn every_key() {
    let c = cfg("tickTime=500\n\
         initLimit=7\n\
         syncLimit=3\n\
         dataLogDir=/fast/log\n\
         clientPortAddress=127.0.0.1\n\
         maxClientCnxns=0\n\
         minSessionTimeout=1500\n\
         maxSessionTimeout=90000\n\
         jute.maxbuffer=4194304\n\
         4lw.commands.whitelist=ruok, mntr\n\
         extendedTypesEnabled=true\n\
         autopurge.snapRetainCount=5\n\
         autopurge.purgeInterval=12\n\
         peerType=observer\n\
         shards=3\n\
         warden.maxConnectionsPerShard=500\n\
         warden.maxWatchesPerSession=777\n\
         globalOutstandingLimit=2000\n\
         forceSync=no\n");
    assert_eq!(c.tick_time_ms, 500);
    assert_eq!(c.init_limit_ticks, 7);
    assert_eq!(c.sync_limit_ticks, 3);
    assert_eq!(c.data_log_dir, PathBuf::from("/fast/log"));
    assert_eq!(c.client_port_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(c.client_bind(), ("127.0.0.1", 2181));
    assert_eq!(c.max_client_cnxns_per_ip, 0);
    assert_eq!(c.session_timeout_ms_min, 1500);
    assert_eq!(c.session_timeout_ms_max, 90000);
    assert_eq!(c.jute_max_buffer_bytes, 4 << 20);
    let w: Vec<_> = c.four_letter_words.iter().collect();
    assert_eq!(
        w,
        vec![
            FourLetterWord::Mntr,
            FourLetterWord::Ruok,
            FourLetterWord::Srvr
        ]
    );
    assert!(c.extended_types_enabled);
    assert_eq!(c.autopurge_snap_retain_count, 5);
    assert_eq!(c.autopurge_purge_interval_hours, 12);
    assert_eq!(c.peer_type, PeerType::Observer);
    assert_eq!(c.shards, 3);
    assert_eq!(c.max_connections_per_shard, 500);
    assert_eq!(c.max_watches_per_session, 777);
    assert_eq!(c.global_outstanding_limit, 2000);
    assert!(!c.force_sync);
}

#[test]
fn system_property_spellings() {
    let c = cfg("zookeeper.extendedTypesEnabled=TRUE\n\
         zookeeper.4lw.commands.whitelist=*\n\
         zookeeper.forceSync=yes\n\
         zookeeper.globalOutstandingLimit=5\n");
    assert!(c.extended_types_enabled);
    assert_eq!(c.four_letter_words, Whitelist::all());
    assert!(c.force_sync);
    assert_eq!(c.global_outstanding_limit, 5);
}

#[test]
fn fsync_warning_threshold_defaults_to_zookeepers_second() {
    assert_eq!(cfg("").fsync_warning_threshold_ms, 1000);
    assert_eq!(
        cfg("fsync.warningthresholdms=25\n").fsync_warning_threshold_ms,
        25
    );
    assert_eq!(
        cfg("zookeeper.fsync.warningthresholdms=0\n").fsync_warning_threshold_ms,
        0
    );
}

#[test]
fn properties_syntax_variants() {
    let c = cfg("  tickTime : 1000\n! comment\n# comment\nmaxClientCnxns 10\n4lw.commands.whitelist=ruok,\\\n    stat\n");
    assert_eq!(c.tick_time_ms, 1000);
    assert_eq!(c.max_client_cnxns_per_ip, 10);
    assert!(c.four_letter_words.contains(FourLetterWord::Stat));
}

#[test]
fn snap_retain_count_below_three_is_raised_with_warning() {
    let l = parse_ok("autopurge.snapRetainCount=1\n");
    assert_eq!(l.config.autopurge_snap_retain_count, 3);
    assert_eq!(l.warnings.len(), 1);
    assert_eq!(l.warnings[0].key, "autopurge.snapRetainCount");
    assert!(l.warnings[0].message.contains("using 3"));
}

#[test]
fn negative_purge_interval_means_off() {
    assert_eq!(
        cfg("autopurge.purgeInterval=-1\n").autopurge_purge_interval_hours,
        0
    );
}

#[test]
fn unknown_and_ignored_keys_warn() {
    let l = parse_ok("bogusKey=1\nadmin.enableServer=false\nsslQuorum=true\nsnapCount=1000\n");
    assert_eq!(
        l.warnings.len(),
        3,
        "snapCount is a real setting: no warning"
    );
    assert_eq!(l.config.snap_count, 1000);
    let w = &l.warnings[0];
    assert_eq!((w.line, w.key.as_str()), (3, "bogusKey"));
    assert!(w.message.contains("unknown key"));
    assert!(w.to_string().starts_with("line 3: bogusKey: unknown key"));
    assert!(l.warnings[1].message.contains("does not implement"));
    assert!(l.warnings[2].message.contains("does not implement"));
}

#[test]
fn duplicate_key_warns_and_last_wins() {
    let l = parse_ok("tickTime=1000\ntickTime=2000\n");
    assert_eq!(l.config.tick_time_ms, 2000);
    assert_eq!(l.warnings.len(), 1);
    assert!(l.warnings[0].message.contains("first on line 3"));
}

#[test]
fn embedded_default() {
    let l = Config::load(None).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = l.config;
    assert_eq!(c.client_port, 2181);
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(c.four_letter_words, Whitelist::all());
}

#[test]
fn sample_files_parse() {
    for f in ["zoo-cluster-3.cfg", "zoo-observer.cfg"] {
        let text =
            std::fs::read_to_string(format!("{}/conf/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let entries = properties::parse(&text).unwrap();
        let l = keys::parse_text(&text, f, "").unwrap();
        assert!(l.warnings.is_empty(), "{f}: {:?}", l.warnings);
        assert!(!entries.is_empty());
        assert!(l.config.servers.len() >= 3, "{f}");
    }
}

#[test]
fn missing_file_error_names_it() {
    let e = Config::load(Some(Path::new("/nonexistent/zoo.cfg"))).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot read config file /nonexistent/zoo.cfg"),
        "{e}"
    );
}

// ---- invalid values: each message names the key and the value ----

fn assert_invalid(extra: &str, key: &str, value: &str, reason: &str) {
    let m = err_extra(extra);
    let expected = format!("invalid value for {key}: \"{value}\": ");
    assert!(m.contains(&expected), "got: {m}\nwant: {expected}");
    assert!(m.contains(reason), "got: {m}\nwant: {reason}");
    assert!(m.starts_with("test.cfg:3: "), "{m}");
}

#[test]
fn invalid_numbers() {
    assert_invalid(
        "tickTime=abc\n",
        "tickTime",
        "abc",
        "expected an integer from 1 to 600000",
    );
    assert_invalid("tickTime=0\n", "tickTime", "0", "expected an integer");
    assert_invalid("initLimit=-1\n", "initLimit", "-1", "expected an integer");
    assert_invalid("syncLimit=x\n", "syncLimit", "x", "expected an integer");
    assert_invalid("maxClientCnxns=-5\n", "maxClientCnxns", "-5", "from 0 to");
    assert_invalid(
        "minSessionTimeout=0\n",
        "minSessionTimeout",
        "0",
        "expected an integer",
    );
    assert_invalid(
        "maxSessionTimeout=1.5\n",
        "maxSessionTimeout",
        "1.5",
        "expected an integer",
    );
    assert_invalid(
        "jute.maxbuffer=10\n",
        "jute.maxbuffer",
        "10",
        "from 1024 to 268435456",
    );
    assert_invalid("shards=0\n", "shards", "0", "from 1 to 1024");
    assert_invalid(
        "warden.maxConnectionsPerShard=0\n",
        "warden.maxConnectionsPerShard",
        "0",
        "expected an integer",
    );
    assert_invalid(
        "warden.maxWatchesPerSession=lots\n",
        "warden.maxWatchesPerSession",
        "lots",
        "expected an integer",
    );
    assert_invalid(
        "globalOutstandingLimit=0\n",
        "globalOutstandingLimit",
        "0",
        "expected",
    );
    assert_invalid(
        "autopurge.purgeInterval=x\n",
        "autopurge.purgeInterval",
        "x",
        "expected",
    );
    assert_invalid(
        "autopurge.snapRetainCount=\n",
        "autopurge.snapRetainCount",
        "",
        "expected",
    );
}

#[test]
fn invalid_client_port() {
    let m = err("dataDir=/d\nclientPort=0\n");
    assert!(
        m.contains("invalid value for clientPort: \"0\": expected an integer from 1 to 65535"),
        "{m}"
    );
    let m = err("dataDir=/d\nclientPort=65536\n");
    assert!(m.contains("clientPort: \"65536\""), "{m}");
    let m = err("dataDir=/d\nclientPort=http\n");
    assert!(m.contains("clientPort: \"http\""), "{m}");
}

#[test]
fn invalid_other_values() {
    assert_invalid(
        "extendedTypesEnabled=yes\n",
        "extendedTypesEnabled",
        "yes",
        "expected true or false",
    );
    assert_invalid(
        "forceSync=maybe\n",
        "forceSync",
        "maybe",
        "expected yes or no",
    );
    assert_invalid(
        "peerType=witness\n",
        "peerType",
        "witness",
        "expected participant or observer",
    );
    assert_invalid(
        "clientPortAddress=a b\n",
        "clientPortAddress",
        "a b",
        "expected a host",
    );
    assert_invalid(
        "dataLogDir=\n",
        "dataLogDir",
        "",
        "expected a directory path",
    );
}

#[test]
fn unknown_four_letter_word() {
    let m = err_extra("4lw.commands.whitelist=ruok,wat\n");
    assert!(
        m.contains("invalid value for 4lw.commands.whitelist: \"ruok,wat\""),
        "{m}"
    );
    assert!(m.contains("unknown four-letter word \"wat\""), "{m}");
}

#[test]
fn bad_server_lines() {
    let m = err_extra("server.1=h:2888\n");
    assert!(
        m.contains("invalid value for server.1: \"h:2888\": expected host:quorumPort"),
        "{m}"
    );
    let m = err_extra("server.x=h:2888:3888\n");
    assert!(m.contains("server.x"), "{m}");
    assert!(m.contains("server id \"x\""), "{m}");
    let m = err_extra("server.2=h:2888:2888\n");
    assert!(m.contains("must be different"), "{m}");
}

#[test]
fn min_greater_than_max_session_timeout() {
    let m = err_extra("minSessionTimeout=50000\nmaxSessionTimeout=40000\n");
    assert_eq!(
        m,
        "test.cfg: minSessionTimeout (50000) must not be larger than maxSessionTimeout (40000)"
    );
    // Also against a default: tickTime 2000 gives max 40000.
    let m = err_extra("tickTime=2000\nminSessionTimeout=50000\n");
    assert!(
        m.contains("(50000) must not be larger than maxSessionTimeout (40000)"),
        "{m}"
    );
}

#[test]
fn required_keys() {
    assert_eq!(err("clientPort=2181\n"), "test.cfg: dataDir is not set");
    assert_eq!(err("dataDir=/d\n"), "test.cfg: clientPort is not set");
    let m = err("dataDir=/d\nclientPortAddress=127.0.0.1\n");
    assert!(
        m.contains("clientPortAddress is set but clientPort is not set"),
        "{m}"
    );
}

#[test]
fn syntax_error_names_line() {
    let m = err("dataDir=/d\nclientPort=\\u12\n");
    assert!(m.starts_with("test.cfg:2: malformed \\uXXXX escape"), "{m}");
}

// ---- clusters and myid ----

fn cluster_text(dir: &Path, extra: &str) -> String {
    format!(
        "dataDir={}\ninitLimit=10\nsyncLimit=5\n\
         server.1=zk1:2888:3888\nserver.2=zk2:2888:3888;2182\n\
         server.3=zk3:2888:3888:observer;127.0.0.1:2183\n{extra}",
        dir.display()
    )
}

#[test]
fn cluster_with_myid() {
    let d = temp_dir("myid-ok");
    std::fs::write(d.join("myid"), "2\n").unwrap();
    let c = Config::parse(&cluster_text(&d, ""), "c.cfg")
        .unwrap()
        .config;
    assert_eq!(c.my_id, Some(2));
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.servers[2].peer_type, PeerType::Observer);
    // No clientPort: taken from server.2's client address.
    assert_eq!(c.client_bind(), ("0.0.0.0", 2182));
    assert_eq!(c.my_peer_type(), PeerType::Participant);
    assert_eq!(c.my_server().unwrap().host, "zk2");
    assert!(!c.is_standalone());

    std::fs::write(d.join("myid"), "3").unwrap();
    let c = Config::parse(&cluster_text(&d, "clientPort=2200\n"), "c.cfg")
        .unwrap()
        .config;
    assert_eq!(c.client_port, 2200);
    assert_eq!(c.my_peer_type(), PeerType::Observer);
}

#[test]
fn myid_missing() {
    let d = temp_dir("myid-missing");
    let m = Config::parse(&cluster_text(&d, ""), "c.cfg")
        .unwrap_err()
        .to_string();
    let path = d.join("myid");
    assert!(
        m.starts_with(&format!("myid file {}: cannot read it", path.display())),
        "{m}"
    );
}

#[test]
fn myid_invalid() {
    let d = temp_dir("myid-bad");
    std::fs::write(d.join("myid"), "one\n").unwrap();
    let m = Config::parse(&cluster_text(&d, ""), "c.cfg")
        .unwrap_err()
        .to_string();
    assert!(m.contains("myid: \"one\" is not a server id"), "{m}");
}

#[test]
fn myid_not_in_server_list() {
    let d = temp_dir("myid-unlisted");
    std::fs::write(d.join("myid"), "9").unwrap();
    let m = Config::parse(&cluster_text(&d, ""), "c.cfg")
        .unwrap_err()
        .to_string();
    assert_eq!(m, "c.cfg: myid is 9 but there is no server.9 line");
}

#[test]
fn myid_server_without_client_port() {
    let d = temp_dir("myid-noport");
    std::fs::write(d.join("myid"), "1").unwrap();
    let m = Config::parse(&cluster_text(&d, ""), "c.cfg")
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("clientPort is not set and server.1 has no"),
        "{m}"
    );
}

#[test]
fn standalone_never_reads_myid() {
    let c = cfg("");
    assert_eq!(c.my_id, None);
}

#[test]
fn cluster_requires_limits() {
    let d = temp_dir("limits");
    let text = format!("dataDir={}\nclientPort=2181\nserver.1=a:1:2\n", d.display());
    assert_eq!(
        err(&text),
        "test.cfg: initLimit is not set (required with server.N lines)"
    );
    let text = format!("{text}initLimit=5\n");
    assert!(err(&text).contains("syncLimit is not set"));
}

#[test]
fn acl_and_quota_switches() {
    let c = cfg("");
    assert!(!c.skip_acl);
    assert!(!c.enforce_quota);
    assert_eq!(c.super_digest, None);
    let c = cfg("skipACL=yes\nenforceQuota=TRUE\nDigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n");
    assert!(c.skip_acl);
    assert!(c.enforce_quota);
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    // The system-property spelling is accepted too.
    assert!(cfg("zookeeper.skipACL=yes\n").skip_acl);
    assert!(!cfg("skipACL=no\n").skip_acl);
    // ZooKeeper skips only for "yes": other values are refused, not misread.
    assert!(err_extra("skipACL=true\n").contains("skipACL"));
    assert!(err_extra("enforceQuota=maybe\n").contains("enforceQuota"));
    assert!(
        err_extra("DigestAuthenticationProvider.superDigest=nocolon\n").contains("superDigest")
    );
}

#[test]
fn sasl_keys() {
    assert_eq!(cfg("").sasl, SaslConfig::default());
    assert_eq!(cfg("").sasl.server_section, "Server");
    let loaded = parse_ok(
        "java.security.auth.login.config=/etc/zk/jaas.conf\n\
         authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         zookeeper.authProvider.2=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         authProvider.3=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n\
         authProvider.x509=com.example.X509Provider\n\
         superUser=alice\nzookeeper.superUser.2=bob\n\
         zookeeper.sasl.serverconfig=ZkServer\n",
    );
    let sasl = &loaded.config.sasl;
    assert_eq!(
        sasl.jaas_login_config,
        Some(PathBuf::from("/etc/zk/jaas.conf"))
    );
    assert_eq!(sasl.auth_provider_schemes, vec!["sasl".to_string()]);
    assert_eq!(sasl.super_users, vec!["alice".to_string(), "bob".into()]);
    assert_eq!(sasl.server_section, "ZkServer");
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0]
        .message
        .contains("com.example.X509Provider is not implemented"));
    assert_invalid("superUser=\n", "superUser", "", "expected a value");
}

#[test]
fn jaas_path_from_jvm_flags() {
    let jaas = |text: &str, flags: &str| {
        Config::parse_with_jvm_flags(text, "t.cfg", flags)
            .unwrap()
            .config
            .sasl
            .jaas_login_config
    };
    assert_eq!(jaas(BASE, ""), None);
    assert_eq!(
        jaas(
            BASE,
            "-Xmx1g -Djava.security.auth.login.config=/a.conf  -Dfoo=bar \
             -Djava.security.auth.login.config=/b.conf"
        ),
        Some(PathBuf::from("/b.conf"))
    );
    assert_eq!(jaas(BASE, "-Djava.security.auth.login.config="), None);
    // zoo.cfg's key wins over the flag.
    let text = format!("{BASE}java.security.auth.login.config=/c.conf\n");
    assert_eq!(
        jaas(&text, "-Djava.security.auth.login.config=/b.conf"),
        Some(PathBuf::from("/c.conf"))
    );
}

#[test]
fn jvm_flags_set_system_properties_and_zoo_cfg_wins() {
    let flags = "-Xmx1g -Dzookeeper.enforceQuota=true -Dzookeeper.skipACL=yes \
                 -Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc= -Dfoo=bar";
    let c = Config::parse_with_jvm_flags(BASE, "t.cfg", flags)
        .unwrap()
        .config;
    assert!(c.enforce_quota);
    assert!(c.skip_acl);
    assert_eq!(c.super_digest.as_deref(), Some("super:abc="));
    let text = format!("{BASE}skipACL=no\n");
    let c = Config::parse_with_jvm_flags(&text, "t.cfg", flags)
        .unwrap()
        .config;
    assert!(!c.skip_acl, "zoo.cfg is applied after the JVM's properties");
    // Keys ZooKeeper reads only from zoo.cfg are not taken from flags.
    let c = Config::parse_with_jvm_flags(BASE, "t.cfg", "-Dzookeeper.tickTime=5")
        .unwrap()
        .config;
    assert_eq!(c.tick_time_ms, 3000);
    let e = Config::parse_with_jvm_flags(BASE, "t.cfg", "-Dzookeeper.skipACL=on").unwrap_err();
    assert!(e.to_string().contains("JVMFLAGS"), "{e}");
}

#[test]
fn enforce_auth_keys() {
    assert!(cfg("").sasl.enforce_auth_schemes.is_empty());
    let sasl_provider =
        "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n";
    let c = cfg(&format!(
        "{sasl_provider}enforce.auth.enabled=TRUE\nzookeeper.enforce.auth.schemes=sasl, digest\n\
         allowSaslFailedClients=true\n"
    ));
    assert_eq!(c.sasl.enforce_auth_schemes, vec!["sasl", "digest"]);
    assert!(c.sasl.sasl_required() && c.sasl.allow_sasl_failed_clients);
    // Schemes without enforce.auth.enabled do nothing (Boolean.parseBoolean).
    let off = cfg("enforce.auth.enabled=yes\nenforce.auth.schemes=digest\n");
    assert!(off.sasl.enforce_auth_schemes.is_empty());
    // sessionRequireClientSASLAuth overrides both.
    let c = cfg(&format!(
        "{sasl_provider}sessionRequireClientSASLAuth=true\nenforce.auth.enabled=true\nenforce.auth.schemes=ip\n"
    ));
    assert_eq!(c.sasl.enforce_auth_schemes, vec!["sasl"]);
    assert!(err_extra("enforce.auth.enabled=true\n")
        .contains("enforce.auth.schemes must be configured"));
    let m = err_extra("enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n");
    assert!(
        m.contains("\"sasl\" in enforce.auth.schemes is not available"),
        "{m}"
    );
    assert!(err_extra("sessionRequireClientSASLAuth=true\n").contains("not available"));
}
