//! Executes one write: validate it against the current tree, build its txn
//! record, apply it, and shape the client's reply.
//!
//! This is ZooKeeper 3.8.4's `PrepRequestProcessor` (checks, their order and
//! error codes) fused with the apply step of `FinalRequestProcessor`. The
//! tree passed in already holds every earlier write, so no outstanding-change
//! bookkeeping is needed. Guarantees: every call yields exactly one record
//! with the caller's header (a failed request is an [`Txn::Error`] and still
//! consumes its zxid); a failed request changes nothing but `last_zxid`; a
//! multi is all-or-nothing, each op validated against the effects of the
//! ones before it; client input never panics.

use super::rate_log::RateLog;
use crate::proto::requests::{
    CheckVersionRequest, CreateRequest, DeleteRequest, MultiOp, Request, SetAclRequest,
    SetDataRequest,
};
use crate::proto::responses::{MultiResult, Response};
use crate::proto::types::{perms, CreateMode, ErrorCode, Id, OpCode};
use crate::tree::acl::{check_acl, fixup_acl};
use crate::tree::path::{split_last, validate_path};
use crate::tree::quota;
use crate::tree::{Change, NodeKind, Outcome, Tree, MAX_TTL};
use crate::txn::{CreateKind, CreateTxn, Txn, TxnHeader, TxnRecord};
use std::sync::Arc;

/// Server settings that change how writes are validated.
#[derive(Clone, Debug, Default)]
pub struct PrepContext {
    /// `zookeeper.extendedTypesEnabled`: TTL nodes are allowed.
    pub extended_types_enabled: bool,
    /// `reconfigEnabled`; standalone answers UNIMPLEMENTED when on.
    pub reconfig_enabled: bool,
    /// Schemes of configured extra auth providers (`zookeeper.authProvider.*`),
    /// e.g. "sasl", "x509": ACLs naming them are accepted at create/setACL.
    pub extra_auth_schemes: Vec<String>,
    /// `zookeeper.enforceQuota`: a create or setData over a hard quota
    /// limit fails with QuotaExceeded (limits are logged either way).
    pub enforce_quota: bool,
    /// Where "Quota exceeded" lines go, at most one per message per 100 ms.
    pub quota_log: Arc<RateLog>,
}

/// The outcome of one write.
#[derive(Clone, Debug)]
pub struct Executed {
    /// What to log, replicate and (on replay) apply.
    pub record: TxnRecord,
    /// The reply body, or the error code for the reply header.
    pub reply: Result<Response, ErrorCode>,
    /// Watch triggers, in ZooKeeper's order.
    pub changes: Vec<Change>,
}

/// A write operation as prep sees it, from a request or a multi op.
#[derive(Clone, Copy, Debug)]
enum WriteOp<'a> {
    Create(OpCode, &'a CreateRequest),
    Delete(&'a DeleteRequest),
    DeleteContainer(&'a str),
    SetData(&'a SetDataRequest),
    SetAcl(&'a SetAclRequest),
    Check(&'a CheckVersionRequest),
}

/// Executes a write for a client with no authenticated ids (world access only).
pub fn execute(tree: &mut Tree, header: TxnHeader, req: &Request, ctx: &PrepContext) -> Executed {
    execute_as(tree, header, req, ctx, &[])
}

/// Executes a write for a client whose auth ids are `auth`. Only writes
/// belong here (create*, delete, deleteContainer, setData, setACL, check,
/// multi, reconfig, closeSession); anything else answers UNIMPLEMENTED with an
/// error record the caller should not log.
pub fn execute_as(
    tree: &mut Tree,
    header: TxnHeader,
    req: &Request,
    ctx: &PrepContext,
    auth: &[Id],
) -> Executed {
    let op = match req {
        Request::Create(op, r) => WriteOp::Create(*op, r),
        Request::Delete(r) => WriteOp::Delete(r),
        // A client's deleteContainer (opcode 20) never deletes anything:
        // ZooKeeper 3.8 reads its path from the whole request buffer, request
        // header bytes included, so the path never starts with '/'. Only the
        // container sweep deletes containers ([`sweep_delete`]), and it
        // checks no ACL, so a client must never reach that code.
        Request::DeleteContainer(_) => return failed(tree, header, ErrorCode::BadArguments),
        Request::SetData(r) if !ctx.enforce_quota => {
            return execute_set_data(tree, header, r, auth)
        }
        Request::SetData(r) => WriteOp::SetData(r),
        Request::SetAcl(r) => WriteOp::SetAcl(r),
        Request::Check(r) => WriteOp::Check(r),
        Request::Multi(ops) => return execute_multi(tree, header, ops, ctx, auth),
        Request::CloseSession => return close_session(tree, header),
        Request::Reconfig(_) if ctx.reconfig_enabled => {
            return failed(tree, header, ErrorCode::Unimplemented)
        }
        Request::Reconfig(_) => return failed(tree, header, ErrorCode::ReconfigDisabled),
        _ => return failed(tree, header, ErrorCode::Unimplemented),
    };
    match prep_op(tree, tree, &header, op, ctx, auth) {
        Ok(txn) => apply_single(tree, header, txn),
        Err(code) => failed(tree, header, code),
    }
}

/// setData without quota enforcement: the checks of [`prep_op`] (same
/// order, same codes) run on the node the apply step finds, so the path is
/// searched once. Quota checks need the whole tree; with `enforceQuota`
/// setData takes the general path.
fn execute_set_data(
    tree: &mut Tree,
    header: TxnHeader,
    r: &SetDataRequest,
    auth: &[Id],
) -> Executed {
    if let Err(code) = valid_path(&r.path) {
        return failed(tree, header, code);
    }
    let mut version = 0;
    let applied = tree.apply_set_data(&header, &r.path, &r.data, |n| {
        check_acl(&n.acl, perms::WRITE, auth)?;
        version = check_version(n.stat.version, r.version)?;
        Ok(version)
    });
    let txn = match applied.result {
        Ok(_) => Txn::SetData {
            path: r.path.clone(),
            data: r.data.clone(),
            version,
        },
        Err(code) => Txn::Error(code),
    };
    let reply = applied.result.map(|o| match o {
        Outcome::Stat(s) => Response::Stat(s),
        other => unreachable!("setData answers a Stat, not {other:?}"),
    });
    assert_invariants(tree);
    Executed {
        record: TxnRecord { header, txn },
        reply,
        changes: applied.changes,
    }
}

/// Records a new session (the session table itself lives elsewhere).
pub fn create_session(tree: &mut Tree, header: TxnHeader, timeout_ms: i32) -> Executed {
    let record = TxnRecord {
        header,
        txn: Txn::CreateSession { timeout_ms },
    };
    let applied = tree.apply(&record);
    Executed {
        record,
        reply: Ok(Response::Empty),
        changes: applied.changes,
    }
}

/// Closes `header.session_id`: deletes its ephemerals in ZooKeeper's order
/// (that of `DataTree.getEphemerals`), each firing NodeDeleted and the
/// parent's NodeChildrenChanged.
pub fn close_session(tree: &mut Tree, header: TxnHeader) -> Executed {
    let paths = tree.ephemerals_of(header.session_id);
    let record = TxnRecord {
        header,
        txn: Txn::CloseSession { paths },
    };
    let applied = tree.apply(&record);
    Executed {
        record,
        reply: Ok(Response::Empty),
        changes: applied.changes,
    }
}

/// The deleteContainer the container/TTL sweep issues for `path`.
pub fn sweep_delete(tree: &mut Tree, header: TxnHeader, path: &str) -> Executed {
    match prep_op(
        tree,
        tree,
        &header,
        WriteOp::DeleteContainer(path),
        &PrepContext::default(),
        &[],
    ) {
        Ok(txn) => apply_single(tree, header, txn),
        Err(code) => failed(tree, header, code),
    }
}

fn failed(tree: &mut Tree, header: TxnHeader, code: ErrorCode) -> Executed {
    let record = TxnRecord {
        header,
        txn: Txn::Error(code),
    };
    tree.apply(&record);
    Executed {
        record,
        reply: Err(code),
        changes: Vec::new(),
    }
}

fn apply_single(tree: &mut Tree, header: TxnHeader, txn: Txn) -> Executed {
    let record = TxnRecord { header, txn };
    let applied = tree.apply(&record);
    let reply = applied.result.map(|o| match o {
        Outcome::Created {
            op: OpCode::Create,
            path,
            ..
        } => Response::Create(path),
        Outcome::Created { path, stat, .. } => Response::Create2(path, stat),
        Outcome::Stat(s) => Response::Stat(s),
        Outcome::Done | Outcome::Multi(_) => Response::Empty,
    });
    assert_invariants(tree);
    Executed {
        record,
        reply,
        changes: applied.changes,
    }
}

/// Cheap release-build checks after every write.
fn assert_invariants(tree: &Tree) {
    assert!(tree.has_root(), "root vanished");
    if cfg!(debug_assertions) && tree.len() < 2_000 {
        if let Err(e) = tree.check_invariants() {
            panic!("tree invariant broken: {e}");
        }
    }
}

/// ZooKeeper fails these multis as a whole (MarshallingError): read ops,
/// and a TTL mode under a create opcode other than createTTL (its prep casts
/// the CreateRequest to a CreateTTLRequest and throws; not compared by the
/// differential test, which cannot send it without upsetting ZooKeeper).
fn multi_decode_error(ops: &[MultiOp]) -> bool {
    ops.iter().any(|op| match op {
        MultiOp::GetChildren(_) | MultiOp::GetData(_) => true,
        MultiOp::Create(code, r) => {
            *code != OpCode::CreateTtl
                && CreateMode::from_flags(r.flags).is_some_and(CreateMode::is_ttl)
        }
        _ => false,
    })
}

/// The create a multi op really is. ZooKeeper 3.8 rebuilds every create of
/// a multi with `Op.create(path, data, acl, flags[, ttl])`, which takes its
/// opcode from the flags, whatever the op's header said: a TTL mode is
/// createTTL (with the ttl only if the header was createTTL), a container
/// is createContainer, anything else (unknown flags included, which then
/// fail with BadArguments) is a plain create, answered without a Stat.
fn multi_create(code: OpCode, r: &CreateRequest) -> (OpCode, CreateRequest) {
    let mode = CreateMode::from_flags(r.flags).unwrap_or(CreateMode::Persistent);
    let effective = if mode.is_ttl() {
        OpCode::CreateTtl
    } else if mode.is_container() {
        OpCode::CreateContainer
    } else {
        OpCode::Create
    };
    let mut r = r.clone();
    if effective != OpCode::CreateTtl || code != OpCode::CreateTtl {
        r.ttl = None;
    }
    (effective, r)
}

fn execute_multi(
    tree: &mut Tree,
    header: TxnHeader,
    ops: &[MultiOp],
    ctx: &PrepContext,
    auth: &[Id],
) -> Executed {
    if multi_decode_error(ops) {
        return failed(tree, header, ErrorCode::MarshallingError);
    }
    let mut scratch = tree.clone();
    let mut txns = Vec::with_capacity(ops.len());
    let mut failed_already = false;
    for op in ops {
        if failed_already {
            txns.push(Txn::Error(ErrorCode::RuntimeInconsistency));
            continue;
        }
        let create;
        let op = match op {
            MultiOp::Create(code, r) => {
                create = multi_create(*code, r);
                WriteOp::Create(create.0, &create.1)
            }
            MultiOp::Delete(r) => WriteOp::Delete(r),
            MultiOp::SetData(r) => WriteOp::SetData(r),
            MultiOp::Check(r) => WriteOp::Check(r),
            MultiOp::GetChildren(_) | MultiOp::GetData(_) => {
                failed_already = true;
                txns.push(Txn::Error(ErrorCode::MarshallingError));
                continue;
            }
        };
        // ZooKeeper checks quotas against the committed tree, not the
        // multi's earlier ops.
        let txn = prep_op(&scratch, tree, &header, op, ctx, auth).and_then(|txn| {
            let rec = TxnRecord { header, txn };
            scratch.apply(&rec).result.map(|_| rec.txn)
        });
        match txn {
            Ok(t) => txns.push(t),
            Err(code) => {
                failed_already = true;
                txns.push(Txn::Error(code));
            }
        }
    }
    let record = TxnRecord {
        header,
        txn: Txn::Multi(txns),
    };
    let applied = tree.apply(&record);
    let txns: &[Txn] = match &record.txn {
        Txn::Multi(t) => t,
        _ => &[],
    };
    let reply = match applied.result {
        Ok(Outcome::Multi(results)) => Ok(Response::Multi(
            results
                .into_iter()
                .zip(txns)
                .map(|(r, t)| multi_result(r, t))
                .collect(),
        )),
        Ok(_) => Err(ErrorCode::SystemError),
        Err(code) => Err(code),
    };
    assert_invariants(tree);
    Executed {
        record,
        reply,
        changes: applied.changes,
    }
}

fn multi_result(r: Result<Outcome, ErrorCode>, txn: &Txn) -> MultiResult {
    match r {
        Err(code) => MultiResult::Error(code),
        Ok(Outcome::Created { op, path, stat }) => MultiResult::Create {
            op: op as i32,
            path,
            stat: (op != OpCode::Create).then_some(stat),
        },
        Ok(Outcome::Stat(s)) => MultiResult::SetData(s),
        Ok(_) => match txn {
            Txn::Check { .. } => MultiResult::Check,
            _ => MultiResult::Delete,
        },
    }
}

/// `checkAndIncVersion`: -1 matches any version; Java int arithmetic.
fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn valid_path(path: &str) -> Result<(), ErrorCode> {
    validate_path(path).map_err(|_| ErrorCode::BadArguments)
}

/// `getParentPathAndValidate`: needs a '/', no NUL, and not a system node.
fn parent_for_delete(path: &str) -> Result<&str, ErrorCode> {
    const SPECIAL: [&str; 4] = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];
    match split_last(path) {
        Some((parent, _)) if !path.contains('\0') && !SPECIAL.contains(&path) => Ok(parent),
        _ => Err(ErrorCode::BadArguments),
    }
}

/// Validates one write against `tree` and resolves it into a txn; quotas
/// are checked against `committed`.
fn prep_op(
    tree: &Tree,
    committed: &Tree,
    h: &TxnHeader,
    op: WriteOp<'_>,
    ctx: &PrepContext,
    auth: &[Id],
) -> Result<Txn, ErrorCode> {
    let quota = |path: &str, last: Option<usize>, len: usize| {
        check_quota(committed, h, ctx, path, last, len)
    };
    match op {
        WriteOp::Create(code, r) => prep_create(tree, code, r, ctx, auth, quota),
        WriteOp::Delete(r) => prep_delete(tree, r, auth),
        WriteOp::DeleteContainer(p) => prep_delete_container(tree, p),
        WriteOp::SetData(r) => {
            valid_path(&r.path)?;
            let n = tree.node(&r.path).ok_or(ErrorCode::NoNode)?;
            check_acl(&n.acl, perms::WRITE, auth)?;
            quota(&r.path, Some(n.data_len()), r.data.len())?;
            let version = check_version(n.stat.version, r.version)?;
            Ok(Txn::SetData {
                path: r.path.clone(),
                data: r.data.clone(),
                version,
            })
        }
        WriteOp::SetAcl(r) => {
            valid_path(&r.path)?;
            let acl = fixup_acl(&r.acl, auth, &ctx.extra_auth_schemes)?;
            let n = tree.node(&r.path).ok_or(ErrorCode::NoNode)?;
            check_acl(&n.acl, perms::ADMIN, auth)?;
            let version = check_version(n.stat.aversion, r.version)?;
            Ok(Txn::SetAcl {
                path: r.path.clone(),
                acl,
                version,
            })
        }
        WriteOp::Check(r) => {
            valid_path(&r.path)?;
            let n = tree.node(&r.path).ok_or(ErrorCode::NoNode)?;
            check_acl(&n.acl, perms::READ, auth)?;
            let version = check_version(n.stat.version, r.version)?;
            Ok(Txn::Check {
                path: r.path.clone(),
                version,
            })
        }
    }
}

/// `EphemeralType.validateTTL`.
fn validate_ttl(mode: CreateMode, ttl: i64) -> Result<(), ErrorCode> {
    let ok = if mode.is_ttl() {
        ttl > 0 && ttl <= MAX_TTL
    } else {
        ttl < 0
    };
    if ok {
        Ok(())
    } else {
        Err(ErrorCode::BadArguments)
    }
}

/// `zks.checkQuota`: nothing unless `enforceQuota`; over-limit lines logged.
fn check_quota(
    committed: &Tree,
    h: &TxnHeader,
    ctx: &PrepContext,
    path: &str,
    last: Option<usize>,
    len: usize,
) -> Result<(), ErrorCode> {
    if !ctx.enforce_quota {
        return Ok(());
    }
    let verdict = quota::check(committed, path, last, len);
    for m in &verdict.messages {
        ctx.quota_log.warn(m, h.time_ms);
    }
    verdict.result
}

fn prep_create(
    tree: &Tree,
    code: OpCode,
    r: &CreateRequest,
    ctx: &PrepContext,
    auth: &[Id],
    quota: impl Fn(&str, Option<usize>, usize) -> Result<(), ErrorCode>,
) -> Result<Txn, ErrorCode> {
    let mode = CreateMode::from_flags(r.flags).ok_or(ErrorCode::BadArguments)?;
    let ttl = if code == OpCode::CreateTtl {
        r.ttl.unwrap_or(-1)
    } else {
        -1
    };
    if mode.is_ttl() && !ctx.extended_types_enabled {
        return Err(ErrorCode::Unimplemented);
    }
    validate_ttl(mode, ttl)?;
    let parent_path = match split_last(&r.path) {
        Some((parent, _)) if !r.path.contains('\0') => parent,
        _ => return Err(ErrorCode::BadArguments),
    };
    let acl = fixup_acl(&r.acl, auth, &ctx.extra_auth_schemes)?;
    let parent = tree.node(parent_path).ok_or(ErrorCode::NoNode)?;
    check_acl(&parent.acl, perms::CREATE, auth)?;
    let cversion = parent.stat.cversion;
    let path = if mode.is_sequential() {
        format!("{}{:010}", r.path, cversion)
    } else {
        r.path.clone()
    };
    valid_path(&path)?;
    if tree.node(&path).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if matches!(parent.kind(), NodeKind::Ephemeral(_)) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    quota(&path, None, r.data.len())?;
    let kind = match code {
        OpCode::CreateContainer => CreateKind::Container,
        // createTTL with a non-TTL mode: ZooKeeper's DataTree would throw on
        // apply; we refuse it up front.
        OpCode::CreateTtl if !mode.is_ttl() => return Err(ErrorCode::BadArguments),
        OpCode::CreateTtl => CreateKind::Ttl(ttl),
        _ if mode.is_ephemeral() => CreateKind::Ephemeral,
        _ => CreateKind::Persistent,
    };
    Ok(Txn::Create(CreateTxn {
        path,
        data: r.data.clone(),
        acl,
        kind,
        parent_cversion: cversion.wrapping_add(1),
        op: code,
    }))
}

fn prep_delete(tree: &Tree, r: &DeleteRequest, auth: &[Id]) -> Result<Txn, ErrorCode> {
    let parent_path = parent_for_delete(&r.path)?;
    let parent = tree.node(parent_path).ok_or(ErrorCode::NoNode)?;
    check_acl(&parent.acl, perms::DELETE, auth)?;
    let n = tree.node(&r.path).ok_or(ErrorCode::NoNode)?;
    check_version(n.stat.version, r.version)?;
    if n.num_children() > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    Ok(Txn::Delete {
        path: r.path.clone(),
    })
}

fn prep_delete_container(tree: &Tree, path: &str) -> Result<Txn, ErrorCode> {
    let parent_path = parent_for_delete(path)?;
    let n = tree.node(path).ok_or(ErrorCode::NoNode)?;
    if n.num_children() > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    if matches!(n.kind(), NodeKind::Ephemeral(_)) {
        return Err(ErrorCode::BadVersion);
    }
    tree.node(parent_path).ok_or(ErrorCode::NoNode)?;
    Ok(Txn::DeleteContainer {
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests;
