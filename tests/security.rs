//! Security matrix: every opcode a client can send, against nodes protected
//! by every ACL scheme, from three identities, with exactly the answer
//! Apache ZooKeeper 3.8.0 (Debian's `zookeeper` package, with its CVE fixes)
//! gives: allowed, or ZNOAUTH, checked on the node ZooKeeper checks.
//!
//! The same table runs against Warden (2 and 1 shards) and against ZooKeeper, and
//! must pass on both: the expectations are ZooKeeper's behaviour, not
//! Warden's. Run: `cargo test --release --test security -- --nocapture`
//! (prints the operations x schemes table and the counts).
//!
//! One case = (operation, ACL scheme, permission set, which node carries the
//! ACL, actor). Each case gets its own subtree `/sec/c<N>/p/n`, built on
//! an open ACL by an owner session authenticated as `alice`, which then puts
//! the ACL under test on the node the case names (the auth scheme expands
//! to the owner's digest). A fresh actor session (anonymous, `alice` or
//! `bob`) sends the operation. Asserted per case:
//! - the reply (error code, or a summary of the body: data, children, ACL
//!   with digests masked or not, multi results per op, events received);
//! - a refused write changes nothing and an allowed one changes its node
//!   (Stat of p and n compared through `exists`, which 3.8.0 does not check);
//! - watch events reach the actor only if it may READ the changed node.
//!
//! Rules as ZooKeeper 3.8.0 has them: create (every opcode and mode) needs
//! CREATE on the parent, delete DELETE on the parent, getData, getChildren,
//! getChildren2, getAllChildrenNumber, check and multiRead ops READ on the
//! node, setData WRITE, setACL ADMIN, getACL READ or ADMIN (digests shown as
//! `user:x` without ADMIN); exists, sync, getEphemerals, addWatch,
//! setWatches, checkWatches, removeWatches and whoAmI check nothing (3.8.4
//! added a READ check to exists; this machine's 3.8.0 does not have it);
//! reconfig is disabled. Beside the matrix: malformed ACLs (InvalidACL),
//! setACL versions, the order of checks, and failed `addauth`.

mod support;

#[path = "differential/zookeeper.rs"]
mod zookeeper;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use support::{acl_entry, auth, create_as, delete, digest, set_acl, show_acl, Client, Server};
use warden::proto::requests::{
    AddWatchRequest, CheckVersionRequest, MultiOp, PathWatchRequest, ReconfigRequest, Request,
    SetDataRequest, SetWatchesRequest, WatchesRequest,
};
use warden::proto::responses::{MultiResult, ReplyHeader, Response};
use warden::proto::types::{perms, Acl, ErrorCode, NodeData, OpCode};

const ALICE: (&str, &str) = ("alice", "secret");
const BOB: (&str, &str) = ("bob", "hunter2");
/// Both servers know `super:test` as the super user (ZooKeeper takes this
/// zoo.cfg key as the `zookeeper.DigestAuthenticationProvider.superDigest`
/// property).
const SUPER: (&str, &str) = ("super", "test");
const SUPER_DIGEST: &str =
    "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=";

/// Who sends the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Anonymous,
    Alice,
    Bob,
    /// `addauth digest super:test`: passes every check.
    Super,
}

const ACTORS: [Actor; 4] = [Actor::Anonymous, Actor::Alice, Actor::Bob, Actor::Super];

impl Actor {
    fn credentials(self) -> Option<(&'static str, &'static str)> {
        match self {
            Actor::Anonymous => None,
            Actor::Alice => Some(ALICE),
            Actor::Bob => Some(BOB),
            Actor::Super => Some(SUPER),
        }
    }
}

/// The identity an ACL under test names. Every session connects from
/// 127.0.0.1, so an ip entry matches everyone or no one.
#[derive(Clone, Copy, Debug)]
enum Scheme {
    World,
    /// `digest:alice:<hash>`.
    Digest,
    /// `auth:` set by the owner, who is alice.
    Auth,
    /// `ip:<spec>`, and whether 127.0.0.1 matches it.
    Ip(&'static str, bool),
}

const SCHEMES: [Scheme; 9] = [
    Scheme::World,
    Scheme::Digest,
    Scheme::Auth,
    Scheme::Ip("127.0.0.1", true),
    Scheme::Ip("127.0.0.1/32", true),
    Scheme::Ip("127.0.0.0/8", true),
    Scheme::Ip("0.0.0.0/0", true),
    Scheme::Ip("127.0.0.2", false),
    Scheme::Ip("10.0.0.0/8", false),
];

impl Scheme {
    fn name(self) -> String {
        match self {
            Scheme::World => "world:anyone".into(),
            Scheme::Digest => "digest:alice".into(),
            Scheme::Auth => "auth (alice)".into(),
            Scheme::Ip(spec, _) => format!("ip:{spec}"),
        }
    }

    fn names(self, actor: Actor) -> bool {
        match self {
            Scheme::World => true,
            Scheme::Digest | Scheme::Auth => actor == Actor::Alice,
            Scheme::Ip(_, matches) => matches,
        }
    }

    /// The ACL as sent by the owner.
    fn acl(self, perms: i32) -> Vec<Acl> {
        vec![match self {
            Scheme::World => acl_entry(perms, "world", "anyone"),
            Scheme::Digest => acl_entry(perms, "digest", &digest(ALICE.0, ALICE.1)),
            Scheme::Auth => acl_entry(perms, "auth", ""),
            Scheme::Ip(spec, _) => acl_entry(perms, "ip", spec),
        }]
    }

    /// The ACL as the server stores it (auth expanded to the owner).
    fn stored(self, perms: i32) -> Vec<Acl> {
        match self {
            Scheme::Auth => Scheme::Digest.acl(perms),
            other => other.acl(perms),
        }
    }
}

/// Which node of a case's subtree a permission is checked on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Parent,
    Node,
}

/// Every operation of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// A create opcode with its flags (and ttl for createTTL).
    Create(OpCode, i32, &'static str),
    Delete,
    Exists,
    GetData,
    SetData,
    GetAcl,
    SetAcl,
    GetChildren,
    GetChildren2,
    GetAllChildrenNumber,
    GetEphemerals,
    Sync,
    MultiCheck,
    MultiCreate(i32, &'static str),
    MultiDelete,
    MultiSetData,
    /// setData on the open parent, then on the node.
    MultiTwoOps,
    /// getData n, getChildren n, getData of the (open) case root.
    MultiRead,
    /// exists with a watch, then the owner deletes n.
    ExistsWatch,
    /// addWatch persistent on n, then the owner deletes n.
    AddWatchPersistent,
    /// addWatch persistent-recursive on the open case root, owner deletes n.
    AddWatchRecursive,
    /// setWatches data watch on n at the current zxid, owner deletes n.
    SetWatches,
    /// setWatches2 persistent watch on n at the current zxid, owner deletes n.
    SetWatches2,
    /// setWatches data, exist and child watches on n from zxid 0: all fire
    /// at once, and ZooKeeper checks no ACL for those events.
    SetWatchesStale,
    /// addWatch persistent on p, then the owner creates a child of p:
    /// NodeChildrenChanged is checked against p's ACL.
    ChildEvent,
    /// addWatch persistent-recursive on the case root, then the owner
    /// creates n with the ACL under test: NodeCreated is checked against it.
    CreatedEvent,
    /// exists watch on n before it exists, then the owner creates n with
    /// the ACL under test.
    ExistsWatchCreated,
    CheckWatches,
    RemoveWatches,
    Reconfig,
    WhoAmI,
}

const OPS: &[Op] = &[
    Op::Create(OpCode::Create, 0, "create persistent"),
    Op::Create(OpCode::Create2, 0, "create2 persistent"),
    Op::Create(OpCode::Create2, 1, "create2 ephemeral"),
    Op::Create(OpCode::Create2, 2, "create2 sequential"),
    Op::Create(OpCode::Create2, 3, "create2 ephemeral sequential"),
    Op::Create(OpCode::CreateContainer, 4, "createContainer"),
    Op::Create(OpCode::CreateTtl, 5, "createTTL"),
    Op::Create(OpCode::CreateTtl, 6, "createTTL sequential"),
    Op::Delete,
    Op::Exists,
    Op::GetData,
    Op::SetData,
    Op::GetAcl,
    Op::SetAcl,
    Op::GetChildren,
    Op::GetChildren2,
    Op::GetAllChildrenNumber,
    Op::GetEphemerals,
    Op::Sync,
    Op::MultiCheck,
    Op::MultiCreate(0, "multi create"),
    Op::MultiCreate(3, "multi create ephemeral sequential"),
    Op::MultiDelete,
    Op::MultiSetData,
    Op::MultiTwoOps,
    Op::MultiRead,
    Op::ExistsWatch,
    Op::AddWatchPersistent,
    Op::AddWatchRecursive,
    Op::SetWatches,
    Op::SetWatches2,
    Op::SetWatchesStale,
    Op::ChildEvent,
    Op::CreatedEvent,
    Op::ExistsWatchCreated,
    Op::CheckWatches,
    Op::RemoveWatches,
    Op::Reconfig,
    Op::WhoAmI,
];

impl Op {
    fn name(self) -> String {
        match self {
            Op::Create(_, _, name) | Op::MultiCreate(_, name) => name.to_string(),
            other => {
                let debug = format!("{other:?}");
                let mut name = String::new();
                for (i, c) in debug.chars().enumerate() {
                    name.push(if i == 0 { c.to_ascii_lowercase() } else { c });
                }
                name
            }
        }
    }

    /// The permission ZooKeeper checks and where; `None`: no check.
    fn check(self) -> Option<(Target, i32)> {
        use Op::*;
        match self {
            Create(..) | MultiCreate(..) => Some((Target::Parent, perms::CREATE)),
            Delete | MultiDelete => Some((Target::Parent, perms::DELETE)),
            GetData | GetChildren | GetChildren2 | GetAllChildrenNumber | MultiCheck
            | MultiRead => Some((Target::Node, perms::READ)),
            SetData | MultiSetData | MultiTwoOps => Some((Target::Node, perms::WRITE)),
            GetAcl => Some((Target::Node, perms::READ | perms::ADMIN)),
            SetAcl => Some((Target::Node, perms::ADMIN)),
            // Event delivery: READ on the changed node.
            ExistsWatch | AddWatchPersistent | AddWatchRecursive | SetWatches | SetWatches2
            | CreatedEvent | ExistsWatchCreated => Some((Target::Node, perms::READ)),
            ChildEvent => Some((Target::Parent, perms::READ)),
            Exists | GetEphemerals | Sync | SetWatchesStale | CheckWatches | RemoveWatches
            | Reconfig | WhoAmI => None,
        }
    }

    /// Permission sets the ACL under test is tried with.
    fn perm_sets(self) -> Vec<i32> {
        match self.check() {
            Some((_, p)) if p == perms::READ | perms::ADMIN => {
                vec![perms::READ, perms::ADMIN, perms::ALL & !p, perms::ALL]
            }
            Some((_, p)) => vec![p, perms::ALL & !p],
            None => vec![perms::ALL, 0],
        }
    }

    /// What the owner does after the op, to fire the actor's watch.
    fn trigger(self) -> Trigger {
        use Op::*;
        match self {
            ExistsWatch | AddWatchPersistent | AddWatchRecursive | SetWatches | SetWatches2 => {
                Trigger::DeleteNode
            }
            ChildEvent => Trigger::CreateChild,
            CreatedEvent | ExistsWatchCreated => Trigger::CreateNode,
            _ => Trigger::Nothing,
        }
    }

    /// n has a child k (for listings).
    fn node_has_child(self) -> bool {
        use Op::*;
        matches!(
            self,
            GetChildren | GetChildren2 | GetAllChildrenNumber | MultiRead
        )
    }

    /// Whether an allowed op changes p's or n's Stat (watch ops change
    /// them through the owner's delete, allowed or not).
    fn writes(self) -> bool {
        use Op::*;
        matches!(
            self,
            Create(..)
                | MultiCreate(..)
                | Delete
                | MultiDelete
                | SetData
                | MultiSetData
                | MultiTwoOps
                | SetAcl
        )
    }
}

/// The owner's change that fires a watch op's watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Nothing,
    /// Deletes n (its parent p is open).
    DeleteNode,
    /// Creates p/new; p's ACL also grants the owner CREATE.
    CreateChild,
    /// Creates n, with the ACL under test (n is not built beforehand).
    CreateNode,
}

/// One row of the matrix.
#[derive(Clone, Copy, Debug)]
struct Case {
    op: Op,
    scheme: Scheme,
    perms: i32,
    /// Where the ACL under test goes (the other node stays open).
    on: Target,
    actor: Actor,
}

impl Case {
    fn allowed(&self) -> bool {
        if self.actor == Actor::Super {
            return true;
        }
        match self.op.check() {
            None => true,
            Some((target, p)) => {
                target != self.on || (self.perms & p != 0 && self.scheme.names(self.actor))
            }
        }
    }

    /// True when the actor has ADMIN on n (getACL shows digests).
    fn admin_on_node(&self) -> bool {
        self.actor == Actor::Super
            || self.on != Target::Node
            || (self.perms & perms::ADMIN != 0 && self.scheme.names(self.actor))
    }

    fn describe(&self) -> String {
        format!(
            "{} | {} perms={} on {:?} | actor {:?}",
            self.op.name(),
            self.scheme.name(),
            self.perms,
            self.on,
            self.actor
        )
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for &op in OPS {
        let mut variants: Vec<(Scheme, i32, Target)> = Vec::new();
        let checked = op.check().map_or(Target::Node, |(t, _)| t);
        for scheme in SCHEMES {
            for p in op.perm_sets() {
                variants.push((scheme, p, checked));
            }
        }
        // Nothing is checked on the other node: deny everything there.
        let other = match checked {
            Target::Parent => Target::Node,
            Target::Node => Target::Parent,
        };
        if op.check().is_some() && op.trigger() == Trigger::Nothing && op != Op::MultiTwoOps {
            variants.push((Scheme::World, 0, other));
        }
        for (scheme, perms, on) in variants {
            for actor in ACTORS {
                out.push(Case {
                    op,
                    scheme,
                    perms,
                    on,
                    actor,
                });
            }
        }
    }
    out
}

// ------------------------------------------------------------ the client ---

fn session(port: u16, actor: Actor) -> Client {
    let mut client = Client::connect(port);
    if let Some((user, password)) = actor.credentials() {
        let (h, _) = client.call(&auth("digest", format!("{user}:{password}").as_bytes()));
        assert_eq!(h.err, 0, "addauth digest {user}");
    }
    client
}

fn close(mut client: Client) {
    let _ = client.try_call(&Request::CloseSession);
}

fn path_watch(path: &str, watch: bool) -> PathWatchRequest {
    PathWatchRequest {
        path: path.to_string(),
        watch,
    }
}

fn set_data(path: &str, version: i32) -> SetDataRequest {
    SetDataRequest {
        path: path.to_string(),
        data: NodeData::copy_from_slice(b"new"),
        version,
    }
}

fn error_name(code: i32) -> String {
    ErrorCode::from_i32(code).map_or_else(|| format!("err{code}"), |c| format!("{c:?}"))
}

/// Replaces the case root by `R` and sequence suffixes by `#`.
fn rel(root: &str, path: &str) -> String {
    let p = if root.is_empty() {
        path.to_string()
    } else {
        path.replacen(root, "R", 1)
    };
    match p.len().checked_sub(10) {
        Some(cut) if p.is_char_boundary(cut) && p[cut..].bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}#", &p[..cut])
        }
        _ => p,
    }
}

fn show_multi(root: &str, results: &[MultiResult]) -> String {
    let parts: Vec<String> = results
        .iter()
        .map(|r| match r {
            MultiResult::Create { path, .. } => format!("created {}", rel(root, path)),
            MultiResult::Delete => "deleted".into(),
            MultiResult::SetData(_) => "set".into(),
            MultiResult::Check => "checked".into(),
            MultiResult::GetChildren(c) => format!("children={c:?}"),
            MultiResult::GetData(d, _) => {
                format!("data={}", String::from_utf8_lossy(d.as_slice()))
            }
            MultiResult::Error(code) => format!("{code:?}"),
        })
        .collect();
    format!("[{}]", parts.join(","))
}

/// Sends `request` and shows its reply, or says the server closed.
fn answer(root: &str, client: &mut Client, request: &Request) -> String {
    let xid = client.send(request);
    match client.try_wait_reply(xid) {
        Some(reply) => show(root, &reply),
        None => "connection closed".into(),
    }
}

/// A reply as a short string: the error, or what the body says.
fn show(root: &str, (header, response): &(ReplyHeader, Response)) -> String {
    if header.err != 0 {
        return error_name(header.err);
    }
    match response {
        Response::Create(p) | Response::Create2(p, _) => format!("created {}", rel(root, p)),
        Response::Stat(_) => "stat".into(),
        Response::GetData(d, _) => format!("data={}", String::from_utf8_lossy(d.as_slice())),
        Response::GetAcl(acl, _) => format!("acl={}", show_acl(acl)),
        Response::GetChildren(c) | Response::GetChildren2(c, _) => format!("children={c:?}"),
        Response::Sync(_) => "synced".into(),
        Response::Multi(results) => format!("multi{}", show_multi(root, results)),
        Response::GetEphemerals(paths) => {
            let paths: Vec<String> = paths.iter().map(|p| rel(root, p)).collect();
            format!("ephemerals={paths:?}")
        }
        Response::GetAllChildrenNumber(n) => format!("count={n}"),
        Response::WhoAmI(ids) => {
            let mut ids: Vec<String> = ids
                .iter()
                .map(|i| format!("{}:{}", i.auth_scheme, i.user))
                .collect();
            ids.sort();
            format!("whoami={ids:?}")
        }
        Response::Empty | Response::AddWatch => "ok".into(),
        other => format!("{other:?}"),
    }
}

// ------------------------------------------------------------ one case ---

struct Bench {
    port: u16,
    owner: Client,
    next: usize,
}

/// Paths of one case.
struct Tree {
    root: String,
    p: String,
    n: String,
}

impl Bench {
    fn new(port: u16) -> Bench {
        let mut owner = session(port, Actor::Alice);
        let (h, _) = owner.call(&create_as(
            OpCode::Create,
            "/sec",
            Acl::open_unsafe(),
            0,
            None,
        ));
        assert_eq!(h.err, 0, "create /sec");
        Bench {
            port,
            owner,
            next: 0,
        }
    }

    fn owner_call(&mut self, request: &Request) -> String {
        let reply = self.owner.call(request);
        show("", &reply)
    }

    /// Builds /sec/c<N>/p/n (open) and, if asked, n/k.
    fn build(&mut self, case: &Case) -> Tree {
        self.next += 1;
        let root = format!("/sec/c{}", self.next);
        let tree = Tree {
            p: format!("{root}/p"),
            n: format!("{root}/p/n"),
            root,
        };
        let mut ops = vec![&tree.root, &tree.p];
        let k = format!("{}/k", tree.n);
        if case.op != Op::GetEphemerals && case.op.trigger() != Trigger::CreateNode {
            ops.push(&tree.n);
        }
        if case.op.node_has_child() {
            ops.push(&k);
        }
        let multi = Request::Multi(
            ops.into_iter()
                .map(
                    |path| match create_as(OpCode::Create, path, Acl::open_unsafe(), 0, None) {
                        Request::Create(code, r) => MultiOp::Create(code, r),
                        _ => unreachable!(),
                    },
                )
                .collect(),
        );
        let got = self.owner_call(&multi);
        assert!(
            !got.contains("No") && got.starts_with("multi"),
            "setup: {got}"
        );
        tree
    }

    fn protect(&mut self, case: &Case, tree: &Tree) {
        let path = match case.on {
            Target::Parent => &tree.p,
            Target::Node => &tree.n,
        };
        let mut acl = case.scheme.acl(case.perms);
        match case.op.trigger() {
            // n does not exist yet: the owner creates it with this ACL.
            Trigger::CreateNode => return,
            Trigger::CreateChild => acl.push(acl_entry(
                perms::CREATE,
                "digest",
                &digest(ALICE.0, ALICE.1),
            )),
            _ => {}
        }
        let got = self.owner_call(&set_acl(path, acl, -1));
        assert_eq!(got, "stat", "setACL {path} for {}", case.describe());
    }

    /// Stat fields of p and n that writes change, seen through exists.
    fn state(&mut self, tree: &Tree) -> String {
        let mut out = String::new();
        for path in [&tree.p, &tree.n] {
            match self.owner.call(&Request::Exists(path_watch(path, false))) {
                (h, Response::Stat(s)) if h.err == 0 => {
                    let _ = write!(
                        out,
                        "v{} cv{} av{} nc{};",
                        s.version, s.cversion, s.aversion, s.num_children
                    );
                }
                (h, _) => {
                    let _ = write!(out, "{};", error_name(h.err));
                }
            }
        }
        out
    }

    /// Runs one case; `Err` says how it differs from ZooKeeper's rules.
    fn run(&mut self, case: &Case) -> Result<(), String> {
        let tree = self.build(case);
        let mut actor = session(self.port, case.actor);
        if case.op == Op::GetEphemerals {
            let (h, _) = actor.call(&create_as(
                OpCode::Create2,
                &tree.n,
                Acl::open_unsafe(),
                1,
                None,
            ));
            assert_eq!(h.err, 0, "ephemeral for getEphemerals");
        }
        self.protect(case, &tree);
        let before = self.state(&tree);
        let got = self.act(&mut actor, case, &tree);
        let after = self.state(&tree);
        close(actor);
        let want = expected(case);
        if got != want {
            return Err(format!("answered {got:?}, ZooKeeper's rule says {want:?}"));
        }
        let changed = before != after;
        let must_change =
            (case.allowed() && case.op.writes()) || case.op.trigger() != Trigger::Nothing;
        if changed != must_change {
            return Err(format!(
                "state {before} -> {after}: changed={changed}, expected {must_change}"
            ));
        }
        Ok(())
    }

    /// The owner's change that fires the actor's watch, if any.
    fn fire(&mut self, case: &Case, tree: &Tree) {
        let (request, want) = match case.op.trigger() {
            Trigger::Nothing => return,
            Trigger::DeleteNode => (delete(&tree.n, -1), "ok".to_string()),
            Trigger::CreateChild => {
                let child = format!("{}/new", tree.p);
                let create = create_as(OpCode::Create, &child, Acl::open_unsafe(), 0, None);
                (create, format!("created {child}"))
            }
            Trigger::CreateNode => {
                let acl = case.scheme.acl(case.perms);
                let create = create_as(OpCode::Create, &tree.n, acl, 0, None);
                (create, format!("created {}", tree.n))
            }
        };
        let got = self.owner_call(&request);
        assert_eq!(got, want, "owner's trigger for {}", case.describe());
    }

    /// Sends the op as the actor; for watch ops, also fires the watch and
    /// collects the events delivered before a sync.
    fn act(&mut self, actor: &mut Client, case: &Case, tree: &Tree) -> String {
        let request = request(actor, case.op, tree);
        let mut got = answer(&tree.root, actor, &request);
        self.fire(case, tree);
        if is_watch_op(case.op) {
            let _ = actor.call(&Request::Sync("/".into()));
            let events: Vec<String> = actor
                .events
                .drain(..)
                .map(|e| format!("{:?} {}", e.event_type, rel(&tree.root, &e.path)))
                .collect();
            let _ = write!(got, " events={events:?}");
        }
        got
    }
}

fn is_watch_op(op: Op) -> bool {
    op.trigger() != Trigger::Nothing || op == Op::SetWatchesStale
}

/// The request the actor sends for `op`.
fn request(actor: &mut Client, op: Op, tree: &Tree) -> Request {
    let n = tree.n.clone();
    let child = format!("{}/new", tree.p);
    let create_multi =
        |flags: i32| match create_as(OpCode::Create, &child, Acl::open_unsafe(), flags, None) {
            Request::Create(code, r) => MultiOp::Create(code, r),
            _ => unreachable!(),
        };
    match op {
        Op::Create(code, flags, _) => {
            let ttl = (code == OpCode::CreateTtl).then_some(60_000);
            create_as(code, &child, Acl::open_unsafe(), flags, ttl)
        }
        Op::Delete => delete(&n, -1),
        Op::Exists => Request::Exists(path_watch(&n, false)),
        Op::GetData => Request::GetData(path_watch(&n, false)),
        Op::SetData => Request::SetData(set_data(&n, -1)),
        Op::GetAcl => Request::GetAcl(n),
        Op::SetAcl => set_acl(&n, Acl::open_unsafe(), -1),
        Op::GetChildren => Request::GetChildren(path_watch(&n, false)),
        Op::GetChildren2 => Request::GetChildren2(path_watch(&n, false)),
        Op::GetAllChildrenNumber => Request::GetAllChildrenNumber(n),
        Op::GetEphemerals => Request::GetEphemerals(tree.root.clone()),
        Op::Sync => Request::Sync(n),
        Op::MultiCheck => Request::Multi(vec![MultiOp::Check(CheckVersionRequest {
            path: n,
            version: 0,
        })]),
        Op::MultiCreate(flags, _) => Request::Multi(vec![create_multi(flags)]),
        Op::MultiDelete => Request::Multi(vec![MultiOp::Delete(
            warden::proto::requests::DeleteRequest {
                path: n,
                version: -1,
            },
        )]),
        Op::MultiSetData => Request::Multi(vec![MultiOp::SetData(set_data(&n, -1))]),
        Op::MultiTwoOps => Request::Multi(vec![
            MultiOp::SetData(set_data(&tree.p, -1)),
            MultiOp::SetData(set_data(&n, -1)),
        ]),
        Op::MultiRead => Request::MultiRead(vec![
            MultiOp::GetData(n.clone()),
            MultiOp::GetChildren(n),
            MultiOp::GetData(tree.root.clone()),
        ]),
        Op::ExistsWatch => Request::Exists(path_watch(&n, true)),
        Op::AddWatchPersistent => Request::AddWatch(AddWatchRequest { path: n, mode: 0 }),
        Op::AddWatchRecursive => Request::AddWatch(AddWatchRequest {
            path: tree.root.clone(),
            mode: 1,
        }),
        Op::SetWatches | Op::SetWatches2 => {
            let (h, _) = actor.call(&Request::Exists(path_watch(&n, false)));
            let v2 = op == Op::SetWatches2;
            let persistent: &[&str] = if v2 { &[&n] } else { &[] };
            let data: &[&str] = if v2 { &[] } else { &[&n] };
            support::set_watches(v2, h.zxid, data, persistent)
        }
        Op::SetWatchesStale => Request::SetWatches(SetWatchesRequest {
            relative_zxid: 0,
            data_watches: vec![n.clone()],
            exist_watches: vec![n.clone()],
            child_watches: vec![n],
            ..Default::default()
        }),
        Op::ChildEvent => Request::AddWatch(AddWatchRequest {
            path: tree.p.clone(),
            mode: 0,
        }),
        Op::CreatedEvent => Request::AddWatch(AddWatchRequest {
            path: tree.root.clone(),
            mode: 1,
        }),
        Op::ExistsWatchCreated => Request::Exists(path_watch(&n, true)),
        Op::CheckWatches | Op::RemoveWatches => {
            let _ = actor.call(&Request::Exists(path_watch(&n, true)));
            let body = WatchesRequest {
                path: n,
                watcher_type: 3,
            };
            if op == Op::CheckWatches {
                Request::CheckWatches(body)
            } else {
                Request::RemoveWatches(body)
            }
        }
        Op::Reconfig => Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        }),
        Op::WhoAmI => Request::WhoAmI,
    }
}

/// ZooKeeper 3.8.0's answer to a case.
fn expected(case: &Case) -> String {
    if !case.allowed() {
        return refused(case.op);
    }
    let acl = if case.on == Target::Node {
        case.scheme.stored(case.perms)
    } else {
        Acl::open_unsafe()
    };
    let shown_acl = if case.admin_on_node() {
        acl
    } else {
        masked(&acl)
    };
    match case.op {
        Op::Create(_, flags, _) => {
            let seq = if flags == 2 || flags == 3 || flags == 6 {
                "#"
            } else {
                ""
            };
            format!("created R/p/new{seq}")
        }
        Op::MultiCreate(flags, _) => {
            let seq = if flags == 3 { "#" } else { "" };
            format!("multi[created R/p/new{seq}]")
        }
        Op::Delete | Op::CheckWatches | Op::RemoveWatches => "ok".into(),
        Op::Exists | Op::SetData | Op::SetAcl => "stat".into(),
        Op::GetData => "data=d".into(),
        Op::GetAcl => format!("acl={}", show_acl(&shown_acl)),
        Op::GetChildren | Op::GetChildren2 => "children=[\"k\"]".into(),
        Op::GetAllChildrenNumber => "count=1".into(),
        Op::GetEphemerals => "ephemerals=[\"R/p/n\"]".into(),
        Op::Sync => "synced".into(),
        Op::MultiCheck => "multi[checked]".into(),
        Op::MultiDelete => "multi[deleted]".into(),
        Op::MultiSetData => "multi[set]".into(),
        Op::MultiTwoOps => "multi[set,set]".into(),
        Op::MultiRead => "multi[data=d,children=[\"k\"],data=d]".into(),
        Op::ExistsWatch => "stat events=[\"NodeDeleted R/p/n\"]".into(),
        Op::AddWatchPersistent | Op::AddWatchRecursive => {
            "ok events=[\"NodeDeleted R/p/n\"]".into()
        }
        Op::SetWatches | Op::SetWatches2 => "ok events=[\"NodeDeleted R/p/n\"]".into(),
        Op::SetWatchesStale => concat!(
            "ok events=[\"NodeDataChanged R/p/n\", \"NodeCreated R/p/n\", ",
            "\"NodeChildrenChanged R/p/n\"]"
        )
        .into(),
        Op::ChildEvent => "ok events=[\"NodeChildrenChanged R/p\"]".into(),
        Op::CreatedEvent => "ok events=[\"NodeCreated R/p/n\"]".into(),
        Op::ExistsWatchCreated => "NoNode events=[\"NodeCreated R/p/n\"]".into(),
        Op::Reconfig => "ReconfigDisabled".into(),
        Op::WhoAmI => match case.actor.credentials() {
            None => "whoami=[\"ip:127.0.0.1\"]".into(),
            Some(_) if case.actor == Actor::Super => {
                "whoami=[\"digest:super\", \"ip:127.0.0.1\", \"super:\"]".into()
            }
            Some((user, _)) => format!("whoami=[\"digest:{user}\", \"ip:127.0.0.1\"]"),
        },
    }
}

/// The answer when the actor lacks the permission.
fn refused(op: Op) -> String {
    match op {
        Op::MultiCheck | Op::MultiCreate(..) | Op::MultiDelete | Op::MultiSetData => {
            "multi[NoAuth]".into()
        }
        Op::MultiTwoOps => "multi[Ok,NoAuth]".into(),
        Op::MultiRead => "multi[NoAuth,NoAuth,data=d]".into(),
        // The watch was registered (nothing is checked then); its event is
        // not delivered.
        Op::ExistsWatch => "stat events=[]".into(),
        Op::ExistsWatchCreated => "NoNode events=[]".into(),
        Op::AddWatchPersistent
        | Op::AddWatchRecursive
        | Op::SetWatches
        | Op::SetWatches2
        | Op::ChildEvent
        | Op::CreatedEvent => "ok events=[]".into(),
        _ => "NoAuth".into(),
    }
}

fn masked(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| match (a.id.scheme.as_str(), a.id.id.split_once(':')) {
            ("digest", Some((user, _))) => acl_entry(a.perms, "digest", &format!("{user}:x")),
            _ => a.clone(),
        })
        .collect()
}

// ------------------------------------------------------------ the report ---

/// Checks passed and failed per (operation, scheme).
#[derive(Default)]
struct Report {
    cells: BTreeMap<(usize, String), (usize, usize)>,
    failures: Vec<String>,
}

impl Report {
    fn record(&mut self, op_index: usize, case: &Case, result: Result<(), String>) {
        let cell = self
            .cells
            .entry((op_index, case.scheme.name()))
            .or_default();
        match result {
            Ok(()) => cell.0 += 1,
            Err(why) => {
                cell.1 += 1;
                self.failures.push(format!("{}: {why}", case.describe()));
            }
        }
    }

    fn passed(&self) -> usize {
        self.cells.values().map(|c| c.0).sum()
    }

    /// Markdown: one row per operation, checks per scheme.
    fn table(&self) -> String {
        let mut out = String::from("| operation |");
        for s in SCHEMES {
            let _ = write!(out, " {} |", s.name());
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(SCHEMES.len()));
        for (i, op) in OPS.iter().enumerate() {
            let _ = write!(out, "\n| {} |", op.name());
            for s in SCHEMES {
                let (ok, bad) = self.cells.get(&(i, s.name())).copied().unwrap_or_default();
                let _ = write!(out, " {ok}/{} |", ok + bad);
            }
        }
        out
    }
}

fn run_matrix(port: u16) -> Report {
    let mut bench = Bench::new(port);
    let mut report = Report::default();
    for case in cases() {
        let index = OPS.iter().position(|o| *o == case.op).unwrap();
        let result = bench.run(&case);
        report.record(index, &case, result);
    }
    report
}

// ------------------------------------------------------------ the extras ---

/// Checks outside the matrix: (what, expected, answered).
type Check = (String, String, String);

fn call(client: &mut Client, request: &Request) -> String {
    answer("", client, request)
}

fn extras(port: u16) -> Vec<Check> {
    let mut checks = Vec::new();
    system_nodes_and_multi(port, &mut checks);
    invalid_acls(port, &mut checks);
    versions_and_order(port, &mut checks);
    failed_auth(port, &mut checks);
    checks
}

fn invalid_acls(port: u16, checks: &mut Vec<Check>) {
    let mut anon = session(port, Actor::Anonymous);
    let mut alice = session(port, Actor::Alice);
    let _ = call(
        &mut alice,
        &create_as(OpCode::Create, "/inv", Acl::open_unsafe(), 0, None),
    );
    let bad: Vec<(&str, Vec<Acl>, &str)> = vec![
        ("empty ACL list", vec![], "InvalidAcl"),
        (
            "unknown scheme",
            vec![acl_entry(31, "foo", "bar")],
            "InvalidAcl",
        ),
        (
            "world:someone",
            vec![acl_entry(31, "world", "someone")],
            "InvalidAcl",
        ),
        (
            "digest without hash",
            vec![acl_entry(31, "digest", "alice")],
            "InvalidAcl",
        ),
        (
            "digest a:b:c",
            vec![acl_entry(31, "digest", "a:b:c")],
            "InvalidAcl",
        ),
        (
            "digest empty hash",
            vec![acl_entry(31, "digest", "alice:")],
            "InvalidAcl",
        ),
        (
            "ip /33",
            vec![acl_entry(31, "ip", "10.0.0.0/33")],
            "InvalidAcl",
        ),
        (
            "ip 300.1.1.1",
            vec![acl_entry(31, "ip", "300.1.1.1")],
            "InvalidAcl",
        ),
        (
            "ip three octets",
            vec![acl_entry(31, "ip", "10.0.0")],
            "InvalidAcl",
        ),
        (
            "ip empty mask",
            vec![acl_entry(31, "ip", "10.0.0.0/")],
            "InvalidAcl",
        ),
        (
            "ip hostname",
            vec![acl_entry(31, "ip", "localhost")],
            "InvalidAcl",
        ),
        (
            "ip negative mask",
            vec![acl_entry(31, "ip", "10.0.0.0/-1")],
            "InvalidAcl",
        ),
        (
            "super scheme",
            vec![acl_entry(31, "super", "")],
            "InvalidAcl",
        ),
        (
            "sasl without provider",
            vec![acl_entry(31, "sasl", "alice")],
            "InvalidAcl",
        ),
        (
            "one good one bad",
            vec![acl_entry(31, "world", "anyone"), acl_entry(31, "foo", "x")],
            "InvalidAcl",
        ),
        ("perms 0", vec![acl_entry(0, "world", "anyone")], "ok"),
        (
            "perms beyond ALL",
            vec![acl_entry(0x7fff_ffff, "world", "anyone")],
            "ok",
        ),
        ("ip /0", vec![acl_entry(31, "ip", "0.0.0.0/0")], "ok"),
        // Java's Integer.parseInt takes a sign and leading zeros.
        (
            "ip with + signs",
            vec![acl_entry(31, "ip", "+127.0.0.1/+8")],
            "ok",
        ),
        (
            "ip leading zeros",
            vec![acl_entry(31, "ip", "127.000.0.001/08")],
            "ok",
        ),
        (
            "ip trailing dot",
            vec![acl_entry(31, "ip", "127.0.0.1.")],
            "InvalidAcl",
        ),
        (
            "ip trailing space",
            vec![acl_entry(31, "ip", "127.0.0.1 ")],
            "InvalidAcl",
        ),
        (
            "ip two masks",
            vec![acl_entry(31, "ip", "1.2.3.4/8/8")],
            "InvalidAcl",
        ),
        ("ipv6", vec![acl_entry(31, "ip", "::1")], "InvalidAcl"),
        (
            "World capitalised",
            vec![acl_entry(31, "World", "anyone")],
            "InvalidAcl",
        ),
    ];
    for (i, (what, acl, want)) in bad.into_iter().enumerate() {
        let path = format!("/inv/n{i}");
        let got = call(
            &mut alice,
            &create_as(OpCode::Create, &path, acl.clone(), 0, None),
        );
        let got = if got.starts_with("created") {
            "ok".into()
        } else {
            got
        };
        checks.push((format!("create with {what}"), want.into(), got));
        let _ = call(
            &mut alice,
            &create_as(
                OpCode::Create,
                &format!("{path}s"),
                Acl::open_unsafe(),
                0,
                None,
            ),
        );
        let got = call(&mut alice, &set_acl(&format!("{path}s"), acl, -1));
        let got = if got == "stat" { "ok".into() } else { got };
        checks.push((format!("setACL with {what}"), want.into(), got));
    }
    let auth_acl = vec![acl_entry(31, "auth", "")];
    let got = call(
        &mut anon,
        &create_as(OpCode::Create, "/inv/a1", auth_acl.clone(), 0, None),
    );
    checks.push((
        "create auth: with no authenticated id".into(),
        "InvalidAcl".into(),
        got,
    ));
    let got = call(&mut anon, &set_acl("/inv", auth_acl.clone(), -1));
    checks.push((
        "setACL auth: with no authenticated id".into(),
        "InvalidAcl".into(),
        got,
    ));
    // addauth ip succeeds but ip is not an authenticated scheme.
    let got = call(&mut anon, &auth("ip", b"127.0.0.1"));
    checks.push(("addauth ip".into(), "ok".into(), got));
    let got = call(
        &mut anon,
        &create_as(OpCode::Create, "/inv/a2", auth_acl.clone(), 0, None),
    );
    checks.push((
        "create auth: with only an ip id".into(),
        "InvalidAcl".into(),
        got,
    ));
    let got = call(
        &mut alice,
        &create_as(OpCode::Create, "/inv/a3", auth_acl, 0, None),
    );
    checks.push((
        "create auth: as alice".into(),
        "created /inv/a3".into(),
        got,
    ));
    let got = call(&mut alice, &Request::GetAcl("/inv/a3".into()));
    let want = format!(
        "acl={}",
        show_acl(&[acl_entry(31, "digest", &digest(ALICE.0, ALICE.1))])
    );
    checks.push(("auth: expands to the creator's digest".into(), want, got));
    // Duplicates go before auth: is expanded, not after.
    let twice = vec![
        acl_entry(31, "auth", ""),
        acl_entry(31, "digest", &digest(ALICE.0, ALICE.1)),
        acl_entry(1, "world", "anyone"),
        acl_entry(1, "world", "anyone"),
    ];
    let _ = call(
        &mut alice,
        &create_as(OpCode::Create, "/inv/dup", twice, 0, None),
    );
    let got = call(&mut alice, &Request::GetAcl("/inv/dup".into()));
    let alice_all = acl_entry(31, "digest", &digest(ALICE.0, ALICE.1));
    let world_read = acl_entry(1, "world", "anyone");
    let want = format!(
        "acl={}",
        show_acl(&[alice_all.clone(), alice_all, world_read])
    );
    checks.push(("auth: expansion may duplicate an entry".into(), want, got));
    // A `+127.0.0.1/+8` entry matches 127.0.0.1.
    let plus = vec![acl_entry(1, "ip", "+127.0.0.1/+8")];
    let _ = call(
        &mut alice,
        &create_as(OpCode::Create, "/inv/plus", plus, 0, None),
    );
    let got = call(&mut anon, &Request::GetData(path_watch("/inv/plus", false)));
    checks.push((
        "ip +127.0.0.1/+8 matches 127.0.0.1".into(),
        "data=d".into(),
        got,
    ));
    // perms 0: nobody may do anything, even the creator.
    let got = call(&mut alice, &Request::GetData(path_watch("/inv/n15", false)));
    checks.push(("getData on perms 0".into(), "NoAuth".into(), got));
    let got = call(&mut alice, &set_acl("/inv/n15", Acl::open_unsafe(), -1));
    checks.push(("setACL on perms 0".into(), "NoAuth".into(), got));
    let mut root = session(port, Actor::Super);
    let got = call(&mut root, &Request::GetData(path_watch("/inv/n15", false)));
    checks.push(("super: getData on perms 0".into(), "data=d".into(), got));
    let got = call(&mut root, &set_acl("/inv/n15", Acl::open_unsafe(), -1));
    checks.push(("super: setACL on perms 0".into(), "stat".into(), got));
    let got = call(&mut alice, &Request::GetData(path_watch("/inv/n15", false)));
    checks.push(("after super reopened it".into(), "data=d".into(), got));
    close(root);
    close(anon);
    close(alice);
}

fn versions_and_order(port: u16, checks: &mut Vec<Check>) {
    let mut alice = session(port, Actor::Alice);
    let mut bob = session(port, Actor::Bob);
    let mine = vec![acl_entry(31, "digest", &digest(ALICE.0, ALICE.1))];
    let mut check = |what: &str, want: &str, got: String| {
        checks.push((what.to_string(), want.to_string(), got));
    };
    let _ = call(
        &mut alice,
        &create_as(OpCode::Create, "/ver", Acl::open_unsafe(), 0, None),
    );
    let got = call(&mut alice, &set_acl("/ver", Acl::open_unsafe(), 1));
    check("setACL aversion 1 on aversion 0", "BadVersion", got);
    let got = call(&mut alice, &set_acl("/ver", Acl::open_unsafe(), 0));
    check("setACL aversion 0 on aversion 0", "stat", got);
    let got = call(&mut alice, &set_acl("/ver", Acl::open_unsafe(), 0));
    check("setACL aversion 0 on aversion 1", "BadVersion", got);
    let got = call(&mut alice, &set_acl("/ver", mine.clone(), 1));
    check("setACL aversion 1 on aversion 1", "stat", got);
    let stat = alice.call(&Request::Exists(path_watch("/ver", false)));
    let aversion = match stat.1 {
        Response::Stat(s) => s.aversion.to_string(),
        _ => "none".into(),
    };
    check("aversion after two setACLs", "2", aversion);
    let got = call(&mut bob, &set_acl("/ver", Acl::open_unsafe(), 7));
    check("setACL by non-admin with a wrong version", "NoAuth", got);
    let got = call(&mut bob, &Request::SetData(set_data("/ver", 7)));
    check("setData by non-writer with a wrong version", "NoAuth", got);
    let got = call(
        &mut bob,
        &set_acl("/ver", vec![acl_entry(31, "foo", "x")], 2),
    );
    check(
        "setACL bad ACL by non-admin: InvalidACL first",
        "InvalidAcl",
        got,
    );
    let got = call(
        &mut bob,
        &create_as(
            OpCode::Create,
            "/ver/x",
            vec![acl_entry(31, "foo", "x")],
            0,
            None,
        ),
    );
    check(
        "create bad ACL under a closed parent: InvalidACL first",
        "InvalidAcl",
        got,
    );
    let got = call(
        &mut bob,
        &create_as(OpCode::Create, "/ver/x/y", Acl::open_unsafe(), 0, None),
    );
    check("create under a missing parent", "NoNode", got);
    let _ = call(
        &mut alice,
        &create_as(OpCode::Create, "/ver/c", Acl::open_unsafe(), 0, None),
    );
    let got = call(
        &mut bob,
        &create_as(OpCode::Create, "/ver/c", Acl::open_unsafe(), 0, None),
    );
    check("create existing node under a closed parent", "NoAuth", got);
    let got = call(&mut bob, &delete("/ver/missing", -1));
    check("delete missing node under a closed parent", "NoAuth", got);
    let got = call(&mut bob, &delete("/ver/c", 5));
    check(
        "delete with a wrong version under a closed parent",
        "NoAuth",
        got,
    );
    let got = call(
        &mut bob,
        &Request::GetData(path_watch("/ver/missing", false)),
    );
    check("getData of a missing node", "NoNode", got);
    let got = call(&mut bob, &Request::Exists(path_watch("/ver", false)));
    check("exists on a closed node (3.8.0: no check)", "stat", got);
    let got = call(&mut bob, &Request::GetAcl("/ver".into()));
    check("getACL on a closed node", "NoAuth", got);
    let _ = call(
        &mut alice,
        &create_as(OpCode::Create, "/ver/dc", mine.clone(), 0, None),
    );
    let got = call(&mut bob, &Request::DeleteContainer("/ver/dc".into()));
    check("deleteContainer from a client", "BadArguments", got);
    let got = call(&mut bob, &Request::Exists(path_watch("/ver/dc", false)));
    check(
        "node still there after a client's deleteContainer",
        "stat",
        got,
    );
    close(alice);
    close(bob);
}

/// System nodes, and multis whose later ops are checked against the ACLs
/// their earlier ops created.
fn system_nodes_and_multi(port: u16, checks: &mut Vec<Check>) {
    let mut bob = session(port, Actor::Bob);
    let mine = vec![acl_entry(31, "digest", &digest(ALICE.0, ALICE.1))];
    let mut check = |what: &str, want: &str, got: String| {
        checks.push((what.to_string(), want.to_string(), got));
    };
    for (path, want) in [
        ("/", "acl=[world:anyone=31]"),
        ("/zookeeper", "acl=[world:anyone=31]"),
        ("/zookeeper/quota", "acl=[world:anyone=31]"),
        ("/zookeeper/config", "acl=[world:anyone=1]"),
    ] {
        let got = call(&mut bob, &Request::GetAcl(path.into()));
        check(&format!("getACL {path}"), want, got);
    }
    let config = "/zookeeper/config";
    let got = call(&mut bob, &Request::SetData(set_data(config, -1)));
    check("setData /zookeeper/config", "NoAuth", got);
    let got = call(
        &mut bob,
        &create_as(
            OpCode::Create,
            &format!("{config}/x"),
            Acl::open_unsafe(),
            0,
            None,
        ),
    );
    check("create under /zookeeper/config", "NoAuth", got);
    let got = call(&mut bob, &delete(config, -1));
    check("delete /zookeeper/config", "BadArguments", got);
    let got = call(&mut bob, &set_acl(config, Acl::open_unsafe(), -1));
    check("setACL /zookeeper/config", "NoAuth", got);
    let got = call(&mut bob, &Request::GetData(path_watch(config, false)));
    check("getData /zookeeper/config", "data=", got);
    let _ = call(
        &mut bob,
        &create_as(OpCode::Create, "/mx", Acl::open_unsafe(), 0, None),
    );
    let multi = |ops: Vec<Request>| {
        Request::Multi(
            ops.into_iter()
                .map(|r| match r {
                    Request::Create(c, r) => MultiOp::Create(c, r),
                    Request::SetData(r) => MultiOp::SetData(r),
                    Request::Delete(r) => MultiOp::Delete(r),
                    _ => unreachable!(),
                })
                .collect(),
        )
    };
    let got = call(
        &mut bob,
        &multi(vec![
            create_as(OpCode::Create, "/mx/a", mine.clone(), 0, None),
            Request::SetData(set_data("/mx/a", -1)),
        ]),
    );
    check(
        "multi: create alice-only, then setData it",
        "multi[Ok,NoAuth]",
        got,
    );
    let got = call(&mut bob, &Request::Exists(path_watch("/mx/a", false)));
    check("multi: refused op rolls back the create", "NoNode", got);
    let got = call(
        &mut bob,
        &multi(vec![
            create_as(OpCode::Create, "/mx/b", mine.clone(), 0, None),
            create_as(OpCode::Create, "/mx/b/c", Acl::open_unsafe(), 0, None),
        ]),
    );
    check(
        "multi: create alice-only, then a child of it",
        "multi[Ok,NoAuth]",
        got,
    );
    let got = call(
        &mut bob,
        &multi(vec![
            create_as(OpCode::Create, "/mx/d", Acl::open_unsafe(), 0, None),
            delete("/mx/d", -1),
        ]),
    );
    check(
        "multi: create open, then delete it",
        "multi[created /mx/d,deleted]",
        got,
    );
    let got = call(
        &mut bob,
        &multi(vec![
            create_as(OpCode::Create, "/mx/e", Acl::open_unsafe(), 0, None),
            create_as(
                OpCode::Create,
                "/mx/f",
                vec![acl_entry(31, "auth", "")],
                0,
                None,
            ),
        ]),
    );
    check(
        "multi: auth ACL as bob",
        "multi[created /mx/e,created /mx/f]",
        got,
    );
    let got = call(&mut bob, &Request::GetAcl("/mx/f".into()));
    let want = format!(
        "acl={}",
        show_acl(&[acl_entry(31, "digest", &digest(BOB.0, BOB.1))])
    );
    check("multi: auth ACL expands to bob", &want, got);
    close(bob);
}

/// A failed addauth: the reply says AuthFailed, then the server closes.
fn failed_auth(port: u16, checks: &mut Vec<Check>) {
    let tries: [(&str, &[u8], &str); 5] = [
        ("unknown scheme", b"x", "AuthFailed closed"),
        ("world scheme", b"anyone", "AuthFailed closed"),
        ("super scheme", b"super:pw", "AuthFailed closed"),
        ("digest without a colon", b"alice", "ok open"),
        ("digest, empty", b"", "ok open"),
    ];
    for (what, credentials, want) in tries {
        let scheme = match what {
            "unknown scheme" => "kerberos",
            "world scheme" => "world",
            "super scheme" => "super",
            _ => "digest",
        };
        let mut client = session(port, Actor::Anonymous);
        let got = call(&mut client, &auth(scheme, credentials));
        let state = if client.try_call(&Request::Sync("/".into())).is_some() {
            "open"
        } else {
            "closed"
        };
        checks.push((
            format!("addauth {what}"),
            want.into(),
            format!("{got} {state}"),
        ));
    }
    // An id from a colon-less digest is `user:hash`; whoAmI names the user.
    let mut client = session(port, Actor::Anonymous);
    let _ = call(&mut client, &auth("digest", b"carol"));
    let got = call(&mut client, &Request::WhoAmI);
    checks.push((
        "whoAmI after addauth digest carol".into(),
        "whoami=[\"digest:carol\", \"ip:127.0.0.1\"]".into(),
        got,
    ));
    close(client);
}

// ------------------------------------------------------------ the tests ---

fn check_all(server: &str, port: u16) {
    let report = run_matrix(port);
    let extra = extras(port);
    let extra_failures: Vec<String> = extra
        .iter()
        .filter(|(_, want, got)| want != got)
        .map(|(what, want, got)| format!("{what}: answered {got:?}, expected {want:?}"))
        .collect();
    println!(
        "{server}: matrix {} of {} cases pass; extra checks {} of {} pass\n{}",
        report.passed(),
        report.passed() + report.failures.len(),
        extra.len() - extra_failures.len(),
        extra.len(),
        report.table()
    );
    let mut failures = report.failures;
    failures.extend(extra_failures);
    assert!(
        failures.is_empty(),
        "{server}: {} checks differ from ZooKeeper 3.8's rules:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn security_matrix_warden() {
    let server = Server::start(2, &format!("forceSync=no\n{SUPER_DIGEST}"));
    check_all("warden (2 shards)", server.port);
}

#[test]
fn security_matrix_warden_one_shard() {
    let server = Server::start(1, &format!("forceSync=no\n{SUPER_DIGEST}"));
    check_all("warden (1 shard)", server.port);
}

#[test]
fn security_matrix_zookeeper() {
    let zk = zookeeper::ZooKeeper::start_with(60_000, SUPER_DIGEST);
    check_all("zookeeper 3.8", zk.port);
}

/// An IPv4 client of a dual-stack (`::`) listener is `ip:127.0.0.1`, as
/// Java shows it to ZooKeeper, so `ip:` ACLs match it (Warden used to see
/// `::ffff:127.0.0.1` and refuse). Checked by hand against ZooKeeper 3.8.0
/// with `clientPortAddress=::` (whoami: `ip: 127.0.0.1`).
#[test]
fn ipv4_client_of_a_dual_stack_listener() {
    if std::net::TcpListener::bind("[::]:0").is_err() {
        println!("SKIPPED: this machine cannot bind an IPv6 socket");
        return;
    }
    let server = Server::start(1, "clientPortAddress=::\nforceSync=no");
    let mut client = session(server.port, Actor::Anonymous);
    let whoami = call(&mut client, &Request::WhoAmI);
    assert_eq!(whoami, "whoami=[\"ip:127.0.0.1\"]");
    let only_me = vec![acl_entry(perms::ALL, "ip", "127.0.0.0/8")];
    let created = call(
        &mut client,
        &create_as(OpCode::Create, "/v4", only_me, 0, None),
    );
    assert_eq!(created, "created /v4");
    let read = call(&mut client, &Request::GetData(path_watch("/v4", false)));
    assert_eq!(read, "data=d");
    close(client);
}
