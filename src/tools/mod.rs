//! What `warden log-dump`, `warden snap-dump` and `warden purge` print.
//!
//! The storage crate lists frames and verifies files
//! ([`warden_storage::dump`]); this module decodes payloads (txns with
//! [`decode_txn`], trees with [`read_tree`]) and renders them, as text in
//! the spirit of ZooKeeper's `TxnLogToolkit` and `SnapshotFormatter`, or as
//! JSON. Dumping never refuses a damaged file: damage is printed.

use crate::proto::types::{Acl, NodeData};
use crate::tree::snapshot::read_tree;
use crate::tree::Tree;
use crate::txn::codec::decode_txn;
use crate::txn::{CreateKind, Txn, TxnRecord};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use warden_storage::dump::{self, DumpEnd, LogDump};

pub type ToolError = Box<dyn std::error::Error + Send + Sync>;

/// `Request.op2String` of a txn.
pub fn op_name(txn: &Txn) -> &'static str {
    match txn {
        Txn::CreateSession { .. } => "createSession",
        Txn::CloseSession { .. } => "closeSession",
        Txn::Create(c) => match c.kind {
            CreateKind::Container => "createContainer",
            CreateKind::Ttl(_) => "createTTL",
            _ if c.op == crate::proto::types::OpCode::Create2 => "create2",
            _ => "create",
        },
        Txn::Delete { .. } => "delete",
        Txn::DeleteContainer { .. } => "deleteContainer",
        Txn::SetData { .. } => "setData",
        Txn::SetAcl { .. } => "setACL",
        Txn::Check { .. } => "check",
        Txn::Multi(_) => "multi",
        Txn::Error(_) => "error",
    }
}

/// Node data as TxnLogToolkit shows it: UTF-8 (lossy), null and empty as "".
fn data_text(d: &NodeData) -> String {
    String::from_utf8_lossy(d.as_slice()).into_owned()
}

fn acl_text(acl: &[Acl]) -> String {
    let items: Vec<String> = acl
        .iter()
        .map(|a| format!("{},{}:{}", a.perms, a.id.scheme, a.id.id))
        .collect();
    format!("[{}]", items.join(";"))
}

/// The txn's fields as TxnLogToolkit lists them (comma separated).
pub fn txn_text(txn: &Txn) -> String {
    match txn {
        Txn::CreateSession { timeout_ms } => timeout_ms.to_string(),
        Txn::CloseSession { paths } => format!("[{}]", paths.join(",")),
        Txn::Create(c) => {
            let base = format!("{},{},{}", c.path, data_text(&c.data), acl_text(&c.acl));
            match c.kind {
                CreateKind::Persistent => format!("{base},false,{}", c.parent_cversion),
                CreateKind::Ephemeral => format!("{base},true,{}", c.parent_cversion),
                CreateKind::Container => format!("{base},{}", c.parent_cversion),
                CreateKind::Ttl(ttl) => format!("{base},{},{ttl}", c.parent_cversion),
            }
        }
        Txn::Delete { path } | Txn::DeleteContainer { path } => path.clone(),
        Txn::SetData {
            path,
            data,
            version,
        } => format!("{path},{},{version}", data_text(data)),
        Txn::SetAcl { path, acl, version } => format!("{path},{},{version}", acl_text(acl)),
        Txn::Check { path, version } => format!("{path},{version}"),
        Txn::Multi(txns) => {
            let items: Vec<String> = txns
                .iter()
                .map(|t| format!("{}:{}", op_name(t), txn_text(t)))
                .collect();
            items.join("; ")
        }
        Txn::Error(code) => format!("{}", code.code()),
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS.mmm UTC`.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::fourlw::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{milli:03} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// One record line: `time session 0x.. cxid 0x.. zxid 0x.. op fields`.
pub fn record_line(rec: &TxnRecord) -> String {
    let h = &rec.header;
    format!(
        "{} session 0x{:x} cxid 0x{:x} zxid 0x{:x} {} {}",
        format_time(h.time_ms),
        h.session_id,
        h.cxid,
        h.zxid,
        op_name(&rec.txn),
        txn_text(&rec.txn)
    )
}

fn txn_json(txn: &Txn) -> Value {
    let data = |d: &NodeData| match d.as_bytes() {
        None => Value::Null,
        Some(b) => json!(String::from_utf8_lossy(b)),
    };
    let acl = |a: &[Acl]| {
        a.iter()
            .map(|a| json!({"perms": a.perms, "scheme": a.id.scheme, "id": a.id.id}))
            .collect::<Vec<_>>()
    };
    let mut v = match txn {
        Txn::CreateSession { timeout_ms } => json!({"timeout_ms": timeout_ms}),
        Txn::CloseSession { paths } => json!({"paths": paths}),
        Txn::Create(c) => {
            let (kind, ttl) = match c.kind {
                CreateKind::Persistent => ("persistent", None),
                CreateKind::Ephemeral => ("ephemeral", None),
                CreateKind::Container => ("container", None),
                CreateKind::Ttl(t) => ("ttl", Some(t)),
            };
            json!({"path": c.path, "data": data(&c.data), "data_length": c.data.len(),
                   "acl": acl(&c.acl), "kind": kind, "ttl": ttl,
                   "parent_cversion": c.parent_cversion})
        }
        Txn::Delete { path } | Txn::DeleteContainer { path } => json!({"path": path}),
        Txn::SetData {
            path,
            data: d,
            version,
        } => json!({"path": path, "data": data(d), "data_length": d.len(), "version": version}),
        Txn::SetAcl {
            path,
            acl: a,
            version,
        } => json!({"path": path, "acl": acl(a), "version": version}),
        Txn::Check { path, version } => json!({"path": path, "version": version}),
        Txn::Multi(txns) => json!({"txns": txns.iter().map(txn_json).collect::<Vec<_>>()}),
        Txn::Error(code) => json!({"code": code.code(), "name": format!("{code:?}")}),
    };
    v["type"] = json!(op_name(txn));
    v
}

fn end_text(end: &DumpEnd) -> String {
    match end {
        DumpEnd::Zeros { offset } => format!("zeros from offset {offset} to the end"),
        DumpEnd::EndOfFile => "last record ends at the end of the file".into(),
        DumpEnd::DataAfterZeros {
            offset,
            next_nonzero,
        } => format!("zeros from offset {offset}, then data again at {next_nonzero}"),
        DumpEnd::Unreadable { offset, reason } => {
            format!("unreadable at offset {offset}: {reason}")
        }
    }
}

/// A decoded (or not) log: the storage dump plus each payload's txn.
pub struct DecodedLog {
    pub dump: LogDump,
    pub txns: Vec<Result<TxnRecord, String>>,
}

/// Reads a log file and decodes every record's payload.
pub fn read_log(path: &Path) -> Result<DecodedLog, ToolError> {
    let mut txns = Vec::new();
    let dump = dump::dump_log_with(
        path,
        warden_storage::log::DEFAULT_MAX_RECORD_BYTES,
        |_, payload| txns.push(decode_txn(payload).map_err(|e| e.to_string())),
    )?;
    Ok(DecodedLog { dump, txns })
}

/// `warden log-dump` text.
pub fn log_text(log: &DecodedLog) -> String {
    let d = &log.dump;
    let mut s = String::new();
    let _ = writeln!(s, "Log file: {} ({} bytes)", d.path.display(), d.file_size);
    match &d.header {
        Ok(h) => {
            let _ = writeln!(
                s,
                "Header: format {} dbid 0x{:x} first zxid 0x{:x}",
                h.format_version, h.db_id, h.first_zxid
            );
        }
        Err(e) => {
            let _ = writeln!(s, "Header: unusable: {e}");
        }
    }
    for (info, txn) in d.records.iter().zip(&log.txns) {
        let crc = if info.crc_ok { "" } else { " CRC MISMATCH" };
        match txn {
            Ok(rec) => {
                let _ = writeln!(s, "{}{crc}", record_line(rec));
            }
            Err(e) => {
                let _ = writeln!(
                    s,
                    "zxid 0x{:x} at offset {} ({} bytes){crc}: undecodable: {e}",
                    info.zxid, info.offset, info.payload_len
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "EOF reached after {} txns: {}",
        d.records.len(),
        end_text(&d.end)
    );
    s
}

/// `warden log-dump --json`.
pub fn log_json(log: &DecodedLog) -> Value {
    let d = &log.dump;
    let records: Vec<Value> = d
        .records
        .iter()
        .zip(&log.txns)
        .map(|(info, txn)| {
            let mut v = json!({"offset": info.offset, "zxid": format!("0x{:x}", info.zxid),
                               "payload_len": info.payload_len, "crc_ok": info.crc_ok});
            match txn {
                Ok(rec) => {
                    let h = &rec.header;
                    v["session"] = json!(format!("0x{:x}", h.session_id));
                    v["cxid"] = json!(h.cxid);
                    v["time_ms"] = json!(h.time_ms);
                    v["time"] = json!(format_time(h.time_ms));
                    v["txn"] = txn_json(&rec.txn);
                }
                Err(e) => v["error"] = json!(e),
            }
            v
        })
        .collect();
    let header = match &d.header {
        Ok(h) => json!({"format_version": h.format_version, "db_id": h.db_id,
                        "first_zxid": format!("0x{:x}", h.first_zxid)}),
        Err(e) => json!({"error": e}),
    };
    json!({"path": d.path.display().to_string(), "file_size": d.file_size,
           "header": header, "records": records, "end": end_text(&d.end)})
}

/// A snapshot file: header information and, when valid, the tree.
pub struct DecodedSnapshot {
    pub info: dump::SnapshotInfo,
    pub tree: Result<Tree, String>,
}

pub fn read_snapshot(path: &Path) -> Result<DecodedSnapshot, ToolError> {
    let info = dump::dump_snapshot(path)?;
    let tree = match warden_storage::snapshot::read_snapshot(path) {
        Ok(image) => read_tree(image.content()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    Ok(DecodedSnapshot { info, tree })
}

/// Every node path, in path order.
fn node_paths(t: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        if let Some(kids) = t.children(&p) {
            for k in kids {
                stack.push(if p == "/" {
                    format!("/{k}")
                } else {
                    format!("{p}/{k}")
                });
            }
        }
        out.push(p);
    }
    out.sort();
    out
}

/// `warden snap-dump` text (SnapshotFormatter's layout).
pub fn snapshot_text(s: &DecodedSnapshot) -> String {
    let mut o = String::new();
    let i = &s.info;
    let _ = writeln!(
        o,
        "Snapshot file: {} ({} bytes)",
        i.path.display(),
        i.file_size
    );
    if let Some(h) = &i.header {
        let _ = writeln!(
            o,
            "Header: format {} dbid 0x{:x} zxid 0x{:x}",
            h.format_version, h.db_id, h.zxid
        );
    }
    let _ = writeln!(o, "Valid: {}", i.error.as_deref().unwrap_or("yes"));
    let t = match &s.tree {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(o, "Tree: undecodable: {e}");
            return o;
        }
    };
    let _ = writeln!(o, "ZNode Details (count={}):", t.node_count());
    for p in node_paths(t) {
        let Some(n) = t.node(&p) else { continue };
        let st = n.client_stat();
        let _ = writeln!(o, "----\n{p}");
        let _ = writeln!(o, "  cZxid = 0x{:x}", st.czxid);
        let _ = writeln!(o, "  ctime = {}", format_time(st.ctime));
        let _ = writeln!(o, "  mZxid = 0x{:x}", st.mzxid);
        let _ = writeln!(o, "  mtime = {}", format_time(st.mtime));
        let _ = writeln!(o, "  pZxid = 0x{:x}", st.pzxid);
        let _ = writeln!(o, "  cversion = {}", st.cversion);
        let _ = writeln!(o, "  dataVersion = {}", st.version);
        let _ = writeln!(o, "  aclVersion = {}", st.aversion);
        let _ = writeln!(o, "  ephemeralOwner = 0x{:x}", st.ephemeral_owner);
        let null = if n.data_is_null() { " (null)" } else { "" };
        let _ = writeln!(o, "  dataLength = {}{null}", st.data_length);
    }
    let sessions: Vec<(i64, i32)> = t.sessions().collect();
    let _ = writeln!(o, "----\nSession Details (sid, timeout, ephemeralCount):");
    for (sid, timeout) in &sessions {
        let _ = writeln!(o, "0x{sid:x}, {timeout}, {}", t.ephemerals_of(*sid).len());
    }
    let _ = writeln!(o, "----\nLast zxid: 0x{:x}", t.last_zxid());
    o
}

/// `warden snap-dump --json`.
pub fn snapshot_json(s: &DecodedSnapshot) -> Value {
    let i = &s.info;
    let header = i.header.map(|h| {
        json!({"format_version": h.format_version, "db_id": h.db_id, "zxid": format!("0x{:x}", h.zxid)})
    });
    let mut v = json!({"path": i.path.display().to_string(), "file_size": i.file_size,
                       "header": header, "valid": i.valid, "error": i.error});
    match &s.tree {
        Err(e) => v["tree_error"] = json!(e),
        Ok(t) => {
            let nodes: Vec<Value> = node_paths(t)
                .into_iter()
                .filter_map(|p| {
                    let n = t.node(&p)?;
                    let st = n.client_stat();
                    Some(json!({"path": p, "czxid": format!("0x{:x}", st.czxid),
                        "mzxid": format!("0x{:x}", st.mzxid), "pzxid": format!("0x{:x}", st.pzxid),
                        "ctime": st.ctime, "mtime": st.mtime, "cversion": st.cversion,
                        "version": st.version, "aversion": st.aversion,
                        "ephemeral_owner": format!("0x{:x}", st.ephemeral_owner),
                        "data_length": st.data_length, "data_null": n.data_is_null(),
                        "num_children": st.num_children}))
                })
                .collect();
            let sessions: Vec<Value> = t
                .sessions()
                .map(|(sid, timeout)| {
                    json!({"id": format!("0x{sid:x}"), "timeout_ms": timeout,
                    "ephemerals": t.ephemerals_of(sid)})
                })
                .collect();
            v["last_zxid"] = json!(format!("0x{:x}", t.last_zxid()));
            v["node_count"] = json!(t.node_count());
            v["sessions"] = json!(sessions);
            v["nodes"] = json!(nodes);
        }
    }
    v
}

#[cfg(test)]
mod tests;
