//! Start-up environment checks, run before any executor is built.
//!
//! Glommio needs io_uring and locked memory; when either is missing it fails
//! deep inside executor start-up with an error that does not say what to
//! change. [`check_environment`] finds those problems first and guarantees
//! that each one is reported as one message saying what is missing and how
//! to fix it (sysctl, `ulimit -l`, systemd `LimitMEMLOCK=`, container
//! seccomp). Where it can fix the problem itself without privileges (raising
//! the soft RLIMIT_MEMLOCK up to the hard limit) it does so.

use std::io;

/// Glommio refuses to start an executor below this RLIMIT_MEMLOCK.
pub const GLOMMIO_MIN_MEMLOCK_BYTES: u64 = 512 * 1024;

/// Glommio registers each executor's I/O memory with its three rings
/// (main, latency, poll); the kernel charges every registration.
pub const RINGS_PER_EXECUTOR: u64 = 3;

/// Linux capability that exempts a process from memlock accounting.
const CAP_IPC_LOCK: u32 = 14;

/// What is missing from the environment.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("{}", io_uring_message(*.errno, *.io_uring_disabled))]
    IoUring {
        /// errno from io_uring_setup(2).
        errno: i32,
        /// `/proc/sys/kernel/io_uring_disabled`, if the kernel has it.
        io_uring_disabled: Option<u8>,
    },
    #[error("{}", memlock_message(*.soft_bytes, *.hard_bytes, *.needed_bytes))]
    Memlock {
        soft_bytes: u64,
        hard_bytes: u64,
        needed_bytes: u64,
    },
    #[error("cannot {action} RLIMIT_MEMLOCK: {source}")]
    Rlimit {
        action: &'static str,
        source: io::Error,
    },
}

/// Locked memory the executors need: each executor's `io_memory` buffer is
/// registered with [`RINGS_PER_EXECUTOR`] rings, and glommio's own minimum
/// applies regardless.
pub fn memlock_needed_bytes(io_memory_bytes: usize, executors: usize) -> u64 {
    let per_executor = (io_memory_bytes as u64).max(65_536) * RINGS_PER_EXECUTOR;
    (per_executor * executors as u64).max(GLOMMIO_MIN_MEMLOCK_BYTES)
}

/// Checks io_uring and RLIMIT_MEMLOCK for `executors` glommio executors
/// with `io_memory_bytes` each; raises the soft memlock limit to the hard
/// limit when that helps.
///
/// Fails where glommio could not start (io_uring blocked, or less locked
/// memory than glommio's minimum). Where glommio starts but cannot register
/// its I/O buffers (it then skips registration and runs slower), returns a
/// warning for the caller to log.
pub fn check_environment(
    io_memory_bytes: usize,
    executors: usize,
) -> Result<Option<String>, PreflightError> {
    probe_io_uring()?;
    let needed = memlock_needed_bytes(io_memory_bytes, executors);
    ensure_memlock(needed, has_capability(CAP_IPC_LOCK))
}

/// Sets up (and closes) a one-entry ring with the raw syscall.
pub fn probe_io_uring() -> Result<(), PreflightError> {
    // io_uring_params is 120 bytes; zero means "no flags, kernel defaults".
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup reads/writes `params` (a zeroed io_uring_params
    // sized buffer) and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
    if fd < 0 {
        return Err(PreflightError::IoUring {
            errno: io::Error::last_os_error().raw_os_error().unwrap_or(0),
            io_uring_disabled: read_io_uring_disabled(),
        });
    }
    // SAFETY: `fd` is the ring fd we just opened and own.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

fn read_io_uring_disabled() -> Option<u8> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What to do about RLIMIT_MEMLOCK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemlockPlan {
    /// Enough already (or exempt through CAP_IPC_LOCK).
    Enough,
    /// Raise the soft limit to the hard limit, which is enough.
    RaiseSoftToHard,
    /// Raise the soft limit to the hard limit: glommio starts, but cannot
    /// register its I/O buffers.
    Degraded,
    /// Below glommio's own minimum even at the hard limit: it cannot start.
    TooLow,
}

/// Pure decision (limits as `u64`, `u64::MAX` = unlimited).
pub fn memlock_plan(soft: u64, hard: u64, needed: u64, exempt: bool) -> MemlockPlan {
    // Glommio checks its minimum itself, capability or not.
    let needed = if exempt {
        GLOMMIO_MIN_MEMLOCK_BYTES
    } else {
        needed
    };
    if soft >= needed {
        MemlockPlan::Enough
    } else if hard >= needed {
        MemlockPlan::RaiseSoftToHard
    } else if hard >= GLOMMIO_MIN_MEMLOCK_BYTES {
        MemlockPlan::Degraded
    } else {
        MemlockPlan::TooLow
    }
}

fn ensure_memlock(needed: u64, exempt: bool) -> Result<Option<String>, PreflightError> {
    let (soft, hard) = memlock_limits()?;
    match memlock_plan(soft, hard, needed, exempt) {
        MemlockPlan::Enough => Ok(None),
        MemlockPlan::RaiseSoftToHard => set_memlock_soft(hard).map(|()| None),
        MemlockPlan::Degraded => {
            set_memlock_soft(hard)?;
            Ok(Some(memlock_warning(hard, needed)))
        }
        MemlockPlan::TooLow => Err(PreflightError::Memlock {
            soft_bytes: soft,
            hard_bytes: hard,
            needed_bytes: GLOMMIO_MIN_MEMLOCK_BYTES,
        }),
    }
}

#[allow(clippy::unnecessary_cast)] // rlim_t is 32-bit on some targets
fn to_u64(v: libc::rlim_t) -> u64 {
    if v == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        v as u64
    }
}

/// Current (soft, hard) RLIMIT_MEMLOCK in bytes; `u64::MAX` = unlimited.
pub fn memlock_limits() -> Result<(u64, u64), PreflightError> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return Err(PreflightError::Rlimit {
            action: "read",
            source: io::Error::last_os_error(),
        });
    }
    Ok((to_u64(lim.rlim_cur), to_u64(lim.rlim_max)))
}

fn set_memlock_soft(hard: u64) -> Result<(), PreflightError> {
    let v = if hard == u64::MAX {
        libc::RLIM_INFINITY
    } else {
        hard as libc::rlim_t
    };
    let lim = libc::rlimit {
        rlim_cur: v,
        rlim_max: v,
    };
    // SAFETY: `lim` is a valid rlimit; lowering nothing, raising soft only.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) } != 0 {
        return Err(PreflightError::Rlimit {
            action: "raise",
            source: io::Error::last_os_error(),
        });
    }
    tracing::info!(
        bytes = hard,
        "raised the soft RLIMIT_MEMLOCK to the hard limit"
    );
    Ok(())
}

/// Whether the effective capability set (`CapEff` in /proc/self/status)
/// holds capability number `cap`.
fn has_capability(cap: u32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|bits| bits & (1 << cap) != 0)
}

fn human(bytes: u64) -> String {
    if bytes == u64::MAX {
        "unlimited".into()
    } else if bytes >= 1 << 20 {
        format!("{} MiB", bytes.div_ceil(1 << 20))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// Message for a failed io_uring_setup(2).
pub fn io_uring_message(errno: i32, disabled: Option<u8>) -> String {
    let head = format!(
        "io_uring is not usable: io_uring_setup(2) failed with {} (errno {errno}). ",
        io::Error::from_raw_os_error(errno)
    );
    let seccomp = "In a container, a seccomp profile may block the io_uring syscalls \
        (Docker's default profile does since 25.0): run with \
        `--security-opt seccomp=<profile allowing io_uring_setup, io_uring_enter, \
        io_uring_register>` or `--security-opt seccomp=unconfined`.";
    let fix = match (errno, disabled) {
        (libc::EPERM, Some(d)) if d > 0 => format!(
            "The kernel has io_uring switched off (kernel.io_uring_disabled = {d}; \
             1 allows only members of kernel.io_uring_group, 2 allows no one): run \
             `sysctl -w kernel.io_uring_disabled=0` and persist it in /etc/sysctl.d/."
        ),
        (libc::EPERM, _) => format!("Something denies it to this process. {seccomp}"),
        (libc::ENOSYS, _) => format!(
            "The kernel is older than 5.1 or built without CONFIG_IO_URING (Warden \
             needs Linux 5.8 or newer), or the syscall is filtered. {seccomp}"
        ),
        (libc::ENOMEM, _) => "Kernels before 5.12 charge io_uring rings to \
             RLIMIT_MEMLOCK: raise it (`ulimit -l unlimited`, systemd \
             `LimitMEMLOCK=infinity`, docker `--ulimit memlock=-1`)."
            .to_string(),
        _ => format!("Check the kernel version (5.8 or newer) and sandboxing. {seccomp}"),
    };
    head + &fix
}

/// Message for an RLIMIT_MEMLOCK that is too low even at the hard limit.
pub fn memlock_message(soft: u64, hard: u64, needed: u64) -> String {
    format!(
        "locked-memory limit too low: the executors need {} of RLIMIT_MEMLOCK but \
         the soft limit is {} and the hard limit is {}. Raise it: `ulimit -l {}` \
         (or `unlimited`) in the starting shell, `LimitMEMLOCK=infinity` in the \
         systemd unit, `memlock` in /etc/security/limits.conf, or docker \
         `--ulimit memlock=-1`; alternatively grant CAP_IPC_LOCK, or lower \
         `shards`.",
        human(needed),
        human(soft),
        human(hard),
        needed.div_ceil(1024)
    )
}

/// Why I/O runs slower than it could, and how to fix it.
pub fn memlock_warning(limit: u64, needed: u64) -> String {
    format!(
        "locked-memory limit {} is below the {} the executors' io_uring buffers need: \
         they are not registered with the kernel and I/O is slower. Raise it: \
         `ulimit -l {}` (or `unlimited`), `LimitMEMLOCK=infinity` in the systemd \
         unit, or grant CAP_IPC_LOCK.",
        human(limit),
        human(needed),
        needed.div_ceil(1024)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_uring_works_on_this_machine() {
        probe_io_uring().expect("io_uring should be available here");
    }

    #[test]
    fn check_environment_passes_here() {
        // One small executor fits any sane limit; raising soft to hard is
        // harmless for the test process.
        check_environment(64 * 1024, 1).unwrap();
    }

    #[test]
    fn limits_are_readable() {
        let (soft, hard) = memlock_limits().unwrap();
        assert!(soft <= hard);
    }

    #[test]
    fn needed_bytes() {
        assert_eq!(memlock_needed_bytes(10 << 20, 3), 90 << 20);
        assert_eq!(memlock_needed_bytes(0, 1), GLOMMIO_MIN_MEMLOCK_BYTES);
        assert_eq!(memlock_needed_bytes(1 << 20, 2), 6 << 20);
    }

    #[test]
    fn plan() {
        let mib = 1 << 20;
        assert_eq!(
            memlock_plan(8 * mib, 8 * mib, 6 * mib, false),
            MemlockPlan::Enough
        );
        assert_eq!(
            memlock_plan(8 * mib, u64::MAX, 90 * mib, false),
            MemlockPlan::RaiseSoftToHard
        );
        assert_eq!(
            memlock_plan(8 * mib, 8 * mib, 90 * mib, false),
            MemlockPlan::Degraded
        );
        assert_eq!(
            memlock_plan(64 * 1024, 64 * 1024, 90 * mib, false),
            MemlockPlan::TooLow
        );
        assert!(memlock_warning(8 * mib, 90 * mib).contains("ulimit -l 92160"));
        assert_eq!(
            memlock_plan(8 * mib, 8 * mib, 90 * mib, true),
            MemlockPlan::Enough
        );
        assert_eq!(
            memlock_plan(64 * 1024, 64 * 1024, 90 * mib, true),
            MemlockPlan::TooLow
        );
    }

    #[test]
    fn memlock_message_says_how_to_fix() {
        let e = PreflightError::Memlock {
            soft_bytes: 8 << 20,
            hard_bytes: 8 << 20,
            needed_bytes: 90 << 20,
        };
        let m = e.to_string();
        assert!(m.contains("need 90 MiB"), "{m}");
        assert!(m.contains("soft limit is 8 MiB"), "{m}");
        assert!(m.contains("ulimit -l 92160"), "{m}");
        assert!(m.contains("LimitMEMLOCK=infinity"), "{m}");
        assert!(m.contains("--ulimit memlock=-1"), "{m}");
        assert!(memlock_message(1024, u64::MAX, 2048).contains("hard limit is unlimited"));
    }

    #[test]
    fn io_uring_messages_say_how_to_fix() {
        let disabled = io_uring_message(libc::EPERM, Some(2));
        assert!(
            disabled.contains("sysctl -w kernel.io_uring_disabled=0"),
            "{disabled}"
        );
        assert!(disabled.contains("io_uring_disabled = 2"), "{disabled}");
        let seccomp = io_uring_message(libc::EPERM, Some(0));
        assert!(seccomp.contains("--security-opt seccomp="), "{seccomp}");
        let old = io_uring_message(libc::ENOSYS, None);
        assert!(old.contains("5.8"), "{old}");
        assert!(old.contains("seccomp"), "{old}");
        let mem = io_uring_message(libc::ENOMEM, Some(0));
        assert!(mem.contains("ulimit -l"), "{mem}");
        let e = PreflightError::IoUring {
            errno: libc::EPERM,
            io_uring_disabled: Some(1),
        };
        assert!(e.to_string().starts_with("io_uring is not usable"));
        assert!(e.to_string().contains("errno 1"));
    }
}
