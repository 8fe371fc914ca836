//! Purge: ZooKeeper's `autopurge.snapRetainCount`.
//!
//! Keeps the `retain` newest snapshots (at least [`MIN_SNAP_RETAIN`]) and
//! every log file needed to replay from the oldest kept one: the newest log
//! named at or before that snapshot's zxid and all later logs. Everything
//! older goes. [`plan_purge`] is the pure decision; [`purge`] applies it (for
//! the periodic `autopurge.purgeInterval` task and `warden purge`).
//!
//! Guarantee: after a purge, recovery from any kept snapshot finds every
//! log record after it. Snapshots are not verified here (as in ZooKeeper):
//! keeping at least three is what protects against a corrupt newest one.

use crate::fsutil::{self, io_err, IoError};
use crate::snapshot;
use crate::Zxid;
use std::fs;
use std::path::{Path, PathBuf};

/// ZooKeeper's floor for `autopurge.snapRetainCount`.
pub const MIN_SNAP_RETAIN: usize = 3;

/// What a purge removes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgePlan {
    pub snapshots: Vec<PathBuf>,
    pub logs: Vec<PathBuf>,
    /// The retain count actually used (raised to the minimum if needed).
    pub retain: usize,
}

/// Decides what to remove; inputs are `(zxid, path)` lists in any order.
pub fn plan_purge(
    snapshots: &[(Zxid, PathBuf)],
    logs: &[(Zxid, PathBuf)],
    retain: usize,
) -> PurgePlan {
    let retain = retain.max(MIN_SNAP_RETAIN);
    let mut snapshots = snapshots.to_vec();
    let mut logs = logs.to_vec();
    snapshots.sort();
    logs.sort();
    if snapshots.len() <= retain {
        return PurgePlan {
            retain,
            ..PurgePlan::default()
        };
    }
    let oldest_kept = snapshots[snapshots.len() - retain].0;
    let old_snapshots = snapshots[..snapshots.len() - retain]
        .iter()
        .map(|(_, p)| p.clone())
        .collect();
    // The newest log at or before the oldest kept snapshot holds the
    // records right after it; it and every later log stay.
    let keep_from = logs
        .iter()
        .rposition(|(z, _)| *z <= oldest_kept)
        .unwrap_or(0);
    let old_logs = logs[..keep_from].iter().map(|(_, p)| p.clone()).collect();
    PurgePlan {
        snapshots: old_snapshots,
        logs: old_logs,
        retain,
    }
}

/// Removes what [`plan_purge`] decides, then fsyncs the directories.
pub fn purge(data_dir: &Path, data_log_dir: &Path, retain: usize) -> Result<PurgePlan, IoError> {
    if retain < MIN_SNAP_RETAIN {
        tracing::warn!(
            retain,
            min = MIN_SNAP_RETAIN,
            "snapRetainCount below the minimum; using the minimum"
        );
    }
    let snapshots = snapshot::list_snapshots(data_dir)?;
    let log_dir = fsutil::version_dir(data_log_dir);
    let logs = fsutil::list_zxid_files(&log_dir, "log").map_err(io_err(&log_dir, "list"))?;
    let plan = plan_purge(&snapshots, &logs, retain);
    for path in plan.snapshots.iter().chain(&plan.logs) {
        tracing::info!(file = %path.display(), "purging");
        fs::remove_file(path).map_err(io_err(path, "remove"))?;
    }
    if !plan.snapshots.is_empty() {
        let dir = snapshot::snapshot_dir(data_dir);
        fsutil::fsync_dir(&dir).map_err(io_err(&dir, "fsync directory"))?;
    }
    if !plan.logs.is_empty() {
        fsutil::fsync_dir(&log_dir).map_err(io_err(&log_dir, "fsync directory"))?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(prefix: &str, zxids: &[Zxid]) -> Vec<(Zxid, PathBuf)> {
        zxids
            .iter()
            .map(|&z| (z, PathBuf::from(format!("{prefix}.{z:x}"))))
            .collect()
    }

    fn names(paths: &[PathBuf]) -> Vec<String> {
        paths.iter().map(|p| p.display().to_string()).collect()
    }

    #[test]
    fn keeps_retained_snapshots_and_the_logs_to_replay_them() {
        let snaps = named("snapshot", &[0x10, 0x30, 0x50, 0x70, 0x90]);
        let logs = named("log", &[0x1, 0x20, 0x40, 0x60, 0x80]);
        let plan = plan_purge(&snaps, &logs, 3);
        // Oldest kept snapshot 0x50: log.40 holds 0x51.., so it stays.
        assert_eq!(names(&plan.snapshots), ["snapshot.10", "snapshot.30"]);
        assert_eq!(names(&plan.logs), ["log.1", "log.20"]);
    }

    #[test]
    fn a_log_starting_exactly_after_the_snapshot_is_enough() {
        let snaps = named("snapshot", &[0x10, 0x20, 0x30, 0x40]);
        let logs = named("log", &[0x1, 0x11, 0x21, 0x31]);
        let plan = plan_purge(&snaps, &logs, 3);
        // Oldest kept 0x20: log.11 holds 0x20 and 0x21.. is in log.21; log.11 is the newest <= 0x20.
        assert_eq!(names(&plan.snapshots), ["snapshot.10"]);
        assert_eq!(names(&plan.logs), ["log.1"]);
    }

    #[test]
    fn retain_is_at_least_three_and_few_snapshots_purge_nothing() {
        let snaps = named("snapshot", &[1, 2, 3]);
        let logs = named("log", &[1, 2, 3]);
        let plan = plan_purge(&snaps, &logs, 1);
        assert_eq!(
            plan,
            PurgePlan {
                retain: 3,
                ..PurgePlan::default()
            }
        );
    }
}
