//! The watch scenario's watcher sessions: one loop per executor owns its
//! share of the sessions' sockets, once their handshakes are done.
//!
//! Why: a glommio task per session cost the generator about 10 us of CPU
//! per notification (29 us with one-shot re-arms) on the two cores it shares
//! with the server, and every microsecond of it lengthens the fan-out being
//! measured. This loop sleeps in one `epoll_wait` until some socket is
//! ready, then takes each ready socket's bytes with as few reads as they
//! need (one, unless a read fills the executor's 64 KiB buffer), cuts the
//! frames out and looks only at their headers (see [`crate::frames`]), and
//! sends one-shot re-arms at once with non-blocking writes (see
//! [`crate::outbuf`]; a socket with bytes left over is polled for room to
//! write). No task, timer or allocation per notification. With persistent
//! watches (nothing to send back) the loop looks again at most every
//! [`BUSY_TICK`] while notifications keep coming, so that each wake-up
//! takes a larger batch: about a fifth less CPU per notification. (Only
//! while every read carries the kernel's stamp: without one, arrival times
//! would include the tick.)
//!
//! Guarantees:
//! - arrival time: the kernel's receive stamp of the segment (see
//!   [`crate::rxstamp`]), so neither the tick nor the loop's other work
//!   makes a notification look late; a read that took several segments
//!   gives all its frames the newest one's stamp. Without a stamp: the clock
//!   read right after the `epoll_wait` that reported the socket (the bytes
//!   were there by then, so never early). The glommio tasks read the clock
//!   after their own read, counting the reads of every task run before them;
//! - replies are matched to requests in order (xids are consecutive); a
//!   reply out of order, a bad frame, EOF or an I/O error ends that session
//!   (counted as a connection failure unless the writer is already done);
//! - a session with replies due and none arriving, or with bytes the server
//!   has not taken, for the request timeout fails with a timeout;
//! - idle sessions ping every third of the negotiated session timeout;
//! - the loop ends once every session closed (after the writer deletes the
//!   node) or failed, or when the writer is done and the loop heard nothing
//!   for [`LINGER`].

use crate::cli::WatchMode;
use crate::conn::{decode, error_name, Conn, ConnError, MAX_FRAME};
use crate::frames::{classify, Frame, Reassembly};
use crate::outbuf::{send_now, Flushed, OutBuf};
use crate::readiness::{Readiness, Ready};
use crate::rxstamp::{self, Clock};
use crate::template::{next_xid, Template};
use crate::watch::{arm_requests, State, WatchCfg};
use bytes::BytesMut;
use glommio::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering::*;
use std::time::{Duration, Instant};
use warden::proto::client::encode_request;
use warden::proto::requests::{Request, RequestHeader};
use warden::proto::responses::Response;
use warden::proto::types::{xid, EventType, OpCode};

/// Bytes one read may take (the executor's one read buffer).
const READ_BUF: usize = 64 * 1024;
/// Unsent bytes one session may hold: at least this, and at least a few
/// of its re-arms (one per change is outstanding at a time).
const OUT_LIMIT: usize = 1 << 20;
/// The longest the loop sleeps when nothing arrives: how soon it looks at
/// pings, timeouts and the writer's end.
const SCAN_EVERY: Duration = Duration::from_millis(100);
/// Once the writer is done, silence for this long ends the loop.
pub const LINGER: Duration = Duration::from_secs(1);
/// Persistent mode: the shortest time between two looks while sockets are
/// ready (replies are read at most this late; arrival times are stamped by
/// the kernel, so they are not).
pub const BUSY_TICK: Duration = Duration::from_micros(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The first watch requests are not all answered yet.
    Arming,
    Watching,
    /// The node is gone; closeSession is sent.
    Closing,
    Done,
    Failed,
}

/// When a frame is handled: the loop's clock, and when its bytes arrived.
#[derive(Clone, Copy)]
struct Moment {
    now: Instant,
    arrived: Instant,
}

/// What the loop's sessions share: the requests they send, encoded once.
struct Kit {
    mode: WatchMode,
    /// Arming requests for sessions with `base` and `base + 1` watchers.
    arm: [Template; 2],
    close: Template,
    ping: Vec<u8>,
    /// Where requests are rendered before being queued.
    scratch: Vec<u8>,
    /// A read came without the kernel's receive stamp.
    unstamped: bool,
}

impl Kit {
    fn new(cfg: &WatchCfg) -> Kit {
        let base = cfg.watchers / cfg.sessions;
        let mut ping = BytesMut::new();
        let header = RequestHeader {
            xid: xid::PING,
            op: OpCode::Ping as i32,
        };
        encode_request(&mut ping, header, &Request::Ping);
        Kit {
            mode: cfg.mode,
            arm: [base, base + 1].map(|n| Template::new(&arm_requests(&cfg.path, n, cfg.mode))),
            close: Template::new(&[Request::CloseSession]),
            ping: ping.to_vec(),
            scratch: Vec::new(),
            unstamped: false,
        }
    }
}

/// What one batch of ready sockets produced, handed to [`State`] at once.
#[derive(Default)]
struct Tally {
    /// (change, arrival) of data-change notifications.
    arrivals: Vec<(u64, Instant)>,
    registered: usize,
    rearmed: u64,
    /// (name, text) of errors to count.
    errors: Vec<(String, String)>,
}

impl Tally {
    fn publish(&mut self, st: &State) {
        if !self.arrivals.is_empty() {
            let n = self.arrivals.len() as u64;
            st.arrivals.lock().unwrap().append(&mut self.arrivals);
            st.notified.add(n);
        }
        if self.registered > 0 {
            st.registered.fetch_add(self.registered, Release);
            self.registered = 0;
        }
        st.rearmed.add(std::mem::take(&mut self.rearmed));
        for (name, text) in self.errors.drain(..) {
            st.error(name, text);
        }
    }
}

/// One watcher session.
struct Watcher {
    /// Kept open for the loop's lifetime; driven through `fd`.
    _stream: TcpStream,
    fd: RawFd,
    /// Index into the kit's arming templates (0: base watchers, 1: one more).
    arm: usize,
    frames: Reassembly,
    out: OutBuf,
    /// Registered for room to write (bytes were left over).
    want_write: bool,
    phase: Phase,
    next_xid: i32,
    /// The oldest unanswered request's xid, and how many are unanswered.
    first_xid: i32,
    unanswered: usize,
    close_xid: Option<i32>,
    /// Data-change notifications seen: the index of the next change.
    changes_seen: u64,
    last_sent: Instant,
    awaiting_since: Option<Instant>,
    stalled_since: Option<Instant>,
    ping_every: Duration,
    /// Out of the readiness set (done or failed).
    retired: bool,
}

impl Watcher {
    fn new(conn: Conn<TcpStream>, arm: usize, out_limit: usize, now: Instant) -> Watcher {
        let ping_every = Duration::from_millis(conn.timeout_ms.max(3) as u64 / 3);
        let stream = conn.stream;
        // Without stamps arrivals fall back to the loop's clock.
        let _ = rxstamp::enable(stream.as_raw_fd());
        Watcher {
            fd: stream.as_raw_fd(),
            _stream: stream,
            arm,
            frames: Reassembly::default(),
            out: OutBuf::new(out_limit),
            want_write: false,
            phase: Phase::Arming,
            next_xid: 1,
            first_xid: 1,
            unanswered: 0,
            close_xid: None,
            changes_seen: 0,
            last_sent: now,
            awaiting_since: None,
            stalled_since: None,
            ping_every,
            retired: false,
        }
    }

    fn live(&self) -> bool {
        !matches!(self.phase, Phase::Done | Phase::Failed)
    }

    /// Queues `t`'s requests; returns the first one's xid.
    fn queue(
        &mut self,
        t: &Template,
        scratch: &mut Vec<u8>,
        now: Instant,
    ) -> Result<i32, ConnError> {
        scratch.clear();
        let first = self.next_xid;
        t.render(scratch, &mut self.next_xid);
        self.out.push(scratch)?;
        if self.unanswered == 0 {
            self.first_xid = first;
            self.awaiting_since = Some(now);
        }
        self.unanswered += t.len();
        Ok(first)
    }

    /// Takes everything the socket holds and handles the frames in it.
    fn read(
        &mut self,
        buf: &mut [u8],
        clock: &Clock,
        kit: &mut Kit,
        tally: &mut Tally,
    ) -> Result<(), ConnError> {
        loop {
            let n = match rxstamp::recv_stamped(self.fd, buf) {
                Ok(r) if r.len == 0 => return Err(ConnError::Closed),
                Ok(r) => r,
                Err(e) => match e.kind() {
                    std::io::ErrorKind::WouldBlock => return Ok(()),
                    std::io::ErrorKind::Interrupted => continue,
                    _ => return Err(ConnError::Io(e.to_string())),
                },
            };
            kit.unstamped |= n.stamp.is_none();
            let at = Moment {
                now: clock.now,
                arrived: clock.arrival(n.stamp),
            };
            let n = n.len;
            let mut frames = std::mem::take(&mut self.frames);
            let fed = frames.feed(&buf[..n], MAX_FRAME, |body| {
                self.on_frame(body, at, kit, tally)
            });
            self.frames = frames;
            fed?;
            // A read that did not fill the buffer took all there was.
            if n < buf.len() || !self.live() {
                return Ok(());
            }
        }
    }

    fn on_frame(
        &mut self,
        body: &[u8],
        at: Moment,
        kit: &mut Kit,
        tally: &mut Tally,
    ) -> Result<(), ConnError> {
        if !self.live() {
            // Closed (or failed) already: the rest of this read is moot.
            return Ok(());
        }
        let now = at.now;
        match classify(body)? {
            Frame::Ping => Ok(()),
            Frame::Notification { .. } if self.phase == Phase::Closing => Ok(()),
            Frame::Notification { event } if event == EventType::NodeDataChanged as i32 => {
                tally.arrivals.push((self.changes_seen, at.arrived));
                self.changes_seen += 1;
                if kit.mode == WatchMode::Oneshot {
                    let arm = &kit.arm[self.arm];
                    self.queue(arm, &mut kit.scratch, now)?;
                }
                Ok(())
            }
            Frame::Notification { event } if event == EventType::NodeDeleted as i32 => {
                // The writer is done: close the session.
                let x = self.queue(&kit.close, &mut kit.scratch, now)?;
                self.close_xid = Some(x);
                self.phase = Phase::Closing;
                Ok(())
            }
            Frame::Notification { event } => {
                // Rare: decode it in full for the event's name.
                let name = match decode(OpCode::Notification, body) {
                    Ok((_, Response::Event(ev))) => format!("{:?}", ev.event_type),
                    _ => format!("event type {event}"),
                };
                tally.errors.push((
                    format!("unexpected {name}"),
                    format!("unexpected event {name}"),
                ));
                Ok(())
            }
            Frame::Reply { xid, err } => self.on_reply(xid, err, now, tally),
        }
    }

    fn on_reply(
        &mut self,
        xid: i32,
        err: i32,
        now: Instant,
        tally: &mut Tally,
    ) -> Result<(), ConnError> {
        if self.unanswered == 0 {
            return Err(ConnError::Protocol(format!("unexpected reply xid {xid}")));
        }
        if xid != self.first_xid {
            return Err(ConnError::Protocol(format!(
                "reply xid {xid}, expected {}",
                self.first_xid
            )));
        }
        self.unanswered -= 1;
        self.first_xid = next_xid(xid);
        self.awaiting_since = (self.unanswered > 0).then_some(now);
        if self.close_xid == Some(xid) {
            self.phase = Phase::Done;
            return Ok(());
        }
        if self.phase == Phase::Closing {
            return Ok(());
        }
        if err != 0 {
            tally.errors.push((
                error_name(err),
                format!("watch request returned {}", error_name(err)),
            ));
        }
        if self.unanswered == 0 {
            if self.phase == Phase::Arming {
                self.phase = Phase::Watching;
                tally.registered += 1;
            } else {
                tally.rearmed += 1;
            }
        }
        Ok(())
    }

    /// Hands queued bytes to the kernel; asks for room to write while some
    /// are left.
    fn flush(
        &mut self,
        token: usize,
        readiness: &Readiness,
        now: Instant,
    ) -> Result<(), ConnError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let fd = self.fd;
        let flushed = self.out.flush(|b| send_now(fd, b))?;
        self.last_sent = now;
        let want_write = flushed == Flushed::Pending;
        if want_write {
            self.stalled_since.get_or_insert(now);
        } else {
            self.stalled_since = None;
        }
        if want_write != self.want_write {
            readiness
                .modify(fd, token as u64, want_write)
                .map_err(|e| ConnError::Io(e.to_string()))?;
            self.want_write = want_write;
        }
        Ok(())
    }

    /// Pings if idle; a timeout if replies or sends are stuck.
    fn tend(&mut self, now: Instant, kit: &Kit, limit: Duration) -> Result<(), ConnError> {
        let stuck = |since: Option<Instant>| {
            since.is_some_and(|t| now.saturating_duration_since(t) > limit)
        };
        if stuck(self.awaiting_since) || stuck(self.stalled_since) {
            return Err(ConnError::Timeout);
        }
        let idle = now.saturating_duration_since(self.last_sent) >= self.ping_every;
        if idle && self.out.is_empty() && self.phase != Phase::Closing {
            self.out.push(&kit.ping)?;
        }
        Ok(())
    }
}

/// Drives `conns` (session index, connection) until they are all closed or
/// failed, or the writer is done and they went quiet.
pub fn serve(conns: Vec<(usize, Conn<TcpStream>)>, cfg: &WatchCfg, st: &State) {
    let now = Instant::now();
    let extra = cfg.watchers % cfg.sessions;
    // A session with very many watchers re-arms with a large batch.
    let per_watcher = Template::new(&arm_requests(&cfg.path, 1, cfg.mode)).bytes_len();
    let most = cfg.watchers.div_ceil(cfg.sessions.max(1));
    let out_limit = OUT_LIMIT.max(4 * most * per_watcher);
    let mut ws: Vec<Watcher> = conns
        .into_iter()
        .map(|(i, c)| Watcher::new(c, usize::from(i < extra), out_limit, now))
        .collect();
    if let Err(e) = drive(&mut ws, cfg, st) {
        let e = ConnError::Io(format!("watch loop: {e}"));
        for w in ws.iter_mut().filter(|w| w.live()) {
            fail(w, &e, st);
        }
    }
}

/// Ends a session after `e`: closing sessions are done, others failed.
fn fail(w: &mut Watcher, e: &ConnError, st: &State) {
    if w.phase == Phase::Closing {
        w.phase = Phase::Done;
        return;
    }
    w.phase = Phase::Failed;
    st.failed.fetch_add(1, Release);
    if !st.writer_done.load(Acquire) {
        st.error("connection failures".into(), e.to_string());
    }
}

fn drive(ws: &mut [Watcher], cfg: &WatchCfg, st: &State) -> std::io::Result<()> {
    // Wake when asked to, not up to 50 us later (the default timer slack).
    // SAFETY: prctl on the calling thread only.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
    let mut kit = Kit::new(cfg);
    let mut readiness = Readiness::new(ws.len())?;
    let mut tally = Tally::default();
    let now = Instant::now();
    for (t, w) in ws.iter_mut().enumerate() {
        let armed = readiness
            .add(w.fd, t as u64)
            .map_err(|e| ConnError::Io(e.to_string()))
            .and_then(|_| {
                let arm = &kit.arm[w.arm];
                w.queue(arm, &mut kit.scratch, now)
            })
            .and_then(|_| w.flush(t, &readiness, now));
        if let Err(e) = armed {
            fail(w, &e, st);
        }
    }
    let mut buf = vec![0u8; READ_BUF];
    let mut ready: Vec<Ready> = Vec::with_capacity(ws.len());
    let mut next_scan = now + SCAN_EVERY;
    let mut heard = now;
    let mut live = ws.len();
    for w in ws.iter_mut() {
        retire(w, &readiness, &mut live);
    }
    while live > 0 {
        let sleep = next_scan.saturating_duration_since(Instant::now());
        ready.clear();
        ready.extend(readiness.wait(sleep)?);
        // The one clock reading for everything this wait reported.
        let clock = Clock::read();
        let now = clock.now;
        for r in &ready {
            let t = r.token as usize;
            let w = &mut ws[t];
            if !w.live() {
                continue;
            }
            let mut handled = Ok(());
            if r.readable {
                heard = now;
                handled = w.read(&mut buf, &clock, &mut kit, &mut tally);
            }
            if let Err(e) = handled.and_then(|_| w.flush(t, &readiness, now)) {
                fail(w, &e, st);
            }
            retire(w, &readiness, &mut live);
        }
        tally.publish(st);
        if kit.mode == WatchMode::Persistent && !kit.unstamped && !ready.is_empty() {
            // Let the next batch gather (see BUSY_TICK).
            let wake = now + BUSY_TICK;
            let t = Instant::now();
            if wake > t {
                std::thread::sleep(wake - t);
            }
        }
        if now >= next_scan {
            next_scan = now + SCAN_EVERY;
            for (t, w) in ws.iter_mut().enumerate().filter(|(_, w)| w.live()) {
                let tended = w
                    .tend(now, &kit, cfg.io_timeout)
                    .and_then(|_| w.flush(t, &readiness, now));
                if let Err(e) = tended {
                    fail(w, &e, st);
                }
                retire(w, &readiness, &mut live);
            }
            if st.writer_done.load(Acquire) && now.saturating_duration_since(heard) >= LINGER {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Takes a finished session out of the readiness set (once).
fn retire(w: &mut Watcher, readiness: &Readiness, live: &mut usize) {
    if !w.live() && !w.retired {
        w.retired = true;
        *live -= 1;
        let _ = readiness.remove(w.fd);
    }
}
