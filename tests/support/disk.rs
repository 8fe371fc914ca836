//! What is on disk, read without the server: the tree an independent replay
//! of the txn log gives, the tree recovery (snapshot + log) gives, and a
//! comparison of either with the tree a running server serves. Also a small
//! tmpfs for disk-full tests.
//!
//! The whole-log replay shares nothing with recovery but the frame and txn
//! decoders: it ignores snapshots, walks every `log.*` file from its header
//! and applies every record to a fresh tree, requiring zxids to go up by
//! exactly one (every write consumes a zxid and is logged). Recovery must
//! replay exactly the records after its snapshot, in order — a dropped or
//! repeated record is caught there even when it would not change the tree
//! (txns are idempotent) — and rebuild an equal tree; the server must then
//! serve that tree node for node.

use super::{four_letter, get, Client};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use warden::proto::requests::{PathWatchRequest, Request};
use warden::proto::responses::Response;
use warden::tree::Tree;
use warden::txn::codec::decode_txn;
use warden::txn::TxnRecord;
use warden_storage::log::frame::{read_frame, Frame, HEADER_LEN};
use warden_storage::recovery::{recover, RecoveryConfig};
use warden_storage::VERSION_DIR;

/// Snapshot files (`snapshot.<zxid>`, not the `.tmp` being written) in
/// `data_dir`'s version directory.
pub fn snapshot_count(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join(VERSION_DIR))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("snapshot.") && !n.ends_with(".tmp"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits (up to `limit`) until `data_dir` holds a snapshot; returns how
/// many it holds then. Snapshots are written in the background, so a test
/// that needs one on disk (say, before a SIGKILL) waits for it.
pub fn wait_for_snapshot(data_dir: &Path, limit: std::time::Duration) -> usize {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let n = snapshot_count(data_dir);
        if n > 0 || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Records larger than this are not written by the tests.
const MAX_RECORD: usize = 8 << 20;

/// `log.<hex>` files of `data_dir`, oldest first.
fn log_files(data_dir: &Path) -> Vec<(u64, PathBuf)> {
    let dir = data_dir.join(VERSION_DIR);
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let hex = name.strip_prefix("log.")?;
                    Some((u64::from_str_radix(hex, 16).ok()?, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every record of every log file, in order (snapshots ignored). Errors if
/// zxids skip or repeat, a file's first record is not the one it is named
/// for, or a record does not decode.
pub fn log_records(data_dir: &Path) -> Result<Vec<TxnRecord>, String> {
    let mut records: Vec<TxnRecord> = Vec::new();
    for (name_zxid, path) in log_files(data_dir) {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut pos = HEADER_LEN;
        while let Frame::Record {
            zxid,
            payload,
            next,
        } = read_frame(&bytes, pos, MAX_RECORD)
        {
            if pos == HEADER_LEN && zxid != name_zxid {
                return Err(format!("{} starts at {zxid:#x}", path.display()));
            }
            let previous = records.last().map(|r| r.header.zxid as u64);
            if let Some(previous) = previous.filter(|&p| zxid != p + 1) {
                return Err(format!(
                    "{} offset {pos}: zxid {zxid:#x} after {previous:#x} (a record dropped or repeated)",
                    path.display()
                ));
            }
            let record = decode_txn(payload).map_err(|e| format!("zxid {zxid:#x}: {e}"))?;
            if record.header.zxid as u64 != zxid {
                return Err(format!(
                    "frame {zxid:#x} holds txn {:#x}",
                    record.header.zxid
                ));
            }
            records.push(record);
            pos = next;
        }
    }
    Ok(records)
}

/// `records` applied in order to a fresh tree.
pub fn apply_all<'a>(records: impl IntoIterator<Item = &'a TxnRecord>) -> Tree {
    let mut tree = Tree::new();
    for record in records {
        tree.apply(record);
    }
    tree
}

/// What recovery (newest valid snapshot + the log after it) rebuilds,
/// without repairing anything (a dry run of what the server does).
pub struct Recovered {
    pub tree: Tree,
    pub snapshot_zxid: Option<u64>,
    /// The zxids replayed after the snapshot, in order.
    pub replayed: Vec<u64>,
}

pub fn recover_dry(data_dir: &Path) -> Result<Recovered, String> {
    let mut cfg = RecoveryConfig::new(data_dir, data_dir);
    cfg.repair = false;
    cfg.max_record_bytes = MAX_RECORD;
    let recovered = recover(&cfg).map_err(|e| e.to_string())?;
    let mut tree = match &recovered.snapshot {
        Some(image) => {
            warden::tree::snapshot::read_tree(image.content()).map_err(|e| e.to_string())?
        }
        None => Tree::new(),
    };
    let mut replayed = Vec::new();
    recovered.replay(|zxid, bytes| {
        let record = decode_txn(bytes).map_err(|e| format!("zxid {zxid:#x}: {e}"))?;
        tree.apply(&record);
        replayed.push(zxid);
        Ok::<(), String>(())
    })?;
    Ok(Recovered {
        tree,
        snapshot_zxid: recovered.snapshot_zxid(),
        replayed,
    })
}

/// The tree on disk, checked two ways: the whole-log replay and recovery
/// (snapshot + log) must agree record for record and tree for tree.
/// Returns the whole-log tree and the number of records.
pub fn on_disk_tree(data_dir: &Path) -> Result<(Tree, Vec<TxnRecord>), String> {
    let records = log_records(data_dir)?;
    let whole = apply_all(&records);
    let recovered = recover_dry(data_dir)?;
    let after: Vec<u64> = records
        .iter()
        .map(|r| r.header.zxid as u64)
        .filter(|&z| recovered.snapshot_zxid.is_none_or(|s| z > s))
        .collect();
    if recovered.replayed != after {
        return Err(format!(
            "recovery replayed {} records after snapshot {:?}, the log holds {} after it",
            recovered.replayed.len(),
            recovered.snapshot_zxid,
            after.len()
        ));
    }
    if let Some(difference) = tree_difference(&recovered.tree, &whole) {
        return Err(format!(
            "snapshot {:?} + log differs from the whole-log replay: {difference}",
            recovered.snapshot_zxid
        ));
    }
    Ok((whole, records))
}

/// The first difference between two trees through their public API
/// (every node's data, ACL, kind, stored and visible Stat, children in
/// order; sessions, counters, last zxid), or `None`.
pub fn tree_difference(a: &Tree, b: &Tree) -> Option<String> {
    let summary = |t: &Tree| {
        (
            t.last_zxid(),
            t.node_count(),
            t.approximate_data_size(),
            t.ephemeral_count(),
            t.sessions().collect::<Vec<_>>(),
            t.sessions_with_ephemerals(),
        )
    };
    if summary(a) != summary(b) {
        return Some(format!("{:?} vs {:?}", summary(a), summary(b)));
    }
    let mut stack = vec!["/".to_string()];
    while let Some(path) = stack.pop() {
        let (Some(x), Some(y)) = (a.node(&path), b.node(&path)) else {
            return Some(format!("{path} is in only one"));
        };
        let same = x.data() == y.data()
            && x.acl == y.acl
            && x.kind() == y.kind()
            && x.stat() == y.stat()
            && x.client_stat() == y.client_stat()
            && x.children() == y.children();
        if !same {
            return Some(format!("{path}: {x:?} vs {y:?}"));
        }
        stack.extend(x.children().iter().map(|c| child_path(&path, c)));
    }
    None
}

fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// Compares every node the server serves (path, data, Stat, children)
/// with `expected`, walking both from "/". Returns the number of nodes
/// compared, or the first difference.
pub fn compare_served(client: &mut Client, expected: &Tree) -> Result<usize, String> {
    let mut stack = vec!["/".to_string()];
    let mut compared = 0;
    while let Some(path) = stack.pop() {
        let node = expected
            .node(&path)
            .ok_or_else(|| format!("{path}: served but not in the replay"))?;
        let (header, response) = client.call(&get(&path, false));
        let Response::GetData(data, stat) = response else {
            return Err(format!(
                "{path}: in the replay, served error {}",
                header.err
            ));
        };
        if data.as_bytes().map(|b| &b[..]) != node.data() {
            return Err(format!("{path}: served data differs from the replay"));
        }
        if stat != node.client_stat() {
            return Err(format!(
                "{path}: served stat {stat:?}, replay {:?}",
                node.client_stat()
            ));
        }
        let (_, response) = client.call(&Request::GetChildren(PathWatchRequest {
            path: path.clone(),
            watch: false,
        }));
        let Response::GetChildren(children) = response else {
            return Err(format!("{path}: getChildren failed: {response:?}"));
        };
        let served: BTreeSet<String> = children.into_iter().collect();
        let replayed: BTreeSet<String> = node.children().into_iter().collect();
        if served != replayed {
            return Err(format!(
                "{path}: served children {served:?}, replay {replayed:?}"
            ));
        }
        stack.extend(served.iter().map(|c| child_path(&path, c)));
        compared += 1;
    }
    Ok(compared)
}

/// The restarted server, before any client writes, serves exactly the tree
/// the on-disk log replays to, at the same zxid. Returns the node count.
pub fn served_matches_replay(port: u16, expected: &Tree) -> usize {
    let srvr = four_letter(port, "srvr").unwrap();
    let zxid = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: 0x"))
        .and_then(|hex| i64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or_else(|| panic!("no zxid in srvr: {srvr}"));
    assert_eq!(zxid, expected.last_zxid(), "served zxid vs the replay's");
    let mut client = Client::connect(port);
    compare_served(&mut client, expected).unwrap_or_else(|e| panic!("served tree vs replay: {e}"))
}

/// A tmpfs of a few MiB, unmounted on drop. `None` (with a loud message)
/// when mounting is not permitted here (not root, or no CAP_SYS_ADMIN).
pub struct SmallFs {
    pub dir: tempfile::TempDir,
}

impl SmallFs {
    pub fn mount(mib: u64) -> Option<SmallFs> {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::piped())
            .output();
        match status {
            Ok(out) if out.status.success() => Some(SmallFs { dir }),
            Ok(out) => {
                eprintln!(
                    "!!!!! SKIPPED: cannot mount a {mib} MiB tmpfs ({}); run as root to test a full disk !!!!!",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!(
                    "!!!!! SKIPPED: cannot run mount ({e}); run as root to test a full disk !!!!!"
                );
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes still free.
    pub fn free(&self) -> u64 {
        let c = std::ffi::CString::new(self.path().as_os_str().as_encoded_bytes()).unwrap();
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid C string and a zeroed out-parameter.
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
        s.f_bavail as u64 * s.f_frsize as u64
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
