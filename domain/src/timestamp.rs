//! A point in time with microsecond precision, UTC: the ledger's `at`.
//!
//! Stored as microseconds since the Unix epoch so that what the database keeps
//! (`timestamptz`, microseconds) and what the hash covers never disagree.

use chrono::{DateTime, Datelike, Timelike, Utc};
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an RFC 3339 time with a zone (for example 2026-11-24T10:15:30.123456Z): {0:?}")]
pub struct InvalidTimestamp(String);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Truncates to microseconds: the precision the ledger keeps.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_micros())
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0)
            .expect("every i64 microsecond count within chrono's range")
    }

    /// Accepts any RFC 3339 time with an offset; sub-microsecond digits are dropped.
    pub fn parse(raw: &str) -> Result<Self, InvalidTimestamp> {
        DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| Self::from_datetime(t.with_timezone(&Utc)))
            .map_err(|_| InvalidTimestamp(raw.to_owned()))
    }

    pub fn plus_micros(self, micros: i64) -> Self {
        Self(self.0.saturating_add(micros))
    }
}

/// A `Timestamp` serializes as its ledger text wherever it goes (a payload, a snapshot of
/// a state), so a field that forgets `with = "crate::timestamp::text"` still writes the
/// same bytes.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        text::serialize(self, s)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        text::deserialize(d)
    }
}

/// `Timestamp` in a payload as its ledger text (`2026-11-24T10:15:30.123456Z`), never a
/// number: `#[serde(with = "crate::timestamp::text")]`.
pub mod text {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(at)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&raw).map_err(D::Error::custom)
    }
}

/// `Option<Timestamp>` as ledger text or null.
pub mod optional_text {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.collect_str(at),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let raw = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        raw.map(|r| Timestamp::parse(&r).map_err(D::Error::custom))
            .transpose()
    }
}

/// `2026-11-24T10:15:30.123456Z`: always six fractional digits and `Z` (DESIGN.md §3).
/// Written digit by digit: every ledger entry formats one, so it is on the append path.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.to_datetime();
        let year = t.year();
        if !(0..=9999).contains(&year) {
            return f.write_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        }
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        put(20, 6, self.0.rem_euclid(1_000_000) as u32);
        f.write_str(std::str::from_utf8(&out).expect("ASCII digits"))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_six_fractional_digits_and_z() {
        assert_eq!(
            Timestamp::from_micros(0).to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
        let t = Timestamp::parse("2026-11-24T10:15:30.1234567+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T09:15:30.123456Z");
        assert_eq!(
            Timestamp::from_micros(-1).to_string(),
            "1969-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            Timestamp::parse("0999-01-02T03:04:05.000007Z")
                .unwrap()
                .to_string(),
            "0999-01-02T03:04:05.000007Z"
        );
    }

    #[test]
    fn round_trips_through_its_text() {
        let t = Timestamp::from_micros(1_795_000_000_123_456);
        assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
    }

    #[test]
    fn refuses_a_time_without_zone() {
        assert!(Timestamp::parse("2026-11-24T10:15:30").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
    }
}
