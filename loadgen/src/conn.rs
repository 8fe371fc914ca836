//! One ZooKeeper session over a glommio TCP stream: the handshake, request
//! encoding with Warden's client codec, and frame splitting.

use bytes::{Buf, Bytes, BytesMut};
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;
use warden::proto::client::{decode_reply, encode_request, request_opcode};
use warden::proto::connect::{decode_connect_response, encode_connect_request, ConnectRequest};
use warden::proto::frame::next_frame;
use warden::proto::requests::{Request, RequestHeader};
use warden::proto::responses::{ReplyHeader, Response};
use warden::proto::types::{xid, ErrorCode, OpCode};
use warden::shard::flush::{send_nonblocking, Sent};

/// Largest reply frame accepted (jute.maxbuffer plus headers).
pub const MAX_FRAME: usize = 4 * 1024 * 1024;
const READ_CHUNK: usize = 64 * 1024;

/// The name under which a reply's error code is counted.
pub fn error_name(err: i32) -> String {
    match ErrorCode::from_i32(err) {
        Some(code) => format!("{code:?}"),
        None => format!("error {err}"),
    }
}

/// Why a connection ended.
#[derive(Debug)]
pub enum ConnError {
    Io(String),
    Closed,
    Timeout,
    Protocol(String),
    Refused,
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Io(e) => write!(f, "i/o error: {e}"),
            ConnError::Closed => write!(f, "server closed the connection"),
            ConnError::Timeout => write!(f, "no reply within the request timeout"),
            ConnError::Protocol(e) => write!(f, "protocol error: {e}"),
            ConnError::Refused => write!(f, "server refused the session"),
        }
    }
}

fn io_err(e: std::io::Error) -> ConnError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ConnError::Timeout,
        _ => ConnError::Io(e.to_string()),
    }
}

/// A session's session id from the handshake, and its stream.
pub struct Conn<S> {
    pub stream: S,
    pub rbuf: BytesMut,
    pub wbuf: BytesMut,
    next_xid: i32,
    pub session_id: i64,
    /// The session timeout the server granted, milliseconds.
    pub timeout_ms: i32,
    scratch: Vec<u8>,
}

/// Opens a TCP connection and establishes a new session.
pub async fn connect(
    addr: &str,
    session_timeout_ms: i32,
    io_timeout: Duration,
) -> Result<Conn<TcpStream>, ConnError> {
    let stream = TcpStream::connect_timeout(addr, io_timeout)
        .await
        .map_err(|e| io_err(e.into()))?;
    let setup = |r: glommio::Result<(), ()>| r.map_err(|e| io_err(e.into()));
    setup(stream.set_nodelay(true))?;
    setup(stream.set_read_timeout(Some(io_timeout)))?;
    setup(stream.set_write_timeout(Some(io_timeout)))?;
    let mut conn = Conn::new(stream);
    conn.handshake(session_timeout_ms).await?;
    Ok(conn)
}

impl<S> Conn<S> {
    pub fn new(stream: S) -> Conn<S> {
        Conn {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(READ_CHUNK),
            next_xid: 1,
            session_id: 0,
            timeout_ms: 0,
            scratch: vec![0; READ_CHUNK],
        }
    }

    /// Appends a request to the write buffer; returns its xid and opcode.
    pub fn push(&mut self, request: &Request) -> (i32, OpCode) {
        let op = request_opcode(request);
        let xid = match request {
            Request::Ping => xid::PING,
            _ => {
                let x = self.next_xid;
                self.next_xid = self.next_xid.wrapping_add(1).max(1);
                x
            }
        };
        encode_request(
            &mut self.wbuf,
            RequestHeader { xid, op: op as i32 },
            request,
        );
        (xid, op)
    }

    /// The next complete frame already buffered.
    pub fn buffered_frame(&mut self) -> Result<Option<Bytes>, ConnError> {
        next_frame(&mut self.rbuf, MAX_FRAME).map_err(|e| ConnError::Protocol(format!("{e:?}")))
    }
}

/// What a non-blocking read found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// This many bytes were appended to the read buffer.
    Bytes(usize),
    /// Nothing to read yet.
    Nothing,
}

/// Non-blocking I/O straight on the socket, for the open-loop pacing loop
/// (which polls readiness itself and must never wait inside a read or write).
impl<S: AsRawFd> Conn<S> {
    /// Appends what the socket holds (at most one chunk) to the read buffer.
    pub fn recv_nonblocking(&mut self) -> Result<Received, ConnError> {
        self.rbuf.reserve(READ_CHUNK);
        let spare = self.rbuf.spare_capacity_mut();
        let room = spare.len().min(READ_CHUNK);
        // SAFETY: the kernel writes at most `room` bytes into the buffer's
        // spare capacity, which is at least that large.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                spare.as_mut_ptr().cast(),
                room,
                libc::MSG_DONTWAIT,
            )
        };
        if n > 0 {
            let n = n as usize;
            // SAFETY: the kernel initialised these `n` bytes.
            unsafe { self.rbuf.set_len(self.rbuf.len() + n) };
            return Ok(Received::Bytes(n));
        }
        if n == 0 {
            return Err(ConnError::Closed);
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => {
                Ok(Received::Nothing)
            }
            _ => Err(io_err(e)),
        }
    }

    /// Hands as much of the write buffer to the kernel as it takes; true
    /// when nothing is left to send.
    pub fn send_buffered(&mut self) -> Result<bool, ConnError> {
        match send_nonblocking(self.stream.as_raw_fd(), &self.wbuf) {
            Sent::Bytes(n) if n == self.wbuf.len() => {
                // Keeps the allocation for the next requests.
                self.wbuf.clear();
                Ok(true)
            }
            Sent::Bytes(n) => {
                self.wbuf.advance(n);
                Ok(false)
            }
            Sent::WouldBlock => Ok(false),
            Sent::Failed => Err(io_err(std::io::Error::last_os_error())),
        }
    }
}

impl<S: AsyncWrite + Unpin> Conn<S> {
    /// Writes out the write buffer.
    pub async fn flush(&mut self) -> Result<(), ConnError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await.map_err(io_err)?;
            self.wbuf.clear();
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> Conn<S> {
    /// Reads at least one more chunk of bytes into the read buffer.
    pub async fn fill(&mut self) -> Result<(), ConnError> {
        let n = self.stream.read(&mut self.scratch).await.map_err(io_err)?;
        if n == 0 {
            return Err(ConnError::Closed);
        }
        self.rbuf.extend_from_slice(&self.scratch[..n]);
        Ok(())
    }

    pub async fn read_frame(&mut self) -> Result<Bytes, ConnError> {
        loop {
            if let Some(frame) = self.buffered_frame()? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn handshake(&mut self, session_timeout_ms: i32) -> Result<(), ConnError> {
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: session_timeout_ms,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
        };
        encode_connect_request(&mut self.wbuf, &request);
        self.flush().await?;
        let frame = self.read_frame().await?;
        let response =
            decode_connect_response(&frame).map_err(|e| ConnError::Protocol(format!("{e:?}")))?;
        if response.timeout_ms <= 0 {
            return Err(ConnError::Refused);
        }
        self.session_id = response.session_id;
        self.timeout_ms = response.timeout_ms;
        Ok(())
    }

    /// Sends one request and waits for its reply, skipping watch events.
    pub async fn call(&mut self, request: &Request) -> Result<(ReplyHeader, Response), ConnError> {
        let (x, op) = self.push(request);
        self.flush().await?;
        loop {
            let frame = self.read_frame().await?;
            let got = frame_xid(&frame);
            if got == xid::NOTIFICATION {
                continue;
            }
            if got != x {
                return Err(ConnError::Protocol(format!(
                    "reply xid {got}, expected {x}"
                )));
            }
            return decode(op, &frame);
        }
    }
}

pub fn frame_xid(frame: &[u8]) -> i32 {
    if frame.len() < 4 {
        return 0;
    }
    (&frame[..4]).get_i32()
}

pub fn decode(op: OpCode, frame: &[u8]) -> Result<(ReplyHeader, Response), ConnError> {
    decode_reply(op, frame).map_err(|e| ConnError::Protocol(format!("{e:?}")))
}
