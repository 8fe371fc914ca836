//! Arbitrary bytes as a connect request (server side) and a connect response
//! (client side); a request that decodes must survive a re-encode.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use warden::proto::{decode_connect_request, decode_connect_response, encode_connect_request};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode_connect_request(data) {
        let mut out = BytesMut::new();
        encode_connect_request(&mut out, &req);
        assert_eq!(decode_connect_request(&out[4..]), Ok(req));
    }
    let _ = decode_connect_response(data);
});
