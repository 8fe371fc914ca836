//! Znode path rules, as ZooKeeper's `PathUtils.validatePath` applies them.
//!
//! ZooKeeper checks paths as Java strings, i.e. UTF-16 code units: every
//! character outside the Basic Multilingual Plane is a surrogate pair and so
//! is rejected, like the private-use area and the control ranges. These
//! functions reproduce that on Rust strings and never panic.

/// Why a path is invalid (the message is ours; the client only sees BADARGUMENTS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    Empty,
    NoLeadingSlash,
    TrailingSlash,
    NullChar,
    EmptySegment,
    Relative,
    InvalidChar,
}

fn forbidden_unit(c: u16) -> bool {
    (0x0001..=0x001f).contains(&c)
        || (0x007f..=0x009f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || c >= 0xfff0
}

/// `PathUtils.validatePath(String)`.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    let units: Vec<u16> = path.encode_utf16().collect();
    if units.is_empty() {
        return Err(PathError::Empty);
    }
    if units[0] != u16::from(b'/') {
        return Err(PathError::NoLeadingSlash);
    }
    if units.len() == 1 {
        return Ok(());
    }
    if units[units.len() - 1] == u16::from(b'/') {
        return Err(PathError::TrailingSlash);
    }
    let slash = u16::from(b'/');
    let dot = u16::from(b'.');
    let mut last = slash;
    for i in 1..units.len() {
        let c = units[i];
        let ends_segment = i + 1 == units.len() || units[i + 1] == slash;
        if c == 0 {
            return Err(PathError::NullChar);
        } else if c == slash && last == slash {
            return Err(PathError::EmptySegment);
        } else if c == dot && last == dot {
            if units[i - 2] == slash && ends_segment {
                return Err(PathError::Relative);
            }
        } else if c == dot {
            if units[i - 1] == slash && ends_segment {
                return Err(PathError::Relative);
            }
        } else if forbidden_unit(c) {
            return Err(PathError::InvalidChar);
        }
        last = c;
    }
    Ok(())
}

/// Splits at the last '/': `("/a", "b")` for `"/a/b"`, `("", "a")` for `"/a"`.
/// `None` when there is no '/'.
pub fn split_last(path: &str) -> Option<(&str, &str)> {
    let i = path.rfind('/')?;
    Some((&path[..i], &path[i + 1..]))
}

/// The path ZooKeeper names a parent by in watch events: "" is the root "/".
pub fn event_path(parent: &str) -> &str {
    if parent.is_empty() {
        "/"
    } else {
        parent
    }
}

/// Java's `String.length()`: UTF-16 code units.
pub fn java_len(s: &str) -> u64 {
    if s.is_ascii() {
        return s.len() as u64;
    }
    s.encode_utf16().count() as u64
}

/// Java's `String.hashCode()`.
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Java's `String.trim()`: strips code points <= ' ' at both ends.
pub fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_paths() {
        let ok = [
            "/",
            "/a",
            "/a/b",
            "/a.",
            "/.a",
            "/a..",
            "/...",
            "/a/b.c",
            "/zookeeper",
            "/\u{e9}t\u{e9}",
            "/a\u{fe0f}",
        ];
        for p in ok {
            assert_eq!(validate_path(p), Ok(()), "{p:?}");
        }
        let bad = [
            ("", PathError::Empty),
            ("a", PathError::NoLeadingSlash),
            ("a/b", PathError::NoLeadingSlash),
            ("/a/", PathError::TrailingSlash),
            ("//", PathError::TrailingSlash),
            ("//a", PathError::EmptySegment),
            ("/a//b", PathError::EmptySegment),
            ("/.", PathError::Relative),
            ("/..", PathError::Relative),
            ("/a/./b", PathError::Relative),
            ("/a/../b", PathError::Relative),
            ("/a/..", PathError::Relative),
            ("/a\0b", PathError::NullChar),
            ("/a\u{1}", PathError::InvalidChar),
            ("/a\u{7f}", PathError::InvalidChar),
            ("/a\u{9f}", PathError::InvalidChar),
            ("/a\u{e000}", PathError::InvalidChar),
            ("/a\u{f8ff}", PathError::InvalidChar),
            ("/a\u{fff0}", PathError::InvalidChar),
            ("/a\u{1f600}", PathError::InvalidChar),
        ];
        for (p, e) in bad {
            assert_eq!(validate_path(p), Err(e), "{p:?}");
        }
    }

    #[test]
    fn split_and_java_helpers() {
        assert_eq!(split_last("/a/b"), Some(("/a", "b")));
        assert_eq!(split_last("/a"), Some(("", "a")));
        assert_eq!(split_last("/"), Some(("", "")));
        assert_eq!(split_last("a"), None);
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("a"), 97);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE
        assert_eq!(java_hash("polygenelubricants"), i32::MIN);
        assert_eq!(java_len("/\u{1f600}"), 3);
        assert_eq!(java_len("/ab/\u{e9}"), 5);
        assert_eq!(java_len("/mem/n0000000001"), 16);
        assert_eq!(java_trim(" \t/a \n"), "/a");
    }
}
