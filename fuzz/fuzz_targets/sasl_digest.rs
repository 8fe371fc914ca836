//! Arbitrary bytes as SASL tokens from a client: the DIGEST-MD5 directive
//! parser and the server exchange (as first token, and as digest-response
//! after the challenge) must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden::sasl::digest_md5::{DigestMd5Server, ZK_REALM};
use warden::sasl::directives;

fn password(user: &str) -> Option<String> {
    (user == "alice").then(|| "secret".to_string())
}

fuzz_target!(|data: &[u8]| {
    let _ = directives::parse(data);
    let mut first = DigestMd5Server::new(ZK_REALM, "bm9uY2U");
    let _ = first.step(data, password);
    let mut server = DigestMd5Server::new(ZK_REALM, "bm9uY2U");
    let _ = server.step(b"", password);
    let _ = server.step(data, password);
    let _ = server.step(data, password);
});
