//! The request-processing pipeline, assembled in one place.
//!
//! ```text
//!  clients ─TCP─▶ shard 0..N  (SO_REUSEPORT; decode, reads, watches, replies)
//!                    │  Event::{Connect, Request, ReadPoint, Touch}  ▲ Arc<Batch>
//!                    ▼                                              │
//!                 sequencer (validate + order + apply → log append/flush → publish)
//! ```
//!
//! Shards answer reads from the newest tree version they processed and send
//! writes to the sequencer over one bounded channel; the sequencer publishes
//! each durable batch to every shard over a bounded channel per shard. That
//! is the whole pipeline; every other module is one stage of it.

pub mod fourlw;
pub mod phase_clock;
pub mod stats;
pub mod storage;

use crate::config::Config;
use crate::preflight;
use crate::sasl::jaas::JaasError;
use crate::sasl::SaslService;
use crate::sequencer::core::{Event, Sequencer, SequencerConfig};
use crate::sequencer::outcome::Batch;
use crate::sequencer::prep::PrepContext;
use crate::sequencer::runtime;
use crate::shard::peers::{ShardPeers, ShardQuery};
use crate::shard::visibility::Visibility;
use crate::shard::{ServerShared, Shard, ShardLimits};
use crate::tree::Tree;
use async_channel::{Receiver, Sender};
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};
use stats::ServerStats;
use std::sync::Arc;
use std::time::Duration;

/// io_uring buffer memory per executor: small, so that the default locked
/// memory limit (8 MiB on many systems) covers every executor.
pub const IO_MEMORY_BYTES: usize = 512 * 1024;
/// Events queued from all shards to the sequencer.
pub const SEQUENCER_EVENTS_CAPACITY: usize = 16 * 1024;
/// Batches queued from the sequencer to one shard.
pub const SHARD_BATCHES_CAPACITY: usize = 1024;
/// Unanswered requests per connection before it stops reading.
pub const PENDING_REQUESTS_PER_CONNECTION_MAX: usize = 1024;
/// Bytes queued for one client before it is closed as stuck.
pub const OUTBOUND_BYTES_PER_CONNECTION_MAX: usize = 64 * 1024 * 1024;
/// Sessions the server keeps at once.
pub const SESSIONS_MAX: usize = 1_000_000;
/// Server id in the high byte of session ids on a standalone server, as
/// ZooKeeper's standalone server uses.
pub const STANDALONE_SERVER_ID: i64 = 1;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    #[error("cannot start executor {name}: {source}")]
    Executor {
        name: String,
        source: glommio::GlommioError<()>,
    },
    #[error("cannot listen on {address}: {message}")]
    Bind { address: String, message: String },
    #[error("replicated mode (server.N lines) is not built yet; remove the server.N lines to run standalone")]
    ClusterNotBuilt,
    #[error("storage: {0}")]
    Storage(String),
    #[error(transparent)]
    Sasl(#[from] JaasError),
}

/// Starts the server and serves until the process is killed.
pub fn run(config: Config) -> Result<(), ServerError> {
    if !config.is_standalone() {
        return Err(ServerError::ClusterNotBuilt);
    }
    let mut clock = phase_clock::PhaseClock::start();
    let shards = config.shards.max(1);
    let sasl = SaslService::from_config(&config)?.map(Arc::new);
    if let Some(warning) = preflight::check_environment(IO_MEMORY_BYTES, shards + 1)? {
        tracing::warn!("{warning}");
    }
    let config = Arc::new(config);
    let stats = Arc::new(ServerStats::new());
    clock.done("preflight");
    let opened = storage::open(&config, &mut clock)?;
    let tree = opened.tree.clone();
    let (events_tx, events_rx) = async_channel::bounded(SEQUENCER_EVENTS_CAPACITY);
    let (batch_txs, batch_rxs): (Vec<_>, Vec<_>) = (0..shards)
        .map(|_| async_channel::bounded::<Arc<Batch>>(SHARD_BATCHES_CAPACITY))
        .unzip();
    let sequencer = start_sequencer(&config, opened, events_tx.clone(), events_rx, batch_txs)?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (peers, query_rxs) = ShardPeers::new(shards);
    let visibility = Arc::new(Visibility::new());
    let mut handles = Vec::new();
    for (index, (batches, queries)) in batch_rxs.into_iter().zip(query_rxs).enumerate() {
        let shard = ShardStart {
            index,
            shared: ServerShared {
                to_sequencer: events_tx.clone(),
                stats: stats.clone(),
                config: config.clone(),
                peers: peers.clone(),
                visibility: visibility.clone(),
                sasl: sasl.clone(),
            },
            tree: Arc::new(tree.clone()),
            batches,
            queries,
            ready: ready_tx.clone(),
        };
        handles.push(start_shard(shard)?);
    }
    drop(events_tx);
    for _ in 0..shards {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => break,
        }
    }
    clock.done("executors started, shards listening");
    let (host, port) = config.client_bind();
    tracing::info!(
        shards,
        data_dir = %config.data_dir.display(),
        data_log_dir = %config.data_log_dir.display(),
        force_sync = config.force_sync,
        "Warden serving clients on {host}:{port}"
    );
    for handle in handles {
        let _ = handle.join();
    }
    let _ = sequencer.join();
    Ok(())
}

fn sequencer_config(config: &Config, password_secret: u64) -> SequencerConfig {
    SequencerConfig {
        server_id: STANDALONE_SERVER_ID,
        tick_ms: config.tick_time_ms as i64,
        session_timeout_ms_min: config.session_timeout_ms_min as i32,
        session_timeout_ms_max: config.session_timeout_ms_max as i32,
        sessions_max: SESSIONS_MAX,
        container_check_interval_ms: config.container_check_interval_ms as i64,
        password_secret,
        prep: PrepContext {
            extended_types_enabled: config.extended_types_enabled,
            reconfig_enabled: false,
            extra_auth_schemes: config.sasl.auth_provider_schemes.clone(),
            enforce_quota: config.enforce_quota,
            quota_log: Default::default(),
        },
    }
}

fn start_sequencer(
    config: &Config,
    opened: storage::Opened,
    ticks: Sender<Event>,
    events: Receiver<Event>,
    shards: Vec<Sender<Arc<Batch>>>,
) -> Result<glommio::ExecutorJoinHandle<()>, ServerError> {
    let settings = sequencer_config(config, opened.password_secret);
    let core = Sequencer::new(settings, opened.tree, runtime::now_ms());
    let storage = opened.storage;
    let purge = (config.autopurge_purge_interval_hours > 0).then(|| {
        let interval = Duration::from_secs(u64::from(config.autopurge_purge_interval_hours) * 3600);
        let retain = config.autopurge_snap_retain_count as usize;
        (
            config.data_dir.clone(),
            config.data_log_dir.clone(),
            retain,
            interval,
        )
    });
    let tick_interval = Duration::from_millis((config.tick_time_ms as u64 / 2).clamp(10, 500));
    let name = "warden-sequencer".to_string();
    LocalExecutorBuilder::new(Placement::Unbound)
        .name(&name)
        .io_memory(IO_MEMORY_BYTES)
        .spawn(move || async move {
            glommio::spawn_local(runtime::ticker(ticks, tick_interval)).detach();
            if let Some((data_dir, log_dir, retain, interval)) = purge {
                glommio::spawn_local(runtime::autopurge(data_dir, log_dir, retain, interval))
                    .detach();
            }
            runtime::run(core, events, shards, storage).await;
        })
        .map_err(|source| ServerError::Executor { name, source })
}

struct ShardStart {
    index: usize,
    shared: ServerShared,
    tree: Arc<Tree>,
    batches: Receiver<Arc<Batch>>,
    queries: Receiver<ShardQuery>,
    ready: std::sync::mpsc::Sender<Result<(), ServerError>>,
}

fn shard_limits(config: &Config) -> ShardLimits {
    ShardLimits {
        frame_bytes_max: config.jute_max_buffer_bytes as usize,
        connections_max: config.max_connections_per_shard as usize,
        connections_per_ip_max: config.max_client_cnxns_per_ip as usize,
        pending_requests_max: PENDING_REQUESTS_PER_CONNECTION_MAX,
        outbound_bytes_max: OUTBOUND_BYTES_PER_CONNECTION_MAX,
        watches_per_connection_max: config.max_watches_per_session as usize,
        touch_interval: Duration::from_millis((config.tick_time_ms as u64 / 4).clamp(10, 500)),
    }
}

fn start_shard(start: ShardStart) -> Result<glommio::ExecutorJoinHandle<()>, ServerError> {
    let name = format!("warden-shard-{}", start.index);
    LocalExecutorBuilder::new(Placement::Unbound)
        .name(&name)
        .io_memory(IO_MEMORY_BYTES)
        .spawn(move || serve_shard(start))
        .map_err(|source| ServerError::Executor { name, source })
}

async fn serve_shard(start: ShardStart) {
    let (host, port) = start.shared.config.client_bind();
    let address = format!("{host}:{port}");
    let listener = match TcpListener::bind(address.as_str()) {
        Ok(listener) => listener,
        Err(error) => {
            let _ = start.ready.send(Err(ServerError::Bind {
                address,
                message: error.to_string(),
            }));
            return;
        }
    };
    let limits = shard_limits(&start.shared.config);
    let shard = Shard::new(start.index, limits, start.shared, start.tree);
    let _ = start.ready.send(Ok(()));
    glommio::spawn_local(shard.clone().batch_loop(start.batches)).detach();
    glommio::spawn_local(shard.clone().query_loop(start.queries)).detach();
    glommio::spawn_local(shard.clone().touch_loop()).detach();
    shard.accept_loop(listener).await;
}
