//! The sequencer as a pure state machine: `step(now, event) -> commands`.
//!
//! It owns the authoritative tree and the session table. Every write, session
//! creation, close and expiry gets the next zxid here, is validated against
//! the tree that already includes every earlier write (ZooKeeper's
//! PrepRequestProcessor and FinalRequestProcessor in one pass, possible
//! because the tree is persistent), and is applied at once to the sequencer's
//! own tree. Nothing leaves the sequencer before it is durable: outcomes are
//! held in a sealed batch until the runtime steps [`Event::Flushed`] with the
//! [`Durable`] token the log produced, and only then is the batch published.
//!
//! There is no I/O and no clock here: time arrives with each step. That is
//! what lets a test, or later a simulator, replay a run exactly.

use super::outcome::{Batch, Origin, Outcome, Reply};
use super::prep::{self, Executed, PrepContext};
use crate::proto::requests::Request;
use crate::proto::responses::Response;
use crate::proto::types::{ErrorCode, Id, SessionId, Zxid};
use crate::session::{self, SessionIdGenerator, SessionTracker};
use crate::tree::Tree;
use crate::txn::{TxnHeader, TxnRecord};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use warden_storage::{BatchId, Durable};

/// A client's connect request, as far as the sequencer needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectAttempt {
    pub last_zxid_seen: Zxid,
    pub timeout_ms: i32,
    pub session_id: SessionId,
    pub passwd: Vec<u8>,
}

/// Everything that can happen to the sequencer.
#[derive(Debug)]
pub enum Event {
    /// A write (or sync) from a client session, in that session's order.
    Request {
        origin: Origin,
        session: SessionId,
        xid: i32,
        /// The ids the session has proved, for ACL checks.
        auth: Arc<[Id]>,
        request: Request,
    },
    /// A connection queued a read behind a pending write of `session`: it
    /// needs the tree version right after that write (see
    /// [`super::outcome`]). Answered with [`Reply::ReadPoint`], in order
    /// with the session's writes; consumes no zxid.
    ReadPoint { origin: Origin, session: SessionId },
    /// A connection's handshake: a new session or a reattach.
    Connect {
        origin: Origin,
        attempt: ConnectAttempt,
    },
    /// Sessions that showed activity on a shard since its last report.
    Touch(Vec<SessionId>),
    /// Time passed: expire sessions, sweep containers and TTL nodes.
    Tick,
    /// The runtime has taken all the input it will for this batch.
    Seal,
    /// The log flushed this batch.
    Flushed(Durable<BatchId>),
    /// An operator's question (four-letter words): report the session table.
    Inspect {
        with_sessions: bool,
        reply: ReportTo,
    },
}

/// Where an [`Event::Inspect`] answer goes; opaque to the core.
#[derive(Debug, Clone)]
pub struct ReportTo(pub async_channel::Sender<SequencerReport>);

impl From<async_channel::Sender<SequencerReport>> for ReportTo {
    fn from(sender: async_channel::Sender<SequencerReport>) -> ReportTo {
        ReportTo(sender)
    }
}

/// The session table as the four-letter words show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequencerReport {
    pub session_count: usize,
    /// (session, expiry time in ms), when asked for.
    pub sessions: Vec<(SessionId, i64)>,
}

/// What the runtime must do.
#[derive(Debug)]
pub enum Command {
    /// Append these records to the log as batch `batch`, flush, then step
    /// [`Event::Flushed`].
    Persist {
        batch: BatchId,
        records: Vec<TxnRecord>,
    },
    /// Send this batch to every shard.
    Publish(Arc<Batch>),
    /// Answer an inspection.
    Report(ReportTo, SequencerReport),
}

/// Settings the sequencer needs, taken from the server config.
#[derive(Clone, Debug)]
pub struct SequencerConfig {
    pub server_id: i64,
    pub tick_ms: i64,
    pub session_timeout_ms_min: i32,
    pub session_timeout_ms_max: i32,
    pub sessions_max: usize,
    pub container_check_interval_ms: i64,
    pub password_secret: u64,
    pub prep: PrepContext,
}

/// The sequencer state machine.
pub struct Sequencer {
    config: SequencerConfig,
    tree: Tree,
    sessions: SessionTracker,
    session_ids: SessionIdGenerator,
    owners: HashMap<SessionId, Origin>,
    open: Vec<Outcome>,
    /// The newest version taken (see [`super::outcome`]): what outcomes
    /// that need none carry.
    published: Arc<Tree>,
    open_records: Vec<TxnRecord>,
    sealed: VecDeque<Batch>,
    next_batch: u64,
    next_sweep_ms: i64,
}

impl Sequencer {
    /// A sequencer over `tree` (fresh or recovered). Sessions the tree holds
    /// get a full timeout from `now_ms`, as ZooKeeper gives them after a
    /// restart.
    pub fn new(config: SequencerConfig, tree: Tree, now_ms: i64) -> Sequencer {
        let mut sessions = SessionTracker::new(config.tick_ms as i32, config.sessions_max);
        for (id, timeout_ms) in tree.sessions() {
            let _ = sessions.add(id, timeout_ms, now_ms);
        }
        let session_ids = SessionIdGenerator::new(config.server_id, now_ms);
        let next_sweep_ms = now_ms + config.container_check_interval_ms;
        Sequencer {
            config,
            published: Arc::new(tree.clone()),
            tree,
            sessions,
            session_ids,
            owners: HashMap::new(),
            open: Vec::new(),
            open_records: Vec::new(),
            sealed: VecDeque::new(),
            next_batch: 0,
            next_sweep_ms,
        }
    }

    /// The sequencer's own tree, which includes writes not yet published.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Outcomes waiting in the open batch (for bounding batch size).
    pub fn open_len(&self) -> usize {
        self.open.len()
    }

    /// Advances the state machine by one event.
    pub fn step(&mut self, now_ms: i64, event: Event, out: &mut Vec<Command>) {
        match event {
            Event::Request {
                origin,
                session,
                xid,
                auth,
                request,
            } => self.on_request(now_ms, origin, session, xid, &auth, request),
            Event::ReadPoint { origin, session } => self.on_read_point(origin, session),
            Event::Connect { origin, attempt } => self.on_connect(now_ms, origin, attempt),
            Event::Touch(ids) => {
                for id in ids {
                    self.sessions.touch(id, now_ms);
                }
            }
            Event::Tick => self.on_tick(now_ms),
            Event::Seal => self.seal(out),
            Event::Flushed(durable) => self.on_flushed(durable, out),
            Event::Inspect {
                with_sessions,
                reply,
            } => out.push(Command::Report(reply, self.report(with_sessions))),
        }
    }

    fn report(&self, with_sessions: bool) -> SequencerReport {
        let sessions = if with_sessions {
            self.sessions
                .iter()
                .map(|s| (s.id, s.expires_at_ms))
                .collect()
        } else {
            Vec::new()
        };
        SequencerReport {
            session_count: self.sessions.len(),
            sessions,
        }
    }

    fn next_header(&self, session: SessionId, xid: i32, now_ms: i64) -> TxnHeader {
        TxnHeader {
            session_id: session,
            cxid: xid,
            zxid: self.tree.last_zxid() + 1,
            time_ms: now_ms,
        }
    }

    fn on_request(
        &mut self,
        now_ms: i64,
        origin: Origin,
        session: SessionId,
        xid: i32,
        auth: &[Id],
        request: Request,
    ) {
        assert!(request.needs_sequencer(), "reads are served on the shards");
        if !self.sessions.touch(session, now_ms) {
            self.push_unlogged(
                Some(origin),
                session,
                xid,
                Reply::Response(Err(ErrorCode::SessionExpired)),
            );
            return;
        }
        match request {
            Request::Sync(path) => {
                self.push_unlogged(
                    Some(origin),
                    session,
                    xid,
                    Reply::Response(Ok(Response::Sync(path))),
                );
            }
            Request::CloseSession => {
                let header = self.next_header(session, xid, now_ms);
                let executed = prep::close_session(&mut self.tree, header);
                self.end_session(session);
                self.push_executed(Some(origin), session, xid, executed, true);
            }
            request => {
                let header = self.next_header(session, xid, now_ms);
                let executed =
                    prep::execute_as(&mut self.tree, header, &request, &self.config.prep, auth);
                self.push_executed(Some(origin), session, xid, executed, false);
            }
        }
    }

    fn on_read_point(&mut self, origin: Origin, session: SessionId) {
        self.push_unlogged(Some(origin), session, 0, Reply::ReadPoint);
        self.take_version();
    }

    /// Makes the last open outcome carry the current tree as a new version.
    /// Taking one is cheap (the maps' roots are shared); what costs is that
    /// the next write to each shared B-tree leaf copies it.
    fn take_version(&mut self) {
        let Some(last) = self.open.last_mut() else {
            return;
        };
        if last.exact {
            return;
        }
        self.published = Arc::new(self.tree.clone());
        last.tree = self.published.clone();
        last.exact = true;
    }

    fn on_connect(&mut self, now_ms: i64, origin: Origin, attempt: ConnectAttempt) {
        if attempt.last_zxid_seen > self.tree.last_zxid() {
            let reply = Reply::ZxidAhead {
                client_zxid: attempt.last_zxid_seen,
            };
            self.push_unlogged(Some(origin), attempt.session_id, 0, reply);
            return;
        }
        let timeout_ms = session::negotiate_timeout(
            attempt.timeout_ms,
            self.config.session_timeout_ms_min,
            self.config.session_timeout_ms_max,
        );
        if attempt.session_id == 0 {
            self.create_session(now_ms, origin, timeout_ms);
        } else {
            self.resume_session(now_ms, origin, timeout_ms, &attempt);
        }
    }

    fn create_session(&mut self, now_ms: i64, origin: Origin, timeout_ms: i32) {
        let id = self
            .session_ids
            .next()
            .expect("the id generator never ends");
        if self.sessions.add(id, timeout_ms, now_ms).is_err() {
            // Too many sessions: refuse the way a dead session is refused.
            self.push_unlogged(Some(origin), 0, 0, Reply::SessionRejected);
            return;
        }
        let passwd = session::password_for(id, self.config.password_secret);
        let header = self.next_header(id, 0, now_ms);
        let executed = prep::create_session(&mut self.tree, header, timeout_ms);
        self.owners.insert(id, origin);
        let outcome_reply = Reply::SessionCreated { timeout_ms, passwd };
        self.push_record(executed.record);
        self.push(Some(origin), id, 0, outcome_reply, executed.changes, false);
    }

    fn resume_session(
        &mut self,
        now_ms: i64,
        origin: Origin,
        timeout_ms: i32,
        attempt: &ConnectAttempt,
    ) {
        let id = attempt.session_id;
        let passwd = session::password_for(id, self.config.password_secret);
        let password_ok = session::check_password(id, self.config.password_secret, &attempt.passwd);
        // ZooKeeper re-touches a resumed session with the new connection's
        // negotiated timeout.
        if !password_ok || !self.sessions.touch_with_timeout(id, timeout_ms, now_ms) {
            self.push_unlogged(Some(origin), id, 0, Reply::SessionRejected);
            return;
        }
        let previous = self.owners.insert(id, origin).filter(|p| *p != origin);
        let reply = Reply::SessionResumed {
            timeout_ms,
            passwd,
            previous,
        };
        self.push_unlogged(Some(origin), id, 0, reply);
    }

    fn on_tick(&mut self, now_ms: i64) {
        for id in self.sessions.expired(now_ms) {
            let header = self.next_header(id, 0, now_ms);
            let executed = prep::close_session(&mut self.tree, header);
            self.end_session(id);
            self.push_executed(None, id, 0, executed, true);
        }
        if now_ms >= self.next_sweep_ms {
            self.next_sweep_ms = now_ms + self.config.container_check_interval_ms;
            for path in self.tree.sweep_candidates(now_ms) {
                let header = self.next_header(0, 0, now_ms);
                let executed = prep::sweep_delete(&mut self.tree, header, &path);
                self.push_executed(None, 0, 0, executed, false);
            }
        }
    }

    fn end_session(&mut self, id: SessionId) {
        self.sessions.remove(id);
        self.owners.remove(&id);
    }

    fn push_executed(
        &mut self,
        origin: Option<Origin>,
        session: SessionId,
        xid: i32,
        executed: Executed,
        session_closed: bool,
    ) {
        let Executed {
            record,
            reply,
            changes,
        } = executed;
        self.push_record(record);
        let reply = match origin {
            Some(_) => Reply::Response(reply),
            None => Reply::Nothing,
        };
        self.push(origin, session, xid, reply, changes, session_closed);
    }

    fn push_record(&mut self, record: TxnRecord) {
        assert_eq!(
            record.header.zxid,
            self.tree.last_zxid(),
            "a record's zxid is the tree's newest"
        );
        self.open_records.push(record);
    }

    fn push_unlogged(
        &mut self,
        origin: Option<Origin>,
        session: SessionId,
        xid: i32,
        reply: Reply,
    ) {
        self.push(origin, session, xid, reply, Vec::new(), false);
    }

    fn push(
        &mut self,
        origin: Option<Origin>,
        session: SessionId,
        xid: i32,
        reply: Reply,
        changes: Vec<crate::tree::Change>,
        session_closed: bool,
    ) {
        self.open.push(Outcome {
            origin,
            session,
            xid,
            zxid: self.tree.last_zxid(),
            reply,
            changes,
            session_closed,
            tree: self.published.clone(),
            exact: false,
        });
    }

    fn seal(&mut self, out: &mut Vec<Command>) {
        if self.open.is_empty() {
            return;
        }
        self.take_version();
        let id = BatchId(self.next_batch);
        self.next_batch += 1;
        let outcomes = std::mem::take(&mut self.open);
        let records = std::mem::take(&mut self.open_records);
        self.sealed.push_back(Batch { id, outcomes });
        out.push(Command::Persist { batch: id, records });
    }

    fn on_flushed(&mut self, durable: Durable<BatchId>, out: &mut Vec<Command>) {
        let batch = self.sealed.pop_front().expect("a flush of a sealed batch");
        assert_eq!(
            batch.id,
            *durable.get(),
            "batches are flushed in the order sealed"
        );
        out.push(Command::Publish(Arc::new(batch)));
    }
}
