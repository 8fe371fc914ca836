//! `server.N=host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]`
//!
//! The ensemble member lines of `zoo.cfg`, parsed with ZooKeeper's rules:
//! IPv6 hosts in brackets (`[::1]:2888:3888`), quorum and election ports must
//! differ, the role is `participant` (default) or `observer`, and the
//! optional client address after `;` is a port or `host:port` (host defaults
//! to `0.0.0.0`). Multiple `|`-separated addresses are not supported.

use std::fmt;

/// Voting member or non-voting observer (`peerType`, `server.N` suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerType {
    #[default]
    Participant,
    Observer,
}

impl PeerType {
    /// Case-insensitive, as ZooKeeper reads `peerType`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "participant" => Some(Self::Participant),
            "observer" => Some(Self::Observer),
            _ => None,
        }
    }
}

impl fmt::Display for PeerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Participant => "participant",
            Self::Observer => "observer",
        })
    }
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub id: u64,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub peer_type: PeerType,
    /// `(host, port)` clients of this server connect to, if given.
    pub client_address: Option<(String, u16)>,
}

/// Parses the value of `server.<id>`; `Err` says what is wrong.
pub fn parse(id: u64, value: &str) -> Result<ServerSpec, String> {
    let (server_part, client_part) = match value.split_once(';') {
        Some((s, c)) => (s, Some(c)),
        None => (value, None),
    };
    if server_part.contains('|') {
        return Err("multiple addresses ('|') are not supported".into());
    }
    let parts = host_and_ports(server_part)?;
    if !(3..=4).contains(&parts.len()) {
        return Err("expected host:quorumPort:electionPort[:participant|observer]".into());
    }
    let quorum_port = port(&parts[1], "quorum port")?;
    let election_port = port(&parts[2], "election port")?;
    if quorum_port == election_port {
        return Err("quorum and election ports must be different".into());
    }
    let peer_type = match parts.get(3) {
        None => PeerType::Participant,
        Some(t) => PeerType::parse(t).ok_or_else(|| format!("unknown server type {t:?}"))?,
    };
    let client_address = client_part.map(client_address).transpose()?;
    Ok(ServerSpec {
        id,
        host: parts[0].clone(),
        quorum_port,
        election_port,
        peer_type,
        client_address,
    })
}

fn client_address(s: &str) -> Result<(String, u16), String> {
    let parts = host_and_ports(s.trim())?;
    match parts.as_slice() {
        [p] => Ok(("0.0.0.0".to_string(), port(p, "client port")?)),
        [h, p] => Ok((h.clone(), port(p, "client port")?)),
        _ => Err("client address must be port or host:port".into()),
    }
}

/// Splits on `:`, keeping a leading `[ipv6]` host whole (without brackets).
fn host_and_ports(s: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        let (host, tail) = rest
            .split_once(']')
            .ok_or_else(|| "unterminated '[' in IPv6 host".to_string())?;
        let tail = tail
            .strip_prefix(':')
            .ok_or_else(|| "expected ':' after IPv6 host".to_string())?;
        let mut v = vec![host.to_string()];
        v.extend(tail.split(':').map(str::to_string));
        return Ok(v);
    }
    let v: Vec<String> = s.split(':').map(str::to_string).collect();
    if v[0].is_empty() {
        return Err("missing host".into());
    }
    Ok(v)
}

fn port(s: &str, what: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("{what} {s:?} is not a port (1-65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_line() {
        let s = parse(1, "zk1.example:2888:3888").unwrap();
        assert_eq!(s.host, "zk1.example");
        assert_eq!((s.quorum_port, s.election_port), (2888, 3888));
        assert_eq!(s.peer_type, PeerType::Participant);
        assert_eq!(s.client_address, None);
    }

    #[test]
    fn observer_and_client_address() {
        let s = parse(4, "10.0.0.4:2888:3888:observer;0.0.0.0:2181").unwrap();
        assert_eq!(s.peer_type, PeerType::Observer);
        assert_eq!(s.client_address, Some(("0.0.0.0".into(), 2181)));
        let s = parse(2, "h:2888:3888:participant;2182").unwrap();
        assert_eq!(s.client_address, Some(("0.0.0.0".into(), 2182)));
    }

    #[test]
    fn ipv6_host() {
        let s = parse(1, "[::1]:2888:3888;[::1]:2181").unwrap();
        assert_eq!(s.host, "::1");
        assert_eq!(s.client_address, Some(("::1".into(), 2181)));
    }

    #[test]
    fn errors() {
        assert!(parse(1, "h:2888").unwrap_err().contains("expected host"));
        assert!(parse(1, "h:2888:2888").unwrap_err().contains("different"));
        assert!(parse(1, "h:x:3888")
            .unwrap_err()
            .contains("quorum port \"x\""));
        assert!(parse(1, "h:2888:70000")
            .unwrap_err()
            .contains("election port"));
        assert!(parse(1, "h:2888:3888:witness")
            .unwrap_err()
            .contains("witness"));
        assert!(parse(1, "h:2888:3888;a:b:c")
            .unwrap_err()
            .contains("client address"));
        assert!(parse(1, "a:1:2|b:1:2").unwrap_err().contains("multiple"));
        assert!(parse(1, ":2888:3888").unwrap_err().contains("host"));
    }
}
