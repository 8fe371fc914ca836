//! Opening storage at start-up: recover the tree from the newest valid
//! snapshot plus the txn log after it, then open the log for appending.
//!
//! Guarantees: the recovered tree holds every record the log flushed (and so
//! every write that was ever acknowledged), sessions included; a torn tail
//! left by a crash mid-write is cut and logged; corruption before valid
//! records refuses start with the file and offset named.

use super::phase_clock::PhaseClock;
use super::ServerError;
use crate::config::Config;
use crate::sequencer::runtime::{SnapshotPolicy, Storage};
use crate::tree::snapshot::SnapshotCodecError;
use crate::tree::Tree;
use std::path::Path;
use warden_storage::log::{LogConfig, TxnLog};
use warden_storage::recovery::{recover, RecoveryConfig};
use warden_storage::snapshot::{SnapTrigger, SnapshotImage};
use warden_storage::store::Log;

/// Id written in every log header and snapshot of this database.
pub const DATABASE_ID: u64 = 0;
/// Largest txn record: a whole request frame plus the txn's own fields.
fn record_bytes_max(config: &Config) -> usize {
    config.jute_max_buffer_bytes as usize + 64 * 1024
}

/// What recovery rebuilt, and the storage to go on with.
pub struct Opened {
    pub tree: Tree,
    pub storage: Storage,
    /// Secret the session passwords derive from, kept across restarts so
    /// that clients can resume their sessions.
    pub password_secret: u64,
}

/// Recovers and opens storage, logging each phase's time on `clock`.
pub fn open(config: &Config, clock: &mut PhaseClock) -> Result<Opened, ServerError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| ServerError::Storage(format!("{what}: {e}"));
    std::fs::create_dir_all(&config.data_dir).map_err(|e| fail("cannot create dataDir", &e))?;
    std::fs::create_dir_all(&config.data_log_dir)
        .map_err(|e| fail("cannot create dataLogDir", &e))?;
    let password_secret =
        session_secret(&config.data_dir).map_err(|e| fail("session secret", &e))?;
    let mut recovery = RecoveryConfig::new(&config.data_dir, &config.data_log_dir);
    recovery.max_record_bytes = record_bytes_max(config);
    let recovered = recover(&recovery).map_err(|e| fail("recovery refused", &e))?;
    clock.done("recovery scan (snapshot CRC, txn log scan)");
    for skipped in &recovered.skipped_snapshots {
        tracing::warn!(path = %skipped.path.display(), error = %skipped.error, "skipping an invalid snapshot");
    }
    if let Some(torn) = &recovered.torn_tail {
        tracing::warn!(
            file = %torn.file.display(),
            offset = torn.offset,
            discarded_bytes = torn.discarded_bytes,
            "cut a torn txn log tail ({}); nothing after it had been acknowledged",
            torn.reason
        );
    }
    let snapshot_name = |image: &SnapshotImage| format!("snapshot {:#x} unreadable", image.zxid());
    let mut tree = match &recovered.snapshot {
        Some(image) => crate::tree::snapshot::decode_tree(image.content())
            .map_err(|e| fail(&snapshot_name(image), &e))?,
        None => Tree::new(),
    };
    clock.done("snapshot decode + build");
    // The loaded tree's invariants are checked on a second thread (a clone
    // is O(1)) while the log replays; start waits for the verdict.
    let loaded = tree.clone();
    let checked = std::thread::Builder::new()
        .name("snapshot-check".into())
        .spawn(move || loaded.check_invariants())
        .map_err(|e| fail("cannot start the snapshot check thread", &e))?;
    let replayed = recovered
        .replay(|zxid, bytes| {
            let record =
                crate::txn::codec::decode_txn(bytes).map_err(|e| format!("txn {zxid:#x}: {e}"))?;
            if record.header.zxid as u64 != zxid {
                return Err(format!(
                    "txn framed as {zxid:#x} holds {:#x}",
                    record.header.zxid
                ));
            }
            tree.apply(&record);
            Ok(())
        })
        .map_err(|e| fail("txn log replay failed", &e))?;
    clock.done("txn log replay");
    let verdict = checked.join().expect("snapshot check thread panicked");
    if let (Some(image), Err(e)) = (&recovered.snapshot, verdict) {
        return Err(fail(
            &snapshot_name(image),
            &SnapshotCodecError::Invariant(e),
        ));
    }
    clock.done("snapshot check_invariants (rest of)");
    let log_end = recovered.log_end.clone();
    drop(recovered);
    tracing::info!(
        zxid = format!("{:#x}", tree.last_zxid()),
        replayed,
        nodes = tree.node_count(),
        sessions = tree.sessions().count(),
        "recovered"
    );
    let log = TxnLog::open(log_config(config), log_end.as_ref())
        .map_err(|e| fail("cannot open the txn log", &e))?;
    clock.done("txn log open");
    if !config.force_sync {
        tracing::warn!(
            "forceSync=no: the txn log is NOT synced to disk; acknowledged writes can be lost \
             on a crash. Use this for benchmarks only."
        );
    }
    let snapshots = SnapshotPolicy {
        data_dir: config.data_dir.clone(),
        db_id: DATABASE_ID,
        trigger: SnapTrigger::new(
            config.snap_count as u64,
            config.snap_size_limit_bytes,
            rand::random(),
        ),
    };
    Ok(Opened {
        tree,
        storage: Storage {
            log: Log::File(Box::new(log)),
            snapshots: Some(snapshots),
            fsync_warning_threshold_ms: config.fsync_warning_threshold_ms,
        },
        password_secret,
    })
}

fn log_config(config: &Config) -> LogConfig {
    let mut log = LogConfig::new(&config.data_log_dir);
    // A file must hold at least one largest record (a whole request).
    let record_floor = (record_bytes_max(config) as u64 + 8192).next_multiple_of(4096);
    log.file_size = config
        .prealloc_size_bytes
        .next_multiple_of(4096)
        .max(record_floor);
    log.db_id = DATABASE_ID;
    log.force_sync = config.force_sync;
    log.max_record_bytes = record_bytes_max(config);
    log
}

/// Reads the session-password secret from `dataDir/warden.secret`, creating
/// it (random, fsynced) on first start.
fn session_secret(data_dir: &Path) -> std::io::Result<u64> {
    let path = data_dir.join("warden.secret");
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 8 => Ok(u64::from_be_bytes(bytes.try_into().expect("8 bytes"))),
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is not 8 bytes",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: u64 = rand::random();
            let tmp = data_dir.join("warden.secret.tmp");
            std::fs::write(&tmp, secret.to_be_bytes())?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(data_dir)?.sync_all()?;
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}
