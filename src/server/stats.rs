//! Server-wide counters and the connection registry the four-letter words
//! report from.
//!
//! Hot-path counters are relaxed atomics (one writer per shard, readers only
//! from `stat`/`mntr`); the registry behind a mutex changes only when a
//! connection opens, binds a session or closes, never per request.

use crate::proto::types::SessionId;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Per-connection counters, shared between the connection and the registry.
#[derive(Debug, Default)]
pub struct ConnectionCounters {
    pub received: AtomicU64,
    pub sent: AtomicU64,
    pub latency_us_min: AtomicU64,
    pub latency_us_max: AtomicU64,
    pub latency_us_total: AtomicU64,
}

impl ConnectionCounters {
    fn record(&self, latency_us: u64) {
        self.sent.fetch_add(1, Relaxed);
        self.latency_us_total.fetch_add(latency_us, Relaxed);
        self.latency_us_max.fetch_max(latency_us, Relaxed);
        let min = self.latency_us_min.load(Relaxed);
        if min == 0 || latency_us < min {
            self.latency_us_min.store(latency_us, Relaxed);
        }
    }

    pub fn reset(&self) {
        for counter in [
            &self.received,
            &self.sent,
            &self.latency_us_min,
            &self.latency_us_max,
            &self.latency_us_total,
        ] {
            counter.store(0, Relaxed);
        }
    }
}

/// What the registry knows about one connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub shard: usize,
    pub id: u64,
    pub peer: SocketAddr,
    pub session: Option<SessionId>,
    pub timeout_ms: i32,
    pub established_ms: i64,
    pub counters: Arc<ConnectionCounters>,
}

/// Counters for the whole server.
#[derive(Debug)]
pub struct ServerStats {
    pub started_ms: i64,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub outstanding: AtomicI64,
    latency_us_min: AtomicU64,
    latency_us_max: AtomicU64,
    latency_us_total: AtomicU64,
    latency_count: AtomicU64,
    connections: Mutex<HashMap<(usize, u64), ConnectionInfo>>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats::new()
    }
}

impl ServerStats {
    pub fn new() -> ServerStats {
        ServerStats {
            started_ms: wall_ms(),
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            outstanding: AtomicI64::new(0),
            latency_us_min: AtomicU64::new(u64::MAX),
            latency_us_max: AtomicU64::new(0),
            latency_us_total: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            connections: Mutex::new(HashMap::new()),
            per_ip: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a connection from `ip` if it is under `limit` (0 = no limit).
    pub fn admit_ip(&self, ip: IpAddr, limit: usize) -> bool {
        let mut per_ip = self.per_ip.lock().expect("stats lock");
        let count = per_ip.entry(ip).or_insert(0);
        if limit != 0 && *count >= limit {
            return false;
        }
        *count += 1;
        true
    }

    pub fn connection_opened(
        &self,
        shard: usize,
        id: u64,
        peer: SocketAddr,
    ) -> Arc<ConnectionCounters> {
        let counters = Arc::new(ConnectionCounters::default());
        let info = ConnectionInfo {
            shard,
            id,
            peer,
            session: None,
            timeout_ms: 0,
            established_ms: wall_ms(),
            counters: counters.clone(),
        };
        self.connections
            .lock()
            .expect("stats lock")
            .insert((shard, id), info);
        counters
    }

    pub fn session_bound(&self, shard: usize, id: u64, session: SessionId, timeout_ms: i32) {
        if let Some(info) = self
            .connections
            .lock()
            .expect("stats lock")
            .get_mut(&(shard, id))
        {
            info.session = Some(session);
            info.timeout_ms = timeout_ms;
        }
    }

    pub fn connection_closed(&self, shard: usize, id: u64, peer: SocketAddr) {
        self.connections
            .lock()
            .expect("stats lock")
            .remove(&(shard, id));
        let mut per_ip = self.per_ip.lock().expect("stats lock");
        if let Some(count) = per_ip.get_mut(&peer.ip()) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&peer.ip());
            }
        }
    }

    pub fn packet_received(&self, connection: &ConnectionCounters) {
        self.packets_received.fetch_add(1, Relaxed);
        self.outstanding.fetch_add(1, Relaxed);
        connection.received.fetch_add(1, Relaxed);
    }

    pub fn reply_sent(&self, connection: &ConnectionCounters, latency: Duration) {
        let latency_us = latency.as_micros() as u64;
        self.packets_sent.fetch_add(1, Relaxed);
        self.outstanding.fetch_sub(1, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_us_total.fetch_add(latency_us, Relaxed);
        self.latency_us_max.fetch_max(latency_us, Relaxed);
        self.latency_us_min.fetch_min(latency_us, Relaxed);
        connection.record(latency_us);
    }

    /// A packet the server sends that answers no request (an event).
    pub fn notification_sent(&self) {
        self.packets_sent.fetch_add(1, Relaxed);
    }

    /// (min, avg, max) request latency in milliseconds, as `stat` prints it.
    pub fn latency_ms(&self) -> (f64, f64, f64) {
        let count = self.latency_count.load(Relaxed);
        if count == 0 {
            return (0.0, 0.0, 0.0);
        }
        let min = self.latency_us_min.load(Relaxed) as f64 / 1000.0;
        let max = self.latency_us_max.load(Relaxed) as f64 / 1000.0;
        let avg = self.latency_us_total.load(Relaxed) as f64 / count as f64 / 1000.0;
        (min, avg, max)
    }

    /// `srst`: resets the server counters.
    pub fn reset(&self) {
        self.packets_received.store(0, Relaxed);
        self.packets_sent.store(0, Relaxed);
        self.latency_us_min.store(u64::MAX, Relaxed);
        self.latency_us_max.store(0, Relaxed);
        self.latency_us_total.store(0, Relaxed);
        self.latency_count.store(0, Relaxed);
    }

    /// `crst`: resets every connection's counters.
    pub fn reset_connections(&self) {
        for info in self.connections.lock().expect("stats lock").values() {
            info.counters.reset();
        }
    }

    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let mut all: Vec<_> = self
            .connections
            .lock()
            .expect("stats lock")
            .values()
            .cloned()
            .collect();
        all.sort_by_key(|c| (c.shard, c.id));
        all
    }

    pub fn connection_count(&self) -> usize {
        self.connections.lock().expect("stats lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:5000".parse().unwrap()
    }

    #[test]
    fn per_ip_limit_counts_and_releases() {
        let stats = ServerStats::new();
        assert!(stats.admit_ip(peer().ip(), 2));
        assert!(stats.admit_ip(peer().ip(), 2));
        assert!(!stats.admit_ip(peer().ip(), 2));
        stats.connection_opened(0, 1, peer());
        stats.connection_closed(0, 1, peer());
        assert!(stats.admit_ip(peer().ip(), 2));
    }

    #[test]
    fn latency_summary_and_reset() {
        let stats = ServerStats::new();
        let counters = stats.connection_opened(0, 1, peer());
        stats.packet_received(&counters);
        stats.reply_sent(&counters, Duration::from_micros(1500));
        stats.packet_received(&counters);
        stats.reply_sent(&counters, Duration::from_micros(500));
        let (min, avg, max) = stats.latency_ms();
        assert_eq!((min, avg, max), (0.5, 1.0, 1.5));
        assert_eq!(stats.outstanding.load(Relaxed), 0);
        assert_eq!(counters.sent.load(Relaxed), 2);
        stats.reset();
        assert_eq!(stats.latency_ms(), (0.0, 0.0, 0.0));
        stats.reset_connections();
        assert_eq!(counters.sent.load(Relaxed), 0);
    }
}
