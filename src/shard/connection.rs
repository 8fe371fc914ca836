//! One client connection on a shard: handshake, request dispatch, ordered
//! replies, watch events, and a bounded outbound buffer.
//!
//! Guarantees: replies leave in the order the session sent its requests
//! (through [`Pipeline`]); a watch event is queued before any reply that can
//! observe its change (the shard fires watches before releasing replies);
//! bad bytes close this connection only, with one log line; a client that
//! stops reading is closed once its outbound buffer passes its bound.
//!
//! Outbound bytes leave either through the connection's writer task or
//! directly with one non-blocking send: what a published batch releases at
//! the end of the batch (see [`super::flush`]), and what the reader answers
//! itself (reads, pings) once it has handled every frame it holds, before
//! it waits for more bytes. So a read answered on arrival costs one `send`
//! and no writer wake-up, and a burst of pipelined reads leaves in one
//! `send`. A direct send happens only while the writer holds nothing, so
//! the two never reorder bytes.

use super::auth;
use super::flush::{send_nonblocking, FlushQueue, Sent};
use super::pipeline::{Pipeline, Ready};
use super::reads;
use super::sasl;
use super::state::Shard;
use crate::proto::connect::{decode_connect_request, encode_connect_response, ConnectResponse};
use crate::proto::decode::decode_request;
use crate::proto::encode::{encode_notification, encode_reply};
use crate::proto::frame::next_frame;
use crate::proto::jute::DecodeError;
use crate::proto::requests::{Request, RequestHeader};
use crate::proto::responses::{ReplyHeader, Response};
use crate::proto::types::{ClientInfo, ErrorCode, Id, SessionId, WatcherEvent, Zxid};
use crate::sasl::digest_md5::DigestMd5Server;
use crate::sequencer::core::{ConnectAttempt, Event};
use crate::sequencer::outcome::{Origin, Outcome, Reply};
use crate::server::stats::ConnectionCounters;
use bytes::{Buf, Bytes, BytesMut};
use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::TcpStream;
use glommio::sync::Semaphore;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// Most bytes one read takes from a socket (the size of the shard's
/// scratch buffer, see [`read_more`]).
pub(crate) const READ_CHUNK_BYTES: usize = 64 * 1024;

/// A read waiting behind one of its session's writes.
#[derive(Debug)]
pub struct Deferred {
    header: RequestHeader,
    request: Request,
    received: Instant,
    /// Batches the shard must have applied before answering (see
    /// [`super::visibility`]).
    must_see: u64,
}

/// A write's reply, back from the sequencer.
#[derive(Debug)]
pub struct Completed {
    xid: i32,
    zxid: Zxid,
    result: Result<Response, ErrorCode>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Handshake,
    Active,
    /// Send what is queued, then close.
    Draining,
    Closed,
}

/// How the handshake ended.
#[derive(Debug, PartialEq, Eq)]
enum Handshake {
    Accepted,
    Refused,
}

/// A client connection.
pub struct Connection {
    pub id: u64,
    pub peer: SocketAddr,
    shard_index: usize,
    fd: Cell<i32>,
    phase: Cell<Phase>,
    session: Cell<Option<SessionId>>,
    timeout_ms: Cell<i32>,
    client_sent_read_only: Cell<Option<bool>>,
    pipeline: RefCell<Pipeline<Deferred, Completed>>,
    outbound: RefCell<BytesMut>,
    outbound_bytes_max: usize,
    /// The writer task holds a chunk it has not finished writing.
    writing: Cell<bool>,
    /// Noted in the shard's flush queue for the batch being applied.
    flush_noted: Cell<bool>,
    /// The reader is handling frames and sends what they queue itself
    /// ([`Self::release_held`]) before it next waits.
    holding: Cell<bool>,
    flush: Rc<FlushQueue>,
    writer_wake: LocalSender<()>,
    writer_wake_rx: RefCell<Option<LocalReceiver<()>>>,
    handshake: RefCell<Option<LocalSender<Handshake>>>,
    pending: Rc<Semaphore>,
    auth: RefCell<Arc<[Id]>>,
    /// `skipACL`: ACL checks see a super id.
    skip_acl: bool,
    /// This connection's SASL exchange, once the client starts one.
    sasl: RefCell<Option<DigestMd5Server>>,
    counters: RefCell<Arc<ConnectionCounters>>,
}

impl Connection {
    pub fn new(id: u64, peer: SocketAddr, shard: &Shard) -> Rc<Connection> {
        let (writer_wake, writer_wake_rx) = local_channel::new_bounded(1);
        let limits = &shard.limits;
        Rc::new(Connection {
            id,
            peer,
            shard_index: shard.index,
            fd: Cell::new(-1),
            phase: Cell::new(Phase::Handshake),
            session: Cell::new(None),
            timeout_ms: Cell::new(0),
            client_sent_read_only: Cell::new(None),
            pipeline: RefCell::new(Pipeline::new(limits.pending_requests_max)),
            outbound: RefCell::new(BytesMut::new()),
            outbound_bytes_max: limits.outbound_bytes_max,
            writing: Cell::new(false),
            flush_noted: Cell::new(false),
            holding: Cell::new(false),
            flush: shard.flush.clone(),
            writer_wake,
            writer_wake_rx: RefCell::new(Some(writer_wake_rx)),
            handshake: RefCell::new(None),
            pending: Rc::new(Semaphore::new(limits.pending_requests_max as u64)),
            auth: RefCell::new(Arc::from(vec![Id::new("ip", &auth::ip_id(peer.ip()))])),
            skip_acl: shard.config.skip_acl,
            sasl: RefCell::new(None),
            counters: RefCell::new(Arc::default()),
        })
    }

    pub fn session(&self) -> Option<SessionId> {
        self.session.get()
    }

    pub fn timeout_ms(&self) -> i32 {
        self.timeout_ms.get()
    }

    /// `whoAmI`'s answer.
    pub fn identities(&self) -> Vec<ClientInfo> {
        self.auth.borrow().iter().map(auth::client_info).collect()
    }

    /// Every id this connection has proved, as ACL checks see them
    /// (with `super` under skipACL).
    pub fn auth_ids(&self) -> Arc<[Id]> {
        auth::acl_ids(&self.auth.borrow(), self.skip_acl)
    }

    fn add_identities(&self, new: Vec<Id>) {
        let mut auth = self.auth.borrow_mut();
        let mut ids = auth.to_vec();
        for id in new {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.len() != auth.len() {
            auth::zookeeper_order(&mut ids);
            *auth = Arc::from(ids);
        }
    }

    /// `AuthenticationHelper.enforceAuthentication`: true unless schemes
    /// are enforced and this connection has proved none of them.
    fn meets_enforced_auth(&self, shard: &Shard) -> bool {
        let enforced = &shard.config.sasl.enforce_auth_schemes;
        enforced.is_empty()
            || self
                .auth
                .borrow()
                .iter()
                .any(|id| enforced.contains(&id.scheme))
    }

    pub fn outstanding(&self) -> usize {
        self.pipeline.borrow().len()
    }

    fn origin(&self) -> Origin {
        Origin {
            shard: self.shard_index,
            conn: self.id,
        }
    }

    /// Serves the connection until it closes.
    pub async fn serve(self: Rc<Self>, shard: Rc<Shard>, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        self.fd.set(stream.as_raw_fd());
        *self.counters.borrow_mut() =
            shard
                .stats
                .connection_opened(shard.index, self.id, self.peer);
        let (mut reader, writer) = futures_lite::io::split(stream);
        let wake = self
            .writer_wake_rx
            .borrow_mut()
            .take()
            .expect("served once");
        let writer_task = glommio::spawn_local(self.clone().write_loop(writer, wake));
        match self.read_loop(&shard, &mut reader).await {
            Ok(()) => tracing::debug!(peer = %self.peer, conn = self.id, "connection closed"),
            Err(reason) => {
                tracing::info!(peer = %self.peer, conn = self.id, "closing connection: {reason}")
            }
        }
        // An error may have left frames' replies held: the writer sends them.
        self.holding.set(false);
        self.close_after_flush("reader finished");
        writer_task.await;
        shard.forget(&self);
    }

    async fn read_loop<R: AsyncRead + Unpin>(
        &self,
        shard: &Shard,
        reader: &mut R,
    ) -> Result<(), String> {
        let mut buffer = BytesMut::with_capacity(READ_CHUNK_BYTES);
        if !fill_to(reader, &mut buffer, 4, &shard.read_scratch).await? {
            return Ok(());
        }
        if let Some(word) =
            crate::fourlw::FourLetterWord::from_prefix([buffer[0], buffer[1], buffer[2], buffer[3]])
        {
            let text = crate::server::fourlw::answer(shard, word).await;
            self.enqueue(text.as_bytes());
            return Ok(());
        }
        let Some(frame) = self.read_frame(shard, reader, &mut buffer).await? else {
            return Ok(());
        };
        if self.handshake(shard, &frame).await? == Handshake::Refused {
            return Ok(());
        }
        while self.phase.get() == Phase::Active {
            let Some(frame) = self.read_frame(shard, reader, &mut buffer).await? else {
                return Ok(());
            };
            if !self.pending.try_acquire(1).unwrap_or(false) {
                self.release_held();
                if self.pending.acquire(1).await.is_err() {
                    return Ok(());
                }
            }
            self.holding.set(true);
            self.on_frame(shard, &frame).await?;
        }
        self.release_held();
        Ok(())
    }

    async fn read_frame<R: AsyncRead + Unpin>(
        &self,
        shard: &Shard,
        reader: &mut R,
        buffer: &mut BytesMut,
    ) -> Result<Option<Bytes>, String> {
        loop {
            match next_frame(buffer, shard.limits.frame_bytes_max) {
                Ok(Some(frame)) => return Ok(Some(frame)),
                Ok(None) => {}
                Err(DecodeError::FrameTooLarge { len, max }) => {
                    return Err(format!(
                        "frame of {len} bytes exceeds jute.maxbuffer ({max})"
                    ))
                }
                Err(error) => return Err(format!("bad frame: {error}")),
            }
            // Everything buffered is handled: send its replies before
            // waiting for more bytes.
            self.release_held();
            if !read_more(reader, buffer, &shard.read_scratch).await? {
                return Ok(None);
            }
        }
    }

    /// Ends the reader's hold: what the frames handled since it began
    /// queued goes to the kernel now (or to the writer task).
    fn release_held(&self) {
        if self.holding.replace(false) && !self.outbound.borrow().is_empty() {
            self.flush_direct();
        }
    }

    async fn handshake(&self, shard: &Shard, frame: &[u8]) -> Result<Handshake, String> {
        let connect =
            decode_connect_request(frame).map_err(|e| format!("bad connect request: {e}"))?;
        self.client_sent_read_only.set(connect.read_only);
        let (done, result) = local_channel::new_bounded(1);
        *self.handshake.borrow_mut() = Some(done);
        let attempt = ConnectAttempt {
            last_zxid_seen: connect.last_zxid_seen,
            timeout_ms: connect.timeout_ms,
            session_id: connect.session_id,
            passwd: connect.passwd.to_vec(),
        };
        let event = Event::Connect {
            origin: self.origin(),
            attempt,
        };
        send_to_sequencer(shard, event).await?;
        Ok(result.recv().await.unwrap_or(Handshake::Refused))
    }

    async fn on_frame(&self, shard: &Shard, frame: &[u8]) -> Result<(), String> {
        let received = Instant::now();
        shard.stats.packet_received(&self.counters.borrow());
        if let Some(session) = self.session.get() {
            shard.touch(session);
        }
        let (header, request) = match decode_request(frame) {
            Ok(decoded) => decoded,
            Err(DecodeError::UnknownOpCode { xid, op }) => {
                tracing::debug!(
                    conn = self.id,
                    op,
                    "unknown opcode; answering ZUNIMPLEMENTED"
                );
                self.reply_now(shard, xid, Err(ErrorCode::Unimplemented), received);
                return Ok(());
            }
            Err(DecodeError::Body { header, source }) => {
                tracing::debug!(conn = self.id, op = header.op, %source, "undecodable body; answering ZMARSHALLINGERROR");
                self.reply_now(
                    shard,
                    header.xid,
                    Err(ErrorCode::MarshallingError),
                    received,
                );
                return Ok(());
            }
            Err(error) => return Err(format!("undecodable request: {error}")),
        };
        match request {
            Request::Auth(packet) => {
                let peer_ip = auth::ip_id(self.peer.ip());
                let super_digest = shard.config.super_digest.as_deref();
                let result = auth::authenticate(&packet, &peer_ip, super_digest)
                    .map(|ids| self.add_identities(ids));
                let failed = result.is_err();
                // ZooKeeper answers auth packets outside its request pipeline
                // with `ReplyHeader(xid, 0, err)`: zxid 0, not the last zxid.
                let result = result.map(|_| Response::Empty);
                self.send_reply(shard, header.xid, 0, result, received);
                if failed {
                    self.close_after_flush("authentication failed");
                }
            }
            Request::Sasl(token) => {
                let answer = {
                    let mut exchange = self.sasl.borrow_mut();
                    let policy = sasl::FailurePolicy::from_config(&shard.config.sasl);
                    sasl::answer(
                        shard.sasl.as_deref(),
                        &mut exchange,
                        &token,
                        self.id,
                        policy,
                    )
                };
                self.add_identities(answer.identities);
                // ZooKeeper answers SASL outside its request pipeline, with
                // zxid 0, like auth packets.
                self.send_reply(shard, header.xid, 0, answer.reply, received);
                if answer.close {
                    self.close_after_flush("SASL authentication failed");
                }
            }
            _ if !self.meets_enforced_auth(shard) => {
                tracing::warn!(
                    conn = self.id,
                    "no identity of a scheme in enforce.auth.schemes {:?}; closing the connection",
                    shard.config.sasl.enforce_auth_schemes
                );
                let code = ErrorCode::SessionClosedRequireSaslAuth;
                self.send_reply(shard, header.xid, 0, Err(code), received);
                self.close_after_flush("authentication required");
            }
            Request::Ping => self.reply_now(shard, header.xid, Ok(Response::Empty), received),
            request if request.needs_sequencer() => {
                self.queue_write(shard, header, request, received).await?
            }
            request => {
                let deferred = Deferred {
                    header,
                    request,
                    received,
                    must_see: shard.released(),
                };
                let idle = self.pipeline.borrow().is_idle();
                if idle && shard.applied() >= deferred.must_see {
                    self.answer_read(shard, deferred);
                } else {
                    if self.pipeline.borrow().needs_point() {
                        self.ask_read_point(shard).await?;
                    }
                    self.pipeline
                        .borrow_mut()
                        .push_read(deferred)
                        .expect("bounded by the pending semaphore");
                    if idle {
                        self.drain(shard);
                    }
                }
            }
        }
        Ok(())
    }

    async fn queue_write(
        &self,
        shard: &Shard,
        header: RequestHeader,
        request: Request,
        received: Instant,
    ) -> Result<(), String> {
        self.pipeline
            .borrow_mut()
            .push_write(header.xid, received)
            .expect("bounded by the pending semaphore");
        let event = Event::Request {
            origin: self.origin(),
            session: self.active_session(),
            xid: header.xid,
            auth: self.auth_ids(),
            request,
        };
        self.forward(shard, event).await
    }

    /// Queues a read point and asks the sequencer for it (see
    /// [`super::pipeline`]): the reads queued next are answered from the
    /// version right after this session's pending writes.
    async fn ask_read_point(&self, shard: &Shard) -> Result<(), String> {
        self.pipeline.borrow_mut().push_point();
        let event = Event::ReadPoint {
            origin: self.origin(),
            session: self.active_session(),
        };
        self.forward(shard, event).await
    }

    /// Sends a session's event to the sequencer. The send may wait for
    /// room, so replies the reader holds leave first.
    async fn forward(&self, shard: &Shard, event: Event) -> Result<(), String> {
        self.release_held();
        send_to_sequencer(shard, event).await
    }

    fn active_session(&self) -> SessionId {
        self.session
            .get()
            .expect("active connections have a session")
    }

    /// Called by the shard for each outcome addressed to this connection.
    pub fn on_outcome(&self, shard: &Shard, outcome: &Outcome) {
        match &outcome.reply {
            Reply::SessionCreated { timeout_ms, passwd }
            | Reply::SessionResumed {
                timeout_ms, passwd, ..
            } => self.accept_session(shard, outcome.session, *timeout_ms, *passwd),
            Reply::SessionRejected => {
                self.send_connect_response(0, 0, [0; 16]);
                self.finish_handshake(Handshake::Refused);
                self.close_after_flush("session expired or password wrong");
            }
            Reply::ZxidAhead { client_zxid } => {
                tracing::info!(
                    conn = self.id,
                    "refusing session: client has seen zxid {client_zxid:#x}, ours is {:#x}",
                    outcome.zxid
                );
                self.finish_handshake(Handshake::Refused);
                self.close_after_flush("client ahead of server");
            }
            Reply::Response(result) => {
                let completed = Completed {
                    xid: outcome.xid,
                    zxid: outcome.zxid,
                    result: result.clone(),
                };
                self.pipeline
                    .borrow_mut()
                    .complete_write(outcome.xid, completed);
                self.drain(shard);
            }
            Reply::ReadPoint => {
                self.pipeline.borrow_mut().complete_point();
                self.drain(shard);
            }
            Reply::Nothing => {}
        }
    }

    fn accept_session(&self, shard: &Shard, session: SessionId, timeout_ms: i32, passwd: [u8; 16]) {
        self.session.set(Some(session));
        self.timeout_ms.set(timeout_ms);
        shard.bind_session(session, self.id);
        shard
            .stats
            .session_bound(shard.index, self.id, session, timeout_ms);
        self.send_connect_response(timeout_ms, session, passwd);
        self.phase.set(Phase::Active);
        self.finish_handshake(Handshake::Accepted);
    }

    fn finish_handshake(&self, result: Handshake) {
        if let Some(done) = self.handshake.borrow_mut().take() {
            let _ = done.try_send(result);
        }
    }

    fn send_connect_response(&self, timeout_ms: i32, session_id: SessionId, passwd: [u8; 16]) {
        let response = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id,
            passwd: Bytes::copy_from_slice(&passwd),
            read_only: self.client_sent_read_only.get().map(|_| false),
        };
        let mut out = BytesMut::new();
        encode_connect_response(&mut out, &response);
        self.enqueue(&out);
    }

    /// Releases every reply whose predecessors are answered.
    pub(crate) fn drain(&self, shard: &Shard) {
        loop {
            let ready = self.pipeline.borrow_mut().pop_ready();
            match ready {
                None => return,
                Some(Ready::Write(completed, received)) => {
                    self.send_reply(
                        shard,
                        completed.xid,
                        completed.zxid,
                        completed.result,
                        received,
                    );
                }
                Some(Ready::Read(deferred)) if shard.applied() < deferred.must_see => {
                    shard.wake_read_at(deferred.must_see, self.id);
                    self.pipeline.borrow_mut().unpop_read(deferred);
                    return;
                }
                Some(Ready::Read(deferred)) => self.answer_read(shard, deferred),
            }
        }
    }

    fn answer_read(&self, shard: &Shard, deferred: Deferred) {
        let tree = shard.tree();
        let session = self.session.get().unwrap_or(0);
        let result = reads::serve(shard, self, &tree, session, &deferred.request);
        self.send_reply(
            shard,
            deferred.header.xid,
            tree.last_zxid(),
            result,
            deferred.received,
        );
    }

    fn reply_now(
        &self,
        shard: &Shard,
        xid: i32,
        result: Result<Response, ErrorCode>,
        received: Instant,
    ) {
        let zxid = shard.tree().last_zxid();
        self.send_reply(shard, xid, zxid, result, received);
    }

    fn send_reply(
        &self,
        shard: &Shard,
        xid: i32,
        zxid: Zxid,
        result: Result<Response, ErrorCode>,
        received: Instant,
    ) {
        let (err, body) = match result {
            Ok(body) => (0, body),
            Err(code) => (code.code(), Response::Empty),
        };
        self.enqueue_with(|out| encode_reply(out, ReplyHeader { xid, zxid, err }, &body));
        shard
            .stats
            .reply_sent(&self.counters.borrow(), received.elapsed());
        self.pending.signal(1);
    }

    /// Queues a watch notification.
    pub fn send_event(&self, shard: &Shard, event: &WatcherEvent) {
        self.send_notification(shard, &notification_frame(event));
    }

    /// Queues a notification frame made by [`notification_frame`] (one
    /// frame serves every watcher of an event: it names no session).
    pub fn send_notification(&self, shard: &Shard, frame: &[u8]) {
        shard.stats.notification_sent();
        self.enqueue(frame);
        self.counters
            .borrow()
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn enqueue(&self, bytes: &[u8]) {
        self.enqueue_with(|out| out.extend_from_slice(bytes));
    }

    /// Appends what `write` puts in the outbound buffer (encoded in place,
    /// no intermediate buffer) and sees that it gets sent.
    fn enqueue_with(&self, write: impl FnOnce(&mut BytesMut)) {
        if matches!(self.phase.get(), Phase::Closed) {
            return;
        }
        let too_much = {
            let mut outbound = self.outbound.borrow_mut();
            write(&mut outbound);
            outbound.len() > self.outbound_bytes_max
        };
        if too_much {
            self.close("client is not reading its replies (outbound buffer full)");
            return;
        }
        if self.flush.deferring() {
            if !self.flush_noted.replace(true) {
                self.flush.note(self.id);
            }
            return;
        }
        if self.holding.get() {
            // The reader sends it before it next waits.
            return;
        }
        let _ = self.writer_wake.try_send(());
    }

    /// End of a batch: hands what is queued to the kernel now, without
    /// blocking, if the writer task holds nothing; what the kernel does not
    /// take stays queued, first, for the writer task.
    pub(crate) fn flush_direct(&self) {
        self.flush_noted.set(false);
        let direct = matches!(self.phase.get(), Phase::Handshake | Phase::Active)
            && !self.writing.get()
            && self.fd.get() >= 0;
        if direct {
            let mut outbound = self.outbound.borrow_mut();
            match send_nonblocking(self.fd.get(), &outbound) {
                Sent::Bytes(n) if n == outbound.len() => {
                    // Keeps the allocation for the next frame.
                    outbound.clear();
                    return;
                }
                Sent::Bytes(n) => outbound.advance(n),
                Sent::WouldBlock | Sent::Failed => {}
            }
        }
        let _ = self.writer_wake.try_send(());
    }

    /// Sends what is queued, then closes.
    pub fn close_after_flush(&self, why: &str) {
        if matches!(self.phase.get(), Phase::Draining | Phase::Closed) {
            return;
        }
        tracing::debug!(conn = self.id, "closing after flush: {why}");
        self.phase.set(Phase::Draining);
        self.finish_handshake(Handshake::Refused);
        self.pending.close();
        let _ = self.writer_wake.try_send(());
    }

    /// Closes now, dropping anything queued.
    pub fn close(&self, why: &str) {
        if self.phase.get() == Phase::Closed {
            return;
        }
        tracing::info!(conn = self.id, peer = %self.peer, "closing connection: {why}");
        self.phase.set(Phase::Closed);
        self.outbound.borrow_mut().clear();
        self.finish_handshake(Handshake::Refused);
        self.pending.close();
        self.shutdown_socket();
        let _ = self.writer_wake.try_send(());
    }

    fn shutdown_socket(&self) {
        let fd = self.fd.get();
        if fd >= 0 {
            // Wakes the reader with EOF; the writer's next write fails.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }

    async fn write_loop<W: AsyncWrite + Unpin>(
        self: Rc<Self>,
        mut writer: W,
        wake: LocalReceiver<()>,
    ) {
        loop {
            let chunk = self.outbound.borrow_mut().split();
            if !chunk.is_empty() {
                self.writing.set(true);
                let written = writer.write_all(&chunk).await;
                self.writing.set(false);
                if written.is_err() {
                    self.close("write failed");
                    return;
                }
                continue;
            }
            match self.phase.get() {
                Phase::Draining => {
                    let _ = writer.flush().await;
                    self.phase.set(Phase::Closed);
                    self.shutdown_socket();
                    return;
                }
                Phase::Closed => return,
                _ => {}
            }
            if wake.recv().await.is_none() {
                return;
            }
        }
    }
}

/// One watch notification frame (xid -1, zxid -1, err 0, the event).
pub fn notification_frame(event: &WatcherEvent) -> Bytes {
    let mut out = BytesMut::new();
    encode_notification(&mut out, event);
    out.freeze()
}

/// Reads until `buffer` holds at least `want` bytes; false on a clean EOF.
async fn fill_to<R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut BytesMut,
    want: usize,
    scratch: &RefCell<Vec<u8>>,
) -> Result<bool, String> {
    while buffer.len() < want {
        if !read_more(reader, buffer, scratch).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads one chunk into `buffer`; false on EOF.
///
/// The bytes land in `scratch`, the shard's one read buffer, and are copied
/// out in the same poll: `poll_read` cannot keep the slice it is given, so
/// connections share it, and no read has to zero a fresh 64 KiB chunk.
async fn read_more<R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut BytesMut,
    scratch: &RefCell<Vec<u8>>,
) -> Result<bool, String> {
    let read = std::future::poll_fn(|cx| {
        let mut chunk = scratch.borrow_mut();
        let polled = std::pin::Pin::new(&mut *reader).poll_read(cx, &mut chunk);
        if let std::task::Poll::Ready(Ok(n)) = polled {
            buffer.extend_from_slice(&chunk[..n]);
        }
        polled
    })
    .await;
    match read {
        Ok(0) => Ok(false),
        Ok(_) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => Ok(false),
        Err(error) => Err(format!("read failed: {error}")),
    }
}

/// Hands `event` to the sequencer, in this shard's order.
async fn send_to_sequencer(shard: &Shard, event: Event) -> Result<(), String> {
    shard
        .to_sequencer
        .send(event)
        .await
        .map_err(|_| "server shutting down".to_string())
}
