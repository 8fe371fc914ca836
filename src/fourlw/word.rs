//! The four-letter words themselves, how a connection's first bytes are
//! recognised as one, and the whitelist that gates them.

use std::fmt;

/// A four-letter-word command ZooKeeper 3.8 knows.
///
/// ZooKeeper looks at the first four bytes a new connection sends, before it
/// treats them as the length prefix of a connect request: if those bytes, read
/// as a big-endian int, are one of these commands, the connection is a
/// command connection. Unknown four-byte strings are *not* commands; they are
/// taken as a (huge) length and the connection is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FourLetterWord {
    Conf,
    Cons,
    Crst,
    Dirs,
    Dump,
    Envi,
    Gtmk,
    Hash,
    Isro,
    Mntr,
    Ruok,
    Srst,
    Srvr,
    Stat,
    Stmk,
    Wchc,
    Wchp,
    Wchs,
    /// The bytes a telnet client sends on Ctrl-C/close (`0xfff4fffd`).
    /// ZooKeeper knows it but runs nothing: the connection is closed.
    TelnetClose,
}

/// What the runtime must do besides writing the rendered text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing: write the text, close the connection.
    None,
    /// `srst`: reset server-wide latency and packet counters.
    ResetServerStats,
    /// `crst`: reset every connection's counters and latencies.
    ResetConnectionStats,
    /// `stmk`: read 8 more bytes (a big-endian i64 trace mask), store it as
    /// the trace mask, then render (the reply echoes the new mask).
    ReadTraceMask,
    /// `telnet close`: close without writing anything.
    Close,
}

const TELNET_CLOSE: [u8; 4] = [0xff, 0xf4, 0xff, 0xfd];

impl FourLetterWord {
    /// Every known command, in a fixed order.
    pub const ALL: [FourLetterWord; 19] = [
        Self::Conf,
        Self::Cons,
        Self::Crst,
        Self::Dirs,
        Self::Dump,
        Self::Envi,
        Self::Gtmk,
        Self::Hash,
        Self::Isro,
        Self::Mntr,
        Self::Ruok,
        Self::Srst,
        Self::Srvr,
        Self::Stat,
        Self::Stmk,
        Self::Wchc,
        Self::Wchp,
        Self::Wchs,
        Self::TelnetClose,
    ];

    /// The name used on the wire and in `4lw.commands.whitelist`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Conf => "conf",
            Self::Cons => "cons",
            Self::Crst => "crst",
            Self::Dirs => "dirs",
            Self::Dump => "dump",
            Self::Envi => "envi",
            Self::Gtmk => "gtmk",
            Self::Hash => "hash",
            Self::Isro => "isro",
            Self::Mntr => "mntr",
            Self::Ruok => "ruok",
            Self::Srst => "srst",
            Self::Srvr => "srvr",
            Self::Stat => "stat",
            Self::Stmk => "stmk",
            Self::Wchc => "wchc",
            Self::Wchp => "wchp",
            Self::Wchs => "wchs",
            Self::TelnetClose => "telnet close",
        }
    }

    /// Looks a whitelist name up (exact, case-sensitive, as ZooKeeper).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The four bytes that select this command on the wire.
    pub fn bytes(self) -> [u8; 4] {
        match self {
            Self::TelnetClose => TELNET_CLOSE,
            other => {
                let n = other.name().as_bytes();
                [n[0], n[1], n[2], n[3]]
            }
        }
    }

    /// Recognises the first four bytes of a connection (exact match; the
    /// check only applies before the connect request has been read).
    pub fn from_prefix(first4: [u8; 4]) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.bytes() == first4)
    }

    /// The same check on the big-endian int ZooKeeper compares.
    pub fn from_length_prefix(len: i32) -> Option<Self> {
        Self::from_prefix(len.to_be_bytes())
    }

    /// The side effect the runtime performs for this command.
    pub fn effect(self) -> Effect {
        match self {
            Self::Srst => Effect::ResetServerStats,
            Self::Crst => Effect::ResetConnectionStats,
            Self::Stmk => Effect::ReadTraceMask,
            Self::TelnetClose => Effect::Close,
            _ => Effect::None,
        }
    }

    /// Whether rendering reads `ServerSnapshot::connections` (so the runtime
    /// can skip collecting per-connection stats for other commands).
    pub fn uses_connections(self) -> bool {
        matches!(self, Self::Cons | Self::Stat | Self::Dump)
    }

    /// Whether rendering reads the per-watch list `ServerSnapshot::data_watches`.
    pub fn uses_watch_list(self) -> bool {
        matches!(self, Self::Wchs | Self::Wchc | Self::Wchp)
    }

    /// Whether rendering reads `sessions` and `ephemerals` (`dump`).
    pub fn uses_session_dump(self) -> bool {
        matches!(self, Self::Dump)
    }
}

impl fmt::Display for FourLetterWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of enabled commands (`4lw.commands.whitelist`).
///
/// As in ZooKeeper 3.8, `srvr` is always enabled (zkServer.sh's `status`
/// depends on it), and when the key is absent only `srvr` is enabled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Whitelist {
    bits: u32,
}

impl Whitelist {
    /// ZooKeeper 3.8's set when `4lw.commands.whitelist` is not given.
    pub fn zookeeper_default() -> Self {
        Self::none().with(FourLetterWord::Srvr)
    }

    /// Every command (`*`).
    pub fn all() -> Self {
        FourLetterWord::ALL
            .into_iter()
            .fold(Self::none(), Self::with)
    }

    fn none() -> Self {
        Self { bits: 0 }
    }

    fn with(self, w: FourLetterWord) -> Self {
        Self {
            bits: self.bits | 1 << (w as u32),
        }
    }

    /// Parses a comma-separated list; `*` anywhere enables everything,
    /// empty items are skipped. `Err` carries the first unknown name.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut set = Self::zookeeper_default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                return Ok(Self::all());
            }
            let word = FourLetterWord::from_name(item).ok_or_else(|| item.to_string())?;
            set = set.with(word);
        }
        Ok(set)
    }

    pub fn contains(&self, w: FourLetterWord) -> bool {
        self.bits & (1 << (w as u32)) != 0
    }

    /// The enabled commands in `FourLetterWord::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = FourLetterWord> + '_ {
        FourLetterWord::ALL
            .into_iter()
            .filter(|w| self.contains(*w))
    }
}

impl Default for Whitelist {
    fn default() -> Self {
        Self::zookeeper_default()
    }
}

impl fmt::Debug for Whitelist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|w| w.name()))
            .finish()
    }
}

/// The exact reply ZooKeeper 3.8 writes for a known but disabled command.
pub fn not_whitelisted_reply(w: FourLetterWord) -> String {
    format!(
        "{} is not executed because it is not in the whitelist.\n",
        w.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_recognition() {
        assert_eq!(
            FourLetterWord::from_prefix(*b"ruok"),
            Some(FourLetterWord::Ruok)
        );
        assert_eq!(
            FourLetterWord::from_prefix(*b"mntr"),
            Some(FourLetterWord::Mntr)
        );
        assert_eq!(FourLetterWord::from_prefix(*b"RUOK"), None);
        assert_eq!(FourLetterWord::from_prefix(*b"abcd"), None);
        assert_eq!(FourLetterWord::from_prefix([0, 0, 0, 44]), None);
        assert_eq!(
            FourLetterWord::from_prefix([0xff, 0xf4, 0xff, 0xfd]),
            Some(FourLetterWord::TelnetClose)
        );
        let ruok = i32::from_be_bytes(*b"ruok");
        assert_eq!(ruok, 0x72756f6b);
        assert_eq!(
            FourLetterWord::from_length_prefix(ruok),
            Some(FourLetterWord::Ruok)
        );
    }

    #[test]
    fn names_round_trip() {
        for w in FourLetterWord::ALL {
            assert_eq!(FourLetterWord::from_name(w.name()), Some(w));
            assert_eq!(FourLetterWord::from_prefix(w.bytes()), Some(w));
        }
        assert_eq!(FourLetterWord::from_name("Ruok"), None);
    }

    #[test]
    fn default_whitelist_is_srvr_only() {
        let d = Whitelist::default();
        assert_eq!(d.iter().collect::<Vec<_>>(), vec![FourLetterWord::Srvr]);
    }

    #[test]
    fn whitelist_parse() {
        let w = Whitelist::parse(" ruok, mntr ,,stat").unwrap();
        let names: Vec<_> = w.iter().map(|w| w.name()).collect();
        assert_eq!(names, vec!["mntr", "ruok", "srvr", "stat"]);
        assert!(Whitelist::parse("ruok,*")
            .unwrap()
            .contains(FourLetterWord::Dump));
        assert_eq!(Whitelist::parse("*").unwrap(), Whitelist::all());
        assert_eq!(Whitelist::parse("ruok,nope").unwrap_err(), "nope");
        assert_eq!(
            Whitelist::parse("").unwrap(),
            Whitelist::zookeeper_default()
        );
    }

    #[test]
    fn effects() {
        assert_eq!(FourLetterWord::Srst.effect(), Effect::ResetServerStats);
        assert_eq!(FourLetterWord::Crst.effect(), Effect::ResetConnectionStats);
        assert_eq!(FourLetterWord::Stmk.effect(), Effect::ReadTraceMask);
        assert_eq!(FourLetterWord::TelnetClose.effect(), Effect::Close);
        assert_eq!(FourLetterWord::Ruok.effect(), Effect::None);
    }

    #[test]
    fn not_whitelisted_text() {
        assert_eq!(
            not_whitelisted_reply(FourLetterWord::Dump),
            "dump is not executed because it is not in the whitelist.\n"
        );
    }
}
