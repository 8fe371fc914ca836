//! Arbitrary bytes as a reply to a request of the opcode named by the first
//! byte; a reply that decodes must survive encode → decode unchanged.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use warden::proto::types::OpCode;
use warden::proto::{decode_reply, encode_reply};

/// Opcodes whose replies have a body shape of their own.
const OPS: [OpCode; 16] = [
    OpCode::Create,
    OpCode::Create2,
    OpCode::Delete,
    OpCode::Exists,
    OpCode::GetData,
    OpCode::GetAcl,
    OpCode::GetChildren,
    OpCode::GetChildren2,
    OpCode::Sync,
    OpCode::Multi,
    OpCode::Sasl,
    OpCode::GetEphemerals,
    OpCode::GetAllChildrenNumber,
    OpCode::WhoAmI,
    OpCode::AddWatch,
    OpCode::Reconfig,
];

fuzz_target!(|data: &[u8]| {
    let Some((first, body)) = data.split_first() else {
        return;
    };
    let op = OPS[usize::from(*first) % OPS.len()];
    if let Ok((header, resp)) = decode_reply(op, body) {
        let mut out = BytesMut::new();
        encode_reply(&mut out, header, &resp);
        assert_eq!(decode_reply(op, &out[4..]), Ok((header, resp)));
    }
});
