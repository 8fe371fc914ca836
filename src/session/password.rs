//! Session passwords: what a client must present to reattach to a session.
//!
//! ZooKeeper derives the 16 password bytes from `java.util.Random` seeded
//! with `session_id ^ secret`, so any server of the ensemble can check a
//! password without storing it. We keep that property (deterministic per
//! (id, secret), nothing stored) but use a keyed PRF, SipHash-2-4, so that
//! seeing one password does not reveal the secret. The bytes differ from
//! ZooKeeper's; clients treat them as opaque.

use crate::proto::types::SessionId;

/// Length of a session password on the wire.
pub const PASSWORD_LEN: usize = 16;

/// Domain-separation constant for the second SipHash key word.
const KEY_TWEAK: u64 = 0x7761_7264_656e_7077; // "wardenpw"

/// The password of `session_id` under the ensemble's `secret`.
///
/// Each half is SipHash-2-4 of (session id, half index) under the key
/// (secret, tweak): distinct ids give independent-looking passwords.
pub fn password_for(session_id: SessionId, secret: u64) -> [u8; PASSWORD_LEN] {
    let key = (secret, KEY_TWEAK);
    let mut out = [0u8; PASSWORD_LEN];
    for (half, chunk) in out.chunks_exact_mut(8).enumerate() {
        let mut msg = [0u8; 9];
        msg[..8].copy_from_slice(&session_id.to_le_bytes());
        msg[8] = half as u8;
        chunk.copy_from_slice(&siphash24(key, &msg).to_le_bytes());
    }
    out
}

/// Whether `given` is the password of `session_id`, as `checkPasswd`:
/// session id 0 (a client's "new session") never matches.
pub fn check_password(session_id: SessionId, secret: u64, given: &[u8]) -> bool {
    let expected = password_for(session_id, secret);
    // Evaluate the comparison before the id test so timing does not depend on it.
    let same = passwords_equal(&expected, given);
    session_id != 0 && same
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn passwords_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// SipHash-2-4 (Aumasson & Bernstein) of `msg` under the 128-bit key `k`.
fn siphash24(k: (u64, u64), msg: &[u8]) -> u64 {
    let mut v = [
        k.0 ^ 0x736f_6d65_7073_6575,
        k.1 ^ 0x646f_7261_6e64_6f6d,
        k.0 ^ 0x6c79_6765_6e65_7261,
        k.1 ^ 0x7465_6462_7974_6573,
    ];
    let mut blocks = msg.chunks_exact(8);
    for block in &mut blocks {
        let m = u64::from_le_bytes(block.try_into().expect("8-byte block"));
        compress(&mut v, m, 2);
    }
    let mut last = [0u8; 8];
    let tail = blocks.remainder();
    last[..tail.len()].copy_from_slice(tail);
    last[7] = msg.len() as u8;
    compress(&mut v, u64::from_le_bytes(last), 2);
    v[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn compress(v: &mut [u64; 4], m: u64, rounds: usize) {
    v[3] ^= m;
    for _ in 0..rounds {
        sip_round(v);
    }
    v[0] ^= m;
}

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_matches_the_reference_vector() {
        // Appendix A of the SipHash paper: key 00..0f, message 00..0e.
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0u8..15).collect();
        assert_eq!(siphash24((k0, k1), &msg), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn password_is_deterministic_and_distinct() {
        let id = 0x0112_3456_789a_0000;
        assert_eq!(password_for(id, 42), password_for(id, 42));
        assert_ne!(password_for(id, 42), password_for(id + 1, 42));
        assert_ne!(password_for(id, 42), password_for(id, 43));
        let p = password_for(id, 42);
        assert_ne!(p[..8], p[8..], "halves are independent");
    }

    #[test]
    fn check_password_rules() {
        let id = 0x0100_0000_0001_0000;
        let good = password_for(id, 7);
        assert!(check_password(id, 7, &good));
        let mut bad = good;
        bad[15] ^= 1;
        assert!(!check_password(id, 7, &bad));
        assert!(!check_password(id, 7, &good[..15]), "short password");
        assert!(!check_password(id, 8, &good), "other secret");
        assert!(
            !check_password(0, 7, &password_for(0, 7)),
            "id 0 never matches"
        );
    }

    #[test]
    fn equality_is_plain_equality() {
        assert!(passwords_equal(b"", b""));
        assert!(passwords_equal(b"abc", b"abc"));
        assert!(!passwords_equal(b"abc", b"abd"));
        assert!(!passwords_equal(b"abc", b"ab"));
    }
}
