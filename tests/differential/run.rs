//! Runs one op sequence against one server and writes down, per op, a
//! normalised transcript: the reply (error code, zxid, body with every Stat
//! field) and every watch event each session received because of it.
//!
//! Normalisation: times are dropped; session ids become labels (`s0`, `s1`,
//! ... in the order the sequence opened them); a zxid becomes its distance
//! from the zxid that created the seed's root (`+7`), so zxid order and gaps
//! are compared, not absolute values; paths show the root as `R`.
//!
//! Events are attributed deterministically: after each op every live session
//! sends a barrier `sync R` and waits for its reply. After a sync, the
//! session's view includes every write ordered before it, and a watch event
//! reaches a client before anything that reflects its change, so every event
//! the op triggered has arrived by then, on both servers. (A plain read is not
//! enough: ZooKeeper promises a client that is not the writer the new state
//! only after a sync; standalone ZooKeeper happens to give it at once, and a
//! Warden shard other than the writer's may still be a batch behind.) Events
//! are listed per session in arrival order, with whether they came before
//! the op's own reply. The barrier also means every op sees all earlier ops.

use super::gen::{AclChoice, CreateSpec, MultiOp, Op, QuotaOp, ReadKind, ReadOp, SLOTS};
use crate::support::{digest, show_acl, Client, Frame};
use bytes::Bytes;
use std::collections::HashMap;
use std::fmt::Write as _;
use warden::proto::requests::{self as rq, Request};
use warden::proto::responses::{MultiResult, ReplyHeader, Response};
use warden::proto::types::{perms, Acl, ErrorCode, Id, NodeData, OpCode, Stat, WatcherEvent};

/// Session timeout asked for (the servers run with tickTime 2000, so up to
/// 40 s is granted): far longer than a seed runs, so no session expires.
const SESSION_TIMEOUT_MS: i32 = 30_000;

/// The transcript of one op: what it returned and the events it caused.
pub type Step = String;

struct Slot {
    client: Client,
    label: String,
    /// The connection was lost (the server closed it): resume the session
    /// on a new connection before the slot is used again.
    lost: bool,
}

pub struct Runner {
    port: u16,
    root: String,
    base: i64,
    slots: Vec<Slot>,
    labels: HashMap<i64, String>,
    opened: usize,
}

/// Runs `ops` under `root` (which must not exist) on the server at `port`.
/// Closes every session it opened before returning.
pub fn run(port: u16, root: &str, ops: &[Op]) -> Result<Vec<Step>, String> {
    let mut runner = Runner {
        port,
        root: root.to_string(),
        base: 0,
        slots: Vec::new(),
        labels: HashMap::new(),
        opened: 0,
    };
    for _ in 0..SLOTS {
        let slot = runner.open()?;
        runner.slots.push(slot);
    }
    let create_root = Request::Create(
        OpCode::Create2,
        rq::CreateRequest {
            path: root.to_string(),
            data: Bytes::new().into(),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: None,
        },
    );
    match runner.call(0, &create_root)? {
        (h, Response::Create2(_, stat)) if h.err == 0 => runner.base = stat.czxid,
        (h, r) => return Err(format!("creating the root {root}: err {} {r:?}", h.err)),
    }
    runner.barrier(&mut String::new())?;
    let mut steps = Vec::with_capacity(ops.len());
    for op in ops {
        steps.push(runner.step(op)?);
    }
    runner.close_all();
    Ok(steps)
}

impl Runner {
    fn open(&mut self) -> Result<Slot, String> {
        let client = Client::connect_with(self.port, 0, &[0; 16], SESSION_TIMEOUT_MS)
            .ok_or_else(|| format!("server on port {} refused a new session", self.port))?;
        let label = format!("s{}", self.opened);
        self.opened += 1;
        self.labels.insert(client.session_id(), label.clone());
        Ok(Slot {
            client,
            label,
            lost: false,
        })
    }

    /// Reconnects a slot whose connection was lost, keeping its session.
    fn resume(&mut self, s: usize) -> Result<(), String> {
        let slot = &self.slots[s];
        let (id, passwd) = (slot.client.session_id(), slot.client.session.passwd.clone());
        let client = Client::connect_with(self.port, id, &passwd, SESSION_TIMEOUT_MS)
            .ok_or_else(|| format!("could not resume session {}", slot.label))?;
        self.slots[s].client = client;
        self.slots[s].lost = false;
        Ok(())
    }

    fn close_all(&mut self) {
        for s in 0..self.slots.len() {
            if self.slots[s].lost && self.resume(s).is_err() {
                continue;
            }
            let _ = self.call(s, &Request::CloseSession);
        }
    }

    /// Sends a request on slot `s` and waits for its reply; events that
    /// arrive meanwhile go to `events` (formatted). The outer error is a
    /// harness failure; a lost connection is reported in the reply position.
    fn call_collecting(
        &mut self,
        s: usize,
        request: &Request,
        events: &mut Vec<String>,
    ) -> Result<Option<(ReplyHeader, Response)>, String> {
        let xid = self.slots[s].client.send(request);
        loop {
            match self.slots[s].client.receive_with_header() {
                None => {
                    self.slots[s].lost = true;
                    return Ok(None);
                }
                Some((header, Frame::Event(event))) => events.push(self.event(&header, &event)),
                Some((header, Frame::Reply(_, response))) if header.xid == xid => {
                    return Ok(Some((header, response)))
                }
                Some((header, Frame::Reply(_, response))) => {
                    return Err(format!(
                        "reply to xid {} while waiting for {xid}: {response:?}",
                        header.xid
                    ))
                }
            }
        }
    }

    /// For harness requests whose events do not matter (root, close).
    fn call(&mut self, s: usize, request: &Request) -> Result<(ReplyHeader, Response), String> {
        let mut ignored = Vec::new();
        self.call_collecting(s, request, &mut ignored)?
            .ok_or_else(|| format!("connection of {} lost", self.slots[s].label))
    }

    fn step(&mut self, op: &Op) -> Result<Step, String> {
        let s = op.slot();
        if self.slots[s].lost {
            self.resume(s)?;
        }
        let mut out = String::new();
        let mut before = Vec::new();
        let request = self.request(op);
        let reply = self.call_collecting(s, &request, &mut before)?;
        match &reply {
            None => out.push_str("connection closed by server"),
            Some((header, response)) => {
                let _ = write!(
                    out,
                    "{} zxid={}",
                    error_name(header.err),
                    self.zxid(header.zxid)
                );
                if header.err == 0 {
                    let _ = write!(out, " {}", self.response(response));
                }
            }
        }
        for e in before {
            let _ = write!(out, "\n  {} before reply: {e}", self.slots[s].label);
        }
        if matches!(op, Op::Close { .. }) {
            if reply.is_some() {
                // The server closes the connection after the reply.
                let mut after = Vec::new();
                while let Some((header, frame)) = self.slots[s].client.receive_with_header() {
                    match frame {
                        Frame::Event(e) => after.push(self.event(&header, &e)),
                        Frame::Reply(h, r) => after.push(format!("stray reply {h:?} {r:?}")),
                    }
                }
                for e in after {
                    let _ = write!(out, "\n  {} after close: {e}", self.slots[s].label);
                }
            }
            self.slots[s] = self.open()?;
        }
        self.barrier(&mut out)?;
        Ok(out)
    }

    /// Every live session sends `sync R` (pipelined) and waits for it.
    fn barrier(&mut self, out: &mut String) -> Result<(), String> {
        let request = Request::Sync(self.root.clone());
        let mut sent = Vec::new();
        for s in 0..self.slots.len() {
            if !self.slots[s].lost {
                sent.push((s, self.slots[s].client.send(&request)));
            }
        }
        for (s, xid) in sent {
            loop {
                let Some((header, frame)) = self.slots[s].client.receive_with_header() else {
                    let _ = write!(out, "\n  {} connection lost", self.slots[s].label);
                    self.slots[s].lost = true;
                    break;
                };
                match frame {
                    Frame::Event(e) => {
                        let e = self.event(&header, &e);
                        let _ = write!(out, "\n  {}: {e}", self.slots[s].label);
                    }
                    Frame::Reply(h, _) if h.xid == xid => break,
                    Frame::Reply(h, r) => return Err(format!("stray reply {h:?} {r:?}")),
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ requests --

    fn abs(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{rel}", self.root)
        }
    }

    fn create(&self, spec: &CreateSpec) -> (OpCode, rq::CreateRequest) {
        let opcode = OpCode::from_i32(spec.opcode).expect("a create opcode");
        (
            opcode,
            rq::CreateRequest {
                path: self.abs(&spec.path),
                data: Bytes::from(spec.data.clone()).into(),
                acl: acl(spec.acl),
                flags: spec.flags,
                ttl: (opcode == OpCode::CreateTtl).then_some(spec.ttl),
            },
        )
    }

    fn request(&self, op: &Op) -> Request {
        let pw = |path: &str, watch| rq::PathWatchRequest {
            path: self.abs(path),
            watch,
        };
        match op {
            Op::Create { spec, .. } => {
                let (opcode, c) = self.create(spec);
                Request::Create(opcode, c)
            }
            Op::Delete { path, version, .. } => Request::Delete(rq::DeleteRequest {
                path: self.abs(path),
                version: *version,
            }),
            Op::SetData {
                path,
                data,
                version,
                ..
            } => Request::SetData(rq::SetDataRequest {
                path: self.abs(path),
                data: Bytes::from(data.clone()).into(),
                version: *version,
            }),
            Op::Read {
                kind, path, watch, ..
            } => match kind {
                ReadKind::Exists => Request::Exists(pw(path, *watch)),
                ReadKind::GetData => Request::GetData(pw(path, *watch)),
                ReadKind::GetChildren => Request::GetChildren(pw(path, *watch)),
                ReadKind::GetChildren2 => Request::GetChildren2(pw(path, *watch)),
            },
            Op::GetAcl { path, .. } => Request::GetAcl(self.abs(path)),
            Op::SetAcl {
                path,
                acl: a,
                version,
                ..
            } => Request::SetAcl(rq::SetAclRequest {
                path: self.abs(path),
                acl: acl(*a),
                version: *version,
            }),
            Op::Multi { ops, .. } => Request::Multi(
                ops.iter()
                    .map(|m| match m {
                        MultiOp::Create(spec) => {
                            let (opcode, c) = self.create(spec);
                            rq::MultiOp::Create(opcode, c)
                        }
                        MultiOp::Delete(path, version) => rq::MultiOp::Delete(rq::DeleteRequest {
                            path: self.abs(path),
                            version: *version,
                        }),
                        MultiOp::SetData(path, data, version) => {
                            rq::MultiOp::SetData(rq::SetDataRequest {
                                path: self.abs(path),
                                data: Bytes::from(data.clone()).into(),
                                version: *version,
                            })
                        }
                        MultiOp::Check(path, version) => {
                            rq::MultiOp::Check(rq::CheckVersionRequest {
                                path: self.abs(path),
                                version: *version,
                            })
                        }
                    })
                    .collect(),
            ),
            Op::MultiRead { ops, .. } => Request::MultiRead(
                ops.iter()
                    .map(|r| match r {
                        ReadOp::GetData(p) => rq::MultiOp::GetData(self.abs(p)),
                        ReadOp::GetChildren(p) => rq::MultiOp::GetChildren(self.abs(p)),
                    })
                    .collect(),
            ),
            Op::AddWatch { path, mode, .. } => Request::AddWatch(rq::AddWatchRequest {
                path: self.abs(path),
                mode: *mode,
            }),
            Op::RemoveWatches { path, kind, .. } => Request::RemoveWatches(rq::WatchesRequest {
                path: self.abs(path),
                watcher_type: *kind,
            }),
            Op::CheckWatches { path, kind, .. } => Request::CheckWatches(rq::WatchesRequest {
                path: self.abs(path),
                watcher_type: *kind,
            }),
            Op::Sync { path, .. } => Request::Sync(self.abs(path)),
            Op::AllChildrenNumber { path, .. } => Request::GetAllChildrenNumber(self.abs(path)),
            Op::GetEphemerals { prefix, .. } => Request::GetEphemerals(self.abs(prefix)),
            Op::Close { .. } => Request::CloseSession,
            Op::AddAuth { user, .. } => Request::Auth(rq::AuthPacket {
                auth_type: 0,
                scheme: "digest".into(),
                auth: Bytes::from(format!("u{user}:p{user}")),
            }),
            Op::WhoAmI { .. } => Request::WhoAmI,
            Op::AddSuper { .. } => Request::Auth(rq::AuthPacket {
                auth_type: 0,
                scheme: "digest".into(),
                auth: Bytes::from_static(b"super:test"),
            }),
            Op::Quota { op, .. } => self.quota_request(op),
        }
    }

    /// `/zookeeper/quota<root>[/rel]`.
    fn quota_dir(&self, rel: &str) -> String {
        format!("/zookeeper/quota{}", self.abs(rel))
    }

    fn quota_request(&self, op: &QuotaOp) -> Request {
        let create = |path: String, data: Option<&str>| {
            Request::Create(
                OpCode::Create,
                rq::CreateRequest {
                    path,
                    data: data.map(|d| Bytes::from(d.to_string())).into(),
                    acl: acl(AclChoice::Open),
                    flags: 0,
                    ttl: None,
                },
            )
        };
        match op {
            QuotaOp::Dir(rel) => create(self.quota_dir(rel), None),
            QuotaOp::CreateLimits(rel, limits) => create(
                format!("{}/zookeeper_limits", self.quota_dir(rel)),
                Some(limits),
            ),
            QuotaOp::CreateStats(rel) => create(
                format!("{}/zookeeper_stats", self.quota_dir(rel)),
                Some("count=0,bytes=0"),
            ),
            QuotaOp::SetLimits(rel, limits) => Request::SetData(rq::SetDataRequest {
                path: format!("{}/zookeeper_limits", self.quota_dir(rel)),
                data: Bytes::from(limits.clone()).into(),
                version: -1,
            }),
            QuotaOp::GetStats(rel) => Request::GetData(rq::PathWatchRequest {
                path: format!("{}/zookeeper_stats", self.quota_dir(rel)),
                watch: false,
            }),
            QuotaOp::Delete(rel, limits) => Request::Delete(rq::DeleteRequest {
                path: format!(
                    "{}/{}",
                    self.quota_dir(rel),
                    if *limits {
                        "zookeeper_limits"
                    } else {
                        "zookeeper_stats"
                    }
                ),
                version: -1,
            }),
        }
    }

    // ------------------------------------------------------- normalisation --

    fn zxid(&self, z: i64) -> String {
        if z <= 0 {
            z.to_string()
        } else if z >= self.base {
            format!("+{}", z - self.base)
        } else {
            // Before this seed began: its absolute value means nothing.
            "<root".to_string()
        }
    }

    fn path(&self, p: &str) -> String {
        match p.strip_prefix(&self.root) {
            Some("") => "R".to_string(),
            Some(rest) if rest.starts_with('/') => format!("R{rest}"),
            _ => p.to_string(),
        }
    }

    fn owner(&self, owner: i64) -> String {
        match self.labels.get(&owner) {
            Some(label) => label.clone(),
            None if owner == 0 => "0".to_string(),
            None => format!("{owner:#x}"),
        }
    }

    fn stat(&self, s: &Stat) -> String {
        format!(
            "[czxid={} mzxid={} pzxid={} version={} cversion={} aversion={} owner={} \
             dataLength={} numChildren={}]",
            self.zxid(s.czxid),
            self.zxid(s.mzxid),
            self.zxid(s.pzxid),
            s.version,
            s.cversion,
            s.aversion,
            self.owner(s.ephemeral_owner),
            s.data_length,
            s.num_children
        )
    }

    fn names(&self, names: &[String]) -> String {
        let names: Vec<String> = names.iter().map(|n| self.path(n)).collect();
        format!("[{}]", names.join(","))
    }

    fn event(&self, header: &ReplyHeader, e: &WatcherEvent) -> String {
        format!(
            "{:?} {:?} {} zxid={}",
            e.event_type,
            e.state,
            self.path(&e.path),
            self.zxid(header.zxid)
        )
    }

    fn response(&self, r: &Response) -> String {
        match r {
            Response::Empty => "empty".into(),
            Response::Create(p) => format!("created {}", self.path(p)),
            Response::Create2(p, s) => format!("created {} {}", self.path(p), self.stat(s)),
            Response::Stat(s) => self.stat(s),
            Response::GetData(d, s) => format!("data {} {}", show(d), self.stat(s)),
            Response::GetAcl(acl, s) => format!("acl {} {}", show_acl(acl), self.stat(s)),
            Response::GetChildren(c) => format!("children {}", self.names(c)),
            Response::GetChildren2(c, s) => {
                format!("children {} {}", self.names(c), self.stat(s))
            }
            Response::Sync(p) => format!("synced {}", self.path(p)),
            Response::Multi(results) => {
                let parts: Vec<String> = results.iter().map(|m| self.multi_result(m)).collect();
                format!("multi [{}]", parts.join("; "))
            }
            Response::GetEphemerals(e) => format!("ephemerals {}", self.names(e)),
            Response::GetAllChildrenNumber(n) => format!("all children {n}"),
            Response::WhoAmI(ids) => {
                let ids: Vec<String> = ids
                    .iter()
                    .map(|i| format!("{}:{}", i.auth_scheme, i.user))
                    .collect();
                format!("whoami [{}]", ids.join(","))
            }
            Response::AddWatch => "addWatch ok".into(),
            other => format!("{other:?}"),
        }
    }

    fn multi_result(&self, m: &MultiResult) -> String {
        match m {
            MultiResult::Create { op, path, stat } => match stat {
                Some(s) => format!("create({op}) {} {}", self.path(path), self.stat(s)),
                None => format!("create({op}) {}", self.path(path)),
            },
            MultiResult::Delete => "delete".into(),
            MultiResult::SetData(s) => format!("setData {}", self.stat(s)),
            MultiResult::Check => "check".into(),
            MultiResult::GetChildren(c) => format!("children {}", self.names(c)),
            MultiResult::GetData(d, s) => format!("data {} {}", show(d), self.stat(s)),
            MultiResult::Error(e) => format!("error {e:?}"),
        }
    }
}

fn error_name(err: i32) -> String {
    match ErrorCode::from_i32(err) {
        Some(code) => format!("{code:?}"),
        None => format!("err{err}"),
    }
}

fn show(data: &NodeData) -> String {
    if data.is_null() {
        return "null".to_string();
    }
    format!("{:?}", String::from_utf8_lossy(data.as_slice()))
}

fn acl(choice: AclChoice) -> Vec<Acl> {
    let entry = |perms: i32, scheme: &str, id: &str| Acl {
        perms,
        id: Id::new(scheme, id),
    };
    match choice {
        AclChoice::Open => Acl::open_unsafe(),
        AclChoice::ReadOnly => Acl::read_unsafe(),
        AclChoice::World(p) => vec![entry(p, "world", "anyone")],
        AclChoice::Localhost => vec![entry(perms::ALL, "ip", "127.0.0.1")],
        AclChoice::DigestU1 => vec![entry(perms::ALL, "digest", &digest("u1", "p1"))],
        AclChoice::ReadPlusU1 => vec![
            entry(perms::READ, "world", "anyone"),
            entry(perms::ALL, "digest", &digest("u1", "p1")),
        ],
        AclChoice::Creator => vec![entry(perms::ALL, "auth", "")],
        AclChoice::Empty => Vec::new(),
        AclChoice::BadScheme => vec![entry(perms::ALL, "foo", "bar")],
    }
}
