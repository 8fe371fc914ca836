//! The `key=value, key="quoted value"` lists DIGEST-MD5 (RFC 2831 §7.1) sends
//! in its challenge and digest-response, parsed from a client's bytes.
//!
//! Guarantees: any byte sequence either parses or yields a [`DirectiveError`]
//! (never a panic); at most [`DIRECTIVES_MAX`] directives are kept, so memory
//! is bounded by the input; keys are lower-cased (they are case-insensitive),
//! values are the raw bytes with quoted-pair escapes (`\x`) resolved.

/// More directives than any legal digest-response has (it defines 13).
pub const DIRECTIVES_MAX: usize = 32;

/// Why a directive list did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectiveError {
    #[error("directive at byte {0} has no '='")]
    MissingEquals(usize),
    #[error("directive at byte {0} has an empty name")]
    EmptyName(usize),
    #[error("quoted value starting at byte {0} is not closed")]
    UnclosedQuote(usize),
    #[error("unexpected byte {byte:#04x} at {at} after a value")]
    Trailing { at: usize, byte: u8 },
    #[error("more than {DIRECTIVES_MAX} directives")]
    TooMany,
}

/// One `name=value` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// ASCII-lower-cased name.
    pub name: String,
    pub value: Vec<u8>,
}

/// Parses a comma-separated directive list; empty list elements are
/// skipped, as RFC 2616's `#rule` allows.
pub fn parse(input: &[u8]) -> Result<Vec<Directive>, DirectiveError> {
    let mut out = Vec::new();
    let mut at = skip_separators(input, 0);
    while at < input.len() {
        if out.len() == DIRECTIVES_MAX {
            return Err(DirectiveError::TooMany);
        }
        let (directive, next) = parse_one(input, at)?;
        out.push(directive);
        at = skip_separators(input, next);
    }
    Ok(out)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_spaces(input: &[u8], mut at: usize) -> usize {
    while at < input.len() && is_space(input[at]) {
        at += 1;
    }
    at
}

fn skip_separators(input: &[u8], mut at: usize) -> usize {
    while at < input.len() && (is_space(input[at]) || input[at] == b',') {
        at += 1;
    }
    at
}

/// One directive starting at `start` (not a space or comma); returns it and
/// the index after it (at a comma or the end).
fn parse_one(input: &[u8], start: usize) -> Result<(Directive, usize), DirectiveError> {
    let eq = input[start..]
        .iter()
        .position(|&b| b == b'=' || b == b',')
        .map(|i| start + i)
        .filter(|&i| input[i] == b'=')
        .ok_or(DirectiveError::MissingEquals(start))?;
    let name = String::from_utf8_lossy(input[start..eq].trim_ascii()).to_ascii_lowercase();
    if name.is_empty() {
        return Err(DirectiveError::EmptyName(start));
    }
    let value_start = skip_spaces(input, eq + 1);
    let (value, after) = if input.get(value_start) == Some(&b'"') {
        quoted(input, value_start)?
    } else {
        token(input, value_start)
    };
    let after = skip_spaces(input, after);
    match input.get(after) {
        None | Some(b',') => Ok((Directive { name, value }, after)),
        Some(&byte) => Err(DirectiveError::Trailing { at: after, byte }),
    }
}

/// A quoted-string starting at the opening quote.
fn quoted(input: &[u8], open: usize) -> Result<(Vec<u8>, usize), DirectiveError> {
    let mut value = Vec::new();
    let mut at = open + 1;
    while at < input.len() {
        match input[at] {
            b'"' => return Ok((value, at + 1)),
            b'\\' if at + 1 < input.len() => {
                value.push(input[at + 1]);
                at += 2;
            }
            b => {
                value.push(b);
                at += 1;
            }
        }
    }
    Err(DirectiveError::UnclosedQuote(open))
}

/// An unquoted value: up to the next comma, trailing spaces dropped.
fn token(input: &[u8], start: usize) -> (Vec<u8>, usize) {
    let end = input[start..]
        .iter()
        .position(|&b| b == b',')
        .map_or(input.len(), |i| start + i);
    (input[start..end].trim_ascii_end().to_vec(), end)
}

/// Appends `name="value"` with `"` and `\` escaped.
pub fn write_quoted(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    for &b in value {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(input: &[u8]) -> Vec<(String, String)> {
        parse(input)
            .unwrap()
            .into_iter()
            .map(|d| (d.name, String::from_utf8(d.value).unwrap()))
            .collect()
    }

    #[test]
    fn tokens_quoted_strings_and_escapes() {
        let got =
            pairs(b"Username=\"chris\", realm=\"a\\\"b\\\\c\" ,nc=00000001,,qop=auth , x = \"\"");
        let want = [
            ("username", "chris"),
            ("realm", "a\"b\\c"),
            ("nc", "00000001"),
            ("qop", "auth"),
            ("x", ""),
        ];
        assert_eq!(
            got,
            want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
        );
        assert_eq!(parse(b"").unwrap(), vec![]);
        assert_eq!(parse(b" , ,").unwrap(), vec![]);
    }

    #[test]
    fn malformed_lists() {
        assert_eq!(parse(b"abc"), Err(DirectiveError::MissingEquals(0)));
        assert_eq!(parse(b"a=1,b"), Err(DirectiveError::MissingEquals(4)));
        assert_eq!(parse(b"=1"), Err(DirectiveError::EmptyName(0)));
        assert_eq!(parse(b"a=\"x"), Err(DirectiveError::UnclosedQuote(2)));
        assert_eq!(parse(b"a=\"x\\"), Err(DirectiveError::UnclosedQuote(2)));
        assert_eq!(
            parse(b"a=\"x\"y"),
            Err(DirectiveError::Trailing { at: 5, byte: b'y' })
        );
        let many: Vec<u8> = (0..=DIRECTIVES_MAX)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes();
        assert_eq!(parse(&many), Err(DirectiveError::TooMany));
    }

    #[test]
    fn quoted_values_round_trip() {
        let mut out = Vec::new();
        write_quoted(&mut out, "realm", b"a\"b\\c,d");
        assert_eq!(pairs(&out), vec![("realm".into(), "a\"b\\c,d".into())]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&input);
        }

        #[test]
        fn directive_shaped_bytes_never_panic(
            parts in prop::collection::vec("[a-z=\", \\\\]{0,8}", 0..16)
        ) {
            let _ = parse(parts.concat().as_bytes());
        }

        #[test]
        fn written_values_parse_back(
            values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 1..8)
        ) {
            let mut out = Vec::new();
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_quoted(&mut out, &format!("k{i}"), v);
            }
            let parsed = parse(&out).unwrap();
            let got: Vec<Vec<u8>> = parsed.into_iter().map(|d| d.value).collect();
            prop_assert_eq!(got, values);
        }
    }
}
