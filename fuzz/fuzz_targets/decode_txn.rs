//! Arbitrary bytes as a txn log record payload: decoding never panics, and a
//! record that decodes survives encode → decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden::txn::codec::{decode_txn, encode_txn};

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = decode_txn(data) {
        let mut out = Vec::new();
        encode_txn(&rec, &mut out);
        assert_eq!(decode_txn(&out), Ok(rec));
    }
});
