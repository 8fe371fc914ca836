//! Building the tree's maps from snapshot nodes, which come in path order.
//!
//! Why: restart-to-serving with a million znodes is mostly this (issue 6),
//! and most of it is memory: allocating and first touching the nodes and
//! the maps' nodes. Each znode is allocated once (a [`Node`]
//! straight away), its parent is found without a hash index (the previous
//! parent, else a binary search of the paths read so far, which are
//! sorted), and the maps — path -> node, and each parent's children — are
//! built on a second thread while this one decodes: nodes and child links
//! stream to it in chunks. Both are built from sorted entries (nodes come
//! in path order, and so do each parent's children among the links), full
//! leaf after full leaf, with no search or rebuild per entry.
//!
//! Guarantees: the result is what inserting the nodes and adding each child
//! to its parent one at a time gives: same maps, same stamps, each
//! parent's stored children peak (`numChildren` is derived from the
//! children set, and a peak below the count is left for
//! [`super::Tree::check_invariants`] to report); out-of-order, duplicate
//! and orphan nodes are refused.

use super::super::dense::{DenseMap, SortedBuilder};
use super::super::{path, Children, Node, PathKey, Tree};
use super::SnapshotCodecError;
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Nodes per chunk handed to the map builder.
const CHUNK_NODES: usize = 4096;
/// Chunks queued to the map builder (bounds the memory in flight).
const CHUNKS_QUEUED: usize = 16;
/// Emptied chunks the builder hands back for reuse: their buffers are
/// already paged in (growing fresh ones was a fifth of a 1M-znode load,
/// most of it the kernel zeroing new pages).
const CHUNKS_RECYCLED: usize = CHUNKS_QUEUED + 2;

/// A child to list under the node at index `parent` (in path order).
struct Link {
    parent: usize,
    child: PathKey,
    stamp: u64,
}

/// What the decoder hands the map builder.
struct Chunk {
    nodes: Vec<(PathKey, Node)>,
    links: Vec<Link>,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            nodes: Vec::with_capacity(CHUNK_NODES),
            links: Vec::with_capacity(CHUNK_NODES),
        }
    }
}

type Nodes = DenseMap<PathKey, Node>;
/// The builder's result: the node map, and each parent's children by index.
type Built = (Nodes, HashMap<usize, Children>);

/// Collects nodes in path order and streams them to the map builder.
pub(super) struct NodeSink {
    /// Every path pushed, in order: finds parents, names them at the end.
    paths: Vec<PathKey>,
    /// Stored children peaks that are not 0, by node index.
    peaks: Vec<(usize, usize)>,
    last_parent: usize,
    chunk: Chunk,
    to_builder: Option<SyncSender<Chunk>>,
    /// Emptied chunks back from the builder.
    recycled: Receiver<Chunk>,
    builder: Option<JoinHandle<Built>>,
}

impl NodeSink {
    /// Starts the map builder thread for `count` nodes; fails only if the
    /// system refuses the thread.
    pub(super) fn start(count: usize) -> std::io::Result<NodeSink> {
        let (tx, rx) = sync_channel::<Chunk>(CHUNKS_QUEUED);
        let (back_tx, back_rx) = sync_channel::<Chunk>(CHUNKS_RECYCLED);
        let builder = std::thread::Builder::new()
            .name("snapshot-maps".into())
            .spawn(move || {
                let mut maps = Maps::default();
                for mut chunk in rx {
                    maps.add(&mut chunk);
                    // Full or gone: the sink allocates a new one instead.
                    let _ = back_tx.try_send(chunk);
                }
                maps.finish()
            })?;
        Ok(NodeSink {
            paths: Vec::with_capacity(count),
            peaks: Vec::new(),
            last_parent: 0,
            chunk: Chunk::new(),
            to_builder: Some(tx),
            recycled: back_rx,
            builder: Some(builder),
        })
    }

    /// Adds the next node; `stamp` is its insertion stamp in its parent's
    /// children, `peak` the most children it ever had.
    pub(super) fn push(
        &mut self,
        p: PathKey,
        node: Node,
        stamp: u64,
        peak: usize,
    ) -> Result<(), SnapshotCodecError> {
        match self.paths.last() {
            Some(prev) if **prev == *p => return Err(SnapshotCodecError::Duplicate(p.to_string())),
            Some(prev) if **prev > *p => {
                return Err(SnapshotCodecError::Invariant(format!(
                    "{p}: not in path order"
                )))
            }
            _ => {}
        }
        if &*p != "/" {
            let orphan = || SnapshotCodecError::Orphan(p.to_string());
            let (parent, _) = path::split_last(&p).ok_or_else(orphan)?;
            let parent = self.find(Tree::key(parent)).ok_or_else(orphan)?;
            self.chunk.links.push(Link {
                parent,
                child: p.clone(),
                stamp,
            });
        }
        if peak > 0 {
            self.peaks.push((self.paths.len(), peak));
        }
        self.paths.push(p.clone());
        self.chunk.nodes.push((p, node));
        if self.chunk.nodes.len() >= CHUNK_NODES {
            self.send();
        }
        Ok(())
    }

    /// Hands the chunk to the builder, going on with a recycled one.
    fn send(&mut self) {
        let next = self.recycled.try_recv().unwrap_or_else(|_| Chunk::new());
        self.send_then(next);
    }

    fn send_then(&mut self, next: Chunk) {
        let chunk = std::mem::replace(&mut self.chunk, next);
        let sent = self.to_builder.as_ref().map(|tx| tx.send(chunk));
        assert!(
            matches!(sent, Some(Ok(()))),
            "the snapshot map builder stopped early"
        );
    }

    /// Index of the node at `p` among those pushed (all sorted by path).
    fn find(&mut self, p: &str) -> Option<usize> {
        if self.paths.get(self.last_parent).is_some_and(|k| **k == *p) {
            return Some(self.last_parent);
        }
        let at = self.paths.binary_search_by(|k| (**k).cmp(p)).ok()?;
        self.last_parent = at;
        Some(at)
    }

    pub(super) fn has_root(&self) -> bool {
        self.paths.first().is_some_and(|k| &**k == "/")
    }

    /// The path -> node map, each parent holding its children.
    pub(super) fn finish(mut self) -> Nodes {
        self.send_then(Chunk {
            nodes: Vec::new(),
            links: Vec::new(),
        });
        drop(self.to_builder.take());
        let builder = self.builder.take().expect("finish runs once");
        let (mut map, mut children) = builder.join().expect("snapshot map builder panicked");
        for &(at, peak) in &self.peaks {
            children.entry(at).or_default().peak = peak;
        }
        for (at, c) in children {
            let node = map
                .get_mut(&self.paths[at])
                .expect("a parent is one of the nodes");
            let node = node.get_mut().expect("nodes are not shared while loading");
            node.children = Some(Arc::new(c));
        }
        map
    }
}

/// A parent's children being built, in path order.
type ChildrenBuilder = SortedBuilder<PathKey, u64>;

/// The map builder's state.
#[derive(Default)]
struct Maps {
    nodes: SortedBuilder<PathKey, Node>,
    children: HashMap<usize, ChildrenBuilder>,
    /// The parent whose children are being added, out of `children`.
    current: Option<(usize, ChildrenBuilder)>,
}

impl Maps {
    /// Takes the chunk's nodes and links, leaving it empty.
    fn add(&mut self, chunk: &mut Chunk) {
        for (p, n) in chunk.nodes.drain(..) {
            // In path order: the sink refused anything else.
            self.nodes.push(p, n);
        }
        for Link {
            parent,
            child,
            stamp,
        } in chunk.links.drain(..)
        {
            if self.current.as_ref().is_none_or(|(at, _)| *at != parent) {
                self.put_back();
                let c = self.children.remove(&parent).unwrap_or_default();
                self.current = Some((parent, c));
            }
            let (_, c) = self.current.as_mut().expect("set above");
            c.push(child, stamp);
        }
    }

    fn put_back(&mut self) {
        if let Some((at, c)) = self.current.take() {
            self.children.insert(at, c);
        }
    }

    fn finish(mut self) -> Built {
        self.put_back();
        let children = self
            .children
            .into_iter()
            .map(|(at, c)| {
                let members = c.finish();
                (at, Children { members, peak: 0 })
            })
            .collect();
        (self.nodes.finish(), children)
    }
}
