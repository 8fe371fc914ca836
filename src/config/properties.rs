//! Java `.properties` reader, the syntax of `zoo.cfg`.
//!
//! ZooKeeper loads `zoo.cfg` with `java.util.Properties.load`, so operators'
//! files may use any of its forms: `key=value`, `key: value`, `key value`,
//! leading whitespace, `#` and `!` comment lines, backslash line continuation
//! and the escapes `\t \n \r \f \uXXXX` (any other `\c` stands for `c`).
//! This module reproduces that syntax and nothing else: it returns every
//! entry in file order, duplicates included, so the caller can warn about a
//! key given twice (as in Java, the last one wins). Values are trimmed, as
//! ZooKeeper trims them.

/// One `key = value` entry and the (1-based) line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// Why a file is not a valid properties file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Parses properties text into entries in file order.
pub fn parse(text: &str) -> Result<Vec<Entry>, SyntaxError> {
    let mut entries = Vec::new();
    for (line, logical) in logical_lines(text) {
        entries.push(parse_logical_line(line, &logical)?);
    }
    Ok(entries)
}

/// Joins continued lines (odd number of trailing backslashes) and drops
/// blank and comment lines. Yields (first line number, joined text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (idx, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start_matches([' ', '\t', '\x0c']);
        let (start, mut acc) = match pending.take() {
            Some(p) => p,
            None => {
                if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
                    continue;
                }
                (idx + 1, String::new())
            }
        };
        if ends_with_odd_backslashes(trimmed) {
            acc.push_str(&trimmed[..trimmed.len() - 1]);
            pending = Some((start, acc));
        } else {
            acc.push_str(trimmed);
            out.push((start, acc));
        }
    }
    // A continuation on the last line continues into nothing (as in Java).
    if let Some(p) = pending {
        out.push(p);
    }
    out
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Splits one logical line at the first unescaped `=`, `:` or whitespace.
fn parse_logical_line(line: usize, text: &str) -> Result<Entry, SyntaxError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let key_end = i.min(bytes.len());
    let mut rest = &text[key_end..];
    rest = rest.trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    let key = unescape(line, &text[..key_end])?;
    let value = unescape(line, rest)?;
    Ok(Entry {
        line,
        key: key.trim().to_string(),
        value: value.trim().to_string(),
    })
}

fn unescape(line: usize, s: &str) -> Result<String, SyntaxError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => out.push(unicode_escape(line, &mut chars)?),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

fn unicode_escape(line: usize, chars: &mut std::str::Chars<'_>) -> Result<char, SyntaxError> {
    let hex: String = chars.by_ref().take(4).collect();
    let bad = || SyntaxError {
        line,
        message: format!("malformed \\uXXXX escape: \\u{hex}"),
    };
    if hex.len() != 4 {
        return Err(bad());
    }
    let code = u32::from_str_radix(&hex, 16).map_err(|_| bad())?;
    char::from_u32(code).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn separators_and_whitespace() {
        let got = kv("a=1\n  b : 2\nc 3\nd=\ne\n\tf = x y  \n");
        assert_eq!(
            got,
            vec![
                pair("a", "1"),
                pair("b", "2"),
                pair("c", "3"),
                pair("d", ""),
                pair("e", ""),
                pair("f", "x y"),
            ]
        );
    }

    #[test]
    fn comments_and_blank_lines() {
        let got = kv("# c\n! c\n\n   \n  # indented\nk=v # not a comment\n");
        assert_eq!(got, vec![pair("k", "v # not a comment")]);
    }

    #[test]
    fn continuation_and_escapes() {
        let got = kv("list=a,\\\n    b,\\\n    c\nesc=x\\ty\\u0041\\:\nkey\\=with=eq\n");
        assert_eq!(
            got,
            vec![
                pair("list", "a,b,c"),
                pair("esc", "x\tyA:"),
                pair("key=with", "eq")
            ]
        );
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        let got = kv("a=x\\\\\nb=y\n");
        assert_eq!(got, vec![pair("a", "x\\"), pair("b", "y")]);
    }

    #[test]
    fn line_numbers_and_duplicates() {
        let e = parse("\n# x\na=1\nb=2\\\n 3\na=4\n").unwrap();
        let lines: Vec<_> = e.iter().map(|e| (e.line, e.key.as_str())).collect();
        assert_eq!(lines, vec![(3, "a"), (4, "b"), (6, "a")]);
    }

    #[test]
    fn bad_unicode_escape_is_an_error() {
        let err = parse("a=1\nb=\\u12G4\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("\\u"), "{}", err.message);
    }
}
