//! The text format of quota nodes' data (ZooKeeper's `StatsTrack`).
//!
//! Why: zkCli's setquota/listquota/delquota and the server's quota
//! accounting exchange limits and usage as `count=4,bytes=5=;byteHardLimit=10`
//! in the data of `/zookeeper/quota/<path>/zookeeper_limits` and
//! `zookeeper_stats`. The server rewrites the stats node's data, so it must
//! read and write this text exactly as ZooKeeper 3.8 does.
//!
//! Guarantees: [`StatsTrack::parse`] accepts what Java's `StatsTrack(String)`
//! accepts (pairs split on runs of `,` or `;`, each pair split on `=`,
//! Java's trailing-empty rule, an empty value read as -1, a later key
//! overriding an earlier one) and returns an error where Java throws;
//! [`StatsTrack::to_bytes`] writes `count` and `bytes` first, then, only when
//! other keys exist, `=` and `;key=value` for each in sorted order. Never
//! panics on any input; sizes are bounded by the input.

use std::collections::BTreeMap;

pub const COUNT: &str = "count";
pub const BYTES: &str = "bytes";
pub const COUNT_HARD_LIMIT: &str = "countHardLimit";
pub const BYTE_HARD_LIMIT: &str = "byteHardLimit";

/// Where ZooKeeper's parser would throw.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsTrackError {
    /// The node's data is null (`new String(null)`).
    #[error("null data")]
    Null,
    /// A pair without `=value` (Java: ArrayIndexOutOfBoundsException).
    #[error("pair {0:?} has no value")]
    MissingValue(String),
    /// A value that is not a decimal long (Java: NumberFormatException).
    #[error("value {0:?} is not a number")]
    NotANumber(String),
}

/// Quota limits or usage: key -> value; a missing key reads as -1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

/// Java's `String.split` for a separator predicate matching runs of chars:
/// an empty input gives one empty part; trailing empty parts are dropped.
fn java_split(s: &str, sep: impl Fn(char) -> bool, runs: bool) -> Vec<&str> {
    if s.is_empty() {
        return vec![""];
    }
    let mut parts: Vec<&str> = if runs {
        let mut out = Vec::new();
        let mut rest = s;
        loop {
            match rest.find(&sep) {
                None => {
                    out.push(rest);
                    break;
                }
                Some(i) => {
                    out.push(&rest[..i]);
                    rest = rest[i..].trim_start_matches(&sep);
                    if rest.is_empty() {
                        out.push("");
                        break;
                    }
                }
            }
        }
        out
    } else {
        s.split(sep).collect()
    };
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// Java's `Long.parseLong` for ASCII decimal input.
fn java_parse_long(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

impl StatsTrack {
    /// Reads a node's data (`None` = null data).
    pub fn parse(data: Option<&[u8]>) -> Result<StatsTrack, StatsTrackError> {
        let bytes = data.ok_or(StatsTrackError::Null)?;
        let text = String::from_utf8_lossy(bytes);
        let mut st = StatsTrack::default();
        if text.is_empty() {
            return Ok(st);
        }
        for pair in java_split(&text, |c| c == ',' || c == ';', true) {
            let kv = java_split(pair, |c| c == '=', false);
            let (Some(key), Some(value)) = (kv.first(), kv.get(1)) else {
                return Err(StatsTrackError::MissingValue(pair.to_string()));
            };
            let v = if value.is_empty() {
                -1
            } else {
                java_parse_long(value)
                    .ok_or_else(|| StatsTrackError::NotANumber(value.to_string()))?
            };
            st.values.insert(key.to_string(), v);
        }
        Ok(st)
    }

    /// The value of `key`, -1 when absent.
    pub fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.values.insert(key.to_string(), value);
    }

    /// Usage with only `count` and `bytes` (what the server computes).
    pub fn usage(count: i64, bytes: i64) -> StatsTrack {
        let mut st = StatsTrack::default();
        st.set(COUNT, count);
        st.set(BYTES, bytes);
        st
    }

    /// The text ZooKeeper writes (`StatsTrack.toString`).
    pub fn to_text(&self) -> String {
        let mut out = format!("{COUNT}={},{BYTES}={}", self.get(COUNT), self.get(BYTES));
        let mut others = self
            .values
            .iter()
            .filter(|(k, _)| *k != COUNT && *k != BYTES)
            .peekable();
        if others.peek().is_some() {
            out.push('=');
            for (k, v) in others {
                out.push(';');
                out.push_str(k);
                out.push('=');
                out.push_str(&v.to_string());
            }
        }
        out
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_text().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<StatsTrack, StatsTrackError> {
        StatsTrack::parse(Some(s.as_bytes()))
    }

    #[test]
    fn round_trips_what_zkcli_writes() {
        // SetQuotaCommand writes all four keys, -1 for the unset ones.
        let text = "count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1";
        let st = parse(text).unwrap();
        assert_eq!(st.get(COUNT), 2);
        assert_eq!(st.get(BYTES), -1);
        assert_eq!(st.get(COUNT_HARD_LIMIT), -1);
        assert_eq!(st.to_text(), text);
        assert_eq!(
            StatsTrack::usage(3, 10).to_text(),
            "count=3,bytes=10",
            "usage has no extra keys, so no trailing '='"
        );
    }

    #[test]
    fn java_parsing_rules() {
        assert_eq!(parse("").unwrap(), StatsTrack::default());
        assert_eq!(parse("count=1,,;bytes=+7").unwrap().get(BYTES), 7);
        assert_eq!(parse("count=1,count=5").unwrap().get(COUNT), 5);
        // "a==1" splits into ["a", "", "1"]: the empty value reads as -1.
        assert_eq!(parse("count==1").unwrap().get(COUNT), -1);
        assert_eq!(parse(",,").unwrap(), StatsTrack::default());
        assert_eq!(
            parse("zeta=1,count=2,bytes=3").unwrap().to_text(),
            "count=2,bytes=3=;zeta=1"
        );
        assert!(matches!(
            parse("count"),
            Err(StatsTrackError::MissingValue(_))
        ));
        assert!(matches!(
            parse("count="),
            Err(StatsTrackError::MissingValue(_))
        ));
        assert!(matches!(
            parse(",count=1"),
            Err(StatsTrackError::MissingValue(_))
        ));
        assert!(matches!(
            parse("count=x"),
            Err(StatsTrackError::NotANumber(_))
        ));
        assert!(matches!(
            parse("count=99999999999999999999"),
            Err(StatsTrackError::NotANumber(_))
        ));
        assert_eq!(StatsTrack::parse(None), Err(StatsTrackError::Null));
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(st) = StatsTrack::parse(Some(&bytes)) {
                // What parses re-parses to the same values.
                let again = StatsTrack::parse(Some(&st.to_bytes())).unwrap();
                prop_assert_eq!(again.get(COUNT), st.get(COUNT));
                prop_assert_eq!(again.get(BYTES), st.get(BYTES));
            }
        }

        #[test]
        fn structured_text_parses(
            pairs in proptest::collection::vec(("[a-zA-Z]{1,8}", any::<i64>()), 0..6),
        ) {
            let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let st = StatsTrack::parse(Some(text.join(";").as_bytes())).unwrap();
            for (k, _) in &pairs {
                let last = pairs.iter().rev().find(|(k2, _)| k2 == k).unwrap().1;
                prop_assert_eq!(st.get(k), last);
            }
        }
    }
}
