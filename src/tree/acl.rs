//! ACL validation (`PrepRequestProcessor.fixupACL`) and permission checks
//! (`ZooKeeperServer.checkACL`) with ZooKeeper's built-in providers.
//!
//! Providers: `world` (only `anyone`), `ip` (IPv4 with optional `/bits`, as
//! ZooKeeper 3.8 has no IPv6 parsing), `digest` (`user:hash`), `super` ids
//! bypass every check, and any extra scheme the server was configured with
//! (treated as exact-match ids). Nothing here allocates more than the output.

use crate::proto::types::{Acl, ErrorCode, Id};

/// Whether a scheme has a server-side provider and `id` is valid for it.
fn provider_accepts(scheme: &str, id: &str, extra_schemes: &[String]) -> bool {
    match scheme {
        "ip" => ip_valid(id),
        "digest" => java_split_count(id, ':') == 2,
        "sasl" if extra_schemes.iter().any(|s| s == "sasl") => crate::sasl::acl_id_valid(id),
        other => extra_schemes.iter().any(|s| s == other),
    }
}

/// Whether the provider of `scheme` counts as authenticated (`isAuthenticated`):
/// `ip` does not, so `auth` ACLs never expand to ip ids.
fn is_authenticated_scheme(scheme: &str, extra_schemes: &[String]) -> bool {
    scheme == "digest" || (scheme != "ip" && extra_schemes.iter().any(|s| s == scheme))
}

/// Java's `s.split(String.valueOf(sep)).length` (trailing empty strings removed).
fn java_split_count(s: &str, sep: char) -> usize {
    if !s.contains(sep) {
        return 1;
    }
    let parts: Vec<&str> = s.split(sep).collect();
    parts
        .iter()
        .rposition(|p| !p.is_empty())
        .map_or(0, |i| i + 1)
}

/// Java's `Integer.parseInt` for decimal (ASCII digits, optional sign).
fn java_parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    let v = if s.starts_with('-') { -v } else { v };
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&v)
        .then_some(v)
}

fn ipv4_bytes(addr: &str) -> Option<[u8; 4]> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = [0u8; 4];
    for (o, p) in out.iter_mut().zip(parts) {
        let v = java_parse_int(p)?;
        *o = u8::try_from(v).ok()?;
    }
    Some(out)
}

fn ip_bits(spec: Option<&str>) -> Option<u32> {
    match spec {
        None => Some(32),
        Some(b) => java_parse_int(b).and_then(|v| u32::try_from(v).ok().filter(|v| *v <= 32)),
    }
}

fn ip_valid(id: &str) -> bool {
    let mut it = id.splitn(2, '/');
    let addr = it.next().unwrap_or("");
    ipv4_bytes(addr).is_some() && ip_bits(it.next()).is_some()
}

fn ip_matches(client: &str, acl_expr: &str) -> bool {
    let mut it = acl_expr.splitn(2, '/');
    let (Some(acl_addr), Some(bits)) = (ipv4_bytes(it.next().unwrap_or("")), ip_bits(it.next()))
    else {
        return false;
    };
    let Some(remote) = ipv4_bytes(client) else {
        return false;
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from_be_bytes(acl_addr) & mask == u32::from_be_bytes(remote) & mask
}

fn id_matches(auth: &Id, acl_id: &Id) -> bool {
    auth.scheme == acl_id.scheme
        && match auth.scheme.as_str() {
            "ip" => ip_matches(&auth.id, &acl_id.id),
            "sasl" => crate::sasl::acl_id_matches(&auth.id, &acl_id.id),
            _ => auth.id == acl_id.id,
        }
}

/// `checkACL`: OK if `acl` is empty, a `super` id is present, or an entry with
/// any bit of `perm` matches world:anyone or one of `ids`.
pub fn check_acl(acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
    if acl.is_empty() || ids.iter().any(|i| i.scheme == "super") {
        return Ok(());
    }
    let allowed = acl.iter().filter(|a| a.perms & perm != 0).any(|a| {
        (a.id.scheme == "world" && a.id.id == "anyone") || ids.iter().any(|i| id_matches(i, &a.id))
    });
    if allowed {
        Ok(())
    } else {
        Err(ErrorCode::NoAuth)
    }
}

/// `fixupACL`: dedups, rejects an empty list, unknown schemes and invalid ids,
/// and expands `auth` entries into the requester's authenticated ids.
pub fn fixup_acl(acl: &[Acl], ids: &[Id], extra_schemes: &[String]) -> Result<Vec<Acl>, ErrorCode> {
    let mut uniq: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    if uniq.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a.clone());
        } else if a.id.scheme == "auth" {
            let before = out.len();
            for cid in ids
                .iter()
                .filter(|i| is_authenticated_scheme(&i.scheme, extra_schemes))
            {
                out.push(Acl {
                    perms: a.perms,
                    id: cid.clone(),
                });
            }
            if out.len() == before {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if provider_accepts(&a.id.scheme, &a.id.id, extra_schemes) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// getACL without ADMIN: digest ids shown as `user:x`.
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            let mut a = a.clone();
            if a.id.scheme == "digest" {
                if let Some(i) = a.id.id.find(':') {
                    a.id.id.truncate(i);
                    a.id.id.push_str(":x");
                }
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::types::perms;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn fixup_rules() {
        let none: Vec<Id> = vec![];
        let digest = vec![Id::new("ip", "1.2.3.4"), Id::new("digest", "u:h")];
        let ip_only = vec![Id::new("ip", "1.2.3.4")];
        type Case<'a> = (Vec<Acl>, &'a Vec<Id>, Result<Vec<Acl>, ErrorCode>);
        let cases: Vec<Case> = vec![
            (vec![], &none, Err(ErrorCode::InvalidAcl)),
            (Acl::open_unsafe(), &none, Ok(Acl::open_unsafe())),
            (
                vec![acl(31, "world", "anyone"), acl(31, "world", "anyone")],
                &none,
                Ok(Acl::open_unsafe()),
            ),
            (
                vec![acl(31, "world", "someone")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (vec![acl(31, "auth", "")], &none, Err(ErrorCode::InvalidAcl)),
            (
                vec![acl(31, "auth", "")],
                &ip_only,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(5, "auth", "whatever")],
                &digest,
                Ok(vec![acl(5, "digest", "u:h")]),
            ),
            (
                vec![acl(31, "digest", "u:h")],
                &none,
                Ok(vec![acl(31, "digest", "u:h")]),
            ),
            (
                vec![acl(31, "digest", ":h")],
                &none,
                Ok(vec![acl(31, "digest", ":h")]),
            ),
            (
                vec![acl(31, "digest", "u:")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(31, "digest", "u")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(31, "digest", "a:b:c")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(31, "ip", "10.0.0.1")],
                &none,
                Ok(vec![acl(31, "ip", "10.0.0.1")]),
            ),
            (
                vec![acl(31, "ip", "10.0.0.0/8")],
                &none,
                Ok(vec![acl(31, "ip", "10.0.0.0/8")]),
            ),
            (
                vec![acl(31, "ip", "10.0.0.0/33")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(31, "ip", "10.0.0.0/")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(31, "ip", "10.0.0")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(31, "ip", "256.0.0.1")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(31, "ip", "::1")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(31, "sasl", "bob")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
            (
                vec![acl(31, "foo", "bob")],
                &none,
                Err(ErrorCode::InvalidAcl),
            ),
        ];
        for (input, ids, want) in cases {
            assert_eq!(fixup_acl(&input, ids, &[]), want, "{input:?}");
        }
        assert!(fixup_acl(&[acl(31, "sasl", "bob")], &[], &["sasl".to_string()]).is_ok());
    }

    #[test]
    fn sasl_scheme() {
        let sasl = ["sasl".to_string()];
        // SASLAuthenticationProvider.isValid: Kerberos principal syntax.
        assert!(fixup_acl(&[acl(31, "sasl", "zk/host@REALM")], &[], &sasl).is_ok());
        assert_eq!(
            fixup_acl(&[acl(31, "sasl", "a@b@c")], &[], &sasl),
            Err(ErrorCode::InvalidAcl)
        );
        // `auth` expands to the sasl identity (the provider is authenticated).
        let alice = vec![Id::new("ip", "127.0.0.1"), Id::new("sasl", "alice")];
        assert_eq!(
            fixup_acl(&[acl(31, "auth", "")], &alice, &sasl),
            Ok(vec![acl(31, "sasl", "alice")])
        );
        let node = vec![acl(perms::READ, "sasl", "alice")];
        assert_eq!(check_acl(&node, perms::READ, &alice), Ok(()));
        let bob = [Id::new("sasl", "bob")];
        assert_eq!(check_acl(&node, perms::READ, &bob), Err(ErrorCode::NoAuth));
        // A digest id of the same name is another identity.
        let digest = [Id::new("digest", "alice")];
        assert_eq!(
            check_acl(&node, perms::READ, &digest),
            Err(ErrorCode::NoAuth)
        );
        // SASLAuthenticationProvider.matches: the user named super matches all.
        assert_eq!(
            check_acl(&node, perms::READ, &[Id::new("sasl", "super")]),
            Ok(())
        );
    }

    #[test]
    fn check_rules() {
        let ro = Acl::read_unsafe();
        assert_eq!(check_acl(&ro, perms::READ, &[]), Ok(()));
        assert_eq!(check_acl(&ro, perms::WRITE, &[]), Err(ErrorCode::NoAuth));
        assert_eq!(
            check_acl(&ro, perms::WRITE, &[Id::new("super", "")]),
            Ok(())
        );
        assert_eq!(check_acl(&[], perms::WRITE, &[]), Ok(()));
        let d = [acl(perms::ALL, "digest", "u:h")];
        assert_eq!(
            check_acl(&d, perms::READ, &[Id::new("digest", "u:h")]),
            Ok(())
        );
        assert_eq!(
            check_acl(&d, perms::READ, &[Id::new("digest", "u:x")]),
            Err(ErrorCode::NoAuth)
        );
        let ip = [acl(perms::READ, "ip", "10.1.0.0/16")];
        assert_eq!(
            check_acl(&ip, perms::READ, &[Id::new("ip", "10.1.2.3")]),
            Ok(())
        );
        assert_eq!(
            check_acl(&ip, perms::READ, &[Id::new("ip", "10.2.2.3")]),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(mask_digests(&d), vec![acl(perms::ALL, "digest", "u:x")]);
    }
}
