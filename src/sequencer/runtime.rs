//! The glommio adapter around the sequencer core: it only moves events in,
//! performs the commands (append, flush, publish) and tells the core the time.
//!
//! Group commit: the runtime blocks for the first event, then takes whatever
//! else is already queued (up to [`BATCH_EVENTS_MAX`]), seals one batch, and
//! flushes it once. Under load, batches grow by themselves.

use super::core::{Command, Event, Sequencer};
use super::outcome::Batch;
use async_channel::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warden_storage::volatile::VolatileLog;

/// Most events folded into one batch.
pub const BATCH_EVENTS_MAX: usize = 4096;

/// Wall-clock milliseconds: the time txns carry as ctime/mtime and that
/// session expiry is measured in.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs the sequencer until every event sender is gone.
pub async fn run(
    mut core: Sequencer,
    events: Receiver<Event>,
    shards: Vec<Sender<Arc<Batch>>>,
    mut log: VolatileLog,
) {
    let mut commands = Vec::new();
    while let Ok(first) = events.recv().await {
        let now = now_ms();
        core.step(now, first, &mut commands);
        let mut taken = 1;
        while taken < BATCH_EVENTS_MAX {
            match events.try_recv() {
                Ok(event) => core.step(now, event, &mut commands),
                Err(_) => break,
            }
            taken += 1;
        }
        core.step(now, Event::Seal, &mut commands);
        while let Some(command) = pop_front(&mut commands) {
            match command {
                Command::Persist { batch, records } => {
                    let appended = log.append(records.len());
                    assert_eq!(appended, batch, "the log numbers batches as the core does");
                    core.step(now, Event::Flushed(log.flush(appended)), &mut commands);
                }
                Command::Publish(batch) => publish(&shards, batch).await,
                Command::Report(to, report) => {
                    let _ = to.0.try_send(report);
                }
            }
        }
    }
}

fn pop_front(commands: &mut Vec<Command>) -> Option<Command> {
    if commands.is_empty() {
        None
    } else {
        Some(commands.remove(0))
    }
}

async fn publish(shards: &[Sender<Arc<Batch>>], batch: Arc<Batch>) {
    for shard in shards {
        // A shard that is gone is shutting down; the others still get it.
        let _ = shard.send(batch.clone()).await;
    }
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
