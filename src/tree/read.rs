//! Read requests, answered on a shard from an immutable tree version.
//!
//! Mirrors ZooKeeper 3.8.4's `FinalRequestProcessor` for exists, getData,
//! getChildren(2), getACL, getEphemerals, getAllChildrenNumber and multiRead:
//! same error codes in the same order (NONODE before NOAUTH), no path
//! validation beyond what ZooKeeper does (a malformed path is simply not
//! found; "" finds the root), listings in ZooKeeper's order. Watches are not
//! registered here: the shard does that from the request's watch flag.

use super::acl::{check_acl, mask_digests};
use super::{path, Node, Tree};
use crate::proto::requests::{MultiOp, Request};
use crate::proto::responses::{MultiResult, Response};
use crate::proto::types::{perms, ErrorCode, Id, NodeData, SessionId, Stat};

/// Answers a read for a client with no authenticated ids (world access only).
pub fn read(tree: &Tree, session: SessionId, req: &Request) -> Result<Response, ErrorCode> {
    read_as(tree, session, &[], req)
}

/// Answers a read for a client whose auth ids are `auth` (ip, digest, super...).
/// Requests that are not reads answer `Unimplemented`.
pub fn read_as(
    tree: &Tree,
    session: SessionId,
    auth: &[Id],
    req: &Request,
) -> Result<Response, ErrorCode> {
    match req {
        Request::Exists(r) => exists(tree, auth, &r.path),
        Request::GetData(r) => get_data(tree, auth, &r.path).map(|(d, s)| Response::GetData(d, s)),
        Request::GetChildren(r) => {
            get_children(tree, auth, &r.path).map(|n| Response::GetChildren(n.children()))
        }
        Request::GetChildren2(r) => get_children(tree, auth, &r.path)
            .map(|n| Response::GetChildren2(n.children(), n.client_stat())),
        Request::GetAcl(p) => get_acl(tree, auth, p),
        Request::GetEphemerals(prefix) => {
            Ok(Response::GetEphemerals(ephemerals(tree, session, prefix)))
        }
        Request::GetAllChildrenNumber(p) => all_children_number(tree, auth, p),
        Request::MultiRead(ops) => multi_read(tree, auth, ops),
        _ => Err(ErrorCode::Unimplemented),
    }
}

fn readable<'t>(tree: &'t Tree, auth: &[Id], path: &str) -> Result<&'t Node, ErrorCode> {
    let n = tree.node(path).ok_or(ErrorCode::NoNode)?;
    check_acl(&n.acl, perms::READ, auth)?;
    Ok(n)
}

/// ZooKeeper 3.8's exists checks no ACL: a node nobody may READ still
/// answers its Stat (found by the differential test).
fn exists(tree: &Tree, _auth: &[Id], path: &str) -> Result<Response, ErrorCode> {
    if path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    let n = tree.node(path).ok_or(ErrorCode::NoNode)?;
    Ok(Response::Stat(n.client_stat()))
}

/// The node's data as stored, null included.
fn get_data(tree: &Tree, auth: &[Id], path: &str) -> Result<(NodeData, Stat), ErrorCode> {
    readable(tree, auth, path).map(|n| (n.node_data(), n.client_stat()))
}

fn get_children<'t>(tree: &'t Tree, auth: &[Id], path: &str) -> Result<&'t Node, ErrorCode> {
    readable(tree, auth, path)
}

fn get_acl(tree: &Tree, auth: &[Id], path: &str) -> Result<Response, ErrorCode> {
    let n = tree.node(path).ok_or(ErrorCode::NoNode)?;
    check_acl(&n.acl, perms::READ | perms::ADMIN, auth)?;
    let acl = if check_acl(&n.acl, perms::ADMIN, auth).is_ok() {
        n.acl.to_vec()
    } else {
        mask_digests(&n.acl)
    };
    Ok(Response::GetAcl(acl, n.client_stat()))
}

/// The session's ephemerals under `prefix` (a plain string prefix; blank or
/// "/" means all), in ZooKeeper's order.
pub fn ephemerals(tree: &Tree, session: SessionId, prefix: &str) -> Vec<String> {
    let all = tree.ephemerals_of(session);
    let t = path::java_trim(prefix);
    if t.is_empty() || t == "/" {
        all
    } else {
        all.into_iter().filter(|p| p.starts_with(prefix)).collect()
    }
}

fn all_children_number(tree: &Tree, auth: &[Id], path: &str) -> Result<Response, ErrorCode> {
    readable(tree, auth, path)?;
    let n = if path.is_empty() {
        // DataTree counts keys starting with "/": every node, root included.
        tree.len()
    } else {
        tree.descendant_count(path)
    };
    Ok(Response::GetAllChildrenNumber(n as i32))
}

fn multi_read(tree: &Tree, auth: &[Id], ops: &[MultiOp]) -> Result<Response, ErrorCode> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let r = match op {
            MultiOp::GetChildren(p) => {
                get_children(tree, auth, p).map(|n| MultiResult::GetChildren(n.children()))
            }
            MultiOp::GetData(p) => get_data(tree, auth, p).map(|(d, s)| MultiResult::GetData(d, s)),
            // ZooKeeper fails the whole request ("Invalid type of readOp").
            _ => return Err(ErrorCode::MarshallingError),
        };
        out.push(r.unwrap_or_else(MultiResult::Error));
    }
    Ok(Response::Multi(out))
}
