//! Requests a shard answers itself, from one immutable tree version: reads,
//! and the session-local requests that touch only this shard's watch table
//! or the connection's identities (setWatches, checkWatches, removeWatches,
//! addWatch, auth, whoAmI).
//!
//! Watches are registered against the same tree version the read was
//! answered from, so a change is either visible in the reply or fires the
//! watch, never neither.

use super::connection::Connection;
use super::state::Shard;
use crate::proto::requests::{Request, SetWatchesRequest};
use crate::proto::responses::Response;
use crate::proto::types::{AddWatchMode, ErrorCode, SessionId, WatcherType};
use crate::tree::{self, Tree};
use crate::watch::{NodeZxids, WatchKind, WatchLists, WatcherId};

/// Answers a request that does not go through the sequencer.
pub fn serve(
    shard: &Shard,
    connection: &Connection,
    tree: &Tree,
    session: SessionId,
    request: &Request,
) -> Result<Response, ErrorCode> {
    let watcher = WatcherId(connection.id);
    match request {
        Request::Exists(r) => {
            let result = tree::read::read_as(tree, session, &connection.auth_ids(), request);
            if r.watch {
                let kind = match result {
                    Ok(_) => WatchKind::Data,
                    Err(ErrorCode::NoNode) => WatchKind::Exist,
                    Err(_) => return result,
                };
                register(shard, &r.path, kind, watcher)?;
            }
            result
        }
        Request::GetData(r) | Request::GetChildren(r) | Request::GetChildren2(r) => {
            let kind = match request {
                Request::GetData(_) => WatchKind::Data,
                _ => WatchKind::Child,
            };
            with_watch(shard, connection, tree, request, &r.path, r.watch, kind)
        }
        Request::SetWatches(r) | Request::SetWatches2(r) => set_watches(shard, connection, tree, r),
        Request::AddWatch(r) => {
            let mode = AddWatchMode::from_i32(r.mode).ok_or(ErrorCode::BadArguments)?;
            let kind = match mode {
                AddWatchMode::Persistent => WatchKind::Persistent,
                AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
            };
            register(shard, &r.path, kind, watcher)?;
            Ok(Response::AddWatch)
        }
        Request::CheckWatches(r) | Request::RemoveWatches(r) => {
            let kind = WatcherType::from_i32(r.watcher_type).ok_or(ErrorCode::BadArguments)?;
            let remove = matches!(request, Request::RemoveWatches(_));
            let mut watches = shard.watches.borrow_mut();
            let found = if remove {
                watches.remove(&r.path, kind, watcher)
            } else {
                watches.contains(&r.path, kind, watcher)
            };
            // ZooKeeper 3.8 only knows watcher types 1-3 here.
            if found.map_err(|_| ErrorCode::MarshallingError)? {
                Ok(Response::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            }
        }
        Request::WhoAmI => Ok(Response::WhoAmI(connection.identities())),
        // Answered by the connection itself (`super::sasl`), never queued.
        Request::Sasl(_) => Err(ErrorCode::SystemError),
        _ => tree::read::read_as(tree, session, &connection.auth_ids(), request),
    }
}

fn with_watch(
    shard: &Shard,
    connection: &Connection,
    tree: &Tree,
    request: &Request,
    path: &str,
    watch: bool,
    kind: WatchKind,
) -> Result<Response, ErrorCode> {
    let session = connection.session().unwrap_or(0);
    let result = tree::read::read_as(tree, session, &connection.auth_ids(), request)?;
    if watch {
        register(shard, path, kind, WatcherId(connection.id))?;
    }
    Ok(result)
}

fn register(
    shard: &Shard,
    path: &str,
    kind: WatchKind,
    watcher: WatcherId,
) -> Result<(), ErrorCode> {
    shard
        .watches
        .borrow_mut()
        .add(path, kind, watcher)
        .map_err(|error| {
            tracing::warn!(conn = watcher.0, %error, "watch refused");
            ErrorCode::Throttled
        })
}

fn set_watches(
    shard: &Shard,
    connection: &Connection,
    tree: &Tree,
    request: &SetWatchesRequest,
) -> Result<Response, ErrorCode> {
    let lists = WatchLists {
        data: request.data_watches.clone(),
        exist: request.exist_watches.clone(),
        child: request.child_watches.clone(),
        persistent: request.persistent_watches.clone(),
        persistent_recursive: request.persistent_recursive_watches.clone(),
    };
    let fired = shard
        .watches
        .borrow_mut()
        .set_watches(
            WatcherId(connection.id),
            request.relative_zxid,
            &lists,
            |path| {
                tree.node(path).map(|node| NodeZxids {
                    mzxid: node.stat.mzxid,
                    pzxid: node.stat.pzxid,
                })
            },
        )
        .map_err(|error| {
            tracing::warn!(conn = connection.id, %error, "setWatches refused");
            ErrorCode::Throttled
        })?;
    for event in fired {
        connection.send_event(shard, &event);
    }
    Ok(Response::Empty)
}
