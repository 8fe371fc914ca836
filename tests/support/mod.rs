//! Test support: start a real `warden` process on a free port and talk to it
//! with a small blocking client built on Warden's own codec.

#![allow(dead_code)]

mod client;
pub mod disk;
pub mod ledger;

// Not every test uses both.
#[allow(unused_imports)]
pub use client::{Client, Frame};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use warden::proto::requests::Request;
use warden::proto::types::OpCode;

/// create2 with `flags` (0 persistent, 1 ephemeral, ...), open ACL.
pub fn create(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create(
        OpCode::Create2,
        warden::proto::requests::CreateRequest {
            path: path.to_string(),
            data: warden::proto::types::NodeData::copy_from_slice(data),
            acl: warden::proto::types::Acl::open_unsafe(),
            flags,
            ttl: None,
        },
    )
}

pub fn get(path: &str, watch: bool) -> Request {
    Request::GetData(warden::proto::requests::PathWatchRequest {
        path: path.to_string(),
        watch,
    })
}

/// setData of any version.
pub fn set(path: &str, data: &[u8]) -> Request {
    Request::SetData(warden::proto::requests::SetDataRequest {
        path: path.to_string(),
        data: warden::proto::types::NodeData::copy_from_slice(data),
        version: -1,
    })
}

pub fn exists(path: &str, watch: bool) -> Request {
    Request::Exists(warden::proto::requests::PathWatchRequest {
        path: path.to_string(),
        watch,
    })
}

/// `digest` ids as ZooKeeper's DigestAuthenticationProvider writes them
/// (`user:base64(sha1("user:password"))`), computed here independently of
/// Warden's code.
pub fn digest(user: &str, password: &str) -> String {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{user}:{encoded}")
}

/// One ACL entry.
pub fn acl_entry(perms: i32, scheme: &str, id: &str) -> warden::proto::types::Acl {
    warden::proto::types::Acl {
        perms,
        id: warden::proto::types::Id::new(scheme, id),
    }
}

/// An ACL as `[scheme:id=perms,...]`, for transcripts and messages.
pub fn show_acl(acl: &[warden::proto::types::Acl]) -> String {
    let parts: Vec<String> = acl
        .iter()
        .map(|a| format!("{}:{}={}", a.id.scheme, a.id.id, a.perms))
        .collect();
    format!("[{}]", parts.join(","))
}

/// A create under any of the four create opcodes, with an explicit ACL;
/// `ttl` is sent only with createTTL.
pub fn create_as(
    op: OpCode,
    path: &str,
    acl: Vec<warden::proto::types::Acl>,
    flags: i32,
    ttl: Option<i64>,
) -> Request {
    Request::Create(
        op,
        warden::proto::requests::CreateRequest {
            path: path.to_string(),
            data: warden::proto::types::NodeData::copy_from_slice(b"d"),
            acl,
            flags,
            ttl,
        },
    )
}

pub fn delete(path: &str, version: i32) -> Request {
    Request::Delete(warden::proto::requests::DeleteRequest {
        path: path.to_string(),
        version,
    })
}

pub fn set_acl(path: &str, acl: Vec<warden::proto::types::Acl>, version: i32) -> Request {
    Request::SetAcl(warden::proto::requests::SetAclRequest {
        path: path.to_string(),
        acl,
        version,
    })
}

/// An `addauth` packet.
pub fn auth(scheme: &str, credentials: &[u8]) -> Request {
    Request::Auth(warden::proto::requests::AuthPacket {
        auth_type: 0,
        scheme: scheme.to_string(),
        auth: bytes::Bytes::copy_from_slice(credentials),
    })
}

/// setWatches (opcode 101) or, with `v2`, setWatches2 (105).
pub fn set_watches(v2: bool, relative_zxid: i64, data: &[&str], persistent: &[&str]) -> Request {
    let owned = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect();
    let body = warden::proto::requests::SetWatchesRequest {
        relative_zxid,
        data_watches: owned(data),
        persistent_watches: owned(persistent),
        ..Default::default()
    };
    if v2 {
        Request::SetWatches2(body)
    } else {
        Request::SetWatches(body)
    }
}

/// A Warden server process, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
    _owned: Option<tempfile::TempDir>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts Warden with `shards` shards and extra zoo.cfg lines.
    pub fn start(shards: usize, extra: &str) -> Server {
        let owned = tempfile::tempdir().unwrap();
        let mut server = Server::start_in(owned.path(), shards, extra);
        server._owned = Some(owned);
        server
    }

    /// Starts Warden on an existing data directory (for restarts).
    pub fn start_in(dir: &std::path::Path, shards: usize, extra: &str) -> Server {
        Server::start_at(dir, dir, shards, extra)
    }

    /// Starts Warden with its zoo.cfg and log in `dir` and its data in
    /// `data_dir` (e.g. a small file system that fills up).
    pub fn start_at(
        dir: &std::path::Path,
        data_dir: &std::path::Path,
        shards: usize,
        extra: &str,
    ) -> Server {
        let port = free_port();
        let config = format!(
            "tickTime=200\npreAllocSize=1024\nclientPort={port}\nclientPortAddress=127.0.0.1\ndataDir={}\n\
             4lw.commands.whitelist=*\nextendedTypesEnabled=true\nshards={shards}\n{extra}\n",
            data_dir.display()
        );
        let config_path = dir.join("zoo.cfg");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("warden.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("server")
            .arg("--config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Server {
            child,
            port,
            dir: dir.to_path_buf(),
            _owned: None,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(text) = four_letter(self.port, "ruok") {
                if text == "imok" {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("warden did not start; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("warden.log")).unwrap_or_default()
    }
}

impl Server {
    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a four-letter word and returns the whole answer.
pub fn four_letter(port: u16, word: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(word.as_bytes())?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}
