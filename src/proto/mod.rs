//! The ZooKeeper client wire protocol: jute records over length-prefixed frames.
//!
//! Server side: [`next_frame`] splits the receive buffer, [`decode_connect_request`]
//! reads the handshake, [`decode_request`] every later frame; [`encode_reply`],
//! [`encode_notification`] and [`encode_connect_response`] write answers.
//! Client side (tests, loadgen): [`encode_request`], [`decode_reply`],
//! [`encode_connect_request`], [`decode_connect_response`].

pub mod client;
pub mod connect;
pub mod decode;
pub mod encode;
pub mod frame;
pub mod jute;
pub mod records;
pub mod requests;
pub mod responses;
pub mod types;

#[cfg(test)]
mod proptests;

pub use client::{decode_reply, encode_request, request_opcode};
pub use connect::{
    decode_connect_request, decode_connect_response, encode_connect_request,
    encode_connect_response, ConnectRequest, ConnectResponse,
};
pub use decode::decode_request;
pub use encode::{encode_notification, encode_reply};
pub use frame::{next_frame, DEFAULT_MAX_FRAME};
pub use jute::DecodeError;
