//! Questions one shard asks all shards (itself included), for the
//! four-letter words that report server-wide watch state.
//!
//! Watch tables are shard-local by design (a shard's watches belong to its
//! connections); only these rare, operator-driven reports cross shards, over
//! bounded channels, never the request path.

use crate::proto::types::SessionId;
use async_channel::{Receiver, Sender};

/// Queries queued per shard.
pub const QUERIES_CAPACITY: usize = 64;

/// A question to a shard.
pub enum ShardQuery {
    /// Watch counts, and with `with_list` every data watch.
    Watches {
        with_list: bool,
        reply: Sender<WatchReport>,
    },
}

/// Watch state of one shard, or merged over all.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchReport {
    /// Data plus child watch registrations (`zk_watch_count`).
    pub watch_count: usize,
    /// (session, path) of every data watch, sorted.
    pub data_watches: Vec<(SessionId, String)>,
}

/// Every shard's query channel.
#[derive(Clone)]
pub struct ShardPeers {
    queries: Vec<Sender<ShardQuery>>,
}

impl ShardPeers {
    /// One channel per shard; the receivers go to the shards in order.
    pub fn new(shards: usize) -> (ShardPeers, Vec<Receiver<ShardQuery>>) {
        let (queries, receivers) = (0..shards)
            .map(|_| async_channel::bounded(QUERIES_CAPACITY))
            .unzip();
        (ShardPeers { queries }, receivers)
    }

    /// Asks every shard for its watches and merges the answers.
    pub async fn watch_reports(&self, with_list: bool) -> WatchReport {
        let mut merged = WatchReport::default();
        for shard in &self.queries {
            let (reply, answer) = async_channel::bounded(1);
            if shard
                .send(ShardQuery::Watches { with_list, reply })
                .await
                .is_err()
            {
                continue;
            }
            if let Ok(report) = answer.recv().await {
                merged.watch_count += report.watch_count;
                merged.data_watches.extend(report.data_watches);
            }
        }
        merged.data_watches.sort();
        merged
    }
}
