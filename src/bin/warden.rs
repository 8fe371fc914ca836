//! The `warden` command: `warden server [--config zoo.cfg]`.
//!
//! It exists to turn a command line into a running server and to fail
//! clearly before anything starts: the configuration is parsed and checked
//! (warnings logged, errors printed with a non-zero exit), and the
//! environment is checked for io_uring and locked memory, before
//! `warden::server::run` is called. Further tools (`purge`, `log-dump`,
//! `snap-dump`) become further variants of [`Command`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use warden::config::{Config, EMBEDDED_ORIGIN};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "warden",
    version,
    about = "A ZooKeeper-compatible coordination server"
)]
struct Cli {
    /// Log filter (error, warn, info, debug, trace, or a tracing filter
    /// such as `warden=debug`); overrides WARDEN_LOG and RUST_LOG, which
    /// are used when it is absent; default `info`.
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Server {
        /// zoo.cfg to read; without it the built-in standalone default is
        /// used (clientPort 2181, dataDir ./data).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Print every record of a txn log file (like ZooKeeper's TxnLogToolkit).
    LogDump {
        /// A `log.<zxid>` file.
        file: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a snapshot file: header, nodes with their stats, sessions
    /// (like ZooKeeper's SnapshotFormatter).
    SnapDump {
        /// A `snapshot.<zxid>` file.
        file: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove old snapshots and the logs only they need, keeping the
    /// newest COUNT snapshots (at least 3), as ZooKeeper's PurgeTxnLog.
    Purge {
        /// zoo.cfg naming dataDir / dataLogDir (and autopurge.snapRetainCount).
        #[arg(long, value_name = "PATH", conflicts_with_all = ["data_dir", "data_log_dir"])]
        config: Option<PathBuf>,
        /// Snapshot directory (dataDir).
        #[arg(long, value_name = "D", requires = "data_log_dir")]
        data_dir: Option<PathBuf>,
        /// Log directory (dataLogDir).
        #[arg(long, value_name = "L", requires = "data_dir")]
        data_log_dir: Option<PathBuf>,
        /// Snapshots to keep (minimum 3).
        #[arg(short = 'n', value_name = "COUNT")]
        count: Option<usize>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level.as_deref());
    let result = match cli.command {
        Command::Server { config } => server(config),
        Command::LogDump { file, json } => log_dump(&file, json),
        Command::SnapDump { file, json } => snap_dump(&file, json),
        Command::Purge {
            config,
            data_dir,
            data_log_dir,
            count,
        } => purge(config, data_dir, data_log_dir, count),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Plain stderr, not the log: it must show even with logging off.
            eprintln!("warden: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--log-level`, else `WARDEN_LOG`, else `RUST_LOG`, else `info`.
fn init_logging(flag: Option<&str>) {
    let from_env = || {
        ["WARDEN_LOG", "RUST_LOG"]
            .iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
    };
    let filter = flag
        .map(str::to_string)
        .or_else(from_env)
        // glommio logs a multi-line warning per ring when it cannot register
        // buffers; the server logs one line about that itself.
        .unwrap_or_else(|| "info,glommio=error".to_string());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("warden: bad log filter {filter:?} ({e}); using info");
        EnvFilter::new("info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn server(path: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    let origin = path
        .as_ref()
        .map_or(EMBEDDED_ORIGIN.to_string(), |p| p.display().to_string());
    let loaded = Config::load(path.as_deref())?;
    for w in &loaded.warnings {
        tracing::warn!(config = %origin, "{w}");
    }
    let mut config = loaded.config;
    if config.sasl.jaas_login_config.is_none() {
        config.sasl.jaas_login_config = jaas_from_environment();
    }
    tracing::info!(config = %origin, client_port = config.client_port, shards = config.shards, data_dir = %config.data_dir.display(), "configuration loaded");
    // The server checks io_uring and locked memory before it starts any
    // executor (shards plus the sequencer), with the io_memory it uses.
    run(config)
}

/// `-Djava.security.auth.login.config=PATH` in `SERVER_JVMFLAGS`, else in
/// `JVMFLAGS`: where ZooKeeper's start script takes it from. zoo.cfg's
/// `java.security.auth.login.config` key wins over both.
fn jaas_from_environment() -> Option<PathBuf> {
    ["SERVER_JVMFLAGS", "JVMFLAGS"].iter().find_map(|var| {
        let flags = std::env::var(var).ok()?;
        warden::config::jaas_path_from_jvm_flags(&flags)
    })
}

/// Hands the checked configuration to the server runtime.
pub fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    warden::server::run(config).map_err(Into::into)
}

fn log_dump(file: &std::path::Path, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let log = warden::tools::read_log(file).map_err(|e| e as Box<dyn std::error::Error>)?;
    if json {
        println!("{:#}", warden::tools::log_json(&log));
    } else {
        print!("{}", warden::tools::log_text(&log));
    }
    Ok(())
}

fn snap_dump(file: &std::path::Path, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let snap = warden::tools::read_snapshot(file).map_err(|e| e as Box<dyn std::error::Error>)?;
    if json {
        println!("{:#}", warden::tools::snapshot_json(&snap));
    } else {
        print!("{}", warden::tools::snapshot_text(&snap));
    }
    Ok(())
}

fn purge(
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    count: Option<usize>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (data_dir, data_log_dir, retain) = match (data_dir, data_log_dir) {
        (Some(d), Some(l)) => (
            d,
            l,
            count.unwrap_or(warden_storage::purge::MIN_SNAP_RETAIN),
        ),
        _ => {
            let config = Config::load(config.as_deref())?.config;
            let retain = count.unwrap_or(config.autopurge_snap_retain_count as usize);
            (config.data_dir, config.data_log_dir, retain)
        }
    };
    let plan = warden_storage::purge::purge(&data_dir, &data_log_dir, retain)?;
    for p in plan.snapshots.iter().chain(&plan.logs) {
        println!("removed {}", p.display());
    }
    println!(
        "kept the newest {} snapshots; removed {} snapshots and {} logs",
        plan.retain,
        plan.snapshots.len(),
        plan.logs.len()
    );
    Ok(())
}
