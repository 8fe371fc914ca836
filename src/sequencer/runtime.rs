//! The glommio adapter around the sequencer core: it moves events in, carries
//! out the core's commands (append, flush, publish, report) and tells the
//! core the time. No decision about order or durability is made here.
//!
//! Group commit: the runtime takes the first event and whatever else is
//! already queued (up to [`BATCH_EVENTS_MAX`]), seals one batch, appends it
//! and starts its flush; at most one flush is in flight. While it is,
//! events wait in the channel (bounded: a full channel holds back the
//! connections that send) and are taken together when it completes; the
//! rule and why are in [`super::intake`]. The fdatasync runs through
//! io_uring. A batch is published only when the core is stepped with the
//! `Durable` token its flush produced.
//!
//! Snapshots are taken in the background from a published (hence durable,
//! immutable) tree version, so each is exact at its zxid.

use super::core::{Command, Event, Sequencer};
use super::intake::{Intake, INTAKE_PAUSE_MAX};
use super::outcome::Batch;
use crate::tree::Tree;
use crate::txn::TxnRecord;
use async_channel::{Receiver, Sender};
use futures_lite::future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use warden_storage::log::{FlushError, LogError, Record, Spare, Synced};
use warden_storage::snapshot::SnapTrigger;
use warden_storage::store::Log;

/// Most events folded into one batch.
pub const BATCH_EVENTS_MAX: usize = 4096;

/// Wait after a failed spare preallocation (a full disk) before the next
/// attempt (each attempt writes until the disk is full again), doubled
/// after every further failure up to [`SPARE_RETRY_MAX`], so a disk that
/// stays full costs one log line a minute, not one a second.
const SPARE_RETRY: Duration = Duration::from_secs(1);
const SPARE_RETRY_MAX: Duration = Duration::from_secs(64);

/// Wall-clock milliseconds: the time txns carry as ctime/mtime and that
/// session expiry is measured in.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where and when snapshots are written.
pub struct SnapshotPolicy {
    pub data_dir: PathBuf,
    pub db_id: u64,
    pub trigger: SnapTrigger,
}

/// The sequencer's storage: its log and, for a file log, snapshots.
pub struct Storage {
    pub log: Log,
    pub snapshots: Option<SnapshotPolicy>,
    /// `fsync.warningthresholdms` (see [`warn_if_slow`]).
    pub fsync_warning_threshold_ms: u64,
}

/// Completions of the runtime's own background work.
enum Done {
    Synced(Result<Synced, FlushError>),
    Spare(Result<Spare, LogError>),
    /// The zxid and file size written, or why not; and how long it took.
    Snapshot(Result<(u64, u64), String>, Duration),
}

enum Input {
    Event(Event),
    Done(Done),
    /// The flush in flight outlasted [`INTAKE_PAUSE_MAX`].
    PauseOver,
}

struct Runtime {
    core: Sequencer,
    shards: Vec<Sender<Arc<Batch>>>,
    storage: Storage,
    done: Sender<Done>,
    commands: Vec<Command>,
    /// Every record of the batch being appended, back to back.
    encoded: Vec<u8>,
    /// End offset of each record in `encoded`.
    encoded_ends: Vec<usize>,
    snapshot_due: bool,
    snapshot_running: bool,
    /// After a failed spare (a full disk), no new attempt before this.
    spare_retry_at: Option<Instant>,
    /// The wait after the next failure.
    spare_backoff: Duration,
    /// When events are taken (see [`super::intake`]).
    intake: Intake,
}

/// Runs the sequencer until every event sender is gone.
pub async fn run(
    core: Sequencer,
    events: Receiver<Event>,
    shards: Vec<Sender<Arc<Batch>>>,
    storage: Storage,
) {
    let (done, completions) = async_channel::bounded(16);
    let mut runtime = Runtime {
        core,
        shards,
        storage,
        done,
        commands: Vec::new(),
        encoded: Vec::new(),
        encoded_ends: Vec::new(),
        snapshot_due: false,
        snapshot_running: false,
        spare_retry_at: None,
        spare_backoff: SPARE_RETRY,
        intake: Intake::default(),
    };
    // The first log file too is built in the background: otherwise the
    // first write after start waits for a whole preallocation.
    runtime.prepare_spare();
    loop {
        // Events wait in the channel while a flush is in flight, until it
        // completes or the pause is over (see [`super::intake`]).
        let waits = runtime.intake.waits(runtime.storage.log.flush_in_flight());
        let input = future::or(
            async { completions.recv().await.ok().map(Input::Done) },
            async {
                if waits {
                    glommio::timer::sleep(INTAKE_PAUSE_MAX).await;
                    Some(Input::PauseOver)
                } else {
                    events.recv().await.ok().map(Input::Event)
                }
            },
        )
        .await;
        let Some(input) = input else { return };
        let now = now_ms();
        match input {
            Input::PauseOver => runtime.intake.pause_over(),
            Input::Event(first) => runtime.take_events(now, first, &events),
            Input::Done(done) => {
                runtime.on_done(now, done);
                if !runtime.storage.log.flush_in_flight() {
                    if let Ok(first) = events.try_recv() {
                        runtime.take_events(now, first, &events);
                    }
                }
            }
        }
        runtime.carry_out(now).await;
    }
}

impl Runtime {
    fn take_events(&mut self, now: i64, first: Event, events: &Receiver<Event>) {
        self.core.step(now, first, &mut self.commands);
        for _ in 1..BATCH_EVENTS_MAX {
            match events.try_recv() {
                Ok(event) => self.core.step(now, event, &mut self.commands),
                Err(_) => break,
            }
        }
        self.core.step(now, Event::Seal, &mut self.commands);
    }

    fn on_done(&mut self, now: i64, done: Done) {
        match done {
            Done::Synced(result) => self.complete_flush(now, result),
            Done::Spare(Ok(spare)) => {
                self.spare_backoff = SPARE_RETRY;
                self.storage.log.install_spare(spare)
            }
            Done::Spare(Err(error)) => {
                let wait = self.spare_backoff;
                tracing::warn!(%error, "preallocating the next txn log file failed; retrying in {wait:?}, and the server stops if the current file fills up first");
                self.storage.log.spare_failed();
                self.spare_retry_at = Some(Instant::now() + wait);
                self.spare_backoff = (wait * 2).min(SPARE_RETRY_MAX);
            }
            Done::Snapshot(result, took) => {
                self.snapshot_running = false;
                let ms = took.as_millis() as u64;
                match result {
                    Ok((zxid, bytes)) => {
                        tracing::info!(bytes, ms, "snapshot at zxid {zxid:#x} written")
                    }
                    Err(error) => tracing::error!(
                        %error,
                        ms,
                        "snapshot failed; the older snapshots and the txn log still hold everything"
                    ),
                }
            }
        }
    }

    fn complete_flush(&mut self, now: i64, result: Result<Synced, FlushError>) {
        let durable = result.map_err(|e| e.to_string()).and_then(|proof| {
            self.storage
                .log
                .complete_flush(proof)
                .map_err(|e| e.to_string())
        });
        match durable {
            Ok(batches) => {
                self.intake.flush_completed(batches.len());
                for batch in batches {
                    self.core
                        .step(now, Event::Flushed(batch), &mut self.commands);
                }
            }
            Err(error) => fatal(&format!("txn log flush failed: {error}")),
        }
    }

    /// Carries out every command, starting flushes as batches are appended,
    /// until nothing is left to do right now.
    async fn carry_out(&mut self, now: i64) {
        loop {
            let commands = std::mem::take(&mut self.commands);
            for command in commands {
                match command {
                    Command::Persist { batch, records } => self.append(batch, &records),
                    Command::Publish(batch) => self.publish(batch).await,
                    Command::Report(to, report) => {
                        let _ = to.0.try_send(report);
                    }
                }
            }
            if !self.begin_flush(now) {
                return;
            }
        }
    }

    fn append(&mut self, batch: warden_storage::BatchId, records: &[TxnRecord]) {
        let keep = self.storage.log.keeps_records();
        self.encoded.clear();
        self.encoded_ends.clear();
        if keep {
            for record in records {
                crate::txn::codec::encode_txn(record, &mut self.encoded);
                self.encoded_ends.push(self.encoded.len());
            }
        }
        let starts = std::iter::once(0).chain(self.encoded_ends.iter().copied());
        let payloads = starts
            .zip(&self.encoded_ends)
            .map(|(from, &to)| &self.encoded[from..to]);
        let framed: Vec<Record<'_>> = records
            .iter()
            .zip(payloads.chain(std::iter::repeat(&[][..])))
            .map(|(r, payload)| Record {
                zxid: r.header.zxid as u64,
                payload,
            })
            .collect();
        match self.storage.log.append(&framed) {
            Ok(appended) => assert_eq!(appended, batch, "the log numbers batches as the core does"),
            Err(error) => fatal(&format!("txn log append failed: {error}")),
        }
        if let Some(policy) = self.storage.snapshots.as_mut() {
            let starts = std::iter::once(0).chain(self.encoded_ends.iter().copied());
            for (from, &to) in starts.zip(&self.encoded_ends) {
                self.snapshot_due |= policy.trigger.on_txn((to - from) as u64);
            }
        }
        self.prepare_spare();
    }

    fn prepare_spare(&mut self) {
        if self.spare_retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        self.spare_retry_at = None;
        let Some(plan) = self.storage.log.spare_wanted() else {
            return;
        };
        let done = self.done.clone();
        glommio::spawn_local(async move {
            let spare = glommio::executor()
                .spawn_blocking(move || plan.build())
                .await;
            let _ = done.send(Done::Spare(spare)).await;
        })
        .detach();
    }

    /// Starts a flush if none runs and something waits. Returns true when
    /// it completed at once (no fdatasync needed), so there is more to do.
    fn begin_flush(&mut self, now: i64) -> bool {
        if self.storage.log.flush_in_flight() {
            return false;
        }
        let Some(ticket) = self.storage.log.begin_flush() else {
            return false;
        };
        self.intake.flush_cut();
        if ticket.sync_count() == 0 {
            let result = ticket.sync_blocking();
            self.complete_flush(now, result);
            return true;
        }
        let done = self.done.clone();
        let threshold_ms = self.storage.fsync_warning_threshold_ms;
        glommio::spawn_local(async move {
            let started = std::time::Instant::now();
            let synced = ticket.sync().await;
            warn_if_slow(started.elapsed(), threshold_ms);
            let _ = done.send(Done::Synced(synced)).await;
        })
        .detach();
        false
    }

    async fn publish(&mut self, batch: Arc<Batch>) {
        if self.snapshot_due && !self.snapshot_running {
            if let Some(tree) = batch.outcomes.last().map(|o| o.tree.clone()) {
                self.start_snapshot(tree);
            }
        }
        for shard in &self.shards {
            // A shard that is gone is shutting down; the others still get it.
            let _ = shard.send(batch.clone()).await;
        }
    }

    fn start_snapshot(&mut self, tree: Arc<Tree>) {
        let Some(policy) = self.storage.snapshots.as_ref() else {
            return;
        };
        self.snapshot_due = false;
        self.snapshot_running = true;
        let data_dir = policy.data_dir.clone();
        let db_id = policy.db_id;
        let done = self.done.clone();
        glommio::spawn_local(async move {
            let (written, took) = glommio::executor()
                .spawn_blocking(move || {
                    let started = Instant::now();
                    let written =
                        background(move || write_snapshot(&data_dir, db_id, &tree)).and_then(|w| w);
                    (written, started.elapsed())
                })
                .await;
            let _ = done.send(Done::Snapshot(written, took)).await;
        })
        .detach();
    }
}

/// Logs a txn log fdatasync that took `threshold_ms` or longer, as
/// ZooKeeper's `fsync.warningthresholdms` does: every write waiting on it
/// was delayed as long, and the cause is the disk (or the host under it),
/// which the server's own latency figures cannot show. Returns whether it
/// warned.
fn warn_if_slow(took: Duration, threshold_ms: u64) -> bool {
    let ms = took.as_millis() as u64;
    if ms < threshold_ms {
        return false;
    }
    tracing::warn!(
        ms,
        threshold_ms,
        "fdatasync of the txn log took {ms} ms (fsync.warningthresholdms={threshold_ms}): \
         every write waiting on it was delayed as long; the disk is slow"
    );
    true
}

/// Nice value of the snapshot thread: it yields the CPU to the sequencer,
/// the shards and the log's fdatasync (issue 5, write p99 during snapshots).
const SNAPSHOT_NICE: libc::c_int = 10;

/// Runs `job` on a thread of its own at [`SNAPSHOT_NICE`], so the pool
/// thread that waits for it keeps its normal priority.
fn background<R: Send + 'static>(job: impl FnOnce() -> R + Send + 'static) -> Result<R, String> {
    let thread = std::thread::Builder::new()
        .name("snapshot".into())
        .spawn(move || {
            // SAFETY: gettid/setpriority on the calling thread only.
            let rc = unsafe {
                let tid = libc::gettid();
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, SNAPSHOT_NICE)
            };
            if rc != 0 {
                tracing::debug!(
                    "snapshot thread keeps normal priority: {}",
                    std::io::Error::last_os_error()
                );
            }
            job()
        });
    match thread {
        Ok(handle) => Ok(handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))),
        Err(e) => Err(format!("cannot start the snapshot thread: {e}")),
    }
}

/// Writes `tree` as a snapshot at its last zxid; returns that zxid and the
/// file's size.
pub fn write_snapshot(
    data_dir: &std::path::Path,
    db_id: u64,
    tree: &Tree,
) -> Result<(u64, u64), String> {
    let zxid = tree.last_zxid() as u64;
    warden_storage::snapshot::write_snapshot(data_dir, db_id, zxid, |w| {
        crate::tree::snapshot::write_tree(tree, w)
    })
    .map(|written| (zxid, written.file_bytes))
    .map_err(|e| e.to_string())
}

/// An operating failure the server cannot continue past without risking an
/// acknowledged write (a failed fdatasync, a new log file that does not fit
/// on a full disk): say so in one line and stop, as ZooKeeper does when its
/// log cannot be written (its SyncRequestProcessor takes the server to the
/// ERROR state and it shuts down). Clients see their connections close;
/// a restart recovers everything that was acknowledged.
fn fatal(message: &str) -> ! {
    // One line through the log (which never panics on a failed write to a
    // full disk, unlike eprintln!).
    tracing::error!("{message}; stopping so that nothing unflushed is acknowledged");
    std::process::exit(2);
}

/// Sends [`Event::Tick`] every `interval` until the sequencer is gone.
pub async fn ticker(events: Sender<Event>, interval: Duration) {
    loop {
        glommio::timer::sleep(interval).await;
        if events.send(Event::Tick).await.is_err() {
            return;
        }
    }
}

/// ZooKeeper's autopurge: every `interval`, keep the `retain` newest
/// snapshots and the logs needed to replay from the oldest of them.
pub async fn autopurge(
    data_dir: PathBuf,
    data_log_dir: PathBuf,
    retain: usize,
    interval: Duration,
) {
    loop {
        glommio::timer::sleep(interval).await;
        let (data, logs) = (data_dir.clone(), data_log_dir.clone());
        let purged = glommio::executor()
            .spawn_blocking(move || warden_storage::purge::purge(&data, &logs, retain))
            .await;
        match purged {
            Ok(plan) => tracing::info!(
                snapshots = plan.snapshots.len(),
                logs = plan.logs.len(),
                "autopurge removed old snapshots and logs"
            ),
            Err(error) => tracing::warn!(%error, "autopurge failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_at_or_over_the_threshold_warns_and_a_faster_one_does_not() {
        assert!(!warn_if_slow(Duration::from_micros(999_999), 1000));
        assert!(warn_if_slow(Duration::from_millis(1000), 1000));
        assert!(warn_if_slow(Duration::ZERO, 0), "0 logs every sync");
    }
}
