//! JAAS login configuration files (`java.security.auth.login.config`), read
//! the way ZooKeeper's server uses them: the `Server` section (or the one
//! `zookeeper.sasl.serverconfig` names) lists login modules whose
//! `user_<name>="<password>"` options are the DIGEST-MD5 users.
//!
//! ```text
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_super="adminsecret"
//!     user_alice="secret";
//! };
//! ```
//!
//! Guarantees: the syntax of the JDK's `ConfigFile` (sections of `module
//! flag options;` entries, `//` and `/* */` comments, quoted values with
//! `\` escapes); any syntax error names the file, line and what is wrong;
//! a section given twice is an error as in the JDK. `${property}`
//! expansion is not done (values are taken literally).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The login module whose `user_` options ZooKeeper documents.
pub const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";
/// Option prefix of a DIGEST-MD5 user (`SaslServerCallbackHandler`).
pub const USER_PREFIX: &str = "user_";
/// Largest file read (a JAAS file is a few lines).
pub const FILE_BYTES_MAX: u64 = 1 << 20;

/// Why a JAAS file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JaasError {
    #[error("cannot read JAAS login config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("JAAS login config {} is larger than {FILE_BYTES_MAX} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("JAAS login config {}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// One `ModuleClass Flag options;` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginModule {
    pub class: String,
    /// `required`, `requisite`, `sufficient` or `optional` (lower case).
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

/// A parsed file: section name -> its modules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JaasConfig {
    pub sections: BTreeMap<String, Vec<LoginModule>>,
}

impl JaasConfig {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<JaasConfig, JaasError> {
        let meta = std::fs::metadata(path).map_err(|source| JaasError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.len() > FILE_BYTES_MAX {
            return Err(JaasError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| JaasError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        parse(&text).map_err(|(line, message)| JaasError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        })
    }

    /// The `user_` options of every module in `section`, as
    /// `SaslServerCallbackHandler` collects them; `None` without the section.
    pub fn digest_users(&self, section: &str) -> Option<BTreeMap<String, String>> {
        let modules = self.sections.get(section)?;
        let users = modules
            .iter()
            .flat_map(|m| &m.options)
            .filter_map(|(k, v)| Some((k.strip_prefix(USER_PREFIX)?.to_string(), v.clone())))
            .collect();
        Some(users)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semi,
    Equals,
}

type Located = (usize, Token);
type ParseResult<T> = Result<T, (usize, String)>;

fn is_word_byte(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '$' | '_' | '-' | '*')
}

fn tokenize(text: &str) -> ParseResult<Vec<Located>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let start = line;
                chars.next();
                let mut prev = ' ';
                loop {
                    match chars.next() {
                        None => return Err((start, "comment /* is not closed".into())),
                        Some('/') if prev == '*' => break,
                        Some(c) => {
                            line += usize::from(c == '\n');
                            prev = c;
                        }
                    }
                }
            }
            '{' => tokens.push((line, Token::Open)),
            '}' => tokens.push((line, Token::Close)),
            ';' => tokens.push((line, Token::Semi)),
            '=' => tokens.push((line, Token::Equals)),
            '"' => {
                let start = line;
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err((start, "quoted value is not closed".into())),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            None => return Err((start, "quoted value is not closed".into())),
                            Some(e) => value.push(unescape(e)),
                        },
                        Some(c) => {
                            line += usize::from(c == '\n');
                            value.push(c);
                        }
                    }
                }
                tokens.push((start, Token::Quoted(value)));
            }
            c if is_word_byte(c) => {
                let mut word = c.to_string();
                while let Some(&n) = chars.peek().filter(|&&n| is_word_byte(n)) {
                    word.push(n);
                    chars.next();
                }
                tokens.push((line, Token::Word(word)));
            }
            c => return Err((line, format!("unexpected character {c:?}"))),
        }
    }
    Ok(tokens)
}

/// `StreamTokenizer`'s escapes in quoted strings.
fn unescape(c: char) -> char {
    match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        other => other,
    }
}

/// Parses the text of a JAAS file; errors carry the line.
pub fn parse(text: &str) -> Result<JaasConfig, (usize, String)> {
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
    };
    let mut config = JaasConfig::default();
    while !p.done() {
        let (line, name) = p.name("a section name")?;
        p.expect(Token::Open, "'{' after the section name")?;
        let mut modules = Vec::new();
        while !p.eat(&Token::Close) {
            modules.push(p.module()?);
        }
        p.expect(Token::Semi, "';' after '}'")?;
        if config.sections.insert(name.clone(), modules).is_some() {
            return Err((line, format!("section {name:?} is given twice")));
        }
    }
    Ok(config)
}

struct Parser<'a> {
    tokens: &'a [Located],
    at: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.at >= self.tokens.len()
    }

    fn line(&self) -> usize {
        self.tokens
            .get(self.at)
            .or(self.tokens.last())
            .map_or(1, |(l, _)| *l)
    }

    fn next(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.at).map(|(_, t)| t);
        self.at += 1;
        t
    }

    fn eat(&mut self, want: &Token) -> bool {
        let hit = self.tokens.get(self.at).is_some_and(|(_, t)| t == want);
        self.at += usize::from(hit);
        hit
    }

    fn fail<T>(&self, what: &str) -> ParseResult<T> {
        let found = match self.tokens.get(self.at) {
            None => "the end of the file".to_string(),
            Some((_, t)) => format!("{t:?}"),
        };
        Err((self.line(), format!("expected {what}, found {found}")))
    }

    fn expect(&mut self, want: Token, what: &str) -> ParseResult<()> {
        if self.eat(&want) {
            Ok(())
        } else {
            self.fail(what)
        }
    }

    /// A word or quoted string.
    fn name(&mut self, what: &str) -> ParseResult<(usize, String)> {
        let line = self.line();
        match self.tokens.get(self.at) {
            Some((_, Token::Word(w) | Token::Quoted(w))) => {
                let w = w.clone();
                self.next();
                Ok((line, w))
            }
            _ => self.fail(what),
        }
    }

    fn module(&mut self) -> ParseResult<LoginModule> {
        let (_, class) = self.name("a login module class or '}'")?;
        let flag_line = self.line();
        let (_, flag) = self.name("a control flag (required, requisite, sufficient, optional)")?;
        let flag = flag.to_ascii_lowercase();
        if !matches!(
            flag.as_str(),
            "required" | "requisite" | "sufficient" | "optional"
        ) {
            return Err((
                flag_line,
                format!(
                    "{flag:?} is not a control flag (required, requisite, sufficient, optional)"
                ),
            ));
        }
        let mut options = BTreeMap::new();
        while !self.eat(&Token::Semi) {
            let (line, key) = self.name("an option name or ';'")?;
            self.expect(Token::Equals, "'=' after the option name")?;
            let (_, value) = self.name("an option value")?;
            if options.insert(key.clone(), value).is_some() {
                return Err((line, format!("option {key:?} is given twice")));
            }
        }
        Ok(LoginModule {
            class,
            flag,
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
// users for DIGEST-MD5
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    /* two users */
    user_alice="se\"cret" user_bob=plain-word;
};
Client { org.apache.zookeeper.server.auth.DigestLoginModule optional username="bob" password="x"; };
"#;

    #[test]
    fn sections_modules_and_users() {
        let config = parse(SAMPLE).unwrap();
        assert_eq!(
            config.sections.keys().collect::<Vec<_>>(),
            ["Client", "Server"]
        );
        let server = &config.sections["Server"][0];
        assert_eq!(server.class, DIGEST_LOGIN_MODULE);
        assert_eq!(server.flag, "required");
        let users = config.digest_users("Server").unwrap();
        let want: BTreeMap<String, String> = [
            ("alice", "se\"cret"),
            ("bob", "plain-word"),
            ("super", "adminsecret"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .into();
        assert_eq!(users, want);
        assert_eq!(config.digest_users("Client").unwrap(), BTreeMap::new());
        assert_eq!(config.digest_users("Other"), None);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "Server {\n m required a=\"b\"\n",
                2,
                "expected an option name or ';'",
            ),
            ("Server {\n m mandatory;\n};", 2, "not a control flag"),
            (
                "Server {\n m required a b;\n};",
                2,
                "expected '=' after the option name",
            ),
            ("Server {\n m required;\n}", 3, "expected ';' after '}'"),
            ("Server \n m required;\n};", 2, "expected '{'"),
            ("S { m required; };\nS { m required; };", 2, "given twice"),
            (
                "S {\n m required a=1 a=2;\n};",
                2,
                "option \"a\" is given twice",
            ),
            ("S {\n m required a=\"open;\n};", 2, "not closed"),
            ("/* never\n closed", 1, "comment /* is not closed"),
            ("S {\n m required a=%;\n};", 2, "unexpected character '%'"),
        ];
        for (text, line, message) in cases {
            let (got_line, got) = parse(text).unwrap_err();
            assert_eq!(got_line, line, "{text:?}: {got}");
            assert!(got.contains(message), "{text:?}: {got}");
        }
    }

    #[test]
    fn the_sample_file_parses() {
        let config = parse(include_str!("../../conf/jaas.conf")).unwrap();
        let users = config.digest_users("Server").unwrap();
        assert_eq!(users.keys().collect::<Vec<_>>(), ["alice", "super"]);
    }

    #[test]
    fn load_reports_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jaas.conf");
        std::fs::write(&path, "Server {\n m required user_a=\n};\n").unwrap();
        let error = JaasConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("jaas.conf:3"), "{error}");
        let missing = JaasConfig::load(&dir.path().join("none")).unwrap_err();
        assert!(matches!(missing, JaasError::Read { .. }));
    }
}
