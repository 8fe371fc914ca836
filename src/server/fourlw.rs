//! Answering a four-letter word: gather a [`ServerSnapshot`] from the
//! shared counters, this shard's tree version, every shard's watch table and
//! the sequencer's session table, then render it.
//!
//! Only the parts a command prints are gathered (watch lists for `wch*`,
//! session lists for `dump`), so `ruok` and `srvr` cost next to nothing.

use crate::fourlw::{
    self, file_descriptor_counts, ConnectionInfo, ConnectionSession, Effect, Environment,
    FourLetterWord, ServerSnapshot, SessionEphemerals, SessionExpiry, WatchEntry,
};
use crate::sequencer::core::{Event, SequencerReport};
use crate::server::stats::ConnectionInfo as Registered;
use crate::shard::Shard;
use std::sync::atomic::Ordering::Relaxed;

/// The text to write back for `word` (the connection closes after it).
pub async fn answer(shard: &Shard, word: FourLetterWord) -> String {
    let whitelist = &shard.config.four_letter_words;
    if !whitelist.contains(word) {
        return fourlw::not_whitelisted_reply(word);
    }
    match word.effect() {
        Effect::ResetServerStats => shard.stats.reset(),
        Effect::ResetConnectionStats => shard.stats.reset_connections(),
        _ => {}
    }
    let snapshot = gather(shard, word).await;
    fourlw::render(word, &snapshot)
}

async fn gather(shard: &Shard, word: FourLetterWord) -> ServerSnapshot {
    let mut s = ServerSnapshot::new(&shard.config, Environment::probe());
    fill_counters(shard, &mut s);
    fill_tree(shard, word, &mut s);
    let report = shard.peers.watch_reports(word.uses_watch_list()).await;
    s.watch_count = report.watch_count as u64;
    s.data_watches = report
        .data_watches
        .into_iter()
        .map(|(session_id, path)| WatchEntry { session_id, path })
        .collect();
    if let Some(sequencer) = inspect_sequencer(shard, word.uses_session_dump()).await {
        s.global_sessions = sequencer.session_count as u64;
        s.sessions = sequencer
            .sessions
            .into_iter()
            .map(|(session_id, expires)| SessionExpiry {
                session_id,
                expires_at_unix_ms: expires.max(0) as u64,
            })
            .collect();
    }
    if word.uses_connections() {
        s.connections = shard
            .stats
            .connections()
            .iter()
            .map(connection_info)
            .collect();
    }
    s
}

fn fill_counters(shard: &Shard, s: &mut ServerSnapshot) {
    let stats = &shard.stats;
    let (min, avg, max) = stats.latency_ms();
    s.latency_ms_min = min as u64;
    s.latency_ms_avg = avg;
    s.latency_ms_max = max as u64;
    s.packets_received = stats.packets_received.load(Relaxed);
    s.packets_sent = stats.packets_sent.load(Relaxed);
    s.num_alive_connections = stats.connection_count() as u64;
    s.outstanding_requests = stats.outstanding.load(Relaxed).max(0) as u64;
    s.uptime_ms = (crate::sequencer::runtime::now_ms() - stats.started_ms).max(0) as u64;
    let (open, max_fds) = file_descriptor_counts();
    s.open_file_descriptor_count = open;
    s.max_file_descriptor_count = max_fds;
}

fn fill_tree(shard: &Shard, word: FourLetterWord, s: &mut ServerSnapshot) {
    let tree = shard.tree();
    s.last_processed_zxid = tree.last_zxid();
    s.node_count = tree.node_count() as u64;
    s.ephemerals_count = tree.ephemeral_count() as u64;
    s.approximate_data_size_bytes = tree.approximate_data_size();
    if word.uses_session_dump() {
        s.ephemerals = tree
            .sessions_with_ephemerals()
            .into_iter()
            .map(|(session_id, paths)| SessionEphemerals { session_id, paths })
            .collect();
    }
}

async fn inspect_sequencer(shard: &Shard, with_sessions: bool) -> Option<SequencerReport> {
    let (reply, report) = async_channel::bounded(1);
    let event = Event::Inspect {
        with_sessions,
        reply: reply.into(),
    };
    shard.to_sequencer.send(event).await.ok()?;
    report.recv().await.ok()
}

fn connection_info(c: &Registered) -> ConnectionInfo {
    let received = c.counters.received.load(Relaxed);
    let sent = c.counters.sent.load(Relaxed);
    let session = c.session.map(|session_id| {
        let total = c.counters.latency_us_total.load(Relaxed);
        ConnectionSession {
            session_id,
            last_operation: "NA".to_string(),
            established_unix_ms: c.established_ms.max(0) as u64,
            timeout_ms: c.timeout_ms.max(0) as u32,
            last_cxid: -1,
            last_zxid: -1,
            last_response_ms: 0,
            last_latency_ms: 0,
            min_latency_ms: c.counters.latency_us_min.load(Relaxed) / 1000,
            avg_latency_ms: total.checked_div(sent).unwrap_or(0) / 1000,
            max_latency_ms: c.counters.latency_us_max.load(Relaxed) / 1000,
        }
    });
    ConnectionInfo {
        remote: c.peer,
        interest_ops: 1,
        queued: 0,
        packets_received: received,
        packets_sent: sent,
        session,
        expires_at_unix_ms: 0,
    }
}
