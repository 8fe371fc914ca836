//! The server side of SASL DIGEST-MD5 (RFC 2831) as ZooKeeper 3.8 runs it
//! through the JDK's `DigestMD5Server`: one challenge, one digest-response,
//! one `rspauth`, authentication only (qop `auth`, no integrity or
//! confidentiality layer).
//!
//! Pure and synchronous: the caller passes each client token to
//! [`DigestMd5Server::step`] with a password lookup and sends back what it
//! returns. Guarantees: a client token longer than [`RESPONSE_BYTES_MAX`]
//! or malformed in any way is an error, never a panic; a failed or finished
//! exchange accepts no further tokens; the authorization id on success is
//! the authenticated user name (ZooKeeper's `SaslServerCallbackHandler`
//! authorizes every client as its own user, whatever `authzid` it asked
//! for).

use super::directives::{self, Directive, DirectiveError};
use md5::{Digest, Md5};

/// The realm and server name ZooKeeper gives its DIGEST-MD5 server.
pub const ZK_REALM: &str = "zk-sasl-md5";
/// The protocol (service) name in the client's `digest-uri`.
pub const ZK_PROTOCOL: &str = "zookeeper";
/// Longest digest-response accepted (the JDK's bound, RFC 2831 §2.1.2).
pub const RESPONSE_BYTES_MAX: usize = 4096;

/// Why an exchange failed; every variant ends it with AuthFailed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("DIGEST-MD5 must not have an initial response ({0} bytes sent first); a GSSAPI (Kerberos) client? Warden serves DIGEST-MD5 only")]
    InitialResponse(usize),
    #[error("digest-response of {0} bytes exceeds {RESPONSE_BYTES_MAX}")]
    TooLong(usize),
    #[error("malformed digest-response: {0}")]
    Malformed(#[from] DirectiveError),
    #[error("digest-response has no {0}")]
    Missing(&'static str),
    #[error("digest-response gives {0} twice")]
    Duplicate(String),
    #[error("digest-response {what} {got:?} does not match the challenge")]
    Mismatch { what: &'static str, got: String },
    #[error("nonce count must be 00000001")]
    NonceCount,
    #[error("charset {0:?} is not utf-8, the only one DIGEST-MD5 allows")]
    Charset(String),
    #[error("{0} is not valid {1}")]
    Encoding(&'static str, &'static str),
    #[error("no password for user {0:?}")]
    UnknownUser(String),
    #[error("wrong password for user {0:?} (digest mismatch)")]
    WrongDigest(String),
    #[error("authentication already finished")]
    Finished,
}

/// What to send the client after a successful step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The digest-challenge.
    Challenge(Vec<u8>),
    /// `rspauth=...`; the client is authenticated as `authorization_id`.
    Complete {
        token: Vec<u8>,
        authorization_id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Challenged,
    Done,
}

/// One connection's DIGEST-MD5 exchange.
#[derive(Debug, Clone)]
pub struct DigestMd5Server {
    realm: String,
    nonce: String,
    state: State,
}

/// The digest-response fields the server checks, as sent.
struct ClientResponse<'a> {
    username: &'a [u8],
    realm: Option<&'a [u8]>,
    nonce: &'a [u8],
    cnonce: &'a [u8],
    nc: &'a [u8],
    qop: &'a [u8],
    digest_uri: &'a [u8],
    response: &'a [u8],
    authzid: Option<&'a [u8]>,
    utf8: bool,
}

impl DigestMd5Server {
    /// A server for one exchange; `nonce` must be fresh and unguessable
    /// (printable, no `"` or `\`).
    pub fn new(realm: &str, nonce: &str) -> DigestMd5Server {
        DigestMd5Server {
            realm: realm.to_string(),
            nonce: nonce.to_string(),
            state: State::Start,
        }
    }

    /// Consumes the client's next token. `password` looks a user up.
    pub fn step(
        &mut self,
        token: &[u8],
        password: impl Fn(&str) -> Option<String>,
    ) -> Result<Step, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Done);
        match state {
            State::Start if !token.is_empty() => Err(SaslError::InitialResponse(token.len())),
            State::Start => {
                self.state = State::Challenged;
                Ok(Step::Challenge(self.challenge()))
            }
            State::Challenged => self.verify(token, password),
            State::Done => Err(SaslError::Finished),
        }
    }

    /// `realm="..",nonce="..",qop="auth",charset=utf-8,algorithm=md5-sess`,
    /// the fields and order of the JDK's challenge.
    fn challenge(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        directives::write_quoted(&mut out, "realm", self.realm.as_bytes());
        out.push(b',');
        directives::write_quoted(&mut out, "nonce", self.nonce.as_bytes());
        out.push(b',');
        directives::write_quoted(&mut out, "qop", b"auth");
        out.extend_from_slice(b",charset=utf-8,algorithm=md5-sess");
        out
    }

    fn verify(
        &self,
        token: &[u8],
        password: impl Fn(&str) -> Option<String>,
    ) -> Result<Step, SaslError> {
        if token.len() > RESPONSE_BYTES_MAX {
            return Err(SaslError::TooLong(token.len()));
        }
        let list = directives::parse(token)?;
        let r = ClientResponse::from_directives(&list)?;
        self.check_fields(&r)?;
        let user = decode(r.username, r.utf8, "username")?;
        let pass = password(&user).ok_or_else(|| SaslError::UnknownUser(user.clone()))?;
        let realm = decode(r.realm.unwrap_or_default(), r.utf8, "realm")?;
        let authzid = r
            .authzid
            .map(|a| decode(a, r.utf8, "authzid"))
            .transpose()?;
        let inputs = DigestInputs {
            username: encode(&user, r.utf8),
            realm: encode(&realm, r.utf8),
            password: encode(&pass, r.utf8),
            nonce: r.nonce,
            cnonce: r.cnonce,
            authzid: authzid.as_deref().map(|a| a.as_bytes()),
            nc: r.nc,
            qop: r.qop,
            digest_uri: r.digest_uri,
        };
        if !r
            .response
            .eq_ignore_ascii_case(&inputs.response(b"AUTHENTICATE:"))
        {
            return Err(SaslError::WrongDigest(user));
        }
        let mut token = b"rspauth=".to_vec();
        token.extend_from_slice(&inputs.response(b":"));
        Ok(Step::Complete {
            token,
            authorization_id: user,
        })
    }

    fn check_fields(&self, r: &ClientResponse<'_>) -> Result<(), SaslError> {
        let mismatch = |what, got: &[u8]| SaslError::Mismatch {
            what,
            got: String::from_utf8_lossy(got).into_owned(),
        };
        if r.nonce != self.nonce.as_bytes() {
            return Err(mismatch("nonce", r.nonce));
        }
        match r.realm {
            Some(realm) if realm == self.realm.as_bytes() => {}
            other => return Err(mismatch("realm", other.unwrap_or_default())),
        }
        if !r.qop.eq_ignore_ascii_case(b"auth") {
            return Err(mismatch("qop", r.qop));
        }
        let expected_uri = format!("{ZK_PROTOCOL}/{}", self.realm);
        if !r.digest_uri.eq_ignore_ascii_case(expected_uri.as_bytes()) {
            return Err(mismatch("digest-uri", r.digest_uri));
        }
        let nc = std::str::from_utf8(r.nc)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok());
        if nc != Some(1) {
            return Err(SaslError::NonceCount);
        }
        if r.cnonce.is_empty() {
            return Err(SaslError::Missing("cnonce"));
        }
        Ok(())
    }
}

impl<'a> ClientResponse<'a> {
    fn from_directives(list: &'a [Directive]) -> Result<ClientResponse<'a>, SaslError> {
        let one = |name: &'static str| -> Result<Option<&'a [u8]>, SaslError> {
            let mut found = list.iter().filter(|d| d.name == name);
            let first = found.next().map(|d| d.value.as_slice());
            if found.next().is_some() {
                return Err(SaslError::Duplicate(name.to_string()));
            }
            Ok(first)
        };
        let required = |name: &'static str| one(name)?.ok_or(SaslError::Missing(name));
        let utf8 = match one("charset")? {
            None => false,
            Some(c) if c.eq_ignore_ascii_case(b"utf-8") => true,
            Some(c) => return Err(SaslError::Charset(String::from_utf8_lossy(c).into_owned())),
        };
        Ok(ClientResponse {
            username: required("username")?,
            realm: one("realm")?,
            nonce: required("nonce")?,
            cnonce: required("cnonce")?,
            nc: required("nc")?,
            qop: one("qop")?.unwrap_or(b"auth"),
            digest_uri: required("digest-uri")?,
            response: required("response")?,
            authzid: one("authzid")?,
            utf8,
        })
    }
}

/// A client string: UTF-8 when the client said `charset=utf-8`, else
/// ISO 8859-1 (RFC 2831 §2.1.2).
fn decode(bytes: &[u8], utf8: bool, what: &'static str) -> Result<String, SaslError> {
    if utf8 {
        String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::Encoding(what, "UTF-8"))
    } else {
        Ok(bytes.iter().map(|&b| char::from(b)).collect())
    }
}

/// The bytes a string is hashed as: ISO 8859-1 whenever every character
/// fits (RFC 2831 §2.1.2, and what the JDK does), else UTF-8 if the
/// exchange uses it, else `?` for each character that does not fit.
fn encode(s: &str, utf8: bool) -> Vec<u8> {
    let latin1 = s.chars().all(|c| u32::from(c) <= 0xff);
    if !latin1 && utf8 {
        return s.as_bytes().to_vec();
    }
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// Everything the response value depends on (RFC 2831 §2.1.2.1), as bytes.
struct DigestInputs<'a> {
    username: Vec<u8>,
    realm: Vec<u8>,
    password: Vec<u8>,
    nonce: &'a [u8],
    cnonce: &'a [u8],
    authzid: Option<&'a [u8]>,
    nc: &'a [u8],
    qop: &'a [u8],
    digest_uri: &'a [u8],
}

impl DigestInputs<'_> {
    /// The 32 lower-case hex digits of the response value; `a2_prefix` is
    /// `AUTHENTICATE:` for the client's `response`, `:` for `rspauth`.
    fn response(&self, a2_prefix: &[u8]) -> Vec<u8> {
        let secret = Md5::digest([&self.username[..], &self.realm, &self.password].join(&b':'));
        let mut a1 = secret.to_vec();
        for part in [self.nonce, self.cnonce].into_iter().chain(self.authzid) {
            a1.push(b':');
            a1.extend_from_slice(part);
        }
        let a2 = [a2_prefix, self.digest_uri].concat();
        let kd = [
            &hex(&Md5::digest(&a1))[..],
            self.nonce,
            self.nc,
            self.cnonce,
            self.qop,
            &hex(&Md5::digest(&a2)),
        ]
        .join(&b':');
        hex(&Md5::digest(&kd))
    }
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .collect()
}

#[cfg(test)]
mod tests;
