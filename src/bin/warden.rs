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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level.as_deref());
    let result = match cli.command {
        Command::Server { config } => server(config),
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
    let config = loaded.config;
    tracing::info!(config = %origin, client_port = config.client_port, shards = config.shards, data_dir = %config.data_dir.display(), "configuration loaded");
    // The server checks io_uring and locked memory before it starts any
    // executor (shards plus the sequencer), with the io_memory it uses.
    run(config)
}

/// Hands the checked configuration to the server runtime.
pub fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    warden::server::run(config).map_err(Into::into)
}
