//! Arbitrary bytes as a request frame body, and as a receive buffer split
//! into frames: the server's decoders must never panic or over-allocate.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use warden::proto::{decode_request, next_frame};

fuzz_target!(|data: &[u8]| {
    let _ = decode_request(data);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = next_frame(&mut buf, 4096) {
        let _ = decode_request(&frame);
    }
});
