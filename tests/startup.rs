//! Start-up behaviour of the `warden` binary: configuration errors, a
//! missing locked-memory allowance, a busy port, the four-letter-word
//! whitelist, the `forceSync=no` warning and a corrupt txn log. Each case
//! runs the real binary.

mod support;

use std::process::Command;
use std::time::Duration;
use support::{create, four_letter, set, Client, Server};
use warden_storage::log::frame::{read_frame, Frame, HEADER_LEN};

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

fn write_config(dir: &tempfile::TempDir, body: &str) -> std::path::PathBuf {
    let path = dir.path().join("zoo.cfg");
    std::fs::write(&path, format!("dataDir={}\n{body}", dir.path().display())).unwrap();
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `warden server --config <config>` to its exit.
fn run_to_exit(config: &std::path::Path) -> std::process::Output {
    warden()
        .arg("server")
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn an_invalid_value_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, "clientPort=2181\ntickTime=soon\n");
    let out = run_to_exit(&config);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tickTime") && stderr.contains("soon"),
        "{stderr}"
    );
}

#[test]
fn too_little_locked_memory_stops_start_up_saying_how_to_fix_it() {
    // Needs root to drop CAP_IPC_LOCK (CI runs as root).
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, &format!("clientPort={}\n", free_port()));
    let script = format!(
        "ulimit -l 64; exec {} server --config {}",
        env!("CARGO_BIN_EXE_warden"),
        config.display()
    );
    let out = Command::new("capsh")
        .args(["--drop=cap_ipc_lock", "--", "-c", &script])
        .output()
        .expect("capsh (Debian package libcap2-bin) runs this test");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("locked-memory limit too low"), "{stderr}");
    assert!(
        stderr.contains("ulimit -l") && stderr.contains("LimitMEMLOCK"),
        "{stderr}"
    );
}

#[test]
fn a_busy_client_port_stops_start_up() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        &dir,
        &format!("clientPort={port}\nclientPortAddress=127.0.0.1\n"),
    );
    let out = run_to_exit(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn four_letter_words_outside_the_whitelist_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        &dir,
        &format!(
            "clientPort={port}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=srvr, mntr\n"
        ),
    );
    let mut child = warden()
        .arg("server")
        .arg("--config")
        .arg(&config)
        .spawn()
        .unwrap();
    let mut srvr = String::new();
    for _ in 0..200 {
        if let Ok(text) = four_letter(port, "srvr") {
            srvr = text;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ruok = four_letter(port, "ruok").unwrap();
    let mntr = four_letter(port, "mntr").unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    assert!(mntr.contains("zk_server_state\tstandalone"), "{mntr}");
    assert_eq!(
        ruok,
        "ruok is not executed because it is not in the whitelist.\n"
    );
}

/// Installs a seccomp filter in the child that makes io_uring_setup(2) fail
/// with EPERM, as container runtimes' default profiles do.
fn block_io_uring(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    const IO_URING_SETUP: u32 = 425;
    let filter = [
        // load the syscall number
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 0,
        },
        // if it is io_uring_setup, fall through to EPERM; else skip to ALLOW
        libc::sock_filter {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: IO_URING_SETUP,
        },
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x0005_0000 | libc::EPERM as u32,
        },
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        },
    ];
    unsafe {
        command.pre_exec(move || {
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut _,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &program as *const _,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn blocked_io_uring_stops_start_up_saying_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, &format!("clientPort={}\n", free_port()));
    let mut command = warden();
    command.arg("server").arg("--config").arg(&config);
    block_io_uring(&mut command);
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("io_uring"), "{stderr}");
    assert!(
        stderr.contains("seccomp") || stderr.contains("io_uring_disabled"),
        "{stderr}"
    );
}

#[test]
fn force_sync_off_warns_loudly_at_start() {
    let server = Server::start(1, "forceSync=no\n");
    let log = server.log();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("forceSync=no")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(
        warnings[0].contains("WARN") && warnings[0].contains("NOT synced"),
        "{}",
        warnings[0]
    );
    let synced = Server::start(1, "");
    assert!(!synced.log().contains("NOT synced"), "{}", synced.log());
}

/// Offsets of the records of a log file.
fn frame_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut pos = HEADER_LEN;
    while let Frame::Record { next, .. } = read_frame(bytes, pos, 8 << 20) {
        offsets.push(pos);
        pos = next;
    }
    offsets
}

#[test]
fn corruption_before_valid_records_refuses_start_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), 1, "");
    let mut client = Client::connect(server.port);
    assert_eq!(client.call(&create("/c", b"0", 0)).0.err, 0);
    for n in 0..20 {
        assert_eq!(
            client
                .call(&set("/c", format!("value {n}").as_bytes()))
                .0
                .err,
            0
        );
    }
    server.kill();
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("version-2"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("log."))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let mut bytes = std::fs::read(&logs[0]).unwrap();
    let offsets = frame_offsets(&bytes);
    assert!(offsets.len() > 20, "{} records", offsets.len());
    let victim = offsets[offsets.len() / 2];
    bytes[victim + 20] ^= 0x10;
    std::fs::write(&logs[0], &bytes).unwrap();
    let out = run_to_exit(&dir.path().join("zoo.cfg"));
    assert!(!out.status.success(), "started on a corrupt log");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = logs[0].file_name().unwrap().to_str().unwrap();
    assert!(
        stderr.contains(name) && stderr.contains(&format!("offset {victim}")),
        "names file and offset: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(&logs[0]).unwrap(),
        bytes,
        "nothing cut from a log it refused"
    );
}
