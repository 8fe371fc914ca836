//! Test support: start a real `warden` process on a free port and talk to it
//! with a small blocking client built on Warden's own codec.

#![allow(dead_code)]

pub mod disk;
pub mod ledger;

use bytes::{Buf, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use warden::proto::client::{decode_reply, encode_request, request_opcode};
use warden::proto::connect::{
    decode_connect_response, encode_connect_request, ConnectRequest, ConnectResponse,
};
use warden::proto::frame::next_frame;
use warden::proto::requests::{Request, RequestHeader};
use warden::proto::responses::{ReplyHeader, Response};
use warden::proto::types::{OpCode, WatcherEvent};

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

/// A frame from the server, decoded.
#[derive(Debug)]
pub enum Frame {
    Reply(ReplyHeader, Response),
    Event(WatcherEvent),
}

/// A blocking ZooKeeper-protocol client.
pub struct Client {
    stream: TcpStream,
    buffer: BytesMut,
    next_xid: i32,
    in_flight: HashMap<i32, OpCode>,
    pub events: VecDeque<WatcherEvent>,
    replies: VecDeque<(ReplyHeader, Response)>,
    /// Every frame in arrival order, for ordering assertions.
    pub arrivals: Vec<String>,
    pub session: ConnectResponse,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        Client::connect_with(port, 0, &[0; 16], 10_000).expect("session established")
    }

    /// Connects with a fresh session; `None` if the server is not there.
    pub fn try_connect(port: u16) -> Option<Client> {
        Client::connect_with(port, 0, &[0; 16], 10_000)
    }

    /// Sends a request and waits for its reply; `None` if the connection
    /// broke first (the server died).
    pub fn try_call(&mut self, request: &Request) -> Option<(ReplyHeader, Response)> {
        let op = request_opcode(request);
        let xid = self.next_xid;
        self.next_xid += 1;
        self.in_flight.insert(xid, op);
        let mut out = BytesMut::new();
        encode_request(&mut out, RequestHeader { xid, op: op as i32 }, request);
        self.stream.write_all(&out).ok()?;
        loop {
            match self.receive()? {
                Frame::Reply(header, response) if header.xid == xid => {
                    return Some((header, response))
                }
                Frame::Reply(header, response) => self.replies.push_back((header, response)),
                Frame::Event(event) => self.events.push_back(event),
            }
        }
    }

    /// Connects with a session id and password; `None` if the server refused.
    pub fn connect_with(
        port: u16,
        session_id: i64,
        passwd: &[u8],
        timeout_ms: i32,
    ) -> Option<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let mut client = Client {
            stream,
            buffer: BytesMut::new(),
            next_xid: 1,
            in_flight: HashMap::new(),
            events: VecDeque::new(),
            replies: VecDeque::new(),
            arrivals: Vec::new(),
            session: ConnectResponse {
                protocol_version: 0,
                timeout_ms: 0,
                session_id: 0,
                passwd: Default::default(),
                read_only: None,
            },
        };
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms,
            session_id,
            passwd: bytes::Bytes::copy_from_slice(passwd),
            read_only: Some(false),
        };
        let mut out = BytesMut::new();
        encode_connect_request(&mut out, &request);
        client.stream.write_all(&out).ok()?;
        let frame = client.read_frame()?;
        let response = decode_connect_response(&frame).ok()?;
        if response.timeout_ms <= 0 {
            return None;
        }
        client.session = response;
        Some(client)
    }

    pub fn session_id(&self) -> i64 {
        self.session.session_id
    }

    /// Raw bytes onto the socket.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    fn read_frame(&mut self) -> Option<bytes::Bytes> {
        loop {
            if let Some(frame) = next_frame(&mut self.buffer, 16 * 1024 * 1024).unwrap() {
                return Some(frame);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends a request without waiting; returns its xid.
    pub fn send(&mut self, request: &Request) -> i32 {
        let xid = match request {
            Request::Ping => -2,
            Request::Auth(_) => -4,
            Request::SetWatches(_) | Request::SetWatches2(_) => -8,
            _ => {
                let xid = self.next_xid;
                self.next_xid += 1;
                xid
            }
        };
        let op = request_opcode(request);
        self.in_flight.insert(xid, op);
        let mut out = BytesMut::new();
        encode_request(&mut out, RequestHeader { xid, op: op as i32 }, request);
        // A closed connection shows when the reply is awaited.
        let _ = self.stream.write_all(&out);
        xid
    }

    /// Reads one frame; `None` when the server closed the connection.
    pub fn receive(&mut self) -> Option<Frame> {
        self.receive_with_header().map(|(_, frame)| frame)
    }

    /// Reads one frame with its reply header (for an event, the header of
    /// the notification: xid -1 and the zxid the server sent it with).
    pub fn receive_with_header(&mut self) -> Option<(ReplyHeader, Frame)> {
        let frame = self.read_frame()?;
        let xid = (&frame[..4]).get_i32();
        let op = if xid == -1 {
            OpCode::Notification
        } else {
            self.in_flight
                .remove(&xid)
                .expect("a reply to a request we sent")
        };
        let (header, response) = decode_reply(op, &frame).unwrap();
        Some((
            header,
            match response {
                Response::Event(event) => {
                    self.arrivals
                        .push(format!("event {:?} {}", event.event_type, event.path));
                    Frame::Event(event)
                }
                response => {
                    self.arrivals.push(format!("reply {}", header.xid));
                    Frame::Reply(header, response)
                }
            },
        ))
    }

    /// Sends a request and waits for its reply, queueing events meanwhile.
    pub fn call(&mut self, request: &Request) -> (ReplyHeader, Response) {
        let xid = self.send(request);
        self.wait_reply(xid)
    }

    pub fn wait_reply(&mut self, xid: i32) -> (ReplyHeader, Response) {
        self.try_wait_reply(xid).expect("connection open")
    }

    /// Waits for the reply to `xid`; `None` if the server closed first.
    pub fn try_wait_reply(&mut self, xid: i32) -> Option<(ReplyHeader, Response)> {
        if let Some(i) = self.replies.iter().position(|(h, _)| h.xid == xid) {
            return self.replies.remove(i);
        }
        loop {
            match self.receive()? {
                Frame::Event(event) => self.events.push_back(event),
                Frame::Reply(header, response) if header.xid == xid => {
                    return Some((header, response))
                }
                Frame::Reply(header, response) => self.replies.push_back((header, response)),
            }
        }
    }

    /// Waits up to `timeout` for the next watch event.
    pub fn next_event(&mut self, timeout: Duration) -> Option<WatcherEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let frame = self.receive();
        self.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        match frame? {
            Frame::Event(event) => Some(event),
            Frame::Reply(header, response) => {
                self.replies.push_back((header, response));
                None
            }
        }
    }

    /// Raw bytes from the socket (blocking).
    pub fn read_raw(&mut self, buffer: &mut [u8]) -> usize {
        if !self.buffer.is_empty() {
            let n = buffer.len().min(self.buffer.len());
            buffer[..n].copy_from_slice(&self.buffer.split_to(n));
            return n;
        }
        self.stream.read(buffer).unwrap_or(0)
    }

    /// True when the server closes this connection within 5 s (EOF or a
    /// reset; a read that merely times out is an open connection).
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }
}
