//! A small blocking ZooKeeper-protocol client built on Warden's own codec,
//! for the integration tests here and the load generator's (which include
//! this file by path).

#![allow(dead_code)]

use bytes::{Buf, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use warden::proto::client::{decode_reply, encode_request, request_opcode};
use warden::proto::connect::{
    decode_connect_response, encode_connect_request, ConnectRequest, ConnectResponse,
};
use warden::proto::frame::next_frame;
use warden::proto::requests::{Request, RequestHeader};
use warden::proto::responses::{ReplyHeader, Response};
use warden::proto::types::{OpCode, WatcherEvent};

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
